// The Redis store for the Node build: `redisStore({ client })` returns the `storage` and `lock`
// options of McpAuthClient over the same Redis, keys, records and locks as the CLI's
// `persist: redis`, so Node workers and CLI processes on any host share one grant and refresh
// it once.
//
//   <prefix><key>         the record (core's versioned JSON), prefix `mcp-auth:` by default
//   <prefix>lock:<name>   a lock: "<random token> pid N (node) on <host>", SET NX PX <lease>
//
// A lock is a lease (6 s unless MCP_AUTH_REDIS_LEASE_MS says otherwise) renewed every third of
// it while held, released by its owner only (compare-and-delete in Lua). Waiting is bounded
// (MCP_AUTH_LOCK_TIMEOUT, 30 s) and names the holder. While this store holds a lock, its writes
// are fenced: a Lua script writes only if every lock held is still this holder's, so a holder
// whose lease ran out cannot overwrite what the next one stored.
//
// `client` is a connected node-redis client (`await createClient({ url }).connect()`; any
// client with `sendCommand(args[])`, or ioredis's `call(...args)`, works). Before closing it,
// `await store.settled()` lets the last lock releases reach Redis.
"use strict";

const { randomBytes } = require("node:crypto");
const os = require("node:os");

const DEFAULT_PREFIX = "mcp-auth:";
const DEFAULT_LEASE_MS = 6000;
const MIN_LEASE_MS = 300;
const DEFAULT_LOCK_TIMEOUT_S = 30;

// The same scripts as the CLI (native/src/redis_store.rs, redis_lock.rs).
const FENCED_SET = `
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[i] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`;
const FENCED_DEL = `
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[i] then return 0 end
end
redis.call('DEL', KEYS[1])
return 1
`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

function storageError(message) {
  const e = new Error(message);
  e.code = "storage";
  return e;
}

/** What a Redis failure means for the user (never the URL: it may hold a password). */
function explain(e, address) {
  const msg = String((e && e.message) || e);
  if (/^WRONGPASS/.test(msg)) return `${address} refused the user name or password of the Redis URL`;
  if (/^NOAUTH/.test(msg)) return `${address} needs a password: put it in the Redis URL (redis://:PASSWORD@host:port)`;
  if (/^READONLY/.test(msg)) return `${address} is a read-only replica (it answered READONLY): point the Redis URL at the primary`;
  if (/closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|socket/i.test(msg)) {
    return `cannot reach ${address} (${msg}); no other store is used instead`;
  }
  return `${address} failed: ${msg}`;
}

function envNumber(env, name) {
  const v = Number.parseFloat(env[name] ?? "");
  return Number.isFinite(v) && v >= 0 ? v : undefined;
}

/** The holder part of a lock value (after the token). */
function holderOf(value) {
  if (value == null) return "a holder that has just let go";
  const s = String(value);
  const i = s.indexOf(" ");
  return i < 0 ? "another process (it did not say which)" : s.slice(i + 1);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * @param {{client: any, prefix?: string, leaseMs?: number, lockTimeoutSeconds?: number,
 *          address?: string, env?: Record<string, string|undefined>}} options
 */
function redisStore(options = {}) {
  const client = options.client;
  if (!client || (typeof client.sendCommand !== "function" && typeof client.call !== "function")) {
    throw storageError(
      "redisStore needs `client`: a connected Redis client, e.g. `await createClient({ url }).connect()` from the `redis` package",
    );
  }
  const env = options.env ?? process.env;
  const prefix = options.prefix ?? (env.MCP_AUTH_REDIS_PREFIX || DEFAULT_PREFIX);
  const leaseMs = Math.max(MIN_LEASE_MS, options.leaseMs ?? envNumber(env, "MCP_AUTH_REDIS_LEASE_MS") ?? DEFAULT_LEASE_MS);
  const timeoutS = options.lockTimeoutSeconds ?? envNumber(env, "MCP_AUTH_LOCK_TIMEOUT") ?? DEFAULT_LOCK_TIMEOUT_S;
  const address = options.address ? `Redis at ${options.address}` : "Redis";
  const held = new Map(); // lock key -> the value this store set
  const pending = new Set(); // releases on their way

  const send = (args) =>
    typeof client.sendCommand === "function" ? client.sendCommand(args.map(String)) : client.call(...args.map(String));
  const run = async (args) => {
    try {
      return await send(args);
    } catch (e) {
      throw storageError(explain(e, address));
    }
  };

  const write = async (script, key, value, plain) => {
    const full = prefix + key;
    if (held.size === 0) {
      await run(plain(full));
      return;
    }
    const keys = [full];
    const argv = [value];
    for (const [k, v] of held) {
      keys.push(k);
      argv.push(v);
    }
    const landed = await run(["EVAL", script, keys.length, ...keys, ...argv]);
    if (Number(landed) !== 1) {
      const names = keys.slice(1).map((k) => k.slice(`${prefix}lock:`.length));
      throw storageError(
        `the lease on the lock \`${names.join("`, `")}\` in ${address} ran out before this write (this process stalled longer than the lease, or lost Redis meanwhile), so the write was refused: another holder may have stored newer tokens since`,
      );
    }
  };

  const lock = async (name) => {
    const key = `${prefix}lock:${name}`;
    const value = `${randomBytes(16).toString("hex")} pid ${process.pid} (node) on ${os.hostname()}`;
    const deadline = Date.now() + timeoutS * 1000;
    let pause = 5;
    for (;;) {
      const got = await run(["SET", key, value, "NX", "PX", Math.round(leaseMs)]);
      if (got != null) break;
      if (Date.now() >= deadline) {
        const current = await run(["GET", key]);
        throw storageError(
          `gave up after ${timeoutS} s waiting for the \`${name}\` lock in ${address}, held by ${holderOf(current)}; if that process is stuck, end it (its lease then runs out within ${(leaseMs / 1000).toFixed(1)} s), or raise MCP_AUTH_LOCK_TIMEOUT`,
        );
      }
      await sleep(pause);
      pause = Math.min(pause * 2, 100);
    }
    held.set(key, value);
    const timer = setInterval(() => {
      send(["EVAL", RENEW, 1, key, value, Math.round(leaseMs)]).then(
        (r) => {
          if (Number(r) !== 1) clearInterval(timer); // lost: the fenced writes refuse
        },
        () => {}, // try again next time
      );
    }, Math.floor(leaseMs / 3));
    if (typeof timer.unref === "function") timer.unref();
    let released = null;
    return () => {
      if (released) return released;
      clearInterval(timer);
      held.delete(key);
      // a failed release costs the next holder one lease at most
      released = send(["EVAL", RELEASE, 1, key, value]).then(
        () => {},
        () => {},
      );
      pending.add(released);
      released.then(() => pending.delete(released));
      return released;
    };
  };

  return {
    prefix,
    leaseMs,
    storage: {
      get: async (key) => {
        const v = await run(["GET", prefix + key]);
        return v == null ? undefined : String(v);
      },
      set: (key, value) => write(FENCED_SET, key, value, (full) => ["SET", full, value]),
      delete: (key) => write(FENCED_DEL, key, "", (full) => ["DEL", full]),
    },
    lock,
    /** Resolves once every released lock has been let go in Redis. */
    settled: async () => {
      await Promise.all([...pending]);
    },
  };
}

module.exports = { redisStore, DEFAULT_PREFIX };
