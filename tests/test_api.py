"""The Python API of the embedded engine: results, streaming, async, statistics and errors."""

from __future__ import annotations

import asyncio
import gzip
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest
import spintrail
from conftest import CONFORMING, NONCONFORMING
from spintrail.generate import generate

TOTAL = sum(CONFORMING.values())


def test_sql_returns_a_pyarrow_table(layout: Path) -> None:
    session = spintrail.connect(layout)
    table = session.sql("SELECT count(*) AS n FROM cloudtrail_logs")
    assert isinstance(table, pa.Table)
    assert table.column_names == ["n"]
    assert table.schema.field("n").type == pa.int64()
    assert table.column("n").to_pylist() == [TOTAL]


def test_full_schema_is_the_table_contract(flat: Path) -> None:
    table = spintrail.connect(flat).sql("SELECT * FROM cloudtrail_logs LIMIT 5")
    names = table.column_names
    assert len(names) == 32
    assert names[:3] == ["eventversion", "useridentity", "eventtime"]
    assert names[-3:] == ["account", "region", "day"]
    schema = table.schema
    assert schema.field("readonly").type == pa.string()
    assert schema.field("requestparameters").type == pa.string()
    assert pa.types.is_struct(schema.field("useridentity").type)
    resources = schema.field("resources").type
    assert pa.types.is_list(resources)
    assert [f.name for f in resources.value_type] == ["arn", "accountid", "type"]


def test_to_pandas_and_polars(flat: Path) -> None:
    session = spintrail.connect(flat)
    table = session.sql(
        "SELECT eventsource, count(*) AS n FROM cloudtrail_logs GROUP BY 1 ORDER BY n DESC, 1"
    )
    df = table.to_pandas()
    assert df["n"].sum() == TOTAL
    import polars as pl

    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    assert frame["n"].sum() == TOTAL


def test_struct_access_matches_python_json(flat: Path) -> None:
    session = spintrail.connect(flat / "stratus-red-team.json.gz")
    got = session.sql(
        "SELECT eventid, useridentity.sessioncontext.sessionissuer.username AS issuer "
        "FROM cloudtrail_logs"
    ).to_pylist()
    import json

    with gzip.open(flat / "stratus-red-team.json.gz") as f:
        records = json.load(f)["Records"]
    expected = {
        r["eventID"]: r.get("userIdentity", {})
        .get("sessionContext", {})
        .get("sessionIssuer", {})
        .get("userName")
        for r in records
    }
    assert {row["eventid"]: row["issuer"] for row in got} == expected


def test_stream_yields_batches_and_stats(layout: Path) -> None:
    session = spintrail.connect(layout, batch_size=100)
    reader = session.sql_stream("SELECT eventname, day FROM cloudtrail_logs")
    assert isinstance(reader, pa.RecordBatchReader)
    rows = 0
    batches = 0
    for batch in reader:
        rows += batch.num_rows
        batches += 1
        assert batch.num_rows <= 100
    assert rows == TOTAL
    assert batches >= TOTAL // 100
    stats = session.last_stats
    assert stats is not None
    assert stats.records_read == TOTAL
    assert stats.files_read == 3


def test_stream_exports_the_c_stream_interface(flat: Path) -> None:
    session = spintrail.connect(flat)
    inner = session._inner.sql_stream("SELECT eventname FROM cloudtrail_logs")
    assert hasattr(inner, "__arrow_c_stream__")
    table = pa.table(inner)
    assert table.num_rows == TOTAL


async def test_sql_async(flat: Path) -> None:
    session = spintrail.connect(flat)
    results = await asyncio.gather(
        session.sql_async("SELECT count(*) AS n FROM cloudtrail_logs"),
        session.sql_async("SELECT count(DISTINCT eventsource) AS n FROM cloudtrail_logs"),
    )
    assert results[0].column("n").to_pylist() == [TOTAL]
    assert results[1].column("n").to_pylist()[0] > 10


async def test_sql_async_cancellation(flat: Path) -> None:
    session = spintrail.connect(flat)
    endless = (
        "SELECT count(*) FROM cloudtrail_logs a, cloudtrail_logs b, cloudtrail_logs c, "
        "cloudtrail_logs d"
    )
    task = asyncio.ensure_future(session.sql_async(endless))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The session still works after a cancelled query.
    table = await session.sql_async("SELECT count(*) AS n FROM cloudtrail_logs")
    assert table.column("n").to_pylist() == [TOTAL]


