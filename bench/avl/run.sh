#!/usr/bin/env bash
# bench/avl/run.sh - AVL positions accepted per second for UNITS units while
# CONSOLES consoles watch, beside the same batched updates in bare SQLite
# (avl_raw: one writer, one durable commit per batch, nothing else); then the
# recommendation latency among REC_UNITS units over HTTP, beside the raw
# SQLite R*Tree nearest query and the in-memory index (bench_gis, 10,000
# units). Everything in one run, on this machine. See README.md.
#
# Environment (all optional):
#   UNITS=5000 CONSOLES=1000 BATCH=100 CONCURRENCY=8 DURATION=10
#   REC_UNITS=10000 QUERIES=2000
#   BUILD=<repo>/build  DATA=<repo>/build/bench-avl  KEEP=0
# Exit status: 0 done (figures printed); 1 the server or a request failed;
# 2 usage/setup error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-$root/build}
DATA=${DATA:-$root/build/bench-avl}
KEEP=${KEEP:-0}
export UNITS=${UNITS:-5000} CONSOLES=${CONSOLES:-1000} BATCH=${BATCH:-100}
export CONCURRENCY=${CONCURRENCY:-8} DURATION=${DURATION:-10}
export REC_UNITS=${REC_UNITS:-10000} QUERIES=${QUERIES:-2000}

die() { echo "bench/avl: $*" >&2; exit 2; }
server=$BUILD/server/liandong
raw=$BUILD/bench/avl/avl_raw
gis=$BUILD/bench/gis/bench_gis
[[ -x $server && -x $raw ]] || die "build first: cmake -S $root -B $BUILD && cmake --build $BUILD"
[[ -d $root/tests/node_modules/ws ]] || die "run scripts/setup.sh (needs tests/node_modules)"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

mkdir -p "$DATA"
run=$(mktemp -d "$DATA/run.XXXXXX")
log=$run/server.log
pid=
cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; wait "$pid" 2>/dev/null || true; fi
	if [[ $KEEP == 1 ]]; then echo "bench/avl: run folder kept: $run" >&2; else rm -rf "$run"; fi
}
trap cleanup EXIT

"$server" serve --port 0 --data "$run/data" --console "$root/web-console/dist" \
	--set intake.auth=open --set dispatch.stale_s=3600 --set http.max_conns=8192 --set http.max_conns_per_address=100000 \
	--set dispatch.ack_p1=86400 --set dispatch.ack_p2=86400 >"$log" 2>&1 &
pid=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/.*msg="listening".* port=\([0-9]*\).*/\1/p' "$log" | head -1)
	[[ -n $port ]] && break
	kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
	sleep 0.1
done
[[ -n $port ]] || { cat "$log" >&2; exit 1; }

echo "bench/avl: $UNITS units, $CONSOLES consoles, batches of $BATCH from $CONCURRENCY posters for ${DURATION}s" >&2
out=$(BASE="http://127.0.0.1:$port" node "$here/avl_load.mjs") || { KEEP=1; tail -20 "$log" >&2; exit 1; }
kill -TERM "$pid"; wait "$pid" || true; pid=

rawout=$("$raw" "$run" "$UNITS" "$BATCH" "$DURATION")
gisout=
if [[ -x $gis && -f $root/gis/data/guangzhou.geojson ]]; then
	gisout=$("$gis" "$root/gis/data/guangzhou.geojson" --crs gcj02 --points 1000 \
		--units "$REC_UNITS" --queries 20000 2>/dev/null || true)
fi

node - "$out" "$rawout" "$gisout" <<'JS'
const [o, raw, gis] = [JSON.parse(process.argv[2]), process.argv[3], process.argv[4] || ''];
const num = (re, s) => { const m = s.match(re); return m ? Number(m[1]) : NaN; };
const rawPos = num(/raw_positions_per_s (\d+)/, raw), rawBatch = num(/raw_batches_per_s (\d+)/, raw);
const line = (name) => gis.split('\n').find((l) => l.includes(name)) || '';
const f = (x, d = 0) => Number.isFinite(x) ? x.toFixed(d) : 'n/a';
console.log('\nbench/avl  (this machine, one run)');
console.log(`  AVL: ${o.units} units, ${o.consoles} consoles watching, batches of ${o.batch}, ${o.concurrency} posters, ${f(o.seconds, 1)} s`);
console.log(`    liandong, positions accepted/s (durable ack)   ${f(o.accepted_per_s)}   (${f(o.applied_per_s)}/s newer than stored, applied)`);
console.log(`    bare SQLite, same updates, 1 commit per batch   ${f(rawPos)}   (${f(rawBatch)} commits/s)`);
console.log(`    ratio liandong / bare SQLite                    ${f(o.accepted_per_s / rawPos, 2)}x`);
console.log(`    needed: every unit reporting every 5 s          ${f(o.units / 5)}   (liandong: ${f(o.accepted_per_s / (o.units / 5), 1)}x that)`);
console.log(`    ack latency per batch p50 / p99                 ${f(o.ack_ms_p50, 1)} / ${f(o.ack_ms_p99, 1)} ms   (${o.posts} posts, ${o.errors} refused)`);
console.log(`    each console: ${f(o.position_frames_per_console, 1)} position frames, ${f(o.unit_positions_per_console_per_s)} unit positions/s; resyncs ${o.resyncs}, closed ${o.closed}`);
console.log(`  Recommendations among ${o.rec_units} units (k=5, ${o.rec_queries} queries, one at a time)`);
console.log(`    liandong over HTTP (read incident + nearest)     p50 ${f(o.rec_ms_p50 * 1000)} us, p99 ${f(o.rec_ms_p99 * 1000)} us   (${f(o.rec_found_avg, 1)} units found on average)`);
if (gis) {
  const rt = line('(e) SQLite R*Tree, nearest box'), gn = line('(d) gis_near ');
  console.log(`    bench_gis, same process, 10,000 units:\n      ${gn.trim()}\n      ${rt.trim()}`);
} else {
  console.log('    (bench_gis or gis/data/guangzhou.geojson missing: raw R*Tree figure not measured)');
}
JS
