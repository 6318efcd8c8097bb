//! The state layout of the WASM PVM: where each part of the state lives in the [`Tree`] and how
//! it is encoded, exactly as octez lays out `wasm_2_0_0` (`src/lib_scoru_wasm/tree_state.ml`,
//! `wasm_encoding.ml`, `src/lib_tree_encoding/`), so a Soru state tree hashes like octez's.
//!
//! This layer sits below the host functions (which act on it) and the PVM state machine (which
//! moves it from one state to the next); proofs read it without the PVM.
//!
//! | path | content | encoding |
//! |---|---|---|
//! | `/durable` | durable storage ([`crate::durable`]) | chunked values under `@` |
//! | `/tag` | `"Some"`: the buffers are present | `Data_encoding.string` |
//! | `/value/pvm/buffers/input` | the unread inputs ([`input_buffer`]) | lazy vector |
//! | `/value/pvm/buffers/output` | the outboxes ([`output_buffer`]) | lazy map of lazy vectors |
//! | `/pvm/last_top_level_call` | tick of the last snapshot boundary | `Data_encoding.n` |
//! | `/pvm/max_nb_ticks` | ticks between two boundaries (`ticks_per_snapshot`) | `n` |
//! | `/pvm/maximum_reboots_per_input` | reboots allowed per level | `n` |
//! | `/pvm/outbox_validity_period` | origination parameter | `int32` |
//! | `/pvm/outbox_message_limit` | origination parameter | `Data_encoding.z` |
//! | `/wasm/input` | last input read: inbox level, message counter (absent before) | `int32`, `n` |
//! | `/wasm/current_tick` | ticks since origination | `n` |
//! | `/wasm/reboot_counter` | runs left in this level | `n` |
//! | `/wasm/tag` | the tick state: `collect`, `snapshot`, `padding`, `stuck`, ... | `Data_encoding.string` |
//! | `/wasm/value` | a `stuck` state's error ([`StuckError`]) | `Wasm_pvm_errors.encoding` |
//!
//! octez rewrites `/wasm` from scratch at every tick; the interpreter states of a kernel
//! evaluation (`decode`, `link`, `init`, `eval`, with their payload under `/wasm/value`) are
//! never built by Soru, which runs `kernel_run` at once: the states it can hold are
//! [`TickState`]'s, the ones a level boundary or a padding tick is in.
//!
//! The durable keys the PVM itself reads and writes are declared here as well.

pub mod input_buffer;
pub mod output_buffer;

use alloc::string::String;
use alloc::vec::Vec;

use crate::abi::PvmVersion;
use crate::durable::{Durable, DurableError, Key};
use crate::encoding::binary::{self, Zarith};
use crate::tree::{Tree, TreeError};

/// Path of the PVM state tag.
pub const TAG: [&[u8]; 1] = [b"tag"];

/// The tag value of an initialised PVM state: the Data_encoding string `"Some"`.
pub const TAG_SOME: &[u8] = b"\x00\x00\x00\x04Some";

/// Path of durable storage in the state tree.
pub const DURABLE_PATH: [&[u8]; 1] = [b"durable"];

/// Path of the tick of the last snapshot boundary.
pub const LAST_TOP_LEVEL_CALL: [&[u8]; 2] = [b"pvm", b"last_top_level_call"];
/// Path of `ticks_per_snapshot`.
pub const MAX_NB_TICKS: [&[u8]; 2] = [b"pvm", b"max_nb_ticks"];
/// Path of the number of reboots allowed per level.
pub const MAXIMUM_REBOOTS_PER_INPUT: [&[u8]; 2] = [b"pvm", b"maximum_reboots_per_input"];
/// Path of the outbox validity period given at origination.
pub const OUTBOX_VALIDITY_PERIOD: [&[u8]; 2] = [b"pvm", b"outbox_validity_period"];
/// Path of the outbox message limit given at origination.
pub const OUTBOX_MESSAGE_LIMIT: [&[u8]; 2] = [b"pvm", b"outbox_message_limit"];
/// Path of the interpreter state, rewritten at every tick.
pub const WASM: [&[u8]; 1] = [b"wasm"];
/// Path of the last input read.
pub const LAST_INPUT: [&[u8]; 2] = [b"wasm", b"input"];
/// Path of the current tick.
pub const CURRENT_TICK: [&[u8]; 2] = [b"wasm", b"current_tick"];
/// Path of the reboot counter.
pub const REBOOT_COUNTER: [&[u8]; 2] = [b"wasm", b"reboot_counter"];
/// Path of the tick-state tag.
pub const TICK_STATE_TAG: [&[u8]; 2] = [b"wasm", b"tag"];
/// Path of the tick state's payload (only the `stuck` state has one Soru builds: its error).
pub const TICK_STATE_VALUE: [&[u8]; 2] = [b"wasm", b"value"];

