//! Rendering: every word plotward shows a person, and every document it writes for a program.
//!
//! Every renderer has one shape, `fn(&what, painter, out: &mut dyn Write) -> io::Result<()>`,
//! and never touches stdout itself, so tests render into a buffer. Colour is decided once, by
//! the caller, and passed in as a [`Painter`] (formats without colour ignore it). Each report
//! kind has one dispatch on its format: [`plan`] and [`check`].

pub(crate) mod accounts;
pub(crate) mod diagnostic;
pub(crate) mod diff;
pub(crate) mod error;
pub(crate) mod html;
pub(crate) mod json;
pub(crate) mod junit;
pub(crate) mod markdown;
pub(crate) mod outcome;
pub(crate) mod refusal;
pub(crate) mod sandbox;
pub(crate) mod status;
pub(crate) mod text;
pub(crate) mod trace;
pub(crate) mod view;
pub(crate) mod watch;
pub(crate) mod yaml;

use std::fmt::Display;
use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use crate::check::Report;
use crate::inventory::Coverage;
use crate::plan::Plan;
use crate::wire::plan::Source;
pub(crate) use view::{PlanView, ShowOptions};

/// A check report as its renderers see it.
pub(crate) struct CheckView<'a> {
    pub report: &'a Report,
    /// The plan the report judged, for the sharing manifest's diff.
    pub plan: &'a Plan<'a>,
    /// The policy file's name.
    pub policy: &'a str,
    /// Where the inventory came from.
    pub source: &'a Source,
    /// The `--target` globs the check is limited to; empty for the whole account.
    pub targets: &'a [String],
    /// The policy's SHA-256 (hex), as the JSON plan's `policy_sha256`.
    pub digest: &'a str,
    /// When the check ran (the HTML report shows it).
    pub checked_at: std::time::SystemTime,
}

/// Writes a plan in `format`.
pub(crate) fn plan(
    view: &PlanView,
    format: Format,
    painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Text => text::plan(view, painter, out),
        Format::Json => json::plan(view, painter, out),
        Format::Markdown => markdown::plan(view, painter, out),
        Format::Diff => diff::plan(view, painter, out),
    }
}

/// Writes a check report in `format`.
pub(crate) fn check(
    view: &CheckView<'_>,
    format: CheckFormat,
    painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        CheckFormat::Text => text::check(view, painter, out),
        CheckFormat::Json => json::check(view, painter, out),
        CheckFormat::Markdown => markdown::check(view, painter, out),
        CheckFormat::Junit => junit::check(view, painter, out),
        CheckFormat::Html => html::check(view, painter, out),
    }
}

/// One sentence per rule that decided no file, per pattern of a live rule that matches no
/// file, and per `never_public` glob that matches no file: a typo protects nothing, and says
/// so in every output a reviewer reads.
pub(crate) fn dead_rule_notes(
    rules: &[crate::plan::RuleRef],
    patterns: &[crate::plan::DeadPattern],
) -> Vec<String> {
    let quote = |p: &str| format!("\"{}\"", plotward_visible::escape(p));
    let mut notes: Vec<String> = rules
        .iter()
        .map(|rule| {
            let patterns: Vec<String> = rule.patterns.iter().map(|p| quote(p)).collect();
            format!(
                "Rule {} {} (line {}) decided no file: it protects nothing.",
                rule.number,
                patterns.join(", "),
                rule.line
            )
        })
        .collect();
    notes.extend(patterns.iter().map(|dead| match dead.rule {
        Some(rule) => format!(
            "Pattern {} of rule {rule} (line {}) matches no file: it protects nothing.",
            quote(&dead.pattern),
            dead.line
        ),
        None => format!(
            "guardrails.never_public {} (line {}) matches no file today: a typo, or a guard \
             ahead of its files.",
            quote(&dead.pattern),
            dead.line
        ),
    }));
    notes
}

/// The sentence that marks a targeted run, in every output it makes: `Targeted: only paths
/// matching `reports/**`; this is not the whole account.` (globs escaped, in backticks);
/// `None` for a run over the whole account.
pub(crate) fn targeted_note(targets: &[String]) -> Option<String> {
    if targets.is_empty() {
        return None;
    }
    let globs: Vec<String> = targets
        .iter()
        .map(|glob| format!("`{}`", plotward_visible::escape(glob)))
        .collect();
    Some(format!(
        "Targeted: only paths matching {}; this is not the whole account.",
        globs.join(", ")
    ))
}

