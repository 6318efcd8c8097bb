//! The `smart_rollup_core` host functions: their semantics on the state layout (durable
//! storage, input and output buffers). Their names, signatures, limits and error codes are ABI
//! facts and live in [`crate::abi`].
//!
//! Semantics follow octez's `src/lib_scoru_wasm/host_funcs.ml` and `durable.ml` (PVM
//! `2.0.0-r5`), including the order in which errors are detected, since the first failing check
//! decides the code a kernel sees. Notable octez behaviours reproduced here:
//!
//! - memory writes that run past the end of memory store the in-bounds prefix, then fail with
//!   [`HostError::MemoryInvalidAccess`]; a negative length is a [`HostError::GenericInvalidAccess`];
//! - `read_input` checks `address + length < memory size` (strictly) for both the info record
//!   and the payload buffer *before* consuming the input;
//! - `store_read` returns [`HostError::StoreInvalidAccess`] when `offset >= size` (also for an
//!   empty value) and [`HostError::InputOutputTooLarge`] for `max_bytes > 2048`;
//! - `store_list_size` counts the value of a key as a child (it is stored under `@`);
//! - writes and deletes under `/readonly` (and of the root key `""`) give
//!   [`HostError::StoreReadonlyValue`], reads there are allowed.
//!
//! A few octez paths raise an OCaml exception instead of returning a code (a negative
//! `max_size` for `store_get_nth_key`/`__internal_store_get_hash`, a negative `max_bytes` for a
//! reveal): the PVM is then stuck for good ([`crate::pvm::StuckReason::HostCrash`]).

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use crate::abi::{
    host_call_fuel, HostError, HostFunction, PvmVersion, DEBUG_MESSAGE_OVERHEAD, HOST_MODULE,
    MAX_DEBUG_BYTES_PER_LEVEL, MAX_INPUT_OUTPUT_SIZE, MAX_KEY_LENGTH, MAX_MEMORY_PAGES,
    MAX_TABLE_ELEMENTS, READ_INPUT_INFO_SIZE, WASM_PAGE_SIZE,
};
use crate::durable::{Durable, DurableError, Key, Target};
use crate::reveal::RevealRequest;
use crate::state::input_buffer::{self, InputBufferError};
use crate::state::output_buffer::{self, OutputBufferError};
use crate::tree::{Tree, TreeError};

/// Everything host functions act on during a `kernel_run`.
pub(crate) struct HostState {
    pub(crate) durable: Durable,
    /// The state tree without durable storage and the per-tick counters: `/tag`, the input and
    /// output buffers and the origination parameters.
    pub(crate) buffers: Tree,
    /// The level's debug messages, shared with copies of the PVM (a fork costs no copy of them;
    /// the first message written after a fork copies the list once).
    pub(crate) debug: Arc<Vec<Vec<u8>>>,
    /// Debug output of the level: what is kept counts against [`MAX_DEBUG_BYTES_PER_LEVEL`].
    pub(crate) debug_bytes: usize,
    /// Debug bytes dropped this level because the cap was reached.
    pub(crate) debug_dropped: u64,
    pub(crate) memory: Option<wasmi::Memory>,
    pub(crate) limits: Limiter,
    /// The host function called last in this `kernel_run` (reported when the run fails).
    pub(crate) last_call: Option<HostFunction>,
    /// Fuel of the run's budget not yet given to the store (the rest of the run when it is
    /// stepped by fuel slices; 0 otherwise). Host calls draw on it before running out.
    pub(crate) fuel_reserve: u64,
    /// Fuel charged by host functions since the PVM started (the profiler's host frames).
    pub(crate) host_fuel: u64,
    /// The profiler of a [`crate::pvm::Pvm::profiling_copy`].
    #[cfg(feature = "debugger")]
    pub(crate) profiler: Option<alloc::boxed::Box<crate::pvm::profile::Profiler>>,
}

#[cfg(feature = "debugger")]
impl HostState {
    /// A copy of the state between two runs (no memory, fresh limits, no profiler).
    pub(crate) fn clone_between_runs(&self) -> HostState {
        HostState {
            durable: self.durable.clone(),
            buffers: self.buffers.clone(),
            debug: self.debug.clone(),
            debug_bytes: self.debug_bytes,
            debug_dropped: self.debug_dropped,
            memory: None,
            limits: Limiter::default(),
            last_call: self.last_call,
            fuel_reserve: 0,
            host_fuel: self.host_fuel,
            #[cfg(feature = "debugger")]
            profiler: None,
        }
    }
}

