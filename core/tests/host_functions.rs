//! Every `smart_rollup_core` host function and error path, driven through the command
//! interpreter kernel `kernels/hostcall.wat` (one host call per external message).

use soru_core::abi::HostError;
use soru_core::pvm::{Pvm, PvmConfig, Status};
use soru_core::reveal::{preimage_hash, NoReveal, PreimageMap, Reveal, RevealRequest};

const DATA: i32 = 0x1022;
const SCRATCH: i32 = 0x8000;
const MEMORY_END: i32 = 65536;

const WRITE_OUTPUT: u8 = 2;
const WRITE_DEBUG: u8 = 3;
const STORE_HAS: u8 = 4;
const STORE_DELETE: u8 = 5;
const STORE_DELETE_VALUE: u8 = 6;
const STORE_COPY: u8 = 7;
const STORE_MOVE: u8 = 8;
const STORE_READ: u8 = 9;
const STORE_WRITE: u8 = 10;
const STORE_CREATE: u8 = 11;
const STORE_VALUE_SIZE: u8 = 12;
const STORE_LIST_SIZE: u8 = 13;
const STORE_GET_NTH_KEY: u8 = 14;
const STORE_EXISTS: u8 = 15;
const REVEAL_PREIMAGE: u8 = 16;
const REVEAL_METADATA: u8 = 17;
const REVEAL: u8 = 18;
const STORE_GET_HASH: u8 = 19;

fn kernel(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/kernels/{name}.wat", env!("CARGO_MANIFEST_DIR"));
    wat::parse_file(path).expect("test kernel parses")
}

fn pvm() -> Pvm {
    Pvm::new(&kernel("hostcall"), PvmConfig::default()).expect("hostcall kernel is valid")
}

fn cmd_idx(f: u8, args: &[i32], index: i64, data: &[u8]) -> Vec<u8> {
    let mut m = vec![1, f];
    for i in 0..6 {
        m.extend(args.get(i).copied().unwrap_or(0).to_le_bytes());
    }
    m.extend(index.to_le_bytes());
    m.extend(data);
    m
}

fn cmd(f: u8, args: &[i32], data: &[u8]) -> Vec<u8> {
    cmd_idx(f, args, 0, data)
}

/// Runs one level with `cmds` and returns its outbox.
fn level(pvm: &mut Pvm, cmds: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let report = pvm.run_level(cmds, &mut NoReveal).expect("level runs");
    assert_eq!(
        report.status,
        Status::WaitingForInput,
        "{:?}",
        pvm.stuck_reason()
    );
    report.outbox
}

fn result(out: &[u8]) -> i64 {
    i64::from_le_bytes(out.try_into().expect("an 8-byte result"))
}

/// One host call in its own level; returns its result.
fn call(pvm: &mut Pvm, f: u8, args: &[i32], data: &[u8]) -> i64 {
    let out = level(pvm, &[cmd(f, args, data)]);
    result(out.last().expect("a result"))
}

fn code(e: HostError) -> i64 {
    i64::from(e.code())
}

/// `store_write(key, offset, value)` with key and value placed in the message data.
fn write(pvm: &mut Pvm, key: &str, offset: i32, value: &[u8]) -> i64 {
    let mut data = key.as_bytes().to_vec();
    data.extend(value);
    let k = key.len() as i32;
    call(
        pvm,
        STORE_WRITE,
        &[DATA, k, offset, DATA + k, value.len() as i32],
        &data,
    )
}

/// `store_read(key, offset, max)` then `write_output` of what was read: (result, bytes).
fn read(pvm: &mut Pvm, key: &str, offset: i32, max: i32) -> (i64, Vec<u8>) {
    let k = key.len() as i32;
    let out = level(
        pvm,
        &[
            cmd(STORE_READ, &[DATA, k, offset, SCRATCH, max], key.as_bytes()),
            cmd(WRITE_OUTPUT, &[SCRATCH, max.clamp(0, 4096)], &[]),
        ],
    );
    let r = result(&out[0]);
    let n = r.max(0) as usize;
    (r, out[1][..n].to_vec())
}

