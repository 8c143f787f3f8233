//! `plan`, `apply` and `snapshot` against the in-process sandbox, over real HTTP, with the
//! real binary.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};

use plotward_sandbox::{FaultConfig, Options, Sandbox, Seed};

use crate::api::{Api, As, example_sandbox, sandbox_with};
use crate::harness::{Run, Test, repo};

const EXAMPLE_POLICY: &str = "policies/example.yaml";

/// A test pointed at the sandbox as alice through the environment.
fn live(sandbox: &Sandbox) -> Test {
    Test::new()
        .env("PLOTLY_API_DOMAIN", sandbox.url())
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "alice-key")
}

fn policy_arg() -> String {
    repo(EXAMPLE_POLICY).display().to_string()
}

/// The writes the sandbox received, as (method, path).
fn writes(api: &Api) -> Vec<(String, String)> {
    api.requests()
        .into_iter()
        .filter(|(method, _, _)| method != "GET")
        .map(|(method, path, _)| (method, path))
        .collect()
}

fn plan_json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).expect("plan JSON")
}

/// Saves a plan of the example policy against the sandbox into a directory that outlives the
/// run, returning the directory (keep it alive), the plan's path and its text.
fn saved_plan(sandbox: &Sandbox) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let run = live(sandbox)
        .args(["plan", "-p", &policy_arg(), "--out", "plan.json"])
        .status(0);
    let text = run.read("plan.json");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    std::fs::write(&path, &text).unwrap();
    (dir, path, text)
}

