//! plotward keeps the sharing settings of Plotly Chart Studio files under version control.
//!
//! ```text
//! policy.yaml ──policy::Policy::load──▶ Policy ──────────────────────┐
//!                                                                    ▼
//! snapshot.json ──wire::snapshot───────┐                         plan::diff ──▶ Plan ──▶ render
//! Chart Studio API ──remote::Client────┴─▶ Inventory ─────────────────┘          │
//!                                                                                ▼
//!        check::check (findings) · export::export (policy) · apply::execute ──PATCH──▶ API
//! ```
//!
//! The binary is a thin shell around [`main`]: `cli` parses, `config` validates, `commands`
//! does the I/O around the pure core (`policy`, `plan`, `check`, ...), and `render` words what
//! a person reads. See `ARCHITECTURE.md`.

mod apply;
mod check;
mod cli;
mod commands;
mod config;
mod error;
mod export;
mod inventory;
mod limits;
mod metrics;
mod plan;
mod policy;
mod policytest;
mod remote;
mod render;
mod schema;
mod snapshot;
mod status;
mod watch;
mod wire;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use config::{CommandConfig, Config};
use error::{Error, Exit};

/// The whole program, for `src/main.rs`: parses the arguments, validates them into a
/// [`Config`], runs the command with the process's streams, and turns the outcome into the
/// exit code, writing an error (if any) to stderr in one piece.
pub fn main() -> ExitCode {
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(cli::ParseError::Env(bad)) => {
            let err = Error::from(error::UsageError::from(bad));
            let painter = config::painter(false, std::io::stderr().is_terminal());
            let _ = std::io::stderr().write_all(err.render(painter).as_bytes());
            return err.exit().into();
        }
        Err(cli::ParseError::Clap(err)) => {
            // Help and --version are not errors; every usage error exits 1, as Terraform's do.
            if !err.use_stderr() {
                let _ = err.print();
                return Exit::Success.into();
            }
            // A usage error quotes what was typed: shown inertly (a bidirectional override in
            // an argument would otherwise reorder the line), without clap's colours.
            let text = err.render().to_string();
            let _ = std::io::stderr().write_all(plotward_visible::escape_lines(&text).as_bytes());
            return Exit::Failure.into();
        }
    };
    let painter = config::painter(cli.no_color, std::io::stderr().is_terminal());
    match Config::from_cli(cli).and_then(|config| run(&config)) {
        Ok(exit) => exit.into(),
        // A closed pipe (`plotward check | head`) is an error like any other: the report
        // was cut short, and a plan or check stopped early cannot say "no changes" or
        // "compliant" (a CI step with `pipefail` would read 0 as green).
        Err(err) => {
            let _ = std::io::stderr().write_all(err.render(painter).as_bytes());
            err.exit().into()
        }
    }
}

/// What the benchmarks and the snapshot-format tests reach directly, as opaque wrappers, so
/// nothing of the core's structure is public. Not a stable API: the binary is plotward's
/// interface.
#[doc(hidden)]
pub mod internals {
    use std::path::Path;

    /// A validated policy.
    pub struct Policy(crate::policy::Policy);

    impl Policy {
        /// Parses and validates policy text as `plotward validate` does; the error is the
        /// message it would print.
        pub fn parse(text: &str, name: &str) -> Result<Policy, String> {
            crate::policy::Policy::parse(text, name)
                .map(Policy)
                .map_err(|err| err.to_string())
        }

        /// How many rules it has.
        pub fn rules(&self) -> usize {
            self.0.rules.len()
        }
    }

    /// One file or folder of an account, as a listing gives it.
    #[derive(Clone)]
    pub struct File {
        /// `owner:number`.
        pub fid: String,
        /// Folder names and the file's name, joined by `/`.
        pub path: String,
        /// The API's type name (`plot`, `grid`, `fold`, ...).
        pub filetype: &'static str,
        /// Public.
        pub world_readable: bool,
        /// A secret link exists.
        pub share_key_enabled: bool,
    }

