//! Markdown reports for pull and merge requests (GitHub and GitLab).
//!
//! Layout: the summary line first; guardrail breaches and exposures called out; everything in
//! a collapsible `<details>` table; then the sharing manifest as a fenced `diff` block, which
//! both hosts colour. Reports are capped at [`CAP`] characters: rows and diff lines are dropped
//! (never half a table or an unclosed fence) and a note says how much is missing.

use std::io::{self, Write};

use super::text::{check_summary_line, summary_line};
use super::{CheckView, Painter, PlanView};
use crate::check;
use crate::plan::{Change, DecidedBy, Direction};

/// The largest report, safely under GitHub's 65,536-character comment limit.
pub(crate) const CAP: usize = 65_000;

/// One row of a report table.
struct Row {
    path: String,
    filetype: String,
    fid: String,
    change: String,
    /// Already Markdown (patterns in code spans).
    why: String,
    /// Called out above the table (exposures, never-public files).
    callout: bool,
}

/// What a report holds, before it is fitted under the cap.
struct Report<'a> {
    summary: String,
    alert: Vec<String>,
    callout_title: String,
    others_line: Option<String>,
    table_title: &'a str,
    columns: [&'a str; 5],
    rows: Vec<Row>,
    diff: String,
    rerun: &'a str,
}

/// The plan as a pull-request comment, with its sharing manifest's diff.
pub(crate) fn plan(view: &PlanView<'_>, _painter: Painter, out: &mut dyn Write) -> io::Result<()> {
    let PlanView { plan, breaches, .. } = *view;
    let summary = plan.summary();
    if !summary.has_changes() {
        writeln!(out, "**No changes. {}**", summary_line(summary))?;
        return write_notes(&plan.dead_rules, &plan.dead_patterns, plan.coverage, out);
    }
    let mut changes: Vec<Change<'_>> = plan.changes().collect();
    changes.sort_by_key(|c| std::cmp::Reverse(c.direction()));
    let rows: Vec<Row> = changes
        .iter()
        .map(|c| Row {
            path: c.entry.file.path.clone(),
            filetype: c.entry.file.filetype.to_string(),
            fid: c.entry.file.fid.clone(),
            change: format!("{} → {}", c.from, c.to),
            why: why(&c.entry.decided_by),
            callout: c.direction() == Direction::Expose,
        })
        .collect();
    let (expose, restrict) = (summary.expose, summary.restrict);
    let mut alert = Vec::new();
    if !breaches.is_empty() {
        alert.push("Guardrails broken; `plotward apply` refuses this plan:".to_owned());
        alert.extend(breaches.iter().map(|b| {
            format!(
                "- {} {}",
                escape(&super::text::breach(b)),
                escape(super::text::override_note(b))
            )
        }));
    }
    // Notes quote policy text: escaped, so a pattern cannot inject HTML into the comment.
    alert.extend(
        super::folder_notes(&plan.folder_changes)
            .into_iter()
            .chain(super::dead_rule_notes(
                &plan.dead_rules,
                &plan.dead_patterns,
            ))
            .chain(super::coverage_notes(plan.coverage))
            .map(|note| escape(&note)),
    );
    fit(
        &Report {
            summary: summary_line(summary),
            alert,
            callout_title: format!(
                "**Exposes {expose} {}** (more people will see {}):",
                files(expose),
                them(expose)
            ),
            others_line: (restrict > 0).then(|| {
                format!(
                    "**Restricts {restrict} {}** (fewer people will see {}).",
                    files(restrict),
                    them(restrict)
                )
            }),
            table_title: "All changes",
            columns: ["Path", "Type", "File", "Change", "Rule"],
            rows,
            diff: super::diff::patch(plan),
            rerun: "plotward plan",
        },
        out,
    )
}

/// The check result as a pull-request comment, with the sharing manifest's diff.
pub(crate) fn check(
    view: &CheckView<'_>,
    _painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    let report = view.report;
    if report.is_compliant() {
        writeln!(out, "**{}**", check_summary_line(report))?;
        return write_notes(
            &report.dead_rules,
            &report.dead_patterns,
            report.coverage,
            out,
        );
    }
    let mut rows: Vec<Row> = report
        .findings()
        .map(|f| Row {
            path: f.path.clone(),
            filetype: f.filetype.to_string(),
            fid: f.fid.clone(),
            change: {
                // What the world sees, and the folder that makes it so when not the file.
                let through = f.through.as_deref().map_or(String::new(), |folder| {
                    format!(" through folder {}", code(&format!("{folder}/")))
                });
                match &f.kind {
                    check::Kind::Drift { wanted, .. } => format!("{}{through} → {wanted}", f.now),
                    check::Kind::NeverPublic => format!("public{through}"),
                }
            },
            why: match &f.kind {
                check::Kind::Drift { decided_by: d, .. } => why(d),
                check::Kind::NeverPublic => "`guardrails.never_public`".to_owned(),
            },
            callout: f.kind == check::Kind::NeverPublic,
        })
        .collect();
    // Called-out rows first, so truncation never hides them before the rest.
    rows.sort_by_key(|r| !r.callout);
    let (drift, never) = report.counts();
    fit(
        &Report {
            summary: check_summary_line(report),
            alert: super::dead_rule_notes(&report.dead_rules, &report.dead_patterns)
                .into_iter()
                .chain(super::coverage_notes(report.coverage))
                .map(|note| escape(&note))
                .collect(),
            callout_title: format!(
                "**{never} {} public despite `never_public`:**",
                files(never)
            ),
            others_line: (drift > 0)
                .then(|| format!("**{drift} {}** drifted from the policy.", files(drift))),
            table_title: "All violations",
            columns: ["Path", "Type", "File", "Sharing (now → policy)", "Why"],
            rows,
            diff: super::diff::patch(view.plan),
            rerun: "plotward check",
        },
        out,
    )
}

