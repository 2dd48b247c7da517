"""Benchmark: the Spinnaker reference query over generated CloudTrail logs, spintrail's embedded
engine against DuckDB (``read_json`` + ``unnest(Records)``, its fastest form) and ``gzip -dc`` of
the same files, in one run. Prints times, ratios and peak memory. Not a test: nothing here passes
or fails on timings.

    python benches/scan_vs_duckdb.py --events 1000000

Each engine runs in its own subprocess so its peak memory (max RSS) is its own.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ARN = "arn:aws:sts::123456789012:assumed-role/SpinnakerManagedCA/Spinnaker"
END = "2026-11-01T00:00:00Z"
SINCE = "2026-10-31T23:00:00Z"

SPINTRAIL_SQL = f"""
SELECT count(*) AS Total, eventname, errorcode, errormessage
FROM "default"."cloudtrail_logs"
WHERE useridentity.arn = '{ARN}'
        AND from_iso8601_timestamp(eventtime) > from_iso8601_timestamp('{SINCE}')
GROUP BY  eventname, errorcode, errormessage
ORDER BY  Total desc
"""

DUCKDB_SQL = """
SELECT count(*) AS Total, r.eventName AS eventname, r.errorCode AS errorcode,
       r.errorMessage AS errormessage
FROM (
    SELECT unnest(Records) AS r
    FROM read_json({files}, format='auto', maximum_object_size=268435456)
)
WHERE r.userIdentity.arn = '{arn}' AND CAST(r.eventTime AS TIMESTAMPTZ) > TIMESTAMPTZ '{since}'
GROUP BY ALL
ORDER BY Total DESC
"""

RUNNER = """
import json, resource, sys, time
engine, data, sql = sys.argv[1], sys.argv[2], sys.argv[3]
started = time.perf_counter()
if engine == "spintrail":
    import spintrail
    table = spintrail.connect(data).sql(sql)
    rows = sorted(tuple(r.values()) for r in table.to_pylist())
else:
    import duckdb
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    rows = sorted(con.execute(sql).fetchall())
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
result = {"seconds": elapsed, "peak_bytes": peak, "rows": [list(r) for r in rows]}
print("RESULT " + json.dumps(result, default=str))
"""


def run_engine(engine: str, data: Path, sql: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", RUNNER, engine, str(data), sql],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


def gunzip_seconds(files: list[str]) -> float:
    started = time.perf_counter()
    for i in range(0, len(files), 200):
        subprocess.run(["gzip", "-dc", *files[i : i + 200]], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def generated(folder: Path, events: int) -> tuple[Path, Path]:
    """The benchmark's logs (one day of ``events``, seed 7), generated on first use; returns
    their folder and the marker file holding the generator's summary."""
    from spintrail.generate import generate

    data = folder / f"{events}"
    marker = data / ".complete"
    if not marker.exists():
        print(f"generating {events} events into {data}/ ...", flush=True)
        started = time.perf_counter()
        summary = generate(data, events=events, days=1, end=END, seed=7)
        marker.write_text(json.dumps(summary.__dict__))
        print(
            f"  {summary.files} files, {summary.bytes_uncompressed / 1e9:.2f} GB JSON, "
            f"{summary.bytes_written / 1e6:.0f} MB gzip in {time.perf_counter() - started:.1f}s"
        )
    return data, marker


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--data", default="bench-data", help="folder for the generated logs")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per engine (best kept)")
    args = parser.parse_args()

    import spintrail

    data, marker = generated(Path(args.data), args.events)
    files = sorted(glob.glob(str(data / "**" / "*.json.gz"), recursive=True))
    json_bytes = json.loads(marker.read_text())["bytes_uncompressed"]
    print(f"{len(files)} files, {json_bytes / 1e9:.2f} GB of JSON; cores: {os.cpu_count()}")
    print(f"spintrail {spintrail.__version__}")

    duck_sql = DUCKDB_SQL.format(files=json.dumps(files).replace('"', "'"), arn=ARN, since=SINCE)
    results: dict[str, dict[str, Any]] = {}
    for engine, sql in (("spintrail", SPINTRAIL_SQL), ("duckdb", duck_sql)):
        best: dict[str, Any] | None = None
        for _ in range(args.runs):
            r = run_engine(engine, data, sql)
            if best is None or float(r["seconds"]) < float(best["seconds"]):
                best = r
        assert best is not None
        results[engine] = best
        print(
            f"{engine:>10}: {float(best['seconds']):6.2f}s  "
            f"peak {int(best['peak_bytes']) / 2**20:7.0f} MiB  "
            f"{len(best['rows'])} groups"
        )
    gz = gunzip_seconds(files)
    print(f"{'gzip -dc':>10}: {gz:6.2f}s  (one process, decompression only)")

    same = results["spintrail"]["rows"] == results["duckdb"]["rows"]
    s = float(results["spintrail"]["seconds"])
    d = float(results["duckdb"]["seconds"])
    print()
    print(f"results identical: {same}")
    print(f"spintrail / duckdb time: {s / d:.2f}x  ({'faster' if s < d else 'slower'})")
    print(f"spintrail / gzip -dc time: {s / gz:.2f}x")
    print(f"throughput: {json_bytes / s / 1e9:.2f} GB/s of JSON")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
