//! `plan` and `check` over several accounts: one policy per account, run concurrently with
//! one bound on the requests in flight to each server, one combined report, the worst exit.
//!
//! Every policy is read and every account resolved before any request; two policies naming
//! the same account are refused. Each account's job then checks its credentials, lists,
//! plans (or checks) and keeps only what the report needs (the plan document, or the check's
//! JSON and its rendered section), dropping the inventory before the next account starts. A
//! job that fails is that account's section; the others go on.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Io;
use crate::config::{CheckConfig, Input, Live, PlanConfig, Remote};
use crate::error::{Error, Exit, UsageError};
use crate::plan;
use crate::policy::{Policy, Targets};
use crate::remote::{Client, Servers};
use crate::render::accounts::{
    self as sections, CheckSection, CheckedAccount, Exposure, Label, PlanSection,
};
use crate::render::{self, CheckFormat, CheckView, Format, Painter, PlanView, ShowOptions};
use crate::wire::plan::PlanFile;

/// One account to run: its policy and how to reach it, or why it cannot be reached.
pub(super) struct Account {
    pub(super) label: Label,
    pub(super) policy: Policy,
    pub(super) remote: Result<Remote, Error>,
}

/// What an account's job returns: its result, what it wrote for stderr, and whether it
/// failed `--strict` or a guardrail (exit 1 without being an error).
pub(super) struct Done<T> {
    pub(super) result: Result<T, String>,
    pub(super) stderr: Vec<u8>,
    pub(super) refused: bool,
}

/// Reads every policy (the first invalid one stops the run, before any request), resolves
/// each account, and refuses two policies of one account.
pub(super) fn accounts(paths: &[PathBuf], live: &Live) -> Result<Vec<Account>, Error> {
    let mut accounts: Vec<Account> = Vec::with_capacity(paths.len());
    let mut seen = std::collections::HashMap::new();
    for path in paths {
        let policy = super::load_policy(path)?;
        let remote = live.remote(Some(&policy));
        // A usage error (`--user` against `account.user`) is the run's, not the account's.
        if let Err(err @ Error::Usage(_)) = remote {
            return Err(err);
        }
        let label = label(&policy, path, remote.as_ref().ok(), live);
        if let Ok(remote) = &remote {
            // One server however its URL is written (`localhost` or `127.0.0.1`, a trailing
            // slash, the default port spelled out).
            let key = (
                crate::remote::server_identity(&remote.connection.api_url),
                remote.connection.username.clone(),
            );
            if let Some(first) = seen.insert(key, accounts.len()) {
                let first: &Account = &accounts[first];
                return Err(UsageError::SameAccount {
                    user: label.user,
                    server: label.server,
                    first_server: first.label.server.clone(),
                    first: first.label.policy.clone(),
                    second: path.display().to_string(),
                }
                .into());
            }
        }
        accounts.push(Account {
            label,
            policy,
            remote,
        });
    }
    Ok(accounts)
}

/// Names an account's section: resolved, or from its `account:` block as written, its server
/// the configured one when the block names none (the one it would use: a key file refused
/// still says which server the account is on).
fn label(policy: &Policy, path: &Path, remote: Option<&Remote>, live: &Live) -> Label {
    let configured = || {
        live.configured_server()
            .unwrap_or_else(|| "(no server)".to_owned())
    };
    let (user, server) = match (remote, &policy.account) {
        (Some(remote), _) => (
            remote.connection.username.clone(),
            remote.connection.api_url.clone(),
        ),
        (None, Some(account)) => (
            account.user.clone(),
            account.server.clone().unwrap_or_else(configured),
        ),
        (None, None) => ("(no user)".to_owned(), configured()),
    };
    Label {
        user,
        server,
        policy: path.display().to_string(),
    }
}

/// The live settings, or a usage error: several accounts are read from servers.
pub(super) fn live(input: &Input) -> Result<&Live, Error> {
    match input {
        Input::Live(live) => Ok(live),
        Input::Snapshot(_) => Err(UsageError::SeveralPolicies {
            command: "--snapshot",
            count: 2,
        }
        .into()),
    }
}

