//! `POST /global/block/<id>/simulate`: octez's simulation of messages. The PVM continues from a
//! copy of the state after block `<id>` with one more level holding the given messages
//! (`Start_of_level`, `Info_per_level` with the block's timestamp and hash, the messages,
//! `End_of_level`), runs the kernel until it waits for the next level, and answers octez's
//! `eval_result`: `{state_hash, status, output, inbox_level, num_ticks, insights}`. Nothing of
//! the node changes: the state is a copy and preimages are only read.
//!
//! Bounds, each with its own error: a body of at most [`MAX_BODY_BYTES`], at most
//! [`MAX_MESSAGES`] messages of at most [`MAX_INPUT_OUTPUT_SIZE`] bytes, as many reveal pages
//! of at most that size, at most [`MAX_INSIGHTS`] insight requests, and `?fuel=` (wasm fuel,
//! [`DEFAULT_FUEL`] unless given, at most [`MAX_FUEL`]): each kernel run is capped at the fuel,
//! and the simulation fails with `soru.node.simulation_out_of_fuel` once the runs together
//! used more. octez's simulation has no such bound (it uses free fuel).

use std::collections::HashMap;
use std::path::Path;

use serde_json::{json, Value};
use soru_core::abi::MAX_INPUT_OUTPUT_SIZE;
use soru_core::commitment::StateHash;
use soru_core::durable::Key;
use soru_core::encoding::inbox::BlockHash;
use soru_core::pvm::{Pvm, PvmConfig, Status, StuckReason};
use soru_core::reveal::{preimage_hash, Reveal, RevealRequest};
use soru_core::tree::Tree;

use super::follower::status_words;
use crate::preimages::PreimageDir;

/// Longest request body.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Most messages in one simulation.
pub const MAX_MESSAGES: usize = 10_000;
/// Most insight requests.
pub const MAX_INSIGHTS: usize = 1_000;
/// The wasm fuel a simulation may use when `?fuel=` is not given.
pub const DEFAULT_FUEL: u64 = 2_000_000_000;
/// The most wasm fuel `?fuel=` may give.
pub const MAX_FUEL: u64 = 50_000_000_000;

/// What to read from the state after the simulation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Insight {
    /// `{"kind": "pvm_state", "key": [steps]}`: a value of the PVM state tree.
    PvmState(Vec<String>),
    /// `{"kind": "durable_storage", "key": [steps]}`: a durable storage value.
    Durable(Vec<String>),
}

/// octez's `simulate_input`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Serialized inbox messages (an external message is `01` followed by its bytes).
    pub messages: Vec<Vec<u8>>,
    /// Pages served to the kernel's preimage reveals before the node's preimage directory.
    pub reveal_pages: Vec<Vec<u8>>,
    /// Values read from the state afterwards.
    pub insight_requests: Vec<Insight>,
    /// A file of `<data-dir>/simulation_kernel_logs/` to write the kernel's debug output to.
    pub log_kernel_debug_file: Option<String>,
}

/// Why a simulation was refused or failed: octez-style error id and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimError {
    /// `soru.node.<...>`.
    pub id: &'static str,
    /// What went wrong, naming the field.
    pub msg: String,
}

fn bad(msg: String) -> SimError {
    SimError {
        id: "soru.node.bad_request",
        msg,
    }
}

