//! Setup and the credentials check, as users meet them: no default API URL, the first request
//! `GET /v2/users/current`, and one test per message, each saying what happened and what to
//! do next. The real binary against the sandbox or the scripted server, on 127.0.0.1 only.

use serde_json::json;

use plotward_sandbox::{Options, Sandbox, Seed};

use crate::api::{Api, sandbox_with};
use crate::harness::Test;
use crate::hostile::{Reply, Server};

/// Everything private: a valid policy that needs no listing to parse.
const PRIVATE: &str = "version: 1\ndefault: private\n";

/// The commands that talk to a server, with the arguments each needs to get that far.
const SERVER_COMMANDS: [&[&str]; 5] = [
    &["plan"],
    &["check"],
    &["snapshot"],
    &["export"],
    &["apply", "--auto-approve"],
];

/// A sandbox with alice (`alice-key`) and bob (`bob-key`) and a few files.
fn sandbox() -> Sandbox {
    sandbox_with(Seed::Generate(5), Options::default())
}

/// A run in a directory holding the default policy.
fn test() -> Test {
    Test::new().policy(PRIVATE)
}

/// Fast retries, so no test waits on backoff; after the subcommand and its arguments.
const FAST: [&str; 2] = ["--backoff-ms", "1"];

/// The paths the sandbox was asked for, in order.
fn paths(api: &Api) -> Vec<String> {
    api.requests()
        .into_iter()
        .map(|(_, path, _)| path)
        .collect()
}

/// A run of a server command with fast retries.
fn command(args: &[&str]) -> Test {
    test().args(args).args(FAST)
}

#[test]
fn without_an_api_url_every_server_command_fails_at_once_saying_how_to_set_one() {
    for args in SERVER_COMMANDS {
        let run = command(args)
            .env("PLOTLY_USERNAME", "alice")
            .env("PLOTLY_API_KEY", "alice-key")
            .status(1);
        let config = run.path(".plotly/.config");
        assert_eq!(
            run.stderr,
            format!(
                "error: no API URL configured. The Chart Studio cloud closed on 2025-10-31, so \
                 plotward has no default server; point it at your Chart Studio Enterprise \
                 server: pass --api-url https://plotly.example.com, set \
                 PLOTLY_API_DOMAIN=https://plotly.example.com, or put \"plotly_api_domain\": \
                 \"https://plotly.example.com\" in {}\n",
                config.display()
            ),
            "{args:?}"
        );
        assert_eq!(run.stdout, "", "{args:?}");
    }
    // PLOTLY_DIR moves the file the message names.
    command(&["plan"])
        .env("PLOTLY_DIR", "/nonexistent/plotly")
        .stderr_contains("in /nonexistent/plotly/.config\n")
        .status(1);
}

#[test]
fn commands_that_need_no_server_never_ask_for_one() {
    let snapshot = json!({"format_version": 1, "files": []}).to_string();
    let offline: [&[&str]; 5] = [
        &["validate"],
        &["explain", "reports/q1"],
        &["schema"],
        &["plan", "--snapshot", "snap.json"],
        &["check", "--snapshot", "snap.json"],
    ];
    for args in offline {
        Test::new()
            .policy(PRIVATE)
            .write("snap.json", &snapshot)
            .args(args)
            .stderr_lacks("API URL")
            .status(0);
    }
}

#[test]
fn plotly_api_domain_in_the_plotly_dir_config_still_works() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".config"),
        json!({"plotly_api_domain": sandbox.url()}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join(".credentials"),
        json!({"username": "alice", "api_key": "alice-key"}).to_string(),
    )
    .unwrap();
    test()
        .args(["plan"])
        .env("PLOTLY_DIR", &dir.path().display().to_string())
        .stdout_contains("Plan: ")
        .status(0);
    let seen = paths(&api);
    assert_eq!(seen[0], "/v2/users/current", "the check comes first");
    assert!(seen[1..].iter().all(|p| p == "/v2/folders/all"), "{seen:?}");
}

#[test]
fn a_wrong_key_is_rejected_before_any_listing_naming_its_source_and_the_server() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let url = sandbox.url().to_owned();
    for args in SERVER_COMMANDS {
        let run = command(args)
            .env("PLOTLY_API_DOMAIN", &url)
            .env("PLOTLY_USERNAME", "alice")
            .env("PLOTLY_API_KEY", "not-alices-key")
            .stderr_lacks("not-alices-key")
            .stdout_lacks("not-alices-key")
            .status(1);
        assert_eq!(
            run.stderr,
            format!(
                "error: the API key from PLOTLY_API_KEY was rejected by {url} (401) for the user \
                 alice from PLOTLY_USERNAME: check that the key is current and belongs to that \
                 user, and which source each value comes from (flags beat the environment, \
                 which beats Plotly's files)\n"
            ),
            "{args:?}"
        );
    }
    assert_eq!(
        paths(&api),
        vec!["/v2/users/current"; SERVER_COMMANDS.len()],
        "nothing but the credentials check was sent"
    );
}

