//! `apply`: plan and confirm, or check a saved plan; then carry it out.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Io;
use super::plan::{api_source, list_account, show_plan};
use crate::apply::{self, AuditLog, Cancelled, Change, Refusal, Report, SavedPlan, Watches};
use crate::config::ApplyConfig;
use crate::error::{Error, Exit};
use crate::policy::{Policy, Targets};
use crate::remote::Client;
use crate::render::{self, Format, ShowOptions};
use crate::wire::plan::PlanFile;

/// `apply`. With a saved plan, the plan is carried out only under the policy it was made from
/// (its digest) and only while a fresh plan of that policy still says exactly the same;
/// without one, the fresh plan is shown and confirmed. Either way `never_public` is checked
/// once more against the current policy just before writing, and no flag overrides it.
pub(crate) fn apply(config: &ApplyConfig, io: &mut Io<'_>) -> Result<Exit, Error> {
    let document = config
        .plan_file
        .as_deref()
        .map(|path| read_plan_document(path).map(|document| (path.to_path_buf(), document)))
        .transpose()?;
    let saved = match document {
        Some((path, PlanDocument::Several(file))) => {
            return super::apply_accounts::apply(config, Some((path, file)), io);
        }
        Some((path, PlanDocument::One(file))) => Some(check_plan_file(&path, *file)?),
        None => None,
    };
    if let [_, _, ..] = config.policies.as_slice() {
        if saved.is_some() {
            return Err(crate::error::UsageError::SeveralPoliciesWithPlanFile.into());
        }
        return super::apply_accounts::apply(config, None, io);
    }
    let policy = super::load_policy(&config.policies[0])?;
    if let Some((path, plan)) = &saved {
        apply::check_digest(path, plan, &policy)?;
        apply::check_targets(path, plan, config.targets.patterns())?;
    }
    let asks = saved.is_none() && !config.auto_approve;
    if asks && !io.stdin_is_terminal {
        // Never hang on a question nobody can answer, and never apply unasked.
        return Err(Error::Cancelled(Cancelled::NoTerminal));
    }
    let audit = open_audit(config)?;
    let remote = config.remote.remote(Some(&policy))?;
    let (runtime, client) = super::connect(&remote, false, io)?;
    runtime.block_on(async {
        let inventory = list_account(&client, &remote, io).await?;
        let (changes, watches, targets) = if let Some((path, plan)) = saved {
            let targets = plan.targets.clone();
            let (changes, watches) =
                confirm_saved(&path, plan, &policy, &client, &inventory, config.force, io)?;
            (changes, watches, targets)
        } else {
            super::refuse_unmatched_targets(&config.targets, &inventory)?;
            let fresh = (&inventory, &config.targets);
            let Some((changes, watches)) =
                show_and_confirm(&policy, fresh, &client, config.force, asks, io)?
            else {
                return Ok(Exit::Success);
            };
            (changes, watches, config.targets.patterns().to_vec())
        };
        apply::refuse_never_public(&changes, &policy)?;
        let options = apply::Options {
            parallelism: remote.parallelism,
            max_writes: config.max_writes,
            share_key_timeout: config.share_key_timeout,
        };
        // The report of a targeted run says so first, as its plan did.
        render::text::targeted(&targets, io.out)?;
        let report = carry_out(&client, changes, &watches, options, audit, io).await?;
        Ok(exit_for(&report))
    })
}

/// Opens `--audit-log`, if given, before anything is listed.
pub(super) fn open_audit(config: &ApplyConfig) -> Result<Option<Arc<AuditLog>>, Error> {
    let Some(path) = &config.audit_log else {
        return Ok(None);
    };
    if super::outfile::is_stdout(path) {
        // Apply's report is on stdout: its lines and the audit's would be one stream.
        return Err(Error::WriteFile {
            path: path.clone(),
            source: std::io::Error::other(
                "apply prints its report on stdout; give the audit log a file \
                 (`--audit-log -` is for watch)",
            ),
        });
    }
    let inputs: Vec<_> = config
        .policies
        .iter()
        .chain(&config.plan_file)
        .cloned()
        .collect();
    super::plan::refuse_audit_log_over("apply", path, &inputs)?;
    let log = AuditLog::open(path).map_err(|source| Error::WriteFile {
        path: path.clone(),
        source,
    })?;
    Ok(Some(Arc::new(log)))
}

/// Runs the changes and prints the report.
pub(super) async fn carry_out(
    client: &Client,
    changes: Vec<Change>,
    watches: &Watches,
    options: apply::Options,
    audit: Option<Arc<AuditLog>>,
    io: &mut Io<'_>,
) -> Result<Report, Error> {
    // Whatever was shown (the plan and its summary, or the saved plan's line) is out before
    // the first write starts, even when stdout is a file or a pipe.
    io.out.flush()?;
    let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let signals = tokio::spawn(
        halt_on_signals(vec![client.clone()], interrupted.clone()).map_err(Error::Signals)?,
    );
    let progress = io.progress_bar("applying");
    let mut report = apply::execute(client, changes, watches, options, audit, progress).await;
    signals.abort();
    report.interrupted = interrupted.load(std::sync::atomic::Ordering::SeqCst);
    render::text::apply_report(&report, io.out_painter, io.out)?;
    Ok(report)
}

