//! Stepping the PVM by its smallest steps, for debuggers ([`crate::debugger`], the playground).
//!
//! The level API ([`Pvm::step_input`], [`Pvm::step_kernel_run`], [`Pvm::step_level`]) runs a
//! `kernel_run` in one go. [`Pvm::step_fuel`] runs it by *fuel slices* instead: the run's first
//! slice gets `slice` units of wasmi fuel and the rest of the run's budget is held back as a
//! reserve; when the slice is used up wasmi stops with a resumable "out of fuel", the run is
//! paused ([`Pvm::in_kernel_run`]), and the next call gives it another slice from the reserve.
//! Host calls that need more than the slice has left draw on the reserve. A run only runs out
//! of fuel when its whole budget is used up, so a stepped run does exactly what an unstepped one
//! does, instruction for instruction, and the state, ticks and fuel at its end are the same
//! (checked by `core/tests/pvm_lifecycle.rs`).
//!
//! While a run is paused (or suspended on a reveal) its memory can be read with
//! [`Pvm::memory`]; with [`Pvm::keep_final_memory`] the memory of the last run that returned or
//! trapped is kept for [`Pvm::take_final_memory`] (octez's debugger shows memory after `step
//! result`).

use alloc::string::ToString;
use alloc::vec::Vec;

use super::{Phase, Pvm, PvmError, Status};
use crate::host::HostState;
use crate::reveal::Reveal;
use crate::state::input_buffer::{self, Input};
use crate::state::TickState;

/// A `kernel_run` paused at the end of a fuel slice.
pub(super) struct Running {
    pub(super) store: wasmi::Store<HostState>,
    pub(super) call: wasmi::ResumableCallOutOfFuel,
}

/// The stepping API's settings (part of [`Pvm`], not of the state).
#[derive(Debug, Default)]
pub(super) struct Stepping {
    /// Fuel of the first slice of the run being started (`None`: the whole budget).
    pub(super) slice: Option<u64>,
    /// Whether to copy the memory of a run that returns or traps.
    keep: bool,
    /// The memory of the last run that returned or trapped, while `keep` is set.
    memory: Option<Vec<u8>>,
}

impl Stepping {
    /// Called when a run returns or traps, before its store is dropped.
    pub(super) fn keep_memory(&mut self, store: &wasmi::Store<HostState>) {
        if self.keep {
            self.memory = store.data().memory.map(|m| m.data(store).to_vec());
        }
    }
}

/// What one [`Pvm::step_fuel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// At a snapshot boundary without a reboot request: the PVM yielded and waits for the next
    /// level's inputs.
    Yielded,
    /// The `kernel_run` used its slice and is paused (`fuel`: what it used in this step).
    Paused {
        /// Fuel used by this step.
        fuel: u64,
        /// Fuel the run has used since it started.
        run_fuel: u64,
    },
    /// The `kernel_run` ended (returned, trapped, or its kernel was replaced by the fallback)
    /// and the PVM is at the run's padding tick, before the next boundary.
    RunEnded {
        /// Fuel used by this step.
        fuel: u64,
    },
    /// The run is suspended on a reveal ([`Pvm::pending_reveal`]).
    WaitingForReveal,
    /// The PVM is stuck for good ([`Pvm::stuck_reason`]).
    Stuck,
}

/// Why [`Pvm::memory`] cannot read memory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoryError {
    /// No `kernel_run` is paused or suspended, so there is no memory.
    #[error("no kernel memory now (status {0}): memory exists only inside a kernel_run")]
    NoMemory(Status),
    /// The range is outside the memory.
    #[error("bytes {address}..{address}+{length} are outside the memory ({size} bytes)")]
    OutOfBounds {
        /// First byte asked for.
        address: u64,
        /// Number of bytes asked for.
        length: u64,
        /// Size of the memory.
        size: u64,
    },
}

fn read_range(data: &[u8], address: u64, length: u64) -> Result<Vec<u8>, MemoryError> {
    let size = data.len() as u64;
    let end = address.checked_add(length).filter(|&e| e <= size);
    match end {
        Some(end) => Ok(data[address as usize..end as usize].to_vec()),
        None => Err(MemoryError::OutOfBounds {
            address,
            length,
            size,
        }),
    }
}

impl Pvm {
    /// Whether a `kernel_run` is paused between two fuel slices.
    pub fn in_kernel_run(&self) -> bool {
        matches!(self.phase, Phase::Running(_))
    }

    /// The octez tick state the PVM is in (collect, snapshot, padding or stuck); inside a
    /// paused or suspended run it is the run's snapshot state.
    pub fn tick_state(&self) -> TickState {
        self.tick_state.clone()
    }

