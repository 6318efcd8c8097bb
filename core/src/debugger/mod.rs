//! The kernel debugger's session: octez's `octez-smart-rollup-wasm-debugger` commands and
//! wording over Soru's PVM, pure and `no_std`, shared by `soru debug` (a terminal REPL) and the
//! playground.
//!
//! A [`Session`] holds a [`Pvm`], the inboxes still to load and the breakpoints. A shell feeds
//! it command lines ([`Session::execute`]) and prints the [`Reply`]'s text; it supplies
//! preimages through the [`Reveal`] it passes in. When the kernel waits for a preimage the
//! shell cannot find, the reply asks for it ([`Outcome::NeedsPreimage`]) and the shell, like
//! octez, prompts the user for its hex and hands it to [`Session::provide_preimage`], which
//! continues the interrupted step. [`Session::complete`] gives completion candidates for
//! commands and durable paths.
//!
//! Commands (see [`command::HELP`]): `load inputs`; `step tick|result|kernel_run|inbox`;
//! `show status|inbox|durable storage|state hash|ticks|debug log|breakpoints`, `show outbox at
//! level <l>`, `show subkeys [<path>]` (`ls`), `show key <k> [as hex|string|u16|i32|i64|u128|
//! u256]` (raw hex by default), `show memory at <p> for <n> bytes [as string]`; `dump function
//! symbols`; `reveal preimage [<hex>]`, `reveal metadata`; `break on write <path>|output|reboot`,
//! `delete breakpoints`; `profile [--collapsed] [--without-time] [--no-reboot]` (see
//! [`profile`]); `help`; `stop`. The shell handles `time <command>` (there are no clocks
//! here; the shell gives `profile` one with [`Session::set_clock`]).
//!
//! Long steps check an interrupt flag ([`Session::set_interrupt`], the shell's Ctrl-C) at the
//! end of every fuel slice: the step stops there, says so, and the session goes on.
//!
//! `step tick` is Soru's smallest step: one input of the inbox being loaded, or one fuel slice
//! of `kernel_run` ([`SessionConfig::fuel_slice`], see [`Pvm::step_fuel`]). Ticks follow the
//! PVM's model (one per input, `ticks_per_snapshot` per `kernel_run`), so `Evaluation took N
//! ticks so far` counts the ticks the command moved the PVM by, and a fuel slice inside a run
//! moves it by none. Breakpoints are checked at the end of every fuel slice.
//!
//! ```
//! use soru_core::debugger::{Session, SessionConfig};
//! use soru_core::pvm::{Pvm, PvmConfig};
//! use soru_core::reveal::NoReveal;
//!
//! let kernel = wat::parse_str(r#"(module (memory (export "memory") 1)
//!     (func (export "kernel_run")))"#).unwrap();
//! let pvm = Pvm::new(&kernel, PvmConfig::default()).unwrap();
//! let mut session = Session::new(pvm, vec![vec![b"\x01hi".to_vec()]], SessionConfig::default());
//! let reply = session.execute("step inbox", &mut NoReveal);
//! assert!(reply.output.ends_with("Status: Waiting for input\nInternal_status: Collect\n"));
//! assert_eq!(session.execute("show key /nothing", &mut NoReveal).output, "Key not found\n");
//! ```

pub mod command;
pub mod profile;
pub mod trap;

use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::commitment::StateHash;
use crate::durable::{Key, Target};
use crate::encoding::inbox::{timestamp_to_json, BlockHash, InboxMessage, InternalInboxMessage};
use crate::encoding::outbox::OutboxMessage;
use crate::pvm::{read_memory, Progress, Pvm, PvmError, Status, StuckReason};
use crate::reveal::{preimage_hash, Reveal, RevealRequest};
use crate::state::{output_buffer, TickState, KERNEL_KEY, REBOOT_FLAG_KEY};

pub use command::{parse, Command, ParseError, StepKind, ValueKind, Watch};
pub use profile::{ProfileOptions, ProfileReport};
pub use trap::{level_trap_stacks, TrapSite};

/// Settings of a session (the shell's command-line options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Fuel of one `step tick` inside a `kernel_run`, and the granularity at which long steps
    /// check breakpoints.
    pub fuel_slice: u64,
    /// Whether step commands print the kernel's debug messages (octez `--no-kernel-debug`
    /// turns this off).
    pub kernel_debug: bool,
    /// Bytes of a durable value `show durable storage` prints.
    pub dump_limit: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            fuel_slice: 10_000_000,
            kernel_debug: true,
            dump_limit: 64 * 1024,
        }
    }
}

/// Where [`Session::set_debug_sink`] sends each debug message of the kernel.
pub type DebugSink = Box<dyn FnMut(&[u8])>;

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It ran (its output may still report a kernel failure: that is the kernel's, not the
    /// command's).
    Done,
    /// It was refused: a bad command, path or number, or a command that does not apply now.
    /// The output is a one-line message; the session goes on.
    Error,
    /// The kernel waits for the preimage of this 33-byte hash, which the [`Reveal`] did not
    /// have: ask the user and call [`Session::provide_preimage`].
    NeedsPreimage(Vec<u8>),
    /// `stop`: the session is over.
    Stop,
    /// `profile` ran: the shell writes and draws the report's stacks, then prints its
    /// summary (after the output).
    Profiled(alloc::boxed::Box<ProfileReport>),
}

/// The answer to one command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// What to print, each line ending with `\n` (possibly empty).
    pub output: String,
    /// How the command ended.
    pub outcome: Outcome,
}

impl Reply {
    fn done(output: String) -> Reply {
        Reply {
            output,
            outcome: Outcome::Done,
        }
    }

    fn error(message: impl core::fmt::Display) -> Reply {
        Reply {
            output: format!("{message}\n"),
            outcome: Outcome::Error,
        }
    }
}

/// Where a [`Session`] is in its inboxes ([`Session::position`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Inboxes started so far (fully loaded, or being loaded one `step tick` at a time).
    pub inboxes_started: usize,
    /// The level the next inbox is loaded at.
    pub next_level: u32,
    /// The inbox being loaded input by input: its level, the inputs fed so far (protocol
    /// messages included) and the inputs left.
    pub loading: Option<(u32, u32, usize)>,
}

/// What the last step left to show in `Internal_status` (octez's `Eval` sub-states).
#[derive(Debug, Clone, PartialEq, Eq)]
enum After {
    Nothing,
    Succeeded,
    Failed(String),
}

