//! Just enough of a GitHub Actions runner and a GitLab runner to run the shipped example
//! pipelines' shell steps, in order, against the sandbox.
//!
//! A job runs in a temporary checkout (the files a test gives) with `bash`, a cleared
//! environment, and a PATH of recording stand-ins for `gh`, `glab`, `curl` and `apk`
//! (`tests/python/forge_standin.py`, over a JSON file that plays the forge) before the system's
//! tools. plotward itself comes the way the pipelines install it: `action.yml`'s own steps on
//! GitHub, the `before_script` download on GitLab, both from a fake release (the built binary,
//! packaged as `release.yml` packages it, with its `.sha256`) that the `curl` stand-in serves.
//!
//! What only exists on a real runner is emulated here, and only this (anything else panics,
//! so nothing is skipped silently): [`EMULATED_ACTIONS`], GitLab's `cache:` (always a miss)
//! and `artifacts:` (kept per job for the `glab` stand-in to serve), and the image's
//! packages (`apk add` is recorded; bash, jq, and the stand-ins are there already).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::harness::repo;

/// The `uses:` steps the GitHub runner emulates, and how.
pub(crate) const EMULATED_ACTIONS: [(&str, &str); 3] = [
    (
        "actions/checkout@v6",
        "the checkout directory already holds the test's files",
    ),
    (
        "actions/cache@v5",
        "always a miss (cache-hit is empty), so the install path runs",
    ),
    (
        "actions/upload-artifact@v6",
        "copies `path` into the run's artifacts, which `gh run download` serves",
    ),
];

/// The repository the GitHub forge plays, and the GitLab project id.
pub(crate) const REPOSITORY: &str = "acme/charts";
const PROJECT_ID: u64 = 7;
/// The release URL prefix the examples and `action.yml` download from (their placeholder).
pub(crate) const RELEASES_URL: &str = "https://github.com/OWNER/plotward/releases/download";

/// The forge (GitHub or GitLab) as the stand-ins see it, and the tools that reach it.
pub(crate) struct Forge {
    dir: TempDir,
    /// The sandbox's URL, which replaces the examples' `PLOTLY_API_DOMAIN`.
    api_url: String,
    next_run: u64,
}

/// How one job ended: whether it failed, and its output for assertions and failure messages.
pub(crate) struct JobRun {
    pub(crate) failed: bool,
    pub(crate) log: String,
}

impl JobRun {
    /// Panics with the log unless the job passed.
    #[track_caller]
    pub(crate) fn passed(&self) -> &JobRun {
        assert!(!self.failed, "the job failed:\n{}", self.log);
        self
    }

    /// Panics with the log unless the job failed.
    #[track_caller]
    pub(crate) fn failed(&self) -> &JobRun {
        assert!(self.failed, "the job passed:\n{}", self.log);
        self
    }
}

