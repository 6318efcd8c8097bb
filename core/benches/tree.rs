//! State tree benchmarks on a durable-storage-shaped tree:
//! `/durable/accounts/<8 hex digits>/@/{length, contents/0}` for N keys (one directory of N
//! entries, i.e. an inode trie of depth ~log2 N).
//!
//! `SORU_TREE_BENCH_KEYS` sets N (default 1,000,000; e.g. 20000 for a quick run):
//! `SORU_TREE_BENCH_KEYS=20000 cargo bench -p soru-core --bench tree`.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::time::Instant;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use soru_core::tree::proof::{self, TreeAccess};
use soru_core::tree::{codec, Tree};

fn keys() -> usize {
    std::env::var("SORU_TREE_BENCH_KEYS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

fn key(i: usize) -> String {
    format!("{i:08x}")
}

fn put(t: &mut Tree, i: usize, value: &[u8]) {
    let k = key(i);
    let len = (value.len() as u64).to_le_bytes();
    t.set_value(
        &[b"durable", b"accounts", k.as_bytes(), b"@", b"length"],
        &len,
    )
    .unwrap();
    t.set_value(
        &[
            b"durable",
            b"accounts",
            k.as_bytes(),
            b"@",
            b"contents",
            b"0",
        ],
        value,
    )
    .unwrap();
}

fn value(i: usize) -> [u8; 32] {
    let mut v = [0u8; 32];
    v[..8].copy_from_slice(&(i as u64).to_be_bytes());
    v
}

fn bench(c: &mut Criterion) {
    let n = keys();
    let start = Instant::now();
    let mut base = Tree::empty();
    for i in 0..n {
        put(&mut base, i, &value(i));
    }
    let built = start.elapsed();
    let start = Instant::now();
    let root = base.hash();
    let hashed = start.elapsed();
    println!(
        "tree bench: {n} keys built in {built:.2?} ({:.0} keys/s, 2 writes each), full hash in {hashed:.2?}, root {}",
        n as f64 / built.as_secs_f64(),
        hex::encode(root)
    );

    let mut g = c.benchmark_group(format!("tree_{n}_keys"));
    g.sample_size(30)
        .measurement_time(std::time::Duration::from_secs(4));
    g.throughput(Throughput::Elements(1));

    let mut fresh = n;
    g.bench_function("insert_new_key", |b| {
        b.iter_batched(
            || {
                fresh += 1;
                (base.clone(), fresh)
            },
            |(mut t, i)| {
                put(&mut t, i, &value(i));
                t
            },
            BatchSize::SmallInput,
        )
    });
    let mut j = 0;
    g.bench_function("update_existing_key", |b| {
        b.iter_batched(
            || {
                j = (j + 7919) % n;
                (base.clone(), j)
            },
            |(mut t, i)| {
                let k = key(i);
                t.set_value(
                    &[
                        b"durable",
                        b"accounts",
                        k.as_bytes(),
                        b"@",
                        b"contents",
                        b"0",
                    ],
                    b"updated",
                )
                .unwrap();
                t
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("update_then_rehash", |b| {
        b.iter_batched(
            || {
                j = (j + 7919) % n;
                (base.clone(), j)
            },
            |(mut t, i)| {
                let k = key(i);
                t.set_value(
                    &[
                        b"durable",
                        b"accounts",
                        k.as_bytes(),
                        b"@",
                        b"contents",
                        b"0",
                    ],
                    b"updated",
                )
                .unwrap();
                let h = t.hash();
                (t, h)
            },
            BatchSize::SmallInput,
        )
    });

    let target = key(n / 3);
    let path: [&[u8]; 6] = [
        b"durable",
        b"accounts",
        target.as_bytes(),
        b"@",
        b"contents",
        b"0",
    ];
    let (p, _) = proof::produce(&base, |r| r.value(&path)).unwrap();
    let bytes = codec::encode(&p).unwrap();
    println!(
        "tree bench: proof of one 32-byte value among {n} keys: {} bytes",
        bytes.len()
    );
    g.bench_function("produce_value_proof", |b| {
        b.iter(|| {
            let (p, _) = proof::produce(&base, |r| r.value(&path)).unwrap();
            codec::encode(&p).unwrap()
        })
    });
    g.bench_function("verify_value_proof", |b| {
        b.iter(|| {
            let p = codec::decode(&bytes).unwrap();
            let (_, v) = proof::verify(&p, |t| TreeAccess::value(t, &path)).unwrap();
            v
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
