//! Shared helpers for Soru's cross-crate and end-to-end tests.
//!
//! The centrepiece is the differential harness for kernels written with the official Tezos
//! kernel SDK (`tests/kernels`): a [`Scenario`] (levels of inbox messages, preimages, durable
//! paths to compare) runs once natively on the SDK's `MockHost` ([`mock`]) and once as a wasm32
//! module on Soru's PVM ([`pvm`]); both produce an [`Outcome`] (outbox per level, durable
//! values) that must be identical.
//!
//! `MockHost` is not the PVM (see `shared/notes/mockhost-vs-octez.md`): scenarios avoid the
//! paths where it is known to differ from octez, and say so where they do.

pub mod kernels;
pub mod mock;
pub mod pvm;
pub mod scenario;

pub use kernels::Kernel;
pub use scenario::{Input, Outcome, Payload, Scenario, Transfer};
