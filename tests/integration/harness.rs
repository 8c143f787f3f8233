//! The `Test` builder: one run of the real `plotward` binary in a temporary directory with a
//! cleared environment (`HOME` is that directory), and what the run must show.
//!
//! - Inputs: files (`write`, `copy`, `policy`), `args`, `env`, and `stdin` (empty unless given).
//! - Expectations: whole streams (`stdout`, `stderr`, unindented); pieces of them, taken as
//!   given (`stdout_contains`, `stderr_contains`, and `stdout_lacks`, `stderr_lacks` for
//!   secrets and raw control characters; each repeatable); a pinned file under
//!   `tests/fixtures/` (`stdout_matches_fixture`).
//! - `status(code)` runs the binary and checks the exit code and every expectation before it
//!   panics, so one run shows every mismatch (whole streams and fixtures with a diff), then
//!   both streams. The `Run` it returns is there for checks of other things: files the run
//!   wrote, what a server saw, parsed JSON.
//!
//! Re-blessing fixtures: when a rendering changes on purpose, run
//! `PLOTWARD_BLESS=1 cargo test --test integration`. A fixture that differs (or is missing) is
//! then rewritten with what the run printed, and the test says so on stderr instead of
//! failing; review the fixtures' diff before committing it. Inline expectations are never
//! rewritten.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use pretty_assertions::StrComparison;
use tempfile::TempDir;

/// The repository root, to reach `examples/` and `policies/`.
pub(crate) fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Removes the indentation common to all non-blank lines, and one leading newline, so expected
/// text can be written indented in the test source and still read like the terminal.
pub(crate) fn unindent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|line| line.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
        + if text.ends_with('\n') { "\n" } else { "" }
}

/// One run of the binary: inputs, then expectations, all checked before anything panics.
#[must_use]
pub(crate) struct Test {
    dir: TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<String>,
    /// Whether the reader of stdout goes away before plotward writes (`plotward ... | head`
    /// at its most abrupt).
    stdout_closed: bool,
    expectations: Vec<Expect>,
}

impl Test {
    /// A fresh temporary directory, no arguments and nothing on stdin.
    pub(crate) fn new() -> Test {
        Test {
            dir: tempfile::tempdir().expect("temporary directory"),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            stdout_closed: false,
            expectations: Vec::new(),
        }
    }

    /// Closes the read end of stdout as soon as the binary starts: every write to it fails
    /// with a broken pipe.
    pub(crate) fn stdout_closed(mut self) -> Test {
        self.stdout_closed = true;
        self
    }

    /// Writes a file into the directory (the text is unindented).
    pub(crate) fn write(self, path: &str, text: &str) -> Test {
        let target = self.dir.path().join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(target, unindent(text)).expect("write test file");
        self
    }

    /// Copies a repository file to the same relative path in the directory, byte for byte.
    pub(crate) fn copy(self, path: &str) -> Test {
        let target = self.dir.path().join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::copy(repo(path), target).expect("copy a repository file");
        self
    }

    /// The absolute path of a file in the test's directory, to prepare what `write` cannot
    /// (symlinks, FIFOs, devices).
    pub(crate) fn path(&self, path: &str) -> PathBuf {
        self.dir.path().join(path)
    }

    /// Writes `plotward.yaml`, the default policy file.
    pub(crate) fn policy(self, yaml: &str) -> Test {
        self.write("plotward.yaml", yaml)
    }

