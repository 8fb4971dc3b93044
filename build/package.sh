#!/usr/bin/env bash
# Builds Earshot's release set in build/out/, with SHA256SUMS:
#   Earshot.tar.xz              Linux: both programs (earshot, the resident process, and
#                               earshot-window beside it), the .desktop file and icon (from
#                               FyneApp.toml), and a Makefile that installs them
#   Earshot-windows-amd64.zip   Windows: Earshot.exe (the resident process: tray, player,
#                               relay; no console), earshot-window.exe (the windows, Fyne;
#                               cgo with MinGW-w64) and earshot-cli.exe (the same commands
#                               on a console: a GUI binary has no console to print to),
#                               each with its icon, version information (FyneApp.toml)
#                               and manifest, from build/winres and MinGW-w64's windres
#   earshot-darwin-amd64.tar.gz, earshot-darwin-arm64.tar.gz
#                               macOS: the headless earshot (relay and commands, no window;
#                               the tray and the windows are cgo against Cocoa, which needs
#                               Apple's SDK, which Linux lacks)
# The fyne tool (for the .desktop file, icon and Makefile) is installed with
# `go install`, never as a module requirement (it would pin the app's Fyne
# version), at a pinned version so packages build the same way every time
# (raise FYNE_TOOLS deliberately; `go list -m -versions fyne.io/tools` lists
# them). Its own builds of earshot are not shipped: it adds a metadata file to
# the main package that imports Fyne, and the resident process must not link
# it. Cold, the Windows window program's build takes about 10 minutes on 2
# busy cores.
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
cp "$saved" FyneApp.toml # the build number the Windows resources show
# Both programs come from build/build.sh (which knows their flags), side by
# side, and the Makefile installs and removes the window program with
# earshot.
tar -xJf Earshot.tar.xz -C "$stage"
rm -f Earshot.tar.xz
bin="$stage/earshot/usr/local/bin"
build/build.sh "$stage/build" -trimpath -ldflags="$ldflags"
if go version -m "$stage/build/earshot" | grep -q 'fyne.io/fyne'; then
  echo "package.sh: the resident earshot links Fyne" >&2; exit 1
fi
install -m 0755 "$stage/build/earshot" "$bin/earshot"
install -m 0755 "$stage/build/earshot-window" "$bin/earshot-window"
makefile="$stage/earshot/Makefile"
grep -q 'bin/$(Exec)' "$makefile" || { echo "package.sh: the fyne tool's Makefile changed; add earshot-window by hand" >&2; exit 1; }
sed -i -e 's|^\(\t.*\)usr/local/bin/$(Exec) \(.*\)bin/$(Exec)$|&\n\1usr/local/bin/earshot-window \2bin/earshot-window|' \
  -e 's|^\(\t-rm .*\)bin/$(Exec)$|&\n\1bin/earshot-window|' "$makefile"
tar -cJf "$out/Earshot.tar.xz" -C "$stage" earshot

echo "== Windows (MinGW-w64 for the window program)" >&2
# Each .exe gets its icon, version information (from FyneApp.toml) and
# manifest from a .syso that build/winres compiles with MinGW-w64's
# windres. go build links every .syso in a main package's directory, so
# they go into a copy of the tree, never into the repository; the copy
# also keeps a concurrent build here from picking them up.
win="$stage/windows"
src="$stage/src"
mkdir -p "$win" "$src"
tar -C "$PWD" --exclude=./.git --exclude=./build/out -cf - . | tar -C "$src" -xf -
winres() { go run ./build/winres "$@"; }
syso() { # exe description main-package-dir
  winres syso -app FyneApp.toml -exe "$1" -desc "$2" -o "$src/$3/earshot_windows_amd64.syso"
}
syso Earshot.exe "Earshot" .
(cd "$src" && CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -trimpath -ldflags "$ldflags -H windowsgui" -o "$win/Earshot.exe" .)
if go version -m "$win/Earshot.exe" | grep -q 'fyne.io/fyne'; then
  echo "package.sh: the resident Earshot.exe links Fyne" >&2; exit 1
fi
syso earshot-window.exe "Earshot window" ui/cmd/earshot-window
(cd "$src" && CC=x86_64-w64-mingw32-gcc CGO_ENABLED=1 GOOS=windows GOARCH=amd64 go build -tags no_emoji -trimpath \
  -ldflags "$ldflags -H windowsgui" -o "$win/earshot-window.exe" ./ui/cmd/earshot-window)
syso earshot-cli.exe "Earshot command line" .
(cd "$src" && CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -tags headless -trimpath -ldflags "$ldflags" -o "$win/earshot-cli.exe" .)
# A regression (a lost icon, a version other than FyneApp.toml's) fails
# the release here.
winres check -app FyneApp.toml "$win/Earshot.exe" "$win/earshot-window.exe" "$win/earshot-cli.exe"
rm -f "$out/Earshot-windows-amd64.zip"
(cd "$win" && zip -q -9 "$out/Earshot-windows-amd64.zip" Earshot.exe earshot-window.exe earshot-cli.exe)

echo "== macOS (headless)" >&2
# Each in a tarball as `earshot`: a browser's download of a bare binary
# loses its execute bit, an archive keeps it. darwincheck fails the release
# if one would not start on a Mac (an unsigned Apple silicon binary,
# a library a Mac lacks).
mac="$stage/darwin"
for arch in amd64 arm64; do
  mkdir -p "$mac/$arch"
  CGO_ENABLED=0 GOOS=darwin GOARCH=$arch go build -tags headless -trimpath -ldflags "$ldflags" -o "$mac/$arch/earshot" .
done
go run ./build/darwincheck "$mac/amd64/earshot" "$mac/arm64/earshot"
for arch in amd64 arm64; do
  tar -czf "$out/earshot-darwin-$arch.tar.gz" --owner=0 --group=0 -C "$mac/$arch" earshot
done

cd "$out"
rm -f earshot-darwin-amd64 earshot-darwin-arm64 # the bare binaries of earlier releases
sha256sum Earshot.tar.xz Earshot-windows-amd64.zip earshot-darwin-amd64.tar.gz earshot-darwin-arm64.tar.gz > SHA256SUMS
echo "Release set in build/out:"
cat SHA256SUMS
tar -tJf Earshot.tar.xz
unzip -l Earshot-windows-amd64.zip
tar -tvzf earshot-darwin-amd64.tar.gz
tar -tvzf earshot-darwin-arm64.tar.gz
