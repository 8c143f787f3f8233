//! The sandbox's in-memory account state and the operations the API performs on it.
//!
//! Everything here is synchronous and free of HTTP: the routes lock the store, call one
//! operation, and turn the result into a response. Errors are already API errors.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::wire::{ApiError, View};

/// The id of the root folder of every account.
pub(crate) const ROOT: i64 = -1;

/// A user of the sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The Chart Studio username, the owner part of every fid of the account.
    pub username: String,
    /// The API key.
    pub api_key: String,
}

/// A file or folder as the sandbox stores it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct StoredFile {
    /// The idlocal (the number in the fid).
    pub id: i64,
    pub owner: String,
    /// The name within its folder.
    pub filename: String,
    /// The parent folder's idlocal, `-1` for the root.
    pub parent: i64,
    /// The API file type (`plot`, `grid`, `fold`, ...).
    pub filetype: String,
    pub world_readable: bool,
    pub share_key_enabled: bool,
    /// The share key, present exactly when the link is enabled.
    pub share_key: Option<String>,
    pub deleted: bool,
    /// RFC 3339 with microseconds.
    pub creation_time: String,
    /// RFC 3339 with milliseconds.
    pub date_modified: String,
    /// Plot figure or grid data, stored opaquely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    /// Grid columns, `{name, uid}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cols: Vec<Value>,
    /// Until this instant an enabled share key reads back as disabled (a fault).
    #[serde(skip)]
    pub key_hidden_until: Option<Instant>,
}

impl StoredFile {
    /// A new private file (or folder) not in the trash, created at `wall`.
    pub(crate) fn new(
        owner: &str,
        id: i64,
        parent: i64,
        filename: &str,
        filetype: &str,
        wall: SystemTime,
    ) -> StoredFile {
        let (creation_time, date_modified) = timestamps(wall);
        StoredFile {
            id,
            owner: owner.to_owned(),
            filename: filename.to_owned(),
            parent,
            filetype: filetype.to_owned(),
            world_readable: false,
            share_key_enabled: false,
            share_key: None,
            deleted: false,
            creation_time,
            date_modified,
            content: None,
            cols: Vec::new(),
            key_hidden_until: None,
        }
    }

    /// Sets both sharing flags; enabling the link creates a key, disabling it clears the key.
    pub(crate) fn set_sharing(&mut self, world_readable: bool, share_key_enabled: bool) {
        self.world_readable = world_readable;
        set_share_key(self, share_key_enabled);
    }

    /// Whether the share key is visible (and usable) at `now`.
    pub(crate) fn share_key_visible(&self, now: Instant) -> bool {
        self.key_hidden_until.is_none_or(|until| now >= until)
    }

    fn is_folder(&self) -> bool {
        self.filetype == "fold"
    }

    /// Whether this file's own flags open it to someone who is not its owner and holds `key`
    /// (for a folder: open everything below it too). A trashed file opens nothing.
    fn opens(&self, key: Option<&str>, now: Instant) -> bool {
        if self.deleted {
            return false;
        }
        self.world_readable
            || (self.share_key_enabled
                && self.share_key_visible(now)
                && key.is_some()
                && self.share_key.as_deref() == key)
    }
}

/// Who is reading, for reads that may come from someone other than the owner.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    /// The authenticated caller, if any.
    pub caller: Option<&'a str>,
    /// The `share_key` query parameter, if any.
    pub share_key: Option<&'a str>,
    /// The clock, for share keys hidden by the eventual-consistency fault.
    pub now: Instant,
}

/// Decides which files of one account are open to a non-owner holding a key: a file is open
/// when its own flags or those of any folder above it open it (effective visibility, the most
/// exposed level along the path). Each folder's answer is remembered, so deciding for a whole
/// listing is linear in the account's size, not in size times depth.
struct Openness<'a> {
    account: &'a Account,
    key: Option<&'a str>,
    now: Instant,
    folders: HashMap<i64, bool>,
}

