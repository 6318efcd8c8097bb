//! Merkle proofs of tree operations, in irmin's (octez's) proof model.
//!
//! A [`Proof`] holds the part of a tree an operation reads (everything else *blinded*: replaced
//! by its hash) plus the root hashes before and after the operation.
//!
//! * [`produce`] runs an operation against a [`Recorder`] (a view of the tree that remembers
//!   every node and inode the operation reads) and builds the smallest proof of those reads,
//!   shaped as irmin shapes them (stable root nodes in full, inodes with blinded siblings,
//!   extenders for chains of single-child inodes).
//! * [`verify`] rebuilds the partial tree, checks its root hash equals `before`, runs the same
//!   operation on it (reading a blinded part fails with [`TreeError::Blinded`]) and checks the
//!   resulting hash equals `after`.
//! * [`super::codec`] reads and writes proofs as `Merkle_proof_encoding.V2.Tree2` bytes.
//!
//! Write operations once, generic over [`TreeAccess`], to run them both ways.
//!
//! ```
//! use soru_core::tree::proof::{self, TreeAccess};
//! use soru_core::tree::{codec, Tree};
//!
//! let mut t = Tree::empty();
//! for i in 0..100u32 {
//!     t.set_value(&[b"kv", i.to_string().as_bytes()], &i.to_be_bytes())?;
//! }
//! // Prove a read (a write works the same way; `after` then differs from `before`).
//! let (p, v) = proof::produce(&t, |r| r.value(&[b"kv", b"42"]))?;
//! let bytes = codec::encode(&p)?;
//! assert!(bytes.len() < 600);
//! // Anyone holding only `bytes` and the root hash can check it.
//! let p = codec::decode(&bytes)?;
//! assert_eq!(*p.before.hash(), t.hash());
//! let (_, v2) = proof::verify(&p, |t| TreeAccess::value(t, &[b"kv", b"42"]))?;
//! assert_eq!(v, v2);
//! // Reading anything else fails: it was blinded.
//! assert!(proof::verify(&p, |t| TreeAccess::value(t, &[b"kv", b"7"])).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::vec;
use alloc::vec::Vec;

use super::hash::{self, EntryKind};
use super::inode::{Inode, InodeV, ENTRIES, MAX_DEPTH};
use super::node::{NodeV, Observer};
use super::{BlindedKind, Hash, Kind, Tree, TreeError};

/// A root hash together with the kind of the root (octez `kinded_hash`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum KindedHash {
    /// The root is a value.
    Value(Hash),
    /// The root is a directory.
    Node(Hash),
}

/// `Node([18, 52, ..])`, the derived form (which `ProofError::KindMismatch` prints), written by
/// hand: the derived one brings `core`'s list and padding formatters, about 800 bytes of the
/// npm package's gzipped proof entry.
impl core::fmt::Debug for KindedHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (kind, hash) = match self {
            KindedHash::Value(h) => ("Value([", h),
            KindedHash::Node(h) => ("Node([", h),
        };
        f.write_str(kind)?;
        for (i, b) in hash.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            core::fmt::Display::fmt(&u32::from(*b), f)?;
        }
        f.write_str("])")
    }
}

impl KindedHash {
    /// The hash, whatever the kind.
    pub fn hash(&self) -> &Hash {
        match self {
            KindedHash::Value(h) | KindedHash::Node(h) => h,
        }
    }

    /// The kinded hash of a tree.
    pub fn of_tree(t: &Tree) -> KindedHash {
        match super::kind_of(t) {
            Kind::Value => KindedHash::Value(t.hash()),
            Kind::Directory => KindedHash::Node(t.hash()),
        }
    }
}

/// A tree proof: octez `Proof_types.t` with a `tree` state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// Proof format version; 2 for binary-tree tree proofs.
    pub version: u16,
    /// Root before the operation.
    pub before: KindedHash,
    /// Root after the operation.
    pub after: KindedHash,
    /// The partial tree (the state before the operation).
    pub state: ProofTree,
}

/// A node of a proof tree (octez `Proof_types.tree`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProofTree {
    /// A value in full.
    Value(Vec<u8>),
    /// A value known by its hash only.
    BlindedValue(Hash),
    /// A directory listed in full (irmin does this for directories of at most 2 entries).
    Node(Vec<(Vec<u8>, ProofTree)>),
    /// A directory known by its hash only.
    BlindedNode(Hash),
    /// A large directory given by its root inode.
    Inode(InodeProof),
    /// A large directory whose root inode starts a chain of single-child inodes.
    Extender(Extender),
}

/// A position inside a large directory's inode trie (octez `Proof_types.inode_tree`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InodeTree {
    /// An inode known by its hash only.
    Blinded(Hash),
    /// A bucket of at most 2 entries.
    Values(Vec<(Vec<u8>, ProofTree)>),
    /// A trie level.
    Tree(InodeProof),
    /// A chain of single-child trie levels.
    Extender(Extender),
}

