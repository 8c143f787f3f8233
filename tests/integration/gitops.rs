//! `check`, the reports for pull requests (Markdown, diff, JUnit), guardrails, `export`,
//! `test`, `schema` and the pipeline examples.

use serde::Deserialize;
use serde_json::{Value, json};

use plotward_sandbox::{Options, Seed};

use crate::api::{Api, As, example_sandbox, sandbox_with};
use crate::harness::{Test, repo};

fn example(path: &str) -> String {
    repo(path).display().to_string()
}

pub(crate) fn live(sandbox: &plotward_sandbox::Sandbox) -> Test {
    Test::new()
        .env("PLOTLY_API_DOMAIN", sandbox.url())
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "alice-key")
}

/// Mirror of `check --format json`, denying unknown fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckJson {
    format_version: u32,
    policy: String,
    source: Value,
    compliant: bool,
    summary: CheckSummary,
    violations: Vec<Violation>,
    /// Present only when the listing could not vouch for something.
    pub listing: Option<crate::plan::ListingJson>,
    /// Rules that decided no file.
    pub dead_rules: Vec<crate::plan::DeadRuleJson>,
    /// Patterns that match no file; absent when none.
    #[serde(default)]
    pub dead_patterns: Vec<Value>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct CheckSummary {
    files: usize,
    violations: usize,
    drift: usize,
    never_public: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Violation {
    fid: String,
    path: String,
    filetype: String,
    kind: String,
    now: String,
    wanted: Option<String>,
    rule: Option<Value>,
    /// The folder through which the file is more exposed than its own flags.
    #[serde(default)]
    through: Option<String>,
    message: String,
}

#[test]
fn check_is_read_only_and_exits_2_on_violations_then_0() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let run = live(&sandbox)
        .args(["check", "-p", &example("policies/example.yaml")])
        .stdout_contains("finance/payroll")
        .status(2);
    assert!(run.stdout.ends_with(
        "Check: 22 violations in 45 files (19 drifted, 3 public despite never_public).\n"
    ));
    let methods: Vec<String> = api.requests().into_iter().map(|(m, _, _)| m).collect();
    assert!(
        !methods.is_empty() && methods.iter().all(|m| m == "GET"),
        "{methods:?}"
    );
    live(&sandbox)
        .args([
            "apply",
            "-p",
            &example("policies/example.yaml"),
            "--auto-approve",
        ])
        .status(0);
    live(&sandbox)
        .args(["check", "-p", &example("policies/example.yaml")])
        .stdout_contains("Account: alice at http://127.0.0.1:")
        .stdout_contains("\nCheck: compliant, 45 files.\n")
        .status(0);
}

#[test]
fn check_json_matches_its_schema() {
    let run = Test::new()
        .args([
            "check",
            "-p",
            &example("policies/example.yaml"),
            "--snapshot",
            &example("examples/inventory.json"),
            "--format",
            "json",
        ])
        .status(2);
    let check: CheckJson = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!((check.format_version, check.compliant), (1, false));
    assert!(check.policy.ends_with("example.yaml"));
    assert_eq!(check.source["type"], "snapshot");
    assert_eq!(
        check.summary,
        CheckSummary {
            files: 45,
            violations: 22,
            drift: 19,
            never_public: 3
        }
    );
    // Every folder of the example is private: nothing is exposed through one.
    assert!(check.violations.iter().all(|v| v.through.is_none()));
    let payroll: Vec<&Violation> = check
        .violations
        .iter()
        .filter(|v| v.path == "finance/payroll")
        .collect();
    assert_eq!(payroll.len(), 2);
    assert_eq!(
        (
            payroll[0].kind.as_str(),
            payroll[0].now.as_str(),
            payroll[0].wanted.as_deref()
        ),
        ("drift", "public", Some("private"))
    );
    assert_eq!(
        payroll[0].rule,
        Some(json!({"type": "rule", "index": 1, "pattern": "finance/**", "line": 14}))
    );
    assert_eq!(
        (
            payroll[1].kind.as_str(),
            payroll[1].wanted.as_deref(),
            payroll[1].rule.clone()
        ),
        ("never_public", None, None)
    );
    assert_eq!(
        payroll[1].message,
        "public, but guardrails.never_public forbids it"
    );
    assert!(
        check
            .violations
            .iter()
            .all(|v| v.fid.starts_with("alice:") && v.filetype != "fold")
    );
}

#[test]
fn check_junit_is_valid_xml_with_a_case_per_file_and_a_failure_per_violation() {
    // Relative paths, so the suite name in the pinned output does not depend on the checkout.
    let run = Test::new()
        .copy("policies/example.yaml")
        .copy("examples/inventory.json")
        .args([
            "check",
            "-p",
            "policies/example.yaml",
            "--snapshot",
            "examples/inventory.json",
            "--format",
            "junit",
        ])
        .stdout_matches_fixture("tests/fixtures/example-check.xml")
        .status(2);
    let doc = roxmltree::Document::parse(&run.stdout).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(
        (root.attribute("tests"), root.attribute("failures")),
        (Some("45"), Some("19"))
    );
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 45);
    let failures = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .count();
    assert_eq!(failures, 22);
    let payroll = cases
        .iter()
        .find(|c| c.attribute("name") == Some("finance/payroll"))
        .unwrap();
    assert_eq!(payroll.attribute("classname"), Some("finance"));
    let kinds: Vec<_> = payroll
        .children()
        .filter(|n| n.has_tag_name("failure"))
        .map(|n| n.attribute("type").unwrap())
        .collect();
    assert_eq!(kinds, ["drift", "never_public"]);
}

