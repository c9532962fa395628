// Figures of the wasm build (see BENCHMARKS.md): package size per part, instantiate time in
// Node and in headless Chromium, authorization URLs per second, the read path (sequential
// accessToken calls on a valid token) and 1,000 concurrent accessToken calls on an expired
// token; with --sdk, the same for the MCP TypeScript SDK v2 (@modelcontextprotocol/client,
// installed into a throwaway folder from npm).
//
//   bash wasm/build.sh && cargo build --release -p mcp-auth-testkit
//   node benches/wasm.mjs [--runs 20] [--sdk] [--json out.json]
//
// Needs the npm packages of wasm/js (playwright-core) and Debian's chromium for the browser
// figure (skipped with a note when absent).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf("--runs") + 1] || 0) || 20;
const WITH_SDK = args.includes("--sdk");
const JSON_OUT = args.includes("--json") ? args[args.indexOf("--json") + 1] : null;
const TARGET = process.env.CARGO_TARGET_DIR || path.join(ROOT, "target");
const require = createRequire(path.join(ROOT, "wasm/js/package.json"));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const gz = (buf) => gzipSync(buf, { level: 9 }).length;
const results = { sizes: [], timings: [] };
const row = (name, value, note = "") => {
  results.timings.push({ name, value, note });
  console.log(`| ${name} | ${value} | ${note} |`);
};

function sizes() {
  console.log("| package | part | raw | gzip -9 |\n| --- | --- | ---: | ---: |");
  for (const kind of ["web", "node"]) {
    let raw = 0, zipped = 0;
    for (const part of ["mcp_auth_bg.wasm", "mcp_auth.js"]) {
      const buf = readFileSync(path.join(ROOT, "wasm/pkg", kind, part));
      raw += buf.length;
      zipped += gz(buf);
      results.sizes.push({ kind, part, raw: buf.length, gzip: gz(buf) });
      console.log(`| ${kind} | ${part} | ${buf.length} B | ${gz(buf)} B |`);
    }
    results.sizes.push({ kind, part: "total", raw, gzip: zipped });
    console.log(`| ${kind} | **total** | ${raw} B | **${zipped} B** |`);
  }
}

/** Time to load and instantiate the Node package, measured inside fresh processes. */
function nodeInstantiate() {
  const pkg = path.join(ROOT, "wasm/pkg/node/mcp_auth.js");
  const code = `const t=performance.now();require(${JSON.stringify(pkg)});process.stdout.write(String(performance.now()-t))`;
  const times = [];
  for (let i = 0; i < RUNS; i++) times.push(Number(execFileSync(process.execPath, ["-e", code], { encoding: "utf8" })));
  row("Node: require() + instantiate (fresh process)", `${median(times).toFixed(2)} ms median`, `${RUNS} processes, min ${Math.min(...times).toFixed(2)} ms`);
}

