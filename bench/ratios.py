"""Print our benchmark next to the Python SDK peer's, with the ratios and the targets.

Usage: python3 bench/ratios.py ours.json peer.json [daemon.json]

daemon.json (from `dify-plugin-bench --daemon --json`) adds the rows of the host behind the
daemon protocol, beside the peer's figures for the same transport.
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

    def peer_for(transport, key):
        values = [r[key] for r in peer_doc["runs"]
                  if r.get("transport", "stdio") == transport and r.get(key) is not None]
        return statistics.median(values) if values else None

    print()
    print("| behind the daemon protocol | ours | peer | ratio | target | met |")
    print("|---|---|---|---|---|---|")
    for transport in ("stdio", "tcp"):
        mine = daemon.get(transport)
        if mine is None:
            continue
        theirs = peer_for(transport, "chunks_per_s")
        ratio = mine["chunks_per_s"] / theirs if theirs else None
        print(f"| {transport}: streaming chunks/s | {mine['chunks_per_s']:,.0f} | "
              f"{theirs or 0:,.0f} | {ratio or 0:,.1f}x | >= 50x | {'yes' if ratio and ratio >= 50 else 'NO'} |")
        theirs = peer_for(transport, "blocking_median_us")
        ratio = theirs / mine["blocking_p50_us"] if theirs else None
        target_met = ratio and ratio >= 50
        if transport == "tcp":
            target_met = mine["blocking_p50_us"] <= 1000
        print(f"| {transport}: blocking round trip p50 / p99 | {mine['blocking_p50_us']:.0f} / "
              f"{mine['blocking_p99_us']:.0f} us | {theirs or 0:,.0f} / {peer_for(transport, 'blocking_p99_us') or 0:,.0f} us | "
              f"{ratio or 0:,.1f}x | {'<= 1 ms' if transport == 'tcp' else '>= 50x'} | {'yes' if target_met else 'NO'} |")
        print(f"| {transport}: endpoint requests/s at 1 / 16 sessions | {mine['requests_per_s_1']:,.0f} / "
              f"{mine['requests_per_s_16']:,.0f} | - | - | - | - |")
