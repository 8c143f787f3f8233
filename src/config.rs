//! From parsed arguments to validated settings. The commands only ever see a [`Config`].

use std::io::IsTerminal;
use std::path::PathBuf;

use plotward_sandbox::{self as sandbox, FaultConfig, Seed, User};

use crate::cli::{
    self, ApplyArgs, CheckArgs, Cli, Command, ConnectionArgs, ExplainArgs, ExportArgs, PlanArgs,
    SandboxArgs,
};
use crate::error::{Error, UsageError};
use crate::inventory::{FileType, check_path};
use crate::policy::Targets;
use crate::policy::diagnostic::suggest;
use crate::remote::credentials::{self, Env, PlotlyFiles};
use crate::remote::{Connection, RetryPolicy};
use crate::render::{CheckFormat, Format, Painter, TestFormat};

/// Validated settings for one run.
#[derive(Debug)]
pub(crate) struct Config {
    /// Painter for stdout.
    pub stdout: Painter,
    /// Painter for stderr.
    pub stderr: Painter,
    /// The command and its settings.
    pub command: CommandConfig,
}

/// A command with its validated settings.
#[derive(Debug)]
pub(crate) enum CommandConfig {
    /// `validate`
    Validate { policy: PathBuf },
    /// `explain`
    Explain {
        policy: PathBuf,
        /// The file types to decide for.
        filetypes: Vec<FileType>,
        /// The paths to decide.
        paths: Vec<String>,
    },
    /// `plan`
    Plan(Box<PlanConfig>),
    /// `sandbox`
    Sandbox(Box<sandbox::Options>),
    /// `apply`
    Apply(Box<ApplyConfig>),
    /// `show`
    Show(ShowConfig),
    /// `check`
    Check(Box<CheckConfig>),
    /// `status`
    Status(Box<StatusConfig>),
    /// `watch`
    Watch(Box<WatchConfig>),
    /// `snapshot`
    Snapshot {
        /// Where to write; stdout when `None`.
        out: Option<PathBuf>,
        /// Policies naming the account (`account:`); none: the flags and environment.
        policies: Vec<PathBuf>,
        remote: Box<Live>,
    },
    /// `export`
    Export {
        /// Where the inventory comes from.
        input: Input,
        /// Policies naming the account (`account:`); none: the flags and environment.
        policies: Vec<PathBuf>,
        /// Where to write; stdout when `None`.
        out: Option<PathBuf>,
        /// An existing policy to diff against.
        diff: Option<PathBuf>,
    },
    /// `test`
    Test {
        file: PathBuf,
        /// Output format on stdout.
        format: TestFormat,
    },
    /// `schema`
    Schema,
    /// `completions SHELL`.
    Completions(crate::cli::Shell),
    /// `man`.
    Man,
    /// `demo`
    Demo {
        /// Keep the sandbox up afterwards.
        keep_running: bool,
        /// Trace each request (`-v`).
        verbose: bool,
    },
}

/// A live account and how to talk to it.
#[derive(Debug)]
pub(crate) struct Remote {
    /// URL and credentials.
    pub connection: Connection,
    /// Timeouts and retries.
    pub retry: RetryPolicy,
    /// Requests in flight at once.
    pub parallelism: usize,
    /// The cap on one response body.
    pub max_response_bytes: usize,
    /// Go on, saying so, when the listing never adds up to the server's count.
    pub accept_count_mismatch: bool,
    /// `-v`: trace every request on stderr.
    pub verbose: bool,
}

/// A live account before a policy names it: what the command line, the environment and
/// Plotly's files say. [`Live::remote`] resolves it for one policy, whose `account:` wins for
/// the user, the key and (when it gives one) the server.
#[derive(Debug)]
pub(crate) struct Live {
    flags: credentials::Flags,
    env: Env,
    files: PlotlyFiles,
    /// `--user` as typed on the command line (not from its variable): a policy's `account.user`
    /// that differs from it is a usage error, not a silent override.
    user_flag: Option<String>,
    /// Timeouts and retries.
    pub retry: RetryPolicy,
    /// Requests in flight at once, to one server, across every account of the run.
    pub parallelism: usize,
    /// The cap on one response body.
    pub max_response_bytes: usize,
    /// Go on, saying so, when the listing never adds up to the server's count.
    pub accept_count_mismatch: bool,
    /// `-v`: trace every request on stderr.
    pub verbose: bool,
}

