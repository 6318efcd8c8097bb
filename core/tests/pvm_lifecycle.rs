//! The level lifecycle: ticks, reboots, traps, upgrades and fallback, fuel and stack limits,
//! protocol migrations, and the step API.

use soru_core::abi::{PvmVersion, TICKS_PER_SNAPSHOT};
use soru_core::durable::Key;
use soru_core::encoding::inbox::{InboxMessage, InternalInboxMessage};
use soru_core::pvm::{Progress, Pvm, PvmConfig, PvmError, Status, StuckReason};
use soru_core::reveal::NoReveal;
use soru_core::state::{
    REBOOT_COUNTER_KEY, STUCK_FLAG_KEY, TOO_MANY_REBOOT_FLAG_KEY, UPGRADE_ERROR_FLAG_KEY,
};

fn kernel(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/kernels/{name}.wat", env!("CARGO_MANIFEST_DIR"));
    wat::parse_file(path).expect("test kernel parses")
}

fn value(pvm: &Pvm, key: &str) -> Option<Vec<u8>> {
    pvm.durable()
        .read_all(&Key::from_path(key).unwrap())
        .unwrap()
}

fn external(payload: &[u8]) -> Vec<u8> {
    InboxMessage::External(payload.to_vec()).encode()
}

fn migration(protocol: &str) -> Vec<u8> {
    InboxMessage::Internal(InternalInboxMessage::ProtocolMigration(protocol.into())).encode()
}

#[test]
fn ticks_are_padded_to_the_snapshot_period() {
    let mut pvm = Pvm::new(&kernel("trap"), PvmConfig::default()).unwrap();
    assert_eq!(pvm.ticks(), 0);
    let report = pvm
        .run_level(&[external(b"a"), external(b"b")], &mut NoReveal)
        .unwrap();
    // The input phase and the one kernel_run each last ticks_per_snapshot ticks.
    assert_eq!(report.ticks, 2 * TICKS_PER_SNAPSHOT);
    assert_eq!(report.kernel_runs, 1);
    assert!(report.fuel > 0);
    assert_eq!(report.level, 0);
    // Inputs are one tick each until the next boundary.
    pvm.step_input(1, 0, b"\x00\x01").unwrap();
    assert_eq!(pvm.ticks(), 2 * TICKS_PER_SNAPSHOT + 1);
    pvm.step_input(1, 1, b"\x00\x02").unwrap();
    assert_eq!(pvm.status(), Status::Evaluating);
    assert_eq!(
        pvm.finish_level(&mut NoReveal).unwrap(),
        Status::WaitingForInput
    );
    assert_eq!(pvm.ticks(), 4 * TICKS_PER_SNAPSHOT);
    // The reboot counter is exposed to the kernel, and reset after a yield.
    assert_eq!(
        value(&pvm, REBOOT_COUNTER_KEY),
        Some(1001i32.to_le_bytes().to_vec())
    );
}

#[test]
fn unread_inputs_are_dropped_and_levels_are_numbered_like_the_debugger() {
    let mut pvm = Pvm::new(&kernel("trap"), PvmConfig::default()).unwrap();
    let r0 = pvm.run_level(&[external(b"x")], &mut NoReveal).unwrap();
    // Echo of Start_of_level, Info_per_level (timestamp 0, zero predecessor), x, End_of_level.
    assert_eq!(r0.outbox.len(), 4);
    assert_eq!(r0.outbox[0], vec![0, 1]);
    let mut info = vec![0, 3];
    info.extend([0u8; 8 + 32]);
    assert_eq!(r0.outbox[1], info);
    assert_eq!(r0.outbox[3], vec![0, 2]);
    let r1 = pvm.run_level(&[], &mut NoReveal).unwrap();
    assert_eq!(r1.level, 1);
    assert_eq!(r1.outbox.len(), 3);
    assert_eq!(pvm.outbox(0).unwrap().len(), 4);
}

#[test]
fn a_trap_sets_the_stuck_flag_and_the_next_run_clears_it() {
    let mut pvm = Pvm::new(&kernel("trap"), PvmConfig::default()).unwrap();
    let report = pvm
        .run_level(&[external(b"ok"), external(b"trap")], &mut NoReveal)
        .unwrap();
    assert_eq!(report.status, Status::WaitingForInput);
    assert_eq!(report.ticks, 2 * TICKS_PER_SNAPSHOT);
    // Outputs written before the trap stay.
    assert_eq!(report.outbox.len(), 3);
    assert_eq!(value(&pvm, STUCK_FLAG_KEY), Some(vec![]));
    pvm.run_level(&[external(b"fine")], &mut NoReveal).unwrap();
    assert_eq!(value(&pvm, STUCK_FLAG_KEY), None);
}

