//! Recording which nodes of a tree a whole computation reads, for replay witnesses.
//!
//! [`super::proof::produce`] proves one operation written against [`super::proof::TreeAccess`].
//! A PVM level is thousands of operations on trees the PVM splits, copies and rebuilds
//! (durable storage, buffers, the kernel), so [`reads_of`] records at a lower level instead:
//! while it runs, every public [`Tree`] operation (in any tree, on this thread or another)
//! reports the nodes and inodes whose content it reads. Afterwards, the nodes of `base` among
//! them are revealed in a [`ProofTree`] and everything else of `base` is blinded. Running the
//! same computation on that proof tree then reads only revealed nodes.
//!
//! Nodes are remembered by address. `base` is kept alive for the whole recording, so no other
//! node can share an address with one of its nodes; a node of `base` read by an unrelated
//! computation running at the same time is revealed too, which only makes the witness larger.
//! Recordings are serialised: a second [`reads_of`] waits (spinning) until the first ends.
//! Outside a recording the cost is one relaxed atomic load per node read.

use alloc::collections::BTreeSet;
use core::sync::atomic::{AtomicBool, Ordering};

use spin::Mutex;

use super::inode::Inode;
use super::node::{Observer, Tree};
use super::proof::{tree_proof, ProofTree};

/// Whether a recording is running.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The addresses of the nodes and inodes read during the running recording.
static READS: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());
/// Held for the whole of a recording.
static SESSION: Mutex<()> = Mutex::new(());

/// The observer of every public tree operation: records reads while [`reads_of`] runs.
pub(crate) struct Ambient;

impl Observer for Ambient {
    #[inline]
    fn node(&mut self, tree: &Tree) {
        if ACTIVE.load(Ordering::Relaxed) {
            READS.lock().insert(tree.addr());
        }
    }
    #[inline]
    fn inode(&mut self, inode: &Inode) {
        if ACTIVE.load(Ordering::Relaxed) {
            READS.lock().insert(inode.addr());
        }
    }
}

/// Clears the flag even if the computation panics, so later operations stop recording.
struct Stop;

impl Drop for Stop {
    fn drop(&mut self) {
        ACTIVE.store(false, Ordering::SeqCst);
    }
}

/// Runs `f` and returns its result with the proof tree of `base` revealing exactly the nodes
/// and inodes of `base` that tree operations read while `f` ran (see the module docs). Its
/// root hash is `base`'s.
pub fn reads_of<R>(base: &Tree, f: impl FnOnce() -> R) -> (R, ProofTree) {
    let _session = SESSION.lock();
    let base = base.clone();
    READS.lock().clear();
    ACTIVE.store(true, Ordering::SeqCst);
    let stop = Stop;
    let r = f();
    drop(stop);
    let reads = core::mem::take(&mut *READS.lock());
    let proof = tree_proof(&base, &reads);
    (r, proof)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::TreeError;

    fn big() -> Tree {
        let mut t = Tree::empty();
        for i in 0..200u32 {
            t.set_value(&[b"kv", alloc::format!("{i}").as_bytes()], &i.to_be_bytes())
                .unwrap();
        }
        t.set_value(&[b"other", b"x"], b"secret").unwrap();
        t
    }

    #[test]
    fn the_recorded_reads_replay_and_nothing_else_is_revealed() {
        let base = big();
        let work = |t: &mut Tree| -> Result<Option<alloc::vec::Vec<u8>>, TreeError> {
            let v = t.value(&[b"kv", b"42"])?.map(<[u8]>::to_vec);
            t.set_value(&[b"kv", b"new"], b"1")?;
            t.remove(&[b"kv", b"7"])?;
            t.update(&[b"kv", b"9"], |n| {
                *n = Tree::from_value(b"nine");
                Ok::<(), TreeError>(())
            })?;
            Ok(v)
        };
        let mut full = base.clone();
        let (r, proof) = reads_of(&base, || work(&mut full));
        let mut partial = proof.to_tree().unwrap();
        assert_eq!(partial.hash(), base.hash());
        assert_eq!(work(&mut partial).unwrap(), r.unwrap());
        assert_eq!(partial.hash(), full.hash());
        // What the computation never read stays blinded.
        let err = partial.value(&[b"other", b"x"]).unwrap_err();
        assert!(matches!(err, TreeError::Blinded { .. }), "{err:?}");
        assert!(partial.value(&[b"kv", b"100"]).is_err());
    }

    #[test]
    fn outside_a_recording_nothing_is_recorded() {
        let base = big();
        base.value(&[b"kv", b"1"]).unwrap();
        let ((), proof) = reads_of(&base, || ());
        assert_eq!(proof, ProofTree::BlindedNode(base.hash()));
    }
}
