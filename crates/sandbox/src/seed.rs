//! Where the sandbox's files come from: a snapshot, a generated account, or a saved state; and
//! how the state is saved.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::SandboxError;
use super::snapshot::{self, SnapshotFile};
use super::store::{ROOT, Store, StoredFile, User};

/// What the sandbox starts with (and goes back to on `/_sandbox/reset`).
#[derive(Clone, Debug, Default)]
pub enum Seed {
    /// No files.
    #[default]
    Empty,
    /// The files of a snapshot, owners taken from their fids.
    Snapshot(Snapshot),
    /// A deterministic synthetic account of about this many files, for the first user.
    Generate(usize),
    /// An organization: `users` generated users ([`generated_username`]: `user0001`,
    /// `user0002`, ...), each with the synthetic account of [`Seed::Generate`] of `files`
    /// files (the same tree and names for each, under their own fids).
    GenerateUsers {
        /// How many users.
        users: usize,
        /// Files per user.
        files: usize,
    },
}

/// The name of generated user `n` (counted from 1): `user` and at least four digits, so
/// `user0001` to `user9999`, then `user10000`: valid Chart Studio usernames, sorted as
/// numbered up to 9,999.
pub fn generated_username(n: usize) -> String {
    format!("user{n:04}")
}

/// The API key of `user` under the key scheme `--user-keys derived:SECRET`: the first 20
/// hexadecimal digits of SHA-256 of `plotward-sandbox-key`, NUL, the secret, NUL, the
/// username, NUL (each part closed by a NUL, so no two splits of one text collide).
/// Deterministic, so tests and benchmarks compute the keys the sandbox accepts
/// without reading them from it; one user's key says nothing useful about another's. A
/// test server's scheme (no HMAC crate in the tree; SHA-256 over a fixed layout with
/// separators does here), not a way to protect real accounts.
pub fn derived_key(secret: &str, user: &str) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write as _;
    let mut hasher = Sha256::new();
    for part in [
        b"plotward-sandbox-key".as_slice(),
        secret.as_bytes(),
        user.as_bytes(),
    ] {
        hasher.update(part);
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    let mut key = String::with_capacity(20);
    for byte in &digest[..10] {
        // Writing to a String cannot fail.
        let _ = write!(key, "{byte:02x}");
    }
    key
}

impl Seed {
    /// The files of a snapshot file as `plotward snapshot` writes it, read with the sandbox's
    /// own types and validated (errors as plotward words them).
    pub fn load_snapshot(path: &Path) -> Result<Seed, SandboxError> {
        let files = snapshot::Snapshot::load(path)?;
        Ok(Seed::Snapshot(Snapshot { files }))
    }

    /// The files of snapshot JSON; `path` only names the source in errors.
    pub fn parse_snapshot(text: &str, path: &Path) -> Result<Seed, SandboxError> {
        let files = snapshot::Snapshot::parse(text, path)?;
        Ok(Seed::Snapshot(Snapshot { files }))
    }
}

/// The files of a validated snapshot, for [`Seed::Snapshot`]. Only
/// [`Seed::load_snapshot`] and [`Seed::parse_snapshot`] make one.
#[derive(Clone, Debug)]
pub struct Snapshot {
    files: Vec<SnapshotFile>,
}

/// The sandbox's own state file, written with `--state`. Not a Chart Studio format.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StateFile {
    /// Always 1.
    pub sandbox_state_version: u32,
    pub users: Vec<User>,
    /// Every file, trashed ones included.
    pub files: Vec<StoredFile>,
    /// Each account's next id (absent in older state files: one past the largest id).
    #[serde(default)]
    pub next_ids: BTreeMap<String, i64>,
    /// The last journal record this state includes; later ones are replayed on start.
    #[serde(default)]
    pub journal_seq: u64,
}

/// A fresh API key.
pub(crate) fn new_api_key() -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(20)
        .collect()
}

