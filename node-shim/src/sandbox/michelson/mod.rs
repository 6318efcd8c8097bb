//! The Michelson subset the sandbox type-checks and runs: enough for rollup bridges (tickets,
//! transfers to rollups and accounts). Anything outside it is rejected at origination with an
//! error naming the primitive and its location. Pure: no I/O, no clock; the chain is reached
//! through the [`Chain`] trait.
//!
//! # API (stable; the sandbox's RPC and block application call it)
//!
//! 1. **Originate.** [`Contract::parse`] type-checks a script given as Micheline (the `code`
//!    of an origination: `{ parameter T ; storage T ; code C }`; [`Contract::from_json`] takes
//!    Taquito's JSON, [`Contract::from_binary`] the operation's bytes, [`Contract::from_text`]
//!    a `.tz` file). The result has the parameter type with its `%entrypoints`
//!    ([`Contract::entrypoints`]), the storage type, and the gas spent type-checking
//!    ([`Contract::typecheck_gas`]). Then [`originate`] type-checks the initial storage and
//!    allocates its big maps.
//! 2. **Call.** [`execute`]`(contract, entrypoint, parameter, storage, context, chain)` runs
//!    the code and returns an [`Execution`]: emitted operations ([`Transfer`]s, in order, with
//!    the parameter as octez sends it, [`Transfer::parameters_expr`]), the new storage, big map
//!    diffs, ticket balance changes, and the milligas consumed (the gas to report and to
//!    charge). The storage is passed as Micheline (as stored), the parameter as Micheline
//!    ([`Parameter::Micheline`], from an operation or a rollup's outbox) or as a value
//!    ([`Parameter::Value`], for an internal transfer from another contract, tickets included).
//! 3. **Errors** are [`Error`]s with octez ids ([`Error::id`], e.g.
//!    `michelson_v1.script_rejected` with the `FAILWITH` value,
//!    `michelson_v1.invalid_primitive` for a primitive outside the subset,
//!    `michelson_v1.bad_stack`, `gas_exhausted.operation`), one octez error object each
//!    ([`Error::to_octez_json`]) and the whole octez trace ([`Error::octez_trace`]:
//!    `runtime_error`, `bad_contract_parameter` or `ill_typed_contract` first).
//! 4. **Helpers** for the rest of the protocol: [`check_rollup_parameter_type`] (rollup
//!    origination), [`lazy_storage_diff_json`] and [`ticket_receipt_json`] (receipts),
//!    [`script_expr_hash`] (big map keys), [`pack`].
//!
//! Ticket accounting follows octez's `Ticket_accounting`: the caller credits the tickets of a
//! parameter to the called contract before the call (a rollup's outbox: debit the rollup;
//! another contract: already done by that contract's [`Execution::ticket_updates`]); then
//! [`Execution::ticket_updates`] lists the balance changes to apply: the called contract's
//! (new storage - old storage - parameter) and a credit to the destination of every emitted
//! transfer carrying tickets. Applying an emitted transfer must not credit its tickets again.
//!
//! # The subset
//!
//! Types: `unit bool int nat mutez string bytes address key_hash timestamp chain_id never
//! operation pair or option list set map big_map contract ticket` (no `lambda`, `key`,
//! `signature`, sapling, BLS, chest; big maps cannot hold tickets).
//!
//! Instructions: `DROP DUP SWAP DIG DUG PUSH UNIT NIL NONE SOME LEFT RIGHT CONS PAIR UNPAIR CAR
//! CDR GET UPDATE GET_AND_UPDATE MEM SIZE CONCAT SLICE PACK UNPACK BLAKE2B SHA256 SHA512
//! EMPTY_SET EMPTY_MAP EMPTY_BIG_MAP IF IF_NONE IF_LEFT IF_CONS LOOP LOOP_LEFT ITER MAP DIP
//! FAILWITH NEVER COMPARE EQ NEQ LT GT LE GE ADD SUB SUB_MUTEZ MUL EDIV ABS NEG INT ISNAT NOT
//! AND OR XOR LSL LSR SENDER SOURCE SELF SELF_ADDRESS AMOUNT BALANCE NOW LEVEL CHAIN_ID CONTRACT
//! ADDRESS IMPLICIT_ACCOUNT IS_IMPLICIT_ACCOUNT TRANSFER_TOKENS TICKET READ_TICKET SPLIT_TICKET
//! JOIN_TICKETS` (no `LAMBDA`/`EXEC`, `CREATE_CONTRACT`, `SET_DELEGATE`, `EMIT`, views, bytes
//! bitwise operations). Macros (`ASSERT`, `CMPEQ`, `IFCMPLT`, ...) are expanded by clients
//! (Taquito, octez-client) before they send code; `.tz` files read with
//! [`Contract::from_text`] must be written without them.
//!
//! Semantics follow protocol 025: `TICKET` returns `None` for 0 units, `SPLIT_TICKET` returns
//! `None` unless both parts are positive and add up, `JOIN_TICKETS` `None` for different
//! ticketers or contents; tickets cannot be `DUP`ed; transfers to rollups must send 0 tez to
//! the default entrypoint; tickets in a transfer's parameter are written
//! `Pair ticketer (Pair contents amount)` (octez's optimized unparsing). Gas: see [`gas`].