/** Time from import() to a ready module in headless Chromium, one fresh page per run. */
async function chromiumInstantiate() {
  const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
  let chromium;
  try {
    ({ chromium } = require("playwright-core"));
  } catch {
    return row("Chromium: import + instantiate", "skipped", "no playwright-core (npm ci in wasm/js)");
  }
  if (!existsSync(chromiumPath)) return row("Chromium: import + instantiate", "skipped", `no ${chromiumPath}`);
  const dir = path.join(ROOT, "wasm/pkg/web");
  const server = createServer((req, res) => {
    const { pathname } = new URL(req.url, "http://127.0.0.1");
    const name = pathname === "/" ? "index.html" : path.basename(pathname);
    if (name === "index.html") {
      res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>bench</title>");
      return;
    }
    const file = path.join(dir, name);
    if (!existsSync(file)) return res.writeHead(404).end();
    const type = name.endsWith(".wasm") ? "application/wasm" : "text/javascript";
    res.writeHead(200, { "content-type": type, "cache-control": "no-store" }).end(readFileSync(file));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    // playwright gives the browser a fresh temporary profile of its own
  });
  const times = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${base}/`);
      times.push(await page.evaluate(async (url) => {
        const t = performance.now();
        const m = await import(url);
        await m.default();
        return performance.now() - t;
      }, `${base}/mcp_auth.js?run=${i}`));
      await context.close();
    }
  } finally {
    await browser.close();
    server.close();
  }
  row("Chromium: import() + fetch + instantiate (fresh context)", `${median(times).toFixed(2)} ms median`, `${RUNS} pages, min ${Math.min(...times).toFixed(2)} ms, 127.0.0.1`);
}

/** Runs `fn` repeatedly for about `ms` milliseconds; operations per second. */
async function perSecond(fn, ms = 2000) {
  for (let i = 0; i < 200; i++) await fn(); // warm-up
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 100; i++) await fn();
    n += 100;
  }
  return Math.round(n / ((performance.now() - start) / 1000));
}

async function startTestkit(...extra) {
  const bin = [path.join(TARGET, "release/mcp-auth-testkit"), path.join(TARGET, "debug/mcp-auth-testkit")].find(existsSync);
  if (!bin) throw new Error("no mcp-auth-testkit: cargo build --release -p mcp-auth-testkit");
  const child = spawn(bin, ["serve", "--port", "0", ...extra], { stdio: ["ignore", "pipe", "ignore"] });
  const info = JSON.parse(await new Promise((resolve) => createInterface({ input: child.stdout }).once("line", resolve)));
  const admin = async (p, method = "POST") => {
    const r = await fetch(`${info.base_url}/_testkit/${p}`, { method });
    return r.headers.get("content-type")?.includes("json") ? r.json() : r.text();
  };
  return { ...info, admin, stop: () => child.kill("SIGKILL") };
}

function memoryStorage(map = new Map()) {
  return { map, get: (k) => map.get(k), set: (k, v) => void map.set(k, v), delete: (k) => void map.delete(k) };
}

/** The testkit approves without a page: the "browser" follows one redirect. */
const approve = async (authorizationUrl) => {
  const r = await fetch(authorizationUrl, { redirect: "manual" });
  return new URL(r.headers.get("location"), authorizationUrl).href;
};

async function throughput(kit) {
  const { McpAuthClient, pkceChallenge } = require(path.join(ROOT, "wasm/pkg/node/mcp_auth.js"));
  const verifier = "dBjftJeZ4CVP-mJ0kYxa5aa5obkUhjTM8sP2O2AlYkA-padding-to-64-characters-x";
  row("Node: pkceChallenge(verifier)", `${(await perSecond(() => pkceChallenge(verifier))).toLocaleString("en")} /s`, "SHA-256 + base64url in wasm");
  // beginLogin after one completed login: discovery and the client are cached, so each call is
  // a fresh verifier + S256 challenge + state + authorization URL + the pending record saved.
  const storage = memoryStorage();
  const c = new McpAuthClient({ storage, redirect: approve });
  await c.login(kit.mcp_url);
  // Every call adds a pending login (and an index line) that is never completed here: put the
  // store back as the login left it every 50 calls, so the figure is not about a growing index.
  const snapshot = new Map(storage.map);
  let calls = 0;
  const rate = await perSecond(async () => {
    await c.beginLogin(kit.mcp_url);
    if (++calls % 50 === 0) {
      storage.map.clear();
      for (const [k, v] of snapshot) storage.map.set(k, v);
    }
  });
  row("Node: beginLogin (verifier + challenge + state + authorization URL + pending record)", `${rate.toLocaleString("en")} /s`, "discovery cached by a completed login; in-memory storage");
  // the read path alone: a valid token, read from the storage and checked, one call at a time
  // (steadier than the contention figure below, whose p50 is mostly one refresh's round trip)
  const reads = await perSecond(() => c.accessToken(kit.mcp_url));
  row("Node: accessToken on a valid token, sequential (the read path)", `${reads.toLocaleString("en")} /s (${(1e6 / reads).toFixed(1)} µs a call)`, "in-memory storage; no request to the server");
}

async function contention() {
  const { McpAuthClient } = require(path.join(ROOT, "wasm/pkg/node/mcp_auth.js"));
  const kit = await startTestkit("--token-lifetime", "2");
  try {
    const c = new McpAuthClient({ storage: memoryStorage(), redirect: approve });
    await c.login(kit.mcp_url);
    await new Promise((r) => setTimeout(r, 2500)); // the 2 s token has expired
    const refreshes = async () => (await kit.admin("requests", "GET")).requests.filter((r) => r.grant_type === "refresh_token").length;
    const before = await refreshes();
    const latencies = [];
    const tokens = await Promise.all(Array.from({ length: 1000 }, async () => {
      const t = performance.now();
      const tok = await c.accessToken(kit.mcp_url);
      latencies.push(performance.now() - t);
      return tok;
    }));
    const after = await refreshes();
    const revoked = (await kit.admin("stats", "GET")).revoked;
    const distinct = new Set(tokens).size;
    row("Node: 1,000 concurrent accessToken on an expired token", `p50 ${pct(latencies, 50).toFixed(1)} ms, p90 ${pct(latencies, 90).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
      `refresh requests at the server: ${after - before}; distinct tokens returned: ${distinct}; grant revoked: ${JSON.stringify(revoked)}`);
  } finally {
    kit.stop();
  }
}

