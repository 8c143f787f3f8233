//! The words around a run over several accounts: each account's section is the
//! single-account report (one [`super::PlanView`] per plan section; a check's section rendered
//! by the account's job), and this module writes what frames them in every format: the header
//! naming the account (user and server first, then the policy), a failed account's reason,
//! and the grand total.

use std::io::{self, Write};

use super::{CheckFormat, Format, Painter};
use crate::wire::accounts::{
    AccountCheckJson, AccountPlanJson, AccountPlanRef, CHECKS_FORMAT_VERSION, ChecksJson,
    ChecksTotalJson, PLANS_FORMAT_VERSION, PlansFile, PlansTotalJson,
};
use crate::wire::check::CheckJson;
use crate::wire::plan::PlanFile;

/// Whose section it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Label {
    /// The account's user.
    pub user: String,
    /// The API base URL.
    pub server: String,
    /// The policy file, as given.
    pub policy: String,
}

impl Label {
    /// `finance on https://plotly.example.com (policy teams/finance.yaml)`, escaped.
    fn words(&self) -> String {
        format!(
            "{} on {} (policy {})",
            plotward_visible::escape(&self.user),
            plotward_visible::escape(&self.server),
            plotward_visible::escape(&self.policy)
        )
    }
}

/// One account of a check over several: its result as the JSON document holds it, and its
/// section as already rendered in the run's format (its plan was dropped with its inventory).
/// The shape an account-by-account report (such as HTML) takes.
#[derive(Debug)]
pub(crate) struct CheckSection {
    pub label: Label,
    /// The account's check, or why there is none (already scrubbed of keys).
    pub result: Result<CheckedAccount, String>,
}

/// A checked account.
#[derive(Debug)]
pub(crate) struct CheckedAccount {
    /// The result, as `check --format json` writes it for one account.
    pub json: CheckJson,
    /// Whether the account's report has something pending (a finding, or files left
    /// unjudged), ignoring `--target`: what decides the exit, as for one account
    /// (`check::Report::is_compliant`). A targeted clean check is not pending, though its
    /// `json` never says `compliant`.
    pub pending: bool,
    /// The section in the run's format (empty for JSON and HTML, which are built from `json`
    /// and `exposure`).
    pub rendered: Vec<u8>,
    /// For `--format html`: what the exposure report draws of the account.
    pub exposure: Option<Exposure>,
    /// For `--format markdown`: the account's comment, fitted to its share of the whole
    /// comment once every account is checked (so `rendered` is empty).
    pub markdown: Option<super::markdown::CheckComment>,
}

/// What the exposure report keeps of one account checked in a run over several: the report
/// without its compliant files (`check::Report::keep_violations_only`), and its identity.
#[derive(Debug)]
pub(crate) struct Exposure {
    pub report: crate::check::Report,
    pub source: crate::wire::plan::Source,
    /// The policy's name and digest.
    pub policy: String,
    pub digest: String,
    /// The `--target` globs; empty for the whole account.
    pub targets: Vec<String>,
}

/// One account of a plan over several.
#[derive(Debug)]
pub(crate) struct PlanSection {
    pub label: Label,
    /// The account's plan document, or why there is none.
    pub result: Result<PlanFile, String>,
}

/// Writes the line(s) that open an account's section of a plan or check in `format`.
pub(crate) fn header(
    label: &Label,
    format: Framing,
    painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Framing::Text => writeln!(
            out,
            "{}\n",
            painter.paint(
                anstyle::Style::new().bold(),
                format!("Account {}", label.words())
            )
        ),
        Framing::Markdown => writeln!(
            out,
            "## Account {} on {}\n\nPolicy {}\n",
            super::markdown::code(&label.user),
            super::markdown::code(&label.server),
            super::markdown::code(&label.policy)
        ),
        Framing::Comment => writeln!(out, "# Account: {}", label.words()),
    }
}

/// The most of a failed account's error a Markdown comment shows: a server's error can be
/// kilobytes, and a comment over many accounts must keep room for every account's heading.
const FAILURE_CHARS: usize = 400;

/// Writes why an account has no plan or check, in its section.
///
/// The error often carries the server's own words; in Markdown they go in a code span, so a
/// server cannot put a link, a mention or formatting into a pull-request comment.
pub(crate) fn failed(error: &str, format: Framing, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Framing::Text => writeln!(out, "Failed: {}\n", plotward_visible::escape(error)),
        Framing::Markdown => writeln!(
            out,
            "**Failed:** {}\n",
            super::markdown::code_in_text(error, FAILURE_CHARS)
        ),
        Framing::Comment => writeln!(out, "# Failed: {}", plotward_visible::escape(error)),
    }
}

