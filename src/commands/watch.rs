//! `watch`: a reconciler in the manner of a kube-rs controller. Every interval it lists each
//! account through a fresh client (read-only unless `--auto-restrict`), plans, logs one line,
//! updates the metrics, and with `--auto-restrict` carries out the plan's restrictions through
//! apply's executor. A failed cycle is logged and counted and the next one waits longer
//! (`watch::delay_after`); nothing a server does ends the loop. SIGINT and SIGTERM halt the
//! current client (writes in flight finish, none starts) and end the loop with 0; SIGHUP reads
//! the policy again.
//!
//! The loop runs over the accounts of the policies given (one per policy, as `plan` runs them:
//! its `account:` block, or the flags and the environment), each with its own schedule,
//! backoff and `account` label. The accounts due run concurrently, a few per request slot, every
//! request through its server's shared slots (`--parallelism` per server), on pools made anew
//! for each round so a breaker opened by a dead server closes again for the next attempt.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt as _;
use indicatif::ProgressBar;

use super::Io;
use crate::apply::{self, AuditLog, Stop, Tally};
use crate::config::{Live, Remote, WatchConfig};
use crate::error::{Error, Exit, UsageError};
use crate::inventory::Sharing;
use crate::metrics::{self, Metrics};
use crate::policy::Policy;
use crate::remote::{Client, Servers};
use crate::render::watch::{self as words, Level, LogFormat};
use crate::watch::{self as core, CycleReport, Event};

/// `watch`. Everything that cannot work (the policy, the connection's setup, the audit log,
/// the metrics address) is refused before the loop starts; afterwards only a signal ends it.
pub(crate) fn watch(config: &WatchConfig, io: &mut Io<'_>) -> Result<Exit, Error> {
    let log = Arc::new(Log {
        format: config.log_format,
        debug: config.remote.verbose,
    });
    let mut accounts = resolve(config)?;
    warn_before_starting(&accounts, config, &log, io)?;
    let audit = match &config.audit_log {
        // Stdout carries nothing else in watch (its log is on stderr).
        Some(path) if super::outfile::is_stdout(path) => {
            Some(Arc::new(AuditLog::stdout().map_err(Error::Output)?))
        }
        Some(path) => {
            super::plan::refuse_audit_log_over("watch", path, &config.policies)?;
            Some(Arc::new(AuditLog::open(path).map_err(|source| {
                Error::WriteFile {
                    path: path.clone(),
                    source,
                }
            })?))
        }
        None => None,
    };
    io.err.flush()?;
    let runtime = super::runtime()?;
    runtime.block_on(run(config, &mut accounts, audit, &log))
}

/// The accounts of the policies given, as `plan` resolves them (two policies of one account
/// are refused). Everything that cannot work for an account (its policy, its key, its URL or CA
/// bundle) stops the start: a watch that silently skips an account is a green light that is
/// wrong. Later, a key that stops resolving (a rotated Secret) fails that account's cycles.
fn resolve(config: &WatchConfig) -> Result<Vec<Account>, Error> {
    let resolved = super::accounts::accounts(&config.policies, &config.remote)?;
    let users: Vec<String> = resolved.iter().map(|a| a.label.user.clone()).collect();
    let servers = Servers::new(1);
    let mut accounts = Vec::with_capacity(resolved.len());
    for (index, account) in resolved.into_iter().enumerate() {
        let remote = account.remote?;
        // A client now, so a setup error (URL, CA bundle) stops the start, not each cycle.
        Client::shared(&remote.connection, remote.retry, &servers)?;
        let user = &account.label.user;
        // The `account` label is the user, or user@server when two servers share a user name.
        let name = if users.iter().filter(|u| **u == user.as_str()).count() > 1 {
            format!("{user}@{}", account.label.server)
        } else {
            user.clone()
        };
        accounts.push(Account {
            name,
            policy_path: config.policies[index].clone(),
            policy: account.policy,
            tls_off: remote.connection.tls == crate::remote::TlsVerify::Off,
        });
    }
    Ok(accounts)
}

