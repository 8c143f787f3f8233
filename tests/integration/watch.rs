//! `plotward watch` as a process against the sandbox on 127.0.0.1: restricting what the
//! official Python client made public (and never exposing), the metrics read by Python's
//! reference Prometheus parser, SIGTERM in the middle of a batch of writes, a failing server
//! and its recovery, and the refusals of its arguments. Waits are bounded and count cycles
//! from the log; nothing asserts on time.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use plotward_sandbox::{FaultConfig, Options};

use crate::api::Api;
use crate::gitops::seeded_with;
use crate::harness::{ChildGuard, Test, repo};

/// chart-studio (as `interop.rs` pins it) and the reference Prometheus client's parser.
const REQUIREMENTS: [&str; 3] = [
    "chart-studio==1.1.0",
    "plotly<6",
    "prometheus-client==0.21.1",
];

/// How long any one wait may last before the test fails (a bound, not a measurement).
const BOUND: Duration = Duration::from_secs(20);

/// A policy: everything private, `public/**` public.
const POLICY: &str =
    "version: 1\ndefault: private\nrules:\n  - match: \"public/**\"\n    sharing: public\n";

/// A running `plotward watch` with its stderr collected line by line.
struct Watcher {
    guard: ChildGuard,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    dir: tempfile::TempDir,
}

impl Watcher {
    /// Starts `plotward watch -p policy.yaml --log-format json ARGS` as alice, in a fresh
    /// directory with a cleared environment.
    fn start(sandbox: &plotward_sandbox::Sandbox, policy: &str, args: &[&str]) -> Watcher {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("policy.yaml"), policy).unwrap();
        let watch = ["watch", "-p", "policy.yaml", "--log-format", "json"];
        let env = [
            ("PLOTLY_API_DOMAIN", sandbox.url()),
            ("PLOTLY_USERNAME", "alice"),
            ("PLOTLY_API_KEY", "alice-key"),
        ];
        Watcher::spawn(dir, &[&watch[..], args].concat(), &env)
    }

    /// Starts `plotward ARGS` in `dir` with a cleared environment but for `env`.
    fn spawn(dir: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> Watcher {
        Watcher::spawn_to(dir, args, env, Stdio::null())
    }

    /// [`Watcher::spawn`], its stdout to `stdout`.
    fn spawn_to(
        dir: tempfile::TempDir,
        args: &[&str],
        env: &[(&str, &str)],
        stdout: Stdio,
    ) -> Watcher {
        let mut child = Command::new(env!("CARGO_BIN_EXE_plotward"))
            .args(args)
            .current_dir(dir.path())
            .env_clear()
            .env("HOME", dir.path())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start plotward watch");
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        Watcher {
            guard: ChildGuard(child),
            lines,
            reader: Some(reader),
            dir,
        }
    }

    /// The log so far, each line parsed: every line must be one JSON object with `ts`,
    /// `level` and `event`.
    fn events(&self) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|line| {
                let value: Value = serde_json::from_str(line)
                    .unwrap_or_else(|err| panic!("not a JSON line ({err}): {line:?}"));
                for field in ["ts", "level", "event"] {
                    assert!(value[field].is_string(), "{field} missing: {line}");
                }
                value
            })
            .collect()
    }

    /// Events named `name`.
    fn named(&self, name: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == name)
            .collect()
    }

    /// A stop by signal: `stopping` is logged, and `stopped` is the loop's last line, after
    /// it (the two come from different threads).
    fn assert_stopped_in_order(&self) {
        let names: Vec<String> = self
            .events()
            .iter()
            .map(|event| event["event"].as_str().unwrap_or_default().to_owned())
            .collect();
        let stopping = names.iter().position(|name| name == "stopping");
        let stopped = names.iter().position(|name| name == "stopped");
        assert!(
            stopping.is_some() && stopped == Some(names.len() - 1) && stopping < stopped,
            "{names:?}"
        );
        // What a cycle says of the stop comes after the stop itself.
        let abandoned = names.iter().position(|name| name == "reads_abandoned");
        assert!(abandoned.is_none() || stopping < abandoned, "{names:?}");
    }

    /// Waits (bounded) until `done` holds for the log; panics with the log otherwise.
    fn wait_for(&self, what: &str, done: impl Fn(&Watcher) -> bool) {
        wait_until(
            what,
            || done(self),
            || self.lines.lock().unwrap().join("\n"),
        );
    }

    /// The metrics address from the `started` line.
    fn metrics_url(&self, path: &str) -> String {
        self.wait_for("the started line", |w| !w.named("started").is_empty());
        let started = &self.named("started")[0];
        let message = started["message"].as_str().unwrap();
        let url = message
            .split("metrics on ")
            .nth(1)
            .expect("metrics are served")
            .trim_end_matches("/metrics");
        format!("{url}{path}")
    }

    /// Sends SIGTERM and waits for the exit; returns the exit code.
    fn terminate(&mut self) -> Option<i32> {
        signal(self.guard.0.id(), "TERM");
        self.wait()
    }

    /// Waits for the exit (the log read to its end); returns the exit code.
    fn wait(&mut self) -> Option<i32> {
        let status = self.guard.0.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        status.code()
    }
}

