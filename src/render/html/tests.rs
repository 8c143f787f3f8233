use std::time::SystemTime;

use base64::Engine;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::{Checked, ROW_CAP, Section};
use crate::check::{Finding, Judged, Kind, Report};
use crate::inventory::{FileType, Inventory, RemoteFile, Sharing};
use crate::plan::DecidedBy;
use crate::wire::plan::Source;

fn noon() -> SystemTime {
    humantime::parse_rfc3339("2026-03-01T12:00:00Z").expect("a valid time")
}

fn api(user: &str) -> Source {
    Source::Api {
        api_url: "https://plotly.example.com".to_owned(),
        user: user.to_owned(),
    }
}

/// The document for `sections`.
fn render(sections: &[Section<'_>]) -> String {
    let mut out = Vec::new();
    super::report(sections, noon(), &mut out).expect("writing to a Vec");
    String::from_utf8(out).expect("UTF-8")
}

fn one(report: &Report, targets: &[String]) -> String {
    let source = api("alice");
    render(&[Section {
        source: &source,
        policy: "plotward.yaml",
        digest: "ab12",
        outcome: Ok(Checked { report, targets }),
    }])
}

/// The text between the first `open` and the next `close` after it.
fn between<'t>(text: &'t str, open: &str, close: &str) -> &'t str {
    let start = text.find(open).expect(open) + open.len();
    let end = text[start..].find(close).expect(close) + start;
    &text[start..end]
}

#[test]
fn the_script_is_allowed_by_its_hash_and_nothing_else_is_loaded() {
    let html = one(&crate::check::example_report(), &[]);
    assert_eq!(html.matches("<script").count(), 1);
    let script = between(&html, "<script>", "</script>");
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script));
    let csp = between(
        &html,
        "http-equiv=\"Content-Security-Policy\" content=\"",
        "\"",
    );
    assert_eq!(
        csp,
        format!(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}'; \
             base-uri 'none'; form-action 'none'"
        )
    );
    for fetching in [" src=", " href=", "url(", "@import", "http://", "//fonts"] {
        assert!(!html.contains(fetching), "{fetching} in the page");
    }
    // The only `https://` is the account's server, as text.
    assert_eq!(html.matches("https://").count(), 1, "{html}");
    assert!(html.contains("<span class=\"place\"> at https://plotly.example.com</span>"));
}

#[test]
fn the_example_shows_its_verdict_facts_chart_and_every_violation() {
    let html = one(&crate::check::example_report(), &[]);
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(html.ends_with("</html>\n"));
    assert!(html.contains(
        "<p id=\"verdict\" class=\"verdict bad\">3 violations in 3 files (1 drifted, 2 public \
         despite never_public).</p>"
    ));
    assert!(html.contains("datetime=\"2026-03-01T12:00:00Z\">2026-03-01T12:00:00Z</time>"));
    assert!(html.contains(&format!(
        "<span id=\"version\">{}</span>",
        env!("CARGO_PKG_VERSION")
    )));
    assert!(html.contains("<code class=\"digest\">ab12</code>"));
    assert!(html.contains("<code class=\"policy\">plotward.yaml</code>"));
    // One bar per top-level folder, most exposed first, each with its counts.
    let bars: Vec<&str> = html
        .split("<g class=\"bar\" ")
        .skip(1)
        .map(|bar| bar.split('>').next().unwrap_or_default())
        .collect();
    assert_eq!(
        bars,
        [
            "data-folder=\"scratch/\" data-public=\"2\" data-secret=\"0\" data-private=\"0\"",
            "data-folder=\"finance/\" data-public=\"1\" data-secret=\"0\" data-private=\"1\"",
            "data-folder=\"/ (top level)\" data-public=\"1\" data-secret=\"0\" data-private=\"0\"",
        ]
    );
    assert!(html.contains("<title>finance/: 1 public · 0 secret · 1 private</title>"));
    let rows = between(&html, "<tbody>", "</tbody>");
    let paths: Vec<&str> = rows
        .split("<td class=\"path\"")
        .skip(1)
        .map(|row| between(row, ">", "<"))
        .collect();
    assert_eq!(
        paths,
        ["finance/payroll", "finance/payroll", "scratch/secret-x"]
    );
    assert!(rows.contains("<td>rule 1 &quot;finance/**&quot;</td>"));
    assert!(html.contains("id=\"total-violations\"><span class=\"n\">3</span>"));
    assert!(html.contains("id=\"total-files\"><span class=\"n\">5</span>"));
}

