//! `apply` over several accounts: fresh plans confirmed once (on a terminal: every plan, the
//! total, then the question), guardrails refusing one account while the others apply, a saved
//! plan over several accounts going stale for one, tampered saved plans refused, the audit
//! log naming each write's account; and `show` of a saved multi-account plan.

use reqwest::Method;
use serde_json::{Value, json};

use plotward_sandbox::{Options, Sandbox, Seed, User};

use crate::api::{Api, As};
use crate::harness::Test;

/// alice, bob and carol (keys `NAME-key`): alice and carol one public file each, bob two
/// public among ten (enough for `max_changes` to apply).
fn sandbox() -> Sandbox {
    let mut files = json!({"format_version": 1, "files": [
        {"fid": "alice:1", "path": "report", "filetype": "plot", "world_readable": true, "share_key_enabled": false},
        {"fid": "bob:1", "path": "budget", "filetype": "plot", "world_readable": true, "share_key_enabled": false},
        {"fid": "bob:2", "path": "forecast", "filetype": "plot", "world_readable": true, "share_key_enabled": false},
        {"fid": "carol:1", "path": "notes", "filetype": "plot", "world_readable": true, "share_key_enabled": false},
    ]});
    for n in 3..=10 {
        files["files"].as_array_mut().unwrap().push(json!(
            {"fid": format!("bob:{n}"), "path": format!("kept-{n}"), "filetype": "plot", "world_readable": false, "share_key_enabled": false}
        ));
    }
    crate::accounts::with_users(&files, &["alice", "bob", "carol"])
}

/// A policy making everything of `user` private, its key in `KEY_<USER>`, plus `extra`.
fn policy_for(user: &str, extra: &str) -> String {
    format!(
        "version: 1\ndefault: private\naccount:\n  user: {user}\n  api_key_env: KEY_{}\n{extra}",
        user.to_uppercase()
    )
}

/// The three policies (bob's with `bob_extra`), the server from the environment.
fn three(sandbox: &Sandbox, bob_extra: &str) -> Test {
    Test::new()
        .write("a.yaml", &policy_for("alice", ""))
        .write("b.yaml", &policy_for("bob", bob_extra))
        .write("c.yaml", &policy_for("carol", ""))
        .env("PLOTLY_API_DOMAIN", sandbox.url())
        .env("KEY_ALICE", "alice-key")
        .env("KEY_BOB", "bob-key")
        .env("KEY_CAROL", "carol-key")
}

const POLICIES: [&str; 6] = ["-p", "a.yaml", "-p", "b.yaml", "-p", "c.yaml"];

/// The files the server was asked to change, sorted.
fn patched(api: &Api) -> Vec<String> {
    let mut paths: Vec<String> = api
        .requests()
        .into_iter()
        .filter(|(method, _, _)| method == "PATCH")
        .map(|(_, path, _)| path)
        .collect();
    paths.sort();
    paths
}

