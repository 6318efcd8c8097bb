//! Micheline expressions with Michelson primitives and their binary encoding.
//!
//! This is octez's `Script_repr.expr_encoding` (`Micheline_encoding.canonical_encoding`, V2
//! semantics, with the `Michelson_v1_primitives` table): one tag byte per node,
//!
//! | tag | node |
//! |---|---|
//! | 0 | `Int`: zarith `z` |
//! | 1 | `String`: `uint30`-prefixed bytes |
//! | 2 | `Seq`: `uint30`-prefixed list of nodes |
//! | 3 / 4 | primitive with no argument, without / with annotations |
//! | 5 / 6 | primitive with one argument, without / with annotations |
//! | 7 / 8 | primitive with two arguments, without / with annotations |
//! | 9 | primitive with any arguments (`uint30`-prefixed list) and annotations |
//! | 10 | `Bytes`: `uint30`-prefixed bytes |
//!
//! A primitive is one byte: its index in the table below. Annotations are one `uint30`-prefixed
//! string, joined with spaces. The bytes carry no `0x05` (`PACK`) prefix.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::json::{self, Json};

use super::binary::{
    put_dynamic, put_dynamic_bytes, put_u8, put_z, DecodeError, DecodeErrorKind, Reader, Zarith,
};

/// Nesting depth beyond which decoding stops with [`DecodeErrorKind::TooDeep`].
///
/// A 4096-byte inbox message can nest at most ~2048 levels (two bytes per level), so this
/// accepts every message the L1 can carry while bounding stack use.
pub const MAX_DEPTH: usize = 2100;

/// The largest annotation octez accepts (`Micheline_parser.max_annot_length`).
pub const MAX_ANNOT_LENGTH: usize = 255;

/// The `Michelson_v1_primitives` names in encoding order, one space apart: the `i`-th name is the
/// primitive of byte `i`. One string rather than a `[&str; 161]`, whose 161 pointers were about
/// 1 KB of the npm proof entry.
const NAMES: &str = concat!(
    "parameter storage code False Elt Left None Pair Right Some True Unit PACK UNPACK ",
    "BLAKE2B SHA256 SHA512 ABS ADD AMOUNT AND BALANCE CAR CDR CHECK_SIGNATURE COMPARE ",
    "CONCAT CONS CREATE_ACCOUNT CREATE_CONTRACT IMPLICIT_ACCOUNT DIP DROP DUP EDIV ",
    "EMPTY_MAP EMPTY_SET EQ EXEC FAILWITH GE GET GT HASH_KEY IF IF_CONS IF_LEFT IF_NONE ",
    "INT LAMBDA LE LEFT LOOP LSL LSR LT MAP MEM MUL NEG NEQ NIL NONE NOT NOW OR PAIR ",
    "PUSH RIGHT SIZE SOME SOURCE SENDER SELF STEPS_TO_QUOTA SUB SWAP TRANSFER_TOKENS ",
    "SET_DELEGATE UNIT UPDATE XOR ITER LOOP_LEFT ADDRESS CONTRACT ISNAT CAST RENAME bool ",
    "contract int key key_hash lambda list map big_map nat option or pair set signature ",
    "string bytes mutez timestamp unit operation address SLICE DIG DUG EMPTY_BIG_MAP ",
    "APPLY chain_id CHAIN_ID LEVEL SELF_ADDRESS never NEVER UNPAIR VOTING_POWER ",
    "TOTAL_VOTING_POWER KECCAK SHA3 PAIRING_CHECK bls12_381_g1 bls12_381_g2 bls12_381_fr ",
    "sapling_state sapling_transaction_deprecated SAPLING_EMPTY_STATE ",
    "SAPLING_VERIFY_UPDATE ticket TICKET_DEPRECATED READ_TICKET SPLIT_TICKET ",
    "JOIN_TICKETS GET_AND_UPDATE chest chest_key OPEN_CHEST VIEW view constant SUB_MUTEZ ",
    "tx_rollup_l2_address MIN_BLOCK_TIME sapling_transaction EMIT Lambda_rec LAMBDA_REC ",
    "TICKET BYTES NAT Ticket IS_IMPLICIT_ACCOUNT INDEX_ADDRESS GET_ADDRESS_INDEX",
);

