//! Michelson values: type-checking Micheline data into them and unparsing them back.

use std::collections::{BTreeMap, BTreeSet};

use num_bigint::{BigInt, Sign};
use num_traits::{Signed, ToPrimitive, Zero};
use soru_core::encoding::address::{Contract as ContractAddr, Destination, PublicKeyHash};
use soru_core::encoding::base58;
use soru_core::encoding::binary::{Reader, Zarith};
use soru_core::encoding::micheline::{Expr, Primitive};

use super::error::{check_arity, ill_typed, Error};
use super::gas::Gas;
use super::types::{child_locations, prim, Type};
use super::Chain;

/// An address value: a destination and an entrypoint (`"default"` when none is named).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    /// The account, contract or rollup.
    pub destination: Destination,
    /// The entrypoint name without `%` (`"default"` for none).
    pub entrypoint: String,
}

impl Address {
    /// The address of a destination's default entrypoint.
    pub fn new(destination: Destination) -> Address {
        Address {
            destination,
            entrypoint: "default".into(),
        }
    }

    /// `tz1..`, `KT1..%entrypoint`, ...
    pub fn to_b58check(&self) -> String {
        if self.entrypoint == "default" {
            self.destination.to_b58check()
        } else {
            format!("{}%{}", self.destination.to_b58check(), self.entrypoint)
        }
    }

    /// Binary form: the 22-byte destination, then the entrypoint's bytes (none for default).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.destination.encode();
        if self.entrypoint != "default" {
            out.extend_from_slice(self.entrypoint.as_bytes());
        }
        out
    }

    fn parse_str(s: &str) -> Option<Address> {
        let (d, ep) = match s.split_once('%') {
            Some((d, ep)) => (d, ep),
            None => (s, ""),
        };
        let destination = Destination::from_b58check(d).ok()?;
        address_with_entrypoint(destination, ep)
    }

    fn parse_bytes(b: &[u8]) -> Option<Address> {
        if b.len() < Destination::ENCODED_LEN {
            return None;
        }
        let destination = Destination::decode(&b[..Destination::ENCODED_LEN]).ok()?;
        let ep = std::str::from_utf8(&b[Destination::ENCODED_LEN..]).ok()?;
        address_with_entrypoint(destination, ep)
    }
}

fn address_with_entrypoint(destination: Destination, ep: &str) -> Option<Address> {
    let valid = ep.len() <= 31
        && ep != "default"
        && ep
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'%' | b'@'));
    valid.then(|| Address {
        destination,
        entrypoint: if ep.is_empty() { "default" } else { ep }.into(),
    })
}

/// A ticket: who minted it, what it carries, how many units.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticket {
    /// The contract that minted it (`TICKET` in that contract).
    pub ticketer: ContractAddr,
    /// The contents type.
    pub contents_ty: Type,
    /// The contents.
    pub contents: Box<Value>,
    /// Units (always > 0).
    pub amount: BigInt,
}

impl Ticket {
    /// The token it is a balance of (ticketer, contents type and contents).
    pub fn token(&self) -> TicketToken {
        TicketToken {
            ticketer: self.ticketer,
            contents_ty: self.contents_ty.clone(),
            contents: (*self.contents).clone(),
        }
    }
}

/// A ticket token: what ticket balances are counted in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TicketToken {
    /// The ticketer.
    pub ticketer: ContractAddr,
    /// The contents type.
    pub contents_ty: Type,
    /// The contents.
    pub contents: Value,
}

impl TicketToken {
    /// octez's JSON form of a ticket token in receipts
    /// (`{"ticketer", "content_type", "content"}`, Micheline in the readable form).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "ticketer": self.ticketer.to_b58check(),
            "content_type": serde_json::Value::from(self.contents_ty.to_expr().to_json()),
            "content": serde_json::Value::from(self.contents.to_expr(Mode::Readable).to_json()),
        })
    }
}

