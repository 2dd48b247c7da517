"""A compacted copy on S3 read by the embedded engine (moto): the same columns and answers as the
local compacted copy and the JSON, partition and eventtime pruning, and the S3 source's errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import spintrail
from conftest import day_files, rows
from fault_proxy import FaultProxy
from moto_server import MotoServer, free_port, is_head_bucket, moto_fixtures, signed_for
from spintrail.compact import compact

REGION = "eu-west-1"
END = "2026-11-01T00:00:00Z"
COPY = "s3://lake/copy/"

server, moto = moto_fixtures(REGION)


def options(moto: MotoServer) -> dict[str, Any]:
    return {"region": REGION, "endpoint_url": moto.url, "max_attempts": 1}


@pytest.fixture()
def s3_copy(moto: MotoServer, two_days: Path) -> str:
    """The logs compacted into a moto bucket, as `spintrail compact` writes them."""
    s3 = moto.client("s3", REGION)
    s3.create_bucket(Bucket="lake", CreateBucketConfiguration={"LocationConstraint": REGION})
    report = compact(two_days, COPY, row_group_rows=1000, **options(moto))
    assert report.days_written > 0
    return COPY


def reference_style(arn: str) -> str:
    """The reference query's shape (calls and errors of one identity) on a fixed time range."""
    return f"""SELECT count(*) AS Total, eventname, errorcode, errormessage
FROM "default"."cloudtrail_logs"
WHERE useridentity.arn = '{arn}'
        AND from_iso8601_timestamp(eventtime) > from_iso8601_timestamp('2026-10-31T18:00:00Z')
GROUP BY  eventname, errorcode, errormessage
ORDER BY  Total desc"""


def test_same_columns_and_answers_as_the_local_copy_and_the_json(
    moto: MotoServer, two_days: Path, two_days_parquet: Path, s3_copy: str
) -> None:
    remote = spintrail.connect(s3_copy, **options(moto))
    local = spintrail.connect(two_days_parquet)
    on_json = spintrail.connect(two_days)
    busiest = local.sql(
        "SELECT useridentity.arn AS arn, count(*) AS n FROM cloudtrail_logs "
        "WHERE useridentity.arn IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
    )
    arn = busiest["arn"][0].as_py()
    queries = [
        reference_style(arn),
        "SELECT count(*) AS n FROM cloudtrail_logs",
        "SELECT account, region, day, count(*) AS n FROM cloudtrail_logs GROUP BY 1, 2, 3",
        "SELECT eventname, count(*) AS n FROM cloudtrail_logs "
        "WHERE day = '2026/10/31' AND region = 'us-west-2' GROUP BY 1",
        "SELECT eventid, eventtime, useridentity.sessioncontext.sessionissuer.username AS u "
        "FROM cloudtrail_logs WHERE eventtime >= '2026-10-31T10:00:00Z' "
        "AND eventtime < '2026-10-31T10:30:00Z'",
    ]
    for sql in queries:
        expected = rows(on_json, sql)
        assert expected, f"the query selects something: {sql}"
        assert rows(local, sql) == expected, sql
        assert rows(remote, sql) == expected, sql
    # Read as Parquet: one file per account, region and day, not the JSON objects.
    remote.sql("SELECT eventname, count(*) AS n FROM cloudtrail_logs GROUP BY 1")
    stats = remote.last_stats
    assert stats is not None and stats.files_read == len(day_files(two_days_parquet)) > 0
    assert stats.bytes_read > 0
    # The same columns, in the same order and types.
    star = "SELECT * FROM cloudtrail_logs LIMIT 1"
    assert remote.sql(star).schema == local.sql(star).schema
    # Other partition layouts and duplicate-free views work on the S3 copy too.
    manual = (
        "SELECT region, year, month, day, count(*) AS n FROM cloudtrail_logs "
        "WHERE month = '10' GROUP BY 1, 2, 3, 4"
    )
    assert rows(spintrail.connect(s3_copy, partitions="aws-manual", **options(moto)), manual) == (
        rows(spintrail.connect(two_days, partitions="aws-manual"), manual)
    )
    count = "SELECT count(*) AS n FROM cloudtrail_logs"
    assert rows(spintrail.connect(s3_copy, dedup=True, **options(moto)), count) == rows(
        spintrail.connect(two_days_parquet, dedup=True), count
    )