impl Live {
    /// The server an account without `account.server` would use (flag, `PLOTLY_API_DOMAIN`,
    /// Plotly's files), if one is configured: what names an account whose key could not be
    /// read, so its section says where it would have gone.
    pub(crate) fn configured_server(&self) -> Option<String> {
        credentials::resolve_url(&self.flags, &self.env, &self.files)
            .ok()
            .map(|(url, _)| url)
    }

    /// The account a policy governs: its `account:` block (the key read from the variable or
    /// file it names), else the flags, the environment and Plotly's files, as without
    /// `account:`.
    pub(crate) fn remote(&self, policy: Option<&crate::policy::Policy>) -> Result<Remote, Error> {
        let account = policy.and_then(|p| p.account.as_ref().map(|a| (a, p.name.as_str())));
        let connection = match account {
            None => credentials::resolve(
                &self.flags,
                &self.env,
                &self.files,
                credentials::read_key_file,
            )?,
            Some((account, policy_name)) => {
                if let Some(flag) = self.user_flag.as_deref().filter(|f| *f != account.user) {
                    return Err(UsageError::AccountUser {
                        flag: flag.to_owned(),
                        account: account.user.clone(),
                        policy: policy_name.to_owned(),
                    }
                    .into());
                }
                let named = credentials::Named {
                    user: &account.user,
                    server: account.server.as_deref(),
                    key: account_key(account, policy_name)?,
                    policy: policy_name,
                };
                credentials::resolve_named(named, &self.flags, &self.env, &self.files)?
            }
        };
        Ok(Remote {
            connection,
            retry: self.retry,
            parallelism: self.parallelism,
            max_response_bytes: self.max_response_bytes,
            accept_count_mismatch: self.accept_count_mismatch,
            verbose: self.verbose,
        })
    }
}

/// Reads the key an `account:` block names, with where it came from (for messages); the
/// variable is read here, at the edge, never by the policy.
fn account_key(
    account: &crate::policy::Account,
    policy: &str,
) -> Result<(String, credentials::Source), Error> {
    use crate::policy::KeySource;
    match &account.key {
        KeySource::Env(name) => {
            let source =
                credentials::Source::Policy(format!("{name} (account.api_key_env in {policy})"));
            match std::env::var(name) {
                Ok(key) if !key.trim().is_empty() => {
                    Ok((credentials::check_key(&key, &source)?, source))
                }
                _ => Err(credentials::CredentialsError::Missing {
                    what: "API key",
                    hint: format!(
                        "{policy} reads it from the environment variable {name} \
                         (account.api_key_env), which is not set: set {name}, or name the \
                         variable that holds the key in the `account:` block of {policy}"
                    ),
                }
                .into()),
            }
        }
        KeySource::File(path) => {
            let source = credentials::Source::Policy(format!(
                "{} (account.api_key_file in {policy})",
                shown_key_path(path)
            ));
            Ok((credentials::read_account_key_file(path, &source)?, source))
        }
    }
}

/// `account.api_key_file` as messages show it: the path, unless it has neither a `/` nor a
/// `.`, which is how a key pasted where its file's name belongs looks (it would be quoted in
/// "cannot read KEY"); then "the file".
fn shown_key_path(path: &std::path::Path) -> String {
    let text = path.to_string_lossy();
    if text.contains(['/', '.', '\\']) {
        path.display().to_string()
    } else {
        "the file".to_owned()
    }
}

/// Where a plan's inventory comes from.
#[derive(Debug)]
pub(crate) enum Input {
    /// A snapshot file.
    Snapshot(PathBuf),
    /// The live account (or accounts).
    Live(Box<Live>),
}

/// Settings of `check`.
#[derive(Debug)]
pub(crate) struct CheckConfig {
    /// The policy files, one account each (several: one combined report).
    pub policies: Vec<PathBuf>,
    /// The paths the check is limited to.
    pub targets: Targets,
    /// Where the inventory comes from.
    pub input: Input,
    pub format: CheckFormat,
    /// Fail on dead rules or a policy that manages nothing.
    pub strict: bool,
    /// Where the report goes instead of stdout (`-`: stdout).
    pub out: Option<PathBuf>,
}

/// Settings of `status`.
#[derive(Debug)]
pub(crate) struct StatusConfig {
    pub policy: PathBuf,
    /// Where the files are read.
    pub input: Input,
    pub format: crate::render::status::StatusFormat,
    /// The paths to show, each checked.
    pub paths: Vec<String>,
}