/// The store's resource limiter: Soru's deterministic ceilings ([`MAX_MEMORY_PAGES`], and
/// [`MAX_TABLE_ELEMENTS`] for all tables together), one instance, one memory. A growth the
/// ceilings allow but the host cannot allocate is not turned into a -1 the kernel could see
/// (that would make the state depend on the machine): it traps and is reported as
/// [`crate::pvm::PvmError::HostOutOfMemory`].
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    /// Table elements allocated so far in this store (all tables).
    table_elements: u64,
    /// Elements added by the last allowed table growth, taken back if it then fails.
    table_pending: u64,
    /// Set when the host failed to allocate below the ceilings: what it was allocating.
    pub(crate) host_out_of_memory: Option<&'static str>,
    /// Whether grows are charged fuel (set once the kernel is instantiated).
    metering: bool,
    /// wasmi fuel charged for memory and table growth in this run and not yet given back.
    grow_fuel: u64,
    /// Fuel of the last allowed growth, taken back if it then fails.
    grow_pending: u64,
    /// Grow fuel given back or advanced so far in this run.
    pub(crate) refunded: u64,
    /// The fuel of a grow that ran out of fuel, to advance before it runs again.
    advance: u64,
    /// The fuel advanced for the grow about to run again (not given back a second time).
    advanced: u64,
}

impl Limiter {
    /// Starts counting the fuel wasmi charges for growing memory and tables (from the
    /// kernel's first instruction; instantiation is not charged).
    pub(crate) fn start_metering(&mut self) {
        self.metering = true;
        self.grow_fuel = 0;
    }

    /// The grow fuel not yet given back, now given back. wasmi charges one unit per 64 bytes
    /// a `memory.grow` or `table.grow` adds; octez's interpreter charges the instruction only,
    /// so the PVM returns that fuel when a run runs out.
    pub(crate) fn take_grow_fuel(&mut self) -> u64 {
        let fuel = core::mem::take(&mut self.grow_fuel);
        self.refunded = self.refunded.saturating_add(fuel);
        fuel
    }

    /// The fuel of a grow that stopped the run for lack of it, now advanced: the grow runs
    /// again with it when the run resumes (octez charges the instruction only).
    pub(crate) fn take_grow_advance(&mut self) -> u64 {
        let fuel = core::mem::take(&mut self.advance);
        self.advanced = fuel;
        self.refunded = self.refunded.saturating_add(fuel);
        fuel
    }

    fn growing(&mut self, fuel: u64) {
        if !self.metering {
            self.grow_pending = 0;
        } else if fuel > 0 && core::mem::take(&mut self.advanced) == fuel {
            // Paid by an advance already: nothing to give back later.
            self.grow_pending = 0;
        } else {
            self.grow_pending = fuel;
        }
        self.grow_fuel = self.grow_fuel.saturating_add(self.grow_pending);
    }

    fn grow_failed(&mut self, out_of_fuel: bool) {
        let pending = core::mem::take(&mut self.grow_pending);
        self.grow_fuel = self.grow_fuel.saturating_sub(pending);
        if out_of_fuel && self.metering {
            self.advance = pending;
        }
    }
}

impl wasmi::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        let allowed = desired as u64 <= MAX_MEMORY_PAGES * WASM_PAGE_SIZE;
        if allowed {
            self.growing((desired as u64).saturating_sub(current as u64) / 64);
        }
        Ok(allowed)
    }

    fn memory_grow_failed(
        &mut self,
        error: &wasmi::errors::MemoryError,
    ) -> Result<(), wasmi_core::LimiterError> {
        self.grow_failed(matches!(
            error,
            wasmi::errors::MemoryError::OutOfFuel { .. }
        ));
        if matches!(error, wasmi::errors::MemoryError::OutOfSystemMemory) {
            self.host_out_of_memory = Some("the kernel's memory");
            return Err(wasmi_core::LimiterError::ResourceLimiterDeniedAllocation);
        }
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        let added = (desired as u64).saturating_sub(current as u64);
        let total = self.table_elements.saturating_add(added);
        if total > MAX_TABLE_ELEMENTS {
            return Ok(false);
        }
        self.table_elements = total;
        self.table_pending = added;
        // wasmi's table references are 4 bytes.
        self.growing(added * 4 / 64);
        Ok(true)
    }

    fn table_grow_failed(
        &mut self,
        error: &wasmi::errors::TableError,
    ) -> Result<(), wasmi_core::LimiterError> {
        // wasmi asks the limiter before checking the table's own maximum and the fuel.
        self.table_elements -= core::mem::take(&mut self.table_pending);
        self.grow_failed(matches!(error, wasmi::errors::TableError::OutOfFuel { .. }));
        if matches!(error, wasmi::errors::TableError::OutOfSystemMemory) {
            self.host_out_of_memory = Some("the kernel's tables");
            return Err(wasmi_core::LimiterError::ResourceLimiterDeniedAllocation);
        }
        Ok(())
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        // Bounded by the element ceiling anyway; this only stops empty-table floods.
        1000
    }

    fn memories(&self) -> usize {
        1
    }
}

