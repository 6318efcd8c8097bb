//! Pure formatting for the panels: values as hex, text or integers, the durable tree, outbox
//! and inbox messages, reveal requests.

use serde::{Deserialize, Serialize};
use soru_core::encoding::inbox::{InboxMessage, InternalInboxMessage};
use soru_core::encoding::outbox::OutboxMessage;
use soru_core::reveal::RevealRequest;

/// Bytes of a durable value sent to the UI (longer values are cut, their length is shown).
pub const MAX_VALUE_SHOWN: usize = 1024;

/// How a value is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ValueView {
    /// Lower-case hex.
    #[default]
    Hex,
    /// UTF-8 text (invalid sequences replaced).
    Text,
    /// A little-endian integer (values of 1, 2, 4 or 8 bytes), signed and unsigned.
    Int,
}

impl ValueView {
    /// All views, in the order of the selector.
    pub const ALL: [ValueView; 3] = [ValueView::Hex, ValueView::Text, ValueView::Int];

    /// The selector's label.
    pub fn label(self) -> &'static str {
        match self {
            ValueView::Hex => "hex",
            ValueView::Text => "text",
            ValueView::Int => "integer (LE)",
        }
    }

    /// The view named by [`ValueView::label`] or its first word.
    pub fn parse(s: &str) -> Option<ValueView> {
        ValueView::ALL
            .into_iter()
            .find(|v| v.label() == s || v.label().split(' ').next() == Some(s))
    }
}

/// `bytes` in the chosen view; `full_len` is the value's length before it was cut.
pub fn show_value(view: ValueView, bytes: &[u8], full_len: usize) -> String {
    let cut = if full_len > bytes.len() {
        format!(" ... ({full_len} bytes)")
    } else {
        String::new()
    };
    match view {
        ValueView::Hex if bytes.is_empty() => "(empty)".into(),
        ValueView::Hex => format!("{}{cut}", hex::encode(bytes)),
        ValueView::Text => format!("{:?}{cut}", String::from_utf8_lossy(bytes)),
        ValueView::Int => match le_integer(bytes) {
            Some((u, i)) if u as i128 == i => u.to_string(),
            Some((u, i)) => format!("{u} (signed {i})"),
            None => format!(
                "not an integer ({} bytes; integers are 1, 2, 4 or 8 bytes)",
                full_len
            ),
        },
    }
}

/// The unsigned and signed little-endian values of a 1, 2, 4 or 8-byte value.
pub fn le_integer(bytes: &[u8]) -> Option<(u64, i128)> {
    if !matches!(bytes.len(), 1 | 2 | 4 | 8) {
        return None;
    }
    let mut buf = [0u8; 8];
    buf[..bytes.len()].copy_from_slice(bytes);
    let u = u64::from_le_bytes(buf);
    let bits = bytes.len() * 8;
    let signed = if bits == 64 {
        i128::from(u as i64)
    } else if u >> (bits - 1) & 1 == 1 {
        i128::from(u) - (1i128 << bits)
    } else {
        i128::from(u)
    };
    Some((u, signed))
}

/// A decimal with thousands separators (`1234567` -> `1,234,567`).
pub fn grouped(decimal: &str) -> String {
    let digits: Vec<char> = decimal.chars().collect();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(*c);
    }
    out
}

/// One node of the durable storage tree view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeNode {
    /// The step (last path component); empty for the root.
    pub name: String,
    /// The full key (`/a/b`).
    pub path: String,
    /// Index into the durable value list when this key holds a value.
    pub value: Option<usize>,
    /// Sub-keys, in order.
    pub children: Vec<TreeNode>,
}

impl TreeNode {
    /// Number of values at or under this node.
    pub fn count_values(&self) -> usize {
        usize::from(self.value.is_some())
            + self
                .children
                .iter()
                .map(TreeNode::count_values)
                .sum::<usize>()
    }
}

