//! `soru-node init`: operating modes, operator purposes and the node's `config.json`.
//!
//! The command words are octez's: `init <mode> config for <sr1> with operators <op>...`, where an
//! operator is either one `tz1..` key (used for every purpose the mode needs) or
//! `<purpose>:<tz1..>` pairs. The file keeps octez's key names where octez has them
//! (`smart-rollup-address`, `smart-rollup-node-operator`, `rpc-addr`, `rpc-port`, `mode`,
//! `history-mode`) plus `l1-endpoint`, the L1 node's URL.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use serde_json::{json, Map, Value};
use soru_core::encoding::address::{PublicKeyHash, SmartRollupAddress};

use super::outbox_filter::OutboxFilter;

/// The file name of the configuration inside the data directory.
pub const CONFIG_FILE: &str = "config.json";
/// The default RPC address (octez's default port).
pub const DEFAULT_RPC_ADDR: &str = "127.0.0.1:8932";
/// The default L1 endpoint: a `soru sandbox run` on its default port.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:18731";

/// What an operator key is used for (octez's `Purpose.t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Purpose {
    /// Publishing commitments (and playing refutation games).
    Operating,
    /// Posting batched L2 messages with `smart_rollup_add_messages`.
    Batching,
    /// Cementing commitments.
    Cementing,
    /// Recovering the operator's bond.
    Recovering,
    /// Executing outbox messages.
    ExecutingOutbox,
}

impl Purpose {
    /// Every purpose, in octez's order.
    pub const ALL: [Purpose; 5] = [
        Purpose::Operating,
        Purpose::Batching,
        Purpose::Cementing,
        Purpose::Recovering,
        Purpose::ExecutingOutbox,
    ];

    /// The purpose's name in octez's configuration and command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Operating => "operating",
            Purpose::Batching => "batching",
            Purpose::Cementing => "cementing",
            Purpose::Recovering => "recovering",
            Purpose::ExecutingOutbox => "executing_outbox",
        }
    }

    /// Parses a purpose name.
    pub fn parse(s: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The node's operating mode (octez's `mode`): which purposes it serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Follows the chain and serves the RPC; never injects.
    Observer,
    /// Publishes only to refute wrong commitments.
    Accuser,
    /// Defends its commitments and cements, but publishes no new ones, then recovers its bond.
    Bailout,
    /// Only batches L2 messages.
    Batcher,
    /// Publishes and cements commitments and executes outbox messages, without batching.
    Maintenance,
    /// Everything: publish, cement, batch, execute outbox messages.
    Operator,
    /// Exactly the purposes given with `with operators`.
    Custom,
}

impl Mode {
    /// Every mode.
    pub const ALL: [Mode; 7] = [
        Mode::Observer,
        Mode::Accuser,
        Mode::Bailout,
        Mode::Batcher,
        Mode::Maintenance,
        Mode::Operator,
        Mode::Custom,
    ];

