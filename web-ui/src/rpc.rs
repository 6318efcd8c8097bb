//! The octez smart-rollup-node RPCs the pages call, as URLs and parsed responses (the HTTP
//! itself is the browser's `fetch`). Shapes follow octez's `rollup_node_services.ml`.

use serde_json::Value;
use soru_verifier::{Commitment, CommitmentHash};

use crate::verify::commitment_with_hash;

/// Why a node's answer could not be used: the URL and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The request failed before any HTTP status (unreachable host, CORS, bad URL).
    #[error("GET {url}: network error: {message} (is the node running, and does it allow this origin with --cors-origins?)")]
    Network {
        /// The URL.
        url: String,
        /// The browser's message.
        message: String,
    },
    /// A status other than 200.
    #[error("GET {url}: HTTP {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body (octez puts its error trace there).
        body: String,
    },
    /// A body that is not the expected JSON.
    #[error("GET {url}: unexpected answer: {message}")]
    Body {
        /// The URL.
        url: String,
        /// What is wrong with it.
        message: String,
    },
}

/// The node URL without trailing slashes (an empty field means the page's own origin).
pub fn base(node: &str) -> String {
    node.trim().trim_end_matches('/').to_string()
}

/// `/global/block/head/helpers/proofs/outbox/<level>/messages?index=<i>`.
pub fn outbox_proof_url(node: &str, level: u32, index: u64) -> String {
    format!(
        "{}/global/block/head/helpers/proofs/outbox/{level}/messages?index={index}",
        base(node)
    )
}

/// `/global/last_cemented_commitment`.
pub fn last_cemented_url(node: &str) -> String {
    format!("{}/global/last_cemented_commitment", base(node))
}

/// `/global/last_stored_commitment`.
pub fn last_stored_url(node: &str) -> String {
    format!("{}/global/last_stored_commitment", base(node))
}

/// `/local/commitments/<hash>`.
pub fn commitment_url(node: &str, hash: &CommitmentHash) -> String {
    format!("{}/local/commitments/{}", base(node), hash.to_b58check())
}

/// `/global/smart_rollup_address`.
pub fn rollup_address_url(node: &str) -> String {
    format!("{}/global/smart_rollup_address", base(node))
}

/// `/global/block/<level>`: the L2 block, whose `messages` are the level's full inbox.
pub fn block_url(node: &str, level: u32) -> String {
    format!("{}/global/block/{level}", base(node))
}

/// `/global/block/<block>/durable/wasm_2_0_0/value?key=/kernel/boot.wasm`: the kernel in the
/// state of `block` (a level or `head`; at the origination level, the originated kernel).
pub fn kernel_url(node: &str, block: &str) -> String {
    format!(
        "{}/global/block/{block}/durable/wasm_2_0_0/value?key=/kernel/boot.wasm",
        base(node)
    )
}

/// The L1's record of a commitment of `rollup` (octez-node, or `soru sandbox run`):
/// `/chains/main/blocks/head/context/smart_rollups/smart_rollup/<sr1>/commitment/<src1>`.
pub fn l1_commitment_url(l1: &str, rollup: &str, hash: &CommitmentHash) -> String {
    format!(
        "{}/chains/main/blocks/head/context/smart_rollups/smart_rollup/{rollup}/commitment/{}",
        base(l1),
        hash.to_b58check()
    )
}

/// The L1's last cemented commitment of `rollup`:
/// `.../smart_rollup/<sr1>/last_cemented_commitment_hash_with_level`.
pub fn l1_lcc_url(l1: &str, rollup: &str) -> String {
    format!(
        "{}/chains/main/blocks/head/context/smart_rollups/smart_rollup/{rollup}/last_cemented_commitment_hash_with_level",
        base(l1)
    )
}

/// The answer of [`l1_lcc_url`]: the hash and inbox level of the last cemented commitment.
pub fn parse_lcc(url: &str, body: &str) -> Result<(CommitmentHash, i32), RpcError> {
    let v = json(url, body)?;
    let hash = v
        .get("hash")
        .and_then(Value::as_str)
        .ok_or_else(|| body_error(url, "no string field \"hash\""))?;
    let hash = CommitmentHash::from_b58check(hash)
        .map_err(|e| body_error(url, format!("field \"hash\": {e}")))?;
    let level = v
        .get("level")
        .and_then(Value::as_i64)
        .and_then(|l| i32::try_from(l).ok())
        .ok_or_else(|| body_error(url, "no integer field \"level\""))?;
    Ok((hash, level))
}

/// The L1's commitment record (the bare commitment JSON), checked to hash to `hash`.
pub fn parse_l1_commitment(
    url: &str,
    body: &str,
    hash: &CommitmentHash,
) -> Result<Commitment, RpcError> {
    let v = json(url, body)?;
    let (c, _) = commitment_with_hash(&v).map_err(|e| body_error(url, e))?;
    if c.hash() != *hash {
        return Err(body_error(
            url,
            format!(
                "the commitment hashes to {}, not to the requested {}",
                c.hash().to_b58check(),
                hash.to_b58check()
            ),
        ));
    }
    Ok(c)
}

