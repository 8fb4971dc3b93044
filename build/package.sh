#!/usr/bin/env bash
# Builds a Linux package of Earshot with the fyne tool: a .tar.xz holding
# both programs (earshot, the resident process, and earshot-window beside
# it), the .desktop file and the icon (from FyneApp.toml), and a Makefile
# that installs them, in build/out/. The fyne tool is installed with `go install`, never as a
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
# The fyne tool's build of earshot is not shipped: it adds a metadata file
# to the main package that imports Fyne, and the resident process must not
# link it. Both programs come from build/build.sh (which knows their flags),
# side by side, and the Makefile installs and removes the window program
# with earshot.
work=$(mktemp -d)
trap 'cp "$saved" FyneApp.toml; rm -f "$saved"; rm -rf "$work"' EXIT
tar -xJf Earshot.tar.xz -C "$work"
rm -f Earshot.tar.xz
bin="$work/earshot/usr/local/bin"
build/build.sh "$work/build" -trimpath -ldflags="-s -w"
if go version -m "$work/build/earshot" | grep -q 'fyne.io/fyne'; then
  echo "package.sh: the resident earshot links Fyne" >&2; exit 1
fi
install -m 0755 "$work/build/earshot" "$bin/earshot"
install -m 0755 "$work/build/earshot-window" "$bin/earshot-window"
makefile="$work/earshot/Makefile"
grep -q 'bin/$(Exec)' "$makefile" || { echo "package.sh: the fyne tool's Makefile changed; add earshot-window by hand" >&2; exit 1; }
sed -i -e 's|^\(\t.*\)usr/local/bin/$(Exec) \(.*\)bin/$(Exec)$|&\n\1usr/local/bin/earshot-window \2bin/earshot-window|' \
  -e 's|^\(\t-rm .*\)bin/$(Exec)$|&\n\1bin/earshot-window|' "$makefile"
tar -cJf build/out/Earshot.tar.xz -C "$work" earshot
echo "Package: build/out/Earshot.tar.xz"
tar -tJf build/out/Earshot.tar.xz
