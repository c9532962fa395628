// The two packages built by wasm/build.sh are npm-ready, load the way users load them, and
// stay within a size ceiling (a regression guard, not the 38 KB goal: see wasm/README.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { ROOT } from "./helpers.mjs";

// .wasm + JS glue, gzip -9: 254 KiB measured with the dual-era MCP session (+31 KB over the
// OAuth-only build); issue 9 (DPoP through WebCrypto, the grants without a browser; no
// signing crates in this build) 306.0 KiB as this test counts (build.sh's gzip -9: 267.6 KiB
// at its start, 300.9 KiB after); private_key_jwt through WebCrypto +5.8 KiB: 313.5 KiB;
// plus headroom (ceiling 318 KiB). Issue 11: the ASCII-only IDNA backend (idna_adapter 1.0.0,
// the platform's `URL` converting non-ASCII hosts) took the ICU4X tables out: 313.5 → 268.8 KiB
// (web, as counted here; build.sh's web line 310.8 → 267.4 KiB). Then the shell on web-sys
// (+3.3 KB) and core's size cuts (−6.1 KB): 265.5 KiB web as counted here (build.sh 264.0 KiB);
// Then build.sh's own changes (wasm-opt without the passes that cost gzip bytes, the web glue
// minified by esbuild, source paths remapped): 250.4 KiB web as counted here (build.sh 249.4 KiB);
// Then core's JSON through the platform's `JSON` (serde_json out of the wasm build): 219.0 KiB
// web, 221.8 KiB node as counted here (build.sh's web line 246.0 → 217.5 KiB); with the
// follow-ups (one unstable sort, compact SHA-256, ordered maps) 214.9 KiB web, 217.7 KiB node
// (build.sh 213.3 KiB). Fifth session: typed documents without serde, one sorted-vector map
// instead of six B-trees: 186.5 KiB web, 189.3 KiB node as counted here (build.sh 185.2 KiB).
// Sixth session: URLs parsed by the platform's `URL` (`url` out of the wasm build), one sort
// instance: 165.3 KiB web, 168.2 KiB node as counted here (build.sh 164.9 KiB). Seventh
// session: base64 through base64ct, fewer generic instances, the error boxed: 156.8 KiB web,
// 159.6 KiB node as counted here (build.sh 156.6 KiB). Eighth session: the host's error
// boxed, no std IP address parsers, core's own punycode decoder, no `str` slicing panic,
// the shell's own string arrays, one heapsort: 145.0 KiB web, 147.7 KiB node as counted here
// (build.sh 145.0 KiB). Ninth session: no code per record type or caller where one copy
// serves (reads, writes, the browser's DPoP key, the Bearer pick), no closures per IndexedDB
// request, iterator chains written as loops: 139.8 KiB web, 142.5 KiB node as counted here
// (build.sh 139.9 KiB). Tenth session: short import and export names, the shell's JS objects
// read and built through one getter and setter, the form codec through `URLSearchParams`, one
// `join`: 132.9 KiB web, 135.7 KiB node as counted here (build.sh 132.1 KiB). Eleventh
// session: what single calls of `std` and js-sys linked, fewer `async fn` wrappers: 128.3 KiB
// web, 131.1 KiB node as counted here (build.sh 127.6 KiB). Twelfth session: one `Rc` per
// MCP session, ASCII trimming, fewer inlined builders: 127.3 KiB web, 130.1 KiB node as
// counted here (build.sh 126.4 KiB).
// Ceiling: the larger + ~3 % while the size work of issue 11 lands in steps.
const GZIP_CEILING = 134 * 1024;

for (const kind of ["web", "node"]) {
  const dir = path.join(ROOT, "wasm/pkg", kind);
  test(`pkg/${kind}: npm pack ships the module, the .wasm and the declarations`, () => {
    const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
    const [packed] = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--loglevel=error"], { cwd: dir, encoding: "utf8" }));
    const files = packed.files.map((f) => f.path).sort();
    for (const f of ["package.json", "mcp_auth.js", "mcp_auth.d.ts", "mcp_auth_bg.wasm"]) {
      assert.ok(files.includes(f), `${f} in ${files.join(", ")}`);
    }
    assert.equal(manifest.types, "mcp_auth.d.ts");
    assert.equal(manifest.main, "mcp_auth.js");
    if (kind === "web") assert.equal(manifest.type, "module");
    const wasm = readFileSync(path.join(dir, "mcp_auth_bg.wasm"));
    assert.deepEqual([...wasm.subarray(0, 4)], [0, 0x61, 0x73, 0x6d], "a wasm module");
    const dts = readFileSync(path.join(dir, "mcp_auth.d.ts"), "utf8");
    for (const name of ["class McpAuthClient", "interface McpAuthStorage", "interface McpAuthError", "completeLogin(callbackUrl: string)"]) {
      assert.ok(dts.includes(name), `${name} declared`);
    }
    // Code the build leaves out on purpose (wasm/README.md "Size"): `str` slicing's panic, whose
    // message links `char`'s and ranges' `Debug` and the printable tables (~4 KB gzip); core
    // cuts strings with `split_once`/`get`, and one `&s[a..b]` it cannot prove brings it back.
    assert.ok(!wasm.includes("is not a char boundary"), "the str slicing panic is linked again");
    // `percent-encoding`'s encoder and its table of `%XX` strings: the platform's parser
    // percent-encodes what the `Url` setters are given (core/src/platform_url/web.rs)
    assert.ok(!wasm.includes("%00%01%02%03"), "percent-encoding's encoder is linked again");
    const glue = readFileSync(path.join(dir, "mcp_auth.js"));
    // imports and exports carry short names (build.sh, wasm/minify-names.mjs), not
    // wasm-bindgen's `__wbg_<name>_<16 hex digits>`, in the module and in the glue alike
    for (const [what, bytes] of [["the .wasm", wasm], ["the glue", glue]]) {
      const long = bytes.toString("latin1").match(/__wbg_\w*_[0-9a-f]{16}/);
      assert.equal(long, null, `${what} still names ${long}`);
    }
    const gz = gzipSync(wasm, { level: 9 }).length + gzipSync(glue, { level: 9 }).length;
    assert.ok(gz < GZIP_CEILING, `gzip size ${gz} B is over the ${GZIP_CEILING} B ceiling`);
  });
}

test("pkg/node also loads with ESM named imports (the other tests use require())", async () => {
  const esm = await import(path.join(ROOT, "wasm/pkg/node/mcp_auth.js"));
  assert.equal(esm.identity("HTTPS://Example.COM:443/mcp"), "https://example.com");
  assert.equal(typeof esm.McpAuthClient, "function");
});

test("pkg/web initialises from bytes in Node too (no fetch of the .wasm needed)", async () => {
  const web = await import(path.join(ROOT, "wasm/pkg/web/mcp_auth.js"));
  await web.default({ module_or_path: readFileSync(path.join(ROOT, "wasm/pkg/web/mcp_auth_bg.wasm")) });
  assert.equal(web.resourceUri("https://mcp.example.com/mcp/"), "https://mcp.example.com/mcp");
});
