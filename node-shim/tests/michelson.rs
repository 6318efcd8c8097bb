//! The sandbox's Michelson subset through its library API: type-checking the example contracts
//! of `node-shim/contracts/`, rejecting what is outside the subset, and running them.

use std::collections::BTreeMap;

use num_bigint::BigInt;
use soru_core::encoding::address::{
    Contract as ContractAddr, ContractHash, Destination, PublicKeyHash, SmartRollupAddress,
};
use soru_core::encoding::micheline::Expr;
use soru_core::encoding::michelson::parse;
use soru_node::sandbox::michelson::{
    check_rollup_parameter_type, execute, lazy_storage_diff_json, originate, pack,
    script_expr_hash, ticket_receipt_json, Address, BigMapDiff, Chain, Contract, Entrypoints,
    Error, Execution, ExecutionContext, Parameter, TextError, Type, Value,
};

const TICKETER: &str = include_str!("../contracts/ticketer.tz");
const RECEIVER: &str = include_str!("../contracts/receiver.tz");

const ROLLUP: &str = "sr163Lv22CdE8QagCwf48PWDTquk6isQwv57";
const ALICE: &str = "tz1Ke2h7sDdakHJQh8WX4Z372du1KChsksyU";

fn kt1(n: u8) -> ContractHash {
    ContractHash([n; 20])
}

/// A big map's key type, value type and contents (by encoded key).
type StoredBigMap = (Type, Type, BTreeMap<Vec<u8>, Expr>);

/// The chain as a contract sees it: known contracts, rollups and big maps.
#[derive(Default)]
struct TestChain {
    contracts: BTreeMap<ContractHash, Entrypoints>,
    rollups: BTreeMap<SmartRollupAddress, Expr>,
    big_maps: BTreeMap<BigInt, StoredBigMap>,
    next_id: i64,
}

impl Chain for TestChain {
    fn contract_entrypoints(&self, kt1: &ContractHash) -> Option<Entrypoints> {
        self.contracts.get(kt1).cloned()
    }
    fn rollup_parameter_type(&self, sr1: &SmartRollupAddress) -> Option<Expr> {
        self.rollups.get(sr1).cloned()
    }
    fn big_map_get(&self, id: &BigInt, key: &Expr) -> Option<Expr> {
        self.big_maps.get(id)?.2.get(&key.encode()).cloned()
    }
    fn big_map_types(&self, id: &BigInt) -> Option<(Type, Type)> {
        self.big_maps
            .get(id)
            .map(|(k, v, _)| (k.clone(), v.clone()))
    }
    fn fresh_big_map_id(&mut self) -> BigInt {
        self.next_id += 1;
        BigInt::from(self.next_id - 1)
    }
}

impl TestChain {
    fn with_rollup() -> TestChain {
        let mut c = TestChain::default();
        c.rollups
            .insert(ROLLUP.parse().unwrap(), parse("ticket string").unwrap());
        c
    }

    fn apply(&mut self, diffs: &[BigMapDiff]) {
        for d in diffs {
            match d {
                BigMapDiff::Alloc {
                    id,
                    key_type,
                    value_type,
                } => {
                    self.big_maps.insert(
                        id.clone(),
                        (key_type.clone(), value_type.clone(), BTreeMap::new()),
                    );
                }
                BigMapDiff::Update { id, key, value, .. } => {
                    let m = &mut self.big_maps.get_mut(id).unwrap().2;
                    match value {
                        Some(v) => m.insert(key.encode(), v.clone()),
                        None => m.remove(&key.encode()),
                    };
                }
                BigMapDiff::Copy { id, source } => {
                    let copy = self.big_maps[source].clone();
                    self.big_maps.insert(id.clone(), copy);
                }
                BigMapDiff::Remove { id } => {
                    self.big_maps.remove(id);
                }
            }
        }
    }
}

fn ctx(self_address: ContractHash, sender: &str) -> ExecutionContext {
    ExecutionContext {
        sender: Destination::from_b58check(sender).unwrap(),
        source: ALICE.parse().unwrap(),
        self_address,
        amount: 0,
        balance: 0,
        level: 7,
        now: 1_700_000_000,
        chain_id: [1, 2, 3, 4],
        gas_limit_milligas: 10_000_000,
    }
}

fn run(
    contract: &Contract,
    entrypoint: &str,
    param: &str,
    storage: &Expr,
    ctx: &ExecutionContext,
    chain: &mut TestChain,
    from_rollup: bool,
) -> Result<Execution, Error> {
    let p = parse(param).unwrap();
    execute(
        contract,
        entrypoint,
        Parameter::Micheline {
            value: &p,
            from_rollup,
        },
        storage,
        ctx,
        chain,
    )
}

fn rejected_with(r: Result<Execution, Error>) -> String {
    match r {
        Err(Error::ScriptRejected { value, .. }) => value.to_string(),
        other => panic!("expected a FAILWITH, got {other:?}"),
    }
}