/** The MCP TypeScript SDK v2: bundle size (esbuild --minify, browser) and startAuthorization/s. */
async function sdk() {
  const dir = mkdtempSync(path.join(tmpdir(), "mcp-auth-bench-sdk-"));
  try {
    writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "bench-sdk", private: true }));
    execFileSync("npm", ["install", "--silent", "--no-audit", "--no-fund", "@modelcontextprotocol/client@2.4.0", "esbuild@0.25"], { cwd: dir, stdio: "ignore" });
    writeFileSync(path.join(dir, "entry.mjs"),
      'export { Client, StreamableHTTPClientTransport, auth, startAuthorization } from "@modelcontextprotocol/client";\n');
    execFileSync(path.join(dir, "node_modules/.bin/esbuild"), ["entry.mjs", "--bundle", "--minify", "--format=esm", "--platform=browser", "--outfile=out.js"], { cwd: dir, stdio: "ignore" });
    const out = readFileSync(path.join(dir, "out.js"));
    results.sizes.push({ kind: "ts-sdk", part: "Client + StreamableHTTP + auth (esbuild --minify)", raw: out.length, gzip: gz(out) });
    console.log(`| TS SDK 2.4.0 | Client + Streamable HTTP + auth, esbuild --minify | ${out.length} B | ${gz(out)} B |`);
    const req = createRequire(path.join(dir, "package.json"));
    const { startAuthorization } = req("@modelcontextprotocol/client");
    const metadata = {
      issuer: "https://auth.example.com", authorization_endpoint: "https://auth.example.com/authorize",
      token_endpoint: "https://auth.example.com/token", response_types_supported: ["code"],
      code_challenge_methods_supported: ["S256"],
    };
    const rate = await perSecond(() => startAuthorization("https://auth.example.com", {
      metadata, clientInformation: { client_id: "bench" }, redirectUrl: "http://localhost:3030/callback",
      scope: "mcp:read", state: "s", resource: new URL("https://mcp.example.com/mcp"),
    }));
    row("TS SDK 2.4.0: startAuthorization (verifier + challenge + authorization URL)", `${rate.toLocaleString("en")} /s`, "pure function, metadata given, nothing stored");
  } catch (e) {
    row("TS SDK 2.4.0", "skipped", `could not install or run it: ${String(e.message).split("\n")[0]}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const kind of ["web", "node"]) {
  if (!existsSync(path.join(ROOT, "wasm/pkg", kind, "mcp_auth_bg.wasm"))) {
    console.error(`no wasm/pkg/${kind}: run bash wasm/build.sh first`);
    process.exit(1);
  }
}
console.log(`Node ${process.version}; load average ${(await import("node:os")).loadavg()[0].toFixed(2)}; ${RUNS} runs per timing\n`);
sizes();
console.log("\n| figure | value | notes |\n| --- | ---: | --- |");
nodeInstantiate();
await chromiumInstantiate();
const kit = await startTestkit();
try {
  await throughput(kit);
} finally {
  kit.stop();
}
await contention();
if (WITH_SDK) {
  console.log("\n| package | part | raw | gzip -9 |\n| --- | --- | ---: | ---: |");
  await sdk();
}
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(results, null, 1));
