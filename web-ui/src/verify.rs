//! The Verify withdrawal page's logic: read what the user pasted, verify locally with
//! `soru-verifier`, and describe the result.

use serde_json::Value;
use soru_core::encoding::hex_text::{self, HexTextError};
use soru_verifier::{
    verify_output_proof, Commitment, CommitmentHash, Layout, OutputProofError, StateHash,
};

use crate::view;

/// What a proof is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A state hash (`srs1...` or 64 hex digits).
    StateHash(StateHash),
    /// A whole commitment (its `compressed_state` is the state hash), with the hash the source
    /// claimed for it, if any.
    Commitment(Commitment, Option<CommitmentHash>),
}

/// Why the fields cannot be checked (before any verification happens).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The proof field is empty.
    #[error("output proof: the field is empty")]
    EmptyProof,
    /// The proof field is not hex.
    #[error("output proof: {0}")]
    ProofHex(HexTextError),
    /// The state field is empty.
    #[error("state hash or commitment: the field is empty")]
    EmptyTarget,
    /// A commitment hash alone names a commitment but does not say its state.
    #[error("state hash or commitment: {0} is a commitment hash; paste the commitment's compressed_state (srs1...) or its JSON instead")]
    CommitmentHashOnly(String),
    /// Text that is none of the accepted forms.
    #[error("state hash or commitment: {0}")]
    Target(String),
    /// The commitment's hash is not the one claimed next to it.
    #[error("commitment: its hash is {computed}, not the claimed {claimed}")]
    CommitmentHashMismatch {
        /// BLAKE2b-256 of the commitment's encoding.
        computed: String,
        /// The hash given with it.
        claimed: String,
    },
}

/// Reads the proof field (hex as pasted).
pub fn parse_proof(text: &str) -> Result<Vec<u8>, InputError> {
    if text.trim().is_empty() {
        return Err(InputError::EmptyProof);
    }
    hex_text::decode(text).map_err(InputError::ProofHex)
}

/// Reads the state field: `srs1...`, 64 hex digits, a commitment's 76 bytes in hex, or the
/// commitment JSON of the rollup node (`{"compressed_state", ...}` or `{"commitment", "hash"}`).
pub fn parse_target(text: &str) -> Result<Target, InputError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(InputError::EmptyTarget);
    }
    if t.starts_with("srs1") {
        return StateHash::from_b58check(t)
            .map(Target::StateHash)
            .map_err(|e| InputError::Target(format!("{t}: {e}")));
    }
    if t.starts_with("src1") {
        return Err(InputError::CommitmentHashOnly(t.into()));
    }
    if t.starts_with('{') {
        let v: Value =
            serde_json::from_str(t).map_err(|e| InputError::Target(format!("JSON: {e}")))?;
        let (c, claimed) = commitment_with_hash(&v).map_err(InputError::Target)?;
        if let Some(claimed) = claimed {
            if claimed != c.hash() {
                return Err(InputError::CommitmentHashMismatch {
                    computed: c.hash().to_b58check(),
                    claimed: claimed.to_b58check(),
                });
            }
        }
        return Ok(Target::Commitment(c, claimed));
    }
    let bytes = hex_text::decode(t).map_err(|e| {
        InputError::Target(format!(
            "not srs1..., 64 hex digits, a commitment in hex or JSON ({e})"
        ))
    })?;
    match bytes.len() {
        32 => Ok(Target::StateHash(StateHash(
            bytes.try_into().unwrap_or([0; 32]),
        ))),
        soru_verifier::COMMITMENT_SIZE => Commitment::decode(&bytes)
            .map(|c| Target::Commitment(c, None))
            .map_err(|e| InputError::Target(format!("commitment bytes: {e}"))),
        n => Err(InputError::Target(format!(
            "{n} bytes of hex: a state hash is 32 bytes and a commitment {}",
            soru_verifier::COMMITMENT_SIZE
        ))),
    }
}

/// A commitment in the rollup node's JSON: bare, or `{"commitment": .., "hash": ..}` (the form
/// of `/global/last_cemented_commitment` and `/local/commitments/<hash>`).
pub fn commitment_with_hash(v: &Value) -> Result<(Commitment, Option<CommitmentHash>), String> {
    match v.get("commitment") {
        Some(inner) => {
            let c = Commitment::from_json(inner).map_err(|e| e.to_string())?;
            let hash = match v.get("hash") {
                Some(Value::String(h)) => Some(
                    CommitmentHash::from_b58check(h).map_err(|e| format!("field \"hash\": {e}"))?,
                ),
                Some(_) => return Err("field \"hash\": expected a src1 string".into()),
                None => None,
            };
            Ok((c, hash))
        }
        None => Commitment::from_json(v)
            .map(|c| (c, None))
            .map_err(|e| e.to_string()),
    }
}

/// The outcome of a verification that could run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The proof proves the message in that state.
    Valid {
        /// The outbox level of the message.
        outbox_level: u32,
        /// Its index in that outbox.
        message_index: u64,
        /// The message bytes in hex.
        message_hex: String,
        /// Its decoding (destination, entrypoint, parameters) or why it does not decode.
        decoded: Result<String, String>,
        /// The state hash checked against.
        state_hash: String,
    },
    /// The proof does not prove anything in that state.
    Invalid {
        /// Why, as the verifier says it.
        reason: String,
        /// The state hash checked against.
        state_hash: String,
    },
}

