#!/usr/bin/env python3
"""Token latency from the Redis store (`persist: redis`) next to the file store: whole
`mcp-auth token URL` processes (release build) against the bundled test server and a
throwaway redis-server on 127.0.0.1. A benchmark, not a test: it prints figures and judges
nothing.

    python3 benches/redis_token.py [--runs 30] [--procs 20] [--rounds 5] [--bin target/release]

  * valid token: `mcp-auth token` with a stored, valid token (wall time per process);
  * expired under contention: `--procs` processes started at once on an expired record (one
    of them refreshes under the store's lock, the others wait and re-read): each process's
    wall time, over `--rounds` expiries; and how many refresh requests each expiry cost.

Each store gets one real login through the browser-callback flow (the test server's
`browse` approves it).
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(argv, env):
    return os.posix_spawn(argv[0], argv, env, file_actions=[
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0),
    ])


def reap(pid, argv):
    _, status, _ = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(argv)} exited with {code}")


def stats(walls):
    ms = sorted(w * 1000 for w in walls)
    return {
        "median_ms": round(statistics.median(ms), 1),
        "min_ms": round(ms[0], 1),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 1),
        "max_ms": round(ms[-1], 1),
        "n": len(ms),
    }


class Store:
    """One user (HOME, XDG folders) on one store."""

    def __init__(self, name, bin_dir, extra_env):
        self.name = name
        self.bin = str(bin_dir / "mcp-auth")
        self.dir = Path(tempfile.mkdtemp(prefix=f"mcp-auth-bench-{name}-"))
        for sub in ("home", "state", "config", "work"):
            (self.dir / sub).mkdir()
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.dir / "home"),
            "XDG_STATE_HOME": str(self.dir / "state"),
            "XDG_CONFIG_HOME": str(self.dir / "config"),
            "MCP_AUTH_REDIRECT_PORT": str(free_port()),
            **extra_env,
        }

    def login(self, testkit_bin, url):
        p = subprocess.Popen([self.bin, "login", "--no-browser", url], env=self.env, cwd=self.dir / "work",
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        auth_url = None
        for line in p.stderr:
            line = line.strip()
            if "/authorize?" in line:
                auth_url = line
                break
        if not auth_url:
            raise SystemExit(f"{self.name}: the login printed no authorization URL")
        subprocess.run([str(testkit_bin), "browse", auth_url], check=True, stdout=subprocess.DEVNULL)
        p.stderr.read()
        if p.wait() != 0:
            raise SystemExit(f"{self.name}: the login failed")

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class FileStore(Store):
    def __init__(self, bin_dir):
        super().__init__("file", bin_dir, {"MCP_AUTH_STORE": "file"})
        self.path = self.dir / "state" / "mcp-auth" / "store.json"

    def expire(self):
        m = json.loads(self.path.read_text())
        for k, v in m.items():
            if k.startswith("tokens:"):
                rec = json.loads(v)
                rec["expires_at"] = 1
                m[k] = json.dumps(rec)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(m))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)


class RedisStore(Store):
    def __init__(self, bin_dir, port):
        self.port = port
        super().__init__("redis", bin_dir, {"MCP_AUTH_STORE": "redis",
                                            "MCP_AUTH_REDIS_URL": f"redis://127.0.0.1:{port}"})

    def cli(self, *args, stdin=None):
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], input=stdin, check=True,
                              capture_output=True, text=True).stdout

    def expire(self):
        for key in self.cli("--scan", "--pattern", "mcp-auth:tokens:*").split():
            rec = json.loads(self.cli("GET", key))
            rec["expires_at"] = 1
            self.cli("-x", "SET", key, stdin=json.dumps(rec))


def token_runs(store, url, runs):
    argv = [store.bin, "token", url]
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        reap(spawn(argv, store.env), argv)
        walls.append(time.perf_counter() - start)
    return stats(walls)


def contention(store, url, procs, rounds, admin):
    argv = [store.bin, "token", url]
    walls = []
    refreshes = []
    for _ in range(rounds):
        store.expire()
        before = admin("stats")["counts"].get("POST /token", 0)
        start = time.perf_counter()
        pids = [spawn(argv, store.env) for _ in range(procs)]
        for pid in pids:
            reap(pid, argv)
            walls.append(time.perf_counter() - start)
        refreshes.append(admin("stats")["counts"].get("POST /token", 0) - before)
    out = stats(walls)
    out["refreshes_per_expiry"] = refreshes
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--procs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--bin", default=str(ROOT / "target" / "release"))
    ap.add_argument("--json")
    a = ap.parse_args()
    bin_dir = Path(a.bin).resolve()
    for b in ("mcp-auth", "mcp-auth-testkit"):
        if not (bin_dir / b).exists():
            raise SystemExit(f"no {bin_dir / b}: cargo build --release -p mcp-auth -p mcp-auth-testkit")
    redis_server = shutil.which("redis-server")
    if not redis_server or not shutil.which("redis-cli"):
        raise SystemExit("redis-server / redis-cli not found: run .ci/setup")

    rdir = tempfile.mkdtemp(prefix="mcp-auth-bench-redis-data-")
    port = free_port()
    redis = subprocess.Popen([redis_server, "--port", str(port), "--bind", "127.0.0.1", "--dir", rdir,
                              "--save", "", "--appendonly", "no", "--logfile", ""],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kit = subprocess.Popen([str(bin_dir / "mcp-auth-testkit"), "serve", "--port", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    stores = []
    try:
        info = json.loads(kit.stdout.readline())
        url, base = info["mcp_url"], info["base_url"]

        def admin(path):
            with urllib.request.urlopen(f"{base}/_testkit/{path}") as r:
                return json.loads(r.read())

        deadline = time.time() + 10
        while subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True).returncode != 0:
            if time.time() > deadline:
                raise SystemExit("redis-server did not start")
            time.sleep(0.05)
        stores = [FileStore(bin_dir), RedisStore(bin_dir, port)]
        results = {}
        for s in stores:
            s.login(bin_dir / "mcp-auth-testkit", url)
            token_runs(s, url, 3)  # warm the page cache
            results[s.name] = {
                "valid": token_runs(s, url, a.runs),
                "expired_contended": contention(s, url, a.procs, a.rounds, admin),
            }
        print(f"# mcp-auth token latency: file store vs Redis store ({os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}; binaries from {bin_dir}; {time.strftime('%Y-%m-%d', time.gmtime())})\n")
        print("| store | case | median | min | p90 | max | runs | refreshes per expiry |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
        for name, r in results.items():
            v, c = r["valid"], r["expired_contended"]
            print(f"| {name} | valid token | {v['median_ms']} ms | {v['min_ms']} ms | {v['p90_ms']} ms | "
                  f"{v['max_ms']} ms | {v['n']} | - |")
            print(f"| {name} | expired, {a.procs} processes at once | {c['median_ms']} ms | {c['min_ms']} ms | "
                  f"{c['p90_ms']} ms | {c['max_ms']} ms | {c['n']} | {c['refreshes_per_expiry']} |")
        if a.json:
            Path(a.json).write_text(json.dumps(results, indent=2))
    finally:
        for s in stores:
            s.cleanup()
        kit.kill()
        redis.kill()
        kit.wait()
        redis.wait()
        shutil.rmtree(rdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
