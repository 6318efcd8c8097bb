//! Gas: a deterministic cost per instruction and per node of data or code, in milligas.
//!
//! The numbers are the sandbox's own (not octez's cost model): what matters is that a given
//! script, parameter and storage always cost the same, so `run_operation` estimates what the
//! block charges. Costs:
//!
//! | what | milligas |
//! |---|---|
//! | type-checking code | [`PER_CODE_NODE`] per Micheline node |
//! | type-checking or unparsing data | 100 per node |
//! | every instruction executed | [`PER_INSTRUCTION`] |
//! | work proportional to data (compare, pack, hash, slice, ...) | [`PER_BYTE`] per byte |
//! | every byte a value copy or a new value takes (`DUP`, `PUSH`, `GET`, `CONCAT`, arithmetic) | [`PER_BYTE_COPIED`] |
//! | `MUL`, `EDIV` | also (size a × size b) / 64 |
//! | map, set and big map access | [`PER_MAP_STEP`] per level of the tree (log2 of the size) |
//! | `CONTRACT`, `TRANSFER_TOKENS`, reading a big map from the chain | [`PER_CHAIN_ACCESS`] |
//!
//! Values are copied, not shared, so copies cost enough that the memory a call can allocate
//! stays bounded by its gas: at most about 130 MB within octez's hard limit of 1,040,000 gas
//! per operation.

use super::error::Error;

/// Type-checking one node of code.
pub const PER_CODE_NODE: u64 = 200;
/// Executing one instruction.
pub const PER_INSTRUCTION: u64 = 100;
/// Each byte of data an instruction processes.
pub const PER_BYTE: u64 = 2;
/// Each level of a map, set or big map walked.
pub const PER_MAP_STEP: u64 = 50;
/// Each byte copied or newly allocated (bounds memory by gas).
pub const PER_BYTE_COPIED: u64 = 8;
/// Reading the chain (contracts, big maps) or emitting an operation.
pub const PER_CHAIN_ACCESS: u64 = 1000;

/// A gas counter with a limit.
#[derive(Debug, Clone)]
pub struct Gas {
    limit: u64,
    used: u64,
}

impl Gas {
    /// A counter that fails once more than `limit_milligas` is used.
    pub fn new(limit_milligas: u64) -> Gas {
        Gas {
            limit: limit_milligas,
            used: 0,
        }
    }

    /// Uses `milligas`, failing with [`Error::GasExhausted`] past the limit.
    pub fn charge(&mut self, milligas: u64) -> Result<(), Error> {
        self.used = self.used.saturating_add(milligas);
        if self.used > self.limit {
            Err(Error::GasExhausted {
                limit_milligas: self.limit,
            })
        } else {
            Ok(())
        }
    }

    /// Milligas used so far.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// The cost of a map of `len` entries: one step per level.
    pub fn map_cost(len: usize) -> u64 {
        PER_MAP_STEP * (1 + u64::from(usize::BITS - len.leading_zeros()))
    }
}
