//! The organization-scale modes of the scale benchmark (issue 14): one sandbox holding many
//! generated users with derived keys, one policy per user, and the release `plotward` over all
//! of them at once.
//!
//! ```sh
//! cargo bench --bench scale -- --org 1000x1000 --latency-ms 20 --parallelism 32
//! cargo bench --bench scale -- --org-watch 1000x1000 --cycles 100 --latency-ms 20 --parallelism 32
//! ```
//!
//! `--org USERSxFILES` times `plan --format json` and `check --format json` (each written to a
//! file in the temporary directory, parsed afterwards for its totals) against the latency
//! ideal of the same run: the API requests the sandbox served (counted from its request log)
//! x L / parallelism; then `plan` again at L = 0, the floor the machine's CPU sets. `--org-watch USERSxFILES` runs `watch` (read-only, no
//! `--auto-restrict`) until every account has finished `--cycles` cycles and reports the
//! resident memory sampled after each round. Like the rest of the benchmark it asserts that
//! every run completed, never how fast it was.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use plotward_sandbox::{FaultConfig, Options, Sandbox, Seed, derived_key, generated_username};
use serde::Deserialize;

use super::{Followed, follow, state_and_ticks, status_kb};

/// The secret of the sandbox's derived keys (`--user-keys derived:SECRET`).
const KEY_SECRET: &str = "orgbench";

/// What an organization run measures.
pub(crate) struct Org {
    users: usize,
    files: usize,
    /// `Some(cycles)` for `--org-watch`, `None` for `--org` (plan and check).
    watch_cycles: Option<usize>,
}

impl Org {
    /// `--org USERSxFILES` or `--org-watch USERSxFILES` (with `--cycles N`, default 100), if
    /// either was given.
    pub(crate) fn from_args(args: &[String]) -> Option<Org> {
        let value = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
        };
        let (shape, watch) = match (value("--org"), value("--org-watch")) {
            (None, None) => return None,
            (Some(shape), None) => (shape, false),
            (None, Some(shape)) => (shape, true),
            (Some(_), Some(_)) => panic!("--org and --org-watch are separate runs"),
        };
        let (users, files) = shape.split_once('x').expect("USERSxFILES, as in 1000x1000");
        let cycles = value("--cycles").map_or(100, |c| c.parse().expect("--cycles N"));
        Some(Org {
            users: users.parse().expect("a number of users"),
            files: files.parse().expect("a number of files per user"),
            watch_cycles: watch.then_some(cycles),
        })
    }
}

/// Starts the organization's sandbox, writes its policies and runs the chosen mode.
pub(crate) fn run(org: &Org, latency_ms: u64, parallelism: usize) {
    println!("machine load before the sandbox starts: {}", load());
    let starting = Instant::now();
    let sandbox = Sandbox::start(&Options {
        seed: Seed::GenerateUsers {
            users: org.users,
            files: org.files,
        },
        key_secret: Some(KEY_SECRET.to_owned()),
        faults: FaultConfig {
            latency_ms,
            ..FaultConfig::default()
        },
        ..Options::default()
    })
    .expect("sandbox");
    println!(
        "sandbox: {} users x {} files, ready in {:.1} s, L = {latency_ms} ms, p = {parallelism}\n",
        org.users,
        org.files,
        starting.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().expect("temporary directory");
    let policies = write_policies(dir.path(), sandbox.url(), org.users);
    let run = Run {
        sandbox: &sandbox,
        dir: dir.path(),
        policies: &policies,
        users: org.users,
        latency_ms,
        parallelism,
    };
    match org.watch_cycles {
        None => bench_plan_and_check(&run, org.files),
        Some(cycles) => bench_watch(&run, cycles),
    }
}

/// One organization run's fixed parts.
struct Run<'a> {
    sandbox: &'a Sandbox,
    dir: &'a Path,
    /// The policy files, relative to `dir`, in user order.
    policies: &'a [String],
    users: usize,
    latency_ms: u64,
    parallelism: usize,
}

impl Run<'_> {
    /// `plotward ARGS --parallelism P -p POLICY...` in the policies' directory, with nothing
    /// of the bench's environment but the configured server (which the policies' `server:`
    /// must be) and one key variable per account.
    fn plotward(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_plotward"));
        command
            .args(args)
            .args(["--parallelism", &self.parallelism.to_string()])
            .current_dir(self.dir)
            .env_clear()
            .env("PLOTLY_API_DOMAIN", self.sandbox.url());
        for policy in self.policies {
            command.args(["-p", policy]);
        }
        for n in 1..=self.users {
            command.env(
                key_variable(n),
                derived_key(KEY_SECRET, &generated_username(n)),
            );
        }
        command
    }
}