    /// Adds arguments.
    pub(crate) fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, args: I) -> Test {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable (the environment is otherwise empty).
    pub(crate) fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Pipes this text to stdin, as given (without it, stdin is empty).
    pub(crate) fn stdin(mut self, text: &str) -> Test {
        self.stdin = Some(text.to_owned());
        self
    }

    /// Expects exactly this stdout (unindented).
    pub(crate) fn stdout(self, text: &str) -> Test {
        self.expect(Expect::Exactly(Stream::Stdout, unindent(text)))
    }

    /// Expects exactly this stderr (unindented).
    pub(crate) fn stderr(self, text: &str) -> Test {
        self.expect(Expect::Exactly(Stream::Stderr, unindent(text)))
    }

    /// Expects stdout to hold this text, as given; repeatable.
    pub(crate) fn stdout_contains(self, text: &str) -> Test {
        self.expect(Expect::Contains(Stream::Stdout, text.to_owned()))
    }

    /// Expects stderr to hold this text, as given; repeatable.
    pub(crate) fn stderr_contains(self, text: &str) -> Test {
        self.expect(Expect::Contains(Stream::Stderr, text.to_owned()))
    }

    /// Expects stdout never to hold this text (a secret, a raw control character); repeatable.
    pub(crate) fn stdout_lacks(self, text: &str) -> Test {
        self.expect(Expect::Lacks(Stream::Stdout, text.to_owned()))
    }

    /// Expects stderr never to hold this text (a secret, a raw control character); repeatable.
    pub(crate) fn stderr_lacks(self, text: &str) -> Test {
        self.expect(Expect::Lacks(Stream::Stderr, text.to_owned()))
    }

    /// Expects stdout to equal a pinned file, a path from the repository root such as
    /// `tests/fixtures/example-plan.txt`; `PLOTWARD_BLESS=1` rewrites the file instead.
    pub(crate) fn stdout_matches_fixture(self, fixture: &str) -> Test {
        self.expect(Expect::Fixture(fixture.to_owned()))
    }

    fn expect(mut self, expectation: Expect) -> Test {
        self.expectations.push(expectation);
        self
    }

    /// Runs the binary and checks the exit code and every expectation.
    #[track_caller]
    pub(crate) fn status(self, code: i32) -> Run {
        let output = self.output();
        let run = Run {
            stdout: String::from_utf8(output.stdout.clone()).expect("utf-8 stdout"),
            stderr: String::from_utf8(output.stderr.clone()).expect("utf-8 stderr"),
            output,
            dir: self.dir,
        };
        run.check(&self.args, &self.env, code, &self.expectations);
        run
    }

    /// Runs the binary to the end, feeding `stdin` from a thread so a large input cannot
    /// block against unread output.
    fn output(&self) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_plotward"))
            .args(&self.args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("HOME", self.dir.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run plotward");
        if self.stdout_closed {
            drop(child.stdout.take());
        }
        let feeder = self.stdin.clone().and_then(|text| {
            let mut pipe = child.stdin.take()?;
            // plotward may exit without reading it all: a broken pipe is no failure here.
            Some(std::thread::spawn(move || {
                let _ = pipe.write_all(text.as_bytes());
            }))
        });
        let output = child.wait_with_output().expect("run plotward");
        if let Some(feeder) = feeder {
            feeder.join().expect("feed stdin");
        }
        output
    }
}

/// An output stream of a run.
#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One thing a run must show.
enum Expect {
    /// The stream is exactly this text.
    Exactly(Stream, String),
    /// The stream holds this text somewhere.
    Contains(Stream, String),
    /// The stream nowhere holds this text.
    Lacks(Stream, String),
    /// Stdout equals this file (a path from the repository root).
    Fixture(String),
}

/// A finished run, for further checks.
pub(crate) struct Run {
    /// The raw output.
    pub output: Output,
    /// Stdout as text.
    pub stdout: String,
    /// Stderr as text.
    pub stderr: String,
    dir: TempDir,
}

impl Run {
    /// The absolute path of a file in the run's directory.
    pub(crate) fn path(&self, path: &str) -> PathBuf {
        self.dir.path().join(path)
    }

    /// Reads a file the run left in its directory.
    pub(crate) fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(path)).expect("read output file")
    }

    #[track_caller]
    fn check(&self, args: &[String], env: &[(String, String)], code: i32, expectations: &[Expect]) {
        let status = self.output.status.code();
        let mut failures = Vec::new();
        // Compare everything before panicking, so one run shows every mismatch.
        if status != Some(code) {
            failures.push(format!("exit status: expected {code}, got {status:?}"));
        }
        failures.extend(expectations.iter().filter_map(|e| self.mismatch(e)));
        if !failures.is_empty() {
            eprintln!("plotward {args:?} with the environment {env:?}");
            for failure in &failures {
                eprintln!("{failure}");
            }
            eprintln!("--- stdout\n{}--- stderr\n{}", self.stdout, self.stderr);
            panic!("plotward run did not match expectations");
        }
    }

    fn text(&self, stream: Stream) -> &str {
        match stream {
            Stream::Stdout => &self.stdout,
            Stream::Stderr => &self.stderr,
        }
    }

    /// What the run got wrong about one expectation, if anything.
    fn mismatch(&self, expectation: &Expect) -> Option<String> {
        match expectation {
            Expect::Exactly(stream, expected) => {
                let actual = self.text(*stream);
                (actual != expected)
                    .then(|| format!("{} differs:\n{}", stream.name(), diff(expected, actual)))
            }
            Expect::Contains(stream, needle) => (!self.text(*stream).contains(needle.as_str()))
                .then(|| format!("{} lacks {needle:?}", stream.name())),
            Expect::Lacks(stream, needle) => self
                .text(*stream)
                .contains(needle.as_str())
                .then(|| format!("{} holds {needle:?}, which it must not", stream.name())),
            Expect::Fixture(fixture) => fixture_mismatch(fixture, &self.stdout),
        }
    }
}

