// The Node build on the CLI's Redis store (pkg/node/redis_store.js with the `redis` npm
// package) against a real redis-server started here and the testkit: the same keys and
// records as `mcp-auth` with `persist: redis`, a grant shared and rotated by both, CLI and
// Node processes refreshing once between them, and the fencing of a holder whose lease ran
// out.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { ROOT, loadNodePackage, startTestkit, followingRedirect, CLI, runCli } from "./helpers.mjs";

const require = createRequire(path.join(ROOT, "wasm/js/package.json"));
const { McpAuthClient, identity, resourceUri } = loadNodePackage();
const { redisStore } = require(path.join(ROOT, "wasm/pkg/node/redis_store.js"));
const { createClient } = require("redis");
const WORKER = path.join(ROOT, "wasm/tests/redis-worker.mjs");
const REDIS_SERVER = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].find((p) => existsSync(p));

let kit, dir, redisProc, redisUrl, redis;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

before(async () => {
  assert.ok(REDIS_SERVER, "redis-server is not installed: run .ci/setup");
  dir = mkdtempSync(path.join(tmpdir(), "mcp-auth-redis-"));
  const port = await freePort();
  mkdirSync(path.join(dir, "redis"));
  redisProc = spawn(
    REDIS_SERVER,
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", path.join(dir, "redis"), "--save", "", "--appendonly", "no", "--logfile", ""],
    { stdio: "ignore" },
  );
  process.once("exit", () => redisProc.exitCode === null && redisProc.kill("SIGKILL"));
  redisUrl = `redis://127.0.0.1:${port}`;
  redis = createClient({ url: redisUrl, socket: { reconnectStrategy: (n) => (n > 100 ? new Error("gone") : 50) } });
  redis.on("error", () => {});
  await redis.connect();
  kit = await startTestkit("default");
});

after(async () => {
  await kit?.stop();
  if (redis?.isOpen) await redis.close();
  redisProc?.kill("SIGTERM");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function cli(...args) {
  const home = path.join(dir, "cli-home");
  mkdirSync(home, { recursive: true });
  return runCli(home, args, { MCP_AUTH_STORE: "redis", MCP_AUTH_REDIS_URL: redisUrl });
}

function worker(url) {
  return promisify(execFile)(process.execPath, [WORKER, url], {
    env: { PATH: process.env.PATH, MCP_AUTH_REDIS_URL: redisUrl },
  });
}

async function expire(key) {
  const rec = JSON.parse(await redis.get(key));
  rec.expires_at = 1;
  await redis.set(key, JSON.stringify(rec));
  return rec;
}

test(
  "Node and the CLI share one grant in Redis: same keys and records, each uses the other's rotated token, one refresh per expiry",
  { skip: !existsSync(CLI) && `no CLI at ${CLI} (cargo build -p mcp-auth)` },
  async () => {
    const store = redisStore({ client: redis });
    const node = new McpAuthClient({ storage: store.storage, lock: store.lock, redirect: followingRedirect() });
    await node.login(kit.mcp_url);
    const key = `mcp-auth:tokens:${identity(kit.mcp_url)}|${resourceUri(kit.mcp_url)}`;
    const first = JSON.parse(await redis.get(key));
    assert.equal(first.version, 2, "core's versioned record");
    assert.ok(await redis.get("mcp-auth:index"), "the index, as the CLI keeps it");

    // the CLI refreshes the Node login's record; Node then refreshes with the CLI's rotation
    await expire(key);
    const { stdout } = await cli("token", kit.mcp_url);
    const second = JSON.parse(await redis.get(key));
    assert.equal(stdout.trim(), second.access_token);
    assert.notEqual(second.refresh_token, first.refresh_token, "rotated by the CLI");
    await expire(key);
    const nodeToken = await node.accessToken(kit.mcp_url);
    const third = JSON.parse(await redis.get(key));
    assert.equal(nodeToken, third.access_token);
    assert.notEqual(third.refresh_token, second.refresh_token, "rotated by Node");
    await store.settled();

    // six CLI processes and six Node workers at once on an expired token: one refresh
    for (let round = 0; round < 2; round++) {
      const old = (await expire(key)).access_token;
      const before = (await kit.stats()).counts["POST /token"] ?? 0;
      const runs = [];
      for (let i = 0; i < 6; i++) runs.push(cli("token", kit.mcp_url), worker(kit.mcp_url));
      const tokens = (await Promise.all(runs)).map((r) => r.stdout.trim());
      const stats = await kit.stats();
      assert.equal(stats.counts["POST /token"] - before, 1, `round ${round}: exactly one refresh`);
      assert.equal(stats.revoked_grants, 0, `round ${round}: no grant revoked`);
      const stored = JSON.parse(await redis.get(key)).access_token;
      assert.notEqual(stored, old);
      assert.deepEqual(new Set(tokens), new Set([stored]), `round ${round}: everyone has the refreshed token`);
    }
    assert.deepEqual(await redis.keys("mcp-auth:lock:*"), [], "every lock released");
  },
);

test("a holder whose lease ran out cannot overwrite the next holder's record, nor release its lock", async () => {
  const a = redisStore({ client: redis, prefix: "fence:", leaseMs: 60_000 });
  const b = redisStore({ client: redis, prefix: "fence:", leaseMs: 60_000 });
  const releaseA = await a.lock("refresh:x");
  await a.storage.set("tokens:x", "from a, in time");
  // A stalls; its lease runs out (here: the key goes) and B takes the lock
  await redis.del("fence:lock:refresh:x");
  const releaseB = await b.lock("refresh:x");
  await b.storage.set("tokens:x", "from b");
  await assert.rejects(a.storage.set("tokens:x", "from a, stale"), /lease .* ran out before this write/);
  await assert.rejects(a.storage.delete("tokens:x"), /ran out/);
  assert.equal(await redis.get("fence:tokens:x"), "from b", "the stale holder wrote nothing");
  await releaseA();
  assert.ok(await redis.get("fence:lock:refresh:x"), "A's release leaves B's lock alone");

  // a waiter gives up in time and names the holder
  const c = redisStore({ client: redis, prefix: "fence:", lockTimeoutSeconds: 0.2 });
  await assert.rejects(c.lock("refresh:x"), new RegExp(`held by pid ${process.pid} \\(node\\) on `));
  await releaseB();
  assert.equal(await redis.get("fence:lock:refresh:x"), null, "released by its owner");
  const releaseC = await c.lock("refresh:x");
  await releaseC();
});

test("the worker says what failed when Redis is unreachable, without the password", async () => {
  const port = await freePort();
  const r = await promisify(execFile)(process.execPath, [WORKER, kit.mcp_url], {
    env: { PATH: process.env.PATH, MCP_AUTH_REDIS_URL: `redis://:worker-pw@127.0.0.1:${port}` },
  }).then(
    () => assert.fail("the worker succeeded without Redis"),
    (e) => e,
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /ECONNREFUSED|connect|closed/i);
  assert.doesNotMatch(r.stderr, /worker-pw/);
});
