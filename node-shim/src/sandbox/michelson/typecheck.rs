//! The type checker: Micheline code to typed instructions, or an error naming the instruction
//! and its location.

use soru_core::encoding::micheline::Expr;

use super::error::{check_arity, ill_typed, Error};
use super::gas::{Gas, PER_CODE_NODE};
use super::types::{child_locations, Entrypoints, Type};
use super::value::{DataCheck, Value};

/// Code nests at most this deep (bounds the checker's and the interpreter's recursion).
pub(crate) const MAX_CODE_DEPTH: usize = 256;

/// A checked instruction with its location.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Instr {
    pub loc: usize,
    pub op: Op,
}

/// The instructions of the subset. Arithmetic and container instructions dispatch on the
/// values at run time (values carry their kind); the type checker has made them valid.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    Seq(Vec<Instr>),
    Drop(usize),
    Dup(usize),
    Swap,
    Dig(usize),
    Dug(usize),
    Push(Value),
    Unit,
    Nil,
    EmptySet,
    EmptyMap,
    EmptyBigMap(Type, Type),
    None,
    Some,
    Left,
    Right,
    Cons,
    Pair(usize),
    Unpair(usize),
    Car,
    Cdr,
    GetN(usize),
    UpdateN(usize),
    If(Box<Instr>, Box<Instr>),
    IfNone(Box<Instr>, Box<Instr>),
    IfLeft(Box<Instr>, Box<Instr>),
    IfCons(Box<Instr>, Box<Instr>),
    Loop(Box<Instr>),
    LoopLeft(Box<Instr>),
    Iter(Box<Instr>),
    Map(Box<Instr>),
    Dip(usize, Box<Instr>),
    FailWith,
    Never,
    Compare,
    Eq,
    Neq,
    Lt,
    Gt,
    Le,
    Ge,
    Add,
    Sub,
    SubMutez,
    Mul,
    Ediv,
    Abs,
    Neg,
    Int,
    IsNat,
    Not,
    And,
    Or,
    Xor,
    Lsl,
    Lsr,
    Size,
    Concat,
    /// `true` for a list of bytes.
    ConcatList(bool),
    Slice,
    Mem,
    Get,
    Update,
    GetAndUpdate,
    Pack,
    Unpack(Type),
    Blake2b,
    Sha256,
    Sha512,
    Sender,
    Source,
    SelfAddress,
    SelfContract(String),
    Amount,
    Balance,
    Now,
    Level,
    ChainId,
    Contract(Type, String),
    Address,
    ImplicitAccount,
    IsImplicitAccount,
    TransferTokens(Type),
    Ticket(Type),
    ReadTicket,
    SplitTicket,
    JoinTickets,
}

/// A stack type (top last), or `Failed` after `FAILWITH`/`NEVER` (any type follows).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stack {
    Live(Vec<Type>),
    Failed,
}

pub(crate) struct Checker<'a> {
    pub self_entrypoints: &'a Entrypoints,
    pub gas: &'a mut Gas,
}

fn bad_stack(loc: usize, name: &str, reason: impl Into<String>) -> Error {
    ill_typed(
        loc,
        "script",
        "michelson_v1.bad_stack",
        format!("{name}: {}", reason.into()),
    )
}

fn show(st: &[Type]) -> String {
    let items: Vec<String> = st.iter().rev().map(|t| t.to_string()).collect();
    format!("[ {} ]", items.join(" : "))
}

