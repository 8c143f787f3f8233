//! The API as data: URLs, request bodies and response shapes, with no I/O, so every parsing
//! rule is tested on plain strings. `client` does the sending.

mod base;
mod fid;
mod lookup;
mod paging;
mod scan;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

pub(crate) use base::{ApiBase, redact};
pub(crate) use fid::{Fid, FidCheck, is_username};
pub(crate) use lookup::{Found, LookupKind, MAX_LOOKUP_BYTES, parse_lookup};
pub(crate) use paging::{
    PagingError, Walk, check_count, check_page_size, numbered_pages, page_budget,
};
use plotward_visible::escape;

use crate::inventory::{FileType, Flags, Inventory, RemoteFile, Sharing, check_path};

/// The page size plotward asks for; the documented recipes use 500.
pub(crate) const PAGE_SIZE: usize = 500;

/// The body of a sharing change. Both flags are always sent, so no stale share key survives
/// and the result does not depend on server defaults.
pub(crate) fn sharing_body(level: Sharing) -> Value {
    let flags = level.flags();
    json!({
        "world_readable": flags.world_readable,
        "share_key_enabled": flags.share_key_enabled,
    })
}

/// The most of a `GET /v2/users/current` body plotward reads: the answer is one small user
/// object, so anything near this size is not that answer.
pub(crate) const MAX_CURRENT_USER_BYTES: usize = 64 * 1024;

/// The longest username accepted from the server, in bytes.
pub(crate) const MAX_USERNAME_BYTES: usize = 256;

/// The username in a `GET /v2/users/current` answer (`{"username": "alice", ...}`; other
/// fields are ignored). The body is untrusted: it must be a JSON object whose `username` is a
/// string that [`is_username`] accepts, at most [`MAX_USERNAME_BYTES`] long. Errors show the
/// server's text escaped and cut short.
pub(crate) fn current_username(body: &[u8]) -> Result<String, String> {
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        format!(
            "the answer is not JSON (it starts `{}`)",
            escape(&String::from_utf8_lossy(&body[..body.len().min(60)]))
        )
    })?;
    let name = match value.get("username") {
        Some(Value::String(name)) => name,
        Some(_) => return Err("its `username` is not a string".to_owned()),
        None => return Err("it has no `username`".to_owned()),
    };
    if name.len() > MAX_USERNAME_BYTES {
        return Err(format!(
            "its `username` is longer than {MAX_USERNAME_BYTES} bytes"
        ));
    }
    if !is_username(name) {
        return Err(format!(
            "its `username` `{}` cannot be a Chart Studio username",
            redact(name)
        ));
    }
    Ok(name.clone())
}

/// A listing page: only what plotward needs of `children`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListPage {
    /// The items of this page and the link to the next, under the folder's `children`.
    pub children: Children,
}

/// `children` of a folder listing. DRF's page-number pagination always sends `count`; a page
/// without it cannot be proven complete, so it is refused.
#[derive(Debug, Deserialize)]
pub(crate) struct Children {
    /// Total across all pages, as the server counts them.
    pub count: usize,
    /// Absolute URL of the next page.
    pub next: Option<String>,
    /// The items of this page.
    pub results: Vec<ListedFile>,
}

/// One item as listed. Only `fid` is required to parse: items of other users may lack the
/// owner-only fields, and the checks in [`build_inventory`] say which field of which file is
/// missing. The share key itself is never read.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ListedFile {
    /// `owner:idlocal`.
    pub fid: String,
    /// Name within its folder.
    #[serde(default)]
    pub filename: Option<String>,
    /// API file type.
    #[serde(default)]
    pub filetype: Option<Cow<'static, str>>,
    /// Parent folder idlocal; `-1` is the root.
    #[serde(default)]
    pub parent: Option<i64>,
    #[serde(default)]
    pub world_readable: Option<bool>,
    /// Share-key flag; owners always see it.
    #[serde(default)]
    pub share_key_enabled: Option<bool>,
    /// In the trash.
    #[serde(default)]
    pub deleted: Option<bool>,
}

/// Parses one listing page from the response body.
///
/// The body is checked as UTF-8 once, in bulk, then read by `scan` (which checks the whole
/// page's structure but decodes only the seven fields plotward reads); a page the scan is not
/// sure of goes to `serde_json`, so what is accepted, and every refusal's message, is what
/// `serde_json` alone would give. Text that is not UTF-8 is refused, as `serde_json` refuses
/// it.
pub(crate) fn parse_page(body: &[u8]) -> Result<ListPage, String> {
    let text = std::str::from_utf8(body).map_err(|err| err.to_string())?;
    scan::scan_page(text).map_or_else(
        || serde_json::from_str(text).map_err(|err| escape(&err.to_string()).into_owned()),
        Ok,
    )
}

