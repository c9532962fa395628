// A Node worker on the shared Redis store (pkg/node/redis_store.js, the `redis` npm package):
// asks for a token for the URL given as its argument and prints it, as `mcp-auth token URL`
// does. MCP_AUTH_REDIS_URL names the Redis (and MCP_AUTH_REDIS_PREFIX, MCP_AUTH_REDIS_LEASE_MS,
// MCP_AUTH_LOCK_TIMEOUT tune it, as for the CLI). Used by wasm/tests/redis.test.mjs and by
// the mixed CLI + Node fleet test (native/tests/redis_fleet.rs).
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(path.join(ROOT, "wasm/js/package.json"));
const { McpAuthClient } = require(path.join(ROOT, "wasm/pkg/node/mcp_auth.js"));
const { redisStore } = require(path.join(ROOT, "wasm/pkg/node/redis_store.js"));
const { createClient } = require("redis");

const url = process.argv[2];
const redisUrl = process.env.MCP_AUTH_REDIS_URL;
let client;
try {
  if (!url || !redisUrl) throw new Error("usage: MCP_AUTH_REDIS_URL=redis://… node redis-worker.mjs <server URL>");
  client = createClient({ url: redisUrl, socket: { connectTimeout: 5000, reconnectStrategy: false } });
  client.on("error", () => {}); // each command's own error says what failed
  await client.connect();
  const store = redisStore({ client });
  const auth = new McpAuthClient({
    storage: store.storage,
    lock: store.lock,
    redirect: () => {
      throw new Error("no browser login in a worker; log in with `mcp-auth login` first");
    },
  });
  const token = await auth.accessToken(url);
  await store.settled();
  process.stdout.write(`${token}\n`);
} catch (e) {
  // never the Redis URL: it may hold a password
  process.stderr.write(`${e.code ?? "error"}: ${e.message}\n`);
  process.exitCode = 1;
} finally {
  if (client?.isOpen) await client.close().catch(() => {});
}
