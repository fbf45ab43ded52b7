#!/usr/bin/env bash
# Runs our benchmark and the Python SDK peer back to back on this machine, then prints both
# and the ratios against the targets.
#
# The peer is the real Python SDK (PyPI dify-plugin 0.10.2) driven by a fake plugin daemon over
# stdio and TCP. It is not part of this repository: the project's maintainers keep it in a
# `shared/peer` folder beside their checkout (`../shared/peer/run.sh`). Point PEER at your own
# copy of such a driver; without one, only our figures are measured.
#
# Behind the daemon protocol, the peer's tool and ours (the bench plugin's app_bench) are
# measured three ways: the peer under its own driver (its run.sh), both under our driver
# (`dify-plugin-bench --daemon --peer-plugin`, the peer's plugin folder beside its run.sh),
# and ours under the peer's driver (its bench.py beside a plugin folder that starts our
# runtime), so that every ratio compares two plugins driven the same way.
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
if [ ! -x "$peer" ]; then
    echo "== ours behind the daemon protocol: target/release/dify-plugin-bench --daemon --chunks $chunks"
    ./target/release/dify-plugin-bench --daemon --chunks "$chunks" --json "$out/daemon.json"
    echo
    echo "== peer: skipped: no Python SDK peer at $peer (set PEER=/path/to/run.sh to compare)"
    echo "(raw results in $out)"
    exit 0
fi
peer_dir=$(cd "$(dirname "$peer")" && pwd)
echo "== peer: $peer --transport both --chunks $chunks --runs $runs"
"$peer" --transport both --chunks "$chunks" --runs "$runs" --json "$out/peer.json"
echo
# The venv the peer's run.sh made (its default place, or PEER_VENV).
venv=${PEER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/dify-peer/venv}
echo "== both behind our driver: target/release/dify-plugin-bench --daemon --chunks $chunks --peer-plugin $peer_dir/plugin"
DIFY_PLUGIN_PYTHON="$venv/bin/python" ./target/release/dify-plugin-bench --daemon --chunks "$chunks" \
    --peer-plugin "$peer_dir/plugin" --json "$out/daemon.json"
echo
# Ours under the peer's own driver: its bench.py beside a plugin folder whose main.py starts
# our runtime on the bench plugin (as a package's launcher does), over stdio.
mine="$out/ours-under-peer"
mkdir -p "$mine/plugin"
cp "$peer_dir/bench.py" "$mine/"
cp -r bench/plugin/manifest.yaml bench/plugin/provider bench/plugin/tools bench/plugin/_assets "$mine/plugin/"
guests=${CARGO_TARGET_DIR:-target}/guests/wasm32-wasip2/guest
cat > "$mine/plugin/main.py" <<PY
import os
runtime = "$(pwd)/target/release/dify-plugin-runtime"
os.execv(runtime, [runtime, "$(cd "$guests" && pwd)/bench_plugin.wasm"])
PY
echo "== ours under the peer's driver: bench.py --transport stdio --chunks $chunks --runs $runs"
"$venv/bin/python" "$mine/bench.py" --python "$venv/bin/python" --transport stdio --chunks "$chunks" \
    --runs "$runs" --import-runs 0 --json "$out/ours-under-peer.json"
echo
python3 bench/ratios.py "$out/ours.json" "$out/peer.json" "$out/daemon.json" "$out/ours-under-peer.json"
echo "(raw results in $out)"