/// A big map: an id in the chain's lazy storage (if it has one yet) and the changes made to
/// it during this execution (`None` = removed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BigMap {
    /// Its id, `None` for a big map created by this execution.
    pub id: Option<BigInt>,
    /// Key type.
    pub key_ty: Type,
    /// Value type.
    pub value_ty: Type,
    /// Changes on top of the stored contents (all contents for a new big map).
    pub overlay: BTreeMap<Value, Option<Value>>,
}

/// An operation value (`TRANSFER_TOKENS` is the only operation of the subset).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Transfer {
    /// Destination and entrypoint.
    pub destination: Address,
    /// Tez sent, in mutez.
    pub amount: i64,
    /// Type of the parameter (the entrypoint's type).
    pub parameter_ty: Type,
    /// The parameter.
    pub parameter: Value,
}

impl Transfer {
    /// The parameter as octez puts it in the internal operation and in a rollup's inbox
    /// (`unparse_data Optimized`: addresses as bytes, tickets as
    /// `Pair ticketer (Pair contents amount)`).
    pub fn parameters_expr(&self) -> Expr {
        self.parameter.to_expr(Mode::Optimized)
    }

    /// Tickets carried by the parameter, by token.
    pub fn tickets(&self) -> BTreeMap<TicketToken, BigInt> {
        let mut out = BTreeMap::new();
        self.parameter.collect_tickets(&mut out);
        out
    }
}

/// A Michelson value of the subset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// `Unit`.
    Unit,
    /// `True` / `False`.
    Bool(bool),
    /// An `int`.
    Int(BigInt),
    /// A `nat` (never negative).
    Nat(BigInt),
    /// A `mutez` amount (never negative).
    Mutez(i64),
    /// A `string`.
    String(String),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// An `address`.
    Address(Address),
    /// A `key_hash`.
    KeyHash(PublicKeyHash),
    /// A `timestamp` (seconds since the epoch).
    Timestamp(BigInt),
    /// A `chain_id`.
    ChainId([u8; 4]),
    /// `Pair a b`.
    Pair(Box<Value>, Box<Value>),
    /// `Left a`.
    Left(Box<Value>),
    /// `Right b`.
    Right(Box<Value>),
    /// `Some a` / `None`.
    Option(Option<Box<Value>>),
    /// A `list`.
    List(Vec<Value>),
    /// A `set`.
    Set(BTreeSet<Value>),
    /// A `map`.
    Map(BTreeMap<Value, Value>),
    /// A `big_map`.
    BigMap(BigMap),
    /// A `contract` (its address and entrypoint; the type is static).
    Contract(Address),
    /// A `ticket`.
    Ticket(Ticket),
    /// An `operation`.
    Operation(Box<Transfer>),
}

/// How values are written back to Micheline (octez `unparsing_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// For people and RPCs: base58 addresses, RFC 3339 timestamps, flat `Pair a b c`.
    Readable,
    /// For transfers and `PACK`: binary addresses, integer timestamps, `{a; b; c; d}` combs.
    Optimized,
}

impl Value {
    /// `Pair a b`.
    pub fn pair(a: Value, b: Value) -> Value {
        Value::Pair(Box::new(a), Box::new(b))
    }

    /// A `nat` from a `u64`.
    pub fn nat(n: u64) -> Value {
        Value::Nat(BigInt::from(n))
    }

    /// A `Some`.
    pub fn some(v: Value) -> Value {
        Value::Option(Some(Box::new(v)))
    }

    /// Adds the tickets it holds to `out` (big map contents are not scanned: the subset
    /// forbids tickets in big maps).
    pub fn collect_tickets(&self, out: &mut BTreeMap<TicketToken, BigInt>) {
        match self {
            Value::Ticket(t) => {
                *out.entry(t.token()).or_insert_with(BigInt::zero) += &t.amount;
            }
            Value::Pair(a, b) => {
                a.collect_tickets(out);
                b.collect_tickets(out);
            }
            Value::Left(a) | Value::Right(a) | Value::Option(Some(a)) => a.collect_tickets(out),
            Value::List(items) => items.iter().for_each(|v| v.collect_tickets(out)),
            Value::Map(m) => m.values().for_each(|v| v.collect_tickets(out)),
            _ => {}
        }
    }

