//! Real octez encodings from `shared/vectors/tezos-output-proofs`: outbox messages and addresses.

use std::path::PathBuf;

use soru_core::encoding::address::{ContractHash, SmartRollupAddress};
use soru_core::encoding::base58;
use soru_core::encoding::micheline::Expr;
use soru_core::encoding::outbox::OutboxMessage;

fn vectors_dir() -> Option<PathBuf> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/tezos-output-proofs");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipping: vectors directory {} is absent", dir.display());
        None
    }
}

/// `(file name, value)` for every `# <key>...: <value>` header line starting with `key`.
fn header_values(key: &str) -> Vec<(String, String)> {
    let Some(dir) = vectors_dir() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.extension().and_then(|e| e.to_str()) != Some("txt") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# ").and_then(|l| l.strip_prefix(key)) {
                let value = rest.rsplit(": ").next().unwrap().trim().to_string();
                out.push((
                    path.file_name().unwrap().to_string_lossy().into_owned(),
                    value,
                ));
            }
        }
    }
    out
}

#[test]
fn real_outbox_messages_round_trip() {
    let messages = header_values("expected message");
    if messages.is_empty() {
        return;
    }
    let mut saw_first = false;
    for (file, hex_msg) in messages {
        let bytes = hex::decode(&hex_msg).unwrap();
        let msg = OutboxMessage::decode(&bytes)
            .unwrap_or_else(|e| panic!("{file}: decoding the expected message failed: {e}"));
        assert_eq!(msg.encode(), bytes, "{file}: re-encoding differs");
        if file.starts_with("01_") {
            saw_first = true;
            assert_eq!(bytes.len(), 207);
            let OutboxMessage::AtomicTransactionBatch(txs) = &msg else {
                panic!("{file}: expected an untyped batch, got {msg:?}");
            };
            assert_eq!(txs.len(), 1);
            assert_eq!(txs[0].entrypoint.as_str(), "withdraw");
            assert_eq!(txs[0].destination.to_b58check().len(), 36);
            assert!(txs[0].destination.to_b58check().starts_with("KT1"));
            // The parameter is `Pair (Pair 0x<ticketer> (Pair 0x.. ...)) ...` in Micheline: check that
            // its own encoding is a sub-slice of the message.
            let params = txs[0].parameters.encode();
            assert_eq!(&bytes[5..5 + params.len()], &params[..]);
            assert_eq!(Expr::decode(&params).unwrap(), txs[0].parameters);
        }
        if file.starts_with("05_") {
            let OutboxMessage::AtomicTransactionBatch(txs) = &msg else {
                panic!("{file}: expected an untyped batch");
            };
            assert_eq!(txs[0].parameters, Expr::String("Hello world".to_string()));
            assert_eq!(txs[0].entrypoint.as_str(), "default");
        }
    }
    assert!(saw_first, "vector 01 not found");
}

#[test]
fn real_rollup_addresses_and_hashes_round_trip() {
    let rollups = header_values("rollup");
    for (file, value) in &rollups {
        // "sr1...   cemented_commitment: src1..." -> the first word of the line after "rollup: "
        let _ = value;
        let text = std::fs::read_to_string(vectors_dir().unwrap().join(file)).unwrap();
        let line = text.lines().find(|l| l.starts_with("# rollup:")).unwrap();
        let mut words = line.split_whitespace();
        let sr1 = words.nth(2).unwrap();
        let addr = SmartRollupAddress::from_b58check(sr1).unwrap();
        assert_eq!(addr.to_b58check(), sr1);
        let src1 = words.nth(1).unwrap();
        let h = base58::decode(&base58::SRC1, src1).unwrap();
        assert_eq!(base58::encode(&base58::SRC1, &h), src1);
    }
    for (file, value) in header_values("expected srs1") {
        let h = base58::decode(&base58::SRS1, &value).unwrap();
        assert_eq!(base58::encode(&base58::SRS1, &h), value, "{file}");
        // The srs1 is the base58 of the state hash printed on the "expected: decode OK" line.
        let text = std::fs::read_to_string(vectors_dir().unwrap().join(&file)).unwrap();
        let root = text
            .lines()
            .find(|l| l.starts_with("# expected: decode OK"))
            .and_then(|l| l.rsplit("== ").next())
            .unwrap()
            .trim();
        assert_eq!(hex::encode(&h), root, "{file}");
    }
    let _ = ContractHash([0; 20]);
}

/// Operations forged and signed by Taquito 25 (`tests/js/sandbox/forge-vectors.mjs` wrote
/// `tests/data/taquito_operations.json`): JSON to bytes, bytes to JSON, hash and signature.
mod taquito_operations {
    use soru_core::encoding::keys::PublicKey;
    #[cfg(feature = "keys")]
    use soru_core::encoding::keys::Signature;
    use soru_core::encoding::operation::{ManagerOperation, Operation};

