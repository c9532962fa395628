#!/usr/bin/env bash
# The wasm tests: builds the packages (wasm/build.sh), the testkit and the CLI, then runs the Node tests
# (node --test wasm/tests/*.test.mjs) and the web demo in headless Chromium
# (wasm/tests/browser/*.test.mjs, screenshots in test-artifacts/). Each test file starts and
# stops its own testkit on free ports. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m[wasm-test]\033[0m %s\n' "$*" >&2; }

if [ ! -d wasm/js/node_modules/playwright-core ] || [ ! -x wasm/js/node_modules/.bin/wasm-opt ] \
  || [ ! -x wasm/js/node_modules/.bin/tsc ] || [ ! -x wasm/js/node_modules/.bin/esbuild ]; then
  say "installing npm packages in wasm/js"
  (cd wasm/js && npm install --no-audit --no-fund --loglevel=error)
fi
bash wasm/build.sh
if [ -n "${MCP_AUTH_TESTKIT:-}" ]; then
  say "using the testkit at $MCP_AUTH_TESTKIT"
else
  say "cargo build -p mcp-auth-testkit"
  cargo build -q -p mcp-auth-testkit
  export MCP_AUTH_TESTKIT="${CARGO_TARGET_DIR:-$PWD/target}/debug/mcp-auth-testkit"
fi
if [ -n "${MCP_AUTH_CLI:-}" ]; then
  say "using the CLI at $MCP_AUTH_CLI"
else
  say "cargo build -p mcp-auth (the CLI, for the shared file store test)"
  cargo build -q -p mcp-auth
  export MCP_AUTH_CLI="${CARGO_TARGET_DIR:-$PWD/target}/debug/mcp-auth"
fi

# Chromium must not write into the home folder.
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export XDG_CONFIG_HOME="$TMP/config" XDG_CACHE_HOME="$TMP/cache"
mkdir -p "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" test-artifacts

status=0
echo "== TypeScript declarations (tsc --strict on wasm/tests/types/example.ts)"
if wasm/js/node_modules/.bin/tsc -p wasm/tests/types/tsconfig.json; then
  echo "ok - the .d.ts files of both packages type-check a user's code"
else
  echo "not ok - tsc failed"; status=1
fi
echo "== wasm Node tests (node --test wasm/tests/*.test.mjs)"
node --test wasm/tests/*.test.mjs || status=1
echo "== web demo in headless Chromium (node --test wasm/tests/browser/*.test.mjs)"
if [ -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  node --test wasm/tests/browser/*.test.mjs || status=1
else
  echo "Chromium not found at ${CHROMIUM:-/usr/bin/chromium}; run .ci/setup" >&2
  status=1
fi
if command -v redis-server >/dev/null 2>&1; then
  # both fleet tests again, now that the package is built: every third process of the hundred
  # and every other killed lock holder is a Node worker
  echo "== the mixed fleet: CLI and Node workers on 4 network-namespace hosts sharing Redis, and Node lock holders killed mid-refresh"
  MCP_AUTH_REQUIRE_NODE_WORKERS=1 cargo test -q -p mcp-auth --test redis_fleet \
    -- --nocapture || status=1
fi
if [ $status -ne 0 ]; then say "FAILED"; else say "all wasm tests passed (screenshots in test-artifacts/)"; fi
exit $status
