//! Michelson types of the subset, their properties, and entrypoints.

use std::collections::BTreeMap;
use std::fmt;

use soru_core::encoding::micheline::{Expr, Primitive};

use super::error::{check_arity, ill_typed, Error};

/// A Michelson type (annotations dropped: since protocol 013 they do not affect typing).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    /// `unit`.
    Unit,
    /// `bool`.
    Bool,
    /// `int`.
    Int,
    /// `nat`.
    Nat,
    /// `mutez`.
    Mutez,
    /// `string`.
    String,
    /// `bytes`.
    Bytes,
    /// `address`.
    Address,
    /// `key_hash`.
    KeyHash,
    /// `timestamp`.
    Timestamp,
    /// `chain_id`.
    ChainId,
    /// `never`.
    Never,
    /// `operation`.
    Operation,
    /// `pair a b`.
    Pair(Box<Type>, Box<Type>),
    /// `or a b`.
    Or(Box<Type>, Box<Type>),
    /// `option a`.
    Option(Box<Type>),
    /// `list a`.
    List(Box<Type>),
    /// `set a`.
    Set(Box<Type>),
    /// `map k v`.
    Map(Box<Type>, Box<Type>),
    /// `big_map k v`.
    BigMap(Box<Type>, Box<Type>),
    /// `contract a`.
    Contract(Box<Type>),
    /// `ticket a`.
    Ticket(Box<Type>),
}

/// Number of nodes of `e` (its size in canonical locations).
pub(crate) fn node_count(e: &Expr) -> usize {
    match e {
        Expr::Int(_) | Expr::String(_) | Expr::Bytes(_) => 1,
        Expr::Seq(items) | Expr::Prim { args: items, .. } => {
            1 + items.iter().map(node_count).sum::<usize>()
        }
    }
}

/// The canonical locations of the children of a node at `loc`.
pub(crate) fn child_locations(children: &[Expr], loc: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(children.len());
    let mut l = loc + 1;
    for c in children {
        out.push(l);
        l += node_count(c);
    }
    out
}

pub(crate) fn prim(name: &str) -> Primitive {
    Primitive::from_name(name).expect("a primitive of the Michelson table")
}

impl Type {
    /// `pair a b`.
    pub fn pair(a: Type, b: Type) -> Type {
        Type::Pair(Box::new(a), Box::new(b))
    }

    /// `or a b`.
    pub fn or(a: Type, b: Type) -> Type {
        Type::Or(Box::new(a), Box::new(b))
    }

    /// `option a`.
    pub fn option(a: Type) -> Type {
        Type::Option(Box::new(a))
    }

    /// `list a`.
    pub fn list(a: Type) -> Type {
        Type::List(Box::new(a))
    }

    /// `ticket a`.
    pub fn ticket(a: Type) -> Type {
        Type::Ticket(Box::new(a))
    }

    /// Parses a type expression (any type of the subset; where it may appear is checked by the
    /// callers). `loc` is the canonical location of `e`.
    pub fn parse(e: &Expr, loc: usize) -> Result<Type, Error> {
        parse_type(e, loc, 0)
    }

    /// Whether values of this type can be compared (`COMPARE`, map keys, ticket contents).
    pub fn is_comparable(&self) -> bool {
        use Type::*;
        match self {
            Unit | Bool | Int | Nat | Mutez | String | Bytes | Address | KeyHash | Timestamp
            | ChainId | Never => true,
            Pair(a, b) | Or(a, b) => a.is_comparable() && b.is_comparable(),
            Option(a) => a.is_comparable(),
            _ => false,
        }
    }

    /// Whether a value of this type contains tickets (values with tickets cannot be `DUP`ed).
    pub fn has_tickets(&self) -> bool {
        use Type::*;
        match self {
            Ticket(_) => true,
            Pair(a, b) | Or(a, b) | Map(a, b) | BigMap(a, b) => a.has_tickets() || b.has_tickets(),
            Option(a) | List(a) | Set(a) => a.has_tickets(),
            _ => false,
        }
    }

    fn contains(&self, f: &dyn Fn(&Type) -> bool) -> bool {
        use Type::*;
        if f(self) {
            return true;
        }
        match self {
            Pair(a, b) | Or(a, b) | Map(a, b) | BigMap(a, b) => a.contains(f) || b.contains(f),
            Option(a) | List(a) | Set(a) | Ticket(a) => a.contains(f),
            // The argument of `contract` describes another contract, not data held here.
            Contract(_) => false,
            _ => false,
        }
    }

    /// Whether it may be a contract's parameter (no `operation`).
    pub fn is_passable(&self) -> bool {
        !self.contains(&|t| matches!(t, Type::Operation))
    }

    /// Whether it may be a contract's storage (no `operation`, no `contract`).
    pub fn is_storable(&self) -> bool {
        !self.contains(&|t| matches!(t, Type::Operation | Type::Contract(_)))
    }

