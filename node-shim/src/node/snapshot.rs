//! Snapshots of a node's data, in octez's format: `soru-node snapshot export|import|info`.
//!
//! A snapshot is octez's 58-byte header (version `0`, history mode `0` archive / `1` full, the
//! rollup's 20-byte address, the head level as int32, the last commitment's 32-byte hash)
//! followed by a tar archive of the node's non-local data: `store.redb` (levels, commitments
//! and the content-addressed state trees) and the preimages under `wasm_2_0_0/`. The whole file
//! is gzip-compressed unless exported with `--uncompressed`; readers accept both.
//!
//! Import runs octez's checks (the list in octez's rollup-node documentation): the rollup
//! address, the history mode and the freshness of the head against the data directory (also
//! with `--no-check`); then the header's commitment against the store's last one, every
//! commitment's hash against its content and its state against its level's state hash, the
//! chain of commitments back to genesis, the chain of L1 blocks, every kept state tree loaded
//! with each of its records checked against its hash, and, with an L1 endpoint, that the last
//! commitment is published on L1 and that the L1's last cemented commitment is the snapshot's at
//! that level. A snapshot failing any check is refused with the reason and leaves the data
//! directory as it was.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

use serde_json::Value;
use soru_core::commitment::{Commitment, CommitmentHash};
use soru_core::encoding::address::SmartRollupAddress;

use super::config::{HistoryMode, NodeConfig, CONFIG_FILE};
use super::follower::RollupInfo;
use super::l1::{HttpLayer1, Layer1};
use super::store::{Store, STORE_FILE};

/// The snapshot format version this build writes and reads.
pub const VERSION: u8 = 0;
/// The header's size in bytes.
pub const HEADER_LEN: usize = 58;
/// Where preimages live in a data directory and in a snapshot.
pub const PREIMAGES_DIR: &str = "wasm_2_0_0";
/// The directory an import extracts into before moving the data into place.
const IMPORT_DIR: &str = ".snapshot-import";

/// A snapshot's header (octez's `Snapshots.Header.t`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The exporting node's history mode.
    pub history_mode: HistoryMode,
    /// The rollup.
    pub address: SmartRollupAddress,
    /// The last level the node processed.
    pub head_level: i32,
    /// The most recent commitment of the L2 chain at the head.
    pub last_commitment: CommitmentHash,
}

impl Header {
    /// The header's bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = VERSION;
        out[1] = match self.history_mode {
            HistoryMode::Archive => 0,
            HistoryMode::Full => 1,
        };
        out[2..22].copy_from_slice(&self.address.0);
        out[22..26].copy_from_slice(&self.head_level.to_be_bytes());
        out[26..58].copy_from_slice(&self.last_commitment.0);
        out
    }

    /// Reads a header.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Header, SnapshotError> {
        if bytes[0] != VERSION {
            return Err(SnapshotError::Invalid(format!(
                "snapshot version {} (this soru-node reads version {VERSION})",
                bytes[0]
            )));
        }
        let history_mode = match bytes[1] {
            0 => HistoryMode::Archive,
            1 => HistoryMode::Full,
            m => {
                return Err(SnapshotError::Invalid(format!(
                    "history mode byte {m} (0 archive, 1 full)"
                )))
            }
        };
        Ok(Header {
            history_mode,
            address: SmartRollupAddress(bytes[2..22].try_into().expect("20 bytes")),
            head_level: i32::from_be_bytes(bytes[22..26].try_into().expect("4 bytes")),
            last_commitment: CommitmentHash(bytes[26..58].try_into().expect("32 bytes")),
        })
    }
}

/// Why a snapshot could not be made, read or imported.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        error: std::io::Error,
    },
    /// The file is not a snapshot this build reads, or its content is damaged.
    #[error("invalid snapshot: {0}")]
    Invalid(String),
    /// The data directory cannot take this snapshot, or cannot be exported.
    #[error("{0}")]
    Refused(String),
    /// A check of the snapshot's content failed.
    #[error("snapshot check failed: {0}")]
    Check(String),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SnapshotError + '_ {
    move |error| SnapshotError::Io {
        path: path.display().to_string(),
        error,
    }
}

