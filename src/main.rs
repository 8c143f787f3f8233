//! The `plotward` binary. Everything it does is [`plotward::main`]: parse, validate, run, and
//! turn the outcome into an exit code.

fn main() -> std::process::ExitCode {
    plotward::main()
}
