#!/usr/bin/env bash
# Runs every Earshot test on this machine: installs what the tests need
# (build/deps.sh), checks formatting and go vet, runs the whole suite with the
# race detector inside a private D-Bus session with a real, throwaway
# gnome-keyring (build/with-keyring.sh), then runs each fuzz target briefly.
#
# FUZZTIME (default 10000x: executions) sets how long each fuzz target runs.
set -euo pipefail
cd "$(dirname "$0")/.."

bash build/deps.sh
# Fyne takes the UI language from the environment; C is not a language tag.
# (Unset the overrides first: bash warns when it cannot apply a locale.)
unset LC_ALL LC_MESSAGES
export LANG=en_US.UTF-8
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt wants to change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test -race (real Secret Service on a private D-Bus)"
build/with-keyring.sh go test -race -count=1 -timeout 40m ./...

# An execution count, not a duration: Go 1.26's fuzz coordinator can fail a
# target with a bare "context deadline exceeded" when a -fuzztime duration
# ends on a busy machine (golang/go#75804, fixed in Go 1.27).
fuzztime="${FUZZTIME:-10000x}"
echo "== fuzz targets ($fuzztime each)"
# Every func FuzzXxx in a _test.go file, run on its own package.
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
  pkg="./$(dirname "${file#./}")"
  for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -d' ' -f2); do
    echo "-- $pkg $target"
    build/with-keyring.sh go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg"
  done
done
