//! The commitment checker: given a rollup node's commitment chain (back to the genesis
//! commitment) and its evidence, decide for every commitment whether it holds, and how that was
//! established.
//!
//! * Every commitment must hash to the `src1` the node served it under, and extend the previous
//!   one (its `predecessor` is the previous commitment's hash and its level is one commitment
//!   period later), link by link with [`soru_verifier::check_commitment_chain`].
//! * The **genesis** commitment's state must be the state of the node's kernel at origination
//!   ([`Method::Origination`]).
//! * Every later commitment is checked from the node's **replay witness** of its period
//!   (`/global/block/<level>/helpers/witness`) with
//!   [`soru_verifier::replay::check_commitment_with_witness`] ([`Method::Witness`]): the witness
//!   must start from the previous commitment's `compressed_state`, cover the levels after it up
//!   to the commitment's, and replay to the committed state in the committed number of ticks.
//!   A witness check only establishes a commitment whose predecessor is established, so trust
//!   runs from the genesis commitment link by link.
//! * Where the node serves no witness (a node without the RPC, or one that pruned the state a
//!   period starts from), the rollup is replayed from origination on the full inboxes the node
//!   serves, when the page fetched them ([`Method::Replay`]); otherwise the commitment is not
//!   established ([`Method::NotReplayed`]).
//!
//! * With an **L1** node ([`CheckRequest::l1_inboxes`]), the inboxes are not the rollup node's
//!   word: every level a witness or the replay from origination feeds must hash to the level
//!   witness (`srib2...`) the L1's shared inbox archived for that level
//!   (`context/smart_rollups/all/inbox` after the level, octez's
//!   `old_levels_messages.content.hash`), or the evidence establishes nothing
//!   ([`Verdict::Unestablished`], naming the level and both hashes). Without one, the inboxes
//!   are the node's word, and [`CheckedCommitment::inboxes_on_l1`] says so.
//!
//! It runs in the checker's Web Worker (and natively in tests).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use soru_core::encoding::address::SmartRollupAddress;
use soru_core::inbox::{LevelWitness, MerkelizedPayloadsHash};
use soru_core::pvm::{Pvm, PvmConfig, Status};
use soru_core::reveal::NoReveal;
use soru_verifier::replay::{check_commitment_with_witness, CommitmentReplayError};
use soru_verifier::{ChainError, Commitment, CommitmentHash, StateHash};

/// The largest witness the checker takes (bytes, decoded): a witness covers at most 1000
/// levels, so anything bigger is not one the node meant to serve.
pub const MAX_WITNESS_BYTES: usize = 32 << 20;

/// What the page fetched for a check, sent to the worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRequest {
    /// The kernel at origination (the durable `/kernel/boot.wasm` of the origination level),
    /// hex.
    pub kernel_hex: String,
    /// The rollup's address (`sr1...`).
    pub rollup: String,
    /// The commitments, oldest (the genesis commitment) first: the commitment's JSON
    /// (`compressed_state`, `inbox_level`, `predecessor`, `number_of_ticks`) and the hash the
    /// node served it under.
    pub chain: Vec<(String, String)>,
    /// The evidence for each commitment after the genesis commitment (`chain[1..]`), in order;
    /// a missing entry counts as [`Evidence::Unavailable`].
    pub evidence: Vec<Evidence>,
    /// For a replay from origination: the full inbox of every level after origination up to
    /// the newest commitment without a witness, in order (octez's `messages` of
    /// `/global/block/<level>`: `Start_of_level`, `Info_per_level`, the level's messages,
    /// `End_of_level`, hex). Empty when no replay from origination is wanted.
    pub inboxes: Vec<(u32, Vec<String>)>,
    /// The L1's level witness (`srib2...`) of every level after origination up to the newest
    /// commitment, when the page was given an L1 node; empty otherwise (then the inboxes are
    /// the rollup node's word).
    #[serde(default)]
    pub l1_inboxes: Vec<(u32, String)>,
}

/// The node's evidence for one commitment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Evidence {
    /// The replay witness of the commitment's period: the hex of
    /// [`soru_core::witness::encode`]'s bytes (the `witness` field of the node's answer).
    Witness(String),
    /// The node served no witness, and why (the URL and HTTP status, or the node's error).
    Unavailable(String),
}

/// Why a check could not run at all (individual commitments get their own verdicts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// A field of the request is malformed.
    #[error("{0}")]
    Request(String),
    /// The chain does not start at a genesis commitment.
    #[error("the oldest commitment (inbox level {0}) is not a genesis commitment (zero predecessor and ticks): the node did not serve the chain back to origination")]
    NoGenesis(i32),
    /// The kernel was rejected at origination.
    #[error("the origination kernel the node serves is rejected: {0}")]
    Kernel(String),
}

/// How a commitment was checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// The genesis commitment: its state is the node's kernel's at origination.
    Origination,
    /// Replayed from the previous commitment's state with the node's witness of levels
    /// `first_level..=last_level`.
    Witness {
        /// The first level the witness should cover (the previous commitment's plus one).
        first_level: i64,
        /// The commitment's inbox level.
        last_level: i64,
        /// The witness's size in bytes.
        size: usize,
    },
    /// Replayed from origination on the node's inboxes, because the node served no witness.
    Replay {
        /// Why there is no witness.
        no_witness: String,
    },
    /// Not replayed: no witness, and no replay from origination.
    NotReplayed {
        /// Why there is no witness.
        no_witness: String,
    },
}

impl Method {
    /// A short description for the page ("by witness of levels 11..=15, 4,084 bytes").
    pub fn describe(&self) -> String {
        match self {
            Method::Origination => "kernel at origination".into(),
            Method::Witness {
                first_level,
                last_level,
                size,
            } => format!(
                "witness of levels {first_level}..={last_level} ({} bytes)",
                crate::view::grouped(&size.to_string())
            ),
            Method::Replay { .. } => "replay from origination".into(),
            Method::NotReplayed { .. } => "not replayed".into(),
        }
    }
}

