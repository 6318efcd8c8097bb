// The same npm package (pkg/web.js) in headless Chromium: every real output proof, the
// corrupted one, the lazily loaded replay entry, and the README's web example as written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { chromium } from 'playwright-core';
import { loadVectors, readmeExample, repoRoot } from './vectors.mjs';

const vectors = loadVectors();
const types = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
const example = vectors.find((v) => v.outboxLevel === 2138);
const echo = readFileSync(repoRoot + 'target/sdk-kernels/kernels/echo.wasm');
const inputs = readFileSync(repoRoot + 'node-shim/examples/inputs.json', 'utf8');

const README_NODE_URL = 'http://localhost:8932';
let origin;
const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/') {
    res.setHeader('content-type', 'text/html');
    const page = readmeExample('web').replace(README_NODE_URL, origin);
    res.end(`<!doctype html><script type="importmap">{"imports":{"soru-verifier":"/pkg/web.js"}}</script><body></body>${page}`);
  } else if (url.pathname === '/echo.wasm') {
    res.setHeader('content-type', 'application/wasm');
    res.end(echo);
  } else if (example && url.pathname === `/global/block/head/helpers/proofs/outbox/${example.outboxLevel}/messages` && url.search === '?index=0') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ commitment: example.commitment, proof: example.proof }));
  } else if (url.pathname.startsWith('/pkg/') && !url.pathname.includes('..')) {
    try {
      const body = readFileSync(repoRoot + url.pathname.slice(1));
      res.setHeader('content-type', types[extname(url.pathname)] ?? 'application/octet-stream');
      res.end(body);
    } catch {
      res.statusCode = 404;
      res.end();
    }
  } else {
    res.statusCode = 404;
    res.end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run'],
});
const page = await browser.newPage();
const errors = [];
page.on('pageerror', (e) => errors.push(e.message));

test.after(async () => {
  await browser.close();
  server.close();
});

test('the README web example runs as written', async (t) => {
  if (!example) return t.skip('vector 05 absent');
  await page.goto(origin + '/');
  await page.waitForFunction(() => document.body.textContent.length > 0, null, { timeout: 20000 });
  const text = await page.evaluate(() => document.body.textContent);
  assert.equal(text, 'untyped: [{"destination":"KT1RstTQHYxjwHpN8jHaqBPgtxJdMSC4cc3w","parameters":{"string":"Hello world"}}]');
  assert.deepEqual(errors, []);
});

test('every vector in the browser, and the corrupted one', async () => {
  const results = await page.evaluate(async (vs) => {
    const soru = await import('/pkg/web.js');
    return vs.map((v) => {
      const r = soru.verifyOutboxProof(v.proof, v.srs1);
      let corrupted = null;
      if (v.corrupted) {
        try {
          soru.verifyOutboxProof(v.corrupted, v.srs1);
          corrupted = 'accepted';
        } catch (e) {
          corrupted = `${e.constructor.name}: ${e.message}`;
        }
      }
      return { level: r.outboxLevel, index: r.messageIndex, kind: r.decoded.kind, tickets: r.tickets.map((t) => typeof t.amount), corrupted };
    });
  }, vectors);
  vectors.forEach((v, i) => {
    assert.equal(results[i].level, v.outboxLevel, v.name);
    assert.equal(results[i].index, v.messageIndex, v.name);
    assert.equal(results[i].kind, 'untyped', v.name);
    if (v.name.includes('withdrawal')) assert.deepEqual(results[i].tickets, ['bigint']);
    if (v.corrupted) assert.match(results[i].corrupted, /^Error: invalid output proof: root hash mismatch/);
  });
});

test('replay loads its module lazily and matches Node', async () => {
  const before = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name));
  assert.ok(!before.some((n) => n.includes('soru_replay')), 'the replay module is not loaded up front');
  const hash = await page.evaluate(async (inputsJson) => {
    const soru = await import('/pkg/web.js');
    const kernel = new Uint8Array(await (await fetch('/echo.wasm')).arrayBuffer());
    return (await soru.replay(kernel, inputsJson)).stateHash;
  }, inputs);
  const node = await import(repoRoot + 'pkg/node.js');
  assert.equal(hash, (await node.replay(new Uint8Array(echo), inputs)).stateHash);
});
