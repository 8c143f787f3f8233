//! What a policy can do to paths it has never seen: used to refuse a policy that would make a
//! `never_public` path public, and by `plotward test` assertions.
//!
//! Glob overlap in general is hard; instead, each glob involved is expanded into a few
//! representative paths (`finance/**` gives `finance/x` and `finance/x/x`), and the policy
//! decides each of them for every file type. Whatever this finds is a real path the policy
//! would treat that way, with the rule that decides it; a miss proves nothing, which is why
//! `plan` and `check` also test every real file against the guardrails.

use std::collections::BTreeSet;

use super::matcher::glob_matcher;
use super::{Decision, Diagnostic, Policy, Span, Target};
use crate::inventory::{FileType, Sharing};

/// A path the policy would give a level, and what decides it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// A representative path.
    pub path: String,
    /// The file type tried.
    pub filetype: FileType,
    /// The deciding rule's number, or `None` for the default.
    pub rule: Option<usize>,
    /// Where the deciding rule (or `default`) is written.
    pub span: Option<Span>,
}

impl Witness {
    /// `rule 3` or `the default`.
    pub fn decided_by(&self) -> String {
        self.rule
            .map_or_else(|| "the default".to_owned(), |n| format!("rule {n}"))
    }
}

/// Representative paths for a glob; at most 64.
pub(super) fn samples(glob: &str) -> Vec<String> {
    const MAX: usize = 64;
    let chars: Vec<char> = glob.chars().collect();
    let mut outs = vec![String::new()];
    let mut i = 0;
    while i < chars.len() {
        let pieces: Vec<String> = match chars[i] {
            '\\' if i + 1 < chars.len() => {
                i += 1;
                vec![chars[i].to_string()]
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 1;
                if chars.get(i + 1) == Some(&'/') {
                    // `**/` also matches no folder at all.
                    i += 1;
                    vec![String::new(), "x/".into(), "x/x/".into()]
                } else {
                    vec!["x".into(), "x/x".into()]
                }
            }
            '*' | '?' => vec!["x".into()],
            '[' => {
                let (piece, end) = class_sample(&chars, i);
                i = end;
                vec![piece]
            }
            '{' => match chars[i..].iter().position(|c| *c == '}') {
                Some(offset) => {
                    let inner: String = chars[i + 1..i + offset].iter().collect();
                    i += offset;
                    inner.split(',').flat_map(samples).collect()
                }
                None => vec!["{".into()],
            },
            c => vec![c.to_string()],
        };
        outs = outs
            .iter()
            .flat_map(|out| pieces.iter().map(move |piece| format!("{out}{piece}")))
            .take(MAX)
            .collect();
        i += 1;
    }
    outs
}

/// One character a `[...]` class accepts, and the index of its closing bracket.
fn class_sample(chars: &[char], start: usize) -> (String, usize) {
    let mut i = start + 1;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let first = chars.get(i).copied();
    // A `]` right after the opening is a literal member. A class cut short (splitting a
    // glob on `/` can halve `[!/]`) runs to the end of the segment.
    let close = chars
        .get(i + 1..)
        .unwrap_or_default()
        .iter()
        .position(|c| *c == ']')
        .map_or(chars.len() - 1, |offset| i + 1 + offset);
    let piece = match (negated, first) {
        (false, Some(c)) => c.to_string(),
        _ => "~".to_owned(),
    };
    (piece, close)
}

/// A path both globs match, found segment by segment (`*/payroll` and `finance/**` meet at
/// `finance/payroll`); `None` when none is found.
pub(super) fn intersect(a: &str, b: &str) -> Option<String> {
    let (ma, mb) = (glob_matcher(a).ok()?, glob_matcher(b).ok()?);
    let accept = |path: &str| ma.is_match(path) && mb.is_match(path);
    let a: Vec<&str> = a.split('/').collect();
    let b: Vec<&str> = b.split('/').collect();
    let mut path = Vec::new();
    unify(&a, &b, &mut path, &accept, 0).then(|| path.join("/"))
}

