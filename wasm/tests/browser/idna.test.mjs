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
