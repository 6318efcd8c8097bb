//! The refutation of a `smart_rollup_refute` operation (protocol 025's
//! `Sc_rollup_game_repr.refutation` and `Sc_rollup_proof_repr.t`), binary and JSON.
//!
//! | binary | what |
//! |---|---|
//! | `0x00`, two 32-byte commitment hashes | `start`: the player's and the opponent's commitments |
//! | `0x01`, choice (`n`), step | `move`: the tick of the section the player disputes, then a step |
//! | step `0x00`, uint30-prefixed list of (`state` option of 32 bytes, `tick` `n`) | a dissection |
//! | step `0x01`, uint30-prefixed `pvm_step`, optional input proof | the final proof |
//! | input proof `0x00`: level (int32), message counter (`n`), uint30-prefixed serialized proof | an inbox proof |
//! | input proof `0x01`: reveal proof `0x00` raw data (uint16-prefixed, at most 4096 bytes), `0x01` metadata, `0x02` DAL page (published level int32, slot uint8, page int16, uint30-prefixed proof), `0x03` DAL parameters | a reveal proof |
//! | input proof `0x02` | the first input |
//!
//! The sandbox decodes and re-encodes refutations byte for byte; it does not play refutation
//! games.

use alloc::vec::Vec;

use super::binary::{
    put_bool, put_dynamic, put_dynamic_bytes, put_i32, put_n, put_u16, put_u8, DecodeError,
    DecodeErrorKind, Reader, Zarith,
};
use crate::commitment::{CommitmentHash, StateHash};

/// Most bytes a raw-data reveal proof holds (a reveal's page).
pub const MAX_RAW_DATA: usize = 4096;

/// A refutation: opening a game, or a move in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refutation {
    /// Opens a game between the player's commitment and the opponent's.
    Start {
        /// The commitment the player stakes on.
        player_commitment_hash: CommitmentHash,
        /// The commitment the player disputes.
        opponent_commitment_hash: CommitmentHash,
    },
    /// A move: the tick starting the disputed section, and a dissection of it or a proof.
    Move {
        /// The first tick of the section the player disagrees with.
        choice: Zarith,
        /// The dissection or the proof.
        step: Step,
    },
}

/// A move's step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The disputed section cut into chunks.
    Dissection(Vec<DissectionChunk>),
    /// The proof of one tick.
    Proof(Proof),
}

/// One point of a dissection: a tick and the state hash there (`None`: no state, past the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DissectionChunk {
    /// The state hash at `tick`.
    pub state: Option<StateHash>,
    /// The tick.
    pub tick: Zarith,
}

/// The proof of one PVM step (`Sc_rollup_proof_repr.t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The serialized PVM step proof (a tree proof of the state before and after).
    pub pvm_step: Vec<u8>,
    /// The input the step reads, when it reads one.
    pub input_proof: Option<InputProof>,
}

/// The input a proven step reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputProof {
    /// A message of the shared inbox.
    Inbox {
        /// Its inbox level.
        level: i32,
        /// Its index in the level.
        message_counter: Zarith,
        /// The serialized inbox proof.
        serialized_proof: Vec<u8>,
    },
    /// Revealed data.
    Reveal(RevealProof),
    /// The first input of the rollup.
    FirstInput,
}

/// What a reveal proof proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevealProof {
    /// A preimage (at most [`MAX_RAW_DATA`] bytes).
    RawData(Vec<u8>),
    /// The rollup's metadata.
    Metadata,
    /// A DAL page.
    DalPage {
        /// The level its slot was published at.
        published_level: i32,
        /// The slot.
        slot_index: u8,
        /// The page in the slot.
        page_index: i16,
        /// The page's proof.
        proof: Vec<u8>,
    },
    /// The DAL parameters.
    DalParameters,
}

fn invalid_tag(r: &Reader<'_>, at: usize, what: &'static str, tag: u8) -> DecodeError {
    r.error_at(
        at,
        DecodeErrorKind::InvalidTag {
            what,
            tag: u16::from(tag),
        },
    )
}

fn read_tag(r: &mut Reader<'_>) -> Result<(usize, u8), DecodeError> {
    let at = r.position();
    Ok((at, r.u8()?))
}

