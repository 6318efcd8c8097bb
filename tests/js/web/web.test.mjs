// Browser tests of soru-web (dist/, built by `make web`) in headless Chromium.
//
//   node tests/js/web/web.test.mjs [DIST]
//
// Loads the page, loads a kernel, steps a level and reads the decoded outbox message; types
// debugger commands and compares the transcript with `soru debug --commands` on the same kernel
// and inputs; verifies a real octez output proof (valid) and its corrupted twin (invalid) by
// typing into the labelled fields; completes commands with Tab and reads memory in the memory
// panel; draws a profile's flame graph; stops a runaway kernel; names a trap's function; restores a session from local storage
// and from a share link; reports a precise network error on the Check commitments page; checks
// the commitments of a real `soru sandbox` + `soru-node` (echo kernel, originated with Taquito)
// as valid by the node's witnesses, as invalid through a proxy that forges one period's witness,
// and, through a proxy that serves no witnesses (as an octez node) and tampers one level's
// inbox, by the replay from origination, as invalid; verifies an outbox
// message's proof from the node against the commitment the L1 cemented. Needs
// target/debug/{soru,soru-node} (cargo build -p soru-node --bins). Saves screenshots of each
// page at 1280x800 and 390x844 under target/screenshots/.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import http from "node:http";
import os from "node:os";
import { execFileSync, spawn } from "node:child_process";
import { chromium } from "playwright-core";
import { serve, CHROMIUM } from "./serve.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const DIST = path.resolve(process.argv[2] ?? path.join(ROOT, "dist"));
const SHOTS = path.join(ROOT, "target/screenshots");
const VECTOR = path.join(ROOT, "../shared/vectors/tezos-output-proofs/05_taquito_mock_fixed_and_corrupted.txt");
const TIMEOUT = 60_000;
const BIN = path.join(ROOT, "target/debug");

fs.mkdirSync(SHOTS, { recursive: true });
assert.ok(fs.existsSync(path.join(DIST, "index.html")), `${DIST}/index.html is missing: run make web`);

const results = [];
async function test(name, fn) {
  const start = Date.now();
  try {
    await fn();
    results.push([name, true]);
    console.log(`ok - ${name} (${Date.now() - start} ms)`);
  } catch (e) {
    results.push([name, false]);
    console.log(`not ok - ${name}\n  ${String(e.stack ?? e).split("\n").join("\n  ")}`);
  }
}

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const server = await serve(DIST);
const browser = await chromium.launch(CHROMIUM);
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(String(e)));
page.setDefaultTimeout(TIMEOUT);

const status = page.locator("#playground-status");
async function waitDone(what) {
  await page.waitForFunction(
    () => {
      const t = document.querySelector("#playground-status")?.textContent ?? "";
      return / done in | failed: /.test(t);
    },
    null,
    { timeout: TIMEOUT },
  );
  const text = await status.textContent();
  assert.match(text, / done in /, `${what}: ${text}`);
  return text;
}
async function tab(name) {
  await page.getByRole("button", { name, exact: true }).click();
}
async function shoot(name, focus) {
  for (const [w, h] of [[1280, 800], [390, 844]]) {
    await page.setViewportSize({ width: w, height: h });
    if (focus) await page.locator(focus).first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(SHOTS, `${name}-${w}x${h}.png`), fullPage: false });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

await test("the page loads and becomes interactive", async () => {
  await page.goto(server.url);
  await page.locator("#ready").waitFor({ state: "attached" });
  await page.getByRole("heading", { name: "Playground", level: 2 }).waitFor();
  await shoot("playground-empty");
});