impl Forge {
    /// An empty forge for a sandbox at `api_url`, with the fake release in place.
    pub(crate) fn new(api_url: &str) -> Forge {
        let dir = tempfile::tempdir().unwrap();
        let forge = Forge {
            dir,
            api_url: api_url.to_owned(),
            next_run: 100,
        };
        forge.write_state(&json!({
            "repository": REPOSITORY, "project_id": PROJECT_ID,
            "issues": {}, "runs": [], "merge_requests": {}, "pipelines": [],
        }));
        std::fs::create_dir_all(forge.path("artifacts")).unwrap();
        std::fs::write(forge.path("calls.jsonl"), "").unwrap();
        forge.install_standins();
        forge.publish_release();
        forge
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The forge's state (issues, comments, merge requests, runs), as the stand-ins keep it.
    pub(crate) fn state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.path("state.json")).unwrap()).unwrap()
    }

    pub(crate) fn write_state(&self, state: &Value) {
        std::fs::write(self.path("state.json"), state.to_string()).unwrap();
    }

    /// Changes the state with `edit`.
    pub(crate) fn edit_state(&self, edit: impl FnOnce(&mut Value)) {
        let mut state = self.state();
        edit(&mut state);
        self.write_state(&state);
    }

    /// The text of a kept artifact, by its path under the artifacts (`RUN/NAME/FILE` on
    /// GitHub, `JOB/FILE` on GitLab).
    pub(crate) fn artifact(&self, path: &str) -> String {
        let file = self.path("artifacts").join(path);
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("artifact {path}: {e}"))
    }

    /// Every recorded call of a stand-in, as `TOOL ARG ARG...`.
    pub(crate) fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("calls.jsonl"))
            .unwrap()
            .lines()
            .map(|line| {
                let call: Value = serde_json::from_str(line).unwrap();
                let argv: Vec<&str> = call["argv"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap())
                    .collect();
                format!("{} {}", call["tool"].as_str().unwrap(), argv.join(" "))
            })
            .collect()
    }

    /// One wrapper per tool in `bin/`, each calling the stand-in script with its name.
    fn install_standins(&self) {
        use std::os::unix::fs::PermissionsExt;
        let bin = self.path("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let python = real_python();
        let script = repo("tests/python/forge_standin.py");
        for tool in ["gh", "glab", "curl", "apk"] {
            let wrapper = bin.join(tool);
            std::fs::write(
                &wrapper,
                format!(
                    "#!/bin/sh\nexec '{}' '{}' {tool} \"$@\"\n",
                    python.display(),
                    script.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    /// The built plotward as release `v{version}` for this machine's Linux target, packaged as
    /// `release.yml` packages it, with its checksum file.
    fn publish_release(&self) {
        let version = env!("CARGO_PKG_VERSION");
        let target = format!("{}-unknown-linux-musl", std::env::consts::ARCH);
        let name = format!("plotward-{version}-{target}");
        let releases = self.path("releases");
        let staging = releases.join("staging").join(&name);
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_plotward"), staging.join("plotward")).unwrap();
        let assets = releases.join(format!("v{version}"));
        std::fs::create_dir_all(&assets).unwrap();
        let archive = assets.join(format!("{name}.tar.gz"));
        let tar = Command::new("tar")
            .arg("-czf")
            .arg(&archive)
            .arg("-C")
            .arg(releases.join("staging"))
            .arg(&name)
            .status()
            .unwrap();
        assert!(tar.success(), "tar the fake release");
        let digest = Sha256::digest(std::fs::read(&archive).unwrap());
        let hex: String = digest.iter().fold(String::new(), |mut s, b| {
            write!(s, "{b:02x}").unwrap();
            s
        });
        std::fs::write(
            assets.join(format!("{name}.tar.gz.sha256")),
            format!("{hex}  {name}.tar.gz\n"),
        )
        .unwrap();
    }

    /// Makes the published checksum wrong, as a tampered download would be.
    pub(crate) fn tamper_release(&self) {
        let assets = self
            .path("releases")
            .join(format!("v{}", env!("CARGO_PKG_VERSION")));
        for entry in std::fs::read_dir(&assets).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "sha256") {
                let text = std::fs::read_to_string(&path).unwrap();
                std::fs::write(&path, format!("{}{}", "0".repeat(64), &text[64..])).unwrap();
            }
        }
    }

    /// A fresh run id (GitHub) or job id (GitLab).
    fn next_id(&mut self) -> u64 {
        self.next_run += 1;
        self.next_run
    }

    /// The environment every job gets, before the pipeline's own.
    fn base_env(&self, home: &Path) -> Vec<(String, String)> {
        let path = format!(
            "{}:/usr/local/bin:/usr/bin:/bin",
            self.path("bin").display()
        );
        [
            ("PATH", path),
            ("HOME", home.display().to_string()),
            ("CI", "true".to_owned()),
            ("FORGE_STATE", self.path("state.json").display().to_string()),
            ("FORGE_LOG", self.path("calls.jsonl").display().to_string()),
            (
                "FORGE_ARTIFACTS",
                self.path("artifacts").display().to_string(),
            ),
            ("RELEASES_URL", RELEASES_URL.to_owned()),
            ("RELEASES_DIR", self.path("releases").display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// The Python interpreter itself (not a shim that needs the caller's environment).
fn real_python() -> PathBuf {
    let output = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 runs the forge stand-ins");
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// A checkout: the files of the repository at one commit.
pub(crate) struct Checkout {
    dir: TempDir,
    home: TempDir,
}

impl Checkout {
    /// A checkout holding these `(path, text)` files.
    pub(crate) fn with(files: &[(&str, &str)]) -> Checkout {
        let checkout = Checkout {
            dir: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
        };
        for (path, text) in files {
            std::fs::write(checkout.dir.path().join(path), text).unwrap();
        }
        checkout
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Reads a workflow or pipeline file of the repository as JSON.
pub(crate) fn load_yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(repo(path)).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs `script` with bash (`flags` as the runner passes them) in `dir`, appending what it
/// printed to `log`. True when it exited 0.
fn run_bash(
    flags: &[&str],
    script: &str,
    dir: &Path,
    env: &[(String, String)],
    log: &mut String,
) -> bool {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), script).unwrap();
    let output = Command::new("/bin/bash")
        .args(flags)
        .arg(file.path())
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run bash");
    let _ = writeln!(
        log,
        "$ {}\n{}{}[exit {}]",
        script.trim_end(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        output.status.code().unwrap_or(-1)
    );
    output.status.success()
}

/// Reads a `$GITHUB_OUTPUT`-style file of `key=value` lines.
fn read_outputs(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| {
            assert!(
                !line.contains("<<"),
                "multi-line outputs are not emulated: {line}"
            );
            let (key, value) = line.split_once('=').expect("key=value");
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

pub(crate) mod github {
    //! The GitHub Actions side: expressions, jobs, steps, and `action.yml` as a composite.

    use std::fmt::Write as _;

    use super::{
        BTreeMap, Checkout, EMULATED_ACTIONS, Forge, JobRun, Path, REPOSITORY, Value, json,
        load_yaml, read_outputs, repo, run_bash,
    };

    /// The event a workflow run is for.
    pub(crate) enum Event {
        /// A push to pull request `number` whose head is `sha`.
        PullRequest { number: u64, sha: String },
        /// A push of `sha` to the default branch.
        Push { sha: String },
        /// The nightly schedule.
        Schedule,
    }

    /// The expression contexts a job sees: flat dotted names to values.
    type Contexts = BTreeMap<String, String>;

    /// The values of `${{ ... }}` a runner would provide, and the settings a user makes.
    fn contexts(event: &Event, run_id: u64) -> Contexts {
        let mut ctx: Contexts = [
            ("github.repository", REPOSITORY.to_owned()),
            ("github.server_url", "https://github.com".to_owned()),
            ("github.run_id", run_id.to_string()),
            ("github.token", "ghs_test_token".to_owned()),
            ("vars.PLOTLY_USERNAME", "alice".to_owned()),
            ("secrets.PLOTLY_API_KEY", "alice-key".to_owned()),
            ("runner.os", "Linux".to_owned()),
            ("runner.arch", runner_arch().to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let (name, sha) = match event {
            Event::PullRequest { number, sha } => {
                ctx.insert(
                    "github.event.pull_request.number".into(),
                    number.to_string(),
                );
                ctx.insert("github.event.pull_request.head.sha".into(), sha.clone());
                ("pull_request", sha.clone())
            }
            Event::Push { sha } => ("push", sha.clone()),
            Event::Schedule => ("schedule", "c0ffee".to_owned()),
        };
        ctx.insert("github.event_name".into(), name.to_owned());
        ctx.insert("github.sha".into(), sha);
        ctx
    }

    fn runner_arch() -> &'static str {
        match std::env::consts::ARCH {
            "x86_64" => "X64",
            "aarch64" => "ARM64",
            other => panic!("no GitHub runner architecture for {other}"),
        }
    }

    /// The value of one context name, or a panic naming it (a typo in a workflow fails).
    fn lookup(ctx: &Contexts, name: &str) -> String {
        if let Some(value) = ctx.get(name) {
            return value.clone();
        }
        // A step output that was never set is empty, as on GitHub.
        assert!(
            name.starts_with("steps.") || name.starts_with("inputs."),
            "the emulated runner has no value for `{name}`"
        );
        String::new()
    }

    /// Replaces every `${{ name }}` in `text`.
    fn substitute(text: &str, ctx: &Contexts) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("closed expression") + start;
            out.push_str(&lookup(ctx, rest[start + 3..end].trim()));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// Evaluates an `if:` of the forms the workflows use: `a || b`, `a && b`, `x == 'v'`,
    /// `x != 'v'`, `always()`, `failure()`, `success()`. Without a status function it means
    /// `success() && (...)`, as on GitHub.
    fn condition(expr: Option<&str>, ctx: &Contexts, failed: bool) -> bool {
        let Some(expr) = expr else { return !failed };
        let expr = expr
            .trim()
            .trim_start_matches("${{")
            .trim_end_matches("}}")
            .trim();
        let has_status = ["always()", "failure()", "success()"]
            .iter()
            .any(|f| expr.contains(f));
        let value = expr.split(" || ").any(|any| {
            any.split(" && ").all(|atom| match atom.trim() {
                "always()" => true,
                "failure()" => failed,
                "success()" => !failed,
                atom => compare(atom, ctx),
            })
        });
        value && (has_status || !failed)
    }

    fn compare(atom: &str, ctx: &Contexts) -> bool {
        let (left, right, equal) = if let Some((l, r)) = atom.split_once("!=") {
            (l, r, false)
        } else if let Some((l, r)) = atom.split_once("==") {
            (l, r, true)
        } else {
            panic!("the emulated runner cannot evaluate `{atom}`")
        };
        let operand = |s: &str| {
            let s = s.trim();
            s.strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .map_or_else(|| lookup(ctx, s), str::to_owned)
        };
        (operand(left) == operand(right)) == equal
    }

    /// The jobs of `examples/github-actions.yml` whose `if:` holds for `event`.
    pub(crate) fn jobs_for(event: &Event) -> Vec<String> {
        let workflow = load_yaml("examples/github-actions.yml");
        let ctx = contexts(event, 0);
        workflow["jobs"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, job)| condition(job["if"].as_str(), &ctx, false))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// One step's or job's environment: the base, then each level's `env:` substituted, then
    /// the one setting a user changes: `PLOTLY_API_DOMAIN`, pointed at the sandbox.
    fn layered_env(
        forge: &Forge,
        home: &Path,
        levels: &[&Value],
        ctx: &Contexts,
        extra: &[(String, String)],
    ) -> Vec<(String, String)> {
        let mut env: BTreeMap<String, String> = forge.base_env(home).into_iter().collect();
        env.extend(extra.iter().cloned());
        for level in levels {
            if let Some(map) = level.as_object() {
                for (key, value) in map {
                    let text = match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    env.insert(key.clone(), substitute(&text, ctx));
                }
            }
        }
        if env.contains_key("PLOTLY_API_DOMAIN") {
            env.insert("PLOTLY_API_DOMAIN".into(), forge.api_url.clone());
        }
        env.into_iter().collect()
    }

    /// What a job run has so far: contexts, the PATH additions, the log, failure.
    struct Job<'a> {
        forge: &'a Forge,
        checkout: &'a Checkout,
        run_id: u64,
        ctx: Contexts,
        paths: Vec<String>,
        failed: bool,
        log: String,
        workflow_env_map: Value,
        spec_env: Value,
    }

    /// Runs job `name` of `examples/github-actions.yml` for `event` in `checkout`. A pull
    /// request's run is recorded in the forge for `gh run list` (its conclusion, its
    /// artifacts).
    pub(crate) fn run_job(
        forge: &mut Forge,
        checkout: &Checkout,
        name: &str,
        event: &Event,
    ) -> JobRun {
        let workflow = load_yaml("examples/github-actions.yml");
        let spec = &workflow["jobs"][name];
        let run_id = forge.next_id();
        let ctx = contexts(event, run_id);
        assert!(
            condition(spec["if"].as_str(), &ctx, false),
            "job {name} does not run on this event"
        );
        let mut job = Job {
            forge,
            checkout,
            run_id,
            ctx,
            paths: Vec::new(),
            failed: false,
            log: String::new(),
            workflow_env_map: workflow["env"].clone(),
            spec_env: spec["env"].clone(),
        };
        for step in spec["steps"].as_array().unwrap() {
            job.step(step);
        }
        let run = JobRun {
            failed: job.failed,
            log: job.log,
        };
        if let Event::PullRequest { sha, .. } = event {
            record_run(forge, run_id, sha, run.failed);
        }
        run
    }

    fn record_run(forge: &Forge, run_id: u64, sha: &str, failed: bool) {
        forge.edit_state(|state| {
            state["runs"].as_array_mut().unwrap().push(json!({
                "id": run_id, "workflow": "chart-studio-sharing.yml", "event": "pull_request",
                "head_sha": sha, "conclusion": if failed { "failure" } else { "success" },
            }));
        });
    }

    impl Job<'_> {
        fn step(&mut self, step: &Value) {
            let label = step["name"]
                .as_str()
                .or(step["uses"].as_str())
                .unwrap_or("run")
                .to_owned();
            if !condition(step["if"].as_str(), &self.ctx, self.failed) {
                let _ = writeln!(self.log, "-- skipped: {label}");
                return;
            }
            let _ = writeln!(self.log, "-- step: {label}");
            let ok = if let Some(uses) = step["uses"].as_str() {
                self.uses(uses, step)
            } else {
                let (workflow_env, job_env) =
                    (self.workflow_env_map.clone(), self.spec_env.clone());
                self.run(step, &[&workflow_env, &job_env, &step["env"]], "-e")
            };
            if let Some(id) = step["id"].as_str() {
                self.ctx.insert(
                    format!("steps.{id}.outcome"),
                    if ok { "success" } else { "failure" }.into(),
                );
            }
            self.failed |= !ok;
        }

        /// Runs a `run:` step with bash (`flags` as GitHub passes them), then reads its
        /// outputs and PATH additions.
        fn run(&mut self, step: &Value, levels: &[&Value], flags: &str) -> bool {
            let script = step["run"].as_str().expect("a run step");
            let dir = tempfile::tempdir().unwrap();
            let outputs = dir.path().join("output");
            let path_file = dir.path().join("path");
            let extra = [
                ("GITHUB_OUTPUT", outputs.display().to_string()),
                ("GITHUB_PATH", path_file.display().to_string()),
                ("GITHUB_REPOSITORY", REPOSITORY.to_owned()),
                ("GITHUB_SHA", self.ctx["github.sha"].clone()),
                ("GITHUB_EVENT_NAME", self.ctx["github.event_name"].clone()),
                ("GITHUB_RUN_ID", self.run_id.to_string()),
                ("GITHUB_ACTION_PATH", repo("").display().to_string()),
                ("RUNNER_OS", "Linux".to_owned()),
            ]
            .map(|(k, v)| (k.to_owned(), v));
            let mut env = layered_env(
                self.forge,
                self.checkout.home.path(),
                levels,
                &self.ctx,
                &extra,
            );
            for (key, value) in &mut env {
                if key == "PATH" {
                    let mut parts = self.paths.clone();
                    parts.push(value.clone());
                    *value = parts.join(":");
                }
            }
            let script = substitute(script, &self.ctx);
            let flag_list: Vec<&str> = flags.split(' ').collect();
            let ok = run_bash(
                &flag_list,
                &script,
                self.checkout.path(),
                &env,
                &mut self.log,
            );
            if let Some(id) = step["id"].as_str() {
                for (key, value) in read_outputs(&outputs) {
                    self.ctx.insert(format!("steps.{id}.outputs.{key}"), value);
                }
            }
            let added = std::fs::read_to_string(&path_file).unwrap_or_default();
            self.paths.extend(added.lines().rev().map(str::to_owned));
            ok
        }

        fn uses(&mut self, uses: &str, step: &Value) -> bool {
            if uses.starts_with("OWNER/plotward@") {
                return self.composite(step);
            }
            assert!(
                EMULATED_ACTIONS.iter().any(|(name, _)| *name == uses),
                "no emulation for `uses: {uses}`: add it to EMULATED_ACTIONS or the workflow is \
                 not tested"
            );
            if uses.starts_with("actions/upload-artifact@") {
                return self.upload(step);
            }
            if uses.starts_with("actions/cache@")
                && let Some(id) = step["id"].as_str()
            {
                self.ctx
                    .insert(format!("steps.{id}.outputs.cache-hit"), String::new());
            }
            true
        }

        /// `actions/upload-artifact`: one file, kept under the run's artifacts.
        fn upload(&mut self, step: &Value) -> bool {
            let with = &step["with"];
            let name = with["name"].as_str().unwrap();
            let path = with["path"].as_str().unwrap();
            let source = self.checkout.path().join(path);
            if !source.is_file() {
                let ignore = with["if-no-files-found"].as_str() == Some("ignore");
                let _ = writeln!(self.log, "(no {path} to upload)");
                return ignore;
            }
            let target = self
                .forge
                .path("artifacts")
                .join(self.run_id.to_string())
                .join(name);
            std::fs::create_dir_all(&target).unwrap();
            std::fs::copy(&source, target.join(path)).unwrap();
            true
        }

        /// `uses: OWNER/plotward@...`: the repository's `action.yml`, its steps run in order
        /// with its inputs, outputs and `steps` context of its own.
        fn composite(&mut self, step: &Value) -> bool {
            let action = load_yaml("action.yml");
            assert_eq!(action["runs"]["using"], "composite");
            let outer = std::mem::take(&mut self.ctx);
            let mut inner: Contexts = outer
                .iter()
                .filter(|(k, _)| !k.starts_with("steps."))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            inner.insert("github.action_repository".into(), "OWNER/plotward".into());
            for (name, input) in action["inputs"].as_object().unwrap() {
                let given = step["with"][name].as_str().map(str::to_owned);
                let default = input["default"].as_str().unwrap_or_default();
                let value = given.unwrap_or_else(|| substitute(default, &inner));
                inner.insert(format!("inputs.{name}"), value);
            }
            self.ctx = inner;
            let mut ok = true;
            for inner_step in action["runs"]["steps"].as_array().unwrap() {
                if !condition(inner_step["if"].as_str(), &self.ctx, !ok) {
                    continue;
                }
                let label = inner_step["name"].as_str().unwrap_or("step");
                let _ = writeln!(self.log, "-- action step: {label}");
                let step_ok = if let Some(uses) = inner_step["uses"].as_str() {
                    self.uses(uses, inner_step)
                } else {
                    assert_eq!(
                        inner_step["shell"], "bash",
                        "{label}: composite steps name their shell"
                    );
                    self.run(
                        inner_step,
                        &[&inner_step["env"]],
                        "--noprofile --norc -eo pipefail",
                    )
                };
                ok &= step_ok;
            }
            self.ctx = outer;
            ok
        }
    }

    #[test]
    fn the_emulated_runner_evaluates_conditions_as_github_does() {
        let ctx: Contexts = [("steps.plan.outputs.status", "2")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert!(condition(None, &ctx, false));
        assert!(!condition(None, &ctx, true));
        assert!(condition(Some("always()"), &ctx, true));
        assert!(condition(
            Some("steps.plan.outputs.status != '0'"),
            &ctx,
            false
        ));
        assert!(!condition(
            Some("steps.plan.outputs.status != '0'"),
            &ctx,
            true
        ));
        assert!(condition(
            Some("failure() || steps.x.outputs.plan == ''"),
            &ctx,
            false
        ));
        assert!(!condition(
            Some("failure() || steps.plan.outputs.status == ''"),
            &ctx,
            false
        ));
        assert_eq!(
            substitute("a ${{ steps.plan.outputs.status }} b", &ctx),
            "a 2 b"
        );
    }
}

pub(crate) mod gitlab {
    //! The GitLab side: rules, `extends`, variables, one shell per job, artifacts.

    use super::{BTreeMap, Checkout, Forge, JobRun, Value, json, load_yaml, run_bash};

    /// What started a pipeline.
    pub(crate) enum Source {
        /// A push to merge request `iid` whose head is `sha`.
        MergeRequest { iid: u64, sha: String },
        /// A push of `sha` to the default branch.
        Push { sha: String },
        /// A scheduled pipeline.
        Schedule,
    }

    /// The predefined variables GitLab sets, and the CI/CD variables a user sets.
    fn predefined(source: &Source, job_id: u64) -> BTreeMap<String, String> {
        let mut vars: BTreeMap<String, String> = [
            ("CI_PROJECT_ID", super::PROJECT_ID.to_string()),
            ("CI_SERVER_URL", "https://gitlab.example.com".to_owned()),
            ("CI_DEFAULT_BRANCH", "main".to_owned()),
            ("CI_JOB_ID", job_id.to_string()),
            (
                "CI_JOB_URL",
                format!("https://gitlab.example.com/acme/charts/-/jobs/{job_id}"),
            ),
            (
                "CI_PIPELINE_URL",
                format!("https://gitlab.example.com/acme/charts/-/pipelines/{job_id}"),
            ),
            ("PLOTLY_API_KEY", "alice-key".to_owned()),
            ("GITLAB_TOKEN", "glpat-test".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let (pipeline_source, sha) = match source {
            Source::MergeRequest { iid, sha } => {
                vars.insert("CI_MERGE_REQUEST_IID".into(), iid.to_string());
                ("merge_request_event", sha.clone())
            }
            Source::Push { sha } => {
                vars.insert("CI_COMMIT_BRANCH".into(), "main".into());
                ("push", sha.clone())
            }
            Source::Schedule => {
                vars.insert("CI_COMMIT_BRANCH".into(), "main".into());
                ("schedule", "c0ffee".to_owned())
            }
        };
        vars.insert("CI_PIPELINE_SOURCE".into(), pipeline_source.into());
        vars.insert("CI_COMMIT_SHA".into(), sha);
        vars
    }

    /// Expands `$NAME` references (variables that use other variables).
    fn expand(text: &str, vars: &BTreeMap<String, String>) -> String {
        let mut out = text.to_owned();
        // Longest names first, so `$CI_JOB_URL` is not read as `$CI_JOB` and `_URL`.
        let mut names: Vec<(&String, &String)> = vars.iter().collect();
        names.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
        for (name, value) in names {
            out = out.replace(&format!("${name}"), value);
        }
        out
    }

    /// Evaluates a `rules: - if:` of the forms the pipeline uses: `A == B [&& C == D]`, each
    /// side a `$VARIABLE` or a `"string"`.
    fn rule_holds(expr: &str, vars: &BTreeMap<String, String>) -> bool {
        expr.split("&&").all(|atom| {
            let (left, right) = atom.split_once("==").expect("an == comparison");
            let operand = |s: &str| {
                let s = s.trim();
                if let Some(name) = s.strip_prefix('$') {
                    vars.get(name).cloned()
                } else {
                    Some(s.trim_matches('"').to_owned())
                }
            };
            operand(left) == operand(right)
        })
    }

    /// The jobs of `examples/gitlab-ci.yml` whose rules hold for `source`.
    pub(crate) fn jobs_for(source: &Source) -> Vec<String> {
        let pipeline = load_yaml("examples/gitlab-ci.yml");
        let vars = predefined(source, 0);
        pipeline
            .as_object()
            .unwrap()
            .iter()
            .filter(|(name, job)| !name.starts_with('.') && job.is_object())
            .filter(|(_, job)| {
                job["rules"].as_array().is_some_and(|rules| {
                    rules
                        .iter()
                        .any(|r| rule_holds(r["if"].as_str().unwrap(), &vars))
                })
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// A job's keys with its `extends` template's underneath.
    fn resolved(pipeline: &Value, name: &str) -> Value {
        let mut job = pipeline[name].clone();
        if let Some(base) = job["extends"].as_str() {
            let mut merged = pipeline[base].clone();
            for (key, value) in job.as_object().unwrap() {
                merged[key] = value.clone();
            }
            job = merged;
        }
        job
    }

    fn lines(value: &Value) -> Vec<String> {
        value.as_array().map_or_else(Vec::new, |items| {
            items
                .iter()
                .map(|line| line.as_str().unwrap().to_owned())
                .collect()
        })
    }

    /// Runs job `name` of `examples/gitlab-ci.yml` for `source` in `checkout`: its
    /// `before_script` and `script` in one bash (`set -eo pipefail`, as the runner does), then
    /// its artifacts kept. A merge request's `plan` job is recorded as that merge request's
    /// pipeline for `glab api`.
    pub(crate) fn run_job(
        forge: &mut Forge,
        checkout: &Checkout,
        name: &str,
        source: &Source,
    ) -> JobRun {
        let pipeline = load_yaml("examples/gitlab-ci.yml");
        let job = resolved(&pipeline, name);
        let job_id = forge.next_id();
        let mut vars = predefined(source, job_id);
        assert!(
            job["rules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| rule_holds(r["if"].as_str().unwrap(), &vars)),
            "job {name} does not run in this pipeline"
        );
        for (key, value) in pipeline["variables"].as_object().unwrap() {
            let value = expand(value.as_str().unwrap(), &vars);
            vars.insert(key.clone(), value);
        }
        // The settings a user changes: the server, and the account the sandbox has.
        vars.insert("PLOTLY_API_DOMAIN".into(), forge.api_url.clone());
        vars.insert("PLOTLY_USERNAME".into(), "alice".into());
        let mut env: BTreeMap<String, String> =
            forge.base_env(checkout.home.path()).into_iter().collect();
        env.extend(vars);
        let mut script = String::from("set -eo pipefail\n");
        for line in lines(&job["before_script"])
            .iter()
            .chain(&lines(&job["script"]))
        {
            script.push_str(line);
            script.push('\n');
        }
        let mut log = String::new();
        let env: Vec<(String, String)> = env.into_iter().collect();
        let ok = run_bash(&[], &script, checkout.path(), &env, &mut log);
        keep_artifacts(forge, checkout, &job, job_id);
        if let Source::MergeRequest { iid, sha } = source {
            record_pipeline(forge, *iid, sha, name, job_id, ok);
        }
        JobRun { failed: !ok, log }
    }

    /// `artifacts: paths:` (with `when: always`): what exists is kept under the job's id.
    fn keep_artifacts(forge: &Forge, checkout: &Checkout, job: &Value, job_id: u64) {
        assert_eq!(job["artifacts"]["when"], "always");
        let target = forge.path("artifacts").join(job_id.to_string());
        std::fs::create_dir_all(&target).unwrap();
        for path in lines(&job["artifacts"]["paths"]) {
            let source = checkout.path().join(&path);
            if source.is_file() {
                std::fs::copy(&source, target.join(&path)).unwrap();
            }
        }
    }

    fn record_pipeline(forge: &Forge, iid: u64, sha: &str, name: &str, job_id: u64, ok: bool) {
        let status = if ok { "success" } else { "failed" };
        forge.edit_state(|state| {
            state["pipelines"].as_array_mut().unwrap().push(json!({
                "id": job_id + 5000, "mr": iid.to_string(), "sha": sha, "status": status,
                "jobs": [{"id": job_id, "name": name, "status": status}],
            }));
        });
    }

    #[test]
    fn rules_and_variables_are_evaluated_as_gitlab_does() {
        let vars: BTreeMap<String, String> = [("A", "x"), ("B", "x"), ("C", "y")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert!(rule_holds("$A == $B", &vars));
        assert!(!rule_holds("$A == $B && $C == \"x\"", &vars));
        assert!(rule_holds("$C == \"y\"", &vars));
        assert!(!rule_holds("$MISSING == \"y\"", &vars));
        assert_eq!(expand("$A/$C", &vars), "x/y");
    }
}
