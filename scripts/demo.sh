#!/usr/bin/env bash
# Quick start, part 1: install, build, and run the demo: the server on
# http://127.0.0.1:8080 with the embedded SQLite under ./data and simulated
# 110/119/120/122 traffic. Stop with Ctrl-C (a clean shutdown).
#   PORT=9000 LISTEN=0.0.0.0 scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
PORT="${PORT:-8080}"
LISTEN="${LISTEN:-127.0.0.1}"
echo "==> liandong demo: open http://${LISTEN}:${PORT}/"
exec build/server/liandong demo --listen "$LISTEN" --port "$PORT" --data ./data --console ./web-console