/// A trie level: its total number of entries and its two child slots (`None`: no child).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InodeProof {
    /// Entries below this level.
    pub length: u64,
    /// Children for bit 0 and bit 1.
    pub children: [Option<Box<InodeTree>>; 2],
}

/// `segment.len()` nested single-child trie levels, all of `length` entries; level `i` has its
/// only child at index `segment[i]`, the last one's child is `proof`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extender {
    /// Entries below each level of the chain.
    pub length: u64,
    /// The child index taken at each level.
    pub segment: Segment,
    /// What hangs below the chain.
    pub proof: Box<InodeTree>,
}

/// A non-empty sequence of child indices (bits), as in octez `segment_encoding_2`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment(Vec<u8>);

impl Segment {
    /// A segment of indices, each 0 or 1; `None` if empty, too long (> 2032) or not bits.
    pub fn new(bits: Vec<u8>) -> Option<Segment> {
        (!bits.is_empty() && bits.len() <= 2032 && bits.iter().all(|&b| b <= 1))
            .then_some(Segment(bits))
    }

    /// The indices.
    pub fn bits(&self) -> &[u8] {
        &self.0
    }

    /// Bits MSB-first, then a 1 bit, then zero padding (`None` if malformed or empty).
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Segment> {
        let last = *bytes.last()?;
        if last == 0 {
            return None;
        }
        let n = bytes.len() * 8 - (last.trailing_zeros() as usize + 1);
        let mut bits = Vec::with_capacity(n);
        for (i, byte) in bytes.iter().enumerate() {
            for j in 0..8.min(n - i * 8) {
                bits.push((byte >> (7 - j)) & 1);
            }
        }
        Segment::new(bits)
    }

    pub(crate) fn to_bytes(&self) -> Option<Vec<u8>> {
        let n = self.0.len();
        let mut out = vec![0u8; n / 8 + 1];
        if out.len() > 255 || n == 0 {
            return None;
        }
        for (i, b) in self.0.iter().enumerate() {
            out[i / 8] |= b << (7 - i % 8);
        }
        out[n / 8] |= 1 << (7 - n % 8);
        Some(out)
    }
}

/// Why a proof was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The proof tree's shape breaks irmin's invariants.
    #[error("ill-formed proof tree at {path}: {reason}")]
    IllFormed {
        /// Where (directory path; inode levels are not named).
        path: alloc::string::String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The proof tree does not hash to the `before` hash it claims.
    #[error("proof tree hashes to {} but the proof claims before = {}", hex::encode(.computed), hex::encode(.claimed))]
    BeforeMismatch {
        /// Recomputed root hash.
        computed: Hash,
        /// The proof's `before`.
        claimed: Hash,
    },
    /// After running the operation the root hash is not the claimed `after`.
    #[error("after the operation the tree hashes to {} but the proof claims after = {}", hex::encode(.computed), hex::encode(.claimed))]
    AfterMismatch {
        /// Recomputed root hash.
        computed: Hash,
        /// The proof's `after`.
        claimed: Hash,
    },
    /// The root kind (value or directory) differs from the claimed one.
    #[error("root kind mismatch: the proof claims a {claimed:?} root")]
    KindMismatch {
        /// The claimed kinded hash.
        claimed: KindedHash,
    },
    /// The operation failed on the proof tree (typically it read a blinded part).
    #[error("operation on the proof tree failed: {0}")]
    Tree(#[from] TreeError),
}

fn ill(path: &[&[u8]], reason: &'static str) -> ProofError {
    ProofError::IllFormed {
        path: super::display_path(path),
        reason,
    }
}

impl ProofTree {
    /// The partial [`Tree`] this proof tree describes (blinded parts stay blinded), after
    /// checking irmin's shape invariants. Its hash is the proof's root hash.
    pub fn to_tree(&self) -> Result<Tree, ProofError> {
        tree_of(&mut TreeBuild, self, &mut Vec::new(), 0)
    }

    /// Checks irmin's shape invariants exactly as [`ProofTree::to_tree`] does and returns the
    /// root hash with a read-only view of the proof tree, without building a [`Tree`] (the npm
    /// package's proof check needs no tree machinery). A directory listed in full with more
    /// than 2 entries, which the proof encoding cannot express, is rejected here.
    pub fn view(&self) -> Result<(Hash, ProofView<'_>), ProofError> {
        let (_, hash) = tree_of(&mut HashBuild, self, &mut Vec::new(), 0)?;
        Ok((hash, ProofView(self)))
    }
}

/// What a pass over a proof tree makes of each of its parts. The pass ([`tree_of`] and the
/// functions below it) checks irmin's shape rules, once for every builder: [`TreeBuild`]
/// builds the partial [`Tree`], [`HashBuild`] only hashes.
trait Build {
    /// A value or directory.
    type Node;
    /// An inode of a large directory.
    type Inode;
    fn value(&mut self, v: &[u8]) -> Self::Node;
    fn blinded_value(&mut self, h: Hash) -> Self::Node;
    fn blinded_dir(&mut self, h: Hash) -> Self::Node;
    /// A directory listed in full, entries in the proof's order (irmin adds them one by one,
    /// a later entry replacing an earlier one of the same step); `Err` says why not.
    fn node(&mut self, entries: Vec<(&[u8], Self::Node)>) -> Result<Self::Node, &'static str>;
    /// A large directory given by its root inode.
    fn large_dir(&mut self, root: Self::Inode) -> Self::Node;
    fn blinded_inode(&mut self, h: Hash) -> Self::Inode;
    /// A bucket, entries sorted and distinct.
    fn bucket(&mut self, entries: Vec<(&[u8], Self::Node)>) -> Self::Inode;
    fn level(&mut self, depth: u32, length: u64, children: [Option<Self::Inode>; 2])
        -> Self::Inode;
}

/// Builds the partial [`Tree`].
struct TreeBuild;

impl Build for TreeBuild {
    type Node = Tree;
    type Inode = Inode;
    fn value(&mut self, v: &[u8]) -> Tree {
        Tree::from_value(v)
    }
    fn blinded_value(&mut self, h: Hash) -> Tree {
        Tree::blinded_value(h)
    }
    fn blinded_dir(&mut self, h: Hash) -> Tree {
        Tree::blinded_directory(h)
    }
    fn node(&mut self, entries: Vec<(&[u8], Tree)>) -> Result<Tree, &'static str> {
        // irmin (`load_node_proof`) builds the node by adding the entries one by one.
        let mut inode = InodeV::empty();
        for (step, child) in entries {
            let mut key = super::inode::Key::new(step);
            inode = inode
                .add(0, &mut key, child, &mut super::node::Ignore)
                .map_err(|_| "step hash collision")?
                .0;
        }
        Ok(Tree::dir(inode))
    }
    fn large_dir(&mut self, root: Inode) -> Tree {
        Tree::dir(root.into_v())
    }
    fn blinded_inode(&mut self, h: Hash) -> Inode {
        Inode::from_v(InodeV::Blinded(Box::new(h)))
    }
    fn bucket(&mut self, entries: Vec<(&[u8], Tree)>) -> Inode {
        let vs = entries.into_iter().map(|(s, t)| (s.into(), t)).collect();
        Inode::from_v(InodeV::Values(vs))
    }
    fn level(&mut self, depth: u32, length: u64, children: [Option<Inode>; 2]) -> Inode {
        Inode::from_v(InodeV::Tree {
            depth,
            length,
            children,
        })
    }
}

