//! `soru debug`: the kernel debugger, with the options and commands of octez's
//! `octez-smart-rollup-wasm-debugger`.
//!
//! This file is the terminal shell only: the session (parsing, execution, octez's wording,
//! completion) is [`soru_core::debugger`], shared with the playground. In a terminal it is a
//! REPL with line editing, history and tab completion of commands and durable paths
//! (rustyline); with `--commands FILE`, or when standard input is not a terminal, it runs the
//! lines as a script, echoing each as `> line`, and exits 0 when the script ran to its end (or
//! to `stop`) and 1 naming the line of the first command that failed (a bad command, path or
//! number, or a step the PVM refused). Lines starting with `#` are comments.
//!
//! When the kernel asks for a preimage that `--preimage-dir` does not have, the shell prints
//! octez's `Preimage <hash> not found in <dir>, or there was a reading error. Please provide it
//! manually.` and reads its hex from the next input line (three tries), as octez does.
//! `time <command>` runs the command and prints how long it took.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use soru_core::abi::PvmVersion;
use soru_core::debugger::{Outcome, ProfileReport, Reply, Session, SessionConfig};
use soru_core::encoding::address::SmartRollupAddress;
use soru_core::inputs;
use soru_core::installer_config::{self, SetInstruction};
use soru_core::pvm::{Pvm, PvmConfig};

use crate::kernel;
use crate::preimages::PreimageDir;

/// Arguments of `soru debug`.
#[derive(Debug, Args)]
pub(super) struct DebugArgs {
    /// The kernel: `.wasm`, `.wat`/`.wast` or `.hex` (hex text of the wasm binary).
    #[arg(long, value_name = "PATH")]
    kernel: PathBuf,
    /// The inboxes `load inputs` and `step inbox` load, one level each: the octez wasm
    /// debugger's JSON inputs.
    #[arg(long, value_name = "PATH")]
    inputs: Option<PathBuf>,
    /// The rollup's address (`sr1...`), revealed to the kernel and the default destination of
    /// transfers. Defaults to the zero address, like the octez debugger.
    #[arg(long, value_name = "sr1...")]
    rollup: Option<String>,
    /// Directory of preimages named by their 33-byte reveal hash in hex (octez's layout).
    #[arg(long, value_name = "DIR")]
    preimage_dir: Option<PathBuf>,
    /// PVM version at origination: `2.0.0-r4`, `2.0.0-r5` (default) or `2.0.0-r6`.
    #[arg(long, short = 'p', value_name = "VERSION", value_parser = super::replay::parse_pvm_version)]
    pvm_version: Option<PvmVersion>,
    /// Hide the kernel's debug messages.
    #[arg(long)]
    no_kernel_debug: bool,
    /// Ticks between two snapshots (the rollup's origination parameter; protocol default
    /// 50,000,000,000,000). Each `kernel_run` also gets this much fuel.
    #[arg(long, value_name = "N", value_parser = super::replay::parse_positive_u128)]
    ticks_per_snapshot: Option<u128>,
    /// Fuel of one `step tick` inside a `kernel_run` (and how often long steps check
    /// breakpoints).
    #[arg(long, value_name = "FUEL", default_value_t = SessionConfig::default().fuel_slice)]
    fuel_slice: u64,
    /// Run the commands of this file instead of reading them from the terminal.
    #[arg(long, value_name = "FILE")]
    commands: Option<PathBuf>,
    /// Installer configuration (`.yaml` or `.json`): its `set` instructions are applied to
    /// durable storage before the first input, as octez's debugger does.
    #[arg(long, value_name = "installer-config.yaml")]
    installer_config: Option<PathBuf>,
    /// Directory where `profile` writes its stacks and flame graph (default: the system's
    /// temporary directory, as octez's).
    #[arg(long = "flamecharts-dir", value_name = "DIR")]
    flamecharts_dir: Option<PathBuf>,
    /// Write the kernel's debug messages to this file, one JSON line per line of output with
    /// the time since the start (octez's format), instead of printing them.
    #[arg(long, value_name = "timings.log")]
    timings_file: Option<PathBuf>,
}

