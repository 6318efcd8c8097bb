//! Content-addressed storage of trees: every node and inode as one record under its hash, so
//! states of successive levels share every unchanged subtree in a key-value store.
//!
//! [`save`] walks a tree and hands the records the store does not hold yet to the caller,
//! children before parents, and skips every subtree the store already holds (a record is
//! written only after everything below it, so a stored hash means a stored subtree). Saving the
//! state after a level therefore writes the nodes the level changed, not the state. [`Loader`]
//! rebuilds a tree from its root hash, checks that every record hashes to its key (a store or
//! snapshot that was tampered with or damaged is an error naming the record, never a wrong
//! tree), and shares identical subtrees among every tree it loads.
//!
//! # Record format (version [`FORMAT_VERSION`])
//!
//! Keys are 33 bytes: `n` + the node's hash (values and directories, the hash [`Tree::hash`]
//! gives) or `i` + an inode's hash (the parts of a directory, see `inode.rs`). Two spaces are
//! needed because a large directory's hash is the hash of its root inode. Records:
//!
//! | record    | bytes                                                                    |
//! |-----------|--------------------------------------------------------------------------|
//! | value     | `0x00`, length (u64 BE), the bytes before the value's zero tail          |
//! | directory | `0x01`, hash of its root inode                                           |
//! | bucket    | `0x02`, count (u8, at most 2), per entry: step length (u32 BE), step, kind (`0` value, `1` directory), hash |
//! | trie      | `0x03`, depth (u32 BE), entries below (u64 BE), children present (bit 0, bit 1), their hashes |
//!
//! Proof trees (with blinded parts) cannot be saved.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::bytes::{ValueBytes, MIN_ZERO_TAIL};
use super::hash::{EntryKind, Hash};
use super::inode::{Entry, Inode, InodeV, Step, ENTRIES};
use super::node::{NodeV, Tree};

/// The version of the record format described in the module documentation.
pub const FORMAT_VERSION: u8 = 1;

/// A record's key: a space byte (`n` node, `i` inode) and a hash.
pub type RecordKey = [u8; 33];

/// Says whether the store holds a record.
pub type HasFn<'a, E> = &'a mut dyn FnMut(&RecordKey) -> Result<bool, E>;
/// Writes a record.
pub type PutFn<'a, E> = &'a mut dyn FnMut(&RecordKey, &[u8]) -> Result<(), E>;
/// Reads a record (`None` if absent).
pub type GetFn<'a, E> = &'a mut dyn FnMut(&RecordKey) -> Result<Option<Vec<u8>>, E>;

/// Longest value a record may declare (1 GiB): larger lengths are damage, not data.
pub const MAX_VALUE_LEN: u64 = 1 << 30;

/// The key of the node (value or directory) with this hash.
pub fn node_key(hash: &Hash) -> RecordKey {
    key(b'n', hash)
}

fn inode_key(hash: &Hash) -> RecordKey {
    key(b'i', hash)
}

fn key(space: u8, hash: &Hash) -> RecordKey {
    let mut k = [0u8; 33];
    k[0] = space;
    k[1..].copy_from_slice(hash);
    k
}

/// Why a tree could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError<E> {
    /// The tree is a proof tree: a part of it is only known by its hash.
    #[error("cannot store a proof tree: the part with hash {} is blinded", hex::encode(.0))]
    Blinded(Hash),
    /// The store failed.
    #[error(transparent)]
    Store(E),
}

/// What [`save`] wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SaveStats {
    /// Records written.
    pub records: u64,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// Saves `tree`: calls `put` for each record the store lacks (`has` says whether it holds a
/// key), children before parents. Returns what was written.
pub fn save<E>(
    tree: &Tree,
    has: HasFn<'_, E>,
    put: PutFn<'_, E>,
) -> Result<SaveStats, SaveError<E>> {
    let mut saver = Saver {
        has,
        put,
        stats: SaveStats::default(),
    };
    saver.node(tree)?;
    Ok(saver.stats)
}

struct Saver<'a, E> {
    has: HasFn<'a, E>,
    put: PutFn<'a, E>,
    stats: SaveStats,
}

