//! Replay witnesses: a replay on the witness's partial state gives exactly the full PVM's
//! hashes, a witness that leaves out what a level reads is an error naming the path, and forged
//! or malformed witnesses are caught.

use soru_core::durable::Key;
use soru_core::encoding::inbox::InboxMessage;
use soru_core::pvm::{Pvm, PvmConfig, Status};
use soru_core::reveal::{NoReveal, PreimageMap};
use soru_core::tree::proof::{InodeTree, ProofTree};
use soru_core::tree::Tree;
use soru_core::witness::{self, Witness, WitnessError, WitnessLevel};

fn kernel() -> Vec<u8> {
    let path = format!("{}/tests/kernels/store.wat", env!("CARGO_MANIFEST_DIR"));
    wat::parse_file(path).expect("test kernel parses")
}

fn external(payload: &[u8]) -> Vec<u8> {
    InboxMessage::External(payload.to_vec()).encode()
}

fn config() -> PvmConfig {
    PvmConfig {
        rollup_address: [7; 20],
        origination_level: 10,
        first_level: 11,
        // Small enough that a damaged kernel looping forever runs out of ticks quickly.
        ticks_per_snapshot: 10_000_000,
        ..PvmConfig::default()
    }
}

/// A PVM after 50 levels of 20 keys each (1000 durable values).
fn busy_pvm() -> Pvm {
    let mut pvm = Pvm::new(&kernel(), config()).unwrap();
    for level in 0..50u32 {
        let messages: Vec<Vec<u8>> = (0..20u32)
            .map(|i| external(format!("key{level}x{i}").as_bytes()))
            .collect();
        pvm.run_level(&messages, &mut NoReveal).unwrap();
    }
    pvm
}

fn level(pvm: &Pvm, offset: u32, messages: &[&[u8]]) -> WitnessLevel {
    WitnessLevel {
        level: pvm.next_level() + offset,
        timestamp: 1_700_000_000 + i64::from(offset),
        predecessor: [offset as u8; 32],
        messages: messages.iter().map(|m| external(m)).collect(),
    }
}

fn run_full(pvm: &mut Pvm, levels: &[WitnessLevel], reveal: &mut PreimageMap) -> Vec<[u8; 32]> {
    levels
        .iter()
        .map(|l| {
            let s = pvm
                .step_level(l.level, l.timestamp, &l.predecessor, &l.messages, reveal)
                .unwrap();
            assert_eq!(s, Status::WaitingForInput);
            pvm.state_hash().unwrap()
        })
        .collect()
}

#[test]
fn a_replay_on_the_witness_gives_the_full_pvm_hashes_from_a_fraction_of_the_state() {
    let mut pvm = busy_pvm();
    let pre = pvm.state_tree().unwrap();
    let levels = vec![
        level(&pvm, 0, &[b"new1", b"key3x4"]),
        level(&pvm, 1, &[]),
        level(&pvm, 2, &[b"new2"]),
    ];
    let (w, produced) =
        witness::produce(&pre, pvm.config(), levels.clone(), &mut NoReveal).unwrap();
    let full = run_full(&mut pvm, &levels, &mut PreimageMap::new());

    let bytes = witness::encode(&w).unwrap();
    let decoded = witness::decode(&bytes).unwrap();
    assert_eq!(decoded, w);
    let run = witness::replay(&decoded).unwrap();
    assert_eq!(run, produced);
    assert_eq!(run.pre_state_hash, pre.hash());
    let hashes: Vec<[u8; 32]> = run.levels.iter().map(|l| l.state_hash).collect();
    assert_eq!(hashes, full);
    assert_eq!(run.state_hash, pvm.state_hash().unwrap());
    assert_eq!(run.ticks, pvm.ticks());
    assert_eq!(run.levels[0].outbox.len(), 2);

    // The 1000 stored values alone are ~8 KB of bytes plus their tree: the witness holds only
    // the kernel, the directories on the way to the keys the levels touch, and the buffers.
    let all = pvm.durable_values().count();
    assert!(all > 1000, "{all}");
    let revealed = count_values(&w.pre_state);
    assert!(
        revealed < 40,
        "the witness reveals {revealed} values of {all}"
    );
    assert!(bytes.len() < 12_000, "witness of {} bytes", bytes.len());
}

