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
//! The binary is a thin shell around [`run`]: `cli` parses, `config` validates, `commands`
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
mod plan;
mod policy;
mod policytest;
mod remote;
mod render;
mod schema;
mod snapshot;
mod wire;

use std::io::Write;

pub use cli::Cli;
use config::CommandConfig;
pub use config::{Config, painter};
pub use error::{Error, Exit};

/// The core types the benchmarks and the snapshot-format tests reach directly. Not a stable
/// API: the binary is plotward's interface.
#[doc(hidden)]
pub mod internals {
    pub use crate::inventory::{FileType, Flags, Inventory, RemoteFile};
    pub use crate::policy::Policy;
    pub use crate::snapshot::parse as parse_snapshot;
    pub use crate::wire::snapshot::Snapshot;

    /// Plans `inventory` against `policy` ([`crate::plan::diff`]) and returns the number of
    /// changes, so a benchmark times the diff without naming the plan's types.
    pub fn diff(policy: &Policy, inventory: &Inventory) -> usize {
        let summary = crate::plan::diff(policy, inventory).summary();
        summary.restrict + summary.expose
    }
}

/// Runs one command with the process's standard streams.
pub fn run(config: &Config) -> Result<Exit, Error> {
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
        CommandConfig::Check(check) => commands::check(check, &mut io),
        CommandConfig::Snapshot { out, remote } => {
            commands::snapshot(out.as_deref(), remote, &mut io)
        }
        CommandConfig::Demo { keep_running } => commands::demo(*keep_running, &mut io),
        CommandConfig::Export { input, out, diff } => {
            commands::export(input, out.as_deref(), diff.as_deref(), &mut io)
        }
        CommandConfig::Test { file } => commands::test(file, &mut io),
        CommandConfig::Schema => commands::schema(&mut io),
    }?;
    out.flush()?;
    Ok(exit)
}