/// What the checker concludes about a commitment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Its hash and link hold, and its state follows from an established state.
    Valid,
    /// The evidence contradicts it (the reason).
    Invalid(String),
    /// Neither: it could not be replayed, or it builds on a commitment that is not valid.
    Unestablished(String),
}

impl Verdict {
    /// Whether it is [`Verdict::Valid`].
    pub fn is_valid(&self) -> bool {
        matches!(self, Verdict::Valid)
    }
}

/// One commitment of the chain, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedCommitment {
    /// The hash the node gave for it.
    pub hash: String,
    /// Its inbox level.
    pub inbox_level: i32,
    /// Its state hash.
    pub state_hash: String,
    /// Its tick count.
    pub number_of_ticks: i64,
    /// How its state was checked.
    pub method: Method,
    /// Whether the inboxes its check replayed (witness or replay from origination) were
    /// compared with the L1's, level by level, and equal.
    pub inboxes_on_l1: bool,
    /// The conclusion.
    pub verdict: Verdict,
}

impl CheckedCommitment {
    /// `commitment src1... at level L: <verdict>`, as the page announces it.
    pub fn summary(&self) -> String {
        let what = match &self.verdict {
            Verdict::Valid if self.inboxes_on_l1 => {
                format!("valid ({}, inboxes as on the L1)", self.method.describe())
            }
            Verdict::Valid => format!("valid ({})", self.method.describe()),
            Verdict::Invalid(why) => why.clone(),
            Verdict::Unestablished(why) => format!("not established: {why}"),
        };
        format!(
            "commitment {} at level {}: {what}",
            self.hash, self.inbox_level
        )
    }
}

/// How far a replay from origination is, for the progress bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayProgress {
    /// Levels replayed.
    pub done: usize,
    /// Levels to replay.
    pub total: usize,
    /// The level just replayed.
    pub level: u32,
}

/// What the checker reports while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckEvent<'a> {
    /// A level of the replay from origination was replayed.
    Level(&'a ReplayProgress),
    /// A commitment was decided (`index` of `total`, oldest first).
    Commitment {
        /// Its index in the chain.
        index: usize,
        /// Commitments in the chain.
        total: usize,
        /// The verdict.
        row: &'a CheckedCommitment,
    },
}

fn decode_chain(
    chain: &[(String, String)],
) -> Result<Vec<(Commitment, CommitmentHash)>, CheckError> {
    chain
        .iter()
        .map(|(json, hash)| {
            let value: serde_json::Value = serde_json::from_str(json)
                .map_err(|e| CheckError::Request(format!("commitment {hash}: {e}")))?;
            let c = Commitment::from_json(&value)
                .map_err(|e| CheckError::Request(format!("commitment {hash}: {e}")))?;
            let h = CommitmentHash::from_b58check(hash)
                .map_err(|e| CheckError::Request(format!("commitment hash {hash:?}: {e}")))?;
            Ok((c, h))
        })
        .collect()
}

/// The commitment period the chain is checked with: the distance between its two newest
/// commitments (every other link must agree).
fn period(chain: &[(Commitment, CommitmentHash)]) -> Option<i32> {
    match chain {
        [.., a, b] => Some(b.0.inbox_level.saturating_sub(a.0.inbox_level)),
        _ => None,
    }
}

/// The hash and link checks of `chain[index]`: it hashes to the hash it was served under and
/// extends `chain[index - 1]` by one period ([`soru_verifier::check_commitment_chain`] on the
/// pair).
fn link_check(
    chain: &[(Commitment, CommitmentHash)],
    index: usize,
    period: Option<i32>,
) -> Result<(), String> {
    let (c, served) = &chain[index];
    let computed = c.hash();
    if computed != *served {
        return Err(format!(
            "it hashes to {}, not to the {} it was served as",
            computed.to_b58check(),
            served.to_b58check()
        ));
    }
    let (Some(period), Some(prev)) = (period, index.checked_sub(1).map(|i| &chain[i].0)) else {
        return Ok(());
    };
    match soru_verifier::check_commitment_chain(&[*prev, *c], period) {
        Ok(_) => Ok(()),
        Err(ChainError::PredecessorMismatch {
            expected, found, ..
        }) => Err(format!(
            "its predecessor is {}, but the previous commitment (level {}) hashes to {}",
            found.to_b58check(),
            prev.inbox_level,
            expected.to_b58check()
        )),
        Err(ChainError::LevelMismatch {
            expected, found, ..
        }) => Err(format!(
            "its inbox level is {found}, not {expected} (the previous commitment's level {} + the commitment period {period})",
            prev.inbox_level
        )),
        Err(ChainError::InvalidPeriod(p)) => Err(format!(
            "the newest two commitments are {p} levels apart, which is no commitment period"
        )),
    }
}

/// A witness check's failure, in the page's words.
fn witness_error(
    e: &CommitmentReplayError,
    prev: &Commitment,
    prev_hash: &CommitmentHash,
) -> String {
    match e {
        CommitmentReplayError::Witness(w) => format!("the witness does not replay: {w}"),
        CommitmentReplayError::NotSuccessor { claimed, given } => {
            format!("its predecessor is {claimed}, not the previous commitment {given}")
        }
        CommitmentReplayError::PreState {
            witness,
            predecessor,
        } => format!(
            "the witness starts from state {witness}, but the previous commitment {} (level {}) says {predecessor}",
            prev_hash.to_b58check(),
            prev.inbox_level
        ),
        CommitmentReplayError::Levels {
            first,
            last,
            expected_first,
            expected_last,
        } => format!(
            "the witness covers levels {first}..={last}, the commitment covers {expected_first}..={expected_last}"
        ),
        CommitmentReplayError::StateHash { computed, claimed } => {
            format!("state hash after replay is {computed}, the commitment says {claimed}")
        }
        CommitmentReplayError::Ticks { computed, claimed } => {
            format!("the replay takes {computed} ticks, the commitment says {claimed}")
        }
    }
}

