//! The sandbox's fidelity fixes and its defences, over real HTTP on 127.0.0.1: create-body
//! validation, trailing slashes, `files/{fid}/path`, the plain-text 413, the admin guard,
//! connection limits, the crash-proof journal, and the `sandbox` command's start-up errors.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use plotward_sandbox::{Options, Seed};

use crate::api::{Api, As, sandbox_with};
use crate::harness::ChildGuard;

#[test]
fn root_items_are_parented_like_upstream() {
    let sandbox = sandbox_with(Seed::Empty, Options::default());
    let api = Api::new(&sandbox);
    let plot = api.json(
        Method::POST,
        "/v2/plots",
        As::User("alice"),
        &json!({"figure": {"data": []}, "filename": "at-root"}),
    );
    assert_eq!(plot.status, StatusCode::CREATED, "{}", plot.body);
    assert_eq!(plot.body["file"]["parent"], -1);
    assert_eq!(plot.body["file"]["parented"], true);
    let home = api.get("/v2/folders/home", As::User("alice")).body;
    assert_eq!(home["children"]["results"][0]["parented"], true);
}

#[test]
fn create_bodies_need_what_the_official_client_sends() {
    let sandbox = sandbox_with(Seed::Empty, Options::default());
    let api = Api::new(&sandbox);
    let refused = [
        ("/v2/plots", json!({}), "figure"),
        ("/v2/plots", json!({"figure": [{"x": [1, 2]}]}), "figure"),
        ("/v2/grids", json!({"filename": "g"}), "data"),
        ("/v2/grids", json!({"data": {"cols": {}}}), "filename"),
        ("/v2/grids", json!({"filename": "g", "data": [1]}), "data"),
        ("/v2/dashboards", json!({"filename": "d"}), "content"),
        (
            "/v2/dashboards",
            json!({"filename": "d", "content": {"rows": []}}),
            "content",
        ),
        (
            "/v2/spectacle-presentations",
            json!({"content": "{}"}),
            "filename",
        ),
    ];
    for (path, body, field) in refused {
        let reply = api.json(Method::POST, path, As::User("alice"), &body);
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path} {body}");
        assert_eq!(reply.body["errors"][0]["field"], field, "{path} {body}");
        assert!(reply.body["errors"][0]["message"].is_string());
    }
    // A raw data array is not even an object.
    let raw = Api::send(
        reqwest::blocking::Client::new()
            .post(api.url("/v2/plots"))
            .basic_auth("alice", Some("alice-key"))
            .json(&json!([{"x": [1], "y": [2]}])),
    );
    assert_eq!(raw.status, StatusCode::BAD_REQUEST);
    assert!(raw.body["errors"][0]["message"].is_string());
    assert_eq!(api.state()["files"], json!([]), "nothing was created");

    let accepted = [
        ("/v2/plots", json!({"figure": {"data": []}})),
        (
            "/v2/grids",
            json!({"filename": "g", "data": {"cols": {"x": {"data": [1], "order": 0}}}}),
        ),
        (
            "/v2/dashboards",
            json!({"filename": "d", "content": "{\"rows\": []}", "world_readable": false}),
        ),
        (
            "/v2/spectacle-presentations",
            json!({"filename": "p", "content": "{\"slides\": []}"}),
        ),
    ];
    for (path, body) in accepted {
        let reply = api.json(Method::POST, path, As::User("alice"), &body);
        assert_eq!(reply.status, StatusCode::CREATED, "{path}: {}", reply.body);
    }
    let created = api.get("/v2/files/lookup?path=p", As::User("alice")).body;
    assert_eq!(created["filetype"], "spectacle_presentation");
}

