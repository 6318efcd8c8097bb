//! Tree2 codec details: error offsets and reasons, canonical forms, segments.

use soru_core::tree::codec::{self, DecodeError, DecodeReason};
use soru_core::tree::proof::{
    Extender, InodeProof, InodeTree, KindedHash, Proof, ProofTree, Segment,
};

fn header() -> Vec<u8> {
    let mut b = vec![0x03, 0x00, 0x02];
    b.extend_from_slice(&[0xaa; 32]);
    b.extend_from_slice(&[0xbb; 32]);
    b
}

fn err(bytes: &[u8]) -> DecodeError {
    codec::decode(bytes).unwrap_err()
}

#[test]
fn tree_codec_errors_name_the_offset() {
    let mut b = header();
    b.push(0xc8); // blinded value, hash missing
    b.extend_from_slice(&[0; 10]);
    assert_eq!(
        err(&b),
        DecodeError {
            offset: 68,
            reason: DecodeReason::Truncated("blinded value hash")
        }
    );

    let mut b = header();
    b.push(0xc4);
    assert_eq!(
        err(&b),
        DecodeError {
            offset: 67,
            reason: DecodeReason::UnknownTag {
                what: "tree",
                tag: 0xc4
            }
        }
    );

    let mut b = header();
    b[2] = 3;
    assert_eq!(err(&b).reason, DecodeReason::Version(3));

    let mut b = header();
    b.extend_from_slice(&[0xc0, 0x01, 0x42, 0x00]);
    assert_eq!(
        err(&b),
        DecodeError {
            offset: 70,
            reason: DecodeReason::Trailing(1)
        }
    );

    // A u16 length below 256 is not canonical.
    let mut b = header();
    b.extend_from_slice(&[0xc1, 0x00, 0x05, 1, 2, 3, 4, 5]);
    assert_eq!(err(&b).reason, DecodeReason::NonMinimal("value length"));

    // A value length beyond the input is reported before any allocation.
    let mut b = header();
    b.extend_from_slice(&[0xc3, 0x3f, 0xff, 0xff, 0xff]);
    assert!(matches!(
        err(&b).reason,
        DecodeReason::LengthTooLarge { .. }
    ));

    // An inode with two empty slots.
    let mut b = header();
    b.extend_from_slice(&[0x00, 0x05, 0xe0, 0xe0]);
    assert_eq!(
        err(&b).reason,
        DecodeReason::IllFormed("inode without children")
    );

    // Deep nesting is refused, not a stack overflow.
    let mut b = header();
    for _ in 0..10_000 {
        b.extend_from_slice(&[0x81, 0x01, b'a']);
    }
    assert_eq!(err(&b).reason, DecodeReason::TooDeep);
    assert!(err(&b).to_string().contains("at byte"));
}

#[test]
fn tree_codec_segments_and_extenders_round_trip() {
    let seg = Segment::new(vec![1, 0]).unwrap();
    let p = Proof {
        version: 2,
        before: KindedHash::Node([1; 32]),
        after: KindedHash::Value([2; 32]),
        state: ProofTree::Extender(Extender {
            length: 300,
            segment: seg,
            proof: Box::new(InodeTree::Tree(InodeProof {
                length: 300,
                children: [Some(Box::new(InodeTree::Blinded([3; 32]))), None],
            })),
        }),
    };
    let b = codec::encode(&p).unwrap();
    // before is a node (bit 0), after a value (bit 1 clear).
    assert_eq!(b[0], 0x01);
    // Extender with a u16 length, then segment [1, 0] = 0b10_1_00000.
    assert_eq!(&b[67..72], &[0xd9, 0x01, 0x2c, 0x01, 0xa0]);
    assert_eq!(codec::decode(&b).unwrap(), p);
    assert!(Segment::new(vec![]).is_none());
    assert!(Segment::new(vec![2]).is_none());
}
