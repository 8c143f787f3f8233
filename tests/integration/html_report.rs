//! `check --format html`: the exposure report, made by the real binary from the sandbox,
//! read back in Rust (self-contained, hostile names as text) and loaded in headless Chromium
//! (Debian's `chromium`, driven by `playwright-core` from npm): the DOM, the sort order after
//! clicking headers, no request but the file itself, no console error, and a screenshot kept
//! at `target/test-artifacts/check-report.png`.
//!
//! Chromium is installed with apt-get when missing (as root), and `playwright-core` into the
//! target directory, once. Without them a test fails saying how to skip it: with
//! `PLOTWARD_SKIP_CHROMIUM` set (to anything but nothing) it prints `skipped: <test name>
//! (PLOTWARD_SKIP_CHROMIUM is set)` and passes. `.ci/run` never sets it (a test checks).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use serde_json::Value;

use crate::gitops::{live, seeded_with};
use crate::harness::{Run, repo};

/// The variable that skips the tests needing Chromium.
const SKIP_VAR: &str = "PLOTWARD_SKIP_CHROMIUM";

/// Debian's Chromium.
const CHROMIUM: &str = "/usr/bin/chromium";

/// The pinned driver, from npm.
const PLAYWRIGHT: &str = "playwright-core@1.65.1";

/// Alice's account: three top-level folders and a file at the root, a public folder that makes
/// its contents public, and names that are markup or reorder text.
const FILES: &[(&str, &str, &str, &str)] = &[
    ("alice:1", "finance", "fold", "private"),
    ("alice:2", "finance/payroll", "grid", "public"),
    ("alice:3", "finance/budget", "plot", "private"),
    ("alice:4", "finance/forecast", "plot", "secret"),
    ("alice:5", "marketing", "fold", "public"),
    ("alice:6", "marketing/launch", "plot", "private"),
    ("alice:7", "marketing/teaser", "plot", "secret"),
    ("alice:8", "<script>alert(1)<", "fold", "private"),
    ("alice:9", "<script>alert(1)</script>", "plot", "public"),
    ("alice:10", "research", "fold", "private"),
    ("alice:11", "research/a", "plot", "private"),
    ("alice:12", "research/b", "plot", "private"),
    ("alice:13", "research/c\u{202e}txt.exe", "plot", "secret"),
    ("alice:14", "overview", "dashboard", "public"),
];

const POLICY: &str = "version: 1\ndefault: private\nrules:\n  - match: \"marketing/**\"\n    sharing: public\nguardrails:\n  never_public: [\"finance/**\"]\n";

/// The paths of the violations, in path order: what the table shows without JavaScript.
const VIOLATIONS: [&str; 6] = [
    "<script>alert(1)</script>",
    "finance/forecast",
    "finance/payroll",
    "finance/payroll",
    "overview",
    "research/c\\u{202e}txt.exe",
];

/// `check --format html --out report.html` of the seeded sandbox, exit 2, and when it ran.
fn report(sandbox: &plotward_sandbox::Sandbox) -> (Run, SystemTime, SystemTime) {
    // The report says seconds: the window starts at the second the run started in.
    let before =
        humantime::parse_rfc3339(&humantime::format_rfc3339_seconds(SystemTime::now()).to_string())
            .expect("a valid time");
    let run = live(sandbox)
        .policy(POLICY)
        .args(["check", "--format", "html", "--out", "report.html"])
        .status(2);
    (run, before, SystemTime::now())
}

/// What a page must be to load nothing: no `src=`/`href=` but `#` fragments, no CSS that
/// fetches, the only URL the account's server as text, one inline script, and small.
fn assert_self_contained(html: &str, server: &str) {
    assert!(html.len() < 32 * 1024, "{} bytes", html.len());
    for attribute in [
        "src=",
        "href=",
        "xlink:href=",
        "srcset=",
        "action=",
        "poster=",
    ] {
        for (at, _) in html.match_indices(attribute) {
            let value = &html[at + attribute.len()..];
            assert!(
                value.starts_with("\"#"),
                "{attribute} at {at}: {}",
                &value[..40.min(value.len())]
            );
        }
    }
    for fetching in [
        "url(", "@import", "<link", "<iframe", "<img", "<object", "<embed",
    ] {
        assert!(!html.contains(fetching), "{fetching} in the page");
    }
    let urls: Vec<&str> = html
        .match_indices("http")
        .map(|(at, _)| &html[at..])
        .filter(|rest| rest.starts_with("http://") || rest.starts_with("https://"))
        .collect();
    assert_eq!(urls.len(), 1, "{urls:?}");
    assert!(html.contains(&format!("<span class=\"place\"> at {server}</span>")));
    assert_eq!(html.matches("<script").count(), 1);
    assert!(
        html.contains(
            "content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-"
        )
    );
}