#[test]
fn a_targeted_or_incomplete_check_is_never_compliant() {
    let clean = Report {
        judged: vec![Judged {
            fid: "a:1".into(),
            path: "ok".into(),
            filetype: FileType::Plot,
            findings: Vec::new(),
        }],
        ..Report::default()
    };
    assert!(one(&clean, &[]).contains("class=\"verdict ok\">Compliant, 1 files.</p>"));
    let targeted = one(&clean, &["ok".to_owned()]);
    assert!(targeted.contains(
        "class=\"verdict warn\">No violations in the targeted paths, 1 files. Targeted: not the \
         whole account.</p>"
    ));
    assert!(
        targeted.contains(
            "<li>Targeted: only paths matching `ok`; this is not the whole account.</li>"
        )
    );
    let mut unplaced = clean.clone();
    unplaced.coverage.unplaced = 2;
    assert!(one(&unplaced, &[]).contains("class=\"verdict bad\">Not compliant: no violations"));
    let mut unproven = clean;
    unproven.coverage.unproven = Some(crate::inventory::CountMismatch {
        counted: 3,
        listed: 1,
    });
    let html = one(&unproven, &[]);
    assert!(
        html.contains("class=\"verdict warn\">No violations in 1 files listed, but the listing")
    );
    assert!(html.contains("<li>The listing was not proven complete"));
}

#[test]
fn several_accounts_each_have_a_section_and_one_that_failed_says_why() {
    let report = crate::check::example_report();
    let (alice, bob) = (api("alice"), api("bob"));
    let html = render(&[
        Section {
            source: &alice,
            policy: "teams/a.yaml",
            digest: "aa",
            outcome: Ok(Checked {
                report: &report,
                targets: &[],
            }),
        },
        Section {
            source: &bob,
            policy: "teams/b.yaml",
            digest: "bb",
            outcome: Err("the server refused the key <b>"),
        },
    ]);
    assert!(html.contains(
        "class=\"verdict bad\">3 violations in 1 of 2 accounts. 1 of 2 accounts not checked.</p>"
    ));
    assert!(html.contains("id=\"account-1\" data-account=\"alice\""));
    assert!(html.contains("id=\"account-2\" data-account=\"bob\""));
    assert!(html.contains("Not checked: the server refused the key &lt;b&gt;</p>"));
    assert_eq!(html.matches("<td class=\"who\">alice</td></tr>").count(), 3);
}

fn finding(n: usize, kind: Kind) -> Judged {
    let path = format!("f/{n:06}");
    Judged {
        fid: format!("a:{n}"),
        path: path.clone(),
        filetype: FileType::Plot,
        findings: vec![Finding {
            fid: format!("a:{n}"),
            path,
            filetype: FileType::Plot,
            now: Sharing::Public,
            through: None,
            below: false,
            kind,
        }],
    }
}

#[test]
fn a_hundred_thousand_violations_show_the_cap_never_public_first_in_path_order() {
    let drift = || Kind::Drift {
        wanted: Sharing::Private,
        decided_by: DecidedBy::Default,
    };
    let judged = (0..100_000)
        .map(|n| {
            finding(
                n,
                if n % 10 == 7 {
                    Kind::NeverPublic
                } else {
                    drift()
                },
            )
        })
        .collect();
    let report = Report {
        judged,
        ..Report::default()
    };
    let html = one(&report, &[]);
    let rows = between(&html, "<tbody>", "</tbody>");
    assert_eq!(rows.matches("<tr ").count(), ROW_CAP);
    assert_eq!(
        rows.matches("<tr class=\"never_public\">").count(),
        10_000 / 10 * 10
    );
    assert!(html.contains(
        "Showing 10,000 of 100,000 violations, every <code>never_public</code> one first"
    ));
    let paths: Vec<&str> = rows
        .split("<td class=\"path\"")
        .skip(1)
        .map(|row| between(row, ">", "<"))
        .collect();
    assert!(paths.windows(2).all(|w| w[0] <= w[1]));
    // Rows stay small: the page of the cap is a few megabytes.
    assert!(html.len() < 6_000_000, "{}", html.len());
}

#[test]
fn many_top_level_folders_share_one_last_bar() {
    let files: Vec<RemoteFile> = (0..40)
        .map(|n| RemoteFile {
            fid: format!("a:{n}"),
            path: format!("team{n:02}/plot"),
            filetype: FileType::Plot,
            flags: Sharing::Private.flags(),
        })
        .collect();
    let policy =
        crate::policy::Policy::parse("version: 1\ndefault: private\n", "p.yaml").expect("valid");
    let inventory = Inventory::new(files);
    let report = crate::check::check(&crate::plan::diff(&policy, &inventory), &policy.guardrails);
    let html = one(&report, &[]);
    assert_eq!(html.matches("<g class=\"bar\"").count(), 24);
    assert!(html.contains(
        "data-folder=\"17 more folders\" data-public=\"0\" data-secret=\"0\" data-private=\"17\""
    ));
}

