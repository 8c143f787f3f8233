//! `watch`: a reconciler in the manner of a kube-rs controller. Every interval it lists each
//! account through a fresh client (read-only unless `--auto-restrict`), plans, logs one line,
//! updates the metrics, and with `--auto-restrict` carries out the plan's restrictions through
//! apply's executor. A failed cycle is logged and counted and the next one waits longer
//! (`watch::delay_after`); nothing a server does ends the loop. SIGINT and SIGTERM halt the
//! current client (writes in flight finish, none starts) and end the loop with 0; SIGHUP reads
//! the policy again.
//!
//! The loop runs over a list of accounts (today one: the policy given and the connection from
//! flags and the environment), each with its own backoff and its own `account` label, so
//! policies naming their accounts can each become one.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use indicatif::ProgressBar;

use super::Io;
use crate::apply::{self, AuditLog, Stop, Tally};
use crate::config::{Remote, WatchConfig};
use crate::error::{Error, Exit};
use crate::inventory::Sharing;
use crate::metrics::{self, Metrics};
use crate::policy::Policy;
use crate::remote::Client;
use crate::render::watch::{self as words, Level, LogFormat};
use crate::watch::{self as core, CycleReport, Event};

/// `watch`. Everything that cannot work (the policy, the connection's setup, the audit log,
/// the metrics address) is refused before the loop starts; afterwards only a signal ends it.
pub(crate) fn watch(config: &WatchConfig, io: &mut Io<'_>) -> Result<Exit, Error> {
    let policy = Policy::load(&config.policy)?;
    let log = Arc::new(Log {
        format: config.log_format,
        debug: config.remote.verbose,
    });
    warn_before_starting(&policy, config, &log, io)?;
    // A client now, so a setup error (URL, CA bundle) stops the start rather than each cycle.
    Client::new(&config.remote.connection, config.remote.retry)?;
    let audit = match &config.audit_log {
        Some(path) => Some(Arc::new(AuditLog::open(path).map_err(|source| {
            Error::WriteFile {
                path: path.clone(),
                source,
            }
        })?)),
        None => None,
    };
    io.err.flush()?;
    let mut accounts = vec![Account {
        name: config.remote.connection.username.clone(),
        policy_path: config.policy.clone(),
        policy,
        remote: &config.remote,
    }];
    let runtime = super::runtime()?;
    runtime.block_on(run(config, &mut accounts, audit, &log))
}

