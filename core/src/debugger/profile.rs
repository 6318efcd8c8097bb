//! `profile [--collapsed] [--without-time] [--no-reboot]`: octez's profiler, weighted by fuel
//! (Soru's octez ticks) per kernel function.
//!
//! Like octez's, `profile` loads the next inbox when the PVM waits for one, then evaluates
//! until the PVM waits for inputs again (with `--no-reboot`, for one `kernel_run` only), and
//! the session goes on from there. The profiled evaluation runs the instrumented kernel on a
//! copy of the PVM ([`Pvm::profiling_copy`], see [`crate::pvm::profile`]); the session's own
//! PVM then evaluates the same inputs uninstrumented, so its state hash, ticks and fuel are
//! exactly those of `step inbox`. The profile's total fuel is checked against that real
//! evaluation and a difference is reported.
//!
//! As in octez, debug messages `__wasm_debugger__::start_section(<data>)` and
//! `__wasm_debugger__::end_section(<data>)` are not printed; each ended section prints
//! `__wasm_debugger__::Section{ticks:<fuel between them>;data:(0x<start>,0x<end>)}` instead.
//!
//! The shell writes [`ProfileReport::stacks`] (octez's `wasm-debugger-profiling-<time>.out`
//! file: collapsed stacks with `--collapsed`, otherwise one line per call in time order, a
//! flame chart) and draws it, then prints [`ProfileReport::summary`].

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use super::{function_names, Reply, Session};
use crate::durable::Key;
use crate::pvm::profile::{debug_call, DebugCall, RunProfile};
use crate::pvm::{Pvm, PvmError, Status};
use crate::reveal::{Reveal, RevealRequest};
use crate::state::KERNEL_KEY;

/// `profile`'s options (octez's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProfileOptions {
    /// `--collapsed`: merge identical stacks (a flame graph, not a flame chart).
    pub collapsed: bool,
    /// `--without-time`: do not time the calls.
    pub without_time: bool,
    /// `--no-reboot`: profile one `kernel_run`, not the whole inbox.
    pub no_reboot: bool,
}

/// Stacks deeper than this are folded into their ancestor at this depth (octez's
/// `max_depth`); their fuel is kept.
pub const MAX_DEPTH: usize = 100;

/// The outcome of `profile`: the call trees of the profiled runs, the names of their frames,
/// and what the session's own evaluation of the same inputs used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileReport {
    /// The options it ran with.
    pub options: ProfileOptions,
    /// One call tree per `kernel_run` profiled.
    pub runs: Vec<RunProfile>,
    /// Frame names by function index (the kernel's name section, else the import's name).
    pub names: BTreeMap<u32, String>,
    /// Fuel the session's own evaluation used.
    pub fuel: u64,
    /// Ticks the session moved by (padding included).
    pub ticks: u128,
}

/// The name of a frame: `kernel_run` for a run's root, else the function's name in `names`
/// (without `;` and newlines, which the stack format uses), else `function[<index>]`.
pub(super) fn frame_name(names: &BTreeMap<u32, String>, function: u32, root: bool) -> String {
    if root {
        return String::from(crate::pvm::kernel::KERNEL_ENTRYPOINT);
    }
    match names.get(&function) {
        // `;` separates frames and a newline ends a line in the stack format.
        Some(n) => n.replace([';', '\n'], ":"),
        None => format!("function[{function}]"),
    }
}

impl ProfileReport {
    fn name(&self, function: u32, root: bool) -> String {
        frame_name(&self.names, function, root)
    }

    /// The total fuel of the profiled runs.
    pub fn profiled_fuel(&self) -> i64 {
        self.runs.iter().map(|r| r.tree.fuel()).sum()
    }

