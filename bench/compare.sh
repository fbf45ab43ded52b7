#!/usr/bin/env bash
# Runs our benchmark and the Python SDK peer back to back on this machine, then prints both
# and the ratios against the targets.
#
# The peer is the real Python SDK (PyPI dify-plugin 0.10.2) driven by a fake plugin daemon over
# stdio and TCP. It is not part of this repository: the project's maintainers keep it in a
# `shared/peer` folder beside their checkout (`../shared/peer/run.sh`). Point PEER at your own
# copy of such a driver; without one, only our figures are measured.
#
#   bench/compare.sh                 # 100,000 chunks, 5 runs each
#   CHUNKS=20000 RUNS=3 bench/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
chunks=${CHUNKS:-100000}
runs=${RUNS:-5}
out=${OUT:-$(mktemp -d)}
peer=${PEER:-../shared/peer/run.sh}

cargo build --release -q -p dify-plugin-bench -p dify-plugin-cli
echo "== ours: target/release/dify-plugin-bench --chunks $chunks --runs $runs"
./target/release/dify-plugin-bench --chunks "$chunks" --runs "$runs" --json "$out/ours.json"
echo
echo "== ours behind the daemon protocol: target/release/dify-plugin-bench --daemon --chunks $chunks"
./target/release/dify-plugin-bench --daemon --chunks "$chunks" --json "$out/daemon.json"
echo
if [ ! -x "$peer" ]; then
    echo "== peer: skipped: no Python SDK peer at $peer (set PEER=/path/to/run.sh to compare)"
    echo "(raw results in $out)"
    exit 0
fi
echo "== peer: $peer --transport both --chunks $chunks --runs $runs"
"$peer" --transport both --chunks "$chunks" --runs "$runs" --json "$out/peer.json"
echo
python3 bench/ratios.py "$out/ours.json" "$out/peer.json" "$out/daemon.json"
echo "(raw results in $out)"
