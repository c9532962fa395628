// Renames the wasm module's imports and exports in wasm-bindgen's JS glue and type files to
// the short names `wasm-opt --minify-imports-and-exports-and-modules` gave them (build.sh,
// issue 11). wasm-bindgen names every import `__wbg_<name>_<16 hex digits>`: 90 such names
// are ~2.6 KB of the gzipped .wasm and as much again in the glue, and hex digits do not
// compress.
//
//   node wasm/minify-names.mjs <web|node> <package dir> <mapping.json>
//
// <mapping.json> is what wasm-opt printed: {"imports": [[module, name, new name]…],
// "exports": [[name, new name]…]}. The new import module name is read from the .wasm itself.
// The glue is wasm-bindgen's, not yet minified: its imports are the keys of one object
// literal (`import0`, returned under the module name) and it reaches every export as
// `wasm.<name>`. Anything else fails the build: an old name left in the glue, a `wasm.<x>`
// that is not an export, or a package that no longer instantiates.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [kind, dir, mappingFile] = process.argv.slice(2);
if (!["web", "node"].includes(kind) || !dir || !mappingFile) {
  console.error("usage: node wasm/minify-names.mjs <web|node> <package dir> <mapping.json>");
  process.exit(2);
}
const fail = (message) => {
  console.error(`minify-names: ${message}`);
  process.exit(1);
};

const mapping = JSON.parse(readFileSync(mappingFile, "utf8"));
const wasmFile = path.join(dir, "mcp_auth_bg.wasm");
const glueFile = path.join(dir, "mcp_auth.js");
const module = new WebAssembly.Module(readFileSync(wasmFile));
const modules = [...new Set(WebAssembly.Module.imports(module).map((i) => i.module))];
if (modules.length !== 1) fail(`expected one import module after minifying, found ${JSON.stringify(modules)}`);
const newModule = modules[0];

const oldModules = [...new Set(mapping.imports.map(([m]) => m))];
if (oldModules.length !== 1) fail(`expected one import module in the glue, found ${JSON.stringify(oldModules)}`);
const imports = new Map(mapping.imports.map(([, name, short]) => [name, short]));
const exports = new Map(mapping.exports);
const newExports = new Set(exports.values());

let glue = readFileSync(glueFile, "utf8");
const word = (name) => name.replace(/[$]/g, "\\$");

// imports: the keys of the import object, one per line (`    name: function(…) {`)
for (const [name, short] of imports) {
  const key = new RegExp(`^(\\s+)${word(name)}(\\s*:)`, "m");
  if (!key.test(glue)) fail(`import ${name} is not a key of the glue's import object`);
  glue = glue.replace(key, (whole, lead, colon) => `${lead}${short}${colon}`);
}
const moduleKey = `${JSON.stringify(oldModules[0])}: import0`;
if (!glue.includes(moduleKey)) fail(`the glue does not return its imports under ${oldModules[0]}`);
glue = glue.replace(moduleKey, () => `${JSON.stringify(newModule)}: import0`);

// exports: every `wasm.<name>` (an export reached any other way would keep its old name)
if (/\bwasm\s*\[/.test(glue)) fail("the glue indexes `wasm[…]`: its exports cannot be renamed by name");
glue = glue.replace(/\bwasm\.([A-Za-z_$][\w$]*)/g, (whole, name) => {
  if (exports.has(name)) return `wasm.${exports.get(name)}`;
  fail(`the glue reads wasm.${name}, which the module does not export`);
  return whole;
});
for (const name of imports.keys()) {
  if (new RegExp(`(?<![\\w$])${word(name)}(?![\\w$])`).test(glue)) fail(`import ${name} is still named in the glue`);
}
for (const name of newExports) {
  if (!WebAssembly.Module.exports(module).some((e) => e.name === name)) fail(`export ${name} is not in the module`);
}
writeFileSync(glueFile, glue);

// the type files name the raw exports: `InitOutput` (web) and mcp_auth_bg.wasm.d.ts
const renameDeclared = (text, prefix) =>
  text.replace(new RegExp(`^(\\s*${prefix})([A-Za-z_$][\\w$]*)(\\s*:)`, "gm"), (whole, lead, name, colon) =>
    exports.has(name) ? `${lead}${exports.get(name)}${colon}` : whole,
  );
const bgTypes = path.join(dir, "mcp_auth_bg.wasm.d.ts");
writeFileSync(bgTypes, renameDeclared(readFileSync(bgTypes, "utf8"), "export const "));
const types = path.join(dir, "mcp_auth.d.ts");
let dts = readFileSync(types, "utf8");
const start = dts.indexOf("export interface InitOutput {");
if (start >= 0) {
  const end = dts.indexOf("\n}", start);
  dts = dts.slice(0, start) + renameDeclared(dts.slice(start, end), "readonly ") + dts.slice(end);
  writeFileSync(types, dts);
}

// the package still instantiates: every import the module asks for is in the glue's object
try {
  if (kind === "node") {
    createRequire(import.meta.url)(path.resolve(glueFile));
  } else {
    const m = await import(pathToFileURL(path.resolve(glueFile)).href);
    m.initSync({ module: readFileSync(wasmFile) });
  }
} catch (e) {
  fail(`the renamed ${kind} package does not instantiate: ${e.message}`);
}