/// Runs `job` for every account, at most a few accounts per request slot at once (enough to
/// keep every slot busy while some accounts wait on their first page, and no more, so memory
/// follows what is in flight), every request through its server's shared slots. Results come
/// back in the order of the policies. `job` is given the account's index among them, and a
/// client that can write only when `access` says so.
pub(super) fn run_all<T, F, Fut>(
    runtime: &tokio::runtime::Runtime,
    run: (Vec<Account>, Access),
    live: &Live,
    job: F,
) -> Result<Vec<(Label, Done<T>)>, Error>
where
    T: Send + 'static,
    F: Fn(usize, Policy, Client, Remote) -> Fut,
    Fut: std::future::Future<Output = Done<T>> + Send + 'static,
{
    run_all_in_order(runtime, run, live, job, |_, _| Ok(()))
}

/// [`run_all`], handing each account to `ready` as soon as it and every account before it
/// are done (in the order of the policies), while later accounts still run: what can be
/// written of a combined report is written as it comes, not all after the last account,
/// and `ready` may then let go of what no one needs any more.
pub(super) fn run_all_in_order<T, F, Fut>(
    runtime: &tokio::runtime::Runtime,
    (accounts, access): (Vec<Account>, Access),
    live: &Live,
    job: F,
    mut ready: impl FnMut(&Label, &mut Done<T>) -> Result<(), Error>,
) -> Result<Vec<(Label, Done<T>)>, Error>
where
    T: Send + 'static,
    F: Fn(usize, Policy, Client, Remote) -> Fut,
    Fut: std::future::Future<Output = Done<T>> + Send + 'static,
{
    let servers = Servers::new(live.parallelism);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(
        live.parallelism.saturating_mul(2).max(2),
    ));
    let mut labels = Vec::with_capacity(accounts.len());
    let mut results: Vec<Option<Done<T>>> = Vec::with_capacity(accounts.len());
    let mut tasks = tokio::task::JoinSet::new();
    let mut announced = std::collections::HashSet::new();
    let _guard = runtime.enter();
    for (index, account) in accounts.into_iter().enumerate() {
        labels.push(account.label);
        results.push(None);
        let remote = match account.remote {
            Ok(remote) => remote,
            Err(err) => {
                results[index] = Some(failure(&err));
                continue;
            }
        };
        let client = match client(&remote, &servers, access) {
            Ok(client) => client,
            Err(err) => {
                results[index] = Some(failure(&err));
                continue;
            }
        };
        if announced.insert(client.api_url()) {
            announce(&client, &remote)?;
        }
        let in_flight = Arc::clone(&in_flight);
        let work = job(index, account.policy, client.clone(), remote);
        tasks.spawn(async move {
            let _permit = in_flight.acquire_owned().await;
            if let Err(err) = client.check_credentials().await {
                return (index, failure(&Error::from(err)));
            }
            (index, work.await)
        });
    }
    let mut next = 0;
    let mut hand_over = |results: &mut [Option<Done<T>>]| -> Result<(), Error> {
        while let Some(Some(done)) = results.get_mut(next) {
            ready(&labels[next], done)?;
            next += 1;
        }
        Ok(())
    };
    runtime.block_on(async {
        hand_over(&mut results)?;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, done)) => results[index] = Some(done),
                Err(err) => return Err(Error::Runtime(std::io::Error::other(err.to_string()))),
            }
            hand_over(&mut results)?;
        }
        Ok(())
    })?;
    Ok(labels
        .into_iter()
        .zip(results)
        .map(|(label, done)| {
            (
                label,
                done.unwrap_or_else(|| failure_text("the job did not finish")),
            )
        })
        .collect())
}

/// What a single-account run says once about its server, said once per server of a run
/// over several: that certificate checks are off, and with `-v` where requests go (directly
/// or through which proxy).
fn announce(client: &Client, remote: &Remote) -> Result<(), Error> {
    use std::io::Write as _;
    let mut text = Vec::new();
    if remote.connection.tls == crate::remote::TlsVerify::Off {
        render::text::tls_off_warning(Painter::new(false), &mut text)?;
    }
    if remote.verbose {
        writeln!(text, "{}", super::connection_line(&client.api_url()))?;
    }
    std::io::stderr().write_all(&text)?;
    Ok(())
}