/// How a format frames its sections: text for people, Markdown, or `#` comments (a diff's
/// preamble, where patch tools ignore them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    Text,
    Markdown,
    Comment,
}

impl Framing {
    /// The framing of a plan format (JSON is one document, never framed).
    pub(crate) fn of_plan(format: Format) -> Framing {
        match format {
            Format::Markdown => Framing::Markdown,
            Format::Diff => Framing::Comment,
            Format::Text | Format::Json => Framing::Text,
        }
    }

    /// The framing of a check format (JSON and JUnit are one document, never framed).
    pub(crate) fn of_check(format: CheckFormat) -> Framing {
        match format {
            CheckFormat::Markdown => Framing::Markdown,
            CheckFormat::Text | CheckFormat::Json | CheckFormat::Junit | CheckFormat::Html => {
                Framing::Text
            }
        }
    }
}

/// The plan document over several accounts (what `--out` saves and `--format json` prints).
pub(crate) fn plans_document(sections: Vec<PlanSection>) -> PlansFile {
    let total = plans_total(&sections);
    PlansFile {
        format_version: PLANS_FORMAT_VERSION,
        accounts: sections
            .into_iter()
            .map(|section| {
                let (plan, error) = match section.result {
                    Ok(plan) => (Some(plan), None),
                    Err(error) => (None, Some(error)),
                };
                AccountPlanJson {
                    user: section.label.user,
                    server: section.label.server,
                    policy: section.label.policy,
                    plan,
                    error,
                }
            })
            .collect(),
        total,
    }
}

/// The sections a plan document over several accounts holds, back: the inverse of
/// [`plans_document`] (`show` reads a saved one; `plan` gets its own back after writing it).
pub(crate) fn plans_sections(document: PlansFile) -> Vec<PlanSection> {
    document
        .accounts
        .into_iter()
        .map(|account| PlanSection {
            label: Label {
                user: account.user,
                server: account.server,
                policy: account.policy,
            },
            result: account.plan.ok_or(account.error.unwrap_or_default()),
        })
        .collect()
}

/// A JSON plan over several accounts written as the accounts are done, in policy order: the
/// opening, each account's section, then the total (last in the document, so nothing waits
/// for it). The bytes are those [`plans_document`] written whole would give (tested); an
/// organization's plan is written while later accounts are still being listed, not all
/// after the last one.
pub(crate) struct PlansJson {
    sections: usize,
}

impl PlansJson {
    /// Writes the document's opening.
    pub(crate) fn open(out: &mut dyn Write) -> io::Result<PlansJson> {
        write!(
            out,
            "{{\n  \"format_version\": {PLANS_FORMAT_VERSION},\n  \"accounts\": ["
        )?;
        Ok(PlansJson { sections: 0 })
    }

    /// Writes the next account's section.
    pub(crate) fn section(
        &mut self,
        label: &Label,
        result: &Result<PlanFile, String>,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        out.write_all(if self.sections == 0 {
            b"\n    "
        } else {
            b",\n    "
        })?;
        self.sections += 1;
        let section = AccountPlanRef {
            user: &label.user,
            server: &label.server,
            policy: &label.policy,
            plan: result.as_ref().ok(),
            error: result.as_ref().err().map(String::as_str),
        };
        super::json::write_nested(&section, 2, out)
    }

    /// Writes the total and closes the document.
    pub(crate) fn close(self, total: &PlansTotalJson, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(if self.sections == 0 {
            b"],\n  \"total\": "
        } else {
            b"\n  ],\n  \"total\": "
        })?;
        super::json::write_nested(total, 1, out)?;
        out.write_all(b"\n}\n")
    }
}

/// The totals of a plan over several accounts.
pub(crate) fn plans_total(sections: &[PlanSection]) -> PlansTotalJson {
    let mut total = PlansTotalJson {
        accounts: sections.len(),
        failed: 0,
        restrict: 0,
        expose: 0,
        guardrails: 0,
    };
    for section in sections {
        match &section.result {
            Ok(plan) => {
                total.restrict += plan.summary.restrict;
                total.expose += plan.summary.expose;
                total.guardrails += plan.guardrails.len();
            }
            Err(_) => total.failed += 1,
        }
    }
    total
}

/// The grand total of a plan over several accounts: the sums, then a line per account.
pub(crate) fn plans_total_words(
    sections: &[PlanSection],
    format: Framing,
    out: &mut dyn Write,
) -> io::Result<()> {
    let (rows, sums) = plans_rows(sections);
    write_total(&rows, &sums, format, out)
}

/// The one line that closes a plan over several accounts, after the sections: the sums again,
/// for a reader who scrolled down.
pub(crate) fn plans_closing(
    sections: &[PlanSection],
    format: Framing,
    out: &mut dyn Write,
) -> io::Result<()> {
    write_closing(&plans_rows(sections).1, format, out)
}

