// Taquito 25 against `soru sandbox run`: node tests/js/sandbox/basics.mjs RPC_URL DATA_DIR
// (node-shim/tests/sandbox.rs starts the sandbox and runs this). Prints one JSON line per
// step; exits non-zero on the first failure.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TezosToolkit } from '@taquito/taquito';
import { InMemorySigner } from '@taquito/signer';
import { LocalForger } from '@taquito/local-forging';

const [rpc, dataDir] = process.argv.slice(2);
const repo = new URL('../../../', import.meta.url);
const wallet = JSON.parse(readFileSync(`${dataDir}/wallet.json`, 'utf8'));
const log = (step, fields = {}) => console.log(JSON.stringify({ step, ...fields }));

const toolkit = (secretKey) => {
  const t = new TezosToolkit(rpc);
  t.setProvider({ signer: new InMemorySigner(secretKey), config: { confirmationPollingIntervalSecond: 0.2 } });
  return t;
};
const get = async (path) => {
  const r = await fetch(rpc + path);
  const text = await r.text();
  assert.equal(r.status, 200, `${path}: HTTP ${r.status} ${text}`);
  return JSON.parse(text);
};
const post = async (path, body) => {
  const r = await fetch(rpc + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
};
const blockHas = async (level, hash) => {
  const b = await get(`/chains/main/blocks/${level}`);
  return b.operations[3].find((o) => o.hash === hash);
};

const boot = toolkit(wallet[0].secret_key);

// 1. A transfer to a fresh key, whose first operation then carries a reveal.
const freshKey = 'edsk3QoqBuvdamxouPhin7swCvkQNgq4jP5KZPbwWNnwdZpSpJiEbq';
const fresh = toolkit(freshKey);
const freshPkh = await fresh.signer.publicKeyHash();
const t1 = await boot.contract.transfer({ to: freshPkh, amount: 50 });
const level1 = await t1.confirmation(1);
assert.equal(t1.status, 'applied');
assert.ok(await blockHas(t1.includedInBlock, t1.hash), 'transfer in its block');
assert.equal((await boot.tz.getBalance(freshPkh)).toNumber(), 50_000_000);
log('transfer', { hash: t1.hash, level: level1, to: freshPkh });

const t2 = await fresh.contract.transfer({ to: wallet[1].address, amount: 1 });
await t2.confirmation(1);
assert.equal(t2.status, 'applied');
const revealed = await blockHas(t2.includedInBlock, t2.hash);
assert.deepEqual(revealed.contents.map((c) => c.kind), ['reveal', 'transaction']);
assert.equal(await get(`/chains/main/blocks/head/context/contracts/${freshPkh}/manager_key`), await fresh.signer.publicKey());
log('reveal', { hash: t2.hash, kinds: revealed.contents.map((c) => c.kind) });

// 1b. Secp256k1 (tz2) and P-256 (tz3) accounts: funded, then revealing and spending with their
// own ECDSA signatures; a signature by another key is refused at injection.
for (const secretKey of [
  'spsk1S2deD7ko5BuUx25Yc3JeguXrCW9y3WVU14uvWuZp5ZHQGK71f',
  'p2sk2MhQDYpPiUnBfP1sgaCD1YPaMwiRxWhcvZCdPrgNdNZUEWBTUb',
]) {
  const account = toolkit(secretKey);
  const pkh = await account.signer.publicKeyHash();
  const fund = await boot.contract.transfer({ to: pkh, amount: 5 });
  await fund.confirmation(1);
  const spend = await account.contract.transfer({ to: wallet[1].address, amount: 1 });
  await spend.confirmation(1);
  assert.equal(spend.status, 'applied');
  const op = await blockHas(spend.includedInBlock, spend.hash);
  assert.deepEqual(op.contents.map((c) => c.kind), ['reveal', 'transaction']);
  assert.equal(await get(`/chains/main/blocks/head/context/contracts/${pkh}/manager_key`), await account.signer.publicKey());
  const balance = (await boot.tz.getBalance(pkh)).toNumber();
  assert.ok(balance < 4_000_000 && balance > 3_900_000, `${pkh} balance ${balance}`);
  // The same account's next transfer, signed by the Ed25519 key instead: refused.
  const forger = new LocalForger();
  const header = await get('/chains/main/blocks/head/header');
  const counter = await get(`/chains/main/blocks/head/context/contracts/${pkh}/counter`);
  const forged = await forger.forge({ branch: header.hash, contents: [{
    kind: 'transaction', source: pkh, fee: '1000', counter: String(Number(counter) + 1),
    gas_limit: '2000', storage_limit: '0', amount: '1', destination: wallet[1].address,
  }] });
  const { sbytes } = await fresh.signer.sign(forged, new Uint8Array([3]));
  const bad = await fetch(rpc + '/injection/operation', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(sbytes) });
  const badText = await bad.text();
  assert.notEqual(bad.status, 200, badText);
  assert.match(badText, /signature/i);
  log('ecdsa', { pkh, hash: spend.hash, balance });
}

