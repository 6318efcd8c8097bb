//! Rebuilding a level's inbox from an L1 block with receipts (pure: JSON in, messages out).
//!
//! Octez's inbox is shared by every rollup: each level holds `Start_of_level`,
//! `Info_per_level`, on the first level of a protocol its `Protocol_migration`, then, in block
//! order, the messages of every *applied* `smart_rollup_add_messages` (as external messages)
//! and every applied internal transaction whose destination is a smart rollup (as `Transfer`
//! messages), then `End_of_level`. The PVM adds `Start_of_level`, `Info_per_level` and
//! `End_of_level` itself ([`soru_core::pvm::Pvm::step_level`]); this module finds the others in
//! `operations[3]` (the manager operations) of the block's JSON.
//!
//! The node also rebuilds the shared Merkleized inbox ([`soru_core::inbox::Inbox`]) as octez's
//! rollup node does: it takes the L1's inbox at the origination level, then adds each level it
//! processes ([`next_shared_inbox`]); before publishing a commitment it compares its inbox at
//! the commitment's level with the L1's (octez's `Inbox.same_as_layer_1`).

use serde_json::Value;
use soru_core::encoding::address::{ContractHash, PublicKeyHash, SmartRollupAddress};
use soru_core::encoding::inbox::{BlockHash, InboxMessage, InternalInboxMessage, Transfer};
use soru_core::encoding::micheline::Expr;
use soru_core::inbox::{Inbox, PROTOCOL_025_VERSION};

/// Protocol 025 (Ushuaia), the protocol whose encodings the node speaks.
pub const PROTOCOL_025: &str = "PsUshuai9QapM5TGj1JpuVGkdxz5GykdnEvS6Rh8SUVrARvZLCY";

/// The shared inbox could not be extended (names the level).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SharedInboxError {
    /// The inbox refused the level (not the one after the previous level, or its messages).
    #[error("shared inbox of level {level}: {source}")]
    Inbox {
        /// The level.
        level: u32,
        /// Why.
        source: soru_core::inbox::InboxError,
    },
    /// A block's protocol changed to one whose `Protocol_migration` message the node does not
    /// know.
    #[error("level {level} is the first of protocol {protocol}, whose Protocol_migration message this node does not know (it speaks {PROTOCOL_025})")]
    UnknownProtocol {
        /// The level.
        level: u32,
        /// The new protocol.
        protocol: String,
    },
}

/// The protocol that applied `block` (its `protocol` field, else `metadata.protocol`).
pub fn block_protocol(block: &Value) -> Option<&str> {
    block
        .get("protocol")
        .or_else(|| block.pointer("/metadata/protocol"))
        .and_then(Value::as_str)
}

/// The serialized `Protocol_migration` message that starts (after `Info_per_level`) level
/// `level`, the first level of `protocol`.
pub fn protocol_migration(level: u32, protocol: &str) -> Result<Vec<u8>, SharedInboxError> {
    if protocol != PROTOCOL_025 {
        return Err(SharedInboxError::UnknownProtocol {
            level,
            protocol: protocol.to_string(),
        });
    }
    Ok(
        InboxMessage::Internal(InternalInboxMessage::ProtocolMigration(
            PROTOCOL_025_VERSION.into(),
        ))
        .encode(),
    )
}

/// The shared inbox after level `level`, whose whole inbox is `full` (see [`full_inbox`]),
/// added to `previous`, the inbox after level `level - 1` (octez's `Inbox.add_all_messages`
/// then `finalize_inbox_level`).
pub fn next_shared_inbox(
    previous: &Inbox,
    level: u32,
    full: &[Vec<u8>],
) -> Result<Inbox, SharedInboxError> {
    previous
        .after_level(level, full)
        .map_err(|source| SharedInboxError::Inbox { level, source })
}

/// A block whose operations do not have octez's shape; names where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("block {block}, {at}: {message}")]
pub struct InboxError {
    /// The block's hash or level.
    pub block: String,
    /// Where in the block (e.g. `operations[3][0].contents[1]`).
    pub at: String,
    /// What is wrong.
    pub message: String,
}