    /// The mode's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Observer => "observer",
            Mode::Accuser => "accuser",
            Mode::Bailout => "bailout",
            Mode::Batcher => "batcher",
            Mode::Maintenance => "maintenance",
            Mode::Operator => "operator",
            Mode::Custom => "custom",
        }
    }

    /// Parses a mode name.
    pub fn parse(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The purposes an operator key is needed for (octez's `purposes_of_mode`); `Custom` has
    /// none of its own.
    pub fn purposes(self) -> &'static [Purpose] {
        match self {
            Mode::Observer | Mode::Custom => &[],
            Mode::Accuser => &[Purpose::Operating],
            Mode::Bailout => &[Purpose::Operating, Purpose::Cementing, Purpose::Recovering],
            Mode::Batcher => &[Purpose::Batching],
            Mode::Maintenance => &[
                Purpose::Operating,
                Purpose::Cementing,
                Purpose::ExecutingOutbox,
            ],
            Mode::Operator => &[
                Purpose::Operating,
                Purpose::Batching,
                Purpose::Cementing,
                Purpose::ExecutingOutbox,
            ],
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much history the node keeps (octez's `history-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryMode {
    /// Every level's state.
    Archive,
    /// States from the last cemented commitment on.
    Full,
}

impl HistoryMode {
    /// The mode's name.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryMode::Archive => "archive",
            HistoryMode::Full => "full",
        }
    }

    /// Parses a history mode name.
    pub fn parse(s: &str) -> Option<HistoryMode> {
        match s {
            "archive" => Some(HistoryMode::Archive),
            "full" => Some(HistoryMode::Full),
            _ => None,
        }
    }
}

/// A configuration error, naming the word, key or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The `init` words do not follow `<mode> config for <sr1> with operators <op>...`.
    #[error("{0}")]
    Words(String),
    /// `config.json` is missing, unreadable or malformed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The node's configuration (`<data-dir>/config.json`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// The rollup this node follows.
    pub rollup: SmartRollupAddress,
    /// The operating mode.
    pub mode: Mode,
    /// The operator key of each purpose the mode serves.
    pub operators: BTreeMap<Purpose, PublicKeyHash>,
    /// Where the RPC server listens (port 0: a free port).
    pub rpc_addr: SocketAddr,
    /// The L1 node's URL.
    pub endpoint: String,
    /// How much history is kept.
    pub history_mode: HistoryMode,
    /// Which outbox messages the `executing_outbox` purpose executes (octez's
    /// `execute-outbox-messages-filter`; empty: none).
    pub execute_outbox_messages_filter: Vec<OutboxFilter>,
    /// Where missing preimages are fetched from (octez's `pre-images-endpoint`).
    pub pre_images_endpoint: Option<String>,
}

impl NodeConfig {
    /// Builds a configuration from octez's `init` words
    /// (`<mode> config for <sr1> with operators <op>...`).
    pub fn from_init_words(
        words: &[String],
        rpc_addr: SocketAddr,
        endpoint: String,
    ) -> Result<NodeConfig, ConfigError> {
        let usage = "expected: <mode> config for <sr1...> [with operators <tz1...> | <purpose>:<tz1...> ...]";
        let bad = |m: String| ConfigError::Words(format!("{m}; {usage}"));
        let mut it = words.iter().map(String::as_str);
        let mode_word = it.next().ok_or_else(|| bad("missing the mode".into()))?;
        let mode = Mode::parse(mode_word).ok_or_else(|| {
            bad(format!(
                "unknown mode `{mode_word}` (modes: {})",
                Mode::ALL.map(Mode::as_str).join(", ")
            ))
        })?;
        for expected in ["config", "for"] {
            match it.next() {
                Some(w) if w == expected => {}
                Some(w) => return Err(bad(format!("expected `{expected}`, found `{w}`"))),
                None => return Err(bad(format!("missing `{expected}`"))),
            }
        }
        let address = it
            .next()
            .ok_or_else(|| bad("missing the rollup address".into()))?;
        let rollup = SmartRollupAddress::from_b58check(address).map_err(|e| {
            bad(format!(
                "`{address}` is not a smart rollup address (sr1...): {e}"
            ))
        })?;
        let mut operator_words = Vec::new();
        match it.next() {
            None => {}
            Some("with") => {
                match it.next() {
                    Some("operators") | Some("operator") => {}
                    Some(w) => return Err(bad(format!("expected `operators`, found `{w}`"))),
                    None => return Err(bad("missing `operators`".into())),
                }
                operator_words.extend(it);
            }
            Some(w) => return Err(bad(format!("expected `with operators`, found `{w}`"))),
        }
        let operators = operators_for(mode, &operator_words).map_err(bad)?;
        Ok(NodeConfig {
            rollup,
            mode,
            operators,
            rpc_addr,
            endpoint,
            history_mode: HistoryMode::Full,
            execute_outbox_messages_filter: Vec::new(),
            pre_images_endpoint: None,
        })
    }

    /// The purposes this node serves: its mode's, or for `custom` the ones given keys.
    pub fn purposes(&self) -> Vec<Purpose> {
        match self.mode {
            Mode::Custom => self.operators.keys().copied().collect(),
            mode => mode.purposes().to_vec(),
        }
    }