/// Settings of `apply`.
#[derive(Debug)]
pub(crate) struct ApplyConfig {
    /// The policy files: planned from without a plan file; with one, the plan's digest must
    /// be this policy's (several: one per account of a plan saved over several accounts).
    pub policies: Vec<PathBuf>,
    /// A saved plan to carry out.
    pub plan_file: Option<PathBuf>,
    /// Skip the confirmation.
    pub auto_approve: bool,
    /// Apply despite broken guardrails.
    pub force: bool,
    /// Cap on files written.
    pub max_writes: Option<usize>,
    /// Where to append the audit trail.
    pub audit_log: Option<PathBuf>,
    /// How long a new secret link may take to read back as enabled.
    pub share_key_timeout: std::time::Duration,
    /// The paths the run is limited to (a saved plan must name the same).
    pub targets: Targets,
    pub remote: Live,
}

/// Settings of `watch`.
#[derive(Debug)]
pub(crate) struct WatchConfig {
    /// The policy files, one account each, read at start and on SIGHUP.
    pub policies: Vec<PathBuf>,
    /// Time between cycles (after a success).
    pub interval: std::time::Duration,
    /// Write the plan's restrictions.
    pub auto_restrict: bool,
    /// Where to serve `/metrics` and `/healthz`; `None` with `off`.
    pub metrics_addr: Option<std::net::SocketAddr>,
    pub log_format: crate::render::watch::LogFormat,
    /// Cap on files written per cycle.
    pub max_writes: Option<usize>,
    /// Where to append the audit trail.
    pub audit_log: Option<PathBuf>,
    /// How long a new secret link may take to read back as enabled.
    pub share_key_timeout: std::time::Duration,
    pub remote: Box<Live>,
}

/// Settings of `show`.
#[derive(Debug)]
pub(crate) struct ShowConfig {
    /// The saved plan.
    pub plan_file: PathBuf,
    pub format: Format,
    /// Every row, however large the plan.
    pub full: bool,
    /// The CI job's artifacts page.
    pub artifact_url: Option<String>,
}

/// Settings of `plan`.
#[derive(Debug)]
pub(crate) struct PlanConfig {
    /// The policy files, one account each (several: one combined report).
    pub policies: Vec<PathBuf>,
    /// The paths the plan is limited to.
    pub targets: Targets,
    /// Where the inventory comes from.
    pub input: Input,
    /// Output format on stdout.
    pub format: Format,
    /// Where to save the JSON plan too.
    pub out: Option<PathBuf>,
    /// Exit 2 on pending changes.
    pub detailed_exitcode: bool,
    /// Fail on dead rules or a policy that manages nothing.
    pub strict: bool,
    /// Every row in text, however large the plan.
    pub full: bool,
    /// The CI job's artifacts page, for Markdown's truncation note.
    pub artifact_url: Option<String>,
}

impl From<cli::BadEnv> for UsageError {
    fn from(bad: cli::BadEnv) -> UsageError {
        UsageError::EnvValue {
            var: bad.var,
            flag: bad.flag,
            value: bad.value,
            reason: bad.reason,
        }
    }
}

/// The one colour decision of the program, for a stream: on only for a terminal, and never
/// with `--no-color`, a non-empty `NO_COLOR` or `TERM=dumb`. `main` uses it for errors too.
pub(crate) fn painter(no_color: bool, stream_is_terminal: bool) -> Painter {
    let allowed = !no_color
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|v| v != "dumb");
    Painter::new(allowed && stream_is_terminal)
}

