//! The node's RPC server: octez smart-rollup-node paths and JSON shapes (axum).
//!
//! Answers about cemented data (a block at or below the last cemented commitment's level, the
//! `cemented` block, outbox proofs) never change, so they carry
//! `Cache-Control: public, max-age=31536000, immutable` and an `ETag`: an HTTP cache or CDN in
//! front of the node can serve the many browser verifiers. Everything else is `no-cache`. CORS is
//! open (`Access-Control-Allow-Origin: *`) so web pages can call the node.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use soru_core::commitment::{Commitment, StateHash};
use soru_core::durable::{Durable, Key};
use soru_core::encoding::inbox::BlockHash;
use soru_core::encoding::outbox::OutboxMessage;
use soru_core::output_proof::{produce_output_proof, Layout};
use soru_core::state::DURABLE_PATH;
use soru_core::tree::Tree;

use super::batcher::{self, Batcher};
use super::config::{HistoryMode, NodeConfig};
use super::follower::Shared;
use super::outbox;
use super::simulate;
use super::store::{LevelRecord, Store};

/// What every handler reads.
pub struct Ctx {
    /// The node's configuration.
    pub config: NodeConfig,
    /// The data directory (preimages under `wasm_2_0_0`, `simulation_kernel_logs`).
    pub data_dir: PathBuf,
    /// The store.
    pub store: Arc<Store>,
    /// What the follower publishes.
    pub shared: Arc<RwLock<Shared>>,
    /// The batcher's queue, when the node has the batching purpose.
    pub batcher: Option<Arc<Mutex<Batcher>>>,
    /// Set when the node stops: streams (`/global/monitor_blocks`) end.
    pub stop: Arc<AtomicBool>,
    /// One simulation runs at a time; the others wait.
    simulations: tokio::sync::Semaphore,
    /// The states last loaded from the store (the levels not held in memory).
    cache: Mutex<StateCache>,
}

impl Ctx {
    /// The context of a node's RPC server.
    pub fn new(
        config: NodeConfig,
        data_dir: PathBuf,
        store: Arc<Store>,
        shared: Arc<RwLock<Shared>>,
        batcher: Option<Arc<Mutex<Batcher>>>,
        stop: Arc<AtomicBool>,
    ) -> Ctx {
        Ctx {
            config,
            data_dir,
            store,
            shared,
            batcher,
            stop,
            simulations: tokio::sync::Semaphore::new(1),
            cache: Mutex::new(StateCache::new(STATE_CACHE_SIZE)),
        }
    }
}

/// How many states loaded from the store [`Ctx`] keeps (each shares most of its nodes with
/// the others, so a few cost little more than one).
pub const STATE_CACHE_SIZE: usize = 4;

/// The last few state trees loaded from the store, by level and state hash (a reorganised
/// level has another hash, so it is never served from the cache), least recently used first
/// out.
pub struct StateCache {
    capacity: usize,
    entries: std::collections::VecDeque<(u32, String, Tree)>,
    /// How many lookups missed (each one a load from the store).
    pub misses: u64,
}

impl StateCache {
    /// An empty cache of `capacity` states.
    pub fn new(capacity: usize) -> StateCache {
        StateCache {
            capacity,
            entries: std::collections::VecDeque::with_capacity(capacity),
            misses: 0,
        }
    }

    /// The state of `level` with hash `state_hash`, if cached (it becomes the most recent).
    pub fn get(&mut self, level: u32, state_hash: &str) -> Option<Tree> {
        let Some(i) = self
            .entries
            .iter()
            .position(|(l, h, _)| *l == level && h == state_hash)
        else {
            self.misses += 1;
            return None;
        };
        let entry = self.entries.remove(i)?;
        let tree = entry.2.clone();
        self.entries.push_back(entry);
        Some(tree)
    }

    /// Adds a loaded state, dropping the least recently used one when full.
    pub fn put(&mut self, level: u32, state_hash: &str, tree: Tree) {
        self.entries.retain(|(l, _, _)| *l != level);
        if self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        if self.capacity > 0 {
            self.entries
                .push_back((level, state_hash.to_string(), tree));
        }
    }
}

type Ctxt = State<Arc<Ctx>>;

/// An answer: JSON, and whether it is about cemented data (cacheable forever).
struct Reply {
    body: Value,
    immutable: bool,
}

impl Reply {
    fn live(body: Value) -> Reply {
        Reply {
            body,
            immutable: false,
        }
    }
}

/// An error in octez's shape: an array of `{kind, id, ...}`.
struct RpcError {
    status: StatusCode,
    body: Value,
}

fn error(status: StatusCode, id: &str, fields: Value) -> RpcError {
    let mut e =
        json!({"kind": if status.is_server_error() { "temporary" } else { "permanent" }, "id": id});
    if let (Some(e), Some(f)) = (e.as_object_mut(), fields.as_object()) {
        e.extend(f.clone());
    }
    RpcError {
        status,
        body: json!([e]),
    }
}

fn internal(e: impl std::fmt::Display) -> RpcError {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "soru.node.internal",
        json!({"msg": e.to_string()}),
    )
}

impl IntoResponse for RpcError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body.to_string(),
        )
            .into_response()
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let text = self.body.to_string();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.immutable {
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            let tag = {
                use blake2::Digest;
                hex::encode(&blake2::Blake2b512::digest(text.as_bytes())[..16])
            };
            if let Ok(v) = HeaderValue::from_str(&format!("\"{tag}\"")) {
                headers.insert(header::ETAG, v);
            }
        } else {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
        (StatusCode::OK, headers, text).into_response()
    }
}

type Answer = Result<Reply, RpcError>;

