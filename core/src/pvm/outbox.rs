//! The PVM's outboxes: messages written by `write_output`, one outbox per level.
//!
//! Semantics follow octez's `Output_buffer`: the first `Start_of_level` initialises the outbox
//! at its level, each later `Start_of_level` moves to the next level (dropping the outbox that
//! falls out of the validity period), and an outbox holds at most `message_limit` messages.
//!
//! This is the in-memory form the PVM uses until `pvm::output_buffer` provides the octez
//! tree layout (`/pvm/buffers/output`); it is not part of the state hash yet.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// Why a message could not be pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushError {
    /// No `Start_of_level` was read yet.
    NotInitialized,
    /// The current outbox already holds `message_limit` messages.
    Full,
}

/// Outboxes of the levels still within the validity period.
#[derive(Debug, Clone)]
pub(crate) struct Outboxes {
    last_level: Option<u32>,
    outboxes: BTreeMap<u32, Vec<Vec<u8>>>,
    validity_period: u32,
    message_limit: usize,
}

impl Outboxes {
    pub(crate) fn new(validity_period: u32, message_limit: usize) -> Outboxes {
        Outboxes {
            last_level: None,
            outboxes: BTreeMap::new(),
            validity_period,
            message_limit,
        }
    }

    /// Called on every `Start_of_level` input.
    pub(crate) fn start_level(&mut self, level: u32) {
        match self.last_level {
            None => {
                self.last_level = Some(level);
                self.outboxes.insert(level, Vec::new());
            }
            Some(last) => {
                let next = last.wrapping_add(1);
                let first = last.wrapping_add(1).wrapping_sub(self.validity_period);
                self.last_level = Some(next);
                self.outboxes.insert(next, Vec::new());
                self.outboxes.remove(&first);
            }
        }
    }

    /// Appends a message to the current outbox.
    pub(crate) fn push(&mut self, message: &[u8]) -> Result<(), PushError> {
        let level = self.last_level.ok_or(PushError::NotInitialized)?;
        let outbox = self.outboxes.entry(level).or_default();
        if outbox.len() >= self.message_limit {
            return Err(PushError::Full);
        }
        outbox.push(message.to_vec());
        Ok(())
    }

    /// The level messages are currently written to.
    pub(crate) fn current_level(&self) -> Option<u32> {
        self.last_level
    }

    /// Messages of the outbox of `level`, if it is still kept.
    pub(crate) fn messages(&self, level: u32) -> Option<&[Vec<u8>]> {
        self.outboxes.get(&level).map(Vec::as_slice)
    }
}
