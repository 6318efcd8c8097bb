//! The Leptos components: the page shell and the three pages.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::check::{CheckRequest, CheckedCommitment, Evidence, Method, Verdict};
use crate::engine::{self, Snapshot};
use crate::protocol::{FromWorker, Progress, ToWorker};
use crate::rpc;
use crate::session::{self, Session};
use crate::verify::{self, Outcome};
use crate::view::{self, FlameNode, TreeNode, ValueView};
use crate::web::{self, Slot};

/// The bundled example kernels: (label, file name, file text, inputs).
const EXAMPLES: [(&str, &str, &str, &str); 3] = [
    (
        "Echo (node-shim/examples)",
        "echo.wat",
        include_str!("../../node-shim/examples/echo.wat"),
        include_str!("../../node-shim/examples/inputs.json"),
    ),
    (
        "Withdrawal: echo an outbox transaction",
        "echo.wat",
        include_str!("../../node-shim/examples/echo.wat"),
        include_str!("../examples/withdrawal-inputs.json"),
    ),
    (
        "Runaway: kernel_run never returns",
        "runaway.wat",
        include_str!("../examples/runaway.wat"),
        "[[]]\n",
    ),
];

/// The output proof vectors `make web` copies from `../shared/vectors/tezos-output-proofs/`
/// into `dist/examples/`: (label, file, use the corrupted proof).
const VECTORS: [(&str, &str, bool); 4] = [
    (
        "Hello world (valid)",
        "05_taquito_mock_fixed_and_corrupted.txt",
        false,
    ),
    (
        "Hello world, corrupted (invalid)",
        "05_taquito_mock_fixed_and_corrupted.txt",
        true,
    ),
    (
        "Etherlink FA1.2 withdrawal",
        "01_taquito_docs_etherlink_fa12_withdrawal_obj3.txt",
        false,
    ),
    (
        "Etherlink FA2 withdrawal",
        "03_etherlink_bridge_nairobinet_fa2_withdrawal_obj3.txt",
        false,
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    Playground,
    Verify,
    Check,
}

impl Page {
    const ALL: [Page; 3] = [Page::Playground, Page::Verify, Page::Check];

    fn slug(self) -> &'static str {
        match self {
            Page::Playground => "playground",
            Page::Verify => "verify",
            Page::Check => "check",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Page::Playground => "Playground",
            Page::Verify => "Verify withdrawal",
            Page::Check => "Check commitments",
        }
    }

    fn from_fragment(f: &str) -> Page {
        let slug = session::fragment_param(f, "page");
        Page::ALL
            .into_iter()
            .find(|p| Some(p.slug()) == slug)
            .unwrap_or(Page::Playground)
    }
}

/// Mounts the app on the page's body (called by `index.html`).
#[wasm_bindgen]
pub fn start_app() {
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    let page = RwSignal::new(Page::from_fragment(&web::fragment()));
    let go = move |p: Page| {
        page.set(p);
        let f = web::fragment();
        let keep = session::fragment_param(&f, session::FRAGMENT_KEY)
            .filter(|_| p == Page::Playground)
            .map(|s| format!("&{}={s}", session::FRAGMENT_KEY))
            .unwrap_or_default();
        web::set_fragment(&format!("page={}{keep}", p.slug()));
    };
    let playground = Playground::new();
    playground.restore();
    view! {
        <header>
            <h1>"Soru"</h1>
            <p class="tagline">"Tezos smart rollups in your browser: the WASM PVM and octez proofs, computed locally."</p>
            <nav aria-label="Pages">
                {Page::ALL.into_iter().map(|p| view! {
                    <button
                        class="tab"
                        aria-current=move || (page.get() == p).then_some("page")
                        on:click=move |_| go(p)
                    >{p.title()}</button>
                }).collect_view()}
            </nav>
        </header>
        <main>
            <div hidden=move || page.get() != Page::Playground><PlaygroundPage pg=playground/></div>
            <div hidden=move || page.get() != Page::Verify><VerifyPage/></div>
            <div hidden=move || page.get() != Page::Check><CheckPage/></div>
        </main>
        <p id="ready" hidden>"ready"</p>
    }
}

/// What the worker is doing for the playground.
#[derive(Debug, Clone, PartialEq)]
enum Pending {
    Load,
    Commands(Vec<String>),
}

/// Characters of debugger output the transcript keeps (older output scrolls away).
const TRANSCRIPT_CHARS: usize = 200_000;

/// The playground's state (all signals, so it is `Copy`).
#[derive(Clone, Copy)]
struct Playground {
    kernel: RwSignal<Option<(String, Vec<u8>)>>,
    inputs: RwSignal<String>,
    /// The state-changing commands run so far (replayed on restore).
    commands: RwSignal<Vec<String>>,
    snapshot: RwSignal<Option<Snapshot>>,
    running: RwSignal<Option<(u32, Pending, String)>>,
    progress: RwSignal<Option<Progress>>,
    message: RwSignal<String>,
    error: RwSignal<Option<String>>,
    share: RwSignal<String>,
    next_id: RwSignal<u32>,
    /// The debugger's output, as `soru debug --commands` prints it.
    transcript: RwSignal<String>,
    /// The command line being typed.
    line: RwSignal<String>,
    /// The memory panel's last answer.
    memory: RwSignal<String>,
    /// Completion candidates shown under the command box.
    hint: RwSignal<Option<String>>,
    /// The flame graph of the last `profile`.
    flame: RwSignal<Option<FlameNode>>,
    /// The memory panel's fields: address, length, as text.
    mem_address: RwSignal<String>,
    mem_length: RwSignal<String>,
    mem_text: RwSignal<bool>,
}

impl Playground {
    fn new() -> Playground {
        let (_, _, _, inputs) = EXAMPLES[1];
        let pg = Playground {
            kernel: RwSignal::new(None),
            inputs: RwSignal::new(inputs.to_string()),
            commands: RwSignal::new(Vec::new()),
            snapshot: RwSignal::new(None),
            running: RwSignal::new(None),
            progress: RwSignal::new(None),
            message: RwSignal::new("Load a kernel to start.".into()),
            error: RwSignal::new(None),
            share: RwSignal::new(String::new()),
            next_id: RwSignal::new(1),
            transcript: RwSignal::new(String::new()),
            line: RwSignal::new(String::new()),
            memory: RwSignal::new(String::new()),
            hint: RwSignal::new(None),
            flame: RwSignal::new(None),
            mem_address: RwSignal::new("0".into()),
            mem_length: RwSignal::new("64".into()),
            mem_text: RwSignal::new(false),
        };
        pg.start_worker();
        pg
    }

    fn start_worker(self) {
        if let Err(e) = web::start_worker(Slot::Playground, move |m| self.on_message(m)) {
            self.error.set(Some(e));
        }
    }

    fn append(self, text: &str) {
        self.transcript.update(|t| {
            t.push_str(text);
            if t.len() > TRANSCRIPT_CHARS {
                let mut cut = t.len() - TRANSCRIPT_CHARS;
                while !t.is_char_boundary(cut) {
                    cut += 1;
                }
                t.drain(..cut);
            }
        });
    }