/// One route, as `/openapi` describes it.
pub struct RouteDoc {
    /// `get` or `post`.
    pub method: &'static str,
    /// The path, with `{parameters}`.
    pub path: &'static str,
    /// What it answers.
    pub summary: &'static str,
}

/// Declares every route once: the router is built from this list and `/openapi` describes it.
macro_rules! routes {
    ($($method:ident $path:literal => $handler:ident: $summary:literal;)*) => {
        /// Every route of the node, in the order the router adds them.
        pub const ROUTES: &[RouteDoc] = &[$(RouteDoc {
            method: stringify!($method),
            path: $path,
            summary: $summary,
        }),*];

        fn add_routes(r: Router<Arc<Ctx>>) -> Router<Arc<Ctx>> {
            r$(.route($path, $method($handler)))*
        }
    };
}

routes! {
    get "/health" => health: "Whether the node follows its L1 and rollup, with its last error and, when its rebuilt inbox differs from the L1's at a commitment level (so it does not publish), the inconsistent_inbox naming both.";
    get "/version" => version: "The node's version.";
    get "/config" => config: "The node's configuration.";
    get "/openapi" => openapi: "This description (OpenAPI 3.0), generated from the route list.";
    get "/global/smart_rollup_address" => smart_rollup_address: "The rollup's address (sr1...).";
    get "/global/tezos_head" => tezos_head: "The last L1 block the node processed (hash).";
    get "/global/tezos_level" => tezos_level: "The last L1 level the node processed.";
    get "/global/last_stored_commitment" => last_stored_commitment: "The last commitment the node computed.";
    get "/global/last_cemented_commitment" => last_cemented_commitment: "The L1's last cemented commitment, as the node last saw it.";
    get "/global/block/{id}" => block: "The L2 block of head, finalized, cemented, a level or an L1 block hash: octez's full block with its inbox.";
    get "/global/block/{id}/{field}" => block_field: "One field of an L2 block: hash, level, inbox (the shared Merkleized inbox after the block, octez's JSON), num_messages, state_hash, ticks, total_ticks, status, state_current_level or committed_status.";
    post "/global/block/{id}/simulate" => simulate_messages: "Run the PVM on a copy of the block's state with {messages: [hex], reveal_pages?, insight_requests?, log_kernel_debug_file?} as the next level (?fuel=): octez's {state_hash, status, output, inbox_level, num_ticks, insights}. The node's state does not change.";
    get "/global/monitor_blocks" => monitor_blocks: "A stream (chunked JSON, one block per chunk) of the L2 blocks the node processes, from its head on: octez's block header with initial_tick, num_ticks, state_hash and pvm_status.";
    get "/global/block/{id}/durable/wasm_2_0_0/{what}" => durable: "The durable storage after the block: value, length, subkeys or values of ?key=/path.";
    get "/global/block/{id}/outbox/{level}/messages" => outbox_messages: "The outbox messages of an outbox level, decoded.";
    get "/global/block/{id}/helpers/witness" => witness: "A replay witness of the levels ?from= (default: the first of the block's commitment period) up to the block: {witness (hex, format soru_core::witness), first_level, last_level, pre_state_hash, state_hash, ticks, size}; soru-verify replay --witness and the npm package's replayWitness re-run it. At most 1000 levels.";
    get "/global/block/{id}/helpers/proofs/outbox/{level}/messages" => outbox_proof: "The output proof of message ?index=i of an outbox level, against the last cemented commitment: {commitment, proof}.";
    get "/local/commitments/{hash}" => local_commitment: "A commitment the node computed, by hash.";
    get "/local/last_published_commitment" => last_published_commitment: "The last commitment the node's operator published.";
    get "/local/outbox/pending" => outbox_pending: "Outbox messages not executed yet, each level with its status: executable, pending (not cemented) or lost (out of the window); ?outbox_level=.";
    get "/local/outbox/pending/executable" => outbox_pending_executable: "Outbox messages not executed yet that can be: cemented and within max_active_outbox_levels of the last cemented commitment; ?outbox_level=.";
    get "/local/outbox/pending/unexecutable" => outbox_pending_unexecutable: "Outbox messages that cannot be executed yet: above the last cemented commitment; ?outbox_level=.";
    get "/local/gc_info" => gc_info: "Garbage collection: the first level whose state is kept.";
    post "/local/batcher/injection" => batcher_injection: "Queue L2 messages (a JSON array of hex) in the batcher; ?order=n&drop_duplicate=bool. Loopback clients only.";
    get "/local/batcher/queue" => batcher_queue: "The batcher's queued messages.";
    get "/local/batcher/queue/{id}" => batcher_message: "A batched message's content and status.";
    get "/local/synchronized" => synchronized: "Whether the node has processed the L1 head.";
}

/// The router with every route of [`ROUTES`].
pub fn router(ctx: Arc<Ctx>) -> Router {
    add_routes(Router::new())
        .fallback(not_found)
        .layer(axum::middleware::map_response(cors))
        .with_state(ctx)
}

/// The OpenAPI 3.0 description of [`ROUTES`].
pub fn openapi_json() -> Value {
    let mut paths = serde_json::Map::new();
    for r in ROUTES {
        let parameters: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|step| step.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": r.summary,
            "parameters": parameters,
            "responses": {
                "200": {"description": "the answer, JSON", "content": {"application/json": {}}},
                "default": {"description": "an octez error array: [{kind, id, ...}]"}
            }
        });
        if r.method == "post" {
            op["requestBody"] = json!({"content": {"application/json": {}}});
        }
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method] = op;
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "soru-node: the octez smart rollup node RPC", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
    })
}

