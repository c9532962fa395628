// The CLI's file store and locks for the Node build: `fileStore()` returns the `storage` and
// `lock` options of McpAuthClient over the same files the native `mcp-auth` uses, so a Node
// tool and the CLI share tokens and never refresh the same grant twice.
//
//   <dir>/store.json          {key: record}, mode 0600, replaced by atomic rename
//   <dir>/store.json.lock     writer lock: held around every read-modify-write of store.json
//   <dir>/locks/<hash>.lock   lock(name): hash = first 16 bytes of SHA-256(name), hex
//
// <dir> is $XDG_STATE_HOME/mcp-auth, else ~/.local/state/mcp-auth (the CLI's state folder).
// The locks are flock(2) locks, as the CLI's: Node has no flock of its own, so each held lock
// is a `flock` (util-linux) child process holding it for as long as its standard input is open.
// The lock goes when it is released, and when this process dies (its end of the pipe closes).
"use strict";

const { spawn } = require("node:child_process");
const { createHash, randomBytes } = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const DEFAULT_LOCK_TIMEOUT_S = 30;

/** The CLI's state folder: $XDG_STATE_HOME/mcp-auth, else ~/.local/state/mcp-auth. */
function stateDir(env = process.env) {
  if (env.XDG_STATE_HOME) return path.join(env.XDG_STATE_HOME, "mcp-auth");
  const home = env.HOME || os.homedir();
  if (!home) throw storageError("cannot find a state directory: set HOME or XDG_STATE_HOME");
  return path.join(home, ".local", "state", "mcp-auth");
}

function storageError(message) {
  const e = new Error(message);
  e.code = "storage";
  return e;
}

/** Seconds to wait for a lock: MCP_AUTH_LOCK_TIMEOUT (as the CLI) or 30. */
function lockTimeoutSeconds(env = process.env) {
  const v = Number.parseFloat(env.MCP_AUTH_LOCK_TIMEOUT ?? "");
  return Number.isFinite(v) && v >= 0 ? v : DEFAULT_LOCK_TIMEOUT_S;
}

/** The lock file of a lock name, as the CLI names it. */
function lockPath(dir, name) {
  const hex = createHash("sha256").update(name, "utf8").digest().subarray(0, 16).toString("hex");
  return path.join(dir, "locks", `${hex}.lock`);
}

function makePrivateDir(dir) {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Refuses a folder another user owns or others can use (as the CLI does). */
function checkPrivateDir(dir) {
  let st;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    if (e.code === "ENOENT") return;
    throw storageError(`cannot inspect the folder ${dir}: ${e.message}`);
  }
  if (!st.isDirectory()) throw storageError(`${dir} is not a folder`);
  if (typeof process.getuid === "function") {
    const me = process.getuid();
    if (st.uid !== me) {
      throw storageError(
        `the folder ${dir} belongs to another user (uid ${st.uid}, you are uid ${me}); mcp-auth keeps tokens only in a folder of your own`,
      );
    }
    const mode = st.mode & 0o777;
    if (mode & 0o077) {
      throw storageError(`the folder ${dir} can be used by other users (mode ${mode.toString(8)}); run \`chmod 700 ${dir}\``);
    }
  }
}

/**
 * Holds an exclusive flock on `file` (created if missing) until the returned function is
 * called; waits at most `timeoutS` seconds, then rejects naming the holder.
 */
