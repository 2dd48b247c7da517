"""The Athena engine against the behaviours of the real service that a convenient emulator hides.

The server is moto with the launcher ``athena_moto.py`` (see its docstring for what it adds):
statement types as Athena reports them, header rows for SELECT results only, DDL and UTILITY
results as ``.txt``, RFC 4180 CSV result objects, throttling of any call, UNLOAD writing several
files or none. Each test checks what spintrail makes of it, and reads back with boto3 (an
independent client) what the server recorded.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import spintrail
from moto_server import MotoServer, moto_fixtures

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
RESULTS = "s3://athena-results/spintrail/"
LAUNCHER = str(Path(__file__).with_name("athena_moto.py"))
RANGE_VARIABLE = "SPINTRAIL_S3_RANGE_BYTES"


def prepare(server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RANGE_VARIABLE, raising=False)
    client(server, "s3").create_bucket(Bucket="athena-results")


def unset_transition(server: MotoServer) -> None:
    server.post_json(
        "/moto-api/state-manager/unset-transition", {"model_name": "athena::execution"}
    )


server, moto = moto_fixtures(REGION, LAUNCHER, setup=prepare, teardown=unset_transition)


def client(server: MotoServer, service: str) -> Any:
    return server.client(service, REGION)


def session(server: MotoServer, **options: Any) -> spintrail.AthenaSession:
    options.setdefault("output_location", RESULTS)
    options.setdefault("workgroup", "primary")
    options.setdefault("max_attempts", 2)
    return spintrail.connect(engine="athena", endpoint_url=server.url, **options)


def seed(
    server: MotoServer, columns: list[tuple[str, str]], rows: list[list[str | None]], header: bool
) -> None:
    """Queues the result of the next query as GetQueryResults returns it: with the header row
    first for a SELECT (``header=True``), without one for DDL and UTILITY statements."""
    info = [
        {"Name": name, "Label": name, "Type": kind, "Precision": 0, "Scale": 0}
        for name, kind in columns
    ]
    data = ([[name for name, _ in columns]] if header else []) + rows
    encoded = [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in data]
    server.post_json(
        "/moto-api/static/athena/query-results",
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "results": [{"rows": encoded, "column_info": info}],
        },
    )


def execution(server: MotoServer, query_id: str) -> dict[str, Any]:
    athena = client(server, "athena")
    found: dict[str, Any] = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    return found


def result_object(server: MotoServer, location: str) -> bytes:
    bucket, _, key = location.removeprefix("s3://").partition("/")
    body: bytes = client(server, "s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


# --- Header rows: SELECT only, decided by the statement type, never by the row's values ---------


@pytest.mark.parametrize("fetch", ["pages", "csv"])
def test_a_select_keeps_a_first_row_equal_to_its_column_names(moto: MotoServer, fetch: str) -> None:
    columns = [("name", "varchar"), ("kind", "varchar")]
    seed(moto, columns, [["name", "kind"], ["x", None]], header=True)
    s = session(moto)
    table = s.sql("SELECT name, kind FROM t", fetch=fetch)  # type: ignore[arg-type]
    assert table.to_pylist() == [{"name": "name", "kind": "kind"}, {"name": "x", "kind": None}]
    info = s.last_query
    assert info is not None and info.statement_type == "DML" and info.fetch == fetch
    assert info.output_location is not None and info.output_location.endswith(".csv")
    # The CSV object Athena wrote: the header, then the data row that looks like one.
    assert result_object(moto, info.output_location) == b'"name","kind"\n"name","kind"\n"x",\n'


UTILITY_AND_DDL = [
    ("SHOW TABLES", "UTILITY", [("tab_name", "string")], [["tab_name"], ["cloudtrail_logs"]]),
    (
        "DESCRIBE cloudtrail_logs",
        "UTILITY",
        [("col_name", "string"), ("data_type", "string"), ("comment", "string")],
        [["col_name", "data_type", "comment"], ["eventname", "string", ""]],
    ),
    ("EXPLAIN SELECT 1", "UTILITY", [("Query Plan", "varchar")], [["Query Plan"], ["Output"]]),
    (
        "-- a comment first\nCREATE EXTERNAL TABLE x (a string) LOCATION 's3://b/x/'",
        "DDL",
        [("result", "string")],
        [["result"]],
    ),
]


@pytest.mark.parametrize(("sql", "kind", "columns", "rows"), UTILITY_AND_DDL)
@pytest.mark.parametrize("fetch", ["auto", "pages", "csv"])
def test_ddl_and_utility_results_have_no_header_row_and_are_text_files(
    moto: MotoServer,
    sql: str,
    kind: str,
    columns: list[tuple[str, str]],
    rows: list[list[str | None]],
    fetch: str,
) -> None:
    """Every row is data, even a first row equal to the column names; the result file is
    ``.txt`` (tab-separated, no header), so even ``fetch="csv"`` pages and says why."""
    seed(moto, columns, rows, header=False)
    s = session(moto, fast_fetch_bytes=1)
    table = s.sql(sql, fetch=fetch)  # type: ignore[arg-type]
    assert [list(r.values()) for r in table.to_pylist()] == rows
    info = s.last_query
    assert info is not None and info.statement_type == kind and info.fetch == "pages"
    assert execution(moto, info.query_id)["StatementType"] == kind
    assert info.output_location == f"{RESULTS}{info.query_id}.txt"
    text = "".join("\t".join(v or "" for v in row) + "\n" for row in rows)
    assert result_object(moto, info.output_location).decode() == text
    if fetch == "csv":
        assert info.fetch_note is not None and ".txt, plain text rather than CSV" in info.fetch_note
    else:
        assert info.fetch_note is None


def test_explain_keeps_every_line_of_the_plan(moto: MotoServer) -> None:
    seed(moto, [("Query Plan", "varchar")], [["Query Plan"], ["Fragment 0 [SINGLE]"]], header=False)
    assert session(moto).explain("SELECT 1") == "Query Plan\nFragment 0 [SINGLE]"


# --- RFC 4180 CSV, and the fast path on a large object read in many ranges ---------------------

TRICKY = [
    'say "hi"',
    "a,b",
    "line1\nline2",
    "",
    None,
    "crlf\r\nend",
    '"',
    '""',
    "é€𝄞",
    ",\n\"'",
]


def test_result_objects_are_rfc_4180_and_both_paths_read_them_alike(moto: MotoServer) -> None:
    rows: list[list[str | None]] = [[str(i), v] for i, v in enumerate(TRICKY)]
    for _ in range(2):
        seed(moto, [("i", "integer"), ("s", "varchar")], rows, header=True)
    s = session(moto)
    by_csv = s.sql("SELECT i, s FROM t", fetch="csv")
    info = s.last_query
    assert info is not None and info.fetch == "csv" and info.output_location is not None
    raw = result_object(moto, info.output_location).decode()

    def field(v: str | None) -> str:
        return "" if v is None else '"' + v.replace('"', '""') + '"'

    assert raw == '"i","s"\n' + "".join(f'"{i}",{field(v)}\n' for i, v in enumerate(TRICKY))
    # Python's csv module (an independent RFC 4180 reader) reads the same values back.
    parsed = list(csv.reader(io.StringIO(raw, newline="")))
    assert parsed[1:] == [[str(i), v or ""] for i, v in enumerate(TRICKY)]
    by_pages = s.sql("SELECT i, s FROM t", fetch="pages")
    assert by_csv.to_pylist() == by_pages.to_pylist()
    assert by_csv.column("s").to_pylist() == TRICKY, "NULL and the empty string stay apart"


def large_rows(count: int) -> list[list[str | None]]:
    """Rows whose bytes are mostly multi-byte characters, with quotes, commas and newlines."""
    rows: list[list[str | None]] = []
    for i in range(count):
        text = f'{i}: "quoted", comma\nnext line ' + "é€𝄞ж" * (i % 17 + 3)
        rows.append([str(i), text, None if i % 11 == 0 else f'{i % 7}, "{"ü" * (i % 5)}"'])
    return rows


def test_csv_fast_path_over_many_ranges_equals_the_pages(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A result object of several MiB read in ~50 ranges: records, quoted newlines and
    multi-byte characters straddle range boundaries; the table equals the paged one."""
    columns = [("i", "integer"), ("s", "varchar"), ("t", "varchar")]
    rows = large_rows(40_000)
    seed(moto, columns, rows, header=True)
    seed(moto, columns, rows, header=True)
    range_bytes = 100_003
    monkeypatch.setenv(RANGE_VARIABLE, str(range_bytes))
    s = session(moto)
    by_csv = s.sql("SELECT * FROM big", fetch="csv")
    info = s.last_query
    assert info is not None and info.fetch == "csv" and info.output_location is not None
    data = result_object(moto, info.output_location)
    assert len(data) > 4 * 2**20, "several MiB"
    boundaries = range(range_bytes, len(data), range_bytes)
    assert len(boundaries) >= 40
    # Where the ranges were cut: inside characters and inside quoted values (an odd number of
    # quotes before a boundary means it falls inside quotes, as every value is quoted).
    inside_a_character = [b for b in boundaries if data[b] & 0xC0 == 0x80]
    inside_quotes = [b for b in boundaries if data.count(b'"', 0, b) % 2 == 1]
    assert len(inside_a_character) >= 10 and len(inside_quotes) >= 10
    by_pages = s.sql("SELECT * FROM big", fetch="pages")
    assert by_csv.schema == by_pages.schema
    assert by_csv.to_pylist() == by_pages.to_pylist()
    assert by_csv.column("s").to_pylist() == [r[1] for r in rows]
    assert by_csv.column("t").to_pylist() == [r[2] for r in rows]


