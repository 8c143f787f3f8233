use super::*;
use crate::inventory::{FileType, Flags, Inventory, RemoteFile};
use crate::policy::Policy;
use crate::wire::plan::PlanFile;

const POLICY: &str = "version: 1\ndefault: private\nrules:\n  - match: [\"pub/**\"]\n    sharing: public\n  - match: [\"old/**\"]\n    sharing: secret\n";

fn file(fid: &str, path: &str, sharing: Sharing) -> RemoteFile {
    RemoteFile {
        fid: fid.into(),
        path: path.into(),
        filetype: FileType::Plot,
        flags: sharing.flags(),
    }
}

/// A saved plan as `plan --out` writes it: one exposure (`a:1`) and two restrictions.
fn saved() -> PlanFile {
    let policy = Policy::parse(POLICY, "p.yaml").unwrap();
    let inventory = Inventory::new(vec![
        file("a:1", "pub/a", Sharing::Private),
        file("a:2", "x", Sharing::Public),
        file("a:3", "y", Sharing::Secret),
    ]);
    let plan = crate::plan::diff(&policy, &inventory);
    let source = Source::Api {
        api_url: "http://127.0.0.1:1".into(),
        user: "a".into(),
    };
    crate::render::json::plan_file(&plan, &policy, (source, &[]), &[])
}

fn edited(edit: impl FnOnce(&mut PlanFile)) -> Result<SavedPlan, SavedPlanError> {
    let mut file = saved();
    edit(&mut file);
    SavedPlan::try_from(file)
}

fn exposure(file: &mut PlanFile) -> &mut ChangeJson {
    file.changes.iter_mut().find(|c| c.fid == "a:1").unwrap()
}

#[test]
fn a_plan_as_saved_is_accepted_with_its_changes_in_order() {
    let plan = SavedPlan::try_from(saved()).unwrap();
    let changes: Vec<(&str, Direction)> = plan
        .changes
        .iter()
        .map(|c| (c.fid.as_str(), c.direction()))
        .collect();
    assert_eq!(
        changes,
        [
            ("a:1", Direction::Expose),
            ("a:2", Direction::Restrict),
            ("a:3", Direction::Restrict),
        ]
    );
    assert_eq!(plan.counts(), (2, 1));
    assert_eq!(
        plan.origin,
        Origin::Account {
            api_url: "http://127.0.0.1:1".into(),
            user: "a".into()
        }
    );
}

#[test]
fn another_format_version_is_refused() {
    assert_eq!(
        edited(|f| f.format_version = 3),
        Err(SavedPlanError::Version { found: 3 })
    );
}

#[test]
fn a_change_whose_action_contradicts_its_levels_is_refused() {
    // An exposure marked as a restriction would jump the restrict-first queue.
    assert_eq!(
        edited(|f| exposure(f).action = DirectionJson::Restrict),
        Err(SavedPlanError::Inconsistent {
            fid: "a:1".into(),
            why: Inconsistency::Direction
        })
    );
    assert_eq!(
        edited(|f| exposure(f).to = Sharing::Private),
        Err(SavedPlanError::Inconsistent {
            fid: "a:1".into(),
            why: Inconsistency::Unchanged
        })
    );
}

#[test]
fn a_change_whose_from_is_not_what_was_observed_is_refused() {
    let refused = edited(|f| {
        exposure(f).observed = Flags {
            world_readable: false,
            share_key_enabled: true,
        };
    });
    assert_eq!(
        refused,
        Err(SavedPlanError::Inconsistent {
            fid: "a:1".into(),
            why: Inconsistency::Observed
        })
    );
}

#[test]
fn a_file_changed_twice_is_refused() {
    let refused = edited(|f| {
        let mut again = exposure(f).clone();
        again.to = Sharing::Secret;
        f.changes.push(again);
        f.summary.expose += 1;
    });
    assert_eq!(refused, Err(SavedPlanError::Repeated { fid: "a:1".into() }));
}

#[test]
fn a_summary_that_hides_a_change_is_refused() {
    assert_eq!(
        edited(|f| f.summary.expose = 0),
        Err(SavedPlanError::Miscounted {
            says: (2, 0),
            holds: (2, 1)
        })
    );
}

#[test]
fn every_change_is_checked_before_repeats_and_the_summary() {
    let refused = edited(|f| {
        let again = f.changes[1].clone();
        f.changes.push(again);
        f.summary.expose = 9;
        f.changes[2].action = DirectionJson::Expose;
    });
    assert!(
        matches!(refused, Err(SavedPlanError::Inconsistent { ref fid, .. }) if fid == "a:3"),
        "{refused:?}"
    );
}

mod properties {
    //! A plan saved and read back is the plan made now, and no edit of a saved plan is
    //! accepted unless the plan still says one consistent thing.
    use proptest::prelude::*;

