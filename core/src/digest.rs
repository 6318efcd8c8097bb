//! The two hash functions Tezos uses: BLAKE2b (RFC 7693; every Tezos hash, with 20- or 32-byte
//! digests) and SHA-256 (FIPS 180-4; the base58check checksum).
//!
//! SHA-256 is written as plain loops over the message schedule: optimised for speed
//! (`opt-level` 2 and 3), the compiler unrolls them into straight-line code; optimised for size
//! (`opt-level = "z"`, the light client's WebAssembly) they stay a few hundred bytes. BLAKE2b's
//! twelve rounds are written out by a macro (the compiler kept them a loop that loaded the
//! message indices of each `G` from `SIGMA`): a few kilobytes of code, for the hash the state
//! tree computes on every update.
//!
//! ```
//! use soru_core::digest::{blake2b_256, sha256, Blake2b};
//! let mut h = Blake2b::<32>::new();
//! h.update(b"ab");
//! h.update(b"c");
//! assert_eq!(h.finalize(), blake2b_256(b"abc"));
//! assert_eq!(hex::encode(sha256(b"abc")),
//!            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
//! ```

/// BLAKE2b's initialisation vector (the SHA-512 one).
const IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

/// BLAKE2b's message permutations, one per round (rounds 10 and 11 reuse 0 and 1).
const SIGMA: [[u8; 16]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

/// Block size of BLAKE2b.
const BLOCK: usize = 128;

/// Incremental BLAKE2b with an `N`-byte digest (1 to 64; Tezos uses 20 and 32), unkeyed.
#[derive(Clone)]
pub struct Blake2b<const N: usize> {
    h: [u64; 8],
    /// Bytes compressed so far.
    t: u128,
    buf: [u8; BLOCK],
    /// Bytes waiting in `buf` (the last block is kept until `finalize`, which flags it).
    len: usize,
}

impl<const N: usize> Default for Blake2b<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Blake2b<N> {
    /// A fresh hash state.
    pub fn new() -> Self {
        const { assert!(N >= 1 && N <= 64) };
        let mut h = IV;
        h[0] ^= 0x0101_0000 ^ N as u64;
        Blake2b {
            h,
            t: 0,
            buf: [0; BLOCK],
            len: 0,
        }
    }

    /// Absorbs `data`. Whole blocks are compressed where they lie in `data`, not copied into
    /// the buffer first; the last block is always kept for [`Blake2b::finalize`] to flag.
    pub fn update(&mut self, mut data: &[u8]) {
        if self.len < BLOCK {
            let take = (BLOCK - self.len).min(data.len());
            self.buf[self.len..self.len + take].copy_from_slice(&data[..take]);
            self.len += take;
            data = &data[take..];
        }
        if data.is_empty() {
            return;
        }
        // The buffer is full and more follows: it is not the last block.
        self.t += BLOCK as u128;
        compress(&mut self.h, &self.buf, self.t, false);
        while data.len() > BLOCK {
            let Some((block, rest)) = data.split_first_chunk::<BLOCK>() else {
                break;
            };
            self.t += BLOCK as u128;
            compress(&mut self.h, block, self.t, false);
            data = rest;
        }
        self.buf[..data.len()].copy_from_slice(data);
        self.len = data.len();
    }

    /// The digest of everything absorbed.
    pub fn finalize(mut self) -> [u8; N] {
        self.t += self.len as u128;
        self.buf[self.len..].fill(0);
        compress(&mut self.h, &self.buf, self.t, true);
        let mut out = [0; N];
        for (i, b) in out.iter_mut().enumerate() {
            *b = (self.h[i / 8] >> (8 * (i % 8))) as u8;
        }
        out
    }
}

/// BLAKE2b's compression function `F`.
#[inline]
fn compress(h: &mut [u64; 8], block: &[u8; BLOCK], t: u128, last: bool) {
    let mut m = [0u64; 16];
    for (i, w) in m.iter_mut().enumerate() {
        let mut b = [0; 8];
        b.copy_from_slice(&block[8 * i..8 * i + 8]);
        *w = u64::from_le_bytes(b);
    }
    let mut v = [0u64; 16];
    v[..8].copy_from_slice(h);
    v[8..].copy_from_slice(&IV);
    v[12] ^= t as u64;
    v[13] ^= (t >> 64) as u64;
    if last {
        v[14] = !v[14];
    }
    // Natively the twelve rounds are written out, so every message index is a constant and
    // `v` lives in registers: as a loop over `SIGMA` each `G` also loaded its two indices,
    // which made the compression about 1.7 times as many instructions (this is most of the
    // time of writing a durable key). On wasm32 the loop stays: the written-out rounds are
    // 2.5 KB more gzipped code in the npm package's proof entry, which has a size budget.
    macro_rules! round {
        ($s:expr) => {{
            let s: &[u8; 16] = $s;
            g(&mut v, 0, 4, 8, 12, m[s[0] as usize], m[s[1] as usize]);
            g(&mut v, 1, 5, 9, 13, m[s[2] as usize], m[s[3] as usize]);
            g(&mut v, 2, 6, 10, 14, m[s[4] as usize], m[s[5] as usize]);
            g(&mut v, 3, 7, 11, 15, m[s[6] as usize], m[s[7] as usize]);
            g(&mut v, 0, 5, 10, 15, m[s[8] as usize], m[s[9] as usize]);
            g(&mut v, 1, 6, 11, 12, m[s[10] as usize], m[s[11] as usize]);
            g(&mut v, 2, 7, 8, 13, m[s[12] as usize], m[s[13] as usize]);
            g(&mut v, 3, 4, 9, 14, m[s[14] as usize], m[s[15] as usize]);
        }};
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        round!(&SIGMA[0]);
        round!(&SIGMA[1]);
        round!(&SIGMA[2]);
        round!(&SIGMA[3]);
        round!(&SIGMA[4]);
        round!(&SIGMA[5]);
        round!(&SIGMA[6]);
        round!(&SIGMA[7]);
        round!(&SIGMA[8]);
        round!(&SIGMA[9]);
        round!(&SIGMA[0]);
        round!(&SIGMA[1]);
    }
    #[cfg(target_arch = "wasm32")]
    for r in 0..12 {
        round!(&SIGMA[r % 10]);
    }
    for i in 0..8 {
        h[i] ^= v[i] ^ v[i + 8];
    }
}

/// BLAKE2b's mixing function `G`.
#[inline(always)]
fn g(v: &mut [u64; 16], a: usize, b: usize, c: usize, d: usize, x: u64, y: u64) {
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(x);
    v[d] = (v[d] ^ v[a]).rotate_right(32);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(24);
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(y);
    v[d] = (v[d] ^ v[a]).rotate_right(16);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(63);
}

/// BLAKE2b-256 of `data` (the digest of Tezos's 32-byte hashes).
pub fn blake2b_256(data: &[u8]) -> [u8; 32] {
    let mut h = Blake2b::<32>::new();
    h.update(data);
    h.finalize()
}

/// SHA-256's round constants.
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let bits = (data.len() as u64).wrapping_mul(8);
    let mut chunks = data.chunks_exact(64);
    for block in &mut chunks {
        sha256_block(&mut h, block);
    }
    // The tail, 0x80, zeros and the bit length fill one or two more blocks.
    let rest = chunks.remainder();
    let mut tail = [0u8; 128];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let end = if rest.len() < 56 { 64 } else { 128 };
    tail[end - 8..end].copy_from_slice(&bits.to_be_bytes());
    for block in tail[..end].chunks_exact(64) {
        sha256_block(&mut h, block);
    }
    let mut out = [0; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(h) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// SHA-256's compression of one 64-byte block.
fn sha256_block(h: &mut [u32; 8], block: &[u8]) {
    let mut w = [0u32; 64];
    for i in 0..16 {
        w[i] = u32::from_be_bytes([
            block[4 * i],
            block[4 * i + 1],
            block[4 * i + 2],
            block[4 * i + 3],
        ]);
    }
    for i in 16..64 {
        let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
        let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16]
            .wrapping_add(s0)
            .wrapping_add(w[i - 7])
            .wrapping_add(s1);
    }
    let mut s = *h;
    for i in 0..64 {
        let [a, b, c, d, e, f, g, hh] = s;
        let t1 = hh
            .wrapping_add(e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25))
            .wrapping_add((e & f) ^ (!e & g))
            .wrapping_add(K[i])
            .wrapping_add(w[i]);
        let t2 = (a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22))
            .wrapping_add((a & b) ^ (a & c) ^ (b & c));
        s = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
    }
    for (x, y) in h.iter_mut().zip(s) {
        *x = x.wrapping_add(y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use blake2::digest::consts::{U20, U32};
    use blake2::Digest;

    /// Inputs around every block boundary of both functions.
    fn inputs() -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for len in (0..300).chain([1000, 4096, 10_000]) {
            out.push((0..len).map(|i| (i * 7 + len) as u8).collect());
        }
        out
    }

    #[test]
    fn blake2b_matches_the_reference_crate_and_rfc_7693() {
        // RFC 7693 appendix A is BLAKE2b-512 of "abc"; the 32-byte "abc" and "" digests are
        // the usual published ones.
        assert_eq!(
            hex::encode(blake2b_256(b"")),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
        );
        assert_eq!(
            hex::encode(Blake2b::<64>::new().tap(b"abc").finalize()),
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1\
             7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
        );
        for data in inputs() {
            assert_eq!(
                blake2b_256(&data)[..],
                blake2::Blake2b::<U32>::digest(&data)[..]
            );
            let ours = Blake2b::<20>::new().tap(&data).finalize();
            assert_eq!(ours[..], blake2::Blake2b::<U20>::digest(&data)[..]);
            // Absorbing in uneven pieces (shorter and longer than a block) changes nothing.
            for size in [1, 37, 127, 128, 129, 300] {
                let mut h = Blake2b::<32>::new();
                for piece in data.chunks(size) {
                    h.update(piece);
                }
                assert_eq!(h.finalize(), blake2b_256(&data), "pieces of {size}");
            }
        }
    }

    #[test]
    fn sha256_matches_the_reference_crate_and_fips_180() {
        assert_eq!(
            hex::encode(sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex::encode(sha256(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        for data in inputs() {
            assert_eq!(sha256(&data)[..], sha2::Sha256::digest(&data)[..]);
        }
    }

    impl<const N: usize> Blake2b<N> {
        fn tap(mut self, data: &[u8]) -> Self {
            self.update(data);
            self
        }
    }
}
