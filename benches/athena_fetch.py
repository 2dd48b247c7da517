"""Benchmark: fetching an Athena result of 100,000 rows by paging through GetQueryResults versus
the fast path (the CSV result object in S3, read with parallel ranged GETs), against a local moto
server (``tests/athena_moto.py``, which pages like Athena: 1,000 rows per call). Prints times and
the ratio. Not a test: nothing here passes or fails on timings.

    python benches/athena_fetch.py --rows 100000

Against moto both paths pay local HTTP only; on AWS each page is a round trip of tens of
milliseconds, so paging falls further behind than here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from moto_server import MotoServer, moto_server  # noqa: E402

REGION = "us-east-1"
COLUMNS = [
    ("eventtime", "timestamp"),
    ("eventsource", "varchar"),
    ("eventname", "varchar"),
    ("errorcode", "varchar"),
    ("calls", "bigint"),
    ("latency", "double"),
]


def seed(server: MotoServer, rows: int) -> None:
    info = [{"Name": n, "Label": n, "Type": t, "Precision": 0, "Scale": 0} for n, t in COLUMNS]
    header = {"Data": [{"VarCharValue": n} for n, _ in COLUMNS]}
    data = [header]
    for i in range(rows):
        values = [
            f"2026-11-01 00:{i // 60 % 60:02d}:{i % 60:02d}.000",
            "ec2.amazonaws.com",
            ("DescribeInstances", "RunInstances", "DescribeImages")[i % 3],
            "ThrottlingException" if i % 17 == 0 else None,
            str(i),
            f"{i / 7:.6f}",
        ]
        data.append({"Data": [{} if v is None else {"VarCharValue": v} for v in values]})
    body = json.dumps({"region": REGION, "results": [{"rows": data, "column_info": info}]}).encode()
    request = urllib.request.Request(
        server.url + "/moto-api/static/athena/query-results", data=body, method="POST"
    )
    with urllib.request.urlopen(request, timeout=120) as answer:
        answer.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per path (best is shown)")
    args = parser.parse_args()

    for name, value in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", REGION),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]:
        os.environ[name] = value
    import boto3
    import spintrail

    with moto_server(str(HERE.parent / "tests" / "athena_moto.py")) as server:
        boto3.client("s3", region_name=REGION, endpoint_url=server.url).create_bucket(
            Bucket="bench-results"
        )
        session = spintrail.connect(
            engine="athena",
            workgroup="primary",
            endpoint_url=server.url,
            output_location="s3://bench-results/athena/",
        )
        best: dict[str, float] = {}
        shape: dict[str, tuple[int, int]] = {}
        for _ in range(args.repeat):
            for fetch in ("pages", "csv"):
                seed(server, args.rows)
                started = time.perf_counter()
                table = session.sql("SELECT * FROM bench", fetch=fetch)  # type: ignore[arg-type]
                elapsed = time.perf_counter() - started
                best[fetch] = min(best.get(fetch, float("inf")), elapsed)
                shape[fetch] = (table.num_rows, table.num_columns)
        assert shape["pages"] == shape["csv"] == (args.rows, len(COLUMNS)), shape
        print(f"{args.rows} rows x {len(COLUMNS)} columns, best of {args.repeat}:")
        print(f"  paging (GetQueryResults, 1,000 rows/call): {best['pages']:.3f} s")
        print(f"  fast path (S3 result object, ranged GETs): {best['csv']:.3f} s")
        print(f"  paging / fast path = {best['pages'] / best['csv']:.1f}x")


if __name__ == "__main__":
    main()
