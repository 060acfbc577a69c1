#!/usr/bin/env bash
# Side-by-side benchmark against Debian's etcd with the same Go client (../shared/tools/kvbench).
# Usage: bench/compare.sh [--nodes N] [workload-name ...]
# Workloads: put1 put1000 range txn (default: all). Prints compare.py's JSON lines per workload.
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=1
if [ "${1:-}" = "--nodes" ]; then nodes=$2; shift 2; fi
[ -x dist/conclave ] || npm run build >/dev/null
compare=../shared/tools/kvbench/compare.py
declare -A wl=(
  [put1]="-op put -clients 1 -conns 1 -total 10000"
  [put1000]="-op put -clients 1000 -conns 100 -total 100000"
  [range]="-op range -clients 1000 -conns 100 -total 100000"
  [txn]="-op txn -clients 100 -conns 10 -total 50000"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(put1 put1000 range txn)
for n in "${names[@]}"; do
  echo "## $n (nodes=$nodes): ${wl[$n]}"
  python3 "$compare" --candidate "$PWD/dist/conclave" --nodes "$nodes" --workload "${wl[$n]}"
done
