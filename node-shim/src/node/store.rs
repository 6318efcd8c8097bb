//! The node's embedded store: one redb database, `<data-dir>/store.redb`.
//!
//! Tables:
//! - `meta` (`&str` → JSON): `rollup` (the origination facts the node bootstrapped from) and
//!   `lcc` (the last cemented commitment seen on L1);
//! - `levels` (`u32` → JSON): one record per processed L1 level ([`LevelRecord`]): its L1 hash,
//!   predecessor, timestamp and protocol, the inbox messages it added, the shared Merkleized
//!   inbox after it (octez's `Inbox.t`, checked against the L1's before publishing) and the
//!   PVM's results;
//! - `commitments` (commitment hash → JSON): every commitment the node computed;
//! - `tree_nodes` (33-byte key → record): the state trees after each level, as content-addressed
//!   records shared by every level ([`soru_core::tree::store`]): a level adds the nodes it
//!   changed (small nodes inline in their parent's record). `meta/tree_format` says which
//!   record format they use; records of another format are dropped on open;
//! - `outbox_levels` (`u32` → `u32`): the levels whose outbox holds messages, with how many
//!   (an index of `levels`, so `/local/outbox/pending` does not read every level);
//! - `executed_outputs` (outbox level → JSON `[[index, l1_level], ...]`): the outbox messages an
//!   applied `smart_rollup_execute_outbox_message` of an L1 block executed, and at which level
//!   (octez's `outbox_messages.executed_messages`).
//!
//! A level is stored in one write transaction with its commitment and its state's new nodes (a
//! catching-up node writes a batch of levels per transaction, [`Store::put_levels`]), so a
//! `kill -9` at any point leaves either the whole level (batch) or none of it. On restart the
//! node loads the last level's state (every record checked against its hash, the root against
//! the level's state hash) and goes on from there; a store without trees, or with trees in
//! another record format, is rebuilt by re-running the stored inboxes.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;

use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde_json::{json, Value};
use soru_core::commitment::{Commitment, StateHash};
use soru_core::inbox::Inbox;
use soru_core::tree::store::{children, node_key, save, Loader, RecordKey, SaveError, SaveStats};
use soru_core::tree::Tree;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const LEVELS: TableDefinition<u32, &[u8]> = TableDefinition::new("levels");
const COMMITMENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("commitments");
const NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tree_nodes");
const OUTBOX_LEVELS: TableDefinition<u32, u32> = TableDefinition::new("outbox_levels");
const EXECUTED: TableDefinition<u32, &[u8]> = TableDefinition::new("executed_outputs");

/// The `meta` key set once `outbox_levels` indexes every stored level.
const OUTBOX_INDEX: &str = "outbox_index";

/// The `meta` key holding the format of `tree_nodes`.
const TREE_FORMAT: &str = "tree_format";

/// The store file inside the data directory.
pub const STORE_FILE: &str = "store.redb";