impl Config {
    /// Validates the arguments; colour follows [`painter`].
    pub(crate) fn from_cli(cli: Cli) -> Result<Config, Error> {
        let no_color = cli.no_color;
        let verbose = cli.verbose;
        let mut command = match cli.command {
            Command::Validate(args) => CommandConfig::Validate {
                policy: args.policy,
            },
            Command::Explain(args) => explain_config(args)?,
            Command::Plan(args) => CommandConfig::Plan(Box::new(plan_config(args)?)),
            Command::Sandbox(args) => CommandConfig::Sandbox(Box::new(sandbox_options(args)?)),
            Command::Apply(args) => CommandConfig::Apply(Box::new(apply_config(args)?)),
            Command::Show(args) => CommandConfig::Show(ShowConfig {
                plan_file: args.plan_file,
                format: plan_format(args.format),
                full: args.show.full,
                artifact_url: artifact_url(args.show.artifact_url)?,
            }),
            Command::Check(args) => CommandConfig::Check(Box::new(check_config(args)?)),
            Command::Status(args) => CommandConfig::Status(Box::new(status_config(args)?)),
            Command::Watch(args) => CommandConfig::Watch(Box::new(watch_config(args)?)),
            Command::Snapshot(args) => CommandConfig::Snapshot {
                out: args.out,
                policies: args.policies,
                remote: Box::new(remote(args.connection)?),
            },
            Command::Export(args) => export_config(args)?,
            Command::Test(args) => CommandConfig::Test {
                file: args.file,
                format: match args.format {
                    cli::TestFormat::Text => TestFormat::Text,
                    cli::TestFormat::Junit => TestFormat::Junit,
                },
            },
            Command::Schema => CommandConfig::Schema,
            Command::Completions(args) => CommandConfig::Completions(args.shell),
            Command::Man => CommandConfig::Man,
            Command::Demo(args) => CommandConfig::Demo {
                keep_running: args.keep_running,
                verbose,
            },
        };
        if let Some(remote) = command.remote_mut() {
            remote.verbose = verbose;
        }
        Ok(Config {
            stdout: painter(no_color, std::io::stdout().is_terminal()),
            stderr: painter(no_color, std::io::stderr().is_terminal()),
            command,
        })
    }
}

impl CommandConfig {
    /// The live account the command talks to, if any (for the global `-v`).
    fn remote_mut(&mut self) -> Option<&mut Live> {
        let input = match self {
            CommandConfig::Plan(config) => &mut config.input,
            CommandConfig::Check(config) => &mut config.input,
            CommandConfig::Status(config) => &mut config.input,
            CommandConfig::Export { input, .. } => input,
            CommandConfig::Apply(config) => return Some(&mut config.remote),
            CommandConfig::Watch(config) => return Some(&mut config.remote),
            CommandConfig::Snapshot { remote, .. } => return Some(remote),
            _ => return None,
        };
        match input {
            Input::Live(remote) => Some(remote),
            Input::Snapshot(_) => None,
        }
    }
}

fn explain_config(args: ExplainArgs) -> Result<CommandConfig, Error> {
    let filetypes = match args.filetype {
        Some(name) => vec![parse_filetype(&name)?],
        None => FileType::COMMON.to_vec(),
    };
    for path in &args.paths {
        check_path(path).map_err(UsageError::Path)?;
    }
    Ok(CommandConfig::Explain {
        policy: args.policy.policy,
        filetypes,
        paths: args.paths,
    })
}

fn parse_filetype(name: &str) -> Result<FileType, Error> {
    if FileType::KNOWN.contains(&name) {
        return Ok(FileType::from_api(name));
    }
    Err(UsageError::Filetype {
        name: name.to_owned(),
        suggestion: suggest(name, &FileType::KNOWN),
    }
    .into())
}

fn plan_config(args: PlanArgs) -> Result<PlanConfig, Error> {
    Ok(PlanConfig {
        policies: args.policy.policies,
        targets: Targets::new(&args.target.targets).map_err(UsageError::from)?,
        input: input(args.snapshot, args.connection)?,
        format: plan_format(args.format),
        out: args.out,
        detailed_exitcode: args.detailed_exitcode,
        strict: args.strict,
        full: args.show.full,
        artifact_url: artifact_url(args.show.artifact_url)?,
    })
}

/// An `--artifact-url`, checked: it is written into a Markdown link (`[..](<URL>)`), so it
/// must be a plain `http(s)://` URL with nothing that ends the link early, and it must not
/// carry a user or password into a public comment.
fn artifact_url(url: Option<String>) -> Result<Option<String>, Error> {
    let Some(url) = url else {
        return Ok(None);
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let authority = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    let plain = |c: char| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | '`' | '\\');
    match authority {
        // 2,048 characters: what browsers and CI hosts keep; a longer one would crowd the
        // comment it is written into.
        Some(host)
            if !host.is_empty()
                && !host.contains('@')
                && url.len() <= 2048
                && url.chars().all(plain) =>
        {
            Ok(Some(url))
        }
        _ => Err(UsageError::ArtifactUrl.into()),
    }
}

fn export_config(args: ExportArgs) -> Result<CommandConfig, Error> {
    Ok(CommandConfig::Export {
        input: input(args.snapshot, args.connection)?,
        policies: args.policies,
        out: args.out,
        diff: args.diff,
    })
}

