"""Benchmark: is peak memory flat in data size? Runs a scan with a group-by, a
``count(DISTINCT eventid)`` and a window over all rows on the embedded engine over N and 10xN
generated events, each query in its own subprocess so that its peak RSS (max RSS of the child)
is its own, and prints the peak RSS at both sizes and their ratio (the goal: 10x the data needs
less than 1.5x the memory). Not a test: nothing here passes or fails.

    python benches/memory_flat.py --events 1000000 --memory-limit 256MiB

The generated logs are kept in --data (default ./bench-data/memory) and reused when present.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

QUERIES = {
    "scan+group-by": (
        "SELECT eventsource, eventname, count(*) AS n FROM cloudtrail_logs GROUP BY 1, 2 "
        "ORDER BY n DESC LIMIT 10"
    ),
    "count(DISTINCT eventid)": "SELECT count(DISTINCT eventid) AS n FROM cloudtrail_logs",
    "window over all rows": (
        "SELECT count(*) AS n, max(rn) AS last FROM (SELECT row_number() OVER "
        "(ORDER BY eventtime, eventid) AS rn FROM cloudtrail_logs)"
    ),
}

RUNNER = """
import json, resource, sys, time
data, sql, limit = sys.argv[1], sys.argv[2], sys.argv[3]
import spintrail
started = time.perf_counter()
session = spintrail.connect(data, memory_limit=None if limit == "default" else limit)
table = session.sql(sql)
stats = session.last_stats
print(json.dumps({
    "seconds": time.perf_counter() - started,
    "rows": table.num_rows,
    "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "spilled_bytes": stats.spilled_bytes if stats else 0,
    "memory_limit": session.memory_limit,
}))
"""


def ensure_logs(folder: Path, events: int) -> Path:
    marker = folder / ".complete"
    if not marker.exists():
        from spintrail.generate import generate

        started = time.perf_counter()
        generate(folder, events=events, days=7, seed=42, end="2026-11-01T00:00:00Z")
        marker.write_text(str(events))
        print(f"generated {events:,} events in {time.perf_counter() - started:.0f}s", flush=True)
    return folder


def run(data: Path, sql: str, limit: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", RUNNER, str(data), sql, limit],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="N (default 1M)")
    parser.add_argument("--factor", type=int, default=10, help="the larger size is Nxfactor")
    parser.add_argument(
        "--memory-limit",
        default="256MiB",
        help="the session's memory_limit (default 256MiB; 'default' for half the RAM)",
    )
    parser.add_argument("--data", default="bench-data/memory", help="where logs are generated")
    args = parser.parse_args()

    sizes = [args.events, args.events * args.factor]
    folders = [ensure_logs(Path(args.data) / f"{n}", n) for n in sizes]
    print(
        f"memory_limit={args.memory_limit}; peak RSS of a child process per query; "
        f"N={sizes[0]:,} and {sizes[1]:,} events"
    )
    print(
        f"{'query':<26}{'RSS @N':>10}{'RSS @10N':>10}{'ratio':>8}{'s @N':>8}{'s @10N':>8}"
        f"{'spill @10N':>12}"
    )
    for name, sql in QUERIES.items():
        small, large = (run(folder, sql, args.memory_limit) for folder in folders)
        ratio = large["max_rss_kb"] / small["max_rss_kb"]
        print(
            f"{name:<26}{small['max_rss_kb'] / 1024:>8.0f}MB{large['max_rss_kb'] / 1024:>8.0f}MB"
            f"{ratio:>7.2f}x{small['seconds']:>8.1f}{large['seconds']:>8.1f}"
            f"{large['spilled_bytes'] / 1e6:>10.0f}MB",
            flush=True,
        )
    print(
        "reproduce at 1M/10M: python benches/memory_flat.py --events 1000000 "
        f"--memory-limit {args.memory_limit}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
