//! The sandbox's protocol: accounts, contracts and smart rollups, and how manager operations
//! change them. Pure: no I/O, no clock (block timestamps are given), no randomness. The node
//! ([`super::node`]) persists a [`Ledger`] and serves it over RPC.
//!
//! An operation is first **validated** ([`Ledger::validate`]: source, counters, reveal,
//! signature, fee balance, limits; a failure rejects it with an octez error array), then
//! **applied** ([`Ledger::apply`]: fees are taken and counters bumped, then each content runs;
//! the first failing content marks itself `failed`, the earlier ones `backtracked` and the later
//! ones `skipped`, and only the fees remain). Simulation runs the same code on a copy, without
//! the signature check, so the gas it reports is the gas that applying charges.

mod errors;
mod gas;
pub mod inbox;
mod rollup;

use std::collections::{BTreeMap, BTreeSet};

use num_bigint::BigInt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as J};
use soru_core::encoding::address::{ContractHash, Destination, PublicKeyHash, SmartRollupAddress};
use soru_core::encoding::base58;
use soru_core::encoding::inbox::{InboxMessage, InternalInboxMessage, Transfer as InboxTransfer};
use soru_core::encoding::keys::{check_operation_signature, PublicKey};
use soru_core::encoding::micheline::Expr;
use soru_core::encoding::operation::{
    BlockHash, ManagerOperation, Operation, OperationHash, OperationKind, Parameters,
    MAX_OPERATION_SIZE,
};

use super::michelson::{
    self, script_expr_hash, BigMapDiff, Chain, Contract, Entrypoints, ExecutionContext, Parameter,
    TicketToken, Transfer, Type,
};
pub use errors::OctezError;
use errors::{err, PROTO_PREFIX};

/// Protocol 025 (Ushuaia): the encodings the sandbox speaks.
pub const PROTOCOL_HASH: &str = "PsUshuai9QapM5TGj1JpuVGkdxz5GykdnEvS6Rh8SUVrARvZLCY";

/// The chain's parameters (octez's parametric constants the clients read), fixed at
/// `soru sandbox init`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Constants {
    /// Gas units one operation may use.
    pub hard_gas_limit_per_operation: u64,
    /// Gas units one block may use.
    pub hard_gas_limit_per_block: u64,
    /// Storage bytes one operation may pay for.
    pub hard_storage_limit_per_operation: u64,
    /// Mutez burnt per byte of new storage.
    pub cost_per_byte: u64,
    /// Bytes paid for allocating an account or contract.
    pub origination_size: u64,
    /// Bytes paid for originating a smart rollup.
    pub smart_rollup_origination_size: u64,
    /// Seconds between blocks (what clients poll at).
    pub minimal_block_delay: u64,
    /// Blocks per commitment period.
    pub smart_rollup_commitment_period_in_blocks: u32,
    /// Blocks a commitment stays refutable.
    pub smart_rollup_challenge_window_in_blocks: u32,
    /// Mutez staked by a commitment publisher.
    pub smart_rollup_stake_amount: u64,
    /// Largest inbox or outbox message, in bytes.
    pub smart_rollup_message_size_limit: usize,
}

impl Default for Constants {
    fn default() -> Self {
        Constants {
            hard_gas_limit_per_operation: 1_040_000,
            hard_gas_limit_per_block: 1_386_666,
            hard_storage_limit_per_operation: 60_000,
            cost_per_byte: 250,
            origination_size: 257,
            smart_rollup_origination_size: 6_314,
            minimal_block_delay: 1,
            smart_rollup_commitment_period_in_blocks: 5,
            smart_rollup_challenge_window_in_blocks: 10,
            smart_rollup_stake_amount: 10_000_000_000,
            smart_rollup_message_size_limit: 4_096,
        }
    }
}

impl Constants {
    /// The `/context/constants` answer (numbers octez prints as strings are strings).
    pub fn to_json(&self) -> J {
        let mut base = json!({
            "proof_of_work_nonce_size": 8,
            "nonce_length": 32,
            "max_anon_ops_per_block": 132,
            "max_operation_data_length": MAX_OPERATION_SIZE,
            "max_proposals_per_delegate": 20,
            "max_micheline_node_count": 50000,
            "max_micheline_bytes_limit": 50000,
            "max_allowed_global_constants_depth": 10000,
            "michelson_maximum_type_size": 2001,
            "preserved_cycles": 2,
            "consensus_rights_delay": 2,
            "blocks_per_cycle": 8,
            "blocks_per_commitment": 4,
            "hard_gas_limit_per_operation": self.hard_gas_limit_per_operation.to_string(),
            "hard_gas_limit_per_block": self.hard_gas_limit_per_block.to_string(),
            "hard_storage_limit_per_operation": self.hard_storage_limit_per_operation.to_string(),
            "cost_per_byte": self.cost_per_byte.to_string(),
            "origination_size": self.origination_size,
            "minimal_block_delay": self.minimal_block_delay.to_string(),
            "delay_increment_per_round": "1",
        });
        let rollups = json!({
            "smart_rollup_enable": true,
            "smart_rollup_arith_pvm_enable": false,
            "smart_rollup_origination_size": self.smart_rollup_origination_size,
            "smart_rollup_challenge_window_in_blocks": self.smart_rollup_challenge_window_in_blocks,
            "smart_rollup_commitment_period_in_blocks": self.smart_rollup_commitment_period_in_blocks,
            "smart_rollup_stake_amount": self.smart_rollup_stake_amount.to_string(),
            "smart_rollup_message_size_limit": self.smart_rollup_message_size_limit,
            "smart_rollup_max_number_of_messages_per_level": "1000000",
            "smart_rollup_max_lookahead_in_blocks": 30000,
            "smart_rollup_max_active_outbox_levels": soru_core::abi::OUTBOX_VALIDITY_PERIOD,
            "smart_rollup_max_outbox_messages_per_level": 100,
            "smart_rollup_number_of_sections_in_dissection": 32,
            "smart_rollup_timeout_period_in_blocks": 500,
            "smart_rollup_max_number_of_cemented_commitments": 5,
            "smart_rollup_max_number_of_parallel_games": 32,
            "smart_rollup_private_enable": true,
            "smart_rollup_riscv_pvm_enable": false,
            "dal_parametric": {"feature_enable": false, "incentives_enable": false,
                "number_of_slots": 16, "attestation_lag": 8, "attestation_threshold": 66,
                "redundancy_factor": 8, "page_size": 3967, "slot_size": 126944,
                "number_of_shards": 256},
        });
        if let (Some(m), J::Object(r)) = (base.as_object_mut(), rollups) {
            m.extend(r);
        }
        base
    }
}