/// Why a witness check failed: the evidence contradicts the commitment, or the witness's
/// inboxes are not the L1's (then it proves nothing either way).
#[derive(Debug, PartialEq, Eq)]
enum WitnessFailure {
    Invalid(String),
    NotL1(String),
}

/// The L1's level witnesses, by level.
type L1Inboxes = BTreeMap<u32, MerkelizedPayloadsHash>;

/// Whether the inbox of `level`, whose level witness is `computed`, is the L1's (always, when
/// no L1 was given).
fn on_l1(
    l1: &L1Inboxes,
    level: u32,
    computed: MerkelizedPayloadsHash,
    whose: &str,
) -> Result<(), String> {
    if l1.is_empty() {
        return Ok(());
    }
    match l1.get(&level) {
        Some(expected) if *expected == computed => Ok(()),
        Some(expected) => Err(format!(
            "{whose} inbox of level {level} is not the L1's: its messages hash to {}, the L1's level witness is {}",
            computed.to_b58check(),
            expected.to_b58check()
        )),
        None => Err(format!("the page has no L1 inbox for level {level}")),
    }
}

/// Checks `c` against a witness (hex) from the state of `prev`: `Ok(size)` or why not.
fn check_witness(
    hex_text: &str,
    prev: &(Commitment, CommitmentHash),
    c: &Commitment,
    config: &PvmConfig,
    l1: &L1Inboxes,
) -> Result<usize, (usize, WitnessFailure)> {
    let invalid = |size: usize, why: String| (size, WitnessFailure::Invalid(why));
    if hex_text.len() / 2 > MAX_WITNESS_BYTES {
        return Err(invalid(
            hex_text.len() / 2,
            format!(
                "the witness is {} bytes, more than the {MAX_WITNESS_BYTES} this page takes",
                hex_text.len() / 2
            ),
        ));
    }
    let bytes =
        hex::decode(hex_text).map_err(|e| invalid(0, format!("the witness is not hex: {e}")))?;
    let size = bytes.len();
    // The origination parameters are the witness's own: they must be this rollup's.
    let w = soru_core::witness::decode(&bytes)
        .map_err(|e| invalid(size, format!("the witness does not replay: {e}")))?;
    if w.config.rollup_address != config.rollup_address
        || w.config.origination_level != config.origination_level
    {
        return Err(invalid(
            size,
            format!(
                "the witness is for rollup {} originated at level {}, not {} originated at level {}",
                SmartRollupAddress(w.config.rollup_address).to_b58check(),
                w.config.origination_level,
                SmartRollupAddress(config.rollup_address).to_b58check(),
                config.origination_level
            ),
        ));
    }
    for level in &w.levels {
        let computed = level
            .inbox_witness()
            .map_err(|e| invalid(size, format!("the witness's level {}: {e}", level.level)))?;
        on_l1(l1, level.level, computed, "the witness's")
            .map_err(|why| (size, WitnessFailure::NotL1(why)))?;
    }
    drop(w);
    check_commitment_with_witness(&bytes, &prev.0, c)
        .map(|_| size)
        .map_err(|e| invalid(size, witness_error(&e, &prev.0, &prev.1)))
}

