// The shared vectors in tests/vectors/ (also read by the Rust tests) give the same answers here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ROOT, loadNodePackage } from "./helpers.mjs";

const { identity, resourceUri } = loadNodePackage();
const vectors = JSON.parse(readFileSync(path.join(ROOT, "tests/vectors/identity.json"), "utf8"));

test("identity.json: identity(url) and resourceUri(url) match every case", () => {
  assert.ok(vectors.cases.length >= 5, "the vector file has cases");
  for (const c of vectors.cases) {
    assert.equal(identity(c.input), c.identity, `identity(${JSON.stringify(c.input)})`);
    assert.equal(resourceUri(c.input), c.resource, `resourceUri(${JSON.stringify(c.input)})`);
  }
});

test("identity.json: invalid inputs throw an Error with the vector's code", () => {
  assert.ok(vectors.errors.length >= 1);
  for (const c of vectors.errors) {
    for (const fn of [identity, resourceUri]) {
      assert.throws(
        () => fn(c.input),
        (e) => e instanceof Error && e.code === c.code && e.message.length > 0,
        `${fn.name}(${JSON.stringify(c.input)}) throws code ${c.code}`,
      );
    }
  }
});
