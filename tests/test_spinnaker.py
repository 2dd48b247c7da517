"""The Spinnaker query pack (``spintrail.spinnaker``) on the embedded engine and on Athena.

Every query runs over generated Spinnaker logs and over the real records in ``data/real``; the
expected values are computed here from the same files with plain Python (gzip + json), not by
the engine under test. Athena is the moto server (which executes no SQL): there the tests check
that each query's text and parameters reach Athena as sent.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import spintrail
from moto_server import MotoServer, isolate_aws_env, moto_server
from spintrail import queries, spinnaker
from spintrail.generate import generate
from spintrail.spinnaker import DEFAULT, Recognition

END = datetime(2026, 11, 1, tzinfo=timezone.utc)
ACCOUNTS = ["123456789012", "210987654321"]
REAL = Path(__file__).parent / "data" / "real"
LAUNCHER = str(Path(__file__).with_name("athena_moto.py"))

# --- the reference: CloudTrail records read with plain Python ---------------------------------

Record = dict[str, Any]


def lower_keys(value: Any) -> Any:
    """Keys match columns case-insensitively, as in Athena."""
    if isinstance(value, dict):
        return {k.lower(): lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_keys(v) for v in value]
    return value


def load(files: list[Path]) -> list[Record]:
    records: list[Record] = []
    for path in files:
        with gzip.open(path, "rt") as f:
            for record in json.load(f)["Records"]:
                record = lower_keys(record)
                record["ts"] = parse_time(record["eventtime"])
                records.append(record)
    return records


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def utc(value: Any) -> datetime | None:
    """A time bound or result value as an aware UTC datetime (naive means UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    elif not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    moment: datetime = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
    return moment.astimezone(timezone.utc)


def like(pattern: str, text: str) -> bool:
    regex, chars = "", iter(pattern)
    for char in chars:
        if char == "\\":
            regex += re.escape(next(chars))
        elif char == "%":
            regex += ".*"
        elif char == "_":
            regex += "."
        else:
            regex += re.escape(char)
    return re.fullmatch(regex, text, re.S) is not None


def split_part(text: str | None, sep: str, index: int) -> str | None:
    if text is None:
        return None
    parts = text.split(sep)
    return parts[index - 1] if index <= len(parts) else None


def is_spinnaker(r: Record, how: Recognition = DEFAULT) -> bool:
    who = r.get("useridentity") or {}
    assumed = who.get("type") == "AssumedRole"
    issuer = ((who.get("sessioncontext") or {}).get("sessionissuer") or {}).get("username")
    if issuer is None and assumed:
        issuer = split_part(who.get("arn"), "/", 2)
    if issuer is not None and like(how.role_pattern, issuer):
        return True
    if how.session_name is not None and assumed:
        if split_part(who.get("arn"), "/", 3) == how.session_name:
            return True
    agent = r.get("useragent")
    return (
        how.user_agent_pattern is not None
        and agent is not None
        and like(how.user_agent_pattern, agent)
    )


def throttled(r: Record) -> bool:
    return r.get("errorcode") in spinnaker.THROTTLING_CODES


def read_only(r: Record) -> str | None:
    value = r.get("readonly")
    return None if value is None else str(value).lower()


def execution(r: Record) -> tuple[str | None, str | None]:
    agent = r.get("useragent") or ""
    found = re.search(r"spinnaker-executionId/([^ ]+)", agent)
    user = re.search(r"spinnaker-user/([^ ]+)", agent)
    return (found.group(1) if found else None, user.group(1) if user else None)


def in_window(r: Record, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or r["ts"] >= start) and (end is None or r["ts"] < end)


def select(
    records: list[Record],
    how: Recognition = DEFAULT,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Record]:
    return [r for r in records if in_window(r, start, end) and is_spinnaker(r, how)]


def bucket(ts: datetime, seconds: int) -> datetime:
    return datetime.fromtimestamp(int(ts.timestamp()) // seconds * seconds, timezone.utc)


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spinnaker-generated")
    generate(
        out,
        events=30_000,
        days=2,
        end=END,
        seed=3,
        accounts=ACCOUNTS,
        regions=["us-east-1", "eu-west-1"],
    )
    return out


@pytest.fixture(scope="module")
def records(generated: Path) -> list[Record]:
    return load(sorted(generated.rglob("*.json.gz")))


@pytest.fixture(scope="module")
def session(generated: Path) -> spintrail.Session:
    return spintrail.connect(generated)


REAL_FILES = [
    "stratus-red-team.json.gz",
    "panther-analysis.json.gz",
    "otrf-security-datasets.json.gz",
]


@pytest.fixture(scope="module")
def real_session(tmp_path_factory: pytest.TempPathFactory) -> spintrail.Session:
    """The real records as a flat folder: partition columns come from each record."""
    folder = tmp_path_factory.mktemp("real")
    for name in REAL_FILES:
        shutil.copy(REAL / name, folder / name)
    return spintrail.connect(folder)


@pytest.fixture(scope="module")
def real_records() -> list[Record]:
    return load([REAL / name for name in REAL_FILES])


def rows(query: spinnaker.Query, session: spinnaker.SqlSession) -> list[dict[str, Any]]:
    return query.run(session).to_pylist()


# --- each question against the reference ---------------------------------------------------------

WINDOW = (END - timedelta(days=1, hours=3), END - timedelta(hours=5))


def check_headline(session: spintrail.Session, records: list[Record], **kw: Any) -> None:
    how = kw.get("spinnaker", DEFAULT)
    start, end = utc(kw.get("start")), utc(kw.get("end"))
    mine = select(records, how, start, end)
    [row] = rows(spinnaker.headline(**kw), session)
    assert row["calls"] == len(mine)
    assert row["errors"] == sum(1 for r in mine if r.get("errorcode"))
    assert row["throttled"] == sum(1 for r in mine if throttled(r))
    if mine:
        assert row["throttle_rate"] == pytest.approx(row["throttled"] / row["calls"])
        assert utc(row["first_event"]) == min(r["ts"] for r in mine)
        assert utc(row["last_event"]) == max(r["ts"] for r in mine)
    else:
        assert row["throttle_rate"] is None
        assert row["first_event"] is None and row["last_event"] is None


@pytest.mark.parametrize("window", [(None, None), WINDOW])
def test_headline(session: spintrail.Session, records: list[Record], window: Any) -> None:
    check_headline(session, records, start=window[0], end=window[1])
    assert select(records, DEFAULT, *window), "the generator writes Spinnaker calls"


@pytest.mark.parametrize("width", ["5m", "1h", "1d"])
def test_calls_over_time(session: spintrail.Session, records: list[Record], width: str) -> None:
    seconds = spinnaker.BUCKETS[width]
    expected: dict[tuple[datetime, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in select(records, DEFAULT, *WINDOW):
        counts = expected[(bucket(r["ts"], seconds), r["eventsource"])]
        counts[0] += 1
        counts[1] += bool(r.get("errorcode"))
        counts[2] += throttled(r)
    table = spinnaker.calls_over_time(width, start=WINDOW[0], end=WINDOW[1]).run(session)
    assert table.column_names == ["bucket_start", "eventsource", "calls", "errors", "throttled"]
    assert pa.types.is_timestamp(table.schema.field("bucket_start").type)
    got = {
        (utc(r["bucket_start"]), r["eventsource"]): [r["calls"], r["errors"], r["throttled"]]
        for r in table.to_pylist()
    }
    assert got == expected
    keys = [(utc(r["bucket_start"]), r["eventsource"]) for r in table.to_pylist()]
    assert keys == sorted(keys)


def test_throttling_over_time(session: spintrail.Session, records: list[Record]) -> None:
    expected: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for r in select(records):
        expected[bucket(r["ts"], 900)][0] += 1
        expected[bucket(r["ts"], 900)][1] += throttled(r)
    table = spinnaker.throttling_over_time("15m").run(session)
    assert table.column_names == ["bucket_start", "calls", "throttled", "throttle_rate"]
    got = table.to_pylist()
    assert {utc(r["bucket_start"]): [r["calls"], r["throttled"]] for r in got} == expected
    for r in got:
        assert r["throttle_rate"] == pytest.approx(r["throttled"] / r["calls"])
        assert 0 <= r["throttle_rate"] <= 1
    assert max(r["throttle_rate"] for r in got) > 0


def test_throttled_apis(session: spintrail.Session, records: list[Record]) -> None:
    expected = Counter(
        (r["eventsource"], r["eventname"], r["awsregion"], r["errorcode"])
        for r in select(records)
        if throttled(r)
    )
    got = rows(spinnaker.throttled_apis(), session)
    assert {
        (r["eventsource"], r["eventname"], r["awsregion"], r["errorcode"]): r["throttled"]
        for r in got
    } == expected
    counts = [r["throttled"] for r in got]
    assert counts == sorted(counts, reverse=True)
    assert {"Client.RequestLimitExceeded", "Throttling"} <= {r["errorcode"] for r in got}


def test_throttle_rate_by_api(session: spintrail.Session, records: list[Record]) -> None:
    expected: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in select(records):
        expected[(r["eventsource"], r["eventname"])][0] += 1
        expected[(r["eventsource"], r["eventname"])][1] += throttled(r)
    got = rows(spinnaker.throttle_rate_by_api(), session)
    assert {(r["eventsource"], r["eventname"]): [r["calls"], r["throttled"]] for r in got} == (
        expected
    )
    for r in got:
        assert r["throttle_rate"] == pytest.approx(r["throttled"] / r["calls"])


def test_spinnaker_share(session: spintrail.Session, records: list[Record]) -> None:
    expected: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in records:
        key = (r["recipientaccountid"], r["awsregion"], r["eventsource"], r["eventname"])
        expected[key][0 if is_spinnaker(r) else 1] += 1
    table = spinnaker.spinnaker_share().run(session)
    assert table.column_names == [
        "account",
        "awsregion",
        "eventsource",
        "eventname",
        "spinnaker_calls",
        "other_calls",
        "total_calls",
        "spinnaker_share",
    ]
    got = table.to_pylist()
    assert {
        (r["account"], r["awsregion"], r["eventsource"], r["eventname"]): [
            r["spinnaker_calls"],
            r["other_calls"],
        ]
        for r in got
    } == expected
    for r in got:
        assert r["total_calls"] == r["spinnaker_calls"] + r["other_calls"]
        assert r["spinnaker_share"] == pytest.approx(r["spinnaker_calls"] / r["total_calls"])
    # EC2's budget is shared: someone else calls DescribeInstances too.
    shared = [r for r in got if r["eventname"] == "DescribeInstances"]
    assert any(0 < r["spinnaker_share"] < 1 for r in shared)
    assert {r["account"] for r in got} == set(ACCOUNTS)


def test_hourly_heatmap(session: spintrail.Session, records: list[Record]) -> None:
    expected: dict[tuple[datetime, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in select(records, DEFAULT, *WINDOW):
        api = r["eventsource"].split(".")[0] + ":" + r["eventname"]
        expected[(bucket(r["ts"], 3600), api)][0] += 1
        expected[(bucket(r["ts"], 3600), api)][1] += throttled(r)
    got = rows(spinnaker.hourly_heatmap(start=WINDOW[0], end=WINDOW[1]), session)
    assert {(utc(r["hour_start"]), r["api"]): [r["calls"], r["throttled"]] for r in got} == (
        expected
    )
    assert any(r["api"] == "ec2:DescribeInstances" for r in got)


def test_pipeline_attribution(session: spintrail.Session, records: list[Record]) -> None:
    expected: dict[tuple[str | None, str | None], list[Any]] = {}
    for r in select(records):
        key = execution(r)
        entry = expected.setdefault(key, [0, 0, 0, r["ts"], r["ts"]])
        entry[0] += 1
        entry[1] += bool(r.get("errorcode"))
        entry[2] += throttled(r)
        entry[3], entry[4] = min(entry[3], r["ts"]), max(entry[4], r["ts"])
    table = spinnaker.pipeline_attribution().run(session)
    assert table.column_names == [
        "execution_id",
        "kind",
        "user",
        "calls",
        "errors",
        "throttled",
        "first_seen",
        "last_seen",
    ]
    got = table.to_pylist()
    assert {
        (r["execution_id"], r["user"]): [
            r["calls"],
            r["errors"],
            r["throttled"],
            utc(r["first_seen"]),
            utc(r["last_seen"]),
        ]
        for r in got
    } == expected
    kinds = Counter(r["kind"] for r in got)
    assert kinds["background"] == 1 and kinds["pipeline"] > 1
    assert all((r["kind"] == "background") == (r["execution_id"] is None) for r in got)
    assert all(len(r["execution_id"]) == 26 for r in got if r["kind"] == "pipeline")


def per_second(records: list[Record], key: Callable[[Record], tuple[Any, ...]]) -> dict[Any, Any]:
    seconds: dict[tuple[Any, ...], Counter[int]] = defaultdict(Counter)
    for r in records:
        seconds[key(r)][int(r["ts"].timestamp())] += 1
    return seconds


def assert_rates(got: list[dict[str, Any]], expected: dict[Any, Any], key: Any) -> None:
    assert {key(r) for r in got} == set(expected)
    for r in got:
        counts = sorted(expected[key(r)].values())
        assert r["calls"] == sum(counts)
        assert r["peak_per_second"] == counts[-1]
        # approx_percentile: a value of the distribution between its 90th and 100th percentile
        low = counts[max(0, math.ceil(0.90 * len(counts)) - 1)]
        assert low <= r["p95_per_second"] <= counts[-1]


def test_call_rates(session: spintrail.Session, records: list[Record]) -> None:
    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        account = r.get("account", r.get("recipientaccountid"))
        return (account, r["awsregion"], r["eventsource"], r["eventname"])

    expected = per_second(select(records), key)
    table = spinnaker.call_rates().run(session)
    assert table.column_names[:7] == [
        "account",
        "awsregion",
        "eventsource",
        "eventname",
        "calls",
        "peak_per_second",
        "p95_per_second",
    ]
    got = table.to_pylist()
    assert_rates(got, expected, key)
    peaks = [r["peak_per_second"] for r in got]
    assert peaks == sorted(peaks, reverse=True)
    assert peaks[0] > 1


def test_client_call_rates(session: spintrail.Session, records: list[Record]) -> None:
    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        account = r.get("account", r.get("recipientaccountid"))
        return (account, r["awsregion"], r["eventsource"], r.get("apiversion"))

    expected = per_second(select(records), key)
    got = rows(spinnaker.client_call_rates(), session)
    assert_rates(got, expected, key)
    elb = {r["apiversion"] for r in got if r["eventsource"].startswith("elasticloadbalancing")}
    assert elb == {"2012-06-01", "2015-12-01"}, "classic ELB and ELBv2 are separate limiters"


def event_key(r: dict[str, Any]) -> tuple[Any, ...]:
    return (utc(r["eventtime"]), r["eventname"], r["errorcode"], r["execution_id"], r["user"])


def test_failed_mutations(session: spintrail.Session, records: list[Record]) -> None:
    expected = Counter(
        (r["ts"], r["eventname"], r["errorcode"], *execution(r))
        for r in select(records)
        if read_only(r) == "false" and r.get("errorcode")
    )
    table = spinnaker.failed_mutations().run(session)
    assert table.column_names == [
        "eventtime",
        "account",
        "awsregion",
        "eventsource",
        "eventname",
        "errorcode",
        "errormessage",
        "execution_id",
        "user",
    ]
    got = table.to_pylist()
    assert Counter(event_key(r) for r in got) == expected
    assert expected
    times = [utc(r["eventtime"]) for r in got]
    assert times == sorted(times, reverse=True)
    assert rows(spinnaker.failed_mutations(limit=3), session) == got[:3]


def test_access_denied(session: spintrail.Session, records: list[Record]) -> None:
    expected = Counter(
        (r["ts"], r["eventname"], r["errorcode"], *execution(r))
        for r in select(records)
        if r.get("errorcode") in spinnaker.ACCESS_DENIED_CODES
    )
    got = rows(spinnaker.access_denied(), session)
    assert Counter(event_key(r) for r in got) == expected
    assert expected
    assert all("not authorized" in r["errormessage"] for r in got)


# --- recognition, parameters, windows ----------------------------------------------------------

VARIANTS = [
    DEFAULT,
    Recognition(session_name=None, user_agent_pattern=None),  # role only
    Recognition(role_pattern="NoSuchRole", user_agent_pattern=None),  # session name only
    Recognition(role_pattern="NoSuchRole", session_name=None),  # user agent only
    Recognition(role_pattern="%AuthRole", session_name=None, user_agent_pattern=None),
    Recognition(role_pattern="NoSuchRole", session_name=None, user_agent_pattern="aws-cli/%"),
]


def test_recognition_variants_change_results(
    session: spintrail.Session, records: list[Record]
) -> None:
    counts = []
    for how in VARIANTS:
        check_headline(session, records, spinnaker=how)
        counts.append(len(select(records, how)))
    assert len(set(counts)) >= 4, counts
    assert all(n > 0 for n in counts), counts
    # Recognising more callers as Spinnaker moves calls from "other" to "spinnaker".
    wide = Recognition(role_pattern="%", session_name=None, user_agent_pattern=None)
    share = {
        (r["account"], r["awsregion"], r["eventsource"], r["eventname"]): r
        for r in rows(spinnaker.spinnaker_share(spinnaker=wide), session)
    }
    assumed = sum(1 for r in records if (r.get("useridentity") or {}).get("type") == "AssumedRole")
    assert assumed < len(records), "AWS services call without a role"
    assert sum(r["spinnaker_calls"] for r in share.values()) == assumed


def test_values_are_bound_not_pasted(session: spintrail.Session, records: list[Record]) -> None:
    sneaky = "x' OR '1'='1"
    how = Recognition(role_pattern=sneaky, session_name=None, user_agent_pattern="%'%")
    query = spinnaker.headline(start="2026-10-31", end=END, spinnaker=how)
    assert sneaky not in query.sql and "%'%" not in query.sql
    assert query.sql.count("?") == len(query.params)
    assert query.params[:2] == (sneaky, "%'%")
    [row] = rows(query, session)
    assert row["calls"] == 0
    quoted = Recognition(role_pattern="%Spin'naker%", session_name=None, user_agent_pattern=None)
    check_headline(session, records, spinnaker=quoted)
    # Escaped wildcards match themselves only.
    literal = Recognition(
        role_pattern="Spinnaker\\%", session_name=None, user_agent_pattern="%\\_\\\\%"
    )
    check_headline(session, records, spinnaker=literal)


def test_query_objects(session: spintrail.Session) -> None:
    query = spinnaker.throttled_apis(start=date(2026, 10, 31), table='"default"."cloudtrail_logs"')
    assert str(query) == query.sql
    assert query.title and query.question.endswith("?")
    assert "2026/10/31" in query.params and "2026-10-31T00:00:00Z" in query.params
    assert query.run(session).num_rows > 0
    with pytest.raises(AttributeError):
        query.sql = "SELECT 1"  # type: ignore[misc]


def test_time_bounds_of_every_kind_agree(session: spintrail.Session, records: list[Record]) -> None:
    start = END - timedelta(days=1)
    for first, last in [
        (start, END),
        (start.replace(tzinfo=None), END.replace(tzinfo=None)),
        (date(2026, 10, 31), date(2026, 11, 1)),
        ("2026-10-31", "2026-11-01T00:00:00Z"),
        ("2026-10-31T02:00:00+02:00", "2026-11-01 00:00:00"),
    ]:
        check_headline(session, records, start=first, end=last)
    check_headline(session, records, start=start)
    check_headline(session, records, end=start)


def test_midnight_events_in_the_next_days_folder_are_counted(tmp_path: Path) -> None:
    """CloudTrail files land in the folder of their delivery date: an event a minute before
    midnight can sit in the next day's folder."""

    def event(when: str, name: str) -> dict[str, Any]:
        return {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "AssumedRole",
                "arn": "arn:aws:sts::123456789012:assumed-role/SpinnakerManaged/Spinnaker",
            },
            "eventTime": when,
            "eventSource": "ec2.amazonaws.com",
            "eventName": name,
            "awsRegion": "us-east-1",
            "recipientAccountId": "123456789012",
        }

    def write(day: str, events: list[dict[str, Any]]) -> None:
        folder = tmp_path / "AWSLogs/123456789012/CloudTrail/us-east-1" / day
        folder.mkdir(parents=True)
        with gzip.open(folder / f"f{day.replace('/', '')}.json.gz", "wt") as f:
            json.dump({"Records": events}, f)

    write("2026/10/31", [event("2026-10-31T12:00:00Z", "Noon")])
    write(
        "2026/11/01",
        [
            event("2026-10-31T23:59:30Z", "LateDelivered"),
            event("2026-11-01T00:00:10Z", "AfterMidnight"),
        ],
    )
    session = spintrail.connect(tmp_path)
    names = lambda s, e: {  # noqa: E731
        r["api"] for r in rows(spinnaker.hourly_heatmap(start=s, end=e), session)
    }
    assert names("2026-10-31T23:00:00Z", "2026-11-01T00:00:00Z") == {"ec2:LateDelivered"}
    assert names("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z") == {"ec2:AfterMidnight"}
    assert names("2026-10-31", "2026-11-01") == {"ec2:Noon", "ec2:LateDelivered"}
    assert names(None, None) == {"ec2:Noon", "ec2:LateDelivered", "ec2:AfterMidnight"}


def test_bad_arguments_name_the_argument() -> None:
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: spinnaker.calls_over_time("2m"), "bucket.*1m, 5m, 15m, 1h, 1d"),
        (lambda: spinnaker.throttling_over_time(bucket=5), "bucket"),  # type: ignore[arg-type]
        (lambda: spinnaker.headline(start="yesterday"), "start='yesterday'.*ISO-8601"),
        (lambda: spinnaker.headline(end="2026-13-01"), "end="),
        (lambda: spinnaker.headline(start=12), "start must be"),  # type: ignore[arg-type]
        (lambda: spinnaker.headline(start="2026-11-02", end="2026-11-01"), "start.*after end"),
        (lambda: spinnaker.headline(table="x; DROP TABLE y"), "table="),
        (lambda: spinnaker.headline(spinnaker="Spinnaker"), "spinnaker must be"),  # type: ignore[arg-type]
        (lambda: spinnaker.failed_mutations(limit=0), "limit"),
        (lambda: Recognition(role_pattern=""), "role_pattern"),
        (lambda: Recognition(role_pattern="50\\"), "role_pattern.*lone backslash"),
        (lambda: Recognition(role_pattern="a\\b"), "role_pattern.*escapes only"),
        (lambda: Recognition(role_pattern="a\nb"), "role_pattern.*control"),
        (lambda: Recognition(user_agent_pattern=""), "user_agent_pattern"),
        (lambda: Recognition(session_name="a b"), "session_name"),
        (lambda: Recognition(session_name="x'--"), "session_name"),
    ]
    for call, message in cases:
        with pytest.raises(spintrail.InvalidArgumentError, match=message):
            call()


# --- comparing windows -------------------------------------------------------------------------


def test_compare_windows(session: spintrail.Session, records: list[Record]) -> None:
    day1 = (END - timedelta(days=2), END - timedelta(days=1))
    day2 = (END - timedelta(days=1), END)
    table = spinnaker.compare_windows(
        spinnaker.throttle_rate_by_api, session, before=day1, after=day2
    )
    assert table.column_names[:2] == ["eventsource", "eventname"]
    assert {"before_calls", "after_calls", "change_calls", "change_throttle_rate"} <= set(
        table.column_names
    )
    before = Counter((r["eventsource"], r["eventname"]) for r in select(records, DEFAULT, *day1))
    after = Counter((r["eventsource"], r["eventname"]) for r in select(records, DEFAULT, *day2))
    got = table.to_pylist()
    assert {(r["eventsource"], r["eventname"]) for r in got} == set(before) | set(after)
    for r in got:
        key = (r["eventsource"], r["eventname"])
        assert (r["before_calls"], r["after_calls"]) == (before[key], after[key])
        assert r["change_calls"] == after[key] - before[key]
        if r["before_throttle_rate"] is not None and r["after_throttle_rate"] is not None:
            assert r["change_throttle_rate"] == pytest.approx(
                r["after_throttle_rate"] - r["before_throttle_rate"]
            )

    [glance] = spinnaker.compare_windows(spinnaker.headline, session, day1, day2).to_pylist()
    assert glance["before_calls"] == len(select(records, DEFAULT, *day1))
    assert glance["after_calls"] == len(select(records, DEFAULT, *day2))
    assert glance["change_calls"] == glance["after_calls"] - glance["before_calls"]
    assert "before_first_event" in glance and "change_first_event" not in glance

    wide = Recognition(role_pattern="%", session_name=None, user_agent_pattern=None)
    shares = spinnaker.compare_windows(
        spinnaker.spinnaker_share, session, before=day1, after=day2, spinnaker=wide
    )
    assert shares.num_rows > 0

    with pytest.raises(spintrail.InvalidArgumentError, match="calls_over_time"):
        spinnaker.compare_windows(spinnaker.calls_over_time, session, before=day1, after=day2)
    with pytest.raises(spintrail.InvalidArgumentError, match="before"):
        spinnaker.compare_windows(spinnaker.headline, session, before=day1[0], after=day2)  # type: ignore[arg-type]
    with pytest.raises(spintrail.InvalidArgumentError, match="start"):
        spinnaker.compare_windows(spinnaker.headline, session, before=day1, after=day2, start=END)


# --- suggested rate limits ---------------------------------------------------------------------


def parse_yaml(text: str) -> dict[str, Any]:
    try:
        import yaml
    except ImportError:  # a structural reading of the block we write (two-space nesting)
        root: dict[str, Any] = {}
        stack: list[tuple[int, dict[str, Any]]] = [(-1, root)]
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            indent = len(line) - len(line.lstrip())
            key, _, value = line.strip().partition(":")
            key = key.strip("'")
            while stack[-1][0] >= indent:
                stack.pop()
            if value.strip() in ("", "{}"):
                child: dict[str, Any] = {}
                stack[-1][1][key] = child
                stack.append((indent, child))
            else:
                stack[-1][1][key] = float(value)
        return root
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def check_suggestion(
    suggestion: spinnaker.ServiceLimitSuggestion, names: dict[str, str] | None = None
) -> dict[str, dict[str, int]]:
    """The YAML's numbers follow from the basis by the documented rule; returns the limits."""
    names = names or {}
    basis = suggestion.basis.to_pylist()
    needed: dict[str, dict[str, int]] = defaultdict(dict)
    for r in basis:
        if r["client"] is None:
            assert r["suggested_rate_limit"] is None
            continue
        assert r["client"] == spinnaker.SDK_CLIENTS[r["eventsource"]]
        rule = max(1, math.ceil(r["p95_per_second"] * suggestion.headroom - 1e-9))
        assert r["suggested_rate_limit"] == rule
        account = names.get(r["account"], r["account"])
        needed[r["client"]][account] = max(needed[r["client"]].get(account, 0), rule)
    parsed = parse_yaml(suggestion.yaml)["serviceLimits"]
    limits = parsed.get("implementationLimits", {})
    assert set(limits) == set(needed)
    for client, accounts in needed.items():
        entry = limits[client]
        default = entry["defaults"]["rateLimit"]
        tally = Counter(accounts.values())
        assert default == max(tally, key=lambda v: (tally[v], v))
        overrides = {str(k): v["rateLimit"] for k, v in entry.get("accountOverrides", {}).items()}
        assert overrides == {a: v for a, v in accounts.items() if v != default}
    text = str(suggestion)
    assert text.startswith("# Basis: Spinnaker's calls")
    assert text.endswith(suggestion.yaml)
    assert f"ceil(p95 x {suggestion.headroom:g})" in suggestion.yaml
    return dict(needed)


def test_suggest_service_limits(session: spintrail.Session, records: list[Record]) -> None:
    suggestion = spinnaker.suggest_service_limits(session, start=END - timedelta(days=1))
    needed = check_suggestion(suggestion)
    assert {"AmazonEC2", "AmazonElasticLoadBalancing", "AmazonAutoScaling"} <= set(needed)
    assert set(needed["AmazonEC2"]) == set(ACCOUNTS)
    assert "replace them with clouddriver account names" in suggestion.yaml
    assert any("throttled by AWS" in note for note in suggestion.notes)
    assert "sts.amazonaws.com" in " ".join(suggestion.notes), "STS has no clouddriver client"
    assert suggestion.api_rates.column_names[:7] == [
        "account",
        "awsregion",
        "eventsource",
        "eventname",
        "calls",
        "peak_per_second",
        "p95_per_second",
    ]

    # The basis numbers are the client rates (checked against the records in their own test).
    def numbers(table: list[dict[str, Any]]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        return {
            (r["account"], r["awsregion"], r["eventsource"], r["apiversion"]): (
                r["calls"],
                r["peak_per_second"],
                r["p95_per_second"],
                r["throttled"],
            )
            for r in table
        }

    rates = rows(spinnaker.client_call_rates(start=END - timedelta(days=1)), session)
    assert numbers(suggestion.basis.to_pylist()) == numbers(rates)
    higher = spinnaker.suggest_service_limits(session, start=END - timedelta(days=1), headroom=4.0)
    check_suggestion(higher)
    assert higher.yaml != suggestion.yaml


def test_suggestions_differ_per_account_and_take_names(tmp_path: Path) -> None:
    generate(tmp_path, events=4000, end=END, seed=1, accounts=["111111111111"])
    generate(tmp_path, events=120_000, end=END, seed=2, accounts=["222222222222"])
    session = spintrail.connect(tmp_path)
    names = {"111111111111": "quiet-account", "222222222222": "prod's-busy"}
    suggestion = spinnaker.suggest_service_limits(session, account_names=names, headroom=2)
    needed = check_suggestion(suggestion, names)
    assert any(len(set(accounts.values())) > 1 for accounts in needed.values())
    assert "accountOverrides" in suggestion.yaml
    assert "clouddriver account names mapped from AWS account ids" in suggestion.yaml
    with pytest.raises(spintrail.InvalidArgumentError, match="headroom"):
        spinnaker.suggest_service_limits(session, headroom=0)
    with pytest.raises(spintrail.InvalidArgumentError, match="account_names"):
        spinnaker.suggest_service_limits(session, account_names={"111111111111": ""})


# --- the real records ----------------------------------------------------------------------------

REAL_VARIANTS = [
    DEFAULT,
    Recognition(role_pattern="stratus-red-team%", session_name=None, user_agent_pattern=None),
    Recognition(role_pattern="NoSuchRole", session_name="cli", user_agent_pattern=None),
    Recognition(role_pattern="NoSuchRole", session_name=None, user_agent_pattern="%aws-cli/%"),
    Recognition(role_pattern="%", session_name=None, user_agent_pattern="stratus-red-team%"),
]


@pytest.mark.parametrize("how", REAL_VARIANTS, ids=lambda h: h.role_pattern[:12])
def test_every_query_on_real_records(
    real_session: spintrail.Session, real_records: list[Record], how: Recognition
) -> None:
    mine = select(real_records, how)
    check_headline(real_session, real_records, spinnaker=how)
    check_headline(
        real_session, real_records, spinnaker=how, start="2024-08-01", end="2024-08-02T12:00:00Z"
    )
    total = len(mine)
    for fn in (spinnaker.calls_over_time, spinnaker.throttling_over_time):
        assert sum(r["calls"] for r in rows(fn("1d", spinnaker=how), real_session)) == total
    assert sum(r["calls"] for r in rows(spinnaker.hourly_heatmap(spinnaker=how), real_session)) == (
        total
    )
    assert (
        sum(r["calls"] for r in rows(spinnaker.throttle_rate_by_api(spinnaker=how), real_session))
        == total
    )
    shares = rows(spinnaker.spinnaker_share(spinnaker=how), real_session)
    assert sum(r["spinnaker_calls"] for r in shares) == total
    assert sum(r["total_calls"] for r in shares) == len(real_records)
    attributed = rows(spinnaker.pipeline_attribution(spinnaker=how), real_session)
    assert sum(r["calls"] for r in attributed) == total
    assert all(r["kind"] == "background" for r in attributed)
    rates = rows(spinnaker.call_rates(spinnaker=how), real_session)
    assert sum(r["calls"] for r in rates) == total
    expected_rates = per_second(
        mine,
        lambda r: (r.get("recipientaccountid"), r["awsregion"], r["eventsource"], r["eventname"]),
    )
    assert_rates(
        rates,
        expected_rates,
        lambda r: (r["account"], r["awsregion"], r["eventsource"], r["eventname"]),
    )
    denied = rows(spinnaker.access_denied(spinnaker=how), real_session)
    assert Counter(event_key(r) for r in denied) == Counter(
        (r["ts"], r["eventname"], r["errorcode"], None, None)
        for r in mine
        if r.get("errorcode") in spinnaker.ACCESS_DENIED_CODES
    )
    failed = rows(spinnaker.failed_mutations(spinnaker=how), real_session)
    assert Counter(event_key(r) for r in failed) == Counter(
        (r["ts"], r["eventname"], r["errorcode"], None, None)
        for r in mine
        if read_only(r) == "false" and r.get("errorcode")
    )
    assert rows(spinnaker.throttled_apis(spinnaker=how), real_session) == []
    check_suggestion(spinnaker.suggest_service_limits(real_session, spinnaker=how))
    if how is DEFAULT:
        assert total == 0, "no Spinnaker in these records"
    else:
        assert total > 0


def test_real_records_find_what_stratus_was_denied(real_session: spintrail.Session) -> None:
    how = Recognition(role_pattern="%", session_name=None, user_agent_pattern="stratus-red-team%")
    denied = rows(spinnaker.access_denied(spinnaker=how), real_session)
    codes = Counter(r["errorcode"] for r in denied)
    assert codes["Client.UnauthorizedOperation"] > 0
    suggestion = spinnaker.suggest_service_limits(real_session, spinnaker=how)
    assert "AmazonEC2" in parse_yaml(suggestion.yaml)["serviceLimits"]["implementationLimits"]


def test_queries_module_still_shares_the_codes() -> None:
    assert spintrail.spinnaker is spinnaker
    assert queries.THROTTLING_CODES is spinnaker.THROTTLING_CODES
    assert "Client.RequestLimitExceeded" in queries.throttled_condition()


# --- Athena (moto) -------------------------------------------------------------------------------

REGION = "us-east-1"


@pytest.fixture(scope="module")
def athena_server() -> Iterator[MotoServer]:
    with moto_server(LAUNCHER) as server:
        yield server


@pytest.fixture()
def athena(
    athena_server: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[MotoServer]:
    athena_server.reset()
    isolate_aws_env(monkeypatch, tmp_path, REGION)
    athena_server.client("s3", REGION).create_bucket(Bucket="athena-results")
    yield athena_server


def athena_session(server: MotoServer) -> spintrail.AthenaSession:
    return spintrail.connect(
        engine="athena",
        endpoint_url=server.url,
        output_location="s3://athena-results/spinnaker/",
        workgroup="primary",
        max_attempts=2,
    )


def seed(server: MotoServer, columns: list[tuple[str, str]], data: list[list[str]]) -> None:
    """Queues the result of the next query, header row first as Athena returns it."""
    info = [
        {"Name": n, "Label": n, "Type": t, "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN"}
        for n, t in columns
    ]
    table = [[n for n, _ in columns], *data]
    server.post_json(
        "/moto-api/static/athena/query-results",
        {
            "account_id": "123456789012",
            "region": REGION,
            "results": [
                {
                    "rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in table],
                    "column_info": info,
                }
            ],
        },
    )


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


ALL_QUERIES: list[Callable[..., spinnaker.Query]] = [
    spinnaker.calls_over_time,
    spinnaker.throttling_over_time,
    spinnaker.throttled_apis,
    spinnaker.throttle_rate_by_api,
    spinnaker.spinnaker_share,
    spinnaker.hourly_heatmap,
    spinnaker.pipeline_attribution,
    spinnaker.call_rates,
    spinnaker.client_call_rates,
    spinnaker.failed_mutations,
    spinnaker.access_denied,
    spinnaker.headline,
]


def test_every_query_reaches_athena_as_sent(athena: MotoServer) -> None:
    session = athena_session(athena)
    client = athena.client("athena", REGION)
    how = Recognition(
        role_pattern="%Spin'naker%", session_name="Spinnaker", user_agent_pattern=None
    )
    for fn in ALL_QUERIES:
        for kwargs in ({}, {"start": "2026-10-31T22:30:00Z", "end": END, "spinnaker": how}):
            query = fn(**kwargs)
            seed(athena, [("n", "bigint")], [["1"]])
            table = query.run(session)
            assert table.to_pylist() == [{"n": 1}]
            ids = client.list_query_executions()["QueryExecutionIds"]
            execution = client.get_query_execution(QueryExecutionId=ids[-1])["QueryExecution"]
            assert execution["Query"] == query.sql, fn.__name__
            assert execution["ExecutionParameters"] == [literal(p) for p in query.params]
    windowed = spinnaker.headline(start="2026-10-31T22:30:00Z", end=END, spinnaker=how)
    assert windowed.params == (
        "%Spin'naker%",
        "Spinnaker",
        "2026/10/31",
        "2026-10-31T22:30:00Z",
        "2026/11/01",
        "2026-11-01T00:00:00Z",
    )


def test_suggestion_from_athena_results(athena: MotoServer) -> None:
    rate_columns = [
        ("account", "varchar"),
        ("awsregion", "varchar"),
        ("eventsource", "varchar"),
        ("apiversion", "varchar"),
        ("calls", "bigint"),
        ("peak_per_second", "bigint"),
        ("p95_per_second", "bigint"),
        ("throttled", "bigint"),
    ]
    seed(
        athena,
        rate_columns,
        [
            ["111111111111", "us-east-1", "ec2.amazonaws.com", "", "9000", "40", "6", "12"],
            ["111111111111", "eu-west-1", "ec2.amazonaws.com", "", "100", "3", "1", "0"],
            ["222222222222", "us-east-1", "ec2.amazonaws.com", "", "50", "2", "1", "0"],
            ["333333333333", "us-east-1", "ec2.amazonaws.com", "", "70", "2", "1", "0"],
            ["111111111111", "us-east-1", "sts.amazonaws.com", "", "24", "1", "1", "0"],
        ],
    )
    api_columns = [*rate_columns[:4], *rate_columns[4:]]
    api_columns[3] = ("eventname", "varchar")
    seed(athena, api_columns, [])
    suggestion = spinnaker.suggest_service_limits(athena_session(athena), start="2026-10-31")
    limits = check_suggestion(suggestion)
    assert limits == {
        "AmazonEC2": {"111111111111": 9, "222222222222": 2, "333333333333": 2},
    }
    parsed = parse_yaml(suggestion.yaml)["serviceLimits"]["implementationLimits"]["AmazonEC2"]
    assert parsed["defaults"]["rateLimit"] == 2
    assert parsed["accountOverrides"] == {"111111111111": {"rateLimit": 9}}
    assert "12 throttled by AWS" in str(suggestion)
    assert "sts.amazonaws.com (24 calls)" in str(suggestion)
