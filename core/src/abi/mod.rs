//! ABI facts of the Tezos WASM PVM: the numbers, names and versions a kernel and octez agree
//! on, declared once here and used by every layer above (encodings, durable storage, the state
//! layout, the host functions, the PVM). This module imports nothing from the crate.
//!
//! Values follow octez (`src/lib_scoru_wasm/host_funcs.ml`, `durable.ml`, `wasm_pvm.ml`,
//! `constants.ml`) and the protocol's smart-rollup constants.

mod version;

use core::fmt;

pub use version::PvmVersion;

/// Name of the import module of every host function.
pub const HOST_MODULE: &str = "smart_rollup_core";
/// Maximum size of an inbox or outbox message, of an input or output the kernel moves, of a
/// reveal hash/payload argument and of a revealed preimage (octez `input_output_max_size`, the
/// protocol's `sc_rollup_message_size_limit` and 4 KiB reveal pages).
pub const MAX_INPUT_OUTPUT_SIZE: usize = 4096;
/// Maximum number of bytes moved by one `store_read` or `store_write`.
pub const MAX_STORE_IO_SIZE: usize = 2048;
/// Maximum length of a durable key: 250 bytes minus `/durable` and `/@` (octez `max_key_length`).
pub const MAX_KEY_LENGTH: usize = 240;
/// Size of a durable value chunk (octez chunked byte vector).
pub const CHUNK_SIZE: usize = 512;
/// Size of the `read_input` info record: level and message index, little-endian `i32`s.
pub const READ_INPUT_INFO_SIZE: usize = 8;
/// Size of the rollup metadata: 20-byte address and big-endian `i32` origination level.
pub const METADATA_SIZE: usize = 24;
/// Size of the hash `__internal_store_get_hash` writes.
pub const STORE_HASH_SIZE: usize = 32;
/// Number of reboots a kernel may request per level (octez `maximum_reboots_per_input`); the
/// first `kernel_run` of a level does not count, so a level has at most 1001 runs.
pub const MAXIMUM_REBOOTS_PER_INPUT: u32 = 1000;
/// Default maximum number of outbox messages per level (protocol `outbox_message_limit`).
pub const OUTBOX_MESSAGE_LIMIT: usize = 100;
/// Default number of levels an outbox is kept (protocol `outbox_validity_period`).
pub const OUTBOX_VALIDITY_PERIOD: u32 = 241_920;
/// Size of a WebAssembly page in bytes.
pub const WASM_PAGE_SIZE: u64 = 65_536;
/// Soru's deterministic memory ceiling: 16384 pages (1 GiB). A kernel may declare at most this
/// many initial pages (checked at validation) and `memory.grow` beyond it returns -1 on every
/// machine. Below it the PVM guarantees the allocation: a host that cannot provide it stops the
/// PVM with an error (`PvmError::HostOutOfMemory`) instead of giving the kernel a different
/// answer. Octez allows the full 4 GiB of a 32-bit memory; no machine could guarantee that to
/// every operator, verifier and browser, so this is a documented Soru restriction.
pub const MAX_MEMORY_PAGES: u64 = 16_384;
/// Soru's deterministic table ceiling: at most this many elements in all tables together, at
/// validation (initial sizes) and at every `table.grow` (beyond it, -1), like
/// [`MAX_MEMORY_PAGES`].
pub const MAX_TABLE_ELEMENTS: u64 = 1 << 20;
/// Maximum number of locals of one function (wasmparser's and wasmi's limit), checked at
/// validation so a kernel declaring 2^32-1 locals is rejected before it runs.
pub const MAX_FUNCTION_LOCALS: u64 = 50_000;
/// Bytes of `write_debug` output kept per level (each message counts its length plus
/// [`DEBUG_MESSAGE_OVERHEAD`]); the rest is dropped and counted, so a kernel printing forever
/// cannot exhaust the host's memory. Octez's debugger prints debug output as it comes.
pub const MAX_DEBUG_BYTES_PER_LEVEL: usize = 1 << 20;
/// What one debug message costs against [`MAX_DEBUG_BYTES_PER_LEVEL`] besides its bytes.
pub const DEBUG_MESSAGE_OVERHEAD: usize = 32;
/// wasmi fuel every host call costs besides its `call` instruction (which wasmi charges as
/// one operator): the two interpreter steps octez spends on any host call, the one that runs
/// it (`Inv_start`) and the one that returns (the last `Inv_stop`). A failing call, for which
/// octez's tick model adds nothing, costs this much (see [`host_call_fuel`]).
pub const HOST_CALL_FUEL: u64 = 2;
/// Fuel per byte a host call reads from or writes to the kernel's memory: octez's
/// `ticks_per_byte_read` and `ticks_per_byte_written` (`Tick_model`).
pub const FUEL_PER_BYTE: u64 = 42;
/// Fuel of one access, copy, move or deletion in the durable tree (octez `tree_access`, ...).
pub const TREE_ACCESS_FUEL: u64 = 1;

