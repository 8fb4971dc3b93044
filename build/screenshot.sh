#!/usr/bin/env bash
# Starts Earshot under Xvfb (with a throwaway keyring and configuration),
# signed in to the demo's made-up traffic served by a separate process
# (build/demoserver, a public-access OpenScanner server on a loopback port,
# which the script can take down), and saves pictures of the window in each
# state, cropped to the window, into assets/screenshots/ (build/out/ keeps
# nothing else):
#   window.png               a call playing (with its transcript when it has one)
#   window-between-calls.png waiting for the next call (the last call shown)
#   window-paused.png        paused as calls arrive (the window says paused, never live)
#   window-held.png          a talkgroup held
#   window-avoided.png       a talkgroup avoided for an hour
#   window-server-down.png   the server down (Earshot keeps trying)
#   window-search.png        the Search tab: calls whose transcript says "engine"
#   window-history.png, window-talkgroups.png, window-more.png (the ⋮ menu),
#   window-alerts.png        the Alerts tab with a rule made by `earshot alert add`
#   window-rule.png          that rule's dialog
#   window-settings.png      the Settings tab
#   window-tokens.png        Manage tokens…
#   tray-menu.png            the tray menu as a panel draws it from Earshot's
#                            D-Bus menu, when xfce4-panel is installed
#                            (build/deps.sh does not install it)
# Look at every picture it makes: it clicks at fixed places in the window.
#
# Sound goes to a PulseAudio null sink (build/deps.sh installs pulseaudio;
# oto speaks its protocol directly), which plays in real time, so the picture
# catches a call mid-way: ALSA's null device would swallow a call at once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash build/deps.sh
mkdir -p build/out assets/screenshots
build/build.sh
go build -o build/out/demoserver ./build/demoserver

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
export EARSHOT_CONFIG_DIR="$work/config" EARSHOT_CACHE_DIR="$work/cache" EARSHOT_DATA_DIR="$work/data" LANG=en_US.UTF-8
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
# The scanner server, in a process of its own, and Earshot signed in to it.
build/out/demoserver >"$work/server.url" 2>"$work/server.log" &
server=\$!
pids+=(\$server)
for _ in \$(seq 1 100); do [ -s "$work/server.url" ] && break; sleep 0.1; done
build/out/earshot login --server "\$(head -1 "$work/server.url")" >"$work/login.log" 2>&1
build/out/earshot --listen 127.0.0.1:0 >"$work/earshot.log" 2>&1 &
app=\$!
pids+=(\$app)
for _ in \$(seq 1 100); do has_owner org.mpris.MediaPlayer2.earshot && break; sleep 0.1; done
mpris() {
  dbus-send --session --type=method_call --dest=org.mpris.MediaPlayer2.earshot /org/mpris/MediaPlayer2 "\$@"
}
# With a tray host the window starts hidden in the tray; raise it (MPRIS).
[ \$tray = 0 ] || mpris org.mpris.MediaPlayer2.Raise
wid=""
for _ in \$(seq 1 100); do
  wid=\$(xdotool search --onlyvisible --name '^Earshot\$' 2>/dev/null | head -1 || true)
  [ -n "\$wid" ] && break
  sleep 0.2
done
[ -n "\$wid" ] || { echo "the Earshot window did not show" >&2; cat "$work/earshot.log" >&2; exit 1; }
# shot saves the window (and what pops up over it) as assets/screenshots/\$1.
shot() {
  xdotool mousemove 1000 600 # the pointer off the window: no hover
  sleep 0.4
  import -window "\$wid" "assets/screenshots/\$1.png"
}
# click clicks at x y in the window.
click() { xdotool mousemove --window "\$wid" "\$1" "\$2" click 1; sleep 0.6; }
key() { xdotool key --window "\$wid" "\$1"; sleep 0.6; }
status() {
  dbus-send --session --print-reply --dest=org.mpris.MediaPlayer2.earshot /org/mpris/MediaPlayer2 \
    org.freedesktop.DBus.Properties.Get string:org.mpris.MediaPlayer2.Player string:PlaybackStatus 2>/dev/null |
    grep -o '"[A-Za-z]*"' || true
}
# until_status waits (up to a minute) for the player's MPRIS status.
until_status() {
  for _ in \$(seq 1 300); do [ "\$(status)" = "\"\$1\"" ] && return 0; sleep 0.2; done
  echo "the player never said \$1" >&2
}
# The window's tabs (640 px wide, signed in: no banner above them).
tab_now() { click 70 22; }
tab_history() { click 182 22; }
tab_search() { click 275 22; }
tab_talkgroups() { click 380 22; }
tab_alerts() { click 484 22; }
tab_settings() { click 577 22; }

