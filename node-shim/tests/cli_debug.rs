//! End-to-end tests of `soru debug`: scripted sessions checked against their expected output
//! (echo, reboots, a preimage reveal, a trap, a stuck kernel, an upgrade, a kernel that loops
//! forever), exit codes and line numbers, and the interactive REPL in a real terminal (tmux).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use soru_core::reveal::preimage_hash;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("soru-cli-debug-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// Runs `soru debug` with `args` and the script on standard input (not a terminal).
fn debug_stdin(args: &[&str], script: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_soru"))
        .arg("debug")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the soru binary runs");
    let written = child.stdin.take().unwrap().write_all(script.as_bytes());
    // A session that fails at setup exits without reading its script.
    if let Err(e) = written {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

/// Runs `soru debug --commands FILE` with the script in FILE.
fn debug_file(dir: &Path, args: &[&str], script: &str) -> Output {
    let commands = write(dir, "commands.txt", script.as_bytes());
    Command::new(env!("CARGO_BIN_EXE_soru"))
        .arg("debug")
        .args(args)
        .arg("--commands")
        .arg(&commands)
        .stdin(Stdio::null())
        .output()
        .expect("the soru binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Asserts success and that stdout is `expected` (whole transcript).
fn assert_transcript(output: &Output, expected: &str) {
    let out = stdout(output);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{out}\nstderr:\n{}",
        output.status,
        stderr(output)
    );
    if out != expected {
        panic!("transcript differs\n--- got ---\n{out}\n--- expected ---\n{expected}");
    }
}

#[test]
fn echo_session_matches_the_octez_wording() {
    let kernel = examples().join("echo.wat");
    let inputs = examples().join("inputs.json");
    let output = debug_stdin(
        &[
            "--kernel",
            kernel.to_str().unwrap(),
            "--inputs",
            inputs.to_str().unwrap(),
            "--ticks-per-snapshot",
            "1000000",
            "--fuel-slice",
            "300",
        ],
        "show status\nload inputs\nshow inbox\nstep tick\nstep tick\nshow memory at 0 for 8 bytes as string\nstep result\nshow memory at 0 for 8 bytes as string\nshow memory at 24 as i32\nshow key /counter\nshow key /counter as i32\nshow outbox at level 0\n# a comment\n\nstep kernel_run\nstep inbox\nshow outbox at level 1\nshow outbox at level 7\nshow ticks\nls\nls /kernel\nshow key /nope\nshow debug log\nstep inbox\nstep inbox\nshow memory at 0 for 8 bytes\nshow status\n",
    );
    // The script stops at its first failing command (memory outside a kernel_run).
    let expected = r#"> show status
Status: Waiting for input
Internal_status: Collect
> load inputs
Loaded 5 inputs at level 0
> show inbox
Inbox has 5 messages:
{ raw_level: 0;
  counter: 0
  payload: Start_of_level }
{ raw_level: 0;
  counter: 1
  payload: Info_per_level {predecessor_timestamp = 1970-01-01T00:00:00Z; predecessor = BKiHLREqU3JkXfzEDYAkmmfX48gBDtYhMrpA98s7Aq4SzbUAB6M} }
{ raw_level: 0;
  counter: 2
  payload: 68656c6c6f }
{ raw_level: 0;
  counter: 3
  payload: { "internal_inbox_message_kind": "transfer", "payload": {"args":[{"int":"1"},{"string":"transfer payload"}],"prim":"Pair"}, "sender": "KT18amZmM5W7qDWVt2pH6uj7sCEd3kbzLrHT", "source": "tz1Ke2h7sDdakHJQh8WX4Z372du1KChsksyU", "destination": "sr163Lv22CdE8QagCwf48PWDTquk6isQwv57" } }
{ raw_level: 0;
  counter: 4
  payload: End_of_level }
> step tick
start_of_level
Evaluation took 999995 ticks so far
Status: Evaluating
Internal_status: Eval
> step tick
info_per_level
Evaluation took 0 ticks so far
Status: Evaluating
Internal_status: Eval
> show memory at 0 for 8 bytes as string
/counter
> step result
external: echoed to outbox
transfer
end_of_level
Evaluation took 999999 ticks so far
Status: Evaluating
Internal_status: Evaluation succeeded
> show memory at 0 for 8 bytes as string
/counter
> show memory at 24 as i32
1
> show key /counter
01000000
> show key /counter as i32
1
> show outbox at level 0
Outbox has 1 messages:
Unknown encoding: 68656c6c6f
> step kernel_run
Evaluation took 1 ticks so far
Status: Waiting for input
Internal_status: Collect
> step inbox
Loaded 5 inputs at level 1
start_of_level
info_per_level
external: echoed to outbox
external: echoed to outbox
end_of_level
Evaluation took 2000000 ticks so far
Status: Waiting for input
Internal_status: Collect
> show outbox at level 1
Outbox has 2 messages:
Unknown encoding: 776f726c64
Unknown encoding: 
> show outbox at level 7
No outbox found at level 7
> show ticks
Ticks: 4000000
Fuel: 10117
> ls
/counter
/kernel
/readonly
> ls /kernel
/boot.wasm
/env
> show key /nope
Key not found
> show debug log
Debug log has 5 messages:
start_of_level
info_per_level
external: echoed to outbox
external: echoed to outbox
end_of_level
> step inbox
Loaded 3 inputs at level 2
start_of_level
info_per_level
end_of_level
Evaluation took 2000000 ticks so far
Status: Waiting for input
Internal_status: Collect
> step inbox
No more inputs at level 3
Evaluation took 0 ticks so far
Status: Waiting for input
Internal_status: Collect
> show memory at 0 for 8 bytes
Error: Cannot inspect memory during internal state Collect
"#;
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "soru debug: line 26: `show memory at 0 for 8 bytes` failed\n"
    );
    if out != expected {
        panic!("transcript differs\n--- got ---\n{out}\n--- expected ---\n{expected}");
    }
}

/// A tmux server of its own (a private socket, so tests running in parallel and the user's
/// own tmux never meet) running one command in a 200x50 terminal, killed when dropped.
struct Tmux {
    socket: String,
}

/// How long a terminal test waits for something to appear: generous, for a loaded 2-core
/// machine (the waits poll, so a fast machine does not wait longer).
const TERMINAL_PATIENCE: std::time::Duration = std::time::Duration::from_secs(90);

impl Tmux {
    fn start(test: &str, command: &str) -> Option<Tmux> {
        let present = Command::new("tmux").arg("-V").output();
        if !present.is_ok_and(|o| o.status.success()) {
            return None;
        }
        let socket = format!("soru-debug-{test}-{}", std::process::id());
        let tmux = Tmux { socket };
        let status = tmux
            .command()
            .args(["new-session", "-d", "-x", "200", "-y", "50", command])
            .env_remove("TMUX")
            .status()
            .unwrap();
        assert!(status.success(), "tmux new-session failed");
        Some(tmux)
    }

    fn command(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    fn keys(&self, keys: &[&str]) {
        let status = self.command().arg("send-keys").args(keys).status().unwrap();
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let out = self
            .command()
            .args(["capture-pane", "-p", "-S", "-"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The cursor's column.
    fn cursor_x(&self) -> Option<u32> {
        let out = self
            .command()
            .args(["display-message", "-p", "#{cursor_x}"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    /// Whether the program still runs (its session exits with it).
    fn alive(&self) -> bool {
        self.command()
            .arg("has-session")
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Polls `check` on the screen until it holds (at most [`TERMINAL_PATIENCE`]).
    fn wait_until(&self, what: &str, check: impl Fn(&Tmux, &str) -> bool) -> String {
        let start = std::time::Instant::now();
        loop {
            let screen = self.screen();
            if check(self, &screen) {
                return screen;
            }
            if start.elapsed() > TERMINAL_PATIENCE {
                panic!("{what} never happened; screen:\n{screen}");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Waits for a fresh prompt: rustyline has the terminal in raw mode then, so keys typed
    /// from now on reach it (keys typed while a command still runs could be flushed).
    fn prompt(&self) {
        self.wait_until("a fresh prompt", |t, screen| {
            screen.trim_end().lines().last() == Some(">") && t.cursor_x() == Some(2)
        });
    }

    /// Waits until `text` occurs `times` times on the screen.
    fn wait_for(&self, text: &str, times: usize) -> String {
        self.wait_until(&format!("{text:?} x{times}"), |_, screen| {
            screen.matches(text).count() >= times
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self
            .command()
            .arg("kill-server")
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn the_repl_edits_lines_recalls_history_and_completes_in_a_terminal() {
    let command = format!(
        "{} debug --kernel {} --inputs {} --ticks-per-snapshot 1000000",
        env!("CARGO_BIN_EXE_soru"),
        examples().join("echo.wat").display(),
        examples().join("inputs.json").display()
    );
    let Some(tmux) = Tmux::start("edit", &command) else {
        eprintln!("skipped: tmux is not installed (apt-get install tmux) to drive the REPL");
        return;
    };
    // Completion of a command word, then typing on.
    tmux.prompt();
    tmux.keys(&["sh", "Tab", " stat", "us", "Enter"]);
    tmux.wait_for("Internal_status: Collect", 1);
    tmux.prompt();
    tmux.keys(&["step inbox", "Enter"]);
    tmux.wait_for("Internal_status: Collect", 2);
    // Completion of a durable path.
    tmux.prompt();
    tmux.keys(&["show key /co", "Tab", "Enter"]);
    let screen = tmux.wait_for("01000000", 1);
    assert!(screen.contains("> show key /counter\n"), "{screen}");
    // History: the previous line comes back with Up.
    tmux.prompt();
    tmux.keys(&["Up", "Enter"]);
    tmux.wait_for("01000000", 2);
    // Line editing: delete a stray first character.
    tmux.prompt();
    tmux.keys(&["xshow ticks", "Home", "DC", "Enter"]);
    tmux.wait_for("Ticks: ", 1);
    // A bad command is a one-line error and the session goes on.
    tmux.prompt();
    tmux.keys(&["bogus", "Enter"]);
    tmux.wait_for("Unknown command `bogus`", 1);
    tmux.prompt();
    tmux.keys(&["show key /counter as i32", "Enter"]);
    let screen = tmux.wait_for("> show key /counter as i32\n1\n", 1);
    assert!(screen.contains("Fuel: "), "{screen}");
    tmux.prompt();
    tmux.keys(&["stop", "Enter"]);
}

/// The WAT data-string escape of `bytes`.
fn wat_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

const REBOOT_TWICE: &str = r#"(module
  (import "smart_rollup_core" "store_write" (func $store_write (param i32 i32 i32 i32 i32) (result i32)))
  (import "smart_rollup_core" "store_read" (func $store_read (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "/kernel/env/reboot")
  (data (i32.const 32) "/runs")
  (func $kernel_run (export "kernel_run")
    (drop (call $store_read (i32.const 32) (i32.const 5) (i32.const 0) (i32.const 0x200) (i32.const 4)))
    (i32.store (i32.const 0x200) (i32.add (i32.load (i32.const 0x200)) (i32.const 1)))
    (drop (call $store_write (i32.const 32) (i32.const 5) (i32.const 0) (i32.const 0x200) (i32.const 4)))
    (if (i32.lt_u (i32.load (i32.const 0x200)) (i32.const 3))
      (then (drop (call $store_write (i32.const 0) (i32.const 18) (i32.const 0) (i32.const 0x300) (i32.const 0)))))))"#;

#[test]
fn a_reboot_kernel_stops_at_reboot_breakpoints() {
    let dir = scratch_dir("reboot");
    let kernel = write(&dir, "reboot.wat", REBOOT_TWICE.as_bytes());
    let inputs = write(&dir, "inputs.json", b"[[]]");
    let output = debug_file(
        &dir,
        &[
            "--kernel",
            kernel.to_str().unwrap(),
            "--inputs",
            inputs.to_str().unwrap(),
            "--ticks-per-snapshot",
            "100000",
        ],
        "break on reboot\nstep inbox\nshow key /runs as i32\nstep inbox\nshow key /runs as i32\ndelete breakpoints\nstep inbox\nshow key /runs as i32\nshow key /readonly/kernel/env/reboot_counter as i32\ndump function symbols\n",
    );
    let expected = "> break on reboot
Breakpoint 1: break on reboot
> step inbox
Loaded 3 inputs at level 0
Breakpoint: reboot requested (kernel_run 2 of this level starts next)
Evaluation took 199999 ticks so far
Status: Evaluating
Internal_status: Padding
> show key /runs as i32
1
> step inbox
Breakpoint: reboot requested (kernel_run 3 of this level starts next)
Evaluation took 100000 ticks so far
Status: Evaluating
Internal_status: Padding
> show key /runs as i32
2
> delete breakpoints
Deleted 1 breakpoints
> step inbox
Evaluation took 100001 ticks so far
Status: Waiting for input
Internal_status: Collect
> show key /runs as i32
3
> show key /readonly/kernel/env/reboot_counter as i32
1001
> dump function symbols
Functions:
0: store_write
1: store_read
2: kernel_run
";
    assert_transcript(&output, expected);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn preimage_kernel(hash: &[u8]) -> String {
    format!(
        r#"(module
  (import "smart_rollup_core" "reveal_preimage" (func $reveal (param i32 i32 i32 i32) (result i32)))
  (import "smart_rollup_core" "store_write" (func $store_write (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{}")
  (data (i32.const 64) "/revealed")
  (func (export "kernel_run") (local $n i32)
    (local.set $n (call $reveal (i32.const 0) (i32.const 33) (i32.const 256) (i32.const 4096)))
    (drop (call $store_write (i32.const 64) (i32.const 9) (i32.const 0) (i32.const 256) (local.get $n)))))"#,
        wat_bytes(hash)
    )
}

#[test]
fn a_missing_preimage_is_prompted_for_like_octez() {
    let dir = scratch_dir("preimage");
    let data = b"hello preimage";
    let hash = preimage_hash(data);
    let kernel = write(&dir, "reveal.wat", preimage_kernel(&hash).as_bytes());
    let inputs = write(&dir, "inputs.json", b"[[]]");
    let preimages = dir.join("preimages");
    std::fs::create_dir_all(&preimages).unwrap();
    let args = [
        "--kernel",
        kernel.to_str().unwrap(),
        "--inputs",
        inputs.to_str().unwrap(),
        "--preimage-dir",
        preimages.to_str().unwrap(),
        "--ticks-per-snapshot",
        "100000",
    ];
    let hash_hex = hex::encode(hash);
    let script = format!(
        "step inbox\nzz\n{}\nshow status\nshow key /revealed as string\n",
        hex::encode(data)
    );
    let output = debug_stdin(&args, &script);
    let expected = format!(
        "> step inbox
Loaded 3 inputs at level 0
Evaluation took 100000 ticks so far
Status: Waiting for reveal: {hash_hex}
Internal_status: Eval
Preimage {hash_hex} not found in {dir}, or there was a reading error (preimage {hash_hex}: cannot read {dir}/{hash_hex}: No such file or directory (os error 2)). Please provide it manually.
> zz
Error: the data is not a valid hexadecimal value.
> {data_hex}
Evaluation took 100000 ticks so far
Status: Waiting for input
Internal_status: Collect
> show status
Status: Waiting for input
Internal_status: Collect
> show key /revealed as string
hello preimage
",
        dir = preimages.display(),
        data_hex = hex::encode(data)
    );
    assert_transcript(&output, &expected);

    // In the preimage directory, it is read from there.
    std::fs::write(preimages.join(&hash_hex), data).unwrap();
    let output = debug_stdin(&args, "step inbox\nshow key /revealed\n");
    assert_transcript(
        &output,
        &format!(
            "> step inbox\nLoaded 3 inputs at level 0\nEvaluation took 200000 ticks so far\nStatus: Waiting for input\nInternal_status: Collect\n> show key /revealed\n{}\n",
            hex::encode(data)
        ),
    );

    // Three bad answers abort the command, and the script fails at its line.
    std::fs::remove_file(preimages.join(&hash_hex)).unwrap();
    let output = debug_stdin(&args, "show ticks\nstep inbox\nzz\n00\nyy\nshow status\n");
    assert!(!output.status.success());
    let out = stdout(&output);
    assert!(
        out.contains("> zz\nError: the data is not a valid hexadecimal value.\n"),
        "{out}"
    );
    assert!(out.contains("> 00\nError: the data hashes to"), "{out}");
    assert!(
        out.ends_with(
            "> yy\nError: the data is not a valid hexadecimal value.\nToo many tries, aborting.\n"
        ),
        "{out}"
    );
    assert!(
        stderr(&output).contains("line 2: `step inbox` failed"),
        "{}",
        stderr(&output)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

const TRAP: &str = r#"(module
  (import "smart_rollup_core" "write_debug" (func $debug (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "about to trap")
  (func (export "kernel_run")
    (call $debug (i32.const 0) (i32.const 13))
    (i32.store (i32.const 100) (i32.const 42))
    unreachable))"#;

#[test]
fn a_trapping_kernel_fails_its_evaluation_and_sets_the_stuck_flag() {
    let dir = scratch_dir("trap");
    let kernel = write(&dir, "trap.wat", TRAP.as_bytes());
    let inputs = write(&dir, "inputs.json", b"[[], []]");
    let output = debug_file(
        &dir,
        &[
            "--kernel",
            kernel.to_str().unwrap(),
            "--inputs",
            inputs.to_str().unwrap(),
            "--ticks-per-snapshot",
            "100000",
        ],
        "load inputs\nstep result\nshow memory at 100 as i32\nshow key /readonly/kernel/env/stuck\nstep kernel_run\nshow status\nstep inbox\nshow key /readonly/kernel/env/stuck\n",
    );
    let expected = "> load inputs
Loaded 3 inputs at level 0
> step result
about to trap
Trap in `kernel_run` (at tick 12, 9 ticks into kernel_run 0 of level 0): wasm trap: wasm `unreachable` instruction executed
Evaluation took 199996 ticks so far
Status: Evaluating
Internal_status: Evaluation failed (wasm trap: wasm `unreachable` instruction executed)
> show memory at 100 as i32
42
> show key /readonly/kernel/env/stuck

> step kernel_run
Evaluation took 1 ticks so far
Status: Waiting for input
Internal_status: Collect
> show status
Status: Waiting for input
Internal_status: Collect
> step inbox
Loaded 3 inputs at level 1
about to trap
Trap in `kernel_run` (at tick 200012, 9 ticks into kernel_run 0 of level 1): wasm trap: wasm `unreachable` instruction executed
Evaluation took 200000 ticks so far
Status: Waiting for input
Internal_status: Collect
> show key /readonly/kernel/env/stuck

";
    assert_transcript(&output, expected);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_kernel_looping_forever_stops_at_its_fuel_budget_stuck() {
    let dir = scratch_dir("loop");
    let kernel = write(
        &dir,
        "loop.wat",
        br#"(module (memory (export "memory") 1) (func (export "kernel_run") (loop $l (br $l))))"#,
    );
    // Without an inbox nothing runs: the PVM waits for inputs, as octez's does.
    let output = debug_stdin(
        &["--kernel", kernel.to_str().unwrap()],
        "step tick\nstep inbox\nload inputs\nshow ticks\n",
    );
    assert_transcript(
        &output,
        "> step tick\nNo more inputs at level 0\nEvaluation took 0 ticks so far\nStatus: Waiting for input\nInternal_status: Collect\n\
         > step inbox\nNo more inputs at level 0\nEvaluation took 0 ticks so far\nStatus: Waiting for input\nInternal_status: Collect\n\
         > load inputs\nNo more inputs at level 0\n> show ticks\nTicks: 0\nFuel: 0\n",
    );
    // The same with an inbox: one slice pauses, the rest runs to the budget.
    let inputs = write(&dir, "inputs.json", b"[[]]");
    let output = debug_stdin(
        &[
            "--kernel",
            kernel.to_str().unwrap(),
            "--inputs",
            inputs.to_str().unwrap(),
            "--ticks-per-snapshot",
            "300000",
            "--fuel-slice",
            "100000",
        ],
        "load inputs\nstep tick\nstep tick\nshow status\nstep kernel_run\nshow ticks\n",
    );
    let expected = "> load inputs
Loaded 3 inputs at level 0
> step tick
Evaluation took 299997 ticks so far
Status: Evaluating
Internal_status: Eval
> step tick
Evaluation took 0 ticks so far
Status: Evaluating
Internal_status: Eval
> show status
Status: Evaluating
Internal_status: Eval
> step kernel_run
Evaluation took 300000 ticks so far
Status: Waiting for input
Internal_status: Stuck (Too_many_ticks)
> show ticks
Ticks: 600000
Fuel: 299999
";
    assert_transcript(&output, expected);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_upgrading_kernel_installs_its_successor() {
    let dir = scratch_dir("upgrade");
    let v2 = wat::parse_str(
        r#"(module
          (import "smart_rollup_core" "store_write" (func $store_write (param i32 i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "/version")
          (data (i32.const 16) "v2")
          (func $second_kernel (export "kernel_run")
            (drop (call $store_write (i32.const 0) (i32.const 8) (i32.const 0) (i32.const 16) (i32.const 2)))))"#,
    )
    .unwrap();
    let v1 = r#"(module
      (import "smart_rollup_core" "read_input" (func $read_input (param i32 i32 i32) (result i32)))
      (import "smart_rollup_core" "store_write" (func $store_write (param i32 i32 i32 i32 i32) (result i32)))
      (import "smart_rollup_core" "store_delete" (func $store_delete (param i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 0) "/kernel/boot.wasm")
      (data (i32.const 32) "/kernel/env/reboot")
      (data (i32.const 64) "/version")
      (data (i32.const 80) "v1")
      (func $first_kernel (export "kernel_run") (local $n i32)
        (drop (call $store_write (i32.const 64) (i32.const 8) (i32.const 0) (i32.const 80) (i32.const 2)))
        (loop $next
          (local.set $n (call $read_input (i32.const 0x800) (i32.const 0x1000) (i32.const 4096)))
          (if (i32.gt_s (local.get $n) (i32.const 0)) (then
            (if (i32.eq (i32.load8_u (i32.const 0x1000)) (i32.const 1)) (then
              (drop (call $store_delete (i32.const 0) (i32.const 17)))
              (drop (call $store_write (i32.const 0) (i32.const 17) (i32.const 0)
                (i32.const 0x1001) (i32.sub (local.get $n) (i32.const 1))))
              (drop (call $store_write (i32.const 32) (i32.const 18) (i32.const 0) (i32.const 0) (i32.const 0)))))
            (br $next))))))"#;
    let kernel = write(&dir, "v1.wat", v1.as_bytes());
    let inputs = write(
        &dir,
        "inputs.json",
        format!("[[], [{{\"external\": \"{}\"}}]]", hex::encode(&v2)).as_bytes(),
    );
    let output = debug_file(
        &dir,
        &[
            "--kernel",
            kernel.to_str().unwrap(),
            "--inputs",
            inputs.to_str().unwrap(),
            "--ticks-per-snapshot",
            "1000000",
        ],
        "step inbox\nshow key /version as string\ndump function symbols\nstep inbox\nshow key /version as string\ndump function symbols\nshow key /kernel/boot.wasm\n",
    );
    let out = stdout(&output);
    assert!(output.status.success(), "{out}{}", stderr(&output));
    let expected_start = "> step inbox
Loaded 3 inputs at level 0
Evaluation took 2000000 ticks so far
Status: Waiting for input
Internal_status: Collect
> show key /version as string
v1
> dump function symbols
Functions:
0: read_input
1: store_write
2: store_delete
3: first_kernel
> step inbox
Loaded 4 inputs at level 1
Evaluation took 3000000 ticks so far
Status: Waiting for input
Internal_status: Collect
> show key /version as string
v2
> dump function symbols
Functions:
0: store_write
1: second_kernel
> show key /kernel/boot.wasm
";
    assert!(out.starts_with(expected_start), "--- got ---\n{out}");
    assert!(out.ends_with(&format!("{}\n", hex::encode(&v2))), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failing_script_names_its_line_and_setup_errors_exit_2() {
    let kernel = examples().join("echo.wat");
    let output = debug_stdin(
        &["--kernel", kernel.to_str().unwrap()],
        "show status\n\nshow outbox at level x\nshow status\n",
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).ends_with("> show outbox at level x\nInvalid number `x` for a level\n"),
        "{}",
        stdout(&output)
    );
    assert_eq!(
        stderr(&output),
        "soru debug: line 3: `show outbox at level x` failed\n"
    );
    let output = debug_stdin(&["--kernel", kernel.to_str().unwrap()], "stop\nbogus\n");
    assert!(output.status.success(), "{}", stderr(&output));
    let output = debug_stdin(&["--kernel", "/no/such/kernel.wasm"], "");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot read kernel /no/such/kernel.wasm"));
    let output = debug_stdin(
        &[
            "--kernel",
            kernel.to_str().unwrap(),
            "--commands",
            "/no/such/script",
        ],
        "",
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("cannot read commands /no/such/script"));
}

/// A kernel with a name section: `kernel_run` calls `middle` twice, which calls `leaf` directly
/// and through the table, and `write_debug` through the table; `kernel_run` calls `store_write`.
const PROFILED: &str = r#"(module
  (import "smart_rollup_core" "write_debug" (func $write_debug (param i32 i32)))
  (import "smart_rollup_core" "store_write" (func $store_write (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "/x")
  (data (i32.const 16) "hello\n")
  (table 2 funcref)
  (elem (i32.const 0) $leaf $write_debug)
  (type $t (func (param i32) (result i32)))
  (type $d (func (param i32 i32)))
  (func $leaf (param $n i32) (result i32) (local $i i32)
    (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (if (i32.gt_u (local.get $n) (i32.const 100)) (then (return (i32.const 7))))
    (local.get $i))
  (func $middle (param $n i32) (result i32)
    (drop (call $leaf (local.get $n)))
    (drop (call_indirect (type $t) (i32.const 50) (i32.const 0)))
    (call_indirect (type $d) (i32.const 16) (i32.const 6) (i32.const 1))
    (drop (br_if 0 (i32.const 5) (i32.eqz (local.get $n))))
    (call $leaf (i32.const 1000)))
  (func $kernel_run (export "kernel_run")
    (drop (call $middle (i32.const 10)))
    (drop (call $middle (i32.const 0)))
    (drop (call $store_write (i32.const 0) (i32.const 2) (i32.const 0) (i32.const 16) (i32.const 5)))))"#;

/// `(stack, fuel)` of each line of a profile's `.out` file.
fn stack_lines(path: &Path) -> Vec<(String, i64)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let (stack, fuel) = l.rsplit_once(' ').unwrap();
            (stack.to_owned(), fuel.parse().unwrap())
        })
        .collect()
}

/// The fuel `show ticks` printed, in order.
fn fuels(out: &str) -> Vec<i64> {
    out.lines()
        .filter_map(|l| l.strip_prefix("Fuel: "))
        .map(|f| f.parse().unwrap())
        .collect()
}

#[test]
fn profile_writes_fuel_per_named_function_that_adds_up_to_the_run() {
    let dir = scratch_dir("profile");
    let kernel = write(&dir, "profiled.wat", PROFILED.as_bytes());
    let inputs = write(&dir, "inputs.json", b"[[], [], []]");
    let charts = dir.join("charts");
    std::fs::create_dir_all(&charts).unwrap();
    let output = debug_file(
        &dir,
        &[
            "--kernel",
            kernel.to_str().unwrap(),
            "--inputs",
            inputs.to_str().unwrap(),
            "--ticks-per-snapshot",
            "100000",
            "--flamecharts-dir",
            charts.to_str().unwrap(),
        ],
        "show ticks\nprofile --collapsed --without-time\nshow ticks\nprofile --bogus\n",
    );
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "soru debug: line 4: `profile --bogus` failed\n"
    );
    assert!(
        out.ends_with("> profile --bogus\nUnknown command `profile --bogus`\n"),
        "{out}"
    );
    let fuel = fuels(&out);
    let run = fuel[1] - fuel[0];
    assert!(run > 5_000, "{out}");
    let expected = format!(
        "Starting the profiling until new messages are expected. Please note that it will take some time and does not reflect a real computation time.
hello
hello
Profiling result can be found in {charts}/wasm-debugger-profiling-",
        charts = charts.display()
    );
    assert!(out.contains(&expected), "{out}");
    assert!(
        out.contains(&format!(
            "----------------------\nDetailed results for a `kernel_run`:\nkernel_run: {run} ticks\n\nFull execution: {run} ticks\n----------------------\nFull execution with padding: 199997 ticks\n> show ticks\nTicks: 200000\n"
        )),
        "{out}"
    );
    assert!(!out.contains("Warning"), "{out}");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&charts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    let (stacks, svg) = (&files[0], &files[1]);
    assert!(
        stacks.to_str().unwrap().ends_with("-00:00.out"),
        "{stacks:?}"
    );
    let lines = stack_lines(stacks);
    let names: Vec<&str> = lines.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "kernel_run",
            "kernel_run;middle",
            "kernel_run;middle;leaf",
            "kernel_run;middle;write_debug",
            "kernel_run;store_write"
        ]
    );
    assert_eq!(lines.iter().map(|(_, f)| f).sum::<i64>(), run);
    assert!(lines.iter().all(|(_, f)| *f > 0), "{lines:?}");
    let drawing = std::fs::read_to_string(svg).unwrap();
    assert!(
        drawing.contains("<svg") && drawing.contains("middle"),
        "{svg:?}"
    );

    // Without --collapsed: one line per call in call order, timed; the session goes on from
    // there like `step inbox` (same ticks and fuel as an unprofiled session).
    std::fs::remove_dir_all(&charts).unwrap();
    std::fs::create_dir_all(&charts).unwrap();
    let args = [
        "--kernel",
        kernel.to_str().unwrap(),
        "--inputs",
        inputs.to_str().unwrap(),
        "--ticks-per-snapshot",
        "100000",
        "--flamecharts-dir",
        charts.to_str().unwrap(),
        "--no-kernel-debug",
    ];
    let profiled = debug_stdin(&args, "step inbox\nprofile\nshow ticks\nshow state hash\nstep tick\nstep tick\nprofile --no-reboot\n");
    let plain = debug_stdin(
        &args,
        "step inbox\nstep inbox\nshow ticks\nshow state hash\n",
    );
    let (p, q) = (stdout(&profiled), stdout(&plain));
    assert!(profiled.status.success(), "{p}{}", stderr(&profiled));
    let tail = |s: &str| {
        s[s.find("> show ticks").unwrap()..]
            .lines()
            .take(4)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(tail(&p), tail(&q));
    assert!(p.contains("kernel_run: "), "{p}");
    assert!(p.contains(" ticks ("), "timed: {p}");
    // Inside a kernel_run, profile refuses like octez.
    assert!(
        p.ends_with("> profile --no-reboot\nProfiling can only be done from a snapshotable state or when waiting for input. You can use `step kernel_run` to go to the next snapshotable state.\n")
            || p.contains("Detailed results"),
        "{p}"
    );
    let out_file = std::fs::read_dir(&charts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "out"))
        .unwrap();
    let calls: Vec<String> = stack_lines(&out_file).into_iter().map(|(s, _)| s).collect();
    assert_eq!(
        calls,
        [
            "kernel_run",
            "kernel_run;middle",
            // middle(10): leaf twice, write_debug, leaf; middle(0) (merged with it): leaf
            // twice, write_debug, and it returns early.
            "kernel_run;middle;leaf",
            "kernel_run;middle;write_debug",
            "kernel_run;middle;leaf",
            "kernel_run;middle;write_debug",
            "kernel_run;store_write"
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ctrl_c_stops_a_running_step_or_clears_the_prompt_and_ctrl_d_quits() {
    let dir = scratch_dir("ctrl-c");
    let kernel = write(
        &dir,
        "loop.wat",
        br#"(module (memory (export "memory") 1) (func (export "kernel_run") (loop $l (br $l))))"#,
    );
    let inputs = write(&dir, "inputs.json", b"[[]]");
    // A kernel_run of 10^15 fuel would take days: only Ctrl-C ends it.
    let command = format!(
        "{} debug --kernel {} --inputs {} --ticks-per-snapshot 1000000000000000 --fuel-slice 1000000",
        env!("CARGO_BIN_EXE_soru"),
        kernel.display(),
        inputs.display()
    );
    let Some(tmux) = Tmux::start("ctrl-c", &command) else {
        eprintln!("skipped: tmux is not installed (apt-get install tmux) to drive the REPL");
        return;
    };
    tmux.prompt();
    // At the prompt, Ctrl-C clears the line being typed.
    tmux.keys(&["bogus"]);
    tmux.wait_for("> bogus", 1);
    tmux.keys(&["C-c"]);
    tmux.prompt();
    tmux.keys(&["load inputs", "Enter"]);
    let screen = tmux.wait_for("Loaded 3 inputs at level 0", 1);
    assert!(!screen.contains("Unknown command"), "{screen}");
    // During a step, Ctrl-C stops it at the end of a fuel slice and the session goes on.
    tmux.prompt();
    tmux.keys(&["step kernel_run", "Enter"]);
    // Nothing prints while the step runs: it started once the cursor left the prompt line.
    tmux.wait_until("the step to start", |t, screen| {
        screen.contains("> step kernel_run") && t.cursor_x() == Some(0)
    });
    // Resent until it lands (the first one may reach the terminal while it is still raw).
    let screen = tmux.wait_until("the step to be interrupted", |t, screen| {
        let done = screen.contains("Interrupted at the end of a fuel slice");
        if !done {
            t.keys(&["C-c"]);
            std::thread::sleep(std::time::Duration::from_millis(400));
        }
        done
    });
    // (The terminal echoes ^C; the step went from the level's padding to the snapshot.)
    assert!(
        screen.contains("Interrupted at the end of a fuel slice\nEvaluation took 999999999999997 ticks so far\nStatus: Evaluating\nInternal_status: Eval\n"),
        "{screen}"
    );
    assert!(tmux.alive(), "Ctrl-C must not end the process:\n{screen}");
    tmux.prompt();
    tmux.keys(&["show ticks", "Enter"]);
    tmux.wait_for("Fuel: ", 1);
    // Ctrl-D on an empty line ends the session.
    tmux.prompt();
    tmux.keys(&["C-d"]);
    let start = std::time::Instant::now();
    while tmux.alive() {
        assert!(
            start.elapsed() < TERMINAL_PATIENCE,
            "Ctrl-D did not stop the REPL:\n{}",
            tmux.screen()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

const WRITE_DEBUG_LINES: &str = r#"(module
  (import "smart_rollup_core" "write_debug" (func $debug (param i32 i32)))
  (import "smart_rollup_core" "store_read" (func $read (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "one\ntw")
  (data (i32.const 16) "o\nthree")
  (data (i32.const 32) "/config/greeting")
  (func (export "kernel_run") (local $n i32)
    (call $debug (i32.const 0) (i32.const 6))
    (call $debug (i32.const 16) (i32.const 7))
    (local.set $n (call $read (i32.const 32) (i32.const 16) (i32.const 0) (i32.const 64) (i32.const 64)))
    (if (i32.gt_s (local.get $n) (i32.const 0))
      (then (call $debug (i32.const 64) (local.get $n))))))"#;

#[test]
fn installer_config_sets_durable_values_before_the_first_input() {
    let dir = scratch_dir("installer");
    let kernel = write(&dir, "k.wat", WRITE_DEBUG_LINES.as_bytes());
    let inputs = write(&dir, "inputs.json", b"[[]]");
    let yaml = write(
        &dir,
        "installer.yaml",
        format!(
            "instructions:\n  - set:\n      value: {}\n      to: /config/greeting\n  - set: {{ value: \"2a000000\", to: /counter }}\n",
            hex::encode(" hi from the installer\n")
        )
        .as_bytes(),
    );
    let run = |config: &Path, script: &str| {
        debug_stdin(
            &[
                "--kernel",
                kernel.to_str().unwrap(),
                "--inputs",
                inputs.to_str().unwrap(),
                "--installer-config",
                config.to_str().unwrap(),
            ],
            script,
        )
    };
    let output = run(
        &yaml,
        "show key /counter as i32\nshow key /config/greeting as string\nstep inbox\n",
    );
    assert_transcript(
        &output,
        "> show key /counter as i32\n42\n> show key /config/greeting as string\n hi from the installer\n\n> step inbox\nLoaded 3 inputs at level 0\none\ntw\no\nthree\n hi from the installer\nEvaluation took 100000000000000 ticks so far\nStatus: Waiting for input\nInternal_status: Collect\n",
    );
    let json = write(
        &dir,
        "installer.json",
        br#"{"instructions": [{"set": {"value": "07", "to": "/counter"}}]}"#,
    );
    assert_transcript(
        &run(&json, "show key /counter\n"),
        "> show key /counter\n07\n",
    );
    // Bad configurations: one line naming the file, line and instruction; exit 2.
    for (name, text, message) in [
        (
            "bad-hex.yaml",
            "instructions:\n- set:\n    value: 0x12\n    to: /a\n",
            "line 2: instruction 1: `value` \"0x12\" is not hex bytes (Invalid character 'x' at position 1)",
        ),
        (
            "bad-path.yaml",
            "instructions:\n- set: { value: '00', to: /ok }\n- set: { value: '00', to: 'no/slash' }\n",
            "line 3: instruction 2: `to` \"no/slash\" is not a durable path",
        ),
        (
            "move.yaml",
            "instructions:\n- move:\n    from: /a\n    to: /b\n",
            "line 2: instruction 1: `move` is not supported: the debugger applies only `set` instructions (as octez's)",
        ),
        ("config.toml", "instructions = []\n", "expecting either a .yaml or .json file"),
    ] {
        let path = write(&dir, name, text.as_bytes());
        let output = run(&path, "show status\n");
        assert_eq!(output.status.code(), Some(2), "{name}: {}", stderr(&output));
        let err = stderr(&output);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("soru debug: installer config {}: ", path.display())) && err.contains(message),
            "{name}: {err}"
        );
        assert_eq!(stdout(&output), "");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn timings_file_records_each_debug_line_with_its_time_like_octez() {
    let dir = scratch_dir("timings");
    let kernel = write(&dir, "k.wat", WRITE_DEBUG_LINES.as_bytes());
    let inputs = write(&dir, "inputs.json", b"[[], []]");
    let timings = dir.join("timings.log");
    let output = debug_stdin(
        &[
            "--kernel",
            kernel.to_str().unwrap(),
            "--inputs",
            inputs.to_str().unwrap(),
            "--timings-file",
            timings.to_str().unwrap(),
        ],
        "step inbox\nstep inbox\nshow debug log\n",
    );
    // The messages go to the file, not to the terminal (`show debug log` still has them).
    assert_transcript(
        &output,
        "> step inbox\nLoaded 3 inputs at level 0\nEvaluation took 100000000000000 ticks so far\nStatus: Waiting for input\nInternal_status: Collect\n> step inbox\nLoaded 3 inputs at level 1\nEvaluation took 100000000000000 ticks so far\nStatus: Waiting for input\nInternal_status: Collect\n> show debug log\nDebug log has 2 messages:\none\ntw\no\nthree\n",
    );
    let text = std::fs::read_to_string(&timings).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    // Lines split and joined across messages; the last line, still open, is written at exit.
    assert_eq!(messages, ["one", "two", "threeone", "two", "three"]);
    let mut last = 0.0;
    for line in &lines {
        let (secs, nanos) = (&line["elapsed"]["secs"], &line["elapsed"]["nanos"]);
        assert!(
            secs.is_u64() && nanos.is_u64() && nanos.as_u64().unwrap() < 1_000_000_000,
            "{line}"
        );
        let t = secs.as_f64().unwrap() + nanos.as_f64().unwrap() / 1e9;
        assert!(t >= last && t < 60.0, "{line}");
        last = t;
        assert_eq!(line.as_object().unwrap().len(), 2, "{line}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