mod error;
pub mod gas;
mod interp;
mod typecheck;
mod types;
mod value;

use std::collections::{BTreeMap, BTreeSet};

use num_bigint::BigInt;
use num_traits::{Signed, Zero};
use soru_core::encoding::address::{
    Contract as ContractAddr, ContractHash, Destination, PublicKeyHash, SmartRollupAddress,
};
use soru_core::encoding::micheline::Expr;
use soru_core::encoding::michelson::{parse_script, Location, ParseError};

pub use error::Error;
pub use interp::pack;
pub use types::{Entrypoint, Entrypoints, Type};
pub use value::{
    format_rfc3339, from_zarith, parse_rfc3339, to_zarith, Address, BigMap, Mode, Ticket,
    TicketToken, Transfer, Value,
};

use gas::Gas;
use typecheck::{Checker, Instr, Stack};
use types::child_locations;
use value::DataCheck;

/// What a contract can ask the chain while it runs.
pub trait Chain {
    /// The parameter type of an originated contract (for `CONTRACT`), `None` if there is no
    /// such contract. Implement with [`Contract::entrypoints`].
    fn contract_entrypoints(&self, kt1: &ContractHash) -> Option<Entrypoints>;
    /// The parameter type a smart rollup was originated with, `None` if there is no such
    /// rollup.
    fn rollup_parameter_type(&self, sr1: &SmartRollupAddress) -> Option<Expr>;
    /// The value stored under `key` (optimized form, as in [`BigMapDiff::Update`]) in big map
    /// `id`.
    fn big_map_get(&self, id: &BigInt, key: &Expr) -> Option<Expr>;
    /// The key and value types of big map `id`, `None` if it does not exist.
    fn big_map_types(&self, id: &BigInt) -> Option<(Type, Type)>;
    /// A new big map id (never handed out before).
    fn fresh_big_map_id(&mut self) -> BigInt;
}

/// The facts a running contract can read.
#[derive(Debug, Clone)]
pub struct ExecutionContext {
    /// `SENDER`: the implicit account or contract that made this call.
    pub sender: Destination,
    /// `SOURCE`: the implicit account that signed the operation.
    pub source: PublicKeyHash,
    /// `SELF_ADDRESS`.
    pub self_address: ContractHash,
    /// `AMOUNT`, in mutez.
    pub amount: i64,
    /// `BALANCE`, in mutez (the amount already included, as in octez).
    pub balance: i64,
    /// `LEVEL`: the level of the block being built.
    pub level: u32,
    /// `NOW`: that block's timestamp, in seconds since the epoch.
    pub now: i64,
    /// `CHAIN_ID`.
    pub chain_id: [u8; 4],
    /// Gas available to this call, in milligas.
    pub gas_limit_milligas: u64,
}

/// A type-checked contract.
#[derive(Debug, Clone)]
pub struct Contract {
    script: Expr,
    entrypoints: Entrypoints,
    storage_ty: Type,
    storage_expr: Expr,
    code: Instr,
    typecheck_gas: u64,
}

/// Why a `.tz` file is not a contract of the subset.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TextError {
    /// The text is not Michelson.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// It does not type-check (or leaves the subset) at this line and column.
    #[error("{line}:{column}: {error}")]
    Check {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The error.
        error: Error,
    },
}

