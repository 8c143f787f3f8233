//! The words of apply's refusals and cancellations (`Error`'s message for them).
//!
//! Text from outside (plan paths, fids, file paths, digests and accounts a plan names) is
//! escaped here; `Error::render` escapes the whole message once more, which leaves escaped
//! text as it is.

use std::fmt::{self, Display, Formatter};
use std::path::Path;

use crate::apply::{
    Cancelled, Drift, Drifted, Inconsistency, Refusal, SavedAccountsError, SavedPlanError,
    Staleness,
};
use crate::wire::plan::{PLAN_FORMAT_VERSION, PLAN_FORMAT_VERSION_TARGETED};
use plotward_visible::escape;

/// How a stale plan names its dead rules, which have neither a path nor a fid; the line
/// sorts among the files' lines by these, as if they were a path and a fid.
const DEAD_RULES: (&str, &str) = ("(the plan's dead_rules)", "-");

/// What a saved plan must be made again with.
/// `apply --target` that names other globs than the saved plan's.
fn other_targets(
    f: &mut Formatter<'_>,
    plan: &Path,
    planned: &[String],
    given: &[String],
) -> fmt::Result {
    let list = |globs: &[String]| {
        globs
            .iter()
            .map(|g| format!("`{}`", escape(g)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let planned = if planned.is_empty() {
        "the whole account".to_owned()
    } else {
        format!("--target {}", list(planned))
    };
    write!(
        f,
        "the plan {} was made for {planned}, not --target {}; apply it without --target, or \
         make a plan for those targets",
        shown(plan),
        list(given)
    )
}

const REMAKE: &str = "make it again with plotward plan --out";

impl Display for Refusal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Unreadable { plan, source } => {
                write!(f, "cannot read the plan {}: {source}", shown(plan))
            }
            Refusal::NotAPlan { plan, source } => {
                write!(f, "{} is not a plotward plan: {source}", shown(plan))
            }
            Refusal::Invalid { plan, error } => write!(f, "{} {error}", shown(plan)),
            Refusal::Accounts { plan, error } => write!(f, "{} {error}", shown(plan)),
            Refusal::OtherPolicy {
                plan,
                planned,
                policy,
                digest,
            } => write!(
                f,
                "the plan {} was made from a policy with SHA-256 {}…, but {} has {}…; a plan is \
                 applied only under the policy it was made from. Pass that policy with -p, or \
                 make the plan again with plotward plan --out",
                shown(plan),
                escape(&abbreviated(planned)),
                escape(policy),
                abbreviated(digest)
            ),
            Refusal::NoDigest { plan } => write!(
                f,
                "the plan {} records no policy digest, so plotward cannot tell which policy it \
                 follows; {REMAKE}",
                shown(plan)
            ),
            Refusal::OtherAccount {
                plan,
                planned_url,
                planned_user,
                api_url,
                user,
            } => write!(
                f,
                "the plan {} was made for {} at {}, not {user} at {api_url}; refusing to apply it",
                shown(plan),
                escape(planned_user),
                escape(planned_url)
            ),
            Refusal::FromSnapshot { plan, snapshot } => write!(
                f,
                "the plan {} was made from the snapshot {}, not from the account; make it with \
                 plotward plan --out against the account",
                shown(plan),
                escape(snapshot)
            ),
            Refusal::OtherTargets {
                plan,
                planned,
                given,
            } => other_targets(f, plan, planned, given),
            Refusal::Stale { plan, staleness } => stale(f, plan, staleness),
            Refusal::NeverPublic { policy, changes } => {
                write!(
                    f,
                    "refusing to apply: {} change(s) would make public what \
                     guardrails.never_public of {} forbids; no flag overrides never_public:",
                    changes.len(),
                    escape(policy)
                )?;
                for change in changes {
                    write!(f, "\n  {} ({})", escape(&change.path), escape(&change.fid))?;
                }
                Ok(())
            }
            Refusal::Guardrails {
                policy,
                breaches,
                absolute,
            } => {
                write!(
                    f,
                    "refusing to apply: the plan breaks the guardrails of {}:",
                    escape(policy)
                )?;
                for breach in breaches {
                    write!(
                        f,
                        "\n  {}: {}",
                        breach.setting(),
                        escape(&super::text::breach(breach))
                    )?;
                }
                f.write_str(if *absolute {
                    "\nNo flag overrides never_public: change the rules so these files are not \
                     made public."
                } else {
                    "\nReview the plan; change `guardrails` in the policy, or pass --force to \
                     apply it anyway."
                })
            }
        }
    }
}

