//! `soru-verify`: check a rollup's claims from any WASI runtime (or natively).
//!
//! ```text
//! soru-verify outbox-proof --proof FILE|HEX --state-hash srs1...|HEX
//! soru-verify replay --kernel FILE.wasm --inputs FILE.json [--state-hash srs1...|HEX]
//! soru-verify replay --witness FILE|HEX [--pre-state-hash srs1...|HEX] [--state-hash srs1...|HEX]
//!                    [--l1-inboxes FILE.json]
//! ```
//!
//! `replay --witness` re-runs the levels of a replay witness (`soru replay --witness-out`, a
//! rollup node's `helpers/witness`) on the part of the state it carries; it is valid when every
//! node the levels read is in it and, if given, it starts at `--pre-state-hash` (a
//! predecessor commitment's state) and ends at `--state-hash`. With `--l1-inboxes` (a JSON array
//! of the L1's `/chains/main/blocks/<level>/context/smart_rollups/all/inbox` answers, one per
//! witnessed level) it is valid only when each level's messages are the L1's. An undecodable
//! witness exits 2.
//!
//! `replay` runs the kernel from origination on the inbox (the octez wasm debugger's inputs
//! JSON) and prints the state hash, ticks and outbox of every level; with `--state-hash` it is
//! valid only when the final state hash is that one (a commitment's `compressed_state`).
//!
//! Prints one JSON line: `{"valid": true, ...}` with the decoded message (exit 0), or
//! `{"valid": false, "error": ".."}` (exit 1). Input that cannot be read (missing file, bad
//! hex, bad state hash, unknown flag) exits 2 with a message on stderr.

use std::io::Write;
use std::process::ExitCode;

use soru_verifier::input::{decode_hex, parse_state_hash};
use soru_verifier::Json;

const USAGE: &str = "usage:
  soru-verify outbox-proof --proof FILE|HEX --state-hash srs1...|HEX
  soru-verify replay --kernel FILE.wasm --inputs FILE.json [--state-hash srs1...|HEX]
  soru-verify replay --witness FILE|HEX [--pre-state-hash srs1...|HEX] [--state-hash srs1...|HEX]
                     [--l1-inboxes FILE.json]

exit codes: 0 valid, 1 invalid, 2 unreadable input";

