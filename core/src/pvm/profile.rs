//! Profiling `kernel_run`: fuel (Soru's octez ticks) per kernel function and call stack.
//!
//! [`Pvm::profiling_copy`] gives a copy of a PVM whose kernels run *instrumented*: a copy of
//! each kernel module calls three injected host imports (module `__soru_profile`):
//! - `enter(f)` first thing in every function `f`, whose original body is wrapped in a `loop`
//!   that no branch targets (branches to the function's own label are renumbered to still
//!   return), so the body's instructions are charged after `enter` runs;
//! - `call(site)` before every `call_indirect`, and `returned(site)` after every `call` and
//!   `call_indirect`, so the profiler knows when a callee (or a host function) returned.
//!
//! wasmi charges fuel per Wasm operator (`i32.const` and `call` one unit each, `loop` and
//! `end` none) plus one unit for each block of instructions it meters (a function body, a
//! `loop`, an `if` branch), never for the code it generates, and it charges a block's
//! operators when the block is entered. So the injected code costs exactly [`ENTER_FUEL`] per
//! function entry and [`CALL_FUEL`] per hook at a call site (each in a `loop` of its own, so
//! it is charged only when it runs), whatever the surrounding code. Each hook gives that fuel back to the run (so the instrumented run has
//! the same budget as the real one) and takes it off the frame it was charged to, so the
//! profile of a run adds up to the fuel the run itself uses: the debugger checks this against
//! the uninstrumented run of the same state (see [`crate::debugger`]'s `profile`).
//!
//! Fuel is attributed as wasmi charges it: a block's instructions when the block is entered;
//! a host function's fuel (octez's ticks for the call) goes to a child frame named after the
//! import. A function's closing `return` is charged with its entry, to its caller.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use wasm_encoder::reencode::{self, Reencode};
use wasmparser::{CompositeInnerType, ExternalKind, Operator, Parser, Payload, TypeRef};

use super::{Pvm, PvmError, Wasm};
use crate::host::HostState;

/// The module name of the profiler's injected imports.
pub const PROFILE_MODULE: &str = "__soru_profile";

/// Fuel of the code injected at a function's entry: `i32.const`, `call` and the block
/// metering of the `loop` that wraps the original body.
pub const ENTER_FUEL: u64 = 3;

/// Fuel of one injected hook at a call site: the block metering of the `loop` it is wrapped
/// in, `i32.const` and `call`.
pub const CALL_FUEL: u64 = 3;

/// When a run has this many call-tree nodes, a call merges into any earlier sibling of the
/// same function (the collapsed view), not only into the previous one.
const NODE_CAP: usize = 1 << 20;

/// One node of a [`CallTree`]: a function called from its parent, with the fuel and time
/// spent in it outside its callees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallNode {
    /// Function index in the original kernel (imports first, as in the wasm index space).
    pub function: u32,
    /// Fuel spent in this call itself, outside its callees.
    pub fuel: i64,
    /// Nanoseconds spent in it outside its callees (when a clock was given).
    pub time: Option<u64>,
    /// The calls it made, in order (consecutive calls of the same function are merged).
    pub children: Vec<usize>,
}

/// The call tree of one `kernel_run`: node 0 is the run (the exported `kernel_run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallTree {
    /// The nodes, the root first.
    pub nodes: Vec<CallNode>,
}

impl CallTree {
    fn new(root: u32, timed: bool) -> CallTree {
        CallTree {
            nodes: alloc::vec![CallNode {
                function: root,
                fuel: 0,
                time: timed.then_some(0),
                children: Vec::new(),
            }],
        }
    }

    /// The total fuel of the run: every node's own fuel.
    pub fn fuel(&self) -> i64 {
        self.nodes.iter().map(|n| n.fuel).sum()
    }

    /// The total time of the run, when it was timed.
    pub fn time(&self) -> Option<u64> {
        self.nodes.iter().map(|n| n.time).sum()
    }

    fn child(&mut self, parent: usize, function: u32) -> usize {
        let children = &self.nodes[parent].children;
        if let Some(&last) = children.last() {
            if self.nodes[last].function == function {
                return last;
            }
        }
        if self.nodes.len() >= NODE_CAP {
            if let Some(&same) = children
                .iter()
                .find(|&&c| self.nodes[c].function == function)
            {
                return same;
            }
        }
        let index = self.nodes.len();
        let timed = self.nodes[parent].time.is_some();
        self.nodes.push(CallNode {
            function,
            fuel: 0,
            time: timed.then_some(0),
            children: Vec::new(),
        });
        self.nodes[parent].children.push(index);
        index
    }

    fn add(&mut self, node: usize, fuel: i64, time: u64) {
        let n = &mut self.nodes[node];
        n.fuel = n.fuel.saturating_add(fuel);
        if let Some(t) = &mut n.time {
            *t = t.saturating_add(time);
        }
    }
}