async fn openapi() -> Answer {
    Ok(Reply::live(openapi_json()))
}

async fn cors(method: Method, mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    if method == Method::OPTIONS {
        *r.status_mut() = StatusCode::NO_CONTENT;
    }
    r
}

async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    if method == Method::OPTIONS {
        return StatusCode::NO_CONTENT.into_response();
    }
    error(
        StatusCode::NOT_FOUND,
        "soru.node.unknown_rpc",
        json!({"path": uri.path()}),
    )
    .into_response()
}

async fn health(State(ctx): Ctxt) -> Answer {
    let s = ctx.shared.read().expect("lock");
    let inconsistent = s.inconsistent_inbox.as_ref();
    Ok(Reply::live(json!({
        "healthy": s.last_error.is_none() && s.rollup.is_some() && inconsistent.is_none(),
        "l1": {"connected": s.last_error.is_none(), "head": s.l1_head.as_ref().map(|h| h.1)},
        "synchronized": s.synchronized,
        "last_error": s.last_error,
        "inconsistent_inbox": inconsistent.map(|i| i.to_json()),
    })))
}

async fn version() -> Answer {
    Ok(Reply::live(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "implementation": "soru-node",
        "store_version": 1,
    })))
}

async fn config(State(ctx): Ctxt) -> Answer {
    Ok(Reply::live(ctx.config.to_json()))
}

async fn smart_rollup_address(State(ctx): Ctxt) -> Answer {
    Ok(Reply {
        body: json!(ctx.config.rollup.to_b58check()),
        immutable: true,
    })
}

async fn tezos_head(State(ctx): Ctxt) -> Answer {
    let s = ctx.shared.read().expect("lock");
    Ok(Reply::live(json!(s.l1_head.as_ref().map(|h| h.0.clone()))))
}

async fn tezos_level(State(ctx): Ctxt) -> Answer {
    let s = ctx.shared.read().expect("lock");
    Ok(Reply::live(json!(s.l1_head.as_ref().map(|h| h.1))))
}

async fn last_stored_commitment(State(ctx): Ctxt) -> Answer {
    let s = ctx.shared.read().expect("lock");
    Ok(Reply::live(match &s.last_commitment {
        Some(c) => json!({"commitment": c.commitment.to_json(), "hash": c.hash}),
        None => Value::Null,
    }))
}

async fn last_cemented_commitment(State(ctx): Ctxt) -> Answer {
    let lcc = ctx.shared.read().expect("lock").lcc.clone();
    let Some((hash, _)) = lcc else {
        return Ok(Reply::live(Value::Null));
    };
    let c = ctx.store.commitment(&hash).map_err(internal)?;
    Ok(Reply {
        body: c.unwrap_or(json!({"hash": hash})),
        immutable: false,
    })
}

async fn local_commitment(State(ctx): Ctxt, Path(hash): Path<String>) -> Answer {
    match ctx.store.commitment(&hash).map_err(internal)? {
        Some(c) => Ok(Reply::live(c)),
        // The genesis commitment, which octez's node stores at the origination level.
        None if genesis(&ctx).is_some_and(|(h, _)| h == hash) => {
            let (hash, c) = genesis(&ctx).expect("checked");
            Ok(Reply::live(
                json!({"commitment": c.to_json(), "hash": hash}),
            ))
        }
        None => Err(error(
            StatusCode::NOT_FOUND,
            "soru.node.unknown_commitment",
            json!({"commitment": hash}),
        )),
    }
}

/// The genesis commitment and its hash, once the rollup is bootstrapped.
fn genesis(ctx: &Ctx) -> Option<(String, Commitment)> {
    let s = ctx.shared.read().expect("lock");
    let info = s.rollup.as_ref()?;
    let c = s.commitments.get(&(info.origination_level as i32))?;
    Some((info.genesis_commitment.clone(), *c))
}

async fn last_published_commitment() -> Answer {
    // This node does not inject operations yet: it has published nothing.
    Ok(Reply::live(Value::Null))
}

/// The batcher, or octez-like error when the node does not batch.
fn the_batcher(ctx: &Ctx) -> Result<&Arc<Mutex<Batcher>>, RpcError> {
    ctx.batcher.as_ref().ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "soru.node.no_batcher",
            json!({"msg": "this node has no batching operator (modes batcher, operator or custom with batching)"}),
        )
    })
}

/// `POST /local/batcher/injection?order=<n>&drop_duplicate=<bool>`: a JSON array of hex
/// messages; answers their ids. An admin route: only loopback peers may call it.
async fn batcher_injection(
    State(ctx): Ctxt,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Answer {
    if !peer.ip().is_loopback() {
        return Err(error(
            StatusCode::FORBIDDEN,
            "soru.node.admin_only",
            json!({"msg": format!("/local/batcher/injection is for loopback clients only, not {peer}")}),
        ));
    }
    let bad = |msg: String| {
        error(
            StatusCode::BAD_REQUEST,
            "soru.node.bad_request",
            json!({"msg": msg}),
        )
    };
    let order = match q.get("order") {
        None => None,
        Some(o) => Some(
            o.parse::<u64>()
                .map_err(|_| bad(format!("order `{o}` is not a natural number")))?,
        ),
    };
    let drop_duplicate = match q.get("drop_duplicate").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(d) => return Err(bad(format!("drop_duplicate `{d}`: expected true or false"))),
    };
    let v: Value =
        serde_json::from_slice(&body).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
    let items = v
        .as_array()
        .ok_or_else(|| bad("expected a JSON array of hex-encoded messages".into()))?;
    let mut messages = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let text = item
            .as_str()
            .ok_or_else(|| bad(format!("message {i} is not a string")))?;
        messages.push(hex::decode(text).map_err(|e| bad(format!("message {i} is not hex: {e}")))?);
    }
    let ids = the_batcher(&ctx)?
        .lock()
        .expect("lock")
        .inject(&messages, order, drop_duplicate)
        .map_err(|e| bad(e.to_string()))?;
    Ok(Reply::live(json!(ids
        .iter()
        .map(batcher::id_to_b58)
        .collect::<Vec<_>>())))
}

