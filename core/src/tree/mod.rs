//! The persistent Merkle state tree, hashed exactly like octez's `Context_binary` (the tree of
//! the Tezos WASM PVM), so Soru's state hashes and proofs are octez's.
//!
//! * **Persistent.** A [`Tree`] is a shared node; `clone` is O(1) and is a snapshot. Updates
//!   copy only the nodes on the changed path; unchanged subtrees are shared, so copying or
//!   moving a subtree ([`Tree::subtree`] + [`Tree::set_subtree`]) is O(path).
//! * **Irmin's shape.** A directory's entries are stored as irmin-pack inodes (`entries = 2`):
//!   a binary trie on the bits of `H(step)` with buckets of at most two entries, canonical
//!   under any sequence of updates (see `inode.rs`). Adding or removing one entry of a large
//!   directory copies O(log n) small inodes.
//! * **Lazy hashing.** Every node and inode caches its hash on first use, so after changing
//!   one value only the nodes on its path are rehashed.
//! * **Proof trees.** Nodes may be *blinded* (only their hash is known, as in octez proofs);
//!   reading through one yields [`TreeError::Blinded`].
//!
//! Submodules: [`proof`] produces and verifies proofs of operations (octez's proof model),
//! [`codec`] reads and writes them as `Merkle_proof_encoding.V2.Tree2` bytes, [`record`]
//! records which nodes a whole computation reads (replay witnesses), [`store`] keeps trees in
//! a key-value store as content-addressed records shared across versions.
//!
//! Hashes (BLAKE2b-256): contents `H(be64 len | bytes)`; a directory with at most 2 entries in
//! irmin's v1 "stable" node form; a larger directory as the hash of its root inode tree.
//!
//! # Listing order
//!
//! [`Tree::list`] and [`Tree::nth_step`] return entries in irmin's order for the inode
//! representation (irmin-pack `inode.ml`, `seq_tree`/`seq_values`): children of a trie level
//! in index order (bit 0 before bit 1), entries of a bucket in step-byte order. It is the order
//! octez uses for every directory it loaded from its store or from a proof (irmin `tree.ml`
//! `seq`: cases `Repo_value`, `Repo_key`, `Portable`), i.e. what refutation proofs and
//! verifiers observe, and it depends only on the directory's content. irmin lists a directory
//! *modified in memory since it was loaded* in plain step order instead (cases `Map`,
//! `Value_dirty`: `StepMap.to_seq`); Soru has no such hidden per-node state and always uses the
//! inode order. Both orders agree for directories of at most 2 entries.
//!
//! # Example
//!
//! ```
//! use soru_core::tree::{Kind, Tree};
//!
//! let mut t = Tree::empty();
//! t.set_value(&[b"durable", b"a", b"@"], b"hello")?;
//! let snapshot = t.clone(); // O(1)
//! t.set_value(&[b"durable", b"b"], b"world")?;
//! assert_eq!(t.value(&[b"durable", b"a", b"@"])?, Some(&b"hello"[..]));
//! assert_eq!(t.kind(&[b"durable", b"a"])?, Some(Kind::Directory));
//! assert_eq!(t.len(&[b"durable"])?, 2);
//! assert_eq!(snapshot.len(&[b"durable"])?, 1);
//! assert_ne!(t.hash(), snapshot.hash());
//! t.remove(&[b"durable", b"b"])?;
//! assert_eq!(t.hash(), snapshot.hash());
//! # Ok::<(), soru_core::tree::TreeError>(())
//! ```

mod bytes;
pub mod codec;
mod hash;
mod inode;
mod node;
pub mod proof;
#[cfg(feature = "pvm")]
pub mod record;
pub mod store;

use alloc::string::String;
use alloc::vec::Vec;

pub use hash::Hash;
pub use node::Tree;

use bytes::ValueBytes;
use inode::{InodeV, Key, Miss};
#[cfg(not(feature = "pvm"))]
use node::Ignore as Ambient;
use node::{NodeV, Observer};
#[cfg(feature = "pvm")]
use record::Ambient;

/// What a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A value (irmin contents).
    Value,
    /// A directory (irmin node).
    Directory,
}

/// Which kind of blinded object an operation ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlindedKind {
    /// A value whose bytes were left out of the proof.
    Value,
    /// A directory whose entries were left out of the proof.
    Directory,
    /// A part of a large directory (an inode) left out of the proof.
    Inode,
}

impl core::fmt::Display for BlindedKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            BlindedKind::Value => "value",
            BlindedKind::Directory => "directory",
            BlindedKind::Inode => "inode",
        })
    }
}

