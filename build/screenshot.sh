#!/usr/bin/env bash
# Starts Earshot in demo mode under Xvfb (with a throwaway keyring and
# configuration) and saves pictures of the window for the README:
# build/out/screenshot.png (a call playing), screenshot-history.png and
# screenshot-talkgroups.png, the window's ⋮ menu (screenshot-more.png), the
# window paused as calls arrive (screenshot-paused.png), and, when a tray
# host is installed
# (xfce4-panel; build/deps.sh does not install it), screenshot-tray.png: the
# tray menu as the panel draws it from Earshot's D-Bus menu.
#
# Sound goes to a PulseAudio null sink (build/deps.sh installs pulseaudio;
# oto speaks its protocol directly), which plays in real time, so the picture
# catches a call mid-way: ALSA's null device would swallow a call at once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash build/deps.sh
mkdir -p build/out
build/build.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A panel of one status tray at the bottom of the screen, clear of the
# window (640×560 at the top left), for the tray picture.
mkdir -p "$work/xdg/xfce4/xfconf/xfce-perchannel-xml"
cat > "$work/xdg/xfce4/xfconf/xfce-perchannel-xml/xfce4-panel.xml" <<'PANEL'
<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=8;x=512;y=624"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="32"/>
      <property name="plugin-ids" type="array">
        <value type="int" value="1"/>
        <value type="int" value="2"/>
      </property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="separator">
      <property name="expand" type="bool" value="true"/>
      <property name="style" type="uint" value="0"/>
    </property>
    <property name="plugin-2" type="string" value="systray">
      <property name="icon-size" type="int" value="22"/>
    </property>
  </property>
</channel>
PANEL
xfconfd=/usr/lib/x86_64-linux-gnu/xfce4/xfconf/xfconfd

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
has_owner() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:"\$1" 2>/dev/null | grep -q true
}
tray=0
if command -v xfce4-panel >/dev/null && [ -x "$xfconfd" ]; then
  # xfconfd is started by hand so that it reads this panel's settings.
  XDG_CONFIG_HOME="$work/xdg" "$xfconfd" >"$work/xfconfd.log" 2>&1 &
  pids+=(\$!)
  XDG_CONFIG_HOME="$work/xdg" xfce4-panel >"$work/panel.log" 2>&1 &
  pids+=(\$!)
  for _ in \$(seq 1 100); do has_owner org.kde.StatusNotifierWatcher && { tray=1; break; }; sleep 0.2; done
fi
build/out/earshot --demo --listen 127.0.0.1:0 >"$work/earshot.log" 2>&1 &
app=\$!
pids+=(\$app)
if [ \$tray = 1 ]; then
  # With a tray host the window starts hidden in the tray; raise it (MPRIS).
  for _ in \$(seq 1 100); do has_owner org.mpris.MediaPlayer2.earshot && break; sleep 0.1; done
  dbus-send --session --type=method_call --dest=org.mpris.MediaPlayer2.earshot /org/mpris/MediaPlayer2 \
    org.mpris.MediaPlayer2.Raise
fi
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
if [ \$tray = 1 ]; then
  # The tray icon sits at the right end of the panel; a click opens its
  # menu. The pointer then moves off the icon, so its tooltip does not
  # cover the menu.
  xdotool mousemove 1012 624 click 1
  sleep 1
  xdotool mousemove 300 600
  sleep 1
  import -window root -crop 400x440+624+200 +repage build/out/screenshot-tray.png
  xdotool key Escape
fi
# The window's ⋮ menu (what the tray offers besides playback, reachable
# without a tray).
xdotool mousemove 80 66 click 1
sleep 0.5
xdotool mousemove 614 110 click 1
sleep 1
import -window root -crop 640x400+0+0 +repage build/out/screenshot-more.png
xdotool key Escape
# Paused, as the next call arrives: the window says paused, never live.
dbus-send --session --type=method_call --dest=org.mpris.MediaPlayer2.earshot /org/mpris/MediaPlayer2 \
  org.mpris.MediaPlayer2.Player.Pause
sleep "\${SCREENSHOT_PAUSED_WAIT:-10}"
xdotool mousemove 300 600
import -window root build/out/screenshot-paused.png
kill \$app; wait \$app || true
INSIDE
chmod +x "$work/inside.sh"
build/with-keyring.sh "$work/inside.sh"
echo "Saved build/out/screenshot.png, screenshot-history.png, screenshot-talkgroups.png, screenshot-more.png, screenshot-paused.png"
if [ -e build/out/screenshot-tray.png ] && [ build/out/screenshot-tray.png -nt "$work/inside.sh" ]; then
  echo "Saved build/out/screenshot-tray.png"
else
  echo "No tray picture: install xfce4-panel for one (apt-get install --no-install-recommends xfce4-panel)"
fi