/// Each policy's warnings and the TLS-off warning, in their usual words: on stderr as they are
/// in text, as one `warning` event in JSON (so every line stays one JSON object).
fn warn_before_starting(
    accounts: &[Account],
    config: &WatchConfig,
    log: &Log,
    io: &mut Io<'_>,
) -> Result<(), Error> {
    let painter = match config.log_format {
        LogFormat::Text => io.err_painter,
        LogFormat::Json => crate::render::Painter::new(false),
    };
    let mut text = Vec::new();
    for account in accounts {
        crate::render::diagnostic::warnings(&account.policy, painter, &mut text)?;
    }
    if accounts.iter().any(|a| a.tls_off) {
        crate::render::text::tls_off_warning(painter, &mut text)?;
    }
    match config.log_format {
        LogFormat::Text => io.err.write_all(&text)?,
        LogFormat::Json if !text.is_empty() => log.emit(&Event::Warning {
            text: String::from_utf8_lossy(&text).trim_end(),
        }),
        LogFormat::Json => {}
    }
    Ok(())
}

/// One account to reconcile. Its connection is resolved from its policy at each cycle, so a
/// key file a Secret rotates is read anew.
struct Account {
    /// Its user (user@server when two servers share the name): the `account` label and the
    /// name in every line.
    name: String,
    /// Where its policy is read from, at start and on SIGHUP.
    policy_path: PathBuf,
    policy: Policy,
    /// Whether its connection skips certificate checks (warned about at start).
    tls_off: bool,
}

/// Where an account stands between cycles.
#[derive(Clone, Copy)]
struct Schedule {
    /// Cycles failed in a row.
    failures: u32,
    /// When its next cycle starts.
    due: tokio::time::Instant,
}

/// The log on stderr. Written from the loop and from the signal task, a line at a time.
struct Log {
    format: LogFormat,
    /// `-v`: each pending change too.
    debug: bool,
}

impl Log {
    /// Writes the event's line, unless it is a debug event without `-v`. A line that cannot be
    /// written is dropped: stderr is where it would have been reported.
    fn emit(&self, event: &Event<'_>) {
        if words::level(event) == Level::Debug && !self.debug {
            return;
        }
        let line = words::line(self.format, event, SystemTime::now());
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes()).and_then(|()| err.flush());
    }
}

/// Stop requests, and the clients of the cycles running, which a stop halts.
struct Shutdown {
    signal: tokio::sync::watch::Sender<Option<&'static str>>,
    /// The running cycles' clients, by account index.
    clients: Mutex<HashMap<usize, Client>>,
}

impl Shutdown {
    fn new() -> Shutdown {
        Shutdown {
            signal: tokio::sync::watch::Sender::new(None),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Halts every running cycle's client (writes in flight finish, nothing new is sent),
    /// then `announce`s it, both under the lock [`Shutdown::settle`] waits for.
    fn request(&self, signal: &'static str, announce: impl FnOnce()) {
        let clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        self.signal.send_replace(Some(signal));
        for client in clients.values() {
            client.halt(Stop::Interrupted(Some(signal)).to_string());
        }
        announce();
    }

    /// Waits for a stop being requested to be announced, so the loop's last line comes after
    /// the signal's (the two run on different threads).
    fn settle(&self) {
        drop(self.clients.lock().unwrap_or_else(PoisonError::into_inner));
    }

    fn requested(&self) -> Option<&'static str> {
        *self.signal.borrow()
    }

    /// Registers account `index`'s cycle client, halting it at once if a stop came first
    /// (checked under the lock `request` takes, so no client escapes a stop).
    fn register(&self, index: usize, client: &Client) {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(signal) = self.requested() {
            client.halt(Stop::Interrupted(Some(signal)).to_string());
        }
        clients.insert(index, client.clone());
    }

    /// Forgets account `index`'s client once its cycle ended, so nothing accumulates.
    fn release(&self, index: usize) {
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&index);
    }
}

/// When the last cycle ended and how long the loop may go without another: what `/healthz`
/// judges.
struct Pulse {
    last_end: Option<Instant>,
    stale_after: Duration,
}

/// What every cycle shares.
struct Context<'c> {
    config: &'c WatchConfig,
    live: &'c Live,
    metrics: &'c Arc<Metrics>,
    shutdown: &'c Shutdown,
    audit: Option<Arc<AuditLog>>,
    log: &'c Log,
}

