//! Apply: carry out a plan's changes against the account, safely.
//!
//! - Restrictions run first, exposures only after every restriction has ended, so an
//!   interrupted run never leaves anything more exposed than before.
//! - Writes run with bounded concurrency; each change ends applied, failed (with the server's
//!   message) or not applied (the run stopped), and one failure does not stop the others.
//! - A daily-quota 429 stops the run at once; so does a server that stops answering
//!   ([`crate::remote::DEAD_AFTER`] requests in a row without a response); `--max-writes` caps
//!   how many files one run writes.
//! - Every write is verified from the response; a secret link is re-read until it reads back
//!   enabled or `share_key_timeout` passes (then it is reported as still settling, apart from
//!   failures), because enabling a share key is eventually consistent upstream.
//! - Folders change before files, shallow before deep, in each phase. A folder's sharing
//!   reaches its contents and a server may reset the flags of everything below it, so after
//!   folders change, the files below them ([`Watch`]) are read again and put back where the
//!   plan leaves them.
//! - Applying is idempotent: each `PATCH` sets both flags outright, so a re-run converges.
//! - Apply sees only [`Change`]s: a saved plan is checked into a [`SavedPlan`] before anything
//!   else reads it, a plan made now gives its [`changes`] directly. A plan apply will not carry
//!   out is a [`Refusal`], whose words are in [`crate::render::refusal`].

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

pub(crate) use accounts::{SavedAccounts, SavedAccountsError, match_policies};
pub(crate) use change::{Change, DecidingRule, changes};
use indicatif::ProgressBar;
pub(crate) use outcome::{AuditBroken, Failure, Outcome, Settling, Skip, Stop, Unverified};
pub(crate) use refusal::{
    Cancelled, Refusal, check_digest, check_guardrails, check_targets, recheck_saved,
    refuse_never_public,
};
pub(crate) use saved::{Inconsistency, SavedPlan, SavedPlanError};
pub(crate) use stale::{Drift, Drifted, Staleness};

use crate::inventory::{FileType, Sharing};
use crate::plan::Direction;
use crate::remote::{Attempt, Client, RemoteError};
use crate::wire::audit::{AuditLine, AuditOutcome};

pub(crate) mod accounts;
mod change;
mod outcome;
mod refusal;
mod restore;
pub(crate) mod saved;
mod stale;

/// How to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Options {
    /// Writes in flight at once.
    pub parallelism: usize,
    /// At most this many files written in one run.
    pub max_writes: Option<usize>,
    /// How long a newly enabled share key may take to read back as enabled.
    pub share_key_timeout: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            parallelism: 8,
            max_writes: None,
            // The official client re-reads up to 50 times, 4 s apart.
            share_key_timeout: Duration::from_secs(200),
        }
    }
}

/// The result of an apply.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Every planned change with its outcome, restrictions first.
    pub results: Vec<(Change, Outcome)>,
    /// Files below changed folders that a folder change had moved, put back where the plan
    /// leaves them (and files that could not be read again).
    pub restored: Vec<(Change, Outcome)>,
    /// Managed files below changed folders that read lower than the plan leaves them and
    /// that the run would not raise ([`Raise`]): left as they read (`from`), short of `to`.
    pub left: Vec<Change>,
    /// Why the run stopped early, if it did.
    pub stopped: Option<Stop>,
    /// Whether an interrupt (SIGINT, SIGTERM) stopped it.
    pub interrupted: bool,
    /// Why the audit log could not be written, if it could not: the run failed closed.
    pub audit_failed: Option<AuditBroken>,
}

/// The first write of a run that failed, for a report that names only one (`watch`'s cycle).
#[derive(Clone, Debug)]
pub(crate) struct FirstFailure {
    pub path: String,
    /// HTTP status, if the server answered.
    pub status: Option<u16>,
    pub failure: Failure,
}

/// Counts of a report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Restrictions applied.
    pub restricted: usize,
    /// Exposures applied.
    pub exposed: usize,
    /// Changes that failed.
    pub failed: usize,
    /// Changes not applied.
    pub not_applied: usize,
    /// Secret links written but still settling.
    pub settling: usize,
    /// Files below changed folders put back where the plan leaves them.
    pub restored: usize,
    /// Files below changed folders not read again because the run stopped first.
    pub unchecked: usize,
    /// Files below changed folders left lower than the plan leaves them ([`Report::left`]).
    pub left: usize,
}