impl Checker<'_> {
    /// Checks `code` (at `loc`) on the input stack `input`.
    pub(crate) fn check(
        &mut self,
        code: &Expr,
        loc: usize,
        input: Vec<Type>,
    ) -> Result<(Instr, Stack), Error> {
        self.instr(code, loc, input, 0)
    }

    fn body(
        &mut self,
        e: &Expr,
        loc: usize,
        name: &str,
        st: Vec<Type>,
        depth: usize,
    ) -> Result<(Instr, Stack), Error> {
        if !matches!(e, Expr::Seq(_)) {
            return Err(ill_typed(
                loc,
                "script",
                "michelson_v1.invalid_expression_kind",
                format!("the body of {name} must be a sequence {{ .. }}"),
            ));
        }
        self.instr(e, loc, st, depth + 1)
    }

    fn instr(
        &mut self,
        e: &Expr,
        loc: usize,
        mut st: Vec<Type>,
        depth: usize,
    ) -> Result<(Instr, Stack), Error> {
        self.gas.charge(PER_CODE_NODE)?;
        if depth > MAX_CODE_DEPTH {
            return Err(ill_typed(
                loc,
                "script",
                "michelson_v1.typechecking_too_many_recursive_calls",
                format!("code nested deeper than {MAX_CODE_DEPTH}"),
            ));
        }
        let (name, args, annots) = match e {
            Expr::Seq(items) => {
                let locs = child_locations(items, loc);
                let mut out = Vec::with_capacity(items.len());
                let mut stack = Stack::Live(st);
                for (i, item) in items.iter().enumerate() {
                    let Stack::Live(s) = stack else {
                        return Err(ill_typed(
                            locs[i],
                            "script",
                            "michelson_v1.fail_not_in_tail_position",
                            "FAILWITH must be the last instruction of its sequence",
                        ));
                    };
                    let (ins, next) = self.instr(item, locs[i], s, depth + 1)?;
                    out.push(ins);
                    stack = next;
                }
                return Ok((
                    Instr {
                        loc,
                        op: Op::Seq(out),
                    },
                    stack,
                ));
            }
            Expr::Prim { prim, args, annots } => (prim.name(), args.as_slice(), annots),
            _ => {
                return Err(ill_typed(
                    loc,
                    "script",
                    "michelson_v1.invalid_expression_kind",
                    format!("expected an instruction, found {e}"),
                ))
            }
        };
        let locs = child_locations(args, loc);
        let arity = |n: usize| check_arity(loc, "script", name, args.len(), n);
        let count_arg = |i: usize, min: usize| -> Result<usize, Error> {
            match &args[i] {
                Expr::Int(z) => match z.to_u64() {
                    Some(n) if n as usize >= min && n <= 1023 => Ok(n as usize),
                    _ => Err(ill_typed(
                        locs[i],
                        "script",
                        "michelson_v1.invalid_constant",
                        format!("{name} takes a number in {min}..1023, found {z}"),
                    )),
                },
                other => Err(ill_typed(
                    locs[i],
                    "script",
                    "michelson_v1.invalid_expression_kind",
                    format!("{name} takes a number, found {other}"),
                )),
            }
        };
        let entrypoint_annot = || -> Result<String, Error> {
            let mut found = None;
            for a in annots {
                if let Some(ep) = a.strip_prefix('%') {
                    if found.is_some() {
                        return Err(ill_typed(
                            loc,
                            "script",
                            "michelson_v1.unexpected_annotation",
                            format!("{name} takes at most one %entrypoint annotation"),
                        ));
                    }
                    found = Some(ep.to_string());
                }
            }
            match found.as_deref() {
                None | Some("") => Ok("default".into()),
                Some(ep) => Ok(ep.into()),
            }
        };
        let ty_arg = |i: usize| Type::parse(&args[i], locs[i]);
        let need = |st: &[Type], n: usize| -> Result<(), Error> {
            if st.len() < n {
                Err(bad_stack(
                    loc,
                    name,
                    format!("needs {n} element(s), the stack is {}", show(st)),
                ))
            } else {
                Ok(())
            }
        };
        macro_rules! pop {
            () => {
                match st.pop() {
                    Some(t) => t,
                    None => {
                        return Err(bad_stack(loc, name, "the stack is too short"));
                    }
                }
            };
        }
        macro_rules! wrong {
            ($($t:expr),*) => {{
                let types: Vec<String> = vec![$($t.to_string()),*];
                return Err(ill_typed(
                    loc,
                    "script",
                    "michelson_v1.bad_stack",
                    format!("{name} does not apply to {}", types.join(" : ")),
                ));
            }};
        }
        let live = |op: Op, st: Vec<Type>| Ok((Instr { loc, op }, Stack::Live(st)));
        // An instruction taking one value of a fixed type and pushing one of a fixed type.
        macro_rules! unary {
            ($input:expr, $output:expr, $op:expr) => {{
                arity(0)?;
                let t = pop!();
                if t != $input {
                    wrong!(t);
                }
                st.push($output);
                live($op, st)
            }};
        }

        match name {
            "DROP" | "DUP" => {
                let n = match args.len() {
                    0 => 1,
                    1 => count_arg(0, usize::from(name == "DUP"))?,
                    _ => return Err(arity(1).unwrap_err()),
                };
                need(&st, n)?;
                if name == "DROP" {
                    st.truncate(st.len() - n);
                    live(Op::Drop(n), st)
                } else {
                    let t = st[st.len() - n].clone();
                    if t.has_tickets() {
                        return Err(ill_typed(
                            loc,
                            "script",
                            "michelson_v1.non_dupable_type",
                            format!("DUP: {t} holds tickets and cannot be duplicated"),
                        ));
                    }
                    st.push(t);
                    live(Op::Dup(n), st)
                }
            }
            "SWAP" => {
                arity(0)?;
                let a = pop!();
                let b = pop!();
                st.push(a);
                st.push(b);
                live(Op::Swap, st)
            }
            "DIG" | "DUG" => {
                arity(1)?;
                let n = count_arg(0, 0)?;
                need(&st, n + 1)?;
                let len = st.len();
                if name == "DIG" {
                    let t = st.remove(len - 1 - n);
                    st.push(t);
                    live(Op::Dig(n), st)
                } else {
                    let t = pop!();
                    st.insert(len - 1 - n, t);
                    live(Op::Dug(n), st)
                }
            }
            "PUSH" => {
                arity(2)?;
                let t = ty_arg(0)?;
                if !t.is_pushable() {
                    return Err(ill_typed(
                        locs[0],
                        "script",
                        "michelson_v1.unexpected_lazy_storage",
                        format!("PUSH cannot build a value of type {t}"),
                    ));
                }
                let check = DataCheck {
                    chain: None,
                    allow_tickets: false,
                    allow_big_map_ids: false,
                    what: "data",
                };
                let v = check.check(&args[1], &t, locs[1], self.gas)?;
                st.push(t);
                live(Op::Push(v), st)
            }
            "UNIT" => {
                arity(0)?;
                st.push(Type::Unit);
                live(Op::Unit, st)
            }
            "NIL" => {
                arity(1)?;
                st.push(Type::list(ty_arg(0)?));
                live(Op::Nil, st)
            }
            "NONE" => {
                arity(1)?;
                st.push(Type::option(ty_arg(0)?));
                live(Op::None, st)
            }
            "EMPTY_SET" => {
                arity(1)?;
                let t = Type::parse(&Expr::prim(super::types::prim("set"), args.to_vec()), loc)?;
                st.push(t);
                live(Op::EmptySet, st)
            }
            "EMPTY_MAP" | "EMPTY_BIG_MAP" => {
                arity(2)?;
                let tname = if name == "EMPTY_MAP" {
                    "map"
                } else {
                    "big_map"
                };
                let t = Type::parse(&Expr::prim(super::types::prim(tname), args.to_vec()), loc)?;
                let op = match &t {
                    Type::BigMap(k, v) => Op::EmptyBigMap((**k).clone(), (**v).clone()),
                    _ => Op::EmptyMap,
                };
                st.push(t);
                live(op, st)
            }
            "SOME" => {
                arity(0)?;
                let t = pop!();
                st.push(Type::option(t));
                live(Op::Some, st)
            }
            "LEFT" | "RIGHT" => {
                arity(1)?;
                let other = ty_arg(0)?;
                let t = pop!();
                if name == "LEFT" {
                    st.push(Type::or(t, other));
                    live(Op::Left, st)
                } else {
                    st.push(Type::or(other, t));
                    live(Op::Right, st)
                }
            }
            "CONS" => {
                arity(0)?;
                let a = pop!();
                let l = pop!();
                match &l {
                    Type::List(t) if **t == a => {}
                    _ => wrong!(a, l),
                }
                st.push(l);
                live(Op::Cons, st)
            }
            "PAIR" => {
                let n = match args.len() {
                    0 => 2,
                    _ => {
                        arity(1)?;
                        count_arg(0, 2)?
                    }
                };
                need(&st, n)?;
                let mut t = pop!();
                let mut items = vec![];
                for _ in 1..n {
                    items.push(pop!());
                }
                // items: second..nth (top-down); t: first.
                items.insert(0, t);
                t = items.pop().expect("n >= 2");
                while let Some(a) = items.pop() {
                    t = Type::pair(a, t);
                }
                st.push(t);
                live(Op::Pair(n), st)
            }
            "UNPAIR" => {
                let n = match args.len() {
                    0 => 2,
                    _ => {
                        arity(1)?;
                        count_arg(0, 2)?
                    }
                };
                let mut t = pop!();
                let mut items = vec![];
                for _ in 1..n {
                    match t {
                        Type::Pair(a, b) => {
                            items.push(*a);
                            t = *b;
                        }
                        other => wrong!(other),
                    }
                }
                items.push(t);
                while let Some(x) = items.pop() {
                    st.push(x);
                }
                live(Op::Unpair(n), st)
            }
            "CAR" | "CDR" => {
                arity(0)?;
                let t = pop!();
                let Type::Pair(a, b) = t else { wrong!(t) };
                if name == "CAR" {
                    st.push(*a);
                    live(Op::Car, st)
                } else {
                    st.push(*b);
                    live(Op::Cdr, st)
                }
            }
            "GET" if args.len() == 1 => {
                let n = count_arg(0, 0)?;
                let t = pop!();
                st.push(comb_get(&t, n).ok_or_else(|| {
                    bad_stack(loc, name, format!("GET {n} does not apply to {t}"))
                })?);
                live(Op::GetN(n), st)
            }
            "UPDATE" if args.len() == 1 => {
                let n = count_arg(0, 0)?;
                let v = pop!();
                let t = pop!();
                let new = comb_update(&t, n, &v).ok_or_else(|| {
                    bad_stack(loc, name, format!("UPDATE {n} does not apply to {v} : {t}"))
                })?;
                st.push(new);
                live(Op::UpdateN(n), st)
            }
            "IF" | "IF_NONE" | "IF_LEFT" | "IF_CONS" => {
                arity(2)?;
                let t = pop!();
                let (st_t, st_f, op): (Vec<Type>, Vec<Type>, fn(_, _) -> Op) = match (name, t) {
                    ("IF", Type::Bool) => (st.clone(), st, Op::If),
                    ("IF_NONE", Type::Option(a)) => {
                        let mut f = st.clone();
                        f.push(*a);
                        (st, f, Op::IfNone)
                    }
                    ("IF_LEFT", Type::Or(a, b)) => {
                        let mut l = st.clone();
                        l.push(*a);
                        let mut r = st;
                        r.push(*b);
                        (l, r, Op::IfLeft)
                    }
                    ("IF_CONS", Type::List(a)) => {
                        let mut c = st.clone();
                        c.push(Type::List(a.clone()));
                        c.push(*a);
                        (c, st, Op::IfCons)
                    }
                    (_, t) => wrong!(t),
                };
                let (bt, rt) = self.body(&args[0], locs[0], name, st_t, depth)?;
                let (bf, rf) = self.body(&args[1], locs[1], name, st_f, depth)?;
                let out = merge(loc, name, rt, rf)?;
                Ok((
                    Instr {
                        loc,
                        op: op(Box::new(bt), Box::new(bf)),
                    },
                    out,
                ))
            }
            "LOOP" => {
                arity(1)?;
                let t = pop!();
                if t != Type::Bool {
                    wrong!(t);
                }
                let (body, out) = self.body(&args[0], locs[0], name, st.clone(), depth)?;
                let mut expected = st.clone();
                expected.push(Type::Bool);
                check_body_out(loc, name, out, &expected)?;
                live(Op::Loop(Box::new(body)), st)
            }
            "LOOP_LEFT" => {
                arity(1)?;
                let t = pop!();
                let Type::Or(a, b) = t.clone() else { wrong!(t) };
                let mut input = st.clone();
                input.push(*a);
                let (body, out) = self.body(&args[0], locs[0], name, input, depth)?;
                let mut expected = st.clone();
                expected.push(t);
                check_body_out(loc, name, out, &expected)?;
                st.push(*b);
                live(Op::LoopLeft(Box::new(body)), st)
            }
            "ITER" => {
                arity(1)?;
                let t = pop!();
                let elt = match t {
                    Type::List(a) | Type::Set(a) => *a,
                    Type::Map(k, v) => Type::Pair(k, v),
                    t => wrong!(t),
                };
                let mut input = st.clone();
                input.push(elt);
                let (body, out) = self.body(&args[0], locs[0], name, input, depth)?;
                check_body_out(loc, name, out, &st)?;
                live(Op::Iter(Box::new(body)), st)
            }
            "MAP" => {
                arity(1)?;
                let t = pop!();
                let (elt, key) = match &t {
                    Type::List(a) => ((**a).clone(), None),
                    Type::Map(k, v) => (Type::Pair(k.clone(), v.clone()), Some((**k).clone())),
                    t => wrong!(t),
                };
                let mut input = st.clone();
                input.push(elt);
                let (body, out) = self.body(&args[0], locs[0], name, input, depth)?;
                let Stack::Live(mut out) = out else {
                    return Err(ill_typed(
                        loc,
                        "script",
                        "michelson_v1.invalid_map_block_fail",
                        "the body of MAP cannot always fail",
                    ));
                };
                let Some(r) = out.pop() else {
                    return Err(bad_stack(loc, name, "the body must leave a result on top"));
                };
                if out != st {
                    return Err(ill_typed(
                        loc,
                        "script",
                        "michelson_v1.invalid_map_body",
                        format!(
                            "the body of MAP must keep the rest of the stack {}",
                            show(&st)
                        ),
                    ));
                }
                st.push(match key {
                    None => Type::list(r),
                    Some(k) => Type::Map(Box::new(k), Box::new(r)),
                });
                live(Op::Map(Box::new(body)), st)
            }
            "DIP" => {
                let (n, bi) = match args.len() {
                    1 => (1, 0),
                    2 => (count_arg(0, 0)?, 1),
                    _ => return Err(arity(1).unwrap_err()),
                };
                need(&st, n)?;
                let top = st.split_off(st.len() - n);
                let (body, out) = self.body(&args[bi], locs[bi], name, st, depth)?;
                let Stack::Live(mut out) = out else {
                    return Err(ill_typed(
                        loc,
                        "script",
                        "michelson_v1.fail_not_in_tail_position",
                        "the body of DIP cannot always fail",
                    ));
                };
                out.extend(top);
                live(Op::Dip(n, Box::new(body)), out)
            }
            "FAILWITH" => {
                arity(0)?;
                let t = pop!();
                if !t.is_packable() || t.contains_contract() {
                    return Err(ill_typed(
                        loc,
                        "script",
                        "michelson_v1.unpackable_type",
                        format!("FAILWITH cannot fail with a value of type {t}"),
                    ));
                }
                Ok((
                    Instr {
                        loc,
                        op: Op::FailWith,
                    },
                    Stack::Failed,
                ))
            }
            "NEVER" => {
                arity(0)?;
                let t = pop!();
                if t != Type::Never {
                    wrong!(t);
                }
                Ok((Instr { loc, op: Op::Never }, Stack::Failed))
            }
            "COMPARE" => {
                arity(0)?;
                let a = pop!();
                let b = pop!();
                if a != b || !a.is_comparable() {
                    wrong!(a, b);
                }
                st.push(Type::Int);
                live(Op::Compare, st)
            }
            "EQ" => unary!(Type::Int, Type::Bool, Op::Eq),
            "NEQ" => unary!(Type::Int, Type::Bool, Op::Neq),
            "LT" => unary!(Type::Int, Type::Bool, Op::Lt),
            "GT" => unary!(Type::Int, Type::Bool, Op::Gt),
            "LE" => unary!(Type::Int, Type::Bool, Op::Le),
            "GE" => unary!(Type::Int, Type::Bool, Op::Ge),
            "ADD" | "SUB" | "MUL" | "EDIV" | "SUB_MUTEZ" | "AND" | "OR" | "XOR" | "LSL" | "LSR" => {
                arity(0)?;
                let a = pop!();
                let b = pop!();
                use Type::*;
                let r = match (name, &a, &b) {
                    ("ADD" | "MUL", Nat, Nat) => Nat,
                    ("ADD" | "SUB" | "MUL", Int | Nat, Int | Nat) => Int,
                    ("ADD", Mutez, Mutez) => Mutez,
                    ("ADD", Timestamp, Int) | ("ADD", Int, Timestamp) => Timestamp,
                    ("SUB", Timestamp, Int) => Timestamp,
                    ("SUB", Timestamp, Timestamp) => Int,
                    ("SUB_MUTEZ", Mutez, Mutez) => Type::option(Mutez),
                    ("MUL", Mutez, Nat) | ("MUL", Nat, Mutez) => Mutez,
                    ("EDIV", Nat, Nat) => Type::option(Type::pair(Nat, Nat)),
                    ("EDIV", Int | Nat, Int | Nat) => Type::option(Type::pair(Int, Nat)),
                    ("EDIV", Mutez, Nat) => Type::option(Type::pair(Mutez, Mutez)),
                    ("EDIV", Mutez, Mutez) => Type::option(Type::pair(Nat, Mutez)),
                    ("AND" | "OR" | "XOR", Bool, Bool) => Bool,
                    ("AND" | "OR" | "XOR", Nat, Nat) => Nat,
                    ("AND", Int, Nat) => Nat,
                    ("LSL" | "LSR", Nat, Nat) => Nat,
                    _ => {
                        return Err(ill_typed(
                            loc,
                            "script",
                            "michelson_v1.undefined_binop",
                            format!("{name} is not defined on {a} and {b}"),
                        ))
                    }
                };
                st.push(r);
                let op = match name {
                    "ADD" => Op::Add,
                    "SUB" => Op::Sub,
                    "MUL" => Op::Mul,
                    "EDIV" => Op::Ediv,
                    "SUB_MUTEZ" => Op::SubMutez,
                    "AND" => Op::And,
                    "OR" => Op::Or,
                    "XOR" => Op::Xor,
                    "LSL" => Op::Lsl,
                    _ => Op::Lsr,
                };
                live(op, st)
            }
            "ABS" | "NEG" | "INT" | "ISNAT" | "NOT" => {
                arity(0)?;
                let a = pop!();
                use Type::*;
                let r = match (name, &a) {
                    ("ABS", Int) => Nat,
                    ("NEG", Int | Nat) => Int,
                    ("INT", Nat) => Int,
                    ("ISNAT", Int) => Type::option(Nat),
                    ("NOT", Bool) => Bool,
                    ("NOT", Int | Nat) => Int,
                    _ => {
                        return Err(ill_typed(
                            loc,
                            "script",
                            "michelson_v1.undefined_unop",
                            format!("{name} is not defined on {a}"),
                        ))
                    }
                };
                st.push(r);
                let op = match name {
                    "ABS" => Op::Abs,
                    "NEG" => Op::Neg,
                    "INT" => Op::Int,
                    "ISNAT" => Op::IsNat,
                    _ => Op::Not,
                };
                live(op, st)
            }
            "SIZE" => {
                arity(0)?;
                let t = pop!();
                match t {
                    Type::String | Type::Bytes | Type::List(_) | Type::Set(_) | Type::Map(..) => {}
                    t => wrong!(t),
                }
                st.push(Type::Nat);
                live(Op::Size, st)
            }
            "CONCAT" => {
                arity(0)?;
                let a = pop!();
                match &a {
                    Type::String | Type::Bytes => {
                        let b = pop!();
                        if a != b {
                            wrong!(a, b);
                        }
                        st.push(a);
                        live(Op::Concat, st)
                    }
                    Type::List(t) if matches!(**t, Type::String | Type::Bytes) => {
                        st.push((**t).clone());
                        live(Op::ConcatList(**t == Type::Bytes), st)
                    }
                    _ => wrong!(a),
                }
            }
            "SLICE" => {
                arity(0)?;
                let o = pop!();
                let l = pop!();
                let s = pop!();
                if o != Type::Nat || l != Type::Nat || !matches!(s, Type::String | Type::Bytes) {
                    wrong!(o, l, s);
                }
                st.push(Type::option(s));
                live(Op::Slice, st)
            }
            "MEM" | "GET" | "UPDATE" | "GET_AND_UPDATE" => {
                arity(0)?;
                let k = pop!();
                let v = if matches!(name, "UPDATE" | "GET_AND_UPDATE") {
                    Some(pop!())
                } else {
                    None
                };
                let c = pop!();
                let ok = match (name, &c) {
                    ("MEM", Type::Set(kt)) => **kt == k,
                    ("UPDATE", Type::Set(kt)) => **kt == k && v == Some(Type::Bool),
                    (_, Type::Map(kt, vt) | Type::BigMap(kt, vt)) => {
                        **kt == k
                            && match name {
                                "MEM" | "GET" => true,
                                _ => v == Some(Type::option((**vt).clone())),
                            }
                    }
                    _ => false,
                };
                if !ok {
                    match v {
                        Some(v) => wrong!(k, v, c),
                        None => wrong!(k, c),
                    }
                }
                let op = match name {
                    "MEM" => {
                        st.push(Type::Bool);
                        Op::Mem
                    }
                    "GET" => {
                        let (Type::Map(_, vt) | Type::BigMap(_, vt)) = &c else {
                            wrong!(k, c)
                        };
                        st.push(Type::option((**vt).clone()));
                        Op::Get
                    }
                    "UPDATE" => {
                        st.push(c);
                        Op::Update
                    }
                    _ => {
                        st.push(c);
                        st.push(v.expect("popped"));
                        Op::GetAndUpdate
                    }
                };
                live(op, st)
            }
            "PACK" => {
                arity(0)?;
                let t = pop!();
                if !t.is_packable() {
                    return Err(ill_typed(
                        loc,
                        "script",
                        "michelson_v1.unpackable_type",
                        format!("PACK cannot serialize {t}"),
                    ));
                }
                st.push(Type::Bytes);
                live(Op::Pack, st)
            }
            "UNPACK" => {
                arity(1)?;
                let t = ty_arg(0)?;
                if !t.is_packable() || t.contains_contract() {
                    return Err(ill_typed(
                        locs[0],
                        "script",
                        "michelson_v1.unpackable_type",
                        format!("UNPACK cannot read {t}"),
                    ));
                }
                let b = pop!();
                if b != Type::Bytes {
                    wrong!(b);
                }
                st.push(Type::option(t.clone()));
                live(Op::Unpack(t), st)
            }
            "BLAKE2B" => unary!(Type::Bytes, Type::Bytes, Op::Blake2b),
            "SHA256" => unary!(Type::Bytes, Type::Bytes, Op::Sha256),
            "SHA512" => unary!(Type::Bytes, Type::Bytes, Op::Sha512),
            "SENDER" | "SOURCE" | "SELF_ADDRESS" | "AMOUNT" | "BALANCE" | "NOW" | "LEVEL"
            | "CHAIN_ID" => {
                arity(0)?;
                let (t, op) = match name {
                    "SENDER" => (Type::Address, Op::Sender),
                    "SOURCE" => (Type::Address, Op::Source),
                    "SELF_ADDRESS" => (Type::Address, Op::SelfAddress),
                    "AMOUNT" => (Type::Mutez, Op::Amount),
                    "BALANCE" => (Type::Mutez, Op::Balance),
                    "NOW" => (Type::Timestamp, Op::Now),
                    "LEVEL" => (Type::Nat, Op::Level),
                    _ => (Type::ChainId, Op::ChainId),
                };
                st.push(t);
                live(op, st)
            }
            "SELF" => {
                arity(0)?;
                let ep = entrypoint_annot()?;
                let Some(entry) = self.self_entrypoints.get(&ep) else {
                    return Err(Error::NoSuchEntrypoint(ep));
                };
                st.push(Type::Contract(Box::new(entry.ty)));
                live(Op::SelfContract(ep), st)
            }
            "CONTRACT" => {
                arity(1)?;
                let ep = entrypoint_annot()?;
                let t = ty_arg(0)?;
                if !t.is_passable() {
                    return Err(ill_typed(
                        locs[0],
                        "script",
                        "michelson_v1.unexpected_operation",
                        "a contract parameter cannot hold operations",
                    ));
                }
                let a = pop!();
                if a != Type::Address {
                    wrong!(a);
                }
                st.push(Type::option(Type::Contract(Box::new(t.clone()))));
                live(Op::Contract(t, ep), st)
            }
            "ADDRESS" => {
                arity(0)?;
                let t = pop!();
                let Type::Contract(_) = t else { wrong!(t) };
                st.push(Type::Address);
                live(Op::Address, st)
            }
            "IMPLICIT_ACCOUNT" => unary!(
                Type::KeyHash,
                Type::Contract(Box::new(Type::Unit)),
                Op::ImplicitAccount
            ),
            "IS_IMPLICIT_ACCOUNT" => unary!(
                Type::Address,
                Type::option(Type::KeyHash),
                Op::IsImplicitAccount
            ),
            "TRANSFER_TOKENS" => {
                arity(0)?;
                let p = pop!();
                let m = pop!();
                let c = pop!();
                match (&m, &c) {
                    (Type::Mutez, Type::Contract(t)) if **t == p => {}
                    _ => wrong!(p, m, c),
                }
                if p.contains_big_map() {
                    return Err(Error::Unsupported {
                        location: loc,
                        prim: "TRANSFER_TOKENS of a big_map".into(),
                    });
                }
                st.push(Type::Operation);
                live(Op::TransferTokens(p), st)
            }
            "TICKET" => {
                arity(0)?;
                let c = pop!();
                let n = pop!();
                if n != Type::Nat || !c.is_comparable() {
                    wrong!(c, n);
                }
                st.push(Type::option(Type::ticket(c.clone())));
                live(Op::Ticket(c), st)
            }
            "READ_TICKET" => {
                arity(0)?;
                let t = pop!();
                let Type::Ticket(c) = &t else { wrong!(t) };
                let read = Type::pair(Type::Address, Type::pair((**c).clone(), Type::Nat));
                st.push(t.clone());
                st.push(read);
                live(Op::ReadTicket, st)
            }
            "SPLIT_TICKET" => {
                arity(0)?;
                let t = pop!();
                let n = pop!();
                match (&t, &n) {
                    (Type::Ticket(_), Type::Pair(a, b)) if **a == Type::Nat && **b == Type::Nat => {
                    }
                    _ => wrong!(t, n),
                }
                st.push(Type::option(Type::pair(t.clone(), t)));
                live(Op::SplitTicket, st)
            }
            "JOIN_TICKETS" => {
                arity(0)?;
                let p = pop!();
                match &p {
                    Type::Pair(a, b) if a == b && matches!(**a, Type::Ticket(_)) => {}
                    _ => wrong!(p),
                }
                let Type::Pair(a, _) = p else {
                    unreachable!("matched above")
                };
                st.push(Type::option(*a));
                live(Op::JoinTickets, st)
            }
            _ => Err(Error::Unsupported {
                location: loc,
                prim: name.into(),
            }),
        }
    }
}

