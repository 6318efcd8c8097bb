//! The Merkleized inbox against data octez produced: the inbox proofs inside the real
//! refutation proofs of `shared/vectors/octez-pvm-regressions/refutation-proofs.tsv` (from
//! octez's `src/proto_alpha/lib_sc_rollup_node/test/serialized_proofs.ml`, see that folder's
//! README). Each carries level-history cells whose back pointers are octez's `srib1` inbox
//! hashes of the cells that follow, payload cells whose back pointers are octez's `srib2`
//! hashes, and a message whose `srib3` hash is the last payload cell's content. Soru must
//! re-encode them byte for byte, find each recomputed hash where octez put it, and rebuild
//! consecutive cells with its own skip-list step. A missing vectors folder skips locally and
//! fails under `CI=true`.

use std::path::PathBuf;

use soru_core::encoding::binary::Reader;
use soru_core::inbox::{back_pointer_count, Cell, InboxError, InboxProof};

fn vectors() -> Option<PathBuf> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/vectors/octez-pvm-regressions/refutation-proofs.tsv");
    if file.is_file() {
        return Some(file);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "octez refutation proof vectors missing at {}",
        file.display()
    );
    println!(
        "SKIP: octez refutation proofs not found at {}",
        file.display()
    );
    None
}

/// One row of the vectors: `(row, level, message_counter, serialized inbox proof)`.
type InboxProofRow = (usize, i32, u64, Vec<u8>);

/// Every refutation proof whose
/// input proof is an inbox proof (`Sc_rollup_proof_repr.encoding`: `pvm_step` as a
/// uint30-prefixed string, then `input_proof` optional, tag 0 = inbox proof with level,
/// message_counter and `serialized_proof`).
fn inbox_proofs() -> Option<Vec<InboxProofRow>> {
    let text = std::fs::read_to_string(vectors()?).unwrap();
    let mut out = Vec::new();
    for (row, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let hex_text = line.split('\t').nth(3).expect("4 columns");
        let bytes = hex::decode(hex_text).expect("hex proof");
        let mut r = Reader::new(&bytes);
        r.dynamic_bytes().expect("pvm_step");
        if !r.bool().expect("input_proof option") {
            continue;
        }
        if r.u8().expect("input proof tag") != 0 {
            continue;
        }
        let level = r.i32().unwrap();
        let counter = r.n_u64().unwrap();
        let proof = r.dynamic_bytes().unwrap().to_vec();
        r.finish().expect("proof fully read");
        out.push((row + 1, level, counter, proof));
    }
    Some(out)
}

#[test]
fn octez_inbox_proofs_decode_reencode_and_link_by_soru_hashes() {
    let Some(proofs) = inbox_proofs() else { return };
    // Rows 3, 4, 5, 6 and 8 (arith) and 14 (wasm) carry inbox proofs.
    assert_eq!(proofs.len(), 6, "inbox proofs found: {proofs:?}");
    let mut links = 0;
    for (row, level, counter, bytes) in &proofs {
        let proof = InboxProof::decode(bytes).unwrap_or_else(|e| panic!("row {row}: {e}"));
        assert_eq!(&proof.encode(), bytes, "row {row}: byte-exact re-encoding");
        let cell = proof
            .check_hash_links()
            .unwrap_or_else(|e| panic!("row {row}: {e}"));
        // The proven level is the input's level; the message is the one after `counter`.
        assert_eq!(cell.content.level, *level, "row {row}");
        let target = proof.message_proof.last().unwrap();
        if proof.payload.is_some() {
            assert_eq!(target.index, counter + 1, "row {row}");
        }
        links += proof.inclusion_proof.len() + proof.message_proof.len() - 1;
        // Every octez cell has the back pointers its index requires.
        for c in &proof.inclusion_proof {
            assert_eq!(
                c.back_pointers.len(),
                back_pointer_count(c.index),
                "row {row}"
            );
        }
        for c in &proof.message_proof {
            assert_eq!(
                c.back_pointers.len(),
                back_pointer_count(c.index),
                "row {row}"
            );
        }
    }
    assert_eq!(links, 37, "hash links checked");
}

/// Where octez's proofs hold two consecutive cells (index k and k+1), Soru's `Cell::next` of
/// the first must give the second exactly (back pointers included).
#[test]
fn soru_skip_list_step_rebuilds_octez_cells() {
    let Some(proofs) = inbox_proofs() else { return };
    let mut rebuilt = 0;
    for (row, _, _, bytes) in &proofs {
        let proof = InboxProof::decode(bytes).unwrap();
        for w in proof.inclusion_proof.windows(2) {
            if w[1].index + 1 == w[0].index {
                let next = Cell::next(&w[1], w[1].hash(), w[0].content, "level history").unwrap();
                assert_eq!(next, w[0], "row {row}: history cell {}", w[0].index);
                rebuilt += 1;
            }
        }
        for w in proof.message_proof.windows(2) {
            if w[1].index + 1 == w[0].index {
                let next = Cell::next(&w[1], w[1].hash(), w[0].content, "payload hashes").unwrap();
                assert_eq!(next, w[0], "row {row}: payload cell {}", w[0].index);
                rebuilt += 1;
            }
        }
    }
    // Row 5: history 7<-6<-5<-4; row 8: history 7<-6, payload 3<-2; row 14: history 3<-2,
    // payload 7<-6<-5<-4.
    assert_eq!(rebuilt, 9);
}

