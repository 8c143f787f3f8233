//! Compliance: what is wrong with the account today, as a read-only judgement.
//!
//! A finding is either drift (a managed file whose sharing differs from what the policy wants)
//! or a `never_public` file that is public right now, whether or not the policy manages it.

use std::collections::BTreeMap;

use crate::inventory::{Coverage, FileType, Sharing};
use crate::plan::{Action, DecidedBy, Entry, Plan};
use crate::policy::Guardrails;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    pub fid: String,
    pub path: String,
    pub filetype: FileType,
    /// Its sharing now, as the world sees it (through its folders).
    pub now: Sharing,
    /// The folder that makes it more exposed than its own flags, when one does.
    pub through: Option<String>,
    /// For a `never_public` folder: whether the guardrail covers paths below it rather than
    /// the folder itself.
    pub below: bool,
    pub kind: Kind,
}

/// The kinds of violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Sharing differs from the policy.
    Drift {
        /// What the policy wants.
        wanted: Sharing,
        /// Which part of the policy wants it.
        decided_by: DecidedBy,
    },
    /// Public, but `guardrails.never_public` forbids it.
    NeverPublic,
}

/// The result of a check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Report {
    /// Every file the check judged (managed files, and unmanaged `never_public` ones), by path.
    pub judged: Vec<Judged>,
    /// What the listing behind the check could not vouch for.
    pub coverage: Coverage,
    /// Rules that decided no file.
    pub dead_rules: Vec<crate::plan::RuleRef>,
    /// Patterns (of live rules, or `never_public`) that match no file.
    pub dead_patterns: Vec<crate::plan::DeadPattern>,
    /// Every file the check covers, by top-level folder and the level the world sees.
    pub exposure: Tally,
    /// Compliant files judged and then dropped by [`Report::keep_violations_only`]: still
    /// counted by [`Report::files_judged`].
    pub compliant_dropped: usize,
}

/// How many files the world sees at each level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Levels {
    pub public: usize,
    pub secret: usize,
    pub private: usize,
}

impl Levels {
    /// Counts one more file seen at `level`.
    fn count(&mut self, level: Sharing) {
        match level {
            Sharing::Public => self.public += 1,
            Sharing::Secret => self.secret += 1,
            Sharing::Private => self.private += 1,
        }
    }

    /// How many files at `level`.
    pub(crate) fn at(self, level: Sharing) -> usize {
        match level {
            Sharing::Public => self.public,
            Sharing::Secret => self.secret,
            Sharing::Private => self.private,
        }
    }

    /// All files, whatever their level.
    pub(crate) fn total(self) -> usize {
        self.public + self.secret + self.private
    }

    /// Both counts together.
    pub(crate) fn plus(self, other: Levels) -> Levels {
        Levels {
            public: self.public + other.public,
            secret: self.secret + other.secret,
            private: self.private + other.private,
        }
    }
}

/// Files (folders themselves not counted) by the level the world sees them at, through their
/// folders, per top-level folder: what an exposure chart draws. A plain count of the plan's
/// entries, kept with the report so every renderer of a check can show it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Keyed by the first segment of each path that has a folder; `None` for files at the
    /// account's root (no folder name can be confused with it).
    pub by_folder: BTreeMap<Option<String>, Levels>,
}

impl Tally {
    /// Counts the files of `entries` by their top-level folder and effective level.
    pub(crate) fn of<'e, 'p: 'e>(entries: impl IntoIterator<Item = &'e Entry<'p>>) -> Tally {
        let mut by_folder: BTreeMap<Option<String>, Levels> = BTreeMap::new();
        for entry in entries {
            if entry.file.filetype == FileType::Folder {
                continue;
            }
            let top = top_level_folder(&entry.file.path);
            // Most files share a folder with the one before; look up before allocating.
            match by_folder.get_mut(&top.map(str::to_owned)) {
                Some(levels) => levels.count(entry.effective),
                None => by_folder
                    .entry(top.map(str::to_owned))
                    .or_default()
                    .count(entry.effective),
            }
        }
        Tally { by_folder }
    }

    /// Every file counted, whatever its folder.
    pub(crate) fn total(&self) -> Levels {
        self.by_folder
            .values()
            .fold(Levels::default(), |sum, levels| sum.plus(*levels))
    }
}