/// Why a host call stopped the kernel instead of returning a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostTrap {
    /// The kernel asked for data to be revealed; resume with the number of bytes written.
    Reveal {
        request: RevealRequest,
        dst: i32,
        max_bytes: i32,
    },
    /// An octez host function raises an exception here: the PVM is stuck for good.
    Crash(String),
    /// The state tree failed (e.g. reading a blinded node of a proof tree).
    Tree(TreeError),
    /// The run's fuel does not cover a host call.
    OutOfFuel,
}

impl fmt::Display for HostTrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostTrap::Reveal { request, .. } => write!(f, "reveal requested: {request:?}"),
            HostTrap::Crash(m) => write!(f, "host function crash: {m}"),
            HostTrap::Tree(e) => write!(f, "state tree error: {e}"),
            HostTrap::OutOfFuel => f.write_str("out of fuel in a host call"),
        }
    }
}

impl wasmi::errors::HostError for HostTrap {}

type HostResult<T> = Result<T, HostTrap>;

fn durable_code(e: DurableError) -> HostResult<HostError> {
    Ok(match e {
        DurableError::KeyTooLong { .. } => HostError::StoreKeyTooLarge,
        DurableError::InvalidKey { .. } => HostError::StoreInvalidKey,
        DurableError::Readonly => HostError::StoreReadonlyValue,
        DurableError::ValueNotFound => HostError::StoreNotAValue,
        DurableError::TreeNotFound => HostError::StoreNotANode,
        DurableError::OutOfBounds { .. } => HostError::StoreInvalidAccess,
        DurableError::Negative(_) | DurableError::CorruptLength { .. } => {
            HostError::GenericInvalidAccess
        }
        DurableError::IoTooLarge(_) => HostError::InputOutputTooLarge,
        DurableError::IndexTooLarge(_) => HostError::StoreInvalidSubkeyIndex,
        DurableError::Tree(t) => return Err(HostTrap::Tree(t)),
    })
}

/// Runs `f`, turning a host error into its code (and tree failures into a trap).
fn code_of(f: impl FnOnce() -> Result<i32, Fail>) -> HostResult<i32> {
    match f() {
        Ok(v) => Ok(v),
        Err(Fail::Code(e)) => Ok(e.code()),
        Err(Fail::Trap(t)) => Err(t),
    }
}

enum Fail {
    Code(HostError),
    Trap(HostTrap),
}

impl From<HostError> for Fail {
    fn from(e: HostError) -> Fail {
        Fail::Code(e)
    }
}

impl From<DurableError> for Fail {
    fn from(e: DurableError) -> Fail {
        match durable_code(e) {
            Ok(code) => Fail::Code(code),
            Err(t) => Fail::Trap(t),
        }
    }
}

/// Reads `len` bytes at `addr` (octez `Memory.load_bytes`).
pub(crate) fn load(mem: &[u8], addr: i32, len: i32) -> Result<&[u8], HostError> {
    if len < 0 {
        return Err(HostError::GenericInvalidAccess);
    }
    let start = addr as u32 as usize;
    let end = start
        .checked_add(len as usize)
        .ok_or(HostError::MemoryInvalidAccess)?;
    mem.get(start..end).ok_or(HostError::MemoryInvalidAccess)
}

/// Writes `bytes` at `addr`; past the end of memory the in-bounds prefix is written and the
/// call fails (octez stores byte by byte).
pub(crate) fn store(mem: &mut [u8], addr: i32, bytes: &[u8]) -> Result<(), HostError> {
    let start = addr as u32 as usize;
    if start >= mem.len() {
        return if bytes.is_empty() {
            Ok(())
        } else {
            Err(HostError::MemoryInvalidAccess)
        };
    }
    let room = mem.len() - start;
    let n = bytes.len().min(room);
    mem[start..start + n].copy_from_slice(&bytes[..n]);
    if n < bytes.len() {
        Err(HostError::MemoryInvalidAccess)
    } else {
        Ok(())
    }
}

