#!/usr/bin/env bash
# bench/gis/run.sh - point -> district lookups and k-nearest-unit queries per
# second, beside a plain SQLite R*Tree query and a full scan, in the same run.
#
# Runs bench_gis (built with the project; this script builds nothing) on the
# demo districts: imports them with gis_juris_import into a fresh SQLite file
# in a temporary folder, measures, checks every answer against the full scan /
# brute force, prints the table and removes the folder.
#
# Environment (all optional):
#   BUILD=<repo>/build            where bench/gis/bench_gis is
#   FILE=<repo>/gis/data/guangzhou.geojson   districts (fetched by scripts/setup.sh)
#   CRS=gcj02                     the file's CRS (gcj02, wgs84, cgcs2000)
#   POINTS=20000                  random points for the district lookups
#   UNITS=10000                   units in the k-nearest index
#   QUERIES=20000                 k-nearest queries (each after one position update)
#   K=5                           neighbours per query
#   SEED=42                       same seed, same points, units and updates
#   TMPDIR=/tmp                   where the temporary database goes
#
# Exit status: 0 all answers agreed; 1 a mismatch (the figures are printed
# anyway); 2 usage/setup error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

BUILD=${BUILD:-$root/build}
FILE=${FILE:-$root/gis/data/guangzhou.geojson}
CRS=${CRS:-gcj02}
POINTS=${POINTS:-20000}
UNITS=${UNITS:-10000}
QUERIES=${QUERIES:-20000}
K=${K:-5}
SEED=${SEED:-42}

die() { echo "bench/gis: $*" >&2; exit 2; }

for v in POINTS UNITS QUERIES K SEED; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number"
done
bin=$BUILD/bench/gis/bench_gis
[[ -x $bin ]] || die "no bench_gis at $bin (build first: cmake -S $root -B $BUILD && cmake --build $BUILD)"
[[ -f $FILE ]] || die "no district file at $FILE (run scripts/setup.sh: it fetches the data)"

echo "bench/gis on $(nproc) cores ($(uname -m)); $(date -u +%Y-%m-%dT%H:%MZ)"
exec "$bin" "$FILE" --crs "$CRS" --points "$POINTS" --units "$UNITS" --queries "$QUERIES" \
	--k "$K" --seed "$SEED"