impl Refutation {
    /// Appends the binary form.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Refutation::Start {
                player_commitment_hash,
                opponent_commitment_hash,
            } => {
                put_u8(out, 0);
                out.extend_from_slice(&player_commitment_hash.0);
                out.extend_from_slice(&opponent_commitment_hash.0);
            }
            Refutation::Move { choice, step } => {
                put_u8(out, 1);
                put_n(out, choice);
                match step {
                    Step::Dissection(chunks) => {
                        put_u8(out, 0);
                        put_dynamic(out, |out| {
                            for c in chunks {
                                put_bool(out, c.state.is_some());
                                if let Some(s) = &c.state {
                                    out.extend_from_slice(&s.0);
                                }
                                put_n(out, &c.tick);
                            }
                        });
                    }
                    Step::Proof(p) => {
                        put_u8(out, 1);
                        p.encode_into(out);
                    }
                }
            }
        }
    }

    /// Reads one refutation.
    pub fn read(r: &mut Reader<'_>) -> Result<Refutation, DecodeError> {
        let (at, tag) = read_tag(r)?;
        match tag {
            0 => Ok(Refutation::Start {
                player_commitment_hash: CommitmentHash(r.array()?),
                opponent_commitment_hash: CommitmentHash(r.array()?),
            }),
            1 => {
                let choice = r.n()?;
                let (at, tag) = read_tag(r)?;
                let step = match tag {
                    0 => Step::Dissection(r.dynamic(|r| {
                        let mut chunks = Vec::new();
                        while !r.is_empty() {
                            let state = if r.bool()? {
                                Some(StateHash(r.array()?))
                            } else {
                                None
                            };
                            chunks.push(DissectionChunk {
                                state,
                                tick: r.n()?,
                            });
                        }
                        Ok(chunks)
                    })?),
                    1 => Step::Proof(Proof::read(r)?),
                    _ => return Err(invalid_tag(r, at, "refutation step", tag)),
                };
                Ok(Refutation::Move { choice, step })
            }
            _ => Err(invalid_tag(r, at, "refutation", tag)),
        }
    }
}

impl Proof {
    /// Appends the binary form (`Sc_rollup_proof_repr.encoding`).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        put_dynamic_bytes(out, &self.pvm_step);
        put_bool(out, self.input_proof.is_some());
        match &self.input_proof {
            None => {}
            Some(InputProof::Inbox {
                level,
                message_counter,
                serialized_proof,
            }) => {
                put_u8(out, 0);
                put_i32(out, *level);
                put_n(out, message_counter);
                put_dynamic_bytes(out, serialized_proof);
            }
            Some(InputProof::Reveal(reveal)) => {
                put_u8(out, 1);
                match reveal {
                    RevealProof::RawData(data) => {
                        put_u8(out, 0);
                        // At most MAX_RAW_DATA bytes (checked when read or built from JSON).
                        put_u16(out, data.len() as u16);
                        out.extend_from_slice(data);
                    }
                    RevealProof::Metadata => put_u8(out, 1),
                    RevealProof::DalPage {
                        published_level,
                        slot_index,
                        page_index,
                        proof,
                    } => {
                        put_u8(out, 2);
                        put_i32(out, *published_level);
                        put_u8(out, *slot_index);
                        out.extend_from_slice(&page_index.to_be_bytes());
                        put_dynamic_bytes(out, proof);
                    }
                    RevealProof::DalParameters => put_u8(out, 3),
                }
            }
            Some(InputProof::FirstInput) => put_u8(out, 2),
        }
    }

    /// The binary form alone.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Reads one proof.
    pub fn read(r: &mut Reader<'_>) -> Result<Proof, DecodeError> {
        let pvm_step = r.dynamic_bytes()?.to_vec();
        if !r.bool()? {
            return Ok(Proof {
                pvm_step,
                input_proof: None,
            });
        }
        let (at, tag) = read_tag(r)?;
        let input = match tag {
            0 => InputProof::Inbox {
                level: r.i32()?,
                message_counter: r.n()?,
                serialized_proof: r.dynamic_bytes()?.to_vec(),
            },
            1 => {
                let (at, tag) = read_tag(r)?;
                InputProof::Reveal(match tag {
                    0 => {
                        let len_at = r.position();
                        let len = usize::from(r.u16()?);
                        if len > MAX_RAW_DATA {
                            return Err(r.error_at(
                                len_at,
                                DecodeErrorKind::Invalid {
                                    what: "raw data reveal proof",
                                    reason: "longer than 4096 bytes",
                                },
                            ));
                        }
                        let mut data = Vec::with_capacity(len);
                        for _ in 0..len {
                            data.push(r.u8()?);
                        }
                        RevealProof::RawData(data)
                    }
                    1 => RevealProof::Metadata,
                    2 => RevealProof::DalPage {
                        published_level: r.i32()?,
                        slot_index: r.u8()?,
                        page_index: i16::from_be_bytes(r.array()?),
                        proof: r.dynamic_bytes()?.to_vec(),
                    },
                    3 => RevealProof::DalParameters,
                    _ => return Err(invalid_tag(r, at, "reveal proof", tag)),
                })
            }
            2 => InputProof::FirstInput,
            _ => return Err(invalid_tag(r, at, "input proof", tag)),
        };
        Ok(Proof {
            pvm_step,
            input_proof: Some(input),
        })
    }
}