fn hex_list(v: &Value, field: &str, max_items: usize) -> Result<Vec<Vec<u8>>, SimError> {
    let items = v
        .as_array()
        .ok_or_else(|| bad(format!("`{field}` must be a list of hex strings")))?;
    if items.len() > max_items {
        return Err(bad(format!(
            "`{field}` has {} items, more than the {max_items} a simulation takes",
            items.len()
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let text = item
            .as_str()
            .ok_or_else(|| bad(format!("{field}[{i}] is not a string")))?;
        let bytes = hex::decode(text).map_err(|e| bad(format!("{field}[{i}] is not hex: {e}")))?;
        if bytes.len() > MAX_INPUT_OUTPUT_SIZE {
            return Err(bad(format!(
                "{field}[{i}] is {} bytes, more than the {MAX_INPUT_OUTPUT_SIZE} an input or page may have",
                bytes.len()
            )));
        }
        out.push(bytes);
    }
    Ok(out)
}

fn steps(v: Option<&Value>, at: &str) -> Result<Vec<String>, SimError> {
    let list = v
        .and_then(Value::as_array)
        .ok_or_else(|| bad(format!("{at}.key must be a list of strings")))?;
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            s.as_str()
                .map(str::to_string)
                .ok_or_else(|| bad(format!("{at}.key[{i}] is not a string")))
        })
        .collect()
}

impl Request {
    /// Reads octez's JSON (`messages` required; `reveal_pages`, `insight_requests`,
    /// `log_kernel_debug_file` optional; no other field).
    pub fn parse(body: &[u8]) -> Result<Request, SimError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(SimError {
                id: "soru.node.body_too_large",
                msg: format!(
                    "the body is {} bytes, more than the {MAX_BODY_BYTES} a simulation takes",
                    body.len()
                ),
            });
        }
        let v: Value =
            serde_json::from_slice(body).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| bad("the body must be a JSON object {\"messages\": [...]}".into()))?;
        if let Some(k) = obj.keys().find(|k| {
            !matches!(
                k.as_str(),
                "messages" | "reveal_pages" | "insight_requests" | "log_kernel_debug_file"
            )
        }) {
            return Err(bad(format!("unexpected field `{k}` (fields: messages, reveal_pages, insight_requests, log_kernel_debug_file)")));
        }
        let messages = hex_list(
            obj.get("messages")
                .ok_or_else(|| bad("missing field `messages`".into()))?,
            "messages",
            MAX_MESSAGES,
        )?;
        let reveal_pages = match obj.get("reveal_pages") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => hex_list(v, "reveal_pages", MAX_MESSAGES)?,
        };
        let mut insight_requests = Vec::new();
        if let Some(v) = obj.get("insight_requests") {
            let items = v
                .as_array()
                .ok_or_else(|| bad("`insight_requests` must be a list".into()))?;
            if items.len() > MAX_INSIGHTS {
                return Err(bad(format!(
                    "`insight_requests` has {} items, more than {MAX_INSIGHTS}",
                    items.len()
                )));
            }
            for (i, item) in items.iter().enumerate() {
                let at = format!("insight_requests[{i}]");
                let key = steps(item.get("key"), &at)?;
                insight_requests.push(match item.get("kind").and_then(Value::as_str) {
                    Some("pvm_state") => Insight::PvmState(key),
                    Some("durable_storage") => Insight::Durable(key),
                    other => {
                        return Err(bad(format!(
                            "{at}.kind is {}, expected \"pvm_state\" or \"durable_storage\"",
                            other.map_or_else(|| "missing".to_string(), |k| format!("`{k}`"))
                        )))
                    }
                });
            }
        }
        let log_kernel_debug_file = match obj.get("log_kernel_debug_file") {
            None | Some(Value::Null) => None,
            Some(Value::String(f)) => {
                let plain = !f.is_empty()
                    && !f.starts_with('.')
                    && f.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
                if !plain {
                    return Err(bad(format!("log_kernel_debug_file `{f}` must be a plain file name (letters, digits, '.', '_', '-', not starting with '.')")));
                }
                Some(f.clone())
            }
            Some(_) => return Err(bad("log_kernel_debug_file must be a string".into())),
        };
        Ok(Request {
            messages,
            reveal_pages,
            insight_requests,
            log_kernel_debug_file,
        })
    }
}

/// Parses `?fuel=`.
pub fn fuel(q: &HashMap<String, String>) -> Result<u64, SimError> {
    match q.get("fuel") {
        None => Ok(DEFAULT_FUEL),
        Some(f) => match f.parse::<u64>() {
            Ok(n) if (1..=MAX_FUEL).contains(&n) => Ok(n),
            _ => Err(SimError {
                id: "soru.node.invalid_query",
                msg: format!("fuel `{f}` must be a natural number from 1 to {MAX_FUEL}"),
            }),
        },
    }
}

/// The reveal pages of the request, then the node's preimage directory.
struct Pages {
    pages: HashMap<Vec<u8>, Vec<u8>>,
    dir: PreimageDir,
}

impl Reveal for Pages {
    fn reveal(&mut self, request: &RevealRequest) -> Option<Vec<u8>> {
        if let RevealRequest::Preimage(hash) = request {
            if let Some(p) = self.pages.get(hash) {
                return Some(p.clone());
            }
        }
        self.dir.reveal(request)
    }
}

/// The block a simulation starts after.
pub struct After {
    /// The state after the block.
    pub state: Tree,
    /// The rollup's PVM parameters.
    pub config: PvmConfig,
    /// The block's level (the simulated level is the next).
    pub level: u32,
    /// The block's L1 hash and timestamp (the simulated level's `Info_per_level`).
    pub hash: BlockHash,
    /// The block's timestamp.
    pub timestamp: i64,
}

/// The simulation's answer and the kernel's debug output.
pub struct Outcome {
    /// octez's `eval_result`.
    pub result: Value,
    /// The debug messages the kernel wrote.
    pub debug: Vec<Vec<u8>>,
}

fn pvm_failed(e: impl std::fmt::Display) -> SimError {
    SimError {
        id: "soru.node.simulation_failed",
        msg: e.to_string(),
    }
}