/// `alice on https://plotly.example.com`, escaped.
fn account(user: &str, server: &str) -> String {
    format!("{} on {}", escape(user), escape(server))
}

/// What is wrong with a saved plan over several accounts, said after its path.
impl Display for SavedAccountsError {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SavedAccountsError::Version { found } => write!(
                f,
                "has format_version {found}; a plan over several accounts is version {}",
                crate::wire::accounts::PLANS_FORMAT_VERSION
            ),
            SavedAccountsError::Empty => write!(f, "covers no account; {REMAKE}"),
            SavedAccountsError::Unplanned { user, server } => write!(
                f,
                "has no plan for the account {} (planning it failed); {REMAKE}",
                account(user, server)
            ),
            SavedAccountsError::Section {
                user,
                server,
                error,
            } => write!(f, "(account {}) {error}", account(user, server)),
            SavedAccountsError::OtherAccount {
                user,
                server,
                planned,
            } => write!(
                f,
                "is inconsistent: the section of {} holds a plan of {}; {REMAKE}",
                account(user, server),
                escape(planned)
            ),
            SavedAccountsError::Repeated { user, server } => write!(
                f,
                "names the account {} twice; {REMAKE}",
                account(user, server)
            ),
            SavedAccountsError::Miscounted { says, holds } => {
                let words = |t: &crate::wire::accounts::PlansTotalJson| {
                    format!(
                        "{} accounts ({} failed), {} to restrict, {} to expose, {} guardrails \
                         broken",
                        t.accounts, t.failed, t.restrict, t.expose, t.guardrails
                    )
                };
                write!(
                    f,
                    "is inconsistent: its total says {}, but its sections hold {}; {REMAKE}",
                    words(says),
                    words(holds)
                )
            }
            SavedAccountsError::NoSection {
                user,
                server,
                policy,
            } => write!(
                f,
                "has no section for the account {} of {}; give the policies the plan was made \
                 from, one -p each",
                account(user, server),
                escape(policy)
            ),
            SavedAccountsError::NoPolicy { user, server } => write!(
                f,
                "covers the account {}, which no policy given governs; give the policies the \
                 plan was made from, one -p each (a reviewer approved the plan as a whole)",
                account(user, server)
            ),
        }
    }
}

