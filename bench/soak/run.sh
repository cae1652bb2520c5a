#!/usr/bin/env bash
# bench/soak/run.sh - DURATION (600) seconds of simulated traffic (`liandong
# demo`: reports, dispatchers, the AVL fleet) with CONSOLES (1,000) consoles
# watching. Prints the server's RSS over time beside its value after the first
# minute (the limit: flat), and whether every console got every event once, in
# order (the limit: nothing lost). See README.md.
#   CONSOLES=1000 DURATION=600 INTERVAL_MS=250 SAMPLE=10 RING=512 CACHE=4M BUILD=<repo>/build
# Exit status: 0 nothing lost and RSS within 16 MiB of the one-minute value;
# 1 otherwise; 2 setup error.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-$root/build}
export CONSOLES=${CONSOLES:-1000} DURATION=${DURATION:-600} SAMPLE=${SAMPLE:-10}
INTERVAL_MS=${INTERVAL_MS:-250}
# The server's memory is bounded by design: the hub keeps hub.ring recent frames, the writer's
# SQLite page cache holds up to store.cache. Small bounds fill in the first minute, so what
# grows after it is not a cache filling up.
RING=${RING:-512}
CACHE=${CACHE:-4M}
[[ -x $BUILD/server/liandong ]] || { echo "bench/soak: build first" >&2; exit 2; }
[[ -d $root/tests/node_modules/ws ]] || { echo "bench/soak: run scripts/setup.sh" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
run=$(mktemp -d "${TMPDIR:-/tmp}/bench-soak.XXXXXX")
"$BUILD/server/liandong" demo --port 0 --data "$run/data" --console "$root/web-console/dist" \
	--set intake.auth=open --set console.auth=open --set http.max_conns=8192 --set http.max_conns_per_address=100000 \
	--set demo.interval_ms="$INTERVAL_MS" --set dispatch.plans="$root/server/plans.conf" \
	--set hub.ring="$RING" --set store.cache="$CACHE" >"$run/server.log" 2>&1 &
pid=$!
trap 'kill -KILL $pid 2>/dev/null || true; rm -rf "$run"' EXIT
port=
for _ in $(seq 100); do
	port=$(sed -n 's/.*msg="listening".* port=\([0-9]*\).*/\1/p' "$run/server.log" | head -1)
	[[ -n $port ]] && break
	sleep 0.1
done
[[ -n $port ]] || { cat "$run/server.log" >&2; exit 1; }
echo "bench/soak: $CONSOLES consoles, ${DURATION}s of demo traffic (a report every ~${INTERVAL_MS} ms)" >&2
out=$(PORT=$port SERVER_PID=$pid node "$here/soak.mjs")
kill -TERM $pid; wait $pid || true
node - "$out" <<'JS'
const o = JSON.parse(process.argv[2]);
const mib = (b) => (b / 1048576).toFixed(1);
const at1 = (o.samples.find((s) => s.t >= 60) || o.samples[0]).rss;
const last = o.samples[o.samples.length - 1].rss;
const after = o.samples.filter((s) => s.t >= 60);
const peak = Math.max(...(after.length ? after : o.samples).map((s) => s.rss));
console.log(`\nbench/soak  (${o.consoles} consoles, ${o.seconds} s)`);
console.log(`  events committed ${o.server_seq}; received by consoles ${o.events_received} (${(o.events_received / o.consoles).toFixed(0)} each), position frames ${o.position_frames}`);
console.log(`  gaps ${o.gaps}, repeats ${o.repeats}, resyncs ${o.resyncs}, closed early ${o.closed_early}, consoles behind at the end ${o.behind}`);
console.log(`  server RSS: at 1 min ${mib(at1)} MiB, peak after ${mib(peak)} MiB, at the end ${mib(last)} MiB (growth ${mib(last - at1)} MiB; limit 16)`);
console.log('  RSS samples (s:MiB): ' + o.samples.map((s) => `${s.t}:${mib(s.rss)}`).join(' '));
const ok = o.gaps === 0 && o.repeats === 0 && o.behind === 0 && last - at1 < 16 * 1048576;
console.log(ok ? 'PASS' : 'FAIL');
process.exit(ok ? 0 : 1);
JS
