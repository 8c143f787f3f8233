//! The plan as Terraform-like text, and every other sentence for people.
//!
//! A text plan, and what CI scripts may rely on (the README's "Reading a plan"):
//!
//! - It opens with what it describes: `Account: USER at API_URL` or `Snapshot: PATH`, then
//!   `Policy: PATH`, then `Targeted: only paths matching ...; this is not the whole account.`
//!   for a targeted run, then a blank line. Checks open the same way.
//! - Changes come in groups, restrictions first: a heading in the first column (`Restrict N
//!   files by rule 1 "finance/**":`, `Expose N files by the default:`), then one line per
//!   change that starts with two spaces, `-` (restriction) or `+` (exposure) and a space, then
//!   the path. The marker needs no colour; `~` is gone (it said neither direction).
//! - Over [`SUMMARY_THRESHOLD`] changes (unless `--full`): per-rule and per-top-level-folder
//!   counts, the first [`ROWS_PER_GROUP`] rows of each group and `    ... and N more`, and
//!   where the full plan is.
//! - The last line, `Plan: R to restrict, E to expose, U unchanged, I ignored.`, is a stable
//!   contract: CI scripts may grep it. With no changes it is prefixed with `No changes.`.

use std::io::{self, Write};
use std::path::Path;

use anstyle::Style;

use super::view::{
    Decider, Group, Guardrail, ROWS_PER_GROUP, Row, SUMMARY_THRESHOLD, per_decider, per_top_folder,
};
use super::{CheckView, Painter, PlanView};
use crate::apply::{DecidingRule, Outcome, Report};
use crate::check::{Finding, Kind};
use crate::export::Exported;
use crate::inventory::{Coverage, FileType};
use crate::plan::{Breach, DecidedBy, Direction, RuleRef, StrictFailures, Summary};
use crate::policy::{Decision, Policy};
use crate::policytest::{self, Broken, TestFile};
use crate::wire::plan::Source;
use plotward_visible::{self as visible, escape};

/// Writes the plan for people: where it comes from, the changes grouped by what decided them
/// (restrictions first), the notes, then the summary line. Over
/// [`SUMMARY_THRESHOLD`](super::view::SUMMARY_THRESHOLD) changes (unless `--full`), per-rule and
/// per-folder counts and the first rows of each group, and where the full plan is.
pub(crate) fn plan(view: &PlanView, painter: Painter, out: &mut dyn Write) -> io::Result<()> {
    write_origin(view.source(), &view.file.policy, &view.file.targets, out)?;
    let summary = view.summary;
    if !summary.has_changes() {
        write_dead_rules(&view.dead_rules, &view.dead_patterns, painter, out)?;
        write_coverage(view.coverage(), painter, out)?;
        return writeln!(
            out,
            "{}",
            painter.paint(Painter::BOLD, format!("No changes. {}", plan_summary(view)))
        );
    }
    let count = view.rows.len();
    let noun = if count == 1 { "file" } else { "files" };
    writeln!(
        out,
        "plotward will change the sharing of {count} {noun} (- restricts, + exposes):\n"
    )?;
    let limit = if view.summarised() {
        write_summaries(view, out)?;
        ROWS_PER_GROUP
    } else {
        usize::MAX
    };
    let groups = view.groups();
    let widths = Widths::of(
        groups
            .iter()
            .flat_map(|g| g.rows.iter().take(limit))
            .map(|r| {
                let c = &r.change;
                (c.path.as_str(), c.filetype.as_str(), c.fid.as_str())
            }),
    );
    for group in &groups {
        write_group(group, limit, &widths, painter, out)?;
    }
    for note in super::folder_notes(&view.folders) {
        writeln!(out, "{}", painter.paint(Painter::YELLOW, note))?;
    }
    write_breaches(&view.breaches, painter, out)?;
    write_dead_rules(&view.dead_rules, &view.dead_patterns, painter, out)?;
    write_coverage(view.coverage(), painter, out)?;
    writeln!(out, "{}", painter.paint(Painter::BOLD, plan_summary(view)))
}

/// A plan's summary line, which says so when the run is targeted: it is the line a CI log
/// shows, and must not read as the whole account's.
pub(crate) fn plan_summary(view: &PlanView) -> String {
    let line = summary_line(view.summary);
    if view.file.targets.is_empty() {
        line
    } else {
        format!("{line} Targeted: not the whole account.")
    }
}

/// The lines that say what a plan or check describes: the account and server, or the
/// snapshot; the policy; whether the run is targeted. Then a blank line.
fn write_origin(
    source: &Source,
    policy: &str,
    targets: &[String],
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "{}", origin(source))?;
    writeln!(out, "Policy: {}", escape(policy))?;
    targeted(targets, out)?;
    writeln!(out)
}

/// The targeted-run line ([`super::targeted_note`]), when the run is targeted.
pub(crate) fn targeted(targets: &[String], out: &mut dyn Write) -> io::Result<()> {
    match super::targeted_note(targets) {
        Some(note) => writeln!(out, "{note}"),
        None => Ok(()),
    }
}

