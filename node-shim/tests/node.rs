//! `soru-node` end to end: a real `soru sandbox run` L1, a rollup originated with the example
//! echo kernel and fed messages by Taquito, a real `soru-node run` following it; its RPC answers
//! are checked against an independent run of the PVM on the sandbox's own inbox, and a `kill -9`
//! and restart loses nothing.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{get_json, http, http_full, js_dir, node_script, repo, scratch_dir, Server};
use serde_json::Value;
use soru_core::commitment::StateHash;
use soru_core::pvm::{Pvm, PvmConfig};
use soru_core::reveal::NoReveal;

fn soru() -> Command {
    Command::new(env!("CARGO_BIN_EXE_soru"))
}

fn soru_node() -> Command {
    Command::new(env!("CARGO_BIN_EXE_soru-node"))
}

fn run_ok(mut c: Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until the node has processed `level`.
fn wait_for_level(node: &Server, level: u64) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, body) = http(&node.addr, "GET", "/global/block/head/level", None);
        if status == 200 && body.trim().parse::<u64>().is_ok_and(|l| l >= level) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the node did not reach level {level}: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_node(dir: &std::path::Path) -> Server {
    let mut c = soru_node();
    c.args(["run", "--data-dir", dir.to_str().unwrap()]);
    Server::start(c)
}

#[test]
fn the_node_follows_the_sandbox_and_serves_octez_rpc() {
    let Some(js) = js_dir() else { return };
    let script = js.join("node/rollup.mjs");
    let l1_dir = scratch_dir("node-e2e-l1");
    let mut init = soru();
    init.args(["sandbox", "init", "--data-dir", l1_dir.to_str().unwrap()]);
    run_ok(init);
    let mut run = soru();
    run.args(["sandbox", "run", "--data-dir", l1_dir.to_str().unwrap()])
        .args(["--rpc-addr", "127.0.0.1:0", "--block-time", "0.2"]);
    let l1 = Server::start(run);
    let l1_dir_s = l1_dir.to_str().unwrap();

    let kernel = wat::parse_file(repo().join("node-shim/examples/echo.wat")).unwrap();
    let originated = node_script(
        &script,
        &[&l1.url(), l1_dir_s, "originate", &hex::encode(&kernel)],
    );
    let rollup = originated[0]["rollup"].as_str().unwrap().to_string();
    let origination_level = originated[0]["level"].as_u64().unwrap();

    let node_dir = scratch_dir("node-e2e-node");
    let mut init = soru_node();
    init.args(["init", "observer", "config", "for", &rollup])
        .args(["--data-dir", node_dir.to_str().unwrap()])
        .args(["--endpoint", &l1.url(), "--rpc-addr", "127.0.0.1:0"]);
    assert!(run_ok(init).contains("configuration written"));
    let node = start_node(&node_dir);

    let sent = node_script(
        &script,
        &[&l1.url(), l1_dir_s, "send", "68656c6c6f", "776f726c64"],
    );
    let level = sent[0]["level"].as_u64().unwrap();
    wait_for_level(&node, level);

    // octez's shapes.
    assert_eq!(
        get_json(&node.addr, "/global/smart_rollup_address"),
        rollup.as_str()
    );
    let at = |field: &str| get_json(&node.addr, &format!("/global/block/{level}/{field}"));
    assert_eq!(at("num_messages"), "5", "SOL, IPL, two messages, EOL");
    assert_eq!(at("level"), level);
    assert_eq!(at("status"), "Waiting for input message");
    let counter = get_json(
        &node.addr,
        &format!("/global/block/{level}/durable/wasm_2_0_0/value?key=/counter"),
    );
    assert_eq!(
        counter, "02000000",
        "the echo kernel counted two external messages"
    );
    let boot = get_json(
        &node.addr,
        "/global/block/head/durable/wasm_2_0_0/value?key=/kernel/boot.wasm",
    );
    assert_eq!(boot, hex::encode(&kernel));
    let subkeys = get_json(
        &node.addr,
        "/global/block/head/durable/wasm_2_0_0/subkeys?key=/",
    );
    assert!(
        subkeys
            .as_array()
            .unwrap()
            .contains(&Value::from("counter")),
        "{subkeys}"
    );
    let l1_block = get_json(&l1.addr, &format!("/chains/main/blocks/{level}/hash"));
    assert_eq!(at("hash"), l1_block);

    // The state hash equals an independent run of the PVM on the sandbox's own inboxes.
    let mut pvm = Pvm::new(
        &kernel,
        PvmConfig {
            rollup_address: soru_core::encoding::address::SmartRollupAddress::from_b58check(
                &rollup,
            )
            .unwrap()
            .0,
            origination_level: origination_level as u32,
            first_level: origination_level as u32 + 1,
            outbox_validity_period: soru_core::abi::OUTBOX_VALIDITY_PERIOD,
            ..PvmConfig::default()
        },
    )
    .unwrap();
    for l in origination_level + 1..=level {
        let inbox = get_json(&l1.addr, &format!("/chains/main/blocks/{l}/sandbox/inbox"));
        for (i, m) in inbox.as_array().unwrap().iter().enumerate() {
            let bytes = hex::decode(m.as_str().unwrap()).unwrap();
            pvm.step_input(l as u32, i as u32, &bytes).unwrap();
        }
        pvm.finish_level(&mut NoReveal).unwrap();
    }
    let expected = StateHash(pvm.state_hash().unwrap()).to_b58check();
    assert_eq!(at("state_hash"), expected.as_str());
    assert_eq!(at("total_ticks"), pvm.ticks().to_string().as_str());

    // Caching and CORS: the head is live data; a proof before cementation is octez's error.
    let (status, headers, _) = http_full(&node.addr, "GET", "/global/block/head/state_hash", None);
    assert_eq!(status, 200);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("access-control-allow-origin").as_deref(), Some("*"));
    assert_eq!(header("cache-control").as_deref(), Some("no-cache"));
    let (status, body) = http(
        &node.addr,
        "GET",
        &format!("/global/block/head/helpers/proofs/outbox/{level}/messages?index=0"),
        None,
    );
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("outbox_level_not_cemented"), "{body}");
    let (status, body) = http(
        &node.addr,
        "GET",
        "/global/block/head/helpers/proofs/outbox/1/messages",
        None,
    );
    assert_eq!(status, 400);
    assert!(body.contains("index is required"), "{body}");
    let (status, body) = http(&node.addr, "GET", "/global/block/999999/state_hash", None);
    assert_eq!(status, 404);
    assert!(body.contains("unknown_block"), "{body}");

    // kill -9, restart: the stored levels are re-run and checked, nothing is lost, the node goes on.
    node.kill();
    let node = start_node(&node_dir);
    wait_for_level(&node, level + 2);
    assert_eq!(
        get_json(&node.addr, &format!("/global/block/{level}/state_hash")),
        expected.as_str()
    );
    let _ = std::fs::remove_dir_all(&node_dir);
    let _ = std::fs::remove_dir_all(&l1_dir);
}

#[test]
fn init_errors_name_the_word() {
    let dir = scratch_dir("node-init-errors");
    let mut c = soru_node();
    c.args([
        "init",
        "operater",
        "config",
        "for",
        "sr163Lv22CdE8QagCwf48PWDTquk6isQwv57",
    ])
    .args(["--data-dir", dir.to_str().unwrap()]);
    let out = c.output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown mode `operater`"), "{err}");
    let mut c = soru_node();
    c.args(["run", "--data-dir", dir.to_str().unwrap()]);
    let out = c.output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("config.json") && err.contains("soru-node init"),
        "{err}"
    );
}