/// Tree operation failures.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The operation needed part of a proof tree that the proof left out.
    #[error("read through a blinded {kind} (hash {}) at {path}", hex::encode(.hash))]
    Blinded {
        /// What was blinded.
        kind: BlindedKind,
        /// The path of the value or directory being read when it happened (`/`-separated).
        path: String,
        /// The hash the proof gave for it.
        hash: Hash,
    },
    /// Two different steps with the same 256-bit hash (a BLAKE2b collision) in one directory.
    #[error("directory at {path}: inode trie exceeds 256 levels (step hash collision)")]
    TooDeep {
        /// The directory's path.
        path: String,
    },
}

/// Renders a path for error messages: printable ASCII steps as is, others in hex.
pub(crate) fn display_path(path: &[&[u8]]) -> String {
    let mut s = String::new();
    if path.is_empty() {
        s.push('/');
    }
    for step in path {
        s.push('/');
        if step.iter().all(|b| b.is_ascii_graphic() && *b != b'/') {
            s.extend(step.iter().map(|&b| char::from(b)));
        } else {
            s.push_str("0x");
            s.push_str(&hex::encode(step));
        }
    }
    s
}

fn miss_at(m: Miss, path: &[&[u8]], kind: BlindedKind) -> TreeError {
    match m {
        Miss::Blinded(hash) => TreeError::Blinded {
            kind,
            path: display_path(path),
            hash,
        },
        Miss::TooDeep => TreeError::TooDeep {
            path: display_path(path),
        },
    }
}

fn blinded_dir(path: &[&[u8]], hash: Hash) -> TreeError {
    TreeError::Blinded {
        kind: BlindedKind::Directory,
        path: display_path(path),
        hash,
    }
}

/// The inode of the directory `tree` (`None` for a value), recording the read.
fn dir_inode<'a, O: Observer>(
    tree: &'a Tree,
    path: &[&[u8]],
    obs: &mut O,
) -> Result<Option<&'a InodeV>, TreeError> {
    match &tree.0.v {
        NodeV::Dir(inode) => {
            obs.node(tree);
            Ok(Some(inode))
        }
        NodeV::Value(_) | NodeV::BlindedValue(_) => Ok(None),
        NodeV::BlindedDir(h) => Err(blinded_dir(path, *h)),
    }
}

/// The node at `path`, if any (does not read the node itself).
pub(crate) fn find<'a, O: Observer>(
    root: &'a Tree,
    path: &[&[u8]],
    obs: &mut O,
) -> Result<Option<&'a Tree>, TreeError> {
    let mut cur = root;
    for (i, step) in path.iter().enumerate() {
        let Some(inode) = dir_inode(cur, &path[..i], obs)? else {
            return Ok(None);
        };
        match inode.find(&mut Key::new(step), obs) {
            Ok(Some(t)) => cur = t,
            Ok(None) => return Ok(None),
            Err(m) => return Err(miss_at(m, &path[..i], BlindedKind::Inode)),
        }
    }
    Ok(Some(cur))
}

/// `node` with `new` at `path[i..]`, creating directories and replacing values on the way.
/// An empty directory as `new` removes the entry; directories left empty are pruned.
pub(crate) fn set_at<O: Observer>(
    node: &Tree,
    path: &[&[u8]],
    i: usize,
    new: Tree,
    obs: &mut O,
) -> Result<Tree, TreeError> {
    let Some(step) = path.get(i) else {
        return Ok(new);
    };
    let here = &path[..i];
    let empty;
    let inode = match dir_inode(node, here, obs)? {
        Some(inode) => inode,
        None => {
            empty = InodeV::empty();
            &empty
        }
    };
    let mut key = Key::new(step);
    let child = inode
        .find(&mut key, obs)
        .map_err(|m| miss_at(m, here, BlindedKind::Inode))?;
    let empty_dir;
    let child = match child {
        Some(c) => c,
        None => {
            empty_dir = Tree::empty();
            &empty_dir
        }
    };
    let new_child = set_at(child, path, i + 1, new, obs)?;
    let inode = if new_child.is_empty() {
        match inode
            .remove(&mut key, obs)
            .map_err(|m| miss_at(m, here, BlindedKind::Inode))?
        {
            Some(inode) => inode,
            None => return Ok(node.clone()),
        }
    } else {
        inode
            .add(0, &mut key, new_child, obs)
            .map_err(|m| miss_at(m, here, BlindedKind::Inode))?
            .0
    };
    Ok(Tree::dir(inode))
}