    fn on_message(self, m: FromWorker) {
        match m {
            FromWorker::Progress { id, progress } => {
                if self.running.with_untracked(|r| r.as_ref().map(|r| r.0)) == Some(id) {
                    self.message.set(format!(
                        "Running: {} ({} of {})",
                        progress.text, progress.done, progress.total
                    ));
                    self.progress.set(Some(progress));
                }
            }
            FromWorker::Done {
                id,
                snapshot,
                output,
                error,
                needs_preimage,
                completed,
                millis,
                profile,
            } => {
                if let Some(stacks) = profile {
                    self.flame.set(Some(view::flame_tree(&stacks)));
                }
                let Some((rid, pending, label)) = self.running.get_untracked() else {
                    return;
                };
                if rid != id && id != 0 {
                    return;
                }
                self.running.set(None);
                self.progress.set(None);
                match &pending {
                    Pending::Commands(lines) => {
                        let kept: Vec<String> = lines
                            .iter()
                            .take(completed)
                            .filter(|l| engine::changes_state(l))
                            .cloned()
                            .collect();
                        self.commands.update(|c| c.extend(kept));
                        if let [line] = lines.as_slice() {
                            if line.starts_with("show memory") {
                                let answer = output.split_once('\n').map_or("", |(_, rest)| rest);
                                self.memory.set(answer.to_string());
                            }
                        }
                    }
                    Pending::Load if error.is_some() && snapshot.is_none() => {
                        self.commands.set(Vec::new())
                    }
                    Pending::Load => {}
                }
                self.append(&output);
                let summary = snapshot
                    .as_ref()
                    .map(|s| {
                        format!(
                            "status {}, {} outbox message{}, state hash {}",
                            s.status,
                            s.outbox.len(),
                            if s.outbox.len() == 1 { "" } else { "s" },
                            s.state_hash
                        )
                    })
                    .unwrap_or_default();
                match (&error, &needs_preimage) {
                    (Some(e), _) => self.message.set(format!("{label} failed: {e}")),
                    (None, Some(hash)) => self.message.set(format!(
                        "{label}: the kernel waits for preimage {hash}; provide it below"
                    )),
                    (None, None) => self
                        .message
                        .set(format!("{label}: done in {millis:.0} ms; {summary}")),
                }
                self.error.set(error);
                self.snapshot.set(snapshot.map(|s| *s));
                self.save();
            }
            FromWorker::Completions {
                line,
                start,
                candidates,
                ..
            } => {
                // Only if the line was not edited meanwhile.
                if self.line.get_untracked() == line {
                    let (completed, hint) = view::apply_completion(&line, start, &candidates);
                    self.line.set(completed);
                    self.hint.set(hint);
                }
            }
            FromWorker::Checked { .. } | FromWorker::Commitment { .. } => {}
        }
    }

    /// Tab in the command box: asks the session for completions (not while a command runs:
    /// the worker is busy).
    fn complete(self) {
        if self.running.with_untracked(Option::is_some)
            || self.snapshot.with_untracked(Option::is_none)
        {
            return;
        }
        let id = self.next_id.get_untracked();
        self.next_id.set(id + 1);
        let line = self.line.get_untracked();
        if let Err(e) = web::send(Slot::Playground, &ToWorker::Complete { id, line }) {
            self.error.set(Some(e));
        }
    }

    fn request(self, pending: Pending, label: String, make: impl FnOnce(u32) -> ToWorker) {
        if self.running.with_untracked(Option::is_some) {
            return;
        }
        let id = self.next_id.get_untracked();
        self.next_id.set(id + 1);
        self.error.set(None);
        self.message.set(format!("{label}: running..."));
        self.running.set(Some((id, pending, label)));
        if let Err(e) = web::send(Slot::Playground, &make(id)) {
            self.running.set(None);
            self.error.set(Some(e.clone()));
            self.message.set(e);
        }
    }

    fn load(self, commands: Vec<String>) {
        let Some((name, file)) = self.kernel.get_untracked() else {
            self.error
                .set(Some("choose a kernel file or an example first".into()));
            return;
        };
        self.commands.set(commands.clone());
        let inputs = self.inputs.get_untracked();
        let label = if commands.is_empty() {
            self.transcript.set(String::new());
            format!("Loading {name}")
        } else {
            format!("Restoring {name} after {} commands", commands.len())
        };
        self.request(Pending::Load, label, move |id| ToWorker::Load {
            id,
            name,
            kernel_hex: hex::encode(file),
            inputs,
            commands,
        });
    }

    /// Runs debugger command lines in the worker (the buttons and the command box).
    fn run(self, lines: Vec<String>, label: String) {
        self.request(Pending::Commands(lines.clone()), label, move |id| {
            ToWorker::Commands { id, lines }
        });
    }

    fn command(self, line: &str) {
        let line = line.trim().to_string();
        if line.is_empty() {
            return;
        }
        self.run(vec![line.clone()], line);
    }

    /// `step inbox` until every inbox has run: one command per level (and one to finish the
    /// level being run), with progress after each.
    fn run_all(self) {
        let Some(s) = self.snapshot.get_untracked() else {
            return;
        };
        let mid_level = s.loading.is_some() || s.status != "waiting_for_input";
        let n = s.levels_total.saturating_sub(s.levels_fed) + usize::from(mid_level);
        if n == 0 {
            self.command("step inbox");
            return;
        }
        self.run(
            vec!["step inbox".to_string(); n],
            format!("Running {n} inboxes"),
        );
    }

    /// Stop: terminate the worker, start a new one and replay the commands completed so far.
    fn stop(self) {
        let Some((_, _, label)) = self.running.get_untracked() else {
            return;
        };
        web::stop_worker(Slot::Playground);
        self.running.set(None);
        self.progress.set(None);
        self.start_worker();
        let commands = self.commands.get_untracked();
        self.append(&format!("Stopped `{label}`.\n"));
        self.load(commands);
        self.message
            .set(format!("Stopped {label}; restoring the state before it..."));
    }

    fn session(self) -> Option<Session> {
        let (name, file) = self.kernel.get_untracked()?;
        let mut s = Session::new(&name, &file, &self.inputs.get_untracked());
        s.commands = self.commands.get_untracked();
        Some(s)
    }

    fn save(self) {
        if let Some(s) = self.session() {
            web::save_item(session::STORAGE_KEY, &s.to_storage());
        }
    }

    fn restore(self) {
        let fragment = web::fragment();
        let restored =
            match session::fragment_param(&fragment, session::FRAGMENT_KEY) {
                Some(f) => Session::from_fragment(f).map(Some),
                None => Ok(web::load_item(session::STORAGE_KEY)
                    .and_then(|t| Session::from_storage(&t).ok())),
            };
        match restored {
            Ok(Some(s)) => match s.kernel_file() {
                Ok(file) => {
                    self.kernel.set(Some((s.kernel_name.clone(), file)));
                    self.inputs.set(s.inputs.clone());
                    self.load(s.commands);
                }
                Err(e) => self.error.set(Some(e.to_string())),
            },
            Ok(None) => {}
            Err(e) => self.error.set(Some(e.to_string())),
        }
    }

    fn share_link(self) {
        match self.session() {
            None => self.share.set(String::new()),
            Some(s) => match s.to_fragment() {
                Some(f) => {
                    web::set_fragment(&format!("page=playground&{}={f}", session::FRAGMENT_KEY));
                    self.share.set(format!(
                        "{}#page=playground&{}={f}",
                        web::page_url(),
                        session::FRAGMENT_KEY
                    ));
                    self.message
                        .set("Share link ready: anyone opening it replays this session.".into());
                }
                None => {
                    self.share.set(String::new());
                    self.message.set(format!(
                        "This session is too large for a URL (over {} characters); it stays in this browser's storage.",
                        session::MAX_SHARE_CHARS
                    ));
                }
            },
        }
    }
}

