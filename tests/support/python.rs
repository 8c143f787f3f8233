//! The one virtualenv helper, for the integration tests (`tests/integration/interop.rs`) and
//! the benchmarks (`benches/scale.rs`), each of which includes this file with
//! `#[path = ...] mod python;`.
//!
//! A virtualenv lives under the target directory (`CARGO_TARGET_TMPDIR`) and is made once: a
//! marker file naming the requirements is written only after pip succeeded, so a changed list
//! or an interrupted install starts again from a cleared virtualenv, and later runs reuse it
//! without touching the network.
//!
//! Making one needs the Python Package Index. Offline, a test that needs it fails with a
//! message saying how to skip it: with `PLOTWARD_SKIP_PYPI` set (to anything but nothing),
//! [`venv_python`] prints `skipped: <test name> (PLOTWARD_SKIP_PYPI is set)` and returns
//! `None`, and the test returns, passing. `.ci/run` never sets it (a test checks), so CI
//! always runs them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, PoisonError};

/// The variable that skips the tests needing `PyPI`.
pub(crate) const SKIP_VAR: &str = "PLOTWARD_SKIP_PYPI";

/// The python of the virtualenv `name`, with `requirements` (as pip takes them; pin versions
/// with `==`) installed from the Python Package Index the first time; `None`, after printing
/// that the calling test is skipped, when `PLOTWARD_SKIP_PYPI` is set. Panics, naming the
/// variable, when the virtualenv cannot be made.
#[must_use = "a test returns (skipped) when there is no python"]
pub(crate) fn venv_python(name: &str, requirements: &[&str]) -> Option<PathBuf> {
    // Tests run in threads: one makes the virtualenv, the others wait and reuse it. A panic
    // while making it leaves the next caller to try again, so the lock's poison is ignored.
    static MAKING: Mutex<()> = Mutex::new(());
    if std::env::var_os(SKIP_VAR).is_some_and(|v| !v.is_empty()) {
        report_skip();
        return None;
    }
    let _making = MAKING.lock().unwrap_or_else(PoisonError::into_inner);
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    match make_venv(&venv, requirements, &[]) {
        Ok(python) => Some(python),
        Err(message) => panic!("{message}"),
    }
}

/// Says on the real stderr (not the test's captured output, so it shows in a passing run)
/// which test was skipped: libtest names each test's thread after the test.
fn report_skip() {
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("a test that needs PyPI");
    let _ = writeln!(std::io::stderr(), "skipped: {name} ({SKIP_VAR} is set)");
}

/// Makes (or reuses) the virtualenv at `venv` with `requirements`, running pip with
/// `pip_env` added to its environment; the error says what failed and how to skip.
pub(crate) fn make_venv(
    venv: &Path,
    requirements: &[&str],
    pip_env: &[(&str, &str)],
) -> Result<PathBuf, String> {
    let python = venv.join("bin").join("python");
    let marker =
        venv.join(format!("installed {}", requirements.join(" ")).replace(['<', '>', '='], "_"));
    if marker.exists() {
        return Ok(python);
    }
    run(
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(venv),
        "python3 with the venv module is needed to make it",
    )?;
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(requirements)
            .envs(pip_env.iter().copied()),
        &format!("pip needs PyPI (or a mirror pip is set up for) to install {requirements:?}"),
    )?;
    std::fs::write(&marker, "")
        .map_err(|err| format!("cannot write {}: {err}", marker.display()))?;
    Ok(python)
}

/// Runs a setup step of the virtualenv; the error names `needs`, the step's output and how to
/// skip the tests that need it.
fn run(command: &mut Command, needs: &str) -> Result<(), String> {
    let skip = format!(
        "to run the other tests without the network, set {SKIP_VAR}=1: the tests that need PyPI \
         then report themselves as skipped, by name, and pass"
    );
    let output = command
        .output()
        .map_err(|err| format!("cannot run {command:?} ({needs}): {err}\n{skip}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{command:?} failed ({needs}):\n{}{}\n{skip}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}