/// Durable key of the kernel.
pub const KERNEL_KEY: &str = "/kernel/boot.wasm";
/// Durable key of the fallback kernel (the last one that initialised).
pub const FALLBACK_KERNEL_KEY: &str = "/readonly/kernel/boot.wasm";
/// Durable key a kernel writes to ask for a reboot.
pub const REBOOT_FLAG_KEY: &str = "/kernel/env/reboot";
/// Durable key of the remaining reboots (little-endian `i32`).
pub const REBOOT_COUNTER_KEY: &str = "/readonly/kernel/env/reboot_counter";
/// Durable key set when `kernel_run` trapped.
pub const STUCK_FLAG_KEY: &str = "/readonly/kernel/env/stuck";
/// Durable key set when an upgrade failed and the fallback kernel was restored.
pub const UPGRADE_ERROR_FLAG_KEY: &str = "/readonly/kernel/env/upgrade_error";
/// Durable key set when the kernel asked for too many reboots.
pub const TOO_MANY_REBOOT_FLAG_KEY: &str = "/readonly/kernel/env/too_many_reboot";
/// Durable key of the PVM version.
pub const VERSION_KEY: &str = "/readonly/wasm_version";

/// The tick state of a PVM that is not inside a kernel evaluation (octez `tick_state`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TickState {
    /// Waiting for inputs.
    Collect,
    /// At a snapshot boundary, about to load the kernel and call `kernel_run`.
    Snapshot,
    /// Between the end of the inputs or of a `kernel_run` and the next boundary.
    Padding,
    /// Stuck for good: octez stores the error at `/wasm/value` ([`StuckError::encode`]).
    Stuck(StuckError),
}

impl TickState {
    /// The tag octez stores at `/wasm/tag` (without its length prefix).
    pub fn tag(&self) -> &'static str {
        match self {
            TickState::Collect => "collect",
            TickState::Snapshot => "snapshot",
            TickState::Padding => "padding",
            TickState::Stuck(_) => "stuck",
        }
    }
}

/// Longest message octez keeps in an error (`Wasm_pvm_errors.messages_maximum_size`).
pub const STUCK_MESSAGE_MAX: usize = 128;

/// An interpreter error as octez records it: the exception's text and an optional
/// explanation, each cut to [`STUCK_MESSAGE_MAX`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InterpreterError {
    /// octez `raw_exception`.
    pub raw_exception: Vec<u8>,
    /// octez `explanation`.
    pub explanation: Option<Vec<u8>>,
}

impl InterpreterError {
    /// An error with the (truncated) texts given.
    pub fn new(raw_exception: &str, explanation: Option<&str>) -> InterpreterError {
        InterpreterError {
            raw_exception: truncated(raw_exception),
            explanation: explanation.map(truncated),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        binary::put_dynamic_bytes(out, &self.raw_exception);
        match &self.explanation {
            None => binary::put_u8(out, 0),
            Some(e) => {
                binary::put_u8(out, 0xff);
                binary::put_dynamic_bytes(out, e);
            }
        }
    }
}

/// The message `m` cut to [`STUCK_MESSAGE_MAX`] bytes (octez `truncate_message`).
fn truncated(m: &str) -> Vec<u8> {
    let b = m.as_bytes();
    b[..b.len().min(STUCK_MESSAGE_MAX)].to_vec()
}

/// Why a kernel could not be replaced by its fallback (octez `fallback_cause`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FallbackCause {
    /// The kernel failed to decode.
    Decode(InterpreterError),
    /// The kernel failed to link (octez's message, e.g. `Unexpected import: m.n`).
    Link(Vec<u8>),
    /// The kernel failed to initialise.
    Init(InterpreterError),
}

