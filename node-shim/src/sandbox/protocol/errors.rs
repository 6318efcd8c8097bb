//! octez's error objects: `{"kind": "permanent"|"temporary"|"branch", "id": "proto.025-PsUshuai.…", ..}`.

use serde_json::{json, Value as J};

/// The prefix of protocol error ids.
pub(super) const PROTO_PREFIX: &str = "proto.025-PsUshuai.";

/// One octez error: its id (without the protocol prefix), kind and fields.
#[derive(Debug, Clone, PartialEq)]
pub struct OctezError {
    /// The id, e.g. `contract.counter_in_the_past`.
    pub id: String,
    /// `permanent`, `temporary` or `branch`.
    pub kind: &'static str,
    /// Extra fields.
    pub fields: J,
}

impl OctezError {
    /// The JSON object.
    pub fn to_json(&self) -> J {
        let mut o = json!({"kind": self.kind, "id": format!("{PROTO_PREFIX}{}", self.id)});
        if let (Some(o), J::Object(f)) = (o.as_object_mut(), &self.fields) {
            for (k, v) in f {
                o.insert(k.clone(), v.clone());
            }
        }
        o
    }
}

/// An error of the kind octez gives this id (counter and balance errors are temporary or
/// branch errors, the rest permanent).
pub(super) fn err(id: &str, fields: J) -> OctezError {
    let kind = match id {
        "contract.counter_in_the_future"
        | "gas_exhausted.operation"
        | "gas_exhausted.block"
        | "storage_exhausted.operation"
        | "contract.balance_too_low"
        | "smart_rollup_commitment_too_recent"
        | "smart_rollup_no_commitment_to_cement" => "temporary",
        "contract.counter_in_the_past" => "branch",
        _ => "permanent",
    };
    OctezError {
        id: id.into(),
        kind,
        fields,
    }
}

pub(super) fn counter(id: &str, contract: &str, expected: u64, found: u64) -> J {
    err(
        id,
        json!({"contract": contract, "expected": expected.to_string(), "found": found.to_string()}),
    )
    .to_json()
}

pub(super) fn balance_too_low(contract: &str, balance: u64, amount: u64) -> J {
    err(
        "contract.balance_too_low",
        json!({"contract": contract, "balance": balance.to_string(), "amount": amount.to_string()}),
    )
    .to_json()
}

pub(super) fn non_existing(contract: &str) -> OctezError {
    err(
        "contract.non_existing_contract",
        json!({"contract": contract}),
    )
}

/// The shell's error for an operation over `max_operation_data_length`.
pub(super) fn oversized(size: usize, max: usize) -> J {
    json!({"kind": "permanent", "id": "node.prevalidation.oversized_operation",
           "size": size, "max_size": max})
}
