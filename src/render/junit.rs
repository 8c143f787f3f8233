//! JUnit XML for `check`: one test case per judged file, a failure per violation, so GitLab,
//! Jenkins and GitHub (through report actions) show compliance as a test report.

use std::io::{self, Write};

use super::{CheckView, Painter};
use crate::check::{Kind, Report};

/// The report as a JUnit XML document, the policy's name as the suite's.
pub(crate) fn check(
    view: &CheckView<'_>,
    _painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    let report = view.report;
    let unproven = report.coverage.unproven;
    let notes = super::dead_rule_notes(&report.dead_rules, &report.dead_patterns);
    let targeted = super::targeted_note(view.targets);
    let skipped = usize::from(unproven.is_some()) + notes.len() + usize::from(targeted.is_some());
    let unjudged = usize::from(report.coverage.unplaced > 0);
    let tests = report.judged.len() + skipped + unjudged;
    let failures = report
        .judged
        .iter()
        .filter(|j| !j.findings.is_empty())
        .count()
        + unjudged;
    writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(
        out,
        "<testsuites name=\"plotward check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">"
    )?;
    writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">",
        escape(view.policy)
    )?;
    write_policy_and_listing_cases(out, report, view.targets, notes)?;
    for judged in &report.judged {
        let folder = judged
            .path
            .rsplit_once('/')
            .map_or("(root)", |(folder, _)| folder);
        write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\"",
            escape(folder),
            escape(&judged.path)
        )?;
        if judged.findings.is_empty() {
            writeln!(out, "/>")?;
            continue;
        }
        writeln!(out, ">")?;
        for finding in &judged.findings {
            let kind = match finding.kind {
                Kind::Drift { .. } => "drift",
                Kind::NeverPublic => "never_public",
            };
            let message = escape(&super::text::finding(finding));
            writeln!(
                out,
                "      <failure type=\"{kind}\" message=\"{message}\">{} {} ({}): {message}</failure>",
                escape(&finding.path),
                escape(&finding.fid),
                escape(finding.filetype.as_str()),
            )?;
        }
        writeln!(out, "    </testcase>")?;
    }
    writeln!(out, "  </testsuite>\n</testsuites>")
}

/// The cases about the policy and the listing rather than one file: listing properties, each
/// pattern or rule that protects nothing (skipped), files nobody judged (a failure) and a
/// listing not proven complete (skipped).
fn write_policy_and_listing_cases(
    out: &mut dyn Write,
    report: &Report,
    targets: &[String],
    notes: Vec<String>,
) -> io::Result<()> {
    let unproven = report.coverage.unproven;
    let unjudged = usize::from(report.coverage.unplaced > 0);
    let targeted = super::targeted_note(targets);
    if !report.coverage.is_full() || targeted.is_some() {
        writeln!(out, "    <properties>")?;
        if !report.coverage.is_full() {
            writeln!(
                out,
                "      <property name=\"foreign_skipped\" value=\"{}\"/>\n      \
                 <property name=\"unplaced\" value=\"{}\"/>\n      \
                 <property name=\"listing_proven_complete\" value=\"{}\"/>",
                report.coverage.foreign_skipped,
                report.coverage.unplaced,
                unproven.is_none()
            )?;
        }
        if !targets.is_empty() {
            writeln!(
                out,
                "      <property name=\"whole_account\" value=\"false\"/>\n      \
                 <property name=\"targets\" value=\"{}\"/>",
                escape(&targets.join(" "))
            )?;
        }
        writeln!(out, "    </properties>")?;
    }
    // A targeted check vouches for its targets only: the rest of the account is a skipped
    // case, so no report reads as a full pass.
    if let Some(note) = targeted {
        writeln!(
            out,
            "    <testcase classname=\"(scope)\" name=\"the whole account was checked\">\n      \
             <skipped message=\"{}\"/>\n    </testcase>",
            escape(&note)
        )?;
    }
    // A rule that decided no file protects nothing: shown, not passed.
    for note in notes {
        writeln!(
            out,
            "    <testcase classname=\"(policy)\" name=\"{}\">\n      <skipped message=\"{}\"/>\n    </testcase>",
            escape(
                note.split(" decided")
                    .next()
                    .unwrap_or_default()
                    .split(" matches")
                    .next()
                    .unwrap_or_default()
            ),
            escape(&note)
        )?;
    }
    if unjudged > 0 {
        // Files nobody judged cannot pass: the check fails until they can be placed.
        let message = format!(
            "{} listed files could not be placed in the folder tree and were not judged",
            report.coverage.unplaced
        );
        writeln!(
            out,
            "    <testcase classname=\"(listing)\" name=\"every listed file was judged\">\n      \
             <failure type=\"unplaced\" message=\"{}\">{}</failure>\n    </testcase>",
            escape(&message),
            escape(&message)
        )?;
    }
    if unproven.is_some() {
        // Not a pass and not a violation: the listing could not vouch for completeness.
        let note = super::coverage_notes(report.coverage).join(" ");
        writeln!(
            out,
            "    <testcase classname=\"(listing)\" name=\"the listing is complete\">\n      \
             <skipped message=\"{}\"/>\n    </testcase>",
            escape(&note)
        )?;
    }
    Ok(())
}

/// Escapes text for XML attributes and content. Control, bidi and zero-width characters are
/// first made visible (`\e`, `\n`, `\u{202e}`), so a name is one line in any CI viewer;
/// what XML 1.0 cannot hold is dropped.
fn escape(text: &str) -> String {
    let text = plotward_visible::escape(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_control_characters() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(escape("bell\u{7}"), "bell\\u{7}");
        assert_eq!(
            escape("a\rPlan: 0\nb"),
            "a\\rPlan: 0\\nb",
            "one line, shown"
        );
        assert_eq!(
            escape("\u{fffe}"),
            "\u{fffd}",
            "what XML cannot hold is dropped"
        );
    }
}
