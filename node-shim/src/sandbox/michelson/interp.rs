//! The interpreter: runs checked instructions on a stack of values, charging gas.

use std::collections::{BTreeMap, BTreeSet};

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{Signed, ToPrimitive, Zero};
use soru_core::encoding::address::{Contract as ContractAddr, Destination};

use super::error::Error;
use super::gas::{Gas, PER_BYTE, PER_BYTE_COPIED, PER_CHAIN_ACCESS, PER_INSTRUCTION};
use super::typecheck::{Instr, Op};
use super::types::{Entrypoints, Type};
use super::value::{unpack, Address, DataCheck, Mode, Ticket, Transfer, Value};
use super::{Chain, ExecutionContext};

/// The address of `addr`'s entrypoint (the address's own, or `annot` if the address names
/// none) if it exists and takes `ty`, as `CONTRACT` decides.
pub(crate) fn typed_contract(
    chain: &dyn Chain,
    addr: &Address,
    annot: &str,
    ty: &Type,
) -> Option<Address> {
    let ep = match (addr.entrypoint.as_str(), annot) {
        ("default", ep) | (ep, "default") => ep.to_string(),
        _ => return None,
    };
    let found = match &addr.destination {
        Destination::Implicit(_) => (ep == "default"
            && (*ty == Type::Unit || matches!(ty, Type::Ticket(_))))
        .then(|| ty.clone()),
        Destination::Originated(kt1) => chain.contract_entrypoints(kt1)?.get(&ep).map(|e| e.ty),
        Destination::SmartRollup(sr1) => {
            let expr = chain.rollup_parameter_type(sr1)?;
            Entrypoints::parse(&expr, 0).ok()?.get(&ep).map(|e| e.ty)
        }
    }?;
    (found == *ty).then_some(Address {
        destination: addr.destination,
        entrypoint: ep,
    })
}

pub(crate) struct Interp<'a> {
    pub ctx: &'a ExecutionContext,
    pub chain: &'a dyn Chain,
    pub gas: &'a mut Gas,
}

fn overflow(loc: usize, what: &'static str) -> Error {
    Error::Overflow {
        location: loc,
        what,
    }
}

fn mutez(v: BigInt, loc: usize) -> Result<Value, Error> {
    match v.to_i64() {
        Some(m) if m >= 0 => Ok(Value::Mutez(m)),
        _ => Err(overflow(loc, "mutez")),
    }
}

/// Euclidean division as Michelson defines it: the remainder is never negative.
fn ediv(a: &BigInt, b: &BigInt) -> Option<(BigInt, BigInt)> {
    if b.is_zero() {
        return None;
    }
    let r = a.mod_floor(&b.abs());
    let q = (a - &r) / b;
    Some((q, r))
}

