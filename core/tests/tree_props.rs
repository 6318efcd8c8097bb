//! Property tests: hashes are canonical under any operation sequence, proofs of any key
//! verify, and damaged proofs are always rejected (never a panic, never a wrong accept).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use proptest::prelude::*;
use soru_core::output_proof::{produce_output_proof, verify_output_proof, Layout};
use soru_core::state::output_buffer::{self, OutputBufferInfo};
use soru_core::state::{TAG, TAG_SOME};
use soru_core::tree::codec;
use soru_core::tree::proof::{self, TreeAccess};
use soru_core::tree::Tree;

type Path = Vec<Vec<u8>>;

#[derive(Clone, Debug)]
enum Op {
    Set(Path, Vec<u8>),
    Remove(Path),
    Copy(Path, Path),
    Move(Path, Path),
}

fn step() -> impl Strategy<Value = Vec<u8>> {
    // Few short steps near the root (so directories collide and grow), many at level 2 (so
    // some directories have dozens of entries and deep inode tries).
    prop_oneof![
        3 => prop::sample::select(vec!["a", "b", "c", "d"]).prop_map(|s| s.as_bytes().to_vec()),
        2 => (0u8..60).prop_map(|n| format!("k{n}").into_bytes()),
    ]
}

fn path() -> impl Strategy<Value = Path> {
    prop::collection::vec(step(), 1..4)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (path(), prop::collection::vec(any::<u8>(), 0..6)).prop_map(|(p, v)| Op::Set(p, v)),
        2 => path().prop_map(Op::Remove),
        1 => (path(), path()).prop_map(|(a, b)| Op::Copy(a, b)),
        1 => (path(), path()).prop_map(|(a, b)| Op::Move(a, b)),
    ]
}

fn refs(p: &Path) -> Vec<&[u8]> {
    p.iter().map(Vec::as_slice).collect()
}

/// The model: leaves by path.
type Model = BTreeMap<Path, Vec<u8>>;

fn model_remove(m: &mut Model, p: &Path) {
    m.retain(|k, _| !k.starts_with(p));
}

fn model_sub(m: &Model, p: &Path) -> Vec<(Path, Vec<u8>)> {
    m.iter()
        .filter(|(k, _)| k.starts_with(p))
        .map(|(k, v)| (k[p.len()..].to_vec(), v.clone()))
        .collect()
}

fn model_put(m: &mut Model, p: &Path, sub: Vec<(Path, Vec<u8>)>) {
    // Anything at or below `p` goes, and so does a value on the way to `p`.
    model_remove(m, p);
    for i in 1..p.len() {
        m.remove(&p[..i].to_vec());
    }
    for (suffix, v) in sub {
        let mut k = p.clone();
        k.extend(suffix);
        m.insert(k, v);
    }
}

fn apply(t: &mut dyn TreeAccess, m: &mut Model, op: &Op) {
    match op {
        Op::Set(p, v) => {
            t.set_value(&refs(p), v).unwrap();
            model_put(m, p, vec![(vec![], v.clone())]);
        }
        Op::Remove(p) => {
            let removed = t.remove(&refs(p)).unwrap();
            assert_eq!(removed, m.keys().any(|k| k.starts_with(p)));
            model_remove(m, p);
        }
        Op::Copy(a, b) | Op::Move(a, b) => {
            if let Some(sub) = t.subtree(&refs(a)).unwrap() {
                t.set_subtree(&refs(b), sub).unwrap();
                let s = model_sub(m, a);
                model_put(m, b, s);
                if matches!(op, Op::Move(..)) {
                    t.remove(&refs(a)).unwrap();
                    model_remove(m, a);
                }
            }
        }
    }
}

