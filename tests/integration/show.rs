//! `plotward show PLANFILE`: a saved plan printed as `plan` printed it, in every format, with
//! no credentials and no network; a broken plan refused.

use serde_json::Value;

use crate::gitops::{live, seeded_with, snapshot_of};
use crate::harness::Test;
use crate::plan::{example_copied, example_relative};

const FORMATS: [&str; 4] = ["text", "json", "markdown", "diff"];

/// A policy with a folder restricted for its contents, a rule that decides nothing, a
/// `never_public` glob that matches nothing and a `max_exposures` the plan breaks.
const RICH_POLICY: &str = "version: 1\ndefault: private\nrules:\n  - match: \"reports/chart\"\n    sharing: public\n  - match: \"legacy/**\"\n    sharing: private\n  - match: \"public/**\"\n    sharing: public\nguardrails:\n  never_public: [\"hr/**\"]\n  max_exposures: 1\n";

const RICH_ACCOUNT: &[(&str, &str, &str, &str)] = &[
    ("alice:1", "reports", "fold", "public"),
    ("alice:2", "reports/revenue", "plot", "private"),
    ("alice:3", "reports/chart", "plot", "private"),
    ("alice:4", "reports/q3", "fold", "private"),
    ("alice:5", "reports/q3/deep", "plot", "public"),
    ("alice:6", "public/demo", "plot", "private"),
    ("alice:7", "public/secret-plan", "plot", "secret"),
    ("alice:8", "elsewhere", "plot", "public"),
];

/// The rich account as a snapshot whose listing could not vouch for everything.
fn rich_snapshot() -> String {
    let mut snapshot: Value = serde_json::from_str(&snapshot_of(RICH_ACCOUNT)).unwrap();
    snapshot["listing"] = serde_json::json!({"unplaced": 2, "foreign_skipped": 3});
    snapshot.to_string()
}

/// `plan ARGS --format FORMAT --out plan.json` in `test`, then `show plan.json --format
/// FORMAT` (with the same `extra` flags) in a fresh directory with nothing but the plan: the
/// same stdout, byte for byte.
fn assert_show_repeats_plan(test: impl Fn() -> Test, args: &[&str], plan_status: i32) {
    let extra = ["--artifact-url", "https://ci.example.com/jobs/7/artifacts"];
    for format in FORMATS {
        let planned = test()
            .args(args)
            .args(["--format", format, "--out", "plan.json"])
            .args(extra)
            .status(plan_status);
        let shown = Test::new()
            .write("plan.json", &planned.read("plan.json"))
            .args(["show", "plan.json", "--format", format])
            .args(extra)
            .status(0);
        assert_eq!(shown.stdout, planned.stdout, "--format {format}");
        assert_eq!(shown.stderr, "", "--format {format}");
    }
}

#[test]
fn show_prints_the_example_plan_as_plan_did_in_every_format() {
    assert_show_repeats_plan(
        example_copied,
        &example_relative(&[])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        0,
    );
}

#[test]
fn show_prints_folders_guardrails_dead_rules_and_coverage_as_plan_did() {
    let test = || {
        Test::new()
            .policy(RICH_POLICY)
            .write("snap.json", &rich_snapshot())
    };
    // The plan breaks guardrails, so plan exits 1; it is still printed and saved.
    assert_show_repeats_plan(test, &["plan", "--snapshot", "snap.json"], 1);
    let run = test()
        .args(["plan", "--snapshot", "snap.json", "--out", "plan.json"])
        .stdout_contains("Restricting folder reports/ to private")
        .stdout_contains("Rule 2 \"legacy/**\" (line 6) decided no file")
        .stdout_contains("2 listed files could not be placed")
        .stdout_contains("Guardrails broken; apply refuses this plan:")
        .stdout_contains("guardrails.never_public \"hr/**\"")
        .stdout_contains("public now through folder reports/")
        .stdout_contains("required by reports/q3/deep (private, default)")
        .status(1);
    assert!(run.read("plan.json").contains("\"through\""));
}

/// A plan of the live account, shown with an empty HOME and no PLOTLY_* variables: `show`
/// needs no credentials and opens no connection.
#[test]
fn show_needs_no_credentials_or_network() {
    let sandbox = seeded_with(RICH_ACCOUNT, plotward_sandbox::Options::default());
    let planned = live(&sandbox)
        .policy(RICH_POLICY)
        .args(["plan", "--out", "plan.json"])
        .status(1);
    let url = sandbox.url().to_string();
    drop(sandbox);
    Test::new()
        .write("plan.json", &planned.read("plan.json"))
        .args(["show", "plan.json"])
        .stdout(&planned.stdout)
        .stdout_contains(&format!("Account: alice at {url}"))
        .stdout_lacks("alice-key")
        .status(0);
}

