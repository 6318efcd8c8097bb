//! # soru-web
//!
//! The browser face of Soru: a Leptos (client-side rendered) app with three pages, running
//! `soru-core` and `soru-verifier` compiled to `wasm32` in the page.
//!
//! | page | what it does |
//! |---|---|
//! | Playground | load a kernel, edit inputs (octez debugger JSON), run `soru debug`'s commands (the same [`soru_core::debugger::Session`]) in a Web Worker, inspect status, inbox, outbox, durable storage, debug log |
//! | Verify withdrawal | verify an octez output proof against a state hash or commitment, locally |
//! | Check commitments | fetch a rollup node's commitment chain and each period's replay witness, check every commitment in a Web Worker from the previous one's state (the genesis one by its kernel; a replay from origination where the node serves no witness) and mark it valid, invalid or not established |
//!
//! The modules below are pure logic, tested natively with `cargo test -p soru-web`; the Leptos
//! components and the worker entry (`app`, `worker_entry`) exist only on `wasm32`. Build the app
//! with `make web` (into `dist/`).

pub mod check;
pub mod engine;
pub mod kernel_file;
pub mod protocol;
pub mod rpc;
pub mod session;
pub mod verify;
pub mod view;

/// The Leptos components (browser only).
#[cfg(target_arch = "wasm32")]
pub mod app;
/// Browser glue: worker, fetch, storage (browser only).
#[cfg(target_arch = "wasm32")]
pub mod web;
