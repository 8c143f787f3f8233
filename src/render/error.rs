//! An error as the user reads it on stderr: a policy's diagnostics with carets, a missing
//! policy with the two ways on, anything else as `error: message`. One string, written at
//! once, so nothing interleaves with it.

use std::io;
use std::path::Path;

use super::{Painter, diagnostic};
use crate::error::Error;
use crate::policy::PolicyError;

impl Error {
    /// The message for stderr, ending in a newline: diagnostics with carets for policy
    /// errors, the two ways on for a missing policy, `error: ...` otherwise. Implemented here,
    /// beside the other words, so `error` knows nothing of rendering.
    pub(crate) fn render(&self, painter: Painter) -> String {
        message(self, painter)
    }
}

/// The whole message for `err`.
fn message(err: &Error, painter: Painter) -> String {
    match err {
        Error::Policy(PolicyError::Invalid(diagnostics))
        | Error::TestFile(crate::policytest::TestFileError::Invalid(diagnostics)) => {
            diagnostic::render(diagnostics, painter)
        }
        Error::Policy(PolicyError::Read { path, source })
            if source.kind() == io::ErrorKind::NotFound =>
        {
            format!(
                "{}: {}\n",
                painter.paint(Painter::RED, "error"),
                plotward_visible::escape_lines(&missing_policy(path))
            )
        }
        // Messages hold text from outside (paths, server words): shown, never obeyed.
        other => format!(
            "{}: {}\n",
            painter.paint(Painter::RED, "error"),
            plotward_visible::escape_lines(&other.to_string())
        ),
    }
}

/// A missing policy file: which file was looked for (relative paths also as absolute), and
/// the two ways on: name another file, or start from the account as it is.
fn missing_policy(path: &Path) -> String {
    let absolute = std::env::current_dir()
        .ok()
        .filter(|_| path.is_relative())
        .map(|dir| format!(" ({})", dir.join(path).display()))
        .unwrap_or_default();
    format!(
        "no policy file {}{absolute}: give one with -p PATH, or start from the account's \
         sharing as it is today with `plotward export > {}`",
        path.display(),
        path.display()
    )
}