#[test]
fn a_broken_or_missing_plan_is_refused_with_exit_1() {
    let saved = example_copied()
        .args(example_relative(&["--out", "plan.json"]))
        .status(0)
        .read("plan.json");
    let miscounted = saved.replacen("\"restrict\": 11", "\"restrict\": 3", 1);
    let future = saved.replacen("\"format_version\": 1", "\"format_version\": 9", 1);
    for (text, message) in [
        ("{", "plan.json is not a plotward plan"),
        ("[]", "plan.json is not a plotward plan"),
        (miscounted.as_str(), "plan.json"),
        (future.as_str(), "has format_version 9"),
    ] {
        Test::new()
            .write("plan.json", text)
            .args(["show", "plan.json"])
            .stderr_contains(message)
            .status(1);
    }
    Test::new()
        .args(["show", "missing.json"])
        .stderr_contains("cannot read the plan missing.json")
        .status(1);
}

/// The diff manifest is a real patch: `patch` applies it to the current manifest of the
/// changed files and gets the desired one.
#[test]
fn the_diff_format_applies_with_patch() {
    let run = example_copied()
        .args(example_relative(&["--format", "diff"]))
        .status(0);
    let body: Vec<&str> = run
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("@@"))
        .skip(1)
        .collect();
    let side = |mark: char| -> String {
        body.iter()
            .filter_map(|l| l.strip_prefix(mark))
            .flat_map(|l| [l, "\n"])
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("current"), side('-')).unwrap();
    std::fs::write(dir.path().join("plan.diff"), &run.stdout).unwrap();
    let patched = std::process::Command::new("patch")
        .current_dir(dir.path())
        .args(["-o", "desired", "current", "plan.diff"])
        .output()
        .expect("patch is installed");
    assert!(patched.status.success(), "{patched:?}");
    let desired = std::fs::read_to_string(dir.path().join("desired")).unwrap();
    assert_eq!(desired, side('+'));
    // Each path's `-` line is followed by its own `+` line.
    for pair in body.chunks(2) {
        let path = |l: &str| l[1..].split("  ").next().map(str::to_owned);
        assert_eq!(path(pair[0]), path(pair[1]), "{pair:?}");
    }
}

/// `--artifact-url` goes into a public comment as a link: a URL with a password, or one that
/// could end the link early, is refused before anything is read.
#[test]
fn an_artifact_url_with_credentials_or_markup_is_refused() {
    for url in [
        "https://user:hunter2@ci.example.com/artifacts",
        "javascript:alert(1)",
        "https://ci.example.com/a>b",
        "https://ci.example.com/a b",
        "https://",
    ] {
        Test::new()
            .args(["show", "plan.json", "--artifact-url", url])
            .stderr_contains("--artifact-url must be an http:// or https:// URL")
            .stderr_lacks("hunter2")
            .status(1);
    }
    Test::new()
        .env("PLOTWARD_ARTIFACT_URL", "https://user:pw@ci.example.com/x")
        .args(["show", "plan.json"])
        .stderr_contains("--artifact-url must be")
        .status(1);
}

#[test]
fn a_saved_plan_with_a_field_plotward_does_not_know_is_refused() {
    let planned = Test::new()
        .policy("version: 1\ndefault: private\n")
        .write(
            "s.json",
            &crate::gitops::snapshot_of(&[("alice:1", "a", "plot", "public")]),
        )
        .args(["plan", "--snapshot", "s.json", "--out", "plan.json"])
        .status(0);
    let plan: serde_json::Value = serde_json::from_str(&planned.read("plan.json")).unwrap();
    // Every object of the file, nested ones included (the red team found five that took
    // any field).
    let edits: [fn(&mut serde_json::Value); 8] = [
        |plan| plan["extra"] = serde_json::json!(1),
        |plan| plan["changes"][0]["extra"] = serde_json::json!(1),
        |plan| plan["summary"]["extra"] = serde_json::json!(1),
        |plan| plan["changes"][0]["observed"]["extra"] = serde_json::json!(1),
        |plan| plan["changes"][0]["rule"]["extra"] = serde_json::json!(1),
        |plan| plan["source"]["extra"] = serde_json::json!(1),
        |plan| plan["listing"] = serde_json::json!({ "extra": 1 }),
        |plan| {
            plan["listing"] =
                serde_json::json!({ "unproven": { "counted": 2, "listed": 1, "extra": 1 } });
        },
    ];
    for edit in edits {
        let mut edited = plan.clone();
        edit(&mut edited);
        Test::new()
            .write("plan.json", &edited.to_string())
            .args(["show", "plan.json"])
            .stderr_contains("unknown field `extra`")
            .stdout("")
            .status(1);
    }
}