/// Gas budget for type-checking a script (octez's hard gas limit per operation, in milligas).
pub const MAX_GAS_MILLIGAS: u64 = 1_040_000_000;

impl Contract {
    /// Type-checks a script `{ parameter T ; storage T ; code C }` (fields in any order).
    pub fn parse(script: &Expr) -> Result<Contract, Error> {
        let malformed = |reason: &str| Error::MalformedScript {
            reason: reason.into(),
        };
        let Expr::Seq(fields) = script else {
            return Err(malformed(
                "a script is a sequence { parameter ..; storage ..; code .. }",
            ));
        };
        let locs = child_locations(fields, 0);
        let mut parameter = None;
        let mut storage = None;
        let mut code = None;
        for (f, &loc) in fields.iter().zip(&locs) {
            let Expr::Prim { prim, args, .. } = f else {
                return Err(malformed("every field of a script is `name argument`"));
            };
            let slot = match prim.name() {
                "parameter" => &mut parameter,
                "storage" => &mut storage,
                "code" => &mut code,
                other => {
                    return Err(Error::Unsupported {
                        location: loc,
                        prim: other.into(),
                    })
                }
            };
            if args.len() != 1 {
                return Err(malformed(&format!("{} takes one argument", prim.name())));
            }
            if slot.is_some() {
                return Err(Error::MalformedScript {
                    reason: format!("duplicate field {}", prim.name()),
                });
            }
            *slot = Some((&args[0], loc + 1));
        }
        let (Some((p, ploc)), Some((s, sloc)), Some((c, cloc))) = (parameter, storage, code) else {
            return Err(malformed("a script needs parameter, storage and code"));
        };
        let mut gas = Gas::new(MAX_GAS_MILLIGAS);
        let entrypoints = Entrypoints::parse(p, ploc)?;
        if !entrypoints.root.is_passable() {
            return Err(error::ill_typed(
                ploc,
                "type",
                "michelson_v1.unexpected_operation",
                "a parameter cannot hold operations",
            ));
        }
        let storage_ty = Type::parse(s, sloc)?;
        if !storage_ty.is_storable() {
            return Err(error::ill_typed(
                sloc,
                "type",
                "michelson_v1.unexpected_operation",
                "a storage cannot hold operations or contracts",
            ));
        }
        let input = Type::pair(entrypoints.root.clone(), storage_ty.clone());
        let output = Type::pair(Type::list(Type::Operation), storage_ty.clone());
        let mut checker = Checker {
            self_entrypoints: &entrypoints,
            gas: &mut gas,
        };
        if !matches!(c, Expr::Seq(_)) {
            return Err(error::ill_typed(
                cloc,
                "script",
                "michelson_v1.invalid_expression_kind",
                "code must be a sequence { .. }",
            ));
        }
        let (code, out) = checker.check(c, cloc, vec![input])?;
        match out {
            Stack::Failed => {}
            Stack::Live(st) if st == [output.clone()] => {}
            Stack::Live(st) => {
                let shown: Vec<String> = st.iter().rev().map(|t| t.to_string()).collect();
                return Err(error::ill_typed(
                    cloc,
                    "script",
                    "michelson_v1.bad_return",
                    format!(
                        "the code must end with [ {output} ], it ends with [ {} ]",
                        shown.join(" : ")
                    ),
                ));
            }
        }
        Ok(Contract {
            script: script.clone(),
            entrypoints,
            storage_ty,
            storage_expr: s.clone(),
            code,
            typecheck_gas: gas.used(),
        })
    }

    /// [`Contract::parse`] on the JSON form Taquito sends (`script.code`).
    pub fn from_json(code: &serde_json::Value) -> Result<Contract, Error> {
        let e = Expr::from_json(code).map_err(|e| Error::MalformedScript {
            reason: e.to_string(),
        })?;
        Contract::parse(&e)
    }

    /// [`Contract::parse`] on the binary Micheline of an origination's `code`.
    pub fn from_binary(code: &[u8]) -> Result<Contract, Error> {
        let e = Expr::decode(code).map_err(|e| Error::MalformedScript {
            reason: e.to_string(),
        })?;
        Contract::parse(&e)
    }

