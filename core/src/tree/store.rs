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
//! needed because a large directory's hash is the hash of its root inode. A record is a node's
//! or an inode's encoding:
//!
//! | encoding  | bytes                                                                    |
//! |-----------|--------------------------------------------------------------------------|
//! | value     | `0x00`, length (u64 BE), the bytes before the value's zero tail          |
//! | directory | `0x01`, its root inode's reference                                       |
//! | bucket    | `0x02`, count (u8, at most 2), per entry: step length (u32 BE), step, kind (`0` value, `1` directory), the node's reference |
//! | trie      | `0x03`, depth (u32 BE), entries below (u64 BE), children present (bit 0, bit 1), their references |
//!
//! A reference is `0x00` and a hash (the child is a record of its own) or `0x01`, a length
//! (u32 BE) and the child's encoding inline. A child whose encoding with everything below it
//! inline takes at most [`INLINE_MAX`] bytes is written inline, found without asking the store;
//! a larger one is referenced by hash if the store holds it, otherwise encoded (its large parts
//! as records) and written inline if that is small, as a record if not: most of a state's
//! nodes are small (an outbox message, a durable value's `@/length`, the buckets and low trie
//! levels of a directory), so a level's changes are a few records, not one per node, and
//! saving them asks the store about the few large nodes only.
//! An inline child is checked through its parent's hash, a record against its key.
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
pub const FORMAT_VERSION: u8 = 2;

/// Largest encoding written inline in its parent's record (see the module documentation).
pub const INLINE_MAX: usize = 1024;

/// Fewest bytes one directory entry takes in an inline encoding: step length (4), an empty
/// step, kind (1), the inline reference's header (5) and the smallest node under it (an empty
/// directory, 1 + 5 + 2; a value is 9).
const MIN_INLINE_ENTRY: u64 = 4 + 1 + 5 + 8;

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

    fn has(&mut self, k: &RecordKey) -> Result<bool, SaveError<E>> {
        (self.has)(k).map_err(SaveError::Store)
    }

    /// Saves `tree` as a record of its own (the root of a saved tree).
    fn node(&mut self, tree: &Tree) -> Result<(), SaveError<E>> {
        let k = node_key(&tree.hash());
        if self.has(&k)? {
            return Ok(());
        }
        let mut record = Vec::new();
        self.encode_node(tree, &mut record)?;
        self.write(&k, &record)
    }

    fn encode_node(&mut self, tree: &Tree, out: &mut Vec<u8>) -> Result<(), SaveError<E>> {
        match &tree.0.v {
            NodeV::Value(bytes) => {
                let (head, len) = bytes.parts();
                out.push(0);
                out.extend_from_slice(&(len as u64).to_be_bytes());
                out.extend_from_slice(head);
            }
            NodeV::Dir(inode) => {
                out.push(1);
                // A root tree's inode hash is the directory's (cached); a root bucket's is not.
                let hash = || match inode {
                    InodeV::Values(_) => inode.hash(),
                    _ => tree.hash(),
                };
                self.inode_v_ref(inode, hash, out)?;
            }
            NodeV::BlindedValue(h) | NodeV::BlindedDir(h) => return Err(SaveError::Blinded(*h)),
        }
        Ok(())
    }

    fn encode_inode(&mut self, inode: &InodeV, out: &mut Vec<u8>) -> Result<(), SaveError<E>> {
        match inode {
            InodeV::Values(entries) => {
                out.push(2);
                out.push(entries.len() as u8);
                for (step, child) in entries {
                    out.extend_from_slice(&(step.len() as u32).to_be_bytes());
                    out.extend_from_slice(step);
                    out.push(match child.entry_kind() {
                        EntryKind::Contents => 0,
                        EntryKind::Node => 1,
                    });
                    self.node_ref(child, out)?;
                }
            }
            InodeV::Tree {
                depth,
                length,
                children,
            } => {
                out.push(3);
                out.extend_from_slice(&depth.to_be_bytes());
                out.extend_from_slice(&length.to_be_bytes());
                let present =
                    u8::from(children[0].is_some()) | u8::from(children[1].is_some()) << 1;
                out.push(present);
                for child in children.iter().flatten() {
                    self.inode_ref(child, out)?;
                }
            }
            InodeV::Blinded(h) => return Err(SaveError::Blinded(**h)),
        }
        Ok(())
    }

    /// Appends a reference to `child`: inline when its encoding with everything below it
    /// inline is small (found without asking the store: most of a level's changed nodes are
    /// new, and a store lookup for each was most of the cost of saving), otherwise by hash
    /// (the child saved as a record first if the store lacks it).
    fn node_ref(&mut self, child: &Tree, out: &mut Vec<u8>) -> Result<(), SaveError<E>> {
        if inline_node(child, out) {
            return Ok(());
        }
        let k = node_key(&child.hash());
        if self.has(&k)? {
            out.push(0);
            out.extend_from_slice(&k[1..]);
            return Ok(());
        }
        let mut enc = Vec::new();
        self.encode_node(child, &mut enc)?;
        self.reference(k, &enc, out)
    }

    fn inode_ref(&mut self, child: &Inode, out: &mut Vec<u8>) -> Result<(), SaveError<E>> {
        self.inode_v_ref(child.v(), || child.hash(), out)
    }

    /// [`Saver::inode_ref`] for an inode's content, whose inode hash `hash` gives.
    fn inode_v_ref(
        &mut self,
        child: &InodeV,
        hash: impl FnOnce() -> Hash,
        out: &mut Vec<u8>,
    ) -> Result<(), SaveError<E>> {
        if inline_inode(child, out) {
            return Ok(());
        }
        let k = inode_key(&hash());
        if self.has(&k)? {
            out.push(0);
            out.extend_from_slice(&k[1..]);
            return Ok(());
        }
        let mut enc = Vec::new();
        self.encode_inode(child, &mut enc)?;
        self.reference(k, &enc, out)
    }

    /// Appends the reference to a child encoded as `enc`, writing it as record `k` if large.
    fn reference(
        &mut self,
        k: RecordKey,
        enc: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SaveError<E>> {
        if enc.len() <= INLINE_MAX {
            out.push(1);
            out.extend_from_slice(&(enc.len() as u32).to_be_bytes());
            out.extend_from_slice(enc);
        } else {
            self.write(&k, enc)?;
            out.push(0);
            out.extend_from_slice(&k[1..]);
        }
        Ok(())
    }
}

