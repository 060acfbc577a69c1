#!/usr/bin/env bash
# Builds bench/watch-fanout into $1 (default /tmp/watch-fanout), like the shared kvbench:
# Debian's golang-go and golang-etcd-server-dev (installed when missing).
set -euo pipefail
out=${1:-/tmp/watch-fanout}
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v go >/dev/null || [ ! -d /usr/share/gocode/src/go.etcd.io/etcd/clientv3 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go golang-etcd-server-dev >/dev/null
fi
cd "$here" && GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= go build -o "$out" .
echo "$out"
