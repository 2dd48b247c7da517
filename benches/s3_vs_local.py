"""Benchmark: the same scan over generated CloudTrail logs read from S3 (a moto server started
here, on loopback) and from local disk, in one run. Prints throughput of each and the ratio (the
issue's goal: S3 within 2x of local), and the server's own floor: the time to merely GET every
object from the same moto server with plain HTTP on 32 threads, no parsing — what any S3 client
would wait for on this server. Not a test: nothing here passes or fails on timings.

    python benches/s3_vs_local.py --events 200000

Needs moto's server (``pip install 'moto[server]'``) and boto3 for the upload.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import spintrail
from spintrail.generate import generate

SQL = "SELECT eventname, count(*) AS n FROM cloudtrail_logs GROUP BY eventname ORDER BY n DESC"
BUCKET = "bench-trail"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/moto-api/", timeout=1) as answer:
                answer.read()
            return process, url
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.1)


def s3_client(url: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def upload(url: str, root: Path) -> list[str]:
    s3 = s3_client(url)
    s3.create_bucket(Bucket=BUCKET)
    keys = [p.relative_to(root).as_posix() for p in sorted(root.rglob("*.json.gz"))]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=(root / key).read_bytes())
    return keys


def get_floor(url: str, keys: list[str], runs: int) -> float:
    """Best time to GET every object over plain HTTP (presigned URLs, signed beforehand), 32 in
    flight: the server's floor for any client."""
    from concurrent.futures import ThreadPoolExecutor

    s3 = s3_client(url)
    urls = [
        s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": k}) for k in keys
    ]

    def get(signed: str) -> int:
        with urllib.request.urlopen(signed, timeout=60) as answer:
            return len(answer.read())

    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        with ThreadPoolExecutor(32) as pool:
            sum(pool.map(get, urls))
        best = min(best, time.perf_counter() - started)
    return best


def timed(session: spintrail.Session, runs: int) -> tuple[float, list[object]]:
    best = float("inf")
    rows: list[object] = []
    for _ in range(runs):
        started = time.perf_counter()
        rows = session.sql(SQL).to_pylist()
        best = min(best, time.perf_counter() - started)
    return best, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--events-per-file", type=int, default=1250)
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs each")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "logs"
        generate(root, events=args.events, events_per_file=args.events_per_file, seed=7)
        size = sum(p.stat().st_size for p in root.rglob("*.json.gz"))
        process, url = start_moto()
        try:
            keys = upload(url, root)
            objects = len(keys)
            for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                os.environ.setdefault(name, "testing")
            os.environ.setdefault("AWS_REGION", "us-east-1")
            remote = spintrail.connect(f"s3://{BUCKET}/", endpoint_url=url)
            local = spintrail.connect(root)
            local_time, local_rows = timed(local, args.runs)
            s3_time, s3_rows = timed(remote, args.runs)
            floor = get_floor(url, keys, args.runs)
        finally:
            process.terminate()
            process.wait()
    if s3_rows != local_rows:
        print("the answers differ between S3 and local disk", file=sys.stderr)
        return 1
    mb = size / 1e6
    print(f"{args.events} events, {objects} objects, {mb:.1f} MB gzip (best of {args.runs})")
    print(f"local disk: {local_time:.3f} s  {mb / local_time:8.1f} MB/s")
    print(f"S3 (moto):  {s3_time:.3f} s  {mb / s3_time:8.1f} MB/s")
    print(f"GET floor:  {floor:.3f} s  {mb / floor:8.1f} MB/s (plain GETs of every object)")
    print(f"S3 / local: {s3_time / local_time:.2f}x the time (goal: within 2x)")
    print(f"S3 / GET floor: {s3_time / floor:.2f}x (how much the query adds to the server's time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
