//! JUnit XML for `check` (one test case per judged file, a failure per violation) and for
//! `test` (one test case per case and per assertion of the policy test file, a failure per
//! broken one), so GitLab, Jenkins and GitHub (through report actions) show them as test
//! reports. Both have the same shape: `testsuites` holding one `testsuite`.

use std::io::{self, Write};

use super::{CheckView, Painter, PolicyTestView};
use crate::check::{Kind, Report};
use crate::policy::diagnostic::Span;

/// The report as a JUnit XML document, the policy's name as the suite's.
pub(crate) fn check(
    view: &CheckView<'_>,
    _painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    let (tests, failures) = check_counts(view);
    writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(
        out,
        "<testsuites name=\"plotward check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">"
    )?;
    check_suite(view, view.policy, out)?;
    writeln!(out, "</testsuites>")
}

/// How many test cases a check's suite holds, and how many of them fail.
pub(crate) fn check_counts(view: &CheckView<'_>) -> (usize, usize) {
    let report = view.report;
    let notes = super::dead_rule_notes(&report.dead_rules, &report.dead_patterns);
    let skipped = usize::from(report.coverage.unproven.is_some())
        + notes.len()
        + usize::from(super::targeted_note(view.targets).is_some());
    let unjudged = usize::from(report.coverage.unplaced > 0);
    let failures = report
        .judged
        .iter()
        .filter(|j| !j.findings.is_empty())
        .count()
        + unjudged;
    (report.judged.len() + skipped + unjudged, failures)
}

/// One check as a `testsuite` element named `name` (the policy's name, or an account's label
/// in a check of several accounts).
pub(crate) fn check_suite(view: &CheckView<'_>, name: &str, out: &mut dyn Write) -> io::Result<()> {
    let report = view.report;
    let unproven = report.coverage.unproven;
    let notes = super::dead_rule_notes(&report.dead_rules, &report.dead_patterns);
    let targeted = super::targeted_note(view.targets);
    let skipped = usize::from(unproven.is_some()) + notes.len() + usize::from(targeted.is_some());
    let (tests, failures) = check_counts(view);
    writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">",
        escape(name)
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
    writeln!(out, "  </testsuite>")
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

/// A policy test run as a JUnit XML document, the test file's name as the suite's: a test
/// case per case (classname `cases`, named `PATH is LEVEL`, or `PATH (TYPE) is LEVEL` when
/// the case names a file type; `is ignored` for `ignore`) and per assertion (classname
/// `assertions`, named `nothing under GLOB is LEVEL`), in file order, each with the `file`
/// and `line` where it is written; a broken one carries a failure with the message `test`
/// prints, after `file:line:column:`.
pub(crate) fn policy_test(
    run: &PolicyTestView<'_>,
    _painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    let file = &run.tests.name;
    let mut cases: Vec<(Span, &str, String)> = run
        .tests
        .cases
        .iter()
        .map(|case| {
            let expect = match case.expect {
                crate::policy::Target::Ignore => "ignored".to_owned(),
                crate::policy::Target::Share(level) => level.as_str().to_owned(),
            };
            let name = match case.filetypes.as_slice() {
                [only] => format!("{} ({only}) is {expect}", case.path),
                _ => format!("{} is {expect}", case.path),
            };
            (case.span, "cases", name)
        })
        .collect();
    cases.extend(run.tests.assertions.iter().map(|assertion| {
        let levels: Vec<&str> = assertion.never.iter().map(|level| level.as_str()).collect();
        let name = format!(
            "nothing under \"{}\" is {}",
            assertion.under,
            levels.join(" or ")
        );
        (assertion.span, "assertions", name)
    }));
    cases.sort_by_key(|(span, _, _)| *span);
    let tests = cases.len();
    let failures = run.outcome.failures.len();
    writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(
        out,
        "<testsuites name=\"plotward test\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">"
    )?;
    writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
        escape(file)
    )?;
    for (span, classname, name) in &cases {
        write!(
            out,
            "    <testcase classname=\"{classname}\" name=\"{}\" file=\"{}\" line=\"{}\"",
            escape(name),
            escape(file),
            span.line
        )?;
        let broken = run.outcome.failures.iter().filter(|f| f.span == *span);
        let mut any = false;
        for failure in broken {
            if !any {
                writeln!(out, ">")?;
                any = true;
            }
            let kind = match failure.broken {
                crate::policytest::Broken::Case { .. } => "case",
                _ => "assertion",
            };
            let message = escape(&super::text::policy_test_failure(
                run.policy,
                &failure.broken,
            ));
            writeln!(
                out,
                "      <failure type=\"{kind}\" message=\"{message}\">{}:{}:{}: {message}</failure>",
                escape(file),
                span.line,
                span.column
            )?;
        }
        writeln!(out, "{}", if any { "    </testcase>" } else { "/>" })?;
    }
    writeln!(out, "  </testsuite>\n</testsuites>")
}

