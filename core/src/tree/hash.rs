//! octez `Context_binary` hashing: the exact pre-images irmin hashes for contents, "stable"
//! (v1) directory nodes and irmin-pack inodes, all with BLAKE2b-256.
//!
//! Sources: octez `src/lib_context/encoding/context.ml` (contents as `bytes_of Int64`, the v1
//! node pre-hash with 8-byte kind, length-prefixed step and `Hash.V1`), irmin-pack
//! `src/irmin-pack/inode.ml` (`Bin.v` pre-hash: `Values` / `Tree` variants, LEB128 ints).

use crate::digest::Blake2b;
use spin::Once;

/// A BLAKE2b-256 digest: the hash of a tree node, contents or inode.
pub type Hash = [u8; 32];

type Hasher = Blake2b<32>;

/// Kind prefix of a contents entry in a v1 node pre-image (`Some ()` metadata).
const V1_KIND_CONTENTS: [u8; 8] = [0xff, 0, 0, 0, 0, 0, 0, 0];
/// Kind prefix of a node entry in a v1 node pre-image (`None` metadata).
const V1_KIND_NODE: [u8; 8] = [0; 8];

/// Whether a directory entry points at contents or at a node; both hash forms need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// A value (irmin `Contents`).
    Contents,
    /// A directory (irmin `Node`).
    Node,
}

/// BLAKE2b-256 of arbitrary bytes (used for the child ordering key `H(step)`).
pub(crate) fn blake2b(bytes: &[u8]) -> Hash {
    let mut h = Hasher::new();
    h.update(bytes);
    h.finalize()
}

/// Steps the state layout names over and over (octez's `wasm_2_0_0` tree and durable storage):
/// their hash `H(step)`, which orders them in large directories, is computed once per process.
const KNOWN_STEPS: [&[u8]; 28] = [
    b"value",
    b"contents",
    b"length",
    b"wasm",
    b"head",
    b"message-counter",
    b"raw-level",
    b"tag",
    b"pvm",
    b"reboot_counter",
    b"last_top_level_call",
    b"durable",
    b"buffers",
    b"input",
    b"output",
    b"outboxes",
    b"last_level",
    b"validity_period",
    b"message_limit",
    b"current_tick",
    b"max_nb_ticks",
    b"maximum_reboots_per_input",
    b"outbox_validity_period",
    b"outbox_message_limit",
    b"@",
    b"kernel",
    b"boot.wasm",
    b"readonly",
];

/// Decimal steps below this (chunk, message and input indices) also have their hash kept.
const KNOWN_DECIMALS: usize = 1000;

static KNOWN_STEP_HASHES: [Once<Hash>; KNOWN_STEPS.len()] =
    [const { Once::new() }; KNOWN_STEPS.len()];
static DECIMAL_HASHES: [Once<Hash>; KNOWN_DECIMALS] = [const { Once::new() }; KNOWN_DECIMALS];

/// `H(step)`, the child-ordering key of a directory entry: [`blake2b`] of the step, kept
/// once computed for the steps every operation on the state tree goes through (names of the
/// state layout, decimal indices below 1000).
pub(crate) fn step_key(step: &[u8]) -> Hash {
    let decimal = matches!(
        step,
        [b'0'] | [b'1'..=b'9'] | [b'1'..=b'9', _] | [b'1'..=b'9', _, _]
    ) && step.iter().all(u8::is_ascii_digit);
    let slot = if decimal {
        let n = step
            .iter()
            .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
        DECIMAL_HASHES.get(n)
    } else {
        KNOWN_STEPS
            .iter()
            .position(|k| *k == step)
            .and_then(|i| KNOWN_STEP_HASHES.get(i))
    };
    match slot {
        Some(once) => *once.call_once(|| blake2b(step)),
        None => recent_step_key(step),
    }
}

/// Longest step [`RECENT_STEPS`] keeps.
const RECENT_MAX: usize = 30;

