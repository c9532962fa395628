// The bad-input catalogue (tests/vectors/catalogue.json) through the wasm build: every row's
// hostile answer (served by the testkit instead of its real handler) must end in an Error
// with the row's stable `code`, and no stored record may change or go (a failed login stores
// no token). The same rows run through core and the CLI in native/tests/catalogue.rs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ROOT, loadNodePackage, startTestkit, followingRedirect, memoryStorage } from "./helpers.mjs";

const { McpAuthClient, identity } = loadNodePackage();
const { rows } = JSON.parse(readFileSync(path.join(ROOT, "tests/vectors/catalogue.json"), "utf8"));

const PATHS = {
  prm: ["/.well-known/oauth-protected-resource/mcp", "GET"],
  as_metadata: ["/.well-known/oauth-authorization-server", "GET"],
  register: ["/register", "POST"],
  authorize: ["/authorize", "GET"],
  token_code: ["/token", "POST"],
  token_refresh: ["/token", "POST"],
  mcp: ["/mcp", "POST"],
};
// what an escape sequence leaves when only its control characters go (as in catalogue.rs)
const DEBRIS = ["]8;;", "]52;", "[2J", "Zm9v"];
const LOGIN = new Set(["prm", "as_metadata", "register", "authorize", "token_code"]);

let kit;
let baseline;
async function loggedIn() {
  const storage = memoryStorage();
  await new McpAuthClient({ storage, redirect: followingRedirect() }).login(kit.mcp_url);
  return new Map(storage.map);
}
before(async () => {
  kit = await startTestkit("default");
  baseline = await loggedIn();
});

// A token record with the row's `set` fields, as a clock gone wrong leaves them ("now+N":
// seconds from now). Written as text: a number like u64::MAX does not survive a JS number.
function skewed(row, text) {
  const rec = JSON.parse(text);
  const now = Math.floor(Date.now() / 1000);
  const raw = [];
  for (const [k, v] of Object.entries(row.set)) {
    delete rec[k];
    if (v === null) continue;
    const m = typeof v === "string" ? /^now([+-]\d+)$/.exec(v) : null;
    raw.push(`${JSON.stringify(k)}:${m ? now + Number(m[1]) : v === 18446744073709551615 ? "18446744073709551615" : JSON.stringify(v)}`);
  }
  const body = JSON.stringify(rec);
  return raw.length ? `${body.slice(0, -1)},${raw.join(",")}}` : body;
}

// `refreshed` rows: a new access token, obtained by this clock, with an expiry a server could give
function refreshedProblem(skewedText, nowText) {
  if (nowText === undefined) return "the token record is gone";
  const now = Math.floor(Date.now() / 1000);
  const old = JSON.parse(skewedText);
  const rec = JSON.parse(nowText);
  if (rec.access_token === old.access_token) return "the skewed record was trusted: no new access token";
  if (rec.obtained_at > now + 300 || (rec.expires_at ?? 0) > now + 10 * 365 * 24 * 3600) return `the new record's times are still off: ${nowText}`;
  return null;
}
after(async () => {
  await kit?.stop();
});

async function canned(row) {
  const [p, method] = PATHS[row.where];
  const r = await fetch(`${kit.base_url}/_testkit/canned`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...row.canned, path: p, method }),
  });
  assert.equal(r.status, 204, `set the canned answer for ${row.id}`);
}
const clearCanned = () => fetch(`${kit.base_url}/_testkit/canned`, { method: "DELETE" });

// the `store` modes of catalogue.json (as in native/tests/catalogue.rs)
function storeProblem(row, before, after) {
  const mode = row.store ?? "kept";
  for (const [k, v] of before) {
    const dead = mode === "drops_dead_credential";
    const mayChange = mode === "may_refresh" || (dead && (k.startsWith("tokens:") || k.startsWith("client:") || k === "index"));
    const mayGo = dead && k.startsWith("client:");
    if (!after.has(k) && !mayGo) return `the record ${k} was lost`;
    if (after.has(k) && after.get(k) !== v && !mayChange) return `the record ${k} changed`;
  }
  const added = [...after.keys()].filter((k) => k.startsWith("tokens:") && !before.has(k));
  return added.length ? `a token was stored: ${added}` : null;
}

test(`the catalogue has at least 80 rows (${rows.length})`, () => {
  assert.ok(rows.length >= 80);
});

