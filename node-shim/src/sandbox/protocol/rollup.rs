//! Smart rollups on the sandbox L1: origination, commitments (publish, cement, recover bond) and
//! outbox execution checked with `soru-verifier` against a cemented commitment.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as J};
use soru_core::commitment::{Commitment, CommitmentHash, StateHash};
use soru_core::encoding::address::{Destination, PublicKeyHash, SmartRollupAddress};
use soru_core::encoding::micheline::Expr;
use soru_core::encoding::operation::{Parameters, PvmKind};
use soru_core::encoding::outbox::OutboxMessage;
use soru_core::pvm::{Pvm, PvmConfig};

use super::errors::{err, PROTO_PREFIX};
use super::{balance_update, gas, BlockContext, Failed, Ledger, Table};
use crate::sandbox::michelson::check_rollup_parameter_type;

/// Levels of the inbox kept per rollup origination (for `genesis_info`).
pub type InboxLevel = u32;

/// A commitment published on the L1.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Published {
    /// The commitment (octez JSON).
    pub commitment: J,
    /// Level of the block that first published it.
    pub published_at: u32,
    /// Who staked on it.
    pub stakers: Vec<String>,
}

/// A smart rollup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Rollup {
    /// `wasm_2_0_0`, `arith` or `riscv`.
    pub kind: String,
    /// The type of what contracts send it, JSON Micheline.
    pub parameters_ty: J,
    /// Level of its origination.
    pub origination_level: u32,
    /// `src1…` of the genesis commitment.
    pub genesis_commitment_hash: String,
    /// `src1…` of the last cemented commitment.
    pub lcc: String,
    /// Inbox level of the last cemented commitment.
    pub lcc_level: u32,
    /// Recently cemented commitments (`src1…` -> its state hash `srs1…`), the LCC included:
    /// outbox messages can be executed against any of them.
    pub cemented: BTreeMap<String, String>,
    /// Published, not yet cemented commitments by hash.
    pub commitments: BTreeMap<String, Published>,
    /// Staker -> the newest commitment it staked on.
    pub stakers: BTreeMap<String, String>,
    /// Outbox level -> indices of the messages executed.
    pub consumed_outputs: BTreeMap<u32, Vec<u64>>,
    /// Who may publish, for private rollups.
    pub whitelist: Option<Vec<String>>,
}

impl Rollup {
    /// The commitment with this hash, if published or cemented.
    pub fn commitment(&self, hash: &str) -> Option<J> {
        self.commitments.get(hash).map(|p| p.commitment.clone())
    }
}

/// The state hash right after origination: the PVM with the boot sector installed. A boot
/// sector the PVM refuses (octez accepts any bytes at origination; such a rollup cannot make
/// progress) gets `blake2b_256` of the bytes, a hash no PVM state has.
fn genesis_state_hash(
    kernel: &[u8],
    sr1: &SmartRollupAddress,
    level: u32,
) -> Result<StateHash, String> {
    let config = PvmConfig {
        rollup_address: sr1.0,
        origination_level: level,
        first_level: level + 1,
        ..PvmConfig::default()
    };
    match Pvm::new(kernel, config) {
        Ok(pvm) => pvm
            .state_hash()
            .map(StateHash)
            .map_err(|e| format!("genesis state: {e}")),
        Err(_) => {
            use blake2::digest::consts::U32;
            use blake2::{Blake2b, Digest};
            Ok(StateHash(Blake2b::<U32>::digest(kernel).into()))
        }
    }
}

