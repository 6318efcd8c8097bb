//! Durable storage: the kernel-visible key/value store of the WASM PVM, on top of [`crate::tree`].
//!
//! The layout mirrors octez's `Durable` module (`src/lib_scoru_wasm/durable.ml`) byte for byte so
//! the state hash of a Soru PVM can match octez's:
//!
//! - a key `/a/b` is the tree path `a/b`; the durable tree itself lives under `/durable` in the
//!   PVM state tree (see [`crate::pvm`]);
//! - the value stored at key `/a/b` lives under `a/b/@` as an octez *chunked byte vector*:
//!   `@/length` holds the length as an 8-byte big-endian `int64`, and `@/contents/<i>` (decimal
//!   `i`) holds chunk `i`, always a full [`CHUNK_SIZE`]-byte string (the last chunk is padded with
//!   zeros). Chunks that were never written (e.g. after `store_create`) are absent and read as
//!   zeros;
//! - keys start with `/`, have non-empty steps over `[A-Za-z0-9._-]`, at most
//!   [`MAX_KEY_LENGTH`] bytes; keys under `/readonly` (and the empty key, the root) are read-only
//!   for the kernel.
//!
//! Writes re-encode only the chunks they touch, like octez's lazy vector encoding, so the same
//! sequence of host calls produces the same tree.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::abi::{CHUNK_SIZE, MAX_KEY_LENGTH, MAX_STORE_IO_SIZE};
use crate::tree::{Hash, Kind, Tree, TreeError};

/// The step under which a key's value is stored (`@` is not a valid key character).
pub const VALUE_MARKER: &[u8] = b"@";
/// The first step of read-only keys.
pub const READONLY_STEP: &[u8] = b"readonly";
const LENGTH_STEP: &[u8] = b"length";
const CONTENTS_STEP: &[u8] = b"contents";

/// Errors of durable-storage operations; each maps to one host error code ([`crate::abi::HostError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurableError {
    /// The key is longer than [`MAX_KEY_LENGTH`] bytes.
    #[error("key of {length} bytes is longer than the maximum of {MAX_KEY_LENGTH}")]
    KeyTooLong {
        /// Length of the rejected key.
        length: usize,
    },
    /// The key does not start with `/`, has an empty step or a character outside `[A-Za-z0-9._-]`.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The key as (lossy) text.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The operation would modify a read-only key (under `/readonly`, or the root).
    #[error("key is read-only")]
    Readonly,
    /// No value is stored at the key.
    #[error("no value at the key")]
    ValueNotFound,
    /// No subtree exists at the key.
    #[error("no subtree at the key")]
    TreeNotFound,
    /// An offset lies outside the value.
    #[error("offset {offset} is out of bounds for a value of {length} bytes")]
    OutOfBounds {
        /// The offset requested.
        offset: i64,
        /// The length of the value.
        length: u64,
    },
    /// A negative size or offset reached the value layer (octez raises `Bounds` here, which the
    /// host functions report as a generic invalid access).
    #[error("negative size or offset {0}")]
    Negative(i64),
    /// More than [`MAX_STORE_IO_SIZE`] bytes in one read or write.
    #[error("{0} bytes exceed the maximum of {MAX_STORE_IO_SIZE} per read or write")]
    IoTooLarge(i64),
    /// `store_get_nth_key` index beyond the number of children.
    #[error("subkey index {0} is out of range")]
    IndexTooLarge(i64),
    /// The stored length of a value is not an 8-byte big-endian integer, or is longer than
    /// [`MAX_VALUE_LENGTH`].
    #[error("corrupt value length at {path}: {length} bytes")]
    CorruptLength {
        /// Key of the value.
        path: String,
        /// Number of bytes of the length found, or the length when it is too long.
        length: usize,
    },
    /// The underlying tree failed (e.g. a blinded node of a proof tree was read).
    #[error("tree error: {0}")]
    Tree(#[from] TreeError),
}

/// A parsed durable-storage key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    steps: Vec<Vec<u8>>,
}