    use super::*;
    use crate::apply::changes;
    use crate::apply::stale::stale_changes;
    use crate::plan::tests::{LEVELS, random_account};

    /// Nodes: (parent node or root, is a folder, own level, the policy's target: 0..3 a
    /// level, 3 ignore, 4 no rule), and the policy's default (0..3 a level, 3 ignore).
    fn tree() -> impl Strategy<Value = (Vec<(usize, bool, usize, usize)>, usize)> {
        (
            proptest::collection::vec((0usize..10, any::<bool>(), 0usize..3, 0usize..5), 1..10),
            0usize..4,
        )
    }

    fn build(nodes: &[(usize, bool, usize, usize)], default: usize) -> (Inventory, Policy) {
        let (files, mut rules) = random_account(nodes);
        // A rule for nothing, so that dead rules travel too.
        rules.push_str("  - match: \"none/**\"\n    sharing: secret\n");
        let default = LEVELS.get(default).map_or("ignore", |l| l.as_str());
        let source = format!("version: 1\ndefault: {default}\nrules:\n{rules}");
        let policy = Policy::parse(&source, "p.yaml").expect("a valid policy");
        (Inventory::new(files), policy)
    }

    fn source() -> Source {
        Source::Api {
            api_url: "http://127.0.0.1:1".into(),
            user: "a".into(),
        }
    }

