//! Replay witnesses: enough to re-run a range of levels without the rollup's state.
//!
//! A light client checks a commitment by re-running the levels it covers. The rollup's full
//! state can be gigabytes, but a level reads only a small part of it. [`produce`] runs the
//! levels on the full state while recording every tree node the PVM reads
//! ([`crate::tree::record`]) and every preimage it is revealed; the [`Witness`] holds
//!
//! * the **pre-state** as a tree proof: the nodes read in full, everything else blinded (its
//!   root hash is the pre-state's hash, so it commits to the whole state);
//! * the **levels**: number, predecessor timestamp and hash (`Info_per_level`) and the inbox
//!   messages between `Info_per_level` and `End_of_level`;
//! * the **reveals** served: preimages, each checked against its hash on replay;
//! * the **configuration** fixed at origination ([`PvmConfig`]).
//!
//! [`replay`] rebuilds the partial tree, checks it, and re-runs the levels with wasmi. A node the
//! run needs but the witness blinded is [`WitnessError::Missing`] naming its path, never a wrong
//! hash: the tree cannot read a blinded node. Since the pre-state proof commits to the pre-state
//! hash and the run is deterministic, the final state hash and ticks are those of the full
//! rollup, given the same inbox. What replay cannot check is that the levels' messages are the
//! L1's inbox: compare them with the L1 (or a rollup node you trust for inboxes) separately.
//!
//! # Encoding (version 1)
//!
//! Big-endian integers; `bytes` is a 4-byte length then the bytes.
//!
//! | field | encoding |
//! |---|---|
//! | magic | the 7 bytes `soruwit` |
//! | version | `u8`, 1 |
//! | rollup address | 20 bytes |
//! | origination level | `u32` |
//! | PVM version at origination | `bytes`, e.g. `2.0.0-r5` |
//! | ticks per snapshot | `u128` (16 bytes) |
//! | outbox validity period | `u32` |
//! | outbox message limit | `u32` |
//! | fuel cap per `kernel_run` | `u64` |
//! | levels | `u32` count, then each: level `u32`, timestamp `i64`, predecessor 32 bytes, `u32` message count, each message `bytes` (at most 4096) |
//! | reveals | `u32` count, then each: request payload `bytes` (octez reveal encoding: `0x00` and the 33-byte hash), data `bytes` (at most 4096) |
//! | pre-state | the rest: a `Merkle_proof_encoding.V2.Tree2` proof ([`crate::tree::codec`]) whose `before` and `after` are the pre-state hash |
//!
//! # Example
//! ```
//! use soru_core::pvm::{Pvm, PvmConfig};
//! use soru_core::reveal::NoReveal;
//! use soru_core::witness::{self, WitnessLevel};
//!
//! // A kernel that does nothing, run for two levels, then one witnessed level.
//! let kernel = wat::parse_str(r#"(module (memory (export "memory") 1)
//!     (func (export "kernel_run")))"#).unwrap();
//! let config = PvmConfig::default();
//! let mut pvm = Pvm::new(&kernel, config.clone())?;
//! pvm.run_level(&[], &mut NoReveal)?;
//! let pre = pvm.state_tree()?;
//! let level = WitnessLevel { level: 1, timestamp: 0, predecessor: [0; 32], messages: vec![] };
//! let (w, produced) = witness::produce(&pre, &config, vec![level], &mut NoReveal)?;
//! let bytes = witness::encode(&w)?;
//! let run = witness::replay(&witness::decode(&bytes)?)?;
//! assert_eq!(run, produced);
//! assert_eq!(run.pre_state_hash, pre.hash());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::abi::{PvmVersion, MAX_INPUT_OUTPUT_SIZE};
use crate::durable::DurableError;
use crate::encoding::binary::{self, DecodeError, DecodeErrorKind, Reader};
use crate::encoding::inbox::BlockHash;
use crate::inbox::{level_payloads, InboxError, LevelWitness, MerkelizedPayloadsHash};
use crate::pvm::{Pvm, PvmConfig, PvmError, Status};
use crate::reveal::{preimage_hash, Reveal, RevealRequest, BLAKE2B_HASH_TAG, PREIMAGE_HASH_SIZE};
use crate::state::input_buffer::InputBufferError;
use crate::state::output_buffer::OutputBufferError;
use crate::tree::proof::{KindedHash, Proof, ProofTree};
use crate::tree::{codec, record, BlindedKind, Hash, Tree, TreeError};

