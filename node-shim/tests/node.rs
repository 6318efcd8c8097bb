//! `soru-node` end to end: a real `soru sandbox run` L1, a rollup originated with the example
//! echo kernel and fed messages by Taquito, a real operator `soru-node run` following it. Its RPC
//! answers are checked against an independent run of the PVM on the sandbox's own inbox; a
//! withdrawal goes the whole way (ticketer deposit, outbox message, commitment published and
//! cemented by the node, proof from the node's RPC checked with `soru-verifier`, executed with
//! Taquito and pytezos, the receiver contract's storage changed, a second execution refused);
//! a `kill -9` and restart loses nothing.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    get_json, http, http_full, js_dir, node_script, py_script, repo, scratch_dir, ForgingProxy,
    Server,
};
use serde_json::Value;
use soru_core::commitment::StateHash;
use soru_core::encoding::address::{Contract, ContractHash, SmartRollupAddress};
use soru_core::encoding::micheline::{Expr, Primitive};
use soru_core::encoding::outbox::{Entrypoint, OutboxMessage, Transaction};
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

/// Calls `attempt` every `every` until it gives `Ok`, for at most `seconds`; then fails with
/// its last `Err` (what is still missing).
fn poll<T>(seconds: u64, every: Duration, mut attempt: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        match attempt() {
            Ok(v) => return v,
            Err(why) => assert!(Instant::now() < deadline, "{why}"),
        }
        std::thread::sleep(every);
    }
}

/// Waits until the node has processed `level`.
fn wait_for_level(node: &Server, level: u64) {
    poll(90, Duration::from_millis(100), || {
        let (status, body) = http(&node.addr, "GET", "/global/block/head/level", None);
        if status == 200 && body.trim().parse::<u64>().is_ok_and(|l| l >= level) {
            return Ok(());
        }
        Err(format!(
            "the node did not reach level {level}: {status} {body}"
        ))
    })
}

/// Asserts that nodes `a` and `b` answer the same `fields` of every L2 block of `levels`.
fn assert_same_blocks(
    a: &Server,
    b: &Server,
    levels: std::ops::RangeInclusive<u64>,
    fields: &[&str],
) {
    for level in levels {
        for field in fields {
            let path = format!("/global/block/{level}/{field}");
            assert_eq!(
                get_json(&a.addr, &path),
                get_json(&b.addr, &path),
                "level {level} {field}"
            );
        }
    }
}

/// `soru-node run` on a data directory whose configuration says everything (no wallet).
fn run_node(dir: &std::path::Path) -> Server {
    let mut c = soru_node();
    c.args(["run", "--data-dir", dir.to_str().unwrap()]);
    Server::start(c)
}

/// `soru-node run` with the operator keys of `wallet`.
fn start_node(dir: &std::path::Path, wallet: &std::path::Path) -> Server {
    let mut c = soru_node();
    c.args(["run", "--data-dir", dir.to_str().unwrap()])
        .args(["--wallet", wallet.to_str().unwrap()]);
    Server::start(c)
}

/// An outbox message sending `amount` tickets ("a ticket" from `ticketer`) to `receiver`'s
/// `%receive`: what the echo kernel writes when it is sent these bytes.
fn withdrawal(ticketer: &str, receiver: &str, amount: i128) -> Vec<u8> {
    let string = |s: &str| Expr::String(s.to_string());
    let pair = |a, b| Expr::prim(Primitive::PAIR, vec![a, b]);
    OutboxMessage::AtomicTransactionBatch(vec![Transaction {
        parameters: pair(
            string(ticketer),
            pair(string("a ticket"), Expr::int(amount)),
        ),
        destination: ContractHash::from_b58check(receiver).unwrap(),
        entrypoint: Entrypoint::new("receive").unwrap(),
    }])
    .encode()
}

/// Waits until `path` answers 200 on the node, and returns the JSON.
fn wait_for(node: &Server, path: &str, what: &str) -> Value {
    poll(120, Duration::from_millis(200), || {
        let (status, body) = http(&node.addr, "GET", path, None);
        if status == 200 {
            return Ok(serde_json::from_str(&body).unwrap());
        }
        Err(format!("{what}: still {status} {body}"))
    })
}

