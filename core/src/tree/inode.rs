//! Directories as irmin-pack inodes (`entries = 2`, child order `Hash_bits`).
//!
//! A directory's entries live in a binary trie keyed by the bits of `H(step)`, MSB-first: an
//! inode at depth `d` is either a bucket of at most 2 entries sorted by step bytes (`Values`),
//! or a `Tree` whose child `i` holds the entries with bit `d` of `H(step)` equal to `i`. The
//! shape is canonical, exactly as irmin-pack's `inode.ml` builds it: a bucket that would hold 3
//! entries splits into a tree at the same depth (`add`), and a tree left with at most 2 entries
//! collapses back into a bucket (`remove`). Hence updates copy O(depth) small nodes and the
//! hash of a directory is irmin's, whatever sequence of operations built it.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use spin::Once;

use super::hash::{self, Hash};
use super::node::{Observer, Tree};

/// One directory entry: its step and the node it names.
pub(crate) type Entry = (Step, Tree);

/// A path step (irmin `step`): arbitrary bytes, compared as raw bytes; up to 14 bytes inline
/// (durable steps are short: `@`, `length`, `contents`, chunk indices, 8-hex-digit names), so
/// an entry costs no allocation of its own and takes 24 bytes.
pub(crate) type Step = super::bytes::SmallBytes<14>;

/// A bucket's entries, sorted by step: a single entry inline (most buckets of a large
/// directory's trie and most directories of durable storage hold one), more in a boxed slice
/// of exactly their number. Dereferences to the slice of entries. Takes 24 bytes, like the
/// `Vec` it replaces, without its allocation for one entry or its spare capacity.
#[derive(Clone)]
pub(crate) enum Bucket {
    /// Exactly one entry.
    One(Entry),
    /// Any other number of entries (none: no allocation).
    Many(Box<[Entry]>),
}

impl Bucket {
    /// No entries.
    pub(crate) fn new() -> Bucket {
        Bucket::Many(Box::default())
    }

    /// Inserts `entry` at index `i` (as `Vec::insert`).
    pub(crate) fn insert(&mut self, i: usize, entry: Entry) {
        let mut v = Vec::with_capacity(self.len() + 1);
        match core::mem::replace(self, Bucket::new()) {
            Bucket::One(e) => v.push(e),
            Bucket::Many(es) => v.extend(es.into_vec()),
        }
        v.insert(i, entry);
        *self = Bucket::from(v);
    }
}

impl From<Vec<Entry>> for Bucket {
    fn from(mut v: Vec<Entry>) -> Bucket {
        match v.pop() {
            Some(e) if v.is_empty() => Bucket::One(e),
            Some(e) => {
                v.push(e);
                Bucket::Many(v.into_boxed_slice())
            }
            None => Bucket::new(),
        }
    }
}

impl FromIterator<Entry> for Bucket {
    fn from_iter<I: IntoIterator<Item = Entry>>(iter: I) -> Bucket {
        Bucket::from(iter.into_iter().collect::<Vec<Entry>>())
    }
}

impl core::ops::Deref for Bucket {
    type Target = [Entry];
    fn deref(&self) -> &[Entry] {
        match self {
            Bucket::One(e) => core::slice::from_ref(e),
            Bucket::Many(es) => es,
        }
    }
}

impl core::ops::DerefMut for Bucket {
    fn deref_mut(&mut self) -> &mut [Entry] {
        match self {
            Bucket::One(e) => core::slice::from_mut(e),
            Bucket::Many(es) => es,
        }
    }
}

