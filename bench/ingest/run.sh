#!/usr/bin/env bash
# bench/ingest/run.sh - durable acknowledgements per second over HTTP, beside
# the raw fdatasync() rate of the same disk, measured in the same run.
#
# Starts `liandong serve` on a free port with a fresh data folder, measures
# write(4 KiB)+fdatasync() per second in that folder (fsync_probe, while the
# server is idle), loads POST /api/v1/intake/json with wrk + intake.lua
# (every ext_ref unique, so every 201 is a committed insert), scrapes /metrics
# before and after, stops the server with SIGTERM and prints the figures.
#
# Environment (all optional):
#   DURATION=10       seconds of load; the fdatasync probe runs DURATION/2 s
#                     before and again after it
#   CONNECTIONS=64    concurrent HTTP connections (try 256 too)
#   THREADS=2         wrk threads (capped at CONNECTIONS)
#   TARGET=5          pass when acks/s >= TARGET x raw fdatasync/s
#   SPOT=city         city: reports spread over central Guangzhou; hotspot: all at
#                     one spot (the worst case for the likely-duplicate search)
#   BUILD=<repo>/build                 where server/liandong and bench/ingest/fsync_probe are
#   DATA=<repo>/build/bench-ingest     parent folder; a fresh run.XXXXXX folder is made in it
#                                      (keep it on the disk you want to measure)
#   CONSOLE=<repo>/web-console/dist
#   KEEP=0            1 keeps the run folder (database, server log) afterwards
#
# Exit status: 0 pass; 1 the server failed, a response was not 201, or the
# target was missed (the figures are printed anyway); 2 usage/setup error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
TARGET=${TARGET:-5}
BUILD=${BUILD:-$root/build}
DATA=${DATA:-$root/build/bench-ingest}
CONSOLE=${CONSOLE:-$root/web-console/dist}
KEEP=${KEEP:-0}
SPOT=${SPOT:-city}

die() { echo "bench/ingest: $*" >&2; exit 2; }