fn check_config(args: CheckArgs) -> Result<CheckConfig, Error> {
    Ok(CheckConfig {
        policies: args.policy.policies,
        targets: Targets::new(&args.target.targets).map_err(UsageError::from)?,
        input: input(args.snapshot, args.connection)?,
        format: check_format(args.format),
        strict: args.strict,
        out: args.out,
    })
}

fn status_config(args: cli::StatusArgs) -> Result<StatusConfig, Error> {
    for path in &args.paths {
        check_path(path).map_err(UsageError::Path)?;
    }
    Ok(StatusConfig {
        policy: args.policy.policy,
        input: input(args.snapshot, args.connection)?,
        format: match args.format {
            cli::StatusFormat::Text => crate::render::status::StatusFormat::Text,
            cli::StatusFormat::Json => crate::render::status::StatusFormat::Json,
        },
        paths: args.paths,
    })
}

/// The renderer for a `plan --format` value.
fn plan_format(format: cli::PlanFormat) -> Format {
    match format {
        cli::PlanFormat::Text => Format::Text,
        cli::PlanFormat::Json => Format::Json,
        cli::PlanFormat::Markdown => Format::Markdown,
        cli::PlanFormat::Diff => Format::Diff,
    }
}

/// The renderer for a `check --format` value.
fn check_format(format: cli::CheckFormat) -> CheckFormat {
    match format {
        cli::CheckFormat::Text => CheckFormat::Text,
        cli::CheckFormat::Json => CheckFormat::Json,
        cli::CheckFormat::Markdown => CheckFormat::Markdown,
        cli::CheckFormat::Junit => CheckFormat::Junit,
        cli::CheckFormat::Html => CheckFormat::Html,
    }
}

/// A snapshot when given, else the live account.
fn input(snapshot: Option<PathBuf>, connection: ConnectionArgs) -> Result<Input, Error> {
    Ok(match snapshot {
        Some(path) => Input::Snapshot(path),
        None => Input::Live(Box::new(remote(connection)?)),
    })
}

fn apply_config(args: ApplyArgs) -> Result<ApplyConfig, Error> {
    if args.max_writes == Some(0) {
        return Err(UsageError::NoWrites.into());
    }
    Ok(ApplyConfig {
        policies: args.policies,
        plan_file: args.plan_file,
        auto_approve: args.auto_approve,
        force: args.force,
        max_writes: args.max_writes,
        audit_log: args.audit_log,
        share_key_timeout: std::time::Duration::from_secs(args.share_key_timeout),
        targets: Targets::new(&args.target.targets).map_err(UsageError::from)?,
        remote: remote(args.connection)?,
    })
}

fn watch_config(args: cli::WatchArgs) -> Result<WatchConfig, Error> {
    if args.max_writes == Some(0) {
        return Err(UsageError::NoWrites.into());
    }
    Ok(WatchConfig {
        policies: args.policy.policies,
        interval: crate::watch::parse_interval(&args.interval).map_err(UsageError::from)?,
        auto_restrict: args.auto_restrict,
        metrics_addr: metrics_addr(&args.metrics_addr, args.metrics_allow_remote)?,
        log_format: match args.log_format {
            cli::LogFormat::Text => crate::render::watch::LogFormat::Text,
            cli::LogFormat::Json => crate::render::watch::LogFormat::Json,
        },
        max_writes: args.max_writes,
        audit_log: args.audit_log,
        share_key_timeout: std::time::Duration::from_secs(args.share_key_timeout),
        remote: Box::new(remote(args.connection)?),
    })
}

/// `--metrics-addr`: `off`, or an `IP:PORT` on loopback unless `--metrics-allow-remote`.
fn metrics_addr(text: &str, allow_remote: bool) -> Result<Option<std::net::SocketAddr>, Error> {
    if text.trim() == "off" {
        return Ok(None);
    }
    let addr: std::net::SocketAddr = text
        .trim()
        .parse()
        .map_err(|_| UsageError::MetricsAddr(text.to_owned()))?;
    if !addr.ip().is_loopback() && !allow_remote {
        return Err(UsageError::MetricsNotLoopback(addr).into());
    }
    Ok(Some(addr))
}

