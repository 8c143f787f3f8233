//! The sandbox as a crate of its own. plotward and the sandbox read the snapshot format with
//! types of their own: these tests keep the two readings from drifting apart, in both
//! directions. And the library prints nothing: what its server has to say goes to the
//! caller's sink.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use plotward::internals::Inventory;
use plotward_sandbox::{Event, Events, Options, Sandbox, Seed};

use crate::api::{Api, As, sandbox_with};
use crate::gitops::live;
use crate::harness::{Test, repo};

/// What plotward makes of snapshot text: nothing, or its error message.
fn plotward_reads(text: &str) -> Result<(), String> {
    Inventory::from_snapshot(text, Path::new("s.json")).map(drop)
}

/// What the sandbox makes of the same text.
fn sandbox_reads(text: &str) -> Result<(), String> {
    Seed::parse_snapshot(text, Path::new("s.json"))
        .map(drop)
        .map_err(|err| err.to_string())
}

/// `plotward snapshot` of a sandbox, as written to `--out`.
fn snapshot_of(sandbox: &Sandbox) -> String {
    live(sandbox)
        .args(["snapshot", "--out", "s.json"])
        .status(0)
        .read("s.json")
}

/// A snapshot without its `source`, which names the server and the time.
fn without_source(text: &str) -> Value {
    let mut snapshot: Value = serde_json::from_str(text).expect("snapshot JSON");
    snapshot
        .as_object_mut()
        .expect("an object")
        .remove("source");
    snapshot
}

/// `GET /_sandbox/state`, byte for byte.
fn dump(sandbox: &Sandbox) -> String {
    reqwest::blocking::get(format!("{}/_sandbox/state", sandbox.url()))
        .and_then(reqwest::blocking::Response::text)
        .expect("state dump")
}

/// `plotward plan --snapshot snap.json` of the example policy, which exits with `status`:
/// stdout and stderr.
fn plan_of(snapshot: &str, status: i32) -> (String, String) {
    let args = [
        "plan",
        "-p",
        "policies/example.yaml",
        "--snapshot",
        "snap.json",
    ];
    let run = Test::new()
        .copy("policies/example.yaml")
        .write("snap.json", snapshot)
        .args(args)
        .status(status);
    (run.stdout, run.stderr)
}

/// Seeds a sandbox from what `plotward snapshot` wrote of another, and checks that plotward
/// sees the same account in both, and that plotward reads the sandbox's own dump as it reads
/// its snapshot (the example policy's plan exits with `plan_status`).
fn assert_round_trip(first: &Sandbox, plan_status: i32) {
    let written = snapshot_of(first);
    let second = sandbox_with(
        Seed::parse_snapshot(&written, Path::new("s.json")).expect("a valid seed"),
        Options::default(),
    );
    assert_eq!(
        without_source(&snapshot_of(&second)),
        without_source(&written),
        "a sandbox seeded from a snapshot lists the same account"
    );
    let dumped = dump(first);
    assert_eq!(dumped, dump(&second), "both dumps are the same bytes");
    let reread =
        Inventory::from_snapshot(&dumped, Path::new("state.json")).expect("plotward reads it");
    let rewritten = reread.to_snapshot_json();
    assert_eq!(dumped, rewritten, "the dump is what plotward would write");
    assert_eq!(
        plan_of(&dumped, plan_status),
        plan_of(&written, plan_status),
        "a plan of the dump is a plan of the snapshot"
    );
}

#[test]
fn a_snapshot_of_the_example_account_seeds_the_same_account() {
    let seed = Seed::load_snapshot(&repo("examples/inventory.json")).unwrap();
    assert_round_trip(&sandbox_with(seed, Options::default()), 0);
}

#[test]
fn a_snapshot_of_a_generated_account_over_pages_seeds_the_same_account() {
    // The example policy's guardrails refuse this account's plan: exit 1, the same for both.
    assert_round_trip(&sandbox_with(Seed::Generate(1200), Options::default()), 1);
}

#[test]
fn both_readings_refuse_the_same_snapshots_in_the_same_words() {
    let file = |fid: &str, path: &str| {
        json!({"fid": fid, "path": path, "filetype": "plot",
            "world_readable": false, "share_key_enabled": true})
    };
    let snapshot = |files: Value| json!({"format_version": 1, "files": files}).to_string();
    let cases = [
        String::new(),
        "[]".to_owned(),
        "{\"format_version\": 1,\n \"files\": [{\"fid\": \"a:1\"}]}".to_owned(),
        r#"{"format_version": 2, "files": []}"#.to_owned(),
        r#"{"format_version": -1, "files": []}"#.to_owned(),
        r#"{"format_version": 1}"#.to_owned(),
        r#"{"format_version": 1, "files": [], "source": 3}"#.to_owned(),
        r#"{"format_version": 1, "files": [], "source": {"user": 3}}"#.to_owned(),
        r#"{"format_version": 1, "files": [], "listing": {"unproven": {"counted": 1}}}"#.to_owned(),
        r#"{"format_version": 1, "files": [], "listing": {"foreign_skipped": -1}}"#.to_owned(),
        r#"{"format_version": 1, "files": [], "extra": {"ignored": true}}"#.to_owned(),
        r#"{"format_version": 1, "files": [{"fid": "a:1", "path": "p", "filetype": 3,
            "world_readable": false, "share_key_enabled": false}]}"#
            .to_owned(),
        r#"{"format_version": 1, "files": [{"fid": "a:1", "path": "p", "filetype": "plot",
            "world_readable": "no", "share_key_enabled": false}]}"#
            .to_owned(),
        r#"{"format_version": 1, "files": [{"fid": "a:1", "path": "p", "filetype": "plot",
            "world_readable": false}]}"#
            .to_owned(),
        snapshot(json!([file("alice", "p")])),
        snapshot(json!([file(":1", "p")])),
        snapshot(json!([file("a:1", "")])),
        snapshot(json!([file("a:1", "/p")])),
        snapshot(json!([file("a:1", "p//q")])),
        snapshot(json!([file("a:1", &"x".repeat(4097))])),
        r#"{"format_version": 1, "files": [3]}"#.to_owned(),
        r#"{"format_version": 1, "files": [[]]}"#.to_owned(),
        r#"{"format_version": 1, "files": [], "source": ["a", 1]}"#.to_owned(),
        r#"{"format_version": 1, "files": [], "listing": [1, 2, {"counted": 1}]}"#.to_owned(),
        r#"[1, {"source": null}, {}, []]"#.to_owned(),
        r#"{"format_version": 1, "files": [], "listing": {"unproven": 3}}"#.to_owned(),
        snapshot(json!([file("a:1", "p"), file("a:1", "q")])),
        snapshot(json!([file("a:1", "x\u{202e}\n\u{1b}[2J/p")])),
        snapshot(json!([file("a:1", "p"), file("b:2", "q")])),
        format!("{} trailing", snapshot(json!([]))),
    ];
    for text in cases {
        assert_eq!(sandbox_reads(&text), plotward_reads(&text), "{text}");
    }
}

