use super::*;
use crate::inventory::FileType;

fn file(fid: &str, path: &str, filetype: &str, level: Sharing) -> RemoteFile {
    RemoteFile {
        fid: fid.to_owned(),
        path: path.to_owned(),
        filetype: FileType::from_api(filetype),
        flags: level.flags(),
    }
}

fn policy(source: &str) -> Policy {
    Policy::parse(source, "p.yaml").unwrap_or_else(|err| panic!("{err}"))
}

/// Each change as `path from->to`, in plan order.
fn changes(plan: &Plan) -> Vec<String> {
    plan.changes()
        .map(|c| format!("{} {}->{}", c.entry.file.path, c.from, c.to))
        .collect()
}

const POLICY: &str = "\
version: 1
default: private
rules:
  - match: \"finance/**\"
    sharing: private
  - match: [\"reports/**\", \"exec-*\"]
    sharing: secret
    filetypes: [plot, dashboard]
  - match: \"public/*\"
    sharing: public
  - match: \"scratch/**\"
    sharing: ignore
  - match: \"legacy/**\"
    sharing: public
";

fn account() -> Inventory {
    use Sharing::{Private, Public, Secret};
    Inventory::new(vec![
        file("a:9", "scratch/tmp", "plot", Public),
        file("a:1", "finance/payroll", "grid", Public),
        file("a:2", "reports/q3/revenue", "plot", Public),
        file("a:3", "reports/q3/data", "grid", Secret),
        file("a:4", "public/demo", "plot", Private),
        file("a:5", "public/deep/demo", "plot", Public),
        file("a:6", "exec-kpis", "dashboard", Secret),
        file("a:7", "finance", "fold", Public),
        file("a:8", "données/ventes", "plot", Private),
    ])
}

#[test]
fn plans_precedence_defaults_ignore_filetypes_and_globs() {
    let files = account();
    let plan = diff(&policy(POLICY), &files);
    assert_eq!(
        changes(&plan),
        [
            "finance/payroll public->private",
            "public/deep/demo public->private",
            "public/demo private->public",
            "reports/q3/data secret->private",
            "reports/q3/revenue public->secret",
        ]
    );
    assert_eq!(
        plan.summary(),
        Summary {
            restrict: 4,
            expose: 1,
            unchanged: 2,
            ignored: 2,
        }
    );
}

#[test]
fn each_entry_records_its_decision_and_observed_flags() {
    let files = account();
    let plan = diff(&policy(POLICY), &files);
    let by_path = |path: &str| plan.entries.iter().find(|e| e.file.path == path).unwrap();
    let revenue = by_path("reports/q3/revenue");
    assert_eq!(
        revenue.decided_by,
        DecidedBy::Rule {
            number: 2,
            pattern: "reports/**".into(),
            line: 6,
        }
    );
    assert_eq!(revenue.observed(), Sharing::Public.flags());
    assert_eq!(by_path("reports/q3/data").decided_by, DecidedBy::Default);
    assert_eq!(by_path("finance").decided_by, DecidedBy::Folder);
    assert_eq!(by_path("finance").action, Action::Ignore);
    assert_eq!(by_path("scratch/tmp").action, Action::Ignore);
    assert_eq!(by_path("exec-kpis").action, Action::Keep);
    assert_eq!(by_path("données/ventes").action, Action::Keep);
}

#[test]
fn entries_are_ordered_by_path_then_fid() {
    let inventory = Inventory::new(vec![
        file("a:10", "b", "plot", Sharing::Public),
        file("a:2", "b", "grid", Sharing::Public),
        file("a:1", "a", "plot", Sharing::Public),
    ]);
    let plan = diff(&policy("version: 1\ndefault: private\n"), &inventory);
    let order: Vec<&str> = plan.entries.iter().map(|e| e.file.fid.as_str()).collect();
    assert_eq!(order, ["a:1", "a:10", "a:2"]);
}

#[test]
fn rules_that_decide_nothing_are_dead() {
    let files = account();
    let plan = diff(&policy(POLICY), &files);
    let dead: Vec<usize> = plan.dead_rules.iter().map(|r| r.number).collect();
    assert_eq!(dead, [5]);
    assert_eq!(plan.dead_rules[0].line, 13);
    // A rule whose every match is taken by an earlier rule is dead too.
    let shadowed = "version: 1\nrules:\n  - match: \"**\"\n    sharing: private\n  - match: \"finance/*\"\n    sharing: public\n";
    let plan = diff(&policy(shadowed), &files);
    assert_eq!(
        plan.dead_rules.iter().map(|r| r.number).collect::<Vec<_>>(),
        [2]
    );
}

#[test]
fn a_compliant_inventory_gives_an_empty_plan() {
    let files = account();
    let plan = diff(&policy(POLICY), &files);
    let fixed: Vec<RemoteFile> = plan
        .entries
        .iter()
        .map(|entry| match entry.action {
            Action::Change(to) => RemoteFile {
                flags: to.flags(),
                ..entry.file.clone()
            },
            Action::Keep | Action::Ignore => entry.file.clone(),
        })
        .collect();
    let fixed = Inventory::new(fixed);
    let again = diff(&policy(POLICY), &fixed);
    assert_eq!(changes(&again), Vec::<String>::new());
    assert!(!again.summary().has_changes());
    assert_eq!(again.summary().unchanged, 7);
}

#[test]
fn a_public_file_with_a_stale_share_key_is_still_public() {
    let mut stale = file("a:1", "public/x", "plot", Sharing::Public);
    stale.flags.share_key_enabled = true;
    let stale = Inventory::new(vec![stale]);
    let plan = diff(&policy(POLICY), &stale);
    assert_eq!(plan.entries[0].action, Action::Keep);
}

#[test]
fn direction_follows_exposure_order() {
    use Sharing::{Private, Public, Secret};
    assert_eq!(Direction::of(Public, Secret), Direction::Restrict);
    assert_eq!(Direction::of(Secret, Private), Direction::Restrict);
    assert_eq!(Direction::of(Private, Secret), Direction::Expose);
    assert_eq!(Direction::of(Secret, Public), Direction::Expose);
}

#[test]
fn guardrail_breaches_are_found_in_plans() {
    let source = "version: 1\ndefault: private\nrules:\n  - match: \"public/*\"\n    sharing: public\nguardrails:\n  max_changes: 30%\n  max_exposures: 0\n";
    let policy = policy(source);
    let files: Vec<RemoteFile> = (0..10)
        .map(|n| {
            file(
                &format!("a:{n}"),
                &format!("f{n}"),
                "plot",
                Sharing::Private,
            )
        })
        .chain([
            file("a:20", "public/p", "plot", Sharing::Private),
            file("a:21", "x1", "plot", Sharing::Public),
            file("a:22", "x2", "plot", Sharing::Public),
            file("a:23", "x3", "plot", Sharing::Public),
            file("a:24", "x4", "plot", Sharing::Public),
        ])
        .collect();
    let files = Inventory::new(files);
    let plan = diff(&policy, &files);
    let found = breaches(&plan, &policy.guardrails);
    assert_eq!(
        found,
        [
            Breach::MaxChanges {
                changes: 5,
                managed: 15,
                limit: Limit::Percent(30.0)
            },
            Breach::MaxExposures {
                exposes: 1,
                limit: 0
            },
        ]
    );
    assert_eq!(
        found[0].to_string(),
        "5 changes exceed guardrails.max_changes: 30% of 15 managed files allows 4"
    );
}

#[test]
fn max_changes_waits_for_ten_managed_files() {
    let policy = policy("version: 1\ndefault: private\nguardrails:\n  max_changes: 0\n");
    let nine: Vec<RemoteFile> = (0..9)
        .map(|n| file(&format!("a:{n}"), &format!("f{n}"), "plot", Sharing::Public))
        .collect();
    assert!(
        breaches(
            &diff(&policy, &Inventory::new(nine.clone())),
            &policy.guardrails
        )
        .is_empty()
    );
    let mut ten = nine;
    ten.push(file("a:9", "f9", "plot", Sharing::Public));
    assert_eq!(
        breaches(&diff(&policy, &Inventory::new(ten)), &policy.guardrails).len(),
        1
    );
}
