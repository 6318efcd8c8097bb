//! State hashes computed by octez itself (`shared/vectors/octez-pvm-regressions/`, see its
//! README): the protocol's reference initial-state hashes, and octez's PVM regression ladders,
//! one `Context_binary` hash of the whole PVM tree per line. Soru must produce line 1 (the
//! first snapshot: inbox loaded and padded) and every padding line (after `kernel_run`
//! returned) of every file whose kernel it can build; the lines inside a kernel evaluation need
//! octez's per-instruction interpreter state and are not checked.
//!
//! The `link_*` kernels are built here from the README's description with octez's own binary
//! encoding (5-byte padded section and code-body sizes), so their hashes check the bytes too.
//! `tx_no_verify` needs octez's `tx-kernel-no-verif.wasm`, which is not part of this repository:
//! set `SORU_OCTEZ_KERNELS` to a folder holding it. A missing vectors folder skips locally and
//! fails under `CI=true`.

use std::path::PathBuf;

use soru_core::abi::PvmVersion;
use soru_core::encoding::base58;
use soru_core::pvm::{Pvm, PvmConfig, PvmError};
use soru_core::reveal::NoReveal;

fn vectors() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/vectors/octez-pvm-regressions");
    if dir.join("params.json").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "octez PVM regression vectors missing at {}",
        dir.display()
    );
    println!(
        "SKIP: octez PVM regression vectors not found at {}",
        dir.display()
    );
    None
}

fn params(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("params.json")).unwrap()).unwrap()
}

fn kernel_params<'a>(p: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    p["kernels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in params.json"))
}

/// One line of a hash file: a base58 `Co...` context hash.
fn context_hash(line: &str) -> [u8; 32] {
    base58::decode_array(&base58::CONTEXT_HASH, line.trim())
        .unwrap_or_else(|e| panic!("bad context hash {line:?}: {e}"))
}

fn hash_lines(dir: &std::path::Path, kernel: &str, v: &str) -> Vec<[u8; 32]> {
    std::fs::read_to_string(dir.join(format!("hashes/{kernel}.{v}.txt")))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(context_hash)
        .collect()
}

/// A 5-byte padded unsigned LEB128, as octez's encoder writes section and code-body sizes.
fn padded_leb(n: usize) -> [u8; 5] {
    let n = n as u32;
    [
        (n as u8 & 0x7f) | 0x80,
        ((n >> 7) as u8 & 0x7f) | 0x80,
        ((n >> 14) as u8 & 0x7f) | 0x80,
        ((n >> 21) as u8 & 0x7f) | 0x80,
        (n >> 28) as u8,
    ]
}

fn section(out: &mut Vec<u8>, id: u8, body: &[u8]) {
    out.push(id);
    out.extend_from_slice(&padded_leb(body.len()));
    out.extend_from_slice(body);
}

fn name(out: &mut Vec<u8>, s: &str) {
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

/// The regression driver's `link_kernel`: one import `smart_rollup_core.<import>` of type
/// `(params) -> i32`, `(memory 1)`, exports `mem` and `kernel_run` (whose body is `nop`),
/// encoded as octez's `Encode.encode` does.
fn link_kernel(import: &str, params: usize) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    let mut types = vec![2, 0x60, params as u8];
    types.extend(std::iter::repeat_n(0x7f, params));
    types.extend_from_slice(&[1, 0x7f, 0x60, 0, 0]);
    section(&mut m, 1, &types);
    let mut imports = vec![1];
    name(&mut imports, "smart_rollup_core");
    name(&mut imports, import);
    imports.extend_from_slice(&[0, 0]);
    section(&mut m, 2, &imports);
    section(&mut m, 3, &[1, 1]);
    section(&mut m, 5, &[1, 0, 1]);
    let mut exports = vec![2];
    name(&mut exports, "mem");
    exports.extend_from_slice(&[2, 0]);
    name(&mut exports, "kernel_run");
    exports.extend_from_slice(&[0, 1]);
    section(&mut m, 7, &exports);
    let body = [0, 0x01, 0x0b];
    let mut code = vec![1];
    code.extend_from_slice(&padded_leb(body.len()));
    code.extend_from_slice(&body);
    section(&mut m, 10, &code);
    m
}

/// Reads an unsigned LEB128 at `*at`.
fn read_leb(bytes: &[u8], at: &mut usize) -> usize {
    let (mut n, mut shift) = (0usize, 0);
    loop {
        let b = bytes[*at];
        *at += 1;
        n |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return n;
        }
        shift += 7;
    }
}

/// A module in the binary layout octez's `Encode.encode` gives a module it compiled from
/// text: the same sections and instructions as `standard` (a module as the `wat` crate encodes
/// it), every section size and code-body size a 5-byte padded LEB128, and no custom sections
/// (octez writes no names).
fn octez_layout(standard: &[u8]) -> Vec<u8> {
    let mut out = standard[..8].to_vec();
    let mut at = 8;
    while at < standard.len() {
        let id = standard[at];
        at += 1;
        let size = read_leb(standard, &mut at);
        let body = &standard[at..at + size];
        at += size;
        match id {
            0 => {}
            10 => {
                let mut i = 0;
                let count = read_leb(body, &mut i);
                let mut code = body[..i].to_vec();
                for _ in 0..count {
                    let n = read_leb(body, &mut i);
                    code.extend_from_slice(&padded_leb(n));
                    code.extend_from_slice(&body[i..i + n]);
                    i += n;
                }
                section(&mut out, 10, &code);
            }
            _ => section(&mut out, id, body),
        }
    }
    out
}