/// Checks every commitment of `request` and returns the verdicts, oldest first. `events` hears
/// of every replayed level (replay from origination) and every decided commitment.
pub fn check(
    request: &CheckRequest,
    events: &mut dyn FnMut(CheckEvent),
) -> Result<Vec<CheckedCommitment>, CheckError> {
    let chain = decode_chain(&request.chain)?;
    let Some((genesis, _)) = chain.first() else {
        return Ok(Vec::new());
    };
    if genesis.predecessor != CommitmentHash([0; 32]) || genesis.number_of_ticks != 0 {
        return Err(CheckError::NoGenesis(genesis.inbox_level));
    }
    let kernel = hex::decode(&request.kernel_hex)
        .map_err(|e| CheckError::Request(format!("kernel: {e}")))?;
    let rollup = SmartRollupAddress::from_b58check(&request.rollup)
        .map_err(|e| CheckError::Request(format!("rollup address {:?}: {e}", request.rollup)))?;
    let origination = u32::try_from(genesis.inbox_level)
        .map_err(|_| CheckError::Request("negative genesis inbox level".into()))?;
    let config = PvmConfig {
        rollup_address: rollup.0,
        origination_level: origination,
        first_level: origination + 1,
        ..PvmConfig::default()
    };
    let pvm = Pvm::new(&kernel, config.clone()).map_err(|e| CheckError::Kernel(e.to_string()))?;
    let period = period(&chain);
    let l1: L1Inboxes = request
        .l1_inboxes
        .iter()
        .map(|(level, hash)| {
            MerkelizedPayloadsHash::from_b58check(hash)
                .map(|h| (*level, h))
                .map_err(|e| {
                    CheckError::Request(format!("the L1's level witness of level {level}: {e}"))
                })
        })
        .collect::<Result<_, _>>()?;

    // The newest commitment the replay from origination must reach: the newest without a
    // witness, when the page fetched inboxes.
    let unavailable = |i: usize| match request.evidence.get(i.wrapping_sub(1)) {
        Some(Evidence::Witness(_)) => None,
        Some(Evidence::Unavailable(why)) => Some(why.clone()),
        None => Some("no witness was fetched".to_string()),
    };
    let replay_until = if request.inboxes.is_empty() {
        None
    } else {
        (1..chain.len()).rev().find(|&i| unavailable(i).is_some())
    };
    let genesis_state = StateHash(
        pvm.state_hash()
            .map_err(|e| CheckError::Kernel(e.to_string()))?,
    );
    let mut replayer = replay_until.map(|_| Replayer {
        ticks_before: pvm.ticks(),
        pvm,
        next_level: origination + 1,
        done: 0,
        total: request.inboxes.len(),
        inboxes: request.inboxes.iter(),
        l1: &l1,
        broken: None,
    });

    let mut rows: Vec<CheckedCommitment> = Vec::with_capacity(chain.len());
    for (i, (c, served)) in chain.iter().enumerate() {
        // The replay from origination passes every commitment up to the last one it is for, to
        // count ticks between commitments.
        let replayed = match (&mut replayer, replay_until) {
            (Some(r), Some(until)) if i > 0 && i <= until => {
                Some(r.run_to(c, &mut |p| events(CheckEvent::Level(p))))
            }
            _ => None,
        };
        let link = link_check(&chain, i, period);
        let (method, verdict) = if i == 0 {
            let verdict = match link {
                Err(why) => Verdict::Invalid(why),
                Ok(()) if genesis_state != c.compressed_state => Verdict::Invalid(format!(
                    "the node's kernel at origination has state hash {genesis_state}, the commitment says {}",
                    c.compressed_state
                )),
                Ok(()) => Verdict::Valid,
            };
            (Method::Origination, verdict)
        } else {
            let prev = &chain[i - 1];
            let prev_row = &rows[i - 1];
            match (unavailable(i), &request.evidence.get(i - 1)) {
                (None, Some(Evidence::Witness(hex_text))) => {
                    // A commitment whose hash or link fails is not worth a replay.
                    let checked = match &link {
                        Ok(()) => check_witness(hex_text, prev, c, &config, &l1),
                        Err(_) => Ok(hex_text.len() / 2),
                    };
                    let size = match &checked {
                        Ok(size) | Err((size, _)) => *size,
                    };
                    let method = Method::Witness {
                        first_level: i64::from(prev.0.inbox_level) + 1,
                        last_level: i64::from(c.inbox_level),
                        size,
                    };
                    let verdict = match (link, checked) {
                        (Err(why), _) | (_, Err((_, WitnessFailure::Invalid(why)))) => {
                            Verdict::Invalid(why)
                        }
                        (_, Err((_, WitnessFailure::NotL1(why)))) => Verdict::Unestablished(
                            format!("its witness is not evidence: {why}"),
                        ),
                        (Ok(()), Ok(_)) if !prev_row.verdict.is_valid() => {
                            Verdict::Unestablished(format!(
                                "its witness replays to its state from the state of the previous commitment {} (level {}), which is not valid",
                                prev_row.hash, prev_row.inbox_level
                            ))
                        }
                        (Ok(()), Ok(_)) => Verdict::Valid,
                    };
                    (method, verdict)
                }
                (why, _) => {
                    let no_witness = why.unwrap_or_default();
                    match replayed {
                        Some(replayed) => {
                            let verdict = match (link, replayed) {
                                (Err(why), _) => Verdict::Invalid(why),
                                (Ok(()), Err(why)) => Verdict::Unestablished(format!(
                                    "cannot replay from origination: {why}"
                                )),
                                (Ok(()), Ok(Err(why))) => Verdict::Invalid(why),
                                (Ok(()), Ok(Ok(()))) => Verdict::Valid,
                            };
                            (Method::Replay { no_witness }, verdict)
                        }
                        None => {
                            let verdict = match link {
                                Err(why) => Verdict::Invalid(why),
                                Ok(()) => Verdict::Unestablished(format!(
                                    "the node served no witness ({no_witness}) and the page did not replay from origination"
                                )),
                            };
                            (Method::NotReplayed { no_witness }, verdict)
                        }
                    }
                }
            }
        };
        rows.push(CheckedCommitment {
            hash: served.to_b58check(),
            inbox_level: c.inbox_level,
            state_hash: c.compressed_state.to_b58check(),
            number_of_ticks: c.number_of_ticks,
            inboxes_on_l1: !l1.is_empty()
                && i > 0
                && !matches!(method, Method::NotReplayed { .. })
                && !matches!(verdict, Verdict::Unestablished(_)),
            method,
            verdict,
        });
        events(CheckEvent::Commitment {
            index: i,
            total: chain.len(),
            row: &rows[i],
        });
    }
    Ok(rows)
}

/// A replay from origination in progress.
struct Replayer<'a> {
    pvm: Pvm,
    next_level: u32,
    ticks_before: u128,
    done: usize,
    total: usize,
    inboxes: core::slice::Iter<'a, (u32, Vec<String>)>,
    /// The L1's level witnesses every replayed inbox must match (none: no L1).
    l1: &'a L1Inboxes,
    /// Why the replay cannot go on, once it cannot.
    broken: Option<String>,
}