#[test]
fn the_html_report_is_one_self_contained_page_that_shows_hostile_names_as_text() {
    let sandbox = seeded_with(FILES, plotward_sandbox::Options::default());
    let (run, _, _) = report(&sandbox);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let html = run.read("report.html");
    assert_self_contained(&html, sandbox.url());
    assert!(html.contains(
        "<td class=\"path\" title=\"alice:9 (plot)\">&lt;script&gt;alert(1)&lt;/script&gt;</td>"
    ));
    assert!(html.contains("research/c\\u{202e}txt.exe"));
    assert!(!html.contains('\u{202e}'));
    assert!(html.contains(
        "<p id=\"verdict\" class=\"verdict bad\">6 violations in 10 files (5 drifted, 1 public \
         despite never_public).</p>"
    ));
    // Without --out, the same page on stdout (but for the time), and the same exit code.
    let stdout = live(&sandbox)
        .policy(POLICY)
        .args(["check", "--format", "html"])
        .status(2)
        .stdout;
    let without_time = |page: &str| {
        page.lines()
            .filter(|line| !line.contains("checked-at"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(without_time(&stdout), without_time(&html));
}

#[test]
fn check_out_refuses_to_replace_the_policy_and_writes_any_format() {
    let sandbox = seeded_with(FILES, plotward_sandbox::Options::default());
    live(&sandbox)
        .policy(POLICY)
        .args(["check", "--format", "html", "--out", "plotward.yaml"])
        .stderr_contains("plotward.yaml")
        .status(1);
    let run = live(&sandbox)
        .policy(POLICY)
        .args(["check", "--format", "json", "--out", "check.json"])
        .status(2);
    let json: Value = serde_json::from_str(&run.read("check.json")).expect("JSON");
    assert_eq!(json["summary"]["violations"], 6);
    assert_eq!(
        std::fs::read_to_string(run.path("plotward.yaml")).unwrap(),
        POLICY
    );
}

#[test]
fn the_html_report_renders_in_chromium_fetching_nothing_and_sorts_by_a_header() {
    let Some(chromium) = chromium() else { return };
    let playwright = playwright().unwrap_or_else(|message| panic!("{message}"));
    let sandbox = seeded_with(FILES, plotward_sandbox::Options::default());
    let (run, before, after) = report(&sandbox);
    let digest = policy_digest(&sandbox);

    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("the artifacts directory");
    let screenshot = artifacts.join("check-report.png");
    let _ = std::fs::remove_file(&screenshot);
    let page = load(
        &chromium,
        &playwright,
        &run.path("report.html"),
        &screenshot,
    );
    assert_fetched_nothing(&page);
    assert_dom(&page["dom"], sandbox.url(), &digest, (before, after));
    assert_sorting(&page["sorts"]);
    let png = std::fs::read(&screenshot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(png.len() > 20_000, "{} bytes: a blank page?", png.len());
}

/// What `tests/browser/check_report.cjs` saw of `report` in Chromium (a screenshot at
/// `screenshot`, or none for `-`).
fn load(chromium: &Path, playwright: &Path, report: &Path, screenshot: &Path) -> Value {
    let profile = tempfile::tempdir().expect("a profile directory");
    let output = Command::new("node")
        .arg(repo("tests/browser/check_report.cjs"))
        .arg(report)
        .arg(screenshot)
        .arg(profile.path())
        .env("PLAYWRIGHT_DIR", playwright)
        .env("CHROMIUM", chromium)
        .output()
        .expect("node runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    serde_json::from_slice(&output.stdout).expect("the script's JSON")
}

/// 100,000 violations: the page shows the first 10,000 (`never_public` ones first) and says
/// so, and the table still sorts in the browser, both ways.
#[test]
fn a_report_of_a_hundred_thousand_violations_is_capped_and_still_sorts_in_chromium() {
    let Some(chromium) = chromium() else { return };
    let playwright = playwright().unwrap_or_else(|message| panic!("{message}"));
    let files: Vec<Value> = (0..100_000)
        .map(|n| {
            serde_json::json!({"fid": format!("alice:{}", n + 1), "path": format!("t{}/p{n:06}", n % 7),
                "filetype": "plot", "world_readable": n % 3 != 0, "share_key_enabled": n % 3 == 0})
        })
        .chain((0..7).map(|t| {
            serde_json::json!({"fid": format!("alice:{}", 200_000 + t), "path": format!("t{t}"),
                "filetype": "fold", "world_readable": false, "share_key_enabled": false})
        }))
        .collect();
    let snapshot = serde_json::json!({"format_version": 1, "files": files}).to_string();
    let run = crate::harness::Test::new()
        .policy("version: 1\ndefault: private\nguardrails:\n  never_public: [\"t6/**\"]\n")
        .write("snap.json", &snapshot)
        .args([
            "check",
            "--snapshot",
            "snap.json",
            "--format",
            "html",
            "--out",
            "report.html",
        ])
        .status(2);
    let page = load(
        &chromium,
        &playwright,
        &run.path("report.html"),
        Path::new("-"),
    );
    assert_fetched_nothing(&page);
    assert!(
        page["dom"]["capped"]
            .as_str()
            .is_some_and(|note| note.starts_with("Showing 10,000 of 109,523 violations")),
        "{}",
        page["dom"]["capped"]
    );
    let initial = column(&page["sorts"]["initial"], 0);
    assert_eq!(initial.len(), 10_000);
    assert!(initial.windows(2).all(|w| w[0] <= w[1]), "path order");
    // Every never_public violation (t6/, public) is kept before drift.
    let kinds = column(&page["sorts"]["initial"], 1);
    assert_eq!(kinds.iter().filter(|k| *k == "never_public").count(), 9_523);
    let descending = column(&page["sorts"]["pathDescending"], 0);
    assert!(descending.windows(2).all(|w| w[0] >= w[1]), "reversed");
    let now = column(&page["sorts"]["nowAscending"], 2);
    assert_eq!(
        now.iter().filter(|l| *l == "secret").count(),
        now.iter().take_while(|l| *l == "secret").count()
    );
}

/// The page's one request is its own file; nothing blocked, logged or alerted.
fn assert_fetched_nothing(page: &Value) {
    let seen = &page["seen"];
    let url = page["url"].as_str().expect("url");
    assert!(url.starts_with("file://"), "{url}");
    assert_eq!(seen["requests"], serde_json::json!([url]), "{seen}");
    assert!(
        seen["responses"]
            .as_array()
            .expect("responses")
            .iter()
            .all(|r| r.as_str().is_some_and(|r| r.ends_with(url))),
        "{seen}"
    );
    for empty in ["failed", "console", "pageErrors", "dialogs", "violations"] {
        assert_eq!(seen[empty], serde_json::json!([]), "{empty}: {seen}");
    }
}

fn assert_dom(dom: &Value, server: &str, digest: &str, (before, after): (SystemTime, SystemTime)) {
    assert_eq!(dom["scripts"], 1);
    assert_eq!(dom["injected"], 0, "{dom}");
    assert_eq!(
        dom["verdict"],
        "6 violations in 10 files (5 drifted, 1 public despite never_public)."
    );
    let checked_at = humantime::parse_rfc3339(dom["checkedAt"].as_str().expect("a time"))
        .expect("RFC 3339, UTC");
    assert!(before <= checked_at && checked_at <= after, "{dom}");
    assert_eq!(dom["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(dom["totals"]["total-files"], "10");
    assert_eq!(dom["totals"]["total-violations"], "6");
    let accounts = dom["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), 1, "{dom}");
    let alice = &accounts[0];
    assert_eq!(alice["id"], "account-1");
    assert_eq!(alice["account"], "alice");
    assert_eq!(alice["heading"], format!("alice at {server}"));
    assert_eq!(alice["digest"], digest);
    assert_eq!(alice["policy"], "plotward.yaml");
    // Bars, most exposed first: marketing's files are public through their folder.
    let bars: Vec<(&str, &str, Vec<u64>)> = alice["bars"]
        .as_array()
        .expect("bars")
        .iter()
        .map(|bar| {
            (
                bar["folder"].as_str().unwrap_or_default(),
                bar["label"].as_str().unwrap_or_default(),
                bar["counts"]
                    .as_array()
                    .expect("counts")
                    .iter()
                    .filter_map(Value::as_u64)
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        bars,
        [
            ("marketing/", "marketing/", vec![2, 0, 0]),
            ("finance/", "finance/", vec![1, 1, 1]),
            ("/ (top level)", "/ (top level)", vec![1, 0, 0]),
            ("<script>alert(1)</", "<script>alert(1)</", vec![1, 0, 0]),
            ("research/", "research/", vec![0, 1, 2]),
        ]
    );
    let finance = &alice["bars"][1];
    assert_eq!(finance["sum"], "1 public · 1 secret · 1 private");
    // Drawn: one segment per level present, equal counts equally wide, none empty.
    let segments = finance["segments"].as_array().expect("segments");
    let levels: Vec<&str> = segments.iter().filter_map(|s| s[0].as_str()).collect();
    assert_eq!(levels, ["public", "secret", "private"]);
    let widths: Vec<u64> = segments.iter().filter_map(|s| s[1].as_u64()).collect();
    assert!(
        widths.iter().all(|w| *w > 10 && *w == widths[0]),
        "{widths:?}"
    );
    assert_eq!(
        dom["headers"],
        serde_json::json!([
            "Path",
            "Kind",
            "Now",
            "Wanted",
            "Rule",
            "Through folder",
            "Account"
        ])
    );
}

/// The column `n` of every row.
fn column(rows: &Value, n: usize) -> Vec<String> {
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|row| row[n].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn assert_sorting(sorts: &Value) {
    assert_eq!(column(&sorts["initial"], 0), VIOLATIONS);
    let hostile = &sorts["initial"][0];
    assert_eq!(hostile[0], "<script>alert(1)</script>");
    assert_eq!(hostile[1], "drift");
    assert_eq!(hostile[6], "alice");
    // Levels sort by exposure, ties in path order; again reverses.
    let now = column(&sorts["nowAscending"], 2);
    assert_eq!(
        now,
        ["secret", "secret", "public", "public", "public", "public"]
    );
    assert_eq!(column(&sorts["nowAscending"], 0)[0], "finance/forecast");
    assert_eq!(
        column(&sorts["nowDescending"], 2),
        ["public", "public", "public", "public", "secret", "secret"]
    );
    assert_eq!(
        sorts["ariaAfterNow"],
        serde_json::json!(["none", "none", "descending", "none", "none", "none", "none"])
    );
    assert_eq!(column(&sorts["pathAscending"], 0), VIOLATIONS);
    let mut descending = VIOLATIONS.to_vec();
    descending.reverse();
    assert_eq!(column(&sorts["pathDescending"], 0), descending);
    assert_eq!(
        column(&sorts["kindAscending"], 1),
        ["drift", "drift", "drift", "drift", "drift", "never_public"]
    );
}

/// The policy's digest as the JSON plan says it.
fn policy_digest(sandbox: &plotward_sandbox::Sandbox) -> String {
    let plan = live(sandbox)
        .policy(POLICY)
        .args(["plan", "--format", "json"])
        .status(0)
        .stdout;
    let plan: Value = serde_json::from_str(&plan).expect("the JSON plan");
    plan["policy_sha256"].as_str().expect("a digest").to_owned()
}

/// Debian's Chromium, installed with apt-get when missing; `None`, after saying the calling
/// test is skipped, when `PLOTWARD_SKIP_CHROMIUM` is set. Panics, naming the variable, when
/// it cannot be installed.
#[must_use = "a test returns (skipped) when there is no browser"]
fn chromium() -> Option<PathBuf> {
    // Tests run in threads: one installs, the others wait and find it there.
    static INSTALLING: Mutex<()> = Mutex::new(());
    if std::env::var_os(SKIP_VAR).is_some_and(|v| !v.is_empty()) {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("a test that needs Chromium");
        // On the real stderr, not the test's captured output, so it shows in a passing run.
        let _ = writeln!(std::io::stderr(), "skipped: {name} ({SKIP_VAR} is set)");
        return None;
    }
    let _installing = INSTALLING.lock().unwrap_or_else(PoisonError::into_inner);
    if !Path::new(CHROMIUM).exists() {
        install_chromium().unwrap_or_else(|message| {
            panic!("{message}; set {SKIP_VAR}=1 to skip the tests that need it")
        });
    }
    Some(PathBuf::from(CHROMIUM))
}

/// `apt-get install chromium` (after `apt-get update` if the first try fails), as root.
fn install_chromium() -> Result<(), String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("id -u: {e}"))?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err(format!(
            "{CHROMIUM} is missing and only root may apt-get install chromium"
        ));
    }
    let install = || {
        Command::new("apt-get")
            .args([
                "install",
                "-y",
                "--no-install-recommends",
                "-o",
                "DPkg::Lock::Timeout=600",
                "chromium",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
    };
    let first = install().map_err(|e| format!("apt-get: {e}"))?;
    if first.status.success() {
        return Ok(());
    }
    let update = Command::new("apt-get")
        .args(["update", "-o", "DPkg::Lock::Timeout=600"])
        .output()
        .map_err(|e| format!("apt-get update: {e}"))?;
    let second = install().map_err(|e| format!("apt-get: {e}"))?;
    if second.status.success() {
        return Ok(());
    }
    Err(format!(
        "apt-get install chromium failed: {}{}",
        String::from_utf8_lossy(&update.stderr),
        String::from_utf8_lossy(&second.stderr)
    ))
}

/// The directory holding `node_modules/playwright-core`, installed from npm under the target
/// directory the first time (a marker written after npm succeeded), reused after.
fn playwright() -> Result<PathBuf, String> {
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _installing = INSTALLING.lock().unwrap_or_else(PoisonError::into_inner);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("playwright");
    let marker = dir.join(format!("installed {}", PLAYWRIGHT.replace('@', " ")));
    if marker.exists() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let npm = Command::new("npm")
        .args(["install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix"])
        .arg(&dir)
        .arg(PLAYWRIGHT)
        // playwright-core downloads no browser, but say so: Debian's is the one used.
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .output()
        .map_err(|e| format!("npm: {e}"))?;
    if !npm.status.success() {
        return Err(format!(
            "npm install {PLAYWRIGHT} needs the npm registry: {}; set {SKIP_VAR}=1 to skip",
            String::from_utf8_lossy(&npm.stderr)
        ));
    }
    std::fs::write(&marker, "").map_err(|e| format!("{}: {e}", marker.display()))?;
    Ok(dir)
}

/// With `PLOTWARD_SKIP_CHROMIUM` set, the browser test says it is skipped, by name, and
/// passes (the real binary of this test suite, filtered to that test).
#[test]
fn with_the_skip_variable_the_chromium_test_reports_itself_skipped_by_name() {
    let name =
        "html_report::the_html_report_renders_in_chromium_fetching_nothing_and_sorts_by_a_header";
    let output = Command::new(std::env::current_exe().expect("the test binary"))
        .args([name, "--exact", "--test-threads=1"])
        .env(SKIP_VAR, "1")
        .output()
        .expect("the test binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("skipped: {name} ({SKIP_VAR} is set)")),
        "{stderr}"
    );
}

/// CI runs everything: `.ci/run` never sets (or mentions) the skip variable.
#[test]
fn ci_never_skips_the_chromium_tests() {
    let ci = std::fs::read_to_string(repo(".ci/run")).expect(".ci/run");
    assert!(ci.contains("cargo test"), "not the CI script");
    assert!(!ci.contains(SKIP_VAR));
}
