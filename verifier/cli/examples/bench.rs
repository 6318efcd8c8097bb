//! Timing loops for `make bench` (scripts/bench.sh), built natively and for wasm32-wasip1 so the
//! same code is measured on both:
//!
//! ```text
//! bench verify PROOF_HEX_FILE SRS1 ITERATIONS   -> us_per_verify=..
//! bench replay KERNEL.wasm LEVELS ITERATIONS    -> ms_per_replay=.. (LEVELS levels of one message)
//! bench witness KERNEL.wasm LEVELS ITERATIONS   -> ms_per_produce=.. ms_per_witness_replay=..
//!                                                  witness_bytes=.. (the last of LEVELS levels)
//! ```
//! Each prints the best of 5 rounds (the least distorted by a shared machine).

use std::time::Instant;

use soru_verifier::input::{decode_hex, parse_state_hash};

fn best_of_5(mut round: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            round();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
    match (args.first().map(String::as_str), n) {
        (Some("verify"), 1..) => {
            let proof = decode_hex(&std::fs::read_to_string(&args[1]).expect("proof file"))
                .expect("proof hex");
            let state = parse_state_hash(&args[2]).expect("state hash");
            soru_verifier::verify_outbox_proof(&proof, &state).expect("a valid proof");
            let best = best_of_5(|| {
                for _ in 0..n {
                    let r = soru_verifier::verify_outbox_proof(&proof, &state);
                    assert!(r.is_ok());
                }
            });
            println!("us_per_verify={:.2}", best * 1e6 / n as f64);
        }
        (Some("replay"), 1..) => {
            let kernel = std::fs::read(&args[1]).expect("kernel file");
            let levels: usize = args[2].parse().expect("level count");
            let inbox: Vec<Vec<Vec<u8>>> = (0..levels)
                .map(|i| vec![format!("\x01message {i}").into_bytes()])
                .collect();
            let config = soru_verifier::replay::ReplayConfig::default();
            let best = best_of_5(|| {
                for _ in 0..n {
                    soru_verifier::replay::replay(&kernel, &inbox, &config).expect("replay");
                }
            });
            println!("ms_per_replay={:.2}", best * 1e3 / n as f64);
        }
        (Some("witness"), 1..) => {
            use soru_core::pvm::Pvm;
            use soru_core::reveal::NoReveal;
            use soru_core::witness::{self, WitnessLevel};
            let kernel = std::fs::read(&args[1]).expect("kernel file");
            let levels: usize = args[2].parse().expect("level count");
            let message = |i: usize| format!("\x01message {i}").into_bytes();
            let config = soru_verifier::replay::ReplayConfig::default();
            let mut pvm = Pvm::new(&kernel, config.clone()).expect("kernel");
            for i in 0..levels.saturating_sub(1) {
                pvm.run_level(&[message(i)], &mut NoReveal).expect("level");
            }
            let pre = pvm.state_tree().expect("state");
            let last = vec![WitnessLevel {
                level: pvm.next_level(),
                timestamp: 0,
                predecessor: [0; 32],
                messages: vec![message(levels.saturating_sub(1))],
            }];
            let produce = || witness::produce(&pre, &config, last.clone(), &mut NoReveal);
            let (w, run) = produce().expect("witness");
            let bytes = witness::encode(&w).expect("encode");
            let best_produce = best_of_5(|| {
                for _ in 0..n {
                    produce().expect("witness");
                }
            });
            let best_replay = best_of_5(|| {
                for _ in 0..n {
                    let again = soru_verifier::replay::replay_witness(&bytes).expect("replay");
                    assert_eq!(again.state_hash, run.state_hash);
                }
            });
            println!(
                "ms_per_produce={:.2} ms_per_witness_replay={:.2} witness_bytes={}",
                best_produce * 1e3 / n as f64,
                best_replay * 1e3 / n as f64,
                bytes.len()
            );
        }
        _ => {
            eprintln!(
                "usage: bench verify PROOF_HEX_FILE SRS1 N | bench replay KERNEL LEVELS N | bench witness KERNEL LEVELS N"
            );
            std::process::exit(2);
        }
    }
}
