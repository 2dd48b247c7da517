"""Real CloudTrail records (tests/data/real) loaded and queried, with DuckDB reading the same
files as an independent reference."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import spintrail
from conftest import CONFORMING


def duckdb_rows(path: Path, select: str, group: str) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    sql = f"""
        SELECT {select} FROM (
            SELECT unnest(Records) AS r
            FROM read_json('{path}', columns={{'Records': 'JSON[]'}},
                           maximum_object_size=268435456)
        ) GROUP BY {group}
    """
    return sorted((tuple(r) for r in con.execute(sql).fetchall()), key=repr)


@pytest.mark.parametrize("name", sorted(CONFORMING))
def test_counts_by_service_and_api_match_duckdb(real_dir: Path, name: str) -> None:
    path = real_dir / name
    ours = spintrail.connect(path).sql(
        "SELECT eventsource, eventname, awsregion, errorcode, count(*) AS n "
        "FROM cloudtrail_logs GROUP BY 1, 2, 3, 4"
    )
    got = sorted((tuple(r.values()) for r in ours.to_pylist()), key=repr)
    expected = duckdb_rows(
        path,
        ", ".join(
            f"json_extract_string(r, '$.{key}')"
            for key in ("eventSource", "eventName", "awsRegion", "errorCode")
        )
        + ", count(*)",
        "ALL",
    )
    assert got == expected
    assert sum(r[-1] for r in got) == CONFORMING[name]  # type: ignore[misc]


def test_every_file_and_record_loads(flat: Path) -> None:
    session = spintrail.connect(flat)
    table = session.sql("SELECT eventid, eventtime, eventsource FROM cloudtrail_logs")
    assert table.num_rows == sum(CONFORMING.values())
    stats = session.last_stats
    assert stats is not None
    assert stats.records_rejected == 0
    assert stats.problems == ()


def test_json_text_columns_hold_json(flat: Path) -> None:
    import json

    rows = (
        spintrail.connect(flat)
        .sql("SELECT requestparameters, responseelements, additionaleventdata FROM cloudtrail_logs")
        .to_pylist()
    )
    parsed = 0
    for row in rows:
        for value in row.values():
            if value is not None:
                json.loads(value)
                parsed += 1
    assert parsed > 600


def test_identity_shapes_from_real_logs(real_dir: Path) -> None:
    session = spintrail.connect(real_dir / "*.json.gz", on_error="skip")
    kinds = session.sql(
        "SELECT DISTINCT useridentity.type AS t FROM cloudtrail_logs WHERE useridentity.type "
        "IS NOT NULL ORDER BY 1"
    ).column("t")
    assert {"AWSService", "AssumedRole", "IAMUser", "Root"} <= set(kinds.to_pylist())
    services = session.sql(
        "SELECT count(*) AS n, count(useridentity.invokedby) AS invoked FROM cloudtrail_logs "
        "WHERE useridentity.type = 'AWSService'"
    ).to_pylist()[0]
    assert services["n"] >= 1
    assert services["invoked"] == services["n"]