/// Runs `soru debug`.
pub(super) fn run(args: &DebugArgs) -> ExitCode {
    let (session, preimages) = match start(args) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("soru debug: {message}");
            return ExitCode::from(2);
        }
    };
    let flamecharts = args
        .flamecharts_dir
        .clone()
        .unwrap_or_else(std::env::temp_dir);
    let mut shell = Shell {
        session,
        preimages,
        preimage_dir: args.preimage_dir.clone(),
        flamecharts,
    };
    shell.session.set_clock(clock);
    if let Some(path) = &args.timings_file {
        match Timings::create(path) {
            Ok(mut timings) => {
                shell
                    .session
                    .set_debug_sink(Box::new(move |message| timings.add(message)));
            }
            Err(message) => {
                eprintln!("soru debug: {message}");
                return ExitCode::from(2);
            }
        }
    }
    let result = match &args.commands {
        Some(path) => match std::fs::File::open(path) {
            Ok(file) => shell.script(&mut io::BufReader::new(file).lines()),
            Err(e) => Err(format!("cannot read commands {}: {e}", path.display())),
        },
        None if io::stdin().is_terminal() => interactive(shell),
        None => shell.script(&mut io::stdin().lock().lines()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("soru debug: {message}");
            ExitCode::FAILURE
        }
    }
}

fn start(args: &DebugArgs) -> Result<(Session, PreimageDir), String> {
    let kernel = kernel::load(&args.kernel).map_err(|e| e.to_string())?;
    let mut config = PvmConfig::default();
    if let Some(n) = args.ticks_per_snapshot {
        config.ticks_per_snapshot = n;
    }
    if let Some(v) = args.pvm_version {
        config.version = v;
    }
    let mut defaults = inputs::Defaults::default();
    if let Some(rollup) = &args.rollup {
        let address = SmartRollupAddress::from_b58check(rollup)
            .map_err(|e| format!("--rollup {rollup:?} is not a valid sr1 address: {e}"))?;
        config.rollup_address = address.0;
        defaults.destination = address;
    }
    let inboxes = match &args.inputs {
        None => Vec::new(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read inputs {}: {e}", path.display()))?;
            inputs::parse_with(&text, &defaults)
                .map_err(|e| format!("inputs {}: {e}", path.display()))?
                .iter()
                .map(|level| level.iter().map(inputs::Input::to_bytes).collect())
                .collect()
        }
    };
    let preimages = PreimageDir::open(args.preimage_dir.as_deref())?;
    let mut pvm =
        Pvm::new(&kernel, config).map_err(|e| format!("kernel {}: {e}", args.kernel.display()))?;
    if let Some(path) = &args.installer_config {
        for (i, set) in read_installer_config(path)?.iter().enumerate() {
            pvm.set_durable_value(&set.to, &set.value).map_err(|e| {
                format!(
                    "installer config {}: instruction {}: cannot set {}: {e}",
                    path.display(),
                    i + 1,
                    set.to
                )
            })?;
        }
    }
    let session_config = SessionConfig {
        fuel_slice: args.fuel_slice.max(1),
        // With a timings file the debug messages go there only, as in octez.
        kernel_debug: !args.no_kernel_debug && args.timings_file.is_none(),
        ..SessionConfig::default()
    };
    Ok((Session::new(pvm, inboxes, session_config), preimages))
}

/// Reads `--installer-config`: YAML or JSON by its extension, as octez's.
fn read_installer_config(path: &Path) -> Result<Vec<SetInstruction>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read installer config {}: {e}", path.display()))?;
    let parsed = match path.extension().and_then(|e| e.to_str()) {
        Some("yaml" | "yml") => installer_config::parse_yaml(&text),
        Some("json") => installer_config::parse_json(&text),
        _ => {
            return Err(format!(
                "installer config {}: expecting either a .yaml or .json file",
                path.display()
            ))
        }
    };
    parsed.map_err(|e| format!("installer config {}: {e}", path.display()))
}