#[test]
fn the_text_helper_escapes_markup_and_shows_invisible_characters() {
    assert_eq!(
        super::text("<script>alert('1')</script> & \"x\""),
        "&lt;script&gt;alert(&#39;1&#39;)&lt;/script&gt; &amp; &quot;x&quot;"
    );
    assert_eq!(
        super::text("a\u{202e}b\u{200b}c\n"),
        "a\\u{202e}b\\u{200b}c\\n"
    );
    assert_eq!(super::grouped(1_234_567), "1,234,567");
    assert_eq!(super::grouped(999), "999");
    assert_eq!(super::shortened("abcdef", 4), "abc…");
}

/// Segments of any characters but `/`, and of ones that look like markup.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[^/]{1,10}",
        prop::sample::select(vec![
            "<script>alert(1)</script>".to_owned(),
            "\"><img src=x onerror=alert(1)>".to_owned(),
            "</script><script>".to_owned(),
            "a\u{202e}b".to_owned(),
            "&amp;".to_owned(),
            "]]><!--".to_owned(),
        ]),
    ]
}

fn hostile_path() -> impl Strategy<Value = String> {
    prop::collection::vec(segment(), 1..=3).prop_map(|s| s.join("/"))
}

/// The same structure with every segment replaced by its hex: no name can be markup.
fn benign(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            segment
                .bytes()
                .fold(String::from("x"), |hex, b| format!("{hex}{b:02x}"))
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A check of `files` against a policy whose every decision is independent of names.
fn checked(files: &[(String, Sharing)], map: fn(&str) -> String) -> Report {
    let inventory = Inventory::new(
        files
            .iter()
            .enumerate()
            .map(|(n, (path, level))| RemoteFile {
                fid: format!("a:{n}"),
                path: map(path),
                filetype: FileType::Plot,
                flags: level.flags(),
            })
            .collect(),
    );
    let policy = crate::policy::Policy::parse(
        "version: 1\ndefault: private\nguardrails:\n  never_public: [\"**\"]\n",
        "p.yaml",
    )
    .expect("valid");
    crate::check::check(&crate::plan::diff(&policy, &inventory), &policy.guardrails)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Whatever the names (files, folders, user, server, policy, targets, a message), the page
    /// holds exactly the markup of the same page with harmless names: as many `<`, `>` and
    /// `"`, one script, and nothing a terminal or browser would obey as a control.
    #[test]
    fn no_name_becomes_markup(
        files in prop::collection::vec((hostile_path(), prop::sample::select(Sharing::ALL.to_vec())), 1..10),
        user in segment(),
        other in any::<String>(),
    ) {
        let render_with = |map: fn(&str) -> String| {
            let report = checked(&files, map);
            let source = Source::Api { api_url: map(&other), user: map(&user) };
            let snapshot = Source::Snapshot { path: map(&other) };
            let targets = [map(&user)];
            let message = map(&other);
            render(&[
                Section {
                    source: &source,
                    policy: &map(&user),
                    digest: &map(&other),
                    outcome: Ok(Checked { report: &report, targets: &targets }),
                },
                Section {
                    source: &snapshot,
                    policy: &map(&other),
                    digest: "d",
                    outcome: Err(&message),
                },
            ])
        };
        let hostile = render_with(str::to_owned);
        let harmless = render_with(benign);
        for markup in ['<', '>', '"'] {
            prop_assert_eq!(hostile.matches(markup).count(), harmless.matches(markup).count(), "{}", markup);
        }
        prop_assert_eq!(hostile.matches("</script").count(), 1);
        prop_assert_eq!(hostile.matches("<script").count(), 1);
        prop_assert!(hostile.ends_with("</html>\n"));
        prop_assert!(!hostile.chars().any(|c| c != '\n' && plotward_visible::needs_escape(c)));
        // Every violating path is shown, as text.
        for finding in checked(&files, str::to_owned).findings() {
            let cell = format!(">{}</td>", super::text(&finding.path));
            prop_assert!(hostile.contains(&cell), "{}", cell);
        }
    }
}

#[test]
fn a_file_exposed_through_its_folder_names_the_folder() {
    let inventory = Inventory::new(vec![
        RemoteFile {
            fid: "a:1".into(),
            path: "team".into(),
            filetype: FileType::Folder,
            flags: Sharing::Public.flags(),
        },
        RemoteFile {
            fid: "a:2".into(),
            path: "team/plan".into(),
            filetype: FileType::Plot,
            flags: Sharing::Private.flags(),
        },
    ]);
    let policy =
        crate::policy::Policy::parse("version: 1\ndefault: private\n", "p.yaml").expect("valid");
    let report = crate::check::check(&crate::plan::diff(&policy, &inventory), &policy.guardrails);
    let html = one(&report, &[]);
    let row = between(&html, "<td class=\"path\" title=\"a:2 (plot)\">", "</tr>");
    assert!(
        row.contains("<td>team/</td><td class=\"who\">alice</td>"),
        "{row}"
    );
    assert!(row.contains("data-sort=\"2\">public</td>"), "{row}");
}
