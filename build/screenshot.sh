#!/usr/bin/env bash
# Starts Earshot in demo mode under Xvfb (with a throwaway keyring and
# configuration) and saves pictures of the window for the README:
# build/out/screenshot.png (a call playing), screenshot-history.png and
# screenshot-talkgroups.png.
#
# Sound goes to a PulseAudio null sink (build/deps.sh installs pulseaudio;
# oto speaks its protocol directly), which plays in real time, so the picture
# catches a call mid-way: ALSA's null device would swallow a call at once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash build/deps.sh
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
export XDG_RUNTIME_DIR="$work/run"
mkdir -p "\$XDG_RUNTIME_DIR"; chmod 700 "\$XDG_RUNTIME_DIR"
HOME="$work" pulseaudio -n --daemonize=no --exit-idle-time=-1 --disallow-exit --use-pid-file=no \
  -L module-null-sink -L "module-native-protocol-unix auth-anonymous=1" >"$work/pulse.log" 2>&1 &
pids+=(\$!)
for _ in \$(seq 1 50); do [ -S "\$XDG_RUNTIME_DIR/pulse/native" ] && break; sleep 0.1; done
# Should PulseAudio fail, oto falls back to ALSA: its null device.
printf 'pcm.!default { type null }\n' > "$work/asound.conf"
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
sleep 0.3
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
