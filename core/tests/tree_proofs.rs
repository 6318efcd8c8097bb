//! Soru-produced proofs: produce, encode, decode (byte for byte), verify; large directories
//! (deep inodes), extenders, mutating operations, reads outside the proof.

use soru_core::output_proof::{produce_output_proof, verify_output_proof, Layout};
use soru_core::state::output_buffer::{self, OutputBufferInfo};
use soru_core::state::{TAG, TAG_SOME};
use soru_core::tree::codec;
use soru_core::tree::proof::{self, InodeTree, Proof, ProofError, ProofTree, TreeAccess};
use soru_core::tree::{Tree, TreeError};

fn blake(b: &[u8]) -> [u8; 32] {
    use blake2::{digest::consts::U32, Blake2b, Digest};
    Blake2b::<U32>::digest(b).into()
}

fn big_dir(n: usize) -> Tree {
    let mut t = Tree::empty();
    for i in 0..n {
        t.set_value(
            &[b"durable", b"big", format!("key{i}").as_bytes(), b"@"],
            &(i as u64).to_be_bytes(),
        )
        .unwrap();
    }
    t.set_value(&[b"durable", b"small"], b"x").unwrap();
    t
}

fn has_extender(p: &ProofTree) -> bool {
    fn inode(t: &InodeTree) -> bool {
        match t {
            InodeTree::Blinded(_) => false,
            InodeTree::Values(es) => es.iter().any(|(_, t)| has_extender(t)),
            InodeTree::Tree(i) => i.children.iter().flatten().any(|c| inode(c)),
            InodeTree::Extender(_) => true,
        }
    }
    match p {
        ProofTree::Node(es) => es.iter().any(|(_, t)| has_extender(t)),
        ProofTree::Inode(i) => i.children.iter().flatten().any(|c| inode(c)),
        ProofTree::Extender(_) => true,
        _ => false,
    }
}

/// Encode, decode, compare bytes and structure; returns the decoded proof.
fn round_trip(p: &Proof) -> Proof {
    let bytes = codec::encode(p).unwrap();
    let back = codec::decode(&bytes).unwrap();
    assert_eq!(&back, p);
    assert_eq!(codec::encode(&back).unwrap(), bytes);
    back
}

#[test]
fn tree_proof_of_reads_in_a_large_directory() {
    let t = big_dir(1500);
    let mut extenders = 0;
    for i in (0..1500).step_by(37) {
        let k = format!("key{i}");
        let path: [&[u8]; 4] = [b"durable", b"big", k.as_bytes(), b"@"];
        let (p, v) = proof::produce(&t, |r| r.value(&path)).unwrap();
        assert_eq!(v.unwrap(), (i as u64).to_be_bytes());
        assert_eq!(*p.before.hash(), t.hash());
        assert_eq!(p.before, p.after);
        let p = round_trip(&p);
        extenders += usize::from(has_extender(&p.state));
        let (_, v2) = proof::verify(&p, |t| TreeAccess::value(t, &path)).unwrap();
        assert_eq!(v2.unwrap(), (i as u64).to_be_bytes());
        let size = codec::encode(&p).unwrap().len();
        assert!(
            size < 1500,
            "proof of one value in a 1500-entry directory is {size} bytes"
        );
        // Reading a sibling the proof does not contain fails with Blinded.
        let other = format!("key{}", (i + 1) % 1500);
        let err = proof::verify(&p, |t| {
            t.value(&[b"durable", b"big", other.as_bytes(), b"@"])
        })
        .unwrap_err();
        assert!(
            matches!(err, ProofError::Tree(TreeError::Blinded { .. })),
            "{err}"
        );
    }
    assert!(
        extenders > 0,
        "no proof of a 1500-entry directory used an extender"
    );
}

/// Three steps whose hashes share their first `bits` bits.
fn colliding_steps(bits: u32) -> Vec<Vec<u8>> {
    let mut by_prefix: std::collections::HashMap<u32, Vec<Vec<u8>>> = Default::default();
    for i in 0.. {
        let s = format!("s{i}").into_bytes();
        let h = blake(&s);
        let prefix = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) >> (32 - bits);
        let e = by_prefix.entry(prefix).or_default();
        e.push(s);
        if e.len() == 3 {
            return e.clone();
        }
    }
    unreachable!()
}

#[test]
fn tree_proof_extender_chains_round_trip_and_verify() {
    let steps = colliding_steps(6);
    let mut t = Tree::empty();
    for (n, s) in steps.iter().enumerate() {
        t.set_value(&[b"d", s], &[n as u8]).unwrap();
    }
    let (p, _) = proof::produce(&t, |r| r.value(&[b"d", &steps[0]])).unwrap();
    assert!(has_extender(&p.state), "{:?}", p.state);
    let p = round_trip(&p);
    let (_, v) = proof::verify(&p, |t| TreeAccess::value(t, &[b"d", &steps[0]])).unwrap();
    assert_eq!(v.unwrap(), [0]);
    // Listing the directory reads all of it, through the extender.
    let (p, l) = proof::produce(&t, |r| r.list(&[b"d"], 0, None)).unwrap();
    let p = round_trip(&p);
    let (_, l2) = proof::verify(&p, |t| t.list(&[b"d"], 0, None)).unwrap();
    assert_eq!(l, l2);
    assert_eq!(l.len(), 3);
}

