//! Commitment layout, hash and chain checks against independently produced values.

use soru_core::commitment::{
    check_chain, ChainError, Commitment, CommitmentHash, CommitmentJsonError, StateHash,
};
use soru_core::encoding::binary::DecodeErrorKind;

/// The commitment of the `smart_rollup_publish` example in the Tezos Rust SDK
/// (`sdk/rust/protocol/src/operation.rs`), whose bytes were produced by `octez-codec`.
fn sdk_example() -> Commitment {
    Commitment {
        compressed_state: "srs11ZWE34ur1d8j81Eqt68v2P5gFkP3hHms6kQ9Qo26j7ktDeu85y"
            .parse()
            .unwrap(),
        inbox_level: 42,
        predecessor: "src12UJzB8mg7yU6nWPzicH7ofJbFjyJEbHvwtZdfRXi8DQHNp1LY8"
            .parse()
            .unwrap(),
        number_of_ticks: 1_234_567_890,
    }
}

const SDK_EXAMPLE_BYTES: &str = "11111111111111111111111111111111111111111111111111111111111111110000002a000000000000000000000000000000000000000000000000000000000000000000000000499602d2";

#[test]
fn octez_codec_layout() {
    let c = sdk_example();
    assert_eq!(c.compressed_state, StateHash([0x11; 32]));
    assert_eq!(c.predecessor, CommitmentHash([0; 32]));
    assert_eq!(hex::encode(c.encode()), SDK_EXAMPLE_BYTES);
    assert_eq!(
        Commitment::decode(&hex::decode(SDK_EXAMPLE_BYTES).unwrap()).unwrap(),
        c
    );
}

#[test]
fn hash_matches_independent_blake2b() {
    // python3: hashlib.blake2b(bytes.fromhex(SDK_EXAMPLE_BYTES), digest_size=32).hexdigest()
    assert_eq!(
        hex::encode(sdk_example().hash().0),
        "5fea3a60c5dada035c894a0fdd991d4519776422e0f39db00b749f1fb7a537e8"
    );
    let genesis = Commitment::genesis(100, StateHash([7; 32]));
    assert_eq!(
        hex::encode(genesis.hash().0),
        "3780b37de3d4509a93e8f2e8cbc6abe72d2fbb8d9fabdfe0f50ccdc17b1276ec"
    );
    let h = genesis.hash();
    assert!(h.to_b58check().starts_with("src1"));
    assert_eq!(CommitmentHash::from_b58check(&h.to_b58check()).unwrap(), h);
}

#[test]
fn decode_errors() {
    let bytes = hex::decode(SDK_EXAMPLE_BYTES).unwrap();
    let err = Commitment::decode(&bytes[..75]).unwrap_err();
    assert_eq!(
        (err.offset, err.kind),
        (68, DecodeErrorKind::UnexpectedEof { needed: 1 })
    );
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(
        Commitment::decode(&long).unwrap_err().kind,
        DecodeErrorKind::TrailingBytes { remaining: 1 }
    );
    let mut neg = bytes.clone();
    neg[32] = 0x80;
    assert_eq!(Commitment::decode(&neg).unwrap_err().offset, 32);
    let mut neg_ticks = bytes;
    neg_ticks[68] = 0xff;
    assert_eq!(Commitment::decode(&neg_ticks).unwrap_err().offset, 68);
}

fn chain(n: usize, period: i32) -> Vec<Commitment> {
    let mut out = vec![Commitment::genesis(1000, StateHash([1; 32]))];
    for i in 1..n {
        let prev = out[i - 1];
        out.push(Commitment {
            compressed_state: StateHash([i as u8; 32]),
            inbox_level: prev.inbox_level + period,
            predecessor: prev.hash(),
            number_of_ticks: 11_000_000_000 * i as i64,
        });
    }
    out
}

#[test]
fn chain_checks_name_the_offending_commitment() {
    let good = chain(5, 20);
    check_chain(&good, 20).unwrap();
    check_chain(&good[2..], 20).unwrap();
    check_chain(&[], 20).unwrap();

    let mut bad = good.clone();
    bad[2].number_of_ticks += 1; // changes the hash commitment 3 must name
    match check_chain(&bad, 20) {
        Err(ChainError::PredecessorMismatch {
            index: 3,
            expected,
            found,
        }) => {
            assert_eq!(expected, bad[2].hash());
            assert_eq!(found, good[2].hash());
        }
        other => panic!("unexpected {other:?}"),
    }

    let mut bad = good.clone();
    bad[4].inbox_level += 1;
    assert_eq!(
        check_chain(&bad, 20),
        Err(ChainError::LevelMismatch {
            index: 4,
            expected: 1080,
            found: 1081
        })
    );
    assert_eq!(check_chain(&good, 0), Err(ChainError::InvalidPeriod(0)));
    assert!(check_chain(&good, 30).is_err());
}

#[test]
fn octez_json_form() {
    // The JSON given to `octez-codec` in the SDK example.
    let json: serde_json::Value = serde_json::from_str(
        r#"{
            "compressed_state": "srs11ZWE34ur1d8j81Eqt68v2P5gFkP3hHms6kQ9Qo26j7ktDeu85y",
            "inbox_level": 42,
            "predecessor": "src12UJzB8mg7yU6nWPzicH7ofJbFjyJEbHvwtZdfRXi8DQHNp1LY8",
            "number_of_ticks": "1234567890"
        }"#,
    )
    .unwrap();
    let c = Commitment::from_json(&json).unwrap();
    assert_eq!(c, sdk_example());
    assert_eq!(c.to_json(), json);

    let mut bad = json.clone();
    bad["number_of_ticks"] = "-1".into();
    assert!(matches!(
        Commitment::from_json(&bad),
        Err(CommitmentJsonError::Invalid {
            field: "number_of_ticks",
            ..
        })
    ));
    let mut bad = json.clone();
    bad["predecessor"] = "srs11ZWE34ur1d8j81Eqt68v2P5gFkP3hHms6kQ9Qo26j7ktDeu85y".into();
    assert!(matches!(
        Commitment::from_json(&bad),
        Err(CommitmentJsonError::Base58 {
            field: "predecessor",
            ..
        })
    ));
    let mut bad = json.clone();
    bad["extra"] = 1.into();
    assert_eq!(
        Commitment::from_json(&bad),
        Err(CommitmentJsonError::UnexpectedField("extra".into()))
    );
    let mut bad = json;
    bad.as_object_mut().unwrap().remove("inbox_level");
    assert_eq!(
        Commitment::from_json(&bad),
        Err(CommitmentJsonError::Missing("inbox_level"))
    );
}
