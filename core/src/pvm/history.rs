//! The PVM's tick history: the state at every tick of the levels kept, for
//! [`Pvm::state_hash_at`](super::Pvm::state_hash_at).
//!
//! Most ticks repeat a state (padding ticks, a snapshot boundary), so a [`Segment::State`]
//! covers a range of ticks with one tree. Input ticks are different: every input changes the
//! state, and snapshotting the whole tree after each one made a level's inputs cost more than
//! its kernel run (every snapshot shares the tree, so the next input copies the path it writes,
//! and each snapshot is dropped again when its level is forgotten). A level's inputs are kept
//! as an [`InputRun`] instead: the state before the first of them and the inputs themselves,
//! from which [`InputRun::tree_at`] rebuilds the state at any of their ticks by applying them
//! again with the same function the PVM used ([`apply_input`]).

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::durable::{Durable, Key};
use crate::encoding::inbox::{InboxMessage, InternalInboxMessage};
use crate::state::input_buffer::{self, Input};
use crate::state::output_buffer;
use crate::state::{Counters, TickState, DURABLE_PATH};
use crate::tree::Tree;

use super::{PvmError, PvmVersion, OUTBOX_VALIDITY_PERIOD, VERSION_KEY};

/// A range of ticks of a level kept and the state at those ticks.
#[derive(Clone)]
pub(super) enum Segment {
    /// Every tick of the range is in the state `tree` (with its own `current_tick`).
    State { first: u128, last: u128, tree: Tree },
    /// The ticks of a `kernel_run`; `post` is its resulting (padding) state.
    KernelRun {
        first: u128,
        last: u128,
        level: u32,
        run: u32,
        post: Tree,
    },
    /// Consecutive input ticks, one per input.
    Inputs(Box<InputRun>),
}

impl Segment {
    /// The first and last tick of the segment.
    pub(super) fn range(&self) -> (u128, u128) {
        match self {
            Segment::State { first, last, .. } | Segment::KernelRun { first, last, .. } => {
                (*first, *last)
            }
            Segment::Inputs(run) => (run.first, run.last()),
        }
    }
}

/// Consecutive input ticks starting at `first`: the state before them and the inputs.
#[derive(Clone)]
pub(super) struct InputRun {
    /// The tick of the first input.
    pub(super) first: u128,
    /// The input buffer and the rest of the state outside `/durable` before the first input.
    pub(super) buffers: Tree,
    /// Durable storage before the first input.
    pub(super) durable: Durable,
    /// The counters that inputs leave as they are.
    pub(super) last_top_level_call: u128,
    /// The reboot counter (inputs leave it as it is).
    pub(super) reboot_counter: u32,
    /// The inputs, one per tick.
    pub(super) inputs: Vec<RecordedInput>,
}

/// One input tick.
#[derive(Clone)]
pub(super) struct RecordedInput {
    /// The input.
    pub(super) input: Input,
    /// Whether it changed the state (a stuck PVM counts the tick and ignores the input).
    pub(super) applied: bool,
    /// The tick state after it.
    pub(super) tick_state: TickState,
}

impl InputRun {
    /// The tick of the last input.
    pub(super) fn last(&self) -> u128 {
        self.first + self.inputs.len() as u128 - 1
    }

    /// Whether the input at `tick` would extend this run.
    pub(super) fn continues_at(&self, tick: u128) -> bool {
        self.first + self.inputs.len() as u128 == tick
    }

    /// The whole state at `tick` (one of this run's ticks).
    pub(super) fn tree_at(&self, tick: u128) -> Result<Tree, PvmError> {
        let n = usize::try_from(tick - self.first).unwrap_or(usize::MAX);
        let Some(last) = self.inputs.get(n) else {
            return Err(PvmError::Engine(alloc::format!(
                "tick {tick} is not an input tick of the run starting at tick {}",
                self.first
            )));
        };
        let mut buffers = self.buffers.clone();
        let mut durable = self.durable.clone();
        for recorded in self.inputs[..=n].iter().filter(|i| i.applied) {
            let input = &recorded.input;
            apply_input(
                &mut buffers,
                &mut durable,
                input,
                &input_kind(&input.payload),
            )?;
        }
        compose(
            &buffers,
            &durable,
            &Counters {
                current_tick: tick,
                last_top_level_call: self.last_top_level_call,
                reboot_counter: self.reboot_counter,
                last_input: Some((last.input.level, last.input.counter)),
                tick_state: last.tick_state.clone(),
            },
        )
    }
}