    /// [`Contract::parse`] on a `.tz` file, errors located by line and column.
    pub fn from_text(source: &str) -> Result<Contract, TextError> {
        let (e, locations) = parse_script(source)?;
        Contract::parse(&e).map_err(|error| {
            let at = error
                .location()
                .and_then(|l| locations.get(l).copied())
                .unwrap_or(Location { line: 1, column: 1 });
            TextError::Check {
                line: at.line,
                column: at.column,
                error,
            }
        })
    }

    /// The script as given (`{ parameter ..; storage ..; code .. }`), for the `script` RPC.
    pub fn script(&self) -> &Expr {
        &self.script
    }

    /// The parameter type and its entrypoints.
    pub fn entrypoints(&self) -> &Entrypoints {
        &self.entrypoints
    }

    /// The storage type.
    pub fn storage_type(&self) -> &Type {
        &self.storage_ty
    }

    /// The storage type as written (with annotations).
    pub fn storage_type_expr(&self) -> &Expr {
        &self.storage_expr
    }

    /// Milligas spent type-checking the code.
    pub fn typecheck_gas(&self) -> u64 {
        self.typecheck_gas
    }

    /// The `entrypoints` RPC answer: `{"entrypoints": {"name": type, ..}}` (the named
    /// entrypoints; a parameter without annotations has none).
    pub fn entrypoints_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for (name, ep) in &self.entrypoints.named {
            m.insert(name.clone(), ep.expr.to_json().into());
        }
        serde_json::json!({ "entrypoints": m })
    }

    /// Type-checks a stored storage value (readable or optimized form; tickets in it are
    /// trusted, as octez trusts its own storage; big map ids are looked up in `chain`).
    pub fn check_storage(&self, storage: &Expr, chain: &dyn Chain) -> Result<Value, Error> {
        let check = DataCheck {
            chain: Some(chain),
            allow_tickets: true,
            allow_big_map_ids: true,
            what: "storage",
        };
        let mut gas = Gas::new(MAX_GAS_MILLIGAS);
        check.check(storage, &self.storage_ty, 0, &mut gas)
    }
}

/// The parameter of a call.
#[derive(Debug, Clone)]
pub enum Parameter<'a> {
    /// Micheline from an operation (`from_rollup: false`: no tickets can be written) or from a
    /// rollup's outbox (`from_rollup: true`: tickets written as `Pair ticketer (Pair contents
    /// amount)` or `Ticket ..` are accepted, as octez does for outbox messages).
    Micheline {
        /// The value, for the called entrypoint's type.
        value: &'a Expr,
        /// Whether it comes from a rollup's outbox.
        from_rollup: bool,
    },
    /// A value from an internal transfer ([`Transfer::parameter`]), already typed.
    Value(Value),
}

/// A change to a big map, as octez's `lazy_storage_diff` lists them.
#[derive(Debug, Clone, PartialEq)]
pub enum BigMapDiff {
    /// A new, empty big map.
    Alloc {
        /// Its id.
        id: BigInt,
        /// Key type.
        key_type: Type,
        /// Value type.
        value_type: Type,
    },
    /// A new big map holding a copy of another.
    Copy {
        /// The new id.
        id: BigInt,
        /// The copied big map.
        source: BigInt,
    },
    /// A key set or removed.
    Update {
        /// The big map.
        id: BigInt,
        /// The key (optimized form).
        key: Expr,
        /// BLAKE2b-256 of the packed key (octez's `script_expr_hash`, `expr..` in base58).
        key_hash: [u8; 32],
        /// The new value (optimized form), `None` if removed.
        value: Option<Expr>,
    },
    /// A big map no longer referenced by the storage.
    Remove {
        /// Its id.
        id: BigInt,
    },
}

/// A change of one ticket balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketUpdate {
    /// The token.
    pub token: TicketToken,
    /// Whose balance.
    pub account: Destination,
    /// The change (positive or negative).
    pub amount: BigInt,
}