// 2. Contracts: the example ticketer and receiver (Michelson text, as users write it).
const ticketerCode = readFileSync(new URL('node-shim/contracts/ticketer.tz', repo), 'utf8');
const receiverCode = readFileSync(new URL('node-shim/contracts/receiver.tz', repo), 'utf8');
const o1 = await fresh.contract.originate({ code: ticketerCode, init: '(Pair "a ticket" 0)' });
await o1.confirmation(1);
assert.equal(o1.status, 'applied');
const ticketer = o1.contractAddress;
assert.match(ticketer, /^KT1/);
const o2 = await boot.contract.originate({ code: receiverCode, init: '(Pair None {})' });
await o2.confirmation(1);
const receiver = o2.contractAddress;
const rc = await boot.contract.at(receiver);
assert.deepEqual(Object.keys(rc.methodsObject).sort(), ['receive', 'release']);
log('originate', { ticketer, receiver });

// 3. A rollup (any kernel bytes are accepted at origination, as on L1).
const kernel = Buffer.from('#!/bin/sh\necho a kernel that is not wasm\n').toString('hex');
const sro = await boot.contract.smartRollupOriginate({
  pvmKind: 'wasm_2_0_0', kernel, parametersType: { prim: 'ticket', args: [{ prim: 'string' }] },
});
await sro.confirmation(1);
assert.equal(sro.status, 'applied');
// Taquito's operationResults come from the preapply, which predicts the next block. The genesis
// commitment includes the origination level, so when the sandbox bakes between the preapply and
// the injection the prediction is one level off: the included block's receipt is the truth.
const sroOp = await blockHas(sro.includedInBlock, sro.hash);
const res = sroOp.contents.find((c) => c.kind === 'smart_rollup_originate').metadata.operation_result;
assert.equal(res.status, 'applied');
const rollup = res.address;
assert.match(rollup, /^sr1/);
assert.match(res.genesis_commitment_hash, /^src1/);
assert.ok(Number(res.size) > 0);
assert.equal(sro.operationResults.address, rollup);
assert.equal(sro.kernel, kernel);
assert.equal(await get(`/chains/main/blocks/head/context/smart_rollups/smart_rollup/${rollup}/kind`), 'wasm_2_0_0');
const genesis = await get(`/chains/main/blocks/head/context/smart_rollups/smart_rollup/${rollup}/genesis_info`);
assert.equal(genesis.commitment_hash, res.genesis_commitment_hash);
assert.equal(genesis.level, sro.includedInBlock);
const lcc = await get(`/chains/main/blocks/head/context/smart_rollups/smart_rollup/${rollup}/last_cemented_commitment_hash_with_level`);
assert.deepEqual(lcc, { hash: res.genesis_commitment_hash, level: genesis.level });
log('smart_rollup_originate', { rollup, genesis_commitment_hash: res.genesis_commitment_hash, size: res.size });

// 4. Messages, applied in a block.
const am = await boot.contract.smartRollupAddMessages({ message: ['68656c6c6f', '00ff'] });
await am.confirmation(1);
assert.equal(am.status, 'applied');
const inBlock = await blockHas(am.includedInBlock, am.hash);
assert.deepEqual(inBlock.contents[0].message, ['68656c6c6f', '00ff']);
assert.equal(inBlock.contents[0].metadata.operation_result.status, 'applied');
log('smart_rollup_add_messages', { hash: am.hash, level: am.includedInBlock });