/// Each account's words in a plan's grand total, and the sums.
fn plans_rows(sections: &[PlanSection]) -> (Vec<(&Label, String)>, String) {
    let total = plans_total(sections);
    let rows: Vec<(&Label, String)> = sections
        .iter()
        .map(|section| {
            let words = match &section.result {
                Ok(plan) => changes(plan.summary.restrict, plan.summary.expose),
                Err(_) => "failed".to_owned(),
            };
            (&section.label, words)
        })
        .collect();
    let sums = format!(
        "{} over {}{}",
        changes(total.restrict, total.expose),
        accounts(total.accounts),
        failed_note(total.failed)
    );
    (rows, sums)
}

/// The check document over several accounts.
pub(crate) fn checks_document(sections: &[CheckSection]) -> ChecksJson {
    let total = checks_total(sections);
    ChecksJson {
        format_version: CHECKS_FORMAT_VERSION,
        compliant: all_compliant(sections),
        accounts: sections
            .iter()
            .map(|section| AccountCheckJson {
                user: section.label.user.clone(),
                server: section.label.server.clone(),
                policy: section.label.policy.clone(),
                check: section.result.as_ref().ok().map(|c| c.json.clone()),
                error: section.result.as_ref().err().cloned(),
            })
            .collect(),
        total,
    }
}

/// Whether the whole run vouches for every account: none failed, and every account's own
/// document says `compliant` (so a targeted check, unplaced files or any finding say no).
fn all_compliant(sections: &[CheckSection]) -> bool {
    sections
        .iter()
        .all(|section| section.result.as_ref().is_ok_and(|c| c.json.compliant))
}

/// The totals of a check over several accounts.
pub(crate) fn checks_total(sections: &[CheckSection]) -> ChecksTotalJson {
    let mut total = ChecksTotalJson {
        accounts: sections.len(),
        failed: 0,
        files: 0,
        violations: 0,
        drift: 0,
        never_public: 0,
    };
    for section in sections {
        match &section.result {
            Ok(checked) => {
                let summary = checked.json.summary;
                total.files += summary.files;
                total.violations += summary.violations;
                total.drift += summary.drift;
                total.never_public += summary.never_public;
            }
            Err(_) => total.failed += 1,
        }
    }
    total
}

/// A check over several accounts in `format`: the grand total first (what an auditor reads),
/// each section framed, then the sums once more (JSON and JUnit are one document each).
/// Markdown fits under [`super::markdown::CAP`] as a whole, each account's section cut to its
/// share.
pub(crate) fn checks(
    sections: &[CheckSection],
    format: CheckFormat,
    (painter, checked_at): (Painter, std::time::SystemTime),
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        CheckFormat::Json => return super::json::write(&checks_document(sections), out),
        CheckFormat::Junit => return checks_junit(sections, out),
        CheckFormat::Html => return checks_html(sections, checked_at, out),
        CheckFormat::Text | CheckFormat::Markdown => {}
    }
    let framing = Framing::of_check(format);
    let (rows, sums) = checks_rows(sections);
    if framing == Framing::Markdown {
        return checks_markdown(sections, (&rows, &sums), out);
    }
    write_total(&rows, &sums, framing, out)?;
    writeln!(out)?;
    for section in sections {
        header(&section.label, framing, painter, out)?;
        match &section.result {
            Ok(checked) => {
                out.write_all(&checked.rendered)?;
                writeln!(out)?;
            }
            Err(error) => failed(error, framing, out)?,
        }
    }
    write_closing(&sums, framing, out)
}

/// A check over several accounts as one comment under [`super::markdown::CAP`].
fn checks_markdown(
    sections: &[CheckSection],
    (rows, sums): (&[(&Label, String)], &str),
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut total = Vec::new();
    write_total(rows, sums, Framing::Markdown, &mut total)?;
    writeln!(total)?;
    let mut closing = Vec::new();
    write_closing(sums, Framing::Markdown, &mut closing)?;
    let mut parts = Vec::with_capacity(sections.len());
    for section in sections {
        let mut head = Vec::new();
        header(
            &section.label,
            Framing::Markdown,
            Painter::new(false),
            &mut head,
        )?;
        let body: Option<Body<'_>> = match &section.result {
            Ok(checked) => Some(match &checked.markdown {
                Some(comment) => Box::new(move |cap| {
                    let mut text = Vec::new();
                    comment.write(cap, &mut text)?;
                    Ok(text)
                }),
                None => Box::new(move |_| Ok(checked.rendered.clone())),
            }),
            Err(error) => {
                failed(error, Framing::Markdown, &mut head)?;
                None
            }
        };
        parts.push(Part { head, body });
    }
    let frame = Frame {
        total: &total,
        closing: &closing,
        whole: super::markdown::WHOLE_CHECK,
    };
    write_shared(&frame, &parts, out)
}