#[test]
fn every_v2_route_accepts_a_trailing_slash() {
    let sandbox = sandbox_with(Seed::Generate(5), Options::default());
    let api = Api::new(&sandbox);
    let fid = api
        .get("/v2/folders/all?filetype=plot", As::User("alice"))
        .body["children"]["results"][0]["fid"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        "/v2/users/current/".to_owned(),
        format!("/v2/files/{fid}/"),
        format!("/v2/plots/{fid}/"),
        "/v2/folders/all/?page_size=2".to_owned(),
        "/v2/folders/home/".to_owned(),
        "/v2/folders/trashed/".to_owned(),
        format!("/v2/files/{fid}/path/"),
    ] {
        let reply = api.get(&path, As::User("alice"));
        assert_eq!(reply.status, StatusCode::OK, "GET {path}: {}", reply.body);
    }
    let patched = api.json(
        Method::PATCH,
        &format!("/v2/files/{fid}/"),
        As::User("alice"),
        &json!({"world_readable": false}),
    );
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.body["world_readable"], false);
    let trashed = api.call(
        Method::POST,
        &format!("/v2/files/{fid}/trash/"),
        As::User("alice"),
    );
    assert_eq!(trashed.status, StatusCode::OK);
    let folder = api.json(
        Method::POST,
        "/v2/folders/",
        As::User("alice"),
        &json!({"path": "slashed"}),
    );
    assert_eq!(folder.status, StatusCode::CREATED);
    let page = api
        .get("/v2/folders/all/?page_size=2", As::User("alice"))
        .body;
    assert!(
        page["children"]["next"]
            .as_str()
            .unwrap()
            .contains("/v2/folders/all?")
    );
}

#[test]
fn file_path_answers_the_owner_with_the_folder_path() {
    let sandbox = sandbox_with(Seed::Empty, Options::default());
    let api = Api::new(&sandbox);
    let plot = api.json(
        Method::POST,
        "/v2/plots",
        As::User("alice"),
        &json!({"figure": {}, "filename": "q3", "parent_path": "reports/2025", "world_readable": false}),
    );
    let fid = plot.body["file"]["fid"].as_str().unwrap().to_owned();
    let path = format!("/v2/files/{fid}/path");
    let owner = api.get(&path, As::User("alice"));
    assert_eq!(
        (owner.status, owner.body),
        (StatusCode::OK, json!({"path": "/reports/2025/q3"}))
    );
    assert_eq!(
        api.get(&path, As::User("bob")).status,
        StatusCode::NOT_FOUND
    );
    api.json(
        Method::PATCH,
        &format!("/v2/files/{fid}"),
        As::User("alice"),
        &json!({"world_readable": true}),
    );
    assert_eq!(
        api.get(&path, As::User("bob")).status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.get(&path, As::Anonymous).status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.get("/v2/files/alice:999/path", As::User("alice"))
            .status,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn an_oversized_body_gets_nginx_s_plain_text_413() {
    let sandbox = sandbox_with(Seed::Generate(3), Options::default());
    let addr = sandbox.url().trim_start_matches("http://").to_owned();
    let too_big = 3 * 1024 * 1024;
    for (path, auth) in [
        ("/v2/plots", "Authorization: Basic YWxpY2U6YWxpY2Uta2V5\r\n"),
        (
            "/v2/files/alice:0/trash",
            "Authorization: Basic YWxpY2U6YWxpY2Uta2V5\r\n",
        ),
        ("/v2/plots", ""),
    ] {
        // Only the head is sent: the answer comes from the declared length, as from nginx.
        let mut stream = TcpStream::connect(&addr).unwrap();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {too_big}\r\n\r\n"
        )
        .unwrap();
        let response = read_response(&mut stream);
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 413"), "{path}: {head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/plain"),
            "{head}"
        );
        assert_eq!(body, "413 Request Entity Too Large\n");
    }
    let api = Api::new(&sandbox);
    assert_eq!(
        api.get("/v2/files/alice:0", As::User("alice")).body["deleted"],
        false,
        "the oversized trash request did nothing"
    );
}

#[test]
fn admin_endpoints_refuse_foreign_hosts_and_cross_origin_requests() {
    let sandbox = sandbox_with(Seed::Generate(3), Options::default());
    let client = reqwest::blocking::Client::new();
    let port = sandbox.url().rsplit(':').next().unwrap().to_owned();
    let admin = |method: Method, path: &str, headers: &[(&str, String)]| {
        let mut request = client.request(method, format!("{}{path}", sandbox.url()));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().unwrap();
        (response.status(), response.text().unwrap())
    };
    for headers in [
        vec![("host", format!("rebound.example:{port}"))],
        vec![("host", "127.0.0.1.rebound.example".to_owned())],
        vec![("origin", "http://rebound.example".to_owned())],
        vec![("origin", "null".to_owned())],
        vec![("sec-fetch-site", "cross-site".to_owned())],
    ] {
        let (status, text) = admin(Method::GET, "/_sandbox/state", &headers);
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(text.starts_with("Refused: "), "{text}");
        assert!(!text.contains("alice:"), "no state leaks: {text}");
    }
    let (status, _) = admin(
        Method::POST,
        "/_sandbox/reset",
        &[("host", format!("rebound.example:{port}"))],
    );
    assert_eq!(status, StatusCode::FORBIDDEN);
    for headers in [
        vec![],
        vec![("host", format!("localhost:{port}"))],
        vec![("host", format!("[::1]:{port}"))],
        vec![("origin", format!("http://127.0.0.1:{port}"))],
        vec![("origin", "http://localhost:3000".to_owned())],
        vec![("sec-fetch-site", "same-origin".to_owned())],
    ] {
        let (status, text) = admin(Method::GET, "/_sandbox/state", &headers);
        assert_eq!(status, StatusCode::OK, "{headers:?}: {text}");
    }
    // The API itself is not guarded: clients reach Chart Studio by any name.
    let api = client
        .get(format!("{}/v2/users/current", sandbox.url()))
        .header("host", "plotly.example.com")
        .basic_auth("alice", Some("alice-key"))
        .send()
        .unwrap();
    assert_eq!(api.status(), StatusCode::OK);
}

/// A real request (alice's `users/current`) gets an answer within 30 s: what clients see while
/// the sandbox defends its slots against stalled ones.
#[track_caller]
fn assert_served_within_30s(sandbox: &plotward_sandbox::Sandbox, why: &str) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let served = client
        .get(format!("{}/v2/users/current", sandbox.url()))
        .basic_auth("alice", Some("alice-key"))
        .send()
        .expect(why);
    assert_eq!(served.status(), StatusCode::OK);
}
/// Reads one HTTP/1.1 response with a `content-length` from a raw socket.
fn read_response(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|n| n.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        let n = stream.read(&mut chunk).expect("the response arrives");
        assert!(n > 0, "connection closed mid-response: {text}");
        bytes.extend_from_slice(&chunk[..n]);
    }
}

