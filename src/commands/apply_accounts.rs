//! `apply` over several accounts (`apply -p a.yaml -p b.yaml`, or a plan over several
//! accounts saved by `plan -p a.yaml -p b.yaml --out plan.json`).
//!
//! Every policy is read and every account resolved first (as for `plan`); a saved plan is
//! checked whole and paired with the policies (each account one policy, each policy one
//! section, each section made from its policy's text) before any request. Each account's job
//! then lists, plans afresh and runs the checks single-account apply runs (a saved section
//! against the fresh plan; the guardrails; `never_public`): an account that fails them is
//! refused on its own, and the others go on. Fresh plans are shown together with one grand
//! total, then one question; the writes run concurrently, every request through its server's
//! shared slots, and one report follows with a section per account and a total. Exit 1 if
//! any account was refused or failed or any write did not complete.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::Io;
use super::accounts::{self, Access, Done};
use crate::apply::{self, AuditLog, Cancelled, Change, Refusal, Report, SavedPlan, Watches};
use crate::config::ApplyConfig;
use crate::error::{Error, Exit};
use crate::policy::{Policy, Targets};
use crate::remote::Client;
use crate::render::accounts::{self as sections, Applied, Framing, Label, PlanSection};
use crate::render::{self, Format, Painter, PlanView, ShowOptions};
use crate::wire::accounts::PlansFile;
use crate::wire::plan::PlanFile;

/// An account ready to apply: its client, its changes, and what was shown or refused.
struct Prepared {
    client: Client,
    /// The fresh plan, shown before the question (none for a saved plan).
    plan: Option<PlanFile>,
    changes: Vec<Change>,
    watches: Watches,
    /// Why the account's changes are not applied, if they are not.
    refusal: Option<String>,
    options: apply::Options,
}

/// `apply` with several policies, or with a saved plan over several accounts.
pub(super) fn apply(
    config: &ApplyConfig,
    saved: Option<(PathBuf, PlansFile)>,
    io: &mut Io<'_>,
) -> Result<Exit, Error> {
    let live = &config.remote;
    let mut accounts = accounts::accounts(&config.policies, live)?;
    let saved = match saved {
        Some((path, file)) => Some(saved_plans(&path, file, &mut accounts, config)?),
        None => None,
    };
    let asks = saved.is_none() && !config.auto_approve;
    if asks && !io.stdin_is_terminal {
        // Never hang on a question nobody can answer, and never apply unasked.
        return Err(Error::Cancelled(Cancelled::NoTerminal));
    }
    let audit = super::apply::open_audit(config)?;
    let runtime = super::runtime()?;
    let path = saved.as_ref().map(|(path, _)| path.clone());
    let plans: Mutex<Vec<Option<SavedPlan>>> = Mutex::new(match saved {
        Some((_, plans)) => plans.into_iter().map(Some).collect(),
        None => Vec::new(),
    });
    let targets =
        Arc::new(Targets::new(config.targets.patterns()).map_err(crate::error::UsageError::from)?);
    let run = (accounts, Access::Write);
    let done = accounts::run_all(&runtime, run, live, |index, policy, client, remote| {
        let saved = plans
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_mut(index)
            .and_then(Option::take)
            .zip(path.clone());
        let targets = Arc::clone(&targets);
        let options = apply::Options {
            parallelism: remote.parallelism,
            max_writes: config.max_writes,
            share_key_timeout: config.share_key_timeout,
        };
        let force = config.force;
        async move {
            let done = prepare(&policy, &client, &remote, saved, &targets, force).await;
            finish(done, client, options)
        }
    })?;
    let mut done = done;
    accounts::write_stderr(&done, io)?;
    match &path {
        Some(path) => show_saved(&done, path, io)?,
        None => show_fresh(&mut done, io)?,
    }
    let pending = done.iter().any(|(_, d)| {
        d.result
            .as_ref()
            .is_ok_and(|p| p.refusal.is_none() && !p.changes.is_empty())
    });
    if pending && asks && !super::apply::confirm(io)? {
        return Err(Error::Cancelled(Cancelled::Declined));
    }
    let reports = runtime.block_on(carry_out(&done, audit, io))?;
    report(&done, &reports, io)?;
    Ok(exit_for(&done, &reports))
}

