// Hostile servers against the Node build, over real HTTP to the testkit on 127.0.0.1 (issue 8,
// MCP SEP-2352 / SEP-2468): every credential goes only to the party it belongs to. Mirrors
// native/tests/hostile.rs; each test asserts on what the OTHER party's request log saw.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadNodePackage, startTestkit, memoryStorage, followingRedirect, tokenRecord } from "./helpers.mjs";

const { McpAuthClient, identity } = loadNodePackage();

function client(storage, calls) {
  return new McpAuthClient({ storage, redirect: followingRedirect(calls) });
}

/** The testkit's request log, optionally only what one origin (listener) received. */
async function requests(kit, origin) {
  const q = origin === undefined ? "" : `?${new URLSearchParams({ origin })}`;
  return (await kit.admin(`requests${q}`, "GET")).requests;
}

const refreshGrants = (log) => log.filter((r) => r.grant_type === "refresh_token").length;

async function listTools(c, url, options) {
  const session = await c.session(url, options);
  return (await session.listTools()).map((t) => t.name);
}

/** Waits until the client's clock has passed `unixSeconds` (no assertion on durations). */
async function waitUntil(unixSeconds) {
  const ms = unixSeconds * 1000 - Date.now();
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}

test("as-switch: the hostile authorization server never sees the refresh token or a secret", async () => {
  // 3 s tokens, so that a refresh after the episode happens by the clock
  const kit = await startTestkit("as-switch", ["--token-lifetime", "3"]);
  try {
    const evil = kit.second_origin;
    assert.ok(evil, "the scenario has a second origin");
    const storage = memoryStorage();
    const calls = [];
    const c = client(storage, calls);
    await c.login(kit.mcp_url);

    await kit.admin("switch-as?to=second");
    await kit.admin("deny-all?on=true");
    await assert.rejects(listTools(c, kit.mcp_url), (e) => e.code === "authorization_denied");
    // the user's browser did go to the hostile AS, but nothing of the grant did
    assert.ok(calls.at(-1).authorizationUrl.startsWith(`${evil}/`), calls.at(-1).authorizationUrl);

    // back to normal (the metadata still names the hostile AS): the next refresh goes to the
    // issuer that issued the token
    await kit.admin("deny-all?on=false");
    const rec = tokenRecord(storage, identity(kit.mcp_url));
    const before = refreshGrants(await requests(kit, kit.base_url));
    await waitUntil(rec.expires_at + 1);
    const t = await c.accessToken(kit.mcp_url);
    assert.notEqual(t, rec.access_token, "a refreshed token");
    assert.equal(refreshGrants(await requests(kit, kit.base_url)), before + 1, "refreshed at the legitimate AS");

    const atEvil = await requests(kit, evil);
    assert.ok(atEvil.length > 0, "the hostile AS was asked for metadata");
    for (const r of atEvil) {
      assert.ok(
        r.grant_type == null && !r.refresh_token && !r.client_secret && !r.bearer,
        `the hostile AS got ${JSON.stringify(r)}`,
      );
    }
  } finally {
    await kit.stop();
  }
});

test("two-resources: each resource on one origin gets its own token, never the other's", async () => {
  const kit = await startTestkit("two-resources");
  try {
    const a = `${kit.base_url}/a/mcp`;
    const b = `${kit.base_url}/b/mcp`;
    const storage = memoryStorage();
    const calls = [];
    const c = client(storage, calls);
    await c.login(a);
    await assert.rejects(c.accessToken(b), (e) => e.code === "login_required");

    await kit.admin("clear-log");
    assert.ok((await listTools(c, b)).includes("echo"));
    const tokenA = await c.accessToken(a);
    const tokenB = await c.accessToken(b);
    assert.notEqual(tokenA, tokenB);
    // the first request to b carried no token (a's is not b's); then b's own login followed
    const toB = (await requests(kit)).filter((r) => r.path === "/b/mcp");
    assert.ok(toB.length > 1, JSON.stringify(toB));
    assert.equal(toB[0].bearer, false, JSON.stringify(toB[0]));
    assert.equal(calls.length, 2, "one login per resource");
    assert.equal(new URL(calls[1].authorizationUrl).searchParams.get("resource"), b);

    // a still works without a browser
    assert.ok((await listTools(c, a, { interactive: false })).includes("echo"));
    const status = await c.status();
    assert.equal(status.length, 2);
    assert.ok(status.every((s) => s.identity === kit.base_url), JSON.stringify(status));
    assert.deepEqual(status.map((s) => s.resource).sort(), [a, b]);
  } finally {
    await kit.stop();
  }
});

for (const scenario of ["sse-cross-origin", "sse-plain-http"]) {
  test(`${scenario}: an HTTP+SSE endpoint elsewhere never receives the token`, async () => {
    const kit = await startTestkit(scenario);
    try {
      const c = client(memoryStorage());
      await c.login(kit.sse_url);
      await assert.rejects(
        listTools(c, kit.sse_url),
        // refused by the transport's origin check (or, failing that, core's token rule)
        (e) => ["unsafe_endpoint", "token_destination"].includes(e.code) && /endpoint/.test(e.message),
      );
      if (kit.second_origin) {
        const other = await requests(kit, kit.second_origin);
        assert.ok(other.every((r) => !r.bearer), `the other origin got a bearer token: ${JSON.stringify(other)}`);
      }
      // nothing anywhere but the server's own origin ever carried the bearer
      const all = await requests(kit);
      assert.ok(all.filter((r) => r.bearer).every((r) => r.origin === kit.base_url), JSON.stringify(all));
    } finally {
      await kit.stop();
    }
  });
}

