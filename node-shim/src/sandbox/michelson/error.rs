//! Errors of the Michelson subset, each with the octez error id the RPC layer reports.

use num_bigint::BigInt;
use soru_core::encoding::micheline::Expr;

/// Everything that can go wrong when checking or running a contract.
///
/// Locations are octez's canonical Micheline locations: the prefix-order index of the node in
/// the expression that was checked (the script `{ parameter ..; storage ..; code .. }` for code
/// errors, the data expression for data errors). `soru_core::encoding::michelson::parse_script`
/// maps them back to lines and columns of a `.tz` file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The script is not `{ parameter T ; storage T ; code C }` (missing or repeated field).
    #[error("malformed script: {reason}")]
    MalformedScript {
        /// What is wrong.
        reason: String,
    },
    /// A primitive (instruction, type or data constructor) outside the sandbox's subset.
    #[error("at location {location}: {prim} is outside the sandbox's Michelson subset")]
    Unsupported {
        /// Where it is.
        location: usize,
        /// Its name.
        prim: String,
    },
    /// A type or instruction that does not type-check.
    #[error("at location {location}: ill-typed {what}: {reason}")]
    IllTyped {
        /// Where it is.
        location: usize,
        /// What was being checked (`script`, `type`, `data`).
        what: &'static str,
        /// The octez error id of the precise cause (e.g. `michelson_v1.bad_stack`).
        id: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The entrypoint named in a call does not exist.
    #[error("no entrypoint %{0}")]
    NoSuchEntrypoint(String),
    /// Two entrypoints with one name in a parameter type.
    #[error("duplicate entrypoint %{0}")]
    DuplicateEntrypoint(String),
    /// `FAILWITH` was executed.
    #[error("script rejected at location {location} with {value}")]
    ScriptRejected {
        /// Location of the `FAILWITH`.
        location: usize,
        /// The failure value (octez's readable form).
        value: Expr,
    },
    /// Mutez overflow or underflow, or a shift too large.
    #[error("at location {location}: {what} overflow")]
    Overflow {
        /// Location of the instruction.
        location: usize,
        /// What overflowed.
        what: &'static str,
    },
    /// The gas limit was reached.
    #[error("gas exhausted: more than {limit_milligas} milligas")]
    GasExhausted {
        /// The limit, in milligas.
        limit_milligas: u64,
    },
    /// A transfer the protocol refuses at run time (e.g. tez or an entrypoint sent to a
    /// rollup).
    #[error("at location {location}: {reason}")]
    Runtime {
        /// Location of the instruction.
        location: usize,
        /// The octez error id.
        id: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The contract sends more units of a ticket than it may spend.
    #[error("invalid ticket transfer: {amount} unit(s) of a ticket created by {ticketer}")]
    InvalidTicketTransfer {
        /// The ticketer (base58).
        ticketer: String,
        /// The excess amount.
        amount: BigInt,
    },
}

impl Error {
    /// The octez error id, without the `proto.025-PsUshuai.` prefix the RPC layer adds.
    pub fn id(&self) -> &'static str {
        match self {
            Error::MalformedScript { .. } => "michelson_v1.missing_script_field",
            Error::Unsupported { .. } => "michelson_v1.invalid_primitive",
            Error::IllTyped { id, .. } | Error::Runtime { id, .. } => id,
            Error::NoSuchEntrypoint(_) => "michelson_v1.no_such_entrypoint",
            Error::DuplicateEntrypoint(_) => "michelson_v1.duplicate_entrypoint",
            Error::ScriptRejected { .. } => "michelson_v1.script_rejected",
            Error::Overflow { .. } => "michelson_v1.script_overflow",
            Error::GasExhausted { .. } => "gas_exhausted.operation",
            Error::InvalidTicketTransfer { .. } => "invalid_ticket_transfer",
        }
    }

    /// The Micheline location the error points at, if any.
    pub fn location(&self) -> Option<usize> {
        match self {
            Error::Unsupported { location, .. }
            | Error::IllTyped { location, .. }
            | Error::ScriptRejected { location, .. }
            | Error::Overflow { location, .. }
            | Error::Runtime { location, .. } => Some(*location),
            _ => None,
        }
    }

    /// The error as one octez error object (`{"kind", "id", ...fields}`), `id` prefixed with
    /// `proto_prefix` (e.g. `"proto.025-PsUshuai."`). The RPC layer wraps it in its trace
    /// (e.g. after a `michelson_v1.runtime_error` naming the contract).
    pub fn to_octez_json(&self, proto_prefix: &str) -> serde_json::Value {
        use serde_json::json;
        let id = format!("{proto_prefix}{}", self.id());
        let kind = match self {
            Error::GasExhausted { .. } => "temporary",
            _ => "permanent",
        };
        let mut v = json!({ "kind": kind, "id": id });
        let m = v.as_object_mut().expect("an object");
        if let Some(location) = self.location() {
            m.insert("location".into(), json!(location));
        }
        match self {
            Error::ScriptRejected { value, .. } => {
                m.insert("with".into(), value.to_json().into());
            }
            Error::Unsupported { prim, .. } => {
                m.insert("wrong_primitive_name".into(), json!(prim));
                m.insert("expected_primitive_names".into(), json!([]));
            }
            Error::NoSuchEntrypoint(name) | Error::DuplicateEntrypoint(name) => {
                m.insert("entrypoint".into(), json!(name));
            }
            Error::InvalidTicketTransfer { ticketer, amount } => {
                m.insert("ticketer".into(), json!(ticketer));
                m.insert("amount".into(), json!(amount.to_string()));
            }
            _ => {}
        }
        m.insert("message".into(), json!(self.to_string()));
        v
    }
}