/// Whether a run's clients may write (`apply`) or only read (everything else).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Access {
    ReadOnly,
    Write,
}

/// A client on its server's shared pool and slots, read-only unless `access` is
/// [`Access::Write`], traced with `-v`.
fn client(remote: &Remote, servers: &Servers, access: Access) -> Result<Client, Error> {
    let client = Client::shared(&remote.connection, remote.retry, servers)?
        .with_max_response_bytes(remote.max_response_bytes);
    let client = match access {
        Access::ReadOnly => client.into_read_only(),
        Access::Write => client,
    };
    Ok(if remote.verbose {
        client.with_trace(crate::remote::trace::Sink::new(|exchange| {
            use std::io::Write as _;
            let line = format!("{}\n", render::trace::exchange(exchange));
            let _ = std::io::stderr().write_all(line.as_bytes());
        }))
    } else {
        client
    })
}

/// An account that failed: its message, as its section shows it.
pub(super) fn failure<T>(err: &Error) -> Done<T> {
    failure_text(&err.to_string())
}

fn failure_text<T>(message: &str) -> Done<T> {
    Done {
        result: Err(message.to_owned()),
        stderr: Vec::new(),
        refused: false,
    }
}

/// Lists an account through its client, warnings into `stderr`.
pub(super) async fn list(
    client: &Client,
    remote: &Remote,
    stderr: &mut Vec<u8>,
) -> Result<crate::inventory::Inventory, Error> {
    let progress = indicatif::ProgressBar::hidden();
    let listing = client
        .list(remote.parallelism, &progress, remote.accept_count_mismatch)
        .await?;
    render::text::listing_warnings(&listing, Painter::new(false), stderr)?;
    Ok(listing.inventory)
}

/// Writes each account's stderr, after a line naming the account, in policy order.
pub(super) fn write_stderr<T>(done: &[(Label, Done<T>)], io: &mut Io<'_>) -> Result<(), Error> {
    for (label, done) in done {
        if !done.stderr.is_empty() {
            sections::stderr_header(label, io.err)?;
            io.err.write_all(&done.stderr)?;
        }
    }
    Ok(())
}

/// The worst exit of a run: 1 when an account failed or was refused, else `pending` when
/// something is pending, else 0.
fn worst<T>(done: &[(Label, Done<T>)], pending: impl Fn(&T) -> bool, changes: Exit) -> Exit {
    if done.iter().any(|(_, d)| d.refused || d.result.is_err()) {
        Exit::Failure
    } else if done
        .iter()
        .any(|(_, d)| d.result.as_ref().is_ok_and(&pending))
    {
        changes
    } else {
        Exit::Success
    }
}

/// What `plan` and `check` over several accounts start from: the live settings, every account
/// resolved (for read-only clients), the targets, and the runtime.
struct ReadOnlyRun<'c> {
    live: &'c Live,
    run: (Vec<Account>, Access),
    targets: Arc<Targets>,
    runtime: tokio::runtime::Runtime,
}

fn read_only_run<'c>(
    input: &'c Input,
    policies: &[PathBuf],
    targets: &Targets,
) -> Result<ReadOnlyRun<'c>, Error> {
    let live = live(input)?;
    let accounts = accounts(policies, live)?;
    Ok(ReadOnlyRun {
        live,
        run: (accounts, Access::ReadOnly),
        targets: Arc::new(Targets::new(targets.patterns()).map_err(UsageError::from)?),
        runtime: super::runtime()?,
    })
}