fn event_files(ev: &web_sys::Event) -> Option<web_sys::File> {
    let input: web_sys::HtmlInputElement = ev.target()?.dyn_into().ok()?;
    input.files()?.get(0)
}

fn pick_file(pg: Playground, file: web_sys::File) {
    spawn_local(async move {
        match web::file_bytes(&file).await {
            Ok(bytes) => {
                pg.kernel.set(Some((file.name(), bytes)));
                pg.load(Vec::new());
            }
            Err(e) => pg.error.set(Some(e)),
        }
    });
}

/// The step buttons: (label, command).
const STEP_BUTTONS: [(&str, &str); 5] = [
    ("step tick", "step tick"),
    ("step result", "step result"),
    ("step kernel_run", "step kernel_run"),
    ("step inbox", "step inbox"),
    ("load inputs", "load inputs"),
];

#[component]
fn PlaygroundPage(pg: Playground) -> impl IntoView {
    let example = RwSignal::new(1usize);
    let load_example = move |_| {
        let (_, name, text, inputs) = EXAMPLES[example.get_untracked()];
        pg.kernel.set(Some((name.into(), text.as_bytes().to_vec())));
        pg.inputs.set(inputs.into());
        pg.load(Vec::new());
    };
    let busy = move || pg.running.with(Option::is_some);
    let loaded = move || pg.snapshot.with(Option::is_some);
    let on_drop = move |ev: web_sys::DragEvent| {
        ev.prevent_default();
        if let Some(file) = ev
            .data_transfer()
            .and_then(|d| d.files())
            .and_then(|f| f.get(0))
        {
            pick_file(pg, file);
        }
    };
    let submit = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let line = pg.line.get_untracked();
        pg.command(&line);
        pg.line.set(String::new());
    };
    view! {
        <section aria-labelledby="playground-title">
            <h2 id="playground-title">"Playground"</h2>
            <p class="lead">"Run a smart-rollup kernel on an inbox, step by step, with the commands of the octez WASM debugger: this is the session of soru debug, running in a Web Worker. The page stays responsive and Stop aborts a command."</p>
            <div class="grid two">
                <div class="card">
                    <h3>"Kernel"</h3>
                    <label for="kernel-file">"Kernel file (.wasm, .wat or .hex)"</label>
                    <input id="kernel-file" type="file" accept=".wasm,.wat,.wast,.hex"
                        on:change=move |ev| if let Some(f) = event_files(&ev) { pick_file(pg, f) }/>
                    <div class="drop" on:dragover=|ev: web_sys::DragEvent| ev.prevent_default() on:drop=on_drop>
                        "or drop a kernel file here"
                    </div>
                    <label for="example">"Bundled example"</label>
                    <div class="row">
                        <select id="example" on:change=move |ev| example.set(event_target_value(&ev).parse().unwrap_or(0))>
                            {EXAMPLES.iter().enumerate().map(|(i, (label, ..))| view! {
                                <option value=i.to_string() selected=i == 1>{*label}</option>
                            }).collect_view()}
                        </select>
                        <button on:click=load_example disabled=busy>"Load example"</button>
                    </div>
                    <p class="muted">{move || pg.kernel.with(|k| match k {
                        Some((name, bytes)) => format!("Kernel: {name} ({} bytes)", bytes.len()),
                        None => "No kernel loaded.".into(),
                    })}</p>
                </div>
                <div class="card">
                    <h3>"Inputs"</h3>
                    <label for="inputs">"Inbox (octez debugger JSON: one list of messages per level)"</label>
                    <textarea id="inputs" rows="7" spellcheck="false"
                        prop:value=move || pg.inputs.get()
                        on:input=move |ev| pg.inputs.set(event_target_value(&ev))></textarea>
                    <button on:click=move |_| pg.load(Vec::new()) disabled=move || busy() || pg.kernel.with(Option::is_none)>
                        "Reload kernel with these inputs"
                    </button>
                </div>
            </div>
            <div class="card controls">
                <div class="row wrap">
                    {STEP_BUTTONS.into_iter().map(|(text, line)| view! {
                        <button class="mono" on:click=move |_| pg.command(line)
                            disabled=move || busy() || !loaded()>{text}</button>
                    }).collect_view()}
                    <button on:click=move |_| pg.run_all() disabled=move || busy() || !loaded()>"Run all inboxes"</button>
                    <button class="stop" on:click=move |_| pg.stop() disabled=move || !busy()>"Stop"</button>
                    <button on:click=move |_| pg.share_link() disabled=move || !loaded()>"Share link"</button>
                </div>
                {move || busy().then(|| view! {
                    <progress aria-label="PVM progress"
                        max=move || pg.progress.with(|p| p.as_ref().map(|p| p.total.to_string()))
                        value=move || pg.progress.with(|p| p.as_ref().map(|p| p.done.to_string()))
                    ></progress>
                })}
                <p id="playground-status" class="status" role="status" aria-live="polite">{move || pg.message.get()}</p>
                {move || pg.error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                {move || (!pg.share.with(String::is_empty)).then(|| view! {
                    <label for="share-url">"Share link"</label>
                    <input id="share-url" readonly prop:value=move || pg.share.get()/>
                })}
                <form class="command" on:submit=submit>
                    <label for="command">"Debugger command (soru debug's commands, Tab completes; try help, show status, ls /, show key /counter as i32)"</label>
                    <div class="row">
                        <input id="command" class="mono grow" spellcheck="false" autocomplete="off"
                            placeholder="show status"
                            prop:value=move || pg.line.get()
                            on:input=move |ev| { pg.line.set(event_target_value(&ev)); pg.hint.set(None); }
                            on:keydown=move |ev: web_sys::KeyboardEvent| if ev.key() == "Tab" && !ev.shift_key() {
                                ev.prevent_default();
                                pg.complete();
                            }/>
                        <button type="submit" disabled=move || busy() || !loaded()>"Run"</button>
                    </div>
                </form>
                {move || pg.hint.get().map(|h| view! { <p class="muted mono small" id="completions">{h}</p> })}
                <h3>"Debugger output"</h3>
                <pre id="transcript" class="log transcript" tabindex="0" aria-label="Debugger output"><span>{move || pg.transcript.get()}</span></pre>
            </div>
            {move || pg.flame.get().map(|root| view! {
                <div class="card">
                    <h3>"Profile: fuel per kernel function"</h3>
                    <p class="muted">{format!("The last profile command: {} fuel in all. Each bar is a function, as wide as the fuel of its calls (callees included); hover for numbers.", view::grouped(&root.fuel.to_string()))}</p>
                    <div id="flamegraph" class="flame" role="img" aria-label="Flame graph of the last profile">
                        {root.children.iter().map(|c| flame_view(c, root.fuel)).collect_view()}
                    </div>
                </div>
            })}
            {move || pg.snapshot.get().map(|s| view! { <Panels s=s pg=pg/> })}
        </section>
    }
}

