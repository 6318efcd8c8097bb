//! The follower: the thread that tracks the L1, rebuilds each level's inbox, runs the PVM and
//! stores the results. It owns the [`Pvm`]; the RPC server reads what it publishes in
//! [`Shared`] and the [`Store`].
//!
//! Order of work for level `L` (the first is the origination level + 1): fetch block `L` with
//! receipts, check its predecessor is the stored block `L-1` (otherwise the L1 reorganised: the
//! stored level is dropped and the PVM rebuilt), feed `Start_of_level`, `Info_per_level` (the
//! predecessor's timestamp and hash), `Protocol_migration` if `L` is a protocol's first level,
//! the block's messages and `End_of_level`, run the kernel, add the level to the shared
//! Merkleized inbox (which starts from the L1's inbox at the origination level, as octez's node
//! does), compute the commitment on commitment levels, and store it. While the node catches
//! up, a thread (`l1-fetch`) fetches the next blocks and the L1's inboxes of them ahead of the
//! PVM (at most 32 levels), and processed levels are stored in batches (up to 64 levels
//! or 0.5 s of work, each batch one transaction, [`Store::put_levels`]) by another thread
//! (`store-writer`) while the PVM runs the next levels; at the L1 head every level is stored
//! before the node goes on (the operator's duties read the store). The RPC only ever sees
//! stored levels: the head and states are published after their batch is written. A store
//! failure stops the follower. The L1 head is asked for again only once the node has reached
//! the one it knows.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use soru_core::commitment::{Commitment, CommitmentHash, StateHash};
use soru_core::encoding::address::SmartRollupAddress;
use soru_core::encoding::inbox::BlockHash;
use soru_core::pvm::{Pvm, PvmConfig, Status};
use soru_core::tree::Tree;

use soru_core::inbox::Inbox;

use super::inbox;
use super::l1::{parse_rfc3339, BlockFetch, L1Error, Layer1};
use super::operator::{InconsistentInbox, Operator};
use super::store::{LevelRecord, LevelWrite, Store, StoreError};
use crate::preimages::PreimageDir;

/// Why the follower stopped.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The L1 failed in a way retrying does not fix (a malformed answer).
    #[error(transparent)]
    L1(#[from] L1Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The rollup cannot be followed (unknown, not a WASM rollup, kernel rejected, ...).
    #[error("rollup {rollup}: {message}")]
    Rollup {
        /// The rollup address.
        rollup: String,
        /// What is wrong.
        message: String,
    },
    /// A block's inbox could not be rebuilt.
    #[error(transparent)]
    Inbox(#[from] inbox::InboxError),
    /// The shared Merkleized inbox could not be extended.
    #[error(transparent)]
    SharedInbox(#[from] inbox::SharedInboxError),
    /// The PVM failed (a bug or a broken state, never a kernel failure).
    #[error("PVM at level {level}: {message}")]
    Pvm {
        /// The level being processed.
        level: u32,
        /// The PVM's error.
        message: String,
    },
    /// The inbox rebuilt from the block's receipts differs from the one the L1 computed.
    #[error("inbox of level {level} differs from the L1's at message {index}: rebuilt {ours}, L1 has {theirs}")]
    InboxMismatch {
        /// The level.
        level: u32,
        /// The first differing message (0 is `Start_of_level`).
        index: usize,
        /// Our message (hex), or `none`.
        ours: String,
        /// The L1's (hex), or `none`.
        theirs: String,
    },
    /// Re-running a stored level gave another state hash than the one stored.
    #[error("store disagrees with the PVM at level {level}: stored state hash {stored}, recomputed {computed}; the store is not from this kernel/version, refusing to go on")]
    Diverged {
        /// The level.
        level: u32,
        /// The stored state hash.
        stored: String,
        /// The recomputed one.
        computed: String,
    },
}

/// The facts about the rollup the node bootstraps from the L1 once (stored as `meta/rollup`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollupInfo {
    /// The rollup's address.
    pub address: SmartRollupAddress,
    /// Its origination level.
    pub origination_level: u32,
    /// The L1 hash of the origination block.
    pub origination_hash: String,
    /// The origination block's timestamp.
    pub origination_timestamp: i64,
    /// The kernel (boot sector) bytes.
    pub kernel: Vec<u8>,
    /// The genesis commitment hash the L1 recorded.
    pub genesis_commitment: String,
    /// `smart_rollup_commitment_period_in_blocks`.
    pub commitment_period: u32,
    /// `smart_rollup_challenge_window_in_blocks`.
    pub challenge_window: u32,
    /// `smart_rollup_max_active_outbox_levels`.
    pub outbox_validity_period: u32,
    /// `smart_rollup_max_outbox_messages_per_level`.
    pub outbox_message_limit: u32,
}

impl RollupInfo {
    /// The store's `meta/rollup` record.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "address": self.address.to_b58check(),
            "origination_level": self.origination_level,
            "origination_hash": self.origination_hash,
            "origination_timestamp": self.origination_timestamp,
            "kernel": hex::encode(&self.kernel),
            "genesis_commitment": self.genesis_commitment,
            "commitment_period": self.commitment_period,
            "challenge_window": self.challenge_window,
            "outbox_validity_period": self.outbox_validity_period,
            "outbox_message_limit": self.outbox_message_limit,
        })
    }

    /// Reads what [`RollupInfo::to_json`] wrote (the store's `meta/rollup`).
    pub(crate) fn from_json(v: &Value) -> Option<RollupInfo> {
        let u = |k: &str| v.get(k)?.as_u64().and_then(|n| u32::try_from(n).ok());
        let s = |k: &str| v.get(k)?.as_str().map(str::to_string);
        Some(RollupInfo {
            address: SmartRollupAddress::from_b58check(&s("address")?).ok()?,
            origination_level: u("origination_level")?,
            origination_hash: s("origination_hash")?,
            origination_timestamp: v.get("origination_timestamp")?.as_i64()?,
            kernel: hex::decode(s("kernel")?).ok()?,
            genesis_commitment: s("genesis_commitment")?,
            commitment_period: u("commitment_period")?,
            challenge_window: u("challenge_window")?,
            outbox_validity_period: u("outbox_validity_period")?,
            outbox_message_limit: u("outbox_message_limit")?,
        })
    }

    /// The PVM parameters of this rollup.
    pub fn pvm_config(&self) -> PvmConfig {
        PvmConfig {
            rollup_address: self.address.0,
            origination_level: self.origination_level,
            first_level: self.origination_level + 1,
            outbox_validity_period: self.outbox_validity_period,
            outbox_message_limit: self.outbox_message_limit as usize,
            ..PvmConfig::default()
        }
    }
}

/// A commitment the node computed, with its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCommitment {
    /// The commitment hash (`src1...`).
    pub hash: String,
    /// The commitment.
    pub commitment: Commitment,
}

/// What the follower publishes for the RPC server.
#[derive(Default)]
pub struct Shared {
    /// The rollup, once bootstrapped.
    pub rollup: Option<RollupInfo>,
    /// The state trees held in memory, by level: the genesis state at the origination level and
    /// the [`STATES_IN_MEMORY`] latest ones ([`Shared::hold_state`]); the RPC reads the others
    /// from the store.
    pub states: BTreeMap<u32, Tree>,
    /// The last processed level.
    pub head: Option<u32>,
    /// The L1 head last seen: hash and level.
    pub l1_head: Option<(String, u32)>,
    /// The last cemented commitment on L1: hash and inbox level.
    pub lcc: Option<(String, u32)>,
    /// The last commitment the node computed.
    pub last_commitment: Option<StoredCommitment>,
    /// Every commitment the node computed, by inbox level (the genesis one included).
    pub commitments: BTreeMap<i32, Commitment>,
    /// Whether the node has processed the L1 head.
    pub synchronized: bool,
    /// The first level whose state is still held (after garbage collection).
    pub first_available_level: Option<u32>,
    /// The level of the last cemented commitment the store was last garbage-collected at.
    pub last_gc_level: Option<u32>,
    /// The last error the follower hit, if it is retrying.
    pub last_error: Option<String>,
    /// The inbox mismatch that keeps the operator from publishing, if any.
    pub inconsistent_inbox: Option<InconsistentInbox>,
}