    /// Each stack (frames separated by `;`, the run first as `kernel_run`) and its own fuel:
    /// merged and sorted with `--collapsed`, otherwise one entry per call in the order of
    /// the calls (consecutive calls of a function merged).
    pub fn stack_fuel(&self) -> Vec<(String, i64)> {
        let mut lines = Vec::new();
        for run in &self.runs {
            let tree = &run.tree;
            // Depth-first, children in call order: (node, depth, prefix).
            let mut todo = alloc::vec![(0usize, 0usize, String::new())];
            while let Some((node, depth, prefix)) = todo.pop() {
                let n = &tree.nodes[node];
                let name = self.name(n.function, node == 0);
                let stack = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix};{name}")
                };
                if depth + 1 >= MAX_DEPTH {
                    lines.push((stack, subtree_fuel(tree, node)));
                    continue;
                }
                lines.push((stack.clone(), n.fuel));
                for &child in n.children.iter().rev() {
                    todo.push((child, depth + 1, stack.clone()));
                }
            }
        }
        if self.options.collapsed {
            let mut merged: BTreeMap<String, i64> = BTreeMap::new();
            for (stack, fuel) in lines {
                *merged.entry(stack).or_default() += fuel;
            }
            return merged.into_iter().collect();
        }
        lines
    }

    /// The stack file: one `stack fuel` line per [`ProfileReport::stack_fuel`] entry.
    pub fn stacks(&self) -> String {
        let mut out = String::new();
        for (stack, fuel) in self.stack_fuel() {
            let _ = writeln!(out, "{stack} {fuel}");
        }
        out
    }

    /// What octez prints after the profile (ticks are Soru's fuel: octez's ticks of the
    /// evaluation; padding counted separately).
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let timed = !self.options.without_time;
        for run in &self.runs {
            let fuel = run.tree.fuel();
            let time = if timed { run.tree.time() } else { None };
            let _ = writeln!(out, "----------------------");
            let _ = writeln!(out, "Detailed results for a `kernel_run`:");
            let _ = writeln!(
                out,
                "{}: {fuel} ticks{}",
                crate::pvm::kernel::KERNEL_ENTRYPOINT,
                time_text(time)
            );
            let _ = writeln!(out);
            let _ = writeln!(out, "Full execution: {fuel} ticks{}", time_text(time));
        }
        let profiled = self.profiled_fuel();
        if profiled != self.fuel as i64 {
            let _ = writeln!(
                out,
                "Warning: the profiled runs used {profiled} ticks, the evaluation itself {}: the profile is off by the difference",
                self.fuel
            );
        }
        let _ = writeln!(out, "----------------------");
        let _ = writeln!(out, "Full execution with padding: {} ticks", self.ticks);
        out
    }
}

fn subtree_fuel(tree: &crate::pvm::profile::CallTree, node: usize) -> i64 {
    let mut total = 0;
    let mut todo = alloc::vec![node];
    while let Some(n) = todo.pop() {
        total += tree.nodes[n].fuel;
        todo.extend(tree.nodes[n].children.iter().copied());
    }
    total
}

/// A span as octez prints one (` (1.5ms)`), or nothing.
fn time_text(nanos: Option<u64>) -> String {
    let Some(ns) = nanos else {
        return String::new();
    };
    let text = if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{:.3}us", ns as f64 / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.3}ms", ns as f64 / 1e6)
    } else {
        format!("{:.3}s", ns as f64 / 1e9)
    };
    format!(" ({text})")
}

/// Why the profiled evaluation stopped early.
enum Halt {
    Pvm(PvmError),
    /// The kernel waits for a preimage the [`Reveal`] does not have.
    Preimage(Vec<u8>),
    /// Ctrl-C.
    Interrupted,
}

impl From<PvmError> for Halt {
    fn from(e: PvmError) -> Halt {
        Halt::Pvm(e)
    }
}