/// Every share key of alice's secret files, read as the owner.
fn share_keys(api: &Api) -> Vec<String> {
    let all = api
        .get("/v2/folders/all?page_size=10000", As::User("alice"))
        .body;
    all["children"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["share_key"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn plan_lists_the_live_account_and_never_writes() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    // The live plan equals the snapshot plan.
    let run = live(&sandbox)
        .args(["plan", "-p", &policy_arg(), "--detailed-exitcode"])
        .stdout_contains(&format!("Account: alice at {}", sandbox.url()))
        .status(2);
    // The same as the snapshot's plan but for the first two lines, which name the account
    // (not the snapshot) and the policy by the path given.
    let fixture = std::fs::read_to_string(repo("tests/fixtures/example-plan.txt")).unwrap();
    let body = |text: &str| text.splitn(3, '\n').nth(2).map(str::to_owned);
    assert_eq!(body(&run.stdout), body(&fixture), "{}", run.stdout);
    assert!(
        writes(&api).is_empty(),
        "plan sent a write: {:?}",
        writes(&api)
    );
    let requests = api.get("/_sandbox/requests", As::Anonymous).body;
    let first = &requests["requests"][0];
    assert_eq!(
        first["client_platform"],
        format!("plotward {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(first["user"], "alice");
}

#[test]
fn listing_many_pages_of_nested_folders_matches_the_server() {
    let sandbox = sandbox_with(Seed::Generate(1800), Options::default());
    let api = Api::new(&sandbox);
    let run = live(&sandbox)
        .args(["snapshot", "--parallelism", "4"])
        .status(0);
    let snapshot: Value = serde_json::from_str(&run.stdout).unwrap();
    let state = api.state();
    assert_eq!(
        snapshot["files"], state["files"],
        "paths and flags as the server has them"
    );
    assert_eq!(snapshot["source"]["user"], "alice");
    assert_eq!(snapshot["source"]["api_url"], sandbox.url());
    let pages = api
        .requests()
        .iter()
        .filter(|(_, path, _)| path == "/v2/folders/all")
        .count();
    // 1,800 files and 1,848 entries with folders: 4 pages of 500.
    assert_eq!(pages, 4);
    // The snapshot is a valid seed for the sandbox.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.json");
    std::fs::write(&path, &run.stdout).unwrap();
    let seed = Seed::load_snapshot(&path).unwrap();
    let copy = sandbox_with(seed, Options::default());
    assert_eq!(Api::new(&copy).state()["files"], state["files"]);
}

#[test]
fn apply_with_auto_approve_restricts_first_and_converges() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let planned = live(&sandbox)
        .args(["plan", "-p", &policy_arg(), "--format", "json"])
        .status(0);
    let plan = plan_json(&planned);
    let direction: HashMap<String, String> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["fid"].as_str().unwrap().to_owned(),
                c["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    api.call(Method::DELETE, "/_sandbox/requests", As::Anonymous);
    let run = live(&sandbox)
        .args(["apply", "-p", &policy_arg(), "--auto-approve"])
        .status(0);
    assert!(
        run.stdout
            .ends_with("Apply complete: 11 restricted, 8 exposed, 0 failed.\n"),
        "{}",
        run.stdout
    );
    let order: Vec<&str> = writes(&api)
        .iter()
        .map(|(_, path)| direction[path.trim_start_matches("/v2/files/")].as_str())
        .collect();
    assert_eq!(order.len(), 19, "one PATCH per change");
    let first_expose = order.iter().position(|d| *d == "expose").unwrap();
    assert!(
        order[first_expose..].iter().all(|d| *d == "expose"),
        "restrictions all come first: {order:?}"
    );
    assert!(writes(&api).iter().all(|(method, _)| method == "PATCH"));
    live(&sandbox)
        .args(["plan", "-p", &policy_arg(), "--detailed-exitcode"])
        .stdout_contains(
            "\nNo changes. Plan: 0 to restrict, 0 to expose, 45 unchanged, 39 ignored.\n",
        )
        .status(0);
}

#[test]
fn apply_refuses_without_a_terminal_or_auto_approve() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let refusal = "error: apply needs a confirmation, but stdin is not a terminal; pass \
                   --auto-approve, or apply a plan saved with `plotward plan --out FILE`\n";
    live(&sandbox)
        .args(["apply", "-p", &policy_arg()])
        .stderr(refusal)
        .status(1);
    // A `yes` piped in is no confirmation: only a person at a terminal gives one.
    live(&sandbox)
        .args(["apply", "-p", &policy_arg()])
        .stdin("yes\n")
        .stderr(refusal)
        .status(1);
    assert!(api.requests().is_empty(), "refused before any request");
}

#[test]
fn a_saved_plan_applies_as_planned() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let (_dir, path, text) = saved_plan(&sandbox);
    let saved: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        saved["source"],
        json!({"type": "api", "api_url": sandbox.url(), "user": "alice"})
    );
    let keys = share_keys(&api);
    assert!(!keys.is_empty());
    for key in &keys {
        assert!(
            !text.contains(key.as_str()),
            "a share key in the saved plan"
        );
    }
    let applied = live(&sandbox)
        .args(["apply", "-p", &policy_arg(), path.to_str().unwrap()])
        .status(0);
    assert!(
        applied.stdout.starts_with("Applying the saved plan "),
        "{}",
        applied.stdout
    );
    assert!(
        applied
            .stdout
            .ends_with("Apply complete: 11 restricted, 8 exposed, 0 failed.\n")
    );
    assert_eq!(writes(&api).len(), 19);
    // Applying it again finds every file changed since: stale, nothing written.
    live(&sandbox)
        .args(["apply", "-p", &policy_arg(), path.to_str().unwrap()])
        .stderr_contains("is stale: 19 difference(s) from the account and its policy now")
        .status(1);
    assert_eq!(writes(&api).len(), 19);
}

#[test]
fn a_stale_plan_is_refused_whole_and_names_the_drifted_files() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let (_dir, path, _) = saved_plan(&sandbox);
    // Someone shares the payroll grid by link after the plan was made.
    let payroll = api.fid("finance/payroll");
    api.json(
        Method::PATCH,
        &format!("/v2/files/{payroll}"),
        As::User("alice"),
        &json!({"world_readable": false, "share_key_enabled": true}),
    );
    api.call(Method::DELETE, "/_sandbox/requests", As::Anonymous);
    live(&sandbox)
        .args(["apply", "-p", &policy_arg(), path.to_str().unwrap()])
        .stderr_contains("is stale: 1 difference(s) from the account and its policy now")
        .stderr_contains(&format!(
            "finance/payroll ({payroll}) is now secret (world_readable=false, share_key_enabled=true), the plan saw public"
        ))
        .status(1);
    assert!(writes(&api).is_empty());
}