#[test]
fn one_account_over_its_guardrail_is_refused_and_the_others_apply() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let url = sandbox.url();
    let run = three(&sandbox, "guardrails:\n  max_changes: 1\n")
        .args(["apply", "--auto-approve", "--audit-log", "audit.jsonl"])
        .args(POLICIES)
        .stdout_contains(&format!("Account bob on {url} (policy b.yaml)"))
        .stdout_contains(
            "Refused: refusing to apply: the plan breaks the guardrails of b.yaml:\n  max_changes: ",
        )
        .stdout_contains("Total: 4 to restrict, 0 to expose over 3 accounts.")
        .stdout_contains(
            "Total: 2 restricted, 0 exposed, 0 failed over 3 accounts; 1 account refused.",
        )
        .stdout_contains(&format!(
            "  bob on {url} (policy b.yaml): refused, nothing written"
        ))
        .stdout_contains(&format!(
            "  alice on {url} (policy a.yaml): 1 restricted, 0 exposed, 0 failed"
        ))
        .stdout_lacks("alice-key")
        .status(1);
    assert!(run.stdout.contains("max_changes"), "{}", run.stdout);
    assert_eq!(patched(&api), ["/v2/files/alice:1", "/v2/files/carol:1"]);
    // Each line of the audit log names its account.
    let audit = run.read("audit.jsonl");
    let lines: Vec<Value> = audit
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let user = line["user"].as_str().unwrap();
        assert!(
            line["fid"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{user}:"))
        );
        assert_eq!(line["server"], url);
    }
    assert!(
        lines
            .iter()
            .any(|l| l["user"] == "carol" && l["outcome"] == "applied")
    );
    assert!(!lines.iter().any(|l| l["user"] == "bob"));
    // A second run: alice and carol have nothing to do; bob still refused.
    three(&sandbox, "guardrails:\n  max_changes: 1\n")
        .args(["apply", "--auto-approve"])
        .args(POLICIES)
        .stdout_contains(&format!("  alice on {url} (policy a.yaml): no changes"))
        .status(1);
    // Without the guardrail, everything applies and the run exits 0.
    three(&sandbox, "")
        .args(["apply", "--auto-approve"])
        .args(POLICIES)
        .stdout_contains("Total: 2 restricted, 0 exposed, 0 failed over 3 accounts.")
        .status(0);
    assert_eq!(patched(&api).len(), 4);
}

#[test]
fn several_policies_without_a_terminal_or_approval_write_nothing() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    three(&sandbox, "")
        .args(["apply"])
        .args(POLICIES)
        .stderr_contains("stdin is not a terminal")
        .status(1);
    assert!(patched(&api).is_empty());
    assert!(api.requests().is_empty(), "asked before any request");
}

/// Runs plotward under a pseudo-terminal (`script`) in `dir`, typing `input`, with the three
/// keys.
fn on_terminal(
    sandbox: &Sandbox,
    dir: &std::path::Path,
    args: &str,
    input: &str,
) -> (Option<i32>, String) {
    let env = [
        ("PLOTLY_API_DOMAIN", sandbox.url()),
        ("KEY_ALICE", "alice-key"),
        ("KEY_BOB", "bob-key"),
        ("KEY_CAROL", "carol-key"),
    ];
    crate::harness::on_terminal(Some(dir), args, input, &env)
}

#[test]
fn on_a_terminal_every_plan_and_the_total_come_before_the_one_question() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    for (file, user) in [("a.yaml", "alice"), ("b.yaml", "bob"), ("c.yaml", "carol")] {
        std::fs::write(dir.path().join(file), policy_for(user, "")).unwrap();
    }
    let args = "apply -p a.yaml -p b.yaml -p c.yaml";
    let (code, text) = on_terminal(&sandbox, dir.path(), args, "no\n");
    assert_eq!(code, Some(1), "{text}");
    let order = [
        "Account alice on",
        "Account bob on",
        "Account carol on",
        "Total: 4 to restrict, 0 to expose over 3 accounts.",
        "Do you want to apply these changes?",
        "apply cancelled; nothing was changed",
    ];
    let positions: Vec<Option<usize>> = order.iter().map(|line| text.find(line)).collect();
    assert!(
        positions.iter().all(Option::is_some) && positions.is_sorted(),
        "expected {order:#?} in this order, found at {positions:?}:\n{text}"
    );
    assert_eq!(text.matches("Do you want to apply").count(), 1, "{text}");
    assert!(patched(&api).is_empty());
    let (code, text) = on_terminal(&sandbox, dir.path(), args, "yes\n");
    assert_eq!(code, Some(0), "{text}");
    let question = text.find("Do you want to apply").unwrap();
    let done = text
        .find("Total: 4 restricted, 0 exposed, 0 failed over 3 accounts.")
        .expect("the combined report");
    assert!(question < done, "{text}");
    assert_eq!(patched(&api).len(), 4);
}

