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

/// The levels by index, least exposed first, as the property tests' node tuples name them.
pub(crate) const LEVELS: [Sharing; 3] = [Sharing::Private, Sharing::Secret, Sharing::Public];

/// A random account for property tests. Each node is (parent node, is a folder, own level,
/// the policy's target for it: 0..3 a level, 3 `ignore`, 4 and above no rule); a parent must
/// be an earlier folder, anything else puts the node at the root. Returns the files (fids
/// `a:1`, `a:2`, ...) and the policy's rules, one per node that has one, naming exactly its
/// path and type.
pub(crate) fn random_account(nodes: &[(usize, bool, usize, usize)]) -> (Vec<RemoteFile>, String) {
    use std::fmt::Write as _;
    let mut paths: Vec<String> = Vec::new();
    let mut folders: Vec<usize> = Vec::new();
    let mut files = Vec::new();
    let mut rules = String::new();
    for (i, &(parent, is_folder, level, target)) in nodes.iter().enumerate() {
        let path = match folders.get(parent) {
            Some(&p) if p < i => format!("{}/n{i}", paths[p]),
            _ => format!("n{i}"),
        };
        let filetype = if is_folder { "fold" } else { "plot" };
        files.push(file(
            &format!("a:{}", i + 1),
            &path,
            filetype,
            LEVELS[level],
        ));
        if target <= LEVELS.len() {
            let sharing = LEVELS.get(target).map_or("ignore", |l| l.as_str());
            let _ = write!(
                rules,
                "  - match: \"{path}\"\n    filetypes: [{filetype}]\n    sharing: {sharing}\n"
            );
        }
        if is_folder {
            folders.push(i);
        }
        paths.push(path);
    }
    (files, rules)
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
        file("a:10", "scratch", "fold", Public),
        file("a:11", "reports", "fold", Private),
        file("a:12", "reports/q3", "fold", Private),
        file("a:13", "public", "fold", Private),
        file("a:14", "public/deep", "fold", Private),
        file("a:15", "données", "fold", Private),
    ])
}

