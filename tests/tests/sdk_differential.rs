//! Differential tests: kernels written with the official Tezos kernel SDK run natively on the
//! SDK's `MockHost` and, compiled to wasm32, on Soru's PVM with the same inputs; their outboxes
//! and durable values must be identical. Each test also checks what the kernel should have
//! produced, so a bug shared by both hosts (or a kernel doing nothing) still fails.
//!
//! `MockHost` is not the PVM: the scenarios avoid the paths listed in
//! `shared/notes/mockhost-vs-octez.md`, and each place that had to work around one cites it.

use soru_core::encoding::address::ContractHash;
use soru_core::encoding::micheline::Expr;
use soru_core::encoding::outbox::OutboxMessage as SoruOutbox;
use soru_core::pvm::{LevelReport, Status};
use soru_test_kernels::durable::{self as dk, Op};
use soru_test_kernels::{compute, counter, outbox, reveal};
use soru_tests::scenario::reveal_hash;
use soru_tests::{mock, pvm, Input, Kernel, Outcome, Payload, Scenario, Transfer};

/// An implicit account used as the source of transfers (valid base58check).
const SOURCE: &str = "tz1Ke2h7sDdakHJQh8WX4Z372du1KChsksyU";

/// A `KT1...` address built from raw bytes with Soru's encoder (decoded by the SDK on one side
/// and by Soru on the other).
fn kt1(seed: u8) -> String {
    ContractHash([seed; 20]).to_b58check()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn show(outcome: &Outcome) -> String {
    let mut out = String::new();
    for (level, messages) in outcome.outboxes.iter().enumerate() {
        out.push_str(&format!(
            "  level #{level}: {} message(s)\n",
            messages.len()
        ));
        for m in messages {
            let shown = if m.len() > 80 { &m[..80] } else { m };
            out.push_str(&format!("    {} ({} bytes)\n", hex(shown), m.len()));
        }
    }
    for (path, value) in &outcome.durable {
        let shown = value.as_ref().map(|v| hex(&v[..v.len().min(80)]));
        out.push_str(&format!("  {path} = {shown:?}\n"));
    }
    out
}

/// Runs `scenario` on both hosts, asserts identical outcomes and that the PVM never got stuck;
/// returns the (common) outcome and the PVM's level reports.
fn differential(kernel: Kernel, scenario: &Scenario) -> (Outcome, Vec<LevelReport>) {
    let (_, on_mock) = mock::run(scenario, kernel.native());
    let (_, on_pvm, reports) = pvm::run(scenario, &kernel.wasm())
        .unwrap_or_else(|e| panic!("{} kernel on the PVM: {e}", kernel.name()));
    for (index, report) in reports.iter().enumerate() {
        let debug: Vec<String> = report
            .debug
            .iter()
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .collect();
        assert_eq!(
            report.status,
            Status::WaitingForInput,
            "{} kernel: level #{index} ended {:?} on the PVM; debug log: {debug:?}",
            kernel.name(),
            report.status
        );
    }
    assert!(
        on_mock == on_pvm,
        "{} kernel: MockHost and the PVM disagree\nMockHost:\n{}PVM:\n{}",
        kernel.name(),
        show(&on_mock),
        show(&on_pvm)
    );
    (on_pvm, reports)
}

#[test]
fn every_kernel_module_is_accepted_by_the_pvm() {
    for kernel in soru_tests::kernels::ALL {
        let wasm = kernel.wasm();
        pvm::originate(&Scenario::default(), &wasm)
            .unwrap_or_else(|e| panic!("the PVM rejects {}: {e}", kernel.wasm_path().display()));
    }
}

#[test]
fn echo_copies_external_messages_and_transfers() {
    let long: Vec<u8> = (0..4095u32).map(|i| (i * 13) as u8).collect();
    let transfer = |payload| {
        Input::Transfer(Transfer {
            payload,
            sender: kt1(7),
            source: SOURCE.to_owned(),
        })
    };
    let scenario = Scenario {
        rollup_address: [0x5a; 20],
        levels: vec![
            vec![
                Input::External(b"hello".to_vec()),
                Input::External(Vec::new()),
                // The largest external body: 4096-byte inputs, minus the tag.
                Input::External(long.clone()),
            ],
            vec![],
            vec![
                transfer(Payload::Bytes(vec![1, 2, 3])),
                transfer(Payload::Int(-1_000_000)),
                transfer(Payload::String("tez".to_owned())),
                Input::External(b"after transfers".to_vec()),
            ],
        ],
        ..Scenario::default()
    };
    let (outcome, _) = differential(Kernel::Echo, &scenario);

    assert_eq!(
        outcome.outboxes[0],
        vec![b"hello".to_vec(), Vec::new(), long]
    );
    assert!(outcome.outboxes[1].is_empty());
    let level2 = &outcome.outboxes[2];
    assert_eq!(level2.len(), 4);
    // Each transfer is echoed as `transfer:` ++ the raw inbox message, which must be exactly
    // Soru's encoding of that transfer (and, by the differential check, the SDK's).
    for (echoed, input) in level2.iter().zip(&scenario.levels[2]) {
        let raw = pvm::encode_input(input, &scenario.rollup_address).unwrap();
        match input {
            Input::Transfer(_) => {
                assert_eq!(echoed[..9], *soru_test_kernels::echo::TRANSFER_PREFIX);
                assert_eq!(echoed[9..], raw[..]);
            }
            Input::External(body) => assert_eq!(echoed, body),
        }
    }
}

#[test]
fn echo_fills_a_full_outbox_level_after_level() {
    let levels: Vec<Vec<Vec<u8>>> = (0..4u8)
        .map(|level| (0..100u8).map(|i| vec![level, i, level ^ i]).collect())
        .collect();
    let (outcome, reports) = differential(Kernel::Echo, &Scenario::externals(levels.clone()));
    assert_eq!(outcome.outboxes, levels);
    assert!(reports.iter().all(|r| r.kernel_runs == 1));
}

#[test]
fn durable_storage_calls_agree() {
    let small = b"small value".to_vec();
    let commands: Vec<Vec<u8>> = vec![
        // Small values, partial writes and reads.
        dk::write_all_command(b"/a/b", &small),
        dk::read_command(b"/a/b", 0, 100),
        dk::read_command(b"/a/b", 6, 3),
        dk::write_command(b"/a/b", 6, b"VALUE!"),
        dk::read_command(b"/a/b", 0, 2048),
        dk::command(Op::Size, &[b"/a/b"]),
        // Writing past the end of a value is an error on both hosts.
        dk::write_command(b"/a/b", 100, b"x"),
        // Values spanning several 512-byte chunks and several 2048-byte reads/writes.
        dk::generate_command(b"/big/one", 3000, 1),
        dk::generate_command(b"/big/two", 10_000, 2),
        dk::write_all_command(b"/big/three", &dk::generated_value(2048, 3)),
        dk::command(Op::ReadAll, &[b"/big/one"]),
        dk::command(Op::ReadAll, &[b"/big/two"]),
        dk::command(Op::ReadAll, &[b"/big/three"]),
        dk::read_command(b"/big/two", 511, 2048),
        dk::read_command(b"/big/two", 9_999, 10),
        dk::write_command(b"/big/two", 1_000, &[0xee; 1500]),
        dk::command(Op::ReadAll, &[b"/big/two"]),
        dk::command(Op::Size, &[b"/big/two"]),
        // Shrinking a value with write_all (delete_value then write).
        dk::write_all_command(b"/big/two", b"short now"),
        dk::command(Op::ReadAll, &[b"/big/two"]),
        // Kinds of node and subkey counts.
        dk::write_all_command(b"/a", b"value with subtree"),
        dk::command(Op::Has, &[b"/a"]),
        dk::command(Op::Has, &[b"/a/b"]),
        dk::command(Op::Has, &[b"/big"]),
        dk::command(Op::Has, &[b"/nowhere"]),
        dk::command(Op::Count, &[b"/big"]),
        dk::command(Op::Count, &[b"/a"]),
        // Copy and move whole subtrees, then overwrite a destination.
        dk::command(Op::Copy, &[b"/big", b"/copy"]),
        dk::command(Op::Count, &[b"/copy"]),
        dk::command(Op::ReadAll, &[b"/copy/one"]),
        dk::command(Op::Move, &[b"/copy", b"/moved/here"]),
        dk::command(Op::Has, &[b"/copy"]),
        dk::command(Op::ReadAll, &[b"/moved/here/three"]),
        dk::command(Op::Copy, &[b"/a/b", b"/moved/here/one"]),
        dk::command(Op::ReadAll, &[b"/moved/here/one"]),
        // Deletes: a subtree, then missing paths (the SDK checks before calling the host).
        dk::command(Op::Delete, &[b"/moved"]),
        dk::command(Op::Has, &[b"/moved/here/one"]),
        dk::command(Op::Delete, &[b"/moved"]),
        dk::command(Op::Move, &[b"/nowhere", b"/x"]),
        dk::command(Op::Copy, &[b"/nowhere", b"/x"]),
        dk::read_command(b"/nowhere", 0, 1),
        dk::command(Op::Size, &[b"/nowhere"]),
        // delete_value on a value that has a subtree keeps the subtree on both hosts (a node
        // left empty would be pruned by the PVM and kept by MockHost: mockhost-vs-octez.md,
        // "A node emptied by store_delete_value", so the scenario only looks at the subtree).
        dk::command(Op::DeleteValue, &[b"/a"]),
        dk::command(Op::Has, &[b"/a"]),
        dk::command(Op::ReadAll, &[b"/a/b"]),
        // Malformed commands: unknown opcode and an invalid path.
        vec![b'?'],
        dk::command(Op::Has, &[b"no-leading-slash"]),
    ];
    // Split the commands over levels (at most 100 outbox messages per level).
    let levels: Vec<Vec<Vec<u8>>> = commands.chunks(20).map(<[_]>::to_vec).collect();
    let scenario = Scenario::externals(levels).compare_paths(&[
        "/a/b",
        "/a",
        "/big/one",
        "/big/two",
        "/big/three",
        "/moved/here/one",
    ]);
    let (outcome, _) = differential(Kernel::Durable, &scenario);

    let results: Vec<&Vec<u8>> = outcome.outboxes.iter().flatten().collect();
    assert_eq!(results.len(), commands.len(), "one result per command");
    for (command, result) in commands.iter().zip(&results) {
        if command.first() == Some(&b'?') || command.get(2) == Some(&b'n') {
            assert_eq!(result.as_slice(), [dk::MALFORMED]);
        } else {
            assert_eq!(result[0], command[0], "each result echoes its opcode");
        }
    }
    // Spot checks of what the commands must have done.
    assert_eq!(
        results[1].as_slice(),
        [&[b'r', dk::OK][..], &small].concat()
    );
    assert_eq!(
        results[4].as_slice(),
        [&b"r\0"[..], b"small VALUE!"].concat()
    );
    assert_eq!(results[6][1], dk::HOST_ERROR);
    let big_one = dk::generated_value(3000, 1);
    assert_eq!(results[10][2..], dk::describe_value(&big_one)[..]);
    assert_eq!(
        outcome.durable["/big/one"].as_deref(),
        Some(big_one.as_slice())
    );
    assert_eq!(
        outcome.durable["/big/two"].as_deref(),
        Some(&b"short now"[..])
    );
    assert_eq!(outcome.durable["/a"], None);
    assert_eq!(outcome.durable["/moved/here/one"], None);
    assert_eq!(
        outcome.durable["/a/b"].as_deref(),
        Some(&b"small VALUE!"[..])
    );
}

#[test]
fn counter_reboots_within_each_level() {
    let levels = vec![
        vec![],                 // default number of reboots
        vec![vec![5]],          // 5 reboots
        vec![vec![0], vec![1]], // the last message wins: 1 reboot
        vec![vec![0]],          // no reboot
    ];
    let reboots = [counter::DEFAULT_REBOOTS, 5, 1, 0];
    let scenario = Scenario::externals(levels.clone()).compare_paths(&[
        "/counter/runs",
        "/counter/messages",
        "/counter/level/reboots_done",
    ]);
    let (outcome, reports) = differential(Kernel::Counter, &scenario);

    let mut runs = 0u64;
    let mut messages = 0u64;
    for (index, level) in levels.iter().enumerate() {
        runs += 1 + u64::from(reboots[index]);
        messages += level.len() as u64;
        let mut expected = runs.to_be_bytes().to_vec();
        expected.extend_from_slice(&messages.to_be_bytes());
        expected.push(reboots[index]);
        assert_eq!(outcome.outboxes[index], vec![expected], "level #{index}");
        assert_eq!(reports[index].kernel_runs, 1 + u32::from(reboots[index]));
    }
    assert_eq!(
        outcome.durable["/counter/runs"].as_deref(),
        Some(&runs.to_be_bytes()[..])
    );
    assert_eq!(outcome.durable["/counter/level/reboots_done"], None);
}

#[test]
fn outbox_batches_decode_with_soru() {
    let tx = |seed: u8, entrypoint: &str, int: i32, text: &str| outbox::Transaction {
        destination: kt1(seed),
        entrypoint: entrypoint.to_owned(),
        int,
        text: text.to_owned(),
    };
    let batches = vec![
        vec![tx(1, "", 0, "")],
        vec![
            tx(2, "deposit", 42, "first"),
            tx(3, "withdraw_all", -7, "second"),
            tx(4, "_x.y%z@", i32::MAX, &"long text ".repeat(20)),
        ],
        vec![tx(5, "default", i32::MIN, "min")],
    ];
    let mut level: Vec<Vec<u8>> = batches.iter().map(|b| outbox::request(b)).collect();
    // Rejected by the kernel on both hosts: no output.
    level.push(outbox::request(&[outbox::Transaction {
        destination: "KT1notAnAddress".to_owned(),
        ..tx(1, "", 0, "")
    }]));
    let (outcome, _) = differential(Kernel::Outbox, &Scenario::externals(vec![level]));

    assert_eq!(outcome.outboxes[0].len(), batches.len());
    for (bytes, batch) in outcome.outboxes[0].iter().zip(&batches) {
        let decoded = SoruOutbox::decode(bytes)
            .unwrap_or_else(|e| panic!("Soru cannot decode the SDK's batch {}: {e}", hex(bytes)));
        let SoruOutbox::AtomicTransactionBatch(transactions) = decoded else {
            panic!("expected an untyped batch, got {decoded:?}");
        };
        assert_eq!(transactions.len(), batch.len());
        for (got, want) in transactions.iter().zip(batch) {
            assert_eq!(got.destination.to_b58check(), want.destination);
            let entrypoint = if want.entrypoint.is_empty() {
                "default"
            } else {
                &want.entrypoint
            };
            assert_eq!(got.entrypoint.to_string(), entrypoint);
            let Expr::Prim { args, .. } = &got.parameters else {
                panic!("parameters are not a Pair: {:?}", got.parameters);
            };
            assert_eq!(args[0], Expr::Int(i64::from(want.int).into()));
            let Expr::Prim { args: inner, .. } = &args[1] else {
                panic!("second component is not a Pair: {:?}", args[1]);
            };
            assert_eq!(inner[0], Expr::String(want.text.clone()));
            assert_eq!(inner[1], Expr::Bytes(want.text.clone().into_bytes()));
        }
        // Re-encoding with Soru gives back the SDK's bytes.
        assert_eq!(SoruOutbox::decode(bytes).unwrap().encode(), *bytes);
    }
}

#[test]
fn reveal_preimages_and_metadata() {
    let preimages: Vec<Vec<u8>> = vec![
        b"a short preimage".to_vec(),
        (0..3000u32).map(|i| (i % 251) as u8).collect(),
        // The largest preimage the reveal channel serves.
        (0..4096u32).map(|i| (i * 7 % 256) as u8).collect(),
    ];
    let mut requests: Vec<Vec<u8>> = vec![b"m".to_vec()];
    for preimage in &preimages {
        requests.push([&b"p"[..], &reveal_hash(preimage)].concat());
    }
    let paths: Vec<String> = preimages
        .iter()
        .map(|p| String::from_utf8(reveal::preimage_path(&reveal_hash(p))).unwrap())
        .collect();
    let mut scenario = Scenario::externals(vec![requests]);
    scenario.rollup_address = [0xa7; 20];
    scenario.preimages = preimages.clone();
    scenario.durable_paths = paths.clone();
    let (outcome, _) = differential(Kernel::Reveal, &scenario);

    let out = &outcome.outboxes[0];
    assert_eq!(out[0], [&b"m"[..], &[0xa7; 20]].concat());
    for (i, preimage) in preimages.iter().enumerate() {
        assert_eq!(
            out[i + 1],
            [&b"p"[..], &dk::describe_value(preimage)].concat()
        );
        assert_eq!(
            outcome.durable[&paths[i]].as_deref(),
            Some(preimage.as_slice())
        );
    }

    // The origination level differs by design: MockHost originates at 3760129, the PVM at the
    // configured level (0, the debugger's convention): mockhost-vs-octez.md, "Level framing".
    let path = reveal::ORIGINATION_LEVEL.to_string();
    let metadata_only = Scenario {
        durable_paths: vec![path.clone()],
        ..Scenario::externals(vec![vec![b"m".to_vec()]])
    };
    let (_, on_mock) = mock::run(&metadata_only, Kernel::Reveal.native());
    let (_, on_pvm, _) = pvm::run(&metadata_only, &Kernel::Reveal.wasm()).unwrap();
    assert_eq!(
        on_mock.durable[&path],
        Some(3_760_129u32.to_be_bytes().to_vec())
    );
    assert_eq!(on_pvm.durable[&path], Some(0u32.to_be_bytes().to_vec()));
}

#[test]
fn compute_digests_match_native() {
    let rounds = [0u32, 1, 3, 10];
    let level: Vec<Vec<u8>> = rounds.iter().map(|r| r.to_be_bytes().to_vec()).collect();
    let (outcome, reports) = differential(Kernel::Compute, &Scenario::externals(vec![level]));
    let expected: Vec<Vec<u8>> = rounds
        .iter()
        .map(|r| compute::digest(*r).to_vec())
        .collect();
    assert_eq!(outcome.outboxes[0], expected);
    assert!(
        reports[0].fuel > 0,
        "the PVM reports the fuel the hash loop burnt"
    );
}
