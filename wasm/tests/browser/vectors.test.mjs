// tests/vectors/identity.json through the browser build in real headless Chromium, whose `URL`
// differs from the `url` crate on some inputs (it accepts `https://a b.example/` and a bare
// `xn--` host): core still gives every vector's answer there.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT, startTestkit, launchChromium } from "../helpers.mjs";

const vectors = JSON.parse(readFileSync(path.join(ROOT, "tests/vectors/identity.json"), "utf8"));
let kit, context, page, tmp;

before(async () => {
  kit = await startTestkit("default", ["--static-dir", path.join(ROOT, "web-demo")]);
  tmp = mkdtempSync(path.join(tmpdir(), "mcp-auth-chromium-vectors-"));
  context = await launchChromium(tmp);
  page = context.pages()[0] ?? (await context.newPage());
});

after(async () => {
  await context?.close();
  await kit?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test("identity.json: the browser build gives every case's identity and resource, and every error's code", async () => {
  await page.goto(`${kit.base_url}/demo/`);
  const inputs = [...vectors.cases, ...vectors.errors].map((c) => c.input);
  const got = await page.evaluate(async (inputs) => {
    const m = await import("/demo/pkg/mcp_auth.js");
    await m.default();
    const run = (fn, input) => {
      try {
        return { ok: fn(input) };
      } catch (e) {
        return { code: e.code };
      }
    };
    return inputs.map((input) => ({ identity: run(m.identity, input), resource: run(m.resourceUri, input) }));
  }, inputs);
  assert.equal(got.length, inputs.length);
  vectors.cases.forEach((c, i) => {
    assert.deepEqual(got[i].identity, { ok: c.identity }, `identity(${JSON.stringify(c.input)})`);
    assert.deepEqual(got[i].resource, { ok: c.resource }, `resourceUri(${JSON.stringify(c.input)})`);
  });
  vectors.errors.forEach((c, j) => {
    const r = got[vectors.cases.length + j];
    assert.deepEqual(r.identity, { code: c.code }, `identity(${JSON.stringify(c.input)})`);
    assert.deepEqual(r.resource, { code: c.code }, `resourceUri(${JSON.stringify(c.input)})`);
  });
});