fn build(m: &Model) -> Tree {
    let mut t = Tree::empty();
    for (k, v) in m {
        t.set_value(&refs(k), v).unwrap();
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn tree_ops_hash_like_a_fresh_build(ops in prop::collection::vec(op(), 1..60)) {
        let mut t = Tree::empty();
        let mut m = Model::new();
        // Updates change nodes in place when nothing else holds them: every snapshot taken on
        // the way (hashed now or only at the end) must keep its content and hash.
        let mut snapshots = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let hashed_now = (i % 2 == 0).then(|| t.hash());
            snapshots.push((t.clone(), m.clone(), hashed_now));
            apply(&mut t, &mut m, op);
        }
        prop_assert_eq!(t.hash(), build(&m).hash());
        for (k, v) in &m {
            prop_assert_eq!(t.value(&refs(k)).unwrap(), Some(v.as_slice()));
        }
        for (snapshot, model, hashed_then) in &snapshots {
            let expected = build(model).hash();
            prop_assert_eq!(snapshot.hash(), expected);
            if let Some(h) = hashed_then {
                prop_assert_eq!(*h, expected);
            }
        }
    }

    #[test]
    fn tree_proofs_of_any_operation_verify(
        setup in prop::collection::vec(op(), 1..40),
        ops in prop::collection::vec(op(), 1..4),
        probe in path(),
    ) {
        let mut t = Tree::empty();
        let mut m = Model::new();
        for op in &setup {
            apply(&mut t, &mut m, op);
        }
        let run = |r: &mut dyn TreeAccess| {
            let mut m = m.clone();
            for op in &ops {
                apply(r, &mut m, op);
            }
            let p = refs(&probe);
            Ok((r.value(&p)?, r.len(&p[..1])?, r.list(&p[..1], 0, None)?))
        };
        let (p, r) = proof::produce(&t, |rec| run(rec)).unwrap();
        let bytes = codec::encode(&p).unwrap();
        let back = codec::decode(&bytes).unwrap();
        prop_assert_eq!(codec::encode(&back).unwrap(), bytes);
        let (after, r2) = proof::verify(&back, |tree| run(tree)).unwrap();
        prop_assert_eq!(r, r2);
        prop_assert_eq!(after.hash(), *p.after.hash());
    }

    #[test]
    fn tree_proof_decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(p) = codec::decode(&bytes) {
            prop_assert_eq!(&codec::encode(&p).unwrap(), &bytes);
            let _ = p.state.to_tree().map(|t| t.hash());
        }
        let _ = verify_output_proof(&bytes, &[0; 32], None);
    }
}

/// A Soru output proof and the state hash it is for.
fn soru_output_proof() -> &'static (Vec<u8>, [u8; 32]) {
    static P: OnceLock<(Vec<u8>, [u8; 32])> = OnceLock::new();
    P.get_or_init(|| {
        let mut t = Tree::empty();
        for i in 0..200 {
            t.set_value(&[b"durable", format!("k{i}").as_bytes(), b"@"], b"v")
                .unwrap();
        }
        t.set_value(&TAG, TAG_SOME).unwrap();
        let info = OutputBufferInfo {
            last_level: None,
            validity_period: 100,
            message_limit: 10,
        };
        output_buffer::write_info(&mut t, &info).unwrap();
        for level in 1..6 {
            output_buffer::start_level(&mut t, level).unwrap();
            for m in 0..5 {
                output_buffer::push_message(&mut t, format!("msg {m}").as_bytes()).unwrap();
            }
        }
        (
            produce_output_proof(&t, 3, 2, Layout::Obj2).unwrap(),
            t.hash(),
        )
    })
}

/// The first real octez vector, if the shared vectors are present.
fn octez_output_proof() -> Option<&'static (Vec<u8>, [u8; 32])> {
    static P: OnceLock<Option<(Vec<u8>, [u8; 32])>> = OnceLock::new();
    P.get_or_init(|| {
        let f = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
            "../../shared/vectors/tezos-output-proofs/05_taquito_mock_fixed_and_corrupted.txt",
        );
        let Ok(text) = std::fs::read_to_string(&f) else {
            println!("SKIP: {} not found", f.display());
            return None;
        };
        let hex_line = text
            .lines()
            .find_map(|l| l.strip_prefix("output_proof_hex="))?;
        let bytes = hex::decode(hex_line.trim()).ok()?;
        let root = bytes[3..35].try_into().ok()?;
        Some((bytes, root))
    })
    .as_ref()
}

fn check_damage(bytes: &[u8], root: &[u8; 32], pos: usize, xor: u8, cut: usize) {
    assert!(verify_output_proof(bytes, root, None).is_ok());
    let pos = pos % bytes.len();
    let mut flipped = bytes.to_vec();
    flipped[pos] ^= xor;
    assert!(
        verify_output_proof(&flipped, root, None).is_err(),
        "flip at {pos} accepted"
    );
    let cut = cut % bytes.len();
    assert!(
        verify_output_proof(&bytes[..cut], root, None).is_err(),
        "truncation to {cut} accepted"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn output_proof_damage_is_rejected(pos in any::<usize>(), xor in 1u8..=255, cut in any::<usize>()) {
        let (bytes, root) = soru_output_proof();
        check_damage(bytes, root, pos, xor, cut);
        if let Some((bytes, root)) = octez_output_proof() {
            check_damage(bytes, root, pos, xor, cut);
        }
    }
}
