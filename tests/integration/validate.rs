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