#[test]
fn a_witness_can_start_at_the_origination_state() {
    // The first commitment period starts from the state before any input: the witness of its
    // levels replays to the full PVM's hashes, from the rollup's first level on.
    let mut pvm = Pvm::new(&kernel(), config()).unwrap();
    let pre = pvm.state_tree().unwrap();
    let levels = vec![level(&pvm, 0, &[b"a"]), level(&pvm, 1, &[b"b", b"c"])];
    assert_eq!(levels[0].level, 11);
    let (w, produced) =
        witness::produce(&pre, pvm.config(), levels.clone(), &mut NoReveal).unwrap();
    let full = run_full(&mut pvm, &levels, &mut PreimageMap::new());
    let run = witness::replay(&witness::decode(&witness::encode(&w).unwrap()).unwrap()).unwrap();
    assert_eq!(run, produced);
    assert_eq!(
        run.levels.iter().map(|l| l.state_hash).collect::<Vec<_>>(),
        full
    );
    assert_eq!(run.ticks, pvm.ticks());
    // After inputs were read, the state fixes the next level: a witness skipping one is refused.
    let pre = pvm.state_tree().unwrap();
    let skipping = vec![level(&pvm, 1, &[b"d"])];
    let err = witness::produce(&pre, pvm.config(), skipping, &mut NoReveal).unwrap_err();
    assert!(err.to_string().contains("expected level 13"), "{err}");
}

/// Number of values revealed in full in a proof tree.
fn count_values(p: &ProofTree) -> usize {
    fn inode(i: &InodeTree) -> usize {
        match i {
            InodeTree::Blinded(_) => 0,
            InodeTree::Values(vs) => vs.iter().map(|(_, t)| count_values(t)).sum(),
            InodeTree::Tree(t) => t.children.iter().flatten().map(|c| inode(c)).sum(),
            InodeTree::Extender(e) => inode(&e.proof),
        }
    }
    match p {
        ProofTree::Value(_) => 1,
        ProofTree::BlindedValue(_) | ProofTree::BlindedNode(_) => 0,
        ProofTree::Node(es) => es.iter().map(|(_, t)| count_values(t)).sum(),
        ProofTree::Inode(i) => i.children.iter().flatten().map(|c| inode(c)).sum(),
        ProofTree::Extender(e) => inode(&e.proof),
    }
}

/// `p` with each entry `(step, tree)` for which `f` gives a replacement replaced, and the
/// others rewritten below.
fn rewrite(p: &ProofTree, f: &mut dyn FnMut(&[u8], &ProofTree) -> Option<ProofTree>) -> ProofTree {
    type Rewrite<'a> = &'a mut dyn FnMut(&[u8], &ProofTree) -> Option<ProofTree>;
    fn entries(es: &[(Vec<u8>, ProofTree)], f: Rewrite) -> Vec<(Vec<u8>, ProofTree)> {
        es.iter()
            .map(|(s, t)| {
                let t = match f(s, t) {
                    Some(new) => new,
                    None => rewrite(t, f),
                };
                (s.clone(), t)
            })
            .collect()
    }
    fn inode(i: &InodeTree, f: Rewrite) -> InodeTree {
        match i {
            InodeTree::Blinded(h) => InodeTree::Blinded(*h),
            InodeTree::Values(vs) => InodeTree::Values(entries(vs, f)),
            InodeTree::Tree(t) => {
                let mut t = t.clone();
                for c in t.children.iter_mut().flatten() {
                    **c = inode(c, f);
                }
                InodeTree::Tree(t)
            }
            InodeTree::Extender(e) => {
                let mut e = e.clone();
                *e.proof = inode(&e.proof, f);
                InodeTree::Extender(e)
            }
        }
    }
    match p {
        ProofTree::Node(es) => ProofTree::Node(entries(es, f)),
        ProofTree::Inode(i) => match inode(&InodeTree::Tree(i.clone()), f) {
            InodeTree::Tree(i) => ProofTree::Inode(i),
            _ => unreachable!(),
        },
        ProofTree::Extender(e) => match inode(&InodeTree::Extender(e.clone()), f) {
            InodeTree::Extender(e) => ProofTree::Extender(e),
            _ => unreachable!(),
        },
        other => other.clone(),
    }
}

