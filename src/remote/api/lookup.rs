//! `GET /v2/files/lookup` and `GET /v2/folders/lookup` answers, checked before they are
//! believed: the same discipline as a listing item, plus the name the answer gives must be the
//! one asked for (a server cannot answer a lookup of `a/b` with some other file).

use serde::Deserialize;

use super::{Fid, FidCheck, MAX_FID_BYTES, MAX_FILETYPE_BYTES, MAX_NAME_BYTES, redact};
use crate::inventory::{FileType, Flags};

/// The most of a lookup answer plotward reads: one file object, however rich (grids carry
/// their column list), is far below this.
pub(crate) const MAX_LOOKUP_BYTES: usize = 4 * 1024 * 1024;

/// Which lookup endpoint: any file, or folders only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LookupKind {
    /// `/v2/files/lookup`: a file of any type, folders included.
    File,
    /// `/v2/folders/lookup`: a folder.
    Folder,
}

/// A file a lookup found, every field checked; its path is the one asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Found {
    /// `owner:idlocal`, of the managed user.
    pub fid: String,
    /// The number after the `:`, which children name as their `parent`.
    pub idlocal: i64,
    pub filetype: FileType,
    /// Parent folder idlocal; `-1` is the root.
    pub parent: i64,
    pub flags: Flags,
}

/// What plotward reads of a lookup answer; everything optional, so a missing field is named.
#[derive(Debug, Deserialize)]
struct LookupAnswer {
    #[serde(default)]
    fid: Option<String>,
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    filetype: Option<String>,
    #[serde(default)]
    parent: Option<i64>,
    #[serde(default)]
    world_readable: Option<bool>,
    #[serde(default)]
    share_key_enabled: Option<bool>,
    #[serde(default)]
    deleted: Option<bool>,
}

