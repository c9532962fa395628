// The login options that pick the client: pre-registered (with a secret) and a Client ID
// Metadata Document URL, against the testkit scenarios that offer each.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadNodePackage, startTestkit, memoryStorage, followingRedirect } from "./helpers.mjs";

const { McpAuthClient } = loadNodePackage();

async function whoami(c, url) {
  const session = await c.session(url);
  const r = await session.callTool("whoami", {});
  await session.close();
  return r.structuredContent;
}

test("a pre-registered confidential client (clientId + clientSecret, client_secret_basic)", async () => {
  const kit = await startTestkit("preregistered");
  try {
    const noClient = new McpAuthClient({ storage: memoryStorage(), redirect: followingRedirect() });
    await assert.rejects(noClient.login(kit.mcp_url), (e) => e.code === "no_client_registration" && /client_id/.test(e.message));

    const storage = memoryStorage();
    const c = new McpAuthClient({ storage, redirect: followingRedirect() });
    const info = await c.login(kit.mcp_url, { clientId: "basic-client", clientSecret: "basic-secret", clientAuthMethod: "client_secret_basic" });
    assert.equal(info.clientId, "basic-client");
    assert.equal((await whoami(c, kit.mcp_url)).client_id, "basic-client");
    assert.equal((await kit.stats()).counts["POST /register"] ?? 0, 0, "no dynamic registration");
    await assert.rejects(c.login(kit.mcp_url, { clientId: "basic-client", clientAuthMethod: "bogus" }), (e) => e.code === "invalid");
  } finally {
    await kit.stop();
  }
});

test("a Client ID Metadata Document URL is used as the client_id when the server supports it", async () => {
  const kit = await startTestkit("cimd");
  try {
    const url = "https://app.example.com/oauth/client.json";
    const c = new McpAuthClient({ storage: memoryStorage(), redirect: followingRedirect() });
    const info = await c.login(kit.mcp_url, { clientMetadataUrl: url });
    assert.equal(info.clientId, url);
    assert.equal((await whoami(c, kit.mcp_url)).client_id, url);
    assert.equal((await kit.stats()).counts["POST /register"] ?? 0, 0, "no dynamic registration");
    await assert.rejects(
      c.login(kit.mcp_url, { clientMetadataUrl: "http://app.example.com/c.json" }),
      (e) => e.code === "invalid_client_metadata_url",
    );
  } finally {
    await kit.stop();
  }
});

test("a clientSecret is refused in a browser context (client_secret_in_browser) and accepted in Node", async () => {
  const kit = await startTestkit("preregistered");
  const opts = { clientId: "basic-client", clientSecret: "basic-secret", clientAuthMethod: "client_secret_basic" };
  try {
    // what a page looks like to the check: a global `document`
    globalThis.document = {};
    try {
      const c = new McpAuthClient({ storage: memoryStorage(), redirect: followingRedirect() });
      await assert.rejects(c.login(kit.mcp_url, opts), (e) => {
        assert.equal(e.code, "client_secret_in_browser");
        assert.match(e.message, /backend-for-frontend/);
        assert.ok(!e.message.includes("basic-secret"), e.message);
        return true;
      });
      assert.equal((await kit.stats()).counts["POST /token"] ?? 0, 0, "nothing was sent");
    } finally {
      delete globalThis.document;
    }
    const storage = memoryStorage();
    const c = new McpAuthClient({ storage, redirect: followingRedirect() });
    const info = await c.login(kit.mcp_url, opts);
    assert.equal(info.clientId, "basic-client");
  } finally {
    await kit.stop();
  }
});
