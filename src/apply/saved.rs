//! A plan saved by `plan --out`, read back and checked before apply trusts any of it.
//!
//! The file may have been edited by hand, so it must still say one thing: each change's
//! direction follows from its levels and its `from` from the observed flags (so restrictions
//! really run before exposures), no file is changed twice, and the summary a reviewer read
//! counts the changes that will be applied. [`SavedPlan`] holds only plans that do.

use std::collections::HashSet;

use super::change::{Change, DecidingRule, RequiredBy};
use crate::inventory::{FileType, Sharing};
use crate::plan::{Direction, RuleRef};
use crate::policy::Targets;
use crate::wire::plan::{
    ChangeJson, DeadRuleJson, DirectionJson, PLAN_FORMAT_VERSION, PLAN_FORMAT_VERSION_TARGETED,
    PlanFile, RuleJson, Source,
};

/// A saved plan that says one consistent thing, with what apply checks it against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SavedPlan {
    /// SHA-256 of the policy it was made from; a plan without one is refused when applied.
    pub policy_sha256: Option<String>,
    /// Where the planned files were listed.
    pub origin: Origin,
    /// The changes, in the saved order; each file once.
    pub changes: Vec<Change>,
    /// Rules that decided no file when planned; a fresh plan must find the same.
    pub dead_rules: Vec<RuleRef>,
    /// The `--target` globs it is limited to (sorted, valid); empty for the whole account.
    pub targets: Vec<String>,
}

impl SavedPlan {
    /// How many changes restrict and how many expose: what the saved summary said.
    pub(crate) fn counts(&self) -> (usize, usize) {
        count(&self.changes)
    }
}

/// Where a saved plan's files were listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A live account.
    Account {
        /// The API base URL.
        api_url: String,
        /// The user whose files were listed.
        user: String,
    },
    /// A snapshot file, which apply never writes from.
    Snapshot {
        /// Its path as given to `plan`.
        path: String,
    },
}

/// Why a saved plan is not one apply can follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SavedPlanError {
    /// Written in a format this build does not read.
    Version {
        /// The plan's `format_version`.
        found: u32,
    },
    /// `targets` where the version says the plan covers the whole account, or none where it
    /// says the plan is targeted.
    Targets {
        /// The plan's `format_version`.
        version: u32,
    },
    /// A target that is not a valid pattern.
    BadTarget(crate::policy::BadTarget),
    /// A change contradicts itself (the first such change).
    Inconsistent {
        /// The change's fid.
        fid: String,
        /// What does not agree.
        why: Inconsistency,
    },
    /// A file is changed more than once (the first one seen again).
    Repeated { fid: String },
    /// A text longer than any plan plotward writes holds (a policy name, a pattern, a
    /// folder path, a guardrail message): named by what it is.
    Oversized { what: &'static str },
    /// The summary does not count the changes.
    Miscounted {
        /// Restrictions and exposures the summary claims.
        says: (usize, usize),
        /// Restrictions and exposures the changes are.
        holds: (usize, usize),
    },
}

/// What a self-contradicting change gets wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Inconsistency {
    /// `from` and `to` are the same level.
    Unchanged,
    /// `action` is not the direction from `from` to `to`.
    Direction,
    /// `from` is not the level of the observed flags.
    Observed,
    /// A path or fid is empty, or longer than any listing lets through.
    Name,
    /// The fid is not of the user whose account was listed.
    Foreign,
    /// A file that is not a folder is restricted for what lies below it.
    RequiredBy,
}

impl TryFrom<PlanFile> for SavedPlan {
    type Error = SavedPlanError;

    fn try_from(file: PlanFile) -> Result<SavedPlan, SavedPlanError> {
        let targets = check_targets(&file)?;
        refuse_oversized(&file)?;
        // Every change is checked before any duplicate is looked for: the first error a
        // person reads is the same whatever else the file gets wrong.
        let owner = match &file.source {
            Source::Api { user, .. } => Some(format!("{user}:")),
            Source::Snapshot { .. } => None,
        };
        if let Some((change, why)) = file
            .changes
            .iter()
            .find_map(|change| inconsistency(change, owner.as_deref()).map(|why| (change, why)))
        {
            return Err(SavedPlanError::Inconsistent {
                fid: change.fid.clone(),
                why,
            });
        }
        refuse_repeats(&file.changes)?;
        let changes: Vec<Change> = file.changes.into_iter().map(checked).collect();
        let holds = count(&changes);
        let says = (file.summary.restrict, file.summary.expose);
        if says != holds {
            return Err(SavedPlanError::Miscounted { says, holds });
        }
        Ok(SavedPlan {
            policy_sha256: file.policy_sha256,
            origin: Origin::from(file.source),
            changes,
            dead_rules: file.dead_rules.into_iter().map(RuleRef::from).collect(),
            targets,
        })
    }
}

/// The plan's targets, once its version agrees with them (1: none, 2: some) and each is a
/// valid pattern; sorted, as a fresh plan lists them.
fn check_targets(file: &PlanFile) -> Result<Vec<String>, SavedPlanError> {
    let version = file.format_version;
    match (version, file.targets.is_empty()) {
        (PLAN_FORMAT_VERSION, true) => Ok(Vec::new()),
        (PLAN_FORMAT_VERSION_TARGETED, false) => {
            let targets = Targets::new(&file.targets).map_err(SavedPlanError::BadTarget)?;
            Ok(targets.patterns().to_vec())
        }
        (PLAN_FORMAT_VERSION | PLAN_FORMAT_VERSION_TARGETED, _) => {
            Err(SavedPlanError::Targets { version })
        }
        (found, _) => Err(SavedPlanError::Version { found }),
    }
}

