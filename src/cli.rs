//! The command line, as clap sees it. Nothing here is used past `config`, which turns it into
//! validated settings.

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success; no changes pending, or every change applied
  1  error (invalid policy, bad input, usage, network, stale plan, a change not applied,
     a plan that breaks a guardrail, a status path with no file, output that could not
     be written, a closed pipe included)
  2  changes pending (plan --detailed-exitcode), violations found (check), a file that
     does not comply (status), or the policy differs from the export (export --diff)

Credentials, highest first: --api-url / --user / --api-key-file; PLOTLY_API_DOMAIN /
PLOTLY_USERNAME / PLOTWARD_API_KEY_FILE, then PLOTLY_API_KEY; ~/.plotly/.credentials and
.config (or $PLOTLY_DIR).";

/// The end of every command's `--help`: how the `[env: NAME=]` shown beside options works.
const ENVIRONMENT: &str = "\
Environment: an option shown with [env: NAME=] can be set by that variable instead; the
command line wins over it, and a variable set to nothing counts as unset. Overrides that
weaken a safety check (--auto-approve, --force, --accept-count-mismatch) have none.";

/// The command line as clap sees it: the derived definition, with one help layout for every
/// command. Parsing, `--help`, completions and the man page all use it.
///
/// clap gives `--help` a long layout (a blank line between options) only to commands with
/// something more to say in it, which made `plan` and `check` (whose `--format` values have
/// help) look unlike the rest; a long epilogue on every command gives all of them the long
/// layout, and `next_line_help` puts every option's help below it in both `-h` and `--help`.
pub(crate) fn command() -> clap::Command {
    use clap::CommandFactory;
    Cli::command()
        .after_long_help(format!("{EXIT_CODES}\n\n{ENVIRONMENT}"))
        .mut_subcommands(|sub| sub.after_long_help(ENVIRONMENT))
}

/// Keep the sharing of Plotly Chart Studio files under version control.
#[derive(Debug, Parser)]
#[command(name = "plotward", version, about, after_help = EXIT_CODES, next_line_help = true)]
pub(crate) struct Cli {
    /// Never colour the output (`NO_COLOR` is respected too).
    #[arg(long, global = true, env = "PLOTWARD_NO_COLOR", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub no_color: bool,

    /// Print one line per HTTP request on stderr (method, path, status or network error, time,
    /// attempt), and whether a proxy is used. Never a key, a share key or a header.
    #[arg(short, long, global = true, env = "PLOTWARD_VERBOSE",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub verbose: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// What to do; each variant's doc comment is its line in `plotward --help`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check a policy file and report every error in it.
    Validate(PolicyArg),

    /// Show which rule decides each given path.
    Explain(ExplainArgs),

    /// Show what would change to make the account follow the policy. Never writes.
    Plan(PlanArgs),

    /// Make the account follow the policy (or carry out a saved plan).
    Apply(ApplyArgs),

    /// Show a plan saved by `plan --out`, in any plan format. Needs no credentials or network.
    Show(ShowArgs),

    /// Read-only compliance gate: report every violation; exit 2 if there is any.
    Check(CheckArgs),

    /// Show the live sharing of given files, the rule that decides it, and whether they comply.
    Status(StatusArgs),

    /// Keep checking the account on an interval, report drift, serve metrics; with
    /// --auto-restrict, apply the plan's restrictions (never an exposure).
    Watch(WatchArgs),

    /// Save the account's files and sharing as a snapshot (JSON).
    Snapshot(SnapshotArgs),

    /// Write a policy that reproduces the account's sharing as it is today.
    Export(ExportArgs),

    /// Run the policy's tests: example paths and assertions, offline.
    Test(TestArgs),

    /// Print the JSON Schema of the policy file, for editors.
    Schema,

    /// Run plan, apply and plan again against a sandbox seeded with the example account.
    Demo(DemoArgs),

    /// Serve a local stand-in for the Chart Studio v2 API, for trying policies safely.
    Sandbox(SandboxArgs),

    /// Print a shell completion script for bash, zsh, fish, elvish or PowerShell.
    Completions(CompletionsArgs),

    /// Print the manual page (roff): `plotward man | man -l -`, or install it as plotward.1.
    Man,
}

/// `completions`' one argument.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The shells `completions` writes for (`clap_complete`'s, named here so clap stays in `cli`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Shell {
    /// GNU Bash.
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
    /// Elvish.
    Elvish,
    /// PowerShell.
    Powershell,
}

/// Writes the completion script for `shell`, generated from the same definition as `--help`,
/// so it cannot miss a flag.
pub(crate) fn write_completions(shell: Shell, out: &mut dyn std::io::Write) {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Elvish => clap_complete::Shell::Elvish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    };
    clap_complete::generate(shell, &mut command(), "plotward", out);
}

/// Writes the manual page (roff) of `plotward` and a section per subcommand, generated from
/// the same definition as `--help`.
pub(crate) fn write_man_page(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let command = command();
    clap_mangen::Man::new(command.clone()).render(out)?;
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("plotward-{}", sub.get_name());
        let sub = sub.clone().display_name(name);
        clap_mangen::Man::new(sub).render(out)?;
    }
    Ok(())
}

