//! The README's install command, run: `cargo install --locked --git URL plotward` of this
//! repository into a temporary root, then the installed `plotward --version`.
//!
//! It installs from a `file://` URL of the repository at its checked-out commit, so it builds
//! only what is committed, as someone installing from the forge would. A copy of the sources
//! that is not a git repository falls back to `--path`. The nested cargo gets a target
//! directory of its own under `target/` (sharing the outer `cargo test`'s would block on its
//! lock), kept between runs so later runs rebuild only plotward; `--debug`, because this checks
//! that the install works, not how fast the result runs, and a debug build of the dependencies
//! takes about half the time of a release build.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::repo;

/// The commit checked out in the repository, if it is a git repository.
fn head_commit(root: &Path) -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "--verify", "HEAD"])
        .current_dir(root)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `cargo install` of this repository into `root`, as the README says (`--git`), or from
/// the directory when there is no git history to install from.
fn install(root: &Path) -> std::process::Output {
    let source = repo("");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join("install-target");
    forget_own_crates(&target);
    let mut command = Command::new(cargo);
    command
        .args(["install", "--locked", "--debug", "--quiet", "--root"])
        .arg(root)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTC_WRAPPER");
    match head_commit(&source) {
        Some(commit) => command
            .arg("--git")
            .arg(format!("file://{}", source.display()))
            .args(["--rev", &commit]),
        None => command.arg("--path").arg(&source),
    };
    command.arg("plotward").output().expect("run cargo install")
}

/// Removes what the install target holds of this workspace's own crates, keeping the
/// dependencies' builds. Cargo takes a crate from a git source as fresh when its package id
/// (name, version, repository) is unchanged, whatever the commit: a second install at another
/// commit linked the new `plotward` against the old `plotward-visible` and failed to compile
/// (seen). The dependencies never change without Cargo.lock changing their versions.
fn forget_own_crates(target: &Path) {
    for dir in ["debug/.fingerprint", "debug/deps"] {
        let Ok(entries) = std::fs::read_dir(target.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("plotward") || name.starts_with("libplotward") {
                let path = entry.path();
                let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
            }
        }
    }
}

#[test]
fn cargo_install_of_the_repository_installs_this_version() {
    let root = tempfile::tempdir().unwrap();
    let output = install(root.path());
    assert!(
        output.status.success(),
        "cargo install failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let installed = root.path().join("bin").join("plotward");
    let version = Command::new(&installed)
        .arg("--version")
        .env_clear()
        .output()
        .expect("run the installed plotward");
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("plotward {}", env!("CARGO_PKG_VERSION")),
        "the installed binary is Cargo.toml's version"
    );
}
