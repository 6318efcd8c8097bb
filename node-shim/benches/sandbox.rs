//! `cargo bench -p soru-node --bench sandbox` (part of `make bench`): the sandbox L1 as a real
//! `soru sandbox run --manual` process.
//!
//! 1. **Operations applied per second**: `SORU_SANDBOX_BENCH_BLOCKS` blocks (default 20) of
//!    `SORU_SANDBOX_BENCH_OPS` `smart_rollup_add_messages` operations each (default 100), each
//!    operation 100 messages of 32 bytes, forged and signed by the bench beforehand (so the
//!    client's own work is not counted), then injected (`/injection/operation`: decoding,
//!    signature and counter checks) and baked (`/sandbox/bake`: application, the shared inbox,
//!    the block's transaction); every block must hold all of its operations.
//! 2. **RPC requests per second** for `/chains/main/blocks/head` (the last block, its operations
//!    and receipts) and `/chains/main/blocks/head/header`, from `SORU_SANDBOX_BENCH_CLIENTS`
//!    keep-alive connections (default 4) for `SORU_SANDBOX_BENCH_SECONDS` each (default 5).
//! 3. **Memory**: the sandbox's peak RSS (`VmHWM`) and its data directory's size per block.
//!
//! Prints one table: benchmark | soru sandbox | baseline | ratio.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::Instant;

use common::load::{bake, env_or, load, peak_rss_kib};
use common::{get_json, http, scratch_dir, Server};
use serde_json::{json, Value};
use soru_core::encoding::inbox::BlockHash;
use soru_core::encoding::keys::SecretKey;
use soru_core::encoding::operation::{ManagerOperation, Operation, OperationKind};
use soru_node::node::l1::HttpLayer1;
use soru_node::node::operator::Injector;

/// The size of the files under `dir`, in bytes.
fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    let blocks = env_or("SORU_SANDBOX_BENCH_BLOCKS", 20);
    let per_block = env_or("SORU_SANDBOX_BENCH_OPS", 100);
    let clients = env_or("SORU_SANDBOX_BENCH_CLIENTS", 4);
    let seconds = env_or("SORU_SANDBOX_BENCH_SECONDS", 5);
    let soru = env!("CARGO_BIN_EXE_soru");

    let dir = scratch_dir("bench-sandbox");
    let dir_s = dir.to_str().unwrap();
    let out = Command::new(soru)
        .args(["sandbox", "init", "--data-dir", dir_s])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut run = Command::new(soru);
    run.args(["sandbox", "run", "--data-dir", dir_s]).args([
        "--rpc-addr",
        "127.0.0.1:0",
        "--manual",
    ]);
    let l1 = Server::start(run);
    let wallet: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("wallet.json")).unwrap()).unwrap();
    let key = SecretKey::from_b58check(
        wallet[0]["secret_key"]
            .as_str()
            .unwrap()
            .trim_start_matches("unencrypted:"),
    )
    .unwrap();
    let source = key.public_key().hash();
    let pkh = source.to_b58check();

    // Reveal the key (the injector adds the reveal), in a block of its own.
    let layer1 = HttpLayer1::new(&l1.url());
    Injector::new(key.clone(), Default::default())
        .inject(
            &layer1,
            OperationKind::SmartRollupAddMessages {
                messages: vec![b"reveal".to_vec()],
            },
        )
        .unwrap();
    bake(&l1);
    let size_before = dir_bytes(&dir);

    let mut inject_secs = 0.0;
    let mut bake_secs = 0.0;
    for block in 0..blocks {
        let head = get_json(&l1.addr, "/chains/main/blocks/head/hash");
        let branch = BlockHash::from_b58check(head.as_str().unwrap()).unwrap();
        let counter: u64 = get_json(
            &l1.addr,
            &format!("/chains/main/blocks/head/context/contracts/{pkh}/counter"),
        )
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
        let operations: Vec<String> = (0..per_block)
            .map(|i| {
                let messages = (0..100u64)
                    .map(|m| {
                        let mut bytes = vec![0u8; 32];
                        bytes[..8].copy_from_slice(&block.to_be_bytes());
                        bytes[8..16].copy_from_slice(&i.to_be_bytes());
                        bytes[16..24].copy_from_slice(&m.to_be_bytes());
                        bytes
                    })
                    .collect();
                let mut op = Operation {
                    branch,
                    contents: vec![ManagerOperation {
                        source,
                        fee: 2_000,
                        counter: counter + i + 1,
                        gas_limit: 10_000,
                        storage_limit: 0,
                        kind: OperationKind::SmartRollupAddMessages { messages },
                    }],
                    signature: None,
                };
                op.signature = Some(key.sign_operation(&op.forge()));
                json!(hex::encode(op.encode())).to_string()
            })
            .collect();
        let started = Instant::now();
        for (i, body) in operations.iter().enumerate() {
            let (status, answer) = http(&l1.addr, "POST", "/injection/operation", Some(body));
            assert_eq!(status, 200, "block {block}, operation {i}: {answer}");
        }
        inject_secs += started.elapsed().as_secs_f64();
        let started = Instant::now();
        bake(&l1);
        bake_secs += started.elapsed().as_secs_f64();
        let included = get_json(&l1.addr, "/chains/main/blocks/head/operations/3");
        assert_eq!(
            included.as_array().map_or(0, Vec::len) as u64,
            per_block,
            "block {block} holds every operation injected for it"
        );
    }
    let ops = (blocks * per_block) as f64;
    let store_per_block = dir_bytes(&dir).saturating_sub(size_before) as f64 / blocks as f64;
    let rss_apply = peak_rss_kib(l1.child.id());
    let head_bytes = http(&l1.addr, "GET", "/chains/main/blocks/head", None)
        .1
        .len();
    let head_rps = load(&l1.addr, "/chains/main/blocks/head", clients, seconds);
    let header_rps = load(
        &l1.addr,
        "/chains/main/blocks/head/header",
        clients,
        seconds,
    );
    let rss = peak_rss_kib(l1.child.id());
    drop(l1);
    let _ = std::fs::remove_dir_all(&dir);

    println!("== soru sandbox ({blocks} blocks of {per_block} smart_rollup_add_messages of 100 x 32-byte messages; {clients} keep-alive clients, {seconds}s per RPC)");
    println!("| benchmark | soru sandbox | baseline | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| add_messages operations injected and applied, per second (inject + bake) | {:.0} | | |",
        ops / (inject_secs + bake_secs)
    );
    println!(
        "| the same: injection alone ({:.2} ms per operation) / baking alone ({:.1} ms per block of {per_block}) | {:.0} / {:.0} ops/s | | |",
        1000.0 * inject_secs / ops,
        1000.0 * bake_secs / blocks as f64,
        ops / inject_secs,
        ops / bake_secs
    );
    println!(
        "| RPC GET /chains/main/blocks/head ({} KiB: {per_block} operations with receipts), requests/s | {head_rps:.0} | | |",
        head_bytes / 1024
    );
    println!("| RPC GET /chains/main/blocks/head/header, requests/s | {header_rps:.0} | | |");
    println!(
        "| data directory growth per block of {per_block} operations | {:.1} KiB | | |",
        store_per_block / 1024.0
    );
    println!(
        "| peak RSS (after applying / after the RPC load) | {:.1} MiB / {:.1} MiB | | |",
        rss_apply as f64 / 1024.0,
        rss as f64 / 1024.0
    );
}
