#!/bin/sh
# Compares the h2 engine with node:http2 under the Go gRPC load generator (/tmp/kvbench).
#   bench/h2/run.sh [total] [clients] [conns] [modes]
# Prints kvbench's JSON line and the server's CPU time per request (less sensitive than
# throughput to other load on the machine).
set -eu
cd "$(dirname "$0")/../.."
TOTAL=${1:-100000}; CLIENTS=${2:-1000}; CONNS=${3:-100}; MODES=${4:-"engine node"}
BUN=node_modules/.bin/bun
TICKS=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for mode in $MODES; do
  flag=""; [ "$mode" = node ] && flag="--node"
  log=$(mktemp)
  $BUN bench/h2/kv-server.ts $flag >"$log" 2>&1 &
  pid=$!
  while ! grep -q listening "$log"; do sleep 0.1; done
  port=$(sed -n 's/^listening //p' "$log")
  before=$(cpu "$pid")
  out=$(/tmp/kvbench -endpoints "127.0.0.1:$port" -op put -clients "$CLIENTS" -conns "$CONNS" -total "$TOTAL" -timeout 60s 2>/dev/null || echo "kvbench failed")
  after=$(cpu "$pid")
  echo "== $mode: $out"
  echo "   server cpu: $(( (after - before) * 1000000 / TICKS / TOTAL )) us/request"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -f "$log"
done