impl<E> Saver<'_, E> {
    fn write(&mut self, k: &RecordKey, record: &[u8]) -> Result<(), SaveError<E>> {
        (self.put)(k, record).map_err(SaveError::Store)?;
        self.stats.records += 1;
        self.stats.bytes += record.len() as u64;
        Ok(())
    }

    fn node(&mut self, tree: &Tree) -> Result<(), SaveError<E>> {
        let k = node_key(&tree.hash());
        if (self.has)(&k).map_err(SaveError::Store)? {
            return Ok(());
        }
        let mut record = Vec::new();
        match &tree.0.v {
            NodeV::Value(bytes) => {
                let (head, len) = bytes.parts();
                record.push(0);
                record.extend_from_slice(&(len as u64).to_be_bytes());
                record.extend_from_slice(head);
            }
            NodeV::Dir(inode) => {
                self.inode(inode)?;
                record.push(1);
                record.extend_from_slice(&inode.hash());
            }
            NodeV::BlindedValue(h) | NodeV::BlindedDir(h) => return Err(SaveError::Blinded(*h)),
        }
        self.write(&k, &record)
    }

    fn inode(&mut self, inode: &Inode) -> Result<(), SaveError<E>> {
        let k = inode_key(&inode.hash());
        if (self.has)(&k).map_err(SaveError::Store)? {
            return Ok(());
        }
        let mut record = Vec::new();
        match inode.v() {
            InodeV::Values(entries) => {
                record.push(2);
                record.push(entries.len() as u8);
                for (step, child) in entries {
                    self.node(child)?;
                    record.extend_from_slice(&(step.len() as u32).to_be_bytes());
                    record.extend_from_slice(step);
                    record.push(match child.entry_kind() {
                        EntryKind::Contents => 0,
                        EntryKind::Node => 1,
                    });
                    record.extend_from_slice(&child.hash());
                }
            }
            InodeV::Tree {
                depth,
                length,
                children,
            } => {
                record.push(3);
                record.extend_from_slice(&depth.to_be_bytes());
                record.extend_from_slice(&length.to_be_bytes());
                let present =
                    u8::from(children[0].is_some()) | u8::from(children[1].is_some()) << 1;
                record.push(present);
                for child in children.iter().flatten() {
                    self.inode(child)?;
                    record.extend_from_slice(&child.hash());
                }
            }
            InodeV::Blinded(h) => return Err(SaveError::Blinded(**h)),
        }
        self.write(&k, &record)
    }
}

/// The keys of the records `record` refers to (its entries or children), for walking a store
/// without building trees, e.g. to find the records no kept state needs. `None` if the record
/// does not decode.
pub fn children(record: &[u8]) -> Option<Vec<RecordKey>> {
    let mut r = Cursor(record);
    let mut out = Vec::new();
    match r.u8()? {
        0 => return Some(out),
        1 => out.push(inode_key(&r.hash()?)),
        2 => {
            for _ in 0..r.u8()? {
                let len = r.u32()?;
                r.bytes(len as usize)?;
                r.u8()?;
                out.push(node_key(&r.hash()?));
            }
        }
        3 => {
            r.bytes(12)?;
            let present = r.u8()?;
            for i in 0..2 {
                if present & (1 << i) != 0 {
                    out.push(inode_key(&r.hash()?));
                }
            }
        }
        _ => return None,
    }
    r.0.is_empty().then_some(out)
}

/// Why a tree could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError<E> {
    /// A record the tree needs is not in the store.
    #[error("record {} is missing from the store", hex::encode(.0))]
    Missing(RecordKey),
    /// A record does not decode, or decodes to content of another hash.
    #[error("record {}: {reason}", hex::encode(.key))]
    Corrupt {
        /// Its key.
        key: RecordKey,
        /// What is wrong with it.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(E),
}

/// Rebuilds trees from a store, sharing the nodes of every tree it loaded.
pub struct Loader<'a, E> {
    get: GetFn<'a, E>,
    nodes: BTreeMap<Hash, Tree>,
    inodes: BTreeMap<Hash, Inode>,
}

impl<'a, E> Loader<'a, E> {
    /// A loader reading records with `get`.
    pub fn new(get: GetFn<'a, E>) -> Self {
        Loader {
            get,
            nodes: BTreeMap::new(),
            inodes: BTreeMap::new(),
        }
    }

    /// The tree whose root hash is `root`, every record checked against its hash.
    pub fn load(&mut self, root: &Hash) -> Result<Tree, LoadError<E>> {
        self.node(root)
    }

    fn fetch(&mut self, k: &RecordKey) -> Result<Vec<u8>, LoadError<E>> {
        (self.get)(k)
            .map_err(LoadError::Store)?
            .ok_or(LoadError::Missing(*k))
    }