fn link_import(kernel: &str) -> (&'static str, usize) {
    match kernel {
        "link_store_create" => ("store_create", 3),
        "link_store_delete_value" => ("store_delete_value", 2),
        "link_store_get_hash" => ("__internal_store_get_hash", 4),
        "link_store_exists" => ("store_exists", 2),
        "link_reveal" => ("reveal", 4),
        other => panic!("not a link kernel: {other}"),
    }
}

fn version(v: &str) -> PvmVersion {
    match v {
        "v4" => PvmVersion::V4,
        "v5" => PvmVersion::V5,
        "v6" => PvmVersion::V6,
        other => panic!("unknown version {other}"),
    }
}

/// The inbox of the run: Start_of_level, Info_per_level, the params' messages, End_of_level.
fn inbox(dir: &std::path::Path, k: &serde_json::Value) -> Vec<Vec<u8>> {
    k["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| match (i["hex"].as_str(), i["file"].as_str()) {
            (Some(h), _) => hex::decode(h).unwrap(),
            (None, Some(file)) => {
                let base = file.rsplit('/').next().unwrap();
                let mut m = hex::decode(i["prefix_hex"].as_str().unwrap()).unwrap();
                m.extend(std::fs::read(dir.join("inputs").join(base)).unwrap());
                m
            }
            _ => panic!("input without bytes: {i}"),
        })
        .collect()
}

/// Originates `kernel` with the run's parameters, feeds the inbox at level 0 and runs the
/// kernel until it yields: the PVM then holds every state of the level, line 1 (the first
/// snapshot) and each run's padding state among them.
fn first_run(kernel: &[u8], v: PvmVersion, tps: u128, inputs: &[Vec<u8>]) -> Pvm {
    let config = PvmConfig {
        version: v,
        ticks_per_snapshot: tps,
        outbox_validity_period: 10,
        outbox_message_limit: 100,
        ..PvmConfig::default()
    };
    let mut pvm = Pvm::new(kernel, config).unwrap();
    for (counter, m) in inputs.iter().enumerate() {
        pvm.step_input(0, counter as u32, m).unwrap();
    }
    pvm.finish_level(&mut NoReveal).unwrap();
    pvm
}

struct Ladder {
    lines: usize,
    line1: bool,
    padding_checked: usize,
    padding_matched: usize,
    /// Lines after line 1 matching the resulting state of the kernel_run of their period (the
    /// padding lines, whether or not the inferred ranges list them).
    post_run_matches: usize,
}

fn ladder(dir: &std::path::Path, kernel: &str, v: &str, bytes: &[u8]) -> Ladder {
    let p = params(dir);
    let k = kernel_params(&p, kernel);
    let tps = k["ticks_per_snapshot"].as_u64().unwrap() as u128;
    let step = k["hash_step"].as_u64().unwrap() as u128;
    let lines = hash_lines(dir, kernel, v);
    let pvm = first_run(bytes, version(v), tps, &inbox(dir, k));
    let line1 = pvm.state_hash_at(tps).unwrap() == lines[0];
    let tick_of = |i: usize| tps + i as u128 * step;
    let ranges: Vec<(u128, u128)> = k["v5_padding_ranges_inferred"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_u64().unwrap() as u128,
                r[1].as_u64().unwrap() as u128,
            )
        })
        .collect();
    let (mut padding_checked, mut padding_matched, mut post_run_matches) = (0, 0, 0);
    for (i, line) in lines.iter().enumerate() {
        let tick = tick_of(i);
        let post = pvm.padding_state_hash_at(tick).unwrap() == *line;
        post_run_matches += usize::from(post && i > 0);
        if ranges.iter().any(|(a, b)| *a <= tick && tick <= *b) {
            padding_checked += 1;
            padding_matched += usize::from(post);
        }
    }
    Ladder {
        lines: lines.len(),
        line1,
        padding_checked,
        padding_matched,
        post_run_matches,
    }
}

const LINK_KERNELS: [&str; 5] = [
    "link_store_create",
    "link_store_delete_value",
    "link_store_get_hash",
    "link_store_exists",
    "link_reveal",
];