/// Hashes: a node is its entry kind and hash, an inode its hash (the functions of
/// [`super::hash`] that [`Tree::hash`] uses).
struct HashBuild;

impl Build for HashBuild {
    type Node = (EntryKind, Hash);
    type Inode = Hash;
    fn value(&mut self, v: &[u8]) -> (EntryKind, Hash) {
        (EntryKind::Contents, hash::contents(v, v.len()))
    }
    fn blinded_value(&mut self, h: Hash) -> (EntryKind, Hash) {
        (EntryKind::Contents, h)
    }
    fn blinded_dir(&mut self, h: Hash) -> (EntryKind, Hash) {
        (EntryKind::Node, h)
    }
    fn node(
        &mut self,
        mut entries: Vec<(&[u8], (EntryKind, Hash))>,
    ) -> Result<(EntryKind, Hash), &'static str> {
        if entries.len() > ENTRIES {
            return Err("directory of more than 2 entries listed in full");
        }
        // The stable form of the bucket irmin's adds leave: sorted, the last of equal steps.
        if let [(a, _), (b, _)] = entries[..] {
            if a == b {
                entries.remove(0);
            } else if a > b {
                entries.swap(0, 1);
            }
        }
        let h = hash::stable_node(entries.iter().map(|(s, (k, h))| (*s, *k, *h)));
        Ok((EntryKind::Node, h))
    }
    fn large_dir(&mut self, root: Hash) -> (EntryKind, Hash) {
        (EntryKind::Node, root)
    }
    fn blinded_inode(&mut self, h: Hash) -> Hash {
        h
    }
    fn bucket(&mut self, entries: Vec<(&[u8], (EntryKind, Hash))>) -> Hash {
        hash::inode_values(entries.iter().map(|(s, (k, h))| (*s, *k, *h)))
    }
    fn level(&mut self, depth: u32, length: u64, children: [Option<Hash>; 2]) -> Hash {
        hash::inode_tree(depth, length, &children)
    }
}