#[test]
fn examples_type_check_with_their_entrypoints() {
    let t = Contract::from_text(TICKETER).unwrap();
    assert_eq!(t.entrypoints().root, Type::pair(Type::Address, Type::Nat));
    assert_eq!(t.storage_type(), &Type::pair(Type::String, Type::Nat));
    assert!(t.typecheck_gas() > 0);
    let r = Contract::from_text(RECEIVER).unwrap();
    let names: Vec<&String> = r.entrypoints().named.keys().collect();
    assert_eq!(names, ["receive", "release"]);
    assert_eq!(
        r.entrypoints().get("receive").unwrap().ty,
        Type::ticket(Type::String)
    );
    let release: serde_json::Value = serde_json::from_str(
        r#"{"args":[{"annots":["%to"],"prim":"address"},{"annots":["%amount"],"prim":"nat"}],"annots":["%release"],"prim":"pair"}"#,
    )
    .unwrap();
    assert_eq!(r.entrypoints_json()["entrypoints"]["release"], release);
    // The JSON and binary forms Taquito and operations carry give the same contract.
    let j = Contract::from_json(&r.script().to_json().into()).unwrap();
    assert_eq!(j.entrypoints(), r.entrypoints());
    let b = Contract::from_binary(&r.script().encode()).unwrap();
    assert_eq!(b.storage_type(), r.storage_type());
}

#[test]
fn primitives_outside_the_subset_are_named_with_their_place() {
    let src = "parameter unit;\nstorage unit;\ncode { CDR ;\n       LAMBDA unit unit {} ; DROP ;\n       NIL operation ; PAIR }";
    match Contract::from_text(src) {
        Err(TextError::Check {
            line,
            column,
            error: Error::Unsupported { prim, location },
        }) => {
            assert_eq!((line, column, prim.as_str()), (4, 8, "LAMBDA"));
            assert_eq!(location, 8);
        }
        other => panic!("expected LAMBDA to be rejected, got {other:?}"),
    }
    for (code, prim) in [
        ("parameter unit; storage unit; code { DROP ; PUSH mutez 0 ; NONE key_hash ; SET_DELEGATE ; DROP 2 ; UNIT ; NIL operation ; PAIR }", "SET_DELEGATE"),
        ("parameter (lambda unit unit); storage unit; code { CDR ; NIL operation ; PAIR }", "lambda"),
        ("parameter unit; storage (big_map nat (ticket nat)); code { CDR ; NIL operation ; PAIR }", "big_map holding tickets"),
        ("parameter unit; storage unit; code { CDR ; NIL operation ; PAIR }; view \"v\" unit unit { CDR }", "view"),
    ] {
        let e = Contract::from_text(code).unwrap_err();
        let TextError::Check { error, .. } = &e else {
            panic!("{e}")
        };
        assert!(
            matches!(error, Error::Unsupported { prim: p, .. } if p == prim),
            "{code}: {e}"
        );
        assert_eq!(error.id(), "michelson_v1.invalid_primitive");
        let json = error.to_octez_json("proto.025-PsUshuai.");
        assert_eq!(json["id"], "proto.025-PsUshuai.michelson_v1.invalid_primitive");
        assert_eq!(json["wrong_primitive_name"], prim);
    }
}

#[test]
fn ill_typed_code_is_rejected_with_octez_ids() {
    let cases = [
        ("code { CAR ; PUSH string \"a\" ; ADD ; NIL operation ; PAIR }", "michelson_v1.undefined_binop"),
        ("code { CDR ; NIL operation ; PAIR ; DUP }", "michelson_v1.bad_return"),
        ("code { DROP ; DROP ; UNIT ; NIL operation ; PAIR }", "michelson_v1.bad_stack"),
        ("code { CAR ; IF_NONE { UNIT } { DROP ; PUSH nat 1 } ; NIL operation ; PAIR }", "michelson_v1.bad_stack"),
        ("code { CDR ; IF { UNIT } { PUSH nat 1 } ; DROP ; UNIT ; NIL operation ; PAIR }", "michelson_v1.bad_stack"),
        ("code { CDR ; DUP ; IF { UNIT } { PUSH nat 1 } ; DROP 2 ; UNIT ; NIL operation ; PAIR }", "michelson_v1.bad_stack"),
        ("code { CDR ; PUSH bool True ; IF { UNIT } { PUSH nat 1 } ; DROP 2 ; UNIT ; NIL operation ; PAIR }", "michelson_v1.unmatched_branches"),
        ("code { FAILWITH ; UNIT }", "michelson_v1.fail_not_in_tail_position"),
        ("code { CDR ; PUSH nat -1 ; DROP ; NIL operation ; PAIR }", "michelson_v1.invalid_constant"),
    ];
    for (code, id) in cases {
        let src = format!("parameter int; storage unit; {code}");
        let e = Contract::from_text(&src).unwrap_err();
        let TextError::Check { error, .. } = &e else {
            panic!("{src}: {e}")
        };
        assert_eq!(error.id(), id, "{src}: {e}");
    }
    // Tickets cannot be duplicated.
    let e = Contract::from_text(
        "parameter (ticket nat); storage unit; code { CAR ; DUP ; DROP 2 ; UNIT ; NIL operation ; PAIR }",
    )
    .unwrap_err();
    assert!(e.to_string().contains("cannot be duplicated"), "{e}");
}

