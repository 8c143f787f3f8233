use crate::harness::Test;

#[test]
fn usage_errors_exit_1() {
    Test::new()
        .args(["plan", "--bogus"])
        .stderr_contains("unexpected argument '--bogus'")
        .status(1);
    Test::new().args(["frobnicate"]).status(1);
    Test::new().status(1);
}

#[test]
fn help_and_version_exit_0_and_help_lists_exit_codes() {
    Test::new()
        .args(["--help"])
        .stdout_contains("Exit codes:")
        .stdout_contains("2  changes pending")
        .status(0);
    let run = Test::new().args(["--version"]).status(0);
    assert_eq!(
        run.stdout,
        format!("plotward {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn plan_without_a_snapshot_needs_a_server() {
    let run = Test::new().policy("version: 1\n").args(["plan"]).status(1);
    assert!(
        run.stderr
            .starts_with("error: no API URL configured. The Chart Studio cloud closed"),
        "{}",
        run.stderr
    );
}

#[test]
fn no_color_and_pipes_give_plain_text() {
    let policy = "version: 1\ndefault: public\n";
    let snapshot = r#"{"format_version":1,"files":[{"fid":"a:1","path":"x","filetype":"plot","world_readable":false,"share_key_enabled":false}]}"#;
    for args in [
        vec!["plan", "--snapshot", "s.json"],
        vec!["--no-color", "plan", "--snapshot", "s.json"],
    ] {
        Test::new()
            .policy(policy)
            .write("s.json", snapshot)
            .env("NO_COLOR", "1")
            .args(args)
            .stdout_lacks("\u{1b}")
            .stdout_contains("x  plot  a:1  private -> public   default")
            .status(0);
    }
}

/// The sandbox's `--user` must be something plotward itself would accept as a username, with a
/// key the banner can print as a shell `export`.
#[test]
fn sandbox_users_must_be_usable_names_and_keys() {
    for spec in ["bad name:k", "a/b:k", "alice:a b", "alice:k\u{1b}"] {
        Test::new()
            .args(["sandbox", "--addr", "127.0.0.1:0", "--user", spec])
            .stderr_contains("the name must be a Chart Studio username")
            .stderr_lacks("\u{1b}")
            .status(1);
    }
}