#[test]
fn reboots_are_limited_per_level() {
    let mut pvm = Pvm::new(&kernel("reboot"), PvmConfig::default()).unwrap();
    let report = pvm.run_level(&[], &mut NoReveal).unwrap();
    // The first run plus 1000 reboots, then a forced yield.
    assert_eq!(report.kernel_runs, 1001);
    assert_eq!(value(&pvm, "/runs"), Some(1001u32.to_le_bytes().to_vec()));
    assert_eq!(report.ticks, 1002 * TICKS_PER_SNAPSHOT);
    assert_eq!(value(&pvm, TOO_MANY_REBOOT_FLAG_KEY), Some(vec![]));
    assert_eq!(pvm.reboot_counter(), 1001);
    assert_eq!(report.status, Status::WaitingForInput);
    // The kernel still runs at the next level.
    let report = pvm.run_level(&[], &mut NoReveal).unwrap();
    assert_eq!(report.kernel_runs, 1001);
    assert_eq!(value(&pvm, "/runs"), Some(2002u32.to_le_bytes().to_vec()));
}

#[test]
fn upgrade_then_fallback_to_the_last_kernel_that_initialised() {
    let mut pvm = Pvm::new(&kernel("upgrade"), PvmConfig::default()).unwrap();
    pvm.run_level(&[], &mut NoReveal).unwrap();
    assert_eq!(value(&pvm, "/version"), Some(b"v1".to_vec()));
    assert_eq!(
        value(&pvm, "/readonly/kernel/boot.wasm"),
        Some(kernel("upgrade"))
    );

    // An invalid upgrade (float instructions): octez restores the fallback kernel.
    let report = pvm
        .run_level(&[external(&kernel("float"))], &mut NoReveal)
        .unwrap();
    assert_eq!(report.status, Status::WaitingForInput);
    assert_eq!(report.kernel_runs, 2);
    assert_eq!(value(&pvm, "/kernel/boot.wasm"), Some(kernel("upgrade")));
    assert_eq!(value(&pvm, UPGRADE_ERROR_FLAG_KEY), Some(vec![]));
    // The next successful run clears the flag.
    pvm.run_level(&[], &mut NoReveal).unwrap();
    assert_eq!(value(&pvm, UPGRADE_ERROR_FLAG_KEY), None);

    // Malformed bytes are recovered from the same way.
    pvm.run_level(&[external(b"\x00asm garbage")], &mut NoReveal)
        .unwrap();
    assert_eq!(value(&pvm, "/kernel/boot.wasm"), Some(kernel("upgrade")));

    // A valid upgrade: the new kernel runs at the reboot and becomes the fallback.
    let report = pvm
        .run_level(&[external(&kernel("v2"))], &mut NoReveal)
        .unwrap();
    assert_eq!(report.kernel_runs, 2);
    assert_eq!(value(&pvm, "/version"), Some(b"v2".to_vec()));
    assert_eq!(
        value(&pvm, "/readonly/kernel/boot.wasm"),
        Some(kernel("v2"))
    );
}

#[test]
fn an_upgrade_without_kernel_run_leaves_the_pvm_stuck() {
    let mut pvm = Pvm::new(&kernel("upgrade"), PvmConfig::default()).unwrap();
    let no_entry =
        wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "main")))"#).unwrap();
    let report = pvm
        .run_level(&[external(&no_entry)], &mut NoReveal)
        .unwrap();
    assert_eq!(report.status, Status::Stuck);
    assert!(matches!(
        pvm.stuck_reason(),
        Some(StuckReason::InvalidKernel(_))
    ));
    // A stuck PVM still counts input ticks but never runs again.
    let before = pvm.ticks();
    let report = pvm.run_level(&[external(b"x")], &mut NoReveal).unwrap();
    assert_eq!(report.status, Status::Stuck);
    // Start_of_level, Info_per_level, the message and End_of_level.
    assert_eq!(pvm.ticks(), before + 4);
    assert_eq!(report.kernel_runs, 0);
}

#[test]
fn running_out_of_fuel_is_too_many_ticks() {
    let config = PvmConfig {
        fuel_per_kernel_run: 1_000_000,
        ..PvmConfig::default()
    };
    let mut pvm = Pvm::new(&kernel("runaway"), config).unwrap();
    let report = pvm.run_level(&[], &mut NoReveal).unwrap();
    assert_eq!(report.status, Status::Stuck);
    assert_eq!(pvm.stuck_reason(), Some(&StuckReason::TooManyTicks));
    // All the fuel but the last unit(s) that could not pay for the next instruction.
    assert!(
        report.fuel <= 1_000_000 && report.fuel > 990_000,
        "{}",
        report.fuel
    );
}

