// Shared helpers for the Node and Chromium tests: the testkit process, storages, redirects.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(import.meta.url);

/** The Node package built by wasm/build.sh. */
export function loadNodePackage() {
  return require(path.join(ROOT, "wasm/pkg/node/mcp_auth.js"));
}

export function testkitBinary() {
  if (process.env.MCP_AUTH_TESTKIT) return process.env.MCP_AUTH_TESTKIT;
  const target = process.env.CARGO_TARGET_DIR || path.join(ROOT, "target");
  return path.join(target, "debug", "mcp-auth-testkit");
}

/**
 * Starts `mcp-auth-testkit serve` on a free port and resolves to its JSON line plus `stop()`,
 * `stats()`, `expire()` and `admin(path)`.
 */
export async function startTestkit(scenario = "default", extra = []) {
  const child = spawn(testkitBinary(), ["serve", "--port", "0", "--scenario", scenario, ...extra], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const info = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`testkit did not start in 20 s: ${stderr}`)), 20000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${testkitBinary()}: ${e.message} (build it: cargo build -p mcp-auth-testkit)`));
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`testkit exited with ${code}: ${stderr}`));
    });
    createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line));
    });
  });
  child.removeAllListeners("exit");
  // never leave a server behind, even if the test process ends abruptly
  const reap = () => child.exitCode === null && child.kill("SIGKILL");
  process.once("exit", reap);
  const admin = async (p, method = "POST") => {
    const r = await fetch(`${info.base_url}/_testkit/${p}`, { method });
    if (!r.ok) throw new Error(`testkit admin ${p}: HTTP ${r.status}`);
    return r.headers.get("content-type")?.includes("json") ? r.json() : r.text();
  };
  return {
    ...info,
    child,
    admin,
    stats: () => admin("stats", "GET"),
    expire: () => admin("expire"),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** A storage over a Map; `map` is exposed so tests can look at the records. */
export function memoryStorage(map = new Map()) {
  return {
    map,
    get: (k) => map.get(k),
    set: (k, v) => {
      map.set(k, v);
    },
    delete: (k) => {
      map.delete(k);
    },
  };
}

/**
 * The "user's browser" for the auto-approving testkit: opens the authorization URL without
 * following redirects and returns the Location it sends back (the callback URL).
 */
export function followingRedirect(calls = []) {
  return async (authorizationUrl, redirectUri) => {
    calls.push({ authorizationUrl, redirectUri });
    const r = await fetch(authorizationUrl, { redirect: "manual" });
    const location = r.headers.get("location");
    if (r.status < 300 || r.status >= 400 || !location) {
      throw new Error(`the authorization endpoint answered ${r.status} without a redirect: ${await r.text()}`);
    }
    return new URL(location, authorizationUrl).href;
  };
}

/** A JSON-RPC POST for authorizedFetch. */
export function rpc(method, params = {}, sessionId, id = 1) {
  const headers = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": "2025-11-25",
  };
  if (sessionId) headers["mcp-session-id"] = sessionId;
  return { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id, method, params }) };
}

export const INITIALIZE = {
  protocolVersion: "2025-11-25",
  capabilities: {},
  clientInfo: { name: "mcp-auth-wasm-tests", version: "0" },
};

/** The key of the token record for one resource of an identity (record version 2). */
export function tokenKey(identity, resource) {
  return `tokens:${identity}|${resource}`;
}

/** The (first) token record stored for an identity, parsed. */
export function tokenRecord(storage, identity) {
  const key = [...storage.map.keys()].find((k) => k.startsWith(`tokens:${identity}|`));
  return key === undefined ? undefined : JSON.parse(storage.map.get(key));
}

/**
 * A storage over one JSON file `{key: value}` — the CLI's file store format
 * (`$XDG_STATE_HOME/mcp-auth/store.json`), written by atomic rename, readable by the user only.
 */
export function jsonFileStorage(file) {
  const read = () => {
    try {
      return JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      if (e.code === "ENOENT") return {};
      throw e;
    }
  };
  const write = (map) => {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(map, null, 2), { mode: 0o600 });
    renameSync(tmp, file);
  };
  return {
    read,
    get: (k) => read()[k],
    set: (k, v) => write({ ...read(), [k]: v }),
    delete: (k) => {
      const m = read();
      delete m[k];
      write(m);
    },
  };
}
