"""Compaction to Parquet: the layout and the manifest, incremental re-runs, the same answers as
the JSON on the embedded engine, pruning, duplicate-free views, an S3 destination and the
Athena/Glue table over the Parquet copy (moto)."""

from __future__ import annotations

import base64
import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import spintrail
from botocore.exceptions import ClientError
from conftest import day_files, rows
from moto_server import MotoServer, moto_fixtures
from spintrail import queries
from spintrail.cli import main
from spintrail.compact import compact
from spintrail.errors import SpintrailError
from spintrail.provision import Stack

REGION = "eu-west-1"
ACCOUNT = "123456789012"
END = "2026-11-01T00:00:00Z"

server, moto = moto_fixtures(REGION)


def test_layout_schema_sorting_and_manifest(two_days: Path, two_days_parquet: Path) -> None:
    files = day_files(two_days_parquet)
    relative = {f.relative_to(two_days_parquet).parent.as_posix() for f in files}
    assert (
        relative
        == {
            f"account={ACCOUNT}/region={r}/day={d}"
            for r in ("us-east-1", "us-west-2")
            for d in ("2026-10-30", "2026-10-31", "2026-11-01")
        }
        & relative
    )
    assert len(files) >= 4
    json_session = spintrail.connect(two_days)
    json_schema = json_session.sql("SELECT * FROM cloudtrail_logs LIMIT 0").schema
    record_columns = pa.schema([json_schema.field(i) for i in range(29)])
    total = 0
    for f in files:
        meta = pq.ParquetFile(f)
        assert meta.schema_arrow.names == record_columns.names
        for name in record_columns.names:
            assert meta.schema_arrow.field(name).type == record_columns.field(name).type, name
        assert meta.metadata.row_group(0).column(0).compression == "ZSTD"
        times = pq.read_table(f, columns=["eventtime"]).column(0).to_pylist()
        assert times == sorted(times)
        assert meta.metadata.num_row_groups == -(-meta.metadata.num_rows // 1000)
        total += meta.metadata.num_rows
    assert total == json_session.sql("SELECT count(*) AS n FROM cloudtrail_logs")["n"][0].as_py()
    manifest = json.loads((two_days_parquet / "_spintrail_manifest.json").read_text())
    assert set(manifest["days"]) == {
        f.relative_to(two_days_parquet).parent.as_posix() for f in files
    }
    inputs = [i["name"] for d in manifest["days"].values() for i in d["inputs"]]
    assert len(inputs) == len(list(two_days.rglob("*.json.gz")))
    assert not list(two_days_parquet.rglob("*.tmp"))


SAME_ANSWER_QUERIES = [
    queries.calls_by_api(),
    queries.throttling_by_hour(),
    queries.errors(),
    queries.spinnaker_share(),
    queries.pipeline_attribution(),
    "SELECT account, region, day, count(*) AS n FROM cloudtrail_logs GROUP BY 1, 2, 3",
    "SELECT eventname, count(*) AS n FROM cloudtrail_logs "
    "WHERE day = '2026/10/31' AND region = 'us-west-2' GROUP BY 1",
    "SELECT r.arn, r.type, count(*) AS n FROM cloudtrail_logs "
    "CROSS JOIN UNNEST(resources) AS t(r) GROUP BY 1, 2",
    "SELECT eventid, eventtime, useridentity.sessioncontext.sessionissuer.username AS u "
    "FROM cloudtrail_logs WHERE from_iso8601_timestamp(eventtime) "
    "BETWEEN from_iso8601_timestamp('2026-10-31T10:00:00Z') "
    "AND from_iso8601_timestamp('2026-10-31T10:30:00Z')",
    "SELECT * FROM cloudtrail_logs WHERE eventtime >= '2026-10-31T23:50:00Z'",
]


@pytest.mark.parametrize("sql", SAME_ANSWER_QUERIES)
def test_same_answers_as_the_json(two_days: Path, two_days_parquet: Path, sql: str) -> None:
    # arbitrary() may pick any row of a group (file order differs): min() is the same query, fixed.
    sql = sql.replace("arbitrary(", "min(")
    on_json = rows(spintrail.connect(two_days), sql)
    on_parquet = rows(spintrail.connect(two_days_parquet), sql)
    assert on_parquet == on_json
    assert on_json, "the query selects something"


def test_other_partition_layouts_read_the_copy(two_days: Path, two_days_parquet: Path) -> None:
    for layout, sql in (
        ("aws-projection", "SELECT timestamp, count(*) AS n FROM cloudtrail_logs GROUP BY 1"),
        (
            "aws-manual",
            "SELECT region, year, month, day, count(*) AS n FROM cloudtrail_logs "
            "WHERE month = '10' GROUP BY 1, 2, 3, 4",
        ),
    ):
        expected = rows(spintrail.connect(two_days, partitions=layout), sql)
        assert rows(spintrail.connect(two_days_parquet, partitions=layout), sql) == expected


def test_partition_filters_and_time_ranges_prune(two_days_parquet: Path) -> None:
    session = spintrail.connect(two_days_parquet)
    # count(eventname) alone is answered from the files' footers (no scan): group to read.
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
    # Row groups of 1000 sorted rows: a ten-minute range reads a few of them.
    session.sql(
        "SELECT eventname, count(*) AS n FROM cloudtrail_logs "
        "WHERE eventtime >= '2026-10-31T10:00:00Z' AND eventtime < '2026-10-31T10:10:00Z' "
        "GROUP BY 1"
    )
    ranged = session.last_stats
    assert ranged is not None and ranged.rows < full.rows / 5
    # The same range through from_iso8601_timestamp (no statistics evaluate it): the engine adds
    # the eventtime text bounds it implies, so row groups are still skipped.
    session.sql(
        "SELECT eventname, count(*) AS n FROM cloudtrail_logs "
        "WHERE from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp('2026-10-31T10:00:00Z') "
        "AND from_iso8601_timestamp(eventtime) < from_iso8601_timestamp('2026-10-31T10:10:00Z') "
        "GROUP BY 1"
    )
    converted = session.last_stats
    assert converted is not None and converted.rows < full.rows / 5


def column_chunk_bytes(files: list[Path], column: str) -> int:
    """The compressed bytes of ``column``'s chunks (all its leaves, for a struct) in ``files``."""
    total = 0
    for path in files:
        meta = pq.ParquetFile(path).metadata
        for group in range(meta.num_row_groups):
            for index in range(meta.num_columns):
                chunk = meta.row_group(group).column(index)
                if chunk.path_in_schema == column or chunk.path_in_schema.startswith(column + "."):
                    total += chunk.total_compressed_size
    return total


def test_a_filter_on_a_struct_field_reads_that_field(
    two_days: Path, two_days_parquet: Path
) -> None:
    # Filters run while the Parquet is decoded: of `useridentity` only the field compared is read,
    # not the whole struct (its other fields are most of its bytes), for the reference query too.
    files = day_files(two_days_parquet)
    whole, arn = (column_chunk_bytes(files, c) for c in ("useridentity", "useridentity.arn"))
    assert 0 < arn < whole / 3
    session = spintrail.connect(two_days_parquet)
    busiest = session.sql(
        "SELECT useridentity.arn AS arn, count(*) AS n FROM cloudtrail_logs "
        "WHERE useridentity.arn IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
    ).to_pylist()[0]["arn"]
    sql = f"""SELECT count(*) AS total, eventname, errorcode FROM cloudtrail_logs
        WHERE useridentity.arn = '{busiest}'
        AND from_iso8601_timestamp(eventtime) > from_iso8601_timestamp('2026-10-30T00:00:00Z')
        GROUP BY 2, 3"""
    expected = rows(spintrail.connect(two_days), sql)
    assert expected and rows(session, sql) == expected
    stats = session.last_stats
    assert stats is not None and 0 < stats.bytes_read < whole


def test_time_filters_the_statistics_prove_true_are_not_evaluated(
    two_days: Path, two_days_parquet: Path, tmp_path: Path
) -> None:
    # The copy holds 2026-10-30 and -31: a bound outside those days is true for every row, which
    # the files' eventtime min/max prove, so eventtime is not even read; the answer is the JSON's.
    session = spintrail.connect(two_days_parquet)
    base = "SELECT eventname, count(*) AS n FROM cloudtrail_logs{} GROUP BY 1"
    session.sql(base.format(""))
    untimed = session.last_stats
    assert untimed is not None and untimed.bytes_read > 0
    for where in (
        "from_iso8601_timestamp(eventtime) > from_iso8601_timestamp('2026-10-29T00:00:00Z')",
        "from_iso8601_timestamp(eventtime) < from_iso8601_timestamp('2026-11-02T00:00:00Z')",
        "from_iso8601_timestamp(eventtime) BETWEEN from_iso8601_timestamp('2026-10-29T00:00:00Z') "
        "AND from_iso8601_timestamp('2026-11-02T00:00:00Z')",
        "CAST(from_iso8601_timestamp(eventtime) AS DATE) >= DATE '2026-10-29'",
        "eventtime > '2026-10-29' AND eventtime < '2026-11-02'",
    ):
        sql = base.format(f" WHERE {where}")
        assert rows(session, sql) == rows(spintrail.connect(two_days), sql), where
        proven = session.last_stats
        assert proven is not None and proven.bytes_read == untimed.bytes_read, where

    # Parquet without compaction's manifest may hold any text in eventtime: nothing is proven
    # there (a malformed value must fail the query, as on the JSON), so eventtime is read.
    foreign = tmp_path / "foreign"
    shutil.copytree(two_days_parquet, foreign)
    (foreign / "_spintrail_manifest.json").unlink()
    elsewhere = spintrail.connect(foreign)
    sql = base.format(" WHERE eventtime > '2026-10-29'")
    assert rows(elsewhere, sql) == rows(session, base.format(""))
    unproven = elsewhere.last_stats
    assert unproven is not None and unproven.bytes_read > untimed.bytes_read

    # A bound inside the copy is evaluated on every row it may drop.
    inside = "from_iso8601_timestamp(eventtime) > from_iso8601_timestamp('2026-10-31T12:00:00Z')"
    sql = base.format(f" WHERE {inside}")
    expected = rows(spintrail.connect(two_days), sql)
    assert rows(session, sql) == expected
    evaluated = session.last_stats
    assert evaluated is not None and evaluated.bytes_read > untimed.bytes_read
    assert sum(n for _, n in expected) < sum(n for _, n in rows(session, base.format("")))

    # A LIMIT counts only rows the time filter keeps, also when eventtime is not selected.
    later = {
        r["eventid"]
        for r in session.sql(f"SELECT eventid FROM cloudtrail_logs WHERE {inside}").to_pylist()
    }
    for select in ("eventid", "eventid, eventtime"):
        limited = session.sql(
            f"SELECT {select} FROM cloudtrail_logs WHERE {inside} LIMIT 5"
        ).to_pylist()
        assert len(limited) == 5 and all(r["eventid"] in later for r in limited)


def test_rerun_rewrites_only_changed_days(two_days: Path, tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(two_days, source)
    dest = tmp_path / "out"
    first = compact(source, dest)
    assert first.days_written == first.days > 0 and first.days_unchanged == 0
    stamps = {f: f.stat().st_mtime_ns for f in day_files(dest)}
    again = compact(source, dest)
    assert again.days_written == 0 and again.days_unchanged == first.days
    assert {f: f.stat().st_mtime_ns for f in day_files(dest)} == stamps

    # A file delivered late into one day: only that day is rewritten.
    day = next(source.rglob("2026/10/31"))
    late = sorted(day.glob("*.json.gz"))[0]
    shutil.copy(late, day / ("late-" + late.name))
    third = compact(source, dest)
    assert third.days_written == 1 and third.days_unchanged == first.days - 1
    changed = [f for f in day_files(dest) if f.stat().st_mtime_ns != stamps.get(f)]
    assert len(changed) == 1 and "day=2026-10-31" in changed[0].as_posix()
    assert not list(dest.rglob("*.tmp"))


def test_a_session_sees_what_compaction_wrote_after_its_first_query(
    two_days: Path, tmp_path: Path
) -> None:
    # A notebook compacting new logs into the copy it reads sees them at its next query, as it
    # would on the JSON logs: the session lists the copy at every query (DataFusion would
    # otherwise keep its first listing for the session's life).
    source = tmp_path / "src"
    shutil.copytree(two_days, source)
    later = sorted(source.rglob("2026/10/31"))
    assert later
    held = tmp_path / "held"
    for day in later:
        (held / day.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(day, held / day.relative_to(source))
    dest = tmp_path / "out"
    compact(source, dest)
    session = spintrail.connect(dest)
    sql = "SELECT day, count(*) AS n FROM cloudtrail_logs GROUP BY 1"
    before = rows(session, sql)
    assert before == rows(spintrail.connect(source), sql)
    assert "2026/10/31" not in [d for d, _ in before]

    # A new day, then a day rewritten with a file delivered late.
    for day in later:
        shutil.move(held / day.relative_to(source), day)
    compact(source, dest)
    assert rows(session, sql) == rows(spintrail.connect(two_days), sql)
    late = sorted(later[0].glob("*.json.gz"))[0]
    shutil.copy(late, later[0] / ("late-" + late.name))
    assert compact(source, dest).days_written == 1
    assert rows(session, sql) == rows(spintrail.connect(source), sql)
    assert rows(session, sql) != rows(spintrail.connect(two_days), sql)


def test_a_file_of_the_copy_that_is_not_parquet_is_named(
    two_days_parquet: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(two_days_parquet, copy)
    broken = day_files(copy)[0]
    broken.write_bytes(b"not parquet")
    session = spintrail.connect(copy)
    with pytest.raises(spintrail.LogFileError, match="not a readable Parquet file") as err:
        session.sql("SELECT count(*) AS n FROM cloudtrail_logs WHERE eventname <> 'x'")
    assert str(broken.resolve()) in str(err.value)
    assert "remove this one, or compact the logs into a new folder" in str(err.value)


def duplicated(two_days: Path, tmp_path: Path) -> tuple[Path, int]:
    """A copy of the logs where one file is delivered twice; returns it and that file's count."""
    source = tmp_path / "dup"
    shutil.copytree(two_days, source)
    original = sorted(source.rglob("*.json.gz"))[0]
    shutil.copy(original, original.with_name("again-" + original.name))
    records = spintrail.connect(original).sql("SELECT count(*) AS n FROM cloudtrail_logs")
    return source, int(records["n"][0].as_py())


def test_dedup_on_the_json_and_in_compaction(two_days: Path, tmp_path: Path) -> None:
    source, copies = duplicated(two_days, tmp_path)
    count = "SELECT count(*) AS n, count(DISTINCT eventid) AS d FROM cloudtrail_logs"
    plain = spintrail.connect(source).sql(count).to_pylist()[0]
    assert plain["n"] == plain["d"] + copies
    deduped = spintrail.connect(source, dedup=True).sql(count).to_pylist()[0]
    assert deduped["n"] == deduped["d"] == plain["d"]
    # Same rows otherwise, and partition filters still apply.
    sql = "SELECT eventid, eventname, day FROM cloudtrail_logs WHERE region = 'us-east-1'"
    assert rows(spintrail.connect(source, dedup=True), sql) == rows(
        spintrail.connect(two_days), sql
    )

    kept = compact(source, tmp_path / "with-dups")
    assert kept.rows_written == plain["n"] and kept.duplicates_dropped == 0
    dropped = compact(source, tmp_path / "deduped", dedup=True)
    assert dropped.duplicates_dropped == copies
    assert dropped.rows_written == plain["d"]
    on_copy = spintrail.connect(tmp_path / "deduped").sql(count).to_pylist()[0]
    assert on_copy == deduped
    # Switching dedup off rewrites every day.
    again = compact(source, tmp_path / "deduped")
    assert again.days_written == again.days and again.duplicates_dropped == 0


def test_bad_sources_and_destinations(tmp_path: Path, real_dir: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(real_dir / "stratus-red-team.json.gz", flat)
    with pytest.raises(spintrail.SourceError, match="AWSLogs/<account>/CloudTrail"):
        compact(flat, tmp_path / "out")
    with pytest.raises(spintrail.SourceError, match="no such file"):
        compact(tmp_path / "missing", tmp_path / "out")
    dest = tmp_path / "notours"
    dest.mkdir()
    (dest / "_spintrail_manifest.json").write_text("[1, 2]")
    with pytest.raises(SpintrailError, match="not a spintrail manifest"):
        compact(real_dir.parent, dest)


def test_a_failed_run_leaves_no_destination_folder(
    tmp_path: Path, real_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The local destination folder comes with its first file: a missing source, or one outside
    CloudTrail's layout, leaves nothing behind (from Python and from the CLI)."""
    out = tmp_path / "out"
    with pytest.raises(spintrail.SourceError, match="no such file"):
        compact(tmp_path / "missing", out)
    assert not out.exists()
    assert main(["compact", str(tmp_path / "missing"), str(out)]) != 0
    assert "no such file" in capsys.readouterr().err
    assert not out.exists()
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(real_dir / "stratus-red-team.json.gz", flat)
    with pytest.raises(spintrail.SourceError, match="AWSLogs/<account>/CloudTrail"):
        compact(flat, out)
    assert not out.exists()


def test_cli_compact_and_query(
    two_days: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "cli"
    assert main(["compact", str(two_days), str(dest), "--dedup"]) == 0
    out = capsys.readouterr().out
    assert "day partitions written" in out and "0 duplicates dropped" in out
    sql = "SELECT count(*) AS n FROM cloudtrail_logs"
    assert main(["query", "--source", str(dest), "--format", "csv", sql]) == 0
    total = spintrail.connect(two_days).sql(sql)["n"][0].as_py()
    assert list(csv.reader(io.StringIO(capsys.readouterr().out))) == [["n"], [str(total)]]


def test_s3_destination(moto: MotoServer, two_days: Path) -> None:
    s3 = moto.client("s3", REGION)
    s3.create_bucket(Bucket="lake", CreateBucketConfiguration={"LocationConstraint": REGION})
    options: dict[str, Any] = {"region": REGION, "endpoint_url": moto.url, "max_attempts": 1}
    first = compact(two_days, "s3://lake/ct-parquet/", **options)
    assert first.days_written == first.days > 0
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="lake")["Contents"])
    assert "ct-parquet/_spintrail_manifest.json" in keys
    parts = [k for k in keys if k.endswith(".parquet")]
    assert len(parts) == first.days
    assert all(
        k.startswith(f"ct-parquet/account={ACCOUNT}/region=") and "/day=" in k for k in parts
    )
    body = s3.get_object(Bucket="lake", Key=parts[0])["Body"].read()
    assert pq.ParquetFile(pa.BufferReader(body)).metadata.num_rows > 0
    again = compact(two_days, "s3://lake/ct-parquet", **options)
    assert again.days_written == 0 and again.days_unchanged == first.days


def test_s3_source(
    moto: MotoServer, two_days: Path, two_days_parquet: Path, tmp_path: Path
) -> None:
    s3 = moto.client("s3", REGION)
    s3.create_bucket(Bucket="trail", CreateBucketConfiguration={"LocationConstraint": REGION})
    files = sorted(two_days.rglob("*.json.gz"))
    for f in files:
        s3.upload_file(str(f), "trail", "org/" + f.relative_to(two_days).as_posix())
    options: dict[str, Any] = {"region": REGION, "endpoint_url": moto.url, "max_attempts": 1}
    dest = tmp_path / "from-s3"
    first = compact("s3://trail/org/", dest, **options)
    assert first.files_read == len(files) and first.days_written == first.days > 0
    sql = "SELECT day, region, eventname, count(*) AS n FROM cloudtrail_logs GROUP BY 1, 2, 3"
    assert rows(spintrail.connect(dest), sql) == rows(spintrail.connect(two_days_parquet), sql)

    # Unchanged objects (same key, size, ETag): nothing rewritten; one replaced: its day only.
    again = compact("s3://trail/org", dest, **options)
    assert again.days_written == 0 and again.days_unchanged == first.days
    changed = files[0].relative_to(two_days).as_posix()
    s3.put_object(Bucket="trail", Key="org/" + changed, Body=files[1].read_bytes())
    third = compact("s3://trail/org/", dest, **options)
    assert third.days_written == 1

    with pytest.raises(spintrail.SourceError, match="s3://nosuchbucket"):
        compact("s3://nosuchbucket/logs/", tmp_path / "none", **options)


def test_provision_parquet_table_and_dedup_view(moto: MotoServer) -> None:
    stack = Stack(
        "spintrail-test-logs",
        region=REGION,
        endpoint_url=moto.url,
        max_attempts=1,
        parquet_location="s3://lake/ct-parquet",
        dedup_view=True,
    )
    result = stack.apply()
    kinds = {f"{c.kind}:{c.name}": c.action for c in result.changes}
    assert kinds["glue table:default.cloudtrail_parquet"] == "create"
    assert kinds["athena view:default.cloudtrail_logs_dedup"] == "create"
    glue = moto.client("glue", REGION)
    table = glue.get_table(DatabaseName="default", Name="cloudtrail_parquet")["Table"]
    sd = table["StorageDescriptor"]
    assert sd["Location"] == "s3://lake/ct-parquet/"
    assert sd["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert sd["InputFormat"].endswith("MapredParquetInputFormat")
    json_table = glue.get_table(DatabaseName="default", Name="cloudtrail_logs")["Table"]
    assert sd["Columns"] == json_table["StorageDescriptor"]["Columns"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["account", "region", "day"]
    params = table["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.day.format"] == "yyyy-MM-dd"
    assert params["projection.account.values"] == ACCOUNT
    assert (
        params["storage.location.template"]
        == "s3://lake/ct-parquet/account=${account}/region=${region}/day=${day}"
    )
    view = glue.get_table(DatabaseName="default", Name="cloudtrail_logs_dedup")["Table"]
    assert view["TableType"] == "VIRTUAL_VIEW"
    assert view["Parameters"]["presto_view"] == "true"
    text = view["ViewOriginalText"]
    assert text.startswith("/* Presto View: ") and text.endswith(" */")
    definition = json.loads(base64.b64decode(text[len("/* Presto View: ") : -3]))
    assert "row_number() OVER (PARTITION BY eventid" in definition["originalSql"]
    assert '"default"."cloudtrail_logs"' in definition["originalSql"]
    assert definition["columns"][1]["type"].startswith("row(type varchar")
    assert len(definition["columns"]) == 32

    assert not stack.apply().changed
    destroyed = stack.destroy()
    kinds = {f"{c.kind}:{c.name}": c.action for c in destroyed.changes}
    assert kinds["glue table:default.cloudtrail_parquet"] == "delete"
    assert kinds["athena view:default.cloudtrail_logs_dedup"] == "delete"
    for name in ("cloudtrail_parquet", "cloudtrail_logs_dedup"):
        with pytest.raises(ClientError, match="EntityNotFound"):
            glue.get_table(DatabaseName="default", Name=name)


def test_parquet_location_must_be_s3() -> None:
    with pytest.raises(spintrail.InvalidArgumentError, match="parquet_location"):
        Stack("spintrail-test-logs", region=REGION, parquet_location="/tmp/x")
