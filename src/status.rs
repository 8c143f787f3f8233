//! `status`: the live sharing of a few given files, judged exactly as `check` and `plan` judge
//! them, as data (the words are in `render`).
//!
//! A file's verdict depends on its own flags, its decision and the folders above it (a public
//! folder makes its contents public). So `status` can judge a file from the file and its
//! folders alone, without listing the account: [`needs_listing`] says when that is not enough
//! (a folder, whose plan depends on every file below it; a file that owes its level to a folder
//! that other files may get restricted), and the command then lists the account as `check`
//! does. The same [`judge`] serves all three inputs (lookups, a listing, a snapshot), so
//! `status` cannot disagree with `check` about a file it judged.

use crate::check::{self, Finding};
use crate::inventory::{FileType, Sharing};
use crate::plan::{Action, DecidedBy, Entry, Plan};
use crate::policy::Guardrails;

/// How the files `status` judged were read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Basis {
    /// One lookup per path and per folder above it.
    Lookup,
    /// A listing of the whole account ([`needs_listing`]).
    Listing,
    /// A snapshot file.
    Snapshot,
}

/// What `status` says about one given path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Row {
    /// No file at that path (the server answered 404, or the snapshot has none).
    Missing { path: String },
    /// A file at that path, judged.
    Found(Box<Judged>),
}

/// One file as plan and check see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Judged {
    pub fid: String,
    pub path: String,
    pub filetype: FileType,
    /// The level its own flags say.
    pub own: Sharing,
    /// The level the world sees: its own, or more through a folder above.
    pub effective: Sharing,
    /// The folder that makes it more exposed than its own flags, when one does.
    pub through: Option<String>,
    /// What the plan makes the world see; `None` when unmanaged.
    pub wanted: Option<Sharing>,
    /// Which part of the policy decided it.
    pub decided_by: DecidedBy,
    /// What `check` reports about it (none when compliant).
    pub findings: Vec<Finding>,
    /// What `plan` does to its own flags.
    pub action: Action,
}

impl Judged {
    /// Whether `check` finds nothing wrong with it.
    pub(crate) fn is_compliant(&self) -> bool {
        self.findings.is_empty()
    }

    /// The folder the plan restricts for this file: the one that makes it more exposed than
    /// the policy wants (every folder above a file is capped at what the file wants).
    pub(crate) fn restricts_folder(&self) -> Option<&str> {
        match (self.wanted, &self.through) {
            (Some(wanted), Some(folder)) if self.effective > wanted => Some(folder),
            _ => None,
        }
    }
}

/// Judges each of `paths` from a plan of an inventory that holds them (and the folders above
/// them), in the order given; a path with no file is [`Row::Missing`]. A path held by more
/// than one file (a snapshot may list a name twice) gets a row for each.
pub(crate) fn judge(plan: &Plan<'_>, guardrails: &Guardrails, paths: &[String]) -> Vec<Row> {
    let report = check::check(plan, guardrails);
    let mut rows = Vec::with_capacity(paths.len());
    for path in paths {
        let entries = entries_at(plan, path);
        if entries.is_empty() {
            rows.push(Row::Missing { path: path.clone() });
        }
        for entry in entries {
            let findings = report
                .findings()
                .filter(|finding| finding.fid == entry.file.fid)
                .cloned()
                .collect();
            rows.push(Row::Found(Box::new(judged(entry, findings))));
        }
    }
    rows
}

/// The plan's entries for a path (the plan is sorted by path, then fid).
fn entries_at<'p>(plan: &'p Plan<'_>, path: &str) -> &'p [Entry<'p>] {
    let start = plan
        .entries
        .partition_point(|entry| entry.file.path.as_str() < path);
    let len = plan.entries[start..]
        .iter()
        .take_while(|entry| entry.file.path == path)
        .count();
    &plan.entries[start..start + len]
}

fn judged(entry: &Entry<'_>, findings: Vec<Finding>) -> Judged {
    Judged {
        fid: entry.file.fid.clone(),
        path: entry.file.path.clone(),
        filetype: entry.file.filetype.clone(),
        own: entry.current(),
        effective: entry.effective,
        through: entry.through.map(|folder| folder.path.clone()),
        wanted: entry.wanted,
        decided_by: entry.decided_by.clone(),
        findings,
        action: entry.action,
    }
}

