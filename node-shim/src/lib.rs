//! # soru-node
//!
//! The native face of Soru: the `soru` command line (replay, proofs, the debugger REPL, the
//! sandbox L1) and the `soru-node` rollup node. All I/O of Soru lives here, behind small
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

/// The allocator of every native program and test built on this crate: mimalloc. The state tree
/// allocates and frees a small node for each entry a level touches; on `soru replay` of 300 echo
/// levels mimalloc takes about a quarter less CPU time than glibc's malloc, with a twelfth as many
/// page faults (README, Performance). WebAssembly builds keep Rust's default allocator.
#[cfg(not(target_family = "wasm"))]
#[global_allocator]
static HEAP: mimalloc::MiMalloc = mimalloc::MiMalloc;