/// The first bytes of every encoded witness.
pub const MAGIC: &[u8; 7] = b"soruwit";
/// The encoding version [`encode`] writes and [`decode`] reads.
pub const VERSION: u8 = 1;

/// One level of a witness: what the PVM is fed between `Start_of_level` and `End_of_level`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessLevel {
    /// The inbox level.
    pub level: u32,
    /// The predecessor block's timestamp (`Info_per_level`).
    pub timestamp: i64,
    /// The predecessor block's hash (`Info_per_level`).
    pub predecessor: [u8; 32],
    /// The serialized inbox messages between `Info_per_level` and `End_of_level`.
    pub messages: Vec<Vec<u8>>,
}

impl WitnessLevel {
    /// The level's witness in the L1's shared inbox (`srib2`): the hash of the payload-hashes
    /// list of `Start_of_level`, `Info_per_level`, the messages and `End_of_level`. The L1's
    /// `context/smart_rollups/all/inbox` after this level holds it in
    /// `old_levels_messages.content.hash`, so comparing the two ties the witness's inbox to
    /// the L1's (see [`crate::inbox`]).
    pub fn inbox_witness(&self) -> Result<MerkelizedPayloadsHash, InboxError> {
        let payloads = level_payloads(
            self.timestamp,
            &BlockHash(self.predecessor),
            None,
            &self.messages,
        );
        Ok(LevelWitness::of_level(&payloads)?.hash())
    }
}

/// A replay witness (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The rollup's origination parameters.
    pub config: PvmConfig,
    /// The levels to replay, consecutive, the first one right after the pre-state's last.
    pub levels: Vec<WitnessLevel>,
    /// The reveals served during the levels: (octez reveal payload, data).
    pub reveals: Vec<(Vec<u8>, Vec<u8>)>,
    /// The pre-state: the nodes the levels read, the rest blinded.
    pub pre_state: ProofTree,
}

/// The outcome of one replayed level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessLevelRun {
    /// The inbox level.
    pub level: u32,
    /// The state hash at the end of the level.
    pub state_hash: Hash,
    /// Total ticks since origination at the end of the level.
    pub ticks: u128,
    /// The messages written to the outbox of this level.
    pub outbox: Vec<Vec<u8>>,
    /// The status at the end of the level.
    pub status: Status,
    /// The level's witness in the L1's shared inbox ([`WitnessLevel::inbox_witness`]).
    pub inbox_witness: MerkelizedPayloadsHash,
}

/// The outcome of a witnessed run ([`produce`] and [`replay`] agree on it exactly).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessRun {
    /// The root hash of the pre-state.
    pub pre_state_hash: Hash,
    /// Total ticks of the pre-state.
    pub pre_ticks: u128,
    /// Every level, in order.
    pub levels: Vec<WitnessLevelRun>,
    /// The state hash after the last level.
    pub state_hash: Hash,
    /// Total ticks after the last level.
    pub ticks: u128,
}