/// Which part of the policy decided, as Markdown: patterns in code spans, so `**` in a glob is
/// never read as emphasis.
fn why(decided_by: &DecidedBy) -> String {
    match decided_by {
        DecidedBy::Rule {
            number, pattern, ..
        } => format!("rule {number} {}", code(pattern)),
        DecidedBy::Default => "default".to_owned(),
        DecidedBy::Folder => "folder".to_owned(),
        DecidedBy::Contents(required) => format!(
            "required by {} ({}, {})",
            code(&required.path),
            required.wants,
            why(&required.by)
        ),
    }
}

fn files(n: usize) -> &'static str {
    if n == 1 { "file" } else { "files" }
}

fn them(n: usize) -> &'static str {
    if n == 1 { "it" } else { "them" }
}

/// Writes the report whole if it fits, else with as many rows and diff lines as fit.
fn fit(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    let diff_lines = report.diff.lines().count();
    let full = render(report, report.rows.len(), diff_lines)?;
    if full.len() <= CAP {
        return out.write_all(&full);
    }
    // Binary search the largest share of rows (and proportionally diff lines) that fits.
    let (mut low, mut high) = (0, report.rows.len().max(1));
    while low < high {
        let mid = (low + high).div_ceil(2);
        let lines = diff_lines * mid / report.rows.len().max(1);
        if render(report, mid, lines)?.len() <= CAP {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    out.write_all(&render(
        report,
        low,
        diff_lines * low / report.rows.len().max(1),
    )?)
}

/// Dead-rule and coverage notes as a warning block after a one-line result, or nothing.
fn write_notes(
    dead_rules: &[crate::plan::RuleRef],
    dead_patterns: &[crate::plan::DeadPattern],
    coverage: crate::inventory::Coverage,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut notes = super::dead_rule_notes(dead_rules, dead_patterns);
    notes.extend(super::coverage_notes(coverage));
    if notes.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n> [!WARNING]")?;
    for note in notes {
        writeln!(out, "> {}", escape(&note))?;
    }
    Ok(())
}

/// The report with its first `rows` rows and `diff_lines` diff lines, into a buffer so that
/// [`fit`] can measure it.
fn render(report: &Report<'_>, rows: usize, diff_lines: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    write!(out, "**{}**\n\n", report.summary)?;
    if !report.alert.is_empty() {
        writeln!(out, "> [!CAUTION]")?;
        for line in &report.alert {
            writeln!(out, "> {line}")?;
        }
        writeln!(out)?;
    }
    let shown = &report.rows[..rows.min(report.rows.len())];
    let callouts: Vec<&Row> = shown.iter().filter(|r| r.callout).collect();
    if report.rows.iter().any(|r| r.callout) {
        writeln!(out, "{}\n", report.callout_title)?;
        for row in &callouts {
            writeln!(
                out,
                "- {} ({}, {}): {}, {}",
                code(&row.path),
                escape(&row.filetype),
                code(&row.fid),
                row.change,
                row.why
            )?;
        }
        writeln!(out)?;
    }
    if let Some(line) = &report.others_line {
        writeln!(out, "{line}\n")?;
    }
    writeln!(
        out,
        "<details>\n<summary>{} ({})</summary>\n",
        report.table_title,
        report.rows.len()
    )?;
    writeln!(out, "| {} |", report.columns.join(" | "))?;
    writeln!(out, "|{}", " --- |".repeat(report.columns.len()))?;
    for row in shown {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            code(&row.path),
            escape(&row.filetype),
            code(&row.fid),
            row.change,
            row.why
        )?;
    }
    write!(out, "\n</details>\n")?;
    if !report.diff.is_empty() {
        // A fence longer than any run of backticks inside cannot be closed early.
        let longest = report
            .diff
            .split(|c| c != '`')
            .map(str::len)
            .max()
            .unwrap_or(0);
        let fence = "`".repeat(longest.max(2) + 1);
        writeln!(out, "\n{fence}diff")?;
        for line in report.diff.lines().take(diff_lines) {
            writeln!(out, "{line}")?;
        }
        writeln!(out, "{fence}")?;
    }
    let missing_rows = report.rows.len() - shown.len();
    if missing_rows > 0 || diff_lines < report.diff.lines().count() {
        writeln!(
            out,
            "\n> Truncated to stay under {CAP} characters: {missing_rows} of {} rows and {} diff lines are not shown. Run `{}` for everything.",
            report.rows.len(),
            report.diff.lines().count() - diff_lines.min(report.diff.lines().count()),
            report.rerun
        )?;
    }
    Ok(out)
}

/// A code span that survives any content: a fence longer than any backtick run inside, and
/// pipes escaped so a table cell stays one cell.
fn code(text: &str) -> String {
    // Control and bidi characters shown as escapes: one row per file, read as written.
    let text = &*plotward_visible::escape(text);
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let body = text.replace('|', "\\|").replace(['\n', '\r'], " ");
    let pad = if body.starts_with('`') || body.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// Plain text for Markdown: HTML and table syntax neutralised.
fn escape(text: &str) -> String {
    plotward_visible::escape(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_survive_backticks_and_pipes() {
        assert_eq!(code("a/b"), "`a/b`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(escape("<b>&|"), "&lt;b&gt;&amp;\\|");
    }
}