/// A section's body within a budget of characters.
pub(crate) type Body<'a> = Box<dyn Fn(usize) -> io::Result<Vec<u8>> + 'a>;

/// One account's section of a Markdown comment over several accounts.
pub(crate) struct Part<'a> {
    /// Its heading, and why it failed when it did: always shown.
    pub head: Vec<u8>,
    /// Its report cut to fit a budget; `None` for a failed account.
    pub body: Option<Body<'a>>,
}

/// What frames the sections of a Markdown comment over several accounts.
pub(crate) struct Frame<'a> {
    /// The grand total, first.
    pub total: &'a [u8],
    /// The sums again, last; with the note that names `whole`, all that is left when not even
    /// every heading fits.
    pub closing: &'a [u8],
    /// Where the whole plan or report is, in the words a single account's cut uses.
    pub whole: &'a str,
}

/// Writes a comment over several accounts under [`super::markdown::CAP`]: the total, then each
/// account's heading (and failure) and its body, the bodies sharing what the frame leaves
/// ([`shares`]). A body that does not fit its share even when cut is left out with a note;
/// when not even the headings fit, the sums and where the whole report is.
pub(crate) fn write_shared(
    frame: &Frame<'_>,
    parts: &[Part<'_>],
    out: &mut dyn Write,
) -> io::Result<()> {
    let cap = super::markdown::CAP;
    let fixed = frame.total.len()
        + frame.closing.len()
        + parts.iter().map(|p| p.head.len() + 1).sum::<usize>()
        + left_out_note(frame.whole).len();
    if fixed > cap {
        return write_frame_only(frame, parts.len(), out);
    }
    let mut bodies = Vec::with_capacity(parts.len());
    for part in parts {
        bodies.push(match &part.body {
            Some(body) => body(cap)?,
            None => Vec::new(),
        });
    }
    let sizes: Vec<usize> = bodies.iter().map(Vec::len).collect();
    let shares = shares(&sizes, cap - fixed);
    let mut left_out = 0;
    for ((body, part), share) in bodies.iter_mut().zip(parts).zip(shares) {
        if body.len() <= share {
            continue;
        }
        if let Some(fitted) = &part.body {
            *body = fitted(share)?;
        }
        if body.len() > share {
            *body = LEFT_OUT.as_bytes().to_vec();
            left_out += 1;
        }
    }
    let mut text = Vec::with_capacity(cap);
    text.extend_from_slice(frame.total);
    for (part, body) in parts.iter().zip(&bodies) {
        text.extend_from_slice(&part.head);
        text.extend_from_slice(body);
        text.push(b'\n');
    }
    if left_out > 0 {
        text.extend_from_slice(left_out_note(frame.whole).as_bytes());
    }
    text.extend_from_slice(frame.closing);
    if text.len() > cap {
        return write_frame_only(frame, parts.len(), out);
    }
    out.write_all(&text)
}

/// What stands for an account's report that does not fit in its share of the comment.
const LEFT_OUT: &str = "> Not shown: no room left in this comment.\n";

/// The note after the sections when some were left out.
fn left_out_note(whole: &str) -> String {
    format!(
        "> Some accounts' reports did not fit under {} characters. {whole}\n\n",
        super::markdown::CAP
    )
}

/// The sums and where the whole report is, when the accounts' headings alone would not fit.
fn write_frame_only(frame: &Frame<'_>, accounts: usize, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(frame.closing)?;
    writeln!(
        out,
        "\n> The {accounts} accounts' sections are too large for a comment. {}",
        frame.whole
    )
}

/// How much of `budget` each section may use, given the size each would take whole: an even
/// share, a section that needs less passing what it leaves on to the larger ones. Never more
/// than `budget` in all, never more than a section needs.
pub(crate) fn shares(sizes: &[usize], budget: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&i| sizes[i]);
    let mut shares = vec![0; sizes.len()];
    let mut left = budget;
    for (done, &i) in order.iter().enumerate() {
        let even = left / (sizes.len() - done);
        shares[i] = sizes[i].min(even);
        left -= shares[i];
    }
    shares
}

/// Each account's words in a check's grand total, and the sums.
fn checks_rows(sections: &[CheckSection]) -> (Vec<(&Label, String)>, String) {
    let total = checks_total(sections);
    let rows: Vec<(&Label, String)> = sections
        .iter()
        .map(|section| {
            let words = match &section.result {
                Ok(checked) => check_words(&checked.json),
                Err(_) => "failed".to_owned(),
            };
            (&section.label, words)
        })
        .collect();
    let sums = format!(
        "{} in {} files over {}{}{}",
        violations(total.violations),
        total.files,
        accounts(total.accounts),
        failed_note(total.failed),
        not_compliant_note(sections)
    );
    (rows, sums)
}

