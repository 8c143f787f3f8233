//! `-v`: one stderr line per HTTP request, never a key or a share key, retries and proxies
//! visible.

use plotward_sandbox::{Options, Sandbox, Seed, User};
use serde_json::json;

use crate::api::{Api, As};
use crate::harness::{Run, Test, repo};
use crate::hostile::{Reply, Server, page};

/// A key no output may ever hold.
const KEY: &str = "k3y-DISTINCTIVE-5f9a0c";

/// The example account, alice's key [`KEY`].
fn sandbox() -> Sandbox {
    Sandbox::start(&Options {
        seed: Seed::load_snapshot(&repo("examples/inventory.json")).unwrap(),
        users: vec![User {
            username: "alice".into(),
            api_key: KEY.into(),
        }],
        ..Options::default()
    })
    .unwrap()
}

fn as_alice(sandbox: &Sandbox, policy: &str) -> Test {
    Test::new()
        .env("PLOTLY_API_DOMAIN", sandbox.url())
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", KEY)
        .policy(policy)
}

/// The `http: ` lines of a run's stderr.
fn trace(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("http: "))
        .collect()
}

/// Neither stream of the run holds any of these secrets.
#[track_caller]
fn holds_none(run: &Run, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !run.stdout.contains(secret.as_str()) && !run.stderr.contains(secret.as_str()),
            "`{secret}` was printed:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
}

#[test]
fn a_verbose_plan_shows_one_line_per_request_with_its_status_and_no_key() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let policy = std::fs::read_to_string(repo("policies/example.yaml")).unwrap();
    let run = as_alice(&sandbox, &policy)
        .args(["plan", "-v"])
        .stderr_contains(&format!(
            "http: requests go to {} directly (plain http, to loopback only, never goes through a \
             proxy)\n",
            sandbox.url()
        ))
        .stderr_contains("http: GET /v2/users/current -> 200 in ")
        .stderr_contains("http: GET /v2/folders/all?user=alice&page=1&page_size=500 -> 200 in ")
        .status(0);
    let served = api.requests();
    let lines = trace(&run);
    // The first line says where requests go; then one line per request the server logged.
    assert_eq!(lines.len(), served.len() + 1, "{lines:?}\n{served:?}");
    for ((method, path, status), line) in served.iter().zip(&lines[1..]) {
        assert!(
            line.starts_with(&format!("http: {method} {path}"))
                && line.contains(&format!(" -> {status} in ")),
            "{line} for {method} {path} {status}"
        );
    }
    holds_none(&run, &[KEY.to_owned()]);
    // The environment variable does the same, and `false` turns it off.
    let quiet = as_alice(&sandbox, &policy)
        .env("PLOTWARD_VERBOSE", "false")
        .args(["plan"])
        .status(0);
    assert!(trace(&quiet).is_empty(), "{}", quiet.stderr);
    let traced = as_alice(&sandbox, &policy)
        .env("PLOTWARD_VERBOSE", "1")
        .args(["check"])
        .status(2);
    assert!(trace(&traced).len() >= 3, "{}", traced.stderr);
}

#[test]
fn a_verbose_apply_never_shows_a_share_key() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let policy = std::fs::read_to_string(repo("policies/secret-links.yaml")).unwrap();
    let run = as_alice(&sandbox, &policy)
        .args(["apply", "--auto-approve", "--verbose"])
        .stderr_contains("http: PATCH /v2/files/alice:")
        .status(0);
    let mut secrets = vec![KEY.to_owned()];
    for file in api.state()["files"].as_array().unwrap() {
        let fid = file["fid"].as_str().unwrap();
        let read = api.get(&format!("/v2/files/{fid}"), As::Key("alice", KEY));
        if let Some(key) = read.body["share_key"].as_str() {
            secrets.push(key.to_owned());
        }
    }
    assert!(secrets.len() > 3, "secret links were made: {secrets:?}");
    holds_none(&run, &secrets);
    let status = as_alice(&sandbox, &policy)
        .args(["status", "-v", "reports/q1/revenue"])
        .stderr_contains("http: GET /v2/files/lookup?path=reports%2Fq1%2Frevenue&user=alice -> 200")
        .status(0);
    holds_none(&status, &secrets);
}

#[test]
fn a_retry_shows_each_attempt() {
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let server = Server::api("127.0.0.1", move |_| {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Reply::Json(
                500,
                json!({"errors": [{"message": "Uh oh, an error occurred."}]}),
            )
        } else {
            Reply::Json(200, page(0, None, vec![]))
        }
    });
    let run = Test::new()
        .env("PLOTLY_API_DOMAIN", &server.url())
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", KEY)
        .policy("version: 1\ndefault: private\n")
        .args(["plan", "-v", "--backoff-ms", "1"])
        .status(0);
    let lines = trace(&run);
    let listing: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("/v2/folders/all"))
        .collect();
    assert_eq!(listing.len(), 2, "{lines:?}");
    assert!(
        listing[0].contains(" -> 500 in ") && listing[0].ends_with("(attempt 1, retrying)"),
        "{lines:?}"
    );
    assert!(
        listing[1].contains(" -> 200 in ") && listing[1].ends_with("(attempt 2)"),
        "{lines:?}"
    );
    holds_none(&run, &[KEY.to_owned()]);
}

#[test]
fn a_refused_connection_is_named_and_a_proxy_from_the_environment_is_shown_without_its_password() {
    // Nothing listens on port 9: the credentials check fails, and the trace says why.
    let run = Test::new()
        .env("PLOTLY_API_DOMAIN", "https://127.0.0.1:9")
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", KEY)
        .env("HTTPS_PROXY", "http://proxyuser:proxy-pw-77@127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1")
        .policy("version: 1\ndefault: private\n")
        .args(["plan", "-v", "--retries", "0"])
        .stderr_contains(
            "http: requests go to https://127.0.0.1:9 through the proxy http://***@127.0.0.1:9 \
             (from HTTPS_PROXY), unless NO_PROXY (127.0.0.1) exempts it\n",
        )
        .stderr_contains("http: GET /v2/users/current -> connection refused in ")
        .status(1);
    holds_none(&run, &[KEY.to_owned(), "proxy-pw-77".to_owned()]);
}

/// Plain http (allowed only to loopback) never goes through a proxy, whatever the
/// environment says: the proxy would read the Authorization header in clear text.
#[test]
fn plain_http_to_loopback_never_goes_through_a_proxy() {
    let proxy = Server::start("127.0.0.1", |_| Reply::Json(502, json!({})));
    let sandbox = sandbox();
    let proxy_url = proxy.url();
    let run = as_alice(&sandbox, "version: 1\ndefault: private\n")
        .env("HTTP_PROXY", &proxy_url)
        .env("http_proxy", &proxy_url)
        .env("ALL_PROXY", &proxy_url)
        .args(["plan", "-v"])
        .stderr_contains(&format!("http: requests go to {}", sandbox.url()))
        .stderr_lacks("through the proxy")
        .status(0);
    assert!(
        proxy.requests().is_empty(),
        "the proxy was sent {:?}",
        proxy.requests()
    );
    holds_none(&run, &[KEY.to_owned()]);
}

/// `demo -v` traces the demo's own connection like any other command's.
#[test]
fn the_demo_is_traced_too() {
    let run = Test::new()
        .args(["demo", "-v"])
        .stderr_contains("http: GET /v2/users/current -> 200 in ")
        .stderr_contains("http: PATCH /v2/files/")
        .status(0);
    assert!(trace(&run).len() > 3, "{}", run.stderr);
}
