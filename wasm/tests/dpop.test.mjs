// DPoP (RFC 9449) in Node: the wasm build logs in to the testkit's strict DPoP servers
// (nonces demanded and rotated by both), its key is a record of the shared file store, the CLI
// on that store uses the same key for the Node tool's bound token, and a copy of the token
// is refused without a proof by that key.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT, loadNodePackage, startTestkit, followingRedirect, jsonFileStorage, memoryStorage, CLI, runCli } from "./helpers.mjs";

const { McpAuthClient, identity, resourceUri } = loadNodePackage();

let kit, plain, home;
before(async () => {
  kit = await startTestkit("dpop-nonce");
  plain = await startTestkit("default");
  home = mkdtempSync(path.join(tmpdir(), "mcp-auth-dpop-"));
});
after(async () => {
  await kit?.stop();
  await plain?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

const cli = (...args) => runCli(home, args);

const initialize = () =>
  JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "thief", version: "0" } },
  });

test("Node gets DPoP-bound tokens, answers both servers' nonces, and shares its key with the CLI", { skip: !existsSync(CLI) && `no CLI at ${CLI} (cargo build -p mcp-auth)` }, async () => {
  const file = path.join(home, "state", "mcp-auth", "store.json");
  const storage = jsonFileStorage(file);
  const node = new McpAuthClient({ storage, redirect: followingRedirect() });
  const info = await node.login(kit.mcp_url);
  assert.equal(info.dpopBound, true);
  const id = identity(kit.mcp_url);
  const rec = JSON.parse(storage.read()[`tokens:${id}|${resourceUri(kit.mcp_url)}`]);
  assert.equal(rec.token_type, "DPoP");
  assert.ok(rec.dpop_jkt, "the key thumbprint is recorded");
  // Node has no IndexedDB: the key is a software key record of the shared store
  const keyRecord = JSON.parse(storage.read()[`dpop:${id}`]);
  assert.equal(keyRecord.jwk.crv, "P-256");

  const session = await node.session(kit.mcp_url);
  const names = (await session.listTools()).map((t) => t.name);
  assert.ok(names.includes("whoami"), names.join(","));
  await session.callTool("echo", { text: "bound" });
  const dpop = await (await fetch(`${kit.base_url}/_testkit/dpop`)).json();
  assert.equal(dpop.as_nonce_challenges, 1, JSON.stringify(dpop));
  assert.equal(dpop.rs_nonce_challenges, 1, "challenged once, then the rotated nonces were followed");

  // the CLI on the same store signs with the same key: the Node tool's token works for it
  const before = (await kit.stats()).counts["POST /token"];
  const { stdout } = await cli("probe", kit.mcp_url, "--call", "whoami", "--args", "{}");
  assert.match(stdout, /whoami/);
  const after = await kit.stats();
  assert.equal(after.counts["POST /token"], before, "no new token: the CLI used Node's bound one");
  assert.equal(after.counts["GET /authorize"], 1, "one login in all");

  // a copy of the token, without the key's proof, is refused
  for (const authorization of [`Bearer ${rec.access_token}`, `DPoP ${rec.access_token}`]) {
    const r = await fetch(kit.mcp_url, {
      method: "POST",
      headers: { authorization, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: initialize(),
    });
    assert.equal(r.status, 401, authorization.split(" ")[0]);
  }

  // logout forgets the key with the tokens
  await node.logout(id);
  assert.equal(storage.read()[`dpop:${id}`], undefined);
});

test("dpop: required is refused by a server without DPoP, and an unknown mode by the options", async () => {
  const c = new McpAuthClient({ storage: memoryStorage(), redirect: followingRedirect() });
  await assert.rejects(c.login(plain.mcp_url, { dpop: "required" }), (e) => e.code === "dpop_unsupported" && /ES256/.test(e.message));
  await assert.rejects(c.login(plain.mcp_url, { dpop: "sometimes" }), (e) => e.code === "invalid");
  // off: plain bearer tokens even where DPoP is offered
  const info = await c.login(kit.mcp_url, { dpop: "off" });
  assert.equal(info.dpopBound, false);
});