/// Whether the server closes the socket (EOF or reset) within a generous bound.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(err) => matches!(
            err.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
    }
}

#[test]
fn half_open_connections_time_out_and_free_their_slots() {
    let sandbox = sandbox_with(
        Seed::Empty,
        Options {
            max_connections: 2,
            header_timeout: Duration::from_millis(300),
            idle_timeout: Duration::from_millis(600),
            ..Options::default()
        },
    );
    let addr = sandbox.url().trim_start_matches("http://").to_owned();
    // Fill every slot with a request whose headers never end.
    let mut stalled: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut stream = TcpStream::connect(&addr).unwrap();
            stream
                .write_all(b"GET /v2/users/current HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .unwrap();
            stream
        })
        .collect();
    // A real request still gets through: the stalled ones time out and free their slots.
    assert_served_within_30s(&sandbox, "served once the stalled connections time out");
    for stream in &mut stalled {
        assert!(closed_by_server(stream), "a stalled connection is closed");
    }
    // An idle keep-alive connection is closed too, after its request was answered.
    let mut idle = TcpStream::connect(&addr).unwrap();
    idle.write_all(
        b"GET /v2/folders/home HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic YWxpY2U6YWxpY2Uta2V5\r\n\r\n",
    )
    .unwrap();
    let response = read_response(&mut idle);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(closed_by_server(&mut idle), "an idle connection is closed");
}