#[component]
fn Panels(s: Snapshot, pg: Playground) -> impl IntoView {
    let value_view = RwSignal::new(ValueView::Hex);
    let next = match s.loading {
        Some((level, fed, left)) => format!("loading level {level}: {fed} inputs fed, {left} left"),
        None if s.levels_fed >= s.levels_total && s.status == "waiting_for_input" => {
            "every inbox has run".into()
        }
        None if s.status == "waiting_for_input" => {
            format!("inbox {} of {}", s.levels_fed + 1, s.levels_total)
        }
        None => "kernel_run".into(),
    };
    let trap = s.trapped.then(|| match &s.trap {
        Some(site) => format!(
            "The last kernel_run trapped. {site}. /readonly/kernel/env/stuck is set; the PVM continues at the next level."
        ),
        None => "The last kernel_run trapped: /readonly/kernel/env/stuck is set; the PVM continues at the next level.".to_string(),
    });
    let tree = view::durable_tree(s.durable.iter().map(|(k, _)| k.as_str()));
    let values = s.durable.clone();
    let lengths = s.durable_lengths.clone();
    let pending = s.pending_reveal.clone();
    let reveal = move |hex_text: String| {
        let line = format!("reveal preimage {}", hex_text.trim());
        pg.run(vec![line], "reveal preimage".into());
    };
    let preimage_url = RwSignal::new(String::new());
    let preimage_hex = RwSignal::new(String::new());
    let fetch_preimage = move |hash: String| {
        let url = format!("{}/{hash}", rpc::base(&preimage_url.get_untracked()));
        spawn_local(async move {
            match web::fetch_bytes(&url).await {
                Ok(bytes) => reveal(hex::encode(bytes)),
                Err(e) => pg.error.set(Some(e.to_string())),
            }
        });
    };
    let total_values = tree.count_values();
    let (mem_address, mem_length, mem_text) = (pg.mem_address, pg.mem_length, pg.mem_text);
    let show_memory = move |_| match view::memory_command(
        &mem_address.get_untracked(),
        &mem_length.get_untracked(),
        mem_text.get_untracked(),
    ) {
        Ok(line) => pg.command(&line),
        Err(e) => pg.memory.set(e),
    };
    view! {
        {pending.map(|(kind, hash)| {
            let h = hash.clone();
            view! {
                <div class="card attention">
                    <h3>"The kernel waits for a reveal"</h3>
                    <p>{format!("Request: {kind} {hash}")}</p>
                    <label for="preimage-url">"Preimage server URL (GET <url>/<hash in hex>)"</label>
                    <div class="row">
                        <input id="preimage-url" placeholder="https://example.org/preimages"
                            on:input=move |ev| preimage_url.set(event_target_value(&ev))/>
                        <button on:click=move |_| fetch_preimage(h.clone())>"Fetch preimage"</button>
                    </div>
                    <label for="preimage-hex">"Or paste the preimage (hex)"</label>
                    <textarea id="preimage-hex" rows="3" on:input=move |ev| preimage_hex.set(event_target_value(&ev))></textarea>
                    <button on:click=move |_| reveal(preimage_hex.get_untracked())>"Provide preimage"</button>
                </div>
            }
        })}
        <div class="grid three">
            <div class="card">
                <h3>"Status"</h3>
                <pre class="mono small status-text">{s.status_text.clone()}</pre>
                <dl class="facts">
                    <dt>"Status"</dt><dd id="pvm-status">{s.status.clone()}</dd>
                    <dt>"Level"</dt><dd>{s.level.map(|l| l.to_string()).unwrap_or_else(|| "none yet".into())}</dd>
                    <dt>"Next"</dt><dd>{next}</dd>
                    <dt>"Inboxes started"</dt><dd>{format!("{} of {}", s.levels_fed, s.levels_total)}</dd>
                    <dt>"Ticks"</dt><dd>{view::grouped(&s.ticks)}</dd>
                    <dt>"Fuel (total)"</dt><dd>{view::grouped(&s.fuel.to_string())}</dd>
                    <dt>"kernel_run calls"</dt><dd>{s.kernel_runs}</dd>
                    <dt>"Reboots left"</dt><dd>{s.reboot_counter}</dd>
                    <dt>"State hash"</dt><dd class="mono break">{s.state_hash.clone()}</dd>
                </dl>
                {s.stuck_reason.clone().map(|r| view! { <p class="error">{format!("Stuck for good: {r}")}</p> })}
                {trap.map(|t| view! { <p class="error">{t}</p> })}
            </div>
            <div class="card">
                <h3>{format!("Outbox ({})", s.outbox.len())}</h3>
                {if s.outbox.is_empty() {
                    view! { <p class="muted">"No outbox messages yet."</p> }.into_any()
                } else {
                    view! { <ol class="outbox">{s.outbox.iter().map(|o| view! {
                        <li class="outbox-message">
                            <p><strong>{format!("Level {}, message {}", o.level, o.index)}</strong></p>
                            {match &o.decoded {
                                Ok(json) => view! { <pre class="json">{json.clone()}</pre> }.into_any(),
                                Err(e) => view! { <p class="muted">{e.clone()}</p> }.into_any(),
                            }}
                            <p class="mono break small">{view::short_hex(&hex::decode(&o.hex).unwrap_or_default(), 96)}</p>
                        </li>
                    }).collect_view()}</ol> }.into_any()
                }}
            </div>
            <div class="card">
                <h3>{format!("Debug log ({})", s.debug.len())}</h3>
                <pre class="log" tabindex="0" aria-label="Debug log">{s.debug.iter().map(|(l, m)| format!("[level {l}] {m}\n")).collect::<String>()}</pre>
            </div>
        </div>
        <div class="grid two">
            <div class="card">
                <h3>{format!("Durable storage ({total_values} values)")}</h3>
                <label for="value-view">"Show values as"</label>
                <select id="value-view" on:change=move |ev| value_view.set(ValueView::parse(&event_target_value(&ev)).unwrap_or_default())>
                    {ValueView::ALL.into_iter().map(|v| view! { <option value=v.label()>{v.label()}</option> }).collect_view()}
                </select>
                <div class="tree">{tree.children.into_iter().map(|n| tree_view(n, values.clone(), lengths.clone(), value_view)).collect_view()}</div>
            </div>
            <div class="card">
                <h3>"Memory"</h3>
                <p class="muted">"The kernel's memory, inside a run (after step tick or step result), through the debugger's show memory."</p>
                <div class="row wrap">
                    <div><TextField id="memory-address" label="Address" value=mem_address numeric=true/></div>
                    <div><TextField id="memory-length" label="Bytes" value=mem_length numeric=true/></div>
                    <div>
                        <label for="memory-as">"Show as"</label>
                        <select id="memory-as" on:change=move |ev| mem_text.set(event_target_value(&ev) == "string")>
                            <option value="hex" selected=move || !mem_text.get()>"hex"</option>
                            <option value="string" selected=move || mem_text.get()>"string"</option>
                        </select>
                    </div>
                    <button on:click=show_memory>"Show memory"</button>
                </div>
                <pre id="memory" class="mono small log" aria-label="Memory">{move || pg.memory.get()}</pre>
                <h3>"Inbox"</h3>
                <ol class="inbox">{s.inbox.iter().enumerate().map(|(i, (level, msgs))| {
                    let done = i < s.levels_fed;
                    view! {
                        <li>
                            <strong>{format!("Level {level}{}", if done { " (run)" } else { "" })}</strong>
                            <ul>{msgs.iter().map(|m| view! { <li class="mono small break">{m.clone()}</li> }).collect_view()}</ul>
                        </li>
                    }
                }).collect_view()}</ol>
            </div>
        </div>
    }
}