fn key_variable(n: usize) -> String {
    format!("PLOTLY_KEY_{n}")
}

/// One policy per user: everything private, so the generator's public and secret files (six
/// in ten) are changes, and the account's key from its own variable.
fn write_policies(dir: &Path, server: &str, users: usize) -> Vec<String> {
    (1..=users)
        .map(|n| {
            let user = generated_username(n);
            let name = format!("{user}.yaml");
            let policy = format!(
                "version: 1\ndefault: private\naccount:\n  user: {user}\n  server: {server}\n  api_key_env: {}\n",
                key_variable(n)
            );
            std::fs::write(dir.join(&name), policy).expect("policy");
            name
        })
        .collect()
}

/// The one-minute, five-minute and fifteen-minute load averages.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".to_owned(),
        |text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        },
    )
}

/// CPU ticks spent by this process's threads other than the calling one: the sandbox's
/// runtime (and, negligibly, the thread reading the child's stderr), not the sampler.
fn other_threads_ticks() -> u64 {
    let ticks = |file: &str| {
        std::fs::read_to_string(file)
            .ok()
            .and_then(|stat| state_and_ticks(&stat))
            .map_or(0, |(_, ticks)| ticks)
    };
    ticks("/proc/self/stat").saturating_sub(ticks("/proc/thread-self/stat"))
}

fn seconds_of(ticks: u64) -> f64 {
    // The kernel's clock ticks are 1/100 s on Linux (`getconf CLK_TCK`).
    #[allow(clippy::cast_precision_loss)]
    let seconds = ticks as f64 / 100.0;
    seconds
}

fn megabytes(kb: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let mb = kb as f64 / 1024.0;
    mb
}

/// The API requests the sandbox logged since it was last cleared, by kind.
#[derive(Default)]
struct Served {
    total: usize,
    credentials: usize,
    listing: usize,
    /// Answers other than 2xx.
    failed: usize,
}

#[derive(Deserialize)]
struct RequestLog {
    requests: Vec<LoggedRequest>,
    dropped: u64,
}

#[derive(Deserialize)]
struct LoggedRequest {
    path: String,
    status: u16,
}

fn clear_requests(sandbox: &Sandbox) {
    let response = reqwest::blocking::Client::new()
        .delete(format!("{}/_sandbox/requests", sandbox.url()))
        .send()
        .expect("clear the request log");
    assert!(response.status().is_success());
}

fn served(sandbox: &Sandbox) -> Served {
    let log: RequestLog = reqwest::blocking::Client::new()
        .get(format!("{}/_sandbox/requests", sandbox.url()))
        .send()
        .and_then(reqwest::blocking::Response::json)
        .expect("the request log");
    assert_eq!(
        log.dropped, 0,
        "the request log overflowed: the count would be short"
    );
    let mut served = Served {
        total: log.requests.len(),
        ..Served::default()
    };
    for request in &log.requests {
        if request.path == "/v2/users/current" {
            served.credentials += 1;
        } else {
            served.listing += 1;
        }
        if !(200..300).contains(&request.status) {
            served.failed += 1;
        }
    }
    served
}

/// A timed one-shot run: wall time, the child's peak RSS and CPU, the sandbox's CPU.
struct Timed {
    seconds: f64,
    peak_mb: f64,
    cpu_seconds: f64,
    sandbox_cpu_seconds: f64,
    load_after: String,
}

/// Runs `command` with stdout into `out`; stderr is kept and shown if it fails.
fn timed(mut command: Command, out: &Path) -> Timed {
    let stdout = std::fs::File::create(out).expect("output file");
    let before = other_threads_ticks();
    let started = Instant::now();
    let mut child = command
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn plotward");
    let stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let Followed {
        status,
        high_water_kb,
        ticks,
    } = follow(&mut child);
    let seconds = started.elapsed().as_secs_f64();
    let sandbox_ticks = other_threads_ticks().saturating_sub(before);
    let stderr = reader.join().unwrap_or_default();
    assert!(
        status.success() || status.code() == Some(2),
        "plotward failed ({status}): {}",
        stderr.lines().take(20).collect::<Vec<_>>().join("\n")
    );
    Timed {
        seconds,
        peak_mb: megabytes(high_water_kb),
        cpu_seconds: seconds_of(ticks),
        sandbox_cpu_seconds: seconds_of(sandbox_ticks),
        load_after: load(),
    }
}

/// The totals of a multi-account JSON document (`plan` format 3, `check` format 2).
#[derive(Deserialize)]
struct Document {
    total: Total,
}

