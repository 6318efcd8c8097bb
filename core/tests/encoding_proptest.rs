//! Property tests for every codec: decode(encode(x)) == x, and arbitrary input never panics.

use proptest::prelude::*;

use soru_core::commitment::{Commitment, CommitmentHash, StateHash};
use soru_core::encoding::address::{
    Contract, ContractHash, KeyKind, PublicKeyHash, SmartRollupAddress,
};
use soru_core::encoding::base58;
use soru_core::encoding::binary::{put_n, put_z, Reader, Zarith};
use soru_core::encoding::inbox::{
    BlockHash, DalAttestedSlots, InboxMessage, InternalInboxMessage, Transfer,
};
use soru_core::encoding::micheline::{Expr, Primitive};
use soru_core::encoding::michelson;
use soru_core::encoding::outbox::{Entrypoint, OutboxMessage, Transaction, TypedTransaction};

fn zarith() -> impl Strategy<Value = Zarith> {
    (any::<bool>(), prop::collection::vec(any::<u8>(), 0..24))
        .prop_map(|(neg, mag)| Zarith::from_sign_magnitude(neg, &mag))
}

fn annotation() -> impl Strategy<Value = String> {
    "[@:$&%!?][a-zA-Z0-9_.%@]{0,8}"
}

fn expr() -> impl Strategy<Value = Expr> {
    let prim = (0..Primitive::COUNT).prop_map(|i| Primitive::from_index(i).unwrap());
    let leaf = prop_oneof![
        zarith().prop_map(Expr::Int),
        any::<String>().prop_map(Expr::String),
        prop::collection::vec(any::<u8>(), 0..16).prop_map(Expr::Bytes),
        prim.clone().prop_map(|p| Expr::prim(p, vec![])),
    ];
    leaf.prop_recursive(4, 48, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Expr::Seq),
            (
                prim.clone(),
                prop::collection::vec(inner, 0..5),
                prop::collection::vec(annotation(), 0..3)
            )
                .prop_map(|(prim, args, annots)| Expr::Prim { prim, args, annots }),
        ]
    })
}

fn pkh() -> impl Strategy<Value = PublicKeyHash> {
    (0u8..5, any::<[u8; 20]>()).prop_map(|(t, hash)| PublicKeyHash {
        kind: KeyKind::from_tag(t).unwrap(),
        hash,
    })
}

fn entrypoint() -> impl Strategy<Value = Entrypoint> {
    "[a-z_]{1,31}".prop_map(|s| Entrypoint::new(&s).unwrap())
}

fn inbox_message() -> impl Strategy<Value = InboxMessage> {
    let internal = prop_oneof![
        (expr(), any::<[u8; 20]>(), pkh(), any::<[u8; 20]>()).prop_map(
            |(payload, s, source, d)| {
                InternalInboxMessage::Transfer(Transfer {
                    payload,
                    sender: ContractHash(s),
                    source,
                    destination: SmartRollupAddress(d),
                })
            }
        ),
        Just(InternalInboxMessage::StartOfLevel),
        Just(InternalInboxMessage::EndOfLevel),
        (any::<i64>(), any::<[u8; 32]>()).prop_map(|(t, h)| InternalInboxMessage::InfoPerLevel {
            predecessor_timestamp: t,
            predecessor: BlockHash(h),
        }),
        any::<String>().prop_map(InternalInboxMessage::ProtocolMigration),
        (
            any::<i32>(),
            any::<u16>(),
            -(1i32 << 30)..(1 << 30),
            any::<u16>(),
            prop::collection::vec((pkh(), zarith()), 0..4)
        )
            .prop_map(|(l, n, s, p, v)| InternalInboxMessage::DalAttestedSlots(
                DalAttestedSlots {
                    published_level: l,
                    number_of_slots: n,
                    slot_size: s,
                    page_size: p,
                    slots_by_publisher: v,
                }
            )),
    ];
    prop_oneof![
        internal.prop_map(InboxMessage::Internal),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(InboxMessage::External),
    ]
}

