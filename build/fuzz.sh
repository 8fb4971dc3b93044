#!/usr/bin/env bash
# Runs every fuzz target (each func FuzzXxx in a _test.go file) briefly, on
# its own package, as build/test.sh does at its end.
#
#   build/fuzz.sh [EXECUTIONS]     # default 10000x (or $FUZZTIME)
#
# An execution count, not a duration: Go 1.26's fuzz coordinator can fail a
# target with a bare "context deadline exceeded" when a -fuzztime duration
# ends on a busy machine (golang/go#75804, fixed in Go 1.27).
#
# Each package's test binary is built once, with the fuzzing
# instrumentation (go test -c -fuzz), and run for each of its targets, in
# the package's directory and with go test's corpus cache ($GOCACHE/fuzz):
# `go test -fuzz` would link the binary again for every target. Run it
# inside build/with-keyring.sh (build/test.sh does) for the targets that
# reach the keyring.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-${FUZZTIME:-10000x}}"
bin=$(mktemp -d "${TMPDIR:-/tmp}/earshot-fuzz.XXXXXX")
trap 'rm -rf "$bin"' EXIT
cache="$(go env GOCACHE)/fuzz"
echo "== fuzz targets ($fuzztime each)"
for dir in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do
  dir="${dir#./}"
  pkg=$(go list "./$dir")
  exe="$bin/$(echo "$pkg" | tr / _).test"
  go test -c -fuzz=. -ldflags="-s -w" -o "$exe" "./$dir"
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | cut -d' ' -f2 | sort); do
    echo "-- ./$dir $target"
    (cd "$dir" && "$exe" -test.paniconexit0 -test.timeout=10m -test.run='^$' -test.fuzz="^${target}\$" \
      -test.fuzztime="$fuzztime" -test.fuzzcachedir="$cache/$pkg")
  done
done
