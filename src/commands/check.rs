//! `check`: the read-only compliance gate.

use super::Io;
use super::plan::{load_inventory, refuse_out_over};
use super::{outfile, write_atomically};
use crate::check;
use crate::config::CheckConfig;
use crate::error::{Error, Exit};
use crate::plan;
use crate::render::{self, CheckView};

/// `check`: exit 0 when compliant, 2 when anything is wrong. It lists through a read-only
/// client, so it cannot write; only `--out` writes, a file of the user's.
pub(crate) fn check(config: &CheckConfig, io: &mut Io<'_>) -> Result<Exit, Error> {
    let out = config
        .out
        .as_deref()
        .filter(|path| !outfile::is_stdout(path));
    refuse_out_over("check", out, &config.policies, &config.input)?;
    out.map(outfile::refuse_unwritable).transpose()?;
    if let [_, _, ..] = config.policies.as_slice() {
        return super::accounts::check(config, io);
    }
    let policy = super::load_policy(&config.policies[0])?;
    let (inventory, source) = load_inventory(&config.input, Some(&policy), true, io)?;
    let checked_at = std::time::SystemTime::now();
    super::refuse_unmatched_targets(&config.targets, &inventory)?;
    render::diagnostic::warnings(&policy, io.err_painter, io.err)?;
    let plan = plan::diff_targeted(&policy, &inventory, &config.targets);
    let report = check::check(&plan, &policy.guardrails);
    let view = CheckView {
        report: &report,
        plan: &plan,
        policy: &policy.name,
        source: &source,
        targets: config.targets.patterns(),
        digest: &policy.digest,
        checked_at,
    };
    match out {
        Some(path) => {
            // Whole or not at all: a report cut short by an error never replaces the last.
            let mut bytes = Vec::new();
            render::check(
                &view,
                config.format,
                render::Painter::new(false),
                &mut bytes,
            )?;
            write_atomically(path, &bytes)?;
        }
        None => render::check(&view, config.format, io.out_painter, io.out)?,
    }
    if config.strict && super::fails_strict(&plan, io)? {
        return Ok(Exit::Failure);
    }
    Ok(if report.is_compliant() {
        Exit::Success
    } else {
        Exit::Changes
    })
}