impl Replayer<'_> {
    /// Replays up to `c`'s inbox level and compares: `Err` when the replay cannot go on (then
    /// and for every later commitment), `Ok(verdict)` otherwise.
    fn run_to(
        &mut self,
        c: &Commitment,
        progress: &mut dyn FnMut(&ReplayProgress),
    ) -> Result<Result<(), String>, String> {
        if let Some(why) = &self.broken {
            return Err(why.clone());
        }
        let compared = self.run(c, progress);
        if let Err(why) = &compared {
            self.broken = Some(why.clone());
        }
        compared
    }

    fn run(
        &mut self,
        c: &Commitment,
        progress: &mut dyn FnMut(&ReplayProgress),
    ) -> Result<Result<(), String>, String> {
        let target = u32::try_from(c.inbox_level)
            .map_err(|_| format!("negative inbox level {}", c.inbox_level))?;
        while self.next_level <= target {
            let expected = self.next_level;
            let Some((level, messages)) = self.inboxes.next() else {
                return Err(format!("the node served no inbox for level {expected}"));
            };
            if *level != expected {
                return Err(format!(
                    "the inboxes skip from level {} to {level}",
                    expected - 1
                ));
            }
            let payloads = decode_level(expected, messages)?;
            if !self.l1.is_empty() {
                let computed = LevelWitness::of_level(&payloads)
                    .map_err(|e| format!("level {expected}: {e}"))?
                    .hash();
                on_l1(self.l1, expected, computed, "the node's")?;
            }
            replay_level(&mut self.pvm, expected, &payloads)?;
            self.next_level += 1;
            self.done += 1;
            progress(&ReplayProgress {
                done: self.done,
                total: self.total,
                level: expected,
            });
        }
        let state = StateHash(self.pvm.state_hash().map_err(|e| e.to_string())?);
        let ticks = self.pvm.ticks() - self.ticks_before;
        self.ticks_before = self.pvm.ticks();
        Ok(if state != c.compressed_state {
            Err(format!(
                "the replay of levels up to {} ends in state {state}, not {}",
                c.inbox_level, c.compressed_state
            ))
        } else if i128::try_from(ticks).ok() != Some(i128::from(c.number_of_ticks)) {
            Err(format!(
                "the replay took {ticks} ticks since the previous commitment, not {}",
                c.number_of_ticks
            ))
        } else {
            Ok(())
        })
    }
}

/// The messages of one full inbox as the node served them (hex), decoded.
fn decode_level(level: u32, messages: &[String]) -> Result<Vec<Vec<u8>>, String> {
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            hex::decode(m).map_err(|e| format!("level {level}: message {i} is not hex: {e}"))
        })
        .collect()
}

