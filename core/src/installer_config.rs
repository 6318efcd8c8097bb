//! Installer configurations: the `Set` instructions octez's
//! `octez-smart-rollup-wasm-debugger --installer-config` applies to durable storage at
//! origination, before the first input.
//!
//! The format is octez's `Installer_config` (the kernel SDK's `installer-config` YAML, of which
//! the debugger accepts only `set`):
//!
//! ```yaml
//! instructions:
//!   - set:
//!       value: 556e20666573746976616c   # hex bytes
//!       to: /tmp/foo                    # a durable path
//!   - set: { value: "01", to: /counter }
//! ```
//!
//! or the same as JSON (`{"instructions": [{"set": {"value": "…", "to": "…"}}]}`, with the
//! `json` feature). The YAML reader is a small hand parser for exactly this subset (block or
//! flow mappings, plain or quoted scalars, comments), so no YAML library is needed; anything
//! else is an error naming its line. Unlike octez, which silently writes an empty value for
//! bad hex, every instruction is checked: hex, path (a valid durable key, not under
//! `/readonly`), and that it is a `set`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::durable::Key;

/// One `set` instruction: write `value` at durable path `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetInstruction {
    /// The bytes (decoded from hex).
    pub value: Vec<u8>,
    /// The durable path (`/a/b`).
    pub to: String,
}

/// Why an installer configuration is rejected: where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default(), instruction.map(|i| format!("instruction {i}: ")).unwrap_or_default())]
pub struct InstallerConfigError {
    /// The 1-based line (YAML).
    pub line: Option<usize>,
    /// The 1-based instruction.
    pub instruction: Option<usize>,
    /// What is wrong.
    pub message: String,
}

fn error(
    line: Option<usize>,
    instruction: Option<usize>,
    message: impl Into<String>,
) -> InstallerConfigError {
    InstallerConfigError {
        line,
        instruction,
        message: message.into(),
    }
}

/// Checks one instruction's fields.
fn instruction(
    line: Option<usize>,
    n: usize,
    value: Option<String>,
    to: Option<String>,
) -> Result<SetInstruction, InstallerConfigError> {
    let bad = |m: String| error(line, Some(n), m);
    let value = value.ok_or_else(|| bad("`set` needs a `value` (hex bytes)".into()))?;
    let to = to.ok_or_else(|| bad("`set` needs a `to` (a durable path)".into()))?;
    let bytes = hex::decode(&value)
        .map_err(|e| bad(format!("`value` {value:?} is not hex bytes ({e})")))?;
    let key =
        Key::from_path(&to).map_err(|e| bad(format!("`to` {to:?} is not a durable path ({e})")))?;
    if key.steps().is_empty() {
        return Err(bad(format!(
            "`to` {to:?} is not a durable path (it is the root)"
        )));
    }
    if key.is_readonly() {
        return Err(bad(format!(
            "`to` {to:?} is under /readonly, which only the PVM writes"
        )));
    }
    Ok(SetInstruction { value: bytes, to })
}

/// A YAML scalar: quotes removed, a trailing comment dropped.
fn scalar(text: &str, line: usize, n: Option<usize>) -> Result<String, InstallerConfigError> {
    let text = text.trim();
    for quote in ['"', '\''] {
        if let Some(rest) = text.strip_prefix(quote) {
            let Some(end) = rest.find(quote) else {
                return Err(error(
                    Some(line),
                    n,
                    format!("unterminated quoted value {text}"),
                ));
            };
            let after = rest[end + 1..].trim();
            if !after.is_empty() && !after.starts_with('#') {
                return Err(error(
                    Some(line),
                    n,
                    format!("unexpected {after:?} after a quoted value"),
                ));
            }
            return Ok(rest[..end].to_string());
        }
    }
    let plain = match text.find(" #") {
        Some(i) => &text[..i],
        None => text,
    };
    Ok(plain.trim().to_string())
}

/// Splits `key: value` (the value may be empty).
fn key_value(text: &str) -> Option<(&str, &str)> {
    let (k, v) = text.split_once(':')?;
    let k = k.trim();
    if k.is_empty() || k.contains(' ') {
        return None;
    }
    if !v.is_empty() && !v.starts_with(' ') {
        return None;
    }
    Some((k, v))
}