/// A store failure: the database, or a record that does not decode (names which).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("store {STORE_FILE}: {0}")]
    Db(Box<redb::Error>),
    /// A record is malformed.
    #[error("store {STORE_FILE}: record {0} is malformed: {1}")]
    Record(String, String),
    /// Another process (a running `soru-node`) has the database open.
    #[error(
        "store {STORE_FILE} in {0}: the store is in use by a running soru-node; stop it first"
    )]
    InUse(String),
    /// A state tree could not be loaded (a node is missing or damaged).
    #[error("store {STORE_FILE}: state {state}: {reason}")]
    State {
        /// The state hash (`srs1...`).
        state: String,
        /// What is wrong.
        reason: String,
    },
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> StoreError {
                StoreError::Db(Box::new(e.into()))
            }
        }
    )*};
}
db_err!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// What the node stores about one L1 level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevelRecord {
    /// The L1 level.
    pub level: u32,
    /// The L1 block hash (`B...`).
    pub hash: String,
    /// The L1 predecessor hash.
    pub predecessor: String,
    /// The L1 block's timestamp (seconds).
    pub timestamp: i64,
    /// The serialized inbox messages between `Info_per_level` and `End_of_level`: on the
    /// first level of a protocol its `Protocol_migration`, then the block's messages.
    pub messages: Vec<Vec<u8>>,
    /// The state hash after the level (`srs1...`).
    pub state_hash: String,
    /// Ticks the level took.
    pub ticks: u128,
    /// Ticks since origination after the level.
    pub total_ticks: u128,
    /// The PVM status, in octez's words.
    pub status: String,
    /// The outbox messages the level wrote (serialized).
    pub outbox: Vec<Vec<u8>>,
    /// The commitment computed at this level, if it is a commitment level.
    pub commitment: Option<String>,
    /// The protocol of the L1 block (`P...`), when known (not in stores from before it).
    pub protocol: Option<String>,
    /// The shared inbox after the level as the node rebuilt it (`None` only in a store from
    /// before it, until the follower fills it in on start).
    pub inbox: Option<Inbox>,
}

/// The byte strings as a JSON array of hex strings.
fn hexes(v: &[Vec<u8>]) -> Value {
    Value::Array(
        v.iter()
            .map(|m| Value::String(crate::hex_text::encode(m)))
            .collect(),
    )
}

impl LevelRecord {
    /// The record as stored.
    pub fn to_json(&self) -> Value {
        json!({
            "level": self.level,
            "hash": self.hash,
            "predecessor": self.predecessor,
            "timestamp": self.timestamp,
            "messages": hexes(&self.messages),
            "state_hash": self.state_hash,
            "ticks": self.ticks.to_string(),
            "total_ticks": self.total_ticks.to_string(),
            "status": self.status,
            "outbox": hexes(&self.outbox),
            "commitment": self.commitment,
            "protocol": self.protocol,
            "inbox": self.inbox.as_ref().map(Inbox::to_json),
        })
    }

    /// Reads a stored record.
    pub fn from_json(v: &Value) -> Result<LevelRecord, String> {
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("field `{k}`"))
        };
        let n = |k: &str| s(k)?.parse::<u128>().map_err(|_| format!("field `{k}`"));
        let list = |k: &str| -> Result<Vec<Vec<u8>>, String> {
            v.get(k)
                .and_then(Value::as_array)
                .ok_or_else(|| format!("field `{k}`"))?
                .iter()
                .map(|m| {
                    m.as_str()
                        .and_then(|h| hex::decode(h).ok())
                        .ok_or_else(|| format!("field `{k}`"))
                })
                .collect()
        };
        Ok(LevelRecord {
            level: v
                .get("level")
                .and_then(Value::as_u64)
                .and_then(|l| u32::try_from(l).ok())
                .ok_or("field `level`")?,
            hash: s("hash")?,
            predecessor: s("predecessor")?,
            timestamp: v
                .get("timestamp")
                .and_then(Value::as_i64)
                .ok_or("field `timestamp`")?,
            messages: list("messages")?,
            state_hash: s("state_hash")?,
            ticks: n("ticks")?,
            total_ticks: n("total_ticks")?,
            status: s("status")?,
            outbox: list("outbox")?,
            commitment: v
                .get("commitment")
                .and_then(Value::as_str)
                .map(str::to_string),
            protocol: v
                .get("protocol")
                .and_then(Value::as_str)
                .map(str::to_string),
            inbox: match v.get("inbox") {
                None | Some(Value::Null) => None,
                Some(i) => Some(Inbox::from_json(i).map_err(|e| format!("field `inbox`: {e}"))?),
            },
        })
    }
}

/// One processed level to store ([`Store::put_levels`]).
#[derive(Clone, Copy)]
pub struct LevelWrite<'a> {
    /// The level's record.
    pub record: &'a LevelRecord,
    /// Its commitment (hash, commitment), on a commitment level.
    pub commitment: Option<(&'a str, &'a Commitment)>,
    /// The state tree after the level (only the records the store lacks are written).
    pub state: &'a Tree,
    /// The outbox messages (outbox level, index) the level's L1 block executed.
    pub executed: &'a [(u32, u64)],
}

