"""Print our benchmark next to the Python SDK peer's, with the ratios and the targets.

Usage: python3 bench/ratios.py ours.json peer.json
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