/// A kernel octez completes within `ticks_per_snapshot` never runs out of Soru's fuel: with the
/// run's budget equal to a *lower bound* of octez's ticks for it (one tick per wasm instruction
/// executed and 7 per byte of `memory.fill`/`memory.copy`, as octez's interpreter unrolls them;
/// decoding, linking and initialising the kernel cost octez more ticks on top), the run still
/// completes, and the fuel it used is below that bound.
#[test]
fn a_run_octez_completes_never_runs_out_of_fuel() {
    let rounds = 200u128;
    let kernel = wat::parse_str(
        r#"(module
          (import "smart_rollup_core" "write_debug" (func $debug (param i32 i32)))
          (memory (export "memory") 1)
          (func $inc (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
          (func (export "kernel_run") (local $i i32)
            (loop $l
              (local.set $i (call $inc (local.get $i)))
              (memory.fill (i32.const 0) (i32.const 7) (i32.const 4096))
              (memory.copy (i32.const 4096) (i32.const 0) (i32.const 4096))
              (call $debug (i32.const 0) (i32.const 1))
              (br_if $l (i32.lt_u (local.get $i) (i32.const 200))))))"#,
    )
    .unwrap();
    // Per round: 21 plain instructions (the loop body, `$inc`'s three, the host call) and
    // 7 ticks for each of the 2 x 4096 bytes filled or copied.
    let octez_ticks_lower_bound = rounds * (21 + 7 * 2 * 4096);
    // The inputs and the padding to the first snapshot do not count: the run gets a period.
    let config = PvmConfig {
        ticks_per_snapshot: octez_ticks_lower_bound,
        ..PvmConfig::default()
    };
    let mut pvm = Pvm::new(&kernel, config).unwrap();
    let report = pvm.run_level(&[], &mut NoReveal).unwrap();
    assert_eq!(
        report.status,
        Status::WaitingForInput,
        "{:?}",
        pvm.stuck_reason()
    );
    assert_eq!(report.debug.len(), rounds as usize);
    assert!(
        u128::from(report.fuel) < octez_ticks_lower_bound,
        "fuel {} >= octez ticks {octez_ticks_lower_bound}",
        report.fuel
    );
}

#[test]
fn exhausting_the_call_stack_leaves_the_pvm_stuck() {
    let mut pvm = Pvm::new(&kernel("recursion"), PvmConfig::default()).unwrap();
    let report = pvm.run_level(&[], &mut NoReveal).unwrap();
    assert_eq!(report.status, Status::Stuck);
    assert_eq!(pvm.stuck_reason(), Some(&StuckReason::StackExhausted));
}

#[test]
fn protocol_migration_rewrites_the_version() {
    let mut pvm = Pvm::new(&kernel("trap"), PvmConfig::default()).unwrap();
    pvm.run_level(&[migration("paris_019")], &mut NoReveal)
        .unwrap();
    assert_eq!(
        value(&pvm, "/readonly/wasm_version"),
        Some(b"2.0.0-r4".to_vec())
    );
    assert_eq!(pvm.version(), PvmVersion::V4);
    // Unknown protocol names leave it unchanged.
    pvm.run_level(&[migration("zzz")], &mut NoReveal).unwrap();
    assert_eq!(pvm.version(), PvmVersion::V4);
}

#[test]
fn state_hash_is_deterministic_and_tracks_durable_changes() {
    let run = |msgs: &[Vec<u8>]| {
        let mut pvm = Pvm::new(&kernel("upgrade"), PvmConfig::default()).unwrap();
        pvm.run_level(msgs, &mut NoReveal).unwrap().state_hash
    };
    assert_eq!(run(&[]), run(&[]));
    assert_ne!(run(&[]), run(&[external(&kernel("v2"))]));
}

#[test]
fn durable_values_lists_every_value() {
    let mut pvm = Pvm::new(&kernel("upgrade"), PvmConfig::default()).unwrap();
    pvm.set_durable_value("/config/a", b"1").unwrap();
    pvm.run_level(&[], &mut NoReveal).unwrap();
    let mut keys: Vec<String> = pvm.durable_values().map(|v| v.unwrap().0).collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "/config/a",
            "/kernel/boot.wasm",
            "/kernel/env/reboot",
            "/readonly/kernel/boot.wasm",
            "/readonly/kernel/env/reboot_counter",
            "/readonly/wasm_version",
            "/version",
        ]
    );
    let version = pvm
        .durable_values()
        .map(Result::unwrap)
        .find(|(k, _)| k == "/version")
        .unwrap();
    assert_eq!(version.1, b"v1".to_vec());
}

#[test]
fn step_api_rejects_misuse() {
    let mut pvm = Pvm::new(&kernel("trap"), PvmConfig::default()).unwrap();
    assert!(matches!(
        pvm.step_kernel_run(&mut NoReveal),
        Err(PvmError::NotEvaluating(Status::WaitingForInput))
    ));
    pvm.step_input(0, 0, b"\x00\x01").unwrap();
    pvm.step_input(0, 1, b"\x00\x02").unwrap();
    assert!(matches!(
        pvm.step_input(0, 2, b"\x01x"),
        Err(PvmError::NotWaitingForInput(Status::Evaluating))
    ));
    assert_eq!(
        pvm.step_kernel_run(&mut NoReveal).unwrap(),
        Status::Evaluating
    );
    assert_eq!(
        pvm.step_kernel_run(&mut NoReveal).unwrap(),
        Status::WaitingForInput
    );
    assert!(matches!(
        pvm.resume_reveal(b"", &mut NoReveal),
        Err(PvmError::NoPendingReveal)
    ));
}