/// The node of a directory entry at `path/step`; a directory below the root is never empty.
fn child_tree<'a, B: Build>(
    b: &mut B,
    step: &'a [u8],
    child: &'a ProofTree,
    path: &mut Vec<&'a [u8]>,
    used: usize,
) -> Result<B::Node, ProofError> {
    path.push(step);
    let tree = tree_of(b, child, path, used + 1)?;
    path.pop();
    if matches!(child, ProofTree::Node(entries) if entries.is_empty()) {
        return Err(ill(path, "empty directory below the root"));
    }
    Ok(tree)
}

fn tree_of<'a, B: Build>(
    b: &mut B,
    p: &'a ProofTree,
    path: &mut Vec<&'a [u8]>,
    used: usize,
) -> Result<B::Node, ProofError> {
    check_levels(used, path)?;
    Ok(match p {
        ProofTree::Value(v) => b.value(v),
        ProofTree::BlindedValue(h) => b.blinded_value(*h),
        ProofTree::BlindedNode(h) => b.blinded_dir(*h),
        ProofTree::Node(entries) => {
            let mut children = Vec::with_capacity(entries.len());
            for (step, child) in entries {
                children.push((&step[..], child_tree(b, step, child, path, used)?));
            }
            b.node(children).map_err(|reason| ill(path, reason))?
        }
        ProofTree::Inode(i) => {
            let root = inode_level(b, i, 0, path, used + 1)?;
            root_inode(b, root, path)?
        }
        ProofTree::Extender(e) => {
            let root = extender(b, e, 0, path, used + 1)?;
            root_inode(b, root, path)?
        }
    })
}

/// Most nested levels (directories plus inode levels, extenders expanded) a proof tree may
/// have: hashing and dropping recurse once per level, so this bounds the stack on hostile
/// proofs. Real proofs use a few hundred at most (keys of 240 bytes, ~20 inode levels each).
pub const MAX_TREE_LEVELS: usize = 1024;

fn check_levels(used: usize, path: &[&[u8]]) -> Result<(), ProofError> {
    if used > MAX_TREE_LEVELS {
        return Err(ill(path, "proof tree nests deeper than 1024 levels"));
    }
    Ok(())
}

/// A root inode from a proof (a trie level, the form of [`inode_level`] and [`extender`]):
/// irmin hashes roots of at most 2 entries in the stable form, which a trie level cannot
/// provide; such non-canonical proofs are rejected.
fn root_inode<B: Build>(
    b: &mut B,
    (inode, len): (B::Inode, Len),
    path: &[&[u8]],
) -> Result<B::Node, ProofError> {
    if len.n <= ENTRIES as u64 {
        return Err(ill(
            path,
            "root inode of at most 2 entries (must be a node)",
        ));
    }
    Ok(b.large_dir(inode))
}

/// Entries counted below an inode: exact, or a lower bound when parts are blinded.
#[derive(Clone, Copy)]
struct Len {
    n: u64,
    exact: bool,
}

fn inode_tree<'a, B: Build>(
    b: &mut B,
    t: &'a InodeTree,
    depth: u32,
    path: &mut Vec<&'a [u8]>,
    used: usize,
) -> Result<(B::Inode, Len), ProofError> {
    match t {
        InodeTree::Blinded(h) => Ok((b.blinded_inode(*h), Len { n: 0, exact: false })),
        InodeTree::Values(entries) => {
            if entries.is_empty() || entries.len() > ENTRIES {
                return Err(ill(path, "inode bucket must hold 1 or 2 entries"));
            }
            if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
                return Err(ill(
                    path,
                    "inode bucket entries must be sorted and distinct",
                ));
            }
            let mut vs = Vec::with_capacity(entries.len());
            for (step, child) in entries {
                vs.push((&step[..], child_tree(b, step, child, path, used)?));
            }
            let n = vs.len() as u64;
            Ok((b.bucket(vs), Len { n, exact: true }))
        }
        InodeTree::Tree(i) => inode_level(b, i, depth, path, used),
        InodeTree::Extender(e) => extender(b, e, depth, path, used),
    }
}

fn check_len(length: u64, len: Len, path: &[&[u8]]) -> Result<(), ProofError> {
    if (len.exact && len.n != length) || len.n > length {
        return Err(ill(path, "inode length differs from its entries"));
    }
    Ok(())
}

fn inode_level<'a, B: Build>(
    b: &mut B,
    i: &'a InodeProof,
    depth: u32,
    path: &mut Vec<&'a [u8]>,
    used: usize,
) -> Result<(B::Inode, Len), ProofError> {
    check_levels(used, path)?;
    if depth >= MAX_DEPTH {
        return Err(ill(path, "inode deeper than the 256 bits of a step hash"));
    }
    let mut total = Len { n: 0, exact: true };
    let mut children: [Option<B::Inode>; 2] = [None, None];
    for (slot, child) in children.iter_mut().zip(&i.children) {
        if let Some(c) = child {
            let (inode, len) = inode_tree(b, c, depth + 1, path, used + 1)?;
            total.n = total.n.saturating_add(len.n);
            total.exact &= len.exact;
            *slot = Some(inode);
        }
    }
    if children.iter().all(Option::is_none) {
        return Err(ill(path, "inode without children"));
    }
    check_len(i.length, total, path)?;
    let len = Len {
        n: i.length,
        exact: true,
    };
    Ok((b.level(depth, i.length, children), len))
}

