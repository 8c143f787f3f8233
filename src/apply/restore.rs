//! Folders, and what lies below them.
//!
//! Plotly's sharing documentation says changing a folder's privacy changes its contents;
//! whether a given Chart Studio server rewrites the contents' own flags is not documented
//! through the API. Apply therefore works whichever way the server behaves: folders change
//! shallow first (a folder's change may reset deeper folders), then every file below a changed
//! folder is read again and written back where the plan leaves it, if the change moved it.
//!
//! Only files the policy manages are ever raised back, and only in `apply` ([`Raise`]): a
//! file the policy ignores is put back only *down* to its level before the run. A run that
//! stops between a folder change and the put-back (an interrupt, a quota, a dead server)
//! leaves the server's reset in place, and a
//! later run cannot tell a level a cascade set from one a person chose; raising ignored files
//! to such a level could expose what nobody asked to expose. Managed files need no memory of
//! the run: the next plan finds them and changes them back.
//!
//! A managed file is raised back no higher than the level the plan observed, nor than the
//! level it read just before the folder changed ([`read_before`]): a file whose owner made it
//! private after the listing (or that a lying listing showed public) reads lower there, and
//! is left as it is and reported ([`PutBack::left`]) rather than set back to what the plan
//! saw. `watch` never raises at all: it applies restrictions only, and nobody reviewed its
//! plan; the next cycle reports what such a file's policy wants.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{
    Change, Failure, Outcome, Raise, Run, Skip, Stop, Watch, Watches, run_each, run_phase,
    write_verified,
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

/// What putting back below changed folders did.
#[derive(Debug, Default)]
pub(super) struct PutBack {
    /// The writes (and the files that could not be read again).
    pub written: Vec<(Change, Outcome)>,
    /// Managed files that read lower than their target and were not raised: `from` is the
    /// level read, `to` the level the plan leaves them at.
    pub left: Vec<Change>,
}

/// The levels of the managed files a put-back might raise, read just before the folders of a
/// phase change: a put-back raises no file above this. A file missing here (unread, or the
/// read failed) is not raised at all.
#[derive(Debug, Default)]
pub(super) struct Before(HashMap<String, Sharing>);

/// Reads the files a put-back after the folders of `phase` might raise (managed, not written
/// by a planned change of their own, their target above private), unless `watches` never
/// raise. The folder changes run after this, so a level read here is the owner's, not a
/// cascade's.
pub(super) async fn read_before(run: &Arc<Run>, watches: &Watches, phase: Direction) -> Before {
    if watches.raise == Raise::Never {
        return Before::default();
    }
    let candidates: Vec<Change> = watches
        .files
        .iter()
        .filter(|w| w.managed && w.planned.is_none())
        .filter_map(|w| target(w, phase))
        .filter(|change| change.to > Sharing::Private)
        .collect();
    if candidates.is_empty() {
        return Before::default();
    }
    // Read the way the put-back after the folder change will read them: listed once when it
    // lists, so a large folder costs one more listing rather than a read per file.
    let reads = candidates.len().max(watches.files.len());
    let listed = Arc::new(list_again(run, reads, watches.account_size).await);
    let shared = run.clone();
    let read = run_each(
        run.options.parallelism,
        candidates,
        move |changes, index| {
            let run = shared.clone();
            let listed = listed.clone();
            async move {
                let fid = &changes[index].fid;
                match listed.get(fid.as_str()) {
                    Some(flags) => Some(*flags),
                    None => run.client.flags(fid).await.ok(),
                }
            }
        },
        |_, _| None,
    )
    .await;
    Before(
        read.into_iter()
            .filter_map(|(change, flags)| flags.map(|f| (change.fid, Sharing::from_flags(f))))
            .collect(),
    )
}

/// After the folders of `phase` changed: reads every watched file again and writes back each
/// one the change moved, raising none above what `before` allows.
///
/// Folders are put back first, shallowest first, and files last, each group read only after
/// the groups above it are written: putting a folder back may cascade over everything below
/// it again, so what is below is read after that, never before.
pub(super) async fn put_back(
    run: &Arc<Run>,
    watches: &Watches,
    before: &Before,
    phase: Direction,
) -> PutBack {
    let mut groups: BTreeMap<(bool, usize), Vec<(Change, Ceiling)>> = BTreeMap::new();
    for watch in &watches.files {
        let Some(change) = target(watch, phase) else {
            continue;
        };
        let ceiling = ceiling(watch, &change, watches.raise, before);
        let key = if change.filetype == FileType::Folder {
            (false, change.path.matches('/').count())
        } else {
            (true, 0)
        };
        groups.entry(key).or_default().push((change, ceiling));
    }
    let mut done = PutBack::default();
    for (_, group) in groups {
        for restored in put_back_group(run, group, watches.account_size).await {
            match restored {
                Restored::Written(change, outcome) => done.written.push((change, outcome)),
                Restored::Left(change) => done.left.push(change),
            }
        }
    }
    done
}

/// How high a put-back may raise one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ceiling {
    /// Not at all, silently: a file the policy ignores (only ever put back down).
    Unmanaged,
    /// Up to this level; a file that reads lower than its target and would have to pass it
    /// is left and reported. `None`: not at all.
    Managed(Option<Sharing>),
}

