//! The Merkle tree.
