#!/usr/bin/env bash
# The JSON-RPC batch figure of docs/bench.md (issue 12): the resident memory
# of a loopback node before and after one batch of CALLS node.version calls
# (default 550,000, about 29.6 MB), and how it was answered.
# Usage: scripts/batch-probe.sh [CALLS] [FOG_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-550000}
bin=${2:-bin/fog}
[ -n "${2:-}" ] || go build -o bin/fog ./cmd/fog
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

"$bin" init --path "$tmp/n" --api 127.0.0.1:0 --listen /ip4/127.0.0.1/tcp/0 >/dev/null
sed -i 's/^mdns = true/mdns = false/; s/^autonat = true/autonat = false/' "$tmp/n/config.toml"
"$bin" run --path "$tmp/n" >/dev/null 2>"$tmp/log" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/n/api.addr" ] && break; sleep 0.1; done
rss() { awk '/VmHWM|VmRSS/ {printf "%s %d MB  ", $1, $2 / 1024}' "/proc/$pid/status"; echo; }
echo "before: $(rss)"
awk -v n="$calls" 'BEGIN { printf "["; for (i = 0; i < n; i++) printf "%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"node.version\"}", (i ? "," : ""), i; printf "]" }' >"$tmp/batch.json"
echo "batch: $calls calls, $(stat -c %s "$tmp/batch.json") bytes"
t0=$(date +%s%N)
curl -s -o "$tmp/out" -w 'reply: HTTP %{http_code}, %{size_download} bytes' \
  -H "Authorization: Bearer $(cat "$tmp/n/api.token")" --data-binary @"$tmp/batch.json" "http://$(cat "$tmp/n/api.addr")/rpc"
echo ", $(( ($(date +%s%N) - t0) / 1000000 )) ms"
echo "after:  $(rss)"
head -c 160 "$tmp/out"; echo
