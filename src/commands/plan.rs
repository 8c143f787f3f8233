//! `plan` and `snapshot`: read the account (or a snapshot), diff, render.

use std::path::PathBuf;

use super::{Io, outfile, write_atomically};
use crate::config::{Input, PlanConfig, Remote};
use crate::error::{Error, Exit};
use crate::inventory::Inventory;
use crate::plan::{self, Plan};
use crate::policy::{Policy, Targets};
use crate::remote::Client;
use crate::render::{self, Format, PlanView, ShowOptions};
use crate::wire::plan::{PlanFile, Source};
use crate::wire::snapshot::{Snapshot, SnapshotSource};

/// `plan`: the diff, rendered; saved as JSON with `--out`. Never writes to the account.
pub(crate) fn plan(config: &PlanConfig, io: &mut Io<'_>) -> Result<Exit, Error> {
    refuse_out_over_inputs(config)?;
    if let [_, _, ..] = config.policies.as_slice() {
        return super::accounts::plan(config, io);
    }
    // The policy first: a typo should not cost a listing of the whole account.
    let policy = super::load_policy(&config.policies[0])?;
    let (inventory, source) = load_inventory(&config.input, Some(&policy), true, io)?;
    super::refuse_unmatched_targets(&config.targets, &inventory)?;
    let json_to_stdout = config.out.as_deref().is_some_and(outfile::is_stdout);
    let Shown { plan, file, .. } = if json_to_stdout {
        // `--out -`: stdout carries the saved plan alone; the plan for people goes to stderr.
        let mut shown = Vec::new();
        let planned = show_plan(
            &policy,
            (&inventory, &config.targets),
            source,
            (config.format, show_options(config)),
            &mut Io {
                out: &mut shown,
                out_painter: io.err_painter,
                err: &mut *io.err,
                err_painter: io.err_painter,
                progress: io.progress,
                stdin_is_terminal: io.stdin_is_terminal,
            },
        )?;
        if config.format != Format::Json {
            io.err.write_all(&shown)?;
        }
        planned
    } else {
        show_plan(
            &policy,
            (&inventory, &config.targets),
            source,
            (config.format, show_options(config)),
            io,
        )?
    };
    if let Some(path) = &config.out {
        let mut bytes = Vec::new();
        render::json::write(&file, &mut bytes)?;
        if json_to_stdout {
            io.out.write_all(&bytes)?;
        } else {
            write_atomically(path, &bytes)?;
        }
    }
    if config.strict && super::fails_strict(&plan, io)? {
        return Ok(Exit::Failure);
    }
    // A broken guardrail is a refusal, not a pending change: exit 1, so `|| [ $? -eq 2 ]`
    // in CI cannot let it through. The plan is still printed and saved, marked.
    if !file.guardrails.is_empty() {
        render::text::guardrail_refusal(
            file.guardrails.len(),
            &policy.name,
            io.err_painter,
            io.err,
        )?;
        return Ok(Exit::Failure);
    }
    let pending = plan.summary().has_changes();
    Ok(if pending && config.detailed_exitcode {
        Exit::Changes
    } else {
        Exit::Success
    })
}

/// How `plan` shows its plan: what `show` of the saved plan would be given.
pub(super) fn show_options(config: &PlanConfig) -> ShowOptions {
    ShowOptions {
        full: config.full,
        saved_as: config
            .out
            .as_deref()
            .filter(|path| !outfile::is_stdout(path))
            .map(|path| path.display().to_string()),
        artifact_url: config.artifact_url.clone(),
    }
}

/// `--out` must not replace the plan's own inputs (`--out plotward.yaml` would leave plan JSON
/// where the policy was), and must be a file that can be written, checked before the plan.
fn refuse_out_over_inputs(config: &PlanConfig) -> Result<(), Error> {
    refuse_out_over(
        "plan",
        config.out.as_deref(),
        &config.policies,
        &config.input,
    )?;
    match config.out.as_deref().filter(|p| !outfile::is_stdout(p)) {
        Some(out) => outfile::refuse_unwritable(out),
        None => Ok(()),
    }
}

/// An output file (`plan`, `check`, `snapshot`, `export --out`) must not be the policy or the
/// snapshot read.
pub(super) fn refuse_out_over(
    command: &'static str,
    out: Option<&std::path::Path>,
    policies: &[PathBuf],
    input: &Input,
) -> Result<(), Error> {
    let Some(out) = out.filter(|p| !outfile::is_stdout(p)) else {
        return Ok(());
    };
    let snapshot = match input {
        Input::Snapshot(path) => Some(path.clone()),
        Input::Live(_) => None,
    };
    let inputs: Vec<PathBuf> = policies.iter().cloned().chain(snapshot).collect();
    refuse_outputs_over(command, std::iter::once(out.to_path_buf()), &inputs)
}

/// Refuses the first output that is one of `inputs`, compared as files (device and inode),
/// so a symlink or hard link to a policy is caught too; an output not there yet is none.
pub(super) fn refuse_outputs_over(
    command: &'static str,
    outputs: impl IntoIterator<Item = PathBuf>,
    inputs: &[PathBuf],
) -> Result<(), Error> {
    for output in outputs {
        if inputs.iter().any(|input| is_same_file(&output, input)) {
            return Err(crate::error::UsageError::OutIsInput {
                command,
                path: output,
            }
            .into());
        }
    }
    Ok(())
}