/// The fuel of one call of `function` that returned `result`, exactly octez's ticks for it
/// (`host_funcs.ml`): [`HOST_CALL_FUEL`], plus, when the call succeeded (`result >= 0`),
/// [`FUEL_PER_BYTE`] per byte of its key arguments (`keys`, their total length) and of the
/// value it moved (`bytes`: the `num_bytes` of `store_write`; for `read_input` and
/// `store_read` the result), and [`TREE_ACCESS_FUEL`] if it touched durable storage.
/// octez charges `write_output`, `write_debug` and the reveal calls nothing beyond the call
/// (a reveal's bytes are charged when they arrive, see [`reveal_fuel`]).
pub fn host_call_fuel(function: HostFunction, keys: i32, bytes: i32, result: i64) -> u64 {
    if result < 0 {
        return HOST_CALL_FUEL;
    }
    let n = |v: i64| (v.max(0) as u64).saturating_mul(FUEL_PER_BYTE);
    let keys = n(i64::from(keys));
    let model = match function {
        HostFunction::ReadInput => n(result),
        HostFunction::WriteOutput
        | HostFunction::WriteDebug
        | HostFunction::RevealPreimage
        | HostFunction::RevealMetadata
        | HostFunction::Reveal => 0,
        HostFunction::StoreRead => keys + TREE_ACCESS_FUEL + n(result),
        HostFunction::StoreWrite => keys + TREE_ACCESS_FUEL + n(i64::from(bytes)),
        HostFunction::StoreHas
        | HostFunction::StoreExists
        | HostFunction::StoreListSize
        | HostFunction::StoreGetNthKey
        | HostFunction::StoreDelete
        | HostFunction::StoreDeleteValue
        | HostFunction::StoreCopy
        | HostFunction::StoreMove
        | HostFunction::StoreValueSize
        | HostFunction::StoreCreate
        | HostFunction::StoreGetHash => keys + TREE_ACCESS_FUEL,
    };
    HOST_CALL_FUEL.saturating_add(model)
}

/// The fuel of delivering `revealed` bytes to a suspended reveal call: octez's reveal tick
/// plus [`FUEL_PER_BYTE`] per byte written to memory.
pub fn reveal_fuel(revealed: i32) -> u64 {
    1 + (revealed.max(0) as u64).saturating_mul(FUEL_PER_BYTE)
}

/// Default ticks per `kernel_run` (protocol `ticks_per_snapshot`, as used by the octez debugger).
pub const TICKS_PER_SNAPSHOT: u128 = 50_000_000_000_000;

/// Error codes returned by host functions, exactly as octez numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum HostError {
    /// The key is longer than [`MAX_KEY_LENGTH`].
    StoreKeyTooLarge = -1,
    /// The key is not a valid path.
    StoreInvalidKey = -2,
    /// No value at the key.
    StoreNotAValue = -3,
    /// An offset outside the value.
    StoreInvalidAccess = -4,
    /// A value would exceed the maximum size (or a size is negative).
    StoreValueSizeExceeded = -5,
    /// A memory access outside the kernel's memory.
    MemoryInvalidAccess = -6,
    /// An input, output or store transfer larger than allowed.
    InputOutputTooLarge = -7,
    /// Any other failure (e.g. a negative length).
    GenericInvalidAccess = -8,
    /// The key is read-only.
    StoreReadonlyValue = -9,
    /// No subtree at the key.
    StoreNotANode = -10,
    /// The outbox of the level is full.
    FullOutbox = -11,
    /// `store_get_nth_key` index out of range.
    StoreInvalidSubkeyIndex = -12,
    /// `store_create` on a key that already holds a value.
    StoreValueAlreadyExists = -13,
}

impl HostError {
    /// Every error code, from -1 down to -13.
    pub const ALL: [HostError; 13] = [
        HostError::StoreKeyTooLarge,
        HostError::StoreInvalidKey,
        HostError::StoreNotAValue,
        HostError::StoreInvalidAccess,
        HostError::StoreValueSizeExceeded,
        HostError::MemoryInvalidAccess,
        HostError::InputOutputTooLarge,
        HostError::GenericInvalidAccess,
        HostError::StoreReadonlyValue,
        HostError::StoreNotANode,
        HostError::FullOutbox,
        HostError::StoreInvalidSubkeyIndex,
        HostError::StoreValueAlreadyExists,
    ];

    /// The numeric code a kernel sees.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The error for a numeric code, if it is one.
    pub fn from_code(code: i32) -> Option<HostError> {
        HostError::ALL.into_iter().find(|e| e.code() == code)
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?} ({})", self.code())
    }
}

/// A wasm value type in a host function signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValKind {
    /// `i32`
    I32,
    /// `i64`
    I64,
}

