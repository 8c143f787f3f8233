//! The real binary against servers that lie or break: each test plays one attack with the
//! scripted server of `hostile.rs` on 127.0.0.1 (and 127.0.0.2 as "another host") and asserts
//! on what each server saw, the exit code and the message. The API servers answer plotward's
//! credentials check as alice ([`Server::api`]), so the attacks start with the listing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::Test;
use crate::hostile::{Reply, Request, Server, file, page};
use crate::plan::{ListingJson, UnprovenJson};

/// Everything private, so every public file is a change.
const PRIVATE: &str = "version: 1\ndefault: private\n";

/// A run of `plotward COMMAND...` as alice against `server`, with fast retries.
fn against(server: &Server, command: &[&str]) -> Test {
    Test::new()
        .env("PLOTLY_API_DOMAIN", &server.url())
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "alice-key")
        .policy(PRIVATE)
        .args(command)
        .args(["--backoff-ms", "1"])
}

fn is_listing(request: &Request) -> bool {
    request.path() == "/v2/folders/all"
}

fn listing_requests(server: &Server) -> usize {
    server.requests().iter().filter(|r| is_listing(r)).count()
}

fn patches(server: &Server) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.target)
        .collect()
}

/// The flags of a file object as a PATCH response reports them, taken from the request body.
fn echo_patch(request: &Request) -> Reply {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    Reply::Json(
        200,
        json!({
            "fid": request.path().trim_start_matches("/v2/files/"),
            "world_readable": body["world_readable"],
            "share_key_enabled": body["share_key_enabled"],
        }),
    )
}

/// The `404 Invalid page.` DRF answers past the last page.
fn not_found() -> Reply {
    Reply::Json(404, json!({"errors": [{"message": "Invalid page."}]}))
}

/// A `next` link on the requested host that pages by cursor instead of by number.
fn cursor_link(request: &Request, cursor: &str) -> String {
    format!(
        "http://{}/v2/folders/all?user=alice&cursor={cursor}",
        request.header("host").unwrap_or_default()
    )
}

/// The `page` and `cursor` query values of a listing request.
fn page_and_cursor(request: &Request) -> (Option<String>, Option<String>) {
    (request.query("page"), request.query("cursor"))
}

/// Owner-view files `alice:N` named `fN`, public.
fn public_files(numbers: &[u32]) -> Vec<Value> {
    files_in(numbers.iter().copied(), true)
}

/// Owner-view plots `alice:N` named `fN`, public or private. Pages that continue must hold
/// at least 50 items (plotward refuses smaller ones), so multi-page listings use ranges.
fn files_in(numbers: impl IntoIterator<Item = u32>, public: bool) -> Vec<Value> {
    numbers
        .into_iter()
        .map(|n| file(&format!("alice:{n}"), &format!("f{n}"), "plot", -1, public))
        .collect()
}

#[test]
fn a_next_link_to_another_host_gets_no_request_let_alone_the_key() {
    let other = Server::start("127.0.0.2", |_| Reply::Json(200, page(1, None, vec![])));
    let link = format!("{}/v2/folders/all?user=alice&page=2", other.url());
    let next = link.clone();
    let main = Server::api("127.0.0.1", move |request| {
        match request.query("page").as_deref() {
            // The numbered page 2 is gone, so plotward falls back to following `next`.
            Some("1") => Reply::Json(200, page(100, Some(next.clone()), files_in(1..=50, true))),
            _ => not_found(),
        }
    });
    for command in [
        ["plan"].as_slice(),
        &["check"],
        &["snapshot"],
        &["export"],
        &["apply", "--auto-approve"],
    ] {
        let run = against(&main, command)
            .stderr_contains("points outside the configured API origin")
            .stderr_contains(&link)
            .status(1);
        assert!(run.stdout.is_empty(), "{command:?} printed {}", run.stdout);
    }
    assert!(
        other.requests().is_empty(),
        "the other host was sent {:?}",
        other.requests()
    );
    assert!(patches(&main).is_empty());
    assert!(
        main.requests()
            .iter()
            .all(|r| r.header("authorization").is_some()),
        "the key went where it belongs"
    );
}

#[test]
fn redirects_are_never_followed_to_any_host() {
    let other = Server::start("127.0.0.2", |_| Reply::Json(200, page(0, None, vec![])));
    let target = format!("{}/v2/folders/all?user=alice&page=1", other.url());
    let location = target.clone();
    let main = Server::api("127.0.0.1", move |_| Reply::Redirect(302, location.clone()));
    against(&main, &["plan"])
        .stderr_contains("redirect to")
        .stderr_contains(&target)
        .stderr_contains("follows no redirects")
        .status(1);
    assert!(other.requests().is_empty(), "{:?}", other.requests());
    assert_eq!(
        listing_requests(&main),
        1,
        "a redirect is not retried either"
    );
    // Nor to the same host: a moved API is fixed with --api-url.
    let same = Server::api("127.0.0.1", |_| {
        Reply::Redirect(301, "/v2/elsewhere".into())
    });
    against(&same, &["check"]).status(1);
    assert_eq!(same.requests_after_check().len(), 1);
}