/// Whether a plan of the given files and the folders above them (and nothing else) may judge
/// one of `paths` otherwise than a plan of the whole account would:
///
/// - a folder: the plan restricts a folder for any file below it that wants less;
/// - a managed file less exposed on its own than it should be, left alone because a folder
///   above gives it its level: another file below that folder may get the folder
///   restricted, and then the plan sets this file itself.
///
/// Every other verdict and action depends only on the file and the folders above it: each
/// folder above is capped at what this file wants, so no other file can raise it.
pub(crate) fn needs_listing(plan: &Plan<'_>, paths: &[String]) -> bool {
    paths
        .iter()
        .flat_map(|path| entries_at(plan, path))
        .any(|entry| {
            entry.file.filetype == FileType::Folder
                || (entry.action == Action::Keep
                    && entry.wanted.is_some_and(|wanted| entry.current() < wanted))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Flags, Inventory, RemoteFile};
    use crate::plan;
    use crate::policy::Policy;

    fn file(fid: &str, path: &str, filetype: &str, level: Sharing) -> RemoteFile {
        RemoteFile {
            fid: fid.to_owned(),
            path: path.to_owned(),
            filetype: FileType::from_api(filetype),
            flags: Flags {
                world_readable: level == Sharing::Public,
                share_key_enabled: level == Sharing::Secret,
            },
        }
    }

    const POLICY: &str = "version: 1\ndefault: private\nrules:\n  - match: \"pub/**\"\n    sharing: public\n  - match: \"pub\"\n    filetypes: [fold]\n    sharing: public\n  - match: \"secret-plan\"\n    sharing: private\n";

    fn account() -> Inventory {
        Inventory::new(vec![
            file("alice:1", "pub", "fold", Sharing::Public),
            file("alice:2", "pub/chart", "plot", Sharing::Private),
            file("alice:3", "pub/leak", "plot", Sharing::Public),
            file("alice:4", "secret-plan", "plot", Sharing::Public),
            file("alice:5", "mine", "plot", Sharing::Private),
        ])
    }

    fn paths(list: &[&str]) -> Vec<String> {
        list.iter().map(|p| (*p).to_owned()).collect()
    }

    #[test]
    fn each_path_is_judged_as_check_judges_it_and_missing_ones_say_so() {
        let policy = Policy::parse(POLICY, "p.yaml").unwrap();
        let inventory = account();
        let plan = plan::diff(&policy, &inventory);
        let rows = judge(
            &plan,
            &policy.guardrails,
            &paths(&["secret-plan", "nope", "mine"]),
        );
        assert_eq!(rows.len(), 3);
        let Row::Found(leak) = &rows[0] else {
            panic!("{rows:?}")
        };
        assert!(!leak.is_compliant());
        assert_eq!(leak.action, Action::Change(Sharing::Private));
        assert_eq!(
            rows[1],
            Row::Missing {
                path: "nope".into()
            }
        );
        let Row::Found(mine) = &rows[2] else {
            panic!("{rows:?}")
        };
        assert!(mine.is_compliant());
        assert_eq!(mine.action, Action::Keep);
        assert_eq!(mine.decided_by, DecidedBy::Default);
    }

    #[test]
    fn a_folder_or_a_file_that_owes_its_level_to_one_needs_the_listing() {
        let policy = Policy::parse(POLICY, "p.yaml").unwrap();
        let inventory = account();
        let plan = plan::diff(&policy, &inventory);
        assert!(needs_listing(&plan, &paths(&["pub"])));
        // Private itself, public through `pub`, which the policy wants public.
        assert!(needs_listing(&plan, &paths(&["pub/chart"])));
        assert!(!needs_listing(&plan, &paths(&["pub/leak", "mine", "nope"])));
    }

    #[test]
    fn a_file_exposed_through_a_folder_restricts_that_folder() {
        let policy = Policy::parse("version: 1\ndefault: private\n", "p.yaml").unwrap();
        let inventory = Inventory::new(vec![
            file("alice:1", "open", "fold", Sharing::Public),
            file("alice:2", "open/chart", "plot", Sharing::Private),
        ]);
        let plan = plan::diff(&policy, &inventory);
        let rows = judge(&plan, &policy.guardrails, &paths(&["open/chart"]));
        let Row::Found(chart) = &rows[0] else {
            panic!("{rows:?}")
        };
        assert_eq!(chart.effective, Sharing::Public);
        assert_eq!(chart.restricts_folder(), Some("open"));
        assert!(!chart.is_compliant());
        assert_eq!(chart.action, Action::Keep, "its own flags are right");
    }
}
