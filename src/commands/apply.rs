//! `apply`: plan and confirm, or check a saved plan; then carry it out.

use std::fmt::Write as _;
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

use super::plan::{api_source, list_account, show_plan};
use super::{Io, runtime};
use crate::apply::{self, AuditLog, Report, Watches};
use crate::config::ApplyConfig;
use crate::error::{Error, Exit};
use crate::inventory::Sharing;
use crate::policy::Policy;
use crate::remote::Client;
use crate::render::{self, Format};
use crate::wire::plan::{DirectionJson, PLAN_FORMAT_VERSION, PlanFile, Source};

/// `apply`. With a saved plan, the plan is carried out only under the policy it was made from
/// (its digest) and only while a fresh plan of that policy still says exactly the same;
/// without one, the fresh plan is shown and confirmed. Either way `never_public` is checked
/// once more against the current policy just before writing, and no flag overrides it.
pub fn apply(config: &ApplyConfig, io: &mut Io<'_>) -> Result<Exit, Error> {
    let saved = config
        .plan_file
        .as_deref()
        .map(load_plan_file)
        .transpose()?;
    let policy = Policy::load(&config.policy)?;
    if let Some((path, plan)) = &saved {
        check_digest(path, plan, &policy)?;
    }
    let asks = saved.is_none() && !config.auto_approve;
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
        let (plan, watches) = if let Some((path, plan)) = saved {
            confirm_saved(&path, plan, &policy, &client, &inventory, config.force, io)?
        } else {
            let Some(confirmed) =
                show_and_confirm(&policy, &inventory, &client, config.force, asks, io)?
            else {
                return Ok(Exit::Success);
            };
            confirmed
        };
        refuse_never_public(&plan, &policy)?;
        let options = apply::Options {
            parallelism: config.remote.parallelism,
            max_writes: config.max_writes,
            share_key_timeout: config.share_key_timeout,
        };
        let report = carry_out(&client, plan, &watches, options, audit, io).await?;
        Ok(exit_for(&report))
    })
}

/// Runs the changes and prints the report.
pub(super) async fn carry_out(
    client: &Client,
    plan: PlanFile,
    watches: &Watches,
    options: apply::Options,
    audit: Option<Arc<AuditLog>>,
    io: &mut Io<'_>,
) -> Result<Report, Error> {
    // Whatever was shown (the plan and its summary, or the saved plan's line) is out before
    // the first write starts, even when stdout is a file or a pipe.
    io.out.flush()?;
    let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let signals = tokio::spawn(halt_on_signals(client.clone(), interrupted.clone())?);
    let progress = io.progress_bar("applying");
    let mut report = apply::execute(client, plan.changes, watches, options, audit, progress).await;
    signals.abort();
    report.interrupted = interrupted.load(std::sync::atomic::Ordering::SeqCst);
    render::text::apply_report(&report, io.out_painter, io.out)?;
    Ok(report)
}

/// While writes run, the first SIGINT or SIGTERM halts the client: writes in flight finish
/// and are recorded, nothing new starts, and the report says what is left. A second signal
/// exits at once (130). The handlers are installed now, before the first write.
fn halt_on_signals(
    client: Client,
    interrupted: Arc<std::sync::atomic::AtomicBool>,
) -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        Ok(async move {
            let name = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
            interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
            client.halt(format!("interrupted by {name}"));
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            std::process::exit(130);
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
                client.halt("interrupted".to_owned());
            }
        })
    }
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
    let text = crate::limits::read_text(path, crate::limits::MAX_DATA_BYTES)
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