/// Why a witness could not be produced, decoded or replayed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// The bytes are not a witness of a version this code reads.
    #[error("malformed witness: {0}")]
    Malformed(String),
    /// The pre-state proof tree breaks irmin's invariants.
    #[error("witness pre-state: {0}")]
    PreState(String),
    /// The pre-state is not a state between two levels.
    #[error("witness pre-state: {0}")]
    NotResumable(String),
    /// The run needed a node the witness left out (blinded).
    #[error(
        "the witness leaves out the {kind} at {path} (hash {hash}), which level {level} reads"
    )]
    Missing {
        /// The level being replayed (the first level while resuming the pre-state).
        level: u32,
        /// What was left out: a value, directory or inode.
        kind: String,
        /// Its path in the state tree.
        path: String,
        /// Its hash, hex.
        hash: String,
    },
    /// A level's messages do not form an L1 inbox level (more than the protocol allows).
    #[error("level {level}: {reason}")]
    Inbox {
        /// The level.
        level: u32,
        /// What is wrong.
        reason: String,
    },
    /// The levels are not consecutive after the pre-state.
    #[error("witness level {index} is level {found}, expected level {expected}")]
    LevelGap {
        /// Index of the level in the witness.
        index: usize,
        /// The level the PVM is at.
        expected: u32,
        /// The level the witness gives.
        found: u32,
    },
    /// The kernel asked for a preimage the witness (or the reveal source) does not have.
    #[error("level {level}: the kernel asks for reveal {request} which the witness does not hold")]
    MissingReveal {
        /// The level.
        level: u32,
        /// The reveal payload, hex.
        request: String,
    },
    /// A preimage does not hash to the hash it is given for.
    #[error("witness reveal {index}: the data does not hash to {hash}")]
    BadPreimage {
        /// Index of the reveal in the witness.
        index: usize,
        /// The requested hash, hex.
        hash: String,
    },
    /// A reveal that is not a preimage (e.g. a DAL page): a light client cannot check it.
    #[error("witness reveal {index}: payload {payload} is not a preimage request, which a replay cannot check")]
    UncheckableReveal {
        /// Index of the reveal in the witness.
        index: usize,
        /// The payload, hex.
        payload: String,
    },
    /// The PVM failed.
    #[error("level {level}: {error}")]
    Pvm {
        /// The level.
        level: u32,
        /// What failed.
        error: PvmError,
    },
}

/// Runs `levels` from `pre_state` (a state between two levels, as [`Pvm::state_tree`] writes
/// it) with `config`, serving reveals from `reveal`, and returns the witness of the run with its
/// outcome. A reveal `reveal` cannot serve is [`WitnessError::MissingReveal`].
pub fn produce(
    pre_state: &Tree,
    config: &PvmConfig,
    levels: Vec<WitnessLevel>,
    reveal: &mut dyn Reveal,
) -> Result<(Witness, WitnessRun), WitnessError> {
    let config = witness_config(config);
    let mut served = Served {
        inner: reveal,
        seen: BTreeMap::new(),
    };
    let (run, pre) = record::reads_of(pre_state, || {
        run_levels(pre_state, &config, &levels, &mut served)
    });
    let run = run?;
    let witness = Witness {
        config,
        levels,
        reveals: served.seen.into_iter().collect(),
        pre_state: pre,
    };
    Ok((witness, run))
}

/// Re-runs the witness's levels on its partial pre-state (see the module docs).
pub fn replay(witness: &Witness) -> Result<WitnessRun, WitnessError> {
    let mut reveals = BTreeMap::new();
    for (index, (payload, data)) in witness.reveals.iter().enumerate() {
        match RevealRequest::from_payload(payload) {
            RevealRequest::Preimage(hash)
                if hash.len() == PREIMAGE_HASH_SIZE && hash[0] == BLAKE2B_HASH_TAG =>
            {
                if preimage_hash(data)[..] != hash[..] {
                    return Err(WitnessError::BadPreimage {
                        index,
                        hash: hex::encode(&hash),
                    });
                }
                reveals.insert(payload.clone(), data.clone());
            }
            _ => {
                return Err(WitnessError::UncheckableReveal {
                    index,
                    payload: hex::encode(payload),
                })
            }
        }
    }
    let tree = witness
        .pre_state
        .to_tree()
        .map_err(|e| WitnessError::PreState(e.to_string()))?;
    let mut source = Held(reveals);
    run_levels(&tree, &witness.config, &witness.levels, &mut source)
}