/// One frame of the flame graph and its callees, `parent` the fuel of the frame above.
fn flame_view(node: &FlameNode, parent: i64) -> AnyView {
    let pct = if parent > 0 {
        node.fuel as f64 * 100.0 / parent as f64
    } else {
        0.0
    };
    let title = format!("{}: {} fuel ({pct:.1}%)", node.name, node.fuel);
    view! {
        <div class="flame-frame" style=format!("width: {pct:.3}%")>
            <div class="flame-bar mono small" title=title.clone()>{node.name.clone()}</div>
            <div class="flame-children">
                {node.children.iter().map(|c| flame_view(c, node.fuel)).collect_view()}
            </div>
        </div>
    }
    .into_any()
}

fn tree_view(
    node: TreeNode,
    values: Vec<(String, Vec<u8>)>,
    lengths: Vec<usize>,
    value_view: RwSignal<ValueView>,
) -> AnyView {
    let value = node.value.map(|i| {
        let bytes = values[i].1.clone();
        let len = lengths[i];
        view! { <span class="value mono">" = "{move || view::show_value(value_view.get(), &bytes, len)}</span> }
    });
    if node.children.is_empty() {
        view! { <div class="leaf"><span class="mono">{node.name}</span>{value}</div> }.into_any()
    } else {
        let open =
            node.path.split('/').count() <= 2 && node.path != "/kernel" && node.path != "/readonly";
        view! {
            <details open=open>
                <summary><span class="mono">{node.name}</span>{value}</summary>
                {node.children.into_iter().map(|c| tree_view(c, values.clone(), lengths.clone(), value_view)).collect_view()}
            </details>
        }
        .into_any()
    }
}

/// The placeholder of rollup node URL fields (octez's default RPC port).
const NODE_PLACEHOLDER: &str = "http://127.0.0.1:8932";

/// A labelled one-line text field bound to `value`.
#[component]
fn TextField(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] numeric: bool,
) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <input id=id placeholder=placeholder inputmode=numeric.then_some("numeric") spellcheck="false"
            prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
    }
}

#[component]
fn VerifyPage() -> impl IntoView {
    let proof = RwSignal::new(String::new());
    let target = RwSignal::new(String::new());
    let result: RwSignal<Option<Result<Outcome, String>>> = RwSignal::new(None);
    let note = RwSignal::new(String::new());
    let node = RwSignal::new(String::new());
    let level = RwSignal::new(String::new());
    let index = RwSignal::new("0".to_string());
    let l1 = RwSignal::new(String::new());
    // Where the fetched proof and commitment came from (cleared when the proof is edited).
    let source = RwSignal::new(String::new());
    let run = move || {
        let checked = (|| {
            let p = verify::parse_proof(&proof.get_untracked()).map_err(|e| e.to_string())?;
            let t = verify::parse_target(&target.get_untracked()).map_err(|e| e.to_string())?;
            let start = web::millis();
            let outcome = verify::verify(&p, &t, None);
            note.set(format!(
                "Verified locally in {:.1} ms.",
                web::millis() - start
            ));
            Ok(outcome)
        })();
        result.set(Some(checked));
    };
    let example = move |file: &'static str, corrupted: bool| {
        spawn_local(async move {
            let url = format!("examples/{file}");
            let loaded = web::fetch_text(&url)
                .await
                .map_err(|e| format!("{e} (examples are copied into dist/ by make web when ../shared/vectors exists)"))
                .and_then(|t| verify::parse_vector(&t).map_err(|e| format!("{url}: {e}")));
            match loaded {
                Ok(v) => {
                    let p = if corrupted {
                        v.corrupted.unwrap_or_default()
                    } else {
                        v.proof
                    };
                    proof.set(p);
                    target.set(v.state_hash);
                    source.set(String::new());
                    note.set(format!("Loaded {file}."));
                    run();
                }
                Err(e) => result.set(Some(Err(e))),
            }
        });
    };
    let fetch_from_node = move |_| {
        let n = node.get_untracked();
        let lv = level.get_untracked().trim().parse::<u32>();
        let ix = index.get_untracked().trim().parse::<u64>();
        let (Ok(lv), Ok(ix)) = (lv, ix) else {
            result.set(Some(Err(
                "outbox level and message index must be non-negative integers".into(),
            )));
            return;
        };
        result.set(None);
        note.set(String::new());
        spawn_local(async move {
            let fetched: Result<(), String> = async {
                let url = rpc::outbox_proof_url(&n, lv, ix);
                let body = web::fetch_text(&url).await.map_err(|e| e.to_string())?;
                let (commitment, p) = rpc::parse_outbox_proof(&url, &body).map_err(|e| e.to_string())?;
                proof.set(p);
                let hash = soru_verifier::CommitmentHash::from_b58check(&commitment)
                    .map_err(|e| format!("GET {url}: commitment {commitment:?}: {e}"))?;
                let l1 = l1.get_untracked();
                if l1.trim().is_empty() {
                    let curl = rpc::commitment_url(&n, &hash);
                    let cbody = web::fetch_text(&curl).await.map_err(|e| e.to_string())?;
                    target.set(cbody.trim().to_string());
                    source.set(format!("The proof and commitment {commitment} come from the rollup node; give an L1 node URL to take the commitment from the L1 and see that it is cemented."));
                    return Ok(());
                }
                // The commitment from the L1, and whether the L1 has cemented it.
                let rurl = rpc::rollup_address_url(&n);
                let rbody = web::fetch_text(&rurl).await.map_err(|e| e.to_string())?;
                let rollup = rpc::parse_string(&rurl, &rbody)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("GET {rurl}: no rollup address"))?;
                let curl = rpc::l1_commitment_url(&l1, &rollup, &hash);
                let cbody = web::fetch_text(&curl).await.map_err(|e| e.to_string())?;
                let c = rpc::parse_l1_commitment(&curl, &cbody, &hash).map_err(|e| e.to_string())?;
                let lurl = rpc::l1_lcc_url(&l1, &rollup);
                let lbody = web::fetch_text(&lurl).await.map_err(|e| e.to_string())?;
                let (lcc, lcc_level) = rpc::parse_lcc(&lurl, &lbody).map_err(|e| e.to_string())?;
                target.set(c.to_json().to_string());
                source.set(if lcc == hash {
                    format!("The commitment {commitment} comes from the L1, which has cemented it: it is rollup {rollup}'s last cemented commitment.")
                } else if c.inbox_level <= lcc_level {
                    format!("The commitment {commitment} comes from the L1; its inbox level {} is at or below the last cemented level {lcc_level} (last cemented commitment {}).", c.inbox_level, lcc.to_b58check())
                } else {
                    format!("The commitment {commitment} comes from the L1 but is not cemented yet: the last cemented level is {lcc_level}, the commitment's {}.", c.inbox_level)
                });
                Ok(())
            }
            .await;
            match fetched {
                Ok(()) => run(),
                Err(e) => result.set(Some(Err(e))),
            }
        });
    };
    view! {
        <section aria-labelledby="verify-title">
            <h2 id="verify-title">"Verify withdrawal"</h2>
            <p class="lead">"Check an octez output proof against the state hash of a cemented commitment, in this page, without trusting a server. A valid proof shows the outbox message it proves."</p>
            <div class="grid two">
                <div class="card">
                    <label for="proof">"Output proof (hex)"</label>
                    <textarea id="proof" rows="8" spellcheck="false" prop:value=move || proof.get()
                        on:input=move |ev| { proof.set(event_target_value(&ev)); source.set(String::new()); }></textarea>
                    <label for="state-hash">"State hash or commitment (srs1..., 64 hex digits, or the commitment's JSON or hex)"</label>
                    <input id="state-hash" spellcheck="false" prop:value=move || target.get()
                        on:input=move |ev| target.set(event_target_value(&ev))/>
                    <button class="primary" on:click=move |_| run()>"Verify proof"</button>
                    <h3>"Examples (real octez proofs)"</h3>
                    <div class="row wrap">
                        {VECTORS.into_iter().map(|(label, file, corrupted)| view! {
                            <button on:click=move |_| example(file, corrupted)>{label}</button>
                        }).collect_view()}
                    </div>
                </div>
                <div class="card">
                    <h3>"Fetch from a rollup node"</h3>
                    <TextField id="verify-node" label="Rollup node URL" value=node placeholder=NODE_PLACEHOLDER/>
                    <div class="row">
                        <div><TextField id="outbox-level" label="Outbox level" value=level numeric=true/></div>
                        <div><TextField id="message-index" label="Message index" value=index numeric=true/></div>
                    </div>
                    <TextField id="verify-l1" label="L1 node URL (optional: take the commitment from the L1)" value=l1 placeholder="http://127.0.0.1:8732"/>
                    <button on:click=fetch_from_node>"Fetch proof and commitment"</button>
                    <p class="muted">"Uses GET /global/block/head/helpers/proofs/outbox/<level>/messages?index=<i>, then the commitment from the L1 (.../smart_rollup/<sr1>/commitment/<hash> and last_cemented_commitment_hash_with_level) or from the rollup node (/local/commitments/<hash>). The nodes must allow this page's origin (CORS)."</p>
                </div>
            </div>
            <div id="verify-result" class="card result" role="status" aria-live="polite">
                {move || match result.get() {
                    None => view! { <p class="muted">"No proof checked yet."</p> }.into_any(),
                    Some(Err(e)) => view! { <p class="error">{format!("Cannot verify: {e}")}</p> }.into_any(),
                    Some(Ok(Outcome::Valid { outbox_level, message_index, message_hex, decoded, state_hash })) => view! {
                        <p class="valid"><strong>"Valid proof"</strong>{format!(": message {message_index} of the outbox of level {outbox_level} is in state {state_hash}.")}</p>
                        {match decoded {
                            Ok(json) => view! { <pre class="json">{json}</pre> }.into_any(),
                            Err(e) => view! { <p class="muted">{e}</p> }.into_any(),
                        }}
                        <p class="mono break small">{message_hex}</p>
                        <p class="muted">{note.get()}</p>
                        {move || (!source.with(String::is_empty)).then(|| view! { <p id="verify-source" class="muted">{source.get()}</p> })}
                    }.into_any(),
                    Some(Ok(Outcome::Invalid { reason, state_hash })) => view! {
                        <p class="invalid"><strong>"Invalid proof"</strong>{format!(" for state {state_hash}: {reason}")}</p>
                        <p class="muted">{note.get()}</p>
                        {move || (!source.with(String::is_empty)).then(|| view! { <p id="verify-source" class="muted">{source.get()}</p> })}
                    }.into_any(),
                }}
            </div>
        </section>
    }
}

