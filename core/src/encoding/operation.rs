//! Tezos manager operations, protocol 025 (`PsUshuai`) binary encoding, as octez's
//! `Operation_repr` writes them: what Taquito's local forger produces and what
//! `/injection/operation` receives.
//!
//! An operation is `branch (32 bytes) ‖ contents… ‖ signature (64 bytes)`; every content is a
//! manager operation: `tag ‖ source (21) ‖ fee (n) ‖ counter (n) ‖ gas_limit (n) ‖
//! storage_limit (n) ‖ fields`.
//!
//! | tag | kind | fields |
//! |---|---|---|
//! | 107 | `reveal` | public key, optional BLS proof |
//! | 108 | `transaction` | amount (n), destination (22), optional (entrypoint, lazy expr) |
//! | 109 | `origination` | balance (n), optional delegate, code and storage (lazy exprs) |
//! | 200 | `smart_rollup_originate` | pvm kind (u8), kernel bytes, parameter type, optional whitelist |
//! | 201 | `smart_rollup_add_messages` | a list of byte strings |
//! | 202 | `smart_rollup_cement` | rollup |
//! | 203 | `smart_rollup_publish` | rollup, commitment (76 bytes) |
//! | 204 | `smart_rollup_refute` | rollup, opponent, refutation ([`super::refutation`]) |
//! | 205 | `smart_rollup_timeout` | rollup, the two stakers |
//! | 206 | `smart_rollup_execute_outbox_message` | rollup, cemented commitment hash, proof bytes |
//! | 207 | `smart_rollup_recover_bond` | rollup, staker |
//!
//! The operation hash (`o…`) is `blake2b_256` of the whole signed bytes ([`operation_hash`]).
//! With the `json` feature, [`ManagerOperation::to_json`] and [`ManagerOperation::from_json`]
//! give octez's RPC JSON form (what `simulate_operation` and `preapply` receive and blocks list).

use alloc::string::String;
use alloc::vec::Vec;

use crate::digest::blake2b_256;

use super::address::{Contract, PublicKeyHash, SmartRollupAddress};
use super::base58;
use super::binary::{
    put_dynamic, put_dynamic_bytes, put_n_u64, put_u8, DecodeError, DecodeErrorKind, Reader,
};
pub use super::inbox::BlockHash;
use super::keys::{PublicKey, Signature};
use super::micheline::Expr;
use super::refutation::Refutation;
use crate::commitment::{Commitment, CommitmentHash};

/// octez's `max_operation_data_length`: the largest signed operation accepted (32 KiB).
pub const MAX_OPERATION_SIZE: usize = 32 * 1024;

/// An operation hash (`o…`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct OperationHash(pub [u8; 32]);
base58::base58_newtype!(OperationHash, base58::OPERATION_HASH);

/// `blake2b_256` of the signed operation bytes: the `o…` hash clients and blocks show.
pub fn operation_hash(signed_bytes: &[u8]) -> OperationHash {
    OperationHash(blake2b_256(signed_bytes))
}

/// A signed (or, for simulation, unsigned) operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// The block the operation was built on.
    pub branch: BlockHash,
    /// The manager operations, applied in order, all from the same source.
    pub contents: Vec<ManagerOperation>,
    /// The signature over `0x03 ‖ forged bytes`, absent in unsigned forms.
    pub signature: Option<Signature>,
}

/// The rollup's PVM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PvmKind {
    /// `arith`, tag 0.
    Arith,
    /// `wasm_2_0_0`, tag 1.
    Wasm,
    /// `riscv`, tag 2.
    Riscv,
}

impl PvmKind {
    /// The JSON name.
    pub fn name(self) -> &'static str {
        match self {
            PvmKind::Arith => "arith",
            PvmKind::Wasm => "wasm_2_0_0",
            PvmKind::Riscv => "riscv",
        }
    }

    /// The kind of a JSON name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "arith" => Some(PvmKind::Arith),
            "wasm_2_0_0" => Some(PvmKind::Wasm),
            "riscv" => Some(PvmKind::Riscv),
            _ => None,
        }
    }
}

/// A transaction's parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameters {
    /// The entrypoint (`default` when none is named).
    pub entrypoint: String,
    /// The argument.
    pub value: Expr,
}