/// Runs `request` after `after` with at most `fuel` wasm fuel, preimages from `preimages`.
pub fn simulate(
    after: After,
    request: &Request,
    fuel: u64,
    preimages: &Path,
) -> Result<Outcome, SimError> {
    let config = PvmConfig {
        fuel_per_kernel_run: fuel,
        ..after.config
    };
    let mut pvm = Pvm::from_state(&after.state, config).map_err(|e| SimError {
        id: "soru.node.simulation_unavailable",
        msg: format!(
            "the state after level {} cannot be simulated from: {e}",
            after.level
        ),
    })?;
    let inbox_level = after.level + 1;
    let mut reveal = Pages {
        pages: request
            .reveal_pages
            .iter()
            .map(|p| (preimage_hash(p).to_vec(), p.clone()))
            .collect(),
        dir: PreimageDir::new(Some(preimages)),
    };
    let inputs = super::inbox::full_inbox(after.timestamp, after.hash, &request.messages);
    let ticks_before = pvm.ticks();
    for (i, m) in inputs.iter().enumerate() {
        pvm.step_input(inbox_level, i as u32, m)
            .map_err(pvm_failed)?;
    }
    loop {
        match pvm.status() {
            Status::Evaluating => {
                pvm.step_kernel_run(&mut reveal).map_err(pvm_failed)?;
            }
            Status::WaitingForReveal => {
                let what = reveal.dir.take_error().map_or_else(
                    || "a reveal the node cannot answer".to_string(),
                    |e| e.to_string(),
                );
                return Err(SimError {
                    id: "soru.node.simulation_missing_reveal",
                    msg: format!("the kernel waits for {what}; pass the page in reveal_pages"),
                });
            }
            Status::WaitingForInput | Status::Stuck => break,
        }
        if pvm.fuel() > fuel {
            return Err(SimError {
                id: "soru.node.simulation_out_of_fuel",
                msg: format!(
                    "the kernel used {} fuel, more than the simulation's {fuel} (?fuel= up to {MAX_FUEL})",
                    pvm.fuel()
                ),
            });
        }
    }
    if matches!(pvm.stuck_reason(), Some(StuckReason::TooManyTicks))
        && u128::from(fuel) < pvm.config().ticks_per_snapshot
    {
        return Err(SimError {
            id: "soru.node.simulation_out_of_fuel",
            msg: format!(
                "a kernel run used the simulation's whole {fuel} fuel (?fuel= up to {MAX_FUEL})"
            ),
        });
    }
    let state_hash = StateHash(pvm.state_hash().map_err(pvm_failed)?);
    let output: Vec<Value> = pvm
        .outbox(inbox_level)
        .map_err(pvm_failed)?
        .iter()
        .enumerate()
        .map(|(i, m)| super::rpc::output_json(inbox_level, i, m))
        .collect();
    let state = pvm.state_tree().map_err(pvm_failed)?;
    let durable = pvm.durable();
    let mut insights = Vec::with_capacity(request.insight_requests.len());
    for (i, insight) in request.insight_requests.iter().enumerate() {
        let value = match insight {
            Insight::PvmState(key) => {
                let path: Vec<&[u8]> = key.iter().map(|s| s.as_bytes()).collect();
                state
                    .value(&path)
                    .map_err(|e| bad(format!("insight_requests[{i}]: {e}")))?
                    .map(<[u8]>::to_vec)
            }
            Insight::Durable(key) => {
                let k = Key::from_path(&format!("/{}", key.join("/")))
                    .map_err(|e| bad(format!("insight_requests[{i}].key: {e}")))?;
                durable.read_all(&k).map_err(pvm_failed)?
            }
        };
        insights.push(value.map_or(Value::Null, |v| json!(hex::encode(v))));
    }
    Ok(Outcome {
        result: json!({
            "state_hash": state_hash.to_b58check(),
            "status": status_words(pvm.status()),
            "output": output,
            "inbox_level": inbox_level,
            "num_ticks": (pvm.ticks() - ticks_before).to_string(),
            "insights": insights,
        }),
        debug: pvm.debug_messages().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_read_with_precise_errors() {
        let r = Request::parse(
            br#"{"messages": ["0168656c6c6f"], "insight_requests": [{"kind": "durable_storage", "key": ["counter"]}]}"#,
        )
        .unwrap();
        assert_eq!(r.messages, vec![b"\x01hello".to_vec()]);
        assert_eq!(
            r.insight_requests,
            vec![Insight::Durable(vec!["counter".into()])]
        );
        let err = |body: &str| Request::parse(body.as_bytes()).unwrap_err().msg;
        assert!(err("[]").contains("JSON object"));
        assert!(err("{}").contains("missing field `messages`"));
        assert!(err(r#"{"messages": ["01", "zz"]}"#).contains("messages[1] is not hex"));
        assert!(err(r#"{"messages": [], "fuel": 3}"#).contains("unexpected field `fuel`"));
        assert!(
            err(r#"{"messages": [], "insight_requests": [{"kind": "x", "key": []}]}"#)
                .contains("insight_requests[0].kind is `x`")
        );
        assert!(
            err(r#"{"messages": [], "log_kernel_debug_file": "../x"}"#).contains("plain file name")
        );
        let big = format!(
            r#"{{"messages": ["{}"]}}"#,
            "00".repeat(MAX_INPUT_OUTPUT_SIZE + 1)
        );
        assert!(err(&big).contains("messages[0] is 4097 bytes"));
        let huge = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(
            Request::parse(&huge).unwrap_err().id,
            "soru.node.body_too_large"
        );
        let q = |f: &str| fuel(&HashMap::from([("fuel".to_string(), f.to_string())]));
        assert_eq!(q("10"), Ok(10));
        assert!(q("0").is_err() && q("x").is_err());
        assert!(q(&(MAX_FUEL + 1).to_string()).is_err());
        assert_eq!(fuel(&HashMap::new()), Ok(DEFAULT_FUEL));
    }
}