/// Extends `path` with segments matching both segment lists, until a whole path both globs
/// accept; depth-bounded.
fn unify(
    a: &[&str],
    b: &[&str],
    path: &mut Vec<String>,
    accept: &dyn Fn(&str) -> bool,
    depth: usize,
) -> bool {
    if depth > 32 {
        return false;
    }
    match (a.first(), b.first()) {
        (None, None) => !path.is_empty() && accept(&path.join("/")),
        (Some(&"**"), _) => {
            // `**` matches one segment and stays, or no segment at all.
            take_one(b, path, |p| unify(a, &b[1..], p, accept, depth + 1))
                || unify(&a[1..], b, path, accept, depth + 1)
        }
        (_, Some(&"**")) => {
            take_one(a, path, |p| unify(&a[1..], b, p, accept, depth + 1))
                || unify(a, &b[1..], path, accept, depth + 1)
        }
        (Some(x), Some(y)) => match segment_meet(x, y) {
            Some(segment) => {
                path.push(segment);
                let found = unify(&a[1..], &b[1..], path, accept, depth + 1);
                if !found {
                    path.pop();
                }
                found
            }
            None => false,
        },
        _ => false,
    }
}

/// Consumes one segment of `rest` (a sample of it) and continues with `then`.
fn take_one(
    rest: &[&str],
    path: &mut Vec<String>,
    then: impl FnOnce(&mut Vec<String>) -> bool,
) -> bool {
    let Some(segment) = rest.first().and_then(|s| samples(s).into_iter().next()) else {
        return false;
    };
    if *rest.first().unwrap_or(&"") == "**" {
        return false;
    }
    path.push(segment);
    let found = then(path);
    if !found {
        path.pop();
    }
    found
}

/// A single path segment both segment globs match.
fn segment_meet(x: &str, y: &str) -> Option<String> {
    let (mx, my) = (glob_matcher(x).ok()?, glob_matcher(y).ok()?);
    samples(x)
        .into_iter()
        .chain(samples(y))
        .find(|s| !s.contains('/') && mx.is_match(s) && my.is_match(s))
}

/// Paths matching `glob` that the policy gives `level`, one per deciding rule (or default).
pub(super) fn witnesses(
    policy: &Policy,
    glob: &str,
    level: Sharing,
) -> Result<Vec<Witness>, String> {
    let matcher = glob_matcher(glob)?;
    let wanted = Target::Share(level);
    let mut candidates: BTreeSet<String> = samples(glob).into_iter().collect();
    for rule in policy.rules.iter().filter(|r| r.target == wanted) {
        for pattern in &rule.patterns {
            candidates.extend(samples(&pattern.glob));
            candidates.extend(intersect(&pattern.glob, glob));
        }
    }
    let filetypes: Vec<FileType> = FileType::COMMON
        .into_iter()
        .chain([FileType::Folder])
        .collect();
    let mut found: Vec<Witness> = Vec::new();
    let mut decider = policy.decider();
    for path in candidates.iter().filter(|p| matcher.is_match(p.as_str())) {
        for filetype in &filetypes {
            let decision = decider.decide(path, filetype);
            if decision.target() != wanted {
                continue;
            }
            let (rule, span) = match decision {
                Decision::Rule { rule, .. } => (Some(rule.number), Some(rule.span)),
                Decision::Default(_) | Decision::Folder => (None, policy.default_span),
            };
            if found.iter().all(|w| w.rule != rule) {
                found.push(Witness {
                    path: path.clone(),
                    filetype: filetype.clone(),
                    rule,
                    span,
                });
            }
        }
    }
    Ok(found)
}

