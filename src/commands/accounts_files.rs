//! `snapshot` and `export` over several accounts: one file per account in a directory.
//!
//! `snapshot -p a.yaml -p b.yaml --out DIR` writes `DIR/<user>.json` and `export ... --out
//! DIR` writes `DIR/<user>.yaml` (each exported policy naming its account, so it can be given
//! to `-p` as it is); `export ... --diff DIR` compares each account's export with
//! `DIR/<user>.yaml`, the layout `export --out DIR` writes. Files are named after the user the
//! policy names (checked by `inventory::is_username`: no `/`, `\`, `:`, control character or
//! whitespace, so a name is one path component that cannot climb out of DIR), and two
//! accounts whose names would collide (on two servers, or differing only in case) are refused
//! before any request. Accounts run concurrently as for `plan`; each job writes its own file
//! (atomically, replacing one that is there, as `--out FILE` does), so only what is in flight
//! is held. One account failing does not stop the others; the run then exits 1.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Io;
use super::accounts::{self, Access, Done};
use crate::config::{Input, Live, Remote};
use crate::error::{Error, Exit, UsageError};
use crate::policy::Policy;
use crate::remote::Client;
use crate::render::accounts::{self as sections, Framing, Label};
use crate::render::{self, Painter};

/// `snapshot` with several policies: `DIR/<user>.json` per account.
pub(super) fn snapshot(
    out: Option<&Path>,
    policies: &[PathBuf],
    live: &Live,
    io: &mut Io<'_>,
) -> Result<Exit, Error> {
    let dir = Arc::new(directory("snapshot", out)?);
    let accounts = accounts::accounts(policies, live)?;
    refuse_same_names(&accounts)?;
    refuse_files_over_policies("snapshot", &dir, "json", &accounts, policies)?;
    make_directory(&dir)?;
    let runtime = super::runtime()?;
    let run = (accounts, Access::ReadOnly);
    let done = accounts::run_all(&runtime, run, live, |_, _, client, remote| {
        let path = dir.join(format!("{}.json", client.username()));
        async move { snapshot_one(&client, &remote, path).await }
    })?;
    report(&done, io)
}

/// `export` with several policies: `DIR/<user>.yaml` per account, or with `--diff DIR` the
/// difference from each.
pub(super) fn export(
    input: &Input,
    policies: &[PathBuf],
    out: Option<&Path>,
    diff: Option<&Path>,
    io: &mut Io<'_>,
) -> Result<Exit, Error> {
    let live = accounts::live(input)?;
    let dir = Arc::new(match diff {
        Some(dir) => dir.to_path_buf(),
        None => directory("export", out)?,
    });
    let accounts = accounts::accounts(policies, live)?;
    refuse_same_names(&accounts)?;
    if diff.is_none() {
        refuse_files_over_policies("export", &dir, "yaml", &accounts, policies)?;
        make_directory(&dir)?;
    }
    let runtime = super::runtime()?;
    let run = (accounts, Access::ReadOnly);
    let diffing = diff.is_some();
    let done = accounts::run_all(&runtime, run, live, |_, policy, client, remote| {
        let path = dir.join(format!("{}.yaml", client.username()));
        async move { export_one(&policy, &client, &remote, (path, diffing)).await }
    })?;
    if !diffing {
        return report(&done, io);
    }
    accounts::write_stderr(&done, io)?;
    let mut differs = false;
    for (label, done) in &done {
        sections::header(label, Framing::Comment, io.out_painter, io.out)?;
        match &done.result {
            Ok(text) => {
                differs |= done.refused;
                io.out.write_all(text)?;
            }
            Err(error) => sections::failed(error, Framing::Comment, io.out)?,
        }
    }
    Ok(if done.iter().any(|(_, d)| d.result.is_err()) {
        Exit::Failure
    } else if differs {
        Exit::Changes
    } else {
        Exit::Success
    })
}

/// The directory `--out` names; several accounts need one (stdout holds one document).
fn directory(command: &'static str, out: Option<&Path>) -> Result<PathBuf, Error> {
    match out.filter(|path| !super::outfile::is_stdout(path)) {
        Some(dir) => Ok(dir.to_path_buf()),
        None => Err(UsageError::SeveralPoliciesNeedDir { command }.into()),
    }
}

/// Refuses two accounts whose files would share a name: the same user on two servers, or
/// users differing only in case (one file on a case-insensitive file system).
fn refuse_same_names(accounts: &[accounts::Account]) -> Result<(), Error> {
    let mut seen: std::collections::HashMap<String, &Label> = std::collections::HashMap::new();
    for account in accounts {
        let label = &account.label;
        if let Some(first) = seen.insert(label.user.to_lowercase(), label) {
            return Err(UsageError::SameFileName {
                user: label.user.clone(),
                first: first.policy.clone(),
                second: label.policy.clone(),
            }
            .into());
        }
    }
    Ok(())
}

