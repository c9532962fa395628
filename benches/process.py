#!/usr/bin/env python3
"""Whole-process benchmarks of the mcp-auth CLI (release build), with medians over repeated
runs and the peak RSS of each run (from wait4's rusage). Prints a Markdown table and, with
--json, the raw figures.

    python3 benches/process.py [--runs 30] [--bin target/release] [--json out.json]
            [--fast-agent PATH/TO/fast-agent]

What it measures (see BENCHMARKS.md for the results and the machine):
  * `mcp-auth status` with 50 configured servers and 50 stored identities (file store),
    and the same config given to fast-agent's `auth status` when --fast-agent is given;
  * `mcp-auth token URL` with a valid token from the file store, for 1, 10, 100 and 1000
    stored identities (the lookup must not grow with unrelated records);
  * with --keyring-only (inside a Secret Service session, as benches/run.sh does): `token` and
    `status` from gnome-keyring;
  * the HTTP requests of login, re-login and refresh against the bundled test server, per
    MCP era (counts, from the test server's request log).

The stored identities are made by one real login through the browser-callback flow; the
other 49 (or 999) are copies of its records under other origins, written through the
CLI's own file format.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(argv, env, runs):
    """Median wall time (ms) over `runs` runs, and the peak RSS (MiB) of a few more.

    Wall time: each run spawned directly and reaped with wait4. Peak RSS comes from separate
    runs under GNU time: a child forked from this Python process inherits Python's resident
    pages in its maxrss, so the direct runs cannot tell it.
    """
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0),
        ])
        _, status, _ = os.wait4(pid, 0)
        walls.append(time.perf_counter() - start)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(argv)} exited with {os.waitstatus_to_exitcode(status)}")
    rss = 0
    with tempfile.NamedTemporaryFile("r") as out:
        for _ in range(3):
            subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name, *argv], env=env, check=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            out.seek(0)
            rss = max(rss, int(out.read().split()[-1]))
    return {
        "median_ms": round(statistics.median(walls) * 1000, 2),
        "min_ms": round(min(walls) * 1000, 2),
        "max_ms": round(max(walls) * 1000, 2),
        "peak_rss_mib": round(rss / 1024, 1),
        "runs": runs,
    }


class Testkit:
    def __init__(self, bin_dir, *args):
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([str(bin_dir / "mcp-auth-testkit"), "serve", "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=self.log)
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("the test server did not start")
        self.info = json.loads(line)

    def requests(self):
        with urllib.request.urlopen(f"{self.info['base_url']}/_testkit/requests") as r:
            return json.load(r)["requests"]

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def cli_env(home, bin_dir, store="file"):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "BROWSER": f"{bin_dir / 'mcp-auth-testkit'} browse",
        "MCP_AUTH_STORE": store,
    }
    for k in ("DBUS_SESSION_BUS_ADDRESS", "MCP_AUTH_REDIRECT_PORT"):
        if k in os.environ:
            env[k] = os.environ[k]
    return env


def store_file(home):
    return home / "state" / "mcp-auth" / "store.json"


def clone_identities(home, origin, count, port_base=41000):
    """Copies every record of `origin` in the file store to `count - 1` other origins."""
    path = store_file(home)
    store = json.loads(path.read_text())
    records = store if isinstance(store, dict) else {}
    # the records map may be nested under a key; find the map holding the token records
    holder = records
    if not any(k.startswith("tokens:") for k in holder):
        for v in records.values():
            if isinstance(v, dict) and any(k.startswith("tokens:") for k in v):
                holder = v
                break
    mine = {k: v for k, v in holder.items() if origin in k}
    urls = []
    for i in range(1, count):
        other = f"http://127.0.0.1:{port_base + i}"
        urls.append(f"{other}/mcp")
        for k, v in mine.items():
            holder[k.replace(origin, other)] = v.replace(origin, other)
    if "index" in holder:
        index = json.loads(holder["index"])
        text = json.dumps(index)
        extra = json.loads(text)
        for i in range(1, count):
            other = f"http://127.0.0.1:{port_base + i}"
            extra = merge_index(extra, json.loads(text.replace(origin, other)))
        holder["index"] = json.dumps(extra)
    path.write_text(json.dumps(store))
    return urls


def merge_index(a, b):
    """Union of two index documents (maps of identity -> keys, or lists)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = merge_index(out[k], v) if k in out else v
        return out
    if isinstance(a, list) and isinstance(b, list):
        return a + [x for x in b if x not in a]
    return a


