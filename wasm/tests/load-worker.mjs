// One Node process of the load test (load.test.mjs): the wasm build on the CLI's file store
// and locks (pkg/node/file_store.js) asks for a token for MCP_URL and prints it. It loads
// first, says `ready` on stderr and waits for a line on stdin, so that every process of the
// test starts its request at the same moment.
import { createRequire } from "node:module";
import path from "node:path";
import { ROOT } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const { McpAuthClient } = require(path.join(ROOT, "wasm/pkg/node/mcp_auth.js"));
const { fileStore } = require(path.join(ROOT, "wasm/pkg/node/file_store.js"));

const { storage, lock } = fileStore({ dir: process.env.STORE_DIR });
const client = new McpAuthClient({
  storage,
  lock,
  redirect: () => {
    throw new Error("no browser login in the load test");
  },
});
process.stderr.write("ready\n");
await new Promise((go) => process.stdin.once("data", go));
process.stdin.pause();
try {
  process.stdout.write(`${await client.accessToken(process.env.MCP_URL)}\n`);
} catch (e) {
  process.stderr.write(`${e.code}: ${e.message}\n`);
  process.exitCode = 1;
}