/// The type of `GET n` on a right comb: `GET 0` is the whole value, `GET 2k+1` the k-th left
/// component, `GET 2k` the k-th right tail.
fn comb_get(t: &Type, n: usize) -> Option<Type> {
    match (n, t) {
        (0, t) => Some(t.clone()),
        (1, Type::Pair(a, _)) => Some((**a).clone()),
        (n, Type::Pair(_, b)) if n >= 2 => comb_get(b, n - 2),
        _ => None,
    }
}

fn comb_update(t: &Type, n: usize, v: &Type) -> Option<Type> {
    match (n, t) {
        (0, _) => Some(v.clone()),
        (1, Type::Pair(_, b)) => Some(Type::Pair(Box::new(v.clone()), b.clone())),
        (n, Type::Pair(a, b)) if n >= 2 => {
            Some(Type::Pair(a.clone(), Box::new(comb_update(b, n - 2, v)?)))
        }
        _ => None,
    }
}

fn merge(loc: usize, name: &str, a: Stack, b: Stack) -> Result<Stack, Error> {
    match (a, b) {
        (Stack::Failed, s) | (s, Stack::Failed) => Ok(s),
        (Stack::Live(a), Stack::Live(b)) => {
            if a == b {
                Ok(Stack::Live(a))
            } else {
                Err(ill_typed(
                    loc,
                    "script",
                    "michelson_v1.unmatched_branches",
                    format!(
                        "the branches of {name} end with different stacks: {} and {}",
                        show(&a),
                        show(&b)
                    ),
                ))
            }
        }
    }
}

