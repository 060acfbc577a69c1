#!/usr/bin/env bash
# Side-by-side benchmark against Debian's etcd with the same Go client (../shared/tools/kvbench).
# Usage: bench/compare.sh [--nodes N] [--candidate CMD] [workload-name ...]
# Workloads: put1 put1000 put100c put1k range srange txn (compare.py: JSON line per server and a ratio
# line), and mem (1 node only; bench/mem-start.py for both servers: exec to first served put,
# RSS before, during and after 100k puts at 1000 clients). Default: all of them.
# Run one at a time on a quiet machine; note `cat /proc/loadavg` with each figure.
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=1
cand="$PWD/dist/conclave"
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --candidate) cand=$2; shift 2 ;;
    *) break ;;
  esac
done
[ "$cand" != "$PWD/dist/conclave" ] || [ -x dist/conclave ] || npm run build >/dev/null
# The shared tools sit beside the checkout (../shared) or beside a worktree's parent (../../shared).
compare=../shared/tools/kvbench/compare.py
[ -f "$compare" ] || compare=../../shared/tools/kvbench/compare.py
declare -A wl=(
  [put1]="-op put -clients 1 -conns 1 -total 10000"
  [put1000]="-op put -clients 1000 -conns 100 -total 100000"
  # One client per connection: each connection's request arrives in its own read.
  [put100c]="-op put -clients 100 -conns 100 -total 50000"
  [put1k]="-op put -clients 200 -conns 20 -total 100000 -val-size 1024 -key-space 50000"
  [range]="-op range -clients 1000 -conns 100 -total 100000"
  [srange]="-op srange -clients 1000 -conns 100 -total 100000"
  [txn]="-op txn -clients 100 -conns 10 -total 50000"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(put1 put1000 put100c put1k range srange txn mem)
for n in "${names[@]}"; do
  echo "## $n (nodes=$nodes) load: $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ "$n" = mem ]; then
    python3 bench/mem-start.py --server /usr/bin/etcd
    python3 bench/mem-start.py --server "$cand"
  else
    python3 "$compare" --candidate "$cand" --nodes "$nodes" --workload "${wl[$n]}"
  fi
done
