//! The playground's PVM driver: a kernel, its inbox and the position reached in it.
//!
//! It runs inside the Web Worker (and natively in tests). Every step is one of the octez
//! debugger's `step` granularities over [`soru_core::pvm::Pvm`]: one input tick, one
//! `kernel_run`, the rest of a level, or the rest of the inbox. After each step the UI gets a
//! [`Snapshot`] of everything its panels show.

use serde::{Deserialize, Serialize};
use soru_core::durable::Key;
use soru_core::encoding::inbox::{BlockHash, InboxMessage, InternalInboxMessage};
use soru_core::inputs::{self, Defaults};
use soru_core::pvm::{Pvm, PvmConfig, PvmError, Status};
use soru_core::reveal::{PreimageMap, RevealRequest};
use soru_core::state::STUCK_FLAG_KEY;
use soru_verifier::StateHash;

use crate::view::{self, OutboxEntry};

/// How far one step goes, as the octez debugger's `step` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// One input tick (the next message of the inbox).
    Input,
    /// One top-level `kernel_run` (or the yield that ends a level).
    KernelRun,
    /// The rest of the current level: its remaining inputs, then kernel runs until it yields.
    Level,
    /// Every remaining level of the inbox.
    Inbox,
}

impl Step {
    /// The word used in buttons and logs (`step <word>`).
    pub fn word(self) -> &'static str {
        match self {
            Step::Input => "input",
            Step::KernelRun => "kernel_run",
            Step::Level => "level",
            Step::Inbox => "inbox",
        }
    }
}

/// Why the engine could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The kernel file could not be read.
    #[error("{0}")]
    KernelFile(#[from] crate::kernel_file::KernelFileError),
    /// The inputs JSON is not in the debugger's format.
    #[error("inputs: {0}")]
    Inputs(String),
    /// The PVM refused the kernel or a step.
    #[error("{0}")]
    Pvm(#[from] PvmError),
    /// Every level of the inbox has been fed.
    #[error("the inbox is exhausted: all {0} levels have been run (edit the inputs to add more)")]
    InboxExhausted(usize),
    /// A kernel_run was asked for while the PVM waits for inputs.
    #[error("the PVM is waiting for inputs: step input or step level first")]
    NotEvaluating,
    /// Inputs were asked for while the PVM is between kernel runs of a level.
    #[error(
        "the inputs of level {0} are complete: step kernel_run or step level to run the kernel"
    )]
    InputsComplete(u32),
    /// The kernel waits for a preimage.
    #[error("the kernel is waiting for a reveal ({0}): provide it first")]
    WaitingForReveal(String),
    /// Reveal data was given while none was asked for.
    #[error("no reveal is pending")]
    NoPendingReveal,
}

/// Progress of a long step, sent to the UI between PVM steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The level being run.
    pub level: u32,
    /// Levels done in this step and levels it will run in total.
    pub levels_done: usize,
    /// Total levels of the step.
    pub levels_total: usize,
    /// Ticks since origination.
    pub ticks: String,
}

/// Everything the playground's panels show after a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Snapshot {
    /// `waiting_for_input`, `evaluating`, `waiting_for_reveal` or `stuck`.
    pub status: String,
    /// Why the PVM is stuck for good, if it is.
    pub stuck_reason: Option<String>,
    /// Whether the last `kernel_run` trapped (the `/readonly/kernel/env/stuck` flag).
    pub trapped: bool,
    /// The level being run or the last level run.
    pub level: Option<u32>,
    /// Where the next input comes from: `(level, index, inputs in that level)`.
    pub next_input: Option<(u32, usize, usize)>,
    /// Levels in the inbox and levels fully fed.
    pub levels_total: usize,
    /// Levels whose inputs have all been fed.
    pub levels_fed: usize,
    /// Ticks since origination (decimal; may exceed 2^53).
    pub ticks: String,
    /// wasmi fuel used in the current level.
    pub fuel: u64,
    /// `kernel_run` calls in the current level.
    pub kernel_runs: u32,
    /// Remaining reboots.
    pub reboot_counter: u32,
    /// The state hash (`srs1...`).
    pub state_hash: String,
    /// Every outbox message still in the outbox, oldest level first.
    pub outbox: Vec<OutboxEntry>,
    /// `write_debug` output, with the level it was written at.
    pub debug: Vec<(u32, String)>,
    /// Durable storage `(key, value)` pairs (values cut at [`view::MAX_VALUE_SHOWN`] bytes).
    pub durable: Vec<(String, Vec<u8>)>,
    /// Full lengths of the durable values, in the order of `durable`.
    pub durable_lengths: Vec<usize>,
    /// The reveal the kernel waits for: `(kind, hash hex)`.
    pub pending_reveal: Option<(String, String)>,
    /// The inbox, one list of message summaries per level (with the level number).
    pub inbox: Vec<(u32, Vec<String>)>,
}