/// The policy file option, shared by the commands that read one.
#[derive(Debug, Args)]
pub(crate) struct PolicyArg {
    /// The policy file. No environment variable: what a gate judges is chosen on the command
    /// line, where a reviewer sees it (a CI variable naming a lenient policy would pass
    /// `check`).
    #[arg(short, long, value_name = "PATH", default_value = "plotward.yaml")]
    pub policy: PathBuf,
}

/// The policy files of the commands that can run several accounts at once (`plan`, `check`).
#[derive(Debug, Args)]
pub(crate) struct PoliciesArg {
    /// The policy file; repeat it, or give several after one `-p` (`-p teams/*.yaml`), to run
    /// one account per policy (each names its own in `account:`) with one combined report and
    /// the worst exit code. No environment variable: what a gate judges is chosen on the
    /// command line, where a reviewer sees it.
    #[arg(short, long = "policy", value_name = "PATH", default_value = "plotward.yaml",
          num_args = 1.., action = ArgAction::Append)]
    pub policies: Vec<PathBuf>,
}

/// Arguments of `explain`.
#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// The policy file.
    #[command(flatten)]
    pub policy: PolicyArg,

    /// The file type to decide for (`plot`, `grid`, `dashboard`, `spectacle_presentation`,
    /// `fold`, ...). Without it, every content type is tried and differences are shown.
    #[arg(long, value_name = "TYPE", env = "PLOTWARD_FILETYPE")]
    pub filetype: Option<String>,

    /// File paths as Chart Studio shows them, folders joined by `/` (`reports/q3/revenue`).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
}

/// Arguments of `plan`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// The policy files.
    #[command(flatten)]
    pub policy: PoliciesArg,

    /// Plan against a snapshot file instead of the live account. No environment variable:
    /// what a gate judges is chosen on the command line, where a reviewer sees it.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,

    /// How to reach the account (unused with --snapshot).
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text, env = "PLOTWARD_PLAN_FORMAT")]
    pub format: PlanFormat,

    /// Also save the plan as JSON to FILE, for `apply` (atomically; a symlink's target is
    /// replaced, anything but a regular file refused). `-` prints the JSON plan on stdout
    /// and the plan for people on stderr.
    #[arg(long, value_name = "FILE", env = "PLOTWARD_PLAN_OUT")]
    pub out: Option<PathBuf>,

    /// Exit 2 when there are changes, 0 when there are none.
    #[arg(long, env = "PLOTWARD_DETAILED_EXITCODE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub detailed_exitcode: bool,

    /// Exit 1 when a rule decides no file, or the policy manages no file at all.
    #[arg(long, env = "PLOTWARD_STRICT", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub strict: bool,

    /// How to show a large plan.
    #[command(flatten)]
    pub show: ShowFlags,

    /// The paths to limit the plan to.
    #[command(flatten)]
    pub target: TargetArg,
}

/// `--target`, shared by `plan`, `apply` and `check`.
#[derive(Debug, Args)]
pub(crate) struct TargetArg {
    /// Limit the run to paths matching GLOB (repeatable; the policy's glob syntax). The whole
    /// account is still listed and judged, guardrails included; only matching paths are
    /// changed and reported, and every output says the run is targeted. A glob that matches
    /// no file is an error. No environment variable: what a gate judges is chosen on the
    /// command line, where a reviewer sees it.
    #[arg(long = "target", value_name = "GLOB")]
    pub targets: Vec<String>,
}

/// How a plan is shown, shared by `plan` and `show` so both print the same.
#[derive(Debug, Args)]
pub(crate) struct ShowFlags {
    /// Show every row of a text plan; without it, a plan of more than 200 changes shows
    /// per-rule and per-folder counts and the first 10 rows of each group.
    #[arg(long, env = "PLOTWARD_FULL", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub full: bool,

    /// The CI job's artifacts page, linked from a truncated Markdown comment so a reviewer can
    /// download the saved plan and run `plotward show` on it.
    #[arg(long, value_name = "URL", env = "PLOTWARD_ARTIFACT_URL")]
    pub artifact_url: Option<String>,
}

/// Arguments of `show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// A plan saved by `plan --out`.
    #[arg(value_name = "PLANFILE")]
    pub plan_file: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text, env = "PLOTWARD_SHOW_FORMAT")]
    pub format: PlanFormat,

    /// How to show a large plan.
    #[command(flatten)]
    pub show: ShowFlags,
}

/// `plan --format`; `config` maps it to [`crate::render::Format`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum PlanFormat {
    /// Terraform-like text for people.
    Text,
    /// The versioned JSON plan (`format_version` 1, documented in the README).
    Json,
    /// A pull-request comment for GitHub and GitLab.
    Markdown,
    /// A unified diff of the sharing manifest (`path  filetype  level`), current to desired.
    Diff,
}