impl Key {
    /// Parses a key exactly like octez's `key_of_string_exn`: at most [`MAX_KEY_LENGTH`] bytes,
    /// `""` is the (read-only) root, otherwise `/step(/step)*` with non-empty steps over
    /// `[A-Za-z0-9._-]`.
    pub fn parse(bytes: &[u8]) -> Result<Key, DurableError> {
        if bytes.len() > MAX_KEY_LENGTH {
            return Err(DurableError::KeyTooLong {
                length: bytes.len(),
            });
        }
        let invalid = |reason| DurableError::InvalidKey {
            key: String::from_utf8_lossy(bytes).into_owned(),
            reason,
        };
        if bytes.is_empty() {
            return Ok(Key { steps: Vec::new() });
        }
        let rest = bytes
            .strip_prefix(b"/")
            .ok_or_else(|| invalid("does not start with '/'"))?;
        let mut steps = Vec::new();
        for step in rest.split(|b| *b == b'/') {
            if step.is_empty() {
                return Err(invalid("empty step"));
            }
            if !step
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
            {
                return Err(invalid("character outside [A-Za-z0-9._-]"));
            }
            steps.push(step.to_vec());
        }
        Ok(Key { steps })
    }

    /// Parses a key from text (convenience for embedders); see [`Key::parse`].
    pub fn from_path(path: &str) -> Result<Key, DurableError> {
        Key::parse(path.as_bytes())
    }

    /// The steps of the key (empty for the root).
    pub fn steps(&self) -> &[Vec<u8>] {
        &self.steps
    }

    /// Whether the kernel may not modify this key: the root and everything under `/readonly`.
    pub fn is_readonly(&self) -> bool {
        self.steps.first().is_none_or(|s| s == READONLY_STEP)
    }

    fn path(&self) -> Vec<&[u8]> {
        self.steps.iter().map(Vec::as_slice).collect()
    }

    fn value_path(&self) -> Vec<&[u8]> {
        let mut p = self.path();
        p.push(VALUE_MARKER);
        p
    }

    fn text(&self) -> String {
        let mut s = String::new();
        for step in &self.steps {
            s.push('/');
            s.push_str(&String::from_utf8_lossy(step));
        }
        s
    }
}

/// Which part of a key an operation addresses (octez `Durable.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Only the value stored at the key.
    Value,
    /// The whole subtree at the key (its value and every sub-key).
    Directory,
}

/// Stores `bytes` at `path` as an octez chunked byte vector (`Chunked_byte_vector.of_bytes`,
/// encoded): `length` as a big-endian `int64` and every chunk `contents/<i>` as a full
/// [`CHUNK_SIZE`]-byte string, the last one padded with zeros. Whatever was at `path` goes.
/// Durable values and the payloads of the input buffer are stored this way.
pub(crate) fn write_chunked(
    tree: &mut Tree,
    path: &[&[u8]],
    bytes: &[u8],
) -> Result<(), DurableError> {
    let mut v = Tree::empty();
    set_length(&mut v, bytes.len() as u64)?;
    for (i, part) in bytes.chunks(CHUNK_SIZE).enumerate() {
        let mut chunk = [0u8; CHUNK_SIZE];
        chunk[..part.len()].copy_from_slice(part);
        set_chunk(&mut v, i as u64, &chunk)?;
    }
    tree.set_subtree(path, v)?;
    Ok(())
}

/// The bytes of the chunked byte vector at `path` (see [`write_chunked`]), `None` if nothing
/// is there; chunks never written read as zeros.
pub(crate) fn read_chunked(tree: &Tree, path: &[&[u8]]) -> Result<Option<Vec<u8>>, DurableError> {
    let Some(v) = tree.subtree(path)? else {
        return Ok(None);
    };
    let len = length_of(&v, || crate::tree::display_path(path))?;
    Ok(Some(load(&v, 0, len)?))
}

/// Durable storage over a persistent [`Tree`] (the content of `/durable` in the PVM state).
#[derive(Clone)]
pub struct Durable {
    tree: Tree,
}

impl Default for Durable {
    fn default() -> Self {
        Durable::new()
    }
}

impl core::fmt::Debug for Durable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Durable").finish_non_exhaustive()
    }
}

impl Durable {
    /// Empty durable storage.
    pub fn new() -> Durable {
        Durable {
            tree: Tree::empty(),
        }
    }

