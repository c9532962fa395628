// IDNA in the Node build: its `url` has no Unicode tables, Node's WHATWG `URL` converts the
// host, and every answer is the native CLI's (identity, resource URI, the refusal's reason).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { loadNodePackage, memoryStorage } from "./helpers.mjs";
import { ACCEPTED, REFUSED, cliAnswers } from "./idna-cases.mjs";

const { identity, resourceUri, McpAuthClient } = loadNodePackage();
let cli;

before(async () => {
  cli = await cliAnswers();
});

test("non-ASCII hosts: identity and resource URI as the CLI has them", () => {
  assert.equal(identity("https://bücher.example/mcp"), "https://xn--bcher-kva.example");
  assert.equal(resourceUri("https://bücher.example/mcp"), "https://xn--bcher-kva.example/mcp");
  for (const input of ACCEPTED) {
    const native = cli.accepted[input];
    assert.equal(identity(input), native.identity, `identity(${input})`);
    // the CLI's own parse of the URL is ASCII: the wasm build needs no IDNA for it
    assert.equal(resourceUri(input), resourceUri(native.url), `resourceUri(${input})`);
  }
});

test("hosts IDNA refuses: code invalid_url and the CLI's reason", () => {
  for (const input of REFUSED) {
    for (const fn of [identity, resourceUri]) {
      assert.throws(
        () => fn(input),
        (e) => e.code === "invalid_url" && e.message.endsWith(`: ${cli.refused[input]}`),
        `${fn.name}(${JSON.stringify(input)}) refused like the CLI (${cli.refused[input]})`,
      );
    }
  }
});

test("a URL is trimmed of ASCII whitespace only (a non-ASCII space is part of it, as for new URL())", () => {
  assert.equal(identity(" \thttps://Example.com/mcp\r\n"), "https://example.com");
  for (const input of ["\u00a0https://example.com/mcp", "\u3000https://example.com/mcp"]) {
    assert.throws(() => identity(input), (e) => e.code === "invalid_url", JSON.stringify(input));
  }
});

test("a client given a non-ASCII server URL looks its tokens up under the CLI's identity", async () => {
  const client = new McpAuthClient({ storage: memoryStorage(), redirect: () => {} });
  const st = await client.tokenStatus("https://bücher.example/mcp");
  assert.equal(st.identity, cli.accepted["https://bücher.example/mcp"].identity);
  assert.equal(st.present, false);
  await assert.rejects(client.tokenStatus("https://xn--a.example/mcp"), (e) => e.code === "invalid_url");
});
