//! What the benchmarks against real processes share: settings from the environment, baking a
//! manual sandbox, a keep-alive HTTP load generator and a process's peak memory.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{http, Server};

/// The integer in environment variable `name`, or `default`.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Bakes one block on a `--manual` sandbox; its level.
pub fn bake(l1: &Server) -> u64 {
    let (status, body) = http(&l1.addr, "POST", "/sandbox/bake", Some(""));
    assert_eq!(status, 200, "bake: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["level"].as_u64().unwrap()
}

/// Bakes every `every` in the background until dropped.
pub struct Baker(Arc<AtomicBool>, Option<std::thread::JoinHandle<()>>);

impl Baker {
    /// Starts baking on the sandbox at `addr`.
    pub fn start(addr: &str, every: Duration) -> Baker {
        let stop = Arc::new(AtomicBool::new(false));
        let (s, addr) = (stop.clone(), addr.to_string());
        let h = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let _ = http(&addr, "POST", "/sandbox/bake", Some(""));
                std::thread::sleep(every);
            }
        });
        Baker(stop, Some(h))
    }
}

impl Drop for Baker {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        if let Some(h) = self.1.take() {
            let _ = h.join();
        }
    }
}

/// Requests/s of `GET path` from `clients` keep-alive HTTP/1.1 connections during `seconds`;
/// every answer must be a 200 whose body is read in full.
pub fn load(addr: &str, path: &str, clients: u64, seconds: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (addr, path, done) = (addr.to_string(), path.to_string(), done.clone());
            std::thread::spawn(move || {
                let s = TcpStream::connect(&addr).unwrap();
                s.set_nodelay(true).unwrap();
                let mut w = s.try_clone().unwrap();
                let mut r = BufReader::new(s);
                let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
                let mut line = String::new();
                while Instant::now() < deadline {
                    w.write_all(request.as_bytes()).unwrap();
                    let mut length = 0;
                    line.clear();
                    r.read_line(&mut line).unwrap();
                    assert!(line.contains(" 200 "), "{path}: {line}");
                    loop {
                        line.clear();
                        r.read_line(&mut line).unwrap();
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    r.read_exact(&mut body).unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let started = Instant::now();
    for t in threads {
        t.join().unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// The peak resident memory (`VmHWM`) of process `pid`, in KiB (0 if unknown).
pub fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system) process `pid` has used so far, from `/proc/<pid>/stat`; 0 where
/// that file cannot be read.
pub fn cpu_seconds(pid: u32) -> f64 {
    stat_ticks(&format!("/proc/{pid}/stat"), 14)
}

/// CPU seconds (user + system) of this process's children that have been waited for, from
/// `/proc/self/stat` (`cutime` + `cstime`): the difference around a `Command::output` is that
/// command's CPU time.
pub fn children_cpu_seconds() -> f64 {
    stat_ticks("/proc/self/stat", 16)
}

/// The sum of fields `first` and `first + 1` (numbered from 1 as in proc(5): 14 and 15 are
/// `utime` and `stime`, 16 and 17 `cutime` and `cstime`) of a `/proc/.../stat` file, clock
/// ticks at `USER_HZ` = 100, in seconds.
fn stat_ticks(path: &str, first: usize) -> f64 {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    // The command name may contain spaces: the fields start after its closing parenthesis.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    // `rest` starts with the state, field 3 of proc(5), so field n is at index n - 3.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field(first) + field(first + 1)) as f64 / 100.0
}
