//! # soru-test-kernels
//!
//! Smart-rollup kernels written with the official Tezos kernel SDK (`tezos-smart-rollup` 0.2.2),
//! used by Soru's differential tests and benchmarks.
//!
//! Every kernel is a function generic over the SDK's [`Runtime`], so the *same* code runs natively
//! on the SDK's `MockHost` and, compiled to `wasm32-unknown-unknown`, on Soru's PVM. The wasm32
//! build exports `kernel_run` for the kernel selected by exactly one `kernel-*` feature:
//!
//! | feature | module | what it exercises |
//! |---|---|---|
//! | `kernel-echo` | [`echo`] | `read_input`, `write_output`, `write_debug`, inbox encodings |
//! | `kernel-durable` | [`durable`] | every durable-storage host function, chunked values |
//! | `kernel-counter` | [`counter`] | reboots within a level via `/kernel/env/reboot` |
//! | `kernel-outbox` | [`outbox`] | untyped atomic transaction batches (SDK `OutboxMessage`) |
//! | `kernel-reveal` | [`reveal`] | `reveal_preimage` and `reveal_metadata` |
//! | `kernel-compute` | [`compute`] | a pure integer hash loop, for benchmarks |
//!
//! Kernels only echo what they can observe identically on both hosts: they ignore the level
//! framing messages (Start_of_level, Info_per_level, End_of_level) and never report levels or
//! message ids, because `MockHost` frames levels differently from the PVM (see
//! `shared/notes/mockhost-vs-octez.md`, "Level framing").
//!
//! [`Runtime`]: tezos_smart_rollup::prelude::Runtime

extern crate alloc;

pub mod compute;
pub mod counter;
pub mod durable;
pub mod echo;
pub mod outbox;
pub mod reveal;
pub mod wire;

#[cfg(all(
    target_arch = "wasm32",
    any(
        feature = "kernel-echo",
        feature = "kernel-durable",
        feature = "kernel-counter",
        feature = "kernel-outbox",
        feature = "kernel-reveal",
        feature = "kernel-compute"
    )
))]
mod entry;