#[test]
fn a_plan_for_another_account_or_from_a_snapshot_is_refused() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let (_dir, path, _) = saved_plan(&sandbox);
    Test::new()
        .env("PLOTLY_API_DOMAIN", sandbox.url())
        .env("PLOTLY_USERNAME", "bob")
        .env("PLOTLY_API_KEY", "bob-key")
        .args(["apply", "-p", &policy_arg(), path.to_str().unwrap()])
        .stderr_contains("was made for alice at")
        .status(1);
    let offline = Test::new()
        .args(["plan", "-p", &policy_arg(), "--snapshot"])
        .args([repo("examples/inventory.json").display().to_string()])
        .args(["--out", "offline.json"])
        .status(0);
    std::fs::write(&path, offline.read("offline.json")).unwrap();
    live(&sandbox)
        .args(["apply", "-p", &policy_arg(), path.to_str().unwrap()])
        .stderr_contains("was made from the snapshot")
        .status(1);
    assert!(writes(&api).is_empty());
}

#[test]
fn retries_ride_out_injected_500s_and_429s() {
    let sandbox = sandbox_with(
        Seed::load_snapshot(&repo("examples/inventory.json")).unwrap(),
        Options {
            faults: FaultConfig {
                fail_rate: 0.25,
                rate_limit: Some(10),
                ..FaultConfig::default()
            },
            ..Options::default()
        },
    );
    let api = Api::new(&sandbox);
    let run = live(&sandbox)
        .args([
            "apply",
            "-p",
            &policy_arg(),
            "--auto-approve",
            "--retries",
            "12",
            "--backoff-ms",
            "20",
        ])
        .status(0);
    assert!(
        run.stdout
            .ends_with("Apply complete: 11 restricted, 8 exposed, 0 failed.\n"),
        "{}",
        run.stdout
    );
    let statuses: Vec<u16> = api
        .requests()
        .iter()
        .map(|(_, _, status)| *status)
        .collect();
    assert!(
        statuses.contains(&500),
        "some requests failed and were retried"
    );
    assert!(
        statuses.contains(&429),
        "some requests were throttled and were retried"
    );
    api.faults(&json!({}));
    live(&sandbox)
        .args(["plan", "-p", &policy_arg(), "--detailed-exitcode"])
        .status(0);
}

#[test]
fn the_daily_quota_stops_at_once_and_a_rerun_converges() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    api.faults(&json!({"daily_write_limit": 5}));
    let run = live(&sandbox)
        .args([
            "apply",
            "-p",
            &policy_arg(),
            "--auto-approve",
            "--audit-log",
            "audit.jsonl",
        ])
        .status(1);
    let tail: Vec<&str> = run.stdout.lines().rev().take(3).collect();
    assert_eq!(
        tail[2],
        "Apply incomplete: 5 restricted, 0 exposed, 0 failed, 14 not applied."
    );
    assert!(tail[1].starts_with("Stopped early: the API's daily limit is reached (Hi there, you've reached the threshold of 5"), "{}", tail[1]);
    assert_eq!(
        tail[0],
        "14 changes remain. Run plotward apply again to finish: it changes only what still differs."
    );
    let patches = writes(&api).len();
    assert!(
        patches <= 5 + 8,
        "at most one refused write per worker, then nothing: {patches}"
    );
    let audit = run.read("audit.jsonl");
    let quota_lines = audit
        .lines()
        .filter(|l| l.contains("\"status\":429"))
        .count();
    assert_eq!(quota_lines, patches - 5);
    api.faults(&json!({}));
    let rerun = live(&sandbox)
        .args(["apply", "-p", &policy_arg(), "--auto-approve"])
        .stdout_contains("plotward will change the sharing of 14 files")
        .status(0);
    assert!(
        rerun
            .stdout
            .ends_with("Apply complete: 6 restricted, 8 exposed, 0 failed.\n"),
        "{}",
        rerun.stdout
    );
}