#[test]
fn the_state_tree_uses_octez_layout_for_durable_storage_and_outboxes() {
    use soru_core::state::output_buffer;
    let config = PvmConfig {
        outbox_validity_period: 2,
        ..PvmConfig::default()
    };
    let mut pvm = Pvm::new(&kernel("trap"), config).unwrap();
    pvm.run_level(&[external(b"out")], &mut NoReveal).unwrap();
    let mut state = pvm.state_tree().unwrap();
    assert_eq!(state.hash(), pvm.state_hash().unwrap());
    assert_eq!(
        state.value(&[b"tag"]).unwrap(),
        Some(soru_core::state::TAG_SOME)
    );
    assert_eq!(
        state
            .value(&[
                // octez keeps durable storage at `/durable` (checked against octez's hashes in
                // `octez_pvm_regressions`), not under `/value`.
                b"durable",
                b"readonly",
                b"wasm_version",
                b"@",
                b"length"
            ])
            .unwrap(),
        Some(&8i64.to_be_bytes()[..])
    );
    // The echo of the external message is message 2 of the level-0 outbox.
    assert_eq!(
        output_buffer::read_message(&mut state, 0, 2).unwrap(),
        external(b"out")
    );
    assert_eq!(pvm.outbox(0).unwrap().len(), 4);
    // Outboxes leave the validity window.
    pvm.run_level(&[], &mut NoReveal).unwrap();
    assert_eq!(pvm.outbox(0).unwrap().len(), 4);
    pvm.run_level(&[], &mut NoReveal).unwrap();
    assert!(pvm.outbox(0).unwrap().is_empty());
    assert_eq!(pvm.outbox(2).unwrap().len(), 3);
}

/// A `store_write(/kernel/env/reboot, 0 bytes)` command for the `hostcall` kernel.
fn request_reboot() -> Vec<u8> {
    let key = b"/kernel/env/reboot";
    let mut m = vec![1, 10];
    for a in [0x1022i32, key.len() as i32, 0, 0x1022, 0, 0] {
        m.extend(a.to_le_bytes());
    }
    m.extend(0i64.to_le_bytes());
    m.extend(key);
    m
}

#[test]
fn a_reboot_runs_the_kernel_again_in_the_same_level() {
    let mut pvm = Pvm::new(&kernel("hostcall"), PvmConfig::default()).unwrap();
    pvm.set_durable_value(TOO_MANY_REBOOT_FLAG_KEY, b"")
        .unwrap();
    let report = pvm.run_level(&[request_reboot()], &mut NoReveal).unwrap();
    assert_eq!(report.kernel_runs, 2);
    assert_eq!(report.ticks, 3 * TICKS_PER_SNAPSHOT);
    // A normal yield clears the too_many_reboot flag and sets the reboot flag for next level.
    assert_eq!(value(&pvm, TOO_MANY_REBOOT_FLAG_KEY), None);
    assert_eq!(value(&pvm, "/kernel/env/reboot"), Some(vec![]));
}

#[test]
fn an_ill_typed_kernel_run_is_saved_as_fallback_then_stuck() {
    let mut pvm = Pvm::new(&kernel("upgrade"), PvmConfig::default()).unwrap();
    let bad = wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "kernel_run") (param i32)))"#,
    )
    .unwrap();
    let report = pvm.run_level(&[external(&bad)], &mut NoReveal).unwrap();
    assert_eq!(report.status, Status::Stuck);
    assert!(matches!(
        pvm.stuck_reason(),
        Some(StuckReason::InvalidKernel(_))
    ));
    assert_eq!(value(&pvm, "/readonly/kernel/boot.wasm"), Some(bad));
}

#[test]
fn step_level_feeds_the_given_level_timestamp_and_predecessor() {
    use soru_core::encoding::inbox::BlockHash;
    let mut pvm = Pvm::new(&kernel("trap"), PvmConfig::default()).unwrap();
    let status = pvm
        .step_level(7, 1_700_000_000, &[9; 32], &[external(b"m")], &mut NoReveal)
        .unwrap();
    assert_eq!(status, Status::WaitingForInput);
    let outbox = pvm.outbox(7).unwrap();
    let info = InboxMessage::Internal(InternalInboxMessage::InfoPerLevel {
        predecessor_timestamp: 1_700_000_000,
        predecessor: BlockHash([9; 32]),
    })
    .encode();
    assert_eq!(outbox[1], info);
    // run_level continues with the next level number.
    assert_eq!(pvm.run_level(&[], &mut NoReveal).unwrap().level, 8);
}

/// octez's ticks for a host call: the `call` instruction, the steps that run and return from
/// the host function, and its tick model (42 per byte moved, 1 per tree access).
const OCTEZ_HOST_CALL_TICKS: u128 = 3;