    /// The configuration as octez-style JSON.
    pub fn to_json(&self) -> Value {
        let operators: Map<String, Value> = self
            .operators
            .iter()
            .map(|(p, k)| (p.as_str().to_string(), Value::String(k.to_b58check())))
            .collect();
        json!({
            "smart-rollup-address": self.rollup.to_b58check(),
            "smart-rollup-node-operator": operators,
            "rpc-addr": self.rpc_addr.ip().to_string(),
            "rpc-port": self.rpc_addr.port(),
            "mode": self.mode.as_str(),
            "history-mode": self.history_mode.as_str(),
            "l1-endpoint": self.endpoint,
            "execute-outbox-messages-filter": self
                .execute_outbox_messages_filter
                .iter()
                .map(OutboxFilter::to_json)
                .collect::<Vec<_>>(),
            "pre-images-endpoint": self.pre_images_endpoint,
        })
    }

    /// Reads a configuration written by [`NodeConfig::to_json`]; `origin` names the source in
    /// errors.
    pub fn from_json(value: &Value, origin: &str) -> Result<NodeConfig, ConfigError> {
        let err = |message: String| ConfigError::File {
            path: origin.to_string(),
            message,
        };
        let str_field = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .ok_or_else(|| err(format!("missing string field `{key}`")))
        };
        let rollup = SmartRollupAddress::from_b58check(str_field("smart-rollup-address")?)
            .map_err(|e| err(format!("`smart-rollup-address`: {e}")))?;
        let mode = Mode::parse(str_field("mode")?)
            .ok_or_else(|| err("`mode`: unknown mode".to_string()))?;
        let history_mode = match value.get("history-mode") {
            None => HistoryMode::Full,
            Some(v) => v
                .as_str()
                .and_then(HistoryMode::parse)
                .ok_or_else(|| err("`history-mode`: expected \"archive\" or \"full\"".into()))?,
        };
        let mut operators = BTreeMap::new();
        if let Some(ops) = value.get("smart-rollup-node-operator") {
            let ops = ops
                .as_object()
                .ok_or_else(|| err("`smart-rollup-node-operator`: expected an object".into()))?;
            for (purpose, key) in ops {
                let p = Purpose::parse(purpose).ok_or_else(|| {
                    err(format!(
                        "`smart-rollup-node-operator`: unknown purpose `{purpose}`"
                    ))
                })?;
                let k = key
                    .as_str()
                    .and_then(|k| PublicKeyHash::from_b58check(k).ok())
                    .ok_or_else(|| {
                        err(format!("`smart-rollup-node-operator.{purpose}`: expected a tz1/tz2/tz3/tz4 address"))
                    })?;
                operators.insert(p, k);
            }
        }
        let ip = str_field("rpc-addr")?;
        let port = value
            .get("rpc-port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| err("`rpc-port`: expected a port number".into()))?;
        let rpc_addr: SocketAddr = format!("{ip}:{port}")
            .parse()
            .or_else(|_| format!("[{ip}]:{port}").parse())
            .map_err(|_| err(format!("`rpc-addr`: `{ip}` is not an IP address")))?;
        let execute_outbox_messages_filter = match value.get("execute-outbox-messages-filter") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    OutboxFilter::from_json(f)
                        .map_err(|m| err(format!("`execute-outbox-messages-filter` item {i}: {m}")))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(err(
                    "`execute-outbox-messages-filter`: expected a list of filters".into(),
                ))
            }
        };
        Ok(NodeConfig {
            rollup,
            mode,
            operators,
            rpc_addr,
            endpoint: str_field("l1-endpoint")?.to_string(),
            history_mode,
            execute_outbox_messages_filter,
            pre_images_endpoint: match value.get("pre-images-endpoint") {
                None | Some(Value::Null) => None,
                Some(Value::String(u)) => Some(u.clone()),
                Some(_) => return Err(err("`pre-images-endpoint`: expected a URL string".into())),
            },
        })
    }

    /// Writes `<dir>/config.json` (creating `dir`).
    pub fn save(&self, dir: &Path) -> Result<(), ConfigError> {
        let path = dir.join(CONFIG_FILE);
        let err = |e: std::io::Error| ConfigError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let text = serde_json::to_string_pretty(&self.to_json()).expect("JSON values print");
        std::fs::write(&path, text + "\n").map_err(err)
    }

    /// Reads `<dir>/config.json`.
    pub fn load(dir: &Path) -> Result<NodeConfig, ConfigError> {
        let path = dir.join(CONFIG_FILE);
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
            path: origin.clone(),
            message: format!(
                "{e} (create it with `soru-node init ... --data-dir {}`)",
                dir.display()
            ),
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|e| ConfigError::File {
            path: origin.clone(),
            message: format!("not JSON: {e}"),
        })?;
        NodeConfig::from_json(&value, &origin)
    }
}

