//! Hostile kernels: wasm-smith modules that import the `smart_rollup_core` host functions,
//! export their memory and a `kernel_run: [] -> []`, and use every feature octez's PVM accepts
//! (no floats, no SIMD). Origination and two levels never panic, abort or overflow the native
//! stack, and the libFuzzer RSS cap (`-rss_limit_mb`, 2048 by default; `make fuzz` sets it)
//! checks that Soru's ceilings and fuel bound the memory a kernel can make the host use.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use soru_core::abi::{HostFunction, ValKind};
use soru_core::pvm::{Pvm, PvmConfig, PvmError, Status};
use soru_core::reveal::NoReveal;

/// A module importing every host function with its exact signature.
fn host_imports() -> &'static [u8] {
    static IMPORTS: OnceLock<Vec<u8>> = OnceLock::new();
    IMPORTS.get_or_init(|| {
        let ty = |kinds: &[ValKind]| {
            kinds
                .iter()
                .map(|k| match k {
                    ValKind::I32 => " i32",
                    ValKind::I64 => " i64",
                })
                .collect::<String>()
        };
        let mut wat = String::from("(module");
        for f in HostFunction::ALL {
            wat.push_str(&format!(
                r#" (import "smart_rollup_core" "{}" (func (param{}) (result{})))"#,
                f.name(),
                ty(f.params()),
                ty(f.results())
            ));
        }
        wat.push(')');
        wat::parse_str(wat).expect("imports module")
    })
}

fn kernel_run_export() -> &'static [u8] {
    static EXPORTS: OnceLock<Vec<u8>> = OnceLock::new();
    EXPORTS.get_or_init(|| {
        wat::parse_str(r#"(module (func (export "kernel_run")))"#).expect("exports module")
    })
}

fn config(u: &mut Unstructured<'_>) -> Result<wasm_smith::Config> {
    let mut c = wasm_smith::Config {
        available_imports: Some(host_imports().to_vec()),
        exports: Some(kernel_run_export().to_vec()),
        min_memories: 1,
        max_memories: 1,
        // Up to 2 GiB declared, to cross Soru's 1 GiB ceiling.
        max_memory32_bytes: 1 << 31,
        memory64_enabled: false,
        max_tables: 4,
        max_table_elements: 1 << 21,
        allow_floats: false,
        simd_enabled: false,
        relaxed_simd_enabled: false,
        saturating_float_to_int_enabled: false,
        threads_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        tail_call_enabled: false,
        extended_const_enabled: false,
        wide_arithmetic_enabled: false,
        custom_page_sizes_enabled: false,
        allow_start_export: false,
        multi_value_enabled: true,
        reference_types_enabled: true,
        bulk_memory_enabled: true,
        sign_extension_ops_enabled: true,
        max_instructions: 1000,
        ..wasm_smith::Config::default()
    };
    c.max_funcs = u.int_in_range(1..=20)?;
    Ok(c)
}

/// Adds `(export "memory" (memory 0))` to the export section (wasm-smith only generates
/// function and global exports when they are prescribed).
fn export_memory(module: &[u8]) -> Option<Vec<u8>> {
    fn leb(mut n: u32, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut out = module.get(..8)?.to_vec();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        let payload = payload.ok()?;
        if let wasmparser::Payload::ExportSection(reader) = &payload {
            let mut body = Vec::new();
            leb(reader.count() + 1, &mut body);
            let range = reader.range();
            // The entries follow the count: copy them as they are.
            let count_len = {
                let mut v = Vec::new();
                leb(reader.count(), &mut v);
                v.len()
            };
            body.extend_from_slice(module.get(range.start + count_len..range.end)?);
            body.push(6);
            body.extend_from_slice(b"memory");
            body.extend_from_slice(&[0x02, 0x00]);
            out.push(7);
            leb(body.len() as u32, &mut out);
            out.extend(body);
        } else if let Some((id, range)) = payload.as_section() {
            out.push(id);
            leb(range.len() as u32, &mut out);
            out.extend_from_slice(module.get(range)?);
        }
    }
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(config) = config(&mut u) else { return };
    let Ok(module) = wasm_smith::Module::new(config, &mut u) else {
        return;
    };
    let Some(kernel) = export_memory(&module.to_bytes()) else {
        return;
    };
    let config = PvmConfig {
        fuel_per_kernel_run: 2_000_000,
        ..PvmConfig::default()
    };
    let Ok(mut pvm) = Pvm::new(&kernel, config) else {
        return;
    };
    for level in 0..2u8 {
        match pvm.run_level(&[vec![1, level], vec![1; 4096]], &mut NoReveal) {
            // A reveal nobody answers suspends the PVM: nothing more to run.
            Ok(r) if r.status == Status::WaitingForReveal => return,
            Ok(_) => {}
            // The one acceptable error: the host out of memory below the ceiling (a tight RSS
            // cap); the PVM then refuses to produce a machine-dependent state.
            Err(PvmError::HostOutOfMemory(_)) => return,
            Err(e) => panic!("level {level}: {e}"),
        }
    }
});
