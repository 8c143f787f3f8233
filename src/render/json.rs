//! JSON is a rendering of the plan and of the check report: this module builds their wire
//! documents ([`crate::wire`]), which carry messages in words, and writes them.

use std::io::{self, Write};

use super::{CheckView, Painter, PlanView};
use crate::apply::DecidingRule;
use crate::check::{Finding, Kind, Report};
use crate::plan::{Breach, Direction, Plan, Summary};
use crate::policy::Policy;
use crate::wire::check::{CHECK_FORMAT_VERSION, CheckJson, CheckSummaryJson, ViolationJson};
use crate::wire::plan::{
    BreachJson, ChangeJson, DeadPatternJson, DeadRuleJson, DirectionJson, FolderChangeJson,
    PLAN_FORMAT_VERSION, PLAN_FORMAT_VERSION_TARGETED, PlanFile, RequiredByJson, RuleJson, Source,
    SummaryJson, ThroughJson,
};

/// Writes the plan's JSON document (the one `--out` saves).
pub(crate) fn plan(view: &PlanView, _painter: Painter, out: &mut dyn Write) -> io::Result<()> {
    write(&view.file, out)
}

/// Writes the check result as JSON.
pub(crate) fn check(
    view: &CheckView<'_>,
    _painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut json = check_json(view.report, view.policy, view.source.clone());
    if !view.targets.is_empty() {
        // A targeted check cannot vouch for the account: never `compliant`.
        json.compliant = false;
        json.targets = view.targets.to_vec();
    }
    write(&json, out)
}

/// Writes any JSON document, pretty-printed, with a trailing newline.
pub(crate) fn write(value: &impl serde::Serialize, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    out.write_all(b"\n")
}

/// The wire form of a plan, the guardrails it breaks in words.
pub(crate) fn plan_file(
    plan: &Plan,
    policy: &Policy,
    (source, targets): (Source, &[String]),
    breaches: &[Breach],
) -> PlanFile {
    PlanFile {
        // A targeted plan is version 2, which a version-1-only reader refuses.
        format_version: if targets.is_empty() {
            PLAN_FORMAT_VERSION
        } else {
            PLAN_FORMAT_VERSION_TARGETED
        },
        targets: targets.to_vec(),
        policy: policy.name.clone(),
        policy_sha256: Some(policy.digest.clone()),
        source,
        summary: summary_json(plan.summary()),
        changes: plan.changes().map(change_json).collect(),
        dead_rules: dead_rules_json(&plan.dead_rules),
        dead_patterns: dead_patterns_json(&plan.dead_patterns),
        guardrails: breaches
            .iter()
            .map(|breach| BreachJson {
                guardrail: breach.setting().to_owned(),
                message: super::text::breach(breach),
            })
            .collect(),
        listing: plan.coverage,
        folders: plan
            .folder_changes
            .iter()
            .map(|f| FolderChangeJson {
                fid: f.fid.clone(),
                path: f.path.clone(),
                from: f.from,
                to: f.to,
                files_below: f.files_below,
                secret_below: f.secret_below,
            })
            .collect(),
    }
}

/// The wire form of a check report, each violation explained in words.
pub(crate) fn check_json(report: &Report, policy: &str, source: Source) -> CheckJson {
    let (drift, never_public) = report.counts();
    CheckJson {
        format_version: CHECK_FORMAT_VERSION,
        policy: policy.to_owned(),
        source,
        compliant: report.is_compliant(),
        targets: Vec::new(),
        summary: CheckSummaryJson {
            files: report.judged.len(),
            violations: drift + never_public,
            drift,
            never_public,
        },
        violations: report.findings().map(violation_json).collect(),
        dead_rules: dead_rules_json(&report.dead_rules),
        dead_patterns: dead_patterns_json(&report.dead_patterns),
        listing: report.coverage,
    }
}

fn summary_json(summary: Summary) -> SummaryJson {
    SummaryJson {
        restrict: summary.restrict,
        expose: summary.expose,
        unchanged: summary.unchanged,
        ignored: summary.ignored,
    }
}

/// A planned change as the plan file holds it: through the domain change apply reads back
/// ([`crate::apply::Change`]), so what is saved and what is compared are one mapping.
fn change_json(change: crate::plan::Change<'_>) -> ChangeJson {
    let through =
        super::view::through(&change).map(|(folder, level)| ThroughJson { folder, level });
    let change = crate::apply::Change::from(change);
    ChangeJson {
        through,
        action: change.direction().into(),
        rule: RuleJson::from(&change.rule),
        required_by: change.required_by.map(|required| RequiredByJson {
            fid: required.fid,
            path: required.path,
            wants: required.wants,
        }),
        fid: change.fid,
        path: change.path,
        filetype: change.filetype,
        from: change.from,
        to: change.to,
        observed: change.observed,
    }
}

impl From<&DecidingRule> for RuleJson {
    fn from(rule: &DecidingRule) -> RuleJson {
        match rule {
            DecidingRule::Rule {
                number,
                pattern,
                line,
            } => RuleJson::Rule {
                index: *number,
                pattern: pattern.to_string(),
                line: *line,
            },
            DecidingRule::Default => RuleJson::Default,
        }
    }
}

fn violation_json(finding: &Finding) -> ViolationJson {
    let (kind, wanted, rule) = match &finding.kind {
        Kind::Drift { wanted, decided_by } => (
            "drift",
            Some(*wanted),
            Some(RuleJson::from(&DecidingRule::from(decided_by))),
        ),
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
        message: super::text::finding(finding),
    }
}

impl From<Direction> for DirectionJson {
    fn from(direction: Direction) -> DirectionJson {
        match direction {
            Direction::Restrict => DirectionJson::Restrict,
            Direction::Expose => DirectionJson::Expose,
        }
    }
}

/// Dead rules in their wire form, shared by the JSON plan and the JSON check.
fn dead_rules_json(rules: &[crate::plan::RuleRef]) -> Vec<DeadRuleJson> {
    rules
        .iter()
        .map(|rule| DeadRuleJson {
            index: rule.number,
            patterns: rule.patterns.iter().map(ToString::to_string).collect(),
            line: rule.line,
        })
        .collect()
}

/// Dead patterns in their wire form.
fn dead_patterns_json(patterns: &[crate::plan::DeadPattern]) -> Vec<DeadPatternJson> {
    patterns
        .iter()
        .map(|dead| DeadPatternJson {
            rule: dead.rule,
            pattern: dead.pattern.to_string(),
            line: dead.line,
        })
        .collect()
}
