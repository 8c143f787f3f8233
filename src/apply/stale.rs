//! Whether a saved plan still holds: its files as it saw them, and a fresh plan of the same
//! policy making exactly its changes.

use std::collections::{HashMap, HashSet};

use super::change::{self, Change};
use super::saved::SavedPlan;
use crate::inventory::{Flags, Inventory, Sharing};
use crate::plan::Plan;

/// A planned file that no longer is as the saved plan says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Drift {
    pub fid: String,
    /// Its path in the plan (or, for a change only the fresh plan makes, now).
    pub path: String,
    pub what: Drifted,
}

/// What differs for one file between a saved plan and the account or its policy now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Drifted {
    /// The file is not in the account any more.
    Gone,
    /// The file is elsewhere now.
    Moved {
        /// Its path now.
        to: String,
    },
    /// The file's flags are not the ones the plan observed.
    Reflagged {
        /// Its flags now.
        now: Flags,
        /// The level the plan saw.
        saw: Sharing,
    },
    /// The policy now wants another level than the plan sets.
    Retargeted {
        /// The planned level before.
        from: Sharing,
        /// The planned level after.
        to: Sharing,
        /// The level the policy wants now.
        wanted: Sharing,
    },
    /// Same levels, but another type, rule or requirement than a fresh plan gives.
    Edited,
    /// The policy no longer changes the file.
    Unneeded {
        /// The planned level before.
        from: Sharing,
        /// The planned level after.
        to: Sharing,
    },
    /// The policy now changes a file the plan does not mention.
    Unplanned {
        from: Sharing,
        /// The level the policy wants.
        to: Sharing,
    },
}

/// Everything that makes a saved plan stale.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Staleness {
    /// The files that differ, by path then fid.
    pub files: Vec<Drift>,
    /// Whether the rules that decide no file differ from the saved plan's.
    pub dead_rules_differ: bool,
}

impl Staleness {
    /// How many differences there are.
    pub(crate) fn len(&self) -> usize {
        self.files.len() + usize::from(self.dead_rules_differ)
    }