/// `plan` over several accounts: the combined plan on stdout, `--out` the multi-account
/// document.
pub(super) fn plan(config: &PlanConfig, io: &mut Io<'_>) -> Result<Exit, Error> {
    let ReadOnlyRun {
        live,
        run,
        targets,
        runtime,
    } = read_only_run(&config.input, &config.policies, &config.targets)?;
    let strict = config.strict;
    let format = config.format;
    let job = |_, policy: Policy, client: Client, remote: Remote| {
        let targets = Arc::clone(&targets);
        async move { plan_one(&policy, &client, &remote, &targets, strict, format).await }
    };
    let json_to_stdout = config.out.as_deref().is_some_and(super::outfile::is_stdout);
    // The JSON plan on stdout is written account by account as they are done, while later
    // accounts are still listed (an organization's plan is hundreds of megabytes of JSON,
    // which written at the end took a fifth of the run).
    let streamed = (config.format == Format::Json && !json_to_stdout)
        .then(|| sections::PlansJson::open(io.out))
        .transpose()?;
    let keep_changes = config.out.is_some();
    let (done, streamed) = match streamed {
        Some(mut writer) => {
            let out = &mut *io.out;
            let done = run_all_in_order(&runtime, run, live, job, |label, done| {
                writer.section(label, &done.result, out)?;
                if let (Ok(file), false) = (&mut done.result, keep_changes) {
                    release_written(file);
                }
                Ok(())
            })?;
            (done, Some(writer))
        }
        None => (run_all(&runtime, run, live, job)?, None),
    };
    write_stderr(&done, io)?;
    let exit = worst(
        &done,
        |file: &PlanFile| file.summary.restrict + file.summary.expose > 0,
        if config.detailed_exitcode {
            Exit::Changes
        } else {
            Exit::Success
        },
    );
    let plans: Vec<PlanSection> = done
        .into_iter()
        .map(|(label, done)| PlanSection {
            label,
            result: done.result,
        })
        .collect();
    let shown = (config.format, super::plan::show_options(config));
    let plans = if let Some(writer) = streamed {
        writer.close(&sections::plans_total(&plans), io.out)?;
        plans
    } else if json_to_stdout {
        let mut text = Vec::new();
        let plans = show_plans(plans, shown, io.err_painter, &mut text)?;
        if config.format != Format::Json {
            io.err.write_all(&text)?;
        }
        plans
    } else {
        show_plans(plans, shown, io.out_painter, io.out)?
    };
    if let Some(path) = &config.out {
        let mut bytes = Vec::new();
        render::json::write(&sections::plans_document(plans), &mut bytes)?;
        if json_to_stdout {
            io.out.write_all(&bytes)?;
        } else {
            super::write_atomically(path, &bytes)?;
        }
    }
    Ok(exit)
}

/// Lets go of an account's changes once its section is written and no `--out` needs them:
/// what is left (the summary, the guardrails) is all the exit code and the grand total
/// read. Without this a plan over an organization held every account's changes until the
/// last was done (about 180 MB of the 230 MB peak over a million files).
fn release_written(file: &mut PlanFile) {
    file.changes = Vec::new();
    file.folders = Vec::new();
}

/// Shows the grand total, then every account's plan, each through its own view (as `show`
/// would), then the sums once more; gives the sections back for `--out`. `show` of the saved
/// plan calls it with the options `plan` used, so both print the same bytes.
pub(super) fn show_plans(
    plans: Vec<PlanSection>,
    (format, options): (Format, ShowOptions),
    painter: Painter,
    out: &mut dyn std::io::Write,
) -> Result<Vec<PlanSection>, Error> {
    if format == Format::Json {
        let document = sections::plans_document(plans);
        render::json::write(&document, out)?;
        return Ok(sections::plans_sections(document));
    }
    if format == Format::Markdown {
        return show_plans_markdown(plans, &options, out);
    }
    let framing = sections::Framing::of_plan(format);
    sections::plans_total_words(&plans, framing, out)?;
    if framing == sections::Framing::Text {
        writeln!(out)?;
    }
    let mut shown = Vec::with_capacity(plans.len());
    for section in plans {
        sections::header(&section.label, framing, painter, out)?;
        let result = match section.result {
            Ok(file) => {
                let view = PlanView::new(file, options.clone()).map_err(Error::Unshowable)?;
                render::plan(&view, format, painter, out)?;
                writeln!(out)?;
                Ok(view.into_document())
            }
            Err(error) => {
                sections::failed(&error, framing, out)?;
                Err(error)
            }
        };
        shown.push(PlanSection {
            label: section.label,
            result,
        });
    }
    sections::plans_closing(&shown, framing, out)?;
    Ok(shown)
}

