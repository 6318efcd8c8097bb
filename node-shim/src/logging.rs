//! Logging for the long-running faces (`soru sandbox run`, `soru-node run`): `tracing` to
//! stderr, filtered by `RUST_LOG` (default `info`), colours only on a terminal.

use std::io::IsTerminal;

/// Installs the stderr subscriber once (later calls do nothing).
pub(crate) fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
