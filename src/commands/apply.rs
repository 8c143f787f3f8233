//! `apply`: plan and confirm, or check a saved plan; then carry it out.

use std::fmt::Write as _;
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

use super::plan::{api_source, list_account, show_plan};
use super::{Io, runtime};
use crate::apply::{self, AuditLog, Report};
use crate::config::{ApplyConfig, Remote};
use crate::error::{Error, Exit};
use crate::inventory::Sharing;
use crate::planfile::{DirectionJson, PLAN_FORMAT_VERSION, PlanFile, Source};
use crate::policy::Policy;
use crate::remote::Client;
use crate::render::{self, Format};

/// What `apply` carries out: a saved plan, or a fresh plan of a policy.
enum Wanted {
    Saved { path: String, plan: PlanFile },
    Policy(Policy),
}

/// `apply`.
pub fn apply(config: &ApplyConfig, io: &mut Io<'_>) -> Result<Exit, Error> {
    let wanted = match config.plan_file.as_deref() {
        Some(path) => {
            let (path, plan) = load_plan_file(path)?;
            Wanted::Saved { path, plan }
        }
        None => Wanted::Policy(Policy::load(&config.policy)?),
    };
    let asks = matches!(wanted, Wanted::Policy(_)) && !config.auto_approve;
    if asks && !io.stdin_is_terminal {
        // Never hang on a question nobody can answer, and never apply unasked.
        return Err(Error::Cancelled(
            "apply needs a confirmation, but stdin is not a terminal; pass --auto-approve, \
             or apply a plan saved with `plotward plan --out FILE`"
                .to_owned(),
        ));
    }
    let audit = match &config.audit_log {
        Some(path) => Some(Arc::new(AuditLog::open(path).map_err(|source| {
            Error::WriteFile {
                path: path.clone(),
                source,
            }
        })?)),
        None => None,
    };
    let client = super::connect(&config.remote, false, io)?;
    runtime()?.block_on(async {
        let inventory = list_account(&client, &config.remote, io).await?;
        let plan = match wanted {
            Wanted::Saved { path, plan } => {
                check_saved_plan(&path, &plan, &client, &inventory)?;
                check_guardrails(&plan, config.force)?;
                let summary = &plan.summary;
                writeln!(
                    io.out,
                    "Applying the saved plan {path}: {} to restrict, {} to expose.",
                    summary.restrict, summary.expose
                )?;
                plan
            }
            Wanted::Policy(policy) => {
                let source = api_source(&client);
                let (plan, file) = show_plan(&policy, &inventory, source, Format::Text, io)?;
                if !plan.summary().has_changes() {
                    return Ok(Exit::Success);
                }
                check_guardrails(&file, config.force)?;
                if asks && !confirm(io)? {
                    return Err(Error::Cancelled(
                        "apply cancelled; nothing was changed".to_owned(),
                    ));
                }
                file
            }
        };
        let report = carry_out(&client, plan, &config.remote, config.max_writes, audit, io).await?;
        Ok(exit_for(&report))
    })
}

/// Runs the changes and prints the report.
pub(super) async fn carry_out(
    client: &Client,
    plan: PlanFile,
    remote: &Remote,
    max_writes: Option<usize>,
    audit: Option<Arc<AuditLog>>,
    io: &mut Io<'_>,
) -> Result<Report, Error> {
    let options = apply::Options {
        parallelism: remote.parallelism,
        max_writes,
        ..apply::Options::default()
    };
    // Whatever was shown (the plan and its summary, or the saved plan's line) is out before
    // the first write starts, even when stdout is a file or a pipe.
    io.out.flush()?;
    let progress = io.progress_bar("applying");
    let report = apply::execute(client, plan.changes, options, audit, progress).await;
    render::text::apply_report(&report, io.out_painter, io.out)?;
    Ok(report)
}

/// 0 when every change was applied, 1 otherwise (failures, a quota stop, `--max-writes`).
pub(super) fn exit_for(report: &Report) -> Exit {
    if report.is_complete() {
        Exit::Success
    } else {
        Exit::Failure
    }
}

