#!/usr/bin/env python3
"""Builds the seed corpora of the fuzz targets from the repository's own test inputs.

Usage: fuzz/make-corpus.py OUT_DIR  (creates OUT_DIR/read_log and OUT_DIR/sql; keep OUT_DIR
outside the repository, libFuzzer adds thousands of files to it).

- read_log: the real CloudTrail files of tests/data/real, whole (gzip) and cut into small plain
  and gzip pieces of a few records; each input starts with the byte that chooses the reader's
  options (see spintrail_core::fuzzing::read_log_bytes).
- sql: every SQL text written in the Python tests (string literals starting with SELECT or
  WITH), plus queries on the harness's edge-value table `t`.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Options bytes: bit 0 plain/gzip name, bits 1-2 layout, bit 3 key-layout partitions,
# bits 4-5 projection, bit 6 batch size 1, bit 7 skip bad records.
OPTION_BYTES = [0x00, 0x01, 0x8B, 0x5D, 0x26, 0xF1]

EXTRA_SQL = [
    "SELECT i, d, s, b, ts FROM t",
    "SELECT from_iso8601_timestamp(s) FROM t",
    "SELECT json_extract_scalar(s, '$.a[2].b'), json_array_length(s), json_parse(s) FROM t",
    "SELECT date_add('day', i, ts), date_diff('second', ts, now()), date_trunc('month', ts) FROM t",
    "SELECT regexp_extract(s, '(.)(.)?', 2), regexp_like(s, '^$'), split_part(s, ',', 2) FROM t",
    "SELECT try_cast(s AS bigint), cast(d AS varchar), cast(i AS double) / 0 FROM t",
    "SELECT approx_percentile(d, 0.5), map_agg(s, i), histogram(b), count_if(b) FROM t",
    "SELECT url_extract_host(s), url_decode(s), format_datetime(ts, 'yyyy-MM-dd HH:mm') FROM t",
    "SELECT element_at(split(s, ''), -1), cardinality(split(s, '')), substr(s, i, 2) FROM t",
    "SELECT x FROM t CROSS JOIN UNNEST(split(s, '')) AS u(x) WHERE i > 0",
]


def write(directory: Path, data: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)


def log_seeds(out: Path) -> int:
    count = 0
    for number, path in enumerate(sorted((ROOT / "tests/data/real").glob("*.json.gz"))):
        raw = path.read_bytes()
        write(out, bytes([0x00]) + raw)
        records = json.loads(gzip.decompress(raw))["Records"]
        for start in range(0, len(records), 4):
            piece = json.dumps({"Records": records[start : start + 4]}).encode()
            option = OPTION_BYTES[(start // 4 + number) % len(OPTION_BYTES)]
            if option & 1:
                write(out, bytes([option]) + piece)
            else:
                write(out, bytes([option]) + gzip.compress(piece, mtime=0))
            count += 1
    return count + 4


def sql_seeds(out: Path) -> int:
    texts = set(EXTRA_SQL)
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value.strip()
                if text[:6].upper() in ("SELECT", "WITH ") or text[:5].upper() == "WITH ":
                    texts.add(text)
    for text in texts:
        write(out, text.encode())
    return len(texts)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: make-corpus.py OUT_DIR")
    out = Path(sys.argv[1])
    logs = log_seeds(out / "read_log")
    sql = sql_seeds(out / "sql")
    print(f"{logs} read_log seeds, {sql} sql seeds in {out}")


if __name__ == "__main__":
    main()
