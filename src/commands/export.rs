//! `export`: today's sharing as a policy.

use std::path::Path;

use super::plan::load_inventory;
use super::{Io, write_atomically};
use crate::config::Input;
use crate::error::{Error, Exit};
use crate::export::ExportError;
use crate::render;

/// `export`: prints (or writes) the policy, or diffs it against an existing one.
pub(crate) fn export(
    input: &Input,
    policies: &[std::path::PathBuf],
    out: Option<&Path>,
    diff: Option<&Path>,
    io: &mut Io<'_>,
) -> Result<Exit, Error> {
    if let [_, _, ..] = policies {
        return super::accounts_files::export(input, policies, out, diff, io);
    }
    let policy = super::one_account_policy("export", policies)?;
    if diff.is_none() {
        super::plan::refuse_out_over("export", out, policies, input)?;
        if let Some(path) = out.filter(|path| !super::outfile::is_stdout(path)) {
            super::outfile::refuse_unwritable(path)?;
        }
    }
    let (inventory, source) = load_inventory(input, policy.as_ref(), true, io)?;
    let exported = crate::export::export(&inventory)?;
    let account = policy.as_ref().and_then(|p| p.account.as_ref());
    let yaml = render::text::exported_policy(&exported, inventory.coverage(), &source, account);
    check_readable(&yaml)?;
    if let Some(existing) = diff {
        let text = crate::limits::read_text(existing, crate::limits::MAX_POLICY_BYTES).map_err(
            |source| Error::ReadFile {
                path: existing.to_owned(),
                source,
            },
        )?;
        let shown = existing.display().to_string();
        let patch = render::diff::unified(&text, &yaml, &shown, "exported");
        // Like `plan --detailed-exitcode`: 2 says the account's sharing and the policy differ,
        // so a scheduled job can alert on it without reading the diff.
        if patch.is_empty() {
            render::text::export_unchanged(&shown, io.out_painter, io.out)?;
            return Ok(Exit::Success);
        }
        io.out.write_all(patch.as_bytes())?;
        return Ok(Exit::Changes);
    }
    match out.filter(|path| !super::outfile::is_stdout(path)) {
        Some(path) => {
            write_atomically(path, yaml.as_bytes())?;
            render::text::export_written(path, &exported, inventory.len(), io.err_painter, io.err)?;
        }
        None => io.out.write_all(yaml.as_bytes())?,
    }
    Ok(Exit::Success)
}

/// An export is only useful if plotward reads it back: its size is within the policy limit
/// and it validates. Refuses it otherwise, saying why, rather than write a policy that
/// `plan` then rejects.
pub(super) fn check_readable(yaml: &str) -> Result<(), Error> {
    let limit = crate::limits::MAX_POLICY_BYTES;
    if yaml.len() as u64 > limit {
        return Err(ExportError::TooLarge {
            bytes: yaml.len(),
            limit,
        }
        .into());
    }
    crate::policy::Policy::parse(yaml, "exported policy").map_err(ExportError::Unreadable)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_readable;

    #[test]
    fn an_export_plotward_could_not_read_back_is_refused() {
        assert!(check_readable("version: 1\ndefault: private\n").is_ok());
        let limit = usize::try_from(crate::limits::MAX_POLICY_BYTES).unwrap_or(usize::MAX);
        let huge = format!("version: 1\n#{}\n", "x".repeat(limit));
        let err = check_readable(&huge).unwrap_err().to_string();
        assert!(err.contains("over the 32 MiB plotward reads"), "{err}");
        let invalid = check_readable("version: 1\ndefault: privat\n")
            .unwrap_err()
            .to_string();
        assert!(invalid.contains("does not validate"), "{invalid}");
    }
}
