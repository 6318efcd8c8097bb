//! `soru-node dump durable storage into FILE [--block ID]`: the durable storage of a level as
//! an installer configuration of `set` instructions (octez's `dump durable storage`), which
//! `soru debug --installer-config` and octez's debugger load back. As octez does, `/readonly`
//! (the PVM's own) and `/kernel/boot.wasm` (the installer's) are left out.

use std::path::Path;

use soru_core::durable::Durable;
use soru_core::installer_config::{to_yaml, SetInstruction};
use soru_core::state::DURABLE_PATH;

use super::config::{HistoryMode, NodeConfig};
use super::store::{LevelRecord, Store};

/// Resolves `head`, `head~N`, a level or an L1 block hash among the stored levels.
fn resolve<'r>(records: &'r [LevelRecord], block: &str) -> Result<&'r LevelRecord, String> {
    let head = records
        .last()
        .ok_or_else(|| "the node has processed no level yet".to_string())?;
    let level = match block {
        "head" => head.level,
        _ => match block.strip_prefix("head~") {
            Some(n) => {
                let n: u32 = n
                    .parse()
                    .map_err(|_| format!("--block {block}: `head~N` needs a number"))?;
                head.level.saturating_sub(n)
            }
            None => match block.parse::<u32>() {
                Ok(l) => l,
                Err(_) => {
                    return records
                        .iter()
                        .find(|r| r.hash == block)
                        .ok_or_else(|| format!("--block {block}: no stored level has that hash"));
                }
            },
        },
    };
    records.iter().find(|r| r.level == level).ok_or_else(|| {
        format!(
            "--block {block}: level {level} is not stored (levels {}..={})",
            records[0].level, head.level
        )
    })
}

/// Writes the installer configuration of `block`'s durable storage to `file`; returns how many
/// values it holds. The node must be stopped (its store is locked while it runs).
pub fn dump_durable_storage(data_dir: &Path, block: &str, file: &Path) -> Result<usize, String> {
    let config = NodeConfig::load(data_dir).map_err(|e| e.to_string())?;
    let store = Store::open(data_dir).map_err(|e| e.to_string())?;
    let records = store.levels().map_err(|e| e.to_string())?;
    let record = resolve(&records, block)?;
    let state = store.state(&record.state_hash).map_err(|e| {
        let hint = if config.history_mode == HistoryMode::Full {
            " (history mode full keeps the states from the last cemented level on)"
        } else {
            ""
        };
        format!("the state of level {}: {e}{hint}", record.level)
    })?;
    let durable = state
        .subtree(&DURABLE_PATH)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("the state of level {} has no /durable", record.level))?;
    let durable = Durable::from_tree(durable);
    let mut instructions = Vec::new();
    for entry in durable.values() {
        let (to, value) = entry.map_err(|e| e.to_string())?;
        if to == "/readonly" || to.starts_with("/readonly/") || to == "/kernel/boot.wasm" {
            continue;
        }
        instructions.push(SetInstruction { value, to });
    }
    std::fs::write(file, to_yaml(&instructions)).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(instructions.len())
}
