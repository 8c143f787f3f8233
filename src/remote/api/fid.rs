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
    /// Classifies a fid against the managed user, `user` being a name [`is_username`]
    /// accepts (configuration checks it before any request). Runs once per listed file, so
    /// the managed user's own fids (nearly all of a listing) are settled by one comparison of
    /// the owner and one pass over the digits.
    pub(crate) fn check(text: &str, user: &str) -> FidCheck {
        // `user` holds no `:`, so a fid that starts with `user:` splits right there.
        if let Some(number) = text
            .strip_prefix(user)
            .and_then(|rest| rest.strip_prefix(':'))
        {
            return canonical_number(number).map_or(FidCheck::Malformed, FidCheck::Own);
        }
        let Some((owner, number)) = text.split_once(':') else {
            return FidCheck::Malformed;
        };
        let Some(idlocal) = canonical_number(number) else {
            return FidCheck::Malformed;
        };
        if owner == user {
            // The configured user was checked by `is_username` when it was configured.
            FidCheck::Own(idlocal)
        } else if is_username(owner) {
            FidCheck::Foreign
        } else {
            FidCheck::Malformed
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

/// The number of a fid, written in canonical decimal (`alice:01` would name `alice:1` a second
/// time) and at most [`MAX_IDLOCAL`]; read in the same pass that checks the digits.
fn canonical_number(number: &str) -> Option<i64> {
    let bytes = number.as_bytes();
    if bytes.is_empty() || bytes.len() > 19 || (bytes.len() > 1 && bytes[0] == b'0') {
        return None;
    }
    let mut value: u64 = 0;
    for &byte in bytes {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        // Nineteen digits fit in a `u64`; only the bound below can be passed.
        value = value * 10 + u64::from(digit);
    }
    if value > MAX_IDLOCAL {
        return None;
    }
    i64::try_from(value).ok()
}

/// The one rule for user names, kept in the inventory (the core) so a policy's `account:`
/// checks its `user` the same way.
pub(crate) use crate::inventory::is_username;

impl fmt::Display for Fid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
