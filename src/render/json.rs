//! JSON is a rendering of the plan and of the check report: this module builds their wire
//! documents ([`crate::wire`]), which carry messages in words, and writes them.

use std::io::{self, Write};

use serde_json::ser::Formatter;

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
///
/// Buffered here, where the writer's type is known: `serde_json` makes a write for every
/// token (some 160 for one change of a plan), and each going through `dyn Write` cost more
/// than the token itself (a plan of 594,000 changes over an organization spent seconds on it).
pub(crate) fn write(value: &impl serde::Serialize, out: &mut dyn Write) -> io::Result<()> {
    write_nested(value, 0, out)?;
    out.write_all(b"\n")
}

/// Writes a JSON value as it reads `depth` levels inside a pretty-printed document (its
/// lines indented by two spaces a level), with no line break before or after it: how a
/// document written a piece at a time (`render::accounts::PlansJson`) gets the bytes
/// [`write`] would give the whole.
pub(crate) fn write_nested(
    value: &impl serde::Serialize,
    depth: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut buffered = io::BufWriter::with_capacity(64 * 1024, out);
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut buffered, Inert::at_depth(depth));
    value.serialize(&mut serializer)?;
    buffered.flush()
}

/// `serde_json`'s pretty printer, written out, with [`plotward_visible::escape_json`]
/// applied to the text inside strings (the only place such characters can be). The same
/// output byte for byte (tested), but each line break and its indentation is one write:
/// `serde_json`'s writes the indentation one level at a time, five writes for a change's
/// nested keys, which was a tenth of writing an organization's plan.
struct Inert {
    /// Nesting depth: two spaces a level.
    depth: usize,
    /// Whether the container being written has a value yet (an empty one closes inline).
    has_value: bool,
}

impl Inert {
    fn at_depth(depth: usize) -> Inert {
        Inert {
            depth,
            has_value: false,
        }
    }

    /// A line break (after a comma unless `first`) and the indentation of `self.depth`.
    fn break_line<W: ?Sized + Write>(&self, writer: &mut W, first: bool) -> io::Result<()> {
        const SPACES: usize = 128;
        const LINE: &[u8; 2 + SPACES] = &{
            let mut line = [b' '; 2 + SPACES];
            line[0] = b',';
            line[1] = b'\n';
            line
        };
        let start = usize::from(first);
        let width = 2 * self.depth;
        if width <= SPACES {
            return writer.write_all(&LINE[start..2 + width]);
        }
        writer.write_all(&LINE[start..2])?;
        for _ in 0..self.depth {
            writer.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        writer.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.has_value {
            self.break_line(writer, true)?;
        }
        writer.write_all(bracket)
    }
}

impl Formatter for Inert {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        writer.write_all(plotward_visible::escape_json(fragment).as_bytes())
    }

    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.break_line(writer, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.break_line(writer, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
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
            DecidingRule::Default => RuleJson::Default {},
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
    use serde_json::Value;

    /// Any JSON value, nested up to four deep, with printable strings (the ones
    /// `escape_json` leaves as they are).
    fn any_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[ -~]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{0,6}", inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// The written-out pretty printer writes what `serde_json`'s writes, byte for byte,
        /// at any depth, empty containers included.
        #[test]
        fn json_is_pretty_printed_as_serde_json_does(value in any_value()) {
            let mut ours = Vec::new();
            super::write(&value, &mut ours).unwrap();
            let mut theirs = serde_json::to_vec_pretty(&value).unwrap();
            theirs.push(b'\n');
            prop_assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
        }

        /// Deeper than the indentation kept in one piece: still the same bytes.
        #[test]
        fn deep_nesting_is_indented_as_serde_json_does(depth in 60usize..80) {
            let mut value = Value::from(1);
            for _ in 0..depth {
                value = serde_json::json!({ "k": [value] });
            }
            let mut ours = Vec::new();
            super::write(&value, &mut ours).unwrap();
            let mut theirs = serde_json::to_vec_pretty(&value).unwrap();
            theirs.push(b'\n');
            prop_assert!(ours == theirs);
        }

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
