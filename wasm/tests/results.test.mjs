// The shapes of the results the package hands to JavaScript (wasm/src/out.rs): plain objects
// with exactly the documented keys in the documented order, `null` (never `undefined`) for
// what is absent, against the real testkit over HTTP on 127.0.0.1.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { loadNodePackage, startTestkit, memoryStorage, followingRedirect } from "./helpers.mjs";

const pkg = loadNodePackage();
const { McpAuthClient, identity } = pkg;

const TOKEN_INFO = ["identity", "resource", "issuer", "clientId", "scope", "expiresAt", "hasRefreshToken", "flow", "dpopBound"];
const TOKEN_STATUS = ["identity", "resource", "present", "expired", "expiresAt", "scope", "issuer", "hasRefreshToken", "flow", "dpopBound", "problem"];

let kit;
before(async () => {
  kit = await startTestkit("default");
});
after(async () => {
  await kit?.stop();
});

function plain(v) {
  assert.equal(Object.getPrototypeOf(v), Object.prototype, "a plain object");
  assert.ok(!Object.values(v).includes(undefined), "no undefined values");
}

test("tokenStatus before a login: the documented keys, nulls for what is absent", async () => {
  const c = new McpAuthClient({ storage: memoryStorage(), redirect: followingRedirect() });
  const st = await c.tokenStatus(kit.mcp_url);
  plain(st);
  assert.deepEqual(Object.keys(st), TOKEN_STATUS);
  assert.equal(st.identity, identity(kit.mcp_url));
  assert.equal(st.present, false);
  for (const k of ["expiresAt", "scope", "issuer", "flow", "problem"]) assert.equal(st[k], null, k);
  assert.deepEqual(await c.status(), [], "nothing stored, nothing listed");
});

test("login, beginLogin, status, logout: key order and types of each result", async () => {
  const c = new McpAuthClient({ storage: memoryStorage(), redirect: followingRedirect() });
  const info = await c.login(kit.mcp_url);
  plain(info);
  assert.deepEqual(Object.keys(info), ["redirected", ...TOKEN_INFO]);
  assert.equal(info.redirected, false);
  assert.equal(typeof info.expiresAt, "number");
  assert.equal(info.flow, null, "the browser login has no flow name");
  assert.equal(typeof info.dpopBound, "boolean");

  const [st] = await c.status();
  plain(st);
  assert.deepEqual(Object.keys(st), TOKEN_STATUS);
  assert.equal(st.present, true);
  assert.equal(st.expiresAt, info.expiresAt);
  assert.equal(st.problem, null);

  const req = await c.beginLogin(kit.mcp_url);
  plain(req);
  assert.deepEqual(Object.keys(req), ["authorizationUrl", "redirectUri", "state", "identity"]);
  assert.equal(new URL(req.authorizationUrl).searchParams.get("state"), req.state);

  const report = await c.logout(info.identity);
  plain(report);
  assert.deepEqual(Object.keys(report), ["identity", "revoked", "revocationNotes", "deletedKeys"]);
  for (const k of ["revoked", "revocationNotes", "deletedKeys"]) assert.ok(Array.isArray(report[k]), k);
  assert.ok(report.deletedKeys.length > 0, "the token record was deleted");
});

test("challenge parameters are own properties, a `__proto__` parameter too", () => {
  const [ch] = pkg.parseWwwAuthenticate(['Bearer __proto__="x", scope="a b"']);
  assert.equal(ch.scheme, "bearer");
  assert.equal(ch.token68, null);
  assert.ok(Object.hasOwn(ch.params, "__proto__"), "kept as data, not as the prototype");
  assert.equal(Object.getPrototypeOf(ch.params), Object.prototype);
  assert.deepEqual(Object.entries(ch.params), [["__proto__", "x"], ["scope", "a b"]]);
  const b = pkg.bearerChallenge(['Bearer scope="a b"']);
  plain(b);
  assert.deepEqual(Object.keys(b), ["resourceMetadata", "scope", "error", "errorDescription"]);
  assert.equal(b.scope, "a b");
  assert.equal(b.resourceMetadata, null);
  // header values are an array of strings: anything else is refused, not read as no header
  for (const bad of ["Bearer scope=\"a\"", ["Bearer", 1], { length: 1, 0: "Bearer" }, undefined]) {
    for (const f of [pkg.parseWwwAuthenticate, pkg.bearerChallenge]) {
      assert.throws(() => f(bad), (e) => e.code === "invalid" && /array of strings/.test(e.message), String(bad));
    }
  }
});
