//! Replaying levels with the PVM (feature `replay`): re-run a kernel on an inbox and compare the
//! resulting state hash with a commitment's. Full replay starts at origination, so it suits
//! small rollups whose whole history the client can fetch.
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

use soru_core::pvm::{Pvm, PvmConfig, PvmError};
use soru_core::reveal::NoReveal;

use crate::{Json, StateHash};

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
        let level = |l: &ReplayLevel| {
            Json::object([
                ("level", Json::Int(i64::from(l.level))),
                ("state_hash", Json::String(l.state_hash.to_b58check())),
                ("ticks", Json::String(l.ticks.to_string())),
                (
                    "outbox",
                    Json::Array(
                        l.outbox
                            .iter()
                            .map(|m| Json::String(hex::encode(m)))
                            .collect(),
                    ),
                ),
                ("status", Json::String(l.status.clone())),
            ])
        };
        Json::object([
            ("state_hash", Json::String(self.state_hash.to_b58check())),
            ("ticks", Json::String(self.ticks.to_string())),
            (
                "levels",
                Json::Array(self.levels.iter().map(level).collect()),
            ),
        ])
    }
}
