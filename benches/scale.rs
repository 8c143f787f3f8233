//! End-to-end scale benchmark: plotward against the documented Python REST recipe, on the same
//! sandbox, in the same run.
//!
//! ```sh
//! cargo bench --bench scale                       # N = 1,000, 10,000, 100,000; L = 5 ms
//! cargo bench --bench scale -- --sizes 1000 --latency-ms 5 --parallelism 1,8,32
//! ```
//!
//! For each N it starts the sandbox in-process with `--generate N` and a fixed latency L per
//! request, then measures, with the release `plotward` binary as a child process:
//!
//! - `plotward plan` (listing plus diff) wall time and peak RSS (`VmHWM`, sampled every 2 ms);
//! - `plotward apply` of a policy that changes 10% of the files (two of the twelve generated
//!   departments made private), at each parallelism, from a freshly reset sandbox;
//! - the Python recipe (`benches/python_recipe.py`) making the same changes;
//! - the ideal: pages x L / parallelism for listing, plus writes x L / parallelism for apply.
//!
//! `--org USERSxFILES` and `--org-watch USERSxFILES` measure an organization instead (many
//! accounts on one sandbox; see `scale/org.rs`), and run nothing else.
//!
//! It also measures the sandbox's own throughput with no latency, so it is known not to be the
//! bottleneck. Results are printed as a Markdown table (see BENCHMARKS.md). It asserts that
//! every run converged, never how fast it was.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use plotward_sandbox::{FaultConfig, Options, Sandbox, Seed, User};

/// The virtualenv helper, shared with the integration tests.
#[path = "../tests/support/python.rs"]
mod python;

/// The organization modes (`--org`, `--org-watch`).
#[path = "scale/org.rs"]
mod org;

