"""Benchmark: the whole HTML report against the reference query alone, on the same generated logs
and the embedded engine, in one run. Prints both times, their ratio and each one's peak memory.
Not a test: nothing here passes or fails on timings.

    python benches/report_vs_query.py --events 1000000

The report asks a dozen questions of a day of events (headline, five charts, five tables, data
freshness); it reads the logs once and asks the rest of an in-memory copy of the window, so its
time should stay within a small multiple of one scan. Each side runs in its own subprocess so its
peak memory (max RSS) is its own. Uses the data folder of ``scan_vs_duckdb.py``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from scan_vs_duckdb import END, SPINTRAIL_SQL, generated

RUNNER = """
import json, resource, sys, tempfile, time
import spintrail
kind, data, sql, end = sys.argv[1:5]
session = spintrail.connect(data)
started = time.perf_counter()
if kind == "query":
    rows = session.sql(sql).num_rows
    facts = {"rows": rows}
else:
    with tempfile.TemporaryDirectory() as out:
        result = spintrail.report(session, since="24h", until=end, out=out + "/report.html")
    facts = {"queries": result.queries, "failed": list(result.failed),
             "bytes_read": result.bytes_read}
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print("RESULT " + json.dumps({"seconds": elapsed, "peak_bytes": peak, **facts}))
"""


def run(kind: str, data: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", RUNNER, kind, str(data), SPINTRAIL_SQL, END],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--data", default="bench-data", help="folder for the generated logs")
    parser.add_argument("--runs", type=int, default=2, help="timed runs per side (best kept)")
    args = parser.parse_args()

    data, _ = generated(Path(args.data), args.events)

    best: dict[str, dict[str, Any]] = {}
    for kind in ("query", "report"):
        for _ in range(args.runs):
            r = run(kind, data)
            if kind not in best or r["seconds"] < best[kind]["seconds"]:
                best[kind] = r
        b = best[kind]
        extra = (
            f"{b['rows']} rows"
            if kind == "query"
            else f"{b['queries']} queries, {b['bytes_read'] / 1e9:.2f} GB read"
        )
        print(f"{kind:>7}: {b['seconds']:6.2f}s  peak {b['peak_bytes'] / 2**20:7.0f} MiB  {extra}")
    failed = best["report"]["failed"]
    for line in failed:
        print(f"  failed section: {line}")
    ratio = best["report"]["seconds"] / best["query"]["seconds"]
    print(f"\nreport / reference query time: {ratio:.2f}x")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
