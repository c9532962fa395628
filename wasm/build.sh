#!/usr/bin/env bash
# Builds the npm-ready packages of mcp-auth-wasm:
#   wasm/pkg/web   ES module for browsers (--target web)
#   wasm/pkg/node  CommonJS for Node >= 18 (--target nodejs)
# with opt-level z + LTO ([profile.wasm-release] of wasm/Cargo.toml: wasm/ is its own cargo
# workspace with its own Cargo.lock, built into the root target/) and npm binaryen's `wasm-opt -Oz`, and
# prints the raw and gzip sizes of the .wasm and JS glue before and after wasm-opt. The web
# package's JS glue is minified with esbuild (as a bundler would ship it; the Node package's stays
# readable), and source paths are remapped so that no path of the build machine is in the package.
# Also copies the web package into web-demo/pkg for the demo page.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WASM_OPT=$ROOT/wasm/js/node_modules/.bin/wasm-opt
say() { printf '\033[1m[wasm-build]\033[0m %s\n' "$*" >&2; }

ESBUILD=$ROOT/wasm/js/node_modules/.bin/esbuild
if [ ! -x "$WASM_OPT" ] || [ ! -x "$ESBUILD" ]; then
  say "installing npm packages in wasm/js (binaryen's wasm-opt, esbuild)"
  (cd wasm/js && npm install --no-audit --no-fund --loglevel=error)