impl<'a> Openness<'a> {
    fn new(account: &'a Account, key: Option<&'a str>, now: Instant) -> Openness<'a> {
        Openness {
            account,
            key,
            now,
            folders: HashMap::new(),
        }
    }

    /// Whether a non-owner may read `file`. A trashed file stays closed whatever its folders say.
    fn is_open(&mut self, file: &StoredFile) -> bool {
        !file.deleted && (file.opens(self.key, self.now) || self.folder_is_open(file.parent))
    }

    /// Whether folder `id` (or one above it) opens what it holds. Walks up to the first folder
    /// already decided, the root or an opening folder, then records the answer for the whole
    /// walk: none of the folders walked opened by itself, so each shares the answer.
    fn folder_is_open(&mut self, id: i64) -> bool {
        let mut walked = Vec::new();
        let mut current = id;
        let answer = loop {
            if current == ROOT {
                break false;
            }
            if let Some(&known) = self.folders.get(&current) {
                break known;
            }
            let Some(folder) = self.account.files.get(&current) else {
                break false;
            };
            // A parent loop can only come from a hand-edited state file: stop, closed.
            if walked.len() > self.account.files.len() {
                break false;
            }
            walked.push(current);
            if folder.opens(self.key, self.now) {
                break true;
            }
            current = folder.parent;
        };
        for folder in walked {
            self.folders.insert(folder, answer);
        }
        answer
    }
}

/// The sharing and naming fields a create or update may set.
#[derive(Clone, Debug, Default)]
pub(crate) struct Changes {
    pub filename: Option<String>,
    pub parent: Option<i64>,
    /// New parent, by path (resolved against the owner's folders).
    pub parent_path: Option<String>,
    pub world_readable: Option<bool>,
    pub share_key_enabled: Option<bool>,
    /// New opaque content (figure or grid data).
    pub content: Option<Value>,
    /// New grid columns.
    pub cols: Option<Vec<Value>>,
}

/// Which files a listing covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    /// Every file of the user (`/v2/folders/all`).
    All,
    /// The children of one folder (`/v2/folders/{fid}`, `/v2/folders/home`).
    Children(i64),
    /// The caller's trashed files (`/v2/folders/trashed`).
    Trashed,
}

/// How a listing is sorted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Order {
    Id,
    Filename(bool),
    Created(bool),
    Modified(bool),
}

impl Order {
    fn parse(order_by: Option<&str>) -> Result<Order, ApiError> {
        let (descending, key) = match order_by {
            None | Some("") => return Ok(Order::Id),
            Some(text) => match text.strip_prefix('-') {
                Some(key) => (true, key),
                None => (false, text),
            },
        };
        match key {
            "filename" => Ok(Order::Filename(descending)),
            "creation_time" => Ok(Order::Created(descending)),
            "date_modified" => Ok(Order::Modified(descending)),
            other => Err(ApiError::invalid(
                "order_by",
                format!(
                    "Invalid order_by `{other}`: use filename, creation_time or date_modified, optionally prefixed with -."
                ),
            )),
        }
    }
}

type ListKey = (Scope, Vec<String>, Order);

/// Cached listings: for each key, the stamp it was computed at and the ids.
type Listings = HashMap<ListKey, (u64, Arc<[i64]>)>;

/// One user's files.
#[derive(Debug, Default)]
struct Account {
    next_id: i64,
    files: BTreeMap<i64, StoredFile>,
    /// `(parent, filename)` to id, for files not in the trash.
    names: HashMap<(i64, String), i64>,
    /// Bumped when files are created, trashed, restored, deleted, renamed or moved.
    generation: u64,
    /// Bumped on every change, for listings sorted by modification time.
    revision: u64,
    /// Behind its own lock, so listings can be served under a shared lock of the store.
    listings: std::sync::Mutex<Listings>,
}

impl Account {
    fn touch_names(&mut self) {
        self.generation += 1;
        self.revision += 1;
    }