/// The node's database.
pub struct Store {
    db: Database,
    /// `tree_nodes` keys known to be committed (see [`StoredKeys`]). Every write transaction
    /// on `tree_nodes` holds this lock from its start until the set is brought up to date, so
    /// the set never names a record another transaction has deleted.
    stored: Mutex<StoredKeys>,
}

/// Keys of `tree_nodes` records known to be in the committed database, so saving a level's
/// state asks the database only about large subtrees it has not seen stored yet (the same
/// unchanged siblings along the changed paths, level after level). Bounded: emptied when it
/// reaches [`StoredKeys::MAX`] keys (about 4 MiB); emptied by a garbage collection, which
/// deletes records.
#[derive(Default)]
struct StoredKeys {
    keys: HashSet<RecordKey>,
}

impl StoredKeys {
    /// Most keys remembered.
    const MAX: usize = 1 << 16;

    /// Remembers the keys a committed transaction wrote or found stored.
    fn add(&mut self, keys: impl IntoIterator<Item = RecordKey>) {
        for k in keys {
            if self.keys.len() >= Self::MAX {
                self.keys.clear();
            }
            self.keys.insert(k);
        }
    }
}

/// Saves `state`'s records missing from `nodes`; `known` are keys known to be stored. The keys
/// written or found stored are added to `seen`, for the caller to remember once the
/// transaction has committed.
fn save_tree(
    nodes: &mut redb::Table<&[u8], &[u8]>,
    state: &Tree,
    known: &StoredKeys,
    seen: &mut Vec<RecordKey>,
) -> Result<SaveStats, StoreError> {
    let nodes = std::cell::RefCell::new(nodes);
    let seen = std::cell::RefCell::new(seen);
    save::<redb::StorageError>(
        state,
        &mut |k| {
            if known.keys.contains(k) {
                return Ok(true);
            }
            let found = nodes.borrow().get(&k[..])?.is_some();
            if found {
                seen.borrow_mut().push(*k);
            }
            Ok(found)
        },
        &mut |k, v| {
            nodes.borrow_mut().insert(&k[..], v)?;
            seen.borrow_mut().push(*k);
            Ok(())
        },
    )
    .map_err(|e| match e {
        SaveError::Store(e) => StoreError::from(e),
        SaveError::Blinded(_) => StoreError::Record("tree_nodes".into(), e.to_string()),
    })
}

/// An `executed_outputs` record: (message index, L1 level of the execution) pairs.
fn executions_of(bytes: &[u8], level: u32) -> Result<Vec<(u64, u32)>, StoreError> {
    let what = format!("executed_outputs/{level}");
    serde_json::from_slice(bytes).map_err(|e| StoreError::Record(what, e.to_string()))
}

fn json_of(bytes: &[u8], what: &str) -> Result<Value, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Record(what.to_string(), e.to_string()))
}