fn load_plan_file(path: &Path) -> Result<(String, PlanFile), Error> {
    let shown = crate::visible::escape(&path.display().to_string()).into_owned();
    let text = std::fs::read_to_string(path)
        .map_err(|err| Error::Plan(format!("cannot read the plan {shown}: {err}")))?;
    let plan: PlanFile = serde_json::from_str(&text)
        .map_err(|err| Error::Plan(format!("{shown} is not a plotward plan: {err}")))?;
    if plan.format_version != PLAN_FORMAT_VERSION {
        return Err(Error::Plan(format!(
            "{shown} has format_version {}; this plotward applies version {PLAN_FORMAT_VERSION}",
            plan.format_version
        )));
    }
    // A hand-edited plan must still say one thing: the direction follows from the levels,
    // and `from` from the observed flags, so restrict-before-expose stays true.
    let inconsistent = plan.changes.iter().any(|c| {
        c.to == c.from
            || (c.to < c.from) != (c.action == DirectionJson::Restrict)
            || Sharing::from_flags(c.observed) != c.from
    });
    if inconsistent {
        return Err(Error::Plan(format!(
            "{shown} is inconsistent: an action does not match its levels or observed flags; \
             make it again with plotward plan --out"
        )));
    }
    // Each file once, and the summary a reviewer read must count the changes applied.
    let mut fids = std::collections::HashSet::with_capacity(plan.changes.len());
    if let Some(twice) = plan.changes.iter().find(|c| !fids.insert(c.fid.as_str())) {
        return Err(Error::Plan(format!(
            "{shown} changes {} more than once; make it again with plotward plan --out",
            crate::visible::escape(&twice.fid)
        )));
    }
    let restrict = plan
        .changes
        .iter()
        .filter(|c| c.action == DirectionJson::Restrict)
        .count();
    let expose = plan.changes.len() - restrict;
    if (plan.summary.restrict, plan.summary.expose) != (restrict, expose) {
        return Err(Error::Plan(format!(
            "{shown} is inconsistent: its summary says {} to restrict and {} to expose, but it \
             holds {restrict} restrictions and {expose} exposures; make it again with plotward \
             plan --out",
            plan.summary.restrict, plan.summary.expose
        )));
    }
    Ok((shown, plan))
}

/// A saved plan applies only to the account it was made from, and only while every planned
/// file still has the state the plan observed.
fn check_saved_plan(
    path: &str,
    plan: &PlanFile,
    client: &Client,
    inventory: &crate::inventory::Inventory,
) -> Result<(), Error> {
    match &plan.source {
        Source::Api { api_url, user }
            if *api_url == client.api_url() && user == client.username() => {}
        Source::Api { api_url, user } => {
            return Err(Error::Plan(format!(
                "the plan {path} was made for {user} at {api_url}, not {} at {}; refusing to apply it",
                client.username(),
                client.api_url()
            )));
        }
        Source::Snapshot { path: snapshot } => {
            return Err(Error::Plan(format!(
                "the plan {path} was made from the snapshot {snapshot}, not from the account; \
                 make it with plotward plan --out against the account"
            )));
        }
    }
    let drift = apply::check_stale(plan, inventory);
    if drift.is_empty() {
        return Ok(());
    }
    let mut message = format!(
        "the plan {path} is stale: {} of its files changed since it was made; nothing was applied. \
         Run plotward plan again.",
        drift.len()
    );
    for item in &drift {
        let _ = write!(
            message,
            "\n  {} ({}) {}",
            crate::visible::escape(&item.path),
            crate::visible::escape(&item.fid),
            crate::visible::escape(&item.what)
        );
    }
    Err(Error::Plan(message))
}

/// A plan that breaks a guardrail is applied only with `--force`.
fn check_guardrails(plan: &PlanFile, force: bool) -> Result<(), Error> {
    if plan.guardrails.is_empty() || force {
        return Ok(());
    }
    let mut message = format!(
        "refusing to apply: the plan breaks the guardrails of {}:",
        plan.policy
    );
    for breach in &plan.guardrails {
        let _ = write!(
            message,
            "\n  {}: {}",
            crate::visible::escape(&breach.guardrail),
            crate::visible::escape(&breach.message)
        );
    }
    message.push_str(
        "\nReview the plan; change `guardrails` in the policy, or pass --force to apply it anyway.",
    );
    Err(Error::Plan(message))
}

/// Asks on the terminal; only `yes` approves, as Terraform does. The plan on stdout is
/// flushed first, so nobody is asked to approve what they cannot see yet.
fn confirm(io: &mut Io<'_>) -> Result<bool, Error> {
    io.out.flush()?;
    write!(
        io.err,
        "\nDo you want to apply these changes?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    )?;
    io.err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}
