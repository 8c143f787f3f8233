//! The one top-level error, and the exit codes.

use std::io;
use std::path::PathBuf;

use crate::policy::PolicyError;
use crate::snapshot::SnapshotError;

/// How a run ended, as the process exit code. The codes follow Terraform's
/// `-detailed-exitcode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: success, nothing pending.
    Success = 0,
    /// 1: an error, usage errors included.
    Failure = 1,
    /// 2: changes pending (`plan --detailed-exitcode`).
    Changes = 2,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit as u8)
    }
}

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The policy could not be read or is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A policy test file could not be read or is invalid.
    #[error(transparent)]
    TestFile(#[from] crate::policytest::TestFileError),
    /// The snapshot could not be read or is invalid.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// No usable credentials or API URL.
    #[error(transparent)]
    Credentials(#[from] crate::remote::credentials::CredentialsError),
    /// A request to the API failed.
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    /// Apply refuses the plan (a saved plan unreadable, stale or for another account; broken
    /// guardrails); nothing was written. The words are in `render::refusal`.
    #[error("{0}")]
    Refused(#[source] Box<crate::apply::Refusal>),
    /// A plan made now did not pass the checks a saved plan passes, so it is not shown (a bug:
    /// every plan plotward makes should).
    #[error("the plan does not read back as a saved plan would ({0}); please report this")]
    Unshowable(crate::apply::SavedPlanError),
    /// Apply was not confirmed; nothing was written.
    #[error("{0}")]
    Cancelled(crate::apply::Cancelled),
    /// The sandbox could not start or stopped with an error.
    #[error(transparent)]
    Sandbox(#[from] plotward_sandbox::SandboxError),
    /// The arguments do not make sense together.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// An export that cannot be made, or that plotward could not read back.
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    /// An input file other than a policy, snapshot or plan could not be read.
    #[error("cannot read {path}: {source}")]
    ReadFile {
        /// The file, as given.
        path: PathBuf,
        /// The operating system's error, or why the text is not acceptable (too large, not
        /// UTF-8).
        source: io::Error,
    },
    /// An output file (`--out`, `snapshot -o`, `export -o`) that plotward will not replace;
    /// nothing was written.
    #[error("cannot write {path}: {refusal}")]
    OutFile {
        /// The file, as given.
        path: PathBuf,
        /// Why it is not replaced.
        refusal: OutFileError,
    },
    /// An output file (`--out`, `--audit-log`) could not be written.
    #[error("cannot write {path}: {source}")]
    WriteFile {
        /// The file, as given.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The async runtime for the network commands could not start (threads, an event loop).
    #[error("cannot start the async runtime: {0}")]
    Runtime(io::Error),
    /// The handlers for SIGINT and SIGTERM could not be installed, so a run could not be
    /// interrupted cleanly; nothing is started without them.
    #[error("cannot listen for SIGINT and SIGTERM: {0}")]
    Signals(io::Error),
    /// `watch` could not listen on its metrics address.
    #[error("cannot serve metrics on {addr}: {source}")]
    Metrics {
        /// The address, as configured.
        addr: std::net::SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// The answer to the confirmation prompt could not be read.
    #[error("cannot read the answer from stdin: {0}")]
    Stdin(io::Error),
    /// Standard output or error could not be written. The only `From<io::Error>`: every other
    /// I/O operation names itself with a variant above.
    #[error("cannot write output: {}", describe_output_error(.0))]
    Output(#[from] io::Error),
}

/// A closed pipe says what happened and what it means for the exit code; anything else as
/// the system says it.
fn describe_output_error(err: &io::Error) -> String {
    if err.kind() == io::ErrorKind::BrokenPipe {
        "the reader closed it before everything was written (broken pipe); the exit code \
         is 1, not what the whole report would have said"
            .to_owned()
    } else {
        err.to_string()
    }
}

impl From<crate::apply::Refusal> for Error {
    fn from(refusal: crate::apply::Refusal) -> Error {
        Error::Refused(Box::new(refusal))
    }
}

impl Error {
    /// The exit code for this error: 1 for every kind today (usage, refusal, a broken
    /// guardrail, I/O), as the exit-code table in `--help` says; the one place a kind that
    /// should exit otherwise would say so.
    #[allow(clippy::unused_self)]
    pub(crate) fn exit(&self) -> Exit {
        Exit::Failure
    }
}

/// Arguments that do not make sense, alone or together; found before anything is read or
/// sent.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UsageError {
    /// `--user` typed on the command line, and a policy's `account.user` that differs: which
    /// one is meant is the reader's question, so neither wins silently.
    #[error(
        "--user {} conflicts with `account.user: {}` in {policy}; a policy that names its \
         account is run as that account: drop --user, or give a policy without `account:`",
        plotward_visible::escape(flag),
        plotward_visible::escape(account)
    )]
    AccountUser {
        flag: String,
        account: String,
        policy: String,
    },
    /// Two policies of one run name the same account: their plans would fight over its files.
    /// A policy reloaded by `watch` names another account than the one watched.
    #[error(
        "{policy} now names another account (`account:` user, server or key source) than the \
         one being watched; the policy in force stays. Restart watch to watch another account"
    )]
    AccountChanged { policy: String },
    #[error(
        "{first} and {second} both govern the account {} on {server}{}; give each account one \
         policy",
        plotward_visible::escape(user),
        same_server_note(first_server, server)
    )]
    SameAccount {
        user: String,
        server: String,
        /// The first policy's server, as written there (another spelling of `server`).
        first_server: String,
        first: String,
        second: String,
    },
    /// Several policies with a single-account saved plan (or one read where one account's is
    /// expected): one such plan file is one account's.
    #[error(
        "a saved plan of one account is applied under its one policy: give one -p with \
         PLANFILE; a plan over several accounts (plan -p a.yaml -p b.yaml --out) takes one -p \
         per account"
    )]
    SeveralPoliciesWithPlanFile,
    /// Several policies for `snapshot` or `export` without `--out DIR`: one file per account.
    #[error(
        "{command} with several policies writes one file per account: give --out DIR (a \
         directory; each account's file is named after its user)"
    )]
    SeveralPoliciesNeedDir { command: &'static str },
    /// Two accounts whose files in `--out DIR` (or `--diff DIR`) would have the same name.
    #[error(
        "{first} and {second} both name the user {} (on different servers, or differing only \
         in case): their files in the directory would have the same name; run them separately",
        plotward_visible::escape(user)
    )]
    SameFileName {
        user: String,
        first: String,
        second: String,
    },
    /// Several policies for a command that runs one account.
    #[error("{command} reads one account: give one -p (it has {count})")]
    SeveralPolicies { command: &'static str, count: usize },
    /// A path given to `explain` that no file can have.
    #[error("invalid path: {0}")]
    Path(crate::inventory::BadPath),
    /// A `--filetype` plotward does not know, with the nearest known name.
    #[error(
        "unknown filetype `{name}`{}; expected one of {}",
        suggestion.map(|word| format!(" (did you mean `{word}`?)")).unwrap_or_default(),
        crate::inventory::FileType::KNOWN.join(", ")
    )]
    Filetype {
        /// The name given.
        name: String,
        /// The closest known name, if one is close.
        suggestion: Option<&'static str>,
    },
    /// An `--artifact-url` that is not a plain `http(s)://` URL without credentials; shown
    /// escaped, and never whole when it may hold a password.
    #[error(
        "--artifact-url must be an http:// or https:// URL of at most 2,048 characters, \
             without a user or password, spaces, quotes or angle brackets"
    )]
    ArtifactUrl,
    /// A `--target` that is not a valid pattern.
    #[error(transparent)]
    Target(#[from] crate::policy::BadTarget),
    /// `--target` globs that match no file of the account: a typo, which would limit the run
    /// to nothing and report a clean account.
    #[error(
        "--target {} {} no file of the account; check the spelling (`finance/**` is what lies \
         in the folder `finance`, `finance` the folder itself)",
        .0.iter().map(|g| format!("`{}`", plotward_visible::escape(g))).collect::<Vec<_>>().join(", "),
        if .0.len() == 1 { "matches" } else { "match" }
    )]
    TargetMatchesNothing(Vec<String>),
    /// `--max-writes 0`.
    #[error("--max-writes must be at least 1")]
    NoWrites,
    /// A `--user-keys` that is not `derived:SECRET`; the value is not shown (it holds a
    /// secret).
    #[error("--user-keys takes derived:SECRET (a non-empty secret)")]
    UserKeys,
    /// A `--user` without both halves; only the name part is shown (the rest may be a key).
    #[error("--user takes NAME:APIKEY, got `{0}`")]
    UserSpec(String),
    /// A `--user` whose name could not be a Chart Studio username, or whose key holds spaces
    /// or control characters (the banner prints both as shell `export`s).
    #[error(
        "--user `{}`: the name must be a Chart Studio username (no `:`, `/`, `?`, `#`, `%`, \
         `\\`, spaces or control characters) and the key must hold no spaces or control \
         characters",
        plotward_visible::escape(.0)
    )]
    SandboxUser(String),
    /// Sandbox fault settings out of range.
    #[error("{0}")]
    Faults(String),
    /// A sandbox address off loopback.
    #[error("the sandbox only listens on loopback addresses, not {0}")]
    NotLoopback(std::net::SocketAddr),
    /// An environment variable whose value its flag does not accept (clap's words for what it
    /// accepts); the value is escaped, since it comes from outside.
    #[error(
        "{var}={} is not a valid value for {flag} (set in the environment): {reason}",
        plotward_visible::escape(value)
    )]
    EnvValue {
        /// The variable.
        var: String,
        /// The flag it stands for.
        flag: String,
        /// The value as read.
        value: String,
        /// What the flag accepts.
        reason: String,
    },
    /// A `watch --interval` out of bounds or not a duration.
    #[error("--interval {0}")]
    Interval(#[from] crate::watch::IntervalError),
    /// A `watch --metrics-addr` that is neither `off` nor `IP:PORT`; shown escaped.
    #[error(
        "--metrics-addr `{}` is not an address: give IP:PORT (such as 127.0.0.1:9464) or `off`",
        plotward_visible::escape(.0)
    )]
    MetricsAddr(String),
    /// A `watch --metrics-addr` off loopback without `--metrics-allow-remote`.
    #[error(
        "--metrics-addr {0} is not a loopback address: the metrics name the account and count \
         its files; add --metrics-allow-remote to serve them there (as in a Kubernetes Pod)"
    )]
    MetricsNotLoopback(std::net::SocketAddr),
    /// An output (`plan`/`check`/`snapshot`/`export --out`, a file in `--out DIR`) that is
    /// one of the command's own inputs: a policy or the snapshot it reads.
    #[error(
        "--out would replace {}, this {command}'s own input; write the {command} output \
         somewhere else",
        plotward_visible::escape(&path.display().to_string())
    )]
    OutIsInput {
        command: &'static str,
        path: PathBuf,
    },
    /// `--audit-log` naming one of the command's own inputs: a policy or the saved plan.
    #[error(
        "--audit-log would append to {}, this {command}'s own input; give the audit log a \
         file of its own",
        plotward_visible::escape(&path.display().to_string())
    )]
    AuditLogIsInput {
        command: &'static str,
        path: PathBuf,
    },
}

