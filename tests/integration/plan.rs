use serde::Deserialize;

use crate::harness::{Test, repo};

/// Mirror of the documented JSON plan; `deny_unknown_fields` everywhere, so any added, renamed
/// or removed field fails here first.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlanJson {
    format_version: u32,
    policy: String,
    /// The SHA-256 of the policy's text, 64 hex digits.
    pub policy_sha256: String,
    source: SourceJson,
    summary: SummaryJson,
    changes: Vec<ChangeJson>,
    dead_rules: Vec<DeadRuleJson>,
    /// Patterns that match no file; absent when none.
    #[serde(default)]
    pub dead_patterns: Vec<serde_json::Value>,
    guardrails: Vec<BreachJson>,
    /// Present only when the listing could not vouch for something.
    pub listing: Option<ListingJson>,
    /// The folders the plan changes; absent when none.
    #[serde(default)]
    pub folders: Vec<FolderChangeJson>,
}

/// `folders[]`: a folder the plan changes and what lies below it.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct FolderChangeJson {
    /// Its fid.
    pub fid: String,
    /// Its path.
    pub path: String,
    /// Level now.
    pub from: String,
    /// Level wanted.
    pub to: String,
    /// Files and folders below it.
    pub files_below: usize,
    /// Of those, the ones with a secret link.
    pub secret_below: usize,
}

/// `listing`: what the listing could not vouch for (plans, checks and snapshots).
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListingJson {
    /// Other users' files skipped; absent when none.
    pub foreign_skipped: Option<usize>,
    /// The user's files left out of the folder tree, never judged; absent when none.
    pub unplaced: Option<usize>,
    /// The count that never matched; absent when the listing added up.
    pub unproven: Option<UnprovenJson>,
}

/// `listing.unproven`.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct UnprovenJson {
    /// The server's `count`.
    pub counted: usize,
    /// Distinct items listed.
    pub listed: usize,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct BreachJson {
    guardrail: String,
    message: String,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "lowercase")]
