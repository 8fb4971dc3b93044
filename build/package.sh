#!/usr/bin/env bash
# Builds a Linux package of Earshot with the fyne tool: a .tar.xz holding
# the binary, the .desktop file and the icon (from FyneApp.toml), in
# build/out/. The fyne tool is installed with `go install`, never as a
# module requirement (it would pin the app's Fyne version).
#
# macOS and Windows: see README.md ("Packaging").
set -euo pipefail
cd "$(dirname "$0")/.."
bash build/deps.sh
export PATH="$(go env GOPATH)/bin:$PATH"
if ! command -v fyne >/dev/null; then
  echo "Installing the fyne packaging tool…" >&2
  go install fyne.io/tools/cmd/fyne@latest
fi
mkdir -p build/out
fyne package --os linux --release
mv -f Earshot.tar.xz build/out/
echo "Package: build/out/Earshot.tar.xz"
tar -tJf build/out/Earshot.tar.xz
