// The whole flow through the Node build against the real testkit over HTTP on 127.0.0.1.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  loadNodePackage, startTestkit, memoryStorage, followingRedirect, rpc, INITIALIZE, tokenRecord, tokenKey,
} from "./helpers.mjs";

const { McpAuthClient, identity, resourceUri } = loadNodePackage();

let kit;
before(async () => {
  kit = await startTestkit("default");
});
after(async () => {
  await kit?.stop();
});

function client(storage, calls = [], extra = {}) {
  return new McpAuthClient({ storage, redirect: followingRedirect(calls), ...extra });
}

/** tools/list through the exported MCP session; returns the session and the tool names. */
async function listTools(c, url, options) {
  const session = await c.session(url, options);
  assert.equal(session.protocolVersion, undefined, "nothing spoken yet");
  const tools = (await session.listTools()).map((t) => t.name);
  assert.match(session.protocolVersion, /^\d{4}-\d{2}-\d{2}$/, "the revision spoken is known");
  return { session, tools };
}

test("login follows the authorization URL, stores CLI-format records, and authorizedFetch lists tools", async () => {
  const storage = memoryStorage();
  const calls = [];
  const c = client(storage, calls);
  const id = identity(kit.mcp_url);
  const info = await c.login(kit.mcp_url);
  assert.equal(info.redirected, false);
  assert.equal(info.identity, id);
  assert.equal(info.resource, kit.mcp_url);
  assert.equal(info.issuer.replace(/\/$/, ""), kit.issuer.replace(/\/$/, ""));
  assert.ok(info.hasRefreshToken);
  assert.ok(info.expiresAt > Date.now() / 1000, "expiry is absolute and in the future");
  assert.match(info.scope, /mcp:read/);
  assert.equal(calls.length, 1);
  const authUrl = new URL(calls[0].authorizationUrl);
  assert.equal(authUrl.searchParams.get("code_challenge_method"), "S256");
  assert.equal(authUrl.searchParams.get("resource"), kit.mcp_url);

  const rec = tokenRecord(storage, id);
  assert.equal(rec.version, 2);
  assert.equal(rec.resource, resourceUri(kit.mcp_url));
  assert.equal(rec.identity, id);
  assert.ok(rec.access_token && rec.refresh_token);
  assert.equal(await c.accessToken(kit.mcp_url), rec.access_token);
  assert.ok(JSON.parse(storage.map.get("index")).keys.includes(tokenKey(id, resourceUri(kit.mcp_url))));
  assert.ok(![...storage.map.keys()].some((k) => k.startsWith("pending:")), "the pending login is spent");

  const { tools } = await listTools(c, kit.mcp_url);
  for (const t of ["echo", "whoami", "write_note"]) assert.ok(tools.includes(t), `tool ${t} listed`);

  const [st] = await c.status();
  assert.equal(st.identity, id);
  assert.equal(st.present, true);
  assert.equal(st.expired, false);
  assert.equal(st.hasRefreshToken, true);
});

test("refresh after expiry: a 401 refreshes once and the rotated refresh token is persisted first", async () => {
  const storage = memoryStorage();
  const c = client(storage);
  await c.login(kit.mcp_url);
  const id = identity(kit.mcp_url);
  const before = tokenRecord(storage, id);
  const tokenPosts = (await kit.stats()).counts["POST /token"] ?? 0;

  await kit.expire(); // the server now rejects every access token it issued
  const { tools } = await listTools(c, kit.mcp_url);
  assert.ok(tools.includes("echo"));

  const afterRefresh = tokenRecord(storage, id);
  assert.notEqual(afterRefresh.access_token, before.access_token, "a new access token");
  assert.notEqual(afterRefresh.refresh_token, before.refresh_token, "the rotated refresh token is stored");
  assert.equal((await kit.stats()).counts["POST /token"], tokenPosts + 1, "exactly one refresh");

  // A fresh client on the same storage (another process, a reload) can refresh again with the
  // persisted token; had the old one been kept, the server would see reuse and revoke the grant.
  await kit.expire();
  const c2 = client(storage);
  const r = await c2.authorizedFetch(kit.mcp_url, rpc("initialize", INITIALIZE));
  assert.equal(r.status, 200, r.body);
  assert.notEqual(tokenRecord(storage, id).refresh_token, afterRefresh.refresh_token);
});