/// The profile of one `kernel_run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunProfile {
    /// Its call tree.
    pub tree: CallTree,
    /// The fuel the PVM accounted for the run.
    pub fuel: u64,
    /// The functions whose frames were open when the run ended, outermost (the exported
    /// `kernel_run`) first: just `kernel_run` when it returned; after a trap, the last one is
    /// the function that trapped (or that called the host function that did).
    pub open: Vec<u32>,
}

/// A section of a profile, between a kernel's `write_debug` of
/// `__wasm_debugger__::start_section(<data>)` and of `__wasm_debugger__::end_section(<data>)`
/// (octez's profiler's debug calls).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Fuel (Soru's ticks) between the two messages.
    pub ticks: u64,
    /// The start message's data.
    pub start: Vec<u8>,
    /// The end message's data.
    pub end: Vec<u8>,
}

/// A debug message the profiler interprets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DebugCall {
    /// `__wasm_debugger__::start_section(<data>)`.
    StartSection(Vec<u8>),
    /// `__wasm_debugger__::end_section(<data>)`.
    EndSection(Vec<u8>),
}

/// Octez's `__wasm_debugger__::(\w*)\(([\x00-\xff]*)\)` anywhere in `message`, for the
/// functions `start_section` and `end_section` (the data runs to the last `)`).
pub fn debug_call(message: &[u8]) -> Option<DebugCall> {
    const PREFIX: &[u8] = b"__wasm_debugger__::";
    let mut from = 0;
    while let Some(at) = message[from..]
        .windows(PREFIX.len())
        .position(|w| w == PREFIX)
    {
        let rest = &message[from + at + PREFIX.len()..];
        let name_len = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count();
        let (name, after) = rest.split_at(name_len);
        if let (Some(b'('), Some(close)) = (after.first(), after.iter().rposition(|&b| b == b')')) {
            if close > 0 {
                let data = after[1..close].to_vec();
                return match name {
                    b"start_section" => Some(DebugCall::StartSection(data)),
                    b"end_section" => Some(DebugCall::EndSection(data)),
                    _ => None,
                };
            }
        }
        from += at + 1;
    }
    None
}

/// What a call site calls.
#[derive(Debug, Clone, Copy)]
enum Callee {
    /// A function of the kernel (it enters a frame itself).
    Defined,
    /// An imported host function (this function index).
    Import(u32),
    /// Through a table: a kernel function or a host function.
    Indirect,
}

/// What the instrumentation of one module knows about it.
#[derive(Debug)]
pub(crate) struct Instrumentation {
    /// By call-site id: what it calls.
    sites: Vec<Callee>,
    /// Field names of the imported functions, by function index.
    imports: Vec<String>,
    /// Index of the exported `kernel_run`.
    entry: u32,
}

/// The profiler's state, kept in the store's [`HostState`] across runs.
pub(crate) struct Profiler {
    clock: Option<fn() -> u64>,
    runs: Vec<RunProfile>,
    run: Option<Run>,
    /// Fuel of the runs finished so far (the sections' clock, with the current run's).
    fuel_done: u64,
    /// Debug messages of the level already looked at for debug calls.
    debug_seen: usize,
    /// Sections started and not ended: (clock, data).
    open: Vec<(u64, Vec<u8>)>,
    sections: Vec<Section>,
}

struct Run {
    info: Arc<Instrumentation>,
    tree: CallTree,
    /// The frames entered and not returned from (node indices).
    stack: Vec<usize>,
    /// Stack heights at the `call_indirect`s not returned from.
    pending: Vec<usize>,
    /// Fuel at the run's start (budget), hook fuel given back so far.
    start: u64,
    hook_refunds: u64,
    /// Readings at the last event: fuel used, host fuel, clock.
    used: u64,
    host: u64,
    time: u64,
}

/// An event seen by the profiler.
#[derive(Debug, Clone, Copy)]
enum Event {
    Enter(u32),
    Call,
    Returned(u32),
}

impl Profiler {
    /// A profiler with this one's clock and nothing recorded.
    fn fresh(&self) -> Profiler {
        Profiler::new(self.clock)
    }

    pub(crate) fn new(clock: Option<fn() -> u64>) -> Profiler {
        Profiler {
            clock,
            runs: Vec::new(),
            run: None,
            fuel_done: 0,
            debug_seen: 0,
            open: Vec::new(),
            sections: Vec::new(),
        }
    }

    /// Looks at the debug messages written since the last look, at `clock` (fuel).
    fn scan_debug(&mut self, debug: &[Vec<u8>], clock: u64) {
        if self.debug_seen > debug.len() {
            self.debug_seen = 0;
        }
        for message in &debug[self.debug_seen..] {
            match debug_call(message) {
                Some(DebugCall::StartSection(data)) => self.open.push((clock, data)),
                Some(DebugCall::EndSection(end)) => {
                    if let Some((started, start)) = self.open.pop() {
                        self.sections.push(Section {
                            ticks: clock.saturating_sub(started),
                            start,
                            end,
                        });
                    }
                }
                None => {}
            }
        }
        self.debug_seen = debug.len();
    }