/// Checks a 200 answer to a lookup of `path` for `user`. `Ok(None)` when the answer is a file
/// in the trash (a listing leaves those out too, so `status` and `check` agree). Every error
/// names the path asked for and shows the server's text escaped and cut short.
pub(crate) fn parse_lookup(
    body: &[u8],
    user: &str,
    path: &str,
    kind: LookupKind,
) -> Result<Option<Found>, String> {
    let wrong = |why: String| {
        format!(
            "the server's answer to a lookup of `{}` {why}; refusing to judge it",
            redact(path)
        )
    };
    // An object only: serde would read a struct from an array too.
    let answer: LookupAnswer = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .filter(serde_json::Value::is_object)
        .and_then(|value| serde_json::from_value(value).ok())
        .ok_or_else(|| wrong("is not a JSON file object".to_owned()))?;
    let missing = |field: &str| wrong(format!("has no `{field}`"));
    let fid = answer.fid.as_deref().ok_or_else(|| missing("fid"))?;
    if fid.len() > MAX_FID_BYTES {
        return Err(wrong(format!(
            "has a fid longer than {MAX_FID_BYTES} bytes"
        )));
    }
    let idlocal = match Fid::check(fid, user) {
        FidCheck::Own(idlocal) => idlocal,
        FidCheck::Foreign => {
            return Err(wrong(format!(
                "names `{}`, a file of another user, not {user}",
                redact(fid)
            )));
        }
        FidCheck::Malformed => {
            return Err(wrong(format!(
                "gives the file id `{}`, which is not of the form {user}:number",
                redact(fid)
            )));
        }
    };
    let name = answer
        .filename
        .as_deref()
        .ok_or_else(|| missing("filename"))?;
    let asked = path.rsplit('/').next().unwrap_or(path);
    if name.len() > MAX_NAME_BYTES || name != asked {
        return Err(wrong(format!(
            "names the file `{}`, not `{}`",
            redact(&name.chars().take(200).collect::<String>()),
            redact(asked)
        )));
    }
    let filetype = answer
        .filetype
        .as_deref()
        .ok_or_else(|| missing("filetype"))?;
    if filetype.len() > MAX_FILETYPE_BYTES || !FileType::KNOWN.contains(&filetype) {
        return Err(wrong(format!(
            "gives the unknown file type `{}`",
            redact(&filetype.chars().take(80).collect::<String>())
        )));
    }
    if kind == LookupKind::Folder && filetype != "fold" {
        return Err(wrong(format!("is a {filetype}, not a folder")));
    }
    let found = Found {
        fid: fid.to_owned(),
        idlocal,
        filetype: FileType::from_api(filetype),
        parent: answer.parent.ok_or_else(|| missing("parent"))?,
        flags: Flags {
            world_readable: answer
                .world_readable
                .ok_or_else(|| missing("world_readable"))?,
            share_key_enabled: answer
                .share_key_enabled
                .ok_or_else(|| missing("share_key_enabled"))?,
        },
    };
    Ok((answer.deleted != Some(true)).then_some(found))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn answer(fid: &str, filename: &str, filetype: &str) -> Vec<u8> {
        json!({"fid": fid, "filename": filename, "filetype": filetype, "parent": 3,
               "world_readable": true, "share_key_enabled": false, "deleted": false,
               "share_key": "SECRETKEY"})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_good_answer_is_believed() {
        let found = parse_lookup(
            &answer("alice:7", "revenue", "plot"),
            "alice",
            "reports/revenue",
            LookupKind::File,
        )
        .unwrap()
        .unwrap();
        assert_eq!(found.fid, "alice:7");
        assert_eq!((found.idlocal, found.parent), (7, 3));
        assert_eq!(found.filetype, FileType::Plot);
        assert!(found.flags.world_readable && !found.flags.share_key_enabled);
    }

    #[test]
    fn another_users_fid_another_name_or_type_is_refused() {
        let refused = |body: Vec<u8>, kind| {
            parse_lookup(&body, "alice", "reports/revenue", kind).unwrap_err()
        };
        assert!(
            refused(answer("bob:7", "revenue", "plot"), LookupKind::File)
                .contains("a file of another user, not alice")
        );
        assert!(
            refused(answer("alice:07", "revenue", "plot"), LookupKind::File)
                .contains("not of the form alice:number")
        );
        assert!(
            refused(answer("alice:7", "payroll", "plot"), LookupKind::File)
                .contains("names the file `payroll`, not `revenue`")
        );
        assert!(
            refused(answer("alice:7", "revenue", "mystery"), LookupKind::File)
                .contains("unknown file type `mystery`")
        );
        assert!(
            refused(answer("alice:7", "revenue", "plot"), LookupKind::Folder)
                .contains("is a plot, not a folder")
        );
        assert!(refused(b"[]".to_vec(), LookupKind::File).contains("not a JSON file object"));
        let no_flags = json!({"fid": "alice:7", "filename": "revenue", "filetype": "plot",
                              "parent": -1, "world_readable": false});
        assert!(
            refused(no_flags.to_string().into_bytes(), LookupKind::File)
                .contains("has no `share_key_enabled`")
        );
    }

    #[test]
    fn a_trashed_file_is_not_found() {
        let body = json!({"fid": "alice:7", "filename": "revenue", "filetype": "plot",
                          "parent": -1, "world_readable": false, "share_key_enabled": false,
                          "deleted": true});
        assert_eq!(
            parse_lookup(
                body.to_string().as_bytes(),
                "alice",
                "revenue",
                LookupKind::File
            ),
            Ok(None)
        );
    }

    proptest! {
        /// Whatever the server sends, the answer is refused or believed, never a panic, and
        /// an error never carries a raw control character.
        #[test]
        fn any_answer_is_refused_cleanly_or_names_the_path_asked(
            body in proptest::collection::vec(any::<u8>(), 0..300),
            name in "\\PC{0,20}",
        ) {
            match parse_lookup(&body, "alice", &format!("a/{name}"), LookupKind::File) {
                Ok(_) => {}
                Err(message) => prop_assert!(!message.chars().any(char::is_control)),
            }
        }

        #[test]
        fn a_believed_answer_is_the_users_and_the_name_asked(
            fid in "[a-z]{1,5}:[0-9]{1,4}",
            filename in "[a-z]{1,5}",
            asked in "[a-z]{1,5}",
        ) {
            let body = answer(&fid, &filename, "plot");
            if let Ok(Some(found)) = parse_lookup(&body, "alice", &asked, LookupKind::File) {
                prop_assert!(found.fid.starts_with("alice:"));
                prop_assert_eq!(filename, asked);
            }
        }
    }
}