/// What a manager operation does.
#[derive(Debug, Clone, PartialEq)]
pub enum OperationKind {
    /// Publishes the source's public key.
    Reveal {
        /// The key; its hash must be the source.
        public_key: PublicKey,
        /// Proof of possession (BLS keys only), raw bytes.
        proof: Option<Vec<u8>>,
    },
    /// A transfer, possibly calling a contract.
    Transaction {
        /// Mutez sent.
        amount: u64,
        /// The receiver.
        destination: Contract,
        /// The call; `None` is `Unit` to the default entrypoint.
        parameters: Option<Parameters>,
    },
    /// Creates a contract.
    Origination {
        /// Mutez given to the contract.
        balance: u64,
        /// Its delegate.
        delegate: Option<PublicKeyHash>,
        /// `{ parameter ..; storage ..; code .. }`.
        code: Expr,
        /// The initial storage.
        storage: Expr,
    },
    /// Creates a smart rollup.
    SmartRollupOriginate {
        /// Its PVM.
        pvm_kind: PvmKind,
        /// The boot sector (for WASM: the kernel or an installer), any bytes.
        kernel: Vec<u8>,
        /// The type of the messages contracts send it.
        parameters_ty: Expr,
        /// Who may publish commitments (private rollups).
        whitelist: Option<Vec<PublicKeyHash>>,
    },
    /// Appends external messages to the shared inbox.
    SmartRollupAddMessages {
        /// The messages' payloads.
        messages: Vec<Vec<u8>>,
    },
    /// Cements the rollup's oldest commitment past its challenge window.
    SmartRollupCement {
        /// The rollup.
        rollup: SmartRollupAddress,
    },
    /// Publishes (and stakes on) a commitment.
    SmartRollupPublish {
        /// The rollup.
        rollup: SmartRollupAddress,
        /// The commitment.
        commitment: Commitment,
    },
    /// Opens a refutation game against a staker, or plays a move in one.
    SmartRollupRefute {
        /// The rollup.
        rollup: SmartRollupAddress,
        /// The staker the source plays against.
        opponent: PublicKeyHash,
        /// The opening or the move.
        refutation: Refutation,
    },
    /// Ends a refutation game whose player ran out of time.
    SmartRollupTimeout {
        /// The rollup.
        rollup: SmartRollupAddress,
        /// The first staker of the game.
        alice: PublicKeyHash,
        /// The second staker.
        bob: PublicKeyHash,
    },
    /// Executes an outbox message proven against a cemented commitment.
    SmartRollupExecuteOutboxMessage {
        /// The rollup.
        rollup: SmartRollupAddress,
        /// The cemented commitment the proof is against.
        cemented_commitment: CommitmentHash,
        /// The output proof.
        output_proof: Vec<u8>,
    },
    /// Gives a staker's bond back.
    SmartRollupRecoverBond {
        /// The rollup.
        rollup: SmartRollupAddress,
        /// The staker.
        staker: PublicKeyHash,
    },
}

impl OperationKind {
    /// The binary tag.
    pub fn tag(&self) -> u8 {
        match self {
            OperationKind::Reveal { .. } => 107,
            OperationKind::Transaction { .. } => 108,
            OperationKind::Origination { .. } => 109,
            OperationKind::SmartRollupOriginate { .. } => 200,
            OperationKind::SmartRollupAddMessages { .. } => 201,
            OperationKind::SmartRollupCement { .. } => 202,
            OperationKind::SmartRollupPublish { .. } => 203,
            OperationKind::SmartRollupRefute { .. } => 204,
            OperationKind::SmartRollupTimeout { .. } => 205,
            OperationKind::SmartRollupExecuteOutboxMessage { .. } => 206,
            OperationKind::SmartRollupRecoverBond { .. } => 207,
        }
    }

    /// The JSON `kind`.
    pub fn name(&self) -> &'static str {
        match self {
            OperationKind::Reveal { .. } => "reveal",
            OperationKind::Transaction { .. } => "transaction",
            OperationKind::Origination { .. } => "origination",
            OperationKind::SmartRollupOriginate { .. } => "smart_rollup_originate",
            OperationKind::SmartRollupAddMessages { .. } => "smart_rollup_add_messages",
            OperationKind::SmartRollupCement { .. } => "smart_rollup_cement",
            OperationKind::SmartRollupPublish { .. } => "smart_rollup_publish",
            OperationKind::SmartRollupRefute { .. } => "smart_rollup_refute",
            OperationKind::SmartRollupTimeout { .. } => "smart_rollup_timeout",
            OperationKind::SmartRollupExecuteOutboxMessage { .. } => {
                "smart_rollup_execute_outbox_message"
            }
            OperationKind::SmartRollupRecoverBond { .. } => "smart_rollup_recover_bond",
        }
    }
}

