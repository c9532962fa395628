// The grants without a browser through the wasm build in Node, against the testkit's strict
// authorization server and identity provider: client credentials with a secret or a private
// key (private_key_jwt, signed by WebCrypto: the build keeps no key of its own), the JWT-bearer grant with a
// workload token, and enterprise-managed authorization (token exchange for an ID-JAG).
// Refusals are errors that name who refused, sent once, nothing stored; secrets and keys are
// refused in a browser.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadNodePackage, startTestkit, memoryStorage } from "./helpers.mjs";

const { McpAuthClient } = loadNodePackage();
const KEYS = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "tests", "vectors", "keys");
const key = (name) => fs.readFileSync(path.join(KEYS, name), "utf8");
const JWT_BEARER = "POST /token";

/** A client whose redirect must never be called: these grants need no browser. */
function client(storage = memoryStorage()) {
  const c = new McpAuthClient({
    storage,
    redirect: () => {
      throw new Error("a grant without a browser called redirect");
    },
  });
  return { c, storage };
}

async function grantAdmin(kit, what, params) {
  const q = new URLSearchParams(params).toString();
  return kit.admin(`grants/${what}?${q}`);
}

async function toolsWork(c, url, options) {
  const session = await c.session(url, options);
  const tools = await session.listTools();
  await session.close();
  assert.ok(Array.isArray(tools.tools ?? tools), "tools listed");
}

function storedTokens(storage) {
  return [...storage.map.keys()].filter((k) => k.startsWith("tokens:"));
}

test("client credentials with a secret: a token without a browser, renewed by the grant", async () => {
  const kit = await startTestkit("default");
  try {
    await grantAdmin(kit, "client", { client_id: "svc", client_secret: "svc-secret" });
    const { c } = client();
    const options = { grant: "client_credentials", clientId: "svc", clientSecret: "svc-secret" };
    const info = await c.login(kit.mcp_url, options);
    assert.equal(info.flow, "client_credentials");
    assert.equal(info.hasRefreshToken, false);
    const token = await c.accessToken(kit.mcp_url, options);
    assert.ok(token.length > 10);
    await toolsWork(c, kit.mcp_url, options);
    const status = await c.tokenStatus(kit.mcp_url);
    assert.equal(status.flow, "client_credentials");
    assert.equal((await kit.stats()).counts["POST /token"], 1, "one grant so far");
    // the server stops taking the token: the grant runs again (there is no refresh token)
    await kit.expire();
    await toolsWork(c, kit.mcp_url, options);
    assert.equal((await kit.stats()).counts["POST /token"], 2, "renewed by a second grant");
    assert.notEqual(await c.accessToken(kit.mcp_url, options), token);
  } finally {
    await kit.stop();
  }
});