impl Interp<'_> {
    pub(crate) fn run(&mut self, i: &Instr, st: &mut Vec<Value>) -> Result<(), Error> {
        self.gas.charge(PER_INSTRUCTION)?;
        let loc = i.loc;
        macro_rules! pop {
            () => {
                st.pop()
                    .expect("the type checker proved the stack deep enough")
            };
        }
        macro_rules! pop_as {
            ($p:pat => $e:expr) => {
                match pop!() {
                    $p => $e,
                    other => unreachable!("ill-typed stack: {other:?}"),
                }
            };
        }
        match &i.op {
            Op::Seq(items) => {
                for it in items {
                    self.run(it, st)?;
                }
            }
            Op::Drop(n) => st.truncate(st.len() - n),
            Op::Dup(n) => {
                let v = st[st.len() - n].clone();
                self.gas.charge(PER_BYTE_COPIED * v.size() as u64)?;
                st.push(v);
            }
            Op::Swap => {
                let len = st.len();
                st.swap(len - 1, len - 2);
            }
            Op::Dig(n) => {
                let v = st.remove(st.len() - 1 - n);
                st.push(v);
            }
            Op::Dug(n) => {
                let v = pop!();
                st.insert(st.len() - n, v);
            }
            Op::Push(v) => {
                self.gas.charge(PER_BYTE_COPIED * v.size() as u64)?;
                st.push(v.clone());
            }
            Op::Unit => st.push(Value::Unit),
            Op::Nil => st.push(Value::List(Vec::new())),
            Op::EmptySet => st.push(Value::Set(BTreeSet::new())),
            Op::EmptyMap => st.push(Value::Map(BTreeMap::new())),
            Op::EmptyBigMap(k, v) => st.push(Value::BigMap(super::value::BigMap {
                id: None,
                key_ty: k.clone(),
                value_ty: v.clone(),
                overlay: BTreeMap::new(),
            })),
            Op::None => st.push(Value::Option(None)),
            Op::Some => {
                let v = pop!();
                st.push(Value::some(v));
            }
            Op::Left => {
                let v = pop!();
                st.push(Value::Left(Box::new(v)));
            }
            Op::Right => {
                let v = pop!();
                st.push(Value::Right(Box::new(v)));
            }
            Op::Cons => {
                let v = pop!();
                let mut l = pop_as!(Value::List(l) => l);
                l.insert(0, v);
                st.push(Value::List(l));
            }
            Op::Pair(n) => {
                let mut items: Vec<Value> = (0..*n).map(|_| pop!()).collect();
                let mut v = items.pop().expect("n >= 2");
                while let Some(a) = items.pop() {
                    v = Value::pair(a, v);
                }
                st.push(v);
            }
            Op::Unpair(n) => {
                let mut v = pop!();
                let mut items = Vec::with_capacity(*n);
                for _ in 1..*n {
                    let Value::Pair(a, b) = v else {
                        unreachable!("ill-typed UNPAIR")
                    };
                    items.push(*a);
                    v = *b;
                }
                items.push(v);
                while let Some(x) = items.pop() {
                    st.push(x);
                }
            }
            Op::Car => {
                let (a, _) = pop_as!(Value::Pair(a, b) => (a, b));
                st.push(*a);
            }
            Op::Cdr => {
                let (_, b) = pop_as!(Value::Pair(a, b) => (a, b));
                st.push(*b);
            }
            Op::GetN(n) => {
                let mut v = pop!();
                let mut k = *n;
                loop {
                    match (k, v) {
                        (0, x) => {
                            v = x;
                            break;
                        }
                        (1, Value::Pair(a, _)) => {
                            v = *a;
                            break;
                        }
                        (_, Value::Pair(_, b)) => {
                            v = *b;
                            k -= 2;
                        }
                        _ => unreachable!("ill-typed GET n"),
                    }
                }
                st.push(v);
            }
            Op::UpdateN(n) => {
                let new = pop!();
                let v = pop!();
                st.push(comb_update(v, *n, new));
            }
            Op::If(t, f) => {
                let c = pop_as!(Value::Bool(b) => b);
                self.run(if c { t } else { f }, st)?;
            }
            Op::IfNone(t, f) => match pop_as!(Value::Option(o) => o) {
                None => self.run(t, st)?,
                Some(v) => {
                    st.push(*v);
                    self.run(f, st)?;
                }
            },
            Op::IfLeft(l, r) => match pop!() {
                Value::Left(v) => {
                    st.push(*v);
                    self.run(l, st)?;
                }
                Value::Right(v) => {
                    st.push(*v);
                    self.run(r, st)?;
                }
                other => unreachable!("ill-typed IF_LEFT: {other:?}"),
            },
            Op::IfCons(c, n) => {
                let mut l = pop_as!(Value::List(l) => l);
                if l.is_empty() {
                    self.run(n, st)?;
                } else {
                    let h = l.remove(0);
                    st.push(Value::List(l));
                    st.push(h);
                    self.run(c, st)?;
                }
            }
            Op::Loop(body) => loop {
                self.gas.charge(PER_INSTRUCTION)?;
                if !pop_as!(Value::Bool(b) => b) {
                    break;
                }
                self.run(body, st)?;
            },
            Op::LoopLeft(body) => loop {
                self.gas.charge(PER_INSTRUCTION)?;
                match pop!() {
                    Value::Left(v) => {
                        st.push(*v);
                        self.run(body, st)?;
                    }
                    Value::Right(v) => {
                        st.push(*v);
                        break;
                    }
                    other => unreachable!("ill-typed LOOP_LEFT: {other:?}"),
                }
            },
            Op::Iter(body) => {
                let items: Vec<Value> = match pop!() {
                    Value::List(l) => l,
                    Value::Set(s) => s.into_iter().collect(),
                    Value::Map(m) => m.into_iter().map(|(k, v)| Value::pair(k, v)).collect(),
                    other => unreachable!("ill-typed ITER: {other:?}"),
                };
                for v in items {
                    self.gas.charge(PER_INSTRUCTION)?;
                    st.push(v);
                    self.run(body, st)?;
                }
            }
            Op::Map(body) => match pop!() {
                Value::List(l) => {
                    let mut out = Vec::with_capacity(l.len());
                    for v in l {
                        self.gas.charge(PER_INSTRUCTION)?;
                        st.push(v);
                        self.run(body, st)?;
                        out.push(pop!());
                    }
                    st.push(Value::List(out));
                }
                Value::Map(m) => {
                    let mut out = BTreeMap::new();
                    for (k, v) in m {
                        self.gas.charge(PER_INSTRUCTION)?;
                        st.push(Value::pair(k.clone(), v));
                        self.run(body, st)?;
                        out.insert(k, pop!());
                    }
                    st.push(Value::Map(out));
                }
                other => unreachable!("ill-typed MAP: {other:?}"),
            },
            Op::Dip(n, body) => {
                let top = st.split_off(st.len() - n);
                self.run(body, st)?;
                st.extend(top);
            }
            Op::FailWith => {
                let v = pop!();
                return Err(Error::ScriptRejected {
                    location: loc,
                    value: v.to_expr(Mode::Optimized),
                });
            }
            Op::Never => unreachable!("never has no values"),
            Op::Compare => {
                let a = pop!();
                let b = pop!();
                self.gas.charge(PER_BYTE * a.size().min(b.size()) as u64)?;
                st.push(Value::Int(BigInt::from(a.cmp(&b) as i8)));
            }
            Op::Eq | Op::Neq | Op::Lt | Op::Gt | Op::Le | Op::Ge => {
                let z = pop_as!(Value::Int(z) => z);
                let s = z.sign();
                use num_bigint::Sign::*;
                let b = match &i.op {
                    Op::Eq => s == NoSign,
                    Op::Neq => s != NoSign,
                    Op::Lt => s == Minus,
                    Op::Gt => s == Plus,
                    Op::Le => s != Plus,
                    _ => s != Minus,
                };
                st.push(Value::Bool(b));
            }
            Op::Add | Op::Sub | Op::Mul | Op::Ediv | Op::SubMutez => {
                let a = pop!();
                let b = pop!();
                let (sa, sb) = (a.size() as u64, b.size() as u64);
                let quadratic = if matches!(i.op, Op::Mul | Op::Ediv) {
                    sa.saturating_mul(sb) / 64
                } else {
                    0
                };
                self.gas.charge(PER_BYTE_COPIED * (sa + sb) + quadratic)?;
                st.push(arith(&i.op, a, b, loc)?);
            }
            Op::And | Op::Or | Op::Xor | Op::Lsl | Op::Lsr => {
                let a = pop!();
                let b = pop!();
                self.gas.charge(PER_BYTE * (a.size() + b.size()) as u64)?;
                let r = match (&i.op, a, b) {
                    (Op::And, Value::Bool(x), Value::Bool(y)) => Value::Bool(x && y),
                    (Op::Or, Value::Bool(x), Value::Bool(y)) => Value::Bool(x || y),
                    (Op::Xor, Value::Bool(x), Value::Bool(y)) => Value::Bool(x ^ y),
                    (Op::And, Value::Int(x) | Value::Nat(x), Value::Nat(y)) => Value::Nat(x & y),
                    (Op::Or, Value::Nat(x), Value::Nat(y)) => Value::Nat(x | y),
                    (Op::Xor, Value::Nat(x), Value::Nat(y)) => Value::Nat(x ^ y),
                    (Op::Lsl | Op::Lsr, Value::Nat(x), Value::Nat(y)) => {
                        let s = y.to_u32().filter(|s| *s <= 256);
                        let Some(s) = s else {
                            return Err(overflow(loc, "shift"));
                        };
                        Value::Nat(if i.op == Op::Lsl { x << s } else { x >> s })
                    }
                    other => unreachable!("ill-typed bitwise operation: {other:?}"),
                };
                st.push(r);
            }
            Op::Abs => {
                let z = pop_as!(Value::Int(z) => z);
                st.push(Value::Nat(z.abs()));
            }
            Op::Neg => {
                let z = pop_as!(Value::Int(z) | Value::Nat(z) => z);
                st.push(Value::Int(-z));
            }
            Op::Int => {
                let z = pop_as!(Value::Nat(z) => z);
                st.push(Value::Int(z));
            }
            Op::IsNat => {
                let z = pop_as!(Value::Int(z) => z);
                st.push(Value::Option(
                    (!z.is_negative()).then(|| Box::new(Value::Nat(z))),
                ));
            }
            Op::Not => match pop!() {
                Value::Bool(b) => st.push(Value::Bool(!b)),
                Value::Int(z) | Value::Nat(z) => st.push(Value::Int(-z - 1)),
                other => unreachable!("ill-typed NOT: {other:?}"),
            },
            Op::Size => {
                let n = match pop!() {
                    Value::String(s) => s.len(),
                    Value::Bytes(b) => b.len(),
                    Value::List(l) => l.len(),
                    Value::Set(s) => s.len(),
                    Value::Map(m) => m.len(),
                    other => unreachable!("ill-typed SIZE: {other:?}"),
                };
                st.push(Value::nat(n as u64));
            }
            Op::Concat => {
                let a = pop!();
                let b = pop!();
                self.gas
                    .charge(PER_BYTE_COPIED * (a.size() + b.size()) as u64)?;
                st.push(match (a, b) {
                    (Value::String(a), Value::String(b)) => Value::String(a + &b),
                    (Value::Bytes(mut a), Value::Bytes(b)) => {
                        a.extend_from_slice(&b);
                        Value::Bytes(a)
                    }
                    other => unreachable!("ill-typed CONCAT: {other:?}"),
                });
            }
            Op::ConcatList(bytes) => {
                let l = pop_as!(Value::List(l) => l);
                let total: usize = l.iter().map(Value::size).sum();
                self.gas.charge(PER_BYTE_COPIED * total as u64)?;
                let mut s = String::new();
                let mut b = Vec::new();
                for v in l {
                    match v {
                        Value::String(x) => s.push_str(&x),
                        Value::Bytes(x) => b.extend_from_slice(&x),
                        other => unreachable!("ill-typed CONCAT: {other:?}"),
                    }
                }
                st.push(if *bytes {
                    Value::Bytes(b)
                } else {
                    Value::String(s)
                });
            }
            Op::Slice => {
                let o = pop_as!(Value::Nat(z) => z);
                let l = pop_as!(Value::Nat(z) => z);
                let v = pop!();
                let range = |len: usize| -> Option<std::ops::Range<usize>> {
                    let o = o.to_usize()?;
                    let end = o.checked_add(l.to_usize()?)?;
                    (end <= len).then_some(o..end)
                };
                self.gas.charge(PER_BYTE * v.size() as u64)?;
                let r = match v {
                    Value::String(s) => range(s.len()).map(|r| Value::String(s[r].to_string())),
                    Value::Bytes(b) => range(b.len()).map(|r| Value::Bytes(b[r].to_vec())),
                    other => unreachable!("ill-typed SLICE: {other:?}"),
                };
                st.push(Value::Option(r.map(Box::new)));
            }
            Op::Mem | Op::Get => {
                let k = pop!();
                let c = pop!();
                let found = self.lookup(&c, &k, loc)?;
                if let Some(v) = &found {
                    self.gas.charge(PER_BYTE_COPIED * v.size() as u64)?;
                }
                st.push(match &i.op {
                    Op::Mem => Value::Bool(found.is_some()),
                    _ => Value::Option(found.map(Box::new)),
                });
            }
            Op::Update | Op::GetAndUpdate => {
                let k = pop!();
                let v = pop!();
                let c = pop!();
                let old = if i.op == Op::GetAndUpdate {
                    Some(self.lookup(&c, &k, loc)?)
                } else {
                    None
                };
                let c = match (c, v) {
                    (Value::Set(mut s), Value::Bool(b)) => {
                        self.gas.charge(Gas::map_cost(s.len()))?;
                        if b {
                            s.insert(k);
                        } else {
                            s.remove(&k);
                        }
                        Value::Set(s)
                    }
                    (Value::Map(mut m), Value::Option(o)) => {
                        self.gas.charge(Gas::map_cost(m.len()))?;
                        match o {
                            Some(v) => m.insert(k, *v),
                            None => m.remove(&k),
                        };
                        Value::Map(m)
                    }
                    (Value::BigMap(mut b), Value::Option(o)) => {
                        self.gas.charge(Gas::map_cost(b.overlay.len()))?;
                        b.overlay.insert(k, o.map(|v| *v));
                        Value::BigMap(b)
                    }
                    other => unreachable!("ill-typed UPDATE: {other:?}"),
                };
                st.push(c);
                if let Some(old) = old {
                    st.push(Value::Option(old.map(Box::new)));
                }
            }
            Op::Pack => {
                let v = pop!();
                let bytes = pack(&v);
                self.gas.charge(PER_BYTE * bytes.len() as u64)?;
                st.push(Value::Bytes(bytes));
            }
            Op::Unpack(t) => {
                let b = pop_as!(Value::Bytes(b) => b);
                self.gas.charge(PER_BYTE * b.len() as u64)?;
                let v = unpack(&b, t, self.gas)?;
                st.push(Value::Option(v.map(Box::new)));
            }
            Op::Blake2b | Op::Sha256 | Op::Sha512 => {
                let b = pop_as!(Value::Bytes(b) => b);
                self.gas
                    .charge(PER_BYTE * b.len() as u64 + PER_INSTRUCTION)?;
                let h = match &i.op {
                    Op::Blake2b => Blake2b::<U32>::digest(&b).to_vec(),
                    Op::Sha256 => sha2::Sha256::digest(&b).to_vec(),
                    _ => sha2::Sha512::digest(&b).to_vec(),
                };
                st.push(Value::Bytes(h));
            }
            Op::Sender => st.push(Value::Address(Address::new(self.ctx.sender))),
            Op::Source => st.push(Value::Address(Address::new(Destination::Implicit(
                self.ctx.source,
            )))),
            Op::SelfAddress => st.push(Value::Address(Address::new(Destination::Originated(
                self.ctx.self_address,
            )))),
            Op::SelfContract(ep) => st.push(Value::Contract(Address {
                destination: Destination::Originated(self.ctx.self_address),
                entrypoint: ep.clone(),
            })),
            Op::Amount => st.push(Value::Mutez(self.ctx.amount)),
            Op::Balance => st.push(Value::Mutez(self.ctx.balance)),
            Op::Now => st.push(Value::Timestamp(BigInt::from(self.ctx.now))),
            Op::Level => st.push(Value::nat(u64::from(self.ctx.level))),
            Op::ChainId => st.push(Value::ChainId(self.ctx.chain_id)),
            Op::Contract(t, ep) => {
                let a = pop_as!(Value::Address(a) => a);
                self.gas.charge(PER_CHAIN_ACCESS)?;
                let c = typed_contract(self.chain, &a, ep, t).map(Value::Contract);
                st.push(Value::Option(c.map(Box::new)));
            }
            Op::Address => {
                let a = pop_as!(Value::Contract(a) => a);
                st.push(Value::Address(a));
            }
            Op::ImplicitAccount => {
                let k = pop_as!(Value::KeyHash(k) => k);
                st.push(Value::Contract(Address::new(Destination::Implicit(k))));
            }
            Op::IsImplicitAccount => {
                let a = pop_as!(Value::Address(a) => a);
                st.push(Value::Option(match a.destination {
                    Destination::Implicit(k) => Some(Box::new(Value::KeyHash(k))),
                    _ => None,
                }));
            }
            Op::TransferTokens(t) => {
                let parameter = pop!();
                let amount = pop_as!(Value::Mutez(m) => m);
                let destination = pop_as!(Value::Contract(a) => a);
                self.gas
                    .charge(PER_CHAIN_ACCESS + PER_BYTE * parameter.size() as u64)?;
                if let Destination::SmartRollup(_) = destination.destination {
                    if amount != 0 {
                        return Err(Error::Runtime {
                            location: loc,
                            id: "operation.rollup_invalid_transaction_amount",
                            reason: "a transaction to a rollup must send 0 tez".into(),
                        });
                    }
                    if destination.entrypoint != "default" {
                        return Err(Error::Runtime {
                            location: loc,
                            id: "operation.rollup_invalid_entrypoint",
                            reason: "rollups only take transactions to their default entrypoint"
                                .into(),
                        });
                    }
                }
                st.push(Value::Operation(Box::new(Transfer {
                    destination,
                    amount,
                    parameter_ty: t.clone(),
                    parameter,
                })));
            }
            Op::Ticket(t) => {
                let contents = pop!();
                let amount = pop_as!(Value::Nat(n) => n);
                st.push(Value::Option((!amount.is_zero()).then(|| {
                    Box::new(Value::Ticket(Ticket {
                        ticketer: ContractAddr::Originated(self.ctx.self_address),
                        contents_ty: t.clone(),
                        contents: Box::new(contents),
                        amount,
                    }))
                })));
            }
            Op::ReadTicket => {
                let t = pop_as!(Value::Ticket(t) => t);
                self.gas
                    .charge(PER_BYTE_COPIED * t.contents.size() as u64)?;
                let read = Value::pair(
                    Value::Address(Address::new(t.ticketer.into())),
                    Value::pair((*t.contents).clone(), Value::Nat(t.amount.clone())),
                );
                st.push(Value::Ticket(t));
                st.push(read);
            }
            Op::SplitTicket => {
                let t = pop_as!(Value::Ticket(t) => t);
                let (a, b) = pop_as!(Value::Pair(a, b) => (a, b));
                let (Value::Nat(a), Value::Nat(b)) = (*a, *b) else {
                    unreachable!("ill-typed SPLIT_TICKET")
                };
                let ok = !a.is_zero() && !b.is_zero() && &a + &b == t.amount;
                st.push(Value::Option(ok.then(|| {
                    let ta = Ticket {
                        amount: a,
                        ..t.clone()
                    };
                    let tb = Ticket { amount: b, ..t };
                    Box::new(Value::pair(Value::Ticket(ta), Value::Ticket(tb)))
                })));
            }
            Op::JoinTickets => {
                let (a, b) = pop_as!(Value::Pair(a, b) => (a, b));
                let (Value::Ticket(a), Value::Ticket(b)) = (*a, *b) else {
                    unreachable!("ill-typed JOIN_TICKETS")
                };
                self.gas
                    .charge(PER_BYTE * (a.contents.size() + b.contents.size()) as u64)?;
                let ok = a.ticketer == b.ticketer && a.contents == b.contents;
                st.push(Value::Option(ok.then(|| {
                    Box::new(Value::Ticket(Ticket {
                        amount: a.amount.clone() + b.amount,
                        ..a
                    }))
                })));
            }
        }
        Ok(())
    }

    /// `GET`/`MEM` on a map, set or big map (reading the chain for big map entries not
    /// changed by this execution).
    fn lookup(&mut self, c: &Value, k: &Value, _loc: usize) -> Result<Option<Value>, Error> {
        match c {
            Value::Set(s) => {
                self.gas.charge(Gas::map_cost(s.len()))?;
                Ok(s.contains(k).then_some(Value::Unit))
            }
            Value::Map(m) => {
                self.gas.charge(Gas::map_cost(m.len()))?;
                Ok(m.get(k).cloned())
            }
            Value::BigMap(b) => {
                self.gas.charge(Gas::map_cost(b.overlay.len()))?;
                if let Some(v) = b.overlay.get(k) {
                    return Ok(v.clone());
                }
                let Some(id) = &b.id else { return Ok(None) };
                self.gas.charge(PER_CHAIN_ACCESS)?;
                let Some(e) = self.chain.big_map_get(id, &k.to_expr(Mode::Optimized)) else {
                    return Ok(None);
                };
                let check = DataCheck {
                    chain: Some(self.chain),
                    allow_tickets: false,
                    allow_big_map_ids: false,
                    what: "big map value",
                };
                check.check(&e, &b.value_ty, 0, self.gas).map(Some)
            }
            other => unreachable!("ill-typed GET/MEM: {other:?}"),
        }
    }
}