/// A manager operation: who pays, how much, and what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagerOperation {
    /// The paying (and signing) account.
    pub source: PublicKeyHash,
    /// Fee, in mutez.
    pub fee: u64,
    /// The source's counter after this operation.
    pub counter: u64,
    /// Gas limit (gas units).
    pub gas_limit: u64,
    /// Storage limit (bytes).
    pub storage_limit: u64,
    /// What it does.
    pub kind: OperationKind,
}

fn put_lazy_expr(out: &mut Vec<u8>, e: &Expr) {
    put_dynamic(out, |out| e.encode_into(out));
}

fn read_lazy_expr(r: &mut Reader<'_>) -> Result<Expr, DecodeError> {
    r.dynamic(|r| {
        let e = Expr::read(r)?;
        r.finish()?;
        Ok(e)
    })
}

fn put_option<T>(out: &mut Vec<u8>, v: &Option<T>, f: impl FnOnce(&mut Vec<u8>, &T)) {
    match v {
        None => put_u8(out, 0),
        Some(v) => {
            put_u8(out, 0xff);
            f(out, v);
        }
    }
}

fn read_option<'a, T>(
    r: &mut Reader<'a>,
    what: &'static str,
    f: impl FnOnce(&mut Reader<'a>) -> Result<T, DecodeError>,
) -> Result<Option<T>, DecodeError> {
    let at = r.position();
    match r.u8()? {
        0 => Ok(None),
        0xff => Ok(Some(f(r)?)),
        tag => Err(r.error_at(
            at,
            DecodeErrorKind::InvalidTag {
                what,
                tag: u16::from(tag),
            },
        )),
    }
}

const BUILTIN_ENTRYPOINTS: [&str; 10] = [
    "default",
    "root",
    "do",
    "set_delegate",
    "remove_delegate",
    "deposit",
    "stake",
    "unstake",
    "finalize_unstake",
    "set_delegate_parameters",
];

fn put_entrypoint(out: &mut Vec<u8>, name: &str) {
    match BUILTIN_ENTRYPOINTS.iter().position(|b| *b == name) {
        Some(i) => put_u8(out, i as u8),
        None => {
            put_u8(out, 255);
            put_u8(out, name.len() as u8);
            out.extend_from_slice(name.as_bytes());
        }
    }
}

fn read_entrypoint(r: &mut Reader<'_>) -> Result<String, DecodeError> {
    let at = r.position();
    let tag = r.u8()?;
    if let Some(b) = BUILTIN_ENTRYPOINTS.get(usize::from(tag)) {
        return Ok(String::from(*b));
    }
    if tag != 255 {
        return Err(r.error_at(
            at,
            DecodeErrorKind::InvalidTag {
                what: "entrypoint",
                tag: u16::from(tag),
            },
        ));
    }
    let len = usize::from(r.u8()?);
    let at = r.position();
    let bytes = r.bytes(len)?;
    if len > 31 {
        return Err(r.error_at(
            at,
            DecodeErrorKind::Invalid {
                what: "entrypoint",
                reason: "longer than 31 bytes",
            },
        ));
    }
    let s = core::str::from_utf8(bytes)
        .map_err(|_| r.error_at(at, DecodeErrorKind::InvalidUtf8 { what: "entrypoint" }))?;
    Ok(String::from(s))
}

fn read_pvm_kind(r: &mut Reader<'_>) -> Result<PvmKind, DecodeError> {
    let at = r.position();
    match r.u8()? {
        0 => Ok(PvmKind::Arith),
        1 => Ok(PvmKind::Wasm),
        2 => Ok(PvmKind::Riscv),
        tag => Err(r.error_at(
            at,
            DecodeErrorKind::InvalidTag {
                what: "pvm_kind",
                tag: u16::from(tag),
            },
        )),
    }
}

