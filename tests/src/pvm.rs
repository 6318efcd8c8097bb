//! Runs a [`Scenario`] on Soru's PVM with a kernel's wasm32 module.
//!
//! Levels follow the octez debugger's conventions (`PvmConfig::default()`: first level 0,
//! timestamp 0, zero predecessor), unlike `MockHost`'s; the test kernels ignore framing.

use soru_core::durable::Key;
use soru_core::encoding::address::{ContractHash, PublicKeyHash, SmartRollupAddress};
use soru_core::encoding::binary::Zarith;
use soru_core::encoding::inbox::{InboxMessage, InternalInboxMessage, Transfer as L1Transfer};
use soru_core::encoding::micheline::Expr;
use soru_core::pvm::{LevelReport, Pvm, PvmConfig, PvmError};
use soru_core::reveal::PreimageMap;

use crate::scenario::{Input, Outcome, Payload, Scenario, Transfer};

/// Why a scenario could not run on the PVM.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The PVM refused the kernel or failed while running a level.
    #[error("PVM error in level #{level} of the scenario: {source}")]
    Pvm {
        /// Index of the scenario level (0 for origination).
        level: usize,
        /// The PVM's error.
        source: PvmError,
    },
    /// A transfer's sender or source is not a valid base58 address.
    #[error("scenario transfer has an invalid address {address:?}")]
    Address {
        /// The offending text.
        address: String,
    },
    /// A compared durable path is not a valid durable key.
    #[error("scenario durable path {path:?} is invalid: {reason}")]
    Path {
        /// The offending path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The serialized inbox message of a scenario input, as the L1 would put it in the inbox.
pub fn encode_input(input: &Input, rollup_address: &[u8; 20]) -> Result<Vec<u8>, RunError> {
    Ok(match input {
        Input::External(body) => InboxMessage::External(body.clone()).encode(),
        Input::Transfer(transfer) => transfer_message(transfer, rollup_address)?.encode(),
    })
}

fn transfer_message(transfer: &Transfer, rollup: &[u8; 20]) -> Result<InboxMessage, RunError> {
    let sender = ContractHash::from_b58check(&transfer.sender).map_err(|_| RunError::Address {
        address: transfer.sender.clone(),
    })?;
    let source = PublicKeyHash::from_b58check(&transfer.source).map_err(|_| RunError::Address {
        address: transfer.source.clone(),
    })?;
    let payload = match &transfer.payload {
        Payload::Bytes(bytes) => Expr::Bytes(bytes.clone()),
        Payload::Int(int) => Expr::Int(Zarith::from(i64::from(*int))),
        Payload::String(text) => Expr::String(text.clone()),
    };
    Ok(InboxMessage::Internal(InternalInboxMessage::Transfer(
        L1Transfer {
            payload,
            sender,
            source,
            destination: SmartRollupAddress(*rollup),
        },
    )))
}

/// A freshly originated PVM for `wasm` with the scenario's rollup address.
pub fn originate(scenario: &Scenario, wasm: &[u8]) -> Result<Pvm, PvmError> {
    let config = PvmConfig {
        rollup_address: scenario.rollup_address,
        ..PvmConfig::default()
    };
    Pvm::new(wasm, config)
}

/// Runs every level of `scenario`; returns the PVM, the outcome and each level's report.
pub fn run(scenario: &Scenario, wasm: &[u8]) -> Result<(Pvm, Outcome, Vec<LevelReport>), RunError> {
    let mut pvm = originate(scenario, wasm).map_err(|source| RunError::Pvm { level: 0, source })?;
    let mut reveal = PreimageMap::new();
    for preimage in &scenario.preimages {
        reveal.insert(preimage.clone());
    }
    let mut outcome = Outcome::default();
    let mut reports = Vec::with_capacity(scenario.levels.len());
    for (index, level) in scenario.levels.iter().enumerate() {
        let messages = level
            .iter()
            .map(|input| encode_input(input, &scenario.rollup_address))
            .collect::<Result<Vec<_>, _>>()?;
        let report = pvm
            .run_level(&messages, &mut reveal)
            .map_err(|source| RunError::Pvm {
                level: index,
                source,
            })?;
        outcome.outboxes.push(report.outbox.clone());
        reports.push(report);
    }
    for path in &scenario.durable_paths {
        let key = Key::from_path(path).map_err(|e| RunError::Path {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let value = pvm.durable().read_all(&key).map_err(|e| RunError::Path {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        outcome.durable.insert(path.clone(), value);
    }
    Ok((pvm, outcome, reports))
}