/// Every rule (or default) that would make a `never_public` path public, as diagnostics at
/// that rule.
pub(super) fn never_public_breaches(policy: &Policy) -> Vec<Diagnostic> {
    let mut breaches = Vec::new();
    for pattern in &policy.guardrails.never_public {
        let Ok(found) = witnesses(policy, &pattern.glob, Sharing::Public) else {
            continue;
        };
        for witness in found {
            breaches.push(Diagnostic {
                message: format!(
                    "{} would make `{}` ({}) public, but guardrails.never_public lists `{}`",
                    witness.decided_by(),
                    witness.path,
                    witness.filetype,
                    pattern.glob
                ),
                span: witness.span,
                label: Some(format!(
                    "`{}` is at line {}",
                    pattern.glob, pattern.span.line
                )),
            });
        }
    }
    breaches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_cover_each_glob_construct() {
        assert_eq!(samples("finance/**"), ["finance/x", "finance/x/x"]);
        assert_eq!(
            samples("**/payroll"),
            ["payroll", "x/payroll", "x/x/payroll"]
        );
        assert_eq!(samples("a/*/b?"), ["a/x/bx"]);
        assert_eq!(samples("q[1-4]/{rev,churn}"), ["q1/rev", "q1/churn"]);
        assert_eq!(samples("lit\\*eral"), ["lit*eral"]);
        assert_eq!(samples("[!a]"), ["~"]);
    }

    fn policy(source: &str) -> Result<Policy, String> {
        Policy::parse(source, "p.yaml").map_err(|err| err.to_string())
    }

    #[test]
    fn a_rule_that_exposes_a_never_public_path_is_refused_at_its_line() {
        let err = policy(
            "version: 1\nrules:\n  - match: \"finance/reports/*\"\n    sharing: public\n  - match: \"hr/**\"\n    sharing: private\nguardrails:\n  never_public: [\"finance/**\", \"hr/**\"]\n",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "p.yaml:3:5: rule 1 would make `finance/reports/x` (plot) public, but guardrails.never_public lists `finance/**`"
        );
    }

    #[test]
    fn precedence_is_respected_and_the_default_is_checked() {
        // `**` is public, but an earlier rule keeps finance private: no breach.
        assert!(policy("version: 1\nrules:\n  - match: \"finance/**\"\n    sharing: private\n  - match: \"**\"\n    sharing: public\nguardrails:\n  never_public: \"finance/**\"\n").is_ok());
        let err = policy("version: 1\ndefault: public\nguardrails:\n  never_public: \"hr/**\"\n")
            .unwrap_err();
        assert!(
            err.starts_with("p.yaml:2:10: the default would make `hr/x` (plot) public"),
            "{err}"
        );
        // Filetypes narrow a rule: public only for dashboards still breaks the guardrail.
        let err = policy("version: 1\nrules:\n  - match: \"**\"\n    sharing: public\n    filetypes: [dashboard]\nguardrails:\n  never_public: \"hr/**\"\n").unwrap_err();
        assert!(
            err.contains("rule 1 would make `hr/x` (dashboard) public"),
            "{err}"
        );
    }

    #[test]
    fn limits_are_validated() {
        let ok =
            policy("version: 1\nguardrails:\n  max_changes: 25%\n  max_exposures: 10\n").unwrap();
        assert_eq!(
            ok.guardrails.max_changes,
            Some(super::super::Limit::Percent(25.0))
        );
        assert_eq!(ok.guardrails.max_exposures, Some(10));
        let err = policy("version: 1\nguardrails:\n  max_changes: lots\n  max_exposures: -1\n  never_publik: []\n").unwrap_err();
        assert_eq!(
            err,
            "p.yaml:3:16: `max_changes` must be a whole number or a percentage such as `25%`, found `lots`\n\
             p.yaml:4:18: `max_exposures` must be a whole number, found -1\n\
             p.yaml:5:3: unknown key `never_publik` in guardrails; expected `never_public`, `max_changes`, `max_exposures`"
        );
        assert!(policy("version: 1\nguardrails:\n  max_changes: 120%\n").is_err());
    }

    #[test]
    fn intersections_meet_segment_by_segment() {
        assert_eq!(
            intersect("*/payroll", "finance/**").as_deref(),
            Some("finance/payroll")
        );
        assert_eq!(
            intersect("**/q?/*", "reports/**").as_deref(),
            Some("reports/qx/x")
        );
        assert_eq!(intersect("a/*", "b/**"), None);
        assert_eq!(intersect("*", "finance/**"), None, "`*` stays in the root");
        assert_eq!(intersect("**", "hr/*").as_deref(), Some("hr/x"));
    }

    #[test]
    fn witnesses_name_the_deciding_rule() {
        let p = policy("version: 1\nrules:\n  - match: \"reports/q1/*\"\n    sharing: public\n  - match: \"reports/**\"\n    sharing: secret\n").unwrap();
        let found = p.witnesses("reports/**", Sharing::Public).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].path.as_str(), found[0].rule),
            ("reports/q1/x", Some(1))
        );
        assert!(
            p.witnesses("finance/**", Sharing::Public)
                .unwrap()
                .is_empty()
        );
    }
}
