//! Tickets carried by the transactions of an outbox message.
//!
//! A withdrawal moves tickets back to L1: the transaction's parameter holds a ticket value
//! `Pair ticketer contents amount` (written `Pair "KT1.." (Pair contents amount)` or as a comb).
//! In a typed batch the parameter's type says exactly where tickets are (`ticket cty`); in an
//! untyped batch the destination contract's type is not in the message, so a ticket is
//! recognised by its shape: the last three elements of a `Pair` comb are an originated contract
//! address (the ticketer, as a `KT1` string or its 22-byte binary form), any contents and a
//! natural amount.

use alloc::vec::Vec;

use soru_core::encoding::address::{Contract, ContractHash};
use soru_core::encoding::binary::Zarith;
use soru_core::encoding::json::Json;
use soru_core::encoding::micheline::Expr;
use soru_core::encoding::outbox::OutboxMessage;

/// A ticket found in a transaction's parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// Index of the transaction in its batch.
    pub transaction: usize,
    /// The contract that created the ticket.
    pub ticketer: ContractHash,
    /// The ticket's contents.
    pub contents: Expr,
    /// How many units of the ticket move.
    pub amount: Zarith,
    /// Whether the parameter's type located the ticket (typed batch) or its shape did.
    pub typed: bool,
}

impl Ticket {
    /// `{"transaction": 0, "ticketer": "KT1..", "contents": <Micheline>, "amount": "10",
    /// "typed": false}`.
    pub fn to_json(&self) -> Json {
        use alloc::string::ToString;
        Json::object([
            ("transaction", Json::Int(self.transaction as i64)),
            ("ticketer", Json::from(self.ticketer.to_b58check())),
            ("contents", self.contents.to_json()),
            ("amount", Json::String(self.amount.to_string())),
            ("typed", Json::Bool(self.typed)),
        ])
    }
}

/// Every ticket in the transactions of `message` (none for whitelist updates and signals).
pub fn tickets(message: &OutboxMessage) -> Vec<Ticket> {
    let mut out = Vec::new();
    match message {
        OutboxMessage::AtomicTransactionBatch(txs) => {
            for (i, tx) in txs.iter().enumerate() {
                by_shape(&tx.parameters, i, &mut out);
            }
        }
        OutboxMessage::AtomicTransactionBatchTyped(txs) => {
            for (i, tx) in txs.iter().enumerate() {
                by_type(&tx.parameters, &tx.parameters_ty, i, &mut out);
            }
        }
        OutboxMessage::WhitelistUpdate(_) | OutboxMessage::CanonicalRollupSignal(_) => {}
    }
    out
}

fn prim_named<'a>(e: &'a Expr, name: &str) -> Option<&'a [Expr]> {
    match e {
        Expr::Prim { prim, args, .. } if prim.name() == name => Some(args),
        _ => None,
    }
}

/// The elements of a right comb: `Pair a (Pair b c)` and `Pair a b c` are both `[a, b, c]`.
fn comb<'a>(e: &'a Expr, name: &str) -> Option<Vec<&'a Expr>> {
    let args = prim_named(e, name)?;
    if args.len() < 2 {
        return None;
    }
    let mut out: Vec<&Expr> = args[..args.len() - 1].iter().collect();
    let last = &args[args.len() - 1];
    match comb(last, name) {
        Some(rest) => out.extend(rest),
        None => out.push(last),
    }
    Some(out)
}

fn ticketer(e: &Expr) -> Option<ContractHash> {
    match e {
        Expr::String(s) => ContractHash::from_b58check(s).ok(),
        Expr::Bytes(b) => match Contract::decode(b) {
            Ok(Contract::Originated(kt1)) => Some(kt1),
            _ => None,
        },
        _ => None,
    }
}

fn natural(e: &Expr) -> Option<Zarith> {
    match e {
        Expr::Int(z) if !z.is_negative() => Some(z.clone()),
        _ => None,
    }
}

/// A ticket value `[ticketer, contents, amount]`.
fn ticket_value(items: &[&Expr], transaction: usize, typed: bool) -> Option<Ticket> {
    let [t, contents, amount] = items else {
        return None;
    };
    Some(Ticket {
        transaction,
        ticketer: ticketer(t)?,
        contents: (*contents).clone(),
        amount: natural(amount)?,
        typed,
    })
}

fn by_shape(e: &Expr, transaction: usize, out: &mut Vec<Ticket>) {
    match e {
        Expr::Prim { args, .. } => {
            if let Some(items) = comb(e, "Pair") {
                if items.len() >= 3 {
                    if let Some(t) = ticket_value(&items[items.len() - 3..], transaction, false) {
                        // Tickets inside a ticket's contents are not tickets (contents are
                        // comparable data), so search only the elements before it.
                        for item in &items[..items.len() - 3] {
                            by_shape(item, transaction, out);
                        }
                        out.push(t);
                        return;
                    }
                }
                for item in items {
                    by_shape(item, transaction, out);
                }
            } else {
                for a in args {
                    by_shape(a, transaction, out);
                }
            }
        }
        Expr::Seq(items) => {
            for item in items {
                by_shape(item, transaction, out);
            }
        }
        Expr::Int(_) | Expr::String(_) | Expr::Bytes(_) => {}
    }
}

fn by_type(value: &Expr, ty: &Expr, transaction: usize, out: &mut Vec<Ticket>) {
    by_type_items(&[value], ty, transaction, out);
}

/// `values` is one value, or the trailing elements of a comb that the type `ty` covers (a comb
/// value may be flatter than its type: `Pair a b c` for `pair a (pair b c)`).
fn by_type_items(values: &[&Expr], ty: &Expr, transaction: usize, out: &mut Vec<Ticket>) {
    let Expr::Prim {
        prim, args: targs, ..
    } = ty
    else {
        return;
    };
    let one = match values {
        [v] => Some(*v),
        _ => None,
    };
    let items = || -> Option<Vec<&Expr>> {
        match one {
            None => Some(values.to_vec()),
            Some(v) => comb(v, "Pair").or_else(|| match v {
                Expr::Seq(items) => Some(items.iter().collect()),
                _ => None,
            }),
        }
    };
    match prim.name() {
        "ticket" => {
            if let Some(items) = items() {
                out.extend(ticket_value(&items, transaction, true));
            }
        }
        "pair" => {
            let (Some(values), Some(types)) = (items(), comb(ty, "pair")) else {
                return;
            };
            if values.len() < types.len() {
                return;
            }
            let last = types.len() - 1;
            for (i, t) in types.iter().enumerate() {
                if i < last {
                    by_type_items(&values[i..=i], t, transaction, out);
                } else {
                    by_type_items(&values[i..], t, transaction, out);
                }
            }
        }
        "or" => match (one, targs.as_slice()) {
            (Some(Expr::Prim { prim, args, .. }), [l, r]) if args.len() == 1 => match prim.name() {
                "Left" => by_type(&args[0], l, transaction, out),
                "Right" => by_type(&args[0], r, transaction, out),
                _ => {}
            },
            _ => {}
        },
        "option" => {
            if let (Some(Some([v])), [t]) = (one.map(|v| prim_named(v, "Some")), targs.as_slice()) {
                by_type(v, t, transaction, out);
            }
        }
        "list" => {
            if let (Some(Expr::Seq(items)), [t]) = (one, targs.as_slice()) {
                for v in items {
                    by_type(v, t, transaction, out);
                }
            }
        }
        _ => {}
    }
}