/// Appends an inline reference to `tree` with everything below it inline, if its encoding
/// takes at most [`INLINE_MAX`] bytes; otherwise leaves `out` as it was and returns false.
/// Stops as soon as the encoding is too large, so a large subtree costs about `INLINE_MAX`
/// bytes of work; a blinded part is never inline (saving it fails later, by its hash).
fn inline_node(tree: &Tree, out: &mut Vec<u8>) -> bool {
    inline_node_within(tree, out, usize::MAX)
}

/// [`inline_node`] for an inode.
fn inline_inode(inode: &InodeV, out: &mut Vec<u8>) -> bool {
    inline_inode_within(inode, out, usize::MAX)
}

/// [`inline_node`], with `out` also kept at most `end` bytes long (an enclosing inline
/// encoding's bound).
fn inline_node_within(tree: &Tree, out: &mut Vec<u8>, end: usize) -> bool {
    inline_with(out, end, |enc, end| match &tree.0.v {
        NodeV::Value(bytes) => {
            let (head, len) = bytes.parts();
            if enc.len() + 9 + head.len() > end {
                return false;
            }
            enc.push(0);
            enc.extend_from_slice(&(len as u64).to_be_bytes());
            enc.extend_from_slice(head);
            true
        }
        NodeV::Dir(inode) => {
            enc.push(1);
            inline_inode_within(inode, enc, end)
        }
        NodeV::BlindedValue(_) | NodeV::BlindedDir(_) => false,
    })
}

