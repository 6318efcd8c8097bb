//! Where a `kernel_run` trapped.
//!
//! wasmi says why a run trapped, not in which function. So the session keeps a fork of the
//! PVM at the start of every `kernel_run` ([`Pvm::fork`], which shares the state and the
//! compiled kernel) and, when that run traps, runs it again on a profiling copy of the fork
//! ([`Pvm::profiling_copy`]): the copy's open frames when its run ends
//! ([`crate::pvm::profile::RunProfile::open`]) are the call stack of the trap. The run is
//! deterministic, so the copy traps at the same instruction; the copy is then dropped and the
//! session's PVM is not touched. This costs a second run only when a run traps.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::profile::{frame_name, kernel_frame_names};
use super::Session;
use crate::pvm::{Progress, Pvm, RunFailure};
use crate::reveal::Reveal;

/// A trapped `kernel_run`, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrapSite {
    /// The level it ran in.
    pub level: u32,
    /// Index of the run in its level.
    pub run: u32,
    /// The trap, e.g. "wasm trap: wasm `unreachable` instruction executed".
    pub reason: String,
    /// The PVM tick of the trap: the run's first tick plus the fuel (ticks) it had used.
    pub tick: u128,
    /// Fuel (ticks) the run had used when it trapped.
    pub fuel: u64,
    /// The call stack at the trap, outermost (`kernel_run`) first, by function name (the
    /// kernel's name section, else `function[<index>]`): the last one trapped.
    pub stack: Vec<String>,
    /// Why the stack is empty, when it is.
    pub unknown: Option<String>,
}

impl fmt::Display for TrapSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stack.last() {
            Some(function) => write!(f, "Trap in `{function}` (")?,
            None => f.write_str("Trap (")?,
        }
        write!(
            f,
            "at tick {}, {} ticks into kernel_run {} of level {}): {}",
            self.tick, self.fuel, self.run, self.level, self.reason
        )?;
        if self.stack.len() > 1 {
            write!(f, "; call stack: {}", self.stack.join(" > "))?;
        }
        if let Some(why) = &self.unknown {
            write!(f, "; function not found: {why}")?;
        }
        Ok(())
    }
}

impl Session {
    /// The last trap of the current run's level, located (cleared when the next run starts).
    pub fn last_trap(&self) -> Option<&TrapSite> {
        self.trap.as_ref()
    }

    /// One fuel slice of the session's PVM: forks it first when a `kernel_run` is about to
    /// start, and locates the run's trap if it traps.
    pub(super) fn slice(
        &mut self,
        fuel: u64,
        reveal: &mut dyn Reveal,
    ) -> Result<Progress, crate::pvm::PvmError> {
        let starts =
            !self.pvm.in_kernel_run() && self.pvm.status() == crate::pvm::Status::Evaluating;
        if starts {
            self.run_start = self.pvm.fork().ok();
        }
        let failures = self.pvm.failures().len();
        let progress = self.pvm.step_fuel(fuel, reveal)?;
        if starts && progress != Progress::Yielded {
            self.trap = None;
        }
        if self.pvm.failures().len() > failures {
            let failure = self.pvm.failures().last().cloned();
            let start = self.run_start.take();
            if let (Some(failure), Some(start)) = (failure, start) {
                if !failure.stuck {
                    let site = self.locate(&start, failure, reveal);
                    self.trap = Some(site);
                    self.trap_unprinted = true;
                }
            }
        }
        Ok(progress)
    }

    /// Runs the run that ended in `failure` again from `start`, profiled, and names its frames.
    fn locate(&self, start: &Pvm, failure: RunFailure, reveal: &mut dyn Reveal) -> TrapSite {
        let mut site = TrapSite {
            level: self.pvm.level(),
            run: failure.run,
            reason: failure.reason,
            tick: start.ticks().saturating_add(u128::from(failure.fuel)),
            fuel: failure.fuel,
            stack: Vec::new(),
            unknown: None,
        };
        let found = self
            .frame_names()
            .and_then(|names| Ok((names, rerun(start, reveal)?)));
        match found {
            Ok((names, open)) => site.stack = named(&names, &open),
            Err(why) => site.unknown = Some(why),
        }
        site
    }
}

/// The open frames at the end of the run that starts at `start`, run again profiled.
fn rerun(start: &Pvm, reveal: &mut dyn Reveal) -> Result<Vec<u32>, String> {
    let mut copy = start
        .profiling_copy(None)
        .map_err(|e| alloc::format!("{e}"))?;
    loop {
        match copy
            .step_fuel(u64::MAX, reveal)
            .map_err(|e| alloc::format!("{e}"))?
        {
            Progress::Paused { .. } => continue,
            Progress::WaitingForReveal => {
                let request = copy.pending_reveal().cloned();
                let data = request.as_ref().and_then(|r| reveal.reveal(r));
                match data {
                    Some(data) => {
                        copy.resume_reveal(&data, reveal)
                            .map_err(|e| alloc::format!("{e}"))?;
                    }
                    None => {
                        return Err(String::from(
                            "the run reveals a preimage that was given by hand",
                        ))
                    }
                }
            }
            Progress::RunEnded { .. } | Progress::Yielded | Progress::Stuck => break,
        }
    }
    let run = copy.take_profiles().pop();
    match run {
        Some(run) if !run.open.is_empty() => Ok(run.open),
        _ => Err(String::from("the profiled run ended outside any function")),
    }
}