/// A debugging session: see the module documentation.
pub struct Session {
    pvm: Pvm,
    inboxes: Vec<Vec<Vec<u8>>>,
    next_inbox: usize,
    /// The level the next inbox is loaded at (octez's debugger starts at 0).
    level: u32,
    /// Inputs of the inbox being loaded one `step tick` at a time: (level, next counter, rest).
    partial: Option<(u32, u32, Vec<Vec<u8>>)>,
    config: SessionConfig,
    breakpoints: Vec<Watch>,
    /// Debug messages of the current level already printed.
    debug_shown: usize,
    /// The memory of the run `step result` ended, readable until the next step.
    final_memory: Option<Vec<u8>>,
    after: After,
    /// `kernel_run`s ended in the current level (for `break on reboot`).
    runs_this_level: u32,
    /// The step to continue once a requested preimage is provided.
    resume: Option<StepKind>,
    stopped: bool,
    /// Times `profile`'s calls (nanoseconds from any origin); the shell's.
    clock: Option<fn() -> u64>,
    /// Set (by the shell's Ctrl-C handler) to stop a long step at the next fuel slice.
    interrupt: Option<Arc<AtomicBool>>,
    /// Receives each debug message once, at the end of the fuel slice that wrote it.
    debug_sink: Option<DebugSink>,
    /// Debug messages of the current level given to the sink.
    debug_sunk: usize,
    /// The PVM at the start of the `kernel_run` in progress (see [`trap`]).
    run_start: Option<Pvm>,
    /// The last run's trap, located; and whether the step's output has not shown it yet.
    trap: Option<TrapSite>,
    trap_unprinted: bool,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("pvm", &self.pvm)
            .field("level", &self.level)
            .field("next_inbox", &self.next_inbox)
            .finish_non_exhaustive()
    }
}

/// What breakpoints compare across a fuel slice: the hash under each watched path, and the
/// length of the current outbox.
type Watched = (Vec<Option<crate::tree::Hash>>, usize);

/// Where a multi-slice step stopped.
enum Stop {
    /// It reached its goal (or the PVM cannot go further without inputs).
    Reached,
    /// A breakpoint: what it saw.
    Breakpoint(String),
    /// The kernel waits for a preimage the [`Reveal`] does not have.
    NeedsPreimage(Vec<u8>),
    /// The interrupt flag was set ([`Session::set_interrupt`]).
    Interrupted,
}

impl Session {
    /// A session over `pvm` (freshly originated, waiting for inputs) with the `inboxes` to
    /// load, one per level from [`crate::pvm::PvmConfig::first_level`].
    pub fn new(pvm: Pvm, inboxes: Vec<Vec<Vec<u8>>>, config: SessionConfig) -> Session {
        let level = pvm.config().first_level;
        Session {
            pvm,
            inboxes,
            next_inbox: 0,
            level,
            partial: None,
            config,
            breakpoints: Vec::new(),
            debug_shown: 0,
            final_memory: None,
            after: After::Nothing,
            runs_this_level: 0,
            resume: None,
            stopped: false,
            clock: None,
            interrupt: None,
            debug_sink: None,
            debug_sunk: 0,
            run_start: None,
            trap: None,
            trap_unprinted: false,
        }
    }

    /// Gives every debug message of the kernel to `sink` as soon as the session sees it (at
    /// the end of each fuel slice), whether or not step commands print them: the shell's
    /// `--timings-file`.
    pub fn set_debug_sink(&mut self, sink: DebugSink) {
        self.debug_sink = Some(sink);
    }

    /// Hands the debug messages not seen yet to the sink.
    fn sink_debug(&mut self) {
        let Some(sink) = self.debug_sink.as_mut() else {
            return;
        };
        let messages = self.pvm.debug_messages();
        if self.debug_sunk > messages.len() {
            self.debug_sunk = 0;
        }
        for m in &messages[self.debug_sunk..] {
            sink(m);
        }
        self.debug_sunk = messages.len();
    }

    /// Gives `profile` a clock (nanoseconds from any origin) to time the calls.
    pub fn set_clock(&mut self, clock: fn() -> u64) {
        self.clock = Some(clock);
    }

    /// A flag that stops the running step at the end of its current fuel slice when set
    /// (the step reports it was interrupted; the session goes on). The session clears it.
    pub fn set_interrupt(&mut self, flag: Arc<AtomicBool>) {
        self.interrupt = Some(flag);
    }

    /// Whether the interrupt flag was set since the last check (and clears it).
    fn interrupted(&self) -> bool {
        self.interrupt
            .as_ref()
            .is_some_and(|f| f.swap(false, Ordering::SeqCst))
    }

    /// The PVM.
    pub fn pvm(&self) -> &Pvm {
        &self.pvm
    }

    /// Whether `stop` was executed.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The preimage hash the session waits for (after [`Outcome::NeedsPreimage`]).
    pub fn awaited_preimage(&self) -> Option<&[u8]> {
        match self.pvm.pending_reveal() {
            Some(RevealRequest::Preimage(hash)) => Some(hash),
            _ => None,
        }
    }

    /// The inboxes the session loads, one per level (as given to [`Session::new`]).
    pub fn inboxes(&self) -> &[Vec<Vec<u8>>] {
        &self.inboxes
    }

    /// Where the session is in its inboxes (for shells that show it, like the playground's
    /// status panel).
    pub fn position(&self) -> Position {
        Position {
            inboxes_started: self.next_inbox,
            next_level: self.level,
            loading: self
                .partial
                .as_ref()
                .map(|(level, counter, rest)| (*level, *counter, rest.len())),
        }
    }

    /// Parses and runs one command line.
    pub fn execute(&mut self, line: &str, reveal: &mut dyn Reveal) -> Reply {
        if self.stopped {
            return Reply::error("The session is stopped");
        }
        match parse(line) {
            Ok(command) => self.run(command, reveal),
            Err(e) => Reply::error(e),
        }
    }

    /// Runs one parsed command.
    pub fn run(&mut self, command: Command, reveal: &mut dyn Reveal) -> Reply {
        let result = match command {
            Command::Step(kind) => return self.step(kind, reveal),
            Command::LoadInputs => self.load_inputs(),
            Command::ShowStatus => Ok(Reply::done(self.status_text())),
            Command::ShowInbox => self.show_inbox(),
            Command::ShowOutbox(level) => self.show_outbox(level),
            Command::ShowDurable => self.show_durable(),
            Command::ShowSubkeys(path) => self.show_subkeys(&path),
            Command::ShowKey(key, kind) => self.show_key(&key, kind),
            Command::ShowMemory {
                address,
                length,
                kind,
            } => Ok(self.show_memory(address, length, kind)),
            Command::ShowStateHash => self
                .pvm
                .state_hash()
                .map(|h| Reply::done(format!("State hash: {}\n", StateHash(h).to_b58check()))),
            Command::ShowTicks => Ok(Reply::done(format!(
                "Ticks: {}\nFuel: {}\n",
                self.pvm.ticks(),
                self.pvm.fuel()
            ))),
            Command::ShowDebugLog => Ok(self.show_debug_log()),
            Command::DumpFunctionSymbols => self.dump_function_symbols(),
            Command::RevealPreimage(hex) => return self.reveal_preimage(hex.as_deref(), reveal),
            Command::RevealMetadata => Ok(match self.pvm.pending_reveal() {
                None => Reply::error("Error: Not in a reveal step"),
                // Soru's PVM answers metadata requests itself: only preimages can be pending.
                Some(_) => Reply::error("Error: Not the expected reveal step"),
            }),
            Command::Break(watch) => Ok(self.add_breakpoint(watch)),
            Command::ListBreakpoints => Ok(Reply::done(self.breakpoints_text())),
            Command::DeleteBreakpoints => {
                let n = self.breakpoints.len();
                self.breakpoints.clear();
                Ok(Reply::done(format!("Deleted {n} breakpoints\n")))
            }
            Command::Profile(options) => return self.profile(options, reveal),
            Command::Help => {
                let mut out = String::new();
                for line in command::HELP {
                    let _ = writeln!(out, "  {line}");
                }
                Ok(Reply::done(out))
            }
            Command::Stop => {
                self.stopped = true;
                return Reply {
                    output: String::new(),
                    outcome: Outcome::Stop,
                };
            }
        };
        result.unwrap_or_else(|e| Reply::error(format!("Error: {e}")))
    }

