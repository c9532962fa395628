// The CLI's file store and flock locks for the Node build (see file_store.js).
import type { McpAuthStorage } from "./mcp_auth";

export interface FileStoreOptions {
  /** The state folder (default: $XDG_STATE_HOME/mcp-auth, else ~/.local/state/mcp-auth). */
  dir?: string;
  /** How long to wait for a lock (default: MCP_AUTH_LOCK_TIMEOUT, else 30). */
  lockTimeoutSeconds?: number;
}

export interface FileStore {
  dir: string;
  /** `<dir>/store.json` */
  file: string;
  storage: McpAuthStorage;
  /** Resolves to the function that releases the lock. */
  lock: (name: string) => Promise<() => Promise<void>>;
}

export function fileStore(options?: FileStoreOptions): FileStore;
export function stateDir(env?: Record<string, string | undefined>): string;
export function lockPath(dir: string, name: string): string;
