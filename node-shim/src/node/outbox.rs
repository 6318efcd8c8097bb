//! Outbox messages after the PVM wrote them: which ones L1 blocks executed (octez's
//! `executed_messages`, recorded by the follower with each level) and the pending lists of
//! `/local/outbox/pending{,/executable,/unexecutable}` in octez's shapes.
//!
//! A message of outbox level `l` is *executable* when `l` is cemented (`l <= lcc`) and still in
//! the protocol's window (`l > lcc - max_active_outbox_levels`: the protocol's strict
//! inequality), *pending* (unexecutable) while `lcc < l <= head`, and *lost* once it left the
//! window without being executed. Executed messages are not pending at all.

use serde_json::{json, Value};
use soru_core::commitment::StateHash;
use soru_core::encoding::micheline::{Expr, Primitive};
use soru_core::encoding::outbox::OutboxMessage;
use soru_core::output_proof::verify_output_proof;
use soru_core::tree::Hash;

use super::store::{Store, StoreError};

/// The outbox messages (outbox level, message index) that the applied
/// `smart_rollup_execute_outbox_message` operations of `block` (an L1 block with receipts)
/// executed for rollup `sr1`. Each output proof is checked against its cemented commitment's
/// state (`state_of` gives it from the commitment hash), which also reads its level and index;
/// a proof that does not check (it cannot happen in an applied operation) is skipped.
pub fn executions_in_block(
    block: &Value,
    sr1: &str,
    state_of: &dyn Fn(&str) -> Option<Hash>,
) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    let ops = block.pointer("/operations/3").and_then(Value::as_array);
    for op in ops.into_iter().flatten() {
        let contents = op.get("contents").and_then(Value::as_array);
        for c in contents.into_iter().flatten() {
            let field = |k: &str| c.get(k).and_then(Value::as_str);
            let applied = c
                .pointer("/metadata/operation_result/status")
                .and_then(Value::as_str)
                == Some("applied");
            if field("kind") != Some("smart_rollup_execute_outbox_message")
                || field("rollup") != Some(sr1)
                || !applied
            {
                continue;
            }
            let (Some(commitment), Some(proof)) = (
                field("cemented_commitment"),
                field("output_proof").and_then(|p| hex::decode(p).ok()),
            ) else {
                continue;
            };
            let Some(state) = state_of(commitment) else {
                tracing::warn!("an execution of an outbox message against commitment {commitment}, which this node does not know");
                continue;
            };
            match verify_output_proof(&proof, &state, None) {
                Ok(v) => out.push((v.outbox_level, v.message_index)),
                Err(e) => tracing::warn!("an applied outbox execution whose proof fails: {e}"),
            }
        }
    }
    out
}

/// The `compressed_state` of a stored commitment (`{"commitment": {...}, "hash": ...}`).
pub fn compressed_state(stored: &Value) -> Option<Hash> {
    let s = stored.pointer("/commitment/compressed_state")?.as_str()?;
    StateHash::from_b58check(s).ok().map(|h| h.0)
}

/// octez's `Outbox_message.summary_encoding` of a serialized outbox message: the
/// `transactions` (destination, entrypoint unless `default`, parameters unless `Unit`,
/// `parameters_ty` when typed), `whitelist_update` or `canonical_rollup_signal`, without the
/// `kind` the protocol's encoding has. `None` for bytes that are not an outbox message.
pub fn summary_json(bytes: &[u8]) -> Option<Value> {
    let tx = |destination: String, entrypoint: &str, parameters: &Expr, ty: Option<&Expr>| {
        let mut t = json!({ "destination": destination });
        if entrypoint != "default" {
            t["entrypoint"] = json!(entrypoint);
        }
        if *parameters != Expr::prim(Primitive::UNIT, vec![]) {
            t["parameters"] = Value::from(parameters.to_json());
        }
        if let Some(ty) = ty {
            t["parameters_ty"] = Value::from(ty.to_json());
        }
        t
    };
    Some(match OutboxMessage::decode(bytes).ok()? {
        OutboxMessage::AtomicTransactionBatch(txs) => json!({"transactions": txs
            .iter()
            .map(|t| tx(t.destination.to_b58check(), t.entrypoint.as_str(), &t.parameters, None))
            .collect::<Vec<_>>()}),
        OutboxMessage::AtomicTransactionBatchTyped(txs) => json!({"transactions": txs
            .iter()
            .map(|t| tx(
                t.destination.to_b58check(),
                t.entrypoint.as_str(),
                &t.parameters,
                Some(&t.parameters_ty)
            ))
            .collect::<Vec<_>>()}),
        OutboxMessage::WhitelistUpdate(keys) => json!({"whitelist_update": keys
            .map(|k| k.iter().map(|k| k.to_b58check()).collect::<Vec<_>>())}),
        OutboxMessage::CanonicalRollupSignal(p) => {
            json!({"canonical_rollup_signal": String::from_utf8_lossy(&p)})
        }
    })
}

/// Which pending list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// `/local/outbox/pending/executable`: cemented and still in the window.
    Executable,
    /// `/local/outbox/pending/unexecutable`: not cemented yet.
    Unexecutable,
    /// `/local/outbox/pending`: every level, each with its `status`.
    All,
}