/// The sharing flags of a file object (a `GET` or `PATCH` response).
#[derive(Clone, Copy, Debug, Deserialize)]
pub(crate) struct FileFlags {
    pub world_readable: bool,
    /// Share-key flag.
    #[serde(default)]
    pub share_key_enabled: Option<bool>,
}

impl FileFlags {
    /// The flags, if the response had both.
    pub(crate) fn flags(self) -> Option<Flags> {
        Some(Flags {
            world_readable: self.world_readable,
            share_key_enabled: self.share_key_enabled?,
        })
    }
}

/// The message of an error response, as `chart_studio` builds it: the `errors[].message` joined
/// by newlines, else the raw body, else `No Content`.
pub(crate) fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let joined = parsed
        .as_ref()
        .and_then(|v| v.get("errors"))
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e.get("message").and_then(Value::as_str))
                .filter(|m| !m.is_empty())
                .map(|m| escape(&m.chars().take(500).collect::<String>()).into_owned())
                .take(10)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    if !joined.is_empty() {
        joined
    } else if body.trim().is_empty() {
        "No Content".to_owned()
    } else {
        escape(&body.trim().chars().take(500).collect::<String>()).into_owned()
    }
}

/// Retry-After waits longer than this are treated as a quota: waiting would stall the run.
pub(crate) const LONGEST_WAIT: Duration = Duration::from_mins(2);

/// Whether a 429 is the daily quota (stop the run) rather than a throttle (wait and retry).
/// The server's message says "per day" or "per 24h"; a Retry-After of hours means the same.
pub(crate) fn is_daily_quota(message: &str, retry_after: Option<Duration>) -> bool {
    let text = message.to_ascii_lowercase();
    text.contains("per day")
        || text.contains("per 24h")
        || text.contains("daily")
        || text.contains("threshold")
        || retry_after.is_some_and(|wait| wait > LONGEST_WAIT)
}

/// Parses `Retry-After` given in seconds (HTTP dates are not used by this API).
pub(crate) fn retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A file that could not be placed in the inventory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Unplaced {
    pub fid: String,
    pub reason: String,
}

/// An inventory built from a listing, with what was left out of it.
#[derive(Debug)]
pub(crate) struct Built {
    /// The managed user's files, paths resolved.
    pub inventory: Inventory,
    /// Files whose folder was not listed.
    pub unplaced: Vec<Unplaced>,
    /// Well-formed fids of other users, skipped (sorted).
    pub foreign: Vec<String>,
}

/// The longest file name accepted, in bytes; far above any real one (file systems stop at
/// 255), so a server cannot make plotward hold gigabytes of names across pages.
pub(crate) const MAX_NAME_BYTES: usize = 1024;
/// The longest path (folder names and file name joined by `/`) accepted, in bytes.
pub(crate) use crate::limits::MAX_PATH_BYTES;
/// The longest fid accepted, in bytes.
pub(crate) const MAX_FID_BYTES: usize = 256;
/// The longest file type accepted, in bytes.
pub(crate) const MAX_FILETYPE_BYTES: usize = 64;

/// Checks that each item's fields are within their size limits, as soon as a page arrives.
pub(crate) fn check_items(items: &[ListedFile]) -> Result<(), String> {
    for item in items {
        let too_long = |field: &str, limit: usize| {
            format!(
                "the listing gives `{}` a {field} longer than {limit} bytes; refusing it",
                redact(&item.fid.chars().take(80).collect::<String>())
            )
        };
        if item.fid.len() > MAX_FID_BYTES {
            return Err(too_long("fid", MAX_FID_BYTES));
        }
        if item
            .filename
            .as_ref()
            .is_some_and(|n| n.len() > MAX_NAME_BYTES)
        {
            return Err(too_long("filename", MAX_NAME_BYTES));
        }
        if item
            .filetype
            .as_ref()
            .is_some_and(|t| t.len() > MAX_FILETYPE_BYTES)
        {
            return Err(too_long("filetype", MAX_FILETYPE_BYTES));
        }
    }
    Ok(())
}

/// The number of distinct fids listed, which a complete listing makes equal to `count`.
///
/// `user`'s own fids (nearly all) are counted by their numbers, sorted: cheaper than hashing
/// each fid's text, and no arrangement of numbers a server picks makes it slower. Any other
/// fid is counted by its text.
pub(crate) fn distinct(files: &[ListedFile], user: &str) -> usize {
    let mut own = Numbers::for_listing(files.len());
    let mut other = HashSet::new();
    for file in files {
        match Fid::check(&file.fid, user) {
            FidCheck::Own(idlocal) => {
                own.insert(idlocal);
            }
            FidCheck::Foreign | FidCheck::Malformed => {
                other.insert(file.fid.as_str());
            }
        }
    }
    own.len() + other.len()
}

