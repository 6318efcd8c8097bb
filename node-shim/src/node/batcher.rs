//! The batcher (the `batching` purpose): L2 messages sent to `POST /local/batcher/injection`
//! wait in a queue; at each L1 head the node packs them into `smart_rollup_add_messages`
//! operations under the protocol's limits and injects them, then follows each message until a
//! block includes it (`GET /local/batcher/queue/<id>`). This module is the queue and its rules,
//! without I/O; [`super::operator`] injects the batches it hands out.
//!
//! As in octez: a message is at most [`MAX_MESSAGE_SIZE`] bytes; its id (`scmsg...`) is the
//! BLAKE2b hash of `(counter, content)` with the batcher's message counter, or of the content
//! alone with `drop_duplicate` (a message already queued is then not queued again); messages
//! go out by `order` (lowest first, messages without one last), then in arrival order. An
//! injected batch a block has not included within [`REINJECT_AFTER`] levels goes back to the
//! queue. The queue holds at most [`MAX_QUEUED`] messages, so memory stays bounded.
//!
//! Statuses are kept for a bounded history, as octez's injector and batcher do: an included
//! message's status is forgotten [`RETENTION_LEVELS`] levels after the block that included it
//! (octez's default `injector.retention_period`), and at most [`MAX_INCLUDED`] included
//! statuses are kept (octez's batched-message queue of 100,000), the oldest forgotten first.
//! A forgotten message's status is `unknown`; with `drop_duplicate` it may be queued again.

use std::collections::{BTreeMap, HashMap};

use blake2::digest::{Update, VariableOutput};
use serde_json::{json, Value};
use soru_core::encoding::base58::{self, SCMSG};
use soru_core::encoding::binary::{self, Zarith};

/// Longest L2 message (the protocol's `sc_rollup_message_size_limit`).
pub const MAX_MESSAGE_SIZE: usize = 4096;
/// Bytes of messages (each with its 4-byte length) in one `add_messages`: the protocol's 32 KiB
/// operation limit less room for the operation's envelope, a reveal and the signature.
pub const MAX_BATCH_BYTES: usize = 32 * 1024 - 1024;
/// Most messages the queue holds.
pub const MAX_QUEUED: usize = 100_000;
/// L1 levels after which an injected batch no block included is queued again.
pub const REINJECT_AFTER: u32 = 5;

/// Levels an included message's status is kept after its block (octez's default
/// `injector.retention_period`).
pub const RETENTION_LEVELS: u32 = 2048;
/// Most included messages whose status is kept.
pub const MAX_INCLUDED: usize = 100_000;

/// An L2 message id.
pub type MessageId = [u8; 32];

/// The `scmsg...` form of an id.
pub fn id_to_b58(id: &MessageId) -> String {
    base58::encode(&SCMSG, id)
}

/// Parses an `scmsg...` id.
pub fn id_from_b58(s: &str) -> Result<MessageId, base58::Base58Error> {
    base58::decode_array(&SCMSG, s)
}

/// octez's `L2_message.id`: BLAKE2b-256 of the binary `(opt counter, content)`.
pub fn message_id(counter: Option<u64>, content: &[u8]) -> MessageId {
    let mut bytes = Vec::with_capacity(content.len() + 11);
    match counter {
        Some(c) => {
            bytes.push(0xff);
            binary::put_z(&mut bytes, &Zarith::from_u64(c));
        }
        None => bytes.push(0),
    }
    bytes.extend_from_slice(content);
    let mut h = blake2::Blake2bVar::new(32).expect("32 is a valid BLAKE2b size");
    h.update(&bytes);
    let mut id = [0u8; 32];
    h.finalize_variable(&mut id).expect("32 bytes");
    id
}

/// Why messages were not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatcherError {
    /// A message is too long.
    #[error(
        "message {index} is {len} bytes, more than the {MAX_MESSAGE_SIZE} an L2 message may have"
    )]
    TooLarge {
        /// Its position in the request.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// The queue is full.
    #[error("the batcher queue is full ({MAX_QUEUED} messages); try again later")]
    Full,
}

/// A queued message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    /// Its id.
    pub id: MessageId,
    /// Its bytes.
    pub content: Vec<u8>,
    /// The batcher's counter when it arrived.
    pub counter: u64,
    /// Its priority, if given.
    pub order: Option<u64>,
}

