"""Benchmark: the Spinnaker reference query on generated CloudTrail logs as gzip JSON and on
their Parquet copy (``spintrail compact``), in one run, on the embedded engine. Prints the
compaction time, both query times, the time ratio and the bytes each scan read. Not a test:
nothing here passes or fails on timings (issue 10 asks for >= 20x faster and >= 10x fewer
bytes on Parquet).

    python benches/parquet_vs_json.py --events 1000000
    python benches/parquet_vs_json.py --events 1000000 --full-scan

The reference query asks for the last hour, so on the JSON it opens only the files delivered in
that hour; ``--full-scan`` asks for every event, so both formats read everything.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

# The reference query and its generated logs, shared with the DuckDB benchmark (run as a script,
# this folder is on sys.path already; the insert makes the import work from anywhere else too).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan_vs_duckdb import FULL_SCAN_SINCE, SPINTRAIL_SQL, generated, spintrail_sql


def best_run(source: Path, runs: int, sql: str) -> tuple[float, list[tuple[object, ...]], int, int]:
    """Best time of ``runs`` queries on a fresh session each; the rows, bytes and files read."""
    import spintrail

    best = float("inf")
    rows: list[tuple[object, ...]] = []
    read = files = 0
    for _ in range(runs):
        session = spintrail.connect(source)
        started = time.perf_counter()
        table = session.sql(sql)
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
    parser.add_argument(
        "--full-scan", action="store_true", help="query every event, not the last hour"
    )
    parser.add_argument(
        "--keep", action="store_true", help="reuse an earlier Parquet copy (no compaction)"
    )
    args = parser.parse_args()
    sql = spintrail_sql(FULL_SCAN_SINCE) if args.full_scan else SPINTRAIL_SQL

    import spintrail
    from spintrail.compact import compact

    data, _ = generated(Path(args.data), args.events)
    dest = Path(args.data) / f"{args.events}-parquet"
    print(f"spintrail {spintrail.__version__}")
    if not (args.keep and dest.exists()):
        shutil.rmtree(dest, ignore_errors=True)
        started = time.perf_counter()
        summary = compact(data, dest)
        compact_seconds = time.perf_counter() - started
        print(
            f"compact: {summary.files_read} files -> {summary.days_written} Parquet files, "
            f"{summary.rows_written} rows, {summary.bytes_written / 1e6:.1f} MB in "
            f"{compact_seconds:.1f}s"
        )
    print("query: every event (full scan)" if args.full_scan else "query: the last hour")

    j_time, j_rows, j_bytes, j_files = best_run(data, args.runs, sql)
    p_time, p_rows, p_bytes, p_files = best_run(dest, args.runs, sql)
    print(f"   json: {j_time:7.3f}s  read {j_bytes / 1e6:9.1f} MB in {j_files} files")
    print(f"parquet: {p_time:7.3f}s  read {p_bytes / 1e6:9.1f} MB in {p_files} files")
    print()
    print(f"results identical: {j_rows == p_rows} ({len(j_rows)} groups)")
    print(f"parquet is {j_time / p_time:.1f}x faster (goal >= 20x)")
    print(f"parquet reads {j_bytes / max(p_bytes, 1):.1f}x fewer bytes (goal >= 10x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