impl Report {
    /// Counts the outcomes. Files put back below changed folders count as `restored`, not as
    /// restrictions or exposures (the plan did not count them either); their failures count.
    pub(crate) fn tally(&self) -> Tally {
        let mut tally = Tally {
            left: self.left.len(),
            ..Tally::default()
        };
        let planned = self.results.iter().map(|r| (r, false));
        let put_back = self.restored.iter().map(|r| (r, true));
        for ((change, outcome), restoring) in planned.chain(put_back) {
            match (outcome, change.direction()) {
                (Outcome::Applied, _) if restoring => tally.restored += 1,
                (Outcome::NotApplied { .. }, _) if restoring => tally.unchecked += 1,
                (Outcome::Applied, Direction::Restrict) => tally.restricted += 1,
                (Outcome::Applied, Direction::Expose) => tally.exposed += 1,
                (Outcome::Failed { .. }, _) => tally.failed += 1,
                (Outcome::NotApplied { .. }, _) => tally.not_applied += 1,
                (Outcome::Settling(_), _) => tally.settling += 1,
            }
        }
        tally
    }

    /// Every outcome: the planned changes', then the put-back files'.
    pub(crate) fn outcomes(&self) -> impl Iterator<Item = &(Change, Outcome)> {
        self.results.iter().chain(&self.restored)
    }

    /// The first change whose write failed: its path, the status the server answered with
    /// (if it did), and why.
    pub(crate) fn first_failure(&self) -> Option<FirstFailure> {
        self.outcomes().find_map(|(change, outcome)| match outcome {
            Outcome::Failed { status, failure } => Some(FirstFailure {
                path: change.path.clone(),
                status: *status,
                failure: failure.clone(),
            }),
            _ => None,
        })
    }

    /// Whether every change was applied and recorded.
    pub(crate) fn is_complete(&self) -> bool {
        self.audit_failed.is_none() && self.outcomes().all(|(_, o)| *o == Outcome::Applied)
    }
}

/// A file below a folder the plan changes. A folder's sharing reaches its contents, and a
/// server may reset the flags of everything below a folder when the folder changes, so after
/// folders change such files are read again and put back where the plan leaves them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Watch {
    /// The file as a change from its level before the run (`from`, `observed`) to the level
    /// the plan leaves it at (`to`), with what decided it.
    pub change: Change,
    /// Whether the plan changes the file itself, and in which phase.
    pub planned: Option<Direction>,
    /// Whether the policy manages it. An unmanaged file is only ever put back *down* to its
    /// level before the run, never raised: a cascade that restricted it left it safer, and
    /// its level before the run may itself be an earlier cascade's doing.
    pub managed: bool,
}

/// The files to read again after folders change, and how many files the account holds (to
/// choose between reading each and listing the account once).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Watches {
    /// The files below folders the plan changes.
    pub files: Vec<Watch>,
    /// Files and folders in the account when planned.
    pub account_size: usize,
    /// How far a put-back may raise a managed file.
    pub raise: Raise,
}

impl Watches {
    /// The same files, none of which a put-back ever raises: `watch` applies restrictions
    /// only, and nobody reviewed its plan.
    #[must_use]
    pub(crate) fn never_raised(self) -> Watches {
        Watches {
            raise: Raise::Never,
            ..self
        }
    }
}

/// How far putting a managed file back below a changed folder may raise it.
///
/// A file that reads lower after the folder change than the plan left it is either one the
/// server's cascade lowered or one its owner lowered since the listing; the two look alike
/// afterwards. Raising the second would be an exposure nobody saw in any plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Raise {
    /// Up to the level the plan observed and the file still read just before the folder
    /// changed (`apply`: what the reviewer saw, and nobody has lowered since).
    #[default]
    UpToObserved,
    /// Never: a put-back only lowers or keeps (`watch`, restrictions only).
    Never,
}