def write_config(home, urls):
    lines = ["mcp:", "  servers:"]
    for i, url in enumerate(urls):
        # no `auth:` block: fast-agent reads the same file (and knows no `persist: file`);
        # mcp-auth is told to use its file store by MCP_AUTH_STORE
        lines += [f"    server{i:02d}:", f"      url: \"{url}\"", "      transport: http"]
    path = home / "fastagent.config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def login(bin_dir, env, url, cwd):
    subprocess.run([str(bin_dir / "mcp-auth"), "login", url], env=env, cwd=cwd, check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def fixture(bin_dir, identities, store="file"):
    """A HOME with one real login and `identities` identities in all; returns (home, urls)."""
    home = Path(tempfile.mkdtemp(prefix="mcp-auth-bench-"))
    (home / "state").mkdir(mode=0o700)
    (home / "config").mkdir(mode=0o700)
    kit = Testkit(bin_dir)
    env = cli_env(home, bin_dir, store)
    login(bin_dir, env, kit.info["mcp_url"], home)
    kit.stop()
    urls = [kit.info["mcp_url"]]
    if identities > 1 and store == "file":
        origin = kit.info["base_url"]
        urls += clone_identities(home, origin, identities)
    return home, env, urls


def status_and_token(bin_dir, runs, fast_agent):
    rows = []
    home, env, urls = fixture(bin_dir, 50)
    config = write_config(home, urls)
    cmd = [str(bin_dir / "mcp-auth"), "-c", str(config), "status"]
    fig = measure(cmd, env, runs)
    rows.append(("mcp-auth status (50 servers, 50 identities, file store)", fig))
    fig = measure(cmd + ["--json"], env, runs)
    rows.append(("mcp-auth status --json (same)", fig))
    if fast_agent:
        fa_env = dict(env)
        fa_env["PATH"] = f"{Path(fast_agent).parent}:{fa_env['PATH']}"
        fa_cmd = [str(fast_agent), "auth", "status"]
        try:
            subprocess.run(fa_cmd, env=fa_env, cwd=home, check=True, timeout=120,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            cwd = os.getcwd()
            os.chdir(home)
            try:
                fig = measure(fa_cmd, fa_env, max(3, runs // 3))
            finally:
                os.chdir(cwd)
            rows.append(("fast-agent auth status (same config file)", fig))
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            rows.append(("fast-agent auth status", {"error": str(e)[:200]}))
    shutil.rmtree(home, ignore_errors=True)

    for n in (1, 10, 100, 1000):
        home, env, urls = fixture(bin_dir, n)
        fig = measure([str(bin_dir / "mcp-auth"), "token", urls[0]], env, runs)
        rows.append((f"mcp-auth token, valid token, file store, {n} identities", fig))
        shutil.rmtree(home, ignore_errors=True)
    return rows


def keyring_fixture(bin_dir, identities):
    """A HOME whose `identities` logins (one test server each) are in the Secret Service."""
    home = Path(tempfile.mkdtemp(prefix="mcp-auth-bench-"))
    (home / "state").mkdir(mode=0o700)
    (home / "config").mkdir(mode=0o700)
    env = cli_env(home, bin_dir, "keyring")
    urls = []
    for _ in range(identities):
        kit = Testkit(bin_dir)
        login(bin_dir, env, kit.info["mcp_url"], home)
        urls.append(kit.info["mcp_url"])
        kit.stop()
    return home, env, urls


def keyring_token(bin_dir, runs):
    rows = []
    for n in (1, 20):
        home, env, urls = keyring_fixture(bin_dir, n)
        fig = measure([str(bin_dir / "mcp-auth"), "token", urls[0]], env, runs)
        rows.append((f"mcp-auth token, valid token, gnome-keyring, {n} identities", fig))
        fig = measure([str(bin_dir / "mcp-auth"), "status"], env, runs)
        rows.append((f"mcp-auth status, gnome-keyring, {n} identities", fig))
        subprocess.run([str(bin_dir / "mcp-auth"), "clear", "--all", "--yes"], env=env, cwd=home,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(home, ignore_errors=True)
    return rows


def request_counts(bin_dir):
    """HTTP requests per operation against the test server, per MCP era."""
    out = []
    for era in ("modern", "legacy"):
        kit = Testkit(bin_dir, "--protocol", era, "--token-lifetime", "2")
        home = Path(tempfile.mkdtemp(prefix="mcp-auth-bench-"))
        (home / "state").mkdir(mode=0o700)
        env = cli_env(home, bin_dir)
        url = kit.info["mcp_url"]
        mcp = str(bin_dir / "mcp-auth")

        def count(fn):
            before = len(kit.requests())
            fn()
            return [f"{r['method']} {r['path']}" for r in kit.requests()[before:]]

        def run(*args):
            subprocess.run([mcp, *args], env=env, cwd=home, check=True, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        fresh = count(lambda: run("login", url))
        again = count(lambda: run("login", url))
        probe = count(lambda: run("probe", url))
        time.sleep(3)  # past the 2 s token lifetime
        refresh = count(lambda: run("token", url))
        out.append((era, {"login": fresh, "re-login": again, "probe (tools/list)": probe,
                          "token after expiry (refresh)": refresh}))
        kit.stop()
        shutil.rmtree(home, ignore_errors=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--bin", default=str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"))
    ap.add_argument("--fast-agent", help="path to a fast-agent executable (see benches/fast-agent.sh)")
    ap.add_argument("--keyring-only", action="store_true",
                    help="only the gnome-keyring figures (run inside a Secret Service session: benches/run.sh)")
    ap.add_argument("--json", help="write the raw figures here")
    args = ap.parse_args()
    bin_dir = Path(args.bin)
    for b in ("mcp-auth", "mcp-auth-testkit"):
        if not (bin_dir / b).exists():
            raise SystemExit(f"no {bin_dir / b}: cargo build --release -p mcp-auth -p mcp-auth-testkit")

    if args.keyring_only:
        rows, counts = keyring_token(bin_dir, args.runs), []
    else:
        rows = status_and_token(bin_dir, args.runs, args.fast_agent)
        counts = request_counts(bin_dir)

    print(f"load average before/after: {os.getloadavg()[0]:.2f}; runs per figure: {args.runs}\n")
    print("| command | median | min | max | peak RSS |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, fig in rows:
        if "error" in fig:
            print(f"| {name} | failed: {fig['error']} | | | |")
        else:
            print(f"| {name} | {fig['median_ms']} ms | {fig['min_ms']} ms | {fig['max_ms']} ms | {fig['peak_rss_mib']} MiB |")
    if counts:
        print("\n| era | operation | requests | sequence |")
        print("| --- | --- | ---: | --- |")
    for era, ops in counts:
        for op, seq in ops.items():
            print(f"| {era} | {op} | {len(seq)} | {', '.join(seq)} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "counts": counts}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