impl<'a> IntoIterator for &'a Bucket {
    type Item = &'a Entry;
    type IntoIter = core::slice::Iter<'a, Entry>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Most entries a bucket holds (irmin `Conf.entries`); a third one splits it.
pub(crate) const ENTRIES: usize = 2;

/// Deepest trie level: the step hash has 256 bits. irmin's own limit (`max_depth` = 50) is only
/// reached by steps whose hashes share 50 leading bits, which nobody can produce.
pub(crate) const MAX_DEPTH: u32 = 256;

/// A shared inode; clone is O(1).
#[derive(Clone)]
pub(crate) struct Inode(pub(crate) Arc<InodeNode>);

/// An inode's content with its lazily computed (non-root) hash.
pub(crate) struct InodeNode {
    pub(crate) v: InodeV,
    hash: Once<Hash>,
}

impl Clone for InodeNode {
    /// A copy of the content; the hash is recomputed when needed (the copy is about to change).
    fn clone(&self) -> InodeNode {
        InodeNode {
            v: self.v.clone(),
            hash: Once::new(),
        }
    }
}

/// The three inode forms.
#[derive(Clone)]
pub(crate) enum InodeV {
    /// A bucket of entries sorted by step bytes.
    Values(Bucket),
    /// A trie level: `length` entries in total below, children indexed by bit `depth`.
    Tree {
        depth: u32,
        length: u64,
        children: [Option<Inode>; 2],
    },
    /// An inode of a proof tree left out; only its hash is known. Boxed: it only occurs in
    /// proof trees, and inline it would make every inode of every tree 8 bytes larger.
    Blinded(Box<Hash>),
}

/// Why an inode operation could not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Miss {
    /// It had to read a blinded inode, node or value with this hash.
    Blinded(Hash),
    /// Two distinct steps share every bit of their hash (cannot happen with BLAKE2b).
    TooDeep,
}

/// `H(step)`, computed at most once per operation and only if a trie level needs it.
pub(crate) struct Key<'a> {
    step: &'a [u8],
    key: Option<Hash>,
}

impl<'a> Key<'a> {
    pub(crate) fn new(step: &'a [u8]) -> Self {
        Key { step, key: None }
    }
    fn hash(&mut self) -> &Hash {
        let step = self.step;
        self.key.get_or_insert_with(|| hash::step_key(step))
    }
    fn bit(&mut self, depth: u32) -> Result<usize, Miss> {
        hash::index_bit(self.hash(), depth).ok_or(Miss::TooDeep)
    }
}

impl Inode {
    pub(crate) fn from_v(mut v: InodeV) -> Inode {
        let hash = Once::new();
        match &mut v {
            InodeV::Blinded(h) => {
                hash.call_once(|| **h);
            }
            InodeV::Values(_) | InodeV::Tree { .. } => {}
        }
        Inode(Arc::new(InodeNode { v, hash }))
    }

    pub(crate) fn v(&self) -> &InodeV {
        &self.0.v
    }

    /// The content of this inode, as a directory's root (a copy if it is shared).
    pub(crate) fn into_v(self) -> InodeV {
        match Arc::try_unwrap(self.0) {
            Ok(node) => node.v,
            Err(shared) => shared.v.clone(),
        }
    }

    /// The content of this inode for changing it in place: the inode itself if this handle
    /// is its only owner, otherwise a fresh copy that replaces it here. Its cached hash is
    /// dropped either way.
    fn make_mut(&mut self) -> &mut InodeV {
        let node = Arc::make_mut(&mut self.0);
        node.hash = Once::new();
        &mut node.v
    }

    /// The address of the shared inode, used to remember which inodes an operation read.
    pub(crate) fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// Number of entries below this inode.
    pub(crate) fn length(&self) -> Result<u64, Miss> {
        self.0.v.length()
    }

    /// The hash of this inode as a non-root inode (`Bin.V.hash`), cached.
    pub(crate) fn hash(&self) -> Hash {
        *self.0.hash.call_once(|| self.0.v.hash())
    }

    /// This (non-root) inode's content for changing it in place ([`Inode::make_mut`]), or the
    /// miss if it is blinded (left as it is).
    fn own(&mut self) -> Result<&mut InodeV, Miss> {
        if let InodeV::Blinded(h) = &self.0.v {
            return Err(Miss::Blinded(**h));
        }
        Ok(self.make_mut())
    }
}

impl InodeV {
    /// The empty directory's root inode.
    pub(crate) fn empty() -> InodeV {
        InodeV::Values(Bucket::new())
    }

