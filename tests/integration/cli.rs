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
            .stdout_contains("Expose 1 file by the default:\n  + x  plot  a:1  private -> public\n")
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

/// Completion scripts come from the same definition as `--help`: every subcommand and its
/// flags are offered, and the bash script is valid bash.
#[test]
fn completions_offer_every_command_and_bash_accepts_the_script() {
    for (shell, marker) in [
        ("bash", "_plotward()"),
        ("zsh", "#compdef plotward"),
        ("fish", "complete -c plotward"),
        ("elvish", "edit:completion:arg-completer[plotward]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let run = Test::new()
            .args(["completions", shell])
            .stdout_contains(marker)
            .stdout_contains("detailed-exitcode")
            .stdout_contains("auto-approve")
            .status(0);
        for command in [
            "validate", "explain", "plan", "apply", "check", "export", "sandbox",
        ] {
            assert!(run.stdout.contains(command), "{shell} lacks {command}");
        }
        if shell == "bash" {
            let script = run.path("plotward.bash");
            std::fs::write(&script, &run.stdout).unwrap();
            let syntax = std::process::Command::new("bash")
                .arg("-n")
                .arg(&script)
                .output()
                .expect("run bash -n");
            assert!(
                syntax.status.success(),
                "{}",
                String::from_utf8_lossy(&syntax.stderr)
            );
        }
    }
    Test::new()
        .args(["completions", "tcsh"])
        .stderr_contains("invalid value 'tcsh'")
        .status(1);
}

/// The man page is roff that `man` renders, with a section per subcommand and every flag.
#[test]
fn the_man_page_renders_with_every_command_and_flag() {
    let run = Test::new()
        .args(["man"])
        .stdout_contains(".TH plotward 1")
        .stdout_contains(".TH plotward-plan 1")
        .stdout_contains("\\-\\-detailed\\-exitcode")
        .stdout_contains("\\-\\-no\\-folder\\-cascade")
        .status(0);
    let page = run.path("plotward.1");
    std::fs::write(&page, &run.stdout).unwrap();
    // Rendering needs man-db and groff, which a minimal system may lack: the roff above is
    // checked regardless.
    if std::process::Command::new("man")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("man is not installed: the page's rendering is not checked");
        return;
    }
    let rendered = std::process::Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .expect("run man -l");
    assert!(rendered.status.success(), "{rendered:?}");
    let text = String::from_utf8_lossy(&rendered.stdout);
    for expected in [
        "SUBCOMMANDS",
        "plotward-apply",
        "--detailed-exitcode",
        "--auto-approve",
        "--share-key-timeout",
        "--no-folder-cascade",
    ] {
        assert!(
            text.contains(expected),
            "the rendered page lacks {expected}:\n{text}"
        );
    }
}

/// A snapshot with one private plot, `x`, for the environment tests.
const ONE_PRIVATE: &str = r#"{"format_version":1,"files":[{"fid":"a:1","path":"x","filetype":"plot","world_readable":false,"share_key_enabled":false}]}"#;

/// Flags read their environment variables, the command line wins over them, and `--help` names
/// each one.
#[test]
fn flags_read_their_environment_variables_and_the_command_line_wins() {
    let test = || {
        Test::new()
            .write("other.yaml", "version: 1\ndefault: public\n")
            .write("s.json", ONE_PRIVATE)
    };
    // Markdown from PLOTWARD_PLAN_FORMAT; the policy and the snapshot never from the
    // environment (what is judged is on the command line).
    test()
        .args(["plan", "-p", "other.yaml", "--snapshot", "s.json"])
        .env("PLOTWARD_POLICY", "ignored.yaml")
        .env("PLOTWARD_SNAPSHOT", "ignored.json")
        .env("PLOTWARD_PLAN_FORMAT", "markdown")
        .stdout_contains("| `x` |")
        .status(0);
    // What a gate judges is never taken from the environment. PLOTWARD_POLICY names a policy
    // under which `x` complies; check still judges by plotward.yaml (which wants it public):
    // exit 2. PLOTWARD_SNAPSHOT and PLOTWARD_TARGET: check goes to the live account (none
    // configured: exit 1), never to the snapshot, whose check would pass.
    test()
        .policy("version: 1\ndefault: public\n")
        .write("lenient.yaml", "version: 1\ndefault: private\n")
        .args(["check", "--snapshot", "s.json"])
        .env("PLOTWARD_POLICY", "lenient.yaml")
        .stdout_contains("Policy: plotward.yaml")
        .status(2);
    test()
        .args(["check", "-p", "other.yaml"])
        .env("PLOTWARD_SNAPSHOT", "s.json")
        .env("PLOTWARD_TARGET", "nothing/**")
        .stderr_contains("no API URL configured")
        .status(1);
    // The flag beats the variable.
    test()
        .args([
            "plan",
            "-p",
            "other.yaml",
            "--format",
            "json",
            "--snapshot",
            "s.json",
        ])
        .env("PLOTWARD_PLAN_FORMAT", "markdown")
        .stdout_contains("\"format_version\"")
        .stdout_lacks("| `x` |")
        .status(0);
    // A boolean variable takes the usual words; changes pending exit 2.
    test()
        .args(["plan", "-p", "other.yaml", "--snapshot", "s.json"])
        .env("PLOTWARD_DETAILED_EXITCODE", "yes")
        .status(2);
    test()
        .args(["plan", "-p", "other.yaml", "--snapshot", "s.json"])
        .env("PLOTWARD_DETAILED_EXITCODE", "0")
        .status(0);
    Test::new()
        .args(["plan", "--help"])
        .stdout_contains("[env: PLOTWARD_PARALLELISM=]")
        .stdout_contains("[env: PLOTLY_API_DOMAIN=]")
        .stdout_contains("[env: PLOTWARD_PLAN_FORMAT=]")
        .status(0);
    Test::new()
        .args(["apply", "--help"])
        .stdout_contains("--auto-approve\n")
        .stdout_contains("No environment variable")
        .stdout_lacks("PLOTWARD_AUTO_APPROVE")
        .stdout_lacks("PLOTWARD_FORCE")
        .status(0);
}