fn inline_inode_within(inode: &InodeV, out: &mut Vec<u8>, end: usize) -> bool {
    // A trie with too many entries below it for [`INLINE_MAX`] is refused without encoding
    // anything: saving a level meets the large unchanged siblings of every changed path, and
    // encoding each of them up to the bound was most of the cost of saving.
    if let InodeV::Tree { length, .. } = inode {
        if length.saturating_mul(MIN_INLINE_ENTRY) > INLINE_MAX as u64 {
            return false;
        }
    }
    inline_with(out, end, |enc, end| match inode {
        InodeV::Values(entries) => {
            enc.push(2);
            enc.push(entries.len() as u8);
            entries.iter().all(|(step, child)| {
                if enc.len() + 5 + step.len() > end {
                    return false;
                }
                enc.extend_from_slice(&(step.len() as u32).to_be_bytes());
                enc.extend_from_slice(step);
                enc.push(match child.entry_kind() {
                    EntryKind::Contents => 0,
                    EntryKind::Node => 1,
                });
                inline_node_within(child, enc, end)
            })
        }
        InodeV::Tree {
            depth,
            length,
            children,
        } => {
            enc.push(3);
            enc.extend_from_slice(&depth.to_be_bytes());
            enc.extend_from_slice(&length.to_be_bytes());
            enc.push(u8::from(children[0].is_some()) | u8::from(children[1].is_some()) << 1);
            children
                .iter()
                .flatten()
                .all(|child| inline_inode_within(child.v(), enc, end))
        }
        InodeV::Blinded(_) => false,
    })
}

/// Appends `0x01`, a length and what `encode` writes, if that encoding takes at most
/// [`INLINE_MAX`] bytes and `out` stays within `end`; otherwise truncates `out` back and
/// returns false. `encode` gets the bound it must keep `out` within.
fn inline_with(
    out: &mut Vec<u8>,
    end: usize,
    encode: impl FnOnce(&mut Vec<u8>, usize) -> bool,
) -> bool {
    let start = out.len();
    let end = end.min(start + 5 + INLINE_MAX);
    out.push(1);
    out.extend_from_slice(&[0; 4]);
    if encode(out, end) && out.len() <= end {
        let len = (out.len() - start - 5) as u32;
        out[start + 1..start + 5].copy_from_slice(&len.to_be_bytes());
        true
    } else {
        out.truncate(start);
        false
    }
}

/// The keys of the records `record` refers to (its children stored as records of their own,
/// through any inline ones), for walking a store without building trees, e.g. to find the
/// records no kept state needs. `None` if the record does not decode.
pub fn children(record: &[u8]) -> Option<Vec<RecordKey>> {
    let mut out = Vec::new();
    skim(record, &mut out)?;
    Some(out)
}

/// Walks one encoding (all of `bytes`), collecting the keys of the records it refers to.
fn skim(bytes: &[u8], out: &mut Vec<RecordKey>) -> Option<()> {
    let mut r = Cursor(bytes);
    match r.u8()? {
        0 => {
            r.bytes(8)?;
            return Some(());
        }
        1 => skim_ref(&mut r, b'i', out)?,
        2 => {
            for _ in 0..r.u8()? {
                let len = r.u32()?;
                r.bytes(len as usize)?;
                r.u8()?;
                skim_ref(&mut r, b'n', out)?;
            }
        }
        3 => {
            r.bytes(12)?;
            let present = r.u8()?;
            for i in 0..2 {
                if present & (1 << i) != 0 {
                    skim_ref(&mut r, b'i', out)?;
                }
            }
        }
        _ => return None,
    }
    r.0.is_empty().then_some(())
}