/// An account's row in the total: its violations, then why it is not compliant when that is
/// more than its violations, in the single-account report's words (a targeted check, a
/// listing not proven complete, files left unjudged).
fn check_words(json: &crate::wire::check::CheckJson) -> String {
    let count = violations(json.summary.violations);
    if json.compliant {
        return count;
    }
    let unjudged = crate::inventory::Coverage {
        unplaced: json.listing.unplaced,
        unproven: json.listing.unproven,
        ..crate::inventory::Coverage::default()
    };
    let notes: Vec<String> = super::targeted_note(&json.targets)
        .into_iter()
        .chain(super::coverage_notes(unjudged))
        .collect();
    if notes.is_empty() {
        count
    } else {
        format!("{count}; not compliant. {}", notes.join(" "))
    }
}

/// `; 2 accounts not compliant without violations (see below)` for accounts with no violation
/// that still cannot be called compliant; nothing otherwise.
fn not_compliant_note(sections: &[CheckSection]) -> String {
    let n = sections
        .iter()
        .filter(|section| {
            section
                .result
                .as_ref()
                .is_ok_and(|c| !c.json.compliant && c.json.summary.violations == 0)
        })
        .count();
    match n {
        0 => String::new(),
        1 => "; 1 account not compliant without violations (not checked whole: targeted, \
              listing not proven complete, or files not judged)"
            .to_owned(),
        n => format!(
            "; {n} accounts not compliant without violations (not checked whole: targeted, \
             listing not proven complete, or files not judged)"
        ),
    }
}

/// The exposure report over several accounts: one section each, a failed account with its
/// message under its configured user and server.
fn checks_html(
    sections: &[CheckSection],
    checked_at: std::time::SystemTime,
    out: &mut dyn Write,
) -> io::Result<()> {
    let failed: Vec<crate::wire::plan::Source> = sections
        .iter()
        .map(|section| crate::wire::plan::Source::Api {
            api_url: section.label.server.clone(),
            user: section.label.user.clone(),
        })
        .collect();
    let html: Vec<super::html::Section> = sections
        .iter()
        .zip(&failed)
        .map(
            |(section, configured)| match section.result.as_ref().map(|c| c.exposure.as_ref()) {
                Ok(Some(exposure)) => super::html::Section {
                    source: &exposure.source,
                    policy: &exposure.policy,
                    digest: &exposure.digest,
                    outcome: Ok(super::html::Checked {
                        report: &exposure.report,
                        targets: &exposure.targets,
                    }),
                },
                Ok(None) => super::html::Section {
                    source: configured,
                    policy: &section.label.policy,
                    digest: "",
                    outcome: Err("the account was not checked for the exposure report"),
                },
                Err(error) => super::html::Section {
                    source: configured,
                    policy: &section.label.policy,
                    digest: "",
                    outcome: Err(error),
                },
            },
        )
        .collect();
    super::html::report(&html, checked_at, out)
}

/// JUnit over several accounts: one `testsuite` per account (a failed account is a suite
/// with one errored case), under one `testsuites` with the sums.
fn checks_junit(sections: &[CheckSection], out: &mut dyn Write) -> io::Result<()> {
    let (mut tests, mut failures, mut errors) = (0, 0, 0);
    for section in sections {
        if let Ok(checked) = &section.result {
            let (t, f) = junit_counts(&checked.rendered);
            tests += t;
            failures += f;
        } else {
            tests += 1;
            errors += 1;
        }
    }
    writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(
        out,
        "<testsuites name=\"plotward check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">"
    )?;
    for section in sections {
        match &section.result {
            Ok(checked) => out.write_all(&checked.rendered)?,
            Err(error) => {
                let name = super::junit::escape(&section.label.words());
                let message = super::junit::escape(error);
                writeln!(
                    out,
                    "  <testsuite name=\"{name}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">"
                )?;
                writeln!(
                    out,
                    "    <testcase classname=\"account\" name=\"{name}\">\n      <error type=\"account\" message=\"{message}\">{message}</error>\n    </testcase>"
                )?;
                writeln!(out, "  </testsuite>")?;
            }
        }
    }
    writeln!(out, "</testsuites>")
}

