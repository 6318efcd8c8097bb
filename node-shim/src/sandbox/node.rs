//! The sandbox node: the [`Ledger`], the blocks and the shared inbox after each block kept in a
//! redb database, the mempool, and block production. Each block is written in one redb write
//! transaction (its record, the inbox after it, every ledger entry it changed and the head), so
//! a crash leaves either the whole block or none of it.
//!
//! Each block also records what it changed (the previous value of every ledger entry
//! it wrote), for the last [`REORG_DEPTH`] blocks, so the head can be taken back
//! ([`Node::reorganise`]) and the chain continued on another branch, as an L1 reorganisation
//! of unfinalised blocks looks to its clients.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as J};
use soru_core::encoding::base58;
use soru_core::encoding::inbox::timestamp_to_json;
use soru_core::encoding::keys::SecretKey;
use soru_core::encoding::operation::{BlockHash, Operation, OperationHash};
use soru_core::inbox::Inbox;

use super::protocol::{
    block_hash, chain_id_b58, inbox as shared_inbox, Block, BlockContext, Constants, Ledger, Mode,
    Table, PROTOCOL_HASH,
};

const BLOCKS: TableDefinition<u64, &str> = TableDefinition::new("blocks");
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
/// The shared inbox after each block, by level, in its binary form ([`Inbox::encode`]).
const INBOXES: TableDefinition<u64, &[u8]> = TableDefinition::new("inboxes");

/// What each of the last [`REORG_DEPTH`] blocks changed, by level (an `Undo` as JSON).
const UNDO: TableDefinition<u64, &str> = TableDefinition::new("undo");

/// How many of the latest blocks [`Node::reorganise`] can take back.
pub const REORG_DEPTH: u32 = 32;

/// The ledger as it was before a block: what taking the block back restores.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Undo {
    /// The ledger's `next_big_map` before the block.
    next_big_map: String,
    /// Each entry the block wrote: its table, its key and its previous JSON (`None`: absent).
    entries: Vec<(String, String, Option<String>)>,
}

/// Sets a ledger entry's stored JSON (`None`: removes the entry).
fn write_entry(
    table: &mut redb::Table<&str, &str>,
    key: &str,
    json: Option<&str>,
) -> Result<(), redb::StorageError> {
    match json {
        Some(v) => table.insert(key, v).map(drop),
        None => table.remove(key).map(drop),
    }
}

fn ledger_table(t: Table) -> TableDefinition<'static, &'static str, &'static str> {
    TableDefinition::new(t.name())
}

/// Mutez each bootstrap account starts with (4,000,000 tez, as octez's sandbox).
pub const BOOTSTRAP_BALANCE: u64 = 4_000_000_000_000;

/// `D/config.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Default `--rpc-addr`.
    pub rpc_addr: String,
    /// Default seconds between blocks.
    pub block_time: f64,
    /// The chain's constants.
    pub constants: Constants,
}

/// One entry of `D/wallet.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WalletEntry {
    /// `bootstrap1`, ...
    pub name: String,
    /// `tz1…`.
    pub address: String,
    /// `edpk…`.
    pub public_key: String,
    /// `edsk…` (Taquito's `InMemorySigner` takes it).
    pub secret_key: String,
}

