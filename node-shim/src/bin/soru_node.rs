//! `soru-node`: the Soru smart rollup node (see `soru_node::node`).

use std::process::ExitCode;

#[cfg(not(target_family = "wasm"))]
fn main() -> ExitCode {
    soru_node::node::cli::main()
}

#[cfg(target_family = "wasm")]
fn main() -> ExitCode {
    eprintln!("soru-node: the rollup node needs sockets and threads; build it for a native target");
    ExitCode::from(2)
}