/// Arguments of `sandbox`.
#[derive(Debug, Args)]
pub(crate) struct SandboxArgs {
    /// Address to listen on; loopback only. Port 0 picks a free port.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:9889",
        env = "PLOTWARD_ADDR"
    )]
    pub addr: std::net::SocketAddr,

    /// Start with the files of this snapshot (owners from their fids).
    #[arg(
        long,
        value_name = "SNAPSHOT",
        conflicts_with = "generate",
        env = "PLOTWARD_SEED"
    )]
    pub seed: Option<PathBuf>,

    /// Start with a deterministic synthetic account of N files.
    #[arg(long, value_name = "N", env = "PLOTWARD_GENERATE")]
    pub generate: Option<usize>,

    /// With --generate M: an organization of N generated users (user0001, user0002, ...),
    /// each with the synthetic account of M files.
    #[arg(
        long,
        value_name = "N",
        requires = "generate",
        value_parser = clap::value_parser!(u32).range(1..=100_000),
        env = "PLOTWARD_GENERATE_USERS"
    )]
    pub generate_users: Option<u32>,

    /// Keys of the users the sandbox adds: `derived:SECRET` makes user U's key the first 20
    /// hex digits of SHA-256 of `plotward-sandbox-key`, NUL, SECRET, NUL, U, NUL (the
    /// sandbox crate's `derived_key`), so tests and benchmarks know every key. Default: fresh
    /// random keys.
    #[arg(long, value_name = "derived:SECRET", env = "PLOTWARD_USER_KEYS")]
    pub user_keys: Option<String>,

    /// Save the state to FILE after writes, and start from it when it exists.
    #[arg(long, value_name = "FILE", env = "PLOTWARD_STATE")]
    pub state: Option<PathBuf>,

    /// A user and API key, NAME:APIKEY (repeatable). Default: one user with a fresh key.
    /// Its variable holds one user (not `PLOTWARD_USER`, which would read as the connection's
    /// `--user`).
    #[arg(
        long = "user",
        value_name = "NAME:APIKEY",
        env = "PLOTWARD_SANDBOX_USER"
    )]
    pub users: Vec<String>,

    /// Delay every API request by N milliseconds.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        env = "PLOTWARD_LATENCY_MS"
    )]
    pub latency_ms: u64,

    /// Answer this fraction (0 to 1) of API requests with a 500.
    #[arg(
        long,
        value_name = "P",
        default_value_t = 0.0,
        env = "PLOTWARD_FAIL_RATE"
    )]
    pub fail_rate: f64,

    /// Allow N API requests per second; answer the rest with 429 and Retry-After.
    #[arg(long, value_name = "N", env = "PLOTWARD_RATE_LIMIT")]
    pub rate_limit: Option<u32>,

    /// Allow N writes per user per day; answer the rest with the daily-limit 429.
    #[arg(long, value_name = "N", env = "PLOTWARD_DAILY_WRITE_LIMIT")]
    pub daily_write_limit: Option<u64>,

    /// Make this fraction (0 to 1) of share-key enables read back as disabled for 2 seconds,
    /// like the upstream eventual-consistency bug.
    #[arg(
        long,
        value_name = "P",
        default_value_t = 0.0,
        env = "PLOTWARD_FLAKY_SHARE_KEYS"
    )]
    pub flaky_share_keys: f64,

    /// Web UI base URL for `web_url` and `embed_url`. Default: the sandbox's own address.
    #[arg(long, value_name = "URL", env = "PLOTWARD_WEB_DOMAIN")]
    pub web_domain: Option<String>,

    /// Close a connection whose request headers (or body) take longer than this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, env = "PLOTWARD_HEADER_TIMEOUT", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,

    /// Close a connection idle (no request under way) for this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, env = "PLOTWARD_IDLE_TIMEOUT", value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub idle_timeout: u64,

    /// Serve at most N connections at once; more wait until one closes.
    #[arg(long, value_name = "N", default_value_t = 512, env = "PLOTWARD_MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_connections: u64,
    /// Keep a folder's sharing change to the folder: by default its contents take the new
    /// setting too, as in Chart Studio's web app.
    #[arg(long, env = "PLOTWARD_NO_FOLDER_CASCADE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub no_folder_cascade: bool,
}

/// How to reach a Chart Studio account.
#[derive(Debug, Args)]
pub(crate) struct ConnectionArgs {
    /// Your Chart Studio Enterprise server, e.g. `https://plotly.example.com` (no default: the
    /// Chart Studio cloud closed in 2025), or `plotly_api_domain` in Plotly's `.config`.
    #[arg(long, value_name = "URL", env = "PLOTLY_API_DOMAIN")]
    pub api_url: Option<String>,

    /// The Chart Studio username whose files are managed.
    #[arg(long, value_name = "NAME", env = "PLOTLY_USERNAME")]
    pub user: Option<String>,

    /// Read the API key from this file (its only content). No flag takes the key itself; the
    /// key's own variable is `PLOTLY_API_KEY`.
    #[arg(long, value_name = "PATH", env = "PLOTWARD_API_KEY_FILE")]
    pub api_key_file: Option<PathBuf>,

    /// Trust only the CAs in this PEM bundle (like `plotly_ssl_verification: "/path"`).
    #[arg(long, value_name = "PATH", env = "PLOTWARD_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,

    /// A server a policy's `account.server` may name besides the configured one (--api-url,
    /// `PLOTLY_API_DOMAIN` or Plotly's `.config`); repeat it for several. A policy naming any
    /// other server is refused before its key is read: a policy cannot send a key where the
    /// operator did not say. No environment variable: where keys may go is chosen on the
    /// command line, where a reviewer sees it.
    #[arg(long = "allow-server", value_name = "URL")]
    pub allow_servers: Vec<String>,