/// Compares stdout with a fixture. With `PLOTWARD_BLESS=1`, a fixture that differs (or is
/// missing) is rewritten with `actual` instead, and stderr says so.
fn fixture_mismatch(fixture: &str, actual: &str) -> Option<String> {
    let path = repo(fixture);
    let expected = std::fs::read_to_string(&path);
    if expected.as_deref().is_ok_and(|expected| expected == actual) {
        return None;
    }
    if std::env::var_os(BLESS).is_some_and(|value| value == "1") {
        std::fs::write(&path, actual).expect("rewrite the fixture");
        eprintln!("{BLESS}=1: rewrote {fixture} with this run's stdout; review its diff");
        return None;
    }
    Some(match expected {
        Ok(expected) => format!(
            "stdout differs from {fixture} ({BLESS}=1 rewrites it):\n{}",
            diff(&expected, actual)
        ),
        Err(err) => format!("cannot read {fixture}: {err} ({BLESS}=1 writes it)"),
    })
}

/// The environment variable that turns fixture mismatches into rewrites.
const BLESS: &str = "PLOTWARD_BLESS";

fn diff(expected: &str, actual: &str) -> String {
    StrComparison::new(expected, actual).to_string()
}

/// Kills a spawned process when dropped, so a failing assertion never leaves a server behind.
pub(crate) struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `plotward sandbox` process: its guard, its URL and the rest of its stdout (the banner).
pub(crate) struct SandboxProcess {
    /// Kills it when dropped.
    pub guard: ChildGuard,
    /// `http://127.0.0.1:PORT`, from the banner's first line.
    pub url: String,
    /// The banner's lines after the first.
    pub lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

/// Starts `plotward sandbox --addr 127.0.0.1:0 ARGS` with a cleared environment, and reads its
/// URL from the first line it prints.
pub(crate) fn sandbox_process<I, S>(args: I) -> SandboxProcess
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    use std::io::BufRead;
    let mut guard = ChildGuard(
        Command::new(env!("CARGO_BIN_EXE_plotward"))
            .args(["sandbox", "--addr", "127.0.0.1:0"])
            .args(args)
            .env_clear()
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start plotward sandbox"),
    );
    let stdout = guard.0.stdout.take().expect("stdout is piped");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let first = lines
        .next()
        .and_then(Result::ok)
        .expect("the sandbox prints its URL");
    let url = first.rsplit(' ').next().unwrap_or_default().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{first}");
    SandboxProcess { guard, url, lines }
}

/// Runs `plotward ARGS` under a pseudo-terminal (`script` from util-linux) in `dir` (the test's
/// own directory when `None`), with a cleared environment but for `PATH`, `TERM` and `env`,
/// typing `input`; returns the exit code and the terminal's text. Bounded: a hang fails the
/// test instead of CI.
pub(crate) fn on_terminal(
    dir: Option<&Path>,
    args: &str,
    input: &str,
    env: &[(&str, &str)],
) -> (Option<i32>, String) {
    use std::io::Read;
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_plotward"));
    let mut script = Command::new("script");
    script
        .args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TERM", "xterm")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    if let Some(dir) = dir {
        script.current_dir(dir);
    }
    let mut guard = ChildGuard(script.spawn().expect("run script(1)"));
    let child = &mut guard.0;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "plotward hung on a terminal"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut text = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    (status.code(), text)
}