#[test]
fn plans_precedence_defaults_ignore_filetypes_and_globs() {
    let files = account();
    let plan = diff(&policy(POLICY), &files);
    assert_eq!(
        changes(&plan),
        [
            // The public folder would keep payroll public: it is restricted too.
            "finance public->private",
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
            restrict: 5,
            expose: 1,
            unchanged: 2,
            ignored: 7,
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
    assert_eq!(
        by_path("finance").decided_by,
        DecidedBy::Contents(Box::new(Requirement {
            path: "finance/payroll".into(),
            fid: "a:1".into(),
            wants: Sharing::Private,
            by: DecidedBy::Rule {
                number: 1,
                pattern: "finance/**".into(),
                line: 4,
            },
        }))
    );
    assert_eq!(by_path("finance").action, Action::Change(Sharing::Private));
    assert_eq!(by_path("scratch").decided_by, DecidedBy::Folder);
    assert_eq!(by_path("scratch").action, Action::Ignore);
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
fn strict_refuses_dead_rules_and_a_policy_that_manages_nothing() {
    let files = account();
    let plan = diff(&policy(POLICY), &files);
    let failures = plan.strict_failures().expect("rule 5 is dead");
    assert_eq!(failures.dead_rules.len(), 1);
    assert!(!failures.manages_nothing);
    let ignore_all = "version: 1\ndefault: ignore\n";
    let plan = diff(&policy(ignore_all), &files);
    let failures = plan.strict_failures().expect("nothing is managed");
    assert!(failures.dead_rules.is_empty() && failures.dead_patterns.is_empty());
    assert!(failures.manages_nothing);
    let live = "version: 1\ndefault: private\n";
    assert_eq!(diff(&policy(live), &files).strict_failures(), None);
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
        crate::render::text::breach(&found[0]),
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

/// `(path, own level)` of each entry, the world's level, and the action, for folder tests.
fn folder_account(files: &[(&str, &str, Sharing)]) -> Inventory {
    Inventory::new(
        files
            .iter()
            .enumerate()
            .map(|(i, (path, filetype, level))| {
                file(&format!("a:{}", i + 1), path, filetype, *level)
            })
            .collect(),
    )
}

#[test]
fn a_private_file_in_a_public_folder_is_public_and_its_folder_is_restricted_for_it() {
    use Sharing::{Private, Public};
    let files = folder_account(&[
        ("reports", "fold", Public),
        ("reports/q3", "fold", Private),
        ("reports/q3/revenue", "plot", Private),
        ("reports/q3/chart", "plot", Public),
    ]);
    let plan = diff(
        &policy(
            "version: 1\ndefault: public\nrules:\n  - match: \"reports/q3/revenue\"\n    sharing: private\n",
        ),
        &files,
    );
    let by_path = |path: &str| plan.entries.iter().find(|e| e.file.path == path).unwrap();
    let revenue = by_path("reports/q3/revenue");
    assert_eq!(
        revenue.effective, Public,
        "the world sees it through reports/"
    );
    assert_eq!(revenue.through.map(|f| f.path.as_str()), Some("reports"));
    assert_eq!(
        revenue.action,
        Action::Keep,
        "its own flags are already private"
    );
    assert!(revenue.is_noncompliant());
    // reports/ is restricted for revenue; the chart the policy wants public gets its level
    // from its own flags, and q3 (private) needs nothing.
    assert_eq!(changes(&plan), ["reports public->private"]);
    assert!(by_path("reports/q3/chart").under_change);
    assert_eq!(
        plan.folder_changes,
        [FolderChange {
            fid: "a:1".into(),
            path: "reports".into(),
            from: Public,
            to: Private,
            files_below: 3,
            secret_below: 0,
        }]
    );
}

#[test]
fn a_file_public_only_through_its_folder_is_made_public_itself_when_the_folder_is_restricted() {
    use Sharing::{Private, Public};
    let files = folder_account(&[
        ("team", "fold", Public),
        ("team/open", "plot", Private),
        ("team/closed", "plot", Private),
    ]);
    let plan = diff(
        &policy(
            "version: 1\ndefault: public\nrules:\n  - match: \"team/closed\"\n    sharing: private\n",
        ),
        &files,
    );
    // Today team/open is public through team/; once team/ is private it must be public itself.
    assert_eq!(
        changes(&plan),
        ["team public->private", "team/open private->public"]
    );
    let breaches = breaches(&plan, &policy("version: 1\ndefault: public\n").guardrails);
    assert!(breaches.is_empty(), "{breaches:?}");
}

#[test]
fn a_file_the_folders_already_give_its_level_is_left_alone() {
    use Sharing::{Private, Public};
    let files = folder_account(&[("open", "fold", Public), ("open/a", "plot", Private)]);
    let plan = diff(&policy("version: 1\ndefault: public\n"), &files);
    assert!(!plan.summary().has_changes(), "{:?}", changes(&plan));
    assert!(!plan.entries[1].is_noncompliant());
}

#[test]
fn every_folder_above_a_file_is_restricted_to_what_it_wants_and_no_rule_on_a_folder_can_expose_it()
{
    use Sharing::{Private, Public, Secret};
    let files = folder_account(&[
        ("a", "fold", Public),
        ("a/b", "fold", Private),
        ("a/b/c", "fold", Public),
        ("a/b/c/keep-secret", "plot", Secret),
        ("a/b/c/keep-private", "plot", Private),
        ("a/b/other", "plot", Public),
    ]);
    let plan = diff(
        &policy(
            "version: 1\ndefault: public\nrules:\n  - match: \"**\"\n    filetypes: [fold]\n    sharing: public\n  - match: \"a/b/c/keep-secret\"\n    sharing: secret\n  - match: \"a/b/c/keep-private\"\n    sharing: private\n",
        ),
        &files,
    );
    // The rule wants every folder public, but keep-private is below all three.
    assert_eq!(
        changes(&plan),
        ["a public->private", "a/b/c public->private"]
    );
    let c = plan
        .entries
        .iter()
        .find(|e| e.file.path == "a/b/c")
        .unwrap();
    assert!(
        matches!(&c.decided_by, DecidedBy::Contents(r) if r.path == "a/b/c/keep-private" && r.wants == Private),
        "{:?}",
        c.decided_by
    );
}

mod converges {
    //! Whatever the tree and the policy, applying the plan leaves every managed file at the
    //! level the policy wants, as the world sees it, and every unmanaged file's own flags as
    //! they were: on a server that cascades folder changes to their contents and on one that
    //! does not.
    use proptest::prelude::*;

    use super::*;

    /// Nodes: (parent node or root, is a folder, own level, the policy's target: 0..3 a
    /// level, 3 ignore).
    fn nodes() -> impl Strategy<Value = Vec<(usize, bool, usize, usize)>> {
        proptest::collection::vec((0usize..12, any::<bool>(), 0usize..3, 0usize..4), 1..12)
    }

    fn build(nodes: &[(usize, bool, usize, usize)]) -> (Inventory, String) {
        let (files, rules) = random_account(nodes);
        let policy = format!("version: 1\ndefault: ignore\nrules:\n{rules}");
        (Inventory::new(files), policy)
    }

    /// Sets a file's flags; on a cascading server a folder's flags also go to everything below.
    fn write(files: &mut [RemoteFile], i: usize, to: Sharing, cascade: bool) {
        files[i].flags = to.flags();
        if cascade && files[i].filetype == FileType::Folder {
            let prefix = format!("{}/", files[i].path);
            for f in files.iter_mut().filter(|f| f.path.starts_with(&prefix)) {
                f.flags = to.flags();
            }
        }
    }

    fn depth(file: &RemoteFile) -> usize {
        file.path.matches('/').count()
    }

    /// Applies a plan as `apply` does (see `apply/restore.rs`): in each phase (restrict, then
    /// expose) the folders, shallow first; then the files below changed folders put back,
    /// folders shallow first and files last (managed ones to where the plan leaves them,
    /// ignored ones only down to their level before the run); then the files.
    fn apply(plan: &Plan, cascade: bool) -> Vec<RemoteFile> {
        let mut files: Vec<RemoteFile> = plan.entries.iter().map(|e| e.file.clone()).collect();
        let before: Vec<Sharing> = files.iter().map(RemoteFile::sharing).collect();
        let changes: Vec<(usize, Sharing, Direction)> = plan
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e.action {
                Action::Change(to) => Some((i, to, Direction::of(before[i], to))),
                _ => None,
            })
            .collect();
        for phase in [Direction::Restrict, Direction::Expose] {
            let mut folders: Vec<(usize, Sharing)> = changes
                .iter()
                .filter(|(i, _, d)| *d == phase && files[*i].filetype == FileType::Folder)
                .map(|(i, to, _)| (*i, *to))
                .collect();
            folders.sort_by_key(|(i, _)| depth(&files[*i]));
            let changed_folders = !folders.is_empty();
            for (i, to) in folders {
                write(&mut files, i, to, cascade);
            }
            if changed_folders {
                put_back(plan, &mut files, &before, phase, cascade);
            }
            for (i, to, d) in &changes {
                if *d == phase && files[*i].filetype != FileType::Folder {
                    write(&mut files, *i, *to, cascade);
                }
            }
        }
        files
    }

    fn put_back(
        plan: &Plan,
        files: &mut [RemoteFile],
        before: &[Sharing],
        phase: Direction,
        cascade: bool,
    ) {
        let mut order: Vec<usize> = (0..files.len())
            .filter(|&i| plan.entries[i].under_change)
            .collect();
        order.sort_by_key(|&i| (files[i].filetype != FileType::Folder, depth(&files[i])));
        for i in order {
            let entry = &plan.entries[i];
            let planned = match entry.action {
                Action::Change(to) => Some((to, Direction::of(before[i], to))),
                _ => None,
            };
            let target = match (phase, planned) {
                (_, None) => before[i],
                (Direction::Restrict, Some(_)) => continue,
                (Direction::Expose, Some((_, Direction::Expose)))
                    if files[i].filetype != FileType::Folder =>
                {
                    continue;
                }
                (Direction::Expose, Some((to, _))) => to,
            };
            let now = files[i].sharing();
            let managed = entry.action != Action::Ignore;
            if now == target || (!managed && now < target) {
                continue;
            }
            write(files, i, target, cascade);
        }
    }

    proptest! {
        // Enough cases to meet an unmanaged folder between a restricted one and a managed
        // file (the red team's case) every run.
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn applying_the_plan_reaches_the_policy_by_effective_level(nodes in nodes(), cascade in any::<bool>()) {
            let (inventory, source) = build(&nodes);
            let policy = policy(&source);
            let plan = diff(&policy, &inventory);
            let after = apply(&plan, cascade);
            let effective = effective_levels(&after);
            for ((entry, file), level) in plan.entries.iter().zip(&after).zip(&effective) {
                // A folder capped for its contents ends at the cap (its `wanted`) too.
                if let Some(wanted) = entry.wanted {
                    prop_assert_eq!(*level, wanted, "{} in {} (cascade {})", &file.path, &source, cascade);
                } else if cascade {
                    // An ignored file may be left lower by a cascade, never higher.
                    prop_assert!(file.sharing() <= entry.current(), "{} in {}", &file.path, &source);
                } else {
                    prop_assert_eq!(file.flags, entry.file.flags, "{}", &file.path);
                }
            }
            // And planning again finds nothing to do.
            let again = Inventory::new(after);
            let replan = diff(&policy, &again);
            prop_assert!(!replan.summary().has_changes(), "{:?}", changes(&replan));
        }

        #[test]
        fn an_export_plans_to_no_change(nodes in nodes()) {
            let (inventory, _) = build(&nodes);
            let exported = crate::export::export(&inventory).expect("distinct paths");
            let policy = policy(&crate::render::yaml::exported_policy(&exported, "test"));
            let plan = diff(&policy, &inventory);
            prop_assert!(!plan.summary().has_changes(), "{:?}", changes(&plan));
            prop_assert!(plan.entries.iter().all(|e| !e.is_noncompliant()));
        }
    }
}

/// `--target`: every file is judged, but only targeted ones change, count and break limits;
/// a folder outside the targets changes only when it exposes a targeted file more than the
/// policy wants, and files below a targeted folder that changes are marked for apply's
/// re-read whether targeted or not.
#[test]
fn a_targeted_plan_changes_only_its_paths_but_judges_the_whole_account() {
    let inventory = Inventory::new(vec![
        file("a:1", "reports", "fold", Sharing::Public),
        file("a:2", "reports/q3", "plot", Sharing::Private),
        file("a:3", "finance", "fold", Sharing::Public),
        file("a:4", "finance/pay", "plot", Sharing::Public),
        file("a:5", "hr/bands", "plot", Sharing::Public),
        file("a:6", "hr", "fold", Sharing::Private),
    ]);
    let policy = policy(
        "version: 1\ndefault: private\nrules:\n  - match: [\"reports\", \"finance\"]\n    filetypes: [fold]\n    sharing: private\nguardrails:\n  max_changes: 1\n",
    );
    let whole = diff(&policy, &inventory);
    assert_eq!(
        changes(&whole),
        [
            "finance public->private",
            "finance/pay public->private",
            "hr/bands public->private",
            "reports public->private"
        ]
    );
    let targets = Targets::new(&["reports".into(), "finance/**".into()]).unwrap();
    let plan = diff_targeted(&policy, &inventory, &targets);
    // `finance/**` does not match the folder `finance`, but the folder exposes `finance/pay`:
    // it comes into the targets, or the world would still see the file.
    assert_eq!(
        changes(&plan),
        [
            "finance public->private",
            "finance/pay public->private",
            "reports public->private"
        ]
    );
    let summary = plan.summary();
    assert_eq!(
        (
            summary.restrict,
            summary.expose,
            summary.unchanged,
            summary.ignored
        ),
        (3, 0, 0, 0)
    );
    assert_eq!(plan.folder_changes.len(), 2);
    assert_eq!(plan.folder_changes[1].path, "reports");
    let under: Vec<&str> = plan
        .entries
        .iter()
        .filter(|e| e.under_change)
        .map(|e| e.file.path.as_str())
        .collect();
    assert_eq!(
        under,
        ["finance/pay", "reports/q3"],
        "below a folder that changes, targeted or not"
    );
    // A folder that exposes nothing targeted stays outside: `hr/bands` is its own problem.
    let only_hr = Targets::new(&["hr/**".into()]).unwrap();
    assert_eq!(
        changes(&diff_targeted(&policy, &inventory, &only_hr)),
        ["hr/bands public->private"]
    );
    // Guardrails count the targeted changes only.
    assert!(
        breaches(&plan, &policy.guardrails).is_empty(),
        "2 managed files: under the minimum"
    );
    assert_eq!(
        whole.entries.len(),
        plan.entries.len(),
        "every file is still judged"
    );
}

/// A targeted file seen through a folder the plan restricts brings the folder into the
/// targets, for `never_public` as for what the policy wants, and with the folder the writes
/// the whole plan makes below it: a file that wants public and was public only through the
/// folder gets its own flag, so a targeted apply leaves nothing below less compliant.
#[test]
fn a_targeted_plan_takes_the_folder_that_exposes_its_files_and_what_that_folder_needs() {
    let guarded = Inventory::new(vec![
        file("a:1", "fin", "fold", Sharing::Public),
        file("a:2", "fin/payroll", "plot", Sharing::Private),
        file("a:3", "fin/x", "plot", Sharing::Private),
    ]);
    let policy_guarded = policy(
        "version: 1\ndefault: ignore\nrules:\n  - match: \"fin/x\"\n    sharing: private\nguardrails:\n  never_public: [\"fin/**\"]\n",
    );
    let payroll = Targets::new(&["fin/payroll".into()]).unwrap();
    assert_eq!(
        changes(&diff_targeted(&policy_guarded, &guarded, &payroll)),
        ["fin public->private"],
        "unmanaged, but never_public and public through `fin`"
    );
    // Two folders listed with one path: both expose what lies there, both come in.
    let twice = Inventory::new(vec![
        file("a:1", "fin", "fold", Sharing::Public),
        file("a:4", "fin", "fold", Sharing::Public),
        file("a:2", "fin/payroll", "plot", Sharing::Private),
        file("a:3", "fin/x", "plot", Sharing::Private),
    ]);
    assert_eq!(
        changes(&diff_targeted(&policy_guarded, &twice, &payroll)).len(),
        2,
        "{:?}",
        changes(&diff_targeted(&policy_guarded, &twice, &payroll))
    );

    let below = Inventory::new(vec![
        file("a:1", "fin", "fold", Sharing::Public),
        file("a:2", "fin/payroll", "plot", Sharing::Private),
        file("a:3", "fin/report", "plot", Sharing::Private),
        file("a:4", "fin/other", "plot", Sharing::Public),
        file("a:5", "elsewhere", "plot", Sharing::Public),
    ]);
    let policy_below = policy(
        "version: 1\ndefault: private\nrules:\n  - match: \"fin/report\"\n    sharing: public\n  - match: \"fin/**\"\n    sharing: private\n",
    );
    let whole = diff(&policy_below, &below);
    let targeted = diff_targeted(&policy_below, &below, &payroll);
    assert_eq!(
        changes(&targeted),
        [
            "fin public->private",
            "fin/other public->private",
            "fin/report private->public"
        ]
    );
    assert_eq!(
        changes(&whole),
        [
            "elsewhere public->private",
            "fin public->private",
            "fin/other public->private",
            "fin/report private->public"
        ],
        "the same writes below `fin` as the whole plan, nothing elsewhere"
    );
}
