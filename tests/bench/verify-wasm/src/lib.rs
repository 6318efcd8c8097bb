//! One-value proof verification, the same code natively and in wasm32.
//!
//! The input is `root(32) | key_len(u8) | key | proof`: the trusted state root, the account
//! key and an octez `Merkle_proof_encoding.V2.Tree2` proof of
//! `/durable/accounts/<key>/@/contents/0` in a durable-shaped tree (see [`build_tree`]).
//! [`verify`] decodes the proof, checks it is for `root`, recomputes the partial tree's hash
//! and reads the value through it. The wasm build exports a plain C ABI ([`alloc`],
//! [`dealloc`], [`verify_n`]) that a Node script drives without bindings.

use soru_core::tree::proof::{self, Proof, TreeAccess};
use soru_core::tree::{codec, Hash, Tree};

/// The path of an account's first value chunk, as octez's durable storage lays it out.
fn value_path(key: &[u8]) -> [&[u8]; 6] {
    [b"durable", b"accounts", key, b"@", b"contents", b"0"]
}

/// The key of account `i`: 8 lowercase hex digits.
pub fn key(i: usize) -> String {
    format!("{i:08x}")
}

/// The 32-byte value of account `i`.
pub fn value(i: usize) -> [u8; 32] {
    let mut v = [0u8; 32];
    v[..8].copy_from_slice(&(i as u64).to_be_bytes());
    v
}

/// A durable-shaped tree of `n` accounts: `/durable/accounts/<key>/@/{length, contents/0}`
/// (one directory of `n` entries, an inode trie of depth ~log2 n), as `core/benches/tree.rs`.
pub fn build_tree(n: usize) -> Tree {
    let mut t = Tree::empty();
    for i in 0..n {
        let k = key(i);
        let v = value(i);
        let len = (v.len() as u64).to_le_bytes();
        t.set_value(
            &[b"durable", b"accounts", k.as_bytes(), b"@", b"length"],
            &len,
        )
        .expect("plain tree writes cannot fail");
        t.set_value(&value_path(k.as_bytes()), &v)
            .expect("plain tree writes cannot fail");
    }
    t
}

/// The verification input for account `n / 3` of a tree of `n` accounts, and the proof's size.
pub fn produce_input(n: usize) -> (Vec<u8>, usize) {
    let tree = build_tree(n);
    let k = key(n / 3);
    let path = value_path(k.as_bytes());
    let (p, _) = proof::produce(&tree, |r| r.value(&path)).expect("plain tree reads cannot fail");
    let bytes = codec::encode(&p).expect("proofs of plain trees encode");
    let mut out = Vec::with_capacity(33 + k.len() + bytes.len());
    out.extend_from_slice(&tree.hash());
    out.push(k.len() as u8);
    out.extend_from_slice(k.as_bytes());
    out.extend_from_slice(&bytes);
    (out, bytes.len())
}

/// Why verification failed; the C ABI returns its code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Failure {
    /// The input is shorter than its header.
    Input = -1,
    /// The proof bytes do not decode.
    Decode = -2,
    /// The proof is for another state.
    WrongRoot = -3,
    /// The proof tree does not hash to its claimed root, or reads through a blinded node.
    Verify = -4,
    /// The proof shows no value at the account's path.
    NoValue = -5,
}

/// Splits an input into root, key and proof bytes.
pub fn split(input: &[u8]) -> Result<(Hash, &[u8], &[u8]), Failure> {
    let (root, rest) = input.split_first_chunk::<32>().ok_or(Failure::Input)?;
    let (&len, rest) = rest.split_first().ok_or(Failure::Input)?;
    if rest.len() < usize::from(len) {
        return Err(Failure::Input);
    }
    let (key, proof) = rest.split_at(usize::from(len));
    Ok((*root, key, proof))
}

/// Verifies the proof bytes once: decode, check the root, rehash, read the value.
pub fn verify(root: &Hash, key: &[u8], proof_bytes: &[u8]) -> Result<usize, Failure> {
    let p: Proof = codec::decode(proof_bytes).map_err(|_| Failure::Decode)?;
    if p.before.hash() != root {
        return Err(Failure::WrongRoot);
    }
    let path = value_path(key);
    let (_, v) = proof::verify(&p, |t| TreeAccess::value(t, &path)).map_err(|_| Failure::Verify)?;
    v.map(|v| v.len()).ok_or(Failure::NoValue)
}

/// Verifies `input` `n` times; 0 on success, a [`Failure`] code otherwise.
pub fn verify_input_n(input: &[u8], n: u32) -> i32 {
    let run = || {
        let (root, key, proof_bytes) = split(input)?;
        for _ in 0..n {
            std::hint::black_box(verify(&root, key, std::hint::black_box(proof_bytes))?);
        }
        Ok::<(), Failure>(())
    };
    match run() {
        Ok(()) => 0,
        Err(f) => f as i32,
    }
}

/// Allocates `len` bytes for the caller to fill (the input of [`verify_n`]).
#[no_mangle]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    let mut v = Vec::<u8>::with_capacity(len);
    let p = v.as_mut_ptr();
    std::mem::forget(v);
    p
}

/// Frees a buffer returned by [`alloc`].
///
/// # Safety
/// `ptr` must come from `alloc(len)` and not be freed twice.
#[no_mangle]
pub unsafe extern "C" fn dealloc(ptr: *mut u8, len: usize) {
    drop(Vec::from_raw_parts(ptr, 0, len));
}

/// Verifies the input at `ptr..ptr+len` `n` times; 0 on success, a negative [`Failure`] code.
///
/// # Safety
/// `ptr..ptr+len` must be a readable buffer (e.g. from [`alloc`]).
#[no_mangle]
pub unsafe extern "C" fn verify_n(ptr: *const u8, len: usize, n: u32) -> i32 {
    verify_input_n(std::slice::from_raw_parts(ptr, len), n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proof_verifies_and_tampering_is_caught() {
        let (input, proof_bytes) = produce_input(2000);
        assert_eq!(verify_input_n(&input, 3), 0);
        let (root, key, proof_bytes_slice) = split(&input).unwrap();
        assert_eq!(proof_bytes_slice.len(), proof_bytes);
        assert_eq!(verify(&root, key, proof_bytes_slice), Ok(32));
        let mut wrong_root = input.clone();
        wrong_root[0] ^= 1;
        assert_eq!(verify_input_n(&wrong_root, 1), Failure::WrongRoot as i32);
        let mut tampered = input.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_ne!(verify_input_n(&tampered, 1), 0);
        assert_eq!(verify_input_n(&input[..20], 1), Failure::Input as i32);
        assert_eq!(
            verify(&root, b"nope", proof_bytes_slice),
            Err(Failure::Verify)
        );
    }
}