/// How many of the latest states the node holds in memory besides the genesis state and the
/// last cemented one (which outbox proofs are made against). The store has every state from
/// [`Shared::first_available_level`] on (archive mode: all of them), so memory does not grow
/// with the chain; other states are read from the store when asked for.
pub const STATES_IN_MEMORY: usize = 64;

impl Shared {
    /// Holds `tree` as the state after `level`, then lets go of the oldest states beyond the
    /// [`STATES_IN_MEMORY`] latest (never the genesis or the last cemented state).
    pub fn hold_state(&mut self, level: u32, tree: Tree) {
        self.states.insert(level, tree);
        self.let_go_of_old_states();
    }

    /// Drops the held states older than the [`STATES_IN_MEMORY`] latest, except the genesis
    /// and the last cemented ones.
    fn let_go_of_old_states(&mut self) {
        let keep = [
            self.rollup.as_ref().map(|r| r.origination_level),
            self.lcc.as_ref().map(|l| l.1),
        ];
        keep_latest_states(&mut self.states, &keep);
    }
}

/// Drops the states of `states` older than its [`STATES_IN_MEMORY`] latest, except those of the
/// levels in `keep`.
fn keep_latest_states(states: &mut BTreeMap<u32, Tree>, keep: &[Option<u32>]) {
    let old: Vec<u32> = states
        .keys()
        .rev()
        .filter(|&&l| !keep.contains(&Some(l)))
        .skip(STATES_IN_MEMORY)
        .copied()
        .collect();
    for l in old {
        states.remove(&l);
    }
}

/// The shared inbox after the origination level, as the L1 answered it (the node's
/// rebuilt inbox starts there), with the origination block's protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginationInbox {
    /// The L1's inbox after the origination block.
    pub inbox: Inbox,
    /// The origination block's protocol, when the block names it.
    pub protocol: Option<String>,
}

impl OriginationInbox {
    fn to_json(&self) -> Value {
        json!({"inbox": self.inbox.to_json(), "protocol": self.protocol})
    }

