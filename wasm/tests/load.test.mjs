// Load: 16 processes at once on an expired token — 8 native `mcp-auth token` and 8 Node
// processes of the wasm build on the same file store and locks (pkg/node/file_store.js) —
// against a testkit that rotates refresh tokens and revokes a grant on reuse: exactly one
// refresh, every process prints the same working token, nothing revoked.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ROOT, loadNodePackage, startTestkit, followingRedirect, rpc, INITIALIZE, CLI } from "./helpers.mjs";

const require = (await import("node:module")).createRequire(import.meta.url);
const { McpAuthClient, identity } = loadNodePackage();
const { fileStore, lockPath } = require(path.join(ROOT, "wasm/pkg/node/file_store.js"));
const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), "load-worker.mjs");

let kit, home;
before(async () => {
  kit = await startTestkit("default");
  home = mkdtempSync(path.join(tmpdir(), "mcp-auth-load-"));
});
after(async () => {
  await kit?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

/** Starts a process; `done` resolves to its output, `ready` when it printed `ready` (workers). */
function start(cmd, args, env) {
  const child = spawn(cmd, args, { cwd: home, env: { PATH: process.env.PATH, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let ready;
  const isReady = new Promise((r) => (ready = r));
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => {
    stderr += d;
    if (stderr.includes("ready\n")) ready();
  });
  const done = new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code) => {
      ready();
      resolve({ code, stdout, stderr: stderr.replace("ready\n", ""), who: args[0] === WORKER ? "node" : "mcp-auth" });
    });
  });
  return { child, done, ready: isReady };
}

const run = (cmd, args, env) => start(cmd, args, env).done;

const cliAvailable = existsSync(CLI);

test("the Node file store uses the CLI's file and lock names", () => {
  const { file } = fileStore({ dir: "/x/mcp-auth" });
  assert.equal(file, "/x/mcp-auth/store.json");
  // the CLI's lock_path: the first 16 bytes of SHA-256 of the name, hex (native/src/lock.rs)
  assert.equal(lockPath("/x", "a"), "/x/locks/ca978112ca1bbdcafac231b39a23dc4d.lock");
});

test("16 processes (8 CLI, 8 Node/wasm) on one expired token: one refresh, one working token, no revocation", { skip: !cliAvailable && `no CLI at ${CLI} (cargo build -p mcp-auth)` }, async () => {
  const state = path.join(home, "state");
  const dir = path.join(state, "mcp-auth");
  const { storage, lock, file } = fileStore({ dir });
  const node = new McpAuthClient({ storage, lock, redirect: followingRedirect() });
  await node.login(kit.mcp_url);
  const key = Object.keys(JSON.parse(readFileSync(file, "utf8"))).find((k) => k.startsWith(`tokens:${identity(kit.mcp_url)}|`));
  assert.ok(key, "the login stored a token record");
  const rec = JSON.parse(await storage.get(key));
  const old = rec.access_token;
  rec.expires_at = 1; // expired for every client's clock
  await storage.set(key, JSON.stringify(rec));
  await kit.expire(); // and dead at the server
  await kit.admin("clear-log");

  const env = { HOME: home, XDG_STATE_HOME: state, XDG_CONFIG_HOME: path.join(home, "config"), MCP_AUTH_STORE: "file" };
  // the Node processes load the wasm first (slower than the CLI starts), then all 16 go at once
  const workers = [];
  for (let i = 0; i < 8; i++) workers.push(start(process.execPath, [WORKER], { ...env, STORE_DIR: dir, MCP_URL: kit.mcp_url }));
  await Promise.all(workers.map((w) => w.ready));
  const runs = [];
  for (let i = 0; i < 8; i++) {
    workers[i].child.stdin.end("go\n");
    runs.push(run(CLI, ["token", kit.mcp_url], env));
    runs.push(workers[i].done);
  }
  const results = await Promise.all(runs);
  for (const r of results) assert.equal(r.code, 0, `a ${r.who} process failed: ${r.stderr}`);
  const tokens = results.map((r) => r.stdout.trim());
  const stats = await kit.stats();
  assert.equal(stats.counts["POST /token"], 1, `exactly one refresh: ${JSON.stringify(stats.counts)}`);
  assert.equal(new Set(tokens).size, 1, "every process printed the one refreshed token");
  assert.notEqual(tokens[0], old);
  assert.equal(JSON.parse(await storage.get(key)).access_token, tokens[0], "and it is the stored one");
  const r = await fetch(kit.mcp_url, {
    ...rpc("initialize", INITIALIZE),
    headers: { ...rpc("initialize", INITIALIZE).headers, authorization: `Bearer ${tokens[0]}` },
  });
  assert.equal(r.status, 200, "the token works");
  assert.equal(stats.revoked, 0, "nothing revoked");
  // the refresh token in the store is the live one: one more refresh with it succeeds
  const again = JSON.parse(await storage.get(key));
  again.expires_at = 1;
  await storage.set(key, JSON.stringify(again));
  const next = await run(CLI, ["token", kit.mcp_url], env);
  assert.equal(next.code, 0, `no grant was revoked: ${next.stderr}`);
  console.log(`load: 16 processes (8 CLI + 8 Node), ${stats.counts["POST /token"]} refresh, ${tokens.length} tokens printed`);
});