#[test]
fn an_http_next_link_behind_a_tls_proxy_is_upgraded_never_downgraded() {
    let proxy_url = Arc::new(Mutex::new(String::new()));
    let seen_proxy = proxy_url.clone();
    let main = Server::api("127.0.0.1", move |request| {
        let http_link = seen_proxy.lock().unwrap().replace("https://", "http://");
        match (
            request.query("page").as_deref(),
            request.query("cursor").as_deref(),
        ) {
            (Some("1"), _) => Reply::Json(
                200,
                page(
                    100,
                    Some(format!("{http_link}/v2/folders/all?user=alice&cursor=b")),
                    files_in(1..=50, false),
                ),
            ),
            (_, Some("b")) => Reply::Json(200, page(100, None, files_in(51..=100, false))),
            _ => not_found(),
        }
    });
    let proxy = crate::tls::tls_proxy(main.addr());
    *proxy_url.lock().unwrap() = proxy.url.clone();
    Test::new()
        .write("ca.pem", &proxy.ca_pem)
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "alice-key")
        .policy(PRIVATE)
        .args(["check", "--api-url", &proxy.url, "--ca-bundle", "ca.pem"])
        .stdout_contains("Check: compliant, 100 files.")
        .status(0);
    // The cursor page arrived through the TLS proxy: plotward spoke https to it.
    assert!(
        main.requests()
            .iter()
            .any(|r| r.query("cursor").as_deref() == Some("b"))
    );
}

#[test]
fn a_next_link_back_to_a_page_already_listed_ends_the_listing() {
    let main = Server::api("127.0.0.1", |request| {
        let me = format!(
            "http://{}{}",
            request.header("host").unwrap_or_default(),
            request.target
        );
        match request.query("page").as_deref() {
            Some("1") => Reply::Json(200, page(150, Some(me), files_in(1..=50, true))),
            _ => not_found(),
        }
    });
    against(&main, &["plan"])
        .stderr_contains("repeats a page already listed")
        .status(1);
    assert!(listing_requests(&main) <= 4, "{}", listing_requests(&main));
}

#[test]
fn pages_that_repeat_what_was_listed_end_the_listing() {
    let main = Server::api("127.0.0.1", |request| {
        let n: usize = request
            .query("cursor")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        // Every page repeats the same files, so the count never adds up and plotward walks.
        Reply::Json(
            200,
            page(
                150,
                Some(cursor_link(request, &(n + 1).to_string())),
                files_in(1..=50, true),
            ),
        )
    });
    against(&main, &["plan"])
        .stderr_contains("lists nothing new")
        .status(1);
    // Pass one: page 1 and the numbered pages 2 and 3; pass two: page 1 and one repeat.
    assert_eq!(listing_requests(&main), 3 + 2);
}

#[test]
fn endless_fresh_next_links_stop_at_the_page_budget() {
    let main = Server::api("127.0.0.1", |request| {
        let (page_number, cursor) = page_and_cursor(request);
        let n: u32 = match (page_number.as_deref(), cursor) {
            (Some("1"), _) => 1,
            (_, Some(c)) => c.parse().unwrap_or(1),
            // The numbered pages are gone: plotward follows `next`.
            _ => return not_found(),
        };
        let fresh = files_in((n - 1) * 50 + 1..=n * 50, true);
        Reply::Json(
            200,
            page(150, Some(cursor_link(request, &(n + 1).to_string())), fresh),
        )
    });
    against(&main, &["plan"])
        .stderr_contains("more than 5 pages for 150 files at 50 a page")
        .status(1);
    assert!(
        listing_requests(&main) <= 3 + 4,
        "{}",
        listing_requests(&main)
    );
}

#[test]
fn an_absurd_count_is_refused_after_one_request() {
    let main = Server::api("127.0.0.1", |_| {
        Reply::Json(
            200,
            page(
                1_000_000_000_000,
                Some("/v2/folders/all?page=2".into()),
                vec![file("alice:1", "a", "plot", -1, true)],
            ),
        )
    });
    against(&main, &["plan"])
        .stderr_contains("claims 1000000000000 files")
        .status(1);
    assert_eq!(main.requests_after_check().len(), 1);
}

#[test]
fn a_huge_count_never_puts_more_than_parallelism_pages_in_flight() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (now, peak) = (in_flight.clone(), most.clone());
    let main = Server::api("127.0.0.1", move |request| {
        if request.query("page").as_deref() == Some("1") {
            return Reply::Json(
                200,
                page(
                    999_999,
                    Some("/v2/folders/all?user=alice&page=2".into()),
                    files_in(1..=50, true),
                ),
            );
        }
        let current = now.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(current, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(200));
        now.fetch_sub(1, Ordering::SeqCst);
        not_found()
    });
    against(&main, &["plan", "--parallelism", "3"])
        .stderr_contains("HTTP 404")
        .status(1);
    assert!(
        most.load(Ordering::SeqCst) <= 3,
        "{} at once",
        most.load(Ordering::SeqCst)
    );
    // The first 404 ends the numbered pass; the walk's 404 ends the run.
    assert!(
        listing_requests(&main) <= 1 + 3 + 1,
        "{}",
        listing_requests(&main)
    );
}