#[test]
fn a_seed_plotward_refuses_stops_the_sandbox_command_with_plotwards_message() {
    Test::new()
        .write(
            "seed.json",
            r#"{"format_version": 1, "files": [{"fid": "a:1", "path": "x\u202e/p",
                "filetype": "plot", "world_readable": false, "share_key_enabled": false}]}"#,
        )
        .args(["sandbox", "--addr", "127.0.0.1:0", "--seed", "seed.json"])
        .stderr(
            "error: seed.json: invalid snapshot: file a:1 is in folder x\\u{202e}, which the \
             snapshot does not list; a snapshot lists every folder (\"filetype\": \"fold\"), \
             because a folder's sharing reaches everything in it\n",
        )
        .status(1);
    Test::new()
        .args(["sandbox", "--addr", "127.0.0.1:0", "--seed", "missing.json"])
        .stderr(
            "error: cannot read snapshot missing.json: No such file or directory (os error 2)\n",
        )
        .status(1);
}

#[test]
fn a_failed_save_and_the_stop_it_causes_go_to_the_callers_sink() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");
    std::fs::create_dir(&state_dir).unwrap();
    let state = state_dir.join("s.json");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let events = {
        let seen = seen.clone();
        Events::new(move |event| {
            let line = match event {
                Event::Warning(message) => format!("warning: {message}"),
                Event::Stopped(err) => format!("stopped: {err}"),
                _ => "another event".to_owned(),
            };
            seen.lock().unwrap().push(line);
        })
    };
    let sandbox = sandbox_with(
        Seed::Empty,
        Options {
            state: Some(state.clone()),
            events,
            ..Options::default()
        },
    );
    // The journal stays open, so the write is acknowledged; the save after it cannot create
    // its temporary file.
    std::fs::remove_dir_all(&state_dir).unwrap();
    let reply = Api::new(&sandbox).json(
        Method::POST,
        "/v2/folders",
        As::User("alice"),
        &json!({"path": "reports"}),
    );
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let cannot_save = format!(
        "cannot save {}: No such file or directory (os error 2)",
        state.display()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        seen.lock().unwrap().first(),
        Some(&format!("warning: {cannot_save}"))
    );
    sandbox.stop();
    assert_eq!(
        seen.lock().unwrap().last(),
        Some(&format!("stopped: {cannot_save}")),
        "the final save fails too, and the background server says so"
    );
}

/// A file entry near the snapshot shape: some fields missing, mistyped or malformed.
fn near_file() -> impl Strategy<Value = Value> {
    let text = || {
        prop_oneof![
            "[a-z]{0,2}:-?[0-9]{0,2}",
            "[a-z/]{0,5}",
            Just("fold".to_owned()),
            Just("plot".to_owned()),
        ]
    };
    let field = || {
        prop_oneof![
            4 => text().prop_map(Value::from),
            2 => any::<bool>().prop_map(Value::from),
            1 => Just(Value::Null),
            1 => (-3i64..3).prop_map(Value::from),
        ]
    };
    let names = [
        "fid",
        "path",
        "filetype",
        "world_readable",
        "share_key_enabled",
    ];
    prop::collection::vec(prop::option::weighted(0.9, field()), names.len()).prop_map(
        move |values| {
            let fields = names
                .iter()
                .zip(values)
                .filter_map(|(name, value)| Some(((*name).to_owned(), value?)));
            Value::Object(fields.collect())
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the text, the sandbox accepts what plotward accepts and refuses the rest with
    /// plotward's message.
    #[test]
    fn any_text_reads_alike(text in "\\PC{0,120}") {
        prop_assert_eq!(sandbox_reads(&text), plotward_reads(&text));
    }

    /// Snapshots with files, versions and sources nearly right read alike too.
    #[test]
    fn near_valid_snapshots_read_alike(
        version in prop_oneof![4 => Just(json!(1)), 1 => Just(json!(2)), 1 => Just(json!("1"))],
        files in prop::collection::vec(near_file(), 0..6),
        source in prop_oneof![
            Just(None),
            Just(Some(json!({"user": "a"}))),
            Just(Some(json!([]))),
            Just(Some(json!(3))),
        ],
    ) {
        let mut snapshot = json!({"format_version": version, "files": files});
        if let Some(source) = source {
            snapshot["source"] = source;
        }
        let text = snapshot.to_string();
        prop_assert_eq!(sandbox_reads(&text), plotward_reads(&text), "{}", text);
    }
}
