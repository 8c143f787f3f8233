//! Why apply writes nothing: the checks a plan must pass, and the facts of each refusal. Their
//! words are in [`crate::render::refusal`].

use std::path::{Path, PathBuf};

use super::Watches;
use super::change::Change;
use super::saved::{Origin, SavedPlan, SavedPlanError};
use super::stale::{Staleness, stale_changes};
use crate::inventory::{Inventory, Sharing};
use crate::plan::{Breach, Plan};
use crate::policy::{Policy, Targets};

/// A plan apply will not carry out; nothing was written.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The saved plan could not be read.
    Unreadable {
        plan: PathBuf,
        source: std::io::Error,
    },
    /// The saved plan is not plan JSON.
    NotAPlan {
        plan: PathBuf,
        /// What the parser found.
        source: serde_json::Error,
    },
    /// The saved plan contradicts itself or is of another format.
    Invalid {
        plan: PathBuf,
        error: SavedPlanError,
    },
    /// A saved plan over several accounts that does not say one consistent thing, or does not
    /// pair one to one with the policies given.
    Accounts {
        plan: PathBuf,
        error: super::accounts::SavedAccountsError,
    },
    /// The saved plan was made from another policy text.
    OtherPolicy {
        plan: PathBuf,
        /// The digest the plan records (from outside).
        planned: String,
        /// The policy given now.
        policy: String,
        /// Its digest.
        digest: String,
    },
    /// The saved plan records no policy digest.
    NoDigest { plan: PathBuf },
    /// The saved plan was made for another account.
    OtherAccount {
        plan: PathBuf,
        /// The API URL the plan names.
        planned_url: String,
        /// The user the plan names.
        planned_user: String,
        /// The API URL connected to now.
        api_url: String,
        /// The user connected as now.
        user: String,
    },
    /// The saved plan was made from a snapshot.
    FromSnapshot {
        plan: PathBuf,
        /// The snapshot it names.
        snapshot: String,
    },
    /// `apply --target` names other globs than the saved plan was limited to.
    OtherTargets {
        plan: PathBuf,
        /// The plan's targets (empty: the whole account).
        planned: Vec<String>,
        /// The `--target` globs given now.
        given: Vec<String>,
    },
    /// The saved plan no longer matches the account or its policy.
    Stale { plan: PathBuf, staleness: Staleness },
    /// Changes would make public what the policy's `never_public` forbids.
    NeverPublic {
        /// The policy's name.
        policy: String,
        /// The changes, in plan order.
        changes: Vec<Change>,
    },
    /// The plan breaks guardrails, and either `--force` was not given or `never_public` is
    /// among them.
    Guardrails {
        /// The policy's name.
        policy: String,
        /// What the plan breaks.
        breaches: Vec<Breach>,
        /// Whether `never_public` is broken, which no flag overrides.
        absolute: bool,
    },
}