/// `GET /local/batcher/queue`: the queued messages, in the order they go out.
async fn batcher_queue(State(ctx): Ctxt) -> Answer {
    let b = the_batcher(&ctx)?.lock().expect("lock");
    Ok(Reply::live(Value::Array(
        b.queue().map(batcher::queued_json).collect(),
    )))
}

/// `GET /local/batcher/queue/<id>`: a message's content and status.
async fn batcher_message(State(ctx): Ctxt, Path(id): Path<String>) -> Answer {
    let id = batcher::id_from_b58(&id).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            "soru.node.bad_request",
            json!({"msg": format!("{id} is not a message id: {e}")}),
        )
    })?;
    let (l1_head, lcc) = {
        let s = ctx.shared.read().expect("lock");
        (s.l1_head.as_ref().map(|h| h.1), s.lcc.as_ref().map(|l| l.1))
    };
    let b = the_batcher(&ctx)?.lock().expect("lock");
    Ok(Reply::live(batcher::status_json(
        b.status(&id),
        |level| l1_head.is_some_and(|h| h >= level + 2),
        |level| lcc.is_some_and(|c| c >= level),
    )))
}

/// `GET /local/outbox/pending...?outbox_level=`: octez's pending outbox lists, from the stored
/// outbox messages, the executions the follower saw on L1 and the last cemented commitment.
fn pending(ctx: &Ctx, q: &HashMap<String, String>, which: outbox::Which) -> Answer {
    let outbox_level = match q.get("outbox_level") {
        None => None,
        Some(l) => Some(l.parse::<u32>().ok().filter(|&l| l <= i32::MAX as u32).ok_or_else(
            || {
                error(
                    StatusCode::BAD_REQUEST,
                    "soru.node.invalid_query",
                    json!({"msg": format!("outbox_level `{l}` is not a level (a natural int32)")}),
                )
            },
        )?),
    };
    let window = {
        let s = ctx.shared.read().expect("lock");
        let (Some(head), Some(info)) = (s.head, s.rollup.as_ref()) else {
            return Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "soru.node.not_bootstrapped",
                json!({"msg": "the node has not bootstrapped the rollup yet (no L2 head)"}),
            ));
        };
        outbox::Window {
            lcc: s.lcc.as_ref().map_or(info.origination_level, |l| l.1),
            head,
            max_active: info.outbox_validity_period,
        }
    };
    Ok(Reply::live(
        outbox::pending_json(&ctx.store, window, which, outbox_level).map_err(internal)?,
    ))
}

async fn outbox_pending(State(ctx): Ctxt, Query(q): Query<HashMap<String, String>>) -> Answer {
    pending(&ctx, &q, outbox::Which::All)
}

async fn outbox_pending_executable(
    State(ctx): Ctxt,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    pending(&ctx, &q, outbox::Which::Executable)
}

async fn outbox_pending_unexecutable(
    State(ctx): Ctxt,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    pending(&ctx, &q, outbox::Which::Unexecutable)
}

async fn gc_info(State(ctx): Ctxt) -> Answer {
    let s = ctx.shared.read().expect("lock");
    Ok(Reply::live(json!({
        "last_gc_level": s.last_gc_level.or(s.first_available_level),
        "first_available_level": s.first_available_level,
    })))
}

async fn synchronized(State(ctx): Ctxt) -> Answer {
    Ok(Reply::live(json!(
        ctx.shared.read().expect("lock").synchronized
    )))
}

/// A block id resolved to a level, and whether that level is cemented.
fn resolve(ctx: &Ctx, id: &str) -> Result<(u32, bool), RpcError> {
    let s = ctx.shared.read().expect("lock");
    let head = s.head.ok_or_else(|| {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "soru.node.not_bootstrapped",
            json!({"msg": "the node has not bootstrapped the rollup yet"}),
        )
    })?;
    let lcc_level = s.lcc.as_ref().map(|l| l.1);
    let unknown = || {
        error(
            StatusCode::NOT_FOUND,
            "soru.node.unknown_block",
            json!({"block": id}),
        )
    };
    let level = match id {
        "head" => head,
        "finalized" => head.saturating_sub(2),
        "cemented" => lcc_level.ok_or_else(unknown)?,
        _ => match id.parse::<u32>() {
            Ok(l) if l <= head => l,
            Ok(_) => return Err(unknown()),
            Err(_) => {
                drop(s);
                let levels = ctx.store.levels().map_err(internal)?;
                return levels
                    .iter()
                    .find(|r| r.hash == id)
                    .map(|r| (r.level, lcc_level.is_some_and(|c| r.level <= c)))
                    .ok_or_else(unknown);
            }
        },
    };
    Ok((level, lcc_level.is_some_and(|c| level <= c)))
}

fn record(ctx: &Ctx, level: u32, id: &str) -> Result<LevelRecord, RpcError> {
    ctx.store.level(level).map_err(internal)?.ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "soru.node.unknown_block",
            json!({"block": id, "msg": "no L2 block at that level (the origination level has none)"}),
        )
    })
}