/// Where a message is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// In the queue.
    PendingBatch,
    /// In an injected operation.
    Injected {
        /// The operation hash (`o...`).
        operation: String,
        /// The index of the `add_messages` in the operation's contents.
        index: usize,
        /// The batch's messages (for octez's `operation` field).
        batch: Vec<Vec<u8>>,
        /// The L1 head it was injected at.
        at: u32,
    },
    /// In a block.
    Included {
        /// The operation hash.
        operation: String,
        /// The index of the `add_messages` in the operation's contents.
        index: usize,
        /// The batch's messages.
        batch: Vec<Vec<u8>>,
        /// The block hash.
        block: String,
        /// The block level.
        level: u32,
    },
}

/// The queue and every message's status.
pub struct Batcher {
    /// Queued messages by (order, counter): `u64::MAX` for messages without an order.
    queue: BTreeMap<(u64, u64), Queued>,
    status: HashMap<MessageId, (Status, Vec<u8>)>,
    counter: u64,
    /// Included messages, oldest inclusion first, with the including level.
    included: std::collections::VecDeque<(u32, MessageId)>,
    /// Most included statuses kept.
    max_included: usize,
}

impl Default for Batcher {
    fn default() -> Batcher {
        Batcher::with_max_included(MAX_INCLUDED)
    }
}

impl Batcher {
    /// An empty batcher keeping at most `max_included` included statuses (the default is
    /// [`MAX_INCLUDED`]).
    pub fn with_max_included(max_included: usize) -> Batcher {
        Batcher {
            queue: BTreeMap::new(),
            status: HashMap::new(),
            counter: 0,
            included: std::collections::VecDeque::new(),
            max_included,
        }
    }

    /// Queues `messages` (all or none); returns their ids.
    pub fn inject(
        &mut self,
        messages: &[Vec<u8>],
        order: Option<u64>,
        drop_duplicate: bool,
    ) -> Result<Vec<MessageId>, BatcherError> {
        if let Some((index, m)) = messages
            .iter()
            .enumerate()
            .find(|(_, m)| m.len() > MAX_MESSAGE_SIZE)
        {
            return Err(BatcherError::TooLarge {
                index,
                len: m.len(),
            });
        }
        if self.queue.len() + messages.len() > MAX_QUEUED {
            return Err(BatcherError::Full);
        }
        let mut ids = Vec::with_capacity(messages.len());
        for content in messages {
            let counter = self.counter;
            self.counter += 1;
            let id = message_id((!drop_duplicate).then_some(counter), content);
            ids.push(id);
            if drop_duplicate && self.status.contains_key(&id) {
                continue;
            }
            self.queue.insert(
                (order.unwrap_or(u64::MAX), counter),
                Queued {
                    id,
                    content: content.clone(),
                    counter,
                    order,
                },
            );
            self.status
                .insert(id, (Status::PendingBatch, content.clone()));
        }
        Ok(ids)
    }

    /// The queued messages, in the order they go out.
    pub fn queue(&self) -> impl Iterator<Item = &Queued> {
        self.queue.values()
    }

    /// A message's status and content.
    pub fn status(&self, id: &MessageId) -> Option<&(Status, Vec<u8>)> {
        self.status.get(id)
    }