/// A step and its `H(step)`, one slot of [`RECENT_STEPS`] (`len` > [`RECENT_MAX`]: empty).
#[derive(Clone, Copy)]
struct Recent {
    len: u8,
    step: [u8; RECENT_MAX],
    hash: Hash,
}

/// The hashes of recently seen steps outside [`KNOWN_STEPS`], one slot per value of a cheap
/// hash of the step (a new step replaces the one in its slot). A kernel's own directories
/// (`/durable/accounts` and the like) are on the path of its every write, and each write into
/// a directory of more than 2 entries needs `H(step)` of the step below it: without this, a
/// BLAKE2b compression per write for a step that never changes.
static RECENT_STEPS: spin::Mutex<[Recent; 64]> = spin::Mutex::new(
    [Recent {
        len: u8::MAX,
        step: [0; RECENT_MAX],
        hash: [0; 32],
    }; 64],
);

/// `H(step)` through [`RECENT_STEPS`] (computed directly when another thread holds it).
fn recent_step_key(step: &[u8]) -> Hash {
    if step.len() > RECENT_MAX {
        return blake2b(step);
    }
    // FNV-1a of the step picks the slot.
    let fnv = step.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let i = (fnv % 64) as usize;
    if let Some(recent) = RECENT_STEPS.try_lock() {
        let r = &recent[i];
        if usize::from(r.len) == step.len() && r.step[..step.len()] == *step {
            return r.hash;
        }
    }
    let hash = blake2b(step);
    if let Some(mut recent) = RECENT_STEPS.try_lock() {
        let mut r = Recent {
            len: step.len() as u8,
            step: [0; RECENT_MAX],
            hash,
        };
        r.step[..step.len()].copy_from_slice(step);
        recent[i] = r;
    }
    hash
}

/// A streaming hasher for pre-images that batches the many small fields of a pre-image into
/// one buffer (BLAKE2b per-`update` overhead dominates otherwise).
struct Stream {
    h: Hasher,
    buf: [u8; 512],
    len: usize,
}

impl Stream {
    fn new() -> Self {
        Stream {
            h: Hasher::new(),
            buf: [0; 512],
            len: 0,
        }
    }
    fn flush(&mut self) {
        self.h.update(&self.buf[..self.len]);
        self.len = 0;
    }
    fn bytes(&mut self, b: &[u8]) {
        if self.len + b.len() > self.buf.len() {
            self.flush();
            if b.len() > self.buf.len() {
                self.h.update(b);
                return;
            }
        }
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }
    fn zeros(&mut self, mut n: usize) {
        while n > 0 {
            if self.len == self.buf.len() {
                self.flush();
            }
            let take = n.min(self.buf.len() - self.len);
            self.buf[self.len..self.len + take].fill(0);
            self.len += take;
            n -= take;
        }
    }
    fn leb(&mut self, n: u64) {
        let mut buf = [0u8; 10];
        let mut len = 0;
        let mut n = n;
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                buf[len] = byte;
                len += 1;
                break;
            }
            buf[len] = byte | 0x80;
            len += 1;
        }
        self.bytes(&buf[..len]);
    }
    fn finish(mut self) -> Hash {
        self.flush();
        self.h.finalize()
    }
}

/// Hash of contents: `H(be64 len | bytes)` (octez `Contents.pre_hash_v1`) for the value of
/// `len` bytes that starts with `head` and continues with zeros.
pub(crate) fn contents(head: &[u8], len: usize) -> Hash {
    let mut s = Stream::new();
    s.bytes(&(len as u64).to_be_bytes());
    s.bytes(head);
    s.zeros(len.saturating_sub(head.len()));
    s.finish()
}

