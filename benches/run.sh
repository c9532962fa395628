#!/usr/bin/env bash
# Runs every benchmark of BENCHMARKS.md in one go and prints the tables:
#   bash benches/run.sh            # all of them (~10 minutes)
#   RUNS=10 bash benches/run.sh    # fewer repetitions per whole-process figure
# Builds what it measures (release CLI and test server, the wasm packages), installs
# fast-agent into a throwaway venv for the comparison (skipped when that fails), and runs the
# keyring figures inside a private D-Bus session with an unlocked gnome-keyring.
# Benchmarks measure; nothing here passes or fails on a figure.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
export MCP_AUTH_REDIRECT_PORT=${MCP_AUTH_REDIRECT_PORT:-3998}
say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

say "building (release): mcp-auth, mcp-auth-testkit; wasm packages"
cargo build -q --release -p mcp-auth -p mcp-auth-testkit
bash wasm/build.sh >/dev/null

echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); $(date -u +%F)"

say "core (criterion)"
cargo bench -q -p mcp-auth-benches --bench core -- --warm-up-time 1 --measurement-time 3 2>/dev/null |
  awk '/^[A-Za-z]/ && !/^(Benchmarking|Found)/ && !/time:/ {name=$0}
       /time:/ && !/%/ {split($0, a, "time:"); n=a[1]; gsub(/^ +| +$/, "", n); if (n == "") n=name;
                        gsub(/^ +/, "", a[2]); print "| " n " | " a[2] " |"}'

say "whole processes"
FA=()
if FA_BIN=$(bash benches/fast-agent.sh 2>/dev/null); then FA=(--fast-agent "$FA_BIN"); fi
python3 benches/process.py --runs "$RUNS" "${FA[@]}"

say "gnome-keyring (private D-Bus session)"
if command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null; then
  home=$(mktemp -d)
  trap 'rm -rf "$home"' EXIT
  mkdir -p "$home/.cache" "$home/.local/share"
  HOME="$home" RUNS="$RUNS" dbus-run-session -- sh -c '
    eval "$(printf pass | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null
    python3 benches/process.py --runs "$RUNS" --keyring-only'
else
  echo "skipped: no dbus-run-session / gnome-keyring-daemon (bash .ci/setup installs them)"
fi

say "Redis store next to the file store"
if command -v redis-server >/dev/null; then
  python3 benches/redis_token.py --runs "$RUNS" --procs 20 --rounds 5
else
  echo "skipped: no redis-server (bash .ci/setup installs it)"
fi

say "wasm build"
node benches/wasm.mjs --runs 20 --sdk