enum SourceJson {
    Snapshot { path: String },
    Api { api_url: String, user: String },
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct SummaryJson {
    restrict: usize,
    expose: usize,
    unchanged: usize,
    ignored: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeJson {
    fid: String,
    path: String,
    filetype: String,
    action: String,
    from: String,
    to: String,
    observed: ObservedJson,
    rule: RuleJson,
    /// For a folder restricted for its contents: `{fid, path, wants}` of the file requiring it.
    #[serde(default)]
    required_by: Option<serde_json::Value>,
    /// When a folder above exposes the file more than its own flags: that folder and the level.
    /// Pinned for its shape; `folders.rs` reads its values.
    #[serde(default)]
    #[allow(dead_code)]
    through: Option<ThroughJson>,
}

/// `changes[].through`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ThroughJson {
    folder: String,
    level: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObservedJson {
    world_readable: bool,
    share_key_enabled: bool,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "lowercase")]
enum RuleJson {
    Rule {
        index: usize,
        pattern: String,
        line: u64,
    },
    Default,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeadRuleJson {
    /// 1-based rule number.
    pub index: usize,
    /// The rule's patterns.
    pub patterns: Vec<String>,
    /// The rule's line.
    pub line: u64,
}

/// The example policy and account copied into the test's directory, so what a plan prints
/// names them by the same relative paths on every machine (pinned fixtures show them).
pub(crate) fn example_copied() -> Test {
    Test::new()
        .copy("policies/example.yaml")
        .copy("examples/inventory.json")
}

/// `plan` of [`example_copied`], by relative paths, then `extra`.
pub(crate) fn example_relative(extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "plan",
        "-p",
        "policies/example.yaml",
        "--snapshot",
        "examples/inventory.json",
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

fn example_args(extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "plan".to_owned(),
        "-p".to_owned(),
        repo("policies/example.yaml").display().to_string(),
        "--snapshot".to_owned(),
        repo("examples/inventory.json").display().to_string(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

const SMALL_POLICY: &str = "
    version: 1
    default: ignore
    rules:
      - match: \"finance/**\"
        sharing: private
      - match: [\"reports/**\", \"dashboards/exec-*\"]
        sharing: secret
        filetypes: [plot, dashboard]
      - match: \"public/**\"
        sharing: public
      - match: \"legacy/**\"
        sharing: private
    ";

const SMALL_SNAPSHOT: &str = r#"{
  "format_version": 1,
  "files": [
    {"fid": "alice:77", "path": "finance/payroll", "filetype": "grid", "world_readable": true, "share_key_enabled": false},
    {"fid": "alice:42", "path": "reports/q3/revenue", "filetype": "plot", "world_readable": true, "share_key_enabled": false},
    {"fid": "alice:43", "path": "reports/q3/revenue-data", "filetype": "grid", "world_readable": true, "share_key_enabled": false},
    {"fid": "alice:5", "path": "public/demo", "filetype": "plot", "world_readable": false, "share_key_enabled": false},
    {"fid": "alice:6", "path": "public/map", "filetype": "plot", "world_readable": true, "share_key_enabled": false},
    {"fid": "alice:7", "path": "dashboards/exec-kpis", "filetype": "dashboard", "world_readable": false, "share_key_enabled": true},
    {"fid": "alice:1", "path": "finance", "filetype": "fold", "world_readable": false, "share_key_enabled": false},
    {"fid": "alice:2", "path": "reports", "filetype": "fold", "world_readable": false, "share_key_enabled": false},
    {"fid": "alice:3", "path": "reports/q3", "filetype": "fold", "world_readable": false, "share_key_enabled": false},
    {"fid": "alice:4", "path": "public", "filetype": "fold", "world_readable": false, "share_key_enabled": false},
    {"fid": "alice:8", "path": "dashboards", "filetype": "fold", "world_readable": false, "share_key_enabled": false}
  ]
}"#;

fn small() -> Test {
    Test::new()
        .policy(SMALL_POLICY)
        .write("snapshot.json", SMALL_SNAPSHOT)
}

#[test]
fn text_plan_lists_restrictions_then_exposures_with_a_summary() {
    small()
        .args(["plan", "--snapshot", "snapshot.json"])
        .stdout(
            r#"
            Snapshot: snapshot.json
            Policy: plotward.yaml

            plotward will change the sharing of 3 files (- restricts, + exposes):

            Restrict 1 file by rule 1 "finance/**":
              - finance/payroll     grid  alice:77  public  -> private

            Restrict 1 file by rule 2 "reports/**":
              - reports/q3/revenue  plot  alice:42  public  -> secret

            Expose 1 file by rule 3 "public/**":
              + public/demo         plot  alice:5   private -> public

            Rule 4 "legacy/**" (line 11) decided no file: it protects nothing.
            Plan: 2 to restrict, 1 to expose, 2 unchanged, 6 ignored.
            "#,
        )
        // The text plan names dead rules itself, above the summary line; nothing on stderr.
        .stderr("")
        .status(0);
    // Other formats leave stdout to the machine or the review, and warn on stderr.
    small()
        .args(["plan", "--snapshot", "snapshot.json", "--format", "json"])
        .stderr("warning: rule 4 \"legacy/**\" (plotward.yaml:11) decided no file\n")
        .status(0);
}

#[test]
fn json_plan_matches_the_documented_schema() {
    let run = small()
        .args(["plan", "--snapshot", "snapshot.json", "--format", "json"])
        .status(0);
    let plan: PlanJson = serde_json::from_str(&run.stdout).expect("plan JSON matches the schema");
    assert_eq!(plan.format_version, 1);
    assert_eq!(plan.policy, "plotward.yaml");
    assert_eq!(
        plan.source,
        SourceJson::Snapshot {
            path: "snapshot.json".into()
        }
    );
    assert_eq!(
        plan.summary,
        SummaryJson {
            restrict: 2,
            expose: 1,
            unchanged: 2,
            ignored: 6
        }
    );
    let paths: Vec<&str> = plan.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
        ["finance/payroll", "public/demo", "reports/q3/revenue"]
    );
    // No folder changes here, so nothing is required by a file below a folder.
    assert!(plan.changes.iter().all(|c| c.required_by.is_none()));
    assert!(plan.folders.is_empty());
    let revenue = &plan.changes[2];
    assert_eq!(
        (
            revenue.fid.as_str(),
            revenue.filetype.as_str(),
            revenue.action.as_str()
        ),
        ("alice:42", "plot", "restrict")
    );
    assert_eq!(
        (revenue.from.as_str(), revenue.to.as_str()),
        ("public", "secret")
    );
    assert!(revenue.observed.world_readable && !revenue.observed.share_key_enabled);
    assert_eq!(
        revenue.rule,
        RuleJson::Rule {
            index: 2,
            pattern: "reports/**".into(),
            line: 6
        }
    );
    assert_eq!(plan.changes[1].action, "expose");
    assert_eq!(plan.guardrails, []);
    assert_eq!(
        plan.dead_rules,
        [DeadRuleJson {
            index: 4,
            patterns: vec!["legacy/**".into()],
            line: 11
        }]
    );
}

#[test]
fn default_decisions_are_marked_in_json() {
    let run = Test::new()
        .policy("version: 1\ndefault: private\n")
        .write("snapshot.json", SMALL_SNAPSHOT)
        .args(["plan", "--snapshot", "snapshot.json", "--format", "json"])
        .status(0);
    let plan: PlanJson = serde_json::from_str(&run.stdout).unwrap();
    assert!(plan.changes.iter().all(|c| c.rule == RuleJson::Default {}));
    assert_eq!(plan.changes.len(), 5);
}

#[test]
fn out_saves_the_json_plan_whatever_the_format() {
    let run = small()
        .args(["plan", "--snapshot", "snapshot.json", "--out", "plan.json"])
        .status(0);
    assert!(
        run.stdout.contains("\n\nplotward will change"),
        "{}",
        run.stdout
    );
    let saved: PlanJson = serde_json::from_str(&run.read("plan.json")).unwrap();
    assert_eq!(saved.changes.len(), 3);
    let json = small()
        .args(["plan", "--snapshot", "snapshot.json", "--format", "json"])
        .status(0);
    assert_eq!(run.read("plan.json"), json.stdout);
}

#[test]
fn detailed_exitcode_is_2_with_changes_and_0_without() {
    small()
        .args(["plan", "--snapshot", "snapshot.json", "--detailed-exitcode"])
        .status(2);
    let compliant = SMALL_SNAPSHOT
        .replace(r#""finance/payroll", "filetype": "grid", "world_readable": true"#, r#""finance/payroll", "filetype": "grid", "world_readable": false"#)
        .replace(r#""reports/q3/revenue", "filetype": "plot", "world_readable": true, "share_key_enabled": false"#, r#""reports/q3/revenue", "filetype": "plot", "world_readable": false, "share_key_enabled": true"#)
        .replace(r#""public/demo", "filetype": "plot", "world_readable": false"#, r#""public/demo", "filetype": "plot", "world_readable": true"#);
    Test::new()
        .policy(SMALL_POLICY)
        .write("snapshot.json", &compliant)
        .args(["plan", "--snapshot", "snapshot.json", "--detailed-exitcode"])
        .stdout(
            "Snapshot: snapshot.json\nPolicy: plotward.yaml\n\n\
             Rule 4 \"legacy/**\" (line 11) decided no file: it protects nothing.\n\
             No changes. Plan: 0 to restrict, 0 to expose, 5 unchanged, 6 ignored.\n",
        )
        .status(0);
}

#[test]
fn example_plan_is_pinned() {
    let run = example_copied()
        .args(example_relative(&[]))
        .stdout_matches_fixture("tests/fixtures/example-plan.txt")
        .status(0);
    assert_eq!(run.stderr, "", "the example policy has no dead rules");
}

#[test]
fn example_json_agrees_with_the_text_summary() {
    let text = Test::new().args(example_args(&[])).status(0).stdout;
    let json = Test::new()
        .args(example_args(&["--format", "json"]))
        .status(0)
        .stdout;
    let plan: PlanJson = serde_json::from_str(&json).unwrap();
    let s = &plan.summary;
    let line = format!(
        "Plan: {} to restrict, {} to expose, {} unchanged, {} ignored.",
        s.restrict, s.expose, s.unchanged, s.ignored
    );
    assert_eq!(text.lines().last(), Some(line.as_str()));
    assert_eq!(plan.changes.len(), s.restrict + s.expose);
    // The digest is the policy file's SHA-256, as `sha256sum` computes it.
    let sha256sum = std::process::Command::new("sha256sum")
        .arg(repo("policies/example.yaml"))
        .output()
        .expect("sha256sum (coreutils)");
    let expected = String::from_utf8(sha256sum.stdout).unwrap();
    assert_eq!(
        plan.policy_sha256,
        expected.split_whitespace().next().unwrap()
    );
    let snapshot: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("examples/inventory.json")).unwrap())
            .unwrap();
    let total = snapshot["files"].as_array().unwrap().len();
    assert_eq!(s.restrict + s.expose + s.unchanged + s.ignored, total);
    let mut sorted: Vec<(&str, &str)> = plan
        .changes
        .iter()
        .map(|c| (c.path.as_str(), c.fid.as_str()))
        .collect();
    sorted.sort_unstable();
    let order: Vec<(&str, &str)> = plan
        .changes
        .iter()
        .map(|c| (c.path.as_str(), c.fid.as_str()))
        .collect();
    assert_eq!(order, sorted, "changes are ordered by path, then fid");
}

#[test]
fn share_keys_never_appear_in_plans() {
    // A snapshot carrying a share key (which plotward never writes) must not leak it.
    let snapshot = r#"{"format_version": 1, "files": [
        {"fid": "a:1", "path": "reports/x", "filetype": "plot", "world_readable": false,
         "share_key_enabled": true, "share_key": "KkpqfcY2FA5kJhU5QwnUs5"},
        {"fid": "a:2", "path": "reports", "filetype": "fold", "world_readable": false,
         "share_key_enabled": true, "share_key": "KkpqfcY2FA5kJhU5QwnUs6"}]}"#;
    for format in ["text", "json"] {
        Test::new()
            .policy("version: 1\ndefault: private\n")
            .write("s.json", snapshot)
            .args(["plan", "--snapshot", "s.json", "--format", format])
            .stdout_lacks("KkpqfcY2FA5kJhU5QwnUs5")
            .stdout_contains("reports/x")
            .status(0);
    }
}

#[test]
fn bad_snapshots_are_located() {
    Test::new()
        .policy("version: 1\n")
        .write(
            "s.json",
            "{\"format_version\": 1,\n \"files\": [{\"fid\": \"a:1\", \"path\": \"x\"}]}",
        )
        .args(["plan", "--snapshot", "s.json"])
        .stderr("error: s.json:2:38: invalid snapshot: missing field `filetype`\n")
        .status(1);
    Test::new()
        .policy("version: 1\n")
        .args(["plan", "--snapshot", "missing.json"])
        .stderr(
            "error: cannot read snapshot missing.json: No such file or directory (os error 2)\n",
        )
        .status(1);
}

#[test]
fn an_invalid_policy_stops_the_plan_before_reading_anything_else() {
    let run = Test::new()
        .policy("version: 1\nrules:\n  - match: x\n    sharing: everyone\n")
        .args(["plan", "--snapshot", "missing.json"])
        .stderr_contains("unknown sharing level `everyone`")
        .status(1);
    assert_eq!(run.stdout, "");
}

#[test]
fn out_follows_a_symlink_and_never_replaces_what_is_not_a_file() {
    use std::os::unix::fs::FileTypeExt;

    let test = Test::new().write("real.json", "old");
    std::os::unix::fs::symlink(test.path("real.json"), test.path("link.json")).unwrap();
    let run = test.args(example_args(&["--out", "link.json"])).status(0);
    let saved: PlanJson = serde_json::from_str(&run.read("real.json")).expect("the plan");
    assert_eq!(saved.summary.restrict, 11);
    let link = std::fs::symlink_metadata(run.path("link.json")).unwrap();
    assert!(link.file_type().is_symlink(), "the link is still a link");

    let test = Test::new();
    let fifo = test.path("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::fs::create_dir(test.path("dir")).unwrap();
    // A device node of our own (the null device's numbers), where the test may make one.
    let device = test.path("device");
    let made_device = std::process::Command::new("mknod")
        .arg(&device)
        .args(["c", "1", "3"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let mut targets = vec![("fifo", "a FIFO"), ("dir", "a directory")];
    if made_device {
        targets.push(("device", "a device"));
    }
    for (name, kind) in targets {
        Test::new()
            .args(example_args(&[
                "--out",
                &test.path(name).display().to_string(),
            ]))
            .stderr_contains(&format!("it is {kind}, not a regular file"))
            .status(1);
    }
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    if made_device {
        assert!(
            std::fs::metadata(&device)
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }
}

#[test]
fn out_dash_prints_the_json_plan_on_stdout_and_the_text_plan_on_stderr() {
    let run = Test::new().args(example_args(&["--out", "-"])).status(0);
    let saved: PlanJson = serde_json::from_str(&run.stdout).expect("stdout is the JSON plan");
    assert_eq!(saved.summary.expose, 8);
    assert!(
        run.stderr
            .ends_with("Plan: 11 to restrict, 8 to expose, 26 unchanged, 39 ignored.\n"),
        "{}",
        run.stderr
    );
    let json = Test::new()
        .args(example_args(&["--out", "-", "--format", "json"]))
        .status(0);
    assert_eq!(json.stdout, run.stdout, "the JSON plan once, not twice");
}

/// A snapshot of public plots at these paths (`alice:1`, `alice:2`, ...).
fn snapshot_of(paths: &[&str]) -> String {
    let mut files: Vec<serde_json::Value> = paths
        .iter()
        .enumerate()
        .map(|(n, path)| {
            serde_json::json!({"fid": format!("alice:{}", n + 1), "path": path, "filetype": "plot",
                "world_readable": true, "share_key_enabled": false})
        })
        .collect();
    // Every folder is listed, private, as a snapshot must.
    let folders: std::collections::BTreeSet<&str> = paths
        .iter()
        .flat_map(|path| path.match_indices('/').map(move |(at, _)| &path[..at]))
        .collect();
    files.extend(folders.iter().enumerate().map(|(n, path)| {
        serde_json::json!({"fid": format!("alice:{}", 100_000 + n), "path": path,
            "filetype": "fold", "world_readable": false, "share_key_enabled": false})
    }));
    serde_json::json!({"format_version": 1, "files": files}).to_string()
}

/// Whether text holds anything a terminal would obey rather than show (line breaks aside).
fn has_raw_controls(text: &str) -> bool {
    text.chars()
        .any(|c| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c))
}

#[test]
fn a_file_name_cannot_forge_a_summary_line_or_reach_the_terminal_raw() {
    let forged = "x\nNo changes. Plan: 0 to restrict, 0 to expose, 0 unchanged, 0 ignored.";
    let paths = [
        forged,
        "esc\u{1b}]0;owned\u{7}\u{1b}[2J",
        "rlo\u{202e}txt.exe",
        "cr\rPlan: 9",
    ];
    let plan_with = |args: &[&str]| {
        Test::new()
            .write("snap.json", &snapshot_of(&paths))
            .policy("version: 1\ndefault: private\n")
            .args(["plan", "--snapshot", "snap.json"])
            .args(args)
    };
    let text = plan_with(&[])
        .stdout_contains("x\\nNo changes. Plan: 0")
        .stdout_contains("esc\\e]0;owned\\u{7}\\e[2J")
        .stdout_contains("rlo\\u{202e}txt.exe")
        .status(0)
        .stdout;
    let summaries = text
        .lines()
        .filter(|l| l.starts_with("Plan:") || l.starts_with("No changes."))
        .count();
    assert_eq!(summaries, 1, "{text}");
    assert!(
        text.ends_with("Plan: 4 to restrict, 0 to expose, 0 unchanged, 0 ignored.\n"),
        "{text}"
    );
    assert!(!has_raw_controls(&text), "{text:?}");
    // One line per change: the origin (two lines and a blank), the header and a blank line, a
    // group heading, four changes and a blank line, the summary.
    assert_eq!(text.lines().count(), 12, "{text}");
    let diff = plan_with(&["--format", "diff"]).status(0).stdout;
    assert!(!has_raw_controls(&diff), "{diff:?}");
    assert_eq!(
        diff.lines()
            .filter(|l| l.starts_with('-') && !l.starts_with("---"))
            .count(),
        4,
        "{diff}"
    );
    let markdown = plan_with(&["--format", "markdown"]).status(0).stdout;
    assert!(!has_raw_controls(&markdown), "{markdown:?}");
    let check = Test::new()
        .write("snap.json", &snapshot_of(&paths))
        .policy("version: 1\ndefault: private\n")
        .args(["check", "--snapshot", "snap.json"])
        .status(2)
        .stdout;
    assert!(!has_raw_controls(&check), "{check:?}");
    assert_eq!(
        check.lines().filter(|l| l.starts_with("Check:")).count(),
        1,
        "{check}"
    );
}

#[test]
fn a_very_long_name_or_policy_line_is_shown_not_a_crash() {
    // Names up to the 4,096-byte path limit are shown whole; longer ones are refused.
    let long = "n".repeat(4_000);
    for command in ["plan", "check"] {
        Test::new()
            .write("snap.json", &snapshot_of(&[&long, "short"]))
            .policy("version: 1\ndefault: private\n")
            .args([command, "--snapshot", "snap.json"])
            .stdout_contains(&long)
            .status(if command == "plan" { 0 } else { 2 });
    }
    let too_long = "n".repeat(70_000);
    Test::new()
        .write("snap.json", &snapshot_of(&[&too_long]))
        .policy("version: 1\ndefault: private\n")
        .args(["plan", "--snapshot", "snap.json"])
        .stderr_contains("path is longer than 4096 bytes")
        .status(1);
    // A policy error past column 65,535 of one line.
    let policy = format!(
        "version: 1\ndefault: private\nrules: [{}{{match: \"a\", sharing: nope}}]\n",
        " ".repeat(70_000)
    );
    let run = Test::new()
        .policy(&policy)
        .args(["validate"])
        .stderr_contains("plotward.yaml:3:")
        .status(1);
    let caret_line = run
        .stderr
        .lines()
        .find(|l| l.contains('^'))
        .expect("a caret");
    assert!(
        caret_line.len() < 300,
        "the caret line is a window, not 70,000 spaces"
    );
}

#[test]
fn columns_line_up_by_display_width_with_wide_characters() {
    let run = Test::new()
        .write(
            "snap.json",
            &snapshot_of(&["財務/給与", "reports/q3-revenue", "ab"]),
        )
        .policy("version: 1\ndefault: private\n")
        .args(["plan", "--snapshot", "snap.json"])
        .status(0);
    let columns: Vec<usize> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("  - "))
        .map(|l| {
            let before = &l[..l.find("plot").expect("the filetype column")];
            unicode_width::UnicodeWidthStr::width(before)
        })
        .collect();
    assert_eq!(columns.len(), 3, "{}", run.stdout);
    assert!(
        columns.iter().all(|c| *c == columns[0]),
        "{columns:?}\n{}",
        run.stdout
    );
}

#[test]
fn out_never_replaces_the_plans_own_inputs() {
    for target in ["plotward.yaml", "snap.json"] {
        let run = Test::new()
            .policy("version: 1\ndefault: private\n")
            .write("snap.json", &snapshot_of(&["a"]))
            .args(["plan", "--snapshot", "snap.json", "--out", target])
            .stderr_contains(&format!(
                "--out would replace {target}, this plan's own input"
            ))
            .status(1);
        assert!(run.read(target).len() < 200, "{target} was left alone");
    }
}

/// An `--out` that cannot be written names the file asked for and the cause, not the random
/// temporary file plotward writes first.
#[test]
fn an_unwritable_out_names_the_file_not_the_temporary_one() {
    small()
        .args([
            "plan",
            "--snapshot",
            "snapshot.json",
            "--out",
            "missing/plan.json",
        ])
        .stderr_contains("error: cannot write missing/plan.json: No such file or directory")
        .stderr_lacks(".plotward-")
        .stderr_lacks("at path")
        .status(1);
}

#[test]
fn check_and_export_never_replace_their_own_policy_even_through_a_link() {
    let policy = "version: 1\ndefault: private\n# kept\n";
    // `export` without -p reads no policy: writing `plotward.yaml` is how one starts.
    let commands: [&[&str]; 2] = [
        &["check", "--format", "json"],
        &["export", "-p", "plotward.yaml"],
    ];
    for command in commands {
        for out in ["plotward.yaml", "link.yaml", "hard.yaml"] {
            let test = Test::new()
                .policy(policy)
                .write("snap.json", &snapshot_of(&["a"]));
            std::os::unix::fs::symlink("plotward.yaml", test.path("link.yaml")).unwrap();
            std::fs::hard_link(test.path("plotward.yaml"), test.path("hard.yaml")).unwrap();
            let name = command[0];
            let run = test
                .args(command)
                .args(["--snapshot", "snap.json", "--out", out])
                .stderr_contains(&format!(
                    "--out would replace {out}, this {name}'s own input; write the {name} output"
                ))
                .status(1);
            assert_eq!(run.read("plotward.yaml"), policy, "{command:?} --out {out}");
            assert!(run.stdout.is_empty(), "{}", run.stdout);
        }
    }
}
