#!/usr/bin/env bash
# Builds Earshot's two programs side by side (earshot looks for its window
# program beside itself first):
#   earshot         the resident process: relay, listening core, player, tray,
#                   MPRIS, notifications; no Fyne, and no cgo on Linux
#   earshot-window  the windows (Fyne), started by earshot when one is opened
# into build/out, or the directory given as the first argument. Other
# arguments go to both `go build`s (e.g. -trimpath -ldflags="-s -w").
#
# earshot-window is built with -tags no_emoji: Fyne's bundled 4 MB colour
# emoji font is otherwise parsed once for every text style a window uses
# (regular, bold, italic), some 15 MB of heap; emoji in talkgroup names
# still show, through the system's fonts.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-build/out}"
shift || true
mkdir -p "$out"
# The resident links no C on Linux (a test holds its import graph free of
# Fyne; CGO_ENABLED=0 makes sure of the rest).
if [ "$(go env GOOS)" = linux ]; then
  CGO_ENABLED=0 go build "$@" -o "$out/earshot" .
else
  go build "$@" -o "$out/earshot" .
fi
go build "$@" -tags no_emoji -o "$out/earshot-window" ./ui/cmd/earshot-window