    /// Wraps an existing durable tree (e.g. the `/durable` subtree of a state or proof tree).
    pub fn from_tree(tree: Tree) -> Durable {
        Durable { tree }
    }

    /// The underlying tree (O(1) clone).
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// Whether anything (value or subtree) exists at `key` (`store_exists`).
    pub fn exists(&self, key: &Key) -> Result<bool, DurableError> {
        if key.steps.is_empty() {
            return Ok(true);
        }
        Ok(self.tree.kind(&key.path())?.is_some())
    }

    /// Whether a value is stored at `key`.
    pub fn has_value(&self, key: &Key) -> Result<bool, DurableError> {
        Ok(self.tree.kind(&key.value_path())?.is_some())
    }

    /// Number of children of the node at `key`, counting the value marker (`store_list_size`).
    pub fn count_subtrees(&self, key: &Key) -> Result<usize, DurableError> {
        Ok(self.tree.len(&key.path())?)
    }

    /// Length of the value at `key`, if any.
    pub fn value_length(&self, key: &Key) -> Result<Option<u64>, DurableError> {
        match self.value_node(key)? {
            Some(v) => Ok(Some(length_of(&v, || key.text())?)),
            None => Ok(None),
        }
    }

    /// The `@` subtree of `key` (its length and chunks), found in one descent so that reading
    /// or writing a value hashes the steps of the large directories above it only once.
    fn value_node(&self, key: &Key) -> Result<Option<Tree>, DurableError> {
        Ok(self.tree.subtree(&key.value_path())?)
    }

    /// The whole value at `key`, if any.
    pub fn read_all(&self, key: &Key) -> Result<Option<Vec<u8>>, DurableError> {
        let Some(v) = self.value_node(key)? else {
            return Ok(None);
        };
        let len = length_of(&v, || key.text())?;
        Ok(Some(load(&v, 0, len)?))
    }

    /// Reads at most `max_bytes` bytes at `offset` (octez `read_value_exn`, used by `store_read`).
    pub fn read_value(
        &self,
        key: &Key,
        offset: i64,
        max_bytes: i64,
    ) -> Result<Vec<u8>, DurableError> {
        if max_bytes > MAX_STORE_IO_SIZE as i64 {
            return Err(DurableError::IoTooLarge(max_bytes));
        }
        let v = self.value_node(key)?.ok_or(DurableError::ValueNotFound)?;
        let length = length_of(&v, || key.text())?;
        if offset < 0 || offset as u64 >= length {
            return Err(DurableError::OutOfBounds { offset, length });
        }
        let end = (offset.saturating_add(max_bytes) as i128).min(length as i128);
        let n = end - offset as i128;
        if n < 0 {
            return Err(DurableError::Negative(n as i64));
        }
        load(&v, offset as u64, n as u64)
    }

    fn write_length(&mut self, key: &Key, length: u64) -> Result<(), DurableError> {
        let mut p = key.value_path();
        p.push(LENGTH_STEP);
        self.tree.set_value(&p, &(length as i64).to_be_bytes())?;
        Ok(())
    }

    fn check_writeable(key: &Key, edit_readonly: bool) -> Result<(), DurableError> {
        if !edit_readonly && key.is_readonly() {
            return Err(DurableError::Readonly);
        }
        Ok(())
    }

    /// Replaces the value at `key` by `bytes` (octez `set_value_exn`).
    pub fn set_value(
        &mut self,
        key: &Key,
        bytes: &[u8],
        edit_readonly: bool,
    ) -> Result<(), DurableError> {
        Self::check_writeable(key, edit_readonly)?;
        // Whatever was under `@` goes: the new value is built apart and put in one descent.
        write_chunked(&mut self.tree, &key.value_path(), bytes)?;
        Ok(())
    }

    /// Allocates a zero-filled value of `size` bytes; `Ok(false)` if a value already exists
    /// (octez `create_value_exn`, used by `store_create`).
    pub fn create_value(
        &mut self,
        key: &Key,
        size: u64,
        edit_readonly: bool,
    ) -> Result<bool, DurableError> {
        Self::check_writeable(key, edit_readonly)?;
        if self.tree.kind(&key.value_path())?.is_some() {
            return Ok(false);
        }
        self.write_length(key, size)?;
        Ok(true)
    }

