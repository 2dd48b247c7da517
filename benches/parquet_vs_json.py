"""Benchmark: the Spinnaker reference query on generated CloudTrail logs as gzip JSON and on
their Parquet copy (``spintrail compact``), in one run, on the embedded engine. Prints the
compaction time, both query times, the time ratio and the bytes each scan read. Not a test:
nothing here passes or fails on timings (issue 10 asks for >= 20x faster and >= 10x fewer
bytes on Parquet).

    python benches/parquet_vs_json.py --events 1000000
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

ARN = "arn:aws:sts::123456789012:assumed-role/SpinnakerManagedCA/Spinnaker"
END = "2026-11-01T00:00:00Z"
SINCE = "2026-10-31T23:00:00Z"

# The reference query, as in benches/scan_vs_duckdb.py.
SPINTRAIL_SQL = f"""
SELECT count(*) AS Total, eventname, errorcode, errormessage
FROM "default"."cloudtrail_logs"
WHERE useridentity.arn = '{ARN}'
        AND from_iso8601_timestamp(eventtime) > from_iso8601_timestamp('{SINCE}')
GROUP BY  eventname, errorcode, errormessage
ORDER BY  Total desc
"""


def generated(folder: Path, events: int) -> Path:
    """The logs (one day of ``events``, seed 7, as scan_vs_duckdb.py), generated on first use."""
    from spintrail.generate import generate

    data = folder / f"{events}"
    marker = data / ".complete"
    if not marker.exists():
        print(f"generating {events} events into {data}/ ...", flush=True)
        summary = generate(data, events=events, days=1, end=END, seed=7)
        marker.write_text(json.dumps(summary.__dict__))
    return data


def best_run(source: Path, runs: int) -> tuple[float, list[tuple[object, ...]], int, int]:
    """Best time of ``runs`` queries on a fresh session each; the rows, bytes and files read."""
    import spintrail

    best = float("inf")
    rows: list[tuple[object, ...]] = []
    read = files = 0
    for _ in range(runs):
        session = spintrail.connect(source)
        started = time.perf_counter()
        table = session.sql(SPINTRAIL_SQL)
        elapsed = time.perf_counter() - started
        stats = session.last_stats
        assert stats is not None
        if elapsed < best:
            best = elapsed
            rows = sorted(tuple(r.values()) for r in table.to_pylist())
            read, files = stats.bytes_read, stats.files_read
    return best, rows, read, files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--data", default="bench-data", help="folder for the generated logs")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per format (best kept)")
    args = parser.parse_args()

    import spintrail
    from spintrail.compact import compact

    data = generated(Path(args.data), args.events)
    dest = Path(args.data) / f"{args.events}-parquet"
    shutil.rmtree(dest, ignore_errors=True)
    started = time.perf_counter()
    summary = compact(data, dest)
    compact_seconds = time.perf_counter() - started
    print(f"spintrail {spintrail.__version__}")
    print(
        f"compact: {summary.files_read} files -> {summary.days_written} Parquet files, "
        f"{summary.rows_written} rows, {summary.bytes_written / 1e6:.1f} MB in "
        f"{compact_seconds:.1f}s"
    )

    j_time, j_rows, j_bytes, j_files = best_run(data, args.runs)
    p_time, p_rows, p_bytes, p_files = best_run(dest, args.runs)
    print(f"   json: {j_time:7.3f}s  read {j_bytes / 1e6:9.1f} MB in {j_files} files")
    print(f"parquet: {p_time:7.3f}s  read {p_bytes / 1e6:9.1f} MB in {p_files} files")
    print()
    print(f"results identical: {j_rows == p_rows} ({len(j_rows)} groups)")
    print(f"parquet is {j_time / p_time:.1f}x faster (goal >= 20x)")
    print(f"parquet reads {j_bytes / max(p_bytes, 1):.1f}x fewer bytes (goal >= 10x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