/// `plan -p a -p b -p c --out plan.json` in a fresh test; the saved plan's text.
fn saved_plan(sandbox: &Sandbox) -> String {
    three(sandbox, "")
        .args(["plan", "--out", "plan.json"])
        .args(POLICIES)
        .status(0)
        .read("plan.json")
}

#[test]
fn a_saved_plan_stale_for_one_account_applies_the_others_and_refuses_it() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let plan = saved_plan(&sandbox);
    // bob makes one of his files private after the plan was reviewed.
    let reply = api.json(
        Method::PATCH,
        "/v2/files/bob:2",
        As::User("bob"),
        &json!({"world_readable": false, "share_key_enabled": false}),
    );
    assert!(reply.status.is_success(), "{}", reply.body);
    let before = patched(&api);
    let url = sandbox.url();
    let run = three(&sandbox, "")
        .write("plan.json", &plan)
        .args(["apply", "plan.json"])
        .args(POLICIES)
        .stdout_contains("Applying the saved plan plan.json: 1 to restrict, 0 to expose.")
        .stdout_contains(&format!(
            "  bob on {url} (policy b.yaml): refused, nothing written"
        ))
        .stdout_contains(
            "Total: 2 restricted, 0 exposed, 0 failed over 3 accounts; 1 account refused.",
        )
        .status(1);
    assert!(run.stdout.contains("stale"), "{}", run.stdout);
    let now: Vec<String> = patched(&api)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert_eq!(now, ["/v2/files/alice:1", "/v2/files/carol:1"]);
    // The policies in another order are the same pairing.
    three(&sandbox, "")
        .write("plan.json", &plan)
        .args([
            "apply",
            "plan.json",
            "-p",
            "c.yaml",
            "-p",
            "b.yaml",
            "-p",
            "a.yaml",
        ])
        .stdout_contains("stale")
        .status(1);
}

#[test]
fn a_tampered_saved_plan_over_several_accounts_is_refused_before_any_write() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let plan: Value = serde_json::from_str(&saved_plan(&sandbox)).unwrap();
    let mut removed = plan.clone();
    removed["accounts"].as_array_mut().unwrap().remove(2);
    removed["total"]["accounts"] = json!(2);
    removed["total"]["restrict"] = json!(3);
    let mut added = plan.clone();
    let extra = added["accounts"][0].clone();
    added["accounts"].as_array_mut().unwrap().push(extra);
    let mut swapped_user = plan.clone();
    swapped_user["accounts"][0]["user"] = json!("bob");
    swapped_user["accounts"][1]["user"] = json!("alice");
    let mut swapped_server = plan.clone();
    swapped_server["accounts"][1]["server"] = json!("http://127.0.0.1:9");
    let mut foreign = plan.clone();
    foreign["accounts"][0]["plan"]["changes"][0]["fid"] = json!("bob:1");
    let mut miscounted = plan.clone();
    miscounted["total"]["restrict"] = json!(1);
    // Unknown fields are refused as in a single-account plan, in a section and everywhere.
    let unknown = |at: &[&str]| {
        let mut edited = plan.clone();
        let mut object = &mut edited;
        for key in at {
            object = match key.parse::<usize>() {
                Ok(index) => &mut object[index],
                Err(_) => &mut object[*key],
            };
        }
        object["extra"] = json!(1);
        edited
    };
    for (edited, message) in [
        (removed, "no section for the account carol"),
        (added, "names the account alice"),
        (swapped_user, "holds a plan of alice"),
        (swapped_server, "holds a plan of bob"),
        (foreign, "a change is to a file of another user"),
        (miscounted, "its total says"),
        (unknown(&[]), "unknown field `extra`"),
        (unknown(&["accounts", "0"]), "unknown field `extra`"),
        (unknown(&["accounts", "0", "plan"]), "unknown field `extra`"),
        (
            unknown(&["accounts", "1", "plan", "changes", "0"]),
            "unknown field `extra`",
        ),
        (unknown(&["total"]), "unknown field `extra`"),
    ] {
        let before = api.requests().len();
        three(&sandbox, "")
            .write("plan.json", &edited.to_string())
            .args(["apply", "plan.json"])
            .args(POLICIES)
            .stderr_contains(message)
            .status(1);
        assert_eq!(
            api.requests().len(),
            before,
            "{message}: refused before any request"
        );
    }
    // Fewer policies than accounts, or another policy text, are refused too.
    three(&sandbox, "")
        .write("plan.json", &plan.to_string())
        .args(["apply", "plan.json", "-p", "a.yaml", "-p", "b.yaml"])
        .stderr_contains("covers the account carol")
        .status(1);
    three(&sandbox, "# edited\n")
        .write("plan.json", &plan.to_string())
        .args(["apply", "plan.json"])
        .args(POLICIES)
        .stderr_contains("b.yaml")
        .status(1);
    assert!(patched(&api).is_empty());
}

