#!/usr/bin/env bash
# Builds and runs Earshot. Arguments go to earshot, e.g.
#   build/run.sh                 the account in config.json, or the demo server if none
#   build/run.sh relay --demo    the relay against the built-in demo server
# On a machine with no desktop session (no D-Bus session bus, so no system
# keyring), it runs Earshot with a temporary keyring that lives only as long
# as this run, and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

bash build/deps.sh
# Fyne reads the UI language from the environment and complains about the
# C/POSIX locale, which is not a language tag; English is what it would
# fall back to anyway.
case "${LC_ALL:-${LC_MESSAGES:-${LANG:-}}}" in
"" | C | C.* | POSIX) unset LC_ALL LC_MESSAGES; export LANG=en_US.UTF-8 ;;
esac
mkdir -p build/out
echo "Building Earshot…" >&2
build/build.sh

if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
  # Secrets may only live in a keyring, so with a throwaway keyring the
  # configuration and token registry are throwaway too (nothing stale is left).
  echo "No desktop session found: using a temporary keyring and configuration for this run" >&2
  echo "(nothing is kept afterwards; run Earshot in a desktop session to keep sign-ins and tokens)." >&2
  EARSHOT_CONFIG_DIR=$(mktemp -d -t earshot-config-XXXXXX)
  export EARSHOT_CONFIG_DIR
  trap 'rm -rf "$EARSHOT_CONFIG_DIR"' EXIT
  build/with-keyring.sh build/out/earshot "$@"
  exit $?
fi
exec build/out/earshot "$@"