fn extender<'a, B: Build>(
    b: &mut B,
    e: &'a Extender,
    depth: u32,
    path: &mut Vec<&'a [u8]>,
    used: usize,
) -> Result<(B::Inode, Len), ProofError> {
    let bits = e.segment.bits();
    let k = u32::try_from(bits.len()).unwrap_or(u32::MAX);
    let bottom = depth
        .checked_add(k)
        .filter(|&d| d <= MAX_DEPTH)
        .ok_or_else(|| ill(path, "extender too long"))?;
    let (mut acc, len) = inode_tree(b, &e.proof, bottom, path, used.saturating_add(k as usize))?;
    check_len(e.length, len, path)?;
    for (j, &bit) in bits.iter().enumerate().rev() {
        let mut children = [None, None];
        children[usize::from(bit)] = Some(acc);
        acc = b.level(depth + j as u32, e.length, children);
    }
    let len = Len {
        n: e.length,
        exact: true,
    };
    Ok((acc, len))
}

/// A read-only view of a checked proof tree ([`ProofTree::view`]): reads go through it as
/// through the partial [`Tree`] of [`ProofTree::to_tree`], with the same results and errors.
#[derive(Clone, Copy)]
pub struct ProofView<'a>(&'a ProofTree);

impl<'a> ProofView<'a> {
    /// The node at `path`, if any ([`Tree`]'s `find` on the proof tree itself).
    fn find(&self, path: &[&[u8]]) -> Result<Option<&'a ProofTree>, TreeError> {
        let mut cur = self.0;
        for (i, step) in path.iter().enumerate() {
            let here = &path[..i];
            let found = match cur {
                ProofTree::Value(_) | ProofTree::BlindedValue(_) => None,
                ProofTree::BlindedNode(h) => return Err(blinded(BlindedKind::Directory, here, *h)),
                // The last entry of a step is the one irmin's adds kept.
                ProofTree::Node(entries) => {
                    entries.iter().rev().find(|(s, _)| s.as_slice() == *step)
                }
                ProofTree::Inode(i) => find_in(Slot::Level(i), step, here)?,
                ProofTree::Extender(e) => find_in(Slot::Extender(e), step, here)?,
            };
            match found {
                Some((_, child)) => cur = child,
                None => return Ok(None),
            }
        }
        Ok(Some(cur))
    }
}

/// A position in a large directory's trie, as [`find_in`] walks it.
#[derive(Clone, Copy)]
enum Slot<'a> {
    Level(&'a InodeProof),
    Extender(&'a Extender),
    Other(&'a InodeTree),
}

/// The entry named `step` in the large directory at `here`, walking the trie by the bits of
/// `H(step)` as [`Inode`]'s `find` does.
fn find_in<'a>(
    mut slot: Slot<'a>,
    step: &[u8],
    here: &[&[u8]],
) -> Result<Option<&'a (Vec<u8>, ProofTree)>, TreeError> {
    let key = hash::blake2b(step);
    let bit = |depth: u32| {
        hash::index_bit(&key, depth).ok_or_else(|| TreeError::TooDeep {
            path: super::display_path(here),
        })
    };
    let mut depth = 0u32;
    loop {
        slot = match slot {
            Slot::Other(InodeTree::Blinded(h)) => {
                return Err(blinded(BlindedKind::Inode, here, *h))
            }
            Slot::Other(InodeTree::Values(entries)) => {
                return Ok(entries.iter().find(|(s, _)| s.as_slice() == step))
            }
            Slot::Other(InodeTree::Tree(i)) => Slot::Level(i),
            Slot::Other(InodeTree::Extender(e)) => Slot::Extender(e),
            Slot::Level(i) => match &i.children[bit(depth)?] {
                None => return Ok(None),
                Some(child) => {
                    depth += 1;
                    Slot::Other(child)
                }
            },
            Slot::Extender(e) => {
                for &b in e.segment.bits() {
                    if bit(depth)? != usize::from(b) {
                        return Ok(None);
                    }
                    depth += 1;
                }
                Slot::Other(&e.proof)
            }
        };
    }
}

fn blinded(kind: BlindedKind, path: &[&[u8]], hash: Hash) -> TreeError {
    TreeError::Blinded {
        kind,
        path: super::display_path(path),
        hash,
    }
}

/// The reads of [`TreeAccess`] that reading the output buffer needs, which a [`ProofView`]
/// provides too. Every [`TreeAccess`] has them.
pub trait TreeRead {
    /// [`TreeAccess::kind`].
    fn read_kind(&mut self, path: &[&[u8]]) -> Result<Option<Kind>, TreeError>;
    /// [`TreeAccess::value`].
    fn read_value(&mut self, path: &[&[u8]]) -> Result<Option<Vec<u8>>, TreeError>;
}