    /// Requests in flight at once, for listing pages and for writes.
    #[arg(long, value_name = "N", default_value_t = 8, env = "PLOTWARD_PARALLELISM", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,

    /// Per-request timeout in seconds (1 to 600), reading the body included.
    #[arg(long, value_name = "SECS", default_value_t = 30, env = "PLOTWARD_TIMEOUT", value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,

    /// Retries of a request that failed with 5xx, 429 or a network error.
    #[arg(long, value_name = "N", default_value_t = 5, env = "PLOTWARD_RETRIES")]
    pub retries: u32,

    /// First retry delay in milliseconds; it doubles each retry (with jitter), up to 30 s.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 500,
        env = "PLOTWARD_BACKOFF_MS"
    )]
    pub backoff_ms: u64,

    /// Refuse any response body larger than this many MiB (read with a streaming limit).
    #[arg(long, value_name = "MIB", default_value_t = 64, env = "PLOTWARD_MAX_RESPONSE_MIB", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_response_mib: u32,

    /// Which of the values above clap took from the environment (filled in by [`parse`]), so
    /// credential messages name the variable rather than the flag.
    #[arg(skip)]
    pub from_env: FromEnv,

    /// Go on when the listed files never add up to the server's `count` (some servers count
    /// trashed or shared files). Every output then says the listing was not proven complete.
    /// No environment variable: an override is given on the command line.
    #[arg(long)]
    pub accept_count_mismatch: bool,
}

/// Which connection values came from their environment variable rather than their flag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FromEnv {
    /// `--api-url` from `PLOTLY_API_DOMAIN`.
    pub api_url: bool,
    /// `--user` from `PLOTLY_USERNAME`.
    pub user: bool,
    /// `--api-key-file` from `PLOTWARD_API_KEY_FILE`.
    pub api_key_file: bool,
}

impl FromEnv {
    /// Reads the value sources of a subcommand's connection arguments.
    fn of(matches: &clap::ArgMatches) -> FromEnv {
        let from_env = |id: &str| {
            matches.try_contains_id(id).unwrap_or(false)
                && matches.value_source(id) == Some(clap::parser::ValueSource::EnvVariable)
        };
        FromEnv {
            api_url: from_env("api_url"),
            user: from_env("user"),
            api_key_file: from_env("api_key_file"),
        }
    }
}

impl Command {
    /// The connection arguments of a command that talks to a server. Matched without a
    /// catch-all, so a new command must say whether it has them.
    fn connection_mut(&mut self) -> Option<&mut ConnectionArgs> {
        match self {
            Command::Plan(args) => Some(&mut args.connection),
            Command::Apply(args) => Some(&mut args.connection),
            Command::Check(args) => Some(&mut args.connection),
            Command::Snapshot(args) => Some(&mut args.connection),
            Command::Export(args) => Some(&mut args.connection),
            Command::Status(args) => Some(&mut args.connection),
            Command::Watch(args) => Some(&mut args.connection),
            Command::Validate(_)
            | Command::Show(_)
            | Command::Explain(_)
            | Command::Test(_)
            | Command::Schema
            | Command::Demo(_)
            | Command::Sandbox(_)
            | Command::Completions(_)
            | Command::Man => None,
        }
    }
}

/// Why the command line (with its environment) was not accepted.
#[derive(Debug)]
pub(crate) enum ParseError {
    /// clap's own error (usage, or `--help` / `--version`, which are not failures).
    Clap(clap::Error),
    /// An environment variable whose value its flag does not accept.
    Env(BadEnv),
}

/// An environment variable whose value does not parse, as facts; `config` words it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadEnv {
    /// The variable, e.g. `PLOTWARD_PARALLELISM`.
    pub var: String,
    /// The flag it stands for, e.g. `--parallelism`.
    pub flag: String,
    /// Its value, as read (lossily, if it was not UTF-8).
    pub value: String,
    /// What the flag accepts, in clap's words.
    pub reason: String,
}

/// Parses the process's arguments and the environment variables of their flags.
pub(crate) fn parse() -> Result<Cli, ParseError> {
    parse_from(&std::env::args_os().collect::<Vec<_>>())
}

/// Parses `args` (the program name first). A variable that is set but empty (or only
/// whitespace) counts as unset, as Plotly's own variables always have here, so a CI template
/// that expands to nothing does not break a run.
pub(crate) fn parse_from(args: &[std::ffi::OsString]) -> Result<Cli, ParseError> {
    use clap::FromArgMatches;
    let mut command = command()
        .mut_args(unset_if_empty)
        .mut_subcommands(|sub| sub.mut_args(unset_if_empty));
    // Built once here: `explain_env` shows its arguments, which clap only does when built.
    command.build();
    let matches = command
        .clone()
        .try_get_matches_from(args)
        .map_err(|err| explain_env(&command, args, err))?;
    let mut cli = Cli::from_arg_matches(&matches).map_err(ParseError::Clap)?;
    if let (Some((_, sub)), Some(connection)) = (matches.subcommand(), cli.command.connection_mut())
    {
        connection.from_env = FromEnv::of(sub);
    }
    Ok(cli)
}

