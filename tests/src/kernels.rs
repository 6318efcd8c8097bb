//! The SDK test kernels: their native entry points and their wasm32 modules.
//!
//! `build.rs` compiles `tests/kernels` once per kernel into `target/sdk-kernels/kernels/`; this
//! module finds those files and pairs each with the same logic compiled natively for `MockHost`.

use std::path::PathBuf;

use soru_test_kernels as k;
use tezos_smart_rollup_mock::MockHost;

/// The directory `build.rs` wrote the kernels' wasm modules to.
pub const KERNELS_DIR: &str = env!("SORU_TEST_KERNELS_DIR");

/// One SDK test kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// [`soru_test_kernels::echo`].
    Echo,
    /// [`soru_test_kernels::durable`].
    Durable,
    /// [`soru_test_kernels::counter`].
    Counter,
    /// [`soru_test_kernels::outbox`].
    Outbox,
    /// [`soru_test_kernels::reveal`].
    Reveal,
    /// [`soru_test_kernels::compute`].
    Compute,
}

/// Every kernel, in build order.
pub const ALL: [Kernel; 6] = [
    Kernel::Echo,
    Kernel::Durable,
    Kernel::Counter,
    Kernel::Outbox,
    Kernel::Reveal,
    Kernel::Compute,
];

impl Kernel {
    /// The kernel's name: its `kernel-<name>` feature and `<name>.wasm` module.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Echo => "echo",
            Kernel::Durable => "durable",
            Kernel::Counter => "counter",
            Kernel::Outbox => "outbox",
            Kernel::Reveal => "reveal",
            Kernel::Compute => "compute",
        }
    }

    /// Path of the wasm32 module `build.rs` produced.
    pub fn wasm_path(self) -> PathBuf {
        PathBuf::from(KERNELS_DIR).join(format!("{}.wasm", self.name()))
    }

    /// The wasm32 module's bytes; panics with the path if `build.rs` did not produce it.
    pub fn wasm(self) -> Vec<u8> {
        let path = self.wasm_path();
        std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read kernel module {}: {e} (built by tests/build.rs)",
                path.display()
            )
        })
    }

    /// The same kernel compiled natively, as `MockHost::run_level` wants it.
    pub fn native(self) -> fn(&mut MockHost) {
        match self {
            Kernel::Echo => k::echo::run::<MockHost>,
            Kernel::Durable => k::durable::run::<MockHost>,
            Kernel::Counter => k::counter::run::<MockHost>,
            Kernel::Outbox => k::outbox::run::<MockHost>,
            Kernel::Reveal => k::reveal::run::<MockHost>,
            Kernel::Compute => k::compute::run::<MockHost>,
        }
    }
}
