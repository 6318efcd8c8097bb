//! Kernel validation: precise errors for malformed or non-conforming kernels, never a panic.

use proptest::prelude::*;
use soru_core::abi::PvmVersion;
use soru_core::pvm::kernel::{validate, KernelError};
use soru_core::pvm::{Pvm, PvmConfig, PvmError};

fn kernel(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/kernels/{name}.wat", env!("CARGO_MANIFEST_DIR"));
    wat::parse_file(path).expect("test kernel parses")
}

fn check(wat: &str) -> Result<(), KernelError> {
    validate(&wat::parse_str(wat).expect("valid wat"), PvmVersion::V5)
}

#[test]
fn test_kernels_are_valid() {
    for name in [
        "hostcall",
        "trap",
        "reboot",
        "upgrade",
        "readinput",
        "fulloutbox",
        "v2",
        "runaway",
        "recursion",
    ] {
        assert_eq!(validate(&kernel(name), PvmVersion::V5), Ok(()), "{name}");
    }
}

#[test]
fn float_instructions_are_rejected_with_their_location() {
    let err = validate(&kernel("float"), PvmVersion::V5).unwrap_err();
    match &err {
        KernelError::FloatInstruction {
            function,
            instruction,
            ..
        } => {
            assert_eq!(*function, 1);
            assert_eq!(instruction, "f32.const");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.is_recoverable());
    assert!(matches!(
        Pvm::new(&kernel("float"), PvmConfig::default()),
        Err(PvmError::InvalidKernel(
            KernelError::FloatInstruction { .. }
        ))
    ));
}

#[test]
fn every_kind_of_float_instruction_is_named() {
    // Named in the text format; blocks and `select` are float instructions by their result type,
    // and the same instructions typed with integers pass.
    for (body, instruction) in [
        ("i32.const 0 f64.load drop", "f64.load"),
        (
            "i32.const 0 i64.const 0 f64.reinterpret_i64 f64.store",
            "f64.reinterpret_i64",
        ),
        (
            "i32.const 0 f32.reinterpret_i32 i32.reinterpret_f32 drop",
            "f32.reinterpret_i32",
        ),
        ("block (result f32) unreachable end drop", "block"),
        (
            "i32.const 1 i32.const 2 i32.const 0 select (result f64) drop",
            "select",
        ),
        (
            "i32.const 0 i32.trunc_sat_f64_u drop",
            "i32.trunc_sat_f64_u",
        ),
        ("loop (result f64) unreachable end drop", "loop"),
    ] {
        let wat =
            format!(r#"(module (memory (export "memory") 1) (func (export "kernel_run") {body}))"#);
        match check(&wat) {
            Err(KernelError::FloatInstruction {
                instruction: found, ..
            }) => assert_eq!(found, instruction, "{body}"),
            other => panic!("{body}: unexpected {other:?}"),
        }
    }
    assert_eq!(
        check(
            r#"(module (memory (export "memory") 1)
                 (func (export "kernel_run") i32.const 1 i32.const 2 i32.const 0 select (result i32) drop))"#
        ),
        Ok(())
    );
}

#[test]
fn float_types_are_rejected() {
    let e =
        check(r#"(module (memory (export "memory") 1) (func (export "kernel_run") (local f64)))"#);
    assert!(
        matches!(e, Err(KernelError::FloatType { ref location, .. }) if location == "locals of function 0"),
        "{e:?}"
    );
    let e = check(
        r#"(module (memory (export "memory") 1) (func (param f32)) (func (export "kernel_run")))"#,
    );
    assert!(matches!(e, Err(KernelError::FloatType { .. })), "{e:?}");
    let e = check(
        r#"(module (memory (export "memory") 1) (global f32 (f32.const 0)) (func (export "kernel_run")))"#,
    );
    assert!(
        matches!(e, Err(KernelError::FloatType { ref location, .. }) if location == "global 0"),
        "{e:?}"
    );
}

#[test]
fn start_functions_are_rejected() {
    let e = check(
        r#"(module (memory (export "memory") 1) (func $s) (start $s) (func (export "kernel_run")))"#,
    );
    assert_eq!(e, Err(KernelError::StartFunction { function: 0 }));
}

#[test]
fn imports_must_be_host_functions_with_exact_signatures() {
    let e = check(
        r#"(module (import "env" "f" (func)) (memory (export "memory") 1) (func (export "kernel_run")))"#,
    );
    assert!(
        matches!(e, Err(KernelError::UnknownImportModule { ref module, .. }) if module == "env"),
        "{e:?}"
    );
    let e = check(
        r#"(module (import "smart_rollup_core" "nope" (func)) (memory (export "memory") 1) (func (export "kernel_run")))"#,
    );
    assert!(
        matches!(e, Err(KernelError::UnknownHostFunction { ref name, .. }) if name == "nope"),
        "{e:?}"
    );
    let e = check(
        r#"(module (import "smart_rollup_core" "write_output" (func (param i32) (result i32))) (memory (export "memory") 1) (func (export "kernel_run")))"#,
    );
    match e {
        Err(KernelError::ImportSignature {
            name,
            expected,
            found,
        }) => {
            assert_eq!(name, "write_output");
            assert_eq!(expected, "[i32, i32] -> [i32]");
            assert_eq!(found, "[i32] -> [i32]");
        }
        other => panic!("unexpected {other:?}"),
    }
    let e = check(
        r#"(module (import "smart_rollup_core" "memory" (memory 1)) (func (export "kernel_run")))"#,
    );
    assert_eq!(
        e,
        Err(KernelError::NonFunctionImport {
            name: "memory".into(),
            kind: "memory"
        })
    );
    assert_eq!(
        e.unwrap_err().to_string(),
        "import smart_rollup_core.memory is a memory: a kernel imports only host functions and \
         defines and exports its own memory"
    );
}

/// Modules that decode but could only fail when run (or exhaust the host while being set up)
/// are rejected at validation, with what is wrong and where.
#[test]
fn modules_that_would_fail_at_initialisation_are_rejected_at_validation() {
    let e = check(
        r#"(module (memory (export "memory") 1) (data (i32.const 0) "ok") (data (i32.const 65535) "ab") (func (export "kernel_run")))"#,
    );
    assert_eq!(
        e,
        Err(KernelError::DataSegmentOutOfBounds {
            segment: 1,
            offset: 65535,
            len: 2,
            memory_bytes: 65536
        })
    );
    assert!(e.unwrap_err().is_recoverable());
    let e = check(
        r#"(module (memory (export "memory") 1) (data (i32.const -1) "a") (func (export "kernel_run")))"#,
    );
    assert!(
        matches!(
            e,
            Err(KernelError::DataSegmentOutOfBounds {
                offset: 4294967295,
                ..
            })
        ),
        "{e:?}"
    );
    let e = check(
        r#"(module (memory (export "memory") 1) (table 1 funcref) (func $f) (elem (i32.const 1) $f) (func (export "kernel_run")))"#,
    );
    assert_eq!(
        e,
        Err(KernelError::ElementSegmentOutOfBounds {
            segment: 0,
            table: 0,
            offset: 1,
            len: 1,
            table_size: 1
        })
    );
    let e = check(
        r#"(module (memory (export "memory") 1) (table 4294967295 funcref) (func (export "kernel_run")))"#,
    );
    assert_eq!(
        e,
        Err(KernelError::TableTooLarge {
            table: 0,
            size: 4294967295
        })
    );
    // Two tables within the ceiling each, but not together, pass validation only if their sum
    // fits; here each is half the ceiling plus one.
    let half = (1u64 << 19) + 1;
    let e = check(&format!(
        r#"(module (memory (export "memory") 1) (table {half} funcref) (table {half} funcref) (func (export "kernel_run")))"#
    ));
    assert!(
        matches!(e, Err(KernelError::TableTooLarge { table: 1, .. })),
        "{e:?}"
    );
    // 65536 pages (4 GiB) is above the 1 GiB ceiling.
    let e = check(r#"(module (memory (export "memory") 65536) (func (export "kernel_run")))"#);
    assert_eq!(e, Err(KernelError::MemoryTooLarge { pages: 65536 }));
    assert_eq!(
        check(r#"(module (memory (export "memory") 16384) (func (export "kernel_run")))"#),
        Ok(())
    );

    // A function declaring 2^32-1 locals (hand-encoded: the text format cannot say it).
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    module.extend_from_slice(&[0x01, 0x04, 0x01, 0x60, 0x00, 0x00]); // type [] -> []
    module.extend_from_slice(&[0x03, 0x02, 0x01, 0x00]); // one function of type 0
    module.extend_from_slice(&[0x05, 0x03, 0x01, 0x00, 0x01]); // memory 1
    module.extend_from_slice(&[0x07, 0x17, 0x02, 0x06]);
    module.extend_from_slice(b"memory\x02\x00\x0akernel_run\x00\x00");
    module.extend_from_slice(&[
        0x0a, 0x0a, 0x01, 0x08, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 0x0b,
    ]);
    let e = validate(&module, PvmVersion::V5);
    assert_eq!(
        e,
        Err(KernelError::TooManyLocals {
            function: 0,
            count: 4294967295
        })
    );
    assert!(matches!(
        Pvm::new(&module, PvmConfig::default()),
        Err(PvmError::InvalidKernel(KernelError::TooManyLocals { .. }))
    ));
}

#[test]
fn host_functions_are_gated_by_version() {
    let wat = r#"(module (import "smart_rollup_core" "store_exists" (func (param i32 i32) (result i32)))
                 (memory (export "memory") 1) (func (export "kernel_run")))"#;
    let bytes = wat::parse_str(wat).unwrap();
    assert_eq!(validate(&bytes, PvmVersion::V2), Ok(()));
    assert!(matches!(
        validate(&bytes, PvmVersion::V1),
        Err(KernelError::UnknownHostFunction { .. })
    ));
}

#[test]
fn memory_and_entrypoint_rules() {
    assert_eq!(
        check(r#"(module (func (export "kernel_run")))"#),
        Err(KernelError::MemoryCount { count: 0 })
    );
    assert_eq!(
        check(r#"(module (memory 1) (func (export "kernel_run")))"#),
        Err(KernelError::MemoryNotExported)
    );
    let e = check(r#"(module (memory (export "memory") 1))"#);
    assert_eq!(e, Err(KernelError::MissingEntrypoint));
    assert!(!e.unwrap_err().is_recoverable());
    assert_eq!(
        check(
            r#"(module (memory (export "memory") 1) (global (export "kernel_run") i32 (i32.const 0)))"#
        ),
        Err(KernelError::EntrypointNotAFunction)
    );
    assert_eq!(
        check(r#"(module (memory (export "memory") 1) (func (export "kernel_run") (param i32)))"#),
        Err(KernelError::EntrypointSignature {
            found: "[i32] -> []".into()
        })
    );
}

#[test]
fn malformed_bytes_report_an_offset() {
    let e = validate(b"\x00asm\x01\x00\x00\x00\x01\xff", PvmVersion::V5).unwrap_err();
    assert!(
        matches!(e, KernelError::Malformed { offset, .. } if offset > 0),
        "{e:?}"
    );
    assert!(matches!(
        validate(b"", PvmVersion::V5),
        Err(KernelError::Malformed { .. })
    ));
    assert!(matches!(
        validate(b"not wasm", PvmVersion::V5),
        Err(KernelError::Malformed { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = validate(&bytes, PvmVersion::V5);
        let _ = Pvm::new(&bytes, PvmConfig::default());
    }

    #[test]
    fn mutated_kernels_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = kernel("hostcall");
        for (i, b) in flips {
            let n = bytes.len();
            bytes[i % n] ^= b;
        }
        if let Ok(mut pvm) = Pvm::new(&bytes, PvmConfig { fuel_per_kernel_run: 100_000, ..PvmConfig::default() }) {
            let _ = pvm.run_level(&[vec![1, 4]], &mut soru_core::reveal::NoReveal);
        }
    }
}