/// Builds the store for a seed. Users come first; owners named by the seed that are not among
/// them are added with fresh keys. With no user at all, `alice` is created.
///
/// With `key_secret`, the keys of users added here are [`derived_key`]s of it.
pub(crate) fn build(
    seed: &Seed,
    users: &[User],
    key_secret: Option<&str>,
) -> Result<Store, String> {
    let now = SystemTime::now();
    let mut users = users.to_vec();
    let files = match seed {
        Seed::Empty => Vec::new(),
        Seed::Snapshot(snapshot) => from_snapshot(snapshot, now)?,
        Seed::Generate(count) => {
            let owner = users.first().map_or("alice", |u| u.username.as_str());
            generate(owner, *count, now)
        }
        Seed::GenerateUsers {
            users: count,
            files,
        } => {
            let mut all = Vec::with_capacity(count.saturating_mul(files + files / 40 + 64));
            for n in 1..=*count {
                all.extend(generate(&generated_username(n), *files, now));
            }
            all
        }
    };
    let key_for =
        |username: &str| key_secret.map_or_else(new_api_key, |s| derived_key(s, username));
    // Owners are added in the order their files come, so generated users stay numbered; a
    // set of known names keeps this linear in the files however many users there are.
    let mut known: std::collections::HashSet<String> =
        users.iter().map(|u| u.username.clone()).collect();
    for file in &files {
        if !known.contains(&file.owner) {
            known.insert(file.owner.clone());
            users.push(User {
                username: file.owner.clone(),
                api_key: key_for(&file.owner),
            });
        }
    }
    if users.is_empty() {
        users.push(User {
            username: "alice".to_owned(),
            api_key: key_for("alice"),
        });
    }
    Ok(Store::from_parts(users, files))
}

/// Turns snapshot entries into stored files, creating any folder the snapshot implies but does
/// not list.
fn from_snapshot(snapshot: &Snapshot, now: SystemTime) -> Result<Vec<StoredFile>, String> {
    let mut entries: Vec<_> = snapshot.files.iter().collect();
    // Parents before children: fewer slashes first.
    entries.sort_by_key(|f| (f.path.matches('/').count(), f.path.clone()));
    let mut builder = SeedBuilder {
        now: Some(now),
        ..SeedBuilder::default()
    };
    for file in &entries {
        let (owner, id) = split_fid(&file.fid)?;
        let next = builder.next_id.entry(owner.to_owned()).or_insert(0);
        *next = (*next).max(id + 1);
    }
    for file in entries {
        let (owner, id) = split_fid(&file.fid)?;
        let (parent_path, name) = file.path.rsplit_once('/').unwrap_or(("", &file.path));
        let parent = builder.folder(owner, parent_path)?;
        let mut stored = StoredFile::new(owner, id, parent, name, &file.filetype, now);
        stored.set_sharing(file.flags.world_readable, file.flags.share_key_enabled);
        builder.add(stored, &file.path)?;
    }
    Ok(builder.files)
}

/// Accumulates seeded files, indexing folders by path and names by folder.
#[derive(Default)]
struct SeedBuilder {
    now: Option<SystemTime>,
    next_id: HashMap<String, i64>,
    folders: HashMap<(String, String), i64>,
    names: HashSet<(String, i64, String)>,
    files: Vec<StoredFile>,
}

impl SeedBuilder {
    fn add(&mut self, file: StoredFile, path: &str) -> Result<(), String> {
        let name = (file.owner.clone(), file.parent, file.filename.clone());
        if !self.names.insert(name) {
            return Err(format!("seed lists {path} twice for {}", file.owner));
        }
        if file.filetype == "fold" {
            self.folders
                .insert((file.owner.clone(), path.to_owned()), file.id);
        }
        self.files.push(file);
        Ok(())
    }

    /// The id of the folder at `path`, creating it (and its parents) if the seed did not list
    /// it.
    fn folder(&mut self, owner: &str, path: &str) -> Result<i64, String> {
        if path.is_empty() {
            return Ok(ROOT);
        }
        if let Some(&id) = self.folders.get(&(owner.to_owned(), path.to_owned())) {
            return Ok(id);
        }
        let (grand, name) = path.rsplit_once('/').unwrap_or(("", path));
        let parent = self.folder(owner, grand)?;
        let next = self.next_id.entry(owner.to_owned()).or_insert(0);
        let id = *next;
        *next += 1;
        let now = self.now.unwrap_or(SystemTime::UNIX_EPOCH);
        self.add(StoredFile::new(owner, id, parent, name, "fold", now), path)
            .map_err(|_| format!("seed has files below {path}, which is not a folder"))?;
        Ok(id)
    }
}

fn split_fid(fid: &str) -> Result<(&str, i64), String> {
    fid.rsplit_once(':')
        .and_then(|(owner, id)| Some((owner, id.parse().ok()?)))
        .ok_or_else(|| format!("fid {fid:?} is not of the form owner:number"))
}

const DEPARTMENTS: [&str; 12] = [
    "finance",
    "reports",
    "dashboards",
    "marketing",
    "sales",
    "hr",
    "research",
    "ops",
    "product",
    "public",
    "scratch",
    "archive",
];
const TOPICS: [&str; 16] = [
    "revenue",
    "churn",
    "forecast",
    "latency",
    "signups",
    "retention",
    "spend",
    "pipeline",
    "headcount",
    "traffic",
    "conversion",
    "margin",
    "backlog",
    "uptime",
    "survey",
    "inventory",
];
const FILES_PER_FOLDER: usize = 50;

