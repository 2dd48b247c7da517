"""The CloudWatch Logs engine (Logs Insights) against a real AWS-protocol server: moto in server
mode on 127.0.0.1.

Each test puts CloudTrail records into a log group as CloudTrail delivers them (one log event per
record, its message the record's JSON), runs Logs Insights queries through spintrail, and checks
what comes back. boto3 (an independent client) reads back what spintrail did to a query (its
status after a cancel). moto's Logs Insights is small; what it lacks (JSON field discovery,
statistics, statuses other than Complete, StopQuery, paging, MalformedQueryException) is added by
the server launcher ``cloudwatch_moto.py``, see its docstring. Where even that falls short, the
test says so.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import spintrail
from moto_server import MotoServer, free_port, moto_fixtures

REGION = "us-east-1"
GROUP = "aws-cloudtrail-logs-spintrail"
# CloudTrail names its streams <account>_CloudTrail_<region>.
STREAM = "457448411975_CloudTrail_us-east-1"
LAUNCHER = str(Path(__file__).with_name("cloudwatch_moto.py"))
REAL = Path(__file__).parent / "data" / "real"
UTC = dt.timezone.utc


server, moto = moto_fixtures(REGION, LAUNCHER)


def logs(server: MotoServer) -> Any:
    return server.client("logs", REGION)


def session(server: MotoServer, **options: Any) -> spintrail.CloudWatchSession:
    options.setdefault("log_group", GROUP)
    options.setdefault("max_attempts", 2)
    return spintrail.connect(engine="cloudwatch", endpoint_url=server.url, **options)


def real_records(name: str = "stratus-red-team.json.gz") -> list[dict[str, Any]]:
    with gzip.open(REAL / name) as f:
        records: list[dict[str, Any]] = json.load(f)["Records"]
    return records


def put(
    server: MotoServer,
    records: list[dict[str, Any]],
    first_ms: int,
    step_ms: int = 1000,
    group: str = GROUP,
    stream: str = STREAM,
) -> list[int]:
    """Puts each record as one log event, ``step_ms`` apart from ``first_ms``; returns the
    events' timestamps. (CloudTrail stamps an event with its delivery time; here the records'
    own eventTime is older than the 14 days CloudWatch Logs accepts, so the times are new.)"""
    client = logs(server)
    if not client.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        client.create_log_group(logGroupName=group)
    streams = client.describe_log_streams(logGroupName=group)["logStreams"]
    if stream not in [s["logStreamName"] for s in streams]:
        client.create_log_stream(logGroupName=group, logStreamName=stream)
    stamps = [first_ms + i * step_ms for i in range(len(records))]
    events = [
        {"timestamp": t, "message": json.dumps(r, separators=(",", ":"))}
        for t, r in zip(stamps, records, strict=True)
    ]
    answer = client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    assert "rejectedLogEventsInfo" not in answer
    return stamps


def minutes_ago(minutes: float) -> int:
    """A time in milliseconds, `minutes` before now, on a whole second plus 250 ms."""
    return (int(time.time() - minutes * 60)) * 1000 + 250


def at(millis: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(millis / 1000, tz=UTC)


def query_status(server: MotoServer, query_id: str) -> str:
    return str(logs(server).get_query_results(queryId=query_id)["status"])


def wait_for_status(server: MotoServer, status: str) -> str:
    """The status of the only query in the log group, once it is `status` (or after 10 s)."""
    deadline = time.monotonic() + 10
    while True:
        queries = logs(server).describe_queries(logGroupName=GROUP)["queries"]
        current = query_status(server, queries[-1]["queryId"]) if queries else "none"
        if current == status or time.monotonic() > deadline:
            return current
        time.sleep(0.05)


def test_cloudtrail_fields_come_back_in_query_order_without_ptr(moto: MotoServer) -> None:
    records = real_records()[:30]
    stamps = put(moto, records, minutes_ago(30))
    s = session(moto)
    table = s.insights(
        "fields @timestamp, eventName, userIdentity.arn, @logStream | sort @timestamp asc"
    )
    assert table.column_names == ["@timestamp", "eventName", "userIdentity.arn", "@logStream"]
    assert table.num_rows == 30
    assert table.schema.field("@timestamp").type == pa.timestamp("ms", tz="UTC")
    assert table.column("@timestamp").to_pylist() == [at(t) for t in stamps]
    assert table.column("eventName").to_pylist() == [r["eventName"] for r in records]
    assert table.column("userIdentity.arn").to_pylist() == [
        r["userIdentity"].get("arn") for r in records
    ]
    assert table.column("@logStream").to_pylist() == [STREAM] * 30
    assert s.last_query is not None and s.last_query.rows == 30


def test_message_is_the_whole_record(moto: MotoServer) -> None:
    records = real_records("panther-analysis.json.gz")[:5]
    put(moto, records, minutes_ago(10))
    table = session(moto).insights("fields @message | sort @timestamp asc")
    assert table.schema.field("@message").type == pa.string()
    assert [json.loads(m) for m in table.column("@message").to_pylist()] == records


def record(**fields: Any) -> dict[str, Any]:
    """A CloudTrail-shaped record with the given (possibly nested, dotted) fields."""
    out: dict[str, Any] = {"eventVersion": "1.08", "eventSource": "s3.amazonaws.com"}
    for path, value in fields.items():
        target = out
        *parents, leaf = path.split("__")
        for p in parents:
            target = target.setdefault(p, {})
        target[leaf] = value
    return out


def test_columns_are_typed_by_their_values(moto: MotoServer) -> None:
    records = [
        record(
            eventName="GetObject",
            recipientAccountId="012345678901",
            additionalEventData__bytesTransferredOut=512,
            additionalEventData__x_amz_id_2="7",
            requestParameters__maxKeys=100,
        ),
        record(
            eventName="PutObject",
            recipientAccountId="123456789012",
            additionalEventData__bytesTransferredOut=2.5,
            additionalEventData__x_amz_id_2="abc",
        ),
        record(eventName="ListObjects", recipientAccountId="123456789012"),
    ]
    put(moto, records, minutes_ago(5))
    table = session(moto).insights(
        "fields eventName, requestParameters.maxKeys, additionalEventData.bytesTransferredOut, "
        "recipientAccountId, additionalEventData.x_amz_id_2, eventVersion, @timestamp "
        "| sort @timestamp asc"
    )
    types = {f.name: f.type for f in table.schema}
    assert types == {
        "eventName": pa.string(),
        # Integers only (and NULLs where the field is missing): bigint.
        "requestParameters.maxKeys": pa.int64(),
        # Integers and decimals: double.
        "additionalEventData.bytesTransferredOut": pa.float64(),
        # A leading zero keeps the digits as text (an account id is not a number).
        "recipientAccountId": pa.string(),
        # A number and a word: text.
        "additionalEventData.x_amz_id_2": pa.string(),
        # Every value a decimal number: double (the documented pitfall of version strings).
        "eventVersion": pa.float64(),
        "@timestamp": pa.timestamp("ms", tz="UTC"),
    }
    rows = table.to_pylist()
    assert [r["requestParameters.maxKeys"] for r in rows] == [100, None, None]
    assert [r["additionalEventData.bytesTransferredOut"] for r in rows] == [512.0, 2.5, None]
    assert [r["recipientAccountId"] for r in rows] == ["012345678901"] + ["123456789012"] * 2


def test_fields_missing_from_the_first_row_follow_its_columns(moto: MotoServer) -> None:
    records = [
        record(eventName="A"),
        record(eventName="B", errorCode="AccessDenied"),
        record(errorCode="NoSuchKey"),
    ]
    put(moto, records, minutes_ago(5))
    table = session(moto).insights("fields errorCode, eventName | sort @timestamp asc")
    # Logs Insights leaves a field out of a row without it; the first row has only eventName.
    assert table.column_names == ["eventName", "errorCode"]
    assert table.to_pylist() == [
        {"eventName": "A", "errorCode": None},
        {"eventName": "B", "errorCode": "AccessDenied"},
        {"eventName": None, "errorCode": "NoSuchKey"},
    ]


def test_the_time_range_bounds_the_events(moto: MotoServer) -> None:
    first = minutes_ago(50)
    stamps = put(moto, real_records()[:20], first, step_ms=60_000)  # one a minute
    s = session(moto)
    # Both ends included, whole seconds: events 5 to 9.
    table = s.insights("fields @timestamp | sort @timestamp asc", at(stamps[5]), at(stamps[9]))
    assert table.column("@timestamp").to_pylist() == [at(t) for t in stamps[5:10]]
    info = s.last_query
    assert info is not None
    # Rounded outwards to whole seconds: the range sent covers the range asked for.
    assert info.start_time == at(stamps[5] // 1000 * 1000)
    assert info.end_time == at((stamps[9] // 1000 + 1) * 1000)
    # ISO text and naive datetimes (UTC) are the same bounds.
    iso = at(stamps[5]).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    naive = at(stamps[9]).replace(tzinfo=None)
    assert s.insights("fields @timestamp", iso, naive).num_rows == 5


def test_the_default_range_is_the_last_hour(moto: MotoServer) -> None:
    put(moto, real_records()[:3], minutes_ago(90), step_ms=60_000)
    put(moto, real_records()[3:5], minutes_ago(20), step_ms=60_000)
    s = session(moto)
    assert s.insights("fields eventName").num_rows == 2
    info = s.last_query
    assert info is not None
    assert info.end_time - info.start_time == dt.timedelta(hours=1, seconds=1)
    assert abs((dt.datetime.now(UTC) - info.end_time).total_seconds()) < 60
    # Only `end`: the hour before it.
    end = dt.datetime.now(UTC) - dt.timedelta(minutes=45)
    assert s.insights("fields eventName", end=end).num_rows == 3


def test_bad_time_bounds_are_refused_up_front(moto: MotoServer) -> None:
    put(moto, real_records()[:1], minutes_ago(5))
    s = session(moto)
    with pytest.raises(spintrail.InvalidArgumentError, match="is after end"):
        s.insights("fields eventName", "2024-07-31", "2024-07-30")
    with pytest.raises(spintrail.InvalidArgumentError, match="not an ISO-8601 time"):
        s.insights("fields eventName", "yesterday")
    with pytest.raises(spintrail.InvalidArgumentError, match="must be a datetime"):
        s.insights("fields eventName", 1722300000)  # type: ignore[arg-type]
    with pytest.raises(spintrail.InvalidArgumentError, match="query is empty"):
        s.insights("  ")
    assert logs(moto).describe_queries(logGroupName=GROUP)["queries"] == []


def test_statistics_travel_with_the_result(moto: MotoServer) -> None:
    records = real_records()[:12]
    put(moto, records, minutes_ago(30))
    s = session(moto)
    table = s.insights("fields eventName | limit 4")
    info = s.last_query
    assert info is not None
    message_bytes = sum(len(json.dumps(r, separators=(",", ":")).encode()) for r in records)
    assert (info.records_scanned, info.bytes_scanned) == (12, message_bytes)
    assert info.records_matched == 12 and info.rows == 4 and table.num_rows == 4
    assert info.status == "Complete" and info.log_groups == (GROUP,)
    assert info.query == "fields eventName | limit 4"
    assert table.schema.metadata == {k.encode(): v.encode() for k, v in info.metadata().items()}
    assert table.schema.metadata[b"spintrail.engine"] == b"cloudwatch"
    assert f"{info.records_scanned} records" in info.summary()
    ran = logs(moto).describe_queries(logGroupName=GROUP)["queries"]
    assert [q["queryId"] for q in ran] == [info.query_id]


def test_an_empty_result_has_no_columns(moto: MotoServer) -> None:
    put(moto, real_records()[:2], minutes_ago(5))
    s = session(moto)
    table = s.insights("fields eventName", "2020-01-01", "2020-01-02")
    assert table.num_rows == 0 and table.num_columns == 0
    assert s.last_query is not None and s.last_query.records_scanned == 0


def test_progress_is_reported_while_polling(moto: MotoServer) -> None:
    put(moto, real_records()[:3], minutes_ago(5))
    seen: list[dict[str, Any]] = []
    session(moto).insights("# moto:polls 3\nfields eventName", progress=seen.append)
    statuses = [p["status"] for p in seen]
    assert statuses[0] == "Scheduled" and "Running" in statuses and statuses[-1] == "Complete"
    assert len({p["query_id"] for p in seen}) == 1
    assert seen[-1]["elapsed"] >= seen[0]["elapsed"]
    assert seen[-1]["records_scanned"] == 3 and seen[-1]["bytes_scanned"] > 0


def test_results_over_several_pages_are_all_read(moto: MotoServer) -> None:
    records = real_records()[:23]
    put(moto, records, minutes_ago(30))
    table = session(moto).insights("# moto:page 5\nfields eventID | sort @timestamp asc")
    assert table.column("eventID").to_pylist() == [r["eventID"] for r in records]


def test_timeout_stops_the_query(moto: MotoServer) -> None:
    put(moto, real_records()[:1], minutes_ago(5))
    started = time.monotonic()
    with pytest.raises(
        spintrail.CloudWatchTimeoutError, match=r"within 0.5 s.*it was stopped"
    ) as e:
        session(moto, timeout=0.5).insights("# moto:polls 1000000\nfields eventName")
    assert time.monotonic() - started < 10
    assert isinstance(e.value, spintrail.CloudWatchError)
    assert e.value.query_id is not None
    assert query_status(moto, e.value.query_id) == "Cancelled"


@pytest.mark.usefixtures("sigint_raises_keyboard_interrupt")
def test_ctrl_c_stops_the_query(moto: MotoServer) -> None:
    put(moto, real_records()[:1], minutes_ago(5))
    s = session(moto)
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            s.insights("# moto:polls 1000000\nfields eventName")
    finally:
        timer.cancel()
    assert wait_for_status(moto, "Cancelled") == "Cancelled"


def test_cancelling_the_task_stops_the_query(moto: MotoServer) -> None:
    put(moto, real_records()[:1], minutes_ago(5))
    s = session(moto)

    async def run() -> None:
        task = asyncio.ensure_future(s.insights_async("# moto:polls 1000000\nfields eventName"))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert wait_for_status(moto, "Cancelled") == "Cancelled"


def test_a_query_stopped_elsewhere_raises_cancelled(moto: MotoServer) -> None:
    put(moto, real_records()[:1], minutes_ago(5))
    s = session(moto)

    def stop_it() -> None:
        time.sleep(0.5)
        client = logs(moto)
        for query in client.describe_queries(logGroupName=GROUP)["queries"]:
            client.stop_query(queryId=query["queryId"])

    stopper = threading.Thread(target=stop_it)
    stopper.start()
    with pytest.raises(spintrail.QueryCancelledError, match="cancelled") as e:
        s.insights("# moto:polls 1000000\nfields eventName")
    stopper.join()
    assert getattr(e.value, "query_id", None) is not None


def test_failed_and_timed_out_statuses_raise(moto: MotoServer) -> None:
    put(moto, real_records()[:1], minutes_ago(5))
    s = session(moto)
    with pytest.raises(spintrail.CloudWatchError, match=r"query failed.*\[query id ") as e:
        s.insights("# moto:status Failed\nfields eventName")
    assert e.value.query_id is not None
    with pytest.raises(spintrail.CloudWatchTimeoutError, match="its own time limit"):
        s.insights("# moto:status Timeout\nfields eventName")


def test_async_returns_the_same_table(moto: MotoServer) -> None:
    put(moto, real_records()[:7], minutes_ago(5))
    s = session(moto)
    query = "fields eventID, @timestamp | sort @timestamp asc"
    assert asyncio.run(s.insights_async(query)).equals(s.insights(query))


def test_concurrent_queries_each_carry_their_own_facts(moto: MotoServer) -> None:
    """Queries over different time ranges at once: each table's metadata is its own query's
    (records scanned = the minutes in its range), and its query id is the query that ran."""
    first = minutes_ago(40)
    stamps = put(moto, real_records()[:30], first, step_ms=60_000)
    s = session(moto)
    ranges = [(at(stamps[0]), at(stamps[i])) for i in range(1, 13)]

    with ThreadPoolExecutor(max_workers=6) as pool:
        threaded = list(pool.map(lambda r: s.insights("fields eventID", *r), ranges))

    async def run_all() -> list[pa.Table]:
        return list(await asyncio.gather(*(s.insights_async("fields eventID", *r) for r in ranges)))

    awaited = asyncio.run(run_all())
    client = logs(moto)
    for tables in (threaded, awaited):
        for i, table in enumerate(tables, start=1):
            meta = table.schema.metadata
            assert int(meta[b"spintrail.records_scanned"]) == i + 1 == table.num_rows
            query_id = meta[b"spintrail.query_id"].decode()
            assert len(client.get_query_results(queryId=query_id)["results"]) == i + 1


def test_several_log_groups_in_one_query(moto: MotoServer) -> None:
    put(moto, real_records()[:2], minutes_ago(5))
    put(moto, real_records()[2:5], minutes_ago(5), group="other-trail", stream="s")
    s = session(moto, log_group=[GROUP, "other-trail"])
    table = s.insights("fields @log")
    assert sorted(table.column("@log").to_pylist()) == [GROUP] * 2 + ["other-trail"] * 3
    assert s.log_groups == [GROUP, "other-trail"]


def test_unknown_log_group_names_it(moto: MotoServer) -> None:
    with pytest.raises(
        spintrail.CloudWatchError,
        match=r'logs:StartQuery: ResourceNotFoundException.*log group "nope".*--log-group',
    ) as e:
        session(moto, log_group="nope").insights("fields eventName")
    assert e.value.query_id is None


def test_malformed_query_is_refused_by_logs_insights(moto: MotoServer) -> None:
    put(moto, real_records()[:1], minutes_ago(5))
    with pytest.raises(
        spintrail.CloudWatchError, match=r"MalformedQueryException.*not valid Logs Insights"
    ):
        session(moto).insights("fields eventName | limit lots")


def test_sql_is_refused_with_the_way_to_insights(moto: MotoServer) -> None:
    s = session(moto)
    with pytest.raises(spintrail.InvalidArgumentError, match=r"not SQL.*insights\("):
        s.sql("SELECT 1")


def test_missing_credentials_say_what_to_do(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(spintrail.CloudWatchError, match=r"(?s)no AWS credentials found.*--profile"):
        session(moto)


def test_unreachable_endpoint_says_so(moto: MotoServer) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    s = spintrail.connect(
        engine="cloudwatch", log_group=GROUP, endpoint_url=closed, region=REGION, max_attempts=1
    )
    with pytest.raises(spintrail.CloudWatchError, match="cannot reach the AWS endpoint"):
        s.insights("fields eventName")


def test_bad_arguments_are_refused_up_front(moto: MotoServer) -> None:
    with pytest.raises(spintrail.InvalidArgumentError, match="needs log_group"):
        spintrail.connect(engine="cloudwatch")  # type: ignore[call-overload]
    with pytest.raises(spintrail.InvalidArgumentError, match="drop the source"):
        spintrail.connect("logs/", engine="cloudwatch", log_group=GROUP)  # type: ignore[call-overload]
    with pytest.raises(
        spintrail.InvalidArgumentError, match="log_group is for engine='cloudwatch'"
    ):
        spintrail.connect("logs/", log_group=GROUP)  # type: ignore[call-overload]
    with pytest.raises(spintrail.InvalidArgumentError, match="no log group given"):
        session(moto, log_group=[])
    with pytest.raises(spintrail.InvalidArgumentError, match="at most 50"):
        session(moto, log_group=[f"g{i}" for i in range(51)])
    with pytest.raises(spintrail.InvalidArgumentError, match="timeout"):
        session(moto, timeout=0)
    with pytest.raises(spintrail.InvalidArgumentError, match="unknown engine"):
        spintrail.connect(engine="logs")  # type: ignore[call-overload]


def test_cli_runs_the_text_on_cloudwatch(
    moto: MotoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from spintrail.cli import main

    records = real_records()[:12]
    put(moto, records, minutes_ago(20))
    code = main(
        [
            "insights",
            "--engine",
            "cloudwatch",
            "--log-group",
            GROUP,
            "--endpoint-url",
            moto.url,
            "--format",
            "json",
            "fields eventName | sort @timestamp asc",
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    assert [row["eventName"] for row in json.loads(out.out)] == [r["eventName"] for r in records]
    assert "query" in out.err  # the query's id and statistics on stderr
    assert main(["insights", "--engine", "cloudwatch", "fields eventName"]) == 2
    assert "--log-group" in capsys.readouterr().err