/// `Account: alice at https://plotly.example.com` or `Snapshot: inventory.json`, escaped.
pub(crate) fn origin(source: &Source) -> String {
    match source {
        Source::Api { api_url, user } => {
            format!("Account: {} at {}", escape(user), escape(api_url))
        }
        Source::Snapshot { path } => format!("Snapshot: {}", escape(path)),
    }
}

/// A group's heading, then its rows (at most `limit`), then how many more there are.
fn write_group(
    group: &Group<'_>,
    limit: usize,
    widths: &Widths,
    painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    let n = group.rows.len();
    let verb = match group.direction {
        Direction::Restrict => "Restrict",
        Direction::Expose => "Expose",
    };
    let noun = if n == 1 { "file" } else { "files" };
    writeln!(out, "{verb} {n} {noun} {}:", group_reason(&group.decider))?;
    for row in group.rows.iter().take(limit) {
        write_row(row, widths, painter, out)?;
    }
    if n > limit {
        writeln!(out, "    ... and {} more", n - limit)?;
    }
    writeln!(out)
}

/// Why a group changes: `by rule 1 "finance/**"`, `by the default`, or folders for what they
/// hold.
fn group_reason(decider: &Decider) -> String {
    match decider {
        Decider::Contents => "(folders, for what lies below them)".to_owned(),
        Decider::Rule { number, pattern } => format!("by rule {number} \"{}\"", escape(pattern)),
        Decider::Default => "by the default".to_owned(),
    }
}

/// What decided a group, for the summary tables: `rule 1 "finance/**"`.
pub(crate) fn decider(decider: &Decider) -> String {
    match decider {
        Decider::Contents => "folders, for what lies below them".to_owned(),
        Decider::Rule { number, pattern } => format!("rule {number} \"{}\"", escape(pattern)),
        Decider::Default => "the default".to_owned(),
    }
}

/// The counts per rule and per top-level folder of a large plan, and where its full rows are.
fn write_summaries(view: &PlanView, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "By rule:")?;
    writeln!(out, "  restrict  expose  decided by")?;
    for (decider, counts) in per_decider(&view.rows) {
        writeln!(
            out,
            "  {:>8}  {:>6}  {}",
            counts.restrict,
            counts.expose,
            self::decider(&decider)
        )?;
    }
    let folders = per_top_folder(&view.rows);
    writeln!(out, "\nBy top-level folder:")?;
    writeln!(out, "  restrict  expose  folder")?;
    let mut ranked: Vec<_> = folders.iter().collect();
    // The busiest folders first; a stable sort keeps names in order among equals.
    ranked.sort_by_key(|(_, c)| std::cmp::Reverse(c.restrict + c.expose));
    for (folder, counts) in ranked.iter().take(TOP_FOLDERS) {
        let name = folder.map_or("(top level)".to_owned(), |f| format!("{}/", escape(f)));
        writeln!(
            out,
            "  {:>8}  {:>6}  {name}",
            counts.restrict, counts.expose
        )?;
    }
    if folders.len() > TOP_FOLDERS {
        writeln!(
            out,
            "  ... and {} more folders",
            folders.len() - TOP_FOLDERS
        )?;
    }
    writeln!(
        out,
        "\nShowing the first {ROWS_PER_GROUP} rows of each group (more than \
         {SUMMARY_THRESHOLD} changes; --full shows every row)."
    )?;
    writeln!(out, "{}\n", where_the_full_plan_is(&view.options))
}

/// Top-level folders listed in a large plan's summary, the busiest first.
const TOP_FOLDERS: usize = 20;

/// Where a person finds every row of a summarised plan.
fn where_the_full_plan_is(options: &super::ShowOptions) -> String {
    match &options.saved_as {
        Some(file) => format!(
            "The full plan is saved in {0}: plotward show {0} --full (or --format json).",
            escape(file)
        ),
        None => "The full plan was not saved: run plotward plan --out FILE, then plotward show \
                 FILE --full; or plotward plan --format json."
            .to_owned(),
    }
}

/// The dead-rule notes, each on its own line, before the summary line.
fn write_dead_rules(
    rules: &[RuleRef],
    patterns: &[crate::plan::DeadPattern],
    painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    for note in super::dead_rule_notes(rules, patterns) {
        writeln!(out, "{}", painter.paint(Painter::YELLOW, note))?;
    }
    Ok(())
}

/// The coverage notes, each on its own line, before a summary line (which stays last, as
/// scripts expect).
fn write_coverage(
    coverage: crate::inventory::Coverage,
    painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    for note in super::coverage_notes(coverage) {
        let style = if coverage.unproven.is_some() && note.starts_with("The listing") {
            Painter::RED
        } else {
            Painter::YELLOW
        };
        writeln!(out, "{}", painter.paint(style, note))?;
    }
    Ok(())
}