fn put_pkh_list(out: &mut Vec<u8>, l: &[PublicKeyHash]) {
    put_dynamic(out, |out| l.iter().for_each(|k| k.encode_into(out)));
}

fn read_pkh_list(r: &mut Reader<'_>) -> Result<Vec<PublicKeyHash>, DecodeError> {
    r.dynamic(|r| {
        let mut v = Vec::new();
        while !r.is_empty() {
            v.push(PublicKeyHash::read(r)?);
        }
        Ok(v)
    })
}

impl ManagerOperation {
    /// Appends the binary form.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        put_u8(out, self.kind.tag());
        self.source.encode_into(out);
        put_n_u64(out, self.fee);
        put_n_u64(out, self.counter);
        put_n_u64(out, self.gas_limit);
        put_n_u64(out, self.storage_limit);
        match &self.kind {
            OperationKind::Reveal { public_key, proof } => {
                public_key.encode_into(out);
                put_option(out, proof, |out, p| put_dynamic_bytes(out, p));
            }
            OperationKind::Transaction {
                amount,
                destination,
                parameters,
            } => {
                put_n_u64(out, *amount);
                destination.encode_into(out);
                put_option(out, parameters, |out, p| {
                    put_entrypoint(out, &p.entrypoint);
                    put_lazy_expr(out, &p.value);
                });
            }
            OperationKind::Origination {
                balance,
                delegate,
                code,
                storage,
            } => {
                put_n_u64(out, *balance);
                put_option(out, delegate, |out, d| d.encode_into(out));
                put_lazy_expr(out, code);
                put_lazy_expr(out, storage);
            }
            OperationKind::SmartRollupOriginate {
                pvm_kind,
                kernel,
                parameters_ty,
                whitelist,
            } => {
                put_u8(out, *pvm_kind as u8);
                put_dynamic_bytes(out, kernel);
                put_lazy_expr(out, parameters_ty);
                put_option(out, whitelist, |out, w| put_pkh_list(out, w));
            }
            OperationKind::SmartRollupAddMessages { messages } => {
                put_dynamic(out, |out| {
                    messages.iter().for_each(|m| put_dynamic_bytes(out, m))
                });
            }
            OperationKind::SmartRollupCement { rollup } => rollup.encode_into(out),
            OperationKind::SmartRollupPublish { rollup, commitment } => {
                rollup.encode_into(out);
                out.extend_from_slice(&commitment.encode());
            }
            OperationKind::SmartRollupRefute {
                rollup,
                opponent,
                refutation,
            } => {
                rollup.encode_into(out);
                opponent.encode_into(out);
                refutation.encode_into(out);
            }
            OperationKind::SmartRollupTimeout { rollup, alice, bob } => {
                rollup.encode_into(out);
                alice.encode_into(out);
                bob.encode_into(out);
            }
            OperationKind::SmartRollupExecuteOutboxMessage {
                rollup,
                cemented_commitment,
                output_proof,
            } => {
                rollup.encode_into(out);
                out.extend_from_slice(&cemented_commitment.0);
                put_dynamic_bytes(out, output_proof);
            }
            OperationKind::SmartRollupRecoverBond { rollup, staker } => {
                rollup.encode_into(out);
                staker.encode_into(out);
            }
        }
    }

    /// Reads one manager operation.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.position();
        let tag = r.u8()?;
        let source = PublicKeyHash::read(r)?;
        let fee = r.n_u64()?;
        let counter = r.n_u64()?;
        let gas_limit = r.n_u64()?;
        let storage_limit = r.n_u64()?;
        let kind = match tag {
            107 => OperationKind::Reveal {
                public_key: PublicKey::read(r)?,
                proof: read_option(r, "reveal proof", |r| Ok(r.dynamic_bytes()?.to_vec()))?,
            },
            108 => OperationKind::Transaction {
                amount: r.n_u64()?,
                destination: Contract::read(r)?,
                parameters: read_option(r, "transaction parameters", |r| {
                    Ok(Parameters {
                        entrypoint: read_entrypoint(r)?,
                        value: read_lazy_expr(r)?,
                    })
                })?,
            },
            109 => OperationKind::Origination {
                balance: r.n_u64()?,
                delegate: read_option(r, "delegate", PublicKeyHash::read)?,
                code: read_lazy_expr(r)?,
                storage: read_lazy_expr(r)?,
            },
            200 => OperationKind::SmartRollupOriginate {
                pvm_kind: read_pvm_kind(r)?,
                kernel: r.dynamic_bytes()?.to_vec(),
                parameters_ty: read_lazy_expr(r)?,
                whitelist: read_option(r, "whitelist", read_pkh_list)?,
            },
            201 => OperationKind::SmartRollupAddMessages {
                messages: r.dynamic(|r| {
                    let mut v = Vec::new();
                    while !r.is_empty() {
                        v.push(r.dynamic_bytes()?.to_vec());
                    }
                    Ok(v)
                })?,
            },
            202 => OperationKind::SmartRollupCement {
                rollup: SmartRollupAddress::read(r)?,
            },
            203 => OperationKind::SmartRollupPublish {
                rollup: SmartRollupAddress::read(r)?,
                commitment: Commitment::read(r)?,
            },
            204 => OperationKind::SmartRollupRefute {
                rollup: SmartRollupAddress::read(r)?,
                opponent: PublicKeyHash::read(r)?,
                refutation: Refutation::read(r)?,
            },
            205 => OperationKind::SmartRollupTimeout {
                rollup: SmartRollupAddress::read(r)?,
                alice: PublicKeyHash::read(r)?,
                bob: PublicKeyHash::read(r)?,
            },
            206 => OperationKind::SmartRollupExecuteOutboxMessage {
                rollup: SmartRollupAddress::read(r)?,
                cemented_commitment: CommitmentHash(r.array()?),
                output_proof: r.dynamic_bytes()?.to_vec(),
            },
            207 => OperationKind::SmartRollupRecoverBond {
                rollup: SmartRollupAddress::read(r)?,
                staker: PublicKeyHash::read(r)?,
            },
            _ => {
                return Err(r.error_at(
                    at,
                    DecodeErrorKind::InvalidTag {
                        what: "manager operation (supported: reveal, transaction, origination, smart_rollup_*)",
                        tag: u16::from(tag),
                    },
                ))
            }
        };
        Ok(ManagerOperation {
            source,
            fee,
            counter,
            gas_limit,
            storage_limit,
            kind,
        })
    }
}