/// Its `Display` (the words) is in [`crate::render::refusal`].
impl std::error::Error for Refusal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Refusal::Unreadable { source, .. } => Some(source),
            Refusal::NotAPlan { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why apply stopped before asking or after being told no.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cancelled {
    /// Nobody can answer the question: stdin is not a terminal.
    NoTerminal,
    /// The answer was not `yes`.
    Declined,
}

/// A saved plan applies only under the policy it was made from: the same text, by digest.
pub(crate) fn check_digest(plan: &Path, saved: &SavedPlan, policy: &Policy) -> Result<(), Refusal> {
    match &saved.policy_sha256 {
        Some(digest) if *digest == policy.digest => Ok(()),
        Some(digest) => Err(Refusal::OtherPolicy {
            plan: plan.to_path_buf(),
            planned: digest.clone(),
            policy: policy.name.clone(),
            digest: policy.digest.clone(),
        }),
        None => Err(Refusal::NoDigest {
            plan: plan.to_path_buf(),
        }),
    }
}

/// A saved plan applies only to the account it was made from.
pub(crate) fn check_account(
    plan: &Path,
    saved: &SavedPlan,
    api_url: &str,
    user: &str,
) -> Result<(), Refusal> {
    match &saved.origin {
        Origin::Account {
            api_url: planned_url,
            user: planned_user,
        } if planned_url == api_url && planned_user == user => Ok(()),
        Origin::Account {
            api_url: planned_url,
            user: planned_user,
        } => Err(Refusal::OtherAccount {
            plan: plan.to_path_buf(),
            planned_url: planned_url.clone(),
            planned_user: planned_user.clone(),
            api_url: api_url.to_owned(),
            user: user.to_owned(),
        }),
        Origin::Snapshot { path } => Err(Refusal::FromSnapshot {
            plan: plan.to_path_buf(),
            snapshot: path.clone(),
        }),
    }
}

/// A saved plan checked again as it is about to be applied: made from this account, its own
/// targets valid, still exactly what a fresh plan of the policy (with those targets) makes of
/// the account as it is now, and within the guardrails (`force` as for a fresh plan). Gives
/// the fresh plan's watches for the run. One check for a plan of one account and for each
/// section of a plan of several.
pub(crate) fn recheck_saved(
    plan: &Path,
    saved: &SavedPlan,
    (policy, inventory): (&Policy, &Inventory),
    (api_url, user): (&str, &str),
    force: bool,
) -> Result<Watches, Refusal> {
    check_account(plan, saved, api_url, user)?;
    // Re-planned with the plan's own targets, so staleness compares like with like.
    let targets = Targets::new(&saved.targets).map_err(|bad| Refusal::Invalid {
        plan: plan.to_path_buf(),
        error: SavedPlanError::BadTarget(bad),
    })?;
    let fresh = crate::plan::diff_targeted(policy, inventory, &targets);
    let breaches = crate::plan::breaches(&fresh, &policy.guardrails);
    let watches = super::watches(&fresh, &policy.guardrails);
    refuse_stale(plan, saved, &fresh, inventory)?;
    check_guardrails(policy, &breaches, force)?;
    Ok(watches)
}

/// A saved plan applies only while every file it plans still has the state it observed, and
/// while a fresh plan of the same policy says exactly the same: no change dropped, altered
/// or added.
/// `apply --target X PLANFILE` only when X are the plan's own targets (in any order): a
/// saved plan is applied as it was made, never narrowed or widened. Without `--target`, the
/// plan's targets apply.
pub(crate) fn check_targets(
    plan: &Path,
    saved: &SavedPlan,
    given: &[String],
) -> Result<(), Refusal> {
    if given.is_empty() || given == saved.targets {
        return Ok(());
    }
    Err(Refusal::OtherTargets {
        plan: plan.to_path_buf(),
        planned: saved.targets.clone(),
        given: given.to_vec(),
    })
}

pub(crate) fn refuse_stale(
    plan: &Path,
    saved: &SavedPlan,
    fresh: &Plan<'_>,
    inventory: &Inventory,
) -> Result<(), Refusal> {
    let staleness = stale_changes(saved, fresh, inventory);
    if staleness.is_empty() {
        return Ok(());
    }
    Err(Refusal::Stale {
        plan: plan.to_path_buf(),
        staleness,
    })
}

/// The last check before writing, against the current policy whatever the plan says about
/// itself: no change may make a `never_public` path public. No flag overrides it.
pub(crate) fn refuse_never_public(changes: &[Change], policy: &Policy) -> Result<(), Refusal> {
    // A folder counts too: a public folder makes its contents public upstream.
    let forbidden: Vec<Change> = changes
        .iter()
        .filter(|c| {
            c.to == Sharing::Public
                && policy
                    .guardrails
                    .exposed_if_public(&c.path, &c.filetype)
                    .is_some()
        })
        .cloned()
        .collect();
    if forbidden.is_empty() {
        return Ok(());
    }
    Err(Refusal::NeverPublic {
        policy: policy.name.clone(),
        changes: forbidden,
    })
}

/// A plan that breaks `max_changes` or `max_exposures` is applied only with `--force`; one
/// that breaks `never_public` never is.
pub(crate) fn check_guardrails(
    policy: &Policy,
    breaches: &[Breach],
    force: bool,
) -> Result<(), Refusal> {
    let absolute = breaches.iter().any(|breach| {
        matches!(
            breach,
            Breach::ExposesNeverPublic { .. } | Breach::ExposesFolderOverNeverPublic { .. }
        )
    });
    if breaches.is_empty() || (force && !absolute) {
        return Ok(());
    }
    Err(Refusal::Guardrails {
        policy: policy.name.clone(),
        breaches: breaches.to_vec(),
        absolute,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::FileType;

    #[test]
    fn the_last_check_refuses_any_never_public_exposure_whatever_the_plan_says() {
        let policy = Policy::parse(
            "version: 1\ndefault: private\nguardrails:\n  never_public: [\"finance/**\"]\n",
            "p.yaml",
        )
        .unwrap();
        let change = |path: &str, to: Sharing| Change::plot("alice:4", path, Sharing::Private, to);
        let err = refuse_never_public(&[change("finance/payroll", Sharing::Public)], &policy)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no flag overrides never_public"), "{err}");
        assert!(err.contains("finance/payroll (alice:4)"), "{err}");
        assert!(
            refuse_never_public(&[change("finance/payroll", Sharing::Secret)], &policy).is_ok()
        );
        assert!(refuse_never_public(&[change("public/demo", Sharing::Public)], &policy).is_ok());
        // A folder over never_public paths: its contents would be public.
        let folder = Change {
            filetype: FileType::Folder,
            ..change("finance", Sharing::Public)
        };
        let err = refuse_never_public(&[folder], &policy)
            .unwrap_err()
            .to_string();
        assert!(err.contains("finance (alice:4)"), "{err}");
    }
}
