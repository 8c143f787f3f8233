//! The multi-account documents: what `plan` (and `plan --out`) and `check --format json`
//! write when given several policies. One policy still writes the single-account documents
//! ([`super::plan::PlanFile`], [`super::check::CheckJson`]) unchanged.
//!
//! ```json
//! {
//!   "format_version": 3,
//!   "accounts": [
//!     { "user": "finance", "server": "https://plotly.example.com", "policy": "teams/finance.yaml",
//!       "plan": { "format_version": 1, ... } },
//!     { "user": "ops", "server": "https://plotly.example.com", "policy": "teams/ops.yaml",
//!       "error": "the server refused the API key ..." }
//!   ],
//!   "total": { "accounts": 2, "failed": 1, "restrict": 3, "expose": 0, "guardrails": 0 }
//! }
//! ```
//!
//! The plan document is `format_version` 3, so a reader that knows only the single-account
//! versions (1 and 2) refuses it rather than apply it as one account's plan; the check
//! document is `format_version` 2. Accounts are in the order their policies were given.

use serde::{Deserialize, Serialize};

use super::check::CheckJson;
use super::plan::PlanFile;

/// The plan format version of a plan over several accounts.
pub(crate) const PLANS_FORMAT_VERSION: u32 = 3;

/// The check format version of a check over several accounts.
pub(crate) const CHECKS_FORMAT_VERSION: u32 = 2;

/// A plan over several accounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlansFile {
    /// Always [`PLANS_FORMAT_VERSION`].
    pub format_version: u32,
    /// One section per policy, in the order given.
    pub accounts: Vec<AccountPlanJson>,
    pub total: PlansTotalJson,
}

/// One account's section: its plan, or why it has none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountPlanJson {
    /// The account's user.
    pub user: String,
    /// The API base URL.
    pub server: String,
    /// The policy file.
    pub policy: String,
    /// The account's plan, exactly as a single-account plan saves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanFile>,
    /// Why the account could not be planned (the message `plotward` shows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// [`AccountPlanJson`] borrowed, for writing a section while the plan stays where it is:
/// the same fields in the same order, so the same JSON.
#[derive(Serialize)]
pub(crate) struct AccountPlanRef<'a> {
    pub user: &'a str,
    pub server: &'a str,
    pub policy: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<&'a PlanFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

/// Totals over every account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlansTotalJson {
    /// Accounts in the run.
    pub accounts: usize,
    /// Accounts that could not be planned.
    pub failed: usize,
    /// Changes that restrict, over every account planned.
    pub restrict: usize,
    /// Changes that expose.
    pub expose: usize,
    /// Guardrails broken.
    pub guardrails: usize,
}

/// A check over several accounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ChecksJson {
    /// Always [`CHECKS_FORMAT_VERSION`].
    pub format_version: u32,
    /// Whether every account was checked and is compliant.
    pub compliant: bool,
    /// One section per policy, in the order given.
    pub accounts: Vec<AccountCheckJson>,
    pub total: ChecksTotalJson,
}

/// One account's section: its check result, or why it has none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccountCheckJson {
    pub user: String,
    pub server: String,
    pub policy: String,
    /// The account's check result, exactly as a single-account check writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Totals over every account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ChecksTotalJson {
    pub accounts: usize,
    pub failed: usize,
    /// Files judged.
    pub files: usize,
    pub violations: usize,
    pub drift: usize,
    pub never_public: usize,
}