/// The ceiling of one watched file: a change the plan makes itself (a folder's planned
/// exposure) may reach its target, as reviewed; any other managed file no higher than the
/// plan observed and `before` read, and not at all under [`Raise::Never`].
fn ceiling(watch: &Watch, change: &Change, raise: Raise, before: &Before) -> Ceiling {
    if !watch.managed {
        return Ceiling::Unmanaged;
    }
    let limit = match (raise, watch.planned) {
        (Raise::Never, _) => None,
        (Raise::UpToObserved, Some(_)) => Some(change.to),
        (Raise::UpToObserved, None) => before
            .0
            .get(change.fid.as_str())
            .map(|&read| read.min(Sharing::from_flags(change.observed))),
    };
    Ceiling::Managed(limit)
}

/// One watched file after its put-back.
enum Restored {
    /// Written (or failed to be read or written).
    Written(Change, Outcome),
    /// Left lower than its target, not raised.
    Left(Change),
}

/// Reads one group of watched files again (one by one, or from one listing when there are
/// many) and writes back the ones that moved.
async fn put_back_group(
    run: &Arc<Run>,
    candidates: Vec<(Change, Ceiling)>,
    account_size: usize,
) -> Vec<Restored> {
    let listed = Arc::new(list_again(run, candidates.len(), account_size).await);
    let (candidates, ceilings): (Vec<Change>, Vec<Ceiling>) = candidates.into_iter().unzip();
    let ceilings = Arc::new(ceilings);
    let shared = run.clone();
    run_each(
        run.options.parallelism,
        candidates,
        move |changes, index| {
            let run = shared.clone();
            let listed = listed.clone();
            let ceiling = ceilings[index];
            async move {
                let change = &changes[index];
                let known = listed.get(change.fid.as_str()).copied();
                put_back_one(&run, change, ceiling, known).await
            }
        },
        |change, outcome| Some(Restored::Written(change.clone(), outcome)),
    )
    .await
    .into_iter()
    .filter_map(|(_, restored)| restored)
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
/// `change.to` if it is elsewhere, unless that raises it past its `ceiling`: an unmanaged
/// file is then left silently, a managed one left and reported.
async fn put_back_one(
    run: &Run,
    change: &Change,
    ceiling: Ceiling,
    known: Option<Flags>,
) -> Option<Restored> {
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
            return Some(Restored::Written(change.clone(), outcome));
        }
    };
    let now = Sharing::from_flags(flags);
    let fix = Change {
        from: now,
        observed: flags,
        ..change.clone()
    };
    // Levels, not flags: a public file that also has a share key is public, as planned.
    if now == change.to {
        return None;
    }
    if now < change.to {
        match ceiling {
            Ceiling::Unmanaged => return None,
            Ceiling::Managed(limit) if limit.is_none_or(|limit| change.to > limit) => {
                return Some(Restored::Left(fix));
            }
            Ceiling::Managed(_) => {}
        }
    }
    run.progress.inc_length(1);
    // Not counted against --max-writes: it repairs what this run's folder change did.
    let outcome = write_verified(run, &fix).await;
    run.progress.inc(1);
    Some(Restored::Written(fix, outcome))
}

/// A file below a changed folder left unread because the run stopped.
fn unchecked(change: &Change, stop: Stop) -> Restored {
    let outcome = Outcome::NotApplied {
        reason: Skip::Unchecked(stop),
    };
    Restored::Written(change.clone(), outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A managed file the restrict phase puts back to `public` (its level in the listing),
    /// with the plan changing nothing of its own.
    fn public_file_below_a_folder(managed: bool) -> (Watch, Change) {
        let change = Change::plot("a:2", "wf/x", Sharing::Public, Sharing::Public);
        let watch = Watch {
            change,
            planned: None,
            managed,
        };
        let target = target(&watch, Direction::Restrict).expect("put back while restricting");
        (watch, target)
    }

    fn read(level: Sharing) -> Before {
        Before(HashMap::from([("a:2".to_owned(), level)]))
    }

    #[test]
    fn apply_raises_up_to_what_the_file_read_before_the_folder_changed_and_no_higher() {
        let (watch, target) = public_file_below_a_folder(true);
        let apply = |before: &Before| ceiling(&watch, &target, Raise::UpToObserved, before);
        assert_eq!(
            apply(&read(Sharing::Public)),
            Ceiling::Managed(Some(Sharing::Public))
        );
        // The owner made it private after the listing: not raised past that.
        assert_eq!(
            apply(&read(Sharing::Private)),
            Ceiling::Managed(Some(Sharing::Private))
        );
        // Unread before: not raised at all.
        assert_eq!(apply(&Before::default()), Ceiling::Managed(None));
    }

    #[test]
    fn watch_never_raises_and_ignored_files_stay_unmanaged() {
        let (watch, target) = public_file_below_a_folder(true);
        assert_eq!(
            ceiling(&watch, &target, Raise::Never, &read(Sharing::Public)),
            Ceiling::Managed(None)
        );
        let (ignored, target) = public_file_below_a_folder(false);
        assert_eq!(
            ceiling(
                &ignored,
                &target,
                Raise::UpToObserved,
                &read(Sharing::Public)
            ),
            Ceiling::Unmanaged
        );
    }

    #[test]
    fn a_folder_the_plan_exposes_may_reach_its_planned_level() {
        let mut change = Change::plot("a:3", "wf/sub", Sharing::Private, Sharing::Public);
        change.filetype = FileType::Folder;
        let watch = Watch {
            change: change.clone(),
            planned: Some(Direction::Expose),
            managed: true,
        };
        let target = target(&watch, Direction::Expose).expect("a folder is put back");
        assert_eq!(
            ceiling(&watch, &target, Raise::UpToObserved, &Before::default()),
            Ceiling::Managed(Some(Sharing::Public))
        );
    }
}
