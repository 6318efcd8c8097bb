//! The octez RPC subset, over axum: a thin layer that parses paths and bodies and calls the
//! [`Node`]. Errors are octez error arrays (HTTP 500 for protocol errors, 400 for bodies that
//! do not parse, 404 for unknown paths and objects).

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value as J};
use soru_core::encoding::address::{Contract as ContractAddr, PublicKeyHash};
use soru_core::encoding::operation::Operation;
use tokio::sync::broadcast;

use super::michelson::Contract;
use super::node::Node;
use super::protocol::{chain_id_b58, Mode, PROTOCOL_HASH};

/// What the handlers share.
#[derive(Clone)]
pub struct Shared {
    /// The node.
    pub node: Arc<Mutex<Node>>,
    /// New heads, for `/monitor/heads`.
    pub heads: broadcast::Sender<J>,
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The router. Every answer allows any origin (as octez-node's `--cors-origin '*'`), so web
/// pages such as soru-web's Verify withdrawal can read commitments from the L1.
pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/monitor/heads/{chain}", get(monitor_heads))
        .fallback(dispatch)
        .layer(axum::middleware::map_response(allow_any_origin))
        .with_state(shared)
}

async fn allow_any_origin(mut r: Response) -> Response {
    r.headers_mut().insert(
        axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
        axum::http::HeaderValue::from_static("*"),
    );
    r
}

/// Sends the head's header to `/monitor/heads` and answers with it (after a bake or a
/// reorganisation).
fn announce_head(s: &Shared, node: &Node) -> Response {
    let h = node.header_json(node.head());
    let _ = s.heads.send(h.clone());
    ok(h)
}

fn ok(v: J) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

fn octez_errors(status: StatusCode, errors: Vec<J>) -> Response {
    (status, axum::Json(J::Array(errors))).into_response()
}

fn bad_request(message: String) -> Response {
    octez_errors(
        StatusCode::BAD_REQUEST,
        vec![json!({"kind": "permanent", "id": "rpc.bad_request", "message": message})],
    )
}

fn not_found(what: String) -> Response {
    (StatusCode::NOT_FOUND, what).into_response()
}

async fn monitor_heads(State(s): State<Shared>, Path(_chain): Path<String>) -> Response {
    let first = {
        let node = lock(&s.node);
        node.header_json(node.head())
    };
    let rx = s.heads.subscribe();
    let stream = futures_util::stream::unfold((Some(first), rx), |(first, mut rx)| async move {
        let next = match first {
            Some(f) => f,
            None => loop {
                match rx.recv().await {
                    Ok(h) => break h,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            },
        };
        let chunk = Bytes::from(format!("{next}\n"));
        Some((Ok::<_, std::convert::Infallible>(chunk), (None, rx)))
    });
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn lock(m: &Mutex<Node>) -> std::sync::MutexGuard<'_, Node> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn dispatch(State(s): State<Shared>, method: Method, uri: Uri, body: Bytes) -> Response {
    let path = uri.path().trim_end_matches('/').to_string();
    let segs: Vec<&str> = path.split('/').filter(|x| !x.is_empty()).collect();
    let body_json = || -> Result<J, Box<Response>> {
        serde_json::from_slice(&body)
            .map_err(|e| Box::new(bad_request(format!("the body is not JSON: {e}"))))
    };
    match (method.clone(), segs.as_slice()) {
        (Method::GET, ["version"]) => ok(json!({
            "version": {"major": 25, "minor": 0, "additional_info": "release"},
            "network_version": {"chain_name": "TEZOS_SORU_SANDBOXED", "distributed_db_version": 2, "p2p_version": 1},
            "commit_info": {"commit_hash": "soru-sandbox", "commit_date": "2026-01-01 00:00:00 +0000"}})),
        (Method::GET, ["chains", _, "chain_id"]) => {
            let node = lock(&s.node);
            ok(J::from(chain_id_b58(&node.chain_id)))
        }
        (Method::GET, ["chains", _, "mempool", "filter"]) => ok(json!({
            "minimal_fees": "100", "minimal_nanotez_per_gas_unit": ["100", "1"],
            "minimal_nanotez_per_byte": ["1000", "1"]})),
        (Method::GET, ["chains", _, "mempool", "pending_operations"]) => {
            let node = lock(&s.node);
            let ops: Vec<J> = node
                .mempool
                .iter()
                .map(|p| {
                    json!({"hash": p.hash.to_b58check(), "branch": p.op.branch.to_b58check(),
                    "contents": p.op.contents.iter().map(|c| c.to_json()).collect::<Vec<_>>()})
                })
                .collect();
            ok(
                json!({"validated": ops, "refused": [], "outdated": [], "branch_refused": [],
                      "branch_delayed": [], "unprocessed": []}),
            )
        }
        (Method::POST, ["injection", "operation"]) => {
            let hex_text = match body_json() {
                Ok(J::String(h)) => h,
                Ok(_) => return bad_request("the body must be a JSON string of hex".into()),
                Err(r) => return *r,
            };
            let bytes = match hex::decode(hex_text.trim()) {
                Ok(b) => b,
                Err(e) => return bad_request(format!("the operation is not hex: {e}")),
            };
            let mut node = lock(&s.node);
            match node.inject(bytes, now()) {
                Ok(h) => {
                    tracing::info!(operation = %h.to_b58check(), "injected");
                    ok(J::from(h.to_b58check()))
                }
                Err(e) => octez_errors(StatusCode::INTERNAL_SERVER_ERROR, e),
            }
        }
        (Method::POST, ["sandbox", "bake"]) => {
            let mut node = lock(&s.node);
            match node.bake(now()) {
                Ok(_) => announce_head(&s, &node),
                Err(e) => octez_errors(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    vec![
                        json!({"kind": "temporary", "id": "sandbox.bake", "message": e.to_string()}),
                    ],
                ),
            }
        }
        (Method::POST, ["sandbox", "reorganise"]) => {
            // {"level": N}: the blocks above N are taken back; the next block is baked at N + 1.
            let level = match body_json() {
                Ok(v) => match v.get("level").and_then(J::as_u64).map(u32::try_from) {
                    Some(Ok(l)) => l,
                    _ => return bad_request("the body must be {\"level\": <block level>}".into()),
                },
                Err(r) => return *r,
            };
            let mut node = lock(&s.node);
            match node.reorganise(level) {
                Ok(()) => announce_head(&s, &node),
                Err(e) => bad_request(e.to_string()),
            }
        }
        (_, ["chains", _, "blocks", block, rest @ ..]) => {
            let node = lock(&s.node);
            let Some(b) = node.block(block) else {
                return not_found(format!("no block {block}"));
            };
            block_rpc(&node, b, method, rest, &body)
        }
        (Method::GET, ["chains", _, "blocks"]) => {
            let node = lock(&s.node);
            ok(json!([[node.head().hash]]))
        }
        _ => not_found(format!("no RPC {method} {path}")),
    }
}

fn block_rpc(
    node: &Node,
    b: &super::protocol::Block,
    method: Method,
    rest: &[&str],
    body: &Bytes,
) -> Response {
    let ops = || b.operations.clone();
    match (method, rest) {
        (Method::GET, []) => ok(node.block_json(b)),
        (Method::GET, ["hash"]) => ok(J::from(b.hash.clone())),
        (Method::GET, ["header"]) => ok(node.header_json(b)),
        (Method::GET, ["header", "shell"]) => {
            let mut h = node.header_json(b);
            if let Some(o) = h.as_object_mut() {
                for k in [
                    "protocol",
                    "chain_id",
                    "hash",
                    "payload_hash",
                    "payload_round",
                    "proof_of_work_nonce",
                    "liquidity_baking_toggle_vote",
                    "adaptive_issuance_vote",
                    "signature",
                ] {
                    o.remove(k);
                }
            }
            ok(h)
        }
        (Method::GET, ["protocols"]) => {
            ok(json!({"protocol": PROTOCOL_HASH, "next_protocol": PROTOCOL_HASH}))
        }
        (Method::GET, ["sandbox", "inbox"]) => ok(json!(b.inbox)),
        (Method::GET, ["metadata"]) => ok(node.block_json(b)["metadata"].clone()),
        (Method::GET, ["operation_hashes"]) => {
            let hs: Vec<J> = b.operations.iter().map(|o| o["hash"].clone()).collect();
            ok(json!([[], [], [], hs]))
        }
        (Method::GET, ["operations"]) => ok(json!([[], [], [], ops()])),
        (Method::GET, ["operations", pass]) => match *pass {
            "3" => ok(J::Array(ops())),
            "0" | "1" | "2" => ok(json!([])),
            _ => not_found(format!("no validation pass {pass}")),
        },
        (Method::GET, ["operations", "3", j]) => {
            match j.parse::<usize>().ok().and_then(|j| b.operations.get(j)) {
                Some(o) => ok(o.clone()),
                None => not_found(format!("no operation {j}")),
            }
        }
        (Method::GET, ["context", "constants"]) => ok(node.ledger.constants.to_json()),
        (Method::GET, ["context", "contracts", id, field @ ..]) => contract_rpc(node, id, field),
        (Method::GET, ["context", "big_maps", id, key_hash]) => {
            let Some(m) = node.ledger.big_maps.get(*id) else {
                return not_found(format!("no big map {id}"));
            };
            let raw = soru_core::encoding::base58::decode(
                &soru_core::encoding::base58::SCRIPT_EXPR_HASH,
                key_hash,
            );
            match raw.ok().and_then(|r| m.entries.get(&hex::encode(r))) {
                Some((_, v)) => ok(v.clone()),
                None => not_found(format!("no key {key_hash} in big map {id}")),
            }
        }
        (Method::GET, ["context", "smart_rollups", "all", "inbox"]) => match node.inbox_after(b) {
            Some(inbox) => ok(inbox.to_json()),
            None => not_found(format!("no inbox after block {}", b.level)),
        },
        (Method::GET, ["context", "smart_rollups", "all"]) => ok(J::Array(
            node.ledger
                .rollups
                .keys()
                .map(|k| J::from(k.clone()))
                .collect(),
        )),
        (Method::GET, ["context", "smart_rollups", "smart_rollup", sr1, field @ ..]) => {
            rollup_rpc(node, sr1, field)
        }
        (Method::POST, ["helpers", "scripts", kind @ ("simulate_operation" | "run_operation")]) => {
            let v: J = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => return bad_request(format!("the body is not JSON: {e}")),
            };
            let op = match Operation::from_json(&v["operation"]) {
                Ok(op) => op,
                Err(e) => return bad_request(format!("{kind}: operation: {e}")),
            };
            match node.simulate(&op, Mode::Simulate, super::rpc::now()) {
                Ok(contents) => ok(json!({"contents": contents})),
                Err(e) => octez_errors(StatusCode::INTERNAL_SERVER_ERROR, e),
            }
        }
        (Method::POST, ["helpers", "preapply", "operations"]) => {
            let v: J = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => return bad_request(format!("the body is not JSON: {e}")),
            };
            let Some(items) = v.as_array() else {
                return bad_request("preapply: expected an array of operations".into());
            };
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let op = match Operation::from_json(item) {
                    Ok(op) => op,
                    Err(e) => return bad_request(format!("preapply: operation {i}: {e}")),
                };
                match node.simulate(&op, Mode::Apply, super::rpc::now()) {
                    Ok(contents) => out.push(json!({"contents": contents,
                        "signature": item.get("signature").cloned().unwrap_or(J::Null)})),
                    Err(e) => return octez_errors(StatusCode::INTERNAL_SERVER_ERROR, e),
                }
            }
            ok(J::Array(out))
        }
        (Method::POST, ["helpers", "forge", "operations"]) => {
            let v: J = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => return bad_request(format!("the body is not JSON: {e}")),
            };
            match Operation::from_json(&v) {
                Ok(op) => ok(J::from(hex::encode(op.forge()))),
                Err(e) => bad_request(format!("forge: {e}")),
            }
        }
        (m, r) => not_found(format!("no RPC {m} …/blocks/{}/{}", b.level, r.join("/"))),
    }
}