/// The state after `level`: from memory (the genesis state and the latest ones), else loaded
/// from the store, which has every state in archive mode and those from the
/// `first_available_level` on in full mode.
fn state(ctx: &Ctx, level: u32) -> Result<Tree, RpcError> {
    let first_available = {
        let s = ctx.shared.read().expect("lock");
        if let Some(t) = s.states.get(&level) {
            return Ok(t.clone());
        }
        s.first_available_level
    };
    let unavailable = || {
        error(
            StatusCode::NOT_FOUND,
            "soru.node.state_not_available",
            json!({"level": level, "first_available_level": first_available}),
        )
    };
    if ctx.config.history_mode != HistoryMode::Archive && first_available.is_none_or(|f| level < f)
    {
        return Err(unavailable());
    }
    let record = ctx
        .store
        .level(level)
        .map_err(internal)?
        .ok_or_else(unavailable)?;
    if let Some(t) = ctx
        .cache
        .lock()
        .expect("lock")
        .get(level, &record.state_hash)
    {
        return Ok(t);
    }
    let tree = ctx.store.state(&record.state_hash).map_err(internal)?;
    ctx.cache
        .lock()
        .expect("lock")
        .put(level, &record.state_hash, tree.clone());
    Ok(tree)
}

/// octez's L2 block header (`Sc_rollup_block.t`, what `/global/monitor_blocks` streams):
/// hashes, level, commitments, ticks, state hash, PVM status, and the level's inbox witness
/// (`srib2`) and shared inbox hash (`srib1`).
fn l2_header(ctx: &Ctx, r: &LevelRecord) -> Result<Value, RpcError> {
    let s = ctx.shared.read().expect("lock");
    let period = s.rollup.as_ref().map_or(1, |i| i.commitment_period.max(1));
    let origination = s.rollup.as_ref().map_or(0, |i| i.origination_level);
    drop(s);
    // The commitment before this block's: the last commitment level below it.
    let last_commitment_level =
        origination + (r.level.saturating_sub(origination + 1) / period) * period;
    let previous = if last_commitment_level == origination {
        ctx.shared
            .read()
            .expect("lock")
            .rollup
            .as_ref()
            .map(|i| i.genesis_commitment.clone())
    } else {
        ctx.store
            .level(last_commitment_level)
            .map_err(internal)?
            .and_then(|l| l.commitment)
    };
    Ok(json!({
        "block_hash": r.hash,
        "level": r.level,
        "predecessor": r.predecessor,
        "commitment_hash": r.commitment,
        "previous_commitment_hash": previous,
        "initial_tick": (r.total_ticks - r.ticks).to_string(),
        "num_ticks": r.ticks.to_string(),
        "state_hash": r.state_hash,
        "pvm_status": r.status,
        "inbox_witness": r.inbox.as_ref().map(|i| i.old_levels_messages.content.hash.to_b58check()),
        "inbox_hash": r.inbox.as_ref().map(|i| i.hash().to_b58check()),
    }))
}

/// octez's full L2 block (`Sc_rollup_block.full`): the header with the level's messages and
/// commitment.
fn l2_block(ctx: &Ctx, r: &LevelRecord) -> Result<Value, RpcError> {
    let mut b = l2_header(ctx, r)?;
    let messages: Vec<Value> = full_inbox(ctx, r)?
        .iter()
        .map(|m| Value::String(hex::encode(m)))
        .collect();
    b["messages"] = Value::Array(messages);
    if let Some(c) = &r.commitment {
        if let Some(stored) = ctx.store.commitment(c).map_err(internal)? {
            if let Some(commitment) = stored.get("commitment") {
                b["commitment"] = commitment.clone();
            }
        }
    }
    Ok(b)
}

/// The level's whole inbox as octez's node stores it (`messages` of `Sc_rollup_block.full`):
/// `Start_of_level`, `Info_per_level` (the predecessor's timestamp and hash), the block's
/// messages and `End_of_level`.
fn full_inbox(ctx: &Ctx, r: &LevelRecord) -> Result<Vec<Vec<u8>>, RpcError> {
    let origination = ctx
        .shared
        .read()
        .expect("lock")
        .rollup
        .as_ref()
        .map(|i| (i.origination_level, i.origination_timestamp));
    let predecessor_timestamp = match origination {
        Some((level, timestamp)) if level + 1 == r.level => timestamp,
        _ => {
            ctx.store
                .level(r.level.saturating_sub(1))
                .map_err(internal)?
                .ok_or_else(|| internal(format!("no stored level before level {}", r.level)))?
                .timestamp
        }
    };
    let predecessor = BlockHash::from_b58check(&r.predecessor).map_err(|e| {
        internal(format!(
            "stored predecessor {} of level {}: {e}",
            r.predecessor, r.level
        ))
    })?;
    Ok(super::inbox::full_inbox(
        predecessor_timestamp,
        predecessor,
        &r.messages,
    ))
}

async fn block(State(ctx): Ctxt, Path(id): Path<String>) -> Answer {
    let (level, immutable) = resolve(&ctx, &id)?;
    let r = record(&ctx, level, &id)?;
    Ok(Reply {
        body: l2_block(&ctx, &r)?,
        immutable,
    })
}

