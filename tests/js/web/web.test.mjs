// Browser tests of soru-web (dist/, built by `make web`) in headless Chromium.
//
//   node tests/js/web/web.test.mjs [DIST]
//
// Loads the page, loads a kernel, steps a level and reads the decoded outbox message; verifies a
// real octez output proof (valid) and its corrupted twin (invalid) by typing into the labelled
// fields; stops a runaway kernel; restores a session from local storage and from a share link;
// reports a precise network error on the Check commitments page. Saves screenshots of each
// page at 1280x800 and 390x844 under target/screenshots/.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import { chromium } from "playwright-core";
import { serve, CHROMIUM } from "./serve.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const DIST = path.resolve(process.argv[2] ?? path.join(ROOT, "dist"));
const SHOTS = path.join(ROOT, "target/screenshots");
const VECTOR = path.join(ROOT, "../shared/vectors/tezos-output-proofs/05_taquito_mock_fixed_and_corrupted.txt");
const TIMEOUT = 60_000;

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
  await page.getByRole("button", { name: "Step level" }).click();
  await waitDone("step level");
  const outbox = page.locator(".outbox-message").first();
  await outbox.waitFor();
  const text = await outbox.textContent();
  assert.match(text, /Level 0, message 0/);
  assert.match(text, /"destination": "KT1/);
  assert.match(text, /Hello world/);
  await shoot("playground", ".outbox-message");
});

await test("the session survives a reload and is shared as a URL", async () => {
  await page.reload();
  await page.locator("#ready").waitFor({ state: "attached" });
  await waitDone("restore");
  assert.match(await status.textContent(), /Restoring echo.wat at step 1/);
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

await test("a runaway kernel is stopped and the page stays responsive", async () => {
  await page.getByLabel("Bundled example").selectOption({ label: "Runaway: kernel_run never returns" });
  await page.getByRole("button", { name: "Load example" }).click();
  await waitDone("load runaway");
  await page.getByRole("button", { name: "Step level" }).click();
  await page.waitForTimeout(1500);
  assert.match(await status.textContent(), /step level: running/);
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
  await shoot("check", "#check-status");
});

await test("no uncaught errors in the page", async () => {
  assert.deepEqual(pageErrors, []);
});

await browser.close();
await server.close();
const failed = results.filter(([, ok]) => !ok).length;
console.log(`# ${results.length - failed} passed, ${failed} failed; screenshots in ${SHOTS}`);
process.exit(failed ? 1 : 0);
