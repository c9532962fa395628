// The CLI's `persist: redis` store and leased locks for the Node build (see redis_store.js).
import type { McpAuthStorage } from "./mcp_auth";

export interface RedisStoreOptions {
  /** A connected Redis client: node-redis (`sendCommand(args)`) or ioredis (`call(...args)`). */
  client: unknown;
  /** What every key starts with (default: MCP_AUTH_REDIS_PREFIX, else "mcp-auth:"). */
  prefix?: string;
  /** The lock lease in ms, renewed every third of it while held (default: MCP_AUTH_REDIS_LEASE_MS, else 6000). */
  leaseMs?: number;
  /** How long to wait for a lock (default: MCP_AUTH_LOCK_TIMEOUT, else 30). */
  lockTimeoutSeconds?: number;
  /** The address for messages, without the password (e.g. "redis://10.0.0.5:6379/0"). */
  address?: string;
  env?: Record<string, string | undefined>;
}

export interface RedisStore {
  prefix: string;
  leaseMs: number;
  storage: McpAuthStorage;
  /** Resolves to the function that releases the lock. */
  lock: (name: string) => Promise<() => Promise<void>>;
  /** Resolves once every released lock has been let go in Redis (await before closing the client). */
  settled: () => Promise<void>;
}

export function redisStore(options: RedisStoreOptions): RedisStore;
export const DEFAULT_PREFIX: string;
