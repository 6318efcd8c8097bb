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

/// `/global/block/<last>/helpers/witness?from=<first>`: the replay witness of levels
/// `first..=last` (soru-node; a commitment's period when `first` is its predecessor's level + 1
/// and `last` its own).
pub fn witness_url(node: &str, first: i64, last: i64) -> String {
    format!(
        "{}/global/block/{last}/helpers/witness?from={first}",
        base(node)
    )
}

/// The witness part of the answer of [`witness_url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessAnswer {
    /// The witness ([`soru_core::witness::encode`]'s bytes), hex.
    pub hex: String,
    /// Its size in bytes.
    pub size: usize,
}

/// Reads the answer of [`witness_url`] (`{witness, first_level, last_level, pre_state_hash,
/// state_hash, ticks, size}`): the witness must be hex of at most
/// [`crate::check::MAX_WITNESS_BYTES`] bytes, `size` its length, and the levels the ones asked
/// for. The other fields are the node's claims; the replay decides.
pub fn parse_witness(
    url: &str,
    body: &str,
    first: i64,
    last: i64,
) -> Result<WitnessAnswer, RpcError> {
    let max = crate::check::MAX_WITNESS_BYTES;
    if body.len() > 2 * max + 4096 {
        return Err(body_error(
            url,
            format!(
                "the answer is {} bytes, more than a witness of {max} bytes needs",
                body.len()
            ),
        ));
    }
    let v = json(url, body)?;
    let hex_text = v
        .get("witness")
        .and_then(Value::as_str)
        .ok_or_else(|| body_error(url, "no string field \"witness\""))?;
    if hex_text.len() % 2 != 0 {
        return Err(body_error(
            url,
            format!(
                "field \"witness\" has an odd number of hex digits ({})",
                hex_text.len()
            ),
        ));
    }
    if let Some(i) = hex_text.bytes().position(|b| !b.is_ascii_hexdigit()) {
        return Err(body_error(
            url,
            format!("field \"witness\" is not hex (character {i})"),
        ));
    }
    if hex_text.len() / 2 > max {
        return Err(body_error(
            url,
            format!(
                "the witness is {} bytes, more than the {max} this page takes",
                hex_text.len() / 2
            ),
        ));
    }
    let int = |k: &str| {
        v.get(k)
            .and_then(Value::as_i64)
            .ok_or_else(|| body_error(url, format!("no integer field {k:?}")))
    };
    let (f, l) = (int("first_level")?, int("last_level")?);
    if (f, l) != (first, last) {
        return Err(body_error(
            url,
            format!("the witness is of levels {f}..={l}, not the {first}..={last} asked for"),
        ));
    }
    let size = int("size")?;
    if usize::try_from(size).ok() != Some(hex_text.len() / 2) {
        return Err(body_error(
            url,
            format!(
                "field \"size\" is {size}, but the witness is {} bytes",
                hex_text.len() / 2
            ),
        ));
    }
    Ok(WitnessAnswer {
        hex: hex_text.to_string(),
        size: hex_text.len() / 2,
    })
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

/// The L1's shared inbox after block `level` (octez-node, or `soru sandbox run`):
/// `/chains/main/blocks/<level>/context/smart_rollups/all/inbox`.
pub fn l1_inbox_url(l1: &str, level: u32) -> String {
    format!(
        "{}/chains/main/blocks/{level}/context/smart_rollups/all/inbox",
        base(l1)
    )
}

/// The answer of [`l1_inbox_url`]: the witness of `level`'s messages (`srib2...`, the
/// `old_levels_messages.content.hash` of the inbox after that level), which must be the hash of
/// the messages a rollup node replays for it
/// ([`soru_core::inbox::LevelWitness::of_level`]).
pub fn parse_l1_inbox(url: &str, body: &str, level: u32) -> Result<String, RpcError> {
    let v = json(url, body)?;
    let inbox =
        soru_core::inbox::Inbox::from_json(&v).map_err(|e| body_error(url, e.to_string()))?;
    let content = &inbox.old_levels_messages.content;
    if i64::from(inbox.level) != i64::from(level) || i64::from(content.level) != i64::from(level) {
        return Err(body_error(
            url,
            format!(
                "the inbox is the one after level {} (its last level witness is level {}'s), not level {level}'s",
                inbox.level, content.level
            ),
        ));
    }
    Ok(content.hash.to_b58check())
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
    fn reads_witnesses() {
        assert_eq!(
            witness_url("http://n/", 11, 15),
            "http://n/global/block/15/helpers/witness?from=11"
        );
        let body = |w: &str, size: usize, first: i64| {
            serde_json::json!({"witness": w, "first_level": first, "last_level": 15,
                "pre_state_hash": "srs1", "state_hash": "srs1", "ticks": "3", "size": size})
            .to_string()
        };
        assert_eq!(
            parse_witness("u", &body("00aB", 2, 11), 11, 15).unwrap(),
            WitnessAnswer {
                hex: "00aB".into(),
                size: 2
            }
        );
        let e = |b: &str| {
            parse_witness("http://n/w", b, 11, 15)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            e(&body("0g", 1, 11)),
            "GET http://n/w: unexpected answer: field \"witness\" is not hex (character 1)"
        );
        assert!(e(&body("000", 1, 11)).ends_with("odd number of hex digits (3)"));
        assert!(
            e(&body("0000", 3, 11)).ends_with("field \"size\" is 3, but the witness is 2 bytes")
        );
        assert!(e(&body("00", 1, 12))
            .ends_with("the witness is of levels 12..=15, not the 11..=15 asked for"));
        assert!(e("{\"witness\": 3}").ends_with("no string field \"witness\""));
        assert!(e("<html>").contains("not JSON"));
        let big = "0".repeat(2 * crate::check::MAX_WITNESS_BYTES + 2);
        assert!(
            e(&body(&big, big.len() / 2, 11)).contains("more than the 33554432 this page takes")
        );
        let bigger = " ".repeat(2 * crate::check::MAX_WITNESS_BYTES + 5000);
        assert!(e(&bigger).contains("more than a witness of"));
    }
}
