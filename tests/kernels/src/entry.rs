//! The wasm32 `kernel_run` export, selected by one `kernel-*` feature.
//!
//! The SDK's own panic hook (`panic-hook` feature) does not compile with current Rust
//! (`PanicInfo` became `PanicHookInfo`), so panics are reported here: the message goes to the
//! debug log and the kernel then traps (`panic = "abort"`), which the PVM records as stuck.

use tezos_smart_rollup::prelude::Runtime;

/// How many `kernel-*` features are enabled: one kernel per wasm module.
const SELECTED: usize = cfg!(feature = "kernel-echo") as usize
    + cfg!(feature = "kernel-durable") as usize
    + cfg!(feature = "kernel-counter") as usize
    + cfg!(feature = "kernel-outbox") as usize
    + cfg!(feature = "kernel-reveal") as usize
    + cfg!(feature = "kernel-compute") as usize;
const _: () = assert!(
    SELECTED <= 1,
    "select exactly one `kernel-*` feature when building a kernel for wasm32"
);

#[cfg(feature = "kernel-compute")]
use crate::compute::run as selected;
#[cfg(feature = "kernel-counter")]
use crate::counter::run as selected;
#[cfg(feature = "kernel-durable")]
use crate::durable::run as selected;
#[cfg(feature = "kernel-echo")]
use crate::echo::run as selected;
#[cfg(feature = "kernel-outbox")]
use crate::outbox::run as selected;
#[cfg(feature = "kernel-reveal")]
use crate::reveal::run as selected;

/// Installs a panic hook that writes the panic message to the PVM debug log.
fn report_panics() {
    std::panic::set_hook(Box::new(|info| {
        use tezos_smart_rollup::core_unsafe::rollup_host::RollupHost;
        // SAFETY: on wasm32 the host functions are the PVM's; debug output has no precondition.
        let host = unsafe { RollupHost::new() };
        host.write_debug(&format!("kernel panicked: {info}\n"));
    }));
}

/// The selected kernel, behind the panic reporter.
fn kernel_main<Host: Runtime>(host: &mut Host) {
    report_panics();
    selected(host);
}

tezos_smart_rollup::kernel_entry!(kernel_main);
