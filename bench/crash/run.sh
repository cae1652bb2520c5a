#!/usr/bin/env bash
# bench/crash/run.sh - crash durability at benchmark size: the black-box test
# tests/integration/durability.test.mjs (16 posters; SIGKILL right after an
# acknowledgement; restart on the same data; at the end every acknowledged
# report present exactly once and the journal without gaps), run for CYCLES
# kill/restart cycles instead of CI's 3.
#
# Environment: CYCLES=1000  ACKS=20 (acknowledgements before each kill: a
# random number from ACKS to 2.5 x ACKS)  BUILD=<repo>/build
# Exit status: 0 every acknowledged report survived every kill; 1 otherwise.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-$root/build}
CYCLES=${CYCLES:-1000}
ACKS=${ACKS:-20}
[[ -x $BUILD/server/liandong ]] || { echo "bench/crash: build first (cmake --build $BUILD)" >&2; exit 2; }
[[ -d $root/tests/node_modules/ws ]] || { echo "bench/crash: run scripts/setup.sh" >&2; exit 2; }
start=$(date +%s)
LIANDONG_BIN=$BUILD/server/liandong LIANDONG_CONSOLE=$root/web-console/dist \
LIANDONG_CRASH_CYCLES=$CYCLES LIANDONG_CRASH_ACKS=$ACKS \
	node --test --test-timeout=86400000 "$root/tests/integration/durability.test.mjs" | tee "${TMPDIR:-/tmp}/bench-crash.tap" |
	grep -E 'SIGKILL cycles|^# (pass|fail) '
secs=$(( $(date +%s) - start ))
if grep -q '^# fail 0' "${TMPDIR:-/tmp}/bench-crash.tap"; then
	echo "bench/crash: PASS: $CYCLES kill/restart cycles in ${secs} s, every acknowledged report present once"
else
	echo "bench/crash: FAIL (see ${TMPDIR:-/tmp}/bench-crash.tap)"; exit 1
fi