/// A kernel calling host functions in a loop at octez's regression `ticks_per_snapshot`
/// (5000): octez charges each call 3 ticks plus its tick model, and Soru's fuel for the same
/// work is no more, so the run completes as octez's does (an earlier fuel model, 2000 per
/// call, left it stuck).
#[test]
fn host_calls_in_a_loop_complete_within_octez_ticks_at_small_ticks_per_snapshot() {
    let kernel = wat::parse_str(
        r#"(module
          (import "smart_rollup_core" "store_write"
            (func $write (param i32 i32 i32 i32 i32) (result i32)))
          (import "smart_rollup_core" "store_read"
            (func $read (param i32 i32 i32 i32 i32) (result i32)))
          (import "smart_rollup_core" "write_output" (func $out (param i32 i32) (result i32)))
          (import "smart_rollup_core" "store_has" (func $has (param i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "/k")
          (func (export "kernel_run") (local $i i32)
            (loop $l
              (drop (call $write (i32.const 0) (i32.const 2) (i32.const 0) (i32.const 0) (i32.const 2)))
              (drop (call $read (i32.const 0) (i32.const 2) (i32.const 0) (i32.const 16) (i32.const 2)))
              (drop (call $out (i32.const 0) (i32.const 2)))
              (drop (call $has (i32.const 0) (i32.const 2)))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (i32.const 10))))))"#,
    )
    .unwrap();
    // Per round, octez's ticks are at least: 4 calls; the model of store_write (2-byte key,
    // 2 bytes: 42*4 + 1), store_read (42*4 + 1), store_has (42*2 + 1); write_output adds none;
    // 26 other instructions (14 consts, 4 drops, the counter and the branch).
    let per_round = 4 * OCTEZ_HOST_CALL_TICKS + 169 + 169 + 85 + 26;
    let octez_ticks_lower_bound = 10 * per_round;
    assert!(octez_ticks_lower_bound < 5000);
    let config = PvmConfig {
        ticks_per_snapshot: 5000,
        ..PvmConfig::default()
    };
    let mut pvm = Pvm::new(&kernel, config).unwrap();
    let report = pvm.run_level(&[], &mut NoReveal).unwrap();
    assert_eq!(
        report.status,
        Status::WaitingForInput,
        "{:?}",
        pvm.stuck_reason()
    );
    assert_eq!(report.outbox.len(), 10);
    assert!(
        u128::from(report.fuel) <= octez_ticks_lower_bound,
        "fuel {} > octez ticks {octez_ticks_lower_bound}",
        report.fuel
    );
    assert_eq!(report.ticks, 10_000);
}

/// A kernel calling a failing host function forever (write_output on a full outbox) stops at
/// its budget, `ticks_per_snapshot`, in octez's stuck state: `Too_many_ticks` at the tick
/// `ticks_per_snapshot` after the run's snapshot, the reboot counter reset, then only input
/// ticks.
#[test]
fn a_runaway_host_call_loop_stops_at_its_budget_in_octez_stuck_state() {
    let tps = 50_000u128;
    let config = PvmConfig {
        ticks_per_snapshot: tps,
        ..PvmConfig::default()
    };
    let mut pvm = Pvm::new(&kernel("hostile/output_forever"), config).unwrap();
    let started = std::time::Instant::now();
    let report = pvm.run_level(&[], &mut NoReveal).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(report.status, Status::Stuck);
    assert_eq!(report.stuck_reason, Some(StuckReason::TooManyTicks));
    assert_eq!(report.outbox.len(), 100);
    assert!(
        u128::from(report.fuel) <= tps && u128::from(report.fuel) + 10 > tps,
        "{}",
        report.fuel
    );
    println!(
        "runaway host-call loop: {} fuel in {elapsed:?}",
        report.fuel
    );
    // The input phase ends at the first snapshot (tps); the run is stuck tps later.
    assert_eq!(report.ticks, 2 * tps);
    let tree = pvm.state_tree().unwrap();
    assert_eq!(
        tree.value(&[b"wasm", b"tag"]).unwrap(),
        Some(&b"\x00\x00\x00\x05stuck"[..])
    );
    assert_eq!(tree.value(&[b"wasm", b"value"]).unwrap(), Some(&[6u8][..]));
    // octez's `Failing` status resets the reboot counter (n-encoded 1001) and keeps the
    // last top-level call at the snapshot.
    assert_eq!(
        tree.value(&[b"wasm", b"reboot_counter"]).unwrap(),
        Some(&[0xe9, 0x07][..])
    );
    assert_eq!(
        tree.value(&[b"pvm", b"last_top_level_call"]).unwrap(),
        Some(&[0xd0, 0x86, 0x03][..])
    );
    assert_eq!(
        pvm.state_hash_at(2 * tps).unwrap(),
        pvm.state_hash().unwrap()
    );
    assert!(matches!(
        pvm.state_hash_at(2 * tps - 1),
        Err(PvmError::InsideKernelRun { .. })
    ));
    // Stuck for good: the next level only counts its inputs.
    let next = pvm.run_level(&[external(b"x")], &mut NoReveal).unwrap();
    assert_eq!(next.ticks, 2 * tps + 4);
    assert_eq!(next.kernel_runs, 0);
}

/// wasmi charges `memory.grow` one unit per 64 bytes added, octez one instruction: the fuel is
/// given back, so growing 1000 pages fits in 5000 ticks as in octez.
#[test]
fn growing_memory_costs_what_octez_charges() {
    let kernel = wat::parse_str(
        r#"(module
          (import "smart_rollup_core" "write_output" (func $out (param i32 i32) (result i32)))
          (memory (export "memory") 1)
          (func (export "kernel_run")
            (i32.store (i32.const 0) (memory.grow (i32.const 1000)))
            (drop (memory.grow (i32.const 1000)))
            (drop (call $out (i32.const 0) (i32.const 4)))))"#,
    )
    .unwrap();
    let config = PvmConfig {
        ticks_per_snapshot: 5000,
        ..PvmConfig::default()
    };
    let mut pvm = Pvm::new(&kernel, config).unwrap();
    let report = pvm.run_level(&[], &mut NoReveal).unwrap();
    assert_eq!(
        report.status,
        Status::WaitingForInput,
        "{:?}",
        pvm.stuck_reason()
    );
    assert_eq!(report.outbox, [1i32.to_le_bytes().to_vec()]);
}