/// The `tests` and `failures` of the first `testsuite` element in `suite` (an account's suite
/// as [`super::junit::check_suite`] wrote it).
fn junit_counts(suite: &[u8]) -> (usize, usize) {
    let text = String::from_utf8_lossy(suite);
    let first = text.lines().next().unwrap_or_default();
    let attribute = |name: &str| {
        first
            .split(&format!(" {name}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (attribute("tests"), attribute("failures"))
}

/// Writes a grand total: one row per account, then the sums.
fn write_total(
    rows: &[(&Label, String)],
    sums: &str,
    format: Framing,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Framing::Text => {
            writeln!(out, "Total: {sums}.")?;
            for (label, words) in rows {
                writeln!(out, "  {}: {words}", label.words())?;
            }
            Ok(())
        }
        Framing::Markdown => {
            writeln!(out, "## Total\n\n{sums}.\n")?;
            writeln!(out, "| account | server | policy | result |")?;
            writeln!(out, "| --- | --- | --- | --- |")?;
            for (label, words) in rows {
                writeln!(
                    out,
                    "| {} | {} | {} | {words} |",
                    super::markdown::code(&label.user),
                    super::markdown::code(&label.server),
                    super::markdown::code(&label.policy)
                )?;
            }
            Ok(())
        }
        Framing::Comment => {
            writeln!(out, "# Total: {sums}.")?;
            for (label, words) in rows {
                writeln!(out, "#   {}: {words}", label.words())?;
            }
            Ok(())
        }
    }
}

/// The sums once more, one line after the sections.
fn write_closing(sums: &str, format: Framing, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Framing::Text => writeln!(out, "Total: {sums}."),
        Framing::Markdown => writeln!(out, "**Total:** {sums}."),
        Framing::Comment => writeln!(out, "# Total: {sums}."),
    }
}

/// `2 to restrict, 1 to expose`.
fn changes(restrict: usize, expose: usize) -> String {
    format!("{restrict} to restrict, {expose} to expose")
}

/// `1 violation`, `3 violations`.
fn violations(n: usize) -> String {
    if n == 1 {
        "1 violation".to_owned()
    } else {
        format!("{n} violations")
    }
}

/// `1 account`, `3 accounts`.
fn accounts(n: usize) -> String {
    if n == 1 {
        "1 account".to_owned()
    } else {
        format!("{n} accounts")
    }
}

/// `; 1 account failed` (nothing when none did).
fn failed_note(failed: usize) -> String {
    match failed {
        0 => String::new(),
        1 => "; 1 account failed".to_owned(),
        n => format!("; {n} accounts failed"),
    }
}

/// What became of one account in an apply over several.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Applied<'a> {
    /// Its changes ran: the report.
    Report(&'a crate::apply::Report),
    /// Nothing to change.
    Nothing,
    /// Refused (a guardrail, `never_public`, a stale saved plan): nothing written.
    Refused,
    /// Could not be planned (bad key, listing failed): nothing written.
    Failed,
}

/// Writes why an account's changes are not applied, in its section. A refusal's words are
/// plotward's own, over several lines, with what came from outside already escaped: its line
/// breaks are kept, any other control character escaped.
pub(crate) fn refused(why: &str, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "Refused: {}\n", plotward_visible::escape_lines(why))
}