    fn children_map(&self) -> HashMap<i64, Vec<i64>> {
        let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
        for file in self.files.values() {
            children.entry(file.parent).or_default().push(file.id);
        }
        children
    }

    /// The file and every file below it, parents first.
    fn subtree(&self, id: i64) -> Vec<i64> {
        let children = self.children_map();
        let mut out = vec![id];
        let mut next = 0;
        while next < out.len() {
            if let Some(kids) = children.get(&out[next]) {
                out.extend(kids);
            }
            next += 1;
        }
        out
    }

    fn folder_exists(&self, id: i64) -> bool {
        id == ROOT
            || self
                .files
                .get(&id)
                .is_some_and(|f| f.is_folder() && !f.deleted)
    }

    /// Resolves a `/`-separated path below `from`, among files not in the trash.
    fn resolve(&self, from: i64, path: &str) -> Option<i64> {
        let mut current = from;
        for name in path.split('/').filter(|n| !n.is_empty()) {
            current = *self.names.get(&(current, name.to_owned()))?;
        }
        Some(current)
    }
}

/// Every account of the sandbox.
#[derive(Debug, Default)]
pub(crate) struct Store {
    users: Vec<User>,
    accounts: BTreeMap<String, Account>,
}

/// Splits `alice:42` into its owner and number; anything else is simply not found.
pub(crate) fn parse_fid(fid: &str) -> Result<(&str, i64), ApiError> {
    let (owner, id) = fid.rsplit_once(':').ok_or_else(ApiError::not_found)?;
    let id = id.parse().map_err(|_| ApiError::not_found())?;
    Ok((owner, id))
}

/// Now as the API formats `creation_time` (microseconds) and `date_modified` (milliseconds).
pub(crate) fn timestamps(now: SystemTime) -> (String, String) {
    (
        humantime::format_rfc3339_micros(now).to_string(),
        humantime::format_rfc3339_millis(now).to_string(),
    )
}

/// A new share key: 22 alphanumerics, like the real ones.
fn new_share_key() -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(22)
        .collect()
}

fn check_filename(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.contains('/') {
        return Err(ApiError::invalid(
            "filename",
            "A filename must be non-empty and cannot contain '/'.",
        ));
    }
    Ok(())
}

impl Store {
    /// Adds a user (and an empty account) unless the name exists; returns whether it was new.
    pub(crate) fn add_user(&mut self, user: User) -> bool {
        if self.users.iter().any(|u| u.username == user.username) {
            return false;
        }
        self.accounts.entry(user.username.clone()).or_default();
        self.users.push(user);
        true
    }

    /// The users, in creation order.
    pub(crate) fn users(&self) -> &[User] {
        &self.users
    }

    /// Checks a username and key; the error is the documented 401.
    ///
    /// The user is found by name, then the keys are compared as SHA-256 digests: how long the
    /// comparison takes says nothing about how much of the key was right, and with many users
    /// (`--generate-users`) no other user's key is ever compared.
    pub(crate) fn authenticate(&self, username: &str, key: &str) -> Result<String, ApiError> {
        use sha2::{Digest, Sha256};
        self.users
            .iter()
            .find(|u| u.username == username)
            .filter(|u| Sha256::digest(&u.api_key) == Sha256::digest(key))
            .map(|u| u.username.clone())
            .ok_or_else(ApiError::bad_key)
    }

    /// Checks a bearer token, which the sandbox accepts as any user's API key.
    pub(crate) fn authenticate_token(&self, token: &str) -> Result<String, ApiError> {
        self.users
            .iter()
            .find(|u| u.api_key == token)
            .map(|u| u.username.clone())
            .ok_or_else(ApiError::bad_key)
    }

    fn account(&self, owner: &str) -> Result<&Account, ApiError> {
        self.accounts.get(owner).ok_or_else(ApiError::not_found)
    }

    fn account_mut(&mut self, owner: &str) -> Result<&mut Account, ApiError> {
        self.accounts.get_mut(owner).ok_or_else(ApiError::not_found)
    }