/// The error a stuck PVM stores (octez `Wasm_pvm_errors.t`, binary `Wasm_pvm_errors.encoding`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StuckError {
    /// Tag 0.
    Decode(InterpreterError),
    /// Tag 1.
    Link(Vec<u8>),
    /// Tag 2.
    Init(InterpreterError),
    /// Tag 3: the evaluation raised an error (e.g. call stack exhausted).
    Eval(InterpreterError),
    /// Tag 4, e.g. `Invalid_module: no `kernel_run` function exported`.
    InvalidState(Vec<u8>),
    /// Tag 5.
    Unknown(Vec<u8>),
    /// Tag 6: the evaluation did not finish within `ticks_per_snapshot` ticks.
    TooManyTicks,
    /// Tag 7.
    TooManyReboots,
    /// Tag 8: the kernel failed and no different fallback kernel exists.
    NoFallbackKernel(FallbackCause),
}

impl StuckError {
    /// `Invalid_state` with the message `m` (truncated like octez's).
    pub fn invalid_state(m: &str) -> StuckError {
        StuckError::InvalidState(truncated(m))
    }

    /// `Link_error`/`Link_cause` text (truncated like octez's).
    pub fn link_message(m: &str) -> Vec<u8> {
        truncated(m)
    }

    /// `Unknown_error` with the message `m` (truncated like octez's).
    pub fn unknown(m: &str) -> StuckError {
        StuckError::Unknown(truncated(m))
    }

    /// The bytes octez stores at `/wasm/value`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            StuckError::Decode(e) => {
                binary::put_u8(&mut out, 0);
                e.encode(&mut out);
            }
            StuckError::Link(m) => {
                binary::put_u8(&mut out, 1);
                binary::put_dynamic_bytes(&mut out, m);
            }
            StuckError::Init(e) => {
                binary::put_u8(&mut out, 2);
                e.encode(&mut out);
            }
            StuckError::Eval(e) => {
                binary::put_u8(&mut out, 3);
                e.encode(&mut out);
            }
            StuckError::InvalidState(m) => {
                binary::put_u8(&mut out, 4);
                binary::put_dynamic_bytes(&mut out, m);
            }
            StuckError::Unknown(m) => {
                binary::put_u8(&mut out, 5);
                binary::put_dynamic_bytes(&mut out, m);
            }
            StuckError::TooManyTicks => binary::put_u8(&mut out, 6),
            StuckError::TooManyReboots => binary::put_u8(&mut out, 7),
            StuckError::NoFallbackKernel(cause) => {
                binary::put_u8(&mut out, 8);
                match cause {
                    FallbackCause::Decode(e) => {
                        binary::put_u8(&mut out, 0);
                        e.encode(&mut out);
                    }
                    FallbackCause::Link(m) => {
                        binary::put_u8(&mut out, 1);
                        binary::put_dynamic_bytes(&mut out, m);
                    }
                    FallbackCause::Init(e) => {
                        binary::put_u8(&mut out, 2);
                        e.encode(&mut out);
                    }
                }
            }
        }
        out
    }
}

/// The PVM's parameters, fixed at origination (octez `install_boot_sector`), stored under `/pvm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parameters {
    /// Ticks between two snapshot boundaries (`max_nb_ticks`).
    pub ticks_per_snapshot: u128,
    /// Reboots allowed per level.
    pub maximum_reboots_per_input: u32,
    /// Levels an outbox is kept.
    pub outbox_validity_period: i32,
    /// Messages per outbox.
    pub outbox_message_limit: u64,
}

/// Where the PVM is: the per-tick scalars of octez's `pvm_state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    /// Ticks since origination.
    pub current_tick: u128,
    /// Tick of the last snapshot boundary.
    pub last_top_level_call: u128,
    /// Runs left in this level (octez counts the input phase as one: 1001 at a level's start).
    pub reboot_counter: u32,
    /// Inbox level and message counter of the last input, if any.
    pub last_input: Option<(u32, u32)>,
    /// The tick state.
    pub tick_state: TickState,
}

