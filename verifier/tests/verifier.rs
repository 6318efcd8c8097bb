//! soru-verifier's API on the real octez output proofs in `../shared/vectors/tezos-output-proofs/`
//! (read at run time; skipped with a message when absent, a failure when `CI=true`) and on
//! messages built here.

use std::path::{Path, PathBuf};

use soru_core::encoding::address::ContractHash;
use soru_core::encoding::micheline::{Expr, Primitive};
use soru_core::encoding::outbox::{Entrypoint, OutboxMessage, Transaction, TypedTransaction};
use soru_verifier::input::{decode_hex, parse_state_hash};
use soru_verifier::{
    check_commitment_chain, decode_outbox_message, tickets, verify_outbox_proof, ChainError,
    Commitment, CommitmentHash, OutputProofError, StateHash,
};

fn vectors_dir() -> Option<PathBuf> {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/tezos-output-proofs");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "output proof vectors missing at {} (CI=true)",
        dir.display()
    );
    eprintln!(
        "skipping: output proof vectors not found at {}",
        dir.display()
    );
    None
}

/// `(file name, proof hex, corrupted hex, srs1, outbox level, message index, message hex)`.
type Vector = (String, String, Option<String>, String, u32, u64, String);

fn vectors() -> Vec<Vector> {
    let Some(dir) = vectors_dir() else {
        return Vec::new();
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no vectors in {}", dir.display());
    files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            let field = |prefix: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(prefix))
                    .map(|s| s.trim().to_owned())
            };
            let comment = |marker: &str| {
                text.lines()
                    .find_map(|l| {
                        l.find(marker)
                            .map(|i| l[i + marker.len()..].trim().to_owned())
                    })
                    .unwrap_or_else(|| panic!("{}: no {marker:?}", path.display()))
            };
            let output = comment("# expected output: ");
            let num = |key: &str| -> u64 {
                output
                    .split_whitespace()
                    .find_map(|f| f.strip_prefix(key))
                    .unwrap()
                    .parse()
                    .unwrap()
            };
            let message = comment("# expected message (");
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                field("output_proof_hex=").unwrap(),
                field("corrupted_output_proof_hex="),
                comment("# expected srs1")
                    .rsplit(' ')
                    .next()
                    .unwrap()
                    .to_owned(),
                num("outbox_level=") as u32,
                num("message_index="),
                message.rsplit(' ').next().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_vector_verifies_and_decodes() {
    for (name, proof, corrupted, srs1, level, index, message) in vectors() {
        let state = parse_state_hash(&srs1).unwrap();
        let bytes = decode_hex(&proof).unwrap();
        let out = verify_outbox_proof(&bytes, &state).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (out.outbox_level, out.message_index),
            (level, index),
            "{name}"
        );
        assert_eq!(hex::encode(&out.message), message, "{name}");
        let decoded = out
            .decoded
            .as_ref()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            matches!(decoded, OutboxMessage::AtomicTransactionBatch(_)),
            "{name}"
        );
        let json = out.to_json();
        assert_eq!(
            json.get("message_index").and_then(|j| j.as_str()),
            Some(&*index.to_string())
        );
        let kind = json
            .get("message")
            .and_then(|m| m.get("kind"))
            .and_then(|k| k.as_str());
        assert_eq!(kind, Some("untyped"), "{name}");
        eprintln!("{name}: {json}");

        // The Etherlink withdrawals move one ticket each; the Taquito message carries none.
        let found = out.tickets();
        if name.contains("withdrawal") {
            assert_eq!(found.len(), 1, "{name}: {found:?}");
            assert_eq!(found[0].transaction, 0);
            assert!(!found[0].typed);
        } else {
            assert!(found.is_empty(), "{name}: {found:?}");
        }

        // Against a commitment that carries the state: same result; any other state: rejected.
        let commitment = Commitment::genesis(0, state);
        assert_eq!(verify_outbox_proof(&bytes, &commitment).unwrap(), out);
        let err = verify_outbox_proof(&bytes, &StateHash([0; 32])).unwrap_err();
        assert!(
            matches!(err, OutputProofError::StateMismatch { .. }),
            "{name}: {err}"
        );

        if let Some(corrupted) = corrupted {
            let err = verify_outbox_proof(&decode_hex(&corrupted).unwrap(), &state).unwrap_err();
            assert!(
                matches!(err, OutputProofError::RootHashMismatch { .. }),
                "{name}: corrupted proof gave {err}"
            );
        }
    }
}

#[test]
fn truncated_and_flipped_proofs_are_errors() {
    for (name, proof, _, srs1, ..) in vectors() {
        let state = parse_state_hash(&srs1).unwrap();
        let bytes = decode_hex(&proof).unwrap();
        for cut in (0..bytes.len()).step_by(37) {
            assert!(
                verify_outbox_proof(&bytes[..cut], &state).is_err(),
                "{name} cut at {cut}"
            );
        }
        for at in (0..bytes.len()).step_by(11) {
            let mut b = bytes.clone();
            b[at] ^= 0x40;
            // A flip may hit bytes the proof does not commit to (e.g. the padding byte after a
            // contract hash in the message is ignored by the encoding); it must never panic.
            let _ = verify_outbox_proof(&b, &state);
        }
    }
}