    /// Whether the caller may read `file`: the owner always; anyone else when the file or a
    /// folder above it is public, or `key` is the share key of the file or of a folder above
    /// it (see [`Openness`]).
    fn readable(
        account: &Account,
        caller: Option<&str>,
        file: &StoredFile,
        key: Option<&str>,
        now: Instant,
    ) -> bool {
        caller == Some(file.owner.as_str()) || Openness::new(account, key, now).is_open(file)
    }

    /// A file the caller may read, and how much of it they see; 404 otherwise.
    pub(crate) fn read(
        &self,
        caller: Option<&str>,
        fid: &str,
        share_key: Option<&str>,
        now: Instant,
    ) -> Result<(&StoredFile, View), ApiError> {
        let (owner, id) = parse_fid(fid)?;
        let account = self.account(owner)?;
        let file = account.files.get(&id).ok_or_else(ApiError::not_found)?;
        if !Self::readable(account, caller, file, share_key, now) {
            return Err(ApiError::not_found());
        }
        let view = if caller == Some(owner) {
            View::Owner
        } else {
            View::Reader
        };
        Ok((file, view))
    }

    /// Checks that the caller owns the file: 401 anonymous, 404 unreadable, 403 readable.
    fn require_owner(
        &self,
        caller: Option<&str>,
        fid: &str,
        now: Instant,
    ) -> Result<(String, i64), ApiError> {
        let caller = caller.ok_or_else(ApiError::unauthenticated)?;
        let (file, view) = self.read(Some(caller), fid, None, now)?;
        if view != View::Owner {
            return Err(ApiError::forbidden());
        }
        Ok((file.owner.clone(), file.id))
    }

    /// Looks a path up in `user`'s files (the caller's by default), relative to `parent`.
    pub(crate) fn lookup(
        &self,
        caller: Option<&str>,
        user: Option<&str>,
        path: &str,
        parent: Option<i64>,
        now: Instant,
    ) -> Result<(&StoredFile, View), ApiError> {
        let owner = user.or(caller).ok_or_else(ApiError::not_found)?;
        let account = self.account(owner)?;
        let id = account
            .resolve(parent.unwrap_or(ROOT), path)
            .filter(|id| *id != ROOT)
            .ok_or_else(ApiError::not_found)?;
        self.read(caller, &format!("{owner}:{id}"), None, now)
    }

    /// Updates a file's name, place, sharing or content. Returns whether a share key was
    /// newly enabled (the eventual-consistency fault applies only then). With `cascade`, a
    /// folder whose sharing changes passes its new flags to everything below it (see
    /// [`cascade_sharing`]); a move never changes the moved file's own flags.
    pub(crate) fn update(
        &mut self,
        caller: Option<&str>,
        fid: &str,
        changes: Changes,
        now: Instant,
        wall: SystemTime,
        cascade: bool,
    ) -> Result<(String, i64, bool), ApiError> {
        let (owner, id) = self.require_owner(caller, fid, now)?;
        let account = self.account_mut(&owner)?;
        let parent = match (&changes.parent, &changes.parent_path) {
            (Some(parent), _) => Some(*parent),
            (None, Some(path)) => Some(resolve_folder(account, path)?),
            (None, None) => None,
        };
        let current = &account.files[&id];
        let new_parent = parent.unwrap_or(current.parent);
        let new_name = changes
            .filename
            .clone()
            .unwrap_or_else(|| current.filename.clone());
        if parent.is_some() || changes.filename.is_some() {
            move_file(account, id, new_parent, new_name)?;
        }
        let file = account.files.get_mut(&id).expect("checked above");
        let before = (file.world_readable, file.share_key_enabled);
        let mut enabled_now = false;
        if let Some(flag) = changes.world_readable {
            file.world_readable = flag;
        }
        if let Some(flag) = changes.share_key_enabled {
            enabled_now = flag && file.share_key.is_none();
            set_share_key(file, flag);
        }
        if let Some(content) = changes.content {
            file.content = Some(content);
        }
        if let Some(cols) = changes.cols {
            file.cols = cols;
        }
        file.date_modified = timestamps(wall).1;
        let resharing = before != (file.world_readable, file.share_key_enabled);
        if cascade && resharing && file.is_folder() {
            cascade_sharing(account, id);
        }
        account.revision += 1;
        Ok((owner, id, enabled_now))
    }