/// The operator key per purpose: one bare key serves every purpose of `mode`; `purpose:key`
/// pairs name their purpose (and for `custom` define the purposes).
fn operators_for(mode: Mode, words: &[&str]) -> Result<BTreeMap<Purpose, PublicKeyHash>, String> {
    let parse_key = |k: &str| {
        PublicKeyHash::from_b58check(k)
            .map_err(|e| format!("operator `{k}` is not a tz1/tz2/tz3/tz4 address: {e}"))
    };
    let mut out = BTreeMap::new();
    let mut default = None;
    for w in words {
        match w.split_once(':') {
            Some((p, k)) => {
                let purpose = Purpose::parse(p).ok_or_else(|| {
                    format!(
                        "unknown purpose `{p}` (purposes: {})",
                        Purpose::ALL.map(Purpose::as_str).join(", ")
                    )
                })?;
                if out.insert(purpose, parse_key(k)?).is_some() {
                    return Err(format!("purpose `{p}` is given two operators"));
                }
            }
            None if default.is_none() => default = Some(parse_key(w)?),
            None => {
                return Err(format!(
                    "a second default operator `{w}`: give `<purpose>:<key>` pairs instead"
                ))
            }
        }
    }
    if let Some(k) = default {
        if mode == Mode::Custom {
            return Err("mode custom needs `<purpose>:<key>` operators".into());
        }
        for p in mode.purposes() {
            out.entry(*p).or_insert(k);
        }
    }
    for p in out.keys() {
        if mode != Mode::Custom && !mode.purposes().contains(p) {
            return Err(format!("mode {mode} does not use a `{p}` operator"));
        }
    }
    for p in mode.purposes() {
        if !out.contains_key(p) {
            return Err(format!("mode {mode} needs an operator for `{p}`"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR1: &str = "sr163Lv22CdE8QagCwf48PWDTquk6isQwv57";
    const TZ1: &str = "tz1Ke2h7sDdakHJQh8WX4Z372du1KChsksyU";

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn init(s: &str) -> Result<NodeConfig, ConfigError> {
        NodeConfig::from_init_words(
            &words(s),
            DEFAULT_RPC_ADDR.parse().unwrap(),
            DEFAULT_ENDPOINT.into(),
        )
    }

    #[test]
    fn operator_mode_gives_one_key_every_purpose_and_round_trips() {
        let c = init(&format!("operator config for {SR1} with operators {TZ1}")).unwrap();
        assert_eq!(c.purposes(), Mode::Operator.purposes());
        assert_eq!(c.operators.len(), 4);
        assert_eq!(NodeConfig::from_json(&c.to_json(), "x").unwrap(), c);
    }

    #[test]
    fn observer_needs_no_operator() {
        let c = init(&format!("observer config for {SR1}")).unwrap();
        assert!(c.operators.is_empty());
        assert!(c.purposes().is_empty());
    }

    #[test]
    fn bad_words_are_named() {
        let e = init(&format!("operater config for {SR1}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown mode `operater`"), "{e}");
        let e = init("operator config for tz1Ke2h7sDdakHJQh8WX4Z372du1KChsksyU")
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not a smart rollup address"), "{e}");
        let e = init(&format!("operator config for {SR1}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs an operator for `operating`"), "{e}");
        let e = init(&format!(
            "batcher config for {SR1} with operators cementing:{TZ1}"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("does not use a `cementing` operator"), "{e}");
        let e = init(&format!("custom config for {SR1} with operators {TZ1}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("custom needs"), "{e}");
    }

    #[test]
    fn custom_mode_takes_its_purposes_from_the_keys() {
        let c = init(&format!(
            "custom config for {SR1} with operators batching:{TZ1} executing_outbox:{TZ1}"
        ))
        .unwrap();
        assert_eq!(
            c.purposes(),
            vec![Purpose::Batching, Purpose::ExecutingOutbox]
        );
    }
}