def test_ctrl_c_interrupts_a_running_query_and_the_gil_is_free(flat: Path) -> None:
    # The query never ends on its own. The timer thread can only send SIGINT if the query
    # released the GIL, and the query only stops if it watches for signals.
    script = textwrap.dedent(
        f"""
        import os, signal, threading, time, spintrail
        # A child of a shell job started in the background inherits SIGINT as ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        session = spintrail.connect({str(flat)!r})
        threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        started = time.monotonic()
        try:
            session.sql("SELECT count(*) FROM cloudtrail_logs a, cloudtrail_logs b, "
                        "cloudtrail_logs c, cloudtrail_logs d")
        except KeyboardInterrupt:
            print("interrupted after", round(time.monotonic() - started, 1))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert "interrupted after" in out.stdout, out.stderr


def test_partition_pruning_is_reported(layout: Path) -> None:
    session = spintrail.connect(layout)
    table = session.sql(
        "SELECT count(*) AS n FROM cloudtrail_logs WHERE account = '111111111111' "
        "AND day = '2024/07/30'"
    )
    assert table.column("n").to_pylist() == [310]
    stats = session.last_stats
    assert stats is not None
    assert (stats.files_listed, stats.files_pruned, stats.files_read) == (3, 2, 1)
    assert stats.files_excluded == 1
    assert "1 files" in stats.summary()


def test_missing_source_raises_source_error(tmp_path: Path) -> None:
    with pytest.raises(spintrail.SourceError, match="nothing-here"):
        spintrail.connect(tmp_path / "nothing-here")
    with pytest.raises(spintrail.InvalidArgumentError):
        spintrail.connect([])
    # S3 sources are read in place (tests/test_s3.py); a malformed URL is refused at once.
    with pytest.raises(spintrail.SourceError, match="not an S3 bucket name"):
        spintrail.connect("s3://Bad_Bucket/AWSLogs/")


def test_bad_arguments(flat: Path) -> None:
    with pytest.raises(spintrail.InvalidArgumentError, match="on_error"):
        spintrail.connect(flat, on_error="ignore")  # type: ignore[arg-type]
    with pytest.raises(spintrail.InvalidArgumentError, match="engine"):
        spintrail.connect(flat, engine="presto")  # type: ignore[arg-type]
    with pytest.raises(spintrail.InvalidArgumentError, match="table name"):
        spintrail.connect(flat, table="drop table x")


def test_configurable_names(flat: Path) -> None:
    session = spintrail.connect(flat, database="audit", table="trail")
    assert session.sql('SELECT count(*) AS n FROM "audit"."trail"').column("n")[0].as_py() == TOTAL
    assert session.sql("SELECT count(*) AS n FROM trail").column("n")[0].as_py() == TOTAL


def test_syntax_error_names_the_position(flat: Path) -> None:
    session = spintrail.connect(flat)
    with pytest.raises(spintrail.SqlError, match=r"(?i)line.*column"):
        session.sql("SELECT count(* FROM cloudtrail_logs")


def test_unknown_column_is_a_sql_error(flat: Path) -> None:
    with pytest.raises(spintrail.SqlError, match="no_such_column"):
        spintrail.connect(flat).sql("SELECT no_such_column FROM cloudtrail_logs")


def test_unknown_function_is_named(flat: Path) -> None:
    with pytest.raises(spintrail.UnsupportedFunctionError, match="levenshtein_distance2"):
        spintrail.connect(flat).sql("SELECT levenshtein_distance2(eventname) FROM cloudtrail_logs")


def test_errors_share_one_base_class() -> None:
    for cls in (
        spintrail.SourceError,
        spintrail.LogFileError,
        spintrail.SqlError,
        spintrail.UnsupportedFunctionError,
        spintrail.InvalidArgumentError,
        spintrail.QueryCancelledError,
        spintrail.EngineError,
        spintrail.AthenaError,
        spintrail.AthenaQueryError,
        spintrail.QueryTimeoutError,
        spintrail.AthenaResultError,
        spintrail.ProvisionError,
        spintrail.OutputError,
    ):
        assert issubclass(cls, spintrail.SpintrailError)
    assert spintrail.SpintrailError.__module__ == "spintrail"
    # Writing files is an OS matter: OutputError is also an OSError.
    assert issubclass(spintrail.OutputError, OSError)
    assert spintrail.OutputError.__module__ == "spintrail"


def test_nonconforming_file_raises_with_file_and_record(tmp_path: Path) -> None:
    shutil.copy(NONCONFORMING, tmp_path / "bad.json.gz")
    session = spintrail.connect(tmp_path)
    with pytest.raises(spintrail.LogFileError, match=r"bad\.json\.gz: record 0: eventTime"):
        session.sql("SELECT count(*) FROM cloudtrail_logs")


def test_on_error_skip_reports_every_problem(tmp_path: Path, real_dir: Path) -> None:
    shutil.copy(NONCONFORMING, tmp_path / "bad.json.gz")
    shutil.copy(real_dir / "otrf-security-datasets.json.gz", tmp_path / "good.json.gz")
    (tmp_path / "truncated.json.gz").write_bytes(
        (real_dir / "stratus-red-team.json.gz").read_bytes()[:5000]
    )
    (tmp_path / "not-cloudtrail.json").write_text('{"hello": "world"}')
    session = spintrail.connect(tmp_path, on_error="skip")
    n = session.sql("SELECT count(*) AS n FROM cloudtrail_logs").column("n")[0].as_py()
    stats = session.last_stats
    assert stats is not None
    assert stats.files_skipped == 2
    assert stats.files_read == 2
    assert stats.records_read == 165 + 103
    assert n == stats.rows == 165 + 103 - stats.records_rejected
    assert len(stats.problems) == stats.records_rejected + 2
    reasons = {Path(p.path).name: p.reason for p in stats.problems if p.record is None}
    assert "corrupt gzip" in reasons["truncated.json.gz"]
    assert "not a CloudTrail log file" in reasons["not-cloudtrail.json"]
    record_problems = [p for p in stats.problems if p.record is not None]
    assert all(Path(p.path).name == "bad.json.gz" for p in record_problems)
    assert "record" in str(record_problems[0])


def test_explain_shows_the_scan(layout: Path) -> None:
    plan = spintrail.connect(layout).explain(
        "SELECT eventname FROM cloudtrail_logs WHERE region = 'eu-west-1'"
    )
    assert "CloudTrailScanExec: files=1" in plan


def test_an_explain_statement_answers_with_the_plan(layout: Path) -> None:
    session = spintrail.connect(layout)
    query = (
        "SELECT eventname, count(*) AS n FROM cloudtrail_logs WHERE region = 'eu-west-1' GROUP BY 1"
    )
    plan = session.sql(f"EXPLAIN {query}")
    assert plan.column_names == ["Query Plan"]
    lines = plan.column("Query Plan").to_pylist()
    assert "\n".join(lines) == session.explain(query).rstrip("\n")
    assert any("CloudTrailScanExec: files=1" in line for line in lines)
    assert session.last_stats is not None and session.last_stats.files_read == 0
    # ANALYZE runs it: the plan carries what each step did, and the stats what was read.
    analyzed = session.sql(f"explain analyze {query}").column("Query Plan").to_pylist()
    scan = next(line for line in analyzed if "CloudTrailScanExec" in line)
    assert "output_rows=" in scan and "read_time=" in scan, scan
    assert session.last_stats is not None and session.last_stats.files_read == 1
    with pytest.raises(spintrail.SqlError, match=r"EXPLAIN .*not `DROP TABLE"):
        session.sql("DROP TABLE cloudtrail_logs")


def test_a_struct_column_is_decoded_only_in_the_fields_a_query_reads(layout: Path) -> None:
    session = spintrail.connect(layout)
    fields = (
        "SELECT eventid, useridentity.arn AS arn, "
        "useridentity.sessioncontext.sessionissuer.username AS issuer, "
        "useridentity.sessioncontext.attributes.mfaauthenticated AS mfa "
        "FROM cloudtrail_logs WHERE useridentity.type IS NOT NULL"
    )
    plan = session.explain(fields)
    assert "useridentity{arn, sessioncontext, type}" in plan
    # The same question over the whole column (read bare in the inner query) answers the same.
    whole = (
        "SELECT eventid, u.arn AS arn, u.sessioncontext.sessionissuer.username AS issuer, "
        "u.sessioncontext.attributes.mfaauthenticated AS mfa "
        "FROM (SELECT eventid, useridentity AS u FROM cloudtrail_logs) s WHERE u.type IS NOT NULL"
    )
    whole_plan = session.explain(whole)
    assert "useridentity" in whole_plan and "useridentity{" not in whole_plan

    def rows(sql: str) -> list[tuple[object, ...]]:
        return sorted((tuple(r.values()) for r in session.sql(sql).to_pylist()), key=repr)

    answer = rows(fields)
    assert answer == rows(whole)
    assert len(answer) > 100 and any(r[2] is not None for r in answer)
    # The column itself, when selected, has every field.
    full = session.sql(
        "SELECT useridentity FROM cloudtrail_logs WHERE useridentity.arn IS NOT NULL"
    )
    assert all(r["useridentity"]["type"] is not None for r in full.to_pylist())


def test_repr_and_properties(flat: Path) -> None:
    session = spintrail.connect(flat)
    assert session.table == "cloudtrail_logs"
    assert session.database == "default"
    assert session.sources == [os.fspath(flat)]
    assert "engine='local'" in repr(session)
    assert session.last_stats is None


def test_parameters_bind_as_literals_on_the_local_engine(flat: Path) -> None:
    session = spintrail.connect(flat)
    literal = session.sql(
        "SELECT count(*) AS n FROM cloudtrail_logs WHERE eventname = 'ConsoleLogin' "
        "AND eventtime >= '2000-01-01'"
    )
    bound = session.sql(
        "SELECT count(*) AS n FROM cloudtrail_logs WHERE eventname = ? AND eventtime >= ?",
        ["ConsoleLogin", "2000-01-01"],
    )
    assert bound.equals(literal)
    # A quote in a value stays inside the literal; a ? inside a string is not a placeholder.
    quoted = session.sql("SELECT ? AS v, '?' AS q", ["it's"])
    assert quoted.to_pylist() == [{"v": "it's", "q": "?"}]
    typed = session.sql("SELECT ? AS i, ? AS f, ? AS b, ? AS n", [3, 0.5, True, None])
    assert typed.to_pylist() == [{"i": 3, "f": 0.5, "b": True, "n": None}]
    with pytest.raises(spintrail.InvalidArgumentError, match="2 parameter placeholder"):
        session.sql("SELECT ?, ?", [1])
    streamed = session.sql_stream("SELECT ? AS v", ["x"]).read_all()
    assert streamed.column("v").to_pylist() == ["x"]


# Each query's own partition filter gives it a distinct scan: (files read, records read).
PRUNED_QUERIES = {
    "SELECT count(*) AS n FROM cloudtrail_logs": (3, 718),
    "SELECT count(*) AS n FROM cloudtrail_logs WHERE account = '111111111111'": (2, 615),
    "SELECT count(*) AS n FROM cloudtrail_logs WHERE region = 'eu-west-1'": (1, 305),
    "SELECT count(*) AS n FROM cloudtrail_logs WHERE day = '2024/08/01'": (1, 103),
}


def _scan_facts(table: pa.Table) -> tuple[int, int]:
    meta = table.schema.metadata
    assert meta[b"spintrail.engine"] == b"local"
    return int(meta[b"spintrail.files_read"]), int(meta[b"spintrail.records_read"])


def test_each_table_carries_its_own_scan_statistics(layout: Path) -> None:
    session = spintrail.connect(layout)
    for query, facts in PRUNED_QUERIES.items():
        table = session.sql(query)
        assert _scan_facts(table) == facts
        assert table.column("n").to_pylist() == [facts[1]]


def test_concurrent_queries_on_one_session_keep_their_own_facts(layout: Path) -> None:
    """Threads and asyncio tasks share one session; every table's metadata is its own query's,
    never the statistics of a query that finished in between."""
    from concurrent.futures import ThreadPoolExecutor

    session = spintrail.connect(layout)
    work = list(PRUNED_QUERIES) * 12
    with ThreadPoolExecutor(max_workers=8) as pool:
        tables = list(pool.map(session.sql, work))
    for query, table in zip(work, tables, strict=True):
        assert _scan_facts(table) == PRUNED_QUERIES[query]

    async def run_all() -> list[pa.Table]:
        return list(await asyncio.gather(*(session.sql_async(q) for q in work)))

    for query, table in zip(work, asyncio.run(run_all()), strict=True):
        assert _scan_facts(table) == PRUNED_QUERIES[query]
    assert session.last_stats is not None


def test_a_file_that_cannot_be_written_is_an_os_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the generator wants a folder")
    with pytest.raises(spintrail.OutputError) as caught:
        generate(blocker / "logs", events=10)
    assert isinstance(caught.value, OSError)
    assert "not-a-folder" in str(caught.value)


def test_a_streamed_query_raises_the_same_error_class_as_sql(real_dir: Path) -> None:
    """A stream's error crosses the Arrow C stream as text; it comes back as LogFileError naming
    the file and record, as `sql()` raises it."""
    session = spintrail.connect(real_dir)
    reader = session.sql_stream("SELECT eventname FROM cloudtrail_logs")
    with pytest.raises(spintrail.LogFileError, match=r"nonconforming\.json\.gz: record \d+"):
        reader.read_all()
    with pytest.raises(spintrail.LogFileError, match="not an ISO-8601 timestamp"):
        session.sql("SELECT eventname FROM cloudtrail_logs")
