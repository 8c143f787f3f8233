use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pretty_assertions::StrComparison;
use tempfile::TempDir;

/// The repository root, to reach `examples/` and `policies/`.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Removes the indentation common to all non-blank lines, and one leading newline, so expected
/// text can be written indented in the test source and still read like the terminal.
pub fn unindent(text: &str) -> String {
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
pub struct Test {
    dir: TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdout: Option<String>,
    stderr: Option<String>,
}

impl Test {
    /// A fresh temporary directory and no arguments.
    pub fn new() -> Test {
        Test {
            dir: tempfile::tempdir().expect("temporary directory"),
            args: Vec::new(),
            env: Vec::new(),
            stdout: None,
            stderr: None,
        }
    }

    /// Writes a file into the directory (the text is unindented).
    pub fn write(self, path: &str, text: &str) -> Test {
        let target = self.dir.path().join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(target, unindent(text)).expect("write test file");
        self
    }

    /// Copies a repository file to the same relative path in the directory, byte for byte.
    pub fn copy(self, path: &str) -> Test {
        let target = self.dir.path().join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::copy(repo(path), target).expect("copy a repository file");
        self
    }

    /// The absolute path of a file in the test's directory, to prepare what `write` cannot
    /// (symlinks, FIFOs, devices).
    pub fn path(&self, path: &str) -> PathBuf {
        self.dir.path().join(path)
    }

    /// Writes `plotward.yaml`, the default policy file.
    pub fn policy(self, yaml: &str) -> Test {
        self.write("plotward.yaml", yaml)
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, args: I) -> Test {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable (the environment is otherwise empty).
    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Expects exactly this stdout (unindented).
    pub fn stdout(mut self, text: &str) -> Test {
        self.stdout = Some(unindent(text));
        self
    }

    /// Expects exactly this stderr (unindented).
    pub fn stderr(mut self, text: &str) -> Test {
        self.stderr = Some(unindent(text));
        self
    }

    /// Runs the binary and checks the exit code and whichever outputs were given.
    #[track_caller]
    pub fn status(self, code: i32) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_plotward"))
            .args(&self.args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("HOME", self.dir.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("run plotward");
        let run = Run {
            stdout: String::from_utf8(output.stdout.clone()).expect("utf-8 stdout"),
            stderr: String::from_utf8(output.stderr.clone()).expect("utf-8 stderr"),
            output,
            dir: self.dir,
        };
        run.check(code, self.stdout.as_deref(), self.stderr.as_deref());
        run
    }
}

/// A finished run, for further checks.
pub struct Run {
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
    pub fn path(&self, path: &str) -> PathBuf {
        self.dir.path().join(path)
    }

    /// Reads a file the run left in its directory.
    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(path)).expect("read output file")
    }

    #[track_caller]
    fn check(&self, code: i32, stdout: Option<&str>, stderr: Option<&str>) {
        let status = self.output.status.code();
        let mut failed = false;
        // Compare everything before panicking, so one run shows every mismatch.
        if status != Some(code) {
            eprintln!("exit status: expected {code}, got {status:?}");
            failed = true;
        }
        for (name, expected, actual) in [
            ("stdout", stdout, &self.stdout),
            ("stderr", stderr, &self.stderr),
        ] {
            if let Some(expected) = expected
                && actual != expected
            {
                eprintln!("{name} differs:\n{}", diff(expected, actual));
                failed = true;
            }
        }
        if failed {
            eprintln!("--- stdout\n{}--- stderr\n{}", self.stdout, self.stderr);
            panic!("plotward run did not match expectations");
        }
    }
}

fn diff(expected: &str, actual: &str) -> String {
    StrComparison::new(expected, actual).to_string()
}

/// Kills a spawned process when dropped, so a failing assertion never leaves a server behind.
pub struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `plotward sandbox` process: its guard, its URL and the rest of its stdout (the banner).
pub struct SandboxProcess {
    /// Kills it when dropped.
    pub guard: ChildGuard,
    /// `http://127.0.0.1:PORT`, from the banner's first line.
    pub url: String,
    /// The banner's lines after the first.
    pub lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

/// Starts `plotward sandbox --addr 127.0.0.1:0 ARGS` with a cleared environment, and reads its
/// URL from the first line it prints.
pub fn sandbox_process<I, S>(args: I) -> SandboxProcess
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