[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a whole number of seconds"
[[ $CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive number"
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive number"
[[ $SPOT == city || $SPOT == hotspot ]] || die "SPOT must be city or hotspot"
[[ $TARGET =~ ^[0-9]+([.][0-9]+)?$ ]] || die "TARGET must be a number"
if ((THREADS > CONNECTIONS)); then THREADS=$CONNECTIONS; fi

server=$BUILD/server/liandong
probe=$BUILD/bench/ingest/fsync_probe
[[ -x $server ]] || die "no server at $server (build first: cmake -S $root -B $BUILD && cmake --build $BUILD)"
[[ -x $probe ]] || die "no fsync_probe at $probe (build first)"
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v curl >/dev/null || die "curl not found"
[[ -d $CONSOLE ]] || die "no web console at $CONSOLE"

mkdir -p "$DATA"
run=$(mktemp -d "$DATA/run.XXXXXX")
run=$(cd "$run" && pwd -P)
log=$run/server.log
pid=

cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [[ $KEEP == 1 ]]; then
		echo "bench/ingest: run folder kept: $run" >&2
	else
		rm -rf "$run"
	fi
}
trap cleanup EXIT

fail_server() {
	echo "bench/ingest: the server failed: $*" >&2
	echo "--- last lines of $log ---" >&2
	tail -n 20 "$log" >&2 || true
	KEEP=1
	exit 1
}

# --- a gateway key, then the server on a free port ---------------------------------
# Intake is measured as agencies use it: authenticated with a gateway key.
token=$("$server" gateway add bench --adapter json --rate 1000000 --burst 1000000 \
	--data "$run/db" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[[ -n $token ]] || die "could not create a gateway key"
"$server" serve --port 0 --data "$run/db" --console "$CONSOLE" \
	--set http.max_conns_per_address=100000 2>"$log" &
pid=$!
port=
for _ in $(seq 1 100); do
	port=$(sed -n 's/.*msg="listening".* port=\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
	[[ -n $port ]] && break
	kill -0 "$pid" 2>/dev/null || fail_server "exited before listening"
	sleep 0.1
done
[[ -n $port ]] || fail_server "no \"listening\" line within 10 s"
url=http://127.0.0.1:$port

# metric NAME FILE: the value of one sample line (exact name, labels included),
# or nothing when the line is missing.
metric() {
	awk -v n="$1" '$1 == n { printf "%.0f\n", $2; exit }' "$2"
}
scrape() {
	curl -fsS -m 5 "$url/metrics" >"$1" || fail_server "GET /metrics failed"
}

# --- raw fdatasync rate of the same folder, with the server idle --------------
# Measured twice, before and after the load (the disk is shared and its rate
# drifts); the ratio is taken against the higher of the two.
probe_secs=$(((DURATION + 1) / 2))
probe_rate() {
	local out rate
	out=$("$probe" "$run/db" "$probe_secs") || fail_server "fsync_probe failed"
	rate=$(sed -n 's/^fdatasync_per_sec=\([0-9.]*\).*/\1/p' <<<"$out")
	[[ -n $rate ]] || die "cannot read fsync_probe output: $out"
	echo "$rate"
}
raw_before=$(probe_rate)

# --- load ----------------------------------------------------------------------
scrape "$run/metrics.before"
set +e
wrk_out=$(cd "$here" && wrk -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --timeout 10s \
	-s intake.lua "$url" -- "ingest-$$-$(date +%s)" "$token" "$SPOT" 2>&1)
wrk_rc=$?
set -e
kill -0 "$pid" 2>/dev/null || fail_server "died during the load"
scrape "$run/metrics.after"
raw_after=$(probe_rate)
if ((wrk_rc != 0)); then
	echo "$wrk_out" >&2
	fail_server "wrk exited with status $wrk_rc"
fi
printf '%s\n' "$wrk_out" >"$run/wrk.txt"
line=$(grep '^intake.lua:' <<<"$wrk_out") || { echo "$wrk_out" >&2; die "no summary from intake.lua"; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" ${line#intake.lua:}"; }
acks=$(field acks_per_sec)
created=$(field created)
non201=$(field non201)
errors=$(field errors)
statuses=$(field statuses)
p50=$(field p50_ms)
p99=$(field p99_ms)

# delta VAR NAME: VAR = NAME after the load minus NAME before it.
delta() {
	local a b
	a=$(metric "$2" "$run/metrics.after")
	b=$(metric "$2" "$run/metrics.before")
	[[ -n $a && -n $b ]] || fail_server "metric $2 missing from /metrics"
	printf -v "$1" '%d' $((a - b))
}
d_syncs=0 d_commits=0 d_requests=0 d_created=0
delta d_syncs liandong_store_syncs_total
delta d_commits liandong_store_commits_total
delta d_requests liandong_store_requests_total
delta d_created 'liandong_intake_total{adapter="json",result="created"}'
batch_max=$(metric liandong_store_batch_max "$run/metrics.after")

# --- stop the server -----------------------------------------------------------
kill -TERM "$pid"
for _ in $(seq 1 300); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail_server "still running 30 s after SIGTERM"
set +e
wait "$pid"
server_rc=$?
set -e
pid=
((server_rc == 0)) || fail_server "exited with status $server_rc after SIGTERM"

# --- report --------------------------------------------------------------------
awk -v raw_before="$raw_before" -v raw_after="$raw_after" -v psecs="$probe_secs" -v acks="$acks" -v target="$TARGET" -v syncs="$d_syncs" \
	-v commits="$d_commits" -v reqs="$d_requests" -v created="$d_created" \
	-v client_created="$created" -v non201="$non201" -v errors="$errors" \
	-v statuses="$statuses" -v bmax="$batch_max" -v p50="$p50" -v p99="$p99" \
	-v dur="$DURATION" -v conns="$CONNECTIONS" -v threads="$THREADS" -v dir="$run/db" -v spot="$SPOT" '
function commas(x,   s, r) {
	s = sprintf("%.0f", x); r = ""
	while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
	return s r
}
BEGIN {
	raw = raw_before > raw_after ? raw_before : raw_after
	ratio = raw > 0 ? acks / raw : 0
	pass = ratio >= target
	printf "bench/ingest  (duration %d s, %d connections, %d wrk threads, reports: %s, same disk: %s)\n", dur, conns, threads, spot, dir
	printf "raw fdatasync (4 KiB append)     %9s /s   (higher of %s before and %s after the load, %d s each)\n",
		commas(raw), commas(raw_before), commas(raw_after), psecs
	printf "durable acks over HTTP           %9s /s   = %.1fx raw fdatasync   (target >= %gx: %s)\n",
		commas(acks), ratio, target, (pass ? "PASS" : "FAIL")
	if (created > 0)
		printf "fdatasync calls per ack          %9.3f     (mean batch %.1f requests per commit, max %d)\n",
			syncs / created, (commits > 0 ? reqs / commits : 0), bmax
	else
		printf "fdatasync calls per ack                n/a     (nothing was created)\n"
	printf "non-201 responses                %9d     (socket errors/timeouts %d; statuses %s)\n", non201, errors, statuses
	printf "latency p50 / p99                %9.2f / %.2f ms\n", p50, p99
	printf "server counters                  %s created, %s commits, %s fdatasync (client saw %s x 201)\n",
		commas(created), commas(commits), commas(syncs), commas(client_created)
	exit !(pass && non201 == 0 && errors == 0 && client_created > 0)
}' || exit 1
