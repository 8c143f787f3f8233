//! Folders, and what lies below them.
//!
//! Plotly's sharing documentation says changing a folder's privacy changes its contents;
//! whether a given Chart Studio server rewrites the contents' own flags is not documented
//! through the API. Apply therefore works whichever way the server behaves: folders change
//! shallow first (a folder's change may reset deeper folders), then every file below a changed
//! folder is read again and written back where the plan leaves it, if the change moved it.
//!
//! Only files the policy manages are ever raised back: a file the policy ignores is put back
//! only *down* to its level before the run. A run that stops between a folder change and the
//! put-back (an interrupt, a quota, a dead server) leaves the server's reset in place, and a
//! later run cannot tell a level a cascade set from one a person chose; raising ignored files
//! to such a level could expose what nobody asked to expose. Managed files need no memory of
//! the run: the next plan finds them and changes them back.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{
    Change, Failure, Outcome, Run, Skip, Stop, Watch, run_each, run_phase, write_verified,
};
use crate::inventory::{FileType, Flags, Sharing};
use crate::plan::Direction;

/// Below this many files to read again, each is read on its own (`GET /v2/files/{fid}`);
/// from it on, and when they are at least 1% of the account, the account is listed once
/// instead (500 files a page, pages in parallel), which costs far fewer requests.
const LIST_FROM: usize = 200;

/// Runs folder changes by depth, shallowest first, each depth with bounded concurrency.
pub(super) async fn run_folders(run: &Arc<Run>, folders: Vec<Change>) -> Vec<(Change, Outcome)> {
    let mut by_depth: BTreeMap<usize, Vec<Change>> = BTreeMap::new();
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
///
/// Folders are put back first, shallowest first, and files last, each group read only after
/// the groups above it are written: putting a folder back may cascade over everything below
/// it again, so what is below is read after that, never before.
pub(super) async fn put_back(
    run: &Arc<Run>,
    watches: &[Watch],
    account_size: usize,
    phase: Direction,
) -> Vec<(Change, Outcome)> {
    let mut groups: BTreeMap<(bool, usize), Vec<(Change, bool)>> = BTreeMap::new();
    for (change, managed) in watches
        .iter()
        .filter_map(|w| target(w, phase).map(|change| (change, w.managed)))
    {
        let key = if change.filetype == FileType::Folder {
            (false, change.path.matches('/').count())
        } else {
            (true, 0)
        };
        groups.entry(key).or_default().push((change, managed));
    }
    let mut written = Vec::new();
    for (_, group) in groups {
        written.extend(put_back_group(run, group, account_size).await);
    }
    written
}

/// Reads one group of watched files again (one by one, or from one listing when there are
/// many) and writes back the ones that moved.
async fn put_back_group(
    run: &Arc<Run>,
    candidates: Vec<(Change, bool)>,
    account_size: usize,
) -> Vec<(Change, Outcome)> {
    let listed = Arc::new(list_again(run, candidates.len(), account_size).await);
    let (candidates, managed): (Vec<Change>, Vec<bool>) = candidates.into_iter().unzip();
    let managed = Arc::new(managed);
    let shared = run.clone();
    run_each(
        run.options.parallelism,
        candidates,
        move |changes, index| {
            let run = shared.clone();
            let listed = listed.clone();
            let managed = managed[index];
            async move {
                let change = &changes[index];
                let known = listed.get(change.fid.as_str()).copied();
                put_back_one(&run, change, managed, known).await
            }
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
fn target(watch: &Watch, phase: Direction) -> Option<Change> {
    let to = match (phase, watch.planned) {
        // While restricting, a file the plan does not change goes back to its level before
        // the run; planned ones are written in their own phase (an exposure only after every
        // restriction, so an interrupted run leaves nothing more exposed than before).
        (Direction::Restrict, None) => watch.change.from,
        (Direction::Restrict, Some(_)) => return None,
        // After exposing folders, everything ends where the plan leaves it, except files
        // whose own exposure comes next.
        (Direction::Expose, Some(Direction::Expose))
            if watch.change.filetype != FileType::Folder =>
        {
            return None;
        }
        (Direction::Expose, _) => watch.change.to,
    };
    Some(Change {
        to,
        ..watch.change.clone()
    })
}

/// The flags of every file of the account, from one listing, when there are enough files to
/// read again to make that cheaper; empty otherwise, or when the listing fails (each file is
/// then read on its own).
async fn list_again(run: &Run, files: usize, account_size: usize) -> HashMap<String, Flags> {
    if files < LIST_FROM || files.saturating_mul(100) < account_size {
        return HashMap::new();
    }
    let hidden = indicatif::ProgressBar::hidden();
    match run
        .client
        .list(run.options.parallelism, &hidden, true)
        .await
    {
        Ok(listing) => listing
            .inventory
            .files()
            .iter()
            .map(|f| (f.fid.clone(), f.flags))
            .collect(),
        Err(_) => HashMap::new(),
    }
}

/// Reads one file (unless a fresh listing already says how it is); writes it back to
/// `change.to` if it is elsewhere, and, for a file the policy does not manage, only if that
/// lowers it.
async fn put_back_one(
    run: &Run,
    change: &Change,
    managed: bool,
    known: Option<Flags>,
) -> Option<(Change, Outcome)> {
    if let Some(stop) = run.stop_reason() {
        return Some(unchecked(change, stop));
    }
    let read = match known {
        Some(flags) => Ok(flags),
        None => run.client.flags(&change.fid).await,
    };
    let flags = match read {
        Ok(flags) => flags,
        // The run stopped while reading: not checked, as if it had stopped just before.
        Err(crate::remote::RemoteError::Halted(why)) => {
            return Some(unchecked(change, Stop::Halted(why)));
        }
        Err(crate::remote::RemoteError::ServerDown(why)) => {
            return Some(unchecked(change, Stop::ServerDown(why)));
        }
        Err(err) => {
            let outcome = Outcome::Failed {
                status: err.status(),
                failure: Failure::NotReread(err.message()),
            };
            return Some((change.clone(), outcome));
        }
    };
    let now = Sharing::from_flags(flags);
    // Levels, not flags: a public file that also has a share key is public, as planned.
    if now == change.to || (!managed && now < change.to) {
        return None;
    }
    let fix = Change {
        from: now,
        observed: flags,
        ..change.clone()
    };
    run.progress.inc_length(1);
    // Not counted against --max-writes: it repairs what this run's folder change did.
    let outcome = write_verified(run, &fix).await;
    run.progress.inc(1);
    Some((fix, outcome))
}

/// A file below a changed folder left unread because the run stopped.
fn unchecked(change: &Change, stop: Stop) -> (Change, Outcome) {
    let outcome = Outcome::NotApplied {
        reason: Skip::Unchecked(stop),
    };
    (change.clone(), outcome)
}
