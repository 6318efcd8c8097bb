//! The tree node: a value, a directory (whose entries live in its root inode), or, in proof
//! trees, a blinded value or directory known only by its hash.

use alloc::sync::Arc;
use spin::Once;

use super::bytes::ValueBytes;
use super::hash::{self, EntryKind, Hash};
use super::inode::{Inode, InodeV};

/// A persistent tree node: a value or a directory, possibly blinded (in a proof tree).
///
/// Cloning is O(1) (one reference count); every mutation copies only the path it changes, so
/// old versions stay valid snapshots and unchanged subtrees are shared. Hashes are computed on
/// first use and cached in the node.
#[derive(Clone)]
pub struct Tree(pub(crate) Arc<Node>);

/// The shared part of a [`Tree`]: its content and its lazily computed hash.
pub(crate) struct Node {
    pub(crate) v: NodeV,
    hash: Once<Hash>,
}

impl Clone for Node {
    /// A copy of the content; the hash is recomputed when needed (the copy is about to change).
    fn clone(&self) -> Node {
        Node {
            v: self.v.clone(),
            hash: Once::new(),
        }
    }
}

/// What a node holds.
#[derive(Clone)]
pub(crate) enum NodeV {
    /// Contents (irmin `Contents`): arbitrary bytes, up to 32 inline (lengths, hashes), long
    /// zero tails (padded durable chunks) kept short.
    Value(ValueBytes),
    /// A directory: its entries, organised as irmin's root inode, held in the node itself (the
    /// directory's hash is its root inode's, cached once in the node).
    Dir(InodeV),
    /// A value of a proof tree whose bytes were left out; only its hash is known.
    BlindedValue(Hash),
    /// A directory of a proof tree whose entries were left out; only its hash is known.
    BlindedDir(Hash),
}

impl Tree {
    pub(crate) fn from_v(v: NodeV) -> Tree {
        let hash = Once::new();
        // Blinded nodes know their hash already.
        if let NodeV::BlindedValue(h) | NodeV::BlindedDir(h) = &v {
            hash.call_once(|| *h);
        }
        Tree(Arc::new(Node { v, hash }))
    }

    /// The content of this node for changing it in place: the node itself if this handle is
    /// its only owner (no snapshot or other tree can see it), otherwise a fresh copy that
    /// replaces it in this handle. Its cached hash is dropped either way.
    pub(crate) fn make_mut(&mut self) -> &mut NodeV {
        let node = Arc::make_mut(&mut self.0);
        node.hash = Once::new();
        &mut node.v
    }

    /// A directory node with the given root inode.
    pub(crate) fn dir(inode: InodeV) -> Tree {
        Tree::from_v(NodeV::Dir(inode))
    }

    /// A value (contents) node holding `bytes`.
    pub fn from_value(bytes: &[u8]) -> Tree {
        Tree::from_v(NodeV::Value(ValueBytes::new(bytes)))
    }

    /// A blinded value of a proof tree: only its hash is known; reading it fails with
    /// [`super::TreeError::Blinded`].
    pub fn blinded_value(hash: Hash) -> Tree {
        Tree::from_v(NodeV::BlindedValue(hash))
    }

    /// A blinded directory of a proof tree: only its hash is known; reading through it fails
    /// with [`super::TreeError::Blinded`].
    pub fn blinded_directory(hash: Hash) -> Tree {
        Tree::from_v(NodeV::BlindedDir(hash))
    }

    /// The octez `Context_binary` hash of this node, computed once and cached.
    pub fn hash(&self) -> Hash {
        *self.0.hash.call_once(|| match &self.0.v {
            NodeV::Value(bytes) => {
                let (head, len) = bytes.parts();
                hash::contents(head, len)
            }
            NodeV::Dir(inode) => inode.root_hash(),
            NodeV::BlindedValue(h) | NodeV::BlindedDir(h) => *h,
        })
    }

    /// Whether this node is a value or a directory in a parent's entry (both hash forms need it).
    pub(crate) fn entry_kind(&self) -> EntryKind {
        match &self.0.v {
            NodeV::Value(_) | NodeV::BlindedValue(_) => EntryKind::Contents,
            NodeV::Dir(_) | NodeV::BlindedDir(_) => EntryKind::Node,
        }
    }

    /// True for a directory without entries (the only directory irmin never stores below the
    /// root: setting it anywhere removes the entry).
    pub fn is_empty(&self) -> bool {
        matches!(&self.0.v, NodeV::Dir(inode) if inode.is_empty())
    }

    /// Whether both handles point at the very same shared node (no hashing involved).
    pub fn ptr_eq(&self, other: &Tree) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The address of the shared node, used to remember which nodes an operation read.
    pub(crate) fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

impl Default for Tree {
    fn default() -> Self {
        Tree::empty()
    }
}

impl PartialEq for Tree {
    /// Trees are equal when their hashes are equal (the hash commits to the whole content).
    fn eq(&self, other: &Tree) -> bool {
        self.ptr_eq(other) || self.hash() == other.hash()
    }
}

impl Eq for Tree {}

impl core::fmt::Debug for Tree {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let h = self.hash();
        let kind = match &self.0.v {
            NodeV::Value(b) => return write!(f, "Value({} bytes, {})", b.len(), hex::encode(h)),
            NodeV::Dir(_) => "Directory",
            NodeV::BlindedValue(_) => "BlindedValue",
            NodeV::BlindedDir(_) => "BlindedDirectory",
        };
        write!(f, "{kind}({})", hex::encode(h))
    }
}

/// Receives every node and inode whose content an operation reads. Proof production records
/// them; public operations use [`super::record::Ambient`], which records only while a
/// [`super::record::reads_of`] runs.
pub(crate) trait Observer {
    /// `tree`'s own content is read: a value's bytes, or a directory's root inode.
    fn node(&mut self, _tree: &Tree) {}
    /// A non-root inode's content is read.
    fn inode(&mut self, _inode: &Inode) {}
}

/// The observer that records nothing (building trees from proofs).
pub(crate) struct Ignore;

impl Observer for Ignore {}
