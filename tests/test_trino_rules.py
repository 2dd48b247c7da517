"""Trino's rules where DataFusion alone would be looser or different, and the partition layouts
of AWS's documented CloudTrail tables.

Expected values are Trino's (Athena engine 3): result types follow Trino's decimal rules, and the
refused queries are the ones Athena refuses, with a message that names the rule and the fix.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import spintrail
from conftest import CONFORMING
from moto_server import MotoServer, moto_fixtures
from spintrail.cli import main
from spintrail.provision import Stack

TOTAL = sum(CONFORMING.values())  # 718 records in the three conforming files


def one(session: spintrail.Session, sql: str) -> Any:
    table = session.sql(sql)
    assert table.num_rows == 1, sql
    return table.column(0)[0].as_py()


# ---------------------------------------------------------------------------------------------
# Two output columns with the same name.


def test_duplicate_output_names_are_kept(flat: Path) -> None:
    session = spintrail.connect(flat)
    sql = (
        "SELECT useridentity.type, eventsource AS type, eventname FROM cloudtrail_logs "
        "WHERE useridentity.type IS NOT NULL ORDER BY eventtime LIMIT 5"
    )
    table = session.sql(sql)
    assert table.schema.names == ["type", "type", "eventname"]
    assert table.column(1).to_pylist() != table.column(0).to_pylist()
    assert all(v.endswith(".amazonaws.com") for v in table.column(1).to_pylist())
    streamed = session.sql_stream(sql).read_all()
    assert streamed.schema.names == ["type", "type", "eventname"]
    assert streamed.column(1).to_pylist() == table.column(1).to_pylist()


def test_duplicate_names_beside_a_wildcard_and_in_a_subquery(flat: Path) -> None:
    session = spintrail.connect(flat)
    table = session.sql("SELECT *, upper(eventname) AS eventname FROM cloudtrail_logs LIMIT 3")
    names = table.schema.names
    assert names.count("eventname") == 2
    first, last = names.index("eventname"), len(names) - 1
    assert names[last] == "eventname"
    assert table.column(last).to_pylist() == [v.upper() for v in table.column(first).to_pylist()]
    inner = session.sql(
        "SELECT * FROM (SELECT eventname AS n, eventsource AS n FROM cloudtrail_logs) LIMIT 1"
    )
    assert inner.schema.names == ["n", "n"]


# ---------------------------------------------------------------------------------------------
# Decimal literals.


def test_decimal_literals_and_trino_result_types(flat: Path) -> None:
    session = spintrail.connect(flat)
    table = session.sql("SELECT 1.0 AS a, 100.0 AS b, 1e3 AS c, 2.5E-1 AS d")
    assert table.schema.types == [
        pa.decimal128(2, 1),
        pa.decimal128(4, 1),
        pa.float64(),
        pa.float64(),
    ]
    assert table.to_pylist() == [{"a": Decimal("1.0"), "b": Decimal("100.0"), "c": 1e3, "d": 0.25}]
    # count(*) * 100.0 / 3: bigint x decimal(4,1) is decimal(23,1); / integer keeps (23,1),
    # and the quotient is rounded half up to that scale, as Trino does.
    pct = session.sql("SELECT count(*) * 100.0 / 3 AS pct FROM cloudtrail_logs")
    assert pct.schema.field("pct").type == pa.decimal128(23, 1)
    assert pct.column(0)[0].as_py() == Decimal(TOTAL * 100 / 3).quantize(Decimal("0.1"))
    assert one(session, "SELECT 1.0 / 4") == Decimal("0.3")
    assert one(session, "SELECT 2 * 1.0 / 3") == Decimal("0.7")
    assert one(session, "SELECT 1.5 + 2.25") == Decimal("3.75")
    rounded = session.sql("SELECT round(2.345, 2) AS r, round(2.5) AS whole")
    assert rounded.schema.types == [pa.decimal128(5, 3), pa.decimal128(2, 0)]
    assert rounded.to_pylist() == [{"r": Decimal("2.350"), "whole": Decimal("3")}]
    # Parameters that are Python floats are bound as exponent literals: DOUBLE, as on Athena.
    assert session.sql("SELECT ? AS x", [0.5]).schema.field("x").type == pa.float64()


def test_division_by_zero_is_an_error_for_decimals_and_integers(flat: Path) -> None:
    session = spintrail.connect(flat)
    for sql in (
        "SELECT count(*) * 1.0 / 0 FROM cloudtrail_logs",
        "SELECT count(*) / 0 FROM cloudtrail_logs",
    ):
        with pytest.raises(spintrail.SqlError, match=r"^Division by zero") as caught:
            session.sql(sql)
        assert "nullif" in str(caught.value)
    assert one(session, "SELECT try(count(*) * 1.0 / 0) FROM cloudtrail_logs") is None
    assert one(session, "SELECT CAST(count(*) AS double) / 0 FROM cloudtrail_logs") == float("inf")


# ---------------------------------------------------------------------------------------------
# What Athena refuses.


@pytest.mark.parametrize(
    "condition",
    [
        "eventtime >= current_timestamp - interval '1' day",
        "eventtime > now()",
        "eventtime BETWEEN date_add('day', -7, now()) AND now()",
        "from_iso8601_timestamp(eventtime) > '2024-07-30'",
        "date(from_iso8601_timestamp(eventtime)) IN ('2024-07-30')",
    ],
)
def test_varchar_compared_with_a_timestamp_is_refused(flat: Path, condition: str) -> None:
    session = spintrail.connect(flat)
    with pytest.raises(spintrail.SqlError, match="Cannot apply operator") as caught:
        session.sql(f"SELECT count(*) FROM cloudtrail_logs WHERE {condition}")
    message = str(caught.value)
    assert "Athena (Trino) does not compare" in message and "varchar" in message
    if condition.startswith("eventtime"):
        assert "from_iso8601_timestamp(eventtime)" in message
    else:
        assert "TIMESTAMP '2024-01-01 00:00:00'" in message


@pytest.mark.parametrize(
    ("condition", "same_as"),
    [
        ("eventtime >= '2024-07-31'", "substr(eventtime, 1, 10) >= '2024-07-31'"),
        (
            "from_iso8601_timestamp(eventtime) >= TIMESTAMP '2024-07-31 00:00:00'",
            "substr(eventtime, 1, 10) >= '2024-07-31'",
        ),
        (
            "from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp('2024-07-31T00:00:00Z')",
            "substr(eventtime, 1, 10) >= '2024-07-31'",
        ),
        (
            "date(from_iso8601_timestamp(eventtime)) = DATE '2024-07-30'",
            "substr(eventtime, 1, 10) = '2024-07-30'",
        ),
    ],
)
def test_comparisons_trino_accepts_still_run(flat: Path, condition: str, same_as: str) -> None:
    session = spintrail.connect(flat)
    expected = one(session, f"SELECT count(*) FROM cloudtrail_logs WHERE {same_as}")
    assert expected > 0
    assert one(session, f"SELECT count(*) FROM cloudtrail_logs WHERE {condition}") == expected


def test_having_on_a_select_alias_is_refused_with_the_fix(flat: Path) -> None:
    session = spintrail.connect(flat)
    with pytest.raises(spintrail.SqlError, match="Column 'n' cannot be resolved") as caught:
        session.sql(
            "SELECT eventname, count(*) AS n FROM cloudtrail_logs GROUP BY eventname HAVING n > 10"
        )
    assert "HAVING count(*) > 10" in str(caught.value)
    ok = session.sql(
        "SELECT eventname, count(*) AS n FROM cloudtrail_logs GROUP BY eventname "
        "HAVING count(*) > 10 ORDER BY n DESC"
    )
    assert ok.num_rows > 0 and min(ok.column("n").to_pylist()) > 10
    # A column of FROM that is also a SELECT name is a column, not an alias.
    same = session.sql(
        "SELECT eventsource AS eventsource, count(*) AS calls FROM cloudtrail_logs "
        "GROUP BY eventsource HAVING eventsource LIKE '%s3%'"
    )
    assert same.column("eventsource").to_pylist() == ["s3.amazonaws.com"] or same.num_rows >= 1


# ---------------------------------------------------------------------------------------------
# The partition layouts of AWS's documented tables.


def test_aws_projection_layout_filters_and_prunes(layout: Path) -> None:
    session = spintrail.connect(layout, partitions="aws-projection")
    assert session.partitions == "aws-projection"
    names = session.sql("SELECT * FROM cloudtrail_logs LIMIT 0").schema.names
    assert names[29:] == ["timestamp"]
    # As the user guide's queries write it: `timestamp` is a column name here.
    sql = "SELECT count(*) FROM cloudtrail_logs WHERE timestamp = '2024/07/30'"
    assert one(session, sql) == CONFORMING["stratus-red-team.json.gz"]
    stats = session.last_stats
    assert stats is not None and (stats.files_read, stats.files_pruned) == (1, 2)
    sql = (
        'SELECT "timestamp", count(*) AS n FROM cloudtrail_logs '
        "WHERE \"timestamp\" BETWEEN '2024/07/31' AND '2024/08/01' GROUP BY 1 ORDER BY 1"
    )
    rows = session.sql(sql).to_pylist()
    assert rows == [{"timestamp": "2024/07/31", "n": 305}, {"timestamp": "2024/08/01", "n": 103}]
    assert session.last_stats is not None and session.last_stats.files_read == 2


def test_aws_manual_layout_filters_and_prunes(layout: Path) -> None:
    session = spintrail.connect(layout, partitions="aws-manual")
    names = session.sql("SELECT * FROM cloudtrail_logs LIMIT 0").schema.names
    assert names[29:] == ["region", "year", "month", "day"]
    sql = (
        "SELECT count(*) FROM cloudtrail_logs "
        "WHERE region = 'eu-west-1' AND year = '2024' AND month = '07' AND day = '31'"
    )
    assert one(session, sql) == CONFORMING["panther-analysis.json.gz"]
    stats = session.last_stats
    assert stats is not None and (stats.files_read, stats.files_pruned) == (1, 2)
    assert one(session, "SELECT count(*) FROM cloudtrail_logs WHERE month = '08'") == 103
    assert session.last_stats is not None and session.last_stats.files_read == 1


def test_layouts_of_flat_files_come_from_the_records(flat: Path) -> None:
    session = spintrail.connect(flat, partitions="aws-manual")
    rows = session.sql(
        "SELECT count(*) AS n FROM cloudtrail_logs "
        "WHERE year <> substr(eventtime, 1, 4) OR month <> substr(eventtime, 6, 2) "
        "OR day <> substr(eventtime, 9, 2) OR region <> awsregion"
    )
    assert rows.column(0)[0].as_py() == 0
    pp = spintrail.connect(flat, partitions="aws-projection")
    values = pp.sql("SELECT DISTINCT timestamp FROM cloudtrail_logs ORDER BY 1").column(0)
    assert values.to_pylist() == sorted(
        {
            v.replace("-", "/")
            for v in pp.sql("SELECT substr(eventtime, 1, 10) FROM cloudtrail_logs")
            .column(0)
            .to_pylist()
        }
    )


def test_a_partition_column_of_another_layout_fails_loudly(layout: Path) -> None:
    session = spintrail.connect(layout)
    with pytest.raises(spintrail.SqlError, match='partitions="aws-projection"'):
        session.sql("SELECT count(*) FROM cloudtrail_logs WHERE timestamp = '2024/07/30'")
    with pytest.raises(spintrail.SqlError, match='partitions="aws-manual"'):
        session.sql("SELECT count(*) FROM cloudtrail_logs WHERE year = '2024'")
    manual = spintrail.connect(layout, partitions="aws-manual")
    with pytest.raises(spintrail.SqlError, match='partitions="spintrail"'):
        manual.sql("SELECT count(*) FROM cloudtrail_logs WHERE account = '111111111111'")


def test_partitions_option_is_checked(layout: Path) -> None:
    with pytest.raises(spintrail.InvalidArgumentError, match="aws-manual"):
        spintrail.connect(layout, partitions="hive")  # type: ignore[arg-type]
    with pytest.raises(spintrail.InvalidArgumentError, match="engine='local'"):
        spintrail.connect(engine="athena", region="us-east-1", partitions="aws-manual")


def test_cli_partitions_flag(layout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "query",
            "--source",
            str(layout),
            "--partitions",
            "aws-projection",
            "--format",
            "json",
            "SELECT count(*) AS n FROM cloudtrail_logs WHERE timestamp = '2024/08/01'",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert json.loads(out) == [{"n": 103}]


# ---------------------------------------------------------------------------------------------
# `spintrail provision` creates the matching Glue table (on moto).

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
BUCKET = "spintrail-layout-logs"


server, moto = moto_fixtures(REGION)


def stack(server: MotoServer, **options: Any) -> Stack:
    return Stack(BUCKET, region=REGION, endpoint_url=server.url, max_attempts=1, **options)


def glue_table(server: MotoServer) -> dict[str, Any]:
    glue = server.client("glue", REGION)
    table: dict[str, Any] = glue.get_table(DatabaseName="default", Name="cloudtrail_logs")["Table"]
    return table


def test_provision_aws_projection_table(moto: MotoServer) -> None:
    plan = stack(moto, partitions="aws-projection").plan()
    assert plan.changed
    stack(moto, partitions="aws-projection").apply()
    table = glue_table(moto)
    assert [(c["Name"], c["Type"]) for c in table["PartitionKeys"]] == [("timestamp", "string")]
    location = f"s3://{BUCKET}/AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/"
    assert table["StorageDescriptor"]["Location"] == location
    p = table["Parameters"]
    assert p["projection.enabled"] == "true"
    assert p["projection.timestamp.type"] == "date"
    assert p["projection.timestamp.format"] == "yyyy/MM/dd"
    assert p["projection.timestamp.range"] == "2024/01/01,NOW"
    assert p["projection.timestamp.interval"] == "1"
    assert p["projection.timestamp.interval.unit"] == "DAYS"
    assert p["storage.location.template"] == location + "${timestamp}"
    assert "projection.account.type" not in p
    assert not stack(moto, partitions="aws-projection").plan().changed
    # Switching the layout updates the table in place.
    switched = stack(moto).plan()
    assert any(c.kind == "glue table" and c.action == "update" for c in switched.changes)


def test_provision_aws_manual_table(moto: MotoServer) -> None:
    regions = ["eu-west-1", "us-east-1"]
    stack(moto, partitions="aws-manual", regions=regions).apply()
    table = glue_table(moto)
    assert [c["Name"] for c in table["PartitionKeys"]] == ["region", "year", "month", "day"]
    assert table["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/AWSLogs/{ACCOUNT}/"
    p = table["Parameters"]
    assert p["projection.region.type"] == "enum"
    assert p["projection.region.values"] == "eu-west-1,us-east-1"
    assert (p["projection.year.type"], p["projection.year.format"]) == ("date", "yyyy")
    assert p["projection.year.interval.unit"] == "YEARS"
    assert (p["projection.month.type"], p["projection.month.range"]) == ("integer", "1,12")
    assert (p["projection.day.range"], p["projection.day.digits"]) == ("1,31", "2")
    assert p["storage.location.template"] == (
        f"s3://{BUCKET}/AWSLogs/{ACCOUNT}/CloudTrail/${{region}}/${{year}}/${{month}}/${{day}}"
    )


def test_provision_layouts_of_one_account_refuse_several(moto: MotoServer) -> None:
    with pytest.raises(spintrail.SpintrailError, match="covers one account"):
        stack(moto, partitions="aws-manual", accounts=[ACCOUNT, "210987654321"]).plan()
    with pytest.raises(spintrail.SpintrailError, match="partitions"):
        stack(moto, partitions="hive").plan()


def test_provision_cli_prints_the_layouts_ddl(
    moto: MotoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "provision",
            "--bucket",
            BUCKET,
            "--region",
            REGION,
            "--endpoint-url",
            moto.url,
            "--partitions",
            "aws-manual",
            "--print-ddl",
        ]
    )
    assert code == 0
    ddl = capsys.readouterr().out
    assert "PARTITIONED BY (`region` string, `year` string, `month` string, `day` string)" in ddl
    assert "'projection.month.digits'='2'" in ddl