    fn vectors() -> serde_json::Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/taquito_operations.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn forged_bytes_decode_and_reencode() {
        let v = vectors();
        let cases = v["vectors"].as_array().unwrap();
        assert!(cases.len() >= 9);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let forged = hex::decode(case["forged"].as_str().unwrap()).unwrap();
            let signed = hex::decode(case["signed"].as_str().unwrap()).unwrap();
            // JSON -> bytes is Taquito's forge.
            let from_json = Operation::from_json(&case["operation"]).unwrap();
            assert_eq!(from_json.forge(), forged, "{name}: forge");
            // bytes -> operation -> bytes and JSON.
            let op = Operation::decode_unsigned(&forged).unwrap();
            assert_eq!(op, from_json, "{name}: decode");
            let contents: Vec<serde_json::Value> =
                op.contents.iter().map(ManagerOperation::to_json).collect();
            assert_eq!(
                serde_json::Value::from(contents),
                case["operation"]["contents"],
                "{name}: JSON"
            );
            let signed_op = Operation::decode_signed(&signed).unwrap();
            assert_eq!(signed_op.encode(), signed, "{name}: signed");
            assert_eq!(
                signed_op.hash().to_b58check(),
                case["hash"].as_str().unwrap(),
                "{name}: hash"
            );
        }
    }

    #[test]
    fn truncated_and_unknown_operations_are_rejected_with_offsets() {
        let v = vectors();
        let forged = hex::decode(v["vectors"][1]["forged"].as_str().unwrap()).unwrap();
        let err = Operation::decode_unsigned(&forged[..forged.len() - 3]).unwrap_err();
        assert!(err.to_string().contains("unexpected end"), "{err}");
        let mut bad = forged.clone();
        bad[32] = 110; // delegation: outside the supported kinds
        let err = Operation::decode_unsigned(&bad).unwrap_err();
        assert_eq!(err.offset, 32, "{err}");
        assert!(Operation::decode_unsigned(&forged[..32]).is_err());
    }

    #[test]
    fn public_key_hashes_to_source() {
        let v = vectors();
        let pk = PublicKey::from_b58check(v["public_key"].as_str().unwrap()).unwrap();
        assert_eq!(pk.hash().to_b58check(), v["source"].as_str().unwrap());
        assert_eq!(pk.to_b58check(), v["public_key"].as_str().unwrap());
    }

    #[cfg(feature = "keys")]
    #[test]
    fn taquito_signatures_check_and_tampering_is_caught() {
        use soru_core::encoding::keys::{check_operation_signature, SecretKey, SignatureError};
        let v = vectors();
        let pk = PublicKey::from_b58check(v["public_key"].as_str().unwrap()).unwrap();
        let sk = SecretKey::from_b58check(v["secret_key"].as_str().unwrap()).unwrap();
        assert_eq!(sk.public_key(), pk);
        for case in v["vectors"].as_array().unwrap() {
            let signed = hex::decode(case["signed"].as_str().unwrap()).unwrap();
            let op = Operation::decode_signed(&signed).unwrap();
            let sig = op.signature.clone().unwrap();
            check_operation_signature(&pk, &op.forge(), &sig).unwrap();
            // Ed25519 is deterministic: our signature is Taquito's.
            assert_eq!(sk.sign_operation(&op.forge()), sig);
            let mut tampered = op.forge();
            tampered[40] ^= 1;
            assert_eq!(
                check_operation_signature(&pk, &tampered, &sig),
                Err(SignatureError::Mismatch)
            );
        }
        // Secp256k1 (tz2) and P-256 (tz3) keys of Taquito's InMemorySigner: their ECDSA
        // signatures check; a changed byte, a changed key or a high-S twin does not.
        let others = v["ecdsa"].as_array().unwrap();
        assert_eq!(others.len(), 2);
        for signer in others {
            let scheme = signer["scheme"].as_str().unwrap();
            let pk = PublicKey::from_b58check(signer["public_key"].as_str().unwrap()).unwrap();
            assert_eq!(pk.hash().to_b58check(), signer["source"].as_str().unwrap());
            for case in signer["vectors"].as_array().unwrap() {
                let signed = hex::decode(case["signed"].as_str().unwrap()).unwrap();
                let op = Operation::decode_signed(&signed).unwrap();
                assert_eq!(hex::encode(op.forge()), case["forged"].as_str().unwrap());
                let sig = op.signature.clone().unwrap();
                check_operation_signature(&pk, &op.forge(), &sig)
                    .unwrap_or_else(|e| panic!("{scheme} {}: {e}", case["name"]));
                let mut tampered = op.forge();
                tampered[40] ^= 1;
                assert_eq!(
                    check_operation_signature(&pk, &tampered, &sig),
                    Err(SignatureError::Mismatch),
                    "{scheme}"
                );
                let mut other = sig.clone();
                other.0[63] ^= 1;
                assert_eq!(
                    check_operation_signature(&pk, &op.forge(), &other),
                    Err(SignatureError::Mismatch)
                );
                let short = Signature(sig.0[..63].to_vec());
                assert!(matches!(
                    check_operation_signature(&pk, &op.forge(), &short),
                    Err(SignatureError::WrongLength { found: 63, .. })
                ));
                if scheme == "secp256k1" {
                    // s -> n - s: the same signature in high-S form, which libsecp256k1 refuses.
                    let n = hex::decode(
                        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
                    )
                    .unwrap();
                    let mut high = sig.0.clone();
                    let mut borrow = 0i16;
                    for i in (0..32).rev() {
                        let d = i16::from(n[i]) - i16::from(sig.0[32 + i]) - borrow;
                        high[32 + i] = d.rem_euclid(256) as u8;
                        borrow = i16::from(d < 0);
                    }
                    assert_eq!(
                        check_operation_signature(&pk, &op.forge(), &Signature(high)),
                        Err(SignatureError::Mismatch)
                    );
                }
            }
        }
        let b58 = Signature(vec![7; 64]).to_b58check(Some(pk.kind()));
        assert!(b58.starts_with("edsig"));
        assert_eq!(
            Signature::from_b58check(&b58).unwrap(),
            Signature(vec![7; 64])
        );
    }
}
