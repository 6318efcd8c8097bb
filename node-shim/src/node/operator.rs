//! The operator's side of the node: the wallet, the injector (signs and injects L1 manager
//! operations) and the duties of the `operating` and `cementing` purposes.
//!
//! Each new L1 head the follower calls [`Operator::on_head`]:
//! - **operating**: publish, in order, every commitment the node computed above the one its key
//!   is staked on (read from the L1: `staker/<pkh>/staked_on_commitment`), as long as its inbox
//!   level is below the head (octez's `commitment_from_future` rule);
//! - **cementing**: when the L1's last cemented commitment is older than the node's staked one,
//!   inject `smart_rollup_cement`; an answer such as `commitment_too_recent` means "later";
//! - **executing_outbox**: execute, against the last cemented commitment, the cemented outbox
//!   messages `execute-outbox-messages-filter` accepts ([`super::outbox_filter`]), one per head;
//! - **batching**: inject the next batch of the [`Batcher`]'s queue as `smart_rollup_add_messages`
//!   (one operation per head, so counters never collide).
//!
//! Every operation is built on the head (`branch`), with the source's next counter, a reveal
//! first if the key is not revealed yet, and fixed limits that cover what these operations cost.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use soru_core::commitment::{Commitment, CommitmentHash};
use soru_core::encoding::address::{PublicKeyHash, SmartRollupAddress};
use soru_core::encoding::inbox::BlockHash;
use soru_core::encoding::keys::SecretKey;
use soru_core::encoding::operation::{ManagerOperation, Operation, OperationKind};
use soru_core::encoding::outbox::OutboxMessage;
use soru_core::output_proof::{produce_output_proof, Layout};
use soru_core::tree::Tree;

use super::batcher::Batcher;
use super::config::Purpose;
use super::l1::{L1Error, Layer1};
use super::outbox_filter::{self, OutboxFilter};

/// Fee (mutez), gas limit and storage limit of each injected operation.
const FEE: u64 = 2_000;
const GAS_LIMIT: u64 = 10_000;
const STORAGE_LIMIT: u64 = 0;
/// Executing an outbox message runs its contract calls, which may store data (a received
/// ticket, a record): more gas, and storage paid for what is really used.
const EXECUTE_GAS_LIMIT: u64 = 100_000;
const EXECUTE_STORAGE_LIMIT: u64 = 10_000;

/// Secret keys by address, from a wallet file in `soru sandbox`'s `wallet.json` format.
#[derive(Default)]
pub struct Wallet(BTreeMap<String, SecretKey>);

impl Wallet {
    /// Reads `[{"address": "tz1..", "secret_key": "edsk.."}, ...]`; names the file and entry
    /// at fault.
    pub fn load(path: &Path) -> Result<Wallet, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("wallet {}: {e}", path.display()))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| format!("wallet {}: not JSON: {e}", path.display()))?;
        let entries = v
            .as_array()
            .ok_or_else(|| format!("wallet {}: expected an array of accounts", path.display()))?;
        let mut keys = BTreeMap::new();
        for (i, e) in entries.iter().enumerate() {
            let sk = e
                .get("secret_key")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("wallet {} entry {i}: no `secret_key`", path.display()))?;
            let key = SecretKey::from_b58check(sk.strip_prefix("unencrypted:").unwrap_or(sk))
                .map_err(|e| format!("wallet {} entry {i}: secret_key: {e}", path.display()))?;
            keys.insert(key.public_key().hash().to_b58check(), key);
        }
        Ok(Wallet(keys))
    }

    /// The key of `pkh`.
    pub fn key(&self, pkh: &PublicKeyHash) -> Option<&SecretKey> {
        self.0.get(&pkh.to_b58check())
    }
}

/// The last counter a key used, and on which head: duties sharing a key inject on one head
/// with consecutive counters instead of clashing.
pub type LastCounter = Arc<Mutex<Option<(String, u64)>>>;

/// Signs and injects manager operations from one key.
pub struct Injector {
    key: SecretKey,
    source: PublicKeyHash,
    last: LastCounter,
}

impl Injector {
    /// An injector for `key`; injectors of one key should share `last`.
    pub fn new(key: SecretKey, last: LastCounter) -> Injector {
        let source = key.public_key().hash();
        Injector { key, source, last }
    }

    /// The source address.
    pub fn source(&self) -> &PublicKeyHash {
        &self.source
    }

