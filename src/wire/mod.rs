//! Wire types: the JSON documents plotward writes and reads (the saved plan, the check result,
//! the snapshot), as serde sees them.
//!
//! They are kept apart from the domain types (`plan`, `check`, `inventory`) so that the formats
//! change only on purpose: renaming a field in the core cannot rename it in a document a CI
//! script or a saved plan depends on. Each document carries a `format_version`, and the
//! integration tests pin every field with mirror structs that deny unknown fields.
//!
//! These modules hold types and serde attributes only. Building a document from a plan or a
//! check report needs words (breach and violation messages), so it happens in
//! [`crate::render::json`]; reading a snapshot back into an inventory needs the path and fid
//! rules, so it happens in [`crate::snapshot`]. Small value types whose wire spelling is their
//! identity (`Sharing`, `FileType`, `Flags`, `Coverage`) are shared with the core rather than
//! mirrored.

pub(crate) mod accounts;
pub(crate) mod audit;
pub(crate) mod check;
pub(crate) mod log;
pub(crate) mod plan;
pub(crate) mod snapshot;
pub(crate) mod status;