/// `--audit-log` must not be one of the command's inputs: appending JSON lines to a policy or a
/// saved plan would break the next run (and `watch`'s next reload and restart).
pub(super) fn refuse_audit_log_over(
    command: &'static str,
    path: &std::path::Path,
    inputs: &[PathBuf],
) -> Result<(), Error> {
    if inputs.iter().any(|input| is_same_file(path, input)) {
        return Err(crate::error::UsageError::AuditLogIsInput {
            command,
            path: path.to_owned(),
        }
        .into());
    }
    Ok(())
}

/// Whether two paths name one file. Compared by `stat` (following links), never by opening:
/// opening an output that is a FIFO would block forever, and such outputs are refused later
/// with their own message.
fn is_same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

/// Reads the inventory from a snapshot or the live account (through a read-only client when
/// `read_only`), with where it came from.
pub(super) fn load_inventory(
    input: &Input,
    policy: Option<&Policy>,
    read_only: bool,
    io: &mut Io<'_>,
) -> Result<(Inventory, Source), Error> {
    Ok(match input {
        Input::Snapshot(path) => (
            crate::snapshot::load(path)?,
            Source::Snapshot {
                path: path.display().to_string(),
            },
        ),
        Input::Live(live) => {
            let remote = live.remote(policy)?;
            let (runtime, client) = super::connect(&remote, read_only, io)?;
            let inventory = runtime.block_on(list_account(&client, &remote, io))?;
            (inventory, api_source(&client))
        }
    })
}

/// Where a live plan came from, as saved plans record it.
pub(super) fn api_source(client: &Client) -> Source {
    Source::Api {
        api_url: client.api_url(),
        user: client.username().to_owned(),
    }
}

/// Diffs and renders a plan (warning about dead rules on stderr); returns it in both forms.
pub(super) fn show_plan<'i>(
    policy: &Policy,
    (inventory, targets): (&'i Inventory, &Targets),
    source: Source,
    (format, options): (Format, ShowOptions),
    io: &mut Io<'_>,
) -> Result<Shown<'i>, Error> {
    render::diagnostic::warnings(policy, io.err_painter, io.err)?;
    let plan = plan::diff_targeted(policy, inventory, targets);
    let breaches = plan::breaches(&plan, &policy.guardrails);
    // The text plan lists dead rules itself; other formats are for machines and reviews, so
    // a person at the terminal still hears about them on stderr.
    if format != Format::Text {
        render::text::dead_rule_warnings(
            &plan.dead_rules,
            &plan.dead_patterns,
            &policy.name,
            io.err_painter,
            io.err,
        )?;
    }
    let file = render::json::plan_file(&plan, policy, (source, targets.patterns()), &breaches);
    // Shown through the document it saves, as `plotward show` shows a saved one: the two
    // print the same bytes.
    let view = PlanView::new(file, options).map_err(Error::Unshowable)?;
    render::plan(&view, format, io.out_painter, io.out)?;
    Ok(Shown {
        plan,
        breaches,
        file: view.into_document(),
    })
}

/// What [`show_plan`] computed and printed: the plan, the guardrails it breaks, and its JSON
/// form (what `--out` saves).
pub(super) struct Shown<'i> {
    pub(super) plan: Plan<'i>,
    pub(super) breaches: Vec<crate::plan::Breach>,
    pub(super) file: PlanFile,
}

/// Lists the account with a progress bar on a terminal, warning about files that could not
/// be placed in the folder tree, other users' files that were skipped, and a listing that was
/// not proven complete.
pub(super) async fn list_account(
    client: &Client,
    remote: &Remote,
    io: &mut Io<'_>,
) -> Result<Inventory, Error> {
    let progress = io.progress_bar("listing pages");
    let listing = client
        .list(remote.parallelism, &progress, remote.accept_count_mismatch)
        .await?;
    render::text::listing_warnings(&listing, io.err_painter, io.err)?;
    Ok(listing.inventory)
}

/// `snapshot`: the live account in the snapshot format; a policy given names the account.
pub(crate) fn snapshot(
    out: Option<&std::path::Path>,
    policies: &[PathBuf],
    live: &crate::config::Live,
    io: &mut Io<'_>,
) -> Result<Exit, Error> {
    if let [_, _, ..] = policies {
        return super::accounts_files::snapshot(out, policies, live, io);
    }
    let policy = super::one_account_policy("snapshot", policies)?;
    let written = out.filter(|path| !outfile::is_stdout(path));
    refuse_outputs_over(
        "snapshot",
        written.map(std::path::Path::to_path_buf),
        policies,
    )?;
    written.map(outfile::refuse_unwritable).transpose()?;
    let remote = live.remote(policy.as_ref())?;
    let (runtime, client) = super::connect(&remote, true, io)?;
    let inventory = runtime.block_on(list_account(&client, &remote, io))?;
    let source = SnapshotSource {
        api_url: Some(client.api_url()),
        user: Some(client.username().to_owned()),
        taken_at: Some(humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()),
    };
    let snapshot = Snapshot::from_inventory(&inventory, Some(source));
    let mut bytes = Vec::new();
    render::json::write(&snapshot, &mut bytes)?;
    match out.filter(|path| !outfile::is_stdout(path)) {
        Some(path) => {
            write_atomically(path, &bytes)?;
            render::text::snapshot_written(path, inventory.len(), io.err_painter, io.err)?;
        }
        None => io.out.write_all(&bytes)?,
    }
    Ok(Exit::Success)
}
