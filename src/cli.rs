//! The command line, as clap sees it. Nothing here is used past `config`, which turns it into
//! validated settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success; no changes pending, or every change applied
  1  error (invalid policy, bad input, usage, network, stale plan, a change not applied,
     a plan that breaks a guardrail)
  2  changes pending (plan --detailed-exitcode), violations found (check), or the policy
     differs from the export (export --diff)

Credentials, highest first: --api-url / --user / --api-key-file; PLOTLY_API_DOMAIN /
PLOTLY_USERNAME / PLOTLY_API_KEY; ~/.plotly/.credentials and .config (or $PLOTLY_DIR).";

/// Keep the sharing of Plotly Chart Studio files under version control.
#[derive(Debug, Parser)]
#[command(name = "plotward", version, about, after_help = EXIT_CODES)]
pub(crate) struct Cli {
    /// Never colour the output (`NO_COLOR` is respected too).
    #[arg(long, global = true)]
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

    /// Read-only compliance gate: report every violation; exit 2 if there is any.
    Check(CheckArgs),

    /// Show the live sharing of given files, the rule that decides it, and whether they comply.
    Status(StatusArgs),

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
    use clap::CommandFactory;
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Elvish => clap_complete::Shell::Elvish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    };
    clap_complete::generate(shell, &mut Cli::command(), "plotward", out);
}

/// Writes the manual page (roff) of `plotward` and a section per subcommand, generated from
/// the same definition as `--help`.
pub(crate) fn write_man_page(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    let command = Cli::command();
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
    /// The policy file.
    #[arg(short, long, value_name = "PATH", default_value = "plotward.yaml")]
    pub policy: PathBuf,
}

/// Arguments of `explain`.
#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// The policy file.
    #[command(flatten)]
    pub policy: PolicyArg,

    /// The file type to decide for (`plot`, `grid`, `dashboard`, `spectacle_presentation`,
    /// `fold`, ...). Without it, every content type is tried and differences are shown.
    #[arg(long, value_name = "TYPE")]
    pub filetype: Option<String>,

    /// File paths as Chart Studio shows them, folders joined by `/` (`reports/q3/revenue`).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
}

/// Arguments of `plan`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// The policy file.
    #[command(flatten)]
    pub policy: PolicyArg,

    /// Plan against a snapshot file instead of the live account.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,

    /// How to reach the account (unused with --snapshot).
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,

    /// Also save the plan as JSON to FILE, for `apply` (atomically; a symlink's target is
    /// replaced, anything but a regular file refused). `-` prints the JSON plan on stdout
    /// and the plan for people on stderr.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Exit 2 when there are changes, 0 when there are none.
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Exit 1 when a rule decides no file, or the policy manages no file at all.
    #[arg(long)]
    pub strict: bool,
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
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9889")]
    pub addr: std::net::SocketAddr,

    /// Start with the files of this snapshot (owners from their fids).
    #[arg(long, value_name = "SNAPSHOT", conflicts_with = "generate")]
    pub seed: Option<PathBuf>,

    /// Start with a deterministic synthetic account of N files.
    #[arg(long, value_name = "N")]
    pub generate: Option<usize>,

    /// Save the state to FILE after writes, and start from it when it exists.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// A user and API key, NAME:APIKEY (repeatable). Default: one user with a fresh key.
    #[arg(long = "user", value_name = "NAME:APIKEY")]
    pub users: Vec<String>,

    /// Delay every API request by N milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub latency_ms: u64,

    /// Answer this fraction (0 to 1) of API requests with a 500.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fail_rate: f64,

    /// Allow N API requests per second; answer the rest with 429 and Retry-After.
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,

    /// Allow N writes per user per day; answer the rest with the daily-limit 429.
    #[arg(long, value_name = "N")]
    pub daily_write_limit: Option<u64>,

    /// Make this fraction (0 to 1) of share-key enables read back as disabled for 2 seconds,
    /// like the upstream eventual-consistency bug.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub flaky_share_keys: f64,

    /// Web UI base URL for `web_url` and `embed_url`. Default: the sandbox's own address.
    #[arg(long, value_name = "URL")]
    pub web_domain: Option<String>,

    /// Close a connection whose request headers (or body) take longer than this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,

    /// Close a connection idle (no request under way) for this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub idle_timeout: u64,

    /// Serve at most N connections at once; more wait until one closes.
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_connections: u64,
    /// Keep a folder's sharing change to the folder: by default its contents take the new
    /// setting too, as in Chart Studio's web app.
    #[arg(long)]
    pub no_folder_cascade: bool,
}