    /// An account's files.
    pub struct Inventory(crate::inventory::Inventory);

    impl Inventory {
        /// The account holding `files`.
        pub fn new(files: Vec<File>) -> Inventory {
            Inventory(crate::inventory::Inventory::new(
                files
                    .into_iter()
                    .map(|file| crate::inventory::RemoteFile {
                        fid: file.fid,
                        path: file.path,
                        filetype: crate::inventory::FileType::from_api(file.filetype),
                        flags: crate::inventory::Flags {
                            world_readable: file.world_readable,
                            share_key_enabled: file.share_key_enabled,
                        },
                    })
                    .collect(),
            ))
        }

        /// Reads snapshot text as `plotward plan --snapshot` does; the error is the message it
        /// would print.
        pub fn from_snapshot(text: &str, name: &Path) -> Result<Inventory, String> {
            crate::snapshot::parse(text, name)
                .map(Inventory)
                .map_err(|err| err.to_string())
        }

        /// The snapshot `plotward snapshot` would write of it (without `source`), compact.
        pub fn to_snapshot_json(&self) -> String {
            let snapshot = crate::wire::snapshot::Snapshot::from_inventory(&self.0, None);
            serde_json::to_string(&snapshot).unwrap_or_default()
        }
    }

    /// Plans `inventory` against `policy` ([`crate::plan::diff`]) and returns the number of
    /// changes, so a benchmark times the diff without naming the plan's types.
    pub fn diff(policy: &Policy, inventory: &Inventory) -> usize {
        let summary = crate::plan::diff(&policy.0, &inventory.0).summary();
        summary.restrict + summary.expose
    }
}

/// Runs one command with the process's standard streams.
fn run(config: &Config) -> Result<Exit, Error> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    // Not locked for the whole run: progress bars draw to stderr from worker threads.
    let mut err = std::io::stderr();
    let mut io = commands::Io {
        out: &mut out,
        out_painter: config.stdout,
        err: &mut err,
        err_painter: config.stderr,
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        stdin_is_terminal: std::io::IsTerminal::is_terminal(&std::io::stdin()),
    };
    let exit = match &config.command {
        CommandConfig::Validate { policy } => commands::validate(policy, &mut io),
        CommandConfig::Explain {
            policy,
            filetypes,
            paths,
        } => commands::explain(policy, filetypes, paths, &mut io),
        CommandConfig::Plan(plan) => commands::plan(plan, &mut io),
        CommandConfig::Sandbox(options) => commands::sandbox(options, &mut io),
        CommandConfig::Apply(apply) => commands::apply(apply, &mut io),
        CommandConfig::Show(show) => commands::show(show, &mut io),
        CommandConfig::Check(check) => commands::check(check, &mut io),
        CommandConfig::Status(status) => commands::status(status, &mut io),
        CommandConfig::Watch(watch) => commands::watch(watch, &mut io),
        CommandConfig::Snapshot {
            out,
            policies,
            remote,
        } => commands::snapshot(out.as_deref(), policies, remote, &mut io),
        CommandConfig::Demo {
            keep_running,
            verbose,
        } => commands::demo(*keep_running, *verbose, &mut io),
        CommandConfig::Export {
            input,
            policies,
            out,
            diff,
        } => commands::export(input, policies, out.as_deref(), diff.as_deref(), &mut io),
        CommandConfig::Test { file, format } => commands::test(file, *format, &mut io),
        CommandConfig::Schema => commands::schema(&mut io),
        CommandConfig::Completions(shell) => {
            cli::write_completions(*shell, io.out);
            Ok(Exit::Success)
        }
        CommandConfig::Man => cli::write_man_page(io.out)
            .map(|()| Exit::Success)
            .map_err(Error::from),
    }?;
    out.flush()?;
    Ok(exit)
}
