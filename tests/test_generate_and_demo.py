"""Synthetic Spinnaker logs through the public API and CLI, queried with the ready-made
Spinnaker queries and cross-checked against DuckDB on the same files."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
import spintrail
from spintrail import queries
from spintrail.generate import generate

END = datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    summary = generate(
        out, events=20_000, days=2, end=END, seed=3, regions=["us-east-1", "eu-west-1"]
    )
    assert summary.events == 20_000
    assert summary.files > 0
    return out


def test_generate_is_deterministic(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", events=3000, end=END, seed=11)
    b = generate(tmp_path / "b", events=3000, end=END, seed=11)
    assert a == b
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.json.gz"))
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.json.gz"))
    assert files_a == files_b
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_generate_rejects_bad_options(tmp_path: Path) -> None:
    with pytest.raises(spintrail.InvalidArgumentError, match="account"):
        generate(tmp_path, events=10, accounts=["12"])
    with pytest.raises(spintrail.InvalidArgumentError):
        generate(tmp_path, events=10, end="yesterday")
    assert not any(tmp_path.iterdir())


def test_generated_logs_load_completely(logs: Path) -> None:
    session = spintrail.connect(logs)
    table = session.sql("SELECT count(*) AS n, count(DISTINCT day) AS days FROM cloudtrail_logs")
    row = table.to_pylist()[0]
    assert row["n"] == 20_000
    assert row["days"] in (2, 3)
    stats = session.last_stats
    assert stats is not None and stats.records_rejected == 0


def test_spinnaker_calls_by_api_match_duckdb(logs: Path) -> None:
    session = spintrail.connect(logs)
    ours = session.sql(queries.calls_by_api(limit=1000)).to_pylist()
    files = sorted(str(p) for p in logs.rglob("*.json.gz"))
    con = duckdb.connect()
    theirs = con.execute(
        f"""
        SELECT r.eventSource, r.eventName, count(*) AS calls,
               count(*) FILTER (WHERE r.errorCode IS NOT NULL) AS errors
        FROM (SELECT unnest(Records) AS r FROM read_json({files!r}, format='auto',
              maximum_object_size=268435456))
        WHERE r.userIdentity.sessionContext.sessionIssuer.userName = 'SpinnakerManagedCA'
           OR r.userAgent LIKE '%spinnaker%'
        GROUP BY 1, 2
        """
    ).fetchall()
    assert {(r["eventsource"], r["eventname"]): (r["calls"], r["errors"]) for r in ours} == {
        (s, n): (c, e) for s, n, c, e in theirs
    }
    assert sum(r["throttled"] for r in ours) > 0


def test_throttling_by_hour_finds_spikes(logs: Path) -> None:
    table = spintrail.connect(logs).sql(queries.throttling_by_hour())
    assert table.num_rows > 0
    codes = set(table.column("errorcode").to_pylist())
    assert codes <= set(queries.THROTTLING_CODES)
    assert "Client.RequestLimitExceeded" in codes


def test_reference_query_sees_the_last_hour(tmp_path: Path) -> None:
    generate(tmp_path, events=5000, end=datetime.now(timezone.utc) - timedelta(minutes=1))
    table = spintrail.connect(tmp_path).sql(queries.reference())
    assert table.column_names == ["total", "eventname", "errorcode", "errormessage"]
    assert table.num_rows > 0
    assert sum(table.column("total").to_pylist()) > 0


def test_throttling_timeline_has_hourly_rows(logs: Path) -> None:
    rows = spintrail.connect(logs).sql(queries.throttling_timeline()).to_pylist()
    assert 24 <= len(rows) <= 49
    assert sum(r["calls"] for r in rows) > 10_000
    assert max(r["throttled_pct"] for r in rows) > 5 * min(r["throttled_pct"] for r in rows)


def test_pipeline_attribution(logs: Path) -> None:
    rows = spintrail.connect(logs).sql(queries.pipeline_attribution()).to_pylist()
    assert rows
    assert all(len(r["execution_id"]) == 26 for r in rows)
    assert all(r["spinnaker_user"] for r in rows)


def test_query_parameters_are_checked() -> None:
    with pytest.raises(spintrail.InvalidArgumentError):
        queries.reference(account="1; DROP TABLE x")
    with pytest.raises(spintrail.InvalidArgumentError):
        queries.reference(role="a'b")


def test_cli_generate_then_demo(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "spintrail.cli",
            "generate",
            "--out",
            str(tmp_path / "g"),
            "--events",
            "2000",
            "--seed",
            "5",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "wrote 2000 events" in out.stdout

    demo = subprocess.run(
        [
            sys.executable,
            "-m",
            "spintrail.cli",
            "demo",
            "--dir",
            str(tmp_path / "demo"),
            "--events",
            "20000",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stderr
    text = demo.stdout
    assert "The reference query" in text
    assert "total | eventname" in text
    assert "Client.RequestLimitExceeded" in text or "Throttling" in text
    assert text.count("scanned") == 6
    assert "The set-up guide's Logs Insights query" in text
    assert "serviceLimits:" in text
    assert "ThrottlingException" in text or "RequestLimitExceeded" in text
    report = tmp_path / "demo" / "report.html"
    assert f"An HTML report with charts, for a browser: {report}" in text
    assert "<svg" in report.read_text() or "vegaEmbed" in report.read_text()