/// A JSON string answer (`"sr1..."`, a durable value's hex); `None` for `null`.
pub fn parse_string(url: &str, body: &str) -> Result<Option<String>, RpcError> {
    match json(url, body)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        other => Err(body_error(
            url,
            format!("expected a JSON string, got {other}"),
        )),
    }
}

/// The `messages` of an L2 block (octez's `Sc_rollup_block.full`): the level's whole inbox,
/// `Start_of_level`, `Info_per_level`, its messages and `End_of_level`, each as hex.
pub fn parse_block_messages(url: &str, body: &str) -> Result<Vec<String>, RpcError> {
    let v = json(url, body)?;
    let messages = v.get("messages").and_then(Value::as_array).ok_or_else(|| {
        body_error(
            url,
            "no \"messages\" array (the node must serve octez's full L2 block)",
        )
    })?;
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            m.as_str()
                .filter(|t| t.len() % 2 == 0 && t.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(str::to_string)
                .ok_or_else(|| body_error(url, format!("message {i} is not a hex string: {m}")))
        })
        .collect()
}

/// Whether a commitment is a genesis commitment (zero predecessor, zero ticks): the start of
/// the chain.
pub fn is_genesis(c: &Commitment) -> bool {
    c.predecessor == CommitmentHash([0; 32]) && c.number_of_ticks == 0
}

fn body_error(url: &str, message: impl Into<String>) -> RpcError {
    RpcError::Body {
        url: url.into(),
        message: message.into(),
    }
}

fn json(url: &str, body: &str) -> Result<Value, RpcError> {
    serde_json::from_str(body).map_err(|e| body_error(url, format!("not JSON ({e})")))
}

/// The answer of the outbox proof RPC: the commitment it is made against and the proof hex.
pub fn parse_outbox_proof(url: &str, body: &str) -> Result<(String, String), RpcError> {
    let v = json(url, body)?;
    let field = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| body_error(url, format!("no string field {k:?}")))
    };
    Ok((field("commitment")?, field("proof")?))
}

/// A commitment with its hash (`commitment_with_hash[_and_level_infos]`); `None` for `null`.
pub fn parse_commitment(
    url: &str,
    body: &str,
) -> Result<Option<(Commitment, CommitmentHash)>, RpcError> {
    let v = json(url, body)?;
    if v.is_null() {
        return Ok(None);
    }
    let (c, hash) = commitment_with_hash(&v).map_err(|e| body_error(url, e))?;
    let hash = hash.ok_or_else(|| body_error(url, "no \"hash\" field"))?;
    Ok(Some((c, hash)))
}

/// One commitment of the chain, checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckedCommitment {
    /// The hash the node gave for it.
    pub hash: String,
    /// Its inbox level.
    pub inbox_level: i32,
    /// Its state hash.
    pub state_hash: String,
    /// Its tick count.
    pub number_of_ticks: i64,
    /// `Ok` when its hash and its link to the previous one hold, else why not.
    pub verdict: Result<(), String>,
}