const POLICY: &str = "\
version: 1
default: ignore
rules:
  - match: [\"finance/**\", \"reports/**\"]
    sharing: private
";
const PAGE_SIZE: f64 = 500.0;

struct Settings {
    sizes: Vec<usize>,
    latency_ms: u64,
    parallelism: Vec<usize>,
    python: bool,
}

fn settings() -> Settings {
    let mut settings = Settings {
        sizes: vec![1_000, 10_000, 100_000],
        latency_ms: 5,
        parallelism: vec![1, 8, 32],
        python: true,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let list = |value: &str| {
        value
            .split(',')
            .map(|n| n.trim().parse().expect("a number"))
            .collect()
    };
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--sizes" => settings.sizes = list(&args[i + 1]),
            "--latency-ms" => settings.latency_ms = args[i + 1].parse().expect("a number"),
            "--parallelism" => settings.parallelism = list(&args[i + 1]),
            "--no-python" => {
                settings.python = false;
                i += 1;
                continue;
            }
            // cargo bench passes --bench; anything else is not ours.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    settings
}

/// A finished child process: wall time, peak resident memory, CPU time, output.
struct Measured {
    seconds: f64,
    peak_mb: f64,
    /// User plus system CPU time of the process, from `/proc/PID/stat` once it has exited.
    cpu_seconds: f64,
    stdout: String,
}

/// The state letter and the user + system CPU ticks of a process, from `/proc/PID/stat`
/// (fields 3, 14 and 15; the command name in field 2 may hold spaces, so fields are counted
/// from its closing parenthesis).
fn state_and_ticks(stat: &str) -> Option<(char, u64)> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((state, utime + stime))
}

/// Runs a command, sampling its peak RSS from /proc until it exits; its CPU time is read
/// while it is a zombie (exited, not yet reaped), so none of it is missed.
fn measure(command: &mut Command) -> Measured {
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let Followed {
        status,
        high_water_kb,
        ticks,
    } = follow(&mut child);
    let seconds = started.elapsed().as_secs_f64();
    let stdout = reader.join().unwrap_or_default();
    let stderr = child
        .stderr
        .take()
        .map(|e| std::io::read_to_string(e).unwrap_or_default())
        .unwrap_or_default();
    assert!(
        status.success() || status.code() == Some(2),
        "{command:?} failed: {stderr}"
    );
    #[allow(clippy::cast_precision_loss)]
    let peak_mb = high_water_kb as f64 / 1024.0;
    // The kernel's clock ticks are 1/100 s on Linux (`getconf CLK_TCK`).
    #[allow(clippy::cast_precision_loss)]
    let cpu_seconds = ticks as f64 / 100.0;
    Measured {
        seconds,
        peak_mb,
        cpu_seconds,
        stdout,
    }
}

/// How a followed child ended: its status, peak resident memory and CPU ticks.
struct Followed {
    status: std::process::ExitStatus,
    /// The last `VmHWM` read (the kernel's high-water mark, sampled every 2 ms).
    high_water_kb: u64,
    /// User plus system CPU ticks, read while the exited process was a zombie.
    ticks: u64,
}

/// Samples a running child's `VmHWM` every 2 ms until it exits, reads its CPU time while it
/// is a zombie, then reaps it.
// The loop below ends only when `wait` or `try_wait` has reaped the child; clippy cannot see
// that through the two exits.
#[allow(clippy::zombie_processes)]
fn follow(child: &mut std::process::Child) -> Followed {
    let status_file = PathBuf::from(format!("/proc/{}/status", child.id()));
    let stat_file = PathBuf::from(format!("/proc/{}/stat", child.id()));
    let mut high_water_kb = 0u64;
    let mut ticks = 0u64;
    let status = loop {
        if let Some(kb) = status_kb(&status_file, "VmHWM:") {
            high_water_kb = high_water_kb.max(kb);
        }
        let sampled = std::fs::read_to_string(&stat_file)
            .ok()
            .and_then(|stat| state_and_ticks(&stat));
        if let Some((state, now)) = sampled {
            ticks = now;
            if state == 'Z' {
                break child.wait().expect("wait");
            }
        } else if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Followed {
        status,
        high_water_kb,
        ticks,
    }
}

/// A `KEY:   N kB` line of `/proc/PID/status`, in kB; `None` once the process has gone (a
/// zombie has no memory lines).
fn status_kb(status_file: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(status_file).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn plotward(sandbox: &Sandbox, dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plotward"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PLOTLY_API_DOMAIN", sandbox.url())
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "bench-key");
    command
}

/// A virtualenv with `requests`, made once under the target directory; `None` (the recipe
/// is left out, as with `--no-python`) when `PLOTWARD_SKIP_PYPI` is set.
fn python() -> Option<PathBuf> {
    python::venv_python("bench-venv", &["requests==2.32.3"])
}

fn reset(sandbox: &Sandbox) {
    let response = reqwest::blocking::Client::new()
        .post(format!("{}/_sandbox/reset", sandbox.url()))
        .send()
        .expect("reset");
    assert!(response.status().is_success());
}

/// Requests per second the sandbox answers with no latency, 32 connections, for 3 seconds.
fn sandbox_throughput(method: reqwest::Method) -> f64 {
    let sandbox = Sandbox::start(&Options {
        seed: Seed::Generate(10_000),
        users: vec![User {
            username: "alice".into(),
            api_key: "bench-key".into(),
        }],
        ..Options::default()
    })
    .expect("sandbox");
    let url = format!("{}/v2/files/alice:100", sandbox.url());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let count = runtime.block_on(async move {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let (client, url, method) = (client.clone(), url.clone(), method.clone());
            tasks.spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    let request = client.request(method.clone(), &url).basic_auth("alice", Some("bench-key"));
                    let request = if method == reqwest::Method::PATCH {
                        request.json(&serde_json::json!({"world_readable": false, "share_key_enabled": false}))
                    } else {
                        request
                    };
                    if request.send().await.is_ok_and(|r| r.status().is_success()) {
                        done += 1;
                    }
                }
                done
            });
        }
        let mut total = 0;
        while let Some(done) = tasks.join_next().await {
            total += done.unwrap_or(0);
        }
        total
    });
    #[allow(clippy::cast_precision_loss)]
    let rate = count as f64 / 3.0;
    rate
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "-".to_owned()
    }
}

fn main() {
    let settings = settings();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(org) = org::Org::from_args(&args) {
        let parallelism = settings.parallelism.iter().copied().max().unwrap_or(32);
        org::run(&org, settings.latency_ms, parallelism);
        return;
    }
    println!("## Sandbox throughput (no latency, 32 connections, one client core)\n");
    println!("| request | requests/s |\n| --- | --- |");
    println!(
        "| GET /v2/files/{{fid}} | {:.0} |",
        sandbox_throughput(reqwest::Method::GET)
    );
    println!(
        "| PATCH /v2/files/{{fid}} | {:.0} |\n",
        sandbox_throughput(reqwest::Method::PATCH)
    );
    let python = settings.python.then(python).flatten();
    println!(
        "## plotward vs the Python recipe, L = {} ms per request\n",
        settings.latency_ms
    );
    println!(
        "| N | step | plotward | peak RSS | CPU (user+sys) | Python recipe | ideal | plotward / Python | plotward / ideal |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for &n in &settings.sizes {
        bench_size(n, &settings, python.as_deref());
    }
}

/// What the plan of one size says: how many writes and pages, and the changes for Python.
struct Planned {
    writes: usize,
    pages: f64,
    changes_file: PathBuf,
}