/// Why the sandbox could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A file of the data directory.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The database.
    #[error("database {path}: {message}")]
    Db {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The shared inbox could not be extended or rebuilt.
    #[error(transparent)]
    Inbox(#[from] shared_inbox::SharedInboxError),
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> NodeError {
    NodeError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn random_seed() -> Result<[u8; 32], std::io::Error> {
    use std::io::Read;
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
    Ok(seed)
}

/// `soru sandbox init`: writes `D/config.json`, `D/wallet.json` (`accounts` fresh Ed25519
/// keys) and the database with the genesis block funding them.
pub fn init(
    dir: &Path,
    accounts: usize,
    config: &Config,
    now: i64,
) -> Result<Vec<WalletEntry>, NodeError> {
    std::fs::create_dir_all(dir).map_err(|e| file_err(dir, e))?;
    let db_path = dir.join("sandbox.redb");
    if db_path.exists() {
        return Err(file_err(
            &db_path,
            "already exists: this directory holds a sandbox (remove it to start over)",
        ));
    }
    let mut wallet = Vec::new();
    for i in 1..=accounts {
        let seed = random_seed().map_err(|e| file_err(Path::new("/dev/urandom"), e))?;
        let sk = SecretKey::from_seed(&seed);
        let pk = sk.public_key();
        wallet.push(WalletEntry {
            name: format!("bootstrap{i}"),
            address: pk.hash().to_b58check(),
            public_key: pk.to_b58check(),
            secret_key: sk.to_b58check(),
        });
    }
    let write = |name: &str, v: &dyn erased::Json| -> Result<(), NodeError> {
        let p = dir.join(name);
        std::fs::write(&p, v.pretty()).map_err(|e| file_err(&p, e))
    };
    write("config.json", config)?;
    write("wallet.json", &wallet)?;
    let bootstrap: Vec<(String, String, u64)> = wallet
        .iter()
        .map(|w| (w.address.clone(), w.public_key.clone(), BOOTSTRAP_BALANCE))
        .collect();
    let mut ledger = Ledger::genesis(config.constants.clone(), &bootstrap);
    let hash = block_hash(0, &BlockHash([0; 32]), now, &[], &[0; 32]);
    let genesis = Block {
        level: 0,
        hash: hash.to_b58check(),
        predecessor: hash.to_b58check(),
        timestamp: now,
        operations: vec![],
        inbox: vec![],
    };
    let inbox = shared_inbox::genesis(&genesis)?;
    let db = Database::create(&db_path).map_err(|e| db_err(&db_path, e))?;
    let dirty = ledger.take_dirty();
    commit(&db, &db_path, &ledger, &dirty, &genesis, &inbox, None)?;
    Ok(wallet)
}

mod erased {
    /// Pretty JSON of any serializable value (for the files `init` writes).
    pub(super) trait Json {
        fn pretty(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn pretty(&self) -> String {
            serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
        }
    }
}

fn db_err(path: &Path, e: impl std::fmt::Display) -> NodeError {
    NodeError::Db {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Writes a block, the shared inbox after it and the ledger entries it changed in one
/// transaction.
fn commit(
    db: &Database,
    path: &Path,
    ledger: &Ledger,
    dirty: &std::collections::BTreeSet<(Table, String)>,
    block: &Block,
    inbox: &Inbox,
    undo: Option<&Undo>,
) -> Result<(), NodeError> {
    let e = |e: &dyn std::fmt::Display| db_err(path, e);
    let tx = db.begin_write().map_err(|x| e(&x))?;
    {
        let mut undos = tx.open_table(UNDO).map_err(|x| e(&x))?;
        if let Some(undo) = undo {
            let json = serde_json::to_string(undo).map_err(|x| e(&x))?;
            undos
                .insert(u64::from(block.level), json.as_str())
                .map_err(|x| e(&x))?;
        }
        if let Some(old) = block.level.checked_sub(REORG_DEPTH) {
            undos.remove(u64::from(old)).map_err(|x| e(&x))?;
        }
        for t in Table::ALL {
            let mut table = tx.open_table(ledger_table(t)).map_err(|x| e(&x))?;
            for (_, key) in dirty.iter().filter(|(tt, _)| *tt == t) {
                write_entry(&mut table, key, ledger.entry_json(t, key).as_deref())
                    .map_err(|x| e(&x))?;
            }
        }
        let mut blocks = tx.open_table(BLOCKS).map_err(|x| e(&x))?;
        let json = serde_json::to_string(block).map_err(|x| e(&x))?;
        blocks
            .insert(u64::from(block.level), json.as_str())
            .map_err(|x| e(&x))?;
        let mut inboxes = tx.open_table(INBOXES).map_err(|x| e(&x))?;
        inboxes
            .insert(u64::from(block.level), inbox.encode().as_slice())
            .map_err(|x| e(&x))?;
        let mut meta = tx.open_table(META).map_err(|x| e(&x))?;
        let next = ledger.next_big_map.to_string();
        meta.insert("next_big_map", next.as_str())
            .map_err(|x| e(&x))?;
        let constants = serde_json::to_string(&ledger.constants).map_err(|x| e(&x))?;
        meta.insert("constants", constants.as_str())
            .map_err(|x| e(&x))?;
    }
    tx.commit().map_err(|x| e(&x))?;
    Ok(())
}

/// A pending operation.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The decoded operation.
    pub op: Operation,
    /// Its signed bytes.
    pub bytes: Vec<u8>,
    /// Its hash.
    pub hash: OperationHash,
}

/// The running sandbox.
pub struct Node {
    db: Database,
    db_path: PathBuf,
    /// State after the head block.
    pub ledger: Ledger,
    /// State after the head and the mempool (what new operations are checked against).
    pub pending: Ledger,
    /// Every block, by level.
    pub blocks: Vec<Block>,
    /// The shared inbox after each block, by level (`inboxes[l]` has level `l`).
    pub inboxes: Vec<Inbox>,
    /// Operations waiting for the next block.
    pub mempool: Vec<Pending>,
    /// The chain id.
    pub chain_id: [u8; 4],
    /// The hash (`o...`) of every operation in a block, so an injection is checked against
    /// them in constant time.
    included: HashSet<String>,
}

/// The hashes of the operations in `blocks`.
fn included_hashes(blocks: &[Block]) -> HashSet<String> {
    blocks
        .iter()
        .flat_map(|b| &b.operations)
        .filter_map(|o| o["hash"].as_str().map(str::to_string))
        .collect()
}

/// The ledger stored in `tx`'s database (at `path`).
fn read_ledger(tx: &redb::ReadTransaction, path: &Path) -> Result<Ledger, NodeError> {
    let e = |x: &dyn std::fmt::Display| db_err(path, x);
    let meta = tx.open_table(META).map_err(|x| e(&x))?;
    let get = |k: &str| -> Result<String, NodeError> {
        Ok(meta
            .get(k)
            .map_err(|x| e(&x))?
            .map(|v| v.value().to_string())
            .unwrap_or_default())
    };
    let constants: Constants = serde_json::from_str(&get("constants")?).map_err(|x| e(&x))?;
    let mut ledger = Ledger {
        constants,
        next_big_map: get("next_big_map")?.parse().unwrap_or(0),
        ..Ledger::default()
    };
    for t in Table::ALL {
        let table = tx.open_table(ledger_table(t)).map_err(|x| e(&x))?;
        for row in table.iter().map_err(|x| e(&x))? {
            let (k, v) = row.map_err(|x| e(&x))?;
            ledger
                .load_entry(t, k.value().to_string(), v.value())
                .map_err(|x| e(&x))?;
        }
    }
    Ok(ledger)
}

impl Node {
    /// Opens the sandbox of a data directory made by [`init`].
    pub fn open(dir: &Path) -> Result<Node, NodeError> {
        let db_path = dir.join("sandbox.redb");
        if !db_path.exists() {
            return Err(file_err(
                &db_path,
                "no sandbox here: run `soru sandbox init --data-dir` first",
            ));
        }
        let db = Database::open(&db_path).map_err(|e| db_err(&db_path, e))?;
        let e = |x: &dyn std::fmt::Display| db_err(&db_path, x);
        let tx = db.begin_read().map_err(|x| e(&x))?;
        let ledger = read_ledger(&tx, &db_path)?;
        let mut blocks = Vec::new();
        let table = tx.open_table(BLOCKS).map_err(|x| e(&x))?;
        for row in table.iter().map_err(|x| e(&x))? {
            let (k, v) = row.map_err(|x| e(&x))?;
            let b: Block = serde_json::from_str(v.value()).map_err(|x| e(&x))?;
            if u64::from(b.level) != k.value() || b.level as usize != blocks.len() {
                return Err(e(&format!("block {} is stored at {}", b.level, k.value())));
            }
            blocks.push(b);
        }
        if blocks.is_empty() {
            return Err(e(&"no genesis block"));
        }
        drop(table);
        // The stored inboxes must be the ones the blocks give; a database from before the
        // table gets them written once.
        let inboxes = shared_inbox::rebuild(&blocks)?;
        let mut missing = Vec::new();
        match tx.open_table(INBOXES) {
            Ok(table) => {
                for (level, inbox) in inboxes.iter().enumerate() {
                    let Some(stored) = table.get(level as u64).map_err(|x| e(&x))? else {
                        missing.push(level);
                        continue;
                    };
                    let stored = Inbox::decode(stored.value()).map_err(|x| {
                        e(&format!(
                            "the stored inbox of level {level} does not decode: {x}"
                        ))
                    })?;
                    if &stored != inbox {
                        return Err(e(&format!(
                            "the stored inbox of level {level} is {}, its blocks give {}",
                            stored.hash(),
                            inbox.hash()
                        )));
                    }
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => missing.extend(0..inboxes.len()),
            Err(x) => return Err(e(&x)),
        }
        drop(tx);
        if !missing.is_empty() {
            let tx = db.begin_write().map_err(|x| e(&x))?;
            {
                let mut table = tx.open_table(INBOXES).map_err(|x| e(&x))?;
                for level in missing {
                    table
                        .insert(level as u64, inboxes[level].encode().as_slice())
                        .map_err(|x| e(&x))?;
                }
            }
            tx.commit().map_err(|x| e(&x))?;
        }
        let chain_id = chain_id_of(&blocks[0].hash);
        Ok(Node {
            db,
            db_path,
            pending: ledger.clone(),
            ledger,
            included: included_hashes(&blocks),
            blocks,
            inboxes,
            mempool: Vec::new(),
            chain_id,
        })
    }

    /// The shared inbox after block `b` (octez's `context/smart_rollups/all/inbox` at `b`).
    pub fn inbox_after(&self, b: &Block) -> Option<&Inbox> {
        self.inboxes.get(b.level as usize)
    }

    /// The head block.
    pub fn head(&self) -> &Block {
        self.blocks
            .last()
            .expect("open checks there is a genesis block")
    }

    /// The context of the next block (for simulation and the mempool).
    pub fn next_context(&self, now: i64) -> BlockContext {
        BlockContext {
            level: self.head().level + 1,
            timestamp: now.max(self.head().timestamp + 1),
            chain_id: self.chain_id,
        }
    }

    /// Checks and queues a signed operation; returns its hash or octez errors.
    pub fn inject(&mut self, bytes: Vec<u8>, now: i64) -> Result<OperationHash, Vec<J>> {
        let op = Operation::decode_signed(&bytes).map_err(|e| {
            vec![
                json!({"kind": "permanent", "id": "node.prevalidation.parse_error",
                        "message": format!("the operation does not decode: {e}")}),
            ]
        })?;
        if op.encode() != bytes {
            return Err(vec![
                json!({"kind": "permanent", "id": "node.prevalidation.parse_error",
                "message": "the operation is not in canonical binary form"}),
            ]);
        }
        let hash = op.hash();
        if self.mempool.iter().any(|p| p.hash == hash)
            || self.included.contains(&hash.to_b58check())
        {
            return Err(vec![
                json!({"kind": "temporary", "id": "prevalidation.operation_duplicated",
                "operation": hash.to_b58check()}),
            ]);
        }
        self.pending.validate(&op, bytes.len(), Mode::Apply)?;
        let ctx = self.next_context(now);
        let _ = self.pending.apply(&op, &ctx);
        self.pending.level_messages.clear();
        self.mempool.push(Pending { op, bytes, hash });
        Ok(hash)
    }

    /// Simulates an operation on the pending state: the contents with receipts, or the
    /// validation errors.
    pub fn simulate(&self, op: &Operation, mode: Mode, now: i64) -> Result<Vec<J>, Vec<J>> {
        let mut l = self.pending.clone();
        let len = op.encode().len() + if op.signature.is_none() { 64 } else { 0 };
        l.validate(op, len, mode)?;
        Ok(l.apply(op, &self.next_context(now)).contents)
    }

    /// Bakes a block of the mempool at `now` and writes it. Returns the new head.
    pub fn bake(&mut self, now: i64) -> Result<&Block, NodeError> {
        let ctx = self.next_context(now);
        let mut l = self.ledger.clone();
        l.take_dirty();
        let mut ops = Vec::new();
        let mut hashes = Vec::new();
        for p in std::mem::take(&mut self.mempool) {
            if l.validate(&p.op, p.bytes.len(), Mode::Apply).is_err() {
                continue;
            }
            let applied = l.apply(&p.op, &ctx);
            hashes.push(applied.hash);
            ops.push(json!({
                "protocol": PROTOCOL_HASH,
                "chain_id": chain_id_b58(&self.chain_id),
                "hash": applied.hash.to_b58check(),
                "branch": p.op.branch.to_b58check(),
                "contents": applied.contents,
                "signature": p.op.signature.as_ref().map(|s| s.to_b58check(Some(p.op.contents[0].source.kind))),
            }));
        }
        let head = self.head().clone();
        let pred = BlockHash::from_b58check(&head.hash).unwrap_or(BlockHash([0; 32]));
        let inbox = l.close_level(ctx.level, &pred, head.timestamp);
        let shared = shared_inbox::next(
            self.inboxes
                .last()
                .expect("open checks there is a genesis block"),
            ctx.level,
            &inbox,
        )?;
        let dirty = l.take_dirty();
        let context = {
            use blake2::digest::consts::U32;
            use blake2::{Blake2b, Digest};
            let mut h = Blake2b::<U32>::new();
            for (t, k) in &dirty {
                h.update(t.name());
                h.update(k);
                h.update(l.entry_json(*t, k).unwrap_or_default());
            }
            let out: [u8; 32] = h.finalize().into();
            out
        };
        let hash = block_hash(ctx.level, &pred, ctx.timestamp, &hashes, &context);
        let block = Block {
            level: ctx.level,
            hash: hash.to_b58check(),
            predecessor: head.hash.clone(),
            timestamp: ctx.timestamp,
            operations: ops,
            inbox: inbox.iter().map(hex::encode).collect(),
        };
        let undo = Undo {
            next_big_map: self.ledger.next_big_map.to_string(),
            entries: dirty
                .iter()
                .map(|(t, k)| {
                    (
                        t.name().to_string(),
                        k.clone(),
                        self.ledger.entry_json(*t, k),
                    )
                })
                .collect(),
        };
        commit(
            &self.db,
            &self.db_path,
            &l,
            &dirty,
            &block,
            &shared,
            Some(&undo),
        )?;
        tracing::info!(level = block.level, hash = %block.hash, operations = block.operations.len(), inbox = %shared.hash(), "baked");
        self.ledger = l;
        self.pending = self.ledger.clone();
        self.included
            .extend(included_hashes(std::slice::from_ref(&block)));
        self.blocks.push(block);
        self.inboxes.push(shared);
        Ok(self.head())
    }

    /// Takes back every block above `level` (at most [`REORG_DEPTH`] of them, never genesis):
    /// their ledger changes are undone, their operations dropped with the mempool, and the next
    /// block is baked at `level + 1` on another branch. One write transaction: a crash leaves
    /// the chain as it was or without those blocks.
    pub fn reorganise(&mut self, level: u32) -> Result<(), NodeError> {
        let head = self.head().level;
        let e = |x: &dyn std::fmt::Display| db_err(&self.db_path, x);
        if level >= head {
            return Err(e(&format!(
                "cannot take back the blocks above level {level}: the head is at level {head}"
            )));
        }
        if head - level > REORG_DEPTH {
            return Err(e(&format!(
                "cannot take back {} blocks (down to level {level}): the sandbox keeps what the last {REORG_DEPTH} changed",
                head - level
            )));
        }
        let tx = self.db.begin_write().map_err(|x| e(&x))?;
        {
            let mut undos = tx.open_table(UNDO).map_err(|x| e(&x))?;
            let mut meta = tx.open_table(META).map_err(|x| e(&x))?;
            let mut blocks = tx.open_table(BLOCKS).map_err(|x| e(&x))?;
            let mut inboxes = tx.open_table(INBOXES).map_err(|x| e(&x))?;
            for l in (level + 1..=head).rev() {
                let undo: Undo = match undos.remove(u64::from(l)).map_err(|x| e(&x))? {
                    Some(v) => serde_json::from_str(v.value()).map_err(|x| {
                        e(&format!(
                            "the undo record of block {l} does not decode: {x}"
                        ))
                    })?,
                    None => return Err(e(&format!("block {l} has no undo record"))),
                };
                for (name, key, previous) in &undo.entries {
                    let Some(t) = Table::ALL.into_iter().find(|t| t.name() == name) else {
                        return Err(e(&format!("block {l}'s undo record names table {name:?}")));
                    };
                    let mut table = tx.open_table(ledger_table(t)).map_err(|x| e(&x))?;
                    write_entry(&mut table, key, previous.as_deref()).map_err(|x| e(&x))?;
                }
                meta.insert("next_big_map", undo.next_big_map.as_str())
                    .map_err(|x| e(&x))?;
                blocks.remove(u64::from(l)).map_err(|x| e(&x))?;
                inboxes.remove(u64::from(l)).map_err(|x| e(&x))?;
            }
        }
        tx.commit().map_err(|x| e(&x))?;
        let tx = self.db.begin_read().map_err(|x| e(&x))?;
        self.ledger = read_ledger(&tx, &self.db_path)?;
        self.pending = self.ledger.clone();
        self.mempool.clear();
        self.blocks.truncate(level as usize + 1);
        self.inboxes.truncate(level as usize + 1);
        self.included = included_hashes(&self.blocks);
        tracing::info!(level, taken_back = head - level, "reorganised");
        Ok(())
    }

    /// Resolves a block id: `head`, `head~N`, `genesis`, a level or a `B…` hash. `head~N`
    /// below genesis is genesis (clients ask `head~2` of a young chain).
    pub fn block(&self, id: &str) -> Option<&Block> {
        let head = self.head().level;
        let level = if id == "head" {
            head
        } else if id == "genesis" {
            0
        } else if let Some(n) = id
            .strip_prefix("head~")
            .or_else(|| id.strip_prefix("head-"))
        {
            head.saturating_sub(n.parse().ok()?)
        } else if let Ok(l) = id.parse::<u32>() {
            l
        } else {
            return self.blocks.iter().find(|b| b.hash == id);
        };
        self.blocks.get(level as usize)
    }

    /// The shell header of a block (octez JSON).
    pub fn header_json(&self, b: &Block) -> J {
        json!({
            "protocol": PROTOCOL_HASH,
            "chain_id": chain_id_b58(&self.chain_id),
            "hash": b.hash,
            "level": b.level,
            "proto": 1,
            "predecessor": b.predecessor,
            "timestamp": timestamp_to_json(b.timestamp),
            "validation_pass": 4,
            "operations_hash": base58::encode(&base58::OPERATION_LIST_LIST_HASH, &[0; 32]),
            "fitness": ["02", format!("{:08x}", b.level), "", "ffffffff", "00000000"],
            "context": base58::encode(&base58::CONTEXT_HASH, &[0; 32]),
            "payload_hash": "vh1g87ZG6scSYxKhspAUzprQVuLAyoa5qMBKcUfjgnQGnFb3dJcG",
            "payload_round": 0,
            "proof_of_work_nonce": "0000000000000000",
            "liquidity_baking_toggle_vote": "pass",
            "adaptive_issuance_vote": "pass",
            "signature": base58::encode(&base58::SIG, &[0; 64]),
        })
    }

    /// A block with its operations and receipts (octez JSON, `?metadata=always`).
    pub fn block_json(&self, b: &Block) -> J {
        let mut header = self.header_json(b);
        if let Some(h) = header.as_object_mut() {
            for k in ["protocol", "chain_id", "hash"] {
                h.remove(k);
            }
        }
        json!({
            "protocol": PROTOCOL_HASH,
            "chain_id": chain_id_b58(&self.chain_id),
            "hash": b.hash,
            "header": header,
            "metadata": {
                "protocol": PROTOCOL_HASH,
                "next_protocol": PROTOCOL_HASH,
                "level_info": {"level": b.level, "level_position": b.level.saturating_sub(1),
                    "cycle": b.level / 8, "cycle_position": b.level % 8, "expected_commitment": false},
                "balance_updates": [],
            },
            "operations": [[], [], [], b.operations],
        })
    }
}

/// octez's chain id of a genesis block: the first 4 bytes of `blake2b_256(hash)`.
fn chain_id_of(genesis_hash: &str) -> [u8; 4] {
    use blake2::digest::consts::U32;
    use blake2::{Blake2b, Digest};
    let raw = BlockHash::from_b58check(genesis_hash)
        .map(|h| h.0)
        .unwrap_or([0; 32]);
    let d: [u8; 32] = Blake2b::<U32>::digest(raw).into();
    [d[0], d[1], d[2], d[3]]
}