    /// Writes `bytes` at `offset`, growing the value (or creating it) as needed
    /// (octez `write_value_exn`, used by `store_write`).
    pub fn write_value(
        &mut self,
        key: &Key,
        offset: i64,
        bytes: &[u8],
        edit_readonly: bool,
    ) -> Result<(), DurableError> {
        Self::check_writeable(key, edit_readonly)?;
        if bytes.len() > MAX_STORE_IO_SIZE {
            return Err(DurableError::IoTooLarge(bytes.len() as i64));
        }
        self.write_value_with(key, offset, edit_readonly, |_| Ok(bytes))
    }

    /// [`Durable::write_value`] in one descent of the tree: `prepare` gets the value's current
    /// length (`None` if there is no value), runs the caller's own checks and returns the bytes
    /// to write; then come the checks of `write_value` (read-only key, size, offset) and the
    /// write. A failed check leaves the store unchanged (only a tree error in the middle of the
    /// write, a blinded chunk of a proof tree, can leave part of it done).
    pub(crate) fn write_value_with<'b, E: From<DurableError>>(
        &mut self,
        key: &Key,
        offset: i64,
        edit_readonly: bool,
        prepare: impl FnOnce(Option<u64>) -> Result<&'b [u8], E>,
    ) -> Result<(), E> {
        /// The closure's failures: the caller's or the store's.
        enum Failed<E> {
            Caller(E),
            Store(DurableError),
        }
        impl<E> From<TreeError> for Failed<E> {
            fn from(e: TreeError) -> Self {
                Failed::Store(e.into())
            }
        }
        impl<E> From<DurableError> for Failed<E> {
            fn from(e: DurableError) -> Self {
                Failed::Store(e)
            }
        }
        let done = self.tree.update(&key.value_path(), |v| {
            // `v` is the value's `@` subtree, an empty directory if there is no value.
            let existing = if v.is_empty() {
                None
            } else {
                Some(length_of(v, || key.text())?)
            };
            let bytes = prepare(existing).map_err(Failed::Caller)?;
            Self::check_writeable(key, edit_readonly)?;
            if bytes.len() > MAX_STORE_IO_SIZE {
                return Err(DurableError::IoTooLarge(bytes.len() as i64).into());
            }
            let length = existing.unwrap_or(0);
            if offset > length as i64 {
                return Err(DurableError::OutOfBounds { offset, length }.into());
            }
            if offset < 0 {
                return Err(DurableError::Negative(offset).into());
            }
            write_at(v, existing.is_none(), length, offset as u64, bytes)?;
            Ok(())
        });
        match done {
            Ok(()) => Ok(()),
            Err(Failed::Caller(e)) => Err(e),
            Err(Failed::Store(e)) => Err(e.into()),
        }
    }

    /// Removes the value (`Target::Value`) or the whole subtree (`Target::Directory`) at `key`.
    pub fn delete(
        &mut self,
        key: &Key,
        target: Target,
        edit_readonly: bool,
    ) -> Result<(), DurableError> {
        Self::check_writeable(key, edit_readonly)?;
        match target {
            Target::Value => self.tree.remove(&key.value_path())?,
            Target::Directory => self.tree.remove(&key.path())?,
        };
        Ok(())
    }

    fn find_tree(&self, key: &Key) -> Result<Tree, DurableError> {
        self.tree
            .subtree(&key.path())?
            .ok_or(DurableError::TreeNotFound)
    }

    /// Copies the subtree at `from` to `to`, replacing what was there (`store_copy`).
    pub fn copy_tree(
        &mut self,
        from: &Key,
        to: &Key,
        edit_readonly: bool,
    ) -> Result<(), DurableError> {
        Self::check_writeable(to, edit_readonly)?;
        let sub = self.find_tree(from)?;
        self.tree.set_subtree(&to.path(), sub)?;
        Ok(())
    }

    /// Moves the subtree at `from` to `to` (`store_move`); both keys must be writeable.
    pub fn move_tree(&mut self, from: &Key, to: &Key) -> Result<(), DurableError> {
        Self::check_writeable(from, false)?;
        Self::check_writeable(to, false)?;
        let sub = self.find_tree(from)?;
        self.tree.remove(&from.path())?;
        self.tree.set_subtree(&to.path(), sub)?;
        Ok(())
    }

    /// The name of the `index`-th child of `key` in the tree's order; the value marker is
    /// reported as the empty name (`store_get_nth_key`).
    pub fn subtree_name_at(&self, key: &Key, index: i64) -> Result<Vec<u8>, DurableError> {
        let sub = self.find_tree(key)?;
        if index < 0 {
            return Err(DurableError::IndexTooLarge(index));
        }
        match sub.nth_step(&[], index as usize)? {
            Some(step) if step == VALUE_MARKER => Ok(Vec::new()),
            Some(step) => Ok(step),
            None => Err(DurableError::IndexTooLarge(index)),
        }
    }

    /// Hash of the subtree at `key` (`Target::Directory`) or of its value node (`Target::Value`).
    pub fn hash(&self, key: &Key, target: Target) -> Result<Option<Hash>, DurableError> {
        let sub = match target {
            Target::Directory => {
                if key.steps.is_empty() {
                    return Ok(Some(self.tree.hash()));
                }
                self.tree.subtree(&key.path())?
            }
            Target::Value => self.tree.subtree(&key.value_path())?,
        };
        Ok(sub.map(|t| t.hash()))
    }

    /// Every value in the store as `(key, bytes)`, depth first in the tree's order.
    pub fn values(&self) -> DurableValues<'_> {
        self.value_prefixes(u64::MAX)
    }

    /// Like [`Durable::values`], but each value cut to its first `limit` bytes, so listing a
    /// store with a 2 GiB value (one `store_create` makes it) allocates at most `limit` bytes
    /// per value; [`Durable::value_length`] gives the full length.
    pub fn value_prefixes(&self, limit: u64) -> DurableValues<'_> {
        DurableValues {
            durable: self,
            stack: vec![Vec::new()],
            limit,
        }
    }
}