sleep "\${SCREENSHOT_WAIT:-6}"
# A call playing, with its transcript if it has one.
# The demo's calls last 1 to 3 s: a picture taken as one ended showed
# "Waiting for the next call…" instead; it is taken again until the player
# says Playing after the picture too.
for _ in \$(seq 1 10); do
  until_status Stopped; until_status Playing; sleep 0.3
  shot window
  [ "\$(status)" = '"Playing"' ] && break
done
# Between calls: the last call stays on show, Hold and Avoid act on it.
# Taken again (as above) until the player still says Stopped after it.
for _ in \$(seq 1 10); do
  until_status Stopped; sleep 0.3
  shot window-between-calls
  [ "\$(status)" = '"Stopped"' ] && break
done
# Held: H while a call plays holds its talkgroup; H again releases it.
until_status Playing; key h
shot window-held
key h
# Avoided for an hour: A skips the call and avoids its talkgroup; Lift
# avoids (in the holds row) lifts it afterwards.
until_status Stopped; until_status Playing; key a
shot window-avoided
click 455 380
# Paused as the next calls arrive.
until_status Playing
mpris org.mpris.MediaPlayer2.Player.Pause
sleep "\${SCREENSHOT_PAUSED_WAIT:-9}"
shot window-paused
mpris org.mpris.MediaPlayer2.Player.Play
# The history, the talkgroups.
tab_history
shot window-history
tab_talkgroups
shot window-talkgroups
# A search of the transcripts.
tab_search
click 280 101
xdotool type --delay 40 engine; key Return; sleep 1.5
shot window-search
# The server down: Earshot says so and keeps trying.
tab_now
kill -USR1 \$server
until_status Stopped; sleep 2
shot window-server-down
kill -USR2 \$server
until_status Playing
# Alerts: a rule made on the command line shows in the window within a
# second; its dialog; then the Settings tab.
build/out/earshot alert add --name Mayday --words "mayday, firefighter down" --priority --tone >"$work/alert.log" 2>&1
build/out/earshot alert add --name "Engine companies" --regex 'engine \\d+' --bump >>"$work/alert.log" 2>&1
sleep 2
tab_alerts
shot window-alerts
click 300 200
shot window-rule
click 493 507 # Cancel
tab_settings
shot window-settings
tab_now
if [ \$tray = 1 ]; then
  # The tray icon sits at the right end of the panel; a click opens its
  # menu. The pointer then moves off the icon, so its tooltip does not
  # cover the menu.
  xdotool mousemove 1012 624 click 1
  sleep 1
  xdotool mousemove 300 600
  sleep 1
  import -window root -crop 300x380+724+260 +repage assets/screenshots/tray-menu.png
  xdotool key Escape
fi
# The ⋮ menu (what the tray offers besides playback, reachable without a
# tray), then Manage tokens… from it; a token made by the CLI meanwhile
# shows up in it at once (it follows the registry).
click 614 66
shot window-more
click 540 140
twid=""
for _ in \$(seq 1 50); do
  twid=\$(xdotool search --onlyvisible --name 'stream tokens' 2>/dev/null | head -1 || true)
  [ -n "\$twid" ] && break
  sleep 0.2
done
if [ -n "\$twid" ]; then
  build/out/earshot token create --name "OBS (studio)" >"$work/token.log" 2>&1
  sleep 2
  import -window "\$twid" assets/screenshots/window-tokens.png
else
  echo "Manage tokens… did not open: no window-tokens.png" >&2
fi
kill \$app; wait \$app || true
INSIDE
chmod +x "$work/inside.sh"
build/with-keyring.sh "$work/inside.sh"
echo "Saved the window's pictures in assets/screenshots/ (look at each)."
if [ ! -e assets/screenshots/tray-menu.png ] || [ assets/screenshots/tray-menu.png -ot "$work/inside.sh" ]; then
  echo "No new tray picture: install xfce4-panel for one (apt-get install --no-install-recommends xfce4-panel)"
fi
