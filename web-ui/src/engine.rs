//! The playground's worker state: a [`soru_core::debugger::Session`], the very session `soru
//! debug` drives, so the playground's commands, their output and their errors are the CLI's.
//!
//! It runs inside the Web Worker (and natively in tests). The page sends command lines (its
//! buttons are shortcuts for `step tick`, `step inbox`, ...); [`Playground::execute`] runs them
//! and returns the session's text. After each request the page gets a [`Snapshot`] of
//! everything its panels show, read from the session's PVM.

use serde::{Deserialize, Serialize};
use soru_core::debugger::{parse, Command, Outcome, Reply, Session, SessionConfig};
use soru_core::durable::Key;
use soru_core::inputs::{self, Defaults};
use soru_core::pvm::{Pvm, PvmConfig, PvmError};
use soru_core::reveal::PreimageMap;
use soru_core::state::STUCK_FLAG_KEY;
use soru_verifier::StateHash;

use crate::view::{self, OutboxEntry};

/// Why a kernel and inputs could not start a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The kernel file could not be read.
    #[error("{0}")]
    KernelFile(#[from] crate::kernel_file::KernelFileError),
    /// The inputs JSON is not in the debugger's format.
    #[error("inputs: {0}")]
    Inputs(String),
    /// The PVM refused the kernel.
    #[error("{0}")]
    Pvm(#[from] PvmError),
}

/// Everything the playground's panels show after a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Snapshot {
    /// `waiting_for_input`, `evaluating`, `waiting_for_reveal` or `stuck`.
    pub status: String,
    /// The debugger's `show status` text (`Status: ...`, `Internal_status: ...`).
    pub status_text: String,
    /// Why the PVM is stuck for good, if it is.
    pub stuck_reason: Option<String>,
    /// Whether the last `kernel_run` trapped (the `/readonly/kernel/env/stuck` flag).
    pub trapped: bool,
    /// Where the last `kernel_run` trapped: function, call stack and tick (the debugger's
    /// `Trap in ...` line, [`soru_core::debugger::TrapSite`]).
    pub trap: Option<String>,
    /// The level being loaded or run, or the last one.
    pub level: Option<u32>,
    /// The inbox being loaded input by input: `(level, inputs fed, inputs left)`.
    pub loading: Option<(u32, u32, usize)>,
    /// Inboxes (levels) given in the inputs.
    pub levels_total: usize,
    /// Inboxes started so far.
    pub levels_fed: usize,
    /// Ticks since origination (decimal; may exceed 2^53).
    pub ticks: String,
    /// wasmi fuel used since origination.
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
    /// The inputs, one list of message summaries per level (with the level number); the
    /// protocol's `Start_of_level`, `Info_per_level` and `End_of_level` are not listed.
    pub inbox: Vec<(u32, Vec<String>)>,
}

/// A debugger session with what the panels accumulate across levels.
pub struct Playground {
    session: Session,
    preimages: PreimageMap,
    first_level: u32,
    /// Every debug message seen, with its level.
    debug: Vec<(u32, String)>,
    /// The level whose debug messages the PVM holds now, and how many of them are in `debug`.
    debug_seen: (Option<u32>, usize),
}

/// Whether a command line changes the session (and is therefore replayed when a session is
/// restored): steps, `load inputs`, reveals, breakpoints and `stop`. `show ...` and the other
/// read-only commands are not.
pub fn changes_state(line: &str) -> bool {
    let line = line.trim();
    let line = line.strip_prefix("time ").unwrap_or(line);
    matches!(
        parse(line),
        Ok(Command::Step(_)
            | Command::LoadInputs
            | Command::RevealPreimage(_)
            | Command::Break(_)
            | Command::DeleteBreakpoints
            | Command::Stop)
    )
}

impl Playground {
    /// Originates `kernel` (wasm bytes) with the debugger's default configuration and reads
    /// `inputs_json` (the octez debugger's inputs format), as `soru debug --kernel --inputs`.
    pub fn new(kernel: &[u8], inputs_json: &str) -> Result<Playground, EngineError> {
        let inboxes = inputs::parse_to_bytes(inputs_json, &Defaults::default())
            .map_err(|e| EngineError::Inputs(e.to_string()))?;
        let config = PvmConfig::default();
        let first_level = config.first_level;
        let pvm = Pvm::new(kernel, config)?;
        Ok(Playground {
            session: Session::new(pvm, inboxes, SessionConfig::default()),
            preimages: PreimageMap::new(),
            first_level,
            debug: Vec::new(),
            debug_seen: (None, 0),
        })
    }

    /// Gives `profile` a clock (nanoseconds from any origin), as `soru debug` does.
    pub fn set_clock(&mut self, clock: fn() -> u64) {
        self.session.set_clock(clock);
    }

    /// The session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Runs one command line as `soru debug` does. Preimages given with `reveal preimage <hex>`
    /// are kept, so later reveals of the same data are answered without asking.
    pub fn execute(&mut self, line: &str) -> Reply {
        let line = line.trim();
        let reply = self.session.execute(line, &mut self.preimages);
        if let Ok(Command::RevealPreimage(Some(hex_text))) = parse(line) {
            if reply.outcome != Outcome::Error {
                if let Ok(data) = hex::decode(hex_text) {
                    self.preimages.insert(data);
                }
            }
        }
        self.collect_debug();
        reply
    }

    /// The level being loaded or run, or the last one started.
    fn current_level(&self) -> Option<u32> {
        let p = self.session.position();
        match p.loading {
            Some((level, ..)) => Some(level),
            None if p.inboxes_started > 0 => Some(p.next_level.wrapping_sub(1)),
            None => None,
        }
    }

