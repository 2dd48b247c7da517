"""Benchmark: the Spinnaker reference query over generated CloudTrail logs, spintrail's embedded
engine against DuckDB (``read_json`` + ``unnest(Records)``, its fastest form), chDB (ClickHouse
embedded: ``file(..., 'JSONEachRow', <schema of the queried fields>)`` + ``ARRAY JOIN``, its fastest
form) and the decompression floor (every file gunzipped with libdeflate on all cores, nothing
parsed: a Rust example of the core crate), in one run. Prints wall and CPU times, ratios and peak
memory, and checks that the engines' answers agree. Not a test: nothing here passes or fails on
timings.

    python benches/scan_vs_duckdb.py --events 1000000
    python benches/scan_vs_duckdb.py --events 1000000 --full-scan

The reference query asks for the last hour of the generated day. spintrail does not open a file
CloudTrail named for a delivery before that hour (a delivery holds only records written before
it), the others read every file; ``--full-scan`` asks for every event instead, so all engines read
all files and the ratios measure the JSON path itself.

Each engine runs in its own subprocess so its peak memory (max RSS) and CPU time are its own; the
engines take turns run by run, so a load that comes and goes weighs on all of them alike. The
floor is built with ``cargo build --release -p spintrail-core --example floor`` on
first use (or pass ``--floor-bin``).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ARN = "arn:aws:sts::123456789012:assumed-role/SpinnakerManagedCA/Spinnaker"
END = "2026-11-01T00:00:00Z"
SINCE = "2026-10-31T23:00:00Z"
ROOT = Path(__file__).resolve().parent.parent

# `--full-scan`: a start before every generated event, so every engine reads every file.
FULL_SCAN_SINCE = "2026-10-30T00:00:00Z"


def spintrail_sql(since: str) -> str:
    """The reference query (Spinnaker's errors since ``since``) in Athena's dialect."""
    return f"""
SELECT count(*) AS Total, eventname, errorcode, errormessage
FROM "default"."cloudtrail_logs"
WHERE useridentity.arn = '{ARN}'
        AND from_iso8601_timestamp(eventtime) > from_iso8601_timestamp('{since}')
GROUP BY  eventname, errorcode, errormessage
ORDER BY  Total desc
"""


SPINTRAIL_SQL = spintrail_sql(SINCE)

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

# Only the fields the query needs are declared; the rest of each record is skipped unparsed.
CHDB_SQL = """
SELECT count(*) AS Total, r.eventName AS eventname, r.errorCode AS errorcode,
       r.errorMessage AS errormessage
FROM file('{glob}', 'JSONEachRow',
    'Records Array(Tuple(eventTime String, eventName String, errorCode Nullable(String),
     errorMessage Nullable(String), userIdentity Tuple(arn Nullable(String))))')
ARRAY JOIN Records AS r
WHERE r.userIdentity.arn = '{arn}'
    AND parseDateTime64BestEffort(r.eventTime, 3, 'UTC')
        > parseDateTime64BestEffort('{since}', 3, 'UTC')
GROUP BY eventname, errorcode, errormessage
ORDER BY Total DESC
SETTINGS input_format_skip_unknown_fields = 1,
    input_format_json_ignore_unknown_keys_in_named_tuple = 1,
    output_format_json_quote_64bit_integers = 0
"""

# Imports are not timed: the clock and the CPU count start when the engine is loaded.
RUNNER = """
import json, resource, sys, time
engine, data, sql = sys.argv[1], sys.argv[2], sys.argv[3]
if engine == "spintrail":
    import spintrail
elif engine == "duckdb":
    import duckdb
else:
    import chdb
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
cpu_before = cpu()
started = time.perf_counter()
facts = {}
if engine == "spintrail":
    session = spintrail.connect(data)
    table = session.sql(sql)
    rows = [tuple(r.values()) for r in table.to_pylist()]
    stats = session.last_stats
    facts = {"files_read": stats.files_read, "records_read": stats.records_read}
elif engine == "duckdb":
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    rows = con.execute(sql).fetchall()
else:
    rows = json.loads(chdb.query(sql, "JSONCompact").bytes())["data"]
elapsed = time.perf_counter() - started
result = {
    "seconds": elapsed,
    "cpu": cpu() - cpu_before,
    "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    "rows": sorted([list(r) for r in rows], key=lambda r: [str(v) for v in r]),
    **facts,
}
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