    fn from_json(v: &Value) -> Result<OriginationInbox, String> {
        let inbox =
            Inbox::from_json(v.get("inbox").unwrap_or(&Value::Null)).map_err(|e| e.to_string())?;
        Ok(OriginationInbox {
            inbox,
            protocol: v
                .get("protocol")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}

/// What the follower needs to run.
pub struct Follower {
    /// The rollup to follow.
    pub rollup: SmartRollupAddress,
    /// The L1.
    pub l1: Box<dyn Layer1>,
    /// The store.
    pub store: Arc<Store>,
    /// Published state.
    pub shared: Arc<RwLock<Shared>>,
    /// Preimages for reveals (`<data-dir>/wasm_2_0_0`).
    pub preimages: PathBuf,
    /// Where missing preimages are fetched from (`--pre-images-endpoint`), if anywhere.
    pub preimages_endpoint: Option<String>,
    /// Keep only the states from the last cemented commitment on.
    pub gc: bool,
    /// Set to stop the follower.
    pub stop: Arc<AtomicBool>,
    /// The operator duties (publishing, cementing), if the node has any.
    pub operator: Option<Operator>,
}

/// The octez rollup node's word for a PVM status.
pub fn status_words(status: Status) -> &'static str {
    match status {
        Status::WaitingForInput | Status::Stuck => "Waiting for input message",
        Status::Evaluating => "Computing",
        Status::WaitingForReveal => "Waiting for reveal",
    }
}

fn pvm_err(level: u32) -> impl Fn(soru_core::pvm::PvmError) -> FollowError {
    move |e| FollowError::Pvm {
        level,
        message: e.to_string(),
    }
}

impl Follower {
    fn rollup_err(&self, message: impl Into<String>) -> FollowError {
        FollowError::Rollup {
            rollup: self.rollup.to_b58check(),
            message: message.into(),
        }
    }

    fn set_error(&self, e: Option<String>) {
        self.shared.write().expect("lock").last_error = e;
    }

    /// Retries `f` until it succeeds or the node stops; L1 errors are retried every second
    /// (the L1 may be restarting), others are returned.
    fn retry<T>(
        &self,
        mut f: impl FnMut() -> Result<T, FollowError>,
    ) -> Result<Option<T>, FollowError> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            match f() {
                Ok(v) => {
                    self.set_error(None);
                    return Ok(Some(v));
                }
                Err(FollowError::L1(e)) => {
                    tracing::warn!("{e}; retrying");
                    self.set_error(Some(e.to_string()));
                    std::thread::sleep(Duration::from_secs(1));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads the rollup's origination from the L1: genesis info, kind, the origination
    /// operation's kernel, and the protocol constants.
    fn bootstrap(&self) -> Result<RollupInfo, FollowError> {
        if let Some(v) = self.store.meta("rollup")? {
            return RollupInfo::from_json(&v)
                .ok_or_else(|| self.rollup_err("the stored `meta/rollup` record is malformed"));
        }
        let sr1 = self.rollup.to_b58check();
        let base = format!("context/smart_rollups/smart_rollup/{sr1}");
        let kind = self.l1.block_rpc("head", &format!("{base}/kind"))?;
        if kind.as_str() != Some("wasm_2_0_0") {
            return Err(self.rollup_err(format!("kind {kind} is not wasm_2_0_0")));
        }
        let genesis = self.l1.block_rpc("head", &format!("{base}/genesis_info"))?;
        let level = genesis
            .get("level")
            .and_then(Value::as_u64)
            .and_then(|l| u32::try_from(l).ok())
            .ok_or_else(|| self.rollup_err(format!("genesis_info without level: {genesis}")))?;
        let genesis_commitment = genesis
            .get("commitment_hash")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                self.rollup_err(format!("genesis_info without commitment_hash: {genesis}"))
            })?
            .to_string();
        let block = self.l1.block(level)?;
        let kernel = find_origination(&block, &sr1).ok_or_else(|| {
            self.rollup_err(format!(
                "no applied smart_rollup_originate with address {sr1} in block {level}"
            ))
        })?;
        let (hash, timestamp) = block_hash_and_time(&block)
            .ok_or_else(|| self.rollup_err(format!("block {level} has no hash or timestamp")))?;
        let constants = self.l1.block_rpc("head", "context/constants")?;
        let constant = |k: &str, default: u32| {
            constants
                .get(k)
                .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(default)
        };
        let info = RollupInfo {
            address: self.rollup,
            origination_level: level,
            origination_hash: hash,
            origination_timestamp: timestamp,
            kernel,
            genesis_commitment,
            commitment_period: constant("smart_rollup_commitment_period_in_blocks", 60),
            challenge_window: constant("smart_rollup_challenge_window_in_blocks", 40),
            outbox_validity_period: constant("smart_rollup_max_active_outbox_levels", 80_640),
            outbox_message_limit: constant("smart_rollup_max_outbox_messages_per_level", 100),
        };
        self.store.set_meta("rollup", &info.to_json())?;
        Ok(info)
    }

    /// The L1's shared inbox after the origination level (stored as `meta/origination_inbox`
    /// the first time): where the node's rebuilt inbox starts, as in octez's node.
    fn origination_inbox(&self, info: &RollupInfo) -> Result<OriginationInbox, FollowError> {
        const KEY: &str = "origination_inbox";
        if let Some(v) = self.store.meta(KEY)? {
            return OriginationInbox::from_json(&v).map_err(|e| {
                self.rollup_err(format!("the stored `meta/{KEY}` is malformed: {e}"))
            });
        }
        let level = info.origination_level;
        let inbox = self.l1.shared_inbox(&level.to_string())?;
        if i64::from(inbox.level) != i64::from(level) {
            return Err(self.rollup_err(format!(
                "the L1's inbox at the origination level {level} has level {}",
                inbox.level
            )));
        }
        let block = self.l1.block(level)?;
        let origin = OriginationInbox {
            inbox,
            protocol: inbox::block_protocol(&block).map(str::to_string),
        };
        self.store.set_meta(KEY, &origin.to_json())?;
        tracing::info!(
            "the shared inbox at the origination level {level} is {}",
            origin.inbox.hash()
        );
        Ok(origin)
    }

    /// Fills in the shared inbox of stored levels from before it (rebuilt from the stored
    /// messages, from the origination inbox on), rewriting them in one transaction.
    fn fill_inboxes(
        &self,
        info: &RollupInfo,
        origin: &OriginationInbox,
        records: &mut [LevelRecord],
    ) -> Result<(), FollowError> {
        if records.iter().all(|r| r.inbox.is_some()) {
            return Ok(());
        }
        let mut previous = (origin.inbox.clone(), info.origination_timestamp);
        let mut changed = Vec::new();
        for r in records.iter_mut() {
            if r.inbox.is_none() {
                let pred = BlockHash::from_b58check(&r.predecessor).map_err(|e| {
                    self.rollup_err(format!(
                        "stored level {}: predecessor {}: {e}",
                        r.level, r.predecessor
                    ))
                })?;
                let full = inbox::full_inbox(previous.1, pred, &r.messages);
                r.inbox = Some(inbox::next_shared_inbox(&previous.0, r.level, &full)?);
                changed.push(r.clone());
            }
            previous = (r.inbox.clone().expect("filled"), r.timestamp);
        }
        self.store.rewrite_levels(&changed)?;
        tracing::info!(
            "rebuilt the shared inbox of {} stored levels from before it",
            changed.len()
        );
        Ok(())
    }

    /// The shared inbox after level `level - 1` and that block's protocol: the origination
    /// inbox or the stored level's.
    fn previous_inbox(
        &self,
        level: u32,
        info: &RollupInfo,
        origin: &OriginationInbox,
        unwritten: &Unwritten,
    ) -> Result<(Inbox, Option<String>), FollowError> {
        if level == info.origination_level + 1 {
            return Ok((origin.inbox.clone(), origin.protocol.clone()));
        }
        let stored;
        let r = match unwritten.record(level - 1) {
            Some(r) => r,
            None => {
                stored = self.store.level(level - 1)?.ok_or_else(|| {
                    self.rollup_err(format!(
                        "the store has no level {} before level {level}",
                        level - 1
                    ))
                })?;
                &stored
            }
        };
        let inbox = r.inbox.clone().ok_or_else(|| {
            self.rollup_err(format!(
                "the stored level {} has no shared inbox",
                level - 1
            ))
        })?;
        Ok((inbox, r.protocol.clone()))
    }

    /// Originates the PVM (checking the genesis commitment against the L1's), then continues
    /// from the store: from the last stored level's state tree when the store keeps states,
    /// otherwise by re-running every stored level and checking the stored state hashes.
    fn rebuild(&self, info: &RollupInfo, origin: &OriginationInbox) -> Result<Pvm, FollowError> {
        let pvm = Pvm::new(&info.kernel, info.pvm_config())
            .map_err(|e| self.rollup_err(format!("kernel rejected: {e}")))?;
        let genesis_state = StateHash(pvm.state_hash().map_err(pvm_err(info.origination_level))?);
        let genesis = Commitment::genesis(info.origination_level as i32, genesis_state);
        let genesis_hash = genesis.hash().to_b58check();
        if genesis_hash != info.genesis_commitment {
            return Err(self.rollup_err(format!(
                "the genesis commitment computed from the kernel and the L1's constants is {genesis_hash} (state {genesis_state}), the L1 recorded {}: this node would compute other commitments than the L1 expects",
                info.genesis_commitment
            )));
        }
        let mut states = BTreeMap::new();
        states.insert(
            info.origination_level,
            pvm.state_tree().map_err(pvm_err(info.origination_level))?,
        );
        let mut records = self.store.levels()?;
        self.fill_inboxes(info, origin, &mut records)?;
        let lcc = self.store.meta("lcc")?.as_ref().and_then(lcc_of);
        let started = Instant::now();
        let resumed = match records.last() {
            Some(last) if self.store.keeps_states()? => {
                self.resume(info, &records, last, lcc.as_ref(), &mut states)?
            }
            _ => None,
        };
        let pvm = match resumed {
            Some(pvm) => {
                tracing::info!(
                    "resumed at level {} from the stored state {} in {:.1}s",
                    records.last().map_or(0, |r| r.level),
                    records.last().map_or("", |r| r.state_hash.as_str()),
                    started.elapsed().as_secs_f64()
                );
                pvm
            }
            None => self.replay(info, pvm, &records, &mut states)?,
        };
        let mut commitments = BTreeMap::new();
        commitments.insert(genesis.inbox_level, genesis);
        let mut last_commitment = StoredCommitment {
            hash: genesis_hash,
            commitment: genesis,
        };
        for h in records.iter().filter_map(|r| r.commitment.as_ref()) {
            let stored = self.store.commitment(h)?;
            if let Some(c) = stored
                .as_ref()
                .and_then(|c| c.get("commitment"))
                .and_then(|c| Commitment::from_json(c).ok())
            {
                commitments.insert(c.inbox_level, c);
                last_commitment = StoredCommitment {
                    hash: h.clone(),
                    commitment: c,
                };
            }
        }
        let mut s = self.shared.write().expect("lock");
        s.rollup = Some(info.clone());
        // The store has every state in archive mode, and from the first one held on in full mode
        // (the last cemented level's, or every level re-run from genesis).
        s.first_available_level = if self.gc {
            let genesis = info.origination_level;
            states
                .keys()
                .copied()
                .find(|&l| l != genesis)
                .or(Some(genesis))
        } else {
            Some(info.origination_level)
        };
        s.states = states;
        s.head = Some(records.last().map_or(info.origination_level, |r| r.level));
        s.last_commitment = Some(last_commitment);
        s.commitments = commitments;
        s.lcc = lcc;
        s.let_go_of_old_states();
        Ok(pvm)
    }

    /// The PVM after the last stored level, from its stored state tree, with the states the
    /// RPC serves from memory (from the last cemented level on) loaded into `states`. `None`
    /// when the state cannot be resumed from (a stuck PVM): the caller re-runs the levels.
    fn resume(
        &self,
        info: &RollupInfo,
        records: &[LevelRecord],
        last: &LevelRecord,
        lcc: Option<&(String, u32)>,
        states: &mut BTreeMap<u32, Tree>,
    ) -> Result<Option<Pvm>, FollowError> {
        let from = lcc.map_or(0, |l| l.1).min(last.level);
        let kept: Vec<&LevelRecord> = records.iter().filter(|r| r.level >= from).collect();
        let hashes: Vec<&str> = kept.iter().map(|r| r.state_hash.as_str()).collect();
        let trees = self.store.states(&hashes)?;
        let tree = trees.last().expect("the last level is kept").clone();
        for (r, t) in kept.iter().zip(trees) {
            states.insert(r.level, t);
        }
        match Pvm::from_state(&tree, info.pvm_config()) {
            Ok(pvm) => Ok(Some(pvm)),
            Err(e) => {
                tracing::info!("level {}: {e}; re-running the stored levels", last.level);
                states.retain(|&l, _| l == info.origination_level);
                Ok(None)
            }
        }
    }

    /// Re-runs every stored level from the genesis PVM, checking each state hash against the
    /// stored one, and stores the state trees of a store that did not keep them yet.
    fn replay(
        &self,
        info: &RollupInfo,
        mut pvm: Pvm,
        records: &[LevelRecord],
        states: &mut BTreeMap<u32, Tree>,
    ) -> Result<Pvm, FollowError> {
        let keeps = self.store.keeps_states()?;
        let mut reveal = PreimageDir::new(Some(&self.preimages))
            .with_endpoint(self.preimages_endpoint.as_deref());
        let started = Instant::now();
        for r in records {
            let pred = self.predecessor(r.level, info, records)?;
            run_level(&mut pvm, r.level, &pred, &r.messages, &mut reveal)?;
            let computed = StateHash(pvm.state_hash().map_err(pvm_err(r.level))?).to_b58check();
            if computed != r.state_hash {
                return Err(FollowError::Diverged {
                    level: r.level,
                    stored: r.state_hash.clone(),
                    computed,
                });
            }
            let tree = pvm.state_tree().map_err(pvm_err(r.level))?;
            if !keeps {
                self.store.put_state(&tree)?;
            }
            states.insert(r.level, tree);
        }
        if !keeps {
            self.store.set_keeps_states()?;
        }
        if !records.is_empty() {
            tracing::info!(
                "re-ran {} stored levels in {:.1}s, state hashes match the store",
                records.len(),
                started.elapsed().as_secs_f64()
            );
        }
        Ok(pvm)
    }

    /// The predecessor (hash, timestamp) of `level`: the origination block or a stored level.
    fn predecessor(
        &self,
        level: u32,
        info: &RollupInfo,
        records: &[LevelRecord],
    ) -> Result<(String, i64), FollowError> {
        if level == info.origination_level + 1 {
            return Ok((info.origination_hash.clone(), info.origination_timestamp));
        }
        let found = records.iter().rev().find(|r| r.level + 1 == level).cloned();
        let r = match found {
            Some(r) => Some(r),
            None => self.store.level(level - 1)?,
        };
        r.map(|r| (r.hash, r.timestamp))
            .ok_or_else(|| FollowError::Rollup {
                rollup: self.rollup.to_b58check(),
                message: format!("the store has no level {} before level {level}", level - 1),
            })
    }

    /// Runs the follower until `stop` is set or an error retrying cannot fix.
    pub fn run(mut self) -> Result<(), FollowError> {
        let Some(info) = self.retry(|| self.bootstrap())? else {
            return Ok(());
        };
        tracing::info!(
            "following rollup {} (originated at level {}, commitment period {}, challenge window {})",
            info.address,
            info.origination_level,
            info.commitment_period,
            info.challenge_window
        );
        let Some(origin) = self.retry(|| self.origination_inbox(&info))? else {
            return Ok(());
        };
        let mut unwritten = Unwritten::new(self.store.clone(), self.shared.clone());
        let followed = self.follow(&info, &origin, &mut unwritten);
        // What was processed before a stop or an error is stored all the same.
        let written = unwritten.flush();
        followed.and(written)
    }

    fn follow(
        &mut self,
        info: &RollupInfo,
        origin: &OriginationInbox,
        unwritten: &mut Unwritten,
    ) -> Result<(), FollowError> {
        let mut pvm = self.rebuild(info, origin)?;
        let mut reveal = PreimageDir::new(Some(&self.preimages))
            .with_endpoint(self.preimages_endpoint.as_deref());
        let mut progress = Progress::new();
        // The L1 head is asked for again only once the node has reached the one it knows.
        let mut known_head: Option<u32> = None;
        let mut ahead: Option<Ahead> = None;
        while !self.stop.load(Ordering::Relaxed) {
            unwritten.prune()?;
            let last = match unwritten.last_level() {
                Some(l) => l,
                None => self
                    .shared
                    .read()
                    .expect("lock")
                    .head
                    .unwrap_or(info.origination_level),
            };
            let head_level = match known_head {
                Some(h) if last < h => h,
                _ => {
                    let Some(head) = self.retry(|| Ok(self.l1.head()?))? else {
                        break;
                    };
                    let mut s = self.shared.write().expect("lock");
                    s.l1_head = Some((head.hash.clone(), head.level));
                    s.synchronized = last >= head.level;
                    known_head = Some(head.level);
                    head.level
                }
            };
            if last >= head_level {
                unwritten.flush()?;
                self.refresh_lcc(info);
                self.operate(head_level);
                progress.done(last);
                self.l1.wait_for_head(head_level, Duration::from_secs(1));
                known_head = None;
                continue;
            }
            let level = last + 1;
            let Some((block, theirs)) = self.fetch(level, head_level, &mut ahead)? else {
                break;
            };
            let pred = match unwritten.record(level - 1) {
                Some(r) => (r.hash.clone(), r.timestamp),
                None => self.predecessor(level, info, &[])?,
            };
            let predecessor = block
                .pointer("/header/predecessor")
                .and_then(Value::as_str)
                .unwrap_or("");
            if predecessor != pred.0 {
                // The L1 reorganised below us: drop our last level and rebuild.
                tracing::warn!(
                    "L1 reorganisation: block {level}'s predecessor is {predecessor}, stored level {} is {}; dropping it",
                    level - 1,
                    pred.0
                );
                ahead = None;
                unwritten.flush()?;
                unwritten.tip = None;
                self.store.truncate_from(level - 1)?;
                pvm = self.rebuild(info, origin)?;
                known_head = None;
                continue;
            }
            let processed = self.process(
                info,
                origin,
                &mut pvm,
                level,
                &block,
                theirs,
                &pred,
                &mut reveal,
                unwritten,
            )?;
            if let Some(operator) = &self.operator {
                operator.observe_block(&block, level);
            }
            progress.tick(level, head_level);
            unwritten.levels.push(processed);
            if level >= head_level || unwritten.is_due() {
                unwritten.write()?;
            }
        }
        Ok(())
    }

    /// Block `level` with receipts and the L1's inbox of it: from the fetcher thread reading
    /// ahead while the node is more than a level behind `head_level`, otherwise (or after the
    /// fetcher failed) asked for here, retrying L1 errors. `None` when the node stops.
    #[allow(clippy::type_complexity)]
    fn fetch(
        &self,
        level: u32,
        head_level: u32,
        ahead: &mut Option<Ahead>,
    ) -> Result<Option<(Value, Option<Vec<Vec<u8>>>)>, FollowError> {
        if ahead
            .as_ref()
            .is_none_or(|a| a.next != level || level > a.last)
        {
            *ahead = match level < head_level {
                true => self
                    .l1
                    .fetcher()
                    .map(|f| Ahead::start(f, level, head_level)),
                false => None,
            };
        }
        if let Some(a) = ahead.as_mut() {
            match a.take(level) {
                Some(Ok(fetched)) => return Ok(Some(fetched)),
                Some(Err(e)) => tracing::warn!("{e}; asking again"),
                None => {}
            }
            *ahead = None;
        }
        self.retry(|| Ok((self.l1.block(level)?, self.l1.inbox(level)?)))
    }

    /// Compares the level's whole inbox rebuilt from receipts (`ours`) with the L1's own list
    /// of messages (`theirs`), when the L1 publishes it.
    fn check_inbox(
        &self,
        level: u32,
        ours: &[Vec<u8>],
        theirs: Option<Vec<Vec<u8>>>,
    ) -> Result<(), FollowError> {
        let Some(theirs) = theirs else {
            return Ok(());
        };
        let n = ours.len().max(theirs.len());
        if let Some(index) = (0..n).find(|&i| ours.get(i) != theirs.get(i)) {
            let show = |m: Option<&Vec<u8>>| m.map_or_else(|| "none".to_string(), hex::encode);
            return Err(FollowError::InboxMismatch {
                level,
                index,
                ours: show(ours.get(index)),
                theirs: show(theirs.get(index)),
            });
        }
        Ok(())
    }

    /// Runs the operator's duties for the head at `head_level`; L1 failures are logged and
    /// retried at the next head.
    fn operate(&mut self, head_level: u32) {
        let Some(operator) = self.operator.as_mut() else {
            return;
        };
        let (commitments, lcc) = {
            let s = self.shared.read().expect("lock");
            (s.commitments.clone(), s.lcc.as_ref().map(|l| l.1))
        };
        let store = &self.store;
        let inbox_at = |level: u32| store.level(level).ok().flatten().and_then(|r| r.inbox);
        if let Err(e) = operator.on_head(self.l1.as_ref(), head_level, &commitments, lcc, &inbox_at)
        {
            tracing::warn!("operator: {e}");
        }
        let inconsistent = operator.inconsistent_inbox().cloned();
        {
            let mut s = self.shared.write().expect("lock");
            if s.inconsistent_inbox != inconsistent {
                s.inconsistent_inbox = inconsistent;
            }
        }
        // executing_outbox: the cemented outboxes still valid, against the LCC's state.
        let (lcc, state, oldest) = {
            let s = self.shared.read().expect("lock");
            let Some((hash, level)) = s.lcc.clone() else {
                return;
            };
            let Some(info) = &s.rollup else { return };
            let oldest = level
                .saturating_sub(info.outbox_validity_period)
                .max(info.origination_level + 1);
            ((hash, level), s.states.get(&level).cloned(), oldest)
        };
        let levels = operator.outbox_levels_to_scan(lcc.1, oldest);
        if levels.is_empty() && !operator.is_executing() {
            return;
        }
        let Some(state) = state.or_else(|| {
            let r = self.store.level(lcc.1).ok().flatten()?;
            self.store.state(&r.state_hash).ok()
        }) else {
            return;
        };
        let outboxes: Vec<(u32, Vec<Vec<u8>>)> = levels
            .filter_map(|l| self.store.level(l).ok().flatten())
            .filter(|r| !r.outbox.is_empty())
            .map(|r| (r.level, r.outbox))
            .collect();
        operator.execute_outbox(
            self.l1.as_ref(),
            head_level,
            (&lcc.0, lcc.1),
            &state,
            &outboxes,
        );
    }

    /// History mode `full`: deletes the stored states of the levels before `from` (the last
    /// cemented one), keeping their L2 blocks. Failures are logged; the next LCC retries.
    fn gc_store(&self, from: u32) {
        let started = Instant::now();
        let result = self
            .store
            .levels()
            .map_err(FollowError::from)
            .and_then(|records| {
                let keep: Vec<&str> = records
                    .iter()
                    .filter(|r| r.level >= from)
                    .map(|r| r.state_hash.as_str())
                    .collect();
                Ok(self.store.gc_states(&keep)?)
            });
        match result {
            Ok((deleted, kept)) => {
                tracing::info!(
                    "gc: states before level {from} removed ({deleted} tree records deleted, {kept} kept) in {:.2}s",
                    started.elapsed().as_secs_f64()
                );
                self.shared.write().expect("lock").last_gc_level = Some(from);
            }
            Err(e) => tracing::warn!("gc: {e}"),
        }
    }

    /// The stored state after `level`, if the store has it (a failure is logged: the RPC then
    /// reads that state from the store when asked).
    fn stored_state(&self, level: u32) -> Option<Tree> {
        let read = || -> Result<Option<Tree>, StoreError> {
            match self.store.level(level)? {
                Some(r) => Ok(Some(self.store.state(&r.state_hash)?)),
                None => Ok(None),
            }
        };
        read()
            .inspect_err(|e| tracing::warn!("the state of level {level}: {e}"))
            .ok()
            .flatten()
    }

    fn refresh_lcc(&self, info: &RollupInfo) {
        let path = format!(
            "context/smart_rollups/smart_rollup/{}/last_cemented_commitment_hash_with_level",
            info.address
        );
        match self.l1.block_rpc("head", &path) {
            Ok(v) => {
                let lcc = lcc_of(&v);
                let mut s = self.shared.write().expect("lock");
                if lcc != s.lcc {
                    drop(s);
                    if let Err(e) = self.store.set_meta("lcc", &v) {
                        tracing::warn!("{e}");
                    }
                    let lcc_state = lcc.as_ref().and_then(|(_, level)| {
                        let held = self.shared.read().expect("lock").states.contains_key(level);
                        (!held).then(|| self.stored_state(*level)).flatten()
                    });
                    s = self.shared.write().expect("lock");
                    s.lcc = lcc.clone();
                    if let (Some((_, level)), Some(tree)) = (&lcc, lcc_state) {
                        s.states.insert(*level, tree);
                    }
                    if self.gc {
                        if let Some((_, lcc_level)) = lcc {
                            let keep = s.states.split_off(&lcc_level);
                            s.states = keep;
                            s.first_available_level = Some(lcc_level);
                            drop(s);
                            self.gc_store(lcc_level);
                        }
                    }
                }
            }
            Err(e) => tracing::debug!("{e}"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn process(
        &self,
        info: &RollupInfo,
        origin: &OriginationInbox,
        pvm: &mut Pvm,
        level: u32,
        block: &Value,
        theirs: Option<Vec<Vec<u8>>>,
        pred: &(String, i64),
        reveal: &mut PreimageDir,
        unwritten: &Unwritten,
    ) -> Result<Processed, FollowError> {
        let (hash, timestamp) = block_hash_and_time(block).ok_or_else(|| {
            self.rollup_err(format!("L1 block {level} has no hash or header.timestamp"))
        })?;
        let protocol = inbox::block_protocol(block).map(str::to_string);
        let (previous_inbox, previous_protocol) =
            self.previous_inbox(level, info, origin, unwritten)?;
        let mut messages = inbox::block_messages(block)?;
        if let (Some(p), Some(previous)) = (&protocol, &previous_protocol) {
            if p != previous {
                messages.insert(0, inbox::protocol_migration(level, p)?);
            }
        }
        let pred_hash = BlockHash::from_b58check(&pred.0).map_err(|e| FollowError::Pvm {
            level,
            message: format!("predecessor hash {}: {e}", pred.0),
        })?;
        let full = inbox::full_inbox(pred.1, pred_hash, &messages);
        self.check_inbox(level, &full, theirs)?;
        let shared_inbox = inbox::next_shared_inbox(&previous_inbox, level, &full)?;
        let before = pvm.ticks();
        run_level(pvm, level, pred, &messages, reveal)?;
        let report = pvm.report().map_err(pvm_err(level))?;
        let state_hash = StateHash(report.state_hash);
        let tree = pvm.state_tree().map_err(pvm_err(level))?;
        let mut commitment = None;
        let last = match unwritten.last_commitment() {
            Some(c) => c.clone(),
            None => self
                .shared
                .read()
                .expect("lock")
                .last_commitment
                .clone()
                .expect("set by rebuild"),
        };
        if (level - info.origination_level) % info.commitment_period.max(1) == 0 {
            let at = last.commitment.inbox_level as u32;
            let ticks_then = match unwritten.record(at) {
                Some(r) => r.total_ticks,
                None => ticks_at(&self.store, at)?,
            };
            let since = report.ticks.saturating_sub(ticks_then);
            let c = Commitment {
                compressed_state: state_hash,
                inbox_level: level as i32,
                predecessor: CommitmentHash::from_b58check(&last.hash).unwrap_or_default(),
                number_of_ticks: i64::try_from(since).unwrap_or(i64::MAX),
            };
            commitment = Some(StoredCommitment {
                hash: c.hash().to_b58check(),
                commitment: c,
            });
        }
        let record = LevelRecord {
            level,
            hash,
            predecessor: pred.0.clone(),
            timestamp,
            messages,
            state_hash: state_hash.to_b58check(),
            ticks: report.ticks - before,
            total_ticks: report.ticks,
            status: status_words(report.status).to_string(),
            outbox: report.outbox.clone(),
            commitment: commitment.as_ref().map(|c| c.hash.clone()),
            protocol,
            inbox: Some(shared_inbox),
        };
        let executed =
            super::outbox::executions_in_block(block, &info.address.to_b58check(), &|c| {
                match unwritten.commitment(c) {
                    Some(c) => Some(c.compressed_state.0),
                    None => super::outbox::compressed_state(&self.store.commitment(c).ok()??),
                }
            });
        Ok(Processed {
            record,
            commitment,
            tree,
            executed,
        })
    }
}

/// A level the follower processed and has not stored yet.
struct Processed {
    record: LevelRecord,
    commitment: Option<StoredCommitment>,
    tree: Tree,
    executed: Vec<(u32, u64)>,
}

/// Levels are stored in batches of at most this many while the node catches up...
const WRITE_BATCH_LEVELS: usize = 64;
/// ... and at least this often, so the RPC's head is never further behind.
const WRITE_BATCH_PERIOD: Duration = Duration::from_millis(500);

/// The levels the follower processed and the [`Writer`] has not stored yet (see
/// [`Store::put_levels`]): the ones not sent to it (`levels`) and the ones it is writing
/// (`inflight`), with the last level known stored (`tip`), so the next level's predecessor,
/// inbox and last commitment are not read back from the store.
struct Unwritten {
    levels: Vec<Processed>,
    inflight: Vec<Arc<Processed>>,
    tip: Option<Arc<Processed>>,
    since: Instant,
    writer: Writer,
}

impl Unwritten {
    fn new(store: Arc<Store>, shared: Arc<RwLock<Shared>>) -> Unwritten {
        Unwritten {
            levels: Vec::new(),
            inflight: Vec::new(),
            tip: None,
            since: Instant::now(),
            writer: Writer::start(store, shared),
        }
    }

    /// Every level not known stored, oldest first.
    fn pending(&self) -> impl DoubleEndedIterator<Item = &Processed> {
        self.inflight.iter().map(|p| &**p).chain(self.levels.iter())
    }

    /// The record of `level` if it is not known stored or the last one stored.
    fn record(&self, level: u32) -> Option<&LevelRecord> {
        self.pending()
            .rev()
            .chain(self.tip.as_deref())
            .map(|p| &p.record)
            .find(|r| r.level == level)
    }

    fn last_level(&self) -> Option<u32> {
        self.pending().next_back().map(|p| p.record.level)
    }

    /// The last commitment not known stored.
    fn last_commitment(&self) -> Option<&StoredCommitment> {
        self.pending().rev().find_map(|p| p.commitment.as_ref())
    }

    /// A commitment not known stored, by hash (`src1...`).
    fn commitment(&self, hash: &str) -> Option<&Commitment> {
        self.pending()
            .filter_map(|p| p.commitment.as_ref())
            .find(|c| c.hash == hash)
            .map(|c| &c.commitment)
    }

    /// Whether the batch is full or old enough to be stored.
    fn is_due(&self) -> bool {
        self.levels.len() >= WRITE_BATCH_LEVELS || self.since.elapsed() >= WRITE_BATCH_PERIOD
    }

    /// Hands the processed levels to the writer as one batch (one transaction); waits only
    /// if it is still writing the batch before the last one.
    fn write(&mut self) -> Result<(), FollowError> {
        self.since = Instant::now();
        if self.levels.is_empty() {
            return Ok(());
        }
        let batch: Vec<Arc<Processed>> = self.levels.drain(..).map(Arc::new).collect();
        self.inflight.extend(batch.iter().cloned());
        self.writer.send(batch)?;
        self.prune()
    }

    /// Stores every processed level and waits until they are stored and published.
    fn flush(&mut self) -> Result<(), FollowError> {
        self.write()?;
        self.writer.wait()?;
        self.prune()
    }

    /// Forgets the in-flight levels the writer has stored (keeping the last as `tip`); the
    /// writer's failure, if it failed.
    fn prune(&mut self) -> Result<(), FollowError> {
        let stored = self.writer.stored()?;
        let n = self
            .inflight
            .iter()
            .take_while(|p| Some(p.record.level) <= stored)
            .count();
        if n > 0 {
            self.tip = self.inflight.drain(..n).next_back();
        }
        Ok(())
    }
}

/// Stores the follower's batches of levels on a thread of its own (`store-writer`), so the
/// PVM runs the next levels while a batch is written, then publishes each batch to the RPC
/// (head, states, commitments): what the RPC serves is always in the store. At most one
/// batch waits while another is written.
struct Writer {
    tx: Option<mpsc::SyncSender<Vec<Arc<Processed>>>>,
    state: Arc<(Mutex<Written>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The last level sent.
    sent: Option<u32>,
}

/// What the writer thread reports.
#[derive(Default)]
struct Written {
    /// The last level stored and published.
    level: Option<u32>,
    /// Why it stopped, until the follower takes it.
    error: Option<StoreError>,
    /// Whether it stopped on an error.
    failed: bool,
}

impl Writer {
    fn start(store: Arc<Store>, shared: Arc<RwLock<Shared>>) -> Writer {
        let (tx, rx) = mpsc::sync_channel::<Vec<Arc<Processed>>>(1);
        let state = Arc::new((Mutex::new(Written::default()), Condvar::new()));
        let reports = state.clone();
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                for batch in rx {
                    let result = store_batch(&store, &shared, &batch);
                    let (lock, changed) = &*reports;
                    let mut w = lock.lock().expect("lock");
                    match result {
                        Ok(()) => w.level = batch.last().map(|p| p.record.level),
                        Err(e) => {
                            w.error = Some(e);
                            w.failed = true;
                        }
                    }
                    changed.notify_all();
                    if w.failed {
                        return;
                    }
                }
            })
            .expect("spawning a thread");
        Writer {
            tx: Some(tx),
            state,
            thread: Some(thread),
            sent: None,
        }
    }

    /// The writer's error (once; later calls name the failure without it).
    fn failure(w: &mut Written) -> FollowError {
        match w.error.take() {
            Some(e) => FollowError::Store(e),
            None => FollowError::Store(StoreError::Record(
                "a batch of levels".into(),
                "the store writer failed earlier".into(),
            )),
        }
    }

    fn send(&mut self, batch: Vec<Arc<Processed>>) -> Result<(), FollowError> {
        let last = batch.last().map(|p| p.record.level);
        let sent = self.tx.as_ref().expect("open").send(batch);
        let mut w = self.state.0.lock().expect("lock");
        if w.failed || sent.is_err() {
            return Err(Writer::failure(&mut w));
        }
        self.sent = last.or(self.sent);
        Ok(())
    }

    /// The last level stored and published, or the writer's failure.
    fn stored(&self) -> Result<Option<u32>, FollowError> {
        let mut w = self.state.0.lock().expect("lock");
        if w.failed {
            return Err(Writer::failure(&mut w));
        }
        Ok(w.level)
    }

    /// Waits until every level sent is stored and published.
    fn wait(&self) -> Result<(), FollowError> {
        let (lock, changed) = &*self.state;
        let mut w = lock.lock().expect("lock");
        while !w.failed && w.level < self.sent {
            w = changed.wait(w).expect("lock");
        }
        if w.failed {
            return Err(Writer::failure(&mut w));
        }
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel ends the thread once it has written what it was sent.
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Stores `batch` in one transaction, then publishes it to the RPC.
fn store_batch(
    store: &Store,
    shared: &RwLock<Shared>,
    batch: &[Arc<Processed>],
) -> Result<(), StoreError> {
    let writes: Vec<LevelWrite<'_>> = batch
        .iter()
        .map(|p| LevelWrite {
            record: &p.record,
            commitment: p
                .commitment
                .as_ref()
                .map(|c| (c.hash.as_str(), &c.commitment)),
            state: &p.tree,
            executed: &p.executed,
        })
        .collect();
    store.put_levels(&writes)?;
    let mut s = shared.write().expect("lock");
    for p in batch {
        s.hold_state(p.record.level, p.tree.clone());
        s.head = Some(p.record.level);
        if let Some(c) = &p.commitment {
            tracing::info!(
                "level {}: commitment {} (state {})",
                p.record.level,
                c.hash,
                p.record.state_hash
            );
            s.commitments.insert(c.commitment.inbox_level, c.commitment);
            s.last_commitment = Some(c.clone());
        }
    }
    Ok(())
}

/// How many levels the fetcher thread reads ahead of the PVM.
const AHEAD_LEVELS: usize = 32;

/// A fetched block with receipts and the L1's inbox of it.
type Fetched = Result<(Value, Option<Vec<Vec<u8>>>), L1Error>;

/// The blocks `next..=last` fetched in order by a thread of their own (`l1-fetch`), at most
/// [`AHEAD_LEVELS`] ahead of the follower. The thread stops at its first error (handed over
/// in order) or when this is dropped. Blocks fetched ahead are checked like the others: a
/// reorganisation since shows as a predecessor that is not the stored level's hash.
struct Ahead {
    next: u32,
    last: u32,
    rx: mpsc::Receiver<Fetched>,
    stop: Arc<AtomicBool>,
}

impl Ahead {
    fn start(fetch: Box<dyn BlockFetch>, first: u32, last: u32) -> Ahead {
        let (tx, rx) = mpsc::sync_channel(AHEAD_LEVELS);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("l1-fetch".into())
            .spawn(move || {
                for level in first..=last {
                    if stopped.load(Ordering::Relaxed) {
                        return;
                    }
                    let fetched = fetch
                        .block(level)
                        .and_then(|b| Ok((b, fetch.inbox(level)?)));
                    let failed = fetched.is_err();
                    if tx.send(fetched).is_err() || failed {
                        return;
                    }
                }
            })
            .expect("spawning a thread");
        Ahead {
            next: first,
            last,
            rx,
            stop,
        }
    }

    /// Block `level` if it is the next one this fetcher has (waiting for it); `None` if it is
    /// not or the fetcher ended.
    fn take(&mut self, level: u32) -> Option<Fetched> {
        if level != self.next || level > self.last {
            return None;
        }
        let fetched = self.rx.recv().ok()?;
        self.next += 1;
        Some(fetched)
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Total ticks after `level` (0 at or before origination).
fn ticks_at(store: &Store, level: u32) -> Result<u128, FollowError> {
    Ok(store.level(level)?.map_or(0, |r| r.total_ticks))
}

fn lcc_of(v: &Value) -> Option<(String, u32)> {
    let hash = v.get("hash")?.as_str()?.to_string();
    let level = u32::try_from(v.get("level")?.as_u64()?).ok()?;
    Some((hash, level))
}

/// Feeds one level to the PVM and runs it to the end, waiting for missing preimages.
fn run_level(
    pvm: &mut Pvm,
    level: u32,
    pred: &(String, i64),
    messages: &[Vec<u8>],
    reveal: &mut PreimageDir,
) -> Result<(), FollowError> {
    let pred_hash = BlockHash::from_b58check(&pred.0).map_err(|e| FollowError::Pvm {
        level,
        message: format!("predecessor hash {}: {e}", pred.0),
    })?;
    let mut status = pvm
        .step_level(level, pred.1, &pred_hash.0, messages, reveal)
        .map_err(pvm_err(level))?;
    while status == Status::WaitingForReveal {
        let missing = reveal.take_error().map_or_else(
            || "a reveal the node cannot answer".to_string(),
            |e| e.to_string(),
        );
        tracing::warn!("level {level}: the kernel waits for {missing}; retrying in 2s");
        std::thread::sleep(Duration::from_secs(2));
        let Some(request) = pvm.pending_reveal().cloned() else {
            break;
        };
        if let Some(data) = soru_core::reveal::Reveal::reveal(reveal, &request) {
            pvm.resume_reveal(&data, reveal).map_err(pvm_err(level))?;
            status = pvm.finish_level(reveal).map_err(pvm_err(level))?;
        }
    }
    Ok(())
}

fn block_hash_and_time(block: &Value) -> Option<(String, i64)> {
    let hash = block.get("hash")?.as_str()?.to_string();
    let ts = parse_rfc3339(block.pointer("/header/timestamp")?.as_str()?)?;
    Some((hash, ts))
}

/// The kernel of the applied `smart_rollup_originate` whose result address is `sr1`.
fn find_origination(block: &Value, sr1: &str) -> Option<Vec<u8>> {
    for op in block.pointer("/operations/3")?.as_array()? {
        for c in op.get("contents")?.as_array()? {
            let result = c.pointer("/metadata/operation_result");
            if c.get("kind").and_then(Value::as_str) == Some("smart_rollup_originate")
                && result
                    .and_then(|r| r.get("address"))
                    .and_then(Value::as_str)
                    == Some(sr1)
                && result.and_then(|r| r.get("status")).and_then(Value::as_str) == Some("applied")
            {
                return hex::decode(c.get("kernel")?.as_str()?).ok();
            }
        }
    }
    None
}

/// Catch-up progress on the log: levels per second and how far behind, every two seconds.
struct Progress {
    since: Instant,
    levels: u32,
    announced_sync: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            since: Instant::now(),
            levels: 0,
            announced_sync: false,
        }
    }

    fn tick(&mut self, level: u32, l1_level: u32) {
        self.levels += 1;
        let elapsed = self.since.elapsed();
        if elapsed >= Duration::from_secs(2) && l1_level > level {
            tracing::info!(
                "catching up: level {level}, behind by {}, {:.1} levels/s",
                l1_level - level,
                f64::from(self.levels) / elapsed.as_secs_f64()
            );
            self.since = Instant::now();
            self.levels = 0;
        }
        self.announced_sync = false;
    }

    fn done(&mut self, level: u32) {
        if !self.announced_sync {
            tracing::info!("synchronized with the L1 at level {level}");
            self.announced_sync = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    /// Answers `{"level": n}` for every block, fails at `fail_at`, and counts the blocks asked.
    struct FakeFetch {
        fail_at: u32,
        asked: Arc<AtomicU32>,
    }

    impl BlockFetch for FakeFetch {
        fn block(&self, level: u32) -> Result<Value, L1Error> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            if level == self.fail_at {
                return Err(L1Error::Http {
                    url: format!("/chains/main/blocks/{level}"),
                    message: "HTTP 500".into(),
                });
            }
            Ok(json!({ "level": level }))
        }
        fn inbox(&self, level: u32) -> Result<Option<Vec<Vec<u8>>>, L1Error> {
            Ok(Some(vec![vec![level as u8]]))
        }
    }

    fn fake(fail_at: u32) -> (Box<dyn BlockFetch>, Arc<AtomicU32>) {
        let asked = Arc::new(AtomicU32::new(0));
        let f = FakeFetch {
            fail_at,
            asked: asked.clone(),
        };
        (Box::new(f), asked)
    }

    #[test]
    fn the_fetcher_hands_over_levels_in_order_and_stops_at_its_first_error() {
        let (f, asked) = fake(5);
        let mut ahead = Ahead::start(f, 2, 8);
        assert!(ahead.take(3).is_none(), "not the next level");
        for level in 2..=4 {
            let (block, inbox) = ahead.take(level).unwrap().unwrap();
            assert_eq!(block["level"], level);
            assert_eq!(inbox, Some(vec![vec![level as u8]]));
        }
        assert!(matches!(ahead.take(5), Some(Err(L1Error::Http { .. }))));
        assert!(ahead.take(6).is_none(), "nothing after an error");
        assert_eq!(asked.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn the_fetcher_reads_a_bounded_distance_ahead_and_stops_when_dropped() {
        let (f, asked) = fake(u32::MAX);
        let mut ahead = Ahead::start(f, 1, 10_000);
        assert!(ahead.take(1).unwrap().is_ok());
        std::thread::sleep(Duration::from_millis(200));
        let n = asked.load(Ordering::SeqCst);
        // One handed over, AHEAD_LEVELS queued, one waiting to be queued.
        assert!(n as usize <= AHEAD_LEVELS + 2, "{n} blocks asked");
        drop(ahead);
        std::thread::sleep(Duration::from_millis(100));
        let after = asked.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(asked.load(Ordering::SeqCst), after, "still fetching");
        assert!(after <= n + 1);
    }

    fn scratch_store(name: &str) -> Arc<Store> {
        let dir = std::env::temp_dir().join(format!("soru-follower-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Arc::new(Store::open(&dir).unwrap())
    }

    fn processed(level: u32, tree: Tree) -> Processed {
        Processed {
            record: LevelRecord {
                level,
                hash: format!("B{level}"),
                predecessor: format!("B{}", level - 1),
                timestamp: i64::from(level),
                messages: vec![vec![level as u8]],
                state_hash: StateHash(tree.hash()).to_b58check(),
                ticks: 1,
                total_ticks: u128::from(level),
                status: "Waiting for input message".into(),
                outbox: Vec::new(),
                commitment: None,
                protocol: None,
                inbox: None,
            },
            commitment: None,
            tree,
            executed: Vec::new(),
        }
    }

    fn state(level: u32) -> Tree {
        let mut t = Tree::empty();
        t.set_value(&[b"level"], &level.to_be_bytes()).unwrap();
        t
    }

    #[test]
    fn memory_holds_the_genesis_cemented_and_latest_states_only() {
        let mut states: BTreeMap<u32, Tree> = (10..=200).map(|l| (l, state(l))).collect();
        keep_latest_states(&mut states, &[Some(10), Some(20), None]);
        assert_eq!(states.len(), STATES_IN_MEMORY + 2);
        let held: Vec<u32> = states.keys().copied().collect();
        assert_eq!(
            held[..2],
            [10, 20],
            "the genesis and the cemented states stay"
        );
        assert_eq!(held[2], 200 - STATES_IN_MEMORY as u32 + 1);
        assert_eq!(states[&200].hash(), state(200).hash());
        // Levels published one by one: memory stays bounded whatever the chain's length.
        let mut shared = Shared {
            lcc: Some((String::new(), 2)),
            ..Shared::default()
        };
        for level in 1..=3 * STATES_IN_MEMORY as u32 {
            shared.hold_state(level, state(level));
            assert!(shared.states.len() <= STATES_IN_MEMORY + 1);
            assert!(shared.states.contains_key(&level));
        }
        assert!(shared.states.contains_key(&2), "the cemented state stays");
        assert!(!shared.states.contains_key(&3));
    }

    #[test]
    fn the_writer_stores_batches_in_order_and_publishes_only_what_is_stored() {
        let store = scratch_store("writer");
        let shared = Arc::new(RwLock::new(Shared::default()));
        let mut unwritten = Unwritten::new(store.clone(), shared.clone());
        for batch in [1..=3, 4..=4, 5..=9] {
            let end = *batch.end();
            for level in batch {
                unwritten.levels.push(processed(level, state(level)));
            }
            unwritten.write().unwrap();
            // Levels being written (or just written) are found without the store.
            let last = unwritten.last_level().or(shared.read().unwrap().head);
            assert_eq!(last, Some(end));
            assert_eq!(unwritten.record(end).map(|r| r.level), Some(end));
        }
        assert!(unwritten.record(9).is_some());
        unwritten.flush().unwrap();
        assert!(unwritten.inflight.is_empty() && unwritten.levels.is_empty());
        assert_eq!(unwritten.tip.as_ref().map(|p| p.record.level), Some(9));
        assert_eq!(unwritten.record(9).map(|r| r.level), Some(9));
        assert_eq!(shared.read().unwrap().head, Some(9));
        for level in 1..=9 {
            let r = store.level(level).unwrap().unwrap();
            assert_eq!(r, processed(level, state(level)).record);
            assert_eq!(
                store.state(&r.state_hash).unwrap().hash(),
                state(level).hash()
            );
            assert!(shared.read().unwrap().states.contains_key(&level));
        }
    }

    #[test]
    fn a_failed_batch_is_stored_not_at_all_and_fails_the_follower() {
        let store = scratch_store("writer-fails");
        let shared = Arc::new(RwLock::new(Shared::default()));
        let mut unwritten = Unwritten::new(store.clone(), shared.clone());
        unwritten.levels.push(processed(1, state(1)));
        unwritten.flush().unwrap();
        // A proof tree cannot be stored: the batch's transaction fails as a whole.
        let mut blinded = state(3);
        blinded
            .set_subtree(&[b"x"], Tree::blinded_value([3; 32]))
            .unwrap();
        unwritten.levels.push(processed(2, state(2)));
        unwritten.levels.push(processed(3, blinded));
        let failed = unwritten.write().and_then(|()| unwritten.flush());
        assert!(
            matches!(&failed, Err(FollowError::Store(StoreError::Record(what, _))) if what == "tree_nodes"),
            "{failed:?}"
        );
        assert!(store.level(2).unwrap().is_none());
        assert_eq!(shared.read().unwrap().head, Some(1));
        // The follower stops: every later write fails too.
        unwritten.levels.push(processed(4, state(4)));
        assert!(unwritten.flush().is_err());
    }
}