#[test]
fn ticketer_deposits_tickets_into_the_rollup() {
    let t = Contract::from_text(TICKETER).unwrap();
    let mut chain = TestChain::with_rollup();
    let me = kt1(1);
    let storage = originate(&t, &parse("Pair \"gold\" 0").unwrap(), &mut chain).unwrap();
    assert!(storage.big_map_diffs.is_empty());
    let ctx = ctx(me, ALICE);
    let param = format!("Pair \"{ROLLUP}\" 10");
    let ex = run(
        &t,
        "default",
        &param,
        &storage.storage,
        &ctx,
        &mut chain,
        false,
    )
    .unwrap();
    assert_eq!(ex.storage_readable.to_string(), "Pair \"gold\" 10");
    assert_eq!(ex.operations.len(), 1);
    let op = &ex.operations[0];
    assert_eq!(op.destination.to_b58check(), ROLLUP);
    assert_eq!(op.amount, 0);
    assert_eq!(op.parameter_ty, Type::ticket(Type::String));
    // As octez writes the inbox's transfer payload: Pair <ticketer bytes> (Pair "gold" 10).
    let ticketer = ContractAddr::Originated(me).encode();
    assert_eq!(ticketer.len(), 22);
    let expected = format!("Pair 0x{} (Pair \"gold\" 10)", hex::encode(&ticketer));
    assert_eq!(op.parameters_expr().to_string(), expected);
    // The rollup is credited; the ticketer's own balance does not change (nothing stored).
    assert_eq!(ex.ticket_updates.len(), 1);
    let u = &ex.ticket_updates[0];
    assert_eq!(u.account, Destination::from_b58check(ROLLUP).unwrap());
    assert_eq!(u.amount, BigInt::from(10));
    assert_eq!(u.token.ticketer, ContractAddr::Originated(me));
    assert_eq!(u.token.contents, Value::String("gold".into()));
    assert_eq!(
        u.token.to_json(),
        serde_json::json!({
            "ticketer": me.to_b58check(),
            "content_type": {"prim": "string"},
            "content": {"string": "gold"},
        })
    );

    // Calling it again counts on.
    let ex2 = run(&t, "default", &param, &ex.storage, &ctx, &mut chain, false).unwrap();
    assert_eq!(ex2.storage_readable.to_string(), "Pair \"gold\" 20");

    // No tickets for 0, no deposit to an unknown rollup.
    let zero = format!("Pair \"{ROLLUP}\" 0");
    assert_eq!(
        rejected_with(run(
            &t,
            "default",
            &zero,
            &ex.storage,
            &ctx,
            &mut chain,
            false
        )),
        "\"amount must be positive\""
    );
    let unknown = format!("Pair \"{}\" 5", SmartRollupAddress([9; 20]).to_b58check());
    let err = run(
        &t,
        "default",
        &unknown,
        &ex.storage,
        &ctx,
        &mut chain,
        false,
    )
    .unwrap_err();
    assert_eq!(err.id(), "michelson_v1.script_rejected");
    let json = err.to_octez_json("proto.025-PsUshuai.");
    assert_eq!(json["with"]["string"], "not a rollup taking ticket string");
    assert!(json["location"].as_u64().unwrap() > 0);
}