/// An implicit account.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Account {
    /// Mutez.
    pub balance: u64,
    /// The counter of its last operation.
    pub counter: u64,
    /// Its revealed public key.
    pub public_key: Option<String>,
}

/// An originated (Michelson) contract.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Originated {
    /// Mutez.
    pub balance: u64,
    /// `{ parameter ..; storage ..; code .. }`, JSON Micheline.
    pub code: J,
    /// The storage, JSON Micheline (optimized form).
    pub storage: J,
    /// Bytes of storage paid for.
    pub paid_storage: u64,
}

/// A big map's types and contents.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BigMapState {
    /// Key type, JSON Micheline.
    pub key_type: J,
    /// Value type, JSON Micheline.
    pub value_type: J,
    /// Hex of the key's `script_expr_hash` -> (key, value), JSON Micheline.
    pub entries: BTreeMap<String, (J, J)>,
}

/// What a ledger table holds; keys of [`Ledger::dirty`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// [`Ledger::accounts`].
    Accounts,
    /// [`Ledger::contracts`].
    Contracts,
    /// [`Ledger::big_maps`].
    BigMaps,
    /// [`Ledger::rollups`].
    Rollups,
    /// [`Ledger::tickets`].
    Tickets,
}

impl Table {
    /// Every table.
    pub const ALL: [Table; 5] = [
        Table::Accounts,
        Table::Contracts,
        Table::BigMaps,
        Table::Rollups,
        Table::Tickets,
    ];

    /// Its name (the database table).
    pub fn name(self) -> &'static str {
        match self {
            Table::Accounts => "accounts",
            Table::Contracts => "contracts",
            Table::BigMaps => "big_maps",
            Table::Rollups => "rollups",
            Table::Tickets => "tickets",
        }
    }
}

pub use rollup::{InboxLevel, Rollup};

/// A baked block: header facts, operations with receipts, and the level's inbox.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Block {
    /// Level (0 is genesis).
    pub level: u32,
    /// `B…`.
    pub hash: String,
    /// The previous block's hash (genesis: its own).
    pub predecessor: String,
    /// Seconds since the epoch.
    pub timestamp: i64,
    /// The manager operations, octez's JSON with `hash`, `branch`, `contents` (receipts in
    /// `metadata`) and `signature`.
    pub operations: Vec<J>,
    /// The shared inbox of this level, each message's binary form in hex (Start_of_level,
    /// Info_per_level, the level's messages, End_of_level).
    pub inbox: Vec<String>,
}

/// The whole chain state besides blocks: what `soru sandbox` persists.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ledger {
    /// Chain parameters.
    pub constants: Constants,
    /// `tz…` -> account.
    pub accounts: BTreeMap<String, Account>,
    /// `KT1…` -> contract.
    pub contracts: BTreeMap<String, Originated>,
    /// Big map id -> big map.
    pub big_maps: BTreeMap<String, BigMapState>,
    /// `sr1…` -> rollup.
    pub rollups: BTreeMap<String, Rollup>,
    /// Ticket balances: JSON `[owner, ticketer, content_type, content]` -> amount.
    pub tickets: BTreeMap<String, String>,
    /// Next big map id.
    pub next_big_map: u64,
    /// Entries changed since the last [`Ledger::take_dirty`].
    #[serde(skip)]
    pub dirty: BTreeSet<(Table, String)>,
    /// Inbox messages added by the operations of the block being built (binary).
    #[serde(skip)]
    pub level_messages: Vec<Vec<u8>>,
}

/// Where an operation comes from, which decides what is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `simulate_operation` / `run_operation`: no signature check, fees may be 0.
    Simulate,
    /// `preapply` and injection: everything is checked.
    Apply,
}

/// What the block being built looks like to operations.
#[derive(Debug, Clone, Copy)]
pub struct BlockContext {
    /// Level of the block being built.
    pub level: u32,
    /// Its timestamp.
    pub timestamp: i64,
    /// The chain id.
    pub chain_id: [u8; 4],
}

/// An applied (or simulated) operation: its octez JSON with receipts.
#[derive(Debug, Clone)]
pub struct Applied {
    /// `o…`.
    pub hash: OperationHash,
    /// `contents` with `metadata`.
    pub contents: Vec<J>,
    /// Whether every content was applied.
    pub success: bool,
}

fn pkh_of(s: &PublicKeyHash) -> String {
    s.to_b58check()
}

fn balance_update(contract: &str, change: i128) -> J {
    json!({"kind": "contract", "contract": contract, "change": change.to_string(), "origin": "block"})
}

fn burn_update(category: &str, change: u64) -> J {
    json!({"kind": "burned", "category": category, "change": change.to_string(), "origin": "block"})
}

/// A failure while applying one content: octez errors, and the gas used so far.
struct Failed(Vec<J>);

impl From<OctezError> for Failed {
    fn from(e: OctezError) -> Self {
        Failed(vec![e.to_json()])
    }
}

/// A transfer's result fields and the operations the called contract emitted.
type Called = (serde_json::Map<String, J>, Vec<(Destination, Transfer)>);

/// What one content did, for its receipt.
struct Outcome {
    result: serde_json::Map<String, J>,
    internal: Vec<J>,
}

