//! The operator's side of the node: the wallet, the injector (signs and injects L1 manager
//! operations) and the duties of the `operating` and `cementing` purposes.
//!
//! Each new L1 head the follower calls [`Operator::on_head`]:
//! - **operating**: publish, in order, every commitment the node computed above the one its key
//!   is staked on (read from the L1: `staker/<pkh>/staked_on_commitment`), as long as its inbox
//!   level is below the head (octez's `commitment_from_future` rule), and only once the shared
//!   inbox the node rebuilt for the commitment's inbox level equals the L1's
//!   (`context/smart_rollups/all/inbox` at that level; octez's `Inbox.same_as_layer_1`): on a
//!   mismatch nothing is published and [`Operator::inconsistent_inbox`] names both inboxes;
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
use soru_core::inbox::{Inbox, InboxHash};
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

/// The node's rebuilt inbox differs from the L1's at a commitment's inbox level (octez's
/// `internal.inconsistent_inbox`): the commitment is not published.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("inconsistent inbox at level {level} (octez's internal.inconsistent_inbox): the rollup node's inbox is {node_inbox} (level {node_level}), the L1's is {layer1_inbox} (level {layer1_level}); commitment {commitment} is not published")]
pub struct InconsistentInbox {
    /// The commitment's inbox level, where the inboxes were compared.
    pub level: i32,
    /// The hash (`srib1...`) of the inbox the node rebuilt.
    pub node_inbox: String,
    /// Its `level` field.
    pub node_level: i32,
    /// The hash of the inbox the L1 answered.
    pub layer1_inbox: String,
    /// Its `level` field.
    pub layer1_level: i32,
    /// The commitment that is not published (`src1...`).
    pub commitment: String,
}

impl InconsistentInbox {
    /// The error as `/health` shows it: octez's id, the fields and the message.
    pub fn to_json(&self) -> Value {
        json!({
            "id": "internal.inconsistent_inbox",
            "level": self.level,
            "inbox": self.node_inbox,
            "inbox_level": self.node_level,
            "layer1_inbox": self.layer1_inbox,
            "layer1_inbox_level": self.layer1_level,
            "commitment": self.commitment,
            "message": self.to_string(),
        })
    }
}