#[test]
fn oversized_bodies_are_refused_while_they_stream() {
    for reply in [
        Reply::Huge { bytes: 300_000_000 },
        Reply::HugeChunked { bytes: 300_000_000 },
    ] {
        let reply = Arc::new(Mutex::new(Some(reply)));
        let main = Server::api("127.0.0.1", move |_| {
            reply
                .lock()
                .unwrap()
                .take()
                .unwrap_or(Reply::Text(500, "gone".into()))
        });
        against(&main, &["plan", "--max-response-mib", "8"])
            .stderr_contains("larger than 8 MiB")
            .stderr_contains("--max-response-mib")
            .status(1);
        assert_eq!(
            main.requests_after_check().len(),
            1,
            "a body too large is not retried"
        );
    }
}

#[test]
fn a_dripping_server_times_out_named_as_a_timeout_and_is_retried() {
    let body = serde_json::to_vec(&page(0, None, vec![])).unwrap();
    let main = Server::api("127.0.0.1", move |_| Reply::Drip {
        body: body.clone(),
        every: Duration::from_millis(300),
    });
    against(&main, &["plan", "--timeout", "1", "--retries", "1"])
        .stderr_contains("timed out while reading the response (--timeout)")
        .stderr_lacks("EOF while parsing")
        .status(1);
    assert_eq!(main.requests_after_check().len(), 2, "retried once");
}

/// A listing of alice's public file, bob's file and `extra`, answering `PATCH`es.
fn listing_with(extra: Value) -> Server {
    Server::api("127.0.0.1", move |request| {
        if request.method == "PATCH" {
            return echo_patch(request);
        }
        Reply::Json(
            200,
            page(
                3,
                None,
                vec![
                    file("alice:1", "mine", "plot", -1, true),
                    file("bob:7", "theirs", "plot", -1, true),
                    extra.clone(),
                ],
            ),
        )
    })
}

#[test]
fn other_users_files_are_skipped_counted_and_never_patched() {
    let main = listing_with(file("carol:2", "also", "plot", -1, true));
    against(&main, &["plan"])
        .stdout_contains("2 files owned by others skipped (never managed).\nPlan: 1 to restrict")
        .stderr_contains("the listing holds 2 files of other users, skipped: bob:7, carol:2")
        .status(0);
    let json = against(&main, &["check", "--format", "json"]).status(2);
    let check: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(check["summary"]["files"], 1);
    let pinned: crate::gitops::CheckJson = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        pinned.listing,
        Some(ListingJson {
            foreign_skipped: Some(2),
            unplaced: None,
            unproven: None
        })
    );
    against(&main, &["apply", "--auto-approve"]).status(0);
    assert_eq!(patches(&main), ["/v2/files/alice:1"]);
}

#[test]
fn a_malformed_fid_fails_closed_and_nothing_is_written() {
    for fid in [
        "alice:1/../../users/current",
        "alice",
        "alice:7?x=1",
        "alice:0x1f",
    ] {
        let main = listing_with(file(fid, "evil", "plot", -1, true));
        let run = against(&main, &["apply", "--auto-approve"])
            .stderr_contains("is not of the form alice:number")
            .status(1);
        assert!(patches(&main).is_empty(), "{fid}: {:?}", patches(&main));
        assert!(run.stdout.is_empty(), "{}", run.stdout);
    }
}