impl Session {
    /// Octez's `profile` (see the module documentation).
    pub(super) fn profile(&mut self, options: ProfileOptions, reveal: &mut dyn Reveal) -> Reply {
        if self.pvm.in_kernel_run() || self.pvm.status() == Status::WaitingForReveal {
            return Reply::error(
                "Profiling can only be done from a snapshotable state or when waiting for input. You can use `step kernel_run` to go to the next snapshotable state.",
            );
        }
        // A Ctrl-C before this command is not for it.
        let _ = self.interrupted();
        self.after = super::After::Nothing;
        self.final_memory = None;
        let mut out = String::from(
            "Starting the profiling until new messages are expected. Please note that it will take some time and does not reflect a real computation time.\n",
        );
        if self.accepts_inputs() {
            match self.load_rest() {
                Ok(text) if text.starts_with("No more inputs") => out.push_str(&text),
                Ok(_) => {}
                Err(e) => return Reply::error(format!("Error: {e}")),
            }
        }
        let names = match self.frame_names() {
            Ok(n) => n,
            Err(e) => return Reply::error(e),
        };
        let clock = if options.without_time {
            None
        } else {
            self.clock
        };
        let mut copy = match self.pvm.profiling_copy(clock) {
            Ok(c) => c,
            Err(e) => return Reply::error(format!("Error: {e}")),
        };
        let interrupt = self.interrupt.clone();
        let slice = self.config.fuel_slice;
        let interrupted = move || {
            interrupt
                .as_ref()
                .is_some_and(|f| f.swap(false, core::sync::atomic::Ordering::SeqCst))
        };
        match evaluate(&mut copy, options.no_reboot, slice, reveal, &interrupted) {
            Ok(()) => {}
            Err(Halt::Pvm(e)) => return Reply::error(format!("Error: profile: {e}")),
            Err(Halt::Preimage(hash)) => {
                return Reply::error(format!(
                    "Error: profile: the kernel asks for the preimage {}, which is not in the preimage directory (add it there, or `step inbox` and provide it)",
                    hex::encode(hash)
                ))
            }
            Err(Halt::Interrupted) => {
                return Reply::error(
                    "Interrupted: profile abandoned; the session is where it started (with the next inbox loaded, if it was waiting for one), nothing evaluated",
                )
            }
        }
        let runs = copy.take_profiles();
        let sections = copy.take_sections();
        let (ticks, fuel) = (self.pvm.ticks(), self.pvm.fuel());
        let real = evaluate(&mut self.pvm, options.no_reboot, u64::MAX, reveal, &|| {
            false
        });
        self.sink_debug();
        // Octez's profiler keeps its debug calls out of the output and prints each ended
        // section instead (the same messages in the same order as in the profiled copy).
        let mut ended = sections.into_iter();
        let mut open = 0usize;
        self.print_debug_with(&mut out, |m| match debug_call(m) {
            Some(DebugCall::StartSection(_)) => {
                open += 1;
                None
            }
            Some(DebugCall::EndSection(_)) if open > 0 => {
                open -= 1;
                ended.next().map(|s| {
                    format!(
                        "__wasm_debugger__::Section{{ticks:{};data:(0x{},0x{})}}",
                        s.ticks,
                        hex::encode(&s.start),
                        hex::encode(&s.end)
                    )
                })
            }
            Some(DebugCall::EndSection(_)) => None,
            None => Some(String::from_utf8_lossy(m).into_owned()),
        });
        if let Err(halt) = real {
            let why = match halt {
                Halt::Pvm(e) => format!("{e}"),
                Halt::Preimage(hash) => format!("missing preimage {}", hex::encode(hash)),
                Halt::Interrupted => String::from("interrupted"),
            };
            let _ = writeln!(
                out,
                "Error: the evaluation after the profile stopped: {why}"
            );
            return Reply {
                output: out,
                outcome: super::Outcome::Error,
            };
        }
        let report = ProfileReport {
            options,
            runs,
            names,
            fuel: self.pvm.fuel() - fuel,
            ticks: self.pvm.ticks() - ticks,
        };
        Reply {
            output: out,
            outcome: super::Outcome::Profiled(alloc::boxed::Box::new(report)),
        }
    }

    /// Names of the current kernel's functions ([`kernel_frame_names`]).
    pub(super) fn frame_names(&self) -> Result<BTreeMap<u32, String>, String> {
        kernel_frame_names(&self.pvm)
    }
}

/// Names of the functions of `pvm`'s current kernel, by function index: its name section, else
/// the import's field name.
pub fn kernel_frame_names(pvm: &Pvm) -> Result<BTreeMap<u32, String>, String> {
    let kernel = pvm
        .durable()
        .read_all(&Key::from_path(KERNEL_KEY).map_err(|e| format!("Error: {e}"))?)
        .map_err(|e| format!("Error: {e}"))?
        .unwrap_or_default();
    let mut names = BTreeMap::new();
    let mut index = 0u32;
    for payload in wasmparser::Parser::new(0).parse_all(&kernel) {
        if let Ok(wasmparser::Payload::ImportSection(reader)) = payload {
            for import in reader.into_iter().flatten() {
                if let wasmparser::TypeRef::Func(_) = import.ty {
                    names.insert(index, String::from(import.name));
                    index += 1;
                }
            }
        }
    }
    let named =
        function_names(&kernel).map_err(|e| format!("Error: the kernel's name section: {e}"))?;
    names.extend(named);
    Ok(names)
}