/// The result of a call.
#[derive(Debug, Clone)]
pub struct Execution {
    /// Emitted operations, in order.
    pub operations: Vec<Transfer>,
    /// The new storage, optimized form: what octez stores and its `storage` RPC returns
    /// ([`Contract::check_storage`] reads it back).
    pub storage: Expr,
    /// The new storage, readable form (`storage/normalized` with `"unparsing_mode":
    /// "Readable"`).
    pub storage_readable: Expr,
    /// Big map changes (ids in the storage are final).
    pub big_map_diffs: Vec<BigMapDiff>,
    /// Ticket balance changes to apply (see the module documentation).
    pub ticket_updates: Vec<TicketUpdate>,
    /// Ticket changes as octez's receipt shows them (the contract's storage difference, not
    /// counting the parameter, and the credits to destinations).
    pub ticket_receipt: Vec<TicketUpdate>,
    /// Tickets the parameter carried (to debit from the caller before the call when it is a
    /// rollup's outbox).
    pub parameter_tickets: BTreeMap<TicketToken, BigInt>,
    /// Milligas consumed: parsing the parameter and storage, running the code, unparsing.
    pub consumed_milligas: u64,
}

/// The result of an origination.
#[derive(Debug, Clone)]
pub struct Origination {
    /// The initial storage, optimized form (big maps replaced by their ids).
    pub storage: Expr,
    /// The initial storage, readable form.
    pub storage_readable: Expr,
    /// Big maps allocated for the storage.
    pub big_map_diffs: Vec<BigMapDiff>,
    /// Milligas consumed (type-checking the code and the storage).
    pub consumed_milligas: u64,
}

/// Checks the initial storage of a new contract and allocates its big maps.
pub fn originate(
    contract: &Contract,
    storage: &Expr,
    chain: &mut dyn Chain,
) -> Result<Origination, Error> {
    let mut gas = Gas::new(MAX_GAS_MILLIGAS);
    gas.charge(contract.typecheck_gas)?;
    let check = DataCheck {
        chain: Some(&*chain),
        allow_tickets: false,
        allow_big_map_ids: false,
        what: "storage",
    };
    let value = check.check(storage, &contract.storage_ty, 0, &mut gas)?;
    let mut diffs = Vec::new();
    let value = finalize_big_maps(value, &BTreeSet::new(), chain, &mut diffs);
    let storage = value.to_expr(Mode::Optimized);
    gas.charge(value::GAS_PER_DATA_NODE * types::node_count(&storage) as u64)?;
    Ok(Origination {
        storage_readable: value.to_expr(Mode::Readable),
        storage,
        big_map_diffs: diffs,
        consumed_milligas: gas.used(),
    })
}

