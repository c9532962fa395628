// Shared helpers for the Node and Chromium tests: the testkit process, storages, redirects.
import { execFile, spawn } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(import.meta.url);

/** The CLI the interop tests run next to the Node build (MCP_AUTH_CLI picks another). */
export const CLI =
  process.env.MCP_AUTH_CLI || path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, "target"), "debug", "mcp-auth");

/**
 * Runs the CLI as a user whose HOME is `home` (state and config folders inside it), with the
 * file store unless `env` says otherwise; resolves to `{stdout, stderr}`.
 */
export function runCli(home, args, env = {}) {
  return promisify(execFile)(CLI, args, {
    cwd: home,
    env: {
      PATH: process.env.PATH,
      HOME: home,
      XDG_STATE_HOME: path.join(home, "state"),
      XDG_CONFIG_HOME: path.join(home, "config"),
      MCP_AUTH_STORE: "file",
      ...env,
    },
  });
}

/**
 * Debian's Chromium, headless, with a fresh profile and config/cache folders under `tmp`
 * (playwright-core drives it); resolves to the persistent context.
 */
export async function launchChromium(tmp) {
  const { chromium } = createRequire(path.join(ROOT, "wasm/js/package.json"))("playwright-core");
  for (const d of ["config", "cache"]) mkdirSync(path.join(tmp, d), { recursive: true });
  process.env.XDG_CONFIG_HOME = path.join(tmp, "config");
  process.env.XDG_CACHE_HOME = path.join(tmp, "cache");
  return chromium.launchPersistentContext(path.join(tmp, "profile"), {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    env: { ...process.env },
    timeout: 60000,
  });
}

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