    fn collect_debug(&mut self) {
        let level = self.current_level();
        let messages = self.session.pvm().debug_messages();
        if level != self.debug_seen.0 || messages.len() < self.debug_seen.1 {
            self.debug_seen = (level, 0);
        }
        let at = level.unwrap_or(self.first_level);
        for m in &messages[self.debug_seen.1..] {
            self.debug
                .push((at, String::from_utf8_lossy(m).trim_end().to_string()));
        }
        self.debug_seen.1 = messages.len();
    }

    /// What the panels show now.
    pub fn snapshot(&self) -> Snapshot {
        let pvm = self.session.pvm();
        let durable = pvm.durable();
        let trapped = Key::from_path(STUCK_FLAG_KEY)
            .ok()
            .and_then(|k| durable.has_value(&k).ok())
            .unwrap_or(false);
        let mut values = Vec::new();
        let mut lengths = Vec::new();
        for (key, value) in pvm.durable_values().flatten() {
            lengths.push(value.len());
            let mut value = value;
            value.truncate(view::MAX_VALUE_SHOWN);
            values.push((key, value));
        }
        let position = self.session.position();
        let mut outbox = Vec::new();
        for level in self.first_level..position.next_level {
            if let Ok(messages) = pvm.outbox(level) {
                for (i, bytes) in messages.iter().enumerate() {
                    outbox.push(OutboxEntry::new(level, i, bytes));
                }
            }
        }
        let report = pvm.report().ok();
        Snapshot {
            status: pvm.status().to_string(),
            status_text: self.session.status_text(),
            stuck_reason: pvm.stuck_reason().map(|r| r.to_string()),
            trapped,
            trap: self.session.last_trap().map(|t| t.to_string()),
            level: self.current_level(),
            loading: position.loading,
            levels_total: self.session.inboxes().len(),
            levels_fed: position.inboxes_started,
            ticks: pvm.ticks().to_string(),
            fuel: pvm.fuel(),
            kernel_runs: report.as_ref().map(|r| r.kernel_runs).unwrap_or(0),
            reboot_counter: pvm.reboot_counter(),
            state_hash: pvm
                .state_hash()
                .map(|h| StateHash(h).to_b58check())
                .unwrap_or_else(|e| format!("(no state hash: {e})")),
            outbox,
            debug: self.debug.clone(),
            durable: values,
            durable_lengths: lengths,
            pending_reveal: pvm.pending_reveal().map(view::reveal_parts),
            inbox: self
                .session
                .inboxes()
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    (
                        self.first_level.wrapping_add(i as u32),
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

    fn playground(inputs: &str) -> Playground {
        let kernel = wat::parse_str(ECHO).unwrap();
        Playground::new(&kernel, inputs).unwrap()
    }

    #[test]
    fn commands_give_the_debuggers_text_and_the_panels_follow() {
        let mut p = playground(r#"[[{"external": "0102"}], []]"#);
        let s = p.snapshot();
        assert_eq!(s.status, "waiting_for_input");
        assert_eq!(s.levels_total, 2);
        assert_eq!(s.level, None);
        let r = p.execute("step tick");
        assert_eq!(r.outcome, Outcome::Done);
        assert!(
            r.output.starts_with("Evaluation took 1 ticks so far\n"),
            "{}",
            r.output
        );
        assert_eq!(p.snapshot().loading, Some((0, 1, 3)));
        let r = p.execute("step inbox");
        assert!(
            r.output
                .ends_with("Status: Waiting for input\nInternal_status: Collect\n"),
            "{}",
            r.output
        );
        let s = p.snapshot();
        assert_eq!(s.level, Some(0));
        assert_eq!(s.levels_fed, 1);
        assert_eq!(s.outbox.len(), 1);
        assert_eq!(s.outbox[0].hex, "0102");
        assert!(s.status_text.starts_with("Status: Waiting for input"));
        assert_eq!(p.execute("show key /counter as i32").output, "1\n");
        p.execute("step inbox");
        let s = p.snapshot();
        assert!(
            s.debug
                .iter()
                .any(|(l, m)| *l == 1 && m == "start_of_level"),
            "{:?}",
            s.debug
        );
        assert!(s.debug.iter().any(|(l, _)| *l == 0));
        let r = p.execute("step inbox");
        assert!(
            r.output.starts_with("No more inputs at level 2\n"),
            "{}",
            r.output
        );
        let r = p.execute("jump");
        assert_eq!(r.outcome, Outcome::Error);
        assert_eq!(r.output, "Unknown command `jump`\n");
    }

    #[test]
    fn only_state_changing_commands_are_replayed() {
        assert!(changes_state("step inbox"));
        assert!(changes_state(" time step tick "));
        assert!(changes_state("reveal preimage 00"));
        assert!(changes_state("break on output"));
        assert!(!changes_state("show status"));
        assert!(!changes_state("ls /"));
        assert!(!changes_state("step sideways"));
    }

    #[test]
    fn bad_inputs_and_kernels_are_precise_errors() {
        let kernel = wat::parse_str(ECHO).unwrap();
        let err = Playground::new(&kernel, "[[{\"external\": \"zz\"}]]")
            .err()
            .unwrap();
        assert!(err.to_string().starts_with("inputs: "), "{err}");
        let err = Playground::new(b"\0asm\x01\0\0\0", "[]").err().unwrap();
        assert!(err.to_string().contains("kernel"), "{err}");
    }
}
