//! The one virtualenv helper, for the integration tests (`tests/integration/interop.rs`) and
//! the benchmarks (`benches/scale.rs`), each of which includes this file with
//! `#[path = ...] mod python;`.
//!
//! A virtualenv lives under the target directory (`CARGO_TARGET_TMPDIR`) and is made once: a
//! marker file naming the requirements is written only after pip succeeded, so a changed list
//! or an interrupted install starts again from a cleared virtualenv, and later runs reuse it
//! without touching the network.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, PoisonError};

/// The python of the virtualenv `name`, with `requirements` (as pip takes them; pin versions
/// with `==`) installed from the Python Package Index the first time.
pub(crate) fn venv_python(name: &str, requirements: &[&str]) -> PathBuf {
    // Tests run in threads: one makes the virtualenv, the others wait and reuse it. A panic
    // while making it leaves the next caller to try again, so the lock's poison is ignored.
    static MAKING: Mutex<()> = Mutex::new(());
    let _making = MAKING.lock().unwrap_or_else(PoisonError::into_inner);
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let python = venv.join("bin").join("python");
    let marker =
        venv.join(format!("installed {}", requirements.join(" ")).replace(['<', '>', '='], "_"));
    if !marker.exists() {
        run(
            Command::new("python3")
                .args(["-m", "venv", "--clear"])
                .arg(&venv),
            "python3 with the venv module is needed to make it",
        );
        run(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(requirements),
            &format!("pip needs PyPI (or a mirror pip is set up for) to install {requirements:?}"),
        );
        std::fs::write(&marker, "").expect("write the virtualenv's install marker");
    }
    python
}

/// Runs a setup step of the virtualenv, panicking with `needs` and the step's output if it
/// fails.
#[track_caller]
fn run(command: &mut Command, needs: &str) {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("cannot run {command:?} ({needs}): {err}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({needs}):\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