    /// The node named `step`, to be changed in place (`None` if absent). The inodes below
    /// this one on the way are made this handle's own ([`Inode::make_mut`]); their content
    /// does not change, so an error leaves the directory as it was.
    pub(crate) fn entry_mut<O: Observer>(
        &mut self,
        key: &mut Key<'_>,
        obs: &mut O,
    ) -> Result<Option<&mut Tree>, Miss> {
        match self {
            InodeV::Values(vs) => Ok(vs
                .binary_search_by(|(s, _)| (**s).cmp(key.step))
                .ok()
                .map(move |i| &mut vs[i].1)),
            InodeV::Tree {
                depth, children, ..
            } => match &mut children[key.bit(*depth)?] {
                None => Ok(None),
                Some(child) => {
                    obs.inode(child);
                    child.own()?.entry_mut(key, obs)
                }
            },
            InodeV::Blinded(h) => Err(Miss::Blinded(**h)),
        }
    }

    /// [`InodeV::add`] in place: binds `step` to `tree` in this inode (at `depth`), copying
    /// only the inodes below it that other handles share; says whether the entry is new. On an
    /// error the inode keeps its content.
    pub(crate) fn add_mut<O: Observer>(
        &mut self,
        depth: u32,
        key: &mut Key<'_>,
        tree: Tree,
        obs: &mut O,
    ) -> Result<bool, Miss> {
        let split_into = match self {
            InodeV::Values(vs) => match vs.binary_search_by(|(s, _)| (**s).cmp(key.step)) {
                Ok(i) => {
                    vs[i].1 = tree;
                    return Ok(false);
                }
                Err(i) if vs.len() < ENTRIES => {
                    vs.insert(i, (key.step.into(), tree));
                    return Ok(true);
                }
                Err(i) => {
                    let mut entries = Vec::with_capacity(vs.len() + 1);
                    entries.extend_from_slice(&vs[..i]);
                    entries.push((key.step.into(), tree));
                    entries.extend_from_slice(&vs[i..]);
                    split_known(entries, depth, key)?
                }
            },
            InodeV::Tree {
                depth: d,
                length,
                children,
            } => {
                let i = key.bit(*d)?;
                let added = match &mut children[i] {
                    None => {
                        children[i] = Some(Inode::from_v(InodeV::Values(Bucket::One((
                            key.step.into(),
                            tree,
                        )))));
                        true
                    }
                    Some(child) => {
                        obs.inode(child);
                        child.own()?.add_mut(d.saturating_add(1), key, tree, obs)?
                    }
                };
                if added {
                    *length = length.saturating_add(1);
                }
                return Ok(added);
            }
            InodeV::Blinded(h) => return Err(Miss::Blinded(**h)),
        };
        *self = split_into;
        Ok(true)
    }

    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, InodeV::Values(vs) if vs.is_empty())
    }

    /// Number of entries below this inode.
    pub(crate) fn length(&self) -> Result<u64, Miss> {
        match self {
            InodeV::Values(vs) => Ok(vs.len() as u64),
            InodeV::Tree { length, .. } => Ok(*length),
            InodeV::Blinded(h) => Err(Miss::Blinded(**h)),
        }
    }

    /// The hash of this content as a non-root inode (`Bin.V.hash`), not cached.
    pub(crate) fn hash(&self) -> Hash {
        match self {
            InodeV::Values(vs) => {
                hash::inode_values(vs.iter().map(|(s, t)| (&s[..], t.entry_kind(), t.hash())))
            }
            InodeV::Tree {
                depth,
                length,
                children,
            } => hash::inode_tree(
                *depth,
                *length,
                &[
                    children[0].as_ref().map(Inode::hash),
                    children[1].as_ref().map(Inode::hash),
                ],
            ),
            InodeV::Blinded(h) => **h,
        }
    }

    /// The hash of the directory whose root inode this is. irmin hashes a root with at most
    /// `stable_hash = 2` entries in the v1 "stable" node form (`should_be_stable`), anything
    /// else in the inode form. A canonical root bucket always has at most 2 entries; a root
    /// tree always has more (proof decoding rejects other shapes).
    pub(crate) fn root_hash(&self) -> Hash {
        match self {
            InodeV::Values(vs) if vs.len() <= ENTRIES => {
                hash::stable_node(vs.iter().map(|(s, t)| (&s[..], t.entry_kind(), t.hash())))
            }
            _ => self.hash(),
        }
    }

    /// The node named `step`, if any.
    pub(crate) fn find<O: Observer>(
        &self,
        key: &mut Key<'_>,
        obs: &mut O,
    ) -> Result<Option<&Tree>, Miss> {
        let mut cur = self;
        loop {
            match cur {
                InodeV::Values(vs) => {
                    return Ok(vs
                        .binary_search_by(|(s, _)| (**s).cmp(key.step))
                        .ok()
                        .map(|i| &vs[i].1));
                }
                InodeV::Tree {
                    depth, children, ..
                } => match &children[key.bit(*depth)?] {
                    None => return Ok(None),
                    Some(child) => {
                        obs.inode(child);
                        cur = &child.0.v;
                    }
                },
                InodeV::Blinded(h) => return Err(Miss::Blinded(**h)),
            }
        }
    }

    /// This inode (at `depth`) with `step` bound to `tree` (added or replaced); also says
    /// whether the entry is new.
    pub(crate) fn add<O: Observer>(
        &self,
        depth: u32,
        key: &mut Key<'_>,
        tree: Tree,
        obs: &mut O,
    ) -> Result<(InodeV, bool), Miss> {
        match self {
            InodeV::Values(vs) => {
                let mut vs = vs.to_vec();
                let added = match vs.binary_search_by(|(s, _)| (**s).cmp(key.step)) {
                    Ok(i) => {
                        vs[i].1 = tree;
                        false
                    }
                    Err(i) => {
                        vs.insert(i, (key.step.into(), tree));
                        true
                    }
                };
                Ok((split_known(vs, depth, key)?, added))
            }
            InodeV::Tree {
                depth: d,
                length,
                children,
            } => {
                let i = key.bit(*d)?;
                let mut children = children.clone();
                let added = match &children[i] {
                    None => {
                        children[i] = Some(Inode::from_v(InodeV::Values(Bucket::One((
                            key.step.into(),
                            tree,
                        )))));
                        true
                    }
                    Some(child) => {
                        obs.inode(child);
                        let (c, added) = child.0.v.add(d.saturating_add(1), key, tree, obs)?;
                        children[i] = Some(Inode::from_v(c));
                        added
                    }
                };
                let length = if added {
                    length.saturating_add(1)
                } else {
                    *length
                };
                Ok((
                    InodeV::Tree {
                        depth: *d,
                        length,
                        children,
                    },
                    added,
                ))
            }
            InodeV::Blinded(h) => Err(Miss::Blinded(**h)),
        }
    }

    /// This inode without `step`, or `None` if `step` is absent. A tree left with at most 2
    /// entries collapses into a bucket (which reads all of them, as irmin does).
    pub(crate) fn remove<O: Observer>(
        &self,
        key: &mut Key<'_>,
        obs: &mut O,
    ) -> Result<Option<InodeV>, Miss> {
        if self.find(key, obs)?.is_none() {
            return Ok(None);
        }
        self.remove_present(key, obs).map(Some)
    }

    fn remove_present<O: Observer>(&self, key: &mut Key<'_>, obs: &mut O) -> Result<InodeV, Miss> {
        match self {
            InodeV::Values(vs) => Ok(InodeV::Values(
                vs.iter()
                    .filter(|(s, _)| **s != *key.step)
                    .cloned()
                    .collect(),
            )),
            InodeV::Tree {
                depth,
                length,
                children,
            } => {
                let length = length.saturating_sub(1);
                if length <= ENTRIES as u64 {
                    let mut all = Vec::new();
                    self.collect(&mut all, obs)?;
                    all.retain(|(s, _)| **s != *key.step);
                    all.sort_by(|a, b| a.0.cmp(&b.0));
                    return Ok(InodeV::Values(all.into()));
                }
                let i = key.bit(*depth)?;
                let mut children = children.clone();
                // `find` went this way, so the child exists and is not blinded.
                if let Some(child) = &children[i] {
                    children[i] = if child.length()? == 1 {
                        None
                    } else {
                        Some(Inode::from_v(child.0.v.remove_present(key, obs)?))
                    };
                }
                Ok(InodeV::Tree {
                    depth: *depth,
                    length,
                    children,
                })
            }
            InodeV::Blinded(h) => Err(Miss::Blinded(**h)),
        }
    }

    /// Appends every entry below this inode, in irmin's listing order.
    pub(crate) fn collect<O: Observer>(
        &self,
        out: &mut Vec<Entry>,
        obs: &mut O,
    ) -> Result<(), Miss> {
        match self {
            InodeV::Values(vs) => {
                out.extend(vs.iter().cloned());
                Ok(())
            }
            InodeV::Tree { children, .. } => {
                for child in children.iter().flatten() {
                    obs.inode(child);
                    child.0.v.collect(out, obs)?;
                }
                Ok(())
            }
            InodeV::Blinded(h) => Err(Miss::Blinded(**h)),
        }
    }

    /// Appends up to `*remaining` entries after skipping `*skip` of them, in irmin's listing
    /// order (`Inode.seq`: children in index order, buckets in step order), skipping whole
    /// subtrees by their length like irmin's `seq_tree` so `nth` costs O(depth).
    pub(crate) fn list<O: Observer>(
        &self,
        skip: &mut u64,
        remaining: &mut u64,
        out: &mut Vec<Entry>,
        obs: &mut O,
    ) -> Result<(), Miss> {
        match self {
            InodeV::Values(vs) => {
                for e in vs {
                    if *remaining == 0 {
                        break;
                    }
                    if *skip > 0 {
                        *skip -= 1;
                    } else {
                        out.push(e.clone());
                        *remaining -= 1;
                    }
                }
                Ok(())
            }
            InodeV::Tree { children, .. } => {
                for child in children.iter().flatten() {
                    if *remaining == 0 {
                        break;
                    }
                    obs.inode(child);
                    let len = child.length()?;
                    if *skip >= len {
                        *skip -= len;
                    } else {
                        child.0.v.list(skip, remaining, out, obs)?;
                    }
                }
                Ok(())
            }
            InodeV::Blinded(h) => Err(Miss::Blinded(**h)),
        }
    }
}