/// What is wrong with a saved plan, said after its path.
impl Display for SavedPlanError {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SavedPlanError::Version { found } => write!(
                f,
                "has format_version {found}; this plotward applies versions \
                 {PLAN_FORMAT_VERSION} (a whole account) and {PLAN_FORMAT_VERSION_TARGETED} \
                 (targeted)"
            ),
            SavedPlanError::Targets { version } if *version == PLAN_FORMAT_VERSION => write!(
                f,
                "has format_version {version} (a whole account) but lists targets; {REMAKE}"
            ),
            SavedPlanError::Targets { version } => write!(
                f,
                "has format_version {version} (targeted) but lists no targets; {REMAKE}"
            ),
            SavedPlanError::BadTarget(bad) => {
                write!(f, "{}; {REMAKE}", escape(&bad.to_string()))
            }
            SavedPlanError::Inconsistent { fid, why } => {
                let what = match why {
                    Inconsistency::Unchanged
                    | Inconsistency::Direction
                    | Inconsistency::Observed => {
                        "an action does not match its levels or observed flags"
                    }
                    Inconsistency::Name => {
                        "a change has an empty path or fid, or one longer than any listing allows"
                    }
                    Inconsistency::Foreign => "a change is to a file of another user",
                    Inconsistency::RequiredBy => {
                        "a file that is not a folder is restricted for what lies below it"
                    }
                };
                write!(f, "is inconsistent: {what} ({}); {REMAKE}", escape(fid))
            }
            SavedPlanError::Repeated { fid } => {
                write!(f, "changes {} more than once; {REMAKE}", escape(fid))
            }
            SavedPlanError::Oversized { what } => write!(
                f,
                "holds a {what} longer than any plan plotward writes; {REMAKE}"
            ),
            SavedPlanError::Miscounted { says, holds } => write!(
                f,
                "is inconsistent: its summary says {} to restrict and {} to expose, but it holds \
                 {} restrictions and {} exposures; {REMAKE}",
                says.0, says.1, holds.0, holds.1
            ),
        }
    }
}

impl Display for Cancelled {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cancelled::NoTerminal => {
                "apply needs a confirmation, but stdin is not a terminal; pass --auto-approve, \
                 or apply a plan saved with `plotward plan --out FILE`"
            }
            Cancelled::Declined => "apply cancelled; nothing was changed",
        })
    }
}

/// The stale-plan refusal: a count, then one line per difference, by path then fid.
fn stale(f: &mut Formatter<'_>, plan: &Path, staleness: &Staleness) -> fmt::Result {
    write!(
        f,
        "the plan {} is stale: {} difference(s) from the account and its policy now; nothing \
         was applied. Run plotward plan again.",
        shown(plan),
        staleness.len()
    )?;
    let files = &staleness.files;
    let before = files.partition_point(|d| (d.path.as_str(), d.fid.as_str()) <= DEAD_RULES);
    let line = |f: &mut Formatter<'_>, drift: &Drift| {
        let what = drifted(&drift.what);
        write!(
            f,
            "\n  {} ({}) {}",
            escape(&drift.path),
            escape(&drift.fid),
            escape(&what)
        )
    };
    for drift in &files[..before] {
        line(f, drift)?;
    }
    if staleness.dead_rules_differ {
        let (path, fid) = DEAD_RULES;
        write!(f, "\n  {path} ({fid}) differ from those of the policy now")?;
    }
    for drift in &files[before..] {
        line(f, drift)?;
    }
    Ok(())
}

/// What differs for one file: `moved to x/y`, `no longer exists`, ...
pub(crate) fn drifted(what: &Drifted) -> String {
    match what {
        Drifted::Gone => "no longer exists".to_owned(),
        Drifted::Moved { to } => format!("moved to {to}"),
        Drifted::Reflagged { now, saw } => format!(
            "is now {} (world_readable={}, share_key_enabled={}), the plan saw {saw}",
            crate::inventory::Sharing::from_flags(*now),
            now.world_readable,
            now.share_key_enabled
        ),
        Drifted::Retargeted { from, to, wanted } => {
            format!("is planned {from} -> {to}, but the policy now wants {wanted}")
        }
        Drifted::Edited => "is planned differently from what the policy says now (its type, \
                            rule or levels were edited or have changed)"
            .to_owned(),
        Drifted::Unneeded { from, to } => {
            format!("is planned {from} -> {to}, but the policy no longer changes it")
        }
        Drifted::Unplanned { from, to } => {
            format!("now needs a change the plan does not include ({from} -> {to})")
        }
    }
}

/// A plan file's path as shown: escaped, since a path may hold any character.
fn shown(plan: &Path) -> String {
    escape(&plan.display().to_string()).into_owned()
}

/// The first 12 characters of a digest, which tell digests apart for a person.
fn abbreviated(digest: &str) -> String {
    digest.chars().take(12).collect()
}

#[cfg(test)]
mod tests;
