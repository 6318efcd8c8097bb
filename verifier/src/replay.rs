//! Replaying levels with the PVM (feature `replay`): re-run a kernel on an inbox and compare the
//! resulting state hash with a commitment's.
//!
//! * [`replay`] starts at origination, so it suits small rollups whose whole history the client
//!   can fetch.
//! * [`replay_witness`] and [`check_commitment_with_witness`] are *stateless*: they re-run the
//!   levels of a [replay witness](soru_core::witness) (the part of the pre-state the levels
//!   read, as a tree proof, plus the inbox), which a rollup node produces
//!   (`soru replay --witness-out`), so a light client checks a commitment of a rollup whose state
//!   it does not hold. [`check_witness_inbox`] checks the witness's inbox against the L1's
//!   shared inbox (`all/inbox` after each level), so the node's word is needed for nothing.
//!
//! ```
//! use soru_verifier::replay::{replay, ReplayConfig};
//! // A kernel that does nothing: every level ends in the same state.
//! let kernel = [0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 3, 1, 0, 1, 7,
//!     23, 2, 6, 109, 101, 109, 111, 114, 121, 2, 0, 10, 107, 101, 114, 110, 101, 108, 95, 114,
//!     117, 110, 0, 0, 10, 4, 1, 2, 0, 11];
//! let levels = vec![vec![b"\x01hi".to_vec()], vec![]];
//! let r = replay(&kernel, &levels, &ReplayConfig::default())?;
//! assert_eq!(r.levels.len(), 2);
//! assert_eq!(r.levels[1].state_hash, r.state_hash);
//! # Ok::<(), soru_verifier::replay::ReplayError>(())
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use soru_core::inbox::{Inbox, MerkelizedPayloadsHash};
use soru_core::pvm::{Pvm, PvmConfig, PvmError};
use soru_core::reveal::NoReveal;
pub use soru_core::witness::{
    Witness, WitnessError, WitnessLevel, WitnessLevelRun, WitnessRun, MAGIC as WITNESS_MAGIC,
};

use crate::{Commitment, Json, StateHash};

/// The parameters a replay needs from origination.
pub type ReplayConfig = PvmConfig;

/// One replayed level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayLevel {
    /// The inbox level.
    pub level: u32,
    /// The state hash at the end of the level.
    pub state_hash: StateHash,
    /// Total ticks since origination at the end of the level.
    pub ticks: u128,
    /// The messages the kernel wrote to the outbox of this level.
    pub outbox: Vec<Vec<u8>>,
    /// The PVM status at the end of the level (`waiting_for_input`, `stuck`, ...).
    pub status: String,
}

/// The result of a replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    /// Every level, in order.
    pub levels: Vec<ReplayLevel>,
    /// The final state hash.
    pub state_hash: StateHash,
    /// Total ticks at the end.
    pub ticks: u128,
}

/// Why a replay could not be completed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The kernel was rejected at origination.
    #[error("kernel: {0}")]
    Kernel(PvmError),
    /// The PVM failed at a level.
    #[error("level {level}: {error}")]
    Level {
        /// The inbox level.
        level: u32,
        /// What failed.
        error: PvmError,
    },
    /// The kernel asked for a preimage; a replay has no reveal source.
    #[error("level {0}: the kernel waits for a reveal, which a replay cannot serve")]
    Reveal(u32),
}

/// Runs `kernel` from origination on `levels` (each the serialized inbox messages of one level,
/// between `Info_per_level` and `End_of_level`), with the octez debugger's level conventions.
pub fn replay(
    kernel: &[u8],
    levels: &[Vec<Vec<u8>>],
    config: &ReplayConfig,
) -> Result<Replay, ReplayError> {
    let mut pvm = Pvm::new(kernel, config.clone()).map_err(ReplayError::Kernel)?;
    let mut out = Vec::with_capacity(levels.len());
    for messages in levels {
        let r = pvm
            .run_level(messages, &mut NoReveal)
            .map_err(|error| ReplayError::Level {
                level: pvm.report().map(|r| r.level).unwrap_or(0),
                error,
            })?;
        if r.status == soru_core::pvm::Status::WaitingForReveal {
            return Err(ReplayError::Reveal(r.level));
        }
        out.push(ReplayLevel {
            level: r.level,
            state_hash: StateHash(r.state_hash),
            ticks: r.ticks,
            outbox: r.outbox,
            status: r.status.to_string(),
        });
    }
    let (state_hash, ticks) = match out.last() {
        Some(l) => (l.state_hash, l.ticks),
        None => (
            StateHash(pvm.state_hash().map_err(ReplayError::Kernel)?),
            pvm.ticks(),
        ),
    };
    Ok(Replay {
        levels: out,
        state_hash,
        ticks,
    })
}