impl Ledger {
    /// A new chain with these accounts funded (`(tz1…, edpk…, mutez)`; keys are revealed).
    pub fn genesis(constants: Constants, bootstrap: &[(String, String, u64)]) -> Ledger {
        let mut l = Ledger {
            constants,
            ..Ledger::default()
        };
        for (pkh, pk, balance) in bootstrap {
            let a = l.account_mut(pkh);
            a.balance = *balance;
            a.public_key = Some(pk.clone());
        }
        l
    }

    /// The changed entries since the last call, and clears the list.
    pub fn take_dirty(&mut self) -> BTreeSet<(Table, String)> {
        std::mem::take(&mut self.dirty)
    }

    /// The JSON of an entry (`None` if removed), for the database.
    pub fn entry_json(&self, table: Table, key: &str) -> Option<String> {
        let v = match table {
            Table::Accounts => self.accounts.get(key).map(serde_json::to_string),
            Table::Contracts => self.contracts.get(key).map(serde_json::to_string),
            Table::BigMaps => self.big_maps.get(key).map(serde_json::to_string),
            Table::Rollups => self.rollups.get(key).map(serde_json::to_string),
            Table::Tickets => self.tickets.get(key).map(serde_json::to_string),
        };
        v.map(|r| r.unwrap_or_else(|e| format!("\"unserializable: {e}\"")))
    }

    /// Puts back an entry read from the database.
    pub fn load_entry(&mut self, table: Table, key: String, json: &str) -> Result<(), String> {
        let bad = |e: serde_json::Error| format!("{} entry {key:?}: {e}", table.name());
        match table {
            Table::Accounts => {
                let v = serde_json::from_str(json).map_err(bad)?;
                self.accounts.insert(key, v);
            }
            Table::Contracts => {
                let v = serde_json::from_str(json).map_err(bad)?;
                self.contracts.insert(key, v);
            }
            Table::BigMaps => {
                let v = serde_json::from_str(json).map_err(bad)?;
                self.big_maps.insert(key, v);
            }
            Table::Rollups => {
                let v = serde_json::from_str(json).map_err(bad)?;
                self.rollups.insert(key, v);
            }
            Table::Tickets => {
                let v = serde_json::from_str(json).map_err(bad)?;
                self.tickets.insert(key, v);
            }
        }
        Ok(())
    }

    fn account_mut(&mut self, pkh: &str) -> &mut Account {
        self.dirty.insert((Table::Accounts, pkh.to_string()));
        self.accounts.entry(pkh.to_string()).or_default()
    }

    fn contract_mut(&mut self, kt1: &str) -> Option<&mut Originated> {
        self.dirty.insert((Table::Contracts, kt1.to_string()));
        self.contracts.get_mut(kt1)
    }

    pub(crate) fn rollup_mut(&mut self, sr1: &str) -> Option<&mut Rollup> {
        self.dirty.insert((Table::Rollups, sr1.to_string()));
        self.rollups.get_mut(sr1)
    }

    /// The balance of any contract (`tz…`, `KT1…`), `None` if it does not exist.
    pub fn balance(&self, address: &str) -> Option<u64> {
        if let Some(a) = self.accounts.get(address) {
            return Some(a.balance);
        }
        self.contracts.get(address).map(|c| c.balance)
    }

    /// Validates an operation without changing anything: one source, counters in sequence,
    /// a revealed key (or a reveal first), a matching signature ([`Mode::Apply`]), limits and
    /// enough balance for the fees.
    pub fn validate(
        &self,
        op: &Operation,
        signed_bytes_len: usize,
        mode: Mode,
    ) -> Result<(), Vec<J>> {
        if signed_bytes_len > MAX_OPERATION_SIZE {
            return Err(vec![errors::oversized(
                signed_bytes_len,
                MAX_OPERATION_SIZE,
            )]);
        }
        let first = &op.contents[0];
        let source = pkh_of(&first.source);
        for c in &op.contents {
            if c.source != first.source {
                return Err(vec![err(
                    "operation.contents_list_error",
                    json!({"message": "all contents of an operation must have the same source"}),
                )
                .to_json()]);
            }
        }
        let account = self.accounts.get(&source);
        let Some(account) = account.filter(|a| a.balance > 0 || a.public_key.is_some()) else {
            return Err(vec![err(
                "implicit.empty_implicit_contract",
                json!({"implicit": source}),
            )
            .to_json()]);
        };
        let mut key = account.public_key.clone();
        let mut fees: u64 = 0;
        for (expected, (i, c)) in (account.counter + 1..).zip(op.contents.iter().enumerate()) {
            if c.counter < expected {
                return Err(vec![errors::counter(
                    "contract.counter_in_the_past",
                    &source,
                    expected,
                    c.counter,
                )]);
            }
            if c.counter > expected {
                return Err(vec![errors::counter(
                    "contract.counter_in_the_future",
                    &source,
                    expected,
                    c.counter,
                )]);
            }
            if c.gas_limit > self.constants.hard_gas_limit_per_operation {
                return Err(vec![err("gas_limit_too_high", json!({})).to_json()]);
            }
            if c.storage_limit > self.constants.hard_storage_limit_per_operation {
                return Err(vec![err("storage_limit_too_high", json!({})).to_json()]);
            }
            match &c.kind {
                OperationKind::Reveal { public_key, .. } => {
                    if key.is_some() {
                        return Err(vec![err(
                            "contract.previously_revealed_key",
                            json!({"contract": source}),
                        )
                        .to_json()]);
                    }
                    if i != 0 {
                        return Err(vec![err(
                            "operation.contents_list_error",
                            json!({"message": "a reveal must come first"}),
                        )
                        .to_json()]);
                    }
                    if public_key.hash() != c.source {
                        return Err(vec![err(
                            "contract.manager.inconsistent_hash",
                            json!({"public_key": public_key.to_b58check(),
                                   "expected_hash": source,
                                   "provided_hash": public_key.hash().to_b58check()}),
                        )
                        .to_json()]);
                    }
                    key = Some(public_key.to_b58check());
                }
                _ if key.is_none() => {
                    return Err(vec![err(
                        "contract.unrevealed_key",
                        json!({"contract": source}),
                    )
                    .to_json()]);
                }
                _ => {}
            }
            fees = fees.saturating_add(c.fee);
        }
        if fees > account.balance {
            return Err(vec![errors::balance_too_low(
                &source,
                account.balance,
                fees,
            )]);
        }
        if mode == Mode::Apply {
            let key = key
                .as_deref()
                .and_then(|k| PublicKey::from_b58check(k).ok());
            let (Some(key), Some(sig)) = (key, &op.signature) else {
                return Err(vec![err("operation.missing_signature", json!({})).to_json()]);
            };
            if check_operation_signature(&key, &op.forge(), sig).is_err() {
                return Err(vec![err("operation.invalid_signature", json!({})).to_json()]);
            }
        }
        Ok(())
    }