    fn node(&mut self, hash: &Hash) -> Result<Tree, LoadError<E>> {
        if let Some(t) = self.nodes.get(hash) {
            return Ok(t.clone());
        }
        let k = node_key(hash);
        let record = self.fetch(&k)?;
        let corrupt = |reason: &str| LoadError::Corrupt {
            key: k,
            reason: reason.into(),
        };
        let tree = match record.split_first() {
            Some((0, rest)) if rest.len() >= 8 => {
                let (len, head) = rest.split_at(8);
                let len = u64::from_be_bytes(len.try_into().expect("8 bytes"));
                if len > MAX_VALUE_LEN || (head.len() as u64) > len {
                    return Err(corrupt("value length out of range"));
                }
                // One encoding per value: all its bytes, or those before a long zero tail.
                let tail = len - head.len() as u64;
                if tail != 0 && (head.last() == Some(&0) || tail < MIN_ZERO_TAIL as u64) {
                    return Err(corrupt("value not in its canonical form"));
                }
                Tree::from_v(NodeV::Value(ValueBytes::from_parts(head, len as usize)))
            }
            Some((1, rest)) => {
                let h: Hash = rest
                    .try_into()
                    .map_err(|_| corrupt("a directory record holds one 32-byte hash"))?;
                Tree::dir(self.inode(&h, None)?)
            }
            _ => return Err(corrupt("not a value or directory record")),
        };
        if tree.hash() != *hash {
            return Err(corrupt("its content has another hash"));
        }
        self.nodes.insert(*hash, tree.clone());
        Ok(tree)
    }

    /// The inode with `hash`; `depth` is the trie depth its parent expects (`None` for a root).
    fn inode(&mut self, hash: &Hash, depth: Option<u32>) -> Result<Inode, LoadError<E>> {
        if let Some(i) = self.inodes.get(hash) {
            return Ok(i.clone());
        }
        let k = inode_key(hash);
        let record = self.fetch(&k)?;
        let corrupt = |reason: &str| LoadError::Corrupt {
            key: k,
            reason: reason.into(),
        };
        let mut r = Cursor(&record);
        let inode = match r.u8() {
            Some(2) => {
                let n = r.u8().ok_or_else(|| corrupt("truncated bucket"))?;
                if usize::from(n) > ENTRIES {
                    return Err(corrupt("a bucket holds at most 2 entries"));
                }
                let mut entries: Vec<Entry> = Vec::with_capacity(usize::from(n));
                for _ in 0..n {
                    let len = r.u32().ok_or_else(|| corrupt("truncated entry"))?;
                    let step = r
                        .bytes(len as usize)
                        .ok_or_else(|| corrupt("truncated step"))?;
                    let kind = r.u8().ok_or_else(|| corrupt("truncated entry"))?;
                    let h = r.hash().ok_or_else(|| corrupt("truncated entry"))?;
                    if entries.last().is_some_and(|(s, _)| &s[..] >= step) {
                        return Err(corrupt("bucket entries out of order"));
                    }
                    let child = self.node(&h)?;
                    let expected = if kind == 0 {
                        EntryKind::Contents
                    } else {
                        EntryKind::Node
                    };
                    if kind > 1 || child.entry_kind() != expected {
                        return Err(corrupt("entry kind disagrees with its node"));
                    }
                    entries.push((Step::new(step), child));
                }
                Inode::from_v(InodeV::Values(entries))
            }
            Some(3) => {
                let d = r.u32().ok_or_else(|| corrupt("truncated trie"))?;
                let length = r.u64().ok_or_else(|| corrupt("truncated trie"))?;
                let present = r.u8().ok_or_else(|| corrupt("truncated trie"))?;
                if depth.is_some_and(|e| e != d) || (depth.is_none() && d != 0) || present > 3 {
                    return Err(corrupt("trie depth or children out of shape"));
                }
                let mut children: [Option<Inode>; 2] = [None, None];
                let mut below = 0u64;
                for (i, slot) in children.iter_mut().enumerate() {
                    if present & (1 << i) != 0 {
                        let h = r.hash().ok_or_else(|| corrupt("truncated trie"))?;
                        let child = self.inode(&h, Some(d + 1))?;
                        below += child.length().unwrap_or(0);
                        *slot = Some(child);
                    }
                }
                if below != length || length <= ENTRIES as u64 {
                    return Err(corrupt("trie length disagrees with its children"));
                }
                Inode::from_v(InodeV::Tree {
                    depth: d,
                    length,
                    children,
                })
            }
            _ => return Err(corrupt("not an inode record")),
        };
        if !r.0.is_empty() {
            return Err(corrupt("trailing bytes"));
        }
        if inode.hash() != *hash {
            return Err(corrupt("its content has another hash"));
        }
        self.inodes.insert(*hash, inode.clone());
        Ok(inode)
    }
}