/// The saved plan, once it is shown to follow the policy, the account and the account's
/// present state; prints which plan is being applied.
fn confirm_saved(
    path: &str,
    plan: PlanFile,
    policy: &Policy,
    client: &Client,
    inventory: &crate::inventory::Inventory,
    force: bool,
    io: &mut Io<'_>,
) -> Result<(PlanFile, Watches), Error> {
    check_account(path, &plan, client)?;
    let fresh = crate::plan::diff(policy, inventory);
    let breaches = crate::plan::breaches(&fresh, &policy.guardrails);
    let watches = apply::watches(&fresh, &policy.guardrails);
    let fresh = crate::render::json::plan_file(&fresh, policy, api_source(client), &breaches);
    check_stale(path, &plan, &fresh, inventory)?;
    check_guardrails(&fresh, force)?;
    writeln!(
        io.out,
        "Applying the saved plan {path}: {} to restrict, {} to expose.",
        plan.summary.restrict, plan.summary.expose
    )?;
    Ok((plan, watches))
}

/// The fresh plan, shown, checked against the guardrails and (when `asks`) confirmed; `None`
/// when there is nothing to do.
fn show_and_confirm(
    policy: &Policy,
    inventory: &crate::inventory::Inventory,
    client: &Client,
    force: bool,
    asks: bool,
    io: &mut Io<'_>,
) -> Result<Option<(PlanFile, Watches)>, Error> {
    let (plan, file) = show_plan(policy, inventory, api_source(client), Format::Text, io)?;
    if !plan.summary().has_changes() {
        return Ok(None);
    }
    let watches = apply::watches(&plan, &policy.guardrails);
    check_guardrails(&file, force)?;
    if asks && !confirm(io)? {
        return Err(Error::Cancelled(
            "apply cancelled; nothing was changed".to_owned(),
        ));
    }
    Ok(Some((file, watches)))
}

/// A saved plan applies only under the policy it was made from: the same text, by digest.
fn check_digest(path: &str, plan: &PlanFile, policy: &Policy) -> Result<(), Error> {
    let name = crate::visible::escape(&policy.name);
    match &plan.policy_sha256 {
        Some(digest) if *digest == policy.digest => Ok(()),
        Some(digest) => Err(Error::Plan(format!(
            "the plan {path} was made from a policy with SHA-256 {}…, but {name} has {}…; \
             a plan is applied only under the policy it was made from. Pass that policy with \
             -p, or make the plan again with plotward plan --out",
            crate::visible::escape(&digest.chars().take(12).collect::<String>()),
            &policy.digest[..12]
        ))),
        None => Err(Error::Plan(format!(
            "the plan {path} records no policy digest, so plotward cannot tell which policy it \
             follows; make it again with plotward plan --out"
        ))),
    }
}

/// A saved plan applies only to the account it was made from.
fn check_account(path: &str, plan: &PlanFile, client: &Client) -> Result<(), Error> {
    match &plan.source {
        Source::Api { api_url, user }
            if *api_url == client.api_url() && user == client.username() =>
        {
            Ok(())
        }
        Source::Api { api_url, user } => Err(Error::Plan(format!(
            "the plan {path} was made for {} at {}, not {} at {}; refusing to apply it",
            crate::visible::escape(user),
            crate::visible::escape(api_url),
            client.username(),
            client.api_url()
        ))),
        Source::Snapshot { path: snapshot } => Err(Error::Plan(format!(
            "the plan {path} was made from the snapshot {}, not from the account; \
             make it with plotward plan --out against the account",
            crate::visible::escape(snapshot)
        ))),
    }
}