test("preregistered-issuer-switch: a configured client secret never goes to another issuer", async () => {
  const kit = await startTestkit("preregistered-issuer-switch");
  try {
    const evil = kit.second_origin;
    const calls = [];
    const c = client(memoryStorage(), calls);
    const opts = { clientId: "post-client", clientSecret: "post-secret", clientAuthMethod: "client_secret_post" };
    await c.login(kit.mcp_url, opts);
    await kit.admin("switch-as?to=second");
    await kit.admin("deny-all?on=true");
    await assert.rejects(listTools(c, kit.mcp_url, opts), (e) => {
      assert.equal(e.code, "configured_client_issuer", e.message);
      assert.match(e.message, /issuer/);
      assert.doesNotMatch(e.message, /post-secret/);
      return true;
    });
    const atEvil = await requests(kit, evil);
    assert.ok(atEvil.every((r) => !r.client_secret && r.path !== "/authorize"), JSON.stringify(atEvil));
    assert.equal(calls.length, 1, "no second login");

    // the user says the new issuer is right: the login goes ahead there
    const begun = await c.beginLogin(kit.mcp_url, { ...opts, issuer: evil });
    assert.ok(begun.authorizationUrl.startsWith(`${evil}/`), begun.authorizationUrl);
  } finally {
    await kit.stop();
  }
});

test("as-migration: a dynamic client re-registers at the new authorization server", async () => {
  const kit = await startTestkit("as-migration");
  try {
    const as2 = kit.second_origin;
    const storage = memoryStorage();
    const c = client(storage);
    await c.login(kit.mcp_url);
    await kit.admin("switch-as?to=second");
    assert.ok((await listTools(c, kit.mcp_url)).includes("echo"));
    const atAs2 = await requests(kit, as2);
    assert.ok(atAs2.some((r) => r.method === "POST" && r.path.endsWith("/register")), JSON.stringify(atAs2));
    assert.equal(refreshGrants(atAs2), 0, "the old server's refresh token never went to the new one");
    assert.ok(atAs2.every((r) => !r.refresh_token), JSON.stringify(atAs2));
    assert.equal(tokenRecord(storage, identity(kit.mcp_url)).issuer, as2);
  } finally {
    await kit.stop();
  }
});

test("iss-trailing-slash: an iss that differs by a trailing slash is refused before the code is redeemed", async () => {
  const kit = await startTestkit("iss-trailing-slash");
  try {
    const c = client(memoryStorage());
    await assert.rejects(c.login(kit.mcp_url), (e) => e.code === "iss_mismatch");
    const log = await requests(kit);
    assert.ok(log.some((r) => r.path === "/authorize"), "the authorization did happen");
    assert.equal(log.filter((r) => r.method === "POST" && r.path === "/token").length, 0, "no POST /token");
  } finally {
    await kit.stop();
  }
});

test("scope-retry-limit: step-up asks for requested ∪ challenged and stops at 3 authorizations", async () => {
  const kit = await startTestkit("scope-retry-limit");
  try {
    const calls = [];
    const c = client(memoryStorage(), calls);
    const session = await c.session(kit.mcp_url);
    await assert.rejects(session.callTool("echo", { text: "x" }), (e) => e.code === "step_up_exhausted");
    assert.ok(calls.length >= 2 && calls.length <= 3, `${calls.length} authorization requests`);
    const authorizeGets = (await requests(kit)).filter((r) => r.method === "GET" && r.path === "/authorize");
    assert.equal(authorizeGets.length, calls.length);
    const scopes = calls.map((k) => (new URL(k.authorizationUrl).searchParams.get("scope") ?? "").split(" "));
    for (let i = 1; i < scopes.length; i++) {
      const [prev, next] = [scopes[i - 1], scopes[i]];
      assert.ok(prev.every((s) => next.includes(s)), `a step-up dropped a scope requested before: ${JSON.stringify(scopes)}`);
      assert.ok(next.length > prev.length, JSON.stringify(scopes));
    }
  } finally {
    await kit.stop();
  }
});

test("--token-lifetime 5: one refresh per expiry, not one per request", async () => {
  const kit = await startTestkit("default", ["--token-lifetime", "5"]);
  try {
    const storage = memoryStorage();
    const calls = [];
    const c = client(storage, calls);
    await c.login(kit.mcp_url);
    const first = tokenRecord(storage, identity(kit.mcp_url));
    assert.equal(first.expires_at - first.obtained_at, 5);
    const before = refreshGrants(await requests(kit));
    // a request every second, half-way through each second of the client's clock, for 11 s
    // after the token was obtained: the skew is at most a quarter of the lifetime, so a 5 s
    // token is refreshed once it has 1 s left (4 s after it was obtained): twice in 11 s
    // every refresh must come when the token it replaces had at most 1 s left, whenever each
    // call actually lands (a slow machine changes nothing); over ~11 s there are at least two
    let prev = first;
    let refreshes = 0;
    for (let k = 1; k <= 11; k++) {
      await waitUntil(first.obtained_at + k + 0.5);
      const token = await c.accessToken(kit.mcp_url);
      const now = tokenRecord(storage, identity(kit.mcp_url));
      assert.equal(now.access_token, token);
      if (now.access_token !== prev.access_token) {
        refreshes += 1;
        assert.ok(now.obtained_at >= prev.expires_at - 1, `refreshed at ${now.obtained_at}, due at ${prev.expires_at - 1}`);
      }
      prev = now;
    }
    assert.equal(refreshGrants(await requests(kit)) - before, refreshes);
    assert.ok(refreshes >= 2, `${refreshes} refreshes over 11 s of 5 s tokens`);
    assert.equal(calls.length, 1, "no second login");
  } finally {
    await kit.stop();
  }
});