    /// Whether the saved plan still holds.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Compares a saved plan with a fresh listing: every planned file must still exist, at the
/// same path, with the flags the plan observed. In plan order.
pub(crate) fn check_stale(plan: &SavedPlan, inventory: &Inventory) -> Vec<Drift> {
    let now: HashMap<&str, _> = inventory
        .files()
        .iter()
        .map(|f| (f.fid.as_str(), f))
        .collect();
    plan.changes
        .iter()
        .filter_map(|change| {
            let what = match now.get(change.fid.as_str()) {
                None => Drifted::Gone,
                Some(file) if file.path != change.path => Drifted::Moved {
                    to: file.path.clone(),
                },
                Some(file) if file.flags != change.observed => Drifted::Reflagged {
                    now: file.flags,
                    saw: change.from,
                },
                Some(_) => return None,
            };
            Some(Drift {
                fid: change.fid.clone(),
                path: change.path.clone(),
                what,
            })
        })
        .collect()
}

/// Everything that makes a saved plan stale: its files' drift in the listing
/// ([`check_stale`]), changes a fresh plan of the same policy no longer makes or makes
/// differently, changes the fresh plan makes that the saved one does not mention, and other
/// dead rules.
pub(crate) fn stale_changes(
    saved: &SavedPlan,
    fresh: &Plan<'_>,
    inventory: &Inventory,
) -> Staleness {
    let mut files = check_stale(saved, inventory);
    let drifted: HashSet<String> = files.iter().map(|d| d.fid.clone()).collect();
    let fresh_changes = change::changes(fresh);
    let wanted: HashMap<&str, &Change> =
        fresh_changes.iter().map(|c| (c.fid.as_str(), c)).collect();
    let planned: HashSet<&str> = saved.changes.iter().map(|c| c.fid.as_str()).collect();
    for change in &saved.changes {
        if drifted.contains(&change.fid) {
            continue;
        }
        let what = match wanted.get(change.fid.as_str()) {
            Some(now) if **now == *change => continue,
            Some(now) if now.to != change.to => Drifted::Retargeted {
                from: change.from,
                to: change.to,
                wanted: now.to,
            },
            Some(_) => Drifted::Edited,
            None => Drifted::Unneeded {
                from: change.from,
                to: change.to,
            },
        };
        files.push(Drift {
            fid: change.fid.clone(),
            path: change.path.clone(),
            what,
        });
    }
    for change in &fresh_changes {
        if !planned.contains(change.fid.as_str()) {
            files.push(Drift {
                fid: change.fid.clone(),
                path: change.path.clone(),
                what: Drifted::Unplanned {
                    from: change.from,
                    to: change.to,
                },
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.fid.cmp(&b.fid)));
    Staleness {
        files,
        dead_rules_differ: saved.dead_rules != fresh.dead_rules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::DecidingRule;
    use crate::apply::saved::Origin;
    use crate::inventory::{FileType, RemoteFile};
    use crate::render::refusal::drifted;

    fn plan(changes: Vec<Change>) -> SavedPlan {
        SavedPlan {
            policy_sha256: None,
            origin: Origin::Account {
                api_url: "http://127.0.0.1:1".into(),
                user: "a".into(),
            },
            changes,
            dead_rules: Vec::new(),
            targets: Vec::new(),
        }
    }

    fn file(fid: &str, path: &str, flags: Flags) -> RemoteFile {
        RemoteFile {
            fid: fid.into(),
            path: path.into(),
            filetype: FileType::Plot,
            flags,
        }
    }

    #[test]
    fn stale_plans_name_every_drifted_file() {
        let saved = plan(vec![
            Change::plot("a:1", "x", Sharing::Public, Sharing::Private),
            Change::plot("a:2", "y", Sharing::Private, Sharing::Secret),
            Change::plot("a:3", "z", Sharing::Secret, Sharing::Private),
            Change::plot("a:4", "w", Sharing::Public, Sharing::Secret),
        ]);
        let now = Inventory::new(vec![
            file("a:1", "x", Sharing::Public.flags()),
            file("a:2", "y", Sharing::Public.flags()),
            file("a:4", "moved/w", Sharing::Public.flags()),
        ]);
        let drift = check_stale(&saved, &now);
        let said: Vec<String> = drift.iter().map(|d| drifted(&d.what)).collect();
        let named: Vec<(&str, &str)> = drift
            .iter()
            .zip(&said)
            .map(|(d, what)| (d.fid.as_str(), what.as_str()))
            .collect();
        assert_eq!(
            named,
            [
                (
                    "a:2",
                    "is now public (world_readable=true, share_key_enabled=false), the plan saw private"
                ),
                ("a:3", "no longer exists"),
                ("a:4", "moved to moved/w"),
            ]
        );
    }

    #[test]
    fn a_share_key_turned_on_for_a_planned_public_file_makes_the_plan_stale() {
        let saved = plan(vec![Change::plot(
            "a:1",
            "x",
            Sharing::Public,
            Sharing::Private,
        )]);
        let now = Inventory::new(vec![file(
            "a:1",
            "x",
            Flags {
                world_readable: true,
                share_key_enabled: true,
            },
        )]);
        let drift = check_stale(&saved, &now);
        assert_eq!(drift.len(), 1, "{drift:?}");
        assert!(
            drifted(&drift[0].what).contains("share_key_enabled=true"),
            "{}",
            drifted(&drift[0].what)
        );
    }

    #[test]
    fn a_fresh_plan_that_differs_makes_each_difference_a_drift() {
        let policy = crate::policy::Policy::parse(
            "version: 1\ndefault: private\nrules:\n  - match: [\"pub/**\"]\n    sharing: public\n",
            "p.yaml",
        )
        .unwrap();
        let before = Inventory::new(vec![
            file("a:1", "pub/a", Sharing::Private.flags()),
            file("a:2", "x", Sharing::Public.flags()),
            file("a:3", "y", Sharing::Public.flags()),
            file("a:4", "pub/w", Sharing::Public.flags()),
        ]);
        let planned = crate::plan::diff(&policy, &before);
        let mut saved = plan(change::changes(&planned));
        saved.changes[0].to = Sharing::Secret;
        saved.changes[1].rule = DecidingRule::Rule {
            number: 9,
            pattern: "q".into(),
            line: 3,
        };
        saved.changes.retain(|c| c.fid != "a:3");
        saved.changes.push(Change::plot(
            "a:4",
            "pub/w",
            Sharing::Public,
            Sharing::Private,
        ));
        saved.dead_rules.push(crate::plan::RuleRef {
            number: 2,
            line: 9,
            patterns: vec!["old/**".into()],
        });
        let fresh = crate::plan::diff(&policy, &before);
        let staleness = stale_changes(&saved, &fresh, &before);
        let found: Vec<(&str, &Drifted)> = staleness
            .files
            .iter()
            .map(|d| (d.fid.as_str(), &d.what))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "a:1",
                    &Drifted::Retargeted {
                        from: Sharing::Private,
                        to: Sharing::Secret,
                        wanted: Sharing::Public
                    }
                ),
                (
                    "a:4",
                    &Drifted::Unneeded {
                        from: Sharing::Public,
                        to: Sharing::Private
                    }
                ),
                ("a:2", &Drifted::Edited),
                (
                    "a:3",
                    &Drifted::Unplanned {
                        from: Sharing::Public,
                        to: Sharing::Private
                    }
                ),
            ]
        );
        assert!(staleness.dead_rules_differ, "the policy has no rule 2");
        assert_eq!(staleness.len(), 5);
    }
}
