//! Compliance: what is wrong with the account today, as a read-only judgement.
//!
//! A finding is either drift (a managed file whose sharing differs from what the policy wants)
//! or a `never_public` file that is public right now, whether or not the policy manages it.

use crate::inventory::{Coverage, FileType, Sharing};
use crate::plan::{Action, DecidedBy, Plan};
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

    /// Whether nothing is wrong: no finding, and no listed file left unjudged.
    pub(crate) fn is_compliant(&self) -> bool {
        self.findings().next().is_none() && self.coverage.unplaced == 0
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
        coverage: plan.coverage,
        dead_rules: plan.dead_rules.clone(),
        dead_patterns: plan.dead_patterns.clone(),
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
}