/// Builds the tree of durable keys (`/a/b`, `/a/c` -> `a` with children `b`, `c`).
pub fn durable_tree<'a>(keys: impl IntoIterator<Item = &'a str>) -> TreeNode {
    let mut root = TreeNode {
        name: String::new(),
        path: String::new(),
        value: None,
        children: Vec::new(),
    };
    for (index, key) in keys.into_iter().enumerate() {
        let mut node = &mut root;
        for step in key.split('/').filter(|s| !s.is_empty()) {
            let pos = match node.children.iter().position(|c| c.name == step) {
                Some(p) => p,
                None => {
                    node.children.push(TreeNode {
                        name: step.into(),
                        path: format!("{}/{step}", node.path),
                        value: None,
                        children: Vec::new(),
                    });
                    node.children.len() - 1
                }
            };
            node = &mut node.children[pos];
        }
        node.value = Some(index);
    }
    root
}

/// An outbox message with its decoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The outbox level.
    pub level: u32,
    /// The index in that level's outbox.
    pub index: usize,
    /// The raw message in hex.
    pub hex: String,
    /// The octez JSON form (destination, entrypoint, parameters), or why it does not decode
    /// as an outbox message.
    pub decoded: Result<String, String>,
}

impl OutboxEntry {
    /// Decodes `bytes` as an `Sc_rollup_outbox_message_repr`.
    pub fn new(level: u32, index: usize, bytes: &[u8]) -> OutboxEntry {
        OutboxEntry {
            level,
            index,
            hex: hex::encode(bytes),
            decoded: decode_outbox(bytes),
        }
    }
}

/// The octez JSON form of an outbox message, pretty-printed, or why it does not decode.
pub fn decode_outbox(bytes: &[u8]) -> Result<String, String> {
    OutboxMessage::decode(bytes)
        .map(|m| {
            serde_json::to_string_pretty(&serde_json::Value::from(m.to_json())).unwrap_or_default()
        })
        .map_err(|e| format!("not an outbox message: {e}"))
}

/// One line describing an inbox message.
pub fn input_summary(bytes: &[u8]) -> String {
    match InboxMessage::decode(bytes) {
        Ok(InboxMessage::External(payload)) => {
            format!("external {}", short_hex(&payload, 48))
        }
        Ok(InboxMessage::Internal(InternalInboxMessage::StartOfLevel)) => "start_of_level".into(),
        Ok(InboxMessage::Internal(InternalInboxMessage::EndOfLevel)) => "end_of_level".into(),
        Ok(InboxMessage::Internal(InternalInboxMessage::InfoPerLevel { .. })) => {
            "info_per_level".into()
        }
        Ok(InboxMessage::Internal(InternalInboxMessage::Transfer(t))) => format!(
            "transfer from {} to {}: {}",
            t.sender.to_b58check(),
            t.destination.to_b58check(),
            t.payload.to_json()
        ),
        Ok(m) => m.to_json().to_string(),
        Err(e) => format!("raw {} (does not decode: {e})", short_hex(bytes, 32)),
    }
}

/// Hex of `bytes`, cut to `max` digits with an ellipsis and the length.
pub fn short_hex(bytes: &[u8], max: usize) -> String {
    let h = hex::encode(bytes);
    if h.len() <= max {
        if h.is_empty() {
            "(empty)".into()
        } else {
            h
        }
    } else {
        format!("{}... ({} bytes)", &h[..max], bytes.len())
    }
}

/// `(kind, hash in hex)` of a reveal request.
pub fn reveal_parts(request: &RevealRequest) -> (String, String) {
    match request {
        RevealRequest::Preimage(hash) => {
            let mut full = vec![0u8];
            full.extend_from_slice(hash);
            ("preimage".into(), hex::encode(full))
        }
        RevealRequest::Metadata => ("metadata".into(), String::new()),
        RevealRequest::Raw(p) => ("raw".into(), hex::encode(p)),
    }
}

/// One line naming a reveal request.
pub fn reveal_summary(request: &RevealRequest) -> String {
    match reveal_parts(request) {
        (kind, h) if h.is_empty() => kind,
        (kind, h) => format!("{kind} {h}"),
    }
}