/// Size of the signature that ends a signed operation (every scheme but BLS).
pub const SIGNATURE_SIZE: usize = 64;

impl Operation {
    /// The bytes that are signed (branch and contents, no signature): what Taquito's forger
    /// and `/helpers/forge/operations` return.
    pub fn forge(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.branch.0);
        for c in &self.contents {
            c.encode_into(&mut out);
        }
        out
    }

    /// The signed bytes (forged bytes and signature; without a signature, the forged bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.forge();
        if let Some(s) = &self.signature {
            out.extend_from_slice(&s.0);
        }
        out
    }

    /// Decodes forged bytes without a signature.
    pub fn decode_unsigned(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let branch = BlockHash(r.array()?);
        let mut contents = Vec::new();
        while !r.is_empty() {
            contents.push(ManagerOperation::read(&mut r)?);
        }
        if contents.is_empty() {
            return Err(r.error(DecodeErrorKind::Invalid {
                what: "operation",
                reason: "no contents",
            }));
        }
        Ok(Operation {
            branch,
            contents,
            signature: None,
        })
    }

    /// Decodes a signed operation (what `/injection/operation` receives): the last 64 bytes
    /// are the signature. Also returns how many bytes the signed part has.
    pub fn decode_signed(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() < 32 + SIGNATURE_SIZE {
            return Err(DecodeError {
                offset: bytes.len(),
                kind: DecodeErrorKind::UnexpectedEof {
                    needed: 32 + SIGNATURE_SIZE - bytes.len(),
                },
            });
        }
        let (unsigned, sig) = bytes.split_at(bytes.len() - SIGNATURE_SIZE);
        let mut op = Self::decode_unsigned(unsigned)?;
        op.signature = Some(Signature(sig.to_vec()));
        Ok(op)
    }

    /// The `o…` hash of [`Operation::encode`].
    pub fn hash(&self) -> OperationHash {
        operation_hash(&self.encode())
    }
}

#[cfg(feature = "json")]
mod json {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;
    use serde_json::{json, Map, Value};

