//! Browser glue: the worker entry, the worker client, fetch, local storage, the URL fragment.

use std::cell::RefCell;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::protocol::{FromWorker, ToWorker, Worker as PvmWorker};
use crate::rpc::RpcError;

thread_local! {
    static PVM: RefCell<PvmWorker> = RefCell::new(PvmWorker::with_clock(nanos));
    static WORKERS: RefCell<[Option<web_sys::Worker>; 2]> = const { RefCell::new([None, None]) };
}

fn now() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
        .map(|p| p.now())
        .unwrap_or(0.0)
}

/// `performance.now()` in nanoseconds (the profiler's clock).
fn nanos() -> u64 {
    (now() * 1e6) as u64
}

fn post_from_worker(message: &FromWorker) {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let text = serde_json::to_string(message).unwrap_or_default();
    let _ = scope.post_message(&JsValue::from_str(&text));
}

/// Worker side: handles one request (JSON text of a [`ToWorker`]) and posts the answers.
#[wasm_bindgen]
pub fn worker_handle(message: String) {
    let done = match serde_json::from_str::<ToWorker>(&message) {
        Ok(request) => PVM.with(|w| {
            w.borrow_mut()
                .handle(request, &mut |m| post_from_worker(&m), &now)
        }),
        Err(e) => unreadable(format!("worker: unreadable request: {e}")),
    };
    post_from_worker(&done);
}

/// The answer to a message that does not parse (request id 0 matches any pending request).
fn unreadable(error: String) -> FromWorker {
    FromWorker::Done {
        id: 0,
        snapshot: None,
        output: String::new(),
        error: Some(error),
        needs_preimage: None,
        profile: None,
        completed: 0,
        millis: 0.0,
    }
}

/// The page's PVM workers: one per page that runs the PVM, so stopping one never touches the
/// other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The playground's debugger session.
    Playground = 0,
    /// The commitment checker's replays.
    Checker = 1,
}

/// Page side: starts a fresh PVM worker (`worker.js`, a module worker that loads this same
/// wasm) in `slot`, whose messages go to `on_message`, replacing (terminating) any previous one.
pub fn start_worker(slot: Slot, on_message: impl Fn(FromWorker) + 'static) -> Result<(), String> {
    stop_worker(slot);
    let options = web_sys::WorkerOptions::new();
    options.set_type(web_sys::WorkerType::Module);
    let worker = web_sys::Worker::new_with_options("./worker.js", &options)
        .map_err(|e| format!("cannot start the PVM worker: {}", js_error(&e)))?;
    let callback =
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            let text = e.data().as_string().unwrap_or_default();
            match serde_json::from_str::<FromWorker>(&text) {
                Ok(m) => on_message(m),
                Err(err) => on_message(unreadable(format!(
                    "unreadable message from the worker: {err}"
                ))),
            }
        });
    worker.set_onmessage(Some(callback.as_ref().unchecked_ref()));
    callback.forget();
    WORKERS.with(|w| w.borrow_mut()[slot as usize] = Some(worker));
    Ok(())
}

/// Terminates the worker in `slot`, if any (this is how a runaway step is stopped).
pub fn stop_worker(slot: Slot) {
    WORKERS.with(|w| {
        if let Some(worker) = w.borrow_mut()[slot as usize].take() {
            worker.terminate();
        }
    });
}

/// Sends a request to the worker in `slot`.
pub fn send(slot: Slot, request: &ToWorker) -> Result<(), String> {
    let text = serde_json::to_string(request).map_err(|e| e.to_string())?;
    WORKERS.with(|w| match w.borrow()[slot as usize].as_ref() {
        Some(worker) => worker
            .post_message(&JsValue::from_str(&text))
            .map_err(|e| format!("cannot reach the PVM worker: {}", js_error(&e))),
        None => Err("the PVM worker is not running".into()),
    })
}

/// The message of a JS exception.
pub fn js_error(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

fn window() -> web_sys::Window {
    web_sys::window().expect("the page has a window")
}

/// GETs `url`; a non-200 status or a network failure is an error naming the URL.
pub async fn fetch_bytes(url: &str) -> Result<Vec<u8>, RpcError> {
    let network = |e: JsValue| RpcError::Network {
        url: url.into(),
        message: js_error(&e),
    };
    let response: web_sys::Response = JsFuture::from(window().fetch_with_str(url))
        .await
        .map_err(network)?
        .unchecked_into();
    let buffer = JsFuture::from(response.array_buffer().map_err(network)?)
        .await
        .map_err(network)?;
    let bytes = Uint8Array::new(&buffer).to_vec();
    if response.status() != 200 {
        let body = String::from_utf8_lossy(&bytes);
        let body: String = body.chars().take(300).collect();
        return Err(RpcError::Status {
            url: url.into(),
            status: response.status(),
            body,
        });
    }
    Ok(bytes)
}

/// GETs `url` as text.
pub async fn fetch_text(url: &str) -> Result<String, RpcError> {
    let bytes = fetch_bytes(url).await?;
    String::from_utf8(bytes).map_err(|_| RpcError::Body {
        url: url.into(),
        message: "not UTF-8 text".into(),
    })
}

/// The bytes of a picked or dropped file.
pub async fn file_bytes(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let buffer = JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| format!("cannot read {}: {}", file.name(), js_error(&e)))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// Local storage, when the browser allows it.
fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// Reads a local-storage item.
pub fn load_item(key: &str) -> Option<String> {
    storage()?.get_item(key).ok().flatten()
}

/// Writes a local-storage item (silently skipped when storage is unavailable or full).
pub fn save_item(key: &str, value: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(key, value);
    }
}

/// The URL fragment (`#...`).
pub fn fragment() -> String {
    window().location().hash().unwrap_or_default()
}

/// Replaces the URL fragment without adding a history entry.
pub fn set_fragment(fragment: &str) {
    let url = format!("#{}", fragment.trim_start_matches('#'));
    let _ = window()
        .history()
        .and_then(|h| h.replace_state_with_url(&JsValue::NULL, "", Some(&url)));
}

/// The page's address without the fragment.
pub fn page_url() -> String {
    let l = window().location();
    format!(
        "{}{}",
        l.origin().unwrap_or_default(),
        l.pathname().unwrap_or_default()
    )
}

/// Milliseconds since the page started.
pub fn millis() -> f64 {
    now()
}

/// Scrolls the element with `id` into view (results below the fold on small screens).
pub fn scroll_into_view(id: &str) {
    if let Some(e) = window().document().and_then(|d| d.get_element_by_id(id)) {
        e.scroll_into_view_with_bool(false);
    }
}