/// Every host function of `smart_rollup_core` Soru provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostFunction {
    /// `read_input(info_addr, dst, max_bytes) -> i32`
    ReadInput,
    /// `write_output(src, num_bytes) -> i32`
    WriteOutput,
    /// `write_debug(src, num_bytes)`
    WriteDebug,
    /// `store_has(key, key_len) -> i32`
    StoreHas,
    /// `store_list_size(key, key_len) -> i64`
    StoreListSize,
    /// `store_get_nth_key(key, key_len, index: i64, dst, max_size) -> i32`
    StoreGetNthKey,
    /// `store_delete(key, key_len) -> i32`
    StoreDelete,
    /// `store_delete_value(key, key_len) -> i32`
    StoreDeleteValue,
    /// `store_copy(from, from_len, to, to_len) -> i32`
    StoreCopy,
    /// `store_move(from, from_len, to, to_len) -> i32`
    StoreMove,
    /// `store_value_size(key, key_len) -> i32`
    StoreValueSize,
    /// `store_read(key, key_len, offset, dst, max_bytes) -> i32`
    StoreRead,
    /// `store_write(key, key_len, offset, src, num_bytes) -> i32`
    StoreWrite,
    /// `store_create(key, key_len, size) -> i32`
    StoreCreate,
    /// `store_exists(key, key_len) -> i32`
    StoreExists,
    /// `__internal_store_get_hash(key, key_len, dst, max_size) -> i32`
    StoreGetHash,
    /// `reveal_preimage(hash, hash_len, dst, max_bytes) -> i32`
    RevealPreimage,
    /// `reveal_metadata(dst, max_bytes) -> i32`
    RevealMetadata,
    /// `reveal(payload, payload_len, dst, max_bytes) -> i32`
    Reveal,
}

impl HostFunction {
    /// Every host function.
    pub const ALL: [HostFunction; 19] = [
        HostFunction::ReadInput,
        HostFunction::WriteOutput,
        HostFunction::WriteDebug,
        HostFunction::StoreHas,
        HostFunction::StoreListSize,
        HostFunction::StoreGetNthKey,
        HostFunction::StoreDelete,
        HostFunction::StoreDeleteValue,
        HostFunction::StoreCopy,
        HostFunction::StoreMove,
        HostFunction::StoreValueSize,
        HostFunction::StoreRead,
        HostFunction::StoreWrite,
        HostFunction::StoreCreate,
        HostFunction::StoreExists,
        HostFunction::StoreGetHash,
        HostFunction::RevealPreimage,
        HostFunction::RevealMetadata,
        HostFunction::Reveal,
    ];

    /// The import name.
    pub fn name(self) -> &'static str {
        match self {
            HostFunction::ReadInput => "read_input",
            HostFunction::WriteOutput => "write_output",
            HostFunction::WriteDebug => "write_debug",
            HostFunction::StoreHas => "store_has",
            HostFunction::StoreListSize => "store_list_size",
            HostFunction::StoreGetNthKey => "store_get_nth_key",
            HostFunction::StoreDelete => "store_delete",
            HostFunction::StoreDeleteValue => "store_delete_value",
            HostFunction::StoreCopy => "store_copy",
            HostFunction::StoreMove => "store_move",
            HostFunction::StoreValueSize => "store_value_size",
            HostFunction::StoreRead => "store_read",
            HostFunction::StoreWrite => "store_write",
            HostFunction::StoreCreate => "store_create",
            HostFunction::StoreExists => "store_exists",
            HostFunction::StoreGetHash => "__internal_store_get_hash",
            HostFunction::RevealPreimage => "reveal_preimage",
            HostFunction::RevealMetadata => "reveal_metadata",
            HostFunction::Reveal => "reveal",
        }
    }

    /// Parameter types.
    pub fn params(self) -> &'static [ValKind] {
        use ValKind::{I32, I64};
        match self {
            HostFunction::ReadInput | HostFunction::StoreCreate => &[I32, I32, I32],
            HostFunction::WriteOutput
            | HostFunction::WriteDebug
            | HostFunction::StoreHas
            | HostFunction::StoreListSize
            | HostFunction::StoreDelete
            | HostFunction::StoreDeleteValue
            | HostFunction::StoreValueSize
            | HostFunction::StoreExists
            | HostFunction::RevealMetadata => &[I32, I32],
            HostFunction::StoreGetNthKey => &[I32, I32, I64, I32, I32],
            HostFunction::StoreCopy
            | HostFunction::StoreMove
            | HostFunction::StoreGetHash
            | HostFunction::RevealPreimage
            | HostFunction::Reveal => &[I32, I32, I32, I32],
            HostFunction::StoreRead | HostFunction::StoreWrite => &[I32, I32, I32, I32, I32],
        }
    }

    /// Result types.
    pub fn results(self) -> &'static [ValKind] {
        match self {
            HostFunction::WriteDebug => &[],
            HostFunction::StoreListSize => &[ValKind::I64],
            _ => &[ValKind::I32],
        }
    }

    /// The first PVM version providing the function.
    pub fn since(self) -> PvmVersion {
        match self {
            HostFunction::StoreDeleteValue
            | HostFunction::StoreCreate
            | HostFunction::StoreGetHash => PvmVersion::V1,
            HostFunction::StoreExists => PvmVersion::V2,
            HostFunction::Reveal => PvmVersion::V3,
            _ => PvmVersion::V0,
        }
    }

    /// The host function `name` denotes at `version` (octez `Host_funcs.lookup_opt`).
    pub fn lookup(name: &str, version: PvmVersion) -> Option<HostFunction> {
        HostFunction::ALL
            .into_iter()
            .find(|f| f.name() == name && f.since() <= version)
    }
}