#[test]
fn max_writes_caps_a_run() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    live(&sandbox)
        .args([
            "apply",
            "-p",
            &policy_arg(),
            "--auto-approve",
            "--max-writes",
            "4",
            "--parallelism",
            "2",
        ])
        .stdout_contains("Apply incomplete: 4 restricted, 0 exposed, 0 failed, 15 not applied.")
        .stdout_contains("Stopped early: --max-writes 4 reached.")
        .status(1);
    assert_eq!(writes(&api).len(), 4);
}

#[test]
fn failures_are_reported_per_file_and_do_not_stop_the_others() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let payroll = api.fid("finance/payroll");
    let demo = api.fid("public/demo");
    api.faults(&json!({"fail_writes_to": [payroll, demo]}));
    live(&sandbox)
        .args([
            "apply",
            "-p",
            &policy_arg(),
            "--auto-approve",
            "--retries",
            "1",
            "--backoff-ms",
            "1",
        ])
        .stdout_contains(&format!(
            "Failed:\n  ! finance/payroll {payroll} public -> private: Uh oh, an error occurred on the server.\n  ! public/demo {demo} private -> public: Uh oh, an error occurred on the server.\n"
        ))
        .stdout_contains("Apply incomplete: 10 restricted, 7 exposed, 2 failed, 0 not applied.")
        .status(1);
    api.faults(&json!({}));
    let rerun = live(&sandbox)
        .args(["apply", "-p", &policy_arg(), "--auto-approve"])
        .status(0);
    assert!(
        rerun
            .stdout
            .ends_with("Apply complete: 1 restricted, 1 exposed, 0 failed.\n"),
        "{}",
        rerun.stdout
    );
}

#[test]
fn secret_links_are_re_read_and_rewritten_when_they_lag() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    api.faults(&json!({"flaky_share_keys": 1.0, "flaky_share_key_ms": 1500}));
    let run = live(&sandbox)
        .args([
            "apply",
            "-p",
            &policy_arg(),
            "--auto-approve",
            "--audit-log",
            "audit.jsonl",
        ])
        .status(0);
    assert!(
        run.stdout
            .ends_with("Apply complete: 11 restricted, 8 exposed, 0 failed.\n"),
        "{}",
        run.stdout
    );
    let audit = run.read("audit.jsonl");
    assert!(audit.contains("\"outcome\":\"applied\""));
    let secret_targets = plan_secret_count(&sandbox);
    assert_eq!(
        secret_targets, 0,
        "every secret link is live once apply says so"
    );
}

#[test]
fn a_secret_link_slower_than_the_old_seven_seconds_settles_within_the_default_wait() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    // Hidden for 8 s after each enable: longer than the ~7 s plotward used to wait.
    api.faults(&json!({"flaky_share_keys": 1.0, "flaky_share_key_ms": 8000}));
    let run = live(&sandbox)
        .args(["apply", "-p", &policy_arg(), "--auto-approve"])
        .status(0);
    assert!(
        run.stdout
            .ends_with("Apply complete: 11 restricted, 8 exposed, 0 failed.\n"),
        "{}",
        run.stdout
    );
    assert_eq!(plan_secret_count(&sandbox), 0);
}