/// A Michelson primitive, by its encoding byte (below [`Primitive::COUNT`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Primitive(u8);

impl Primitive {
    /// How many primitives the encoding has (bytes `0..COUNT`).
    pub const COUNT: u8 = 161;
    /// `False`.
    pub const FALSE: Primitive = Primitive(3);
    /// `Elt`.
    pub const ELT: Primitive = Primitive(4);
    /// `Left`.
    pub const LEFT: Primitive = Primitive(5);
    /// `None`.
    pub const NONE: Primitive = Primitive(6);
    /// `Pair`.
    pub const PAIR: Primitive = Primitive(7);
    /// `Right`.
    pub const RIGHT: Primitive = Primitive(8);
    /// `Some`.
    pub const SOME: Primitive = Primitive(9);
    /// `True`.
    pub const TRUE: Primitive = Primitive(10);
    /// `Unit`.
    pub const UNIT: Primitive = Primitive(11);

    /// The primitive with this encoding byte, if the table has one.
    pub fn from_index(index: u8) -> Option<Self> {
        (index < Self::COUNT).then_some(Primitive(index))
    }

    /// The primitive with this name (case-sensitive, as in Michelson).
    pub fn from_name(name: &str) -> Option<Self> {
        NAMES
            .split(' ')
            .position(|n| n == name)
            .map(|i| Primitive(i as u8))
    }

    /// Its encoding byte.
    pub fn index(self) -> u8 {
        self.0
    }

    /// Its Michelson name.
    pub fn name(self) -> &'static str {
        NAMES
            .split(' ')
            .nth(usize::from(self.0))
            .unwrap_or_default()
    }
}

impl fmt::Debug for Primitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Primitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Micheline expression (octez `Script_repr.expr`, locations stripped).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expr {
    /// An arbitrary-precision integer.
    Int(Zarith),
    /// A string. Michelson restricts string contents, but the binary encoding accepts any bytes
    /// that are UTF-8 here (octez stores an OCaml string; we require UTF-8 to keep `String`).
    String(String),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A primitive application.
    Prim {
        /// The primitive.
        prim: Primitive,
        /// Its arguments.
        args: Vec<Expr>,
        /// Its annotations, each with its sigil (`%to`, `:t`, `@v`).
        annots: Vec<String>,
    },
    /// A sequence `{ a ; b }`.
    Seq(Vec<Expr>),
}

/// Whether `s` is a well-formed annotation as octez's `Micheline_parser.check_annot` decides.
pub fn is_valid_annotation(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > MAX_ANNOT_LENGTH {
        return false;
    }
    matches!(b[0], b'@' | b':' | b'$' | b'&' | b'%' | b'!' | b'?')
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'%' | b'@'))
}

impl Expr {
    /// A primitive application without annotations.
    pub fn prim(prim: Primitive, args: Vec<Expr>) -> Expr {
        Expr::Prim {
            prim,
            args,
            annots: Vec::new(),
        }
    }

    /// An integer node.
    pub fn int(v: i128) -> Expr {
        Expr::Int(Zarith::from_i128(v))
    }

    /// Binary encoding (no `0x05` prefix).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the binary encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Expr::Int(z) => {
                put_u8(out, 0);
                put_z(out, z);
            }
            Expr::String(s) => {
                put_u8(out, 1);
                put_dynamic_bytes(out, s.as_bytes());
            }
            Expr::Seq(items) => {
                put_u8(out, 2);
                put_dynamic(out, |out| {
                    for e in items {
                        e.encode_into(out);
                    }
                });
            }
            Expr::Bytes(b) => {
                put_u8(out, 10);
                put_dynamic_bytes(out, b);
            }
            Expr::Prim { prim, args, annots } => {
                let with_annots = !annots.is_empty();
                match args.len() {
                    n @ 0..=2 => {
                        put_u8(out, 3 + 2 * n as u8 + u8::from(with_annots));
                        put_u8(out, prim.index());
                        for a in args {
                            a.encode_into(out);
                        }
                        if with_annots {
                            put_annots(out, annots);
                        }
                    }
                    _ => {
                        put_u8(out, 9);
                        put_u8(out, prim.index());
                        put_dynamic(out, |out| {
                            for a in args {
                                a.encode_into(out);
                            }
                        });
                        put_annots(out, annots);
                    }
                }
            }
        }
    }

    /// Decodes exactly one expression spanning all of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Expr, DecodeError> {
        let mut r = Reader::new(bytes);
        let e = Expr::read(&mut r)?;
        r.finish()?;
        Ok(e)
    }

    /// Reads one expression from `r` (Micheline binary is self-delimiting).
    pub fn read(r: &mut Reader<'_>) -> Result<Expr, DecodeError> {
        read_node(r, 0)
    }

    /// Nesting depth (an atom has depth 1).
    pub fn depth(&self) -> usize {
        match self {
            Expr::Int(_) | Expr::String(_) | Expr::Bytes(_) => 1,
            Expr::Seq(items) | Expr::Prim { args: items, .. } => {
                1 + items.iter().map(Expr::depth).max().unwrap_or(0)
            }
        }
    }
}