#[test]
fn a_listed_file_without_a_parent_is_an_error_naming_it() {
    let mut orphan = file("alice:9", "orphan", "plot", -1, true);
    orphan.as_object_mut().unwrap().remove("parent");
    let main = listing_with(orphan);
    let run = against(&main, &["check"])
        .stderr_contains("the listing gives alice:9 no `parent`")
        .status(1);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn a_count_that_never_adds_up_fails_naming_both_numbers_unless_accepted() {
    let main = miscounting();
    let run = against(&main, &["check"])
        .stderr_contains("the account changed during listing; re-run")
        .stderr_contains("counts 5 items but 3 were listed")
        .stderr_contains("--accept-count-mismatch")
        .status(1);
    assert!(
        run.stdout.is_empty(),
        "a check over a partial listing is never printed"
    );
    assert_eq!(
        listing_requests(&main),
        2,
        "listed once more before failing"
    );
}

/// A server whose count says 5 while it lists 3 files.
fn miscounting() -> Server {
    Server::api("127.0.0.1", |_| {
        Reply::Json(
            200,
            page(
                5,
                None,
                vec![
                    file("alice:1", "a", "plot", -1, true),
                    file("alice:2", "b", "plot", -1, false),
                    file("alice:3", "c", "plot", -1, false),
                ],
            ),
        )
    })
}

#[test]
fn every_output_of_an_accepted_count_mismatch_says_the_listing_is_unproven() {
    let main = miscounting();
    let accepted = |format: &str| {
        against(
            &main,
            &["check", "--accept-count-mismatch", "--format", format],
        )
    };
    accepted("text")
        .stdout_contains(
            "The listing was not proven complete: the server counts 5 items, 3 were listed",
        )
        .stderr_contains("not proven complete")
        .status(2);
    let json: crate::gitops::CheckJson =
        serde_json::from_str(&accepted("json").status(2).stdout).unwrap();
    let unproven = Some(UnprovenJson {
        counted: 5,
        listed: 3,
    });
    assert_eq!(json.listing.unwrap().unproven, unproven);
    accepted("markdown")
        .stdout_contains("not proven complete")
        .status(2);
    accepted("junit")
        .stdout_contains("<skipped message=\"The listing was not proven complete")
        .stdout_contains("listing_proven_complete\" value=\"false\"")
        .status(2);
    let plan = against(
        &main,
        &["plan", "--accept-count-mismatch", "--format", "json"],
    )
    .status(0);
    let plan: crate::plan::PlanJson = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(plan.listing.unwrap().unproven, unproven);
    for format in ["text", "markdown", "diff"] {
        against(
            &main,
            &["plan", "--accept-count-mismatch", "--format", format],
        )
        .stdout_contains("not proven complete")
        .status(0);
    }
    let snapshot = against(&main, &["snapshot", "--accept-count-mismatch"]).status(0);
    let snapshot: Value = serde_json::from_str(&snapshot.stdout).unwrap();
    assert_eq!(snapshot["listing"]["unproven"]["listed"], 3);
    let export = against(&main, &["export", "--accept-count-mismatch"]).status(0);
    assert!(
        export
            .stdout
            .starts_with("# The listing was not proven complete"),
        "{}",
        export.stdout
    );
    // A compliant-looking check over an unproven listing does not say "compliant".
    let quiet = Server::api("127.0.0.1", |_| {
        Reply::Json(
            200,
            page(2, None, vec![file("alice:1", "a", "plot", -1, false)]),
        )
    });
    against(&quiet, &["check", "--accept-count-mismatch"])
        .stdout_lacks("compliant")
        .stdout_contains("not proven complete")
        .status(0);
}

#[test]
fn a_404_past_the_end_falls_back_to_following_next() {
    let main = Server::api("127.0.0.1", |request| {
        let (page_number, cursor) = page_and_cursor(request);
        match (page_number.as_deref(), cursor.as_deref()) {
            (Some("1"), _) => Reply::Json(
                200,
                page(150, Some(cursor_link(request, "b")), files_in(1..=50, true)),
            ),
            (_, Some("b")) => Reply::Json(
                200,
                page(
                    150,
                    Some(cursor_link(request, "c")),
                    files_in(51..=100, true),
                ),
            ),
            (_, Some("c")) => Reply::Json(200, page(150, None, files_in(101..=150, true))),
            _ => not_found(),
        }
    });
    against(&main, &["plan"])
        .stdout_contains("Plan: 150 to restrict")
        .status(0);
}

#[test]
fn a_short_page_in_the_middle_falls_back_to_following_next() {
    let main = Server::api("127.0.0.1", |request| {
        let (page_number, cursor) = page_and_cursor(request);
        match (page_number.as_deref(), cursor.as_deref()) {
            (Some("1"), _) => Reply::Json(
                200,
                page(150, Some(cursor_link(request, "b")), files_in(1..=50, true)),
            ),
            // Page 2 by number is short although page 3 should follow: the pages do not fit.
            (Some("2"), _) => Reply::Json(
                200,
                page(
                    150,
                    Some(cursor_link(request, "c")),
                    files_in(51..=75, true),
                ),
            ),
            (_, Some("b")) => Reply::Json(
                200,
                page(
                    150,
                    Some(cursor_link(request, "c")),
                    files_in(51..=100, true),
                ),
            ),
            (Some("3"), _) | (_, Some("c")) => {
                Reply::Json(200, page(150, None, files_in(101..=150, true)))
            }
            _ => not_found(),
        }
    });
    against(&main, &["plan"])
        .stdout_contains("Plan: 150 to restrict")
        .status(0);
    assert!(
        main.requests()
            .iter()
            .any(|r| r.query("cursor").as_deref() == Some("c")),
        "the walk followed next"
    );
}

#[test]
fn a_server_that_dies_mid_apply_stops_the_run_and_reports_the_rest() {
    let files = public_files(&(1..=60).collect::<Vec<_>>());
    let writes = Arc::new(AtomicUsize::new(0));
    let seen = writes.clone();
    let main = Server::api("127.0.0.1", move |request| {
        if request.method != "PATCH" {
            return Reply::Json(200, page(60, None, files.clone()));
        }
        // Three writes land; then the server is gone: connections close unanswered.
        if seen.fetch_add(1, Ordering::SeqCst) < 3 {
            echo_patch(request)
        } else {
            Reply::Close
        }
    });
    against(
        &main,
        &[
            "apply",
            "--auto-approve",
            "--parallelism",
            "4",
            "--retries",
            "5",
        ],
    )
    .stdout_contains("Stopped early: the server at http://127.0.0.1:")
    .stdout_contains("stopped answering: 10 requests in a row")
    .stdout_contains("Apply incomplete: 3 restricted, 0 exposed, 0 failed, 57 not applied.")
    .stdout_contains("Run plotward apply again")
    .status(1);
    // Three answered writes, ten unanswered attempts, and at most one in-flight attempt per
    // other writer that raced the breaker. The HTTP stack re-sends a request once when a
    // pooled connection turns out closed, so each unanswered attempt may reach the server
    // twice: at most 3 + 2 * (10 + 4) = 31, never the 57 x 6 = 342 of a full retry schedule.
    let sent = patches(&main).len();
    assert!((13..=31).contains(&sent), "{sent} PATCHes");
}

#[test]
fn user_info_in_the_api_url_is_refused_without_echoing_it() {
    for (url, via_env) in [
        ("https://bob:hunter2@plotly.acme.com", false),
        ("https://bob:hunter2@plotly.acme.com/", true),
        // Passwords with `/`, `?` or `#` break URL parsing; they are still never shown.
        ("https://bob:hunter/2@plotly.acme.com", false),
        ("https://bob:hunter?2@plotly.acme.com", true),
        ("bob:hunter2@plotly.acme.com", false),
    ] {
        let mut test = Test::new()
            .env("PLOTLY_USERNAME", "alice")
            .env("PLOTLY_API_KEY", "alice-key")
            .policy(PRIVATE)
            .args(["plan"]);
        test = if via_env {
            test.env("PLOTLY_API_DOMAIN", url)
        } else {
            test.args(["--api-url", url])
        };
        test.stderr_lacks("hunter")
            .stderr_contains("***@plotly.acme.com")
            .status(1);
    }
    Test::new()
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "alice-key")
        .args(["plan", "--api-url", "https://bob:hunter2@plotly.acme.com"])
        .stderr_contains("user name or password")
        .status(1);
}