#[test]
fn receiver_records_withdrawals_and_joins_and_splits_tickets() {
    let r = Contract::from_text(RECEIVER).unwrap();
    let mut chain = TestChain::with_rollup();
    let me = kt1(2);
    let ticketer = kt1(1).to_b58check();
    let s0 = originate(&r, &parse("Pair None {}").unwrap(), &mut chain).unwrap();
    let from_rollup = ctx(me, ROLLUP);

    // A withdrawal delivers 3 units (ticket written as the rollup's outbox carries it).
    let t3 = format!("Pair \"{ticketer}\" (Pair \"gold\" 3)");
    let ex = run(
        &r,
        "receive",
        &t3,
        &s0.storage,
        &from_rollup,
        &mut chain,
        true,
    )
    .unwrap();
    assert!(ex.operations.is_empty());
    assert_eq!(
        ex.storage_readable.to_string(),
        format!("Pair (Some (Pair \"{ticketer}\" \"gold\" 3)) {{ Pair \"{ROLLUP}\" \"{ticketer}\" \"gold\" 3 }}")
    );
    assert_eq!(
        ex.parameter_tickets.values().collect::<Vec<_>>(),
        [&BigInt::from(3)]
    );
    // The tickets were credited before the call; keeping them changes nothing more.
    assert!(ex.ticket_updates.is_empty());
    assert_eq!(ex.ticket_receipt.len(), 1);
    assert_eq!(ex.ticket_receipt[0].amount, BigInt::from(3));

    // A second one (the `Ticket` literal form) is joined: 3 + 4.
    let t4 = format!("Ticket \"{ticketer}\" string \"gold\" 4");
    let ex = run(
        &r,
        "receive",
        &t4,
        &ex.storage,
        &from_rollup,
        &mut chain,
        true,
    )
    .unwrap();
    assert!(ex
        .storage_readable
        .to_string()
        .starts_with(&format!("Pair (Some (Pair \"{ticketer}\" \"gold\" 7))")));
    let held = ex.storage.clone();

    // Other contents cannot be joined.
    let silver = format!("Pair \"{ticketer}\" (Pair \"silver\" 1)");
    assert_eq!(
        rejected_with(run(
            &r,
            "receive",
            &silver,
            &held,
            &from_rollup,
            &mut chain,
            true
        )),
        "\"a different ticket is already held\""
    );
    // Tickets cannot be forged by an ordinary transaction.
    let forged = run(
        &r,
        "receive",
        &t3,
        &held,
        &ctx(me, ALICE),
        &mut chain,
        false,
    )
    .unwrap_err();
    assert_eq!(forged.id(), "michelson_v1.unexpected_forged_value");

    // Release 2 of the 7 to Alice: split into 5 kept and 2 sent.
    let by_alice = ctx(me, ALICE);
    let ex = run(
        &r,
        "release",
        &format!("Pair \"{ALICE}\" 2"),
        &held,
        &by_alice,
        &mut chain,
        false,
    )
    .unwrap();
    assert!(ex
        .storage_readable
        .to_string()
        .starts_with(&format!("Pair (Some (Pair \"{ticketer}\" \"gold\" 5))")));
    assert_eq!(ex.operations.len(), 1);
    let op = &ex.operations[0];
    assert_eq!(op.destination.to_b58check(), ALICE);
    let sent: Vec<_> = op.tickets().into_values().collect();
    assert_eq!(sent, [BigInt::from(2)]);
    let updates: Vec<(String, BigInt)> = ex
        .ticket_updates
        .iter()
        .map(|u| (u.account.to_b58check(), u.amount.clone()))
        .collect();
    assert_eq!(
        updates,
        [
            (me.to_b58check(), BigInt::from(-2)),
            (ALICE.to_string(), BigInt::from(2))
        ]
    );

    // Releasing everything leaves no ticket; more than held fails; 0 cannot be split off.
    let ex = run(
        &r,
        "release",
        &format!("Pair \"{ROLLUP}\" 7"),
        &held,
        &by_alice,
        &mut chain,
        false,
    )
    .unwrap();
    assert!(ex.storage_readable.to_string().starts_with("Pair None"));
    assert_eq!(ex.operations[0].destination.to_b58check(), ROLLUP);
    assert_eq!(
        ex.operations[0].parameters_expr().to_string(),
        format!(
            "Pair 0x{} (Pair \"gold\" 7)",
            hex::encode(ContractAddr::Originated(kt1(1)).encode())
        )
    );
    assert_eq!(
        rejected_with(run(
            &r,
            "release",
            &format!("Pair \"{ALICE}\" 8"),
            &held,
            &by_alice,
            &mut chain,
            false
        )),
        "\"not enough units held\""
    );
    assert_eq!(
        rejected_with(run(
            &r,
            "release",
            &format!("Pair \"{ALICE}\" 0"),
            &held,
            &by_alice,
            &mut chain,
            false
        )),
        "\"cannot split the ticket\""
    );
    // A destination that does not take tickets.
    chain
        .contracts
        .insert(kt1(9), Entrypoints::of_type(Type::Nat));
    let to_kt1 = format!("Pair \"{}\" 1", kt1(9).to_b58check());
    assert_eq!(
        rejected_with(run(
            &r, "release", &to_kt1, &held, &by_alice, &mut chain, false
        )),
        "\"destination does not take ticket string\""
    );
    assert!(matches!(
        run(&r, "nope", "Unit", &held, &by_alice, &mut chain, false),
        Err(Error::NoSuchEntrypoint(e)) if e == "nope"
    ));
}

