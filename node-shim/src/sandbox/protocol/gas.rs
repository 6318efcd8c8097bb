//! The sandbox's gas and storage accounting. The costs are the sandbox's own (simple, per
//! operation and per byte, plus Michelson's own gas model), applied identically by simulation
//! and by block application, so the gas a client estimates is the gas it is charged.

use serde_json::json;
use soru_core::encoding::operation::ManagerOperation;

use super::errors::err;
use super::Failed;

/// Milligas every manager operation costs.
pub(super) const MANAGER_OPERATION: u64 = 100_000;
/// Milligas per byte of an operation's binary form, of a message or a proof.
pub(super) const PER_BYTE: u64 = 10;
/// Milligas per inbox message.
pub(super) const PER_MESSAGE: u64 = 1_000;
/// Milligas for originating a rollup (computing its genesis state).
pub(super) const ROLLUP_ORIGINATION: u64 = 1_000_000;
/// Milligas for checking an output proof.
pub(super) const PROOF_CHECK: u64 = 500_000;

/// The fixed cost of a content: the base cost plus its bytes.
pub(super) fn manager_operation(c: &ManagerOperation) -> u64 {
    let mut bytes = Vec::new();
    c.encode_into(&mut bytes);
    MANAGER_OPERATION + PER_BYTE * bytes.len() as u64
}

/// Gas left to a content.
pub(super) struct Meter {
    limit: u64,
    used: u64,
}

impl Meter {
    /// A meter with `limit` milligas.
    pub(super) fn new(limit: u64) -> Meter {
        Meter { limit, used: 0 }
    }

    /// Spends `milligas`, failing with `gas_exhausted.operation` past the limit.
    pub(super) fn charge(&mut self, milligas: u64) -> Result<(), Failed> {
        self.used = self.used.saturating_add(milligas);
        if self.used > self.limit {
            return Err(err("gas_exhausted.operation", json!({})).into());
        }
        Ok(())
    }

    /// Milligas spent.
    pub(super) fn used(&self) -> u64 {
        self.used
    }

    /// Milligas left.
    pub(super) fn remaining(&self) -> u64 {
        self.limit - self.used.min(self.limit)
    }
}

/// Storage bytes a content may still pay for.
pub(super) struct Storage {
    limit: u64,
    used: u64,
}

impl Storage {
    /// A budget of `limit` bytes.
    pub(super) fn new(limit: u64) -> Storage {
        Storage { limit, used: 0 }
    }

    /// Pays for `bytes`, failing with `storage_exhausted.operation` past the limit.
    pub(super) fn charge(&mut self, bytes: u64) -> Result<(), Failed> {
        self.used = self.used.saturating_add(bytes);
        if self.used > self.limit {
            return Err(err("storage_exhausted.operation", json!({})).into());
        }
        Ok(())
    }

    /// Bytes paid.
    pub(super) fn used(&self) -> u64 {
        self.used
    }
}