fn check_body_out(loc: usize, name: &str, out: Stack, expected: &[Type]) -> Result<(), Error> {
    match out {
        Stack::Failed => Ok(()),
        Stack::Live(s) if s == expected => Ok(()),
        Stack::Live(s) => Err(ill_typed(
            loc,
            "script",
            if name == "ITER" {
                "michelson_v1.invalid_iter_body"
            } else {
                "michelson_v1.bad_stack"
            },
            format!(
                "the body of {name} must end with {}, it ends with {}",
                show(expected),
                show(&s)
            ),
        )),
    }
}

impl Type {
    pub(crate) fn contains_contract(&self) -> bool {
        match self {
            Type::Contract(_) => true,
            Type::Pair(a, b) | Type::Or(a, b) | Type::Map(a, b) | Type::BigMap(a, b) => {
                a.contains_contract() || b.contains_contract()
            }
            Type::Option(a) | Type::List(a) | Type::Set(a) | Type::Ticket(a) => {
                a.contains_contract()
            }
            _ => false,
        }
    }

    pub(crate) fn contains_big_map(&self) -> bool {
        match self {
            Type::BigMap(..) => true,
            Type::Pair(a, b) | Type::Or(a, b) | Type::Map(a, b) => {
                a.contains_big_map() || b.contains_big_map()
            }
            Type::Option(a) | Type::List(a) | Type::Set(a) | Type::Ticket(a) => {
                a.contains_big_map()
            }
            _ => false,
        }
    }
}