#[test]
fn a_secret_link_that_has_not_settled_in_time_is_still_settling_not_failed() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    api.faults(&json!({"flaky_share_keys": 1.0, "flaky_share_key_ms": 60000}));
    let run = live(&sandbox)
        .args([
            "apply",
            "-p",
            &policy_arg(),
            "--auto-approve",
            "--share-key-timeout",
            "1",
            "--audit-log",
            "audit.jsonl",
        ])
        .stdout_contains("Still settling:\n")
        .stdout_lacks("Failed:")
        .stdout_lacks("changes remain")
        .status(1);
    let settling = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("  ~ ") && l.contains("did not read back as enabled within 1s"))
        .count();
    // Every change to secret in the example plan: the rest applied.
    let secret_changes = run
        .stdout
        .lines()
        .filter(|l| l.contains("-> secret") && !l.contains("did not read back"))
        .count();
    assert!(settling > 0 && settling == secret_changes, "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "0 failed, 0 not applied, {settling} still settling.\n{settling} secret links are \
             written but not yet readable: run plotward plan later to confirm"
        )),
        "{}",
        run.stdout
    );
    let audit = run.read("audit.jsonl");
    assert_eq!(
        audit.matches("\"outcome\":\"settling\"").count(),
        settling,
        "{audit}"
    );
}

/// How many planned changes remain (the plan should be empty after a complete apply).
fn plan_secret_count(sandbox: &Sandbox) -> usize {
    let run = live(sandbox)
        .args(["plan", "-p", &policy_arg(), "--format", "json"])
        .status(0);
    plan_json(&run)["changes"].as_array().unwrap().len()
}

#[test]
fn the_audit_log_has_one_line_per_write_and_no_secrets() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let run = live(&sandbox)
        .write("key.txt", "alice-key\n")
        .env("PLOTLY_API_KEY", "")
        .args([
            "apply",
            "-p",
            &policy_arg(),
            "--auto-approve",
            "--api-key-file",
            "key.txt",
            "--audit-log",
            "audit.jsonl",
        ])
        .stdout_lacks("alice-key")
        .stderr_lacks("alice-key")
        .status(0);
    let audit = run.read("audit.jsonl");
    let lines: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Each write: a `started` line before it is sent, then its outcome.
    assert_eq!(lines.len(), 2 * 19);
    for line in &lines {
        for key in ["time", "fid", "path", "from", "to", "outcome", "status"] {
            assert!(line.get(key).is_some(), "{key} missing in {line}");
        }
    }
    let started: Vec<&Value> = lines.iter().filter(|l| l["outcome"] == "started").collect();
    let lines: Vec<Value> = lines
        .iter()
        .filter(|l| l["outcome"] != "started")
        .cloned()
        .collect();
    assert_eq!(started.len(), 19);
    for line in &lines {
        assert_eq!(line["outcome"], "applied");
        assert_eq!(line["status"], 200);
    }
    let payroll = lines
        .iter()
        .find(|l| l["path"] == "finance/payroll")
        .unwrap();
    assert_eq!(
        (payroll["from"].as_str(), payroll["to"].as_str()),
        (Some("public"), Some("private"))
    );
    let keys = share_keys(&api);
    assert!(keys.len() > 5, "the account has secret files");
    assert!(!audit.contains("alice-key"), "the API key leaked");
    // The share keys are read after the run: apply made some of them.
    for text in [&run.stdout, &run.stderr, &audit] {
        for key in &keys {
            assert!(!text.contains(key.as_str()), "a share key leaked");
        }
    }
}