/// What can override a broken guardrail, by its setting name as a plan records it:
/// `--force` for the limits, nothing for `never_public` (nor for a name this build does not
/// know).
pub(crate) fn override_note(setting: &str) -> &'static str {
    match setting {
        "max_changes" | "max_exposures" => "(--force overrides)",
        "never_public" => "(refused: no flag overrides never_public)",
        _ => "(refused)",
    }
}

/// Why `--strict` refuses a plan, one stderr line each: every dead rule and pattern, and a
/// policy that manages no file at all.
pub(crate) fn strict_refusal(
    failures: &StrictFailures<'_>,
    painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    let error = painter.paint(Painter::RED, "error");
    for note in super::dead_rule_notes(failures.dead_rules, failures.dead_patterns) {
        writeln!(out, "{error}: --strict: {note}")?;
    }
    if failures.manages_nothing {
        writeln!(
            out,
            "{error}: --strict: the policy manages no file (every file is ignored or unmatched)"
        )?;
    }
    Ok(())
}

/// The stderr line that explains why a plan that breaks guardrails exits 1.
pub(crate) fn guardrail_refusal(
    count: usize,
    policy: &str,
    painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    let noun = if count == 1 {
        "guardrail"
    } else {
        "guardrails"
    };
    writeln!(
        out,
        "{}: the plan breaks {count} {noun} of {}; apply refuses it",
        painter.paint(Painter::RED, "error"),
        escape(policy)
    )
}

/// Warnings on stderr while listing: files left out of the folder tree, other users' files
/// skipped, a listing not proven complete.
pub(crate) fn listing_warnings(
    listing: &crate::remote::Listing,
    painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    let warning = painter.paint(Painter::YELLOW, "warning");
    for file in &listing.unplaced {
        writeln!(
            out,
            "{warning}: {} is left out: {}",
            escape(&file.fid),
            escape(&file.reason)
        )?;
    }
    if !listing.foreign.is_empty() {
        let shown: Vec<String> = listing
            .foreign
            .iter()
            .take(5)
            .map(|fid| crate::remote::api::redact(fid))
            .collect();
        let more = listing.foreign.len() - shown.len();
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        writeln!(
            out,
            "{warning}: the listing holds {} files of other users, skipped: {}{tail}",
            listing.foreign.len(),
            shown.join(", ")
        )?;
    }
    if let Some(gap) = listing.inventory.coverage().unproven {
        writeln!(
            out,
            "{warning}: the listing was not proven complete: the server counts {} items, {} \
             were listed; going on because of --accept-count-mismatch",
            gap.counted, gap.listed
        )?;
    }
    Ok(())
}

/// `Plan: 2 to restrict, 1 to expose, 1180 unchanged, 21 ignored.`
pub(crate) fn summary_line(summary: Summary) -> String {
    format!(
        "Plan: {} to restrict, {} to expose, {} unchanged, {} ignored.",
        summary.restrict, summary.expose, summary.unchanged, summary.ignored
    )
}

/// How a decision reads in text: `rule 2 "reports/**"` or `default`.
pub(crate) fn decided_by(decided_by: &DecidedBy) -> String {
    match decided_by {
        DecidedBy::Rule {
            number, pattern, ..
        } => format!("rule {number} \"{}\"", escape(pattern)),
        DecidedBy::Default => "default".to_owned(),
        DecidedBy::Folder => "folder (no rule names `fold`)".to_owned(),
        DecidedBy::Contents(required) => format!(
            "required by {} ({}, {})",
            escape(&required.path),
            required.wants,
            self::decided_by(&required.by)
        ),
    }
}

/// A broken guardrail in words: `12 exposures exceed guardrails.max_exposures: 10`.
pub(crate) fn breach(breach: &Breach) -> String {
    match breach {
        Breach::ExposesNeverPublic { fid, path } => {
            format!("{path} ({fid}) would become public, but guardrails.never_public forbids it")
        }
        Breach::ExposesFolderOverNeverPublic {
            fid,
            path,
            glob,
            example,
        } => format!(
            "folder {path} ({fid}) would become public, and a public folder makes its contents \
             public: `{example}` is under guardrails.never_public `{glob}`"
        ),
        Breach::MaxChanges {
            changes,
            managed,
            limit,
        } => format!(
            "{changes} changes exceed guardrails.max_changes: {limit} of {managed} managed files allows {}",
            limit.allowed(*managed)
        ),
        Breach::MaxExposures { exposes, limit } => {
            format!("{exposes} exposures exceed guardrails.max_exposures: {limit}")
        }
    }
}

/// A violation in one line: `public, the policy wants private (rule 1 "finance/**")`.
pub(crate) fn finding(finding: &Finding) -> String {
    let through = finding.through.as_deref().map_or(String::new(), |folder| {
        format!(" through folder {}/", escape(folder))
    });
    match &finding.kind {
        Kind::Drift { wanted, decided_by } => format!(
            "{}{through}, the policy wants {wanted} ({})",
            finding.now,
            self::decided_by(decided_by)
        ),
        Kind::NeverPublic if finding.below => {
            "a public folder, so its contents are public, but guardrails.never_public covers \
             paths under it"
                .to_owned()
        }
        Kind::NeverPublic => {
            format!("public{through}, but guardrails.never_public forbids it")
        }
    }
}