/// Verifies a proof against a target.
pub fn verify(proof: &[u8], target: &Target, layout: Option<Layout>) -> Outcome {
    let state = match target {
        Target::StateHash(h) => *h,
        Target::Commitment(c, _) => c.compressed_state,
    };
    let state_hash = state.to_b58check();
    match verify_output_proof(proof, &state.0, layout) {
        Ok(out) => Outcome::Valid {
            outbox_level: out.outbox_level,
            message_index: out.message_index,
            message_hex: hex::encode(&out.message),
            decoded: view::decode_outbox(&out.message),
            state_hash,
        },
        Err(e) => Outcome::Invalid {
            reason: describe(&e),
            state_hash,
        },
    }
}

fn describe(e: &OutputProofError) -> String {
    e.to_string()
}

/// The fields of a file of `../shared/vectors/tezos-output-proofs/` (served by `make web` under
/// `examples/`): the proof, the corrupted proof if any, and the expected state hash.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vector {
    /// `output_proof_hex=`.
    pub proof: String,
    /// `corrupted_output_proof_hex=`.
    pub corrupted: Option<String>,
    /// The `srs1` of the `# expected srs1` line.
    pub state_hash: String,
}

/// Reads a vector file.
pub fn parse_vector(text: &str) -> Result<Vector, String> {
    let mut v = Vector::default();
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("output_proof_hex=") {
            v.proof = p.trim().into();
        } else if let Some(p) = line.strip_prefix("corrupted_output_proof_hex=") {
            v.corrupted = Some(p.trim().into());
        } else if line.starts_with("# expected srs1") {
            if let Some((_, s)) = line.rsplit_once(": ") {
                v.state_hash = s.trim().into();
            }
        }
    }
    if v.proof.is_empty() || v.state_hash.is_empty() {
        return Err(
            "not an output proof vector (no output_proof_hex= or expected srs1 line)".into(),
        );
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_target_form() {
        let srs = "srs11iwwp7NxF7sgADntfpt4hPUoFYEMRJbDm7dpjUHnsEzRbXxg1X";
        let Target::StateHash(h) = parse_target(srs).unwrap() else {
            panic!()
        };
        assert_eq!(
            parse_target(&hex::encode(h.0)).unwrap(),
            Target::StateHash(h)
        );
        let c = Commitment::genesis(5, h);
        let hex76 = hex::encode(c.encode());
        assert_eq!(parse_target(&hex76).unwrap(), Target::Commitment(c, None));
        let json = serde_json::json!({"commitment": c.to_json(), "hash": c.hash().to_b58check()});
        assert_eq!(
            parse_target(&json.to_string()).unwrap(),
            Target::Commitment(c, Some(c.hash()))
        );
        assert_eq!(
            parse_target(&c.to_json().to_string()).unwrap(),
            Target::Commitment(c, None)
        );
    }

    #[test]
    fn bad_fields_say_which_and_why() {
        assert_eq!(parse_proof("  "), Err(InputError::EmptyProof));
        assert_eq!(
            parse_proof("03 0g").unwrap_err().to_string(),
            "output proof: invalid hex character 'g' at character 4"
        );
        assert!(matches!(
            parse_target("src13aUmJ5fEVJJM1qH1n9spuppXVAWc8wmHpTaC81pz5rrZN5e628"),
            Err(InputError::CommitmentHashOnly(_))
        ));
        assert!(parse_target("abcd")
            .unwrap_err()
            .to_string()
            .contains("2 bytes of hex"));
        assert!(parse_target("srs1xyz")
            .unwrap_err()
            .to_string()
            .starts_with("state hash or commitment: srs1xyz"));
        let c = Commitment::genesis(5, StateHash([1; 32]));
        let other = Commitment::genesis(6, StateHash([1; 32]));
        let json =
            serde_json::json!({"commitment": c.to_json(), "hash": other.hash().to_b58check()});
        assert!(matches!(
            parse_target(&json.to_string()),
            Err(InputError::CommitmentHashMismatch { .. })
        ));
    }

    #[test]
    fn reads_vector_files() {
        let v = parse_vector(
            "# expected srs1 (x): srs1abc\noutput_proof_hex=00ff\ncorrupted_output_proof_hex=01\n",
        )
        .unwrap();
        assert_eq!(
            (v.proof.as_str(), v.state_hash.as_str()),
            ("00ff", "srs1abc")
        );
        assert_eq!(v.corrupted.as_deref(), Some("01"));
        assert!(parse_vector("hello").is_err());
    }

    /// The real octez vector: valid as given, invalid when corrupted (skips without the folder).
    #[test]
    fn verifies_the_shared_vector() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/vectors/tezos-output-proofs/05_taquito_mock_fixed_and_corrupted.txt"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{path} is missing"
            );
            eprintln!("skipping: {path} is missing");
            return;
        };
        let v = parse_vector(&text).unwrap();
        let target = parse_target(&v.state_hash).unwrap();
        match verify(&parse_proof(&v.proof).unwrap(), &target, None) {
            Outcome::Valid {
                outbox_level,
                message_index,
                decoded,
                ..
            } => {
                assert_eq!((outbox_level, message_index), (2138, 0));
                assert!(decoded.unwrap().contains("Hello world"));
            }
            other => panic!("{other:?}"),
        }
        let bad = parse_proof(v.corrupted.as_deref().unwrap()).unwrap();
        assert!(matches!(
            verify(&bad, &target, None),
            Outcome::Invalid { .. }
        ));
    }
}
