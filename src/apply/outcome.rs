//! How each change ended, as facts: what failed, why a change was left, what is still
//! settling. The words are in [`crate::render::outcome`] (these types' `Display`), so the
//! report and the audit log say the same thing.

use std::time::Duration;

use crate::inventory::Sharing;

/// How one change ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Written and verified.
    Applied,
    /// Tried and failed.
    Failed {
        /// HTTP status, if the server answered.
        status: Option<u16>,
        failure: Failure,
    },
    /// Not written: the run stopped or reached `--max-writes`.
    NotApplied { reason: Skip },
    /// Written, but the new secret link did not read back as enabled in time: upstream
    /// enables share keys eventually. Not a failure, not yet verified.
    Settling(Settling),
}

/// Why a change that was tried failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The write was refused or never arrived: the server's message, or the transport's.
    Write(String),
    /// The server accepted the write, but the file does not read back as planned.
    Unverified(Unverified),
    /// A file below a changed folder could not be read again: the server's message, or the
    /// transport's.
    NotReread(String),
    /// The task writing it panicked (the runtime's account of it): whether the write reached
    /// the server is unknown.
    Panicked(String),
    /// The task writing it ended without a result.
    Lost,
}

/// Why an accepted write is not (yet) taken as done; the audit log records each as
/// `unverified`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Unverified {
    /// A fresh read after the write shows this level.
    ReadsBack(Sharing),
    /// The read after the write failed: its error.
    Unreadable(String),
    /// A new secret link did not read back as enabled after a few reads, so it is written
    /// once more (not a failure: the run goes on).
    ShareKeyHidden,
}

/// Why a change was not written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Skip {
    /// The run stopped first.
    Stopped(Stop),
    /// `--max-writes` (this cap) was reached.
    MaxWrites(usize),
    /// A file below a changed folder was not read again: the run stopped first.
    Unchecked(Stop),
}

/// Why a run stopped before its end; nothing is started after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The API's daily quota is used up: the server's message.
    Quota(String),
    /// The server asks for a longer wait than plotward's longest backoff: the client's
    /// account of it (`RemoteError::Backoff`'s message).
    Unavailable(String),
    /// The server stopped answering: the client's account of it.
    ServerDown(String),
    /// The client was halted: the reason it was halted with (an interrupt, a broken audit
    /// log), which the client hands back as text.
    Halted(String),
    /// A signal interrupted the run (`None` where signals have no names). The interrupt
    /// halts the client with these words, so writes refused after it read `Halted`.
    Interrupted(Option<&'static str>),
    /// The audit log could not be written.
    AuditLog(AuditBroken),
}

/// The audit log could not be written: the I/O error. The run fails closed: writes that
/// cannot be recorded are not made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AuditBroken(pub String);

/// A secret link written but not yet readable when `timeout` (`--share-key-timeout`)
/// passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Settling {
    pub timeout: Duration,
}
