//! Several accounts in one run: `account:` blocks, `plan` and `check` over three users of one
//! sandbox (every format's sections and grand total), one bad key among good ones, keys from
//! a file and from a variable, and the diagnostics of a bad `account:` block.

use serde_json::{Value, json};

use plotward_sandbox::{Options, Sandbox, Seed, User};

use crate::api::Api;
use crate::harness::Test;

/// A sandbox with alice, bob and carol (keys `NAME-key`): each has one public file the policy
/// wants private, except carol, who is compliant.
fn three_accounts() -> Sandbox {
    let files = json!({"format_version": 1, "files": [
        {"fid": "alice:1", "path": "report", "filetype": "plot", "world_readable": true, "share_key_enabled": false},
        {"fid": "bob:1", "path": "budget", "filetype": "plot", "world_readable": true, "share_key_enabled": false},
        {"fid": "carol:1", "path": "notes", "filetype": "plot", "world_readable": false, "share_key_enabled": false},
    ]});
    with_users(&files, &["alice", "bob", "carol"])
}

/// A sandbox seeded with the snapshot document `files`, each of `users` with the key
/// `NAME-key`.
pub(crate) fn with_users(files: &Value, users: &[&str]) -> Sandbox {
    let seed = Seed::parse_snapshot(&files.to_string(), std::path::Path::new("seed.json")).unwrap();
    let users = users
        .iter()
        .map(|name| User {
            username: (*name).to_owned(),
            api_key: format!("{name}-key"),
        })
        .collect();
    Sandbox::start(&Options {
        seed,
        users,
        ..Options::default()
    })
    .expect("sandbox starts")
}

/// A policy governing `user`'s account, its key in `KEY_<USER>`.
fn policy_for(user: &str) -> String {
    format!(
        "version: 1\ndefault: private\naccount:\n  user: {user}\n  api_key_env: KEY_{}\n",
        user.to_uppercase()
    )
}

/// The three policies, the server from the environment, each key in its variable.
fn three(sandbox: &Sandbox) -> Test {
    Test::new()
        .write("a.yaml", &policy_for("alice"))
        .write("b.yaml", &policy_for("bob"))
        .write("c.yaml", &policy_for("carol"))
        .env("PLOTLY_API_DOMAIN", sandbox.url())
        .env("KEY_ALICE", "alice-key")
        .env("KEY_BOB", "bob-key")
        .env("KEY_CAROL", "carol-key")
}

const POLICIES: [&str; 6] = ["-p", "a.yaml", "-p", "b.yaml", "-p", "c.yaml"];

/// A JSON plan on stdout lets go of each account's changes once its section is written:
/// the total and the exit code, read afterwards, still count them, and `--out` still saves
/// them all.
#[test]
fn a_streamed_json_plan_still_counts_the_changes_it_let_go() {
    let sandbox = three_accounts();
    let streamed = three(&sandbox)
        .args(["plan", "--format", "json", "--detailed-exitcode"])
        .args(POLICIES)
        .stdout_contains("\"fid\": \"bob:1\"")
        .status(2);
    let document: Value = serde_json::from_str(&streamed.stdout).unwrap();
    assert_eq!(document["total"]["restrict"], 2, "{}", streamed.stdout);
    let saved = three(&sandbox)
        .args(["plan", "--format", "json", "--out", "plan.json"])
        .args(POLICIES)
        .status(0);
    assert_eq!(saved.read("plan.json"), streamed.stdout);
}

/// A reader that goes away (`| head`) cuts the report short: never exit 0, which a CI step
/// with `pipefail` reads as "no changes" or "compliant", and say why. Over several accounts
/// the JSON plan is written while later accounts still run, so the run stops early.
#[test]
fn a_closed_stdout_is_an_error_never_a_green_exit() {
    let sandbox = three_accounts();
    for (command, format) in [
        ("plan", "json"),
        ("plan", "text"),
        ("check", "json"),
        ("check", "text"),
    ] {
        let mut args = vec![command, "--format", format];
        if command == "plan" {
            args.push("--detailed-exitcode");
        }
        three(&sandbox)
            .stdout_closed()
            .args(&args)
            .args(POLICIES)
            .stderr_contains("cannot write output: the reader closed it")
            .stderr_contains("broken pipe")
            .status(1);
        three(&sandbox)
            .stdout_closed()
            .args(&args)
            .args(["-p", "a.yaml"])
            .stderr_contains("broken pipe")
            .status(1);
    }
}