/// The serialized inbox messages `block` adds between `Info_per_level` and `End_of_level`.
pub fn block_messages(block: &Value) -> Result<Vec<Vec<u8>>, InboxError> {
    let name = block
        .get("hash")
        .and_then(Value::as_str)
        .unwrap_or("(without hash)")
        .to_string();
    let err = |at: String, message: &str| InboxError {
        block: name.clone(),
        at,
        message: message.to_string(),
    };
    let Some(passes) = block.get("operations") else {
        return Err(err("operations".into(), "missing"));
    };
    let passes = passes.as_array().ok_or_else(|| {
        err(
            "operations".into(),
            "expected an array of validation passes",
        )
    })?;
    let mut out = Vec::new();
    let Some(manager) = passes.get(3) else {
        return Ok(out);
    };
    let manager = manager
        .as_array()
        .ok_or_else(|| err("operations[3]".into(), "expected an array"))?;
    for (i, op) in manager.iter().enumerate() {
        let contents = op
            .get("contents")
            .and_then(Value::as_array)
            .ok_or_else(|| err(format!("operations[3][{i}]"), "without `contents` array"))?;
        for (j, content) in contents.iter().enumerate() {
            let at = format!("operations[3][{i}].contents[{j}]");
            content_messages(content, &at, &mut out).map_err(|m| err(at.clone(), &m))?;
        }
    }
    Ok(out)
}

fn applied(result: Option<&Value>) -> bool {
    result.and_then(|r| r.get("status")).and_then(Value::as_str) == Some("applied")
}

fn content_messages(content: &Value, at: &str, out: &mut Vec<Vec<u8>>) -> Result<(), String> {
    let kind = content.get("kind").and_then(Value::as_str).unwrap_or("");
    let metadata = content.get("metadata");
    let result = metadata.and_then(|m| m.get("operation_result"));
    if kind == "smart_rollup_add_messages" && applied(result) {
        let messages = content
            .get("message")
            .and_then(Value::as_array)
            .ok_or("smart_rollup_add_messages without a `message` array")?;
        for (k, m) in messages.iter().enumerate() {
            let bytes = m
                .as_str()
                .and_then(|h| hex::decode(h).ok())
                .ok_or_else(|| format!("message[{k}] is not a hex string"))?;
            out.push(InboxMessage::External(bytes).encode());
        }
    }
    if !applied(result) {
        return Ok(());
    }
    let Some(internals) = metadata.and_then(|m| m.get("internal_operation_results")) else {
        return Ok(());
    };
    let internals = internals
        .as_array()
        .ok_or("`internal_operation_results` is not an array")?;
    let source = content.get("source").and_then(Value::as_str);
    for (k, internal) in internals.iter().enumerate() {
        let destination = internal.get("destination").and_then(Value::as_str);
        let is_transfer = internal.get("kind").and_then(Value::as_str) == Some("transaction");
        let Some(destination) = destination.filter(|d| is_transfer && d.starts_with("sr1")) else {
            continue;
        };
        if !applied(internal.get("result")) {
            continue;
        }
        let bad = |m: &str| format!("internal_operation_results[{k}] ({at}): {m}");
        let destination = SmartRollupAddress::from_b58check(destination)
            .map_err(|e| bad(&format!("destination: {e}")))?;
        let sender = internal
            .get("source")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("without `source`"))?;
        let sender = ContractHash::from_b58check(sender)
            .map_err(|e| bad(&format!("source `{sender}` is not a KT1 contract: {e}")))?;
        let source = source.ok_or_else(|| bad("the manager operation has no `source`"))?;
        let source = PublicKeyHash::from_b58check(source)
            .map_err(|e| bad(&format!("manager source `{source}`: {e}")))?;
        let value = internal
            .get("parameters")
            .and_then(|p| p.get("value"))
            .ok_or_else(|| bad("without `parameters.value`"))?;
        let payload = Expr::from_json(value).map_err(|e| bad(&format!("parameters: {e}")))?;
        out.push(
            InboxMessage::Internal(InternalInboxMessage::Transfer(Transfer {
                payload,
                sender,
                source,
                destination,
            }))
            .encode(),
        );
    }
    Ok(())
}