    /// Why an operation in octez's JSON form was rejected: the field and the reason.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    #[error("field {field:?}: {reason}")]
    pub struct OperationJsonError {
        /// The field (`kind`, `fee`, `parameters.value`, ...).
        pub field: String,
        /// What is wrong with it.
        pub reason: String,
    }

    fn err(field: &str, reason: impl Into<String>) -> OperationJsonError {
        OperationJsonError {
            field: field.into(),
            reason: reason.into(),
        }
    }

    fn get<'a>(o: &'a Map<String, Value>, f: &str) -> Result<&'a Value, OperationJsonError> {
        o.get(f).ok_or_else(|| err(f, "missing"))
    }

    fn u64_field(o: &Map<String, Value>, f: &str) -> Result<u64, OperationJsonError> {
        match get(o, f)? {
            Value::String(s) => s
                .parse::<u64>()
                .map_err(|_| err(f, format!("{s:?} is not a natural number below 2^64"))),
            Value::Number(n) => n
                .as_u64()
                .ok_or_else(|| err(f, "not a natural number below 2^64")),
            _ => Err(err(f, "expected a decimal string")),
        }
    }

    fn str_field<'a>(o: &'a Map<String, Value>, f: &str) -> Result<&'a str, OperationJsonError> {
        get(o, f)?
            .as_str()
            .ok_or_else(|| err(f, "expected a string"))
    }

    fn hex_field(o: &Map<String, Value>, f: &str) -> Result<Vec<u8>, OperationJsonError> {
        hex_value(get(o, f)?, f)
    }

    fn hex_value(v: &Value, f: &str) -> Result<Vec<u8>, OperationJsonError> {
        let s = v.as_str().ok_or_else(|| err(f, "expected a hex string"))?;
        hex::decode(s).map_err(|e| err(f, format!("not hex: {e}")))
    }

    fn b58<T, E: core::fmt::Display>(
        o: &Map<String, Value>,
        f: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, OperationJsonError> {
        let s = str_field(o, f)?;
        parse(s).map_err(|e| err(f, format!("{s:?}: {e}")))
    }

    fn expr_value(v: &Value, f: &str) -> Result<Expr, OperationJsonError> {
        Expr::from_json(v).map_err(|e| err(f, e.to_string()))
    }

    fn pkh_list(v: &Value, f: &str) -> Result<Vec<PublicKeyHash>, OperationJsonError> {
        let items = v.as_array().ok_or_else(|| err(f, "expected an array"))?;
        items
            .iter()
            .map(|i| {
                let s = i.as_str().ok_or_else(|| err(f, "expected tz.. strings"))?;
                PublicKeyHash::from_b58check(s).map_err(|e| err(f, format!("{s:?}: {e}")))
            })
            .collect()
    }

    impl ManagerOperation {
        /// octez's JSON form (`{"kind", "source", "fee", "counter", "gas_limit",
        /// "storage_limit", ..}`), numbers as decimal strings.
        pub fn to_json(&self) -> Value {
            let mut m = Map::new();
            m.insert("kind".into(), self.kind.name().into());
            m.insert("source".into(), self.source.to_b58check().into());
            m.insert("fee".into(), self.fee.to_string().into());
            m.insert("counter".into(), self.counter.to_string().into());
            m.insert("gas_limit".into(), self.gas_limit.to_string().into());
            m.insert(
                "storage_limit".into(),
                self.storage_limit.to_string().into(),
            );
            let mut put = |k: &str, v: Value| {
                m.insert(k.into(), v);
            };
            match &self.kind {
                OperationKind::Reveal { public_key, proof } => {
                    put("public_key", public_key.to_b58check().into());
                    if let Some(p) = proof {
                        put("proof", hex::encode(p).into());
                    }
                }
                OperationKind::Transaction {
                    amount,
                    destination,
                    parameters,
                } => {
                    put("amount", amount.to_string().into());
                    put("destination", destination.to_b58check().into());
                    if let Some(p) = parameters {
                        put(
                            "parameters",
                            json!({"entrypoint": p.entrypoint, "value": Value::from(p.value.to_json())}),
                        );
                    }
                }
                OperationKind::Origination {
                    balance,
                    delegate,
                    code,
                    storage,
                } => {
                    put("balance", balance.to_string().into());
                    if let Some(d) = delegate {
                        put("delegate", d.to_b58check().into());
                    }
                    put(
                        "script",
                        json!({"code": Value::from(code.to_json()), "storage": Value::from(storage.to_json())}),
                    );
                }
                OperationKind::SmartRollupOriginate {
                    pvm_kind,
                    kernel,
                    parameters_ty,
                    whitelist,
                } => {
                    put("pvm_kind", pvm_kind.name().into());
                    put("kernel", hex::encode(kernel).into());
                    put("parameters_ty", parameters_ty.to_json().into());
                    if let Some(w) = whitelist {
                        put(
                            "whitelist",
                            w.iter().map(|k| Value::from(k.to_b58check())).collect(),
                        );
                    }
                }
                OperationKind::SmartRollupAddMessages { messages } => {
                    put(
                        "message",
                        messages
                            .iter()
                            .map(|x| Value::from(hex::encode(x)))
                            .collect(),
                    );
                }
                OperationKind::SmartRollupCement { rollup } => {
                    put("rollup", rollup.to_b58check().into())
                }
                OperationKind::SmartRollupPublish { rollup, commitment } => {
                    put("rollup", rollup.to_b58check().into());
                    put("commitment", commitment.to_json());
                }
                OperationKind::SmartRollupRefute {
                    rollup,
                    opponent,
                    refutation,
                } => {
                    put("rollup", rollup.to_b58check().into());
                    put("opponent", opponent.to_b58check().into());
                    put("refutation", refutation.to_json());
                }
                OperationKind::SmartRollupTimeout { rollup, alice, bob } => {
                    put("rollup", rollup.to_b58check().into());
                    put(
                        "stakers",
                        json!({"alice": alice.to_b58check(), "bob": bob.to_b58check()}),
                    );
                }
                OperationKind::SmartRollupExecuteOutboxMessage {
                    rollup,
                    cemented_commitment,
                    output_proof,
                } => {
                    put("rollup", rollup.to_b58check().into());
                    put(
                        "cemented_commitment",
                        cemented_commitment.to_b58check().into(),
                    );
                    put("output_proof", hex::encode(output_proof).into());
                }
                OperationKind::SmartRollupRecoverBond { rollup, staker } => {
                    put("rollup", rollup.to_b58check().into());
                    put("staker", staker.to_b58check().into());
                }
            }
            Value::Object(m)
        }

        /// Parses octez's JSON form (fields the operation does not have, such as `metadata`,
        /// are ignored).
        pub fn from_json(v: &Value) -> Result<Self, OperationJsonError> {
            let o = v
                .as_object()
                .ok_or_else(|| err("contents[]", "expected an object"))?;
            let kind_name = str_field(o, "kind")?;
            let rollup = || b58(o, "rollup", SmartRollupAddress::from_b58check);
            let kind = match kind_name {
                "reveal" => OperationKind::Reveal {
                    public_key: b58(o, "public_key", PublicKey::from_b58check)?,
                    proof: match o.get("proof") {
                        None | Some(Value::Null) => None,
                        Some(p) => Some(hex_value(p, "proof")?),
                    },
                },
                "transaction" => OperationKind::Transaction {
                    amount: u64_field(o, "amount")?,
                    destination: b58(o, "destination", Contract::from_b58check)?,
                    parameters: match o.get("parameters") {
                        None | Some(Value::Null) => None,
                        Some(Value::Object(p)) => Some(Parameters {
                            entrypoint: match p.get("entrypoint") {
                                None => "default".into(),
                                Some(e) => e
                                    .as_str()
                                    .ok_or_else(|| {
                                        err("parameters.entrypoint", "expected a string")
                                    })?
                                    .into(),
                            },
                            value: expr_value(get(p, "value")?, "parameters.value")?,
                        }),
                        Some(_) => return Err(err("parameters", "expected an object")),
                    },
                },
                "origination" => {
                    let script = match get(o, "script")? {
                        Value::Object(s) => s,
                        _ => return Err(err("script", "expected {\"code\", \"storage\"}")),
                    };
                    OperationKind::Origination {
                        balance: u64_field(o, "balance")?,
                        delegate: match o.get("delegate") {
                            None | Some(Value::Null) => None,
                            Some(_) => Some(b58(o, "delegate", PublicKeyHash::from_b58check)?),
                        },
                        code: expr_value(get(script, "code")?, "script.code")?,
                        storage: expr_value(get(script, "storage")?, "script.storage")?,
                    }
                }
                "smart_rollup_originate" => OperationKind::SmartRollupOriginate {
                    pvm_kind: {
                        let n = str_field(o, "pvm_kind")?;
                        PvmKind::from_name(n).ok_or_else(|| {
                            err(
                                "pvm_kind",
                                format!("{n:?} is not arith, wasm_2_0_0 or riscv"),
                            )
                        })?
                    },
                    kernel: hex_field(o, "kernel")?,
                    parameters_ty: expr_value(get(o, "parameters_ty")?, "parameters_ty")?,
                    whitelist: match o.get("whitelist") {
                        None | Some(Value::Null) => None,
                        Some(w) => Some(pkh_list(w, "whitelist")?),
                    },
                },
                "smart_rollup_add_messages" => OperationKind::SmartRollupAddMessages {
                    messages: get(o, "message")?
                        .as_array()
                        .ok_or_else(|| err("message", "expected an array of hex strings"))?
                        .iter()
                        .map(|m| hex_value(m, "message[]"))
                        .collect::<Result<_, _>>()?,
                },
                "smart_rollup_cement" => OperationKind::SmartRollupCement { rollup: rollup()? },
                "smart_rollup_publish" => OperationKind::SmartRollupPublish {
                    rollup: rollup()?,
                    commitment: Commitment::from_json(get(o, "commitment")?)
                        .map_err(|e| err("commitment", e.to_string()))?,
                },
                "smart_rollup_refute" => OperationKind::SmartRollupRefute {
                    rollup: rollup()?,
                    opponent: b58(o, "opponent", PublicKeyHash::from_b58check)?,
                    refutation: Refutation::from_json(get(o, "refutation")?)
                        .map_err(|e| err("refutation", e.to_string()))?,
                },
                "smart_rollup_timeout" => {
                    let s = match get(o, "stakers")? {
                        Value::Object(s) => s,
                        _ => return Err(err("stakers", "expected {\"alice\", \"bob\"}")),
                    };
                    OperationKind::SmartRollupTimeout {
                        rollup: rollup()?,
                        alice: b58(s, "alice", PublicKeyHash::from_b58check)?,
                        bob: b58(s, "bob", PublicKeyHash::from_b58check)?,
                    }
                }
                "smart_rollup_execute_outbox_message" => {
                    OperationKind::SmartRollupExecuteOutboxMessage {
                        rollup: rollup()?,
                        cemented_commitment: b58(
                            o,
                            "cemented_commitment",
                            CommitmentHash::from_b58check,
                        )?,
                        output_proof: hex_field(o, "output_proof")?,
                    }
                }
                "smart_rollup_recover_bond" => OperationKind::SmartRollupRecoverBond {
                    rollup: rollup()?,
                    staker: b58(o, "staker", PublicKeyHash::from_b58check)?,
                },
                other => {
                    return Err(err(
                        "kind",
                        format!("{other:?} is not a manager operation the sandbox supports"),
                    ))
                }
            };
            Ok(ManagerOperation {
                source: b58(o, "source", PublicKeyHash::from_b58check)?,
                fee: u64_field(o, "fee")?,
                counter: u64_field(o, "counter")?,
                gas_limit: u64_field(o, "gas_limit")?,
                storage_limit: u64_field(o, "storage_limit")?,
                kind,
            })
        }
    }

    impl Operation {
        /// Parses `{"branch", "contents": [..], "signature"?}` (signature optional).
        pub fn from_json(v: &Value) -> Result<Self, OperationJsonError> {
            let o = v
                .as_object()
                .ok_or_else(|| err("operation", "expected an object"))?;
            let branch = b58(o, "branch", BlockHash::from_b58check)?;
            let items = get(o, "contents")?
                .as_array()
                .ok_or_else(|| err("contents", "expected an array"))?;
            if items.is_empty() {
                return Err(err("contents", "empty"));
            }
            let contents = items
                .iter()
                .map(ManagerOperation::from_json)
                .collect::<Result<_, _>>()?;
            let signature = match o.get("signature") {
                None | Some(Value::Null) => None,
                Some(_) => Some(b58(o, "signature", Signature::from_b58check)?),
            };
            Ok(Operation {
                branch,
                contents,
                signature,
            })
        }
    }
}

#[cfg(feature = "json")]
pub use json::OperationJsonError;