/// The canonical inode at `depth` for sorted `entries`: a bucket if there are at most 2, else a
/// tree splitting them on bit `depth` of their step hashes (recursively). The hash of `key`'s
/// step is known already (or kept for the caller): it is not computed twice.
fn split_known(entries: Vec<Entry>, depth: u32, key: &mut Key<'_>) -> Result<InodeV, Miss> {
    if entries.len() <= ENTRIES {
        return Ok(InodeV::Values(entries.into()));
    }
    let known = *key.hash();
    let keyed: Vec<(Hash, Entry)> = entries
        .into_iter()
        .map(|e| {
            let h = if *e.0 == *key.step {
                known
            } else {
                hash::step_key(&e.0)
            };
            (h, e)
        })
        .collect();
    split_keyed(keyed, depth)
}

fn split_keyed(entries: Vec<(Hash, Entry)>, depth: u32) -> Result<InodeV, Miss> {
    if entries.len() <= ENTRIES {
        return Ok(InodeV::Values(
            entries.into_iter().map(|(_, e)| e).collect(),
        ));
    }
    if depth >= MAX_DEPTH {
        return Err(Miss::TooDeep);
    }
    let length = entries.len() as u64;
    let mut sides: [Vec<(Hash, Entry)>; 2] = [Vec::new(), Vec::new()];
    for (k, e) in entries {
        let bit = hash::index_bit(&k, depth).ok_or(Miss::TooDeep)?;
        sides[bit].push((k, e));
    }
    let [zero, one] = sides;
    let child = |side: Vec<(Hash, Entry)>| -> Result<Option<Inode>, Miss> {
        if side.is_empty() {
            Ok(None)
        } else {
            split_keyed(side, depth + 1).map(|v| Some(Inode::from_v(v)))
        }
    };
    let children = [child(zero)?, child(one)?];
    Ok(InodeV::Tree {
        depth,
        length,
        children,
    })
}