#[test]
fn credentials_come_from_flags_then_env_then_plotly_files() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let policy = policy_arg();
    let plan = ["plan", "-p", policy.as_str()];
    // Plotly's own files only, in ~/.plotly (HOME is the test directory).
    Test::new()
        .write(
            ".plotly/.credentials",
            r#"{"username": "alice", "api_key": "alice-key"}"#,
        )
        .write(
            ".plotly/.config",
            &format!(r#"{{"plotly_api_domain": "{}"}}"#, sandbox.url()),
        )
        .args(plan)
        .status(0);
    // PLOTLY_DIR moves them.
    Test::new()
        .write(
            "elsewhere/.credentials",
            r#"{"username": "bob", "api_key": "bob-key"}"#,
        )
        .write(
            "elsewhere/.config",
            &format!(r#"{{"plotly_api_domain": "{}"}}"#, sandbox.url()),
        )
        .env("PLOTLY_DIR", "elsewhere")
        .args(plan)
        .status(0);
    // The environment beats the files: a wrong key in the files is never used.
    Test::new()
        .write(
            ".plotly/.credentials",
            r#"{"username": "alice", "api_key": "wrong"}"#,
        )
        .env("PLOTLY_API_DOMAIN", sandbox.url())
        .env("PLOTLY_API_KEY", "alice-key")
        .args(plan)
        .status(0);
    // Flags beat the environment.
    Test::new()
        .write("key.txt", "bob-key")
        .env("PLOTLY_API_DOMAIN", "https://unused.example")
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "alice-key")
        .args(plan)
        .args([
            "--api-url",
            sandbox.url(),
            "--user",
            "bob",
            "--api-key-file",
            "key.txt",
        ])
        .status(0);
    let users: Vec<String> = api.get("/_sandbox/requests", As::Anonymous).body["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["user"].as_str().unwrap_or("-").to_owned())
        .collect();
    assert!(users.contains(&"bob".to_owned()) && users.contains(&"alice".to_owned()));
    assert!(
        !users.contains(&"-".to_owned()),
        "every request authenticated"
    );
    // A wrong key is the server's 401, said plainly, naming where the key came from.
    live(&sandbox)
        .env("PLOTLY_API_KEY", "nope")
        .args(plan)
        .stderr_contains("the API key from PLOTLY_API_KEY was rejected by")
        .stderr_lacks("nope")
        .status(1);
    let run = Test::new()
        .env("PLOTLY_API_DOMAIN", sandbox.url())
        .args(plan)
        .status(1);
    assert_eq!(
        run.stderr,
        format!(
            "error: no username found: pass --user, set PLOTLY_USERNAME, or put `username` in \
             {}\n",
            run.path(".plotly/.credentials").display()
        )
    );
}

#[test]
fn plain_http_is_refused_for_remote_hosts() {
    Test::new()
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "k")
        .args([
            "plan",
            "-p",
            &policy_arg(),
            "--api-url",
            "http://plotly.example.com",
        ])
        .stderr(
            "error: invalid API URL `http://plotly.example.com`: plain http is refused except on \
             loopback hosts; the API key would travel unencrypted, use https\n",
        )
        .status(1);
}

#[test]
fn the_demo_plans_applies_and_converges() {
    Test::new()
        .args(["demo"])
        .stdout_contains("Plan: 11 to restrict, 8 to expose, 26 unchanged, 39 ignored.")
        .stdout_contains("Apply complete: 11 restricted, 8 exposed, 0 failed.")
        .stdout_contains("No changes. Plan: 0 to restrict, 0 to expose, 45 unchanged, 39 ignored.")
        .stdout_contains("export PLOTLY_API_DOMAIN=")
        .status(0);
}

/// Runs plotward under a pseudo-terminal (`script` from util-linux), typing `input`; returns
/// the exit code and the terminal's text. Bounded: a hang fails the test instead of CI.
fn on_terminal(sandbox: &Sandbox, args: &str, input: &str) -> (Option<i32>, String) {
    on_terminal_with(sandbox, args, input, &[])
}

/// Runs plotward on a pseudo-terminal (`script`) as alice, with extra environment variables.
fn on_terminal_with(
    sandbox: &Sandbox,
    args: &str,
    input: &str,
    env: &[(&str, &str)],
) -> (Option<i32>, String) {
    let alice = [
        ("PLOTLY_API_DOMAIN", sandbox.url()),
        ("PLOTLY_USERNAME", "alice"),
        ("PLOTLY_API_KEY", "alice-key"),
    ];
    crate::harness::on_terminal(None, args, input, &[&alice[..], env].concat())
}