/// A set of file numbers (the idlocal of a fid): a bitmap over the small numbers a server
/// hands out (an account's files are numbered upward from 0), a hash set for any above it.
/// The bitmap is sized by the listing, two bits a listed file, so memory stays in
/// proportion to the inventory whatever numbers a server picks, and no choice of numbers
/// costs more than the hash set alone would. It replaced hashing each number with `SipHash`,
/// a measurable share of building a large inventory.
struct Numbers {
    bits: Vec<u64>,
    spilled: HashSet<i64>,
    len: usize,
}

impl Numbers {
    /// An empty set for a listing of `files` items.
    fn for_listing(files: usize) -> Numbers {
        Numbers {
            bits: vec![0; files.div_ceil(32) + 1],
            spilled: HashSet::new(),
            len: 0,
        }
    }

    /// Adds `number`; whether it was new.
    fn insert(&mut self, number: i64) -> bool {
        let slot = usize::try_from(number)
            .ok()
            .and_then(|index| Some((self.bits.get_mut(index / 64)?, index % 64)));
        let new = match slot {
            Some((word, bit)) => {
                let mask = 1u64 << bit;
                let new = *word & mask == 0;
                *word |= mask;
                new
            }
            None => self.spilled.insert(number),
        };
        self.len += usize::from(new);
        new
    }

    /// How many numbers the set holds.
    fn len(&self) -> usize {
        self.len
    }
}

/// A listed file of the managed user, every field checked; borrowed from the listing, so
/// checking copies nothing.
struct Checked<'a> {
    name: &'a str,
    filetype: &'a str,
    parent: i64,
    flags: Flags,
}

/// Checks one listed item of the managed user; every problem names the fid.
fn check_item(file: &ListedFile) -> Result<Checked<'_>, String> {
    let fid = file.fid.as_str();
    let missing = |field: &str| {
        format!(
            "the listing gives {fid} no `{field}`; plotward will not guess where or how shared a file is"
        )
    };
    let name = file
        .filename
        .as_deref()
        .ok_or_else(|| missing("filename"))?;
    if name.is_empty() || name.contains('/') {
        return Err(format!(
            "the listing names {fid} `{}`, which cannot be a path segment (empty or containing `/`)",
            base::shown(name)
        ));
    }
    Ok(Checked {
        name,
        filetype: file
            .filetype
            .as_deref()
            .ok_or_else(|| missing("filetype"))?,
        parent: file.parent.ok_or_else(|| missing("parent"))?,
        flags: Flags {
            world_readable: file
                .world_readable
                .ok_or_else(|| missing("world_readable"))?,
            share_key_enabled: file
                .share_key_enabled
                .ok_or_else(|| missing("share_key_enabled"))?,
        },
    })
}