await test("load a kernel, step a level, see the decoded outbox message", async () => {
  await page.getByLabel("Bundled example").selectOption({ label: "Withdrawal: echo an outbox transaction" });
  await page.getByRole("button", { name: "Load example" }).click();
  await waitDone("load");
  assert.equal(await page.locator("#pvm-status").textContent(), "waiting_for_input");
  await page.getByRole("button", { name: "step inbox", exact: true }).click();
  await waitDone("step inbox");
  const outbox = page.locator(".outbox-message").first();
  await outbox.waitFor();
  const text = await outbox.textContent();
  assert.match(text, /Level 0, message 0/);
  assert.match(text, /"destination": "KT1/);
  assert.match(text, /Hello world/);
  await shoot("playground", ".outbox-message");
});

await test("debugger commands typed in the page print what soru debug prints", async () => {
  const lines = ["show status", "show outbox at level 0", "show key /counter as i32", "ls /", "step tick", "show inbox"];
  for (const line of lines) {
    await page.getByLabel(/^Debugger command/).fill(line);
    await page.getByLabel(/^Debugger command/).press("Enter");
    await waitDone(line);
  }
  const transcript = await page.locator("#transcript").textContent();
  // The same session from the CLI: the example's kernel and inputs, the same commands.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "soru-web-cli-"));
  fs.writeFileSync(path.join(dir, "commands"), ["step inbox", ...lines].join("\n") + "\n");
  const cli = execFileSync(path.join(BIN, "soru"), [
    "debug", "--kernel", path.join(ROOT, "node-shim/examples/echo.wat"),
    "--inputs", path.join(ROOT, "web-ui/examples/withdrawal-inputs.json"),
    "--commands", path.join(dir, "commands"),
  ], { encoding: "utf8" });
  assert.equal(transcript, cli);
  assert.match(transcript, /> show key \/counter as i32\n1\n/);
  await shoot("playground-commands", "#transcript");
});

await test("the session survives a reload and is shared as a URL", async () => {
  await page.reload();
  await page.locator("#ready").waitFor({ state: "attached" });
  await waitDone("restore");
  // step inbox (the button) and step tick (typed): the state-changing commands.
  assert.match(await status.textContent(), /Restoring echo.wat after 2 commands/);
  assert.equal(await page.locator(".outbox-message").count(), 1);
  await page.getByRole("button", { name: "Share link" }).click();
  const url = await page.getByLabel("Share link").inputValue();
  assert.match(url, /#page=playground&session=/);
  const other = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const p2 = await other.newPage();
  await p2.goto(url);
  await p2.waitForFunction(() => / done in /.test(document.querySelector("#playground-status")?.textContent ?? ""), null, { timeout: TIMEOUT });
  assert.equal(await p2.locator(".outbox-message").count(), 1);
  await other.close();
});

await test("Tab completes commands and the memory panel reads the kernel's memory", async () => {
  const box = page.getByLabel(/^Debugger command/);
  await box.fill("show key /cou");
  await box.press("Tab");
  await page.waitForFunction(() => document.querySelector("#command")?.value === "show key /counter ");
  await box.fill("show s");
  await box.press("Tab");
  await page.locator("#completions").getByText("state  status  subkeys").waitFor();
  // Inside a run: load the rest of the level, run kernel_run to its end (memory kept).
  for (const line of ["load inputs", "step result"]) {
    await box.fill(line);
    await box.press("Enter");
    await waitDone(line);
  }
  await page.getByLabel("Address").fill("256");
  await page.getByLabel("Bytes").fill("14");
  await page.getByLabel("Show as").selectOption("string");
  await page.getByRole("button", { name: "Show memory" }).click();
  await waitDone("show memory");
  assert.equal(await page.locator("#memory").textContent(), "start_of_level\n");
  await shoot("playground-memory", "#memory");
});

await test("profile draws a flame graph of fuel per kernel function", async () => {
  await page.getByLabel("Bundled example").selectOption({ label: "Echo (node-shim/examples)" });
  await page.getByRole("button", { name: "Load example" }).click();
  await waitDone("load echo");
  await page.getByLabel(/^Debugger command/).fill("profile");
  await page.getByLabel(/^Debugger command/).press("Enter");
  await waitDone("profile");
  assert.match(await page.locator("#transcript").textContent(), /> profile\nStarting the profiling until new messages are expected/);
  const bars = page.locator("#flamegraph .flame-bar");
  assert.equal(await bars.first().textContent(), "kernel_run");
  assert.ok((await bars.count()) >= 2, "kernel_run and its callees");
  assert.match(await bars.first().getAttribute("title"), /^kernel_run: \d+ fuel \(100\.0%\)$/);
  await shoot("playground-profile", "#flamegraph");
});

await test("a runaway kernel is stopped and the page stays responsive", async () => {
  await page.getByLabel("Bundled example").selectOption({ label: "Runaway: kernel_run never returns" });
  await page.getByRole("button", { name: "Load example" }).click();
  await waitDone("load runaway");
  await page.getByRole("button", { name: "step inbox", exact: true }).click();
  await page.waitForTimeout(1500);
  assert.match(await status.textContent(), /step inbox: running/);
  // The main thread is free while the worker spins: switching pages works.
  await tab("Verify withdrawal");
  await page.getByLabel("Output proof (hex)").waitFor();
  await tab("Playground");
  await page.getByRole("button", { name: "Stop" }).click();
  await waitDone("restore after stop");
  assert.equal(await page.locator("#pvm-status").textContent(), "waiting_for_input");
  assert.equal(await page.getByRole("button", { name: "Stop" }).isDisabled(), true);
});

await test("a bad kernel gets a precise error", async () => {
  await page.locator("#kernel-file").setInputFiles({
    name: "bad.wat", mimeType: "text/plain", buffer: Buffer.from("(module (func (export \"kernel_run\") (f32.const 1) drop))"),
  });
  await page.waitForFunction(() => / failed: /.test(document.querySelector("#playground-status")?.textContent ?? ""));
  const text = await status.textContent();
  assert.match(text, /float/i, text);
});

await test("a trap names the function, its call stack and the tick", async () => {
  await page.locator("#inputs").fill('[[{"external": "00"}]]');
  await page.locator("#kernel-file").setInputFiles({
    name: "trap.wat", mimeType: "text/plain",
    buffer: Buffer.from('(module (memory (export "memory") 1) (func $fail unreachable) (func $middle call $fail) (func (export "kernel_run") call $middle))'),
  });
  await page.waitForFunction(() => /Loading trap\.wat(: done in | failed: )/.test(document.querySelector("#playground-status")?.textContent ?? ""));
  assert.match(await status.textContent(), /Loading trap\.wat: done in /);
  await page.getByRole("button", { name: "step inbox", exact: true }).click();
  await waitDone("step inbox");
  const error = page.locator(".error", { hasText: "trapped" });
  await error.waitFor();
  const text = await error.textContent();
  assert.match(text, /Trap in `fail` \(at tick \d+, \d+ ticks into kernel_run 0 of level 0\): wasm trap: .*unreachable.*; call stack: kernel_run > middle > fail/, text);
  assert.match(await page.locator("#transcript").textContent(), /> step inbox\n(.*\n)*Trap in `fail`/);
});

await test("verify a real octez output proof (valid) and the corrupted one (invalid)", async () => {
  if (!fs.existsSync(VECTOR)) {
    if (process.env.CI === "true") throw new Error(`${VECTOR} is missing`);
    console.log(`# skipped: ${VECTOR} is missing`);
    return;
  }
  const text = fs.readFileSync(VECTOR, "utf8");
  const field = (k) => text.split("\n").find((l) => l.startsWith(k + "=")).slice(k.length + 1).trim();
  const srs1 = text.match(/# expected srs1[^:]*: (srs1\w+)/)[1];
  await tab("Verify withdrawal");
  await page.getByLabel("Output proof (hex)").fill(field("output_proof_hex"));
  await page.getByLabel(/^State hash or commitment/).fill(srs1);
  await page.getByRole("button", { name: "Verify proof" }).click();
  const result = page.locator("#verify-result");
  await result.getByText("Valid proof").waitFor();
  assert.match(await result.textContent(), /message 0 of the outbox of level 2138/);
  assert.match(await result.textContent(), /Hello world/);
  await shoot("verify", "#verify-result");
  await page.getByLabel("Output proof (hex)").fill(field("corrupted_output_proof_hex"));
  await page.getByRole("button", { name: "Verify proof" }).click();
  await result.getByText("Invalid proof").waitFor();
  await page.getByLabel("Output proof (hex)").fill("03zz");
  await page.getByRole("button", { name: "Verify proof" }).click();
  await result.getByText("Cannot verify: output proof: invalid hex character 'z' at character 2").waitFor();
  // The example buttons load the same vectors from dist/examples/.
  await page.getByRole("button", { name: "Etherlink FA1.2 withdrawal" }).click();
  await result.getByText("Valid proof").waitFor();
  assert.match(await result.textContent(), /level 2920293/);
});

await test("check commitments reports network errors with the URL", async () => {
  const port = await freePort();
  await tab("Check commitments");
  await page.getByRole("textbox", { name: "Rollup node URL" }).fill(`http://127.0.0.1:${port}`);
  await page.getByRole("button", { name: "Check", exact: true }).click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  assert.match(await alert.textContent(), new RegExp(`GET http://127.0.0.1:${port}/global/last_stored_commitment: network error`));
  await shoot("check-network-error", "#check-status");
});

/** Starts a server binary and resolves once it prints `RPC listening on http://ADDR`. */
function startServer(name, args) {
  const child = spawn(path.join(BIN, name), args, { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, RUST_LOG: "warn" } });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/RPC listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`${name} exited with ${code} before listening`)));
  });
}
function json(cmd, args) {
  const out = execFileSync(cmd, args, { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop());
}
async function getJson(url) {
  const r = await fetch(url);
  return { status: r.status, body: await r.json().catch(() => null) };
}
const children = [];

await test("check commitments of a real sandbox and node (valid, and invalid through a tampering proxy), and verify a withdrawal with the commitment from the L1", async () => {
  for (const b of ["soru", "soru-node"]) {
    assert.ok(fs.existsSync(path.join(BIN, b)), `${BIN}/${b} is missing: cargo build -p soru-node --bins`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "soru-web-check-"));
  const l1Dir = path.join(dir, "l1");
  execFileSync(path.join(BIN, "soru"), ["sandbox", "init", "--data-dir", l1Dir]);
  const l1 = await startServer("soru", ["sandbox", "run", "--data-dir", l1Dir, "--rpc-addr", "127.0.0.1:0", "--block-time", "0.2"]);
  const script = path.join(ROOT, "tests/js/node/rollup.mjs");
  const kernel = execFileSync(path.join(BIN, "soru"), ["kernel", "hex", path.join(ROOT, "node-shim/examples/echo.wat")], { encoding: "utf8" }).trim();
  const { rollup, level: origination } = json("node", [script, l1, l1Dir, "originate", kernel]);
  const nodeDir = path.join(dir, "node");
  // An operator (the sandbox's second bootstrap key) publishes and cements the commitments.
  const operator = JSON.parse(fs.readFileSync(path.join(l1Dir, "wallet.json"), "utf8"))[1].address;
  execFileSync(path.join(BIN, "soru-node"), ["init", "operator", "config", "for", rollup, "with", "operators", operator,
    "--data-dir", nodeDir, "--endpoint", l1, "--rpc-addr", "127.0.0.1:0", "--history-mode", "archive"]);
  const node = await startServer("soru-node", ["run", "--data-dir", nodeDir, "--wallet", path.join(l1Dir, "wallet.json")]);
  // The messages go in after the first commitment period (whose witness starts at the
  // origination state): the period holding them is checked by witness too.
  for (const until = Date.now() + 90_000; ;) {
    const { status, body } = await getJson(`${node}/global/last_stored_commitment`);
    if (status === 200 && body && body.commitment.inbox_level > origination) break;
    assert.ok(Date.now() < until, `no first commitment: ${status} ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const { level: sent } = json("node", [script, l1, l1Dir, "send", "68656c6c6f", "776f726c64"]);
  // Two commitment periods (5 levels each in the sandbox) past the messages.
  const deadline = Date.now() + 90_000;
  for (;;) {
    const { status, body } = await getJson(`${node}/global/last_stored_commitment`);
    if (status === 200 && body && body.commitment.inbox_level >= sent + 10) break;
    assert.ok(Date.now() < deadline, `no commitment past level ${sent + 10}: ${status} ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await tab("Check commitments");
  const field = page.getByRole("textbox", { name: "Rollup node URL" });
  const check = page.getByRole("button", { name: "Check", exact: true });
  const checkStatus = page.locator("#check-status");
  // Waits for the verdict about `url` (the status names the node it checked).
  const verdict = async (url) => {
    await page.waitForFunction((u) => {
      const t = document.querySelector("#check-status")?.textContent ?? "";
      return t.startsWith("Check failed") || t.includes(`commitments from ${u}:`);
    }, url, { timeout: TIMEOUT });
    return checkStatus.textContent();
  };
  await field.fill(node);
  await check.click();
  const text = await verdict(node);
  const alerts = async () => (await page.locator("[role=alert]").allTextContents()).join(" ");
  const valid = text.match(/Checked (\d+) commitments from \S+: \1 valid, 0 invalid, 0 not established \(the genesis commitment by its kernel at origination, (\d+) by the node's witness of their period, (\d+) by a replay of (\d+) levels from origination/);
  assert.ok(valid, `${text} ${await alerts()}`);
  const [, total, byWitness, replayed] = valid.map(Number);
  assert.ok(total >= 4, `genesis and at least three commitments: ${text}`);
  // Every period has a witness, the first one (from the origination state) included.
  assert.equal(replayed, 0, text);
  assert.equal(byWitness, total - 1, text);
  const rows = page.locator("#commitments tbody tr");
  assert.equal(await rows.count(), total);
  assert.equal(await rows.first().locator("td").first().textContent(), String(origination));
  const method = (i) => rows.nth(i).locator("td.method").textContent();
  assert.equal(await method(0), "kernel at origination");
  assert.match(await method(1), /^witness of levels \d+..=\d+ \([\d,]+ bytes\)$/);
  assert.match(await method(2), /^witness of levels \d+..=\d+ \([\d,]+ bytes\)$/);
  assert.equal(await page.locator("#commitments .invalid").count(), 0);
  await shoot("check", "#commitments");

  // The commitment whose period holds the messages.
  const covering = origination + Math.ceil((sent - origination) / 5) * 5;
  // A proxy that serves the node's answers, changed by `forge(url, body)`.
  async function proxied(forge, fn) {
    const proxy = http.createServer(async (req, res) => {
      const r = await fetch(node + req.url);
      const body = forge(req.url, await r.text());
      const status = typeof body === "number" ? body : r.status;
      res.writeHead(status, { "content-type": "application/json", "access-control-allow-origin": "*" });
      res.end(typeof body === "number" ? "Not found" : body);
    });
    await new Promise((r) => proxy.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${proxy.address().port}`;
      await field.fill(url);
      await check.click();
      await fn(await verdict(url));
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  }
  const firstBad = () => page.locator("#commitments tr", { has: page.locator(".invalid") }).first();

  // 1. The witness of the messages' period with "hello" replaced by "hellp".
  await proxied((url, body) => {
    if (!url.startsWith(`/global/block/${covering}/helpers/witness`)) return body;
    const answer = JSON.parse(body);
    answer.witness = answer.witness.replace("68656c6c6f", "68656c6c70");
    return JSON.stringify(answer);
  }, async (tampered) => {
    const n = Number(tampered.match(/Checked (\d+) commitments/)?.[1]);
    assert.match(tampered, new RegExp(`: \\d+ valid, 1 invalid, \\d+ not established .* First invalid: commitment src1\\w+ at level ${covering}: state hash after replay is srs1\\w+, the commitment says srs1\\w+\\.$`), tampered);
    assert.equal(await firstBad().locator("td").first().textContent(), String(covering));
    assert.match(await firstBad().locator(".invalid").textContent(), /^invalid: state hash after replay is srs1\w+, the commitment says srs1\w+$/);
    // Those before hold; those after build on it and are not established.
    assert.ok((await page.locator("#commitments .valid").count()) >= 2);
    const after = await page.locator("#commitments .unestablished").allTextContents();
    assert.equal(after.length, n - 1 - (covering - origination) / 5, tampered);
    for (const t of after) assert.match(t, /which is not valid$/);
    await shoot("check-invalid", "#commitments .invalid");
  });

  // 2. No witnesses (an octez node answers 404), and one level's inbox with a forged message:
  // the replay from origination finds it.
  await proxied((url, body) => {
    if (url.includes("/helpers/witness")) return 404;
    if (url !== `/global/block/${sent}`) return body;
    const block = JSON.parse(body);
    // Message 2 is the first external message ("hello"): flip its last hex digit.
    const m = block.messages[2];
    block.messages[2] = m.slice(0, -1) + (m.endsWith("0") ? "1" : "0");
    return JSON.stringify(block);
  }, async (tampered) => {
    const n = Number(tampered.match(/Checked (\d+) commitments/)?.[1]);
    assert.match(tampered, new RegExp(`: \\d+ valid, [1-9]\\d* invalid, 0 not established \\(the genesis commitment by its kernel at origination, 0 by the node's witness of their period, ${n - 1} by a replay of \\d+ levels from origination`), tampered);
    assert.equal(await firstBad().locator("td").first().textContent(), String(covering));
    assert.match(await firstBad().locator(".invalid").textContent(), new RegExp(`invalid: the replay of levels up to ${covering} ends in state srs1\\w+, not srs1`));
    assert.match(await firstBad().locator("td.method").textContent(), /^replay from origination \(no witness: GET http\S+: HTTP 404: Not found\)$/);
    assert.ok((await page.locator("#commitments .valid").count()) >= 1);
    await shoot("check-replay-invalid", "#commitments .invalid");
  });

  // 3. Stop while the page waits for a slow node's witnesses: nothing of that check shows after.
  const slow = http.createServer(async (req, res) => {
    if (req.url.includes("/helpers/witness")) await new Promise((r) => setTimeout(r, 1000));
    const r = await fetch(node + req.url);
    res.writeHead(r.status, { "content-type": "application/json", "access-control-allow-origin": "*" });
    res.end(await r.text());
  });
  await new Promise((r) => slow.listen(0, "127.0.0.1", r));
  try {
    const url = `http://127.0.0.1:${slow.address().port}`;
    await field.fill(url);
    await check.click();
    await page.waitForFunction(() => /^Fetching witnesses: commitment 2 of/.test(document.querySelector("#check-status")?.textContent ?? ""), null, { timeout: TIMEOUT });
    await page.getByRole("button", { name: "Stop", exact: true }).click();
    assert.match(await checkStatus.textContent(), new RegExp(`^Stopped the check of ${url}: 0 of \\d+ commitments decided\\.$`));
    assert.equal(await check.isEnabled(), true);
    await new Promise((r) => setTimeout(r, 2500));
    assert.match(await checkStatus.textContent(), /^Stopped the check/);
    assert.equal(await page.locator("#commitments").count(), 0);
  } finally {
    slow.closeAllConnections?.();
    await new Promise((r) => slow.close(r));
  }

  // 4. With the L1 node: every level's inbox is checked against the L1's, and the forged
  // witness of (1) now establishes nothing, naming the level and both level witnesses.
  const l1Field = page.getByLabel(/^L1 node URL \(optional: check the inboxes/);
  await l1Field.fill(l1);
  await field.fill(node);
  await check.click();
  const onL1 = await verdict(node);
  const honest = onL1.match(/Checked (\d+) commitments from \S+: \1 valid, 0 invalid, 0 not established .* The inboxes of (\d+) of them were checked against the L1's\.$/);
  assert.ok(honest, `${onL1} ${await alerts()}`);
  assert.equal(Number(honest[2]), Number(honest[1]) - 1, onL1);
  await proxied((url, body) => {
    if (!url.startsWith(`/global/block/${covering}/helpers/witness`)) return body;
    const answer = JSON.parse(body);
    answer.witness = answer.witness.replace("68656c6c6f", "68656c6c70");
    return JSON.stringify(answer);
  }, async (tampered) => {
    assert.match(tampered, new RegExp(`: \\d+ valid, 0 invalid, [1-9]\\d* not established .* First not established: commitment src1\\w+ at level ${covering}: not established: its witness is not evidence: the witness's inbox of level ${sent} is not the L1's: its messages hash to srib2\\w+, the L1's level witness is srib2\\w+\\.`), tampered);
    await shoot("check-not-l1", "#commitments");
  });
  await l1Field.fill("");

  // The echo kernel's outbox message of level `sent`, once cemented: the proof from the rollup
  // node, the commitment from the L1.
  const proofPath = `/global/block/head/helpers/proofs/outbox/${sent}/messages?index=0`;
  for (const until = Date.now() + 90_000; (await fetch(node + proofPath)).status !== 200;) {
    assert.ok(Date.now() < until, `no outbox proof for level ${sent}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  await tab("Verify withdrawal");
  await page.getByRole("textbox", { name: "Rollup node URL" }).fill(node);
  await page.getByLabel("Outbox level").fill(String(sent));
  await page.getByLabel("Message index").fill("0");
  await page.getByLabel(/^L1 node URL \(optional: take/).fill(l1);
  await page.getByRole("button", { name: "Fetch proof and commitment" }).click();
  const result = page.locator("#verify-result");
  await page.waitForFunction((l) => {
    const t = document.querySelector("#verify-result")?.textContent ?? "";
    return t.includes(`outbox of level ${l} `) || t.includes("Cannot verify") || t.includes("Invalid proof");
  }, sent, { timeout: TIMEOUT });
  assert.match(await result.textContent(), new RegExp(`^Valid proof: message 0 of the outbox of level ${sent} `));
  assert.match(await page.locator("#verify-source").textContent(), /comes from the L1(, which has cemented it|; its inbox level \d+ is at or below the last cemented level)/);
  await shoot("verify-from-l1", "#verify-result");
});

await test("no uncaught errors in the page", async () => {
  assert.deepEqual(pageErrors, []);
});

await browser.close();
await server.close();
for (const c of children) c.kill("SIGKILL");
const failed = results.filter(([, ok]) => !ok).length;
console.log(`# ${results.length - failed} passed, ${failed} failed; screenshots in ${SHOTS}`);
process.exit(failed ? 1 : 0);
