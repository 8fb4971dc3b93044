#!/usr/bin/env bash
# Builds Earshot's release set in build/out/, with SHA256SUMS:
#   Earshot.tar.xz              Linux: the GUI binary, .desktop file and icon (fyne package)
#   Earshot-windows-amd64.zip   Windows: Earshot.exe (the GUI, with its icon and version
#                               resource from FyneApp.toml; fyne package with MinGW-w64) and
#                               earshot-cli.exe (the same commands on a console: a GUI
#                               binary has no console to print to)
#   earshot-darwin-amd64, earshot-darwin-arm64
#                               macOS: the headless earshot (relay and commands, no window;
#                               a macOS GUI build needs Apple's SDK, which Linux lacks)
# The fyne tool is installed with `go install`, never as a module requirement
# (it would pin the app's Fyne version), at a pinned version so packages build
# the same way every time (raise FYNE_TOOLS deliberately; `go list -m
# -versions fyne.io/tools` lists them). Cold, the Windows GUI build takes
# about 10 minutes on 2 busy cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bash build/deps.sh
FYNE_TOOLS=v1.7.4
# A tool of its own in build/out/tools, so a fyne already on PATH (of
# another version) is never used by mistake.
tools="$PWD/build/out/tools"
fyne="$tools/fyne"
if [ ! -x "$fyne" ] || ! "$fyne" version 2>/dev/null | grep -q "${FYNE_TOOLS#v}"; then
  echo "Installing the fyne packaging tool $FYNE_TOOLS…" >&2
  GOBIN="$tools" go install "fyne.io/tools/cmd/fyne@$FYNE_TOOLS"
fi
out="$PWD/build/out"
mkdir -p "$out"
# `fyne package` adds one to Build in FyneApp.toml on every run; the build
# number is raised deliberately, with a release, so the file is put back.
saved=$(mktemp)
stage=$(mktemp -d)
cp FyneApp.toml "$saved"
trap 'cp "$saved" FyneApp.toml; rm -rf "$saved" "$stage"' EXIT
version=$(sed -n 's/^Version *= *"\(.*\)"/\1/p' FyneApp.toml)
ldflags="-s -w -X earshot/app.Version=$version"

echo "== Linux" >&2
"$fyne" package --os linux --release
mv -f Earshot.tar.xz "$out/"

echo "== Windows (MinGW-w64)" >&2
cp "$saved" FyneApp.toml
CC=x86_64-w64-mingw32-gcc CGO_ENABLED=1 GOOS=windows GOARCH=amd64 "$fyne" package --os windows --release
mv -f Earshot.exe "$stage/Earshot.exe"
CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -tags headless -trimpath -ldflags "$ldflags" -o "$stage/earshot-cli.exe" .
rm -f "$out/Earshot-windows-amd64.zip"
(cd "$stage" && zip -q -9 "$out/Earshot-windows-amd64.zip" Earshot.exe earshot-cli.exe)

echo "== macOS (headless)" >&2
for arch in amd64 arm64; do
  CGO_ENABLED=0 GOOS=darwin GOARCH=$arch go build -tags headless -trimpath -ldflags "$ldflags" -o "$out/earshot-darwin-$arch" .
done

cd "$out"
sha256sum Earshot.tar.xz Earshot-windows-amd64.zip earshot-darwin-amd64 earshot-darwin-arm64 > SHA256SUMS
echo "Release set in build/out:"
cat SHA256SUMS
tar -tJf Earshot.tar.xz
unzip -l Earshot-windows-amd64.zip