/// Changes the node at `path[i..]` below `node` in place: `f` gets it (an empty directory if
/// nothing is there, a value on the way being replaced by a directory), and an empty directory
/// it leaves is removed, as are the directories left empty above it (irmin semantics, as
/// [`set_at`]). Nodes and inodes only this tree owns are changed where they are; shared ones
/// (snapshots, other trees) are copied first, so every other version stays as it was. Each step
/// is hashed at most once. Errors found on the way down leave the content unchanged; an error
/// of `f` leaves what `f` did.
pub(crate) fn update_at<E: From<TreeError>>(
    node: &mut Tree,
    path: &[&[u8]],
    i: usize,
    f: impl FnOnce(&mut Tree) -> Result<(), E>,
) -> Result<(), E> {
    let Some(step) = path.get(i) else {
        return f(node);
    };
    let here = &path[..i];
    match &node.0.v {
        // Recorded before `make_mut` may replace the node by a copy.
        NodeV::Dir(_) => Ambient.node(node),
        NodeV::BlindedDir(h) => return Err(blinded_dir(here, *h).into()),
        NodeV::Value(_) | NodeV::BlindedValue(_) => {
            // A value on the way: the directory built below replaces it, unless it stays empty.
            let mut dir = Tree::empty();
            update_at(&mut dir, path, i, f)?;
            if !dir.is_empty() {
                *node = dir;
            }
            return Ok(());
        }
    }
    let NodeV::Dir(inode) = node.make_mut() else {
        return Ok(());
    };
    let mut key = Key::new(step);
    let err = |m| -> E { miss_at(m, here, BlindedKind::Inode).into() };
    match inode.entry_mut(&mut key, &mut Ambient).map_err(err)? {
        Some(child) => {
            update_at(child, path, i + 1, f)?;
            if child.is_empty() {
                if let Some(smaller) = inode.remove(&mut key, &mut Ambient).map_err(err)? {
                    *inode = smaller;
                }
            }
        }
        None => {
            let mut child = Tree::empty();
            update_at(&mut child, path, i + 1, f)?;
            if !child.is_empty() {
                inode
                    .add_mut(0, &mut key, child, &mut Ambient)
                    .map_err(err)?;
            }
        }
    }
    Ok(())
}

/// `node` without the entry at `path[i..]` (non-empty), or `None` if there is none.
pub(crate) fn remove_at<O: Observer>(
    node: &Tree,
    path: &[&[u8]],
    i: usize,
    obs: &mut O,
) -> Result<Option<Tree>, TreeError> {
    let here = &path[..i];
    let Some(inode) = dir_inode(node, here, obs)? else {
        return Ok(None);
    };
    let mut key = Key::new(path[i]);
    let err = |m| miss_at(m, here, BlindedKind::Inode);
    if i + 1 == path.len() {
        return Ok(inode.remove(&mut key, obs).map_err(err)?.map(Tree::dir));
    }
    let Some(child) = inode.find(&mut key, obs).map_err(err)? else {
        return Ok(None);
    };
    let Some(new_child) = remove_at(child, path, i + 1, obs)? else {
        return Ok(None);
    };
    let inode = if new_child.is_empty() {
        inode
            .remove(&mut key, obs)
            .map_err(err)?
            .unwrap_or_else(|| inode.clone())
    } else {
        inode.add(0, &mut key, new_child, obs).map_err(err)?.0
    };
    Ok(Some(Tree::dir(inode)))
}

/// Entries of the directory at `path` in irmin's order.
pub(crate) fn list_at<O: Observer>(
    root: &Tree,
    path: &[&[u8]],
    offset: usize,
    length: Option<usize>,
    obs: &mut O,
) -> Result<Vec<(Vec<u8>, Kind)>, TreeError> {
    let Some(node) = find(root, path, obs)? else {
        return Ok(Vec::new());
    };
    let Some(inode) = dir_inode(node, path, obs)? else {
        return Ok(Vec::new());
    };
    let mut skip = offset as u64;
    let mut remaining = length.map_or(u64::MAX, |l| l as u64);
    let mut out = Vec::new();
    if remaining > 0 {
        inode
            .list(&mut skip, &mut remaining, &mut out, obs)
            .map_err(|m| miss_at(m, path, BlindedKind::Inode))?;
    }
    Ok(out
        .into_iter()
        .map(|(s, t)| (s.to_vec(), kind_of(&t)))
        .collect())
}

pub(crate) fn kind_of(t: &Tree) -> Kind {
    match &t.0.v {
        NodeV::Value(_) | NodeV::BlindedValue(_) => Kind::Value,
        NodeV::Dir(_) | NodeV::BlindedDir(_) => Kind::Directory,
    }
}

/// The bytes of the value at `path`; `None` if missing or a directory.
pub(crate) fn value_at<'a, O: Observer>(
    root: &'a Tree,
    path: &[&[u8]],
    obs: &mut O,
) -> Result<Option<&'a ValueBytes>, TreeError> {
    match find(root, path, obs)? {
        None => Ok(None),
        Some(t) => match &t.0.v {
            NodeV::Value(b) => {
                obs.node(t);
                Ok(Some(b))
            }
            NodeV::BlindedValue(h) => Err(TreeError::Blinded {
                kind: BlindedKind::Value,
                path: display_path(path),
                hash: *h,
            }),
            NodeV::Dir(_) | NodeV::BlindedDir(_) => Ok(None),
        },
    }
}