/// The debugger's PVM with its inbox and position.
pub struct Engine {
    pvm: Pvm,
    levels: Vec<Vec<Vec<u8>>>,
    first_level: u32,
    level_index: usize,
    input_index: usize,
    preimages: PreimageMap,
    debug: Vec<(u32, String)>,
    debug_seen: usize,
    current_level: Option<u32>,
    interrupted: Option<Step>,
}

/// Serialized `Start_of_level`, `Info_per_level` (timestamp 0, zero predecessor), the messages
/// and `End_of_level` of one level, as the octez debugger feeds them.
fn full_level(messages: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let internal = |m| InboxMessage::Internal(m).encode();
    let mut all = Vec::with_capacity(messages.len() + 3);
    all.push(internal(InternalInboxMessage::StartOfLevel));
    all.push(internal(InternalInboxMessage::InfoPerLevel {
        predecessor_timestamp: 0,
        predecessor: BlockHash([0; 32]),
    }));
    all.extend(messages);
    all.push(internal(InternalInboxMessage::EndOfLevel));
    all
}

impl Engine {
    /// Originates `kernel` (wasm bytes) with the debugger's default configuration and reads
    /// `inputs_json` (the octez debugger's inputs format).
    pub fn new(kernel: &[u8], inputs_json: &str) -> Result<Engine, EngineError> {
        let levels = inputs::parse_to_bytes(inputs_json, &Defaults::default())
            .map_err(|e| EngineError::Inputs(e.to_string()))?;
        let config = PvmConfig::default();
        let first_level = config.first_level;
        let pvm = Pvm::new(kernel, config)?;
        Ok(Engine {
            pvm,
            levels: levels.into_iter().map(full_level).collect(),
            first_level,
            level_index: 0,
            input_index: 0,
            preimages: PreimageMap::new(),
            debug: Vec::new(),
            debug_seen: 0,
            current_level: None,
            interrupted: None,
        })
    }

    /// Adds a preimage the kernel may reveal later (by its BLAKE2b-256 reveal hash).
    pub fn add_preimage(&mut self, data: Vec<u8>) {
        self.preimages.insert(data);
    }

    fn level_number(&self, index: usize) -> u32 {
        self.first_level.wrapping_add(index as u32)
    }

    fn collect_debug(&mut self) {
        let level = self.current_level.unwrap_or(self.first_level);
        let messages = self.pvm.debug_messages();
        if messages.len() < self.debug_seen {
            self.debug_seen = 0;
        }
        for m in &messages[self.debug_seen..] {
            self.debug
                .push((level, String::from_utf8_lossy(m).into_owned()));
        }
        self.debug_seen = messages.len();
    }

    fn check_not_waiting(&self) -> Result<(), EngineError> {
        match self.pvm.pending_reveal() {
            Some(r) => Err(EngineError::WaitingForReveal(view::reveal_summary(r))),
            None => Ok(()),
        }
    }

    fn feed_one(&mut self) -> Result<(), EngineError> {
        if self.pvm.status() == Status::Evaluating {
            return Err(EngineError::InputsComplete(
                self.current_level.unwrap_or(self.first_level),
            ));
        }
        let Some(level_inputs) = self.levels.get(self.level_index) else {
            return Err(EngineError::InboxExhausted(self.levels.len()));
        };
        let payload = level_inputs[self.input_index].clone();
        let count = level_inputs.len();
        let level = self.level_number(self.level_index);
        if self.input_index == 0 {
            self.current_level = Some(level);
            self.debug_seen = 0;
        }
        self.pvm
            .step_input(level, self.input_index as u32, &payload)?;
        self.input_index += 1;
        if self.input_index == count {
            self.level_index += 1;
            self.input_index = 0;
        }
        Ok(())
    }