/// The call stacks of the `kernel_run`s of one level that trapped, found the same way for a
/// whole level (`soru replay` uses it): `start` is the PVM before the level (waiting for its
/// inputs, e.g. a [`Pvm::fork`] taken then), `messages` the level's inbox as
/// [`Pvm::run_level`] takes it. The level runs again on a profiling copy of `start`; the answer
/// maps each trapped run's index to its stack, outermost (`kernel_run`) first. Names come from
/// the kernel installed at the level's start.
pub fn level_trap_stacks(
    start: &Pvm,
    messages: &[alloc::vec::Vec<u8>],
    reveal: &mut dyn Reveal,
) -> Result<BTreeMap<u32, Vec<String>>, String> {
    let names = kernel_frame_names(start)?;
    let mut copy = start
        .profiling_copy(None)
        .map_err(|e| alloc::format!("{e}"))?;
    let report = copy
        .run_level(messages, reveal)
        .map_err(|e| alloc::format!("{e}"))?;
    let runs = copy.take_profiles();
    let mut stacks = BTreeMap::new();
    for f in report.failures.iter().filter(|f| !f.stuck) {
        if let Some(run) = runs.get(f.run as usize).filter(|r| !r.open.is_empty()) {
            stacks.insert(f.run, named(&names, &run.open));
        }
    }
    Ok(stacks)
}

fn named(names: &BTreeMap<u32, String>, open: &[u32]) -> Vec<String> {
    open.iter()
        .enumerate()
        .map(|(i, &function)| frame_name(names, function, i == 0))
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::debugger::{Session, SessionConfig};
    use crate::pvm::{Pvm, PvmConfig};
    use crate::reveal::NoReveal;
    use alloc::vec;

    /// Loops `$spin` 1000 times at the first level, then `$fail` traps under `$middle`; the
    /// next level's run returns.
    const TRAPS: &str = r#"(module
      (import "smart_rollup_core" "read_input" (func $read (param i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func $spin (local $i i32)
        (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 1000)))))
      (func $fail unreachable)
      (func $middle (call $spin) (call $fail))
      (func (export "kernel_run")
        (loop $inputs
          (if (i32.gt_s (call $read (i32.const 0) (i32.const 100) (i32.const 200)) (i32.const 0))
            (then
              (if (i32.eq (i32.load16_u (i32.const 100)) (i32.const 0x2101)) (then (call $middle)))
              (br $inputs))))))"#;

    fn session(fuel_slice: u64) -> Session {
        let kernel = wat::parse_str(TRAPS).unwrap();
        let pvm = Pvm::new(&kernel, PvmConfig::default()).unwrap();
        let config = SessionConfig {
            fuel_slice,
            ..SessionConfig::default()
        };
        Session::new(
            pvm,
            vec![vec![b"\x01!".to_vec()], vec![b"\x01.".to_vec()]],
            config,
        )
    }

    #[test]
    fn a_trap_is_located_by_function_stack_and_tick() {
        let mut s = session(SessionConfig::default().fuel_slice);
        let reply = s.execute("step inbox", &mut NoReveal);
        let trap = s.last_trap().expect("the run trapped").clone();
        assert_eq!(trap.stack, ["kernel_run", "middle", "fail"]);
        assert_eq!(trap.unknown, None);
        assert!(trap.reason.contains("unreachable"), "{}", trap.reason);
        assert_eq!((trap.level, trap.run), (0, 0));
        assert!(
            trap.fuel > 1000 * 5,
            "the spin loop's fuel is counted: {}",
            trap.fuel
        );
        let line = alloc::format!("{trap}\n");
        assert!(reply.output.contains(&line), "{}", reply.output);
        assert!(line.starts_with("Trap in `fail` (at tick "), "{line}");
        assert!(
            line.contains("; call stack: kernel_run > middle > fail"),
            "{line}"
        );
        // The step's report says the same fuel and the locating run left the PVM as it was.
        assert_eq!(s.pvm.failures()[0].fuel, trap.fuel);
        let hash = s.execute("show state hash", &mut NoReveal).output;
        let mut plain = session(SessionConfig::default().fuel_slice);
        plain
            .pvm
            .step_level(0, 0, &[0; 32], &[b"\x01!".to_vec()], &mut NoReveal)
            .unwrap();
        plain.pvm.finish_level(&mut NoReveal).unwrap();
        assert_eq!(hash, plain.execute("show state hash", &mut NoReveal).output);
        // The next level's run returns: no trap, and none printed.
        let reply = s.execute("step inbox", &mut NoReveal);
        assert!(s.last_trap().is_none());
        assert!(!reply.output.contains("Trap"), "{}", reply.output);
    }

    #[test]
    fn a_trap_reached_slice_by_slice_is_located_at_the_same_tick() {
        let mut whole = session(SessionConfig::default().fuel_slice);
        whole.execute("step inbox", &mut NoReveal);
        let expected = whole.last_trap().unwrap().clone();
        let mut sliced = session(97);
        sliced.execute("load inputs", &mut NoReveal);
        let mut steps = 0;
        while sliced.last_trap().is_none() {
            sliced.execute("step tick", &mut NoReveal);
            steps += 1;
            assert!(steps < 10_000, "never trapped");
        }
        assert!(steps > 10, "the run took several slices: {steps}");
        assert_eq!(sliced.last_trap(), Some(&expected));
    }
}