#[test]
fn a_rejected_key_names_the_key_file_or_the_plotly_credentials_file() {
    let sandbox = sandbox();
    test()
        .write("key.txt", "wrong\n")
        .args(["plan", "--api-url", sandbox.url(), "--user", "alice"])
        .args(["--api-key-file", "key.txt"])
        .stderr_contains("error: the API key from --api-key-file key.txt was rejected by")
        .stderr_contains("for the user alice from --user:")
        .status(1);
    test()
        .write(
            "conf/.credentials",
            r#"{"username": "alice", "api_key": "wrong"}"#,
        )
        .args(["plan", "--api-url", sandbox.url()])
        .env("PLOTLY_DIR", "conf")
        .stderr_contains("error: the API key from conf/.credentials was rejected")
        .stderr_contains("for the user alice from conf/.credentials:")
        .status(1);
}

#[test]
fn a_wrong_username_is_caught_by_the_credentials_check_before_listing() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    test()
        .args(["plan", "--api-url", sandbox.url(), "--user", "bob"])
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "alice-key")
        .stderr_contains(&format!(
            "the API key from PLOTLY_API_KEY was rejected by {} (401) for the user bob from \
             --user: check that the key is current and belongs to that user",
            sandbox.url()
        ))
        .status(1);
    assert_eq!(paths(&api), ["/v2/users/current"]);
}

/// A scripted server whose `/v2/users/current` answers `reply`; anything else is a page with
/// no files, so a test can tell whether listing began.
fn current_user_server(reply: Reply) -> Server {
    Server::start("127.0.0.1", move |request| {
        if request.path() == "/v2/users/current" {
            reply.clone()
        } else {
            Reply::Json(200, crate::hostile::page(0, None, vec![]))
        }
    })
}

fn against(server: &Server) -> Test {
    test()
        .args(["plan", "--api-url", &server.url(), "--user", "alice"])
        .args(FAST)
        .env("PLOTLY_API_KEY", "alice-key")
}

fn paths_seen(server: &Server) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect()
}

#[test]
fn a_key_of_another_user_is_refused_naming_both_users_and_sources() {
    let server = current_user_server(Reply::Json(200, json!({"username": "bob"})));
    let run = against(&server).status(1);
    assert_eq!(
        run.stderr,
        format!(
            "error: {} says the key belongs to bob, but --user says alice (the key is from \
             PLOTLY_API_KEY): fix whichever is wrong (flags beat the environment, which beats \
             Plotly's files)\n",
            server.url()
        )
    );
    assert_eq!(paths_seen(&server), ["/v2/users/current"]);
}

#[test]
fn an_odd_current_user_answer_is_refused_escaped_before_listing() {
    for (body, why) in [
        (
            json!({"username": "bo\u{1b}[2Jb"}),
            "its `username` `bo\\e[2Jb` cannot be a Chart Studio username",
        ),
        (json!({"name": "alice"}), "it has no `username`"),
        (
            json!({"username": "a".repeat(300)}),
            "its `username` is longer than 256 bytes",
        ),
    ] {
        let server = current_user_server(Reply::Json(200, body));
        against(&server)
            .stderr_contains("this is not a Chart Studio answer to the credentials check: ")
            .stderr_contains(why)
            .stderr_lacks("\u{1b}")
            .status(1);
        assert_eq!(paths_seen(&server), ["/v2/users/current"]);
    }
    // Far more than a user object: refused at the cap, not read whole.
    let server = current_user_server(Reply::Huge { bytes: 50_000_000 });
    against(&server)
        .stderr_contains(
            "this is not a Chart Studio answer to the credentials check: it is larger than 64 KiB",
        )
        .status(1);
    assert_eq!(paths_seen(&server), ["/v2/users/current"]);
}

#[test]
fn a_404_on_users_current_says_the_url_is_probably_not_an_api_root() {
    let server = current_user_server(Reply::Json(404, json!({"detail": "Not found."})));
    let run = against(&server).status(1);
    assert_eq!(
        run.stderr,
        format!(
            "error: {} answered 404 to GET /v2/users/current: the API URL (from --api-url) is \
             probably not a Chart Studio v2 API root; on Chart Studio Enterprise it is usually \
             the server's own address, as in https://plotly.example.com\n",
            server.url()
        )
    );
    assert_eq!(paths_seen(&server), ["/v2/users/current"]);
}

#[test]
fn a_url_without_a_scheme_shows_the_corrected_url() {
    let run = test()
        .args(["plan", "--api-url", "plotly.example.com"])
        .status(1);
    assert_eq!(
        run.stderr,
        "error: invalid API URL `plotly.example.com`: it has no scheme; the URL needs https://, \
         as in `https://plotly.example.com`\n"
    );
    // From the environment, the message says so: the flag is not what to look at.
    let run = test()
        .args(["plan"])
        .env("PLOTLY_API_DOMAIN", "plotly.example.com")
        .status(1);
    assert_eq!(
        run.stderr,
        "error: invalid API URL `plotly.example.com`: it has no scheme; the URL needs https://, \
         as in `https://plotly.example.com` (the API URL is from PLOTLY_API_DOMAIN)\n"
    );
}