/// The folder at the top of `path` (`finance` for `finance/q3/payroll`); `None` for a file at
/// the root.
fn top_level_folder(path: &str) -> Option<&str> {
    path.split_once('/').map(|(top, _)| top)
}

/// A file and its findings (none when compliant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Judged {
    pub fid: String,
    pub path: String,
    pub filetype: FileType,
    /// What is wrong with it.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Every finding, in path order.
    pub(crate) fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.judged.iter().flat_map(|j| j.findings.iter())
    }

    /// Drops the files judged compliant, keeping the findings, the tally, the coverage and the
    /// dead rules: what a run over many accounts keeps of each for its exposure report, so
    /// memory follows the violations rather than the files.
    pub(crate) fn keep_violations_only(&mut self) {
        let before = self.judged.len();
        self.judged.retain(|judged| !judged.findings.is_empty());
        self.compliant_dropped += before - self.judged.len();
    }

    /// How many files the check judged, those dropped as compliant included: what every
    /// report says ("N violations in M files"), whether or not it kept them.
    pub(crate) fn files_judged(&self) -> usize {
        self.judged.len() + self.compliant_dropped
    }

    /// Whether nothing is wrong: no finding, and no listed file left unjudged.
    pub(crate) fn is_compliant(&self) -> bool {
        self.findings().next().is_none() && self.coverage.unplaced == 0
    }

    /// Whether a report may call the account `compliant`: nothing wrong, and a listing proven
    /// complete. An accepted count mismatch (`--accept-count-mismatch`) leaves files the
    /// check never saw, so, like a targeted check, it finds nothing pending
    /// ([`Report::is_compliant`] decides the exit) yet vouches for less than the account.
    pub(crate) fn is_proven_compliant(&self) -> bool {
        self.is_compliant() && self.coverage.unproven.is_none()
    }

    /// `(drift, never_public)` counts.
    pub(crate) fn counts(&self) -> (usize, usize) {
        self.findings()
            .fold((0, 0), |(drift, never), f| match f.kind {
                Kind::Drift { .. } => (drift + 1, never),
                Kind::NeverPublic => (drift, never + 1),
            })
    }
}

/// Judges every managed file against its plan entry, and every file against `never_public`.
pub(crate) fn check(plan: &Plan, guardrails: &Guardrails) -> Report {
    let judged = plan
        .targeted()
        .filter_map(|entry| {
            let file = &entry.file;
            let through = entry.through.map(|folder| folder.path.clone());
            let mut findings = Vec::new();
            // Judged by what the world sees: a private file in a public folder is public.
            if let Some(wanted) = entry.wanted
                && entry.is_noncompliant()
            {
                findings.push(Finding {
                    fid: file.fid.clone(),
                    path: file.path.clone(),
                    filetype: file.filetype.clone(),
                    now: entry.effective,
                    through: through.clone(),
                    below: false,
                    kind: Kind::Drift {
                        wanted,
                        decided_by: entry.decided_by.clone(),
                    },
                });
            }
            // A public folder makes its contents public: one that can hold never_public
            // paths is a violation too.
            if entry.effective == Sharing::Public
                && let Some(exposure) = guardrails.exposed_if_public(&file.path, &file.filetype)
            {
                findings.push(Finding {
                    fid: file.fid.clone(),
                    path: file.path.clone(),
                    filetype: file.filetype.clone(),
                    now: Sharing::Public,
                    through,
                    below: matches!(exposure, crate::policy::Exposure::Under { .. }),
                    kind: Kind::NeverPublic,
                });
            }
            let managed = entry.action != Action::Ignore;
            (managed || !findings.is_empty()).then(|| Judged {
                fid: file.fid.clone(),
                path: file.path.clone(),
                filetype: file.filetype.clone(),
                findings,
            })
        })
        .collect();
    Report {
        judged,
        exposure: Tally::of(plan.targeted()),
        coverage: plan.coverage,
        dead_rules: plan.dead_rules.clone(),
        dead_patterns: plan.dead_patterns.clone(),
        compliant_dropped: 0,
    }
}

