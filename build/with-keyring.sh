#!/usr/bin/env bash
# Run a command with a working Secret Service: Earshot keeps its secrets in
# the system keyring, and its tests use the real one.
#
# If the session already has a Secret Service that answers, the command runs
# as is. Otherwise this starts a private D-Bus session with a throwaway,
# unlocked GNOME Keyring (in a temporary HOME) and runs the command inside it.
#
#   build/with-keyring.sh go test ./...
set -euo pipefail

have_secret_service() {
	[ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || return 1
	command -v dbus-send >/dev/null || return 1
	timeout 3 dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true"
}

if [ "${EARSHOT_IN_PRIVATE_KEYRING:-}" != 1 ] && have_secret_service; then
	exec "$@"
fi

if [ "${EARSHOT_IN_PRIVATE_KEYRING:-}" != 1 ]; then
	for tool in dbus-run-session gnome-keyring-daemon; do
		if ! command -v "$tool" >/dev/null; then
			echo "with-keyring: $tool is missing; install the dependencies with build/deps.sh" >&2
			exit 1
		fi
	done
	export EARSHOT_IN_PRIVATE_KEYRING=1
	exec dbus-run-session -- "$0" "$@"
fi

# Inside the private session: a keyring of our own, unlocked with an empty
# password, in a temporary home so the user's real keyring is never touched.
keyring_home=$(mktemp -d)
trap 'rm -rf "$keyring_home"' EXIT
export XDG_DATA_HOME="$keyring_home/data" XDG_RUNTIME_DIR="$keyring_home/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
# The password only protects this throwaway keyring file.
eval "$(printf 'earshot-test' | gnome-keyring-daemon --daemonize --unlock --components=secrets 2>/dev/null)"
export GNOME_KEYRING_CONTROL
"$@"
