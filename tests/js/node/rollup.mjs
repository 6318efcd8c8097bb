// Taquito 25 steps for soru-node's end-to-end test (node-shim/tests/node.rs runs them against a
// real `soru sandbox run`):
//   node tests/js/node/rollup.mjs RPC_URL DATA_DIR originate KERNEL_HEX   -> {"rollup","level"}
//   node tests/js/node/rollup.mjs RPC_URL DATA_DIR send HEX...            -> {"level"}
// Prints one JSON line; exits non-zero on failure.
import { readFileSync } from 'node:fs';
import { TezosToolkit } from '@taquito/taquito';
import { InMemorySigner } from '@taquito/signer';

const [rpc, dataDir, step, ...args] = process.argv.slice(2);
const wallet = JSON.parse(readFileSync(`${dataDir}/wallet.json`, 'utf8'));
const tezos = new TezosToolkit(rpc);
tezos.setProvider({
  signer: new InMemorySigner(wallet[0].secret_key),
  config: { confirmationPollingIntervalSecond: 0.2 },
});

if (step === 'originate') {
  const op = await tezos.contract.smartRollupOriginate({
    pvmKind: 'wasm_2_0_0',
    kernel: args[0],
    parametersType: { prim: 'bytes' },
  });
  await op.confirmation(1);
  if (op.status !== 'applied') throw new Error(`origination ${op.status}`);
  console.log(JSON.stringify({ rollup: op.operationResults.address, level: op.includedInBlock }));
} else if (step === 'send') {
  const op = await tezos.contract.smartRollupAddMessages({ message: args });
  await op.confirmation(1);
  if (op.status !== 'applied') throw new Error(`add_messages ${op.status}`);
  console.log(JSON.stringify({ level: op.includedInBlock }));
} else {
  throw new Error(`unknown step ${step}`);
}
