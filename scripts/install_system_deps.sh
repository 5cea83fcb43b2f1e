#!/usr/bin/env bash
# Install the Debian/Ubuntu packages vinylmon needs, only those that are missing.
#   scripts/install_system_deps.sh run    # running the monitor: PortAudio, Qt's xcb libraries
#   scripts/install_system_deps.sh test   # also the test rig: PulseAudio, ALSA pulse plugin, Xvfb
# Cheap when nothing is missing (one dpkg-query), so `make` calls it every time.
set -euo pipefail

run_pkgs=(libportaudio2 libsndfile1 libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0
          libxkbcommon-x11-0 libegl1 libgl1 libxcb-image0 libxcb-render-util0 libxcb-shape0
          libxcb-randr0 libxcb-xkb1 libxcb-xinerama0 libfontconfig1 libdbus-1-3)
test_pkgs=(pulseaudio pulseaudio-utils libasound2-plugins xvfb xauth
           chromium chromium-driver)  # headless Chromium: the tests of vinylmon serve's page

want=("${run_pkgs[@]}")
[[ "${1:-run}" == test ]] && want+=("${test_pkgs[@]}")

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install_system_deps: not a Debian/Ubuntu system; make sure these are installed:" >&2
    echo "  ${want[*]}" >&2
    exit 0
fi

# python3 -m venv needs ensurepip, which Debian ships separately.
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    want+=("python3-venv")
fi

missing=()
for p in "${want[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ "$status" == installed ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "Installing system packages: ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "install_system_deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
