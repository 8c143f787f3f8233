//! Compliance: what is wrong with the account today, as a read-only judgement.
//!
//! A finding is either drift (a managed file whose sharing differs from what the policy wants)
//! or a `never_public` file that is public right now, whether or not the policy manages it.

use serde::{Deserialize, Serialize};

use crate::inventory::{Coverage, FileType, Sharing};
use crate::plan::{Action, DecidedBy, Plan};
use crate::planfile::{RuleJson, Source};
use crate::policy::Guardrails;

/// The check format version.
pub const CHECK_FORMAT_VERSION: u32 = 1;

/// `check --format json`:
/// `{format_version, policy, source, compliant, summary: {files, violations, drift,
/// never_public}, violations: [{fid, path, filetype, kind, now, wanted?, rule?, message}]}`.
/// `kind` is `drift` (with `wanted` and `rule`) or `never_public`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckJson {
    /// Always [`CHECK_FORMAT_VERSION`].
    pub format_version: u32,
    /// The policy file.
    pub policy: String,
    /// Where the inventory came from.
    pub source: Source,
    /// Whether nothing is wrong.
    pub compliant: bool,
    /// The counts.
    pub summary: CheckSummaryJson,
    /// Every violation, by path.
    pub violations: Vec<ViolationJson>,
    /// Rules that decided no file (they protect nothing).
    pub dead_rules: Vec<crate::planfile::DeadRuleJson>,
    /// Patterns that match no file; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dead_patterns: Vec<crate::planfile::DeadPatternJson>,
    /// What the listing could not vouch for; absent when it was complete.
    #[serde(default, skip_serializing_if = "Coverage::is_full")]
    pub listing: Coverage,
}

impl CheckJson {
    /// The wire form of a check report.
    pub fn new(report: &Report, policy: &str, source: Source) -> CheckJson {
        let (drift, never_public) = report.counts();
        CheckJson {
            format_version: CHECK_FORMAT_VERSION,
            policy: policy.to_owned(),
            source,
            compliant: report.is_compliant(),
            summary: CheckSummaryJson {
                files: report.judged.len(),
                violations: drift + never_public,
                drift,
                never_public,
            },
            violations: report.findings().map(ViolationJson::new).collect(),
            dead_rules: crate::planfile::dead_rules_json(&report.dead_rules),
            dead_patterns: crate::planfile::dead_patterns_json(&report.dead_patterns),
            listing: report.coverage,
        }
    }
}

impl ViolationJson {
    fn new(finding: &Finding) -> ViolationJson {
        let (kind, wanted, rule) = match &finding.kind {
            Kind::Drift { wanted, decided_by } => {
                ("drift", Some(*wanted), Some(RuleJson::from(decided_by)))
            }
            Kind::NeverPublic => ("never_public", None, None),
        };
        ViolationJson {
            fid: finding.fid.clone(),
            path: finding.path.clone(),
            filetype: finding.filetype.clone(),
            kind: kind.to_owned(),
            now: finding.now,
            wanted,
            rule,
            through: finding.through.clone(),
            message: finding.message(),
        }
    }
}

/// Counts of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSummaryJson {
    /// Files judged.
    pub files: usize,
    /// All violations.
    pub violations: usize,
    /// Drifted files.
    pub drift: usize,
    /// Public `never_public` files.
    pub never_public: usize,
}

/// One violation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViolationJson {
    /// File id.
    pub fid: String,
    /// Path.
    pub path: String,
    /// File type.
    pub filetype: FileType,
    /// `drift` or `never_public`.
    pub kind: String,
    /// Sharing now.
    pub now: Sharing,
    /// What the policy wants (drift only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wanted: Option<Sharing>,
    /// What decided it (drift only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleJson>,
    /// The folder through which the file is more exposed than its own flags, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<String>,
    /// The explanation.
    pub message: String,
}

/// One violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// File id.
    pub fid: String,
    /// Path.
    pub path: String,
    /// File type.
    pub filetype: FileType,
    /// Its sharing now, as the world sees it (through its folders).
    pub now: Sharing,
    /// The folder that makes it more exposed than its own flags, when one does.
    pub through: Option<String>,
    /// For a `never_public` folder: whether the guardrail covers paths below it rather than
    /// the folder itself.
    pub below: bool,
    /// What is wrong.
    pub kind: Kind,
}

/// The kinds of violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
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