/// Runs `contract`'s `entrypoint` (`"default"` for a plain transfer) on `parameter` and the
/// stored `storage`.
pub fn execute(
    contract: &Contract,
    entrypoint: &str,
    parameter: Parameter<'_>,
    storage: &Expr,
    ctx: &ExecutionContext,
    chain: &mut dyn Chain,
) -> Result<Execution, Error> {
    let mut gas = Gas::new(ctx.gas_limit_milligas);
    let entry = contract
        .entrypoints
        .get(entrypoint)
        .ok_or_else(|| Error::NoSuchEntrypoint(entrypoint.into()))?;
    let arg = match parameter {
        Parameter::Micheline { value, from_rollup } => {
            let check = DataCheck {
                chain: Some(&*chain),
                allow_tickets: from_rollup,
                allow_big_map_ids: true,
                what: "parameter",
            };
            check.check(value, &entry.ty, 0, &mut gas)?
        }
        Parameter::Value(v) => {
            if !v.has_type(&entry.ty) {
                return Err(error::ill_typed(
                    0,
                    "parameter",
                    "michelson_v1.bad_contract_parameter",
                    format!("the value is not of the entrypoint's type {}", entry.ty),
                ));
            }
            v
        }
    };
    let mut parameter_tickets = BTreeMap::new();
    arg.collect_tickets(&mut parameter_tickets);
    let mut full = arg;
    for right in entry.path.iter().rev() {
        full = if *right {
            Value::Right(Box::new(full))
        } else {
            Value::Left(Box::new(full))
        };
    }
    let old = {
        let check = DataCheck {
            chain: Some(&*chain),
            allow_tickets: true,
            allow_big_map_ids: true,
            what: "storage",
        };
        check.check(storage, &contract.storage_ty, 0, &mut gas)?
    };
    let mut old_ids = BTreeSet::new();
    collect_big_map_ids(&old, &mut old_ids);
    let mut old_tickets = BTreeMap::new();
    old.collect_tickets(&mut old_tickets);

    let mut stack = vec![Value::pair(full, old)];
    {
        let mut interp = interp::Interp {
            ctx,
            chain: &*chain,
            gas: &mut gas,
        };
        interp.run(&contract.code, &mut stack)?;
    }
    let Some(Value::Pair(ops, new)) = stack.pop() else {
        unreachable!("the type checker proved the result is a pair")
    };
    let Value::List(ops) = *ops else {
        unreachable!("the type checker proved the operations are a list")
    };
    let operations: Vec<Transfer> = ops
        .into_iter()
        .map(|o| match o {
            Value::Operation(t) => *t,
            other => unreachable!("the type checker proved these are operations: {other:?}"),
        })
        .collect();

    let self_contract = ContractAddr::Originated(ctx.self_address);
    let self_dest = Destination::Originated(ctx.self_address);
    let mut new_tickets = BTreeMap::new();
    new.collect_tickets(&mut new_tickets);
    let mut tokens: BTreeSet<&TicketToken> = old_tickets.keys().collect();
    tokens.extend(new_tickets.keys());
    tokens.extend(parameter_tickets.keys());
    let zero = BigInt::zero();
    let mut self_diff = BTreeMap::new();
    let mut receipt = Vec::new();
    for t in tokens {
        let n = new_tickets.get(t).unwrap_or(&zero);
        let o = old_tickets.get(t).unwrap_or(&zero);
        let a = parameter_tickets.get(t).unwrap_or(&zero);
        let storage_diff = n - o;
        let diff = &storage_diff - a;
        if diff.is_positive() && t.ticketer != self_contract {
            return Err(Error::InvalidTicketTransfer {
                ticketer: t.ticketer.to_b58check(),
                amount: diff,
            });
        }
        if !storage_diff.is_zero() {
            receipt.push(TicketUpdate {
                token: t.clone(),
                account: self_dest,
                amount: storage_diff,
            });
        }
        if !diff.is_zero() {
            self_diff.insert(t.clone(), diff);
        }
    }
    // Tickets sent: at most what left the storage and the parameter, unless self-minted.
    let mut sent: BTreeMap<TicketToken, BigInt> = BTreeMap::new();
    let mut credits = Vec::new();
    for op in &operations {
        for (t, amount) in op.tickets() {
            *sent.entry(t.clone()).or_insert_with(BigInt::zero) += &amount;
            credits.push(TicketUpdate {
                token: t,
                account: op.destination.destination,
                amount,
            });
        }
    }
    for (t, amount) in &sent {
        if t.ticketer == self_contract {
            continue;
        }
        let budget = -self_diff.get(t).cloned().unwrap_or_default();
        if *amount > budget {
            return Err(Error::InvalidTicketTransfer {
                ticketer: t.ticketer.to_b58check(),
                amount: amount.clone(),
            });
        }
    }
    let mut ticket_updates: Vec<TicketUpdate> = self_diff
        .into_iter()
        .map(|(token, amount)| TicketUpdate {
            token,
            account: self_dest,
            amount,
        })
        .collect();
    ticket_updates.extend(credits.iter().cloned());
    receipt.extend(credits);

    let mut diffs = Vec::new();
    let new = finalize_big_maps(*new, &old_ids, chain, &mut diffs);
    let storage = new.to_expr(Mode::Optimized);
    gas.charge(value::GAS_PER_DATA_NODE * types::node_count(&storage) as u64)?;
    for op in &operations {
        let p = op.parameters_expr();
        gas.charge(value::GAS_PER_DATA_NODE * types::node_count(&p) as u64)?;
    }
    Ok(Execution {
        operations,
        storage_readable: new.to_expr(Mode::Readable),
        storage,
        big_map_diffs: diffs,
        ticket_updates,
        ticket_receipt: receipt,
        parameter_tickets,
        consumed_milligas: gas.used(),
    })
}

