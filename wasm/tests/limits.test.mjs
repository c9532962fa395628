// The wasm host's bounds against a hostile server on 127.0.0.1 (a tiny Node server): a
// metadata document that never ends is cut at its cap with a clear `network` error and the
// download is cancelled (the server sees the connection close); every fetch carries an
// AbortSignal (AbortSignal.timeout), so a silent server cannot hold a request forever.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { loadNodePackage, memoryStorage, followingRedirect } from "./helpers.mjs";

const { McpAuthClient } = loadNodePackage();

async function hostileServer() {
  let closed;
  const foreverClosed = new Promise((resolve) => (closed = resolve));
  let sent = 0;
  const server = http.createServer((req, res) => {
    const base = `http://127.0.0.1:${server.address().port}`;
    if (req.method === "POST" && req.url === "/mcp") {
      res.writeHead(401, { "www-authenticate": `Bearer resource_metadata="${base}/forever"` });
      res.end();
      return;
    }
    if (req.url === "/forever") {
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (!res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) break;
        }
      };
      res.on("drain", pump);
      res.on("close", () => closed(sent));
      pump();
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}/mcp`,
    foreverClosed,
    stop: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

test("an endless metadata document is cut at 1 MiB, the download cancelled, every fetch with a timeout signal", { timeout: 60000 }, async () => {
  const srv = await hostileServer();
  const signals = [];
  const fetchWithLog = (url, init) => {
    signals.push(init?.signal);
    return fetch(url, init);
  };
  try {
    const c = new McpAuthClient({ storage: memoryStorage(), redirect: followingRedirect(), fetch: fetchWithLog });
    await assert.rejects(c.login(srv.url), (e) => {
      assert.equal(e.code, "network", e.message);
      assert.match(e.message, /larger than 1024 KiB/);
      assert.match(e.message, /\/forever/);
      return true;
    });
    // the reader was cancelled: the server's endless response ends (a leak would hang here)
    const sent = await srv.foreverClosed;
    assert.ok(sent >= 1024 * 1024, `only ${sent} bytes sent before the cap`);
    assert.ok(signals.length >= 2, `${signals.length} fetches`);
    for (const s of signals) {
      assert.ok(s instanceof AbortSignal, "every fetch carries an AbortSignal");
      assert.equal(s.aborted, false);
    }
  } finally {
    await srv.stop();
  }
});