fn skim_ref(r: &mut Cursor<'_>, space: u8, out: &mut Vec<RecordKey>) -> Option<()> {
    match r.u8()? {
        0 => out.push(key(space, &r.hash()?)),
        1 => {
            let len = r.u32()?;
            skim(r.bytes(len as usize)?, out)?;
        }
        _ => return None,
    }
    Some(())
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
        let tree = self.decode_node(&record, &k)?;
        if tree.hash() != *hash {
            return Err(corrupt(&k, "its content has another hash"));
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
        let inode = self.decode_inode(&record, depth, &k)?;
        if inode.hash() != *hash {
            return Err(corrupt(&k, "its content has another hash"));
        }
        self.inodes.insert(*hash, inode.clone());
        Ok(inode)
    }

    /// A node from its whole encoding `bytes`, found in record `k` (named in errors).
    fn decode_node(&mut self, bytes: &[u8], k: &RecordKey) -> Result<Tree, LoadError<E>> {
        let mut r = Cursor(bytes);
        let tree = match r.u8() {
            Some(0) => {
                let len = r.u64().ok_or_else(|| corrupt(k, "truncated value"))?;
                let head = r.rest();
                if len > MAX_VALUE_LEN || (head.len() as u64) > len {
                    return Err(corrupt(k, "value length out of range"));
                }
                // One encoding per value: all its bytes, or those before a long zero tail.
                let tail = len - head.len() as u64;
                if tail != 0 && (head.last() == Some(&0) || tail < MIN_ZERO_TAIL as u64) {
                    return Err(corrupt(k, "value not in its canonical form"));
                }
                Tree::from_v(NodeV::Value(ValueBytes::from_parts(head, len as usize)))
            }
            Some(1) => Tree::dir(self.inode_ref(&mut r, None, k)?.into_v()),
            _ => return Err(corrupt(k, "not a value or directory")),
        };
        if !r.0.is_empty() {
            return Err(corrupt(k, "trailing bytes"));
        }
        Ok(tree)
    }

    /// An inode from its whole encoding `bytes` (see [`Loader::inode`] for `depth`).
    fn decode_inode(
        &mut self,
        bytes: &[u8],
        depth: Option<u32>,
        k: &RecordKey,
    ) -> Result<Inode, LoadError<E>> {
        let mut r = Cursor(bytes);
        let inode = match r.u8() {
            Some(2) => {
                let n = r.u8().ok_or_else(|| corrupt(k, "truncated bucket"))?;
                if usize::from(n) > ENTRIES {
                    return Err(corrupt(k, "a bucket holds at most 2 entries"));
                }
                let mut entries: Vec<Entry> = Vec::with_capacity(usize::from(n));
                for _ in 0..n {
                    let len = r.u32().ok_or_else(|| corrupt(k, "truncated entry"))?;
                    let step = r
                        .bytes(len as usize)
                        .ok_or_else(|| corrupt(k, "truncated step"))?;
                    let kind = r.u8().ok_or_else(|| corrupt(k, "truncated entry"))?;
                    if entries.last().is_some_and(|(s, _)| &s[..] >= step) {
                        return Err(corrupt(k, "bucket entries out of order"));
                    }
                    let child = self.node_ref(&mut r, k)?;
                    let expected = if kind == 0 {
                        EntryKind::Contents
                    } else {
                        EntryKind::Node
                    };
                    if kind > 1 || child.entry_kind() != expected {
                        return Err(corrupt(k, "entry kind disagrees with its node"));
                    }
                    entries.push((Step::new(step), child));
                }
                Inode::from_v(InodeV::Values(entries.into()))
            }
            Some(3) => {
                let d = r.u32().ok_or_else(|| corrupt(k, "truncated trie"))?;
                let length = r.u64().ok_or_else(|| corrupt(k, "truncated trie"))?;
                let present = r.u8().ok_or_else(|| corrupt(k, "truncated trie"))?;
                if depth.is_some_and(|e| e != d) || (depth.is_none() && d != 0) || present > 3 {
                    return Err(corrupt(k, "trie depth or children out of shape"));
                }
                let mut children: [Option<Inode>; 2] = [None, None];
                let mut below = 0u64;
                for (i, slot) in children.iter_mut().enumerate() {
                    if present & (1 << i) != 0 {
                        let child = self.inode_ref(&mut r, Some(d + 1), k)?;
                        below += child.length().unwrap_or(0);
                        *slot = Some(child);
                    }
                }
                if below != length || length <= ENTRIES as u64 {
                    return Err(corrupt(k, "trie length disagrees with its children"));
                }
                Inode::from_v(InodeV::Tree {
                    depth: d,
                    length,
                    children,
                })
            }
            _ => return Err(corrupt(k, "not an inode")),
        };
        if !r.0.is_empty() {
            return Err(corrupt(k, "trailing bytes"));
        }
        Ok(inode)
    }

    /// A node reference read from `r`: a record of its own or an inline encoding.
    fn node_ref(&mut self, r: &mut Cursor<'_>, k: &RecordKey) -> Result<Tree, LoadError<E>> {
        match r.u8() {
            Some(0) => {
                let h = r.hash().ok_or_else(|| corrupt(k, "truncated reference"))?;
                self.node(&h)
            }
            Some(1) => {
                let bytes = r
                    .inline()
                    .ok_or_else(|| corrupt(k, "truncated inline node"))?;
                self.decode_node(bytes, k)
            }
            _ => Err(corrupt(k, "not a reference")),
        }
    }

    /// An inode reference read from `r` (see [`Loader::inode`] for `depth`).
    fn inode_ref(
        &mut self,
        r: &mut Cursor<'_>,
        depth: Option<u32>,
        k: &RecordKey,
    ) -> Result<Inode, LoadError<E>> {
        match r.u8() {
            Some(0) => {
                let h = r.hash().ok_or_else(|| corrupt(k, "truncated reference"))?;
                self.inode(&h, depth)
            }
            Some(1) => {
                let bytes = r
                    .inline()
                    .ok_or_else(|| corrupt(k, "truncated inline inode"))?;
                self.decode_inode(bytes, depth, k)
            }
            _ => Err(corrupt(k, "not a reference")),
        }
    }
}