/// The loop: serves metrics, listens for signals, runs the accounts' cycles when they are due.
async fn run(
    config: &WatchConfig,
    accounts: &mut [Account],
    audit: Option<Arc<AuditLog>>,
    log: &Arc<Log>,
) -> Result<Exit, Error> {
    let metrics = Arc::new(Metrics::new());
    let pulse = Arc::new(Mutex::new(Pulse {
        last_end: None,
        stale_after: core::stale_after(config.interval, config.interval),
    }));
    let served = match config.metrics_addr {
        Some(addr) => Some(serve_metrics(addr, &metrics, &pulse).await?),
        None => None,
    };
    let shutdown = Arc::new(Shutdown::new());
    let signals =
        tokio::spawn(stop_on_signals(shutdown.clone(), log.clone()).map_err(Error::Signals)?);
    let mut hangups = Hangups::listen().map_err(Error::Signals)?;
    let names: Vec<String> = accounts.iter().map(|a| a.name.clone()).collect();
    let policies = match config.policies.as_slice() {
        [one] => one.display().to_string(),
        many => format!("{} policy files", many.len()),
    };
    log.emit(&Event::Started {
        accounts: &names,
        interval: config.interval,
        auto_restrict: config.auto_restrict,
        metrics: served,
        policy: &policies,
    });
    let context = Context {
        config,
        live: &config.remote,
        metrics: &metrics,
        shutdown: &shutdown,
        audit,
        log,
    };
    let now = tokio::time::Instant::now();
    let mut schedules = vec![
        Schedule {
            failures: 0,
            due: now
        };
        accounts.len()
    ];
    let mut stopped = shutdown.signal.subscribe();
    let mut cycles = 0;
    loop {
        cycles += run_due(accounts, &mut schedules, &context, &pulse).await;
        if shutdown.requested().is_some() {
            break;
        }
        let next = schedules
            .iter()
            .map(|s| s.due)
            .min()
            .unwrap_or_else(|| tokio::time::Instant::now() + config.interval);
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            _ = stopped.wait_for(Option::is_some) => break,
            () = hangups.recv() => {
                reload(accounts, log);
                let now = tokio::time::Instant::now();
                for schedule in &mut schedules {
                    schedule.due = now;
                }
            }
        }
    }
    shutdown.settle();
    signals.abort();
    log.emit(&Event::Stopped { cycles });
    Ok(Exit::Success)
}

/// Runs the cycles of every account due, concurrently (a few per request slot, so memory
/// follows what is in flight), on server pools made for this round; records each as it ends.
/// Returns the cycles run. A stop lets running cycles finish their writes and starts no other.
async fn run_due(
    accounts: &[Account],
    schedules: &mut [Schedule],
    context: &Context<'_>,
    pulse: &Mutex<Pulse>,
) -> usize {
    let now = tokio::time::Instant::now();
    let mut due: Vec<usize> = (0..accounts.len())
        .filter(|&i| schedules[i].due <= now)
        .collect();
    // Longest waiting first. In policy order, the last accounts of a long round always end
    // last, are not yet due when the next round starts, and so ran half as often as the first
    // (1,000 accounts: 31 cycles against 63 over the same minutes).
    due.sort_by_key(|&i| schedules[i].due);
    let servers = Servers::new(context.live.parallelism);
    let at_once = context.live.parallelism.saturating_mul(2).max(2);
    let servers = &servers;
    let mut running = futures_util::stream::iter(due)
        .map(|index| async move {
            if context.shutdown.requested().is_some() {
                return (index, Instant::now(), None);
            }
            let started = Instant::now();
            let result = cycle(index, &accounts[index], servers, context).await;
            context.shutdown.release(index);
            (index, started, Some(result))
        })
        .buffer_unordered(at_once);
    let mut cycles = 0;
    while let Some((index, started, result)) = running.next().await {
        let Some(result) = result else { continue };
        if context.shutdown.requested().is_some() && result.is_err() {
            // Cut short by the stop (the halted client refused to go on): not a failure, and
            // not a cycle `stopped` counts either.
            continue;
        }
        cycles += 1;
        let delay = record(
            &accounts[index],
            &mut schedules[index],
            result,
            started,
            context,
        );
        let mut pulse = pulse.lock().unwrap_or_else(PoisonError::into_inner);
        pulse.last_end = Some(Instant::now());
        pulse.stale_after = core::stale_after(context.config.interval, delay);
    }
    cycles
}

/// Binds the metrics address and serves `/metrics` and `/healthz` in the background; returns
/// the address bound (port 0 becomes the one the system chose).
async fn serve_metrics(
    addr: std::net::SocketAddr,
    metrics: &Arc<Metrics>,
    pulse: &Arc<Mutex<Pulse>>,
) -> Result<std::net::SocketAddr, Error> {
    let failed = |source| Error::Metrics { addr, source };
    let listener = metrics::bind(addr).await.map_err(failed)?;
    let bound = listener.local_addr().map_err(failed)?;
    let pulse = pulse.clone();
    let check: metrics::HealthCheck = Arc::new(move || {
        let pulse = pulse.lock().unwrap_or_else(PoisonError::into_inner);
        let health = core::health(pulse.last_end, Instant::now(), pulse.stale_after);
        (health.is_ok(), words::health(health, pulse.stale_after))
    });
    // The server's task ends only with the runtime; an error accepting is its own to retry.
    drop(metrics::serve(listener, metrics.clone(), check));
    Ok(bound)
}