    // ----- status -------------------------------------------------------------------------

    /// `Status: ...` and `Internal_status: ...`, as octez prints them.
    pub fn status_text(&self) -> String {
        let status = match self.pvm.status() {
            Status::WaitingForInput | Status::Stuck => String::from("Waiting for input"),
            Status::Evaluating => String::from("Evaluating"),
            Status::WaitingForReveal => match self.pvm.pending_reveal() {
                Some(RevealRequest::Preimage(hash)) => {
                    format!("Waiting for reveal: {}", hex::encode(hash))
                }
                Some(RevealRequest::Metadata) => {
                    String::from("Waiting for reveal: Reveal metadata")
                }
                Some(RevealRequest::Raw(p)) => format!("Waiting for reveal: {}", hex::encode(p)),
                None => String::from("Waiting for reveal"),
            },
        };
        format!(
            "Status: {status}\nInternal_status: {}\n",
            self.internal_status()
        )
    }

    fn internal_status(&self) -> String {
        if let Some(reason) = self.pvm.stuck_reason() {
            return format!("Stuck ({})", stuck_text(reason));
        }
        match &self.after {
            After::Succeeded => return String::from("Evaluation succeeded"),
            After::Failed(why) => return format!("Evaluation failed ({why})"),
            After::Nothing => {}
        }
        if self.pvm.in_kernel_run() || self.pvm.status() == Status::WaitingForReveal {
            return String::from("Eval");
        }
        String::from(match self.pvm.tick_state() {
            TickState::Collect => "Collect",
            TickState::Snapshot => "Snapshot",
            TickState::Padding => "Padding",
            TickState::Stuck(_) => "Stuck",
        })
    }

    // ----- inputs -------------------------------------------------------------------------

    fn accepts_inputs(&self) -> bool {
        matches!(self.pvm.status(), Status::WaitingForInput | Status::Stuck)
    }

    /// Octez's `check_input_request` refusal, when the PVM does not take inputs.
    fn not_expecting_inputs(&self) -> String {
        match self.pvm.status() {
            Status::WaitingForReveal => String::from(
                "The PVM is expecting a reveal. Use `reveal preimage` to provide it.",
            ),
            _ => String::from(
                "The PVM is not expecting inputs yet. You can `step inbox` to evaluate the current inbox.",
            ),
        }
    }

    /// Starts loading the next inbox if none is being loaded; false when none is left.
    fn open_inbox(&mut self) -> bool {
        if self.partial.is_some() {
            return true;
        }
        let Some(messages) = self.inboxes.get(self.next_inbox) else {
            return false;
        };
        let mut inputs = Vec::with_capacity(messages.len() + 3);
        inputs.push(internal(InternalInboxMessage::StartOfLevel));
        inputs.push(internal(InternalInboxMessage::InfoPerLevel {
            predecessor_timestamp: 0,
            predecessor: BlockHash([0; 32]),
        }));
        inputs.extend(messages.iter().cloned());
        inputs.push(internal(InternalInboxMessage::EndOfLevel));
        inputs.reverse();
        self.next_inbox += 1;
        self.partial = Some((self.level, 0, inputs));
        self.level = self.level.wrapping_add(1);
        true
    }

    /// Adds the next input of the inbox being loaded; returns how many it added (0 or 1).
    fn feed_one(&mut self) -> Result<u32, PvmError> {
        let Some((level, counter, rest)) = &mut self.partial else {
            return Ok(0);
        };
        let Some(payload) = rest.pop() else {
            self.partial = None;
            return Ok(0);
        };
        let (level, counter_now) = (*level, *counter);
        *counter += 1;
        if rest.is_empty() {
            self.partial = None;
        }
        if counter_now == 0 {
            self.sink_debug();
            self.debug_shown = 0;
            self.debug_sunk = 0;
            self.runs_this_level = 0;
        }
        self.pvm.step_input(level, counter_now, &payload)?;
        Ok(1)
    }

    fn load_inputs(&mut self) -> Result<Reply, PvmError> {
        if !self.accepts_inputs() {
            return Ok(Reply::done(format!("{}\n", self.not_expecting_inputs())));
        }
        self.after = After::Nothing;
        self.final_memory = None;
        Ok(Reply::done(self.load_rest()?))
    }

    /// Loads the rest of the inbox being loaded, or the next one; the text to print.
    fn load_rest(&mut self) -> Result<String, PvmError> {
        let level = self.partial.as_ref().map_or(self.level, |p| p.0);
        if !self.open_inbox() {
            return Ok(format!("No more inputs at level {}\n", self.level));
        }
        let mut n = 0u32;
        while self.partial.is_some() {
            n += self.feed_one()?;
        }
        Ok(format!("Loaded {n} inputs at level {level}\n"))
    }

    // ----- stepping -----------------------------------------------------------------------

    fn step(&mut self, kind: StepKind, reveal: &mut dyn Reveal) -> Reply {
        // A Ctrl-C before this step is not for it.
        let _ = self.interrupted();
        let ticks = self.pvm.ticks();
        self.after = After::Nothing;
        self.final_memory = None;
        let mut out = String::new();
        let stop = match self.advance(kind, reveal, &mut out) {
            Ok(stop) => stop,
            Err(e) => {
                self.print_debug(&mut out);
                let _ = writeln!(out, "Error: {e}");
                return Reply {
                    output: out,
                    outcome: Outcome::Error,
                };
            }
        };
        self.finish_step(ticks, stop, kind, out)
    }

    fn finish_step(&mut self, ticks: u128, stop: Stop, kind: StepKind, mut out: String) -> Reply {
        self.sink_debug();
        self.print_debug(&mut out);
        let mut outcome = Outcome::Done;
        match stop {
            Stop::Reached => {}
            Stop::Breakpoint(what) => {
                let _ = writeln!(out, "Breakpoint: {what}");
            }
            Stop::NeedsPreimage(hash) => {
                self.resume = Some(kind);
                outcome = Outcome::NeedsPreimage(hash);
            }
            Stop::Interrupted => {
                let _ = writeln!(out, "Interrupted at the end of a fuel slice");
            }
        }
        if core::mem::take(&mut self.trap_unprinted) {
            if let Some(trap) = &self.trap {
                let _ = writeln!(out, "{trap}");
            }
        }
        let _ = writeln!(
            out,
            "Evaluation took {} ticks so far",
            self.pvm.ticks().saturating_sub(ticks)
        );
        out.push_str(&self.status_text());
        Reply {
            output: out,
            outcome,
        }
    }