#[test]
fn markdown_and_diff_reports_are_pinned() {
    use crate::plan::{example_copied, example_relative};
    for (format, fixture) in [
        ("markdown", "tests/fixtures/example-plan.md"),
        ("diff", "tests/fixtures/example-plan.diff"),
    ] {
        example_copied()
            .args(example_relative(&["--format", format]))
            .stdout_matches_fixture(fixture)
            .status(0);
    }
    example_copied()
        .args([
            "check",
            "-p",
            "policies/example.yaml",
            "--snapshot",
            "examples/inventory.json",
            "--format",
            "markdown",
        ])
        .stdout_matches_fixture("tests/fixtures/example-check.md")
        .status(2);
}

#[test]
fn markdown_plans_summarise_every_rule_then_list_restrictions_then_exposures_once() {
    let run = Test::new()
        .args([
            "plan",
            "-p",
            &example("policies/example.yaml"),
            "--snapshot",
            &example("examples/inventory.json"),
            "--format",
            "markdown",
        ])
        .stdout_contains(
            "| `finance/payroll` | grid | `alice:5` | public → private | rule 1 `finance/**` |",
        )
        .stdout_contains("| rule 5 `marketing/**` | 0 | 3 |")
        .stdout_contains("| **All** | **11** | **8** |")
        .stdout_lacks("Truncated")
        .status(0);
    let md = &run.stdout;
    assert!(md.starts_with("**Plan: 11 to restrict, 8 to expose, 26 unchanged, 39 ignored.**\n"));
    assert!(md.contains("\nSnapshot `"), "{md}");
    let summary = md.find("| Decided by |").unwrap();
    let restricts = md.find("**Restricts 11 files**").unwrap();
    let exposes = md.find("**Exposes 8 files**").unwrap();
    assert!(summary < restricts && restricts < exposes, "{md}");
    // Every change is one row, once.
    let rows = md.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(rows, 19, "{md}");
}

#[test]
fn large_markdown_reports_are_truncated_cleanly_under_the_cap() {
    let sandbox = sandbox_with(Seed::Generate(6000), Options::default());
    let run = live(&sandbox)
        .policy("version: 1\ndefault: private\n")
        .args(["plan", "--format", "markdown"])
        .stdout_contains("> Truncated to stay under 65000 characters:")
        .status(0);
    let md = &run.stdout;
    assert!(md.len() <= 65_000, "{} characters", md.len());
    assert!(
        md.len() > 50_000,
        "the cap is used, not wasted: {}",
        md.len()
    );
    assert!(md.starts_with("**Plan: "));
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );
    assert_eq!(md.matches("```").count() % 2, 0, "every fence is closed");
    let last_row = md.lines().rfind(|l| l.starts_with("| `")).unwrap();
    assert!(last_row.ends_with(" |"), "no half row: {last_row}");
}

#[test]
fn guardrails_mark_the_plan_and_block_apply_unless_forced() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let policy = "
        version: 1
        default: public
        rules:
          - match: \"finance/**\"
            sharing: private
        guardrails:
          never_public: \"finance/**\"
          max_changes: 10%
          max_exposures: 3
        ";
    // A broken guardrail exits 1, with or without --detailed-exitcode: never "just changes".
    live(&sandbox)
        .policy(policy)
        .args(["plan"])
        .stderr_contains("error: the plan breaks 2 guardrails of plotward.yaml; apply refuses it")
        .stdout_contains(
            "Guardrails broken; apply refuses this plan:\n  \
         ! 39 changes exceed guardrails.max_changes: 10% of 66 managed files allows 6 (--force overrides)\n  \
         ! 34 exposures exceed guardrails.max_exposures: 3 (--force overrides)\n",
        )
        .status(1);
    live(&sandbox)
        .policy(policy)
        .args(["plan", "--detailed-exitcode"])
        .status(1);
    live(&sandbox)
        .policy(policy)
        .args(["apply", "--auto-approve"])
        .stderr_contains("refusing to apply: the plan breaks the guardrails of plotward.yaml:\n  max_changes: 39 changes exceed guardrails.max_changes")
        .stderr_contains("pass --force to apply it anyway")
        .status(1);
    assert!(
        api.requests().iter().all(|(m, _, _)| m == "GET"),
        "nothing was written"
    );
    let saved = live(&sandbox)
        .policy(policy)
        .args(["plan", "--out", "plan.json"])
        .status(1);
    let plan: Value = serde_json::from_str(&saved.read("plan.json")).unwrap();
    assert_eq!(plan["guardrails"][0]["guardrail"], "max_changes");
    let forced = live(&sandbox)
        .policy(policy)
        .args(["apply", "--auto-approve", "--force"])
        .status(0);
    assert!(
        forced
            .stdout
            .ends_with("Apply complete: 5 restricted, 34 exposed, 0 failed.\n"),
        "{}",
        forced.stdout
    );
}