/// Drops an argument's variable when it is set to nothing but whitespace.
fn unset_if_empty(arg: clap::Arg) -> clap::Arg {
    let empty = arg
        .get_env()
        .and_then(std::env::var_os)
        .is_some_and(|value| value.to_string_lossy().trim().is_empty());
    if empty {
        arg.env(None::<&'static str>)
    } else {
        arg
    }
}

/// Turns clap's "invalid value" error into one naming the environment variable the value came
/// from, when it did: clap's own message names only the flag, which the user never typed.
fn explain_env(
    command: &clap::Command,
    args: &[std::ffi::OsString],
    err: clap::Error,
) -> ParseError {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        err.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return ParseError::Clap(err);
    }
    let Some(ContextValue::String(shown)) = err.get(ContextKind::InvalidArg) else {
        return ParseError::Clap(err);
    };
    // The first word that is not a flag names the subcommand (the root's flags take no value).
    let words: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let sub = words
        .iter()
        .find(|word| !word.starts_with('-'))
        .and_then(|name| command.find_subcommand(name));
    let candidates = command
        .get_arguments()
        .chain(sub.into_iter().flat_map(clap::Command::get_arguments));
    let Some(arg) = candidates.into_iter().find(|arg| arg.to_string() == *shown) else {
        return ParseError::Clap(err);
    };
    let (Some(var), Some(long)) = (arg.get_env(), arg.get_long()) else {
        return ParseError::Clap(err);
    };
    let Some(value) = std::env::var_os(var) else {
        return ParseError::Clap(err);
    };
    if on_command_line(&words, long, arg.get_short()) {
        return ParseError::Clap(err);
    }
    let reason = match err.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(valid)) => format!("expected one of {}", valid.join(", ")),
        _ => std::error::Error::source(&err)
            .map_or_else(|| "not accepted".to_owned(), ToString::to_string),
    };
    ParseError::Env(BadEnv {
        var: var.to_string_lossy().into_owned(),
        flag: format!("--{long}"),
        value: value.to_string_lossy().into_owned(),
        reason,
    })
}

/// Whether a flag may have been given on the command line (then clap never read its variable).
fn on_command_line(words: &[String], long: &str, short: Option<char>) -> bool {
    words.iter().any(|word| {
        word.strip_prefix("--")
            .is_some_and(|rest| rest == long || rest.starts_with(&format!("{long}=")))
            || short.is_some_and(|short| {
                !word.starts_with("--") && word.starts_with('-') && word.contains(short)
            })
    })
}

/// Arguments of `apply`.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// The policy file; with a plan file, the policy the plan must have been made from (its
    /// digest is compared), so it is read either way. Repeat `-p` (one file each, so a
    /// PLANFILE after it is not taken for a policy) to apply one account per policy, after one
    /// confirmation of the combined plan; or, with a plan saved over several accounts, give
    /// each of its accounts' policies. No environment variable: what is applied is chosen on
    /// the command line, where a reviewer sees it.
    #[arg(short, long = "policy", value_name = "PATH", default_value = "plotward.yaml",
          action = ArgAction::Append)]
    pub policies: Vec<PathBuf>,

    /// A plan saved by `plan --out`: apply exactly it, if the account still matches it.
    #[arg(value_name = "PLANFILE")]
    pub plan_file: Option<PathBuf>,

    /// Apply without asking for confirmation. No environment variable: an override is given
    /// on the command line.
    #[arg(long)]
    pub auto_approve: bool,

    /// Apply even if the plan breaks the policy's guardrails. No environment variable: an
    /// override is given on the command line.
    #[arg(long)]
    pub force: bool,

    /// Write at most N files in this run (for accounts with small daily quotas); with several
    /// policies, at most N per account.
    #[arg(long, value_name = "N", env = "PLOTWARD_MAX_WRITES")]
    pub max_writes: Option<usize>,

    /// Append one JSON line per write attempt to FILE.
    #[arg(long, value_name = "FILE", env = "PLOTWARD_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,

    /// How long to wait for a new secret link to read back as enabled (Chart Studio enables
    /// share keys eventually; the official client waits up to 50 x 4 s).
    #[arg(long, value_name = "SECS", default_value_t = 200, env = "PLOTWARD_SHARE_KEY_TIMEOUT",
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub share_key_timeout: u64,

    /// How to reach the account.
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// The paths to limit the run to (with a plan file: only the plan's own targets).
    #[command(flatten)]
    pub target: TargetArg,
}

/// Arguments of `snapshot`.
#[derive(Debug, Args)]
pub(crate) struct SnapshotArgs {
    /// Write the snapshot to FILE (atomically) instead of stdout; `-` is stdout. With several
    /// policies, a directory: one `USER.json` per account.
    #[arg(short, long, value_name = "FILE", env = "PLOTWARD_SNAPSHOT_OUT")]
    pub out: Option<PathBuf>,

    /// A policy whose `account:` names the account to save (its user, server and key); the
    /// rest of the policy is not used. Without it, the flags and environment name the account.
    /// No environment variable: whose files are read is chosen on the command line.
    #[arg(short, long = "policy", value_name = "PATH", action = ArgAction::Append)]
    pub policies: Vec<PathBuf>,