/// A check of five files against a policy with a private rule, an ignored area and two
/// `never_public` globs: one drifted file, two public despite `never_public`; for the tests of
/// the check and of its words.
#[cfg(test)]
pub(crate) fn example_report() -> Report {
    use crate::inventory::{Inventory, RemoteFile};
    let file = |fid: &str, path: &str, level: Sharing| RemoteFile {
        fid: fid.into(),
        path: path.into(),
        filetype: FileType::Plot,
        flags: level.flags(),
    };
    let policy = crate::policy::Policy::parse(
        "version: 1\nrules:\n  - match: \"finance/**\"\n    sharing: private\n  - match: \"scratch/**\"\n    sharing: ignore\nguardrails:\n  never_public: [\"finance/**\", \"scratch/secret-*\"]\n",
        "p.yaml",
    )
    .expect("the example policy is valid");
    let inventory = Inventory::new(vec![
        file("a:1", "finance/payroll", Sharing::Public),
        file("a:2", "finance/ok", Sharing::Private),
        file("a:3", "scratch/secret-x", Sharing::Public),
        file("a:4", "scratch/other", Sharing::Public),
        file("a:5", "elsewhere", Sharing::Public),
    ]);
    check(&crate::plan::diff(&policy, &inventory), &policy.guardrails)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeping_only_the_violations_still_counts_every_file_judged() {
        let mut report = example_report();
        let (files, counts) = (report.files_judged(), report.counts());
        assert_eq!(files, 3);
        report.keep_violations_only();
        assert_eq!(report.judged.len(), 2, "finance/ok is dropped");
        assert_eq!(report.files_judged(), files);
        assert_eq!(report.counts(), counts);
    }

    #[test]
    fn drift_and_never_public_are_both_found() {
        let report = example_report();
        let judged: Vec<(&str, usize)> = report
            .judged
            .iter()
            .map(|j| (j.path.as_str(), j.findings.len()))
            .collect();
        assert_eq!(
            judged,
            [
                ("finance/ok", 0),
                ("finance/payroll", 2),
                ("scratch/secret-x", 1)
            ]
        );
        assert_eq!(report.counts(), (1, 2));
    }

    #[test]
    fn the_tally_counts_files_by_top_level_folder_and_effective_level() {
        let report = example_report();
        let levels = |public, secret, private| Levels {
            public,
            secret,
            private,
        };
        let tally: Vec<(Option<&str>, Levels)> = report
            .exposure
            .by_folder
            .iter()
            .map(|(folder, levels)| (folder.as_deref(), *levels))
            .collect();
        assert_eq!(
            tally,
            [
                (None, levels(1, 0, 0)),
                (Some("finance"), levels(1, 0, 1)),
                (Some("scratch"), levels(2, 0, 0)),
            ]
        );
        assert_eq!(report.exposure.total(), levels(4, 0, 1));
    }

    #[test]
    fn the_tally_sees_through_folders_skips_folders_and_keeps_to_the_targets() {
        use crate::inventory::{Inventory, RemoteFile};
        let item = |fid: &str, path: &str, filetype: FileType, level: Sharing| RemoteFile {
            fid: fid.into(),
            path: path.into(),
            filetype,
            flags: level.flags(),
        };
        let inventory = Inventory::new(vec![
            item("a:1", "team", FileType::Folder, Sharing::Public),
            item("a:2", "team/deep", FileType::Folder, Sharing::Private),
            item("a:3", "team/deep/plot", FileType::Plot, Sharing::Private),
            item("a:4", "team/grid", FileType::Grid, Sharing::Secret),
            item("a:5", "other/plot", FileType::Plot, Sharing::Secret),
        ]);
        let policy = crate::policy::Policy::parse("version: 1\ndefault: private\n", "p.yaml")
            .expect("the policy is valid");
        let whole = check(&crate::plan::diff(&policy, &inventory), &policy.guardrails);
        let team = whole.exposure.by_folder[&Some("team".to_owned())];
        // Both files are public through the public folder; the folders are not counted.
        assert_eq!((team.public, team.secret, team.private), (2, 0, 0));
        assert_eq!(whole.exposure.total().total(), 3);

        let targets = crate::policy::Targets::new(&["other/**".to_owned()]).expect("valid");
        let plan = crate::plan::diff_targeted(&policy, &inventory, &targets);
        let targeted = check(&plan, &policy.guardrails);
        let folders: Vec<_> = targeted.exposure.by_folder.keys().cloned().collect();
        assert_eq!(folders, [Some("other".to_owned())]);
        assert_eq!(targeted.exposure.total().secret, 1);
    }
}