/// `PACK`: `0x05` then the optimized Micheline binary form.
pub fn pack(v: &Value) -> Vec<u8> {
    let mut out = vec![5u8];
    v.to_expr(Mode::Optimized).encode_into(&mut out);
    out
}

fn comb_update(v: Value, n: usize, new: Value) -> Value {
    match (n, v) {
        (0, _) => new,
        (1, Value::Pair(_, b)) => Value::Pair(Box::new(new), b),
        (n, Value::Pair(a, b)) => Value::Pair(a, Box::new(comb_update(*b, n - 2, new))),
        _ => unreachable!("ill-typed UPDATE n"),
    }
}

fn arith(op: &Op, a: Value, b: Value, loc: usize) -> Result<Value, Error> {
    use Value::*;
    Ok(match (op, a, b) {
        (Op::Add, Nat(x), Nat(y)) => Nat(x + y),
        (Op::Add, Int(x) | Nat(x), Int(y) | Nat(y)) => Int(x + y),
        (Op::Add, Mutez(x), Mutez(y)) => {
            Mutez(x.checked_add(y).ok_or_else(|| overflow(loc, "mutez"))?)
        }
        (Op::Add, Timestamp(t), Int(d)) | (Op::Add, Int(d), Timestamp(t)) => Timestamp(t + d),
        (Op::Sub, Timestamp(t), Int(d)) => Timestamp(t - d),
        (Op::Sub, Timestamp(x), Timestamp(y)) => Int(x - y),
        (Op::Sub, Int(x) | Nat(x), Int(y) | Nat(y)) => Int(x - y),
        (Op::SubMutez, Mutez(x), Mutez(y)) => Option((x >= y).then(|| Box::new(Mutez(x - y)))),
        (Op::Mul, Nat(x), Nat(y)) => Nat(x * y),
        (Op::Mul, Int(x) | Nat(x), Int(y) | Nat(y)) => Int(x * y),
        (Op::Mul, Mutez(m), Nat(n)) | (Op::Mul, Nat(n), Mutez(m)) => {
            mutez(BigInt::from(m) * n, loc)?
        }
        (Op::Ediv, Nat(x), Nat(y)) => {
            Option(ediv(&x, &y).map(|(q, r)| Box::new(Value::pair(Nat(q), Nat(r)))))
        }
        (Op::Ediv, Int(x) | Nat(x), Int(y) | Nat(y)) => {
            Option(ediv(&x, &y).map(|(q, r)| Box::new(Value::pair(Int(q), Nat(r)))))
        }
        (Op::Ediv, Mutez(m), Nat(n)) => match ediv(&BigInt::from(m), &n) {
            None => Option(None),
            Some((q, r)) => Value::some(Value::pair(mutez(q, loc)?, mutez(r, loc)?)),
        },
        (Op::Ediv, Mutez(x), Mutez(y)) => match ediv(&BigInt::from(x), &BigInt::from(y)) {
            None => Option(None),
            Some((q, r)) => Value::some(Value::pair(Nat(q), mutez(r, loc)?)),
        },
        other => unreachable!("ill-typed arithmetic: {other:?}"),
    })
}