impl<T: TreeAccess + ?Sized> TreeRead for T {
    fn read_kind(&mut self, path: &[&[u8]]) -> Result<Option<Kind>, TreeError> {
        self.kind(path)
    }
    fn read_value(&mut self, path: &[&[u8]]) -> Result<Option<Vec<u8>>, TreeError> {
        self.value(path)
    }
}

impl TreeRead for ProofView<'_> {
    fn read_kind(&mut self, path: &[&[u8]]) -> Result<Option<Kind>, TreeError> {
        Ok(self.find(path)?.map(|t| match t {
            ProofTree::Value(_) | ProofTree::BlindedValue(_) => Kind::Value,
            _ => Kind::Directory,
        }))
    }
    fn read_value(&mut self, path: &[&[u8]]) -> Result<Option<Vec<u8>>, TreeError> {
        match self.find(path)? {
            Some(ProofTree::Value(v)) => Ok(Some(v.clone())),
            Some(ProofTree::BlindedValue(h)) => Err(blinded(BlindedKind::Value, path, *h)),
            _ => Ok(None),
        }
    }
}

/// Tree operations that both a plain [`Tree`] and a [`Recorder`] provide, so one operation can
/// be proved ([`produce`]) and checked ([`verify`]).
pub trait TreeAccess {
    /// See [`Tree::kind`].
    fn kind(&mut self, path: &[&[u8]]) -> Result<Option<Kind>, TreeError>;
    /// See [`Tree::value`] (returns a copy).
    fn value(&mut self, path: &[&[u8]]) -> Result<Option<Vec<u8>>, TreeError>;
    /// See [`Tree::subtree`].
    fn subtree(&mut self, path: &[&[u8]]) -> Result<Option<Tree>, TreeError>;
    /// See [`Tree::set_value`].
    fn set_value(&mut self, path: &[&[u8]], value: &[u8]) -> Result<(), TreeError>;
    /// See [`Tree::set_subtree`].
    fn set_subtree(&mut self, path: &[&[u8]], tree: Tree) -> Result<(), TreeError>;
    /// See [`Tree::remove`].
    fn remove(&mut self, path: &[&[u8]]) -> Result<bool, TreeError>;
    /// See [`Tree::len`].
    fn len(&mut self, path: &[&[u8]]) -> Result<usize, TreeError>;
    /// See [`Tree::list`].
    fn list(
        &mut self,
        path: &[&[u8]],
        offset: usize,
        length: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, Kind)>, TreeError>;
    /// Edits the subtree at `path` (an empty directory if nothing is there) with `f`, as
    /// [`Tree::update`]: by default a copy is taken out and put back; a [`Tree`] edits it in
    /// place, copying only the nodes it shares with other versions.
    fn update_subtree(
        &mut self,
        path: &[&[u8]],
        f: &mut dyn FnMut(&mut Tree) -> Result<(), TreeError>,
    ) -> Result<(), TreeError> {
        let mut tree = self.subtree(path)?.unwrap_or_default();
        f(&mut tree)?;
        self.set_subtree(path, tree)
    }
    /// See [`Tree::nth_step`].
    fn nth_step(&mut self, path: &[&[u8]], n: usize) -> Result<Option<Vec<u8>>, TreeError> {
        Ok(self
            .list(path, n, Some(1))?
            .into_iter()
            .next()
            .map(|(s, _)| s))
    }
}

impl TreeAccess for Tree {
    fn kind(&mut self, path: &[&[u8]]) -> Result<Option<Kind>, TreeError> {
        Tree::kind(self, path)
    }
    fn value(&mut self, path: &[&[u8]]) -> Result<Option<Vec<u8>>, TreeError> {
        Ok(Tree::value(self, path)?.map(<[u8]>::to_vec))
    }
    fn subtree(&mut self, path: &[&[u8]]) -> Result<Option<Tree>, TreeError> {
        Tree::subtree(self, path)
    }
    fn set_value(&mut self, path: &[&[u8]], value: &[u8]) -> Result<(), TreeError> {
        Tree::set_value(self, path, value)
    }
    fn set_subtree(&mut self, path: &[&[u8]], tree: Tree) -> Result<(), TreeError> {
        Tree::set_subtree(self, path, tree)
    }
    fn update_subtree(
        &mut self,
        path: &[&[u8]],
        f: &mut dyn FnMut(&mut Tree) -> Result<(), TreeError>,
    ) -> Result<(), TreeError> {
        Tree::update(self, path, f)
    }
    fn remove(&mut self, path: &[&[u8]]) -> Result<bool, TreeError> {
        Tree::remove(self, path)
    }
    fn len(&mut self, path: &[&[u8]]) -> Result<usize, TreeError> {
        Tree::len(self, path)
    }
    fn list(
        &mut self,
        path: &[&[u8]],
        offset: usize,
        length: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, Kind)>, TreeError> {
        Tree::list(self, path, offset, length)
    }
}