#[test]
fn on_a_terminal_apply_asks_and_only_yes_applies() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let args = format!("apply -p {}", policy_arg());
    let (code, text) = on_terminal(&sandbox, &args, "no\n");
    assert_eq!(code, Some(1), "{text}");
    // What a person sees, in order: the plan, its summary line, then the question.
    let order = [
        "plotward will change the sharing of 19 files (- restricts, + exposes):",
        "Plan: 11 to restrict, 8 to expose, 26 unchanged, 39 ignored.",
        "Do you want to apply these changes?",
        "Only 'yes' will be accepted to approve.",
        "apply cancelled; nothing was changed",
    ];
    let positions: Vec<Option<usize>> = order.iter().map(|line| text.find(line)).collect();
    assert!(
        positions.iter().all(Option::is_some) && positions.is_sorted(),
        "expected {order:#?} in this order, found at {positions:?}:\n{text}"
    );
    assert!(
        text.contains("apply cancelled; nothing was changed"),
        "{text}"
    );
    assert!(writes(&api).is_empty());
    // With a terminal, progress bars draw from worker threads while apply runs.
    let (code, text) = on_terminal(&sandbox, &args, "yes\n");
    assert_eq!(code, Some(0), "{text}");
    let summary = text
        .find("Plan: 11 to restrict")
        .expect("the plan's summary");
    let question = text.find("Do you want to apply").expect("the question");
    let done = text
        .find("Apply complete: 11 restricted, 8 exposed, 0 failed.")
        .expect("the report");
    assert!(summary < question && question < done, "{text}");
    assert!(text.contains('\u{1b}'), "colour on a terminal");
    assert_eq!(writes(&api).len(), 19);
}

/// An `--out` that cannot be written is refused before any request: the server here is one
/// nothing listens at, so a run that got as far as the network would say so instead.
#[test]
fn an_unwritable_out_is_refused_before_the_account_is_read() {
    for command in ["plan", "check"] {
        for (out, says) in [
            (".", "it is a directory, not a regular file"),
            ("missing/report.out", "No such file or directory"),
            ("/dev/stdout", "it is under /dev or /proc"),
        ] {
            let run = Test::new()
                .env("PLOTLY_USERNAME", "alice")
                .env("PLOTLY_API_KEY", "k")
                .args([
                    command,
                    "-p",
                    &policy_arg(),
                    "--api-url",
                    "http://127.0.0.1:9",
                    "--out",
                    out,
                ])
                .stderr_contains(&format!("error: cannot write {out}: {says}"))
                .stderr_lacks("127.0.0.1:9")
                .status(1);
            assert_eq!(run.stdout, "", "{command} --out {out}");
        }
    }
}

/// `snapshot` and `export` check `--out` before listing too, and `--audit-log` may not be the
/// policy it would append to (`apply` and `watch`): all refused before any request, against a
/// server nothing listens at.
#[test]
fn outputs_over_inputs_or_unwritable_are_refused_before_the_account_is_read() {
    for command in ["snapshot", "export"] {
        let run = Test::new()
            .env("PLOTLY_USERNAME", "alice")
            .env("PLOTLY_API_KEY", "k")
            .args([command, "--api-url", "http://127.0.0.1:9", "--out", "."])
            .stderr_contains("error: cannot write .: it is a directory, not a regular file")
            .stderr_lacks("127.0.0.1:9")
            .status(1);
        assert_eq!(run.stdout, "", "{command}");
    }
    let policy = "version: 1\ndefault: private\n";
    let runs: [&[&str]; 2] = [
        &["apply", "--auto-approve", "--audit-log", "p.yaml"],
        &["watch", "--interval", "1s", "--audit-log", "p.yaml"],
    ];
    for args in runs {
        let run = Test::new()
            .write("p.yaml", policy)
            .env("PLOTLY_USERNAME", "alice")
            .env("PLOTLY_API_KEY", "k")
            .args(args)
            .args(["-p", "p.yaml", "--api-url", "http://127.0.0.1:9"])
            .stderr_contains("--audit-log would append to p.yaml, this ")
            .stderr_lacks("127.0.0.1:9")
            .status(1);
        assert_eq!(run.read("p.yaml"), policy, "{args:?}");
    }
}