#[derive(Deserialize)]
struct Total {
    accounts: usize,
    failed: usize,
    #[serde(default)]
    restrict: usize,
    #[serde(default)]
    files: usize,
    #[serde(default)]
    violations: usize,
}

fn totals(path: &Path) -> Total {
    let file = std::fs::File::open(path).expect("the JSON report");
    let document: Document =
        serde_json::from_reader(BufReader::new(file)).expect("a multi-account JSON document");
    document.total
}

/// Sets the sandbox's latency per request.
fn set_latency(sandbox: &Sandbox, latency_ms: u64) {
    let response = reqwest::blocking::Client::new()
        .put(format!("{}/_sandbox/faults", sandbox.url()))
        .json(&FaultConfig {
            latency_ms,
            ..FaultConfig::default()
        })
        .send()
        .expect("set the latency");
    assert!(response.status().is_success());
}

/// `plan` then `check` over every account, each against the ideal of the requests it made;
/// then `plan` again with no latency, which is the floor the two cores' CPU sets (plotward's
/// and the sandbox's) on this machine.
fn bench_plan_and_check(run: &Run<'_>, files: usize) {
    println!(
        "| command | accounts | requests served (credentials + listing) | wall | ideal (requests x L / p) | wall / ideal | plotward peak RSS | plotward CPU (user+sys) | sandbox CPU | load after (1, 5, 15 min) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (command, latency_ms) in [
        ("plan", run.latency_ms),
        ("check", run.latency_ms),
        ("plan", 0),
    ] {
        set_latency(run.sandbox, latency_ms);
        clear_requests(run.sandbox);
        let out = run.dir.join(format!("{command}.json"));
        let measured = timed(run.plotward(&[command, "--format", "json"]), &out);
        let served = served(run.sandbox);
        let total = totals(&out);
        assert_eq!(
            (total.accounts, total.failed, served.failed),
            (run.users, 0, 0),
            "{command}: every account done, every request answered"
        );
        let detail = if command == "plan" {
            format!("{} restrictions, L = {latency_ms} ms", total.restrict)
        } else {
            assert_eq!(total.files, run.users * files, "every file judged");
            format!("{} violations, L = {latency_ms} ms", total.violations)
        };
        #[allow(clippy::cast_precision_loss)]
        let ideal = served.total as f64 * latency_ms as f64 / 1000.0 / run.parallelism as f64;
        let (ideal, ratio) = if latency_ms == 0 {
            ("-".to_owned(), "-".to_owned())
        } else {
            (
                format!("{ideal:.2} s"),
                format!("{:.2}", measured.seconds / ideal),
            )
        };
        println!(
            "| {command} ({detail}) | {} | {} ({} + {}) | {:.2} s | {ideal} | {ratio} | {:.0} MB | {:.2} s | {:.2} s | {} |",
            total.accounts,
            served.total,
            served.credentials,
            served.listing,
            measured.seconds,
            measured.peak_mb,
            measured.cpu_seconds,
            measured.sandbox_cpu_seconds,
            measured.load_after,
        );
    }
}

/// A line of watch's JSON log, as far as rounds are concerned.
#[derive(Deserialize)]
struct LogLine {
    event: String,
    #[serde(default)]
    account: Option<String>,
}

/// The resident memory after one round, and when the round ended.
struct Sample {
    rss_mb: f64,
    hwm_mb: f64,
    seconds: f64,
}

/// Counts cycles per account; a round ends when every account has finished one more.
struct Rounds {
    accounts: usize,
    per_account: HashMap<String, usize>,
    /// `finished[k]`: accounts that have finished at least k + 1 cycles.
    finished: Vec<usize>,
    failed_cycles: usize,
}

impl Rounds {
    /// Records a finished cycle; returns the round it completed, if any.
    fn record(&mut self, account: String) -> Option<usize> {
        let count = self.per_account.entry(account).or_insert(0);
        *count += 1;
        let round = *count;
        if self.finished.len() < round {
            self.finished.push(0);
        }
        self.finished[round - 1] += 1;
        (self.finished[round - 1] == self.accounts).then_some(round)
    }
}