impl Finding {
    /// A one-line explanation: `public, the policy wants private (rule 1 "finance/**")`.
    pub fn message(&self) -> String {
        let through = self.through.as_deref().map_or(String::new(), |folder| {
            format!(" through folder {}/", crate::visible::escape(folder))
        });
        match &self.kind {
            Kind::Drift { wanted, decided_by } => format!(
                "{}{through}, the policy wants {wanted} ({})",
                self.now,
                crate::render::text::decided_by(decided_by)
            ),
            Kind::NeverPublic if self.below => {
                "a public folder, so its contents are public, but guardrails.never_public covers \
                 paths under it"
                    .to_owned()
            }
            Kind::NeverPublic => {
                format!("public{through}, but guardrails.never_public forbids it")
            }
        }
    }
}

/// The result of a check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
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
pub struct Judged {
    /// File id.
    pub fid: String,
    /// Path.
    pub path: String,
    /// File type.
    pub filetype: FileType,
    /// What is wrong with it.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Every finding, in path order.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.judged.iter().flat_map(|j| j.findings.iter())
    }

    /// Whether nothing is wrong: no finding, and no listed file left unjudged.
    pub fn is_compliant(&self) -> bool {
        self.findings().next().is_none() && self.coverage.unplaced == 0
    }

    /// `(drift, never_public)` counts.
    pub fn counts(&self) -> (usize, usize) {
        self.findings()
            .fold((0, 0), |(drift, never), f| match f.kind {
                Kind::Drift { .. } => (drift + 1, never),
                Kind::NeverPublic => (drift, never + 1),
            })
    }

    /// The closing line: `Check: 3 violations in 45 files (2 drifted, 1 public despite
    /// never_public).` or `Check: compliant, 45 files.`
    pub fn summary_line(&self) -> String {
        let dead = match self.dead_rules.len() {
            0 => String::new(),
            1 => " 1 rule decided no file.".to_owned(),
            n => format!(" {n} rules decided no file."),
        };
        let unmatched = match self.dead_patterns.len() {
            0 => String::new(),
            1 => " 1 pattern matches no file.".to_owned(),
            n => format!(" {n} patterns match no file."),
        };
        format!("{}{dead}{unmatched}", self.verdict())
    }

    /// The summary line without the dead-rule count.
    fn verdict(&self) -> String {
        let files = self.judged.len();
        if self.findings().next().is_none() && self.coverage.unplaced > 0 {
            return format!(
                "Check: not compliant: no violations in {files} files judged, but {} listed \
                 files could not be judged.",
                self.coverage.unplaced
            );
        }
        if self.is_compliant() {
            if self.coverage.unproven.is_some() {
                return format!(
                    "Check: no violations in {files} files listed, but the listing was not proven complete."
                );
            }
            return format!("Check: compliant, {files} files.");
        }
        let (drift, never) = self.counts();
        format!(
            "Check: {} violations in {files} files ({drift} drifted, {never} public despite never_public).",
            drift + never
        )
    }
}

/// Judges every managed file against its plan entry, and every file against `never_public`.
pub fn check(plan: &Plan, guardrails: &Guardrails) -> Report {
    let judged = plan
        .entries
        .iter()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Inventory, RemoteFile};
    use crate::policy::Policy;

    fn file(fid: &str, path: &str, level: Sharing) -> RemoteFile {
        RemoteFile {
            fid: fid.into(),
            path: path.into(),
            filetype: FileType::Plot,
            flags: level.flags(),
        }
    }

    #[test]
    fn drift_and_never_public_are_both_found() {
        let policy = Policy::parse(
            "version: 1\nrules:\n  - match: \"finance/**\"\n    sharing: private\n  - match: \"scratch/**\"\n    sharing: ignore\nguardrails:\n  never_public: [\"finance/**\", \"scratch/secret-*\"]\n",
            "p.yaml",
        )
        .unwrap();
        let inventory = Inventory::new(vec![
            file("a:1", "finance/payroll", Sharing::Public),
            file("a:2", "finance/ok", Sharing::Private),
            file("a:3", "scratch/secret-x", Sharing::Public),
            file("a:4", "scratch/other", Sharing::Public),
            file("a:5", "elsewhere", Sharing::Public),
        ]);
        let report = check(&crate::plan::diff(&policy, &inventory), &policy.guardrails);
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
        assert_eq!(
            report.summary_line(),
            "Check: 3 violations in 3 files (1 drifted, 2 public despite never_public)."
        );
        let first = report.findings().next().unwrap();
        assert_eq!(
            first.message(),
            "public, the policy wants private (rule 1 \"finance/**\")"
        );
    }
}
