#!/usr/bin/env bash
# Foundation figures for docs/bench.md: cold start to API-ready (median of
# RUNS), resident memory of an idle node, and how long a 5-node devnet takes
# to be fully connected (median of RUNS). node.status calls/s come from
# `go test -run '^$' -bench StatusRPC ./node/`.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
go build -o bin/fog ./cmd/fog
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

dir=$tmp/node
bin/fog init --path "$dir" --api 127.0.0.1:0 --listen /ip4/127.0.0.1/tcp/0 --listen /ip4/127.0.0.1/udp/0/quic-v1 >/dev/null
sed -i 's/^mdns = true/mdns = false/; s/^autonat = true/autonat = false/' "$dir/config.toml"

starts=()
for i in $(seq "$RUNS"); do
  t0=$(date +%s%N)
  bin/fog run --path "$dir" >/dev/null 2>&1 &
  pid=$!
  until bin/fog status --path "$dir" >/dev/null 2>&1; do sleep 0.005; done
  t1=$(date +%s%N)
  starts+=($(( (t1 - t0) / 1000000 )))
  if [ "$i" = "$RUNS" ]; then
    sleep 10
    rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  fi
  kill -TERM $pid; wait $pid || true
done
echo "cold start to API-ready: median $(printf '%s\n' "${starts[@]}" | median) ms (runs: ${starts[*]})"
echo "idle node resident memory after 10 s: $((rss / 1024)) MiB"

conn=()
for i in $(seq "$RUNS"); do
  bin/fog devnet --nodes 5 >"$tmp/dn.out" 2>&1 &
  pid=$!
  until grep -q "network connected in" "$tmp/dn.out"; do sleep 0.01; done
  conn+=($(grep -o 'network connected in [0-9.]*m\?s' "$tmp/dn.out" | awk '{print $4}'))
  kill -INT $pid; wait $pid || true
done
echo "5-node devnet start to fully connected: ${conn[*]}"
