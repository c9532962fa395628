// IDNA in the browser build, in real headless Chromium: the page's `URL` converts non-ASCII
// hosts for core (this build's `url` has no Unicode tables), and every answer is the native
// CLI's — identity, resource URI, and the reason a host IDNA refuses is refused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT, startTestkit, launchChromium } from "../helpers.mjs";
import { ACCEPTED, REFUSED, cliAnswers } from "../idna-cases.mjs";

let kit, context, page, tmp, cli;

before(async () => {
  cli = await cliAnswers();
  kit = await startTestkit("default", ["--static-dir", path.join(ROOT, "web-demo")]);
  tmp = mkdtempSync(path.join(tmpdir(), "mcp-auth-chromium-idna-"));
  context = await launchChromium(tmp);
  page = context.pages()[0] ?? (await context.newPage());
});

after(async () => {
  await context?.close();
  await kit?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test("the browser build answers the CLI's identity, resource and refusals for IDNA hosts", async () => {
  await page.goto(`${kit.base_url}/demo/`);
  const got = await page.evaluate(
    async ({ accepted, refused }) => {
      const m = await import("/demo/pkg/mcp_auth.js");
      await m.default();
      const run = (fn, input) => {
        try {
          return { ok: fn(input) };
        } catch (e) {
          return { code: e.code, message: e.message };
        }
      };
      return {
        accepted: accepted.map(([input, url]) => ({
          input,
          identity: run(m.identity, input),
          resource: run(m.resourceUri, input),
          nativeResource: run(m.resourceUri, url),
        })),
        refused: refused.map((input) => ({ input, identity: run(m.identity, input), resource: run(m.resourceUri, input) })),
      };
    },
    { accepted: ACCEPTED.map((i) => [i, cli.accepted[i].url]), refused: REFUSED },
  );
  assert.equal(got.accepted.length, ACCEPTED.length);
  for (const c of got.accepted) {
    assert.deepEqual(c.identity, { ok: cli.accepted[c.input].identity }, `identity(${c.input})`);
    assert.ok(c.nativeResource.ok, `resourceUri of the CLI's ASCII URL for ${c.input}`);
    assert.deepEqual(c.resource, c.nativeResource, `resourceUri(${c.input})`);
  }
  assert.equal(got.accepted[0].resource.ok, "https://xn--bcher-kva.example/mcp");
  assert.equal(got.refused.length, REFUSED.length);
  for (const c of got.refused) {
    for (const r of [c.identity, c.resource]) {
      assert.equal(r.code, "invalid_url", `${c.input}: ${JSON.stringify(r)}`);
      assert.ok(r.message.endsWith(`: ${cli.refused[c.input]}`), `${c.input}: ${r.message} vs the CLI's ${cli.refused[c.input]}`);
    }
  }
});

test("a client made in a page without redirectUri sends the page's own address (origin and path) as redirect_uri", async () => {
  await page.goto(`${kit.base_url}/demo/?from=test#frag`);
  const got = await page.evaluate(async (server) => {
    const m = await import("/demo/pkg/mcp_auth.js");
    await m.default();
    const map = new Map();
    const storage = { get: (k) => map.get(k) ?? null, set: (k, v) => void map.set(k, v), delete: (k) => void map.delete(k) };
    const client = new m.McpAuthClient({ storage });
    const req = await client.beginLogin(server);
    return { redirectUri: req.redirectUri, sent: new URL(req.authorizationUrl).searchParams.get("redirect_uri") };
  }, `${kit.base_url}/mcp`);
  // the query and fragment of the page are not part of it
  assert.equal(got.redirectUri, `${kit.base_url}/demo/`);
  assert.equal(got.sent, `${kit.base_url}/demo/`);
});
