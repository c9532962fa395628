#!/usr/bin/env bash
# Where the wasm build's code bytes come from, by source line: each byte of code is charged to
# the innermost line of mcp-auth's own code (core/ or wasm/src/) it was inlined into, so a
# line that pulls in std's or a crate's code is charged for it. Complements `twiggy`, which
# counts whole functions (a flow's state machine with everything inlined into it).
#
#   bash wasm/size-lines.sh [N]     # N rows per table (default 30)
#
# Builds the web package's .wasm with line tables (DWARF; same profile and flags as build.sh
# otherwise), runs wasm-bindgen with --keep-debug, and reads the line table with LLVM's
# llvm-dwarfdump and llvm-symbolizer (Debian: `apt-get install llvm`). The figures are bytes
# of code before wasm-opt (about 10 % more than after it), not gzip. A development tool: no
# test or CI step runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROWS=${1:-30}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
pick() { # the first of the named tools that exists
  local t
  for t in "$@"; do command -v "$t" >/dev/null && { echo "$t"; return; }; done
  echo "size-lines: needs one of: $* (Debian: apt-get install llvm)" >&2
  exit 1
}
DWARFDUMP=$(pick llvm-dwarfdump llvm-dwarfdump-16 llvm-dwarfdump-15 llvm-dwarfdump-14)
SYMBOLIZER=$(pick llvm-symbolizer llvm-symbolizer-16 llvm-symbolizer-15 llvm-symbolizer-14)
command -v wasm-bindgen >/dev/null || {
  echo "size-lines: needs wasm-bindgen (bash wasm/build.sh says which version to install)" >&2
  exit 1
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "[size-lines] building with line tables" >&2
RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }--cfg sha2_backend_soft=\"compact\"" \
  CARGO_PROFILE_WASM_RELEASE_STRIP=false CARGO_PROFILE_WASM_RELEASE_DEBUG=limited \
  CARGO_TARGET_DIR=$TARGET_DIR cargo build -q --manifest-path wasm/Cargo.toml \
  --target wasm32-unknown-unknown --profile wasm-release
wasm-bindgen --target web --keep-debug --out-dir "$WORK" \
  "$TARGET_DIR/wasm32-unknown-unknown/wasm-release/mcp_auth_wasm.wasm"
WASM="$WORK/mcp_auth_wasm_bg.wasm"
"$DWARFDUMP" --debug-line "$WASM" >"$WORK/lines.txt"

python3 - "$WORK/lines.txt" "$WASM" "$SYMBOLIZER" "$ROOT" "$ROWS" <<'PY'
import collections, re, subprocess, sys

lines_txt, wasm, symbolizer, root, rows = sys.argv[1:6]
rows = int(rows)
ours_roots = (root + "/core/", root + "/wasm/src/")

# Line table rows: (address, end_sequence). A row's bytes run to the next row's address.
ranges = []
sequence = []
row = re.compile(r"^0x([0-9a-f]+)\s+\d+\s+\d+\s+\d+\s.*?(end_sequence)?$")
for text in open(lines_txt):
    m = row.match(text.rstrip("\n"))
    if not m:
        continue
    sequence.append(int(m.group(1), 16))
    if m.group(2):
        ranges += [(a, b - a) for a, b in zip(sequence, sequence[1:]) if b > a]
        sequence = []

# The inline chain of each address, innermost frame first.
addresses = sorted({a for a, _ in ranges})
out = subprocess.run(
    [symbolizer, "--inlining", "--obj=" + wasm],
    input="\n".join(hex(a) for a in addresses) + "\n",
    capture_output=True, text=True, check=True,
).stdout
chains = {}
for a, block in zip(addresses, out.split("\n\n")):
    parts = block.strip().split("\n")
    chains[a] = [(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]

def name(symbol):
    symbol = re.sub(r"::h[0-9a-f]{16}$", "", symbol)
    for code, text in (("$LT$", "<"), ("$GT$", ">"), ("$u20$", " "), ("$C$", ","),
                       ("$u7b$", "{"), ("$u7d$", "}"), ("$u5b$", "["), ("$u5d$", "]"), ("..", "::")):
        symbol = symbol.replace(code, text)
    return re.sub(r"(^|[ <])_<", r"\1<", symbol)[:110]

def place(location):
    path = location.rsplit(":", 2)[0]
    for r in ours_roots:
        if path.startswith(r):
            return path[len(root) + 1:], location[len(root) + 1:].rsplit(":", 1)[0]
    return None, None

by_file, by_line, inlined, elsewhere = (collections.Counter() for _ in range(4))
total = 0
for a, size in ranges:
    chain = chains.get(a) or []
    total += size
    ours = [(fn, place(loc)) for fn, loc in chain if place(loc)[0]]
    if ours:
        _, (path, line) = ours[0]
        by_file[path] += size
        by_line[line] += size
        inlined[name(chain[0][0])] += size
    else:
        elsewhere[name(chain[-1][0]) if chain else "(no line)"] += size

def table(title, counter):
    print(f"\n== {title}")
    for key, size in counter.most_common(rows):
        print(f"{size:8d}  {key}")

print(f"code bytes with a line: {total}; charged to our lines: {sum(by_file.values())}; "
      f"in functions of std and crates with none of our lines inlined: {sum(elsewhere.values())}")
table("by source file of ours (innermost line of ours)", by_file)
table("by source line of ours", by_line)
table("what the code at our lines is (innermost function, often std's inlined)", inlined)
table("functions with none of our lines (std's and crates' own, by outermost function)", elsewhere)
PY