#[test]
fn show_prints_a_plan_over_several_accounts_as_plan_did_in_every_format() {
    let sandbox = sandbox();
    // One account fails (its key is wrong): its section is shown as it was.
    for format in ["text", "json", "markdown", "diff"] {
        let planned = three(&sandbox, "")
            .env("KEY_CAROL", "wrong")
            .args(["plan", "--format", format, "--out", "plan.json"])
            .args(POLICIES)
            .status(1);
        let shown = Test::new()
            .write("plan.json", &planned.read("plan.json"))
            .args(["show", "plan.json", "--format", format])
            .status(0);
        assert_eq!(shown.stdout, planned.stdout, "--format {format}");
        assert!(!shown.stdout.contains("wrong"), "{}", shown.stdout);
        assert_eq!(shown.stderr, "", "--format {format}");
    }
    // A tampered total is refused by show as by apply.
    let planned = three(&sandbox, "")
        .args(["plan", "--out", "plan.json"])
        .args(POLICIES)
        .status(0);
    let mut plan: Value = serde_json::from_str(&planned.read("plan.json")).unwrap();
    plan["total"]["expose"] = json!(7);
    Test::new()
        .write("plan.json", &plan.to_string())
        .args(["show", "plan.json"])
        .stderr_contains("its total says")
        .stdout("")
        .status(1);
}

