//! The Tezos WASM PVM state machine (`2.0.0-r5` semantics) on wasmi.
//!
//! A [`Pvm`] is created from a kernel (origination) and then driven level by level, exactly as
//! the octez WASM debugger drives octez's PVM:
//!
//! 1. **Inputs** ([`Pvm::step_input`]): `Start_of_level`, `Info_per_level`, the level's messages
//!    and `End_of_level` are appended to the input buffer, one tick each. `Start_of_level` opens
//!    the level's outbox, `Protocol_migration` rewrites `/readonly/wasm_version`.
//! 2. **Kernel runs** ([`Pvm::step_kernel_run`]): after `End_of_level`, every top-level step
//!    starts at a *snapshot boundary*. If `/kernel/env/reboot` is set (it is, after each yield)
//!    the kernel is loaded from `/kernel/boot.wasm` and `kernel_run` is called once; otherwise the
//!    PVM yields: unread inputs are dropped and it waits for the next level. The reboot counter
//!    (`/readonly/kernel/env/reboot_counter`, little-endian `i32`) allows 1000 reboots after the
//!    first run of a level; a kernel asking for more is forced to yield and
//!    `/readonly/kernel/env/too_many_reboot` is set.
//! 3. **Failures**: a trap in `kernel_run` sets `/readonly/kernel/env/stuck` and execution
//!    continues at the next boundary (the flag is cleared by the next successful run). A kernel
//!    that fails to decode, link or initialise (e.g. after an upgrade by writing
//!    `/kernel/boot.wasm`) is replaced by the last kernel that initialised
//!    (`/readonly/kernel/boot.wasm`) and `/readonly/kernel/env/upgrade_error` is set; without such
//!    a fallback, or when `kernel_run` is missing, the call stack is exhausted, the fuel runs out
//!    or a host function crashes, the PVM is [`Status::Stuck`] for good, as in octez.
//!
//! ## Ticks and fuel
//! Ticks follow octez: one tick per input, and every phase between two snapshot boundaries (the
//! input phase of a level, and each `kernel_run`) lasts exactly `ticks_per_snapshot` ticks, so
//! tick counts at level boundaries do not depend on the engine. With `n` inputs in a level that
//! starts at tick `t`: the inputs take ticks `t+1..=t+n`, the PVM pads to `t+T-1` (`T` =
//! `ticks_per_snapshot`), the first snapshot is at `t+T`; each `kernel_run` from a snapshot `s`
//! ends in its padding state at `s+T-1`, and the next boundary `s+T` is a snapshot (reboot) or
//! the level's final collect state (yield). [`Pvm::state_hash_at`] gives octez's state hash at
//! each of those ticks.
//!
//! The wasmi fuel consumed by `kernel_run` is metered separately ([`LevelReport::fuel`]); one
//! run gets `ticks_per_snapshot` units (or [`PvmConfig::fuel_per_kernel_run`] if lower), and
//! running out is octez's `Too_many_ticks` (see "Stuck states"). Soru never charges more than
//! octez for the same work, so the budget never stops a run that octez completes:
//! - an instruction costs wasmi at most one unit (`nop`, `drop`, `block`, `loop`, `end`
//!   nothing, `memory.fill`/`memory.copy` one per 64 bytes), while octez's interpreter takes
//!   at least one tick per instruction (several for calls and locals, 7 per byte of
//!   `memory.fill`/`memory.copy`, which it unrolls), plus the ticks of decoding, linking and
//!   initialising the kernel within the same `ticks_per_snapshot`;
//! - `memory.grow` and `table.grow`, which wasmi charges one unit per 64 bytes added and octez
//!   as one instruction, get that fuel back when the run runs out;
//! - a host call costs octez's ticks for it ([`crate::abi::host_call_fuel`]): 2 for the call
//!   (octez's steps that run and return from it), plus octez's tick model when it succeeds
//!   (42 per byte of key or value moved, 1 per durable tree access); a reveal adds 1 plus 42
//!   per byte revealed.
//!
//! wasmi charges a block's instructions when it enters the block, so a block left early by a
//! branch pays for the instructions it skipped; octez's several ticks per executed instruction
//! cover that in practice, and `pvm_lifecycle`'s
//! `a_run_octez_completes_never_runs_out_of_fuel` and
//! `host_calls_in_a_loop_complete_within_octez_ticks_at_small_ticks_per_snapshot` check kernels
//! against lower bounds of octez's ticks. The converse does not hold: a run octez stops for
//! too many ticks may complete in Soru, which does not count octez's interpreter steps.
//!
//! **Wall time.** Every unit of fuel is bounded work: a wasm instruction, 64 bytes of bulk
//! memory, or a share of one host call, whose work is itself bounded (at most 4096 bytes moved
//! and one durable operation). The slowest fuel is a failing host call in a loop: a
//! `write_output` on a full outbox costs 6 units (4 of wasm, 2 for the call), and its time per
//! unit is what `make bench` reports ("fuel exhausted through host calls"): a run ends within
//! `ticks_per_snapshot` times that time (octez's rollup node, which runs kernels natively, has
//! no bound at all). [`PvmConfig::fuel_per_kernel_run`] gives a lower bound where a machine
//! needs one, at the price of stopping kernels octez would complete.
//!
//! ## Stuck states
//! A PVM stuck for good stores octez's error under `/wasm` (`/wasm/tag` `stuck`, the error at
//! `/wasm/value`, [`crate::state::StuckError`]), resets the reboot counter to 1001 and keeps
//! `last_top_level_call`, as octez's `Failing` status does; afterwards only inputs add ticks.
//! Running out of fuel is octez's `Too_many_ticks`, which octez raises at the tick
//! `ticks_per_snapshot` after the run's snapshot: the stuck state is then octez's, tick and
//! tree, whenever the run had written the same state as octez's before stopping (e.g. a kernel
//! looping without side effects, or on a failing host call). For the other failures (a kernel
//! that does not decode, link or initialise without a fallback, a missing `kernel_run`, an
//! exhausted call stack, a host function crash) octez gets stuck after its interpreter's
//! decoding, linking, initialisation or evaluation steps, a tick only that interpreter
//! defines; Soru puts the stuck state at the tick after the snapshot, with octez's error
//! (octez's own text for link errors and a missing `kernel_run`, Soru's where octez prints one
//! of its OCaml exceptions), so its hash is not octez's.
//!
//! ## Reveals
//! Reveal host calls suspend the run and ask the embedder's [`Reveal`]; if it has no answer yet
//! the PVM reports [`Status::WaitingForReveal`] and [`Pvm::resume_reveal`] continues the very
//! same call when the bytes arrive (wasmi resumable calls). Metadata requests are answered from
//! [`PvmConfig`]. octez's state while waiting for a reveal is an `eval` tick state: its whole
//! interpreter configuration (value and label stacks, frames, the module instance with its
//! memory chunks, globals, tables and the decoded function bodies) under `/wasm`, at a tick
//! counted by its interpreter. No other engine can build that tree, so Soru's state hash of a
//! suspended run (the durable storage and buffers reached, with the snapshot's tick and tick
//! state) is not octez's; the hashes after the run (its padding state) are.
//!
//! ## State
//! The state is a [`Tree`] in octez's whole `wasm_2_0_0` layout (see [`crate::state`]):
//! durable storage, the input and output buffers, the origination parameters and the tick
//! counters. [`Pvm::state_hash`] is its root hash, octez's state hash at every snapshot,
//! collect and padding tick, checked against octez's own regression hashes
//! (`core/tests/octez_pvm_regressions.rs`); outbox proofs of a Soru state are octez output
//! proofs. The exceptions are the states inside a kernel evaluation: a run suspended on a
//! reveal (see "Reveals") and a PVM stuck other than by running out of fuel (see "Stuck
//! states").
//!
//! ## Example
//! ```
//! use soru_core::pvm::{Pvm, PvmConfig, Status};
//! use soru_core::reveal::NoReveal;
//!
//! // A kernel that echoes every input to the outbox.
//! let kernel = wat::parse_str(r#"
//!   (module
//!     (import "smart_rollup_core" "read_input" (func $read (param i32 i32 i32) (result i32)))
//!     (import "smart_rollup_core" "write_output" (func $write (param i32 i32) (result i32)))
//!     (memory (export "memory") 1)
//!     (func (export "kernel_run") (local $n i32)
//!       (loop $next
//!         (local.set $n (call $read (i32.const 0) (i32.const 16) (i32.const 4096)))
//!         (if (i32.gt_s (local.get $n) (i32.const 0))
//!           (then (drop (call $write (i32.const 16) (local.get $n))) (br $next))))))
//! "#).unwrap();
//! let mut pvm = Pvm::new(&kernel, PvmConfig::default()).unwrap();
//! let report = pvm.run_level(&[b"\x01hello".to_vec()], &mut NoReveal).unwrap();
//! assert_eq!(report.status, Status::WaitingForInput);
//! // Start_of_level, Info_per_level, the message and End_of_level were all echoed.
//! assert_eq!(report.outbox.len(), 4);
//! assert_eq!(report.outbox[2], b"\x01hello");
//! ```