/// Feeds one full inbox (protocol messages included) and runs the kernel to the end of it.
fn replay_level(pvm: &mut Pvm, level: u32, messages: &[Vec<u8>]) -> Result<(), String> {
    for (counter, bytes) in messages.iter().enumerate() {
        pvm.step_input(level, counter as u32, bytes)
            .map_err(|e| format!("level {level}: input {counter}: {e}"))?;
    }
    match pvm.finish_level(&mut NoReveal) {
        Ok(Status::WaitingForReveal) => Err(format!(
            "level {level}: the kernel waits for a reveal, which the checker cannot serve yet"
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("level {level}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use soru_core::encoding::inbox::{BlockHash, InboxMessage, InternalInboxMessage};
    use soru_core::witness::WitnessLevel;

    const ECHO: &str = include_str!("../../node-shim/examples/echo.wat");
    const TIMESTAMP: i64 = 1_700_000_000;
    const PREDECESSOR: [u8; 32] = [7; 32];
    /// A node that serves no witness for a period (as soru-node did for the first one).
    const NO_FIRST_WITNESS: &str = "GET u: HTTP 500: witness level 0 is level 11, expected level 0";

    fn external(level: u32) -> Vec<u8> {
        InboxMessage::External(format!("m{level}").into_bytes()).encode()
    }

    fn full_inbox(level: u32) -> Vec<String> {
        let internal = |m| InboxMessage::Internal(m).encode();
        [
            internal(InternalInboxMessage::StartOfLevel),
            internal(InternalInboxMessage::InfoPerLevel {
                predecessor_timestamp: TIMESTAMP,
                predecessor: BlockHash(PREDECESSOR),
            }),
            external(level),
            internal(InternalInboxMessage::EndOfLevel),
        ]
        .iter()
        .map(hex::encode)
        .collect()
    }

    struct Honest {
        /// What the page sends: witnesses from the second period on, the first period's
        /// inboxes for its replay from origination.
        request: CheckRequest,
        commitments: Vec<Commitment>,
        /// The witness of every commitment after the first one (`witnesses[i]` is commitment
        /// `i + 1`'s; `witnesses[0]` is the first period's, which a node cannot serve).
        witnesses: Vec<Vec<u8>>,
        /// Every level's inbox.
        inboxes: Vec<(u32, Vec<String>)>,
    }

    /// What an honest node serves: a chain computed by replaying the same inboxes with a
    /// commitment every `period` levels, with each period's witness and every level's inbox.
    fn honest(period: u32, levels: u32) -> Honest {
        let kernel = wat::parse_str(ECHO).unwrap();
        let origination = 10;
        let rollup = SmartRollupAddress([3; 20]);
        let config = PvmConfig {
            rollup_address: rollup.0,
            origination_level: origination,
            first_level: origination + 1,
            ..PvmConfig::default()
        };
        let mut pvm = Pvm::new(&kernel, config.clone()).unwrap();
        let genesis = Commitment::genesis(origination as i32, StateHash(pvm.state_hash().unwrap()));
        let mut commitments = vec![genesis];
        let mut witnesses = Vec::new();
        let mut inboxes = Vec::new();
        let mut ticks = 0;
        let mut pre = None;
        let mut period_levels = Vec::new();
        for level in origination + 1..=origination + levels {
            let inbox = full_inbox(level);
            replay_level(&mut pvm, level, &decode_level(level, &inbox).unwrap()).unwrap();
            inboxes.push((level, inbox));
            period_levels.push(WitnessLevel {
                level,
                timestamp: TIMESTAMP,
                predecessor: PREDECESSOR,
                messages: vec![external(level)],
            });
            if (level - origination) % period == 0 {
                let levels = core::mem::take(&mut period_levels);
                witnesses.push(match &pre {
                    None => Vec::new(),
                    Some(pre) => {
                        let (w, run) =
                            soru_core::witness::produce(pre, &config, levels, &mut NoReveal)
                                .unwrap();
                        // The witness agrees with the replay from origination.
                        assert_eq!(run.state_hash, pvm.state_hash().unwrap());
                        soru_core::witness::encode(&w).unwrap()
                    }
                });
                pre = Some(pvm.state_tree().unwrap());
                let prev = commitments.last().unwrap();
                commitments.push(Commitment {
                    compressed_state: StateHash(pvm.state_hash().unwrap()),
                    inbox_level: level as i32,
                    predecessor: prev.hash(),
                    number_of_ticks: (pvm.ticks() - ticks) as i64,
                });
                ticks = pvm.ticks();
            }
        }
        let mut evidence: Vec<Evidence> = witnesses
            .iter()
            .map(|w| Evidence::Witness(hex::encode(w)))
            .collect();
        evidence[0] = Evidence::Unavailable(NO_FIRST_WITNESS.into());
        let mut h = Honest {
            request: CheckRequest {
                kernel_hex: hex::encode(kernel),
                rollup: rollup.to_b58check(),
                chain: Vec::new(),
                evidence,
                inboxes: inboxes[..period as usize].to_vec(),
                l1_inboxes: Vec::new(),
            },
            commitments,
            witnesses,
            inboxes,
        };
        h.serve();
        h
    }

    impl Honest {
        /// Serves `commitments` as the chain (each under its own hash).
        fn serve(&mut self) {
            self.request.chain = self
                .commitments
                .iter()
                .map(|c| (c.to_json().to_string(), c.hash().to_b58check()))
                .collect();
        }

        /// Replaces commitment `index` and re-links the ones after it, as a forger would.
        fn forge(&mut self, index: usize, f: impl FnOnce(&mut Commitment)) {
            f(&mut self.commitments[index]);
            for i in index + 1..self.commitments.len() {
                self.commitments[i].predecessor = self.commitments[i - 1].hash();
            }
            self.serve();
        }

        fn rows(&self) -> Vec<CheckedCommitment> {
            check(&self.request, &mut |_| {}).unwrap()
        }

        fn witness(&mut self, commitment: usize, bytes: &[u8]) {
            self.request.evidence[commitment - 1] = Evidence::Witness(hex::encode(bytes));
        }
    }

    /// What an L1 serves for these inboxes: each level's witness (`srib2...`).
    fn l1_of(inboxes: &[(u32, Vec<String>)]) -> Vec<(u32, String)> {
        inboxes
            .iter()
            .map(|(level, messages)| {
                let payloads: Vec<Vec<u8>> =
                    messages.iter().map(|m| hex::decode(m).unwrap()).collect();
                let w = LevelWitness::of_level(&payloads).unwrap();
                (*level, w.hash().to_b58check())
            })
            .collect()
    }

    fn unestablished(row: &CheckedCommitment) -> &str {
        match &row.verdict {
            Verdict::Unestablished(why) => why,
            other => panic!("{} is {other:?}", row.hash),
        }
    }

    #[test]
    fn with_an_l1_the_inboxes_replayed_are_the_l1s() {
        let mut h = honest(3, 9);
        h.request.l1_inboxes = l1_of(&h.inboxes);
        let rows = h.rows();
        assert!(rows.iter().all(|r| r.verdict.is_valid()), "{rows:?}");
        assert!(
            !rows[0].inboxes_on_l1,
            "the genesis commitment replays no inbox"
        );
        assert!(rows[1..].iter().all(|r| r.inboxes_on_l1), "{rows:?}");
        assert!(
            rows[2].summary().ends_with(", inboxes as on the L1)"),
            "{}",
            rows[2].summary()
        );
        // Without the L1 the same chain is valid on the node's word.
        h.request.l1_inboxes.clear();
        assert!(h
            .rows()
            .iter()
            .all(|r| r.verdict.is_valid() && !r.inboxes_on_l1));
    }

    #[test]
    fn a_witness_whose_inbox_is_not_the_l1s_establishes_nothing() {
        let mut h = honest(3, 9);
        h.request.l1_inboxes = l1_of(&h.inboxes);
        let mut w = soru_core::witness::decode(&h.witnesses[1]).unwrap();
        w.levels[2].messages[0] = external(17);
        let forged = w.levels[2].inbox_witness().unwrap().to_b58check();
        h.witness(2, &soru_core::witness::encode(&w).unwrap());
        let rows = h.rows();
        assert!(rows[1].verdict.is_valid());
        let why = unestablished(&rows[2]);
        let l1 = &h.request.l1_inboxes[5].1;
        assert_eq!(
            why,
            format!("its witness is not evidence: the witness's inbox of level 16 is not the L1's: its messages hash to {forged}, the L1's level witness is {l1}")
        );
        assert!(!rows[2].inboxes_on_l1);
        assert!(
            matches!(rows[3].verdict, Verdict::Unestablished(_)),
            "{:?}",
            rows[3]
        );
        // An L1 that lacks a level the witness covers establishes nothing either.
        let mut h = honest(3, 9);
        h.request.l1_inboxes = l1_of(&h.inboxes);
        h.request.l1_inboxes.retain(|(level, _)| *level != 14);
        let rows = h.rows();
        assert_eq!(
            unestablished(&rows[2]),
            "its witness is not evidence: the page has no L1 inbox for level 14"
        );
        // A level witness that is not `srib2` base58 is a bad request.
        h.request.l1_inboxes[0].1 = "srib1xyz".into();
        assert!(matches!(
            check(&h.request, &mut |_| {}),
            Err(CheckError::Request(why)) if why.starts_with("the L1's level witness of level 11: ")
        ));
    }

    #[test]
    fn a_replay_from_origination_stops_at_an_inbox_that_is_not_the_l1s() {
        let mut h = honest(3, 6);
        h.request.evidence = vec![Evidence::Unavailable("GET u: HTTP 404: not found".into())];
        h.request.l1_inboxes = l1_of(&h.inboxes);
        // The node serves a different message at level 15 (as a forging node would).
        let mut inboxes = h.inboxes.clone();
        inboxes[4].1[2] = hex::encode(external(99));
        h.request.inboxes = inboxes;
        let rows = h.rows();
        assert!(
            rows[1].verdict.is_valid() && rows[1].inboxes_on_l1,
            "{:?}",
            rows[1]
        );
        let why = unestablished(&rows[2]);
        assert!(
            why.starts_with("cannot replay from origination: the node's inbox of level 15 is not the L1's: its messages hash to srib2"),
            "{why}"
        );
        assert!(
            why.ends_with(&format!(
                "the L1's level witness is {}",
                h.request.l1_inboxes[4].1
            )),
            "{why}"
        );
    }

    fn invalid(row: &CheckedCommitment) -> &str {
        match &row.verdict {
            Verdict::Invalid(why) => why,
            other => panic!("{} is {other:?}", row.hash),
        }
    }

    #[test]
    fn an_honest_chain_checks_valid_by_witness() {
        let h = honest(3, 9);
        let mut events = Vec::new();
        let rows = check(&h.request, &mut |e| {
            events.push(match e {
                CheckEvent::Level(p) => format!("level {}", p.level),
                CheckEvent::Commitment { index, total, row } => {
                    format!("{index}/{total} {}", row.summary())
                }
            })
        })
        .unwrap();
        assert_eq!(rows.len(), 4);
        assert!(rows.iter().all(|r| r.verdict.is_valid()), "{rows:?}");
        assert_eq!(rows[0].method, Method::Origination);
        assert_eq!(
            rows[1].method,
            Method::Replay {
                no_witness: NO_FIRST_WITNESS.into()
            }
        );
        assert_eq!(
            rows[2].method,
            Method::Witness {
                first_level: 14,
                last_level: 16,
                size: h.witnesses[1].len()
            }
        );
        // The first period is replayed from origination, level by level; the rest by witness.
        assert_eq!(
            events[..5],
            [
                format!(
                    "0/4 commitment {} at level 10: valid (kernel at origination)",
                    h.commitments[0].hash().to_b58check()
                ),
                "level 11".into(),
                "level 12".into(),
                "level 13".into(),
                format!(
                    "1/4 commitment {} at level 13: valid (replay from origination)",
                    h.commitments[1].hash().to_b58check()
                ),
            ],
        );
        assert_eq!(events.len(), 7, "{events:?}");
        assert!(
            events[6].starts_with(&format!(
                "3/4 commitment {} at level 19: valid (witness of levels 17..=19 (",
                h.commitments[3].hash().to_b58check()
            )),
            "{events:?}"
        );
    }

    #[test]
    fn a_tampered_witness_invalidates_its_commitment_and_leaves_the_next_unestablished() {
        let mut h = honest(3, 9);
        // The second period's witness with the last level's message changed ("m16" -> "m17").
        let mut w = soru_core::witness::decode(&h.witnesses[1]).unwrap();
        w.levels[2].messages[0] = external(17);
        h.witness(2, &soru_core::witness::encode(&w).unwrap());
        let rows = h.rows();
        assert!(rows[1].verdict.is_valid());
        let e = invalid(&rows[2]);
        assert!(
            e.starts_with("state hash after replay is srs1")
                && e.ends_with(&format!(
                    ", the commitment says {}",
                    h.commitments[2].compressed_state
                )),
            "{e}"
        );
        assert!(rows[2].summary().starts_with(&format!(
            "commitment {} at level 16: state hash after replay is srs1",
            h.commitments[2].hash().to_b58check()
        )));
        // The next one replays fine, but from a state nothing established.
        assert!(
            matches!(&rows[3].verdict, Verdict::Unestablished(why) if why.contains("which is not valid")),
            "{:?}",
            rows[3]
        );
        // Garbage, a truncated witness and a witness of another rollup are errors too.
        for (evidence, expected) in [
            ("zz".to_string(), "the witness is not hex"),
            (
                hex::encode(&h.witnesses[1][..100]),
                "the witness does not replay: malformed witness",
            ),
        ] {
            h.request.evidence[1] = Evidence::Witness(evidence);
            let rows = h.rows();
            assert!(invalid(&rows[2]).starts_with(expected), "{:?}", rows[2]);
        }
        let mut w = soru_core::witness::decode(&h.witnesses[1]).unwrap();
        w.config.rollup_address = [4; 20];
        h.witness(2, &soru_core::witness::encode(&w).unwrap());
        assert!(invalid(&h.rows()[2]).starts_with("the witness is for rollup sr1"));
        // A witness of the wrong levels (the third period's for the second commitment).
        let third = h.witnesses[2].clone();
        h.witness(2, &third);
        assert_eq!(
            invalid(&h.rows()[2]),
            "the witness covers levels 17..=19, the commitment covers 14..=16"
        );
    }

    #[test]
    fn a_tampered_state_hash_or_tick_count_is_named() {
        let mut h = honest(3, 9);
        let forged = StateHash([9; 32]);
        h.forge(2, |c| c.compressed_state = forged);
        let rows = h.rows();
        assert!(rows[1].verdict.is_valid());
        let replayed =
            soru_core::witness::replay(&soru_core::witness::decode(&h.witnesses[1]).unwrap())
                .unwrap();
        assert_eq!(
            invalid(&rows[2]),
            format!(
                "state hash after replay is {}, the commitment says {forged}",
                StateHash(replayed.state_hash)
            )
        );
        // The honest witness of the next period starts from the true state, not the forged one.
        let e = invalid(&rows[3]);
        assert!(
            e.starts_with("the witness starts from state srs1")
                && e.ends_with(&format!(
                    "but the previous commitment {} (level 16) says {forged}",
                    h.commitments[2].hash().to_b58check()
                )),
            "{e}"
        );

        let mut h = honest(3, 9);
        let true_ticks = h.commitments[2].number_of_ticks;
        h.forge(2, |c| c.number_of_ticks += 1);
        let rows = h.rows();
        assert_eq!(
            invalid(&rows[2]),
            format!(
                "the replay takes {true_ticks} ticks, the commitment says {}",
                true_ticks + 1
            )
        );
    }

    #[test]
    fn a_broken_predecessor_link_is_named() {
        let mut h = honest(3, 6);
        let stranger = Commitment::genesis(1, StateHash([1; 32])).hash();
        h.commitments[2].predecessor = stranger;
        h.serve();
        let rows = h.rows();
        assert!(rows[1].verdict.is_valid());
        assert_eq!(
            invalid(&rows[2]),
            format!(
                "its predecessor is {}, but the previous commitment (level 13) hashes to {}",
                stranger.to_b58check(),
                h.commitments[1].hash().to_b58check()
            )
        );
        // The witness check names it as well.
        let config = PvmConfig {
            rollup_address: [3; 20],
            origination_level: 10,
            ..PvmConfig::default()
        };
        let prev = (h.commitments[1], h.commitments[1].hash());
        let witness = hex::encode(&h.witnesses[1]);
        assert_eq!(
            check_witness(
                &witness,
                &prev,
                &h.commitments[2],
                &config,
                &L1Inboxes::new()
            )
            .unwrap_err()
            .1,
            WitnessFailure::Invalid(format!(
                "its predecessor is {}, not the previous commitment {}",
                stranger.to_b58check(),
                h.commitments[1].hash().to_b58check()
            ))
        );
        // A commitment served under another hash, and a level off the period.
        let mut h = honest(3, 6);
        h.request.chain[2].1 = h.commitments[0].hash().to_b58check();
        assert!(invalid(&h.rows()[2]).starts_with("it hashes to src1"));
        let mut h = honest(3, 9);
        h.forge(1, |c| c.inbox_level += 1);
        assert_eq!(
            invalid(&h.rows()[1]),
            "its inbox level is 14, not 13 (the previous commitment's level 10 + the commitment period 3)"
        );
    }

    #[test]
    fn without_witnesses_the_rollup_is_replayed_from_origination() {
        let mut h = honest(3, 6);
        h.request.evidence = vec![Evidence::Unavailable("GET u: HTTP 404: not found".into())];
        h.request.inboxes = h.inboxes.clone();
        let mut levels = Vec::new();
        let rows = check(&h.request, &mut |e| {
            if let CheckEvent::Level(p) = e {
                levels.push((p.done, p.level));
            }
        })
        .unwrap();
        assert!(rows.iter().all(|r| r.verdict.is_valid()), "{rows:?}");
        assert_eq!(
            rows[1].method,
            Method::Replay {
                no_witness: "GET u: HTTP 404: not found".into()
            }
        );
        assert_eq!(
            rows[2].method,
            Method::Replay {
                no_witness: "no witness was fetched".into()
            }
        );
        assert_eq!(levels.len(), 6);
        assert_eq!(levels.last(), Some(&(6, 16)));

        // A tampered inbox (level 15, in the second period) fails the commitment covering it.
        let mut tampered = h.request.clone();
        tampered.inboxes[4].1[2] = hex::encode(InboxMessage::External(b"forged".to_vec()).encode());
        let rows = check(&tampered, &mut |_| {}).unwrap();
        assert!(rows[1].verdict.is_valid());
        assert!(
            invalid(&rows[2]).starts_with("the replay of levels up to 16 ends in state srs1"),
            "{rows:?}"
        );

        // Missing inboxes leave the commitments after them unestablished.
        let mut short = h.request.clone();
        short.inboxes.truncate(4);
        let rows = check(&short, &mut |_| {}).unwrap();
        assert!(rows[1].verdict.is_valid());
        assert_eq!(
            rows[2].verdict,
            Verdict::Unestablished(
                "cannot replay from origination: the node served no inbox for level 15".into()
            )
        );

        // Without inboxes nothing is replayed, and nothing builds on what was not.
        let mut none = honest(3, 6);
        none.request.inboxes.clear();
        let rows = none.rows();
        assert!(matches!(&rows[1].method, Method::NotReplayed { .. }));
        assert!(
            matches!(&rows[1].verdict, Verdict::Unestablished(why) if why.starts_with("the node served no witness (GET u: HTTP 500")),
            "{:?}",
            rows[1]
        );
        assert!(matches!(&rows[2].method, Method::Witness { .. }));
        assert!(matches!(&rows[2].verdict, Verdict::Unestablished(_)));
    }

    #[test]
    fn a_wrong_kernel_fails_the_genesis_commitment_and_bad_requests_are_errors() {
        let mut h = honest(3, 6);
        let other =
            wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "kernel_run")))"#)
                .unwrap();
        h.request.kernel_hex = hex::encode(other);
        let rows = h.rows();
        assert!(
            invalid(&rows[0]).starts_with("the node's kernel at origination has state hash srs1")
        );
        assert!(invalid(&rows[1]).starts_with("the replay of levels up to 13 ends in state"));
        assert!(matches!(&rows[2].verdict, Verdict::Unestablished(_)));

        let mut h = honest(3, 6);
        h.request.chain.remove(0);
        assert_eq!(
            check(&h.request, &mut |_| {}),
            Err(CheckError::NoGenesis(13))
        );
        h.request.chain.clear();
        assert_eq!(check(&h.request, &mut |_| {}), Ok(Vec::new()));
        let mut h = honest(3, 3);
        h.request.kernel_hex = "0".into();
        assert!(
            matches!(check(&h.request, &mut |_| {}), Err(CheckError::Request(e)) if e.starts_with("kernel: "))
        );
        let mut h = honest(3, 3);
        h.request.chain[1].0 = "{".into();
        assert!(
            matches!(check(&h.request, &mut |_| {}), Err(CheckError::Request(e)) if e.starts_with("commitment src1"))
        );
    }
}