    /// Hides a just-enabled share key until `until` (the eventual-consistency fault).
    pub(crate) fn hide_share_key(&mut self, owner: &str, id: i64, until: Instant) {
        if let Some(file) = self
            .accounts
            .get_mut(owner)
            .and_then(|a| a.files.get_mut(&id))
        {
            file.key_hidden_until = Some(until);
        }
    }

    /// Creates a file of `filetype` for the caller.
    pub(crate) fn create(
        &mut self,
        caller: Option<&str>,
        filetype: &str,
        changes: Changes,
        wall: SystemTime,
    ) -> Result<(String, i64), ApiError> {
        let owner = caller.ok_or_else(ApiError::unauthenticated)?.to_owned();
        let account = self.account_mut(&owner)?;
        let parent = match (&changes.parent, &changes.parent_path) {
            (Some(parent), _) => *parent,
            (None, Some(path)) if !path.is_empty() => ensure_folders(account, &owner, path, wall)?,
            _ => ROOT,
        };
        if !account.folder_exists(parent) {
            return Err(ApiError::invalid(
                "parent",
                "The parent folder does not exist.",
            ));
        }
        let filename = changes
            .filename
            .clone()
            .unwrap_or_else(|| format!("untitled-{}", account.next_id));
        let id = insert_file(account, &owner, filetype, parent, &filename, wall)?;
        let file = account.files.get_mut(&id).expect("just inserted");
        file.world_readable = changes.world_readable.unwrap_or(true);
        set_share_key(file, changes.share_key_enabled.unwrap_or(false));
        file.content = changes.content;
        file.cols = changes.cols.unwrap_or_default();
        Ok((owner, id))
    }

    /// `mkdir -p`: creates the missing folders of `path` below `parent`. Returns the last
    /// folder and whether anything was created; an existing path is an "already exists" error.
    pub(crate) fn mkdirs(
        &mut self,
        caller: Option<&str>,
        path: &str,
        parent: Option<i64>,
        wall: SystemTime,
    ) -> Result<(String, i64), ApiError> {
        let owner = caller.ok_or_else(ApiError::unauthenticated)?.to_owned();
        let account = self.account_mut(&owner)?;
        let from = parent.unwrap_or(ROOT);
        if !account.folder_exists(from) {
            return Err(ApiError::invalid(
                "parent",
                "The parent folder does not exist.",
            ));
        }
        if path.split('/').all(str::is_empty) {
            return Err(ApiError::invalid("path", "This field may not be blank."));
        }
        if account.resolve(from, path).is_some() {
            return Err(ApiError::bad_request(format!(
                "Folder '{}' already exists.",
                path.trim_matches('/')
            )));
        }
        let id = ensure_folders_from(account, &owner, from, path, wall)?;
        Ok((owner, id))
    }

    /// Moves a file (and a folder's contents) to the trash.
    pub(crate) fn trash(
        &mut self,
        caller: Option<&str>,
        fid: &str,
        now: Instant,
    ) -> Result<(String, i64), ApiError> {
        let (owner, id) = self.require_owner(caller, fid, now)?;
        let account = self.account_mut(&owner)?;
        for member in account.subtree(id) {
            let file = account.files.get_mut(&member).expect("subtree ids exist");
            if !file.deleted {
                file.deleted = true;
                let key = (file.parent, file.filename.clone());
                account.names.remove(&key);
            }
        }
        account.touch_names();
        Ok((owner, id))
    }