/// Builds the inventory of `user` from listed items: every fid checked (a malformed one fails
/// the whole listing, so nothing is written on the word of a server that sends them), other
/// users' files skipped and counted, trashed files and repeats (pages that shifted) left
/// out, paths resolved from the folder tree (parents by idlocal, `-1` the root).
///
/// Two passes over the listing, the first checking every item and collecting folders, the
/// second building paths. The listing is consumed: each fid moves into the inventory rather
/// than being copied, so memory beyond the listing is the inventory itself.
pub(crate) fn build_inventory(files: Vec<ListedFile>, user: &str) -> Result<Built, String> {
    // Own files are told apart by idlocal (a fid's owner is the user), so repeats are found
    // without hashing every fid's text; only other users' fids are hashed as text.
    let mut seen_own = Numbers::for_listing(files.len());
    let mut seen_foreign = HashSet::new();
    let mut foreign = Vec::new();
    let mut kept = Vec::with_capacity(files.len());
    let mut folders: HashMap<i64, (String, i64)> = HashMap::new();
    for (index, file) in files.iter().enumerate() {
        match Fid::check(&file.fid, user) {
            FidCheck::Malformed => {
                return Err(format!(
                    "the listing holds the file id `{}`, which is not of the form {user}:number; \
                     refusing to plan or write on a listing that holds it",
                    redact(&file.fid)
                ));
            }
            FidCheck::Foreign => {
                if seen_foreign.insert(file.fid.as_str()) {
                    foreign.push(file.fid.clone());
                }
            }
            FidCheck::Own(idlocal) => {
                if file.deleted != Some(true) && seen_own.insert(idlocal) {
                    let checked = check_item(file)?;
                    if checked.filetype == "fold" {
                        folders.insert(idlocal, (checked.name.to_owned(), checked.parent));
                    }
                    kept.push(Kept {
                        index,
                        parent: checked.parent,
                        filetype: FileType::from_api(checked.filetype),
                        flags: checked.flags,
                    });
                }
            }
        }
    }
    drop((seen_own, seen_foreign));
    let mut paths = PathCache::new(&folders);
    let mut inventory = Vec::with_capacity(kept.len());
    let mut unplaced = Vec::new();
    let too_long = |fid: &str| {
        format!(
            "the listing puts {} under a path longer than {MAX_PATH_BYTES} bytes; refusing it",
            redact(fid)
        )
    };
    let mut files = files.into_iter().enumerate();
    for item in kept {
        // `kept` is in listing order, so the file is further along, never behind.
        let Some((_, file)) = files.find(|(index, _)| *index == item.index) else {
            break;
        };
        // Checked in the first pass; a name is always there.
        let name = file.filename.unwrap_or_default();
        let folder = paths
            .folder_path(item.parent)
            .map_err(|folder| too_long(&format!("{user}:{folder}")))?;
        match folder {
            Some(folder) => {
                let path = join(&folder, &name);
                if path.len() > MAX_PATH_BYTES {
                    return Err(too_long(&file.fid));
                }
                check_path(&path).map_err(|why| format!("{}: {why}", file.fid))?;
                inventory.push(RemoteFile {
                    fid: file.fid,
                    path,
                    filetype: item.filetype,
                    flags: item.flags,
                });
            }
            None => unplaced.push(Unplaced {
                fid: file.fid,
                reason: format!("its folder {} is not in the listing", item.parent),
            }),
        }
    }
    unplaced.sort_by(|a, b| a.fid.cmp(&b.fid));
    foreign.sort();
    Ok(Built {
        inventory: Inventory::new(inventory),
        unplaced,
        foreign,
    })
}

/// What the first pass of [`build_inventory`] learned of a file it keeps.
struct Kept {
    /// Its position in the listing.
    index: usize,
    parent: i64,
    filetype: FileType,
    flags: Flags,
}

/// `folder/name`, or `name` at the root; one allocation of the exact size (this runs once per
/// listed file, where `format!` was a measurable share of a plan's CPU).
fn join(folder: &str, name: &str) -> String {
    if folder.is_empty() {
        return name.to_owned();
    }
    let mut path = String::with_capacity(folder.len() + 1 + name.len());
    path.push_str(folder);
    path.push('/');
    path.push_str(name);
    path
}

/// Folder paths, computed once each, so building paths is linear in the number of files.
/// Shared (`Rc`), so a file's folder path is found with one lookup and no copy.
struct PathCache<'a> {
    folders: &'a HashMap<i64, (String, i64)>,
    known: HashMap<i64, Option<Rc<str>>>,
}

impl<'a> PathCache<'a> {
    fn new(folders: &'a HashMap<i64, (String, i64)>) -> Self {
        PathCache {
            folders,
            known: HashMap::from([(-1, Some(Rc::from("")))]),
        }
    }

    /// The path of a folder, `None` if it or an ancestor is missing or the chain loops;
    /// `Err(id)` naming the first folder whose path would pass [`MAX_PATH_BYTES`], so deep
    /// nesting cannot make the paths grow with the square of the depth.
    fn folder_path(&mut self, id: i64) -> Result<Option<Rc<str>>, i64> {
        if let Some(known) = self.known.get(&id) {
            return Ok(known.clone());
        }
        // Walk up to the first folder whose path is known, then fill the chain back down.
        let mut chain = Vec::new();
        let mut current = id;
        let base = loop {
            if let Some(known) = self.known.get(&current) {
                break known.clone();
            }
            if chain.len() > self.folders.len() {
                break None;
            }
            let Some(&(_, parent)) = self.folders.get(&current) else {
                break None;
            };
            chain.push(current);
            current = parent;
        };
        let mut path = base;
        for folder in chain.into_iter().rev() {
            path = path.map(|p| Rc::from(join(&p, &self.folders[&folder].0)));
            if path.as_ref().is_some_and(|p| p.len() > MAX_PATH_BYTES) {
                return Err(folder);
            }
            self.known.insert(folder, path.clone());
        }
        // A chain that loops or leaves the listing ends at a folder not filled above.
        Ok(self.known.entry(id).or_insert(None).clone())
    }
}

#[cfg(test)]
mod tests;
