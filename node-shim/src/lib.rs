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
//! | [`heap`] | the native programs' allocator |

pub mod cli;
#[cfg(unix)]
pub mod heap;
mod hex_text;
mod kernel;
#[cfg(not(target_family = "wasm"))]
mod logging;
#[cfg(not(target_family = "wasm"))]
pub mod node;
mod preimages;
pub mod sandbox;

/// The allocator of every native program and test built on this crate ([`heap::Heap`]: mimalloc
/// for small blocks, `malloc` for large ones). Other targets keep Rust's default allocator.
#[cfg(unix)]
#[global_allocator]
static HEAP: heap::Heap = heap::Heap;