#[test]
fn a_body_that_trickles_in_times_out_and_frees_its_slot() {
    let sandbox = sandbox_with(
        Seed::Empty,
        Options {
            max_connections: 2,
            header_timeout: Duration::from_millis(500),
            idle_timeout: Duration::from_secs(30),
            ..Options::default()
        },
    );
    let addr = sandbox.url().trim_start_matches("http://").to_owned();
    // Both slots: complete headers, then a body promised at 100,000 bytes that comes one byte
    // at a time, for at most about ten seconds.
    let trickles: Vec<std::thread::JoinHandle<String>> = (0..2)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(&addr).unwrap();
                stream
                    .write_all(
                        b"PATCH /v2/files/alice:1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                          Content-Length: 100000\r\n\r\n",
                    )
                    .unwrap();
                for _ in 0..50 {
                    std::thread::sleep(Duration::from_millis(200));
                    if stream.write_all(b"x").is_err() {
                        break;
                    }
                }
                read_response(&mut stream)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    assert_served_within_30s(&sandbox, "served once the trickling bodies time out");
    for trickle in trickles {
        let answer = trickle.join().unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }
}

/// Starts `plotward sandbox` with these extra arguments and returns it and its URL.
fn spawn_sandbox(args: &[&str], state: &std::path::Path) -> (ChildGuard, String) {
    let mut all: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    all.extend(["--state".into(), state.as_os_str().to_owned()]);
    let sandbox = crate::harness::sandbox_process(all);
    (sandbox.guard, sandbox.url)
}