#[test]
fn initial_state_hashes_are_the_protocols() {
    let Some(dir) = vectors() else { return };
    let text = std::fs::read_to_string(dir.join("initial-state-hashes.tsv")).unwrap();
    let mut checked = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let v = PvmVersion::from_bytes(cols[2].as_bytes()).expect("known version");
        let expected = base58::decode_array::<32>(&base58::SRS1, cols[3]).unwrap();
        assert_eq!(hex::encode(expected), cols[4], "{line}");
        let tree = soru_core::state::initial_state(v).unwrap();
        assert_eq!(tree.hash(), expected, "initial state of {v} ({})", cols[0]);
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[test]
fn link_kernels_line_1_and_padding_lines_are_octez() {
    let Some(dir) = vectors() else { return };
    for v in ["v4", "v5", "v6"] {
        for kernel in LINK_KERNELS {
            let (import, params) = link_import(kernel);
            let l = ladder(&dir, kernel, v, &link_kernel(import, params));
            println!(
                "{kernel}.{v}: {} lines, line 1 {}, padding {}/{}, post-run state matches {} lines",
                l.lines, l.line1, l.padding_matched, l.padding_checked, l.post_run_matches
            );
            assert!(l.line1, "{kernel}.{v}: line 1 differs");
            assert!(
                l.padding_checked > 0,
                "{kernel}.{v}: no padding line checked"
            );
            assert_eq!(
                l.padding_matched, l.padding_checked,
                "{kernel}.{v}: padding lines"
            );
        }
    }
}

#[test]
fn tx_no_verify_line_1_and_padding_lines_are_octez() {
    let Some(dir) = vectors() else { return };
    let Some(folder) = octez_kernels() else {
        return;
    };
    let path = folder.join("tx-kernel-no-verif.wasm");
    let Ok(bytes) = std::fs::read(&path) else {
        println!("SKIP: no {}", path.display());
        return;
    };
    let l = ladder(&dir, "tx_no_verify", "v5", &bytes);
    println!(
        "tx_no_verify.v5: {} lines, line 1 {}, padding {}/{}",
        l.lines, l.line1, l.padding_matched, l.padding_checked
    );
    println!(
        "tx_no_verify.v5: post-run state matches {} lines",
        l.post_run_matches
    );
    assert!(l.line1, "tx_no_verify: line 1 differs");
    assert_eq!(
        l.padding_matched, l.padding_checked,
        "tx_no_verify: padding lines"
    );
}

/// The folder named by `SORU_OCTEZ_KERNELS`, holding kernels from octez's repository.
fn octez_kernels() -> Option<PathBuf> {
    let folder = std::env::var("SORU_OCTEZ_KERNELS").ok().map(PathBuf::from);
    if folder.is_none() {
        println!("SKIP: set SORU_OCTEZ_KERNELS to a folder holding octez's kernels");
    }
    folder
}

#[test]
fn the_octez_layout_of_the_link_kernels_is_their_hand_built_bytes() {
    let text = r#"(module
 (import "smart_rollup_core" "store_exists" (func $store_exists (param i32 i32) (result i32)))
 (memory 1)
 (export "mem" (memory 0))
 (func (export "kernel_run") (nop)))"#;
    assert_eq!(
        octez_layout(&wat::parse_str(text).unwrap()),
        link_kernel("store_exists", 2)
    );
}

/// octez's `echo.wast` (`src/proto_alpha/lib_protocol/test/integration/wasm_kernel/`), compiled
/// as octez compiles it: a kernel reading one input per run, echoing transfers to the outbox
/// and rebooting until `End_of_level`, so each of its three runs calls host functions within
/// 5000 ticks.
#[test]
fn echo_line_1_and_padding_lines_are_octez() {
    let Some(dir) = vectors() else { return };
    let Some(folder) = octez_kernels() else {
        return;
    };
    let path = folder.join("echo.wast");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("SKIP: no {}", path.display());
        return;
    };
    let bytes = octez_layout(&wat::parse_str(&text).unwrap());
    for v in ["v4", "v5", "v6"] {
        let l = ladder(&dir, "echo", v, &bytes);
        println!(
            "echo.{v}: {} lines, line 1 {}, padding {}/{}, post-run state matches {} lines",
            l.lines, l.line1, l.padding_matched, l.padding_checked, l.post_run_matches
        );
        assert!(l.line1, "echo.{v}: line 1 differs");
        assert!(l.padding_checked > 0, "echo.{v}: no padding line checked");
        assert_eq!(
            l.padding_matched, l.padding_checked,
            "echo.{v}: padding lines"
        );
    }
}

#[test]
fn ticks_inside_a_kernel_run_are_an_error_naming_the_run() {
    let Some(dir) = vectors() else { return };
    let p = params(&dir);
    let k = kernel_params(&p, "link_store_exists");
    let pvm = first_run(
        &link_kernel("store_exists", 2),
        PvmVersion::V5,
        5000,
        &inbox(&dir, k),
    );
    match pvm.state_hash_at(5001) {
        Err(PvmError::InsideKernelRun {
            level: 0,
            run: 1,
            first: 5001,
            last: 9998,
            ..
        }) => {}
        other => panic!("expected InsideKernelRun, got {other:?}"),
    }
    assert!(pvm.state_hash_at(9999).is_ok());
    // The kernel yields at the next boundary: the level ends in a collect state there.
    assert_eq!(pvm.ticks(), 10_000);
    assert_eq!(
        pvm.state_hash_at(10_000).unwrap(),
        pvm.state_hash().unwrap()
    );
    assert!(matches!(
        pvm.state_hash_at(10_001),
        Err(PvmError::TickNotRecorded { .. })
    ));
}
