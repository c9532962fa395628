// build.sh's renaming step (wasm/minify-names.mjs) on a small module of the same shape as
// wasm-bindgen's output: the renamed package still works, and a glue the step cannot rename
// completely fails the build instead of shipping a package that breaks at run time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT } from "./helpers.mjs";

const BIN = path.join(ROOT, "wasm/js/node_modules/.bin");
const IMPORT = "__wbg_answer_0123456789abcdef";

// one import, called by one export; the memory exported as wasm-bindgen's modules do
const WAT = `(module
  (import "./mcp_auth_bg.js" "${IMPORT}" (func $answer (result i32)))
  (memory (export "memory") 1)
  (func (export "twice_the_answer") (result i32)
    (i32.mul (call $answer) (i32.const 2))))`;

// wasm-bindgen's nodejs glue, cut down to its shape: the imports as the keys of `import0`, one
// per line, returned under the module's name; every export read as `wasm.<name>`
const glue = (body) => `const wasmBytes = require("fs").readFileSync(\`\${__dirname}/mcp_auth_bg.wasm\`);
function __wbg_get_imports() {
    const import0 = {
        __proto__: null,
        ${IMPORT}: function() {
            return 21;
        },
    };
    return {
        __proto__: null,
        "./mcp_auth_bg.js": import0,
    };
}
const wasm = new WebAssembly.Instance(new WebAssembly.Module(wasmBytes), __wbg_get_imports()).exports;
${body}
`;

/** A package folder with the module and `glueBody`, renamed as build.sh does; the step's result. */
function renamed(glueBody) {
  const dir = mkdtempSync(path.join(tmpdir(), "mcp-auth-minify-names-"));
  writeFileSync(path.join(dir, "module.wat"), WAT);
  execFileSync(path.join(BIN, "wasm-as"), [path.join(dir, "module.wat"), "-o", path.join(dir, "mcp_auth_bg.wasm")]);
  writeFileSync(path.join(dir, "mcp_auth.js"), glue(glueBody));
  writeFileSync(path.join(dir, "mcp_auth_bg.wasm.d.ts"), "export const memory: WebAssembly.Memory;\nexport const twice_the_answer: () => number;\n");
  writeFileSync(path.join(dir, "mcp_auth.d.ts"), "export function twiceTheAnswer(): number;\n");
  const names = execFileSync(path.join(BIN, "wasm-opt"), [
    "--minify-imports-and-exports-and-modules", path.join(dir, "mcp_auth_bg.wasm"), "-o", path.join(dir, "mcp_auth_bg.wasm"),
  ], { encoding: "utf8" });
  writeFileSync(path.join(dir, "names.json"), names);
  const run = spawnSync(process.execPath, [path.join(ROOT, "wasm/minify-names.mjs"), "node", dir, path.join(dir, "names.json")], { encoding: "utf8" });
  return { dir, status: run.status, stderr: run.stderr };
}

test("the renamed module and glue still work, and no long name is left in either", () => {
  const { dir, status, stderr } = renamed("module.exports.twiceTheAnswer = () => wasm.twice_the_answer();");
  try {
    assert.equal(status, 0, stderr);
    const js = readFileSync(path.join(dir, "mcp_auth.js"), "utf8");
    const wasm = readFileSync(path.join(dir, "mcp_auth_bg.wasm")).toString("latin1");
    for (const name of [IMPORT, "twice_the_answer", "./mcp_auth_bg.js"]) {
      assert.ok(!wasm.includes(name), `${name} still in the module`);
    }
    assert.ok(!js.includes(IMPORT) && !js.includes("wasm.twice_the_answer"), js);
    assert.equal(createRequire(import.meta.url)(path.join(dir, "mcp_auth.js")).twiceTheAnswer(), 42);
    // the raw exports' declarations follow the new names
    assert.doesNotMatch(readFileSync(path.join(dir, "mcp_auth_bg.wasm.d.ts"), "utf8"), /twice_the_answer/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a glue that reads an export the module lacks, or indexes wasm[…], fails the step", () => {
  for (const [body, reason] of [
    ["module.exports.f = () => wasm.not_exported();", /reads wasm\.not_exported/],
    ['module.exports.f = () => wasm["twice_the_answer"]();', /indexes `wasm\[…\]`/],
  ]) {
    const { dir, status, stderr } = renamed(body);
    try {
      assert.equal(status, 1, `${body}: ${stderr}`);
      assert.match(stderr, reason);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