fn signal(pid: u32, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{name}");
}

/// Polls `done` every 50 ms for at most [`BOUND`].
fn wait_until(what: &str, mut done: impl FnMut() -> bool, context: impl Fn() -> String) {
    let deadline = std::time::Instant::now() + BOUND;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting for {what}; the log:\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Alice's files (folders left out) by level, from the sandbox's own state.
fn levels(api: &Api) -> Vec<(String, String)> {
    let state = api.state();
    state["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["filetype"] != "fold" && f["fid"].as_str().unwrap().starts_with("alice:"))
        .map(|f| {
            let level = match (
                f["world_readable"].as_bool(),
                f["share_key_enabled"].as_bool(),
            ) {
                (Some(true), _) => "public",
                (_, Some(true)) => "secret",
                _ => "private",
            };
            (f["path"].as_str().unwrap().to_owned(), level.to_owned())
        })
        .collect()
}

/// The `PATCH` requests the sandbox logged (finished), as paths.
fn patches(api: &Api) -> Vec<String> {
    api.requests()
        .into_iter()
        .filter(|(method, _, _)| method == "PATCH")
        .map(|(_, path, _)| path)
        .collect()
}

fn python() -> Option<PathBuf> {
    crate::python::venv_python("watch-venv", &REQUIREMENTS)
}

/// Runs a step of `tests/python/watch_client.py` and parses its JSON.
fn client(python: &Path, env: &[(&str, &str)]) -> Value {
    let home = tempfile::tempdir().unwrap();
    let output = Command::new(python)
        .arg(repo("tests/python/watch_client.py"))
        .env_clear()
        .env("HOME", home.path())
        .env("PLOTLY_DIR", home.path())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "watch_client.py failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| panic!("JSON: {stdout}"))
}

/// The value of one sample, by sample name and labels.
fn sample(families: &Value, family: &str, name: &str, labels: &Value) -> f64 {
    families[family]["samples"]
        .as_array()
        .unwrap_or_else(|| panic!("no family {family} in {families}"))
        .iter()
        .find(|s| s[0] == name && &s[1] == labels)
        .unwrap_or_else(|| panic!("no {name} {labels} in {}", families[family]))[2]
        .as_f64()
        .unwrap()
}

#[test]
fn a_public_plot_the_python_client_makes_in_a_private_area_is_restricted_and_nothing_is_exposed() {
    let Some(python) = python() else { return };
    let sandbox = seeded_with(
        &[
            ("alice:1", "public/demo", "plot", "private"),
            ("alice:2", "team/notes", "plot", "private"),
        ],
        Options::default(),
    );
    let api = Api::new(&sandbox);
    let mut watcher = Watcher::start(
        &sandbox,
        POLICY,
        &[
            "--interval",
            "1s",
            "--auto-restrict",
            "--metrics-addr",
            "127.0.0.1:0",
            "-v",
        ],
    );
    watcher.wait_for("a first cycle", |w| !w.named("cycle").is_empty());
    client(
        &python,
        &[
            ("STEP", "create"),
            ("SANDBOX_URL", sandbox.url()),
            ("PLOTLY_USERNAME", "alice"),
            ("PLOTLY_API_KEY", "alice-key"),
            ("FILENAME", "team/drafts/new-chart"),
        ],
    );
    // Cycles that had ended before the plot existed; the one running may have listed before.
    let before = watcher.named("cycle").len();
    wait_until(
        "the new plot to be private",
        || {
            levels(&api)
                .iter()
                .filter(|(path, _)| path.starts_with("team/drafts/"))
                .all(|(_, level)| level == "private")
        },
        || watcher.lines.lock().unwrap().join("\n"),
    );
    let cycles = watcher.named("cycle");
    let restricting = cycles
        .iter()
        .position(|c| c["writes"]["applied"].as_u64() > Some(0))
        .expect("a cycle applied the restriction")
        + 1;
    assert!(
        restricting <= before + 2,
        "restricted in cycle {restricting}, the plot was made after cycle {before}"
    );
    let restricted: Vec<Value> = watcher
        .named("pending")
        .into_iter()
        .filter(|p| p["change"]["direction"] == "restrict")
        .collect();
    // What the client made is what watch saw before restricting it: read back from the
    // sandbox instead, the plot may already be private (watch runs every second).
    let made_public: std::collections::BTreeSet<&str> = restricted
        .iter()
        .filter(|p| {
            p["change"]["path"]
                .as_str()
                .is_some_and(|path| path.starts_with("team/drafts/"))
                && p["change"]["from"] == "public"
        })
        .filter_map(|p| p["change"]["fid"].as_str())
        .collect();
    assert!(
        restricted
            .iter()
            .any(|p| p["change"]["path"] == "team/drafts/new-chart"
                && p["change"]["from"] == "public"),
        "the client made a public plot and watch restricted it: {restricted:?}"
    );
    // The exposure the policy wants is only reported, never written.
    assert!(
        watcher
            .named("pending")
            .iter()
            .any(|p| p["change"]["path"] == "public/demo" && p["change"]["withheld"] == true)
    );
    assert!(
        !patches(&api).iter().any(|path| path.ends_with("/alice:1")),
        "watch wrote public/demo: {:?}",
        patches(&api)
    );
    assert!(levels(&api).contains(&("public/demo".into(), "private".into())));

    check_metrics(&python, &watcher, &api, made_public.len());
    assert_eq!(watcher.terminate(), Some(0));
    let stopping = watcher.named("stopping");
    assert!(
        stopping[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("SIGTERM received")
    );
    assert_eq!(watcher.named("stopped").len(), 1);
    watcher.assert_stopped_in_order();
}

/// A count as a sample value.
fn float(n: usize) -> f64 {
    f64::from(u32::try_from(n).unwrap())
}

/// The metrics, read by Python's reference parser, agree with the sandbox: files by level,
/// the writes made, the exposure pending, the requests; and `/healthz` is 200.
fn check_metrics(python: &Path, watcher: &Watcher, api: &Api, made_public: usize) {
    let metrics_url = watcher.metrics_url("/metrics");
    let next = watcher.named("cycle").len() + 1;
    watcher.wait_for("a cycle after the restriction", |w| {
        w.named("cycle").len() > next
    });
    let read = client(
        python,
        &[("STEP", "metrics"), ("METRICS_URL", &metrics_url)],
    );
    assert!(
        read["content_type"]
            .as_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{read}"
    );
    let families = &read["families"];
    for (level, files) in [("public", 0), ("secret", 0), ("private", levels(api).len())] {
        let labels = json!({"account": "alice", "sharing": level});
        let value = sample(families, "plotward_files", "plotward_files", &labels);
        assert!(
            (value - float(files)).abs() < 0.5,
            "{level}: {value} != {files}"
        );
    }
    assert_eq!(families["plotward_writes"]["type"], "counter");
    let applied = sample(
        families,
        "plotward_writes",
        "plotward_writes_total",
        &json!({"account": "alice", "result": "applied"}),
    );
    let made_public = float(made_public);
    assert!(applied >= made_public, "{applied} writes for {made_public}");
    let pending = |direction: &str| {
        sample(
            families,
            "plotward_pending_changes",
            "plotward_pending_changes",
            &json!({"account": "alice", "direction": direction}),
        )
    };
    assert!((pending("expose") - 1.0).abs() < 0.5 && pending("restrict").abs() < 0.5);
    let up = json!({"account": "alice"});
    assert!((sample(families, "plotward_up", "plotward_up", &up) - 1.0).abs() < 0.5);
    assert!(
        sample(
            families,
            "plotward_api_requests",
            "plotward_api_requests_total",
            &json!({"account": "alice", "method": "PATCH", "status": "200"}),
        ) >= made_public
    );
    let health = reqwest::blocking::get(watcher.metrics_url("/healthz")).unwrap();
    assert_eq!(health.status(), reqwest::StatusCode::OK);
    assert!(health.text().unwrap().starts_with("ok: "));
}

/// A cycle whose writes fail says which failed first and why, not only how many.
#[test]
fn a_cycle_whose_writes_fail_names_the_first_and_the_servers_reason() {
    let sandbox = seeded_with(
        &[("alice:1", "team/chart", "plot", "public")],
        Options {
            faults: FaultConfig {
                fail_writes_to: vec!["alice:1".into()],
                ..FaultConfig::default()
            },
            ..Options::default()
        },
    );
    let mut watcher = Watcher::start(
        &sandbox,
        POLICY,
        &[
            "--interval",
            "1s",
            "--auto-restrict",
            "--metrics-addr",
            "off",
            "--retries",
            "0",
        ],
    );
    watcher.wait_for("a cycle", |w| !w.named("cycle").is_empty());
    let cycle = &watcher.named("cycle")[0];
    assert_eq!(cycle["writes"]["failed"], 1, "{cycle}");
    let failure = cycle["writes"]["first_failure"].as_str().unwrap();
    assert!(
        failure.starts_with("team/chart: HTTP 500: ")
            && failure.contains("Uh oh, an error occurred on the server."),
        "{failure}"
    );
    assert_eq!(watcher.terminate(), Some(0));
}

#[test]
fn sigterm_in_the_middle_of_a_batch_lets_writes_in_flight_finish_and_starts_none() {
    let files: Vec<(String, String)> = (1..=30)
        .map(|i| (format!("alice:{i}"), format!("team/plot-{i:02}")))
        .collect();
    let seed: Vec<(&str, &str, &str, &str)> = files
        .iter()
        .map(|(fid, path)| (fid.as_str(), path.as_str(), "plot", "public"))
        .collect();
    let sandbox = seeded_with(
        &seed,
        Options {
            faults: FaultConfig {
                latency_ms: 150,
                ..FaultConfig::default()
            },
            ..Options::default()
        },
    );
    let api = Api::new(&sandbox);
    let mut watcher = Watcher::start(
        &sandbox,
        POLICY,
        &[
            "--interval",
            "1s",
            "--auto-restrict",
            "--parallelism",
            "2",
            "--metrics-addr",
            "off",
            "--audit-log",
            "audit.jsonl",
        ],
    );
    let audit = watcher.dir.path().join("audit.jsonl");
    wait_until(
        "the first writes",
        || !patches(&api).is_empty(),
        || watcher.lines.lock().unwrap().join("\n"),
    );
    signal(watcher.guard.0.id(), "TERM");
    // The stop is logged once the client is halted: from then on no write starts, and at
    // most --parallelism writes are still in flight.
    watcher.wait_for("the stopping line", |w| !w.named("stopping").is_empty());
    let at_stop = patches(&api).len();
    assert_eq!(watcher.wait(), Some(0));
    let written = patches(&api).len();
    assert!(
        written <= at_stop + 2,
        "{written} PATCHes in all, {at_stop} when the stop was logged"
    );
    assert!(written < files.len(), "the batch was cut short: {written}");
    let cycle = &watcher.named("cycle")[0];
    assert_eq!(cycle["level"], "warn");
    assert_eq!(cycle["writes"]["applied"].as_u64(), Some(written as u64));
    assert_eq!(
        cycle["writes"]["not_applied"].as_u64(),
        Some((files.len() - written) as u64)
    );
    assert!(
        cycle["writes"]["stopped"]
            .as_str()
            .unwrap()
            .contains("SIGTERM"),
        "{cycle}"
    );
    assert_eq!(watcher.named("stopped").len(), 1);
    watcher.assert_stopped_in_order();
    // Every write made is in the audit log, flushed before the exit, and every `started`
    // line is ended: `applied` for a write made, `not_sent` for one the halt refused before
    // it went out (at most one per writer), never left open for an auditor to guess.
    let audit = std::fs::read_to_string(audit).unwrap();
    let lines: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    let count = |what: &str| lines.iter().filter(|l| l["outcome"] == what).count();
    assert_eq!(count("applied"), written, "{audit}");
    assert!(count("not_sent") <= 2, "{audit}");
    assert_eq!(
        count("started"),
        count("applied") + count("not_sent"),
        "{audit}"
    );
    let patched = patches(&api);
    for unsent in lines.iter().filter(|l| l["outcome"] == "not_sent") {
        let fid = unsent["fid"].as_str().unwrap();
        assert!(
            !patched
                .iter()
                .any(|path| path.ends_with(&format!("/{fid}"))),
            "{fid} is not_sent but was written: {audit}"
        );
        assert!(
            unsent["message"].as_str().unwrap().contains("SIGTERM"),
            "{unsent}"
        );
    }
}

#[test]
fn sigterm_while_a_listing_hangs_abandons_the_read_and_exits_long_before_the_timeout() {
    // A server that answers the credentials check, then never answers the listing.
    let server = crate::hostile::Server::api("127.0.0.1", |_| crate::hostile::Reply::Hang);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.yaml"), POLICY).unwrap();
    let url = server.url();
    let mut watcher = Watcher::spawn(
        dir,
        &[
            "watch",
            "-p",
            "policy.yaml",
            "--log-format",
            "json",
            "--interval",
            "1s",
            "--metrics-addr",
            "off",
            "--timeout",
            "120",
        ],
        &[
            ("PLOTLY_API_DOMAIN", &url),
            ("PLOTLY_USERNAME", "alice"),
            ("PLOTLY_API_KEY", "alice-key"),
        ],
    );
    wait_until(
        "the listing in flight",
        || {
            server
                .requests()
                .iter()
                .any(|r| r.path() != crate::hostile::CURRENT_USER)
        },
        || watcher.lines.lock().unwrap().join("\n"),
    );
    let sent = std::time::Instant::now();
    assert_eq!(watcher.terminate(), Some(0));
    // Waiting for the read would take the 120 s timeout (or the 60 s the server hangs at
    // most): the bound only tells the two apart.
    assert!(
        sent.elapsed() < Duration::from_secs(40),
        "the read was waited for: {:?}",
        sent.elapsed()
    );
    let abandoned = watcher.named("reads_abandoned");
    assert_eq!(abandoned.len(), 1, "{:?}", watcher.events());
    assert_eq!(abandoned[0]["account"], "alice");
    assert!(
        abandoned[0]["message"]
            .as_str()
            .unwrap()
            .contains("the requests in flight were abandoned, nothing was written"),
        "{}",
        abandoned[0]
    );
    assert!(
        watcher.named("cycle_failed").is_empty(),
        "{:?}",
        watcher.events()
    );
    let stopped = watcher.named("stopped");
    assert_eq!(stopped.len(), 1);
    // The only cycle was abandoned: none ran to its end.
    assert_eq!(
        stopped[0]["message"], "watch ends after 0 cycles",
        "{}",
        stopped[0]
    );
    watcher.assert_stopped_in_order();
}

/// `--audit-log -`: the audit lines on stdout, where a container's logs are kept (the
/// Kubernetes example's choice), and nothing else there; apply, whose report is on stdout,
/// refuses it.
#[test]
fn the_audit_trail_can_go_to_stdout_for_a_container_to_keep() {
    let sandbox = seeded_with(
        &[("alice:1", "team/plot", "plot", "public")],
        Options::default(),
    );
    let api = Api::new(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.yaml"), POLICY).unwrap();
    let stdout_path = dir.path().join("stdout.jsonl");
    let stdout = std::fs::File::create(&stdout_path).unwrap();
    let url = sandbox.url();
    let mut watcher = Watcher::spawn_to(
        dir,
        &[
            "watch",
            "-p",
            "policy.yaml",
            "--log-format",
            "json",
            "--interval",
            "1s",
            "--auto-restrict",
            "--metrics-addr",
            "off",
            "--audit-log",
            "-",
        ],
        &[
            ("PLOTLY_API_DOMAIN", url),
            ("PLOTLY_USERNAME", "alice"),
            ("PLOTLY_API_KEY", "alice-key"),
        ],
        Stdio::from(stdout),
    );
    watcher.wait_for("a cycle", |w| !w.named("cycle").is_empty());
    assert_eq!(watcher.terminate(), Some(0));
    assert_eq!(patches(&api).len(), 1);
    let audit = std::fs::read_to_string(&stdout_path).unwrap();
    let lines: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["fid"] == "alice:1" && l["outcome"].is_string()),
        "{audit}"
    );
    assert!(lines.iter().any(|l| l["outcome"] == "applied"), "{audit}");
    assert!(!std::path::Path::new("-").exists());
    crate::gitops::live(&sandbox)
        .policy(POLICY)
        .args(["apply", "--auto-approve", "--audit-log", "-"])
        .stderr_contains(
            "cannot write -: apply prints its report on stdout; give the audit log a file",
        )
        .status(1);
}

#[test]
fn a_failing_server_keeps_the_loop_alive_backs_off_in_the_metrics_and_recovers() {
    let sandbox = seeded_with(
        &[("alice:1", "team/notes", "plot", "private")],
        Options::default(),
    );
    let api = Api::new(&sandbox);
    let mut watcher = Watcher::start(
        &sandbox,
        POLICY,
        &[
            "--interval",
            "1s",
            "--retries",
            "0",
            "--metrics-addr",
            "127.0.0.1:0",
        ],
    );
    watcher.wait_for("a first cycle", |w| !w.named("cycle").is_empty());
    api.faults(&json!({"fail_rate": 1.0}));
    watcher.wait_for("two failed cycles", |w| w.named("cycle_failed").len() >= 2);
    let failed = watcher.named("cycle_failed");
    assert_eq!(failed[0]["level"], "error");
    assert_eq!(failed[1]["failures"], 2);
    assert_eq!(failed[1]["retry_in_seconds"], 4.0);
    assert!(
        failed[1]["error"].as_str().unwrap().contains("500"),
        "{}",
        failed[1]
    );
    let metrics = reqwest::blocking::get(watcher.metrics_url("/metrics"))
        .unwrap()
        .text()
        .unwrap();
    for line in [
        "plotward_consecutive_failures{account=\"alice\"} 2",
        "plotward_backoff_seconds{account=\"alice\"} 3.0",
        "plotward_up{account=\"alice\"} 0",
        "plotward_cycles_total{account=\"alice\",result=\"failed\"} 2",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in:\n{metrics}"
        );
    }
    assert!(
        metrics.contains(
            "plotward_api_requests_total{account=\"alice\",method=\"GET\",status=\"500\"}"
        )
    );
    // A failing server is not a stuck loop: /healthz stays 200.
    let health = reqwest::blocking::get(watcher.metrics_url("/healthz")).unwrap();
    assert_eq!(health.status(), reqwest::StatusCode::OK);

    api.faults(&json!({}));
    let failures = watcher.named("cycle_failed").len();
    watcher.wait_for("a cycle after the failures", |w| {
        w.events()
            .iter()
            .skip_while(|e| e["event"] != "cycle_failed")
            .any(|e| e["event"] == "cycle")
    });
    assert!(watcher.named("cycle_failed").len() <= failures + 1);
    let metrics = reqwest::blocking::get(watcher.metrics_url("/metrics"))
        .unwrap()
        .text()
        .unwrap();
    for line in [
        "plotward_consecutive_failures{account=\"alice\"} 0",
        "plotward_backoff_seconds{account=\"alice\"} 0.0",
        "plotward_up{account=\"alice\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in:\n{metrics}"
        );
    }
    assert_eq!(watcher.terminate(), Some(0));
    assert!(
        patches(&api).is_empty(),
        "without --auto-restrict nothing is written"
    );
}