fn contract_rpc(node: &Node, id: &str, field: &[&str]) -> Response {
    let l = &node.ledger;
    if ContractAddr::from_b58check(id).is_err() {
        return bad_request(format!("{id:?} is not a tz… or KT1… address"));
    }
    if let Some(a) = l.accounts.get(id) {
        return match field {
            [] => ok(json!({"balance": a.balance.to_string(), "counter": a.counter.to_string()})),
            ["balance"] | ["spendable"] | ["full_balance"] => ok(J::from(a.balance.to_string())),
            ["counter"] => ok(J::from(a.counter.to_string())),
            ["manager_key"] => ok(a.public_key.clone().map(J::from).unwrap_or(J::Null)),
            ["delegate"] => not_found(format!("{id} has no delegate")),
            ["tickets"] | ["all_ticket_balances"] => ok(J::Array(l.tickets_of(id))),
            _ => not_found(format!("no contract field {}", field.join("/"))),
        };
    }
    if let Some(c) = l.contracts.get(id) {
        let script = || json!({"code": c.code, "storage": c.storage});
        return match field {
            [] => ok(json!({"balance": c.balance.to_string(), "script": script()})),
            ["balance"] | ["spendable"] | ["full_balance"] => ok(J::from(c.balance.to_string())),
            ["script"] | ["script", "normalized"] => ok(script()),
            ["storage"] | ["storage", "normalized"] => ok(c.storage.clone()),
            ["entrypoints"] => match Contract::from_json(&c.code) {
                Ok(k) => ok(k.entrypoints_json()),
                Err(e) => bad_request(e.to_string()),
            },
            ["entrypoints", name] => match Contract::from_json(&c.code) {
                Ok(k) => match k.entrypoints_json()["entrypoints"].get(*name) {
                    Some(t) => ok(t.clone()),
                    None if *name == "default" => {
                        match c
                            .code
                            .as_array()
                            .and_then(|a| a.iter().find(|f| f["prim"] == "parameter"))
                        {
                            Some(p) => ok(p["args"][0].clone()),
                            None => not_found("no parameter".into()),
                        }
                    }
                    None => not_found(format!("no entrypoint {name}")),
                },
                Err(e) => bad_request(e.to_string()),
            },
            ["counter"] | ["manager_key"] => not_found(format!("{id} is an originated contract")),
            ["tickets"] | ["all_ticket_balances"] => ok(J::Array(l.tickets_of(id))),
            _ => not_found(format!("no contract field {}", field.join("/"))),
        };
    }
    if PublicKeyHash::from_b58check(id).is_ok() {
        // An implicit account that was never funded: octez answers balance 0.
        return match field {
            [] => ok(json!({"balance": "0", "counter": "0"})),
            ["balance"] | ["spendable"] | ["full_balance"] => ok(J::from("0")),
            ["counter"] => ok(J::from("0")),
            ["manager_key"] => ok(J::Null),
            _ => not_found(format!("no contract field {}", field.join("/"))),
        };
    }
    not_found(format!("no contract {id}"))
}

