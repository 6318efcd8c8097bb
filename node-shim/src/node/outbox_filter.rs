//! Which outbox messages the `executing_outbox` purpose executes: octez's
//! `execute-outbox-messages-filter` (config.json), a list of transaction filters; a message is
//! executed when one filter accepts it. A filter accepts a transaction batch (atomic or typed)
//! whose every transaction has an accepted destination and entrypoint. The default, an empty
//! list, executes nothing (as octez). Whitelist updates and canonical-rollup signals are never
//! executed by this purpose.
//!
//! ```json
//! "execute-outbox-messages-filter": [
//!   {"transaction": {"destination": "any", "entrypoint": ["receive"]}},
//!   {"transaction": {"destination": ["KT1..."], "entrypoint": "any"}}
//! ]
//! ```

use serde_json::{json, Value};
use soru_core::encoding::outbox::OutboxMessage;

/// Destinations or entrypoints a filter accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Among {
    /// Any (`"any"`).
    Any,
    /// These (a JSON list of strings).
    These(Vec<String>),
}

impl Among {
    fn accepts(&self, s: &str) -> bool {
        match self {
            Among::Any => true,
            Among::These(list) => list.iter().any(|x| x == s),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Among::Any => json!("any"),
            Among::These(l) => json!(l),
        }
    }

    fn from_json(v: &Value, what: &str) -> Result<Among, String> {
        match v {
            Value::String(s) if s == "any" => Ok(Among::Any),
            Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("`{what}`: expected strings, found {i}"))
                })
                .collect::<Result<_, _>>()
                .map(Among::These),
            other => Err(format!(
                "`{what}`: expected \"any\" or a list, found {other}"
            )),
        }
    }
}

/// One transaction filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxFilter {
    /// Accepted destinations (`KT1...`).
    pub destination: Among,
    /// Accepted entrypoints.
    pub entrypoint: Among,
}

impl OutboxFilter {
    /// Whether this filter accepts `message`.
    pub fn accepts(&self, message: &OutboxMessage) -> bool {
        let calls: Vec<(String, &str)> = match message {
            OutboxMessage::AtomicTransactionBatch(txs) => txs
                .iter()
                .map(|t| (t.destination.to_b58check(), t.entrypoint.as_str()))
                .collect(),
            OutboxMessage::AtomicTransactionBatchTyped(txs) => txs
                .iter()
                .map(|t| (t.destination.to_b58check(), t.entrypoint.as_str()))
                .collect(),
            OutboxMessage::WhitelistUpdate(_) | OutboxMessage::CanonicalRollupSignal(_) => {
                return false
            }
        };
        calls
            .iter()
            .all(|(d, e)| self.destination.accepts(d) && self.entrypoint.accepts(e))
    }

    /// octez's JSON.
    pub fn to_json(&self) -> Value {
        json!({"transaction": {"destination": self.destination.to_json(), "entrypoint": self.entrypoint.to_json()}})
    }

    /// Reads octez's JSON.
    pub fn from_json(v: &Value) -> Result<OutboxFilter, String> {
        let t = v
            .get("transaction")
            .ok_or_else(|| format!("expected {{\"transaction\": {{...}}}}, found {v}"))?;
        Ok(OutboxFilter {
            destination: Among::from_json(
                t.get("destination").unwrap_or(&Value::Null),
                "destination",
            )?,
            entrypoint: Among::from_json(
                t.get("entrypoint").unwrap_or(&Value::Null),
                "entrypoint",
            )?,
        })
    }
}

/// Whether any of `filters` accepts `message`.
pub fn accepted(filters: &[OutboxFilter], message: &OutboxMessage) -> bool {
    filters.iter().any(|f| f.accepts(message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use soru_core::encoding::address::ContractHash;
    use soru_core::encoding::micheline::Expr;
    use soru_core::encoding::outbox::{Entrypoint, Transaction};

    const KT1: &str = "KT18amZmM5W7qDWVt2pH6uj7sCEd3kbzLrHT";

    fn call(entrypoint: &str) -> Transaction {
        Transaction {
            parameters: Expr::int(1),
            destination: ContractHash::from_b58check(KT1).unwrap(),
            entrypoint: Entrypoint::new(entrypoint).unwrap(),
        }
    }

    #[test]
    fn filters_accept_batches_whose_every_call_matches() {
        let f = OutboxFilter::from_json(
            &json!({"transaction": {"destination": "any", "entrypoint": ["receive"]}}),
        )
        .unwrap();
        assert_eq!(OutboxFilter::from_json(&f.to_json()).unwrap(), f);
        let ok = OutboxMessage::AtomicTransactionBatch(vec![call("receive")]);
        let mixed = OutboxMessage::AtomicTransactionBatch(vec![call("receive"), call("drain")]);
        assert!(f.accepts(&ok));
        assert!(!f.accepts(&mixed));
        assert!(!accepted(&[], &ok), "the default executes nothing");
        let any = OutboxFilter {
            destination: Among::These(vec![KT1.into()]),
            entrypoint: Among::Any,
        };
        assert!(accepted(&[f, any.clone()], &mixed));
        assert!(!any.accepts(&OutboxMessage::WhitelistUpdate(None)));
        let bad = OutboxFilter::from_json(
            &json!({"transaction": {"destination": 3, "entrypoint": "any"}}),
        );
        assert!(bad.unwrap_err().contains("`destination`"));
    }
}