#[test]
fn watch_refuses_intervals_and_addresses_it_cannot_keep() {
    let refused = |args: &[&str], message: &str| {
        Test::new()
            .policy(POLICY)
            .env("PLOTLY_API_DOMAIN", "http://127.0.0.1:9")
            .env("PLOTLY_USERNAME", "alice")
            .env("PLOTLY_API_KEY", "alice-key")
            .args(["watch"])
            .args(args)
            .stderr_contains(message)
            .status(1);
    };
    refused(
        &["--interval", "500ms"],
        "error: --interval `500ms` is shorter than the shortest interval, 1s",
    );
    refused(
        &["--interval", "2d"],
        "error: --interval `2d` is longer than the longest interval, 24h",
    );
    refused(&["--interval", "often"], "`often` is not a duration");
    refused(
        &["--metrics-addr", "0.0.0.0:9464"],
        "--metrics-addr 0.0.0.0:9464 is not a loopback address",
    );
    refused(
        &["--metrics-addr", "\u{1b}[2J"],
        "--metrics-addr `\\e[2J` is not an address",
    );
    refused(&["--max-writes", "0"], "--max-writes must be at least 1");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    refused(
        &["--metrics-addr", &addr],
        &format!("error: cannot serve metrics on {addr}: "),
    );
}