#[test]
fn snapshot_and_export_write_one_file_per_account_into_a_directory() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    // Without a directory, several policies are refused before any request.
    for command in ["snapshot", "export"] {
        three(&sandbox, "")
            .args([command])
            .args(POLICIES)
            .stderr_contains("give --out DIR")
            .status(1);
    }
    assert!(api.requests().is_empty());
    let run = three(&sandbox, "")
        .args(["snapshot", "--out", "snaps"])
        .args(POLICIES)
        .stderr_contains("wrote 10 files to snaps/bob.json")
        .stdout("")
        .status(0);
    for user in ["alice", "bob", "carol"] {
        let snapshot: Value =
            serde_json::from_str(&run.read(&format!("snaps/{user}.json"))).unwrap();
        assert_eq!(snapshot["source"]["user"], user);
        let files = snapshot["files"].as_array().unwrap();
        assert!(
            files
                .iter()
                .all(|f| f["fid"].as_str().unwrap().starts_with(&format!("{user}:"))),
            "{snapshot}"
        );
    }
    // Each exported policy names its account, so it is given to -p as it is: planning with
    // them changes nothing.
    let exported = three(&sandbox, "")
        .args(["export", "--out", "policies"])
        .args(POLICIES)
        .stderr_contains("wrote policies/carol.yaml")
        .status(0);
    let alice = exported.read("policies/alice.yaml");
    assert!(
        alice.contains("account:\n  user: \"alice\"\n  api_key_env: \"KEY_ALICE\"\n"),
        "{alice}"
    );
    three(&sandbox, "")
        .write("policies/alice.yaml", &alice)
        .write("policies/bob.yaml", &exported.read("policies/bob.yaml"))
        .write("policies/carol.yaml", &exported.read("policies/carol.yaml"))
        .args([
            "plan",
            "--detailed-exitcode",
            "-p",
            "policies/alice.yaml",
            "-p",
            "policies/bob.yaml",
            "-p",
            "policies/carol.yaml",
        ])
        .stdout_contains("Total: 0 to restrict, 0 to expose over 3 accounts.")
        .status(0);
    // --diff DIR compares each account with its file there: carol's file changed since.
    let reply = api.json(
        Method::PATCH,
        "/v2/files/carol:1",
        As::User("carol"),
        &json!({"world_readable": false, "share_key_enabled": false}),
    );
    assert!(reply.status.is_success(), "{}", reply.body);
    let url = sandbox.url();
    let diff = three(&sandbox, "")
        .write("policies/alice.yaml", &alice)
        .write("policies/bob.yaml", &exported.read("policies/bob.yaml"))
        .write("policies/carol.yaml", &exported.read("policies/carol.yaml"))
        .args(["export", "--diff", "policies"])
        .args(POLICIES)
        .stdout_contains(&format!("# Account: carol on {url} (policy c.yaml)"))
        .stdout_contains("policies/alice.yaml is the same as the exported policy")
        .status(2);
    assert!(
        diff.stdout.contains("--- policies/carol.yaml"),
        "{}",
        diff.stdout
    );
    assert!(
        !diff.stdout.contains("--- policies/alice.yaml"),
        "{}",
        diff.stdout
    );
    assert!(
        api.requests()
            .iter()
            .all(|(method, path, _)| method == "GET" || path == "/v2/files/carol:1"),
        "snapshot and export only read"
    );
}

#[test]
fn accounts_whose_files_would_share_a_name_are_refused_before_any_request() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    three(&sandbox, "")
        .write("shout.yaml", &policy_for("ALICE", ""))
        .env("KEY_ALICE", "alice-key")
        .args([
            "snapshot",
            "--out",
            "snaps",
            "-p",
            "a.yaml",
            "-p",
            "shout.yaml",
        ])
        .stderr_contains("both name the user ALICE")
        .status(1);
    assert!(api.requests().is_empty());
}

