//! From parsed arguments to validated settings. The commands only ever see a [`Config`].

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::cli::{Cli, Command, ExplainArgs, PlanArgs};
use crate::error::Error;
use crate::inventory::{FileType, check_path};
use crate::policy::diagnostic::suggest;
use crate::render::{Format, Painter};

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