/// The files below folders the plan changes, each with the level the plan leaves it at. A
/// file the plan leaves public that `never_public` covers is not watched: a reset that made
/// it private is never undone.
pub(crate) fn watches(
    plan: &crate::plan::Plan<'_>,
    guardrails: &crate::policy::Guardrails,
) -> Watches {
    let files = plan
        .entries
        .iter()
        .filter(|entry| entry.under_change)
        .filter_map(|entry| {
            let file = entry.file;
            // A file outside `--target` is not changed: one a folder change resets is put
            // back as it was.
            let (to, planned) = match entry.action {
                crate::plan::Action::Change(to) if entry.targeted => {
                    (to, Some(Direction::of(entry.current(), to)))
                }
                crate::plan::Action::Change(_)
                | crate::plan::Action::Keep
                | crate::plan::Action::Ignore => (entry.current(), None),
            };
            if to == Sharing::Public
                && guardrails
                    .exposed_if_public(&file.path, &file.filetype)
                    .is_some()
            {
                return None;
            }
            Some(Watch {
                change: Change {
                    fid: file.fid.clone(),
                    path: file.path.clone(),
                    filetype: file.filetype.clone(),
                    from: entry.current(),
                    to,
                    observed: file.flags,
                    rule: DecidingRule::from(&entry.decided_by),
                    required_by: None,
                },
                planned,
                managed: entry.action != crate::plan::Action::Ignore,
            })
        })
        .collect();
    Watches {
        files,
        account_size: plan.entries.len(),
        raise: Raise::default(),
    }
}

/// Appends one JSON line per write attempt. Share keys are never written: the API's answer is
/// reduced to a status and a message before it gets here.
#[derive(Debug)]
pub(crate) struct AuditLog {
    /// A file, or a handle of stdout (`watch --audit-log -`).
    file: Arc<Mutex<File>>,
    /// The first write error, once there is one: the run stops (fail closed). Shared by the
    /// accounts of a run, so one account's broken log stops them all.
    broken: Arc<std::sync::OnceLock<AuditBroken>>,
    /// The account (user, server) each line names, in a run over several accounts.
    account: Option<(String, String)>,
}

/// A handle of its own on stdout (a duplicate of the descriptor), unbuffered and unlocked.
fn stdout_handle() -> std::io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd as _;
        Ok(File::from(std::io::stdout().as_fd().try_clone_to_owned()?))
    }
    #[cfg(windows)]
    {
        use std::os::windows::io::AsHandle as _;
        Ok(File::from(
            std::io::stdout().as_handle().try_clone_to_owned()?,
        ))
    }
    #[cfg(not(any(unix, windows)))]
    {
        Err(std::io::Error::other(
            "an audit log on stdout needs unix or windows",
        ))
    }
}

