//! The change apply carries out, whichever way the plan came: made now ([`changes`]) or saved
//! and read back ([`super::SavedPlan`]). Both arrive at the same type, so a saved plan and a
//! fresh one are compared field by field, and nothing after planning sees the JSON form.

use std::sync::Arc;

use crate::inventory::{FileType, Flags, Sharing};
use crate::plan::{DecidedBy, Direction, Plan};

/// One file to set from one level to another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Change {
    /// The server's id of the file (`owner:number`).
    pub fid: String,
    /// Where the file is in the account, folders joined by `/`.
    pub path: String,
    /// Its type; folders change before files.
    pub filetype: FileType,
    /// The level its own flags gave when planned; always the level `observed` says.
    pub from: Sharing,
    /// The level to set.
    pub to: Sharing,
    /// The flags listed when planning, which the account must still show for a saved plan to
    /// apply.
    pub observed: Flags,
    /// The rule that wants the file at `to` (for a folder restricted for its contents: the
    /// rule of the file below that requires it).
    pub rule: DecidingRule,
    /// For a folder restricted for its contents: the file below that requires it.
    pub required_by: Option<RequiredBy>,
}

impl Change {
    /// Whether the change lowers or raises exposure. A planned change always moves (`from`
    /// differs from `to`); a file put back below a folder may not, and is an exposure then.
    pub(crate) fn direction(&self) -> Direction {
        Direction::of(self.from, self.to)
    }
}

#[cfg(test)]
impl Change {
    /// A plot's change as a plan would make it, decided by the default.
    pub(crate) fn plot(fid: &str, path: &str, from: Sharing, to: Sharing) -> Change {
        Change {
            fid: fid.into(),
            path: path.into(),
            filetype: FileType::Plot,
            from,
            to,
            observed: from.flags(),
            rule: DecidingRule::Default,
            required_by: None,
        }
    }
}

/// The part of the policy that decided a change, as far as comparing a saved plan with a
/// fresh one needs: a folder's own rule or the file below it that requires it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DecidingRule {
    /// A rule, through one of its patterns.
    Rule {
        /// 1-based rule number.
        number: usize,
        /// The pattern that matched.
        pattern: Arc<str>,
        /// The rule's line in the policy.
        line: u64,
    },
    /// The policy's `default`.
    Default,
}

/// The file below a folder that requires the folder's restriction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequiredBy {
    pub fid: String,
    pub path: String,
    /// The level it wants.
    pub wants: Sharing,
}

/// The changes of a plan made now, in plan order (path, then fid).
pub(crate) fn changes(plan: &Plan<'_>) -> Vec<Change> {
    plan.changes().map(Change::from).collect()
}

impl From<crate::plan::Change<'_>> for Change {
    fn from(change: crate::plan::Change<'_>) -> Change {
        let entry = change.entry;
        Change {
            fid: entry.file.fid.clone(),
            path: entry.file.path.clone(),
            filetype: entry.file.filetype.clone(),
            from: change.from,
            to: change.to,
            observed: entry.observed(),
            rule: DecidingRule::from(&entry.decided_by),
            required_by: match &entry.decided_by {
                DecidedBy::Contents(required) => Some(RequiredBy {
                    fid: required.fid.clone(),
                    path: required.path.clone(),
                    wants: required.wants,
                }),
                _ => None,
            },
        }
    }
}

impl From<&DecidedBy> for DecidingRule {
    fn from(decided_by: &DecidedBy) -> DecidingRule {
        match decided_by {
            DecidedBy::Rule {
                number,
                pattern,
                line,
            } => DecidingRule::Rule {
                number: *number,
                pattern: pattern.clone(),
                line: *line,
            },
            // A folder is only ever changed by a rule that names it, so `Folder` never
            // reaches a change; as the saved plan does, it reads as the default.
            DecidedBy::Default | DecidedBy::Folder => DecidingRule::Default,
            DecidedBy::Contents(required) => DecidingRule::from(&required.by),
        }
    }
}
