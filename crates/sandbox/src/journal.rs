//! The write-ahead journal next to a `--state FILE`: `FILE.journal`.
//!
//! Every successful write appends one [`Record`] (the operation, its caller, its wall-clock
//! time and the random seed it ran with, so replaying it gives the same ids, timestamps, share
//! keys and column uids) and waits until the record is on disk (`write` + `fdatasync`) before
//! its response is sent. Concurrent writers share one `fdatasync` (group commit). On start,
//! records newer than the state file are replayed; the periodic save folds them into the
//! state file (atomic rename), after which the journal is truncated.
//!
//! A line is `HASH JSON\n`, `HASH` being the first 16 hex digits of the SHA-256 of `JSON`. A
//! crash mid-append leaves a torn last line, which is ignored; a bad line anywhere else is a
//! corrupt journal and a clear error.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

/// One acknowledged write, as replayed on start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    /// Position in the sandbox's history; the state file says up to which one it holds.
    pub seq: u64,
    /// The authenticated user who made it.
    pub caller: Option<String>,
    /// When it happened (creation and modification times come from it).
    pub wall: SystemTime,
    /// The seed of the random generator it ran with (share keys, column uids).
    pub rng: u64,
    /// What it did.
    pub op: Op,
}

/// Folder changes cascade unless the record says otherwise.
fn cascades() -> bool {
    true
}

/// A write operation on the store, with its request body already parsed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Op {
    /// `PUT`/`PATCH /v2/{resource}/{fid}`; `filetype` is the resource's type (`None`: files).
    Update {
        filetype: Option<String>,
        fid: String,
        body: Map<String, Value>,
        /// Whether a folder's change passed to its contents when it was made (a runtime
        /// setting, so the record keeps it for replay).
        #[serde(default = "cascades")]
        cascade: bool,
    },
    /// `POST /v2/{plots,grids,dashboards,spectacle-presentations}`.
    Create {
        /// The file type created.
        filetype: String,
        body: Map<String, Value>,
    },
    /// `POST /v2/folders`.
    Mkdirs { body: Map<String, Value> },
    /// `POST .../{fid}/trash`.
    Trash { fid: String },
    /// `POST .../{fid}/restore`.
    Restore { fid: String },
    /// `DELETE .../{fid}/permanent_delete`.
    PermanentDelete { fid: String },
    /// `DELETE /v2/grids/{fid}`.
    Destroy { fid: String },
}

/// The journal path for a state file: `FILE.journal`.
pub(crate) fn path_for(state: &Path) -> PathBuf {
    let mut path = state.as_os_str().to_owned();
    path.push(".journal");
    PathBuf::from(path)
}

/// Encodes a record as one journal line.
fn encode(record: &Record) -> Vec<u8> {
    let json = serde_json::to_vec(record).expect("a record always serializes");
    let mut line = Vec::with_capacity(json.len() + 18);
    line.extend_from_slice(hash(&json).as_bytes());
    line.push(b' ');
    line.extend_from_slice(&json);
    line.push(b'\n');
    line
}

fn hash(json: &[u8]) -> String {
    let digest = Sha256::digest(json);
    digest[..8]
        .iter()
        .fold(String::with_capacity(16), |mut text, b| {
            use std::fmt::Write as _;
            let _ = write!(text, "{b:02x}");
            text
        })
}

/// Reads every record of a journal; a missing journal has none. A torn last line (no newline,
/// or a hash that does not match) is dropped; any other bad line is an error naming it.
pub(crate) fn read(path: &Path) -> Result<Vec<Record>, String> {
    let bytes = match crate::snapshot::read_bounded_bytes(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
    };
    let mut records = Vec::new();
    let mut lines = bytes.split_inclusive(|b| *b == b'\n').peekable();
    let mut number = 0;
    while let Some(line) = lines.next() {
        number += 1;
        let is_last = lines.peek().is_none();
        match decode(line) {
            Some(record) => records.push(record),
            // A crash mid-append: the write was never acknowledged.
            None if is_last => break,
            None => {
                return Err(format!(
                    "{}: line {number} is corrupt (not a complete, checksummed record); \
                     the journal cannot be replayed safely. Move it aside to start from the \
                     state file alone",
                    path.display()
                ));
            }
        }
    }
    Ok(records)
}

fn decode(line: &[u8]) -> Option<Record> {
    let line = line.strip_suffix(b"\n")?;
    let (digest, json) = line.split_at_checked(16)?;
    let json = json.strip_prefix(b" ")?;
    if hash(json).as_bytes() != digest {
        return None;
    }
    serde_json::from_slice(json).ok()
}

/// Records appended but not yet on disk.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// The last sequence number handed out.
    last: u64,
    /// Whether a writer is flushing now (the others wait for it).
    flushing: bool,
    /// Why the last flush failed: records were lost, so no later one may be acknowledged.
    broken: Option<String>,
}

