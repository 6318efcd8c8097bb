//! `soru sandbox` as users run it: the real binary on a free loopback port, driven by Taquito
//! 25 from npm (`tests/js/sandbox/basics.mjs`) and by plain HTTP; restarts resume from the
//! database.

mod common;

use std::path::Path;
use std::process::Command;

use common::{get_json, http, js_dir, scratch_dir, Server};
use serde_json::Value;
use soru_core::encoding::inbox::{BlockHash, InboxMessage, InternalInboxMessage};
use soru_core::encoding::keys::SecretKey;
use soru_core::encoding::operation::OperationKind;
use soru_core::inbox::{Inbox, LevelWitness};
use soru_node::node::inbox::{block_messages, full_inbox, next_shared_inbox};
use soru_node::node::l1::{parse_rfc3339, HttpLayer1};
use soru_node::node::operator::Injector;

fn soru() -> Command {
    Command::new(env!("CARGO_BIN_EXE_soru"))
}

fn init(dir: &Path) {
    let out = soru()
        .args(["sandbox", "init", "--data-dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `soru sandbox run` on a free port, killed on drop.
fn run(dir: &Path, extra: &[&str]) -> Server {
    let mut c = soru();
    c.args(["sandbox", "run", "--data-dir", dir.to_str().unwrap()])
        .args(["--rpc-addr", "127.0.0.1:0"])
        .args(extra);
    Server::start(c)
}

#[test]
fn taquito_drives_the_sandbox() {
    let Some(js) = js_dir() else { return };
    let dir = scratch_dir("sandbox-taquito");
    init(&dir);
    let wallet: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("wallet.json")).unwrap()).unwrap();
    assert_eq!(wallet.as_array().unwrap().len(), 5);
    assert!(wallet[0]["secret_key"]
        .as_str()
        .unwrap()
        .starts_with("edsk"));
    let sb = run(&dir, &["--block-time", "0.2"]);
    let out = Command::new("node")
        .arg(js.join("sandbox/basics.mjs"))
        .arg(format!("http://{}", sb.addr))
        .arg(&dir)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "basics.mjs failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let steps: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(steps.last().unwrap()["step"], "done", "{stdout}");
    let rollup = steps
        .iter()
        .find(|s| s["step"] == "smart_rollup_originate")
        .unwrap()["rollup"]
        .as_str()
        .unwrap()
        .to_string();

    // The level's inbox lists the external messages and the ticketer's deposit.
    let level = steps
        .iter()
        .find(|s| s["step"] == "smart_rollup_add_messages")
        .unwrap()["level"]
        .as_u64()
        .unwrap();
    let inbox = get_json(
        &sb.addr,
        &format!("/chains/main/blocks/{level}/sandbox/inbox"),
    );
    let inbox: Vec<&str> = inbox
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(inbox.first(), Some(&"0001"), "Start_of_level first");
    assert_eq!(inbox.last(), Some(&"0002"), "End_of_level last");
    assert!(
        inbox.contains(&"0168656c6c6f") && inbox.contains(&"0100ff"),
        "{inbox:?}"
    );

    // Restart: the chain, the rollup and the balances are read back from the database.
    let head_before = get_json(&sb.addr, "/chains/main/blocks/head/header");
    let balance = get_json(
        &sb.addr,
        &format!(
            "/chains/main/blocks/head/context/contracts/{}/balance",
            wallet[0]["address"].as_str().unwrap()
        ),
    );
    drop(sb);
    let sb = run(&dir, &["--manual"]);
    let head_after = get_json(&sb.addr, "/chains/main/blocks/head/header");
    assert_eq!(head_before["hash"], head_after["hash"]);
    let balance_after = get_json(
        &sb.addr,
        &format!(
            "/chains/main/blocks/head/context/contracts/{}/balance",
            wallet[0]["address"].as_str().unwrap()
        ),
    );
    assert_eq!(balance, balance_after);
    let kind = get_json(
        &sb.addr,
        &format!("/chains/main/blocks/head/context/smart_rollups/smart_rollup/{rollup}/kind"),
    );
    assert_eq!(kind, "wasm_2_0_0");
    // --manual: a block only on request.
    let (status, baked) = http(&sb.addr, "POST", "/sandbox/bake", Some(""));
    assert_eq!(status, 200, "{baked}");
    let baked: Value = serde_json::from_str(&baked).unwrap();
    assert_eq!(baked["level"], head_after["level"].as_u64().unwrap() + 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_requests_get_precise_errors() {
    let dir = scratch_dir("sandbox-errors");
    init(&dir);
    // A second init refuses to overwrite.
    let again = soru()
        .args(["sandbox", "init", "--data-dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let sb = run(&dir, &["--manual"]);
    let (status, body) = http(&sb.addr, "POST", "/injection/operation", Some("\"zz\""));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not hex"), "{body}");
    let (status, body) = http(&sb.addr, "POST", "/injection/operation", Some("\"00\""));
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("does not decode"), "{body}");
    let (status, body) = http(
        &sb.addr,
        "GET",
        "/chains/main/blocks/head/context/smart_rollups/smart_rollup/sr163Lv22CdE8QagCwf48PWDTquk6isQwv57/kind",
        None,
    );
    assert_eq!(status, 404);
    assert!(body.contains("smart_rollup_does_not_exist"), "{body}");
    let (status, _) = http(&sb.addr, "GET", "/chains/main/blocks/99/header", None);
    assert_eq!(status, 404);
    let (status, body) = http(
        &sb.addr,
        "POST",
        "/chains/main/blocks/head/helpers/scripts/simulate_operation",
        Some(r#"{"operation":{"branch":"x","contents":[]}}"#),
    );
    assert_eq!(status, 400);
    assert!(body.contains("branch"), "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `kill -9` while blocks are baked every 50 ms, ten times at uneven moments: every restart
/// resumes from the database with every block it had answered for, unchanged, and the chain
/// stays linked from genesis to the head.
#[test]
fn kill_9_while_baking_loses_no_answered_block() {
    let dir = scratch_dir("sandbox-kill-9");
    init(&dir);
    let mut seen: Vec<(u64, Value)> = Vec::new();
    let mut sandbox = run(&dir, &["--block-time", "0.05"]);
    for round in 0..10u64 {
        std::thread::sleep(std::time::Duration::from_millis(80 + (round * 53) % 250));
        let head = get_json(&sandbox.addr, "/chains/main/blocks/head/header");
        let level = head["level"].as_u64().unwrap();
        seen.push((
            level,
            get_json(&sandbox.addr, &format!("/chains/main/blocks/{level}/hash")),
        ));
        sandbox.kill();
        sandbox = run(&dir, &["--block-time", "0.05"]);
        let after = get_json(&sandbox.addr, "/chains/main/blocks/head/header")["level"]
            .as_u64()
            .unwrap();
        assert!(
            after >= level,
            "round {round}: head {after} after a kill at {level}"
        );
    }
    for (level, hash) in &seen {
        assert_eq!(
            &get_json(&sandbox.addr, &format!("/chains/main/blocks/{level}/hash")),
            hash,
            "block {level} changed across restarts"
        );
    }
    let head = get_json(&sandbox.addr, "/chains/main/blocks/head/header")["level"]
        .as_u64()
        .unwrap();
    let mut predecessor = get_json(&sandbox.addr, "/chains/main/blocks/0/hash");
    for level in 1..=head {
        let header = get_json(
            &sandbox.addr,
            &format!("/chains/main/blocks/{level}/header"),
        );
        assert_eq!(header["predecessor"], predecessor, "block {level}");
        assert_eq!(header["level"], level);
        predecessor = get_json(&sandbox.addr, &format!("/chains/main/blocks/{level}/hash"));
    }
    drop(sandbox);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `context/smart_rollups/all/inbox`: octez's shared Merkleized inbox after every block
/// (`head`, `head~N`, levels and hashes), whose JSON `Inbox::from_json` reads back exactly;
/// rebuilt by the rollup node's own code from the blocks' receipts it has the same hash at
/// every level; a `kill -9` and restart serves the same inboxes and the next block extends them.
#[test]
fn the_shared_inbox_is_served_per_block_and_the_node_rebuilds_it() {
    let dir = scratch_dir("sandbox-inbox");
    init(&dir);
    let sb = run(&dir, &["--manual"]);
    let bake = |addr: &str| {
        let (status, body) = http(addr, "POST", "/sandbox/bake", Some(""));
        assert_eq!(status, 200, "{body}");
    };
    let wallet: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("wallet.json")).unwrap()).unwrap();
    let key = SecretKey::from_b58check(wallet[0]["secret_key"].as_str().unwrap()).unwrap();
    let l1 = HttpLayer1::new(&sb.url());
    let injector = Injector::new(key, Default::default());
    let send = |messages: Vec<Vec<u8>>| {
        injector
            .inject(&l1, OperationKind::SmartRollupAddMessages { messages })
            .unwrap();
    };
    bake(&sb.addr);
    bake(&sb.addr);
    send(vec![b"hello".to_vec(), vec![]]);
    bake(&sb.addr); // level 3: a reveal and two messages
    send(vec![vec![0xff; 10]]);
    bake(&sb.addr); // level 4
    bake(&sb.addr); // level 5: none
    let head = 5u32;
    let inbox_json = |addr: &str, block: &str| {
        get_json(
            addr,
            &format!("/chains/main/blocks/{block}/context/smart_rollups/all/inbox"),
        )
    };
    let mut served = Vec::new();
    for level in 0..=head {
        let v = inbox_json(&sb.addr, &level.to_string());
        let inbox = Inbox::from_json(&v).unwrap_or_else(|e| panic!("level {level}: {e}: {v}"));
        assert_eq!(inbox.to_json(), v, "level {level}: the JSON round-trips");
        assert_eq!(inbox.level, level as i32);
        assert_eq!(inbox.old_levels_messages.index, u64::from(level));
        assert_eq!(inbox.old_levels_messages.content.level, level as i32);
        if level > 0 {
            assert_eq!(
                inbox.old_levels_messages.back_pointers[0],
                served.last().map(Inbox::hash).unwrap()
            );
        }
        served.push(inbox);
    }
    assert_eq!(inbox_json(&sb.addr, "head"), served[5].to_json());
    assert_eq!(inbox_json(&sb.addr, "head~2"), served[3].to_json());
    let hash3 = get_json(&sb.addr, "/chains/main/blocks/3/hash");
    assert_eq!(
        inbox_json(&sb.addr, hash3.as_str().unwrap()),
        served[3].to_json()
    );

    // The rollup node's rebuild, from the L1's inbox at level 1 on (as from a rollup's
    // origination level), equals the sandbox's inbox at every level.
    let mut ours = served[1].clone();
    for level in 2..=head {
        let block = get_json(
            &sb.addr,
            &format!("/chains/main/blocks/{level}?metadata=always"),
        );
        let pred = get_json(
            &sb.addr,
            &format!("/chains/main/blocks/{}/header", level - 1),
        );
        let messages = block_messages(&block).unwrap();
        let full = full_inbox(
            parse_rfc3339(pred["timestamp"].as_str().unwrap()).unwrap(),
            BlockHash::from_b58check(pred["hash"].as_str().unwrap()).unwrap(),
            &messages,
        );
        ours = next_shared_inbox(&ours, level, &full).unwrap();
        assert_eq!(ours, served[level as usize], "level {level}");
    }
    // Level 3's witness commits to its listed messages, the external ones included; level 1,
    // the protocol's first after the genesis block, holds Protocol_migration after
    // Info_per_level.
    let listed = |level: u32| -> Vec<Vec<u8>> {
        get_json(
            &sb.addr,
            &format!("/chains/main/blocks/{level}/sandbox/inbox"),
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|m| hex::decode(m.as_str().unwrap()).unwrap())
        .collect()
    };
    let level3 = listed(3);
    assert!(level3.contains(&InboxMessage::External(b"hello".to_vec()).encode()));
    assert_eq!(
        LevelWitness::of_level(&level3).unwrap().hash(),
        served[3].old_levels_messages.content.hash
    );
    assert_eq!(
        InboxMessage::decode(&listed(1)[2]).unwrap(),
        InboxMessage::Internal(InternalInboxMessage::ProtocolMigration("u025_025".into()))
    );
    assert_eq!(listed(2).len(), 3, "no migration message on level 2");

    // kill -9 and restart: the same inboxes, and the next block extends them.
    sb.kill();
    let sb = run(&dir, &["--manual"]);
    for level in 0..=head {
        assert_eq!(
            inbox_json(&sb.addr, &level.to_string()),
            served[level as usize].to_json(),
            "level {level} after the restart"
        );
    }
    bake(&sb.addr);
    let next = Inbox::from_json(&inbox_json(&sb.addr, "head")).unwrap();
    assert_eq!(next.level, 6);
    assert_eq!(next.old_levels_messages.back_pointers[0], served[5].hash());
    let (status, body) = http(
        &sb.addr,
        "GET",
        "/chains/main/blocks/99/context/smart_rollups/all/inbox",
        None,
    );
    assert_eq!(status, 404, "{body}");
    drop(sb);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reveals wallet key 0 of the sandbox at `sb` in a block of its own; the key.
fn revealed_key(dir: &Path, sb: &Server) -> SecretKey {
    let wallet: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("wallet.json")).unwrap()).unwrap();
    let key = SecretKey::from_b58check(wallet[0]["secret_key"].as_str().unwrap()).unwrap();
    Injector::new(key.clone(), Default::default())
        .inject(
            &HttpLayer1::new(&sb.url()),
            OperationKind::SmartRollupAddMessages {
                messages: vec![b"reveal".to_vec()],
            },
        )
        .unwrap();
    bake(sb);
    key
}

fn bake(sb: &Server) {
    assert_eq!(http(&sb.addr, "POST", "/sandbox/bake", Some("")).0, 200);
}

/// The `/injection/operation` body of `kind` from `key` on the head, with the next counter.
fn signed(sb: &Server, key: &SecretKey, kind: OperationKind) -> String {
    use soru_core::encoding::operation::{ManagerOperation, Operation};
    let source = key.public_key().hash();
    let head = get_json(&sb.addr, "/chains/main/blocks/head/hash");
    let counter: u64 = get_json(
        &sb.addr,
        &format!(
            "/chains/main/blocks/head/context/contracts/{}/counter",
            source.to_b58check()
        ),
    )
    .as_str()
    .unwrap()
    .parse()
    .unwrap();
    let mut op = Operation {
        branch: BlockHash::from_b58check(head.as_str().unwrap()).unwrap(),
        contents: vec![ManagerOperation {
            source,
            fee: 2_000,
            counter: counter + 1,
            gas_limit: 10_000,
            storage_limit: 0,
            kind,
        }],
        signature: None,
    };
    op.signature = Some(key.sign_operation(&op.forge()));
    Value::from(hex::encode(op.encode())).to_string()
}

/// An operation is applied once: injected again while in the mempool, after its block, and
/// after a restart, it is refused as octez does (`prevalidation.operation_duplicated`).
#[test]
fn an_operation_is_applied_once_even_across_restarts() {
    let dir = scratch_dir("sandbox-duplicate");
    init(&dir);
    let sb = run(&dir, &["--manual"]);
    let key = revealed_key(&dir, &sb);
    let body = signed(
        &sb,
        &key,
        OperationKind::SmartRollupAddMessages {
            messages: vec![b"once".to_vec()],
        },
    );
    let inject = |sb: &Server| http(&sb.addr, "POST", "/injection/operation", Some(&body));
    let (status, hash) = inject(&sb);
    assert_eq!(status, 200, "{hash}");
    let duplicated = |(status, answer): (u16, String)| {
        assert_eq!(status, 500, "{answer}");
        assert!(
            answer.contains("prevalidation.operation_duplicated")
                && answer.contains(hash.trim().trim_matches('"')),
            "{answer}"
        );
    };
    duplicated(inject(&sb));
    bake(&sb);
    let included = get_json(&sb.addr, "/chains/main/blocks/head/operations/3");
    assert_eq!(included.as_array().unwrap().len(), 1, "{included}");
    duplicated(inject(&sb));
    drop(sb);
    let sb = run(&dir, &["--manual"]);
    duplicated(inject(&sb));
    bake(&sb);
    assert_eq!(
        get_json(&sb.addr, "/chains/main/blocks/head/operations/3")
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `smart_rollup_refute` decodes (binary, and back to octez's JSON in the block) and fails
/// in its block with octez's error shape: the sandbox plays no refutation games.
#[test]
fn a_refutation_is_decoded_and_fails_with_a_named_error() {
    use soru_core::commitment::CommitmentHash;
    use soru_core::encoding::address::SmartRollupAddress;
    use soru_core::encoding::refutation::Refutation;
    let dir = scratch_dir("sandbox-refute");
    init(&dir);
    let sb = run(&dir, &["--manual"]);
    let key = revealed_key(&dir, &sb);
    let opponent = key.public_key().hash();
    let body = signed(
        &sb,
        &key,
        OperationKind::SmartRollupRefute {
            rollup: SmartRollupAddress([7; 20]),
            opponent,
            refutation: Refutation::Start {
                player_commitment_hash: CommitmentHash([1; 32]),
                opponent_commitment_hash: CommitmentHash([2; 32]),
            },
        },
    );
    let (status, answer) = http(&sb.addr, "POST", "/injection/operation", Some(&body));
    assert_eq!(status, 200, "{answer}");
    bake(&sb);
    let ops = get_json(&sb.addr, "/chains/main/blocks/head/operations/3");
    let content = &ops[0]["contents"][0];
    assert_eq!(content["kind"], "smart_rollup_refute", "{content}");
    assert_eq!(
        content["refutation"]["refutation_kind"], "start",
        "{content}"
    );
    assert_eq!(
        content["refutation"]["player_commitment_hash"],
        CommitmentHash([1; 32]).to_b58check()
    );
    let result = &content["metadata"]["operation_result"];
    assert_eq!(result["status"], "failed", "{content}");
    assert!(
        result["errors"]
            .to_string()
            .contains("smart_rollup_no_game"),
        "{result}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
