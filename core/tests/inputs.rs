//! The octez wasm debugger's JSON inputs format.

use soru_core::encoding::address::{ContractHash, PublicKeyHash, SmartRollupAddress};
use soru_core::encoding::base58::Base58Error;
use soru_core::encoding::inbox::{InboxMessage, InternalInboxMessage, Transfer};
use soru_core::encoding::micheline::{Expr, Primitive};
use soru_core::encoding::michelson::ParseErrorKind;
use soru_core::inputs::{
    parse, parse_to_bytes, parse_with, Defaults, Input, InputsError, MessageError,
};

#[test]
fn defaults_are_the_debuggers() {
    let d = Defaults::default();
    assert_eq!(
        d.sender.to_b58check(),
        "KT18amZmM5W7qDWVt2pH6uj7sCEd3kbzLrHT"
    );
    assert_eq!(
        d.source.to_b58check(),
        "tz1Ke2h7sDdakHJQh8WX4Z372du1KChsksyU"
    );
    assert_eq!(
        d.destination.to_b58check(),
        "sr163Lv22CdE8QagCwf48PWDTquk6isQwv57"
    );
}

#[test]
fn three_kinds_and_levels() {
    let json = r#"[
        [ {"payload": "Pair 1 \"a\""}, {"external": "0A0b"} ],
        [],
        [ {"serialized": "0001"},
          {"payload": "Unit", "sender": "KT18amZmM5W7qDWVt2pH6uj7sCEd3kbzLrHT",
           "source": "tz4Quq6VcCeJVmCknjzTX5kcrhUzcMruoavF",
           "destination": "sr1JZsZT5u27MUQXeTh1aHqZBo8NvyxRKnyv"} ]
    ]"#;
    let inboxes = parse(json).unwrap();
    assert_eq!(inboxes.len(), 3);
    assert!(inboxes[1].is_empty());
    let d = Defaults::default();
    assert_eq!(
        inboxes[0][0],
        Input::Message(InboxMessage::Internal(InternalInboxMessage::Transfer(
            Transfer {
                payload: Expr::prim(
                    Primitive::PAIR,
                    vec![Expr::int(1), Expr::String("a".into())]
                ),
                sender: d.sender,
                source: d.source,
                destination: d.destination,
            }
        )))
    );
    assert_eq!(inboxes[0][1].to_bytes(), vec![1, 0x0a, 0x0b]);
    assert_eq!(inboxes[2][0], Input::Serialized(vec![0, 1]));
    let Input::Message(InboxMessage::Internal(InternalInboxMessage::Transfer(t))) = &inboxes[2][1]
    else {
        panic!("expected a transfer")
    };
    assert_eq!(
        t.source.to_b58check(),
        "tz4Quq6VcCeJVmCknjzTX5kcrhUzcMruoavF"
    );
    assert_eq!(
        t.destination.to_b58check(),
        "sr1JZsZT5u27MUQXeTh1aHqZBo8NvyxRKnyv"
    );
    // Byte layout of the whole transfer: 00 00 | Unit | KT1 | tz4 (tag 3) | sr1.
    let bytes = inboxes[2][1].to_bytes();
    assert_eq!(&bytes[..4], &[0, 0, 3, 11]);
    assert_eq!(bytes[24], 3);
    assert_eq!(bytes.len(), 4 + 20 + 21 + 20);
    let raw = parse_to_bytes(json, &Defaults::default()).unwrap();
    assert_eq!(raw.len(), 3);
    assert_eq!(raw[2][1], bytes);
    assert_eq!(raw[0][1], vec![1, 0x0a, 0x0b]);
}

