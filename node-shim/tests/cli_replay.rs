//! End-to-end tests of `soru replay` on the example kernel and on kernels written here.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn soru(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_soru"))
        .args(args)
        .output()
        .expect("the soru binary runs")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("soru-cli-replay-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `soru replay --json` and returns the parsed lines, asserting success.
fn replay_json(kernel: &Path, inputs: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "replay",
        "--kernel",
        kernel.to_str().unwrap(),
        "--inputs",
        inputs.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let output = soru(&args);
    assert!(
        output.status.success(),
        "soru replay failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[test]
fn example_kernel_echoes_external_messages() {
    let lines = replay_json(
        &examples().join("echo.wat"),
        &examples().join("inputs.json"),
        &[],
    );
    assert_eq!(
        lines.len(),
        4,
        "three levels and the durable line: {lines:?}"
    );

    let expected_outbox: [&[&str]; 3] = [&["68656c6c6f"], &["776f726c64", ""], &[]];
    let expected_debug: [&[&str]; 3] = [
        &[
            "start_of_level",
            "info_per_level",
            "external: echoed to outbox",
            "transfer",
            "end_of_level",
        ],
        &[
            "start_of_level",
            "info_per_level",
            "external: echoed to outbox",
            "external: echoed to outbox",
            "end_of_level",
        ],
        &["start_of_level", "info_per_level", "end_of_level"],
    ];
    let mut last_ticks = 0u64;
    let mut hashes = Vec::new();
    for (i, line) in lines[..3].iter().enumerate() {
        let mut keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "debug",
                "failures",
                "flags",
                "fuel",
                "kernel_runs",
                "level",
                "outbox",
                "state_hash",
                "status",
                "ticks"
            ],
            "level line fields"
        );
        assert_eq!(line["level"], i as u64);
        assert_eq!(
            strings(&line["outbox"]),
            expected_outbox[i],
            "outbox of level {i}"
        );
        assert_eq!(
            strings(&line["debug"]),
            expected_debug[i],
            "debug of level {i}"
        );
        assert_eq!(line["status"], "waiting_for_input");
        let hash = line["state_hash"].as_str().unwrap();
        assert!(
            hash.starts_with("srs1") && hash.len() == 54,
            "state hash {hash}"
        );
        hashes.push(hash.to_owned());
        let ticks = line["ticks"].as_u64().unwrap();
        assert!(ticks > last_ticks, "ticks grow: {ticks} after {last_ticks}");
        last_ticks = ticks;
    }
    assert_ne!(hashes[0], hashes[1], "the state changes between levels");

    let durable = lines[3]["durable"].as_object().expect("a durable object");
    // Three external messages were counted (little-endian u32).
    assert_eq!(durable["/counter"], "03000000");
    assert!(
        durable
            .keys()
            .all(|k| !k.starts_with("/readonly") && k != "/kernel/boot.wasm"),
        "read-only values and the kernel are left out: {durable:?}"
    );
}

#[test]
fn wasm_wat_and_hex_kernels_replay_identically() {
    let dir = scratch_dir("formats");
    let wasm = wat::parse_file(examples().join("echo.wat")).unwrap();
    std::fs::write(dir.join("echo.wasm"), &wasm).unwrap();
    std::fs::write(dir.join("echo.hex"), format!("{}\n", hex::encode(&wasm))).unwrap();
    let inputs = examples().join("inputs.json");
    let from_wat = replay_json(&examples().join("echo.wat"), &inputs, &[]);
    assert_eq!(replay_json(&dir.join("echo.wasm"), &inputs, &[]), from_wat);
    assert_eq!(replay_json(&dir.join("echo.hex"), &inputs, &[]), from_wat);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn text_output_without_json() {
    let output = soru(&[
        "replay",
        "--kernel",
        examples().join("echo.wat").to_str().unwrap(),
        "--inputs",
        examples().join("inputs.json").to_str().unwrap(),
    ]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("level 0: waiting_for_input"), "{text}");
    assert!(text.contains("  outbox[0]: 68656c6c6f"), "{text}");
    assert!(text.contains("  /counter = 03000000"), "{text}");
}

fn assert_fails_with(args: &[&str], expected: &[&str]) {
    let output = soru(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "should fail: {args:?}");
    for needle in expected {
        assert!(
            stderr.contains(needle),
            "stderr should mention {needle:?}: {stderr}"
        );
    }
}

#[test]
fn bad_files_are_named_in_errors() {
    let dir = scratch_dir("errors");
    let kernel = examples().join("echo.wat");
    let inputs = examples().join("inputs.json");
    let bad_inputs = dir.join("bad-inputs.json");
    std::fs::write(&bad_inputs, "[[{\"external\": \"zz\"}]]").unwrap();
    let bad_kernel = dir.join("bad.wat");
    std::fs::write(
        &bad_kernel,
        "(module (func (export \"kernel_run\") (i32.nope)))",
    )
    .unwrap();
    let k = kernel.to_str().unwrap();
    let i = inputs.to_str().unwrap();

    assert_fails_with(
        &[
            "replay",
            "--kernel",
            "/no/such/kernel.wasm",
            "--inputs",
            i,
            "--json",
        ],
        &["/no/such/kernel.wasm"],
    );
    assert_fails_with(
        &[
            "replay",
            "--kernel",
            bad_kernel.to_str().unwrap(),
            "--inputs",
            i,
            "--json",
        ],
        &["bad.wat", "invalid WebAssembly text"],
    );
    assert_fails_with(
        &[
            "replay",
            "--kernel",
            k,
            "--inputs",
            "/no/such/inputs.json",
            "--json",
        ],
        &["/no/such/inputs.json"],
    );
    assert_fails_with(
        &[
            "replay",
            "--kernel",
            k,
            "--inputs",
            bad_inputs.to_str().unwrap(),
            "--json",
        ],
        &["bad-inputs.json"],
    );
    assert_fails_with(
        &[
            "replay", "--kernel", k, "--inputs", i, "--rollup", "sr1nope", "--json",
        ],
        &["--rollup"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A kernel that asks for one preimage and writes what it got to the outbox.
fn reveal_kernel(hash: &[u8; 33]) -> String {
    let escaped: String = hash.iter().map(|b| format!("\\{b:02x}")).collect();
    format!(
        r#"(module
  (import "smart_rollup_core" "reveal_preimage"
    (func $reveal (param i32 i32 i32 i32) (result i32)))
  (import "smart_rollup_core" "write_output" (func $write (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{escaped}")
  (func (export "kernel_run") (local $n i32)
    (local.set $n (call $reveal (i32.const 0) (i32.const 33) (i32.const 64) (i32.const 4096)))
    (if (i32.ge_s (local.get $n) (i32.const 0))
      (then (drop (call $write (i32.const 64) (local.get $n)))))))"#
    )
}

#[test]
fn preimages_come_from_the_directory_and_are_hash_checked() {
    let dir = scratch_dir("preimages");
    let preimage = b"a preimage for the kernel".to_vec();
    let hash = soru_core::reveal::preimage_hash(&preimage);
    let kernel = dir.join("reveal.wat");
    std::fs::write(&kernel, reveal_kernel(&hash)).unwrap();
    let inputs = dir.join("inputs.json");
    std::fs::write(&inputs, "[[]]").unwrap();
    let preimages = dir.join("preimage");
    std::fs::create_dir_all(&preimages).unwrap();
    let file = preimages.join(hex::encode(hash));
    std::fs::write(&file, &preimage).unwrap();

    let lines = replay_json(
        &kernel,
        &inputs,
        &["--preimage-dir", preimages.to_str().unwrap()],
    );
    assert_eq!(strings(&lines[0]["outbox"]), [hex::encode(&preimage)]);

    // A file whose content does not hash to its name is refused.
    std::fs::write(&file, b"tampered").unwrap();
    let k = kernel.to_str().unwrap();
    let i = inputs.to_str().unwrap();
    let p = preimages.to_str().unwrap();
    assert_fails_with(
        &[
            "replay",
            "--kernel",
            k,
            "--inputs",
            i,
            "--preimage-dir",
            p,
            "--json",
        ],
        &["does not match its name"],
    );
    // A missing file is named.
    std::fs::remove_file(&file).unwrap();
    assert_fails_with(
        &[
            "replay",
            "--kernel",
            k,
            "--inputs",
            i,
            "--preimage-dir",
            p,
            "--json",
        ],
        &[&hex::encode(hash)],
    );
    // No directory at all.
    assert_fails_with(
        &["replay", "--kernel", k, "--inputs", i, "--json"],
        &["no --preimage-dir"],
    );
    // A preimage larger than a reveal can return (4096 bytes) is refused, not truncated.
    let big = vec![b'x'; 20_000];
    let big_hash = soru_core::reveal::preimage_hash(&big);
    std::fs::write(preimages.join(hex::encode(big_hash)), &big).unwrap();
    std::fs::write(&kernel, reveal_kernel(&big_hash)).unwrap();
    assert_fails_with(
        &[
            "replay",
            "--kernel",
            k,
            "--inputs",
            i,
            "--preimage-dir",
            p,
            "--json",
        ],
        &["20000 bytes, more than the 4096-byte limit of a preimage"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A misspelt --preimage-dir is reported before anything runs, even when the kernel never
/// reveals; an input over 4096 bytes is rejected with its inbox and index, not truncated.
#[test]
fn arguments_and_inputs_are_checked_before_the_kernel_runs() {
    let dir = scratch_dir("early-checks");
    let k = examples().join("echo.wat");
    let i = examples().join("inputs.json");
    let (k, i) = (k.to_str().unwrap(), i.to_str().unwrap());
    let output = soru(&[
        "replay",
        "--kernel",
        k,
        "--inputs",
        i,
        "--preimage-dir",
        "/no/such/preimages",
        "--json",
    ]);
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "no level ran");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--preimage-dir /no/such/preimages: "),
        "{stderr}"
    );

    let big = dir.join("big.json");
    std::fs::write(
        &big,
        format!(
            r#"[[], [{{"external": "00"}}, {{"external": "{}"}}]]"#,
            "ab".repeat(4096)
        ),
    )
    .unwrap();
    assert_fails_with(
        &[
            "replay",
            "--kernel",
            k,
            "--inputs",
            big.to_str().unwrap(),
            "--json",
        ],
        &[
            "inbox 1, message 1",
            "4097 bytes, more than the 4096-byte limit",
        ],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Importing a memory gets a message that says so, not "is not a host function".
#[test]
fn a_memory_import_is_named_as_such() {
    let dir = scratch_dir("memory-import");
    let kernel = dir.join("import.wat");
    std::fs::write(
        &kernel,
        r#"(module (import "smart_rollup_core" "memory" (memory 1)) (func (export "kernel_run")))"#,
    )
    .unwrap();
    let i = examples().join("inputs.json");
    assert_fails_with(
        &[
            "replay",
            "--kernel",
            kernel.to_str().unwrap(),
            "--inputs",
            i.to_str().unwrap(),
        ],
        &["import smart_rollup_core.memory is a memory"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_reader_that_stops_early_ends_the_replay_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    // Far more output than a pipe buffers, so the replay is still writing when the reader leaves.
    let dir = scratch_dir("early-reader");
    let inputs = dir.join("inputs.json");
    let level = r#"[{"external": "68656c6c6f"}]"#;
    std::fs::write(&inputs, format!("[{}]", vec![level; 3000].join(","))).unwrap();
    let kernel = examples().join("echo.wat");

    let mut child = Command::new(env!("CARGO_BIN_EXE_soru"))
        .args(["replay", "--kernel", kernel.to_str().unwrap()])
        .args(["--inputs", inputs.to_str().unwrap(), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the soru binary runs");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with(r#"{"level":0"#), "first line: {first}");
    // The reader is dropped here, like `soru replay ... | head -1`.
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert!(
        output.status.success(),
        "status {:?}, stderr: {stderr}",
        output.status
    );
}

/// A trap is visible in the level line (flags, failure with reason, function and fuel); a
/// 2 GiB value made by one `store_create` is dumped as its first 64 KiB and its length.
#[test]
fn traps_are_reported_and_huge_values_are_dumped_bounded() {
    let dir = scratch_dir("trap-and-big-value");
    let kernel = dir.join("k.wat");
    std::fs::write(
        &kernel,
        r#"(module
  (import "smart_rollup_core" "store_create" (func $create (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "/big")
  (func (export "kernel_run")
    (drop (call $create (i32.const 0) (i32.const 4) (i32.const 2147483647)))
    unreachable))"#,
    )
    .unwrap();
    let inputs = dir.join("inputs.json");
    std::fs::write(&inputs, "[[]]").unwrap();
    let lines = replay_json(&kernel, &inputs, &[]);
    let level = &lines[0];
    assert_eq!(level["status"], "waiting_for_input");
    assert_eq!(level["flags"], serde_json::json!(["stuck"]));
    let failure = &level["failures"][0];
    assert!(
        failure["reason"].as_str().unwrap().contains("unreachable"),
        "{failure}"
    );
    assert_eq!(failure["function"], "store_create");
    assert!(failure["fuel"].as_u64().unwrap() > 0);
    assert_eq!(failure["stuck"], false);
    assert!(level["fuel"].as_u64().unwrap() > 0);
    let dump = lines.last().unwrap();
    assert_eq!(
        dump["durable"]["/big"].as_str().unwrap().len(),
        2 * 64 * 1024
    );
    assert_eq!(dump["truncated"]["/big"], 2147483647u64);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--hash-at-tick`: the state hash at an input tick and at a run's padding tick is printed
/// before the level line, a tick inside a `kernel_run` names the run, an unreached tick says
/// where the inputs end, and an unknown `--pvm-version` is refused.
#[test]
fn hash_at_tick_prints_state_hashes_before_the_level_line() {
    let kernel = examples().join("echo.wat");
    let inputs = examples().join("inputs.json");
    let params = [
        "--outbox-validity-period",
        "10",
        "--pvm-version",
        "2.0.0-r5",
    ];
    let plain = replay_json(&kernel, &inputs, &params);
    let mut args = params.to_vec();
    // 50e12 ticks per snapshot (the protocol's): level 0's first kernel_run spans
    // 50e12+1 ..= 2*50e12-1, whose last tick is the run's padding tick.
    args.extend([
        "--hash-at-tick",
        "1",
        "--hash-at-tick",
        "50000000000001",
        "--hash-at-tick",
        "99999999999999",
        "--hash-at-tick",
        "999999999999999999",
    ]);
    let lines = replay_json(&kernel, &inputs, &args);
    assert_eq!(lines[0]["tick"], 1, "{lines:?}");
    assert!(lines[0]["state_hash"].as_str().unwrap().starts_with("srs1"));
    let inside = lines[1]["error"].as_str().unwrap();
    assert!(
        inside.contains("inside kernel_run 1 of level 0"),
        "{inside}"
    );
    assert!(lines[2]["state_hash"].as_str().unwrap().starts_with("srs1"));
    assert_ne!(lines[0]["state_hash"], lines[2]["state_hash"]);
    assert_eq!(lines[3]["level"], 0, "{lines:?}");
    assert_eq!(&lines[3..6], &plain[..3], "level lines unchanged");
    let end = plain[plain.len() - 2]["ticks"].as_u64().unwrap();
    let unreached = &lines[lines.len() - 2];
    assert_eq!(unreached["tick"], 999_999_999_999_999_999u64, "{lines:?}");
    let error = unreached["error"].as_str().unwrap();
    assert!(error.contains(&format!("end at tick {end}")), "{error}");

    let bad = soru(&[
        "replay",
        "--kernel",
        kernel.to_str().unwrap(),
        "--inputs",
        inputs.to_str().unwrap(),
        "--pvm-version",
        "2.0.0-r9",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown PVM version"));
}

/// A trap's level line names the kernel functions open at the trap (the level is run again
/// instrumented), in JSON and in text.
#[test]
fn a_trap_names_its_call_stack() {
    let dir = scratch_dir("trap-stack");
    let kernel = dir.join("k.wat");
    std::fs::write(
        &kernel,
        r#"(module
  (import "smart_rollup_core" "read_input" (func $read (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $fail unreachable)
  (func $middle (call $fail))
  (func (export "kernel_run")
    (loop $inputs
      (if (i32.gt_s (call $read (i32.const 0) (i32.const 100) (i32.const 200)) (i32.const 0))
        (then
          (if (i32.eq (i32.load16_u (i32.const 100)) (i32.const 0x2101)) (then (call $middle)))
          (br $inputs))))))"#,
    )
    .unwrap();
    let inputs = dir.join("inputs.json");
    std::fs::write(&inputs, r#"[[{"external": "21"}], [{"external": "2e"}]]"#).unwrap();
    let lines = replay_json(&kernel, &inputs, &[]);
    let failure = &lines[0]["failures"][0];
    assert_eq!(
        failure["stack"],
        serde_json::json!(["kernel_run", "middle", "fail"]),
        "{failure}"
    );
    assert_eq!(failure["function"], "read_input", "the last host call");
    assert_eq!(
        lines[1]["failures"],
        serde_json::json!([]),
        "level 1 returns"
    );
    let text = soru(&[
        "replay",
        "--kernel",
        kernel.to_str().unwrap(),
        "--inputs",
        inputs.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("kernel_run 0 failed in `fail` (kernel_run > middle > fail) after "),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