/// Levels the checker replays from origination at most (where the node serves no witnesses;
/// a full replay suits small rollups).
const MAX_REPLAY_LEVELS: u32 = 5_000;
/// Commitments the checker follows back to the genesis commitment at most.
const MAX_COMMITMENTS: usize = 5_000;
/// Witness bytes (hex digits / 2) the page holds for one check at most.
const MAX_WITNESSES_TOTAL: usize = 256 << 20;

/// The checker's state (all signals, so it is `Copy`).
#[derive(Clone, Copy)]
struct Checker {
    rows: RwSignal<Vec<CheckedCommitment>>,
    status: RwSignal<String>,
    error: RwSignal<Option<String>>,
    /// The worker request running, if any.
    running: RwSignal<Option<u32>>,
    /// Whether the page is fetching from the node.
    fetching: RwSignal<bool>,
    progress: RwSignal<Option<Progress>>,
    next_id: RwSignal<u32>,
    /// Bumped by Stop: a fetch loop of an older generation gives up.
    generation: RwSignal<u32>,
    started: RwSignal<f64>,
    /// The node being checked (named in the result).
    node: RwSignal<String>,
    /// Commitments in the chain being checked.
    total: RwSignal<usize>,
}

/// The status line after a check: counts, how each commitment was checked, the first failure.
fn check_summary(node: &str, rows: &[CheckedCommitment], levels: usize, millis: f64) -> String {
    let count = |f: &dyn Fn(&CheckedCommitment) -> bool| rows.iter().filter(|r| f(r)).count();
    let valid = count(&|r| r.verdict.is_valid());
    let invalid = count(&|r| matches!(r.verdict, Verdict::Invalid(_)));
    let unestablished = rows.len() - valid - invalid;
    let by_witness = count(&|r| matches!(r.method, Method::Witness { .. }));
    let replayed = count(&|r| matches!(r.method, Method::Replay { .. }));
    let mut text = format!(
        "Checked {} commitments from {node}: {valid} valid, {invalid} invalid, {unestablished} not established (the genesis commitment by its kernel at origination, {by_witness} by the node's witness of their period, {replayed} by a replay of {levels} levels from origination where the node served no witness) in {millis:.0} ms.",
        rows.len()
    );
    let on_l1 = count(&|r| r.inboxes_on_l1);
    if on_l1 > 0 {
        text.push_str(&format!(
            " The inboxes of {on_l1} of them were checked against the L1's."
        ));
    }
    if let Some(r) = rows
        .iter()
        .find(|r| matches!(r.verdict, Verdict::Invalid(_)))
    {
        text.push_str(&format!(" First invalid: {}.", r.summary()));
    } else if let Some(r) = rows.iter().find(|r| !r.verdict.is_valid()) {
        text.push_str(&format!(" First not established: {}.", r.summary()));
    }
    text
}

impl Checker {
    fn new() -> Checker {
        let c = Checker {
            rows: RwSignal::new(Vec::new()),
            status: RwSignal::new("Point at a rollup node and press Check.".into()),
            error: RwSignal::new(None),
            running: RwSignal::new(None),
            fetching: RwSignal::new(false),
            progress: RwSignal::new(None),
            next_id: RwSignal::new(1),
            generation: RwSignal::new(0),
            started: RwSignal::new(0.0),
            node: RwSignal::new(String::new()),
            total: RwSignal::new(0),
        };
        c.start_worker();
        c
    }

    fn busy(self) -> bool {
        self.running.with(Option::is_some) || self.fetching.get()
    }

    fn busy_untracked(self) -> bool {
        self.running.with_untracked(Option::is_some) || self.fetching.get_untracked()
    }

    fn start_worker(self) {
        if let Err(e) = web::start_worker(Slot::Checker, move |m| self.on_message(m)) {
            self.error.set(Some(e));
        }
    }