    /// Applies a validated operation: fees and counters first, then each content in order.
    /// Returns the contents with their receipts.
    pub fn apply(&mut self, op: &Operation, ctx: &BlockContext) -> Applied {
        let hash = op.hash();
        let source = pkh_of(&op.contents[0].source);
        let mut metas: Vec<(J, Option<Outcome>, Option<Vec<J>>)> = Vec::new();
        // Fees and counters.
        for c in &op.contents {
            let a = self.account_mut(&source);
            a.balance -= c.fee.min(a.balance);
            a.counter = c.counter;
            let fee_updates = if c.fee == 0 {
                json!([])
            } else {
                json!([balance_update(&source, -(c.fee as i128)),
                       {"kind": "accumulator", "category": "block fees",
                        "change": c.fee.to_string(), "origin": "block"}])
            };
            metas.push((fee_updates, None, None));
        }
        let mut failed_at = None;
        let before = self.clone();
        let messages_before = self.level_messages.len();
        for (i, c) in op.contents.iter().enumerate() {
            match self.apply_content(c, &hash, i as u32, ctx) {
                Ok(o) => metas[i].1 = Some(o),
                Err(Failed(errors)) => {
                    metas[i].2 = Some(errors);
                    failed_at = Some(i);
                    break;
                }
            }
        }
        if failed_at.is_some() {
            // Back to the state after fees, keeping what the fees and counters changed.
            let mut restored = before;
            restored.dirty.extend(std::mem::take(&mut self.dirty));
            restored.level_messages.truncate(messages_before);
            *self = restored;
        }
        let contents = op
            .contents
            .iter()
            .zip(metas)
            .enumerate()
            .map(|(i, (c, (fees, outcome, errors)))| {
                let mut j = c.to_json();
                let (result, internal) = match (outcome, errors) {
                    (_, Some(errors)) => (json!({"status": "failed", "errors": errors}), vec![]),
                    (Some(mut o), None) => {
                        let status = if failed_at.is_some() {
                            "backtracked"
                        } else {
                            "applied"
                        };
                        o.result.insert("status".into(), status.into());
                        if failed_at.is_some() {
                            for int in &mut o.internal {
                                if let Some(r) = int.get_mut("result") {
                                    r["status"] = "backtracked".into();
                                }
                            }
                        }
                        (J::Object(o.result), o.internal)
                    }
                    (None, None) => {
                        let _ = i;
                        (json!({"status": "skipped"}), vec![])
                    }
                };
                let mut meta = json!({"balance_updates": fees, "operation_result": result});
                if !internal.is_empty() {
                    meta["internal_operation_results"] = J::Array(internal);
                }
                j["metadata"] = meta;
                j
            })
            .collect();
        Applied {
            hash,
            contents,
            success: failed_at.is_none(),
        }
    }