test("private_key_jwt in Node: WebCrypto signs the client assertion (ES256 PEM, RS256 JWK); broken keys refused before anything is sent", async () => {
  const kit = await startTestkit("default");
  try {
    await grantAdmin(kit, "key-client", { client_id: "ec-client", jwk: key("es256.public.jwk.json") });
    await grantAdmin(kit, "key-client", { client_id: "rsa-client", jwk: key("rs256.public.jwk.json") });
    const ec = { grant: "client_credentials", clientId: "ec-client", privateKey: key("es256.pem"), signingAlg: "ES256" };
    const { c, storage } = client();
    const info = await c.login(kit.mcp_url, ec);
    assert.equal(info.flow, "client_credentials");
    await toolsWork(c, kit.mcp_url, ec);
    // the testkit checked the assertion's signature, aud, exp, iat and jti; a second grant
    // (a new client) signs a fresh assertion
    const rsa = { grant: "client_credentials", clientId: "rsa-client", privateKey: key("rs256.jwk.json") };
    const other = client();
    await other.c.login(kit.mcp_url, rsa);
    await toolsWork(other.c, kit.mcp_url, rsa);
    assert.equal((await kit.stats()).counts["POST /token"], 2, "one grant each");

    // the wrong key for the client: the authorization server refuses, nothing stored
    const fresh = client();
    await assert.rejects(
      fresh.c.login(kit.mcp_url, { grant: "client_credentials", clientId: "ec-client", privateKey: key("rs256.pem") }),
      (e) => e.code === "grant_refused" && /authorization server/i.test(e.message),
    );
    assert.deepEqual(storedTokens(fresh.storage), []);

    // keys WebCrypto cannot take, or that are not what the options say: refused before sending
    const before = (await kit.stats()).counts["POST /token"];
    for (const [privateKey, signingAlg, why] of [
      [key("es256.sec1.pem"), undefined, /PKCS#8/],
      [key("rs256.pkcs1.pem"), undefined, /PKCS#8/],
      [key("es384.pem"), undefined, /P-256/],
      [key("es256.public.jwk.json"), undefined, /public JWK/],
      [key("es256.pem"), "RS256", /signs ES256, not the signingAlg RS256/],
      ["not a key", undefined, /PKCS#8 PEM/],
      // the platform's atob reads the PEM's base64: a character outside it is refused
      ["-----BEGIN PRIVATE KEY-----\nMIGH*not-base64*\n-----END PRIVATE KEY-----\n", undefined, /base64 is broken/],
    ]) {
      await assert.rejects(
        fresh.c.login(kit.mcp_url, { grant: "client_credentials", clientId: "ec-client", privateKey, signingAlg }),
        // the message names the problem, never the key's material
        (e) => e.code === "signing_key" && why.test(e.message) && !e.message.includes(privateKey.split("\n")[1] || "\u0000"),
        String(why),
      );
    }
    assert.equal((await kit.stats()).counts["POST /token"], before, "nothing sent for a broken key");
    assert.deepEqual(storedTokens(fresh.storage), []);
    assert.ok(!JSON.stringify([...storage.map.values()]).includes("PRIVATE KEY"), "the key is not stored");
    // a client_credentials client without a secret or a key: a clear error, nothing sent
    await assert.rejects(
      fresh.c.login(kit.mcp_url, { grant: "client_credentials", clientId: "ec-client" }),
      (e) => e.code === "invalid" && /client_secret/.test(e.message),
    );
    assert.equal((await kit.stats()).counts["POST /token"], before);
  } finally {
    await kit.stop();
  }
});

test("workload identity: the JWT-bearer grant; wrong audience, expired and replayed tokens refused once", async () => {
  const kit = await startTestkit("default");
  try {
    await grantAdmin(kit, "client", { client_id: "wl" });
    const mint = async (params) => (await grantAdmin(kit, "workload-token", params)).token;
    const good = await mint({ aud: kit.issuer, jti: "only-once" });
    const { c } = client();
    const info = await c.login(kit.mcp_url, { grant: "jwt_bearer", clientId: "wl", assertion: good });
    assert.equal(info.flow, "jwt_bearer");
    await toolsWork(c, kit.mcp_url, { grant: "jwt_bearer", clientId: "wl", assertion: good });

    for (const [assertion, reason] of [
      [await mint({ aud: "https://wrong.example" }), /audience/],
      [await mint({ aud: kit.issuer, exp_in: "-60" }), /expired/],
      [good, /replayed/],
    ]) {
      const { c: fresh, storage } = client();
      const before = (await kit.stats()).counts[JWT_BEARER] ?? 0;
      await assert.rejects(
        fresh.authorizedFetch(kit.mcp_url, { method: "POST", body: "{}" }, { grant: "jwt_bearer", clientId: "wl", assertion }),
        (e) => e.code === "grant_refused" && /invalid_grant/.test(e.message) && reason.test(e.message),
      );
      assert.equal((await kit.stats()).counts[JWT_BEARER], before + 1, `${reason}: sent once`);
      assert.deepEqual(storedTokens(storage), [], `${reason}: nothing stored`);
    }
  } finally {
    await kit.stop();
  }
});

test("enterprise-managed authorization: ID token -> ID-JAG at the IdP -> token; an IdP refusal names the IdP", async () => {
  const kit = await startTestkit("default");
  try {
    await grantAdmin(kit, "client", { client_id: "mcp-client", client_secret: "mcp-secret" });
    await grantAdmin(kit, "id-jag-client", { client_id: "mcp-client" });
    const idp = await grantAdmin(kit, "id-token", { aud: "testkit-idp-client" });
    const options = {
      grant: "token_exchange",
      clientId: "mcp-client",
      clientSecret: "mcp-secret",
      idpTokenEndpoint: idp.idp_token_endpoint,
      idpClientId: idp.idp_client_id,
      idToken: idp.token,
    };
    const { c } = client();
    const info = await c.login(kit.mcp_url, options);
    assert.equal(info.flow, "token_exchange");
    await toolsWork(c, kit.mcp_url, options);
    assert.equal((await kit.stats()).counts["POST /idp/token"], 1);

    const wrong = await grantAdmin(kit, "id-token", { aud: "someone-else" });
    const { c: other, storage } = client();
    await assert.rejects(
      other.login(kit.mcp_url, { ...options, idToken: wrong.token }),
      (e) => e.code === "grant_refused" && /identity provider at/.test(e.message) && /invalid_grant/.test(e.message),
    );
    assert.deepEqual(storedTokens(storage), []);
  } finally {
    await kit.stop();
  }
});

test("a private key or an IdP secret is refused in a browser context", async () => {
  globalThis.document = {};
  try {
    const { c } = client();
    await assert.rejects(
      c.login("http://127.0.0.1:9/mcp", { grant: "client_credentials", clientId: "x", privateKey: key("es256.pem") }),
      (e) => e.code === "client_secret_in_browser" && /privateKey/.test(e.message),
    );
    await assert.rejects(
      c.login("http://127.0.0.1:9/mcp", {
        grant: "token_exchange",
        clientId: "x",
        idpTokenEndpoint: "http://127.0.0.1:9/idp",
        idpClientId: "i",
        idpClientSecret: "s",
        idToken: "t",
      }),
      (e) => e.code === "client_secret_in_browser",
    );
  } finally {
    delete globalThis.document;
  }
});