    /// Starts profiling a run of the module described by `info` with `budget` fuel
    /// (`debug`: the level's debug messages so far).
    pub(crate) fn start_run(
        &mut self,
        info: Arc<Instrumentation>,
        budget: u64,
        host_fuel: u64,
        debug: usize,
    ) {
        self.debug_seen = debug;
        let time = self.clock.map_or(0, |c| c());
        self.run = Some(Run {
            tree: CallTree::new(info.entry, self.clock.is_some()),
            info,
            stack: Vec::new(),
            pending: Vec::new(),
            start: budget,
            hook_refunds: 0,
            used: 0,
            host: host_fuel,
            time,
        });
    }

    /// The profiles of the runs finished so far.
    pub(crate) fn take_runs(&mut self) -> Vec<RunProfile> {
        core::mem::take(&mut self.runs)
    }
}

impl Run {
    /// The fuel used since the run's start (grow fuel given back by the PVM still counts, as
    /// the PVM counts it; the hooks' own fuel does not).
    fn used(&self, left: u64, grow_refunds: u64) -> u64 {
        (self.start + grow_refunds + self.hook_refunds).saturating_sub(left)
    }

    fn top(&self) -> usize {
        self.stack.last().copied().unwrap_or(0)
    }

    /// Attributes what happened since the last event; returns the fuel to give back.
    fn event(&mut self, event: Event, used: u64, host: u64, time: u64, last_call: Option<&str>) {
        let delta = used as i64 - self.used as i64;
        let host_fuel = host.saturating_sub(self.host) as i64;
        let dt = time.saturating_sub(self.time);
        self.used = used;
        self.host = host;
        self.time = time;
        let top = self.top();
        match event {
            Event::Enter(function) => {
                self.tree.add(top, delta, dt);
                self.tree.add(top, -(ENTER_FUEL as i64), 0);
                if self.stack.is_empty() {
                    self.tree.nodes[0].function = function;
                    self.stack.push(0);
                } else {
                    let child = self.tree.child(top, function);
                    self.stack.push(child);
                }
                self.hook_refunds += ENTER_FUEL;
            }
            Event::Call => {
                self.tree.add(top, delta - CALL_FUEL as i64, dt);
                self.pending.push(self.stack.len());
                self.hook_refunds += CALL_FUEL;
            }
            Event::Returned(site) => {
                let callee = self.info.sites.get(site as usize).copied();
                let host_import = match callee {
                    Some(Callee::Defined) => {
                        if self.stack.len() > 1 {
                            self.stack.pop();
                        }
                        None
                    }
                    Some(Callee::Import(i)) => Some(i),
                    Some(Callee::Indirect) | None => {
                        let height = self.pending.pop().unwrap_or(self.stack.len());
                        if self.stack.len() > height {
                            self.stack.truncate(height);
                            None
                        } else {
                            last_call
                                .and_then(|name| self.info.imports.iter().position(|n| n == name))
                                .map(|i| i as u32)
                        }
                    }
                };
                match host_import {
                    None => {
                        // The callee's last instructions (and the hook's fuel, charged right
                        // before it), then its frame is gone.
                        self.tree.add(top, delta - CALL_FUEL as i64, dt);
                    }
                    Some(import) => {
                        let child = self.tree.child(top, import);
                        self.tree.add(child, host_fuel, 0);
                        self.tree.add(top, delta - host_fuel - CALL_FUEL as i64, dt);
                    }
                }
                self.hook_refunds += CALL_FUEL;
            }
        }
    }

    /// The run ended: what happened since the last event goes to the frame it ended in.
    fn close(mut self, used: u64, time: u64, fuel: u64) -> RunProfile {
        let delta = used as i64 - self.used as i64;
        let top = self.top();
        self.tree.add(top, delta, time.saturating_sub(self.time));
        let open = self
            .stack
            .iter()
            .map(|&node| self.tree.nodes[node].function)
            .collect();
        RunProfile {
            tree: self.tree,
            fuel,
            open,
        }
    }
}

/// The fuel left in the store (with the run's reserve).
fn fuel_left(store: &impl wasmi::AsContext<Data = HostState>) -> u64 {
    let ctx = store.as_context();
    ctx.get_fuel()
        .unwrap_or(0)
        .saturating_add(ctx.data().fuel_reserve)
}

/// Runs one hook: records `event` and gives the hook's fuel back to the run.
fn hook(caller: &mut wasmi::Caller<'_, HostState>, event: Event) -> Result<(), wasmi::Error> {
    let left = fuel_left(caller);
    let HostState {
        limits,
        host_fuel,
        last_call,
        profiler,
        debug,
        ..
    } = caller.data_mut();
    let (grow, host) = (limits.refunded, *host_fuel);
    let last_call = last_call.map(|f| f.name());
    let Some(profiler) = profiler.as_mut() else {
        return Ok(());
    };
    let time = profiler.clock.map_or(0, |c| c());
    let Some(run) = profiler.run.as_mut() else {
        return Ok(());
    };
    let used = run.used(left, grow);
    let before = run.hook_refunds;
    run.event(event, used, host, time, last_call);
    let refund = run.hook_refunds - before;
    if let Event::Returned(_) = event {
        let clock = profiler.fuel_done + used;
        profiler.scan_debug(debug, clock);
    }
    let fuel = caller.get_fuel()?;
    caller.set_fuel(fuel.saturating_add(refund))?;
    Ok(())
}

