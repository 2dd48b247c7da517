"""Tables of the user's own beside the CloudTrail table: registered from pyarrow, pandas and
polars, joined with events, replaced, removed; and the report reading the logs only once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import spintrail
from conftest import CONFORMING
from spintrail.spinnaker import Events, throttled_apis, window_events

TOTAL = sum(CONFORMING.values())


def _accounts(session: spintrail.Session) -> list[str]:
    table = session.sql("SELECT DISTINCT account FROM cloudtrail_logs ORDER BY 1")
    return [str(a) for a in table.column("account").to_pylist()]


@pytest.mark.parametrize("kind", ["pyarrow", "pandas", "polars", "reader"])
def test_a_lookup_table_joins_with_the_events(layout: Path, kind: str) -> None:
    session = spintrail.connect(layout)
    accounts = _accounts(session)
    assert len(accounts) == 2
    names = pa.table({"account": accounts, "owner": ["platform", "payments"]})
    data: object = {
        "pyarrow": names,
        "pandas": names.to_pandas(),
        "polars": pl.from_arrow(names),
        "reader": pa.RecordBatchReader.from_batches(names.schema, names.to_batches()),
    }[kind]
    session.register("owners", data)
    joined = session.sql(
        """SELECT o.owner, count(*) AS n
           FROM cloudtrail_logs c JOIN owners o ON c.account = o.account
           GROUP BY 1 ORDER BY 1"""
    )
    direct = session.sql(
        "SELECT account, count(*) AS n FROM cloudtrail_logs GROUP BY 1 ORDER BY 1"
    ).to_pylist()
    per_account = {row["account"]: row["n"] for row in direct}
    assert joined.to_pylist() == [
        {"owner": "payments", "n": per_account[accounts[1]]},
        {"owner": "platform", "n": per_account[accounts[0]]},
    ]
    assert sum(per_account.values()) == TOTAL


def test_a_result_is_asked_again_without_reading_the_logs(layout: Path) -> None:
    session = spintrail.connect(layout)
    query = window_events(start="2024-07-30T00:00:00Z", end="2024-08-02T00:00:00Z")
    events = session.sql(query.sql, list(query.params))
    assert events.column_names[:3] == ["event_ts", "eventsource", "eventname"]
    assert {"is_spinnaker", "is_error", "is_throttled"} <= set(events.column_names)
    read = session.last_stats
    assert read is not None and read.files_read == 3 and read.bytes_read > 0
    session.register("recent", events)
    again = session.sql("SELECT eventsource, count(*) AS n FROM recent GROUP BY 1 ORDER BY 1")
    stats = session.last_stats
    assert stats is not None and (stats.files_read, stats.bytes_read) == (0, 0)
    direct = session.sql(
        f"SELECT eventsource, count(*) AS n FROM ({query.sql}) GROUP BY 1 ORDER BY 1",
        list(query.params),
    )
    assert again.equals(direct)
    # The qualified name resolves as the CloudTrail table's does.
    assert session.sql('SELECT count(*) AS n FROM "default"."recent"').column("n")[0].as_py() == (
        events.num_rows
    )


def test_register_replaces_and_unregister_removes(flat: Path) -> None:
    session = spintrail.connect(flat)
    session.register("t", pa.table({"x": [1, 2, 3]}))
    session.register("t", pd.DataFrame({"x": [10]}))
    assert session.sql("SELECT sum(x) AS s FROM t").column("s").to_pylist() == [10]
    assert session.unregister("t") is True
    assert session.unregister("t") is False
    with pytest.raises(spintrail.SqlError, match="t"):
        session.sql("SELECT * FROM t")


def test_register_refuses_what_it_cannot_take(flat: Path) -> None:
    session = spintrail.connect(flat)
    with pytest.raises(spintrail.InvalidArgumentError, match="CloudTrail table"):
        session.register("cloudtrail_logs", pa.table({"x": [1]}))
    with pytest.raises(spintrail.InvalidArgumentError, match="not valid"):
        session.register("my-table", pa.table({"x": [1]}))
    with pytest.raises(spintrail.InvalidArgumentError, match="list"):
        session.register("rows", [{"x": 1}])
    # The CloudTrail table is untouched by the refusals.
    total = session.sql("SELECT count(*) AS n FROM cloudtrail_logs").column("n")[0].as_py()
    assert total == TOTAL


def test_the_report_reads_the_logs_once(layout: Path, tmp_path: Path) -> None:
    session = spintrail.connect(layout)
    query = window_events(start="2024-07-30T00:00:00Z", end="2024-08-02T00:00:00Z")
    session.sql(query.sql, list(query.params))
    one_scan = session.last_stats
    assert one_scan is not None
    result = spintrail.report(
        session,
        since="2024-07-30T00:00:00Z",
        until="2024-08-02T00:00:00Z",
        out=tmp_path / "report.html",
    )
    assert result.failed == ()
    assert result.queries > 10
    # Every section asked the in-memory copy: the logs were read once, for the copy.
    assert result.bytes_read == one_scan.bytes_read
    page = (tmp_path / "report.html").read_text()
    assert "The logs were read once" in page
    # The copy is gone afterwards; the SQL shown names the table itself.
    tables = session.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'default'"
    )
    assert tables.column("table_name").to_pylist() == ["cloudtrail_logs"]
    assert "FROM cloudtrail_logs" in page and "spintrail_report_" not in page


QUESTIONS = [
    "headline",
    "throttled_apis",
    "throttle_rate_by_api",
    "spinnaker_share",
    "hourly_heatmap",
    "pipeline_attribution",
    "call_rates",
    "client_call_rates",
    "failed_mutations",
    "access_denied",
]


def test_every_question_gives_the_same_answer_on_the_window_copy(tmp_path: Path) -> None:
    from spintrail import spinnaker
    from spintrail.generate import generate

    generate(tmp_path / "logs", events=20_000, days=1, end="2026-11-01T00:00:00Z", seed=11)
    session = spintrail.connect(tmp_path / "logs")
    window = {"start": "2026-10-31T06:00:00Z", "end": "2026-10-31T18:00:00Z"}
    query = window_events(**window)
    session.register("copy", session.sql(query.sql, list(query.params)))
    copy = Events("copy", **window)

    def rows(table: pa.Table) -> list[str]:
        return sorted(repr(sorted(row.items())) for row in table.to_pylist())

    asked = 0
    for name in [*QUESTIONS, "calls_over_time", "throttling_over_time"]:
        function = getattr(spinnaker, name)
        args = ("15m",) if name.endswith("_over_time") else ()
        direct = function(*args, table="cloudtrail_logs", **window).run(session)
        again = function(*args, table=copy, **window).run(session)
        assert again.column_names == direct.column_names, name
        assert rows(again) == rows(direct), name
        asked += direct.num_rows > 0
    assert asked >= 8  # the generated window has Spinnaker calls, errors and throttling

    # A question about another window (or another recognition) is refused, not answered
    # from the copy's rows.
    with pytest.raises(spintrail.InvalidArgumentError, match="holds the events of"):
        throttled_apis(table=copy, start="2026-10-31T00:00:00Z", end=window["end"])
    with pytest.raises(spintrail.InvalidArgumentError, match="holds the events of"):
        throttled_apis(table=copy, spinnaker=spinnaker.Recognition(role_pattern="%X%"), **window)
