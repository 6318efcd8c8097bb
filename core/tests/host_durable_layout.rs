//! Durable storage keeps values in octez's chunked-byte-vector layout.

use soru_core::durable::{Durable, DurableError, Key, Target};

fn k(path: &str) -> Key {
    Key::from_path(path).unwrap()
}

fn chunk_path(i: &str) -> [&[u8]; 5] {
    [b"a", b"b", b"@", b"contents", i.as_bytes()]
}

#[test]
fn values_are_length_plus_full_512_byte_chunks() {
    let mut d = Durable::new();
    let data: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
    d.set_value(&k("/a/b"), &data, false).unwrap();
    let t = d.tree();
    assert_eq!(
        t.value(&[b"a", b"b", b"@", b"length"]).unwrap(),
        Some(&600i64.to_be_bytes()[..])
    );
    assert_eq!(t.value(&chunk_path("0")).unwrap(), Some(&data[..512]));
    let mut last = data[512..].to_vec();
    last.resize(512, 0);
    assert_eq!(t.value(&chunk_path("1")).unwrap(), Some(&last[..]));
    assert_eq!(t.len(&[b"a", b"b", b"@", b"contents"]).unwrap(), 2);
    assert_eq!(d.read_all(&k("/a/b")).unwrap(), Some(data));
}

#[test]
fn only_written_chunks_are_stored() {
    let mut d = Durable::new();
    assert!(d.create_value(&k("/a/b"), 2000, false).unwrap());
    assert_eq!(
        d.tree().kind(&[b"a", b"b", b"@", b"contents"]).unwrap(),
        None
    );
    d.write_value(&k("/a/b"), 1000, b"xyz", false).unwrap();
    assert_eq!(d.tree().len(&[b"a", b"b", b"@", b"contents"]).unwrap(), 1);
    assert!(d.tree().value(&chunk_path("1")).unwrap().is_some());
    let all = d.read_all(&k("/a/b")).unwrap().unwrap();
    assert_eq!(all.len(), 2000);
    assert_eq!(&all[1000..1003], b"xyz");
    assert!(all[..1000].iter().all(|b| *b == 0));
}

#[test]
fn same_operations_give_the_same_hash_regardless_of_history() {
    let mut a = Durable::new();
    a.write_value(&k("/x"), 0, b"hello", false).unwrap();
    a.write_value(&k("/y/z"), 0, b"1", false).unwrap();
    a.delete(&k("/y"), Target::Directory, false).unwrap();
    let mut b = Durable::new();
    b.set_value(&k("/x"), b"hello", false).unwrap();
    assert_eq!(a.tree().hash(), b.tree().hash());
}

#[test]
fn key_parsing_follows_octez() {
    assert!(Key::parse(b"").unwrap().is_readonly());
    assert!(Key::parse(b"/readonly").unwrap().is_readonly());
    assert!(Key::parse(b"/readonly/x").unwrap().is_readonly());
    assert!(!Key::parse(b"/readonlyx").unwrap().is_readonly());
    assert!(Key::parse(b"/A-z_0.9").is_ok());
    assert!(matches!(
        Key::parse(&[b'a'; 241]),
        Err(DurableError::KeyTooLong { length: 241 })
    ));
    for bad in [&b"/"[..], b"x", b"/a/", b"//", b"/a\xff"] {
        assert!(
            matches!(Key::parse(bad), Err(DurableError::InvalidKey { .. })),
            "{bad:?}"
        );
    }
}
