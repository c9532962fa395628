#!/usr/bin/env bash
# Serves the web demo locally: builds the browser package, then runs the testkit (an OAuth
# authorization server with a consent page + an MCP server) with the demo under /demo/.
#   bash web-demo/serve.sh [PORT]      (default port 8080)
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${1:-8080}
bash .ci/setup
bash wasm/build.sh
TESTKIT=${MCP_AUTH_TESTKIT:-}
if [ -z "$TESTKIT" ]; then
  cargo build -q -p mcp-auth-testkit
  TESTKIT=${CARGO_TARGET_DIR:-target}/debug/mcp-auth-testkit
fi
echo
echo "Open http://127.0.0.1:$PORT/demo/  (Ctrl-C to stop)"
exec "$TESTKIT" serve --port "$PORT" --scenario consent --static-dir web-demo