    /// Builds `kind` on the L1 head (with a reveal first when the key is not revealed), signs
    /// it and injects it; returns the operation hash and the index of `kind` in its contents.
    pub fn inject(&self, l1: &dyn Layer1, kind: OperationKind) -> Result<(String, usize), L1Error> {
        let pkh = self.source.to_b58check();
        let head = l1.block_rpc("head", "hash")?;
        let branch = head
            .as_str()
            .and_then(|h| BlockHash::from_b58check(h).ok())
            .ok_or_else(|| L1Error::Shape {
                url: "/chains/main/blocks/head/hash".into(),
                message: format!("not a block hash: {head}"),
            })?;
        let counter_path = format!("context/contracts/{pkh}/counter");
        let counter = l1.block_rpc("head", &counter_path)?;
        let mut counter: u64 = counter
            .as_str()
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| L1Error::Shape {
                url: counter_path.clone(),
                message: format!("not a counter: {counter}"),
            })?;
        let head_hash = head.as_str().unwrap_or_default().to_string();
        let mut last = self.last.lock().expect("lock");
        if let Some((h, used)) = last.as_ref() {
            if *h == head_hash {
                counter = counter.max(*used);
            }
        }
        let revealed = !l1
            .block_rpc("head", &format!("context/contracts/{pkh}/manager_key"))?
            .is_null();
        let mut contents = Vec::new();
        let mut manager = |kind: OperationKind| {
            counter += 1;
            let (gas_limit, storage_limit) = match kind {
                OperationKind::SmartRollupExecuteOutboxMessage { .. } => {
                    (EXECUTE_GAS_LIMIT, EXECUTE_STORAGE_LIMIT)
                }
                _ => (GAS_LIMIT, STORAGE_LIMIT),
            };
            ManagerOperation {
                source: self.source,
                fee: FEE,
                counter,
                gas_limit,
                storage_limit,
                kind,
            }
        };
        if !revealed {
            contents.push(manager(OperationKind::Reveal {
                public_key: self.key.public_key(),
                proof: None,
            }));
        }
        contents.push(manager(kind));
        let index = contents.len() - 1;
        let mut op = Operation {
            branch,
            contents,
            signature: None,
        };
        op.signature = Some(self.key.sign_operation(&op.forge()));
        let answer = l1.post("/injection/operation", &json!(hex::encode(op.encode())))?;
        *last = Some((head_hash, counter));
        Ok((answer.as_str().unwrap_or_default().to_string(), index))
    }
}

/// The operator duties of a node (see the module documentation).
pub struct Operator {
    rollup: SmartRollupAddress,
    publisher: Option<Injector>,
    cementer: Option<Injector>,
    /// The last commitment level injected for publication, and at which L1 level, so one
    /// publication is not injected again before it had a chance to be included.
    in_flight: Option<(i32, u32)>,
    /// The L1 level of the last cement injection.
    cemented_at: Option<u32>,
    /// The batching purpose: its injector and the queue the RPC fills.
    batcher: Option<(Injector, Arc<Mutex<Batcher>>)>,
    /// The executing_outbox purpose.
    executor: Option<Executor>,
}

/// Executions of one message whose effect the L1 never showed before the executor gives up.
const MAX_EXECUTIONS: u32 = 3;

/// The `executing_outbox` duty: the cemented outbox messages the filter accepts, executed one
/// per head until the L1 lists them as consumed.
struct Executor {
    injector: Injector,
    filters: Vec<OutboxFilter>,
    /// The last outbox level whose messages were queued in `pending`.
    scanned: Option<u32>,
    /// Accepted messages not known to be consumed: (outbox level, index) → the head of the
    /// last injection and how many there were.
    pending: BTreeMap<(u32, u64), Option<(u32, u32)>>,
}

impl Operator {
    /// The duties `purposes` give, with keys from `wallet`; an operator key missing from the
    /// wallet is an error naming it.
    pub fn new(
        rollup: SmartRollupAddress,
        operators: &BTreeMap<Purpose, PublicKeyHash>,
        wallet: &Wallet,
        filters: &[OutboxFilter],
    ) -> Result<Operator, String> {
        let mut counters: BTreeMap<String, LastCounter> = BTreeMap::new();
        let mut injector = |p: Purpose| -> Result<Option<Injector>, String> {
            let Some(pkh) = operators.get(&p) else {
                return Ok(None);
            };
            let key = wallet.key(pkh).ok_or_else(|| {
                format!(
                    "the {p} operator {pkh} has no secret key in the wallet (pass --wallet FILE)"
                )
            })?;
            let last = counters.entry(pkh.to_b58check()).or_default().clone();
            Ok(Some(Injector::new(key.clone(), last)))
        };
        Ok(Operator {
            rollup,
            publisher: injector(Purpose::Operating)?,
            cementer: injector(Purpose::Cementing)?,
            in_flight: None,
            cemented_at: None,
            batcher: injector(Purpose::Batching)?
                .map(|i| (i, Arc::new(Mutex::new(Batcher::default())))),
            executor: injector(Purpose::ExecutingOutbox)?.map(|injector| Executor {
                injector,
                filters: filters.to_vec(),
                scanned: None,
                pending: BTreeMap::new(),
            }),
        })
    }

