//! End to end across the crates: an SDK kernel writes outbox messages on Soru's PVM, the node
//! side proves one of them from the PVM's state tree (`soru_core::output_proof`), and the light
//! client (`soru_verifier`) checks that proof against the level's state hash alone.

use soru_core::encoding::inbox::InboxMessage;
use soru_core::output_proof::produce_output_proof;
use soru_core::pvm::{Pvm, PvmConfig};
use soru_core::reveal::NoReveal;
use soru_tests::kernels::Kernel;
use soru_verifier::{verify_output_against_commitment, verify_output_proof, Commitment, Layout};

/// Runs the echo kernel for three levels; level `i` carries `i + 1` external messages.
fn echo_pvm() -> (Pvm, Vec<soru_core::pvm::LevelReport>) {
    let mut pvm = Pvm::new(&Kernel::Echo.wasm(), PvmConfig::default()).expect("originate echo");
    let reports = (0..3u8)
        .map(|level| {
            let messages: Vec<Vec<u8>> = (0..=level)
                .map(|i| InboxMessage::External(vec![b'm', level, i]).encode())
                .collect();
            pvm.run_level(&messages, &mut NoReveal).expect("run level")
        })
        .collect();
    (pvm, reports)
}

#[test]
fn every_outbox_message_of_a_replay_is_provable_against_the_state_hash() {
    let (pvm, reports) = echo_pvm();
    let state = pvm.state_tree().expect("state tree");
    let state_hash = pvm.state_hash().expect("state hash");
    assert_eq!(state_hash, reports.last().unwrap().state_hash);
    for report in &reports {
        assert_eq!(report.outbox.len(), report.level as usize + 1);
        for (index, message) in report.outbox.iter().enumerate() {
            for layout in [Layout::Obj2, Layout::Obj3] {
                let proof = produce_output_proof(&state, report.level, index as u64, layout)
                    .expect("produce proof");
                let verified = verify_output_proof(&proof, &state_hash, Some(layout))
                    .expect("a proof of the PVM's own outbox verifies");
                assert_eq!(verified.outbox_level, report.level);
                assert_eq!(verified.message_index, index as u64);
                assert_eq!(&verified.message, message);
            }
        }
    }
}

#[test]
fn a_proof_checks_against_a_commitment_and_not_against_an_earlier_state() {
    let (pvm, reports) = echo_pvm();
    let state = pvm.state_tree().expect("state tree");
    let last = reports.last().unwrap();
    let proof = produce_output_proof(&state, last.level, 0, Layout::Obj2).expect("proof");

    let mut commitment = Commitment::genesis(0, soru_verifier::StateHash(last.state_hash));
    commitment.inbox_level = i32::try_from(last.level).unwrap();
    let verified = verify_output_against_commitment(&proof, &commitment, None).expect("verifies");
    assert_eq!(verified.message, last.outbox[0]);

    // The state of an earlier level is another commitment: the same proof must not pass there.
    let earlier = reports[0].state_hash;
    assert_ne!(earlier, last.state_hash);
    assert!(verify_output_proof(&proof, &earlier, None).is_err());
}

#[test]
fn messages_that_were_never_written_cannot_be_proven() {
    let (pvm, reports) = echo_pvm();
    let state = pvm.state_tree().expect("state tree");
    let last = reports.last().unwrap();
    let past_the_end = last.outbox.len() as u64;
    assert!(produce_output_proof(&state, last.level, past_the_end, Layout::Obj2).is_err());
    assert!(produce_output_proof(&state, last.level + 1, 0, Layout::Obj2).is_err());
}
