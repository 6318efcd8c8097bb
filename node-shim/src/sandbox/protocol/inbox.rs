//! The shared inbox of the sandbox chain, kept as protocol 025 keeps it
//! (`Sc_rollup_inbox_storage`): pure, built on [`soru_core::inbox`].
//!
//! How it evolves (octez's `init_storage.ml` and `apply.ml`):
//! - at the protocol's activation level the inbox is created with one level holding
//!   `Start_of_level`, `Info_per_level`, `Protocol_migration` and `End_of_level`
//!   (`Sc_rollup_inbox_storage.init_inbox`, [`Inbox::genesis`]). The sandbox's protocol is active
//!   from its genesis block (level [`ACTIVATION_LEVEL`]), which plays the migration block: its
//!   `Info_per_level` carries the genesis block's own timestamp and predecessor field (the
//!   genesis hash itself), as the genesis block has no other predecessor;
//! - every later block starts its level with `Start_of_level` and `Info_per_level` (the
//!   predecessor's timestamp and hash; `add_level_info` in `begin_application`), then, on the
//!   first level after the activation level only, `Protocol_migration`; then the messages its
//!   operations add, in order (`smart_rollup_add_messages` and internal transfers to rollups);
//!   `finalize_inbox_level` adds `End_of_level` and archives the level's witness as the next
//!   level-history cell ([`Inbox::next_level`]).
//!
//! The inbox after block `B` (what `…/blocks/B/context/smart_rollups/all/inbox` answers) has
//! `level` = `B`'s level.

use soru_core::encoding::inbox::BlockHash;
use soru_core::inbox::{level_payloads, Inbox, InboxError, PROTOCOL_025_VERSION};

use super::Block;

/// The level whose block activated the sandbox's protocol: its genesis block.
pub const ACTIVATION_LEVEL: u32 = 0;

/// Why the shared inbox of a level could not be built (names the level).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SharedInboxError {
    /// A stored message of the level is not hex.
    #[error("inbox of level {level}: message {index} is not hex: {reason}")]
    Hex {
        /// The level.
        level: u32,
        /// The message's index in the level (0 is `Start_of_level`).
        index: usize,
        /// The decoder's error.
        reason: String,
    },
    /// A level does not fit in the protocol's int32 levels.
    #[error("level {0} is beyond the protocol's int32 levels")]
    Level(u32),
    /// The inbox module refused the level.
    #[error("inbox of level {level}: {source}")]
    Inbox {
        /// The level.
        level: u32,
        /// Why.
        source: InboxError,
    },
}

/// Whether `level` is the first level the protocol applies after its activation block, whose
/// inbox holds a `Protocol_migration` message after `Info_per_level`.
pub fn is_first_level_of_protocol(level: u32) -> bool {
    level == ACTIVATION_LEVEL + 1
}

/// The serialized messages of block `level`'s inbox: `Start_of_level`, `Info_per_level` (the
/// predecessor's timestamp and hash), `Protocol_migration` on the first level of the protocol,
/// `messages` (serialized, in operation order) and `End_of_level`.
pub fn payloads(
    level: u32,
    predecessor: &BlockHash,
    predecessor_timestamp: i64,
    messages: &[Vec<u8>],
) -> Vec<Vec<u8>> {
    let migration = is_first_level_of_protocol(level).then_some(PROTOCOL_025_VERSION);
    level_payloads(predecessor_timestamp, predecessor, migration, messages)
}

fn int32(level: u32) -> Result<i32, SharedInboxError> {
    i32::try_from(level).map_err(|_| SharedInboxError::Level(level))
}

/// The inbox the protocol creates in the genesis block (the activation block): one level of
/// `Start_of_level`, `Info_per_level` (the block's timestamp and predecessor field),
/// `Protocol_migration` and `End_of_level`.
pub fn genesis(genesis: &Block) -> Result<Inbox, SharedInboxError> {
    let level = genesis.level;
    let predecessor = BlockHash::from_b58check(&genesis.predecessor).unwrap_or(BlockHash([0; 32]));
    let payloads = level_payloads(
        genesis.timestamp,
        &predecessor,
        Some(PROTOCOL_025_VERSION),
        &[],
    );
    Inbox::genesis(int32(level)?, &payloads)
        .map_err(|source| SharedInboxError::Inbox { level, source })
}

