//! `read_input`: info record, truncation, exact octez bounds checks, and inputs left unread.

use soru_core::abi::HostError;
use soru_core::pvm::{Pvm, PvmConfig};
use soru_core::reveal::NoReveal;

const MEMORY_END: i32 = 65536;

fn pvm(info: i32, dst: i32, max: i32) -> Pvm {
    let path = format!("{}/tests/kernels/readinput.wat", env!("CARGO_MANIFEST_DIR"));
    let mut pvm = Pvm::new(&wat::parse_file(path).unwrap(), PvmConfig::default()).unwrap();
    let args: Vec<u8> = [info, dst, max]
        .iter()
        .flat_map(|a| a.to_le_bytes())
        .collect();
    pvm.set_durable_value("/args", &args).unwrap();
    pvm
}

/// (result, level, index) of one call.
type Call = (i32, u32, u32);

/// The calls made, and the payloads read.
fn calls(outbox: &[Vec<u8>]) -> (Vec<Call>, Vec<Vec<u8>>) {
    let mut results = Vec::new();
    let mut payloads = Vec::new();
    let mut i = 0;
    while i < outbox.len() {
        let rec = &outbox[i];
        let r = i32::from_le_bytes(rec[0..4].try_into().unwrap());
        let level = u32::from_le_bytes(rec[4..8].try_into().unwrap());
        let index = u32::from_le_bytes(rec[8..12].try_into().unwrap());
        results.push((r, level, index));
        i += 1;
        if r > 0 {
            payloads.push(outbox[i].clone());
            i += 1;
        }
    }
    (results, payloads)
}

#[test]
fn reads_every_input_with_level_and_index() {
    let mut pvm = pvm(0x100, 0x1000, 4096);
    let report = pvm
        .run_level(&[b"\x01abc".to_vec(), vec![1; 5000]], &mut NoReveal)
        .unwrap();
    let (results, payloads) = calls(&report.outbox);
    assert_eq!(results.len(), 6);
    assert_eq!(results[0], (2, 0, 0));
    assert_eq!(payloads[0], vec![0, 1]);
    assert_eq!(results[1], (42, 0, 1));
    assert_eq!(results[2], (4, 0, 2));
    assert_eq!(payloads[2], b"\x01abc".to_vec());
    // Payloads longer than 4096 bytes are truncated to 4096.
    assert_eq!(results[3].0, 4096);
    assert_eq!(results[4], (2, 0, 4));
    assert_eq!(results[5].0, 0);
}

#[test]
fn max_bytes_truncates() {
    let mut pvm = pvm(0x100, 0x1000, 3);
    let report = pvm
        .run_level(&[b"\x01abcdef".to_vec()], &mut NoReveal)
        .unwrap();
    let (results, payloads) = calls(&report.outbox);
    assert_eq!(results[2].0, 3);
    assert_eq!(payloads[2], b"\x01ab".to_vec());
}

#[test]
fn bounds_are_checked_strictly_before_consuming() {
    // The info record must end strictly before the end of memory.
    let mut p = pvm(MEMORY_END - 8, 0x1000, 100);
    let report = p.run_level(&[], &mut NoReveal).unwrap();
    let (results, _) = calls(&report.outbox);
    assert_eq!(
        results,
        vec![(HostError::MemoryInvalidAccess.code(), u32::MAX, u32::MAX)]
    );
    // So must the destination buffer, for the full max_bytes.
    let mut p = pvm(0x100, MEMORY_END - 100, 100);
    let (results, _) = calls(&p.run_level(&[], &mut NoReveal).unwrap().outbox);
    assert_eq!(results[0].0, HostError::MemoryInvalidAccess.code());
    let mut p = pvm(0x100, MEMORY_END - 101, 100);
    let (results, _) = calls(&p.run_level(&[], &mut NoReveal).unwrap().outbox);
    assert_eq!(results[0].0, 2);
    // A negative max_bytes is an invalid access.
    let mut p = pvm(0x100, 0x1000, -1);
    let (results, _) = calls(&p.run_level(&[], &mut NoReveal).unwrap().outbox);
    assert_eq!(results[0].0, HostError::MemoryInvalidAccess.code());
}

#[test]
fn inputs_not_read_are_dropped_at_the_end_of_the_level() {
    // max_bytes 0 reads nothing but still consumes inputs; errors do not consume.
    let mut p = pvm(0x100, 0x1000, -1);
    p.run_level(&[b"\x01x".to_vec()], &mut NoReveal).unwrap();
    p.set_durable_value(
        "/args",
        &[0x100i32, 0x1000, 4096]
            .iter()
            .flat_map(|a| a.to_le_bytes())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let report = p.run_level(&[], &mut NoReveal).unwrap();
    let (results, _) = calls(&report.outbox);
    // Only level 1's three inputs are seen, then 0.
    assert_eq!(
        results.iter().map(|r| r.1).collect::<Vec<_>>()[..3],
        [1, 1, 1]
    );
    assert_eq!(results.len(), 4);
}