def floor_binary(given: str | None) -> Path:
    """The decompression floor's binary: given, or built from the core crate's example."""
    if given:
        return Path(given)
    subprocess.run(
        ["cargo", "build", "--release", "-q", "--workspace", "--example", "floor"],
        cwd=ROOT,
        check=True,
    )
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "examples" / "floor"


def run_floor(binary: Path, data: Path, decode: bool = False) -> dict[str, Any]:
    """Gunzips (and with ``decode``, decodes with the reader) every file on all cores."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [str(binary), str(data), *(["--decode"] if decode else [])],
        capture_output=True,
        text=True,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    fields = next(x for x in out.stdout.splitlines() if x.startswith(("FLOOR", "DECODE"))).split()
    return {
        "seconds": float(fields[1]),
        "cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "peak_bytes": int(fields[6]),
        "files": int(fields[2]),
        "threads": int(fields[5]),
    }


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
    parser.add_argument(
        "--engines",
        default="spintrail,duckdb,chdb,floor",
        help="comma-separated: spintrail, duckdb, chdb, floor (libdeflate), reader (decode only)",
    )
    parser.add_argument("--floor-bin", help="the built floor example (else cargo builds it)")
    parser.add_argument(
        "--full-scan",
        action="store_true",
        help="query every event (not the last hour), so no engine can skip a file: the JSON "
        "path's own speed",
    )
    args = parser.parse_args()
    since = FULL_SCAN_SINCE if args.full_scan else SINCE

    import spintrail

    data, marker = generated(Path(args.data), args.events)
    files = sorted(glob.glob(str(data / "**" / "*.json.gz"), recursive=True))
    json_bytes = json.loads(marker.read_text())["bytes_uncompressed"]
    print(f"{len(files)} files, {json_bytes / 1e9:.2f} GB of JSON; cores: {os.cpu_count()}")
    print(f"spintrail {spintrail.__version__}; load average {os.getloadavg()[0]:.1f} at start")
    print(f"query: Spinnaker's errors since {since}" + (" (full scan)" if args.full_scan else ""))

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    sqls = {
        "spintrail": spintrail_sql(since),
        "duckdb": DUCKDB_SQL.format(
            files=json.dumps(files).replace('"', "'"), arn=ARN, since=since
        ),
        "chdb": CHDB_SQL.format(glob=data / "**" / "*.json.gz", arn=ARN, since=since),
    }
    binary = floor_binary(args.floor_bin) if {"floor", "reader"} & set(engines) else None
    runs: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    for _ in range(args.runs):
        for engine in engines:
            if engine in ("floor", "reader"):
                assert binary is not None
                runs[engine].append(run_floor(binary, data, decode=engine == "reader"))
            else:
                runs[engine].append(run_engine(engine, data, sqls[engine]))
    best = {e: min(rs, key=lambda r: float(r["seconds"])) for e, rs in runs.items()}
    labels = {"floor": "libdeflate", "reader": "reader"}
    for engine, r in best.items():
        times = " ".join(f"{float(x['seconds']):.2f}" for x in runs[engine])
        extra = f"{len(r['rows'])} groups" if "rows" in r else f"{r['threads']} threads"
        print(
            f"{labels.get(engine, engine):>10}: {float(r['seconds']):6.2f}s "
            f"(cpu {float(r['cpu']):6.2f}s)  peak {int(r['peak_bytes']) / 2**20:6.0f} MiB  "
            f"{extra}  [runs: {times}]"
        )
    print(f"load average {os.getloadavg()[0]:.1f} at the end")

    same = True
    if "spintrail" in best:
        s = best["spintrail"]
        print()
        print(
            f"spintrail read {s['files_read']} of {len(files)} files, {s['records_read']} records"
        )
        for other in ("duckdb", "chdb"):
            if other in best:
                agree = best[other]["rows"] == s["rows"]
                same = same and agree
                print(f"results identical to {other}: {agree}")
        for other in ("duckdb", "chdb", "floor", "reader"):
            if other in best:
                o = best[other]
                print(
                    f"spintrail / {labels.get(other, other)} time: "
                    f"{float(s['seconds']) / float(o['seconds']):.2f}x "
                    f"(cpu {float(s['cpu']) / float(o['cpu']):.2f}x)"
                )
        print(f"throughput: {json_bytes / float(s['seconds']) / 1e9:.2f} GB/s of JSON")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
