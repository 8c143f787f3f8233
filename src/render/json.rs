//! JSON is a rendering of the plan and of the check report: this module builds their wire
//! documents ([`crate::wire`]), which carry messages in words, and writes them.

use std::io::{self, Write};

use serde_json::ser::{Formatter, PrettyFormatter};

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
    write(&view.document(), out)
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

/// Writes any JSON document, pretty-printed, with a trailing newline, streamed (a plan of
/// 10,000 changes is never held as one string). Characters a terminal would obey rather than
/// show (DEL, C1 controls, bidirectional overrides, zero-width characters) are written as
/// `\uXXXX` escapes, which `serde_json` leaves raw: a plan printed on a terminal must not
/// reorder or hide what it says.
pub(crate) fn write(value: &impl serde::Serialize, out: &mut dyn Write) -> io::Result<()> {
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut *out, Inert(PrettyFormatter::new()));
    value.serialize(&mut serializer)?;
    out.write_all(b"\n")
}

/// `serde_json`'s pretty printer, with [`plotward_visible::escape_json`] applied to the text
/// inside strings (the only place such characters can be).
struct Inert(PrettyFormatter<'static>);

impl Formatter for Inert {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        writer.write_all(plotward_visible::escape_json(fragment).as_bytes())
    }

    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_array(writer)
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object(writer)
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(writer, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_value(writer)
    }
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
        compliant: report.is_proven_compliant(),
        targets: Vec::new(),
        summary: CheckSummaryJson {
            files: report.files_judged(),
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
    let through = super::view::through(&change);
    change_json_of(crate::apply::Change::from(change), through)
}

/// The one mapping of a change (and the folder the world sees it through) to its JSON form,
/// for a fresh plan and for a view written back out.
pub(crate) fn change_json_of(
    change: crate::apply::Change,
    through: Option<(String, crate::inventory::Sharing)>,
) -> ChangeJson {
    ChangeJson {
        through: through.map(|(folder, level)| ThroughJson { folder, level }),
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// Whatever the strings, the JSON written holds no character a terminal obeys, and
        /// reads back as the same value.
        #[test]
        fn json_shows_any_string_inertly_and_reads_back(strings in prop::collection::vec(any::<String>(), 0..8)) {
            let mut out = Vec::new();
            super::write(&strings, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            prop_assert!(
                !text.chars().any(|c| c != '\n' && plotward_visible::needs_escape(c)),
                "{text:?}"
            );
            let back: Vec<String> = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(back, strings);
        }
    }

    #[test]
    fn bidi_overrides_and_del_are_escaped() {
        let mut out = Vec::new();
        super::write(&["a\u{202e}b\u{7f}c\u{200b}"], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[\n  \"a\\u202eb\\u007fc\\u200b\"\n]\n"
        );
    }
}