/// A variable whose value its flag does not take is an error naming the variable (not only the
/// flag, which the user never typed), exit 1 like every usage error, never 2 ("changes").
#[test]
fn an_environment_value_that_does_not_parse_names_its_variable_and_exits_1() {
    for (var, value, says) in [
        (
            "PLOTWARD_PARALLELISM",
            "many",
            "invalid digit found in string",
        ),
        ("PLOTWARD_PARALLELISM", "0", "0 is not in 1..=256"),
        (
            "PLOTWARD_PLAN_FORMAT",
            "junit",
            "expected one of text, json, markdown, diff",
        ),
        (
            "PLOTWARD_DETAILED_EXITCODE",
            "maybe",
            "value was not a boolean",
        ),
        ("PLOTWARD_NO_COLOR", "\u{1b}[31m", "value was not a boolean"),
    ] {
        let run = Test::new()
            .write("s.json", ONE_PRIVATE)
            .policy("version: 1\ndefault: public\n")
            .args(["plan", "--snapshot", "s.json"])
            .env(var, value)
            .stderr_contains(&format!("error: {var}="))
            .stderr_contains(says)
            .stderr_lacks("\u{1b}")
            .stdout("")
            .status(1);
        let flag = if var == "PLOTWARD_PLAN_FORMAT" {
            "--format"
        } else {
            ""
        };
        assert!(run.stderr.contains(flag), "{}", run.stderr);
    }
    // PLOTWARD_CHECK_FORMAT=junit is check's business: plan does not read it.
    Test::new()
        .write("s.json", ONE_PRIVATE)
        .policy("version: 1\ndefault: public\n")
        .args(["plan", "--snapshot", "s.json"])
        .env("PLOTWARD_CHECK_FORMAT", "junit")
        .stdout_contains("Plan: ")
        .status(0);
    // A bad value given as a flag is clap's usage error, as before: exit 1.
    Test::new()
        .args(["plan", "--parallelism", "many"])
        .env("PLOTWARD_PARALLELISM", "many")
        .stderr_contains("invalid value 'many' for '--parallelism <N>'")
        .stderr_lacks("PLOTWARD_PARALLELISM=")
        .status(1);
}

/// A variable set to nothing (a CI template that expanded to nothing) counts as unset, as
/// Plotly's own variables always did.
#[test]
fn an_empty_environment_variable_counts_as_unset() {
    Test::new()
        .write("s.json", ONE_PRIVATE)
        .policy("version: 1\ndefault: public\n")
        .args(["plan", "--snapshot", "s.json"])
        .env("PLOTWARD_PARALLELISM", "")
        .env("PLOTWARD_PLAN_FORMAT", " ")
        .stdout_contains("Plan: ")
        .status(0);
}

/// A usage error quotes what was typed inertly: a bidirectional override in an argument is
/// shown as an escape, never obeyed; and it exits 1 like every usage error.
#[test]
fn a_usage_error_shows_what_was_typed_inertly() {
    let run = Test::new()
        .args(["plan", "--bogus\u{202e}x"])
        .stderr_contains("--bogus\\u{202e}x")
        .status(1);
    assert!(!run.stderr.contains('\u{202e}'), "{:?}", run.stderr);
}