/// The whole state tree from its parts: the buffers (everything outside `/durable`), durable
/// storage and the counters.
pub(super) fn compose(
    buffers: &Tree,
    durable: &Durable,
    counters: &Counters,
) -> Result<Tree, PvmError> {
    let mut tree = buffers.clone();
    tree.set_subtree(&DURABLE_PATH, durable.tree().clone())?;
    crate::state::write_counters(&mut tree, counters)?;
    Ok(tree)
}

/// The kind of an input, as octez's `Pvm_input_kind.from_raw_input` sees it.
pub(super) enum InputKind {
    StartOfLevel,
    EndOfLevel,
    ProtocolMigration(alloc::string::String),
    Other,
}

/// The kind of the serialized inbox message `payload`.
pub(super) fn input_kind(payload: &[u8]) -> InputKind {
    // Only internal messages with tags 1, 2 and 4 matter; decode only those (octez requires
    // them to be exactly well-formed, as `InboxMessage::decode` does).
    if !matches!(payload, [0, 1 | 2 | 4, ..]) {
        return InputKind::Other;
    }
    match InboxMessage::decode(payload) {
        Ok(InboxMessage::Internal(InternalInboxMessage::StartOfLevel)) => InputKind::StartOfLevel,
        Ok(InboxMessage::Internal(InternalInboxMessage::EndOfLevel)) => InputKind::EndOfLevel,
        Ok(InboxMessage::Internal(InternalInboxMessage::ProtocolMigration(name))) => {
            InputKind::ProtocolMigration(name)
        }
        _ => InputKind::Other,
    }
}

/// What an input does beyond the state trees.
pub(super) enum InputEffect {
    /// Nothing.
    None,
    /// `End_of_level`: the inputs are over, the PVM pads to the next snapshot boundary.
    EndOfLevel,
    /// A protocol migration to this PVM version.
    Migration(PvmVersion),
}

/// Applies one input to the state's trees (octez's input step): it goes to the input buffer,
/// `Start_of_level` moves the outbox to its level and a protocol migration records the new
/// version (2.0.0-r4 also restores the protocol's outbox validity period).
pub(super) fn apply_input(
    buffers: &mut Tree,
    durable: &mut Durable,
    input: &Input,
    kind: &InputKind,
) -> Result<InputEffect, PvmError> {
    input_buffer::push(buffers, input)?;
    match kind {
        InputKind::StartOfLevel => {
            // Octez initialises the outbox at the first level, then moves it forward by one
            // level at every Start_of_level.
            let info = output_buffer::read_info(buffers)?;
            let outbox_level = match info.last_level {
                Some(last) => u32::try_from(last).unwrap_or(0).wrapping_add(1),
                None => input.level,
            };
            output_buffer::start_level(buffers, outbox_level)?;
            Ok(InputEffect::None)
        }
        InputKind::EndOfLevel => Ok(InputEffect::EndOfLevel),
        InputKind::ProtocolMigration(name) => {
            let Some(v) = PvmVersion::for_protocol(name.as_bytes()) else {
                return Ok(InputEffect::None);
            };
            let key = Key::from_path(VERSION_KEY).expect("the PVM's own keys are valid constants");
            durable.set_value(&key, v.as_str().as_bytes(), true)?;
            if v == PvmVersion::V4 {
                // octez `apply_migration`: 2.0.0-r4 restores the protocol's outbox validity
                // period (and ticks_per_snapshot, which is the PVM's configuration).
                let mut info = output_buffer::read_info(buffers)?;
                info.validity_period = i32::try_from(OUTBOX_VALIDITY_PERIOD).unwrap_or(i32::MAX);
                output_buffer::write_info(buffers, &info)?;
            }
            Ok(InputEffect::Migration(v))
        }
        InputKind::Other => Ok(InputEffect::None),
    }
}