    fn apply_content(
        &mut self,
        c: &ManagerOperation,
        op_hash: &OperationHash,
        index: u32,
        ctx: &BlockContext,
    ) -> Result<Outcome, Failed> {
        let source = pkh_of(&c.source);
        let gas_limit = c.gas_limit.saturating_mul(1000);
        let mut gas = gas::Meter::new(gas_limit);
        let mut storage = gas::Storage::new(c.storage_limit);
        gas.charge(gas::manager_operation(c))?;
        let mut result = serde_json::Map::new();
        let mut internal = Vec::new();
        match &c.kind {
            OperationKind::Reveal { public_key, .. } => {
                self.account_mut(&source).public_key = Some(public_key.to_b58check());
            }
            OperationKind::Transaction {
                amount,
                destination,
                parameters,
            } => {
                let mut nonce = 0;
                let (r, ops) = self.transfer(
                    &Destination::Implicit(c.source),
                    &c.source,
                    &Destination::from(*destination),
                    *amount,
                    parameters.as_ref(),
                    None,
                    &mut gas,
                    &mut storage,
                    ctx,
                )?;
                result = r;
                self.run_internal(
                    ops,
                    &c.source,
                    &mut nonce,
                    &mut internal,
                    &mut gas,
                    &mut storage,
                    ctx,
                )?;
            }
            OperationKind::Origination {
                balance,
                delegate: _,
                code,
                storage: init,
            } => {
                let kt1 = ContractHash(origination_nonce_hash(op_hash, index));
                let r =
                    self.originate(&source, &kt1, *balance, code, init, &mut gas, &mut storage)?;
                result = r;
            }
            OperationKind::SmartRollupOriginate {
                pvm_kind,
                kernel,
                parameters_ty,
                whitelist,
            } => {
                let sr1 = SmartRollupAddress(origination_nonce_hash(op_hash, index));
                result = self.originate_rollup(
                    &source,
                    &sr1,
                    *pvm_kind,
                    kernel,
                    parameters_ty,
                    whitelist.as_deref(),
                    &mut gas,
                    &mut storage,
                    ctx,
                )?;
            }
            OperationKind::SmartRollupAddMessages { messages } => {
                if messages.is_empty() {
                    return Err(err("smart_rollup_add_zero_messages", json!({})).into());
                }
                for m in messages {
                    if m.len() > self.constants.smart_rollup_message_size_limit {
                        return Err(err("smart_rollup_inbox_message_encoding", json!({})).into());
                    }
                    gas.charge(gas::PER_MESSAGE + gas::PER_BYTE * m.len() as u64)?;
                    self.level_messages
                        .push(InboxMessage::External(m.clone()).encode());
                }
            }
            OperationKind::SmartRollupExecuteOutboxMessage {
                rollup,
                cemented_commitment,
                output_proof,
            } => {
                let (r, ops) = self.execute_outbox(
                    &c.source,
                    rollup,
                    cemented_commitment,
                    output_proof,
                    &mut gas,
                    &mut storage,
                    ctx,
                )?;
                result = r;
                if let Some(J::Array(calls)) = result.remove("internal_results") {
                    internal.extend(calls);
                }
                let mut nonce = internal.len() as u32;
                self.run_internal(
                    ops,
                    &c.source,
                    &mut nonce,
                    &mut internal,
                    &mut gas,
                    &mut storage,
                    ctx,
                )?;
            }
            OperationKind::SmartRollupPublish { rollup, commitment } => {
                result = self.publish(&c.source, rollup, commitment, ctx)?;
            }
            OperationKind::SmartRollupCement { rollup } => {
                result = self.cement(rollup, ctx)?;
            }
            OperationKind::SmartRollupRecoverBond { rollup, staker } => {
                result = self.recover_bond(&c.source, rollup, staker)?;
            }
            OperationKind::SmartRollupRefute { .. } | OperationKind::SmartRollupTimeout { .. } => {
                return Err(err(
                    "smart_rollup_no_game",
                    json!({"message": "the sandbox decodes refutations and timeouts but plays no refutation games"}),
                )
                .into());
            }
        }
        // Storage burnt by this content.
        let burnt = storage.used();
        if burnt > 0 {
            let fee = burnt * self.constants.cost_per_byte;
            let a = self.account_mut(&source);
            if a.balance < fee {
                return Err(err(
                    "contract.cannot_pay_storage_fee",
                    json!({"contract": source, "balance": a.balance.to_string(), "amount": fee.to_string()}),
                )
                .into());
            }
            a.balance -= fee;
            let bu = result.entry("balance_updates").or_insert_with(|| json!([]));
            if let Some(list) = bu.as_array_mut() {
                list.push(balance_update(&source, -(fee as i128)));
                list.push(burn_update("storage fees", fee));
            }
        }
        result.insert("consumed_milligas".into(), gas.used().to_string().into());
        Ok(Outcome { result, internal })
    }

    #[allow(clippy::too_many_arguments)]
    fn run_internal(
        &mut self,
        ops: Vec<(Destination, Transfer)>,
        source: &PublicKeyHash,
        nonce: &mut u32,
        out: &mut Vec<J>,
        gas: &mut gas::Meter,
        storage: &mut gas::Storage,
        ctx: &BlockContext,
    ) -> Result<(), Failed> {
        for (sender, t) in ops {
            let n = *nonce;
            *nonce += 1;
            let params = Parameters {
                entrypoint: t.destination.entrypoint.clone(),
                value: t.parameters_expr(),
            };
            let mut j = json!({
                "kind": "transaction",
                "source": sender.to_b58check(),
                "nonce": n,
                "amount": t.amount.to_string(),
                "destination": t.destination.destination.to_b58check(),
            });
            if !(params.entrypoint == "default" && params.value == unit()) {
                j["parameters"] = json!({"entrypoint": params.entrypoint,
                    "value": J::from(params.value.to_json())});
            }
            let amount = u64::try_from(t.amount).unwrap_or(0);
            let r = self.transfer(
                &sender,
                source,
                &t.destination.destination,
                amount,
                Some(&params),
                Some(t.parameter.clone()),
                gas,
                storage,
                ctx,
            );
            match r {
                Ok((mut r, more)) => {
                    r.insert("status".into(), "applied".into());
                    j["result"] = J::Object(r);
                    out.push(j);
                    self.run_internal(more, source, nonce, out, gas, storage, ctx)?;
                }
                Err(Failed(errors)) => {
                    j["result"] = json!({"status": "failed", "errors": errors.clone()});
                    out.push(j);
                    return Err(Failed(errors));
                }
            }
        }
        Ok(())
    }

    fn debit(&mut self, from: &Destination, amount: u64) -> Result<(), Failed> {
        if amount == 0 {
            return Ok(());
        }
        let addr = from.to_b58check();
        let bal = match from {
            Destination::Implicit(_) => &mut self.account_mut(&addr).balance,
            Destination::Originated(_) => match self.contract_mut(&addr) {
                Some(c) => &mut c.balance,
                None => return Err(errors::non_existing(&addr).into()),
            },
            Destination::SmartRollup(_) => {
                return Err(err(
                    "contract.failure",
                    json!({"message": "rollups hold no tez"}),
                )
                .into())
            }
        };
        if *bal < amount {
            let b = *bal;
            return Err(Failed(vec![errors::balance_too_low(&addr, b, amount)]));
        }
        *bal -= amount;
        Ok(())
    }

