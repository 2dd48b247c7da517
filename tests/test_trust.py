"""Answers that can be trusted on the embedded engine: one rule for timestamps (a record the
table admits never fails a query), pruning that never changes an answer (late deliveries
included), and a streamed query that Ctrl-C stops."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import spintrail
from conftest import CONFORMING

# ---------------------------------------------------------------------------------------------
# One rule for timestamps.

# eventTime values the reader once admitted and from_iso8601_timestamp rejected, and others
# CloudTrail never writes; each is rejected by name.
BAD_EVENT_TIMES = {
    "2024-02-30T10:00:00Z": "day 30 does not exist in 2024-02",
    "2023-02-29T10:00:00Z": "day 29 does not exist in 2023-02",
    "2024-12-31T23:59:60Z": "leap second",
    "2024-07-30T21:31:21": "no time zone",
    "2024-07-30T23:31:21+02:00": "UTC offset",
    "2024-07-30T21:31:21.1234567891Z": "10 digits",
    "2024-07-30 21:31:21Z": "'T'",
}
GOOD_EVENT_TIMES = ["2024-07-30T21:31:21Z", "2024-02-29T00:00:00.5Z", "2024-07-30T21:31:21.123456Z"]


def record(event_time: str, name: str) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "eventTime": event_time,
        "eventSource": "sts.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "recipientAccountId": "111111111111",
        "eventID": name,
    }


def write_log(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        json.dump({"Records": records}, f)


@pytest.fixture()
def odd_times(tmp_path: Path) -> Path:
    records = [record(t, f"good{i}") for i, t in enumerate(GOOD_EVENT_TIMES)]
    records += [record(t, f"bad{i}") for i, t in enumerate(BAD_EVENT_TIMES)]
    path = tmp_path / "odd-times.json.gz"
    write_log(path, records)
    return path


def test_an_invalid_event_time_fails_the_query_naming_file_record_and_field(
    odd_times: Path,
) -> None:
    session = spintrail.connect(odd_times)
    with pytest.raises(spintrail.LogFileError) as caught:
        session.sql("SELECT count(*) FROM cloudtrail_logs")
    message = str(caught.value)
    first_bad = len(GOOD_EVENT_TIMES)
    assert "odd-times.json.gz" in message
    assert f"record {first_bad}:" in message
    assert "eventTime '2024-02-30T10:00:00Z'" in message
    assert "day 30 does not exist in 2024-02" in message


def test_with_skip_each_invalid_event_time_is_counted_with_its_reason(odd_times: Path) -> None:
    session = spintrail.connect(odd_times, on_error="skip")
    table = session.sql("SELECT eventname FROM cloudtrail_logs ORDER BY eventname")
    assert table.column("eventname").to_pylist() == [f"good{i}" for i in range(3)]
    stats = session.last_stats
    assert stats is not None
    assert stats.records_read == len(GOOD_EVENT_TIMES) + len(BAD_EVENT_TIMES)
    assert stats.records_rejected == len(BAD_EVENT_TIMES)
    assert stats.rows == len(GOOD_EVENT_TIMES)
    reasons = {p.record: p.reason for p in stats.problems}
    for i, (text, why) in enumerate(BAD_EVENT_TIMES.items()):
        reason = reasons[len(GOOD_EVENT_TIMES) + i]
        assert f"eventTime '{text}'" in reason and why in reason, reason


def test_every_admitted_event_time_converts(odd_times: Path) -> None:
    session = spintrail.connect(odd_times, on_error="skip")
    table = session.sql(
        "SELECT to_unixtime(from_iso8601_timestamp(eventtime)) AS t FROM cloudtrail_logs ORDER BY t"
    )
    expected = sorted(
        datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() for t in GOOD_EVENT_TIMES
    )
    assert table.column("t").to_pylist() == pytest.approx(expected, abs=1e-3)


def test_from_iso8601_timestamp_says_why_it_rejects(odd_times: Path) -> None:
    session = spintrail.connect(odd_times, on_error="skip")
    with pytest.raises(spintrail.SpintrailError, match=r"'2024-02-30'.*day 30 does not exist"):
        session.sql("SELECT from_iso8601_timestamp('2024-02-30') FROM cloudtrail_logs")
    table = session.sql(
        "SELECT try(from_iso8601_timestamp('2024-12-31T23:59:60Z')) AS t FROM cloudtrail_logs "
        "LIMIT 1"
    )
    assert table.column("t").to_pylist() == [None]


# ---------------------------------------------------------------------------------------------
# Pruning never changes an answer.

ACCOUNTS = ["111111111111", "222222222222"]
REGIONS = ["us-east-1", "eu-west-1"]
FIRST_DAY = date(2024, 7, 25)
DAYS = 10
MAX_LATE_DAYS = 12


def utc(d: date, seconds: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc) + timedelta(seconds=seconds)


def zulu(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def late_tree(root: Path, rng: random.Random) -> list[dict[str, Any]]:
    """Day folders of several accounts and regions; each file is delivered at a time of its day
    and holds events from before that time: most minutes before, some days before (late
    deliveries, up to MAX_LATE_DAYS), some at the edges of a day."""
    records: list[dict[str, Any]] = []
    for account in ACCOUNTS:
        for region in REGIONS:
            for offset in range(DAYS):
                day = FIRST_DAY + timedelta(days=offset)
                for _ in range(rng.randint(0, 2)):
                    delivered = utc(day, rng.randint(0, 86_399))
                    batch = []
                    for _ in range(rng.randint(1, 6)):
                        kind = rng.random()
                        if kind < 0.5:
                            lag = timedelta(seconds=rng.randint(1, 900))
                        elif kind < 0.8:
                            lag = timedelta(
                                days=rng.randint(1, MAX_LATE_DAYS), seconds=rng.randint(0, 86_399)
                            )
                        else:
                            # The very start or end of an earlier (or the same) day.
                            back = rng.randint(0, MAX_LATE_DAYS)
                            edge = utc(day - timedelta(days=back), rng.choice([0, 86_399]))
                            lag = max(delivered - edge, timedelta(seconds=1))
                        event = delivered - lag
                        n = len(records)
                        rec = record(zulu(event), f"e{n}")
                        rec["awsRegion"] = region
                        rec["recipientAccountId"] = account
                        records.append(rec)
                        batch.append(rec)
                    stamp = delivered.strftime("%Y%m%dT%H%MZ")
                    folder = (
                        root
                        / "AWSLogs"
                        / account
                        / "CloudTrail"
                        / region
                        / day.strftime("%Y/%m/%d")
                    )
                    write_log(
                        folder / f"{account}_CloudTrail_{region}_{stamp}_{len(records)}.json.gz",
                        batch,
                    )
    return records


def partition_filter(rng: random.Random) -> str:
    def day() -> str:
        return (FIRST_DAY + timedelta(days=rng.randint(-1, DAYS))).strftime("%Y/%m/%d")

    forms = [
        lambda: f"account = '{rng.choice(ACCOUNTS)}'",
        lambda: f"region IN ('{rng.choice(REGIONS)}', 'ap-south-1')",
        lambda: f"day = '{day()}'",
        lambda: f"(day = '{day()}' OR region = '{rng.choice(REGIONS)}')",
        lambda: f"NOT (day = '{day()}')",
        lambda: f"day NOT IN ('{day()}', '{day()}')",
        lambda: f"day BETWEEN '{day()}' AND '{day()}'",
        lambda: f"NOT (account = '{ACCOUNTS[0]}' AND day >= '{day()}')",
    ]
    return rng.choice(forms)()


def time_filter(rng: random.Random, times: list[str]) -> str:
    def instant() -> datetime:
        if rng.random() < 0.4:
            return datetime.fromisoformat(rng.choice(times).replace("Z", "+00:00"))
        day = FIRST_DAY + timedelta(days=rng.randint(-MAX_LATE_DAYS - 1, DAYS + 1))
        return utc(day, rng.choice([0, 1, 3600 * 12, 86_399, rng.randint(0, 86_399)]))

    def text() -> str:
        t = instant()
        form = rng.randrange(4)
        if form == 0:
            return zulu(t)
        if form == 1:
            hours = rng.choice([2, -5, 14, -12])
            zone = timezone(timedelta(hours=hours))
            return t.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S") + f"{hours:+03d}:00"
        if form == 2:
            return t.strftime("%Y-%m-%d")
        return t.strftime("%Y-%m-%dT%H:%M")

    op = rng.choice([">=", ">", "<", "<=", "="])
    forms = [
        lambda: f"eventtime {op} '{text()}'",
        lambda: f"'{text()}' {op} eventtime",
        lambda: f"eventtime BETWEEN '{text()}' AND '{text()}'",
        lambda: f"from_iso8601_timestamp(eventtime) {op} from_iso8601_timestamp('{text()}')",
        lambda: (
            f"from_iso8601_timestamp(eventtime) BETWEEN from_iso8601_timestamp('{text()}') "
            f"AND from_iso8601_timestamp('{text()}')"
        ),
        lambda: f"eventtime = '{rng.choice(times)}'",
        lambda: f"NOT (eventtime < '{text()}')",
    ]
    return rng.choice(forms)()


def where_clause(rng: random.Random, times: list[str]) -> str:
    parts = [partition_filter(rng) for _ in range(rng.randint(0, 2))]
    parts += [time_filter(rng, times) for _ in range(rng.randint(0, 2))]
    if rng.random() < 0.1:
        # Partition and time in one OR: cannot be pushed down, must still be right.
        parts.append(f"({partition_filter(rng)} OR {time_filter(rng, times)})")
    return " AND ".join(parts) or "true"


def ids(session: spintrail.Session, sql: str) -> list[str]:
    return sorted(session.sql(sql).column("eventid").to_pylist())


def test_pruned_results_equal_an_unpruned_scan_with_late_deliveries(tmp_path: Path) -> None:
    rng = random.Random(20240730)
    records = late_tree(tmp_path, rng)
    times = [r["eventTime"] for r in records]
    session = spintrail.connect(tmp_path)
    files = session.sql("SELECT count(*) AS n FROM cloudtrail_logs")
    assert files.column("n").to_pylist() == [len(records)]
    total_files = session.last_stats.files_listed  # type: ignore[union-attr]
    # The reference form reads every file where the plain form prunes.
    unpushed = "SELECT eventid FROM (SELECT * FROM cloudtrail_logs LIMIT 1000000000) t WHERE {}"
    ids(session, unpushed.format(f"day = '{FIRST_DAY:%Y/%m/%d}'"))
    assert session.last_stats is not None
    assert (session.last_stats.files_pruned, session.last_stats.files_read) == (0, total_files)
    pruned_somewhere = 0
    for _ in range(150):
        where = where_clause(rng, times)
        pruned = ids(session, f"SELECT eventid FROM cloudtrail_logs WHERE {where}")
        stats = session.last_stats
        assert stats is not None
        pruned_somewhere += stats.files_pruned
        # A LIMIT between the scan and the filter keeps the filter from being pushed down.
        unpruned = ids(session, unpushed.format(where))
        reference = session.last_stats
        assert reference is not None
        assert reference.files_pruned == 0, where
        assert pruned == unpruned, where
    assert pruned_somewhere > 0, "the filters pruned nothing: the test proves nothing"


def test_a_margin_shorter_than_the_lateness_would_change_the_answer(tmp_path: Path) -> None:
    # An event of 07/20 delivered on 07/28: the default margin reads its folder, a margin of
    # one day does not (which is why the default is CloudTrail's 30 days of retries).
    late = record("2024-07-20T10:00:00Z", "late")
    write_log(tmp_path / "AWSLogs/111111111111/CloudTrail/us-east-1/2024/07/28/a.json.gz", [late])
    write_log(
        tmp_path / "AWSLogs/111111111111/CloudTrail/us-east-1/2024/07/20/b.json.gz",
        [record("2024-07-20T09:00:00Z", "on-time")],
    )
    query = "SELECT eventid FROM cloudtrail_logs WHERE eventtime < '2024-07-21'"
    assert ids(spintrail.connect(tmp_path), query) == ["late", "on-time"]
    hasty = spintrail.connect(tmp_path, late_delivery_days=1)
    assert ids(hasty, query) == ["on-time"]
    assert hasty.last_stats is not None and hasty.last_stats.files_pruned == 1
    with pytest.raises(spintrail.InvalidArgumentError, match="late_delivery_days"):
        spintrail.connect(tmp_path, late_delivery_days=-1)


def test_a_delivery_named_before_the_queried_time_is_not_read(tmp_path: Path) -> None:
    # CloudTrail names a file after the minute it delivered it, and a file holds only records
    # written before then: a query for later events need not open it (same day folder or not).
    day = tmp_path / "AWSLogs/111111111111/CloudTrail/us-east-1/2024/07/30"
    write_log(
        day / "111111111111_CloudTrail_us-east-1_20240730T1005Z_aaaa.json.gz",
        [record("2024-07-30T10:04:59Z", "early"), record("2024-07-30T10:05:30Z", "same-minute")],
    )
    write_log(
        day / "111111111111_CloudTrail_us-east-1_20240730T1210Z_bbbb.json.gz",
        [record("2024-07-30T10:06:00Z", "delivered-late"), record("2024-07-30T12:09:00Z", "noon")],
    )
    # Any other name says nothing about its records' times: always read.
    write_log(day / "renamed.json.gz", [record("2024-07-30T09:00:00Z", "renamed")])
    session = spintrail.connect(tmp_path)
    later = "SELECT eventid FROM cloudtrail_logs WHERE eventtime > '2024-07-30T10:07:00Z'"
    assert ids(session, later) == ["noon"]
    assert session.last_stats is not None
    assert (session.last_stats.files_pruned, session.last_stats.files_read) == (1, 2)
    # The name gives the minute only, and clocks differ: two minutes after it, still read.
    margin = "SELECT eventid FROM cloudtrail_logs WHERE eventtime >= '2024-07-30T10:05:10Z'"
    assert ids(session, margin) == ["delivered-late", "noon", "same-minute"]
    assert session.last_stats.files_pruned == 0
    typed = (
        "SELECT eventid FROM cloudtrail_logs WHERE from_iso8601_timestamp(eventtime) "
        "> from_iso8601_timestamp('2024-07-30T10:07:00Z')"
    )
    assert ids(session, typed) == ["noon"]
    assert session.last_stats.files_pruned == 1


# ---------------------------------------------------------------------------------------------
# Ctrl-C stops a streamed query.

ENDLESS = (
    "SELECT count(*) AS n FROM cloudtrail_logs a, cloudtrail_logs b, cloudtrail_logs c, "
    "cloudtrail_logs d"
)


@pytest.mark.usefixtures("sigint_raises_keyboard_interrupt")
def test_ctrl_c_stops_a_streamed_query(flat: Path) -> None:
    session = spintrail.connect(flat)
    reader = session.sql_stream(ENDLESS)
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            reader.read_all()
    finally:
        timer.cancel()
    assert time.monotonic() - started < 30, "the interrupt was not seen"
    # The join's work stopped with the stream: the process goes idle (while it ran, it kept
    # every core busy).
    cpu = time.process_time()
    time.sleep(1.0)
    assert time.process_time() - cpu < 0.5
    # The session still answers.
    table = session.sql("SELECT count(*) AS n FROM cloudtrail_logs")
    assert table.column("n").to_pylist() == [sum(CONFORMING.values())]