/// A prepared account's `Done`, its client and options put in (the job is given them
/// separately so it can borrow them).
fn finish(done: Done<Ready>, client: Client, options: apply::Options) -> Done<Prepared> {
    Done {
        result: done
            .result
            .map(|(plan, changes, watches, refusal)| Prepared {
                client,
                plan,
                changes,
                watches,
                refusal,
                options,
            }),
        stderr: done.stderr,
        refused: done.refused,
    }
}

/// The saved plan checked whole, paired with the policies given, and each section made from
/// its policy's text and for the `--target` given; the plans in the policies' order. A file
/// that fails any of this is refused before any request: a reviewer approved it as a whole.
fn saved_plans(
    path: &Path,
    file: PlansFile,
    accounts: &mut Vec<accounts::Account>,
    config: &ApplyConfig,
) -> Result<(PathBuf, Vec<SavedPlan>), Error> {
    let refused = |error| Refusal::Accounts {
        plan: path.to_path_buf(),
        error,
    };
    let saved = apply::SavedAccounts::try_from(file).map_err(refused)?;
    // An account that could not be resolved and names no server cannot be paired with a
    // section: its own error says what to fix (an account that names its server is paired,
    // and fails alone when its job starts).
    let unpaired = accounts.iter().position(|a| {
        a.remote.is_err() && a.policy.account.as_ref().is_none_or(|b| b.server.is_none())
    });
    if let Some(index) = unpaired
        && let Err(err) = accounts.swap_remove(index).remote
    {
        return Err(err);
    }
    let given: Vec<(String, String, String)> = accounts
        .iter()
        .map(|a| {
            let label = &a.label;
            (
                label.user.clone(),
                label.server.clone(),
                label.policy.clone(),
            )
        })
        .collect();
    let plans = apply::match_policies(saved, &given).map_err(refused)?;
    for (plan, account) in plans.iter().zip(accounts) {
        apply::check_digest(path, plan, &account.policy)?;
        apply::check_targets(path, plan, config.targets.patterns())?;
    }
    Ok((path.to_path_buf(), plans))
}

/// What an account's job hands back: its fresh plan (to show), its changes, the files to
/// watch, and why it is refused, if it is.
type Ready = (Option<PlanFile>, Vec<Change>, Watches, Option<String>);

/// One account's job: list, plan afresh, and run apply's checks. A refusal is the account's
/// (shown in its section; the others go on); any other error is its failure.
async fn prepare(
    policy: &Policy,
    client: &Client,
    remote: &crate::config::Remote,
    saved: Option<(SavedPlan, PathBuf)>,
    targets: &Targets,
    force: bool,
) -> Done<Ready> {
    let mut stderr = Vec::new();
    let result = async {
        let inventory = accounts::list(client, remote, &mut stderr).await?;
        render::diagnostic::warnings(policy, Painter::new(false), &mut stderr)?;
        match saved {
            Some((saved, path)) => Ok(prepare_saved(
                policy,
                client,
                &inventory,
                (&path, saved),
                force,
            )),
            None => prepare_fresh(policy, client, &inventory, targets, force),
        }
    }
    .await;
    match result {
        Ok(ready) => Done {
            refused: ready.3.is_some(),
            result: Ok(ready),
            stderr,
        },
        Err(err) => Done {
            stderr,
            ..accounts::failure(&err)
        },
    }
}

