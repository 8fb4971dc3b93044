#!/usr/bin/env bash
# Run a command with a working Secret Service: Earshot keeps its secrets in
# the system keyring, and its tests use the real one.
#
# If the session already has a Secret Service that answers, the command runs
# as is. Otherwise this re-runs itself inside a private D-Bus session
# (dbus-run-session) with a throwaway, unlocked GNOME Keyring whose files
# live in a temporary directory, runs the command there, and removes it all
# afterwards. The user's own keyring is never touched.
#
#   build/with-keyring.sh go test ./relay/secrets/ ./relay/tokens/
#
# Inside, EARSHOT_TEST_KEYRING_DIR names the keyring's data directory (tests
# grep it to prove no secret lands there in plaintext).
set -euo pipefail

if [ $# -eq 0 ]; then
	echo "usage: build/with-keyring.sh COMMAND [ARG...]" >&2
	exit 2
fi

# have_secret_service: the session bus answers and someone owns
# org.freedesktop.secrets.
have_secret_service() {
	[ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || return 1
	command -v dbus-send >/dev/null || return 1
	timeout 3 dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true"
}

if [ "${EARSHOT_IN_PRIVATE_KEYRING:-}" != 1 ]; then
	if have_secret_service; then
		exec "$@"
	fi
	for tool in dbus-run-session gnome-keyring-daemon dbus-send; do
		if ! command -v "$tool" >/dev/null; then
			echo "with-keyring: $tool is missing; install the dependencies with build/deps.sh" >&2
			exit 1
		fi
	done
	export EARSHOT_IN_PRIVATE_KEYRING=1
	exec dbus-run-session -- "$0" "$@"
fi

# Inside the private session. The keyring daemon gets a temporary HOME and
# XDG directories of its own; the command keeps the caller's HOME (so Go's
# build and module caches still work) but sees the same XDG data and runtime
# directories.
keyring_dir=$(mktemp -d "${TMPDIR:-/tmp}/earshot-keyring.XXXXXX")
cleanup() {
	if [ -n "${keyring_pid:-}" ]; then kill "$keyring_pid" 2>/dev/null || true; fi
	rm -rf "$keyring_dir"
}
trap cleanup EXIT
mkdir -p "$keyring_dir/home" "$keyring_dir/data" "$keyring_dir/config" "$keyring_dir/run"
chmod 700 "$keyring_dir" "$keyring_dir/run"
export XDG_DATA_HOME="$keyring_dir/data" XDG_RUNTIME_DIR="$keyring_dir/run" EARSHOT_TEST_KEYRING_DIR="$keyring_dir"

# An empty password would make GNOME Keyring store the collection
# unencrypted; a fixed one keeps even this throwaway keyring file encrypted,
# so a test can grep it for plaintext. The password protects nothing else.
daemon_env=$(printf 'earshot-test' | HOME="$keyring_dir/home" XDG_CONFIG_HOME="$keyring_dir/config" \
	gnome-keyring-daemon --daemonize --unlock --components=secrets 2>"$keyring_dir/daemon.log") || {
	echo "with-keyring: gnome-keyring-daemon did not start:" >&2
	cat "$keyring_dir/daemon.log" >&2
	exit 1
}
# It prints GNOME_KEYRING_CONTROL=… (and, for some versions, the pid).
while IFS='=' read -r name value; do
	case "$name" in
	GNOME_KEYRING_CONTROL) export GNOME_KEYRING_CONTROL="$value" ;;
	GNOME_KEYRING_PID) keyring_pid="$value" ;;
	esac
done <<<"$daemon_env"

# Wait (bounded) until the daemon owns the Secret Service name.
for _ in $(seq 50); do
	have_secret_service && break
	sleep 0.1
done
if ! have_secret_service; then
	echo "with-keyring: gnome-keyring-daemon started but no Secret Service answers on the private bus" >&2
	cat "$keyring_dir/daemon.log" >&2
	exit 1
fi

set +e
"$@"
status=$?
set -e
exit "$status"
