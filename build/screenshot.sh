#!/usr/bin/env bash
# Starts Earshot in demo mode under Xvfb (with a throwaway keyring and
# configuration) and saves pictures of the window for the README:
# build/out/screenshot.png (a call playing), screenshot-history.png and
# screenshot-talkgroups.png.
#
# Sound goes to a PulseAudio null sink, which plays in real time, so the
# picture catches a call mid-way (ALSA's null device swallows a call at
# once). Without PulseAudio it falls back to ALSA's null device.
set -euo pipefail
cd "$(dirname "$0")/.."
bash build/deps.sh
if ! command -v pulseaudio >/dev/null || [ ! -e /usr/lib/x86_64-linux-gnu/alsa-lib/libasound_module_pcm_pulse.so ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "Installing pulseaudio and the ALSA pulse plugin (a real-time null sink)…" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends pulseaudio libasound2-plugins >/dev/null || true
fi
mkdir -p build/out
go build -o build/out/earshot .

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/inside.sh" <<INSIDE
#!/usr/bin/env bash
set -euo pipefail
export EARSHOT_CONFIG_DIR="$work/config" EARSHOT_CACHE_DIR="$work/cache" LANG=en_US.UTF-8
pids=()
trap 'kill \${pids[@]} 2>/dev/null || true' EXIT
if command -v pulseaudio >/dev/null; then
  export XDG_RUNTIME_DIR="$work/run" PULSE_COOKIE="$work/pulse-cookie"
  mkdir -p "\$XDG_RUNTIME_DIR"; chmod 700 "\$XDG_RUNTIME_DIR"
  HOME="$work" pulseaudio -n --daemonize=no --exit-idle-time=-1 --disallow-exit \
    -L module-null-sink -L module-native-protocol-unix >"$work/pulse.log" 2>&1 &
  pids+=(\$!)
  printf 'pcm.!default { type pulse }\nctl.!default { type pulse }\n' > "$work/asound.conf"
  for _ in \$(seq 1 50); do [ -S "\$XDG_RUNTIME_DIR/pulse/native" ] && break; sleep 0.1; done
else
  printf 'pcm.!default { type null }\nctl.!default { type hw card 0 }\n' > "$work/asound.conf"
fi
export ALSA_CONFIG_PATH="$work/asound.conf"
# Xvfb picks a free display number itself and writes it to fd 3, so a
# stale socket left by a killed X server cannot get in the way.
Xvfb -displayfd 3 -screen 0 1024x640x24 3>"$work/display" >/dev/null 2>&1 &
pids+=(\$!)
for _ in \$(seq 1 100); do [ -s "$work/display" ] && break; sleep 0.1; done
export DISPLAY=":\$(tr -d '[:space:]' <"$work/display")"
[ "\$DISPLAY" != ":" ] || { echo "Xvfb did not start" >&2; exit 1; }
build/out/earshot --demo --listen 127.0.0.1:0 >"$work/earshot.log" 2>&1 &
app=\$!
pids+=(\$app)
# Let a few demo calls arrive, then wait (through MPRIS, on this private
# session bus) until one is playing, so the picture shows a call.
sleep "\${SCREENSHOT_WAIT:-8}"
status() {
  dbus-send --session --print-reply --dest=org.mpris.MediaPlayer2.earshot /org/mpris/MediaPlayer2 \
    org.freedesktop.DBus.Properties.Get string:org.mpris.MediaPlayer2.Player string:PlaybackStatus 2>/dev/null |
    grep -o '"[A-Za-z]*"' || true
}
for _ in \$(seq 1 300); do
  [ "\$(status)" = '"Playing"' ] && break
  sleep 0.2
done
sleep 1.2
import -window root build/out/screenshot.png
# The history and talkgroup tabs, for more pictures (the tabs sit under
# the one-line demo-server banner).
xdotool mousemove 180 66 click 1
sleep 1
import -window root build/out/screenshot-history.png
xdotool mousemove 290 66 click 1
sleep 1
import -window root build/out/screenshot-talkgroups.png
kill \$app; wait \$app || true
INSIDE
chmod +x "$work/inside.sh"
build/with-keyring.sh "$work/inside.sh"
echo "Saved build/out/screenshot.png, screenshot-history.png, screenshot-talkgroups.png"