fn check_op<R: PartialEq + std::fmt::Debug>(
    t: &Tree,
    op: impl Fn(&mut dyn TreeAccess) -> Result<R, TreeError>,
) -> (Tree, R) {
    let (p, r) = proof::produce(t, |rec| op(rec)).unwrap();
    let mut direct = t.clone();
    let r_direct = op(&mut direct).unwrap();
    assert_eq!(r, r_direct);
    assert_eq!(*p.after.hash(), direct.hash());
    let p = round_trip(&p);
    let (after, r2) = proof::verify(&p, |tree| op(tree)).unwrap();
    assert_eq!(r2, r);
    assert_eq!(after.hash(), direct.hash());
    (direct, r)
}

#[test]
fn tree_proof_of_mutations_verifies_after_hash() {
    let t = big_dir(1200);
    // Write a new key, overwrite one, remove one, copy and move subtrees.
    check_op(&t, |r| {
        r.set_value(&[b"durable", b"big", b"new", b"@"], b"v")
    });
    check_op(&t, |r| {
        r.set_value(&[b"durable", b"big", b"key7", b"@"], b"w")
    });
    check_op(&t, |r| r.remove(&[b"durable", b"big", b"key8"]));
    check_op(&t, |r| {
        let sub = r.subtree(&[b"durable", b"big", b"key9"])?.unwrap();
        r.set_subtree(&[b"durable", b"copy"], sub)
    });
    check_op(&t, |r| {
        let sub = r.subtree(&[b"durable", b"big"])?.unwrap();
        r.remove(&[b"durable", b"big"])?;
        r.set_subtree(&[b"moved"], sub)?;
        r.len(&[b"moved"])
    });
    check_op(&t, |r| r.nth_step(&[b"durable", b"big"], 600));
    check_op(&t, |r| r.list(&[b"durable", b"big"], 100, Some(5)));
    // Removals that collapse a trie level read the remaining siblings.
    let steps = colliding_steps(3);
    let mut small = Tree::empty();
    for s in &steps {
        small.set_value(&[b"d", s], b"1").unwrap();
    }
    small.set_value(&[b"e"], b"2").unwrap();
    let (after, _) = check_op(&small, |r| r.remove(&[b"d", &steps[1]]));
    assert_eq!(after.len(&[b"d"]).unwrap(), 2);
}

fn pvm_state(messages: usize) -> Tree {
    let mut t = big_dir(300);
    t.set_value(&TAG, TAG_SOME).unwrap();
    let info = OutputBufferInfo {
        last_level: None,
        validity_period: 80_640,
        message_limit: 100,
    };
    output_buffer::write_info(&mut t, &info).unwrap();
    for level in 10..14u32 {
        output_buffer::start_level(&mut t, level).unwrap();
        for m in 0..messages {
            output_buffer::push_message(&mut t, format!("message {m} at {level}").as_bytes())
                .unwrap();
        }
    }
    t
}

#[test]
fn output_proof_soru_produced_proofs_verify() {
    let t = pvm_state(20);
    for layout in [Layout::Obj2, Layout::Obj3] {
        let bytes = produce_output_proof(&t, 12, 7, layout).unwrap();
        let out = verify_output_proof(&bytes, &t.hash(), Some(layout)).unwrap();
        assert_eq!((out.outbox_level, out.message_index), (12, 7));
        assert_eq!(out.message, b"message 7 at 12");
        assert_eq!(verify_output_proof(&bytes, &t.hash(), None).unwrap(), out);
        let (p, used) = codec::decode_prefix(&bytes).unwrap();
        assert_eq!(codec::encode(&p).unwrap(), bytes[..used]);
    }
    assert!(produce_output_proof(&t, 12, 20, Layout::Obj2).is_err());
    assert!(produce_output_proof(&t, 9, 0, Layout::Obj2).is_err());
}

/// Directories nested `dirs` deep, each with 3 entries reached through a 255-level extender.
fn nested_extenders(dirs: usize) -> ProofTree {
    use soru_core::tree::proof::{Extender, InodeProof, Segment};
    let mut t = ProofTree::Value(b"leaf".to_vec());
    for _ in 0..dirs {
        let bucket = InodeTree::Values(vec![
            (b"s".to_vec(), t),
            (b"t".to_vec(), ProofTree::Value(vec![])),
        ]);
        let bottom = InodeTree::Tree(InodeProof {
            length: 3,
            children: [
                Some(Box::new(bucket)),
                Some(Box::new(InodeTree::Blinded([7; 32]))),
            ],
        });
        let segment = Segment::new(vec![1; 255]).unwrap();
        t = ProofTree::Extender(Extender {
            length: 3,
            segment,
            proof: Box::new(bottom),
        });
    }
    t
}

#[test]
fn tree_proof_nesting_is_bounded() {
    // 3 directories of 257 levels each: accepted, hashed without exhausting the stack.
    let t = nested_extenders(3).to_tree().unwrap();
    let _ = t.hash();
    // 5 of them exceed the 1024-level bound.
    let err = nested_extenders(5).to_tree().unwrap_err();
    assert!(err.to_string().contains("1024"), "{err}");
    let err = nested_extenders(200).to_tree().unwrap_err();
    assert!(err.to_string().contains("1024"), "{err}");
    let p = Proof {
        version: 2,
        before: proof::KindedHash::Node([0; 32]),
        after: proof::KindedHash::Node([0; 32]),
        state: nested_extenders(3),
    };
    round_trip(&p);
}