impl Store {
    /// Opens (or creates) `<dir>/store.redb`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let db = Database::create(dir.join(STORE_FILE)).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                StoreError::InUse(dir.display().to_string())
            }
            e => StoreError::from(e),
        })?;
        let tx = db.begin_write()?;
        tx.open_table(META)?;
        tx.open_table(LEVELS)?;
        tx.open_table(COMMITMENTS)?;
        tx.open_table(NODES)?;
        tx.open_table(EXECUTED)?;
        let fresh = tx.open_table(LEVELS)?.is_empty()?;
        let format = json!(soru_core::tree::store::FORMAT_VERSION).to_string();
        let stored_format = tx
            .open_table(META)?
            .get(TREE_FORMAT)?
            .map(|v| v.value().to_vec());
        if stored_format.is_some_and(|f| f != format.as_bytes()) {
            // Tree records of another format would be misread: drop them. `keeps_states` is
            // false until the follower has re-run the stored levels and saved their states.
            tx.delete_table(NODES)?;
            tx.open_table(NODES)?;
        }
        if fresh {
            let mut meta = tx.open_table(META)?;
            meta.insert(TREE_FORMAT, format.as_bytes())?;
        }
        // A store from before `outbox_levels`: index its levels once.
        let indexed = tx.open_table(META)?.get(OUTBOX_INDEX)?.is_some();
        if !indexed {
            let levels = tx.open_table(LEVELS)?;
            let mut index = tx.open_table(OUTBOX_LEVELS)?;
            for entry in levels.iter()? {
                let (k, v) = entry?;
                let what = format!("levels/{}", k.value());
                let r = LevelRecord::from_json(&json_of(v.value(), &what)?)
                    .map_err(|m| StoreError::Record(what, m))?;
                if !r.outbox.is_empty() {
                    index.insert(r.level, r.outbox.len() as u32)?;
                }
            }
            tx.open_table(META)?
                .insert(OUTBOX_INDEX, b"true".as_slice())?;
        }
        tx.commit()?;
        Ok(Store {
            db,
            stored: Mutex::default(),
        })
    }

    /// Whether the store keeps the state tree of every level it holds (`tree_nodes` in the
    /// format this build reads), so a restart loads states instead of re-running levels.
    pub fn keeps_states(&self) -> Result<bool, StoreError> {
        Ok(self.meta(TREE_FORMAT)? == Some(json!(soru_core::tree::store::FORMAT_VERSION)))
    }

    /// Marks the store as keeping every level's state (after [`Store::put_state`] stored all).
    pub fn set_keeps_states(&self) -> Result<(), StoreError> {
        self.set_meta(TREE_FORMAT, &json!(soru_core::tree::store::FORMAT_VERSION))
    }

    /// Stores a state tree's new nodes on its own (a level's are stored by [`Store::put_level`]).
    pub fn put_state(&self, state: &Tree) -> Result<SaveStats, StoreError> {
        let mut stored = self.stored.lock().expect("stored keys lock");
        let mut seen = Vec::new();
        let tx = self.db.begin_write()?;
        let stats = {
            let mut t = tx.open_table(NODES)?;
            save_tree(&mut t, state, &stored, &mut seen)?
        };
        tx.commit()?;
        stored.add(seen);
        Ok(stats)
    }

    /// Deletes the state records that none of the states `keep` (`srs1...`) needs: the
    /// history mode `full`'s garbage collection. One transaction; returns how many records
    /// were deleted and how many are kept.
    pub fn gc_states(&self, keep: &[&str]) -> Result<(u64, u64), StoreError> {
        let mut stored = self.stored.lock().expect("stored keys lock");
        // Forgotten first: whether or not the deletion commits, no remembered key may name a
        // deleted record.
        stored.keys.clear();
        let tx = self.db.begin_write()?;
        let (deleted, kept) = {
            let mut t = tx.open_table(NODES)?;
            let mut live = std::collections::HashSet::new();
            let mut todo = Vec::new();
            for h in keep {
                let root = StateHash::from_b58check(h).map_err(|e| StoreError::State {
                    state: h.to_string(),
                    reason: e.to_string(),
                })?;
                todo.push(node_key(&root.0));
            }
            while let Some(k) = todo.pop() {
                if !live.insert(k) {
                    continue;
                }
                let Some(record) = t.get(&k[..])? else {
                    continue;
                };
                let kids = children(record.value()).ok_or_else(|| {
                    StoreError::Record(
                        format!("tree_nodes/{}", hex::encode(k)),
                        "does not decode".into(),
                    )
                })?;
                todo.extend(kids.into_iter().filter(|c| !live.contains(c)));
            }
            let before = t.len()?;
            t.retain(|k, _| <[u8; 33]>::try_from(k).is_ok_and(|k| live.contains(&k)))?;
            let after = t.len()?;
            (before - after, after)
        };
        tx.commit()?;
        Ok((deleted, kept))
    }

    /// The state tree with hash `state_hash` (`srs1...`), every node checked.
    pub fn state(&self, state_hash: &str) -> Result<Tree, StoreError> {
        self.states(&[state_hash]).map(|mut v| v.remove(0))
    }

    /// The state trees with these hashes, sharing the nodes they have in common.
    pub fn states(&self, state_hashes: &[&str]) -> Result<Vec<Tree>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(NODES)?;
        let mut get = |k: &RecordKey| -> Result<Option<Vec<u8>>, redb::StorageError> {
            Ok(t.get(&k[..])?.map(|v| v.value().to_vec()))
        };
        let mut loader = Loader::new(&mut get);
        let mut out = Vec::with_capacity(state_hashes.len());
        for h in state_hashes {
            let bad = |reason: String| StoreError::State {
                state: h.to_string(),
                reason,
            };
            let root = StateHash::from_b58check(h).map_err(|e| bad(e.to_string()))?;
            out.push(loader.load(&root.0).map_err(|e| bad(e.to_string()))?);
        }
        Ok(out)
    }

    /// A `meta` entry.
    pub fn meta(&self, key: &str) -> Result<Option<Value>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(META)?;
        let v = t.get(key)?;
        v.map(|v| json_of(v.value(), &format!("meta/{key}")))
            .transpose()
    }

    /// Sets a `meta` entry.
    pub fn set_meta(&self, key: &str, value: &Value) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(META)?;
            t.insert(key, value.to_string().as_bytes())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores a processed level, its state tree's new nodes and, if it has one, its
    /// commitment, in one transaction.
    pub fn put_level(
        &self,
        record: &LevelRecord,
        commitment: Option<(&str, &Commitment)>,
        state: &Tree,
    ) -> Result<SaveStats, StoreError> {
        self.put_level_executing(record, commitment, state, &[])
    }

    /// [`Store::put_level`], also recording the outbox messages (outbox level, index) the
    /// level's L1 block executed, in the same transaction.
    pub fn put_level_executing(
        &self,
        record: &LevelRecord,
        commitment: Option<(&str, &Commitment)>,
        state: &Tree,
        executed: &[(u32, u64)],
    ) -> Result<SaveStats, StoreError> {
        self.put_levels(&[LevelWrite {
            record,
            commitment,
            state,
            executed,
        }])
    }

    /// Stores consecutive processed levels in one transaction: a catching-up node writes a
    /// batch at a time, so the pages its random-keyed tree records touch are copied and
    /// checksummed once per batch and the database is synced once, not once per level. A
    /// crash keeps all of the batch or none of it. Returns what the states added.
    pub fn put_levels(&self, levels: &[LevelWrite<'_>]) -> Result<SaveStats, StoreError> {
        let mut stored = self.stored.lock().expect("stored keys lock");
        let mut seen = Vec::new();
        let tx = self.db.begin_write()?;
        let mut stats = SaveStats::default();
        {
            let mut index = tx.open_table(OUTBOX_LEVELS)?;
            let mut executions = tx.open_table(EXECUTED)?;
            let mut nodes = tx.open_table(NODES)?;
            let mut records = tx.open_table(LEVELS)?;
            let mut commitments = tx.open_table(COMMITMENTS)?;
            for w in levels {
                let record = w.record;
                if record.outbox.is_empty() {
                    index.remove(record.level)?;
                } else {
                    index.insert(record.level, record.outbox.len() as u32)?;
                }
                for &(outbox_level, message_index) in w.executed {
                    let mut list = match executions.get(outbox_level)? {
                        Some(v) => executions_of(v.value(), outbox_level)?,
                        None => Vec::new(),
                    };
                    if !list.iter().any(|(i, _)| *i == message_index) {
                        list.push((message_index, record.level));
                    }
                    executions.insert(outbox_level, json!(list).to_string().as_bytes())?;
                }
                let added = save_tree(&mut nodes, w.state, &stored, &mut seen)?;
                stats.records += added.records;
                stats.bytes += added.bytes;
                records.insert(record.level, record.to_json().to_string().as_bytes())?;
                if let Some((hash, c)) = w.commitment {
                    let v = json!({"commitment": c.to_json(), "hash": hash});
                    commitments.insert(hash, v.to_string().as_bytes())?;
                }
            }
        }
        tx.commit()?;
        stored.add(seen);
        Ok(stats)
    }

    /// Rewrites stored level records in one transaction (the follower fills in the inboxes of a
    /// store from before them).
    pub fn rewrite_levels(&self, records: &[LevelRecord]) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(LEVELS)?;
            for r in records {
                t.insert(r.level, r.to_json().to_string().as_bytes())?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes every level from `from` on (after an L1 reorganisation), with the executions
    /// their blocks recorded, in one transaction.
    pub fn truncate_from(&self, from: u32) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(LEVELS)?;
            t.retain(|level, _| level < from)?;
            tx.open_table(OUTBOX_LEVELS)?
                .retain(|level, _| level < from)?;
            let mut t = tx.open_table(EXECUTED)?;
            let mut changed = Vec::new();
            for entry in t.iter()? {
                let (k, v) = entry?;
                let list = executions_of(v.value(), k.value())?;
                if list.iter().any(|(_, at)| *at >= from) {
                    let kept: Vec<(u64, u32)> =
                        list.into_iter().filter(|(_, at)| *at < from).collect();
                    changed.push((k.value(), kept));
                }
            }
            for (level, kept) in changed {
                if kept.is_empty() {
                    t.remove(level)?;
                } else {
                    t.insert(level, json!(kept).to_string().as_bytes())?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The levels in `range` whose outbox holds messages, with how many, in order.
    pub fn outbox_levels(
        &self,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<Vec<(u32, u32)>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(OUTBOX_LEVELS)?;
        let mut out = Vec::new();
        for entry in t.range(range)? {
            let (k, v) = entry?;
            out.push((k.value(), v.value()));
        }
        Ok(out)
    }

    /// The indexes of the messages of outbox level `level` an L1 block executed.
    pub fn executed_outputs(&self, level: u32) -> Result<Vec<u64>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(EXECUTED)?;
        let Some(v) = t.get(level)? else {
            return Ok(Vec::new());
        };
        Ok(executions_of(v.value(), level)?
            .into_iter()
            .map(|(i, _)| i)
            .collect())
    }

    /// The stored level `level`.
    pub fn level(&self, level: u32) -> Result<Option<LevelRecord>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(LEVELS)?;
        let Some(v) = t.get(level)? else {
            return Ok(None);
        };
        let what = format!("levels/{level}");
        LevelRecord::from_json(&json_of(v.value(), &what)?)
            .map(Some)
            .map_err(|m| StoreError::Record(what, m))
    }

    /// Every stored level, in order.
    pub fn levels(&self) -> Result<Vec<LevelRecord>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(LEVELS)?;
        let mut out = Vec::with_capacity(t.len()? as usize);
        for entry in t.iter()? {
            let (k, v) = entry?;
            let what = format!("levels/{}", k.value());
            out.push(
                LevelRecord::from_json(&json_of(v.value(), &what)?)
                    .map_err(|m| StoreError::Record(what, m))?,
            );
        }
        Ok(out)
    }

    /// A stored commitment by hash (`src1...`), as `{"commitment": ..., "hash": ...}`.
    pub fn commitment(&self, hash: &str) -> Result<Option<Value>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(COMMITMENTS)?;
        let v = t.get(hash)?;
        v.map(|v| json_of(v.value(), &format!("commitments/{hash}")))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty scratch directory for one test, named after it and this process.
    fn fresh_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("soru-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn record(level: u32) -> LevelRecord {
        LevelRecord {
            level,
            hash: format!("B{level}"),
            predecessor: format!("B{}", level - 1),
            timestamp: 1000 + i64::from(level),
            messages: vec![vec![1, 2], vec![]],
            state_hash: "srs1".into(),
            ticks: 11_000_000_000,
            total_ticks: u128::from(level) * 11_000_000_000,
            status: "Waiting for input message".into(),
            outbox: vec![vec![0xff]],
            commitment: None,
            protocol: (level % 2 == 0).then(|| "PsUshuai".into()),
            inbox: (level % 2 == 0).then(|| {
                let payloads = soru_core::inbox::level_payloads(
                    0,
                    &soru_core::encoding::inbox::BlockHash([level as u8; 32]),
                    None,
                    &[],
                );
                Inbox::genesis(level as i32, &payloads).unwrap()
            }),
        }
    }

    #[test]
    fn levels_round_trip_and_truncate() {
        let dir = fresh_dir("test");
        {
            let s = Store::open(&dir).unwrap();
            for l in 1..=5 {
                s.put_level(&record(l), None, &Tree::empty()).unwrap();
            }
            s.set_meta("rollup", &json!({"x": 1})).unwrap();
        }
        let s = Store::open(&dir).unwrap();
        assert_eq!(s.level(3).unwrap(), Some(record(3)));
        assert_eq!(s.meta("rollup").unwrap(), Some(json!({"x": 1})));
        s.truncate_from(4).unwrap();
        assert_eq!(s.levels().unwrap(), vec![record(1), record(2), record(3)]);
        // A record's inbox is rewritten in place; a malformed one names the field.
        let mut filled = record(3);
        filled.inbox = record(2).inbox;
        s.rewrite_levels(std::slice::from_ref(&filled)).unwrap();
        assert_eq!(s.level(3).unwrap(), Some(filled));
        let mut v = record(2).to_json();
        v["inbox"]["old_levels_messages"]["content"]["hash"] = json!("srib2nope");
        let e = LevelRecord::from_json(&v).unwrap_err();
        assert!(
            e.starts_with("field `inbox`: inbox JSON, field old_levels_messages.content.hash"),
            "{e}"
        );
        drop(s);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn outbox_index_and_executions_follow_levels_and_reorgs() {
        let dir = fresh_dir("exec");
        let s = Store::open(&dir).unwrap();
        let mut r = record(1);
        r.outbox = vec![vec![1], vec![2], vec![3]];
        s.put_level(&r, None, &Tree::empty()).unwrap();
        let mut empty = record(2);
        empty.outbox.clear();
        s.put_level(&empty, None, &Tree::empty()).unwrap();
        s.put_level_executing(&record(3), None, &Tree::empty(), &[(1, 2)])
            .unwrap();
        s.put_level_executing(&record(4), None, &Tree::empty(), &[(1, 0), (1, 2)])
            .unwrap();
        assert_eq!(
            s.outbox_levels(0..=10).unwrap(),
            vec![(1, 3), (3, 1), (4, 1)]
        );
        assert_eq!(s.outbox_levels(2..=3).unwrap(), vec![(3, 1)]);
        assert_eq!(s.executed_outputs(1).unwrap(), vec![2, 0]);
        // A reorganisation drops level 4, and the execution its block held.
        s.truncate_from(4).unwrap();
        assert_eq!(s.executed_outputs(1).unwrap(), vec![2]);
        assert_eq!(s.outbox_levels(0..=10).unwrap(), vec![(1, 3), (3, 1)]);
        drop(s);
        // Reopening keeps the index (it is not rebuilt from an empty table).
        let s = Store::open(&dir).unwrap();
        assert_eq!(s.outbox_levels(0..=10).unwrap(), vec![(1, 3), (3, 1)]);
        drop(s);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_batch_of_levels_is_one_transaction_that_sees_its_own_writes() {
        let dir = fresh_dir("batch");
        let s = Store::open(&dir).unwrap();
        let mut state = Tree::empty();
        // Large enough to be a record of its own (small nodes are inline in their parent's).
        let shared = vec![7u8; soru_core::tree::store::INLINE_MAX + 1];
        state.set_value(&[b"a"], &shared).unwrap();
        let mut next = state.clone();
        next.set_value(&[b"b"], b"new").unwrap();
        let (r1, r2) = (record(1), record(2));
        let batch = [
            LevelWrite {
                record: &r1,
                commitment: None,
                state: &state,
                executed: &[(1, 4)],
            },
            LevelWrite {
                record: &r2,
                commitment: None,
                state: &next,
                executed: &[(1, 4), (1, 7)],
            },
        ];
        let stats = s.put_levels(&batch).unwrap();
        // The second state adds only its root record (with `b` inline): `a` is written once.
        let alone = {
            let dir2 = dir.join("alone");
            std::fs::create_dir_all(&dir2).unwrap();
            Store::open(&dir2).unwrap().put_state(&state).unwrap()
        };
        assert_eq!(alone.records, 2);
        assert_eq!(stats.records, alone.records + 1);
        assert_eq!(s.levels().unwrap(), vec![r1, r2]);
        // The second level's executions extend the first's, each message once, at its level.
        assert_eq!(s.executed_outputs(1).unwrap(), vec![4, 7]);
        assert_eq!(
            s.state(&soru_core::commitment::StateHash(next.hash()).to_b58check())
                .unwrap()
                .hash(),
            next.hash()
        );
        drop(s);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_record_garbage_collected_is_written_again_when_a_later_state_needs_it() {
        let dir = fresh_dir("gc");
        let s = Store::open(&dir).unwrap();
        let b58 = |t: &Tree| soru_core::commitment::StateHash(t.hash()).to_b58check();
        // `big` is a record of its own, so saving `first` remembers its key.
        let big = vec![7u8; soru_core::tree::store::INLINE_MAX + 1];
        let mut first = Tree::empty();
        first.set_value(&[b"a"], &big).unwrap();
        s.put_state(&first).unwrap();
        // Saving `first` again asks nothing of the database and writes nothing.
        assert_eq!(s.put_state(&first).unwrap(), SaveStats::default());
        let mut other = Tree::empty();
        other.set_value(&[b"b"], b"x").unwrap();
        s.put_state(&other).unwrap();
        // The collection keeps only `other`: `big`'s record goes, and must be forgotten.
        let (deleted, _) = s.gc_states(&[&b58(&other)]).unwrap();
        assert!(deleted >= 2, "{deleted}");
        let mut again = other.clone();
        again.set_value(&[b"a"], &big).unwrap();
        let stats = s.put_state(&again).unwrap();
        assert_eq!(stats.records, 2, "the root and `big` again");
        assert_eq!(s.state(&b58(&again)).unwrap().hash(), again.hash());
        drop(s);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tree_records_of_another_format_are_dropped_on_open() {
        let dir = fresh_dir("format");
        let mut state = Tree::empty();
        state.set_value(&[b"a"], b"x").unwrap();
        let hash = soru_core::commitment::StateHash(state.hash()).to_b58check();
        {
            let s = Store::open(&dir).unwrap();
            s.put_level(&record(1), None, &state).unwrap();
            assert!(s.keeps_states().unwrap());
            // As written by a build with the previous record format.
            s.set_meta(TREE_FORMAT, &json!(1)).unwrap();
        }
        let s = Store::open(&dir).unwrap();
        assert!(!s.keeps_states().unwrap());
        assert!(s.state(&hash).is_err(), "old records are gone");
        assert_eq!(s.levels().unwrap(), vec![record(1)], "levels are kept");
        // What the follower does next: re-run the levels, save their states, mark the store.
        s.put_state(&state).unwrap();
        s.set_keeps_states().unwrap();
        assert_eq!(s.state(&hash).unwrap().hash(), state.hash());
        drop(s);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