#[test]
fn the_node_follows_the_sandbox_and_serves_octez_rpc() {
    let Some(python) = common::pytezos() else {
        return;
    };
    let Some(sandbox) = Sandbox::with_echo_rollup("node-e2e-l1") else {
        return;
    };
    let (l1, l1_dir, script) = (&sandbox.l1, &sandbox.l1_dir, &sandbox.script);
    let (rollup, kernel) = (&sandbox.rollup, &sandbox.kernel);
    let origination_level = sandbox.origination_level;
    let l1_dir_s = l1_dir.to_str().unwrap();
    let wallet: Value =
        serde_json::from_str(&std::fs::read_to_string(l1_dir.join("wallet.json")).unwrap())
            .unwrap();
    let operator_key = wallet[1]["address"].as_str().unwrap().to_string();
    let contracts = node_script(script, &[&l1.url(), l1_dir_s, "contracts"]);
    let ticketer = contracts[0]["ticketer"].as_str().unwrap().to_string();
    let receiver = contracts[0]["receiver"].as_str().unwrap().to_string();

    let node_dir = scratch_dir("node-e2e-node");
    let mut init = soru_node();
    init.args([
        "init",
        "operator",
        "config",
        "for",
        rollup,
        "with",
        "operators",
        &operator_key,
    ])
    .args(["--data-dir", node_dir.to_str().unwrap()])
    .args(["--endpoint", &l1.url(), "--rpc-addr", "127.0.0.1:0"]);
    assert!(run_ok(init).contains("configuration written"));
    let wallet_file = l1_dir.join("wallet.json");
    let node = start_node(&node_dir, &wallet_file);

    let sent = node_script(
        script,
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
    assert_eq!(boot, hex::encode(kernel));
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
        kernel,
        PvmConfig {
            rollup_address: SmartRollupAddress::from_b58check(rollup).unwrap().0,
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
    // The full L2 block carries the level's whole inbox, as octez's node stores it.
    let block = get_json(&node.addr, &format!("/global/block/{level}"));
    assert_eq!(
        block["messages"],
        get_json(
            &l1.addr,
            &format!("/chains/main/blocks/{level}/sandbox/inbox")
        )
    );
    assert_eq!(block["state_hash"], expected.as_str());
    check_simulation(&node, &node_dir, level, &block);
    check_monitor_blocks(&node);
    // The genesis commitment is served like the others.
    let genesis_info = get_json(
        &l1.addr,
        &format!(
            "/chains/main/blocks/head/context/smart_rollups/smart_rollup/{rollup}/genesis_info"
        ),
    );
    let genesis_hash = genesis_info["commitment_hash"].as_str().unwrap();
    let genesis = get_json(&node.addr, &format!("/local/commitments/{genesis_hash}"));
    assert_eq!(genesis["hash"], genesis_hash);
    assert_eq!(genesis["commitment"]["inbox_level"], origination_level);
    assert_eq!(genesis["commitment"]["number_of_ticks"], "0");
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

    // A withdrawal, the whole way.
    node_script(
        script,
        &[&l1.url(), l1_dir_s, "deposit", &ticketer, rollup, "10"],
    );
    // Two withdrawals (6 and 4 tickets) sent by pytezos; Taquito executes the first, pytezos
    // the second.
    let message = withdrawal(&ticketer, &receiver, 6);
    let second = withdrawal(&ticketer, &receiver, 4);
    let sent = py_script(
        &python,
        "rollup.py",
        &[
            &l1.url(),
            l1_dir_s,
            "send",
            &hex::encode(&message),
            &hex::encode(&second),
        ],
    );
    let outbox_level = sent[0]["level"]
        .as_u64()
        .unwrap_or_else(|| panic!("pytezos add_messages: {}", sent[0]));
    // Not cemented yet: the messages are pending and not executable (unless the L1 cemented
    // them already, which takes a commitment period and a challenge window).
    wait_for_level(&node, outbox_level);
    let pending_at = |which: &str| {
        get_json(
            &node.addr,
            &format!("/local/outbox/pending{which}?outbox_level={outbox_level}"),
        )
    };
    let unexecutable = pending_at("/unexecutable");
    if unexecutable.as_array().unwrap().is_empty() {
        assert_eq!(pending_at("/executable")[0]["outbox_level"], outbox_level);
    } else {
        assert_eq!(
            unexecutable[0]["outbox_level"], outbox_level,
            "{unexecutable}"
        );
        assert_eq!(unexecutable[0]["messages"].as_array().unwrap().len(), 2);
    }
    let (status, body) = http(
        &node.addr,
        "GET",
        "/local/outbox/pending/executable?outbox_level=x",
        None,
    );
    assert!(
        status == 400 && body.contains("outbox_level `x` is not a level"),
        "{status} {body}"
    );
    let proof_path =
        format!("/global/block/head/helpers/proofs/outbox/{outbox_level}/messages?index=0");
    let answer = wait_for(
        &node,
        &proof_path,
        "an outbox proof once the node's commitment is cemented",
    );
    let commitment_hash = answer["commitment"].as_str().unwrap().to_string();
    let proof = hex::decode(answer["proof"].as_str().unwrap()).unwrap();
    let commitment = get_json(&node.addr, &format!("/local/commitments/{commitment_hash}"));
    let state = StateHash::from_b58check(
        commitment["commitment"]["compressed_state"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    // The block of a commitment level names that commitment and, as previous, its predecessor.
    let c_level = commitment["commitment"]["inbox_level"].as_u64().unwrap();
    let c_block = get_json(&node.addr, &format!("/global/block/{c_level}"));
    assert_eq!(c_block["commitment_hash"], commitment_hash.as_str());
    assert_eq!(
        c_block["previous_commitment_hash"],
        commitment["commitment"]["predecessor"]
    );
    check_commitment_by_witness(&node, l1, &commitment_hash);
    let verified = soru_verifier::verify_outbox_proof(&proof, &state).unwrap();
    assert_eq!(verified.outbox_level, outbox_level as u32);
    assert_eq!(verified.message, message);
    let listed = get_json(
        &node.addr,
        &format!("/global/block/cemented/outbox/{outbox_level}/messages"),
    );
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(listed[0]["message_index"], "0");
    assert_eq!(
        listed[0]["message"]["transactions"][0]["entrypoint"],
        "receive"
    );
    assert_eq!(
        listed[0]["message"]["transactions"][0]["destination"],
        receiver.as_str()
    );
    // Cemented and not executed: both are executable, in octez's summary shape (an int index,
    // no `kind`).
    let executable = pending_at("/executable");
    assert_eq!(
        executable,
        serde_json::json!([{"outbox_level": outbox_level, "messages": [
            {"message_index": 0, "message": {"transactions": [{
                "destination": receiver, "entrypoint": "receive",
                "parameters": listed[0]["message"]["transactions"][0]["parameters"]}]}},
            {"message_index": 1, "message": {"transactions": [{
                "destination": receiver, "entrypoint": "receive",
                "parameters": listed[1]["message"]["transactions"][0]["parameters"]}]}},
        ]}]),
    );
    let all = pending_at("");
    assert_eq!(all[0]["status"], "executable", "{all}");
    assert_eq!(pending_at("/unexecutable"), serde_json::json!([]));
    let executed = node_script(
        script,
        &[
            &l1.url(),
            l1_dir_s,
            "execute",
            rollup,
            &commitment_hash,
            &hex::encode(&proof),
        ],
    );
    assert!(
        executed[0]["level"].is_u64(),
        "execution failed: {}",
        executed[0]
    );
    let storage = node_script(script, &[&l1.url(), l1_dir_s, "storage", &receiver]);
    // Storage `Pair (Some ticket) {record}`, addresses in their binary (optimized) form.
    let ticketer_bytes = hex::encode(Contract::from_b58check(&ticketer).unwrap().encode());
    let held = &storage[0]["args"][0]["args"][0];
    assert_eq!(
        held["args"][0]["bytes"],
        ticketer_bytes.as_str(),
        "{}",
        storage[0]
    );
    assert_eq!(held["args"][1]["args"][0]["string"], "a ticket");
    assert_eq!(held["args"][1]["args"][1]["int"], "6");
    let received = storage[0]["args"][1].as_array().unwrap();
    assert_eq!(received.len(), 1, "one withdrawal recorded: {}", storage[0]);
    // The node saw the execution in its L1 block: only message 1 is left.
    wait_for_level(&node, executed[0]["level"].as_u64().unwrap());
    let left = pending_at("/executable");
    assert_eq!(left[0]["messages"].as_array().unwrap().len(), 1, "{left}");
    assert_eq!(left[0]["messages"][0]["message_index"], 1, "{left}");
    let index_1 = get_json(
        &node.addr,
        &format!("/global/block/head/helpers/proofs/outbox/{outbox_level}/messages?index=1"),
    );
    let by_pytezos = py_script(
        &python,
        "rollup.py",
        &[
            &l1.url(),
            l1_dir_s,
            "execute",
            rollup,
            index_1["commitment"].as_str().unwrap(),
            index_1["proof"].as_str().unwrap(),
        ],
    );
    assert!(
        by_pytezos[0]["level"].is_u64(),
        "pytezos execute: {}",
        by_pytezos[0]
    );
    let storage = node_script(script, &[&l1.url(), l1_dir_s, "storage", &receiver]);
    let held = &storage[0]["args"][0]["args"][0];
    assert_eq!(held["args"][1]["args"][1]["int"], "10", "{}", storage[0]);
    wait_for_level(&node, by_pytezos[0]["level"].as_u64().unwrap());
    assert_eq!(pending_at("/executable"), serde_json::json!([]));
    assert_eq!(
        pending_at(""),
        serde_json::json!([]),
        "nothing left to execute"
    );
    assert_eq!(storage[0]["args"][1].as_array().unwrap().len(), 2);
    // A second execution, with a fresh proof against the (by now newer) LCC, is refused.
    let fresh = get_json(&node.addr, &proof_path);
    let again = node_script(
        script,
        &[
            &l1.url(),
            l1_dir_s,
            "execute",
            rollup,
            fresh["commitment"].as_str().unwrap(),
            fresh["proof"].as_str().unwrap(),
        ],
    );
    assert!(
        again[0]["error"]
            .to_string()
            .contains("outbox_message_already_applied"),
        "{}",
        again[0]
    );
    // A proof changed in one hex digit (its last byte: part of the output message) does not
    // verify against the cemented state: octez's error, nothing applied.
    let proof = fresh["proof"].as_str().unwrap();
    let last = if proof.ends_with('0') { "1" } else { "0" };
    let forged = format!("{}{last}", &proof[..proof.len() - 1]);
    let refused = node_script(
        script,
        &[
            &l1.url(),
            l1_dir_s,
            "execute",
            rollup,
            fresh["commitment"].as_str().unwrap(),
            &forged,
        ],
    );
    assert!(
        refused[0]["error"]
            .to_string()
            .contains("smart_rollup_invalid_output_proof"),
        "{}",
        refused[0]
    );

    // kill -9, restart: the stored levels are re-run and checked, nothing is lost, the node goes on.
    node.kill();
    let node = start_node(&node_dir, &wallet_file);
    wait_for_level(&node, level + 2);
    assert_eq!(
        get_json(&node.addr, &format!("/global/block/{level}/state_hash")),
        expected.as_str()
    );
    let _ = std::fs::remove_dir_all(&node_dir);
}

/// A light client checks a commitment without the rollup's state: the node's witness of the
/// last commitment's period (from its predecessor's state, which a full node keeps while it is
/// the last cemented one) replays to exactly the committed state and ticks; a forged commitment
/// is refused with the reason; a witness from a state the node has collected (the period of the
/// older commitment `cemented`) and bad queries are precise errors.
fn check_commitment_by_witness(node: &Server, l1: &Server, cemented: &str) {
    let parse = |c: &Value| soru_verifier::Commitment {
        compressed_state: StateHash::from_b58check(c["compressed_state"].as_str().unwrap())
            .unwrap(),
        inbox_level: c["inbox_level"].as_i64().unwrap() as i32,
        predecessor: soru_verifier::CommitmentHash::from_b58check(
            c["predecessor"].as_str().unwrap(),
        )
        .unwrap(),
        number_of_ticks: c["number_of_ticks"].as_str().unwrap().parse().unwrap(),
    };
    // The last commitment's predecessor is cemented or about to be; the node may collect its
    // state while the L1 moves on, so try again then.
    let deadline = Instant::now() + Duration::from_secs(120);
    let (pred, c, answer) = loop {
        let next = get_json(&node.addr, "/global/last_stored_commitment");
        let pred_hash = next["commitment"]["predecessor"].as_str().unwrap();
        let pred_json = get_json(&node.addr, &format!("/local/commitments/{pred_hash}"));
        let pred = parse(&pred_json["commitment"]);
        let c = parse(&next["commitment"]);
        let path = format!("/global/block/{}/helpers/witness", c.inbox_level);
        let (status, body) = http(&node.addr, "GET", &path, None);
        if status == 200 {
            break (pred, c, serde_json::from_str::<Value>(&body).unwrap());
        }
        assert!(
            status == 404 && body.contains("state_not_available") && Instant::now() < deadline,
            "{path}: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(answer["first_level"], pred.inbox_level + 1, "{answer}");
    assert_eq!(answer["last_level"], c.inbox_level);
    assert_eq!(
        answer["state_hash"],
        c.compressed_state.to_b58check().as_str()
    );
    assert_eq!(answer["ticks"], c.number_of_ticks.to_string().as_str());
    let bytes = hex::decode(answer["witness"].as_str().unwrap()).unwrap();
    assert_eq!(answer["size"], bytes.len());
    let run = soru_verifier::replay::check_commitment_with_witness(&bytes, &pred, &c).unwrap();
    assert_eq!(run.state_hash, c.compressed_state.0);
    // The witness's inbox is the L1's: each level's messages hash to the level witness the
    // sandbox's shared inbox after that level holds; one changed message byte breaks it.
    let inboxes: Vec<soru_core::inbox::Inbox> = (pred.inbox_level + 1..=c.inbox_level)
        .map(|l| {
            let path = format!("/chains/main/blocks/{l}/context/smart_rollups/all/inbox");
            soru_core::inbox::Inbox::from_json(&get_json(&l1.addr, &path)).unwrap()
        })
        .collect();
    let w = soru_core::witness::decode(&bytes).unwrap();
    let checked = soru_verifier::replay::check_witness_inbox(&w, &inboxes).unwrap();
    assert_eq!(checked.len(), inboxes.len());
    let mut forged_witness = w.clone();
    let last = forged_witness.levels.len() - 1;
    forged_witness.levels[last]
        .messages
        .push(b"\x01forged".to_vec());
    let err = soru_verifier::replay::check_witness_inbox(&forged_witness, &inboxes).unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "level {}: the witness's messages hash to",
            c.inbox_level
        )),
        "{err}"
    );
    let err = soru_verifier::replay::check_witness_inbox(&w, &inboxes[1..]).unwrap_err();
    assert!(
        err.to_string().contains("no L1 inbox after this level"),
        "{err}"
    );
    let mut forged = c;
    forged.number_of_ticks += 1;
    let err =
        soru_verifier::replay::check_commitment_with_witness(&bytes, &pred, &forged).unwrap_err();
    assert!(
        err.to_string().contains("ticks but the commitment claims"),
        "{err}"
    );
    // The period of the older commitment `cemented` starts from a state the node collected.
    let old = get_json(&node.addr, &format!("/local/commitments/{cemented}"));
    let (status, body) = http(
        &node.addr,
        "GET",
        &format!(
            "/global/block/{}/helpers/witness",
            old["commitment"]["inbox_level"]
        ),
        None,
    );
    assert!(
        status == 404 && body.contains("state_not_available"),
        "{status} {body}"
    );
    let (status, body) = http(
        &node.addr,
        "GET",
        &format!("/global/block/{}/helpers/witness?from=0", c.inbox_level),
        None,
    );
    assert!(
        status == 400 && body.contains("from must be in"),
        "{status} {body}"
    );
}

/// `POST /global/block/<level - 1>/simulate` with level `level`'s own messages gives the state
/// hash and ticks the node computed for `level`; the node's state does not change; bad bodies
/// and queries get precise errors.
fn check_simulation(node: &Server, node_dir: &std::path::Path, level: u64, block: &Value) {
    let inbox = block["messages"].as_array().unwrap();
    let messages = &inbox[2..inbox.len() - 1];
    let body = serde_json::json!({
        "messages": messages,
        "insight_requests": [
            {"kind": "durable_storage", "key": ["counter"]},
            {"kind": "pvm_state", "key": ["pvm", "max_nb_ticks"]},
            {"kind": "durable_storage", "key": ["nothing", "here"]},
        ],
        "log_kernel_debug_file": "sim.log",
    })
    .to_string();
    let path = format!("/global/block/{}/simulate", level - 1);
    let (status, answer) = http(&node.addr, "POST", &path, Some(&body));
    assert_eq!(status, 200, "{answer}");
    let sim: Value = serde_json::from_str(&answer).unwrap();
    let at = |field: &str| get_json(&node.addr, &format!("/global/block/{level}/{field}"));
    assert_eq!(sim["state_hash"], at("state_hash"), "{sim}");
    assert_eq!(sim["num_ticks"], at("ticks"));
    assert_eq!(sim["inbox_level"], level);
    assert_eq!(sim["status"], "Waiting for input message");
    // The echo kernel echoes each external message to the outbox.
    assert_eq!(
        sim["output"],
        get_json(
            &node.addr,
            &format!("/global/block/{level}/outbox/{level}/messages")
        )
    );
    assert_eq!(sim["output"].as_array().unwrap().len(), messages.len());
    let log = std::fs::read_to_string(node_dir.join("simulation_kernel_logs/sim.log")).unwrap();
    assert!(
        log.contains("start_of_level") && log.contains("end_of_level"),
        "{log}"
    );
    let counter = at("durable/wasm_2_0_0/value?key=/counter");
    assert_eq!(sim["insights"][0], counter);
    assert!(sim["insights"][1].is_string(), "{sim}");
    assert_eq!(sim["insights"][2], Value::Null);
    // A withdrawal message: the echo kernel writes it to the simulated level's outbox.
    let receiver = ContractHash([7; 20]).to_b58check();
    let message = withdrawal(&receiver, &receiver, 1);
    let head = get_json(&node.addr, "/global/block/head/level")
        .as_u64()
        .unwrap();
    let state_before = get_json(&node.addr, &format!("/global/block/{head}/state_hash"));
    let body = format!(r#"{{"messages": ["01{}"]}}"#, hex::encode(&message));
    let (status, answer) = http(
        &node.addr,
        "POST",
        &format!("/global/block/{head}/simulate"),
        Some(&body),
    );
    assert_eq!(status, 200, "{answer}");
    let sim: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(sim["inbox_level"], head + 1);
    assert_eq!(sim["output"][0]["outbox_level"], head + 1, "{sim}");
    assert_eq!(sim["output"][0]["message_index"], "0");
    assert_eq!(
        sim["output"][0]["message"]["transactions"][0]["destination"],
        receiver.as_str()
    );
    assert_eq!(
        get_json(&node.addr, &format!("/global/block/{head}/state_hash")),
        state_before,
        "simulating changed nothing"
    );
    // Errors.
    let post = |path: &str, body: &str| http(&node.addr, "POST", path, Some(body));
    let (status, answer) = post(&path, "{");
    assert!(
        status == 400 && answer.contains("not JSON"),
        "{status} {answer}"
    );
    let (status, answer) = post(&path, r#"{"messages": ["01", "xyz"]}"#);
    assert!(
        status == 400 && answer.contains("messages[1] is not hex"),
        "{status} {answer}"
    );
    let (status, answer) = post(&format!("{path}?fuel=0"), r#"{"messages": []}"#);
    assert!(
        status == 400 && answer.contains("fuel `0`"),
        "{status} {answer}"
    );
    let (status, answer) = post(&format!("{path}?fuel=1000"), r#"{"messages": []}"#);
    assert!(
        status == 400 && answer.contains("simulation_out_of_fuel"),
        "{status} {answer}"
    );
    let (status, answer) = post("/global/block/99999999/simulate", r#"{"messages": []}"#);
    assert!(
        status == 404 && answer.contains("unknown_block"),
        "{status} {answer}"
    );
    let big = format!(r#"{{"messages": ["{}"]}}"#, "0".repeat(3 * 1024 * 1024));
    let (status, answer) = post(&path, &big);
    assert!(
        status == 413 && answer.contains("body_too_large"),
        "{status} {answer}"
    );
}

/// `GET /global/monitor_blocks` streams consecutive L2 blocks from the head on, each as the
/// node serves it.
fn check_monitor_blocks(node: &Server) {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::net::TcpStream::connect(&node.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET /global/monitor_blocks HTTP/1.1\r\nHost: {}\r\n\r\n",
        node.addr
    )
    .unwrap();
    let mut lines = BufReader::new(s).lines();
    let status = lines.next().unwrap().unwrap();
    assert!(status.contains(" 200 "), "{status}");
    let mut blocks: Vec<Value> = Vec::new();
    while blocks.len() < 3 {
        let line = lines.next().unwrap().unwrap();
        if line.starts_with('{') {
            blocks.push(serde_json::from_str(&line).unwrap());
        }
    }
    for pair in blocks.windows(2) {
        assert_eq!(
            pair[1]["level"].as_u64(),
            pair[0]["level"].as_u64().map(|l| l + 1),
            "{blocks:?}"
        );
        assert_eq!(pair[1]["predecessor"], pair[0]["block_hash"]);
    }
    for b in &blocks {
        let level = b["level"].as_u64().unwrap();
        let served = get_json(&node.addr, &format!("/global/block/{level}"));
        for field in [
            "block_hash",
            "state_hash",
            "num_ticks",
            "initial_tick",
            "pvm_status",
            "previous_commitment_hash",
            "inbox_witness",
            "inbox_hash",
        ] {
            assert_eq!(b[field], served[field], "{field}: {b}");
        }
        let inbox = get_json(&node.addr, &format!("/global/block/{level}/inbox"));
        let inbox = soru_core::inbox::Inbox::from_json(&inbox).unwrap();
        assert_eq!(b["inbox_hash"], inbox.hash().to_b58check(), "{b}");
        assert_eq!(
            b["inbox_witness"],
            inbox.old_levels_messages.content.hash.to_b58check(),
            "{b}"
        );
        assert!(
            b.get("commitment_hash").is_some() && b.get("messages").is_none(),
            "{b}"
        );
    }
}

/// A running `soru sandbox` (blocks every 0.2 s) with the example echo kernel originated as a
/// rollup by Taquito.
struct Sandbox {
    l1: Server,
    l1_dir: std::path::PathBuf,
    script: std::path::PathBuf,
    rollup: String,
    origination_level: u64,
    kernel: Vec<u8>,
}

impl Sandbox {
    /// `None` (with a message) when the JS test dependencies are missing locally.
    fn with_echo_rollup(name: &str) -> Option<Sandbox> {
        let script = js_dir()?.join("node/rollup.mjs");
        let l1_dir = scratch_dir(name);
        let mut init = soru();
        init.args(["sandbox", "init", "--data-dir", l1_dir.to_str().unwrap()]);
        run_ok(init);
        let mut run = soru();
        run.args(["sandbox", "run", "--data-dir", l1_dir.to_str().unwrap()])
            .args(["--rpc-addr", "127.0.0.1:0", "--block-time", "0.2"]);
        let l1 = Server::start(run);
        let kernel = wat::parse_file(repo().join("node-shim/examples/echo.wat")).unwrap();
        let ticket_type = r#"{"prim":"ticket","args":[{"prim":"string"}]}"#;
        let originated = node_script(
            &script,
            &[
                &l1.url(),
                l1_dir.to_str().unwrap(),
                "originate",
                &hex::encode(&kernel),
                ticket_type,
            ],
        );
        Some(Sandbox {
            rollup: originated[0]["rollup"].as_str().unwrap().to_string(),
            origination_level: originated[0]["level"].as_u64().unwrap(),
            l1,
            l1_dir,
            script,
            kernel,
        })
    }

    /// Sends external messages (hex) to the rollup; the level that holds them.
    fn send(&self, messages: &[&str]) -> u64 {
        let mut args = vec![
            self.l1.url(),
            self.l1_dir.to_str().unwrap().to_string(),
            "send".into(),
        ];
        args.extend(messages.iter().map(|m| m.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        node_script(&self.script, &args)[0]["level"]
            .as_u64()
            .unwrap()
    }

    /// Writes an observer node's configuration in `dir`.
    fn init_observer(&self, dir: &std::path::Path) {
        let mut init = soru_node();
        init.args(["init", "observer", "config", "for", &self.rollup])
            .args(["--data-dir", dir.to_str().unwrap()])
            .args(["--endpoint", &self.l1.url(), "--rpc-addr", "127.0.0.1:0"])
            .args(["--history-mode", "archive"]);
        run_ok(init);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.l1_dir);
    }
}

/// `kill -9` at arbitrary moments while the node catches up and follows (blocks every 0.2 s,
/// messages in between): every restart resumes from the store, and in the end every level's
/// state hash equals that of a node that was never interrupted.
#[test]
fn kill_9_in_a_loop_loses_nothing() {
    let Some(sandbox) = Sandbox::with_echo_rollup("node-crash-l1") else {
        return;
    };
    let reference_dir = scratch_dir("node-crash-reference");
    let crashing_dir = scratch_dir("node-crash-victim");
    sandbox.init_observer(&reference_dir);
    sandbox.init_observer(&crashing_dir);
    let reference = run_node(&reference_dir);
    let mut victim = run_node(&crashing_dir);
    for round in 0..10u64 {
        if round % 3 == 0 {
            sandbox.send(&[&hex::encode(format!("round {round}"))]);
        }
        // Uneven pauses, so the kill lands at different points of the node's work.
        std::thread::sleep(Duration::from_millis(60 + (round * 97) % 400));
        victim.kill();
        victim = run_node(&crashing_dir);
    }
    let last = sandbox.send(&["656e64"]);
    wait_for_level(&reference, last);
    wait_for_level(&victim, last);
    assert_same_blocks(
        &victim,
        &reference,
        sandbox.origination_level + 1..=last,
        &["state_hash"],
    );
    assert_eq!(
        get_json(
            &victim.addr,
            &format!("/global/block/{last}/durable/wasm_2_0_0/value?key=/counter")
        ),
        "05000000",
        "five external messages counted"
    );
    drop(victim);
    drop(reference);
    let _ = std::fs::remove_dir_all(&reference_dir);
    let _ = std::fs::remove_dir_all(&crashing_dir);
}

/// Waits until the node holds L1 block `level` of the L1's current branch.
fn wait_for_block(node: &Server, l1: &Server, level: u64) {
    poll(90, Duration::from_millis(100), || {
        // The L1 may not have baked it yet: then its answer is a 404.
        let (l1_status, theirs) = http(
            &l1.addr,
            "GET",
            &format!("/chains/main/blocks/{level}/hash"),
            None,
        );
        let (status, ours) = http(
            &node.addr,
            "GET",
            &format!("/global/block/{level}/hash"),
            None,
        );
        let hash = |body: &str| serde_json::from_str::<Value>(body).ok();
        if l1_status == 200 && status == 200 && hash(&ours) == hash(&theirs) {
            return Ok(());
        }
        Err(format!(
            "the node did not reach L1 block {level} ({theirs}): {status} {ours}"
        ))
    })
}

/// An L1 reorganisation (`POST /sandbox/reorganise`): the sandbox takes back the blocks from
/// the one holding a message on, and goes on along another branch with another message. The
/// node, which had processed the old branch, drops those levels, follows the new branch and
/// ends with the state hashes of a node that only ever saw the new branch.
#[test]
fn an_l1_reorganisation_is_followed() {
    let Some(sandbox) = Sandbox::with_echo_rollup("node-reorg-l1") else {
        return;
    };
    let follower_dir = scratch_dir("node-reorg-follower");
    let reference_dir = scratch_dir("node-reorg-reference");
    sandbox.init_observer(&follower_dir);
    sandbox.init_observer(&reference_dir);
    let follower = run_node(&follower_dir);
    let dropped = sandbox.send(&[&hex::encode("on the old branch")]);
    wait_for_block(&follower, &sandbox.l1, dropped + 1);
    let old = get_json(&follower.addr, &format!("/global/block/{dropped}/hash"));

    let body = format!(r#"{{"level": {}}}"#, dropped - 1);
    let (status, answer) = http(&sandbox.l1.addr, "POST", "/sandbox/reorganise", Some(&body));
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = http(
        &sandbox.l1.addr,
        "POST",
        "/sandbox/reorganise",
        Some(r#"{"level": 1000000}"#),
    );
    assert_eq!(status, 400, "a level above the head is refused: {answer}");
    assert!(answer.contains("cannot take back"), "{answer}");
    let kept = sandbox.send(&[&hex::encode("on the new branch")]);
    // Past the old branch's head, so the node meets a block whose predecessor it does not have.
    let last = kept + 3;
    wait_for_block(&follower, &sandbox.l1, last);
    let new = get_json(&follower.addr, &format!("/global/block/{dropped}/hash"));
    assert_ne!(
        old, new,
        "level {dropped} is another block on the new branch"
    );

    let reference = run_node(&reference_dir);
    wait_for_block(&reference, &sandbox.l1, last);
    assert_same_blocks(
        &follower,
        &reference,
        sandbox.origination_level + 1..=last,
        &["hash", "state_hash", "inbox"],
    );
    assert_eq!(
        get_json(
            &follower.addr,
            &format!("/global/block/{last}/durable/wasm_2_0_0/value?key=/counter")
        ),
        "01000000",
        "only the new branch's message is counted"
    );
    drop(follower);
    drop(reference);
    let _ = std::fs::remove_dir_all(&follower_dir);
    let _ = std::fs::remove_dir_all(&reference_dir);
}

/// `soru-node snapshot export|info|import`: a snapshot of a stopped node, imported into a fresh
/// data directory after octez's checks (against the sandbox L1), resumes there with the same
/// states; a running node, a populated directory and a hostile archive are refused by name.
#[test]
fn snapshots_export_import_and_resume() {
    let Some(sandbox) = Sandbox::with_echo_rollup("node-snapshot-l1") else {
        return;
    };
    let source = scratch_dir("node-snapshot-source");
    let target = scratch_dir("node-snapshot-target");
    let out = scratch_dir("node-snapshot-files");
    let wallet_file = sandbox.l1_dir.join("wallet.json");
    let wallet: Value =
        serde_json::from_str(&std::fs::read_to_string(&wallet_file).unwrap()).unwrap();
    let mut init = soru_node();
    init.args(["init", "operator", "config", "for", &sandbox.rollup])
        .args(["with", "operators", wallet[1]["address"].as_str().unwrap()])
        .args(["--data-dir", source.to_str().unwrap()])
        .args(["--endpoint", &sandbox.l1.url(), "--rpc-addr", "127.0.0.1:0"])
        .args(["--history-mode", "archive"]);
    run_ok(init);
    let node = start_node(&source, &wallet_file);
    let sent = sandbox.send(&["6f6e65", "74776f"]);
    // The operator publishes and cements (short sandbox windows); the snapshot stops at the
    // cemented level, whose commitment the L1 has.
    let deadline = Instant::now() + Duration::from_secs(90);
    let level = loop {
        let (status, body) = http(&node.addr, "GET", "/global/block/cemented/level", None);
        if let Some(l) = body
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|&l| status == 200 && l >= sent)
        {
            break l;
        }
        assert!(
            Instant::now() < deadline,
            "nothing cemented: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let snapshot = |args: &[&str]| {
        let mut c = soru_node();
        c.arg("snapshot").args(args);
        c.output().unwrap()
    };
    let src = source.to_str().unwrap();
    let busy = snapshot(&["export", "--data-dir", src, "--dest", out.to_str().unwrap()]);
    assert!(!busy.status.success());
    let err = String::from_utf8_lossy(&busy.stderr);
    assert!(err.contains("in use by a running soru-node"), "{err}");
    let expected = get_json(&node.addr, &format!("/global/block/{level}/state_hash"));
    node.kill();

    // `dump durable storage`: the level's durable storage as `set` instructions.
    std::fs::create_dir_all(&out).unwrap();
    let dumped = out.join("durable.yaml");
    let mut dump = soru_node();
    dump.args([
        "dump",
        "durable",
        "storage",
        "into",
        dumped.to_str().unwrap(),
    ])
    .args(["--data-dir", src, "--block", &level.to_string()]);
    assert!(run_ok(dump).contains("Dumped WASM PVM state to"));
    let set = soru_core::installer_config::parse_yaml(&std::fs::read_to_string(&dumped).unwrap())
        .unwrap();
    let counter = set
        .iter()
        .find(|i| i.to == "/counter")
        .expect("/counter dumped");
    assert_eq!(counter.value, 2u32.to_le_bytes());
    assert!(set
        .iter()
        .all(|i| !i.to.starts_with("/readonly") && i.to != "/kernel/boot.wasm"));

    let exported = snapshot(&[
        "export",
        "--data-dir",
        src,
        "--dest",
        out.to_str().unwrap(),
        "--level",
        "cemented",
    ]);
    let text = String::from_utf8_lossy(&exported.stdout).into_owned();
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let file = text
        .trim()
        .strip_prefix("Snapshot exported to ")
        .unwrap_or_else(|| panic!("{text}"))
        .to_string();
    assert!(
        file.contains(&sandbox.rollup[..12]) && file.ends_with(".archive"),
        "{file}"
    );
    let info = snapshot(&["info", &file]);
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    assert!(
        info.starts_with("Valid smart rollup node snapshot."),
        "{info}"
    );
    assert!(info.contains("Format:          compressed"), "{info}");
    assert!(
        info.contains(&format!("Rollup address:  {}", sandbox.rollup)),
        "{info}"
    );
    assert!(info.contains("History mode:    archive"), "{info}");
    assert!(
        info.contains(&format!("Head level:      {level}")),
        "{info}"
    );

    let tgt = target.to_str().unwrap();
    let endpoint = sandbox.l1.url();
    let imported = snapshot(&["import", &file, "--data-dir", tgt, "--endpoint", &endpoint]);
    let text = String::from_utf8_lossy(&imported.stdout).into_owned();
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert!(text.contains("Snapshot successfully imported"), "{text}");
    let again = snapshot(&["import", &file, "--data-dir", tgt]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("already populated"), "{err}");
    sandbox.init_observer(&target);
    let node = run_node(&target);
    wait_for_level(&node, level);
    assert_eq!(
        get_json(&node.addr, &format!("/global/block/{level}/state_hash")),
        expected
    );
    let next = sandbox.send(&["746872656565"]);
    wait_for_level(&node, next);
    assert_eq!(
        get_json(
            &node.addr,
            &format!("/global/block/{next}/durable/wasm_2_0_0/value?key=/counter")
        ),
        "03000000",
        "the imported node goes on counting from the snapshot's state"
    );
    drop(node);

    // A hostile archive entry is refused by name, before anything is installed.
    let evil = out.join("evil.snapshot");
    let mut bytes = std::fs::read(&file).unwrap();
    {
        use std::io::Read;
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut plain)
            .unwrap();
        let mut tar = tar::Builder::new(Vec::new());
        // Written by hand: the tar crate itself refuses to write `..` into a name.
        let mut h = tar::Header::new_gnu();
        let name = b"wasm_2_0_0/../../escape";
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_size(4);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        tar.append(&h, &b"evil"[..]).unwrap();
        let mut forged = plain[..58].to_vec();
        forged.extend(tar.into_inner().unwrap());
        bytes = forged;
    }
    std::fs::write(&evil, &bytes).unwrap();
    let fresh = scratch_dir("node-snapshot-evil");
    let refused = snapshot(&[
        "import",
        evil.to_str().unwrap(),
        "--data-dir",
        fresh.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && err.contains("escape"), "{err}");
    assert!(!fresh.join("store.redb").exists());
    for d in [&source, &target, &out, &fresh] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// The batcher: messages posted to `/local/batcher/injection` go out in an `add_messages` of
/// the batching key, their status goes from queued to included, and the kernel sees them.
#[test]
fn the_batcher_queues_injects_and_tracks_messages() {
    let Some(sandbox) = Sandbox::with_echo_rollup("node-batcher-l1") else {
        return;
    };
    let dir = scratch_dir("node-batcher");
    let wallet_file = sandbox.l1_dir.join("wallet.json");
    let wallet: Value =
        serde_json::from_str(&std::fs::read_to_string(&wallet_file).unwrap()).unwrap();
    let mut init = soru_node();
    init.args(["init", "batcher", "config", "for", &sandbox.rollup])
        .args(["with", "operators", wallet[2]["address"].as_str().unwrap()])
        .args(["--data-dir", dir.to_str().unwrap()])
        .args(["--endpoint", &sandbox.l1.url(), "--rpc-addr", "127.0.0.1:0"]);
    run_ok(init);
    let node = start_node(&dir, &wallet_file);
    let (status, body) = http(
        &node.addr,
        "POST",
        "/local/batcher/injection",
        Some(r#"["6f6e65", "74776f", "zz"]"#),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("message 2 is not hex"), "{body}");
    let big = format!("[\"{}\"]", "00".repeat(4097));
    let (status, body) = http(&node.addr, "POST", "/local/batcher/injection", Some(&big));
    assert!(
        status == 400 && body.contains("4097 bytes"),
        "{status} {body}"
    );
    let (status, body) = http(
        &node.addr,
        "POST",
        "/local/batcher/injection",
        Some(r#"["6f6e65", "74776f", "7468726565"]"#),
    );
    assert_eq!(status, 200, "{body}");
    let ids: Vec<String> = serde_json::from_str(&body).unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|i| i.starts_with("scmsg")), "{ids:?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let included = loop {
        let s = get_json(&node.addr, &format!("/local/batcher/queue/{}", ids[2]));
        if s["status"] == "included" {
            break s;
        }
        assert!(Instant::now() < deadline, "not included: {s}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(included["content"], "7468726565");
    assert_eq!(
        included["operation"]["message"],
        serde_json::json!(["6f6e65", "74776f", "7468726565"])
    );
    let level = included["layer1"]["level"].as_u64().unwrap();
    let block = get_json(
        &sandbox.l1.addr,
        &format!("/chains/main/blocks/{level}/hash"),
    );
    assert_eq!(included["layer1"]["block_hash"], block);
    assert_eq!(
        get_json(&node.addr, "/local/batcher/queue"),
        serde_json::json!([])
    );
    wait_for_level(&node, level);
    assert_eq!(
        get_json(
            &node.addr,
            &format!("/global/block/{level}/durable/wasm_2_0_0/value?key=/counter")
        ),
        "03000000",
        "the kernel read the three batched messages"
    );
    let openapi = get_json(&node.addr, "/openapi");
    assert_eq!(openapi["openapi"], "3.0.0");
    assert!(openapi["paths"]["/local/batcher/queue/{id}"]["get"].is_object());
    let never = soru_core::encoding::base58::encode(&soru_core::encoding::base58::SCMSG, &[0; 32]);
    let unknown = get_json(&node.addr, &format!("/local/batcher/queue/{never}"));
    assert_eq!(unknown, serde_json::json!({"status": "unknown"}));
    let (status, body) = http(&node.addr, "GET", "/local/batcher/queue/scmsg11", None);
    assert!(
        status == 400 && body.contains("is not a message id"),
        "{status} {body}"
    );
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `executing_outbox` purpose: with octez's `execute-outbox-messages-filter` accepting
/// `%receive`, the operator node executes the cemented withdrawal itself.
#[test]
fn the_operator_executes_cemented_outbox_messages_its_filter_accepts() {
    let Some(sandbox) = Sandbox::with_echo_rollup("node-executor-l1") else {
        return;
    };
    let (l1, script) = (&sandbox.l1, &sandbox.script);
    let l1_dir_s = sandbox.l1_dir.to_str().unwrap();
    let contracts = node_script(script, &[&l1.url(), l1_dir_s, "contracts"]);
    let ticketer = contracts[0]["ticketer"].as_str().unwrap().to_string();
    let receiver = contracts[0]["receiver"].as_str().unwrap().to_string();
    node_script(
        script,
        &[
            &l1.url(),
            l1_dir_s,
            "deposit",
            &ticketer,
            &sandbox.rollup,
            "10",
        ],
    );
    let dir = scratch_dir("node-executor");
    let wallet_file = sandbox.l1_dir.join("wallet.json");
    let wallet: Value =
        serde_json::from_str(&std::fs::read_to_string(&wallet_file).unwrap()).unwrap();
    let mut init = soru_node();
    init.args(["init", "operator", "config", "for", &sandbox.rollup])
        .args(["with", "operators", wallet[1]["address"].as_str().unwrap()])
        .args(["--data-dir", dir.to_str().unwrap()])
        .args(["--endpoint", &l1.url(), "--rpc-addr", "127.0.0.1:0"]);
    run_ok(init);
    let config_file = dir.join("config.json");
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(&config_file).unwrap()).unwrap();
    config["execute-outbox-messages-filter"] =
        serde_json::json!([{"transaction": {"destination": "any", "entrypoint": ["receive"]}}]);
    std::fs::write(&config_file, config.to_string()).unwrap();
    let node = start_node(&dir, &wallet_file);
    let message = withdrawal(&ticketer, &receiver, 10);
    node_script(
        script,
        &[&l1.url(), l1_dir_s, "send", &hex::encode(&message)],
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let storage = node_script(script, &[&l1.url(), l1_dir_s, "storage", &receiver]);
        if storage[0]["args"][1]
            .as_array()
            .is_some_and(|r| r.len() == 1)
        {
            assert_eq!(
                storage[0]["args"][0]["args"][0]["args"][1]["args"][1]["int"],
                "10"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the node did not execute the withdrawal: {}",
            storage[0]
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Before publishing, an operator compares its rebuilt shared inbox with the L1's
/// (`context/smart_rollups/all/inbox` at the commitment's inbox level, octez's
/// `Inbox.same_as_layer_1`): an honest operator publishes, its inbox equal to the sandbox's at
/// every level; an operator whose L1 (a forging proxy in front of the same sandbox) answers
/// another inbox above the origination level publishes nothing and reports, in `/health` and
/// its log, the level and both inbox hashes.
#[test]
fn the_operator_publishes_only_when_its_inbox_is_the_l1_s() {
    let Some(sandbox) = Sandbox::with_echo_rollup("node-inbox-l1") else {
        return;
    };
    let origination = sandbox.origination_level;
    let forged_witness = soru_core::inbox::MerkelizedPayloadsHash([7; 32]).to_b58check();
    let forged_witness_ = forged_witness.clone();
    let proxy = ForgingProxy::start(
        &sandbox.l1.addr,
        "/context/smart_rollups/all/inbox",
        move |path, body| {
            let block = path.split('/').nth(4).unwrap_or("");
            if block.parse::<u64>().is_ok_and(|l| l <= origination) {
                return body.to_string();
            }
            let mut v: Value = serde_json::from_str(body).unwrap();
            v["old_levels_messages"]["content"]["hash"] = Value::from(forged_witness_.clone());
            v.to_string()
        },
    );
    let wallet_file = sandbox.l1_dir.join("wallet.json");
    let wallet: Value =
        serde_json::from_str(&std::fs::read_to_string(&wallet_file).unwrap()).unwrap();
    let start_operator = |name: &str, key: &str, endpoint: &str| {
        let dir = scratch_dir(name);
        let mut init = soru_node();
        init.args(["init", "operator", "config", "for", &sandbox.rollup])
            .args(["with", "operators", key])
            .args(["--data-dir", dir.to_str().unwrap()])
            .args(["--endpoint", endpoint, "--rpc-addr", "127.0.0.1:0"]);
        run_ok(init);
        (start_node(&dir, &wallet_file), dir)
    };
    let honest_key = wallet[3]["address"].as_str().unwrap();
    let lied_to_key = wallet[4]["address"].as_str().unwrap();
    let (honest, honest_dir) = start_operator("node-inbox-honest", honest_key, &sandbox.l1.url());
    let (lied_to, lied_to_dir) = start_operator("node-inbox-lied-to", lied_to_key, &proxy.url());
    sandbox.send(&["6869"]);
    let staked = |key: &str| {
        get_json(
            &sandbox.l1.addr,
            &format!(
                "/chains/main/blocks/head/context/smart_rollups/smart_rollup/{}/staker/{key}/staked_on_commitment",
                sandbox.rollup
            ),
        )
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let published = loop {
        let s = staked(honest_key);
        if !s.is_null() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the honest operator did not publish"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let level = published["inbox_level"].as_u64().unwrap();
    for l in origination + 1..=level {
        let l1_inbox = get_json(
            &sandbox.l1.addr,
            &format!("/chains/main/blocks/{l}/context/smart_rollups/all/inbox"),
        );
        assert_eq!(
            get_json(&honest.addr, &format!("/global/block/{l}/inbox")),
            l1_inbox,
            "level {l}"
        );
    }
    assert!(get_json(&honest.addr, "/health")["inconsistent_inbox"].is_null());

    // The node lied to: the mismatch at the first commitment level, named, and no publication.
    let health = wait_for_inconsistent_inbox(&lied_to);
    let e = &health["inconsistent_inbox"];
    assert_eq!(e["id"], "internal.inconsistent_inbox");
    // Its first commitment level (the honest node may have published a later one by the time
    // the loop above saw it).
    let published_level = level;
    let level = e["level"].as_u64().unwrap();
    assert!(level > origination && level <= published_level, "{health}");
    assert_eq!(
        get_json(&lied_to.addr, &format!("/global/block/{level}"))["commitment_hash"],
        e["commitment"],
        "{health}"
    );
    let ours = soru_core::inbox::Inbox::from_json(&get_json(
        &lied_to.addr,
        &format!("/global/block/{level}/inbox"),
    ))
    .unwrap();
    let l1_inbox = soru_core::inbox::Inbox::from_json(&get_json(
        &sandbox.l1.addr,
        &format!("/chains/main/blocks/{level}/context/smart_rollups/all/inbox"),
    ))
    .unwrap();
    assert_eq!(ours, l1_inbox, "the node's rebuilt inbox is the real one");
    let mut forged = l1_inbox.clone();
    forged.old_levels_messages.content.hash =
        soru_core::inbox::MerkelizedPayloadsHash::from_b58check(&forged_witness).unwrap();
    assert_eq!(e["inbox"], ours.hash().to_b58check());
    assert_eq!(e["layer1_inbox"], forged.hash().to_b58check());
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("inconsistent inbox at level {level}"))
            && message.contains(&ours.hash().to_b58check())
            && message.contains(&forged.hash().to_b58check()),
        "{message}"
    );
    assert_eq!(health["healthy"], false);
    // Several heads later it still has not published.
    let seen = get_json(&lied_to.addr, "/global/tezos_level")
        .as_u64()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while get_json(&lied_to.addr, "/global/tezos_level")
        .as_u64()
        .unwrap()
        < seen + 5
    {
        assert!(Instant::now() < deadline, "the L1 stopped");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        staked(lied_to_key).is_null(),
        "the lied-to operator published"
    );
    drop(lied_to);
    drop(honest);
    let _ = std::fs::remove_dir_all(&honest_dir);
    let _ = std::fs::remove_dir_all(&lied_to_dir);
}

/// Waits until the node's `/health` reports an inconsistent inbox; returns it.
fn wait_for_inconsistent_inbox(node: &Server) -> Value {
    poll(120, Duration::from_millis(200), || {
        let health = get_json(&node.addr, "/health");
        if !health["inconsistent_inbox"].is_null() {
            return Ok(health);
        }
        Err(format!("no inconsistent inbox reported: {health}"))
    })
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
