//! Runs a [`Scenario`] natively on the SDK's `MockHost`.
//!
//! `MockHost` frames levels differently from the PVM (its first level has no Start_of_level or
//! Info_per_level, levels start at 3760130 with made-up timestamps: see
//! `shared/notes/mockhost-vs-octez.md`, "Level framing"); the test kernels ignore framing
//! messages, so only the scenario's own messages matter.

use tezos_data_encoding::enc::{BinResult, BinWriter};
use tezos_smart_rollup_encoding::michelson::{MichelsonBytes, MichelsonInt, MichelsonString};
use tezos_smart_rollup_encoding::smart_rollup::SmartRollupAddress;
use tezos_smart_rollup_host::metadata::RollupMetadata;
use tezos_smart_rollup_host::path::OwnedPath;
use tezos_smart_rollup_host::runtime::Runtime;
use tezos_smart_rollup_mock::{MockHost, TransferMetadata};

use crate::scenario::{reveal_hash, Input, Outcome, Payload, Scenario, Transfer};

/// Raw bytes written as-is (the SDK's `add_external` serializes its argument).
struct Raw<'a>(&'a [u8]);

impl BinWriter for Raw<'_> {
    fn bin_write(&self, output: &mut Vec<u8>) -> BinResult {
        output.extend_from_slice(self.0);
        Ok(())
    }
}

/// A `MockHost` with the scenario's rollup address and preimages.
pub fn host(scenario: &Scenario) -> MockHost {
    let mut host = MockHost::with_address(&rollup_address(&scenario.rollup_address));
    for preimage in &scenario.preimages {
        let hash = host.set_preimage(preimage.clone());
        assert_eq!(
            hash,
            reveal_hash(preimage),
            "MockHost's reveal hash differs from 0x00 ++ BLAKE2b-256(preimage)"
        );
    }
    host
}

/// The SDK's rollup address for raw address bytes (built through `RollupMetadata`, which
/// owns the conversion, so this crate needs no direct dependency on the SDK's crypto crate).
fn rollup_address(raw: &[u8; 20]) -> SmartRollupAddress {
    let metadata = RollupMetadata {
        raw_rollup_address: *raw,
        origination_level: 0,
    };
    SmartRollupAddress::new(metadata.address())
}

fn add_transfer(host: &mut MockHost, transfer: &Transfer) {
    let metadata = TransferMetadata::new(transfer.sender.as_str(), transfer.source.as_str());
    match &transfer.payload {
        Payload::Bytes(bytes) => host.add_transfer(MichelsonBytes(bytes.clone()), &metadata),
        Payload::Int(int) => host.add_transfer(MichelsonInt::from(*int), &metadata),
        Payload::String(text) => host.add_transfer(MichelsonString(text.clone()), &metadata),
    }
}

/// Runs `kernel` through every level of `scenario` on a fresh `MockHost`.
pub fn run(scenario: &Scenario, kernel: fn(&mut MockHost)) -> (MockHost, Outcome) {
    let mut host = host(scenario);
    let mut outcome = Outcome::default();
    for level in &scenario.levels {
        for input in level {
            match input {
                Input::External(body) => host.add_external(Raw(body)),
                Input::Transfer(transfer) => add_transfer(&mut host, transfer),
            }
        }
        let ran_at = host.run_level(kernel);
        outcome.outboxes.push(host.outbox_at(ran_at));
    }
    for path in &scenario.durable_paths {
        outcome
            .durable
            .insert(path.clone(), read_value(&host, path));
    }
    (host, outcome)
}

/// The value at a durable path, `None` if there is none.
pub fn read_value(host: &MockHost, path: &str) -> Option<Vec<u8>> {
    let path = OwnedPath::try_from(path.to_owned())
        .unwrap_or_else(|e| panic!("scenario path {path:?} is not a valid durable path: {e:?}"));
    host.store_read_all(&path).ok()
}
