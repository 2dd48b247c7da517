"""The ``spintrail`` command line: query formats and inputs, generate, demo, errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import spintrail
from conftest import CONFORMING
from spintrail.cli import main

TOTAL = sum(CONFORMING.values())


def run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spintrail.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_query_prints_a_table(flat: Path) -> None:
    out = run(
        [
            "query",
            "--source",
            str(flat),
            "SELECT eventsource, count(*) AS n FROM cloudtrail_logs "
            "GROUP BY 1 ORDER BY n DESC, 1 LIMIT 3",
        ]
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split("|")[0].strip() == "eventsource"
    assert set(lines[1]) <= {"-", "+"}
    assert lines[-1] == "(3 rows)"


def test_explain_prints_the_plan_lines_whole(flat: Path) -> None:
    query = (
        "SELECT useridentity.arn, count(*) AS n FROM cloudtrail_logs "
        "WHERE eventname LIKE 'Describe%' GROUP BY 1"
    )
    out = run(["query", "--source", str(flat), f"EXPLAIN {query}"])
    assert out.returncode == 0, out.stderr
    plan = spintrail.connect(flat).explain(query)
    assert out.stdout == plan.rstrip("\n") + "\n"
    assert "CloudTrailScanExec" in out.stdout and "…" not in out.stdout


def test_query_csv_from_stdin(flat: Path) -> None:
    out = run(
        ["query", "--source", str(flat), "--format", "csv"],
        stdin="SELECT count(*) AS n FROM cloudtrail_logs",
    )
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert rows == [{"n": str(TOTAL)}]


def test_query_json_from_file(flat: Path, tmp_path: Path) -> None:
    sql = tmp_path / "q.sql"
    sql.write_text(
        "SELECT eventname, from_iso8601_timestamp(eventtime) AS t FROM cloudtrail_logs "
        "ORDER BY t, eventname LIMIT 2"
    )
    out = run(["query", "-s", str(flat), "--file", str(sql), "--format", "json"])
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert len(rows) == 2
    assert set(rows[0]) == {"eventname", "t"}
    assert rows[0]["t"].endswith("Z") or "+00:00" in rows[0]["t"]


def test_query_parquet_output(flat: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    code = main(
        [
            "query",
            "-s",
            str(flat),
            "--format",
            "parquet",
            "--output",
            str(target),
            "SELECT eventname, useridentity FROM cloudtrail_logs",
        ]
    )
    assert code == 0
    table = pq.read_table(target)
    assert table.num_rows == TOTAL
    assert table.schema.field("useridentity").type.num_fields > 5


def test_parquet_needs_an_output_file(flat: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["query", "-s", str(flat), "--format", "parquet", "SELECT 1"])
    assert code == 2
    assert "--output" in capsys.readouterr().err


def test_sql_error_exits_2_with_a_message(flat: Path) -> None:
    out = run(["query", "-s", str(flat), "SELECT nope( FROM cloudtrail_logs"])
    assert out.returncode == 2
    assert out.stderr.startswith("spintrail: error: ")
    assert "Traceback" not in out.stderr


def test_missing_source_exits_2(tmp_path: Path) -> None:
    out = run(["query", "-s", str(tmp_path / "absent"), "SELECT 1"])
    assert out.returncode == 2
    assert "absent" in out.stderr


def test_on_error_skip_reports_on_stderr(tmp_path: Path, real_dir: Path) -> None:
    (tmp_path / "bad.json.gz").write_bytes(
        (real_dir / "panther-analysis.nonconforming.json.gz").read_bytes()
    )
    out = run(
        [
            "query",
            "-s",
            str(tmp_path),
            "--on-error",
            "skip",
            "--format",
            "csv",
            "SELECT count(*) AS n FROM cloudtrail_logs",
        ]
    )
    assert out.returncode == 0, out.stderr
    assert "skipped" in out.stderr
    assert "bad.json.gz: record" in out.stderr


def test_an_output_file_that_cannot_be_written_is_named(flat: Path, tmp_path: Path) -> None:
    target = tmp_path / "missing-folder" / "out.csv"
    out = run(
        [
            "query",
            "--source",
            str(flat),
            "--format",
            "csv",
            "--output",
            str(target),
            "SELECT 1 AS x",
        ]
    )
    assert out.returncode == 2
    assert "cannot write the result" in out.stderr and "out.csv" in out.stderr
    assert "Traceback" not in out.stderr


def test_an_invalid_log_file_is_an_error_message_not_a_traceback(real_dir: Path) -> None:
    out = run(["query", "--source", str(real_dir), "SELECT count(*) AS n FROM cloudtrail_logs"])
    assert out.returncode == 2
    assert "spintrail: error:" in out.stderr and "nonconforming.json.gz" in out.stderr
    assert "Traceback" not in out.stderr
