//! A plan over several accounts (`plan -p a.yaml -p b.yaml --out plan.json`), read back and
//! checked before apply trusts any of it: every section as strictly as a single-account plan
//! ([`SavedPlan`]), each section's account the one its plan was listed from, no account twice,
//! no section without a plan, and a total that counts the sections. Then [`match_policies`]
//! pairs the sections with the policies given: each account exactly one policy, and each
//! policy exactly one section.

use std::collections::HashSet;

use super::saved::{Origin, SavedPlan, SavedPlanError};
use crate::wire::accounts::{PLANS_FORMAT_VERSION, PlansFile, PlansTotalJson};

/// One account's part of a saved multi-account plan, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SavedAccount {
    /// The account's user, as its section names it (and its plan was listed as).
    pub user: String,
    /// The API base URL, as its section names it.
    pub server: String,
    /// The account's part of the plan.
    pub plan: SavedPlan,
}

/// A saved plan over several accounts whose every section says one consistent thing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SavedAccounts {
    /// The sections, in the saved order.
    pub accounts: Vec<SavedAccount>,
}

/// Why a saved multi-account plan is not one apply can follow. Its words are in
/// [`crate::render::refusal`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SavedAccountsError {
    /// Not the multi-account format this build reads.
    Version { found: u32 },
    /// No section at all.
    Empty,
    /// A section without a plan (planning it failed) or with both a plan and an error.
    Unplanned { user: String, server: String },
    /// A section's plan is not one apply can follow.
    Section {
        user: String,
        server: String,
        error: SavedPlanError,
    },
    /// A section's plan was listed from another account (or a snapshot) than it names.
    OtherAccount {
        user: String,
        server: String,
        /// Where its plan says it was listed: `user on server`, or the snapshot.
        planned: String,
    },
    /// The same account twice.
    Repeated { user: String, server: String },
    /// The total does not count the sections.
    Miscounted {
        /// What the total claims.
        says: PlansTotalJson,
        /// What the sections add up to.
        holds: PlansTotalJson,
    },
    /// A policy given whose account has no section.
    NoSection {
        user: String,
        server: String,
        policy: String,
    },
    /// A section whose account no policy given governs.
    NoPolicy { user: String, server: String },
}

impl TryFrom<PlansFile> for SavedAccounts {
    type Error = SavedAccountsError;

    fn try_from(file: PlansFile) -> Result<SavedAccounts, SavedAccountsError> {
        check_sections(&file)?;
        let mut accounts = Vec::with_capacity(file.accounts.len());
        for section in file.accounts {
            let (user, server) = (section.user, section.server);
            // A failed account's section cannot be applied; the plan is refused whole, as a
            // reviewer read it whole.
            let (Some(plan), None) = (section.plan, section.error) else {
                return Err(SavedAccountsError::Unplanned { user, server });
            };
            match SavedPlan::try_from(plan) {
                Ok(plan) => accounts.push(SavedAccount { user, server, plan }),
                Err(error) => {
                    return Err(SavedAccountsError::Section {
                        user,
                        server,
                        error,
                    });
                }
            }
        }
        Ok(SavedAccounts { accounts })
    }
}

/// The checks of a multi-account plan that look past no section's own plan (whose checks
/// are [`SavedPlan`]'s): the version, at least one section, no account twice, each section
/// either a plan or an error, each plan listed from the account its section names, and a
/// total that counts the sections. `show` runs these, then shows each plan through the
/// [`SavedPlan`] checks; a failed section is shown as it was.
pub(crate) fn check_sections(file: &PlansFile) -> Result<(), SavedAccountsError> {
    if file.format_version != PLANS_FORMAT_VERSION {
        return Err(SavedAccountsError::Version {
            found: file.format_version,
        });
    }
    if file.accounts.is_empty() {
        return Err(SavedAccountsError::Empty);
    }
    let mut seen = HashSet::with_capacity(file.accounts.len());
    for section in &file.accounts {
        let (user, server) = (&section.user, &section.server);
        let named = || (user.clone(), server.clone());
        if !seen.insert((user, server)) {
            let (user, server) = named();
            return Err(SavedAccountsError::Repeated { user, server });
        }
        match (&section.plan, &section.error) {
            (Some(plan), None) => {
                if let Some(planned) =
                    other_origin(&Origin::from(plan.source.clone()), user, server)
                {
                    let (user, server) = named();
                    return Err(SavedAccountsError::OtherAccount {
                        user,
                        server,
                        planned,
                    });
                }
            }
            (None, Some(_)) => {}
            _ => {
                let (user, server) = named();
                return Err(SavedAccountsError::Unplanned { user, server });
            }
        }
    }
    let holds = total(file);
    if file.total != holds {
        return Err(SavedAccountsError::Miscounted {
            says: file.total,
            holds,
        });
    }
    Ok(())
}

/// The total the sections add up to, by their summaries (which [`SavedPlan`] checks against
/// their changes).
fn total(file: &PlansFile) -> PlansTotalJson {
    let mut total = PlansTotalJson {
        accounts: file.accounts.len(),
        failed: 0,
        restrict: 0,
        expose: 0,
        guardrails: 0,
    };
    for section in &file.accounts {
        match &section.plan {
            Some(plan) => {
                total.restrict = total.restrict.saturating_add(plan.summary.restrict);
                total.expose = total.expose.saturating_add(plan.summary.expose);
                total.guardrails = total.guardrails.saturating_add(plan.guardrails.len());
            }
            None => total.failed += 1,
        }
    }
    total
}

/// Where a section's plan was listed, when that is not the account the section names.
fn other_origin(origin: &Origin, user: &str, server: &str) -> Option<String> {
    match origin {
        Origin::Account { api_url, user: who } if who == user && api_url == server => None,
        Origin::Account { api_url, user } => Some(format!("{user} on {api_url}")),
        Origin::Snapshot { path } => Some(format!("the snapshot {path}")),
    }
}

/// Pairs the saved sections with the accounts of the policies given (`(user, server,
/// policy)`, in the order given): each policy's account must have exactly one section, and
/// every section a policy. The plans come back in the policies' order.
pub(crate) fn match_policies(
    saved: SavedAccounts,
    given: &[(String, String, String)],
) -> Result<Vec<SavedPlan>, SavedAccountsError> {
    let mut sections: Vec<Option<SavedAccount>> = saved.accounts.into_iter().map(Some).collect();
    let mut plans = Vec::with_capacity(given.len());
    for (user, server, policy) in given {
        let found = sections.iter_mut().find(|section| {
            section
                .as_ref()
                .is_some_and(|s| s.user == *user && s.server == *server)
        });
        match found.and_then(Option::take) {
            Some(section) => plans.push(section.plan),
            None => {
                return Err(SavedAccountsError::NoSection {
                    user: user.clone(),
                    server: server.clone(),
                    policy: policy.clone(),
                });
            }
        }
    }
    if let Some(left) = sections.into_iter().flatten().next() {
        return Err(SavedAccountsError::NoPolicy {
            user: left.user,
            server: left.server,
        });
    }
    Ok(plans)
}

#[cfg(test)]
mod tests;