    /// Moves the PVM as `kind` says; `out` collects messages printed on the way.
    fn advance(
        &mut self,
        kind: StepKind,
        reveal: &mut dyn Reveal,
        out: &mut String,
    ) -> Result<Stop, PvmError> {
        match kind {
            StepKind::Tick => {
                if self.accepts_inputs() {
                    if !self.open_inbox() {
                        let _ = writeln!(out, "No more inputs at level {}", self.level);
                    } else {
                        self.feed_one()?;
                    }
                    return Ok(Stop::Reached);
                }
                self.one_slice(reveal, self.config.fuel_slice)
            }
            StepKind::Result | StepKind::KernelRun => {
                if self.accepts_inputs() {
                    return Ok(Stop::Reached);
                }
                let keep = kind == StepKind::Result;
                self.pvm.keep_final_memory(keep);
                let failures = if keep { self.failures()? } else { 0 };
                let stop = self.until(reveal, |progress| {
                    !matches!(progress, Progress::Paused { .. })
                });
                let memory = self.pvm.take_final_memory();
                self.pvm.keep_final_memory(false);
                let stop = stop?;
                if keep && matches!(stop, Stop::Reached) {
                    self.final_memory = memory;
                    let report = self.pvm.report()?;
                    self.after = match report.failures.get(failures) {
                        Some(f) if !f.stuck => After::Failed(f.reason.clone()),
                        Some(_) => After::Nothing,
                        None if self.pvm.status() == Status::Evaluating => After::Succeeded,
                        None => After::Nothing,
                    };
                }
                Ok(stop)
            }
            StepKind::Inbox => {
                if self.accepts_inputs() {
                    out.push_str(&self.load_rest()?);
                }
                self.until(reveal, |_| false)
            }
        }
    }

    fn failures(&self) -> Result<usize, PvmError> {
        Ok(self.pvm.report()?.failures.len())
    }

    /// Runs fuel slices until `done(progress)` or the PVM waits for inputs (or is stuck).
    fn until(
        &mut self,
        reveal: &mut dyn Reveal,
        done: impl Fn(Progress) -> bool,
    ) -> Result<Stop, PvmError> {
        loop {
            match self.pvm.status() {
                Status::WaitingForInput | Status::Stuck => return Ok(Stop::Reached),
                Status::WaitingForReveal => {
                    if let Some(stop) = self.try_reveal(reveal)? {
                        return Ok(stop);
                    }
                    continue;
                }
                Status::Evaluating => {}
            }
            let watched = self.watch_state()?;
            let progress = self.slice(self.config.fuel_slice, reveal)?;
            self.sink_debug();
            if let Some(hit) = self.check_breakpoints(&watched, progress)? {
                return Ok(Stop::Breakpoint(hit));
            }
            if progress == Progress::WaitingForReveal {
                if let Some(stop) = self.try_reveal(reveal)? {
                    return Ok(stop);
                }
                continue;
            }
            if done(progress) {
                return Ok(Stop::Reached);
            }
            if self.interrupted() {
                return Ok(Stop::Interrupted);
            }
        }
    }

    /// One fuel slice (`step tick` while evaluating).
    fn one_slice(&mut self, reveal: &mut dyn Reveal, slice: u64) -> Result<Stop, PvmError> {
        if self.pvm.status() == Status::WaitingForReveal {
            return Ok(self.try_reveal(reveal)?.unwrap_or(Stop::Reached));
        }
        let watched = self.watch_state()?;
        let progress = self.slice(slice, reveal)?;
        if let Some(hit) = self.check_breakpoints(&watched, progress)? {
            return Ok(Stop::Breakpoint(hit));
        }
        if progress == Progress::WaitingForReveal {
            return Ok(self.try_reveal(reveal)?.unwrap_or(Stop::Reached));
        }
        Ok(Stop::Reached)
    }

    /// Asks `reveal` for the pending preimage and resumes the run with it; `Some` when it has
    /// none (the shell must ask the user).
    fn try_reveal(&mut self, reveal: &mut dyn Reveal) -> Result<Option<Stop>, PvmError> {
        let Some(request) = self.pvm.pending_reveal().cloned() else {
            return Ok(None);
        };
        match reveal.reveal(&request) {
            Some(data) => {
                self.pvm.resume_reveal(&data, reveal)?;
                Ok(None)
            }
            None => Ok(Some(Stop::NeedsPreimage(match request {
                RevealRequest::Preimage(hash) => hash,
                other => other.payload(),
            }))),
        }
    }

    /// Gives the kernel the preimage it waits for (after [`Outcome::NeedsPreimage`]) and
    /// continues the step that asked for it. Data that does not hash to the requested hash is
    /// refused (with [`Outcome::Error`]) and the session keeps waiting.
    pub fn provide_preimage(&mut self, data: &[u8], reveal: &mut dyn Reveal) -> Reply {
        let Some(RevealRequest::Preimage(hash)) = self.pvm.pending_reveal().cloned() else {
            return Reply::error("Error: not a reveal step");
        };
        let actual = preimage_hash(data);
        if actual[..] != hash[..] {
            return Reply::error(format!(
                "Error: the data hashes to {}, not to the requested {}",
                hex::encode(actual),
                hex::encode(&hash)
            ));
        }
        let ticks = self.pvm.ticks();
        if let Err(e) = self.pvm.resume_reveal(data, reveal) {
            return Reply::error(format!("Error: {e}"));
        }
        let mut out = String::new();
        let kind = self.resume.take().unwrap_or(StepKind::Tick);
        let stop = match kind {
            StepKind::Tick => Ok(Stop::Reached),
            other => self.advance(other, reveal, &mut out),
        };
        match stop {
            Ok(stop) => self.finish_step(ticks, stop, kind, out),
            Err(e) => Reply::error(format!("Error: {e}")),
        }
    }

    fn reveal_preimage(&mut self, hex_text: Option<&str>, reveal: &mut dyn Reveal) -> Reply {
        match self.pvm.pending_reveal() {
            None => return Reply::error("Error: not a reveal step"),
            Some(RevealRequest::Preimage(_)) => {}
            Some(_) => return Reply::error("Error: not the expected reveal step"),
        }
        match hex_text {
            Some(text) => match hex::decode(text) {
                Ok(data) => self.provide_preimage(&data, reveal),
                Err(e) => Reply::error(format!(
                    "Error: the data is not a valid hexadecimal value ({e})"
                )),
            },
            None => {
                let ticks = self.pvm.ticks();
                let kind = self.resume.take().unwrap_or(StepKind::Tick);
                let mut out = String::new();
                let stop = self.try_reveal(reveal).and_then(|stop| match stop {
                    Some(stop) => Ok(stop),
                    None if kind == StepKind::Tick => Ok(Stop::Reached),
                    None => self.advance(kind, reveal, &mut out),
                });
                match stop {
                    Ok(stop) => self.finish_step(ticks, stop, kind, out),
                    Err(e) => Reply::error(format!("Error: {e}")),
                }
            }
        }
    }

    // ----- breakpoints --------------------------------------------------------------------

    fn add_breakpoint(&mut self, watch: Watch) -> Reply {
        if let Watch::Write(path) = &watch {
            if durable_key(path).is_none() {
                return Reply::error("Invalid key");
            }
        }
        if !self.breakpoints.contains(&watch) {
            self.breakpoints.push(watch);
        }
        Reply::done(format!("Breakpoint {}: {}\n", self.breakpoints.len(), {
            let last = self.breakpoints.last();
            last.map(watch_text).unwrap_or_default()
        }))
    }