/// While writes run, the first SIGINT or SIGTERM halts the client: writes in flight finish
/// and are recorded, nothing new starts, and the report says what is left. A second signal
/// exits at once (130). The handlers are installed now, before the first write. Every
/// client given (one per account) is halted.
pub(super) fn halt_on_signals(
    clients: Vec<Client>,
    interrupted: Arc<std::sync::atomic::AtomicBool>,
) -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    super::on_stop_signals(move |name| {
        interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
        for client in &clients {
            client.halt(apply::Stop::Interrupted(name).to_string());
        }
    })
}

/// 0 when every change was applied, 1 otherwise (failures, a quota stop, `--max-writes`).
pub(super) fn exit_for(report: &Report) -> Exit {
    if report.is_complete() {
        Exit::Success
    } else {
        Exit::Failure
    }
}

/// Checks that a saved single-account plan says one consistent thing.
fn check_plan_file(path: &Path, file: PlanFile) -> Result<(PathBuf, SavedPlan), Error> {
    let saved = SavedPlan::try_from(file).map_err(|error| Refusal::Invalid {
        plan: path.to_path_buf(),
        error,
    })?;
    Ok((path.to_path_buf(), saved))
}

/// A saved plan: one account's, or a plan over several (`plan -p a -p b --out`).
pub(super) enum PlanDocument {
    One(Box<PlanFile>),
    Several(crate::wire::accounts::PlansFile),
}

/// Reads a saved plan's JSON document, bounded, into the shape its `format_version` names,
/// without judging what it says.
pub(super) fn read_plan_document(path: &Path) -> Result<PlanDocument, Error> {
    /// Only the version, to choose the shape the rest is read into.
    #[derive(serde::Deserialize)]
    struct Version {
        format_version: u32,
    }
    let plan = || path.to_path_buf();
    let text = crate::limits::read_text(path, crate::limits::MAX_DATA_BYTES).map_err(|source| {
        Refusal::Unreadable {
            plan: plan(),
            source,
        }
    })?;
    let not_a_plan = |source| Refusal::NotAPlan {
        plan: plan(),
        source,
    };
    let version: Version = serde_json::from_str(&text).map_err(not_a_plan)?;
    Ok(
        if version.format_version == crate::wire::accounts::PLANS_FORMAT_VERSION {
            PlanDocument::Several(serde_json::from_str(&text).map_err(not_a_plan)?)
        } else {
            PlanDocument::One(Box::new(serde_json::from_str(&text).map_err(not_a_plan)?))
        },
    )
}

/// The saved plan's changes, once it is shown to follow the policy, the account and the
/// account's present state; prints which plan is being applied.
fn confirm_saved(
    path: &Path,
    plan: SavedPlan,
    policy: &Policy,
    client: &Client,
    inventory: &crate::inventory::Inventory,
    force: bool,
    io: &mut Io<'_>,
) -> Result<(Vec<Change>, Watches), Error> {
    let watches = apply::recheck_saved(
        path,
        &plan,
        (policy, inventory),
        (&client.api_url(), client.username()),
        force,
    )?;
    let (restrict, expose) = plan.counts();
    render::text::applying_saved_plan(path, restrict, expose, io.out)?;
    Ok((plan.changes, watches))
}

/// The fresh plan's changes, shown, checked against the guardrails and (when `asks`)
/// confirmed; `None` when there is nothing to do.
fn show_and_confirm(
    policy: &Policy,
    (inventory, targets): (&crate::inventory::Inventory, &Targets),
    client: &Client,
    force: bool,
    asks: bool,
    io: &mut Io<'_>,
) -> Result<Option<(Vec<Change>, Watches)>, Error> {
    // The JSON form is not needed to apply: dropped at once, so the changes below are not
    // held beside it.
    let super::plan::Shown { plan, breaches, .. } = show_plan(
        policy,
        (inventory, targets),
        api_source(client),
        (Format::Text, ShowOptions::default()),
        io,
    )?;
    if !plan.summary().has_changes() {
        return Ok(None);
    }
    let watches = apply::watches(&plan, &policy.guardrails);
    apply::check_guardrails(policy, &breaches, force)?;
    if asks && !confirm(io)? {
        return Err(Error::Cancelled(Cancelled::Declined));
    }
    Ok(Some((apply::changes(&plan), watches)))
}

/// Asks on the terminal; only `yes` approves, as Terraform does. The plan on stdout is
/// flushed first, so nobody is asked to approve what they cannot see yet.
pub(super) fn confirm(io: &mut Io<'_>) -> Result<bool, Error> {
    io.out.flush()?;
    render::text::confirmation_prompt(io.err)?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(Error::Stdin)?;
    Ok(answer.trim() == "yes")
}