    fn on_message(self, m: FromWorker) {
        let current = self.running.get_untracked();
        match m {
            FromWorker::Progress { id, progress } if Some(id) == current => {
                self.status.set(format!(
                    "Checking in the worker: {} ({} of {})...",
                    progress.text, progress.done, progress.total
                ));
                self.progress.set(Some(progress));
            }
            FromWorker::Commitment { id, index, row } if Some(id) == current => {
                self.rows.update(|rows| {
                    rows.truncate(index);
                    rows.push(row);
                });
            }
            FromWorker::Checked {
                id,
                verdicts,
                error,
                levels,
                millis: _,
            } if Some(id) == current => {
                self.running.set(None);
                self.progress.set(None);
                match error {
                    Some(e) => {
                        self.status.set("Check failed.".into());
                        self.error.set(Some(e));
                    }
                    None => {
                        self.status.set(check_summary(
                            &self.node.get_untracked(),
                            &verdicts,
                            levels,
                            web::millis() - self.started.get_untracked(),
                        ));
                        self.rows.set(verdicts);
                    }
                }
            }
            FromWorker::Done {
                id: 0,
                error: Some(e),
                ..
            } => {
                self.running.set(None);
                self.error.set(Some(e));
            }
            _ => {}
        }
    }

    fn stop(self) {
        if !self.busy_untracked() {
            return;
        }
        self.generation.update(|g| *g += 1);
        if self.running.get_untracked().is_some() {
            web::stop_worker(Slot::Checker);
            self.start_worker();
        }
        self.running.set(None);
        self.fetching.set(false);
        self.progress.set(None);
        let done = self.rows.with_untracked(Vec::len);
        self.status.set(format!(
            "Stopped the check of {}: {done} of {} commitments decided.",
            self.node.get_untracked(),
            self.total.get_untracked()
        ));
    }

    /// Fetches the chain, the kernel, the witnesses (and where the node serves none, the
    /// inboxes from origination) from `node`, and with an `l1` node the L1's level witness of
    /// every level the chain covers, then checks in the worker. `Ok` also when stopped.
    async fn check(self, node: String, l1: String) -> Result<(), String> {
        let generation = self.generation.get_untracked();
        let stopped = move || self.generation.get_untracked() != generation;
        let get = |url: String| async move { web::fetch_text(&url).await.map(|b| (url, b)) };
        let (url, body) = get(rpc::last_stored_url(&node))
            .await
            .map_err(|e| e.to_string())?;
        let Some(newest) = rpc::parse_commitment(&url, &body).map_err(|e| e.to_string())? else {
            self.status.set("The node has no commitment yet.".into());
            return Ok(());
        };
        // Back through predecessors to the genesis commitment.
        let mut chain = vec![newest];
        while !rpc::is_genesis(&chain[chain.len() - 1].0) {
            let last = chain[chain.len() - 1].0;
            if last.inbox_level < 0 || chain.len() >= MAX_COMMITMENTS {
                return Err(format!(
                    "the chain does not reach a genesis commitment within {MAX_COMMITMENTS} commitments"
                ));
            }
            self.status.set(format!(
                "Fetching commitments: {} so far, back to inbox level {}...",
                chain.len(),
                last.inbox_level
            ));
            let (url, body) = get(rpc::commitment_url(&node, &last.predecessor))
                .await
                .map_err(|e| e.to_string())?;
            if stopped() {
                return Ok(());
            }
            match rpc::parse_commitment(&url, &body).map_err(|e| e.to_string())? {
                Some(c) => chain.push(c),
                None => return Err(format!("GET {url}: the node answered null")),
            }
        }
        chain.reverse();
        self.total.set(chain.len());
        let origination = chain[0].0.inbox_level as u32;
        let (url, body) = get(rpc::rollup_address_url(&node))
            .await
            .map_err(|e| e.to_string())?;
        let rollup = rpc::parse_string(&url, &body)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("GET {url}: no rollup address"))?;
        // The origination state holds the originated kernel; a node that pruned it (history
        // mode full) still has the current one, which is right when the kernel was never
        // upgraded: the genesis commitment's state hash checks it either way.
        let fetched = match get(rpc::kernel_url(&node, &origination.to_string())).await {
            Err(rpc::RpcError::Status { status: 404, .. }) => {
                get(rpc::kernel_url(&node, "head")).await
            }
            other => other,
        };
        let (url, body) = fetched.map_err(|e| e.to_string())?;
        let kernel_hex = rpc::parse_string(&url, &body)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("GET {url}: no /kernel/boot.wasm"))?;

        // Each period's witness; an answer that is not one (an HTTP error, a malformed body)
        // leaves that commitment to the replay from origination.
        let periods = chain.len() - 1;
        let mut evidence = Vec::with_capacity(periods);
        let mut held = 0;
        for (i, pair) in chain.windows(2).enumerate() {
            let (first, last) = (
                i64::from(pair[0].0.inbox_level) + 1,
                i64::from(pair[1].0.inbox_level),
            );
            self.status.set(format!(
                "Fetching witnesses: commitment {} of {periods} (levels {first}..={last})...",
                i + 1
            ));
            self.progress.set(Some(Progress {
                done: i,
                total: periods,
                text: format!("witness of levels {first}..={last}"),
            }));
            if held > MAX_WITNESSES_TOTAL {
                evidence.push(Evidence::Unavailable(format!(
                    "the page holds at most {MAX_WITNESSES_TOTAL} bytes of witnesses for one check"
                )));
                continue;
            }
            let url = rpc::witness_url(&node, first, last);
            let answer = match get(url.clone()).await {
                Ok((url, body)) => rpc::parse_witness(&url, &body, first, last),
                // The node went away: stop here rather than replay without it.
                Err(e @ rpc::RpcError::Network { .. }) => return Err(e.to_string()),
                Err(e) => Err(e),
            };
            if stopped() {
                return Ok(());
            }
            evidence.push(match answer {
                Ok(w) => {
                    held += w.size;
                    Evidence::Witness(w.hex)
                }
                Err(e) => Evidence::Unavailable(e.to_string()),
            });
        }

        // Where there is no witness, the inboxes from origination up to the newest such
        // commitment, for a replay from origination.
        let last_missing = evidence
            .iter()
            .rposition(|e| matches!(e, Evidence::Unavailable(_)))
            .map(|i| chain[i + 1].0.inbox_level as u32);
        let mut inboxes = Vec::new();
        if let Some(until) = last_missing {
            let span = until.saturating_sub(origination);
            let skipped = if span > MAX_REPLAY_LEVELS {
                Some(format!(
                    "{span} levels from origination (level {origination}) to level {until}, more than the {MAX_REPLAY_LEVELS} this page replays"
                ))
            } else {
                let mut skipped = None;
                for (i, level) in (origination + 1..=until).enumerate() {
                    self.status.set(format!(
                        "The node serves no witness up to level {until}: fetching inboxes to replay from origination, level {level} ({} of {span})...",
                        i + 1
                    ));
                    self.progress.set(Some(Progress {
                        done: i,
                        total: span as usize,
                        text: format!("level {level}"),
                    }));
                    let fetched = match get(rpc::block_url(&node, level)).await {
                        Ok((url, body)) => rpc::parse_block_messages(&url, &body),
                        Err(e) => Err(e),
                    };
                    if stopped() {
                        return Ok(());
                    }
                    match fetched {
                        Ok(messages) => inboxes.push((level, messages)),
                        Err(e @ rpc::RpcError::Network { .. }) => return Err(e.to_string()),
                        Err(e) => {
                            skipped = Some(e.to_string());
                            break;
                        }
                    }
                }
                skipped
            };
            if let Some(why) = skipped {
                inboxes.clear();
                for e in &mut evidence {
                    if let Evidence::Unavailable(reason) = e {
                        reason.push_str(&format!("; no replay from origination: {why}"));
                    }
                }
            }
        }
        // The L1's word on every level the chain covers, when an L1 node was given.
        let mut l1_inboxes = Vec::new();
        if !l1.trim().is_empty() {
            let newest = chain[chain.len() - 1].0.inbox_level as u32;
            let span = newest.saturating_sub(origination);
            if span > MAX_REPLAY_LEVELS {
                return Err(format!(
                    "checking the inboxes against the L1 means fetching {span} levels (origination level {origination} to level {newest}), more than the {MAX_REPLAY_LEVELS} this page fetches; leave the L1 field empty to check on the node's inboxes"
                ));
            }
            for (i, level) in (origination + 1..=newest).enumerate() {
                self.status.set(format!(
                    "Fetching the L1's inbox of level {level} ({} of {span})...",
                    i + 1
                ));
                self.progress.set(Some(Progress {
                    done: i,
                    total: span as usize,
                    text: format!("L1 inbox of level {level}"),
                }));
                let (url, body) = get(rpc::l1_inbox_url(&l1, level))
                    .await
                    .map_err(|e| e.to_string())?;
                if stopped() {
                    return Ok(());
                }
                let witness = rpc::parse_l1_inbox(&url, &body, level).map_err(|e| e.to_string())?;
                l1_inboxes.push((level, witness));
            }
        }
        let request = CheckRequest {
            kernel_hex,
            rollup,
            chain: chain
                .iter()
                .map(|(c, h)| (c.to_json().to_string(), h.to_b58check()))
                .collect(),
            evidence,
            inboxes,
            l1_inboxes,
        };
        let id = self.next_id.get_untracked();
        self.next_id.set(id + 1);
        self.running.set(Some(id));
        self.fetching.set(false);
        self.progress.set(None);
        self.status.set(format!(
            "Checking {} commitments in the worker...",
            chain.len()
        ));
        web::send(
            Slot::Checker,
            &ToWorker::Check {
                id,
                request: Box::new(request),
            },
        )
    }
}