/// Everything a crash must not lose: the files, their flags and their share keys.
fn everything(client: &reqwest::blocking::Client, url: &str) -> (Value, Vec<Value>) {
    let state: Value = client
        .get(format!("{url}/_sandbox/state"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let all: Value = client
        .get(format!("{url}/v2/folders/all?page_size=1000"))
        .basic_auth("alice", Some("alice-key"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let keys = all["children"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| json!([f["fid"], f["share_key"], f["parent"], f["date_modified"]]))
        .collect();
    (state, keys)
}

fn acknowledged(response: reqwest::blocking::Response) -> Value {
    let status = response.status();
    assert!(status.is_success(), "{status}");
    response.json().unwrap_or(Value::Null)
}

/// Makes every kind of write, some at once from several threads; each one acknowledged.
fn write_a_lot(url: &str) {
    let client = reqwest::blocking::Client::new();
    let send = |method: Method, path: &str, body: Value| {
        acknowledged(
            client
                .request(method, format!("{url}{path}"))
                .basic_auth("alice", Some("alice-key"))
                .json(&body)
                .send()
                .unwrap(),
        )
    };
    let folder = send(Method::POST, "/v2/folders", json!({"path": "moved/here"}));
    let folder_id = folder["file"]["fid"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse::<i64>()
        .unwrap();
    std::thread::scope(|scope| {
        for thread in 0..4 {
            scope.spawn(move || {
                let client = reqwest::blocking::Client::new();
                for n in 0..8 {
                    let fid = format!("alice:{}", 3 + thread * 8 + n);
                    acknowledged(
                        client
                            .patch(format!("{url}/v2/files/{fid}"))
                            .basic_auth("alice", Some("alice-key"))
                            .json(&json!({"world_readable": n % 2 == 0, "share_key_enabled": n % 3 == 0}))
                            .send()
                            .unwrap(),
                    );
                }
            });
        }
    });
    for n in 0..5 {
        send(
            Method::POST,
            "/v2/plots",
            json!({"figure": {"data": []}, "filename": format!("new-{n}"), "world_readable": false, "share_key_enabled": true}),
        );
    }
    let created = send(
        Method::POST,
        "/v2/grids",
        json!({"filename": "g", "data": {"cols": {"x": {"data": [1], "order": 0}}}}),
    );
    let grid = created["file"]["fid"].as_str().unwrap().to_owned();
    send(
        Method::PATCH,
        &format!("/v2/files/{grid}"),
        json!({"parent": folder_id}),
    );
    send(Method::POST, "/v2/files/alice:40/trash", json!({}));
    send(Method::POST, "/v2/files/alice:41/trash", json!({}));
    send(Method::POST, "/v2/files/alice:41/restore", json!({}));
    send(Method::POST, "/v2/files/alice:42/trash", json!({}));
    send(
        Method::DELETE,
        "/v2/files/alice:42/permanent_delete",
        json!({}),
    );
    // The id counter must survive too: a new file after the restart must not reuse alice:42.
    send(
        Method::PATCH,
        "/v2/files/alice:43",
        json!({"filename": "renamed"}),
    );
}

#[test]
fn every_acknowledged_write_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let args = ["--generate", "60", "--user", "alice:alice-key"];
    let client = reqwest::blocking::Client::new();
    let (mut first, url) = spawn_sandbox(&args, &state);
    write_a_lot(&url);
    let before = everything(&client, &url);
    // The last writes come right before the kill, with no read in between: whatever the
    // background save has done by then, these five live only in the journal.
    let burst: Vec<(String, Value)> =
        (0..5)
            .map(|n| {
                let file = acknowledged(
                client
                    .post(format!("{url}/v2/plots"))
                    .basic_auth("alice", Some("alice-key"))
                    .json(&json!({"figure": {}, "filename": format!("b{n}"), "parent_path": "burst",
                                  "world_readable": false, "share_key_enabled": true}))
                    .send()
                    .unwrap(),
            )["file"]
                .clone();
                (
                    file["fid"].as_str().unwrap().to_owned(),
                    file["share_key"].clone(),
                )
            })
            .collect();
    first.0.kill().unwrap(); // SIGKILL: no shutdown save
    first.0.wait().unwrap();
    drop(first);
    // A crash mid-append leaves a torn last record: ignored.
    let journal = dir.path().join("state.json.journal");
    let mut torn = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    torn.write_all(b"0123456789abcdef {\"seq\":").unwrap();
    drop(torn);

    let (mut second, url) = spawn_sandbox(&args, &state);
    for (fid, key) in &burst {
        let file: Value = client
            .get(format!("{url}/v2/files/{fid}"))
            .basic_auth("alice", Some("alice-key"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(
            (&file["share_key"], file["world_readable"].as_bool()),
            (key, Some(false)),
            "{fid} survived with its share key"
        );
    }
    let (mut after, mut keys) = everything(&client, &url);
    let files = after["files"].as_array_mut().unwrap();
    files.retain(|f| !f["path"].as_str().unwrap().starts_with("burst"));
    keys.truncate(before.1.len());
    assert_eq!((after, keys), before, "nothing acknowledged was lost");
    let next = acknowledged(
        client
            .post(format!("{url}/v2/plots"))
            .basic_auth("alice", Some("alice-key"))
            .json(&json!({"figure": {}}))
            .send()
            .unwrap(),
    );
    let fid = next["file"]["fid"].as_str().unwrap();
    assert!(
        before.1.iter().all(|f| f[0] != fid) && fid != "alice:42",
        "{fid} is a fresh id"
    );
    second.0.kill().unwrap();
    second.0.wait().unwrap();
    drop(second);

    // A corrupt record before the last is not a torn write: a clear error, not a guess.
    std::fs::write(&journal, "not a record\nnor this\n").unwrap();
    crate::harness::Test::new()
        .args(["sandbox", "--addr", "127.0.0.1:0", "--state"])
        .args([state.to_str().unwrap()])
        .stderr_contains("line 1 is corrupt")
        .stderr_contains("state.json.journal")
        .status(1);
}

#[test]
fn a_user_that_disagrees_with_the_state_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let (mut guard, _) = spawn_sandbox(&["--user", "alice:first-key"], &state);
    guard.0.kill().unwrap();
    guard.0.wait().unwrap();
    drop(guard);
    let shown = state.display().to_string();
    for (user, difference) in [
        ("alice:OTHERKEY", "alice has another API key there"),
        ("zoe:zoe-key", "zoe is not a user there"),
    ] {
        crate::harness::Test::new()
            .args([
                "sandbox",
                "--addr",
                "127.0.0.1:0",
                "--user",
                user,
                "--state",
                shown.as_str(),
            ])
            .stderr_contains(&shown)
            .stderr_contains(difference)
            .stderr_contains("drop --user")
            // No key is printed.
            .stderr_lacks("first-key")
            .status(1);
    }
    // The same key is fine.
    let (guard, url) = spawn_sandbox(&["--user", "alice:first-key"], &state);
    let me = reqwest::blocking::Client::new()
        .get(format!("{url}/v2/users/current"))
        .basic_auth("alice", Some("first-key"))
        .send()
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    drop(guard);
}

#[test]
fn a_busy_port_says_what_to_do() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    crate::harness::Test::new()
        .args(["sandbox", "--addr", addr.as_str()])
        .stderr_contains(&format!(
            "cannot listen on {addr}: the address is already in use"
        ))
        .stderr_contains("--addr 127.0.0.1:0")
        .status(1);
}

#[test]
fn a_seed_given_with_an_existing_state_file_says_it_did_not_load() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    drop(spawn_sandbox(&["--generate", "3"], &state));
    assert!(state.exists());
    let sandbox = crate::harness::sandbox_process([
        std::ffi::OsString::from("--seed"),
        crate::harness::repo("examples/inventory.json").into(),
        "--state".into(),
        state.as_os_str().to_owned(),
    ]);
    let banner: Vec<String> = sandbox
        .lines
        .map_while(Result::ok)
        .take_while(|line| !line.starts_with("Press Ctrl-C"))
        .collect();
    let files = banner.iter().position(|l| l.starts_with("  files: 3,"));
    let note = banner.iter().position(|l| {
        l.contains("started from the existing state file, not from --seed/--generate")
    });
    assert!(files.is_some() && note > files, "{banner:#?}");
}

/// A state file or journal the sandbox is pointed at is read with the same bound as a seed:
/// a file claiming more than 1 GiB is refused before anything is read (a sparse file here, so
/// the test costs no disk).
#[test]
fn oversized_state_files_and_journals_are_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let huge = std::fs::File::create(&state).unwrap();
    huge.set_len((1 << 30) + 1).unwrap();
    crate::harness::Test::new()
        .args(["sandbox", "--addr", "127.0.0.1:0", "--state"])
        .args([state.to_str().unwrap()])
        .stderr_contains("cannot read sandbox state")
        .stderr_contains("larger than 1 GiB")
        .status(1);
    std::fs::write(
        &state,
        r#"{"sandbox_state_version": 1, "users": [], "files": []}"#,
    )
    .unwrap();
    let journal = dir.path().join("state.json.journal");
    std::fs::File::create(&journal)
        .unwrap()
        .set_len((1 << 30) + 1)
        .unwrap();
    crate::harness::Test::new()
        .args(["sandbox", "--addr", "127.0.0.1:0", "--state"])
        .args([state.to_str().unwrap()])
        .stderr_contains("state.json.journal")
        .stderr_contains("larger than 1 GiB")
        .status(1);
}

/// Two users with one key: the key says who signs in, so the sandbox refuses to start rather
/// than sign carol's requests in as bob; the key is not shown.
#[test]
fn two_users_with_one_key_are_refused_at_start() {
    let users = ["bob", "carol"].map(|name| plotward_sandbox::User {
        username: name.to_owned(),
        api_key: "SAMEKEY1".to_owned(),
    });
    let Err(err) = plotward_sandbox::Sandbox::start(&Options {
        users: users.to_vec(),
        ..Options::default()
    }) else {
        panic!("two users with one key were accepted");
    };
    let message = err.to_string();
    assert!(
        message.contains("the users bob and carol have the same API key"),
        "{message}"
    );
    assert!(!message.contains("SAMEKEY1"), "{message}");
    crate::harness::Test::new()
        .args(["sandbox", "--addr", "127.0.0.1:0"])
        .args(["--user", "bob:SAMEKEY1", "--user", "carol:SAMEKEY1"])
        .stderr_contains("the users bob and carol have the same API key")
        .stderr_lacks("SAMEKEY1")
        .status(1);
}