/// Opens a snapshot: its header and a reader over its tar archive; says whether it is
/// compressed.
fn open(file: &Path) -> Result<(Header, Box<dyn Read>, bool), SnapshotError> {
    let mut f = BufReader::new(File::open(file).map_err(io(file))?);
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(io(file))?;
    let chained = std::io::Cursor::new(magic[..n].to_vec()).chain(f);
    let compressed = magic == [0x1f, 0x8b];
    let mut r: Box<dyn Read> = if compressed {
        Box::new(flate2::read::GzDecoder::new(chained))
    } else {
        Box::new(chained)
    };
    let mut header = [0u8; HEADER_LEN];
    r.read_exact(&mut header).map_err(|e| {
        SnapshotError::Invalid(format!(
            "{}: cannot read the {HEADER_LEN}-byte header: {e}",
            file.display()
        ))
    })?;
    Ok((Header::decode(&header)?, r, compressed))
}

/// `snapshot info`: the header and whether the file is compressed.
pub fn info(file: &Path) -> Result<(Header, bool), SnapshotError> {
    let (header, _, compressed) = open(file)?;
    Ok((header, compressed))
}

/// The lines `snapshot info` prints (octez's wording).
pub fn info_text(header: &Header, compressed: bool) -> String {
    format!(
        "Valid smart rollup node snapshot.\nFormat:          {}compressed\nHistory mode:    {}\nRollup address:  {}\nHead level:      {}\nLast commitment: {}\n",
        if compressed { "" } else { "un" },
        header.history_mode.as_str(),
        header.address.to_b58check(),
        header.head_level,
        header.last_commitment.to_b58check()
    )
}

fn open_store(dir: &Path) -> Result<Store, SnapshotError> {
    if !dir.join(STORE_FILE).exists() {
        return Err(SnapshotError::Refused(format!(
            "{} has no {STORE_FILE}: nothing to export",
            dir.display()
        )));
    }
    Store::open(dir).map_err(|e| SnapshotError::Refused(e.to_string()))
}

fn rollup_of(store: &Store) -> Result<RollupInfo, SnapshotError> {
    let v = store
        .meta("rollup")
        .map_err(|e| SnapshotError::Check(e.to_string()))?
        .ok_or_else(|| SnapshotError::Check("the store has no rollup record".into()))?;
    RollupInfo::from_json(&v)
        .ok_or_else(|| SnapshotError::Check("the store's rollup record is malformed".into()))
}

/// Which level `snapshot export --level` exports the L2 chain up to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportLevel {
    /// The last level processed.
    Head,
    /// Two levels below the head (the sandbox's finality).
    Finalized,
    /// The level of the last cemented commitment the node saw.
    Cemented,
    /// That level.
    Level(u32),
}

impl ExportLevel {
    /// Parses `head`, `finalized`, `cemented` or a level.
    pub fn parse(s: &str) -> Option<ExportLevel> {
        match s {
            "head" => Some(ExportLevel::Head),
            "finalized" => Some(ExportLevel::Finalized),
            "cemented" => Some(ExportLevel::Cemented),
            _ => s.parse().ok().map(ExportLevel::Level),
        }
    }
}