impl Replay {
    /// `{"state_hash": "srs1..", "ticks": "..", "levels": [{"level", "state_hash", "ticks",
    /// "outbox": [hex..], "status"}]}` (ticks as decimal strings).
    pub fn to_json(&self) -> Json {
        let levels = self
            .levels
            .iter()
            .map(|l| level_json(l.level, &l.state_hash, l.ticks, &l.outbox, &l.status));
        Json::object([
            ("state_hash", Json::String(self.state_hash.to_b58check())),
            ("ticks", Json::String(self.ticks.to_string())),
            ("levels", Json::Array(levels.collect())),
        ])
    }
}

/// One level of [`Replay::to_json`] and [`witness_run_json`].
fn level_json(
    level: u32,
    state_hash: &StateHash,
    ticks: u128,
    outbox: &[Vec<u8>],
    status: &str,
) -> Json {
    Json::object([
        ("level", Json::Int(i64::from(level))),
        ("state_hash", Json::String(state_hash.to_b58check())),
        ("ticks", Json::String(ticks.to_string())),
        (
            "outbox",
            Json::Array(
                outbox
                    .iter()
                    .map(|m| Json::String(hex::encode(m)))
                    .collect(),
            ),
        ),
        ("status", Json::String(String::from(status))),
    ])
}

/// Decodes a witness ([`soru_core::witness::encode`]'s bytes) and replays it.
pub fn replay_witness(witness: &[u8]) -> Result<WitnessRun, WitnessError> {
    soru_core::witness::replay(&soru_core::witness::decode(witness)?)
}

/// Why a witness does not establish a commitment.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommitmentReplayError {
    /// The witness could not be decoded or replayed.
    #[error("{0}")]
    Witness(#[from] WitnessError),
    /// The commitment's predecessor is not the commitment given as predecessor.
    #[error("the commitment's predecessor is {claimed}, not the given predecessor {given}")]
    NotSuccessor {
        /// The commitment's `predecessor` (`src1...`).
        claimed: String,
        /// The hash of the commitment given as predecessor.
        given: String,
    },
    /// The witness starts from another state than the predecessor's.
    #[error(
        "the witness starts from state {witness} but the predecessor commits to {predecessor}"
    )]
    PreState {
        /// The witness's pre-state hash (`srs1...`).
        witness: String,
        /// The predecessor's state hash.
        predecessor: String,
    },
    /// The witness's levels are not the ones the commitment covers.
    #[error("the witness covers levels {first}..={last} but the commitment covers {expected_first}..={expected_last}")]
    Levels {
        /// The witness's first level.
        first: i64,
        /// The witness's last level.
        last: i64,
        /// The level after the predecessor's.
        expected_first: i64,
        /// The commitment's inbox level.
        expected_last: i64,
    },
    /// The replay ends in another state.
    #[error("the replay ends in state {computed} but the commitment claims {claimed}")]
    StateHash {
        /// The replay's final state hash.
        computed: String,
        /// The commitment's.
        claimed: String,
    },
    /// The replay takes another number of ticks.
    #[error("the replay takes {computed} ticks but the commitment claims {claimed}")]
    Ticks {
        /// Ticks the replay took.
        computed: u128,
        /// The commitment's `number_of_ticks`.
        claimed: i64,
    },
}

/// Checks `commitment` by replaying `witness` from the state of `predecessor` (the commitment
/// it names as predecessor): the witness must start at that state and cover exactly the levels
/// after the predecessor's up to the commitment's, and the replay must end in the committed state
/// after the committed number of ticks. Returns the replay.
pub fn check_commitment_with_witness(
    witness: &[u8],
    predecessor: &Commitment,
    commitment: &Commitment,
) -> Result<WitnessRun, CommitmentReplayError> {
    let given = predecessor.hash();
    if commitment.predecessor != given {
        return Err(CommitmentReplayError::NotSuccessor {
            claimed: commitment.predecessor.to_b58check(),
            given: given.to_b58check(),
        });
    }
    let w = soru_core::witness::decode(witness)?;
    let first = w.levels.first().map_or(-1, |l| i64::from(l.level));
    let last = w.levels.last().map_or(-1, |l| i64::from(l.level));
    let expected_first = i64::from(predecessor.inbox_level) + 1;
    let expected_last = i64::from(commitment.inbox_level);
    if (first, last) != (expected_first, expected_last) {
        return Err(CommitmentReplayError::Levels {
            first,
            last,
            expected_first,
            expected_last,
        });
    }
    let pre = w
        .pre_state
        .to_tree()
        .map_err(|e| WitnessError::PreState(e.to_string()))?
        .hash();
    if pre != predecessor.compressed_state.0 {
        return Err(CommitmentReplayError::PreState {
            witness: StateHash(pre).to_b58check(),
            predecessor: predecessor.compressed_state.to_b58check(),
        });
    }
    let run = soru_core::witness::replay(&w)?;
    if run.state_hash != commitment.compressed_state.0 {
        return Err(CommitmentReplayError::StateHash {
            computed: StateHash(run.state_hash).to_b58check(),
            claimed: commitment.compressed_state.to_b58check(),
        });
    }
    let ticks = run.ticks - run.pre_ticks;
    if i64::try_from(ticks).ok() != Some(commitment.number_of_ticks) {
        return Err(CommitmentReplayError::Ticks {
            computed: ticks,
            claimed: commitment.number_of_ticks,
        });
    }
    Ok(run)
}