    /// Takes a file (and a folder's contents) out of the trash; a restored file whose folder
    /// is gone lands at the root. Nothing changes if a name is taken meanwhile.
    pub(crate) fn restore(
        &mut self,
        caller: Option<&str>,
        fid: &str,
        now: Instant,
    ) -> Result<(String, i64), ApiError> {
        let (owner, id) = self.require_owner(caller, fid, now)?;
        let account = self.account_mut(&owner)?;
        let parent = account.files[&id].parent;
        let parent = if account.folder_exists(parent) {
            parent
        } else {
            ROOT
        };
        let members: Vec<i64> = account
            .subtree(id)
            .into_iter()
            .filter(|member| account.files[member].deleted)
            .collect();
        let key_of = |member: i64, file: &StoredFile| {
            let parent = if member == id { parent } else { file.parent };
            (parent, file.filename.clone())
        };
        for &member in &members {
            let key = key_of(member, &account.files[&member]);
            if account.names.contains_key(&key) {
                return Err(ApiError::conflict(&key.1));
            }
        }
        for member in members {
            let key = key_of(member, &account.files[&member]);
            let file = account.files.get_mut(&member).expect("exists");
            (file.parent, file.deleted) = (key.0, false);
            account.names.insert(key, member);
        }
        account.touch_names();
        Ok((owner, id))
    }

    /// Deletes a trashed file (and a folder's contents) for good.
    pub(crate) fn permanent_delete(
        &mut self,
        caller: Option<&str>,
        fid: &str,
        now: Instant,
    ) -> Result<(), ApiError> {
        let (owner, id) = self.require_owner(caller, fid, now)?;
        let account = self.account_mut(&owner)?;
        if !account.files[&id].deleted {
            return Err(ApiError::bad_request(
                "The file must first be trashed before it can be permanently deleted.",
            ));
        }
        for member in account.subtree(id) {
            account.files.remove(&member);
        }
        account.touch_names();
        Ok(())
    }

    /// Deletes a grid at once, without the trash (`DELETE /v2/grids/{fid}`).
    pub(crate) fn destroy(
        &mut self,
        caller: Option<&str>,
        fid: &str,
        now: Instant,
    ) -> Result<(), ApiError> {
        let (owner, id) = self.require_owner(caller, fid, now)?;
        let account = self.account_mut(&owner)?;
        if let Some(file) = account.files.remove(&id)
            && !file.deleted
        {
            account.names.remove(&(file.parent, file.filename));
        }
        account.touch_names();
        Ok(())
    }