    /// One edit of a saved plan: what to change, in which change (modulo their number), and
    /// the new value's index.
    #[derive(Clone, Debug)]
    enum Edit {
        Action(usize, bool),
        From(usize, usize),
        To(usize, usize),
        Observed(usize, bool, bool),
        Repeat(usize),
        Restrictions(usize),
        Exposures(usize),
        Version(u32),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            (any::<usize>(), any::<bool>()).prop_map(|(i, r)| Edit::Action(i, r)),
            (any::<usize>(), 0usize..3).prop_map(|(i, l)| Edit::From(i, l)),
            (any::<usize>(), 0usize..3).prop_map(|(i, l)| Edit::To(i, l)),
            (any::<usize>(), any::<bool>(), any::<bool>())
                .prop_map(|(i, w, s)| Edit::Observed(i, w, s)),
            any::<usize>().prop_map(Edit::Repeat),
            (0usize..12).prop_map(Edit::Restrictions),
            (0usize..12).prop_map(Edit::Exposures),
            (0u32..3).prop_map(Edit::Version),
        ]
    }

    fn perform(file: &mut PlanFile, edit: &Edit) {
        let n = file.changes.len();
        let at = |i: usize| i % n.max(1);
        match *edit {
            Edit::Action(i, restrict) if n > 0 => {
                file.changes[at(i)].action = if restrict {
                    DirectionJson::Restrict
                } else {
                    DirectionJson::Expose
                };
            }
            Edit::From(i, level) if n > 0 => file.changes[at(i)].from = LEVELS[level],
            Edit::To(i, level) if n > 0 => file.changes[at(i)].to = LEVELS[level],
            Edit::Observed(i, world_readable, share_key_enabled) if n > 0 => {
                file.changes[at(i)].observed = Flags {
                    world_readable,
                    share_key_enabled,
                };
            }
            Edit::Repeat(i) if n > 0 => {
                let again = file.changes[at(i)].clone();
                file.changes.insert(at(i.wrapping_mul(7)), again);
            }
            Edit::Restrictions(count) => file.summary.restrict = count,
            Edit::Exposures(count) => file.summary.expose = count,
            Edit::Version(version) => file.format_version = version,
            _ => {}
        }
    }

    /// What a plan file must be refused for, checked independently of the code under test:
    /// `None` when it says one consistent thing.
    fn expected_refusal(file: &PlanFile) -> Option<&'static str> {
        // The edits never add targets: version 2 (targeted) without any is refused too.
        if file.format_version == 2 {
            return Some("targets");
        }
        if file.format_version != PLAN_FORMAT_VERSION {
            return Some("version");
        }
        let moves = |c: &ChangeJson| c.to != c.from;
        let agrees = |c: &ChangeJson| (c.to < c.from) == (c.action == DirectionJson::Restrict);
        let observed = |c: &ChangeJson| Sharing::from_flags(c.observed) == c.from;
        if !file
            .changes
            .iter()
            .all(|c| moves(c) && agrees(c) && observed(c))
        {
            return Some("inconsistent");
        }
        let fids: HashSet<&str> = file.changes.iter().map(|c| c.fid.as_str()).collect();
        if fids.len() != file.changes.len() {
            return Some("repeated");
        }
        let restrict = file
            .changes
            .iter()
            .filter(|c| c.action == DirectionJson::Restrict)
            .count();
        if (file.summary.restrict, file.summary.expose) != (restrict, file.changes.len() - restrict)
        {
            return Some("miscounted");
        }
        None
    }

    fn kind(error: &SavedPlanError) -> &'static str {
        match error {
            SavedPlanError::Version { .. } => "version",
            SavedPlanError::Targets { .. } | SavedPlanError::BadTarget(_) => "targets",
            SavedPlanError::Inconsistent { .. } => "inconsistent",
            SavedPlanError::Repeated { .. } => "repeated",
            SavedPlanError::Miscounted { .. } => "miscounted",
            SavedPlanError::Oversized { .. } => "oversized",
        }
    }

    /// A targeted plan is version 2 and names its targets; a plan of the whole account is
    /// version 1 and names none; anything else is refused, so no reader takes one for the
    /// other.
    #[test]
    fn targets_and_the_format_version_must_agree() {
        let (inventory, policy) = build(&[], 0);
        let plan = crate::plan::diff(&policy, &inventory);
        let targets = ["reports/**".to_owned()];
        let targeted = crate::render::json::plan_file(&plan, &policy, (source(), &targets), &[]);
        assert_eq!(targeted.format_version, 2);
        assert_eq!(
            SavedPlan::try_from(targeted.clone()).unwrap().targets,
            targets
        );
        let whole = crate::render::json::plan_file(&plan, &policy, (source(), &[]), &[]);
        assert_eq!(whole.format_version, 1);
        let mut v1_with_targets = whole.clone();
        v1_with_targets.targets = targets.to_vec();
        let mut v2_without = targeted.clone();
        v2_without.targets.clear();
        let mut bad_glob = targeted.clone();
        bad_glob.targets = vec!["/abs/**".to_owned()];
        for (file, want) in [
            (v1_with_targets, "targets"),
            (v2_without, "targets"),
            (bad_glob, "targets"),
        ] {
            assert_eq!(kind(&SavedPlan::try_from(file).unwrap_err()), want);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn a_saved_plan_reads_back_as_the_plan_made_now((nodes, default) in tree()) {
            let (inventory, policy) = build(&nodes, default);
            let plan = crate::plan::diff(&policy, &inventory);
            let breaches = crate::plan::breaches(&plan, &policy.guardrails);
            let text = serde_json::to_string(&crate::render::json::plan_file(&plan, &policy, (source(), &[]), &breaches))
                .unwrap();
            let file: PlanFile = serde_json::from_str(&text).unwrap();
            let saved = SavedPlan::try_from(file).unwrap();
            prop_assert_eq!(&saved.changes, &changes(&plan));
            prop_assert_eq!(&saved.dead_rules, &plan.dead_rules);
            prop_assert_eq!(saved.policy_sha256.as_deref(), Some(policy.digest.as_str()));
            let summary = plan.summary();
            prop_assert_eq!(saved.counts(), (summary.restrict, summary.expose));
            // So applying it against the same account and policy finds nothing stale.
            prop_assert!(stale_changes(&saved, &plan, &inventory).is_empty());
        }

        #[test]
        fn no_edit_is_accepted_inconsistent(
            (nodes, default) in tree(),
            edits in proptest::collection::vec(edit(), 1..4),
        ) {
            let (inventory, policy) = build(&nodes, default);
            let plan = crate::plan::diff(&policy, &inventory);
            let mut file = crate::render::json::plan_file(&plan, &policy, (source(), &[]), &[]);
            for edit in &edits {
                perform(&mut file, edit);
            }
            let expected = expected_refusal(&file);
            match SavedPlan::try_from(file.clone()) {
                Ok(saved) => {
                    prop_assert_eq!(expected, None, "accepted: {:?}", file.changes);
                    // What is accepted keeps each change's direction and order.
                    prop_assert_eq!(saved.changes.len(), file.changes.len());
                    for (kept, wire) in saved.changes.iter().zip(&file.changes) {
                        prop_assert_eq!(DirectionJson::from(kept.direction()), wire.action);
                        prop_assert_eq!(&kept.fid, &wire.fid);
                    }
                }
                Err(error) => prop_assert_eq!(expected, Some(kind(&error)), "{:?}", error),
            }
        }
    }
}

/// A small file cannot make `show` print gigabytes: a policy name, pattern or folder path
/// longer than any plan plotward writes is refused, naming what it is.
#[test]
fn oversized_texts_are_refused() {
    let long_name = edited(|file| file.policy = "p".repeat(5_000));
    assert_eq!(
        long_name.unwrap_err(),
        SavedPlanError::Oversized {
            what: "policy name"
        }
    );
    let long_pattern = edited(|file| {
        file.changes[0].rule = RuleJson::Rule {
            index: 1,
            pattern: "x".repeat(crate::limits::MAX_GLOB_CHARS + 1),
            line: 3,
        };
    });
    assert_eq!(
        long_pattern.unwrap_err(),
        SavedPlanError::Oversized { what: "pattern" }
    );
    assert!(edited(|file| file.policy = "p".repeat(4_000)).is_ok());
}