    /// How to reach the account.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Keep the sandbox running after the demo, until Ctrl-C, to explore it by hand.
    #[arg(long, env = "PLOTWARD_KEEP_RUNNING", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub keep_running: bool,
}

/// Arguments of `check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The policy files.
    #[command(flatten)]
    pub policy: PoliciesArg,

    /// Check a snapshot file instead of the live account. No environment variable: what a gate
    /// judges is chosen on the command line, where a reviewer sees it.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text, env = "PLOTWARD_CHECK_FORMAT")]
    pub format: CheckFormat,

    /// Exit 1 when a rule decides no file, or the policy manages no file at all.
    #[arg(long, env = "PLOTWARD_STRICT", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub strict: bool,

    /// Write the report to FILE instead of stdout, in any format (atomically; a symlink's
    /// target is replaced, anything but a regular file refused). `-` is stdout.
    #[arg(long, value_name = "FILE", env = "PLOTWARD_CHECK_OUT")]
    pub out: Option<PathBuf>,

    /// How to reach the account (unused with --snapshot).
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// The paths to limit the check to.
    #[command(flatten)]
    pub target: TargetArg,
}

/// Arguments of `watch`.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// The policy files, one account each (as with plan), read once at start and again on
    /// SIGHUP (an invalid one is logged and the policy in force stays).
    #[command(flatten)]
    pub policy: PoliciesArg,

    /// How often to plan the account: `30s`, `5m`, `1h` (1s to 24h). After failures the wait
    /// doubles, up to four intervals, and is back to one after a success.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "5m",
        env = "PLOTWARD_INTERVAL"
    )]
    pub interval: String,

    /// Apply the plan's restrictions each cycle (public or secret to private, public to
    /// secret), with apply's guardrails; exposures are only ever reported. Without it watch
    /// never writes. No environment variable: writing is chosen on the command line, where a
    /// reviewer sees it.
    #[arg(long)]
    pub auto_restrict: bool,

    /// Serve `/metrics` (Prometheus text format) and `/healthz` on this address, or `off`. A
    /// non-loopback address needs --metrics-allow-remote.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:9464",
        env = "PLOTWARD_METRICS_ADDR"
    )]
    pub metrics_addr: String,

    /// Allow --metrics-addr to be a non-loopback address (such as `0.0.0.0:9464` in a
    /// Kubernetes Pod, for scraping). The metrics name the account and count its files. No
    /// environment variable: an override is given on the command line.
    #[arg(long)]
    pub metrics_allow_remote: bool,

    /// Log lines on stderr as text, or as one JSON object per line.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text, env = "PLOTWARD_LOG_FORMAT")]
    pub log_format: LogFormat,

    /// Write at most N files in one cycle (for accounts with small daily quotas).
    #[arg(long, value_name = "N", env = "PLOTWARD_MAX_WRITES")]
    pub max_writes: Option<usize>,

    /// Append one JSON line per write attempt to FILE (as apply does); `-` writes them on
    /// stdout, where a container platform keeps and rotates its logs.
    #[arg(long, value_name = "FILE", env = "PLOTWARD_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,

    /// How long to wait for a new secret link (public to secret) to read back as enabled.
    #[arg(long, value_name = "SECS", default_value_t = 60, env = "PLOTWARD_SHARE_KEY_TIMEOUT",
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub share_key_timeout: u64,

    /// How to reach the account.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// `watch --log-format`; `config` maps it to [`crate::render::watch::LogFormat`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// A line of words per event.
    Text,
    /// A JSON object per line: ts, level, event, account, counts, error.
    Json,
}

/// `check --format`; `config` maps it to [`crate::render::CheckFormat`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum CheckFormat {
    /// Violations for people, and a summary line.
    Text,
    /// The versioned JSON check result.
    Json,
    /// A pull-request comment for GitHub and GitLab.
    Markdown,
    /// JUnit XML: one test case per file, a failure per violation.
    Junit,
    /// The exposure report: one self-contained HTML page (files by sharing per top-level
    /// folder as a chart, violations in a sortable table); open it in a browser.
    Html,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The policy file.
    #[command(flatten)]
    pub policy: PolicyArg,

    /// Read the files from a snapshot file instead of the live account. No environment variable: what a gate
    /// judges is chosen on the command line, where a reviewer sees it.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusFormat::Text, env = "PLOTWARD_STATUS_FORMAT")]
    pub format: StatusFormat,

    /// How to reach the account (unused with --snapshot).
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// File paths as Chart Studio shows them, folders joined by `/` (`reports/q3/revenue`).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
}

/// `status --format`; `config` maps it to [`crate::render::status::StatusFormat`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum StatusFormat {
    /// A block per file for people, and a summary line.
    Text,
    /// The versioned JSON status (`format_version` 1, documented in the README).
    Json,
}