    /// The ids a listing covers, in order. The owner sees every file, and their listings are
    /// cached until the account changes; anyone else sees the files open to them (see
    /// [`Openness`]), worked out afresh each time since the answer depends on their key.
    pub(crate) fn list(
        &self,
        reader: Reader<'_>,
        owner: &str,
        scope: &Scope,
        filetypes: &[String],
        order_by: Option<&str>,
    ) -> Result<Arc<[i64]>, ApiError> {
        let order = Order::parse(order_by)?;
        let is_owner = reader.caller == Some(owner);
        let account = self.account(owner)?;
        let mut types = filetypes.to_vec();
        types.sort_unstable();
        types.dedup();
        let key = (scope.clone(), types, order);
        let stamp = match order {
            Order::Modified(_) => account.revision,
            _ => account.generation,
        };
        let cached = |listings: &Listings| {
            listings
                .get(&key)
                .filter(|(seen, _)| *seen == stamp)
                .map(|(_, ids)| ids.clone())
        };
        let lock = || {
            account
                .listings
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if is_owner && let Some(ids) = cached(&lock()) {
            return Ok(ids);
        }
        let mut openness =
            (!is_owner).then(|| Openness::new(account, reader.share_key, reader.now));
        let ids: Arc<[i64]> = select(account, &key, openness.as_mut()).into();
        if is_owner {
            lock().insert(key, (stamp, ids.clone()));
        }
        Ok(ids)
    }

    /// A file by owner and id, for rendering listings.
    pub(crate) fn get(&self, owner: &str, id: i64) -> Option<&StoredFile> {
        self.accounts.get(owner)?.files.get(&id)
    }

    /// Resolves a folder fid the reader may read to its owner and id (`user:-1` is the root).
    pub(crate) fn folder(&self, reader: Reader<'_>, fid: &str) -> Result<(String, i64), ApiError> {
        let (owner, id) = parse_fid(fid)?;
        if id == ROOT {
            self.account(owner)?;
            return Ok((owner.to_owned(), ROOT));
        }
        let (file, _) = self.read(reader.caller, fid, reader.share_key, reader.now)?;
        if !file.is_folder() {
            return Err(ApiError::not_found());
        }
        Ok((owner.to_owned(), id))
    }

    /// Every file of every account, trashed ones too, for saving.
    pub(crate) fn all_files(&self) -> impl Iterator<Item = &StoredFile> {
        self.accounts.values().flat_map(|a| a.files.values())
    }

    /// Builds a store from users and files (from a seed or a saved state).
    pub(crate) fn from_parts(users: Vec<User>, files: Vec<StoredFile>) -> Store {
        let mut store = Store::default();
        for user in users {
            store.add_user(user);
        }
        for file in files {
            let account = store.accounts.entry(file.owner.clone()).or_default();
            account.next_id = account.next_id.max(file.id + 1);
            if !file.deleted {
                account
                    .names
                    .insert((file.parent, file.filename.clone()), file.id);
            }
            account.files.insert(file.id, file);
        }
        store
    }

    /// The `/`-joined path of a file, from its folders.
    pub(crate) fn path_of(&self, owner: &str, id: i64) -> Option<String> {
        let account = self.accounts.get(owner)?;
        let mut names = Vec::new();
        let mut current = id;
        while current != ROOT {
            let file = account.files.get(&current)?;
            names.push(file.filename.as_str());
            current = file.parent;
            if names.len() > account.files.len() {
                return None;
            }
        }
        names.reverse();
        Some(names.join("/"))
    }
}

/// The ids of a listing, sorted; `others` decides what a non-owner may see (`None`: the owner).
fn select(
    account: &Account,
    (scope, types, order): &ListKey,
    mut others: Option<&mut Openness<'_>>,
) -> Vec<i64> {
    let mut files: Vec<&StoredFile> = account
        .files
        .values()
        .filter(|f| match scope {
            Scope::All => !f.deleted,
            Scope::Children(parent) => !f.deleted && f.parent == *parent,
            Scope::Trashed => f.deleted,
        })
        .filter(|f| others.as_mut().is_none_or(|open| open.is_open(f)))
        .filter(|f| types.is_empty() || types.contains(&f.filetype))
        .collect();
    match order {
        Order::Id => {}
        Order::Filename(desc) => sort(&mut files, *desc, |f| f.filename.as_str()),
        Order::Created(desc) => sort(&mut files, *desc, |f| f.creation_time.as_str()),
        Order::Modified(desc) => sort(&mut files, *desc, |f| f.date_modified.as_str()),
    }
    files.into_iter().map(|f| f.id).collect()
}

fn sort(files: &mut [&StoredFile], descending: bool, key: impl Fn(&StoredFile) -> &str) {
    files.sort_by(|a, b| {
        let ordering = key(a).cmp(key(b)).then(a.id.cmp(&b.id));
        if descending {
            ordering.reverse()
        } else {
            ordering
        }
    });
}

fn set_share_key(file: &mut StoredFile, enabled: bool) {
    file.share_key_enabled = enabled;
    if !enabled {
        file.share_key = None;
        file.key_hidden_until = None;
    } else if file.share_key.is_none() {
        file.share_key = Some(new_share_key());
    }
}

/// Gives everything below folder `id`, trashed files too, the folder's sharing flags (so a
/// file restored later comes back as its folder was set). A file made secret keeps its own
/// share key or gets a new one; a file no longer secret loses its key. One pass over the
/// account builds the tree, so a folder with 100,000 files below it costs linear time.
fn cascade_sharing(account: &mut Account, id: i64) {
    let folder = &account.files[&id];
    let flags = (folder.world_readable, folder.share_key_enabled);
    let date_modified = folder.date_modified.clone();
    for member in account.subtree(id).into_iter().skip(1) {
        let file = account.files.get_mut(&member).expect("subtree ids exist");
        if (file.world_readable, file.share_key_enabled) != flags {
            file.set_sharing(flags.0, flags.1);
            file.date_modified.clone_from(&date_modified);
        }
    }
}

fn insert_file(
    account: &mut Account,
    owner: &str,
    filetype: &str,
    parent: i64,
    filename: &str,
    wall: SystemTime,
) -> Result<i64, ApiError> {
    check_filename(filename)?;
    let key = (parent, filename.to_owned());
    if account.names.contains_key(&key) {
        return Err(ApiError::conflict(filename));
    }
    let id = account.next_id;
    account.next_id += 1;
    account.names.insert(key, id);
    account.files.insert(
        id,
        StoredFile::new(owner, id, parent, filename, filetype, wall),
    );
    account.touch_names();
    Ok(id)
}

fn move_file(account: &mut Account, id: i64, parent: i64, name: String) -> Result<(), ApiError> {
    check_filename(&name)?;
    if !account.folder_exists(parent) {
        return Err(ApiError::invalid(
            "parent",
            "The parent folder does not exist.",
        ));
    }
    if account.files[&id].is_folder() && account.subtree(id).contains(&parent) {
        return Err(ApiError::invalid(
            "parent",
            "A folder cannot be moved into itself.",
        ));
    }
    let file = &account.files[&id];
    let old = (file.parent, file.filename.clone());
    let new = (parent, name);
    if old == new {
        return Ok(());
    }
    if account.names.contains_key(&new) {
        return Err(ApiError::conflict(&new.1));
    }
    if !file.deleted {
        account.names.remove(&old);
        account.names.insert(new.clone(), id);
    }
    let file = account.files.get_mut(&id).expect("exists");
    (file.parent, file.filename) = new;
    account.touch_names();
    Ok(())
}

fn resolve_folder(account: &Account, path: &str) -> Result<i64, ApiError> {
    account
        .resolve(ROOT, path)
        .filter(|id| account.folder_exists(*id))
        .ok_or_else(|| ApiError::invalid("parent_path", "The parent folder does not exist."))
}

fn ensure_folders(
    account: &mut Account,
    owner: &str,
    path: &str,
    wall: SystemTime,
) -> Result<i64, ApiError> {
    ensure_folders_from(account, owner, ROOT, path, wall)
}

/// Walks `path` below `from`, creating missing folders; a non-folder in the way is an error.
fn ensure_folders_from(
    account: &mut Account,
    owner: &str,
    from: i64,
    path: &str,
    wall: SystemTime,
) -> Result<i64, ApiError> {
    let mut current = from;
    for name in path.split('/').filter(|n| !n.is_empty()) {
        current = match account.names.get(&(current, name.to_owned())) {
            Some(&id) if account.files[&id].is_folder() => id,
            Some(_) => {
                return Err(ApiError::bad_request(format!(
                    "'{name}' already exists and is not a folder."
                )));
            }
            None => insert_file(account, owner, "fold", current, name, wall)?,
        };
    }
    Ok(current)
}

/// The id counters, saved with the state so a restart never reuses the id of a deleted file
/// (the journal's replayed creates must get the ids they got before the restart).
impl Store {
    /// Each account's next id.
    pub(crate) fn next_ids(&self) -> BTreeMap<String, i64> {
        self.accounts
            .iter()
            .map(|(owner, account)| (owner.clone(), account.next_id))
            .collect()
    }

    /// Raises an account's next id to at least `next`.
    pub(crate) fn reserve_ids(&mut self, owner: &str, next: i64) {
        if let Some(account) = self.accounts.get_mut(owner) {
            account.next_id = account.next_id.max(next);
        }
    }
}

#[cfg(test)]
mod tests;