#[test]
fn https_to_a_plain_http_port_says_the_server_does_not_speak_tls() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let port = sandbox.url().rsplit(':').next().unwrap().to_owned();
    let run = test()
        .args(["plan", "--api-url", &format!("https://127.0.0.1:{port}")])
        .args(FAST)
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "alice-key")
        .status(1);
    assert_eq!(
        run.stderr,
        format!(
            "error: GET https://127.0.0.1:{port}/v2/users/current: the server at \
             127.0.0.1:{port} does not speak TLS on that port; maybe it serves plain http, \
             which plotward allows only on loopback hosts; try http://127.0.0.1:{port}\n"
        )
    );
    assert!(paths(&api).is_empty(), "no HTTP request got through");
}

#[test]
fn a_host_that_does_not_resolve_is_named_not_retried_into_a_chain() {
    // `.invalid` never resolves (RFC 2606); with no resolver at all the lookup fails too.
    let run = test()
        .args(["plan", "--api-url", "https://plotly.invalid"])
        .args(FAST)
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "alice-key")
        .status(1);
    assert_eq!(
        run.stderr,
        "error: GET https://plotly.invalid/v2/users/current: cannot resolve host \
         plotly.invalid: check --api-url\n"
    );
    test()
        .args(["snapshot"])
        .args(FAST)
        .env("PLOTLY_API_DOMAIN", "https://plotly.invalid")
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "alice-key")
        .stderr_contains(
            "cannot resolve host plotly.invalid: check --api-url (the API URL is from \
             PLOTLY_API_DOMAIN)\n",
        )
        .status(1);
}

#[test]
fn a_refused_connection_says_nothing_listens_there() {
    // A port that was just free: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    let run = test()
        .args(["plan", "--api-url", &format!("http://127.0.0.1:{port}")])
        .args(FAST)
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "alice-key")
        .status(1);
    assert_eq!(
        run.stderr,
        format!(
            "error: GET http://127.0.0.1:{port}/v2/users/current: nothing listens at \
             127.0.0.1:{port}: check the host and port in --api-url, and that the server is \
             running\n"
        )
    );
}

#[test]
fn a_missing_default_policy_says_which_file_and_how_to_start_one() {
    // The policy is read before any request, so the unreachable URL is never tried.
    let run = Test::new()
        .args(["plan", "--api-url", "http://127.0.0.1:9", "--user", "alice"])
        .env("PLOTLY_API_KEY", "alice-key")
        .status(1);
    assert_eq!(
        run.stderr,
        format!(
            "error: no policy file plotward.yaml ({}): give one with -p PATH, or start from \
             the account's sharing as it is today with `plotward export > plotward.yaml`\n",
            run.path("plotward.yaml").display()
        )
    );
}

#[test]
fn missing_credentials_name_the_real_plotly_files() {
    let run = test()
        .args(["plan", "--api-url", "http://127.0.0.1:9"])
        .env("PLOTLY_DIR", "/etc/team-plotly")
        .status(1);
    assert_eq!(
        run.stderr,
        "error: no username found: pass --user, set PLOTLY_USERNAME, or put `username` in \
         /etc/team-plotly/.credentials\n"
    );
    let run = test()
        .args(["plan", "--api-url", "http://127.0.0.1:9", "--user", "alice"])
        .status(1);
    assert_eq!(
        run.stderr,
        format!(
            "error: no API key found: pass --api-key-file, set PLOTLY_API_KEY, or put \
             `api_key` in {}\n",
            run.path(".plotly/.credentials").display()
        )
    );
}

/// `PLOTWARD_API_KEY_FILE` is `--api-key-file`'s variable: below the flag, above
/// `PLOTLY_API_KEY`, and a rejected key names it (not the flag, which was not given). The URL
/// and user from their variables (read by clap) are named as variables too.
#[test]
fn the_key_file_variable_is_named_as_the_source_and_the_flag_beats_it() {
    let sandbox = sandbox();
    test()
        .write("key.txt", "wrong\n")
        .args(["plan"])
        .args(FAST)
        .env("PLOTLY_API_DOMAIN", sandbox.url())
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "alice-key")
        .env("PLOTWARD_API_KEY_FILE", "key.txt")
        .stderr_contains("error: the API key from PLOTWARD_API_KEY_FILE=key.txt was rejected by")
        .stderr_contains("for the user alice from PLOTLY_USERNAME:")
        .stderr_lacks("--api-key-file")
        .status(1);
    test()
        .write("key.txt", "wrong\n")
        .write("good.txt", "alice-key\n")
        .args(["plan", "--api-key-file", "good.txt"])
        .args(FAST)
        .env("PLOTLY_API_DOMAIN", sandbox.url())
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTWARD_API_KEY_FILE", "key.txt")
        .stdout_contains("Plan: ")
        .status(0);
}