    /// Whether `PUSH` may build it (no `operation`, `big_map`, `contract`, `ticket`).
    pub fn is_pushable(&self) -> bool {
        !self.contains(&|t| {
            matches!(
                t,
                Type::Operation | Type::BigMap(..) | Type::Contract(_) | Type::Ticket(_)
            )
        })
    }

    /// Whether `PACK` accepts it (no `operation`, `big_map`, `ticket`).
    pub fn is_packable(&self) -> bool {
        !self.contains(&|t| matches!(t, Type::Operation | Type::BigMap(..) | Type::Ticket(_)))
    }

    fn has_big_map(&self) -> bool {
        self.contains(&|t| matches!(t, Type::BigMap(..)))
    }

    /// The Micheline form (no annotations).
    pub fn to_expr(&self) -> Expr {
        use Type::*;
        let p = |name: &str, args: Vec<Expr>| Expr::prim(prim(name), args);
        match self {
            Unit => p("unit", vec![]),
            Bool => p("bool", vec![]),
            Int => p("int", vec![]),
            Nat => p("nat", vec![]),
            Mutez => p("mutez", vec![]),
            String => p("string", vec![]),
            Bytes => p("bytes", vec![]),
            Address => p("address", vec![]),
            KeyHash => p("key_hash", vec![]),
            Timestamp => p("timestamp", vec![]),
            ChainId => p("chain_id", vec![]),
            Never => p("never", vec![]),
            Operation => p("operation", vec![]),
            Pair(a, b) => p("pair", vec![a.to_expr(), b.to_expr()]),
            Or(a, b) => p("or", vec![a.to_expr(), b.to_expr()]),
            Option(a) => p("option", vec![a.to_expr()]),
            List(a) => p("list", vec![a.to_expr()]),
            Set(a) => p("set", vec![a.to_expr()]),
            Map(a, b) => p("map", vec![a.to_expr(), b.to_expr()]),
            BigMap(a, b) => p("big_map", vec![a.to_expr(), b.to_expr()]),
            Contract(a) => p("contract", vec![a.to_expr()]),
            Ticket(a) => p("ticket", vec![a.to_expr()]),
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_expr())
    }
}

/// Types nest at most this deep (octez bounds type size too).
const MAX_TYPE_DEPTH: usize = 256;

fn parse_type(e: &Expr, loc: usize, depth: usize) -> Result<Type, Error> {
    let bad = |reason: String| ill_typed(loc, "type", "michelson_v1.ill_formed_type", reason);
    if depth > MAX_TYPE_DEPTH {
        return Err(bad(format!("type nested deeper than {MAX_TYPE_DEPTH}")));
    }
    let Expr::Prim { prim, args, annots } = e else {
        return Err(bad(format!("expected a type, found {e}")));
    };
    for a in annots {
        if !(a.starts_with('%') || a.starts_with(':')) {
            return Err(ill_typed(
                loc,
                "type",
                "michelson_v1.unexpected_annotation",
                format!("annotation {a} is not allowed on a type"),
            ));
        }
    }
    let name = prim.name();
    let locs = child_locations(args, loc);
    let arity = |n: usize| check_arity(loc, "type", name, args.len(), n);
    let sub = |i: usize| parse_type(&args[i], locs[i], depth + 1);
    let comparable = |i: usize, t: Type| -> Result<Type, Error> {
        if t.is_comparable() {
            Ok(t)
        } else {
            Err(ill_typed(
                locs[i],
                "type",
                "michelson_v1.comparable_type_expected",
                format!("{t} is not comparable"),
            ))
        }
    };
    let atom = |t: Type| -> Result<Type, Error> {
        arity(0)?;
        Ok(t)
    };
    match name {
        "unit" => atom(Type::Unit),
        "bool" => atom(Type::Bool),
        "int" => atom(Type::Int),
        "nat" => atom(Type::Nat),
        "mutez" => atom(Type::Mutez),
        "string" => atom(Type::String),
        "bytes" => atom(Type::Bytes),
        "address" => atom(Type::Address),
        "key_hash" => atom(Type::KeyHash),
        "timestamp" => atom(Type::Timestamp),
        "chain_id" => atom(Type::ChainId),
        "never" => atom(Type::Never),
        "operation" => atom(Type::Operation),
        "pair" => {
            // `pair a b c` is `pair a (pair b c)`.
            if args.len() < 2 {
                return Err(ill_typed(
                    loc,
                    "type",
                    "michelson_v1.invalid_arity",
                    "pair takes at least 2 arguments",
                ));
            }
            let mut t = sub(args.len() - 1)?;
            for i in (0..args.len() - 1).rev() {
                t = Type::pair(sub(i)?, t);
            }
            Ok(t)
        }
        "or" => {
            arity(2)?;
            Ok(Type::or(sub(0)?, sub(1)?))
        }
        "option" => {
            arity(1)?;
            Ok(Type::option(sub(0)?))
        }
        "list" => {
            arity(1)?;
            Ok(Type::list(sub(0)?))
        }
        "set" => {
            arity(1)?;
            Ok(Type::Set(Box::new(comparable(0, sub(0)?)?)))
        }
        "map" => {
            arity(2)?;
            Ok(Type::Map(
                Box::new(comparable(0, sub(0)?)?),
                Box::new(sub(1)?),
            ))
        }
        "big_map" => {
            arity(2)?;
            let v = sub(1)?;
            if v.has_big_map() || v.contains(&|t| matches!(t, Type::Operation | Type::Contract(_)))
            {
                return Err(ill_typed(
                    locs[1],
                    "type",
                    "michelson_v1.unexpected_lazy_storage",
                    format!("{v} cannot be a big_map value"),
                ));
            }
            if v.has_tickets() {
                return Err(Error::Unsupported {
                    location: locs[1],
                    prim: "big_map holding tickets".into(),
                });
            }
            Ok(Type::BigMap(Box::new(comparable(0, sub(0)?)?), Box::new(v)))
        }
        "contract" => {
            arity(1)?;
            let t = sub(0)?;
            if !t.is_passable() {
                return Err(ill_typed(
                    locs[0],
                    "type",
                    "michelson_v1.unexpected_operation",
                    "a contract parameter cannot hold operations",
                ));
            }
            Ok(Type::Contract(Box::new(t)))
        }
        "ticket" => {
            arity(1)?;
            Ok(Type::ticket(comparable(0, sub(0)?)?))
        }
        _ => Err(Error::Unsupported {
            location: loc,
            prim: name.into(),
        }),
    }
}