/// A saved plan applies only while every file it plans still has the state it observed, and
/// while a fresh plan of the same policy says exactly the same: no change dropped, altered
/// or added.
fn check_stale(
    path: &str,
    plan: &PlanFile,
    fresh: &PlanFile,
    inventory: &crate::inventory::Inventory,
) -> Result<(), Error> {
    let drift = apply::stale_changes(plan, fresh, inventory);
    if drift.is_empty() {
        return Ok(());
    }
    let mut message = format!(
        "the plan {path} is stale: {} difference(s) from the account and its policy now; nothing \
         was applied. Run plotward plan again.",
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

/// The last check before writing, against the current policy whatever the plan says about
/// itself: no change may make a `never_public` path public. No flag overrides it.
fn refuse_never_public(plan: &PlanFile, policy: &Policy) -> Result<(), Error> {
    // A folder counts too: a public folder makes its contents public upstream.
    let forbidden: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| {
            c.to == Sharing::Public
                && policy
                    .guardrails
                    .exposed_if_public(&c.path, &c.filetype)
                    .is_some()
        })
        .collect();
    if forbidden.is_empty() {
        return Ok(());
    }
    let mut message = format!(
        "refusing to apply: {} change(s) would make public what guardrails.never_public of {} \
         forbids; no flag overrides never_public:",
        forbidden.len(),
        crate::visible::escape(&policy.name)
    );
    for change in forbidden {
        let _ = write!(
            message,
            "\n  {} ({})",
            crate::visible::escape(&change.path),
            crate::visible::escape(&change.fid)
        );
    }
    Err(Error::Plan(message))
}

/// A plan that breaks `max_changes` or `max_exposures` is applied only with `--force`; one
/// that breaks `never_public` never is.
fn check_guardrails(plan: &PlanFile, force: bool) -> Result<(), Error> {
    let absolute = plan
        .guardrails
        .iter()
        .any(|b| b.guardrail == "never_public");
    if plan.guardrails.is_empty() || (force && !absolute) {
        return Ok(());
    }
    let mut message = format!(
        "refusing to apply: the plan breaks the guardrails of {}:",
        crate::visible::escape(&plan.policy)
    );
    for breach in &plan.guardrails {
        let _ = write!(
            message,
            "\n  {}: {}",
            crate::visible::escape(&breach.guardrail),
            crate::visible::escape(&breach.message)
        );
    }
    message.push_str(if absolute {
        "\nNo flag overrides never_public: change the rules so these files are not made public."
    } else {
        "\nReview the plan; change `guardrails` in the policy, or pass --force to apply it anyway."
    });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::FileType;
    use crate::wire::plan::{ChangeJson, RuleJson, SummaryJson};

    #[test]
    fn the_last_check_refuses_any_never_public_exposure_whatever_the_plan_says() {
        let policy = Policy::parse(
            "version: 1\ndefault: private\nguardrails:\n  never_public: [\"finance/**\"]\n",
            "p.yaml",
        )
        .unwrap();
        let change = |path: &str, to: Sharing| ChangeJson {
            fid: "alice:4".into(),
            path: path.into(),
            filetype: FileType::Plot,
            action: DirectionJson::Expose,
            from: Sharing::Private,
            to,
            observed: Sharing::Private.flags(),
            rule: RuleJson::Default,
            required_by: None,
        };
        let plan = |changes| PlanFile {
            format_version: PLAN_FORMAT_VERSION,
            policy: "p.yaml".into(),
            policy_sha256: Some(policy.digest.clone()),
            source: Source::Snapshot { path: "s".into() },
            summary: SummaryJson {
                restrict: 0,
                expose: 1,
                unchanged: 0,
                ignored: 0,
            },
            changes,
            dead_rules: Vec::new(),
            dead_patterns: Vec::new(),
            guardrails: Vec::new(),
            listing: crate::inventory::Coverage::default(),
            folders: Vec::new(),
        };
        let err = refuse_never_public(
            &plan(vec![change("finance/payroll", Sharing::Public)]),
            &policy,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("no flag overrides never_public"), "{err}");
        assert!(err.contains("finance/payroll (alice:4)"), "{err}");
        assert!(
            refuse_never_public(
                &plan(vec![change("finance/payroll", Sharing::Secret)]),
                &policy
            )
            .is_ok()
        );
        assert!(
            refuse_never_public(&plan(vec![change("public/demo", Sharing::Public)]), &policy)
                .is_ok()
        );
        // A folder over never_public paths: its contents would be public.
        let folder = ChangeJson {
            filetype: FileType::Folder,
            ..change("finance", Sharing::Public)
        };
        let err = refuse_never_public(&plan(vec![folder]), &policy)
            .unwrap_err()
            .to_string();
        assert!(err.contains("finance (alice:4)"), "{err}");
    }
}