async fn block_field(State(ctx): Ctxt, Path((id, field)): Path<(String, String)>) -> Answer {
    let (level, immutable) = resolve(&ctx, &id)?;
    let r = record(&ctx, level, &id)?;
    let body = match field.as_str() {
        "hash" => json!(r.hash),
        "level" => json!(r.level),
        "inbox" => match &r.inbox {
            Some(inbox) => inbox.to_json(),
            None => {
                return Err(error(
                    StatusCode::NOT_FOUND,
                    "soru.node.no_inbox",
                    json!({"level": r.level, "msg": "the store holds no shared inbox for this level yet"}),
                ))
            }
        },
        "num_messages" => json!((r.messages.len() + 3).to_string()),
        "state_hash" => json!(r.state_hash),
        "ticks" => json!(r.ticks.to_string()),
        "total_ticks" => json!(r.total_ticks.to_string()),
        "status" => json!(r.status),
        "state_current_level" => json!(r.level),
        "committed_status" => committed_status(&ctx, r.level),
        _ => {
            return Err(error(
                StatusCode::NOT_FOUND,
                "soru.node.unknown_rpc",
                json!({"path": format!("/global/block/{id}/{field}"), "msg": "known fields: hash, level, inbox, num_messages, state_hash, ticks, total_ticks, status, state_current_level, committed_status"}),
            ))
        }
    };
    Ok(Reply { body, immutable })
}

fn committed_status(ctx: &Ctx, level: u32) -> Value {
    let s = ctx.shared.read().expect("lock");
    let lcc = s.lcc.as_ref().map(|l| l.1);
    let Some(info) = &s.rollup else {
        return Value::Null;
    };
    let period = info.commitment_period.max(1);
    let since = level.saturating_sub(info.origination_level);
    let commitment_level = info.origination_level + since.div_ceil(period) * period;
    if lcc.is_some_and(|c| commitment_level <= c) {
        json!({"status": "cemented", "commitment_level": commitment_level})
    } else {
        json!({"status": "uncommitted", "commitment_level": commitment_level,
               "estimated_cementation_level": commitment_level + info.challenge_window})
    }
}

async fn durable(
    State(ctx): Ctxt,
    Path((id, what)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let (level, immutable) = resolve(&ctx, &id)?;
    let key_text = q.get("key").ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "soru.node.missing_query",
            json!({"msg": "query parameter key is required"}),
        )
    })?;
    let bad_key = |e: soru_core::durable::DurableError| {
        error(
            StatusCode::BAD_REQUEST,
            "soru.node.invalid_key",
            json!({"key": key_text, "msg": e.to_string()}),
        )
    };
    // The root ("/" or "") has subkeys but no value.
    let key = match key_text.trim_end_matches('/') {
        "" => None,
        _ => Some(Key::from_path(key_text).map_err(bad_key)?),
    };
    let tree = state(&ctx, level)?;
    let durable_tree = tree
        .subtree(&DURABLE_PATH)
        .map_err(internal)?
        .unwrap_or_else(Tree::empty);
    let d = Durable::from_tree(durable_tree.clone());
    let body = match what.as_str() {
        "value" => match &key {
            Some(key) => json!(d.read_all(key).map_err(internal)?.map(hex::encode)),
            None => Value::Null,
        },
        "length" => match &key {
            Some(key) => json!(d
                .value_length(key)
                .map_err(internal)?
                .map(|n| n.to_string())),
            None => Value::Null,
        },
        "subkeys" | "values" => {
            let steps: Vec<&[u8]> = key
                .as_ref()
                .map_or(&[][..], |k| k.steps())
                .iter()
                .map(Vec::as_slice)
                .collect();
            let children = durable_tree.list(&steps, 0, None).map_err(internal)?;
            let mut out = Vec::new();
            for (step, _) in children.into_iter().filter(|(s, _)| s.as_slice() != b"@") {
                let name = String::from_utf8_lossy(&step).into_owned();
                if what == "subkeys" {
                    out.push(json!(name));
                } else {
                    let child =
                        Key::from_path(&format!("{}/{name}", key_text.trim_end_matches('/')))
                            .map_err(internal)?;
                    if let Some(v) = d.read_all(&child).map_err(internal)? {
                        out.push(json!({"key": name, "value": hex::encode(v)}));
                    }
                }
            }
            Value::Array(out)
        }
        _ => {
            return Err(error(
                StatusCode::NOT_FOUND,
                "soru.node.unknown_rpc",
                json!({"msg": "durable RPCs: value, length, subkeys, values"}),
            ))
        }
    };
    Ok(Reply { body, immutable })
}

async fn outbox_messages(State(ctx): Ctxt, Path((id, level)): Path<(String, u32)>) -> Answer {
    let (block_level, immutable) = resolve(&ctx, &id)?;
    if level > block_level {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "soru.node.outbox_level_in_the_future",
            json!({"outbox_level": level, "block_level": block_level}),
        ));
    }
    let Some(r) = ctx.store.level(level).map_err(internal)? else {
        return Ok(Reply {
            body: json!([]),
            immutable,
        });
    };
    let out = r
        .outbox
        .iter()
        .enumerate()
        .map(|(i, m)| output_json(level, i, m))
        .collect();
    Ok(Reply {
        body: Value::Array(out),
        immutable,
    })
}

/// octez's `Sc_rollup.output` JSON of message `index` of outbox `level`.
pub(crate) fn output_json(level: u32, index: usize, bytes: &[u8]) -> Value {
    let message = match OutboxMessage::decode(bytes) {
        Ok(m) => Value::from(m.to_json()),
        Err(e) => json!({"undecodable": hex::encode(bytes), "error": e.to_string()}),
    };
    json!({"outbox_level": level, "message_index": index.to_string(), "message": message})
}