/// The check's closing line: `Check: 3 violations in 45 files (2 drifted, 1 public despite
/// never_public).` or `Check: compliant, 45 files.`, then how many rules decided no file and
/// how many patterns match none.
pub(crate) fn check_summary_line(report: &crate::check::Report) -> String {
    let dead = match report.dead_rules.len() {
        0 => String::new(),
        1 => " 1 rule decided no file.".to_owned(),
        n => format!(" {n} rules decided no file."),
    };
    let unmatched = match report.dead_patterns.len() {
        0 => String::new(),
        1 => " 1 pattern matches no file.".to_owned(),
        n => format!(" {n} patterns match no file."),
    };
    format!("{}{dead}{unmatched}", verdict(report))
}

/// The check's summary line without the dead-rule and dead-pattern counts.
fn verdict(report: &crate::check::Report) -> String {
    let files = report.files_judged();
    if report.findings().next().is_none() && report.coverage.unplaced > 0 {
        return format!(
            "Check: not compliant: no violations in {files} files judged, but {} listed \
             files could not be judged.",
            report.coverage.unplaced
        );
    }
    if report.is_compliant() {
        if report.coverage.unproven.is_some() {
            return format!(
                "Check: no violations in {files} files listed, but the listing was not proven complete."
            );
        }
        return format!("Check: compliant, {files} files.");
    }
    let (drift, never) = report.counts();
    format!(
        "Check: {} violations in {files} files ({drift} drifted, {never} public despite never_public).",
        drift + never
    )
}

/// `explain`'s lines for one path: each distinct decision with the file types that get it
/// (no type label when every type tried gets the same one), and why.
pub(crate) fn explain(
    policy: &Policy,
    path: &str,
    groups: &[(Decision<'_>, Vec<&FileType>)],
    _painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    let all_alike = matches!(groups, [(_, types)] if types.len() > 1);
    for (decision, types) in groups {
        let label = if all_alike {
            String::new()
        } else {
            let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
            format!(" [{}]", names.join(", "))
        };
        writeln!(
            out,
            "{}{label}: {}  ({})",
            escape(path),
            decision.target().as_str(),
            escape(&explain_decision(policy, decision))
        )?;
    }
    Ok(())
}

/// Why a path gets its decision, with the rule's position in the policy.
fn explain_decision(policy: &Policy, decision: &Decision<'_>) -> String {
    match decision {
        Decision::Rule { rule, pattern } => format!(
            "rule {} \"{}\", {}:{}:{}",
            rule.number, pattern.glob, policy.name, pattern.span.line, pattern.span.column
        ),
        Decision::Default(_) => "no rule matches; the default applies".to_owned(),
        Decision::Folder => "a folder no rule names: left as it is, unless a file below it needs it less exposed (plan restricts it then)".to_owned(),
    }
}

/// `validate`'s line: `policy.yaml: valid, 4 rules`.
pub(crate) fn valid(policy: &Policy, _painter: Painter, out: &mut dyn Write) -> io::Result<()> {
    let count = policy.rules.len();
    let noun = if count == 1 { "rule" } else { "rules" };
    writeln!(out, "{}: valid, {count} {noun}", escape(&policy.name))
}

/// `test`'s report: each failure at its place in the test file, then the summary line, green
/// when everything passed.
pub(crate) fn policy_test(
    tests: &TestFile,
    policy: &Policy,
    outcome: &policytest::Outcome<'_>,
    painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    for failure in &outcome.failures {
        writeln!(
            out,
            "{}:{}:{}: {}",
            escape(&tests.name),
            failure.span.line,
            failure.span.column,
            escape(&policy_test_failure(policy, &failure.broken))
        )?;
    }
    let style = if outcome.passed() {
        Painter::GREEN
    } else {
        Painter::RED
    };
    let summary = escape(&policy_test_summary(outcome, &tests.name)).into_owned();
    writeln!(out, "{}", painter.paint(style, summary))
}

/// A failed case or assertion in one line, naming what decided instead (not yet escaped):
/// `case failed: misc (plot) gets public, expected private; decided by rule 2 "**" (p.yaml:7)`.
pub(crate) fn policy_test_failure(policy: &Policy, broken: &Broken<'_>) -> String {
    match broken {
        Broken::Case {
            path,
            filetype,
            expected,
            decision,
        } => format!(
            "case failed: {path} ({filetype}) gets {}, expected {}; decided by {}",
            decision.target().as_str(),
            expected.as_str(),
            decision_in_file(policy, decision)
        ),
        Broken::Assertion {
            under,
            level,
            witness: (path, filetype),
            decision,
        } => format!(
            "assertion failed: nothing under \"{under}\" may be {level}, but {path} ({filetype}) \
             is; decided by {}",
            decision_in_file(policy, decision)
        ),
        Broken::Unprovable(unprovable) => format!("assertion failed: {unprovable}"),
    }
}

/// What decided a file, with the policy file and line: `rule 3 "reports/**" (p.yaml:19)`.
/// Shorter than `explain`'s reason, as it ends a line that already names the path.
fn decision_in_file(policy: &Policy, decision: &Decision<'_>) -> String {
    match decision {
        Decision::Rule { rule, pattern } => format!(
            "rule {} \"{}\" ({}:{})",
            rule.number, pattern.glob, policy.name, rule.span.line
        ),
        Decision::Default(_) => match policy.default_span {
            Some(span) => format!("the default ({}:{})", policy.name, span.line),
            None => "the default (ignore)".to_owned(),
        },
        Decision::Folder => "the folder rule: folders need a rule with `fold`".to_owned(),
    }
}

/// `plotward.test.yaml: 5 cases and 2 assertions passed`, or how many of each passed.
pub(crate) fn policy_test_summary(outcome: &policytest::Outcome<'_>, name: &str) -> String {
    if outcome.passed() {
        return format!(
            "{name}: {} cases and {} assertions passed",
            outcome.cases, outcome.assertions
        );
    }
    format!(
        "{name}: {} of {} cases and {} of {} assertions passed",
        outcome.cases - outcome.failed_cases,
        outcome.cases,
        outcome.assertions - outcome.failed_assertions,
        outcome.assertions
    )
}

/// The exported policy as a file: what the listing could not vouch for as comments, then the
/// policy, whose header names where it came from.
pub(crate) fn exported_policy(
    exported: &Exported,
    coverage: Coverage,
    source: &Source,
    account: Option<&crate::policy::Account>,
) -> String {
    let origin = match source {
        Source::Snapshot { path } => format!("the snapshot {path}"),
        Source::Api { api_url, user } => format!("{user} at {api_url}"),
    };
    let mut yaml = String::new();
    for note in super::coverage_notes(coverage) {
        yaml.push_str("# ");
        yaml.push_str(&note);
        yaml.push('\n');
    }
    yaml.push_str(&super::yaml::exported_policy_for(
        exported,
        &escape(&origin),
        account,
    ));
    yaml
}

/// `export --diff` when there is no difference.
pub(crate) fn export_unchanged(
    existing: &str,
    _painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "{} is the same as the exported policy",
        escape(existing)
    )
}

/// What `export --out FILE` wrote, on stderr.
pub(crate) fn export_written(
    path: &Path,
    exported: &Exported,
    files: usize,
    _painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "wrote {} with {} rules for {files} files",
        escape(&path.display().to_string()),
        exported.rules.len()
    )
}

