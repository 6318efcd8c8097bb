//! The state layout of the WASM PVM: where each part of the state lives in the [`Tree`] and how
//! it is encoded, exactly as octez lays out `wasm_2_0_0` (`src/lib_scoru_wasm/wasm_encoding.ml`,
//! `wasm_pvm.ml`), so a Soru state tree hashes like octez's.
//!
//! This layer sits below the host functions (which act on it) and the PVM state machine (which
//! moves it from one state to the next); proofs read it without the PVM.
//!
//! | path | content | module |
//! |---|---|---|
//! | `/tag` | `"Some"` once the PVM is initialised | [`TAG`] |
//! | `/value/durable` | durable storage | [`crate::durable`] |
//! | `/value/pvm/buffers/output` | the outboxes | [`output_buffer`] |
//!
//! The durable keys the PVM itself reads and writes are declared here as well.
//!
//! [`Tree`]: crate::tree::Tree

pub mod output_buffer;

/// Path of the PVM state tag.
pub const TAG: [&[u8]; 1] = [b"tag"];

/// The tag value of an initialised PVM state: the Data_encoding string `"Some"`.
pub const TAG_SOME: &[u8] = b"\x00\x00\x00\x04Some";

/// Path of durable storage in the state tree.
pub const DURABLE_PATH: [&[u8]; 2] = [b"value", b"durable"];

/// Durable key of the kernel.
pub const KERNEL_KEY: &str = "/kernel/boot.wasm";
/// Durable key of the fallback kernel (the last one that initialised).
pub const FALLBACK_KERNEL_KEY: &str = "/readonly/kernel/boot.wasm";
/// Durable key a kernel writes to ask for a reboot.
pub const REBOOT_FLAG_KEY: &str = "/kernel/env/reboot";
/// Durable key of the remaining reboots (little-endian `i32`).
pub const REBOOT_COUNTER_KEY: &str = "/readonly/kernel/env/reboot_counter";
/// Durable key set when `kernel_run` trapped.
pub const STUCK_FLAG_KEY: &str = "/readonly/kernel/env/stuck";
/// Durable key set when an upgrade failed and the fallback kernel was restored.
pub const UPGRADE_ERROR_FLAG_KEY: &str = "/readonly/kernel/env/upgrade_error";
/// Durable key set when the kernel asked for too many reboots.
pub const TOO_MANY_REBOOT_FLAG_KEY: &str = "/readonly/kernel/env/too_many_reboot";
/// Durable key of the PVM version.
pub const VERSION_KEY: &str = "/readonly/wasm_version";