/// The parts of `config` a run from a state depends on (the rest concern origination).
fn witness_config(config: &PvmConfig) -> PvmConfig {
    PvmConfig {
        first_level: 0,
        history_levels: 1,
        ..config.clone()
    }
}

fn run_levels(
    state: &Tree,
    config: &PvmConfig,
    levels: &[WitnessLevel],
    reveal: &mut dyn Reveal,
) -> Result<WitnessRun, WitnessError> {
    let first = levels.first().map_or(0, |l| l.level);
    let fail = |level, error| pvm_error(state, level, error);
    // A state that has read no input yet (the origination state) does not say which level comes
    // first: the witness's first level does (a commitment check binds it to the predecessor's
    // level). A state that has read inputs fixes it, and a gap is an error below.
    let config = PvmConfig {
        first_level: first,
        ..config.clone()
    };
    let mut pvm = Pvm::from_state(state, config).map_err(|error| match error {
        PvmError::NotResumable(m) => WitnessError::NotResumable(m),
        error => fail(first, error),
    })?;
    let pre_ticks = pvm.ticks();
    let mut out = Vec::with_capacity(levels.len());
    for (index, l) in levels.iter().enumerate() {
        if l.level != pvm.next_level() {
            return Err(WitnessError::LevelGap {
                index,
                expected: pvm.next_level(),
                found: l.level,
            });
        }
        let at = |error| fail(l.level, error);
        let status = pvm
            .step_level(l.level, l.timestamp, &l.predecessor, &l.messages, reveal)
            .map_err(at)?;
        if status == Status::WaitingForReveal {
            let request = pvm.pending_reveal().map(RevealRequest::payload);
            return Err(WitnessError::MissingReveal {
                level: l.level,
                request: hex::encode(request.unwrap_or_default()),
            });
        }
        let report = pvm.report().map_err(at)?;
        let inbox_witness = l.inbox_witness().map_err(|e| WitnessError::Inbox {
            level: l.level,
            reason: e.to_string(),
        })?;
        out.push(WitnessLevelRun {
            level: l.level,
            state_hash: report.state_hash,
            ticks: report.ticks,
            outbox: report.outbox,
            status: report.status,
            inbox_witness,
        });
    }
    let (state_hash, ticks) = match out.last() {
        Some(l) => (l.state_hash, l.ticks),
        None => (state.hash(), pre_ticks),
    };
    Ok(WitnessRun {
        pre_state_hash: state.hash(),
        pre_ticks,
        levels: out,
        state_hash,
        ticks,
    })
}

/// [`WitnessError::Missing`] for a read of a blinded node, [`WitnessError::Pvm`] otherwise.
fn pvm_error(state: &Tree, level: u32, error: PvmError) -> WitnessError {
    let tree = match &error {
        PvmError::Tree(t)
        | PvmError::Durable(DurableError::Tree(t))
        | PvmError::InputBuffer(InputBufferError::Tree(t))
        | PvmError::OutputBuffer(OutputBufferError::Tree(t)) => Some(t),
        _ => None,
    };
    match tree {
        Some(TreeError::Blinded { kind, path, hash }) => WitnessError::Missing {
            level,
            kind: kind.to_string(),
            path: state_path(state, *kind, path, hash),
            hash: hex::encode(hash),
        },
        _ => WitnessError::Pvm { level, error },
    }
}

