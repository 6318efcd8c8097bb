//! Messages between the page and its PVM workers (JSON text over `postMessage`).
//!
//! The page sends a [`ToWorker`]; the worker answers every request with one final message
//! ([`FromWorker::Done`] or [`FromWorker::Checked`], carrying the same `id`), after any number
//! of [`FromWorker::Progress`] messages (and, for a check, one [`FromWorker::Commitment`] per
//! decided commitment). A request that runs too long is stopped by terminating
//! the worker: the page starts a new one and, for the playground, replays the session's
//! state-changing commands (the PVM is deterministic).

use serde::{Deserialize, Serialize};

use crate::check::{self, CheckEvent, CheckRequest, CheckedCommitment};
use crate::engine::{Playground, Snapshot};

/// A request to a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Start a debugger session on a kernel file and inputs, then replay `commands` (restoring
    /// a session) without showing their output.
    Load {
        /// Request id.
        id: u32,
        /// The kernel file's name (decides its format).
        name: String,
        /// The kernel file in hex.
        kernel_hex: String,
        /// The inputs JSON.
        inputs: String,
        /// Command lines to replay after loading.
        commands: Vec<String>,
    },
    /// Debugger command lines, run in order until one fails (a progress message follows each).
    Commands {
        /// Request id.
        id: u32,
        /// The lines.
        lines: Vec<String>,
    },
    /// Completion candidates for a command line (as `soru debug`'s Tab).
    Complete {
        /// Request id.
        id: u32,
        /// The line up to the cursor.
        line: String,
    },
    /// Check a rollup's commitments: the genesis commitment by its kernel, the others by
    /// their witnesses or by a replay from origination ([`check::check`]).
    Check {
        /// Request id.
        id: u32,
        /// What the page fetched from the node.
        request: Box<CheckRequest>,
    },
}

/// How far a long request is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Units done (command lines, or levels replayed).
    pub done: usize,
    /// Units in total.
    pub total: usize,
    /// What was just done.
    pub text: String,
}

/// A message from a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// A long request advanced.
    Progress {
        /// Request id.
        id: u32,
        /// Where it is.
        progress: Progress,
    },
    /// A playground request finished.
    Done {
        /// Request id.
        id: u32,
        /// What the panels show now (`None` when no kernel is loaded).
        snapshot: Option<Box<Snapshot>>,
        /// The transcript of the commands run: each line echoed as `> line`, then the
        /// debugger's output (the same text `soru debug --commands` prints).
        output: String,
        /// The error, if the request failed (a refused command, or a kernel that did not load).
        error: Option<String>,
        /// The kernel waits for a preimage the session does not have (hash, hex).
        needs_preimage: Option<String>,
        /// The stacks of the last `profile` of the request with their own fuel
        /// ([`soru_core::debugger::ProfileReport::stack_fuel`]), for the flame graph.
        profile: Option<Vec<(String, i64)>>,
        /// How many of the request's command lines completed (the failed one and those after
        /// it did not), so the page knows which to keep for a restore.
        completed: usize,
        /// Milliseconds the request took in the worker.
        millis: f64,
    },
    /// The answer to [`ToWorker::Complete`] (see [`soru_core::debugger::Session::complete`]).
    Completions {
        /// Request id.
        id: u32,
        /// The line that was completed.
        line: String,
        /// The byte offset where the completed word starts.
        start: usize,
        /// The words that can replace it.
        candidates: Vec<String>,
    },
    /// A commitment of a running check was decided (oldest first, one message each).
    Commitment {
        /// Request id.
        id: u32,
        /// Its index in the chain.
        index: usize,
        /// The verdict.
        row: CheckedCommitment,
    },
    /// A commitment check finished.
    Checked {
        /// Request id.
        id: u32,
        /// The verdicts, oldest commitment first.
        verdicts: Vec<CheckedCommitment>,
        /// Why the check could not run, if it could not.
        error: Option<String>,
        /// Levels replayed from origination.
        levels: usize,
        /// Milliseconds the request took in the worker.
        millis: f64,
    },
}