fn put_annots(out: &mut Vec<u8>, annots: &[String]) {
    put_dynamic(out, |out| {
        for (i, a) in annots.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(a.as_bytes());
        }
    });
}

fn read_annots(r: &mut Reader<'_>) -> Result<Vec<String>, DecodeError> {
    let at = r.position();
    let s = r.dynamic_string("annotation")?;
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for a in s.split(' ') {
        if !is_valid_annotation(a) {
            return Err(r.error_at(
                at,
                DecodeErrorKind::Invalid {
                    what: "annotation",
                    reason: "malformed annotation",
                },
            ));
        }
        out.push(String::from(a));
    }
    Ok(out)
}

fn read_prim(r: &mut Reader<'_>) -> Result<Primitive, DecodeError> {
    let at = r.position();
    let b = r.u8()?;
    Primitive::from_index(b).ok_or_else(|| {
        r.error_at(
            at,
            DecodeErrorKind::InvalidTag {
                what: "Michelson primitive",
                tag: u16::from(b),
            },
        )
    })
}

fn read_list(r: &mut Reader<'_>, depth: usize) -> Result<Vec<Expr>, DecodeError> {
    r.dynamic(|r| {
        let mut items = Vec::new();
        while !r.is_empty() {
            items.push(read_node(r, depth + 1)?);
        }
        Ok(items)
    })
}

fn read_node(r: &mut Reader<'_>, depth: usize) -> Result<Expr, DecodeError> {
    if depth >= MAX_DEPTH {
        return Err(r.error(DecodeErrorKind::TooDeep { limit: MAX_DEPTH }));
    }
    let at = r.position();
    let tag = r.u8()?;
    Ok(match tag {
        0 => Expr::Int(r.z()?),
        1 => Expr::String(r.dynamic_string("Micheline string")?.into()),
        2 => Expr::Seq(read_list(r, depth)?),
        3..=8 => {
            let prim = read_prim(r)?;
            let nargs = usize::from((tag - 3) / 2);
            let mut args = Vec::with_capacity(nargs);
            for _ in 0..nargs {
                args.push(read_node(r, depth + 1)?);
            }
            let annots = if (tag - 3) % 2 == 1 {
                read_annots(r)?
            } else {
                Vec::new()
            };
            Expr::Prim { prim, args, annots }
        }
        9 => {
            let prim = read_prim(r)?;
            let args = read_list(r, depth)?;
            let annots = read_annots(r)?;
            Expr::Prim { prim, args, annots }
        }
        10 => Expr::Bytes(r.dynamic_bytes()?.to_vec()),
        _ => {
            return Err(r.error_at(
                at,
                DecodeErrorKind::InvalidTag {
                    what: "Micheline node",
                    tag: u16::from(tag),
                },
            ))
        }
    })
}

/// Why a JSON value is not a Micheline expression.
#[cfg(feature = "json")]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// Not an object or array of the Micheline JSON form.
    #[error("at {path}: expected a Micheline node ({{\"int\"}}, {{\"string\"}}, {{\"bytes\"}}, {{\"prim\"}} or an array)")]
    NotANode {
        /// JSON path of the offending value, e.g. `$.args[1]`.
        path: String,
    },
    /// A field has the wrong type or value.
    #[error("at {path}: {reason}")]
    Invalid {
        /// JSON path of the offending value.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A primitive name outside the Michelson table.
    #[error("at {path}: unknown primitive {}", super::quote::QuotedStr(.name))]
    UnknownPrimitive {
        /// JSON path of the node.
        path: String,
        /// The name.
        name: String,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("at {path}: nesting deeper than {MAX_DEPTH}")]
    TooDeep {
        /// JSON path where the limit was hit.
        path: String,
    },
}

