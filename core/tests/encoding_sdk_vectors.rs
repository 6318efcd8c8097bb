//! Cross-checks against byte vectors of the Tezos kernel SDK (`src/kernel_sdk/encoding`), which
//! its authors produced with the OCaml protocol encodings.

use soru_core::encoding::address::{KeyKind, PublicKeyHash};
use soru_core::encoding::binary::Zarith;
use soru_core::encoding::inbox::{DalAttestedSlots, InboxMessage, InternalInboxMessage};
use soru_core::encoding::michelson;
use soru_core::encoding::outbox::{Entrypoint, OutboxMessage, Transaction};

const TX_ONE: &str = "07070a0000001601d1a37c088a1221b636bb5fccb35e05181038ba7c0007070100000003726564000101246667a931fe0bd2fb1cb604f714601e88284550000000000764656661756c74";
const TX_TWO: &str = "07070a0000001601246667a931fe0bd2fb1cb604f714601e88284550000707010000000679656c6c6f770089050115edad279f55e2fe4011de6d2c24fdf51bf225c50000000007616e6f74686572";
const TX_THREE: &str = "0a00000001ff0115edad279f55e2fe4011de6d2c24fdf51bf225c500000000057468726565";
const WHITELIST_BODY: &str = "ff0000002a0002298c03ed7d454a101eb7022bc95f7e5f41ac7800e7670f32038107a59a2b9cfefae36ea21f5aa63c";

fn contract_bytes(kt1: &str) -> String {
    let c = soru_core::encoding::address::Contract::from_b58check(kt1).unwrap();
    hex::encode(c.encode())
}

fn tx(ticketer: &str, contents: &str, amount: u64, dest: &str, entrypoint: &str) -> Transaction {
    let text = format!(
        "Pair 0x{} (Pair \"{contents}\" {amount})",
        contract_bytes(ticketer)
    );
    Transaction {
        parameters: michelson::parse(&text).unwrap(),
        destination: dest.parse().unwrap(),
        entrypoint: Entrypoint::new(entrypoint).unwrap(),
    }
}

#[test]
fn string_ticket_batch_matches_sdk() {
    let one = tx(
        "KT1ThEdxfUcWUwqsdergy3QnbCWGHSUHeHJq",
        "red",
        1,
        "KT1BuEZtb68c1Q4yjtckcNjGELqWt56Xyesc",
        "default",
    );
    let two = tx(
        "KT1BuEZtb68c1Q4yjtckcNjGELqWt56Xyesc",
        "yellow",
        329,
        "KT1AaiUqbT3NmQts2w7ofY4vJviVchztiW4y",
        "another",
    );
    let msg = OutboxMessage::AtomicTransactionBatch(vec![two, one]);
    let expected = format!("0000000098{TX_TWO}{TX_ONE}");
    assert_eq!(hex::encode(msg.encode()), expected);
    assert_eq!(
        OutboxMessage::decode(&hex::decode(&expected).unwrap()).unwrap(),
        msg
    );

    let three = Transaction {
        parameters: michelson::parse("0xff").unwrap(),
        destination: "KT1AaiUqbT3NmQts2w7ofY4vJviVchztiW4y".parse().unwrap(),
        entrypoint: Entrypoint::new("three").unwrap(),
    };
    let msg = OutboxMessage::AtomicTransactionBatch(vec![three]);
    assert_eq!(hex::encode(msg.encode()), format!("0000000025{TX_THREE}"));
}

#[test]
fn whitelist_update_matches_sdk() {
    let keys = [
        "tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx",
        "tz1gjaF81ZRRvdzjobyfVNsAeSC6PScjfQwN",
    ]
    .map(|k| PublicKeyHash::from_b58check(k).unwrap());
    let msg = OutboxMessage::WhitelistUpdate(Some(keys.to_vec()));
    assert_eq!(hex::encode(msg.encode()), format!("02{WHITELIST_BODY}"));
    assert_eq!(OutboxMessage::WhitelistUpdate(None).encode(), vec![2, 0]);
}

#[test]
fn dal_attested_slots_match_ocaml_bytes() {
    let bytes = hex::decode(
        "00050000000800100001efe01000000000160002298c03ed7d454a101eb7022bc95f7e5f41ac7810",
    )
    .unwrap();
    let msg = InboxMessage::decode(&bytes).unwrap();
    let expected =
        InboxMessage::Internal(InternalInboxMessage::DalAttestedSlots(DalAttestedSlots {
            published_level: 8,
            number_of_slots: 16,
            slot_size: 126_944,
            page_size: 4096,
            slots_by_publisher: vec![(
                PublicKeyHash::from_b58check("tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx").unwrap(),
                Zarith::from_u64(1 << 4),
            )],
        }));
    assert_eq!(msg, expected);
    assert_eq!(msg.encode(), bytes);
    let InboxMessage::Internal(InternalInboxMessage::DalAttestedSlots(d)) = msg else {
        unreachable!()
    };
    assert_eq!(d.slots_by_publisher[0].0.kind, KeyKind::Ed25519);
}