fn corrupt<E>(k: &RecordKey, reason: &str) -> LoadError<E> {
    LoadError::Corrupt {
        key: *k,
        reason: reason.into(),
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
    /// A length-prefixed (u32 BE) inline encoding.
    fn inline(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()?;
        self.bytes(len as usize)
    }
    fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.0)
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
        assert!(second.bytes * 5 < first.bytes, "{second:?} vs {first:?}");
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

    #[test]
    fn small_nodes_are_inline_and_large_ones_records() {
        let mut t = sample(300);
        let big: Vec<u8> = (0..INLINE_MAX as u32 + 10).map(|i| i as u8 | 1).collect();
        t.set_value(&[b"big"], &big).unwrap();
        let mut db = Db::new();
        let stats = save_into(&mut db, &t);
        // 300 keys are more than 2,000 nodes and inodes; a few dozen records hold them.
        assert!(stats.records < 40, "{stats:?}");
        assert!(db.values().all(|r| r.len() <= 2 * INLINE_MAX + 100));
        let big_key = node_key(&t.subtree(&[b"big"]).unwrap().unwrap().hash());
        assert_eq!(db[&big_key][0], 0, "the large value is a record of its own");
        let back = load_from(&db, &t.hash()).unwrap();
        assert_eq!(back.value(&[b"big"]).unwrap().unwrap(), &big[..]);
        assert_eq!(
            back.value(&[b"durable", b"k299", b"@"]).unwrap().unwrap(),
            b"v299"
        );
    }

    /// Saves `t` into `db`, returning how many times the store was asked whether it holds a
    /// record and the save's stats.
    fn save_counting(db: &mut Db, t: &Tree) -> (usize, SaveStats) {
        let cell = core::cell::RefCell::new(db);
        let mut asked = 0;
        let stats = save::<()>(
            t,
            &mut |k| {
                asked += 1;
                Ok(cell.borrow().contains_key(k))
            },
            &mut |k, v| {
                cell.borrow_mut().insert(*k, v.to_vec());
                Ok(())
            },
        )
        .unwrap();
        (asked, stats)
    }

    #[test]
    fn only_children_too_large_to_be_inline_are_looked_up() {
        // Everything of a small tree is inline in its root's record: one lookup, the root's.
        let mut db = Db::new();
        let small = sample(3);
        let (asked, stats) = save_counting(&mut db, &small);
        assert_eq!((asked, stats.records), (1, 1));
        // A change deep in a large tree: lookups for the record-sized nodes on its path and
        // their record-sized siblings, not for every node the new records hold inline.
        let mut db = Db::new();
        let t = sample(300);
        save_into(&mut db, &t);
        let mut t2 = t.clone();
        t2.set_value(&[b"durable", b"k5", b"@"], b"changed")
            .unwrap();
        let (asked, stats) = save_counting(&mut db, &t2);
        // (26 lookups for 3 records; one per node below the changed directories was 124.)
        assert!(
            asked <= 10 * stats.records as usize,
            "{asked} lookups for {stats:?}"
        );
        assert_eq!(load_from(&db, &t2.hash()).unwrap().hash(), t2.hash());
    }
}