#[cfg(feature = "json")]
mod json {
    //! octez's JSON: `{"refutation_kind": "start", "player_commitment_hash", "opponent_commitment_hash"}`
    //! or `{"refutation_kind": "move", "choice", "step"}`, the step a list of `{"state"?, "tick"}`
    //! or `{"pvm_step", "input_proof"?}` with `input_proof_kind` `inbox_proof`, `reveal_proof`
    //! (`reveal_proof_kind` `raw_data_proof`, `metadata_proof`, `dal_page_proof`,
    //! `dal_parameters_proof`) or `first_input`. Numbers of type `n` are decimal strings.

    use alloc::format;
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;

    use serde_json::{json, Map, Value};

    use super::*;

    /// A refutation's JSON that is not octez's: the field and why.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    #[error("refutation.{field}: {reason}")]
    pub struct RefutationJsonError {
        /// The field, as a path below `refutation`.
        pub field: String,
        /// What is wrong with it.
        pub reason: String,
    }

    fn err(field: &str, reason: impl Into<String>) -> RefutationJsonError {
        RefutationJsonError {
            field: field.into(),
            reason: reason.into(),
        }
    }

    fn object<'a>(v: &'a Value, f: &str) -> Result<&'a Map<String, Value>, RefutationJsonError> {
        v.as_object().ok_or_else(|| err(f, "expected an object"))
    }

    fn field<'a>(
        o: &'a Map<String, Value>,
        name: &str,
        path: &str,
    ) -> Result<&'a Value, RefutationJsonError> {
        o.get(name).ok_or_else(|| err(&join(path, name), "missing"))
    }

    fn join(path: &str, name: &str) -> String {
        if path.is_empty() {
            name.into()
        } else {
            format!("{path}.{name}")
        }
    }

    fn str_of<'a>(v: &'a Value, f: &str) -> Result<&'a str, RefutationJsonError> {
        v.as_str().ok_or_else(|| err(f, "expected a string"))
    }

    fn nat(v: &Value, f: &str) -> Result<Zarith, RefutationJsonError> {
        let s = str_of(v, f)?;
        let z = Zarith::from_decimal(s).map_err(|e| err(f, format!("{s:?}: {e}")))?;
        if z.is_negative() {
            return Err(err(f, format!("{s:?} is negative")));
        }
        Ok(z)
    }

    fn hex_of(v: &Value, f: &str) -> Result<Vec<u8>, RefutationJsonError> {
        hex::decode(str_of(v, f)?).map_err(|e| err(f, format!("not hex: {e}")))
    }

    fn int<T: TryFrom<i64>>(v: &Value, f: &str) -> Result<T, RefutationJsonError> {
        v.as_i64()
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| err(f, "expected an integer in range"))
    }

    fn kind<'a>(
        o: &'a Map<String, Value>,
        name: &str,
        path: &str,
    ) -> Result<&'a str, RefutationJsonError> {
        str_of(field(o, name, path)?, &join(path, name))
    }

    impl Refutation {
        /// octez's JSON form.
        pub fn to_json(&self) -> Value {
            match self {
                Refutation::Start {
                    player_commitment_hash,
                    opponent_commitment_hash,
                } => json!({
                    "refutation_kind": "start",
                    "player_commitment_hash": player_commitment_hash.to_b58check(),
                    "opponent_commitment_hash": opponent_commitment_hash.to_b58check(),
                }),
                Refutation::Move { choice, step } => {
                    let step = match step {
                        Step::Dissection(chunks) => chunks
                            .iter()
                            .map(|c| {
                                let mut m = Map::new();
                                if let Some(s) = &c.state {
                                    m.insert("state".into(), s.to_b58check().into());
                                }
                                m.insert("tick".into(), c.tick.to_string().into());
                                Value::Object(m)
                            })
                            .collect(),
                        Step::Proof(p) => p.to_json(),
                    };
                    json!({"refutation_kind": "move", "choice": choice.to_string(), "step": step})
                }
            }
        }

        /// Parses octez's JSON form; errors name the field below `refutation`.
        pub fn from_json(v: &Value) -> Result<Refutation, RefutationJsonError> {
            let o = object(v, "")?;
            match kind(o, "refutation_kind", "")? {
                "start" => {
                    let hash = |name: &str| {
                        let s = str_of(field(o, name, "")?, name)?;
                        CommitmentHash::from_b58check(s)
                            .map_err(|e| err(name, format!("{s:?}: {e}")))
                    };
                    Ok(Refutation::Start {
                        player_commitment_hash: hash("player_commitment_hash")?,
                        opponent_commitment_hash: hash("opponent_commitment_hash")?,
                    })
                }
                "move" => {
                    let choice = nat(field(o, "choice", "")?, "choice")?;
                    let step = match field(o, "step", "")? {
                        Value::Array(items) => Step::Dissection(
                            items
                                .iter()
                                .enumerate()
                                .map(|(i, item)| {
                                    let path = format!("step[{i}]");
                                    let c = object(item, &path)?;
                                    let state = match c.get("state") {
                                        None | Some(Value::Null) => None,
                                        Some(s) => {
                                            let f = join(&path, "state");
                                            let s = str_of(s, &f)?;
                                            Some(
                                                StateHash::from_b58check(s)
                                                    .map_err(|e| err(&f, format!("{s:?}: {e}")))?,
                                            )
                                        }
                                    };
                                    Ok(DissectionChunk {
                                        state,
                                        tick: nat(field(c, "tick", &path)?, &join(&path, "tick"))?,
                                    })
                                })
                                .collect::<Result<_, RefutationJsonError>>()?,
                        ),
                        step @ Value::Object(_) => Step::Proof(Proof::from_json(step, "step")?),
                        _ => {
                            return Err(err(
                                "step",
                                "expected a dissection (an array) or a proof (an object)",
                            ))
                        }
                    };
                    Ok(Refutation::Move { choice, step })
                }
                other => Err(err(
                    "refutation_kind",
                    format!("{other:?} is not \"start\" or \"move\""),
                )),
            }
        }
    }

    impl Proof {
        /// octez's JSON form: `{"pvm_step": hex, "input_proof"?: ..}`.
        pub fn to_json(&self) -> Value {
            let mut m = Map::new();
            m.insert("pvm_step".into(), hex::encode(&self.pvm_step).into());
            if let Some(input) = &self.input_proof {
                let input = match input {
                    InputProof::Inbox {
                        level,
                        message_counter,
                        serialized_proof,
                    } => json!({
                        "input_proof_kind": "inbox_proof",
                        "level": level,
                        "message_counter": message_counter.to_string(),
                        "serialized_proof": hex::encode(serialized_proof),
                    }),
                    InputProof::Reveal(reveal) => {
                        let reveal = match reveal {
                            RevealProof::RawData(data) => json!({
                                "reveal_proof_kind": "raw_data_proof",
                                "raw_data": hex::encode(data),
                            }),
                            RevealProof::Metadata => json!({"reveal_proof_kind": "metadata_proof"}),
                            RevealProof::DalPage {
                                published_level,
                                slot_index,
                                page_index,
                                proof,
                            } => json!({
                                "reveal_proof_kind": "dal_page_proof",
                                "dal_page_id": {
                                    "published_level": published_level,
                                    "slot_index": slot_index,
                                    "page_index": page_index,
                                },
                                "dal_proof": hex::encode(proof),
                            }),
                            RevealProof::DalParameters => {
                                json!({"reveal_proof_kind": "dal_parameters_proof"})
                            }
                        };
                        json!({"input_proof_kind": "reveal_proof", "reveal_proof": reveal})
                    }
                    InputProof::FirstInput => json!({"input_proof_kind": "first_input"}),
                };
                m.insert("input_proof".into(), input);
            }
            Value::Object(m)
        }

        /// Parses the JSON form found at `path`.
        pub fn from_json(v: &Value, path: &str) -> Result<Proof, RefutationJsonError> {
            let o = object(v, path)?;
            let pvm_step = hex_of(field(o, "pvm_step", path)?, &join(path, "pvm_step"))?;
            let input_proof = match o.get("input_proof") {
                None | Some(Value::Null) => None,
                Some(input) => {
                    let path = join(path, "input_proof");
                    let i = object(input, &path)?;
                    Some(match kind(i, "input_proof_kind", &path)? {
                        "inbox_proof" => InputProof::Inbox {
                            level: int(field(i, "level", &path)?, &join(&path, "level"))?,
                            message_counter: nat(
                                field(i, "message_counter", &path)?,
                                &join(&path, "message_counter"),
                            )?,
                            serialized_proof: hex_of(
                                field(i, "serialized_proof", &path)?,
                                &join(&path, "serialized_proof"),
                            )?,
                        },
                        "reveal_proof" => {
                            let path = join(&path, "reveal_proof");
                            let r = object(field(i, "reveal_proof", "")?, &path)?;
                            InputProof::Reveal(match kind(r, "reveal_proof_kind", &path)? {
                                "raw_data_proof" => {
                                    let f = join(&path, "raw_data");
                                    let data = hex_of(field(r, "raw_data", &path)?, &f)?;
                                    if data.len() > MAX_RAW_DATA {
                                        return Err(err(
                                            &f,
                                            format!("{} bytes, more than 4096", data.len()),
                                        ));
                                    }
                                    RevealProof::RawData(data)
                                }
                                "metadata_proof" => RevealProof::Metadata,
                                "dal_page_proof" => {
                                    let idp = join(&path, "dal_page_id");
                                    let id = object(field(r, "dal_page_id", &path)?, &idp)?;
                                    RevealProof::DalPage {
                                        published_level: int(
                                            field(id, "published_level", &idp)?,
                                            &join(&idp, "published_level"),
                                        )?,
                                        slot_index: int(
                                            field(id, "slot_index", &idp)?,
                                            &join(&idp, "slot_index"),
                                        )?,
                                        page_index: int(
                                            field(id, "page_index", &idp)?,
                                            &join(&idp, "page_index"),
                                        )?,
                                        proof: hex_of(
                                            field(r, "dal_proof", &path)?,
                                            &join(&path, "dal_proof"),
                                        )?,
                                    }
                                }
                                "dal_parameters_proof" => RevealProof::DalParameters,
                                other => {
                                    return Err(err(
                                        &join(&path, "reveal_proof_kind"),
                                        format!("{other:?} is not a reveal proof kind"),
                                    ))
                                }
                            })
                        }
                        "first_input" => InputProof::FirstInput,
                        other => {
                            return Err(err(
                                &join(&path, "input_proof_kind"),
                                format!(
                                    "{other:?} is not inbox_proof, reveal_proof or first_input"
                                ),
                            ))
                        }
                    })
                }
            };
            Ok(Proof {
                pvm_step,
                input_proof,
            })
        }
    }
}

#[cfg(feature = "json")]
pub use json::RefutationJsonError;
