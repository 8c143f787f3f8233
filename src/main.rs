//! The `plotward` binary: parse, validate, run, and turn the outcome into an exit code.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use plotward::{Cli, Config, Exit};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            // Help and --version are not errors; every usage error exits 1, as Terraform's do.
            return if err.use_stderr() {
                Exit::Failure
            } else {
                Exit::Success
            }
            .into();
        }
    };
    let painter = plotward::painter(cli.no_color, std::io::stderr().is_terminal());
    match Config::from_cli(cli).and_then(|config| plotward::run(&config)) {
        Ok(exit) => exit.into(),
        Err(err) if err.is_broken_pipe() => Exit::Success.into(),
        Err(err) => {
            let _ = std::io::stderr().write_all(err.render(painter).as_bytes());
            err.exit().into()
        }
    }
}
