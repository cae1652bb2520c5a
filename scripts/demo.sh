#!/usr/bin/env bash
# Quick start, part 1: install, build, and run the demo on http://127.0.0.1:8080
# with the embedded SQLite under ./data:
#   - `liandong demo`: a few reports at once, then simulated dispatchers moving
#     incidents through their statuses and reports arriving in-process;
#   - `liandong-sim`: the four lines' own forms (110/119/120/122) posted through
#     real gateways with their own keys, as agency systems would;
#   - console users (a dispatcher per line, supervisor, leader, admin) with
#     random passwords, printed at start and kept in data/demo-users.txt;
#   - `liandong-rtsp-source`: a local RTSP server (test pattern and tone)
#     playing the provincial video conference, configured as the conference
#     "省应急指挥视频会商" (media.conferences); watch it at
#     /conference-test.html?conference=1 once signed in.
# Stop with Ctrl-C (a clean shutdown of both).
#   PORT=9000 LISTEN=0.0.0.0 SIM_RATE=0.5 TLS=1 scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
PORT="${PORT:-8080}"
LISTEN="${LISTEN:-127.0.0.1}"
SIM_RATE="${SIM_RATE:-0.2}"
BIN=build/server/liandong
mkdir -p data
# Guangzhou's 11 districts (fetched by setup, GCJ-02); re-importing replaces them.
"$BIN" import jurisdictions gis/data/guangzhou.geojson --crs gcj02 --data ./data

# One gateway key per line, created once; the tokens (shown only at creation)
# are kept in data/demo-gateways.txt, readable by this user only.
tokens=data/demo-gateways.txt
if [ ! -s "$tokens" ]; then
  umask 077
  : > "$tokens.tmp"
  for line in 110 119 120 122; do
    out=$("$BIN" gateway add "demo-$line" --adapter "line$line" --lines "$line" --data ./data)
    token=$(printf '%s' "$out" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
    echo "$line=$token" >> "$tokens.tmp"
  done
  mv "$tokens.tmp" "$tokens"
fi

# Console users, created once with random passwords, kept in data/demo-users.txt
# (readable by this user only): one dispatcher per line, a supervisor, a
# leader and an administrator.
users=data/demo-users.txt
if [ ! -s "$users" ]; then
  umask 077
  : > "$users.tmp"
  add_user() { # name role [agency]
    pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | head -c 16)
    LIANDONG_PASSWORD="$pw" "$BIN" user add "$1" --role "$2" ${3:+--agency "$3"} --data ./data >/dev/null
    echo "$1 $pw" >> "$users.tmp"
  }
  for line in 110 119 120 122; do add_user "d$line" dispatcher "$line"; done
  add_user supervisor supervisor
  add_user leader leader
  add_user admin admin
  mv "$users.tmp" "$users"
fi

# TLS=1: HTTPS (and WSS) with a self-signed certificate made once for this machine;
# browsers warn about it once. Production takes a real certificate (tls.cert,
# tls.key). liandong-sim speaks plain HTTP only, so with TLS=1 the in-process
# demo traffic runs without it.
tls_args=()
scheme=http
if [ "${TLS:-0}" = 1 ]; then
  mkdir -p data/tls
  if [ ! -s data/tls/cert.pem ]; then
    (umask 077; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout data/tls/key.pem -out data/tls/cert.pem -days 825 -subj "/CN=liandong-demo" \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:${LISTEN}" 2>/dev/null)
  fi
  tls_args=(--set tls.cert=./data/tls/cert.pem --set tls.key=./data/tls/key.pem)
  scheme=https
fi

# The provincial conference, played locally (RTSP_PORT, default 8554).
RTSP_PORT="${RTSP_PORT:-8554}"
build/media/liandong-rtsp-source --port "$RTSP_PORT" --size 1280x720 --fps 30 &
rtsp=$!

"$BIN" demo --listen "$LISTEN" --port "$PORT" --data ./data --console ./web-console/dist \
	--set dispatch.plans=./server/plans.conf "${tls_args[@]}" \
	--set "media.conferences=省应急指挥视频会商=rtsp://127.0.0.1:$RTSP_PORT/conf" &
server=$!
trap 'kill -TERM "$server" 2>/dev/null; kill -TERM "${sim:-}" "$rtsp" 2>/dev/null; wait' INT TERM
for _ in $(seq 50); do
  curl -kfs "$scheme://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
echo "==> liandong demo: open ${scheme}://${LISTEN}:${PORT}/ and sign in as one of (name password):"
sed 's/^/      /' "$users"
if [ "$scheme" = http ]; then
  build/gateways/sim/liandong-sim --url "http://127.0.0.1:$PORT" --rate "$SIM_RATE" \
    --duration 86400 --token-file "$tokens" --quiet &
  sim=$!
fi
wait "$server"
kill -TERM "${sim:-}" "$rtsp" 2>/dev/null || true