/// A kernel that deletes itself: octez fails to decode the missing kernel and restores the
/// fallback (the last kernel that initialised), with the upgrade error flag.
#[test]
fn a_deleted_kernel_is_replaced_by_its_fallback() {
    let kernel = wat::parse_str(
        r#"(module
          (import "smart_rollup_core" "store_delete" (func $del (param i32 i32) (result i32)))
          (import "smart_rollup_core" "store_write"
            (func $write (param i32 i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "/kernel/boot.wasm")
          (data (i32.const 32) "/kernel/env/reboot")
          (func (export "kernel_run")
            (drop (call $del (i32.const 0) (i32.const 17)))
            (drop (call $write (i32.const 32) (i32.const 18) (i32.const 0) (i32.const 0) (i32.const 0)))))"#,
    )
    .unwrap();
    let mut pvm = Pvm::new(&kernel, PvmConfig::default()).unwrap();
    pvm.run_level(&[], &mut NoReveal).unwrap();
    // Run 1 deletes the kernel and reboots; run 2 finds no kernel and restores the fallback.
    assert_eq!(pvm.status(), Status::WaitingForInput);
    assert!(value(&pvm, UPGRADE_ERROR_FLAG_KEY).is_some());
    assert_eq!(value(&pvm, "/kernel/boot.wasm"), Some(kernel.clone()));
}

/// `state_hash_at` covers the levels `history_levels` keeps, here every level.
#[test]
fn state_hash_at_covers_every_level_kept() {
    let config = PvmConfig {
        history_levels: u32::MAX,
        ..PvmConfig::default()
    };
    let mut all = Pvm::new(&kernel("trap"), config).unwrap();
    let mut last = Pvm::new(&kernel("trap"), PvmConfig::default()).unwrap();
    let first = all.run_level(&[external(b"a")], &mut NoReveal).unwrap();
    last.run_level(&[external(b"a")], &mut NoReveal).unwrap();
    let level0_end = first.ticks;
    assert_eq!(all.state_hash_at(level0_end).unwrap(), first.state_hash);
    let input = all.state_hash_at(3).unwrap();
    for _ in 0..3 {
        all.run_level(&[external(b"b")], &mut NoReveal).unwrap();
        last.run_level(&[external(b"b")], &mut NoReveal).unwrap();
    }
    assert_eq!(all.state_hash_at(level0_end).unwrap(), first.state_hash);
    assert_eq!(all.state_hash_at(3).unwrap(), input);
    assert!(matches!(
        last.state_hash_at(3),
        Err(PvmError::TickNotRecorded { .. })
    ));
    // Both agree on the ticks the last level kept.
    let t = last.ticks() - 1;
    assert_eq!(
        all.state_hash_at(t).unwrap(),
        last.state_hash_at(t).unwrap()
    );
}

/// The inputs `Pvm::step_level` feeds for `level` (timestamp 0, zero predecessor).
fn level_inputs(messages: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let internal = |m| InboxMessage::Internal(m).encode();
    let mut inputs = vec![
        internal(InternalInboxMessage::StartOfLevel),
        internal(InternalInboxMessage::InfoPerLevel {
            predecessor_timestamp: 0,
            predecessor: soru_core::encoding::inbox::BlockHash([0; 32]),
        }),
    ];
    inputs.extend(messages.iter().cloned());
    inputs.push(internal(InternalInboxMessage::EndOfLevel));
    inputs
}

/// Runs `levels` by the smallest steps (one input, one fuel slice of `slice`) and, on a twin
/// PVM, with `step_level`; the state hash, ticks, fuel, status and level report must agree
/// after every level. Returns how many fuel slices ran.
fn stepped_equals_unstepped(
    kernel: &[u8],
    config: PvmConfig,
    levels: &[Vec<Vec<u8>>],
    slice: u64,
) -> u64 {
    let mut whole = Pvm::new(kernel, config.clone()).unwrap();
    let mut stepped = Pvm::new(kernel, config).unwrap();
    let mut slices = 0;
    for (level, messages) in levels.iter().enumerate() {
        let level = level as u32;
        whole
            .step_level(level, 0, &[0; 32], messages, &mut NoReveal)
            .unwrap();
        for (counter, input) in level_inputs(messages).iter().enumerate() {
            stepped.step_input(level, counter as u32, input).unwrap();
        }
        while stepped.status() == Status::Evaluating {
            let progress = stepped.step_fuel(slice, &mut NoReveal).unwrap();
            if let Progress::Paused { fuel, .. } = progress {
                assert!(stepped.in_kernel_run());
                assert!(fuel >= slice.min(1), "{progress:?}");
            }
            slices += 1;
        }
        assert_eq!(
            stepped.state_hash().unwrap(),
            whole.state_hash().unwrap(),
            "level {level}"
        );
        assert_eq!(stepped.ticks(), whole.ticks());
        assert_eq!(stepped.fuel(), whole.fuel());
        assert_eq!(stepped.status(), whole.status());
        assert_eq!(stepped.stuck_reason(), whole.stuck_reason());
        assert_eq!(stepped.report().unwrap(), whole.report().unwrap());
    }
    slices
}

#[test]
fn stepping_by_fuel_slices_ends_in_the_same_state_as_whole_runs() {
    let echo = wat::parse_str(
        r#"(module
          (import "smart_rollup_core" "read_input" (func $read (param i32 i32 i32) (result i32)))
          (import "smart_rollup_core" "write_output" (func $write (param i32 i32) (result i32)))
          (import "smart_rollup_core" "write_debug" (func $debug (param i32 i32)))
          (memory (export "memory") 1)
          (func (export "kernel_run") (local $n i32)
            (loop $next
              (local.set $n (call $read (i32.const 0) (i32.const 16) (i32.const 4096)))
              (call $debug (i32.const 16) (local.get $n))
              (if (i32.gt_s (local.get $n) (i32.const 0))
                (then (drop (call $write (i32.const 16) (local.get $n))) (br $next))))))"#,
    )
    .unwrap();
    let levels = vec![
        vec![external(b"one"), external(b"two")],
        vec![],
        vec![external(&[7; 300])],
    ];
    // Slices far smaller than a host call's cost (2000+): slices end inside host calls.
    for slice in [1, 700, 5_000, u64::MAX] {
        let slices = stepped_equals_unstepped(&echo, PvmConfig::default(), &levels, slice);
        if slice == 1 {
            assert!(slices > 20, "{slices}");
        }
    }
    // 1001 runs a level, each paused several times.
    stepped_equals_unstepped(&kernel("reboot"), PvmConfig::default(), &levels[..2], 3_000);
    // Traps, upgrades and the fallback kernel.
    stepped_equals_unstepped(
        &kernel("trap"),
        PvmConfig::default(),
        &[vec![external(b"trap")], vec![external(b"ok")]],
        10,
    );
    let v2 = kernel("v2");
    let mut upgrade = vec![0x01];
    upgrade.extend_from_slice(&v2);
    stepped_equals_unstepped(
        &kernel("upgrade"),
        PvmConfig::default(),
        &[vec![external(&upgrade)], vec![external(b"x")]],
        2_500,
    );
}