/// The plans of several accounts as one comment under the Markdown cap: the total, then each
/// account's heading and its plan cut to its share (`render::accounts::write_shared`).
fn show_plans_markdown(
    plans: Vec<PlanSection>,
    options: &ShowOptions,
    out: &mut dyn std::io::Write,
) -> Result<Vec<PlanSection>, Error> {
    let framing = sections::Framing::Markdown;
    let mut total = Vec::new();
    sections::plans_total_words(&plans, framing, &mut total)?;
    total.push(b'\n');
    let mut closing = Vec::new();
    sections::plans_closing(&plans, framing, &mut closing)?;
    let mut views = Vec::with_capacity(plans.len());
    for section in plans {
        let result = match section.result {
            Ok(file) => Ok(PlanView::new(file, options.clone()).map_err(Error::Unshowable)?),
            Err(error) => Err(error),
        };
        views.push((section.label, result));
    }
    let mut parts = Vec::with_capacity(views.len());
    for (label, result) in &views {
        let mut head = Vec::new();
        sections::header(label, framing, Painter::new(false), &mut head)?;
        let body: Option<sections::Body<'_>> = match result {
            Ok(view) => Some(Box::new(move |cap| {
                let mut text = Vec::new();
                render::markdown::plan_within(view, cap, &mut text)?;
                Ok(text)
            })),
            Err(error) => {
                sections::failed(error, framing, &mut head)?;
                None
            }
        };
        parts.push(sections::Part { head, body });
    }
    let whole = render::markdown::where_plans_are(options);
    let frame = sections::Frame {
        total: &total,
        closing: &closing,
        whole: &whole,
    };
    sections::write_shared(&frame, &parts, out)?;
    drop(parts);
    Ok(views
        .into_iter()
        .map(|(label, result)| PlanSection {
            label,
            result: result.map(PlanView::into_document),
        })
        .collect())
}

/// One account's plan: listed, diffed, kept as its document; the inventory is dropped here.
async fn plan_one(
    policy: &Policy,
    client: &Client,
    remote: &Remote,
    targets: &Targets,
    strict: bool,
    format: Format,
) -> Done<PlanFile> {
    let mut stderr = Vec::new();
    let result = async {
        let inventory = list(client, remote, &mut stderr).await?;
        super::refuse_unmatched_targets(targets, &inventory)?;
        render::diagnostic::warnings(policy, Painter::new(false), &mut stderr)?;
        let plan = plan::diff_targeted(policy, &inventory, targets);
        let breaches = plan::breaches(&plan, &policy.guardrails);
        if format != Format::Text {
            render::text::dead_rule_warnings(
                &plan.dead_rules,
                &plan.dead_patterns,
                &policy.name,
                Painter::new(false),
                &mut stderr,
            )?;
        }
        let source = super::plan::api_source(client);
        let mut file =
            render::json::plan_file(&plan, policy, (source, targets.patterns()), &breaches);
        // Kept until every account is done (unless written as they come and let go): grown
        // by doubling, the changes would hold up to twice their room (about 90 MB over a
        // million files, six in ten of them changes).
        file.changes.shrink_to_fit();
        let strict_failed = strict && strict_fails(&plan, &mut stderr)?;
        if !file.guardrails.is_empty() {
            render::text::guardrail_refusal(
                file.guardrails.len(),
                &policy.name,
                Painter::new(false),
                &mut stderr,
            )?;
        }
        let refused = strict_failed || !file.guardrails.is_empty();
        Ok::<_, Error>((file, refused))
    }
    .await;
    match result {
        Ok((file, refused)) => Done {
            result: Ok(file),
            stderr,
            refused,
        },
        Err(err) => Done {
            stderr,
            ..failure(&err)
        },
    }
}

/// `--strict` for one account, its words into `stderr`.
fn strict_fails(plan: &plan::Plan<'_>, stderr: &mut Vec<u8>) -> Result<bool, Error> {
    let Some(failures) = plan.strict_failures() else {
        return Ok(false);
    };
    render::text::strict_refusal(&failures, Painter::new(false), stderr)?;
    Ok(true)
}

