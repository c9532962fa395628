// DPoP in real headless Chromium: the web demo logs in to the testkit's strict DPoP servers
// (nonces demanded and rotated by both) with a WebCrypto key the page can use but never
// export, and an access token copied out of localStorage is refused without that key's proof.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT, startTestkit, launchChromium } from "../helpers.mjs";

let kit, context, page, tmp;
const pageErrors = [];

before(async () => {
  kit = await startTestkit("dpop-nonce", ["--static-dir", path.join(ROOT, "web-demo")]);
  tmp = mkdtempSync(path.join(tmpdir(), "mcp-auth-chromium-dpop-"));
  context = await launchChromium(tmp);
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  // in every page: the stored key record of an identity (undefined when there is none)
  await page.addInitScript(() => {
    globalThis.__testDpopKeyRecord = async (identity) => {
      const db = await new Promise((ok, ko) => {
        const r = indexedDB.open("mcp-auth-dpop");
        r.onsuccess = () => ok(r.result);
        r.onerror = () => ko(r.error);
      });
      const rec = await new Promise((ok, ko) => {
        const r = db.transaction("keys", "readonly").objectStore("keys").get(identity);
        r.onsuccess = () => ok(r.result);
        r.onerror = () => ko(r.error);
      });
      db.close();
      return rec;
    };
  });
});

after(async () => {
  await context?.close();
  await kit?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test("the demo logs in with a non-extractable key, and a copied token is refused without its proof", async () => {
  await page.goto(`${kit.base_url}/demo/`);
  await page.waitForFunction(() => document.getElementById("state").textContent.includes("Not logged in"));
  await page.click("#login");
  await page.waitForSelector('#tools li[data-tool="whoami"]', { timeout: 20000 });
  const id = new URL(kit.mcp_url).origin;

  // the token record is DPoP-bound
  const record = await page.evaluate(
    (key) => JSON.parse(localStorage.getItem(key)),
    `mcp-auth:tokens:${id}|${kit.mcp_url}`,
  );
  assert.equal(record.token_type, "DPoP");
  const keys = await page.evaluate(() => Object.keys(localStorage));
  assert.ok(!keys.some((k) => k.includes("dpop:")), "no key material in localStorage: " + keys.join(","));

  // the key is in IndexedDB as a CryptoKey the page can sign with but never export
  const probe = await page.evaluate(async (identity) => {
    const rec = await globalThis.__testDpopKeyRecord(identity);
    const key = rec.privateKey;
    let exportError = null;
    for (const format of ["jwk", "pkcs8"]) {
      try {
        await crypto.subtle.exportKey(format, key);
      } catch (e) {
        exportError = exportError ?? e.name;
        continue;
      }
      return { exported: format };
    }
    const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new Uint8Array([1, 2, 3]));
    return {
      type: String(key.constructor.name),
      extractable: key.extractable,
      usages: key.usages,
      exportError,
      signatureBytes: sig.byteLength,
      crv: rec.jwk.crv,
    };
  }, id);
  assert.equal(probe.exported, undefined, "the private key was exported");
  assert.equal(probe.type, "CryptoKey");
  assert.equal(probe.extractable, false);
  assert.deepEqual(probe.usages, ["sign"]);
  assert.equal(probe.exportError, "InvalidAccessError");
  assert.equal(probe.signatureBytes, 64, "usable for signing (raw r || s)");
  assert.equal(probe.crv, "P-256");

  // XSS copies the token out of localStorage: without a proof by the key it is refused
  const statuses = await page.evaluate(
    async ({ url, token }) => {
      const out = {};
      for (const scheme of ["Bearer", "DPoP"]) {
        const r = await fetch(url, {
          method: "POST",
          headers: {
            authorization: `${scheme} ${token}`,
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
          },
          body: JSON.stringify({
            jsonrpc: "2.0",
            id: 1,
            method: "initialize",
            params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "0" } },
          }),
        });
        out[scheme] = r.status;
      }
      return out;
    },
    { url: kit.mcp_url, token: record.access_token },
  );
  assert.deepEqual(statuses, { Bearer: 401, DPoP: 401 });

  // the page itself, with the key, still works after a reload (same key from IndexedDB)
  await page.reload();
  await page.waitForSelector('#tools li[data-tool="whoami"]', { timeout: 20000 });
  const dpop = await (await fetch(`${kit.base_url}/_testkit/dpop`)).json();
  assert.equal(dpop.as_nonce_challenges, 1, JSON.stringify(dpop));
  assert.deepEqual(pageErrors, [], "no errors on the page");
});

test("log out deletes the identity's key from IndexedDB, and a new login makes a new one", async () => {
  const id = new URL(kit.mcp_url).origin;
  const keyOf = (identity) =>
    page.evaluate(async (identity) => (await globalThis.__testDpopKeyRecord(identity))?.jwk.x ?? null, identity);
  const first = await keyOf(id);
  assert.equal(typeof first, "string", "the login's key is stored");

  await page.click("#logout");
  await page.waitForFunction(() => document.getElementById("state").textContent.startsWith("Logged out"));
  assert.equal(await keyOf(id), null, "the key went with the tokens");

  await page.click("#login");
  await page.waitForSelector('#tools li[data-tool="whoami"]', { timeout: 20000 });
  const second = await keyOf(id);
  assert.equal(typeof second, "string");
  assert.notEqual(second, first, "a new key for the new login");
  assert.deepEqual(pageErrors, [], "no errors on the page");
});
