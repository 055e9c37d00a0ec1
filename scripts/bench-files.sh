#!/usr/bin/env bash
# File-sharing figures for docs/bench.md, through the fog binary: two
# daemons on loopback (TCP only, so a raw libp2p stream and Bitswap share
# the transport the Go benchmark measures too), a file of SIZE_MIB MiB
# shared on A and fetched by B with `fog file get`:
#   - share and get throughput, and B's peak resident memory during the get
#     (VmHWM of the daemon process, sampled VmRSS too);
#   - a get killed with kill -9 of B's daemon at half the file, B restarted,
#     and the get run again: the bytes the second run fetched.
# The same-run comparison with a raw libp2p stream is the Go benchmark
# `FOG_BENCH_FILE_MIB=1024 go test -run '^$' -bench Loopback -benchtime=1x ./files/`.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-1024}
go build -o bin/fog ./cmd/fog
tmp=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

for n in a b; do
  bin/fog init --path "$tmp/$n" --api 127.0.0.1:0 --listen /ip4/127.0.0.1/tcp/0 >/dev/null
  sed -i 's/^mdns = true/mdns = false/; s/^autonat = true/autonat = false/' "$tmp/$n/config.toml"
done
start() {  # start NODE: runs its daemon, waits for its API, sets pid_NODE
  bin/fog run --path "$tmp/$1" >"$tmp/$1.log" 2>&1 &
  eval "pid_$1=$!"
  until bin/fog status --path "$tmp/$1" >/dev/null 2>&1; do sleep 0.02; done
}
start a
start b
addr=$(bin/fog status --path "$tmp/a" --json | python3 -c 'import json,sys; s=json.load(sys.stdin); a=[x for x in s["listen_addrs"] if x.startswith("/ip4/127.0.0.1/tcp/")][0]; print(a if "/p2p/" in a else a+"/p2p/"+s["peer_id"])')
bin/fog connect --path "$tmp/b" "$addr" >/dev/null

head -c $((SIZE_MIB << 20)) /dev/urandom >"$tmp/file.bin"
t0=$(date +%s%N)
cid=$(bin/fog file share --path "$tmp/a" "$tmp/file.bin")
t1=$(date +%s%N)
echo "share ${SIZE_MIB} MiB: $(( (t1 - t0) / 1000000 )) ms, $(( (SIZE_MIB << 20) * 1000 / (t1 - t0) )) MB/s"

peak=0
anon=0
sample() {  # the peaks of VmRSS and of RssAnon (RSS less the mapped files: Badger maps its tables)
  while kill -0 "$pid_b" 2>/dev/null; do
    r=$(awk '/VmRSS/ {print $2}' /proc/$pid_b/status); [ "$r" -gt "$peak" ] && peak=$r
    a=$(awk '/RssAnon/ {print $2}' /proc/$pid_b/status); [ "$a" -gt "$anon" ] && anon=$a
    echo "$peak $anon" >"$tmp/peak"; sleep 0.2
  done
}
echo 5 >/proc/$pid_b/clear_refs
rss0=$(awk '/VmRSS/ {print $2}' /proc/$pid_b/status)
sample & sampler=$!
t0=$(date +%s%N)
bin/fog file get --path "$tmp/b" "$cid" -o "$tmp/out.bin" --from "$addr"
t1=$(date +%s%N)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid_b/status)
kill $sampler 2>/dev/null || true
cmp "$tmp/file.bin" "$tmp/out.bin"
echo "get ${SIZE_MIB} MiB (CLI to file on disk): $(( (t1 - t0) / 1000000 )) ms, $(( (SIZE_MIB << 20) * 1000 / (t1 - t0) )) MB/s"
read -r speak sanon <"$tmp/peak"
echo "receiving daemon: resident before $((rss0 / 1024)) MiB, peak during the get $((hwm / 1024)) MiB (VmHWM), sampled peaks: VmRSS $((speak / 1024)) MiB, RssAnon (not file-backed) $((sanon / 1024)) MiB"

# kill -9 of the receiver at half the file, then the get again.
bin/fog file rm --path "$tmp/b" "$cid" >/dev/null
bin/fog file get --path "$tmp/b" "$cid" -o "$tmp/out2.bin" --from "$addr" --detach >/dev/null
half=$(( (SIZE_MIB << 20) / 2 ))
while :; do
  got=$(bin/fog file status --path "$tmp/b" "$cid" --json | python3 -c 'import json,sys; p=json.load(sys.stdin)["transfer"]["progress"]; print(p["bytes"]+p["present"])')
  [ "$got" -ge "$half" ] && break
  sleep 0.05
done
kill -9 "$pid_b"; wait "$pid_b" 2>/dev/null || true
echo "killed B at $(( got * 100 / (SIZE_MIB << 20) )) % (as last reported)"
start b
bin/fog connect --path "$tmp/b" "$addr" >/dev/null
out=$(bin/fog file get --path "$tmp/b" "$cid" -o "$tmp/out2.bin" --from "$addr" --json)
cmp "$tmp/file.bin" "$tmp/out2.bin"
echo "$out" | python3 -c "
import json,sys
p=json.load(sys.stdin)['progress']; size=$SIZE_MIB<<20
print('after the restart: fetched %.1f %% of the file (%d blocks), %.1f %% were stored already' % (100*p['bytes']/size, p['blocks'], 100*p['present']/size))"