/// One step of a write, as the audit log records it.
#[derive(Clone, Copy)]
enum Step<'a> {
    /// About to send the write.
    Started,
    /// An attempt failed and another follows: the attempt's message.
    Retrying(&'a str),
    /// The last attempt failed: its message.
    Failed(&'a str),
    /// The write was accepted but does not read back as planned (yet).
    Unverified(&'a Unverified),
    /// A secret link is still not readable at the timeout.
    Settling(&'a Settling),
    /// Written and verified.
    Applied,
    /// The run stopped before the write (or its next attempt) was sent: why.
    NotSent(&'a str),
}

impl Step<'_> {
    /// The line's `outcome` and `message`; the words of plotward's own reasons are their
    /// `Display` (in `render::outcome`).
    fn line(self) -> (AuditOutcome, Option<String>) {
        match self {
            Step::Started => (AuditOutcome::Started, None),
            Step::Retrying(message) => (AuditOutcome::Retrying, Some(message.to_owned())),
            Step::Failed(message) => (AuditOutcome::Failed, Some(message.to_owned())),
            Step::Unverified(why) => (AuditOutcome::Unverified, Some(why.to_string())),
            Step::Settling(settling) => (AuditOutcome::Settling, Some(settling.to_string())),
            Step::Applied => (AuditOutcome::Applied, None),
            Step::NotSent(why) => (AuditOutcome::NotSent, Some(why.to_owned())),
        }
    }
}

impl AuditLog {
    /// Opens (creating or appending to) an audit log.
    pub(crate) fn open(path: &Path) -> std::io::Result<AuditLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(AuditLog::writing_to(file))
    }

    /// An audit log on stdout, a line per write as in a file: for a container, whose stdout
    /// the platform keeps, rotates and ships (a file on its disk only grows). It writes to its
    /// own handle of stdout, not through `std::io::stdout()`, whose lock the command's output
    /// holds for the whole run.
    pub(crate) fn stdout() -> std::io::Result<AuditLog> {
        Ok(AuditLog::writing_to(stdout_handle()?))
    }

    fn writing_to(out: File) -> AuditLog {
        AuditLog {
            file: Arc::new(Mutex::new(out)),
            broken: Arc::new(std::sync::OnceLock::new()),
            account: None,
        }
    }

    /// The same log (one file, one broken state), each line naming `user` on `server`: what a
    /// run over several accounts gives each account's writes.
    pub(crate) fn for_account(&self, user: &str, server: &str) -> AuditLog {
        AuditLog {
            file: Arc::clone(&self.file),
            broken: Arc::clone(&self.broken),
            account: Some((user.to_owned(), server.to_owned())),
        }
    }

    fn record(&self, change: &Change, attempt: u32, step: Step<'_>, status: Option<u16>) {
        let (outcome, message) = step.line();
        let entry = AuditLine {
            time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            fid: &change.fid,
            path: &change.path,
            from: change.from,
            to: change.to,
            attempt,
            outcome,
            status,
            message,
            user: self.account.as_ref().map(|(user, _)| user.as_str()),
            server: self.account.as_ref().map(|(_, server)| server.as_str()),
        };
        // Fail closed: a line that cannot be serialized breaks the log like a failed write,
        // rather than leaving a blank line where a write should be accounted for.
        let mut line = match serde_json::to_string(&entry) {
            // Names from the account, shown inertly to whoever reads the log.
            Ok(line) => plotward_visible::escape_json(&line)
                .into_owned()
                .into_bytes(),
            Err(err) => {
                let _ = self.broken.set(AuditBroken(err.to_string()));
                return;
            }
        };
        line.push(b'\n');
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // One write per line, so concurrent writers never interleave within a line; flushed
        // to the file at once, so an interrupted run loses no line.
        if let Err(err) = file.write_all(&line).and_then(|()| file.flush()) {
            let _ = self.broken.set(AuditBroken(err.to_string()));
        }
    }

    /// Why the log cannot be written, once a write failed.
    pub(crate) fn broken(&self) -> Option<&AuditBroken> {
        self.broken.get()
    }
}

/// State shared by the writers of one run.
struct Run {
    client: Client,
    options: Options,
    audit: Option<Arc<AuditLog>>,
    started: AtomicUsize,
    stopped: Mutex<Option<Stop>>,
    progress: ProgressBar,
}

impl Run {
    fn stop_reason(&self) -> Option<Stop> {
        self.stopped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn stop(&self, reason: Stop) {
        let mut stopped = self
            .stopped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        stopped.get_or_insert(reason);
    }

    fn audit(&self, change: &Change, attempt: u32, step: Step<'_>, status: Option<u16>) {
        if let Some(audit) = &self.audit {
            audit.record(change, attempt, step, status);
            if let Some(why) = audit.broken() {
                self.stop(Stop::AuditLog(why.clone()));
                // The client carries text: it cannot know apply's reasons.
                self.client.halt(why.to_string());
            }
        }
    }
}

/// Applies the changes: restrictions first, then exposures; in each, folders (shallow
/// first), then the files below changed folders put back ([`Watch`]), then files.
pub(crate) async fn execute(
    client: &Client,
    changes: Vec<Change>,
    watches: &Watches,
    options: Options,
    audit: Option<Arc<AuditLog>>,
    progress: ProgressBar,
) -> Report {
    progress.set_length(changes.len() as u64);
    let run = Arc::new(Run {
        client: client.clone(),
        options,
        audit,
        started: AtomicUsize::new(0),
        stopped: Mutex::new(None),
        progress,
    });
    let (restrict, expose): (Vec<_>, Vec<_>) = changes
        .into_iter()
        .partition(|c| c.direction() == Direction::Restrict);
    let mut results = Vec::new();
    let mut restored = Vec::new();
    let mut left = Vec::new();
    for (phase, changes) in [(Direction::Restrict, restrict), (Direction::Expose, expose)] {
        let (folders, files): (Vec<_>, Vec<_>) = changes
            .into_iter()
            .partition(|c| c.filetype == FileType::Folder);
        let before = if folders.is_empty() {
            restore::Before::default()
        } else {
            restore::read_before(&run, watches, phase).await
        };
        let folders = restore::run_folders(&run, folders).await;
        if folders
            .iter()
            .any(|(_, o)| !matches!(o, Outcome::NotApplied { .. }))
        {
            let put = restore::put_back(&run, watches, &before, phase).await;
            restored.extend(put.written);
            left.extend(put.left);
        }
        results.extend(folders);
        results.extend(run_phase(&run, files).await);
    }
    run.progress.finish_and_clear();
    Report {
        results,
        restored,
        left,
        stopped: run.stop_reason(),
        interrupted: false,
        audit_failed: run.audit.as_ref().and_then(|audit| audit.broken().cloned()),
    }
}

/// Runs one phase with bounded concurrency; returns the outcomes in plan order. A task that
/// panicked is a failed change, never a change missing from the report.
async fn run_phase(run: &Arc<Run>, changes: Vec<Change>) -> Vec<(Change, Outcome)> {
    let run = run.clone();
    run_each(
        run.options.parallelism,
        changes,
        move |changes, index| {
            let run = run.clone();
            async move {
                let outcome = apply_one(&run, &changes[index]).await;
                run.progress.inc(1);
                outcome
            }
        },
        |_, outcome| outcome,
    )
    .await
}

/// Runs `work` for each change, at most `parallelism` at once: a task is started only when
/// another ends, so memory follows `parallelism`, not the number of changes. The changes are
/// shared, never copied. The results come back in input order, and a task that panics is a
/// failed change of its own (`lost` turns that failure into a result), so nothing drops out
/// of the report.
async fn run_each<T, W, F>(
    parallelism: usize,
    changes: Vec<Change>,
    work: W,
    lost: impl Fn(&Change, Outcome) -> T,
) -> Vec<(Change, T)>
where
    T: Send + 'static,
    W: Fn(Arc<Vec<Change>>, usize) -> F,
    F: std::future::Future<Output = T> + Send + 'static,
{
    let changes = Arc::new(changes);
    let mut outcomes: Vec<Option<T>> = std::iter::repeat_with(|| None)
        .take(changes.len())
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    let mut running = HashMap::with_capacity(parallelism);
    let mut next = 0..changes.len();
    let start = |tasks: &mut tokio::task::JoinSet<_>, running: &mut HashMap<_, _>, index| {
        let job = work(changes.clone(), index);
        let handle = tasks.spawn(async move { (index, job.await) });
        running.insert(handle.id(), index);
    };
    for index in next.by_ref().take(parallelism.max(1)) {
        start(&mut tasks, &mut running, index);
    }
    while let Some(joined) = tasks.join_next_with_id().await {
        let (index, outcome) = match joined {
            Ok((id, (index, outcome))) => {
                running.remove(&id);
                (index, outcome)
            }
            Err(err) => {
                let Some(index) = running.remove(&err.id()) else {
                    continue;
                };
                let outcome = Outcome::Failed {
                    status: None,
                    failure: Failure::Panicked(err.to_string()),
                };
                (index, lost(&changes[index], outcome))
            }
        };
        outcomes[index] = Some(outcome);
        if let Some(index) = next.next() {
            start(&mut tasks, &mut running, index);
        }
    }
    let changes = Arc::try_unwrap(changes).unwrap_or_else(|shared| (*shared).clone());
    changes
        .into_iter()
        .zip(outcomes)
        .map(|(change, outcome)| {
            let outcome = outcome.unwrap_or_else(|| {
                let failed = Outcome::Failed {
                    status: None,
                    failure: Failure::Lost,
                };
                lost(&change, failed)
            });
            (change, outcome)
        })
        .collect()
}

async fn apply_one(run: &Run, change: &Change) -> Outcome {
    if let Some(stop) = run.stop_reason() {
        return Outcome::NotApplied {
            reason: Skip::Stopped(stop),
        };
    }
    if let Some(cap) = run.options.max_writes
        && run.started.fetch_add(1, Ordering::SeqCst) >= cap
    {
        return Outcome::NotApplied {
            reason: Skip::MaxWrites(cap),
        };
    }
    write_verified(run, change).await
}

/// Writes one change and verifies it, with no run-level check: the caller decided it goes.
async fn write_verified(run: &Run, change: &Change) -> Outcome {
    match write(run, change).await {
        Err(outcome) => outcome,
        Ok(written) => verify(run, change, written).await,
    }
}

/// A write the server accepted: which attempt, and its status.
#[derive(Clone, Copy)]
struct Written {
    attempt: u32,
    status: Option<u16>,
}

/// Sends the `PATCH` (with retries) and checks the flags it reports.
async fn write(run: &Run, change: &Change) -> Result<Written, Outcome> {
    // Recorded before it is sent: a write the audit log cannot hold is never made.
    run.audit(change, 1, Step::Started, None);
    if let Some(broken) = run.audit.as_ref().and_then(|audit| audit.broken()) {
        return Err(Outcome::NotApplied {
            reason: Skip::Stopped(Stop::AuditLog(broken.clone())),
        });
    }
    let mut written = Written {
        attempt: 0,
        status: None,
    };
    // Whether an attempt's outcome ended the write's lines in the audit log; a write the run
    // stopped before sending gets a closing `not_sent` line instead.
    let mut closed = false;
    let mut on_attempt = |attempt: &Attempt| {
        let Some(message) = attempt.message.as_deref() else {
            written = Written {
                attempt: attempt.number,
                status: attempt.status,
            };
            closed = true;
            return;
        };
        let step = if attempt.will_retry {
            Step::Retrying(message)
        } else {
            closed = true;
            Step::Failed(message)
        };
        run.audit(change, attempt.number, step, attempt.status);
    };
    let result = run
        .client
        .set_sharing(&change.fid, change.to, &mut on_attempt)
        .await;
    match result {
        Ok(flags) if flags == Some(change.to.flags()) => Ok(written),
        // The response disagrees; trust a fresh read over the write's echo.
        Ok(_) => match run.client.flags(&change.fid).await {
            Ok(flags) if flags == change.to.flags() => Ok(written),
            Ok(flags) => Err(unverified(
                run,
                change,
                written,
                Unverified::ReadsBack(Sharing::from_flags(flags)),
            )),
            Err(err) => Err(unverified(
                run,
                change,
                written,
                Unverified::Unreadable(err.to_string()),
            )),
        },
        Err(RemoteError::Quota { message }) => Err(stopped(run, Stop::Quota(message))),
        Err(err @ RemoteError::Backoff { .. }) => {
            Err(stopped(run, Stop::Unavailable(err.to_string())))
        }
        // The server stopped answering: no further write is started, and the ones that got
        // no answer are reported as not applied (a re-run finds out and converges).
        Err(RemoteError::ServerDown(why)) => {
            Err(unsent(run, change, closed, Stop::ServerDown(why)))
        }
        Err(RemoteError::Halted(why)) => Err(unsent(run, change, closed, Stop::Halted(why))),
        Err(err) => Err(Outcome::Failed {
            status: err.status(),
            failure: Failure::Write(err.message()),
        }),
    }
}

/// Stops the run (unless it already stopped) and leaves this change unwritten.
fn stopped(run: &Run, stop: Stop) -> Outcome {
    run.stop(stop.clone());
    Outcome::NotApplied {
        reason: Skip::Stopped(stop),
    }
}

/// [`stopped`], for a stop found before the next attempt went out (a signal, a server taken
/// for dead): the audit log's `started` line gets its closing `not_sent` line, unless a failed
/// attempt already closed it, so an auditor never reads a write as maybe made.
fn unsent(run: &Run, change: &Change, closed: bool, stop: Stop) -> Outcome {
    if !closed {
        let why = stop.to_string();
        run.audit(change, 0, Step::NotSent(&why), None);
    }
    stopped(run, stop)
}

fn unverified(run: &Run, change: &Change, written: Written, why: Unverified) -> Outcome {
    run.audit(
        change,
        written.attempt,
        Step::Unverified(&why),
        written.status,
    );
    Outcome::Failed {
        status: written.status,
        failure: Failure::Unverified(why),
    }
}

/// Records an accepted write as applied; a secret link must first read back as enabled.
/// Upstream it sometimes reads back disabled for a while (the official client re-reads it up
/// to 50 times, 4 s apart), so it is re-read with growing waits, written once more after the
/// first few, and reported as still settling if `share_key_timeout` passes first.
async fn verify(run: &Run, change: &Change, written: Written) -> Outcome {
    let mut last = written;
    if change.to == Sharing::Secret {
        let deadline = tokio::time::Instant::now() + run.options.share_key_timeout;
        if !share_key_visible(run, change, deadline, 3).await {
            let why = Unverified::ShareKeyHidden;
            run.audit(change, last.attempt, Step::Unverified(&why), last.status);
            last = match write(run, change).await {
                Err(outcome) => return outcome,
                Ok(again) => Written {
                    attempt: written.attempt + again.attempt,
                    status: again.status,
                },
            };
            if !share_key_visible(run, change, deadline, usize::MAX).await {
                return settling(run, change, last);
            }
        }
    }
    run.audit(change, last.attempt, Step::Applied, last.status);
    Outcome::Applied
}

/// Re-reads a file until its secret link reads back enabled, at most `reads` times (after
/// the first) and not past `deadline`; waits grow from 0.5 s to 4 s. Gives up early when the
/// run stops.
async fn share_key_visible(
    run: &Run,
    change: &Change,
    deadline: tokio::time::Instant,
    reads: usize,
) -> bool {
    let mut wait = Duration::ZERO;
    for _ in 0..=reads {
        let now = tokio::time::Instant::now();
        if now >= deadline && !wait.is_zero() {
            return false;
        }
        tokio::time::sleep(wait.min(deadline.saturating_duration_since(now))).await;
        if let Ok(flags) = run.client.flags(&change.fid).await
            && flags == change.to.flags()
        {
            return true;
        }
        if run.stop_reason().is_some() {
            return false;
        }
        wait = (wait * 2).clamp(Duration::from_millis(500), Duration::from_secs(4));
    }
    false
}

fn settling(run: &Run, change: &Change, written: Written) -> Outcome {
    let settling = Settling {
        timeout: run.options.share_key_timeout,
    };
    run.audit(
        change,
        written.attempt,
        Step::Settling(&settling),
        written.status,
    );
    Outcome::Settling(settling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_write_is_a_failed_change_not_a_missing_one() {
        let changes = vec![
            Change::plot("a:1", "x", Sharing::Public, Sharing::Private),
            Change::plot("a:2", "y", Sharing::Public, Sharing::Private),
            Change::plot("a:3", "z", Sharing::Public, Sharing::Private),
        ];
        let results = run_each(
            2,
            changes,
            |changes, index| async move {
                assert!(changes[index].fid != "a:2", "a bug in one write");
                Outcome::Applied
            },
            |_, outcome| outcome,
        )
        .await;
        let fids: Vec<&str> = results.iter().map(|(c, _)| c.fid.as_str()).collect();
        assert_eq!(
            fids,
            ["a:1", "a:2", "a:3"],
            "every change is reported, in order"
        );
        assert_eq!(results[0].1, Outcome::Applied);
        assert!(
            matches!(&results[1].1, Outcome::Failed { failure, .. } if failure.to_string().contains("internal error")),
            "{:?}",
            results[1].1
        );
        assert_eq!(results[2].1, Outcome::Applied);
    }

    #[test]
    fn tallies_count_directions_and_outcomes() {
        let report = Report {
            results: vec![
                (
                    Change::plot("a:1", "x", Sharing::Public, Sharing::Private),
                    Outcome::Applied,
                ),
                (
                    Change::plot("a:2", "y", Sharing::Private, Sharing::Public),
                    Outcome::Applied,
                ),
                (
                    Change::plot("a:3", "z", Sharing::Private, Sharing::Public),
                    Outcome::Failed {
                        status: Some(500),
                        failure: Failure::Write("boom".into()),
                    },
                ),
                (
                    Change::plot("a:4", "w", Sharing::Private, Sharing::Public),
                    Outcome::NotApplied {
                        reason: Skip::Stopped(Stop::Quota("quota".into())),
                    },
                ),
                (
                    Change::plot("a:5", "v", Sharing::Public, Sharing::Secret),
                    Outcome::Settling(Settling {
                        timeout: Duration::from_secs(1),
                    }),
                ),
            ],
            restored: Vec::new(),
            left: vec![Change::plot("a:6", "u", Sharing::Private, Sharing::Public)],
            stopped: Some(Stop::Quota("quota".into())),
            interrupted: false,
            audit_failed: None,
        };
        assert_eq!(
            report.tally(),
            Tally {
                restricted: 1,
                exposed: 1,
                failed: 1,
                not_applied: 1,
                settling: 1,
                restored: 0,
                unchecked: 0,
                left: 1,
            }
        );
        assert!(!report.is_complete());
    }
}