/// What each folder change may do below it, one sentence per folder: a folder's sharing
/// reaches everything in it, and a server may reset the flags of what lies below.
pub(crate) fn folder_notes(changes: &[crate::plan::FolderChange]) -> Vec<String> {
    changes
        .iter()
        .map(|folder| {
            let path = plotward_visible::escape(&folder.path);
            let n = folder.files_below;
            let files = if n == 1 { "file" } else { "files" };
            let keys = match folder.secret_below {
                0 => String::new(),
                1 => "; 1 secret link below it may get a new key".to_owned(),
                k => format!("; {k} secret links below it may get new keys"),
            };
            if folder.to < folder.from {
                format!(
                    "Restricting folder {path}/ to {} may reset the sharing of the {n} {files} \
                     below it; plotward reads them again and restores those the policy manages \
                     (ignored ones stay as reset, never more exposed){keys}.",
                    folder.to
                )
            } else {
                format!(
                    "Making folder {path}/ {} makes the {n} {files} below it at least {} to \
                     the world, and may reset their sharing; plotward reads them again and \
                     restores those the policy manages (ignored ones only back down){keys}.",
                    folder.to, folder.to
                )
            }
        })
        .collect()
}

/// What the listing could not vouch for, one sentence each, for every output made from it:
/// other users' files that were skipped, and a listing not proven complete.
pub(crate) fn coverage_notes(coverage: Coverage) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(gap) = coverage.unproven {
        notes.push(format!(
            "The listing was not proven complete: the server counts {} items, {} were listed \
             (--accept-count-mismatch). Files the listing missed are not in this result.",
            gap.counted, gap.listed
        ));
    }
    match coverage.unplaced {
        0 => {}
        1 => notes.push(
            "1 listed file could not be placed in the folder tree (its folder is not in the \
             listing) and was not judged."
                .to_owned(),
        ),
        n => notes.push(format!(
            "{n} listed files could not be placed in the folder tree (their folder is not in \
             the listing) and were not judged."
        )),
    }
    match coverage.foreign_skipped {
        0 => {}
        1 => notes.push("1 file owned by another user skipped (never managed).".to_owned()),
        n => notes.push(format!(
            "{n} files owned by others skipped (never managed)."
        )),
    }
    notes
}

/// Output formats for `plan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Terraform-like text for people.
    Text,
    /// The versioned JSON plan (`format_version` 1, documented in the README).
    Json,
    /// A pull-request comment for GitHub and GitLab.
    Markdown,
    /// A unified diff of the sharing manifest (`path  filetype  level`), current to desired.
    Diff,
}

/// Output formats for `check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CheckFormat {
    /// Violations for people, and a summary line.
    Text,
    /// The versioned JSON check result.
    Json,
    /// A pull-request comment for GitHub and GitLab.
    Markdown,
    /// JUnit XML: one test case per file, a failure per violation.
    Junit,
    /// The exposure report: one self-contained HTML page.
    Html,
}

/// Output formats for `test`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TestFormat {
    /// A line per failure (`file:line:column: ...`) and a summary line.
    Text,
    /// JUnit XML: one test case per case and per assertion, a failure per broken one.
    Junit,
}

/// A policy test run in `format`.
pub(crate) fn policy_test(
    run: &PolicyTestView<'_>,
    format: TestFormat,
    painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        TestFormat::Text => text::policy_test(run.tests, run.policy, run.outcome, painter, out),
        TestFormat::Junit => junit::policy_test(run, painter, out),
    }
}

/// What a policy test run shows: the test file, the policy it tests and the outcome.
pub(crate) struct PolicyTestView<'a> {
    pub tests: &'a crate::policytest::TestFile,
    pub policy: &'a crate::policy::Policy,
    pub outcome: &'a crate::policytest::Outcome<'a>,
}

/// Applies terminal styles, or does nothing when colour is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Painter {
    enabled: bool,
}