/// `snapshot export`: writes a snapshot of the (stopped) node in `data_dir`, its L2 chain up to
/// `level`, to `file`, or to `snapshot-<address>-<level>.<history mode>` in `dest` (default:
/// the current directory); then, unless `no_check`, checks the written file as an import would
/// (without an L1). Returns the file written.
pub fn export(
    data_dir: &Path,
    file: Option<&Path>,
    dest: Option<&Path>,
    level: ExportLevel,
    compress: bool,
    no_check: bool,
) -> Result<PathBuf, SnapshotError> {
    let config = NodeConfig::load(data_dir).map_err(|e| SnapshotError::Refused(e.to_string()))?;
    let scratch = data_dir.join(".snapshot-export");
    let _ = std::fs::remove_dir_all(&scratch);
    let result = (|| {
        let (header, source) = prepare(data_dir, &scratch, &config, level)?;
        let path = match file {
            Some(f) => f.to_path_buf(),
            None => {
                let name = format!(
                    "snapshot-{}-{}.{}",
                    &header.address.to_b58check()[..12],
                    header.head_level,
                    header.history_mode.as_str()
                );
                match dest {
                    Some(d) => {
                        std::fs::create_dir_all(d).map_err(io(d))?;
                        d.join(name)
                    }
                    None => PathBuf::from(name),
                }
            }
        };
        let partial = path.with_extension("partial");
        write(&partial, &header, &source, data_dir, compress)?;
        if !no_check {
            let check = scratch.join("check");
            let checked = extract(&partial, &check)
                .and_then(|h| check_extracted(&check, &h, None).map(|_| ()));
            if let Err(e) = checked {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        }
        std::fs::rename(&partial, &path).map_err(io(&path))?;
        Ok(path)
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// The header of the export and the store file to archive: the data directory's own, or, for
/// a level below the head, a copy in `scratch` cut at that level.
fn prepare(
    data_dir: &Path,
    scratch: &Path,
    config: &NodeConfig,
    level: ExportLevel,
) -> Result<(Header, PathBuf), SnapshotError> {
    let store = open_store(data_dir)?;
    let check = |e: super::store::StoreError| SnapshotError::Check(e.to_string());
    let records = store.levels().map_err(check)?;
    let Some(head) = records.last() else {
        return Err(SnapshotError::Refused(format!(
            "{}: the node has processed no level yet",
            data_dir.display()
        )));
    };
    if !store.keeps_states().map_err(check)? {
        return Err(SnapshotError::Refused(
            "the store does not keep state trees yet (run soru-node once to upgrade it)".into(),
        ));
    }
    let lcc_level = store
        .meta("lcc")
        .map_err(check)?
        .and_then(|v| v.get("level").and_then(Value::as_u64))
        .map(|l| l as u32);
    let target = match level {
        ExportLevel::Head => head.level,
        ExportLevel::Finalized => head.level.saturating_sub(2),
        ExportLevel::Cemented => lcc_level.ok_or_else(|| {
            SnapshotError::Refused("no commitment of this rollup is cemented yet".into())
        })?,
        ExportLevel::Level(l) => l,
    };
    let Some(at) = records.iter().position(|r| r.level == target) else {
        return Err(SnapshotError::Refused(format!(
            "level {target} is not in the store (levels {}..={})",
            records[0].level, head.level
        )));
    };
    store
        .state(&records[at].state_hash)
        .map_err(|e| SnapshotError::Check(format!("state of level {target}: {e}")))?;
    let rollup = rollup_of(&store)?;
    let last = records[..=at]
        .iter()
        .rev()
        .find_map(|r| r.commitment.clone())
        .unwrap_or(rollup.genesis_commitment);
    let header = Header {
        history_mode: config.history_mode,
        address: config.rollup,
        head_level: target as i32,
        last_commitment: CommitmentHash::from_b58check(&last)
            .map_err(|e| SnapshotError::Check(format!("commitment {last}: {e}")))?,
    };
    drop(store);
    if target == head.level {
        return Ok((header, data_dir.join(STORE_FILE)));
    }
    std::fs::create_dir_all(scratch).map_err(io(scratch))?;
    let copy = scratch.join(STORE_FILE);
    std::fs::copy(data_dir.join(STORE_FILE), &copy).map_err(io(&copy))?;
    let cut = Store::open(scratch).map_err(check)?;
    cut.truncate_from(target + 1).map_err(check)?;
    let keep: Vec<&str> = records[..=at]
        .iter()
        .filter(|r| {
            config.history_mode == HistoryMode::Archive
                || lcc_level.is_none_or(|l| r.level >= l.min(target))
        })
        .map(|r| r.state_hash.as_str())
        .collect();
    cut.gc_states(&keep).map_err(check)?;
    Ok((header, copy))
}

fn write(
    file: &Path,
    header: &Header,
    store: &Path,
    data_dir: &Path,
    compress: bool,
) -> Result<(), SnapshotError> {
    let out = BufWriter::new(File::create(file).map_err(io(file))?);
    let mut out: Box<dyn Write> = if compress {
        Box::new(flate2::write::GzEncoder::new(
            out,
            flate2::Compression::default(),
        ))
    } else {
        Box::new(out)
    };
    out.write_all(&header.encode()).map_err(io(file))?;
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Deterministic);
    tar.append_path_with_name(store, STORE_FILE)
        .map_err(io(store))?;
    let preimages = data_dir.join(PREIMAGES_DIR);
    if preimages.is_dir() {
        let mut names: Vec<_> = std::fs::read_dir(&preimages)
            .map_err(io(&preimages))?
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for name in names {
            let p = preimages.join(&name);
            tar.append_path_with_name(&p, Path::new(PREIMAGES_DIR).join(&name))
                .map_err(io(&p))?;
        }
    }
    let mut out = tar.into_inner().map_err(io(file))?;
    out.flush().map_err(io(file))?;
    drop(out);
    Ok(())
}

/// Extracts a snapshot's archive into `dir` (created empty). Only `store.redb` and files
/// directly under `wasm_2_0_0/` are accepted: any other entry (absolute paths, `..`, links,
/// other files) is refused by name.
fn extract(file: &Path, dir: &Path) -> Result<Header, SnapshotError> {
    let (header, r, _) = open(file)?;
    std::fs::create_dir_all(dir.join(PREIMAGES_DIR)).map_err(io(dir))?;
    let mut archive = tar::Archive::new(r);
    let entries = archive
        .entries()
        .map_err(|e| SnapshotError::Invalid(format!("archive: {e}")))?;
    let mut saw_store = false;
    for entry in entries {
        let mut entry = entry.map_err(|e| SnapshotError::Invalid(format!("archive: {e}")))?;
        let name = entry
            .path()
            .map_err(|e| SnapshotError::Invalid(format!("archive entry name: {e}")))?
            .into_owned();
        let parts: Vec<Component<'_>> = name.components().collect();
        // Regular files, or sparse ones (redb preallocates its file, so the tar writer
        // stores the store's holes as a GNU sparse file).
        let kind = entry.header().entry_type();
        let allowed = (kind.is_file() || kind == tar::EntryType::GNUSparse)
            && match parts.as_slice() {
                [Component::Normal(n)] => n.to_str() == Some(STORE_FILE),
                [Component::Normal(d), Component::Normal(_)] => d.to_str() == Some(PREIMAGES_DIR),
                _ => false,
            };
        if !allowed {
            return Err(SnapshotError::Invalid(format!(
                "archive entry {} ({:?}) is not part of a rollup node's data",
                name.display(),
                entry.header().entry_type()
            )));
        }
        saw_store |= name == Path::new(STORE_FILE);
        let target = dir.join(&name);
        let mut out = File::create(&target).map_err(io(&target))?;
        std::io::copy(&mut entry, &mut out).map_err(|e| {
            SnapshotError::Invalid(format!("archive entry {}: {e}", name.display()))
        })?;
    }
    if !saw_store {
        return Err(SnapshotError::Invalid(format!(
            "the archive has no {STORE_FILE}"
        )));
    }
    Ok(header)
}

/// What the checks of an extracted snapshot found.
struct Checked {
    levels: usize,
    states: usize,
}

/// The checks of an extracted snapshot's content; with `l1`, also against the L1.
fn check_extracted(
    dir: &Path,
    header: &Header,
    l1: Option<&dyn Layer1>,
) -> Result<Checked, SnapshotError> {
    let fail = |m: String| SnapshotError::Check(m);
    let store = Store::open(dir).map_err(|e| fail(e.to_string()))?;
    let rollup = rollup_of(&store)?;
    if rollup.address != header.address {
        return Err(fail(format!(
            "the header names rollup {}, the store holds {}",
            header.address.to_b58check(),
            rollup.address.to_b58check()
        )));
    }
    let records = store.levels().map_err(|e| fail(e.to_string()))?;
    let head = records
        .last()
        .ok_or_else(|| fail("the store holds no level".into()))?;
    if head.level as i32 != header.head_level {
        return Err(fail(format!(
            "the header's head level is {}, the store's {}",
            header.head_level, head.level
        )));
    }
    // The L2 chain: consecutive levels, each on its predecessor's L1 block.
    for pair in records.windows(2) {
        if pair[1].level != pair[0].level + 1 || pair[1].predecessor != pair[0].hash {
            return Err(fail(format!(
                "level {} does not follow level {} (L1 predecessor {} instead of {})",
                pair[1].level, pair[0].level, pair[1].predecessor, pair[0].hash
            )));
        }
    }
    // Every commitment: its hash, its state, its level, its predecessor.
    let mut previous = rollup.genesis_commitment.clone();
    for r in &records {
        let Some(hash) = &r.commitment else { continue };
        let v = store
            .commitment(hash)
            .map_err(|e| fail(e.to_string()))?
            .ok_or_else(|| fail(format!("level {}: commitment {hash} is missing", r.level)))?;
        let c = v
            .get("commitment")
            .and_then(|c| Commitment::from_json(c).ok())
            .ok_or_else(|| fail(format!("commitment {hash} is malformed")))?;
        let actual = c.hash().to_b58check();
        if &actual != hash {
            return Err(fail(format!(
                "level {}: commitment {hash} has content hashing to {actual}",
                r.level
            )));
        }
        if c.compressed_state.to_b58check() != r.state_hash || c.inbox_level != r.level as i32 {
            return Err(fail(format!(
                "level {}: commitment {hash} is for state {} at level {}, the level's state is {}",
                r.level, c.compressed_state, c.inbox_level, r.state_hash
            )));
        }
        if c.predecessor.to_b58check() != previous {
            return Err(fail(format!(
                "level {}: commitment {hash} has predecessor {}, the chain of commitments has {previous}",
                r.level, c.predecessor
            )));
        }
        previous = hash.clone();
    }
    if previous != header.last_commitment.to_b58check() {
        return Err(fail(format!(
            "the header's last commitment is {}, the store's {previous}",
            header.last_commitment.to_b58check()
        )));
    }
    // Every state tree the store keeps (from the first loadable level on), each record checked.
    let lcc_level = store
        .meta("lcc")
        .ok()
        .flatten()
        .and_then(|v| v.get("level").and_then(Value::as_u64));
    let first_kept = match header.history_mode {
        HistoryMode::Archive => 0,
        HistoryMode::Full => (lcc_level.unwrap_or(0) as u32).min(head.level),
    };
    let kept: Vec<&str> = records
        .iter()
        .filter(|r| r.level >= first_kept)
        .map(|r| r.state_hash.as_str())
        .collect();
    store.states(&kept).map_err(|e| fail(e.to_string()))?;
    if let Some(l1) = l1 {
        check_against_l1(l1, &rollup, &records, &previous)?;
    }
    Ok(Checked {
        levels: records.len(),
        states: kept.len(),
    })
}

fn check_against_l1(
    l1: &dyn Layer1,
    rollup: &RollupInfo,
    records: &[super::store::LevelRecord],
    last: &str,
) -> Result<(), SnapshotError> {
    let fail = |m: String| SnapshotError::Check(m);
    let sr1 = rollup.address.to_b58check();
    if last != rollup.genesis_commitment {
        let path = format!("context/smart_rollups/smart_rollup/{sr1}/commitment/{last}");
        l1.block_rpc("head", &path).map_err(|e| {
            fail(format!(
                "the last commitment {last} is not published on L1: {e}"
            ))
        })?;
    }
    let path = format!(
        "context/smart_rollups/smart_rollup/{sr1}/last_cemented_commitment_hash_with_level"
    );
    let lcc = l1
        .block_rpc("head", &path)
        .map_err(|e| fail(format!("the L1's last cemented commitment: {e}")))?;
    let (Some(hash), Some(level)) = (
        lcc.get("hash").and_then(Value::as_str),
        lcc.get("level").and_then(Value::as_u64),
    ) else {
        return Err(fail(format!(
            "the L1 answered {lcc} for the last cemented commitment"
        )));
    };
    if level as u32 == rollup.origination_level {
        return Ok(());
    }
    match records.iter().find(|r| u64::from(r.level) == level) {
        None if records.last().is_some_and(|r| u64::from(r.level) < level) => Ok(()),
        Some(r) if r.commitment.as_deref() == Some(hash) => Ok(()),
        other => Err(fail(format!(
            "the L1's last cemented commitment is {hash} at level {level}, the snapshot has {}",
            other
                .and_then(|r| r.commitment.clone())
                .unwrap_or_else(|| "none".into())
        ))),
    }
}

/// What an import did.
pub struct Imported {
    /// The snapshot's header.
    pub header: Header,
    /// Levels checked (0 with `no_check`).
    pub levels: usize,
    /// State trees loaded and checked.
    pub states: usize,
}

/// `snapshot import`: checks `file` and installs its data in `data_dir`. `endpoint`, when
/// given, is the L1 the snapshot is checked against; `force` replaces an existing store (with
/// an older head) of the same rollup.
pub fn import(
    file: &Path,
    data_dir: &Path,
    endpoint: Option<&str>,
    no_check: bool,
    force: bool,
) -> Result<Imported, SnapshotError> {
    let (header, _, _) = open(file)?;
    // The rudimentary checks, also done with --no-check.
    if data_dir.join(CONFIG_FILE).exists() {
        let config =
            NodeConfig::load(data_dir).map_err(|e| SnapshotError::Refused(e.to_string()))?;
        if config.rollup != header.address {
            return Err(SnapshotError::Refused(format!(
                "the snapshot is for rollup {}, this node is configured for {}",
                header.address.to_b58check(),
                config.rollup.to_b58check()
            )));
        }
        if config.history_mode == HistoryMode::Archive && header.history_mode == HistoryMode::Full {
            return Err(SnapshotError::Refused(
                "the snapshot's history mode is full, this node's archive: an archive node cannot start from a full snapshot".into(),
            ));
        }
    }
    if data_dir.join(STORE_FILE).exists() {
        if !force {
            return Err(SnapshotError::Refused(format!(
                "{} is already populated; pass --force to replace its data",
                data_dir.display()
            )));
        }
        let store = Store::open(data_dir).map_err(|e| SnapshotError::Refused(e.to_string()))?;
        let ours = store
            .levels()
            .map_err(|e| SnapshotError::Refused(e.to_string()))?
            .last()
            .map(|r| r.level as i32);
        if let Some(ours) = ours {
            if header.head_level <= ours {
                return Err(SnapshotError::Refused(format!(
                    "the snapshot's head level {} is not fresher than this node's {ours}",
                    header.head_level
                )));
            }
        }
    }
    let scratch = data_dir.join(IMPORT_DIR);
    let _ = std::fs::remove_dir_all(&scratch);
    let result = (|| {
        extract(file, &scratch)?;
        let checked = if no_check {
            Checked {
                levels: 0,
                states: 0,
            }
        } else {
            let l1 = endpoint.map(HttpLayer1::new);
            check_extracted(&scratch, &header, l1.as_ref().map(|l| l as &dyn Layer1))?
        };
        install(&scratch, data_dir)?;
        Ok(checked)
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    let checked = result?;
    Ok(Imported {
        header,
        levels: checked.levels,
        states: checked.states,
    })
}

/// Moves the extracted data into place: the store replaces the old one, preimages are added.
fn install(scratch: &Path, data_dir: &Path) -> Result<(), SnapshotError> {
    let preimages = data_dir.join(PREIMAGES_DIR);
    std::fs::create_dir_all(&preimages).map_err(io(&preimages))?;
    let from = scratch.join(PREIMAGES_DIR);
    for entry in std::fs::read_dir(&from).map_err(io(&from))? {
        let entry = entry.map_err(io(&from))?;
        let to = preimages.join(entry.file_name());
        std::fs::rename(entry.path(), &to).map_err(io(&to))?;
    }
    let store = data_dir.join(STORE_FILE);
    std::fs::rename(scratch.join(STORE_FILE), &store).map_err(io(&store))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::store::LevelRecord;
    use soru_core::commitment::StateHash;
    use soru_core::tree::Tree;

    const SR1: &str = "sr163Lv22CdE8QagCwf48PWDTquk6isQwv57";

    /// A data directory with two levels and a commitment at level 2 for `committed` (the
    /// level's real state when `honest`).
    fn data_dir(name: &str, honest: bool) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("soru-snapshot-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let words: Vec<String> = ["observer", "config", "for", SR1]
            .iter()
            .map(|w| w.to_string())
            .collect();
        let mut config =
            NodeConfig::from_init_words(&words, "127.0.0.1:0".parse().unwrap(), "http://x".into())
                .unwrap();
        config.history_mode = HistoryMode::Archive;
        config.save(&dir).unwrap();
        let store = Store::open(&dir).unwrap();
        let genesis = CommitmentHash([1; 32]).to_b58check();
        let rollup = RollupInfo {
            address: SmartRollupAddress::from_b58check(SR1).unwrap(),
            origination_level: 0,
            origination_hash: "B0".into(),
            origination_timestamp: 0,
            kernel: vec![0, 0x61, 0x73, 0x6d],
            genesis_commitment: genesis.clone(),
            commitment_period: 2,
            challenge_window: 4,
            outbox_validity_period: 10,
            outbox_message_limit: 100,
        };
        store.set_meta("rollup", &rollup.to_json()).unwrap();
        for level in 1..=2u32 {
            let mut tree = Tree::empty();
            tree.set_value(&[b"durable", b"level"], &level.to_le_bytes())
                .unwrap();
            let state = StateHash(tree.hash());
            let commitment = (level == 2).then(|| {
                let mut committed = state;
                if !honest {
                    committed.0[0] ^= 1;
                }
                Commitment {
                    compressed_state: committed,
                    inbox_level: level as i32,
                    predecessor: CommitmentHash::from_b58check(&genesis).unwrap(),
                    number_of_ticks: 10,
                }
            });
            let hash = commitment.map(|c| c.hash().to_b58check());
            let record = LevelRecord {
                level,
                hash: format!("B{level}"),
                predecessor: format!("B{}", level - 1),
                timestamp: i64::from(level),
                messages: vec![],
                state_hash: state.to_b58check(),
                ticks: 10,
                total_ticks: u128::from(level) * 10,
                status: "Waiting for input message".into(),
                outbox: vec![],
                commitment: hash.clone(),
                protocol: None,
                inbox: None,
            };
            store
                .put_level(&record, hash.as_deref().zip(commitment.as_ref()), &tree)
                .unwrap();
        }
        dir
    }

    #[test]
    fn a_commitment_that_is_not_for_its_level_s_state_is_refused() {
        let good = data_dir("good", true);
        let file = export(
            &good,
            Some(&good.join("s")),
            None,
            ExportLevel::Head,
            true,
            false,
        )
        .unwrap();
        let (header, compressed) = info(&file).unwrap();
        assert!(compressed);
        assert_eq!(header.head_level, 2);
        let target = good.join("imported");
        let done = import(&file, &target, None, false, false).unwrap();
        assert_eq!((done.levels, done.states), (2, 2));
        assert!(target.join(STORE_FILE).exists());
        // Level 1 only: the store copy is cut, the header says so.
        let cut = export(
            &good,
            Some(&good.join("s1")),
            None,
            ExportLevel::Level(1),
            false,
            false,
        )
        .unwrap();
        let (header, compressed) = info(&cut).unwrap();
        assert!(!compressed);
        assert_eq!(header.head_level, 1);
        assert_eq!(header.last_commitment, CommitmentHash([1; 32]));

        let bad = data_dir("bad", false);
        let e = export(
            &bad,
            Some(&bad.join("s")),
            None,
            ExportLevel::Head,
            true,
            false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("level 2: commitment"), "{e}");
        assert!(e.to_string().contains("the level's state is"), "{e}");
        assert!(!bad.join("s").exists() && !bad.join("s.partial").exists());
        // Exported without the check, the import's check refuses it and installs nothing.
        let file = export(
            &bad,
            Some(&bad.join("s")),
            None,
            ExportLevel::Head,
            true,
            true,
        )
        .unwrap();
        let target = bad.join("imported");
        let e = import(&file, &target, None, false, false).err().unwrap();
        assert!(e.to_string().contains("the level's state is"), "{e}");
        assert!(!target.join(STORE_FILE).exists());
        for d in [good, bad] {
            let _ = std::fs::remove_dir_all(d);
        }
    }

    #[test]
    fn the_header_is_octez_s_58_bytes() {
        let h = Header {
            history_mode: HistoryMode::Full,
            address: SmartRollupAddress([7; 20]),
            head_level: 0x0102_0304,
            last_commitment: CommitmentHash([9; 32]),
        };
        let bytes = h.encode();
        assert_eq!(bytes[..2], [0, 1]);
        assert_eq!(bytes[22..26], [1, 2, 3, 4]);
        assert_eq!(Header::decode(&bytes).unwrap(), h);
        let mut bad = bytes;
        bad[0] = 1;
        assert!(Header::decode(&bad)
            .unwrap_err()
            .to_string()
            .contains("version 1"));
        let mut bad = bytes;
        bad[1] = 2;
        assert!(Header::decode(&bad)
            .unwrap_err()
            .to_string()
            .contains("history mode"));
    }
}