#[test]
fn custom_defaults() {
    let d = Defaults {
        sender: ContractHash([1; 20]),
        source: PublicKeyHash::from_b58check("tz4Quq6VcCeJVmCknjzTX5kcrhUzcMruoavF").unwrap(),
        destination: SmartRollupAddress([2; 20]),
    };
    let inboxes = parse_with(r#"[[{"payload": "0"}]]"#, &d).unwrap();
    let bytes = inboxes[0][0].to_bytes();
    assert_eq!(&bytes[4..24], &[1; 20]);
    assert_eq!(&bytes[45..], &[2; 20]);
}

fn message_error(json: &str) -> (usize, usize, MessageError) {
    match parse(json) {
        Err(InputsError::Message {
            inbox,
            message,
            error,
        }) => (inbox, message, error),
        other => panic!("expected a message error, got {other:?}"),
    }
}

#[test]
fn errors_name_inbox_message_and_problem() {
    let (i, m, e) = message_error(r#"[[], [{"external": "00"}, {"external": "0g"}]]"#);
    assert_eq!((i, m), (1, 1));
    assert!(
        matches!(
            e,
            MessageError::BadHex {
                key: "external",
                ..
            }
        ),
        "{e}"
    );

    let (_, _, e) = message_error(r#"[[{"payload": "Unit", "amount": "1"}]]"#);
    assert_eq!(
        e,
        MessageError::UnexpectedKey {
            key: "amount".into(),
            kind: "transfer"
        }
    );

    let (_, _, e) = message_error(r#"[[{"external": "00", "payload": "Unit"}]]"#);
    assert_eq!(
        e,
        MessageError::UnexpectedKey {
            key: "external".into(),
            kind: "transfer"
        }
    );

    let (_, _, e) = message_error(
        r#"[[{"payload": "Unit", "sender": "tz1Ke2h7sDdakHJQh8WX4Z372du1KChsksyU"}]]"#,
    );
    assert_eq!(
        e,
        MessageError::BadAddress {
            key: "sender",
            expected: "KT1",
            error: Base58Error::WrongPrefix { expected: "KT1" }
        }
    );

    let (_, _, e) = message_error(r#"[[{"payload": "Pair 1\n  (Some"}]]"#);
    let MessageError::Michelson(p) = &e else {
        panic!("{e}")
    };
    assert_eq!((p.line, p.column), (2, 3));
    assert_eq!(p.kind, ParseErrorKind::Unclosed("parenthesis"));
    assert_eq!(
        InputsError::Message {
            inbox: 0,
            message: 0,
            error: e
        }
        .to_string(),
        "inbox 0, message 0: \"payload\" at 2:3: unclosed parenthesis"
    );

    let (_, _, e) = message_error(r#"[[{"payload": 1}]]"#);
    assert_eq!(e, MessageError::NotAString { key: "payload" });
    let (_, _, e) = message_error(r#"[[{}]]"#);
    assert_eq!(e, MessageError::MissingKind);
    let (_, _, e) = message_error(r#"[["00"]]"#);
    assert_eq!(e, MessageError::NotAnObject);
    let big = format!(r#"[[{{"payload": "0x{}"}}]]"#, "00".repeat(5000));
    let (_, _, e) = message_error(&big);
    assert!(matches!(e, MessageError::TooLarge { .. }));

    assert_eq!(parse("{}"), Err(InputsError::NotAnArray));
}

/// External and serialized messages are limited like transfers: 4096 bytes serialized, tag
/// included (they used to reach the kernel truncated to 4096 bytes).
#[test]
fn oversized_external_and_serialized_messages_are_rejected_with_their_position() {
    // 4095 payload bytes + the external tag = 4096: accepted.
    let ok = format!(
        r#"[[{{"external": "{}"}}, {{"serialized": "{}"}}]]"#,
        "ab".repeat(4095),
        "01".repeat(4096)
    );
    let inboxes = parse(&ok).unwrap();
    assert_eq!(inboxes[0][0].to_bytes().len(), 4096);
    assert_eq!(inboxes[0][1].to_bytes().len(), 4096);

    let external = format!(
        r#"[[], [{{"external": "00"}}, {{"external": "{}"}}]]"#,
        "ab".repeat(4096)
    );
    let err = parse(&external).unwrap_err();
    assert_eq!(
        err,
        InputsError::Message {
            inbox: 1,
            message: 1,
            error: MessageError::TooLarge { size: 4097 }
        }
    );
    assert_eq!(
        err.to_string(),
        "inbox 1, message 1: serialized message is 4097 bytes, more than the 4096-byte limit"
    );
    let serialized = format!(r#"[[{{"serialized": "{}"}}]]"#, "01".repeat(5000));
    assert_eq!(
        message_error(&serialized),
        (0, 0, MessageError::TooLarge { size: 5000 })
    );
}

#[test]
fn top_level_shape_errors() {
    assert_eq!(parse("{}"), Err(InputsError::NotAnArray));
    assert_eq!(
        parse("[[], 3]"),
        Err(InputsError::InboxNotAnArray { inbox: 1 })
    );
    assert!(matches!(
        parse("[["),
        Err(InputsError::Json { line: 1, .. })
    ));
}

/// The example inputs file of the octez documentation (`docs/shell/smart_rollup_node.rst`).
#[test]
fn octez_documentation_example() {
    let json = r#"
  [
    [
      {
        "external":
        "0000000023030b01d1a37c088a1221b636bb5fccb35e05181038ba7c000000000764656661756c74"
      }
    ],
    [
      {
        "payload" : "0",
        "sender" : "KT1ThEdxfUcWUwqsdergy3QnbCWGHSUHeHJq",
        "source" : "tz1RjtZUVeLhADFHDL8UwDZA6vjWWhojpu5w",
        "destination" : "sr1RYurGZtN8KNSpkMcCt9CgWeUaNkzsAfXf"
      },
      { "payload" : "Pair Unit False" }
    ]
  ]"#;
    let inboxes = parse(json).unwrap();
    assert_eq!(inboxes.len(), 2);
    assert_eq!(inboxes[1].len(), 2);
    // The external payload of the example happens to be a serialized outbox message: a batch
    // calling KT1ThEdx... with `Unit`.
    let Input::Message(InboxMessage::External(payload)) = &inboxes[0][0] else {
        panic!("expected an external message")
    };
    let out = soru_core::encoding::outbox::OutboxMessage::decode(payload).unwrap();
    let soru_core::encoding::outbox::OutboxMessage::AtomicTransactionBatch(txs) = out else {
        panic!("expected a batch")
    };
    assert_eq!(txs[0].parameters, Expr::prim(Primitive::UNIT, vec![]));
    assert_eq!(
        txs[0].destination.to_b58check(),
        "KT1ThEdxfUcWUwqsdergy3QnbCWGHSUHeHJq"
    );

    let Input::Message(InboxMessage::Internal(InternalInboxMessage::Transfer(t))) = &inboxes[1][0]
    else {
        panic!("expected a transfer")
    };
    assert_eq!(t.payload, Expr::int(0));
    assert_eq!(
        t.sender.to_b58check(),
        "KT1ThEdxfUcWUwqsdergy3QnbCWGHSUHeHJq"
    );
    assert_eq!(
        t.source.to_b58check(),
        "tz1RjtZUVeLhADFHDL8UwDZA6vjWWhojpu5w"
    );
    assert_eq!(
        t.destination.to_b58check(),
        "sr1RYurGZtN8KNSpkMcCt9CgWeUaNkzsAfXf"
    );
    let bytes = inboxes[1][1].to_bytes();
    // 00 00 | Pair Unit False = 07 07 03 0b 03 03 | zero KT1 | zero tz1 | zero sr1
    assert_eq!(&bytes[..8], &[0, 0, 7, 7, 3, 11, 3, 3]);
    assert_eq!(&bytes[8..], &[0u8; 61][..]);
}