/// Compares the node's inbox after `level` with the L1's (octez's `Inbox.same_as_layer_1`):
/// `Ok(Ok(hash))` when they are equal, `Ok(Err(..))` naming both when they differ, `Err` when
/// the L1 could not be asked or the node has no inbox for the level.
pub fn same_as_layer_1(
    l1: &dyn Layer1,
    level: i32,
    node_inbox: Option<&Inbox>,
    commitment: &str,
) -> Result<Result<InboxHash, InconsistentInbox>, String> {
    let ours =
        node_inbox.ok_or_else(|| format!("the node has no rebuilt inbox for level {level}"))?;
    let theirs = l1
        .shared_inbox(&level.to_string())
        .map_err(|e| e.to_string())?;
    if &theirs == ours {
        return Ok(Ok(ours.hash()));
    }
    Ok(Err(InconsistentInbox {
        level,
        node_inbox: ours.hash().to_b58check(),
        node_level: ours.level,
        layer1_inbox: theirs.hash().to_b58check(),
        layer1_level: theirs.level,
        commitment: commitment.to_string(),
    }))
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
    /// Commitment levels whose L1 inbox was found equal to the node's, with the inbox hash.
    inbox_checked: BTreeMap<i32, InboxHash>,
    /// The last inbox check that failed, until a check succeeds.
    inconsistent: Option<InconsistentInbox>,
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
            inbox_checked: BTreeMap::new(),
            inconsistent: None,
        })
    }

    /// The inbox mismatch that keeps the node from publishing, if any (shown by `/health`).
    pub fn inconsistent_inbox(&self) -> Option<&InconsistentInbox> {
        self.inconsistent.as_ref()
    }

    /// Whether the node may publish `commitment` (hash `hash`) of `inbox_level`: its inbox
    /// there equals the L1's. Checked once per level and inbox; failures are logged.
    fn inbox_agrees(
        &mut self,
        l1: &dyn Layer1,
        inbox_level: i32,
        hash: &str,
        inbox_at: &dyn Fn(u32) -> Option<Inbox>,
    ) -> bool {
        let ours = u32::try_from(inbox_level).ok().and_then(inbox_at);
        if let (Some(ours), Some(checked)) = (&ours, self.inbox_checked.get(&inbox_level)) {
            if ours.hash() == *checked {
                return true;
            }
        }
        match same_as_layer_1(l1, inbox_level, ours.as_ref(), hash) {
            Ok(Ok(inbox)) => {
                if self.inconsistent.take().is_some() {
                    tracing::info!(
                        "the inbox at level {inbox_level} ({inbox}) now equals the L1's"
                    );
                }
                tracing::debug!("inbox at level {inbox_level} ({inbox}) equals the L1's");
                self.inbox_checked = self.inbox_checked.split_off(&inbox_level);
                self.inbox_checked.insert(inbox_level, inbox);
                true
            }
            Ok(Err(mismatch)) => {
                if self.inconsistent.as_ref() != Some(&mismatch) {
                    tracing::error!("{mismatch}");
                }
                self.inconsistent = Some(mismatch);
                false
            }
            Err(e) => {
                tracing::warn!("publishing commitment {hash}: cannot check the inbox: {e}");
                false
            }
        }
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
    /// L1's last cemented commitment's level; `inbox_at` the node's rebuilt shared inbox after
    /// a level, which must equal the L1's before a commitment of that level is published.
    pub fn on_head(
        &mut self,
        l1: &dyn Layer1,
        head_level: u32,
        commitments: &BTreeMap<i32, Commitment>,
        lcc_level: Option<u32>,
        inbox_at: &dyn Fn(u32) -> Option<Inbox>,
    ) -> Result<(), L1Error> {
        self.batch(l1, head_level);
        let sr1 = self.rollup.to_b58check();
        let mut staked_level = None;
        if let Some(source) = self.publisher.as_ref().map(|p| p.source().to_b58check()) {
            let path = format!(
                "context/smart_rollups/smart_rollup/{sr1}/staker/{source}/staked_on_commitment"
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
                let hash = commitment.hash().to_b58check();
                if again && self.inbox_agrees(l1, inbox_level, &hash, inbox_at) {
                    let publisher = self.publisher.as_ref().expect("a publisher's source");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::l1::{Header, SHARED_INBOX_PATH};
    use soru_core::commitment::StateHash;
    use soru_core::inbox::level_payloads;

    /// An L1 test double: answers what publishing asks, with `inbox` as its shared inbox, and
    /// records the inbox requests and the injected operations.
    struct FakeL1 {
        inbox: Mutex<Value>,
        asked: Mutex<Vec<String>>,
        posted: Mutex<Vec<Value>>,
    }

    impl Layer1 for FakeL1 {
        fn head(&self) -> Result<Header, L1Error> {
            unreachable!("the operator does not ask for the head header")
        }
        fn block(&self, _: u32) -> Result<Value, L1Error> {
            unreachable!("the operator does not read blocks")
        }
        fn block_rpc(&self, block: &str, path: &str) -> Result<Value, L1Error> {
            Ok(match path {
                "hash" => json!(BlockHash([5; 32]).to_b58check()),
                SHARED_INBOX_PATH => {
                    self.asked.lock().unwrap().push(block.to_string());
                    self.inbox.lock().unwrap().clone()
                }
                p if p.ends_with("/counter") => json!("7"),
                p if p.ends_with("/manager_key") => json!("edpk-revealed"),
                p if p.ends_with("/staked_on_commitment") => Value::Null,
                p => {
                    return Err(L1Error::Http {
                        url: p.into(),
                        message: "HTTP 404".into(),
                    })
                }
            })
        }
        fn post(&self, _: &str, body: &Value) -> Result<Value, L1Error> {
            self.posted.lock().unwrap().push(body.clone());
            Ok(json!("ooFake"))
        }
        fn inbox(&self, _: u32) -> Result<Option<Vec<Vec<u8>>>, L1Error> {
            Ok(None)
        }
        fn wait_for_head(&self, _: u32, _: std::time::Duration) {}
    }

    const SR1: &str = "sr163Lv22CdE8QagCwf48PWDTquk6isQwv57";

    fn operator() -> Operator {
        let key = SecretKey::from_seed(&[1; 32]);
        let pkh = key.public_key().hash();
        let wallet = Wallet(BTreeMap::from([(pkh.to_b58check(), key)]));
        let operators = BTreeMap::from([(Purpose::Operating, pkh)]);
        let rollup = SmartRollupAddress::from_b58check(SR1).unwrap();
        Operator::new(rollup, &operators, &wallet, &[]).unwrap()
    }

    /// The node's inbox after level 5 (a chain from level 3).
    fn inbox_at_5() -> Inbox {
        let p = |n: u8| level_payloads(i64::from(n), &BlockHash([n; 32]), None, &[vec![1, n]]);
        let g = Inbox::genesis(3, &p(3)).unwrap();
        g.next_level(&p(4)).unwrap().next_level(&p(5)).unwrap()
    }

    fn commitments() -> BTreeMap<i32, Commitment> {
        BTreeMap::from([(
            5,
            Commitment {
                compressed_state: StateHash([2; 32]),
                inbox_level: 5,
                predecessor: CommitmentHash([3; 32]),
                number_of_ticks: 11,
            },
        )])
    }

    #[test]
    fn a_commitment_is_published_only_when_the_l1_inbox_is_the_node_s() {
        let ours = inbox_at_5();
        let inbox_at = |level: u32| (level == 5).then(|| ours.clone());
        let l1 = FakeL1 {
            inbox: Mutex::new(ours.to_json()),
            asked: Mutex::default(),
            posted: Mutex::default(),
        };
        let mut op = operator();
        op.on_head(&l1, 7, &commitments(), None, &inbox_at).unwrap();
        assert_eq!(
            *l1.asked.lock().unwrap(),
            ["5"],
            "asked at the commitment level"
        );
        assert_eq!(l1.posted.lock().unwrap().len(), 1, "published");
        assert!(op.inconsistent_inbox().is_none());
        // Publishing again (not included after 3 heads) reuses the check.
        op.on_head(&l1, 10, &commitments(), None, &inbox_at)
            .unwrap();
        assert_eq!(l1.posted.lock().unwrap().len(), 2);
        assert_eq!(l1.asked.lock().unwrap().len(), 1);

        // An L1 whose inbox differs: nothing is published, the error names both inboxes.
        let mut forged = ours.to_json();
        forged["old_levels_messages"]["content"]["hash"] =
            json!(soru_core::inbox::MerkelizedPayloadsHash([9; 32]).to_b58check());
        let theirs = Inbox::from_json(&forged).unwrap();
        *l1.inbox.lock().unwrap() = forged;
        l1.posted.lock().unwrap().clear();
        let mut op = operator();
        for head in [7, 8, 11] {
            op.on_head(&l1, head, &commitments(), None, &inbox_at)
                .unwrap();
        }
        assert!(l1.posted.lock().unwrap().is_empty(), "nothing published");
        let e = op.inconsistent_inbox().expect("a mismatch").clone();
        assert_eq!(e.level, 5);
        assert_eq!(e.node_inbox, ours.hash().to_b58check());
        assert_eq!(e.layer1_inbox, theirs.hash().to_b58check());
        assert_eq!(e.commitment, commitments()[&5].hash().to_b58check());
        let text = e.to_string();
        assert!(
            text.contains("level 5")
                && text.contains(&e.node_inbox)
                && text.contains(&e.layer1_inbox),
            "{text}"
        );
        assert_eq!(e.to_json()["id"], "internal.inconsistent_inbox");

        // A malformed answer is no mismatch, but nothing is published either (no panic).
        *l1.inbox.lock().unwrap() = json!({"level": 5});
        let mut fresh = operator();
        fresh
            .on_head(&l1, 7, &commitments(), None, &inbox_at)
            .unwrap();
        assert!(l1.posted.lock().unwrap().is_empty());
        assert!(fresh.inconsistent_inbox().is_none());
        // No rebuilt inbox for the level: not published.
        *l1.inbox.lock().unwrap() = ours.to_json();
        fresh
            .on_head(&l1, 7, &commitments(), None, &|_| None)
            .unwrap();
        assert!(l1.posted.lock().unwrap().is_empty());

        // Once the L1 agrees, the node publishes and the mismatch is cleared.
        op.on_head(&l1, 12, &commitments(), None, &inbox_at)
            .unwrap();
        assert_eq!(l1.posted.lock().unwrap().len(), 1);
        assert!(op.inconsistent_inbox().is_none());
    }
}