/// How to reach a Chart Studio account.
#[derive(Debug, Args)]
pub(crate) struct ConnectionArgs {
    /// Your Chart Studio Enterprise server, e.g. `https://plotly.example.com` (no default: the
    /// Chart Studio cloud closed in 2025). Also `PLOTLY_API_DOMAIN` or `plotly_api_domain`.
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,

    /// The Chart Studio username whose files are managed.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Read the API key from this file (its only content). No flag takes the key itself.
    #[arg(long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,

    /// Trust only the CAs in this PEM bundle (like `plotly_ssl_verification: "/path"`).
    #[arg(long, value_name = "PATH")]
    pub ca_bundle: Option<PathBuf>,

    /// Requests in flight at once, for listing pages and for writes.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,

    /// Per-request timeout in seconds (1 to 600), reading the body included.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,

    /// Retries of a request that failed with 5xx, 429 or a network error.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub retries: u32,

    /// First retry delay in milliseconds; it doubles each retry (with jitter), up to 30 s.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub backoff_ms: u64,

    /// Refuse any response body larger than this many MiB (read with a streaming limit).
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_response_mib: u32,

    /// Go on when the listed files never add up to the server's `count` (some servers count
    /// trashed or shared files). Every output then says the listing was not proven complete.
    #[arg(long)]
    pub accept_count_mismatch: bool,
}

/// Arguments of `apply`.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// The policy file (unused with a plan file).
    #[command(flatten)]
    pub policy: PolicyArg,

    /// A plan saved by `plan --out`: apply exactly it, if the account still matches it.
    #[arg(value_name = "PLANFILE")]
    pub plan_file: Option<PathBuf>,

    /// Apply without asking for confirmation.
    #[arg(long)]
    pub auto_approve: bool,

    /// Apply even if the plan breaks the policy's guardrails.
    #[arg(long)]
    pub force: bool,

    /// Write at most N files in this run (for accounts with small daily quotas).
    #[arg(long, value_name = "N")]
    pub max_writes: Option<usize>,

    /// Append one JSON line per write attempt to FILE.
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,

    /// How long to wait for a new secret link to read back as enabled (Chart Studio enables
    /// share keys eventually; the official client waits up to 50 x 4 s).
    #[arg(long, value_name = "SECS", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub share_key_timeout: u64,

    /// How to reach the account.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Arguments of `snapshot`.
#[derive(Debug, Args)]
pub(crate) struct SnapshotArgs {
    /// Write the snapshot to FILE (atomically) instead of stdout; `-` is stdout.
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// How to reach the account.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Keep the sandbox running after the demo, until Ctrl-C, to explore it by hand.
    #[arg(long)]
    pub keep_running: bool,
}

/// Arguments of `check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The policy file.
    #[command(flatten)]
    pub policy: PolicyArg,

    /// Check a snapshot file instead of the live account.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,

    /// Exit 1 when a rule decides no file, or the policy manages no file at all.
    #[arg(long)]
    pub strict: bool,

    /// How to reach the account (unused with --snapshot).
    #[command(flatten)]
    pub connection: ConnectionArgs,
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
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The policy file.
    #[command(flatten)]
    pub policy: PolicyArg,

    /// Read the files from a snapshot file instead of the live account.
    #[arg(long, value_name = "FILE", env = "PLOTWARD_SNAPSHOT")]
    pub snapshot: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusFormat::Text, env = "PLOTWARD_FORMAT")]
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
    /// Export from a snapshot file instead of the live account.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,

    /// Write the policy to FILE (atomically) instead of stdout; `-` is stdout.
    #[arg(short, long, value_name = "FILE", conflicts_with = "diff")]
    pub out: Option<PathBuf>,

    /// Show how the exported policy differs from this existing one, as a unified diff.
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
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every flag and argument of every command says what it is in `--help`: the doc comments
    /// above are that help text, so deleting one (as a tidy-up once did) must fail here.
    #[test]
    fn every_argument_of_every_command_has_help() {
        let root = super::Cli::command();
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
}