test("accessToken refreshes a short-lived token once it is due (short-lived scenario), without a browser", async () => {
  const short = await startTestkit("short-lived");
  try {
    const storage = memoryStorage();
    const calls = [];
    const c = client(storage, calls);
    await c.login(short.mcp_url);
    const id = identity(short.mcp_url);
    const first = tokenRecord(storage, id);
    assert.ok(first.expires_at - first.obtained_at <= 2, "2 s tokens");
    // the refresh skew never exceeds a quarter of the lifetime: a fresh 2 s token is used as is
    assert.equal(await c.accessToken(short.mcp_url), first.access_token);
    assert.equal((await short.stats()).counts["POST /token"], 1, "no refresh before it is due");
    // once it has expired (by the clock, not by a timing assertion), the next call refreshes
    const wait = (first.expires_at + 1) * 1000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t = await c.accessToken(short.mcp_url);
    const second = tokenRecord(storage, id);
    assert.equal(t, second.access_token);
    assert.notEqual(t, first.access_token);
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.equal(calls.length, 1, "no second login");
    assert.equal((await short.stats()).counts["POST /token"], 2);
  } finally {
    await short.stop();
  }
});

test("step-up: write_note's 403 insufficient_scope re-authorizes with the union of scopes", async () => {
  const storage = memoryStorage();
  const calls = [];
  const c = client(storage, calls);
  const info = await c.login(kit.mcp_url, { scope: "mcp:read" });
  assert.equal(info.scope, "mcp:read");
  const { session } = await listTools(c, kit.mcp_url);
  const r = await session.callTool("write_note", { text: "hi" });
  assert.match(r.content[0].text, /note saved: hi/);
  assert.equal(calls.length, 2, "one step-up authorization");
  const scopes = new URL(calls[1].authorizationUrl).searchParams.get("scope").split(" ");
  assert.ok(scopes.includes("mcp:read") && scopes.includes("mcp:write"), scopes.join(" "));
  assert.match(tokenRecord(storage, identity(kit.mcp_url)).scope, /mcp:write/);
});

test("step-up is refused when interactive is false", async () => {
  const storage = memoryStorage();
  const c = client(storage);
  await c.login(kit.mcp_url, { scope: "mcp:read" });
  const { session } = await listTools(c, kit.mcp_url, { interactive: false });
  await assert.rejects(
    session.callTool("write_note", { text: "x" }),
    (e) => e instanceof Error && e.code === "step_up_exhausted",
  );
});

test("full-page redirect: login resolves {redirected}, and a new client finishes with completeLogin", async () => {
  const storage = memoryStorage();
  let handedOut;
  const c = new McpAuthClient({
    storage,
    redirectUri: "http://127.0.0.1:9/app/",
    redirect: (url) => {
      handedOut = url; // a browser would do location.assign(url) here
      return undefined;
    },
  });
  const r = await c.login(kit.mcp_url);
  assert.deepEqual(r, { redirected: true });
  assert.ok([...storage.map.keys()].some((k) => k.startsWith("pending:")), "pending state stored");
  // the browser comes back to the page; a new instance (a reload) completes the login
  const callback = await followingRedirect()(handedOut);
  assert.ok(callback.startsWith("http://127.0.0.1:9/app/?"));
  const c2 = new McpAuthClient({ storage });
  const info = await c2.completeLogin(callback);
  assert.equal(info.identity, identity(kit.mcp_url));
  await assert.rejects(c2.completeLogin(callback), (e) => e.code === "state_mismatch", "a callback is used once");
});

test("outside a page, a client without redirectUri uses the CLI's default callback address", async () => {
  const c = new McpAuthClient({ storage: memoryStorage() });
  const req = await c.beginLogin(kit.mcp_url);
  assert.equal(req.redirectUri, "http://localhost:3030/callback");
  assert.equal(new URL(req.authorizationUrl).searchParams.get("redirect_uri"), "http://localhost:3030/callback");
});