impl Expr {
    /// The octez JSON form (`Data_encoding.Json` of `Script_repr.expr`): `{"int": "1"}`,
    /// `{"string": ".."}`, `{"bytes": "<hex>"}`, `{"prim": "Pair", "args": [..], "annots": [..]}`
    /// (empty `args`/`annots` omitted) and arrays for sequences.
    pub fn to_json(&self) -> Json {
        use alloc::string::ToString;
        match self {
            Expr::Int(z) => Json::object([("int", Json::String(z.to_string()))]),
            Expr::String(s) => Json::object([("string", Json::String(s.clone()))]),
            Expr::Bytes(b) => Json::object([("bytes", Json::String(hex::encode(b)))]),
            Expr::Seq(items) => Json::Array(items.iter().map(Expr::to_json).collect()),
            Expr::Prim { prim, args, annots } => {
                let mut m = json::Object::new();
                m.insert("prim".into(), Json::from(prim.name()));
                if !args.is_empty() {
                    m.insert(
                        "args".into(),
                        Json::Array(args.iter().map(Expr::to_json).collect()),
                    );
                }
                if !annots.is_empty() {
                    m.insert(
                        "annots".into(),
                        Json::Array(annots.iter().cloned().map(Json::String).collect()),
                    );
                }
                Json::Object(m)
            }
        }
    }

    /// Parses the octez JSON form (see [`Expr::to_json`]).
    #[cfg(feature = "json")]
    pub fn from_json(value: &serde_json::Value) -> Result<Expr, JsonError> {
        let mut path = String::from("$");
        expr_from_json(value, &mut path, 0)
    }
}

#[cfg(feature = "json")]
fn expr_from_json(
    value: &serde_json::Value,
    path: &mut String,
    depth: usize,
) -> Result<Expr, JsonError> {
    use serde_json::Value;
    if depth >= MAX_DEPTH {
        return Err(JsonError::TooDeep { path: path.clone() });
    }
    let invalid = |path: &String, reason| JsonError::Invalid {
        path: path.clone(),
        reason,
    };
    let list = |v: &Value, path: &mut String, field: &str| -> Result<Vec<Expr>, JsonError> {
        let Value::Array(items) = v else {
            return Err(invalid(path, "expected an array"));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let len = path.len();
            path.push_str(&alloc::format!("{field}[{i}]"));
            out.push(expr_from_json(item, path, depth + 1)?);
            path.truncate(len);
        }
        Ok(out)
    };
    match value {
        Value::Array(_) => Ok(Expr::Seq(list(value, path, "")?)),
        Value::Object(m) => {
            let only = |keys: &[&str]| m.keys().all(|k| keys.contains(&k.as_str()));
            if let Some(v) = m.get("int") {
                if !only(&["int"]) {
                    return Err(invalid(path, "unexpected field next to \"int\""));
                }
                let s = v
                    .as_str()
                    .ok_or(invalid(path, "\"int\" must be a decimal string"))?;
                let z = Zarith::from_decimal(s)
                    .map_err(|_| invalid(path, "\"int\" must be a decimal string"))?;
                Ok(Expr::Int(z))
            } else if let Some(v) = m.get("string") {
                if !only(&["string"]) {
                    return Err(invalid(path, "unexpected field next to \"string\""));
                }
                let s = v
                    .as_str()
                    .ok_or(invalid(path, "\"string\" must be a string"))?;
                Ok(Expr::String(s.into()))
            } else if let Some(v) = m.get("bytes") {
                if !only(&["bytes"]) {
                    return Err(invalid(path, "unexpected field next to \"bytes\""));
                }
                let b = v
                    .as_str()
                    .and_then(|s| hex::decode(s).ok())
                    .ok_or(invalid(path, "\"bytes\" must be a hex string"))?;
                Ok(Expr::Bytes(b))
            } else if let Some(v) = m.get("prim") {
                if !only(&["prim", "args", "annots"]) {
                    return Err(invalid(path, "unexpected field in a primitive application"));
                }
                let name = v
                    .as_str()
                    .ok_or(invalid(path, "\"prim\" must be a string"))?;
                let prim =
                    Primitive::from_name(name).ok_or_else(|| JsonError::UnknownPrimitive {
                        path: path.clone(),
                        name: name.into(),
                    })?;
                let args = match m.get("args") {
                    Some(a) => list(a, path, ".args")?,
                    None => Vec::new(),
                };
                let annots = match m.get("annots") {
                    None => Vec::new(),
                    Some(Value::Array(items)) => {
                        let mut out = Vec::with_capacity(items.len());
                        for item in items {
                            match item.as_str() {
                                Some(a) if is_valid_annotation(a) => out.push(String::from(a)),
                                _ => return Err(invalid(path, "malformed annotation")),
                            }
                        }
                        out
                    }
                    Some(_) => return Err(invalid(path, "\"annots\" must be an array")),
                };
                Ok(Expr::Prim { prim, args, annots })
            } else {
                Err(JsonError::NotANode { path: path.clone() })
            }
        }
        _ => Err(JsonError::NotANode { path: path.clone() }),
    }
}