mod history;
pub mod kernel;
#[cfg(feature = "debugger")]
pub mod profile;
mod step;

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::abi::{
    PvmVersion, MAXIMUM_REBOOTS_PER_INPUT, METADATA_SIZE, OUTBOX_MESSAGE_LIMIT,
    OUTBOX_VALIDITY_PERIOD, TICKS_PER_SNAPSHOT,
};
use crate::durable::{Durable, DurableError, DurableValues, Key, Target};
use crate::encoding::inbox::{BlockHash, InboxMessage, InternalInboxMessage};
use crate::host::{self, HostState, HostTrap};
use crate::reveal::{Reveal, RevealRequest};
use crate::state::input_buffer::{self, Input, InputBufferError};
use crate::state::output_buffer::{self, OutputBufferError, OutputBufferInfo};
use crate::state::{
    Counters, FallbackCause, InterpreterError, Parameters, StuckError, TickState, DURABLE_PATH,
    FALLBACK_KERNEL_KEY, KERNEL_KEY, REBOOT_COUNTER_KEY, REBOOT_FLAG_KEY, STUCK_FLAG_KEY, TAG,
    TAG_SOME, TOO_MANY_REBOOT_FLAG_KEY, UPGRADE_ERROR_FLAG_KEY, VERSION_KEY,
};
use crate::tree::{Hash, Tree, TreeError};

use history::{input_kind, InputEffect, InputKind, InputRun, RecordedInput, Segment};
pub use kernel::KernelError;
pub use step::{read_memory, MemoryError, Progress};

/// Parameters fixed at origination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvmConfig {
    /// The rollup's 20-byte address (revealed by `reveal_metadata`).
    pub rollup_address: [u8; 20],
    /// The origination level (revealed by `reveal_metadata`).
    pub origination_level: u32,
    /// The inbox level [`Pvm::run_level`] uses first (the octez debugger starts at 0).
    pub first_level: u32,
    /// The PVM version at origination.
    pub version: PvmVersion,
    /// Ticks between two snapshot boundaries (protocol `ticks_per_snapshot`).
    pub ticks_per_snapshot: u128,
    /// Levels an outbox is kept.
    pub outbox_validity_period: u32,
    /// Maximum messages per outbox.
    pub outbox_message_limit: usize,
    /// A cap on the wasmi fuel of one `kernel_run`, below the one the PVM always applies:
    /// `ticks_per_snapshot` (see the module documentation, "Ticks and fuel"). Running out
    /// leaves the PVM stuck. A cap below `ticks_per_snapshot` can stop a kernel octez would
    /// run to completion; the default, `u64::MAX`, never does.
    pub fuel_per_kernel_run: u64,
    /// How many levels of per-tick states [`Pvm::state_hash_at`] keeps: the level being
    /// processed and the ones before it, at least 1 (the default). `u32::MAX` keeps every level
    /// since origination, e.g. for a refutation game's dissection over a commitment period; the
    /// memory this takes grows with the state changed per level (the states share the rest).
    pub history_levels: u32,
}

impl Default for PvmConfig {
    /// The octez debugger's conventions: zero address, origination and first level 0,
    /// `2.0.0-r5`, the protocol's tick and outbox parameters, and no fuel cap below
    /// `ticks_per_snapshot`.
    fn default() -> Self {
        PvmConfig {
            rollup_address: [0; 20],
            origination_level: 0,
            first_level: 0,
            version: PvmVersion::V5,
            ticks_per_snapshot: TICKS_PER_SNAPSHOT,
            outbox_validity_period: OUTBOX_VALIDITY_PERIOD,
            outbox_message_limit: OUTBOX_MESSAGE_LIMIT,
            fuel_per_kernel_run: u64::MAX,
            history_levels: 1,
        }
    }
}

/// What the PVM is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// It accepts inputs (between `End_of_level` of one level and `Start_of_level` of the next,
    /// or inside a level before `End_of_level`).
    WaitingForInput,
    /// Inputs are complete: the next [`Pvm::step_kernel_run`] reboots the kernel or yields.
    Evaluating,
    /// A reveal host call is suspended; see [`Pvm::pending_reveal`] and [`Pvm::resume_reveal`].
    WaitingForReveal,
    /// Stuck for good (see [`Pvm::stuck_reason`]); inputs are still counted, nothing runs.
    Stuck,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::WaitingForInput => "waiting_for_input",
            Status::Evaluating => "evaluating",
            Status::WaitingForReveal => "waiting_for_reveal",
            Status::Stuck => "stuck",
        })
    }
}

/// Why the PVM is stuck for good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StuckReason {
    /// The kernel is invalid and no different fallback kernel exists.
    #[error("invalid kernel and no fallback kernel: {0}")]
    NoFallbackKernel(KernelError),
    /// The kernel cannot be run (missing or ill-typed `kernel_run`).
    #[error("{0}")]
    InvalidKernel(KernelError),
    /// `/kernel/boot.wasm` does not exist.
    #[error("no kernel at {KERNEL_KEY}")]
    MissingKernel,
    /// `kernel_run` used up its fuel (octez: too many ticks).
    #[error("kernel_run ran out of fuel")]
    TooManyTicks,
    /// The call stack was exhausted.
    #[error("call stack exhausted")]
    StackExhausted,
    /// A host function raised an error octez does not turn into a code.
    #[error("{0}")]
    HostCrash(String),
    /// The engine failed in an unexpected way.
    #[error("engine error: {0}")]
    Engine(String),
}

impl StuckReason {
    /// The error octez stores under `/wasm` for this failure. [`StuckReason::TooManyTicks`],
    /// link errors and a missing `kernel_run` carry octez's exact error; for the others octez's
    /// text is that of an OCaml exception of its own interpreter, for which Soru's message
    /// stands in.
    pub fn octez_error(&self) -> StuckError {
        match self {
            StuckReason::TooManyTicks => StuckError::TooManyTicks,
            StuckReason::NoFallbackKernel(e) => StuckError::NoFallbackKernel(fallback_cause(e)),
            StuckReason::MissingKernel => {
                StuckError::NoFallbackKernel(FallbackCause::Decode(InterpreterError::new(
                    "Tezos_scoru_wasm.Durable.Value_not_found",
                    Some("Value not found"),
                )))
            }
            StuckReason::InvalidKernel(
                KernelError::MissingEntrypoint | KernelError::EntrypointNotAFunction,
            ) => StuckError::invalid_state(&format!(
                "Invalid_module: no `{}` function exported",
                kernel::KERNEL_ENTRYPOINT
            )),
            StuckReason::InvalidKernel(e) => {
                StuckError::Eval(InterpreterError::new(&e.to_string(), None))
            }
            StuckReason::StackExhausted => StuckError::Eval(InterpreterError::new(
                "Tezos_webassembly_interpreter.Eval.Exhaustion.Error(_, \"call stack exhausted\")",
                Some("call stack exhausted"),
            )),
            StuckReason::HostCrash(m) => StuckError::Eval(InterpreterError::new(m, None)),
            StuckReason::Engine(m) => StuckError::unknown(m),
        }
    }
}

