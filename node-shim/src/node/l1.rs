//! The L1 the node follows, behind a trait: an octez node or `soru sandbox`, spoken to in
//! octez's JSON RPC (`Accept: application/json`).
//!
//! [`HttpLayer1`] is the one implementation: blocking HTTP (the follower is its own thread),
//! with heads from the `/monitor/heads/main` stream and a header poll as fallback when the stream
//! breaks, so a restarted L1 is picked up again.

use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use soru_core::inbox::Inbox;

/// Where, under a block, octez serves the shared Merkleized inbox.
pub const SHARED_INBOX_PATH: &str = "context/smart_rollups/all/inbox";

/// Why an L1 request failed; names the URL.
#[derive(Debug, thiserror::Error)]
pub enum L1Error {
    /// The L1 could not be reached or answered with an HTTP error.
    #[error("L1 request {url}: {message}")]
    Http {
        /// The URL requested.
        url: String,
        /// What went wrong (including the body of an error answer).
        message: String,
    },
    /// The answer is not what octez's RPC returns.
    #[error("L1 answer of {url}: {message}")]
    Shape {
        /// The URL requested.
        url: String,
        /// What is missing or malformed.
        message: String,
    },
}

/// A block header as `/chains/main/blocks/<b>/header` gives it (the fields the node uses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The block hash (`B...`).
    pub hash: String,
    /// The block level.
    pub level: u32,
    /// The predecessor's hash.
    pub predecessor: String,
    /// The timestamp, seconds since the epoch.
    pub timestamp: i64,
}

impl Header {
    /// Reads a header from its JSON (`url` names the source in errors).
    pub fn from_json(v: &Value, url: &str) -> Result<Header, L1Error> {
        let shape = |message: String| L1Error::Shape {
            url: url.to_string(),
            message,
        };
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| shape(format!("header without string `{k}`")))
        };
        let level = v
            .get("level")
            .and_then(Value::as_u64)
            .and_then(|l| u32::try_from(l).ok())
            .ok_or_else(|| shape("header without `level`".into()))?;
        let ts = s("timestamp")?;
        let timestamp = parse_rfc3339(&ts)
            .ok_or_else(|| shape(format!("header timestamp `{ts}` is not RFC 3339")))?;
        Ok(Header {
            hash: s("hash")?,
            level,
            predecessor: s("predecessor")?,
            timestamp,
        })
    }
}

/// Fetches blocks and inboxes from a thread of its own: the follower reads ahead of the PVM
/// while it catches up ([`Layer1::fetcher`]).
pub trait BlockFetch: Send {
    /// [`Layer1::block`].
    fn block(&self, level: u32) -> Result<Value, L1Error>;
    /// [`Layer1::inbox`].
    fn inbox(&self, level: u32) -> Result<Option<Vec<Vec<u8>>>, L1Error>;
}

/// What the node asks of its L1.
pub trait Layer1: Send {
    /// The current head's header.
    fn head(&self) -> Result<Header, L1Error>;
    /// The full block at `level` with its operations and receipts (`?metadata=always`).
    fn block(&self, level: u32) -> Result<Value, L1Error>;
    /// Any RPC under `/chains/main/blocks/<block>/` (e.g. `context/constants`).
    fn block_rpc(&self, block: &str, path: &str) -> Result<Value, L1Error>;
    /// POSTs `body` to `path` (e.g. `/injection/operation`) and returns the JSON answer; an
    /// error answer's body is in the error.
    fn post(&self, path: &str, body: &Value) -> Result<Value, L1Error>;
    /// The whole inbox of `level` as the L1 computed it (serialized messages, `Start_of_level`
    /// to `End_of_level`), when the L1 publishes it: `soru sandbox` does at
    /// `/chains/main/blocks/<level>/sandbox/inbox`; octez does not (`None`).
    fn inbox(&self, level: u32) -> Result<Option<Vec<Vec<u8>>>, L1Error>;
    /// Waits until a head newer than `level` may exist (a head arrived or `timeout` passed).
    fn wait_for_head(&self, level: u32, timeout: Duration);
    /// Another client of the same L1 for [`BlockFetch`]'s requests, to be used from another
    /// thread; `None` if this L1 has none (the follower then fetches each block as it goes).
    fn fetcher(&self) -> Option<Box<dyn BlockFetch>> {
        None
    }
    /// The shared Merkleized inbox after `block` (a level, a hash or `head`): octez's
    /// `context/smart_rollups/all/inbox`. An answer [`Inbox::from_json`] refuses is an
    /// [`L1Error::Shape`] naming the field.
    fn shared_inbox(&self, block: &str) -> Result<Inbox, L1Error> {
        let v = self.block_rpc(block, SHARED_INBOX_PATH)?;
        Inbox::from_json(&v).map_err(|e| L1Error::Shape {
            url: format!("/chains/main/blocks/{block}/{SHARED_INBOX_PATH}"),
            message: e.to_string(),
        })
    }
}

/// An octez-RPC L1 over HTTP.
pub struct HttpLayer1 {
    client: Client,
    heads: mpsc::Receiver<u32>,
}

/// The HTTP client of [`HttpLayer1`]; a clone shares its connection pool.
#[derive(Clone)]
struct Client {
    base: String,
    agent: ureq::Agent,
}

