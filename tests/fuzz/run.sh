#!/usr/bin/env bash
# Run every libFuzzer harness for FUZZ_SECONDS (default 30) from the kept
# corpus. New interesting inputs go to a scratch folder (the checkout stays
# clean); a crash leaves its input in tests/fuzz/artifacts/ and fails the run.
#   tests/fuzz/run.sh build-fuzz
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build-fuzz}"
secs="${FUZZ_SECONDS:-30}"
mkdir -p "$here/artifacts"
status=0
for bin in "$build"/tests/fuzz/fuzz_*; do
  name="$(basename "$bin")"; name="${name#fuzz_}"
  scratch="$(mktemp -d)"
  echo "--> $name ($secs s)"
  if ! ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix="$here/artifacts/$name-" -print_final_stats=1 \
      "$scratch" "$here/corpus/$name" 2>"$scratch.log"; then
    tail -40 "$scratch.log"
    echo "FUZZ FAILURE in $name: see tests/fuzz/artifacts/" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$scratch.log" | tr '\n' ' '
    echo
  fi
  rm -rf "$scratch" "$scratch.log"
done
exit $status