impl Ledger {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn originate_rollup(
        &mut self,
        source: &str,
        sr1: &SmartRollupAddress,
        kind: PvmKind,
        kernel: &[u8],
        parameters_ty: &Expr,
        whitelist: Option<&[PublicKeyHash]>,
        gas: &mut gas::Meter,
        storage: &mut gas::Storage,
        ctx: &BlockContext,
    ) -> Result<serde_json::Map<String, J>, Failed> {
        if kind != PvmKind::Wasm {
            return Err(err(
                "smart_rollup_arith_pvm_disabled",
                json!({"message": format!("the sandbox runs wasm_2_0_0 rollups, not {}", kind.name())}),
            )
            .into());
        }
        check_rollup_parameter_type(parameters_ty)
            .map_err(|e| Failed(vec![e.to_octez_json(PROTO_PREFIX)]))?;
        if let Some(w) = whitelist {
            if w.is_empty() {
                return Err(err("smart_rollup_empty_whitelist", json!({})).into());
            }
        }
        gas.charge(gas::PER_BYTE * kernel.len() as u64 + gas::ROLLUP_ORIGINATION)?;
        let address = sr1.to_b58check();
        let state = genesis_state_hash(kernel, sr1, ctx.level).map_err(|e| {
            Failed(vec![err(
                "smart_rollup_address_generation",
                json!({"message": e}),
            )
            .to_json()])
        })?;
        let genesis = Commitment::genesis(ctx.level as i32, state);
        let hash = genesis.hash().to_b58check();
        let size = self.constants.smart_rollup_origination_size
            + parameters_ty.encode().len() as u64
            + whitelist.map_or(0, |w| 21 * w.len() as u64);
        storage.charge(size)?;
        let mut cemented = BTreeMap::new();
        cemented.insert(hash.clone(), state.to_b58check());
        let mut commitments = BTreeMap::new();
        commitments.insert(
            hash.clone(),
            Published {
                commitment: genesis.to_json(),
                published_at: ctx.level,
                stakers: vec![],
            },
        );
        self.dirty.insert((Table::Rollups, address.clone()));
        self.rollups.insert(
            address.clone(),
            Rollup {
                kind: kind.name().into(),
                parameters_ty: parameters_ty.to_json().into(),
                origination_level: ctx.level,
                genesis_commitment_hash: hash.clone(),
                lcc: hash.clone(),
                lcc_level: ctx.level,
                cemented,
                commitments,
                stakers: BTreeMap::new(),
                consumed_outputs: BTreeMap::new(),
                whitelist: whitelist.map(|w| w.iter().map(|k| k.to_b58check()).collect()),
            },
        );
        let _ = source;
        let mut r = serde_json::Map::new();
        r.insert("balance_updates".into(), json!([]));
        r.insert("address".into(), address.into());
        r.insert("genesis_commitment_hash".into(), hash.into());
        r.insert("size".into(), size.to_string().into());
        Ok(r)
    }

    fn rollup_or_fail(&self, sr1: &SmartRollupAddress) -> Result<Rollup, Failed> {
        let a = sr1.to_b58check();
        self.rollups
            .get(&a)
            .cloned()
            .ok_or_else(|| err("smart_rollup_does_not_exist", json!({"rollup": a})).into())
    }

    pub(super) fn publish(
        &mut self,
        staker: &PublicKeyHash,
        sr1: &SmartRollupAddress,
        c: &Commitment,
        ctx: &BlockContext,
    ) -> Result<serde_json::Map<String, J>, Failed> {
        let rollup = self.rollup_or_fail(sr1)?;
        let staker_s = staker.to_b58check();
        if let Some(w) = &rollup.whitelist {
            if !w.contains(&staker_s) {
                return Err(err("smart_rollup_staker_not_in_whitelist", json!({})).into());
            }
        }
        let pred = c.predecessor.to_b58check();
        let Some(pred_c) = rollup.commitment(&pred) else {
            return Err(err(
                "smart_rollup_unknown_commitment",
                json!({"commitment": pred}),
            )
            .into());
        };
        let pred_level = pred_c["inbox_level"].as_i64().unwrap_or(0) as i32;
        let period = self.constants.smart_rollup_commitment_period_in_blocks as i32;
        if c.inbox_level != pred_level + period {
            return Err(err(
                "smart_rollup_bad_inbox_level",
                json!({"message": format!("expected inbox level {}, found {}", pred_level + period, c.inbox_level)}),
            )
            .into());
        }
        if c.inbox_level as i64 >= ctx.level as i64 {
            return Err(err(
                "smart_rollup_commitment_from_future",
                json!({"current_level": ctx.level, "inbox_level": c.inbox_level}),
            )
            .into());
        }
        if c.number_of_ticks == 0 {
            return Err(err("smart_rollup_zero_tick_commitment", json!({})).into());
        }
        let hash = c.hash().to_b58check();
        let mut updates = vec![];
        let newly_staked = !rollup.stakers.contains_key(&staker_s);
        if newly_staked {
            let stake = self.constants.smart_rollup_stake_amount;
            let bal = self.balance(&staker_s).unwrap_or(0);
            if bal < stake {
                return Err(err(
                    "smart_rollup_staker_funds_too_low",
                    json!({"staker": staker_s, "sc_rollup": sr1.to_b58check(),
                           "staker_balance": bal.to_string(), "min_expected_balance": stake.to_string()}),
                )
                .into());
            }
            self.account_mut(&staker_s).balance -= stake;
            updates.push(balance_update(&staker_s, -(stake as i128)));
            updates.push(json!({"kind": "freezer", "category": "bonds", "contract": staker_s,
                "bond_id": {"smart_rollup": sr1.to_b58check()}, "change": stake.to_string(), "origin": "block"}));
        }
        let r = self
            .rollup_mut(&sr1.to_b58check())
            .ok_or_else(|| Failed(vec![]))?;
        let entry = r
            .commitments
            .entry(hash.clone())
            .or_insert_with(|| Published {
                commitment: c.to_json(),
                published_at: ctx.level,
                stakers: vec![],
            });
        if entry.stakers.contains(&staker_s) {
            return Err(err(
                "smart_rollup_double_publish",
                json!({"commitment_hash": hash}),
            )
            .into());
        }
        entry.stakers.push(staker_s.clone());
        let published_at = entry.published_at;
        r.stakers.insert(staker_s, hash.clone());
        let mut m = serde_json::Map::new();
        m.insert("staked_hash".into(), hash.into());
        m.insert("published_at_level".into(), published_at.into());
        m.insert("balance_updates".into(), J::Array(updates));
        Ok(m)
    }