/// One entrypoint: the path of `Left`/`Right` wrappers from the root of the parameter type
/// (`false` = `Left`) and its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entrypoint {
    /// `Left` (`false`) / `Right` (`true`) wrappers, outermost first.
    pub path: Vec<bool>,
    /// The entrypoint's parameter type.
    pub ty: Type,
    /// Its type expression with the annotations as written (for the entrypoints RPC).
    pub expr: Expr,
}

/// A contract's parameter type and its `%entrypoints`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entrypoints {
    /// The whole parameter type.
    pub root: Type,
    /// The parameter type as written (with annotations).
    pub root_expr: Expr,
    /// Named entrypoints (annotated `or` branches, and `%root`), by name without `%`.
    pub named: BTreeMap<String, Entrypoint>,
}

/// octez's `Entrypoint_repr` limit.
const MAX_ENTRYPOINT_LENGTH: usize = 31;

impl Entrypoints {
    /// Reads the entrypoints of a parameter type expression at location `loc`.
    pub fn parse(e: &Expr, loc: usize) -> Result<Entrypoints, Error> {
        let root = Type::parse(e, loc)?;
        let mut named = BTreeMap::new();
        collect(e, &root, &mut Vec::new(), &mut named, loc)?;
        Ok(Entrypoints {
            root,
            root_expr: e.clone(),
            named,
        })
    }

    /// Entrypoints of an unannotated type (an implicit account's `unit`, a rollup's type).
    pub fn of_type(t: Type) -> Entrypoints {
        Entrypoints {
            root_expr: t.to_expr(),
            root: t,
            named: BTreeMap::new(),
        }
    }

    /// The entrypoint called by a transfer to `name` (`default` is the `%default` branch if
    /// there is one, else the whole parameter).
    pub fn get(&self, name: &str) -> Option<Entrypoint> {
        if let Some(ep) = self.named.get(name) {
            return Some(ep.clone());
        }
        (name == "default").then(|| Entrypoint {
            path: Vec::new(),
            ty: self.root.clone(),
            expr: self.root_expr.clone(),
        })
    }
}

fn field_annot(e: &Expr) -> Option<&str> {
    match e {
        Expr::Prim { annots, .. } => annots
            .iter()
            .find_map(|a| a.strip_prefix('%'))
            .filter(|a| !a.is_empty()),
        _ => None,
    }
}

fn collect(
    e: &Expr,
    t: &Type,
    path: &mut Vec<bool>,
    named: &mut BTreeMap<String, Entrypoint>,
    loc: usize,
) -> Result<(), Error> {
    if let Some(name) = field_annot(e) {
        if name.len() > MAX_ENTRYPOINT_LENGTH {
            return Err(ill_typed(
                loc,
                "type",
                "michelson_v1.ill_formed_type",
                format!("entrypoint name %{name} is longer than {MAX_ENTRYPOINT_LENGTH} bytes"),
            ));
        }
        if named.contains_key(name) {
            return Err(Error::DuplicateEntrypoint(name.into()));
        }
        named.insert(
            name.into(),
            Entrypoint {
                path: path.clone(),
                ty: t.clone(),
                expr: e.clone(),
            },
        );
    }
    if let (Expr::Prim { prim, args, .. }, Type::Or(l, r)) = (e, t) {
        if prim.name() == "or" && args.len() == 2 {
            let locs = child_locations(args, loc);
            path.push(false);
            collect(&args[0], l, path, named, locs[0])?;
            path.pop();
            path.push(true);
            collect(&args[1], r, path, named, locs[1])?;
            path.pop();
        }
    }
    Ok(())
}
