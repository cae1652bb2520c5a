#!/usr/bin/env bash
# bench/media/run.sh - CPU and memory per WebRTC viewer and glass-to-glass
# latency of liandong beside Debian's janus streaming plugin, both fed the same
# RTSP stream from liandong-rtsp-source (SIZE 1280x720, FPS 30, a flash every
# FLASH 1000 ms), for STEPS (1,2,5,10,20) headless Chromium viewers of each,
# SAMPLE (20) seconds per step. See README.md.
# Heavy (up to 20 Chromium pages decoding 720p): run it on a quiet machine.
#   STEPS=1,2,5,10,20 SIZE=1280x720 FPS=30 SAMPLE=20 FLASH=1000 BUILD=<repo>/build bench/media/run.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
export ROOT=$root BUILD=${BUILD:-$root/build}
[[ -x $BUILD/server/liandong && -x $BUILD/media/liandong-rtsp-source ]] || { echo "bench/media: build first" >&2; exit 2; }
[[ -d $root/tests/node_modules/playwright-core ]] || { echo "bench/media: run scripts/setup.sh" >&2; exit 2; }
command -v "${JANUS:-janus}" >/dev/null || { echo "bench/media: janus is not installed (scripts/setup.sh)" >&2; exit 2; }
exec node "$here/viewers.mjs"