/// The `Data_encoding.z` bytes of `v`.
pub(crate) fn z_bytes(v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    binary::put_z(&mut out, &Zarith::from_u64(v));
    out
}

/// The `Data_encoding.n` bytes of `v`.
fn n_bytes(v: u128) -> Vec<u8> {
    let mut out = Vec::new();
    binary::put_n(
        &mut out,
        &Zarith::from_sign_magnitude(false, &v.to_be_bytes()),
    );
    out
}

fn string_bytes(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + s.len());
    binary::put_dynamic_bytes(&mut out, s.as_bytes());
    out
}

/// Writes the origination parameters under `/pvm`.
pub fn write_parameters(tree: &mut Tree, p: &Parameters) -> Result<(), TreeError> {
    tree.set_value(&MAX_NB_TICKS, &n_bytes(p.ticks_per_snapshot))?;
    tree.set_value(
        &MAXIMUM_REBOOTS_PER_INPUT,
        &n_bytes(u128::from(p.maximum_reboots_per_input)),
    )?;
    tree.set_value(
        &OUTBOX_VALIDITY_PERIOD,
        &p.outbox_validity_period.to_be_bytes(),
    )?;
    tree.set_value(&OUTBOX_MESSAGE_LIMIT, &z_bytes(p.outbox_message_limit))
}

/// Rewrites `/wasm` and `/pvm/last_top_level_call` from `c`, as octez's encoding does at every
/// tick.
pub fn write_counters(tree: &mut Tree, c: &Counters) -> Result<(), TreeError> {
    tree.remove(&WASM)?;
    if let Some((level, counter)) = c.last_input {
        let mut v = Vec::with_capacity(8);
        binary::put_i32(&mut v, level as i32);
        binary::put_n(&mut v, &Zarith::from_u64(u64::from(counter)));
        tree.set_value(&LAST_INPUT, &v)?;
    }
    set_current_tick(tree, c.current_tick)?;
    tree.set_value(&REBOOT_COUNTER, &n_bytes(u128::from(c.reboot_counter)))?;
    tree.set_value(&TICK_STATE_TAG, &string_bytes(c.tick_state.tag()))?;
    if let TickState::Stuck(error) = &c.tick_state {
        tree.set_value(&TICK_STATE_VALUE, &error.encode())?;
    }
    tree.set_value(&LAST_TOP_LEVEL_CALL, &n_bytes(c.last_top_level_call))
}