/// `watch` over every account until each has finished `cycles` cycles, sampling its resident
/// memory after each round; then SIGTERM.
fn bench_watch(run: &Run<'_>, cycles: usize) {
    let mut command = run.plotward(&[
        "watch",
        "--interval",
        "1s",
        "--log-format",
        "json",
        "--metrics-addr",
        "off",
    ]);
    let before = other_threads_ticks();
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn plotward watch");
    let status_file = PathBuf::from(format!("/proc/{}/status", child.id()));
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut rounds = Rounds {
        accounts: run.users,
        per_account: HashMap::new(),
        finished: Vec::new(),
        failed_cycles: 0,
    };
    let mut samples: Vec<Sample> = Vec::with_capacity(cycles);
    let mut stopping = false;
    for line in stderr.lines() {
        let line = line.expect("watch's log");
        let Ok(parsed) = serde_json::from_str::<LogLine>(&line) else {
            panic!("not a JSON log line: {line}");
        };
        let account = match (parsed.event.as_str(), parsed.account) {
            ("cycle", Some(account)) => account,
            ("cycle_failed", Some(account)) => {
                rounds.failed_cycles += 1;
                eprintln!("{line}");
                account
            }
            _ => continue,
        };
        if stopping || rounds.record(account).is_none() {
            continue;
        }
        samples.push(Sample {
            rss_mb: megabytes(status_kb(&status_file, "VmRSS:").unwrap_or(0)),
            hwm_mb: megabytes(status_kb(&status_file, "VmHWM:").unwrap_or(0)),
            seconds: started.elapsed().as_secs_f64(),
        });
        if samples.len() == cycles {
            stopping = true;
            let signalled = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .expect("kill");
            assert!(signalled.success(), "SIGTERM to watch");
        }
    }
    let Followed { status, ticks, .. } = follow(&mut child);
    let sandbox_ticks = other_threads_ticks().saturating_sub(before);
    assert!(status.success(), "watch ended with {status}");
    assert_eq!(
        samples.len(),
        cycles,
        "watch stopped before {cycles} rounds"
    );
    report_watch(
        run,
        &samples,
        &rounds,
        seconds_of(ticks),
        seconds_of(sandbox_ticks),
    );
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        f64::midpoint(sorted[mid - 1], sorted[mid])
    } else {
        sorted[mid]
    }
}

/// The least-squares slope of `values` against their index (per round), and the standard
/// deviation of what is left around that line (the noise it is to be read against).
fn slope_and_noise(values: &[f64]) -> (f64, f64) {
    #[allow(clippy::cast_precision_loss)]
    let n = values.len() as f64;
    #[allow(clippy::cast_precision_loss)]
    let xs: Vec<f64> = (0..values.len()).map(|i| i as f64).collect();
    let mean_x = xs.iter().sum::<f64>() / n;
    let mean_y = values.iter().sum::<f64>() / n;
    let sxy: f64 = xs
        .iter()
        .zip(values)
        .map(|(x, y)| (x - mean_x) * (y - mean_y))
        .sum();
    let sxx: f64 = xs.iter().map(|x| (x - mean_x).powi(2)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let residuals: f64 = xs
        .iter()
        .zip(values)
        .map(|(x, y)| (y - (mean_y + slope * (x - mean_x))).powi(2))
        .sum();
    (slope, (residuals / n).sqrt())
}

fn report_watch(
    run: &Run<'_>,
    samples: &[Sample],
    rounds: &Rounds,
    cpu_seconds: f64,
    sandbox_cpu_seconds: f64,
) {
    let rss: Vec<f64> = samples.iter().map(|s| s.rss_mb).collect();
    let ten = rss.len().min(10);
    let (slope, noise) = slope_and_noise(&rss);
    let max = rss.iter().copied().fold(0.0, f64::max);
    let durations: Vec<f64> = samples
        .iter()
        .scan(0.0, |last, s| {
            let took = s.seconds - *last;
            *last = s.seconds;
            Some(took)
        })
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let per_round = rss.len() as f64;
    println!(
        "| rounds (every account once) | accounts | VmRSS first-10 median | last-10 median | max | slope (least squares) | residual noise (sd) | VmHWM at the end | round time (median; first) | plotward CPU per round | sandbox CPU per round | failed cycles | load after (1, 5, 15 min) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {} | {} | {:.1} MB | {:.1} MB | {max:.1} MB | {slope:+.3} MB/round ({:+.1} MB over the run) | {noise:.1} MB | {:.1} MB | {:.2} s; {:.2} s | {:.2} s | {:.2} s | {} | {} |",
        rss.len(),
        run.users,
        median(&rss[..ten]),
        median(&rss[rss.len() - ten..]),
        slope * per_round,
        samples.last().map_or(0.0, |s| s.hwm_mb),
        median(&durations),
        durations.first().copied().unwrap_or(0.0),
        cpu_seconds / per_round,
        sandbox_cpu_seconds / per_round,
        rounds.failed_cycles,
        load(),
    );
    let series: Vec<String> = rss.iter().map(|mb| format!("{mb:.0}")).collect();
    println!("\nVmRSS after each round (MB): {}", series.join(" "));
}
