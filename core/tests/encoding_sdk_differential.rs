//! Differential tests: our inbox/outbox encodings against the Tezos kernel SDK's
//! (`tezos-smart-rollup-encoding`), on random messages, in both directions.

use proptest::prelude::*;
use tezos_data_encoding::enc::BinWriter;
use tezos_smart_rollup_encoding as sdk;

use sdk::michelson::{MichelsonBytes, MichelsonInt, MichelsonPair, MichelsonString};
use soru_core::encoding::address::{ContractHash, KeyKind, PublicKeyHash, SmartRollupAddress};
use soru_core::encoding::inbox::{BlockHash, InboxMessage, InternalInboxMessage, Transfer};
use soru_core::encoding::micheline::{Expr, Primitive};
use soru_core::encoding::outbox::{Entrypoint, OutboxMessage, Transaction};

type SdkPayload = MichelsonPair<MichelsonString, MichelsonPair<MichelsonInt, MichelsonBytes>>;

/// The same value in both worlds: `Pair "s" (Pair i 0x..)`.
fn payloads(s: &str, i: i32, b: &[u8]) -> (Expr, SdkPayload) {
    let ours = Expr::prim(
        Primitive::PAIR,
        vec![
            Expr::String(s.into()),
            Expr::prim(
                Primitive::PAIR,
                vec![Expr::int(i.into()), Expr::Bytes(b.to_vec())],
            ),
        ],
    );
    let theirs = MichelsonPair(
        MichelsonString(s.into()),
        MichelsonPair(MichelsonInt::from(i), MichelsonBytes(b.to_vec())),
    );
    (ours, theirs)
}

fn pkh() -> impl Strategy<Value = PublicKeyHash> {
    // SDK 0.2.2 knows tz1, tz2 and tz3.
    (0u8..3, any::<[u8; 20]>()).prop_map(|(t, hash)| PublicKeyHash {
        kind: KeyKind::from_tag(t).unwrap(),
        hash,
    })
}

fn sdk_serialize(m: sdk::inbox::InboxMessage<'_, SdkPayload>) -> Vec<u8> {
    let mut out = Vec::new();
    m.serialize(&mut out).unwrap();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn transfers_match_sdk(
        s in "[ -~]{0,20}", i in any::<i32>(), b in prop::collection::vec(any::<u8>(), 0..20),
        sender in any::<[u8; 20]>(), source in pkh(), dest in any::<[u8; 20]>(),
    ) {
        let (ours_payload, sdk_payload) = payloads(&s, i, &b);
        let ours = InboxMessage::Internal(InternalInboxMessage::Transfer(Transfer {
            payload: ours_payload,
            sender: ContractHash(sender),
            source,
            destination: SmartRollupAddress(dest),
        }));
        let theirs = sdk::inbox::InboxMessage::Internal(sdk::inbox::InternalInboxMessage::Transfer(
            sdk::inbox::Transfer {
                payload: sdk_payload,
                sender: ContractHash(sender).to_b58check().parse().unwrap(),
                source: sdk::public_key_hash::PublicKeyHash::from_b58check(&source.to_b58check())
                    .unwrap(),
                destination: sdk::smart_rollup::SmartRollupAddress::from_b58check(
                    &SmartRollupAddress(dest).to_b58check(),
                )
                .unwrap(),
            },
        ));
        let bytes = ours.encode();
        prop_assert_eq!(&bytes, &sdk_serialize(theirs));
        // The SDK reads our bytes back to the same transfer.
        let (rest, parsed) = sdk::inbox::InboxMessage::<SdkPayload>::parse(&bytes).unwrap();
        prop_assert!(rest.is_empty());
        let sdk::inbox::InboxMessage::Internal(sdk::inbox::InternalInboxMessage::Transfer(t)) = parsed
        else {
            panic!("SDK parsed something else");
        };
        prop_assert_eq!(t.source.to_b58check(), source.to_b58check());
        prop_assert_eq!(t.sender.to_base58_check(), ContractHash(sender).to_b58check());
        prop_assert_eq!(InboxMessage::decode(&bytes).unwrap(), ours);
    }

    #[test]
    fn level_messages_match_sdk(ts in any::<i64>(), hash in any::<[u8; 32]>(), ext in prop::collection::vec(any::<u8>(), 0..40)) {
        use sdk::inbox::InternalInboxMessage as I;
        let info = InboxMessage::Internal(InternalInboxMessage::InfoPerLevel {
            predecessor_timestamp: ts,
            predecessor: BlockHash(hash),
        });
        let theirs = sdk::inbox::InboxMessage::Internal(I::<SdkPayload>::InfoPerLevel(
            sdk::inbox::InfoPerLevel {
                predecessor_timestamp: ts.into(),
                predecessor: BlockHash(hash).to_b58check().parse().unwrap(),
            },
        ));
        prop_assert_eq!(info.encode(), sdk_serialize(theirs));
        prop_assert_eq!(
            InboxMessage::Internal(InternalInboxMessage::StartOfLevel).encode(),
            sdk_serialize(sdk::inbox::InboxMessage::Internal(I::StartOfLevel))
        );
        prop_assert_eq!(
            InboxMessage::Internal(InternalInboxMessage::EndOfLevel).encode(),
            sdk_serialize(sdk::inbox::InboxMessage::Internal(I::EndOfLevel))
        );
        prop_assert_eq!(
            InboxMessage::External(ext.clone()).encode(),
            sdk_serialize(sdk::inbox::InboxMessage::External(&ext))
        );
    }

    #[test]
    fn outbox_batches_match_sdk(
        txs in prop::collection::vec(
            ("[ -~]{0,12}", any::<i32>(), prop::collection::vec(any::<u8>(), 0..12),
             any::<[u8; 20]>(), "[a-z_]{1,31}"),
            0..4,
        )
    ) {
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for (s, i, b, dest, ep) in &txs {
            let (p, q) = payloads(s, *i, b);
            ours.push(Transaction {
                parameters: p,
                destination: ContractHash(*dest),
                entrypoint: Entrypoint::new(ep).unwrap(),
            });
            theirs.push(sdk::outbox::OutboxMessageTransaction {
                parameters: q,
                destination: sdk::contract::Contract::from_b58check(
                    &ContractHash(*dest).to_b58check(),
                )
                .unwrap(),
                entrypoint: sdk::entrypoint::Entrypoint::try_from(ep.clone()).unwrap(),
            });
        }
        let ours = OutboxMessage::AtomicTransactionBatch(ours);
        let theirs = sdk::outbox::OutboxMessage::AtomicTransactionBatch(theirs.into());
        let mut sdk_bytes = Vec::new();
        theirs.bin_write(&mut sdk_bytes).unwrap();
        prop_assert_eq!(ours.encode(), sdk_bytes.clone());
        prop_assert_eq!(OutboxMessage::decode(&sdk_bytes).unwrap(), ours);
    }
}