/// What `snapshot --out FILE` wrote, on stderr.
pub(crate) fn snapshot_written(
    path: &Path,
    files: usize,
    _painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "wrote {files} files to {}",
        escape(&path.display().to_string())
    )
}

/// The warning before connecting with certificate checks off.
/// The width of a progress bar's bar, in characters.
const PROGRESS_WIDTH: u64 = 30;

/// A progress bar's count: `[=========>      ] 3/10` once the total is known, and `...`
/// (or how far it got) while it is not, never a total of 0 or a position past the total
/// (a listing learns its page count only from its first page).
pub(crate) fn progress_count(position: u64, total: Option<u64>) -> String {
    match total {
        Some(total) if total > 0 && position <= total => {
            let filled = position * PROGRESS_WIDTH / total;
            let head = if filled < PROGRESS_WIDTH { ">" } else { "" };
            let rest = PROGRESS_WIDTH - filled - u64::from(filled < PROGRESS_WIDTH);
            format!(
                "[{}{head}{}] {position}/{total}",
                "=".repeat(usize::try_from(filled).unwrap_or(0)),
                " ".repeat(usize::try_from(rest).unwrap_or(0))
            )
        }
        _ if position == 0 => "...".to_owned(),
        _ => format!("{position} so far..."),
    }
}

pub(crate) fn tls_off_warning(painter: Painter, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "{}: TLS certificate checks are off (plotly_ssl_verification: false); anyone on the \
         path can read the API key",
        painter.paint(Painter::YELLOW, "warning")
    )
}

/// Column widths in terminal cells, so the changes line up.
/// The widest a column of a text plan or check is padded to, in terminal cells.
const WIDEST_COLUMN: usize = 80;

struct Widths {
    path: usize,
    filetype: usize,
    fid: usize,
}

