// The exported MCP session (client.session) against testkit servers of each MCP era, over
// HTTP on 127.0.0.1: the tools are listed and called through core, and the revision spoken
// is the one the server's era calls for.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadNodePackage, startTestkit, memoryStorage, followingRedirect } from "./helpers.mjs";

const { McpAuthClient } = loadNodePackage();

for (const [args, expected] of [
  [["--protocol", "modern"], "2026-07-28"],
  [["--protocol", "legacy"], "2025-11-25"],
  [["--protocol", "dual"], "2026-07-28"],
  [["--protocol", "legacy", "--priming-event", "crlf"], "2025-11-25"],
  [["--protocol", "modern", "--priming-event", "lf"], "2026-07-28"],
]) {
  test(`session with a testkit started with ${args.join(" ")} speaks ${expected}`, async () => {
    const kit = await startTestkit("default", args);
    try {
      const storage = memoryStorage();
      const c = new McpAuthClient({ storage, redirect: followingRedirect() });
      await c.login(kit.mcp_url);
      const session = await c.session(kit.mcp_url);
      const names = (await session.listTools()).map((t) => t.name);
      for (const t of ["echo", "whoami", "write_note"]) assert.ok(names.includes(t), names.join(","));
      assert.equal(session.protocolVersion, expected);
      const r = await session.callTool("echo", { text: "from-node" });
      assert.match(JSON.stringify(r.content), /from-node/);
      const info = await session.discover();
      assert.equal(info.protocolVersion, expected);
      await session.close();
      await assert.rejects(session.listTools(), (e) => e.code === "mcp_protocol");
      // remembered for the next session on the same store
      const rec = JSON.parse(storage.map.get(`protocol:${kit.mcp_url}`));
      assert.equal(rec.protocol_version, expected);
    } finally {
      await kit.stop();
    }
  });
}

test("a forced revision, and one the server does not speak", async () => {
  const kit = await startTestkit("default", ["--protocol", "legacy"]);
  try {
    const c = new McpAuthClient({ storage: memoryStorage(), redirect: followingRedirect() });
    await c.login(kit.mcp_url);
    const s = await c.session(kit.mcp_url, { protocol: "2025-06-18" });
    await s.listTools();
    assert.equal(s.protocolVersion, "2025-06-18");
    const modern = await c.session(kit.mcp_url, { protocol: "2026-07-28" });
    await assert.rejects(modern.listTools(), (e) => typeof e.code === "string" && /tools\/list/.test(e.message));
    await assert.rejects(c.session(kit.mcp_url, { protocol: "1999-01-01" }), (e) => e.code === "invalid");
  } finally {
    await kit.stop();
  }
});

test("the 2024-11-05 HTTP+SSE transport through fetch's streaming body, forced and found by auto", async () => {
  const kit = await startTestkit("default");
  try {
    const storage = memoryStorage();
    const c = new McpAuthClient({ storage, redirect: followingRedirect() });
    await c.login(kit.sse_url);
    for (const protocol of ["2024-11-05", "auto"]) {
      const before = (await kit.stats()).counts["GET /sse"] ?? 0;
      const s = await c.session(kit.sse_url, { protocol });
      const names = (await s.listTools()).map((t) => t.name);
      assert.ok(names.includes("echo"), names.join(","));
      assert.equal(s.protocolVersion, "2024-11-05");
      const r = await s.callTool("echo", { text: "over-sse" });
      assert.match(JSON.stringify(r.content), /over-sse/);
      await s.close();
      assert.equal((await kit.stats()).counts["GET /sse"], before + 1, `${protocol}: one event stream`);
    }
  } finally {
    await kit.stop();
  }
});
