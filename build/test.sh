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

# Cross-builds, on every run, so no change breaks Windows or macOS unseen
# (Go's Windows binaries do not start under Debian 12's Wine, so Windows
# behaviour is proved by the platform packages' tests, which run here).
# The headless binary (no cgo) for each target, and go vet of every package
# it is built from, tests included; for Windows the resident (no cgo) and
# the window program with MinGW-w64 (Fyne's GLFW needs cgo; a cold build
# takes minutes, later ones seconds). A Mac GUI build needs Apple's SDK: not
# done here.
echo "== cross-builds"
headless_pkgs() { # the packages of the headless build and their tests: not ui/ (Fyne)
  go list -e -tags headless -f '{{.ImportPath}}{{range .Deps}} {{.}}{{end}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}' ./... |
    grep -v -e ' fyne.io/' -e ' earshot/ui' -e '^earshot/ui' | cut -d' ' -f1
}
for target in windows/amd64 darwin/amd64 darwin/arm64; do
  export GOOS="${target%/*}" GOARCH="${target#*/}" CGO_ENABLED=0
  echo "-- headless $target"
  go build -tags headless -o /dev/null .
  go vet -tags headless $(headless_pkgs)
done
unset GOOS GOARCH CGO_ENABLED
echo "-- resident (no cgo) and window program (MinGW-w64), windows/amd64"
CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -o /dev/null .
CC=x86_64-w64-mingw32-gcc CGO_ENABLED=1 GOOS=windows GOARCH=amd64 go build -tags no_emoji -o /dev/null ./ui/cmd/earshot-window
CC=x86_64-w64-mingw32-gcc CGO_ENABLED=1 GOOS=windows GOARCH=amd64 go vet ./...

echo "== go test -race (real Secret Service on a private D-Bus)"
build/with-keyring.sh go test -race -count=1 -timeout 40m ./...

# Every fuzz target briefly (build/fuzz.sh: each package's test binary is
# built once and run per target, with an execution count, not a duration).
build/with-keyring.sh bash build/fuzz.sh "${FUZZTIME:-10000x}"