/// The grand total of an apply over several accounts: the sums, then a line per account.
pub(crate) fn applies_total(rows: &[(&Label, Applied<'_>)], out: &mut dyn Write) -> io::Result<()> {
    let mut sums = crate::apply::Tally::default();
    let (mut refused, mut failed) = (0, 0);
    let words: Vec<(&Label, String)> = rows
        .iter()
        .map(|(label, applied)| {
            let words = match applied {
                Applied::Report(report) => {
                    let tally = report.tally();
                    sums.restricted += tally.restricted;
                    sums.exposed += tally.exposed;
                    sums.failed += tally.failed;
                    sums.not_applied += tally.not_applied;
                    tally_words(&tally)
                }
                Applied::Nothing => "no changes".to_owned(),
                Applied::Refused => {
                    refused += 1;
                    "refused, nothing written".to_owned()
                }
                Applied::Failed => {
                    failed += 1;
                    "failed, nothing written".to_owned()
                }
            };
            (*label, words)
        })
        .collect();
    let refused_note = match refused {
        0 => String::new(),
        1 => "; 1 account refused".to_owned(),
        n => format!("; {n} accounts refused"),
    };
    let sums = format!(
        "{} over {}{refused_note}{}",
        tally_words(&sums),
        accounts(rows.len()),
        failed_note(failed)
    );
    write_total(&words, &sums, Framing::Text, out)
}

/// `2 restricted, 1 exposed, 0 failed` (and `, 3 not applied` when some were not).
fn tally_words(tally: &crate::apply::Tally) -> String {
    let not_applied = match tally.not_applied {
        0 => String::new(),
        n => format!(", {n} not applied"),
    };
    format!(
        "{} restricted, {} exposed, {} failed{not_applied}",
        tally.restricted, tally.exposed, tally.failed
    )
}

/// The line that introduces an account's warnings on stderr.
pub(crate) fn stderr_header(label: &Label, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "account {}:", label.words())
}

/// On stderr, when the report went to `--out`: an account that could not be run, and why.
pub(crate) fn stderr_failure(label: &Label, reason: &str, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "error: account {} failed: {}",
        label.words(),
        plotward_visible::escape(reason)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A check over `sections` in text, uncoloured.
    fn checks_text(sections: &[CheckSection]) -> String {
        let mut out = Vec::new();
        let plain = (Painter::new(false), std::time::SystemTime::UNIX_EPOCH);
        checks(sections, CheckFormat::Text, plain, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn label(user: &str) -> Label {
        Label {
            user: user.to_owned(),
            server: "https://plotly.example.com".to_owned(),
            policy: format!("{user}.yaml"),
        }
    }

    #[test]
    fn a_servers_words_in_a_failure_are_inert_in_markdown() {
        let why = "HTTP 500: [click me](https://evil.example) @octocat **bold** `tick` <b>|";
        let mut out = Vec::new();
        failed(why, Framing::Markdown, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let span = text
            .strip_prefix("**Failed:** ")
            .and_then(|rest| rest.strip_suffix("\n\n"))
            .expect("one line");
        // One code span: the fence is longer than the backtick inside, and opens and closes it.
        assert!(span.starts_with("``") && span.ends_with("``"), "{span}");
        let inner = &span[2..span.len() - 2];
        assert!(!inner.starts_with('`') || inner.starts_with(" `"), "{span}");
        assert!(inner.contains("[click me](https://evil.example) @octocat **bold**"));
        assert!(!inner.contains("``"), "{span}");
        // A paragraph, not a table cell: the pipe is kept as it is.
        assert!(inner.ends_with("<b>|"), "{span}");
        // A long error is cut, and says where it is whole.
        let mut out = Vec::new();
        failed(&"e".repeat(5_000), Framing::Markdown, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.len() < FAILURE_CHARS + 200, "{}", text.len());
        assert!(text.contains("(cut to 400 characters; the JSON report has it whole)"));
    }

    #[test]
    fn a_failed_account_counts_in_the_total_and_says_why() {
        let sections = vec![CheckSection {
            label: label("ops\u{202e}"),
            result: Err("the server refused the key".to_owned()),
        }];
        let text = checks_text(&sections);
        // The total first, the section after it, the sums once more at the end.
        assert!(
            text.starts_with("Total: 0 violations in 0 files over 1 account; 1 account failed.\n"),
            "{text}"
        );
        let section = text
            .find("\nAccount ops\\u{202e} on https://plotly.example.com")
            .expect("the section");
        assert!(
            text[section..]
                .ends_with("Total: 0 violations in 0 files over 1 account; 1 account failed.\n"),
            "{text}"
        );
        assert!(
            text.contains("Failed: the server refused the key"),
            "{text}"
        );
        assert!(
            text.contains("Total: 0 violations in 0 files over 1 account; 1 account failed."),
            "{text}"
        );
        assert!(!text.contains('\u{202e}'), "{text}");
        let document = checks_document(&sections);
        assert!(!document.compliant);
        assert_eq!(document.total.failed, 1);
    }

    /// An account checked clean but not vouched for: targeted, or with unplaced files.
    fn unvouched(targets: &[&str], unplaced: usize) -> CheckedAccount {
        let json: CheckJson = serde_json::from_value(serde_json::json!({
            "format_version": 1, "policy": "a.yaml",
            "source": {"type": "snapshot", "path": "s.json"}, "compliant": false,
            "targets": targets,
            "summary": {"files": 4, "violations": 0, "drift": 0, "never_public": 0},
            "violations": [], "dead_rules": [], "listing": {"unplaced": unplaced}
        }))
        .unwrap();
        CheckedAccount {
            json,
            pending: unplaced > 0,
            rendered: Vec::new(),
            exposure: None,
            markdown: None,
        }
    }

    #[test]
    fn an_account_not_compliant_without_violations_makes_the_run_not_compliant_and_says_why() {
        let sections = vec![
            CheckSection {
                label: label("a"),
                result: Ok(unvouched(&["reports/**"], 0)),
            },
            CheckSection {
                label: label("b"),
                result: Ok(unvouched(&[], 3)),
            },
        ];
        assert!(!checks_document(&sections).compliant);
        let text = checks_text(&sections);
        assert!(
            text.contains("2 accounts not compliant without violations"),
            "{text}"
        );
        assert!(
            text.contains("0 violations; not compliant. Targeted: only paths matching `reports/**`; this is not the whole account."),
            "{text}"
        );
        assert!(
            text.contains("3 listed files could not be placed in the folder tree"),
            "{text}"
        );
    }

    #[test]
    fn shares_are_even_and_pass_on_what_small_sections_leave() {
        assert_eq!(shares(&[10, 10, 10], 90), [10, 10, 10]);
        assert_eq!(shares(&[100, 100, 100], 90), [30, 30, 30]);
        assert_eq!(shares(&[10, 100, 100], 90), [10, 40, 40]);
        assert_eq!(shares(&[100, 5, 1000], 91), [43, 5, 43]);
        assert_eq!(shares(&[], 90), Vec::<usize>::new());
        assert_eq!(shares(&[7], 0), [0]);
    }

    /// A body like the Markdown renderers': whole when it fits, else cut to `cap` when `cap`
    /// leaves room for its headline (`least`), else only the headline and a note, which may
    /// overrun.
    fn body(whole: usize, least: usize) -> Body<'static> {
        Box::new(move |cap| {
            let n = if whole <= cap { whole } else { cap.max(least) };
            Ok(vec![b'x'; n])
        })
    }

    proptest::proptest! {
        #[test]
        fn a_comment_over_several_accounts_fits_the_cap_and_keeps_every_heading(
            accounts in proptest::collection::vec(
                (0usize..200_000, 0usize..2_000, proptest::option::of(0usize..3_000)),
                1..40,
            ),
        ) {
            let cap = crate::render::markdown::CAP;
            let parts: Vec<Part<'_>> = accounts
                .iter()
                .enumerate()
                .map(|(i, &(whole, least, failure))| {
                    let mut head = format!("## Account `user{i}`\n\n").into_bytes();
                    match failure {
                        Some(n) => {
                            head.extend(format!("**Failed:** {}\n", "e".repeat(n)).bytes());
                            Part { head, body: None }
                        }
                        None => Part { head, body: Some(body(whole, least)) },
                    }
                })
                .collect();
            let total = b"## Total\n\n3 to restrict over N accounts.\n\n| rows |\n\n".to_vec();
            let frame = Frame {
                total: &total,
                closing: b"**Total:** 3 to restrict over N accounts.\n",
                whole: "Download `plan.json` from this job's artifacts.",
            };
            let mut out = Vec::new();
            write_shared(&frame, &parts, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            proptest::prop_assert!(text.len() <= cap, "{} characters", text.len());
            proptest::prop_assert!(text.contains("**Total:** 3 to restrict over N accounts."));
            let headings: usize = parts.iter().map(|p| p.head.len() + 1).sum();
            if headings + total.len() + 400 < cap {
                // Whenever the frame fits, the total comes first and every heading (and
                // failure) follows in order.
                proptest::prop_assert!(text.starts_with("## Total"), "{text}");
                let mut at = 0;
                for part in &parts {
                    let head = std::str::from_utf8(&part.head).unwrap();
                    let found = text[at..].find(head);
                    proptest::prop_assert!(found.is_some(), "{head} missing");
                    at += found.unwrap_or(0) + head.len();
                }
            } else {
                proptest::prop_assert!(text.contains("Download `plan.json`"), "{text}");
            }
        }
    }

    #[test]
    fn junit_sums_every_suite_and_errors_failed_accounts() {
        let suite = b"  <testsuite name=\"a\" tests=\"4\" failures=\"2\" errors=\"0\" skipped=\"0\">\n  </testsuite>\n".to_vec();
        assert_eq!(junit_counts(&suite), (4, 2));
        let json: CheckJson = serde_json::from_value(serde_json::json!({
            "format_version": 1, "policy": "a.yaml",
            "source": {"type": "snapshot", "path": "s.json"}, "compliant": false,
            "summary": {"files": 4, "violations": 2, "drift": 2, "never_public": 0},
            "violations": [], "dead_rules": []
        }))
        .unwrap();
        let sections = vec![
            CheckSection {
                label: label("a"),
                result: Ok(CheckedAccount {
                    json,
                    pending: true,
                    rendered: suite,
                    exposure: None,
                    markdown: None,
                }),
            },
            CheckSection {
                label: label("b"),
                result: Err("no key <here>".to_owned()),
            },
        ];
        let mut out = Vec::new();
        checks(
            &sections,
            CheckFormat::Junit,
            (Painter::new(false), std::time::SystemTime::UNIX_EPOCH),
            &mut out,
        )
        .unwrap();
        let xml = String::from_utf8(out).unwrap();
        assert!(
            xml.contains(
                "<testsuites name=\"plotward check\" tests=\"5\" failures=\"2\" errors=\"1\">"
            ),
            "{xml}"
        );
        assert!(xml.contains("message=\"no key &lt;here&gt;\""), "{xml}");
    }
}