#[test]
fn a_stepped_runaway_kernel_stops_at_its_budget_not_at_a_slice() {
    let config = PvmConfig {
        fuel_per_kernel_run: 1_000_000,
        ..PvmConfig::default()
    };
    let slices = stepped_equals_unstepped(&kernel("runaway"), config.clone(), &[vec![]], 10_007);
    assert!(slices >= 99, "{slices}");
    // The same with a ticks_per_snapshot budget.
    let config = PvmConfig {
        ticks_per_snapshot: 200_000,
        ..PvmConfig::default()
    };
    stepped_equals_unstepped(&kernel("runaway"), config, &[vec![], vec![]], 3_333);
}

#[test]
fn a_paused_run_shows_its_memory_and_input_buffer() {
    let kernel = wat::parse_str(
        r#"(module
          (memory (export "memory") 1)
          (func (export "kernel_run") (local $i i32)
            (i32.store (i32.const 64) (i32.const 0x01020304))
            (loop $l
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (i32.const 100000))))))"#,
    )
    .unwrap();
    let mut pvm = Pvm::new(&kernel, PvmConfig::default()).unwrap();
    assert!(pvm.memory(0, 4).is_err());
    for (counter, input) in level_inputs(&[external(b"m")]).iter().enumerate() {
        pvm.step_input(0, counter as u32, input).unwrap();
    }
    let inbox = pvm.input_buffer().unwrap();
    assert_eq!(inbox.len(), 4);
    assert_eq!(inbox[2].payload, external(b"m"));
    assert_eq!(inbox[3].counter, 3);
    let progress = pvm.step_fuel(1_000, &mut NoReveal).unwrap();
    assert!(matches!(progress, Progress::Paused { .. }), "{progress:?}");
    assert_eq!(pvm.memory(64, 4).unwrap(), vec![4, 3, 2, 1]);
    assert!(pvm.memory(65_535, 2).is_err());
    pvm.keep_final_memory(true);
    while pvm.in_kernel_run() {
        pvm.step_fuel(100_000, &mut NoReveal).unwrap();
    }
    let memory = pvm.take_final_memory().expect("the run returned");
    assert_eq!(&memory[64..68], &[4, 3, 2, 1]);
    assert_eq!(pvm.status(), Status::Evaluating);
}

