#!/usr/bin/env bash
# Interleaved A/B of `dify-plugin-host serve` binaries under wrk: one line per run (requests/s,
# and the server's CPU per request from /proc), then the medians.
#
#   bench/serve-ab.sh SECONDS REPETITIONS COMPONENT.wasm BINARY...
#   CONNS="1 16 64" TARGET=/hello bench/serve-ab.sh 5 3 target/guests/wasm32-wasip2/guest/hello_plugin.wasm old-host new-host
#
# Needs wrk (Debian: apt-get install wrk). Each run gets a fresh server and a 1 s warm-up.
set -euo pipefail
secs=$1 reps=$2 wasm=$3
shift 3
target=${TARGET:-/hello}
conns=${CONNS:-"1 16 64"}
out=$(mktemp)
port=18100
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for rep in $(seq 1 "$reps"); do
  for c in $conns; do
    for bin in "$@"; do
      port=$((port + 1))
      "$bin" serve "$wasm" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
      pid=$!
      for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port$target" && break; sleep 0.1; done
      threads=2; [ "$c" = 1 ] && threads=1
      wrk -t$threads -c"$c" -d1s "http://127.0.0.1:$port$target" >/dev/null
      c0=$(cpu $pid)
      result=$(wrk -t$threads -c"$c" -d"${secs}s" "http://127.0.0.1:$port$target")
      c1=$(cpu $pid)
      kill $pid; wait $pid 2>/dev/null || true
      rps=$(echo "$result" | awk '/Requests\/sec/ {print $2}')
      n=$(echo "$result" | awk '/requests in/ {print $1}')
      us=$(awk -v a="$c0" -v b="$c1" -v t="$tck" -v n="$n" 'BEGIN {printf "%.1f", (b - a) * 1e6 / t / n}')
      echo "$(basename "$bin") c=$c rep=$rep $rps $us" | tee -a "$out"
    done
  done
done
echo "medians (requests/s, server CPU µs per request):"
for c in $conns; do
  for bin in "$@"; do
    name=$(basename "$bin")
    rps=$(awk -v b="$name" -v c="c=$c" '$1 == b && $2 == c {print $4}' "$out" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
    us=$(awk -v b="$name" -v c="c=$c" '$1 == b && $2 == c {print $5}' "$out" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
    printf '%-24s %-5s %8s req/s %7s µs\n' "$name" "c=$c" "$rps" "$us"
  done
done
rm -f "$out"