/// Arguments of `export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// A policy whose `account:` names the account to export (its user, server and key); the
    /// rest of the policy is not used. Without it, the flags and environment name the account.
    /// No environment variable: whose files are read is chosen on the command line.
    #[arg(short, long = "policy", value_name = "PATH", action = ArgAction::Append)]
    pub policies: Vec<PathBuf>,

    /// Export from a snapshot file instead of the live account. No environment variable: what a gate
    /// judges is chosen on the command line, where a reviewer sees it.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,

    /// Write the policy to FILE (atomically) instead of stdout; `-` is stdout. With several
    /// policies, a directory: one `USER.yaml` per account.
    #[arg(
        short,
        long,
        value_name = "FILE",
        conflicts_with = "diff",
        env = "PLOTWARD_EXPORT_OUT"
    )]
    pub out: Option<PathBuf>,

    /// Show how the exported policy differs from this existing one, as a unified diff (with
    /// several policies, a directory holding `USER.yaml` per account). No
    /// environment variable: it changes what the command prints and how it exits, which a
    /// reader of the command line must see.
    #[arg(long, value_name = "EXISTING")]
    pub diff: Option<PathBuf>,

    /// How to reach the account (unused with --snapshot).
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Arguments of `test`.
#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// The test file.
    #[arg(value_name = "FILE", default_value = "plotward.test.yaml")]
    pub file: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = TestFormat::Text, env = "PLOTWARD_TEST_FORMAT")]
    pub format: TestFormat,
}

/// `test --format`; `config` maps it to [`crate::render::TestFormat`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum TestFormat {
    /// A line per failure (`file:line:column: ...`) and a summary line.
    Text,
    /// JUnit XML: one test case per case and per assertion, a failure per broken one.
    Junit,
}