/// Evaluates until the PVM waits for inputs (or, with `one_run`, until one `kernel_run`
/// ended), by slices of `slice` fuel, answering reveals from `reveal`.
fn evaluate(
    pvm: &mut Pvm,
    one_run: bool,
    slice: u64,
    reveal: &mut dyn Reveal,
    interrupted: &dyn Fn() -> bool,
) -> Result<(), Halt> {
    let mut started = false;
    loop {
        match pvm.status() {
            Status::WaitingForInput | Status::Stuck => return Ok(()),
            Status::WaitingForReveal => {
                let Some(request) = pvm.pending_reveal().cloned() else {
                    return Ok(());
                };
                match reveal.reveal(&request) {
                    Some(data) => {
                        pvm.resume_reveal(&data, reveal)?;
                    }
                    None => {
                        return Err(Halt::Preimage(match request {
                            RevealRequest::Preimage(hash) => hash,
                            other => other.payload(),
                        }))
                    }
                }
            }
            Status::Evaluating => {
                if one_run && started && !pvm.in_kernel_run() {
                    return Ok(());
                }
                if !pvm.in_kernel_run() {
                    started = true;
                }
                pvm.step_fuel(slice, reveal)?;
                if interrupted() {
                    return Err(Halt::Interrupted);
                }
            }
        }
        if one_run && started && !pvm.in_kernel_run() && pvm.status() == Status::Evaluating {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debugger::{Outcome, SessionConfig};
    use crate::pvm::PvmConfig;
    use crate::reveal::NoReveal;
    use alloc::vec;

    /// `kernel_run` calls `$down` with 150: a recursion deeper than [`MAX_DEPTH`].
    const DEEP: &str = r#"(module
      (memory (export "memory") 1)
      (func $down (param $n i32)
        (if (local.get $n) (then (call $down (i32.sub (local.get $n) (i32.const 1))))))
      (func (export "kernel_run") (call $down (i32.const 150))))"#;

    fn session(wat_text: &str, levels: usize) -> Session {
        let kernel = wat::parse_str(wat_text).unwrap();
        let config = PvmConfig {
            ticks_per_snapshot: 1_000_000,
            ..PvmConfig::default()
        };
        let pvm = Pvm::new(&kernel, config).unwrap();
        let config = SessionConfig {
            fuel_slice: 50,
            ..SessionConfig::default()
        };
        Session::new(pvm, vec![vec![]; levels], config)
    }

    fn report(s: &mut Session, line: &str) -> ProfileReport {
        let reply = s.execute(line, &mut NoReveal);
        match reply.outcome {
            Outcome::Profiled(r) => *r,
            other => panic!("{line}: {other:?}: {}", reply.output),
        }
    }

    #[test]
    fn profile_folds_deep_stacks_and_leaves_the_state_of_step_inbox() {
        let mut profiled = session(DEEP, 2);
        let r = report(&mut profiled, "profile --collapsed --without-time");
        let mut plain = session(DEEP, 2);
        assert_eq!(
            plain.execute("step inbox", &mut NoReveal).outcome,
            Outcome::Done
        );
        assert_eq!(
            profiled.pvm().state_hash().unwrap(),
            plain.pvm().state_hash().unwrap()
        );
        assert_eq!(profiled.pvm().ticks(), plain.pvm().ticks());
        assert_eq!(r.fuel, plain.pvm().fuel());
        let stacks = r.stack_fuel();
        // kernel_run, then `down` nested 151 times, folded at depth MAX_DEPTH.
        assert_eq!(stacks.len(), MAX_DEPTH);
        let deepest = &stacks.last().unwrap().0;
        assert_eq!(deepest.split(';').count(), MAX_DEPTH);
        assert!(deepest.starts_with("kernel_run;down;down"), "{deepest}");
        assert_eq!(stacks.iter().map(|(_, f)| f).sum::<i64>(), r.fuel as i64);
        assert_eq!(r.profiled_fuel(), r.fuel as i64);
        assert!(!r.summary().contains("Warning"), "{}", r.summary());
        assert!(r
            .summary()
            .ends_with(&format!("Full execution with padding: {} ticks\n", r.ticks)));
    }

    #[test]
    fn a_reveal_in_a_profile_is_answered_or_reported() {
        let data = b"revealed bytes".to_vec();
        let hash = crate::reveal::preimage_hash(&data);
        let escaped: String = hash.iter().map(|b| format!("\\{b:02x}")).collect();
        let kernel = format!(
            r#"(module
          (import "smart_rollup_core" "reveal_preimage" (func $reveal (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "{escaped}")
          (func (export "kernel_run")
            (drop (call $reveal (i32.const 0) (i32.const 33) (i32.const 256) (i32.const 4096)))))"#
        );
        let mut s = session(&kernel, 1);
        let reply = s.execute("profile", &mut NoReveal);
        assert_eq!(reply.outcome, Outcome::Error);
        assert!(
            reply
                .output
                .contains(&format!("asks for the preimage {}", hex::encode(hash))),
            "{}",
            reply.output
        );
        let mut map = crate::reveal::PreimageMap::new();
        map.insert(data);
        let reply = s.execute("profile --collapsed", &mut map);
        let Outcome::Profiled(r) = reply.outcome else {
            panic!("{}", reply.output);
        };
        let stacks = r.stack_fuel();
        let reveal = stacks
            .iter()
            .find(|(s, _)| s == "kernel_run;reveal")
            .unwrap_or_else(|| panic!("{stacks:?}\n{}", r.summary()));
        // The import's name-section name; octez's reveal tick and ticks per byte, plus the
        // call's own. (With 50-fuel slices the reveal draws on the run's reserve.)
        assert!(reveal.1 > 14 * 42, "{stacks:?}");
        assert_eq!(r.profiled_fuel(), r.fuel as i64);
    }

    #[test]
    fn debug_call_sections_print_their_ticks_like_octez() {
        use crate::pvm::profile::{debug_call, DebugCall};
        assert_eq!(
            debug_call(b"x __wasm_debugger__::start_section(a(b)c) y"),
            Some(DebugCall::StartSection(b"a(b)c".to_vec()))
        );
        assert_eq!(
            debug_call(b"__wasm_debugger__::end_section()"),
            Some(DebugCall::EndSection(Vec::new()))
        );
        assert_eq!(debug_call(b"__wasm_debugger__::other(x)"), None);
        assert_eq!(debug_call(b"__wasm_debugger__::start_section"), None);
        let kernel = r#"(module
          (import "smart_rollup_core" "write_debug" (func $debug (param i32 i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "__wasm_debugger__::start_section(ab)")
          (data (i32.const 64) "__wasm_debugger__::end_section(cd)")
          (data (i32.const 128) "between")
          (func (export "kernel_run") (local $i i32)
            (call $debug (i32.const 0) (i32.const 36))
            (call $debug (i32.const 128) (i32.const 7))
            (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (i32.const 100))))
            (call $debug (i32.const 64) (i32.const 34))))"#;
        let mut s = session(kernel, 1);
        let reply = s.execute("profile --without-time", &mut NoReveal);
        let Outcome::Profiled(r) = &reply.outcome else {
            panic!("{}", reply.output);
        };
        let lines: Vec<&str> = reply.output.lines().skip(1).collect();
        assert_eq!(lines.len(), 2, "{}", reply.output);
        assert_eq!(lines[0], "between");
        let ticks: u64 = lines[1]
            .strip_prefix("__wasm_debugger__::Section{ticks:")
            .and_then(|t| t.strip_suffix(";data:(0x6162,0x6364)}"))
            .unwrap_or_else(|| panic!("{}", lines[1]))
            .parse()
            .unwrap();
        // The second write_debug, the 100 rounds of the loop, the third write_debug.
        assert!(ticks > 500 && ticks < r.fuel, "{ticks} of {}", r.fuel);
        // `show debug log` still has every message.
        assert!(s
            .execute("show debug log", &mut NoReveal)
            .output
            .starts_with("Debug log has 3 messages:"));
    }

    #[test]
    fn profile_refuses_inside_a_run_and_rejects_unknown_options() {
        let mut s = session(DEEP, 1);
        s.execute("load inputs", &mut NoReveal);
        let tick = s.execute("step tick", &mut NoReveal);
        assert!(s.pvm().in_kernel_run(), "{}", tick.output);
        let reply = s.execute("profile", &mut NoReveal);
        assert_eq!(reply.outcome, Outcome::Error);
        assert!(reply
            .output
            .starts_with("Profiling can only be done from a snapshotable state"));
        assert_eq!(
            s.execute("profile --fast", &mut NoReveal).output,
            "Unknown command `profile --fast`\n"
        );
        // After the run, a profile with no inbox left profiles nothing.
        s.execute("step inbox", &mut NoReveal);
        let r = report(&mut s, "profile --no-reboot");
        assert!(r.runs.is_empty());
        assert_eq!((r.fuel, r.ticks), (0, 0));
    }
}
