#!/usr/bin/env bash
# Runs the keyring tests against a real Secret Service: a private D-Bus session with an
# unlocked gnome-keyring whose files live in a throwaway HOME. Arguments go to the test
# binary (e.g. a test name, --nocapture).
set -euo pipefail
cd "$(dirname "$0")/../.."

for tool in dbus-run-session gnome-keyring-daemon; do
  if ! command -v "$tool" >/dev/null; then
    echo "keyring tests need $tool (apt-get install gnome-keyring dbus-x11; see .ci/setup)" >&2
    exit 1
  fi
done

# cargo and rustup keep using the real home; the keyring daemon gets a fresh one
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
cargo test -p mcp-auth --test keyring --no-run

keyring_home="$(mktemp -d)"
trap 'rm -rf "$keyring_home"' EXIT
mkdir -p "$keyring_home/.cache" "$keyring_home/.local/share"

HOME="$keyring_home" dbus-run-session -- sh -c '
  eval "$(printf pass | gnome-keyring-daemon --unlock --components=secrets)"
  cargo test -p mcp-auth --test keyring -- --include-ignored --test-threads=1 "$@"
' sh "$@"