/// Updates the account's schedule, metrics and log from a cycle's result; returns the wait
/// before its next cycle.
fn record(
    account: &Account,
    schedule: &mut Schedule,
    result: Result<CycleReport, Error>,
    started: Instant,
    context: &Context<'_>,
) -> Duration {
    let interval = context.config.interval;
    let took = started.elapsed().as_secs_f64();
    let metrics = context.metrics;
    match result {
        Ok(report) => {
            schedule.failures = 0;
            for level in Sharing::ALL {
                metrics.set_files(&account.name, level.as_str(), report.counts.files(level));
            }
            metrics.set_pending(&account.name, "restrict", report.counts.restrict);
            metrics.set_pending(&account.name, "expose", report.counts.expose);
            count_writes(
                metrics,
                &account.name,
                report.tally.unwrap_or_default(),
                report.refused,
            );
            metrics.cycle_succeeded(&account.name, took, unix_now());
            context.log.emit(&Event::Cycle(&report));
        }
        Err(err) => {
            schedule.failures = schedule.failures.saturating_add(1);
            let delay = core::delay_after(interval, schedule.failures);
            let backoff = delay.saturating_sub(interval).as_secs_f64();
            metrics.cycle_failed(&account.name, took, schedule.failures, backoff);
            context.log.emit(&Event::Failed {
                account: &account.name,
                error: &err.to_string(),
                failures: schedule.failures,
                retry_in: delay,
            });
        }
    }
    let delay = core::delay_after(interval, schedule.failures);
    schedule.due = tokio::time::Instant::now() + delay;
    delay
}

