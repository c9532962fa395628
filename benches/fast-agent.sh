#!/usr/bin/env bash
# Installs fast-agent (fast-agent-mcp==0.9.15, the peer BENCHMARKS.md compares `status`
# with) into a throwaway venv on Python 3.13 and prints the path of its executable.
#   FA=$(bash benches/fast-agent.sh) && python3 benches/process.py --fast-agent "$FA"
# The venv lives in ${FAST_AGENT_VENV:-$TMPDIR/mcp-auth-bench-fast-agent}; run again to reuse it.
set -euo pipefail
VENV=${FAST_AGENT_VENV:-${TMPDIR:-/tmp}/mcp-auth-bench-fast-agent}
if [ ! -x "$VENV/bin/fast-agent" ]; then
  PY=""
  # pyenv's shim answers `python3.13` even when that version is not selected: ask each
  # candidate to run before choosing it.
  for cand in "$HOME"/.pyenv/versions/3.13*/bin/python3.13 python3.13; do
    if "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 13)' >/dev/null 2>&1; then
      PY=$cand
      break
    fi
  done
  if [ -z "$PY" ]; then
    echo "fast-agent needs Python 3.13 (pyenv install 3.13, or Debian's python3.13)" >&2
    exit 1
  fi
  "$PY" -m venv "$VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "fast-agent-mcp==0.9.15" >&2
fi
echo "$VENV/bin/fast-agent"