/// A deterministic synthetic account: `count` files in nested folders (department / year /
/// project), with a fixed mix of file types (plot 55%, grid 30%, dashboard 10%, presentation
/// 5%) and sharing (private 40%, public 40%, secret 20%).
pub(crate) fn generate(owner: &str, count: usize, now: SystemTime) -> Vec<StoredFile> {
    let mut rng = fastrand::Rng::with_seed(0x5EED);
    let mut out = Vec::with_capacity(count + count / FILES_PER_FOLDER + 64);
    let mut next = 0i64;
    let mut new_id = || {
        next += 1;
        next - 1
    };
    let leaf_folders = count.div_ceil(FILES_PER_FOLDER).max(1);
    let mut leaves = Vec::with_capacity(leaf_folders);
    let mut years: HashMap<(usize, usize), i64> = HashMap::new();
    let mut departments: HashMap<usize, i64> = HashMap::new();
    for leaf in 0..leaf_folders {
        let (dept, year) = (leaf % DEPARTMENTS.len(), (leaf / DEPARTMENTS.len()) % 4);
        let dept_id = *departments.entry(dept).or_insert_with(|| {
            let id = new_id();
            out.push(StoredFile::new(
                owner,
                id,
                ROOT,
                DEPARTMENTS[dept],
                "fold",
                now,
            ));
            id
        });
        let year_id = *years.entry((dept, year)).or_insert_with(|| {
            let id = new_id();
            let name = (2023 + year).to_string();
            out.push(StoredFile::new(owner, id, dept_id, &name, "fold", now));
            id
        });
        let id = new_id();
        let name = format!("project-{leaf:05}");
        out.push(StoredFile::new(owner, id, year_id, &name, "fold", now));
        leaves.push(id);
    }
    for n in 0..count {
        let parent = leaves[n / FILES_PER_FOLDER];
        let filetype = match rng.u8(0..100) {
            0..55 => "plot",
            55..85 => "grid",
            85..95 => "dashboard",
            _ => "spectacle_presentation",
        };
        let name = format!("{}-{n:06}", TOPICS[rng.usize(0..TOPICS.len())]);
        let mut file = StoredFile::new(owner, new_id(), parent, &name, filetype, now);
        match rng.u8(0..10) {
            0..4 => file.set_sharing(false, false),
            4..8 => file.set_sharing(true, false),
            _ => file.set_sharing(false, true),
        }
        out.push(file);
    }
    out
}

/// Reads a saved state, with the number of the last journal record it includes.
pub(crate) fn load_state(path: &Path) -> Result<(Store, u64), String> {
    let text = crate::snapshot::read_bounded(path)
        .map_err(|err| format!("cannot read sandbox state {}: {err}", path.display()))?;
    let state: StateFile = serde_json::from_str(&text)
        .map_err(|err| format!("{}: invalid sandbox state: {err}", path.display()))?;
    if state.sandbox_state_version != 1 {
        return Err(format!(
            "{}: unsupported sandbox_state_version {}",
            path.display(),
            state.sandbox_state_version
        ));
    }
    let mut store = Store::from_parts(state.users, state.files);
    for (owner, next) in &state.next_ids {
        store.reserve_ids(owner, *next);
    }
    Ok((store, state.journal_seq))
}

/// The state file of a store, holding the journal up to record `journal_seq`.
pub(crate) fn state_of(store: &Store, journal_seq: u64) -> StateFile {
    StateFile {
        sandbox_state_version: 1,
        users: store.users().to_vec(),
        files: store.all_files().cloned().collect(),
        next_ids: store.next_ids(),
        journal_seq,
    }
}

/// Writes the state atomically: a temporary file beside it (tempfile names it, and removes it
/// if anything fails), fsync, a rename over the state file, and an fsync of the directory so
/// the rename itself survives a crash.
pub(crate) fn save_state(path: &Path, state: &StateFile) -> std::io::Result<()> {
    use std::io::Write;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    // Opened here rather than by `NamedTempFile::new_in`, whose errors name the temporary
    // file's random path: a failed save names the state file alone, as it always did.
    let mut temporary = tempfile::Builder::new().make_in(directory, |temporary| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        // The state holds API keys and share keys: readable by its owner only.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(temporary)
    })?;
    let mut writer = std::io::BufWriter::new(temporary.as_file_mut());
    serde_json::to_writer(&mut writer, state)?;
    writer.flush()?;
    drop(writer);
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|err| err.error)?;
    super::journal::sync_parent(path)
}