/// Refuses a run whose file for some account (`DIR/<user>.EXT`) is one of the policies given
/// (`export -p teams/a.yaml -p teams/b.yaml --out teams` would replace `teams/b.yaml`), before
/// anything is sent or written. The name is the configured user's, the one each file gets.
fn refuse_files_over_policies(
    command: &'static str,
    dir: &Path,
    extension: &str,
    accounts: &[accounts::Account],
    policies: &[PathBuf],
) -> Result<(), Error> {
    let files = accounts
        .iter()
        .map(|account| dir.join(format!("{}.{extension}", account.label.user)));
    super::plan::refuse_outputs_over(command, files, policies)
}

/// Creates the directory (and its parents) if it is not there; refuses a path that is there
/// but not a directory.
fn make_directory(dir: &Path) -> Result<(), Error> {
    let failed = |source| Error::WriteFile {
        path: dir.to_path_buf(),
        source,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(failed(std::io::Error::other(
            "not a directory (several policies write one file per account into --out DIR)",
        )));
    }
    std::fs::create_dir_all(dir).map_err(failed)
}

/// Each account in policy order: its warnings and, if it failed, why, under one line naming
/// it; then what was written. Exit 1 if an account failed.
fn report(done: &[(Label, Done<Vec<u8>>)], io: &mut Io<'_>) -> Result<Exit, Error> {
    for (label, done) in done {
        if !done.stderr.is_empty() || done.result.is_err() {
            sections::stderr_header(label, io.err)?;
            io.err.write_all(&done.stderr)?;
        }
        match &done.result {
            Ok(note) => io.err.write_all(note)?,
            Err(error) => sections::failed(error, Framing::Text, io.err)?,
        }
    }
    Ok(if done.iter().any(|(_, d)| d.result.is_err()) {
        Exit::Failure
    } else {
        Exit::Success
    })
}

/// One account's snapshot, written to `path`; the line saying so.
async fn snapshot_one(client: &Client, remote: &Remote, path: PathBuf) -> Done<Vec<u8>> {
    let mut stderr = Vec::new();
    let result = async {
        let inventory = accounts::list(client, remote, &mut stderr).await?;
        let source = crate::wire::snapshot::SnapshotSource {
            api_url: Some(client.api_url()),
            user: Some(client.username().to_owned()),
            taken_at: Some(
                humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            ),
        };
        let snapshot = crate::wire::snapshot::Snapshot::from_inventory(&inventory, Some(source));
        let mut bytes = Vec::new();
        render::json::write(&snapshot, &mut bytes)?;
        drop(snapshot);
        let files = inventory.len();
        drop(inventory);
        let path = write_off_thread(path, bytes).await?;
        let mut note = Vec::new();
        render::text::snapshot_written(&path, files, Painter::new(false), &mut note)?;
        Ok::<_, Error>(note)
    }
    .await;
    done(result, stderr, false)
}

/// One account's exported policy (naming its account), written to `path`; or, when
/// `diffing`, its difference from the policy at `path` (`refused` then says they differ).
async fn export_one(
    policy: &Policy,
    client: &Client,
    remote: &Remote,
    (path, diffing): (PathBuf, bool),
) -> Done<Vec<u8>> {
    let mut stderr = Vec::new();
    let mut differs = false;
    let result = async {
        let inventory = accounts::list(client, remote, &mut stderr).await?;
        let exported = crate::export::export(&inventory)?;
        let source = super::plan::api_source(client);
        let yaml = render::text::exported_policy(
            &exported,
            inventory.coverage(),
            &source,
            policy.account.as_ref(),
        );
        super::export::check_readable(&yaml)?;
        let mut text = Vec::new();
        if diffing {
            let existing = crate::limits::read_text(&path, crate::limits::MAX_POLICY_BYTES)
                .map_err(|source| Error::ReadFile {
                    path: path.clone(),
                    source,
                })?;
            let shown = path.display().to_string();
            let unified = render::diff::unified(&existing, &yaml, &shown, "exported");
            differs = !unified.is_empty();
            if differs {
                text.extend_from_slice(unified.as_bytes());
            } else {
                render::text::export_unchanged(&shown, Painter::new(false), &mut text)?;
            }
        } else {
            let files = inventory.len();
            let path = write_off_thread(path, yaml.into_bytes()).await?;
            render::text::export_written(&path, &exported, files, Painter::new(false), &mut text)?;
        }
        Ok::<_, Error>(text)
    }
    .await;
    done(result, stderr, differs)
}

/// Writes a file atomically on a blocking thread, so a large one does not stall the
/// runtime's workers; gives the path back.
async fn write_off_thread(path: PathBuf, bytes: Vec<u8>) -> Result<PathBuf, Error> {
    tokio::task::spawn_blocking(move || super::write_atomically(&path, &bytes).map(|()| path))
        .await
        .map_err(|err| Error::Runtime(std::io::Error::other(err.to_string())))?
}

/// A job's result as its `Done` (`flag`: the export differs).
fn done(result: Result<Vec<u8>, Error>, stderr: Vec<u8>, flag: bool) -> Done<Vec<u8>> {
    match result {
        Ok(text) => Done {
            result: Ok(text),
            stderr,
            refused: flag,
        },
        Err(err) => Done {
            stderr,
            ..accounts::failure(&err)
        },
    }
}