async fn outbox_proof(
    State(ctx): Ctxt,
    Path((_id, level)): Path<(String, u32)>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let index: u64 = q
        .get("index")
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "soru.node.missing_query",
                json!({"msg": "Query parameter index is required"}),
            )
        })?
        .parse()
        .map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                "soru.node.invalid_query",
                json!({"msg": "index must be a natural number"}),
            )
        })?;
    let lcc = ctx.shared.read().expect("lock").lcc.clone();
    let lcc_level = lcc.as_ref().map_or(0, |l| l.1);
    let Some((lcc_hash, lcc_level)) = lcc.filter(|l| level <= l.1) else {
        return Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "sc_rollup.node.outbox_level_not_cemented",
            json!({"outbox_level": level, "lcc_level": lcc_level}),
        ));
    };
    let tree = state(&ctx, lcc_level)?;
    let proof = produce_output_proof(&tree, level, index, Layout::Obj2).map_err(|e| {
        error(
            StatusCode::NOT_FOUND,
            "soru.node.no_such_output",
            json!({"outbox_level": level, "index": index.to_string(), "msg": e.to_string()}),
        )
    })?;
    Ok(Reply {
        body: json!({"commitment": lcc_hash, "proof": hex::encode(proof)}),
        immutable: true,
    })
}

/// The most levels one witness covers (the node replays them to answer).
pub const MAX_WITNESS_LEVELS: u32 = 1000;

async fn witness(
    State(ctx): Ctxt,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let (last, cemented) = resolve(&ctx, &id)?;
    let (config, origination, period) = {
        let s = ctx.shared.read().expect("lock");
        let info = s.rollup.as_ref().ok_or_else(|| internal("no rollup"))?;
        (
            info.pvm_config(),
            (
                info.origination_level,
                info.origination_hash.clone(),
                info.origination_timestamp,
            ),
            info.commitment_period.max(1),
        )
    };
    let bad = |msg: String| {
        error(
            StatusCode::BAD_REQUEST,
            "soru.node.invalid_query",
            json!({"msg": msg}),
        )
    };
    if last <= origination.0 {
        return Err(bad(format!(
            "level {last} is not after the origination level {}",
            origination.0
        )));
    }
    let from = match q.get("from") {
        Some(f) => f
            .parse::<u32>()
            .map_err(|_| bad(format!("from must be a level, not {f:?}")))?,
        None => origination.0 + 1 + (last - origination.0 - 1) / period * period,
    };
    if from <= origination.0 || from > last {
        return Err(bad(format!(
            "from must be in {}..={last}, not {from}",
            origination.0 + 1
        )));
    }
    if last - from + 1 > MAX_WITNESS_LEVELS {
        return Err(bad(format!(
            "{} levels asked for; a witness covers at most {MAX_WITNESS_LEVELS}",
            last - from + 1
        )));
    }
    let pre = state(&ctx, from - 1)?;
    let mut levels = Vec::new();
    let mut pred = if from - 1 == origination.0 {
        (origination.1.clone(), origination.2)
    } else {
        let r = record(&ctx, from - 1, &id)?;
        (r.hash, r.timestamp)
    };
    let mut end = None;
    for level in from..=last {
        let r = record(&ctx, level, &id)?;
        let hash = BlockHash::from_b58check(&pred.0).map_err(|e| {
            internal(format!(
                "stored hash {} of level {}: {e}",
                pred.0,
                level - 1
            ))
        })?;
        levels.push(soru_core::witness::WitnessLevel {
            level,
            timestamp: pred.1,
            predecessor: hash.0,
            messages: r.messages.clone(),
        });
        pred = (r.hash.clone(), r.timestamp);
        end = Some(r.state_hash);
    }
    let end = end.unwrap_or_default();
    // Producing a witness replays the levels; it takes its turn with the simulations.
    let _turn = ctx.simulations.acquire().await.map_err(internal)?;
    let preimages = ctx.data_dir.join("wasm_2_0_0");
    let (w, run) = tokio::task::spawn_blocking(move || {
        let mut reveal = crate::preimages::PreimageDir::new(Some(&preimages));
        soru_core::witness::produce(&pre, &config, levels, &mut reveal)
    })
    .await
    .map_err(internal)?
    .map_err(|e| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "soru.node.witness_failed",
            json!({"msg": e.to_string()}),
        )
    })?;
    let state_hash = StateHash(run.state_hash).to_b58check();
    if state_hash != end {
        return Err(internal(format!(
            "the witness replay of levels {from}..={last} ends in {state_hash}, the store says {end}"
        )));
    }
    let bytes = soru_core::witness::encode(&w).map_err(internal)?;
    Ok(Reply {
        body: json!({
            "witness": hex::encode(&bytes),
            "first_level": from,
            "last_level": last,
            "pre_state_hash": StateHash(run.pre_state_hash).to_b58check(),
            "state_hash": state_hash,
            "ticks": (run.ticks - run.pre_ticks).to_string(),
            "size": bytes.len(),
        }),
        immutable: cemented,
    })
}