    fn breakpoints_text(&self) -> String {
        if self.breakpoints.is_empty() {
            return String::from("No breakpoints\n");
        }
        let mut out = String::new();
        for (i, w) in self.breakpoints.iter().enumerate() {
            let _ = writeln!(out, "Breakpoint {}: {}", i + 1, watch_text(w));
        }
        out
    }

    /// What the breakpoints compare across a slice: the hash at each watched path and the
    /// outbox length.
    fn watch_state(&self) -> Result<Watched, PvmError> {
        let mut hashes = Vec::new();
        let mut outbox = 0;
        for w in &self.breakpoints {
            match w {
                Watch::Write(path) => {
                    let hash = match durable_key(path) {
                        Some(k) => self.pvm.durable().hash(&k, Target::Directory)?,
                        None => None,
                    };
                    hashes.push(hash);
                }
                Watch::Output => outbox = self.outbox_len()?,
                Watch::Reboot => {}
            }
        }
        Ok((hashes, outbox))
    }

    fn outbox_len(&self) -> Result<usize, PvmError> {
        let mut tree = self.pvm.state_tree()?;
        let info = output_buffer::read_info(&mut tree)?;
        match info.last_level {
            Some(l) => Ok(self.pvm.outbox(l as u32)?.len()),
            None => Ok(0),
        }
    }

    fn check_breakpoints(
        &mut self,
        before: &Watched,
        progress: Progress,
    ) -> Result<Option<String>, PvmError> {
        if let Progress::RunEnded { .. } = progress {
            self.runs_this_level += 1;
        }
        if self.breakpoints.is_empty() {
            return Ok(None);
        }
        let after = self.watch_state()?;
        let mut hashes = 0;
        for w in &self.breakpoints {
            match w {
                Watch::Write(path) => {
                    if before.0.get(hashes) != after.0.get(hashes) {
                        return Ok(Some(format!("write under {path}")));
                    }
                    hashes += 1;
                }
                Watch::Output => {
                    if after.1 > before.1 {
                        return Ok(Some(format!(
                            "outbox message {} written",
                            after.1.saturating_sub(1)
                        )));
                    }
                }
                Watch::Reboot => {
                    let reboot = self
                        .pvm
                        .durable()
                        .has_value(&Key::from_path(REBOOT_FLAG_KEY)?)?;
                    if matches!(progress, Progress::RunEnded { .. })
                        && reboot
                        && self.pvm.status() == Status::Evaluating
                    {
                        return Ok(Some(format!(
                            "reboot requested (kernel_run {} of this level starts next)",
                            self.runs_this_level + 1
                        )));
                    }
                }
            }
        }
        Ok(None)
    }

    // ----- show ---------------------------------------------------------------------------

    fn print_debug(&mut self, out: &mut String) {
        self.print_debug_with(out, |m| Some(String::from_utf8_lossy(m).into_owned()));
    }

    /// Prints the debug messages not printed yet, each as `text` gives it (`None`: not at
    /// all), ending with a newline.
    fn print_debug_with(
        &mut self,
        out: &mut String,
        mut text: impl FnMut(&[u8]) -> Option<String>,
    ) {
        let messages = self.pvm.debug_messages();
        if self.debug_shown > messages.len() {
            self.debug_shown = 0;
        }
        if self.config.kernel_debug {
            for m in &messages[self.debug_shown..] {
                let Some(line) = text(m) else {
                    continue;
                };
                out.push_str(&line);
                if !line.ends_with('\n') {
                    out.push('\n');
                }
            }
        }
        self.debug_shown = messages.len();
    }

    fn show_debug_log(&self) -> Reply {
        let messages = self.pvm.debug_messages();
        let mut out = format!("Debug log has {} messages:\n", messages.len());
        for m in messages {
            out.push_str(&String::from_utf8_lossy(m));
            if !m.ends_with(b"\n") {
                out.push('\n');
            }
        }
        Reply::done(out)
    }

    fn show_inbox(&self) -> Result<Reply, PvmError> {
        let inputs = self.pvm.input_buffer()?;
        let mut out = format!("Inbox has {} messages:\n", inputs.len());
        let lines: Vec<String> = inputs
            .iter()
            .map(|i| {
                format!(
                    "{{ raw_level: {};\n  counter: {}\n  payload: {} }}",
                    i.level,
                    i.counter,
                    input_text(&i.payload)
                )
            })
            .collect();
        out.push_str(&lines.join("\n"));
        out.push('\n');
        Ok(Reply::done(out))
    }

    fn show_outbox(&self, level: u32) -> Result<Reply, PvmError> {
        let mut tree = self.pvm.state_tree()?;
        let info = output_buffer::read_info(&mut tree)?;
        if output_buffer::check_level(&info, level).is_err() {
            return Ok(Reply::done(format!("No outbox found at level {level}\n")));
        }
        let messages = self.pvm.outbox(level)?;
        let mut out = format!("Outbox has {} messages:\n", messages.len());
        let lines: Vec<String> = messages.iter().map(|m| output_text(m)).collect();
        out.push_str(&lines.join("\n"));
        out.push('\n');
        Ok(Reply::done(out))
    }

    fn show_durable(&self) -> Result<Reply, PvmError> {
        let mut out = String::new();
        let durable = self.pvm.durable();
        for entry in durable.value_prefixes(self.config.dump_limit) {
            let (path, value) = entry?;
            let _ = write!(out, "{path}\n  {}", hex::encode(&value));
            if value.len() as u64 == self.config.dump_limit {
                let full = durable.value_length(&Key::from_path(&path)?)?.unwrap_or(0);
                if full > self.config.dump_limit {
                    let _ = write!(out, "... ({full} bytes)");
                }
            }
            out.push('\n');
        }
        Ok(Reply::done(out))
    }

    fn show_subkeys(&self, path: &str) -> Result<Reply, PvmError> {
        if !path.starts_with('/') {
            return Ok(Reply::error("Invalid path, it must start with '/'"));
        }
        let Some(key) = durable_key(path) else {
            return Ok(Reply::error("Invalid path, it must start with '/'"));
        };
        let Some(names) = self.subkeys(&key)? else {
            return Ok(Reply::done(format!(
                "The path {} is not available in the durable storage\n",
                path.trim_end_matches('/')
            )));
        };
        let mut out = String::new();
        for name in names {
            let _ = writeln!(out, "/{name}");
        }
        Ok(Reply::done(out))
    }

    /// The sorted names of the direct subkeys of `key` (without the value marker), `None`
    /// when nothing is there.
    fn subkeys(&self, key: &Key) -> Result<Option<BTreeSet<String>>, PvmError> {
        let durable = self.pvm.durable();
        if !durable.exists(key)? {
            return Ok(None);
        }
        let mut names = BTreeSet::new();
        let n = durable.count_subtrees(key)?;
        for i in 0..n {
            let name = durable.subtree_name_at(key, i as i64)?;
            if !name.is_empty() {
                names.insert(String::from_utf8_lossy(&name).into_owned());
            }
        }
        Ok(Some(names))
    }

