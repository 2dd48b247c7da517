"""The Athena engine against a real AWS-protocol server: moto in server mode on 127.0.0.1.

moto does not execute SQL; each test seeds the result a query will return through moto's
documented API (as GetQueryResults returns it: header row first for SELECT only), then checks
what spintrail makes of it. boto3 (an independent client) reads back
what spintrail sent (execution parameters, query state after a cancel). What moto lacks (paging,
failed queries, statistics, UNLOAD) is added by the server launcher ``athena_moto.py``; see
its docstring.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import signal
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import spintrail
from moto_server import MotoServer, free_port, isolate_aws_env, moto_server
from spintrail.cli import main

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
RESULTS = "s3://athena-results/spintrail/"
LAUNCHER = str(Path(__file__).with_name("athena_moto.py"))


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    with moto_server(LAUNCHER) as s:
        yield s


@pytest.fixture()
def moto(
    server: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[MotoServer]:
    server.reset()
    isolate_aws_env(monkeypatch, tmp_path, REGION)
    client(server, "s3").create_bucket(Bucket="athena-results")
    yield server
    server.post_json(
        "/moto-api/state-manager/unset-transition", {"model_name": "athena::execution"}
    )


def client(server: MotoServer, service: str) -> Any:
    return server.client(service, REGION)


def session(server: MotoServer, **options: Any) -> spintrail.AthenaSession:
    options.setdefault("output_location", RESULTS)
    options.setdefault("workgroup", "primary")
    options.setdefault("max_attempts", 2)
    return spintrail.connect(engine="athena", endpoint_url=server.url, **options)


Column = tuple[str, str] | tuple[str, str, int, int]


def seed(
    server: MotoServer, columns: list[Column], rows: list[list[str | None]], header: bool = True
) -> None:
    """Queues the result of the next query, as Athena returns it (header row first)."""
    info = []
    for column in columns:
        name, kind = column[0], column[1]
        precision, scale = (column[2], column[3]) if len(column) == 4 else (0, 0)
        info.append(
            {
                "Name": name,
                "Label": name,
                "Type": kind,
                "Precision": precision,
                "Scale": scale,
                "Nullable": "UNKNOWN",
                "CaseSensitive": kind == "varchar",
            }
        )
    names: list[str | None] = [c[0] for c in columns]
    data = ([names] if header else []) + rows
    encoded = [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in data]
    server.post_json(
        "/moto-api/static/athena/query-results",
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "results": [{"rows": encoded, "column_info": info}],
        },
    )


def hold_queries(server: MotoServer) -> None:
    """Keeps queries RUNNING (moto's state manager: advance only after a million polls)."""
    server.post_json(
        "/moto-api/state-manager/set-transition",
        {
            "model_name": "athena::execution",
            "transition": {"progression": "manual", "times": 10**6},
        },
    )


def latest_execution(server: MotoServer) -> dict[str, Any]:
    athena = client(server, "athena")
    ids = athena.list_query_executions()["QueryExecutionIds"]
    assert ids, "no query was started"
    execution: dict[str, Any] = athena.get_query_execution(QueryExecutionId=ids[-1])[
        "QueryExecution"
    ]
    return execution


EVERY_TYPE: list[Column] = [
    ("s", "varchar"),
    ("c", "char"),
    ("i8", "tinyint"),
    ("i16", "smallint"),
    ("i32", "integer"),
    ("i64", "bigint"),
    ("f64", "double"),
    ("f32", "float"),
    ("b", "boolean"),
    ("d", "date"),
    ("t", "time"),
    ("ts", "timestamp"),
    ("tz", "timestamp with time zone"),
    ("dec", "decimal", 10, 2),
    ("bin", "varbinary"),
    ("j", "json"),
]
EVERY_VALUE = [
    'a,b "q"',
    "x",
    "-128",
    "32767",
    "2147483647",
    "-9223372036854775808",
    "1.5E10",
    "NaN",
    "true",
    "2024-07-30",
    "12:34:56.789",
    "2024-07-30 12:34:56.789",
    "2024-07-30 14:34:56.789 Europe/Berlin",
    "-12345678.90",
    "68 65 6c 6c 6f",
    '{"k":[1,2]}',
]


@pytest.mark.parametrize("fetch", ["pages", "csv"])
def test_every_scalar_type_converts_the_same_on_both_text_paths(
    moto: MotoServer, fetch: str
) -> None:
    seed(moto, EVERY_TYPE, [EVERY_VALUE, [None] * len(EVERY_TYPE), [""] + [None] * 15])
    table = session(moto).sql("SELECT * FROM t", fetch=fetch)  # type: ignore[arg-type]
    expected = {
        "s": pa.string(),
        "c": pa.string(),
        "i8": pa.int8(),
        "i16": pa.int16(),
        "i32": pa.int32(),
        "i64": pa.int64(),
        "f64": pa.float64(),
        "f32": pa.float32(),
        "b": pa.bool_(),
        "d": pa.date32(),
        "t": pa.time64("us"),
        "ts": pa.timestamp("us"),
        "tz": pa.timestamp("us", tz="UTC"),
        "dec": pa.decimal128(10, 2),
        "bin": pa.binary(),
        # Arrow's canonical JSON extension type (pyarrow 19+), else text marked in metadata.
        "j": pa.json_() if hasattr(pa, "json_") else pa.string(),
    }
    assert {f.name: f.type for f in table.schema} == expected
    if not hasattr(pa, "json_"):
        assert table.schema.field("j").metadata == {b"ARROW:extension:name": b"arrow.json"}
    first, nulls, empty = table.to_pylist()
    assert first["s"] == 'a,b "q"' and first["c"] == "x"
    assert (first["i8"], first["i16"], first["i32"]) == (-128, 32767, 2147483647)
    assert first["i64"] == -9223372036854775808
    assert first["f64"] == 1.5e10 and first["f32"] != first["f32"]  # NaN
    assert first["b"] is True and first["d"] == dt.date(2024, 7, 30)
    assert first["t"] == dt.time(12, 34, 56, 789000)
    assert first["ts"] == dt.datetime(2024, 7, 30, 12, 34, 56, 789000)
    assert first["tz"] == dt.datetime(2024, 7, 30, 12, 34, 56, 789000, tzinfo=dt.timezone.utc)
    assert first["dec"] == Decimal("-12345678.90")
    assert first["bin"] == b"hello" and first["j"] == '{"k":[1,2]}'
    assert all(v is None for v in nulls.values()), "a Datum without a value is NULL"
    assert empty["s"] == "", "an empty string stays an empty string, not NULL"
    info = session(moto).last_query
    assert info is None  # a new session has run nothing


@pytest.mark.parametrize("fetch", ["pages", "csv"])
def test_empty_result_keeps_its_schema(moto: MotoServer, fetch: str) -> None:
    seed(moto, [("n", "bigint"), ("name", "varchar")], [])
    table = session(moto).sql("SELECT n, name FROM t WHERE false", fetch=fetch)  # type: ignore[arg-type]
    assert table.num_rows == 0
    assert table.schema.types == [pa.int64(), pa.string()]


def test_paging_reads_every_page_in_order(moto: MotoServer) -> None:
    rows = [[str(i), f"name-{i}"] for i in range(2500)]
    seed(moto, [("n", "integer"), ("name", "varchar")], rows)
    s = session(moto)
    table = s.sql("SELECT n, name FROM t")
    assert table.column("n").to_pylist() == list(range(2500))
    info = s.last_query
    assert info is not None and info.fetch == "pages" and info.rows == 2500
    assert table.column("n").num_chunks == 3, "one batch per GetQueryResults page of 1,000 rows"


def test_auto_reads_the_result_object_above_the_threshold(moto: MotoServer) -> None:
    rows = [[str(i), f"name-{i}"] for i in range(2500)]
    seed(moto, [("n", "integer"), ("name", "varchar")], rows)
    s = session(moto, fast_fetch_bytes=1000)
    table = s.sql("SELECT n, name FROM t")
    assert table.column("n").to_pylist() == list(range(2500))
    info = s.last_query
    assert info is not None and info.fetch == "csv" and info.fetch_note is None
    assert info.output_location == f"{RESULTS}{info.query_id}.csv"


def test_auto_pages_and_says_why_when_the_result_object_is_missing(moto: MotoServer) -> None:
    seed(moto, [("n", "integer")], [["1"]])
    # moto writes no result object when the bucket does not exist.
    s = session(moto, output_location="s3://no-such-bucket/results/", fast_fetch_bytes=1)
    table = s.sql("SELECT 1 AS n")
    assert table.column("n").to_pylist() == [1]
    info = s.last_query
    assert info is not None and info.fetch == "pages"
    assert (
        info.fetch_note is not None
        and "s3:HeadObject s3://no-such-bucket/results/" in info.fetch_note
    )
    with pytest.raises(spintrail.AthenaError, match="s3:HeadObject"):
        s.sql("SELECT 1 AS n", fetch="csv")


def test_nested_columns_are_refused_with_the_way_out(moto: MotoServer) -> None:
    seed(moto, [("resources", "array"), ("n", "bigint")], [["[{arn=x, type=y}]", "1"]])
    with pytest.raises(spintrail.AthenaResultError, match=r"resources.*unload.*AS JSON") as caught:
        session(moto).sql("SELECT resources, 1 AS n FROM cloudtrail_logs", fetch="pages")
    assert caught.value.query_id == latest_execution(moto)["QueryExecutionId"]
    # auto cannot re-run a query whose final ORDER BY UNLOAD would lose: it refuses the same way.
    seed(moto, [("resources", "array"), ("n", "bigint")], [["[{arn=x, type=y}]", "1"]])
    with pytest.raises(spintrail.AthenaResultError, match=r"resources.*unload"):
        session(moto).sql("SELECT resources, 1 AS n FROM cloudtrail_logs ORDER BY n")


def test_a_value_that_does_not_parse_names_row_and_column(moto: MotoServer) -> None:
    seed(moto, [("n", "integer")], [["1"], ["one"]])
    with pytest.raises(spintrail.AthenaResultError, match=r'result row 2, column "n".*"one"'):
        session(moto).sql("SELECT n FROM t", fetch="pages")


def test_failed_query_raises_with_athenas_reason_and_id(moto: MotoServer) -> None:
    reason = "COLUMN_NOT_FOUND: line 1:8: Column 'x' cannot be resolved"
    with pytest.raises(spintrail.AthenaQueryError, match="Column 'x' cannot be resolved") as caught:
        session(moto).sql(f"SELECT x FROM t /* moto:fail {reason} */")
    query_id = latest_execution(moto)["QueryExecutionId"]
    assert caught.value.query_id == query_id
    assert query_id in str(caught.value) and "user error" in str(caught.value)


def test_parameters_travel_as_execution_parameters(moto: MotoServer) -> None:
    seed(moto, [("n", "bigint")], [["1"]])
    sql = (
        "SELECT count(*) AS n FROM t WHERE a = ? AND b = ? AND c IS ? AND d = ? AND e = ? "
        "AND f = ? AND g = ? AND h = ? AND i = ? AND j = '?'"
    )
    params = [
        "it's",
        5,
        None,
        True,
        dt.date(2024, 1, 2),
        dt.datetime(2024, 1, 2, 3, 4, 5),
        Decimal("1.50"),
        0.25,
        b"\x01\xff",
    ]
    session(moto).sql(sql, params)
    execution = latest_execution(moto)
    assert execution["Query"] == sql, "values are never pasted into the SQL text"
    assert execution["ExecutionParameters"] == [
        "'it''s'",
        "5",
        "NULL",
        "true",
        "DATE '2024-01-02'",
        "TIMESTAMP '2024-01-02 03:04:05.000000'",
        "DECIMAL '1.50'",
        "2.5E-1",
        "X'01FF'",
    ]


def test_wrong_parameter_count_or_type_fails_before_anything_runs(moto: MotoServer) -> None:
    s = session(moto)
    with pytest.raises(spintrail.InvalidArgumentError, match=r"1 parameter placeholder.*2 value"):
        s.sql("SELECT ? AS x", [1, 2])
    with pytest.raises(spintrail.InvalidArgumentError, match=r"parameter 1: a dict cannot"):
        s.sql("SELECT ? AS x", [{"a": 1}])
    assert client(moto, "athena").list_query_executions()["QueryExecutionIds"] == []


def test_cost_and_statistics_travel_with_the_result(moto: MotoServer) -> None:
    seed(moto, [("n", "bigint")], [["7"]])
    s = session(moto)
    scanned = 3 * 2**30  # 3 GiB
    table = s.sql(
        f"SELECT count(*) AS n FROM t /* moto:scanned {scanned} */ /* moto:engine_ms 2500 */"
    )
    info = s.last_query
    assert info is not None
    assert info.data_scanned_bytes == scanned and info.engine_time_ms == 2500
    assert info.cost_usd == pytest.approx(3 / 1024 * 5.0)
    assert info.state == "SUCCEEDED" and info.statement_type == "DML"
    meta = table.schema.metadata
    assert meta[b"spintrail.query_id"] == info.query_id.encode()
    assert meta[b"spintrail.data_scanned_bytes"] == str(scanned).encode()
    assert "cost $0.014648" in info.summary()


def test_small_scans_bill_the_ten_megabyte_minimum(moto: MotoServer) -> None:
    seed(moto, [("n", "bigint")], [["7"]])
    s = session(moto, price_per_tb=5.0)
    s.sql("SELECT 1 AS n /* moto:scanned 1 */")
    assert s.last_query is not None
    assert s.last_query.cost_usd == pytest.approx(10 * 2**20 / 2**40 * 5.0)


def test_timeout_stops_the_query(moto: MotoServer) -> None:
    hold_queries(moto)
    started = time.monotonic()
    with pytest.raises(
        spintrail.QueryTimeoutError, match=r"within 0.5 s.*it was stopped"
    ) as caught:
        session(moto, timeout=0.5).sql("SELECT 1")
    assert time.monotonic() - started < 10
    execution = latest_execution(moto)
    assert execution["Status"]["State"] == "CANCELLED"
    assert caught.value.query_id == execution["QueryExecutionId"]


def wait_for_state(server: MotoServer, state: str) -> str:
    deadline = time.monotonic() + 10
    while True:
        current = latest_execution(server)["Status"]["State"]
        if current == state or time.monotonic() > deadline:
            return str(current)
        time.sleep(0.05)


@pytest.mark.usefixtures("sigint_raises_keyboard_interrupt")
def test_ctrl_c_stops_the_query_on_athena(moto: MotoServer) -> None:
    hold_queries(moto)
    s = session(moto)
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            s.sql("SELECT 1")
    finally:
        timer.cancel()
    assert wait_for_state(moto, "CANCELLED") == "CANCELLED"


def test_cancelling_the_task_stops_the_query_on_athena(moto: MotoServer) -> None:
    hold_queries(moto)
    s = session(moto)

    async def run() -> None:
        task = asyncio.ensure_future(s.sql_async("SELECT 1"))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert wait_for_state(moto, "CANCELLED") == "CANCELLED"


def test_a_query_cancelled_elsewhere_raises_cancelled(moto: MotoServer) -> None:
    hold_queries(moto)
    s = session(moto)

    def stop_it() -> None:
        time.sleep(0.5)
        athena = client(moto, "athena")
        for query_id in athena.list_query_executions()["QueryExecutionIds"]:
            athena.stop_query_execution(QueryExecutionId=query_id)

    stopper = threading.Thread(target=stop_it)
    stopper.start()
    with pytest.raises(spintrail.QueryCancelledError, match="cancelled"):
        s.sql("SELECT 1")
    stopper.join()


def test_async_returns_the_same_table(moto: MotoServer) -> None:
    seed(moto, [("n", "integer")], [["1"], ["2"]])
    s = session(moto)
    table = asyncio.run(s.sql_async("SELECT n FROM t"))
    assert table.column("n").to_pylist() == [1, 2]
    assert s.last_query is not None and s.last_query.rows == 2


def test_stream_yields_page_by_page(moto: MotoServer) -> None:
    seed(moto, [("n", "integer")], [[str(i)] for i in range(2100)])
    s = session(moto)
    reader = s.sql_stream("SELECT n FROM t", fetch="pages")
    sizes = [batch.num_rows for batch in reader]
    assert sizes == [999, 1000, 101]  # the header row is on the first page
    assert s.last_query is not None and s.last_query.rows == 2100


def test_progress_is_reported_while_polling(moto: MotoServer) -> None:
    moto.post_json(
        "/moto-api/state-manager/set-transition",
        {"model_name": "athena::execution", "transition": {"progression": "manual", "times": 2}},
    )
    seed(moto, [("n", "integer")], [["1"]])
    seen: list[dict[str, Any]] = []
    session(moto).sql("SELECT 1 AS n", progress=seen.append)
    states = [p["state"] for p in seen]
    assert states[0] == "QUEUED" and "RUNNING" in states and states[-1] == "SUCCEEDED"
    assert all(p["query_id"] == seen[0]["query_id"] for p in seen)
    assert seen[-1]["elapsed"] >= seen[0]["elapsed"]


def test_unload_returns_nested_types(moto: MotoServer) -> None:
    nested = pa.table(
        {
            "eventname": ["RunInstances", "DescribeInstances"],
            "resources": [[{"arn": "arn:aws:ec2:x", "type": "AWS::EC2::Instance"}], []],
            "tags": pa.array(
                [[("team", "spinnaker")], None], type=pa.map_(pa.string(), pa.string())
            ),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(nested, buffer)
    s3 = client(moto, "s3")
    s3.put_object(
        Bucket="athena-results", Key="moto-unload-seed/part-00000.parquet", Body=buffer.getvalue()
    )
    s = session(moto)
    table = s.sql("SELECT eventname, resources, tags FROM cloudtrail_logs", fetch="unload")
    assert table.to_pylist() == nested.to_pylist()
    assert pa.types.is_list(table.schema.field("resources").type)
    info = s.last_query
    assert info is not None and info.fetch == "unload" and info.rows == 2
    assert info.sql.startswith("UNLOAD (SELECT eventname") and "format = 'PARQUET'" in info.sql
    assert f"TO '{RESULTS}spintrail-unload/" in info.sql


def test_auto_reruns_nested_results_as_unload(moto: MotoServer) -> None:
    nested = pa.table(
        {
            "eventname": ["RunInstances"],
            "useridentity": [{"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/r/s"}],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(nested, buffer)
    client(moto, "s3").put_object(
        Bucket="athena-results",
        Key="moto-unload-seed/part-00000.parquet",
        Body=buffer.getvalue(),
    )
    # The first run's text result: Athena reports the struct as "row", without field types.
    seed(moto, [("eventname", "varchar"), ("useridentity", "row")], [["RunInstances", "{...}"]])
    s = session(moto)
    table = s.sql("SELECT * FROM cloudtrail_logs LIMIT 1 /* moto:scanned 1000 */")
    assert table.to_pylist() == nested.to_pylist()
    info = s.last_query
    assert info is not None and info.fetch == "unload"
    assert info.fetch_note is not None
    assert "ran again as UNLOAD because useridentity is array/map/row" in info.fetch_note
    executions = client(moto, "athena").list_query_executions()["QueryExecutionIds"]
    assert len(executions) == 2 and executions[0] in info.fetch_note


def test_unload_refuses_order_by_and_non_select(moto: MotoServer) -> None:
    s = session(moto)
    with pytest.raises(spintrail.InvalidArgumentError, match="cannot keep ORDER BY"):
        s.sql("SELECT eventname FROM t ORDER BY eventname", fetch="unload")
    with pytest.raises(spintrail.InvalidArgumentError, match="needs a SELECT"):
        s.sql("SHOW TABLES", fetch="unload")
    # ORDER BY inside a window or subquery is fine: only the final order is lost.
    s.sql("SELECT row_number() OVER (ORDER BY eventtime) AS n FROM t", fetch="unload")


def test_explain_returns_athenas_plan(moto: MotoServer) -> None:
    # EXPLAIN is a UTILITY statement: its result has no header row.
    seed(
        moto,
        [("Query Plan", "varchar")],
        [["Fragment 0 [SINGLE]"], ["    Output layout: [n]"]],
        header=False,
    )
    plan = session(moto).explain("SELECT 1 AS n")
    assert plan == "Fragment 0 [SINGLE]\n    Output layout: [n]"
    assert latest_execution(moto)["Query"] == "EXPLAIN SELECT 1 AS n"


def test_unknown_workgroup_names_the_call(moto: MotoServer) -> None:
    with pytest.raises(
        spintrail.AthenaError,
        match=r"athena:StartQueryExecution.*WorkGroup does not exist.*\"nope\".*provision apply",
    ):
        session(moto, workgroup="nope").sql("SELECT 1")


def test_missing_credentials_say_what_to_do(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(
        spintrail.AthenaError, match=r"(?s)no AWS credentials found.*Attempted.*pass --profile"
    ):
        session(moto)


def test_unreachable_endpoint_says_so(moto: MotoServer) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    s = spintrail.connect(engine="athena", endpoint_url=closed, region=REGION, max_attempts=1)
    with pytest.raises(spintrail.AthenaError, match="cannot reach the AWS endpoint"):
        s.sql("SELECT 1")


def test_bad_arguments_are_refused_up_front(moto: MotoServer) -> None:
    with pytest.raises(spintrail.InvalidArgumentError, match="fetch must be"):
        session(moto, fetch="fast")  # type: ignore[arg-type]
    with pytest.raises(spintrail.InvalidArgumentError, match="output_location"):
        session(moto, output_location="athena-results/x")
    with pytest.raises(spintrail.InvalidArgumentError, match="timeout"):
        session(moto, timeout=0)
    with pytest.raises(spintrail.InvalidArgumentError, match="drop the source"):
        spintrail.connect("logs/", engine="athena")  # type: ignore[call-overload]


def test_cli_runs_on_athena_and_prints_the_cost(
    moto: MotoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(moto, [("eventname", "varchar"), ("n", "bigint")], [["AssumeRole", "42"]])
    code = main(
        [
            "query",
            "--engine",
            "athena",
            "--workgroup",
            "primary",
            "--endpoint-url",
            moto.url,
            "--output-location",
            RESULTS,
            "--format",
            "csv",
            "SELECT eventname, count(*) AS n FROM cloudtrail_logs GROUP BY 1 "
            "/* moto:scanned 5000000 */",
        ]
    )
    out = capsys.readouterr()
    assert code == 0
    assert out.out == '"eventname","n"\n"AssumeRole",42\n'
    assert "scanned 5.00 MB" in out.err and "cost $0.000048" in out.err


def test_throttled_calls_are_retried(moto: MotoServer) -> None:
    # No timing here: the backoff is full jitter (a wait may be near zero), and timings belong in
    # benchmarks; the fault-proxy tests show the policy rides out throttling.
    seed(moto, [("n", "integer")], [["1"]])
    s = session(moto, max_attempts=4)
    table = s.sql("SELECT 1 AS n /* moto:throttle 2 */")
    assert table.column("n").to_pylist() == [1]
    refused = latest_execution(moto)["Statistics"]["ServicePreProcessingTimeInMillis"]
    assert refused == 2, "two ThrottlingException answers, then the third attempt ran"


def test_throttling_beyond_the_attempts_is_an_error_naming_the_call(moto: MotoServer) -> None:
    s = session(moto, max_attempts=2)
    with pytest.raises(
        spintrail.AthenaError, match=r"athena:StartQueryExecution.*ThrottlingException"
    ):
        s.sql("SELECT 1 AS n /* moto:throttle 5 */")


def test_result_reuse_is_asked_for(moto: MotoServer) -> None:
    seed(moto, [("n", "integer")], [["1"]])
    session(moto, result_reuse_minutes=60).sql("SELECT 1 AS n")
    reuse = latest_execution(moto)["ResultReuseConfiguration"]
    assert reuse == {"ResultReuseByAgeConfiguration": {"Enabled": True, "MaxAgeInMinutes": 60}}
    with pytest.raises(spintrail.InvalidArgumentError, match="result_reuse_minutes"):
        session(moto, result_reuse_minutes=0)


def _scanned(table: pa.Table) -> tuple[str, int]:
    meta = table.schema.metadata
    return meta[b"spintrail.query_id"].decode(), int(meta[b"spintrail.data_scanned_bytes"])


def test_concurrent_queries_each_carry_their_own_facts(moto: MotoServer) -> None:
    """Many queries on one session at once, from threads and from asyncio tasks: each table's
    ``spintrail.*`` metadata is its own query's (its marker sets a distinct bytes-scanned), and
    its query id is the execution that ran its text (read back with boto3)."""
    queries = 16
    for _ in range(2 * queries):
        seed(moto, [("n", "bigint")], [["1"]])
    s = session(moto)
    texts = [f"SELECT {i} AS n /* moto:scanned {1_000_000 + i} */" for i in range(queries)]

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(s.sql, texts))

    async def run_all() -> list[pa.Table]:
        return list(await asyncio.gather(*(s.sql_async(t) for t in texts)))

    awaited = asyncio.run(run_all())
    athena = client(moto, "athena")
    for tables in (threaded, awaited):
        for i, table in enumerate(tables):
            query_id, scanned = _scanned(table)
            assert scanned == 1_000_000 + i
            ran = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            assert ran["Query"] == texts[i]
    assert s.last_query is not None


def test_an_aware_datetime_is_bound_as_its_utc_wall_time(moto: MotoServer) -> None:
    seed(moto, [("n", "bigint")], [["1"]])
    plus_two = dt.timezone(dt.timedelta(hours=2))
    session(moto).sql("SELECT ? AS t", [dt.datetime(2024, 1, 2, 5, 4, 5, 250000, tzinfo=plus_two)])
    assert latest_execution(moto)["ExecutionParameters"] == [
        "TIMESTAMP '2024-01-02 03:04:05.250000'"
    ]


def test_a_bodiless_error_response_still_says_what_happened(moto: MotoServer) -> None:
    """S3 answers HEAD with a status and no body; the error names the status and its meaning
    instead of an empty message (here a bucket policy that denies reading results)."""
    import json

    seed(moto, [("n", "integer")], [["1"]])
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::athena-results/*",
            }
        ],
    }
    client(moto, "s3").put_bucket_policy(Bucket="athena-results", Policy=json.dumps(deny))
    with pytest.raises(spintrail.AthenaError) as caught:
        session(moto).sql("SELECT 1 AS n", fetch="csv")
    message = str(caught.value)
    # Reading the CSV result object fails (moto answers the HEAD and refuses the GET).
    assert "s3:GetObject" in message or "s3:HeadObject" in message
    assert "HTTP 403" in message and "access denied" in message
    assert "no error message" in message