#[test]
fn a_plan_over_three_accounts_has_a_section_each_and_a_total_in_every_format() {
    let sandbox = three_accounts();
    let url = sandbox.url();
    let text = three(&sandbox)
        .args(["plan"])
        .args(POLICIES)
        .stdout_contains(&format!("Account alice on {url} (policy a.yaml)"))
        .stdout_contains(&format!("Account bob on {url} (policy b.yaml)"))
        .stdout_contains(&format!("Account carol on {url} (policy c.yaml)"))
        .stdout_contains("Total: 2 to restrict, 0 to expose over 3 accounts.")
        .stdout_contains(&format!(
            "  carol on {url} (policy c.yaml): 0 to restrict, 0 to expose"
        ))
        .stdout_lacks("alice-key")
        .status(0);
    // Sections in policy order, whatever order the accounts finished in.
    let at = |who: &str| text.stdout.find(&format!("Account {who} on")).unwrap();
    assert!(
        at("alice") < at("bob") && at("bob") < at("carol"),
        "{}",
        text.stdout
    );
    opens_and_closes_with(
        &text.stdout,
        "Total: 2 to restrict, 0 to expose over 3 accounts.\n",
    );
    // `-p a b c` after one flag, as a shell glob expands, is the same run; pending changes
    // exit 2 with --detailed-exitcode.
    three(&sandbox)
        .args([
            "plan",
            "--detailed-exitcode",
            "-p",
            "a.yaml",
            "b.yaml",
            "c.yaml",
        ])
        .stdout_contains("Total: 2 to restrict, 0 to expose over 3 accounts.")
        .status(2);
    let json = three(&sandbox)
        .args(["plan", "--format", "json"])
        .args(POLICIES)
        .status(0);
    let document: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(document["format_version"], 3);
    assert_eq!(
        document["total"],
        json!({"accounts": 3, "failed": 0, "restrict": 2, "expose": 0, "guardrails": 0})
    );
    let accounts = document["accounts"].as_array().unwrap();
    let users: Vec<&str> = accounts
        .iter()
        .map(|a| a["user"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["alice", "bob", "carol"]);
    assert_eq!(accounts[0]["server"], url);
    assert_eq!(accounts[0]["plan"]["format_version"], 1);
    assert_eq!(accounts[1]["plan"]["changes"][0]["fid"], "bob:1");
    let markdown = three(&sandbox)
        .args(["plan", "--format", "markdown"])
        .args(POLICIES)
        .stdout_contains("## Account `alice` on ")
        .stdout_contains("## Account `carol` on ")
        .stdout_contains("| `bob` | ")
        .status(0);
    assert!(
        markdown
            .stdout
            .starts_with("## Total\n\n2 to restrict, 0 to expose over 3 accounts.\n"),
        "{}",
        markdown.stdout
    );
    assert!(
        markdown.stdout.find("| `bob` | ") < markdown.stdout.find("## Account `alice`"),
        "{}",
        markdown.stdout
    );
    let diff = three(&sandbox)
        .args(["plan", "--format", "diff"])
        .args(POLICIES)
        .stdout_contains(&format!("# Account: bob on {url} (policy b.yaml)"))
        .stdout_contains("+budget")
        .status(0);
    assert!(
        diff.stdout
            .starts_with("# Total: 2 to restrict, 0 to expose over 3 accounts.\n"),
        "{}",
        diff.stdout
    );
    // `--out` saves the same multi-account document.
    let saved = three(&sandbox)
        .args(["plan", "--out", "plan.json"])
        .args(POLICIES)
        .status(0);
    let file: Value = serde_json::from_str(&saved.read("plan.json")).unwrap();
    assert_eq!(file, document);
    // plan only read.
    let requests = crate::api::Api::new(&sandbox).requests();
    assert!(
        requests.iter().all(|(method, _, _)| method == "GET"),
        "{requests:?}"
    );
}

#[test]
fn a_check_over_three_accounts_has_a_section_each_and_a_total_in_every_format() {
    let sandbox = three_accounts();
    let url = sandbox.url();
    let text = three(&sandbox)
        .args(["check"])
        .args(POLICIES)
        .stdout_contains(&format!("Account alice on {url} (policy a.yaml)"))
        .stdout_contains(&format!("Account carol on {url} (policy c.yaml)"))
        .stdout_contains(&format!("  bob on {url} (policy b.yaml): 1 violation"))
        .status(2);
    // The grand total first, then the sections in policy order, then the sums again.
    opens_and_closes_with(
        &text.stdout,
        "Total: 2 violations in 3 files over 3 accounts.\n",
    );
    let at = |who: &str| text.stdout.find(&format!("Account {who} on")).unwrap();
    assert!(
        at("alice") < at("bob") && at("bob") < at("carol"),
        "{}",
        text.stdout
    );
    let json = three(&sandbox)
        .args(["check", "--format", "json"])
        .args(POLICIES)
        .status(2);
    let document: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(document["format_version"], 2);
    assert_eq!(document["compliant"], false);
    assert_eq!(
        document["total"],
        json!({"accounts": 3, "failed": 0, "files": 3, "violations": 2, "drift": 2, "never_public": 0})
    );
    assert_eq!(document["accounts"][2]["check"]["compliant"], true);
    assert_eq!(
        document["accounts"][0]["check"]["violations"][0]["fid"],
        "alice:1"
    );
    let markdown = three(&sandbox)
        .args(["check", "--format", "markdown"])
        .args(POLICIES)
        .stdout_contains("## Account `bob` on ")
        .status(2);
    assert!(
        markdown
            .stdout
            .starts_with("## Total\n\n2 violations in 3 files over 3 accounts.\n"),
        "{}",
        markdown.stdout
    );
    let junit = three(&sandbox)
        .args(["check", "--format", "junit"])
        .args(POLICIES)
        .stdout_contains(&format!(
            "<testsuite name=\"alice on {url} (policy a.yaml)\""
        ))
        .stdout_contains(&format!(
            "<testsuite name=\"carol on {url} (policy c.yaml)\""
        ))
        .status(2);
    let xml = roxmltree_free_check(&junit.stdout);
    assert_eq!(xml, (3, 2), "{}", junit.stdout);
}

/// Asserts a report over several accounts opens with its grand total (an auditor reads the
/// top), before any account's section, and closes with the sums once more.
fn opens_and_closes_with(stdout: &str, sums: &str) {
    assert!(stdout.starts_with(sums), "{stdout}");
    assert!(
        stdout.find(sums) < stdout.find("Account "),
        "the total comes before the sections: {stdout}"
    );
    assert!(stdout.ends_with(sums), "{stdout}");
}

/// The `<testsuites>` element's `tests` and `failures`, and that every suite is closed.
fn roxmltree_free_check(xml: &str) -> (usize, usize) {
    assert_eq!(
        xml.matches("<testsuite ").count(),
        xml.matches("</testsuite>").count()
    );
    let head = xml.lines().nth(1).unwrap();
    let attribute = |name: &str| -> usize {
        head.split(&format!(" {name}=\""))
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (attribute("tests"), attribute("failures"))
}

#[test]
fn one_bad_key_fails_its_account_alone_and_no_key_is_shown() {
    let sandbox = three_accounts();
    let url = sandbox.url();
    for format in ["text", "json", "markdown", "junit"] {
        let run = three(&sandbox)
            .env("KEY_BOB", "bob-wrong-key-7f3a")
            .args(["check", "--format", format])
            .args(POLICIES)
            .stdout_contains("alice")
            .stdout_contains("carol")
            .stdout_lacks("bob-wrong-key-7f3a")
            .stdout_lacks("alice-key")
            .stdout_lacks("carol-key")
            .stderr_lacks("bob-wrong-key-7f3a")
            .status(1);
        match format {
            "text" => {
                assert!(
                    run.stdout
                        .contains(&format!("Account bob on {url} (policy b.yaml)\n\nFailed: ")),
                    "{}",
                    run.stdout
                );
                assert!(
                    run.stdout
                        .contains("KEY_BOB (account.api_key_env in b.yaml)"),
                    "{}",
                    run.stdout
                );
                assert!(run.stdout.contains("1 account failed"), "{}", run.stdout);
                assert!(run.stdout.contains("  alice on"), "{}", run.stdout);
            }
            "json" => {
                let document: Value = serde_json::from_str(&run.stdout).unwrap();
                assert_eq!(document["total"]["failed"], 1);
                assert_eq!(document["total"]["violations"], 1);
                assert!(
                    document["accounts"][1]["error"]
                        .as_str()
                        .unwrap()
                        .contains("KEY_BOB")
                );
                assert_eq!(document["accounts"][0]["check"]["summary"]["violations"], 1);
            }
            "junit" => assert!(run.stdout.contains("errors=\"1\""), "{}", run.stdout),
            _ => assert!(run.stdout.contains("**Failed:**"), "{}", run.stdout),
        }
    }
    // The plan, too: the others are planned, the exit is the worst.
    three(&sandbox)
        .env("KEY_BOB", "bob-wrong-key-7f3a")
        .args(["plan", "--detailed-exitcode"])
        .args(POLICIES)
        .stdout_contains("Total: 1 to restrict, 0 to expose over 3 accounts; 1 account failed.")
        .stdout_lacks("bob-wrong-key-7f3a")
        .status(1);
}

#[test]
fn keys_come_from_a_file_or_a_variable_and_one_policy_needs_no_other_setting() {
    let sandbox = three_accounts();
    let by_file =
        "version: 1\ndefault: private\naccount:\n  user: alice\n  api_key_file: alice.key\n";
    let server = format!(
        "version: 1\ndefault: private\naccount:\n  user: bob\n  server: {}\n  api_key_env: KEY_BOB\n",
        sandbox.url()
    );
    // One policy with `account:` and its server: no PLOTLY_* at all, the single-account output,
    // once the operator allowed that server on the command line.
    Test::new()
        .write("b.yaml", &server)
        .env("KEY_BOB", "bob-key")
        .args(["plan", "-p", "b.yaml", "--allow-server", sandbox.url()])
        .stdout_contains("budget")
        .stdout_lacks("Account bob")
        .status(0);
    Test::new()
        .write("a.yaml", by_file)
        .write("alice.key", "alice-key\n")
        .write("b.yaml", &server)
        .env("PLOTLY_API_DOMAIN", sandbox.url())
        .env("KEY_BOB", "bob-key")
        .args(["check", "-p", "a.yaml", "b.yaml"])
        .stdout_contains("Total: 2 violations in 2 files over 2 accounts.")
        .status(2);
    // An empty key file fails that account, saying which file.
    Test::new()
        .write("a.yaml", by_file)
        .write("alice.key", "  \n")
        .write("b.yaml", &server)
        .env("PLOTLY_API_DOMAIN", sandbox.url())
        .env("KEY_BOB", "bob-key")
        .args(["check", "-p", "a.yaml", "b.yaml"])
        .stdout_contains(
            "Failed: cannot read alice.key (account.api_key_file in a.yaml): the file is empty",
        )
        .stdout_contains("Total: 1 violation in 1 files over 2 accounts; 1 account failed.")
        .status(1);
}

#[test]
fn two_policies_of_one_account_and_a_conflicting_user_flag_are_refused_before_any_request() {
    let sandbox = three_accounts();
    three(&sandbox)
        .write("a2.yaml", &policy_for("alice"))
        .args(["plan", "-p", "a.yaml", "b.yaml", "a2.yaml"])
        .stderr_contains(&format!(
            "error: a.yaml and a2.yaml both govern the account alice on {}",
            sandbox.url()
        ))
        .status(1);
    three(&sandbox)
        .args(["plan", "--user", "bob", "-p", "a.yaml"])
        .stderr_contains("error: --user bob conflicts with `account.user: alice` in a.yaml")
        .status(1);
    // The same server by another name: `localhost` for `127.0.0.1`, a trailing slash.
    let port = sandbox.url().rsplit(':').next().unwrap().to_owned();
    let localhost = format!("http://localhost:{port}/");
    three(&sandbox)
        .write(
            "a2.yaml",
            &format!(
                "version: 1\ndefault: private\naccount:\n  user: alice\n  server: {localhost}\n  api_key_env: KEY_ALICE\n"
            ),
        )
        .args(["plan", "--allow-server", &localhost, "-p", "a.yaml", "a2.yaml"])
        .stderr_contains(&format!(
            "error: a.yaml and a2.yaml both govern the account alice on http://localhost:{port} (the same server as {}); give each account one policy",
            sandbox.url()
        ))
        .status(1);
    let requests = crate::api::Api::new(&sandbox).requests();
    assert!(requests.is_empty(), "{requests:?}");
}

#[test]
fn a_bad_account_block_is_diagnosed_in_full() {
    let policy = "version: 1\ndefault: private\naccount:\n  usr: alice\n  api_key: s3cr3t\n  server: ftp://plotly.example.com\n";
    let run = Test::new()
        .write("p.yaml", policy)
        .args(["validate", "-p", "p.yaml"])
        .stderr_contains("unknown key `usr` in account")
        .stderr_contains("did you mean `user`?")
        .stderr_contains("`api_key` would put the API key in the policy")
        .stderr_contains("use `api_key_env: VARIABLE` or `api_key_file: /path/to/key`")
        .stderr_contains("invalid `server`: unsupported scheme `ftp`; use https")
        .stderr_contains("`account` has no `user`")
        .stderr_contains("p.yaml:6:")
        .status(1);
    // The value of the refused key line is shown as the source line, never in a message.
    assert!(
        !run.stderr
            .lines()
            .any(|l| l.starts_with("error") && l.contains("s3cr3t")),
        "{}",
        run.stderr
    );
    // The schema knows the block.
    Test::new()
        .args(["schema"])
        .stdout_contains("\"api_key_env\"")
        .status(0);
}

#[test]
fn the_exposure_report_over_three_accounts_has_a_section_each_and_never_reads_compliant() {
    let sandbox = three_accounts();
    let run = three(&sandbox)
        .env("KEY_CAROL", "carol-wrong-key-91c2")
        .args(["check", "--format", "html", "--out", "report.html"])
        .args(POLICIES)
        .stderr_contains("error: account carol on")
        .stderr_lacks("carol-wrong-key-91c2")
        .status(1);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // Only the failed account is named on stderr.
    assert!(!run.stderr.contains("account alice on"), "{}", run.stderr);
    let html = run.read("report.html");
    // One section per account, in policy order; the failed one says so, without the key.
    let at = |n: usize| html.find(&format!("id=\"account-{n}\"")).unwrap();
    assert!(at(1) < at(2) && at(2) < at(3), "{html}");
    assert!(html.contains("data-account=\"alice"), "{html}");
    assert!(html.contains("data-account=\"bob"), "{html}");
    let carol = &html[at(3)..];
    assert!(carol.contains("Not checked: "), "{carol}");
    assert!(!html.contains("carol-wrong-key-91c2") && !html.contains("alice-key"));
    // Two violations (alice's and bob's public files), one account not checked: never green.
    assert!(html.contains("1 of 3 accounts not checked."), "{html}");
    assert!(!html.contains("Compliant, "), "{html}");
    assert_eq!(html.matches("<tr class=\"drift\"").count(), 2, "{html}");
}

#[test]
fn a_policy_cannot_send_its_key_to_a_server_the_operator_did_not_name() {
    let sandbox = three_accounts();
    // Another loopback host standing for an attacker's server: it must never be reached.
    let listener = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let elsewhere = format!("http://{}", listener.local_addr().unwrap());
    let steal = format!(
        "version: 1\ndefault: private\naccount:\n  user: bob\n  server: {elsewhere}\n  api_key_env: KEY_BOB\n"
    );
    let run = three(&sandbox)
        .write("steal.yaml", &steal)
        .args(["check", "-p", "a.yaml", "-p", "steal.yaml"])
        .stdout_contains("not the configured server")
        .stdout_contains(&format!("--allow-server {elsewhere}"))
        .stdout_lacks("bob-key")
        .status(1);
    // Alice's account, on the configured server, was still checked.
    assert!(run.stdout.contains("Account alice on"), "{}", run.stdout);
    // One policy alone is refused the same way, before any request.
    Test::new()
        .write("steal.yaml", &steal)
        .env("KEY_BOB", "bob-key")
        .args(["plan", "-p", "steal.yaml"])
        .stderr_contains("not the configured server (none is configured)")
        .status(1);
    assert!(
        listener.accept().is_err(),
        "the server the policy named was contacted"
    );
}

#[test]
fn a_targeted_clean_check_over_two_accounts_exits_0_and_never_reads_compliant() {
    let files = json!({"format_version": 1, "files": [
        {"fid": "alice:1", "path": "report", "filetype": "plot", "world_readable": true, "share_key_enabled": false},
        {"fid": "alice:2", "path": "notes", "filetype": "plot", "world_readable": false, "share_key_enabled": false},
        {"fid": "carol:1", "path": "notes", "filetype": "plot", "world_readable": false, "share_key_enabled": false},
    ]});
    let sandbox = with_users(&files, &["alice", "carol"]);
    let two = |format: &str| {
        Test::new()
            .write("a.yaml", &policy_for("alice"))
            .write("c.yaml", &policy_for("carol"))
            .env("PLOTLY_API_DOMAIN", sandbox.url())
            .env("KEY_ALICE", "alice-key")
            .env("KEY_CAROL", "carol-key")
            .args(["check", "--target", "notes", "--format", format])
            .args(["-p", "a.yaml", "-p", "c.yaml"])
    };
    let run = two("json").status(0);
    let document: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(document["compliant"], false, "{}", run.stdout);
    assert_eq!(document["total"]["violations"], 0, "{}", run.stdout);
    assert_eq!(document["accounts"][0]["check"]["compliant"], false);
    two("text")
        .stdout_contains("0 violations; not compliant. Targeted: only paths matching `notes`")
        .status(0);
}

/// A FIFO as `api_key_file` is refused without being opened (opening it would block forever):
/// that account fails with a message naming the field, the other is still checked.
#[test]
fn a_fifo_as_a_key_file_fails_its_account_at_once_and_the_others_are_checked() {
    let sandbox = three_accounts();
    let test = three(&sandbox);
    let fifo = test.path("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|status| status.success()) {
        return;
    }
    let a = format!(
        "version: 1\ndefault: private\naccount:\n  user: alice\n  api_key_file: {}\n",
        fifo.display()
    );
    // Labelled with the server it would use (PLOTLY_API_DOMAIN), not "(no server)".
    test.write("a.yaml", &a)
        .args(["check", "-p", "a.yaml", "-p", "b.yaml"])
        .stdout_contains("(account.api_key_file in a.yaml) is not a regular file")
        .stdout_contains(&format!(
            "alice on {} (policy a.yaml): failed",
            sandbox.url()
        ))
        .stdout_lacks("(no server)")
        .stdout_contains("(policy b.yaml)")
        .status(1);
}

/// A key variable holding two words, or a key file of two lines, is refused as a key and
/// never shown.
#[test]
fn what_cannot_be_a_key_is_refused_and_not_shown() {
    let sandbox = three_accounts();
    three(&sandbox)
        .env("KEY_ALICE", "SECRETone SECRETtwo")
        .args(["check", "-p", "a.yaml"])
        .stderr_contains("KEY_ALICE (account.api_key_env in a.yaml) does not look like an API key")
        .stderr_lacks("SECRET")
        .stdout_lacks("SECRET")
        .status(1);
    let test = three(&sandbox).write("key", "SECRETone\nSECRETtwo\n");
    let a = format!(
        "version: 1\ndefault: private\naccount:\n  user: alice\n  api_key_file: {}\n",
        test.path("key").display()
    );
    test.write("a.yaml", &a)
        .args(["check", "-p", "a.yaml"])
        .stderr_contains("does not look like an API key: it holds whitespace")
        .stderr_lacks("SECRET")
        .stdout_lacks("SECRET")
        .status(1);
}

/// A password in `account.server`, an inline key and a key pasted as `api_key_env` are refused
/// by `validate` without their line or value in the output.
#[test]
fn validate_never_shows_a_secret_written_in_an_account_block() {
    for block in [
        "  user: alice\n  server: https://alice:SECRETpw@plotly.example.com\n  api_key_env: K\n",
        "  user: alice\n  api_key: SECRETZq8sLx2VbN4\n",
        "  user: alice\n  api_key_env: SECRETZq8sLx2VbN4mK7\n",
    ] {
        Test::new()
            .write(
                "p.yaml",
                &format!("version: 1\ndefault: private\naccount:\n{block}"),
            )
            .args(["validate", "-p", "p.yaml"])
            .stderr_contains("p.yaml:5:")
            .stderr_lacks("SECRET")
            .stdout_lacks("SECRET")
            .status(1);
    }
}

#[test]
fn an_account_reads_the_same_file_count_in_the_exposure_report_alone_and_among_others() {
    let sandbox = three_accounts();
    // Carol's one file is compliant: a report over several accounts keeps only violations,
    // but must still count it.
    let alone = three(&sandbox)
        .args(["check", "--format", "html", "-p", "c.yaml"])
        .status(0);
    assert!(
        alone.stdout.contains("Compliant, 1 files."),
        "{}",
        alone.stdout
    );
    let among = three(&sandbox)
        .args(["check", "--format", "html"])
        .args(POLICIES)
        .status(2);
    let carol = &among.stdout[among.stdout.find("id=\"account-3\"").unwrap()..];
    assert!(carol.contains("Compliant, 1 files."), "{carol}");
}

/// A sandbox with seven accounts of `files` public files each, which their policies want
/// private: each account's Markdown section alone is near the cap.
fn seven_large(files: usize) -> (Sandbox, Vec<String>) {
    let users: Vec<String> = (1..=7).map(|i| format!("user{i}")).collect();
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    let documents: Vec<Value> = names
        .iter()
        .flat_map(|user| {
            (1..=files).map(move |i| {
                json!({"fid": format!("{user}:{i}"), "path": format!("quarterly-report-{i:05}-with-a-long-name"),
                       "filetype": "plot", "world_readable": true, "share_key_enabled": false})
            })
        })
        .collect();
    let sandbox = with_users(&json!({"format_version": 1, "files": documents}), &names);
    (sandbox, users)
}

/// `command` over the seven accounts' policies, each key in its variable.
fn seven(sandbox: &Sandbox, users: &[String], command: &[&str]) -> Test {
    let mut test = Test::new()
        .env("PLOTLY_API_DOMAIN", sandbox.url())
        .args(command);
    for user in users {
        test = test
            .write(&format!("{user}.yaml"), &policy_for(user))
            .env(
                &format!("KEY_{}", user.to_uppercase()),
                &format!("{user}-key"),
            )
            .args(["-p", &format!("{user}.yaml")]);
    }
    test
}

#[test]
fn markdown_over_seven_large_accounts_fits_one_comment_with_every_heading_and_the_total() {
    let (sandbox, users) = seven_large(600);
    let cap = 65_000;
    let plan = seven(
        &sandbox,
        &users,
        &["plan", "--format", "markdown", "--out", "plans.json"],
    )
    .status(0);
    let check = seven(&sandbox, &users, &["check", "--format", "markdown"]).status(2);
    for (run, total, whole) in [
        (
            &plan.stdout,
            "## Total\n\n4200 to restrict, 0 to expose over 7 accounts.\n",
            "then run `plotward show plans.json --full` for every row.",
        ),
        (
            &check.stdout,
            "## Total\n\n4200 violations in 4200 files over 7 accounts.\n",
            "For everything, keep `plotward check --format json`",
        ),
    ] {
        assert!(run.chars().count() <= cap, "{} characters", run.len());
        assert!(run.starts_with(total), "{run}");
        let mut at = 0;
        for i in 1..=7 {
            let heading = format!("## Account `user{i}` on `{}`", sandbox.url());
            let found = run[at..].find(&heading).expect("every heading, in order");
            at += found + heading.len();
        }
        // Each cut section says where the whole plan or report is, as one account's cut does.
        assert!(
            run.contains("> Truncated to stay under 65000 characters"),
            "{run}"
        );
        assert!(run.contains(whole), "{run}");
    }
}

/// Every message about a key a policy's `account:` block names points at that block (the
/// policy and the field), never at the flags and variables of a run without one.
#[test]
fn key_errors_of_a_policy_account_point_at_its_account_block() {
    let sandbox = three_accounts();
    let by_env = policy_for("alice");
    let by_file = |file: &str| {
        format!("version: 1\ndefault: private\naccount:\n  user: alice\n  api_key_file: {file}\n")
    };
    let run = |test: Test, expected: &str| {
        test.env("PLOTLY_API_DOMAIN", sandbox.url())
            .args(["plan", "-p", "a.yaml"])
            .stderr_contains(expected)
            .stderr_lacks("--api-key")
            .stderr_lacks("PLOTLY_API_KEY")
            .stderr_lacks("flags beat")
            .status(1);
    };
    let block = "; the user and the key come from the `account:` block of a.yaml (account.user, \
                 and account.api_key_env or account.api_key_file): fix them there";
    // The variable is not set.
    run(
        Test::new().write("a.yaml", &by_env),
        "error: no API key found: a.yaml reads it from the environment variable KEY_ALICE \
         (account.api_key_env), which is not set: set KEY_ALICE, or name the variable that \
         holds the key in the `account:` block of a.yaml",
    );
    // The variable holds something that is not a key.
    run(
        Test::new()
            .write("a.yaml", &by_env)
            .env("KEY_ALICE", "two words"),
        "error: the key read from KEY_ALICE (account.api_key_env in a.yaml) does not look like \
         an API key",
    );
    // The file is missing, empty, or not a file.
    run(
        Test::new().write("a.yaml", &by_file("missing.key")),
        "error: cannot read missing.key (account.api_key_file in a.yaml): ",
    );
    run(
        Test::new()
            .write("a.yaml", &by_file("alice.key"))
            .write("alice.key", "\n"),
        "error: cannot read alice.key (account.api_key_file in a.yaml): the file is empty",
    );
    run(
        Test::new()
            .write("a.yaml", &by_file("./keys"))
            .write("keys/placeholder", ""),
        "error: ./keys (account.api_key_file in a.yaml) is not a regular file",
    );
    // A value with neither `/` nor `.` is what a key pasted in the file's place looks like:
    // never quoted back.
    run(
        Test::new().write("a.yaml", &by_file("Zq8sLx2VbN4mK7pR1tYw")),
        "error: cannot read the file (account.api_key_file in a.yaml): ",
    );
    // The server refuses the key, or says it is another user's.
    run(
        Test::new()
            .write("a.yaml", &by_env)
            .env("KEY_ALICE", "alice-wrong-key"),
        &format!(
            "error: the API key from KEY_ALICE (account.api_key_env in a.yaml) was rejected by {} \
             (401) for the user alice from account.user in a.yaml: check that the key is current \
             and belongs to that user{block}",
            sandbox.url()
        ),
    );
    // A server that says every key is alice's, for a policy of bob.
    let server = crate::hostile::Server::api("127.0.0.1", |_| crate::hostile::Reply::Hang);
    Test::new()
        .write("a.yaml", &policy_for("bob"))
        .env("KEY_BOB", "bob-key")
        .env("PLOTLY_API_DOMAIN", &server.url())
        .args(["plan", "-p", "a.yaml"])
        .stderr_contains(&format!(
            "says the key belongs to alice, but account.user in a.yaml says bob (the key is \
             from KEY_BOB (account.api_key_env in a.yaml)): fix whichever is wrong{block}"
        ))
        .stderr_lacks("flags beat")
        .status(1);
}

/// `export -p teams/a.yaml -p teams/b.yaml --out teams` would write `teams/<user>.yaml`; when
/// that is one of the policies (by name, or a link to it), nothing is sent or written.
#[test]
fn export_and_snapshot_into_a_directory_never_replace_a_policy_given() {
    let sandbox = three_accounts();
    let bob = format!("{}# bob's team keeps this comment\n", policy_for("bob"));
    for (command, dir, bob_path) in [
        ("export", "teams", "teams/bob.yaml"),
        ("export", "out", "b.yaml"),
        ("snapshot", "snaps", "snaps/bob.json"),
    ] {
        let test = Test::new()
            .write("a.yaml", &policy_for("alice"))
            .write(bob_path, &bob)
            .env("PLOTLY_API_DOMAIN", sandbox.url())
            .env("KEY_ALICE", "alice-key")
            .env("KEY_BOB", "bob-key");
        let replaced = if bob_path == "b.yaml" {
            // `out/bob.yaml` is a symlink to the policy `b.yaml`.
            std::fs::create_dir(test.path("out")).unwrap();
            std::os::unix::fs::symlink("../b.yaml", test.path("out/bob.yaml")).unwrap();
            "out/bob.yaml".to_owned()
        } else {
            bob_path.to_owned()
        };
        let run = test
            .args([command, "-p", "a.yaml", "-p", bob_path, "--out", dir])
            .stderr_contains(&format!(
                "--out would replace {replaced}, this {command}'s own input"
            ))
            .status(1);
        assert_eq!(run.read(bob_path), bob, "{command} --out {dir}");
        assert!(!run.path(&format!("{dir}/alice.yaml")).exists());
        assert!(!run.path(&format!("{dir}/alice.json")).exists());
    }
    // One account: the file given is the policy itself.
    for command in ["snapshot", "export"] {
        let run = Test::new()
            .write("b.yaml", &bob)
            .env("PLOTLY_API_DOMAIN", sandbox.url())
            .env("KEY_BOB", "bob-key")
            .args([command, "-p", "b.yaml", "-o", "b.yaml"])
            .stderr_contains(&format!(
                "--out would replace b.yaml, this {command}'s own input"
            ))
            .status(1);
        assert_eq!(run.read("b.yaml"), bob, "{command}");
    }
    assert!(
        Api::new(&sandbox).requests().is_empty(),
        "refused before any request"
    );
}