fn outbox_message() -> impl Strategy<Value = OutboxMessage> {
    prop_oneof![
        prop::collection::vec(
            (expr(), any::<[u8; 20]>(), entrypoint()).prop_map(|(parameters, d, entrypoint)| {
                Transaction {
                    parameters,
                    destination: ContractHash(d),
                    entrypoint,
                }
            }),
            0..3
        )
        .prop_map(OutboxMessage::AtomicTransactionBatch),
        prop::collection::vec(
            (expr(), expr(), any::<[u8; 20]>(), entrypoint()).prop_map(
                |(parameters, parameters_ty, d, entrypoint)| TypedTransaction {
                    parameters,
                    parameters_ty,
                    destination: ContractHash(d),
                    entrypoint
                }
            ),
            0..3
        )
        .prop_map(OutboxMessage::AtomicTransactionBatchTyped),
        prop::option::of(prop::collection::vec(pkh(), 0..5))
            .prop_map(OutboxMessage::WhitelistUpdate),
        prop::collection::vec(any::<u8>(), 0..32).prop_map(OutboxMessage::CanonicalRollupSignal),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn zarith_round_trips(z in zarith()) {
        let mut out = Vec::new();
        put_z(&mut out, &z);
        let mut r = Reader::new(&out);
        prop_assert_eq!(r.z().unwrap(), z.clone());
        prop_assert!(r.is_empty());
        let abs = Zarith::from_sign_magnitude(false, z.magnitude());
        let mut out = Vec::new();
        put_n(&mut out, &abs);
        let mut r = Reader::new(&out);
        prop_assert_eq!(r.n().unwrap(), abs);
        prop_assert_eq!(Zarith::from_decimal(&z.to_string()).unwrap(), z);
    }

    #[test]
    fn zarith_matches_i128(v in any::<i128>()) {
        let z = Zarith::from_i128(v);
        prop_assert_eq!(z.to_string(), v.to_string());
        prop_assert_eq!(z.to_i128(), Some(v));
    }

    #[test]
    fn base58_round_trips(data in prop::collection::vec(any::<u8>(), 0..64)) {
        let s = base58::check_encode(&data);
        prop_assert_eq!(base58::check_decode(&s).unwrap(), data.clone());
        prop_assert_eq!(base58::decode_raw(&base58::encode_raw(&data)).unwrap(), data);
    }

    #[test]
    fn base58_garbage_never_panics(s in ".{0,60}") {
        let _ = base58::check_decode(&s);
        let _ = PublicKeyHash::from_b58check(&s);
        let _ = Contract::from_b58check(&s);
    }

    #[test]
    fn expr_round_trips(e in expr()) {
        prop_assert_eq!(Expr::decode(&e.encode()).unwrap(), e.clone());
        // The JSON form and the Michelson printer/parser agree too.
        prop_assert_eq!(Expr::from_json(&e.to_json().into()).unwrap(), e.clone());
        prop_assert_eq!(michelson::parse(&e.to_string()).unwrap(), e);
    }

    #[test]
    fn addresses_round_trip(p in pkh(), h in any::<[u8; 20]>()) {
        prop_assert_eq!(PublicKeyHash::decode(&p.encode()).unwrap(), p);
        prop_assert_eq!(PublicKeyHash::from_b58check(&p.to_b58check()).unwrap(), p);
        for c in [Contract::Implicit(p), Contract::Originated(ContractHash(h))] {
            prop_assert_eq!(Contract::decode(&c.encode()).unwrap(), c);
            prop_assert_eq!(Contract::from_b58check(&c.to_b58check()).unwrap(), c);
        }
        let sr = SmartRollupAddress(h);
        prop_assert_eq!(SmartRollupAddress::from_b58check(&sr.to_b58check()).unwrap(), sr);
    }

    #[test]
    fn inbox_round_trips(m in inbox_message()) {
        prop_assert_eq!(InboxMessage::decode(&m.encode()).unwrap(), m.clone());
        let _ = m.to_json();
    }

    #[test]
    fn outbox_round_trips(m in outbox_message()) {
        prop_assert_eq!(OutboxMessage::decode(&m.encode()).unwrap(), m.clone());
        let _ = m.to_json();
    }

    #[test]
    fn json_garbage_never_panics(s in "[\\[\\]{}\",: a-z0-9]{0,60}") {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&s) {
            let _ = Expr::from_json(&v);
            let _ = Commitment::from_json(&v);
        }
    }

    #[test]
    fn commitment_round_trips(
        s in any::<[u8; 32]>(), l in 0..i32::MAX, p in any::<[u8; 32]>(), t in 0..i64::MAX
    ) {
        let c = Commitment {
            compressed_state: StateHash(s),
            inbox_level: l,
            predecessor: CommitmentHash(p),
            number_of_ticks: t,
        };
        prop_assert_eq!(Commitment::decode(&c.encode()).unwrap(), c);
        prop_assert_eq!(StateHash::from_b58check(&c.compressed_state.to_b58check()).unwrap(), c.compressed_state);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Expr::decode(&data);
        let _ = InboxMessage::decode(&data);
        let _ = OutboxMessage::decode(&data);
        let _ = Commitment::decode(&data);
        let _ = Contract::decode(&data);
        let mut r = Reader::new(&data);
        let _ = r.z();
        let _ = r.n();
        let _ = r.dynamic_bytes();
    }

    #[test]
    fn arbitrary_tagged_bytes_never_panic(tag in 0u8..12, data in prop::collection::vec(any::<u8>(), 0..100)) {
        // Start with a plausible tag so decoding goes deeper than the first byte.
        let mut bytes = vec![tag];
        bytes.extend_from_slice(&data);
        let _ = Expr::decode(&bytes);
        let mut inbox = vec![0, tag % 6];
        inbox.extend_from_slice(&data);
        let _ = InboxMessage::decode(&inbox);
        let mut outbox = vec![tag % 4];
        outbox.extend_from_slice(&data);
        let _ = OutboxMessage::decode(&outbox);
    }

    #[test]
    fn michelson_text_never_panics(s in "[ -~\n]{0,80}") {
        let _ = michelson::parse(&s);
    }

    #[test]
    fn michelson_tokens_never_panic(parts in prop::collection::vec(
        prop_oneof![
            Just("Pair"), Just("Unit"), Just("("), Just(")"), Just("{"), Just("}"), Just(";"),
            Just("1"), Just("-2"), Just("\"s\""), Just("0x00"), Just("%a"), Just(" "), Just("\n"),
        ], 0..30)) {
        let _ = michelson::parse(&parts.concat());
    }

    #[test]
    fn inputs_never_panic(s in "[\\[\\]{}\",: a-z0-9]{0,80}") {
        let _ = soru_core::inputs::parse(&s);
    }
}