/// An open journal, appended to by writers and truncated by the state saver.
pub(crate) struct Journal {
    path: PathBuf,
    file: Arc<Mutex<File>>,
    pending: Mutex<Pending>,
    /// The last sequence number known to be on disk.
    synced: watch::Sender<u64>,
}

impl Journal {
    /// Opens (creating) the journal for appending, empty, continuing after sequence `last`.
    pub(crate) fn create(path: &Path, last: u64) -> std::io::Result<Journal> {
        let mut options = std::fs::OpenOptions::new();
        // Append mode: after `truncate_through` empties it, writes start again at offset 0.
        options.create(true).append(true);
        // Records hold request bodies and share keys come from them: owner-only, like the state.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path)?;
        file.set_len(0)?;
        file.sync_all()?;
        sync_parent(path)?;
        Ok(Journal {
            path: path.to_owned(),
            file: Arc::new(Mutex::new(file)),
            pending: Mutex::new(Pending {
                last,
                ..Pending::default()
            }),
            synced: watch::Sender::new(last),
        })
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The last sequence number handed out: what a state taken now includes.
    pub(crate) fn last(&self) -> u64 {
        self.pending().last
    }

    /// Queues a record (numbering it) and returns its number. Called under the store's write
    /// lock, so the journal's order is the order the store changed in.
    pub(crate) fn append(&self, mut record: Record) -> u64 {
        let mut pending = self.pending();
        pending.last += 1;
        record.seq = pending.last;
        pending.bytes.extend_from_slice(&encode(&record));
        pending.last
    }

    /// Waits until record `seq` is on disk, flushing it (and every record queued with it)
    /// unless another writer is already doing so.
    pub(crate) async fn commit(&self, seq: u64) -> Result<(), String> {
        loop {
            let mut synced = self.synced.subscribe();
            if *synced.borrow_and_update() >= seq {
                return Ok(());
            }
            let batch = {
                let mut pending = self.pending();
                if let Some(why) = &pending.broken {
                    return Err(why.clone());
                }
                if pending.flushing {
                    None
                } else {
                    pending.flushing = true;
                    Some((std::mem::take(&mut pending.bytes), pending.last))
                }
            };
            let Some((bytes, upto)) = batch else {
                // Another writer is flushing; our record may be in its batch.
                let _ = synced.changed().await;
                continue;
            };
            let file = self.file.clone();
            let written = tokio::task::spawn_blocking(move || {
                let mut file = file
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                file.write_all(&bytes)?;
                file.sync_data()
            })
            .await;
            let failure = match written {
                Ok(Ok(())) => None,
                Ok(Err(err)) => Some(err.to_string()),
                Err(err) => Some(err.to_string()),
            };
            {
                let mut pending = self.pending();
                pending.flushing = false;
                if let Some(err) = &failure {
                    pending.broken = Some(format!("cannot write {}: {err}", self.path.display()));
                }
            }
            match failure {
                None => {
                    self.synced.send_replace(upto);
                }
                Some(_) => {
                    // Wake the waiters so they see the failure too.
                    self.synced.send_modify(|_| {});
                }
            }
        }
    }

    /// Empties the journal if nothing was appended after record `upto`, which the state file
    /// now holds. Returns whether it did; if not, a later save will.
    pub(crate) fn truncate_through(&self, upto: u64) -> std::io::Result<bool> {
        let pending = self.pending();
        if pending.last != upto || pending.flushing || !pending.bytes.is_empty() {
            return Ok(false);
        }
        let file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        file.set_len(0)?;
        file.sync_all()?;
        Ok(true)
    }
}

/// Makes a rename or creation in `path`'s directory durable.
pub(crate) fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(parent)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64) -> Record {
        Record {
            seq,
            caller: Some("alice".into()),
            wall: SystemTime::UNIX_EPOCH,
            rng: 7,
            op: Op::Trash {
                fid: format!("alice:{seq}"),
            },
        }
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_a_corrupt_middle_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json.journal");
        let mut good = encode(&record(1));
        good.extend(encode(&record(2)));
        let torn = &encode(&record(3))[..20];
        std::fs::write(&path, [good.as_slice(), torn].concat()).unwrap();
        let read_back = read(&path).unwrap();
        assert_eq!(read_back.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2]);

        let mut flipped = encode(&record(1));
        flipped[30] ^= 1;
        std::fs::write(&path, [flipped, encode(&record(2))].concat()).unwrap();
        let err = read(&path).unwrap_err();
        assert!(err.contains("line 1 is corrupt"), "{err}");
    }

    #[test]
    fn a_bad_checksum_on_the_last_line_is_a_torn_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut last = encode(&record(2));
        last[0] = if last[0] == b'0' { b'1' } else { b'0' };
        std::fs::write(&path, [encode(&record(1)), last].concat()).unwrap();
        assert_eq!(read(&path).unwrap().len(), 1);
        assert!(read(&dir.path().join("missing")).unwrap().is_empty());
    }
}