/// Hash of a "stable" directory (a root with at most `stable_hash = 2` entries): the irmin 1.4
/// v1 node pre-image. `entries` must be sorted by raw step bytes (octez sorts with
/// `String.compare` before hashing).
pub(crate) fn stable_node<'a>(
    entries: impl ExactSizeIterator<Item = (&'a [u8], EntryKind, Hash)>,
) -> Hash {
    let mut s = Stream::new();
    s.bytes(&(entries.len() as u64).to_be_bytes());
    for (step, kind, hash) in entries {
        s.bytes(match kind {
            EntryKind::Contents => &V1_KIND_CONTENTS,
            EntryKind::Node => &V1_KIND_NODE,
        });
        s.leb(step.len() as u64);
        s.bytes(step);
        s.bytes(&32u64.to_be_bytes());
        s.bytes(&hash);
    }
    s.finish()
}

/// Hash of a non-root inode bucket (`Bin.Values`): `H(00 | leb n | (leb len | step | kind | hash)*)`
/// with kind `00` for a node and `01` for contents, entries in step order.
pub(crate) fn inode_values<'a>(
    entries: impl ExactSizeIterator<Item = (&'a [u8], EntryKind, Hash)>,
) -> Hash {
    let mut s = Stream::new();
    s.bytes(&[0]);
    s.leb(entries.len() as u64);
    for (step, kind, hash) in entries {
        s.leb(step.len() as u64);
        s.bytes(step);
        s.bytes(&[match kind {
            EntryKind::Node => 0,
            EntryKind::Contents => 1,
        }]);
        s.bytes(&hash);
    }
    s.finish()
}

/// Hash of an inode tree (`Bin.Tree`): `H(01 | leb depth | leb length | leb k | (leb index | hash)*)`
/// over the present children in index order.
pub(crate) fn inode_tree(depth: u32, length: u64, children: &[Option<Hash>; 2]) -> Hash {
    let mut s = Stream::new();
    s.bytes(&[1]);
    s.leb(u64::from(depth));
    s.leb(length);
    s.leb(children.iter().flatten().count() as u64);
    for (index, child) in children.iter().enumerate() {
        if let Some(h) = child {
            s.leb(index as u64);
            s.bytes(h);
        }
    }
    s.finish()
}

/// Bit `depth` (MSB-first) of the child-ordering key `H(step)`: the child index at that depth
/// (irmin `Child_ordering.hash_bits` with `entries = 2`). `None` beyond the 256 bits of the key.
pub(crate) fn index_bit(key: &Hash, depth: u32) -> Option<usize> {
    let byte = *key.get(usize::try_from(depth / 8).ok()?)?;
    Some(usize::from((byte >> (7 - (depth % 8))) & 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_hash_the_zero_tail_as_bytes() {
        let mut chunk = [0u8; 512];
        chunk[..3].copy_from_slice(b"abc");
        let mut preimage = (512u64).to_be_bytes().to_vec();
        preimage.extend_from_slice(&chunk);
        assert_eq!(contents(&chunk[..3], 512), blake2b(&preimage));
        assert_eq!(contents(&chunk, 512), blake2b(&preimage));
        assert_eq!(contents(b"", 0), blake2b(&[0; 8]));
    }

    #[test]
    fn kept_step_keys_are_the_step_hashes() {
        for step in [
            &b"value"[..],
            b"@",
            b"readonly",
            b"0",
            b"7",
            b"10",
            b"999",
            b"1000",
            b"007",
            b"00",
            b"-1",
            b"12a",
            b"valu",
            b"",
            b"accounts",
            b"accountt",
            &[7; 30],
            &[7; 31],
        ] {
            assert_eq!(step_key(step), blake2b(step), "{step:?}");
            assert_eq!(step_key(step), blake2b(step), "{step:?} (kept)");
        }
    }

    #[test]
    fn index_bits_are_msb_first() {
        let mut k = [0u8; 32];
        k[0] = 0b1010_0000;
        k[31] = 1;
        assert_eq!(index_bit(&k, 0), Some(1));
        assert_eq!(index_bit(&k, 1), Some(0));
        assert_eq!(index_bit(&k, 2), Some(1));
        assert_eq!(index_bit(&k, 255), Some(1));
        assert_eq!(index_bit(&k, 256), None);
    }
}