/// A worker's state: at most one playground session.
#[derive(Default)]
pub struct Worker {
    playground: Option<Playground>,
    /// The clock `profile` times calls with (nanoseconds), when the host has one.
    clock: Option<fn() -> u64>,
}

/// What a batch of command lines produced.
struct Ran {
    output: String,
    profile: Option<Vec<(String, i64)>>,
    completed: usize,
    error: Option<String>,
    needs_preimage: Option<String>,
}

impl Worker {
    /// A worker whose sessions time `profile` with `clock` (nanoseconds from any origin).
    pub fn with_clock(clock: fn() -> u64) -> Worker {
        Worker {
            playground: None,
            clock: Some(clock),
        }
    }

    /// Handles one request; `progress` posts progress messages, `now` reads a clock in ms.
    pub fn handle(
        &mut self,
        request: ToWorker,
        progress: &mut dyn FnMut(FromWorker),
        now: &dyn Fn() -> f64,
    ) -> FromWorker {
        let start = now();
        let (id, ran) = match request {
            ToWorker::Load {
                id,
                name,
                kernel_hex,
                inputs,
                commands,
            } => (id, self.load(&name, &kernel_hex, &inputs, &commands)),
            ToWorker::Commands { id, lines } => (id, self.commands(id, &lines, progress, now)),
            ToWorker::Complete { id, line } => {
                let (start, candidates) = match &self.playground {
                    Some(p) => p.session().complete(&line),
                    None => (line.len(), Vec::new()),
                };
                return FromWorker::Completions {
                    id,
                    line,
                    start,
                    candidates,
                };
            }
            ToWorker::Check { id, request } => {
                let mut levels = 0;
                let result = check::check(&request, &mut |e| match e {
                    CheckEvent::Level(p) => {
                        levels = p.done;
                        progress(FromWorker::Progress {
                            id,
                            progress: Progress {
                                done: p.done,
                                total: p.total,
                                text: format!("replayed level {} from origination", p.level),
                            },
                        })
                    }
                    CheckEvent::Commitment { index, total, row } => {
                        progress(FromWorker::Progress {
                            id,
                            progress: Progress {
                                done: index + 1,
                                total,
                                text: format!(
                                    "checked commitment {} of {total} (level {}, {})",
                                    index + 1,
                                    row.inbox_level,
                                    row.method.describe()
                                ),
                            },
                        });
                        progress(FromWorker::Commitment {
                            id,
                            index,
                            row: row.clone(),
                        })
                    }
                });
                let (verdicts, error) = match result {
                    Ok(v) => (v, None),
                    Err(e) => (Vec::new(), Some(e.to_string())),
                };
                return FromWorker::Checked {
                    id,
                    verdicts,
                    error,
                    levels,
                    millis: now() - start,
                };
            }
        };
        FromWorker::Done {
            id,
            snapshot: self.playground.as_ref().map(|p| Box::new(p.snapshot())),
            output: ran.output,
            error: ran.error,
            needs_preimage: ran.needs_preimage,
            profile: ran.profile,
            completed: ran.completed,
            millis: now() - start,
        }
    }

    fn load(&mut self, name: &str, kernel_hex: &str, inputs: &str, commands: &[String]) -> Ran {
        self.playground = None;
        let started = (|| {
            let file = hex::decode(kernel_hex).map_err(|e| format!("kernel transfer: {e}"))?;
            let wasm = crate::kernel_file::load(name, &file).map_err(|e| e.to_string())?;
            let mut p = Playground::new(&wasm, inputs).map_err(|e| e.to_string())?;
            if let Some(clock) = self.clock {
                p.set_clock(clock);
            }
            Ok(p)
        })();
        let mut playground = match started {
            Ok(p) => p,
            Err(e) => {
                return Ran {
                    output: String::new(),
                    completed: 0,
                    error: Some(e),
                    needs_preimage: None,
                    profile: None,
                }
            }
        };
        let mut error = None;
        for (i, line) in commands.iter().enumerate() {
            let reply = playground.execute(line);
            if reply.outcome == soru_core::debugger::Outcome::Error {
                error = Some(format!(
                    "restoring the session, command {} (`{line}`): {}",
                    i + 1,
                    reply.output.trim_end()
                ));
                break;
            }
        }
        self.playground = Some(playground);
        Ran {
            output: String::new(),
            completed: commands.len(),
            error,
            needs_preimage: None,
            profile: None,
        }
    }