    fn finish_level(&mut self) -> Result<(), EngineError> {
        while self.pvm.status() == Status::Evaluating {
            self.pvm.step_kernel_run(&mut self.preimages)?;
            self.collect_debug();
        }
        Ok(())
    }

    fn run_level(&mut self) -> Result<(), EngineError> {
        if self.pvm.status() != Status::Evaluating {
            if self.level_index >= self.levels.len() {
                return Err(EngineError::InboxExhausted(self.levels.len()));
            }
            let start = self.level_index;
            while self.level_index == start && self.pvm.status() != Status::Evaluating {
                self.feed_one()?;
            }
        }
        self.finish_level()
    }

    /// Runs one step, calling `progress` between levels of long steps.
    pub fn step(
        &mut self,
        step: Step,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<(), EngineError> {
        self.check_not_waiting()?;
        let result = self.step_inner(step, progress);
        self.collect_debug();
        if self.pvm.status() == Status::WaitingForReveal {
            self.interrupted = Some(step);
        }
        result
    }

    fn step_inner(
        &mut self,
        step: Step,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<(), EngineError> {
        match step {
            Step::Input => self.feed_one(),
            Step::KernelRun => {
                if self.pvm.status() != Status::Evaluating {
                    return Err(EngineError::NotEvaluating);
                }
                self.pvm.step_kernel_run(&mut self.preimages)?;
                Ok(())
            }
            Step::Level => self.run_level(),
            Step::Inbox => {
                let total = self.levels.len().saturating_sub(self.level_index)
                    + usize::from(self.pvm.status() == Status::Evaluating);
                if total == 0 {
                    return Err(EngineError::InboxExhausted(self.levels.len()));
                }
                let mut done = 0;
                loop {
                    let evaluating = self.pvm.status() == Status::Evaluating;
                    if !evaluating && self.level_index >= self.levels.len() {
                        return Ok(());
                    }
                    self.run_level()?;
                    done += 1;
                    progress(&Progress {
                        level: self.current_level.unwrap_or(self.first_level),
                        levels_done: done,
                        levels_total: total,
                        ticks: self.pvm.ticks().to_string(),
                    });
                    if self.pvm.status() == Status::WaitingForReveal {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Supplies the bytes of the pending reveal and finishes the step it interrupted.
    pub fn reveal(
        &mut self,
        data: &[u8],
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<(), EngineError> {
        let Some(request) = self.pvm.pending_reveal().cloned() else {
            return Err(EngineError::NoPendingReveal);
        };
        if let RevealRequest::Preimage(_) = request {
            self.preimages.insert(data.to_vec());
        }
        self.pvm.resume_reveal(data, &mut self.preimages)?;
        self.collect_debug();
        match self.interrupted.take() {
            Some(step @ (Step::Level | Step::Inbox)) if self.pvm.status() != Status::Stuck => {
                self.finish_level()?;
                if step == Step::Inbox && self.pvm.status() == Status::WaitingForInput {
                    return self.step(Step::Inbox, progress);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// What the panels show now.
    pub fn snapshot(&self) -> Snapshot {
        let durable = self.pvm.durable();
        let trapped = Key::from_path(STUCK_FLAG_KEY)
            .ok()
            .and_then(|k| durable.has_value(&k).ok())
            .unwrap_or(false);
        let mut values = Vec::new();
        let mut lengths = Vec::new();
        for (key, value) in self.pvm.durable_values().flatten() {
            lengths.push(value.len());
            let mut value = value;
            value.truncate(view::MAX_VALUE_SHOWN);
            values.push((key, value));
        }
        let fed_levels = self.level_index + usize::from(self.input_index > 0);
        let mut outbox = Vec::new();
        for index in 0..fed_levels {
            let level = self.level_number(index);
            if let Ok(messages) = self.pvm.outbox(level) {
                for (i, bytes) in messages.iter().enumerate() {
                    outbox.push(OutboxEntry::new(level, i, bytes));
                }
            }
        }
        let report = self.pvm.report().ok();
        let next_input = self
            .levels
            .get(self.level_index)
            .filter(|_| self.pvm.status() == Status::WaitingForInput)
            .map(|l| {
                (
                    self.level_number(self.level_index),
                    self.input_index,
                    l.len(),
                )
            });
        Snapshot {
            status: self.pvm.status().to_string(),
            stuck_reason: self.pvm.stuck_reason().map(|r| r.to_string()),
            trapped,
            level: self.current_level,
            next_input,
            levels_total: self.levels.len(),
            levels_fed: self.level_index,
            ticks: self.pvm.ticks().to_string(),
            fuel: report.as_ref().map(|r| r.fuel).unwrap_or(0),
            kernel_runs: report.as_ref().map(|r| r.kernel_runs).unwrap_or(0),
            reboot_counter: self.pvm.reboot_counter(),
            state_hash: self
                .pvm
                .state_hash()
                .map(|h| StateHash(h).to_b58check())
                .unwrap_or_else(|e| format!("(no state hash: {e})")),
            outbox,
            debug: self.debug.clone(),
            durable: values,
            durable_lengths: lengths,
            pending_reveal: self.pvm.pending_reveal().map(view::reveal_parts),
            inbox: self
                .levels
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    (
                        self.level_number(i),
                        l.iter().map(|m| view::input_summary(m)).collect(),
                    )
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECHO: &str = include_str!("../../node-shim/examples/echo.wat");

    fn engine(inputs: &str) -> Engine {
        let kernel = wat::parse_str(ECHO).unwrap();
        Engine::new(&kernel, inputs).unwrap()
    }

    #[test]
    fn steps_inputs_then_kernel_runs_then_levels() {
        let mut e = engine(r#"[[{"external": "0102"}], []]"#);
        let mut none = |_: &Progress| {};
        let s = e.snapshot();
        assert_eq!(s.status, "waiting_for_input");
        assert_eq!(s.next_input, Some((0, 0, 4)));
        for _ in 0..4 {
            e.step(Step::Input, &mut none).unwrap();
        }
        assert_eq!(e.snapshot().status, "evaluating");
        assert_eq!(
            e.step(Step::Input, &mut none),
            Err(EngineError::InputsComplete(0))
        );
        e.step(Step::KernelRun, &mut none).unwrap();
        let s = e.snapshot();
        assert_eq!(s.outbox.len(), 1);
        assert_eq!(s.outbox[0].hex, "0102");
        e.step(Step::Level, &mut none).unwrap();
        assert_eq!(e.snapshot().status, "waiting_for_input");
        e.step(Step::Level, &mut none).unwrap();
        assert_eq!(
            e.step(Step::Level, &mut none),
            Err(EngineError::InboxExhausted(2))
        );
        let s = e.snapshot();
        assert!(s
            .debug
            .iter()
            .any(|(l, m)| *l == 1 && m == "start_of_level"));
        assert_eq!(
            s.durable.iter().find(|(k, _)| k == "/counter").unwrap().1,
            [1, 0, 0, 0]
        );
    }

    #[test]
    fn inbox_reports_progress_per_level() {
        let mut e = engine("[[], [], []]");
        let mut seen = Vec::new();
        e.step(Step::Inbox, &mut |p: &Progress| {
            seen.push((p.levels_done, p.levels_total))
        })
        .unwrap();
        assert_eq!(seen, [(1, 3), (2, 3), (3, 3)]);
        assert_eq!(e.snapshot().levels_fed, 3);
    }

    #[test]
    fn kernel_run_needs_complete_inputs() {
        let mut e = engine("[[]]");
        assert_eq!(
            e.step(Step::KernelRun, &mut |_: &Progress| {}),
            Err(EngineError::NotEvaluating)
        );
    }

    #[test]
    fn bad_inputs_and_kernels_are_precise_errors() {
        let kernel = wat::parse_str(ECHO).unwrap();
        let err = Engine::new(&kernel, "[[{\"external\": \"zz\"}]]")
            .err()
            .unwrap();
        assert!(err.to_string().starts_with("inputs: "), "{err}");
        let err = Engine::new(b"\0asm\x01\0\0\0", "[]").err().unwrap();
        assert!(err.to_string().contains("kernel"), "{err}");
    }
}