#[test]
fn sighup_reads_the_policy_again_and_keeps_the_old_one_when_the_new_one_is_broken() {
    let sandbox = seeded_with(
        &[
            ("alice:1", "public/demo", "plot", "public"),
            ("alice:2", "team/notes", "plot", "private"),
        ],
        Options::default(),
    );
    // A rule plotward warns about: in JSON, the warning is an event like any other line.
    let warned = format!("{POLICY}  - match: \"caf?/[é]x\"\n    sharing: public\n");
    let mut watcher = Watcher::start(
        &sandbox,
        &warned,
        &["--interval", "1h", "--metrics-addr", "off"],
    );
    watcher.wait_for("a first cycle", |w| w.named("cycle").len() == 1);
    let warning = &watcher.named("warning")[0];
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .contains("beside non-ASCII text"),
        "{warning}"
    );
    assert_eq!(watcher.named("cycle")[0]["counts"]["restrict"], 0);
    let policy = watcher.dir.path().join("policy.yaml");
    std::fs::write(&policy, "version: 1\ndefault: privat\n").unwrap();
    signal(watcher.guard.0.id(), "HUP");
    watcher.wait_for("the failed reload", |w| {
        !w.named("reload_failed").is_empty()
    });
    let failed = &watcher.named("reload_failed")[0];
    assert_eq!(failed["level"], "warn");
    assert!(
        failed["error"].as_str().unwrap().contains("privat"),
        "{failed}"
    );
    // The policy in force stays: the cycle after the reload still wants nothing restricted.
    watcher.wait_for("a cycle after it", |w| w.named("cycle").len() == 2);
    assert_eq!(watcher.named("cycle")[1]["counts"]["restrict"], 0);
    std::fs::write(&policy, "version: 1\ndefault: private\n").unwrap();
    signal(watcher.guard.0.id(), "HUP");
    watcher.wait_for("a cycle under the new policy", |w| {
        w.named("cycle").len() == 3
    });
    assert_eq!(watcher.named("reloaded").len(), 1);
    assert_eq!(watcher.named("cycle")[2]["counts"]["restrict"], 1);
    assert_eq!(watcher.terminate(), Some(0));
}