/// A command line after a completion request: the word from byte `start` is replaced by the
/// single candidate (with a space after it unless it is a directory ending in `/`), or by the
/// candidates' common prefix; the second value lists the candidates when there are several.
pub fn apply_completion(
    line: &str,
    start: usize,
    candidates: &[String],
) -> (String, Option<String>) {
    let Some(head) = line.get(..start) else {
        return (line.to_string(), None);
    };
    match candidates {
        [] => (line.to_string(), None),
        [one] => {
            let space = if one.ends_with('/') { "" } else { " " };
            (format!("{head}{one}{space}"), None)
        }
        many => {
            let first = &many[0];
            let mut common = first.len();
            for c in &many[1..] {
                common = first
                    .char_indices()
                    .zip(c.chars())
                    .take_while(|((_, a), b)| a == b)
                    .last()
                    .map_or(0, |((i, a), _)| (i + a.len_utf8()).min(common));
            }
            let word = line.get(start..).unwrap_or("");
            let prefix = &first[..common];
            let completed = if prefix.len() > word.len() {
                prefix
            } else {
                word
            };
            (format!("{head}{completed}"), Some(many.join("  ")))
        }
    }
}

/// One frame of the flame graph: a function, the fuel of its calls (its callees included) and
/// its callees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlameNode {
    /// The function (`kernel_run` for a run's root, `all` for the graph's root).
    pub name: String,
    /// Fuel of this frame and everything below it.
    pub fuel: i64,
    /// The callees, in the order they were first called.
    pub children: Vec<FlameNode>,
}

/// The flame graph of a profile: `stacks` are `f;g;h` call stacks with the fuel spent in their
/// last frame ([`soru_core::debugger::ProfileReport::stack_fuel`]); equal paths merge.
pub fn flame_tree(stacks: &[(String, i64)]) -> FlameNode {
    let mut root = FlameNode {
        name: "all".into(),
        fuel: 0,
        children: Vec::new(),
    };
    for (stack, fuel) in stacks {
        root.fuel += fuel;
        let mut node = &mut root;
        for frame in stack.split(';') {
            let i = match node.children.iter().position(|c| c.name == frame) {
                Some(i) => i,
                None => {
                    node.children.push(FlameNode {
                        name: frame.into(),
                        fuel: 0,
                        children: Vec::new(),
                    });
                    node.children.len() - 1
                }
            };
            node = &mut node.children[i];
            node.fuel += fuel;
        }
    }
    root
}