/// `p` with every entry named `step` blinded.
fn blind(p: &ProofTree, step: &[u8]) -> ProofTree {
    rewrite(p, &mut |s, t| {
        (s == step).then(|| {
            let hash = t.to_tree().unwrap().hash();
            match t {
                ProofTree::Value(_) | ProofTree::BlindedValue(_) => ProofTree::BlindedValue(hash),
                _ => ProofTree::BlindedNode(hash),
            }
        })
    })
}

/// `p` with every revealed value replaced by `f(value)`.
fn map_values(p: &ProofTree, f: &mut dyn FnMut(&[u8]) -> Vec<u8>) -> ProofTree {
    rewrite(p, &mut |_, t| match t {
        ProofTree::Value(v) => Some(ProofTree::Value(f(v))),
        _ => None,
    })
}

fn witness_of(pvm: &Pvm, levels: Vec<WitnessLevel>) -> Witness {
    let pre = pvm.state_tree().unwrap();
    witness::produce(&pre, pvm.config(), levels, &mut NoReveal)
        .unwrap()
        .0
}

#[test]
fn a_witness_without_a_node_the_run_reads_names_its_path() {
    let pvm = busy_pvm();
    let w = witness_of(&pvm, vec![level(&pvm, 0, &[b"new1"])]);
    let pre_hash = w.pre_state.to_tree().unwrap().hash();

    // The kernel's bytes left out: blinding keeps the root hash, so only the run can tell.
    let mut no_kernel = w.clone();
    no_kernel.pre_state = blind(&w.pre_state, b"boot.wasm");
    assert_eq!(no_kernel.pre_state.to_tree().unwrap().hash(), pre_hash);
    match witness::replay(&no_kernel) {
        Err(WitnessError::Missing { path, level, .. }) => {
            assert!(path.contains("/kernel/boot.wasm"), "{path}");
            assert_eq!(level, pvm.next_level());
        }
        other => panic!("expected Missing, got {other:?}"),
    }

    // A level writing a key the witness's levels never touched needs inodes it blinded.
    let mut other_key = w.clone();
    other_key.levels = vec![level(&pvm, 0, &[b"key7x7", b"zz9", b"new1"])];
    let err = witness::replay(&other_key).unwrap_err();
    assert!(
        matches!(&err, WitnessError::Missing { path, .. } if path.starts_with("/durable/k")),
        "{err}"
    );
    assert!(err.to_string().contains("leaves out"), "{err}");
}

#[test]
fn forged_witnesses_do_not_reproduce_the_claimed_hashes() {
    let pvm = busy_pvm();
    let levels = vec![level(&pvm, 0, &[b"new1"]), level(&pvm, 1, &[b"new2"])];
    let w = witness_of(&pvm, levels);
    let honest = witness::replay(&w).unwrap();

    // Another inbox gives another state.
    let mut other_inbox = w.clone();
    other_inbox.levels[1].messages = vec![];
    assert_ne!(
        witness::replay(&other_inbox).unwrap().state_hash,
        honest.state_hash
    );

    // Changing a revealed value changes the pre-state hash (which a commitment check
    // compares with the predecessor's), whatever the run then does.
    let mut other_pre = w.clone();
    let mut changed = false;
    other_pre.pre_state = map_values(&w.pre_state, &mut |v| {
        if !changed && v.len() > 4 {
            changed = true;
            let mut v = v.to_vec();
            v[0] ^= 1;
            return v;
        }
        v.to_vec()
    });
    assert!(changed);
    assert_ne!(
        other_pre.pre_state.to_tree().unwrap().hash(),
        honest.pre_state_hash
    );
    if let Ok(run) = witness::replay(&other_pre) {
        assert_ne!(run.pre_state_hash, honest.pre_state_hash);
    }

    // Levels must follow the pre-state without a gap.
    let mut gap = w.clone();
    gap.levels[1].level += 1;
    assert!(matches!(
        witness::replay(&gap),
        Err(WitnessError::LevelGap { index: 1, .. })
    ));
}