    /// Whether it is a value of type `ty` (for values handed over by the caller).
    pub fn has_type(&self, ty: &Type) -> bool {
        match (self, ty) {
            (Value::Unit, Type::Unit)
            | (Value::Bool(_), Type::Bool)
            | (Value::Int(_), Type::Int)
            | (Value::String(_), Type::String)
            | (Value::Bytes(_), Type::Bytes)
            | (Value::Address(_), Type::Address)
            | (Value::KeyHash(_), Type::KeyHash)
            | (Value::Timestamp(_), Type::Timestamp)
            | (Value::ChainId(_), Type::ChainId)
            | (Value::Contract(_), Type::Contract(_)) => true,
            (Value::Nat(n), Type::Nat) => !n.is_negative(),
            (Value::Mutez(m), Type::Mutez) => *m >= 0,
            (Value::Pair(a, b), Type::Pair(ta, tb)) => a.has_type(ta) && b.has_type(tb),
            (Value::Left(a), Type::Or(ta, _)) | (Value::Right(a), Type::Or(_, ta)) => {
                a.has_type(ta)
            }
            (Value::Option(o), Type::Option(t)) => o.as_ref().is_none_or(|v| v.has_type(t)),
            (Value::List(items), Type::List(t)) => items.iter().all(|v| v.has_type(t)),
            (Value::Set(items), Type::Set(t)) => items.iter().all(|v| v.has_type(t)),
            (Value::Map(m), Type::Map(tk, tv)) => {
                m.iter().all(|(k, v)| k.has_type(tk) && v.has_type(tv))
            }
            (Value::BigMap(b), Type::BigMap(tk, tv)) => {
                b.key_ty == **tk
                    && b.value_ty == **tv
                    && b.overlay
                        .iter()
                        .all(|(k, v)| k.has_type(tk) && v.as_ref().is_none_or(|v| v.has_type(tv)))
            }
            (Value::Ticket(t), Type::Ticket(c)) => {
                t.contents_ty == **c && t.contents.has_type(c) && t.amount.is_positive()
            }
            (Value::Operation(_), Type::Operation) => true,
            _ => false,
        }
    }

