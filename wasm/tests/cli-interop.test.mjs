// A Node tool (the wasm build) and the native CLI share one file store: the records written by
// one are used by the other, including a refresh token rotated by the other side.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT, loadNodePackage, startTestkit, followingRedirect, jsonFileStorage, CLI, runCli } from "./helpers.mjs";

const { McpAuthClient, identity, resourceUri } = loadNodePackage();

let kit, home;
before(async () => {
  kit = await startTestkit("default");
  home = mkdtempSync(path.join(tmpdir(), "mcp-auth-interop-"));
});
after(async () => {
  await kit?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

const cli = (...args) => runCli(home, args);

test("a login by the Node build is used and refreshed by the CLI, and the CLI's rotated token by Node", { skip: !existsSync(CLI) && `no CLI at ${CLI} (cargo build -p mcp-auth)` }, async () => {
  const file = path.join(home, "state", "mcp-auth", "store.json");
  const storage = jsonFileStorage(file);
  const node = new McpAuthClient({ storage, redirect: followingRedirect() });
  const key = `tokens:${identity(kit.mcp_url)}|${resourceUri(kit.mcp_url)}`;
  await node.login(kit.mcp_url);
  const first = JSON.parse(storage.read()[key]);

  // the stored token has expired (as the clock would have it): each side refreshes the
  // record as it finds it in the shared file
  const expire = () => {
    const rec = JSON.parse(storage.read()[key]);
    rec.expires_at = 1;
    storage.set(key, JSON.stringify(rec));
  };
  expire();
  // the CLI reads the Node tool's record, refreshes it and prints it
  const { stdout } = await cli("token", kit.mcp_url);
  const cliToken = stdout.trim();
  const second = JSON.parse(storage.read()[key]);
  assert.equal(cliToken, second.access_token, "the CLI printed the token it stored");
  assert.notEqual(second.access_token, first.access_token, "the CLI refreshed");
  assert.notEqual(second.refresh_token, first.refresh_token, "and stored the rotated refresh token");

  // Node refreshes with the CLI's rotated refresh token (the old one would be refused as reuse)
  expire();
  const nodeToken = await node.accessToken(kit.mcp_url);
  const third = JSON.parse(storage.read()[key]);
  assert.equal(nodeToken, third.access_token);
  assert.notEqual(third.refresh_token, second.refresh_token);
  const stats = await kit.stats();
  assert.equal(stats.counts["POST /token"], 3, "login + two refreshes");
  assert.equal(stats.revoked, 0, "no refresh-token reuse");

  // and the CLI's status sees the Node tool's identity
  const status = await cli("--json", "status");
  assert.ok(status.stdout.includes(identity(kit.mcp_url)), status.stdout);
});