/// A reader over a record's bytes (`None` when they run out).
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.bytes(4)
            .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Option<u64> {
        self.bytes(8)
            .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }
    fn hash(&mut self) -> Option<Hash> {
        self.bytes(32).map(|b| b.try_into().expect("32 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use alloc::format;

    type Db = BTreeMap<RecordKey, Vec<u8>>;

    fn save_into(db: &mut Db, t: &Tree) -> SaveStats {
        let cell = core::cell::RefCell::new(db);
        save::<()>(
            t,
            &mut |k| Ok(cell.borrow().contains_key(k)),
            &mut |k, v| {
                cell.borrow_mut().insert(*k, v.to_vec());
                Ok(())
            },
        )
        .unwrap()
    }

    fn load_from(db: &Db, root: &Hash) -> Result<Tree, LoadError<()>> {
        let mut get = |k: &RecordKey| Ok(db.get(k).cloned());
        Loader::new(&mut get).load(root)
    }

    fn sample(n: usize) -> Tree {
        let mut t = Tree::empty();
        for i in 0..n {
            let k = format!("k{i}");
            t.set_value(
                &[b"durable", k.as_bytes(), b"@"],
                format!("v{i}").as_bytes(),
            )
            .unwrap();
        }
        let mut chunk = [0u8; 512];
        chunk[0] = 7;
        t.set_value(&[b"chunk"], &chunk).unwrap();
        t.set_value(&[b"empty"], b"").unwrap();
        t
    }

    #[test]
    fn trees_round_trip_with_their_hashes() {
        for n in [0, 1, 2, 3, 40, 300] {
            let t = sample(n);
            let mut db = Db::new();
            save_into(&mut db, &t);
            let back = load_from(&db, &t.hash()).unwrap();
            assert_eq!(back.hash(), t.hash(), "{n} entries");
            assert_eq!(back.value(&[b"chunk"]).unwrap().unwrap()[0], 7);
            assert_eq!(back.len(&[b"durable"]).unwrap(), n);
        }
    }

    #[test]
    fn a_second_version_writes_only_what_changed() {
        let mut db = Db::new();
        let t = sample(300);
        let first = save_into(&mut db, &t);
        let mut t2 = t.clone();
        t2.set_value(&[b"durable", b"k5", b"@"], b"changed")
            .unwrap();
        let second = save_into(&mut db, &t2);
        assert!(
            second.records * 10 < first.records,
            "{second:?} vs {first:?}"
        );
        assert_eq!(save_into(&mut db, &t2), SaveStats::default());
        assert_eq!(load_from(&db, &t.hash()).unwrap().hash(), t.hash());
        assert_eq!(load_from(&db, &t2.hash()).unwrap().hash(), t2.hash());
    }

    #[test]
    fn damage_is_named_not_loaded() {
        let t = sample(40);
        let mut db = Db::new();
        save_into(&mut db, &t);
        // A missing record.
        let victim = *db.keys().find(|k| k[0] == b'i').unwrap();
        let mut missing = db.clone();
        missing.remove(&victim);
        assert!(matches!(
            load_from(&missing, &t.hash()),
            Err(LoadError::Missing(k)) if k == victim
        ));
        // A flipped byte anywhere in any record is caught.
        for (k, v) in &db {
            for i in 0..v.len() {
                let mut bad = db.clone();
                bad.get_mut(k).unwrap()[i] ^= 0x40;
                assert!(load_from(&bad, &t.hash()).is_err(), "byte {i} of {k:?}");
            }
            let mut longer = db.clone();
            longer.get_mut(k).unwrap().push(0);
            assert!(load_from(&longer, &t.hash()).is_err());
        }
    }

    #[test]
    fn children_name_every_record_a_tree_needs() {
        let t = sample(40);
        let mut db = Db::new();
        save_into(&mut db, &t);
        let mut seen = alloc::collections::BTreeSet::new();
        let mut todo = alloc::vec![node_key(&t.hash())];
        while let Some(k) = todo.pop() {
            if seen.insert(k) {
                todo.extend(children(&db[&k]).unwrap());
            }
        }
        assert_eq!(seen.len(), db.len());
        assert_eq!(children(&[9]), None);
    }

    #[test]
    fn proof_trees_are_refused() {
        let mut t = Tree::empty();
        t.set_subtree(&[b"x"], Tree::blinded_value([3; 32]))
            .unwrap();
        let mut db = Db::new();
        let cell = core::cell::RefCell::new(&mut db);
        let r = save::<()>(
            &t,
            &mut |k| Ok(cell.borrow().contains_key(k)),
            &mut |k, v| {
                cell.borrow_mut().insert(*k, v.to_vec());
                Ok(())
            },
        );
        assert!(matches!(r, Err(SaveError::Blinded(h)) if h == [3; 32]));
    }
}
