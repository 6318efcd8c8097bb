//! The debugger's command language: octez's command words (`src/lib_wasm_debugger/commands.ml`)
//! plus Soru's own (`show state hash`, `show ticks`, `show debug log`, `break ...`).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// How far a `step` command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// The smallest step: one input, or one fuel slice of `kernel_run`.
    Tick,
    /// Up to the end of the current `kernel_run`, before its padding (memory still readable).
    Result,
    /// Up to the end of the current `kernel_run`, padding included.
    KernelRun,
    /// Until the PVM asks for the next level's inputs (loading the next inbox first when it
    /// already waits for them).
    Inbox,
}

/// How a value (durable or memory) is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Hexadecimal (the default: external harnesses rely on it).
    Hex,
    /// The raw bytes as text.
    String,
    /// A little-endian unsigned 16-bit integer.
    U16,
    /// A little-endian signed 32-bit integer.
    I32,
    /// A little-endian signed 64-bit integer.
    I64,
    /// A little-endian unsigned 128-bit integer.
    U128,
    /// A little-endian unsigned 256-bit integer.
    U256,
}

impl ValueKind {
    /// Octez's names (`Repl_helpers.printable_value_kind_of_string`).
    fn parse(word: &str) -> Option<ValueKind> {
        Some(match word {
            "hex" => ValueKind::Hex,
            "string" => ValueKind::String,
            "uint16" | "u16" => ValueKind::U16,
            "int32" | "i32" => ValueKind::I32,
            "int64" | "i64" => ValueKind::I64,
            "uint128" | "u128" => ValueKind::U128,
            "uint256" | "u256" => ValueKind::U256,
            _ => return None,
        })
    }

    /// The byte length of an integer kind.
    pub fn length(self) -> Option<usize> {
        match self {
            ValueKind::Hex | ValueKind::String => None,
            ValueKind::U16 => Some(2),
            ValueKind::I32 => Some(4),
            ValueKind::I64 => Some(8),
            ValueKind::U128 => Some(16),
            ValueKind::U256 => Some(32),
        }
    }

    /// Octez's short name of an integer kind.
    pub fn short_name(self) -> &'static str {
        match self {
            ValueKind::Hex => "hex",
            ValueKind::String => "string",
            ValueKind::U16 => "u16",
            ValueKind::I32 => "i32",
            ValueKind::I64 => "i64",
            ValueKind::U128 => "u128",
            ValueKind::U256 => "u256",
        }
    }
}

/// What `break on` watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watch {
    /// A change of the durable value or subtree at this path.
    Write(String),
    /// A new outbox message.
    Output,
    /// A new `kernel_run` of the same level (the kernel asked for a reboot).
    Reboot,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `load inputs`.
    LoadInputs,
    /// `step <kind>`.
    Step(StepKind),
    /// `show status`.
    ShowStatus,
    /// `show inbox`.
    ShowInbox,
    /// `show outbox at level <l>`.
    ShowOutbox(u32),
    /// `show durable storage`.
    ShowDurable,
    /// `show subkeys [<path>]`, `ls [<path>]`.
    ShowSubkeys(String),
    /// `show key <key> [as <kind>]`.
    ShowKey(String, ValueKind),
    /// `show memory at <p> for <n> bytes [as string]`, `show memory at <p> as <kind>`.
    ShowMemory {
        /// First byte.
        address: u32,
        /// Number of bytes.
        length: u32,
        /// How to print them.
        kind: ValueKind,
    },
    /// `show state hash`.
    ShowStateHash,
    /// `show ticks`.
    ShowTicks,
    /// `show debug log`.
    ShowDebugLog,
    /// `dump function symbols`.
    DumpFunctionSymbols,
    /// `reveal preimage [<hex>]`.
    RevealPreimage(Option<String>),
    /// `reveal metadata`.
    RevealMetadata,
    /// `break on write <path>`, `break on output`, `break on reboot`.
    Break(Watch),
    /// `break` or `show breakpoints`: list them.
    ListBreakpoints,
    /// `delete breakpoints`.
    DeleteBreakpoints,
    /// `profile [--collapsed] [--without-time] [--no-reboot]`.
    Profile(super::profile::ProfileOptions),
    /// `help`, `man`.
    Help,
    /// `stop`.
    Stop,
}