def test_a_bad_range_size_is_refused_naming_the_variable(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(moto, [("n", "integer")], [["1"]], header=True)
    monkeypatch.setenv(RANGE_VARIABLE, "12")
    with pytest.raises(spintrail.SpintrailError, match=rf"{RANGE_VARIABLE}=\"12\".*at least 1024"):
        session(moto).sql("SELECT 1 AS n", fetch="csv")


# --- Throttling: TooManyRequestsException and ThrottlingException on any call --------------------


def refusals(server: MotoServer, query_id: str) -> dict[str, int]:
    reason = execution(server, query_id)["Status"]["StateChangeReason"]
    assert reason.startswith("moto:faults ")
    return {op: int(n) for op, n in re.findall(r"(\w+)=(\d+)", reason)}


def test_throttled_polls_and_result_pages_are_ridden_out(moto: MotoServer) -> None:
    """Most GetQueryExecution and GetQueryResults calls are refused; with two SDK attempts per
    call, the polling loop (the query runs for a few polls) and the page reads still get the
    whole result."""
    moto.post_json(
        "/moto-api/state-manager/set-transition",
        {"model_name": "athena::execution", "transition": {"progression": "manual", "times": 3}},
    )
    seed(moto, [("n", "integer")], [[str(i)] for i in range(5500)], header=True)
    s = session(moto, max_attempts=2)
    sql = "SELECT n FROM polls /* moto:faults 0.6 seed=7 ops=GetQueryExecution,GetQueryResults */"
    table = s.sql(sql, fetch="pages")
    assert table.column("n").to_pylist() == list(range(5500))
    assert s.last_query is not None
    refused = refusals(moto, s.last_query.query_id)
    print(f"faults injected and survived: {refused}")
    assert refused["GetQueryExecution"] >= 1 and refused["GetQueryResults"] >= 2


def test_too_many_requests_on_start_is_retried(moto: MotoServer) -> None:
    seed(moto, [("n", "integer")], [["1"]], header=True)
    s = session(moto, max_attempts=8)
    table = s.sql("SELECT 1 AS n /* moto:faults 0.6 seed=2 ops=StartQueryExecution */")
    assert table.column("n").to_pylist() == [1]
    assert s.last_query is not None
    refused = refusals(moto, s.last_query.query_id)
    print(f"faults injected and survived: {refused}")
    assert refused["StartQueryExecution"] >= 1


def test_throttling_that_never_ends_names_the_call(moto: MotoServer) -> None:
    seed(moto, [("n", "integer")], [["1"]], header=True)
    s = session(moto, max_attempts=1)
    with pytest.raises(
        spintrail.AthenaError,
        match=r"athena:GetQueryResults.*(TooManyRequestsException|ThrottlingException)",
    ):
        s.sql("SELECT 1 AS n /* moto:faults 1.0 ops=GetQueryResults */")


# --- UNLOAD: several Parquet files, or none -----------------------------------------------------


def put_parquet(server: MotoServer, name: str, table: pa.Table) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    client(server, "s3").put_object(
        Bucket="athena-results", Key=f"moto-unload-seed/{name}", Body=buffer.getvalue()
    )


def test_unload_reads_every_file_it_wrote(moto: MotoServer) -> None:
    parts = [
        pa.table({"n": pa.array(range(start, start + size), pa.int64()), "tags": [["x"]] * size})
        for start, size in ((0, 3), (3, 1), (4, 5000))
    ]
    for index, part in enumerate(parts):
        put_parquet(moto, f"20240730_000000_0000{index}_abcde_{index}", part)
    client(moto, "s3").put_object(Bucket="athena-results", Key="moto-unload-seed/empty", Body=b"")
    s = session(moto)
    table = s.sql("SELECT n, tags FROM t", fetch="unload")
    assert table.column("n").to_pylist() == list(range(5004))
    assert s.last_query is not None and s.last_query.rows == 5004


def test_unload_of_an_empty_result_wrote_no_files(moto: MotoServer) -> None:
    s = session(moto)
    table = s.sql("SELECT n FROM t WHERE false", fetch="unload")
    assert table.num_rows == 0
    info = s.last_query
    assert info is not None and info.rows == 0
    assert info.fetch_note is not None and "wrote no files" in info.fetch_note


# --- Concurrency: every table is its own execution's rows ---------------------------------------


@pytest.mark.parametrize("fetch", ["pages", "csv"])
def test_concurrent_queries_get_their_own_executions_rows(moto: MotoServer, fetch: str) -> None:
    """32 threads and 32 asyncio tasks on one session; which seeded result an execution gets
    depends on the order they start, so each table is checked against the rows boto3 reads for
    that table's own query id."""
    queries = 32
    for i in range(2 * queries):
        seed(moto, [("n", "integer"), ("s", "varchar")], [[str(i), f"r{i}"]] * (i + 1), header=True)
    s = session(moto, max_attempts=8)
    texts = [f"SELECT n, s FROM t{i}" for i in range(queries)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        threaded = list(pool.map(lambda q: s.sql(q, fetch=fetch), texts))  # type: ignore[arg-type]

    async def run_all() -> list[pa.Table]:
        return list(await asyncio.gather(*(s.sql_async(q, fetch=fetch) for q in texts)))  # type: ignore[arg-type]

    awaited = asyncio.run(run_all())
    athena = client(moto, "athena")
    seen = set()
    for tables in (threaded, awaited):
        for text, table in zip(texts, tables, strict=True):
            query_id = table.schema.metadata[b"spintrail.query_id"].decode()
            assert execution(moto, query_id)["Query"] == text
            rows = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"][1:]
            expected = [[d["VarCharValue"] for d in r["Data"]] for r in rows]
            assert [[str(r["n"]), r["s"]] for r in table.to_pylist()] == expected
            seen.add(query_id)
    assert len(seen) == 2 * queries


# --- Parameters: every type, both engines, under a time zone other than UTC ----------------------

PARAMETER_SCRIPT = r"""
import datetime as dt, json, sys
from decimal import Decimal
from zoneinfo import ZoneInfo
import spintrail

url, results, source = sys.argv[1:4]
new_york = ZoneInfo("America/New_York")
values = [
    "it's ü",
    -5,
    2**70,
    0.25,
    True,
    None,
    Decimal("-1.50"),
    b"\x01\xff",
    dt.date(2024, 3, 10),
    dt.datetime(2024, 3, 10, 2, 30, 0, 123456),  # a wall time New York's clocks skip
    dt.datetime(2024, 11, 3, 1, 30, tzinfo=new_york, fold=1),  # the second 01:30 (EST)
    dt.datetime(2024, 7, 30, 23, 15, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
]
sql = "SELECT " + ", ".join(f"? AS p{i}" for i in range(len(values)))
athena = spintrail.connect(
    engine="athena", endpoint_url=url, output_location=results, workgroup="primary"
)
athena.sql(sql, values)
row = spintrail.connect(source).sql(sql, values).to_pylist()[0]
# The local engine's TIMESTAMP literal is nanosecond-precise: pyarrow hands it out as a pandas
# Timestamp, compared here as the datetime it equals.
local = [repr(v.to_pydatetime() if hasattr(v, "to_pydatetime") else v) for v in row.values()]
print(json.dumps({"query_id": athena.last_query.query_id, "local": local}))
"""

EXPECTED_LITERALS = [
    "'it''s ü'",
    "-5",
    "DECIMAL '1180591620717411303424'",
    "2.5E-1",
    "true",
    "NULL",
    "DECIMAL '-1.50'",
    "X'01FF'",
    "DATE '2024-03-10'",
    "TIMESTAMP '2024-03-10 02:30:00.123456'",
    "TIMESTAMP '2024-11-03 06:30:00.000000'",
    "TIMESTAMP '2024-07-30 17:45:00.000000'",
]
EXPECTED_LOCAL_VALUES = [
    "it's ü",
    -5,
    Decimal("1180591620717411303424"),
    0.25,
    True,
    None,
    Decimal("-1.50"),
    b"\x01\xff",
    dt.date(2024, 3, 10),
    dt.datetime(2024, 3, 10, 2, 30, 0, 123456),
    dt.datetime(2024, 11, 3, 6, 30),
    dt.datetime(2024, 7, 30, 17, 45),
]


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata"])
def test_every_parameter_type_binds_the_same_literal_on_both_engines(
    moto: MotoServer, flat: Path, zone: str
) -> None:
    """Run in a process whose local time zone is not UTC: the datetimes' literals (Athena's
    ExecutionParameters, read back with boto3) and values (the local engine's SELECT of them)
    are their own wall time, or the UTC wall time of an aware one, never shifted by ``TZ``."""
    seed(moto, [("p0", "varchar")], [["x"]], header=True)
    done = subprocess.run(
        [sys.executable, "-c", PARAMETER_SCRIPT, moto.url, RESULTS, str(flat)],
        env={**os.environ, "TZ": zone},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert execution(moto, answer["query_id"])["ExecutionParameters"] == EXPECTED_LITERALS
    assert answer["local"] == [repr(v) for v in EXPECTED_LOCAL_VALUES]