impl HttpLayer1 {
    /// A client of the L1 at `endpoint` (e.g. `http://127.0.0.1:18731`); starts a thread that
    /// listens to `/monitor/heads/main`.
    pub fn new(endpoint: &str) -> HttpLayer1 {
        let base = endpoint.trim_end_matches('/').to_string();
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout_read(Duration::from_secs(60))
            .build();
        let (tx, heads) = mpsc::channel();
        let stream_base = base.clone();
        std::thread::Builder::new()
            .name("l1-heads".into())
            .spawn(move || monitor_heads(&stream_base, &tx))
            .expect("spawning a thread");
        HttpLayer1 {
            client: Client { base, agent },
            heads,
        }
    }
}

impl Client {
    fn get(&self, path: &str) -> Result<Value, L1Error> {
        self.get_opt(path)?.ok_or_else(|| L1Error::Http {
            url: format!("{}{}", self.base, path),
            message: "HTTP 404".into(),
        })
    }

    /// GET `path`; `None` on HTTP 404.
    fn get_opt(&self, path: &str) -> Result<Option<Value>, L1Error> {
        let url = format!("{}{}", self.base, path);
        let resp = self
            .agent
            .get(&url)
            .set("Accept", "application/json")
            .call();
        if let Err(ureq::Error::Status(404, _)) = resp {
            return Ok(None);
        }
        json_answer(&url, resp).map(Some)
    }

    fn block(&self, level: u32) -> Result<Value, L1Error> {
        self.get(&format!("/chains/main/blocks/{level}?metadata=always"))
    }

    fn inbox(&self, level: u32) -> Result<Option<Vec<Vec<u8>>>, L1Error> {
        let path = format!("/chains/main/blocks/{level}/sandbox/inbox");
        let Some(v) = self.get_opt(&path)? else {
            return Ok(None);
        };
        let shape = || L1Error::Shape {
            url: format!("{}{path}", self.base),
            message: "expected an array of hex strings".into(),
        };
        v.as_array()
            .ok_or_else(shape)?
            .iter()
            .map(|m| {
                m.as_str()
                    .and_then(|h| hex::decode(h).ok())
                    .ok_or_else(shape)
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

impl BlockFetch for Client {
    fn block(&self, level: u32) -> Result<Value, L1Error> {
        Client::block(self, level)
    }

    fn inbox(&self, level: u32) -> Result<Option<Vec<Vec<u8>>>, L1Error> {
        Client::inbox(self, level)
    }
}

/// The JSON of an answer to `url`; an HTTP error carries its status and body.
fn json_answer(url: &str, resp: Result<ureq::Response, ureq::Error>) -> Result<Value, L1Error> {
    let http = |message: String| L1Error::Http {
        url: url.to_string(),
        message,
    };
    let resp = resp.map_err(|e| match e {
        ureq::Error::Status(code, r) => {
            let body = r.into_string().unwrap_or_default();
            http(format!("HTTP {code}: {}", body.trim()))
        }
        other => http(other.to_string()),
    })?;
    let text = resp.into_string().map_err(|e| http(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| L1Error::Shape {
        url: url.to_string(),
        message: format!("not JSON: {e}"),
    })
}

impl Layer1 for HttpLayer1 {
    fn head(&self) -> Result<Header, L1Error> {
        let path = "/chains/main/blocks/head/header";
        let v = self.client.get(path)?;
        Header::from_json(&v, path)
    }

    fn block(&self, level: u32) -> Result<Value, L1Error> {
        self.client.block(level)
    }

    fn block_rpc(&self, block: &str, path: &str) -> Result<Value, L1Error> {
        self.client.get(&format!(
            "/chains/main/blocks/{block}/{}",
            path.trim_start_matches('/')
        ))
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value, L1Error> {
        let url = format!("{}{}", self.client.base, path);
        let resp = self
            .client
            .agent
            .post(&url)
            .set("Accept", "application/json")
            .set("Content-Type", "application/json")
            .send_string(&body.to_string());
        json_answer(&url, resp)
    }

    fn inbox(&self, level: u32) -> Result<Option<Vec<Vec<u8>>>, L1Error> {
        self.client.inbox(level)
    }

    fn fetcher(&self) -> Option<Box<dyn BlockFetch>> {
        Some(Box::new(self.client.clone()))
    }

    fn wait_for_head(&self, level: u32, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.heads.recv_timeout(left) {
                Ok(l) if l > level => return,
                Ok(_) => continue,
                Err(_) => return,
            }
        }
    }
}

/// Reads `/monitor/heads/main` (one JSON header per chunk) and sends each head's level;
/// reconnects after a second when the stream ends or fails.
fn monitor_heads(base: &str, tx: &mpsc::Sender<u32>) {
    let url = format!("{base}/monitor/heads/main");
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        .build();
    loop {
        if let Ok(resp) = agent.get(&url).set("Accept", "application/json").call() {
            let reader = std::io::BufReader::new(resp.into_reader());
            let stream = serde_json::Deserializer::from_reader(reader).into_iter::<Value>();
            for v in stream {
                let Ok(v) = v else { break };
                if let Some(level) = v.get("level").and_then(Value::as_u64) {
                    if tx.send(level as u32).is_err() {
                        return;
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Parses an RFC 3339 UTC timestamp (`2026-12-01T23:00:00Z`, octez's form) to seconds since the
/// epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z').or_else(|| s.strip_suffix("+00:00"))?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-');
    let (y, m, day): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let mut t = time.split(':');
    let (hh, mm, ss): (i64, i64, i64) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.split('.').next()?.parse().ok()?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-12-01T23:00:00Z"), Some(1_796_166_000));
        assert_eq!(parse_rfc3339("2000-03-01T00:00:01Z"), Some(951_868_801));
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
