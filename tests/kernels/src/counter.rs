//! Counter kernel: counts its runs and the external messages it reads, rebooting a few times per
//! level through `/kernel/env/reboot` (the SDK's `mark_for_reboot`).
//!
//! Every level it runs `1 + reboots` times, where `reboots` is [`DEFAULT_REBOOTS`] or the first
//! byte of the last external message read (capped at [`MAX_REBOOTS`], far below both hosts'
//! reboot limits, which differ: see `shared/notes/mockhost-vs-octez.md`, "Reboots"). The last
//! run of a level writes one outbox message:
//! `total runs (u64) | total external messages (u64) | reboots this level (u8)`, big-endian.
//!
//! Durable state: [`RUNS`], [`MESSAGES`] (`u64` big-endian), [`REBOOTS_DONE`] and
//! [`REBOOTS_WANTED`] (one byte each, reset at the end of the level).

use alloc::vec::Vec;
use tezos_smart_rollup::prelude::Runtime;
use tezos_smart_rollup::storage::path::RefPath;

use crate::wire::external_body;

/// Total `kernel_run` calls, `u64` big-endian.
pub const RUNS: RefPath<'static> = RefPath::assert_from(b"/counter/runs");
/// Total external messages read, `u64` big-endian.
pub const MESSAGES: RefPath<'static> = RefPath::assert_from(b"/counter/messages");
/// Reboots already requested in the current level (one byte).
pub const REBOOTS_DONE: RefPath<'static> = RefPath::assert_from(b"/counter/level/reboots_done");
/// Reboots wanted in the current level (one byte).
pub const REBOOTS_WANTED: RefPath<'static> = RefPath::assert_from(b"/counter/level/reboots_wanted");
/// Reboots per level unless a message asks otherwise.
pub const DEFAULT_REBOOTS: u8 = 3;
/// Upper bound on reboots per level.
pub const MAX_REBOOTS: u8 = 20;

fn read_u64<Host: Runtime>(host: &Host, path: &RefPath<'_>) -> u64 {
    match host.store_read_all(path) {
        Ok(bytes) if bytes.len() == 8 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(&bytes);
            u64::from_be_bytes(a)
        }
        _ => 0,
    }
}

fn read_u8<Host: Runtime>(host: &Host, path: &RefPath<'_>) -> Option<u8> {
    match host.store_read_all(path) {
        Ok(bytes) if bytes.len() == 1 => Some(bytes[0]),
        _ => None,
    }
}

fn write<Host: Runtime>(host: &mut Host, path: &RefPath<'_>, value: &[u8]) {
    if let Err(error) = host.store_write_all(path, value) {
        host.write_debug(&alloc::format!("counter: cannot write {path}: {error}\n"));
    }
}

/// One `kernel_run` (see the module docs).
pub fn run<Host: Runtime>(host: &mut Host) {
    let runs = read_u64(host, &RUNS) + 1;
    write(host, &RUNS, &runs.to_be_bytes());

    let mut messages = read_u64(host, &MESSAGES);
    let mut wanted = read_u8(host, &REBOOTS_WANTED);
    while let Ok(Some(message)) = host.read_input() {
        if let Some(body) = external_body(message.as_ref()) {
            messages += 1;
            if let Some(first) = body.first() {
                wanted = Some((*first).min(MAX_REBOOTS));
            }
        }
    }
    write(host, &MESSAGES, &messages.to_be_bytes());

    let wanted = wanted.unwrap_or(DEFAULT_REBOOTS);
    let done = read_u8(host, &REBOOTS_DONE).unwrap_or(0);
    if done < wanted {
        write(host, &REBOOTS_DONE, &[done + 1]);
        write(host, &REBOOTS_WANTED, &[wanted]);
        if let Err(error) = host.mark_for_reboot() {
            host.write_debug(&alloc::format!(
                "counter: mark_for_reboot failed: {error}\n"
            ));
        }
        return;
    }
    if let Err(error) = host.store_delete(&RefPath::assert_from(b"/counter/level")) {
        host.write_debug(&alloc::format!(
            "counter: cannot reset the level: {error}\n"
        ));
    }
    let mut report: Vec<u8> = runs.to_be_bytes().to_vec();
    report.extend_from_slice(&messages.to_be_bytes());
    report.push(done);
    if let Err(error) = host.write_output(&report) {
        host.write_debug(&alloc::format!("counter: write_output failed: {error}\n"));
    }
}