/// Checks a chain of commitments fetched newest first by following `predecessor`: each
/// commitment must hash to the hash it was fetched under, and levels must step by one period
/// (the period is taken from the two newest commitments). Returned oldest first.
pub fn check_fetched_chain(
    newest_first: &[(Commitment, CommitmentHash)],
) -> Vec<CheckedCommitment> {
    let period = match newest_first {
        [a, b, ..] => Some(a.0.inbox_level - b.0.inbox_level),
        _ => None,
    };
    let mut out: Vec<CheckedCommitment> = newest_first
        .iter()
        .enumerate()
        .map(|(i, (c, claimed))| {
            let computed = c.hash();
            let verdict = if computed != *claimed {
                Err(format!(
                    "hashes to {}, not to the {} it was served as",
                    computed.to_b58check(),
                    claimed.to_b58check()
                ))
            } else if let (Some(p), Some((prev, _))) = (period, newest_first.get(i + 1)) {
                if p <= 0 || c.inbox_level - prev.inbox_level != p {
                    Err(format!(
                        "inbox level {} is not {} + the commitment period {p}",
                        c.inbox_level, prev.inbox_level
                    ))
                } else if c.predecessor != prev.hash() {
                    Err("its predecessor is not the previous commitment".into())
                } else {
                    Ok(())
                }
            } else {
                Ok(())
            };
            CheckedCommitment {
                hash: claimed.to_b58check(),
                inbox_level: c.inbox_level,
                state_hash: c.compressed_state.to_b58check(),
                number_of_ticks: c.number_of_ticks,
                verdict,
            }
        })
        .collect();
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use soru_verifier::StateHash;

    #[test]
    fn builds_urls() {
        assert_eq!(
            outbox_proof_url("http://127.0.0.1:8932/", 7, 0),
            "http://127.0.0.1:8932/global/block/head/helpers/proofs/outbox/7/messages?index=0"
        );
        assert_eq!(last_cemented_url(" "), "/global/last_cemented_commitment");
    }

    #[test]
    fn parses_node_answers() {
        let (c, p) = parse_outbox_proof("u", r#"{"commitment":"src1x","proof":"0300"}"#).unwrap();
        assert_eq!((c.as_str(), p.as_str()), ("src1x", "0300"));
        let e = parse_outbox_proof("http://n/x", "[]")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "GET http://n/x: unexpected answer: no string field \"commitment\""
        );
        assert_eq!(parse_commitment("u", "null").unwrap(), None);
        let g = Commitment::genesis(0, StateHash([3; 32]));
        let body = serde_json::json!({"commitment": g.to_json(), "hash": g.hash().to_b58check(), "published_at_level": 4});
        assert_eq!(
            parse_commitment("u", &body.to_string()).unwrap(),
            Some((g, g.hash()))
        );
        assert!(parse_commitment("u", "{")
            .unwrap_err()
            .to_string()
            .contains("not JSON"));
    }

    #[test]
    fn parses_blocks_strings_and_genesis() {
        assert_eq!(
            kernel_url("http://n/", "3"),
            "http://n/global/block/3/durable/wasm_2_0_0/value?key=/kernel/boot.wasm"
        );
        assert_eq!(block_url("http://n", 4), "http://n/global/block/4");
        assert_eq!(
            parse_string("u", "\"sr1x\"").unwrap(),
            Some("sr1x".to_string())
        );
        assert_eq!(parse_string("u", "null").unwrap(), None);
        assert!(parse_string("u", "3")
            .unwrap_err()
            .to_string()
            .contains("expected a JSON string"));
        let body = r#"{"level": 4, "messages": ["0001", "0003"]}"#;
        assert_eq!(parse_block_messages("u", body).unwrap(), ["0001", "0003"]);
        let e = parse_block_messages("http://n/global/block/4", r#"{"messages": ["0g"]}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "GET http://n/global/block/4: unexpected answer: message 0 is not a hex string: \"0g\""
        );
        assert!(parse_block_messages("u", "{}")
            .unwrap_err()
            .to_string()
            .contains("no \"messages\" array"));
        let g = Commitment::genesis(5, StateHash([1; 32]));
        assert!(is_genesis(&g));
        let next = Commitment {
            predecessor: g.hash(),
            ..g
        };
        assert!(!is_genesis(&next));
    }

    #[test]
    fn reads_l1_commitments_and_the_lcc() {
        let g = Commitment::genesis(5, StateHash([1; 32]));
        let h = g.hash();
        let url = l1_commitment_url("http://l1/", "sr1x", &h);
        assert!(url.starts_with(
            "http://l1/chains/main/blocks/head/context/smart_rollups/smart_rollup/sr1x/commitment/src1"
        ));
        assert_eq!(
            parse_l1_commitment("u", &g.to_json().to_string(), &h).unwrap(),
            g
        );
        let other = Commitment::genesis(6, StateHash([1; 32]));
        let e = parse_l1_commitment("u", &other.to_json().to_string(), &h)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not to the requested"), "{e}");
        let body = format!(r#"{{"hash": "{}", "level": 5}}"#, h.to_b58check());
        assert_eq!(parse_lcc("u", &body).unwrap(), (h, 5));
        assert!(parse_lcc("u", r#"{"hash": "src1", "level": 5}"#).is_err());
        assert!(l1_lcc_url("http://l1", "sr1x")
            .ends_with("/sr1x/last_cemented_commitment_hash_with_level"));
    }

    #[test]
    fn checks_chains() {
        let g = Commitment::genesis(10, StateHash([0; 32]));
        let next = |prev: &Commitment, s: u8| Commitment {
            compressed_state: StateHash([s; 32]),
            inbox_level: prev.inbox_level + 20,
            predecessor: prev.hash(),
            number_of_ticks: 5,
        };
        let c1 = next(&g, 1);
        let c2 = next(&c1, 2);
        let fetched = [(c2, c2.hash()), (c1, c1.hash()), (g, g.hash())];
        let checked = check_fetched_chain(&fetched);
        assert_eq!(checked.len(), 3);
        assert!(checked.iter().all(|c| c.verdict.is_ok()), "{checked:?}");
        assert_eq!(checked[0].inbox_level, 10);
        let forged = [(c2, c2.hash()), (c1, g.hash()), (g, g.hash())];
        let checked = check_fetched_chain(&forged);
        assert!(checked[1]
            .verdict
            .as_ref()
            .unwrap_err()
            .starts_with("hashes to"));
    }
}