function flock(file, what, timeoutS) {
  makePrivateDir(path.dirname(file));
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn("flock", ["-x", "-w", String(timeoutS), file, "sh", "-c", "echo held; exec cat >/dev/null"], {
        stdio: ["pipe", "pipe", "pipe"],
      });
    } catch (e) {
      reject(storageError(`cannot lock ${file}: ${e.message}`));
      return;
    }
    let out = "";
    let err = "";
    let held = false;
    child.stderr.on("data", (d) => (err += d));
    child.on("error", (e) => {
      if (!held) {
        reject(
          storageError(
            e.code === "ENOENT"
              ? `cannot lock ${file}: the \`flock\` program (util-linux) is not installed; the Node file store needs it to share the CLI's locks`
              : `cannot lock ${file}: ${e.message}`,
          ),
        );
      }
    });
    child.on("exit", (code) => {
      if (held) return;
      let holder = "";
      try {
        holder = fs.readFileSync(file, "utf8").trim();
      } catch {
        // nothing to say about the holder
      }
      reject(
        storageError(
          code === 1
            ? `gave up after ${timeoutS} s waiting for the ${what} lock (${file}), held by ${holder || "another process (it did not say which)"}; if that process is stuck, end it (or raise MCP_AUTH_LOCK_TIMEOUT)`
            : `cannot lock ${file}: flock exited with ${code}: ${err.trim()}`,
        ),
      );
    });
    child.stdout.on("data", (d) => {
      out += d;
      if (held || !out.includes("held")) return;
      held = true;
      // say who holds it, as the CLI does (never the arguments)
      try {
        fs.writeFileSync(file, `pid ${process.pid} (node)\n`);
      } catch {
        // the lock is held all the same
      }
      let released = false;
      const exited = new Promise((done) => {
        if (child.exitCode !== null || child.signalCode !== null) done();
        else child.once("exit", () => done());
      });
      resolve(async () => {
        if (released) return;
        released = true;
        child.stdin.end();
        await exited;
      });
    });
    child.stdin.on("error", () => {});
  });
}

function readMap(file, dir) {
  checkPrivateDir(dir);
  let text;
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
    try {
      text = fs.readFileSync(fd, "utf8");
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    if (e.code === "ENOENT") return {};
    if (e.code === "ELOOP") throw storageError(`${file} is a symbolic link; mcp-auth does not follow links (remove it)`);
    throw storageError(`cannot read ${file}: ${e.message}`);
  }
  if (!text.trim()) return {};
  let map;
  try {
    map = JSON.parse(text);
  } catch (e) {
    throw storageError(`the token file ${file} is not valid JSON (${e.message}); move it away and log in again`);
  }
  if (map === null || typeof map !== "object" || Array.isArray(map)) {
    throw storageError(`the token file ${file} is not a JSON object; move it away and log in again`);
  }
  return map;
}

/** Writes `map` as the CLI does: sorted keys, pretty, a fresh 0600 temp file, fsync, rename. */
function writeMap(file, dir, map) {
  makePrivateDir(dir);
  checkPrivateDir(dir);
  const sorted = {};
  for (const k of Object.keys(map).sort()) sorted[k] = map[k];
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(12).toString("hex")}.tmp`);
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0);
  try {
    const fd = fs.openSync(tmp, flags, 0o600);
    try {
      fs.writeFileSync(fd, JSON.stringify(sorted, null, 2));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw storageError(`cannot write ${file}: ${e.message}`);
  }
  try {
    const d = fs.openSync(dir, fs.constants.O_RDONLY);
    try {
      fs.fsyncSync(d);
    } finally {
      fs.closeSync(d);
    }
  } catch {
    // not every platform can fsync a folder
  }
}

/**
 * The `storage` and `lock` options of McpAuthClient over the CLI's file store.
 * Options: `dir` (default: the CLI's state folder), `lockTimeoutSeconds` (default:
 * MCP_AUTH_LOCK_TIMEOUT or 30).
 */
function fileStore(options = {}) {
  const dir = options.dir ?? stateDir();
  const file = path.join(dir, "store.json");
  const timeoutS = options.lockTimeoutSeconds ?? lockTimeoutSeconds();
  const writerLock = () => flock(`${file}.lock`, "token file writer", timeoutS);
  const update = async (change) => {
    const release = await writerLock();
    try {
      const map = readMap(file, dir);
      if (change(map)) writeMap(file, dir, map);
    } finally {
      await release();
    }
  };
  return {
    dir,
    file,
    storage: {
      get: (key) => {
        const v = readMap(file, dir)[key];
        return typeof v === "string" ? v : undefined;
      },
      set: (key, value) =>
        update((map) => {
          map[key] = value;
          return true;
        }),
      delete: (key) =>
        update((map) => {
          if (!(key in map)) return false;
          delete map[key];
          return true;
        }),
    },
    lock: (name) => flock(lockPath(dir, name), `\`${name}\``, timeoutS),
  };
}

module.exports = { fileStore, stateDir, lockPath };