/// The whole inbox of a level: `Start_of_level`, `Info_per_level` (the predecessor's timestamp
/// and hash), `messages` (a `Protocol_migration` first on a protocol's first level),
/// `End_of_level`, serialized as the PVM reads them.
pub fn full_inbox(
    predecessor_timestamp: i64,
    predecessor: BlockHash,
    messages: &[Vec<u8>],
) -> Vec<Vec<u8>> {
    let internal = |m| InboxMessage::Internal(m).encode();
    let mut out = Vec::with_capacity(messages.len() + 3);
    out.push(internal(InternalInboxMessage::StartOfLevel));
    out.push(internal(InternalInboxMessage::InfoPerLevel {
        predecessor_timestamp,
        predecessor,
    }));
    out.extend(messages.iter().cloned());
    out.push(internal(InternalInboxMessage::EndOfLevel));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SR1: &str = "sr163Lv22CdE8QagCwf48PWDTquk6isQwv57";
    const KT1: &str = "KT18amZmM5W7qDWVt2pH6uj7sCEd3kbzLrHT";
    const TZ1: &str = "tz1Ke2h7sDdakHJQh8WX4Z372du1KChsksyU";

    fn block(manager: Value) -> Value {
        json!({"hash": "Bx", "operations": [[], [], [], manager]})
    }

    #[test]
    fn applied_add_messages_become_external_messages_in_order() {
        let ok = json!({"status": "applied"});
        let failed = json!({"status": "failed"});
        let b = block(json!([
            {"contents": [{"kind": "smart_rollup_add_messages", "message": ["01", "0203"],
                           "metadata": {"operation_result": ok}}]},
            {"contents": [{"kind": "smart_rollup_add_messages", "message": ["ff"],
                           "metadata": {"operation_result": failed}}]},
            {"contents": [{"kind": "reveal", "metadata": {"operation_result": ok}},
                          {"kind": "smart_rollup_add_messages", "message": [""],
                           "metadata": {"operation_result": ok}}]}
        ]));
        assert_eq!(
            block_messages(&b).unwrap(),
            vec![vec![1, 1], vec![1, 2, 3], vec![1]]
        );
    }

    #[test]
    fn internal_transfers_to_rollups_become_transfer_messages() {
        let b = block(json!([{"contents": [{
            "kind": "transaction", "source": TZ1, "destination": KT1,
            "metadata": {"operation_result": {"status": "applied"},
              "internal_operation_results": [
                {"kind": "transaction", "source": KT1, "destination": SR1,
                 "parameters": {"entrypoint": "default", "value": {"int": "7"}},
                 "result": {"status": "applied"}},
                {"kind": "transaction", "source": KT1, "destination": TZ1,
                 "result": {"status": "applied"}}]}}]}]));
        let messages = block_messages(&b).unwrap();
        assert_eq!(messages.len(), 1);
        match InboxMessage::decode(&messages[0]).unwrap() {
            InboxMessage::Internal(InternalInboxMessage::Transfer(t)) => {
                assert_eq!(t.payload, Expr::int(7));
                assert_eq!(t.destination.to_b58check(), SR1);
                assert_eq!(t.sender.to_b58check(), KT1);
                assert_eq!(t.source.to_b58check(), TZ1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_shared_inbox_grows_one_level_at_a_time() {
        let pred = BlockHash([3; 32]);
        let genesis = Inbox::genesis(
            7,
            &soru_core::inbox::level_payloads(1, &pred, Some(PROTOCOL_025_VERSION), &[]),
        )
        .unwrap();
        let full = full_inbox(2, pred, &[vec![1, 0xaa]]);
        let next = next_shared_inbox(&genesis, 8, &full).unwrap();
        assert_eq!(next.level, 8);
        assert_eq!(next.old_levels_messages.index, 1);
        assert_eq!(next.old_levels_messages.back_pointers, vec![genesis.hash()]);
        // The same level as octez's core builds it.
        assert_eq!(
            next,
            genesis
                .next_level(&soru_core::inbox::level_payloads(
                    2,
                    &pred,
                    None,
                    &[vec![1, 0xaa]]
                ))
                .unwrap()
        );
        assert_eq!(
            next_shared_inbox(&genesis, 9, &full),
            Err(SharedInboxError::Inbox {
                level: 9,
                source: soru_core::inbox::InboxError::NotConsecutive {
                    level: 9,
                    previous: 7
                }
            })
        );
        let e = next_shared_inbox(&genesis, 8, &full[..1]).unwrap_err();
        assert!(
            e.to_string().starts_with("shared inbox of level 8: "),
            "{e}"
        );
        // A protocol's first level starts with its migration message; an unknown protocol's
        // is an error naming it.
        let m = protocol_migration(8, PROTOCOL_025).unwrap();
        assert_eq!(
            InboxMessage::decode(&m).unwrap(),
            InboxMessage::Internal(InternalInboxMessage::ProtocolMigration("u025_025".into()))
        );
        let e = protocol_migration(8, "PtFuture").unwrap_err().to_string();
        assert!(e.contains("level 8") && e.contains("PtFuture"), "{e}");
        assert_eq!(
            block_protocol(&json!({"metadata": {"protocol": "Px"}})),
            Some("Px")
        );
    }

    #[test]
    fn malformed_blocks_name_the_place() {
        let b = block(
            json!([{"contents": [{"kind": "smart_rollup_add_messages", "message": ["zz"],
            "metadata": {"operation_result": {"status": "applied"}}}]}]),
        );
        let e = block_messages(&b).unwrap_err().to_string();
        assert_eq!(
            e,
            "block Bx, operations[3][0].contents[0]: message[0] is not a hex string"
        );
        let e = block_messages(&json!({"hash": "By"}))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "block By, operations: missing");
    }
}