/// The debugger command the memory panel sends: `show memory at <address> for <length> bytes`
/// (`as string` for text). Numbers are decimal or `0x` hex, as the debugger reads them.
pub fn memory_command(address: &str, length: &str, as_string: bool) -> Result<String, String> {
    let number = |field: &str, text: &str| {
        let t = text.trim();
        let parsed = match t.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16).ok(),
            None => t.parse::<u32>().ok(),
        };
        parsed.ok_or_else(|| {
            format!("{field}: expected a number (decimal or 0x hex) below 2^32, got {t:?}")
        })
    };
    let address = number("address", address)?;
    let length = number("length", length)?;
    Ok(format!(
        "show memory at {address} for {length} bytes{}",
        if as_string { " as string" } else { "" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_in_each_view() {
        assert_eq!(show_value(ValueView::Hex, &[1, 0xab], 2), "01ab");
        assert_eq!(show_value(ValueView::Hex, &[], 0), "(empty)");
        assert_eq!(show_value(ValueView::Hex, &[1], 3), "01 ... (3 bytes)");
        assert_eq!(show_value(ValueView::Text, b"hi\n", 3), "\"hi\\n\"");
        assert_eq!(show_value(ValueView::Int, &[2, 0, 0, 0], 4), "2");
        assert_eq!(show_value(ValueView::Int, &[0xff], 1), "255 (signed -1)");
        assert_eq!(
            show_value(ValueView::Int, &[0xff; 8], 8),
            "18446744073709551615 (signed -1)"
        );
        assert!(show_value(ValueView::Int, &[1, 2, 3], 3).starts_with("not an integer"));
        assert_eq!(ValueView::parse("integer"), Some(ValueView::Int));
        assert_eq!(ValueView::parse("text"), Some(ValueView::Text));
    }

    #[test]
    fn completions_replace_the_last_word() {
        let c = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            apply_completion("sh", 0, &c(&["show"])),
            ("show ".into(), None)
        );
        assert_eq!(
            apply_completion("show key /a", 9, &c(&["/a/"])),
            ("show key /a/".into(), None)
        );
        assert_eq!(
            apply_completion("show s", 5, &c(&["state", "status", "subkeys"])),
            ("show s".into(), Some("state  status  subkeys".into()))
        );
        assert_eq!(
            apply_completion("show st", 5, &c(&["state", "status"])),
            ("show stat".into(), Some("state  status".into()))
        );
        assert_eq!(apply_completion("xyz", 0, &[]), ("xyz".into(), None));
        assert_eq!(apply_completion("ab", 9, &c(&["q"])), ("ab".into(), None));
    }

    #[test]
    fn flame_trees_sum_fuel_along_stacks() {
        let stacks = [
            ("kernel_run".to_string(), 5),
            ("kernel_run;read_input".to_string(), 10),
            ("kernel_run;main;store_write".to_string(), 20),
            ("kernel_run;read_input".to_string(), 1),
            ("kernel_run;main".to_string(), 4),
        ];
        let t = flame_tree(&stacks);
        assert_eq!(t.fuel, 40);
        let run = &t.children[0];
        assert_eq!((run.name.as_str(), run.fuel), ("kernel_run", 40));
        let names: Vec<_> = run
            .children
            .iter()
            .map(|c| (c.name.as_str(), c.fuel))
            .collect();
        assert_eq!(names, [("read_input", 11), ("main", 24)]);
        assert_eq!(run.children[1].children[0].fuel, 20);
        assert_eq!(flame_tree(&[]).fuel, 0);
    }

    #[test]
    fn memory_commands() {
        assert_eq!(
            memory_command("0x10", " 4", false).unwrap(),
            "show memory at 16 for 4 bytes"
        );
        assert_eq!(
            memory_command("256", "8", true).unwrap(),
            "show memory at 256 for 8 bytes as string"
        );
        assert_eq!(
            memory_command("-1", "4", false).unwrap_err(),
            "address: expected a number (decimal or 0x hex) below 2^32, got \"-1\""
        );
        assert!(memory_command("0", "", false)
            .unwrap_err()
            .starts_with("length: "));
    }

    #[test]
    fn groups_digits() {
        assert_eq!(grouped("0"), "0");
        assert_eq!(grouped("1000"), "1,000");
        assert_eq!(grouped("11000000000"), "11,000,000,000");
    }

    #[test]
    fn builds_the_durable_tree() {
        let t = durable_tree(["/a/b", "/a/c", "/a", "/d"]);
        assert_eq!(t.children.len(), 2);
        let a = &t.children[0];
        assert_eq!(
            (a.name.as_str(), a.path.as_str(), a.value),
            ("a", "/a", Some(2))
        );
        assert_eq!(a.children[1].path, "/a/c");
        assert_eq!(a.children[1].value, Some(1));
        assert_eq!(t.count_values(), 4);
    }

    #[test]
    fn decodes_outbox_transactions() {
        // The "Hello world" transaction of the Taquito docs (shared output proof vector 05).
        let bytes = hex::decode("0000000031010000000b48656c6c6f20776f726c6401bdb6f61e4f12c952f807ae7d3341af5367887dac000000000764656661756c74").unwrap();
        let e = OutboxEntry::new(3, 0, &bytes);
        let json = e.decoded.unwrap();
        assert!(json.contains("\"destination\": \"KT1"), "{json}");
        assert!(json.contains("Hello world"), "{json}");
        assert!(OutboxEntry::new(3, 1, b"hi")
            .decoded
            .unwrap_err()
            .starts_with("not an outbox message: at byte"));
    }

    #[test]
    fn summarises_inputs() {
        assert_eq!(input_summary(&[1, 0xab]), "external ab");
        assert_eq!(input_summary(&[0, 1]), "start_of_level");
        assert!(input_summary(&[7]).starts_with("raw 07 (does not decode"));
        assert_eq!(short_hex(&[0; 40], 8), "00000000... (40 bytes)");
    }
}