fn kt1(b: u8) -> ContractHash {
    ContractHash([b; 20])
}

fn pair(args: Vec<Expr>) -> Expr {
    Expr::prim(Primitive::PAIR, args)
}

fn prim(name: &str, args: Vec<Expr>) -> Expr {
    Expr::prim(Primitive::from_name(name).unwrap(), args)
}

#[test]
fn tickets_in_typed_and_untyped_batches() {
    let receiver = Expr::String("tz1burnburnburnburnburnburnburjAYjjX".into());
    let ticket = pair(vec![
        Expr::String(kt1(5).to_b58check()),
        pair(vec![Expr::int(0), prim("None", vec![])]),
        Expr::int(1000),
    ]);
    let untyped = OutboxMessage::AtomicTransactionBatch(vec![Transaction {
        parameters: pair(vec![receiver.clone(), ticket.clone()]),
        destination: kt1(9),
        entrypoint: Entrypoint::new("withdraw").unwrap(),
    }]);
    let found = tickets(&decode_outbox_message(&untyped.encode()).unwrap());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].ticketer, kt1(5));
    assert_eq!(found[0].amount.to_string(), "1000");
    assert_eq!(
        found[0].to_json().to_string(),
        format!(
            r#"{{"amount":"1000","contents":{{"args":[{{"int":"0"}},{{"prim":"None"}}],"prim":"Pair"}},"ticketer":"{}","transaction":0,"typed":false}}"#,
            kt1(5).to_b58check()
        )
    );

    // Typed: the type says where the ticket is, even when its ticketer is given as bytes.
    let ty = prim(
        "pair",
        vec![
            prim("address", vec![]),
            prim(
                "ticket",
                vec![prim(
                    "pair",
                    vec![
                        prim("nat", vec![]),
                        prim("option", vec![prim("bytes", vec![])]),
                    ],
                )],
            ),
        ],
    );
    let mut kt1_bytes = vec![1];
    kt1_bytes.extend_from_slice(&[6; 20]);
    kt1_bytes.push(0);
    let typed = OutboxMessage::AtomicTransactionBatchTyped(vec![
        TypedTransaction {
            parameters: pair(vec![
                receiver.clone(),
                pair(vec![
                    Expr::Bytes(kt1_bytes),
                    Expr::Int(7i64.into()),
                    Expr::int(3),
                ]),
            ]),
            parameters_ty: ty.clone(),
            destination: kt1(9),
            entrypoint: Entrypoint::default(),
        },
        TypedTransaction {
            parameters: Expr::int(3),
            parameters_ty: prim("nat", vec![]),
            destination: kt1(9),
            entrypoint: Entrypoint::default(),
        },
    ]);
    let found = tickets(&typed);
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].ticketer, found[0].typed, found[0].transaction),
        (kt1(6), true, 0)
    );
    let json = typed.to_json().to_string();
    assert!(
        json.starts_with(r#"{"kind":"typed","transactions":[{"destination":"#),
        "{json}"
    );
    assert!(
        !json.contains("entrypoint"),
        "default entrypoints are omitted: {json}"
    );
}

#[test]
fn undecodable_messages_are_errors_naming_the_byte() {
    let err = decode_outbox_message(&[0, 0, 0, 0, 9, 0]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "at byte 1: length prefix 9 exceeds the 1 byte(s) available"
    );
}

#[test]
fn chain_names_the_breaking_link() {
    let genesis = Commitment::genesis(100, StateHash([1; 32]));
    let c1 = Commitment {
        compressed_state: StateHash([2; 32]),
        inbox_level: 120,
        predecessor: genesis.hash(),
        number_of_ticks: 5,
    };
    let c2 = Commitment {
        compressed_state: StateHash([3; 32]),
        inbox_level: 140,
        predecessor: c1.hash(),
        number_of_ticks: 7,
    };
    let ok = check_commitment_chain(&[genesis, c1, c2], 20).unwrap();
    assert_eq!(ok.hashes, vec![genesis.hash(), c1.hash(), c2.hash()]);
    assert_eq!(ok.ticks, 12);

    let forged = Commitment {
        predecessor: CommitmentHash([9; 32]),
        ..c2
    };
    let err = check_commitment_chain(&[genesis, c1, forged], 20).unwrap_err();
    assert!(
        matches!(err, ChainError::PredecessorMismatch { index: 2, .. }),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("commitment 2: predecessor is"),
        "{err}"
    );
    let late = Commitment {
        inbox_level: 150,
        ..c2
    };
    let err = check_commitment_chain(&[genesis, c1, late], 20).unwrap_err();
    assert!(matches!(
        err,
        ChainError::LevelMismatch {
            index: 2,
            expected: 140,
            found: 150
        }
    ));
}