/// SPLIT_TICKET and JOIN_TICKETS amounts, one contract: mint `n`, split into `(a, b)`, join
/// back, and store what came out.
#[test]
fn split_and_join_amounts() {
    let src = "parameter (pair nat nat nat);
storage (option (pair nat nat nat));
code { CAR ; UNPAIR 3 ;
       PUSH string \"t\" ; TICKET ; IF_NONE { PUSH string \"zero\" ; FAILWITH } {} ;
       DUG 2 ; PAIR ; SWAP ; SPLIT_TICKET ;
       IF_NONE { NONE (pair nat nat nat) }
               { UNPAIR ; READ_TICKET ; GET 4 ; DUG 2 ; SWAP ; READ_TICKET ; GET 4 ; DUG 2 ;
                 PAIR ; JOIN_TICKETS ; IF_NONE { PUSH string \"join\" ; FAILWITH } {} ;
                 READ_TICKET ; GET 4 ; DIP { DROP } ; DUG 2 ; PAIR 3 ; SOME } ;
       NIL operation ; PAIR }";
    let c = Contract::from_text(src).unwrap();
    let mut chain = TestChain::default();
    let ctx = ctx(kt1(3), ALICE);
    let none = parse("None").unwrap();
    let out = |p: &str, chain: &mut TestChain| {
        run(&c, "default", p, &none, &ctx, chain, false).map(|e| e.storage_readable.to_string())
    };
    // (kept part b, split part a, joined) with the stack order of the code above.
    assert_eq!(
        out("Pair 10 3 7", &mut chain).unwrap(),
        "Some (Pair 7 3 10)"
    );
    assert_eq!(out("Pair 10 3 8", &mut chain).unwrap(), "None");
    assert_eq!(out("Pair 10 0 10", &mut chain).unwrap(), "None");
    assert_eq!(out("Pair 10 10 0", &mut chain).unwrap(), "None");
    assert_eq!(out("Pair 1 1 0", &mut chain).unwrap(), "None");
    assert!(matches!(
        out("Pair 0 0 0", &mut chain),
        Err(Error::ScriptRejected { .. })
    ));
}

#[test]
fn gas_is_deterministic_and_limited() {
    let t = Contract::from_text(TICKETER).unwrap();
    let mut chain = TestChain::with_rollup();
    let storage = parse("Pair \"gold\" 0").unwrap();
    let param = format!("Pair \"{ROLLUP}\" 10");
    let c = ctx(kt1(1), ALICE);
    let a = run(&t, "default", &param, &storage, &c, &mut chain, false).unwrap();
    let b = run(&t, "default", &param, &storage, &c, &mut chain, false).unwrap();
    assert!(a.consumed_milligas > 0);
    assert_eq!(a.consumed_milligas, b.consumed_milligas);
    // The same script checked again costs the same too.
    assert_eq!(
        Contract::from_text(TICKETER).unwrap().typecheck_gas(),
        t.typecheck_gas()
    );
    let mut tight = c.clone();
    tight.gas_limit_milligas = a.consumed_milligas - 1;
    let e = run(&t, "default", &param, &storage, &tight, &mut chain, false).unwrap_err();
    assert_eq!(e.id(), "gas_exhausted.operation");
    tight.gas_limit_milligas = a.consumed_milligas;
    assert!(run(&t, "default", &param, &storage, &tight, &mut chain, false).is_ok());

    // An endless loop runs out of gas instead of hanging.
    let spin = Contract::from_text(
        "parameter unit; storage unit; code { PUSH bool True ; LOOP { PUSH bool True } ; CDR ; NIL operation ; PAIR }",
    )
    .unwrap();
    let e = run(
        &spin,
        "default",
        "Unit",
        &parse("Unit").unwrap(),
        &c,
        &mut chain,
        false,
    )
    .unwrap_err();
    assert!(matches!(
        e,
        Error::GasExhausted {
            limit_milligas: 10_000_000
        }
    ));
}

#[test]
fn big_maps_are_allocated_updated_and_read_back() {
    let src = "parameter (or (pair %set string nat) (string %check));
storage (pair (big_map string nat) (option nat));
code { UNPAIR ;
       IF_LEFT { UNPAIR ; DIP { SOME } ; DIG 2 ; CAR ; SWAP ; DIP { SWAP } ; UPDATE ; NONE nat ; SWAP ; PAIR }
               { DIP { CAR } ; DUP 2 ; SWAP ; GET ; SWAP ; PAIR } ;
       NIL operation ; PAIR }";
    let c = Contract::from_text(src).unwrap();
    let mut chain = TestChain::default();
    let o = originate(&c, &parse("Pair { Elt \"a\" 1 } None").unwrap(), &mut chain).unwrap();
    assert_eq!(o.storage.to_string(), "Pair 0 None");
    assert!(matches!(&o.big_map_diffs[0], BigMapDiff::Alloc { id, .. } if *id == BigInt::from(0)));
    assert!(
        matches!(&o.big_map_diffs[1], BigMapDiff::Update { value: Some(v), .. } if v.to_string() == "1")
    );
    chain.apply(&o.big_map_diffs);
    let ctx = ctx(kt1(4), ALICE);
    let ex = run(
        &c,
        "set",
        "Pair \"b\" 2",
        &o.storage,
        &ctx,
        &mut chain,
        false,
    )
    .unwrap();
    assert_eq!(ex.storage.to_string(), "Pair 0 None");
    assert_eq!(ex.big_map_diffs.len(), 1);
    let BigMapDiff::Update { key, key_hash, .. } = &ex.big_map_diffs[0] else {
        panic!("{:?}", ex.big_map_diffs)
    };
    assert_eq!(key.to_string(), "\"b\"");
    assert_eq!(
        *key_hash,
        soru_node::sandbox::michelson::script_expr_hash(key)
    );
    chain.apply(&ex.big_map_diffs);
    let ex = run(&c, "check", "\"a\"", &ex.storage, &ctx, &mut chain, false).unwrap();
    assert_eq!(ex.storage.to_string(), "Pair 0 (Some 1)");
    let ex = run(&c, "check", "\"b\"", &ex.storage, &ctx, &mut chain, false).unwrap();
    assert_eq!(ex.storage.to_string(), "Pair 0 (Some 2)");
    let ex = run(&c, "check", "\"z\"", &ex.storage, &ctx, &mut chain, false).unwrap();
    assert_eq!(ex.storage.to_string(), "Pair 0 None");
    // A storage naming a big map that does not exist is refused.
    let e = c
        .check_storage(&parse("Pair 5 None").unwrap(), &chain)
        .unwrap_err();
    assert_eq!(e.id(), "michelson_v1.invalid_constant");
}

#[test]
fn context_instructions_and_data_forms() {
    let src = "parameter unit;
storage (pair address address address mutez mutez nat timestamp);
code { DROP ; NOW ; LEVEL ; BALANCE ; AMOUNT ; SELF_ADDRESS ; SOURCE ; SENDER ; PAIR 7 ;
       NIL operation ; PAIR }";
    let c = Contract::from_text(src).unwrap();
    let mut chain = TestChain::default();
    let mut ctx = ctx(kt1(5), ROLLUP);
    ctx.amount = 12;
    ctx.balance = 100;
    let init = format!("Pair \"{ALICE}\" \"{ALICE}\" \"{ALICE}\" 0 0 0 \"1970-01-01T00:00:00Z\"");
    let ex = run(
        &c,
        "default",
        "Unit",
        &parse(&init).unwrap(),
        &ctx,
        &mut chain,
        false,
    )
    .unwrap();
    assert_eq!(
        ex.storage_readable.to_string(),
        format!(
            "Pair \"{ROLLUP}\" \"{ALICE}\" \"{}\" 12 100 7 \"2023-11-14T22:13:20Z\"",
            kt1(5).to_b58check()
        )
    );
    // The optimized form: binary addresses, integer timestamp, a sequence for long combs.
    let s = ex.storage.to_string();
    assert!(s.starts_with("{ 0x03"), "{s}");
    assert!(s.ends_with("; 12 ; 100 ; 7 ; 1700000000 }"), "{s}");
    // and it reads back.
    assert!(c.check_storage(&ex.storage, &chain).is_ok());
    let pkh: PublicKeyHash = ALICE.parse().unwrap();
    assert_eq!(pkh.to_b58check(), ALICE);
}

#[test]
fn internal_transfers_hand_over_typed_tickets() {
    // The ticketer's deposit, sent to the receiver's %receive instead of a rollup.
    let t = Contract::from_text(TICKETER).unwrap();
    let r = Contract::from_text(RECEIVER).unwrap();
    let mut chain = TestChain::default();
    chain.contracts.insert(kt1(2), r.entrypoints().clone());
    let to = format!("Pair \"{}%receive\" 5", kt1(2).to_b58check());
    let ex = run(
        &t,
        "default",
        &to,
        &parse("Pair \"gold\" 0").unwrap(),
        &ctx(kt1(1), ALICE),
        &mut chain,
        false,
    )
    .unwrap();
    let op = ex.operations.into_iter().next().unwrap();
    assert_eq!(op.destination.entrypoint, "receive");
    let rx = execute(
        &r,
        &op.destination.entrypoint,
        Parameter::Value(op.parameter),
        &parse("Pair None {}").unwrap(),
        &ctx(kt1(2), &kt1(1).to_b58check()),
        &mut chain,
    )
    .unwrap();
    assert!(rx.storage_readable.to_string().starts_with(&format!(
        "Pair (Some (Pair \"{}\" \"gold\" 5))",
        kt1(1).to_b58check()
    )));
    // A value of the wrong type is refused, not run.
    let e = execute(
        &r,
        "receive",
        Parameter::Value(Value::nat(1)),
        &parse("Pair None {}").unwrap(),
        &ctx(kt1(2), ALICE),
        &mut chain,
    )
    .unwrap_err();
    assert_eq!(e.id(), "michelson_v1.bad_contract_parameter");
}

#[test]
fn deep_code_is_refused_without_overflowing() {
    let n = 600;
    let code = format!(
        "parameter unit; storage unit; code {{ {} CDR ; NIL operation ; PAIR {} }}",
        "DIP 0 { ".repeat(n),
        " }".repeat(n)
    );
    let e = Contract::from_text(&code).unwrap_err();
    assert!(e.to_string().contains("nested deeper"), "{e}");
    // Moderately nested code checks and runs.
    let code = format!(
        "parameter unit; storage unit; code {{ {} CDR ; NIL operation ; PAIR {} }}",
        "DIP 0 { ".repeat(60),
        " }".repeat(60)
    );
    let c = Contract::from_text(&code).unwrap();
    let mut chain = TestChain::default();
    run(
        &c,
        "default",
        "Unit",
        &parse("Unit").unwrap(),
        &ctx(kt1(1), ALICE),
        &mut chain,
        false,
    )
    .unwrap();
}

/// PACK and big map key hashes against values `octez-client hash data` printed (quoted on
/// tezos.stackexchange.com questions 3079 and 3123).
#[test]
fn pack_and_key_hashes_match_octez() {
    assert_eq!(pack(&Value::Int(BigInt::from(1))), [5, 0, 1]);
    let one = parse("1").unwrap();
    assert_eq!(
        hex::encode(script_expr_hash(&one)),
        "438c52065d4605460b12d1b9446876a1c922b416103a20d44e994a9fd2b8ed07"
    );
    let addr = Value::Address(Address::new(
        Destination::from_b58check("KT1PWx2mnDueood7fEmfbBDKx1D9BAnnXitn").unwrap(),
    ));
    let packed = pack(&addr);
    assert_eq!(
        hex::encode(&packed),
        "050a0000001601a3d0f58d8964bd1b37fb0a0c197b38cf46608d4900"
    );
    let key = Expr::decode(&packed[1..]).unwrap();
    assert_eq!(
        hex::encode(script_expr_hash(&key)),
        "d8a60c00b3c8f62cc2b3b8006b1858a621b5b74e06d3c82916659beaa24c8f67"
    );
    // The receipt forms.
    let diffs = [
        BigMapDiff::Alloc {
            id: BigInt::from(4),
            key_type: Type::Int,
            value_type: Type::Unit,
        },
        BigMapDiff::Update {
            id: BigInt::from(4),
            key_hash: script_expr_hash(&one),
            key: one.clone(),
            value: Some(parse("Unit").unwrap()),
        },
        BigMapDiff::Remove {
            id: BigInt::from(2),
        },
    ];
    assert_eq!(
        lazy_storage_diff_json(&diffs),
        serde_json::json!([
            {"kind": "big_map", "id": "4", "diff": {
                "action": "alloc",
                "updates": [{
                    "key_hash": "expru2dKqDfZG8hu4wNGkiyunvq2hdSKuVYtcKta7BWP6Q18oNxKjS",
                    "key": {"int": "1"},
                    "value": {"prim": "Unit"},
                }],
                "key_type": {"prim": "int"},
                "value_type": {"prim": "unit"},
            }},
            {"kind": "big_map", "id": "2", "diff": {"action": "remove"}},
        ])
    );
    let t = Contract::from_text(TICKETER).unwrap();
    let mut chain = TestChain::with_rollup();
    let ex = run(
        &t,
        "default",
        &format!("Pair \"{ROLLUP}\" 3"),
        &parse("Pair \"gold\" 0").unwrap(),
        &ctx(kt1(1), ALICE),
        &mut chain,
        false,
    )
    .unwrap();
    assert_eq!(
        ticket_receipt_json(&ex.ticket_receipt),
        serde_json::json!([{
            "ticket_token": {
                "ticketer": kt1(1).to_b58check(),
                "content_type": {"prim": "string"},
                "content": {"string": "gold"},
            },
            "updates": [{"account": ROLLUP, "amount": "3"}],
        }])
    );
}

#[test]
fn rollup_parameter_types_and_error_traces() {
    assert_eq!(
        check_rollup_parameter_type(&parse("or (ticket string) (pair bytes nat)").unwrap())
            .unwrap(),
        Type::or(
            Type::ticket(Type::String),
            Type::pair(Type::Bytes, Type::Nat)
        )
    );
    for bad in ["or (nat %a) unit", "pair mutez nat", "big_map nat nat"] {
        let e = check_rollup_parameter_type(&parse(bad).unwrap()).unwrap_err();
        assert_eq!(e.id(), "smart_rollup_invalid_parameters_type", "{bad}: {e}");
    }
    assert_eq!(
        check_rollup_parameter_type(&parse("lambda unit unit").unwrap())
            .unwrap_err()
            .id(),
        "michelson_v1.invalid_primitive"
    );

    // A FAILWITH as octez reports it: runtime_error, then script_rejected.
    let t = Contract::from_text(TICKETER).unwrap();
    let mut chain = TestChain::with_rollup();
    let me = kt1(1).to_b58check();
    let e = run(
        &t,
        "default",
        &format!("Pair \"{ROLLUP}\" 0"),
        &parse("Pair \"gold\" 0").unwrap(),
        &ctx(kt1(1), ALICE),
        &mut chain,
        false,
    )
    .unwrap_err();
    let trace = e.octez_trace(&me, None, "proto.025-PsUshuai.");
    assert_eq!(
        trace[0]["id"],
        "proto.025-PsUshuai.michelson_v1.runtime_error"
    );
    assert_eq!(trace[0]["contract_handle"], me.as_str());
    assert_eq!(
        trace[1]["id"],
        "proto.025-PsUshuai.michelson_v1.script_rejected"
    );
    assert_eq!(
        trace[1]["with"],
        serde_json::json!({"string": "amount must be positive"})
    );
    // A parameter of the wrong type: bad_contract_parameter, then the typing error.
    let e = run(
        &t,
        "default",
        "Pair 1 2",
        &parse("Pair \"gold\" 0").unwrap(),
        &ctx(kt1(1), ALICE),
        &mut chain,
        false,
    )
    .unwrap_err();
    let trace = e.octez_trace(&me, None, "");
    assert_eq!(trace[0]["id"], "michelson_v1.bad_contract_parameter");
    assert_eq!(trace[1]["id"], "michelson_v1.invalid_constant");
    // Code outside the subset: ill_typed_contract carrying the script.
    let (script, _) = soru_core::encoding::michelson::parse_script(
        "parameter unit; storage unit; code { CDR ; SET_DELEGATE }",
    )
    .unwrap();
    let e = Contract::parse(&script).unwrap_err();
    let trace = e.octez_trace(&me, Some(&script), "");
    assert_eq!(trace[0]["id"], "michelson_v1.ill_typed_contract");
    assert_eq!(
        trace[0]["ill_typed_code"],
        serde_json::Value::from(script.to_json())
    );
    assert_eq!(trace[1]["id"], "michelson_v1.invalid_primitive");
    assert_eq!(trace[1]["location"], 8);
}

/// Copies and big numbers cost gas by size, so a call cannot allocate without bound even at
/// octez's hard gas limit.
#[test]
fn doubling_values_runs_out_of_gas() {
    let mut chain = TestChain::default();
    let mut c = ctx(kt1(1), ALICE);
    c.gas_limit_milligas = soru_node::sandbox::michelson::MAX_GAS_MILLIGAS;
    for body in [
        "PUSH string \"x\" ; PUSH bool True ; LOOP { DUP ; CONCAT ; PUSH bool True } ; DROP",
        "PUSH nat 3 ; PUSH bool True ; LOOP { DUP ; MUL ; PUSH bool True } ; DROP",
    ] {
        let src =
            format!("parameter unit; storage unit; code {{ {body} ; CDR ; NIL operation ; PAIR }}");
        let contract = Contract::from_text(&src).unwrap();
        let e = run(
            &contract,
            "default",
            "Unit",
            &parse("Unit").unwrap(),
            &c,
            &mut chain,
            false,
        )
        .unwrap_err();
        assert_eq!(e.id(), "gas_exhausted.operation", "{body}");
    }
}

/// Mutated scripts (bytes flipped in the binary form of the examples and of small contracts)
/// are refused or run, never panic; those that check run on a few parameters.
#[test]
fn mutated_scripts_never_panic() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let sources = [
        TICKETER.to_string(),
        RECEIVER.to_string(),
        "parameter (pair nat (or int string)); storage (pair (list nat) (map nat string) (set int) (option mutez));
         code { UNPAIR ; UNPAIR ; DIP { IF_LEFT { PUSH int 3 ; EDIV ; DROP ; PUSH nat 1 } { SIZE } } ;
                ADD ; DUP ; LSL ; DIP { UNPAIR 4 } ; CONS ; DIP { DUP ; SIZE ; SWAP ; DUP 2 ; GET ; DROP } ;
                PAIR 4 ; NIL operation ; PAIR }"
            .to_string(),
    ];
    let params = [
        format!("Pair \"{ROLLUP}\" 3"),
        format!("Pair \"{}\" (Pair \"gold\" 3)", kt1(1).to_b58check()),
        "Pair 2 (Left -7)".to_string(),
        "Pair 5 (Right \"abc\")".to_string(),
        "Unit".to_string(),
    ];
    let storages = [
        "Pair \"gold\" 0",
        "Pair None {}",
        "Pair { 1 } { Elt 0 \"a\" } { -1 ; 2 } (Some 5)",
        "Unit",
    ];
    let mut chain = TestChain::with_rollup();
    let c = ctx(kt1(1), ROLLUP);
    let (mut checked, mut ran) = (0, 0);
    for src in &sources {
        let (script, _) = soru_core::encoding::michelson::parse_script(src).unwrap();
        let bytes = script.encode();
        for _ in 0..3000 {
            let mut b = bytes.clone();
            for _ in 0..1 + next() % 3 {
                let i = (next() as usize) % b.len();
                b[i] = match next() % 3 {
                    0 => next() as u8,
                    1 => b[i].wrapping_add(1),
                    _ => b[i].wrapping_sub(1),
                };
            }
            let Ok(contract) = Contract::from_binary(&b) else {
                continue;
            };
            checked += 1;
            for s in storages {
                let s = parse(s).unwrap();
                let Ok(o) = originate(&contract, &s, &mut chain) else {
                    continue;
                };
                for p in &params {
                    for from_rollup in [false, true] {
                        if run(
                            &contract,
                            "default",
                            p,
                            &o.storage,
                            &c,
                            &mut chain,
                            from_rollup,
                        )
                        .is_ok()
                        {
                            ran += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 50 && ran > 20, "checked {checked}, ran {ran}");
}
