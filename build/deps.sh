#!/usr/bin/env bash
# Installs the Debian packages Earshot needs to build, run and test:
# Fyne's cgo build (GL, X11, Wayland headers), ALSA (libasound, which oto
# loads at run time when no sound server answers) and PulseAudio (oto's first
# choice; the tests play through a real one and through ALSA's null device),
# a real Secret Service (gnome-keyring) on a private D-Bus, Xvfb for the UI
# (and xclip, the clipboard program Earshot hands copies to on X11),
# ffmpeg for M4A/AAC decoding, Chromium for the web-player browser test, and
# MinGW-w64 for cross-building the Windows GUI binary (Fyne's GLFW is cgo)
# and compiling the Windows programs' resources (windres, build/winres),
# zip for the Windows release, and desktop-file-validate for the autostart test.
# Safe to run again: it installs only what is missing.
set -euo pipefail

packages=(
  gcc pkg-config
  libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev
  libxxf86vm-dev libwayland-dev libxkbcommon-dev wayland-protocols
  libasound2-dev alsa-utils pulseaudio
  gnome-keyring libsecret-tools dbus dbus-x11
  xvfb xauth imagemagick xdotool xclip
  ffmpeg espeak-ng
  chromium
  gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 zip desktop-file-utils
  curl ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "Installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