fn parse_plan(plan: &Measured, dir: &Path) -> Planned {
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let summary = &json["summary"];
    let entries = ["restrict", "expose", "unchanged", "ignored"]
        .iter()
        .map(|k| summary[k].as_u64().unwrap_or(0))
        .sum::<u64>();
    let changes: Vec<serde_json::Value> = json["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| serde_json::json!({"fid": c["fid"], "world_readable": c["to"] == "public", "share_key_enabled": c["to"] == "secret"}))
        .collect();
    let changes_file = dir.join("changes.json");
    std::fs::write(&changes_file, serde_json::to_vec(&changes).expect("json")).expect("changes");
    #[allow(clippy::cast_precision_loss)]
    let pages = (entries as f64 / PAGE_SIZE).ceil();
    Planned {
        writes: changes.len(),
        pages,
        changes_file,
    }
}

/// Runs the Python recipe from a reset sandbox; returns (list, apply) seconds.
fn run_recipe(sandbox: &Sandbox, python: &Path, planned: &Planned, dir: &Path) -> (f64, f64) {
    reset(sandbox);
    let mut command = Command::new(python);
    command
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/python_recipe.py"))
        .arg(&planned.changes_file)
        .env("API", sandbox.url())
        .env("USER_NAME", "alice")
        .env("API_KEY", "bench-key");
    let run = measure(&mut command);
    let timings: serde_json::Value = serde_json::from_str(&run.stdout).expect("recipe JSON");
    let converged = measure(&mut plotward(
        sandbox,
        dir,
        &["plan", "--detailed-exitcode"],
    ));
    assert!(
        converged
            .stdout
            .lines()
            .any(|line| line.starts_with("No changes.")),
        "the recipe made the same changes"
    );
    (
        timings["list_seconds"].as_f64().unwrap_or(0.0),
        timings["apply_seconds"].as_f64().unwrap_or(0.0),
    )
}

fn bench_size(n: usize, settings: &Settings, python: Option<&Path>) {
    #[allow(clippy::cast_precision_loss)]
    let l = settings.latency_ms as f64 / 1000.0;
    let sandbox = Sandbox::start(&Options {
        seed: Seed::Generate(n),
        users: vec![User {
            username: "alice".into(),
            api_key: "bench-key".into(),
        }],
        faults: FaultConfig {
            latency_ms: settings.latency_ms,
            ..FaultConfig::default()
        },
        ..Options::default()
    })
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("plotward.yaml"), POLICY).expect("policy");
    let plan = measure(&mut plotward(
        &sandbox,
        dir.path(),
        &["plan", "--format", "json", "--parallelism", "8"],
    ));
    let planned = parse_plan(&plan, dir.path());
    let recipe = python.map(|python| run_recipe(&sandbox, python, &planned, dir.path()));
    let (pages, writes) = (planned.pages, planned.writes);
    let list_ideal = pages * l / 8.0;
    #[allow(clippy::cast_precision_loss)]
    let cpu_per_file = plan.cpu_seconds * 1e6 / n as f64;
    println!(
        "| {n} | plan ({pages} pages, p=8) | {:.3} s | {:.0} MB | {:.2} s ({:.1} µs/file) | {} | {list_ideal:.3} s | {} | {} |",
        plan.seconds,
        plan.peak_mb,
        plan.cpu_seconds,
        cpu_per_file,
        recipe.map_or("-".into(), |(list, _)| format!("{list:.3} s (list)")),
        recipe.map_or("-".into(), |(list, _)| ratio(plan.seconds, list)),
        ratio(plan.seconds, list_ideal),
    );
    for &p in &settings.parallelism {
        reset(&sandbox);
        let parallelism = p.to_string();
        let run = measure(&mut plotward(
            &sandbox,
            dir.path(),
            &["apply", "--auto-approve", "--parallelism", &parallelism],
        ));
        assert!(
            run.stdout.ends_with(&format!(
                "Apply complete: {writes} restricted, 0 exposed, 0 failed.\n"
            )),
            "apply did not complete: {}",
            run.stdout.lines().last().unwrap_or_default()
        );
        #[allow(clippy::cast_precision_loss)]
        let ideal = (pages + writes as f64) * l / p as f64;
        println!(
            "| {n} | apply {writes} changes, p={p} | {:.3} s | {:.0} MB | {:.2} s | {} | {ideal:.3} s | {} | {} |",
            run.seconds,
            run.peak_mb,
            run.cpu_seconds,
            recipe.map_or("-".into(), |(list, apply)| format!("{:.3} s", list + apply)),
            recipe.map_or("-".into(), |(list, apply)| ratio(run.seconds, list + apply)),
            ratio(run.seconds, ideal),
        );
    }
}