    /// Whether this operator has anything to do.
    pub fn is_active(&self) -> bool {
        self.publisher.is_some()
            || self.cementer.is_some()
            || self.batcher.is_some()
            || self.executor.is_some()
    }

    /// Whether the node executes outbox messages and some wait for it.
    pub fn is_executing(&self) -> bool {
        self.executor
            .as_ref()
            .is_some_and(|e| !e.pending.is_empty())
    }

    /// The outbox levels the executor has not looked at yet, up to `lcc_level` (none when the
    /// node does not execute outbox messages).
    pub fn outbox_levels_to_scan(
        &self,
        lcc_level: u32,
        oldest: u32,
    ) -> std::ops::RangeInclusive<u32> {
        match &self.executor {
            Some(e) => e.scanned.map_or(oldest, |s| s + 1).max(oldest)..=lcc_level,
            #[allow(clippy::reversed_empty_ranges)]
            None => 1..=0,
        }
    }

    /// The `executing_outbox` duty of one head: `outboxes` are the outbox messages of the
    /// levels [`Operator::outbox_levels_to_scan`] gave, `state` the state at the last
    /// cemented commitment `lcc` (hash, level). Queues the messages the filter accepts and
    /// executes the first one the L1 has not consumed.
    pub fn execute_outbox(
        &mut self,
        l1: &dyn Layer1,
        head_level: u32,
        lcc: (&str, u32),
        state: &Tree,
        outboxes: &[(u32, Vec<Vec<u8>>)],
    ) {
        let rollup = self.rollup;
        let Some(e) = self.executor.as_mut() else {
            return;
        };
        for (level, messages) in outboxes {
            for (i, m) in messages.iter().enumerate() {
                match OutboxMessage::decode(m) {
                    Ok(msg) if outbox_filter::accepted(&e.filters, &msg) => {
                        e.pending.insert((*level, i as u64), None);
                    }
                    _ => {}
                }
            }
            e.scanned = Some(e.scanned.map_or(*level, |s| s.max(*level)));
        }
        e.scanned = Some(e.scanned.map_or(lcc.1, |s| s.max(lcc.1)));
        let sr1 = rollup.to_b58check();
        let candidates: Vec<(u32, u64)> = e
            .pending
            .iter()
            .filter(|(_, at)| at.is_none_or(|(at, _)| head_level >= at + 5))
            .map(|(k, _)| *k)
            .collect();
        for (level, index) in candidates {
            let path = format!("context/smart_rollups/smart_rollup/{sr1}/consumed_outputs/{level}");
            match l1.block_rpc("head", &path) {
                Ok(v)
                    if v.as_array()
                        .is_some_and(|c| c.iter().any(|x| x.as_u64() == Some(index))) =>
                {
                    e.pending.remove(&(level, index));
                    continue;
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::debug!("executor: consumed outputs of level {level}: {err}");
                    return;
                }
            }
            let proof = match produce_output_proof(state, level, index, Layout::Obj2) {
                Ok(p) => p,
                Err(err) => {
                    tracing::warn!(
                        "executor: no proof for outbox message {index} of level {level}: {err}"
                    );
                    e.pending.remove(&(level, index));
                    continue;
                }
            };
            let Ok(cemented_commitment) = CommitmentHash::from_b58check(lcc.0) else {
                return;
            };
            match e.injector.inject(
                l1,
                OperationKind::SmartRollupExecuteOutboxMessage {
                    rollup,
                    cemented_commitment,
                    output_proof: proof,
                },
            ) {
                Ok((op, _)) => {
                    let tries = e
                        .pending
                        .get(&(level, index))
                        .copied()
                        .flatten()
                        .map_or(1, |(_, n)| n + 1);
                    if tries > MAX_EXECUTIONS {
                        tracing::warn!("executor: outbox message {index} of level {level} is still not consumed after {MAX_EXECUTIONS} executions; given up");
                        e.pending.remove(&(level, index));
                    } else {
                        tracing::info!(
                            "executor: outbox message {index} of level {level} executed in {op}"
                        );
                        e.pending.insert((level, index), Some((head_level, tries)));
                    }
                }
                Err(err) => {
                    // A message the L1 refuses for good (its contract call fails, a wrong
                    // proof: octez's `permanent` errors) is not tried again; a counter or
                    // branch clash with another duty of the same key is, at the next head.
                    let permanent = err.to_string().contains(r#""kind":"permanent""#);
                    tracing::warn!(
                        "executor: outbox message {index} of level {level}{}: {err}",
                        if permanent {
                            " (given up)"
                        } else {
                            " (retried at the next head)"
                        }
                    );
                    if permanent {
                        e.pending.remove(&(level, index));
                    }
                }
            }
            return;
        }
    }

    /// The batcher's queue, if the node batches (shared with the RPC server).
    pub fn batcher(&self) -> Option<Arc<Mutex<Batcher>>> {
        self.batcher.as_ref().map(|(_, b)| b.clone())
    }

    /// Follows the batcher's injected operations into an L1 block the node processed.
    pub fn observe_block(&self, block: &Value, level: u32) {
        if let Some((_, b)) = &self.batcher {
            let mut b = b.lock().expect("lock");
            b.observe_block(block, level);
            b.forget_old(level);
        }
    }

    /// The batching duty of one head: queue again what no block took, inject the next batch.
    fn batch(&self, l1: &dyn Layer1, head_level: u32) {
        let Some((injector, queue)) = &self.batcher else {
            return;
        };
        let batch = {
            let mut q = queue.lock().expect("lock");
            let again = q.reinject_stale(head_level);
            if again > 0 {
                tracing::warn!("batcher: {again} messages no block included are queued again");
            }
            q.next_batch()
        };
        if batch.is_empty() {
            return;
        }
        let messages = batch.iter().map(|m| m.content.clone()).collect();
        match injector.inject(l1, OperationKind::SmartRollupAddMessages { messages }) {
            Ok((op, index)) => {
                tracing::info!("batcher: {} messages injected in {op}", batch.len());
                queue
                    .lock()
                    .expect("lock")
                    .injected(&batch, &op, index, head_level);
            }
            Err(e) => {
                tracing::warn!("batcher: injecting {} messages: {e}", batch.len());
                queue.lock().expect("lock").requeue(batch);
            }
        }
    }

    /// The duties of one L1 head: `commitments` are the node's, by inbox level; `lcc_level` the
    /// L1's last cemented commitment's level.
    pub fn on_head(
        &mut self,
        l1: &dyn Layer1,
        head_level: u32,
        commitments: &BTreeMap<i32, Commitment>,
        lcc_level: Option<u32>,
    ) -> Result<(), L1Error> {
        self.batch(l1, head_level);
        let sr1 = self.rollup.to_b58check();
        let mut staked_level = None;
        if let Some(publisher) = &self.publisher {
            let path = format!(
                "context/smart_rollups/smart_rollup/{sr1}/staker/{}/staked_on_commitment",
                publisher.source().to_b58check()
            );
            let staked = l1.block_rpc("head", &path)?;
            let level = staked
                .get("inbox_level")
                .and_then(Value::as_i64)
                .map(|l| l as i32);
            staked_level = level;
            let floor = level
                .unwrap_or(i32::MIN)
                .max(lcc_level.map_or(i32::MIN, |l| l as i32));
            let next = commitments
                .range(floor.saturating_add(1)..)
                .next()
                .filter(|(l, _)| (**l as i64) < i64::from(head_level));
            if let Some((&inbox_level, commitment)) = next {
                let again = match self.in_flight {
                    Some((l, at)) => l != inbox_level || head_level >= at + 3,
                    None => true,
                };
                if again {
                    let hash = commitment.hash().to_b58check();
                    match publisher.inject(
                        l1,
                        OperationKind::SmartRollupPublish {
                            rollup: self.rollup,
                            commitment: *commitment,
                        },
                    ) {
                        Ok((op, _)) => {
                            tracing::info!(
                                "published commitment {hash} (inbox level {inbox_level}) in {op}"
                            );
                            self.in_flight = Some((inbox_level, head_level));
                        }
                        Err(e) => tracing::warn!("publishing commitment {hash}: {e}"),
                    }
                }
            }
        }
        if let Some(cementer) = &self.cementer {
            let behind = match (staked_level, lcc_level) {
                (Some(s), Some(c)) => s > c as i32,
                (Some(_), None) => true,
                _ => self.publisher.is_none(),
            };
            if behind && self.cemented_at != Some(head_level) {
                self.cemented_at = Some(head_level);
                match cementer.inject(
                    l1,
                    OperationKind::SmartRollupCement {
                        rollup: self.rollup,
                    },
                ) {
                    Ok((op, _)) => tracing::info!("cement injected in {op}"),
                    Err(e) => tracing::debug!("cement not possible yet: {e}"),
                }
            }
        }
        Ok(())
    }
}
