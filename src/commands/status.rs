//! `status PATH...`: the live sharing of a few files, without listing the account when the
//! files and the folders above them settle it.

use super::Io;
use super::plan::{api_source, list_account};
use crate::config::{Input, StatusConfig};
use crate::error::{Error, Exit};
use crate::plan;
use crate::render::{self, status::StatusView};
use crate::status::{self, Basis, Row};
use crate::wire::plan::Source;

/// `status`: exit 0 when every path is a compliant file, 2 when one is not compliant, 1 when
/// one is not found (after showing every path). Reads through a read-only client.
pub(crate) fn status(config: &StatusConfig, io: &mut Io<'_>) -> Result<Exit, Error> {
    let policy = super::load_policy(&config.policy)?;
    render::diagnostic::warnings(&policy, io.err_painter, io.err)?;
    let (inventory, source, basis) = match &config.input {
        Input::Snapshot(path) => (
            crate::snapshot::load(path)?,
            Source::Snapshot {
                path: path.display().to_string(),
            },
            Basis::Snapshot,
        ),
        Input::Live(live) => {
            let remote = live.remote(Some(&policy))?;
            let remote = &remote;
            let (runtime, client) = super::connect(remote, true, io)?;
            let located = runtime.block_on(client.locate(&config.paths))?;
            // Judged from the files and their folders alone when that is exact; else the
            // whole account, as `check` reads it.
            if status::needs_listing(&plan::diff(&policy, &located), &config.paths) {
                let inventory = runtime.block_on(list_account(&client, remote, io))?;
                (inventory, api_source(&client), Basis::Listing)
            } else {
                (located, api_source(&client), Basis::Lookup)
            }
        }
    };
    let plan = plan::diff(&policy, &inventory);
    let rows = status::judge(&plan, &policy.guardrails, &config.paths);
    let view = StatusView {
        rows: &rows,
        policy: &policy,
        source: &source,
        basis,
    };
    render::status::render(&view, config.format, io.out_painter, io.out)?;
    Ok(exit(&rows))
}

/// 1 when a path has no file, else 2 when a file does not comply, else 0.
fn exit(rows: &[Row]) -> Exit {
    if rows.iter().any(|row| matches!(row, Row::Missing { .. })) {
        Exit::Failure
    } else if rows
        .iter()
        .any(|row| matches!(row, Row::Found(judged) if !judged.is_compliant()))
    {
        Exit::Changes
    } else {
        Exit::Success
    }
}