/// A fresh plan: shown later; refused when it breaks a guardrail (unless `--force` and not
/// `never_public`) or would make public what `never_public` forbids.
fn prepare_fresh(
    policy: &Policy,
    client: &Client,
    inventory: &crate::inventory::Inventory,
    targets: &Targets,
    force: bool,
) -> Result<Ready, Error> {
    super::refuse_unmatched_targets(targets, inventory)?;
    let plan = crate::plan::diff_targeted(policy, inventory, targets);
    let breaches = crate::plan::breaches(&plan, &policy.guardrails);
    let source = super::plan::api_source(client);
    let file = render::json::plan_file(&plan, policy, (source, targets.patterns()), &breaches);
    let watches = apply::watches(&plan, &policy.guardrails);
    let changes = apply::changes(&plan);
    let refusal = apply::check_guardrails(policy, &breaches, force)
        .and_then(|()| apply::refuse_never_public(&changes, policy))
        .err()
        .map(|refusal| refusal.to_string());
    Ok((Some(file), changes, watches, refusal))
}

/// A saved section: applied only while the account is as planned and a fresh plan of its
/// policy makes exactly its changes (as a single-account saved plan), guardrails and
/// `never_public` as for a fresh plan.
fn prepare_saved(
    policy: &Policy,
    client: &Client,
    inventory: &crate::inventory::Inventory,
    (path, saved): (&Path, SavedPlan),
    force: bool,
) -> Ready {
    let checked = apply::recheck_saved(
        path,
        &saved,
        (policy, inventory),
        (&client.api_url(), client.username()),
        force,
    )
    .and_then(|watches| {
        apply::refuse_never_public(&saved.changes, policy)?;
        Ok(watches)
    });
    match checked {
        Ok(watches) => (None, saved.changes, watches, None),
        Err(refusal) => (
            None,
            saved.changes,
            Watches::default(),
            Some(refusal.to_string()),
        ),
    }
}

/// Every account's fresh plan (as `plan` shows it), its refusal if any, then the grand total:
/// all of it before the one question. The plans are dropped once shown.
fn show_fresh(done: &mut [(Label, Done<Prepared>)], io: &mut Io<'_>) -> Result<(), Error> {
    let mut shown = Vec::with_capacity(done.len());
    for (label, done) in done.iter_mut() {
        sections::header(label, Framing::Text, io.out_painter, io.out)?;
        let result = match &mut done.result {
            Ok(prepared) => {
                let file = prepared.plan.take();
                let result = match file {
                    Some(file) => {
                        let view = PlanView::new(file, ShowOptions::default())
                            .map_err(Error::Unshowable)?;
                        render::plan(&view, Format::Text, io.out_painter, io.out)?;
                        writeln!(io.out)?;
                        Ok(view.into_document())
                    }
                    None => Err(String::new()),
                };
                if let Some(why) = &prepared.refusal {
                    sections::refused(why, io.out)?;
                }
                result
            }
            Err(error) => {
                sections::failed(error, Framing::Text, io.out)?;
                Err(error.clone())
            }
        };
        shown.push(PlanSection {
            label: label.clone(),
            result,
        });
    }
    sections::plans_total_words(&shown, Framing::Text, io.out)?;
    Ok(())
}

/// For a saved plan: each account's section says what of the plan it applies, or why not.
fn show_saved(done: &[(Label, Done<Prepared>)], path: &Path, io: &mut Io<'_>) -> Result<(), Error> {
    for (label, done) in done {
        sections::header(label, Framing::Text, io.out_painter, io.out)?;
        match &done.result {
            Ok(Prepared {
                refusal: Some(why), ..
            }) => sections::refused(why, io.out)?,
            Ok(prepared) => {
                let restrict = prepared
                    .changes
                    .iter()
                    .filter(|c| c.direction() == crate::plan::Direction::Restrict)
                    .count();
                let expose = prepared.changes.len() - restrict;
                render::text::applying_saved_plan(path, restrict, expose, io.out)?;
                writeln!(io.out)?;
            }
            Err(error) => sections::failed(error, Framing::Text, io.out)?,
        }
    }
    Ok(())
}

