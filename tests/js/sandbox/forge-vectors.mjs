// Prints operation vectors made by Taquito's local forger and InMemorySigner, as JSON:
// [{"name", "operation": {branch, contents}, "forged": hex, "signed": hex, "hash": "o.."}].
// core/tests/data/taquito_operations.json is this script's output:
//   node tests/js/sandbox/forge-vectors.mjs > core/tests/data/taquito_operations.json
import { LocalForger } from '@taquito/local-forging';
import { InMemorySigner } from '@taquito/signer';
import { b58Encode, encodeOpHash, PrefixV2 } from '@taquito/utils';

const signer = new InMemorySigner('edsk3QoqBuvdamxouPhin7swCvkQNgq4jP5KZPbwWNnwdZpSpJiEbq');
const source = await signer.publicKeyHash();
const publicKey = await signer.publicKey();
const branch = 'BLockGenesisGenesisGenesisGenesisGenesisf79b5d1CoW2';
const m = (kind, counter, extra) => ({
  kind, source, fee: '1270', counter: String(counter), gas_limit: '10100', storage_limit: '257', ...extra,
});
const cases = [
  ['reveal', [m('reveal', 1, { public_key: publicKey })]],
  ['transaction', [m('transaction', 2, { amount: '1000000', destination: 'tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx' })]],
  ['transaction_call', [m('transaction', 3, {
    amount: '0', destination: 'KT1HqWsXrGbHWc9muqkApqWu64WsxCU3FoRf',
    parameters: { entrypoint: 'mint', value: { prim: 'Pair', args: [{ string: 'sr1' }, { int: '42' }] } },
  })]],
  ['transaction_named_default', [m('transaction', 4, {
    amount: '5', destination: 'KT1HqWsXrGbHWc9muqkApqWu64WsxCU3FoRf',
    parameters: { entrypoint: 'do', value: { bytes: 'cafe' } },
  })]],
  ['origination', [m('origination', 5, {
    balance: '0',
    script: {
      code: [{ prim: 'parameter', args: [{ prim: 'nat' }] }, { prim: 'storage', args: [{ prim: 'nat' }] },
        { prim: 'code', args: [[{ prim: 'CAR' }, { prim: 'NIL', args: [{ prim: 'operation' }] }, { prim: 'PAIR' }]] }],
      storage: { int: '7' },
    },
  })]],
  ['smart_rollup_originate', [m('smart_rollup_originate', 6, {
    pvm_kind: 'wasm_2_0_0', kernel: '0061736d01000000', parameters_ty: { prim: 'bytes' },
  })]],
  ['smart_rollup_add_messages', [m('smart_rollup_add_messages', 7, { message: ['48656c6c6f', '', '00ff'] })]],
  ['smart_rollup_execute_outbox_message', [m('smart_rollup_execute_outbox_message', 8, {
    rollup: 'sr163Lv22CdE8QagCwf48PWDTquk6isQwv57',
    cemented_commitment: 'src12UJzB8mg7yU6nWPzicH7ofJbFjyJEbHvwtZdfRXi8DQHNp1LY8',
    output_proof: '030002',
  })]],
  ['reveal_and_originate', [m('reveal', 9, { public_key: publicKey }), m('smart_rollup_originate', 10, {
    pvm_kind: 'wasm_2_0_0', kernel: '23212f62696e2f7368', parameters_ty: { prim: 'pair', args: [{ prim: 'string' }, { prim: 'ticket', args: [{ prim: 'bytes' }] }] },
  })]],
];
const forger = new LocalForger();
const out = [];
for (const [name, contents] of cases) {
  const operation = { branch, contents };
  const forged = await forger.forge(operation);
  const { sbytes } = await signer.sign(forged, new Uint8Array([3]));
  out.push({ name, operation, forged, signed: sbytes, hash: encodeOpHash(sbytes) });
}
// The same reveal and transaction signed by a Secp256k1 (tz2) and a P-256 (tz3) key, fixed
// secret scalars: ECDSA signatures as Taquito makes them (`ecdsa`).
const ecdsa = [];
for (const [scheme, prefix, fill] of [['secp256k1', PrefixV2.Secp256k1SecretKey, 1], ['p256', PrefixV2.P256SecretKey, 2]]) {
  const secretKey = b58Encode(new Uint8Array(32).map((_, i) => (i * 13 + fill) & 0xff), prefix);
  const s = new InMemorySigner(secretKey);
  const src = await s.publicKeyHash();
  const pk = await s.publicKey();
  const vectors = [];
  for (const [name, contents] of [
    ['reveal', [{ ...m('reveal', 1, { public_key: pk }), source: src }]],
    ['transaction', [{ ...m('transaction', 2, { amount: '1000000', destination: source }), source: src }]],
  ]) {
    const forged = await forger.forge({ branch, contents });
    const { sbytes } = await s.sign(forged, new Uint8Array([3]));
    vectors.push({ name, forged, signed: sbytes, hash: encodeOpHash(sbytes) });
  }
  ecdsa.push({ scheme, source: src, public_key: pk, secret_key: secretKey, vectors });
}
console.log(JSON.stringify({ source, public_key: publicKey, secret_key: 'edsk3QoqBuvdamxouPhin7swCvkQNgq4jP5KZPbwWNnwdZpSpJiEbq', vectors: out, ecdsa }, null, 1));
