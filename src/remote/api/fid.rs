//! File ids as the server hands them out, checked before any of them becomes part of a URL.

use std::fmt;

/// The largest file number accepted; far above any account, small enough for every integer
/// type a server might use.
const MAX_IDLOCAL: u64 = i64::MAX as u64;

/// A file id of the managed user: `owner:number`, the owner exactly the configured user and
/// the number plain decimal digits. Nothing else can become a `/v2/files/{fid}` URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Fid {
    text: String,
}

/// What a server-supplied fid turned out to be. Classifying allocates nothing, so a listing
/// of 100,000 files is checked without copying a fid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FidCheck {
    /// One of the managed user's files, with its number.
    Own(i64),
    /// A well-formed fid of another user: listed, but never managed.
    Foreign,
    /// Not `owner:number`: the listing cannot be trusted.
    Malformed,
}

impl Fid {
    /// Classifies a fid against the managed user.
    pub(crate) fn check(text: &str, user: &str) -> FidCheck {
        let Some((owner, number)) = text.split_once(':') else {
            return FidCheck::Malformed;
        };
        // Canonical decimal only: `alice:01` would name `alice:1` a second time.
        let digits = !number.is_empty()
            && number.len() <= 19
            && number.bytes().all(|b| b.is_ascii_digit())
            && (number == "0" || !number.starts_with('0'));
        let idlocal = number.parse::<u64>().ok().filter(|n| *n <= MAX_IDLOCAL);
        let owner_ok = is_username(owner);
        match (digits && owner_ok, idlocal) {
            (true, Some(idlocal)) if owner == user => {
                FidCheck::Own(i64::try_from(idlocal).unwrap_or(i64::MAX))
            }
            (true, Some(_)) => FidCheck::Foreign,
            _ => FidCheck::Malformed,
        }
    }

    /// Parses one of the managed user's fids, or says why it is not one.
    pub(crate) fn parse(text: &str, user: &str) -> Result<Fid, String> {
        match Fid::check(text, user) {
            FidCheck::Own(_) => Ok(Fid {
                text: text.to_owned(),
            }),
            FidCheck::Foreign => Err(format!(
                "the file id `{}` belongs to another user, not {user}",
                super::base::redact(text)
            )),
            FidCheck::Malformed => Err(format!(
                "the file id `{}` is not of the form {user}:number",
                super::base::redact(text)
            )),
        }
    }

    /// The fid as text.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }
}

/// The one rule for user names, kept in the inventory (the core) so a policy's `account:`
/// checks its `user` the same way.
pub(crate) use crate::inventory::is_username;

impl fmt::Display for Fid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
