#!/usr/bin/env bash
# bench/media/run.sh - CPU and memory of the liandong process per WebRTC viewer
# for STEPS (1,2,5,10,20) headless Chromium viewers of one SIZE (1280x720) FPS
# (30) H.264 stream from liandong-rtsp-source, SAMPLE (10) seconds per step.
# Heavy (up to 20 Chromium pages decoding 720p): run it on a quiet machine.
#   STEPS=1,2,5,10,20 SIZE=1280x720 FPS=30 SAMPLE=10 BUILD=<repo>/build bench/media/run.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
export ROOT=$root BUILD=${BUILD:-$root/build}
[[ -x $BUILD/server/liandong && -x $BUILD/media/liandong-rtsp-source ]] || { echo "bench/media: build first" >&2; exit 2; }
[[ -d $root/tests/node_modules/playwright-core ]] || { echo "bench/media: run scripts/setup.sh" >&2; exit 2; }
exec node "$here/viewers.mjs"
