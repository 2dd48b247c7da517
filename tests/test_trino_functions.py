"""Trino functions on the embedded engine: values, Trino's types, NULL rules and errors.

Each function has a value check (computed independently here, or Trino's documented example),
the NULL rule, and its error; the error tests also pin down that messages speak Trino's types and
never show engine internals.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pytest
import spintrail
from conftest import REAL

STRATUS = REAL / "stratus-red-team.json.gz"


@pytest.fixture(scope="module")
def session() -> spintrail.Session:
    return spintrail.connect(STRATUS)


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    with gzip.open(STRATUS) as f:
        return list(json.load(f)["Records"])


def one(session: spintrail.Session, sql: str) -> Any:
    """The single value of a one-row, one-column query."""
    rows = session.sql(sql).to_pylist()
    assert len(rows) == 1, rows
    (value,) = rows[0].values()
    return value


def row(session: spintrail.Session, sql: str) -> list[Any]:
    rows = session.sql(sql).to_pylist()
    assert len(rows) == 1, rows
    return list(rows[0].values())


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)  # type: ignore[misc]


ENGINE_WORDS = re.compile(r"get_field|Utf8|Int64|Float64|LargeUtf8|Did you mean|var_population")


def assert_clean(message: str) -> None:
    assert not ENGINE_WORDS.search(message), message


# --- replace -----------------------------------------------------------------------------------


def test_replace_two_arguments_deletes(session: spintrail.Session) -> None:
    assert row(
        session,
        "SELECT replace('arn:aws:iam::123:role/x', ':'), replace('abcabc', 'b', 'X'), "
        "replace(NULL, 'a'), replace('abc', NULL)",
    ) == ["arnawsiam123role/x", "aXcaXc", None, None]


def test_replace_in_the_athena_unnest_example(session: spintrail.Session) -> None:
    # The Athena user guide's UNNEST example strips quotes with the two-argument form.
    got = session.sql(
        "SELECT eventname, replace(CAST(t.r.arn AS varchar), '\"') AS arn "
        "FROM cloudtrail_logs CROSS JOIN UNNEST(resources) AS t(r) "
        "WHERE t.r.arn IS NOT NULL ORDER BY 2 LIMIT 3"
    ).to_pylist()
    assert got and all('"' not in r["arn"] for r in got)


def test_replace_wrong_arity_names_the_signature(session: spintrail.Session) -> None:
    with pytest.raises(spintrail.SqlError) as info:
        session.sql("SELECT replace('abc')")
    assert "replace" in str(info.value)
    assert_clean(str(info.value))


# --- date_parse / date_format ------------------------------------------------------------------


def test_date_parse_values_and_type(session: spintrail.Session) -> None:
    table = session.sql(
        "SELECT date_parse('2024-07-30 21:31:21.5', '%Y-%m-%d %H:%i:%s.%f') AS a, "
        "date_parse('05/Jul/2024:09:03:09 PM', '%d/%b/%Y:%r') AS b, "
        "date_parse('20240730', '%Y%m%d') AS c, "
        "date_parse('24-1-2', '%y-%c-%e') AS d, "
        "date_parse(NULL, '%Y') AS e"
    )
    assert table.schema.field("a").type == pa.timestamp("ms")
    assert table.to_pylist() == [
        {
            "a": datetime(2024, 7, 30, 21, 31, 21, 500000),
            "b": datetime(2024, 7, 5, 21, 3, 9),
            "c": datetime(2024, 7, 30),
            "d": datetime(2024, 1, 2),
            "e": None,
        }
    ]


def test_date_parse_compares_with_eventtime(
    session: spintrail.Session, records: list[dict[str, Any]]
) -> None:
    cutoff = sorted(r["eventTime"] for r in records)[len(records) // 2]
    mysql_cutoff = cutoff.replace("T", " ").rstrip("Z")
    n = one(
        session,
        "SELECT count(*) FROM cloudtrail_logs WHERE from_iso8601_timestamp(eventtime) >= "
        f"date_parse('{mysql_cutoff}', '%Y-%m-%d %H:%i:%s')",
    )
    assert n == sum(r["eventTime"] >= cutoff for r in records)


def test_date_parse_errors(session: spintrail.Session) -> None:
    with pytest.raises(spintrail.SqlError, match=r"date_parse: .*'2024-13-01'.*monthOfYear"):
        session.sql("SELECT date_parse('2024-13-01', '%Y-%m-%d')")
    with pytest.raises(spintrail.SqlError, match=r"date_parse: '2024-07-30x' is malformed at 'x'"):
        session.sql("SELECT date_parse('2024-07-30x', '%Y-%m-%d')")
    with pytest.raises(spintrail.SqlError, match=r"%D"):
        session.sql("SELECT date_parse('1st', '%D')")
    assert one(session, "SELECT try(date_parse('garbage', '%Y-%m-%d'))") is None
    with pytest.raises(spintrail.SqlError) as info:
        session.sql("SELECT date_parse(1, '%Y')")
    assert "Unexpected parameters (bigint, varchar) for function date_parse" in str(info.value)
    assert_clean(str(info.value))


def test_date_format_on_eventtime(
    session: spintrail.Session, records: list[dict[str, Any]]
) -> None:
    got = session.sql(
        "SELECT eventid, date_format(from_iso8601_timestamp(eventtime), '%Y-%m-%d %H:%i') AS t "
        "FROM cloudtrail_logs"
    ).to_pylist()
    expected = {r["eventID"]: r["eventTime"][:16].replace("T", " ") for r in records}
    assert {g["eventid"]: g["t"] for g in got} == expected


# --- format_datetime / parse_datetime ----------------------------------------------------------


def test_format_datetime_joda_patterns(session: spintrail.Session) -> None:
    ts = "from_iso8601_timestamp('2024-07-05T21:03:09.120Z')"
    assert row(
        session,
        f"SELECT format_datetime({ts}, 'yyyy-MM-dd HH:mm:ss.SSS'), "
        f"format_datetime({ts}, 'EEE, d MMM yyyy hh:mm a ZZ'), "
        f"format_datetime({ts}, 'EEEE MMMM yy D'), "
        f"format_datetime({ts}, '''day'' dd'), "
        f"format_datetime(NULL, 'yyyy'), format_datetime({ts}, NULL)",
    ) == [
        "2024-07-05 21:03:09.120",
        "Fri, 5 Jul 2024 09:03 PM +00:00",
        "Friday July 24 187",
        "day 05",
        None,
        None,
    ]


def test_format_datetime_in_the_timestamps_zone(session: spintrail.Session) -> None:
    assert (
        one(
            session,
            "SELECT format_datetime(at_timezone(from_iso8601_timestamp('2024-07-05T21:03:09Z'), "
            "'America/New_York'), 'yyyy-MM-dd HH:mm z ZZZ')",
        )
        == "2024-07-05 17:03 EDT America/New_York"
    )


def test_format_datetime_errors(session: spintrail.Session) -> None:
    with pytest.raises(spintrail.SqlError, match=r"format_datetime: illegal pattern component 'q'"):
        session.sql("SELECT format_datetime(now(), 'yyyy q')")
    with pytest.raises(spintrail.SqlError) as info:
        session.sql("SELECT format_datetime('2024-07-05', 'yyyy')")
    assert "Unexpected parameters (varchar, varchar) for function format_datetime" in str(
        info.value
    )
    assert_clean(str(info.value))


def test_parse_datetime(session: spintrail.Session) -> None:
    table = session.sql(
        "SELECT parse_datetime('2024-07-30 23:31:21 +0200', 'yyyy-MM-dd HH:mm:ss Z') AS a, "
        "parse_datetime('30/Jul/2024:21:31:21', 'dd/MMM/yyyy:HH:mm:ss') AS b, "
        "parse_datetime('2024-07-30 17:31 America/New_York', 'yyyy-MM-dd HH:mm ZZZ') AS c, "
        "parse_datetime(NULL, 'yyyy') AS d"
    )
    # Like from_iso8601_timestamp: a UTC timestamp(3) with time zone.
    assert table.schema.field("a").type == pa.timestamp("ms", tz="UTC")
    instant = utc(2024, 7, 30, 21, 31, 21)
    assert table.to_pylist() == [
        {"a": instant, "b": instant, "c": utc(2024, 7, 30, 21, 31), "d": None}
    ]
    with pytest.raises(spintrail.SqlError, match=r"parse_datetime: .*malformed"):
        session.sql("SELECT parse_datetime('2024/07/30', 'yyyy-MM-dd')")
    assert one(session, "SELECT try(parse_datetime('x', 'yyyy'))") is None


# --- parse_duration ----------------------------------------------------------------------------


def test_parse_duration_values(session: spintrail.Session) -> None:
    table = session.sql(
        "SELECT parse_duration('1d') AS a, parse_duration('3.5h') AS b, "
        "parse_duration(' 250 ms ') AS c, parse_duration('1.5s') AS d, parse_duration(NULL) AS e"
    )
    assert table.schema.field("a").type == pa.duration("ms")
    assert table.to_pylist() == [
        {
            "a": timedelta(days=1),
            "b": timedelta(hours=3, minutes=30),
            "c": timedelta(milliseconds=250),
            "d": timedelta(seconds=1.5),
            "e": None,
        }
    ]


def test_parse_duration_in_timestamp_arithmetic(
    session: spintrail.Session, records: list[dict[str, Any]]
) -> None:
    assert one(session, "SELECT now() - parse_duration('1d') < now()") is True
    latest = max(r["eventTime"] for r in records)
    n = one(
        session,
        "SELECT count(*) FROM cloudtrail_logs WHERE from_iso8601_timestamp(eventtime) > "
        f"from_iso8601_timestamp('{latest}') - parse_duration('1h')",
    )
    bound = datetime.fromisoformat(latest.replace("Z", "+00:00")) - timedelta(hours=1)
    assert n == sum(
        datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")) > bound for r in records
    )
    assert one(session, "SELECT parse_duration('2h') > parse_duration('90m')") is True


def test_parse_duration_errors(session: spintrail.Session) -> None:
    with pytest.raises(spintrail.SqlError, match=r"parse_duration: '1x' is not a duration"):
        session.sql("SELECT parse_duration('1x')")
    assert one(session, "SELECT try(parse_duration('soon'))") is None


# --- time zones --------------------------------------------------------------------------------


def test_at_timezone_keeps_the_instant(session: spintrail.Session) -> None:
    ts = "from_iso8601_timestamp('2024-07-30T21:31:21Z')"
    table = session.sql(
        f"SELECT at_timezone({ts}, 'America/New_York') AS a, "
        f"to_iso8601(at_timezone({ts}, 'America/New_York')) AS b, "
        f"hour(at_timezone({ts}, '+05:30')) AS c, "
        f"to_unixtime(at_timezone({ts}, 'Asia/Tokyo')) = to_unixtime({ts}) AS d, "
        "at_timezone(NULL, 'UTC') AS e"
    )
    assert table.schema.field("a").type == pa.timestamp("ms", tz="America/New_York")
    got = table.to_pylist()[0]
    assert got["a"] == utc(2024, 7, 30, 21, 31, 21)
    assert got["b"] == "2024-07-30T17:31:21.000-04:00"
    assert got["c"] == 3
    assert got["d"] is True
    assert got["e"] is None


def test_with_timezone_reads_the_wall_clock_in_the_zone(session: spintrail.Session) -> None:
    assert row(
        session,
        "SELECT to_iso8601(with_timezone(TIMESTAMP '2024-07-30 21:31:21', 'Europe/Paris')), "
        "to_unixtime(with_timezone(TIMESTAMP '2024-01-30 12:00:00', 'America/New_York')), "
        "with_timezone(NULL, 'UTC')",
    ) == [
        "2024-07-30T21:31:21.000+02:00",
        utc(2024, 1, 30, 17).timestamp(),
        None,
    ]


def test_time_zone_errors(session: spintrail.Session) -> None:
    with pytest.raises(spintrail.SqlError, match=r"at_timezone: 'Mars/Olympus' is not a time zone"):
        session.sql("SELECT at_timezone(now(), 'Mars/Olympus')")
    with pytest.raises(spintrail.SqlError, match=r"with_timezone: the time zone must be a literal"):
        session.sql(
            "SELECT with_timezone(TIMESTAMP '2024-01-01 00:00:00', awsregion) FROM cloudtrail_logs"
        )


# --- unix time, date_trunc, date_add, date_diff, parts -----------------------------------------


def test_unixtime_round_trip(session: spintrail.Session) -> None:
    assert row(
        session,
        "SELECT to_unixtime(from_iso8601_timestamp('2024-07-30T21:31:21.500Z')), "
        "to_iso8601(from_unixtime(1722375081.5)), from_unixtime(NULL)",
    ) == [1722375081.5, "2024-07-30T21:31:21.500Z", None]


def test_from_unixtime_with_zone(session: spintrail.Session) -> None:
    table = session.sql(
        "SELECT from_unixtime(1722375081, 'America/New_York') AS a, "
        "to_iso8601(from_unixtime(1722375081, 'Asia/Kolkata')) AS b, "
        "from_unixtime(NULL, 'UTC') AS c"
    )
    assert table.schema.field("a").type == pa.timestamp("ms", tz="America/New_York")
    assert table.to_pylist() == [
        {"a": utc(2024, 7, 30, 21, 31, 21), "b": "2024-07-31T03:01:21.000+05:30", "c": None}
    ]


def test_numeric_functions_by_trino_name(session: spintrail.Session) -> None:
    assert row(
        session,
        "SELECT mod(7, 3), mod(-7, 3), is_nan(CAST('NaN' AS double)), is_nan(1.0), mod(NULL, 3)",
    ) == [1, -1, True, False, None]
    assert one(session, "SELECT variance(x) FROM (VALUES (1.0), (2.0), (3.0)) AS t(x)") == 1.0
    with pytest.raises(spintrail.SqlError, match="mod expects 2"):
        session.sql("SELECT mod(1)")


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("second", "2024-08-31T10:11:12.000Z"),
        ("minute", "2024-08-31T10:11:00.000Z"),
        ("hour", "2024-08-31T10:00:00.000Z"),
        ("day", "2024-08-31T00:00:00.000Z"),
        ("week", "2024-08-26T00:00:00.000Z"),
        ("month", "2024-08-01T00:00:00.000Z"),
        ("quarter", "2024-07-01T00:00:00.000Z"),
        ("year", "2024-01-01T00:00:00.000Z"),
    ],
)
def test_date_trunc_units(session: spintrail.Session, unit: str, expected: str) -> None:
    assert (
        one(
            session,
            f"SELECT to_iso8601(date_trunc('{unit}', "
            "from_iso8601_timestamp('2024-08-31T10:11:12.345Z')))",
        )
        == expected
    )


@pytest.mark.parametrize(
    ("unit", "added", "diff"),
    [
        # diff: whole units from the start to one unit later minus a day.
        ("millisecond", "2024-01-31T10:00:00.001Z", -86_399_999),
        ("second", "2024-01-31T10:00:01.000Z", -86_399),
        ("minute", "2024-01-31T10:01:00.000Z", -1_439),
        ("hour", "2024-01-31T11:00:00.000Z", -23),
        ("day", "2024-02-01T10:00:00.000Z", 0),
        ("week", "2024-02-07T10:00:00.000Z", 0),
        ("month", "2024-02-29T10:00:00.000Z", 0),
        ("quarter", "2024-04-30T10:00:00.000Z", 0),
        ("year", "2025-01-31T10:00:00.000Z", 0),
    ],
)
def test_date_add_and_date_diff_units(
    session: spintrail.Session, unit: str, added: str, diff: int
) -> None:
    ts = "from_iso8601_timestamp('2024-01-31T10:00:00Z')"
    got = row(
        session,
        f"SELECT to_iso8601(date_add('{unit}', 1, {ts})), "
        f"date_diff('{unit}', {ts}, date_add('{unit}', 1, {ts}) - interval '1' day), "
        f"date_diff('{unit}', {ts}, date_add('{unit}', 1, {ts}))",
    )
    assert got == [added, diff, 1]


def test_date_add_unknown_unit(session: spintrail.Session) -> None:
    with pytest.raises(spintrail.SqlError, match="date_add"):
        session.sql("SELECT date_add('fortnight', 1, now())")


def test_date_parts(session: spintrail.Session) -> None:
    assert row(
        session,
        "SELECT day_of_week(DATE '2024-07-28'), day_of_week(DATE '2024-07-29'), "
        "hour(from_iso8601_timestamp('2024-07-30T21:31:21Z')), "
        "minute(from_iso8601_timestamp('2024-07-30T21:31:21Z')), "
        "day_of_year(DATE '2024-12-31'), hour(CAST(NULL AS timestamp)), hour(NULL), year(NULL)",
    ) == [7, 1, 21, 31, 366, None, None, None]


# --- strings and regular expressions -----------------------------------------------------------


def test_split_part_strpos_regexp_like(session: spintrail.Session) -> None:
    assert row(
        session,
        "SELECT split_part('a:b:c', ':', 3), split_part('a:b', ':', 9), strpos('abc', 'c'), "
        "strpos('abc', 'z'), regexp_like('AssumeRole', '^Assume'), split_part(NULL, ':', 1)",
    ) == ["c", None, 3, 0, True, None]
    with pytest.raises(spintrail.SqlError, match="split_part: index 0"):
        session.sql("SELECT split_part('a', ':', 0)")


def test_regexp_extract_all(session: spintrail.Session) -> None:
    assert row(
        session,
        "SELECT regexp_extract_all('1a 2b 14m', '\\d+'), "
        "regexp_extract_all('1a 2b 14m', '(\\d+)([a-z]+)', 2), "
        "regexp_extract_all('abc', '\\d'), regexp_extract_all(NULL, 'a')",
    ) == [["1", "2", "14"], ["a", "b", "m"], [], None]
    with pytest.raises(spintrail.SqlError, match=r"regexp_extract_all: pattern .* has 0 groups"):
        session.sql("SELECT regexp_extract_all('a', 'a', 1)")


def test_regexp_split(session: spintrail.Session) -> None:
    assert row(
        session,
        "SELECT regexp_split('a1b22c', '\\d+'), regexp_split('abc', ','), regexp_split(NULL, ',')",
    ) == [["a", "b", "c"], ["abc"], None]


def test_url_functions(session: spintrail.Session) -> None:
    url = "'https://user@sts.amazonaws.com:8443/a/b?Action=AssumeRole&Version=2011-06-15&x#frag'"
    assert row(
        session,
        f"SELECT url_extract_host({url}), url_extract_path({url}), url_extract_port({url}), "
        f"url_extract_protocol({url}), url_extract_query({url}), url_extract_fragment({url}), "
        f"url_extract_parameter({url}, 'Action'), url_extract_parameter({url}, 'x'), "
        f"url_extract_parameter({url}, 'missing'), url_extract_port('https://a.b/'), "
        "url_extract_host('not a url'), url_extract_host(NULL)",
    ) == [
        "sts.amazonaws.com",
        "/a/b",
        8443,
        "https",
        "Action=AssumeRole&Version=2011-06-15&x",
        "frag",
        "AssumeRole",
        "",
        None,
        None,
        None,
        None,
    ]
    assert row(
        session, "SELECT url_encode('a b/c?'), url_decode('a+b%2Fc%3F'), url_decode(NULL)"
    ) == ["a+b%2Fc%3F", "a b/c?", None]
    with pytest.raises(spintrail.SqlError, match="url_decode"):
        session.sql("SELECT url_decode('%zz')")


# --- arrays and maps ---------------------------------------------------------------------------


def test_element_at_arrays_and_maps(session: spintrail.Session) -> None:
    assert row(
        session,
        "SELECT element_at(ARRAY['a', 'b', 'c'], 1), element_at(ARRAY['a', 'b', 'c'], -1), "
        "element_at(ARRAY['a'], 5), element_at(MAP(ARRAY['k'], ARRAY[1]), 'k'), "
        "element_at(MAP(ARRAY['k'], ARRAY[1]), 'missing')",
    ) == ["a", "c", None, 1, None]
    with pytest.raises(spintrail.SqlError, match="element_at: SQL array indices start at 1"):
        session.sql("SELECT element_at(ARRAY[1], 0)")


def test_split_to_map(session: spintrail.Session) -> None:
    assert row(
        session,
        "SELECT element_at(split_to_map('a=1&b=2', '&', '='), 'b'), "
        "cardinality(split_to_map('a=1&b=2&', '&', '=')), split_to_map(NULL, '&', '=')",
    ) == ["2", 2, None]
    with pytest.raises(spintrail.SqlError, match="split_to_map: duplicate key 'a'"):
        session.sql("SELECT split_to_map('a=1&a=2', '&', '=')")
    with pytest.raises(spintrail.SqlError, match="exactly once"):
        session.sql("SELECT split_to_map('a', '&', '=')")


def test_cardinality_contains_array_join(
    session: spintrail.Session, records: list[dict[str, Any]]
) -> None:
    got = session.sql(
        "SELECT eventid, cardinality(resources) AS n, "
        "contains(transform_free, 'x') AS c FROM (SELECT eventid, resources, "
        "ARRAY[eventname, eventsource] AS transform_free FROM cloudtrail_logs)"
    ).to_pylist()
    expected = {r["eventID"]: len(r["resources"]) if "resources" in r else None for r in records}
    assert {g["eventid"]: g["n"] for g in got} == expected
    assert all(g["c"] is False for g in got)
    assert row(
        session,
        "SELECT array_join(ARRAY['a', NULL, 'b'], '-'), contains(ARRAY[1, 2], 2), "
        "contains(ARRAY[1], NULL), cardinality(NULL)",
    ) == ["a-b", True, None, None]


# --- aggregates --------------------------------------------------------------------------------


def test_histogram_and_map_agg(session: spintrail.Session, records: list[dict[str, Any]]) -> None:
    hist = one(session, "SELECT histogram(eventsource) FROM cloudtrail_logs")
    assert dict(hist) == dict(Counter(r["eventSource"] for r in records))
    per_source = one(
        session,
        "SELECT map_agg(eventsource, n) FROM (SELECT eventsource, count(*) AS n "
        "FROM cloudtrail_logs GROUP BY 1)",
    )
    assert dict(per_source) == dict(Counter(r["eventSource"] for r in records))
    assert one(session, "SELECT histogram(eventname) FROM cloudtrail_logs WHERE false") is None
    assert dict(
        one(session, "SELECT map_agg(k, v) FROM (VALUES ('a', 1), (NULL, 2)) AS t(k, v)")
    ) == {"a": 1}


def test_max_by_min_by_with_n(session: spintrail.Session, records: list[dict[str, Any]]) -> None:
    ordered = sorted(records, key=lambda r: r["eventTime"])
    got = row(
        session,
        "SELECT max_by(eventtime, eventtime, 3), min_by(eventtime, eventtime, 2), "
        "max_by(eventtime, eventtime) FROM cloudtrail_logs",
    )
    assert got[0] == [r["eventTime"] for r in ordered[::-1][:3]]
    assert got[1] == [r["eventTime"] for r in ordered[:2]]
    assert got[2] == ordered[-1]["eventTime"]
    assert row(
        session,
        "SELECT max_by(x, y), max_by(x, y, 5) "
        "FROM (VALUES ('a', 1), ('b', NULL), ('c', 3)) AS t(x, y)",
    ) == ["c", ["c", "a"]]


def test_boolean_and_counting_aggregates(
    session: spintrail.Session, records: list[dict[str, Any]]
) -> None:
    got = row(
        session,
        "SELECT bool_or(errorcode IS NOT NULL), bool_and(eventtime IS NOT NULL), "
        "every(eventtime IS NOT NULL), count_if(errorcode IS NOT NULL), "
        "approx_distinct(eventname), arbitrary(eventversion) IS NOT NULL FROM cloudtrail_logs",
    )
    errors = sum("errorCode" in r for r in records)
    assert got[:4] == [errors > 0, True, True, errors]
    # approx_distinct is an estimate (HyperLogLog): within its documented 2.3% standard error.
    distinct = len({r["eventName"] for r in records})
    assert abs(got[4] - distinct) <= max(2, distinct * 0.07)
    assert got[5] is True


def test_approx_percentile(session: spintrail.Session) -> None:
    assert row(
        session,
        "SELECT approx_percentile(x, 0.5), approx_percentile(x, ARRAY[0.0, 1.0]) "
        "FROM (VALUES (1), (2), (4)) AS t(x)",
    ) == [2, [1, 4]]


# --- errors: one class per cause, no engine internals ------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        "levenshtein_distance2(eventname)",
        "transform(resources, r -> r.arn)",
        "approx_set(eventname)",
        "try(no_such_function(1))",
    ],
)
def test_unsupported_functions_raise_unsupported_function_error(
    session: spintrail.Session, call: str
) -> None:
    name = call.split("(")[0] if not call.startswith("try(") else "no_such_function"
    with pytest.raises(spintrail.UnsupportedFunctionError, match=name) as info:
        session.sql(f"SELECT {call} FROM cloudtrail_logs")
    assert_clean(str(info.value))


def test_unsupported_function_says_what_to_use(session: spintrail.Session) -> None:
    with pytest.raises(spintrail.UnsupportedFunctionError, match="use approx_distinct"):
        session.sql("SELECT approx_set(eventname) FROM cloudtrail_logs")
    with pytest.raises(
        spintrail.UnsupportedFunctionError, match=r"did you mean json_extract_scalar\?"
    ):
        session.sql("SELECT json_extract_scalr(requestparameters, '$.a') FROM cloudtrail_logs")


def test_no_unrelated_suggestion(session: spintrail.Session) -> None:
    with pytest.raises(spintrail.UnsupportedFunctionError) as info:
        session.sql("SELECT parse_durations('1d')")
    message = str(info.value)
    assert "parse_durations" in message
    assert "var_population" not in message
    assert_clean(message)


def test_field_access_on_json_text_shows_json_extract_scalar(session: spintrail.Session) -> None:
    with pytest.raises(spintrail.SqlError) as info:
        session.sql("SELECT requestParameters.bucketName FROM cloudtrail_logs")
    message = str(info.value)
    assert not isinstance(info.value, spintrail.UnsupportedFunctionError)
    assert "requestparameters holds JSON text" in message
    assert "json_extract_scalar(requestparameters, '$.bucketName')" in message
    assert_clean(message)
    with pytest.raises(spintrail.SqlError, match=r"'\$\.bucketname'.*case-sensitive"):
        session.sql("SELECT c.requestparameters.bucketname FROM cloudtrail_logs c")


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT lower(1)", "Unexpected parameters (bigint) for function lower"),
        (
            "SELECT json_extract_scalar(1, '$.a')",
            "Unexpected parameters (bigint, varchar) for function json_extract_scalar. "
            "Expected: json_extract_scalar(json, varchar json_path)",
        ),
        (
            "SELECT date_add('day', 'x', now())",
            "Unexpected parameters (varchar, varchar, timestamp(9) with time zone) for function "
            "date_add",
        ),
    ],
)
def test_wrong_argument_types_name_function_and_signature(
    session: spintrail.Session, sql: str, expected: str
) -> None:
    with pytest.raises(spintrail.SqlError) as info:
        session.sql(sql)
    assert not isinstance(info.value, spintrail.UnsupportedFunctionError)
    assert expected in str(info.value)
    assert_clean(str(info.value))


# --- JSON: json_array_get, json_array_contains, json_query, json_value ---------------------------


def test_json_array_get_and_contains(session: spintrail.Session) -> None:
    assert one(session, """SELECT json_array_get('["a", [3, 9], "c"]', 0)""") == '"a"'
    assert one(session, """SELECT json_array_get('["a", [3, 9], "c"]', 1)""") == "[3,9]"
    assert one(session, """SELECT json_array_get('["a", [3, 9], "c"]', -1)""") == '"c"'
    assert one(session, """SELECT json_array_get('["a", [3, 9], "c"]', 10)""") is None
    assert one(session, """SELECT json_array_get('{"a": 1}', 0)""") is None
    assert one(session, "SELECT json_array_get(NULL, 0)") is None
    assert row(
        session,
        """SELECT json_array_contains('[1, 2, 3]', 2), json_array_contains('[1, 2, 3]', 4),
                  json_array_contains('["x", true]', 'x'), json_array_contains('[1.5]', 1.5e0),
                  json_array_contains('["2"]', 2), json_array_contains('not json', 1),
                  json_array_contains('[true]', true)""",
    ) == [True, False, True, True, False, None, True]


def test_json_query_and_json_value(
    session: spintrail.Session, records: list[dict[str, Any]]
) -> None:
    doc = """'{"a": {"b": [10, {"c": "x"}], "n": null}, "list": [{"k": 1}, {"k": 2}]}'"""
    assert one(session, f"SELECT json_query({doc}, 'lax $.a.b')") == '[10,{"c":"x"}]'
    assert one(session, f"SELECT json_query({doc}, 'strict $.a.b[1]')") == '{"c":"x"}'
    assert one(session, f"SELECT json_value({doc}, 'lax $.a.b[1].c')") == "x"
    assert one(session, f"SELECT json_value({doc}, '$.a.b[0]')") == "10"
    # An object is not a scalar; a missing member is empty; several items are an error: NULL.
    assert one(session, f"SELECT json_value({doc}, 'lax $.a')") is None
    assert one(session, f"SELECT json_value({doc}, 'lax $.a.missing')") is None
    assert one(session, f"SELECT json_value({doc}, 'lax $.a.n')") is None
    assert one(session, f"SELECT json_value({doc}, 'lax $.list.k')") is None
    assert one(session, f"SELECT json_query({doc}, 'lax $.list[1]')") == '{"k":2}'
    assert one(session, "SELECT json_query('not json', 'lax $.a')") is None
    # On CloudTrail's JSON text columns, as people write it.
    got = session.sql(
        "SELECT eventid, json_value(requestparameters, 'lax $.roleArn') AS role, "
        "json_query(requestparameters, 'lax $.roleSessionName') AS session_name "
        "FROM cloudtrail_logs WHERE eventname = 'AssumeRole'"
    ).to_pylist()
    expected = {
        r["eventID"]: r.get("requestParameters") or {}
        for r in records
        if r["eventName"] == "AssumeRole"
    }
    assert any(expected.values())
    assert {g["eventid"]: g["role"] for g in got} == {
        k: v.get("roleArn") for k, v in expected.items()
    }
    assert {g["eventid"]: g["session_name"] for g in got} == {
        k: json.dumps(v["roleSessionName"]) if "roleSessionName" in v else None
        for k, v in expected.items()
    }
    with pytest.raises(spintrail.SqlError, match=r"json_query: the JSON path 'lax \$\.a\[\*\]'"):
        session.sql(f"SELECT json_query({doc}, 'lax $.a[*]')")


# --- varbinary and hashes ------------------------------------------------------------------------


def test_varbinary_and_hashes(session: spintrail.Session) -> None:
    import hashlib

    assert one(session, "SELECT to_utf8('abc')") == b"abc"
    assert one(session, "SELECT from_utf8(to_utf8('héllo'))") == "héllo"
    assert one(session, "SELECT from_utf8(from_hex('61ff62'))") == "a\ufffdb"
    assert one(session, "SELECT to_hex(to_utf8('abc'))") == "616263"
    assert one(session, "SELECT from_hex('4A6b')") == b"Jk"
    for name in ("md5", "sha1", "sha256", "sha512"):
        expected = hashlib.new(name, b"AssumeRole").hexdigest().upper()
        assert one(session, f"SELECT to_hex({name}(to_utf8('AssumeRole')))") == expected
    assert one(session, "SELECT md5(NULL)") is None
    with pytest.raises(spintrail.SqlError, match=r"md5\(to_utf8\(x\)\)") as info:
        session.sql("SELECT md5('abc')")
    assert "Unexpected parameters (varchar) for function md5" in str(info.value)
    with pytest.raises(spintrail.SqlError, match="for function to_hex"):
        session.sql("SELECT to_hex(255)")
    with pytest.raises(spintrail.SqlError, match="from_hex: invalid input length 3"):
        session.sql("SELECT from_hex('abc')").to_pylist()
    assert one(session, "SELECT try(from_hex('zz'))") is None


# --- collections ---------------------------------------------------------------------------------


def test_sequence(session: spintrail.Session) -> None:
    assert one(session, "SELECT sequence(1, 5)") == [1, 2, 3, 4, 5]
    assert one(session, "SELECT sequence(5, 1)") == [5, 4, 3, 2, 1]
    assert one(session, "SELECT sequence(0, 10, 4)") == [0, 4, 8]
    days = one(session, "SELECT sequence(DATE '2024-02-27', DATE '2024-03-01')")
    assert [d.isoformat() for d in days] == [
        "2024-02-27",
        "2024-02-28",
        "2024-02-29",
        "2024-03-01",
    ]
    weekly = one(session, "SELECT sequence(DATE '2024-01-01', DATE '2024-01-20', INTERVAL '7' DAY)")
    assert [d.isoformat() for d in weekly] == ["2024-01-01", "2024-01-08", "2024-01-15"]
    monthly = one(
        session, "SELECT sequence(DATE '2024-01-31', DATE '2024-04-30', INTERVAL '1' MONTH)"
    )
    assert [d.isoformat() for d in monthly] == [
        "2024-01-31",
        "2024-02-29",
        "2024-03-31",
        "2024-04-30",
    ]
    hours = one(
        session,
        "SELECT sequence(from_iso8601_timestamp('2024-01-01T00:00:00Z'), "
        "from_iso8601_timestamp('2024-01-01T02:00:00Z'), INTERVAL '1' HOUR)",
    )
    assert hours == [utc(2024, 1, 1, h) for h in range(3)]
    assert one(session, "SELECT sequence(1, NULL)") is None
    with pytest.raises(spintrail.SqlError, match="step must not be zero"):
        session.sql("SELECT sequence(1, 5, 0)").to_pylist()
    with pytest.raises(spintrail.SqlError, match="stop value should be greater"):
        session.sql("SELECT sequence(1, 5, -1)").to_pylist()
    with pytest.raises(spintrail.SqlError, match="must not have more than 10000 entries"):
        session.sql("SELECT sequence(1, 20000)").to_pylist()
    with pytest.raises(spintrail.SqlError, match="must be a day interval"):
        session.sql(
            "SELECT sequence(DATE '2024-01-01', DATE '2024-01-02', INTERVAL '1' HOUR)"
        ).to_pylist()


def test_slice_and_maps(session: spintrail.Session) -> None:
    assert one(session, "SELECT slice(ARRAY[1, 2, 3, 4], 2, 2)") == [2, 3]
    assert one(session, "SELECT slice(ARRAY[1, 2, 3, 4], -2, 5)") == [3, 4]
    assert one(session, "SELECT slice(ARRAY[1, 2, 3, 4], 5, 1)") == []
    with pytest.raises(spintrail.SqlError, match="SQL array indices start at 1"):
        session.sql("SELECT slice(ARRAY[1, 2], 0, 1)").to_pylist()
    entries = one(session, "SELECT map_from_entries(ARRAY[ROW('a', 1), ROW('b', 2)])")
    assert dict(entries) == {"a": 1, "b": 2}
    assert row(
        session,
        "SELECT cardinality(m), map_keys(m), map_values(m), element_at(m, 'b') "
        "FROM (SELECT map_from_entries(ARRAY[ROW('a', 1), ROW('b', 2)]) AS m)",
    ) == [2, ["a", "b"], [1, 2], 2]
    with pytest.raises(spintrail.SqlError, match=r"duplicate map keys \(a\)"):
        session.sql("SELECT map_from_entries(ARRAY[ROW('a', 1), ROW('a', 2)])").to_pylist()
    # Trino's array semantics where DataFusion's differ.
    assert row(
        session,
        "SELECT array_position(ARRAY['a', 'b'], 'c'), array_position(ARRAY['a', 'b'], 'b'), "
        "repeat('x', 3), array_remove(ARRAY[1, 2, 1], 1), array_sort(ARRAY[3, NULL, 1]), "
        "greatest(1, NULL, 3), least(2, 1)",
    ) == [0, 2, ["x", "x", "x"], [2], [1, 3, None], None, 1]


# --- strings, numbers, dates ---------------------------------------------------------------------


def test_string_functions(session: spintrail.Session) -> None:
    assert one(session, "SELECT split('a,b,c,d', ',', 2)") == ["a", "b,c,d"]
    assert one(session, "SELECT split('a,b,', ',')") == ["a", "b", ""]
    with pytest.raises(spintrail.SqlError, match="limit must be positive"):
        session.sql("SELECT split('a,b', ',', 0)").to_pylist()
    with pytest.raises(spintrail.SqlError, match="delimiter may not be the empty string"):
        session.sql("SELECT split('a,b', '')").to_pylist()
    assert row(
        session,
        "SELECT strpos('abcabc', 'c', 2), strpos('abcabc', 'c', -2), strpos('abc', 'x', 1), "
        "strpos('äbc', 'c')",
    ) == [6, 3, 0, 3]
    with pytest.raises(spintrail.SqlError, match="'instance' must be a positive or negative"):
        session.sql("SELECT strpos('abc', 'a', 0)").to_pylist()
    assert row(
        session,
        "SELECT hamming_distance('abcde', 'abxdy'), levenshtein_distance('kitten', 'sitting')",
    ) == [2, 3]
    with pytest.raises(spintrail.SqlError, match="same length"):
        session.sql("SELECT hamming_distance('ab', 'abc')").to_pylist()
    assert one(session, "SELECT format('%s made %d calls (%.2f%%)', 'alice', 42, 12.3456e0)") == (
        "alice made 42 calls (12.35%)"
    )
    assert (
        one(session, "SELECT format('%05d|%-4s|%,d', 42, 'ab', 1234567)") == "00042|ab  |1,234,567"
    )
    with pytest.raises(spintrail.SqlError, match="format"):
        session.sql("SELECT format('%d', 'x')").to_pylist()


def test_numeric_functions(session: spintrail.Session) -> None:
    assert row(
        session,
        "SELECT ceiling(1.2e0), sign(-3), sign(0), sign(2.5e0), truncate(1.7e0), truncate(-1.7e0)",
    ) == [2.0, -1, 0, 1.0, 1.0, -1.0]
    with pytest.raises(spintrail.SqlError, match="ln\\(x\\) or log10\\(x\\)"):
        session.sql("SELECT log(100)")


def test_date_fields_and_last_day(session: spintrail.Session) -> None:
    assert row(
        session,
        "SELECT last_day_of_month(DATE '2024-02-10'), last_day_of_month(DATE '2023-02-10'), "
        "year_of_week(DATE '2021-01-01'), yow(DATE '2021-01-04'), week(DATE '2021-01-01'), "
        "week_of_year(DATE '2021-01-04'), day_of_week(DATE '2024-01-07'), doy(DATE '2024-12-31')",
    ) == [
        datetime(2024, 2, 29).date(),
        datetime(2023, 2, 28).date(),
        2020,
        2021,
        53,
        1,
        7,
        366,
    ]
    assert one(session, "SELECT last_day_of_month(NULL)") is None


def test_timezone_fields(session: spintrail.Session) -> None:
    ts = "from_iso8601_timestamp('2024-01-15T12:00:00Z')"
    assert row(
        session,
        f"SELECT timezone_hour(at_timezone({ts}, 'Asia/Kolkata')), "
        f"timezone_minute(at_timezone({ts}, 'Asia/Kolkata')), "
        f"timezone_hour(at_timezone({ts}, 'America/New_York')), timezone_hour({ts}), "
        f"timezone_minute({ts})",
    ) == [5, 30, -5, 0, 0]


def test_session_clock_functions(session: spintrail.Session) -> None:
    before = datetime.now(timezone.utc).replace(tzinfo=None)
    local_ts, local_time, zone = row(
        session, "SELECT localtimestamp, localtime, current_timezone()"
    )
    after = datetime.now(timezone.utc).replace(tzinfo=None)
    assert before - timedelta(seconds=1) <= local_ts <= after + timedelta(seconds=1)
    assert local_ts.tzinfo is None
    assert zone == "UTC"
    assert abs(datetime.combine(local_ts.date(), local_time) - local_ts) < timedelta(seconds=5)
    assert one(session, "SELECT current_time IS NOT NULL")
    assert row(session, "SELECT typeof(localtimestamp), typeof(localtime)") == [
        "timestamp(3)",
        "time(3)",
    ]


def test_typeof_names_trino_types(session: spintrail.Session) -> None:
    assert row(
        session,
        "SELECT typeof(eventname), typeof(count(*)), typeof(1e0), typeof(true), "
        "typeof(from_iso8601_timestamp(eventtime)), typeof(split(eventname, 'e')), "
        "typeof(date_parse('2024-01-01', '%Y-%m-%d')), typeof(DATE '2024-01-01') "
        "FROM cloudtrail_logs GROUP BY eventname, eventtime LIMIT 1",
    ) == [
        "varchar",
        "bigint",
        "double",
        "boolean",
        "timestamp(3) with time zone",
        "array(varchar)",
        "timestamp(3)",
        "date",
    ]


def test_listagg(session: spintrail.Session, records: list[dict[str, Any]]) -> None:
    got = session.sql(
        "SELECT eventsource, listagg(eventname, ',') WITHIN GROUP (ORDER BY eventname) AS names "
        "FROM cloudtrail_logs GROUP BY eventsource"
    ).to_pylist()
    expected: dict[str, list[str]] = {}
    for r in records:
        expected.setdefault(r["eventSource"], []).append(r["eventName"])
    assert {g["eventsource"]: g["names"] for g in got} == {
        k: ",".join(sorted(v)) for k, v in expected.items()
    }


def test_parse_datetime_zone_names_and_offsets(session: spintrail.Session) -> None:
    assert row(
        session,
        "SELECT parse_datetime('2024-01-01 10:00 UTC', 'yyyy-MM-dd HH:mm z'), "
        "parse_datetime('2024-01-01 10:00 GMT', 'yyyy-MM-dd HH:mm z'), "
        "parse_datetime('2024-01-01 10:00 EST', 'yyyy-MM-dd HH:mm z'), "
        "parse_datetime('2024-01-01 10:00 -0700', 'yyyy-MM-dd HH:mm Z'), "
        "parse_datetime('2024-01-01 10:00 +00:00', 'yyyy-MM-dd HH:mm ZZ'), "
        "parse_datetime('2024-01-01 10:00 Z', 'yyyy-MM-dd HH:mm ZZ'), "
        "parse_datetime('2024-07-01 10:00 America/New_York', 'yyyy-MM-dd HH:mm ZZZ')",
    ) == [
        utc(2024, 1, 1, 10),
        utc(2024, 1, 1, 10),
        utc(2024, 1, 1, 15),
        utc(2024, 1, 1, 17),
        utc(2024, 1, 1, 10),
        utc(2024, 1, 1, 10),
        utc(2024, 7, 1, 14),
    ]
    with pytest.raises(spintrail.SqlError, match="malformed"):
        session.sql("SELECT parse_datetime('2024-01-01 Mars', 'yyyy-MM-dd z')").to_pylist()


# --- the allowlist: DataFusion-only names are refused as Athena refuses them ---------------------


@pytest.mark.parametrize(
    ("sql", "name", "instead"),
    [
        ("SELECT to_timestamp(eventtime) FROM cloudtrail_logs", "to_timestamp", "from_iso8601"),
        ("SELECT string_to_array(eventname, 'e')", "string_to_array", "split("),
        ("SELECT array_has(ARRAY[1], 1)", "array_has", "contains("),
        ("SELECT date_bin(INTERVAL '1' HOUR, now())", "date_bin", "date_trunc"),
        ("SELECT make_array(1, 2)", "make_array", "ARRAY["),
        ("SELECT array_length(ARRAY[1])", "array_length", "cardinality"),
        ("SELECT * FROM generate_series(1, 3)", "generate_series", "sequence"),
        ("SELECT arrow_typeof(1)", "arrow_typeof", "typeof"),
        ("SELECT btrim(' a ')", "btrim", "trim("),
    ],
)
def test_datafusion_only_functions_are_refused(
    session: spintrail.Session, sql: str, name: str, instead: str
) -> None:
    with pytest.raises(spintrail.UnsupportedFunctionError) as info:
        session.sql(sql)
    message = str(info.value)
    assert f"function {name} " in message
    assert "not an Athena (Trino) function" in message
    assert instead in message
    assert_clean(message)


def test_refusal_suggests_only_close_trino_names(session: spintrail.Session) -> None:
    with pytest.raises(spintrail.UnsupportedFunctionError, match=r"did you mean date_format\?"):
        session.sql("SELECT date_formt(now(), '%Y')")
    with pytest.raises(spintrail.UnsupportedFunctionError) as info:
        session.sql("SELECT initcap(eventname) FROM cloudtrail_logs")
    assert "did you mean" not in str(info.value)
    # Our own rewrites use DataFusion's functions internally: the check reads the SQL as written.
    assert one(session, "SELECT max_by(eventname, eventtime, 2) IS NOT NULL FROM cloudtrail_logs")


def test_reverse_and_version_as_in_trino(session: spintrail.Session) -> None:
    assert row(
        session, "SELECT reverse('abç'), reverse(ARRAY[1, 2, 3]), reverse(to_utf8('ab'))"
    ) == ["çba", [3, 2, 1], b"ba"]
    with pytest.raises(spintrail.UnsupportedFunctionError, match="version"):
        session.sql("SELECT version()")


# Trino's own substr cases: a negative start counts from the end, a start of 0 or before the
# string gives '' (DataFusion alone would follow the SQL standard and return the whole string).
SUBSTR_CASES = [
    ("substr('Quadratically', 5)", "ratically"),
    ("substr('Quadratically', 50)", ""),
    ("substr('Quadratically', -5)", "cally"),
    ("substr('Quadratically', -50)", ""),
    ("substr('Quadratically', 0)", ""),
    ("substr('Quadratically', 5, 6)", "ratica"),
    ("substr('Quadratically', 5, 50)", "ratically"),
    ("substr('Quadratically', 50, 10)", ""),
    ("substr('Quadratically', -5, 4)", "call"),
    ("substr('Quadratically', -5, 40)", "cally"),
    ("substr('Quadratically', -50, 4)", ""),
    ("substr('Quadratically', 0, 4)", ""),
    ("substr('Quadratically', 5, 0)", ""),
    ("substring('Quadratically' FROM -5)", "cally"),
    ("substring('Quadratically' FROM -5 FOR 4)", "call"),
    ("substring('Quadratically', -13)", "Quadratically"),
    ("substr('héllo wörld', -5)", "wörld"),
]


@pytest.mark.parametrize(("expr", "expected"), SUBSTR_CASES)
def test_substr_positions_as_in_trino(session: spintrail.Session, expr: str, expected: str) -> None:
    assert one(session, f"SELECT {expr}") == expected


def test_substr_null_rules_and_columns(
    session: spintrail.Session, records: list[dict[str, Any]]
) -> None:
    assert row(
        session,
        "SELECT substr(CAST(NULL AS varchar), -2), substr('abc', CAST(NULL AS bigint)), "
        "substr('abc', -2, CAST(NULL AS bigint))",
    ) == [None, None, None]
    got = session.sql(
        "SELECT eventid, substr(eventname, -4) AS tail FROM cloudtrail_logs"
    ).to_pylist()
    expected = {
        r["eventID"]: r["eventName"][-4:] if len(r["eventName"]) >= 4 else "" for r in records
    }
    assert {g["eventid"]: g["tail"] for g in got} == expected