impl Widths {
    /// The widest path, file type and fid, as shown (escaped), among rows of
    /// `(path, filetype, fid)`, each at most [`WIDEST_COLUMN`] cells: one long name must not
    /// pad every other row of a large plan to its width (a longer name overflows its column).
    fn of<'r>(rows: impl Iterator<Item = (&'r str, &'r str, &'r str)>) -> Widths {
        let widths = rows.fold(
            Widths {
                path: 0,
                filetype: 0,
                fid: 0,
            },
            |w, (path, filetype, fid)| Widths {
                path: w.path.max(visible::width(&escape(path))),
                filetype: w.filetype.max(visible::width(&escape(filetype))),
                fid: w.fid.max(visible::width(&escape(fid))),
            },
        );
        Widths {
            path: widths.path.min(WIDEST_COLUMN),
            filetype: widths.filetype.min(WIDEST_COLUMN),
            fid: widths.fid.min(WIDEST_COLUMN),
        }
    }

    /// `path  filetype  fid`, each escaped and padded to its column.
    fn columns(&self, path: &str, filetype: &str, fid: &str) -> String {
        format!(
            "{}  {}  {}",
            visible::pad(&escape(path), self.path),
            visible::pad(&escape(filetype), self.filetype),
            visible::pad(&escape(fid), self.fid)
        )
    }
}

/// One change: `  - path  filetype  fid  from    -> to`, then why, when the group does not
/// say it all (a requirement from below, a folder that exposes the file now).
fn write_row(row: &Row, widths: &Widths, painter: Painter, out: &mut dyn Write) -> io::Result<()> {
    let change = &row.change;
    let (mark, style) = match row.direction() {
        Direction::Restrict => ("-", Painter::GREEN),
        Direction::Expose => ("+", Painter::RED),
    };
    // Pad before painting: escape codes would otherwise count towards the width.
    let to = painter.paint(style, format!("{:<7}", change.to.as_str()));
    let mut notes = Vec::new();
    if let Some(required) = &change.required_by {
        notes.push(format!(
            "required by {} ({}, {})",
            escape(&required.path),
            required.wants,
            deciding_rule(&change.rule)
        ));
    }
    if let Some((folder, level)) = &row.through {
        notes.push(format!("{level} now through folder {}/", escape(folder)));
    }
    let line = format!(
        "  {} {}  {:<7} -> {}  {}",
        painter.paint(style, mark),
        widths.columns(&change.path, change.filetype.as_str(), &change.fid),
        change.from.as_str(),
        to,
        painter.paint(Painter::DIM, notes.join("; ")),
    );
    writeln!(out, "{}", line.trim_end())
}

/// A saved change's rule in text: `rule 2 "reports/**"` or `default`.
fn deciding_rule(rule: &DecidingRule) -> String {
    match rule {
        DecidingRule::Rule {
            number, pattern, ..
        } => format!("rule {number} \"{}\"", escape(pattern)),
        DecidingRule::Default => "default".to_owned(),
    }
}

/// Warns about rules that decided no file; written to stderr so the plan on stdout stays
/// exactly the plan.
pub(crate) fn dead_rule_warnings(
    rules: &[RuleRef],
    patterns: &[crate::plan::DeadPattern],
    policy: &str,
    painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    let warning = painter.paint(Painter::YELLOW, "warning");
    for rule in rules {
        let patterns: Vec<String> = rule
            .patterns
            .iter()
            .map(|p| format!("\"{}\"", escape(p)))
            .collect();
        writeln!(
            out,
            "{warning}: rule {} {} ({}:{}) decided no file",
            rule.number,
            patterns.join(", "),
            escape(policy),
            rule.line
        )?;
    }
    for note in super::dead_rule_notes(&[], patterns) {
        writeln!(out, "{warning}: {note}")?;
    }
    Ok(())
}

