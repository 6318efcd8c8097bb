// soru-web budgets, measured in headless Chromium on dist/ (built by `make web`):
//   node tests/js/web/bench.mjs KERNEL INPUTS
// prints one JSON line: gzipped sizes, load to interactive, time to verify the real octez proof
// in the page, and the worker's time to replay KERNEL on INPUTS (Run all inboxes: `step inbox` per level).
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve, CHROMIUM } from "./serve.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const DIST = path.join(ROOT, "dist");
const [kernel, inputs] = process.argv.slice(2);
const gz = (files) => files.reduce((n, f) => n + zlib.gzipSync(fs.readFileSync(path.join(DIST, f)), { level: 9 }).length, 0);
const VECTOR = path.join(ROOT, "../shared/vectors/tezos-output-proofs/05_taquito_mock_fixed_and_corrupted.txt");

const server = await serve(DIST);
const browser = await chromium.launch(CHROMIUM);
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
page.setDefaultTimeout(600_000);
const out = { wasm_gz: gz(["soru_web_bg.wasm"]), js_gz: gz(["soru_web.js", "worker.js", "index.html", "style.css"]) };

const loads = [];
for (let i = 0; i < 3; i++) {
  await page.goto(server.url + "?r=" + i);
  await page.locator("#ready").waitFor({ state: "attached" });
  loads.push(await page.evaluate(() => performance.now()));
}
out.load_to_interactive_ms = Math.min(...loads);

if (fs.existsSync(VECTOR)) {
  const text = fs.readFileSync(VECTOR, "utf8");
  const proof = text.split("\n").find((l) => l.startsWith("output_proof_hex=")).slice(17).trim();
  const srs1 = text.match(/# expected srs1[^:]*: (srs1\w+)/)[1];
  await page.getByRole("button", { name: "Verify withdrawal", exact: true }).click();
  await page.getByLabel("Output proof (hex)").fill(proof);
  await page.getByLabel(/^State hash or commitment/).fill(srs1);
  const times = [];
  for (let i = 0; i < 5; i++) {
    const t = await page.evaluate(() => {
      const b = [...document.querySelectorAll("button")].find((x) => x.textContent === "Verify proof");
      const s = performance.now();
      b.click();
      return performance.now() - s;
    });
    times.push(t);
  }
  await page.locator("#verify-result").getByText("Valid proof").waitFor();
  out.verify_click_ms = Math.min(...times);
  const note = await page.locator("#verify-result").textContent();
  out.verify_ms = Number(note.match(/Verified locally in ([\d.]+) ms/)[1]);
}

if (kernel) {
  await page.getByRole("button", { name: "Playground", exact: true }).click();
  await page.getByLabel("Inbox (octez debugger JSON: one list of messages per level)").fill(fs.readFileSync(inputs, "utf8"));
  // Runs `action` and waits for the status line to change to a finished one.
  const status = () => page.locator("#playground-status").textContent();
  const finished = async (action) => {
    const before = await status();
    await action();
    await page.waitForFunction((b) => {
      const t = document.querySelector("#playground-status")?.textContent ?? "";
      return t !== b && / done in | failed: /.test(t);
    }, before);
    return status();
  };
  // Best of 3 (the kernel loaded afresh each time), as for the native side: one run on a
  // shared machine says more about the load than about the code.
  const runs = [];
  for (let i = 0; i < 3; i++) {
    await finished(async () => {
      await page.locator("#kernel-file").setInputFiles([]);
      await page.locator("#kernel-file").setInputFiles(kernel);
    });
    const ran = await finished(() => page.getByRole("button", { name: "Run all inboxes" }).click());
    const m = ran.match(/done in (\d+) ms/);
    if (!m) throw new Error(`replay failed: ${ran}`);
    runs.push(Number(m[1]));
  }
  out.worker_replay_ms = Math.min(...runs);
  out.worker_replay_runs = runs;
}
console.log(JSON.stringify(out));
await browser.close();
await server.close();
