#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time and prints libFuzzer's executions.
#   fuzz/run.sh                  every target, 60 s each
#   FUZZ_SECONDS=600 fuzz/run.sh sse records    chosen targets, 10 minutes each
# Needs the nightly toolchain; installs cargo-fuzz when missing. One job, one worker: the
# machine is shared. Corpora grow in fuzz/corpus/<target> (not committed); crashes land in
# fuzz/artifacts/<target>. Not part of .ci/run.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-60}"
all=(www_authenticate callback documents records sse mcp_answers config)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz

seed() {
  local t="$1" dir="corpus/$1"
  mkdir -p "$dir"
  cp -n seeds/"$t"/* "$dir"/ 2>/dev/null || true
  # the shared test vectors, as inputs of the targets that read them
  command -v python3 >/dev/null 2>&1 || return 0
  python3 - "$t" "$dir" <<'PY'
import json, sys, pathlib, hashlib
target, out = sys.argv[1], pathlib.Path(sys.argv[2])
vec = pathlib.Path("../tests/vectors")
def put(data: bytes):
    (out / ("vec-" + hashlib.sha1(data).hexdigest()[:16])).write_bytes(data)
def objects(v):
    if isinstance(v, dict):
        yield v
        for x in v.values(): yield from objects(x)
    elif isinstance(v, list):
        for x in v: yield from objects(x)
if target == "www_authenticate":
    for c in json.loads((vec / "www_authenticate.json").read_text()).get("cases", []):
        put("\n".join(c.get("headers", [])).encode())
elif target == "callback":
    for c in json.loads((vec / "callback.json").read_text()).get("cases", []):
        if isinstance(c.get("callback"), str): put(c["callback"].encode())
elif target == "documents":
    for f in sorted(vec.glob("*.json")):
        for o in objects(json.loads(f.read_text())):
            put(b"\x00" + json.dumps(o).encode())
PY
}

failed=()
for t in "${targets[@]}"; do
  status=0
  seed "$t"
  features=()
  [ "$t" = config ] && features=(--features config)
  log="$(mktemp)"
  echo "== $t: ${seconds}s"
  cargo +nightly fuzz run "${features[@]}" "$t" "corpus/$t" -- \
    -max_total_time="$seconds" -jobs=1 -workers=1 -print_final_stats=1 >"$log" 2>&1 || status=$?
  # with -jobs, libFuzzer's own output goes to fuzz-<job>.log
  [ -f fuzz-0.log ] && cat fuzz-0.log >>"$log" && rm -f fuzz-0.log
  if [ "${status:-0}" -ne 0 ] || grep -q 'ERROR: libFuzzer\|panicked at' "$log"; then
    tail -n 40 "$log"; echo "!! $t failed (crash input in fuzz/artifacts/$t)"; rm -f "$log"
    failed+=("$t"); continue
  fi
  runs="$(grep -E '^stat::number_of_executed_units' "$log" | tail -n 1 | awk '{print $2}')"
  echo "$t: ${runs:-?} executions ($(grep -E '^Done [0-9]+ runs' "$log" | tail -n 1))"
  rm -f "$log"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "!! crashed: ${failed[*]}"
  exit 1
fi
