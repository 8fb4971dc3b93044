#!/usr/bin/env bash
# Builds a Linux package of Earshot with the fyne tool: a .tar.xz holding
# the binary, the .desktop file and the icon (from FyneApp.toml), in
# build/out/. The fyne tool is installed with `go install`, never as a
# module requirement (it would pin the app's Fyne version), at a pinned
# version so packages build the same way every time (raise FYNE_TOOLS
# deliberately; `go list -m -versions fyne.io/tools` lists them).
#
# macOS and Windows: see README.md ("Packaging").
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
mkdir -p build/out
# `fyne package` adds one to Build in FyneApp.toml on every run; the build
# number is raised deliberately, with a release, so the file is put back.
saved=$(mktemp)
cp FyneApp.toml "$saved"
trap 'cp "$saved" FyneApp.toml; rm -f "$saved"' EXIT
"$fyne" package --os linux --release
mv -f Earshot.tar.xz build/out/
echo "Package: build/out/Earshot.tar.xz"
tar -tJf build/out/Earshot.tar.xz