/// Checks the parameter type of a rollup being originated as octez's
/// `Sc_rollup_operations.validate_untyped_parameters_ty` does: a type of the subset with no
/// entrypoint annotations, no `mutez`, `big_map` or `operation` (error
/// `smart_rollup_invalid_parameters_type`). Types octez allows but the subset lacks (`key`,
/// `signature`, BLS) are refused as [`Error::Unsupported`].
pub fn check_rollup_parameter_type(e: &Expr) -> Result<Type, Error> {
    let entrypoints = Entrypoints::parse(e, 0)?;
    let invalid = |reason: String| Error::IllTyped {
        location: 0,
        what: "type",
        id: "smart_rollup_invalid_parameters_type",
        reason,
    };
    if let Some(name) = entrypoints.named.keys().next() {
        return Err(invalid(format!(
            "rollup parameter types cannot have entrypoints (%{name})"
        )));
    }
    fn allowed(t: &Type) -> bool {
        match t {
            Type::Mutez | Type::BigMap(..) | Type::Operation => false,
            Type::Pair(a, b) | Type::Or(a, b) | Type::Map(a, b) => allowed(a) && allowed(b),
            Type::Option(a) | Type::List(a) | Type::Set(a) | Type::Ticket(a) => allowed(a),
            _ => true,
        }
    }
    if !allowed(&entrypoints.root) {
        return Err(invalid(format!(
            "{} holds mutez, a big_map or an operation",
            entrypoints.root
        )));
    }
    Ok(entrypoints.root)
}

/// octez's JSON `lazy_storage_diff` for these diffs (one entry per big map, in order of first
/// appearance): `[{"kind":"big_map","id":"4","diff":{"action":"alloc"|"update"|"copy"|"remove",
/// "updates":[{"key_hash":"expr..","key":..,"value":..}],"key_type":..,"value_type":..,
/// "source":..}}]`.
pub fn lazy_storage_diff_json(diffs: &[BigMapDiff]) -> serde_json::Value {
    use serde_json::{json, Map, Value as J};
    let mut order: Vec<BigInt> = Vec::new();
    let mut entries: BTreeMap<BigInt, Map<String, J>> = BTreeMap::new();
    for d in diffs {
        let id = match d {
            BigMapDiff::Alloc { id, .. }
            | BigMapDiff::Copy { id, .. }
            | BigMapDiff::Update { id, .. }
            | BigMapDiff::Remove { id } => id,
        };
        let e = entries.entry(id.clone()).or_insert_with(|| {
            order.push(id.clone());
            let mut m = Map::new();
            m.insert("action".into(), json!("update"));
            m.insert("updates".into(), json!([]));
            m
        });
        match d {
            BigMapDiff::Alloc {
                key_type,
                value_type,
                ..
            } => {
                e.insert("action".into(), json!("alloc"));
                e.insert("key_type".into(), key_type.to_expr().to_json().into());
                e.insert("value_type".into(), value_type.to_expr().to_json().into());
            }
            BigMapDiff::Copy { source, .. } => {
                e.insert("action".into(), json!("copy"));
                e.insert("source".into(), json!(source.to_string()));
            }
            BigMapDiff::Update {
                key,
                key_hash,
                value,
                ..
            } => {
                let mut u = Map::new();
                u.insert(
                    "key_hash".into(),
                    json!(soru_core::encoding::base58::encode(
                        &soru_core::encoding::base58::SCRIPT_EXPR_HASH,
                        key_hash
                    )),
                );
                u.insert("key".into(), key.to_json().into());
                if let Some(v) = value {
                    u.insert("value".into(), v.to_json().into());
                }
                if let Some(J::Array(us)) = e.get_mut("updates") {
                    us.push(J::Object(u));
                }
            }
            BigMapDiff::Remove { .. } => {
                e.clear();
                e.insert("action".into(), json!("remove"));
            }
        }
    }
    J::Array(
        order
            .into_iter()
            .map(|id| {
                let diff = entries.remove(&id).unwrap_or_default();
                json!({ "kind": "big_map", "id": id.to_string(), "diff": diff })
            })
            .collect(),
    )
}

/// octez's JSON ticket receipt (`ticket_updates` of a result) for these changes, grouped by
/// token in order of first appearance:
/// `[{"ticket_token":{"ticketer","content_type","content"},"updates":[{"account","amount"}]}]`.
pub fn ticket_receipt_json(updates: &[TicketUpdate]) -> serde_json::Value {
    use serde_json::{json, Value as J};
    let mut groups: Vec<(&TicketToken, Vec<J>)> = Vec::new();
    for u in updates {
        let item = json!({
            "account": u.account.to_b58check(),
            "amount": u.amount.to_string(),
        });
        match groups.iter_mut().find(|(t, _)| *t == &u.token) {
            Some((_, items)) => items.push(item),
            None => groups.push((&u.token, vec![item])),
        }
    }
    J::Array(
        groups
            .into_iter()
            .map(|(t, items)| json!({ "ticket_token": t.to_json(), "updates": items }))
            .collect(),
    )
}