/// Closes the profile of the run in `store`, if it is profiled (the run returned, trapped or
/// got stuck); `fuel` is what the PVM accounted for it.
pub(crate) fn close_run(store: &mut wasmi::Store<HostState>, fuel: u64) {
    let left = fuel_left(store);
    let HostState {
        limits,
        profiler,
        debug,
        ..
    } = store.data_mut();
    let grow = limits.refunded;
    let Some(profiler) = profiler.as_mut() else {
        return;
    };
    let time = profiler.clock.map_or(0, |c| c());
    if let Some(run) = profiler.run.take() {
        let used = run.used(left, grow);
        profiler.scan_debug(debug, profiler.fuel_done + used);
        profiler.fuel_done += fuel;
        profiler.runs.push(run.close(used, time, fuel));
    }
}

/// Registers the profiler's hooks in `linker`.
pub(crate) fn link(linker: &mut wasmi::Linker<HostState>) -> Result<(), wasmi::Error> {
    type C<'a> = wasmi::Caller<'a, HostState>;
    linker.func_wrap(PROFILE_MODULE, "enter", |mut c: C<'_>, f: i32| {
        hook(&mut c, Event::Enter(f as u32))
    })?;
    linker.func_wrap(PROFILE_MODULE, "call", |mut c: C<'_>, _site: i32| {
        hook(&mut c, Event::Call)
    })?;
    linker.func_wrap(PROFILE_MODULE, "returned", |mut c: C<'_>, site: i32| {
        hook(&mut c, Event::Returned(site as u32))
    })?;
    Ok(())
}

/// The instrumented copy of a kernel module and what the profiler needs to know about it.
pub(crate) fn instrument(module: &[u8]) -> Result<(Vec<u8>, Instrumentation), String> {
    let scan = Scan::of(module)?;
    let mut encoder = Instrumenter {
        scan,
        next_defined: 0,
        sites: Vec::new(),
        imports_done: false,
    };
    let mut out = wasm_encoder::Module::new();
    encoder
        .parse_core_module(&mut out, Parser::new(0), module)
        .map_err(|e| e.to_string())?;
    let Instrumenter { scan, sites, .. } = encoder;
    let info = Instrumentation {
        sites,
        imports: scan.imports,
        entry: scan.entry,
    };
    Ok((out.finish(), info))
}

/// What the instrumentation reads from the module before rewriting it.
struct Scan {
    /// Number of types (new types go after them).
    types: u32,
    /// Results of each type, by type index (empty for non-function types).
    results: Vec<Vec<wasmparser::ValType>>,
    /// Field names of the imported functions.
    imports: Vec<String>,
    /// Type index of each defined function.
    functions: Vec<u32>,
    /// Index of the exported `kernel_run`.
    entry: u32,
    /// Whether the module has an import section.
    has_imports: bool,
}