fn key_call(pvm: &mut Pvm, f: u8, key: &str) -> i64 {
    call(pvm, f, &[DATA, key.len() as i32], key.as_bytes())
}

fn two_keys(pvm: &mut Pvm, f: u8, from: &str, to: &str) -> i64 {
    let data = [from.as_bytes(), to.as_bytes()].concat();
    let (a, b) = (from.len() as i32, to.len() as i32);
    call(pvm, f, &[DATA, a, DATA + a, b], &data)
}

fn value(pvm: &Pvm, key: &str) -> Option<Vec<u8>> {
    let k = soru_core::durable::Key::from_path(key).unwrap();
    pvm.durable().read_all(&k).unwrap()
}

#[test]
fn store_write_then_read_round_trips_across_chunks() {
    let mut pvm = pvm();
    let big: Vec<u8> = (0..2048u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(write(&mut pvm, "/a/b", 0, &big), 0);
    assert_eq!(write(&mut pvm, "/a/b", 2048, &big[..100]), 0);
    assert_eq!(key_call(&mut pvm, STORE_VALUE_SIZE, "/a/b"), 2148);
    let (r, bytes) = read(&mut pvm, "/a/b", 500, 30);
    assert_eq!(r, 30);
    assert_eq!(bytes, big[500..530].to_vec());
    // Reads stop at the end of the value.
    let (r, bytes) = read(&mut pvm, "/a/b", 2140, 100);
    assert_eq!(r, 8);
    assert_eq!(bytes, big[92..100].to_vec());
    let mut expected = big.clone();
    expected.extend(&big[..100]);
    assert_eq!(value(&pvm, "/a/b"), Some(expected));
}

#[test]
fn store_write_overwrites_in_place_and_creates_empty_values() {
    let mut pvm = pvm();
    assert_eq!(write(&mut pvm, "/v", 0, b"hello world"), 0);
    assert_eq!(write(&mut pvm, "/v", 6, b"WORLD!"), 0);
    assert_eq!(value(&pvm, "/v"), Some(b"hello WORLD!".to_vec()));
    assert_eq!(write(&mut pvm, "/empty", 0, b""), 0);
    assert_eq!(key_call(&mut pvm, STORE_VALUE_SIZE, "/empty"), 0);
}

#[test]
fn store_write_errors() {
    let mut pvm = pvm();
    // Offset beyond the end of the value.
    assert_eq!(
        write(&mut pvm, "/v", 1, b"x"),
        code(HostError::StoreInvalidAccess)
    );
    // More than 2048 bytes.
    assert_eq!(
        write(&mut pvm, "/v", 0, &[7; 2049]),
        code(HostError::InputOutputTooLarge)
    );
    // Read-only keys.
    assert_eq!(
        write(&mut pvm, "/readonly/x", 0, b"x"),
        code(HostError::StoreReadonlyValue)
    );
    // Negative sizes overflow the value size.
    assert_eq!(
        call(&mut pvm, STORE_WRITE, &[DATA, 2, 0, DATA, -1], b"/v"),
        code(HostError::StoreValueSizeExceeded)
    );
    // Source outside memory.
    assert_eq!(
        call(
            &mut pvm,
            STORE_WRITE,
            &[DATA, 2, 0, MEMORY_END - 2, 4],
            b"/v"
        ),
        code(HostError::MemoryInvalidAccess)
    );
    // Negative offset.
    assert_eq!(write(&mut pvm, "/v", 0, b"ab"), 0);
    assert_eq!(
        write(&mut pvm, "/v", -1, b"x"),
        code(HostError::GenericInvalidAccess)
    );
}

#[test]
fn key_errors() {
    let mut pvm = pvm();
    let long = format!("/{}", "a".repeat(240));
    assert_eq!(
        key_call(&mut pvm, STORE_HAS, &long),
        code(HostError::StoreKeyTooLarge)
    );
    let max = format!("/{}", "a".repeat(239));
    assert_eq!(key_call(&mut pvm, STORE_HAS, &max), 0);
    for bad in ["a", "/", "/a/", "/a//b", "/a b", "/a@"] {
        assert_eq!(
            key_call(&mut pvm, STORE_HAS, bad),
            code(HostError::StoreInvalidKey),
            "{bad:?}"
        );
    }
    // Key outside memory, and a negative length.
    assert_eq!(
        call(&mut pvm, STORE_HAS, &[MEMORY_END - 1, 2], b""),
        code(HostError::MemoryInvalidAccess)
    );
    assert_eq!(
        call(&mut pvm, STORE_HAS, &[DATA, -1], b""),
        code(HostError::GenericInvalidAccess)
    );
    // The empty key is the root: it exists and is read-only.
    assert_eq!(key_call(&mut pvm, STORE_EXISTS, ""), 1);
    assert_eq!(
        key_call(&mut pvm, STORE_DELETE, ""),
        code(HostError::StoreReadonlyValue)
    );
}

#[test]
fn store_read_errors() {
    let mut pvm = pvm();
    assert_eq!(
        read(&mut pvm, "/missing", 0, 10).0,
        code(HostError::StoreNotAValue)
    );
    assert_eq!(write(&mut pvm, "/v", 0, b"abc"), 0);
    assert_eq!(
        read(&mut pvm, "/v", 3, 10).0,
        code(HostError::StoreInvalidAccess)
    );
    assert_eq!(
        read(&mut pvm, "/v", -1, 10).0,
        code(HostError::StoreInvalidAccess)
    );
    assert_eq!(
        read(&mut pvm, "/v", 0, 2049).0,
        code(HostError::InputOutputTooLarge)
    );
    assert_eq!(write(&mut pvm, "/e", 0, b""), 0);
    assert_eq!(
        read(&mut pvm, "/e", 0, 10).0,
        code(HostError::StoreInvalidAccess)
    );
    assert_eq!(
        call(
            &mut pvm,
            STORE_READ,
            &[DATA, 2, 0, MEMORY_END - 1, 3],
            b"/v"
        ),
        code(HostError::MemoryInvalidAccess)
    );
    // Reads of 0 bytes succeed.
    assert_eq!(read(&mut pvm, "/v", 1, 0).0, 0);
    // Reading /readonly is allowed.
    assert_eq!(
        read(&mut pvm, "/readonly/wasm_version", 0, 100).1,
        b"2.0.0-r5".to_vec()
    );
}

#[test]
fn store_has_exists_list_size_and_nth_key() {
    let mut pvm = pvm();
    assert_eq!(key_call(&mut pvm, STORE_HAS, "/d"), 0);
    assert_eq!(key_call(&mut pvm, STORE_EXISTS, "/d"), 0);
    assert_eq!(key_call(&mut pvm, STORE_LIST_SIZE, "/d"), 0);
    assert_eq!(write(&mut pvm, "/d", 0, b"v"), 0);
    assert_eq!(key_call(&mut pvm, STORE_HAS, "/d"), 1);
    assert_eq!(key_call(&mut pvm, STORE_LIST_SIZE, "/d"), 1);
    assert_eq!(write(&mut pvm, "/d/x", 0, b"1"), 0);
    assert_eq!(write(&mut pvm, "/d/y", 0, b"2"), 0);
    assert_eq!(key_call(&mut pvm, STORE_HAS, "/d"), 3);
    assert_eq!(key_call(&mut pvm, STORE_LIST_SIZE, "/d"), 3);
    assert_eq!(key_call(&mut pvm, STORE_HAS, "/d/x"), 1);
    assert_eq!(key_call(&mut pvm, STORE_EXISTS, "/d/x"), 1);
    assert_eq!(key_call(&mut pvm, STORE_DELETE_VALUE, "/d"), 0);
    assert_eq!(key_call(&mut pvm, STORE_HAS, "/d"), 2);
    assert_eq!(key_call(&mut pvm, STORE_LIST_SIZE, "/d"), 2);
    // Nth keys: both names come back (in the tree's order), then the index is out of range.
    let mut names = Vec::new();
    for i in 0..2 {
        let out = level(
            &mut pvm,
            &[
                cmd_idx(STORE_GET_NTH_KEY, &[DATA, 2, SCRATCH, 10], i, b"/d"),
                cmd(WRITE_OUTPUT, &[SCRATCH, 1], &[]),
            ],
        );
        assert_eq!(result(&out[0]), 1);
        names.push(out[1].clone());
    }
    names.sort();
    assert_eq!(names, vec![b"x".to_vec(), b"y".to_vec()]);
    let nth = |pvm: &mut Pvm, key: &str, i: i64, max: i32| {
        let out = level(
            pvm,
            &[cmd_idx(
                STORE_GET_NTH_KEY,
                &[DATA, key.len() as i32, SCRATCH, max],
                i,
                key.as_bytes(),
            )],
        );
        result(&out[0])
    };
    assert_eq!(
        nth(&mut pvm, "/d", 2, 10),
        code(HostError::StoreInvalidSubkeyIndex)
    );
    assert_eq!(
        nth(&mut pvm, "/nope", 0, 10),
        code(HostError::StoreNotANode)
    );
    // The value marker is listed as the empty name.
    assert_eq!(nth(&mut pvm, "/d/x", 0, 10), 0);
    // Names are truncated to max_size.
    assert_eq!(write(&mut pvm, "/t/longname", 0, b"1"), 0);
    assert_eq!(nth(&mut pvm, "/t", 0, 4), 4);
}

#[test]
fn store_delete_copy_move() {
    let mut pvm = pvm();
    assert_eq!(write(&mut pvm, "/a/x", 0, b"1"), 0);
    assert_eq!(write(&mut pvm, "/a/y", 0, b"2"), 0);
    assert_eq!(two_keys(&mut pvm, STORE_COPY, "/a", "/b"), 0);
    assert_eq!(value(&pvm, "/b/x"), Some(b"1".to_vec()));
    assert_eq!(value(&pvm, "/a/y"), Some(b"2".to_vec()));
    assert_eq!(two_keys(&mut pvm, STORE_MOVE, "/b", "/c/d"), 0);
    assert_eq!(value(&pvm, "/b/x"), None);
    assert_eq!(value(&pvm, "/c/d/y"), Some(b"2".to_vec()));
    assert_eq!(
        two_keys(&mut pvm, STORE_COPY, "/missing", "/z"),
        code(HostError::StoreNotANode)
    );
    assert_eq!(
        two_keys(&mut pvm, STORE_MOVE, "/missing", "/z"),
        code(HostError::StoreNotANode)
    );
    assert_eq!(
        two_keys(&mut pvm, STORE_COPY, "/a", "/readonly/a"),
        code(HostError::StoreReadonlyValue)
    );
    assert_eq!(
        two_keys(&mut pvm, STORE_MOVE, "/readonly/wasm_version", "/w"),
        code(HostError::StoreReadonlyValue)
    );
    // Copying from /readonly is allowed.
    assert_eq!(
        two_keys(&mut pvm, STORE_COPY, "/readonly/wasm_version", "/w"),
        0
    );
    assert_eq!(value(&pvm, "/w"), Some(b"2.0.0-r5".to_vec()));
    assert_eq!(key_call(&mut pvm, STORE_DELETE, "/a"), 0);
    assert_eq!(key_call(&mut pvm, STORE_EXISTS, "/a"), 0);
    assert_eq!(key_call(&mut pvm, STORE_DELETE, "/a"), 0);
    assert_eq!(
        key_call(&mut pvm, STORE_DELETE, "/readonly/wasm_version"),
        code(HostError::StoreReadonlyValue)
    );
    assert_eq!(
        key_call(&mut pvm, STORE_DELETE_VALUE, "/readonly/wasm_version"),
        code(HostError::StoreReadonlyValue)
    );
}

#[test]
fn store_create_and_value_size() {
    let mut pvm = pvm();
    assert_eq!(call(&mut pvm, STORE_CREATE, &[DATA, 2, 1000], b"/c"), 0);
    assert_eq!(key_call(&mut pvm, STORE_VALUE_SIZE, "/c"), 1000);
    assert_eq!(value(&pvm, "/c"), Some(vec![0; 1000]));
    assert_eq!(
        call(&mut pvm, STORE_CREATE, &[DATA, 2, 10], b"/c"),
        code(HostError::StoreValueAlreadyExists)
    );
    assert_eq!(
        call(&mut pvm, STORE_CREATE, &[DATA, 2, -1], b"/n"),
        code(HostError::StoreValueSizeExceeded)
    );
    assert_eq!(
        call(&mut pvm, STORE_CREATE, &[DATA, 11, 1], b"/readonly/x"),
        code(HostError::StoreReadonlyValue)
    );
    assert_eq!(
        key_call(&mut pvm, STORE_VALUE_SIZE, "/nothing"),
        code(HostError::StoreNotAValue)
    );
}

#[test]
fn store_get_hash_is_the_subtree_hash() {
    let mut pvm = pvm();
    assert_eq!(write(&mut pvm, "/h/x", 0, b"1"), 0);
    let out = level(
        &mut pvm,
        &[
            cmd(STORE_GET_HASH, &[DATA, 2, SCRATCH, 64], b"/h"),
            cmd(WRITE_OUTPUT, &[SCRATCH, 32], &[]),
        ],
    );
    assert_eq!(result(&out[0]), 32);
    let k = soru_core::durable::Key::from_path("/h").unwrap();
    let expected = pvm
        .durable()
        .hash(&k, soru_core::durable::Target::Directory)
        .unwrap()
        .unwrap();
    assert_eq!(out[1], expected.to_vec());
    assert_eq!(
        call(&mut pvm, STORE_GET_HASH, &[DATA, 2, SCRATCH, 5], b"/h"),
        5
    );
    assert_eq!(
        call(&mut pvm, STORE_GET_HASH, &[DATA, 2, SCRATCH, 5], b"/q"),
        code(HostError::StoreNotANode)
    );
}

#[test]
fn write_output_and_write_debug() {
    let mut pvm = pvm();
    let out = level(&mut pvm, &[cmd(WRITE_OUTPUT, &[DATA, 5], b"hello")]);
    assert_eq!(out[0], b"hello".to_vec());
    assert_eq!(result(&out[1]), 0);
    assert_eq!(
        call(&mut pvm, WRITE_OUTPUT, &[DATA, 4097], b""),
        code(HostError::InputOutputTooLarge)
    );
    assert_eq!(
        call(&mut pvm, WRITE_OUTPUT, &[MEMORY_END - 1, 4], b""),
        code(HostError::MemoryInvalidAccess)
    );
    assert_eq!(
        call(&mut pvm, WRITE_OUTPUT, &[DATA, -1], b""),
        code(HostError::GenericInvalidAccess)
    );
    let report = pvm
        .run_level(
            &[
                cmd(WRITE_DEBUG, &[DATA, 3], b"dbg"),
                cmd(WRITE_DEBUG, &[MEMORY_END - 1, 3], b""),
            ],
            &mut NoReveal,
        )
        .unwrap();
    assert_eq!(
        report.debug,
        vec![b"dbg".to_vec(), b"Error code: -6".to_vec()]
    );
}

#[test]
fn full_outbox_returns_code() {
    let mut pvm = Pvm::new(&kernel("fulloutbox"), PvmConfig::default()).unwrap();
    let report = pvm.run_level(&[], &mut NoReveal).unwrap();
    assert_eq!(report.outbox.len(), 100);
    let results = value(&pvm, "/results").unwrap();
    assert_eq!(&results[..4], &0i32.to_le_bytes());
    assert_eq!(&results[4..], &HostError::FullOutbox.code().to_le_bytes());
}

#[test]
fn reveal_preimage_from_the_embedder() {
    let mut pvm = pvm();
    let mut preimages = PreimageMap::new();
    let hash = preimages.insert(b"some preimage data".to_vec());
    let report = pvm
        .run_level(
            &[
                cmd(REVEAL_PREIMAGE, &[DATA, 33, SCRATCH, 4096], &hash),
                cmd(WRITE_OUTPUT, &[SCRATCH, 18], &[]),
                cmd(REVEAL_PREIMAGE, &[DATA, 33, SCRATCH, 4], &hash),
            ],
            &mut preimages,
        )
        .unwrap();
    assert_eq!(result(&report.outbox[0]), 18);
    assert_eq!(report.outbox[1], b"some preimage data".to_vec());
    assert_eq!(result(&report.outbox[3]), 4);
    // Argument errors return codes without a reveal.
    assert_eq!(
        call(&mut pvm, REVEAL_PREIMAGE, &[DATA, 4097, SCRATCH, 10], b""),
        code(HostError::InputOutputTooLarge)
    );
    assert_eq!(
        call(
            &mut pvm,
            REVEAL_PREIMAGE,
            &[MEMORY_END - 1, 33, SCRATCH, 10],
            b""
        ),
        code(HostError::MemoryInvalidAccess)
    );
}

#[test]
fn reveal_suspends_until_the_preimage_arrives() {
    let mut pvm = pvm();
    let data = b"fetched later".to_vec();
    let hash = preimage_hash(&data);
    let report = pvm
        .run_level(
            &[
                cmd(REVEAL_PREIMAGE, &[DATA, 33, SCRATCH, 100], &hash),
                cmd(WRITE_OUTPUT, &[SCRATCH, 13], &[]),
            ],
            &mut NoReveal,
        )
        .unwrap();
    assert_eq!(report.status, Status::WaitingForReveal);
    assert_eq!(
        pvm.pending_reveal(),
        Some(&RevealRequest::Preimage(hash.to_vec()))
    );
    assert!(pvm.step_input(1, 0, b"\x00\x01").is_err());
    let status = pvm.resume_reveal(&data, &mut NoReveal).unwrap();
    assert_eq!(status, Status::Evaluating);
    assert_eq!(
        pvm.finish_level(&mut NoReveal).unwrap(),
        Status::WaitingForInput
    );
    let outbox = pvm.outbox(0).unwrap();
    assert_eq!(result(&outbox[0]), 13);
    assert_eq!(outbox[1], data);
    assert!(pvm.resume_reveal(b"", &mut NoReveal).is_err());
}

#[test]
fn reveal_metadata_and_generic_reveal() {
    let config = PvmConfig {
        rollup_address: [7; 20],
        origination_level: 42,
        ..PvmConfig::default()
    };
    let mut pvm = Pvm::new(&kernel("hostcall"), config).unwrap();
    let mut expected = vec![7u8; 20];
    expected.extend(42i32.to_be_bytes());
    let out = level(
        &mut pvm,
        &[
            cmd(REVEAL_METADATA, &[SCRATCH, 100], &[]),
            cmd(WRITE_OUTPUT, &[SCRATCH, 24], &[]),
            cmd(REVEAL_METADATA, &[SCRATCH, 10], &[]),
            cmd(REVEAL, &[DATA, 1, SCRATCH, 100], &[1]),
        ],
    );
    assert_eq!(result(&out[0]), 24);
    assert_eq!(out[1], expected);
    assert_eq!(result(&out[3]), 10);
    assert_eq!(result(&out[4]), 24);
    // A generic reveal of a raw-data hash is a preimage request.
    struct Echo;
    impl Reveal for Echo {
        fn reveal(&mut self, request: &RevealRequest) -> Option<Vec<u8>> {
            match request {
                RevealRequest::Preimage(h) => Some(h.clone()),
                RevealRequest::Raw(p) => Some(p.iter().rev().copied().collect()),
                RevealRequest::Metadata => None,
            }
        }
    }
    let report = pvm
        .run_level(
            &[
                cmd(REVEAL, &[DATA, 3, SCRATCH, 100], &[0, 9, 8]),
                cmd(REVEAL, &[DATA, 2, SCRATCH, 100], &[5, 6]),
            ],
            &mut Echo,
        )
        .unwrap();
    assert_eq!(result(&report.outbox[0]), 2);
    assert_eq!(result(&report.outbox[1]), 2);
}

#[test]
fn negative_max_size_crashes_the_pvm_like_octez() {
    let mut pvm = pvm();
    assert_eq!(write(&mut pvm, "/h/x", 0, b"1"), 0);
    let report = pvm
        .run_level(
            &[cmd(STORE_GET_HASH, &[DATA, 2, SCRATCH, -1], b"/h")],
            &mut NoReveal,
        )
        .unwrap();
    assert_eq!(report.status, Status::Stuck);
    assert!(pvm
        .stuck_reason()
        .unwrap()
        .to_string()
        .contains("negative max_size"));
}
