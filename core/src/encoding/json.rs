//! A small JSON value for the octez JSON forms Soru prints (Micheline, outbox messages).
//!
//! Printing needs no JSON library, so light clients (the proof verifier in a web page) render
//! decoded messages without `serde_json`; with the `json` feature a [`Json`] converts into a
//! `serde_json::Value` for code that parses or edits JSON. Objects keep their keys sorted, as
//! `serde_json`'s default map does, so both print the same text.
//!
//! ```
//! use soru_core::encoding::json::Json;
//! let v = Json::object([("b", Json::from("x\"y")), ("a", Json::Array(vec![Json::from(7i64)]))]);
//! assert_eq!(v.to_string(), r#"{"a":[7],"b":"x\"y"}"#);
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// A JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer (the forms Soru prints carry no fractions; big numbers are strings).
    Int(i64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, keys sorted.
    Object(Object),
}

/// The fields of a JSON object, kept sorted by key (a sorted vector: objects here have a few
/// fields, and a B-tree costs the light client kilobytes of WebAssembly).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Object(Vec<(String, Json)>);

impl Object {
    /// No fields.
    pub fn new() -> Object {
        Object(Vec::new())
    }

    /// Sets `key` to `value`; returns the value it replaces.
    pub fn insert(&mut self, key: String, value: Json) -> Option<Json> {
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(&key)) {
            Ok(i) => Some(core::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Json> {
        let i = self.0.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok()?;
        Some(&self.0[i].1)
    }

    /// The fields in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Json)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl IntoIterator for Object {
    type Item = (String, Json);
    type IntoIter = alloc::vec::IntoIter<(String, Json)>;

    /// The fields in key order.
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl Json {
    /// An object from `(key, value)` pairs.
    pub fn object<'a>(fields: impl IntoIterator<Item = (&'a str, Json)>) -> Json {
        let mut m = Object::new();
        for (k, v) in fields {
            m.insert(String::from(k), v);
        }
        Json::Object(m)
    }

    /// The field `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(m) => m.get(key),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::String(String::from(s))
    }
}

impl From<String> for Json {
    fn from(s: String) -> Json {
        Json::String(s)
    }
}

impl From<i64> for Json {
    fn from(v: i64) -> Json {
        Json::Int(v)
    }
}

impl From<bool> for Json {
    fn from(v: bool) -> Json {
        Json::Bool(v)
    }
}

/// Writes `s` as a JSON string literal (RFC 8259 escapes; other characters as they are).
pub fn write_string(f: &mut dyn fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{08}' => f.write_str("\\b")?,
            '\u{0c}' => f.write_str("\\f")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// Compact JSON text.
impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Int(i) => write!(f, "{i}"),
            Json::String(s) => write_string(f, s),
            Json::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Json::Object(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_string(f, k)?;
                    write!(f, ":{v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

#[cfg(feature = "json")]
impl From<Json> for serde_json::Value {
    fn from(j: Json) -> serde_json::Value {
        use serde_json::Value;
        match j {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(b),
            Json::Int(i) => Value::from(i),
            Json::String(s) => Value::String(s),
            Json::Array(items) => Value::Array(items.into_iter().map(Value::from).collect()),
            Json::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, v.into())).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn escapes_and_nesting() {
        let v = Json::object([
            ("s", Json::from("a\u{1}\n\u{e9}")),
            ("n", Json::Null),
            ("t", Json::Array(vec![Json::Bool(true), Json::Int(-3)])),
        ]);
        assert_eq!(
            v.to_string(),
            "{\"n\":null,\"s\":\"a\\u0001\\n\u{e9}\",\"t\":[true,-3]}"
        );
        assert_eq!(v.get("s").and_then(Json::as_str), Some("a\u{1}\n\u{e9}"));
    }

    #[cfg(feature = "json")]
    #[test]
    fn same_text_as_serde_json() {
        let v = Json::object([("z", Json::from("\u{7f}\"")), ("a", Json::Int(1))]);
        let s: serde_json::Value = v.clone().into();
        assert_eq!(s.to_string(), v.to_string());
    }
}