// 5. The ticketer deposits 10 tickets into the rollup (an internal transfer to sr1).
const tc = await fresh.contract.at(ticketer);
const dep = await tc.methodsObject.default({ rollup, amount: 10 }).send();
await dep.confirmation(1);
assert.equal(dep.status, 'applied');
const depOp = await blockHas(dep.includedInBlock, dep.hash);
const internal = depOp.contents.at(-1).metadata.internal_operation_results;
assert.equal(internal[0].destination, rollup);
assert.equal(internal[0].result.status, 'applied');
const tickets = await get(`/chains/main/blocks/head/context/smart_rollups/smart_rollup/${rollup}/tickets`);
assert.equal(tickets[0].amount, '10');
const st = await tc.storage();
assert.equal(st.minted.toNumber(), 10);
log('deposit', { hash: dep.hash, tickets });

// 6. Bad operations get octez errors.
const errorIds = async (promise) => {
  try { await promise; } catch (e) {
    const body = e.body ? JSON.parse(e.body) : e.errors ?? [];
    return (Array.isArray(body) ? body : []).map((x) => x.id).concat(e.message ?? []);
  }
  assert.fail('expected an error');
};
const ids1 = await errorIds(boot.contract.smartRollupExecuteOutboxMessage({
  rollup: 'sr163Lv22CdE8QagCwf48PWDTquk6isQwv57',
  cementedCommitment: res.genesis_commitment_hash, outputProof: '00',
}));
assert.ok(ids1.some((i) => i.includes('smart_rollup_does_not_exist')), ids1.join());
const ids2 = await errorIds(boot.contract.smartRollupAddMessages({ message: ['aa'.repeat(5000)] }));
assert.ok(ids2.some((i) => i.includes('smart_rollup_inbox_message_encoding')), ids2.join());
log('errors_via_taquito', { unknown_rollup: ids1[0], oversized_message: ids2[0] });

// Raw injections: a wrong signature, a wrong counter, an operation over 32 KiB.
const forger = new LocalForger();
const head = await get('/chains/main/blocks/head/header');
const account = await get(`/chains/main/blocks/head/context/contracts/${wallet[0].address}`);
const forge = (counter, extra = {}) => forger.forge({
  branch: head.hash,
  contents: [{ kind: 'transaction', source: wallet[0].address, fee: '1000', counter: String(counter),
    gas_limit: '2000', storage_limit: '0', amount: '1', destination: wallet[1].address, ...extra }],
});
const inject = async (bytes, signer) => {
  const { sbytes } = await signer.sign(bytes, new Uint8Array([3]));
  return post('/injection/operation', sbytes);
};
const other = new InMemorySigner(wallet[1].secret_key);
const me = new InMemorySigner(wallet[0].secret_key);
const badSig = await inject(await forge(Number(account.counter) + 1), other);
assert.equal(badSig.status, 500);
assert.ok(badSig.body.some((e) => e.id.endsWith('operation.invalid_signature')), JSON.stringify(badSig.body));
const badCounter = await inject(await forge(Number(account.counter) + 7), me);
const cerr = badCounter.body.find((e) => e.id.endsWith('contract.counter_in_the_future'));
assert.ok(cerr, JSON.stringify(badCounter.body));
assert.equal(cerr.expected, String(Number(account.counter) + 1));
const pastCounter = await inject(await forge(Number(account.counter)), me);
assert.ok(pastCounter.body.some((e) => e.id.endsWith('contract.counter_in_the_past')), JSON.stringify(pastCounter.body));
const big = await forger.forge({ branch: head.hash, contents: [{ kind: 'smart_rollup_add_messages', source: wallet[0].address,
  fee: '100000', counter: String(Number(account.counter) + 1), gas_limit: '100000', storage_limit: '0',
  message: Array.from({ length: 9 }, () => 'bb'.repeat(4000)) }] });
const oversized = await inject(big, me);
assert.ok(oversized.body.some((e) => e.id.endsWith('oversized_operation')), JSON.stringify(oversized.body));
const good = await inject(await forge(Number(account.counter) + 1), me);
assert.equal(good.status, 200, JSON.stringify(good.body));
assert.match(good.body, /^o/);
log('errors_via_injection', { invalid_signature: true, counter_in_the_future: cerr.expected, counter_in_the_past: true, oversized: true });
log('done');