/// Input that could not be read: printed on stderr, exit 2.
struct BadInput(String);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(BadInput(message)) => {
            eprintln!("soru-verify: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode, BadInput> {
    match args.first().map(String::as_str) {
        Some("outbox-proof") => {
            outbox_proof(&flags(&args[1..], &["--proof", "--state-hash"], &[])?)
        }
        Some("replay") if args.iter().any(|a| a == "--witness") => replay_witness(&flags(
            &args[1..],
            &["--witness"],
            &["--pre-state-hash", "--state-hash", "--l1-inboxes"],
        )?),
        Some("replay") => replay(&flags(
            &args[1..],
            &["--kernel", "--inputs"],
            &["--state-hash"],
        )?),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => Err(BadInput(format!("unknown subcommand {other:?}\n{USAGE}"))),
        None => Err(BadInput(USAGE.into())),
    }
}

/// `--flag value` pairs, each at most once: all of `required`, any of `optional`.
fn flags<'a>(
    args: &'a [String],
    required: &[&'static str],
    optional: &[&'static str],
) -> Result<Vec<(&'static str, &'a str)>, BadInput> {
    let mut out: Vec<(&'static str, &str)> = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let known = required.iter().chain(optional);
        let Some(name) = known.into_iter().find(|a| **a == flag.as_str()) else {
            return Err(BadInput(format!("unknown argument {flag:?}\n{USAGE}")));
        };
        let Some(value) = it.next() else {
            return Err(BadInput(format!("{flag} needs a value")));
        };
        if out.iter().any(|(n, _)| n == name) {
            return Err(BadInput(format!("{flag} given twice")));
        }
        out.push((name, value));
    }
    for name in required {
        if !out.iter().any(|(n, _)| n == name) {
            return Err(BadInput(format!("{name} is required\n{USAGE}")));
        }
    }
    Ok(out)
}

fn flag<'a>(flags: &[(&'static str, &'a str)], name: &str) -> &'a str {
    optional_flag(flags, name).unwrap_or("")
}

fn optional_flag<'a>(flags: &[(&'static str, &'a str)], name: &str) -> Option<&'a str> {
    flags.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// A file (hex text or raw bytes) or the hex itself.
fn bytes_arg(name: &str, arg: &str) -> Result<Vec<u8>, BadInput> {
    match std::fs::read(arg) {
        Ok(bytes) => match std::str::from_utf8(&bytes).ok().map(decode_hex) {
            Some(Ok(decoded)) => Ok(decoded),
            _ => Ok(bytes),
        },
        Err(io) => decode_hex(arg).map_err(|hex| {
            let shown: String = arg.chars().take(60).collect();
            BadInput(format!(
                "{name}: {shown:?} is neither a readable file ({io}) nor hex ({hex})"
            ))
        }),
    }
}

fn print(json: &Json) {
    let mut out = std::io::stdout().lock();
    // The exit code carries the verdict; a closed stdout loses only the line.
    let _ = writeln!(out, "{json}");
}

fn verdict(result: Result<Json, String>) -> ExitCode {
    match result {
        Ok(Json::Object(mut m)) => {
            m.insert("valid".into(), Json::Bool(true));
            print(&Json::Object(m));
            ExitCode::SUCCESS
        }
        Ok(other) => {
            print(&other);
            ExitCode::SUCCESS
        }
        Err(error) => {
            print(&Json::object([
                ("valid", Json::Bool(false)),
                ("error", Json::String(error)),
            ]));
            ExitCode::from(1)
        }
    }
}

fn outbox_proof(flags: &[(&'static str, &str)]) -> Result<ExitCode, BadInput> {
    let proof = bytes_arg("--proof", flag(flags, "--proof"))?;
    let state = parse_state_hash(flag(flags, "--state-hash"))
        .map_err(|e| BadInput(format!("--state-hash: {e}")))?;
    Ok(verdict(
        soru_verifier::verify_outbox_proof(&proof, &state)
            .map(|p| p.to_json())
            .map_err(|e| e.to_string()),
    ))
}

fn read_file(name: &str, path: &str) -> Result<Vec<u8>, BadInput> {
    std::fs::read(path).map_err(|e| BadInput(format!("{name}: cannot read {path}: {e}")))
}

fn replay(flags: &[(&'static str, &str)]) -> Result<ExitCode, BadInput> {
    let kernel = read_file("--kernel", flag(flags, "--kernel"))?;
    let inputs_path = flag(flags, "--inputs");
    let inputs = String::from_utf8(read_file("--inputs", inputs_path)?)
        .map_err(|_| BadInput(format!("--inputs: {inputs_path} is not UTF-8 text")))?;
    let levels: Vec<Vec<Vec<u8>>> = soru_core::inputs::parse(&inputs)
        .map_err(|e| BadInput(format!("--inputs: {inputs_path}: {e}")))?
        .iter()
        .map(|level| level.iter().map(|i| i.to_bytes()).collect())
        .collect();
    let expected = optional_flag(flags, "--state-hash")
        .map(parse_state_hash)
        .transpose()
        .map_err(|e| BadInput(format!("--state-hash: {e}")))?;
    let config = soru_verifier::replay::ReplayConfig::default();
    let r = soru_verifier::replay::replay(&kernel, &levels, &config)
        .map_err(|e| BadInput(format!("--kernel: {e}")))?;
    Ok(verdict(match expected {
        Some(e) if e != r.state_hash => Err(format!(
            "the replay ends in state {} but the expected state hash is {}",
            r.state_hash, e
        )),
        _ => Ok(r.to_json()),
    }))
}

/// The `--l1-inboxes` file: a JSON array of the L1's `all/inbox` answers.
fn l1_inboxes(path: &str) -> Result<Vec<soru_core::inbox::Inbox>, BadInput> {
    let bad = |m: String| BadInput(format!("--l1-inboxes {path}: {m}"));
    let text = read_file("--l1-inboxes", path)?;
    let value: serde_json::Value = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    let items = value
        .as_array()
        .ok_or_else(|| bad("expected a JSON array of all/inbox answers".into()))?;
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            soru_core::inbox::Inbox::from_json(v).map_err(|e| bad(format!("item {i}: {e}")))
        })
        .collect()
}

fn replay_witness(flags: &[(&'static str, &str)]) -> Result<ExitCode, BadInput> {
    let witness = bytes_arg("--witness", flag(flags, "--witness"))?;
    let hash = |name: &str| {
        optional_flag(flags, name)
            .map(parse_state_hash)
            .transpose()
            .map_err(|e| BadInput(format!("{name}: {e}")))
    };
    let pre = hash("--pre-state-hash")?;
    let expected = hash("--state-hash")?;
    let w =
        soru_core::witness::decode(&witness).map_err(|e| BadInput(format!("--witness: {e}")))?;
    let inboxes = optional_flag(flags, "--l1-inboxes")
        .map(l1_inboxes)
        .transpose()?;
    // The inbox check needs no replay: a witness whose inbox is not the L1's is invalid first.
    if let Some(Err(e)) = inboxes
        .as_ref()
        .map(|i| soru_verifier::replay::check_witness_inbox(&w, i))
    {
        return Ok(verdict(Err(format!(
            "the witness's inbox is not the L1's: {e}"
        ))));
    }
    Ok(verdict(match soru_core::witness::replay(&w) {
        Err(e) => Err(e.to_string()),
        Ok(r) if pre.is_some_and(|p| p.0 != r.pre_state_hash) => Err(format!(
            "the witness starts from state {} but the expected pre-state hash is {}",
            soru_verifier::StateHash(r.pre_state_hash),
            pre.unwrap_or_default()
        )),
        Ok(r) if expected.is_some_and(|e| e.0 != r.state_hash) => Err(format!(
            "the replay ends in state {} but the expected state hash is {}",
            soru_verifier::StateHash(r.state_hash),
            expected.unwrap_or_default()
        )),
        Ok(r) => Ok(soru_verifier::replay::witness_run_json(&r)),
    }))
}
