"""Print our benchmark next to the Python SDK peer's, with the ratios and the targets.

Usage: python3 bench/ratios.py ours.json peer.json [daemon.json [ours-under-peer.json]]

daemon.json (from `dify-plugin-bench --daemon --json`, with `--peer-plugin` for the peer's
plugin under the same driver) adds the rows of the host behind the daemon protocol;
ours-under-peer.json (the peer's bench.py driving our plugin) the same measures under the
peer's own driver.
"""
import json
import statistics
import sys

ours = json.load(open(sys.argv[1]))
peer_doc = json.load(open(sys.argv[2]))
runs = [r for r in peer_doc["runs"] if r.get("transport", "stdio") == "stdio"]


def peer(key):
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values)


peer_chunks = peer("chunks_per_s")
peer_blocking = peer("blocking_median_us")
peer_start_ms = peer("start_to_first_heartbeat_ms")
peer_rss = peer("VmHWM_kib") / 1024

rows = [
    ("streaming chunks/s", f"{ours['streaming_chunks_per_s']:,.0f}", f"{peer_chunks:,.0f}",
     ours["streaming_chunks_per_s"] / peer_chunks, ">= 40x the peer", ours["streaming_chunks_per_s"] / peer_chunks >= 40),
    ("streaming vs the floor", f"{ours['streaming_us_per_chunk']:.3f} us/chunk",
     f"floor {ours['floor_us_per_next']:.3f} us/next()", ours["streaming_us_per_chunk"] / ours["floor_us_per_next"],
     "<= 2x the floor", ours["streaming_us_per_chunk"] <= 2 * ours["floor_us_per_next"]),
    ("blocking round trip", f"{ours['blocking_round_trip_us']:.2f} us", f"{peer_blocking:.0f} us",
     peer_blocking / ours["blocking_round_trip_us"], ">= 50x faster", peer_blocking / ours["blocking_round_trip_us"] >= 50),
    ("per request (fresh instance + call + invoke)", f"{ours['per_request_us']:.1f} us", "-", None,
     "<= 50 us", ours["per_request_us"] <= 50),
    ("plugin ready from cache", f"{ours['load_cached_ms']:.2f} ms", f"{peer_start_ms:.0f} ms to start",
     peer_start_ms / ours["load_cached_ms"], "<= 1 ms", ours["load_cached_ms"] <= 1),
    ("added per live instance", f"{ours['per_instance_kib']:.0f} KiB", f"{peer_rss:.1f} MiB per process",
     peer_rss * 1024 / ours["per_instance_kib"], "<= 2 MiB", ours["per_instance_kib"] <= 2048),
    ("release Duck guest", f"{ours['duck_wasm_bytes']:,} bytes", "-", None, "<= 200 KB", ours["duck_wasm_bytes"] <= 200_000),
]

print("| measure | ours | peer | ratio | target | met |")
print("|---|---|---|---|---|---|")
for name, mine, theirs, ratio, target, met in rows:
    r = f"{ratio:,.1f}x" if ratio is not None else "-"
    print(f"| {name} | {mine} | {theirs} | {r} | {target} | {'yes' if met else 'NO'} |")

if len(sys.argv) > 3:
    daemon = json.load(open(sys.argv[3]))
    # Ours under the peer's own driver (bench.py, stdio), if measured.
    under_peer = json.load(open(sys.argv[4]))["runs"] if len(sys.argv) > 4 else []

    def peer_for(transport, key):
        values = [r[key] for r in peer_doc["runs"]
                  if r.get("transport", "stdio") == transport and r.get(key) is not None]
        return statistics.median(values) if values else None

    def ours_under_peer(key):
        values = [r[key] for r in under_peer if r.get(key) is not None]
        return statistics.median(values) if values else None

    def row(name, mine, theirs, unit, faster, target, met):
        if mine is None or theirs is None:
            return
        ratio = mine / theirs if faster == "higher" else theirs / mine
        print(f"| {name} | {mine:,.1f} {unit} | {theirs:,.1f} {unit} | {ratio:,.1f}x | {target} | "
              f"{'yes' if met(ratio, mine) else 'NO'} |")

    fifty = lambda ratio, _: ratio >= 50
    print()
    print("Behind the daemon protocol, the peer's tool (app_bench) on both sides. \"our driver\": "
          "dify-plugin-bench --daemon drives both plugins; \"its driver\": the peer's bench.py.")
    print()
    print("| measure | ours | peer | ratio | target | met |")
    print("|---|---|---|---|---|---|")
    for transport in ("stdio", "tcp"):
        mine = daemon.get(f"tool_{transport}")
        same = daemon.get(f"tool_peer_{transport}")
        if mine is None:
            continue
        if same:
            row(f"{transport}, our driver: streaming chunks/s", mine["streaming_chunks_per_s_in_tool"],
                same["streaming_chunks_per_s_in_tool"], "", "higher", ">= 50x", fifty)
        if transport == "stdio":
            row("stdio, its driver: streaming chunks/s", ours_under_peer("chunks_per_s"),
                peer_for("stdio", "chunks_per_s"), "", "higher", ">= 50x", fifty)
        else:
            row("tcp, ours under our driver, the peer under its: streaming chunks/s",
                mine["streaming_chunks_per_s_in_tool"], peer_for("tcp", "chunks_per_s"), "", "higher",
                ">= 50x", fifty)
        met = fifty if transport == "stdio" else (lambda ratio, mine: ratio >= 50 and mine <= 1000)
        target = ">= 50x" if transport == "stdio" else ">= 50x, <= 1 ms"
        if same:
            row(f"{transport}, our driver: blocking round trip p50", mine["blocking_p50_us"],
                same["blocking_p50_us"], "us", "lower", target, met)
        if transport == "stdio":
            row("stdio, its driver: blocking round trip p50", ours_under_peer("blocking_median_us"),
                peer_for("stdio", "blocking_median_us"), "us", "lower", target, met)
        else:
            row("tcp, ours under our driver, the peer under its: blocking round trip p50",
                mine["blocking_p50_us"], peer_for("tcp", "blocking_median_us"), "us", "lower", target, met)
        if same:
            row(f"{transport}, our driver: tool request round trip p50", mine["round_trip_p50_us"],
                same["round_trip_p50_us"], "us", "lower", "-", lambda *_: True)
    print()
    print("| endpoints behind the daemon protocol (Duck, the bench plugin) | ours |")
    print("|---|---|")
    for transport in ("stdio", "tcp"):
        mine = daemon.get(transport)
        if mine is None:
            continue
        print(f"| {transport}: one streamed request, chunks/s through to the caller | {mine['chunks_per_s']:,.0f} |")
        print(f"| {transport}: blocking round trip p50 / p99 | {mine['blocking_p50_us']:.0f} / {mine['blocking_p99_us']:.0f} us |")
        print(f"| {transport}: endpoint requests/s at 1 / 16 sessions | {mine['requests_per_s_1']:,.0f} / "
              f"{mine['requests_per_s_16']:,.0f} |")
