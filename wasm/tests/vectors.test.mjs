// The shared vectors in tests/vectors/ (also read by the Rust tests) give the same answers here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ROOT, loadNodePackage } from "./helpers.mjs";

const { identity, resourceUri } = loadNodePackage();
const vectors = JSON.parse(readFileSync(path.join(ROOT, "tests/vectors/identity.json"), "utf8"));

test("identity.json: identity(url) and resourceUri(url) match every case", () => {
  assert.ok(vectors.cases.length >= 5, "the vector file has cases");
  for (const c of vectors.cases) {
    assert.equal(identity(c.input), c.identity, `identity(${JSON.stringify(c.input)})`);
    assert.equal(resourceUri(c.input), c.resource, `resourceUri(${JSON.stringify(c.input)})`);
  }
});

test("identity.json: invalid inputs throw an Error with the vector's code", () => {
  assert.ok(vectors.errors.length >= 1);
  for (const c of vectors.errors) {
    for (const fn of [identity, resourceUri]) {
      assert.throws(
        () => fn(c.input),
        (e) => e instanceof Error && e.code === c.code && e.message.length > 0,
        `${fn.name}(${JSON.stringify(c.input)}) throws code ${c.code}`,
      );
    }
  }
});

const load = (name) => JSON.parse(readFileSync(path.join(ROOT, "tests/vectors", name), "utf8"));
const pkg = loadNodePackage();

test("pkce.json: S256 challenges (RFC 7636 Appendix B) and verifier validity", () => {
  const v = load("pkce.json");
  assert.ok(v.cases.length >= 1 && v.verifier_validity.length >= 2);
  for (const c of v.cases) assert.equal(pkg.pkceChallenge(c.verifier), c.challenge);
  for (const c of v.verifier_validity) assert.equal(pkg.isValidPkceVerifier(c.verifier), c.valid, c.verifier);
});

test("www_authenticate.json: every challenge and the Bearer challenge", () => {
  const v = load("www_authenticate.json");
  assert.ok(v.cases.length >= 3);
  for (const c of v.cases) {
    const got = pkg.parseWwwAuthenticate(c.headers);
    assert.equal(got.length, c.challenges.length, JSON.stringify(c.headers));
    c.challenges.forEach((want, i) => {
      assert.equal(got[i].scheme, want.scheme);
      assert.equal(got[i].token68, want.token68 ?? null, JSON.stringify(c.headers));
      assert.deepEqual(got[i].params, want.params ?? {}, JSON.stringify(c.headers));
    });
    const b = pkg.bearerChallenge(c.headers);
    if (c.bearer === null) {
      assert.equal(b, null, JSON.stringify(c.headers));
    } else {
      assert.equal(b.resourceMetadata, c.bearer.resource_metadata ?? null);
      assert.equal(b.scope, c.bearer.scope ?? null);
      assert.equal(b.error, c.bearer.error ?? null);
    }
  }
});

test("discovery.json: metadata URL lists in order, and a plain-http header URL refused", () => {
  const v = load("discovery.json");
  for (const c of v.protected_resource) {
    assert.deepEqual(pkg.protectedResourceMetadataUrls(c.server, c.header ?? undefined), c.urls, JSON.stringify(c));
  }
  for (const c of v.authorization_server) {
    assert.deepEqual(pkg.authorizationServerMetadataUrls(c.issuer), c.urls, c.issuer);
  }
  for (const c of v.errors) {
    assert.throws(() => pkg.protectedResourceMetadataUrls(c.server, c.header ?? undefined), (e) => e.code === c.code);
  }
});

test("callback.json: callback validation gives the code or the same error code", () => {
  const v = load("callback.json");
  assert.ok(v.cases.length >= 5);
  for (const c of v.cases) {
    const run = () => pkg.validateCallback(c.callback, c.state, c.issuer, c.iss_required);
    if (typeof c.code === "string") {
      assert.equal(run(), c.code, c.callback);
    } else {
      assert.throws(run, (e) => {
        assert.equal(e.code, c.error, c.callback);
        if (c.error === "state_mismatch" || c.error === "iss_mismatch") {
          assert.ok(!e.message.includes("evil"), `attacker text shown: ${e.message}`);
        }
        return true;
      });
    }
  }
});