/// octez's `script_expr_hash`: BLAKE2b-256 of the packed expression (`0x05` + binary).
pub fn script_expr_hash(e: &Expr) -> [u8; 32] {
    use blake2::digest::consts::U32;
    use blake2::{Blake2b, Digest};
    let mut bytes = vec![5u8];
    e.encode_into(&mut bytes);
    Blake2b::<U32>::digest(&bytes).into()
}

fn collect_big_map_ids(v: &Value, out: &mut BTreeSet<BigInt>) {
    match v {
        Value::BigMap(b) => {
            if let Some(id) = &b.id {
                out.insert(id.clone());
            }
        }
        Value::Pair(a, b) => {
            collect_big_map_ids(a, out);
            collect_big_map_ids(b, out);
        }
        Value::Left(a) | Value::Right(a) | Value::Option(Some(a)) => collect_big_map_ids(a, out),
        Value::List(items) => items.iter().for_each(|v| collect_big_map_ids(v, out)),
        Value::Map(m) => m.values().for_each(|v| collect_big_map_ids(v, out)),
        _ => {}
    }
}

/// Gives every big map of `v` a final id: the first use of a big map of the old storage keeps
/// its id, other uses become copies, new big maps are allocated; big maps of the old storage
/// no longer used are removed.
fn finalize_big_maps(
    v: Value,
    old_ids: &BTreeSet<BigInt>,
    chain: &mut dyn Chain,
    diffs: &mut Vec<BigMapDiff>,
) -> Value {
    let mut claimed = BTreeSet::new();
    let v = finalize(v, old_ids, &mut claimed, chain, diffs);
    for id in old_ids.difference(&claimed) {
        diffs.push(BigMapDiff::Remove { id: id.clone() });
    }
    v
}

fn finalize(
    v: Value,
    old_ids: &BTreeSet<BigInt>,
    claimed: &mut BTreeSet<BigInt>,
    chain: &mut dyn Chain,
    diffs: &mut Vec<BigMapDiff>,
) -> Value {
    let mut rec = |v: Value, chain: &mut dyn Chain, diffs: &mut Vec<BigMapDiff>| {
        finalize(v, old_ids, claimed, chain, diffs)
    };
    match v {
        Value::BigMap(b) => {
            let id = match &b.id {
                Some(id) if old_ids.contains(id) && !claimed.contains(id) => {
                    claimed.insert(id.clone());
                    id.clone()
                }
                Some(source) => {
                    let id = chain.fresh_big_map_id();
                    diffs.push(BigMapDiff::Copy {
                        id: id.clone(),
                        source: source.clone(),
                    });
                    id
                }
                None => {
                    let id = chain.fresh_big_map_id();
                    diffs.push(BigMapDiff::Alloc {
                        id: id.clone(),
                        key_type: b.key_ty.clone(),
                        value_type: b.value_ty.clone(),
                    });
                    id
                }
            };
            let fresh = b.id.is_none();
            for (k, val) in b.overlay {
                if fresh && val.is_none() {
                    continue;
                }
                let key = k.to_expr(Mode::Optimized);
                diffs.push(BigMapDiff::Update {
                    id: id.clone(),
                    key_hash: script_expr_hash(&key),
                    key,
                    value: val.map(|v| v.to_expr(Mode::Optimized)),
                });
            }
            Value::BigMap(BigMap {
                id: Some(id),
                key_ty: b.key_ty,
                value_ty: b.value_ty,
                overlay: BTreeMap::new(),
            })
        }
        Value::Pair(a, b) => {
            let a = rec(*a, chain, diffs);
            let b = rec(*b, chain, diffs);
            Value::pair(a, b)
        }
        Value::Left(a) => Value::Left(Box::new(rec(*a, chain, diffs))),
        Value::Right(a) => Value::Right(Box::new(rec(*a, chain, diffs))),
        Value::Option(Some(a)) => Value::some(rec(*a, chain, diffs)),
        Value::List(items) => {
            Value::List(items.into_iter().map(|v| rec(v, chain, diffs)).collect())
        }
        Value::Map(m) => Value::Map(
            m.into_iter()
                .map(|(k, v)| (k, rec(v, chain, diffs)))
                .collect(),
        ),
        other => other,
    }
}