/// Runs every account's changes at once (each account's writes bounded by `--parallelism`,
/// and every request by its server's shared slots); the first SIGINT or SIGTERM halts every
/// account's client (writes in flight finish). A report per account that ran, by index.
async fn carry_out(
    done: &[(Label, Done<Prepared>)],
    audit: Option<Arc<AuditLog>>,
    io: &mut Io<'_>,
) -> Result<Vec<Option<Report>>, Error> {
    // Whatever was shown is out before the first write starts.
    io.out.flush()?;
    let mut reports: Vec<Option<Report>> = done.iter().map(|_| None).collect();
    let runnable: Vec<(usize, &Prepared)> = done
        .iter()
        .enumerate()
        .filter_map(|(index, (_, d))| d.result.as_ref().ok().map(|p| (index, p)))
        .filter(|(_, p)| p.refusal.is_none() && !p.changes.is_empty())
        .collect();
    if runnable.is_empty() {
        return Ok(reports);
    }
    let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients = runnable.iter().map(|(_, p)| p.client.clone()).collect();
    let signals = tokio::spawn(
        super::apply::halt_on_signals(clients, Arc::clone(&interrupted)).map_err(Error::Signals)?,
    );
    let mut tasks = tokio::task::JoinSet::new();
    for (index, prepared) in runnable {
        let client = prepared.client.clone();
        let changes = prepared.changes.clone();
        let watches = prepared.watches.clone();
        let options = prepared.options;
        let audit = audit
            .as_ref()
            .map(|log| Arc::new(log.for_account(client.username(), &done[index].0.server)));
        tasks.spawn(async move {
            let progress = indicatif::ProgressBar::hidden();
            let report = apply::execute(&client, changes, &watches, options, audit, progress).await;
            (index, report)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        // A task that panicked leaves its report missing: the account is reported failed.
        if let Ok((index, report)) = joined {
            reports[index] = Some(report);
        }
    }
    signals.abort();
    let interrupted = interrupted.load(std::sync::atomic::Ordering::SeqCst);
    for report in reports.iter_mut().flatten() {
        report.interrupted = interrupted;
    }
    Ok(reports)
}

/// What became of each account, for the report and the exit.
fn applied<'a>(done: &Done<Prepared>, report: Option<&'a Report>) -> Applied<'a> {
    match (&done.result, report) {
        (_, Some(report)) => Applied::Report(report),
        (Ok(prepared), None) if prepared.refusal.is_some() => Applied::Refused,
        (Ok(prepared), None) if prepared.changes.is_empty() => Applied::Nothing,
        // Changes that never ran (a lost task) are no success either.
        (Ok(_) | Err(_), None) => Applied::Failed,
    }
}

/// The combined report: a section per account (its apply report, or why nothing was
/// written), then the grand total.
fn report(
    done: &[(Label, Done<Prepared>)],
    reports: &[Option<Report>],
    io: &mut Io<'_>,
) -> Result<(), Error> {
    writeln!(io.out)?;
    let mut rows = Vec::with_capacity(done.len());
    for ((label, done), report) in done.iter().zip(reports) {
        let applied = applied(done, report.as_ref());
        sections::header(label, Framing::Text, io.out_painter, io.out)?;
        match (applied, &done.result) {
            (Applied::Report(report), _) => {
                render::text::apply_report(report, io.out_painter, io.out)?;
                writeln!(io.out)?;
            }
            (Applied::Refused, Ok(prepared)) => {
                sections::refused(prepared.refusal.as_deref().unwrap_or_default(), io.out)?;
            }
            (Applied::Nothing, _) => writeln!(io.out, "No changes.\n")?,
            (_, Err(error)) => sections::failed(error, Framing::Text, io.out)?,
            (_, Ok(_)) => {
                sections::failed("the account's writes did not finish", Framing::Text, io.out)?;
            }
        }
        rows.push((label, applied));
    }
    sections::applies_total(&rows, io.out)?;
    Ok(())
}

/// 0 when every account applied everything (or had nothing to do), else 1.
fn exit_for(done: &[(Label, Done<Prepared>)], reports: &[Option<Report>]) -> Exit {
    let all_done =
        done.iter()
            .zip(reports)
            .all(|((_, done), report)| match applied(done, report.as_ref()) {
                Applied::Report(report) => report.is_complete(),
                Applied::Nothing => true,
                Applied::Refused | Applied::Failed => false,
            });
    if all_done {
        Exit::Success
    } else {
        Exit::Failure
    }
}