#[component]
fn CheckPage() -> impl IntoView {
    let node = RwSignal::new(String::new());
    let l1 = RwSignal::new(String::new());
    let checker = Checker::new();
    let busy = move || checker.busy();
    let check = move |_| {
        if checker.busy_untracked() {
            return;
        }
        let n = node.get_untracked();
        let l1_url = l1.get_untracked();
        checker.rows.set(Vec::new());
        checker.error.set(None);
        checker.total.set(0);
        checker.started.set(web::millis());
        checker.node.set(rpc::base(&n));
        checker.fetching.set(true);
        checker.status.set(format!("Checking {}...", rpc::base(&n)));
        let generation = checker.generation.get_untracked();
        spawn_local(async move {
            let result = checker.check(n, l1_url).await;
            if checker.generation.get_untracked() != generation {
                return;
            }
            checker.fetching.set(false);
            if let Err(e) = result {
                checker.progress.set(None);
                checker.running.set(None);
                checker.status.set("Check failed.".into());
                checker.error.set(Some(e));
            }
        });
    };
    view! {
        <section aria-labelledby="check-title">
            <h2 id="check-title">"Check commitments"</h2>
            <p class="lead">"Fetch a rollup node's commitment chain back to its genesis commitment and check every commitment in a Web Worker: its hash and its link to the previous one; the genesis commitment's state against the node's kernel at origination; every later one by replaying the node's witness of its period (the part of the state the period reads, and its inboxes) from the previous commitment's state, so each commitment is established only if the one before it is. Where the node serves no witness (a node without the witness RPC, or an error), the rollup is replayed from origination on its inboxes instead (up to 5,000 levels)."</p>
            <div class="card">
                <TextField id="check-node" label="Rollup node URL" value=node placeholder=NODE_PLACEHOLDER/>
                <TextField id="check-l1" label="L1 node URL (optional: check the inboxes against the L1)" value=l1 placeholder="http://127.0.0.1:8732"/>
                <div class="row wrap">
                    <button class="primary" on:click=check disabled=busy>"Check"</button>
                    <button class="stop" on:click=move |_| checker.stop() disabled=move || !busy()>"Stop"</button>
                </div>
                {move || checker.progress.get().map(|p| view! {
                    <progress aria-label="Check progress" max=p.total.to_string() value=p.done.to_string()></progress>
                })}
                <p id="check-status" class="status" role="status" aria-live="polite">{move || checker.status.get()}</p>
                {move || checker.error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <p class="muted">"Uses GET /global/last_stored_commitment, /local/commitments/<hash>, /global/smart_rollup_address, the origination level's /kernel/boot.wasm, and /global/block/<level>/helpers/witness?from=<level> for each period (soru-node); where that fails, /global/block/<level> (its messages) for every level from origination. With an L1 node, every level's inbox is compared with /chains/main/blocks/<level>/context/smart_rollups/all/inbox (the level witness the L1 archived); without one, the inboxes are the rollup node's word."</p>
            </div>
            {move || (!checker.rows.with(Vec::is_empty)).then(|| view! {
                <div class="card scroll">
                    <table id="commitments">
                        <caption>"Commitments, oldest first"</caption>
                        <thead><tr><th scope="col">"Inbox level"</th><th scope="col">"Commitment"</th><th scope="col">"State hash"</th><th scope="col">"Ticks"</th><th scope="col">"Checked by"</th><th scope="col">"Verdict"</th></tr></thead>
                        <tbody>{checker.rows.get().into_iter().map(|c| {
                            let no_witness = match &c.method {
                                Method::Replay { no_witness } | Method::NotReplayed { no_witness } => Some(format!("no witness: {no_witness}")),
                                _ => None,
                            };
                            view! {
                                <tr>
                                    <td data-label="Inbox level">{c.inbox_level}</td>
                                    <td data-label="Commitment" class="mono small break">{c.hash.clone()}</td>
                                    <td data-label="State hash" class="mono small break">{c.state_hash.clone()}</td>
                                    <td data-label="Ticks">{view::grouped(&c.number_of_ticks.to_string())}</td>
                                    <td data-label="Checked by" class="method"><span>{c.method.describe()}{no_witness.map(|w| view! { <span class="muted small break">" ("{w}")"</span> })}</span></td>
                                    <td data-label="Verdict" class="break">{match c.verdict {
                                        Verdict::Valid => view! { <span class="valid">"valid"</span> }.into_any(),
                                        Verdict::Invalid(e) => view! { <span class="invalid">{format!("invalid: {e}")}</span> }.into_any(),
                                        Verdict::Unestablished(e) => view! { <span class="unestablished">{format!("not established: {e}")}</span> }.into_any(),
                                    }}</td>
                                </tr>
                            }
                        }).collect_view()}</tbody>
                    </table>
                </div>
            })}
        </section>
    }
}