    fn show_key(&self, path: &str, kind: ValueKind) -> Result<Reply, PvmError> {
        let Ok(key) = Key::from_path(path) else {
            return Ok(Reply::error("Invalid key"));
        };
        if key.steps().is_empty() {
            return Ok(Reply::error("Invalid key"));
        }
        match self.pvm.durable().read_all(&key)? {
            None => Ok(Reply::done(String::from("Key not found\n"))),
            Some(value) => Ok(Reply::done(format!("{}\n", value_text(kind, &value)))),
        }
    }

    fn show_memory(&self, address: u32, length: u32, kind: ValueKind) -> Reply {
        let (address, length) = (u64::from(address), u64::from(length));
        let bytes = match &self.final_memory {
            Some(memory) => read_memory(memory, address, length),
            None => self.pvm.memory(address, length),
        };
        match bytes {
            Ok(bytes) => Reply::done(format!("{}\n", value_text(kind, &bytes))),
            Err(crate::pvm::MemoryError::NoMemory(_)) => Reply::error(format!(
                "Error: Cannot inspect memory during internal state {}",
                self.internal_status()
            )),
            Err(e) => Reply::error(format!("Error: {e}")),
        }
    }

    fn dump_function_symbols(&self) -> Result<Reply, PvmError> {
        let kernel = self
            .pvm
            .durable()
            .read_all(&Key::from_path(KERNEL_KEY)?)?
            .unwrap_or_default();
        let mut out = String::from("Functions:\n");
        match function_names(&kernel) {
            Ok(names) => {
                for (index, name) in names {
                    let _ = writeln!(out, "{index}: {name}");
                }
                Ok(Reply::done(out))
            }
            Err(e) => Ok(Reply::error(format!(
                "Error: the kernel's name section: {e}"
            ))),
        }
    }

    // ----- completion ---------------------------------------------------------------------

    /// Completion candidates for the word that ends at `line`'s end: the byte offset where
    /// that word starts and the full words that can replace it (command words, value kinds,
    /// or durable paths: a path completes one step at a time, directories ending with `/`).
    pub fn complete(&self, line: &str) -> (usize, Vec<String>) {
        let start = line.rfind(' ').map_or(0, |i| i + 1);
        let (done, partial) = (&line[..start], &line[start..]);
        let words: Vec<&str> = done.split_whitespace().collect();
        let mut candidates = BTreeSet::new();
        let words = match words.as_slice() {
            ["time", rest @ ..] => rest,
            other => other,
        };
        for rule in command::GRAMMAR {
            if rule.len() <= words.len() {
                continue;
            }
            let matches = rule
                .iter()
                .zip(words.iter())
                .all(|(r, w)| r.starts_with('<') || r == w);
            if !matches {
                continue;
            }
            match rule[words.len()] {
                "<path>" => candidates.extend(self.complete_path(partial)),
                "<kind>" => candidates.extend(
                    command::KINDS
                        .iter()
                        .filter(|k| k.starts_with(partial))
                        .map(|k| String::from(*k)),
                ),
                "<n>" => {}
                word if word.starts_with(partial) => {
                    candidates.insert(String::from(word));
                }
                _ => {}
            }
        }
        (start, candidates.into_iter().collect())
    }

    fn complete_path(&self, partial: &str) -> Vec<String> {
        if !partial.is_empty() && !partial.starts_with('/') {
            return Vec::new();
        }
        let (dir, stem) = match partial.rfind('/') {
            Some(i) => (&partial[..i], &partial[i + 1..]),
            None => ("", ""),
        };
        let key = if dir.is_empty() {
            Key::parse(b"")
        } else {
            Key::from_path(dir)
        };
        let Ok(key) = key else {
            return Vec::new();
        };
        let Ok(Some(names)) = self.subkeys(&key) else {
            return Vec::new();
        };
        let durable = self.pvm.durable();
        names
            .into_iter()
            .filter(|n| n.starts_with(stem))
            .map(|n| {
                let full = format!("{dir}/{n}");
                let has_children = Key::from_path(&full)
                    .ok()
                    .and_then(|k| durable.count_subtrees(&k).ok().map(|c| (k, c)))
                    .is_some_and(|(k, c)| c > usize::from(durable.has_value(&k).unwrap_or(false)));
                if has_children {
                    format!("{full}/")
                } else {
                    full
                }
            })
            .collect()
    }
}

fn internal(message: InternalInboxMessage) -> Vec<u8> {
    InboxMessage::Internal(message).encode()
}

/// `/` is the root; anything else must parse as a key.
fn durable_key(path: &str) -> Option<Key> {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() && path.starts_with('/') {
        return Key::parse(b"").ok();
    }
    Key::from_path(trimmed).ok()
}

fn watch_text(w: &Watch) -> String {
    match w {
        Watch::Write(path) => format!("break on write {path}"),
        Watch::Output => String::from("break on output"),
        Watch::Reboot => String::from("break on reboot"),
    }
}

/// Octez's names for the reasons it shares with Soru (`Wasm_pvm_errors`).
fn stuck_text(reason: &StuckReason) -> String {
    match reason {
        StuckReason::TooManyTicks => String::from("Too_many_ticks"),
        StuckReason::NoFallbackKernel(e) => format!("No_fallback_kernel ({e})"),
        other => other.to_string(),
    }
}

/// A value as octez's `print_wasm_encoded_value` prints it (integers little-endian).
fn value_text(kind: ValueKind, value: &[u8]) -> String {
    match kind {
        ValueKind::Hex => hex::encode(value),
        ValueKind::String => String::from_utf8_lossy(value).into_owned(),
        _ => {
            let length = kind.length().unwrap_or(0);
            if value.len() != length {
                return format!(
                    "Error: {} values must be {length} bytes long. Defaulting to hexadecimal value\n{}",
                    kind.short_name(),
                    hex::encode(value)
                );
            }
            match kind {
                ValueKind::I32 => {
                    let mut b = [0u8; 4];
                    b.copy_from_slice(value);
                    format!("{}", i32::from_le_bytes(b))
                }
                ValueKind::I64 => {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(value);
                    format!("{}", i64::from_le_bytes(b))
                }
                _ => unsigned_le_decimal(value),
            }
        }
    }
}