/// What a change gets wrong, if anything; checked in the order [`Inconsistency`] lists.
/// `owner` is `user:` when the plan lists a live account, whose fids all start so.
fn inconsistency(change: &ChangeJson, owner: Option<&str>) -> Option<Inconsistency> {
    let named = |path: &str, fid: &str| {
        (1..=crate::limits::MAX_PATH_BYTES).contains(&path.len())
            && (1..=crate::remote::api::MAX_FID_BYTES).contains(&fid.len())
    };
    let direction = Direction::of(change.from, change.to);
    if change.to == change.from {
        Some(Inconsistency::Unchanged)
    } else if change.action != DirectionJson::from(direction) {
        Some(Inconsistency::Direction)
    } else if Sharing::from_flags(change.observed) != change.from {
        Some(Inconsistency::Observed)
    } else if !named(&change.path, &change.fid)
        || change
            .required_by
            .as_ref()
            .is_some_and(|by| !named(&by.path, &by.fid))
    {
        Some(Inconsistency::Name)
    } else if owner.is_some_and(|owner| !change.fid.starts_with(owner)) {
        Some(Inconsistency::Foreign)
    } else if change.required_by.is_some() && change.filetype != FileType::Folder {
        Some(Inconsistency::RequiredBy)
    } else {
        None
    }
}

/// Refuses texts no plan plotward writes would hold, so a small hostile file cannot make
/// `show` print gigabytes: the policy's name is a path, patterns are globs, folders are paths.
fn refuse_oversized(file: &PlanFile) -> Result<(), SavedPlanError> {
    use crate::limits::{MAX_GLOB_CHARS, MAX_PATH_BYTES};
    let glob = |pattern: &str| pattern.chars().count() <= MAX_GLOB_CHARS;
    let rule_ok = |rule: &RuleJson| match rule {
        RuleJson::Rule { pattern, .. } => glob(pattern),
        RuleJson::Default {} => true,
    };
    let oversized = |what| Err(SavedPlanError::Oversized { what });
    if file.policy.len() > MAX_PATH_BYTES {
        return oversized("policy name");
    }
    let patterns_ok = file.changes.iter().all(|c| rule_ok(&c.rule))
        && file
            .dead_rules
            .iter()
            .all(|r| r.patterns.iter().all(|p| glob(p)))
        && file.dead_patterns.iter().all(|p| glob(&p.pattern));
    if !patterns_ok {
        return oversized("pattern");
    }
    if file.folders.iter().any(|f| f.path.len() > MAX_PATH_BYTES) {
        return oversized("folder path");
    }
    // Guardrail messages are plotward's own sentences; 64 KiB is far beyond any of them.
    if file
        .guardrails
        .iter()
        .any(|b| b.message.len() > 64 * 1024 || b.guardrail.len() > 64)
    {
        return oversized("guardrail message");
    }
    Ok(())
}

fn refuse_repeats(changes: &[ChangeJson]) -> Result<(), SavedPlanError> {
    let mut fids = HashSet::with_capacity(changes.len());
    match changes.iter().find(|c| !fids.insert(c.fid.as_str())) {
        Some(twice) => Err(SavedPlanError::Repeated {
            fid: twice.fid.clone(),
        }),
        None => Ok(()),
    }
}

fn count(changes: &[Change]) -> (usize, usize) {
    let restrict = changes
        .iter()
        .filter(|c| c.direction() == Direction::Restrict)
        .count();
    (restrict, changes.len() - restrict)
}

/// A change [`inconsistency`] found nothing wrong with; its `action` is dropped, since it
/// follows from the levels.
fn checked(change: ChangeJson) -> Change {
    Change {
        fid: change.fid,
        path: change.path,
        filetype: change.filetype,
        from: change.from,
        to: change.to,
        observed: change.observed,
        rule: DecidingRule::from(change.rule),
        required_by: change.required_by.map(|required| RequiredBy {
            fid: required.fid,
            path: required.path,
            wants: required.wants,
        }),
    }
}

impl From<RuleJson> for DecidingRule {
    fn from(rule: RuleJson) -> DecidingRule {
        match rule {
            RuleJson::Rule {
                index,
                pattern,
                line,
            } => DecidingRule::Rule {
                number: index,
                pattern: pattern.into(),
                line,
            },
            RuleJson::Default {} => DecidingRule::Default,
        }
    }
}

impl From<DeadRuleJson> for RuleRef {
    fn from(rule: DeadRuleJson) -> RuleRef {
        RuleRef {
            number: rule.index,
            line: rule.line,
            patterns: rule.patterns.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<Source> for Origin {
    fn from(source: Source) -> Origin {
        match source {
            Source::Api { api_url, user } => Origin::Account { api_url, user },
            Source::Snapshot { path } => Origin::Snapshot { path },
        }
    }
}

#[cfg(test)]
mod tests;