fi
want=$(grep -m1 -A2 '^name = "wasm-bindgen"$' wasm/Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')
if [ "$want" != "$have" ]; then
  say "wasm-bindgen CLI is '${have:-missing}' but the crate is $want; run: cargo install wasm-bindgen-cli --version $want"
  exit 1
fi

say "cargo build --manifest-path wasm/Cargo.toml --target wasm32-unknown-unknown --profile wasm-release"
# Keep the target_features section (wasm-bindgen reads it; `strip = true` would drop it):
# wasm-bindgen drops the debug sections and wasm-opt --strip-debug the names.
# Panic locations name source files: remap the checkout and cargo's registry to short relative
# names (smaller, and the package does not carry this machine's paths).
REGISTRY=${CARGO_HOME:-$HOME/.cargo}/registry/src
REMAP="--remap-path-prefix=$ROOT/= --remap-path-prefix=$REGISTRY/="
for index in "$REGISTRY"/*/; do [ -d "$index" ] && REMAP="$REMAP --remap-path-prefix=${index%/}/="; done
# sha2's compact SHA-256 (a loop, not 64 unrolled rounds): the PKCE challenge and the DPoP
# `ath` hash a few bytes per login or request (wasm/README.md "Size" has the trade measured).
SHA2='--cfg sha2_backend_soft="compact"'
RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }$REMAP $SHA2" \
  CARGO_PROFILE_WASM_RELEASE_STRIP=false CARGO_PROFILE_WASM_RELEASE_DEBUG=false \
  CARGO_TARGET_DIR=$TARGET_DIR cargo build -q --manifest-path wasm/Cargo.toml \
  --target wasm32-unknown-unknown --profile wasm-release
WASM=$TARGET_DIR/wasm32-unknown-unknown/wasm-release/mcp_auth_wasm.wasm

size_line() { # label file...
  local label=$1; shift
  local raw=0 gz=0 f
  for f in "$@"; do
    raw=$((raw + $(wc -c <"$f")))
    gz=$((gz + $(gzip -9 -c "$f" | wc -c)))
  done
  printf '  %-34s raw %8d B  gzip %7d B (%s KiB)\n' "$label" "$raw" "$gz" "$(awk "BEGIN{printf \"%.1f\", $gz/1024}")"
}

FEATURES="--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue"
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' wasm/Cargo.toml | head -1)
for kind in web node; do
  out=wasm/pkg/$kind
  rm -rf "$out"
  if [ $kind = web ]; then bt=web; else bt=nodejs; fi
  wasm-bindgen --target "$bt" --out-dir "$out" --out-name mcp_auth "$WASM"
  echo "== $kind package ($out), sizes:"
  # "before": wasm-bindgen's output with only the name section dropped (no optimisation)
  "$WASM_OPT" -O0 $FEATURES --strip-debug --strip-producers "$out/mcp_auth_bg.wasm" -o "$out/before.wasm"
  size_line ".wasm before wasm-opt" "$out/before.wasm"
  size_line ".wasm + JS glue before wasm-opt" "$out/before.wasm" "$out/mcp_auth.js"
  rm "$out/before.wasm"
  # -Oz without four of its passes: the figure that counts is the gzip size, and measured on
  # this build (issue 11) `reorder-functions` (functions sorted by call count, which scatters
  # related code) costs ~9 KB gzip, `inlining-optimizing` ~9 KB, `local-cse` ~0.8 KB and
  # `merge-similar-functions` ~0.5 KB, each while saving raw bytes. --low-memory-unused: Rust's
  # wasm32 puts the stack first and its data above 1 MiB, so the low 1 KiB is never addressed
  # and constant offsets fold into loads/stores.
  "$WASM_OPT" -Oz --skip-pass=reorder-functions --skip-pass=inlining-optimizing \
    --skip-pass=local-cse --skip-pass=merge-similar-functions --low-memory-unused $FEATURES \
    --strip-debug --strip-producers \
    "$out/mcp_auth_bg.wasm" -o "$out/mcp_auth_bg.wasm.opt"
  mv "$out/mcp_auth_bg.wasm.opt" "$out/mcp_auth_bg.wasm"
  # Short import, export and module names (wasm-bindgen's imports carry 16 hex digits each,
  # which do not compress), renamed to match in the glue and type files
  # (wasm/minify-names.mjs; issue 11: −4.0 KB gzip). The target_features section was for
  # wasm-bindgen, which has run: no engine reads it (−103 B gzip).
  "$WASM_OPT" --minify-imports-and-exports-and-modules --strip-target-features $FEATURES \
    "$out/mcp_auth_bg.wasm" -o "$out/mcp_auth_bg.wasm.opt" >"$out/names.json"
  mv "$out/mcp_auth_bg.wasm.opt" "$out/mcp_auth_bg.wasm"
  node wasm/minify-names.mjs "$kind" "$out" "$out/names.json"
  rm "$out/names.json"
  size_line ".wasm after wasm-opt -Oz" "$out/mcp_auth_bg.wasm"
  if [ $kind = web ]; then
    size_line ".wasm + JS glue (not minified)" "$out/mcp_auth_bg.wasm" "$out/mcp_auth.js"
    "$ESBUILD" "$out/mcp_auth.js" --minify --format=esm --legal-comments=none --log-level=warning \
      --outfile="$out/mcp_auth.min.js"
    mv "$out/mcp_auth.min.js" "$out/mcp_auth.js"
  fi
  size_line ".wasm + JS glue after wasm-opt -Oz" "$out/mcp_auth_bg.wasm" "$out/mcp_auth.js"
  if [ $kind = web ]; then
    cat >"$out/package.json" <<JSON
{
  "name": "mcp-auth-wasm",
  "version": "$VERSION",
  "description": "The MCP OAuth 2.1 client (mcp-auth) for browsers: WebAssembly ES module.",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "module": "mcp_auth.js",
  "main": "mcp_auth.js",
  "types": "mcp_auth.d.ts",
  "files": ["mcp_auth.js", "mcp_auth.d.ts", "mcp_auth_bg.wasm", "mcp_auth_bg.wasm.d.ts"],
  "sideEffects": ["./snippets/*"]
}
JSON
  else
    cat >"$out/package.json" <<JSON
{
  "name": "mcp-auth-wasm-node",
  "version": "$VERSION",
  "description": "The MCP OAuth 2.1 client (mcp-auth) for Node >= 18: WebAssembly, CommonJS.",
  "license": "MIT OR Apache-2.0",
  "main": "mcp_auth.js",
  "types": "mcp_auth.d.ts",
  "engines": { "node": ">=18" },
  "files": ["mcp_auth.js", "mcp_auth.d.ts", "mcp_auth_bg.wasm", "mcp_auth_bg.wasm.d.ts", "file_store.js", "file_store.d.ts", "redis_store.js", "redis_store.d.ts"]
}
JSON
    # the CLI's file store and locks for Node (wasm/node/)
    cp wasm/node/file_store.js wasm/node/file_store.d.ts "$out/"
    # the CLI's `persist: redis` store and leased locks for Node (wasm/node/redis_store.js)
    cp wasm/node/redis_store.js wasm/node/redis_store.d.ts "$out/"
  fi
done

rm -rf web-demo/pkg
cp -r wasm/pkg/web web-demo/pkg
say "packages in wasm/pkg/web and wasm/pkg/node (web copy in web-demo/pkg)"