/// `check` over several accounts: the combined report, exit 2 on any violation, 1 on any
/// failed account.
pub(super) fn check(config: &CheckConfig, io: &mut Io<'_>) -> Result<Exit, Error> {
    let ReadOnlyRun {
        live,
        run,
        targets,
        runtime,
    } = read_only_run(&config.input, &config.policies, &config.targets)?;
    let strict = config.strict;
    let format = config.format;
    let done = run_all(&runtime, run, live, |_, policy, client, remote| {
        let targets = Arc::clone(&targets);
        async move { check_one(&policy, &client, &remote, &targets, strict, format).await }
    })?;
    write_stderr(&done, io)?;
    let exit = worst(
        &done,
        |checked: &CheckedAccount| checked.pending,
        Exit::Changes,
    );
    let checks: Vec<CheckSection> = done
        .into_iter()
        .map(|(label, done)| CheckSection {
            label,
            result: done.result,
        })
        .collect();
    let checked_at = std::time::SystemTime::now();
    match config
        .out
        .as_deref()
        .filter(|path| !super::outfile::is_stdout(path))
    {
        Some(path) => {
            // Whole or not at all, as for one account.
            let mut bytes = Vec::new();
            let plain = (Painter::new(false), checked_at);
            sections::checks(&checks, config.format, plain, &mut bytes)?;
            super::write_atomically(path, &bytes)?;
            // The report went to a file: a failed account must still show where someone runs
            // the command, as the error of a single policy does.
            for section in &checks {
                if let Err(reason) = &section.result {
                    sections::stderr_failure(&section.label, reason, io.err)?;
                }
            }
        }
        None => sections::checks(&checks, config.format, (io.out_painter, checked_at), io.out)?,
    }
    Ok(exit)
}

