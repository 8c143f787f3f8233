//! The API as data: URLs, request bodies and response shapes, with no I/O, so every parsing
//! rule is tested on plain strings. `client` does the sending.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::inventory::{FileType, Flags, Inventory, RemoteFile, Sharing};

/// The page size plotward asks for; the documented recipes use 500.
pub const PAGE_SIZE: usize = 500;

/// `GET /v2/folders/all?user=U&page=N&page_size=S`: every file of the user, folders included.
pub fn list_url(api_url: &str, user: &str, page: usize) -> String {
    let query = serde_urlencoded::to_string([
        ("user", user),
        ("page", &page.to_string()),
        ("page_size", &PAGE_SIZE.to_string()),
    ])
    .unwrap_or_default();
    format!("{api_url}/v2/folders/all?{query}")
}

/// `/v2/files/{fid}`, the colon left literal as the official client sends it.
pub fn file_url(api_url: &str, fid: &str) -> String {
    format!("{api_url}/v2/files/{fid}")
}

/// `/v2/users/current`.
pub fn current_user_url(api_url: &str) -> String {
    format!("{api_url}/v2/users/current")
}

/// The body of a sharing change. Both flags are always sent, so no stale share key survives
/// and the result does not depend on server defaults.
pub fn sharing_body(level: Sharing) -> Value {
    let flags = level.flags();
    json!({
        "world_readable": flags.world_readable,
        "share_key_enabled": flags.share_key_enabled,
    })
}

/// A listing page: only what plotward needs of `children`.
#[derive(Debug, Deserialize)]
pub struct ListPage {
    /// The page.
    pub children: Children,
}

/// `children` of a folder listing.
#[derive(Debug, Deserialize)]
pub struct Children {
    /// Total across all pages, if the server says.
    pub count: Option<usize>,
    /// Absolute URL of the next page.
    pub next: Option<String>,
    /// The files of this page.
    pub results: Vec<ListedFile>,
}

/// One file as listed. The share key is never read.
#[derive(Clone, Debug, Deserialize)]
pub struct ListedFile {
    /// `owner:idlocal`.
    pub fid: String,
    /// Name within its folder.
    pub filename: String,
    /// API file type.
    pub filetype: String,
    /// Parent folder idlocal; `-1` (or absent) is the root.
    #[serde(default)]
    pub parent: Option<i64>,
    /// Public flag.
    pub world_readable: bool,
    /// Share-key flag; owners always see it.
    #[serde(default)]
    pub share_key_enabled: Option<bool>,
    /// In the trash.
    #[serde(default)]
    pub deleted: Option<bool>,
}

/// The sharing flags of a file object (a `GET` or `PATCH` response).
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct FileFlags {
    /// Public flag.
    pub world_readable: bool,
    /// Share-key flag.
    #[serde(default)]
    pub share_key_enabled: Option<bool>,
}

impl FileFlags {
    /// The flags, if the response had both.
    pub fn flags(self) -> Option<Flags> {
        Some(Flags {
            world_readable: self.world_readable,
            share_key_enabled: self.share_key_enabled?,
        })
    }
}

/// The message of an error response, as `chart_studio` builds it: the `errors[].message` joined
/// by newlines, else the raw body, else `No Content`.
pub fn error_message(body: &str) -> String {
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
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    if !joined.is_empty() {
        joined
    } else if body.trim().is_empty() {
        "No Content".to_owned()
    } else {
        body.trim().chars().take(500).collect()
    }
}

/// Retry-After waits longer than this are treated as a quota: waiting would stall the run.
pub const LONGEST_WAIT: Duration = Duration::from_mins(2);

/// Whether a 429 is the daily quota (stop the run) rather than a throttle (wait and retry).
/// The server's message says "per day" or "per 24h"; a Retry-After of hours means the same.
pub fn is_daily_quota(message: &str, retry_after: Option<Duration>) -> bool {
    let text = message.to_ascii_lowercase();
    text.contains("per day")
        || text.contains("per 24h")
        || text.contains("daily")
        || text.contains("threshold")
        || retry_after.is_some_and(|wait| wait > LONGEST_WAIT)
}