/// The policy's warnings and the TLS-off warning, in their usual words: on stderr as they are
/// in text, as one `warning` event in JSON (so every line stays one JSON object).
fn warn_before_starting(
    policy: &Policy,
    config: &WatchConfig,
    log: &Log,
    io: &mut Io<'_>,
) -> Result<(), Error> {
    let painter = match config.log_format {
        LogFormat::Text => io.err_painter,
        LogFormat::Json => crate::render::Painter::new(false),
    };
    let mut text = Vec::new();
    crate::render::diagnostic::warnings(policy, painter, &mut text)?;
    if config.remote.connection.tls == crate::remote::TlsVerify::Off {
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

/// One account to reconcile.
struct Account<'a> {
    /// Its user: the `account` label and the name in every line.
    name: String,
    /// Where its policy is read from, at start and on SIGHUP.
    policy_path: PathBuf,
    policy: Policy,
    remote: &'a Remote,
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
    clients: Mutex<Vec<Client>>,
}

impl Shutdown {
    fn new() -> Shutdown {
        Shutdown {
            signal: tokio::sync::watch::Sender::new(None),
            clients: Mutex::new(Vec::new()),
        }
    }

    /// Halts every running cycle's client: writes in flight finish, nothing new is sent.
    fn request(&self, signal: &'static str) {
        let clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        self.signal.send_replace(Some(signal));
        for client in clients.iter() {
            client.halt(Stop::Interrupted(Some(signal)).to_string());
        }
    }

    fn requested(&self) -> Option<&'static str> {
        *self.signal.borrow()
    }

    /// Registers a cycle's client, halting it at once if a stop came first (checked under the
    /// lock `request` takes, so no client escapes a stop).
    fn register(&self, client: &Client) {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(signal) = self.requested() {
            client.halt(Stop::Interrupted(Some(signal)).to_string());
        }
        clients.push(client.clone());
    }

    /// Forgets the clients of ended cycles, so nothing accumulates across cycles.
    fn release(&self) {
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
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
    metrics: &'c Arc<Metrics>,
    shutdown: &'c Shutdown,
    audit: Option<Arc<AuditLog>>,
    log: &'c Log,
}

/// The loop: serves metrics, listens for signals, runs each account's cycle when it is due.
async fn run(
    config: &WatchConfig,
    accounts: &mut [Account<'_>],
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
    log.emit(&Event::Started {
        accounts: &names,
        interval: config.interval,
        auto_restrict: config.auto_restrict,
        metrics: served,
        policy: &config.policy.display().to_string(),
    });
    let context = Context {
        config,
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
    'watching: loop {
        for (account, schedule) in accounts.iter().zip(schedules.iter_mut()) {
            if shutdown.requested().is_some() {
                break 'watching;
            }
            if schedule.due > tokio::time::Instant::now() {
                continue;
            }
            let started = Instant::now();
            let result = cycle(account, &context).await;
            shutdown.release();
            cycles += 1;
            if shutdown.requested().is_some() && result.is_err() {
                // Cut short by the stop (the halted client refused to go on): not a failure.
                break 'watching;
            }
            let delay = record(account, schedule, result, started, &context);
            let mut pulse = pulse.lock().unwrap_or_else(PoisonError::into_inner);
            pulse.last_end = Some(Instant::now());
            pulse.stale_after = core::stale_after(config.interval, delay);
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
    signals.abort();
    log.emit(&Event::Stopped { cycles });
    Ok(Exit::Success)
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
    account: &Account<'_>,
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

/// One cycle of one account: credentials, listing, plan, and with `--auto-restrict` the
/// restrictions. Each cycle has its own client, so a breaker opened by a dead server closes
/// again for the next attempt.
async fn cycle(account: &Account<'_>, context: &Context<'_>) -> Result<CycleReport, Error> {
    let started = Instant::now();
    let config = context.config;
    let client = client_for(account, context)?;
    context.shutdown.register(&client);
    client.check_credentials().await?;
    let remote = account.remote;
    let listing = client
        .list(
            remote.parallelism,
            &ProgressBar::hidden(),
            remote.accept_count_mismatch,
        )
        .await?;
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
            let watches = apply::watches(&plan, &policy.guardrails);
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
            report.stopped = done.stopped;
        }
    }
    report.took = started.elapsed();
    Ok(report)
}

/// The cycle's client: read-only without `--auto-restrict`; every attempt counted in the
/// metrics by method and status.
fn client_for(account: &Account<'_>, context: &Context<'_>) -> Result<Client, Error> {
    let remote = account.remote;
    let client = if context.config.auto_restrict {
        Client::new(&remote.connection, remote.retry)?
    } else {
        Client::read_only(&remote.connection, remote.retry)?
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
fn reload(accounts: &mut [Account<'_>], log: &Log) {
    for account in accounts {
        let shown = account.policy_path.display().to_string();
        match Policy::load(&account.policy_path) {
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

/// The first SIGINT or SIGTERM is logged and halts the running cycles (writes in flight
/// finish and are recorded, no new one starts); the loop then ends with 0. A second exits at
/// once (130), as apply does. The handlers are installed before the first cycle.
fn stop_on_signals(
    shutdown: Arc<Shutdown>,
    log: Arc<Log>,
) -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        Ok(async move {
            let signal = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
            // Halted first, logged after: once the line is out, no write starts.
            shutdown.request(signal);
            log.emit(&Event::Stopping { signal });
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
                log.emit(&Event::Stopping { signal: "Ctrl-C" });
                shutdown.request("Ctrl-C");
            }
        })
    }
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