/// Number of entries of the directory at `path` (0 for values and missing paths).
pub(crate) fn len_at<O: Observer>(
    root: &Tree,
    path: &[&[u8]],
    obs: &mut O,
) -> Result<usize, TreeError> {
    let Some(node) = find(root, path, obs)? else {
        return Ok(0);
    };
    let Some(inode) = dir_inode(node, path, obs)? else {
        return Ok(0);
    };
    let len = inode
        .length()
        .map_err(|m| miss_at(m, path, BlindedKind::Inode))?;
    Ok(usize::try_from(len).unwrap_or(usize::MAX))
}

impl Tree {
    /// The empty directory (the state of a fresh PVM before origination).
    pub fn empty() -> Tree {
        Tree::dir(InodeV::empty())
    }

    /// What `path` names: `None` if nothing. Blinded nodes still have a known kind.
    pub fn kind(&self, path: &[&[u8]]) -> Result<Option<Kind>, TreeError> {
        Ok(find(self, path, &mut Ambient)?.map(kind_of))
    }

    /// The bytes of the value at `path`; `None` if missing or a directory.
    pub fn value(&self, path: &[&[u8]]) -> Result<Option<&[u8]>, TreeError> {
        Ok(value_at(self, path, &mut Ambient)?.map(ValueBytes::full))
    }

    /// Copies the first `out.len()` bytes of the value at `path` (at most its length) into
    /// `out` and returns the value's length; `None` if missing or a directory. Unlike
    /// [`Tree::value`] it never builds the padded bytes of a long zero tail.
    pub fn read_value_prefix(
        &self,
        path: &[&[u8]],
        out: &mut [u8],
    ) -> Result<Option<usize>, TreeError> {
        Ok(value_at(self, path, &mut Ambient)?.map(|v| {
            v.copy_prefix(out);
            v.len()
        }))
    }

    /// The subtree at `path` (O(1): it is shared, not copied).
    pub fn subtree(&self, path: &[&[u8]]) -> Result<Option<Tree>, TreeError> {
        Ok(find(self, path, &mut Ambient)?.cloned())
    }

    /// Stores `value` at `path`, creating directories and replacing whatever was there.
    pub fn set_value(&mut self, path: &[&[u8]], value: &[u8]) -> Result<(), TreeError> {
        self.set_subtree(path, Tree::from_value(value))
    }

    /// Puts `tree` at `path` (O(path) since `tree` is shared): the building block of copy and
    /// move. Setting an empty directory removes the entry (irmin semantics); an empty `path`
    /// replaces the whole tree.
    pub fn set_subtree(&mut self, path: &[&[u8]], tree: Tree) -> Result<(), TreeError> {
        update_at(self, path, 0, |node| {
            *node = tree;
            Ok::<(), TreeError>(())
        })
    }

    /// Changes the node at `path` in one descent: `f` gets it to edit in place (an empty
    /// directory if nothing is there); an empty directory it leaves is removed, with the
    /// directories left empty above it. Only nodes shared with other versions are copied.
    pub fn update<E: From<TreeError>>(
        &mut self,
        path: &[&[u8]],
        f: impl FnOnce(&mut Tree) -> Result<(), E>,
    ) -> Result<(), E> {
        update_at(self, path, 0, f)
    }

    /// Removes the value or directory at `path`; directories left empty are pruned (irmin
    /// semantics). Returns whether anything was removed. An empty `path` empties the tree.
    pub fn remove(&mut self, path: &[&[u8]]) -> Result<bool, TreeError> {
        if path.is_empty() {
            let removed = !self.is_empty();
            *self = Tree::empty();
            return Ok(removed);
        }
        match remove_at(self, path, 0, &mut Ambient)? {
            Some(new) => {
                *self = new;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Number of entries of the directory at `path` (0 for values and missing paths).
    pub fn len(&self, path: &[&[u8]]) -> Result<usize, TreeError> {
        len_at(self, path, &mut Ambient)
    }

    /// Up to `length` entries (all if `None`) of the directory at `path`, skipping the first
    /// `offset`, in irmin's order (see the module docs). Empty for values and missing paths.
    pub fn list(
        &self,
        path: &[&[u8]],
        offset: usize,
        length: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, Kind)>, TreeError> {
        list_at(self, path, offset, length, &mut Ambient)
    }

    /// The step of the `n`-th entry (irmin's order) of the directory at `path`, if any.
    /// Costs O(depth) for large directories.
    pub fn nth_step(&self, path: &[&[u8]], n: usize) -> Result<Option<Vec<u8>>, TreeError> {
        Ok(self
            .list(path, n, Some(1))?
            .into_iter()
            .next()
            .map(|(s, _)| s))
    }
}