/// The fields of a flow mapping `{ value: …, to: … }`.
fn flow_map(
    text: &str,
    line: usize,
    n: usize,
) -> Result<Vec<(String, String)>, InstallerConfigError> {
    let inner = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.trim_end().strip_suffix('}'))
        .ok_or_else(|| {
            error(
                Some(line),
                Some(n),
                format!(
                    "expected a mapping {{ value: …, to: … }}, found {}",
                    text.trim()
                ),
            )
        })?;
    let mut fields = Vec::new();
    for part in inner.split(',') {
        if part.trim().is_empty() {
            continue;
        }
        let (k, v) = key_value(part.trim_start())
            .or_else(|| part.split_once(':').map(|(k, v)| (k.trim(), v)))
            .ok_or_else(|| {
                error(
                    Some(line),
                    Some(n),
                    format!("expected `key: value`, found {}", part.trim()),
                )
            })?;
        fields.push((k.to_string(), scalar(v, line, Some(n))?));
    }
    Ok(fields)
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Parses the YAML form (see the module documentation).
pub fn parse_yaml(text: &str) -> Result<Vec<SetInstruction>, InstallerConfigError> {
    // Lines without blanks and comments: (1-based number, indent, text).
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        if raw.trim_start_matches(' ').starts_with('\t') {
            return Err(error(
                Some(number),
                None,
                "tabs are not allowed for indentation in YAML",
            ));
        }
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" {
            continue;
        }
        lines.push((number, indent(raw), raw.trim_end()));
    }
    let Some(&(first, first_indent, head)) = lines.first() else {
        return Err(error(
            None,
            None,
            "the file is empty: expected `instructions:`",
        ));
    };
    let head = head.trim();
    let rest = match key_value(head) {
        Some(("instructions", v)) if first_indent == 0 => scalar(v, first, None)?,
        _ => {
            return Err(error(
                Some(first),
                None,
                format!("expected `instructions:` (the only top-level key), found {head}"),
            ))
        }
    };
    if rest == "[]" {
        if let Some(&(l, _, t)) = lines.get(1) {
            return Err(error(
                Some(l),
                None,
                format!("unexpected {} after `instructions: []`", t.trim()),
            ));
        }
        return Ok(Vec::new());
    }
    if !rest.is_empty() {
        return Err(error(
            Some(first),
            None,
            format!("expected a list of instructions after `instructions:`, found {rest}"),
        ));
    }
    let mut out = Vec::new();
    let mut i = 1;
    let mut item_indent = None;
    while i < lines.len() {
        let (number, ind, text) = lines[i];
        let body = text.trim_start();
        let Some(item) = body
            .strip_prefix('-')
            .filter(|r| r.is_empty() || r.starts_with(' '))
        else {
            return Err(error(
                Some(number),
                None,
                format!("expected an instruction `- set: …`, found {body}"),
            ));
        };
        match item_indent {
            None => item_indent = Some(ind),
            Some(expected) if expected != ind => {
                return Err(error(
                    Some(number),
                    None,
                    "instructions must all have the same indentation",
                ));
            }
            Some(_) => {}
        }
        let n = out.len() + 1;
        let item = item.trim_start();
        let Some((kind, value)) = key_value(item) else {
            return Err(error(
                Some(number),
                Some(n),
                format!("expected `set:`, found {item}"),
            ));
        };
        if kind != "set" {
            return Err(error(
                Some(number),
                Some(n),
                format!("`{kind}` is not supported: the debugger applies only `set` instructions (as octez's)"),
            ));
        }
        i += 1;
        let value = value.trim();
        let fields = if value.starts_with('{') {
            flow_map(value, number, n)?
        } else if !value.is_empty() && !value.starts_with('#') {
            return Err(error(
                Some(number),
                Some(n),
                format!("expected the fields of `set` (value, to), found {value}"),
            ));
        } else {
            // The nested block mapping: lines indented deeper than the `-`.
            let mut fields = Vec::new();
            let mut field_indent = None;
            while i < lines.len() && lines[i].1 > ind && !lines[i].2.trim_start().starts_with("- ")
            {
                let (l, fi, t) = lines[i];
                match field_indent {
                    None => field_indent = Some(fi),
                    Some(expected) if expected != fi => {
                        return Err(error(
                            Some(l),
                            Some(n),
                            "the fields of `set` must have the same indentation",
                        ));
                    }
                    Some(_) => {}
                }
                let Some((k, v)) = key_value(t.trim_start()) else {
                    return Err(error(
                        Some(l),
                        Some(n),
                        format!("expected `value: …` or `to: …`, found {}", t.trim()),
                    ));
                };
                fields.push((k.to_string(), scalar(v, l, Some(n))?));
                i += 1;
            }
            fields
        };
        let (mut v, mut to) = (None, None);
        for (k, val) in fields {
            let slot = match k.as_str() {
                "value" => &mut v,
                "to" => &mut to,
                other => {
                    return Err(error(
                        Some(number),
                        Some(n),
                        format!("unknown field `{other}` of `set` (expected value and to)"),
                    ));
                }
            };
            if slot.replace(val).is_some() {
                return Err(error(
                    Some(number),
                    Some(n),
                    format!("`{k}` is given twice"),
                ));
            }
        }
        out.push(instruction(Some(number), n, v, to)?);
    }
    Ok(out)
}

