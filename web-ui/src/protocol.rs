//! Messages between the page and the PVM worker (JSON text over `postMessage`).
//!
//! The page sends a [`ToWorker`]; the worker answers every request with [`FromWorker::Done`]
//! (carrying the same `id`), after any number of [`FromWorker::Progress`] messages. A request
//! that runs too long is stopped by terminating the worker: the page starts a new one and
//! replays the session's steps (the PVM is deterministic).

use serde::{Deserialize, Serialize};

use crate::engine::{Engine, EngineError, Progress, Snapshot, Step};

/// A request to the worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Load a kernel file and inputs, then replay `steps` (restoring a session).
    Load {
        /// Request id.
        id: u32,
        /// The kernel file's name (decides its format).
        name: String,
        /// The kernel file in hex.
        kernel_hex: String,
        /// The inputs JSON.
        inputs: String,
        /// Steps to replay after loading.
        steps: Vec<Step>,
    },
    /// One step.
    Step {
        /// Request id.
        id: u32,
        /// How far.
        step: Step,
    },
    /// The bytes of the pending reveal, in hex.
    Reveal {
        /// Request id.
        id: u32,
        /// The preimage.
        data_hex: String,
    },
}

/// A message from the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// A long request advanced.
    Progress {
        /// Request id.
        id: u32,
        /// Where it is.
        progress: Progress,
    },
    /// A request finished.
    Done {
        /// Request id.
        id: u32,
        /// What the panels show now (`None` when no kernel is loaded).
        snapshot: Option<Box<Snapshot>>,
        /// The error, if the request failed.
        error: Option<String>,
        /// Milliseconds the request took in the worker.
        millis: f64,
    },
}

/// The worker's state: at most one loaded engine.
#[derive(Default)]
pub struct Worker {
    engine: Option<Engine>,
}

impl Worker {
    /// Handles one request; `progress` posts progress messages, `now` reads a clock in ms.
    pub fn handle(
        &mut self,
        request: ToWorker,
        progress: &mut dyn FnMut(FromWorker),
        now: &dyn Fn() -> f64,
    ) -> FromWorker {
        let start = now();
        let (id, result) = match request {
            ToWorker::Load {
                id,
                name,
                kernel_hex,
                inputs,
                steps,
            } => (
                id,
                self.load(id, &name, &kernel_hex, &inputs, &steps, progress),
            ),
            ToWorker::Step { id, step } => (id, self.step(id, step, progress)),
            ToWorker::Reveal { id, data_hex } => (id, self.reveal(id, &data_hex, progress)),
        };
        FromWorker::Done {
            id,
            snapshot: self.engine.as_ref().map(|e| Box::new(e.snapshot())),
            error: result.err(),
            millis: now() - start,
        }
    }

    fn load(
        &mut self,
        id: u32,
        name: &str,
        kernel_hex: &str,
        inputs: &str,
        steps: &[Step],
        progress: &mut dyn FnMut(FromWorker),
    ) -> Result<(), String> {
        self.engine = None;
        let file = hex::decode(kernel_hex).map_err(|e| format!("kernel transfer: {e}"))?;
        let wasm = crate::kernel_file::load(name, &file).map_err(|e| e.to_string())?;
        let mut engine = Engine::new(&wasm, inputs).map_err(|e| e.to_string())?;
        for (i, step) in steps.iter().enumerate() {
            engine
                .step(*step, &mut |p| forward(id, p, progress))
                .map_err(|e: EngineError| {
                    format!(
                        "restoring the session, step {} ({}): {e}",
                        i + 1,
                        step.word()
                    )
                })?;
        }
        self.engine = Some(engine);
        Ok(())
    }

    fn engine(&mut self) -> Result<&mut Engine, String> {
        self.engine
            .as_mut()
            .ok_or_else(|| "no kernel is loaded: load one first".to_string())
    }

    fn step(
        &mut self,
        id: u32,
        step: Step,
        progress: &mut dyn FnMut(FromWorker),
    ) -> Result<(), String> {
        self.engine()?
            .step(step, &mut |p| forward(id, p, progress))
            .map_err(|e| e.to_string())
    }

    fn reveal(
        &mut self,
        id: u32,
        data_hex: &str,
        progress: &mut dyn FnMut(FromWorker),
    ) -> Result<(), String> {
        let data = soru_core::encoding::hex_text::decode(data_hex)
            .map_err(|e| format!("preimage: {e}"))?;
        self.engine()?
            .reveal(&data, &mut |p| forward(id, p, progress))
            .map_err(|e| e.to_string())
    }
}

fn forward(id: u32, p: &Progress, progress: &mut dyn FnMut(FromWorker)) {
    progress(FromWorker::Progress {
        id,
        progress: p.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_step_and_restore_through_messages() {
        let echo = include_str!("../../node-shim/examples/echo.wat");
        let load = |steps| ToWorker::Load {
            id: 1,
            name: "echo.wat".into(),
            kernel_hex: hex::encode(echo),
            inputs: r#"[[{"external": "aa"}], [{"external": "bb"}]]"#.into(),
            steps,
        };
        let mut w = Worker::default();
        let mut seen = Vec::new();
        let now = || 0.0;
        let text = serde_json::to_string(&load(vec![])).unwrap();
        let request: ToWorker = serde_json::from_str(&text).unwrap();
        let FromWorker::Done {
            error, snapshot, ..
        } = w.handle(request, &mut |m| seen.push(m), &now)
        else {
            panic!()
        };
        assert_eq!(error, None);
        assert_eq!(snapshot.unwrap().status, "waiting_for_input");
        let done = w.handle(
            ToWorker::Step {
                id: 2,
                step: Step::Inbox,
            },
            &mut |m| seen.push(m),
            &now,
        );
        assert_eq!(seen.len(), 2, "one progress message per level");
        let FromWorker::Done {
            id: 2,
            snapshot: Some(after),
            error: None,
            ..
        } = done
        else {
            panic!("{done:?}")
        };
        assert_eq!(after.outbox.len(), 2);
        // Restoring the same steps gives the same state.
        let FromWorker::Done {
            snapshot: Some(restored),
            ..
        } = w.handle(load(vec![Step::Inbox]), &mut |_| {}, &now)
        else {
            panic!()
        };
        assert_eq!(restored, after);
        let FromWorker::Done { error: Some(e), .. } = w.handle(
            ToWorker::Step {
                id: 3,
                step: Step::Level,
            },
            &mut |_| {},
            &now,
        ) else {
            panic!()
        };
        assert!(e.starts_with("the inbox is exhausted"), "{e}");
    }

    #[test]
    fn bad_kernels_are_reported_not_loaded() {
        let mut w = Worker::default();
        let r = w.handle(
            ToWorker::Load {
                id: 1,
                name: "k.wat".into(),
                kernel_hex: hex::encode("(module"),
                inputs: "[]".into(),
                steps: vec![],
            },
            &mut |_| {},
            &|| 0.0,
        );
        let FromWorker::Done {
            snapshot: None,
            error: Some(e),
            ..
        } = r
        else {
            panic!("{r:?}")
        };
        assert!(
            e.starts_with("kernel k.wat: invalid WebAssembly text"),
            "{e}"
        );
    }
}