/// The path of a blinded node in the whole state. Durable storage is a subtree the PVM works on
/// by itself, so its errors give paths below `/durable`: such a path is prefixed when the
/// pre-state has the blinded node there and not at the path itself. For an inode (part of a
/// large directory) the path is its directory's.
fn state_path(state: &Tree, kind: BlindedKind, path: &str, hash: &Hash) -> String {
    let matches = |path: &str| {
        let steps: Vec<&[u8]> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::as_bytes)
            .collect();
        match state.subtree(&steps) {
            Err(TreeError::Blinded { hash: h, .. }) => h == *hash || kind == BlindedKind::Inode,
            Ok(Some(t)) => t.hash() == *hash || kind == BlindedKind::Inode,
            _ => false,
        }
    };
    let in_durable = format!("/durable{}", if path == "/" { "" } else { path });
    if !matches(path) && matches(&in_durable) {
        in_durable
    } else {
        String::from(path)
    }
}

/// Serves reveals from the embedder's source and remembers what it served.
struct Served<'a> {
    inner: &'a mut dyn Reveal,
    seen: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Reveal for Served<'_> {
    fn reveal(&mut self, request: &RevealRequest) -> Option<Vec<u8>> {
        let data = self.inner.reveal(request)?;
        self.seen.insert(request.payload(), data.clone());
        Some(data)
    }
}

/// Serves the witness's (checked) reveals.
struct Held(BTreeMap<Vec<u8>, Vec<u8>>);

impl Reveal for Held {
    fn reveal(&mut self, request: &RevealRequest) -> Option<Vec<u8>> {
        self.0.get(&request.payload()).cloned()
    }
}

/// Why a witness cannot be written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WitnessEncodeError {
    /// A message or reveal exceeds its bound (4096 bytes).
    #[error("{what} {index} has {len} bytes (at most {MAX_INPUT_OUTPUT_SIZE})")]
    TooLong {
        /// Which part.
        what: &'static str,
        /// Its index.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// The pre-state proof tree cannot be written.
    #[error("pre-state: {0}")]
    PreState(#[from] codec::EncodeError),
}

/// The version-1 bytes of `witness` (see the module docs).
pub fn encode(witness: &Witness) -> Result<Vec<u8>, WitnessEncodeError> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    let c = &witness.config;
    out.extend_from_slice(&c.rollup_address);
    binary::put_u32(&mut out, c.origination_level);
    put_bytes(&mut out, c.version.as_str().as_bytes());
    out.extend_from_slice(&c.ticks_per_snapshot.to_be_bytes());
    binary::put_u32(&mut out, c.outbox_validity_period);
    binary::put_u32(
        &mut out,
        u32::try_from(c.outbox_message_limit).unwrap_or(u32::MAX),
    );
    out.extend_from_slice(&c.fuel_per_kernel_run.to_be_bytes());
    put_count(&mut out, witness.levels.len());
    for l in &witness.levels {
        binary::put_u32(&mut out, l.level);
        binary::put_i64(&mut out, l.timestamp);
        out.extend_from_slice(&l.predecessor);
        put_count(&mut out, l.messages.len());
        for (index, m) in l.messages.iter().enumerate() {
            bounded("message", index, m)?;
            put_bytes(&mut out, m);
        }
    }
    put_count(&mut out, witness.reveals.len());
    for (index, (payload, data)) in witness.reveals.iter().enumerate() {
        bounded("reveal payload", index, payload)?;
        bounded("reveal data", index, data)?;
        put_bytes(&mut out, payload);
        put_bytes(&mut out, data);
    }
    let root = witness
        .pre_state
        .to_tree()
        .map(|t| KindedHash::of_tree(&t))
        .unwrap_or(KindedHash::Node([0; 32]));
    out.extend(codec::encode(&Proof {
        version: codec::TREE2_VERSION,
        before: root,
        after: root,
        state: witness.pre_state.clone(),
    })?);
    Ok(out)
}

