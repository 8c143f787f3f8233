//! Folder visibility: what the world sees of a file is the most exposed of its own level and
//! the levels of the folders above it.
//!
//! Plotly's sharing documentation (DOC-SHARE in the API notes) says a private item in a public
//! folder is public "for the time it's in that folder", and that changing a folder's privacy
//! changes its contents. So a file's *effective* level is the maximum over its own flags and
//! every folder above it, and a file the policy wants less exposed than a folder above it can
//! only get there if that folder is restricted too.
//!
//! Everything here is linear in the inventory: folders are grouped by path (the same path
//! twice counts as the most exposed of them), each file knows its folder's group, and levels
//! flow down (inheritance) or up (the least any file below allows) once, in depth order.

use std::collections::HashMap;

use crate::inventory::{FileType, RemoteFile, Sharing};

/// The folder tree of an inventory, by index into its files.
pub(crate) struct Tree {
    /// For each file, the group of the folder it is in (`None` at the root).
    parent: Vec<Option<usize>>,
    /// For each group, the files (folders) that have its path.
    members: Vec<Vec<usize>>,
    /// For each group, its own folder's group (`None` at the root).
    group_parent: Vec<Option<usize>>,
    /// Groups, parents before children.
    order: Vec<usize>,
}

/// The most exposed folder above a file: its level and the folder (index of a file).
pub(crate) type Above = Option<(Sharing, usize)>;

impl Tree {
    /// Builds the tree. A file whose folder is not in the inventory is treated as being at
    /// the root: live listings leave such files out and snapshots refuse them, so only
    /// hand-built inventories (tests) have any.
    pub(crate) fn build(files: &[RemoteFile]) -> Tree {
        let mut groups: HashMap<&str, usize> = HashMap::new();
        let mut members: Vec<Vec<usize>> = Vec::new();
        for (index, file) in files.iter().enumerate() {
            if file.filetype == FileType::Folder {
                let group = *groups.entry(file.path.as_str()).or_insert_with(|| {
                    members.push(Vec::new());
                    members.len() - 1
                });
                members[group].push(index);
            }
        }
        let parent_of = |path: &str| {
            path.rfind('/')
                .and_then(|at| groups.get(&path[..at]).copied())
        };
        let parent = files.iter().map(|f| parent_of(&f.path)).collect();
        let group_parent: Vec<Option<usize>> = members
            .iter()
            .map(|m| parent_of(&files[m[0]].path))
            .collect();
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by_key(|&g| {
            files[members[g][0]]
                .path
                .bytes()
                .filter(|&b| b == b'/')
                .count()
        });
        Tree {
            parent,
            members,
            group_parent,
            order,
        }
    }

    /// For each file, what the folders above it hold, combined: each folder's `value` (none
    /// for a folder without one), `pick`ed pairwise, nearer folders first as `pick`'s first
    /// argument. Top-down, once per folder.
    fn fold_down<T: Copy>(
        &self,
        value: impl Fn(usize) -> Option<T>,
        pick: impl Fn(T, T) -> T,
    ) -> Vec<Option<T>> {
        let either = |a, b| either(a, b, &pick);
        let mut own: Vec<Option<T>> = vec![None; self.members.len()];
        let mut over: Vec<Option<T>> = vec![None; self.members.len()];
        for &group in &self.order {
            own[group] = self.members[group]
                .iter()
                .filter_map(|&i| value(i))
                .reduce(&pick);
            over[group] = self.group_parent[group].and_then(|p| either(own[p], over[p]));
        }
        self.parent
            .iter()
            .map(|p| p.and_then(|g| either(own[g], over[g])))
            .collect()
    }

    /// For each file, the most exposed folder above it, given each file's level (only
    /// folders' levels are read). Ties go to the folder nearest the file.
    pub(crate) fn above(&self, level: impl Fn(usize) -> Sharing) -> Vec<Above> {
        self.fold_down(
            |i| Some((level(i), i)),
            |near, far| if far.0 > near.0 { far } else { near },
        )
    }

    /// For each file, the lowest new level of a folder above it that changes (`restricts_to`
    /// gives a folder's new level when it changes), if any does.
    pub(crate) fn restricted_above(
        &self,
        restricts_to: impl Fn(usize) -> Option<Sharing>,
    ) -> Vec<Option<Sharing>> {
        self.fold_down(restricts_to, Sharing::min)
    }

    /// For each folder, what the files below it (at any depth) hold, combined: each file's
    /// `value` (none for a file without one), `pick`ed pairwise; `None` for other files.
    /// Bottom-up, deepest folders first, once per file and folder.
    fn fold_up<T: Copy>(
        &self,
        value: impl Fn(usize) -> Option<T>,
        pick: impl Fn(T, T) -> T,
    ) -> Vec<Option<T>> {
        let either = |a, b| either(a, b, &pick);
        let mut acc: Vec<Option<T>> = vec![None; self.members.len()];
        for (index, parent) in self.parent.iter().enumerate() {
            if let Some(group) = parent {
                acc[*group] = either(acc[*group], value(index));
            }
        }
        // Deepest groups first, so each passes on everything below it (the folders themselves
        // were counted in their parent by the loop above).
        for &group in self.order.iter().rev() {
            if let Some(parent) = self.group_parent[group] {
                acc[parent] = either(acc[parent], acc[group]);
            }
        }
        let mut result = vec![None; self.parent.len()];
        for (group, members) in self.members.iter().enumerate() {
            for &folder in members {
                result[folder] = acc[group];
            }
        }
        result
    }

    /// For each file, the least exposed level any file below it wants, and the file that
    /// wants it (ties: the first in inventory order). `wants` is `None` for files that want
    /// nothing (ignored).
    pub(crate) fn below(
        &self,
        wants: impl Fn(usize) -> Option<Sharing>,
    ) -> Vec<Option<(Sharing, usize)>> {
        self.fold_up(|i| wants(i).map(|level| (level, i)), std::cmp::min)
    }

    /// For each folder, how many files below it (at any depth) `counted` selects; 0 for other
    /// files.
    pub(crate) fn count_below(&self, counted: impl Fn(usize) -> bool) -> Vec<usize> {
        self.fold_up(|i| counted(i).then_some(1), |a, b| a + b)
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect()
    }

    /// The folders above one file, nearest first (every folder that has each path).
    pub(crate) fn folders_above(&self, file: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(self.parent[file], |&group| self.group_parent[group])
            .flat_map(|group| self.members[group].iter().copied())
    }

    /// For each file, whether a folder above it is in `changing`.
    pub(crate) fn under_any(&self, changing: &[bool]) -> Vec<bool> {
        self.fold_down(|i| changing[i].then_some(()), |near, ()| near)
            .iter()
            .map(Option::is_some)
            .collect()
    }
}

/// `a` and `b` combined by `pick` when both are there, else whichever is.
fn either<T>(a: Option<T>, b: Option<T>, pick: impl Fn(T, T) -> T) -> Option<T> {
    match (a, b) {
        (Some(x), Some(y)) => Some(pick(x, y)),
        (x, None) => x,
        (None, y) => y,
    }
}