    /// One fuel slice: from a snapshot boundary, reboots the kernel and runs `kernel_run` for
    /// `slice` fuel (or yields when no reboot is asked for); inside a paused run, gives it
    /// `slice` more fuel (at least what its next instruction needs) from its budget. Use
    /// `u64::MAX` to run to the end of the run. The total fuel of a run is its budget whatever
    /// the slices (see the module documentation).
    pub fn step_fuel(&mut self, slice: u64, reveal: &mut dyn Reveal) -> Result<Progress, PvmError> {
        let slice = slice.max(1);
        let before = self.total_fuel;
        let phase = match self.phase {
            Phase::Boundary => 0,
            Phase::Running(_) => 1,
            _ => 2,
        };
        match phase {
            0 => {
                self.stepping.slice = Some(slice);
                let result = self.step_kernel_run(reveal);
                self.stepping.slice = None;
                result?;
            }
            1 => {
                let phase = core::mem::replace(&mut self.phase, Phase::Boundary);
                let Phase::Running(running) = phase else {
                    unreachable!("matched above")
                };
                let Running { mut store, call } = *running;
                let engine = |e: wasmi::Error| PvmError::Engine(e.to_string());
                let left = store.get_fuel().map_err(engine)?;
                let reserve = store.data().fuel_reserve;
                let want = slice.max(call.required_fuel().saturating_sub(left));
                let take = want.min(reserve);
                store.data_mut().fuel_reserve = reserve - take;
                store.set_fuel(left + take).map_err(engine)?;
                let before_slice = self.run_fuel_of(&store);
                let result = call.resume(&mut store, &mut []);
                self.handle_call(store, result, reveal)?;
                self.end_run()?;
                if let Phase::Running(r) = &self.phase {
                    let run_fuel = self.run_fuel_of(&r.store);
                    return Ok(Progress::Paused {
                        fuel: run_fuel - before_slice,
                        run_fuel,
                    });
                }
                return Ok(self.progress(before.saturating_add(before_slice)));
            }
            _ => return Err(PvmError::NotEvaluating(self.status())),
        }
        if let Phase::Running(r) = &self.phase {
            let run_fuel = self.run_fuel_of(&r.store);
            return Ok(Progress::Paused {
                fuel: run_fuel,
                run_fuel,
            });
        }
        Ok(self.progress(before))
    }

    /// Fuel a run in `store` has used of its budget.
    fn run_fuel_of(&self, store: &wasmi::Store<HostState>) -> u64 {
        let left = store
            .get_fuel()
            .unwrap_or(0)
            .saturating_add(store.data().fuel_reserve);
        self.fuel_budget().saturating_sub(left)
    }

    /// The progress after a step that did not pause; `before` is the total fuel before it.
    fn progress(&self, before: u64) -> Progress {
        match &self.phase {
            Phase::Collect => Progress::Yielded,
            Phase::Suspended(_) => Progress::WaitingForReveal,
            Phase::Stuck(_) => Progress::Stuck,
            Phase::Boundary | Phase::Running(_) => Progress::RunEnded {
                fuel: self.total_fuel.saturating_sub(before),
            },
        }
    }

    /// Reads `length` bytes of the kernel's memory at `address`, while a run is paused or
    /// suspended on a reveal.
    pub fn memory(&self, address: u64, length: u64) -> Result<Vec<u8>, MemoryError> {
        let store = match &self.phase {
            Phase::Running(r) => &r.store,
            Phase::Suspended(s) => &s.store,
            _ => return Err(MemoryError::NoMemory(self.status())),
        };
        let Some(memory) = store.data().memory else {
            return Err(MemoryError::NoMemory(self.status()));
        };
        read_range(memory.data(store), address, length)
    }

    /// Keeps (or stops keeping) a copy of the memory of each `kernel_run` that returns or traps.
    pub fn keep_final_memory(&mut self, keep: bool) {
        self.stepping.keep = keep;
        if !keep {
            self.stepping.memory = None;
        }
    }

    /// The memory of the last `kernel_run` that returned or trapped since the previous call (with
    /// [`Pvm::keep_final_memory`] on).
    pub fn take_final_memory(&mut self) -> Option<Vec<u8>> {
        self.stepping.memory.take()
    }

    /// The unread inputs of the input buffer, oldest first.
    pub fn input_buffer(&self) -> Result<Vec<Input>, PvmError> {
        let mut buffers = self.host_ref().buffers.clone();
        let mut inputs = Vec::new();
        while let Some(input) = input_buffer::pop(&mut buffers)? {
            inputs.push(input);
        }
        Ok(inputs)
    }
}

/// Reads `length` bytes at `address` of a memory copy (e.g. from [`Pvm::take_final_memory`]),
/// with [`Pvm::memory`]'s bounds check.
pub fn read_memory(data: &[u8], address: u64, length: u64) -> Result<Vec<u8>, MemoryError> {
    read_range(data, address, length)
}