/// The inbox after block `level`, whose whole inbox (see [`payloads`]) is `level_payloads`,
/// added to `previous`, the inbox after block `level - 1`.
pub fn next(
    previous: &Inbox,
    level: u32,
    level_payloads: &[Vec<u8>],
) -> Result<Inbox, SharedInboxError> {
    previous
        .after_level(level, level_payloads)
        .map_err(|source| SharedInboxError::Inbox { level, source })
}

/// A block's whole inbox from its record ([`Block::inbox`], hex).
pub fn block_payloads(block: &Block) -> Result<Vec<Vec<u8>>, SharedInboxError> {
    block
        .inbox
        .iter()
        .enumerate()
        .map(|(index, m)| {
            hex::decode(m).map_err(|e| SharedInboxError::Hex {
                level: block.level,
                index,
                reason: e.to_string(),
            })
        })
        .collect()
}

/// The inbox after each block of a chain (`blocks[0]` is the genesis block, `blocks[i]` at
/// level `i`), rebuilt from the blocks' own inboxes.
pub fn rebuild(blocks: &[Block]) -> Result<Vec<Inbox>, SharedInboxError> {
    let mut out: Vec<Inbox> = Vec::with_capacity(blocks.len());
    for b in blocks {
        let inbox = match out.last() {
            None => genesis(b)?,
            Some(prev) => next(prev, b.level, &block_payloads(b)?)?,
        };
        out.push(inbox);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use soru_core::encoding::inbox::{InboxMessage, InternalInboxMessage};
    use soru_core::inbox::{back_pointer_count, LevelWitness};

    fn block(level: u32, predecessor: &str, timestamp: i64, inbox: Vec<Vec<u8>>) -> Block {
        Block {
            level,
            hash: BlockHash([level as u8 + 1; 32]).to_b58check(),
            predecessor: predecessor.to_string(),
            timestamp,
            operations: vec![],
            inbox: inbox.iter().map(hex::encode).collect(),
        }
    }

    /// A chain of `n` blocks after genesis; block `l` carries `l % 3` external messages.
    fn chain(n: u32) -> Vec<Block> {
        let g = BlockHash([1; 32]).to_b58check();
        let mut blocks = vec![block(0, &g, 1000, vec![])];
        for level in 1..=n {
            let prev = blocks.last().unwrap().clone();
            let pred = BlockHash::from_b58check(&prev.hash).unwrap();
            let messages: Vec<Vec<u8>> = (0..level % 3)
                .map(|i| InboxMessage::External(vec![level as u8, i as u8]).encode())
                .collect();
            let p = payloads(level, &pred, prev.timestamp, &messages);
            blocks.push(block(level, &prev.hash, prev.timestamp + 1, p));
        }
        blocks
    }

    fn migration() -> Vec<u8> {
        InboxMessage::Internal(InternalInboxMessage::ProtocolMigration(
            PROTOCOL_025_VERSION.into(),
        ))
        .encode()
    }

    #[test]
    fn the_genesis_level_holds_the_migration_message() {
        let blocks = chain(0);
        let g = genesis(&blocks[0]).unwrap();
        assert_eq!(g.level, 0);
        assert_eq!(g.old_levels_messages.index, 0);
        assert!(g.old_levels_messages.back_pointers.is_empty());
        // Start_of_level, Info_per_level (the block's own timestamp and predecessor field),
        // Protocol_migration, End_of_level, hashed by hand.
        let pred = BlockHash([1; 32]);
        let ipl = InboxMessage::Internal(InternalInboxMessage::InfoPerLevel {
            predecessor_timestamp: 1000,
            predecessor: pred,
        })
        .encode();
        let mut w = LevelWitness::new(&[0, 1]);
        for m in [ipl, migration(), vec![0, 2]] {
            w.add_protocol_message(&m);
        }
        assert_eq!(g.old_levels_messages.content.hash, w.hash());
        assert_eq!(g.old_levels_messages.content.level, 0);
    }

    #[test]
    fn protocol_migration_follows_info_per_level_on_the_first_level_only() {
        let pred = BlockHash([7; 32]);
        let msgs = vec![vec![1, 0xaa]];
        let first = payloads(1, &pred, 5, &msgs);
        assert_eq!(first.len(), 5);
        assert_eq!(first[0], vec![0, 1]);
        assert_eq!(
            InboxMessage::decode(&first[1]).unwrap(),
            InboxMessage::Internal(InternalInboxMessage::InfoPerLevel {
                predecessor_timestamp: 5,
                predecessor: pred
            })
        );
        assert_eq!(first[2], migration());
        assert_eq!(first[3], msgs[0]);
        assert_eq!(first[4], vec![0, 2]);
        let later = payloads(2, &pred, 5, &msgs);
        assert_eq!(later.len(), 4);
        assert!(!later.contains(&migration()));
        assert!(!is_first_level_of_protocol(0) && !is_first_level_of_protocol(2));
    }

    #[test]
    fn each_block_adds_one_history_cell_linked_to_the_previous_inbox() {
        let blocks = chain(40);
        let inboxes = rebuild(&blocks).unwrap();
        assert_eq!(inboxes.len(), 41);
        for (l, inbox) in inboxes.iter().enumerate() {
            let cell = &inbox.old_levels_messages;
            assert_eq!(inbox.level, l as i32);
            assert_eq!(cell.index, l as u64);
            assert_eq!(cell.content.level, l as i32);
            assert_eq!(cell.back_pointers.len(), back_pointer_count(l as u64));
            if l > 0 {
                assert_eq!(cell.back_pointers[0], inboxes[l - 1].hash(), "level {l}");
                // The level's witness commits to exactly the block's messages, in order.
                let w = LevelWitness::of_level(&block_payloads(&blocks[l]).unwrap()).unwrap();
                assert_eq!(cell.content.hash, w.hash());
            }
        }
        // Incremental building (as bake does) gives the same inboxes as the rebuild.
        let mut inbox = genesis(&blocks[0]).unwrap();
        for b in &blocks[1..] {
            inbox = next(&inbox, b.level, &block_payloads(b).unwrap()).unwrap();
        }
        assert_eq!(&inbox, inboxes.last().unwrap());
    }

    #[test]
    fn a_changed_message_changes_every_later_inbox_hash() {
        let blocks = chain(10);
        let honest = rebuild(&blocks).unwrap();
        let mut forged = blocks.clone();
        forged[4].inbox[2] = hex::encode(InboxMessage::External(vec![9]).encode());
        let forged = rebuild(&forged).unwrap();
        for l in 0..=10 {
            assert_eq!(honest[l].hash() == forged[l].hash(), l < 4, "level {l}");
        }
        assert_ne!(
            honest[4].old_levels_messages.content.hash,
            forged[4].old_levels_messages.content.hash
        );
    }

    #[test]
    fn bad_chains_are_errors_naming_the_level() {
        let blocks = chain(5);
        let inboxes = rebuild(&blocks).unwrap();
        assert_eq!(
            next(&inboxes[2], 4, &block_payloads(&blocks[4]).unwrap()),
            Err(SharedInboxError::Inbox {
                level: 4,
                source: InboxError::NotConsecutive {
                    level: 4,
                    previous: 2
                }
            })
        );
        let mut bad = blocks.clone();
        bad[3].inbox[1] = "zz".into();
        let e = rebuild(&bad).unwrap_err();
        assert!(
            matches!(
                e,
                SharedInboxError::Hex {
                    level: 3,
                    index: 1,
                    ..
                }
            ),
            "{e}"
        );
        let mut short = blocks;
        short[2].inbox.truncate(1);
        let e = rebuild(&short).unwrap_err().to_string();
        assert!(e.starts_with("inbox of level 2: "), "{e}");
    }
}