/// Octez `check_address`: `address + length < memory size`, strictly.
fn check_address(mem: &[u8], addr: i32, len: i32) -> Result<(), HostError> {
    if len < 0 {
        return Err(HostError::MemoryInvalidAccess);
    }
    if (addr as u32 as u64) + (len as u64) < mem.len() as u64 {
        Ok(())
    } else {
        Err(HostError::MemoryInvalidAccess)
    }
}

fn load_key(mem: &[u8], off: i32, len: i32) -> Result<Key, Fail> {
    if len > MAX_KEY_LENGTH as i32 {
        return Err(HostError::StoreKeyTooLarge.into());
    }
    let bytes = load(mem, off, len)?;
    Ok(Key::parse(bytes)?)
}

/// Truncates `bytes` to `max_size` like OCaml's `String.sub`, which raises on a negative size.
fn truncate(bytes: &[u8], max_size: i32, what: &str) -> Result<Vec<u8>, Fail> {
    if max_size < 0 {
        return Err(Fail::Trap(HostTrap::Crash(alloc::format!(
            "{what}: negative max_size {max_size}"
        ))));
    }
    Ok(bytes[..bytes.len().min(max_size as usize)].to_vec())
}

impl HostState {
    pub(crate) fn read_input(
        &mut self,
        mem: &mut [u8],
        info_addr: i32,
        dst: i32,
        max_bytes: i32,
    ) -> HostResult<i32> {
        code_of(|| {
            check_address(mem, info_addr, READ_INPUT_INFO_SIZE as i32)?;
            let max_bytes = max_bytes.min(MAX_INPUT_OUTPUT_SIZE as i32);
            check_address(mem, dst, max_bytes)?;
            let input = match input_buffer::pop(&mut self.buffers) {
                Ok(Some(input)) => input,
                Ok(None) => return Ok(0),
                Err(InputBufferError::Tree(t)) => return Err(Fail::Trap(HostTrap::Tree(t))),
                Err(e) => return Err(Fail::Trap(HostTrap::Crash(e.to_string()))),
            };
            let n = input.payload.len().min(max_bytes as usize);
            store(mem, dst, &input.payload[..n])?;
            let mut info = [0u8; READ_INPUT_INFO_SIZE];
            info[..4].copy_from_slice(&input.level.to_le_bytes());
            info[4..].copy_from_slice(&input.counter.to_le_bytes());
            store(mem, info_addr, &info)?;
            Ok(n as i32)
        })
    }

    pub(crate) fn write_output(
        &mut self,
        mem: &mut [u8],
        src: i32,
        num_bytes: i32,
    ) -> HostResult<i32> {
        code_of(|| {
            if num_bytes > MAX_INPUT_OUTPUT_SIZE as i32 {
                return Err(HostError::InputOutputTooLarge.into());
            }
            let payload = load(mem, src, num_bytes)?;
            match output_buffer::push_message(&mut self.buffers, payload) {
                Ok(_) => Ok(0),
                Err(OutputBufferError::Full { .. }) => Err(HostError::FullOutbox.into()),
                Err(OutputBufferError::Tree(t)) => Err(Fail::Trap(HostTrap::Tree(t))),
                // Octez raises `Non_initialized_outbox`, reported as a generic invalid access.
                Err(_) => Err(HostError::GenericInvalidAccess.into()),
            }
        })
    }

    /// Records a debug message; an unreadable range records octez's `Error code: <n>` text.
    /// The length is read as unsigned, as octez does. Past [`MAX_DEBUG_BYTES_PER_LEVEL`] in a
    /// level, messages are cut and then dropped (and counted in `debug_dropped`).
    pub(crate) fn write_debug(&mut self, mem: &[u8], src: i32, num_bytes: i32) {
        let start = src as u32 as usize;
        let error;
        let bytes = match start
            .checked_add(num_bytes as u32 as usize)
            .and_then(|end| mem.get(start..end))
        {
            Some(bytes) => bytes,
            None => {
                error = alloc::format!("Error code: {}", HostError::MemoryInvalidAccess.code());
                error.as_bytes()
            }
        };
        let room = MAX_DEBUG_BYTES_PER_LEVEL
            .saturating_sub(self.debug_bytes)
            .saturating_sub(DEBUG_MESSAGE_OVERHEAD);
        let kept = bytes.len().min(room);
        self.debug_dropped += (bytes.len() - kept) as u64;
        if self.debug_bytes + DEBUG_MESSAGE_OVERHEAD <= MAX_DEBUG_BYTES_PER_LEVEL {
            self.debug_bytes += kept + DEBUG_MESSAGE_OVERHEAD;
            Arc::make_mut(&mut self.debug).push(bytes[..kept].to_vec());
        } else if bytes.is_empty() {
            // An empty message past the cap is dropped too: count it as one byte.
            self.debug_dropped += 1;
        }
    }