def test_partition_filters_and_time_ranges_prune(
    moto: MotoServer, two_days_parquet: Path, s3_copy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The endpoint from AWS_ENDPOINT_URL, as for every S3 source.
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    session = spintrail.connect(s3_copy, region=REGION)
    session.sql("SELECT eventname, count(*) AS n FROM cloudtrail_logs GROUP BY 1")
    full = session.last_stats
    assert full is not None and full.bytes_read > 0
    assert full.files_read == len(day_files(two_days_parquet))
    session.sql(
        "SELECT eventname, count(*) AS n FROM cloudtrail_logs "
        "WHERE day = '2026/10/31' AND region = 'us-east-1' GROUP BY 1"
    )
    one_day = session.last_stats
    assert one_day is not None and one_day.files_read == 1
    assert one_day.bytes_read < full.bytes_read / 2
    # Row groups of 1000 sorted rows: a ten-minute range reads a few of them, also through
    # from_iso8601_timestamp (the engine adds the eventtime text bounds it implies).
    for condition in (
        "eventtime >= '2026-10-31T10:00:00Z' AND eventtime < '2026-10-31T10:10:00Z'",
        "from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp('2026-10-31T10:00:00Z') "
        "AND from_iso8601_timestamp(eventtime) < from_iso8601_timestamp('2026-10-31T10:10:00Z')",
    ):
        session.sql(
            f"SELECT eventname, count(*) AS n FROM cloudtrail_logs WHERE {condition} GROUP BY 1"
        )
        ranged = session.last_stats
        assert ranged is not None and 0 < ranged.rows < full.rows / 5
        assert ranged.bytes_read < full.bytes_read


def test_time_filters_the_statistics_prove_true_are_not_evaluated(
    moto: MotoServer, two_days: Path, s3_copy: str
) -> None:
    # As on a local copy: a bound outside the copy's days is proven true by the files' eventtime
    # min/max, so the scan reads the bytes of the query without it (eventtime is not fetched).
    session = spintrail.connect(s3_copy, **options(moto))
    base = "SELECT eventname, count(*) AS n FROM cloudtrail_logs{} GROUP BY 1"
    session.sql(base.format(""))
    untimed = session.last_stats
    assert untimed is not None and untimed.bytes_read > 0
    on_json = spintrail.connect(two_days)
    proven = "from_iso8601_timestamp(eventtime) > from_iso8601_timestamp('2026-10-29T00:00:00Z')"
    sql = base.format(f" WHERE {proven}")
    assert rows(session, sql) == rows(on_json, sql)
    stats = session.last_stats
    assert stats is not None and stats.bytes_read == untimed.bytes_read

    # A bound inside the copy is evaluated on the rows, with the JSON's answer.
    inside = "from_iso8601_timestamp(eventtime) > from_iso8601_timestamp('2026-10-31T12:00:00Z')"
    sql = base.format(f" WHERE {inside}")
    expected = rows(on_json, sql)
    assert rows(session, sql) == expected
    assert sum(n for _, n in expected) < sum(n for _, n in rows(session, base.format("")))


def test_a_prefix_without_a_manifest_is_read_as_json_logs(
    moto: MotoServer, two_days: Path, s3_copy: str
) -> None:
    s3 = moto.client("s3", REGION)
    # One day of one region is enough (and quick to upload).
    files = sorted(
        p for p in two_days.rglob("*.json.gz") if "/us-east-1/2026/10/31/" in p.as_posix()
    )
    assert files
    for f in files:
        s3.upload_file(str(f), "lake", "logs/" + f.relative_to(two_days).as_posix())
    session = spintrail.connect("s3://lake/logs/", **options(moto))
    sql = "SELECT count(*) AS n FROM cloudtrail_logs"
    where = " WHERE region = 'us-east-1' AND day = '2026/10/31'"
    local = spintrail.connect(two_days)
    assert rows(session, sql) == rows(local, sql + where)
    stats = session.last_stats
    assert stats is not None and stats.files_read == len(files)

    # Time filters are applied to the rows of the JSON logs by the scan (the table takes them
    # as exact, for a compacted copy's sake), also under a LIMIT and when eventtime is not read.
    after = "from_iso8601_timestamp(eventtime) > from_iso8601_timestamp('2026-10-31T12:00:00Z')"
    timed = f"SELECT count(*) AS n FROM cloudtrail_logs WHERE {after}"
    (n,) = rows(session, timed)[0]
    assert 0 < n < rows(session, sql)[0][0]
    assert rows(session, timed) == rows(local, f"{timed} AND {where[7:]}")
    later = {
        r["eventid"]
        for r in local.sql(f"SELECT eventid FROM cloudtrail_logs WHERE {after}").to_pylist()
    }
    limited = session.sql(f"SELECT eventid FROM cloudtrail_logs WHERE {after} LIMIT 5")
    assert limited.num_rows == 5 and set(limited["eventid"].to_pylist()) <= later


def test_a_copy_in_another_region_is_read_in_its_own(moto: MotoServer, s3_copy: str) -> None:
    # The copy's bucket is in eu-west-1, the session's region us-east-1: after one HeadBucket
    # (signed for us-east-1, answered with the bucket's region) every request is signed for it.
    with moto.recording() as requests:
        remote = spintrail.connect(s3_copy, region="us-east-1", endpoint_url=moto.url)
        assert rows(remote, "SELECT count(*) AS n FROM cloudtrail_logs")[0][0] > 0
    lake = [r for r in requests if "/lake" in str(r["url"])]
    heads = [r for r in lake if is_head_bucket(r, "lake")]
    assert [signed_for(r) for r in heads] == ["us-east-1"]
    others = [r for r in lake if not is_head_bucket(r, "lake")]
    assert len(others) > 1 and {signed_for(r) for r in others} == {"eu-west-1"}


def test_errors_name_the_source_and_what_to_do(moto: MotoServer, s3_copy: str) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    unreachable = spintrail.connect(s3_copy, region=REGION, endpoint_url=nowhere)
    with pytest.raises(spintrail.SpintrailError, match="cannot reach the AWS endpoint") as err:
        unreachable.sql("SELECT count(*) FROM cloudtrail_logs")
    assert COPY in str(err.value)
    missing = spintrail.connect("s3://no-such-lake/copy/", **options(moto))
    with pytest.raises(spintrail.SpintrailError, match="NoSuchBucket") as err:
        missing.sql("SELECT count(*) FROM cloudtrail_logs")
    assert "s3://no-such-lake/copy/" in str(err.value)
    # An object of the copy that is not Parquet is named, with what to do.
    session = spintrail.connect(s3_copy, **options(moto))
    session.sql("SELECT count(*) AS n FROM cloudtrail_logs")
    s3 = moto.client("s3", REGION)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake", Prefix="copy/")["Contents"]]
    parts = [k for k in keys if k.endswith(".parquet")]
    s3.put_object(Bucket="lake", Key=parts[0], Body=b"not parquet")
    with pytest.raises(spintrail.LogFileError, match="not a readable Parquet file") as err:
        session.sql("SELECT eventname, count(*) AS n FROM cloudtrail_logs GROUP BY 1")
    assert f"s3://lake/{parts[0]}" in str(err.value)


def test_throttling_and_cut_downloads_are_retried(
    moto: MotoServer,
    two_days_parquet: Path,
    s3_copy: str,
    fault_proxy: Callable[[str], FaultProxy],
) -> None:
    proxy = fault_proxy(moto.url)
    proxy.configure(rate=0.3, seed=11, kinds=("throttle", "server_error", "reset"))
    remote = spintrail.connect(s3_copy, region=REGION, endpoint_url=proxy.url)
    sql = (
        "SELECT account, region, day, eventname, count(*) AS n FROM cloudtrail_logs "
        "GROUP BY 1, 2, 3, 4"
    )
    assert rows(remote, sql) == rows(spintrail.connect(two_days_parquet), sql)
    assert proxy.stats.get("faulted", 0) > 0