test("the query is written and read by the URL Standard's form codec, as the CLI's", async () => {
  // the same case and answer as core's native test (core/src/platform_url.rs): this build's
  // codec is the platform's URLSearchParams, the CLI's form_urlencoded
  const c = new McpAuthClient({ storage: memoryStorage() });
  const req = await c.beginLogin(kit.mcp_url, { extraParams: { "x y": "ä&=+/?#%*~!'()-._ 😀" } });
  assert.ok(req.authorizationUrl.endsWith("&x+y=%C3%A4%26%3D%2B%2F%3F%23%25*%7E%21%27%28%29-._+%F0%9F%98%80"), req.authorizationUrl);
  assert.match(req.authorizationUrl, /\?response_type=code&client_id=[^&]+&redirect_uri=http%3A%2F%2Flocalhost%3A3030%2Fcallback&state=/);
  // a denial: `+` and `%21` decoded in what the error says
  await assert.rejects(
    c.completeLogin(`${req.redirectUri}?error=access_denied&error_description=User+said+no%21&state=${req.state}`),
    (e) => e.code === "authorization_denied" && e.message.includes("`access_denied`: User said no!"),
  );
  // in `…??state=…` the first pair is named `?state`: no state, so not this login's callback
  const again = await c.beginLogin(kit.mcp_url);
  await assert.rejects(c.completeLogin(`${again.redirectUri}??state=${again.state}&code=abc`), (e) => e.code === "state_mismatch");
});

test("an authorization endpoint's own query is kept, encoded as the URL Standard's setter does, and the login's pairs follow it", async () => {
  // the testkit's metadata, with a query added to its authorization endpoint (RFC 6749 §3.1:
  // the client keeps it); the build's URL re-parses the joined query through the platform
  const withQuery = async (url, init) => {
    const res = await fetch(url, init);
    const meta = await res.clone().json().catch(() => null);
    if (!meta?.authorization_endpoint) return res;
    meta.authorization_endpoint += "?tenant=a%20b&quote='q'";
    return new Response(JSON.stringify(meta), { status: res.status, headers: { "content-type": "application/json" } });
  };
  const c = new McpAuthClient({ storage: memoryStorage(), fetch: withQuery });
  const req = await c.beginLogin(kit.mcp_url, { extraParams: { "#": "# x " } });
  const at = new URL(req.authorizationUrl);
  assert.equal(at.hash, "");
  assert.match(at.search, /^\?tenant=a%20b&quote=%27q%27&response_type=code&client_id=/, req.authorizationUrl);
  assert.ok(req.authorizationUrl.endsWith("&%23=%23+x+"), req.authorizationUrl);
});

test("storage errors are surfaced: a storage whose set throws makes login reject with code storage", async () => {
  const storage = memoryStorage();
  storage.set = () => {
    throw new Error("disk full");
  };
  const c = client(storage);
  await assert.rejects(c.login(kit.mcp_url), (e) => {
    assert.ok(e instanceof Error);
    assert.equal(e.code, "storage");
    assert.match(e.message, /storage\.set\(.*\) failed: disk full/);
    return true;
  });
});

test("storage errors are surfaced: a rejected promise from get reaches accessToken", async () => {
  const c = client({
    get: async () => {
      throw new Error("backend offline");
    },
    set: async () => {},
    delete: async () => {},
  });
  await assert.rejects(c.accessToken(kit.mcp_url), (e) => e.code === "storage" && /backend offline/.test(e.message));
});