/// Nanoseconds since the first call: `profile`'s clock.
fn clock() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// `--timings-file`: octez's `Timing_buffer`. Each line of debug output becomes one JSON line
/// `{"elapsed":{"secs":S,"nanos":N},"message":"..."}`, `elapsed` being the time since the
/// debugger started at which the line began (seen at the end of the fuel slice that wrote it);
/// a line still open at exit is written then.
struct Timings {
    out: io::BufWriter<std::fs::File>,
    start: Instant,
    line: Vec<u8>,
    began: std::time::Duration,
}

impl Timings {
    fn create(path: &Path) -> Result<Timings, String> {
        let file = std::fs::File::create(path)
            .map_err(|e| format!("cannot create timings file {}: {e}", path.display()))?;
        Ok(Timings {
            out: io::BufWriter::new(file),
            start: Instant::now(),
            line: Vec::new(),
            began: std::time::Duration::ZERO,
        })
    }

    fn add(&mut self, message: &[u8]) {
        let mut parts = message.split(|&b| b == b'\n').peekable();
        while let Some(part) = parts.next() {
            if self.line.is_empty() {
                self.began = self.start.elapsed();
            }
            self.line.extend_from_slice(part);
            if parts.peek().is_some() {
                self.flush_line();
            }
        }
        let _ = self.out.flush();
    }

    fn flush_line(&mut self) {
        if self.line.is_empty() {
            return;
        }
        let line = serde_json::json!({
            "elapsed": {"secs": self.began.as_secs(), "nanos": self.began.subsec_nanos()},
            "message": String::from_utf8_lossy(&self.line),
        });
        let _ = writeln!(self.out, "{line}");
        self.line.clear();
    }
}

impl Drop for Timings {
    fn drop(&mut self) {
        self.flush_line();
        let _ = self.out.flush();
    }
}

/// The session and what the terminal adds to it.
struct Shell {
    session: Session,
    preimages: PreimageDir,
    preimage_dir: Option<PathBuf>,
    /// Where `profile` writes.
    flamecharts: PathBuf,
}

/// How many times a missing preimage is asked for (octez's `num_retries`).
const PREIMAGE_TRIES: usize = 3;

