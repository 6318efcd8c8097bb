//! `soru sandbox` as users run it: the real binary on a free loopback port, driven by Taquito
//! 25 from npm (`tests/js/sandbox/basics.mjs`) and by plain HTTP; restarts resume from the
//! database.

mod common;

use std::path::Path;
use std::process::Command;

use common::{get_json, http, js_dir, scratch_dir, Server};
use serde_json::Value;

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