/// The phase in which octez notices `e` (decoding, linking or initialisation) and its
/// message: octez's own text for imports, Soru's for the rest.
fn fallback_cause(e: &KernelError) -> FallbackCause {
    match e {
        KernelError::UnknownImportModule { module, .. } => FallbackCause::Link(
            StuckError::link_message(&format!("Unexpected module import: {module}")),
        ),
        KernelError::UnknownHostFunction { name, .. }
        | KernelError::NonFunctionImport { name, .. } => {
            FallbackCause::Link(StuckError::link_message(&format!(
                "Unexpected import: {}.{name}",
                crate::abi::HOST_MODULE
            )))
        }
        KernelError::DataSegmentOutOfBounds { .. }
        | KernelError::ElementSegmentOutOfBounds { .. }
        | KernelError::ImportSignature { .. }
        | KernelError::Instantiate(_) => {
            FallbackCause::Init(InterpreterError::new(&e.to_string(), None))
        }
        KernelError::MemoryNotExported => FallbackCause::Init(InterpreterError::new(
            "Tezos_webassembly_interpreter.Eval.Missing_memory_0_export",
            Some("Module must export memory 0"),
        )),
        _ => FallbackCause::Decode(InterpreterError::new(&e.to_string(), None)),
    }
}

/// Errors of the PVM API (misuse or a broken state tree); kernel failures are not errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PvmError {
    /// The kernel given at origination is invalid.
    #[error("invalid kernel: {0}")]
    InvalidKernel(#[from] KernelError),
    /// An input was given while the PVM does not accept inputs.
    #[error("the PVM does not accept inputs now (status {0})")]
    NotWaitingForInput(Status),
    /// A kernel run was asked for while the PVM waits for inputs or a reveal.
    #[error("the PVM cannot run the kernel now (status {0})")]
    NotEvaluating(Status),
    /// Reveal data was given while no reveal is pending.
    #[error("no reveal is pending")]
    NoPendingReveal,
    /// Durable storage failed (e.g. a blinded node of a proof tree was read).
    #[error("durable storage: {0}")]
    Durable(#[from] DurableError),
    /// The state tree failed.
    #[error("state tree: {0}")]
    Tree(#[from] TreeError),
    /// The output buffer in the state tree is malformed.
    #[error("output buffer: {0}")]
    OutputBuffer(#[from] OutputBufferError),
    /// The input buffer in the state tree is malformed.
    #[error("input buffer: {0}")]
    InputBuffer(#[from] InputBufferError),
    /// The tick lies inside a kernel evaluation, whose intermediate states only octez's
    /// per-instruction interpreter defines.
    #[error("tick {tick} is inside kernel_run {run} of level {level} (ticks {first}..={last}): only its first and last states are defined")]
    InsideKernelRun {
        /// The tick asked for.
        tick: u128,
        /// The inbox level of the run.
        level: u32,
        /// The run's number in its level, from 1.
        run: u32,
        /// First tick of the evaluation.
        first: u128,
        /// Last tick that may still be evaluation (the next one is the run's padding tick).
        last: u128,
    },
    /// The tick is not part of the levels the PVM keeps ([`PvmConfig::history_levels`]).
    #[error("tick {tick} is outside the ticks this PVM has recorded ({first}..={last})")]
    TickNotRecorded {
        /// The tick asked for.
        tick: u128,
        /// First recorded tick.
        first: u128,
        /// Last recorded tick.
        last: u128,
    },
    /// The engine could not be set up.
    #[error("engine setup: {0}")]
    Engine(String),
    /// A state tree given to [`Pvm::from_state`] is not one the PVM can continue from.
    #[error("cannot resume from this state: {0}")]
    NotResumable(String),
    /// The host could not allocate what the PVM guarantees every kernel (memory up to
    /// [`crate::abi::MAX_MEMORY_PAGES`], tables up to [`crate::abi::MAX_TABLE_ELEMENTS`]). The result would
    /// depend on the machine, so there is none: discard this [`Pvm`] and run it on a machine
    /// with more memory.
    #[error("the host ran out of memory allocating {0} below the PVM's guaranteed ceiling; this machine cannot compute the state")]
    HostOutOfMemory(&'static str),
}

/// How one `kernel_run` ended when it did not return: a wasm trap (the stuck flag is set and
/// the PVM goes on), or what left the PVM stuck for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFailure {
    /// Index of the run in its level (0 for the first `kernel_run`).
    pub run: u32,
    /// What happened, e.g. "wasm trap: wasm `unreachable` instruction executed" or
    /// "kernel_run ran out of fuel".
    pub reason: String,
    /// Where: the host function that was executing or had last been called, or
    /// `kernel_run` when the kernel had called none (wasmi does not report which wasm function
    /// trapped).
    pub function: String,
    /// wasmi fuel the run consumed.
    pub fuel: u64,
    /// Whether the PVM is stuck for good after it (false for a trap, after which the next level
    /// runs the kernel again).
    pub stuck: bool,
}

/// The PVM's flags in durable storage at the end of a level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// [`STUCK_FLAG_KEY`]: the last `kernel_run` trapped.
    pub stuck: bool,
    /// [`UPGRADE_ERROR_FLAG_KEY`]: an upgrade failed and the fallback kernel was restored.
    pub upgrade_error: bool,
    /// [`TOO_MANY_REBOOT_FLAG_KEY`]: the kernel asked for more reboots than a level allows.
    pub too_many_reboot: bool,
}

/// The result of one level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelReport {
    /// The inbox level.
    pub level: u32,
    /// Messages written to the outbox of this level.
    pub outbox: Vec<Vec<u8>>,
    /// Messages written with `write_debug` during this level (at most
    /// [`crate::abi::MAX_DEBUG_BYTES_PER_LEVEL`] of them).
    pub debug: Vec<Vec<u8>>,
    /// Debug bytes dropped this level because that cap was reached (0 normally).
    pub debug_dropped: u64,
    /// The state hash at the end of the level.
    pub state_hash: Hash,
    /// Total ticks since origination.
    pub ticks: u128,
    /// wasmi fuel consumed by the kernel during this level.
    pub fuel: u64,
    /// Number of `kernel_run` calls during this level.
    pub kernel_runs: u32,
    /// Status at the end of the level.
    pub status: Status,
    /// Why the PVM is stuck, when it is.
    pub stuck_reason: Option<StuckReason>,
    /// Every `kernel_run` of the level that did not return (at most one per run, so at most
    /// 1001), in order.
    pub failures: Vec<RunFailure>,
    /// The flags in durable storage at the end of the level.
    pub flags: Flags,
}

struct Suspended {
    store: wasmi::Store<HostState>,
    call: wasmi::ResumableCallHostTrap,
    request: RevealRequest,
    dst: i32,
    max_bytes: i32,
}

enum Phase {
    Collect,
    Boundary,
    Suspended(Box<Suspended>),
    /// A `kernel_run` paused between two fuel slices (see [`Pvm::step_fuel`]).
    Running(Box<step::Running>),
    Stuck(StuckReason),
}

fn key(path: &str) -> Key {
    Key::from_path(path).expect("the PVM's own keys are valid constants")
}

fn internal(message: InternalInboxMessage) -> Vec<u8> {
    InboxMessage::Internal(message).encode()
}

/// The WASM PVM. See the module documentation.
pub struct Pvm {
    config: PvmConfig,
    version: PvmVersion,
    host: Option<HostState>,
    phase: Phase,
    tick: u128,
    last_top_level_call: u128,
    reboot_counter: u32,
    next_level: u32,
    current_level: Option<u32>,
    level_fuel: u64,
    level_failures: Vec<RunFailure>,
    total_fuel: u64,
    level_runs: u32,
    last_input: Option<(u32, u32)>,
    tick_state: TickState,
    history: Vec<Segment>,
    /// Whether the next input may extend the [`Segment::Inputs`] at the end of `history`
    /// (false once the state has been changed between two inputs).
    inputs_open: bool,
    /// Index in `history` of the first segment of each level kept.
    level_starts: VecDeque<usize>,
    wasm: Wasm,
    /// The stepping API's settings for the run being started (see [`step`]).
    stepping: step::Stepping,
}

/// The wasmi engine of one PVM version, its host functions linked once, and the compiled
/// kernels (by hash of their bytes).
struct Wasm {
    engine: wasmi::Engine,
    linker: wasmi::Linker<HostState>,
    modules: BTreeMap<Hash, wasmi::Module>,
    /// Whether kernels run instrumented ([`Pvm::profiling_copy`]).
    #[cfg(feature = "debugger")]
    profiling: bool,
    /// The instrumented modules, by hash of the kernel's bytes.
    #[cfg(feature = "debugger")]
    profiled: BTreeMap<Hash, (wasmi::Module, alloc::sync::Arc<profile::Instrumentation>)>,
}

impl Wasm {
    fn new(version: PvmVersion) -> Result<Wasm, PvmError> {
        let engine = wasmi::Engine::new(&kernel::engine_config(version));
        let mut linker = wasmi::Linker::<HostState>::new(&engine);
        host::link(&mut linker, version).map_err(|e| PvmError::Engine(e.to_string()))?;
        Ok(Wasm {
            engine,
            linker,
            modules: BTreeMap::new(),
            #[cfg(feature = "debugger")]
            profiling: false,
            #[cfg(feature = "debugger")]
            profiled: BTreeMap::new(),
        })
    }
}

impl fmt::Debug for Pvm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pvm")
            .field("status", &self.status())
            .field("tick", &self.tick)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Pvm {
    /// Originates a rollup with `kernel`: validates it (see [`kernel`]), then installs it at
    /// `/kernel/boot.wasm` with the reboot flag set and the version recorded, like octez's
    /// `install_boot_sector`. The PVM then waits for the first level's inputs.
    pub fn new(kernel: &[u8], config: PvmConfig) -> Result<Pvm, PvmError> {
        kernel::validate(kernel, config.version)?;
        let mut durable = Durable::new();
        durable.set_value(&key(VERSION_KEY), config.version.as_str().as_bytes(), true)?;
        durable.set_value(&key(REBOOT_FLAG_KEY), b"", false)?;
        durable.set_value(&key(KERNEL_KEY), kernel, false)?;
        Pvm::from_durable(durable, config)
    }

    /// A PVM over existing durable storage (e.g. restored from a snapshot), waiting for inputs
    /// with fresh counters. The version is read from `/readonly/wasm_version` when present.
    pub fn from_durable(durable: Durable, config: PvmConfig) -> Result<Pvm, PvmError> {
        let validity_period = i32::try_from(config.outbox_validity_period).unwrap_or(i32::MAX);
        let mut buffers = Tree::empty();
        buffers.set_value(&TAG, TAG_SOME)?;
        input_buffer::reset(&mut buffers)?;
        output_buffer::write_info(
            &mut buffers,
            &OutputBufferInfo {
                last_level: None,
                validity_period,
                message_limit: config.outbox_message_limit as u64,
            },
        )?;
        crate::state::write_parameters(
            &mut buffers,
            &Parameters {
                ticks_per_snapshot: config.ticks_per_snapshot,
                maximum_reboots_per_input: MAXIMUM_REBOOTS_PER_INPUT,
                outbox_validity_period: validity_period,
                outbox_message_limit: config.outbox_message_limit as u64,
            },
        )?;
        let version = durable
            .read_all(&key(VERSION_KEY))?
            .and_then(|v| PvmVersion::from_bytes(&v))
            .unwrap_or(config.version);
        let host = HostState {
            durable,
            buffers,
            debug: Default::default(),
            debug_bytes: 0,
            debug_dropped: 0,
            memory: None,
            limits: host::Limiter::default(),
            last_call: None,
            fuel_reserve: 0,
            host_fuel: 0,
            #[cfg(feature = "debugger")]
            profiler: None,
        };
        Ok(Pvm {
            wasm: Wasm::new(version)?,
            next_level: config.first_level,
            config,
            version,
            host: Some(host),
            phase: Phase::Collect,
            tick: 0,
            last_top_level_call: 0,
            reboot_counter: MAXIMUM_REBOOTS_PER_INPUT + 1,
            current_level: None,
            level_fuel: 0,
            level_failures: Vec::new(),
            total_fuel: 0,
            level_runs: 0,
            last_input: None,
            tick_state: TickState::Collect,
            history: Vec::new(),
            inputs_open: false,
            level_starts: VecDeque::new(),
            stepping: step::Stepping::default(),
        })
    }

    /// A PVM continuing from `state`, a tree [`Pvm::state_tree`] wrote between two levels
    /// (waiting for inputs), e.g. loaded from a rollup node's store or a snapshot. `config`
    /// must be the rollup's: the origination parameters under `/pvm` must be the ones it gives.
    /// The PVM then writes exactly `state` again (checked), so it goes on as if it had never
    /// stopped, except that its tick history ([`Pvm::state_hash_at`]) starts afresh. A stuck
    /// state, a state inside a level or anything else is [`PvmError::NotResumable`].
    pub fn from_state(state: &Tree, config: PvmConfig) -> Result<Pvm, PvmError> {
        let not = |m: String| PvmError::NotResumable(m);
        let durable = state
            .subtree(&DURABLE_PATH)?
            .ok_or_else(|| not("it has no /durable".into()))?;
        let counters = crate::state::read_counters(state).map_err(|e| not(e.to_string()))?;
        if counters.tick_state != TickState::Collect {
            return Err(not(format!(
                "it is in tick state {:?}, not waiting for inputs",
                counters.tick_state.tag()
            )));
        }
        let unread = input_buffer::len(state)?;
        if unread != 0 {
            return Err(not(format!(
                "it is inside a level ({unread} inputs not read yet)"
            )));
        }
        let mut pvm = Pvm::from_durable(Durable::from_tree(durable), config)?;
        let mut buffers = state.clone();
        buffers.remove(&DURABLE_PATH)?;
        {
            let host = pvm.host_mut();
            for path in [
                &crate::state::MAX_NB_TICKS,
                &crate::state::MAXIMUM_REBOOTS_PER_INPUT,
                &crate::state::OUTBOX_VALIDITY_PERIOD,
                &crate::state::OUTBOX_MESSAGE_LIMIT,
            ] {
                if buffers.value(path)? != host.buffers.value(path)? {
                    return Err(not(format!(
                        "its /{} differs from the configuration's",
                        String::from_utf8_lossy(&path.join(&b"/"[..]))
                    )));
                }
            }
            host.buffers = buffers;
        }
        pvm.tick = counters.current_tick;
        pvm.last_top_level_call = counters.last_top_level_call;
        pvm.reboot_counter = counters.reboot_counter;
        pvm.last_input = counters.last_input;
        pvm.next_level = counters
            .last_input
            .map_or(pvm.config.first_level, |(level, _)| level.saturating_add(1));
        let again = pvm.state_tree()?.hash();
        if again != state.hash() {
            return Err(not(String::from(
                "the resumed PVM would write another state (it holds parts Soru does not write between levels)",
            )));
        }
        Ok(pvm)
    }

    /// The inbox level the next `Start_of_level` opens.
    pub fn next_level(&self) -> u32 {
        self.next_level
    }

    /// The configuration.
    pub fn config(&self) -> &PvmConfig {
        &self.config
    }

    /// The current PVM version.
    pub fn version(&self) -> PvmVersion {
        self.version
    }

    /// Ticks since origination.
    pub fn ticks(&self) -> u128 {
        self.tick
    }

    /// wasmi fuel consumed since origination.
    pub fn fuel(&self) -> u64 {
        self.total_fuel
    }

    /// Remaining reboots of the current level, as exposed to the kernel.
    pub fn reboot_counter(&self) -> u32 {
        self.reboot_counter
    }

    /// What the PVM waits for.
    pub fn status(&self) -> Status {
        match &self.phase {
            Phase::Collect => Status::WaitingForInput,
            Phase::Boundary | Phase::Running(_) => Status::Evaluating,
            Phase::Suspended(_) => Status::WaitingForReveal,
            Phase::Stuck(_) => Status::Stuck,
        }
    }

    /// Why the PVM is stuck, if it is.
    pub fn stuck_reason(&self) -> Option<&StuckReason> {
        match &self.phase {
            Phase::Stuck(r) => Some(r),
            _ => None,
        }
    }

    /// The suspended reveal request, if any.
    pub fn pending_reveal(&self) -> Option<&RevealRequest> {
        match &self.phase {
            Phase::Suspended(s) => Some(&s.request),
            _ => None,
        }
    }

    fn host_ref(&self) -> &HostState {
        match (&self.host, &self.phase) {
            (Some(h), _) => h,
            (None, Phase::Suspended(s)) => s.store.data(),
            (None, Phase::Running(r)) => r.store.data(),
            // The host state is always either owned or inside the suspended store.
            (None, _) => unreachable!("host state lost"),
        }
    }

    fn host_mut(&mut self) -> &mut HostState {
        match (&mut self.host, &mut self.phase) {
            (Some(h), _) => h,
            (None, Phase::Suspended(s)) => s.store.data_mut(),
            (None, Phase::Running(r)) => r.store.data_mut(),
            (None, _) => unreachable!("host state lost"),
        }
    }

    /// Durable storage.
    pub fn durable(&self) -> &Durable {
        &self.host_ref().durable
    }

    /// Every durable value as `(key, bytes)`.
    pub fn durable_values(&self) -> DurableValues<'_> {
        self.durable().values()
    }

    /// Messages of the outbox of `level` (empty if the level is outside the validity window
    /// or has no messages).
    pub fn outbox(&self, level: u32) -> Result<Vec<Vec<u8>>, PvmError> {
        Ok(output_buffer::read_outbox(&self.host_ref().buffers, level)?)
    }

    /// Debug messages written since the current level started.
    pub fn debug_messages(&self) -> &[Vec<u8>] {
        &self.host_ref().debug
    }

    /// The whole state tree in octez's layout (see [`crate::state`]): durable storage, the
    /// input and output buffers, the origination parameters and the tick counters.
    pub fn state_tree(&self) -> Result<Tree, PvmError> {
        let host = self.host_ref();
        history::compose(&host.buffers, &host.durable, &self.counters())
    }

    fn counters(&self) -> Counters {
        Counters {
            current_tick: self.tick,
            last_top_level_call: self.last_top_level_call,
            reboot_counter: self.reboot_counter,
            last_input: self.last_input,
            tick_state: self.tick_state.clone(),
        }
    }

    /// The state hash (root hash of [`Pvm::state_tree`]): octez's at every snapshot, collect
    /// and padding tick (see [`Pvm::state_hash_at`]); while a reveal is pending, the hash of
    /// the state the evaluation has reached, which octez does not define the same way.
    pub fn state_hash(&self) -> Result<Hash, PvmError> {
        Ok(self.state_tree()?.hash())
    }

    /// The state hash at `tick` of the levels kept ([`PvmConfig::history_levels`]: by default
    /// the level the PVM last processed, from its first input to now): at an input tick, at the
    /// padding ticks after `End_of_level`, at each snapshot boundary, at the last tick of each
    /// `kernel_run` (the run's padding tick), at a stuck state's tick and at the final collect
    /// tick. These are octez's hashes. A tick strictly between a snapshot and the last tick of
    /// its `kernel_run` is [`PvmError::InsideKernelRun`]: octez evaluates the kernel there one
    /// interpreter step per tick, Soru in one go. A tick of a level no longer kept, or not
    /// reached yet, is [`PvmError::TickNotRecorded`].
    pub fn state_hash_at(&self, tick: u128) -> Result<Hash, PvmError> {
        match self.segment(tick)? {
            Segment::State { tree, .. } => hash_with_tick(tree, tick),
            Segment::Inputs(run) => Ok(run.tree_at(tick)?.hash()),
            Segment::KernelRun {
                first,
                last,
                level,
                run,
                ..
            } => Err(PvmError::InsideKernelRun {
                tick,
                level: *level,
                run: *run,
                first: *first,
                last: *last,
            }),
        }
    }

    /// Like [`Pvm::state_hash_at`], but a tick inside a `kernel_run` gets the hash of the run's
    /// resulting state at that tick: octez's hash *if* octez's interpreter had finished the run
    /// by then (the tick is a padding tick). Soru does not count interpreter ticks, so which
    /// ticks of a run are padding is for the caller to know (e.g. from octez's proof sizes).
    pub fn padding_state_hash_at(&self, tick: u128) -> Result<Hash, PvmError> {
        match self.segment(tick)? {
            Segment::State { tree, .. } | Segment::KernelRun { post: tree, .. } => {
                hash_with_tick(tree, tick)
            }
            Segment::Inputs(run) => Ok(run.tree_at(tick)?.hash()),
        }
    }

    fn segment(&self, tick: u128) -> Result<&Segment, PvmError> {
        let range = Segment::range;
        // Segments are in tick order and do not overlap.
        let i = self.history.partition_point(|s| range(s).1 < tick);
        let found = self.history.get(i).filter(|s| range(s).0 <= tick);
        found.ok_or_else(|| PvmError::TickNotRecorded {
            tick,
            first: self.history.first().map_or(self.tick, |s| range(s).0),
            last: self.history.last().map_or(self.tick, |s| range(s).1),
        })
    }

    /// A level starts: forgets the levels beyond [`PvmConfig::history_levels`].
    fn start_history_level(&mut self) {
        self.level_starts.push_back(self.history.len());
        let keep = self.config.history_levels.max(1) as usize;
        while self.level_starts.len() > keep {
            self.level_starts.pop_front();
            let cut = self.level_starts.front().copied().unwrap_or(0);
            self.history.drain(..cut);
            for start in &mut self.level_starts {
                *start -= cut;
            }
        }
    }

    /// Records the current state for the ticks `first..=last`.
    fn record(&mut self, first: u128, last: u128) -> Result<(), PvmError> {
        if first > last {
            return Ok(());
        }
        let tree = self.state_tree()?;
        self.history.push(Segment::State { first, last, tree });
        Ok(())
    }

    /// Sets a durable value before or between levels, like the octez debugger's installer
    /// configuration (`/readonly` keys included). Only while the PVM waits for inputs.
    pub fn set_durable_value(&mut self, path: &str, value: &[u8]) -> Result<(), PvmError> {
        if !matches!(self.phase, Phase::Collect) {
            return Err(PvmError::NotWaitingForInput(self.status()));
        }
        let k = Key::from_path(path)?;
        self.host_mut().durable.set_value(&k, value, true)?;
        // The inputs recorded so far are replayed from the state before them.
        self.inputs_open = false;
        Ok(())
    }

    /// Adds one input (a serialized inbox message) at `level` with index `counter`: one tick.
    /// A stuck PVM counts the tick and ignores the input.
    pub fn step_input(&mut self, level: u32, counter: u32, payload: &[u8]) -> Result<(), PvmError> {
        let kind = input_kind(payload);
        match self.phase {
            Phase::Collect | Phase::Stuck(_) => {}
            _ => return Err(PvmError::NotWaitingForInput(self.status())),
        }
        self.tick += 1;
        self.last_input = Some((level, counter));
        if let InputKind::StartOfLevel = kind {
            // Soru's per-level report bookkeeping (not part of the state).
            self.current_level = Some(level);
            self.level_fuel = 0;
            self.level_failures.clear();
            self.level_runs = 0;
            self.start_history_level();
            let host = self.host_mut();
            // A fresh list, not a cleared one: a fork of the PVM may still share the old one.
            host.debug = Default::default();
            host.debug_bytes = 0;
            host.debug_dropped = 0;
        }
        let input = Input {
            level,
            counter,
            payload: payload.to_vec(),
        };
        let applied = !matches!(self.phase, Phase::Stuck(_));
        self.open_input_run();
        if applied {
            let host = self.host_mut();
            let effect = history::apply_input(&mut host.buffers, &mut host.durable, &input, &kind)?;
            match effect {
                InputEffect::None => {}
                InputEffect::EndOfLevel => {
                    self.phase = Phase::Boundary;
                    self.tick_state = TickState::Padding;
                }
                InputEffect::Migration(v) => {
                    if v == PvmVersion::V4 {
                        // octez `apply_migration`: 2.0.0-r4 restores the protocol's
                        // ticks_per_snapshot (the outbox validity period is in the state).
                        self.config.ticks_per_snapshot = TICKS_PER_SNAPSHOT;
                    }
                    if v != self.version {
                        self.set_version(v)?;
                    }
                }
            }
        }
        let tick_state = self.tick_state.clone();
        if let Some(Segment::Inputs(run)) = self.history.last_mut() {
            run.inputs.push(RecordedInput {
                input,
                applied,
                tick_state,
            });
        }
        Ok(())
    }

    /// Makes sure the end of `history` is an input run the input at the current tick extends:
    /// a new one starts from the state before this input.
    fn open_input_run(&mut self) {
        let tick = self.tick;
        if self.inputs_open {
            if let Some(Segment::Inputs(run)) = self.history.last() {
                if run.continues_at(tick) {
                    return;
                }
            }
        }
        let host = self.host_ref();
        let run = InputRun {
            first: tick,
            buffers: host.buffers.clone(),
            durable: host.durable.clone(),
            last_top_level_call: self.last_top_level_call,
            reboot_counter: self.reboot_counter,
            inputs: Vec::new(),
        };
        self.history.push(Segment::Inputs(Box::new(run)));
        self.inputs_open = true;
    }

    fn set_version(&mut self, version: PvmVersion) -> Result<(), PvmError> {
        self.wasm = Wasm::new(version)?;
        self.version = version;
        Ok(())
    }

    /// One top-level step from a snapshot boundary: either reboots the kernel and runs
    /// `kernel_run` (until it returns, traps or suspends on a reveal), or yields and waits for
    /// the next level's inputs. Returns the status afterwards.
    pub fn step_kernel_run(&mut self, reveal: &mut dyn Reveal) -> Result<Status, PvmError> {
        if !matches!(self.phase, Phase::Boundary) {
            return Err(PvmError::NotEvaluating(self.status()));
        }
        let boundary = self.last_top_level_call + self.config.ticks_per_snapshot;
        // The padding ticks up to the boundary repeat the current state.
        self.record(self.tick + 1, boundary.saturating_sub(1))?;
        self.tick = boundary;
        self.last_top_level_call = boundary;
        let durable = &mut self.host_mut().durable;
        let reboot = durable.has_value(&key(REBOOT_FLAG_KEY))?;
        let counter = self.reboot_counter;
        if reboot && counter > 0 {
            self.reboot_counter -= 1;
            let n = self.reboot_counter;
            let durable = &mut self.host_mut().durable;
            durable.delete(&key(REBOOT_FLAG_KEY), Target::Directory, true)?;
            write_counter(durable, n)?;
            self.tick_state = TickState::Snapshot;
            self.record(boundary, boundary)?;
            self.run_kernel(reveal)?;
            self.end_run()?;
        } else {
            let durable = &mut self.host_mut().durable;
            if reboot {
                durable.write_value(&key(TOO_MANY_REBOOT_FLAG_KEY), 0, b"", true)?;
            } else {
                durable.delete(&key(TOO_MANY_REBOOT_FLAG_KEY), Target::Directory, true)?;
            }
            durable.write_value(&key(REBOOT_FLAG_KEY), 0, b"", false)?;
            let n = MAXIMUM_REBOOTS_PER_INPUT + 1;
            write_counter(durable, n)?;
            self.reboot_counter = n;
            input_buffer::reset(&mut self.host_mut().buffers)?;
            self.phase = Phase::Collect;
            self.tick_state = TickState::Collect;
            self.record(boundary, boundary)?;
        }
        Ok(self.status())
    }

    /// After a `kernel_run` returned or trapped (or the kernel was replaced by the fallback),
    /// octez pads to the last tick before the next boundary: the PVM moves there.
    fn end_run(&mut self) -> Result<(), PvmError> {
        match self.phase {
            Phase::Boundary => {}
            Phase::Stuck(_) => return self.record_stuck(),
            _ => return Ok(()),
        }
        let start = self.last_top_level_call;
        let padding = (start + self.config.ticks_per_snapshot)
            .saturating_sub(1)
            .max(start);
        self.tick = padding;
        self.tick_state = TickState::Padding;
        let post = self.state_tree()?;
        if padding > start + 1 {
            self.history.push(Segment::KernelRun {
                first: start + 1,
                last: padding - 1,
                level: self.current_level.unwrap_or(self.next_level),
                run: self.level_runs,
                post: post.clone(),
            });
        }
        self.history.push(Segment::State {
            first: padding,
            last: padding,
            tree: post,
        });
        Ok(())
    }

    /// The run that started at the last snapshot left the PVM stuck: octez's stuck state,
    /// `/wasm/tag` `stuck` with the error at `/wasm/value`, the reboot counter reset (octez's
    /// `Failing` status) and `last_top_level_call` kept. Running out of fuel is octez's
    /// `Too_many_ticks`, which octez raises at the tick `ticks_per_snapshot` after the snapshot;
    /// Soru puts every other stuck state at the tick after the snapshot, where octez puts it
    /// after its interpreter's decoding, linking, initialisation and evaluation steps.
    fn record_stuck(&mut self) -> Result<(), PvmError> {
        let Phase::Stuck(reason) = &self.phase else {
            return Ok(());
        };
        let error = reason.octez_error();
        let start = self.last_top_level_call;
        let tick = if error == StuckError::TooManyTicks {
            start + self.config.ticks_per_snapshot.max(1)
        } else {
            start + 1
        };
        self.tick = tick;
        self.tick_state = TickState::Stuck(error);
        self.reboot_counter = MAXIMUM_REBOOTS_PER_INPUT + 1;
        let post = self.state_tree()?;
        if tick > start + 1 {
            self.history.push(Segment::KernelRun {
                first: start + 1,
                last: tick - 1,
                level: self.current_level.unwrap_or(self.next_level),
                run: self.level_runs,
                post: post.clone(),
            });
        }
        self.history.push(Segment::State {
            first: tick,
            last: tick,
            tree: post,
        });
        Ok(())
    }

    /// Restores the fallback kernel after a recoverable failure, or gets stuck without one.
    fn fallback_or_stuck(&mut self, error: KernelError) -> Result<(), PvmError> {
        self.fallback_or(StuckReason::NoFallbackKernel(error))
    }

    /// Restores the fallback kernel if there is one different from the kernel, or gets stuck
    /// with `reason`.
    fn fallback_or(&mut self, reason: StuckReason) -> Result<(), PvmError> {
        let durable = &mut self.host_mut().durable;
        let kernel_hash = durable.hash(&key(KERNEL_KEY), Target::Value)?;
        let fallback_hash = durable.hash(&key(FALLBACK_KERNEL_KEY), Target::Value)?;
        if fallback_hash.is_some() && fallback_hash != kernel_hash {
            durable.copy_tree(&key(FALLBACK_KERNEL_KEY), &key(KERNEL_KEY), false)?;
            durable.write_value(&key(UPGRADE_ERROR_FLAG_KEY), 0, b"", true)?;
            self.phase = Phase::Boundary;
        } else {
            self.phase = Phase::Stuck(reason);
        }
        Ok(())
    }

    fn compile(&mut self, kernel: &[u8], hash: Hash) -> Result<wasmi::Module, KernelError> {
        kernel::validate(kernel, self.version)?;
        let module = wasmi::Module::new(&self.wasm.engine, kernel)
            .map_err(|e| KernelError::Compile(e.to_string()))?;
        // Keep a small cache: kernels rarely change.
        if self.wasm.modules.len() >= 4 {
            self.wasm.modules.clear();
        }
        self.wasm.modules.insert(hash, module.clone());
        Ok(module)
    }

    fn run_kernel(&mut self, reveal: &mut dyn Reveal) -> Result<(), PvmError> {
        self.level_runs += 1;
        let durable = &self.host_ref().durable;
        // The kernel's hash names its compiled module: its bytes are read only on a miss.
        let Some(hash) = durable.hash(&key(KERNEL_KEY), Target::Value)? else {
            // octez fails to decode the missing kernel and restores the fallback, if any.
            return self.fallback_or(StuckReason::MissingKernel);
        };
        let cached = self.wasm.modules.get(&hash).cloned();
        let compiled = match cached {
            Some(m) => Ok(m),
            #[cfg(feature = "debugger")]
            None if self.wasm.profiling => {
                let kernel_bytes = durable.read_all(&key(KERNEL_KEY))?.unwrap_or_default();
                kernel::validate(&kernel_bytes, self.version)
                    .and_then(|()| self.profiled_module(&kernel_bytes, hash))
            }
            None => {
                let kernel_bytes = durable.read_all(&key(KERNEL_KEY))?.unwrap_or_default();
                self.compile(&kernel_bytes, hash)
            }
        };
        let module = match compiled {
            Ok(m) => m,
            Err(e) if e.is_recoverable() => return self.fallback_or_stuck(e),
            Err(e) => {
                if matches!(e, KernelError::EntrypointSignature { .. }) {
                    // Octez only notices the bad signature when calling it, after initialisation
                    // saved the kernel as fallback.
                    save_fallback_kernel(&mut self.host_mut().durable)?;
                }
                self.phase = Phase::Stuck(StuckReason::InvalidKernel(e));
                return Ok(());
            }
        };
        let host = self
            .host
            .take()
            .ok_or(PvmError::Engine("host state lost".into()))?;
        let mut host = host;
        host.limits = host::Limiter::default();
        host.last_call = None;
        let mut store = wasmi::Store::new(&self.wasm.engine, host);
        store.limiter(|h| &mut h.limits);
        let instance = match self.wasm.linker.instantiate_and_start(&mut store, &module) {
            Ok(i) => i,
            Err(e) => {
                let oom = store.data().limits.host_out_of_memory;
                self.host = Some(store.into_data());
                if let Some(what) = oom {
                    return Err(PvmError::HostOutOfMemory(what));
                }
                return self.fallback_or_stuck(KernelError::Instantiate(e.to_string()));
            }
        };
        let (Some(memory), Some(run)) = (
            instance.exports(&store).find_map(|e| e.into_memory()),
            instance.get_func(&store, kernel::KERNEL_ENTRYPOINT),
        ) else {
            self.host = Some(store.into_data());
            self.phase = Phase::Stuck(StuckReason::InvalidKernel(KernelError::MissingEntrypoint));
            return Ok(());
        };
        store.data_mut().memory = Some(memory);
        if let Err(e) = save_fallback_kernel(&mut store.data_mut().durable) {
            self.host = Some(store.into_data());
            return Err(e.into());
        }
        store.data_mut().limits.start_metering();
        let budget = self.fuel_budget();
        let first = budget.min(self.stepping.slice.unwrap_or(u64::MAX));
        store.data_mut().fuel_reserve = budget - first;
        store
            .set_fuel(first)
            .map_err(|e| PvmError::Engine(e.to_string()))?;
        #[cfg(feature = "debugger")]
        self.start_profiled_run(&mut store, hash, budget);
        let result = run.call_resumable(&mut store, &[], &mut []);
        self.handle_call(store, result, reveal)
    }

    fn handle_call(
        &mut self,
        mut store: wasmi::Store<HostState>,
        mut result: Result<wasmi::ResumableCall, wasmi::Error>,
        reveal: &mut dyn Reveal,
    ) -> Result<(), PvmError> {
        loop {
            match result {
                Ok(wasmi::ResumableCall::HostTrap(call)) => {
                    let trap = call.host_error().downcast_ref::<HostTrap>().cloned();
                    match trap {
                        Some(HostTrap::Reveal {
                            request,
                            dst,
                            max_bytes,
                        }) => {
                            let answer = match &request {
                                RevealRequest::Metadata => Some(self.metadata().to_vec()),
                                other => reveal.reveal(other),
                            };
                            match answer {
                                Some(data) => {
                                    let r = complete_reveal(&mut store, &data, dst, max_bytes);
                                    match r {
                                        Ok(n) => {
                                            result = call.resume(
                                                &mut store,
                                                &[wasmi::Val::I32(n)],
                                                &mut [],
                                            );
                                        }
                                        Err(t) => return self.finish_trapped(store, t),
                                    }
                                }
                                None => {
                                    self.host = None;
                                    self.phase = Phase::Suspended(Box::new(Suspended {
                                        store,
                                        call,
                                        request,
                                        dst,
                                        max_bytes,
                                    }));
                                    return Ok(());
                                }
                            }
                        }
                        Some(t) => return self.finish_trapped(store, t),
                        None => {
                            let msg = call.host_error().to_string();
                            return self.finish_stuck(store, StuckReason::Engine(msg));
                        }
                    }
                }
                Ok(wasmi::ResumableCall::OutOfFuel(call)) => {
                    // Give back what wasmi charged for growing memory and tables (octez
                    // charges the instruction only) and go on; or the end of a fuel slice, not
                    // of the run's budget (see `step`); or stop: too many ticks.
                    let limits = &mut store.data_mut().limits;
                    let refund = limits
                        .take_grow_fuel()
                        .saturating_add(limits.take_grow_advance());
                    if refund > 0 {
                        let left = store.get_fuel().unwrap_or(0);
                        store
                            .set_fuel(left.saturating_add(refund))
                            .map_err(|e| PvmError::Engine(e.to_string()))?;
                        result = call.resume(&mut store, &mut []);
                        continue;
                    }
                    if store.data().fuel_reserve > 0 {
                        self.phase = Phase::Running(Box::new(step::Running { store, call }));
                        return Ok(());
                    }
                    return self.finish_stuck(store, StuckReason::TooManyTicks);
                }
                Ok(wasmi::ResumableCall::Finished) => {
                    self.account_fuel(&mut store);
                    self.stepping.keep_memory(&store);
                    let mut host = store.into_data();
                    host.memory = None;
                    host.durable
                        .delete(&key(STUCK_FLAG_KEY), Target::Directory, true)?;
                    host.durable
                        .delete(&key(UPGRADE_ERROR_FLAG_KEY), Target::Directory, true)?;
                    self.host = Some(host);
                    self.phase = Phase::Boundary;
                    return Ok(());
                }
                Err(e) => {
                    if let Some(what) = store.data().limits.host_out_of_memory {
                        let mut host = store.into_data();
                        host.memory = None;
                        self.host = Some(host);
                        return Err(PvmError::HostOutOfMemory(what));
                    }
                    if let Some(t) = e.downcast_ref::<HostTrap>().cloned() {
                        return self.finish_trapped(store, t);
                    }
                    match e.as_trap_code() {
                        Some(wasmi::TrapCode::OutOfFuel) => {
                            return self.finish_stuck(store, StuckReason::TooManyTicks)
                        }
                        Some(wasmi::TrapCode::StackOverflow) => {
                            return self.finish_stuck(store, StuckReason::StackExhausted)
                        }
                        Some(code) => {
                            // A wasm trap: set the stuck flag and continue at the next boundary.
                            let fuel = self.account_fuel(&mut store);
                            self.stepping.keep_memory(&store);
                            self.record_failure(&store, format!("wasm trap: {code}"), fuel, false);
                            let mut host = store.into_data();
                            host.memory = None;
                            host.durable
                                .write_value(&key(STUCK_FLAG_KEY), 0, b"", true)?;
                            self.host = Some(host);
                            self.phase = Phase::Boundary;
                            return Ok(());
                        }
                        None => {
                            return self.finish_stuck(store, StuckReason::Engine(e.to_string()))
                        }
                    }
                }
            }
        }
    }

    /// The fuel of one `kernel_run`: `ticks_per_snapshot`, or the configured cap if lower.
    fn fuel_budget(&self) -> u64 {
        let ticks = u64::try_from(self.config.ticks_per_snapshot).unwrap_or(u64::MAX);
        ticks.min(self.config.fuel_per_kernel_run)
    }

    /// Adds the fuel the run in `store` consumed to the level's and the total; returns it.
    fn account_fuel(&mut self, store: &mut wasmi::Store<HostState>) -> u64 {
        let left = store.get_fuel().unwrap_or(0);
        let left = left.saturating_add(store.data().fuel_reserve);
        let given = self
            .fuel_budget()
            .saturating_add(store.data().limits.refunded);
        let used = given.saturating_sub(left);
        self.level_fuel = self.level_fuel.saturating_add(used);
        self.total_fuel = self.total_fuel.saturating_add(used);
        #[cfg(feature = "debugger")]
        profile::close_run(store, used);
        used
    }

    fn record_failure(
        &mut self,
        store: &wasmi::Store<HostState>,
        reason: String,
        fuel: u64,
        stuck: bool,
    ) {
        let function = store
            .data()
            .last_call
            .map_or(kernel::KERNEL_ENTRYPOINT, |f| f.name());
        self.level_failures.push(RunFailure {
            run: self.level_runs.saturating_sub(1),
            reason,
            function: function.into(),
            fuel,
            stuck,
        });
    }

    fn finish_trapped(
        &mut self,
        store: wasmi::Store<HostState>,
        trap: HostTrap,
    ) -> Result<(), PvmError> {
        match trap {
            HostTrap::Tree(error) => {
                let mut host = store.into_data();
                host.memory = None;
                self.host = Some(host);
                Err(PvmError::Tree(error))
            }
            HostTrap::Crash(msg) => self.finish_stuck(store, StuckReason::HostCrash(msg)),
            HostTrap::OutOfFuel => self.finish_stuck(store, StuckReason::TooManyTicks),
            HostTrap::Reveal { .. } => self.finish_stuck(
                store,
                StuckReason::Engine("unexpected reveal request".into()),
            ),
        }
    }

    fn finish_stuck(
        &mut self,
        mut store: wasmi::Store<HostState>,
        reason: StuckReason,
    ) -> Result<(), PvmError> {
        let fuel = self.account_fuel(&mut store);
        self.record_failure(&store, reason.to_string(), fuel, true);
        let mut host = store.into_data();
        host.memory = None;
        self.host = Some(host);
        self.phase = Phase::Stuck(reason);
        Ok(())
    }

    fn metadata(&self) -> [u8; METADATA_SIZE] {
        let mut m = [0u8; METADATA_SIZE];
        m[..20].copy_from_slice(&self.config.rollup_address);
        m[20..].copy_from_slice(&(self.config.origination_level as i32).to_be_bytes());
        m
    }

    /// Supplies the bytes of the pending reveal and continues the suspended `kernel_run` until
    /// it returns, traps or suspends again. Call [`Pvm::finish_level`] afterwards to complete the
    /// level (further reboots) and [`Pvm::report`] for its report.
    pub fn resume_reveal(
        &mut self,
        data: &[u8],
        reveal: &mut dyn Reveal,
    ) -> Result<Status, PvmError> {
        let phase = core::mem::replace(&mut self.phase, Phase::Boundary);
        let Phase::Suspended(s) = phase else {
            self.phase = phase;
            return Err(PvmError::NoPendingReveal);
        };
        let Suspended {
            mut store,
            call,
            dst,
            max_bytes,
            ..
        } = *s;
        match complete_reveal(&mut store, data, dst, max_bytes) {
            Ok(n) => {
                let result = call.resume(&mut store, &[wasmi::Val::I32(n)], &mut []);
                self.handle_call(store, result, reveal)?;
            }
            Err(t) => self.finish_trapped(store, t)?,
        }
        self.end_run()?;
        Ok(self.status())
    }

    /// Feeds a whole level: `Start_of_level`, `Info_per_level(timestamp, predecessor)`, the
    /// `messages` (serialized inbox messages) and `End_of_level`, then runs the kernel until it
    /// yields (or suspends on a reveal, or gets stuck).
    pub fn step_level(
        &mut self,
        level: u32,
        timestamp: i64,
        predecessor: &[u8; 32],
        messages: &[Vec<u8>],
        reveal: &mut dyn Reveal,
    ) -> Result<Status, PvmError> {
        let mut counter = 0u32;
        let mut feed = |pvm: &mut Pvm, payload: &[u8]| -> Result<(), PvmError> {
            pvm.step_input(level, counter, payload)?;
            counter += 1;
            Ok(())
        };
        feed(self, &internal(InternalInboxMessage::StartOfLevel))?;
        feed(
            self,
            &internal(InternalInboxMessage::InfoPerLevel {
                predecessor_timestamp: timestamp,
                predecessor: BlockHash(*predecessor),
            }),
        )?;
        for m in messages {
            feed(self, m)?;
        }
        feed(self, &internal(InternalInboxMessage::EndOfLevel))?;
        self.next_level = level.wrapping_add(1);
        self.finish_level(reveal)
    }

    /// Runs the kernel from the current boundary (or does nothing if the PVM is not evaluating)
    /// until it yields, suspends on a reveal or gets stuck.
    pub fn finish_level(&mut self, reveal: &mut dyn Reveal) -> Result<Status, PvmError> {
        loop {
            if matches!(self.phase, Phase::Boundary) {
                self.step_kernel_run(reveal)?;
            } else if self.in_kernel_run() {
                // A run paused by the stepping API goes on with the rest of its budget.
                self.step_fuel(u64::MAX, reveal)?;
            } else {
                break;
            }
        }
        Ok(self.status())
    }

    /// Runs one level with the octez debugger's conventions (level numbers from
    /// [`PvmConfig::first_level`], timestamp 0, zero predecessor hash) and reports it.
    pub fn run_level(
        &mut self,
        messages: &[Vec<u8>],
        reveal: &mut dyn Reveal,
    ) -> Result<LevelReport, PvmError> {
        let level = self.next_level;
        self.step_level(level, 0, &[0; 32], messages, reveal)?;
        self.report()
    }

    /// The level being processed, or the next one between levels (as [`LevelReport::level`]).
    pub fn level(&self) -> u32 {
        self.current_level.unwrap_or(self.next_level)
    }

    /// The `kernel_run`s of the current level that did not return, so far (as in
    /// [`LevelReport::failures`], without building a report).
    pub fn failures(&self) -> &[RunFailure] {
        &self.level_failures
    }

    /// The report of the current level so far.
    pub fn report(&self) -> Result<LevelReport, PvmError> {
        let level = self.level();
        let host = self.host_ref();
        let mut buffers = host.buffers.clone();
        let outbox = match output_buffer::read_info(&mut buffers)?.last_level {
            Some(l) => self.outbox(u32::try_from(l).unwrap_or(0))?,
            None => Vec::new(),
        };
        Ok(LevelReport {
            level,
            outbox,
            debug: host.debug.to_vec(),
            debug_dropped: host.debug_dropped,
            state_hash: self.state_hash()?,
            ticks: self.tick,
            fuel: self.level_fuel,
            kernel_runs: self.level_runs,
            status: self.status(),
            stuck_reason: self.stuck_reason().cloned(),
            failures: self.level_failures.clone(),
            flags: Flags {
                stuck: host.durable.has_value(&key(STUCK_FLAG_KEY))?,
                upgrade_error: host.durable.has_value(&key(UPGRADE_ERROR_FLAG_KEY))?,
                too_many_reboot: host.durable.has_value(&key(TOO_MANY_REBOOT_FLAG_KEY))?,
            },
        })
    }
}

fn hash_with_tick(tree: &Tree, tick: u128) -> Result<Hash, PvmError> {
    let mut t = tree.clone();
    crate::state::set_current_tick(&mut t, tick)?;
    Ok(t.hash())
}

fn write_counter(durable: &mut Durable, n: u32) -> Result<(), DurableError> {
    let k = key(REBOOT_COUNTER_KEY);
    durable.delete(&k, Target::Directory, true)?;
    durable.write_value(&k, 0, &(n as i32).to_le_bytes(), true)
}

fn complete_reveal(
    store: &mut wasmi::Store<HostState>,
    data: &[u8],
    dst: i32,
    max_bytes: i32,
) -> Result<i32, HostTrap> {
    let memory = store
        .data()
        .memory
        .ok_or_else(|| HostTrap::Crash("no memory for the reveal".into()))?;
    let mem = memory.data_mut(&mut *store);
    let n = host::finish_reveal(mem, data, dst, max_bytes)?;
    // octez's reveal tick and its ticks per byte written, counted once the bytes are in.
    let cost = crate::abi::reveal_fuel(n);
    let mut left = store.get_fuel().unwrap_or(0);
    if left < cost && store.data().fuel_reserve > 0 {
        // A fuel slice ends in the reveal: draw on the run's reserve, as `host::charge` does,
        // so a stepped run charges exactly what an unstepped one does.
        let reserve = store.data().fuel_reserve;
        let take = (cost - left).min(reserve);
        store.data_mut().fuel_reserve = reserve - take;
        left += take;
    }
    if left < cost {
        left = left.saturating_add(store.data_mut().limits.take_grow_fuel());
    }
    if left < cost {
        let _ = store.set_fuel(0);
        return Err(HostTrap::OutOfFuel);
    }
    let _ = store.set_fuel(left - cost);
    let data = store.data_mut();
    data.host_fuel = data.host_fuel.saturating_add(cost);
    Ok(n)
}

/// Octez `save_fallback_kernel`: the kernel that initialised becomes the fallback.
fn save_fallback_kernel(durable: &mut Durable) -> Result<(), DurableError> {
    let kernel_hash = durable.hash(&key(KERNEL_KEY), Target::Value)?;
    let fallback_hash = durable.hash(&key(FALLBACK_KERNEL_KEY), Target::Value)?;
    if kernel_hash != fallback_hash {
        durable.copy_tree(&key(KERNEL_KEY), &key(FALLBACK_KERNEL_KEY), true)?;
    }
    Ok(())
}