/// Why a line is not a command: one line of text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Octez's message for anything it does not understand.
    #[error("Unknown command `{0}`")]
    Unknown(String),
    /// A number argument that does not parse.
    #[error("Invalid number `{word}` for {what}")]
    BadNumber {
        /// The word as typed.
        word: String,
        /// What it should have been.
        what: &'static str,
    },
    /// A value kind octez does not know.
    #[error("Unknown value kind `{0}` (expected hex, string, u16, i32, i64, u128 or u256)")]
    BadKind(String),
}

fn number(word: &str, what: &'static str) -> Result<u32, ParseError> {
    let bad = || ParseError::BadNumber {
        word: word.to_string(),
        what,
    };
    // Octez's Int32.of_string accepts 0x hex as well.
    let parsed = match word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => word.parse::<u32>(),
    };
    parsed.map_err(|_| bad())
}

fn kind(word: &str) -> Result<ValueKind, ParseError> {
    ValueKind::parse(word).ok_or_else(|| ParseError::BadKind(word.to_string()))
}

/// Parses one command line (words separated by spaces, like octez).
pub fn parse(line: &str) -> Result<Command, ParseError> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let unknown = || ParseError::Unknown(line.trim().to_string());
    Ok(match words.as_slice() {
        ["load", "inputs"] => Command::LoadInputs,
        ["step", "tick"] => Command::Step(StepKind::Tick),
        ["step", "result"] => Command::Step(StepKind::Result),
        ["step", "kernel_run"] => Command::Step(StepKind::KernelRun),
        ["step", "inbox"] => Command::Step(StepKind::Inbox),
        ["show", "status"] => Command::ShowStatus,
        ["show", "inbox"] => Command::ShowInbox,
        ["show", "outbox", "at", "level", l] => Command::ShowOutbox(number(l, "a level")?),
        ["show", "durable", "storage"] => Command::ShowDurable,
        ["show", "subkeys"] | ["ls"] => Command::ShowSubkeys("/".into()),
        ["show", "subkeys", p] | ["ls", p] => Command::ShowSubkeys((*p).into()),
        ["show", "key", k] => Command::ShowKey((*k).into(), ValueKind::Hex),
        ["show", "key", k, "as", v] => Command::ShowKey((*k).into(), kind(v)?),
        ["show", "memory", "at", p, "for", n, "bytes"] => Command::ShowMemory {
            address: number(p, "an address")?,
            length: number(n, "a length")?,
            kind: ValueKind::Hex,
        },
        ["show", "memory", "at", p, "for", n, "bytes", "as", "string"] => Command::ShowMemory {
            address: number(p, "an address")?,
            length: number(n, "a length")?,
            kind: ValueKind::String,
        },
        ["show", "memory", "at", p, "as", v] => {
            let kind = kind(v)?;
            let Some(length) = kind.length() else {
                return Err(ParseError::BadKind((*v).into()));
            };
            Command::ShowMemory {
                address: number(p, "an address")?,
                length: length as u32,
                kind,
            }
        }
        ["show", "state", "hash"] => Command::ShowStateHash,
        ["show", "ticks"] => Command::ShowTicks,
        ["show", "debug", "log"] => Command::ShowDebugLog,
        ["show", "breakpoints"] | ["break"] => Command::ListBreakpoints,
        ["dump", "function", "symbols"] => Command::DumpFunctionSymbols,
        ["reveal", "preimage"] => Command::RevealPreimage(None),
        ["reveal", "preimage", hex] => Command::RevealPreimage(Some((*hex).into())),
        ["reveal", "metadata"] => Command::RevealMetadata,
        ["break", "on", "write", p] => Command::Break(Watch::Write((*p).into())),
        ["break", "on", "output"] => Command::Break(Watch::Output),
        ["break", "on", "reboot"] => Command::Break(Watch::Reboot),
        ["delete", "breakpoints"] => Command::DeleteBreakpoints,
        ["profile", options @ ..] => {
            let mut parsed = super::profile::ProfileOptions::default();
            for option in options {
                match *option {
                    "--collapsed" => parsed.collapsed = true,
                    "--without-time" => parsed.without_time = true,
                    "--no-reboot" => parsed.no_reboot = true,
                    _ => return Err(unknown()),
                }
            }
            Command::Profile(parsed)
        }
        ["help"] | ["man"] => Command::Help,
        ["stop"] => Command::Stop,
        _ => return Err(unknown()),
    })
}