fn rollup_rpc(node: &Node, sr1: &str, field: &[&str]) -> Response {
    let Some(r) = node.ledger.rollups.get(sr1) else {
        return octez_errors(
            StatusCode::NOT_FOUND,
            vec![
                json!({"kind": "permanent", "id": "proto.025-PsUshuai.smart_rollup_does_not_exist", "rollup": sr1}),
            ],
        );
    };
    match field {
        ["kind"] => ok(J::from(r.kind.clone())),
        ["genesis_info"] => {
            ok(json!({"level": r.origination_level, "commitment_hash": r.genesis_commitment_hash}))
        }
        ["last_cemented_commitment_hash_with_level"] => {
            ok(json!({"hash": r.lcc, "level": r.lcc_level}))
        }
        ["staker", pkh, "staked_on_commitment"] => match r.stakers.get(*pkh) {
            Some(h) => {
                let mut c = r.commitment(h).unwrap_or(J::Null);
                if let Some(o) = c.as_object_mut() {
                    o.insert("hash".into(), J::from(h.clone()));
                }
                ok(c)
            }
            None => ok(J::Null),
        },
        ["commitment", hash] => match r.commitment(hash) {
            Some(c) => ok(c),
            None => not_found(format!("no commitment {hash} of {sr1}")),
        },
        ["consumed_outputs", level] => match level.parse::<u32>() {
            Ok(l) => ok(json!(r
                .consumed_outputs
                .get(&l)
                .cloned()
                .unwrap_or_default())),
            Err(_) => bad_request(format!("{level:?} is not a level")),
        },
        ["whitelist"] => ok(r.whitelist.clone().map(J::from).unwrap_or(J::Null)),
        ["stakers"] => ok(json!(r.stakers.keys().collect::<Vec<_>>())),
        ["ticket_balance"] | ["tickets"] => ok(J::Array(node.ledger.tickets_of(sr1))),
        _ => not_found(format!("no smart rollup field {}", field.join("/"))),
    }
}

/// Parses `--rpc-addr` text and binds; returns the listener and the bound address.
pub async fn bind(addr: &str) -> Result<(tokio::net::TcpListener, std::net::SocketAddr), String> {
    let l = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let a = l
        .local_addr()
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    Ok((l, a))
}