#[cfg(test)]
mod tests {
    /// Every flag and argument of every command says what it is in `--help`: the doc comments
    /// above are that help text, so deleting one (as a tidy-up once did) must fail here.
    #[test]
    fn every_argument_of_every_command_has_help() {
        let root = super::command();
        let mut commands = vec![root.clone()];
        commands.extend(root.get_subcommands().cloned());
        let mut checked = 0;
        for command in &commands {
            for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                assert!(
                    !help.trim().is_empty(),
                    "`{} {}` has no help text",
                    command.get_name(),
                    arg.get_id()
                );
                checked += 1;
            }
        }
        assert!(checked > 40, "only {checked} arguments seen");
    }

    /// Every command, root first, built (as `--help` sees them).
    fn commands() -> Vec<clap::Command> {
        let mut root = super::command();
        root.build();
        let mut commands = vec![root.clone()];
        commands.extend(
            root.get_subcommands()
                .filter(|s| s.get_name() != "help")
                .cloned(),
        );
        commands
    }

    /// The flags of a command (not positionals, nor clap's own `--help` / `--version`).
    fn flags(command: &clap::Command) -> impl Iterator<Item = &clap::Arg> {
        command.get_arguments().filter(|arg| {
            !arg.is_positional()
                && !arg.is_hide_set()
                && !matches!(arg.get_id().as_str(), "help" | "version")
        })
    }

    /// What a flag's help says when it deliberately has no variable.
    const NO_VARIABLE: &str = "No environment variable: ";

    /// Every flag of every command shows an environment variable in `--help`, or says why it
    /// has none; the variables follow the naming rule (Plotly's own for the connection, else
    /// `PLOTWARD_` and the flag in upper snake case, with the command in front where one flag
    /// name means different things in different commands).
    #[test]
    fn every_flag_shows_its_environment_variable_or_why_not() {
        let mut seen = 0;
        for mut command in commands() {
            let help = command.render_long_help().to_string();
            for arg in flags(&command) {
                let long = arg.get_long().expect("every flag has a long name");
                let text = arg
                    .get_long_help()
                    .or(arg.get_help())
                    .map(ToString::to_string);
                let Some(var) = arg.get_env() else {
                    assert!(
                        text.is_some_and(|t| t.contains(NO_VARIABLE)),
                        "`{} --{long}` has no variable and does not say why",
                        command.get_name()
                    );
                    continue;
                };
                let var = var.to_string_lossy();
                assert!(
                    help.contains(&format!("[env: {var}=")),
                    "`{} --help` does not show {var}",
                    command.get_name()
                );
                let upper = long.to_uppercase().replace('-', "_");
                let expected = match long {
                    "api-url" => var == "PLOTLY_API_DOMAIN",
                    "user" if var.starts_with("PLOTLY") => var == "PLOTLY_USERNAME",
                    _ => var.starts_with("PLOTWARD_") && var.ends_with(&upper),
                };
                assert!(expected, "`--{long}` reads {var}");
                seen += 1;
            }
        }
        assert!(seen > 40, "only {seen} variables seen");
    }

    /// One variable never means two things: every flag reading it has the same name and accepts
    /// the same values, in every command (a `PLOTWARD_FORMAT` valid for `plan` would break
    /// `check`, and one `PLOTWARD_OUT` would overwrite a plan with a snapshot).
    #[test]
    fn a_variable_means_the_same_flag_in_every_command() {
        let mut meaning: std::collections::BTreeMap<String, (String, Vec<String>)> =
            std::collections::BTreeMap::new();
        for command in commands() {
            for arg in flags(&command) {
                let Some(var) = arg.get_env() else { continue };
                let values = arg.get_possible_values();
                let values = values.iter().map(|v| v.get_name().to_owned()).collect();
                let this = (arg.get_id().to_string(), values);
                let first = meaning
                    .entry(var.to_string_lossy().into_owned())
                    .or_insert(this.clone());
                assert_eq!(*first, this, "{var:?} in `{}`", command.get_name());
            }
        }
        for shared in ["PLOTWARD_PARALLELISM", "PLOTLY_API_DOMAIN"] {
            assert!(meaning.contains_key(shared), "{shared}");
        }
        // --out and --format: one variable per command.
        for var in ["PLOTWARD_OUT", "PLOTWARD_FORMAT", "PLOTWARD_USER"] {
            assert!(
                !meaning.contains_key(var),
                "{var} would mean different things"
            );
        }
    }

    /// What `plotward ARGS` prints for help, exactly as a user sees it.
    fn help_of(args: &[&str]) -> String {
        let mut words = vec!["plotward"];
        words.extend(args);
        let err = super::command().try_get_matches_from(words).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp, "{args:?}");
        err.render().to_string()
    }

    /// One help layout: in every command, each option's help starts on the line below the
    /// option (`-h` and `--help`), and `--help` puts a blank line before every option after
    /// the first of its section. clap would otherwise choose per command, and `plan` and
    /// `check` differed from the rest.
    #[test]
    fn every_command_has_the_same_help_layout() {
        let mut names: Vec<String> = commands()
            .iter()
            .skip(1)
            .map(|c| c.get_name().to_owned())
            .collect();
        names.push(String::new()); // the root
        for name in &names {
            for flag in ["-h", "--help"] {
                let args: Vec<&str> = [name.as_str(), flag]
                    .into_iter()
                    .filter(|a| !a.is_empty())
                    .collect();
                let help = help_of(&args);
                let lines: Vec<&str> = help.lines().collect();
                let mut options = 0;
                for (i, line) in lines.iter().enumerate() {
                    let trimmed = line.trim_start();
                    let indent = line.len() - trimmed.len();
                    if !(2..=6).contains(&indent) || !trimmed.starts_with('-') {
                        continue;
                    }
                    options += 1;
                    assert!(
                        !trimmed.trim_end().contains("  "),
                        "`{args:?}` puts help beside its option: {line:?}"
                    );
                    let above = lines[i - 1];
                    let first_in_section = above.ends_with(':') && !above.starts_with(' ');
                    if flag == "--help" && !first_in_section {
                        assert!(above.is_empty(), "`{args:?}`: no blank line above {line:?}");
                    }
                }
                assert!(options > 0, "no option lines in `{args:?}`");
            }
        }
        assert!(names.len() > 10, "{names:?}");
    }

    /// The README's table of variables, as the clap definition says it must read: one row
    /// per variable, with its flag and the commands that read it.
    fn environment_table() -> String {
        use std::fmt::Write;
        let mut rows: std::collections::BTreeMap<String, (String, Vec<String>)> =
            std::collections::BTreeMap::new();
        for command in commands() {
            for arg in flags(&command) {
                let Some(var) = arg.get_env() else { continue };
                let long = format!("`--{}`", arg.get_long().unwrap_or_default());
                // A global flag (`--no-color`) is every command's: one row, "all".
                let name = match command.get_name() {
                    "plotward" if arg.is_global_set() => "all".to_owned(),
                    _ if arg.is_global_set() => continue,
                    name => name.to_owned(),
                };
                let row = rows
                    .entry(var.to_string_lossy().into_owned())
                    .or_insert((long, Vec::new()));
                row.1.push(name);
            }
        }
        let mut table = "| variable | flag | commands |\n| --- | --- | --- |\n".to_owned();
        for (var, (long, commands)) in rows {
            let _ = writeln!(table, "| `{var}` | {long} | {} |", commands.join(", "));
        }
        table
    }

    /// The README lists every variable a flag reads, generated from the definition so it
    /// cannot drift; a failure prints the table to paste.
    #[test]
    fn the_readme_lists_every_environment_variable() {
        let readme = include_str!("../README.md");
        let table = environment_table();
        assert!(
            readme.contains(&table),
            "README.md's environment table is out of date; it should read:\n\n{table}"
        );
    }

    #[test]
    fn a_flag_is_on_the_command_line_in_every_spelling() {
        let words = |w: &[&str]| w.iter().map(ToString::to_string).collect::<Vec<_>>();
        let on = |w: &[&str]| super::on_command_line(&words(w), "policy", Some('p'));
        assert!(on(&["plan", "--policy", "x"]));
        assert!(on(&["plan", "--policy=x"]));
        assert!(on(&["plan", "-p", "x"]));
        assert!(on(&["plan", "-px"]));
        assert!(!on(&["plan", "--policy-file", "x"]));
        assert!(!on(&["plan", "--snapshot", "p"]));
        assert!(!on(&["plan"]));
    }

    /// Without any variable set (the unit tests run with whatever the environment holds, so
    /// only flags are used here), flags parse and no value is marked as from the environment.
    #[test]
    fn flags_are_not_marked_as_from_the_environment() {
        let args = [
            "plotward",
            "plan",
            "--api-url",
            "https://x.example",
            "--user",
            "alice",
        ];
        let cli = super::parse_from(&args.map(Into::into)).unwrap();
        let super::Command::Plan(plan) = cli.command else {
            panic!("not a plan")
        };
        assert_eq!(plan.connection.from_env, super::FromEnv::default());
        assert_eq!(plan.connection.user.as_deref(), Some("alice"));
    }
}
