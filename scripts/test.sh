#!/usr/bin/env bash
# Quick start, part 2: install, build, and run the whole suite through CTest:
# first under AddressSanitizer+UBSan, then the bounded fuzz runs, then the
# regular build (whose CTest summary is the last line printed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --asan --fuzz
jobs=$(nproc)

echo "==> test suite under ASan+UBSan"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest -j"$jobs" --output-on-failure)

echo "==> fuzzers, ${FUZZ_SECONDS:-30} s each"
FUZZ_SECONDS="${FUZZ_SECONDS:-30}" tests/fuzz/run.sh build-fuzz

echo "==> test suite"
(cd build && ctest -j"$jobs" --output-on-failure)