/// The decimal step of chunk `index` (`contents/<index>`), without allocating.
struct ChunkStep {
    buf: [u8; 20],
    start: usize,
}

impl ChunkStep {
    fn new(mut index: u64) -> ChunkStep {
        let mut buf = [0u8; 20];
        let mut start = buf.len();
        loop {
            start -= 1;
            buf[start] = b'0' + (index % 10) as u8;
            index /= 10;
            if index == 0 {
                break;
            }
        }
        ChunkStep { buf, start }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

/// The length stored in a value's `@` subtree `v` (an 8-byte big-endian `int64`).
/// The longest value host functions can write: `store_write` at offset `i32::MAX` with
/// [`crate::abi::MAX_STORE_IO_SIZE`] bytes.
pub const MAX_VALUE_LENGTH: u64 = i32::MAX as u64 + crate::abi::MAX_STORE_IO_SIZE as u64;

fn length_of(v: &Tree, path: impl FnOnce() -> String) -> Result<u64, DurableError> {
    let mut buf = [0u8; 8];
    match v.read_value_prefix(&[LENGTH_STEP], &mut buf)? {
        // No host call writes past `i32::MAX` plus one write: a longer length is a forged
        // tree (e.g. a hostile proof), which must not make readers allocate it.
        Some(8) => match i64::from_be_bytes(buf).max(0) as u64 {
            len if len <= MAX_VALUE_LENGTH => Ok(len),
            len => Err(DurableError::CorruptLength {
                path: path(),
                length: usize::try_from(len).unwrap_or(usize::MAX),
            }),
        },
        // A value node without length decodes as length 0 in octez only if absent;
        // treat a missing length as corrupt.
        found => Err(DurableError::CorruptLength {
            path: path(),
            length: found.unwrap_or(0),
        }),
    }
}

fn set_length(v: &mut Tree, length: u64) -> Result<(), DurableError> {
    v.set_value(&[LENGTH_STEP], &(length as i64).to_be_bytes())?;
    Ok(())
}

/// Chunk `index` of `v` into `out` (chunks never written read as zeros).
fn read_chunk(v: &Tree, index: u64, out: &mut [u8; CHUNK_SIZE]) -> Result<(), DurableError> {
    let idx = ChunkStep::new(index);
    let n = v
        .read_value_prefix(&[CONTENTS_STEP, idx.bytes()], out)?
        .unwrap_or(0)
        .min(CHUNK_SIZE);
    out[n..].fill(0);
    Ok(())
}

fn set_chunk(v: &mut Tree, index: u64, chunk: &[u8; CHUNK_SIZE]) -> Result<(), DurableError> {
    let idx = ChunkStep::new(index);
    v.set_value(&[CONTENTS_STEP, idx.bytes()], chunk)?;
    Ok(())
}

/// Writes `bytes` at `offset` into the value whose `@` subtree is `v` (of `length` bytes, or
/// `fresh`: none yet), growing it as needed. Only the chunks the bytes touch are re-encoded,
/// like octez's lazy vector encoding; `v` is edited in place.
fn write_at(
    v: &mut Tree,
    fresh: bool,
    length: u64,
    offset: u64,
    bytes: &[u8],
) -> Result<(), DurableError> {
    let new_length = length.max(offset + bytes.len() as u64);
    if new_length != length || fresh {
        set_length(v, new_length)?;
    }
    let mut pos = 0usize;
    while pos < bytes.len() {
        let abs = offset + pos as u64;
        let index = abs / CHUNK_SIZE as u64;
        let start = (abs % CHUNK_SIZE as u64) as usize;
        let take = (CHUNK_SIZE - start).min(bytes.len() - pos);
        let mut chunk = [0u8; CHUNK_SIZE];
        if take != CHUNK_SIZE {
            read_chunk(v, index, &mut chunk)?;
        }
        chunk[start..start + take].copy_from_slice(&bytes[pos..pos + take]);
        set_chunk(v, index, &chunk)?;
        pos += take;
    }
    Ok(())
}

/// `len` bytes at `offset` of the value whose `@` subtree is `v`.
fn load(v: &Tree, offset: u64, len: u64) -> Result<Vec<u8>, DurableError> {
    // Capacity grows with the chunks read, not with a length read from the tree.
    let mut out = Vec::with_capacity(len.min(1 << 20) as usize);
    let mut pos = offset;
    let end = offset + len;
    let mut chunk = [0u8; CHUNK_SIZE];
    while pos < end {
        let index = pos / CHUNK_SIZE as u64;
        let start = (pos % CHUNK_SIZE as u64) as usize;
        let take = ((CHUNK_SIZE - start) as u64).min(end - pos) as usize;
        read_chunk(v, index, &mut chunk)?;
        out.extend_from_slice(&chunk[start..start + take]);
        pos += take as u64;
    }
    Ok(out)
}

/// Iterator over every `(key, value)` of a [`Durable`]; see [`Durable::values`].
pub struct DurableValues<'a> {
    durable: &'a Durable,
    stack: Vec<Vec<Vec<u8>>>,
    limit: u64,
}

impl DurableValues<'_> {
    fn expand(&mut self, steps: Vec<Vec<u8>>) -> Result<Option<(String, Vec<u8>)>, DurableError> {
        let path: Vec<&[u8]> = steps.iter().map(Vec::as_slice).collect();
        let children = self.durable.tree.list(&path, 0, None)?;
        let mut has_value = false;
        let mut subdirs = Vec::new();
        for (name, kind) in children {
            if name == VALUE_MARKER {
                has_value = true;
            } else if kind == Kind::Directory {
                let mut s = steps.clone();
                s.push(name);
                subdirs.push(s);
            }
        }
        // Visit children in order: push them in reverse so the first is on top.
        self.stack.extend(subdirs.into_iter().rev());
        let key = Key { steps };
        if has_value {
            let bytes = match self.durable.value_node(&key)? {
                Some(v) => load(&v, 0, length_of(&v, || key.text())?.min(self.limit))?,
                None => Vec::new(),
            };
            Ok(Some((key.text(), bytes)))
        } else {
            Ok(None)
        }
    }
}

impl Iterator for DurableValues<'_> {
    type Item = Result<(String, Vec<u8>), DurableError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let steps = self.stack.pop()?;
            match self.expand(steps) {
                Ok(Some(item)) => return Some(Ok(item)),
                Ok(None) => continue,
                Err(e) => {
                    self.stack.clear();
                    return Some(Err(e));
                }
            }
        }
    }
}
