//! `--target GLOB` on `plan`, `apply` and `check`: only matching paths change and show; every
//! output says the run is targeted; a targeted saved plan is never taken for a whole one.

use serde_json::Value;

use crate::api::{Api, example_sandbox};
use crate::gitops::live;
use crate::harness::{Test, repo};
use crate::plan::{example_copied, example_relative};

const NOTE: &str = "Targeted: only paths matching `reports/**`; this is not the whole account.";

#[test]
fn a_targeted_plan_changes_and_shows_only_its_paths_and_says_so_in_every_format() {
    let text = example_copied()
        .args(example_relative(&[
            "--target",
            "reports/**",
            "--out",
            "plan.json",
        ]))
        .stdout_contains(&format!("Policy: policies/example.yaml\n{NOTE}\n"))
        .stdout_lacks("finance/")
        .stdout_contains("  - reports/q2/churn")
        .status(0);
    assert!(
        text.stdout
            .ends_with("Plan: 3 to restrict, 2 to expose, 11 unchanged, 4 ignored. Targeted: not the whole account.\n"),
        "{}",
        text.stdout
    );
    let saved: Value = serde_json::from_str(&text.read("plan.json")).unwrap();
    assert_eq!(saved["format_version"], 2, "a version-1 reader refuses it");
    assert_eq!(saved["targets"], serde_json::json!(["reports/**"]));
    assert!(
        saved["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["path"].as_str().unwrap().starts_with("reports/"))
    );
    for (format, line) in [
        (
            "markdown",
            "> Targeted: only paths matching `reports/**`; this is not the whole account."
                .to_owned(),
        ),
        ("diff", format!("# {NOTE}")),
    ] {
        example_copied()
            .args(example_relative(&[
                "--target",
                "reports/**",
                "--format",
                format,
            ]))
            .stdout_contains(&line)
            .status(0);
    }
    // `show` of the saved plan says so too.
    Test::new()
        .write("plan.json", &text.read("plan.json"))
        .args(["show", "plan.json"])
        .stdout(&text.stdout)
        .stdout_contains(NOTE)
        .status(0);
}

#[test]
fn a_target_is_checked_as_a_policy_pattern() {
    for (glob, message) in [
        (
            "/reports/**",
            "--target: pattern `/reports/**` starts with `/`",
        ),
        ("reports/", "--target: pattern `reports/` ends with `/`"),
        ("reports/[", "--target: invalid glob `reports/[`"),
    ] {
        for command in ["plan", "check"] {
            example_copied()
                .args([
                    command,
                    "-p",
                    "policies/example.yaml",
                    "--snapshot",
                    "examples/inventory.json",
                ])
                .args(["--target", glob])
                .stderr_contains(message)
                .status(1);
        }
    }
}

/// A targeted check with nothing wrong vouches for its targets only, in every format.
#[test]
fn a_clean_targeted_check_never_reads_as_a_green_account() {
    let check = |format: &str| {
        example_copied()
            .args([
                "check",
                "-p",
                "policies/example.yaml",
                "--snapshot",
                "examples/inventory.json",
            ])
            .args(["--target", "marketing/brand-survey", "--format", format])
    };
    let text = check("text")
        .stdout_contains("Targeted: only paths matching `marketing/brand-survey`")
        .stdout_lacks("compliant")
        .status(0);
    assert!(
        text.stdout.ends_with(
            "Check: no violations in the targeted paths, 1 files. Targeted: not the whole account.\n"
        ),
        "{}",
        text.stdout
    );
    let json: Value = serde_json::from_str(&check("json").status(0).stdout).unwrap();
    assert_eq!(json["compliant"], false);
    assert_eq!(
        json["targets"],
        serde_json::json!(["marketing/brand-survey"])
    );
    assert_eq!(json["summary"]["violations"], 0);
    check("junit")
        .stdout_contains("<property name=\"whole_account\" value=\"false\"/>")
        .stdout_contains(
            "name=\"the whole account was checked\">\n      <skipped message=\"Targeted:",
        )
        .status(0);
    check("markdown")
        .stdout_contains("**Check: no violations in the targeted paths")
        .stdout_contains("> Targeted: only paths matching")
        .status(0);
    // Violations inside the targets are still found, and exit 2.
    example_copied()
        .args([
            "check",
            "-p",
            "policies/example.yaml",
            "--snapshot",
            "examples/inventory.json",
        ])
        .args(["--target", "finance/**"])
        .stdout_contains("finance/payroll")
        .stdout_lacks("reports/")
        .status(2);
}

fn policy() -> String {
    repo("policies/example.yaml").display().to_string()
}

/// A targeted saved plan applies only its changes, re-planned with its own targets; a
/// different `--target` is refused before anything is written.
#[test]
fn apply_of_a_targeted_plan_writes_only_its_paths() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let planned = live(&sandbox)
        .args([
            "plan",
            "-p",
            &policy(),
            "--target",
            "reports/**",
            "--out",
            "plan.json",
        ])
        .status(0);
    let saved = planned.read("plan.json");
    live(&sandbox)
        .write("plan.json", &saved)
        .args([
            "apply",
            "-p",
            &policy(),
            "plan.json",
            "--target",
            "finance/**",
        ])
        .stderr_contains("was made for --target `reports/**`, not --target `finance/**`")
        .status(1);
    assert!(
        api.requests().iter().all(|(m, _, _)| m == "GET"),
        "nothing written"
    );
    live(&sandbox)
        .write("plan.json", &saved)
        .args([
            "apply",
            "-p",
            &policy(),
            "plan.json",
            "--target",
            "reports/**",
        ])
        .stdout_contains(&format!("{NOTE}\n"))
        .stdout_contains("Apply complete: 3 restricted, 2 exposed, 0 failed.")
        .status(0);
    let written: Vec<String> = api
        .requests()
        .into_iter()
        .filter(|(m, _, _)| m == "PATCH")
        .map(|(_, path, _)| path)
        .collect();
    assert_eq!(written.len(), 5, "{written:?}");
    // The rest of the account still waits.
    let whole = live(&sandbox).args(["plan", "-p", &policy()]).status(0);
    assert!(
        whole
            .stdout
            .ends_with("Plan: 8 to restrict, 6 to expose, 31 unchanged, 39 ignored.\n"),
        "{}",
        whole.stdout
    );
    live(&sandbox)
        .args([
            "plan",
            "-p",
            &policy(),
            "--target",
            "reports/**",
            "--detailed-exitcode",
        ])
        .stdout_contains("No changes.")
        .status(0);
}

/// A target that matches no file (a typo, `--target ''` from an unset CI variable) would limit
/// the run to nothing and report the account clean: it is refused, exit 1, in plan, check and
/// apply, naming the glob.
#[test]
fn a_target_that_matches_nothing_is_refused() {
    for command in ["plan", "check"] {
        let offline = [
            command,
            "-p",
            "policies/example.yaml",
            "--snapshot",
            "examples/inventory.json",
        ];
        example_copied()
            .args(offline)
            .args(["--target", "finanse/**", "--target", "reports/**"])
            .stderr_contains("--target `finanse/**` matches no file of the account")
            .stdout_lacks("Plan:")
            .status(1);
        example_copied()
            .args(offline)
            .args(["--target", " "])
            .stderr_contains("a target must name some path")
            .status(1);
    }
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    live(&sandbox)
        .args([
            "apply",
            "-p",
            &policy(),
            "--auto-approve",
            "--target",
            "nothing/**",
        ])
        .stderr_contains("--target `nothing/**` matches no file")
        .status(1);
    assert!(
        api.requests().iter().all(|(method, _, _)| method == "GET"),
        "nothing written"
    );
}