#[test]
fn with_stdout_in_a_file_the_plan_is_written_before_the_first_write() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stdout.txt");
    let policy = dir.path().join("plotward.yaml");
    std::fs::write(&policy, PRIVATE).unwrap();
    let seen_at_first_write = Arc::new(Mutex::new(None::<String>));
    let (watched, seen) = (out.clone(), seen_at_first_write.clone());
    let main = Server::api("127.0.0.1", move |request| {
        if request.method == "PATCH" {
            let mut first = seen.lock().unwrap();
            if first.is_none() {
                *first = Some(std::fs::read_to_string(&watched).unwrap_or_default());
            }
            return echo_patch(request);
        }
        Reply::Json(200, page(2, None, public_files(&[1, 2])))
    });
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_plotward"))
        .args(["apply", "--auto-approve", "--parallelism", "1", "-p"])
        .arg(&policy)
        .env_clear()
        .env("PLOTLY_API_DOMAIN", main.url())
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "alice-key")
        .stdout(std::fs::File::create(&out).unwrap())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let before = seen_at_first_write.lock().unwrap().clone().unwrap();
    assert!(
        before.ends_with("Plan: 2 to restrict, 0 to expose, 0 unchanged, 0 ignored.\n"),
        "stdout when the first PATCH arrived:\n{before}"
    );
}

#[test]
fn names_beyond_their_limit_and_tiny_pages_are_refused() {
    let mut huge = file("alice:9", "x", "plot", -1, true);
    huge["filename"] = json!("n".repeat(2_000));
    let main = listing_with(huge);
    against(&main, &["snapshot"])
        .stderr_contains("the listing gives `alice:9` a filename longer than 1024 bytes")
        .status(1);
    // One item a page would make a listing of a million items a million requests.
    let tiny = Server::api("127.0.0.1", |request| {
        Reply::Json(
            200,
            page(1000, Some(cursor_link(request, "b")), files_in(1..=1, true)),
        )
    });
    against(&tiny, &["plan"])
        .stderr_contains("the server's first page holds 1 of 1000 items")
        .status(1);
    assert_eq!(tiny.requests_after_check().len(), 1);
}

#[test]
fn fid_numbers_must_be_canonical() {
    let main = listing_with(file("alice:01", "twin", "plot", -1, true));
    against(&main, &["plan"])
        .stderr_contains("`alice:01`, which is not of the form alice:number")
        .status(1);
}

#[test]
fn a_long_retry_after_on_a_5xx_stops_the_run_instead_of_stalling_it() {
    let main = Server::api("127.0.0.1", |request| {
        if request.method == "PATCH" {
            return Reply::Json(503, json!({"errors": [{"message": "maintenance"}]}))
                .with_header("Retry-After", "120");
        }
        Reply::Json(200, page(20, None, files_in(1..=20, true)))
    });
    against(&main, &["apply", "--auto-approve", "--parallelism", "2"])
        .stdout_contains(
            "Stopped early: the server is unavailable and asks to wait 120 s (maintenance)",
        )
        .stdout_contains("0 restricted, 0 exposed")
        .status(1);
    assert!(patches(&main).len() <= 2, "{:?}", patches(&main));
}

#[test]
fn files_left_out_of_the_folder_tree_make_check_fail_not_pass() {
    for orphans in [
        // A public plot whose folder is not in the listing.
        vec![file("alice:7", "orphan", "plot", 99, true)],
        // A folder cycle holding a public plot.
        vec![
            file("alice:8", "x", "fold", 9, false),
            file("alice:9", "y", "fold", 8, false),
            file("alice:10", "inside", "plot", 8, true),
        ],
    ] {
        let mut items = vec![file("alice:1", "fine", "plot", -1, false)];
        let unplaced = orphans.iter().filter(|f| f["filetype"] == "plot").count()
            + orphans.iter().filter(|f| f["filetype"] == "fold").count();
        items.extend(orphans);
        let count = items.len();
        let main = Server::api("127.0.0.1", move |_| {
            Reply::Json(200, page(count, None, items.clone()))
        });
        against(&main, &["check"])
            .stdout_contains(&format!(
                "Check: not compliant: no violations in 1 files judged, but {unplaced} listed files could not be judged."
            ))
            .status(2);
        let json = against(&main, &["check", "--format", "json"]).status(2);
        let pinned: crate::gitops::CheckJson = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(pinned.listing.unwrap().unplaced, Some(unplaced));
        against(&main, &["check", "--format", "junit"])
            .stdout_contains("<failure type=\"unplaced\"")
            .status(2);
    }
}

