#!/usr/bin/env bash
# Runs our benchmark and the Python SDK peer (../shared/peer/run.sh, dify-plugin 0.10.2) back
# to back on this machine, then prints both and the ratios against the targets.
#
#   bench/compare.sh                 # 100,000 chunks, 5 runs each
#   CHUNKS=20000 RUNS=3 bench/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
chunks=${CHUNKS:-100000}
runs=${RUNS:-5}
out=${OUT:-$(mktemp -d)}
peer=${PEER:-../shared/peer/run.sh}

cargo build --release -q -p dify-plugin-bench
echo "== ours: target/release/dify-plugin-bench --chunks $chunks --runs $runs"
./target/release/dify-plugin-bench --chunks "$chunks" --runs "$runs" --json "$out/ours.json"
echo
echo "== peer: $peer --chunks $chunks --runs $runs"
"$peer" --chunks "$chunks" --runs "$runs" --json "$out/peer.json"
echo
python3 bench/ratios.py "$out/ours.json" "$out/peer.json"
echo "(raw results in $out)"