impl Painter {
    /// Errors and exposures.
    pub(crate) const RED: Style = AnsiColor::Red.on_default().bold();
    /// Restrictions.
    pub(crate) const GREEN: Style = AnsiColor::Green.on_default();
    /// The change marker.
    pub(crate) const YELLOW: Style = AnsiColor::Yellow.on_default();
    /// Locations and gutters.
    pub(crate) const BLUE: Style = AnsiColor::Blue.on_default().bold();
    /// Summary lines.
    pub(crate) const BOLD: Style = Style::new().bold();
    /// Secondary text.
    pub(crate) const DIM: Style = Style::new().dimmed();

    /// A painter that colours when `enabled`.
    pub(crate) fn new(enabled: bool) -> Painter {
        Painter { enabled }
    }

    /// `text` in `style`, or as it is when colour is off.
    pub(crate) fn paint(self, style: Style, text: impl Display) -> String {
        if self.enabled {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use crate::inventory::{FileType, Inventory, RemoteFile, Sharing};
    use crate::policy::Policy;

    /// Whether text holds something a terminal or a browser would obey rather than show.
    fn obeyed(text: &str) -> bool {
        text.chars()
            .any(|c| c != '\n' && plotward_visible::needs_escape(c))
    }

    /// Names of one to three segments of any printable-or-not characters but `/`.
    fn path() -> impl Strategy<Value = String> {
        prop::collection::vec("[^/]{1,12}", 1..=3).prop_map(|segments| segments.join("/"))
    }

    /// A policy with a rule that exposes, one that restricts to secret, and a private default.
    const POLICY: &str = "version: 1\ndefault: private\nrules:\n  - match: \"a/**\"\n    sharing: public\n  - match: \"b/**\"\n    sharing: secret\n";

    /// Names under `a/`, `b/` or anywhere, so every rule and the default decide some.
    fn planned_path() -> impl Strategy<Value = String> {
        (prop::sample::select(vec!["a/", "b/", ""]), path())
            .prop_map(|(top, p)| format!("{top}{p}"))
    }

    fn level() -> impl Strategy<Value = Sharing> {
        prop::sample::select(vec![Sharing::Public, Sharing::Secret, Sharing::Private])
    }

    /// Renders a view in a format, colourless.
    fn render(view: &super::PlanView, format: super::Format) -> String {
        let mut out = Vec::new();
        super::plan(view, format, super::Painter::new(false), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    const FORMATS: [super::Format; 4] = [
        super::Format::Text,
        super::Format::Json,
        super::Format::Markdown,
        super::Format::Diff,
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever the names, every renderer shows them inertly, one line or row per change:
        /// text groups restrictions before exposures and keeps its summary line last, the
        /// diff pairs each path's lines, Markdown shows each change once under the cap; and a
        /// plan read back from its JSON renders the same bytes in every format.
        #[test]
        fn renderers_show_any_name_inertly(
            files in prop::collection::vec((planned_path(), level()), 1..12),
            target in prop::option::of(prop::sample::select(vec!["a/**", "b/*", "**", "*"])),
        ) {
            let inventory = Inventory::new(
                files
                    .iter()
                    .enumerate()
                    .map(|(n, (path, level))| RemoteFile {
                        fid: format!("a:{n}"),
                        path: path.clone(),
                        filetype: FileType::Plot,
                        flags: level.flags(),
                    })
                    .collect(),
            );
            let policy = Policy::parse(POLICY, "p.yaml").unwrap();
            let globs: Vec<String> = target.iter().map(|g| (*g).to_owned()).collect();
            let targets = crate::policy::Targets::new(&globs).unwrap();
            let plan = crate::plan::diff_targeted(&policy, &inventory, &targets);
            let changes = plan.changes().count();
            prop_assert!(plan.changes().all(|c| targets.matches(&c.entry.file.path)));
            let source = crate::wire::plan::Source::Snapshot { path: "s.json".to_owned() };
            let file = super::json::plan_file(&plan, &policy, (source.clone(), &globs), &[]);
            let view = super::PlanView::new(file.clone(), super::ShowOptions::default()).unwrap();

            // Every change in exactly one group, restrictions first.
            let groups = view.groups();
            let mut grouped: Vec<&str> = groups.iter().flat_map(|g| g.rows.iter().map(|r| r.change.fid.as_str())).collect();
            prop_assert_eq!(grouped.len(), changes);
            grouped.sort_unstable();
            grouped.dedup();
            prop_assert_eq!(grouped.len(), changes);
            prop_assert!(groups.windows(2).all(|w| w[0].direction <= w[1].direction));
            prop_assert!(groups.iter().all(|g| g.rows.iter().all(|r| r.direction() == g.direction && r.decider() == g.decider)));

            let text = render(&view, super::Format::Text);
            prop_assert!(!obeyed(&text), "{text:?}");
            // A targeted plan says so, in its third line, in every format but JSON (which
            // carries `targets`).
            prop_assert_eq!(text.contains("\nTargeted: only paths matching"), target.is_some());
            let summaries = text
                .lines()
                .filter(|l| l.starts_with("Plan:") || l.starts_with("No changes."))
                .count();
            prop_assert_eq!(summaries, 1);
            let last = text.lines().last().unwrap_or_default();
            prop_assert!(last.starts_with("Plan:") || last.starts_with("No changes."));
            let marks: Vec<char> = text
                .lines()
                .filter(|l| l.starts_with("  - ") || l.starts_with("  + "))
                .map(|l| l.chars().nth(2).unwrap_or(' '))
                .collect();
            prop_assert_eq!(marks.len(), changes);
            prop_assert!(marks.windows(2).all(|w| !(w[0] == '+' && w[1] == '-')), "{text}");

            let diff = render(&view, super::Format::Diff);
            prop_assert!(!obeyed(&diff), "{diff:?}");
            let body: Vec<&str> = diff.lines().skip_while(|l| !l.starts_with("@@")).skip(1).collect();
            prop_assert_eq!(body.len(), 2 * changes);
            for pair in body.chunks(2) {
                prop_assert!(pair[0].starts_with('-') && pair[1].starts_with('+'), "{diff}");
                let name = |l: &str| l[1..].rsplitn(3, "  ").nth(2).map(str::to_owned);
                prop_assert_eq!(name(pair[0]), name(pair[1]));
            }

            let markdown = render(&view, super::Format::Markdown);
            prop_assert!(!obeyed(&markdown), "{markdown:?}");
            prop_assert_eq!(markdown.contains("> Targeted: only paths matching"), target.is_some());
            prop_assert!(markdown.len() <= super::markdown::CAP);
            for change in plan.changes() {
                let cell = format!("| `{}` |", change.entry.file.fid);
                prop_assert_eq!(markdown.matches(&cell).count(), 1, "{}", markdown);
            }

            // `plotward show` of the saved plan: the same bytes in every format.
            let saved: crate::wire::plan::PlanFile =
                serde_json::from_str(&render(&view, super::Format::Json)).unwrap();
            let shown = super::PlanView::new(saved, super::ShowOptions::default()).unwrap();
            for format in FORMATS {
                prop_assert_eq!(render(&shown, format), render(&view, format));
            }

            let report = crate::check::check(&plan, &policy.guardrails);
            let view = super::CheckView { report: &report, plan: &plan, policy: "p.yaml", source: &source, targets: &[], digest: &policy.digest, checked_at: std::time::SystemTime::UNIX_EPOCH };
            let mut junit = Vec::new();
            super::check(&view, super::CheckFormat::Junit, super::Painter::new(false), &mut junit).unwrap();
            let junit = String::from_utf8(junit).unwrap();
            let mut html = Vec::new();
            super::check(&view, super::CheckFormat::Html, super::Painter::new(false), &mut html).unwrap();
            let html = String::from_utf8(html).unwrap();
            prop_assert!(!obeyed(&html), "{html:?}");
            prop_assert_eq!(html.matches("<tr class=").count(), report.findings().count());
            let doc = roxmltree::Document::parse(&junit);
            prop_assert!(doc.is_ok(), "{junit}");
            let cases = doc.unwrap().descendants().filter(|n| n.has_tag_name("testcase")).count();
            // One case per judged file, and a skipped one per rule or pattern that protects nothing.
            let notes = super::dead_rule_notes(&report.dead_rules, &report.dead_patterns).len();
            prop_assert_eq!(cases, report.judged.len() + notes);
        }
    }
}