/// Parses the JSON form (see the module documentation).
#[cfg(feature = "json")]
pub fn parse_json(text: &str) -> Result<Vec<SetInstruction>, InstallerConfigError> {
    use serde_json::Value;
    let root: Value = serde_json::from_str(text)
        .map_err(|e| error(Some(e.line()), None, format!("not valid JSON: {e}")))?;
    let Some(list) = root.get("instructions").and_then(Value::as_array) else {
        return Err(error(None, None, "expected {\"instructions\": [...]}"));
    };
    let mut out = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let n = i + 1;
        let Some(set) = item.get("set") else {
            let kind = item
                .as_object()
                .and_then(|o| o.keys().next().cloned())
                .unwrap_or_else(|| item.to_string());
            return Err(error(None, Some(n), format!("`{kind}` is not supported: the debugger applies only `set` instructions (as octez's)")));
        };
        let field = |name: &str| -> Result<Option<String>, InstallerConfigError> {
            match set.get(name) {
                None => Ok(None),
                // Octez's encoding has `value` as an optional string: null is no bytes.
                Some(Value::Null) if name == "value" => Ok(Some(String::new())),
                Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(error(
                    None,
                    Some(n),
                    format!("`{name}` must be a string, found {other}"),
                )),
            }
        };
        out.push(instruction(None, n, field("value")?, field("to")?)?);
    }
    Ok(out)
}

/// The YAML of `instructions`, in the form [`parse_yaml`] reads back (and octez's debugger
/// accepts): what `soru-node dump durable storage` writes.
pub fn to_yaml(instructions: &[SetInstruction]) -> String {
    let mut out = String::from("instructions:\n");
    for i in instructions {
        let value = hex::encode(&i.value);
        let value = if value.is_empty() {
            String::from("\"\"")
        } else {
            value
        };
        // Durable paths are `/` and `[A-Za-z0-9._-]`: plain YAML scalars.
        out.push_str(&format!(
            "  - set:\n      value: {value}\n      to: {}\n",
            i.to
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_yaml_reads_back() {
        let set = |value: &[u8], to: &str| SetInstruction {
            value: value.to_vec(),
            to: to.into(),
        };
        let instructions = [
            set(b"hello", "/a/b"),
            set(b"", "/empty"),
            set(&[0, 255], "/x-y_z.1"),
        ];
        let yaml = to_yaml(&instructions);
        assert_eq!(parse_yaml(&yaml).unwrap(), instructions);
        assert_eq!(to_yaml(&[]), "instructions:\n");
    }

    #[test]
    fn block_and_flow_set_instructions_parse() {
        let yaml = "# kernel setup\ninstructions:\n- set:\n    value: 556e20666573746976616c\n    to: /tmp/foo\n  # between\n- set: { value: \"01\", to: /counter }\n-   set:\n      to: '/a/b'   # quoted\n      value: ''\n";
        let got = parse_yaml(yaml).unwrap();
        assert_eq!(
            got,
            alloc::vec![
                SetInstruction {
                    value: b"Un festival".to_vec(),
                    to: "/tmp/foo".into()
                },
                SetInstruction {
                    value: alloc::vec![1],
                    to: "/counter".into()
                },
                SetInstruction {
                    value: alloc::vec![],
                    to: "/a/b".into()
                },
            ]
        );
        assert_eq!(parse_yaml("instructions: []\n").unwrap(), alloc::vec![]);
    }

    #[test]
    fn bad_configs_name_their_line_and_instruction() {
        let e = |y: &str| parse_yaml(y).unwrap_err().to_string();
        assert_eq!(
            e("instructions:\n- set:\n    value: zz\n    to: /a\n"),
            "line 2: instruction 1: `value` \"zz\" is not hex bytes (Invalid character 'z' at position 0)"
        );
        assert!(e("instructions:\n- set: { value: 00, to: a/b }\n")
            .starts_with("line 2: instruction 1: `to` \"a/b\" is not a durable path"));
        assert_eq!(
            e("instructions:\n- set: { value: 00, to: /ok }\n- move:\n    from: /a\n    to: /b\n"),
            "line 3: instruction 2: `move` is not supported: the debugger applies only `set` instructions (as octez's)"
        );
        assert_eq!(
            e("instructions:\n- set:\n    value: 00\n"),
            "line 2: instruction 1: `set` needs a `to` (a durable path)"
        );
        assert!(
            e("instructions:\n- set: { value: 00, to: /readonly/x }\n").contains("under /readonly")
        );
        assert_eq!(
            e("setup:\n"),
            "line 1: expected `instructions:` (the only top-level key), found setup:"
        );
        assert_eq!(
            e("instructions:\n  set: x\n"),
            "line 2: expected an instruction `- set: …`, found set: x"
        );
        assert!(e("").contains("empty"));
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_configs_parse_and_fail_precisely() {
        let got = parse_json(r#"{"instructions":[{"set":{"value":null,"to":"/e"}}]}"#).unwrap();
        assert!(got[0].value.is_empty());
        let got = parse_json(r#"{"instructions":[{"set":{"value":"0102","to":"/x"}}]}"#).unwrap();
        assert_eq!(
            got,
            alloc::vec![SetInstruction {
                value: alloc::vec![1, 2],
                to: "/x".into()
            }]
        );
        let e = parse_json(r#"{"instructions":[{"set":{"value":"0g","to":"/x"}}]}"#).unwrap_err();
        assert!(
            e.to_string().starts_with("instruction 1: `value` \"0g\""),
            "{e}"
        );
        assert!(parse_json("{")
            .unwrap_err()
            .to_string()
            .starts_with("line 1: not valid JSON"));
    }
}
