// The browser test (scripts/test.sh): Debian's headless Chromium, driven by playwright-core,
// loads web/index.html from a server on 127.0.0.1, decodes every golden stream of the
// libtorch-free families in the page's Web Worker and checks the SHA-256 of the pixels against
// the native decoder's (tests/golden/*.json); checks that a truncated file shows the decoder's
// error and the page still answers; times a Kodak lic-dwt decode against the native `lic
// decode`; keeps a screenshot in target/browser-test/page.png.
//
//   node web/test/browser-test.mjs [KODAK_PNG]      (after scripts/build-wasm.sh)
import { createServer } from "node:http";
import { readFile, writeFile, mkdir, stat } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { extname, join, normalize, resolve } from "node:path";
import { chromium } from "playwright-core";

const root = resolve(new URL("../..", import.meta.url).pathname);
const outDir = join(root, "target/browser-test");
await mkdir(outDir, { recursive: true });
const fail = (msg) => {
  console.error(`browser test FAILED: ${msg}`);
  process.exitCode = 1;
};

// The golden streams and the native decoder's pixel hashes.
const golden = join(root, "tests/golden");
const cases = [];
for (const [name, e] of Object.entries(JSON.parse(await readFile(join(golden, "dwt.json"), "utf8")))) {
  cases.push({ file: `${name}.lic`, sha: e.decoded_sha256, gray: e.gray });
}
for (const [json, file] of [
  ["overfit.json", "overfit-synthetic-45x29-q5.lic"],
  ["overfit-v2.json", "overfit-synthetic-45x29-q5-v2.lic"],
  ["overfit-v3.json", "overfit-synthetic-45x29-q5-v3.lic"],
]) {
  const e = JSON.parse(await readFile(join(golden, json), "utf8"));
  cases.push({ file, sha: e.decoded_rgb_sha256, gray: false });
}

// A Kodak image coded by the native lic (lic-dwt, quality 6), and a truncated copy.
const lic = join(root, "target/release/lic");
const kodak = process.argv[2] || join(root, "datasets/kodak/kodim01.png");
const work = join(outDir, "files");
await mkdir(work, { recursive: true });
execFileSync(lic, ["encode", kodak, join(work, "kodak.lic"), "--force"], { stdio: "ignore" });
const kodakBytes = await readFile(join(work, "kodak.lic"));
await writeFile(join(work, "truncated.lic"), kodakBytes.subarray(0, kodakBytes.length >> 1));

// Static files from the repository root, on 127.0.0.1 only.
const types = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".wasm": "application/wasm", ".json": "application/json", ".png": "image/png" };
const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
  const file = join(root, path);
  if (!file.startsWith(root)) { res.writeHead(403).end(); return; }
  try {
    const body = await readFile(file);
    res.writeHead(200, { "content-type": types[extname(file)] || "application/octet-stream" }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${base}/web/index.html`);
  await page.waitForFunction(() => window.lic !== undefined);
  for (const c of cases) {
    const r = await page.evaluate((u) => window.lic.hash(u), `/tests/golden/${c.file}`);
    const got = c.gray ? r.gray1 : r.rgb;
    if (got !== c.sha) fail(`${c.file}: pixel hash ${got}, native ${c.sha}`);
    else console.log(`${c.file}: ${r.width}x${r.height}, pixels identical to the native decoder`);
  }
  // Decode time of the Kodak file in the page's worker against the native lic decode.
  const times = [];
  for (let i = 0; i < 7; i++) {
    times.push((await page.evaluate((u) => window.lic.hash(u), "/target/browser-test/files/kodak.lic")).ms);
  }
  const native = [];
  for (let i = 0; i < 7; i++) {
    const t = process.hrtime.bigint();
    execFileSync(lic, ["--threads", "1", "decode", join(work, "kodak.lic"), join(work, "native.png"), "--force"], { stdio: "ignore" });
    native.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
  const wasm = await stat(join(root, "web/lic_wasm.wasm"));
  const timing = {
    wasm_bytes: wasm.size,
    browser_decode_ms: med(times),
    native_lic_decode_process_ms: med(native),
    ratio: med(times) / med(native),
    kodak_bytes: kodakBytes.length,
  };
  console.log(JSON.stringify({ timing }));
  await writeFile(join(outDir, "timing.json"), JSON.stringify(timing, null, 2));
  // A truncated file: the decoder's error on the page, and the page still answers.
  await page.goto(`${base}/web/index.html?open=/target/browser-test/files/truncated.lic`);
  await page.waitForFunction(() => document.getElementById("error").textContent.length > 0, null, { timeout: 20000 });
  const err = await page.textContent("#error");
  if (!/truncated/.test(err)) fail(`truncated file: error text ${JSON.stringify(err)}`);
  else console.log(`truncated file: ${err}`);
  if ((await page.evaluate(() => 1 + 1)) !== 2) fail("the page stopped answering");
  // The page with the Kodak image, kept as an artifact.
  await page.goto(`${base}/web/index.html?open=/target/browser-test/files/kodak.lic`);
  await page.waitForFunction(() => /decoded in/.test(document.getElementById("status").textContent), null, { timeout: 20000 });
  await page.waitForTimeout(1500); // the gallery decodes in the worker
  await page.screenshot({ path: join(outDir, "page.png"), fullPage: true });
  console.log(`screenshot: ${join(outDir, "page.png")}`);
  if (errors.length) fail(`page errors: ${errors.join("; ")}`);
} finally {
  await browser.close();
  server.close();
}
if (!process.exitCode) console.log("browser test: ok");
