use crate::harness::{Test, repo};

#[test]
fn every_shipped_policy_is_valid() {
    let mut checked = 0;
    for entry in std::fs::read_dir(repo("policies")).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".test.yaml") {
            continue; // policy tests, run in gitops.rs
        }
        Test::new()
            .args(["validate", "-p", path.to_str().unwrap()])
            .stdout_contains(": valid, ")
            .status(0);
        checked += 1;
    }
    assert!(
        checked >= 3,
        "expected the example policies, found {checked}"
    );
}

#[test]
fn valid_policy_prints_a_one_line_summary() {
    Test::new()
        .policy(
            "
            version: 1
            rules:
              - match: a/**
                sharing: public
            ",
        )
        .args(["validate"])
        .stdout("plotward.yaml: valid, 1 rule\n")
        .stderr("")
        .status(0);
}

#[test]
fn three_mistakes_are_reported_together_with_carets() {
    Test::new()
        .policy(
            "
            version: 1
            default: privat
            rules:
              - match: \"finance/[\"
                sharing: private
              - match: \"reports/**\"
                sharing: secret
                filetype: [plot]
            ",
        )
        .args(["validate"])
        .stdout("")
        .stderr(
            "
            error: unknown sharing level `privat` in `default`; expected public, private, secret or ignore
             --> plotward.yaml:2:10
              |
            2 | default: privat
              |          ^^^^^^ did you mean `private`?

            error: invalid glob `finance/[`: unclosed character class; missing ']'
             --> plotward.yaml:4:12
              |
            4 |   - match: \"finance/[\"
              |            ^^^^^^^^^^^

            error: unknown key `filetype` in rule; expected `match`, `sharing`, `filetypes`
             --> plotward.yaml:8:5
              |
            8 |     filetype: [plot]
              |     ^^^^^^^^ did you mean `filetypes`?

            plotward.yaml: invalid, 3 errors
            ",
        )
        .status(1);
}

#[test]
fn yaml_syntax_errors_are_located() {
    let run = Test::new()
        .write(
            "p.yaml",
            "version: 1\nrules:\n  - match: [a, b\n    sharing: public\n",
        )
        .args(["validate", "-p", "p.yaml"])
        .stderr_contains(" --> p.yaml:4:")
        .status(1);
    assert!(
        run.stderr.starts_with("error: invalid YAML: "),
        "{}",
        run.stderr
    );
}

#[test]
fn a_missing_policy_file_is_a_clear_error() {
    let run = Test::new().args(["validate"]).status(1);
    assert!(
        run.stderr
            .starts_with("error: no policy file plotward.yaml ("),
        "{}",
        run.stderr
    );
}

#[test]
fn diagnostics_have_no_colour_when_not_a_terminal() {
    Test::new()
        .policy("version: 3\n")
        .args(["validate"])
        .stderr_lacks("\u{1b}")
        .stderr_contains("unsupported policy version 3")
        .status(1);
}

#[test]
fn byte_wise_wildcards_beside_non_ascii_text_are_warned_about() {
    let run = Test::new()
        .policy("version: 1\ndefault: private\nrules:\n  - match: \"caf?/[é]x\"\n    sharing: public\n  - match: \"plain/?\"\n    sharing: secret\n")
        .args(["validate"])
        .status(0);
    assert_eq!(run.stdout, "plotward.yaml: valid, 2 rules\n");
    assert_eq!(
        run.stderr,
        "warning: plotward.yaml:4:12: `caf?/[é]x` uses `?` or `[...]` beside non-ASCII text; they match one byte, not one character (`é` is two bytes). Write such characters literally, or use `*`\n"
    );
}

#[test]
fn inputs_past_their_documented_limits_are_clear_errors() {
    let huge = format!("version: 1\n# {}\n", "x".repeat(32 * 1024 * 1024));
    let run = Test::new().policy(&huge).args(["validate"]).status(1);
    assert_eq!(
        run.stderr,
        "error: cannot read policy plotward.yaml: it is larger than 32 MiB (plotward reads at most that much)\n"
    );
    let long_glob = format!(
        "version: 1\nrules:\n  - match: \"{}\"\n    sharing: private\n",
        "a".repeat(8_300)
    );
    Test::new()
        .policy(&long_glob)
        .args(["validate"])
        .stderr_contains(
            "pattern is longer than 8200 characters; split it, or match a folder with `**`",
        )
        .status(1);
}

/// A file name is outside text too: a policy, snapshot or output path with control characters
/// is shown escaped in every message that names it, never as raw bytes a terminal obeys.
#[test]
fn names_from_the_command_line_are_shown_escaped() {
    let policy = "version: 1\ndefault: private\n";
    let odd = "evil\u{1b}[2Jname.yaml";
    Test::new()
        .write(odd, policy)
        .args(["validate", "-p", odd])
        .stdout_contains("name.yaml: valid, 0 rules")
        .stdout_lacks("\u{1b}")
        .status(0);
    let broken = "evil\u{1b}[2Jbroken.yaml";
    Test::new()
        .write(broken, "version: 1\ndefault: privat\n")
        .args(["validate", "-p", broken])
        .stderr_contains("broken.yaml: invalid, 1 error")
        .stderr_lacks("\u{1b}")
        .status(1);
    let snapshot = r#"{"format_version": 1, "files": []}"#;
    let out = "evil\u{1b}[2Jexport.yaml";
    Test::new()
        .write("plotward.yaml", policy)
        .write("s.json", snapshot)
        .args(["export", "--snapshot", "s.json", "--out", out])
        .stderr_contains("export.yaml with")
        .stderr_lacks("\u{1b}")
        .status(0);
}

/// A FIFO, a device or a directory given as a policy, a saved plan, a snapshot, a policy
/// test or an existing policy to diff is refused at once: opening a FIFO waits for a writer,
/// and every command hung on one.
#[test]
fn inputs_that_are_not_regular_files_are_refused_at_once() {
    let commands: [&[&str]; 7] = [
        &["validate", "-p", "fifo"],
        &["plan", "-p", "fifo", "--snapshot", "fifo"],
        &["plan", "--snapshot", "fifo"],
        &["show", "fifo"],
        &["apply", "fifo", "-p", "plotward.yaml"],
        &["test", "fifo"],
        &["export", "--snapshot", "fifo", "--diff", "fifo"],
    ];
    for args in commands {
        let run = Test::new()
            .policy("version: 1\ndefault: private\n")
            .args(args);
        let made = std::process::Command::new("mkfifo")
            .arg(run.path("fifo"))
            .status();
        if !made.is_ok_and(|status| status.success()) {
            return;
        }
        run.stderr_contains("fifo: it is not a regular file (a FIFO, a socket or a device)")
            .status(1);
    }
    Test::new()
        .args(["validate", "-p", "/dev/null"])
        .stderr_contains("/dev/null: it is under /dev or /proc")
        .status(1);
    Test::new()
        .args(["validate", "-p", "."])
        .stderr_contains("it is a directory")
        .status(1);
}

/// A policy that is really a secrets file (a symlink to `/proc/self/environ`, to Plotly's
/// `.credentials` or to a `.env`), or a key one indentation level off, never has its key
/// quoted back in a diagnostic: CI logs are read by more people than the policy repository.
#[test]
fn a_diagnostic_never_quotes_a_key_from_the_file() {
    let keys = [
        "CREDKEY123abc",
        "TOPLEVELKEY456",
        "DOTENVKEY789",
        "ENVIRONKEY000",
    ];
    let validate = |policy: &str, link_to: Option<&str>, says: &str| {
        let test = Test::new()
            .write(
                "credentials.json",
                "{\n  \"username\": \"alice\",\n  \"api_key\": \"CREDKEY123abc\"\n}\n",
            )
            .write(
                "top.yaml",
                "version: 1\ndefault: private\napi_key: TOPLEVELKEY456\n",
            )
            .write(".env", "PLOTLY_API_KEY=DOTENVKEY789\n")
            .env("PLOTLY_KEY_FINANCE", "ENVIRONKEY000");
        if let Some(target) = link_to {
            std::os::unix::fs::symlink(target, test.path(policy)).unwrap();
        }
        let run = test
            .args(["validate", "-p", policy])
            .stderr_contains(says)
            .status(1);
        for key in keys {
            assert!(!run.stderr.contains(key), "{key} quoted:\n{}", run.stderr);
        }
        run.stderr
    };
    validate(
        "environ.yaml",
        Some("/proc/self/environ"),
        "environ.yaml: it is under /dev or /proc",
    );
    validate("top.yaml", None, "unknown key `api_key` in policy");
    validate("env.yaml", Some(".env"), "env.yaml");
    let credentials = validate(
        "cred.yaml",
        Some("credentials.json"),
        "unknown key `api_key` in policy",
    );
    // Lines without a secret are still quoted, with their caret.
    assert!(
        credentials.contains("\"username\": \"alice\","),
        "{credentials}"
    );
}