    pub(crate) fn store_has(&mut self, mem: &[u8], key: i32, len: i32) -> HostResult<i32> {
        code_of(|| {
            let key = load_key(mem, key, len)?;
            let has_value = self.durable.has_value(&key)?;
            let children = self.durable.count_subtrees(&key)?;
            Ok(match (has_value, children) {
                (false, 0) => 0,
                (true, 1) => 1,
                (false, _) => 2,
                (true, _) => 3,
            })
        })
    }

    pub(crate) fn store_exists(&mut self, mem: &[u8], key: i32, len: i32) -> HostResult<i32> {
        code_of(|| {
            let key = load_key(mem, key, len)?;
            Ok(i32::from(self.durable.exists(&key)?))
        })
    }

    pub(crate) fn store_delete(
        &mut self,
        mem: &[u8],
        key: i32,
        len: i32,
        target: Target,
    ) -> HostResult<i32> {
        code_of(|| {
            let key = load_key(mem, key, len)?;
            self.durable.delete(&key, target, false)?;
            Ok(0)
        })
    }

    pub(crate) fn store_list_size(&mut self, mem: &[u8], key: i32, len: i32) -> HostResult<i64> {
        let count = || -> Result<i64, Fail> {
            let key = load_key(mem, key, len)?;
            Ok(self.durable.count_subtrees(&key)? as i64)
        };
        match count() {
            Ok(n) => Ok(n),
            Err(Fail::Code(e)) => Ok(i64::from(e.code())),
            Err(Fail::Trap(t)) => Err(t),
        }
    }

    pub(crate) fn store_copy(
        &mut self,
        mem: &[u8],
        from: i32,
        from_len: i32,
        to: i32,
        to_len: i32,
    ) -> HostResult<i32> {
        code_of(|| {
            let from = load_key(mem, from, from_len)?;
            let to = load_key(mem, to, to_len)?;
            self.durable.copy_tree(&from, &to, false)?;
            Ok(0)
        })
    }

    pub(crate) fn store_move(
        &mut self,
        mem: &[u8],
        from: i32,
        from_len: i32,
        to: i32,
        to_len: i32,
    ) -> HostResult<i32> {
        code_of(|| {
            let from = load_key(mem, from, from_len)?;
            let to = load_key(mem, to, to_len)?;
            self.durable.move_tree(&from, &to)?;
            Ok(0)
        })
    }

    pub(crate) fn store_create(
        &mut self,
        mem: &[u8],
        key: i32,
        len: i32,
        size: i32,
    ) -> HostResult<i32> {
        code_of(|| {
            let key = load_key(mem, key, len)?;
            if size < 0 {
                return Err(HostError::StoreValueSizeExceeded.into());
            }
            if self.durable.create_value(&key, size as u64, false)? {
                Ok(0)
            } else {
                Err(HostError::StoreValueAlreadyExists.into())
            }
        })
    }

    fn value_size(&self, key: &Key) -> Result<i32, Fail> {
        match self.durable.value_length(key)? {
            Some(n) => Ok(n as i64 as i32),
            None => Err(HostError::StoreNotAValue.into()),
        }
    }

    pub(crate) fn store_value_size(&mut self, mem: &[u8], key: i32, len: i32) -> HostResult<i32> {
        code_of(|| {
            let key = load_key(mem, key, len)?;
            self.value_size(&key)
        })
    }

    pub(crate) fn store_read(
        &mut self,
        mem: &mut [u8],
        key: i32,
        len: i32,
        offset: i32,
        dst: i32,
        max_bytes: i32,
    ) -> HostResult<i32> {
        code_of(|| {
            let key = load_key(mem, key, len)?;
            let value = self
                .durable
                .read_value(&key, i64::from(offset), i64::from(max_bytes))?;
            store(mem, dst, &value)?;
            Ok(value.len() as i32)
        })
    }