#[test]
fn a_policy_that_would_publish_a_never_public_path_is_invalid() {
    Test::new()
        .policy(
            "
            version: 1
            rules:
              - match: \"*/payroll\"
                sharing: public
            guardrails:
              never_public: [\"finance/**\"]
            ",
        )
        .args(["validate"])
        .stderr(
            "
            error: rule 1 would make `finance/payroll` (plot) public, but guardrails.never_public lists `finance/**`
             --> plotward.yaml:3:5
              |
            3 |   - match: \"*/payroll\"
              |     ^ `finance/**` is at line 6

            plotward.yaml: invalid, 1 error
            ",
        )
        .status(1);
}

#[test]
fn export_reproduces_the_example_account() {
    let exported = Test::new()
        .args([
            "export",
            "--snapshot",
            &example("examples/inventory.json"),
            "-o",
            "exported.yaml",
        ])
        .status(0);
    assert!(
        exported.stderr.starts_with("wrote exported.yaml with "),
        "{}",
        exported.stderr
    );
    let yaml = exported.read("exported.yaml");
    Test::new()
        .write("exported.yaml", &yaml)
        .args([
            "plan",
            "-p",
            "exported.yaml",
            "--snapshot",
            &example("examples/inventory.json"),
            "--detailed-exitcode",
        ])
        .stdout_contains(
            "\nNo changes. Plan: 0 to restrict, 0 to expose, 66 unchanged, 18 ignored.\n",
        )
        .status(0);
}

#[test]
fn export_of_a_generated_10000_file_account_plans_zero_changes() {
    let sandbox = sandbox_with(Seed::Generate(10_000), Options::default());
    let exported = live(&sandbox)
        .args(["export", "-o", "exported.yaml"])
        .status(0);
    let yaml = exported.read("exported.yaml");
    let rules = yaml.matches("  - match:").count();
    assert!(
        rules < 2_000,
        "{rules} rules for 10,000 files is not a summary"
    );
    let plan = live(&sandbox)
        .write("exported.yaml", &yaml)
        .args(["plan", "-p", "exported.yaml", "--detailed-exitcode"])
        .status(0);
    assert!(
        plan.stdout
            .contains("\nNo changes. Plan: 0 to restrict, 0 to expose, 10000 unchanged, "),
        "{}",
        plan.stdout
    );
    // Export reads through the read-only client.
    assert!(
        Api::new(&sandbox)
            .requests()
            .iter()
            .all(|(m, _, _)| m == "GET")
    );
}

#[test]
fn export_diff_shows_how_an_existing_policy_differs() {
    let run = Test::new()
        .args([
            "export",
            "--snapshot",
            &example("examples/inventory.json"),
            "--diff",
            &example("policies/lockdown.yaml"),
        ])
        .stdout_contains("\n-default: private\n+default: public\n")
        .status(2);
    let lockdown = example("policies/lockdown.yaml");
    assert!(
        run.stdout
            .starts_with(&format!("--- {lockdown}\n+++ exported\n@@ ")),
        "{}",
        run.stdout
    );
    let same = Test::new()
        .args([
            "export",
            "--snapshot",
            &example("examples/inventory.json"),
            "-o",
            "e.yaml",
        ])
        .status(0);
    let yaml = same.read("e.yaml");
    Test::new()
        .write("e.yaml", &yaml)
        .args([
            "export",
            "--snapshot",
            &example("examples/inventory.json"),
            "--diff",
            "e.yaml",
        ])
        .stdout("e.yaml is the same as the exported policy\n")
        .status(0);
}

#[test]
fn policy_tests_pass_fail_and_point_at_lines() {
    Test::new()
        .args(["test", &example("policies/example.test.yaml")])
        .stdout(&format!(
            "{}: 9 cases and 3 assertions passed\n",
            example("policies/example.test.yaml")
        ))
        .status(0);
    Test::new()
        .policy("version: 1\ndefault: public\nrules:\n  - match: \"finance/**\"\n    sharing: private\n    filetypes: [grid]\n")
        .write(
            "plotward.test.yaml",
            "policy: plotward.yaml\ncases:\n  - path: finance/payroll\n    filetype: grid\n    expect: private\n  - path: finance/chart\n    expect: private\nassertions:\n  - under: \"finance/**\"\n    never: public\n",
        )
        .args(["test"])
        .stdout(
            "\
plotward.test.yaml:6:5: case failed: finance/chart (plot) gets public, expected private; decided by the default (plotward.yaml:2)
plotward.test.yaml:9:5: assertion failed: nothing under \"finance/**\" may be public, but finance/x (plot) is; decided by the default (plotward.yaml:2)
plotward.test.yaml: 1 of 2 cases and 0 of 1 assertions passed
",
        )
        .status(1);
    Test::new()
        .args(["test", "missing.yaml"])
        .stderr(
            "error: cannot read test file missing.yaml: No such file or directory (os error 2) \
             (write one: example paths and the level each must have, as the README's `plotward \
             test` section shows; or name another file)\n",
        )
        .status(1);
}

#[test]
fn the_pipeline_examples_parse_and_call_real_commands() {
    for file in ["examples/github-actions.yml", "examples/gitlab-ci.yml"] {
        let text = std::fs::read_to_string(repo(file)).unwrap();
        let doc: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut commands = Vec::new();
        collect_plotward_commands(&doc, &mut commands);
        for needed in [
            "plotward validate -p plotward.yaml",
            "plotward test",
            "plotward plan -p plotward.yaml --format markdown --out plan.json",
            "plotward apply -p plotward.yaml",
            "plotward check -p plotward.yaml --format markdown",
        ] {
            assert!(
                commands.iter().any(|c| c.starts_with(needed)),
                "{file} lacks `{needed}`: {commands:?}"
            );
        }
        for command in &commands {
            // Every subcommand and flag must exist: clap rejects unknown ones before --help.
            let mut args: Vec<&str> = command.split_whitespace().skip(1).collect();
            args.push("--help");
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_plotward"))
                .args(&args)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{file}: `{command}` is not a valid plotward command: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

/// Every `plotward ...` command in the strings of a YAML document, cut at shell operators.
fn collect_plotward_commands(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            for line in text.lines() {
                for part in line.split(['|', ';', '&']) {
                    let part = part.trim();
                    if let Some(rest) = part.strip_prefix("plotward ") {
                        let args: Vec<&str> = rest
                            .split_whitespace()
                            .take_while(|t| !t.starts_with('>') && !t.starts_with('<'))
                            .collect();
                        out.push(format!("plotward {}", args.join(" ")));
                    }
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_plotward_commands(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_plotward_commands(v, out)),
        _ => {}
    }
}

/// Files of alice, `(fid, path, filetype, level)`, as snapshot JSON; the level is `public`,
/// `secret` or `private`. Folders the files are in but the list does not name are added,
/// private (fids from `alice:9000`), as a snapshot lists every folder.
pub(crate) fn snapshot_of(files: &[(&str, &str, &str, &str)]) -> String {
    let named: std::collections::BTreeSet<&str> = files
        .iter()
        .filter(|f| f.2 == "fold")
        .map(|f| f.1)
        .collect();
    let mut missing = std::collections::BTreeSet::new();
    for (_, path, _, _) in files {
        let mut at = *path;
        while let Some((folder, _)) = at.rsplit_once('/') {
            if !named.contains(folder) {
                missing.insert(folder.to_owned());
            }
            at = folder;
        }
    }
    let mut entries: Vec<Value> = files
        .iter()
        .map(|(fid, path, filetype, level)| {
            json!({"fid": fid, "path": path, "filetype": filetype,
                   "world_readable": *level == "public", "share_key_enabled": *level == "secret"})
        })
        .collect();
    entries.extend(missing.iter().enumerate().map(|(i, path)| {
        json!({"fid": format!("alice:{}", 9000 + i), "path": path, "filetype": "fold",
               "world_readable": false, "share_key_enabled": false})
    }));
    json!({"format_version": 1, "files": entries}).to_string()
}

/// A sandbox seeded with these files of alice (see [`snapshot_of`]).
fn seeded(files: &[(&str, &str, &str, &str)]) -> plotward_sandbox::Sandbox {
    seeded_with(files, Options::default())
}

/// A sandbox seeded with these files of alice, with these options.
pub(crate) fn seeded_with(
    files: &[(&str, &str, &str, &str)],
    options: Options,
) -> plotward_sandbox::Sandbox {
    let text = snapshot_of(files);
    let seed = Seed::parse_snapshot(&text, std::path::Path::new("seed.json")).unwrap();
    sandbox_with(seed, options)
}

/// `plotward ARGS --snapshot snap.json` with this policy and snapshot.
fn offline(policy: &str, snapshot: &str, args: &[&str]) -> Test {
    Test::new()
        .policy(policy)
        .write("snap.json", snapshot)
        .args(args)
        .args(["--snapshot", "snap.json"])
}

const FINANCE: &str =
    "version: 1\ndefault: private\nrules:\n  - match: \"finance/**\"\n    sharing: private\n";

#[test]
fn a_saved_plan_applies_only_under_its_own_policy_and_while_nothing_else_changed() {
    let sandbox = seeded(&[
        ("alice:1", "finance", "fold", "private"),
        ("alice:2", "finance/payroll", "plot", "public"),
        ("alice:3", "finance/budget", "plot", "private"),
    ]);
    let api = Api::new(&sandbox);
    let saved = live(&sandbox)
        .policy(FINANCE)
        .args(["plan", "--out", "plan.json"])
        .status(0);
    let plan_text = saved.read("plan.json");
    let plan: Value = serde_json::from_str(&plan_text).unwrap();
    assert_eq!(plan["policy_sha256"].as_str().unwrap().len(), 64);
    let apply_with = |policy: &str, plan: &str| {
        live(&sandbox)
            .policy(policy)
            .write("plan.json", plan)
            .args(["apply", "plan.json"])
    };
    // Another policy, even one comment apart, is refused.
    apply_with(&format!("# reviewed\n{FINANCE}"), &plan_text)
        .stderr_contains("was made from a policy with SHA-256")
        .status(1);
    let mut undigested = plan.clone();
    undigested.as_object_mut().unwrap().remove("policy_sha256");
    apply_with(FINANCE, &undigested.to_string())
        .stderr_contains("records no policy digest")
        .status(1);
    // A file the plan does not mention now needs a change: the plan is stale.
    let made_public = api.json(
        reqwest::Method::PATCH,
        "/v2/files/alice:3",
        crate::api::As::User("alice"),
        &json!({"world_readable": true}),
    );
    assert_eq!(made_public.status, 200);
    apply_with(FINANCE, &plan_text)
        .stderr_contains(
            "finance/budget (alice:3) now needs a change the plan does not include (public -> private)",
        )
        .status(1);
    assert!(
        api.requests()
            .iter()
            .all(|(m, path, _)| m == "GET" || path == "/v2/files/alice:3"),
        "nothing was written by plotward"
    );
}

#[test]
fn never_public_is_absolute_from_validation_to_the_last_write() {
    // `x*y/z` and `*q*/z` overlap only in paths like `xqy/z`: the exact analysis finds it.
    let overlapping = "version: 1\ndefault: private\nrules:\n  - match: \"x*y/z\"\n    sharing: public\nguardrails:\n  never_public: [\"*q*/z\"]\n";
    let sandbox = seeded(&[
        ("alice:1", "xqy", "fold", "private"),
        ("alice:2", "xqy/z", "plot", "private"),
        ("alice:3", "finance", "fold", "private"),
        ("alice:4", "finance/payroll", "plot", "private"),
    ]);
    let api = Api::new(&sandbox);
    for args in [["plan", "--detailed-exitcode"], ["apply", "--auto-approve"]] {
        live(&sandbox)
            .policy(overlapping)
            .args(args)
            .stderr_contains(
                "rule 1 would make `xqy/z` (plot) public, but guardrails.never_public lists `*q*/z`",
            )
            .status(1);
    }
    // A saved plan edited to expose a never_public file, its guardrails emptied: refused,
    // --force or not.
    let guarded = "version: 1\ndefault: private\nguardrails:\n  never_public: [\"finance/**\"]\n";
    let saved = live(&sandbox)
        .policy(guarded)
        .args(["plan", "--out", "plan.json"])
        .status(0);
    let mut plan: Value = serde_json::from_str(&saved.read("plan.json")).unwrap();
    plan["changes"] = json!([{
        "fid": "alice:4", "path": "finance/payroll", "filetype": "plot",
        "action": "expose", "from": "private", "to": "public",
        "observed": {"world_readable": false, "share_key_enabled": false},
        "rule": {"type": "default"}
    }]);
    plan["summary"]["expose"] = json!(1);
    plan["guardrails"] = json!([]);
    live(&sandbox)
        .policy(guarded)
        .write("plan.json", &plan.to_string())
        .args(["apply", "plan.json", "--force"])
        .stderr_contains("finance/payroll (alice:4) is planned private -> public, but the policy no longer changes it")
        .status(1);
    assert!(
        api.requests().iter().all(|(m, _, _)| m == "GET"),
        "nothing was written"
    );
}

#[test]
fn a_typo_that_protects_nothing_is_shown_everywhere_and_fails_strict() {
    let policy = "version: 1\nrules:\n  - match: \"finanse/**\"\n    sharing: private\n";
    let snapshot = snapshot_of(&[
        ("alice:1", "finance", "fold", "private"),
        ("alice:2", "finance/payroll", "grid", "public"),
    ]);
    let test = |args: &[&str]| offline(policy, &snapshot, args);
    let note = "Rule 1 \"finanse/**\" (line 3) decided no file: it protects nothing.";
    let check = test(&["check"]).status(0);
    assert!(
        check.stdout.ends_with(&format!(
            "\n\n{note}\nCheck: compliant, 0 files. 1 rule decided no file.\n"
        )),
        "{}",
        check.stdout
    );
    let json: CheckJson =
        serde_json::from_str(&test(&["check", "--format", "json"]).status(0).stdout).unwrap();
    assert_eq!(json.dead_rules.len(), 1);
    assert_eq!((json.dead_rules[0].index, json.dead_rules[0].line), (1, 3));
    test(&["check", "--format", "markdown"])
        .stdout_contains(note)
        .status(0);
    test(&["check", "--format", "junit"])
        .stdout_contains(&format!(
            "<skipped message=\"{}\"/>",
            note.replace('"', "&quot;")
        ))
        .status(0);
    test(&["plan"]).stdout_contains(note).status(0);
    test(&["plan", "--format", "markdown"])
        .stdout_contains(note)
        .status(0);
    for command in ["check", "plan"] {
        test(&[command, "--strict"])
            .stderr_contains(&format!("error: --strict: {note}"))
            .stderr_contains("error: --strict: the policy manages no file")
            .status(1);
    }
}

#[test]
fn a_mistyped_never_public_glob_or_pattern_is_named_and_fails_strict() {
    let policy = "version: 1\nrules:\n  - match: [\"hr/**\", \"hrr/**\"]\n    sharing: private\nguardrails:\n  never_public: [\"hr/**\", \"hr/salary-bandz\"]\n";
    let snapshot = snapshot_of(&[
        ("alice:1", "hr", "fold", "private"),
        ("alice:2", "hr/salary-bands", "plot", "private"),
    ]);
    let test = |args: &[&str]| offline(policy, &snapshot, args);
    let check = test(&["check"])
        .stdout_contains(
            "Pattern \"hrr/**\" of rule 1 (line 3) matches no file: it protects nothing.",
        )
        .stdout_contains("guardrails.never_public \"hr/salary-bandz\" (line 6) matches no file today: a typo, or a guard ahead of its files.")
        .status(0)
        .stdout;
    assert!(
        check.ends_with("Check: compliant, 1 files. 2 patterns match no file.\n"),
        "{check}"
    );
    let json: CheckJson =
        serde_json::from_str(&test(&["check", "--format", "json"]).status(0).stdout).unwrap();
    assert_eq!(
        json.dead_patterns,
        [
            json!({"rule": 1, "pattern": "hrr/**", "line": 3}),
            json!({"pattern": "hr/salary-bandz", "line": 6})
        ]
    );
    let plan: crate::plan::PlanJson =
        serde_json::from_str(&test(&["plan", "--format", "json"]).status(0).stdout).unwrap();
    assert_eq!(plan.dead_patterns.len(), 2);
    test(&["check", "--format", "junit"])
        .stdout_contains("hr/salary-bandz")
        .status(0);
    test(&["check", "--strict"])
        .stderr_contains("error: --strict: guardrails.never_public")
        .status(1);
}

#[test]
fn a_public_folder_over_never_public_paths_is_refused_and_reported() {
    // A rule that can make the folder public: refused at validation, whatever the files.
    let folder_rule = "version: 1\ndefault: private\nrules:\n  - match: \"finance\"\n    sharing: public\n    filetypes: [fold]\nguardrails:\n  never_public: [\"finance/**\"]\n";
    Test::new()
        .policy(folder_rule)
        .args(["validate"])
        .stderr_contains("rule 1 would make a folder matching `finance` public, and a public folder makes its contents public: `finance/x` would be exposed")
        .status(1);
    // A folder that is public already: check reports it, though the files inside are private.
    let guarded = "version: 1\ndefault: private\nguardrails:\n  never_public: [\"finance/**\"]\n";
    let snapshot = snapshot_of(&[
        ("alice:1", "finance", "fold", "public"),
        ("alice:2", "finance/payroll", "grid", "private"),
    ]);
    offline(guarded, &snapshot, &["check"])
        .stdout_contains("a public folder, so its contents are public, but guardrails.never_public covers paths under it")
        .status(2);
}

#[test]
fn dead_patterns_respect_file_types_and_markdown_escapes_policy_text() {
    // `finance/payroll` matches only a grid, but its rule is for plots: it decides nothing.
    let policy = "version: 1\nrules:\n  - match: [\"finance/**\", \"<img src=x onerror=alert(1)>\"]\n    sharing: private\n  - match: [\"reports/**\", \"finance/payroll\"]\n    sharing: secret\n    filetypes: [plot]\n";
    let snapshot = snapshot_of(&[
        ("alice:1", "finance/payroll", "grid", "private"),
        ("alice:2", "reports/q3", "plot", "secret"),
    ]);
    let check = |format: &str| offline(policy, &snapshot, &["check", "--format", format]);
    let json: CheckJson = serde_json::from_str(&check("json").status(0).stdout).unwrap();
    let dead: Vec<&str> = json
        .dead_patterns
        .iter()
        .map(|p| p["pattern"].as_str().unwrap())
        .collect();
    assert_eq!(dead, ["<img src=x onerror=alert(1)>", "finance/payroll"]);
    check("markdown")
        .stdout_lacks("<img")
        .stdout_contains("&lt;img src=x onerror=alert(1)&gt;")
        .status(0);
}

/// `export --diff` shows lines of an existing policy: control characters in them (and in its
/// name) reach the terminal escaped, never raw.
#[test]
fn export_diff_shows_the_existing_policy_escaped() {
    let existing = "evil\u{1b}[2J.yaml";
    Test::new()
        .write(
            "s.json",
            r#"{"format_version": 1, "files": [
                {"fid": "a:1", "path": "x", "filetype": "plot",
                 "world_readable": false, "share_key_enabled": false}]}"#,
        )
        .write(
            existing,
            "version: 1\n# \u{1b}]0;pwned\u{7} \u{202e}txt.exe\ndefault: public\n",
        )
        .args(["export", "--snapshot", "s.json", "--diff", existing])
        .stdout_contains("--- evil\\e[2J.yaml")
        .stdout_contains("-# \\e]0;pwned\\u{7} \\u{202e}txt.exe")
        .stdout_lacks("\u{1b}")
        .stdout_lacks("\u{202e}")
        .status(2);
}

/// `test --format junit`: one test case per case and assertion, exit codes as the text's, and
/// the same document shape as check's JUnit (the pinned fixture), so one CI report step reads
/// both.
#[test]
fn policy_test_junit_has_a_case_per_example_and_the_shape_of_check_junit() {
    let run = Test::new()
        .copy("policies/example.yaml")
        .copy("policies/example.test.yaml")
        .args(["test", "policies/example.test.yaml", "--format", "junit"])
        .status(0);
    let doc = roxmltree::Document::parse(&run.stdout).expect("well-formed XML");
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 9 + 3, "9 cases and 3 assertions");
    assert!(cases.iter().all(|c| c.attribute("line").is_some()));
    assert_eq!(
        cases[0].attribute("name"),
        Some("finance/payroll is private")
    );
    // The shape: element paths and the attributes of each, as in check's report.
    let check = std::fs::read_to_string(repo("tests/fixtures/example-check.xml")).unwrap();
    let check = roxmltree::Document::parse(&check).unwrap();
    let shape = |doc: &roxmltree::Document, tag: &str| {
        let node = doc.descendants().find(|n| n.has_tag_name(tag)).unwrap();
        let parent = node
            .parent_element()
            .map(|p| p.tag_name().name().to_owned());
        let mut names: Vec<_> = node.attributes().map(|a| a.name().to_owned()).collect();
        names.retain(|n| n != "file" && n != "line");
        names.sort();
        (parent, names)
    };
    for tag in ["testsuites", "testsuite", "testcase"] {
        assert_eq!(shape(&doc, tag), shape(&check, tag), "<{tag}>");
    }

    // A failing test file: the failure carries the message and the line, exit 1.
    let run = Test::new()
        .policy("version: 1\ndefault: public\n")
        .write(
            "plotward.test.yaml",
            "policy: plotward.yaml\ncases:\n  - path: finance/chart\n    expect: private\n",
        )
        .args(["test", "--format", "junit"])
        .status(1);
    let doc = roxmltree::Document::parse(&run.stdout).expect("well-formed XML");
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert_eq!(failure.attribute("type"), Some("case"));
    assert!(
        failure
            .text()
            .unwrap()
            .starts_with("plotward.test.yaml:3:5: case failed: finance/chart (plot) gets public"),
        "{:?}",
        failure.text()
    );
    // Its variable is test's own.
    Test::new()
        .copy("policies/example.yaml")
        .copy("policies/example.test.yaml")
        .args(["test", "policies/example.test.yaml"])
        .env("PLOTWARD_TEST_FORMAT", "junit")
        .stdout_contains("<testsuites name=\"plotward test\"")
        .status(0);
}

/// `apply -p POLICY PLANFILE` uses `-p` (issue 13): a missing file is an error naming it and
/// nothing is sent; a policy with another digest is refused naming it; the planned policy under
/// another name is accepted although the default `plotward.yaml` differs; without `-p` the
/// default is the policy checked (and `PLOTWARD_POLICY` does not stand in for `-p`: what is
/// judged is on the command line).
#[test]
fn apply_uses_the_policy_given_with_p_for_a_saved_plan() {
    let sandbox = seeded(&[
        ("alice:1", "finance", "fold", "private"),
        ("alice:2", "finance/payroll", "plot", "public"),
    ]);
    let api = Api::new(&sandbox);
    let plan_text = live(&sandbox)
        .write("reviewed.yaml", FINANCE)
        .args(["plan", "-p", "reviewed.yaml", "--out", "plan.json"])
        .status(0)
        .read("plan.json");
    let other = format!("# another policy\n{FINANCE}");
    let apply = |args: &[&str]| {
        live(&sandbox)
            .policy(&other)
            .write("reviewed.yaml", FINANCE)
            .write("plan.json", &plan_text)
            .args(["apply"])
            .args(args)
    };
    api.call(
        reqwest::Method::DELETE,
        "/_sandbox/requests",
        crate::api::As::Anonymous,
    );
    apply(&["-p", "missing.yaml", "plan.json"])
        .stderr_contains("missing.yaml")
        .stdout("")
        .status(1);
    assert_eq!(api.requests().len(), 0, "nothing sent for a missing policy");
    apply(&["-p", "plotward.yaml", "plan.json"])
        .stderr_contains("but plotward.yaml has")
        .status(1);
    // No -p: the default plotward.yaml, which is not the planned policy.
    apply(&["plan.json"])
        .stderr_contains("but plotward.yaml has")
        .status(1);
    let writes = |api: &Api| {
        api.requests()
            .into_iter()
            .filter(|(method, _, _)| method != "GET")
            .count()
    };
    assert_eq!(writes(&api), 0, "refused plans write nothing");
    apply(&["plan.json"])
        .env("PLOTWARD_POLICY", "reviewed.yaml")
        .stderr_contains("but plotward.yaml has")
        .status(1);
    // The planned policy given with -p is used: applied.
    apply(&["-p", "reviewed.yaml", "plan.json"])
        .stdout_contains("Apply complete: 1 restricted, 0 exposed, 0 failed.")
        .status(0);
    assert_eq!(writes(&api), 1);
}

/// A comment's notes are bounded too: 400 public folders over private files make 400 folder
/// notes (about 100,000 characters), yet the comment stays under GitHub's limit, keeps the
/// complete per-rule summary, and says how many notes it left out and where the plan is.
#[test]
fn a_markdown_plan_with_hundreds_of_folder_notes_stays_under_the_cap() {
    let mut owned = Vec::new();
    for n in 0..400 {
        owned.push((
            format!("alice:{}", 2 * n + 1),
            format!("team{n:03}"),
            "fold",
            "public",
        ));
        owned.push((
            format!("alice:{}", 2 * n + 2),
            format!("team{n:03}/notes"),
            "plot",
            "private",
        ));
    }
    let files: Vec<(&str, &str, &str, &str)> = owned
        .iter()
        .map(|(fid, path, kind, level)| (fid.as_str(), path.as_str(), *kind, *level))
        .collect();
    let run = offline(
        "version: 1\ndefault: private\n",
        &snapshot_of(&files),
        &["plan", "--format", "markdown", "--out", "plan.json"],
    )
    .stdout_contains("| folders, for what lies below them | 400 | 0 |")
    .stdout_contains("| **All** | **400** | **0** |")
    .stdout_contains("> …and 380 more notes, not shown.")
    .stdout_contains("| `team399` | fold | `alice:799` | public → private |")
    .stdout_contains("`plotward show plan.json --full`")
    .status(0);
    assert!(
        run.stdout.len() <= 65_000,
        "{} characters",
        run.stdout.len()
    );
}

/// `--target 'finance/**'` does not match the folder `finance`, yet a public `finance` exposes
/// every file below it: the targeted plan restricts the folder too (or it would show the files
/// as unchanged while a targeted check reports them), and a targeted apply fixes what the
/// world sees.
#[test]
fn a_targeted_run_restricts_the_folder_that_exposes_its_files() {
    let sandbox = seeded(&[
        ("alice:1", "finance", "fold", "public"),
        ("alice:2", "finance/payroll", "grid", "private"),
        ("alice:3", "finance/budget", "plot", "private"),
        ("alice:4", "reports", "fold", "public"),
    ]);
    let policy = "version: 1\ndefault: ignore\nrules:\n  - match: \"finance/**\"\n    sharing: private\nguardrails:\n  never_public: [\"finance/**\"]\n";
    live(&sandbox)
        .policy(policy)
        .args(["check", "--target", "finance/**"])
        .status(2);
    live(&sandbox)
        .policy(policy)
        .args(["plan", "--target", "finance/**", "--detailed-exitcode"])
        .stdout_contains("  - finance  ")
        .stdout_contains("Plan: 1 to restrict")
        .status(2);
    live(&sandbox)
        .policy(policy)
        .args(["apply", "--target", "finance/**", "--auto-approve"])
        .status(0);
    live(&sandbox)
        .policy(policy)
        .args(["check", "--target", "finance/**"])
        .status(0);
    let api = Api::new(&sandbox);
    let seen = |fid: &str| {
        api.get(&format!("/v2/files/{fid}"), As::Anonymous)
            .status
            .as_u16()
    };
    assert_eq!(seen("alice:2"), 404, "payroll is private to the world now");
    assert_eq!(
        seen("alice:4"),
        200,
        "reports, outside the targets, untouched"
    );
}

/// Every Markdown report stays under the cap whatever the policy holds: 300 dead rules with
/// long patterns make 300 notes (about 100,000 characters) in a plan with no changes and in
/// a clean check; both show 20 and count the rest.
#[test]
fn markdown_reports_with_hundreds_of_dead_rules_stay_under_the_cap() {
    use std::fmt::Write as _;
    let mut policy = String::from("version: 1\ndefault: private\nrules:\n");
    for n in 0..300 {
        let pattern = format!("nothing{n:03}/{}/**", "x".repeat(300));
        writeln!(policy, "  - match: \"{pattern}\"\n    sharing: private").unwrap();
    }
    let snapshot = snapshot_of(&[("alice:1", "kept", "plot", "private")]);
    for command in ["plan", "check"] {
        let run = offline(&policy, &snapshot, &[command, "--format", "markdown"])
            .stdout_contains("> …and 280 more notes, not shown.")
            .status(0);
        assert!(
            run.stdout.len() <= 65_000,
            "{command}: {}",
            run.stdout.len()
        );
    }
    // Patterns of 4,000 characters: even 20 notes are too long; the comment is then its
    // headline and where the whole report is.
    let long = policy.replace(&"x".repeat(300), &"y".repeat(4_000));
    for command in ["plan", "check"] {
        let run = offline(&long, &snapshot, &[command, "--format", "markdown"])
            .stdout_contains("> This report is too large for a comment.")
            .status(0);
        assert!(run.stdout.len() < 1_000, "{command}: {}", run.stdout);
    }
}