    pub(super) fn cement(
        &mut self,
        sr1: &SmartRollupAddress,
        ctx: &BlockContext,
    ) -> Result<serde_json::Map<String, J>, Failed> {
        let rollup = self.rollup_or_fail(sr1)?;
        let window = self.constants.smart_rollup_challenge_window_in_blocks;
        let candidates: Vec<(&String, &Published)> = rollup
            .commitments
            .iter()
            .filter(|(h, p)| {
                **h != rollup.lcc && p.commitment["predecessor"].as_str() == Some(&rollup.lcc)
            })
            .collect();
        let Some((hash, p)) = candidates.first() else {
            return Err(err("smart_rollup_no_commitment_to_cement", json!({})).into());
        };
        if candidates.len() > 1 {
            return Err(err("smart_rollup_commitment_disputed", json!({})).into());
        }
        if p.published_at + window > ctx.level {
            return Err(err(
                "smart_rollup_commitment_too_recent",
                json!({"current_level": ctx.level, "min_level": p.published_at + window}),
            )
            .into());
        }
        let hash = (*hash).clone();
        let level = p.commitment["inbox_level"].as_u64().unwrap_or(0) as u32;
        let state = p.commitment["compressed_state"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let old_lcc = rollup.lcc.clone();
        let r = self
            .rollup_mut(&sr1.to_b58check())
            .ok_or_else(|| Failed(vec![]))?;
        r.lcc = hash.clone();
        r.lcc_level = level;
        r.cemented.insert(hash.clone(), state);
        // octez keeps the last few cemented commitments executable.
        while r.cemented.len() > 5 {
            let oldest = r
                .cemented
                .keys()
                .min_by_key(|k| {
                    r.commitments
                        .get(*k)
                        .and_then(|p| p.commitment["inbox_level"].as_u64())
                        .unwrap_or(0)
                })
                .cloned();
            match oldest {
                Some(k) => {
                    r.cemented.remove(&k);
                }
                None => break,
            }
        }
        let _ = old_lcc;
        let mut m = serde_json::Map::new();
        m.insert("inbox_level".into(), level.into());
        m.insert("commitment_hash".into(), hash.into());
        Ok(m)
    }

    pub(super) fn recover_bond(
        &mut self,
        source: &PublicKeyHash,
        sr1: &SmartRollupAddress,
        staker: &PublicKeyHash,
    ) -> Result<serde_json::Map<String, J>, Failed> {
        let rollup = self.rollup_or_fail(sr1)?;
        let s = staker.to_b58check();
        let Some(staked) = rollup.stakers.get(&s) else {
            return Err(err("smart_rollup_not_staked", json!({})).into());
        };
        let staked_level = rollup
            .commitments
            .get(staked)
            .and_then(|p| p.commitment["inbox_level"].as_u64())
            .unwrap_or(0) as u32;
        if !rollup.cemented.contains_key(staked) && staked_level > rollup.lcc_level {
            return Err(err("smart_rollup_not_staked_on_lcc_or_ancestor", json!({})).into());
        }
        let stake = self.constants.smart_rollup_stake_amount;
        self.account_mut(&s).balance += stake;
        if let Some(r) = self.rollup_mut(&sr1.to_b58check()) {
            r.stakers.remove(&s);
        }
        let _ = source;
        let mut m = serde_json::Map::new();
        m.insert(
            "balance_updates".into(),
            json!([{"kind": "freezer", "category": "bonds", "contract": s,
                    "bond_id": {"smart_rollup": sr1.to_b58check()}, "change": format!("-{stake}"), "origin": "block"},
                   balance_update(&s, stake as i128)]),
        );
        Ok(m)
    }

    /// Checks the proof against a cemented commitment, marks the output consumed and returns
    /// the calls to make (from the rollup).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn execute_outbox(
        &mut self,
        source: &PublicKeyHash,
        sr1: &SmartRollupAddress,
        cemented: &CommitmentHash,
        proof: &[u8],
        gas: &mut gas::Meter,
        storage: &mut gas::Storage,
        ctx: &BlockContext,
    ) -> Result<super::Called, Failed> {
        let rollup = self.rollup_or_fail(sr1)?;
        let c = cemented.to_b58check();
        let Some(state) = rollup.cemented.get(&c) else {
            return Err(err(
                "smart_rollup_invalid_last_cemented_commitment",
                json!({"message": format!("{c} is not a cemented commitment of {}", sr1.to_b58check())}),
            )
            .into());
        };
        let state = StateHash::from_b58check(state).map_err(|_| Failed(vec![]))?;
        gas.charge(gas::PER_BYTE * proof.len() as u64 + gas::PROOF_CHECK)?;
        let verified = soru_verifier::verify_outbox_proof(proof, &state).map_err(|e| {
            Failed(vec![err(
                "smart_rollup_invalid_output_proof",
                json!({"message": e.to_string()}),
            )
            .to_json()])
        })?;
        let level = verified.outbox_level;
        let index = verified.message_index;
        if rollup
            .consumed_outputs
            .get(&level)
            .is_some_and(|v| v.contains(&index))
        {
            return Err(err(
                "smart_rollup_outbox_message_already_applied",
                json!({"message": format!("output {index} of outbox level {level} was already executed")}),
            )
            .into());
        }
        let message = verified.decoded.map_err(|e| {
            Failed(vec![err(
                "smart_rollup_bad_outbox_message",
                json!({"message": e.to_string()}),
            )
            .to_json()])
        })?;
        let calls: Vec<(soru_core::encoding::address::ContractHash, String, Expr)> = match message {
            OutboxMessage::AtomicTransactionBatch(ts) => ts
                .into_iter()
                .map(|t| {
                    (
                        t.destination,
                        t.entrypoint.as_str().to_string(),
                        t.parameters,
                    )
                })
                .collect(),
            OutboxMessage::AtomicTransactionBatchTyped(ts) => ts
                .into_iter()
                .map(|t| {
                    (
                        t.destination,
                        t.entrypoint.as_str().to_string(),
                        t.parameters,
                    )
                })
                .collect(),
            OutboxMessage::WhitelistUpdate(w) => {
                if let Some(r) = self.rollup_mut(&sr1.to_b58check()) {
                    r.whitelist = w.map(|w| w.iter().map(|k| k.to_b58check()).collect());
                }
                vec![]
            }
            OutboxMessage::CanonicalRollupSignal(_) => vec![],
        };
        if let Some(r) = self.rollup_mut(&sr1.to_b58check()) {
            r.consumed_outputs.entry(level).or_default().push(index);
        }
        storage.charge(4)?;
        // The calls run as internal transactions from the rollup.
        let mut internal = Vec::new();
        let mut emitted = Vec::new();
        let from = Destination::SmartRollup(*sr1);
        for (nonce, (kt1, entrypoint, value)) in calls.into_iter().enumerate() {
            let params = Parameters { entrypoint, value };
            let dest = Destination::Originated(kt1);
            let mut j = json!({"kind": "transaction", "source": sr1.to_b58check(), "nonce": nonce,
                "amount": "0", "destination": kt1.to_b58check(),
                "parameters": {"entrypoint": params.entrypoint, "value": J::from(params.value.to_json())}});
            match self.transfer(
                &from,
                source,
                &dest,
                0,
                Some(&params),
                None,
                gas,
                storage,
                ctx,
            ) {
                Ok((mut r, more)) => {
                    r.insert("status".into(), "applied".into());
                    j["result"] = J::Object(r);
                    internal.push(j);
                    emitted.extend(more);
                }
                Err(Failed(e)) => return Err(Failed(e)),
            }
        }
        let mut m = serde_json::Map::new();
        m.insert("balance_updates".into(), json!([]));
        m.insert("ticket_updates".into(), json!([]));
        m.insert("paid_storage_size_diff".into(), "4".into());
        m.insert("internal_results".into(), J::Array(internal));
        Ok((m, emitted))
    }
}