    pub(crate) fn store_write(
        &mut self,
        mem: &[u8],
        key: i32,
        len: i32,
        offset: i32,
        src: i32,
        num_bytes: i32,
    ) -> HostResult<i32> {
        code_of(|| {
            let key = load_key(mem, key, len)?;
            // One descent: the size check and the write see the same value node.
            self.durable
                .write_value_with(&key, i64::from(offset), false, |length| {
                    let size = length.map_or(0, |n| n as i64 as i32);
                    if size.checked_add(num_bytes).is_none_or(|sum| sum < size) {
                        return Err(Fail::from(HostError::StoreValueSizeExceeded));
                    }
                    Ok(load(mem, src, num_bytes)?)
                })?;
            Ok(0)
        })
    }

    pub(crate) fn store_get_nth_key(
        &mut self,
        mem: &mut [u8],
        key: i32,
        len: i32,
        index: i64,
        dst: i32,
        max_size: i32,
    ) -> HostResult<i32> {
        code_of(|| {
            let key = load_key(mem, key, len)?;
            let name = self.durable.subtree_name_at(&key, index)?;
            let name = truncate(&name, max_size, "store_get_nth_key")?;
            if !name.is_empty() {
                store(mem, dst, &name)?;
            }
            Ok(name.len() as i32)
        })
    }

    pub(crate) fn store_get_hash(
        &mut self,
        mem: &mut [u8],
        key: i32,
        len: i32,
        dst: i32,
        max_size: i32,
    ) -> HostResult<i32> {
        code_of(|| {
            let key = load_key(mem, key, len)?;
            let hash = self
                .durable
                .hash(&key, Target::Directory)?
                .ok_or(HostError::StoreNotANode)?;
            let hash = truncate(&hash, max_size, "__internal_store_get_hash")?;
            if !hash.is_empty() {
                store(mem, dst, &hash)?;
            }
            Ok(hash.len() as i32)
        })
    }

    /// `reveal_preimage` and the generic `reveal`: reads the argument, then suspends with a
    /// reveal request (or returns an error code if the argument cannot be read).
    pub(crate) fn reveal_request(
        &mut self,
        mem: &[u8],
        function: HostFunction,
        addr: i32,
        len: i32,
        dst: i32,
        max_bytes: i32,
    ) -> HostResult<i32> {
        let arg = if len > MAX_INPUT_OUTPUT_SIZE as i32 {
            Err(HostError::InputOutputTooLarge)
        } else {
            load(mem, addr, len)
        };
        let arg = match arg {
            Ok(a) => a,
            Err(e) => return Ok(e.code()),
        };
        let request = if function == HostFunction::RevealPreimage {
            RevealRequest::Preimage(arg.to_vec())
        } else {
            RevealRequest::from_payload(arg)
        };
        Err(HostTrap::Reveal {
            request,
            dst,
            max_bytes,
        })
    }
}

/// Completes a reveal: writes at most `max_bytes` of `data` at `dst` (octez `Aux.reveal`).
pub(crate) fn finish_reveal(
    mem: &mut [u8],
    data: &[u8],
    dst: i32,
    max_bytes: i32,
) -> HostResult<i32> {
    if max_bytes < 0 {
        return Err(HostTrap::Crash(alloc::format!(
            "reveal: negative max_bytes {max_bytes}"
        )));
    }
    let n = data.len().min(max_bytes as usize);
    match store(mem, dst, &data[..n]) {
        Ok(()) => Ok(n as i32),
        Err(e) => Ok(e.code()),
    }
}

/// A host function's result as octez's tick model reads it: negative is an error code.
trait ResultCode {
    fn code(&self) -> i64;
}

impl ResultCode for i32 {
    fn code(&self) -> i64 {
        i64::from(*self)
    }
}

impl ResultCode for i64 {
    fn code(&self) -> i64 {
        *self
    }
}

impl ResultCode for () {
    fn code(&self) -> i64 {
        0
    }
}

