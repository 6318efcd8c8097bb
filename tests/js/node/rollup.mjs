// Taquito 25 steps for soru-node's end-to-end test (node-shim/tests/node.rs runs them against a
// real `soru sandbox run`); each prints one JSON line and exits non-zero on failure:
//   node tests/js/node/rollup.mjs RPC DATA_DIR originate KERNEL_HEX [TYPE_JSON] -> {"rollup","level"}
//   node tests/js/node/rollup.mjs RPC DATA_DIR send HEX...                      -> {"level"}
//   node tests/js/node/rollup.mjs RPC DATA_DIR contracts                        -> {"ticketer","receiver"}
//   node tests/js/node/rollup.mjs RPC DATA_DIR deposit TICKETER ROLLUP AMOUNT    -> {"level"}
//   node tests/js/node/rollup.mjs RPC DATA_DIR execute ROLLUP COMMITMENT PROOF   -> {"level"} or {"error"}
//   node tests/js/node/rollup.mjs RPC DATA_DIR storage KT1                      -> the storage (Micheline JSON)
// DATA_DIR is the sandbox's: its wallet.json's first key signs.
import { readFileSync } from 'node:fs';
import { TezosToolkit } from '@taquito/taquito';
import { InMemorySigner } from '@taquito/signer';

const [rpc, dataDir, step, ...args] = process.argv.slice(2);
const repo = new URL('../../../', import.meta.url);
const wallet = JSON.parse(readFileSync(`${dataDir}/wallet.json`, 'utf8'));
const tezos = new TezosToolkit(rpc);
tezos.setProvider({
  signer: new InMemorySigner(wallet[0].secret_key),
  config: { confirmationPollingIntervalSecond: 0.2 },
});
const print = (v) => console.log(JSON.stringify(v));
const applied = async (op, what) => {
  await op.confirmation(1);
  if (op.status !== 'applied') throw new Error(`${what}: ${op.status}`);
  return op;
};

if (step === 'originate') {
  const parametersType = args[1] ? JSON.parse(args[1]) : { prim: 'bytes' };
  const op = await applied(await tezos.contract.smartRollupOriginate({
    pvmKind: 'wasm_2_0_0', kernel: args[0], parametersType,
  }), 'origination');
  print({ rollup: op.operationResults.address, level: op.includedInBlock });
} else if (step === 'send') {
  const op = await applied(await tezos.contract.smartRollupAddMessages({ message: args }), 'add_messages');
  print({ level: op.includedInBlock });
} else if (step === 'contracts') {
  const code = (name) => readFileSync(new URL(`node-shim/contracts/${name}.tz`, repo), 'utf8');
  const t = await applied(await tezos.contract.originate({ code: code('ticketer'), init: '(Pair "a ticket" 0)' }), 'ticketer');
  const r = await applied(await tezos.contract.originate({ code: code('receiver'), init: '(Pair None {})' }), 'receiver');
  print({ ticketer: t.contractAddress, receiver: r.contractAddress });
} else if (step === 'deposit') {
  const [ticketer, rollup, amount] = args;
  const c = await tezos.contract.at(ticketer);
  const op = await applied(await c.methodsObject.default({ rollup, amount: Number(amount) }).send(), 'deposit');
  print({ level: op.includedInBlock });
} else if (step === 'execute') {
  const [rollup, cementedCommitment, outputProof] = args;
  try {
    const op = await applied(await tezos.contract.smartRollupExecuteOutboxMessage({
      rollup, cementedCommitment, outputProof,
    }), 'execute');
    print({ level: op.includedInBlock });
  } catch (e) {
    const body = e.body ? JSON.parse(e.body) : e.errors ?? [];
    print({ error: (Array.isArray(body) ? body : []).map((x) => x.id).concat(e.message ?? []) });
  }
} else if (step === 'storage') {
  const r = await fetch(`${rpc}/chains/main/blocks/head/context/contracts/${args[0]}/storage`);
  print(await r.json());
} else {
  throw new Error(`unknown step ${step}`);
}