/// Michelson notation, as `octez-client` prints data (single line).
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_expr(f, self, false)
    }
}

fn write_expr(f: &mut fmt::Formatter<'_>, e: &Expr, as_arg: bool) -> fmt::Result {
    match e {
        Expr::Int(z) => write!(f, "{z}"),
        Expr::String(s) => {
            f.write_str("\"")?;
            for c in s.chars() {
                match c {
                    '"' => f.write_str("\\\"")?,
                    '\\' => f.write_str("\\\\")?,
                    '\n' => f.write_str("\\n")?,
                    '\r' => f.write_str("\\r")?,
                    '\t' => f.write_str("\\t")?,
                    '\u{8}' => f.write_str("\\b")?,
                    c => write!(f, "{c}")?,
                }
            }
            f.write_str("\"")
        }
        Expr::Bytes(b) => {
            f.write_str("0x")?;
            for byte in b {
                write!(f, "{byte:02x}")?;
            }
            Ok(())
        }
        Expr::Seq(items) => {
            f.write_str("{")?;
            for (i, item) in items.iter().enumerate() {
                f.write_str(if i == 0 { " " } else { " ; " })?;
                write_expr(f, item, false)?;
            }
            f.write_str(if items.is_empty() { "}" } else { " }" })
        }
        Expr::Prim { prim, args, annots } => {
            let wrap = as_arg && !(args.is_empty() && annots.is_empty());
            if wrap {
                f.write_str("(")?;
            }
            f.write_str(prim.name())?;
            for a in annots {
                write!(f, " {a}")?;
            }
            for a in args {
                f.write_str(" ")?;
                write_expr(f, a, true)?;
            }
            if wrap {
                f.write_str(")")?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn table_is_complete_and_unique() {
        assert_eq!(NAMES.split(' ').count(), usize::from(Primitive::COUNT));
        assert_eq!(Primitive(0).name(), "parameter");
        assert_eq!(Primitive::from_name("Pair"), Some(Primitive::PAIR));
        assert_eq!(Primitive::from_name("Unit"), Some(Primitive::UNIT));
        assert_eq!(Primitive::from_name("Ticket").unwrap().index(), 157);
        assert_eq!(
            Primitive::from_name("GET_ADDRESS_INDEX").unwrap().index(),
            160
        );
        for i in 0..Primitive::COUNT {
            let p = Primitive::from_index(i).unwrap();
            assert_eq!(Primitive::from_name(p.name()), Some(p));
        }
        assert_eq!(Primitive::from_index(161), None);
    }

    #[test]
    fn known_encodings() {
        // `Unit`: 03 0b; `Pair 1 "a"`: 07 07 00 01 01 00000001 61.
        assert_eq!(Expr::prim(Primitive::UNIT, vec![]).encode(), vec![3, 11]);
        let pair = Expr::prim(
            Primitive::PAIR,
            vec![Expr::int(1), Expr::String("a".to_string())],
        );
        assert_eq!(pair.encode(), vec![7, 7, 0, 1, 1, 0, 0, 0, 1, b'a']);
        let triple = Expr::prim(
            Primitive::PAIR,
            vec![Expr::int(1), Expr::int(2), Expr::int(3)],
        );
        assert_eq!(
            triple.encode(),
            vec![9, 7, 0, 0, 0, 6, 0, 1, 0, 2, 0, 3, 0, 0, 0, 0]
        );
        let annotated = Expr::Prim {
            prim: Primitive::from_name("nat").unwrap(),
            args: vec![],
            annots: vec!["%a".to_string(), ":b".to_string()],
        };
        assert_eq!(
            annotated.encode(),
            vec![4, 98, 0, 0, 0, 5, b'%', b'a', b' ', b':', b'b']
        );
        for e in [pair, triple, annotated] {
            assert_eq!(Expr::decode(&e.encode()).unwrap(), e);
        }
    }

    #[test]
    fn decode_errors_locate_the_problem() {
        let err = Expr::decode(&[7, 7, 0, 1, 11]).unwrap_err();
        assert_eq!(err.offset, 4);
        assert_eq!(
            err.kind,
            DecodeErrorKind::InvalidTag {
                what: "Micheline node",
                tag: 11
            }
        );
        let err = Expr::decode(&[3, 200]).unwrap_err();
        assert_eq!(err.offset, 1);
        let err = Expr::decode(&[4, 11, 0, 0, 0, 2, b'%', b'-']).unwrap_err();
        assert_eq!(err.offset, 2);
        let err = Expr::decode(&[4, 11, 0, 0, 0, 2, b'x', b'y']).unwrap_err();
        assert!(matches!(err.kind, DecodeErrorKind::Invalid { .. }));
        let err = Expr::decode(&[3, 11, 0]).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::TrailingBytes { remaining: 1 });
    }

    #[test]
    fn depth_limit() {
        let mut deep = [5u8, 9].repeat(MAX_DEPTH + 1);
        deep.extend_from_slice(&[3, 11]);
        let err = Expr::decode(&deep).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::TooDeep { limit: MAX_DEPTH });
        let mut ok = [5u8, 9].repeat(2000);
        ok.extend_from_slice(&[3, 11]);
        assert_eq!(Expr::decode(&ok).unwrap().depth(), 2001);
    }

    #[test]
    fn json_form() {
        let e = Expr::prim(
            Primitive::PAIR,
            vec![
                Expr::Bytes(vec![0xab]),
                Expr::Seq(vec![Expr::int(-7), Expr::String("x".to_string())]),
                Expr::Prim {
                    prim: Primitive::UNIT,
                    args: vec![],
                    annots: vec!["%u".to_string()],
                },
            ],
        );
        let json = e.to_json();
        assert_eq!(
            json.to_string(),
            r#"{"args":[{"bytes":"ab"},[{"int":"-7"},{"string":"x"}],{"annots":["%u"],"prim":"Unit"}],"prim":"Pair"}"#
        );
        assert_eq!(Expr::from_json(&json.clone().into()).unwrap(), e);
        let bad: serde_json::Value =
            serde_json::from_str(r#"{"prim":"Pair","args":[{"int":"1"},{"int":"x"}]}"#).unwrap();
        assert_eq!(
            Expr::from_json(&bad).unwrap_err(),
            JsonError::Invalid {
                path: "$.args[1]".to_string(),
                reason: "\"int\" must be a decimal string"
            }
        );
        let bad: serde_json::Value = serde_json::from_str(r#"[1]"#).unwrap();
        assert_eq!(
            Expr::from_json(&bad).unwrap_err(),
            JsonError::NotANode {
                path: "$[0]".to_string()
            }
        );
    }

    #[test]
    fn display() {
        let e = Expr::prim(
            Primitive::PAIR,
            vec![
                Expr::prim(Primitive::SOME, vec![Expr::Bytes(vec![0xab])]),
                Expr::Seq(vec![Expr::int(-1), Expr::String("a\"b".to_string())]),
                Expr::prim(Primitive::UNIT, vec![]),
            ],
        );
        assert_eq!(e.to_string(), r#"Pair (Some 0xab) { -1 ; "a\"b" } Unit"#);
    }
}