/// The decimal text of a little-endian unsigned integer of any length.
fn unsigned_le_decimal(bytes: &[u8]) -> String {
    // Repeated division by 10 of the big-endian digits (base 256).
    let mut digits: Vec<u8> = bytes.iter().rev().copied().collect();
    let mut out = Vec::new();
    while digits.iter().any(|&d| d != 0) {
        let mut rem = 0u32;
        for d in digits.iter_mut() {
            let cur = rem * 256 + u32::from(*d);
            *d = (cur / 10) as u8;
            rem = cur % 10;
        }
        out.push(b'0' + rem as u8);
    }
    if out.is_empty() {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// An input as octez's `Messages.pp_input` prints it.
fn input_text(payload: &[u8]) -> String {
    match InboxMessage::decode(payload) {
        Err(_) => format!("Unknown encoding: {}", hex::encode(payload)),
        Ok(InboxMessage::External(bytes)) => hex::encode(bytes),
        Ok(InboxMessage::Internal(m)) => match m {
            InternalInboxMessage::StartOfLevel => String::from("Start_of_level"),
            InternalInboxMessage::EndOfLevel => String::from("End_of_level"),
            InternalInboxMessage::ProtocolMigration(p) => format!("Protocol_migration {p}"),
            InternalInboxMessage::InfoPerLevel {
                predecessor_timestamp,
                predecessor,
            } => format!(
                "Info_per_level {{predecessor_timestamp = {}; predecessor = {}}}",
                timestamp_to_json(predecessor_timestamp),
                predecessor.to_b58check()
            ),
            InternalInboxMessage::Transfer(t) => format!(
                "{{ \"internal_inbox_message_kind\": \"transfer\", \"payload\": {}, \"sender\": \"{}\", \"source\": \"{}\", \"destination\": \"{}\" }}",
                t.payload.to_json(),
                t.sender.to_b58check(),
                t.source.to_b58check(),
                t.destination.to_b58check()
            ),
            InternalInboxMessage::DalAttestedSlots(d) => {
                format!("Dal_attested_slots {{published_level = {}}}", d.published_level)
            }
        },
    }
}

/// An outbox message: octez's JSON form, or its hex when it does not decode.
fn output_text(message: &[u8]) -> String {
    match OutboxMessage::decode(message) {
        Ok(m) => format!("{}", m.to_json()),
        Err(_) => format!("Unknown encoding: {}", hex::encode(message)),
    }
}

/// The function names of a module's `name` custom section, by function index.
fn function_names(module: &[u8]) -> Result<Vec<(u32, String)>, String> {
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        let payload = payload.map_err(|e| e.to_string())?;
        if let wasmparser::Payload::CustomSection(section) = payload {
            if let wasmparser::KnownCustom::Name(reader) = section.as_known() {
                for name in reader {
                    if let wasmparser::Name::Function(map) = name.map_err(|e| e.to_string())? {
                        for naming in map {
                            let naming = naming.map_err(|e| e.to_string())?;
                            names.push((naming.index, String::from(naming.name)));
                        }
                    }
                }
            }
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pvm::PvmConfig;
    use crate::reveal::{NoReveal, PreimageMap};
    use alloc::vec;

    const COUNTER: &str = r#"(module
      (import "smart_rollup_core" "store_write" (func $w (param i32 i32 i32 i32 i32) (result i32)))
      (import "smart_rollup_core" "write_debug" (func $d (param i32 i32)))
      (memory (export "memory") 1)
      (data (i32.const 0) "/a/b")
      (data (i32.const 16) "hi")
      (func (export "kernel_run") (local $i i32)
        (call $d (i32.const 16) (i32.const 2))
        (loop $l
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 20000))))
        (i32.store (i32.const 32) (local.get $i))
        (drop (call $w (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 32) (i32.const 4)))))"#;

    fn session(wat_text: &str, inboxes: Vec<Vec<Vec<u8>>>, slice: u64) -> Session {
        let kernel = wat::parse_str(wat_text).unwrap();
        let config = PvmConfig {
            ticks_per_snapshot: 1_000_000,
            ..PvmConfig::default()
        };
        let pvm = Pvm::new(&kernel, config).unwrap();
        Session::new(
            pvm,
            inboxes,
            SessionConfig {
                fuel_slice: slice,
                ..SessionConfig::default()
            },
        )
    }

    fn out(s: &mut Session, line: &str) -> String {
        let reply = s.execute(line, &mut NoReveal);
        assert_ne!(reply.outcome, Outcome::Error, "{line}: {}", reply.output);
        reply.output
    }

    fn err(s: &mut Session, line: &str) -> String {
        let reply = s.execute(line, &mut NoReveal);
        assert_eq!(reply.outcome, Outcome::Error, "{line}: {}", reply.output);
        reply.output
    }

    #[test]
    fn bad_commands_numbers_and_kinds_are_one_line_errors() {
        assert_eq!(parse("step  tick ").unwrap(), Command::Step(StepKind::Tick));
        assert_eq!(parse("ls").unwrap(), Command::ShowSubkeys("/".into()));
        assert_eq!(
            parse("show memory at 0x10 as i64").unwrap(),
            Command::ShowMemory {
                address: 16,
                length: 8,
                kind: ValueKind::I64
            }
        );
        let mut s = session(COUNTER, vec![], 1000);
        assert_eq!(
            err(&mut s, "jump around"),
            "Unknown command `jump around`\n"
        );
        assert_eq!(
            err(&mut s, "show outbox at level -1"),
            "Invalid number `-1` for a level\n"
        );
        assert!(err(&mut s, "show key /a as float").starts_with("Unknown value kind `float`"));
        assert_eq!(err(&mut s, "show key a/b"), "Invalid key\n");
        assert_eq!(err(&mut s, "show key /a//b"), "Invalid key\n");
        assert_eq!(
            err(&mut s, "ls kernel"),
            "Invalid path, it must start with '/'\n"
        );
        assert_eq!(
            err(&mut s, "reveal preimage 00"),
            "Error: not a reveal step\n"
        );
        assert_eq!(
            err(&mut s, "reveal metadata"),
            "Error: Not in a reveal step\n"
        );
        // The session goes on.
        assert_eq!(out(&mut s, "show key /a/b"), "Key not found\n");
        assert_eq!(out(&mut s, "stop"), "");
        assert!(s.is_stopped());
    }

    #[test]
    fn step_tick_feeds_one_input_then_one_fuel_slice() {
        let mut s = session(COUNTER, vec![vec![]], 1000);
        let first = out(&mut s, "step tick");
        assert_eq!(
            first,
            "Evaluation took 1 ticks so far\nStatus: Waiting for input\nInternal_status: Collect\n"
        );
        out(&mut s, "step tick");
        assert_eq!(
            out(&mut s, "show inbox").lines().next(),
            Some("Inbox has 2 messages:")
        );
        // The third input is End_of_level: the PVM pads to the next snapshot.
        assert!(out(&mut s, "step tick").contains("Status: Evaluating\nInternal_status: Padding\n"));
        assert_eq!(
            out(&mut s, "show inbox").lines().next(),
            Some("Inbox has 3 messages:")
        );
        assert_eq!(
            out(&mut s, "load inputs"),
            "The PVM is not expecting inputs yet. You can `step inbox` to evaluate the current inbox.\n"
        );
        // The first fuel slice starts the run: the debug message, then a pause inside the loop.
        let slice = out(&mut s, "step tick");
        assert!(slice.starts_with("hi\nEvaluation took "), "{slice}");
        assert!(
            slice.ends_with("Status: Evaluating\nInternal_status: Eval\n"),
            "{slice}"
        );
        assert!(s.pvm().in_kernel_run());
        let mut slices = 1;
        while s.pvm().in_kernel_run() {
            out(&mut s, "step tick");
            slices += 1;
        }
        assert!(slices > 20, "{slices}");
        assert_eq!(out(&mut s, "show key /a/b as i32"), "20000\n");
        assert_eq!(out(&mut s, "show key /a/b"), "204e0000\n");
        assert_eq!(
            out(&mut s, "show debug log"),
            "Debug log has 1 messages:\nhi\n"
        );
        assert_eq!(out(&mut s, "ls /a"), "/b\n");
        assert_eq!(
            out(&mut s, "ls /z"),
            "The path /z is not available in the durable storage\n"
        );
        assert_eq!(
            out(&mut s, "step tick"),
            "Evaluation took 1 ticks so far\nStatus: Waiting for input\nInternal_status: Collect\n"
        );
        assert_eq!(
            out(&mut s, "step tick"),
            "No more inputs at level 1\nEvaluation took 0 ticks so far\nStatus: Waiting for input\nInternal_status: Collect\n"
        );
    }

    #[test]
    fn position_follows_the_inbox_being_loaded() {
        let mut s = session(COUNTER, vec![vec![b"\x01a".to_vec()], vec![]], 1000);
        let start = Position {
            inboxes_started: 0,
            next_level: 0,
            loading: None,
        };
        assert_eq!(s.position(), start);
        assert_eq!(s.inboxes().len(), 2);
        out(&mut s, "step tick");
        // Start_of_level fed; Info_per_level, the message and End_of_level left.
        assert_eq!(
            s.position(),
            Position {
                inboxes_started: 1,
                next_level: 1,
                loading: Some((0, 1, 3)),
            }
        );
        out(&mut s, "step inbox");
        assert_eq!(s.position().loading, None);
        assert_eq!(s.position().inboxes_started, 1);
    }

    #[test]
    fn break_on_write_stops_at_the_slice_that_wrote() {
        let mut s = session(COUNTER, vec![vec![], vec![]], 1000);
        assert_eq!(
            out(&mut s, "break on write /a"),
            "Breakpoint 1: break on write /a\n"
        );
        assert_eq!(err(&mut s, "break on write a"), "Invalid key\n");
        let stop = out(&mut s, "step inbox");
        assert!(stop.contains("Breakpoint: write under /a\n"), "{stop}");
        assert!(
            stop.ends_with("Internal_status: Eval\n") || stop.contains("Padding"),
            "{stop}"
        );
        assert_eq!(out(&mut s, "show key /a/b as i32"), "20000\n");
        assert_eq!(out(&mut s, "delete breakpoints"), "Deleted 1 breakpoints\n");
        let rest = out(&mut s, "step inbox");
        assert!(
            rest.ends_with("Status: Waiting for input\nInternal_status: Collect\n"),
            "{rest}"
        );
        assert_eq!(out(&mut s, "break"), "No breakpoints\n");
    }

    #[test]
    fn a_missing_preimage_is_asked_for_and_checked() {
        let data = b"the preimage".to_vec();
        let hash = preimage_hash(&data);
        let mut escaped = String::new();
        for b in hash {
            let _ = write!(escaped, "\\{b:02x}");
        }
        let kernel = format!(
            r#"(module
          (import "smart_rollup_core" "reveal_preimage" (func $r (param i32 i32 i32 i32) (result i32)))
          (import "smart_rollup_core" "store_write" (func $w (param i32 i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "{escaped}")
          (data (i32.const 64) "/got")
          (func (export "kernel_run") (local $n i32)
            (local.set $n (call $r (i32.const 0) (i32.const 33) (i32.const 256) (i32.const 4096)))
            (drop (call $w (i32.const 64) (i32.const 4) (i32.const 0) (i32.const 256) (local.get $n)))))"#
        );
        let mut s = session(&kernel, vec![vec![]], 1000);
        let reply = s.execute("step inbox", &mut NoReveal);
        assert_eq!(reply.outcome, Outcome::NeedsPreimage(hash.to_vec()));
        assert!(
            reply.output.ends_with(&format!(
                "Status: Waiting for reveal: {}\nInternal_status: Eval\n",
                hex::encode(hash)
            )),
            "{}",
            reply.output
        );
        assert_eq!(s.awaited_preimage(), Some(&hash[..]));
        let wrong = s.provide_preimage(b"other", &mut NoReveal);
        assert_eq!(wrong.outcome, Outcome::Error);
        assert!(
            wrong.output.contains("not to the requested"),
            "{}",
            wrong.output
        );
        let hex_data = hex::encode(&data);
        let done = s.execute(&format!("reveal preimage {hex_data}"), &mut NoReveal);
        assert_eq!(done.outcome, Outcome::Done, "{}", done.output);
        // The interrupted `step inbox` went on to the end of the level.
        assert!(done
            .output
            .ends_with("Status: Waiting for input\nInternal_status: Collect\n"));
        assert_eq!(out(&mut s, "show key /got as string"), "the preimage\n");

        // With a source that has it, nothing is asked.
        let mut s = session(&kernel, vec![vec![]], 1000);
        let mut map = PreimageMap::new();
        map.insert(data);
        let reply = s.execute("step inbox", &mut map);
        assert_eq!(reply.outcome, Outcome::Done, "{}", reply.output);
        assert_eq!(out(&mut s, "show key /got as string"), "the preimage\n");
    }

    #[test]
    fn completion_offers_commands_kinds_and_durable_paths() {
        let mut s = session(COUNTER, vec![vec![]], u64::MAX);
        out(&mut s, "step inbox");
        assert_eq!(s.complete("sh"), (0, vec!["show".to_string()]));
        assert_eq!(s.complete("step k"), (5, vec!["kernel_run".to_string()]));
        assert_eq!(
            s.complete("show s"),
            (
                5,
                vec![
                    "state".to_string(),
                    "status".to_string(),
                    "subkeys".to_string()
                ]
            )
        );
        assert_eq!(
            s.complete("show key /"),
            (
                9,
                vec!["/a/".into(), "/kernel/".into(), "/readonly/".into()]
            )
        );
        assert_eq!(s.complete("ls /a/"), (3, vec!["/a/b".to_string()]));
        assert_eq!(
            s.complete("show key /kernel/b"),
            (9, vec!["/kernel/boot.wasm".to_string()])
        );
        assert_eq!(
            s.complete("show key /a/b as i"),
            (17, vec!["i32".into(), "i64".into()])
        );
        assert_eq!(s.complete("time step r"), (10, vec!["result".to_string()]));
        assert_eq!(s.complete("show key nope"), (9, Vec::<String>::new()));
    }

    #[test]
    fn values_print_as_octez_prints_them() {
        assert_eq!(value_text(ValueKind::U16, &[0x01, 0x02]), "513");
        assert_eq!(value_text(ValueKind::I32, &[0xff; 4]), "-1");
        assert_eq!(
            value_text(ValueKind::U128, &[0xff; 16]),
            u128::MAX.to_string()
        );
        let mut big = [0u8; 32];
        big[31] = 1;
        assert_eq!(
            value_text(ValueKind::U256, &big),
            "452312848583266388373324160190187140051835877600158453279131187530910662656"
        );
        assert_eq!(
            value_text(ValueKind::I64, &[1, 2]),
            "Error: i64 values must be 8 bytes long. Defaulting to hexadecimal value\n0102"
        );
        assert_eq!(input_text(&[0x00, 0x01]), "Start_of_level");
        assert_eq!(input_text(&[0x00, 0x09]), "Unknown encoding: 0009");
        assert_eq!(output_text(&[0xee]), "Unknown encoding: ee");
    }
}
