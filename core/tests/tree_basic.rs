//! Tree semantics and Context_binary hashes.
//!
//! The expected hashes below were computed with an independent Python script (hashlib's
//! BLAKE2b over the pre-images described in `shared/vectors/tezos-output-proofs/FORMAT.md`);
//! the real octez vectors (`output_proof_vectors.rs`) check the same code against hashes octez
//! produced.

use soru_core::tree::{Kind, Tree, TreeError};

fn h(hex_str: &str) -> [u8; 32] {
    hex::decode(hex_str).unwrap().try_into().unwrap()
}

fn key(i: usize) -> Vec<u8> {
    format!("k{i}").into_bytes()
}

fn flat(n: usize) -> Tree {
    let mut t = Tree::empty();
    for i in 0..n {
        t.set_value(&[&key(i)], format!("v{i}").as_bytes()).unwrap();
    }
    t
}

#[test]
fn tree_empty_and_small_directory_hashes() {
    assert_eq!(
        Tree::empty().hash(),
        h("81e47a19e6b29b0a65b9591762ce5143ed30d0261e5d24a3201752506b20f15c")
    );
    let mut t = Tree::empty();
    t.set_value(&[b"a"], b"x").unwrap();
    assert_eq!(
        t.hash(),
        h("a0e0ee1ad63a6ae5a74b2b60251f65a8b1457e126402a091dce1d6a12b6a9016")
    );
}

#[test]
fn tree_inode_hashes() {
    assert_eq!(
        flat(3).hash(),
        h("15ff410f7880db895422e11dc4ddae4938b5d5ff0f63a52952f5f1ba7dfb10c2")
    );
    assert_eq!(
        flat(10).hash(),
        h("a359a95d1619be9501d693bed47895acb81d41a81e1ea9755568c0e1619ac81f")
    );
    let mut t = Tree::empty();
    t.set_subtree(&[b"d"], flat(5)).unwrap();
    t.set_value(&[b"x"], b"").unwrap();
    assert_eq!(
        t.hash(),
        h("e201b883f1be5dfbda7cca24a98d99941fd3576d79b3cceb84571fed8203abf8")
    );
}

#[test]
fn tree_list_follows_inode_order() {
    let t = flat(10);
    let steps: Vec<Vec<u8>> = t
        .list(&[], 0, None)
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    let expected: Vec<Vec<u8>> = [1, 7, 9, 4, 6, 5, 0, 2, 3, 8]
        .iter()
        .map(|&i| key(i))
        .collect();
    assert_eq!(steps, expected);
    for (n, s) in expected.iter().enumerate() {
        assert_eq!(t.nth_step(&[], n).unwrap().as_ref(), Some(s));
        assert_eq!(t.list(&[], n, Some(3)).unwrap().len(), 3.min(10 - n));
    }
    assert_eq!(t.nth_step(&[], 10).unwrap(), None);
    assert_eq!(t.list(&[], 3, Some(0)).unwrap(), vec![]);
    assert!(t
        .list(&[], 0, None)
        .unwrap()
        .iter()
        .all(|(_, k)| *k == Kind::Value));
}

#[test]
fn tree_shape_is_canonical_under_removal() {
    let mut t = flat(300);
    for i in 40..300 {
        assert!(t.remove(&[&key(i)]).unwrap());
    }
    assert_eq!(t.hash(), flat(40).hash());
    for i in 2..40 {
        t.remove(&[&key(i)]).unwrap();
    }
    assert_eq!(t.hash(), flat(2).hash());
    assert_eq!(t.len(&[]).unwrap(), 2);
    assert!(!t.remove(&[b"absent"]).unwrap());
}

#[test]
fn tree_insertion_order_does_not_matter() {
    let mut t = Tree::empty();
    for i in (0..200).rev() {
        t.set_value(&[&key(i)], format!("v{i}").as_bytes()).unwrap();
    }
    assert_eq!(t.hash(), flat(200).hash());
}