    /// Takes the next batch off the queue: messages in order while they fit
    /// [`MAX_BATCH_BYTES`]. Empty when the queue is.
    pub fn next_batch(&mut self) -> Vec<Queued> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        while let Some(entry) = self.queue.first_entry() {
            let size = 4 + entry.get().content.len();
            if bytes + size > MAX_BATCH_BYTES {
                break;
            }
            bytes += size;
            batch.push(entry.remove());
        }
        batch
    }

    /// Records that `batch` went out in `operation` (as its content number `index`) at L1
    /// level `at`.
    pub fn injected(&mut self, batch: &[Queued], operation: &str, index: usize, at: u32) {
        let contents: Vec<Vec<u8>> = batch.iter().map(|m| m.content.clone()).collect();
        for m in batch {
            if let Some(s) = self.status.get_mut(&m.id) {
                s.0 = Status::Injected {
                    operation: operation.to_string(),
                    index,
                    batch: contents.clone(),
                    at,
                };
            }
        }
    }

    /// Puts a batch that could not be injected back in the queue, where it was.
    pub fn requeue(&mut self, batch: Vec<Queued>) {
        for m in batch {
            if let Some(s) = self.status.get_mut(&m.id) {
                s.0 = Status::PendingBatch;
            }
            self.queue
                .insert((m.order.unwrap_or(u64::MAX), m.counter), m);
        }
    }

    /// Marks the messages of the operations `block` (an L1 block's JSON, at `level`) includes.
    pub fn observe_block(&mut self, block: &Value, level: u32) {
        let Some(hash) = block.get("hash").and_then(Value::as_str) else {
            return;
        };
        let included: std::collections::HashSet<&str> = block
            .pointer("/operations/3")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|op| op.get("hash").and_then(Value::as_str))
            .collect();
        for (id, (status, _)) in self.status.iter_mut() {
            if let Status::Injected {
                operation,
                index,
                batch,
                ..
            } = status
            {
                if included.contains(operation.as_str()) {
                    self.included.push_back((level, *id));
                    *status = Status::Included {
                        index: *index,
                        operation: std::mem::take(operation),
                        batch: std::mem::take(batch),
                        block: hash.to_string(),
                        level,
                    };
                }
            }
        }
    }

    /// Forgets the statuses of messages included more than [`RETENTION_LEVELS`] levels before
    /// `head`, and the oldest ones beyond the bound ([`MAX_INCLUDED`]); returns how many.
    pub fn forget_old(&mut self, head: u32) -> usize {
        let mut forgotten = 0;
        while let Some(&(level, id)) = self.included.front() {
            let expired = u64::from(level) + u64::from(RETENTION_LEVELS) < u64::from(head);
            if !expired && self.included.len() <= self.max_included {
                break;
            }
            self.included.pop_front();
            if matches!(self.status.get(&id), Some((Status::Included { .. }, _))) {
                self.status.remove(&id);
                forgotten += 1;
            }
        }
        forgotten
    }

    /// How many statuses the batcher holds (queued, injected and included messages).
    pub fn statuses(&self) -> usize {
        self.status.len()
    }

    /// Queues again the messages of batches injected before `head - REINJECT_AFTER` and still
    /// not included; returns how many.
    pub fn reinject_stale(&mut self, head: u32) -> usize {
        let stale: Vec<MessageId> = self
            .status
            .iter()
            .filter(|(_, (s, _))| {
                matches!(s, Status::Injected { at, .. } if head >= at + REINJECT_AFTER)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in &stale {
            if let Some((s, content)) = self.status.get_mut(id) {
                *s = Status::PendingBatch;
                let counter = self.counter;
                self.counter += 1;
                self.queue.insert(
                    (u64::MAX, counter),
                    Queued {
                        id: *id,
                        content: content.clone(),
                        counter,
                        order: None,
                    },
                );
            }
        }
        stale.len()
    }
}

/// octez's JSON for a queued message (`L2_message.encoding`).
pub fn queued_json(m: &Queued) -> Value {
    let mut v = json!({
        "id": id_to_b58(&m.id),
        "message": {"content": hex::encode(&m.content), "counter": m.counter.to_string()},
    });
    if let Some(o) = m.order {
        v["order"] = json!(o.to_string());
    }
    v
}

/// octez's JSON for a message's status (`message_status_output`); `finalized` and `cemented`
/// say whether an including block is final and cemented.
pub fn status_json(
    status: Option<&(Status, Vec<u8>)>,
    finalized: impl Fn(u32) -> bool,
    cemented: impl Fn(u32) -> bool,
) -> Value {
    let operation = |batch: &[Vec<u8>]| json!({"kind": "add_messages", "message": batch.iter().map(hex::encode).collect::<Vec<_>>()});
    let Some((status, content)) = status else {
        return json!({"status": "unknown"});
    };
    let mut v = match status {
        Status::PendingBatch => json!({"status": "pending_batch"}),
        Status::Injected {
            operation: oph,
            index,
            batch,
            ..
        } => json!({
            "status": "injected",
            "operation": operation(batch),
            "layer1": {"operation_hash": oph, "operation_index": index},
        }),
        Status::Included {
            operation: oph,
            index,
            batch,
            block,
            level,
        } => json!({
            "status": "included",
            "operation": operation(batch),
            "layer1": {"operation_hash": oph, "operation_index": index, "block_hash": block, "level": level},
            "finalized": finalized(*level),
            "cemented": cemented(*level),
        }),
    };
    v["content"] = json!(hex::encode(content));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_octez_s_scmsg_hashes() {
        let a = message_id(Some(0), b"hello");
        assert_ne!(a, message_id(Some(1), b"hello"));
        assert_eq!(message_id(None, b"x"), message_id(None, b"x"));
        let s = id_to_b58(&a);
        assert!(s.starts_with("scmsg") && s.len() == 55, "{s}");
        assert_eq!(id_from_b58(&s).unwrap(), a);
    }

    #[test]
    fn messages_go_out_by_order_then_arrival_within_the_size_limit() {
        let mut b = Batcher::default();
        let late = b.inject(&[b"late".to_vec()], None, false).unwrap();
        let first = b.inject(&[b"first".to_vec()], Some(1), false).unwrap();
        let big = vec![7u8; MAX_MESSAGE_SIZE];
        b.inject(&vec![big.clone(); 8], None, false).unwrap();
        let batch = b.next_batch();
        assert_eq!(batch[0].id, first[0]);
        assert_eq!(batch[1].id, late[0]);
        let bytes: usize = batch.iter().map(|m| 4 + m.content.len()).sum();
        // The two small messages and 7 of the 8 full-size ones fit in one operation.
        assert!(
            bytes <= MAX_BATCH_BYTES && batch.len() == 9,
            "{bytes} {}",
            batch.len()
        );
        assert_eq!(b.next_batch().len(), 1);
        assert!(b.next_batch().is_empty());
        assert_eq!(
            b.inject(&[vec![0; MAX_MESSAGE_SIZE + 1]], None, false),
            Err(BatcherError::TooLarge {
                index: 0,
                len: MAX_MESSAGE_SIZE + 1
            })
        );
    }

    #[test]
    fn statuses_follow_injection_inclusion_and_reinjection() {
        let mut b = Batcher::default();
        let ids = b
            .inject(&[b"a".to_vec(), b"a".to_vec()], None, true)
            .unwrap();
        assert_eq!(ids[0], ids[1], "drop_duplicate: one id, queued once");
        assert_eq!(b.queue().count(), 1);
        let batch = b.next_batch();
        b.injected(&batch, "oOp", 1, 10);
        let unknown = status_json(None, |_| false, |_| false);
        assert_eq!(unknown["status"], "unknown");
        let s = status_json(b.status(&ids[0]), |_| false, |_| false);
        assert_eq!(s["status"], "injected");
        assert_eq!(s["operation"]["message"][0], "61");
        assert_eq!(b.reinject_stale(12), 0);
        let block = json!({"hash": "BLx", "operations": [[], [], [], [{"hash": "oOp"}]]});
        b.observe_block(&block, 11);
        let s = status_json(b.status(&ids[0]), |l| l <= 11, |_| false);
        assert_eq!(s["status"], "included");
        assert_eq!(s["layer1"]["level"], 11);
        assert_eq!(s["layer1"]["operation_index"], 1);
        assert_eq!(s["finalized"], true);
        assert_eq!(s["content"], "61");
        // A batch nobody includes goes back to the queue.
        let more = b.inject(&[b"b".to_vec()], None, false).unwrap();
        let batch = b.next_batch();
        b.injected(&batch, "oLost", 0, 20);
        assert_eq!(b.reinject_stale(20 + REINJECT_AFTER), 1);
        assert_eq!(b.queue().next().unwrap().id, more[0]);
    }

    #[test]
    fn included_statuses_are_kept_for_a_bounded_history() {
        let mut b = Batcher::default();
        let ids = b.inject(&[b"a".to_vec()], None, false).unwrap();
        let batch = b.next_batch();
        b.injected(&batch, "oA", 0, 10);
        b.observe_block(
            &json!({"hash": "BL1", "operations": [[], [], [], [{"hash": "oA"}]]}),
            11,
        );
        assert_eq!(
            b.forget_old(11 + RETENTION_LEVELS),
            0,
            "kept up to the retention period"
        );
        assert_eq!(
            status_json(b.status(&ids[0]), |_| true, |_| true)["status"],
            "included"
        );
        assert_eq!(b.forget_old(12 + RETENTION_LEVELS), 1);
        assert_eq!(
            status_json(b.status(&ids[0]), |_| true, |_| true)["status"],
            "unknown"
        );
        assert_eq!(b.statuses(), 0);
        // More included messages than the bound: the oldest inclusions are forgotten first.
        let mut b = Batcher::with_max_included(3);
        let mut ids = Vec::new();
        for (n, content) in [b"1", b"2", b"3", b"4", b"5"].iter().enumerate() {
            ids.extend(b.inject(&[content.to_vec()], None, false).unwrap());
            let batch = b.next_batch();
            let op = format!("o{n}");
            b.injected(&batch, &op, 0, 1);
            let block = json!({"hash": "B", "operations": [[], [], [], [{"hash": op}]]});
            b.observe_block(&block, 2 + n as u32);
        }
        assert_eq!(b.forget_old(10), 2);
        assert_eq!(b.statuses(), 3);
        assert!(b.status(&ids[0]).is_none() && b.status(&ids[1]).is_none());
        assert!(b.status(&ids[2]).is_some() && b.status(&ids[4]).is_some());
    }
}
