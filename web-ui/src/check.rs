//! The commitment checker's replay: run the rollup's kernel from its origination on the full
//! inboxes a rollup node serves, and compare every commitment of the chain with the replay
//! (state hash after its last level, ticks since its predecessor), on top of the hash and link
//! checks of [`rpc::check_fetched_chain`].
//!
//! It runs in the checker's Web Worker (and natively in tests). A full replay from origination
//! suits small rollups, whose whole history the page can fetch; the inputs are the node's
//! word (a light client that also checks them against the L1 inbox is future work).

use serde::{Deserialize, Serialize};
use soru_core::pvm::{Pvm, PvmConfig, Status};
use soru_core::reveal::NoReveal;
use soru_verifier::{Commitment, CommitmentHash, StateHash};

use crate::rpc::{self, CheckedCommitment};

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
    /// The full inbox of every level after origination up to the newest commitment, in order:
    /// octez's `messages` of `/global/block/<level>` (`Start_of_level`, `Info_per_level`, the
    /// level's messages, `End_of_level`), hex.
    pub inboxes: Vec<(u32, Vec<String>)>,
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

/// How far a replay is, for the progress bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayProgress {
    /// Levels replayed.
    pub done: usize,
    /// Levels to replay.
    pub total: usize,
    /// The level just replayed.
    pub level: u32,
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

/// Replays the rollup from origination and returns each commitment's verdict, oldest first.
/// `progress` is called after every replayed level.
pub fn check(
    request: &CheckRequest,
    progress: &mut dyn FnMut(&ReplayProgress),
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
    let rollup = soru_core::encoding::address::SmartRollupAddress::from_b58check(&request.rollup)
        .map_err(|e| {
        CheckError::Request(format!("rollup address {:?}: {e}", request.rollup))
    })?;
    let origination = u32::try_from(genesis.inbox_level)
        .map_err(|_| CheckError::Request("negative genesis inbox level".into()))?;
    let config = PvmConfig {
        rollup_address: rollup.0,
        origination_level: origination,
        first_level: origination + 1,
        ..PvmConfig::default()
    };
    let pvm = Pvm::new(&kernel, config).map_err(|e| CheckError::Kernel(e.to_string()))?;

    // Hash and link checks first; a commitment that fails them keeps that verdict.
    let newest_first: Vec<_> = chain.iter().rev().copied().collect();
    let mut verdicts = rpc::check_fetched_chain(&newest_first);
    let ticks_before = pvm.ticks();
    let mut replayer = Replayer {
        pvm,
        next_level: origination + 1,
        ticks_before,
        done: 0,
        total: request.inboxes.len(),
        inboxes: request.inboxes.iter(),
    };
    // Once the replay itself fails, later commitments cannot be checked against it.
    let mut broken: Option<String> = None;
    for (i, (c, _)) in chain.iter().enumerate() {
        let replayed = match &broken {
            Some(why) => Err(format!("cannot replay: {why}")),
            None => match replayer.run_to(c, progress) {
                Ok(compared) => compared,
                Err(why) => {
                    broken = Some(why.clone());
                    Err(why)
                }
            },
        };
        if let Some(v) = verdicts.get_mut(i) {
            if v.verdict.is_ok() {
                v.verdict = replayed;
            }
        }
    }
    Ok(verdicts)
}

/// A replay in progress.
struct Replayer<'a> {
    pvm: Pvm,
    next_level: u32,
    ticks_before: u128,
    done: usize,
    total: usize,
    inboxes: core::slice::Iter<'a, (u32, Vec<String>)>,
}

