#!/usr/bin/env bash
# bench/fanout/run.sh - 1,000 WebSocket consoles, one small change every 20 ms:
# latency from commit to the LAST console, for liandong and, in the same run,
# for nats-server fanning the same message size out to the same number of
# WebSocket clients. See README.md.
#
# Environment: BUILD (build dir, default /work/main/build), CLIENTS (1000),
# COUNT (500), INTERVAL_MS (20), NATS_SERVER (nats-server).
# Exit: 0 PASS; 1 setup failure or delivery below 100%; 2 delivered but
# liandong's p99 is worse than nats-server's.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-$root/build}
clients=${CLIENTS:-1000}
count=${COUNT:-500}
interval=${INTERVAL_MS:-20}
nats=${NATS_SERVER:-nats-server}
liandong=$build/server/liandong
client=$build/bench/fanout/fanout_client
out=$build/bench-fanout

for f in "$liandong" "$client"; do
	[[ -x $f ]] || { echo "missing $f: build the project first" >&2; exit 1; }
done
command -v "$nats" >/dev/null || { echo "missing nats-server (apt-get install -y nats-server)" >&2; exit 1; }
command -v curl >/dev/null || { echo "missing curl" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/data" "$out/nats"
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap cleanup EXIT

# wait_log FILE REGEX: wait up to 10 s for a line matching REGEX in FILE.
wait_log() {
	for _ in $(seq 100); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "timed out waiting for /$2/ in $1:" >&2
	cat "$1" >&2
	return 1
}

# stop PID: SIGTERM, then wait for it.
stop() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# field FILE KEY: a value from the client's RESULT line.
field() {
	grep '^RESULT ' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

echo "== liandong: $clients consoles, $count changes every $interval ms"
# This bench measures fan-out, not intake: the one intake that seeds it needs no key.
"$liandong" serve --port 0 --data "$out/data" --console "$root/web-console/dist" \
	--set intake.auth=open --set http.max_conns_per_address=100000 2>"$out/liandong.log" &
ld_pid=$!
pids+=("$ld_pid")
wait_log "$out/liandong.log" 'msg="listening"'
port=$(grep -m1 'msg="listening"' "$out/liandong.log" | sed -n 's/.* port=\([0-9]*\).*/\1/p')
resp=$(curl -sf -X POST -H 'Content-Type: application/json' \
	-d '{"line":"119","ext_ref":"bench-fanout-1","category":"accident","priority":1,"title":"fanout bench","lon":113.32,"lat":23.13}' \
	"http://127.0.0.1:$port/api/v1/intake/json")
incident=$(sed -n 's/^{"incident":{"id":\([0-9]*\).*/\1/p' <<<"$resp")
[[ -n $incident ]] || { echo "cannot create the incident: $resp" >&2; exit 1; }
ld_rc=0
"$client" --target liandong --port "$port" --incident "$incident" --clients "$clients" \
	--count "$count" --interval-ms "$interval" | tee "$out/liandong.txt" || ld_rc=$?
stop "$ld_pid"
grep -q '^RESULT ' "$out/liandong.txt" || { echo "liandong run failed (exit $ld_rc)" >&2; exit 1; }
frame=$(field "$out/liandong.txt" frame_bytes)

echo "== nats-server: $clients WebSocket subscribers, $count messages of $frame bytes every $interval ms"
cat >"$out/nats/nats.conf" <<EOF
listen: "127.0.0.1:-1"
websocket {
  listen: "127.0.0.1:-1"
  no_tls: true
}
EOF
"$nats" -c "$out/nats/nats.conf" >"$out/nats/nats.log" 2>&1 &
nats_pid=$!
pids+=("$nats_pid")
wait_log "$out/nats/nats.log" 'Server is ready'
ws_port=$(sed -n 's/.*Listening for websocket clients on ws:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$out/nats/nats.log")
nats_port=$(sed -n 's/.*Listening for client connections on 127.0.0.1:\([0-9]*\).*/\1/p' "$out/nats/nats.log")
nats_version=$("$nats" --version | sed 's/^nats-server: //')
nats_rc=0
"$client" --target nats --port "$ws_port" --nats-port "$nats_port" --payload-bytes "$frame" \
	--clients "$clients" --count "$count" --interval-ms "$interval" | tee "$out/nats.txt" || nats_rc=$?
stop "$nats_pid"
grep -q '^RESULT ' "$out/nats.txt" || { echo "nats run failed (exit $nats_rc)" >&2; exit 1; }

row() {
	printf '%-28s %14s %14s\n' "$1" "$(field "$out/liandong.txt" "$2")$3" "$(field "$out/nats.txt" "$2")$3"
}
echo
echo "== fanout: $clients WebSocket clients, one ${frame}-byte change every $interval ms"
printf '%-28s %14s %14s\n' "" "liandong" "nats-server $nats_version"
row "messages" sent ""
row "delivered" delivered_pct " %"
row "last client, median" median_ms " ms"
row "last client, p99" p99_ms " ms"
row "last client, max" max_ms " ms"
row "first client, median" first_median_ms " ms"
printf '%-28s %14s %14s\n' "resyncs" "$(field "$out/liandong.txt" resyncs)" "n/a"
echo "(latency: liandong from committed_at, nats from the publisher's send time; CLOCK_REALTIME, one machine)"

ld_p99=$(field "$out/liandong.txt" p99_ms)
nats_p99=$(field "$out/nats.txt" p99_ms)
if [[ $ld_rc -ne 0 || $nats_rc -ne 0 ]]; then
	echo "FAIL: delivery below 100% (liandong exit $ld_rc, nats exit $nats_rc)"
	exit 1
fi
if awk -v a="$ld_p99" -v b="$nats_p99" 'BEGIN { exit !(a <= b) }'; then
	echo "PASS: 100% delivered; liandong p99 $ld_p99 ms <= nats-server p99 $nats_p99 ms"
	exit 0
fi
echo "FAIL: 100% delivered, but liandong p99 $ld_p99 ms > nats-server p99 $nats_p99 ms"
exit 2