/// Where the chain is: the last cemented level, the last processed level, and the protocol's
/// `max_active_outbox_levels`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The last cemented commitment's inbox level.
    pub lcc: u32,
    /// The node's head level.
    pub head: u32,
    /// `smart_rollup_max_active_outbox_levels`.
    pub max_active: u32,
}

impl Window {
    /// octez's status of a not executed message of outbox level `level`.
    pub fn status(&self, level: u32) -> &'static str {
        if u64::from(level) + u64::from(self.max_active) <= u64::from(self.lcc) {
            "lost"
        } else if level <= self.lcc {
            "executable"
        } else {
            "pending"
        }
    }

    /// The outbox levels `which` covers, narrowed to `outbox_level` if given (`None`: none).
    pub fn levels(&self, which: Which, outbox_level: Option<u32>) -> Option<(u32, u32)> {
        let (min, max) = match which {
            Which::Executable => (
                (u64::from(self.lcc) + 1).saturating_sub(u64::from(self.max_active)) as u32,
                self.lcc,
            ),
            Which::Unexecutable => (self.lcc.saturating_add(1), self.head),
            Which::All => (0, self.head),
        };
        match outbox_level {
            Some(l) if l < min || l > max => None,
            Some(l) => Some((l, l)),
            None if min > max => None,
            None => Some((min, max)),
        }
    }
}

/// The list `which` in octez's shape: `[{"outbox_level", "messages": [{"message_index",
/// "message"}]}]` in level order, levels whose every message was executed left out; `All`
/// adds each level's `status`.
pub fn pending_json(
    store: &Store,
    window: Window,
    which: Which,
    outbox_level: Option<u32>,
) -> Result<Value, StoreError> {
    let Some((min, max)) = window.levels(which, outbox_level) else {
        return Ok(json!([]));
    };
    let mut out = Vec::new();
    for (level, count) in store.outbox_levels(min..=max)? {
        let executed = store.executed_outputs(level)?;
        let indexes: Vec<u64> = (0..u64::from(count))
            .filter(|i| !executed.contains(i))
            .collect();
        if indexes.is_empty() {
            continue;
        }
        let outbox = store.level(level)?.map(|r| r.outbox).unwrap_or_default();
        let messages: Vec<Value> = indexes
            .iter()
            .map(|&i| {
                let mut m = json!({ "message_index": i });
                if let Some(s) = outbox.get(i as usize).and_then(|b| summary_json(b)) {
                    m["message"] = s;
                }
                m
            })
            .collect();
        let mut entry = json!({"outbox_level": level, "messages": messages});
        if which == Which::All {
            entry["status"] = json!(window.status(level));
        }
        out.push(entry);
    }
    Ok(Value::Array(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use soru_core::encoding::address::ContractHash;
    use soru_core::encoding::outbox::{Entrypoint, Transaction};

    #[test]
    fn windows_follow_octez_s_bounds() {
        let w = Window {
            lcc: 100,
            head: 120,
            max_active: 10,
        };
        assert_eq!(w.levels(Which::Executable, None), Some((91, 100)));
        assert_eq!(w.levels(Which::Unexecutable, None), Some((101, 120)));
        assert_eq!(w.levels(Which::All, None), Some((0, 120)));
        assert_eq!(w.levels(Which::Executable, Some(90)), None);
        assert_eq!(w.levels(Which::Executable, Some(95)), Some((95, 95)));
        assert_eq!(w.levels(Which::Unexecutable, Some(100)), None);
        assert_eq!(w.levels(Which::All, Some(121)), None);
        assert_eq!(
            (w.status(90), w.status(91), w.status(100), w.status(101)),
            ("lost", "executable", "executable", "pending")
        );
        let young = Window {
            lcc: 3,
            head: 3,
            max_active: 10,
        };
        assert_eq!(young.levels(Which::Executable, None), Some((0, 3)));
        assert_eq!(young.levels(Which::Unexecutable, None), None);
        assert_eq!(young.status(0), "executable");
    }

    #[test]
    fn summaries_are_octez_s_encoding() {
        let msg = OutboxMessage::AtomicTransactionBatch(vec![
            Transaction {
                parameters: Expr::int(37),
                destination: ContractHash([1; 20]),
                entrypoint: Entrypoint::new("aux").unwrap(),
            },
            Transaction {
                parameters: Expr::prim(Primitive::UNIT, vec![]),
                destination: ContractHash([1; 20]),
                entrypoint: Entrypoint::default(),
            },
        ]);
        let s = summary_json(&msg.encode()).unwrap();
        let kt1 = ContractHash([1; 20]).to_b58check();
        assert_eq!(
            s,
            json!({"transactions": [
                {"destination": kt1, "entrypoint": "aux", "parameters": {"int": "37"}},
                {"destination": kt1}
            ]})
        );
        assert_eq!(
            summary_json(&OutboxMessage::WhitelistUpdate(None).encode()).unwrap(),
            json!({"whitelist_update": null})
        );
        assert!(summary_json(&[9, 9]).is_none());
    }
}