#[test]
fn preimages_are_carried_and_checked() {
    let pvm = busy_pvm();
    let mut preimages = PreimageMap::new();
    let hash = preimages.insert(b"the preimage".to_vec());
    let mut msg = b"R".to_vec();
    msg.extend_from_slice(&hash);
    let levels = vec![level(&pvm, 0, &[&msg])];
    let pre = pvm.state_tree().unwrap();

    // Without the preimage there is no witness.
    let err = witness::produce(&pre, pvm.config(), levels.clone(), &mut NoReveal).unwrap_err();
    assert!(matches!(err, WitnessError::MissingReveal { .. }), "{err}");

    let (w, produced) = witness::produce(&pre, pvm.config(), levels, &mut preimages).unwrap();
    assert_eq!(w.reveals.len(), 1);
    let run = witness::replay(&witness::decode(&witness::encode(&w).unwrap()).unwrap()).unwrap();
    assert_eq!(run, produced);
    let mut full = pvm;
    run_full(&mut full, &w.levels, &mut preimages);
    assert_eq!(
        full.durable()
            .read_all(&Key::from_path("/r").unwrap())
            .unwrap(),
        Some(b"the preimage".to_vec())
    );
    assert_eq!(run.state_hash, full.state_hash().unwrap());

    let mut bad = w.clone();
    bad.reveals[0].1 = b"another".to_vec();
    assert!(matches!(
        witness::replay(&bad),
        Err(WitnessError::BadPreimage { index: 0, .. })
    ));
    let mut none = w.clone();
    none.reveals.clear();
    assert!(matches!(
        witness::replay(&none),
        Err(WitnessError::MissingReveal { .. })
    ));
    let mut raw = w;
    raw.reveals[0].0 = vec![3, 1, 2];
    assert!(matches!(
        witness::replay(&raw),
        Err(WitnessError::UncheckableReveal { index: 0, .. })
    ));
}

#[test]
fn malformed_witness_bytes_are_errors_naming_the_offset() {
    let pvm = busy_pvm();
    let w = witness_of(&pvm, vec![level(&pvm, 0, &[b"new1"])]);
    let bytes = witness::encode(&w).unwrap();
    for n in 0..bytes.len() {
        let err = witness::decode(&bytes[..n]).unwrap_err();
        assert!(matches!(err, WitnessError::Malformed(_)), "{n}: {err}");
    }
    // Damaged bytes are an error or a replay that runs to an answer (a changed message, say),
    // never a panic.
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x5a;
        if let Ok(w) = witness::decode(&damaged) {
            if w.config.ticks_per_snapshot <= config().ticks_per_snapshot {
                let _ = witness::replay(&w);
            }
        }
    }
    let mut magic = bytes.clone();
    magic[0] = b'x';
    assert!(witness::decode(&magic)
        .unwrap_err()
        .to_string()
        .contains("soruwit"));
    let mut version = bytes.clone();
    version[7] = 2;
    assert!(witness::decode(&version)
        .unwrap_err()
        .to_string()
        .contains("version"));
    let mut long = bytes;
    long.push(0);
    assert!(witness::decode(&long).is_err());
    // A state inside a level is not a pre-state.
    assert!(matches!(
        witness::produce(&Tree::empty(), &config(), vec![], &mut NoReveal),
        Err(WitnessError::NotResumable(_)) | Err(WitnessError::Pvm { .. })
    ));
}
