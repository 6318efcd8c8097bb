//! `soru-node`: the Soru smart rollup node (see `soru_node::node`).

use std::process::ExitCode;

#[cfg(not(target_os = "wasi"))]
fn main() -> ExitCode {
    soru_node::node::cli::main()
}

#[cfg(target_os = "wasi")]
fn main() -> ExitCode {
    eprintln!("soru-node: the rollup node needs sockets and threads; build it for a native target");
    ExitCode::from(2)
}