/// Takes `cost` fuel from the run (first giving back the grow fuel,
/// [`Limiter::take_grow_fuel`], if it falls short), or empties it and stops the run as out
/// of fuel.
fn charge(caller: &mut wasmi::Caller<'_, HostState>, cost: u64) -> Result<(), wasmi::Error> {
    let mut left = caller.get_fuel()?;
    if left < cost && caller.data().fuel_reserve > 0 {
        // A fuel slice ends inside this call: take what it needs from the run's reserve, so a
        // stepped run charges exactly what an unstepped one does.
        let reserve = caller.data().fuel_reserve;
        let take = (cost - left).min(reserve);
        caller.data_mut().fuel_reserve = reserve - take;
        left += take;
    }
    if left < cost {
        left = left.saturating_add(caller.data_mut().limits.take_grow_fuel());
    }
    if left < cost {
        caller.set_fuel(0)?;
        return Err(wasmi::Error::host(HostTrap::OutOfFuel));
    }
    caller.set_fuel(left - cost)?;
    let data = caller.data_mut();
    data.host_fuel = data.host_fuel.saturating_add(cost);
    Ok(())
}

/// Runs host function `function` on the kernel's memory and charges octez's ticks for it
/// ([`host_call_fuel`] of its key lengths `keys`, the `bytes` it writes and its result):
/// [`crate::abi::HOST_CALL_FUEL`] before the call (without it, the call does nothing), the
/// rest after it, as octez counts a call's ticks down once it has run. Every call's work is
/// bounded (at most 4096 bytes moved, one durable operation), so a run ends within its fuel.
fn with_memory<R: ResultCode>(
    caller: &mut wasmi::Caller<'_, HostState>,
    function: HostFunction,
    keys: i32,
    bytes: i32,
    f: impl FnOnce(&mut [u8], &mut HostState) -> HostResult<R>,
) -> Result<R, wasmi::Error> {
    caller.data_mut().last_call = Some(function);
    charge(caller, crate::abi::HOST_CALL_FUEL)?;
    let memory = caller.data().memory.ok_or_else(|| {
        wasmi::Error::host(HostTrap::Crash(
            "host functions must not access memory during initialisation".into(),
        ))
    })?;
    let (mem, state) = memory.data_and_store_mut(&mut *caller);
    let result = f(mem, state).map_err(wasmi::Error::host)?;
    let cost = host_call_fuel(function, keys, bytes, result.code());
    charge(caller, cost.saturating_sub(crate::abi::HOST_CALL_FUEL))?;
    Ok(result)
}

