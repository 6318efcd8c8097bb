//! `soru sandbox`: an embedded Tezos L1 that implements the rollup half of the protocol and serves
//! the octez node RPC shapes that Taquito, pytezos and `soru-node` use.
//!
//! The protocol logic is pure (no I/O) and lives in its own modules; the RPC server and the
//! database sit on top of it.

pub mod michelson;
#[cfg(not(target_family = "wasm"))]
pub mod node;
pub mod protocol;
#[cfg(not(target_family = "wasm"))]
pub mod rpc;