/// The apply report: failures and changes not applied, then the summary line
/// (`Apply complete: 2 restricted, 1 exposed, 0 failed.`), and why a run stopped early.
pub(crate) fn apply_report(
    report: &Report,
    painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    // Failures first; then secret links written but not yet readable, apart from failures
    // because the file is not public and upstream enables share keys eventually.
    write_outcomes(
        report,
        ("Failed:", Painter::RED, "!"),
        painter,
        out,
        |o| match o {
            Outcome::Failed { failure, .. } => Some(failure.to_string()),
            _ => None,
        },
    )?;
    write_outcomes(
        report,
        ("Still settling:", Painter::YELLOW, "~"),
        painter,
        out,
        |o| match o {
            Outcome::Settling(settling) => Some(settling.to_string()),
            _ => None,
        },
    )?;
    let tally = report.tally();
    write_folder_repairs(report, tally, out)?;
    if report.interrupted {
        let line = format!(
            "Interrupted: {} restricted, {} exposed, {} failed, {} not applied; re-run to finish.",
            tally.restricted, tally.exposed, tally.failed, tally.not_applied
        );
        writeln!(out, "{}", painter.paint(Painter::BOLD, line))?;
        return writeln!(
            out,
            "Writes in flight were finished and recorded. Run plotward apply again: it changes \
             only what still differs."
        );
    }
    if let Some(why) = &report.audit_failed {
        writeln!(
            out,
            "{}",
            painter.paint(
                Painter::RED,
                format!("Stopped: {}.", escape(&why.to_string()))
            )
        )?;
    }
    if report.is_complete() {
        let line = format!(
            "Apply complete: {} restricted, {} exposed, {} failed.",
            tally.restricted, tally.exposed, tally.failed
        );
        return writeln!(out, "{}", painter.paint(Painter::BOLD, line));
    }
    let settling = match tally.settling {
        0 => String::new(),
        n => format!(", {n} still settling"),
    };
    let line = format!(
        "Apply incomplete: {} restricted, {} exposed, {} failed, {} not applied{settling}.",
        tally.restricted, tally.exposed, tally.failed, tally.not_applied
    );
    writeln!(out, "{}", painter.paint(Painter::BOLD, line))?;
    // Why changes were left: the run's stop (the daily quota), else the first change's own
    // reason (`--max-writes`).
    let first_reason = || {
        report.outcomes().find_map(|(_, o)| match o {
            Outcome::NotApplied { reason } => Some(reason.to_string()),
            _ => None,
        })
    };
    let stopped = report.stopped.as_ref().map(ToString::to_string);
    if let Some(reason) = stopped.or_else(first_reason) {
        writeln!(out, "Stopped early: {}.", escape(&reason))?;
    }
    let remain = tally.failed + tally.not_applied;
    if remain > 0 {
        writeln!(
            out,
            "{remain} changes remain. Run plotward apply again to finish: it changes only what \
             still differs."
        )?;
    }
    if tally.settling > 0 {
        writeln!(
            out,
            "{} secret {} written but not yet readable: run plotward plan later to confirm, or \
             plotward apply again.",
            tally.settling,
            if tally.settling == 1 {
                "link is"
            } else {
                "links are"
            }
        )?;
    }
    Ok(())
}

/// What happened below changed folders: files put back, files left lower than the plan saw
/// them (each named), and files not checked because the run stopped first.
fn write_folder_repairs(
    report: &Report,
    tally: crate::apply::Tally,
    out: &mut dyn Write,
) -> io::Result<()> {
    if tally.restored > 0 {
        writeln!(
            out,
            "Put back {} {} below changed folders that a folder change had reset.",
            tally.restored,
            if tally.restored == 1 { "file" } else { "files" }
        )?;
    }
    if tally.left > 0 {
        writeln!(
            out,
            "{} {} below changed folders read lower than the plan saw and {} left as {}: not \
             raised, as nobody reviewed that; the next plan shows what the policy wants.",
            tally.left,
            if tally.left == 1 { "file" } else { "files" },
            if tally.left == 1 { "was" } else { "were" },
            if tally.left == 1 { "it is" } else { "they are" },
        )?;
    }
    for change in &report.left {
        writeln!(
            out,
            "  = {} {} reads {}, the plan leaves it {}: left {}",
            escape(&change.path),
            escape(&change.fid),
            change.from,
            change.to,
            change.from
        )?;
    }
    if tally.unchecked > 0 {
        writeln!(
            out,
            "{} {} below changed folders not checked again, as the run stopped: the next plan \
             finds those the policy manages; those it ignores stay as the folder change left them.",
            tally.unchecked,
            if tally.unchecked == 1 {
                "file was"
            } else {
                "files were"
            }
        )?;
    }
    Ok(())
}

/// A titled list of the changes whose outcome `pick` selects, each with the first line of
/// its message: `  ! finance/payroll alice:5 public -> private: HTTP 500`.
fn write_outcomes(
    report: &Report,
    (title, style, mark): (&str, Style, &str),
    painter: Painter,
    out: &mut dyn Write,
    pick: impl Fn(&Outcome) -> Option<String>,
) -> io::Result<()> {
    let listed: Vec<_> = report
        .outcomes()
        .filter_map(|(c, o)| pick(o).map(|message| (c, message)))
        .collect();
    if listed.is_empty() {
        return Ok(());
    }
    writeln!(out, "{}", painter.paint(style, title))?;
    for (change, message) in listed {
        let first = message.lines().next().unwrap_or_default();
        writeln!(
            out,
            "  {mark} {} {} {} -> {}: {}",
            escape(&change.path),
            escape(&change.fid),
            change.from,
            change.to,
            escape(first)
        )?;
    }
    Ok(())
}

fn write_breaches(breaches: &[Guardrail], painter: Painter, out: &mut dyn Write) -> io::Result<()> {
    if breaches.is_empty() {
        return Ok(());
    }
    let title = "Guardrails broken; apply refuses this plan:";
    writeln!(out, "{}", painter.paint(Painter::RED, title))?;
    for breach in breaches {
        writeln!(
            out,
            "  ! {} {}",
            escape(&breach.message),
            override_note(&breach.setting)
        )?;
    }
    writeln!(out)
}

