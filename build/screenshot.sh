#!/usr/bin/env bash
# Starts Earshot in demo mode under Xvfb (with ALSA's null device as the
# sound card and a throwaway keyring) and saves a screenshot of the window
# to build/out/screenshot.png, for the README.
set -euo pipefail
cd "$(dirname "$0")/.."
bash build/deps.sh
mkdir -p build/out
go build -o build/out/earshot .

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/asound.conf" <<'ALSA'
pcm.!default { type null }
ctl.!default { type hw card 0 }
ALSA

cat > "$work/inside.sh" <<INSIDE
#!/usr/bin/env bash
set -euo pipefail
export EARSHOT_CONFIG_DIR="$work/config" EARSHOT_CACHE_DIR="$work/cache"
export ALSA_CONFIG_PATH="$work/asound.conf" LANG=en_US.UTF-8
Xvfb :87 -screen 0 1024x640x24 >/dev/null 2>&1 &
xvfb=\$!
export DISPLAY=:87
sleep 1
build/out/earshot --demo --listen 127.0.0.1:0 >"$work/earshot.log" 2>&1 &
app=\$!
# Let a few demo calls arrive.
sleep "\${SCREENSHOT_WAIT:-12}"
import -window root build/out/screenshot.png
# The history tab, for a second picture.
xdotool mousemove 145 21 click 1
sleep 1
import -window root build/out/screenshot-history.png
kill \$app; wait \$app || true
kill \$xvfb
INSIDE
chmod +x "$work/inside.sh"
build/with-keyring.sh "$work/inside.sh"
echo "Saved build/out/screenshot.png"