#[test]
fn corrupted_octez_proofs_are_rejected_naming_the_link() {
    let Some(proofs) = inbox_proofs() else { return };
    let (_, _, _, bytes) = proofs.iter().find(|p| p.0 == 14).expect("row 14");
    let good = InboxProof::decode(bytes).unwrap();

    let mut p = good.clone();
    // Cell 11's back pointers change its hash, which cell 15 names.
    p.inclusion_proof[2].back_pointers[0].0[5] ^= 1;
    let e = p.check_hash_links().unwrap_err();
    assert!(
        matches!(&e, InboxError::Proof(m) if m.contains("history cell 11") && m.contains("of cell 15")),
        "{e}"
    );

    let mut p = good.clone();
    p.inclusion_proof.last_mut().unwrap().content.level += 1;
    assert!(
        p.check_hash_links().is_err(),
        "a level changes the srib1 hash"
    );

    let mut p = good.clone();
    p.payload.as_mut().unwrap()[1] ^= 1;
    let e = p.check_hash_links().unwrap_err();
    assert!(
        matches!(&e, InboxError::Proof(m) if m.contains("payload hashes to")),
        "{e}"
    );

    let mut p = good;
    p.message_proof[0].content.0[0] ^= 1;
    let e = p.check_hash_links().unwrap_err();
    assert!(
        matches!(&e, InboxError::Proof(m) if m.contains("message proof head")),
        "{e}"
    );
}

/// Every octez refutation proof of the vectors, as the final move of a `smart_rollup_refute`
/// operation: the proof decodes and re-encodes byte for byte, and so does the operation, in
/// binary and through octez's JSON; an opening and a dissection round-trip the same way, and a
/// truncated proof is an error naming the byte.
#[test]
fn octez_refutation_proofs_round_trip_in_refute_operations() {
    use soru_core::commitment::{CommitmentHash, StateHash};
    use soru_core::encoding::address::{KeyKind, PublicKeyHash, SmartRollupAddress};
    use soru_core::encoding::binary::Zarith;
    use soru_core::encoding::inbox::BlockHash;
    use soru_core::encoding::operation::{ManagerOperation, Operation, OperationKind};
    use soru_core::encoding::refutation::{DissectionChunk, InputProof, Proof, Refutation, Step};

    let Some(file) = vectors() else { return };
    let text = std::fs::read_to_string(file).unwrap();
    let mut refutations = vec![
        Refutation::Start {
            player_commitment_hash: CommitmentHash([1; 32]),
            opponent_commitment_hash: CommitmentHash([2; 32]),
        },
        Refutation::Move {
            choice: Zarith::from_u64(0),
            step: Step::Dissection(vec![
                DissectionChunk {
                    state: Some(StateHash([3; 32])),
                    tick: Zarith::from_u64(0),
                },
                DissectionChunk {
                    state: None,
                    tick: Zarith::from_decimal("1100000000000000000000").unwrap(),
                },
            ]),
        },
    ];
    let mut kinds = std::collections::BTreeSet::new();
    for (row, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let bytes = hex::decode(line.split('\t').nth(3).unwrap()).unwrap();
        let mut r = Reader::new(&bytes);
        let proof = Proof::read(&mut r).unwrap_or_else(|e| panic!("row {}: {e}", row + 1));
        r.finish()
            .unwrap_or_else(|e| panic!("row {}: {e}", row + 1));
        assert_eq!(proof.encode(), bytes, "row {}: byte-exact", row + 1);
        kinds.insert(match &proof.input_proof {
            None => "none",
            Some(InputProof::Inbox { .. }) => "inbox",
            Some(InputProof::Reveal(_)) => "reveal",
            Some(InputProof::FirstInput) => "first_input",
        });
        let mut truncated = Reader::new(&bytes[..bytes.len() - 1]);
        let e = Proof::read(&mut truncated).and_then(|_| truncated.finish());
        assert!(e.is_err(), "row {}: a truncated proof is refused", row + 1);
        refutations.push(Refutation::Move {
            choice: Zarith::from_u64(row as u64 * 1_000_000_007),
            step: Step::Proof(proof),
        });
    }
    assert!(
        kinds.contains("inbox") && kinds.contains("none"),
        "{kinds:?}"
    );
    for (i, refutation) in refutations.into_iter().enumerate() {
        let op = Operation {
            branch: BlockHash([9; 32]),
            contents: vec![ManagerOperation {
                source: PublicKeyHash {
                    kind: KeyKind::Ed25519,
                    hash: [4; 20],
                },
                fee: 1_000,
                counter: 7,
                gas_limit: 100_000,
                storage_limit: 0,
                kind: OperationKind::SmartRollupRefute {
                    rollup: SmartRollupAddress([5; 20]),
                    opponent: PublicKeyHash {
                        kind: KeyKind::Ed25519,
                        hash: [6; 20],
                    },
                    refutation,
                },
            }],
            signature: None,
        };
        let forged = op.forge();
        assert_eq!(forged[32], 204, "refutation {i}: the tag");
        let back = Operation::decode_unsigned(&forged).unwrap_or_else(|e| panic!("{i}: {e}"));
        assert_eq!(back, op, "refutation {i}: binary");
        let json = op.contents[0].to_json();
        assert_eq!(json["kind"], "smart_rollup_refute");
        let parsed = ManagerOperation::from_json(&json).unwrap_or_else(|e| panic!("{i}: {e}"));
        assert_eq!(parsed, op.contents[0], "refutation {i}: JSON {json}");
    }
}