fn sim_error(e: simulate::SimError) -> RpcError {
    let status = match e.id {
        "soru.node.body_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "soru.node.simulation_failed" | "soru.node.simulation_unavailable" => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    error(status, e.id, json!({"msg": e.msg}))
}

/// `POST /global/block/<id>/simulate?fuel=`: see [`simulate`]. The PVM runs on a blocking
/// thread, one simulation at a time; `log_kernel_debug_file` (a file of
/// `<data-dir>/simulation_kernel_logs/`) only for loopback clients.
async fn simulate_messages(
    State(ctx): Ctxt,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Body,
) -> Answer {
    let body = axum::body::to_bytes(body, simulate::MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "soru.node.body_too_large",
                json!({"msg": format!("the body could not be read within {} bytes: {e}", simulate::MAX_BODY_BYTES)}),
            )
        })?;
    let fuel = simulate::fuel(&q).map_err(sim_error)?;
    let request = simulate::Request::parse(&body).map_err(sim_error)?;
    if request.log_kernel_debug_file.is_some() && !peer.ip().is_loopback() {
        return Err(error(
            StatusCode::FORBIDDEN,
            "soru.node.admin_only",
            json!({"msg": format!("log_kernel_debug_file writes in the data directory: loopback clients only, not {peer}")}),
        ));
    }
    let (level, _) = resolve(&ctx, &id)?;
    let (config, block) = {
        let s = ctx.shared.read().expect("lock");
        let info = s.rollup.as_ref().ok_or_else(|| internal("no rollup"))?;
        let origination = (info.origination_hash.clone(), info.origination_timestamp);
        (
            info.pvm_config(),
            (level == info.origination_level).then_some(origination),
        )
    };
    let (hash, timestamp) = match block {
        Some(b) => b,
        None => {
            let r = record(&ctx, level, &id)?;
            (r.hash, r.timestamp)
        }
    };
    let hash = BlockHash::from_b58check(&hash)
        .map_err(|e| internal(format!("stored hash {hash} of level {level}: {e}")))?;
    let tree = state(&ctx, level)?;
    let _turn = ctx.simulations.acquire().await.map_err(internal)?;
    let preimages = ctx.data_dir.join("wasm_2_0_0");
    let log = request
        .log_kernel_debug_file
        .as_ref()
        .map(|f| ctx.data_dir.join("simulation_kernel_logs").join(f));
    let outcome = tokio::task::spawn_blocking(move || {
        let after = simulate::After {
            state: tree,
            config,
            level,
            hash,
            timestamp,
        };
        simulate::simulate(after, &request, fuel, &preimages)
    })
    .await
    .map_err(internal)?
    .map_err(sim_error)?;
    if let Some(file) = log {
        let mut text = String::new();
        for m in &outcome.debug {
            text.push_str(&String::from_utf8_lossy(m));
            if !text.ends_with('\n') {
                text.push('\n');
            }
        }
        let written = file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&file, text));
        written.map_err(|e| internal(format!("{}: {e}", file.display())))?;
    }
    Ok(Reply::live(outcome.result))
}

/// What `/global/monitor_blocks` sends next: the L2 block headers of the levels processed
/// since the last one sent (the head first), in order; after a reorganisation, the new head.
fn next_blocks(ctx: &Ctx, last: Option<u32>) -> Result<(Vec<Value>, Option<u32>), RpcError> {
    let Some(head) = ctx.shared.read().expect("lock").head else {
        return Ok((Vec::new(), last));
    };
    let from = match last {
        Some(l) if l < head => l + 1,
        Some(l) if l == head => return Ok((Vec::new(), last)),
        _ => head,
    };
    let mut out = Vec::new();
    for level in from..=head {
        if let Some(r) = ctx.store.level(level).map_err(internal)? {
            out.push(l2_header(ctx, &r)?);
        }
    }
    Ok((out, Some(head)))
}

/// `GET /global/monitor_blocks`: octez's streamed RPC, a chunked response with one JSON block
/// per chunk (each followed by a newline), from the node's head on. New levels are noticed
/// within 100 ms; the stream ends when the node stops.
async fn monitor_blocks(State(ctx): Ctxt) -> Response {
    let start = (ctx, None::<u32>, std::collections::VecDeque::<Value>::new());
    let stream = futures_util::stream::unfold(start, |(ctx, mut last, mut queue)| async move {
        loop {
            if let Some(b) = queue.pop_front() {
                let chunk = axum::body::Bytes::from(format!("{b}\n"));
                return Some((Ok::<_, std::convert::Infallible>(chunk), (ctx, last, queue)));
            }
            if ctx.stop.load(Ordering::Relaxed) {
                return None;
            }
            match next_blocks(&ctx, last) {
                Ok((blocks, head)) => {
                    queue.extend(blocks);
                    last = head;
                }
                Err(e) => {
                    tracing::warn!("monitor_blocks: {}", e.body);
                    return None;
                }
            }
            if queue.is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(axum::body::Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_describes_every_route_with_its_parameters() {
        let doc = openapi_json();
        for r in ROUTES {
            let op = &doc["paths"][r.path][r.method];
            assert_eq!(op["summary"], r.summary, "{}", r.path);
            let names: Vec<&str> = op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(names.len(), r.path.matches('{').count(), "{}", r.path);
        }
        assert_eq!(
            doc["paths"]["/global/block/{id}/outbox/{level}/messages"]["get"]["parameters"][1]
                ["name"],
            "level"
        );
        assert!(doc["paths"]["/local/batcher/injection"]["post"]["requestBody"].is_object());
        assert!(doc["paths"]["/global/block/{id}/simulate"]["post"]["requestBody"].is_object());
        assert!(doc["paths"]["/local/outbox/pending/executable"]["get"].is_object());
        assert!(doc["paths"]["/global/monitor_blocks"]["get"].is_object());
    }

    #[test]
    fn the_state_cache_keeps_the_most_recently_used_states() {
        let tree = |v: &[u8]| {
            let mut t = Tree::empty();
            t.set_value(&[b"x".as_slice()], v).unwrap();
            t
        };
        let mut c = StateCache::new(2);
        assert!(c.get(1, "a").is_none());
        c.put(1, "a", tree(b"1"));
        c.put(2, "b", tree(b"2"));
        assert_eq!(c.get(1, "a").unwrap().hash(), tree(b"1").hash());
        // 2 is now the least recently used: a third state drops it.
        c.put(3, "c", tree(b"3"));
        assert!(c.get(2, "b").is_none());
        assert!(c.get(1, "a").is_some() && c.get(3, "c").is_some());
        // Another state hash at a level (after a reorganisation) is a miss.
        assert!(c.get(3, "other").is_none());
        assert_eq!(c.misses, 3);
    }
}