/// One line of `help` per command (octez's documentation, Soru's additions last).
pub const HELP: &[&str] = &[
    "time <command>: Executes <command> and returns the time required for its execution.",
    "show inbox: Prints the current input buffer and the number of messages it contains.",
    "show outbox at level <level>: Prints the outbox messages for <level>.",
    "show status: Shows the state of the PVM.",
    "show durable storage: Prints the durable storage from the root of the tree.",
    "show subkeys [<path>] | ls [<path>]: Prints the direct subkeys under <path> (default '/')",
    "show key <key> [as <kind>]: Looks for given <key> in durable storage and prints its value in <kind> format (hex by default; string, u16, i32, i64, u128, u256). Prints errors if <key> is invalid or not existing.",
    "dump function symbols: Pretty-prints the function names of the kernel's name section. The result will be empty if the kernel has been stripped of its custom sections.",
    "step <eval_step>: Depending on <eval_step>:\n          - tick: Run for a tick: one input, or one fuel slice of `kernel_run`.\n          - result: Run up to the end of `kernel_run` but before rebooting of waiting for reboot, before the memory is flushed.\n          - kernel_run: Run up to the end of the current `kernel_run` with padding up to the maximum ticks per reboot for the current version of the PVM.\n          - inbox: Run until the next inbox level. Loads the next inbox if the interpreter is waiting for inputs.",
    "load inputs: If the kernel is waiting for inputs, go the the next level and load the next inbox.",
    "reveal preimage [<hex_encoded_preimage>]: Checks the current state is waiting for a preimage, parses <hex_encoded_preimage> as an hexadecimal representation of the data or uses the builtin if none is given, and does a reveal step.",
    "reveal metadata: While in a reveal step, print the current metadata from PVM.",
    "stop: Stops the execution of the current session.",
    "profile <option>: Profiles the execution of a full inbox and outputs a flamegraph compatible stack fill in the flamecharts directory (--flamecharts-dir, the temporary directory of the system by default), weighted by ticks (Soru's fuel). \nOptions:\n - `--collapsed`: reduces the size of the resulting file by merging the identical stacks, at the cost of not being able to track the call stack on a time basis.\n - `--without-time`: does not profile the time (can have an impact on performance if the kernel does too many function calls).\n - `--no-reboot`: profile a single `kernel_run`, not a full inbox.",
    "show memory at <address> for <length> bytes [as string] | show memory at <address> as <kind>: Loads the <length> bytes at <address> in the memory, and prints it in its hexadecimal (or string) representation.\nThe command is only available during the evaluation of the kernel, i.e. after `step result` or `step tick`.",
    "help: Provide documentation about the available commands.",
    "show state hash: Prints the state hash (srs1...) of the current state.",
    "show ticks: Prints the ticks and the wasmi fuel used since origination.",
    "show debug log: Prints the kernel's debug messages of the current level.",
    "break on write <path> | break on output | break on reboot: Stops `step` commands at the end of the fuel slice that wrote under <path>, wrote an outbox message, or at the start of a new `kernel_run` of the same level. `break` lists the breakpoints, `delete breakpoints` removes them.",
];

/// Every command as a sequence of words; `<...>` marks an argument (`<path>` a durable path).
pub(crate) const GRAMMAR: &[&[&str]] = &[
    &["load", "inputs"],
    &["step", "tick"],
    &["step", "result"],
    &["step", "kernel_run"],
    &["step", "inbox"],
    &["show", "status"],
    &["show", "inbox"],
    &["show", "outbox", "at", "level", "<n>"],
    &["show", "durable", "storage"],
    &["show", "subkeys", "<path>"],
    &["show", "key", "<path>", "as", "<kind>"],
    &[
        "show", "memory", "at", "<n>", "for", "<n>", "bytes", "as", "string",
    ],
    &["show", "state", "hash"],
    &["show", "ticks"],
    &["show", "debug", "log"],
    &["show", "breakpoints"],
    &["ls", "<path>"],
    &["dump", "function", "symbols"],
    &["reveal", "preimage"],
    &["reveal", "metadata"],
    &["break", "on", "write", "<path>"],
    &["break", "on", "output"],
    &["break", "on", "reboot"],
    &["delete", "breakpoints"],
    &["profile", "--collapsed", "--without-time", "--no-reboot"],
    &["profile", "--without-time", "--no-reboot"],
    &["profile", "--no-reboot"],
    &["time"],
    &["help"],
    &["stop"],
];

/// The value kinds offered by completion after `as`.
pub(crate) const KINDS: &[&str] = &["hex", "string", "u16", "i32", "i64", "u128", "u256"];