impl Replayer<'_> {
    /// Replays up to `c`'s inbox level and compares: `Err` when the replay cannot go on,
    /// `Ok(verdict)` otherwise.
    fn run_to(
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
            replay_level(&mut self.pvm, expected, messages)?;
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

/// Feeds one full inbox (protocol messages included) and runs the kernel to the end of it.
fn replay_level(pvm: &mut Pvm, level: u32, messages: &[String]) -> Result<(), String> {
    for (counter, m) in messages.iter().enumerate() {
        let bytes = hex::decode(m)
            .map_err(|e| format!("level {level}: message {counter} is not hex: {e}"))?;
        pvm.step_input(level, counter as u32, &bytes)
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

    const ECHO: &str = include_str!("../../node-shim/examples/echo.wat");

    fn full_inbox(external: &[&[u8]]) -> Vec<String> {
        let internal = |m| InboxMessage::Internal(m).encode();
        let mut all = vec![
            internal(InternalInboxMessage::StartOfLevel),
            internal(InternalInboxMessage::InfoPerLevel {
                predecessor_timestamp: 1_700_000_000,
                predecessor: BlockHash([7; 32]),
            }),
        ];
        all.extend(
            external
                .iter()
                .map(|e| InboxMessage::External(e.to_vec()).encode()),
        );
        all.push(internal(InternalInboxMessage::EndOfLevel));
        all.iter().map(hex::encode).collect()
    }

    /// What an honest node serves: a chain computed by replaying the same inboxes, with a
    /// commitment every `period` levels.
    fn honest(period: u32, levels: u32) -> CheckRequest {
        let kernel = wat::parse_str(ECHO).unwrap();
        let origination = 10;
        let rollup = soru_core::encoding::address::SmartRollupAddress([3; 20]);
        let config = PvmConfig {
            rollup_address: rollup.0,
            origination_level: origination,
            first_level: origination + 1,
            ..PvmConfig::default()
        };
        let mut pvm = Pvm::new(&kernel, config).unwrap();
        let genesis = Commitment::genesis(origination as i32, StateHash(pvm.state_hash().unwrap()));
        let mut chain = vec![genesis];
        let mut inboxes = Vec::new();
        let mut ticks = 0;
        for level in origination + 1..=origination + levels {
            let inbox = full_inbox(&[format!("m{level}").as_bytes()]);
            replay_level(&mut pvm, level, &inbox).unwrap();
            inboxes.push((level, inbox));
            if (level - origination) % period == 0 {
                let prev = chain.last().unwrap();
                chain.push(Commitment {
                    compressed_state: StateHash(pvm.state_hash().unwrap()),
                    inbox_level: level as i32,
                    predecessor: prev.hash(),
                    number_of_ticks: (pvm.ticks() - ticks) as i64,
                });
                ticks = pvm.ticks();
            }
        }
        CheckRequest {
            kernel_hex: hex::encode(kernel),
            rollup: rollup.to_b58check(),
            chain: chain
                .iter()
                .map(|c| (c.to_json().to_string(), c.hash().to_b58check()))
                .collect(),
            inboxes,
        }
    }

    #[test]
    fn an_honest_chain_replays_valid() {
        let request = honest(3, 6);
        let mut seen = Vec::new();
        let verdicts = check(&request, &mut |p| seen.push((p.done, p.level))).unwrap();
        assert_eq!(verdicts.len(), 3);
        assert!(verdicts.iter().all(|v| v.verdict.is_ok()), "{verdicts:?}");
        assert_eq!(seen.len(), 6);
        assert_eq!(seen.last(), Some(&(6, 16)));
    }

    #[test]
    fn a_tampered_inbox_invalidates_its_commitment_and_the_ones_after() {
        let mut request = honest(3, 6);
        // Level 15 (the second period) gets another external message.
        request.inboxes[4].1[2] = hex::encode(InboxMessage::External(b"forged".to_vec()).encode());
        let verdicts = check(&request, &mut |_| {}).unwrap();
        assert!(verdicts[0].verdict.is_ok());
        assert!(verdicts[1].verdict.is_ok());
        let e = verdicts[2].verdict.as_ref().unwrap_err();
        assert!(
            e.starts_with("the replay of levels up to 16 ends in state srs1"),
            "{e}"
        );
    }

    #[test]
    fn a_wrong_kernel_fails_the_genesis_commitment() {
        let mut request = honest(3, 3);
        let other =
            wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "kernel_run")))"#)
                .unwrap();
        request.kernel_hex = hex::encode(other);
        let verdicts = check(&request, &mut |_| {}).unwrap();
        assert!(verdicts[0]
            .verdict
            .as_ref()
            .unwrap_err()
            .contains("ends in state"));
    }

    #[test]
    fn missing_inboxes_and_chains_without_genesis_are_reported() {
        let mut request = honest(3, 6);
        request.inboxes.truncate(4);
        let verdicts = check(&request, &mut |_| {}).unwrap();
        assert!(verdicts[1].verdict.is_ok());
        assert_eq!(
            verdicts[2].verdict.as_ref().unwrap_err(),
            "the node served no inbox for level 15"
        );
        let mut request = honest(3, 6);
        request.chain.remove(0);
        assert_eq!(check(&request, &mut |_| {}), Err(CheckError::NoGenesis(13)));
        request.chain.clear();
        assert_eq!(check(&request, &mut |_| {}), Ok(Vec::new()));
    }
}