/// The check result for people: one line per violation, then the summary line.
pub(crate) fn check(view: &CheckView<'_>, painter: Painter, out: &mut dyn Write) -> io::Result<()> {
    write_origin(view.source, view.policy, view.targets, out)?;
    let report = view.report;
    let findings: Vec<_> = report.findings().collect();
    let widths = Widths::of(
        findings
            .iter()
            .map(|f| (f.path.as_str(), f.filetype.as_str(), f.fid.as_str())),
    );
    for finding in &findings {
        let line = format!(
            "  {} {}  {}",
            painter.paint(Painter::RED, "!"),
            widths.columns(&finding.path, finding.filetype.as_str(), &finding.fid),
            escape(&self::finding(finding)),
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    if !findings.is_empty() {
        writeln!(out)?;
    }
    write_dead_rules(&report.dead_rules, &report.dead_patterns, painter, out)?;
    write_coverage(report.coverage, painter, out)?;
    writeln!(
        out,
        "{}",
        painter.paint(Painter::BOLD, check_summary(report, view.targets))
    )
}

/// The check's summary line; a targeted check that finds nothing says it vouches for the
/// targets only, never `compliant`.
pub(crate) fn check_summary(report: &crate::check::Report, targets: &[String]) -> String {
    let line = check_summary_line(report);
    if targets.is_empty() {
        return line;
    }
    match line.strip_prefix("Check: compliant, ") {
        Some(rest) => format!(
            "Check: no violations in the targeted paths, {rest} Targeted: not the whole account."
        ),
        None => format!("{line} Targeted: not the whole account."),
    }
}

/// The line before a saved plan is carried out: which plan, and what it does.
pub(crate) fn applying_saved_plan(
    path: &std::path::Path,
    restrict: usize,
    expose: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "Applying the saved plan {}: {restrict} to restrict, {expose} to expose.",
        escape(&path.display().to_string())
    )
}

/// Terraform's question before applying a fresh plan, flushed so it shows before the answer
/// is read; only `yes` approves.
pub(crate) fn confirmation_prompt(out: &mut dyn Write) -> io::Result<()> {
    write!(
        out,
        "\nDo you want to apply these changes?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    )?;
    out.flush()
}

#[cfg(test)]
mod tests {
    /// One long name does not pad every other row to its width: a 4,000-character path makes
    /// short rows 80 cells wide, and overflows its own column.
    #[test]
    fn columns_are_padded_to_at_most_the_widest_column() {
        let long = "p".repeat(4_000);
        let widths =
            super::Widths::of([(long.as_str(), "plot", "a:1"), ("x", "grid", "a:22")].into_iter());
        assert_eq!(widths.path, super::WIDEST_COLUMN);
        assert_eq!(
            widths.columns("x", "grid", "a:22").len(),
            80 + 2 + 4 + 2 + 4
        );
        assert!(widths.columns(&long, "plot", "a:1").starts_with(&long));
    }

    /// An unknown total (before a listing's first page) shows no count at all, never `0/0`
    /// or `1/0`; a known one shows the bar and `position/total`.
    #[test]
    fn a_progress_count_never_shows_an_unknown_total_as_0() {
        assert_eq!(super::progress_count(0, None), "...");
        assert_eq!(super::progress_count(1, None), "1 so far...");
        assert_eq!(super::progress_count(0, Some(0)), "...");
        assert_eq!(super::progress_count(1, Some(0)), "1 so far...");
        assert_eq!(super::progress_count(5, Some(3)), "5 so far...");
        let bar = |fill: usize, head: &str| {
            let rest = 30 - fill - head.len();
            format!("[{}{head}{}]", "=".repeat(fill), " ".repeat(rest))
        };
        assert_eq!(
            super::progress_count(0, Some(10)),
            format!("{} 0/10", bar(0, ">"))
        );
        assert_eq!(
            super::progress_count(1, Some(3)),
            format!("{} 1/3", bar(10, ">"))
        );
        assert_eq!(
            super::progress_count(3, Some(3)),
            format!("{} 3/3", bar(30, ""))
        );
    }

    proptest::proptest! {
        /// Whatever the numbers, the count is a known total's `position/total` (never 0 as
        /// the total) with a bar of constant width, or no total at all.
        #[test]
        fn any_progress_count_is_well_formed(position in 0..1000_u64, total in proptest::option::of(0..1000_u64)) {
            let shown = super::progress_count(position, total);
            match total {
                Some(total) if total > 0 && position <= total => {
                    proptest::prop_assert!(shown.ends_with(&format!("] {position}/{total}")), "{}", shown);
                    proptest::prop_assert_eq!(shown.find(']'), Some(31));
                }
                _ => proptest::prop_assert!(!shown.contains('/'), "{}", shown),
            }
        }
    }
    #[test]
    fn a_check_reads_as_its_summary_line_and_one_line_per_finding() {
        let report = crate::check::example_report();
        assert_eq!(
            super::check_summary_line(&report),
            "Check: 3 violations in 3 files (1 drifted, 2 public despite never_public)."
        );
        let first = report.findings().next().unwrap();
        assert_eq!(
            super::finding(first),
            "public, the policy wants private (rule 1 \"finance/**\")"
        );
    }
}
