//! Folders, and what lies below them.
//!
//! Plotly's sharing documentation says changing a folder's privacy changes its contents;
//! whether a given Chart Studio server rewrites the contents' own flags is not documented
//! through the API. Apply therefore works whichever way the server behaves: folders change
//! shallow first (a folder's change may reset deeper folders), then every file below a changed
//! folder is read again and written back where the plan leaves it, if the change moved it.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Outcome, Run, Watch, apply_one, run_each, run_phase};
use crate::inventory::{FileType, Sharing};
use crate::planfile::{ChangeJson, DirectionJson};

/// Runs folder changes by depth, shallowest first, each depth with bounded concurrency.
pub(super) async fn run_folders(
    run: &Arc<Run>,
    folders: Vec<ChangeJson>,
) -> Vec<(ChangeJson, Outcome)> {
    let mut by_depth: BTreeMap<usize, Vec<ChangeJson>> = BTreeMap::new();
    for folder in folders {
        let depth = folder.path.matches('/').count();
        by_depth.entry(depth).or_default().push(folder);
    }
    let mut results = Vec::new();
    for (_, batch) in by_depth {
        results.extend(run_phase(run, batch).await);
    }
    results
}

/// After the folders of `phase` changed: reads every watched file again and writes back each
/// one the change moved. Returns the writes (and the files that could not be read).
pub(super) async fn put_back(
    run: &Arc<Run>,
    watches: &[Watch],
    phase: DirectionJson,
) -> Vec<(ChangeJson, Outcome)> {
    let candidates: Vec<ChangeJson> = watches.iter().filter_map(|w| target(w, phase)).collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    let shared = run.clone();
    run_each(
        run.options.parallelism,
        candidates,
        move |changes, index| {
            let run = shared.clone();
            async move { put_back_one(&run, &changes[index]).await }
        },
        |change, outcome| Some((change.clone(), outcome)),
    )
    .await
    .into_iter()
    .filter_map(|(_, written)| written)
    .collect()
}

/// Where a watched file belongs once the folders of `phase` have changed, or `None` when a
/// planned write of its own sets it later.
fn target(watch: &Watch, phase: DirectionJson) -> Option<ChangeJson> {
    let to = match (phase, watch.planned) {
        // While restricting, a file the plan does not change goes back to its level before
        // the run; planned ones are written in their own phase (an exposure only after every
        // restriction, so an interrupted run leaves nothing more exposed than before).
        (DirectionJson::Restrict, None) => watch.change.from,
        (DirectionJson::Restrict, Some(_)) => return None,
        // After exposing folders, everything ends where the plan leaves it, except files
        // whose own exposure comes next.
        (DirectionJson::Expose, Some(DirectionJson::Expose))
            if watch.change.filetype != FileType::Folder =>
        {
            return None;
        }
        (DirectionJson::Expose, _) => watch.change.to,
    };
    Some(ChangeJson {
        to,
        ..watch.change.clone()
    })
}

/// Reads one file; writes it back to `change.to` if it is elsewhere.
async fn put_back_one(run: &Run, change: &ChangeJson) -> Option<(ChangeJson, Outcome)> {
    if let Some(reason) = run.stop_reason() {
        let reason = format!("not read again after its folder changed: {reason}");
        return Some((change.clone(), Outcome::NotApplied { reason }));
    }
    let flags = match run.client.flags(&change.fid).await {
        Ok(flags) => flags,
        Err(err) => {
            let outcome = Outcome::Failed {
                status: err.status(),
                message: format!(
                    "cannot read it again after its folder changed ({}); run plotward plan",
                    err.message()
                ),
            };
            return Some((change.clone(), outcome));
        }
    };
    if flags == change.to.flags() {
        return None;
    }
    let now = Sharing::from_flags(flags);
    let fix = ChangeJson {
        action: DirectionJson::of(now, change.to),
        from: now,
        observed: flags,
        ..change.clone()
    };
    run.progress.inc_length(1);
    let outcome = apply_one(run, &fix).await;
    run.progress.inc(1);
    Some((fix, outcome))
}
