//! Markdown reports for pull and merge requests (GitHub and GitLab).
//!
//! A plan comment: the summary line; the account and server (or snapshot) and the policy; the
//! alerts (broken guardrails, folder, dead-rule and coverage notes); the complete per-rule
//! summary (restrictions and exposures per rule); then a table of restrictions and one of
//! exposures, grouped by rule, each change exactly once. Over [`CAP`] characters, each group
//! shows its first rows only, and a note says how many are missing and where the saved plan
//! is (the CI job's artifacts, `--artifact-url`; `plotward show FILE` prints it).
//!
//! A check comment: the summary line and origin; violations called out; everything in a
//! collapsible `<details>` table; then the sharing manifest's diff as a fenced `diff` block.
//! It is capped the same way (rows and diff lines dropped, never half a table or an unclosed
//! fence).

use std::io::{self, Write};

use super::text::{check_summary, plan_summary};
use super::view::{Counts, Decider, Group, Row as PlanRow, per_decider};
use super::{CheckView, Painter, PlanView};
use crate::apply::DecidingRule;
use crate::check;
use crate::plan::{DecidedBy, Direction};
use crate::wire::plan::Source;

/// The largest report, safely under GitHub's 65,536-character comment limit.
pub(crate) const CAP: usize = 65_000;

/// One row of a report table.
#[derive(Debug)]
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
#[derive(Debug)]
struct Report<'a> {
    summary: String,
    /// What the check describes.
    origin: String,
    alert: Vec<String>,
    callout_title: String,
    others_line: Option<String>,
    table_title: &'a str,
    columns: [&'a str; 5],
    rows: Vec<Row>,
    diff: String,
    rerun: &'a str,
}

/// The plan as a pull-request comment: the summary line, what it describes, the alerts, the
/// complete per-rule summary, then one table of restrictions and one of exposures (each change
/// once, grouped by rule); cut to fit [`CAP`] by showing fewer rows of each group, never by
/// dropping a group or the summary.
pub(crate) fn plan(view: &PlanView, _painter: Painter, out: &mut dyn Write) -> io::Result<()> {
    plan_within(view, CAP, out)
}

/// The plan comment cut to fit `cap` characters instead of [`CAP`]: an account's share of a
/// comment over several accounts. Its notes still name [`CAP`], the limit of the whole comment.
pub(crate) fn plan_within(view: &PlanView, cap: usize, out: &mut dyn Write) -> io::Result<()> {
    let summary = view.summary;
    if !summary.has_changes() {
        let headline = format!("No changes. {}", plan_summary(view));
        let mut text = Vec::new();
        writeln!(text, "**{headline}**\n")?;
        writeln!(text, "{}", origin(view.source(), &view.file.policy))?;
        write_targeted(&view.file.targets, &mut text)?;
        write_notes(
            &view.dead_rules,
            &view.dead_patterns,
            view.coverage(),
            &mut text,
        )?;
        return write_capped(&text, &headline, &where_the_plan_is(view), cap, out);
    }
    let plan = PlanComment::of(view);
    let largest = plan.groups.iter().map(|g| g.rows.len()).max().unwrap_or(0);
    let all = Shown {
        rows: largest,
        deciders: plan.deciders.len(),
        notes: plan.alert.len().min(MOST_NOTES),
    };
    let full = plan.render(all)?;
    if full.len() <= cap {
        return out.write_all(&full);
    }
    // What gives way, in order: rows of each group, then notes (the broken guardrails come
    // first and go last), then, only if nothing else is left, lines of the per-rule summary.
    if let Some(rows) = largest_fitting(cap, largest, |rows| plan.render(Shown { rows, ..all }))? {
        return out.write_all(&plan.render(Shown { rows, ..all })?);
    }
    let no_rows = Shown { rows: 0, ..all };
    if let Some(notes) = largest_fitting(cap, all.notes, |notes| {
        plan.render(Shown { notes, ..no_rows })
    })? {
        return out.write_all(&plan.render(Shown { notes, ..no_rows })?);
    }
    let bare = Shown {
        notes: 0,
        ..no_rows
    };
    if let Some(deciders) = largest_fitting(cap, all.deciders, |deciders| {
        plan.render(Shown { deciders, ..bare })
    })? {
        return out.write_all(&plan.render(Shown { deciders, ..bare })?);
    }
    // Even the bare comment is too long (targets or an origin of many kilobytes): say so.
    writeln!(out, "**{}**\n", plan_summary(view))?;
    writeln!(
        out,
        "> This plan is too large for a comment. {}",
        where_the_plan_is(view)
    )
}

