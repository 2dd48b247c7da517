"""Cost before running, against moto in server mode: the Glue table as ``spintrail provision``
creates it (partition projection over accounts, regions and days), generated logs uploaded in
CloudTrail's layout, and boto3 (an independent client) listing the bucket to say what each
estimate must count. The guard is checked by what Athena received: nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import spintrail
from moto_server import MotoServer, moto_fixtures
from spintrail.cli import main
from spintrail.generate import generate
from spintrail.provision import Stack

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
OTHER = "111122223333"
REGIONS = ("us-east-1", "eu-west-1")
BUCKET = "spintrail-estimate-logs"
RESULTS = f"s3://{BUCKET}/athena-results/"
MB = 1 << 20
LAUNCHER = str(Path(__file__).with_name("athena_moto.py"))

server, moto = moto_fixtures(REGION, LAUNCHER)


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def day_text(days_ago: int) -> str:
    return (today() - dt.timedelta(days=days_ago)).strftime("%Y/%m/%d")


Key = tuple[str, str, str, int]  # account, region, day, size


@pytest.fixture()
def trail(moto: MotoServer, tmp_path: Path) -> list[Key]:
    """The stack provisioned (projection from 10 days ago), three days of generated logs for
    two accounts and two regions uploaded, plus objects no projected partition holds: a digest
    file and a log file older than the projection's start. Returns every projected log object
    as (account, region, day, size), read back with boto3."""
    Stack(
        bucket=BUCKET,
        region=REGION,
        endpoint_url=moto.url,
        max_attempts=1,
        accounts=[ACCOUNT, OTHER],
        regions=list(REGIONS),
        projection_start=day_text(10),
    ).apply()
    out = tmp_path / "logs"
    end = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    generate(
        out,
        events=3000,
        days=3,
        end=end.replace(hour=12, minute=0, second=0, microsecond=0),
        accounts=(ACCOUNT, OTHER),
        regions=REGIONS,
        events_per_file=150,
    )
    s3 = moto.client("s3", REGION)
    # The provisioned bucket policy lets only CloudTrail write logs (over TLS): moto never
    # delivers, so the test drops the policy and uploads them itself.
    s3.delete_bucket_policy(Bucket=BUCKET)
    for path in sorted(out.rglob("*.json.gz")):
        s3.upload_file(str(path), BUCKET, path.relative_to(out).as_posix())
    old = f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{day_text(30)}/old.json.gz"
    s3.put_object(Bucket=BUCKET, Key=old, Body=b"x" * 5000)
    digest = f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/{day_text(2)}/d.json.gz"
    s3.put_object(Bucket=BUCKET, Key=digest, Body=b"x" * 700)
    first = day_text(10)
    keys: list[Key] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="AWSLogs/"):
        for obj in page.get("Contents", []):
            parts = obj["Key"].split("/")
            if len(parts) == 8 and parts[2] == "CloudTrail":
                day = "/".join(parts[4:7])
                if first <= day <= today().strftime("%Y/%m/%d"):
                    keys.append((parts[1], parts[3], day, obj["Size"]))
    assert len({k[2] for k in keys}) >= 3 and len({k[0] for k in keys}) == 2
    return keys


def session(server: MotoServer, **options: Any) -> spintrail.AthenaSession:
    options.setdefault("output_location", RESULTS)
    options.setdefault("max_attempts", 2)
    return spintrail.connect(engine="athena", endpoint_url=server.url, **options)


def seed_count(server: MotoServer, value: str) -> None:
    """Queues the result of the next query (moto runs no SQL): one bigint column."""
    info = [
        {
            "Name": "n",
            "Label": "n",
            "Type": "bigint",
            "Precision": 0,
            "Scale": 0,
            "Nullable": "UNKNOWN",
            "CaseSensitive": False,
        }
    ]
    rows = [{"Data": [{"VarCharValue": "n"}]}, {"Data": [{"VarCharValue": value}]}]
    server.post_json(
        "/moto-api/static/athena/query-results",
        {"account_id": ACCOUNT, "region": REGION, "results": [{"rows": rows, "column_info": info}]},
    )


def expected(keys: list[Key], keep: Callable[[str, str, str], bool]) -> tuple[int, int]:
    chosen = [size for account, region, day, size in keys if keep(account, region, day)]
    return len(chosen), sum(chosen)


def test_estimate_counts_exactly_the_selected_partitions(
    moto: MotoServer, trail: list[Key]
) -> None:
    s = session(moto)
    days = sorted({k[2] for k in trail})
    cases: list[tuple[str, Callable[[str, str, str], bool]]] = [
        ("", lambda a, r, d: True),
        (f"WHERE day = '{days[0]}'", lambda a, r, d: d == days[0]),
        (
            f"WHERE day BETWEEN '{days[0]}' AND '{days[1]}' AND region = 'eu-west-1'",
            lambda a, r, d: days[0] <= d <= days[1] and r == "eu-west-1",
        ),
        (f"WHERE account = '{OTHER}'", lambda a, r, d: a == OTHER),
        (
            f"WHERE account IN ('{ACCOUNT}') AND day > '{days[0]}' AND eventname = 'AssumeRole'",
            lambda a, r, d: a == ACCOUNT and d > days[0],
        ),
    ]
    for where, keep in cases:
        sql = f"SELECT eventname, count(*) FROM cloudtrail_logs {where} GROUP BY 1"
        e = s.estimate(sql)
        assert (e.objects, e.bytes) == expected(trail, keep), where
        assert e.complete and not e.upper_bound, where
        assert e.tables == ("default.cloudtrail_logs",)
        assert e.billed_bytes == max(math.ceil(e.bytes / MB), 10) * MB
        assert e.cost_usd == pytest.approx(e.billed_bytes / 2**40 * 5.0)
        assert e.raw_cost_usd == pytest.approx(e.bytes / 2**40 * 5.0)
    # The projection covers 11 days (10 days ago up to today) x 2 accounts x 2 regions.
    assert s.estimate("SELECT * FROM cloudtrail_logs").partitions == 11 * 2 * 2
    one = s.estimate(f"SELECT * FROM cloudtrail_logs WHERE day = '{days[0]}'")
    assert one.partitions == 4
    assert all(p.endswith(f"/{days[0]}/") for p in one.prefixes)
    # A parameter is bound before the estimate, as Athena binds it.
    bound = s.estimate("SELECT count(*) FROM cloudtrail_logs WHERE day = ?", [days[0]])
    assert (bound.objects, bound.bytes) == (one.objects, one.bytes)


def test_eventtime_does_not_prune_on_athena_and_the_note_says_so(
    moto: MotoServer, trail: list[Key]
) -> None:
    s = session(moto)
    days = sorted({k[2] for k in trail})
    start = days[-1].replace("/", "-")
    everything = s.estimate("SELECT count(*) FROM cloudtrail_logs")
    for where in (
        f"eventtime >= '{start}T00:00:00Z'",
        f"from_iso8601_timestamp(eventtime) > from_iso8601_timestamp('{start}T00:00:00Z')",
    ):
        e = s.estimate(f"SELECT count(*) FROM cloudtrail_logs WHERE {where}")
        assert (e.objects, e.bytes) == (everything.objects, everything.bytes), where
        note = " ".join(e.notes)
        assert "Athena prunes only on partition columns" in note, note
        assert f"day >= '{days[-1]}'" in note, note
    # The same bound on day prunes.
    pruned = s.estimate(f"SELECT count(*) FROM cloudtrail_logs WHERE day >= '{days[-1]}'")
    assert (pruned.objects, pruned.bytes) == expected(trail, lambda a, r, d: d >= days[-1])


def test_joins_subqueries_and_self_joins_count_every_scan(
    moto: MotoServer, trail: list[Key]
) -> None:
    s = session(moto)
    days = sorted({k[2] for k in trail})
    n, size = expected(trail, lambda a, r, d: d == days[0])
    m, size2 = expected(trail, lambda a, r, d: d == days[1] and r == "us-east-1")
    e = s.estimate(
        f"""SELECT a.eventname FROM cloudtrail_logs a
        JOIN (SELECT eventid FROM cloudtrail_logs
              WHERE day = '{days[1]}' AND region = 'us-east-1') b
          ON a.eventid = b.eventid
        WHERE a.day = '{days[0]}'"""
    )
    # Athena reads the table once per scan, and bills both.
    assert (e.objects, e.bytes) == (n + m, size + size2)
    assert e.tables == ("default.cloudtrail_logs", "default.cloudtrail_logs")
    nothing = s.estimate("SELECT 1")
    assert (nothing.objects, nothing.bytes, nothing.cost_usd) == (0, 0, 0.0)


def test_a_table_without_projection_or_not_cloudtrail_is_counted_whole(
    moto: MotoServer, trail: list[Key]
) -> None:
    glue = moto.client("glue", REGION)
    s3 = moto.client("s3", REGION)
    s3.put_object(Bucket=BUCKET, Key="owners/a.csv", Body=b"a" * 1234)
    s3.put_object(Bucket=BUCKET, Key="owners/_SUCCESS", Body=b"")
    glue.create_table(
        DatabaseName="default",
        TableInput={
            "Name": "owners",
            "StorageDescriptor": {
                "Columns": [{"Name": "account", "Type": "string"}],
                "Location": f"s3://{BUCKET}/owners/",
            },
        },
    )
    s = session(moto)
    days = sorted({k[2] for k in trail})
    n, size = expected(trail, lambda a, r, d: d == days[0])
    e = s.estimate(
        f"""SELECT o.account, count(*) FROM cloudtrail_logs c JOIN owners o
        ON c.recipientaccountid = o.account WHERE c.day = '{days[0]}' GROUP BY 1"""
    )
    assert (e.objects, e.bytes) == (n + 1, size + 1234)
    assert any("default.owners is not a CloudTrail table" in note for note in e.notes)
    with pytest.raises(spintrail.SqlError, match="nosuchtable"):
        s.estimate("SELECT * FROM nosuchtable")


def test_max_cost_refuses_before_the_query_reaches_athena(
    moto: MotoServer, trail: list[Key]
) -> None:
    athena = moto.client("athena", REGION)
    s = session(moto, max_cost=0.0000001)
    assert s.max_cost == 0.0000001
    with pytest.raises(spintrail.CostLimitError) as caught:
        s.sql("SELECT count(*) FROM cloudtrail_logs")
    message = str(caught.value)
    objects, size = expected(trail, lambda a, r, d: True)
    assert f"{objects} objects" in message and f"({size} bytes)" in message, message
    assert "max_cost $0.000000" in message and "Narrow it" in message, message
    assert isinstance(caught.value, spintrail.SpintrailError)
    by_bytes = session(moto, max_bytes=size - 1)
    with pytest.raises(spintrail.CostLimitError, match=f"max_bytes {size - 1}"):
        by_bytes.sql_stream("SELECT count(*) FROM cloudtrail_logs")
    # Statements the estimate cannot follow are refused too while a limit is set.
    with pytest.raises(spintrail.CostLimitError, match="cannot be estimated"):
        s.sql("INSERT INTO t SELECT * FROM cloudtrail_logs")
    assert athena.list_query_executions()["QueryExecutionIds"] == []
    # Within the limit, or with the limit lifted for one query, it runs.
    seed_count(moto, "7")
    lifted = by_bytes.sql("SELECT count(*) AS n FROM cloudtrail_logs", max_bytes=None)
    assert lifted.column("n").to_pylist() == [7]
    assert len(athena.list_query_executions()["QueryExecutionIds"]) == 1
    roomy = session(moto, max_cost=1.0)
    seed_count(moto, "3")
    roomy.sql(f"SELECT count(*) FROM cloudtrail_logs WHERE day = '{day_text(1)}'")
    assert len(athena.list_query_executions()["QueryExecutionIds"]) == 2
    with pytest.raises(spintrail.CostLimitError):
        roomy.sql("SELECT count(*) FROM cloudtrail_logs", max_cost=0.0)
    assert len(athena.list_query_executions()["QueryExecutionIds"]) == 2


def test_cli_estimates_and_refuses(
    moto: MotoServer, trail: list[Key], capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["query", "--engine", "athena", "--endpoint-url", moto.url]
    base += ["--output-location", RESULTS]
    objects, size = expected(trail, lambda a, r, d: True)
    assert main([*base, "--estimate", "SELECT * FROM cloudtrail_logs"]) == 0
    out = capsys.readouterr().out
    assert f"Athena would scan {objects} objects" in out and f"({size} bytes)" in out, out
    assert "$5.00/TB" in out
    code = main([*base, "--max-cost", "0.0000001", "SELECT * FROM cloudtrail_logs"])
    err = capsys.readouterr().err
    assert code != 0 and "query not started" in err, err
    assert moto.client("athena", REGION).list_query_executions()["QueryExecutionIds"] == []


def test_local_scan_statistics_say_what_athena_would_cost(tmp_path: Path) -> None:
    generate(tmp_path, events=2000, days=2, events_per_file=100)
    sizes = {p: p.stat().st_size for p in tmp_path.rglob("*.json.gz")}
    local = spintrail.connect(tmp_path)
    local.sql("SELECT count(*) FROM cloudtrail_logs")
    stats = local.last_stats
    assert stats is not None
    assert stats.bytes_read == sum(sizes.values())
    assert stats.athena_billed_bytes == max(math.ceil(stats.bytes_read / MB), 10) * MB
    assert stats.athena_cost_usd == pytest.approx(stats.athena_billed_bytes / 2**40 * 5.0)
    assert f"on Athena ${stats.athena_cost_usd:.6f}" in stats.summary()
    day = sorted({p.parent.relative_to(tmp_path).as_posix()[-10:] for p in sizes})[0]
    local.sql(f"SELECT count(*) FROM cloudtrail_logs WHERE day = '{day}'")
    one_day = local.last_stats
    assert one_day is not None
    assert one_day.bytes_read == sum(
        s for p, s in sizes.items() if p.parent.as_posix()[-10:] == day
    )