    /// A transfer of `amount` from `sender` to `destination`, calling it if it is a contract
    /// or a rollup. Returns the result fields and the operations the call emitted.
    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &mut self,
        sender: &Destination,
        source: &PublicKeyHash,
        destination: &Destination,
        amount: u64,
        parameters: Option<&Parameters>,
        typed: Option<michelson::Value>,
        gas: &mut gas::Meter,
        storage: &mut gas::Storage,
        ctx: &BlockContext,
    ) -> Result<Called, Failed> {
        let dst = destination.to_b58check();
        let mut result = serde_json::Map::new();
        let mut updates = Vec::new();
        match destination {
            Destination::Implicit(_) => {
                if let Some(p) = parameters {
                    let unit = p.value == unit();
                    if !(p.entrypoint == "default" && (unit || typed.is_some())) {
                        return Err(err(
                            "michelson_v1.bad_contract_parameter",
                            json!({"contract": dst}),
                        )
                        .into());
                    }
                }
                if amount == 0 && typed.is_none() && matches!(sender, Destination::Implicit(_)) {
                    return Err(err("contract.empty_transaction", json!({"contract": dst})).into());
                }
                self.debit(sender, amount)?;
                let fresh = !self.accounts.contains_key(&dst);
                self.account_mut(&dst).balance += amount;
                if fresh {
                    storage.charge(self.constants.origination_size)?;
                    result.insert("allocated_destination_contract".into(), true.into());
                }
                if amount > 0 {
                    updates.push(balance_update(&sender.to_b58check(), -(amount as i128)));
                    updates.push(balance_update(&dst, amount as i128));
                }
                if let Some(v) = typed {
                    let mut tickets = BTreeMap::new();
                    v.collect_tickets(&mut tickets);
                    let ups: Vec<michelson::TicketUpdate> = tickets
                        .into_iter()
                        .map(|(token, amount)| michelson::TicketUpdate {
                            token,
                            account: *destination,
                            amount,
                        })
                        .collect();
                    self.apply_ticket_updates(&ups);
                    if !ups.is_empty() {
                        result.insert(
                            "ticket_updates".into(),
                            michelson::ticket_receipt_json(&ups),
                        );
                    }
                }
                result.insert("balance_updates".into(), J::Array(updates));
                Ok((result, vec![]))
            }
            Destination::Originated(kt1) => {
                let Some(contract) = self.contracts.get(&dst).cloned() else {
                    return Err(errors::non_existing(&dst).into());
                };
                self.debit(sender, amount)?;
                if let Some(c) = self.contract_mut(&dst) {
                    c.balance += amount;
                }
                if amount > 0 {
                    updates.push(balance_update(&sender.to_b58check(), -(amount as i128)));
                    updates.push(balance_update(&dst, amount as i128));
                }
                let script = Contract::from_json(&contract.code)
                    .map_err(|e| Failed(vec![e.to_octez_json(PROTO_PREFIX)]))?;
                let storage_expr = Expr::from_json(&contract.storage).map_err(|e| {
                    Failed(vec![err(
                        "contract.failure",
                        json!({"message": e.to_string()}),
                    )
                    .to_json()])
                })?;
                let unit = unit();
                let (entrypoint, param) = match (&typed, parameters) {
                    (Some(v), Some(p)) => (p.entrypoint.clone(), Parameter::Value(v.clone())),
                    (_, Some(p)) => (
                        p.entrypoint.clone(),
                        Parameter::Micheline {
                            value: &p.value,
                            from_rollup: matches!(sender, Destination::SmartRollup(_)),
                        },
                    ),
                    (_, None) => (
                        "default".to_string(),
                        Parameter::Micheline {
                            value: &unit,
                            from_rollup: false,
                        },
                    ),
                };
                let ectx = ExecutionContext {
                    sender: *sender,
                    source: *source,
                    self_address: *kt1,
                    amount: amount as i64,
                    balance: self.contracts.get(&dst).map_or(0, |c| c.balance) as i64,
                    level: ctx.level,
                    now: ctx.timestamp,
                    chain_id: ctx.chain_id,
                    gas_limit_milligas: gas.remaining(),
                };
                let from_rollup_tickets = matches!(sender, Destination::SmartRollup(_));
                let exec =
                    michelson::execute(&script, &entrypoint, param, &storage_expr, &ectx, self)
                        .map_err(|e| {
                            Failed(
                                match e.octez_trace(&dst, Some(script.script()), PROTO_PREFIX) {
                                    J::Array(a) => a,
                                    other => vec![other],
                                },
                            )
                        })?;
                gas.charge(exec.consumed_milligas)?;
                if from_rollup_tickets {
                    // The rollup's outbox pays the tickets the parameter carries.
                    let debits: Vec<michelson::TicketUpdate> = exec
                        .parameter_tickets
                        .iter()
                        .map(|(t, a)| michelson::TicketUpdate {
                            token: t.clone(),
                            account: *sender,
                            amount: -a.clone(),
                        })
                        .collect();
                    self.apply_ticket_updates(&debits);
                }
                self.apply_ticket_updates(&exec.ticket_updates);
                self.apply_big_map_diffs(&exec.big_map_diffs);
                let new_storage: J = exec.storage.to_json().into();
                let size = serde_json_size(&contract.code, &new_storage, self);
                let mut paid_diff = 0;
                if let Some(c) = self.contract_mut(&dst) {
                    c.storage = new_storage.clone();
                    if size > c.paid_storage {
                        paid_diff = size - c.paid_storage;
                        c.paid_storage = size;
                    }
                }
                storage.charge(paid_diff)?;
                result.insert("storage".into(), new_storage);
                result.insert("balance_updates".into(), J::Array(updates));
                if !exec.ticket_receipt.is_empty() {
                    result.insert(
                        "ticket_updates".into(),
                        michelson::ticket_receipt_json(&exec.ticket_receipt),
                    );
                }
                if !exec.big_map_diffs.is_empty() {
                    result.insert(
                        "lazy_storage_diff".into(),
                        michelson::lazy_storage_diff_json(&exec.big_map_diffs),
                    );
                }
                result.insert("storage_size".into(), size.to_string().into());
                if paid_diff > 0 {
                    result.insert(
                        "paid_storage_size_diff".into(),
                        paid_diff.to_string().into(),
                    );
                }
                let emitted = exec
                    .operations
                    .into_iter()
                    .map(|t| (*destination, t))
                    .collect();
                Ok((result, emitted))
            }
            Destination::SmartRollup(sr1) => {
                let Some(rollup) = self.rollups.get(&dst) else {
                    return Err(err("smart_rollup_does_not_exist", json!({"rollup": dst})).into());
                };
                let Destination::Originated(sender_kt1) = sender else {
                    return Err(err(
                        "smart_rollup_transfer_from_implicit",
                        json!({"message": "implicit accounts cannot send to a smart rollup; use smart_rollup_add_messages"}),
                    )
                    .into());
                };
                if amount != 0 {
                    return Err(err(
                        "smart_rollup_transfer_non_zero_amount",
                        json!({"rollup": dst}),
                    )
                    .into());
                }
                let _ = rollup;
                let payload = parameters.map(|p| p.value.clone()).unwrap_or_else(unit);
                if let Some(v) = typed {
                    let mut tickets = BTreeMap::new();
                    v.collect_tickets(&mut tickets);
                    let ups: Vec<michelson::TicketUpdate> = tickets
                        .into_iter()
                        .map(|(token, amount)| michelson::TicketUpdate {
                            token,
                            account: *destination,
                            amount,
                        })
                        .collect();
                    if !ups.is_empty() {
                        result.insert(
                            "ticket_updates".into(),
                            michelson::ticket_receipt_json(&ups),
                        );
                    }
                    // Credited by the sending contract's `ticket_updates` already.
                }
                let msg = InboxMessage::Internal(InternalInboxMessage::Transfer(InboxTransfer {
                    payload,
                    sender: *sender_kt1,
                    source: *source,
                    destination: *sr1,
                }))
                .encode();
                if msg.len() > self.constants.smart_rollup_message_size_limit + 64 {
                    return Err(err("smart_rollup_inbox_message_encoding", json!({})).into());
                }
                gas.charge(gas::PER_MESSAGE + gas::PER_BYTE * msg.len() as u64)?;
                self.level_messages.push(msg);
                result.insert(
                    "ticket_updates".into(),
                    result.get("ticket_updates").cloned().unwrap_or(json!([])),
                );
                Ok((result, vec![]))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn originate(
        &mut self,
        source: &str,
        kt1: &ContractHash,
        balance: u64,
        code: &Expr,
        init: &Expr,
        gas: &mut gas::Meter,
        storage: &mut gas::Storage,
    ) -> Result<serde_json::Map<String, J>, Failed> {
        let addr = kt1.to_b58check();
        let script = Contract::parse(code).map_err(|e| {
            Failed(match e.octez_trace(&addr, Some(code), PROTO_PREFIX) {
                J::Array(a) => a,
                other => vec![other],
            })
        })?;
        let o = michelson::originate(&script, init, self).map_err(|e| {
            Failed(match e.octez_trace(&addr, Some(code), PROTO_PREFIX) {
                J::Array(a) => a,
                other => vec![other],
            })
        })?;
        gas.charge(o.consumed_milligas)?;
        self.debit(
            &Destination::Implicit(
                PublicKeyHash::from_b58check(source).map_err(|_| Failed(vec![]))?,
            ),
            balance,
        )?;
        self.apply_big_map_diffs(&o.big_map_diffs);
        let code_json: J = code.to_json().into();
        let storage_json: J = o.storage.to_json().into();
        let size = serde_json_size(&code_json, &storage_json, self);
        storage.charge(self.constants.origination_size)?;
        storage.charge(size)?;
        self.dirty.insert((Table::Contracts, addr.clone()));
        self.contracts.insert(
            addr.clone(),
            Originated {
                balance,
                code: code_json,
                storage: storage_json,
                paid_storage: size,
            },
        );
        let mut updates = vec![];
        if balance > 0 {
            updates.push(balance_update(source, -(balance as i128)));
            updates.push(balance_update(&addr, balance as i128));
        }
        let mut r = serde_json::Map::new();
        r.insert("balance_updates".into(), J::Array(updates));
        r.insert("originated_contracts".into(), json!([addr]));
        r.insert("storage_size".into(), size.to_string().into());
        r.insert("paid_storage_size_diff".into(), size.to_string().into());
        if !o.big_map_diffs.is_empty() {
            r.insert(
                "lazy_storage_diff".into(),
                michelson::lazy_storage_diff_json(&o.big_map_diffs),
            );
        }
        Ok(r)
    }

    fn apply_big_map_diffs(&mut self, diffs: &[BigMapDiff]) {
        for d in diffs {
            match d {
                BigMapDiff::Alloc {
                    id,
                    key_type,
                    value_type,
                } => {
                    self.dirty.insert((Table::BigMaps, id.to_string()));
                    self.big_maps.insert(
                        id.to_string(),
                        BigMapState {
                            key_type: key_type.to_expr().to_json().into(),
                            value_type: value_type.to_expr().to_json().into(),
                            entries: BTreeMap::new(),
                        },
                    );
                }
                BigMapDiff::Copy { id, source } => {
                    if let Some(src) = self.big_maps.get(&source.to_string()).cloned() {
                        self.dirty.insert((Table::BigMaps, id.to_string()));
                        self.big_maps.insert(id.to_string(), src);
                    }
                }
                BigMapDiff::Update {
                    id,
                    key,
                    key_hash,
                    value,
                } => {
                    self.dirty.insert((Table::BigMaps, id.to_string()));
                    if let Some(b) = self.big_maps.get_mut(&id.to_string()) {
                        let k = hex::encode(key_hash);
                        match value {
                            Some(v) => {
                                b.entries
                                    .insert(k, (key.to_json().into(), v.to_json().into()));
                            }
                            None => {
                                b.entries.remove(&k);
                            }
                        }
                    }
                }
                BigMapDiff::Remove { id } => {
                    self.dirty.insert((Table::BigMaps, id.to_string()));
                    self.big_maps.remove(&id.to_string());
                }
            }
        }
    }

    fn ticket_key(token: &TicketToken, owner: &Destination) -> String {
        json!([
            owner.to_b58check(),
            token.ticketer.to_b58check(),
            J::from(token.contents_ty.to_expr().to_json()),
            J::from(token.contents.to_expr(michelson::Mode::Optimized).to_json())
        ])
        .to_string()
    }

    fn apply_ticket_updates(&mut self, ups: &[michelson::TicketUpdate]) {
        for u in ups {
            let k = Self::ticket_key(&u.token, &u.account);
            let old: BigInt = self
                .tickets
                .get(&k)
                .and_then(|s| s.parse().ok())
                .unwrap_or_default();
            let new = old + &u.amount;
            self.dirty.insert((Table::Tickets, k.clone()));
            if new == BigInt::from(0) {
                self.tickets.remove(&k);
            } else {
                self.tickets.insert(k, new.to_string());
            }
        }
    }

    /// Ticket balances of `owner`: `(ticketer, content_type, content, amount)` as JSON.
    pub fn tickets_of(&self, owner: &str) -> Vec<J> {
        self.tickets
            .iter()
            .filter_map(|(k, amount)| {
                let v: J = serde_json::from_str(k).ok()?;
                (v[0] == owner).then(|| {
                    json!({"ticketer": v[1], "content_type": v[2], "content": v[3], "amount": amount})
                })
            })
            .collect()
    }

    /// Builds the inbox of block `level`: Start_of_level, Info_per_level, Protocol_migration on
    /// the protocol's first level, the messages the level's operations added, End_of_level
    /// (see [`inbox::payloads`]).
    pub fn close_level(
        &mut self,
        level: u32,
        predecessor: &BlockHash,
        predecessor_timestamp: i64,
    ) -> Vec<Vec<u8>> {
        let messages = std::mem::take(&mut self.level_messages);
        inbox::payloads(level, predecessor, predecessor_timestamp, &messages)
    }
}

/// `Unit`.
fn unit() -> Expr {
    Expr::prim(
        soru_core::encoding::micheline::Primitive::from_name("Unit").expect("Unit is a primitive"),
        vec![],
    )
}

/// Bytes a contract's code and storage take (binary Micheline), plus its big maps' entries.
fn serde_json_size(code: &J, storage: &J, _l: &Ledger) -> u64 {
    let c = Expr::from_json(code).map(|e| e.encode().len()).unwrap_or(0);
    let s = Expr::from_json(storage)
        .map(|e| e.encode().len())
        .unwrap_or(0);
    (c + s) as u64
}

/// octez's address of the `index`-th contract or rollup an operation originates:
/// `blake2b_160(operation hash ‖ index (int32))`.
pub fn origination_nonce_hash(op: &OperationHash, index: u32) -> [u8; 20] {
    use blake2::digest::consts::U20;
    use blake2::{Blake2b, Digest};
    let mut h = Blake2b::<U20>::new();
    h.update(op.0);
    h.update(index.to_be_bytes());
    h.finalize().into()
}

impl Chain for Ledger {
    fn contract_entrypoints(&self, kt1: &ContractHash) -> Option<Entrypoints> {
        let c = self.contracts.get(&kt1.to_b58check())?;
        Contract::from_json(&c.code)
            .ok()
            .map(|c| c.entrypoints().clone())
    }

    fn rollup_parameter_type(&self, sr1: &SmartRollupAddress) -> Option<Expr> {
        let r = self.rollups.get(&sr1.to_b58check())?;
        Expr::from_json(&r.parameters_ty).ok()
    }

    fn big_map_get(&self, id: &BigInt, key: &Expr) -> Option<Expr> {
        let b = self.big_maps.get(&id.to_string())?;
        let (_, v) = b.entries.get(&hex::encode(script_expr_hash(key)))?;
        Expr::from_json(v).ok()
    }

    fn big_map_types(&self, id: &BigInt) -> Option<(Type, Type)> {
        let b = self.big_maps.get(&id.to_string())?;
        let k = Type::parse(&Expr::from_json(&b.key_type).ok()?, 0).ok()?;
        let v = Type::parse(&Expr::from_json(&b.value_type).ok()?, 0).ok()?;
        Some((k, v))
    }

    fn fresh_big_map_id(&mut self) -> BigInt {
        self.next_big_map += 1;
        BigInt::from(self.next_big_map - 1)
    }
}

/// The octez `o…`/`B…` helpers the node needs for block hashes: `blake2b_256` of a header.
pub fn block_hash(
    level: u32,
    predecessor: &BlockHash,
    timestamp: i64,
    operation_hashes: &[OperationHash],
    context: &[u8; 32],
) -> BlockHash {
    use blake2::digest::consts::U32;
    use blake2::{Blake2b, Digest};
    use soru_core::encoding::binary::{put_dynamic, put_dynamic_bytes, put_i32, put_i64, put_u8};
    // The shell header's layout (level, proto, predecessor, timestamp, validation passes,
    // operations hash, fitness, context) followed by an empty protocol part.
    let mut ops = Blake2b::<U32>::new();
    for h in operation_hashes {
        ops.update(h.0);
    }
    let ops: [u8; 32] = ops.finalize().into();
    let mut out = Vec::new();
    put_i32(&mut out, level as i32);
    put_u8(&mut out, 1);
    out.extend_from_slice(&predecessor.0);
    put_i64(&mut out, timestamp);
    put_u8(&mut out, 4);
    out.extend_from_slice(&ops);
    put_dynamic(&mut out, |o| {
        put_dynamic_bytes(o, &[2]);
        put_dynamic_bytes(o, &level.to_be_bytes());
    });
    out.extend_from_slice(context);
    BlockHash(Blake2b::<U32>::digest(&out).into())
}

/// Base58 of a chain id.
pub fn chain_id_b58(id: &[u8; 4]) -> String {
    base58::encode(&base58::CHAIN_ID, id)
}