/// Why an output path is not written: replacing it would replace something other than a
/// regular file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OutFileError {
    /// The path, or the target of a symlink at it, is under `/dev` or `/proc`: `/dev/stderr`
    /// leads through `/proc/self/fd/2` to whatever the stream is redirected to, which a
    /// rename would replace.
    #[error("it is under /dev or /proc; plotward writes regular files only (use `-` for stdout)")]
    Special,
    /// A symlink whose target cannot be found, so what it would replace is unknown.
    #[error("it is a symlink whose target cannot be resolved ({0})")]
    UnresolvedLink(io::Error),
    /// Something that exists and is not a regular file.
    #[error(
        "it is {}, not a regular file; plotward only replaces regular files",
        .0.with_article()
    )]
    NotRegular(NotRegular),
}

/// What an existing path is, when it is not a regular file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotRegular {
    Directory,
    Fifo,
    Socket,
    /// A character or block device.
    Device,
    /// Anything else the platform knows.
    Other,
}

/// ` (the same server as http://127.0.0.1:8624)` when the first policy spelled the server
/// differently; nothing when both wrote it alike.
fn same_server_note(first: &str, second: &str) -> String {
    if first == second {
        String::new()
    } else {
        format!(" (the same server as {})", plotward_visible::escape(first))
    }
}

impl NotRegular {
    /// The kind as a noun phrase, for [`OutFileError::NotRegular`]'s message.
    fn with_article(self) -> &'static str {
        match self {
            NotRegular::Directory => "a directory",
            NotRegular::Fifo => "a FIFO",
            NotRegular::Socket => "a socket",
            NotRegular::Device => "a device",
            NotRegular::Other => "something other than a file",
        }
    }
}