/// One account's check: its JSON result and its section rendered in `format`, so its plan and
/// inventory are dropped here.
async fn check_one(
    policy: &Policy,
    client: &Client,
    remote: &Remote,
    targets: &Targets,
    strict: bool,
    format: CheckFormat,
) -> Done<CheckedAccount> {
    let mut stderr = Vec::new();
    let label = format!("{} on {}", client.username(), client.api_url());
    let result = async {
        let inventory = list(client, remote, &mut stderr).await?;
        super::refuse_unmatched_targets(targets, &inventory)?;
        render::diagnostic::warnings(policy, Painter::new(false), &mut stderr)?;
        let plan = plan::diff_targeted(policy, &inventory, targets);
        let report = crate::check::check(&plan, &policy.guardrails);
        let source = super::plan::api_source(client);
        let view = CheckView {
            report: &report,
            plan: &plan,
            policy: &policy.name,
            source: &source,
            targets: targets.patterns(),
            digest: &policy.digest,
            checked_at: std::time::SystemTime::now(),
        };
        let mut rendered = Vec::new();
        let mut markdown = None;
        match format {
            CheckFormat::Json | CheckFormat::Html => {}
            CheckFormat::Junit => {
                let name = format!("{label} (policy {})", policy.name);
                render::junit::check_suite(&view, &name, &mut rendered)?;
            }
            // Cut to its share of the one comment once every account is checked.
            CheckFormat::Markdown => markdown = Some(render::markdown::CheckComment::of(&view)?),
            CheckFormat::Text => {
                render::check(&view, format, Painter::new(false), &mut rendered)?;
            }
        }
        let pending = !report.is_compliant();
        let mut json = render::json::check_json(&report, &policy.name, source.clone());
        // Kept until every account is done, as a plan's changes are: no doubling slack.
        json.violations.shrink_to_fit();
        if !targets.patterns().is_empty() {
            json.compliant = false;
            json.targets = targets.patterns().to_vec();
        }
        let strict_failed = strict && strict_fails(&plan, &mut stderr)?;
        drop(plan);
        let exposure = (format == CheckFormat::Html).then(|| {
            let mut report = report;
            report.keep_violations_only();
            Exposure {
                report,
                source,
                policy: policy.name.clone(),
                digest: policy.digest.clone(),
                targets: targets.patterns().to_vec(),
            }
        });
        let checked = CheckedAccount {
            json,
            pending,
            rendered,
            exposure,
            markdown,
        };
        Ok::<_, Error>((checked, strict_failed))
    }
    .await;
    match result {
        Ok((checked, refused)) => Done {
            result: Ok(checked),
            stderr,
            refused,
        },
        Err(err) => Done {
            stderr,
            ..failure(&err)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{FileType, Inventory, RemoteFile, Sharing};
    use proptest::prelude::*;

    /// An account whose `files` public files (paths `len` characters long) its policy wants
    /// private: that many restrictions.
    fn planned(user: &str, files: usize, len: usize) -> PlanFile {
        let inventory = Inventory::new(
            (0..files)
                .map(|n| RemoteFile {
                    fid: format!("{user}:{n}"),
                    path: format!("{n:05}-{}", "x".repeat(len)),
                    filetype: FileType::Plot,
                    flags: Sharing::Public.flags(),
                })
                .collect(),
        );
        let policy = Policy::parse("version: 1\ndefault: private\n", "p.yaml").unwrap();
        let plan = plan::diff(&policy, &inventory);
        let source = crate::wire::plan::Source::Api {
            api_url: "https://plotly.example.com".to_owned(),
            user: user.to_owned(),
        };
        render::json::plan_file(&plan, &policy, (source, &[]), &[])
    }

    /// An account per `(files, name length, failure)`: `user0`, `user1`, ... planned from
    /// `files` public files, or failed with the message.
    fn sections_of(accounts: &[(usize, usize, Option<String>)]) -> Vec<PlanSection> {
        accounts
            .iter()
            .enumerate()
            .map(|(i, (files, len, failure))| PlanSection {
                label: Label {
                    user: format!("user{i}"),
                    server: "https://plotly.example.com".to_owned(),
                    policy: format!("p{i}.yaml"),
                },
                result: match failure {
                    Some(why) => Err(why.clone()),
                    None => Ok(planned(&format!("user{i}"), *files, *len)),
                },
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// The plan written account by account is byte for byte the plan written whole:
        /// failed accounts, hostile errors and no account at all included.
        #[test]
        fn a_streamed_json_plan_is_the_json_plan_written_whole(
            accounts in prop::collection::vec(
                (0usize..30, 1usize..20, prop::option::of("[a-z \"\\\\\u{1b}\u{202e}é]{1,40}")),
                0..5,
            ),
        ) {
            let sections = sections_of(&accounts);
            let mut streamed = Vec::new();
            let mut writer = sections::PlansJson::open(&mut streamed).unwrap();
            for section in &sections {
                writer.section(&section.label, &section.result, &mut streamed).unwrap();
            }
            writer.close(&sections::plans_total(&sections), &mut streamed).unwrap();
            let mut whole = Vec::new();
            render::json::write(&sections::plans_document(sections), &mut whole).unwrap();
            prop_assert_eq!(String::from_utf8(streamed).unwrap(), String::from_utf8(whole).unwrap());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        /// The real renderers: any number of accounts of any size, some failed, make one
        /// comment under the cap that opens with the grand total and keeps every heading and
        /// failure, in policy order.
        #[test]
        fn a_markdown_plan_over_several_accounts_fits_one_comment(
            accounts in prop::collection::vec(
                (0usize..1_500, 1usize..120, prop::option::of("[a-z ]{1,300}")),
                1..9,
            ),
        ) {
            let sections = sections_of(&accounts);
            let restrict: usize = accounts
                .iter()
                .filter(|(_, _, failure)| failure.is_none())
                .map(|(files, _, _)| files)
                .sum();
            let mut out = Vec::new();
            let shown = (Format::Markdown, ShowOptions::default());
            show_plans(sections, shown, Painter::new(false), &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            prop_assert!(text.len() <= render::markdown::CAP, "{} characters", text.len());
            let total = format!("## Total\n\n{restrict} to restrict, 0 to expose over {} ", accounts.len());
            prop_assert!(text.starts_with(&total), "{}", &text[..text.len().min(300)]);
            let mut at = 0;
            for (i, (_, _, failure)) in accounts.iter().enumerate() {
                let heading = format!("## Account `user{i}` on `https://plotly.example.com`");
                let found = text[at..].find(&heading);
                prop_assert!(found.is_some(), "{heading} missing");
                at += found.unwrap_or(0) + heading.len();
                if let Some(why) = failure {
                    let failed = format!("**Failed:** `{why}`");
                    prop_assert!(text[at..].starts_with(&format!("\n\nPolicy `p{i}.yaml`\n\n{failed}")), "{failed}");
                }
            }
        }
    }
}