#[test]
fn with_v_the_connection_line_is_said_once_per_server() {
    let sandbox = sandbox();
    let url = sandbox.url();
    let run = three(&sandbox, "")
        .args(["plan", "-v"])
        .args(POLICIES)
        .status(0);
    let line = format!("http: requests go to {url} directly");
    assert_eq!(run.stderr.matches(&line).count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("GET /v2/users/current"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_dead_server_is_taken_for_dead_once_for_every_account_on_it() {
    // Five accounts on a server where nothing listens, three attempts each: fifteen misses
    // in all, more than the ten after which a server is taken for dead, though no account
    // alone gets there. With one breaker per server, the tenth miss trips it for everyone.
    let mut test = Test::new();
    let mut args = vec!["plan", "--retries", "2", "--backoff-ms", "1"];
    let names = ["d1", "d2", "d3", "d4", "d5"];
    let files: Vec<String> = names.iter().map(|n| format!("{n}.yaml")).collect();
    for (name, file) in names.iter().zip(&files) {
        test = test
            .write(
                file,
                &format!(
                    "version: 1\ndefault: private\naccount:\n  user: {name}\n  server: http://127.0.0.1:9\n  api_key_env: KEY\n"
                ),
            );
        args.extend(["-p", file.as_str()]);
    }
    let run = test
        .env("KEY", "k")
        .env("PLOTLY_API_DOMAIN", "http://127.0.0.1:9")
        .args(&args)
        .status(1);
    assert!(
        run.stdout
            .contains("stopped answering: 10 requests in a row got no response"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches("Failed: ").count(), 5, "{}", run.stdout);
}

/// alice and bob with twenty public files each, every request slowed by `latency_ms`.
fn slow_sandbox(latency_ms: u64) -> Sandbox {
    let mut files = Vec::new();
    for user in ["alice", "bob"] {
        for n in 1..=20 {
            files.push(json!({"fid": format!("{user}:{n}"), "path": format!("f{n}"), "filetype": "plot", "world_readable": true, "share_key_enabled": false}));
        }
    }
    let seed = json!({"format_version": 1, "files": files}).to_string();
    let seed = Seed::parse_snapshot(&seed, std::path::Path::new("seed.json")).unwrap();
    Sandbox::start(&Options {
        seed,
        users: ["alice", "bob"]
            .map(|name| User {
                username: name.to_owned(),
                api_key: format!("{name}-key"),
            })
            .to_vec(),
        faults: plotward_sandbox::FaultConfig {
            latency_ms,
            ..plotward_sandbox::FaultConfig::default()
        },
        ..Options::default()
    })
    .expect("sandbox starts")
}

#[test]
fn an_interrupt_stops_every_account_new_writes_and_records_those_in_flight() {
    use std::io::Read;
    let sandbox = slow_sandbox(150);
    let api = Api::new(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    for (file, user) in [("a.yaml", "alice"), ("b.yaml", "bob")] {
        std::fs::write(dir.path().join(file), policy_for(user, "")).unwrap();
    }
    let mut guard = crate::harness::ChildGuard(
        std::process::Command::new(env!("CARGO_BIN_EXE_plotward"))
            .args(["apply", "--auto-approve", "--parallelism", "2"])
            .args(["--audit-log", "audit.jsonl", "-p", "a.yaml", "-p", "b.yaml"])
            .current_dir(dir.path())
            .env_clear()
            .env("PLOTLY_API_DOMAIN", sandbox.url())
            .env("KEY_ALICE", "alice-key")
            .env("KEY_BOB", "bob-key")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while patched(&api).is_empty() {
        assert!(std::time::Instant::now() < deadline, "no PATCH arrived");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let sent = std::process::Command::new("kill")
        .args(["-INT".to_owned(), guard.0.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = loop {
        if let Some(status) = guard.0.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "apply did not stop");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut out = String::new();
    guard
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("Interrupted: "), "{out}");
    let written = patched(&api).len();
    assert!(
        written < 40,
        "{written} PATCHes: the interrupt stopped new writes\n{out}"
    );
    // Every write the server received was waited for and recorded.
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let applied = audit
        .lines()
        .filter(|l| l.contains("\"outcome\":\"applied\""))
        .count();
    assert_eq!(applied, written, "{audit}");
    assert!(
        out.contains("over 2 accounts") && out.contains("not applied"),
        "{out}"
    );
}

#[test]
fn a_saved_plan_account_without_its_key_fails_alone() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let url = sandbox.url();
    // carol names her server, so her section is paired with her policy without her key.
    let carol = format!(
        "version: 1\ndefault: private\naccount:\n  user: carol\n  server: {url}\n  api_key_env: KEY_CAROL\n"
    );
    let plan = three(&sandbox, "")
        .write("c.yaml", &carol)
        .args(["plan", "--out", "plan.json"])
        .args(POLICIES)
        .status(0)
        .read("plan.json");
    let run = three(&sandbox, "")
        .write("c.yaml", &carol)
        .write("plan.json", &plan)
        .env("KEY_CAROL", "")
        .args(["apply", "plan.json"])
        .args(POLICIES)
        .stdout_contains(&format!(
            "  carol on {url} (policy c.yaml): failed, nothing written"
        ))
        .status(1);
    assert!(run.stdout.contains("KEY_CAROL"), "{}", run.stdout);
    assert_eq!(
        patched(&api),
        ["/v2/files/alice:1", "/v2/files/bob:1", "/v2/files/bob:2"]
    );
}