impl Scan {
    fn of(module: &[u8]) -> Result<Scan, String> {
        let mut scan = Scan {
            types: 0,
            results: Vec::new(),
            imports: Vec::new(),
            functions: Vec::new(),
            entry: 0,
            has_imports: false,
        };
        for payload in Parser::new(0).parse_all(module) {
            match payload.map_err(|e| e.to_string())? {
                Payload::TypeSection(reader) => {
                    for group in reader {
                        for sub in group.map_err(|e| e.to_string())?.into_types() {
                            scan.types += 1;
                            scan.results.push(match &sub.composite_type.inner {
                                CompositeInnerType::Func(f) => f.results().to_vec(),
                                _ => Vec::new(),
                            });
                        }
                    }
                }
                Payload::ImportSection(reader) => {
                    scan.has_imports = true;
                    for import in reader {
                        let import = import.map_err(|e| e.to_string())?;
                        if let TypeRef::Func(_) = import.ty {
                            scan.imports.push(import.name.to_string());
                        }
                    }
                }
                Payload::FunctionSection(reader) => {
                    for ty in reader {
                        scan.functions.push(ty.map_err(|e| e.to_string())?);
                    }
                }
                Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export.map_err(|e| e.to_string())?;
                        if export.name == super::kernel::KERNEL_ENTRYPOINT
                            && export.kind == ExternalKind::Func
                        {
                            scan.entry = export.index;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(scan)
    }

    fn imported(&self) -> u32 {
        self.imports.len() as u32
    }
}

/// The re-encoder that injects the hooks (see the module documentation).
struct Instrumenter {
    scan: Scan,
    next_defined: u32,
    sites: Vec<Callee>,
    imports_done: bool,
}

/// The hooks' function indices are right after the original imports.
const HOOKS: u32 = 3;

impl Instrumenter {
    fn hook_type(&self) -> u32 {
        self.scan.types
    }

    fn enter(&self) -> u32 {
        self.scan.imported()
    }

    fn pre_call(&self) -> u32 {
        self.scan.imported() + 1
    }

    fn returned(&self) -> u32 {
        self.scan.imported() + 2
    }

    fn add_hooks(&mut self, imports: &mut wasm_encoder::ImportSection) {
        let ty = wasm_encoder::EntityType::Function(self.hook_type());
        for name in ["enter", "call", "returned"] {
            imports.import(PROFILE_MODULE, name, ty);
        }
        self.imports_done = true;
    }

    /// The block type of the `loop` wrapping the body of a function of type `ty` (a function
    /// of several results gets the type appended for it after the hook type).
    fn body_type(&mut self, ty: u32) -> Result<wasm_encoder::BlockType, reencode::Error> {
        let results = self
            .scan
            .results
            .get(ty as usize)
            .cloned()
            .unwrap_or_default();
        Ok(match results.as_slice() {
            [] => wasm_encoder::BlockType::Empty,
            [one] => wasm_encoder::BlockType::Result(self.val_type(*one)?),
            _ => wasm_encoder::BlockType::FunctionType(self.scan.types + 1 + ty),
        })
    }

    fn site(&mut self, callee: Callee) -> i32 {
        self.sites.push(callee);
        (self.sites.len() - 1) as i32
    }
}

impl Reencode for Instrumenter {
    type Error = core::convert::Infallible;

    fn function_index(&mut self, func: u32) -> u32 {
        if func >= self.scan.imported() {
            func + HOOKS
        } else {
            func
        }
    }

    fn parse_type_section(
        &mut self,
        types: &mut wasm_encoder::TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        reencode::utils::parse_type_section(self, types, section)?;
        types.ty().function([wasm_encoder::ValType::I32], []);
        // One `[] -> results` type per original type, for multi-value function bodies.
        for i in 0..self.scan.types as usize {
            let results = self.scan.results[i].clone();
            let mut encoded = Vec::with_capacity(results.len());
            for r in results {
                encoded.push(self.val_type(r)?);
            }
            types.ty().function([], encoded);
        }
        Ok(())
    }

    fn parse_import_section(
        &mut self,
        imports: &mut wasm_encoder::ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        reencode::utils::parse_import_section(self, imports, section)?;
        self.add_hooks(imports);
        Ok(())
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut wasm_encoder::Module,
        after: Option<wasm_encoder::SectionId>,
        _before: Option<wasm_encoder::SectionId>,
    ) -> Result<(), reencode::Error> {
        if !self.scan.has_imports
            && !self.imports_done
            && after == Some(wasm_encoder::SectionId::Type)
        {
            let mut imports = wasm_encoder::ImportSection::new();
            self.add_hooks(&mut imports);
            module.section(&imports);
        }
        Ok(())
    }

    fn parse_custom_section(
        &mut self,
        _module: &mut wasm_encoder::Module,
        _section: wasmparser::CustomSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        // Names and other custom sections are read from the original module.
        Ok(())
    }

    fn parse_function_body(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        func: wasmparser::FunctionBody<'_>,
    ) -> Result<(), reencode::Error> {
        use wasm_encoder::Instruction as I;
        let defined = self.next_defined;
        self.next_defined += 1;
        let index = self.scan.imported() + defined;
        let ty = self
            .scan
            .functions
            .get(defined as usize)
            .copied()
            .unwrap_or(0);
        let body_type = self.body_type(ty)?;
        let mut f = self.new_function_with_parsed_locals(&func)?;
        f.instruction(&I::I32Const(index as i32));
        f.instruction(&I::Call(self.enter()));
        f.instruction(&I::Loop(body_type));
        // Open blocks inside the body: a branch of this depth targets the function itself.
        let mut depth = 0u32;
        let mut reader = func.get_operators_reader()?;
        while !reader.eof() {
            let op = reader.read()?;
            match op {
                Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                    depth += 1;
                    f.instruction(&self.instruction(op)?);
                }
                Operator::End => {
                    if depth == 0 {
                        f.instruction(&I::End);
                    } else {
                        depth -= 1;
                    }
                    f.instruction(&I::End);
                }
                Operator::Br { relative_depth } => {
                    f.instruction(&I::Br(renumber(relative_depth, depth)));
                }
                Operator::BrIf { relative_depth } => {
                    f.instruction(&I::BrIf(renumber(relative_depth, depth)));
                }
                Operator::BrTable { targets } => {
                    let mut list = Vec::with_capacity(targets.len() as usize);
                    for t in targets.targets() {
                        list.push(renumber(t?, depth));
                    }
                    let default = renumber(targets.default(), depth);
                    f.instruction(&I::BrTable(Cow::Owned(list), default));
                }
                Operator::Call { function_index } => {
                    let callee = if function_index < self.scan.imported() {
                        Callee::Import(function_index)
                    } else {
                        Callee::Defined
                    };
                    f.instruction(&self.instruction(op)?);
                    let site = self.site(callee);
                    hook_call(&mut f, site, self.returned());
                }
                Operator::CallIndirect { .. } => {
                    let site = self.site(Callee::Indirect);
                    hook_call(&mut f, site, self.pre_call());
                    f.instruction(&self.instruction(op)?);
                    hook_call(&mut f, site, self.returned());
                }
                other => {
                    f.instruction(&self.instruction(other)?);
                }
            }
        }
        code.function(&f);
        Ok(())
    }
}

/// A call-site hook, in a `loop` of its own so that its fuel is charged when (and only when)
/// it runs: in the enclosing block, wasmi would charge it on entry, also when a branch leaves
/// the block before the hook.
fn hook_call(f: &mut wasm_encoder::Function, site: i32, hook: u32) {
    use wasm_encoder::Instruction as I;
    f.instruction(&I::Loop(wasm_encoder::BlockType::Empty));
    f.instruction(&I::I32Const(site));
    f.instruction(&I::Call(hook));
    f.instruction(&I::End);
}

/// A branch depth in the instrumented body: the function's own label is one further out
/// (past the wrapping `loop`).
fn renumber(relative_depth: u32, depth: u32) -> u32 {
    if relative_depth == depth {
        relative_depth + 1
    } else {
        relative_depth
    }
}

impl Wasm {
    /// Compiles the instrumented copy of `kernel`.
    fn compile_profiled(
        &self,
        kernel: &[u8],
    ) -> Result<(wasmi::Module, Arc<Instrumentation>), String> {
        let (bytes, info) = instrument(kernel)?;
        let module = wasmi::Module::new(&self.engine, &bytes).map_err(|e| e.to_string())?;
        Ok((module, Arc::new(info)))
    }
}

impl Pvm {
    /// A copy of this PVM whose kernel runs are profiled (see the module documentation):
    /// `clock` (nanoseconds, from any origin) times the calls too. Only possible between two
    /// runs (waiting for inputs, at a snapshot boundary or stuck), not inside one.
    pub fn profiling_copy(&self, clock: Option<fn() -> u64>) -> Result<Pvm, PvmError> {
        let mut wasm = Wasm::new(self.version)?;
        link(&mut wasm.linker).map_err(|e| PvmError::Engine(e.to_string()))?;
        wasm.profiling = true;
        let mut copy = self.copy_between_runs(wasm)?;
        if let Some(host) = copy.host.as_mut() {
            host.profiler = Some(Box::new(Profiler::new(clock)));
        }
        Ok(copy)
    }

    /// A copy of this PVM that runs on its own from here, sharing the compiled kernels (so it
    /// costs the state's handles, not a compilation): the debugger keeps one at the start of
    /// each `kernel_run` to find where a trap happened ([`Pvm::profiling_copy`] of it runs the
    /// same run again). Only possible between two runs, like [`Pvm::profiling_copy`].
    pub fn fork(&self) -> Result<Pvm, PvmError> {
        let wasm = Wasm {
            engine: self.wasm.engine.clone(),
            linker: self.wasm.linker.clone(),
            modules: self.wasm.modules.clone(),
            profiling: self.wasm.profiling,
            profiled: self.wasm.profiled.clone(),
        };
        let mut copy = self.copy_between_runs(wasm)?;
        if let (Some(host), Some(ours)) = (copy.host.as_mut(), self.host.as_ref()) {
            host.profiler = ours.profiler.as_ref().map(|p| Box::new(p.fresh()));
        }
        Ok(copy)
    }

    /// This PVM between two runs, on `wasm`, without a profiler.
    fn copy_between_runs(&self, wasm: Wasm) -> Result<Pvm, PvmError> {
        let host = self
            .host
            .as_ref()
            .filter(|_| {
                !matches!(
                    self.phase,
                    super::Phase::Running(_) | super::Phase::Suspended(_)
                )
            })
            .ok_or(PvmError::NotEvaluating(self.status()))?;
        let phase = match &self.phase {
            super::Phase::Collect => super::Phase::Collect,
            super::Phase::Boundary => super::Phase::Boundary,
            super::Phase::Stuck(r) => super::Phase::Stuck(r.clone()),
            _ => return Err(PvmError::NotEvaluating(self.status())),
        };
        Ok(Pvm {
            config: self.config.clone(),
            version: self.version,
            host: Some(host.clone_between_runs()),
            phase,
            tick: self.tick,
            last_top_level_call: self.last_top_level_call,
            reboot_counter: self.reboot_counter,
            next_level: self.next_level,
            current_level: self.current_level,
            level_fuel: self.level_fuel,
            level_failures: self.level_failures.clone(),
            total_fuel: self.total_fuel,
            level_runs: self.level_runs,
            last_input: self.last_input,
            tick_state: self.tick_state.clone(),
            history: self.history.clone(),
            inputs_open: self.inputs_open,
            level_starts: self.level_starts.clone(),
            wasm,
            stepping: super::step::Stepping::default(),
        })
    }

    /// The profiles of the runs that ended since the last call (only on a
    /// [`Pvm::profiling_copy`]).
    pub fn take_profiles(&mut self) -> Vec<RunProfile> {
        match self.host.as_mut().and_then(|h| h.profiler.as_mut()) {
            Some(p) => p.take_runs(),
            None => Vec::new(),
        }
    }

    /// The [`Section`]s the kernel marked with octez's debug calls since the last call (only
    /// on a [`Pvm::profiling_copy`]), in the order they ended.
    pub fn take_sections(&mut self) -> Vec<Section> {
        match self.host.as_mut().and_then(|h| h.profiler.as_mut()) {
            Some(p) => core::mem::take(&mut p.sections),
            None => Vec::new(),
        }
    }

    /// On a profiling copy: the instrumented module of `kernel` (cached by `hash`) and starts
    /// the profile of its run in `store`.
    pub(super) fn profiled_module(
        &mut self,
        kernel: &[u8],
        hash: crate::tree::Hash,
    ) -> Result<wasmi::Module, super::KernelError> {
        if let Some((m, _)) = self.wasm.profiled.get(&hash) {
            return Ok(m.clone());
        }
        let compiled = self
            .wasm
            .compile_profiled(kernel)
            .map_err(super::KernelError::Compile)?;
        self.wasm.profiled.insert(hash, compiled.clone());
        Ok(compiled.0)
    }

    /// Starts profiling the run about to start in `store`, if this PVM profiles.
    pub(super) fn start_profiled_run(
        &self,
        store: &mut wasmi::Store<HostState>,
        hash: crate::tree::Hash,
        budget: u64,
    ) {
        let Some((_, info)) = self.wasm.profiled.get(&hash) else {
            return;
        };
        let data = store.data_mut();
        let (host, debug) = (data.host_fuel, data.debug.len());
        if let Some(p) = data.profiler.as_mut() {
            p.start_run(Arc::clone(info), budget, host, debug);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pvm::{PvmConfig, Status};
    use crate::reveal::NoReveal;

    /// Multi-value bodies, branches and `br_table`s to the function's label, recursion, and
    /// host functions called directly and through the table.
    const KERNEL: &str = r#"(module
      (import "smart_rollup_core" "write_debug" (func $debug (param i32 i32)))
      (import "smart_rollup_core" "store_write" (func $write (param i32 i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 0) "/fib")
      (data (i32.const 16) "hi")
      (table 2 funcref)
      (elem (i32.const 0) $fib $debug)
      (type $fib_t (func (param i32) (result i32)))
      (type $debug_t (func (param i32 i32)))
      (func $fib (param $n i32) (result i32)
        (drop (br_if 0 (local.get $n) (i32.lt_u (local.get $n) (i32.const 2))))
        (i32.add
          (call $fib (i32.sub (local.get $n) (i32.const 1)))
          (call_indirect (type $fib_t) (i32.sub (local.get $n) (i32.const 2)) (i32.const 0))))
      (func $pair (param $x i32) (result i32 i32)
        (block $b (br_if $b (local.get $x)) (return (i32.const 2) (i32.const 3)))
        (i32.const 1) (local.get $x) (br_table 0 0 (local.get $x)))
      (func $kernel_run (export "kernel_run") (local $r i32)
        (call_indirect (type $debug_t) (i32.const 16) (i32.const 2) (i32.const 1))
        (local.set $r (call $fib (i32.const 15)))
        (drop (drop (call $pair (i32.const 0))))
        (drop (drop (call $pair (i32.const 3))))
        (i32.store (i32.const 32) (local.get $r))
        (drop (call $write (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 32) (i32.const 4)))))"#;

    #[test]
    fn a_profiled_run_uses_the_fuel_and_reaches_the_state_of_the_real_one() {
        let kernel = wat::parse_str(KERNEL).unwrap();
        let config = PvmConfig {
            ticks_per_snapshot: 10_000_000,
            ..PvmConfig::default()
        };
        let mut pvm = Pvm::new(&kernel, config).unwrap();
        let mut copy = pvm.profiling_copy(None).unwrap();
        for p in [&mut pvm, &mut copy] {
            let report = p.run_level(&[b"\x01x".to_vec()], &mut NoReveal).unwrap();
            assert_eq!(
                report.status,
                Status::WaitingForInput,
                "{:?}",
                p.stuck_reason()
            );
            assert!(report.failures.is_empty(), "{:?}", report.failures);
        }
        assert_eq!(copy.state_hash().unwrap(), pvm.state_hash().unwrap());
        assert_eq!(copy.fuel(), pvm.fuel());
        assert_eq!(copy.ticks(), pvm.ticks());
        let runs = copy.take_profiles();
        assert_eq!(runs.len(), 1);
        let tree = &runs[0].tree;
        assert_eq!(tree.fuel(), pvm.fuel() as i64);
        assert_eq!(runs[0].fuel, pvm.fuel());
        assert!(tree.nodes.iter().all(|n| n.fuel >= 0), "{tree:?}");
        // kernel_run (4) calls debug (0) through the table, fib (2) recursively, pair (3).
        let root = &tree.nodes[0];
        assert_eq!(root.function, 4);
        let called: Vec<u32> = root
            .children
            .iter()
            .map(|&c| tree.nodes[c].function)
            .collect();
        assert_eq!(called, alloc::vec![0, 2, 3, 1]);
        let fib = root.children[1];
        assert!(tree.nodes[fib]
            .children
            .iter()
            .all(|&c| tree.nodes[c].function == 2));
        assert!(
            tree.nodes.len() > 10,
            "the recursion has depth: {}",
            tree.nodes.len()
        );
    }

    #[test]
    fn only_a_pvm_between_runs_can_be_copied() {
        let kernel = wat::parse_str(
            r#"(module (memory (export "memory") 1) (func (export "kernel_run") (loop $l (br $l))))"#,
        )
        .unwrap();
        let mut pvm = Pvm::new(
            &kernel,
            PvmConfig {
                ticks_per_snapshot: 100_000,
                ..PvmConfig::default()
            },
        )
        .unwrap();
        for (i, input) in [b"\x00\x01".to_vec(), b"\x00\x02".to_vec()]
            .iter()
            .enumerate()
        {
            pvm.step_input(0, i as u32, input).unwrap();
        }
        pvm.step_fuel(1000, &mut NoReveal).unwrap();
        assert!(pvm.in_kernel_run());
        assert!(matches!(
            pvm.profiling_copy(None),
            Err(PvmError::NotEvaluating(_))
        ));
    }

    /// The fuel the instrumented run used more than the real one (and the real one's).
    fn diff(body: &str) -> (i64, u64) {
        let kernel = wat::parse_str(body).unwrap();
        let config = PvmConfig {
            ticks_per_snapshot: 10_000_000,
            ..PvmConfig::default()
        };
        let mut pvm = Pvm::new(&kernel, config).unwrap();
        let mut copy = pvm.profiling_copy(None).unwrap();
        for p in [&mut pvm, &mut copy] {
            p.run_level(&[b"\x01x".to_vec()], &mut NoReveal).unwrap();
            assert!(p.stuck_reason().is_none(), "{:?}", p.stuck_reason());
        }
        (copy.fuel() as i64 - pvm.fuel() as i64, pvm.fuel())
    }
    #[test]
    fn the_injected_code_costs_exactly_what_the_hooks_give_back() {
        let cases = [
            (
                "A br_if then call",
                r#"(module (memory (export "memory") 1)
      (func $g (param i32) (result i32) (local.get 0))
      (func $f (param $n i32) (result i32)
        (drop (br_if 0 (local.get $n) (i32.lt_u (local.get $n) (i32.const 2))))
        (call $g (local.get $n)))
        (func (export "kernel_run") (drop (call $f (i32.const 3)))))"#,
            ),
            (
                "B br_if then add call",
                r#"(module (memory (export "memory") 1)
      (func $g (param i32) (result i32) (local.get 0))
      (func $f (param $n i32) (result i32)
        (drop (br_if 0 (local.get $n) (i32.lt_u (local.get $n) (i32.const 2))))
        (i32.add (call $g (local.get $n)) (i32.const 1)))
        (func (export "kernel_run") (drop (call $f (i32.const 3)))))"#,
            ),
            (
                "C br_if taken",
                r#"(module (memory (export "memory") 1)
      (func $g (param i32) (result i32) (local.get 0))
      (func $f (param $n i32) (result i32)
        (drop (br_if 0 (local.get $n) (i32.lt_u (local.get $n) (i32.const 5))))
        (call $g (local.get $n)))
        (func (export "kernel_run") (drop (call $f (i32.const 3)))))"#,
            ),
            (
                "D call after local expr",
                r#"(module (memory (export "memory") 1)
      (func $g (param i32) (result i32) (local.get 0))
      (func $f (param $n i32) (result i32)
        (i32.add (call $g (i32.sub (local.get $n) (i32.const 1))) (call $g (local.get $n))))
        (func (export "kernel_run") (drop (call $f (i32.const 3)))))"#,
            ),
            (
                "E if-return",
                r#"(module (memory (export "memory") 1)
      (func $g (param i32) (result i32) (local.get 0))
      (func $f (param $n i32) (result i32)
        (if (i32.lt_u (local.get $n) (i32.const 2)) (then (return (local.get $n))))
        (call $g (local.get $n)))
        (func (export "kernel_run") (drop (call $f (i32.const 3)))))"#,
            ),
        ];
        for (name, body) in cases {
            let (extra, fuel) = diff(body);
            assert_eq!(extra, 0, "{name} (real run: {fuel} fuel)");
        }
    }
}