/// A listing of `n` public plots whose `PATCH`es each take `slow`, answered correctly.
fn slow_writes(n: u32, slow: Duration) -> Server {
    let files = files_in(1..=n, true);
    let count = files.len();
    Server::api("127.0.0.1", move |request| {
        if request.method == "PATCH" {
            std::thread::sleep(slow);
            return echo_patch(request);
        }
        Reply::Json(200, page(count, None, files.clone()))
    })
}

/// Starts `plotward apply --auto-approve` against `server` in `dir`, with these extra args.
fn spawn_apply(
    server: &Server,
    dir: &std::path::Path,
    extra: &[&str],
) -> crate::harness::ChildGuard {
    std::fs::write(dir.join("plotward.yaml"), PRIVATE).unwrap();
    crate::harness::ChildGuard(
        std::process::Command::new(env!("CARGO_BIN_EXE_plotward"))
            .args(["apply", "--auto-approve", "--backoff-ms", "1"])
            .args(extra)
            .current_dir(dir)
            .env_clear()
            .env("PLOTLY_API_DOMAIN", server.url())
            .env("PLOTLY_USERNAME", "alice")
            .env("PLOTLY_API_KEY", "alice-key")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// Waits (bounded) until the server has seen `n` `PATCH`es.
fn wait_for_patches(server: &Server, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while patches(server).len() < n {
        assert!(std::time::Instant::now() < deadline, "no PATCH arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &std::process::Child, name: &str) {
    let sent = std::process::Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Waits (bounded) for the child, returning its exit code and stdout.
fn finish(mut guard: crate::harness::ChildGuard) -> (Option<i32>, String) {
    use std::io::Read;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = guard.0.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "apply did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    guard
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    (status.code(), out)
}

#[test]
fn an_interrupt_finishes_and_records_writes_in_flight_and_reports_the_rest() {
    let main = slow_writes(30, Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let guard = spawn_apply(
        &main,
        dir.path(),
        &["--parallelism", "2", "--audit-log", "audit.jsonl"],
    );
    wait_for_patches(&main, 1);
    signal(&guard.0, "INT");
    let (code, out) = finish(guard);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("Interrupted: "), "{out}");
    assert!(out.contains("not applied; re-run to finish."), "{out}");
    let sent = patches(&main).len();
    assert!(
        sent < 30,
        "{sent} PATCHes: the interrupt stopped new writes"
    );
    // Every write the server received was answered, waited for, and recorded.
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let applied = audit
        .lines()
        .filter(|l| l.contains("\"outcome\":\"applied\""))
        .count();
    assert_eq!(applied, sent, "{audit}");
    // Every `started` line is ended by `applied` or, for a write the interrupt refused
    // before it went out, `not_sent`.
    let count = |outcome: &str| {
        audit
            .lines()
            .filter(|l| l.contains(&format!("\"outcome\":\"{outcome}\"")))
            .count()
    };
    assert_eq!(count("started"), applied + count("not_sent"), "{audit}");
    assert!(
        out.contains(&format!(
            "Interrupted: {sent} restricted, 0 exposed, 0 failed, {} not applied",
            30 - sent
        )),
        "{out}"
    );
}

#[test]
fn a_second_interrupt_exits_at_once() {
    let main = slow_writes(30, Duration::from_secs(2));
    let dir = tempfile::tempdir().unwrap();
    let guard = spawn_apply(&main, dir.path(), &["--parallelism", "2"]);
    wait_for_patches(&main, 1);
    signal(&guard.0, "INT");
    std::thread::sleep(Duration::from_millis(100));
    signal(&guard.0, "TERM");
    let (code, _) = finish(guard);
    assert_eq!(code, Some(130));
}

#[test]
fn an_audit_log_that_cannot_be_written_stops_the_run() {
    let main = slow_writes(30, Duration::from_millis(20));
    against(
        &main,
        &[
            "apply",
            "--auto-approve",
            "--parallelism",
            "2",
            "--audit-log",
            "/dev/full",
        ],
    )
    .stdout_contains("Stopped: cannot write the audit log")
    .status(1);
    assert!(
        patches(&main).is_empty(),
        "{} PATCHes went out unrecorded",
        patches(&main).len()
    );
}

/// A server that echoes the key (or the Authorization token made from it) in an error body, a
/// redirect, a field that fails to decode, or the user it names never gets it printed: every
/// error plotward shows has it replaced by `[REDACTED]`.
#[test]
fn a_server_echoing_the_key_never_gets_it_printed() {
    use base64::Engine;
    type Handler = Box<dyn Fn(&Request) -> Reply + Send + Sync>;
    let token = base64::engine::general_purpose::STANDARD.encode("alice:alice-key");
    let echo = format!("you sent alice-key, Basic {token}");
    let replies: Vec<Handler> = vec![
        Box::new(move |_| Reply::Json(400, json!({"errors": [{"message": echo.clone()}]}))),
        Box::new(|_| Reply::Text(418, "key alice-key".into())),
        Box::new(|_| Reply::Redirect(302, "https://127.0.0.2/?k=alice-key".into())),
        Box::new(|_| {
            let mut body = page(0, None, vec![]);
            body["children"]["count"] = json!("alice-key");
            Reply::Json(200, body)
        }),
    ];
    for reply in replies {
        let server = Server::api("127.0.0.1", reply);
        let run = against(&server, &["plan", "--retries", "0"])
            .stderr_contains("[REDACTED]")
            .status(1);
        for secret in ["alice-key", token.as_str()] {
            assert!(!run.stderr.contains(secret), "{}", run.stderr);
            assert!(!run.stdout.contains(secret), "{}", run.stdout);
        }
    }
    // The credentials check naming the key as the user it belongs to.
    let server = Server::start("127.0.0.1", |_| {
        Reply::Json(200, json!({"username": "alice-key"}))
    });
    let run = against(&server, &["check"])
        .stderr_contains("says the key belongs to [REDACTED]")
        .status(1);
    assert!(!run.stderr.contains("alice-key"), "{}", run.stderr);
}

/// The key a server echoes never reaches the audit log (which the example pipelines keep as
/// an artifact), nor a `-v` line when it rides in a `next` link under an innocent name; and
/// the audit log shows names inertly, as every JSON plotward writes.
#[test]
fn an_echoed_key_reaches_neither_the_audit_log_nor_the_trace() {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode("alice:alice-key");
    let echo = format!("bad key alice-key / {token}");
    let server = Server::api("127.0.0.1", move |request| {
        if request.method == "PATCH" {
            return Reply::Json(400, json!({"errors": [{"message": echo.clone()}]}));
        }
        Reply::Json(
            200,
            page(
                1,
                None,
                vec![file("alice:1", "le\u{202e}ak", "plot", -1, true)],
            ),
        )
    });
    let run = against(
        &server,
        &["apply", "--auto-approve", "--audit-log", "audit.jsonl"],
    )
    .args(["--retries", "0"])
    .status(1);
    let audit = run.read("audit.jsonl");
    assert!(audit.contains("[REDACTED]"), "{audit}");
    assert!(
        audit.contains("le\\u202eak") && !audit.contains('\u{202e}'),
        "inert: {audit}"
    );
    for secret in ["alice-key", token.as_str()] {
        assert!(!audit.contains(secret), "{audit}");
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
    }

    // Page 1 names the rest through a cursor `next` link with the key as the value of `x`;
    // the numbered page 2 is gone, so the listing follows `next`.
    let server = Server::api("127.0.0.1", |request| match page_and_cursor(request) {
        (Some(page_number), None) if page_number == "1" => {
            let link = format!("{}&x=alice-key", cursor_link(request, "c2"));
            Reply::Json(200, page(100, Some(link), files_in(1..=50, false)))
        }
        (None, Some(_)) => Reply::Json(200, page(100, None, files_in(51..=100, false))),
        _ => not_found(),
    });
    let run = against(&server, &["plan", "-v"])
        .stderr_contains("&x=[REDACTED] -> 200")
        .status(0);
    assert!(!run.stderr.contains("alice-key"), "{}", run.stderr);
}

/// `wf/x` public inside the private folder `wf`; everything else left alone.
const FOLDER_POLICY: &str = "version: 1\ndefault: private\nrules:\n  - match: \"wf/x\"\n    \
     sharing: public\n  - match: \"wf\"\n    sharing: private\n    filetypes: [fold]\n  - \
     match: \"**\"\n    sharing: ignore\n";

/// A server whose listing shows alice's secret folder `wf` holding `wf/x` public, while
/// reading `x` on its own says private: the owner's level, as after the owner made it private
/// between the listing and the folder write. Answers `PATCH`es.
fn lying_about_a_file_below_a_folder() -> Server {
    Server::api("127.0.0.1", |request| {
        if request.method == "PATCH" {
            return echo_patch(request);
        }
        if request.path() == "/v2/files/alice:2" {
            return Reply::Json(200, file("alice:2", "x", "plot", 1, false));
        }
        let mut folder = file("alice:1", "wf", "fold", -1, false);
        folder["share_key_enabled"] = json!(true);
        Reply::Json(
            200,
            page(2, None, vec![folder, file("alice:2", "x", "plot", 1, true)]),
        )
    })
}

#[test]
fn apply_never_raises_a_file_below_a_folder_above_what_it_read_before_the_folder_write() {
    let main = lying_about_a_file_below_a_folder();
    let run = against(&main, &["apply", "--auto-approve"])
        .policy(FOLDER_POLICY)
        .stdout_contains("Apply complete: 1 restricted, 0 exposed, 0 failed.")
        .stdout_contains("1 file below changed folders read lower than the plan saw")
        .stdout_contains("  = wf/x alice:2 reads private, the plan leaves it public: left private")
        .status(0);
    assert!(!run.stdout.contains("Put back"), "{}", run.stdout);
    assert_eq!(
        patches(&main),
        ["/v2/files/alice:1"],
        "only the folder written"
    );
}

#[test]
fn watch_never_raises_a_file_below_a_folder_it_restricts_and_says_it_left_it() {
    let main = lying_about_a_file_below_a_folder();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.yaml"), FOLDER_POLICY).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_plotward"))
        .args([
            "watch",
            "-p",
            "policy.yaml",
            "--auto-restrict",
            "--interval",
            "1h",
        ])
        .args(["--metrics-addr", "off", "--backoff-ms", "1"])
        .current_dir(dir.path())
        .env_clear()
        .env("HOME", dir.path())
        .env("PLOTLY_API_DOMAIN", main.url())
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "alice-key")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let _guard = crate::harness::ChildGuard(child);
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    let cycle = loop {
        let line = seen
            .recv_timeout(Duration::from_mins(1))
            .unwrap_or_else(|_| panic!("no cycle line; the log:\n{}", log.join("\n")));
        if line.contains("cycle:") {
            break line;
        }
        log.push(line);
    };
    assert!(cycle.contains("writes: 1 applied"), "{cycle}");
    assert!(
        cycle.contains("1 left below folders lower than listed (never raised"),
        "{cycle}"
    );
    assert!(!cycle.contains("put back"), "{cycle}");
    assert_eq!(
        patches(&main),
        ["/v2/files/alice:1"],
        "only the folder written"
    );
}

/// Alice's account on a server whose count says 3 while it lists 2 private files: nothing
/// listed is wrong, but the listing is not proven complete.
fn miscounting_clean() -> Server {
    Server::api("127.0.0.1", |_| {
        Reply::Json(
            200,
            page(
                3,
                None,
                vec![
                    file("alice:1", "a", "plot", -1, false),
                    file("alice:2", "b", "plot", -1, false),
                ],
            ),
        )
    })
}

/// `check --accept-count-mismatch --format FORMAT` over alice on `lying` (from
/// `PLOTLY_API_DOMAIN`) alone, or with alice on `honest` too (one private file, counted right).
fn unproven_check(lying: &Server, honest: Option<&Server>, format: &str) -> Test {
    let account = |server: &str| {
        format!(
            "version: 1\ndefault: private\naccount:\n  user: alice\n{server}  api_key_env: KEY_ALICE\n"
        )
    };
    let test = Test::new()
        .env("PLOTLY_API_DOMAIN", &lying.url())
        .env("KEY_ALICE", "alice-key")
        .write("a.yaml", &account(""))
        .args(["check", "--accept-count-mismatch", "--backoff-ms", "1"])
        .args(["--format", format, "-p", "a.yaml"]);
    match honest {
        None => test,
        Some(honest) => test
            .write("b.yaml", &account(&format!("  server: {}\n", honest.url())))
            .args(["-p", "b.yaml", "--allow-server", &honest.url()]),
    }
}

#[test]
fn an_unproven_listing_never_reads_compliant_in_any_format_alone_or_among_accounts() {
    let lying = miscounting_clean();
    let honest = Server::api("127.0.0.1", |_| {
        Reply::Json(
            200,
            page(1, None, vec![file("alice:1", "a", "plot", -1, false)]),
        )
    });
    // The exit is the targeted check's: nothing pending (0), never `compliant`.
    for honest in [None, Some(&honest)] {
        let json = unproven_check(&lying, honest, "json").status(0);
        let json: Value = serde_json::from_str(&json.stdout).unwrap();
        let account = if honest.is_some() {
            assert_eq!(json["compliant"], false, "{json}");
            assert_eq!(json["accounts"][1]["check"]["compliant"], true, "{json}");
            json["accounts"][0]["check"].clone()
        } else {
            json
        };
        assert_eq!(account["compliant"], false, "{account}");
        assert_eq!(account["listing"]["unproven"]["counted"], 3, "{account}");
        let text = unproven_check(&lying, honest, "text")
            .stdout_contains(
                "Check: no violations in 2 files listed, but the listing was not proven complete.",
            )
            .status(0);
        let markdown = unproven_check(&lying, honest, "markdown")
            .stdout_contains("not proven complete")
            .status(0);
        unproven_check(&lying, honest, "junit")
            .stdout_contains("<skipped message=\"The listing was not proven complete")
            .stdout_contains("listing_proven_complete\" value=\"false\"")
            .status(0);
        let html = unproven_check(&lying, honest, "html").status(0);
        if honest.is_some() {
            for total in [&text.stdout, &markdown.stdout] {
                assert!(
                    total.contains(
                        "0 violations in 3 files over 2 accounts; 1 account not compliant \
                         without violations (not checked whole: targeted, listing not proven \
                         complete, or files not judged)"
                    ),
                    "{total}"
                );
                assert!(
                    total.contains(
                        "0 violations; not compliant. The listing was not proven complete: \
                         the server counts 3 items, 2 were listed"
                    ),
                    "{total}"
                );
            }
            assert!(
                html.stdout.contains("not every account was checked whole"),
                "{}",
                html.stdout
            );
        } else {
            assert!(!text.stdout.contains("compliant"), "{}", text.stdout);
            assert!(
                !markdown.stdout.contains("compliant"),
                "{}",
                markdown.stdout
            );
            assert!(
                html.stdout
                    .contains("but the listing was not proven complete"),
                "{}",
                html.stdout
            );
            assert!(!html.stdout.contains("Compliant"), "{}", html.stdout);
        }
    }
}
