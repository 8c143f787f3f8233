//! From parsed arguments to validated settings. The commands only ever see a [`Config`].

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::cli::{Cli, Command, ExplainArgs, PlanArgs, SandboxArgs};
use crate::error::Error;
use crate::inventory::{FileType, check_path};
use crate::policy::diagnostic::suggest;
use crate::render::{Format, Painter};
use crate::sandbox::{self, FaultConfig, Seed, User};

/// Validated settings for one run.
#[derive(Debug)]
pub struct Config {
    /// Painter for stdout.
    pub stdout: Painter,
    /// Painter for stderr.
    pub stderr: Painter,
    /// The command and its settings.
    pub command: CommandConfig,
}

/// A command with its validated settings.
#[derive(Debug)]
pub enum CommandConfig {
    /// `validate`
    Validate {
        /// The policy file.
        policy: PathBuf,
    },
    /// `explain`
    Explain {
        /// The policy file.
        policy: PathBuf,
        /// The file types to decide for.
        filetypes: Vec<FileType>,
        /// The paths to decide.
        paths: Vec<String>,
    },
    /// `plan`
    Plan(PlanConfig),
    /// `sandbox`
    Sandbox(Box<sandbox::Options>),
}

/// Settings of `plan`.
#[derive(Debug)]
pub struct PlanConfig {
    /// The policy file.
    pub policy: PathBuf,
    /// Where the inventory comes from.
    pub snapshot: PathBuf,
    /// Output format on stdout.
    pub format: Format,
    /// Where to save the JSON plan too.
    pub out: Option<PathBuf>,
    /// Exit 2 on pending changes.
    pub detailed_exitcode: bool,
}

impl Config {
    /// Validates the arguments; colour is on only for terminals, and never with
    /// `--no-color`, a non-empty `NO_COLOR` or `TERM=dumb`.
    pub fn from_cli(cli: Cli) -> Result<Config, Error> {
        let colour_allowed = !cli.no_color
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::env::var_os("TERM").is_none_or(|v| v != "dumb");
        let command = match cli.command {
            Command::Validate(args) => CommandConfig::Validate {
                policy: args.policy,
            },
            Command::Explain(args) => explain_config(args)?,
            Command::Plan(args) => CommandConfig::Plan(plan_config(args)?),
            Command::Sandbox(args) => CommandConfig::Sandbox(Box::new(sandbox_options(args)?)),
        };
        Ok(Config {
            stdout: Painter::new(colour_allowed && std::io::stdout().is_terminal()),
            stderr: Painter::new(colour_allowed && std::io::stderr().is_terminal()),
            command,
        })
    }
}

fn explain_config(args: ExplainArgs) -> Result<CommandConfig, Error> {
    let filetypes = match args.filetype {
        Some(name) => vec![parse_filetype(&name)?],
        None => FileType::COMMON.to_vec(),
    };
    for path in &args.paths {
        check_path(path).map_err(|why| Error::Usage(format!("invalid path: {why}")))?;
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
    let hint = suggest(name, &FileType::KNOWN)
        .map(|word| format!(" (did you mean `{word}`?)"))
        .unwrap_or_default();
    Err(Error::Usage(format!(
        "unknown filetype `{name}`{hint}; expected one of {}",
        FileType::KNOWN.join(", ")
    )))
}

fn plan_config(args: PlanArgs) -> Result<PlanConfig, Error> {
    // Listing a live account arrives with the API client; until then say so plainly rather
    // than guess at credentials.
    let snapshot = args.snapshot.ok_or_else(|| {
        Error::Usage(
            "planning against a live account is not available in this build; \
             pass --snapshot FILE"
                .to_owned(),
        )
    })?;
    Ok(PlanConfig {
        policy: args.policy.policy,
        snapshot,
        format: args.format,
        out: args.out,
        detailed_exitcode: args.detailed_exitcode,
    })
}

fn sandbox_options(args: SandboxArgs) -> Result<sandbox::Options, Error> {
    let seed = match (args.seed, args.generate) {
        (Some(path), _) => sandbox::seed::load_snapshot(&path)?,
        (None, Some(count)) => Seed::Generate(count),
        (None, None) => Seed::Empty,
    };
    let users = args
        .users
        .iter()
        .map(|spec| match spec.split_once(':') {
            Some((name, key)) if !name.is_empty() && !key.is_empty() => Ok(User {
                username: name.to_owned(),
                api_key: key.to_owned(),
            }),
            _ => Err(Error::Usage(format!(
                "--user takes NAME:APIKEY, got `{}`",
                spec.split(':').next().unwrap_or_default()
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let faults = FaultConfig {
        latency_ms: args.latency_ms,
        fail_rate: args.fail_rate,
        rate_limit: args.rate_limit,
        daily_write_limit: args.daily_write_limit,
        flaky_share_keys: args.flaky_share_keys,
        flaky_share_key_ms: None,
    };
    faults.validate().map_err(Error::Usage)?;
    if !args.addr.ip().is_loopback() {
        return Err(Error::Usage(format!(
            "the sandbox only listens on loopback addresses, not {}",
            args.addr
        )));
    }
    Ok(sandbox::Options {
        addr: args.addr,
        seed,
        state: args.state,
        users,
        faults,
        web_domain: args.web_domain,
    })
}