impl Error {
    /// The octez error trace (outermost first) for a failed call to or origination of
    /// `contract` (`KT1..`): errors found while running the code come after
    /// `michelson_v1.runtime_error`, a parameter that does not type-check after
    /// `michelson_v1.bad_contract_parameter`, code that does not type-check after
    /// `michelson_v1.ill_typed_contract` (with the script as `ill_typed_code`).
    pub fn octez_trace(
        &self,
        contract: &str,
        script: Option<&Expr>,
        proto_prefix: &str,
    ) -> serde_json::Value {
        use serde_json::json;
        let id = |s: &str| format!("{proto_prefix}michelson_v1.{s}");
        let outer = match self {
            Error::ScriptRejected { .. }
            | Error::Overflow { .. }
            | Error::Runtime { .. }
            | Error::InvalidTicketTransfer { .. }
            | Error::GasExhausted { .. } => Some(json!({
                "kind": "temporary",
                "id": id("runtime_error"),
                "contract_handle": contract,
                "contract_code": "Deprecated",
            })),
            Error::IllTyped {
                what: "parameter", ..
            }
            | Error::NoSuchEntrypoint(_) => Some(json!({
                "kind": "permanent",
                "id": id("bad_contract_parameter"),
                "contract": contract,
            })),
            Error::IllTyped {
                what: "script" | "type",
                ..
            }
            | Error::Unsupported { .. }
            | Error::DuplicateEntrypoint(_)
            | Error::MalformedScript { .. } => Some(json!({
                "kind": "permanent",
                "id": id("ill_typed_contract"),
                "ill_typed_code": script.map(|e| e.to_json().into()).unwrap_or(serde_json::Value::Null),
                "type_map": [],
            })),
            _ => None,
        };
        serde_json::Value::Array(
            outer
                .into_iter()
                .chain([self.to_octez_json(proto_prefix)])
                .collect(),
        )
    }
}

pub(crate) fn ill_typed(
    location: usize,
    what: &'static str,
    id: &'static str,
    reason: impl Into<String>,
) -> Error {
    Error::IllTyped {
        location,
        what,
        id,
        reason: reason.into(),
    }
}

/// `Ok` when primitive `name` at `loc` has `n` arguments, else `michelson_v1.invalid_arity`.
pub(crate) fn check_arity(
    loc: usize,
    what: &'static str,
    name: &str,
    found: usize,
    n: usize,
) -> Result<(), Error> {
    if found == n {
        Ok(())
    } else {
        Err(ill_typed(
            loc,
            what,
            "michelson_v1.invalid_arity",
            format!("{name} takes {n} argument(s), found {found}"),
        ))
    }
}