/// Reads the bytes [`encode`] writes; every problem names its byte offset.
pub fn decode(bytes: &[u8]) -> Result<Witness, WitnessError> {
    let mut r = Reader::new(bytes);
    let head = &bytes[..bytes.len().min(MAGIC.len())];
    if head != &MAGIC[..head.len()] {
        return Err(WitnessError::from(r.error_at(
            0,
            DecodeErrorKind::Invalid {
                what: "witness",
                reason: "it does not start with `soruwit`",
            },
        )));
    }
    r.bytes(MAGIC.len())?;
    let at = r.position();
    let version = r.u8()?;
    if version != VERSION {
        return Err(WitnessError::from(r.error_at(
            at,
            DecodeErrorKind::Invalid {
                what: "witness version",
                reason: "this code reads version 1",
            },
        )));
    }
    let rollup_address = r.array::<20>()?;
    let origination_level = r.u32()?;
    let at = r.position();
    let version = PvmVersion::from_bytes(get_bytes(&mut r, 32)?).ok_or_else(|| {
        r.error_at(
            at,
            DecodeErrorKind::Invalid {
                what: "PVM version",
                reason: "not a known 2.0.0 version",
            },
        )
    })?;
    let ticks_per_snapshot = u128::from_be_bytes(r.array::<16>()?);
    let outbox_validity_period = r.u32()?;
    let outbox_message_limit = r.u32()? as usize;
    let fuel_per_kernel_run = u64::from_be_bytes(r.array::<8>()?);
    let mut levels = Vec::new();
    for _ in 0..r.u32()? {
        let level = r.u32()?;
        let timestamp = r.i64()?;
        let predecessor = r.array::<32>()?;
        let mut messages = Vec::new();
        for _ in 0..r.u32()? {
            messages.push(get_bytes(&mut r, MAX_INPUT_OUTPUT_SIZE)?.to_vec());
        }
        levels.push(WitnessLevel {
            level,
            timestamp,
            predecessor,
            messages,
        });
    }
    let mut reveals = Vec::new();
    for _ in 0..r.u32()? {
        let payload = get_bytes(&mut r, MAX_INPUT_OUTPUT_SIZE)?.to_vec();
        let data = get_bytes(&mut r, MAX_INPUT_OUTPUT_SIZE)?.to_vec();
        reveals.push((payload, data));
    }
    let offset = r.position();
    let proof = codec::decode(r.rest()).map_err(|e| {
        WitnessError::Malformed(format!(
            "pre-state proof at byte {}: {}",
            offset + e.offset,
            e.reason
        ))
    })?;
    if proof.before != proof.after {
        return Err(WitnessError::from(r.error_at(
            offset,
            DecodeErrorKind::Invalid {
                what: "witness pre-state",
                reason: "its proof's before and after hashes differ",
            },
        )));
    }
    Ok(Witness {
        config: PvmConfig {
            rollup_address,
            origination_level,
            first_level: 0,
            version,
            ticks_per_snapshot,
            outbox_validity_period,
            outbox_message_limit,
            fuel_per_kernel_run,
            history_levels: 1,
        },
        levels,
        reveals,
        pre_state: proof.state,
    })
}

fn put_count(out: &mut Vec<u8>, n: usize) {
    binary::put_u32(out, u32::try_from(n).unwrap_or(u32::MAX));
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_count(out, bytes.len());
    out.extend_from_slice(bytes);
}

fn bounded(what: &'static str, index: usize, bytes: &[u8]) -> Result<(), WitnessEncodeError> {
    if bytes.len() > MAX_INPUT_OUTPUT_SIZE {
        return Err(WitnessEncodeError::TooLong {
            what,
            index,
            len: bytes.len(),
        });
    }
    Ok(())
}

/// A `u32`-length-prefixed byte string of at most `max` bytes.
fn get_bytes<'a>(r: &mut Reader<'a>, max: usize) -> Result<&'a [u8], DecodeError> {
    let at = r.position();
    let len = r.u32()? as usize;
    if len > max {
        return Err(r.error_at(
            at,
            DecodeErrorKind::LengthTooLarge {
                len,
                available: max,
            },
        ));
    }
    r.bytes(len)
}

impl From<DecodeError> for WitnessError {
    fn from(e: DecodeError) -> WitnessError {
        WitnessError::Malformed(e.to_string())
    }
}