/// Why [`read_counters`] could not read a state's counters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountersError {
    /// The state tree failed.
    #[error("state tree: {0}")]
    Tree(#[from] TreeError),
    /// A counter is absent.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// A counter does not decode.
    #[error("{path} does not decode: {error}")]
    Decode {
        /// Its path.
        path: &'static str,
        /// What is wrong.
        error: binary::DecodeError,
    },
    /// A counter does not fit the PVM's integer type.
    #[error("{0} is too large")]
    Overflow(&'static str),
    /// The tick state is one only octez's interpreter or a stuck PVM has.
    #[error("/wasm/tag is {0:?}, not a state between levels")]
    TickState(String),
}

/// Reads back what [`write_counters`] wrote, for a state between two levels (tick state
/// `collect` or `padding`, or `snapshot`). A `stuck` state or an interpreter state is
/// [`CountersError::TickState`].
pub fn read_counters(tree: &Tree) -> Result<Counters, CountersError> {
    fn get<'t>(
        tree: &'t Tree,
        path: &[&[u8]],
        name: &'static str,
    ) -> Result<&'t [u8], CountersError> {
        tree.value(path)?.ok_or(CountersError::Missing(name))
    }
    fn finished<T>(
        r: binary::Reader<'_>,
        v: Result<T, binary::DecodeError>,
        path: &'static str,
    ) -> Result<T, CountersError> {
        let v = v.and_then(|v| r.finish().map(|()| v));
        v.map_err(|error| CountersError::Decode { path, error })
    }
    fn nat(tree: &Tree, path: &[&[u8]], name: &'static str) -> Result<u128, CountersError> {
        let mut r = binary::Reader::new(get(tree, path, name)?);
        let z = r.n();
        let z = finished(r, z, name)?;
        let m = z.magnitude();
        if m.len() > 16 {
            return Err(CountersError::Overflow(name));
        }
        let mut buf = [0u8; 16];
        buf[16 - m.len()..].copy_from_slice(m);
        Ok(u128::from_be_bytes(buf))
    }
    let tag = {
        let bytes = get(tree, &TICK_STATE_TAG, "/wasm/tag")?;
        let mut r = binary::Reader::new(bytes);
        let s = r.dynamic_string("tick state").map(String::from);
        finished(r, s, "/wasm/tag")?
    };
    let tick_state = match tag.as_str() {
        "collect" => TickState::Collect,
        "snapshot" => TickState::Snapshot,
        "padding" => TickState::Padding,
        _ => return Err(CountersError::TickState(tag)),
    };
    let last_input = match tree.value(&LAST_INPUT)? {
        None => None,
        Some(bytes) => {
            let mut r = binary::Reader::new(bytes);
            let v = r.i32().and_then(|l| Ok((l, r.n_u64()?)));
            let (level, counter) = finished(r, v, "/wasm/input")?;
            let overflow = |_| CountersError::Overflow("/wasm/input");
            Some((
                u32::try_from(level).map_err(overflow)?,
                u32::try_from(counter).map_err(overflow)?,
            ))
        }
    };
    let reboot_counter = nat(tree, &REBOOT_COUNTER, "/wasm/reboot_counter")?;
    Ok(Counters {
        current_tick: nat(tree, &CURRENT_TICK, "/wasm/current_tick")?,
        last_top_level_call: nat(tree, &LAST_TOP_LEVEL_CALL, "/pvm/last_top_level_call")?,
        reboot_counter: u32::try_from(reboot_counter)
            .map_err(|_| CountersError::Overflow("/wasm/reboot_counter"))?,
        last_input,
        tick_state,
    })
}

/// Sets only `/wasm/current_tick`: a padding state differs from its neighbours in nothing else.
pub fn set_current_tick(tree: &mut Tree, tick: u128) -> Result<(), TreeError> {
    tree.set_value(&CURRENT_TICK, &n_bytes(tick))
}

/// octez's initial state of a rollup of `version` (`Wasm_pvm.initial_state`), before the kernel
/// is installed: durable storage holding only `/readonly/wasm_version`. Its hash is the
/// protocol's `reference_initial_state_hash`.
pub fn initial_state(version: PvmVersion) -> Result<Tree, DurableError> {
    let mut durable = Durable::new();
    let key = Key::from_path(VERSION_KEY)?;
    durable.set_value(&key, version.as_str().as_bytes(), true)?;
    let mut tree = Tree::empty();
    tree.set_subtree(&DURABLE_PATH, durable.tree().clone())?;
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_encodings_are_octez() {
        assert_eq!(n_bytes(0), [0]);
        assert_eq!(n_bytes(5000), [0x88, 0x27]);
        assert_eq!(z_bytes(100), [0xa4, 0x01]);
        assert_eq!(string_bytes("padding"), b"\x00\x00\x00\x07padding");
    }

    #[test]
    fn stuck_errors_are_octez_encoded() {
        assert_eq!(StuckError::TooManyTicks.encode(), [6]);
        assert_eq!(StuckError::TooManyReboots.encode(), [7]);
        assert_eq!(
            StuckError::invalid_state("ab").encode(),
            b"\x04\x00\x00\x00\x02ab"
        );
        let e = InterpreterError::new("x", Some("yz"));
        assert_eq!(
            StuckError::Eval(e.clone()).encode(),
            b"\x03\x00\x00\x00\x01x\xff\x00\x00\x00\x02yz"
        );
        assert_eq!(
            StuckError::NoFallbackKernel(FallbackCause::Decode(InterpreterError::new("x", None)))
                .encode(),
            b"\x08\x00\x00\x00\x00\x01x\x00"
        );
        let long = "m".repeat(300);
        assert_eq!(InterpreterError::new(&long, None).raw_exception.len(), 128);
    }
}