/// Why a witness's inbox is not the L1's ([`check_witness_inbox`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InboxCheckError {
    /// A witnessed level's messages do not form an inbox level.
    #[error("level {level}: {reason}")]
    Level {
        /// The inbox level.
        level: u32,
        /// What is wrong with its messages.
        reason: String,
    },
    /// No L1 inbox after a witnessed level was given.
    #[error("level {level}: no L1 inbox after this level was given")]
    Missing {
        /// The inbox level.
        level: u32,
    },
    /// The L1's inbox holds another level witness: the witness's messages are not the L1's.
    #[error("level {level}: the witness's messages hash to {witness}, the L1's inbox after level {level} holds {l1}")]
    Mismatch {
        /// The inbox level.
        level: u32,
        /// The `srib2` hash of the witness's messages.
        witness: String,
        /// The `srib2` hash in the L1's inbox.
        l1: String,
    },
}

/// Checks the inbox of a witness against the L1: for every witnessed level, the L1's shared
/// inbox after that level (`GET /chains/main/blocks/<level>/context/smart_rollups/all/inbox`,
/// parsed with [`Inbox::from_json`](soru_core::inbox::Inbox), given in any order) must hold in
/// `old_levels_messages` the level witness the witness's messages hash to
/// ([`WitnessLevel::inbox_witness`]). Together with [`check_commitment_with_witness`] this
/// checks a commitment from the L1's inbox and the predecessor's state alone. Returns each
/// level with its witness.
pub fn check_witness_inbox(
    witness: &Witness,
    inboxes: &[Inbox],
) -> Result<Vec<(u32, MerkelizedPayloadsHash)>, InboxCheckError> {
    witness
        .levels
        .iter()
        .map(|l| {
            let ours = l.inbox_witness().map_err(|e| InboxCheckError::Level {
                level: l.level,
                reason: e.to_string(),
            })?;
            let cell = inboxes
                .iter()
                .map(|i| &i.old_levels_messages.content)
                .find(|c| i64::from(c.level) == i64::from(l.level))
                .ok_or(InboxCheckError::Missing { level: l.level })?;
            if cell.hash != ours {
                return Err(InboxCheckError::Mismatch {
                    level: l.level,
                    witness: ours.to_b58check(),
                    l1: cell.hash.to_b58check(),
                });
            }
            Ok((l.level, ours))
        })
        .collect()
}

/// `{"pre_state_hash", "pre_ticks", "state_hash", "ticks", "levels": [{"level", "state_hash",
/// "ticks", "outbox": [hex..], "status", "inbox_witness"}]}` (ticks as decimal strings), the
/// shape of [`Replay::to_json`] with the pre-state and each level's `srib2` inbox witness added.
pub fn witness_run_json(run: &WitnessRun) -> Json {
    let levels = run.levels.iter().map(|l| {
        let status = l.status.to_string();
        let mut json = level_json(
            l.level,
            &StateHash(l.state_hash),
            l.ticks,
            &l.outbox,
            &status,
        );
        if let Json::Object(fields) = &mut json {
            fields.insert(
                "inbox_witness".into(),
                Json::String(l.inbox_witness.to_b58check()),
            );
        }
        json
    });
    Json::object([
        (
            "pre_state_hash",
            Json::String(StateHash(run.pre_state_hash).to_b58check()),
        ),
        ("pre_ticks", Json::String(run.pre_ticks.to_string())),
        (
            "state_hash",
            Json::String(StateHash(run.state_hash).to_b58check()),
        ),
        ("ticks", Json::String(run.ticks.to_string())),
        ("levels", Json::Array(levels.collect())),
    ])
}