#[test]
fn tree_paths_values_and_kinds() -> Result<(), TreeError> {
    let mut t = Tree::empty();
    t.set_value(&[b"a", b"b", b"c"], b"1")?;
    assert_eq!(t.kind(&[b"a", b"b"])?, Some(Kind::Directory));
    assert_eq!(t.kind(&[b"a", b"b", b"c"])?, Some(Kind::Value));
    assert_eq!(t.kind(&[b"a", b"b", b"c", b"d"])?, None);
    assert_eq!(t.value(&[b"a", b"b"])?, None);
    assert_eq!(t.value(&[b"a", b"b", b"c"])?, Some(&b"1"[..]));
    assert_eq!(t.len(&[b"a"])?, 1);
    assert_eq!(t.len(&[b"a", b"b", b"c"])?, 0);
    // A value in the way is replaced by a directory.
    t.set_value(&[b"a", b"b", b"c", b"d"], b"2")?;
    assert_eq!(t.kind(&[b"a", b"b", b"c"])?, Some(Kind::Directory));
    // Removing the only entry prunes empty parents, down to the (kept) root.
    assert!(t.remove(&[b"a", b"b", b"c", b"d"])?);
    assert_eq!(t.kind(&[b"a"])?, None);
    assert_eq!(t.hash(), Tree::empty().hash());
    assert!(t.is_empty());
    Ok(())
}

#[test]
fn tree_copy_move_and_snapshots() -> Result<(), TreeError> {
    let mut t = Tree::empty();
    t.set_subtree(&[b"big"], flat(1000))?;
    let snap = t.clone();
    let sub = t.subtree(&[b"big"])?.unwrap();
    t.set_subtree(&[b"copy", b"here"], sub.clone())?;
    assert!(t.subtree(&[b"copy", b"here"])?.unwrap().ptr_eq(&sub));
    assert_eq!(t.len(&[b"copy", b"here"])?, 1000);
    // Move = copy + remove.
    t.remove(&[b"big"])?;
    assert_eq!(t.kind(&[b"big"])?, None);
    assert_eq!(snap.len(&[b"big"])?, 1000);
    // Setting an empty directory removes.
    t.set_subtree(&[b"copy", b"here"], Tree::empty())?;
    assert!(t.is_empty());
    let mut expected = Tree::empty();
    expected.set_subtree(&[b"big"], flat(1000))?;
    assert_eq!(snap.hash(), expected.hash());
    Ok(())
}

#[test]
fn tree_update_in_large_directory_matches_rebuild() -> Result<(), TreeError> {
    let mut t = flat(500);
    let _ = t.hash();
    t.set_value(&[&key(17)], b"changed")?;
    let mut fresh = Tree::empty();
    for i in 0..500 {
        let v = if i == 17 {
            b"changed".to_vec()
        } else {
            format!("v{i}").into_bytes()
        };
        fresh.set_value(&[&key(i)], &v)?;
    }
    assert_eq!(t.hash(), fresh.hash());
    Ok(())
}

#[test]
fn tree_blinded_nodes_refuse_reads() {
    let mut t = Tree::empty();
    t.set_subtree(&[b"v"], Tree::blinded_value([7; 32]))
        .unwrap();
    t.set_subtree(&[b"d"], Tree::blinded_directory([9; 32]))
        .unwrap();
    assert_eq!(t.kind(&[b"v"]).unwrap(), Some(Kind::Value));
    assert_eq!(t.kind(&[b"d"]).unwrap(), Some(Kind::Directory));
    assert!(matches!(t.value(&[b"v"]), Err(TreeError::Blinded { hash, .. }) if hash == [7; 32]));
    let err = t.value(&[b"d", b"x"]).unwrap_err();
    assert!(
        matches!(&err, TreeError::Blinded { hash, path, .. } if *hash == [9; 32] && path == "/d")
    );
    assert!(err.to_string().contains("blinded directory"));
    assert!(t.set_value(&[b"d", b"x"], b"1").is_err());
    // The blinded node hashes as its hash.
    let mut u = Tree::empty();
    u.set_subtree(&[b"d"], Tree::blinded_directory([9; 32]))
        .unwrap();
    assert_eq!(u.subtree(&[b"d"]).unwrap().unwrap().hash(), [9; 32]);
}

#[test]
fn tree_every_key_is_found() {
    let t = flat(300);
    for i in 0..300 {
        assert!(t.value(&[&key(i)]).unwrap().is_some(), "{i}");
    }
}