/// Registers the host functions available at `version` in `linker`.
pub(crate) fn link(
    linker: &mut wasmi::Linker<HostState>,
    version: PvmVersion,
) -> Result<(), wasmi::Error> {
    use wasmi::Caller;
    type C<'a> = Caller<'a, HostState>;
    let m = HOST_MODULE;
    for f in HostFunction::ALL {
        if f.since() > version {
            continue;
        }
        let name = f.name();
        match f {
            HostFunction::ReadInput => {
                linker.func_wrap(m, name, |mut c: C<'_>, a: i32, b: i32, n: i32| {
                    with_memory(&mut c, HostFunction::ReadInput, 0, 0, |mem, st| {
                        st.read_input(mem, a, b, n)
                    })
                })
            }
            HostFunction::WriteOutput => {
                linker.func_wrap(m, name, |mut c: C<'_>, a: i32, n: i32| {
                    with_memory(&mut c, HostFunction::WriteOutput, 0, 0, |mem, st| {
                        st.write_output(mem, a, n)
                    })
                })
            }
            HostFunction::WriteDebug => {
                linker.func_wrap(m, name, |mut c: C<'_>, a: i32, n: i32| {
                    with_memory(&mut c, HostFunction::WriteDebug, 0, 0, |mem, st| {
                        st.write_debug(mem, a, n);
                        Ok(())
                    })
                })
            }
            HostFunction::StoreHas => linker.func_wrap(m, name, |mut c: C<'_>, k: i32, l: i32| {
                with_memory(&mut c, HostFunction::StoreHas, l, 0, |mem, st| {
                    st.store_has(mem, k, l)
                })
            }),
            HostFunction::StoreExists => {
                linker.func_wrap(m, name, |mut c: C<'_>, k: i32, l: i32| {
                    with_memory(&mut c, HostFunction::StoreExists, l, 0, |mem, st| {
                        st.store_exists(mem, k, l)
                    })
                })
            }
            HostFunction::StoreListSize => {
                linker.func_wrap(m, name, |mut c: C<'_>, k: i32, l: i32| {
                    with_memory(&mut c, HostFunction::StoreListSize, l, 0, |mem, st| {
                        st.store_list_size(mem, k, l)
                    })
                })
            }
            HostFunction::StoreGetNthKey => linker.func_wrap(
                m,
                name,
                |mut c: C<'_>, k: i32, l: i32, i: i64, d: i32, n: i32| {
                    with_memory(&mut c, HostFunction::StoreGetNthKey, l, 0, |mem, st| {
                        st.store_get_nth_key(mem, k, l, i, d, n)
                    })
                },
            ),
            HostFunction::StoreDelete => {
                linker.func_wrap(m, name, |mut c: C<'_>, k: i32, l: i32| {
                    with_memory(&mut c, HostFunction::StoreDelete, l, 0, |mem, st| {
                        st.store_delete(mem, k, l, Target::Directory)
                    })
                })
            }
            HostFunction::StoreDeleteValue => {
                linker.func_wrap(m, name, |mut c: C<'_>, k: i32, l: i32| {
                    with_memory(&mut c, HostFunction::StoreDeleteValue, l, 0, |mem, st| {
                        st.store_delete(mem, k, l, Target::Value)
                    })
                })
            }
            HostFunction::StoreCopy => {
                linker.func_wrap(m, name, |mut c: C<'_>, a: i32, b: i32, x: i32, y: i32| {
                    with_memory(
                        &mut c,
                        HostFunction::StoreCopy,
                        b.saturating_add(y),
                        0,
                        |mem, st| st.store_copy(mem, a, b, x, y),
                    )
                })
            }
            HostFunction::StoreMove => {
                linker.func_wrap(m, name, |mut c: C<'_>, a: i32, b: i32, x: i32, y: i32| {
                    with_memory(
                        &mut c,
                        HostFunction::StoreMove,
                        b.saturating_add(y),
                        0,
                        |mem, st| st.store_move(mem, a, b, x, y),
                    )
                })
            }
            HostFunction::StoreValueSize => {
                linker.func_wrap(m, name, |mut c: C<'_>, k: i32, l: i32| {
                    with_memory(&mut c, HostFunction::StoreValueSize, l, 0, |mem, st| {
                        st.store_value_size(mem, k, l)
                    })
                })
            }
            HostFunction::StoreRead => linker.func_wrap(
                m,
                name,
                |mut c: C<'_>, k: i32, l: i32, o: i32, d: i32, n: i32| {
                    with_memory(&mut c, HostFunction::StoreRead, l, 0, |mem, st| {
                        st.store_read(mem, k, l, o, d, n)
                    })
                },
            ),
            HostFunction::StoreWrite => linker.func_wrap(
                m,
                name,
                |mut c: C<'_>, k: i32, l: i32, o: i32, s: i32, n: i32| {
                    with_memory(&mut c, HostFunction::StoreWrite, l, n, |mem, st| {
                        st.store_write(mem, k, l, o, s, n)
                    })
                },
            ),
            HostFunction::StoreCreate => {
                linker.func_wrap(m, name, |mut c: C<'_>, k: i32, l: i32, s: i32| {
                    with_memory(&mut c, HostFunction::StoreCreate, l, 0, |mem, st| {
                        st.store_create(mem, k, l, s)
                    })
                })
            }
            HostFunction::StoreGetHash => {
                linker.func_wrap(m, name, |mut c: C<'_>, k: i32, l: i32, d: i32, n: i32| {
                    with_memory(&mut c, HostFunction::StoreGetHash, l, 0, |mem, st| {
                        st.store_get_hash(mem, k, l, d, n)
                    })
                })
            }
            HostFunction::RevealPreimage => {
                linker.func_wrap(m, name, |mut c: C<'_>, a: i32, l: i32, d: i32, n: i32| {
                    with_memory(&mut c, HostFunction::RevealPreimage, 0, 0, |mem, st| {
                        st.reveal_request(mem, HostFunction::RevealPreimage, a, l, d, n)
                    })
                })
            }
            HostFunction::Reveal => {
                linker.func_wrap(m, name, |mut c: C<'_>, a: i32, l: i32, d: i32, n: i32| {
                    with_memory(&mut c, HostFunction::Reveal, 0, 0, |mem, st| {
                        st.reveal_request(mem, HostFunction::Reveal, a, l, d, n)
                    })
                })
            }
            HostFunction::RevealMetadata => linker.func_wrap(
                m,
                name,
                |_c: C<'_>, d: i32, n: i32| -> Result<i32, wasmi::Error> {
                    Err(wasmi::Error::host(HostTrap::Reveal {
                        request: RevealRequest::Metadata,
                        dst: d,
                        max_bytes: n,
                    }))
                },
            ),
        }?;
    }
    Ok(())
}