/// The most notes (broken guardrails first, then folder, dead-rule and listing notes) a plan
/// comment shows, so hundreds of folder notes do not crowd out the rows; the rest are counted,
/// and `plotward show` prints them all.
const MOST_NOTES: usize = 20;

/// How much of a plan comment is shown: rows per group, lines of the per-rule summary, notes.
#[derive(Clone, Copy)]
struct Shown {
    rows: usize,
    deciders: usize,
    notes: usize,
}

/// The largest `n` in `0..=max` whose rendering fits under `cap` (renderings grow with
/// `n`), or `None` when not even `0` fits.
fn largest_fitting(
    cap: usize,
    max: usize,
    render: impl Fn(usize) -> io::Result<Vec<u8>>,
) -> io::Result<Option<usize>> {
    if render(0)?.len() > cap {
        return Ok(None);
    }
    let (mut low, mut high) = (0, max);
    while low < high {
        let mid = (low + high).div_ceil(2);
        if render(mid)?.len() <= cap {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    Ok(Some(low))
}

/// What a plan comment holds, before it is fitted under the cap.
struct PlanComment<'v> {
    view: &'v PlanView,
    alert: Vec<String>,
    deciders: Vec<(Decider, Counts)>,
    groups: Vec<Group<'v>>,
}

impl<'v> PlanComment<'v> {
    fn of(view: &'v PlanView) -> PlanComment<'v> {
        let mut alert = Vec::new();
        if !view.breaches.is_empty() {
            alert.push("Guardrails broken; `plotward apply` refuses this plan:".to_owned());
            alert.extend(view.breaches.iter().map(|b| {
                format!(
                    "- {} {}",
                    escape(&b.message),
                    escape(super::text::override_note(&b.setting))
                )
            }));
        }
        // Notes quote policy text: escaped, so a pattern cannot inject HTML into the comment.
        alert.extend(
            super::folder_notes(&view.folders)
                .into_iter()
                .chain(super::dead_rule_notes(
                    &view.dead_rules,
                    &view.dead_patterns,
                ))
                .chain(super::coverage_notes(view.coverage()))
                .map(|note| escape(&note)),
        );
        PlanComment {
            view,
            alert,
            deciders: per_decider(&view.rows),
            groups: view.groups(),
        }
    }

    /// The comment with the first `rows` rows of each group, the first `deciders` lines of the
    /// per-rule summary and the first `notes` notes.
    fn render(&self, shown: Shown) -> io::Result<Vec<u8>> {
        let Shown {
            rows,
            deciders,
            notes,
        } = shown;
        let view = self.view;
        let mut out = Vec::new();
        write!(out, "**{}**\n\n", plan_summary(view))?;
        writeln!(out, "{}\n", origin(view.source(), &view.file.policy))?;
        write_targeted(&view.file.targets, &mut out)?;
        if !self.alert.is_empty() {
            writeln!(out, "> [!CAUTION]")?;
            for line in self.alert.iter().take(notes) {
                writeln!(out, "> {line}")?;
            }
            let cut = self.alert.len().saturating_sub(notes);
            if cut > 0 {
                writeln!(out, "> {}", more_notes(cut))?;
            }
            writeln!(out)?;
        }
        writeln!(
            out,
            "| Decided by | Restrict | Expose |\n| --- | ---: | ---: |"
        )?;
        for (decider, counts) in self.deciders.iter().take(deciders) {
            writeln!(
                out,
                "| {} | {} | {} |",
                decided(decider),
                counts.restrict,
                counts.expose
            )?;
        }
        let (restrict, expose) = (view.summary.restrict, view.summary.expose);
        writeln!(out, "| **All** | **{restrict}** | **{expose}** |\n")?;
        let mut shown = 0;
        for direction in [Direction::Restrict, Direction::Expose] {
            let groups: Vec<&Group<'_>> = self
                .groups
                .iter()
                .filter(|g| g.direction == direction)
                .collect();
            if groups.is_empty() {
                continue;
            }
            let n: usize = groups.iter().map(|g| g.rows.len()).sum();
            match direction {
                Direction::Restrict => writeln!(
                    out,
                    "**Restricts {n} {}** (fewer people will see {}):\n",
                    files(n),
                    them(n)
                )?,
                Direction::Expose => writeln!(
                    out,
                    "**Exposes {n} {}** (more people will see {}):\n",
                    files(n),
                    them(n)
                )?,
            }
            writeln!(
                out,
                "| Path | Type | File | Change | Rule |\n| --- | --- | --- | --- | --- |"
            )?;
            for row in groups.iter().flat_map(|g| g.rows.iter().take(rows)) {
                write_row(row, &mut out)?;
                shown += 1;
            }
            writeln!(out)?;
        }
        let missing = view.rows.len() - shown;
        let summary_cut = self.deciders.len() - deciders.min(self.deciders.len());
        let notes_cut = self.alert.len().saturating_sub(notes);
        if missing > 0 || summary_cut > 0 || notes_cut > 0 {
            write_truncation(view, (missing, rows), summary_cut, notes_cut, &mut out)?;
        }
        Ok(out)
    }
}

/// One change as a table row.
fn write_row(row: &PlanRow, out: &mut Vec<u8>) -> io::Result<()> {
    let change = &row.change;
    // What the world sees now, and the folder that makes it so when not the file itself.
    let now = match &row.through {
        Some((folder, level)) => format!("{level} through folder {}", code(&format!("{folder}/"))),
        None => change.from.to_string(),
    };
    let why = match &change.required_by {
        Some(required) => format!(
            "required by {} ({}, {})",
            code(&required.path),
            required.wants,
            deciding(&change.rule)
        ),
        None => deciding(&change.rule),
    };
    writeln!(
        out,
        "| {} | {} | {} | {now} → {} | {why} |",
        code(&change.path),
        escape(change.filetype.as_str()),
        code(&change.fid),
        change.to,
    )
}

/// Why rows are missing, and where the whole plan is: the saved plan in the CI job's
/// artifacts (a reviewer has no credentials to plan again).
fn write_truncation(
    view: &PlanView,
    (missing, per_group): (usize, usize),
    summary_cut: usize,
    notes_cut: usize,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    let total = view.rows.len();
    let mut parts = Vec::new();
    if notes_cut > 0 {
        parts.push(format!("{notes_cut} {}", noun(notes_cut, "note")));
    }
    if summary_cut > 0 {
        parts.push(format!(
            "{summary_cut} {} of the per-rule summary",
            noun(summary_cut, "line")
        ));
    }
    if missing == total {
        parts.push(format!("all {total} {}", noun(total, "row")));
    } else if missing > 0 {
        parts.push(format!(
            "{missing} of {total} rows (each group shows its first {per_group})"
        ));
    }
    let what = format!("{} not shown", parts.join(", "));
    writeln!(
        out,
        "> Truncated to stay under {CAP} characters: {what}. {}",
        where_the_plan_is(view)
    )
}

/// Where a reviewer finds the whole plan: the saved plan in the CI job's artifacts (a
/// reviewer has no credentials to plan again).
fn where_the_plan_is(view: &PlanView) -> String {
    where_plans_are(&view.options)
}

/// [`where_the_plan_is`] from the options alone: the words a comment over several accounts
/// ends with when it leaves out a section.
pub(crate) fn where_plans_are(options: &super::ShowOptions) -> String {
    let artifacts = match &options.artifact_url {
        Some(url) => format!("[this job's artifacts](<{url}>)"),
        None => "this job's artifacts".to_owned(),
    };
    match &options.saved_as {
        Some(file) => format!(
            "Download {} from {artifacts}, then run `plotward show {} --full` for every row.",
            code(file),
            escape(file)
        ),
        None => format!(
            "The plan was not saved: have the job run `plotward plan --out plan.json` and keep \
             `plan.json` with {artifacts}; `plotward show plan.json --full` prints every row."
        ),
    }
}

/// `word` or its plural, for `n` of them.
fn noun(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

/// What a plan or check describes, as a Markdown line: the account and server (or the
/// snapshot) and the policy, each in a code span.
fn origin(source: &Source, policy: &str) -> String {
    let what = match source {
        Source::Api { api_url, user } => format!("Account {} at {}", code(user), code(api_url)),
        Source::Snapshot { path } => format!("Snapshot {}", code(path)),
    };
    format!("{what} · policy {}", code(policy))
}

/// A targeted run's note as a Markdown callout, then a blank line; nothing otherwise.
fn write_targeted(targets: &[String], out: &mut dyn Write) -> io::Result<()> {
    match super::targeted_note(targets) {
        Some(note) => writeln!(out, "> [!IMPORTANT]\n> {}\n", escape(&note)),
        None => Ok(()),
    }
}

/// What decided a group, as Markdown.
fn decided(decider: &Decider) -> String {
    match decider {
        Decider::Contents => "folders, for what lies below them".to_owned(),
        Decider::Rule { number, pattern } => format!("rule {number} {}", code(pattern)),
        Decider::Default => "default".to_owned(),
    }
}

/// A saved change's rule, as Markdown.
fn deciding(rule: &DecidingRule) -> String {
    match rule {
        DecidingRule::Rule {
            number, pattern, ..
        } => format!("rule {number} {}", code(pattern)),
        DecidingRule::Default => "default".to_owned(),
    }
}

/// The check result as a pull-request comment, with the sharing manifest's diff.
pub(crate) fn check(
    view: &CheckView<'_>,
    _painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    CheckComment::of(view)?.write(CAP, out)
}

/// A check comment ready to be cut to any budget, owning what it shows: an account's section
/// of a comment over several accounts is fitted once every account is checked, after its
/// plan and inventory are gone.
#[derive(Debug)]
pub(crate) struct CheckComment {
    headline: String,
    body: CheckBody,
}

#[derive(Debug)]
enum CheckBody {
    /// A compliant account: a few lines, whole or not at all.
    Compliant(Vec<u8>),
    /// Violations: rows and diff lines give way.
    Violations(Box<Report<'static>>),
}

impl CheckComment {
    /// The comment of `view`.
    pub(crate) fn of(view: &CheckView<'_>) -> io::Result<CheckComment> {
        let headline = check_summary(view.report, view.targets);
        let body = if view.report.is_compliant() {
            CheckBody::Compliant(compliant_text(view, &headline)?)
        } else {
            CheckBody::Violations(Box::new(violations_report(view, &headline)))
        };
        Ok(CheckComment { headline, body })
    }

    /// Writes the comment cut to fit `cap` characters.
    pub(crate) fn write(&self, cap: usize, out: &mut dyn Write) -> io::Result<()> {
        let mut text = Vec::new();
        match &self.body {
            CheckBody::Compliant(whole) => text.clone_from(whole),
            CheckBody::Violations(report) => fit(report, cap, &mut text)?,
        }
        write_capped(&text, &self.headline, WHOLE_CHECK, cap, out)
    }
}

/// A compliant check's comment: its headline, origin and notes.
fn compliant_text(view: &CheckView<'_>, headline: &str) -> io::Result<Vec<u8>> {
    let report = view.report;
    let mut text = Vec::new();
    writeln!(text, "**{headline}**\n")?;
    writeln!(text, "{}", origin(view.source, view.policy))?;
    write_targeted(view.targets, &mut text)?;
    write_notes(
        &report.dead_rules,
        &report.dead_patterns,
        report.coverage,
        &mut text,
    )?;
    Ok(text)
}

/// What a check comment with violations holds, before it is fitted under a cap.
fn violations_report(view: &CheckView<'_>, headline: &str) -> Report<'static> {
    let report = view.report;
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
    let mut notes: Vec<String> = super::dead_rule_notes(&report.dead_rules, &report.dead_patterns)
        .into_iter()
        .chain(super::coverage_notes(report.coverage))
        .map(|note| escape(&note))
        .collect();
    cap_notes(&mut notes);
    Report {
        summary: headline.to_owned(),
        origin: match super::targeted_note(view.targets) {
            Some(note) => format!(
                "{}\n\n> [!IMPORTANT]\n> {}",
                origin(view.source, view.policy),
                escape(&note)
            ),
            None => origin(view.source, view.policy),
        },
        alert: notes,
        callout_title: format!(
            "**{never} {} public despite `never_public`:**",
            files(never)
        ),
        others_line: (drift > 0)
            .then(|| format!("**{drift} {}** drifted from the policy.", files(drift))),
        table_title: "All violations",
        columns: ["Path", "Type", "File", "Sharing (now → policy)", "Why"],
        rows,
        diff: super::diff::patch(&super::view::rows(view.plan), view.plan.coverage),
        rerun: "plotward check",
    }
}

/// Where a reader of a check comment finds the whole report.
pub(crate) const WHOLE_CHECK: &str = "For everything, keep `plotward check --format json` (or `--format \
junit`) as the job's artifact: a reader of this comment may have no credentials to run it.";

/// Keeps the first [`MOST_NOTES`] notes and counts the rest in one more line.
fn cap_notes(notes: &mut Vec<String>) {
    let cut = notes.len().saturating_sub(MOST_NOTES);
    if cut > 0 {
        notes.truncate(MOST_NOTES);
        notes.push(more_notes(cut));
    }
}

/// The line that counts the notes a comment leaves out.
fn more_notes(cut: usize) -> String {
    format!("…and {cut} more {}, not shown.", noun(cut, "note"))
}

/// Writes `text` when it fits under [`CAP`]; else only its headline and a note that says
/// where the whole report is, so no comment is ever refused by the host.
fn write_capped(
    text: &[u8],
    headline: &str,
    whole: &str,
    cap: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    if text.len() <= cap {
        return out.write_all(text);
    }
    writeln!(out, "**{headline}**\n")?;
    writeln!(out, "> This report is too large for a comment. {whole}")
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
fn fit(report: &Report<'_>, cap: usize, out: &mut dyn Write) -> io::Result<()> {
    let diff_lines = report.diff.lines().count();
    let full = render(report, report.rows.len(), diff_lines)?;
    if full.len() <= cap {
        return out.write_all(&full);
    }
    // Binary search the largest share of rows (and proportionally diff lines) that fits.
    let (mut low, mut high) = (0, report.rows.len().max(1));
    while low < high {
        let mid = (low + high).div_ceil(2);
        let lines = diff_lines * mid / report.rows.len().max(1);
        if render(report, mid, lines)?.len() <= cap {
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
    let mut notes: Vec<String> = super::dead_rule_notes(dead_rules, dead_patterns)
        .into_iter()
        .chain(super::coverage_notes(coverage))
        .map(|note| escape(&note))
        .collect();
    if notes.is_empty() {
        return Ok(());
    }
    cap_notes(&mut notes);
    writeln!(out, "\n> [!WARNING]")?;
    for note in notes {
        writeln!(out, "> {note}")?;
    }
    Ok(())
}

/// The report with its first `rows` rows and `diff_lines` diff lines, into a buffer so that
/// [`fit`] can measure it.
fn render(report: &Report<'_>, rows: usize, diff_lines: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    write!(out, "**{}**\n\n{}\n\n", report.summary, report.origin)?;
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
            "\n> Truncated to stay under {CAP} characters: {missing_rows} of {} rows and {} diff lines are not shown. For everything, keep `{} --format json` (or `--format junit`) as the job's artifact: a reader of this comment may have no credentials to run it.",
            report.rows.len(),
            report.diff.lines().count() - diff_lines.min(report.diff.lines().count()),
            report.rerun
        )?;
    }
    Ok(out)
}

/// A code span that survives any content: a fence longer than any backtick run inside, and
/// pipes escaped so a table cell stays one cell.
pub(crate) fn code(text: &str) -> String {
    code_span(&plotward_visible::escape(text).replace('|', "\\|"))
}

/// A code span for a paragraph, not a table cell: pipes kept as they are (GitHub shows a
/// `\|` inside a paragraph's code span as written), and cut to `limit` characters, saying
/// so, for text from outside that could be of any length.
pub(crate) fn code_in_text(text: &str, limit: usize) -> String {
    let text = plotward_visible::escape(text);
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!(
            "{} (cut to {limit} characters; the JSON report has it whole)",
            code_span(&text[..cut])
        ),
        None => code_span(&text),
    }
}

/// `text` (already escaped) between fences longer than any backtick run in it, on one line.
fn code_span(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let body = text.replace(['\n', '\r'], " ");
    let pad = if body.starts_with('`') || body.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// Plain text for Markdown: HTML and table syntax neutralised.
pub(super) fn escape(text: &str) -> String {
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
