// The web demo in real headless Chromium (Debian's, driven by playwright-core): log in through
// the testkit's consent page, see the tool list after the redirect back, reload, still there.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT, startTestkit, launchChromium } from "../helpers.mjs";

const ARTIFACTS = path.join(ROOT, "test-artifacts");
let kit, context, page, tmp;
const consoleErrors = [];

before(async () => {
  kit = await startTestkit("consent", ["--static-dir", path.join(ROOT, "web-demo")]);
  tmp = mkdtempSync(path.join(tmpdir(), "mcp-auth-chromium-"));
  context = await launchChromium(tmp);
  page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (m) => {
    // Chromium logs every non-2xx response ("Failed to load resource"); discovery expects
    // the 401 probe and 404s for absent metadata, so only the page's own errors count.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
});

after(async () => {
  await context?.close();
  await kit?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const demoUrl = () => `${kit.base_url}/demo/`;

test("the demo logs in through the consent page and shows the tool list after the redirect back", async () => {
  await page.goto(demoUrl());
  await page.waitForFunction(() => document.getElementById("state").textContent.includes("Not logged in"));
  assert.equal(await page.inputValue("#server-url"), kit.mcp_url, "defaults to the same-origin /mcp");
  await page.click("#login");
  // the testkit's consent page, on the authorization server
  await page.waitForSelector("#approve", { timeout: 20000 });
  assert.match(page.url(), /\/authorize\?/);
  await page.click("#approve");
  await page.waitForSelector('#tools li[data-tool="write_note"]', { timeout: 20000 });
  const tools = await page.$$eval("#tools li", (lis) => lis.map((li) => li.dataset.tool));
  for (const t of ["echo", "whoami", "write_note"]) assert.ok(tools.includes(t), `tool ${t} shown`);
  assert.equal(await page.textContent("#identity"), new URL(kit.mcp_url).origin);
  assert.match(await page.textContent("#scopes"), /mcp:read/);
  assert.match(await page.textContent("#expiry"), /\d/);
  // the page shows the MCP revision core spoke (the testkit's, whichever era it serves)
  assert.match(await page.textContent("#protocol"), /^20\d\d-\d\d-\d\d$/);
  assert.ok(!new URL(page.url()).search.includes("code="), "the code is removed from the address bar");
  const keys = await page.evaluate(() => Object.keys(localStorage));
  // one token record per resource inside the identity (record version 2)
  assert.ok(keys.includes(`mcp-auth:tokens:${new URL(kit.mcp_url).origin}|${kit.mcp_url}`), keys.join(","));
  assert.ok(!keys.some((k) => k.startsWith("mcp-auth:pending:")), "the pending login is spent");
  const stats = await kit.stats();
  assert.equal(stats.counts["GET /authorize"], 1, JSON.stringify(stats.counts));
  assert.equal(stats.counts["POST /authorize/decision"], 1, "one consent click");
  assert.equal(stats.counts["POST /token"], 1);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, "web-demo-logged-in.png"), fullPage: true });
});

test("after a reload the session is still there (no new authorization)", async () => {
  const authorizeBefore = (await kit.stats()).counts["GET /authorize"] ?? 0;
  const tokenBefore = (await kit.stats()).counts["POST /token"] ?? 0;
  await page.reload();
  await page.waitForSelector('#tools li[data-tool="whoami"]', { timeout: 20000 });
  assert.match(await page.textContent("#state"), /Logged in\. \d+ tools/);
  const stats = await kit.stats();
  assert.equal(stats.counts["GET /authorize"] ?? 0, authorizeBefore, "no new authorization request");
  assert.equal(stats.counts["POST /token"] ?? 0, tokenBefore, "no new token request");
  await page.screenshot({ path: path.join(ARTIFACTS, "web-demo-after-reload.png"), fullPage: true });
});

test("after the server expires the tokens, a reload refreshes them (under a Web Lock) without a new login", async () => {
  const before = await kit.stats();
  await kit.expire();
  await page.reload();
  await page.waitForSelector('#tools li[data-tool="whoami"]', { timeout: 20000 });
  const after = await kit.stats();
  assert.equal(after.counts["POST /token"], before.counts["POST /token"] + 1, "one refresh");
  assert.equal(after.counts["GET /authorize"], before.counts["GET /authorize"], "no new authorization");
  const held = await page.evaluate(() => navigator.locks.query());
  assert.deepEqual(held.held, [], "the lock was released");
});

test("log out revokes and clears the session", async () => {
  await page.click("#logout");
  await page.waitForFunction(() => document.getElementById("state").textContent.startsWith("Logged out"));
  assert.equal(await page.isHidden("#session"), true);
  const keys = await page.evaluate(() => Object.keys(localStorage));
  assert.ok(!keys.some((k) => k.startsWith("mcp-auth:tokens:")), keys.join(","));
  assert.ok((await kit.stats()).revoked >= 1);
  assert.deepEqual(consoleErrors, [], "no errors on the page console");
});

test("denying consent comes back to the page with a clear error and no session", async () => {
  await page.goto(demoUrl());
  await page.waitForFunction(() => document.getElementById("state").textContent.includes("Not logged in"));
  await page.click("#login");
  await page.waitForSelector("#deny", { timeout: 20000 });
  await page.click("#deny");
  await page.waitForFunction(() => document.getElementById("error").textContent.length > 0, null, { timeout: 20000 });
  const error = await page.textContent("#error");
  assert.match(error, /Login failed: .*access_denied.*\(authorization_denied\)/, error);
  assert.equal(await page.isHidden("#session"), true);
  const keys = await page.evaluate(() => Object.keys(localStorage));
  assert.ok(!keys.some((k) => k.startsWith("mcp-auth:tokens:")), keys.join(","));
  await page.screenshot({ path: path.join(ARTIFACTS, "web-demo-denied.png"), fullPage: true });
});
