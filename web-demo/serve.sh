#!/usr/bin/env bash
# Serves the web demo locally: builds the browser package, then runs the testkit (an OAuth
# authorization server with a consent page + an MCP server) with the demo under /demo/.
#   bash web-demo/serve.sh [PORT]      (default port 8080)
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${1:-8080}
bash wasm/build.sh
cargo build -q -p mcp-auth-testkit
TARGET_DIR=${CARGO_TARGET_DIR:-target}
echo
echo "Open http://127.0.0.1:$PORT/demo/  (Ctrl-C to stop)"
exec "$TARGET_DIR/debug/mcp-auth-testkit" serve --port "$PORT" --scenario consent --static-dir web-demo