/// Adds a cycle's writes to the counters (every result, 0 included, so each series exists
/// from the first cycle).
fn count_writes(metrics: &Metrics, account: &str, tally: Tally, refused: usize) {
    for (result, writes) in [
        ("applied", tally.restricted + tally.exposed),
        ("failed", tally.failed),
        ("not_applied", tally.not_applied + tally.unchecked),
        ("settling", tally.settling),
        ("restored", tally.restored),
        ("refused", refused),
    ] {
        metrics.add_writes(account, result, writes);
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One cycle of one account: its connection resolved from its policy, credentials, listing,
/// plan, and with `--auto-restrict` the restrictions. Each cycle has its own client.
async fn cycle(
    index: usize,
    account: &Account,
    servers: &Servers,
    context: &Context<'_>,
) -> Result<CycleReport, Error> {
    let started = Instant::now();
    let config = context.config;
    let remote = &context.live.remote(Some(&account.policy))?;
    let client = client_for(account, remote, servers, context)?;
    context.shutdown.register(index, &client);
    let Some(listing) = read_unless_stopped(&client, remote, context.shutdown).await? else {
        context.log.emit(&Event::ReadsAbandoned {
            account: &account.name,
        });
        let signal = context.shutdown.requested();
        return Err(
            crate::remote::RemoteError::Halted(Stop::Interrupted(signal).to_string()).into(),
        );
    };
    let policy = &account.policy;
    let plan = crate::plan::diff(policy, &listing.inventory);
    let counts = core::count(&plan);
    let split = core::split(apply::changes(&plan));
    for (change, withheld) in split
        .restrictions
        .iter()
        .map(|c| (c, !config.auto_restrict))
        .chain(split.withheld.iter().map(|c| (c, true)))
    {
        context.log.emit(&Event::Pending {
            account: &account.name,
            change,
            withheld,
        });
    }
    let mut report = CycleReport {
        account: account.name.clone(),
        counts,
        tally: None,
        refused: 0,
        stopped: None,
        first_failure: None,
        coverage: plan.coverage,
        took: Duration::ZERO,
    };
    if config.auto_restrict {
        report.tally = Some(Tally::default());
        let summary = plan.summary();
        let managed = summary.restrict + summary.expose + summary.unchanged;
        let restrictions = split.restrictions;
        if let Some(breach) = core::refuse_too_many(&policy.guardrails, restrictions.len(), managed)
        {
            context.log.emit(&Event::Refused {
                account: &account.name,
                breach: &breach,
                policy: &policy.name,
            });
            report.refused = restrictions.len();
        } else if !restrictions.is_empty() {
            // Restrictions never make anything public; checked anyway, as apply does just
            // before writing, so no later change can let an exposure through here.
            apply::refuse_never_public(&restrictions, policy)?;
            let watches = apply::watches(&plan, &policy.guardrails).never_raised();
            let options = apply::Options {
                parallelism: remote.parallelism,
                max_writes: config.max_writes,
                share_key_timeout: config.share_key_timeout,
            };
            let done = apply::execute(
                &client,
                restrictions,
                &watches,
                options,
                context.audit.clone(),
                ProgressBar::hidden(),
            )
            .await;
            report.tally = Some(done.tally());
            report.first_failure = done.first_failure();
            report.stopped = done.stopped;
        }
    }
    report.took = started.elapsed();
    Ok(report)
}

/// The cycle's reads (credentials, listing), or `None` once a stop is requested: nothing has
/// been written yet, so the requests in flight are dropped at once rather than waited for (up
/// to `--timeout` each). Only a write batch in flight is worth finishing.
async fn read_unless_stopped(
    client: &Client,
    remote: &Remote,
    shutdown: &Shutdown,
) -> Result<Option<crate::remote::Listing>, Error> {
    let mut stopped = shutdown.signal.subscribe();
    let reads = async {
        client.check_credentials().await?;
        client
            .list(
                remote.parallelism,
                &ProgressBar::hidden(),
                remote.accept_count_mismatch,
            )
            .await
    };
    tokio::select! {
        listing = reads => Ok(Some(listing?)),
        _ = stopped.wait_for(Option::is_some) => {
            // The stop is logged before anything the cycle says about it.
            shutdown.settle();
            Ok(None)
        }
    }
}

/// The cycle's client: read-only without `--auto-restrict`; every attempt counted in the
/// metrics by method and status.
fn client_for(
    account: &Account,
    remote: &Remote,
    servers: &Servers,
    context: &Context<'_>,
) -> Result<Client, Error> {
    let client = Client::shared(&remote.connection, remote.retry, servers)?;
    let client = if context.config.auto_restrict {
        client
    } else {
        client.into_read_only()
    };
    let metrics = context.metrics.clone();
    let name = account.name.clone();
    let sink = crate::remote::trace::Sink::new(move |exchange| {
        metrics.count_request(
            &name,
            &exchange.method,
            &words::status_label(exchange.outcome),
        );
    });
    Ok(client
        .with_max_response_bytes(remote.max_response_bytes)
        .with_trace(sink))
}

/// SIGHUP: reads each account's policy again; one that does not load is logged and the
/// policy in force stays.
fn reload(accounts: &mut [Account], log: &Log) {
    for account in accounts {
        let shown = account.policy_path.display().to_string();
        match super::load_policy(&account.policy_path)
            .and_then(|policy| same_account(&account.policy, policy, &shown))
        {
            Ok(policy) => {
                log.emit(&Event::Reloaded {
                    policy: &shown,
                    rules: policy.rules.len(),
                });
                account.policy = policy;
            }
            Err(err) => log.emit(&Event::ReloadFailed {
                policy: &shown,
                error: &err.to_string(),
            }),
        }
    }
}

/// The reloaded `policy`, unless it names another account than `before` did (user, server, or
/// where its key is read): the account a watch reconciles, its metrics label and the key it
/// sends are fixed at start.
fn same_account(before: &Policy, policy: Policy, shown: &str) -> Result<Policy, Error> {
    let whose = |p: &Policy| {
        p.account
            .as_ref()
            .map(|a| (a.user.clone(), a.server.clone(), a.key.clone()))
    };
    if whose(before) == whose(&policy) {
        Ok(policy)
    } else {
        Err(UsageError::AccountChanged {
            policy: shown.to_owned(),
        }
        .into())
    }
}

/// The first SIGINT or SIGTERM is logged and halts the running cycles (writes in flight
/// finish and are recorded, no new one starts); the loop then ends with 0. A second exits at
/// once (130), as apply does. The handlers are installed before the first cycle.
fn stop_on_signals(
    shutdown: Arc<Shutdown>,
    log: Arc<Log>,
) -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    super::on_stop_signals(move |name| {
        let signal = name.unwrap_or("Ctrl-C");
        // Halted first, logged after: once the line is out, no write starts.
        shutdown.request(signal, || log.emit(&Event::Stopping { signal }));
    })
}

/// SIGHUP, where there is one.
struct Hangups {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Hangups {
    fn listen() -> std::io::Result<Hangups> {
        Ok(Hangups {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?,
        })
    }

    /// The next SIGHUP; never, where there is none.
    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            if self.signal.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    }
}
