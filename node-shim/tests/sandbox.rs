//! `soru sandbox` as users run it: the real binary on a free loopback port, driven by Taquito
//! 25 from npm (`tests/js/sandbox/basics.mjs`) and by plain HTTP; restarts resume from the
//! database.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

fn soru() -> Command {
    Command::new(env!("CARGO_BIN_EXE_soru"))
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("soru-sandbox-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
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

/// A running `soru sandbox run`, killed on drop.
struct Sandbox {
    child: Child,
    addr: String,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(dir: &Path, extra: &[&str]) -> Sandbox {
    let mut child = soru()
        .args(["sandbox", "run", "--data-dir", dir.to_str().unwrap()])
        .args(["--rpc-addr", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("RPC listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Sandbox { child, addr }
}

/// A minimal HTTP/1.1 client (one request per connection).
fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp[9..12].parse().unwrap();
    let body = resp.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, body.to_string())
}

fn get_json(addr: &str, path: &str) -> Value {
    let (status, body) = http(addr, "GET", path, None);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

#[test]
fn taquito_drives_the_sandbox() {
    let js = repo().join("tests/js");
    if !js.join("node_modules/@taquito/taquito").is_dir() {
        let msg = "tests/js/node_modules is missing (run scripts/setup.sh)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        println!("skipping: {msg}");
        return;
    }
    let dir = scratch_dir("taquito");
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
    let dir = scratch_dir("errors");
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