impl Shell {
    /// Runs one command line: prints its output; `Err` when it failed. `read` gives the next
    /// input line when the kernel needs a preimage.
    fn command(
        &mut self,
        line: &str,
        read: &mut dyn FnMut(&str) -> Option<String>,
    ) -> Result<Flow, ()> {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return Ok(Flow::Continue);
        }
        let (timed, text) = match trimmed.strip_prefix("time ") {
            Some(rest) => (true, rest.trim()),
            None => (false, trimmed),
        };
        let started = Instant::now();
        let mut reply = self.session.execute(text, &mut self.preimages);
        loop {
            print!("{}", reply.output);
            let Outcome::NeedsPreimage(hash) = &reply.outcome else {
                break;
            };
            reply = self.ask_preimage(hash.clone(), read);
        }
        if let Outcome::Profiled(report) = &reply.outcome {
            if let Err(message) = self.write_profile(report) {
                println!("Error: {message}");
                return Err(());
            }
            print!("{}", report.summary());
        }
        if timed {
            println!("took {:?}", started.elapsed());
        }
        match reply.outcome {
            Outcome::Done | Outcome::Profiled(_) => Ok(Flow::Continue),
            Outcome::Stop => Ok(Flow::Stop),
            Outcome::Error | Outcome::NeedsPreimage(_) => Err(()),
        }
    }

    /// Writes `profile`'s stacks (octez's `wasm-debugger-profiling-<time>.out`) and their
    /// SVG flame graph (or flame chart, without `--collapsed`) beside it.
    fn write_profile(&self, report: &ProfileReport) -> Result<(), String> {
        let stamp = profile_stamp(std::time::SystemTime::now());
        let base = format!("wasm-debugger-profiling-{stamp}");
        let stacks = self.flamecharts.join(format!("{base}.out"));
        std::fs::write(&stacks, report.stacks())
            .map_err(|e| format!("cannot write {}: {e}", stacks.display()))?;
        println!("Profiling result can be found in {}", stacks.display());
        draw_flame_graph(report, &self.flamecharts.join(format!("{base}.svg")))
    }

    /// Octez's prompt for a missing preimage: up to [`PREIMAGE_TRIES`] lines of hex.
    fn ask_preimage(
        &mut self,
        hash: Vec<u8>,
        read: &mut dyn FnMut(&str) -> Option<String>,
    ) -> Reply {
        let why = self
            .preimages
            .take_error()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        let dir = self.preimage_dir.as_ref().map_or_else(
            || "the preimage directory (no --preimage-dir given)".to_owned(),
            |d| d.display().to_string(),
        );
        println!(
            "Preimage {} not found in {dir}, or there was a reading error{why}. Please provide it manually.",
            hex::encode(&hash)
        );
        for _ in 0..PREIMAGE_TRIES {
            let Some(line) = read("> ") else {
                break;
            };
            match hex::decode(line.trim()) {
                Ok(data) => {
                    let reply = self.session.provide_preimage(&data, &mut self.preimages);
                    if reply.outcome != Outcome::Error {
                        return reply;
                    }
                    print!("{}", reply.output);
                }
                Err(_) => println!("Error: the data is not a valid hexadecimal value."),
            }
        }
        Reply {
            output: "Too many tries, aborting.\n".to_owned(),
            outcome: Outcome::Error,
        }
    }

    /// Runs `lines` as a script.
    fn script(
        &mut self,
        lines: &mut dyn Iterator<Item = io::Result<String>>,
    ) -> Result<(), String> {
        let mut number = 0usize;
        let mut read_error = None;
        let mut next = |number: &mut usize, read_error: &mut Option<String>| match lines.next() {
            Some(Ok(line)) => {
                *number += 1;
                Some(line)
            }
            Some(Err(e)) => {
                *read_error = Some(format!("cannot read the commands: {e}"));
                None
            }
            None => None,
        };
        while let Some(line) = next(&mut number, &mut read_error) {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            println!("> {trimmed}");
            let at = number;
            let mut read = |prompt: &str| {
                let l = next(&mut number, &mut read_error);
                if let Some(l) = &l {
                    println!("{prompt}{}", l.trim());
                }
                l
            };
            match self.command(&line, &mut read) {
                Ok(Flow::Continue) => {}
                Ok(Flow::Stop) => return Ok(()),
                Err(()) => return Err(format!("line {at}: `{trimmed}` failed")),
            }
        }
        match read_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Draws `report`'s stacks into `svg` with inferno: a flame graph with `--collapsed`, else a
/// flame chart (calls in time order).
#[cfg(not(target_os = "wasi"))]
fn draw_flame_graph(report: &ProfileReport, svg: &Path) -> Result<(), String> {
    let lines: Vec<String> = report
        .stack_fuel()
        .into_iter()
        .filter(|(_, fuel)| *fuel > 0)
        .map(|(stack, fuel)| format!("{stack} {fuel}"))
        .collect();
    if lines.is_empty() {
        println!("No ticks to draw: no flame graph written");
        return Ok(());
    }
    let mut options = inferno::flamegraph::Options::default();
    options.title = String::from("soru debug: profile");
    options.count_name = String::from("ticks");
    options.flame_chart = !report.options.collapsed;
    let file =
        std::fs::File::create(svg).map_err(|e| format!("cannot write {}: {e}", svg.display()))?;
    inferno::flamegraph::from_lines(
        &mut options,
        lines.iter().map(String::as_str),
        io::BufWriter::new(file),
    )
    .map_err(|e| format!("cannot draw {}: {e}", svg.display()))?;
    println!("Flame graph: {}", svg.display());
    Ok(())
}

/// WASI builds write the stacks only.
#[cfg(target_os = "wasi")]
fn draw_flame_graph(_report: &ProfileReport, _svg: &Path) -> Result<(), String> {
    Ok(())
}

/// Octez's time stamp in profile file names (`Ptime.pp_rfc3339 ~frac_s:3`, UTC):
/// `2026-12-02T05:10:48.123-00:00`.
fn profile_stamp(now: std::time::SystemTime) -> String {
    let since = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
    let date = soru_core::encoding::inbox::timestamp_to_json(secs);
    format!(
        "{}.{:03}-00:00",
        date.trim_end_matches('Z'),
        since.subsec_millis()
    )
}

/// What to do after a command.
enum Flow {
    Continue,
    Stop,
}

#[cfg(not(target_os = "wasi"))]
fn interactive(shell: Shell) -> Result<(), String> {
    use rustyline::error::ReadlineError;
    use std::cell::RefCell;
    use std::rc::Rc;
    let mut shell = shell;
    #[cfg(unix)]
    shell.session.set_interrupt(sigint::install());
    let shell = Rc::new(RefCell::new(shell));
    let mut editor: rustyline::Editor<Helper, rustyline::history::DefaultHistory> =
        rustyline::Editor::new().map_err(|e| format!("cannot open the terminal: {e}"))?;
    editor.set_helper(Some(Helper(Rc::clone(&shell))));
    loop {
        let line = match editor.readline("> ") {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => return Ok(()),
            Err(e) => return Err(format!("cannot read the terminal: {e}")),
        };
        if !line.trim().is_empty() {
            let _ = editor.add_history_entry(line.as_str());
        }
        // A preimage prompt reads its lines from the same editor (completion is off meanwhile:
        // the helper cannot borrow the busy shell).
        let mut read = |prompt: &str| editor.readline(prompt).ok();
        let flow = shell.borrow_mut().command(&line, &mut read);
        if let Ok(Flow::Stop) = flow {
            return Ok(());
        }
    }
}

/// Ctrl-C while a command runs: the terminal is not in raw mode then, so it sends SIGINT,
/// which sets the session's interrupt flag instead of killing the process (the step stops at
/// its next fuel slice). At the prompt rustyline reads Ctrl-C as a key and clears the line.
#[cfg(unix)]
mod sigint {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, OnceLock};

    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

    extern "C" fn on_sigint(_signal: libc::c_int) {
        // Async-signal-safe: an atomic load of an initialised OnceLock and an atomic store.
        if let Some(flag) = FLAG.get() {
            flag.store(true, Ordering::SeqCst);
        }
    }

    /// Installs the handler (once) and returns the flag it sets.
    pub(super) fn install() -> Arc<AtomicBool> {
        let flag = Arc::clone(FLAG.get_or_init(|| Arc::new(AtomicBool::new(false))));
        let handler: extern "C" fn(libc::c_int) = on_sigint;
        // SAFETY: the handler only touches atomics (see above); `signal` with a valid
        // function pointer has no other precondition.
        unsafe {
            libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        }
        flag
    }
}

#[cfg(target_os = "wasi")]
fn interactive(mut shell: Shell) -> Result<(), String> {
    shell.script(&mut io::stdin().lock().lines())
}

/// rustyline's view of the session: completion of commands and durable paths.
#[cfg(not(target_os = "wasi"))]
struct Helper(std::rc::Rc<std::cell::RefCell<Shell>>);

#[cfg(not(target_os = "wasi"))]
impl rustyline::completion::Completer for Helper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        match self.0.try_borrow() {
            Ok(shell) => Ok(shell.session.complete(&line[..pos])),
            Err(_) => Ok((pos, Vec::new())),
        }
    }
}

#[cfg(not(target_os = "wasi"))]
impl rustyline::hint::Hinter for Helper {
    type Hint = String;
}

#[cfg(not(target_os = "wasi"))]
impl rustyline::highlight::Highlighter for Helper {}

#[cfg(not(target_os = "wasi"))]
impl rustyline::validate::Validator for Helper {}

#[cfg(not(target_os = "wasi"))]
impl rustyline::Helper for Helper {}