const jsRows = rows.filter((r) => r.js !== false);
test(`${jsRows.length} catalogue rows end in their typed error through the wasm build, the store kept`, async () => {
  const problems = [];
  for (const row of jsRows) {
    // a row that lets a real refresh happen gets a grant of its own (the testkit rotates
    // refresh tokens and revokes a grant whose old one comes back)
    const base = row.set ? await loggedIn() : baseline;
    const storage = memoryStorage(LOGIN.has(row.where) ? new Map() : new Map(base));
    let skewedKey;
    if (row.set) {
      for (const [k, v] of storage.map) {
        if (k.startsWith("tokens:")) {
          storage.map.set(k, skewed(row, v));
          skewedKey = k;
        }
      }
    }
    if (row.where === "store" && row.record !== undefined) {
      // the token record replaced by a corrupted one (`{half}`: the real one cut in half,
      // `{members}`: the real one without its opening brace)
      for (const [k, v] of storage.map) {
        if (k.startsWith("tokens:"))
          storage.map.set(k, row.record.replace("{half}", v.slice(0, Math.floor(v.length / 2))).replace("{members}", () => v.slice(1)));
      }
    }
    if (row.where === "token_refresh") {
      for (const [k, v] of storage.map) {
        if (k.startsWith("tokens:")) storage.map.set(k, JSON.stringify({ ...JSON.parse(v), expires_at: 1 }));
      }
    }
    const before = new Map(storage.map);
    const client = new McpAuthClient({ storage, redirect: followingRedirect() });
    if (row.where !== "store") await canned(row);
    let error;
    try {
      if (row.where === "token_refresh" || row.where === "store") await client.accessToken(kit.mcp_url);
      else if (row.where === "mcp") {
        const session = await client.session(kit.mcp_url);
        await session.listTools();
      } else await client.login(kit.mcp_url);
    } catch (e) {
      error = e;
    } finally {
      await clearCanned();
    }
    if (row.expect === "refreshed") {
      if (error) problems.push(`${row.id}: ${error.code}: ${error.message}`);
      else {
        const p = refreshedProblem(before.get(skewedKey), storage.map.get(skewedKey)) ?? storeProblem(row, before, storage.map);
        if (p) problems.push(`${row.id}: ${p}`);
      }
      continue;
    }
    if (!error) {
      problems.push(`${row.id}: no error`);
      continue;
    }
    if (!(error instanceof Error)) problems.push(`${row.id}: rejected with a non-Error ${error}`);
    else if (error.code !== row.code) problems.push(`${row.id}: code ${error.code}, want ${row.code} (${error.message})`);
    else if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(error.message)) problems.push(`${row.id}: a control character in the message`);
    else if (DEBRIS.some((d) => error.message.includes(d))) problems.push(`${row.id}: escape debris in the message: ${error.message}`);
    const p = storeProblem(row, before, storage.map);
    if (p) problems.push(`${row.id}: ${p}`);
    if (row.where === "store" && row.record !== undefined) {
      // reported, and can be cleared
      try {
        await client.logout(identity(kit.mcp_url));
      } catch (e) {
        problems.push(`${row.id}: logout failed on the corrupted record: ${e.code}: ${e.message}`);
      }
      if ([...storage.map.keys()].some((k) => k.startsWith("tokens:"))) problems.push(`${row.id}: logout left the corrupted record`);
    }
  }
  assert.deepEqual(problems, []);
});

test("a record whose strings hold an escaped surrogate pair and a U+FFFD is read: only a lone surrogate is refused", async () => {
  for (const [pad, code] of [
    ['"\\ud83d\\ude00 \ufffd \\ufffd"', null],
    ['"\\ud800 \ufffd"', "corrupt_record"],
    ['"\ufffd \\udfff"', "corrupt_record"],
  ]) {
    const storage = memoryStorage(new Map(baseline));
    for (const [k, v] of storage.map) if (k.startsWith("tokens:")) storage.map.set(k, `{"pad":${pad},${v.slice(1)}`);
    const client = new McpAuthClient({ storage });
    const got = await client.accessToken(kit.mcp_url).then(
      (token) => (typeof token === "string" && token.length > 0 ? null : `token ${token}`),
      (e) => e.code,
    );
    assert.equal(got, code, pad);
  }
});