    fn commands(
        &mut self,
        id: u32,
        lines: &[String],
        progress: &mut dyn FnMut(FromWorker),
        now: &dyn Fn() -> f64,
    ) -> Ran {
        let Some(playground) = self.playground.as_mut() else {
            return Ran {
                output: String::new(),
                completed: 0,
                error: Some("no kernel is loaded: load one first".into()),
                needs_preimage: None,
                profile: None,
            };
        };
        let mut ran = Ran {
            output: String::new(),
            completed: 0,
            error: None,
            needs_preimage: None,
            profile: None,
        };
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                ran.completed = i + 1;
                continue;
            }
            ran.output.push_str(&format!("> {trimmed}\n"));
            // `time <command>`, as the CLI's shell: the session has no clock.
            let (timed, text) = match trimmed.strip_prefix("time ") {
                Some(rest) => (true, rest.trim()),
                None => (false, trimmed),
            };
            let started = now();
            let reply = playground.execute(text);
            ran.output.push_str(&reply.output);
            if timed {
                ran.output
                    .push_str(&format!("took {:.1} ms\n", now() - started));
            }
            use soru_core::debugger::Outcome;
            match reply.outcome {
                Outcome::Done | Outcome::Stop => {}
                // No files in a worker: the stacks (octez's profile file) and the summary.
                Outcome::Profiled(report) => {
                    ran.output.push_str(&report.stacks());
                    ran.output.push_str(&report.summary());
                    ran.profile = Some(report.stack_fuel());
                }
                Outcome::Error => {
                    ran.error = Some(format!("`{trimmed}` failed: {}", reply.output.trim_end()));
                    break;
                }
                Outcome::NeedsPreimage(hash) => {
                    ran.completed = i + 1;
                    ran.needs_preimage = Some(hex::encode(hash));
                    break;
                }
            }
            ran.completed = i + 1;
            if lines.len() > 1 {
                let s = playground.session().pvm();
                progress(FromWorker::Progress {
                    id,
                    progress: Progress {
                        done: i + 1,
                        total: lines.len(),
                        text: format!("{trimmed} ({} ticks)", s.ticks()),
                    },
                });
            }
        }
        ran
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(m: FromWorker) -> (Option<Box<Snapshot>>, String, Option<String>) {
        match m {
            FromWorker::Done {
                snapshot,
                output,
                error,
                ..
            } => (snapshot, output, error),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn load_run_commands_and_restore_through_messages() {
        let echo = include_str!("../../node-shim/examples/echo.wat");
        let load = |commands| ToWorker::Load {
            id: 1,
            name: "echo.wat".into(),
            kernel_hex: hex::encode(echo),
            inputs: r#"[[{"external": "aa"}], [{"external": "bb"}]]"#.into(),
            commands,
        };
        let mut w = Worker::default();
        let mut seen = Vec::new();
        let now = || 0.0;
        let text = serde_json::to_string(&load(vec![])).unwrap();
        let request: ToWorker = serde_json::from_str(&text).unwrap();
        let (snapshot, _, error) = done(w.handle(request, &mut |m| seen.push(m), &now));
        assert_eq!(error, None);
        assert_eq!(snapshot.unwrap().status, "waiting_for_input");
        let lines = vec!["step inbox".to_string(), "show key /counter as i32".into()];
        let reply = w.handle(
            ToWorker::Commands { id: 2, lines },
            &mut |m| seen.push(m),
            &now,
        );
        let text = serde_json::to_string(&reply).unwrap();
        let reply: FromWorker = serde_json::from_str(&text).unwrap();
        assert_eq!(seen.len(), 2, "one progress message per line");
        let (after, output, error) = done(reply);
        assert_eq!(error, None);
        assert!(output.starts_with("> step inbox\n"), "{output}");
        assert!(
            output.ends_with("> show key /counter as i32\n1\n"),
            "{output}"
        );
        let after = after.unwrap();
        assert_eq!(after.outbox.len(), 1);
        // Restoring the same commands gives the same state.
        let (restored, _, _) = done(w.handle(load(vec!["step inbox".into()]), &mut |_| {}, &now));
        assert_eq!(restored.unwrap(), after);
        let (_, output, error) = done(w.handle(
            ToWorker::Commands {
                id: 3,
                lines: vec!["show outbox at level x".into()],
            },
            &mut |_| {},
            &now,
        ));
        assert_eq!(
            output,
            "> show outbox at level x\nInvalid number `x` for a level\n"
        );
        assert!(error
            .unwrap()
            .starts_with("`show outbox at level x` failed"));
    }

    #[test]
    fn profiles_are_timed_with_the_workers_clock() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static T: AtomicU64 = AtomicU64::new(0);
        fn clock() -> u64 {
            T.fetch_add(1_000_000, Ordering::Relaxed)
        }
        let mut w = Worker::with_clock(clock);
        w.handle(
            ToWorker::Load {
                id: 1,
                name: "echo.wat".into(),
                kernel_hex: hex::encode(include_str!("../../node-shim/examples/echo.wat")),
                inputs: "[[]]".into(),
                commands: vec![],
            },
            &mut |_| {},
            &|| 0.0,
        );
        let FromWorker::Done {
            output, profile, ..
        } = w.handle(
            ToWorker::Commands {
                id: 2,
                lines: vec!["profile".into()],
            },
            &mut |_| {},
            &|| 0.0,
        )
        else {
            panic!()
        };
        assert!(profile.is_some_and(|p| p.iter().any(|(s, _)| s == "kernel_run")));
        let line = output
            .lines()
            .find(|l| l.starts_with("kernel_run: "))
            .unwrap_or_else(|| panic!("{output}"));
        assert!(line.ends_with(')'), "timed: {line}");
    }

    #[test]
    fn completes_command_lines() {
        let mut w = Worker::default();
        let complete = |w: &mut Worker, line: &str| {
            w.handle(
                ToWorker::Complete {
                    id: 9,
                    line: line.into(),
                },
                &mut |_| {},
                &|| 0.0,
            )
        };
        let none = complete(&mut w, "sh");
        assert!(
            matches!(&none, FromWorker::Completions { start: 2, candidates, .. } if candidates.is_empty()),
            "{none:?}"
        );
        w.handle(
            ToWorker::Load {
                id: 1,
                name: "echo.wat".into(),
                kernel_hex: hex::encode(include_str!("../../node-shim/examples/echo.wat")),
                inputs: "[]".into(),
                commands: vec![],
            },
            &mut |_| {},
            &|| 0.0,
        );
        let FromWorker::Completions {
            id: 9,
            start: 0,
            candidates,
            ..
        } = complete(&mut w, "sh")
        else {
            panic!()
        };
        assert_eq!(candidates, ["show"]);
    }

    #[test]
    fn bad_kernels_are_reported_not_loaded() {
        let mut w = Worker::default();
        let (snapshot, _, error) = done(w.handle(
            ToWorker::Load {
                id: 1,
                name: "k.wat".into(),
                kernel_hex: hex::encode("(module"),
                inputs: "[]".into(),
                commands: vec![],
            },
            &mut |_| {},
            &|| 0.0,
        ));
        assert_eq!(snapshot, None);
        let e = error.unwrap();
        assert!(
            e.starts_with("kernel k.wat: invalid WebAssembly text"),
            "{e}"
        );
        let (_, _, error) = done(w.handle(
            ToWorker::Commands {
                id: 2,
                lines: vec!["step tick".into()],
            },
            &mut |_| {},
            &|| 0.0,
        ));
        assert_eq!(
            error.as_deref(),
            Some("no kernel is loaded: load one first")
        );
    }
}
