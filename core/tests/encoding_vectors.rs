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