/// Parses `Retry-After` given in seconds (HTTP dates are not used by this API).
pub fn retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A file that could not be placed in the inventory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unplaced {
    /// The file.
    pub fid: String,
    /// Why.
    pub reason: String,
}

/// Builds the inventory from listed files: paths from the folder tree (parents by idlocal,
/// `-1` the root), trashed files left out, duplicates (pages that shifted) merged.
pub fn build_inventory(files: Vec<ListedFile>) -> Result<(Inventory, Vec<Unplaced>), String> {
    // Keep the first sighting of each fid (pages that shifted may repeat one), without
    // copying every fid into a map.
    let keep: Vec<bool> = {
        let mut seen = std::collections::HashSet::with_capacity(files.len());
        files
            .iter()
            .map(|f| f.deleted != Some(true) && seen.insert(f.fid.as_str()))
            .collect()
    };
    let files: Vec<ListedFile> = files
        .into_iter()
        .zip(keep)
        .filter_map(|(file, keep)| keep.then_some(file))
        .collect();
    let folders: HashMap<i64, (&str, i64)> = files
        .iter()
        .filter(|f| f.filetype == "fold")
        .filter_map(|f| {
            Some((
                idlocal(&f.fid)?,
                (f.filename.as_str(), f.parent.unwrap_or(-1)),
            ))
        })
        .collect();
    let mut paths = PathCache::new(&folders);
    let mut inventory = Vec::with_capacity(files.len());
    let mut unplaced = Vec::new();
    for file in &files {
        let Some(share_key_enabled) = file.share_key_enabled else {
            return Err(format!(
                "the API did not say whether {} has a share key; plotward can only manage files it owns",
                file.fid
            ));
        };
        match paths.folder_path(file.parent.unwrap_or(-1)) {
            Some(folder) => inventory.push(RemoteFile {
                fid: file.fid.clone(),
                path: join(&folder, &file.filename),
                filetype: FileType::from_api(&file.filetype),
                flags: Flags {
                    world_readable: file.world_readable,
                    share_key_enabled,
                },
            }),
            None => unplaced.push(Unplaced {
                fid: file.fid.clone(),
                reason: format!(
                    "its folder {} is not in the listing",
                    file.parent.unwrap_or(-1)
                ),
            }),
        }
    }
    unplaced.sort_by(|a, b| a.fid.cmp(&b.fid));
    Ok((Inventory::new(inventory), unplaced))
}

fn join(folder: &str, name: &str) -> String {
    if folder.is_empty() {
        name.to_owned()
    } else {
        format!("{folder}/{name}")
    }
}

/// The number after the last colon of a fid.
fn idlocal(fid: &str) -> Option<i64> {
    fid.rsplit_once(':')?.1.parse().ok()
}

/// Folder paths, computed once each, so building paths is linear in the number of files.
struct PathCache<'a> {
    folders: &'a HashMap<i64, (&'a str, i64)>,
    known: HashMap<i64, Option<String>>,
}