/// Reads what the flags, the environment and Plotly's files say about the connection; each
/// policy's account is resolved from it by [`Live::remote`].
fn remote(args: ConnectionArgs) -> Result<Live, Error> {
    let mut env = Env::from_process();
    let files = match &env.plotly_dir {
        Some(dir) => PlotlyFiles::load(dir)?,
        None => PlotlyFiles::default(),
    };
    // clap reads the variables of --api-url and --user too; a value it took from there is
    // the environment's (which `Env` already holds), so messages name the variable.
    let from_env = args.from_env;
    let flag = |value: Option<String>, from_env: bool| value.filter(|_| !from_env);
    let mut flags = credentials::Flags {
        api_url: flag(args.api_url, from_env.api_url),
        user: flag(args.user, from_env.user),
        api_key_file: None,
        ca_bundle: args.ca_bundle,
        allowed_servers: args.allow_servers,
    };
    match args.api_key_file {
        Some(path) if from_env.api_key_file => env.api_key_file = Some(path),
        other => flags.api_key_file = other,
    }
    // A bad --api-url (or PLOTLY_API_DOMAIN) is refused at once, before any policy is read, as
    // it was before policies could name their server: it is wrong whichever account uses it.
    if flags.api_url.is_some() || env.api_domain.is_some() {
        credentials::resolve_url(&flags, &env, &files)?;
    }
    Ok(Live {
        user_flag: flags.user.clone(),
        flags,
        env,
        files,
        retry: RetryPolicy {
            retries: args.retries,
            backoff: std::time::Duration::from_millis(args.backoff_ms),
            timeout: std::time::Duration::from_secs(args.timeout.max(1)),
            ..RetryPolicy::default()
        },
        parallelism: usize::from(args.parallelism),
        max_response_bytes: usize::try_from(u64::from(args.max_response_mib) * 1024 * 1024)
            .unwrap_or(usize::MAX),
        accept_count_mismatch: args.accept_count_mismatch,
        verbose: false,
    })
}

fn sandbox_options(args: SandboxArgs) -> Result<sandbox::Options, Error> {
    let seed = match (args.seed, args.generate, args.generate_users) {
        (Some(path), _, _) => Seed::load_snapshot(&path)?,
        (None, Some(files), Some(users)) => Seed::GenerateUsers {
            users: users as usize,
            files,
        },
        (None, Some(count), None) => Seed::Generate(count),
        (None, None, _) => Seed::Empty,
    };
    let key_secret = match args.user_keys.as_deref().map(|spec| spec.split_once(':')) {
        None => None,
        Some(Some(("derived", secret))) if !secret.is_empty() => Some(secret.to_owned()),
        Some(_) => return Err(UsageError::UserKeys.into()),
    };
    let users = args
        .users
        .iter()
        .map(|spec| match spec.split_once(':') {
            Some((name, key)) if !name.is_empty() && !key.is_empty() => {
                // The banner prints both as shell `export`s, and plotward itself accepts
                // only names that can be Chart Studio usernames.
                // Nor anything a terminal would not show as it is (bidi, zero-width).
                let shown = |text: &str| !text.chars().any(plotward_visible::needs_escape);
                let key_ok = !key.chars().any(char::is_whitespace) && shown(key);
                if !crate::remote::api::is_username(name) || !shown(name) || !key_ok {
                    return Err(UsageError::SandboxUser(name.to_owned()));
                }
                Ok(User {
                    username: name.to_owned(),
                    api_key: key.to_owned(),
                })
            }
            _ => Err(UsageError::UserSpec(
                spec.split(':').next().unwrap_or_default().to_owned(),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let faults = FaultConfig {
        latency_ms: args.latency_ms,
        fail_rate: args.fail_rate,
        rate_limit: args.rate_limit,
        daily_write_limit: args.daily_write_limit,
        flaky_share_keys: args.flaky_share_keys,
        flaky_share_key_ms: None,
        fail_writes_to: Vec::new(),
        folder_cascade: None,
    };
    faults.validate().map_err(UsageError::Faults)?;
    if !args.addr.ip().is_loopback() {
        return Err(UsageError::NotLoopback(args.addr).into());
    }
    Ok(sandbox::Options {
        addr: args.addr,
        seed,
        state: args.state,
        users,
        key_secret,
        faults,
        web_domain: args.web_domain,
        header_timeout: std::time::Duration::from_secs(args.header_timeout),
        idle_timeout: std::time::Duration::from_secs(args.idle_timeout),
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        folder_cascade: !args.no_folder_cascade,
        // Where warnings go is the command's business: it owns stderr.
        events: sandbox::Events::default(),
    })
}