#[test]
fn an_unreachable_api_is_a_clear_error_after_retries() {
    let run = Test::new()
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "k")
        .args([
            "plan",
            "-p",
            &policy_arg(),
            "--api-url",
            "http://127.0.0.1:9",
            "--retries",
            "2",
            "--backoff-ms",
            "1",
        ])
        .status(1);
    assert!(
        run.stderr.starts_with(
            "error: GET http://127.0.0.1:9/v2/users/current: nothing listens at 127.0.0.1:9"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn a_hand_edited_plan_that_contradicts_itself_is_refused() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let (_dir, path, text) = saved_plan(&sandbox);
    let mut plan: Value = serde_json::from_str(&text).unwrap();
    // Mark an exposure as a restriction: it would jump the restrict-first queue.
    let change = plan["changes"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["action"] == "expose")
        .unwrap();
    change["action"] = json!("restrict");
    std::fs::write(&path, plan.to_string()).unwrap();
    live(&sandbox)
        .args(["apply", "-p", &policy_arg(), path.to_str().unwrap()])
        .stderr_contains("is inconsistent")
        .status(1);
    // The same file twice (private, then secret), or a summary that hides a change.
    let original: Value = serde_json::from_str(&text).unwrap();
    let mut twice = original.clone();
    let mut again = twice["changes"][0].clone();
    again["to"] = json!("secret");
    again["action"] = json!(if again["from"] == "public" {
        "restrict"
    } else {
        "expose"
    });
    twice["changes"].as_array_mut().unwrap().push(again);
    let mut understated = original.clone();
    understated["summary"]["expose"] = json!(0);
    let mut retyped = original.clone();
    retyped["changes"][0]["filetype"] = json!(if retyped["changes"][0]["filetype"] == "plot" {
        "grid"
    } else {
        "plot"
    });
    let mut reruled = original.clone();
    reruled["changes"][0]["rule"] = json!({"type": "default"});
    let mut more_dead = original.clone();
    more_dead["dead_rules"] = json!([{"index": 9, "patterns": ["made/up/**"], "line": 99}]);
    for (edited, message) in [
        (
            retyped,
            "is planned differently from what the policy says now",
        ),
        (
            reruled,
            "is planned differently from what the policy says now",
        ),
        (
            more_dead,
            "(the plan's dead_rules) (-) differ from those of the policy now",
        ),
        (twice, "more than once"),
        (
            understated,
            "its summary says 11 to restrict and 0 to expose, but it holds 11 restrictions and 8 exposures",
        ),
    ] {
        std::fs::write(&path, edited.to_string()).unwrap();
        live(&sandbox)
            .args(["apply", "-p", &policy_arg(), path.to_str().unwrap()])
            .stderr_contains(message)
            .status(1);
    }
    assert!(writes(&api).is_empty());
}

#[test]
fn errors_on_a_terminal_follow_the_one_colour_decision() {
    let sandbox = example_sandbox();
    let args = "plan -p missing-policy.yaml";
    let (code, text) = on_terminal_with(&sandbox, args, "", &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("\u{1b}["),
        "a terminal gets a coloured error: {text:?}"
    );
    for env in [[("NO_COLOR", "1")], [("TERM", "dumb")]] {
        let (code, text) = on_terminal_with(&sandbox, args, "", &env);
        assert_eq!(code, Some(1), "{text}");
        assert!(text.contains("error:"), "{text}");
        assert!(!text.contains('\u{1b}'), "{env:?} still coloured: {text:?}");
    }
    let (_, text) = on_terminal_with(&sandbox, &format!("{args} --no-color"), "", &[]);
    assert!(
        !text.contains('\u{1b}'),
        "--no-color still coloured: {text:?}"
    );
}
