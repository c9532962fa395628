// Hosts that need IDNA, and what the native CLI (Unicode IDNA in `url`) answers for them: the
// wasm build (ASCII-only IDNA, the platform's WHATWG `URL` doing the rest) must answer the same.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runCli } from "./helpers.mjs";

/** Non-ASCII hosts (and one written in punycode already), accepted. */
export const ACCEPTED = [
  "https://bücher.example/mcp",
  "https://BÜCHER.example:443/mcp/",
  "https://faß.example/a/?q=ü#f",
  "http://bücher.localhost:8080/mcp",
  "https://ｅｘａｍｐｌｅ.com/mcp",
  "https://xn--bcher-kva.example/mcp",
];

/**
 * Hosts IDNA refuses: bad punycode, well-formed punycode of a code point IDNA disallows
 * (U+0080: Chromium's `URL` alone would accept it, as it copies ASCII labels through), a
 * leading combining mark, a joiner out of context.
 */
export const REFUSED = [
  "https://XN--ZZ.example/mcp",
  "https://xn--a.example/mcp",
  "https://\u0301a.example/mcp",
  "https://a\u200db.example/mcp",
];

/**
 * The CLI's answers: `{accepted: {input: {identity, url}}, refused: {input: reason}}`, from
 * `mcp-auth --json status URL` (which parses the URL and works offline).
 */
export async function cliAnswers() {
  const home = mkdtempSync(path.join(tmpdir(), "mcp-auth-idna-"));
  try {
    const accepted = {};
    for (const input of ACCEPTED) {
      const { stdout } = await runCli(home, ["--json", "status", input]);
      const out = JSON.parse(stdout);
      accepted[input] = { identity: out.identity, url: out.url };
    }
    const refused = {};
    for (const input of REFUSED) {
      const err = await runCli(home, ["--json", "status", input]).then(
        () => null,
        (e) => e,
      );
      if (err === null) throw new Error(`the CLI accepted ${JSON.stringify(input)}`);
      // "mcp-auth: error: `URL` is not a valid URL: REASON"
      const m = /is not a valid URL: (.*)$/m.exec(err.stderr);
      if (!m) throw new Error(`unexpected CLI error for ${JSON.stringify(input)}: ${err.stderr}`);
      refused[input] = m[1].trim();
    }
    return { accepted, refused };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