#[test]
fn a_rejected_key_fails_each_cycle_without_ever_showing_the_key() {
    let sandbox = seeded_with(
        &[("alice:1", "team/notes", "plot", "private")],
        Options::default(),
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.yaml"), POLICY).unwrap();
    let mut child = ChildGuard(
        Command::new(env!("CARGO_BIN_EXE_plotward"))
            .args([
                "watch",
                "-p",
                "policy.yaml",
                "--interval",
                "1s",
                "--retries",
                "0",
            ])
            .args(["--metrics-addr", "127.0.0.1:0"])
            .current_dir(dir.path())
            .env_clear()
            .env("HOME", dir.path())
            .env("PLOTLY_API_DOMAIN", sandbox.url())
            .env("PLOTLY_USERNAME", "alice")
            .env("PLOTLY_API_KEY", "wrong-key-c4f7e2")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = child.0.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let started = lines.next().unwrap().unwrap();
    let url = started.split("metrics on ").nth(1).unwrap().to_owned();
    let failures: Vec<String> = lines
        .by_ref()
        .map(Result::unwrap)
        .filter(|l| l.contains(" ERROR cycle_failed: "))
        .take(2)
        .collect();
    assert!(failures[1].contains("(2 in a row)"), "{failures:?}");
    let metrics = reqwest::blocking::get(&url).unwrap().text().unwrap();
    assert!(metrics.contains("status=\"401\""), "{metrics}");
    signal(child.0.id(), "TERM");
    assert_eq!(child.0.wait().unwrap().code(), Some(0));
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    for text in failures.iter().chain(&rest).chain([&started, &metrics]) {
        assert!(!text.contains("wrong-key-c4f7e2"), "the key leaked: {text}");
    }
}

#[test]
fn one_watch_restricts_several_accounts_and_a_bad_key_fails_only_its_own() {
    let files = json!({"format_version": 1, "files": [
        {"fid": "alice:1", "path": "report", "filetype": "plot", "world_readable": true, "share_key_enabled": false},
        {"fid": "bob:1", "path": "budget", "filetype": "plot", "world_readable": true, "share_key_enabled": false},
        {"fid": "carol:1", "path": "notes", "filetype": "plot", "world_readable": true, "share_key_enabled": false},
    ]});
    let sandbox = crate::accounts::with_users(&files, &["alice", "bob", "carol"]);
    let api = Api::new(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    for user in ["alice", "bob", "carol"] {
        let policy = format!(
            "version: 1\ndefault: private\naccount:\n  user: {user}\n  server: {}\n  api_key_env: KEY_{}\n",
            sandbox.url(),
            user.to_uppercase()
        );
        std::fs::write(dir.path().join(format!("{user}.yaml")), policy).unwrap();
    }
    let args = [
        "watch",
        "-p",
        "alice.yaml",
        "bob.yaml",
        "carol.yaml",
        "--log-format",
        "json",
        "--interval",
        "1s",
        "--auto-restrict",
        "--metrics-addr",
        "127.0.0.1:0",
    ];
    let env = [
        ("PLOTLY_API_DOMAIN", sandbox.url()),
        ("KEY_ALICE", "alice-key"),
        ("KEY_BOB", "bob-key"),
        ("KEY_CAROL", "not-carols-key"),
    ];
    let mut watcher = Watcher::spawn(dir, &args, &env);
    let private = |fid: &str| {
        api.state()["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["fid"] == fid && f["world_readable"] == false)
    };
    wait_until(
        "alice's and bob's files to be private",
        || private("alice:1") && private("bob:1"),
        || watcher.lines.lock().unwrap().join("\n"),
    );
    watcher.wait_for("carol's cycle to fail", |w| {
        w.named("cycle_failed")
            .iter()
            .any(|e| e["account"] == "carol")
    });
    // Carol's key was refused: her file stays as it was, and only her account is down.
    assert!(!private("carol:1"));
    let started = &watcher.named("started")[0];
    let message = started["message"].as_str().unwrap();
    assert!(
        message.starts_with("watching 3 accounts (alice, bob, carol) under 3 policy files"),
        "{message}"
    );
    let metrics = reqwest::blocking::get(watcher.metrics_url("/metrics"))
        .unwrap()
        .text()
        .unwrap();
    for line in [
        "plotward_up{account=\"alice\"} 1",
        "plotward_up{account=\"bob\"} 1",
        "plotward_up{account=\"carol\"} 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
    assert_eq!(watcher.terminate(), Some(0));
    let log = watcher.lines.lock().unwrap().join("\n");
    for key in ["alice-key", "bob-key", "not-carols-key"] {
        assert!(!log.contains(key), "{key} in the log");
        assert!(!metrics.contains(key), "{key} in the metrics");
    }
}

#[test]
fn a_reload_that_names_another_account_is_refused_and_the_account_watched_stays() {
    let files = json!({"format_version": 1, "files": [
        {"fid": "alice:1", "path": "report", "filetype": "plot", "world_readable": false, "share_key_enabled": false},
        {"fid": "bob:1", "path": "budget", "filetype": "plot", "world_readable": true, "share_key_enabled": false},
    ]});
    let sandbox = crate::accounts::with_users(&files, &["alice", "bob"]);
    let api = Api::new(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    let policy_of = |user: &str| {
        format!(
            "version: 1\ndefault: private\naccount:\n  user: {user}\n  server: {}\n  api_key_env: KEY_{}\n",
            sandbox.url(),
            user.to_uppercase()
        )
    };
    let policy = dir.path().join("team.yaml");
    std::fs::write(&policy, policy_of("alice")).unwrap();
    let args = [
        "watch",
        "-p",
        "team.yaml",
        "--log-format",
        "json",
        "--interval",
        "1h",
        "--auto-restrict",
        "--metrics-addr",
        "off",
    ];
    let env = [
        ("PLOTLY_API_DOMAIN", sandbox.url()),
        ("KEY_ALICE", "alice-key"),
        ("KEY_BOB", "bob-key"),
    ];
    let mut watcher = Watcher::spawn(dir, &args, &env);
    watcher.wait_for("a first cycle", |w| w.named("cycle").len() == 1);
    std::fs::write(&policy, policy_of("bob")).unwrap();
    signal(watcher.guard.0.id(), "HUP");
    watcher.wait_for("the refused reload", |w| {
        !w.named("reload_failed").is_empty()
    });
    let failed = &watcher.named("reload_failed")[0];
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("names another account"),
        "{failed}"
    );
    // The next cycle is still alice's: bob's public file is not touched under her label.
    watcher.wait_for("a cycle after it", |w| w.named("cycle").len() == 2);
    assert_eq!(watcher.named("cycle")[1]["account"], "alice");
    assert!(patches(&api).is_empty(), "{:?}", patches(&api));
    assert_eq!(watcher.terminate(), Some(0));
}

/// A file named with ESC, BEL, U+202E and U+200B reads in the JSON log, once decoded (as
/// `jq -r` prints it), as the text log shows it: each one a visible escape.
#[test]
fn json_log_fields_show_a_hostile_name_escaped() {
    let name = "a\u{1b}[31mb\u{7}c\u{202e}d\u{200b}e";
    let sandbox = seeded_with(&[("alice:1", name, "plot", "public")], Options::default());
    let mut watcher = Watcher::start(
        &sandbox,
        POLICY,
        &["--interval", "1h", "--metrics-addr", "off", "-v"],
    );
    watcher.wait_for("a first cycle", |w| w.named("cycle").len() == 1);
    let pending = &watcher.named("pending")[0];
    let shown = "a\\e[31mb\\u{7}c\\u{202e}d\\u{200b}e";
    assert_eq!(pending["change"]["path"], shown, "{pending}");
    let message = pending["message"].as_str().unwrap();
    assert!(message.contains(shown), "{message}");
    for event in watcher.events() {
        let decoded = event.to_string();
        assert!(
            !decoded.contains('\u{1b}') && !decoded.contains('\u{202e}'),
            "{decoded}"
        );
        for field in ["message", "error"] {
            if let Some(text) = event[field].as_str() {
                assert!(
                    !text
                        .chars()
                        .any(|c| c.is_control() || c == '\u{202e}' || c == '\u{200b}'),
                    "{text:?}"
                );
            }
        }
    }
    assert_eq!(watcher.terminate(), Some(0));
}
