//! # soru-node
//!
//! The native face of Soru: the `soru` command line (replay, proofs, and soon the debugger REPL and
//! the sandbox L1) and the `soru-node` rollup node. All I/O of Soru lives here, behind small
//! traits, over the pure logic of `soru-core`.
//!
//! | module | concept |
//! |---|---|
//! | [`cli`] | the `soru` command line: one file per subcommand |
//! | [`sandbox`] | `soru sandbox`: the embedded Tezos L1 for smart rollups |
//! | [`node`] | `soru-node`: the rollup node |

pub mod cli;
mod hex_text;
mod kernel;
#[cfg(not(target_family = "wasm"))]
mod logging;
#[cfg(not(target_family = "wasm"))]
pub mod node;
mod preimages;
pub mod sandbox;