/// Escapes text for XML attributes and content. Control, bidi and zero-width characters are
/// first made visible (`\e`, `\n`, `\u{202e}`), so a name is one line in any CI viewer;
/// what XML 1.0 cannot hold is dropped.
pub(super) fn escape(text: &str) -> String {
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
    use crate::policy::{Policy, Target};
    use crate::policytest::{Case, TestFile};

    const POLICY: &str = "version: 1\ndefault: public\nrules:\n  - match: \"finance/**\"\n    sharing: private\n    filetypes: [grid]\n";

    const TESTS: &str = "policy: p.yaml\ncases:\n  - path: finance/payroll\n    filetype: grid\n    expect: private\n  - path: \"finance/<chart> & co\"\n    expect: private\n  - path: scratch\n    expect: ignore\nassertions:\n  - under: \"finance/**\"\n    never: [public, secret]\n";

    /// `test --format junit` of `tests` against `policy`.
    fn junit_of(tests: &TestFile, policy: &Policy) -> String {
        let outcome = crate::policytest::run(tests, policy);
        let view = PolicyTestView {
            tests,
            policy,
            outcome: &outcome,
        };
        let mut out = Vec::new();
        policy_test(&view, Painter::new(false), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// One case per case and assertion in file order, with file and line; failures carry the
    /// words `test` prints and where; the same shape as check's report.
    #[test]
    fn policy_tests_become_one_case_each_with_failures_where_broken() {
        let policy = Policy::parse(POLICY, "p.yaml").unwrap();
        let tests = TestFile::parse(TESTS, "t.yaml", std::path::Path::new("")).unwrap();
        let xml = junit_of(&tests, &policy);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        assert_eq!(root.attribute("name"), Some("plotward test"));
        let counts = |node: roxmltree::Node| {
            ["tests", "failures", "errors"]
                .map(|a| node.attribute(a).unwrap_or_default().to_owned())
        };
        assert_eq!(counts(root), ["4", "3", "0"]);
        let suites: Vec<_> = root
            .children()
            .filter(roxmltree::Node::is_element)
            .collect();
        assert_eq!(suites.len(), 1);
        assert_eq!(suites[0].attribute("name"), Some("t.yaml"));
        assert_eq!(counts(suites[0]), ["4", "3", "0"]);
        let cases: Vec<_> = suites[0]
            .children()
            .filter(roxmltree::Node::is_element)
            .collect();
        let described: Vec<_> = cases
            .iter()
            .map(|c| {
                let failure = c.children().find(|n| n.has_tag_name("failure"));
                (
                    c.attribute("classname").unwrap(),
                    c.attribute("name").unwrap(),
                    c.attribute("line").unwrap(),
                    failure.map(|f| f.attribute("type").unwrap()),
                )
            })
            .collect();
        assert_eq!(
            described,
            [
                ("cases", "finance/payroll (grid) is private", "3", None),
                (
                    "cases",
                    "finance/<chart> & co is private",
                    "6",
                    Some("case")
                ),
                ("cases", "scratch is ignored", "8", Some("case")),
                (
                    "assertions",
                    "nothing under \"finance/**\" is public or secret",
                    "11",
                    Some("assertion")
                ),
            ]
        );
        let failure = cases[1]
            .children()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        let message = failure.attribute("message").unwrap();
        assert!(
            message.starts_with(
                "case failed: finance/<chart> & co (plot) gets public, expected private"
            ),
            "{message}"
        );
        assert_eq!(
            failure.text(),
            Some(format!("t.yaml:6:5: {message}").as_str())
        );
        assert!(cases.iter().all(|c| c.attribute("file") == Some("t.yaml")));
    }

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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// Whatever the paths and the file's name, the report is well-formed XML with one case
        /// each and no character a CI viewer would obey.
        #[test]
        fn any_policy_test_report_is_well_formed_and_inert(
            name in "[^\u{0}]{1,12}",
            paths in proptest::collection::vec("[^\u{0}]{1,16}", 0..6),
        ) {
            let policy = Policy::parse(POLICY, "p.yaml").unwrap();
            let tests = TestFile {
                name,
                policy: "p.yaml".into(),
                cases: paths
                    .into_iter()
                    .zip(1..)
                    .map(|(path, line)| Case {
                        span: Span { line, column: 5, width: 0 },
                        path,
                        filetypes: vec![crate::inventory::FileType::Plot],
                        expect: Target::Share(crate::inventory::Sharing::Private),
                    })
                    .collect(),
                assertions: Vec::new(),
            };
            let xml = junit_of(&tests, &policy);
            let doc = roxmltree::Document::parse(&xml);
            proptest::prop_assert!(doc.is_ok(), "{xml}");
            let doc = doc.unwrap();
            let cases = doc.descendants().filter(|n| n.has_tag_name("testcase")).count();
            proptest::prop_assert_eq!(cases, tests.cases.len());
            proptest::prop_assert!(
                !xml.chars().any(|c| c != '\n' && plotward_visible::needs_escape(c)),
                "{xml:?}"
            );
        }
    }
}