impl<'a> PathCache<'a> {
    fn new(folders: &'a HashMap<i64, (&'a str, i64)>) -> Self {
        PathCache {
            folders,
            known: HashMap::from([(-1, Some(String::new()))]),
        }
    }

    /// The path of a folder, `None` if it or an ancestor is missing or the chain loops.
    fn folder_path(&mut self, id: i64) -> Option<String> {
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
            path = path.map(|p| join(&p, self.folders[&folder].0));
            self.known.insert(folder, path.clone());
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(fid: &str, name: &str, filetype: &str, parent: i64) -> ListedFile {
        ListedFile {
            fid: fid.into(),
            filename: name.into(),
            filetype: filetype.into(),
            parent: Some(parent),
            world_readable: false,
            share_key_enabled: Some(false),
            deleted: Some(false),
        }
    }

    #[test]
    fn urls_and_bodies() {
        assert_eq!(
            list_url("https://api.plotly.com", "al.ice", 3),
            "https://api.plotly.com/v2/folders/all?user=al.ice&page=3&page_size=500"
        );
        assert_eq!(file_url("http://h", "a:1"), "http://h/v2/files/a:1");
        assert_eq!(
            sharing_body(Sharing::Secret),
            json!({"world_readable": false, "share_key_enabled": true})
        );
        assert_eq!(
            sharing_body(Sharing::Public),
            json!({"world_readable": true, "share_key_enabled": false})
        );
    }

    #[test]
    fn pages_parse_and_ignore_unknown_fields() {
        let page: ListPage = serde_json::from_str(
            r#"{"fid":"a:-1","children":{"count":3,"next":"http://h/v2/folders/all?page=2",
                "previous":null,"results":[{"fid":"a:1","filename":"x","filetype":"plot",
                "parent":-1,"world_readable":true,"share_key_enabled":false,
                "share_key":"KkpqfcY2FA5kJhU5QwnUs5","views":3}]}}"#,
        )
        .unwrap();
        assert_eq!(page.children.count, Some(3));
        assert_eq!(page.children.results[0].fid, "a:1");
        let last: ListPage =
            serde_json::from_str(r#"{"children":{"count":0,"next":null,"results":[]}}"#).unwrap();
        assert!(last.children.next.is_none() && last.children.results.is_empty());
    }

    #[test]
    fn error_messages_follow_chart_studio() {
        assert_eq!(
            error_message(
                r#"{"errors":[{"code":"UNKNOWN","message":"Bad API key","path":null,"field":null}],"detail":"Bad API key"}"#
            ),
            "Bad API key"
        );
        assert_eq!(
            error_message(r#"{"errors":[{"message":"a"},{"message":"b"}]}"#),
            "a\nb"
        );
        assert_eq!(error_message(r#"{"errors":[]}"#), r#"{"errors":[]}"#);
        assert_eq!(error_message(""), "No Content");
        assert_eq!(
            error_message("<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
    }

    #[test]
    fn daily_quota_is_told_from_a_throttle() {
        let daily = "Hi there, you've reached the threshold of 100 combined image exports and chart saves per 24h period.";
        assert!(is_daily_quota(daily, None));
        assert!(!is_daily_quota(
            "Request was throttled. Expected available in 1 seconds.",
            Some(Duration::from_secs(1))
        ));
        assert!(is_daily_quota(
            "Too many requests",
            Some(Duration::from_hours(1))
        ));
        assert_eq!(retry_after(Some(" 7 ")), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
    }

    #[test]
    fn inventory_paths_come_from_the_folder_tree() {
        let files = vec![
            listed("a:3", "q3", "fold", 1),
            listed("a:1", "reports", "fold", -1),
            listed("a:4", "revenue", "plot", 3),
            listed("a:5", "top", "dashboard", -1),
            listed("a:6", "orphan", "plot", 99),
            ListedFile {
                deleted: Some(true),
                ..listed("a:7", "binned", "plot", -1)
            },
        ];
        let (inventory, unplaced) = build_inventory(files).unwrap();
        let paths: Vec<(&str, &str)> = inventory
            .files()
            .iter()
            .map(|f| (f.fid.as_str(), f.path.as_str()))
            .collect();
        assert_eq!(
            paths,
            [
                ("a:1", "reports"),
                ("a:3", "reports/q3"),
                ("a:4", "reports/q3/revenue"),
                ("a:5", "top")
            ]
        );
        assert_eq!(
            unplaced,
            [Unplaced {
                fid: "a:6".into(),
                reason: "its folder 99 is not in the listing".into()
            }]
        );
    }

    #[test]
    fn a_missing_share_key_flag_is_an_error_not_a_guess() {
        let mut file = listed("a:1", "x", "plot", -1);
        file.share_key_enabled = None;
        assert!(build_inventory(vec![file]).unwrap_err().contains("a:1"));
    }

    #[test]
    fn folder_loops_do_not_hang() {
        let files = vec![
            listed("a:1", "x", "fold", 2),
            listed("a:2", "y", "fold", 1),
            listed("a:3", "z", "plot", 1),
        ];
        let (inventory, unplaced) = build_inventory(files).unwrap();
        assert!(inventory.is_empty());
        assert_eq!(unplaced.len(), 3);
    }
}