/// Reads every input, keeps the last one at `/last` and echoes it to the outbox.
const ECHO: &str = r#"(module
  (import "smart_rollup_core" "read_input" (func $read_input (param i32 i32 i32) (result i32)))
  (import "smart_rollup_core" "write_output" (func $write_output (param i32 i32) (result i32)))
  (import "smart_rollup_core" "store_write" (func $store_write (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "/last")
  (func (export "kernel_run") (local $n i32)
    (loop $next
      (local.set $n (call $read_input (i32.const 0x100) (i32.const 0x200) (i32.const 4096)))
      (if (i32.gt_s (local.get $n) (i32.const 0)) (then
        (drop (call $store_write (i32.const 0) (i32.const 5) (i32.const 0) (i32.const 0x200) (local.get $n)))
        (drop (call $write_output (i32.const 0x200) (local.get $n)))
        (br $next))))))"#;

#[test]
fn a_pvm_resumed_from_its_state_tree_goes_on_like_the_original() {
    let config = PvmConfig::default();
    let echo = wat::parse_str(ECHO).unwrap();
    let mut pvm = Pvm::new(&echo, config.clone()).unwrap();
    pvm.run_level(&[external(b"one")], &mut NoReveal).unwrap();
    pvm.run_level(&[external(b"two")], &mut NoReveal).unwrap();
    let state = pvm.state_tree().unwrap();
    let mut resumed = Pvm::from_state(&state, config.clone()).unwrap();
    assert_eq!(resumed.state_hash().unwrap(), pvm.state_hash().unwrap());
    assert_eq!(resumed.ticks(), pvm.ticks());
    for payload in [&b"three"[..], b"four"] {
        let a = pvm.run_level(&[external(payload)], &mut NoReveal).unwrap();
        let b = resumed
            .run_level(&[external(payload)], &mut NoReveal)
            .unwrap();
        assert_eq!(
            (a.level, a.state_hash, a.ticks),
            (b.level, b.state_hash, b.ticks)
        );
        assert_eq!(a.outbox, b.outbox);
        assert!(!a.outbox.is_empty());
    }
    // Another rollup's parameters, a state inside a level and a stuck state are refused.
    let other = PvmConfig {
        ticks_per_snapshot: config.ticks_per_snapshot / 2,
        ..config.clone()
    };
    let e = Pvm::from_state(&state, other).err().unwrap();
    assert!(e.to_string().contains("/pvm/max_nb_ticks"), "{e}");
    let level = pvm.report().unwrap().level + 1;
    pvm.step_input(level, 0, b"\x00\x01").unwrap();
    let e = Pvm::from_state(&pvm.state_tree().unwrap(), config.clone())
        .err()
        .unwrap();
    assert!(matches!(e, PvmError::NotResumable(_)), "{e}");
    let small = PvmConfig {
        fuel_per_kernel_run: 100_000,
        ..PvmConfig::default()
    };
    let mut stuck = Pvm::new(&kernel("runaway"), small.clone()).unwrap();
    stuck.run_level(&[], &mut NoReveal).unwrap();
    let e = Pvm::from_state(&stuck.state_tree().unwrap(), small)
        .err()
        .unwrap();
    assert!(e.to_string().contains("stuck"), "{e}");
}

/// Input ticks are recorded as the inputs, not as snapshots: `state_hash_at` rebuilds each
/// input tick's state, which must be the one the PVM was in right after that input, through
/// `Start_of_level`, a protocol migration, a durable write between two inputs, `End_of_level`
/// and the inputs a stuck PVM counts without reading.
#[test]
fn state_hash_at_an_input_tick_is_the_state_right_after_that_input() {
    let sol = InboxMessage::Internal(InternalInboxMessage::StartOfLevel).encode();
    let eol = InboxMessage::Internal(InternalInboxMessage::EndOfLevel).encode();
    let mut pvm = Pvm::new(&kernel("trap"), PvmConfig::default()).unwrap();
    pvm.run_level(&[external(b"first level")], &mut NoReveal)
        .unwrap();
    let mut seen = Vec::new();
    let mut feed = |pvm: &mut Pvm, counter: u32, payload: &[u8]| {
        pvm.step_input(1, counter, payload).unwrap();
        seen.push((pvm.ticks(), pvm.state_hash().unwrap()));
    };
    feed(&mut pvm, 0, &sol);
    feed(&mut pvm, 1, &external(b"a"));
    feed(&mut pvm, 2, &migration("paris_019"));
    pvm.set_durable_value("/between/inputs", b"x").unwrap();
    feed(&mut pvm, 3, &external(&[7; 5000]));
    feed(&mut pvm, 4, &eol);
    for (tick, hash) in &seen {
        assert_eq!(pvm.state_hash_at(*tick).unwrap(), *hash, "tick {tick}");
    }
    assert_eq!(
        pvm.finish_level(&mut NoReveal).unwrap(),
        Status::WaitingForInput
    );
    for (tick, hash) in &seen {
        assert_eq!(
            pvm.state_hash_at(*tick).unwrap(),
            *hash,
            "tick {tick} after the run"
        );
    }

    // A stuck PVM's input ticks change only the tick and the last input.
    let mut stuck = Pvm::new(&kernel("upgrade"), PvmConfig::default()).unwrap();
    let no_entry =
        wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "main")))"#).unwrap();
    stuck
        .run_level(&[external(&no_entry)], &mut NoReveal)
        .unwrap();
    assert_eq!(stuck.status(), Status::Stuck);
    let mut seen = Vec::new();
    for (counter, payload) in [sol, external(b"ignored"), eol].iter().enumerate() {
        stuck.step_input(1, counter as u32, payload).unwrap();
        seen.push((stuck.ticks(), stuck.state_hash().unwrap()));
    }
    assert_ne!(seen[0].1, seen[1].1);
    for (tick, hash) in &seen {
        assert_eq!(
            stuck.state_hash_at(*tick).unwrap(),
            *hash,
            "stuck, tick {tick}"
        );
    }
}