test("errors carry stable codes and say what to do", async () => {
  const c = client(memoryStorage());
  await assert.rejects(c.accessToken(kit.mcp_url), (e) => e.code === "login_required" && /call login\(\)/.test(e.message));
  await assert.rejects(c.login("http://example.com/mcp"), (e) => e.code === "insecure_url");
  await assert.rejects(c.login("not a url"), (e) => e.code === "invalid_url");
  assert.throws(() => new McpAuthClient({}), (e) => e.code === "invalid" && /storage/.test(e.message));
  const noRedirect = new McpAuthClient({ storage: memoryStorage() });
  await assert.rejects(noRedirect.login(kit.mcp_url), (e) => e.code === "browser" && /redirect/.test(e.message));
  const offline = new McpAuthClient({ storage: memoryStorage(), redirect: followingRedirect(), fetch: async () => { throw new TypeError("fetch failed"); } });
  await assert.rejects(offline.login(kit.mcp_url), (e) => e.code === "network" && /fetch failed/.test(e.message));
  // what a browser's fetch gives for a 3xx with redirect: 'manual'
  const redirected = new McpAuthClient({
    storage: memoryStorage(),
    redirect: followingRedirect(),
    fetch: async () => ({ type: "opaqueredirect", status: 0, headers: new Headers(), arrayBuffer: async () => new ArrayBuffer(0) }),
  });
  await assert.rejects(redirected.login(kit.mcp_url), (e) => e.code === "network" && /answered with a redirect/.test(e.message));
});

test("a fetch whose responses carry no body stream is read whole, through arrayBuffer", async () => {
  const urls = [];
  const c = new McpAuthClient({
    storage: memoryStorage(),
    redirect: followingRedirect(),
    fetch: async (url, init) => {
      const r = await fetch(url, init);
      urls.push(url);
      return { type: r.type, status: r.status, headers: r.headers, arrayBuffer: () => r.arrayBuffer() };
    },
  });
  const info = await c.login(kit.mcp_url);
  assert.equal(info.identity, identity(kit.mcp_url));
  assert.ok(urls.some((u) => u.includes("/.well-known/")), urls.join(" "));
  assert.ok((await c.accessToken(kit.mcp_url)).length > 0);
});

test("logout revokes at the server and deletes the tokens", async () => {
  const storage = memoryStorage();
  const c = client(storage);
  await c.login(kit.mcp_url);
  const id = identity(kit.mcp_url);
  const revokedBefore = (await kit.stats()).revoked;
  const report = await c.logout(id);
  assert.equal(report.identity, id);
  assert.ok(report.revoked.includes("refresh_token"), JSON.stringify(report));
  assert.ok(report.deletedKeys.includes(tokenKey(id, resourceUri(kit.mcp_url))));
  assert.equal(tokenRecord(storage, id), undefined);
  assert.ok((await kit.stats()).revoked > revokedBefore);
  await assert.rejects(c.accessToken(kit.mcp_url), (e) => e.code === "login_required");
  const st = await c.status();
  assert.ok(!st.some((s) => s.present), JSON.stringify(st));
});

/** An async mutex standing in for a cross-process lock; records what happens. */
function sharedLock(events) {
  let tail = Promise.resolve();
  return async (name) => {
    let release;
    const held = new Promise((r) => (release = r));
    const prev = tail;
    tail = prev.then(() => held);
    await prev;
    events.push(`acquire ${name}`);
    return () => {
      events.push(`release ${name}`);
      release();
    };
  };
}

test("two clients on one storage with a shared lock refresh once after expiry (no refresh-token reuse)", async () => {
  const storage = memoryStorage();
  const events = [];
  const lock = sharedLock(events);
  const logFetch = (url, init) => {
    if (url.endsWith("/token")) events.push("POST /token");
    return fetch(url, init);
  };
  const a = client(storage, [], { lock, fetch: logFetch });
  const b = client(storage, [], { lock, fetch: logFetch });
  await a.login(kit.mcp_url);
  const id = identity(kit.mcp_url);
  const before = await kit.stats();
  events.length = 0;
  await kit.expire();
  const [ra, rb] = await Promise.all([
    a.authorizedFetch(kit.mcp_url, rpc("initialize", INITIALIZE)),
    b.authorizedFetch(kit.mcp_url, rpc("initialize", INITIALIZE)),
  ]);
  assert.equal(ra.status, 200, ra.body);
  assert.equal(rb.status, 200, rb.body);
  const after = await kit.stats();
  assert.equal(after.counts["POST /token"], before.counts["POST /token"] + 1, "one refresh for both");
  assert.equal(after.revoked, before.revoked, "no grant revoked for refresh-token reuse");
  // the lock is per resource; a refresh rewrites a key the index has, so it takes no other lock
  const name = `refresh:${id}|${resourceUri(kit.mcp_url)}`;
  assert.deepEqual(events, [
    `acquire ${name}`, "POST /token", `release ${name}`,
    `acquire ${name}`, `release ${name}`,
  ]);
});

