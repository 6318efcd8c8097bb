//! What the process-level tests share: scratch directories, the repository's paths, servers
//! started as real processes (ready once they print `RPC listening on http://ADDR`), a minimal
//! HTTP client, and the Node.js scripts of `tests/js`.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub mod load;

/// A fresh scratch directory for test `name` (removed first if it exists).
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("soru-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `tests/js` when its npm packages are installed; `None` (after saying why) when they are not,
/// which fails under `CI=true`.
pub fn js_dir() -> Option<PathBuf> {
    let js = repo().join("tests/js");
    if js.join("node_modules/@taquito/taquito").is_dir() {
        return Some(js);
    }
    let msg = "tests/js/node_modules is missing (run scripts/setup.sh)";
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
    println!("skipping: {msg}");
    None
}

/// The Python of `target/pyenv` when pytezos is installed there (scripts/setup.sh); `None`
/// with a message locally, a panic under `CI=true`.
pub fn pytezos() -> Option<PathBuf> {
    let python = repo().join("target/pyenv/bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import pytezos"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    let msg = "pytezos is missing from target/pyenv (run scripts/setup.sh)";
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
    println!("skipping: {msg}");
    None
}

/// Runs `tests/py/<script> <args>` with `python` and returns its stdout's JSON lines.
pub fn py_script(python: &Path, script: &str, args: &[&str]) -> Vec<Value> {
    let out = Command::new(python)
        .arg(repo().join("tests/py").join(script))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script} {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Runs `node <script> <args>` and returns its stdout's JSON lines; panics with both streams
/// when it fails.
pub fn node_script(script: &Path, args: &[&str]) -> Vec<Value> {
    let out = Command::new("node")
        .arg(script)
        .args(args)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{} failed\nstdout:\n{stdout}\nstderr:\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A server process, killed (SIGKILL) on drop.
pub struct Server {
    /// The process.
    pub child: Child,
    /// `host:port` it serves on.
    pub addr: String,
}

impl Server {
    /// Starts `command` and waits for its `RPC listening on http://ADDR` line. Its log level is
    /// `warn`, or `SORU_TEST_LOG` (e.g. `SORU_TEST_LOG=soru_node=debug`).
    // The child is waited for by `Server`'s `Drop` (or right here when it exits early).
    #[allow(clippy::zombie_processes)]
    pub fn start(mut command: Command) -> Server {
        let mut child = command
            .env(
                "RUST_LOG",
                std::env::var("SORU_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.kill();
                let status = child.wait();
                panic!("the server exited before listening: {status:?}");
            }
            if let Some(addr) = line.trim().strip_prefix("RPC listening on http://") {
                let addr = addr.to_string();
                // Keep draining stdout so the server never blocks on a full pipe.
                std::thread::spawn(move || for _ in reader.lines() {});
                return Server { child, addr };
            }
        }
    }

    /// `http://host:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Kills the process with SIGKILL (as `kill -9` does) and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 client (one request per connection): status, headers (lower-case names)
/// and body.
pub fn http_full(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, Vec<(String, String)>, String) {
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
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, headers, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Status and body of a request.
pub fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let (status, _, body) = http_full(addr, method, path, body);
    (status, body)
}

/// GET `path`, which must answer 200 with JSON.
pub fn get_json(addr: &str, path: &str) -> Value {
    let (status, body) = http(addr, "GET", path, None);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// An HTTP proxy on a free loopback port in front of `upstream` (`host:port`): it forwards
/// every request as it is (one request per connection, streams included), except those whose
/// path contains `pattern`, whose upstream answer (status 200) it passes through `rewrite(path,
/// body)` first: a test double for an L1 that lies about one RPC. Stops with the test process.
pub struct ForgingProxy {
    /// `host:port` it serves on.
    pub addr: String,
}

impl ForgingProxy {
    /// Starts the proxy.
    pub fn start(
        upstream: &str,
        pattern: &'static str,
        rewrite: impl Fn(&str, &str) -> String + Send + Sync + 'static,
    ) -> ForgingProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let upstream = upstream.to_string();
        let rewrite = std::sync::Arc::new(rewrite);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let upstream = upstream.clone();
                let rewrite = rewrite.clone();
                std::thread::spawn(move || {
                    let _ = proxy_one(client, &upstream, pattern, &*rewrite);
                });
            }
        });
        ForgingProxy { addr }
    }

    /// `http://host:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Serves one request of `client` (see [`ForgingProxy`]).
fn proxy_one(
    client: TcpStream,
    upstream: &str,
    pattern: &str,
    rewrite: &(dyn Fn(&str, &str) -> String + Send + Sync),
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if !lower.starts_with("connection:") {
            headers.push(line);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut client = client;
    if path.contains(pattern) {
        let body = String::from_utf8_lossy(&body).into_owned();
        let (status, answer) = http(upstream, method, path, Some(&body));
        let answer = if status == 200 {
            rewrite(path, &answer)
        } else {
            answer
        };
        write!(
            client,
            "HTTP/1.1 {status} Forged\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
            answer.len()
        )?;
        return client.flush();
    }
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(request_line.as_bytes())?;
    for h in &headers {
        up.write_all(h.as_bytes())?;
    }
    up.write_all(b"Connection: close\r\n\r\n")?;
    up.write_all(&body)?;
    std::io::copy(&mut up, &mut client)?;
    Ok(())
}