    /// An estimate of its size in bytes, for gas.
    pub fn size(&self) -> usize {
        match self {
            Value::Unit | Value::Bool(_) => 1,
            Value::Int(z) | Value::Nat(z) | Value::Timestamp(z) => z.bits() as usize / 8 + 1,
            Value::Mutez(_) => 8,
            Value::String(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::Address(_) | Value::Contract(_) | Value::KeyHash(_) => 22,
            Value::ChainId(_) => 4,
            Value::Pair(a, b) => a.size() + b.size() + 1,
            Value::Left(a) | Value::Right(a) | Value::Option(Some(a)) => a.size() + 1,
            Value::Option(None) => 1,
            Value::List(items) => items.iter().map(Value::size).sum::<usize>() + 1,
            Value::Set(items) => items.iter().map(Value::size).sum::<usize>() + 1,
            Value::Map(m) => m.iter().map(|(k, v)| k.size() + v.size()).sum::<usize>() + 1,
            Value::BigMap(_) => 8,
            Value::Ticket(t) => 22 + t.contents.size() + t.amount.bits() as usize / 8 + 1,
            Value::Operation(_) => 64,
        }
    }

    /// The Micheline form.
    ///
    /// An `operation` has no Micheline form (the type checker never lets one reach storage,
    /// a transfer, `PACK` or `FAILWITH`); it is written as its parameter for completeness. A
    /// big map without an id is written as its literal `{ Elt .. }` contents.
    pub fn to_expr(&self, mode: Mode) -> Expr {
        let p = |name: &str, args: Vec<Expr>| Expr::prim(prim(name), args);
        let optimized = mode == Mode::Optimized;
        match self {
            Value::Unit => Expr::prim(Primitive::UNIT, vec![]),
            Value::Bool(true) => Expr::prim(Primitive::TRUE, vec![]),
            Value::Bool(false) => Expr::prim(Primitive::FALSE, vec![]),
            Value::Int(z) | Value::Nat(z) => Expr::Int(to_zarith(z)),
            Value::Mutez(m) => Expr::Int(Zarith::from_i128(i128::from(*m))),
            Value::String(s) => Expr::String(s.clone()),
            Value::Bytes(b) => Expr::Bytes(b.clone()),
            Value::Address(a) | Value::Contract(a) => {
                if optimized {
                    Expr::Bytes(a.encode())
                } else {
                    Expr::String(a.to_b58check())
                }
            }
            Value::KeyHash(k) => {
                if optimized {
                    Expr::Bytes(k.encode())
                } else {
                    Expr::String(k.to_b58check())
                }
            }
            Value::Timestamp(t) => match (optimized, t.to_i64().and_then(format_rfc3339)) {
                (false, Some(s)) => Expr::String(s),
                _ => Expr::Int(to_zarith(t)),
            },
            Value::ChainId(c) => {
                if optimized {
                    Expr::Bytes(c.to_vec())
                } else {
                    Expr::String(base58::encode(&base58::CHAIN_ID, c))
                }
            }
            Value::Pair(..) => {
                let mut items = Vec::new();
                let mut v = self;
                while let Value::Pair(a, b) = v {
                    items.push(a.to_expr(mode));
                    v = b;
                }
                items.push(v.to_expr(mode));
                match (mode, items.len()) {
                    (Mode::Readable, _) | (Mode::Optimized, 2) => p("Pair", items),
                    (Mode::Optimized, 3) => {
                        let c = items.pop().expect("3 items");
                        let b = items.pop().expect("3 items");
                        items.push(p("Pair", vec![b, c]));
                        p("Pair", items)
                    }
                    (Mode::Optimized, _) => Expr::Seq(items),
                }
            }
            Value::Left(a) => p("Left", vec![a.to_expr(mode)]),
            Value::Right(a) => p("Right", vec![a.to_expr(mode)]),
            Value::Option(Some(a)) => p("Some", vec![a.to_expr(mode)]),
            Value::Option(None) => p("None", vec![]),
            Value::List(items) => Expr::Seq(items.iter().map(|v| v.to_expr(mode)).collect()),
            Value::Set(items) => Expr::Seq(items.iter().map(|v| v.to_expr(mode)).collect()),
            Value::Map(m) => Expr::Seq(
                m.iter()
                    .map(|(k, v)| p("Elt", vec![k.to_expr(mode), v.to_expr(mode)]))
                    .collect(),
            ),
            Value::BigMap(b) => match &b.id {
                Some(id) => Expr::Int(to_zarith(id)),
                None => Expr::Seq(
                    b.overlay
                        .iter()
                        .filter_map(|(k, v)| {
                            v.as_ref()
                                .map(|v| p("Elt", vec![k.to_expr(mode), v.to_expr(mode)]))
                        })
                        .collect(),
                ),
            },
            Value::Ticket(t) => {
                let ticketer = Value::Address(Address::new(t.ticketer.into()));
                Value::pair(
                    ticketer,
                    Value::pair((*t.contents).clone(), Value::Nat(t.amount.clone())),
                )
                .to_expr(mode)
            }
            Value::Operation(op) => op.parameter.to_expr(mode),
        }
    }
}

/// `Zarith` (the codec's integer) to `BigInt`.
pub fn from_zarith(z: &Zarith) -> BigInt {
    let sign = if z.is_negative() {
        Sign::Minus
    } else {
        Sign::Plus
    };
    BigInt::from_bytes_be(sign, z.magnitude())
}

/// `BigInt` to `Zarith`.
pub fn to_zarith(z: &BigInt) -> Zarith {
    let (sign, mag) = z.to_bytes_be();
    Zarith::from_sign_magnitude(sign == Sign::Minus, &mag)
}

/// Seconds since the epoch as RFC 3339 (`1970-01-01T00:00:00Z`), for years 0000..9999.
pub fn format_rfc3339(t: i64) -> Option<String> {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return None;
    }
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ))
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)` into seconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        c @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let o = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if *c == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset)
}

/// Data nests at most this deep when type-checked (bounds the recursion).
pub(crate) const MAX_DATA_DEPTH: usize = 512;

/// Settings for type-checking data.
pub(crate) struct DataCheck<'a> {
    /// For `contract` values and big map ids.
    pub chain: Option<&'a dyn Chain>,
    /// Accept ticket literals (`Ticket ..` or `Pair ticketer (Pair contents amount)`): only for
    /// parameters coming from a rollup's outbox, as octez does.
    pub allow_tickets: bool,
    /// Accept big map ids (storage and parameters read from the chain).
    pub allow_big_map_ids: bool,
    /// What the data is (`data`, `storage`, `parameter`), for errors.
    pub what: &'static str,
}

/// Gas per Micheline node type-checked as data, in milligas.
pub(crate) const GAS_PER_DATA_NODE: u64 = 100;

impl DataCheck<'_> {
    /// Type-checks `e` (at location `loc`) as a value of `ty`.
    pub(crate) fn check(
        &self,
        e: &Expr,
        ty: &Type,
        loc: usize,
        gas: &mut Gas,
    ) -> Result<Value, Error> {
        self.data(e, ty, loc, gas, 0)
    }

    fn data(
        &self,
        e: &Expr,
        ty: &Type,
        loc: usize,
        gas: &mut Gas,
        depth: usize,
    ) -> Result<Value, Error> {
        gas.charge(GAS_PER_DATA_NODE)?;
        let what = self.what;
        let bad = |reason: String| ill_typed(loc, what, "michelson_v1.invalid_constant", reason);
        let mismatch = || bad(format!("{e} is not a value of type {ty}"));
        if depth > MAX_DATA_DEPTH {
            return Err(bad(format!("data nested deeper than {MAX_DATA_DEPTH}")));
        }
        let rec =
            |e: &Expr, ty: &Type, loc: usize, gas: &mut Gas| self.data(e, ty, loc, gas, depth + 1);
        let (pname, args) = match e {
            Expr::Prim { prim, args, .. } => (Some(prim.name()), args.as_slice()),
            _ => (None, &[][..]),
        };
        let locs = child_locations(args, loc);
        let arity = |n: usize| check_arity(loc, what, pname.unwrap_or("?"), args.len(), n);
        Ok(match (ty, e) {
            (Type::Unit, _) if pname == Some("Unit") => {
                arity(0)?;
                Value::Unit
            }
            (Type::Bool, _) if matches!(pname, Some("True" | "False")) => {
                arity(0)?;
                Value::Bool(pname == Some("True"))
            }
            (Type::Int, Expr::Int(z)) => Value::Int(from_zarith(z)),
            (Type::Nat, Expr::Int(z)) => {
                if z.is_negative() {
                    return Err(bad(format!("{e} is negative, not a nat")));
                }
                Value::Nat(from_zarith(z))
            }
            (Type::Mutez, Expr::Int(z)) => match z.to_i128() {
                Some(m) if (0..=i128::from(i64::MAX)).contains(&m) => Value::Mutez(m as i64),
                _ => return Err(bad(format!("{e} is not a mutez amount"))),
            },
            (Type::Timestamp, Expr::Int(z)) => Value::Timestamp(from_zarith(z)),
            (Type::Timestamp, Expr::String(s)) => match parse_rfc3339(s) {
                Some(t) => Value::Timestamp(BigInt::from(t)),
                None => return Err(bad(format!("{s:?} is not an RFC 3339 timestamp"))),
            },
            (Type::String, Expr::String(s)) => {
                if let Some(c) = s
                    .chars()
                    .find(|&c| !(c == '\n' || (' '..='~').contains(&c)))
                {
                    return Err(bad(format!(
                        "strings hold printable ASCII and newlines only, found {c:?}"
                    )));
                }
                Value::String(s.clone())
            }
            (Type::Bytes, Expr::Bytes(b)) => Value::Bytes(b.clone()),
            (Type::Address, Expr::String(s)) => Value::Address(
                Address::parse_str(s)
                    .ok_or_else(|| bad(format!("{s:?} is not an address (tz.., KT1.., sr1..)")))?,
            ),
            (Type::Address, Expr::Bytes(b)) => Value::Address(
                Address::parse_bytes(b).ok_or_else(|| bad(format!("{e} is not an address")))?,
            ),
            (Type::KeyHash, Expr::String(s)) => Value::KeyHash(
                PublicKeyHash::from_b58check(s)
                    .map_err(|_| bad(format!("{s:?} is not a key hash")))?,
            ),
            (Type::KeyHash, Expr::Bytes(b)) => Value::KeyHash(
                PublicKeyHash::decode(b).map_err(|_| bad(format!("{e} is not a key hash")))?,
            ),
            (Type::ChainId, Expr::String(s)) => {
                let raw = base58::decode(&base58::CHAIN_ID, s)
                    .map_err(|_| bad(format!("{s:?} is not a chain id")))?;
                Value::ChainId(raw.try_into().map_err(|_| mismatch())?)
            }
            (Type::ChainId, Expr::Bytes(b)) => {
                Value::ChainId(b.as_slice().try_into().map_err(|_| mismatch())?)
            }
            (Type::Pair(ta, tb), _) => {
                // `Pair a b`, `Pair a b c ..` (a right comb) or `{ a ; b ; .. }`.
                let (items, item_locs): (&[Expr], Vec<usize>) = match e {
                    Expr::Prim { .. } if pname == Some("Pair") => (args, locs.clone()),
                    Expr::Seq(items) => (items.as_slice(), child_locations(items, loc)),
                    _ => return Err(mismatch()),
                };
                if items.len() < 2 {
                    return Err(bad(format!("a pair needs at least 2 components: {e}")));
                }
                let a = rec(&items[0], ta, item_locs[0], gas)?;
                let b = if items.len() == 2 {
                    rec(&items[1], tb, item_locs[1], gas)?
                } else {
                    // The rest is itself a comb; it starts at the second item's location but
                    // has no node of its own, so errors inside point at its items.
                    let rest = Expr::prim(prim("Pair"), items[1..].to_vec());
                    self.data(&rest, tb, item_locs[1] - 1, gas, depth + 1)?
                };
                Value::pair(a, b)
            }
            (Type::Or(ta, _), _) if pname == Some("Left") => {
                arity(1)?;
                Value::Left(Box::new(rec(&args[0], ta, locs[0], gas)?))
            }
            (Type::Or(_, tb), _) if pname == Some("Right") => {
                arity(1)?;
                Value::Right(Box::new(rec(&args[0], tb, locs[0], gas)?))
            }
            (Type::Option(t), _) if pname == Some("Some") => {
                arity(1)?;
                Value::some(rec(&args[0], t, locs[0], gas)?)
            }
            (Type::Option(_), _) if pname == Some("None") => {
                arity(0)?;
                Value::Option(None)
            }
            (Type::List(t), Expr::Seq(items)) => {
                let ls = child_locations(items, loc);
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(rec(item, t, ls[i], gas)?);
                }
                Value::List(out)
            }
            (Type::Set(t), Expr::Seq(items)) => {
                let ls = child_locations(items, loc);
                let mut out = BTreeSet::new();
                let mut last: Option<Value> = None;
                for (i, item) in items.iter().enumerate() {
                    let v = rec(item, t, ls[i], gas)?;
                    if last.as_ref().is_some_and(|l| *l >= v) {
                        return Err(ill_typed(
                            ls[i],
                            what,
                            "michelson_v1.unordered_set_literal",
                            "set elements must be in strictly increasing order",
                        ));
                    }
                    last = Some(v.clone());
                    out.insert(v);
                }
                Value::Set(out)
            }
            (Type::Map(tk, tv), Expr::Seq(items)) => {
                Value::Map(self.elts(items, tk, tv, loc, gas, depth)?)
            }
            (Type::BigMap(tk, tv), Expr::Seq(items)) => Value::BigMap(BigMap {
                id: None,
                key_ty: (**tk).clone(),
                value_ty: (**tv).clone(),
                overlay: self
                    .elts(items, tk, tv, loc, gas, depth)?
                    .into_iter()
                    .map(|(k, v)| (k, Some(v)))
                    .collect(),
            }),
            (Type::BigMap(tk, tv), Expr::Int(z)) => {
                let id = from_zarith(z);
                let known = match (self.allow_big_map_ids, self.chain) {
                    (true, Some(chain)) => chain.big_map_types(&id),
                    _ => None,
                };
                match known {
                    Some((k, v)) if k == **tk && v == **tv => Value::BigMap(BigMap {
                        id: Some(id),
                        key_ty: k,
                        value_ty: v,
                        overlay: BTreeMap::new(),
                    }),
                    Some((k, v)) => {
                        return Err(bad(format!(
                            "big map {id} has type big_map {k} {v}, expected {ty}"
                        )))
                    }
                    None => return Err(bad(format!("no big map with id {id}"))),
                }
            }
            (Type::Contract(t), Expr::String(_) | Expr::Bytes(_)) => {
                let addr = match e {
                    Expr::String(s) => Address::parse_str(s),
                    Expr::Bytes(b) => Address::parse_bytes(b),
                    _ => None,
                }
                .ok_or_else(|| bad(format!("{e} is not an address")))?;
                let chain = self.chain.ok_or_else(|| {
                    bad("contract values need the chain to look the contract up".into())
                })?;
                match super::interp::typed_contract(chain, &addr, "default", t) {
                    Some(a) => Value::Contract(a),
                    None => {
                        return Err(ill_typed(
                            loc,
                            what,
                            "michelson_v1.invalid_contract",
                            format!("{} is not a contract of type {t}", addr.to_b58check()),
                        ))
                    }
                }
            }
            (Type::Ticket(t), _)
                if self.allow_tickets && matches!(pname, Some("Ticket" | "Pair")) =>
            {
                let (ticketer, contents, amount) = if pname == Some("Ticket") {
                    arity(4)?;
                    let cty = Type::parse(&args[1], locs[1])?;
                    if cty != **t {
                        return Err(ill_typed(
                            locs[1],
                            what,
                            "michelson_v1.inconsistent_types",
                            format!("ticket contents type {cty}, expected {t}"),
                        ));
                    }
                    (
                        rec(&args[0], &Type::Address, locs[0], gas)?,
                        rec(&args[2], t, locs[2], gas)?,
                        rec(&args[3], &Type::Nat, locs[3], gas)?,
                    )
                } else {
                    let opened = Type::pair(Type::Address, Type::pair((**t).clone(), Type::Nat));
                    let Value::Pair(a, rest) = rec(e, &opened, loc, gas)? else {
                        unreachable!("a pair type gives a pair")
                    };
                    let Value::Pair(c, n) = *rest else {
                        unreachable!("a pair type gives a pair")
                    };
                    (*a, *c, *n)
                };
                let (Value::Address(ticketer), Value::Nat(amount)) = (ticketer, amount) else {
                    unreachable!("checked as address and nat")
                };
                if amount.is_zero() {
                    return Err(ill_typed(
                        loc,
                        what,
                        "michelson_v1.forbidden_zero_amount_ticket",
                        "a ticket cannot have amount 0",
                    ));
                }
                let ticketer = match ticketer.destination {
                    Destination::Implicit(pkh) => ContractAddr::Implicit(pkh),
                    Destination::Originated(kt1) => ContractAddr::Originated(kt1),
                    Destination::SmartRollup(_) => {
                        return Err(ill_typed(
                            loc,
                            what,
                            "michelson_v1.unexpected_ticket_owner",
                            "a rollup cannot be a ticketer",
                        ))
                    }
                };
                Value::Ticket(Ticket {
                    ticketer,
                    contents_ty: (**t).clone(),
                    contents: Box::new(contents),
                    amount,
                })
            }
            (Type::Ticket(_), _) => {
                return Err(ill_typed(
                    loc,
                    what,
                    "michelson_v1.unexpected_forged_value",
                    "tickets cannot be written as data (only minted with TICKET)",
                ))
            }
            (Type::Operation, _) => {
                return Err(ill_typed(
                    loc,
                    what,
                    "michelson_v1.unexpected_operation",
                    "operations cannot be written as data",
                ))
            }
            (Type::Never, _) => {
                return Err(ill_typed(
                    loc,
                    what,
                    "michelson_v1.invalid_never_expr",
                    "type never has no values",
                ))
            }
            _ => return Err(mismatch()),
        })
    }

    fn elts(
        &self,
        items: &[Expr],
        tk: &Type,
        tv: &Type,
        loc: usize,
        gas: &mut Gas,
        depth: usize,
    ) -> Result<BTreeMap<Value, Value>, Error> {
        let ls = child_locations(items, loc);
        let mut out = BTreeMap::new();
        let mut last: Option<Value> = None;
        for (i, item) in items.iter().enumerate() {
            let Expr::Prim { prim: p, args, .. } = item else {
                return Err(ill_typed(
                    ls[i],
                    self.what,
                    "michelson_v1.invalid_constant",
                    format!("expected Elt key value, found {item}"),
                ));
            };
            if p.name() != "Elt" || args.len() != 2 {
                return Err(ill_typed(
                    ls[i],
                    self.what,
                    "michelson_v1.invalid_constant",
                    format!("expected Elt key value, found {item}"),
                ));
            }
            gas.charge(GAS_PER_DATA_NODE)?;
            let al = child_locations(args, ls[i]);
            let k = self.data(&args[0], tk, al[0], gas, depth + 1)?;
            let v = self.data(&args[1], tv, al[1], gas, depth + 1)?;
            if last.as_ref().is_some_and(|l| *l >= k) {
                return Err(ill_typed(
                    ls[i],
                    self.what,
                    "michelson_v1.unordered_map_literal",
                    "map keys must be in strictly increasing order",
                ));
            }
            last = Some(k.clone());
            out.insert(k, v);
        }
        Ok(out)
    }
}

/// Reads PACKed bytes back (`UNPACK`): `0x05` then a Micheline expression of type `ty`.
pub(crate) fn unpack(bytes: &[u8], ty: &Type, gas: &mut Gas) -> Result<Option<Value>, Error> {
    let Some((&5, rest)) = bytes.split_first() else {
        return Ok(None);
    };
    let mut r = Reader::new(rest);
    let Ok(e) = Expr::read(&mut r) else {
        return Ok(None);
    };
    if r.finish().is_err() {
        return Ok(None);
    }
    let check = DataCheck {
        chain: None,
        allow_tickets: false,
        allow_big_map_ids: false,
        what: "data",
    };
    match check.check(&e, ty, 0, gas) {
        Ok(v) => Ok(Some(v)),
        Err(Error::GasExhausted { limit_milligas }) => Err(Error::GasExhausted { limit_milligas }),
        Err(_) => Ok(None),
    }
}