/// Addresses of the nodes and inodes read so far.
#[derive(Default)]
struct Touched(BTreeSet<usize>);

impl Observer for Touched {
    fn node(&mut self, tree: &Tree) {
        self.0.insert(tree.addr());
    }
    fn inode(&mut self, inode: &Inode) {
        self.0.insert(inode.addr());
    }
}

/// A view of a tree that records what operations read, for [`produce`].
pub struct Recorder {
    before: Tree,
    current: Tree,
    touched: Touched,
}

impl Recorder {
    /// Starts recording operations on `tree`.
    pub fn new(tree: &Tree) -> Recorder {
        Recorder {
            before: tree.clone(),
            current: tree.clone(),
            touched: Touched::default(),
        }
    }

    /// The tree as the recorded operations left it.
    pub fn current(&self) -> &Tree {
        &self.current
    }

    /// The proof of everything read so far, from the original tree to the current one.
    pub fn proof(&self) -> Proof {
        Proof {
            version: super::codec::TREE2_VERSION,
            before: KindedHash::of_tree(&self.before),
            after: KindedHash::of_tree(&self.current),
            state: tree_proof(&self.before, &self.touched.0),
        }
    }
}

impl TreeAccess for Recorder {
    fn kind(&mut self, path: &[&[u8]]) -> Result<Option<Kind>, TreeError> {
        Ok(super::find(&self.current, path, &mut self.touched)?.map(super::kind_of))
    }
    fn value(&mut self, path: &[&[u8]]) -> Result<Option<Vec<u8>>, TreeError> {
        Ok(super::value_at(&self.current, path, &mut self.touched)?
            .map(super::bytes::ValueBytes::to_vec))
    }
    fn subtree(&mut self, path: &[&[u8]]) -> Result<Option<Tree>, TreeError> {
        Ok(super::find(&self.current, path, &mut self.touched)?.cloned())
    }
    fn set_value(&mut self, path: &[&[u8]], value: &[u8]) -> Result<(), TreeError> {
        self.set_subtree(path, Tree::from_value(value))
    }
    fn set_subtree(&mut self, path: &[&[u8]], tree: Tree) -> Result<(), TreeError> {
        self.current = super::set_at(&self.current, path, 0, tree, &mut self.touched)?;
        Ok(())
    }
    fn remove(&mut self, path: &[&[u8]]) -> Result<bool, TreeError> {
        if path.is_empty() {
            return self.current.remove(path);
        }
        match super::remove_at(&self.current, path, 0, &mut self.touched)? {
            Some(t) => {
                self.current = t;
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn len(&mut self, path: &[&[u8]]) -> Result<usize, TreeError> {
        super::len_at(&self.current, path, &mut self.touched)
    }
    fn list(
        &mut self,
        path: &[&[u8]],
        offset: usize,
        length: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, Kind)>, TreeError> {
        super::list_at(&self.current, path, offset, length, &mut self.touched)
    }
}

/// Runs `op` on a recording view of `tree`; returns the proof of what it read (with the root
/// hashes before and after) and its result.
pub fn produce<R>(
    tree: &Tree,
    op: impl FnOnce(&mut Recorder) -> Result<R, TreeError>,
) -> Result<(Proof, R), TreeError> {
    let mut rec = Recorder::new(tree);
    let r = op(&mut rec)?;
    Ok((rec.proof(), r))
}

/// Checks `proof` and runs `op` on its partial tree: the tree must hash to `before`, `op` must
/// only read what the proof reveals, and the tree it leaves must hash to `after`. Returns that
/// tree and `op`'s result.
pub fn verify<R>(
    proof: &Proof,
    op: impl FnOnce(&mut Tree) -> Result<R, TreeError>,
) -> Result<(Tree, R), ProofError> {
    let mut tree = proof.state.to_tree()?;
    check_kinded(&tree, &proof.before, true)?;
    let r = op(&mut tree)?;
    check_kinded(&tree, &proof.after, false)?;
    Ok((tree, r))
}

fn check_kinded(tree: &Tree, claimed: &KindedHash, before: bool) -> Result<(), ProofError> {
    let computed = tree.hash();
    if computed != *claimed.hash() {
        let claimed = *claimed.hash();
        return Err(if before {
            ProofError::BeforeMismatch { computed, claimed }
        } else {
            ProofError::AfterMismatch { computed, claimed }
        });
    }
    if KindedHash::of_tree(tree) != *claimed {
        return Err(ProofError::KindMismatch { claimed: *claimed });
    }
    Ok(())
}

/// The proof tree of `t` revealing exactly the touched nodes and inodes.
pub(crate) fn tree_proof(t: &Tree, touched: &BTreeSet<usize>) -> ProofTree {
    let seen = touched.contains(&t.addr());
    match &t.0.v {
        NodeV::Value(v) if seen => ProofTree::Value(v.to_vec()),
        NodeV::Value(_) | NodeV::BlindedValue(_) => ProofTree::BlindedValue(t.hash()),
        NodeV::Dir(inode) if seen => match inode {
            InodeV::Values(vs) => ProofTree::Node(
                vs.iter()
                    .map(|(s, c)| (s.to_vec(), tree_proof(c, touched)))
                    .collect(),
            ),
            _ => match inode_v_proof(inode, touched) {
                InodeTree::Tree(i) => ProofTree::Inode(i),
                InodeTree::Extender(e) => ProofTree::Extender(e),
                InodeTree::Blinded(h) => ProofTree::BlindedNode(h),
                InodeTree::Values(vs) => ProofTree::Node(vs),
            },
        },
        NodeV::Dir(_) | NodeV::BlindedDir(_) => ProofTree::BlindedNode(t.hash()),
    }
}

/// The proof of a non-root inode: blinded unless it was read.
fn inode_proof(i: &Inode, touched: &BTreeSet<usize>) -> InodeTree {
    if !touched.contains(&i.addr()) {
        return InodeTree::Blinded(i.hash());
    }
    inode_v_proof(i.v(), touched)
}

/// The proof of an inode's content (a root one is revealed with its directory node), folding
/// chains of single-child levels into extenders as irmin's `iproof_of_inode` does.
fn inode_v_proof(i: &InodeV, touched: &BTreeSet<usize>) -> InodeTree {
    match i {
        InodeV::Blinded(h) => InodeTree::Blinded(**h),
        InodeV::Values(vs) => InodeTree::Values(
            vs.iter()
                .map(|(s, c)| (s.to_vec(), tree_proof(c, touched)))
                .collect(),
        ),
        InodeV::Tree {
            length, children, ..
        } => {
            let present: Vec<(usize, &Inode)> = children
                .iter()
                .enumerate()
                .filter_map(|(n, c)| c.as_ref().map(|c| (n, c)))
                .collect();
            if let [(index, only)] = present[..] {
                let index = index as u8;
                let one = |p: InodeTree| {
                    let mut kids: [Option<Box<InodeTree>>; 2] = [None, None];
                    kids[usize::from(index)] = Some(Box::new(p));
                    InodeTree::Tree(InodeProof {
                        length: *length,
                        children: kids,
                    })
                };
                let ext = |bits: Vec<u8>, proof: Box<InodeTree>| {
                    InodeTree::Extender(Extender {
                        length: *length,
                        segment: Segment(bits),
                        proof,
                    })
                };
                return match inode_proof(only, touched) {
                    InodeTree::Tree(InodeProof {
                        children: [Some(p), None],
                        ..
                    }) => ext(vec![index, 0], p),
                    InodeTree::Tree(InodeProof {
                        children: [None, Some(p)],
                        ..
                    }) => ext(vec![index, 1], p),
                    InodeTree::Extender(Extender { segment, proof, .. }) => {
                        let mut bits = vec![index];
                        bits.extend_from_slice(segment.bits());
                        ext(bits, proof)
                    }
                    p => one(p),
                };
            }
            let kids = [
                children[0]
                    .as_ref()
                    .map(|c| Box::new(inode_proof(c, touched))),
                children[1]
                    .as_ref()
                    .map(|c| Box::new(inode_proof(c, touched))),
            ];
            InodeTree::Tree(InodeProof {
                length: *length,
                children: kids,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn segments_read_back_from_their_bytes() {
        for n in 1..=40usize {
            let bits: Vec<u8> = (0..n).map(|i| ((i * 7 + n) % 3 == 0) as u8).collect();
            let seg = Segment::new(bits.clone()).unwrap();
            let bytes = seg.to_bytes().unwrap();
            assert_eq!(bytes.len(), n / 8 + 1);
            assert_eq!(
                Segment::from_bytes(&bytes).unwrap().bits(),
                &bits[..],
                "{n} bits"
            );
        }
        assert_eq!(Segment::from_bytes(&[0x80]), None);
        assert_eq!(Segment::from_bytes(&[0xff, 0x00]), None);
        assert_eq!(Segment::from_bytes(&[]), None);
    }

    #[test]
    fn kinded_hash_debug_is_the_derived_form() {
        #[derive(Debug)]
        #[allow(dead_code)] // only printed
        enum Derived {
            Value(Hash),
            Node(Hash),
        }
        let h: Hash = core::array::from_fn(|i| (i * 37) as u8);
        assert_eq!(
            format!("{:?}", KindedHash::Value(h)),
            format!("{:?}", Derived::Value(h))
        );
        assert_eq!(
            format!("{:?}", KindedHash::Node(h)),
            format!("{:?}", Derived::Node(h))
        );
    }
}
