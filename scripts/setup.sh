#!/usr/bin/env bash
# Install everything Liandong needs on Debian 12 (as root), then build.
# Safe to run again: apt and npm skip what is already there.
#   scripts/setup.sh            build/ (release with debug info)
#   scripts/setup.sh --asan     also build-asan/ (AddressSanitizer + UBSan)
#   scripts/setup.sh --fuzz     also build-fuzz/ (clang + libFuzzer harnesses)
set -euo pipefail
cd "$(dirname "$0")/.."

want_asan=0 want_fuzz=0
for a in "$@"; do
  case "$a" in
    --asan) want_asan=1 ;;
    --fuzz) want_fuzz=1 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(
  build-essential cmake pkg-config git ca-certificates curl procps
  libuv1-dev libwebsockets-dev libwebsockets-evlib-uv libjansson-dev libssl-dev
  libsqlite3-dev sqlite3 libcmocka-dev libxml2-dev libsodium-dev libproj-dev proj-bin libjemalloc-dev
  # the conference bridge (media/): GStreamer 1.22 with webrtcbin, the RTSP server
  # library for the local test source, x264/Opus for it, libnice for ICE,
  # rtspclientsink (gstreamer1.0-rtsp) for a return feed over RTSP record, and the
  # tools the tests use (gst-launch-1.0; gst-discoverer-1.0 is in plugins-base-apps)
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  libgstrtspserver-1.0-dev gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-nice gstreamer1.0-tools
  gstreamer1.0-libav gstreamer1.0-plugins-base-apps gstreamer1.0-rtsp
  # browser tests (playwright-core drives Debian's chromium) and Chinese labels
  chromium fonts-wqy-microhei
  # benchmark peers and load generators (bench/); janus: the WebRTC peer of bench/media
  wrk nats-server openssl janus
)
if [ "$want_fuzz" = 1 ]; then packages+=(clang-14 libclang-rt-14-dev); fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

export DEBIAN_FRONTEND=noninteractive
echo "==> apt-get update"
$SUDO apt-get update -qq
echo "==> apt-get install ${packages[*]}"
$SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

echo "==> npm ci (tests/)"
(cd tests && npm ci --no-audit --no-fund --loglevel=error)
echo "==> npm ci and build (web-console/ -> web-console/dist/, served at /)"
(cd web-console && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
echo "==> npm ci (gis/data/: boundaries of China and Guangzhou, not committed)"
(cd gis/data && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && node prepare.mjs)

jobs=$(nproc)
echo "==> build (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
if [ "$want_asan" = 1 ]; then
  echo "==> build with ASan+UBSan (build-asan/)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLIANDONG_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs"
fi
if [ "$want_fuzz" = 1 ]; then
  echo "==> build fuzz harnesses with clang (build-fuzz/)"
  CC=clang-14 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DLIANDONG_FUZZ=ON \
    -DLIANDONG_TESTS=OFF >/dev/null
  cmake --build build-fuzz -j"$jobs" --target fuzzers
fi
echo "==> setup done"
