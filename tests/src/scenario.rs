//! What a differential test feeds a kernel, and what it observes.

use std::collections::BTreeMap;

/// A payload of an internal transfer, as Michelson data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A Michelson `bytes` value.
    Bytes(Vec<u8>),
    /// A Michelson `int` value.
    Int(i32),
    /// A Michelson `string` value.
    String(String),
}

/// An internal transfer from an L1 contract to the rollup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The transferred Michelson value.
    pub payload: Payload,
    /// The sending contract, base58 `KT1...`.
    pub sender: String,
    /// The implicit account that originated the operation, base58 `tz1...`.
    pub source: String,
}

/// One inbox message a scenario adds between a level's framing messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// An external message; the bytes are its body (without the `0x01` tag).
    External(Vec<u8>),
    /// An internal transfer addressed to the rollup.
    Transfer(Transfer),
}

/// A run of a kernel: levels of inputs plus the environment both hosts are given.
#[derive(Debug, Clone, Default)]
pub struct Scenario {
    /// The raw 20-byte rollup address (`reveal_metadata`, transfer destinations).
    pub rollup_address: [u8; 20],
    /// The inbox of each level, in order; every level runs the kernel once (plus its reboots).
    pub levels: Vec<Vec<Input>>,
    /// Preimages the reveal channel can hand out (by their version-0 reveal hash).
    pub preimages: Vec<Vec<u8>>,
    /// Durable paths (e.g. `/counter/runs`) whose final values are compared.
    pub durable_paths: Vec<String>,
}

impl Scenario {
    /// A scenario whose levels hold only external messages.
    pub fn externals(levels: Vec<Vec<Vec<u8>>>) -> Scenario {
        Scenario {
            levels: levels
                .into_iter()
                .map(|level| level.into_iter().map(Input::External).collect())
                .collect(),
            ..Scenario::default()
        }
    }

    /// Adds durable paths to compare.
    pub fn compare_paths(mut self, paths: &[&str]) -> Scenario {
        self.durable_paths
            .extend(paths.iter().map(|p| (*p).to_owned()));
        self
    }
}

/// What a host observed after running a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// The outbox messages each level produced, in order.
    pub outboxes: Vec<Vec<Vec<u8>>>,
    /// The final value at each compared durable path (`None`: no value there).
    pub durable: BTreeMap<String, Option<Vec<u8>>>,
}

/// The version-0 reveal hash of a preimage: `0x00 ++ BLAKE2b-256(preimage)`.
pub fn reveal_hash(preimage: &[u8]) -> [u8; 33] {
    use blake2::digest::{Update, VariableOutput};
    let mut hasher = blake2::Blake2bVar::new(32).expect("32 is a valid BLAKE2b output size");
    hasher.update(preimage);
    let mut hash = [0u8; 33];
    hasher
        .finalize_variable(&mut hash[1..])
        .expect("the buffer is 32 bytes");
    hash
}