test("a failing lock is reported, not ignored", async () => {
  const storage = memoryStorage();
  // the index of stored keys is updated under the lock too, so even the login reports it
  const c = client(storage, [], { lock: async () => { throw new Error("lock file busy"); } });
  await assert.rejects(
    c.login(kit.mcp_url),
    (e) => e.code === "storage" && /lock file busy/.test(e.message),
  );
  // a login done with a working lock, then a refresh under the failing one
  await client(storage, []).login(kit.mcp_url);
  await kit.expire();
  await assert.rejects(
    c.authorizedFetch(kit.mcp_url, rpc("initialize", INITIALIZE)),
    (e) => e.code === "storage" && /lock file busy/.test(e.message),
  );
});

test("a rotated refresh token the storage refuses is kept in memory and reported on console.warn", async () => {
  const storage = memoryStorage();
  const id = identity(kit.mcp_url);
  const key = tokenKey(id, resourceUri(kit.mcp_url));
  let failing = false;
  // the client takes the storage functions once, at construction: the failure is a flag
  const realSet = storage.set;
  storage.set = (k, v) => {
    if (failing && k === key) throw new Error("the storage is full");
    return realSet(k, v);
  };
  const c = client(storage);
  await c.login(kit.mcp_url);
  const before = tokenRecord(storage, id);
  const { counts, revoked } = await kit.stats();
  const posts = counts["POST /token"] ?? 0;
  failing = true;
  const warnings = [];
  const realWarn = console.warn;
  console.warn = (m) => warnings.push(String(m));
  try {
    await kit.expire();
    const r = await c.authorizedFetch(kit.mcp_url, rpc("initialize", INITIALIZE));
    assert.equal(r.status, 200, r.body);
    // the storage still holds the spent token, this client uses the new one without refreshing again
    assert.equal(tokenRecord(storage, id).refresh_token, before.refresh_token);
    const r2 = await c.authorizedFetch(kit.mcp_url, rpc("initialize", INITIALIZE));
    assert.equal(r2.status, 200, r2.body);
    const after = await kit.stats();
    assert.equal(after.counts["POST /token"], posts + 1, "one refresh");
    assert.equal(after.revoked, revoked, "no grant revoked for reuse");
  } finally {
    console.warn = realWarn;
    failing = false;
  }
  assert.equal(warnings.length, 1, warnings.join("\n"));
  assert.match(warnings[0], /could not be saved/);
  assert.match(warnings[0], /the storage is full/);
  assert.ok(!warnings[0].includes(before.refresh_token), "no secret in the warning");
});

test("authorizedFetch takes the headers as an object, a Headers, a Map or [name, value] pairs; a non-string is refused", async () => {
  const storage = memoryStorage();
  const c = client(storage);
  await c.login(kit.mcp_url);
  const { headers, ...rest } = rpc("initialize", INITIALIZE);
  const forms = {
    object: headers,
    Headers: new Headers(headers),
    Map: new Map(Object.entries(headers)),
    pairs: Object.entries(headers),
  };
  for (const [form, h] of Object.entries(forms)) {
    const r = await c.authorizedFetch(kit.mcp_url, { ...rest, headers: h });
    assert.equal(r.status, 200, `${form}: ${r.body}`);
    assert.equal(JSON.parse(r.body).result?.protocolVersion, "2025-11-25", form);
  }
  for (const h of [{ accept: 1 }, new Map([["accept", 1]]), [["accept"]]]) {
    await assert.rejects(c.authorizedFetch(kit.mcp_url, { ...rest, headers: h }), (e) => {
      assert.equal(e.code, "invalid");
      assert.match(e.message, /header names and values must be strings/);
      return true;
    });
  }
});
