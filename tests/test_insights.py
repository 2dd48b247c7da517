"""CloudWatch Logs Insights queries (spintrail.insights) on the embedded engine, on Athena (moto)
and from the command line.

Expected answers are computed independently of the engine: plain Python over the JSON records
of the same gzip files. The queries under test are the Spinnaker set-up guide's query and the
CloudTrail sample queries of the CloudWatch Logs User Guide ("Sample queries", CloudTrail
section, docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-examples.html; the
first four also in awsdocs/amazon-cloudwatch-logs-user-guide doc_source/CWL_QuerySyntax-
examples.md @ 5bd7d24), verbatim.
"""

from __future__ import annotations

import copy
import gzip
import json
import math
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import spintrail
from conftest import CONFORMING, REAL
from moto_server import MotoServer, isolate_aws_env, moto_server
from spintrail.generate import generate
from spintrail.insights import DEFAULT_LIMIT, to_sql, translate

GUIDE = """stats count(*) by eventSource, eventName, awsRegion, errorCode
| filter userIdentity.sessionContext.sessionIssuer.userName like 'Spinnaker'
| filter errorCode like 'ThrottlingException'"""

# The CloudTrail sample queries of the CloudWatch Logs User Guide, as printed there.
SAMPLE_COUNTS = "stats count(*) by eventSource, eventName, awsRegion"
SAMPLE_START_STOP = (
    'filter (eventName="StartInstances" or eventName="StopInstances") and awsRegion="us-east-2"'
)
SAMPLE_CREATE_USER = """filter eventName="CreateUser"
    | fields awsRegion, requestParameters.userName, responseElements.user.arn"""
SAMPLE_UPDATE_TRAIL = """filter eventName="UpdateTrail" and ispresent(errorCode)
    | stats count(*) by errorCode, errorMessage"""
SAMPLE_TLS = """filter tlsDetails.tlsVersion in [ "TLSv1", "TLSv1.1" ]
| stats count(*) as numOutdatedTlsCalls by userIdentity.accountId, recipientAccountId, eventSource, eventName, awsRegion, tlsDetails.tlsVersion, tlsDetails.cipherSuite, userAgent
| sort eventSource, eventName, awsRegion, tlsDetails.tlsVersion"""  # noqa: E501
SAMPLE_TLS_BY_SERVICE = """filter tlsDetails.tlsVersion in [ "TLSv1", "TLSv1.1" ]
| stats count(*) as numOutdatedTlsCalls by eventSource
| sort numOutdatedTlsCalls desc"""

END = datetime(2024, 7, 31, tzinfo=timezone.utc)


# ---------------------------------------------------------------------------------------------
# The records, read without spintrail.


def load(folder: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in sorted(folder.rglob("*.json.gz")):
        if "CloudTrail-Digest" in path.parts:
            continue
        records += json.loads(gzip.decompress(path.read_bytes()))["Records"]
    return records


def get(record: dict[str, Any], path: str) -> Any:
    """A dotted path in a record; a number step indexes a list (Logs Insights' flattening)."""
    value: Any = record
    for step in path.split("."):
        if isinstance(value, list) and step.isdigit():
            value = value[int(step)] if int(step) < len(value) else None
        elif isinstance(value, dict):
            value = value.get(step)
        else:
            return None
    return value


def as_text(value: Any) -> str | None:
    # What json_extract_scalar gives for a JSON scalar: its text (objects and lists: none).
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def instant(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in table.to_pylist()]


# ---------------------------------------------------------------------------------------------
# Data: generated Spinnaker activity, and the real records plus derived ones.


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    generate(out, events=12_000, days=2, end=END, seed=5, events_per_file=500)
    return out


@pytest.fixture(scope="module")
def generated_records(generated: Path) -> list[dict[str, Any]]:
    return load(generated)


def derived_records() -> list[dict[str, Any]]:
    """Real records changed the way the sample queries need: the real files have no TLS 1.0/1.1
    call, no instance started or stopped in us-east-2 and no failed UpdateTrail."""
    stratus = json.loads(gzip.decompress((REAL / "stratus-red-team.json.gz").read_bytes()))
    out: list[dict[str, Any]] = []
    with_tls = [r for r in stratus["Records"] if r.get("tlsDetails")]
    for i, record in enumerate(with_tls[::9]):
        r = copy.deepcopy(record)
        r["eventID"] = f"derived-tls-{i}"
        r["tlsDetails"]["tlsVersion"] = "TLSv1" if i % 3 else "TLSv1.1"
        out.append(r)
    for i, record in enumerate(
        r for r in stratus["Records"] if r["eventName"] in ("StartInstances", "StopInstances")
    ):
        r = copy.deepcopy(record)
        r["eventID"] = f"derived-instances-{i}"
        r["awsRegion"] = "us-east-2"
        out.append(r)
    # UpdateTrail calls that failed (the real one succeeded).
    panther = json.loads(gzip.decompress((REAL / "panther-analysis.json.gz").read_bytes()))
    (update,) = [r for r in panther["Records"] if r["eventName"] == "UpdateTrail"]
    failures = [
        ("TrailNotFoundException", "Unknown trail: audit"),
        ("TrailNotFoundException", "Unknown trail: audit"),
        ("InsufficientS3BucketPolicyException", "Incorrect S3 bucket policy is detected"),
    ]
    for i, (code, message) in enumerate(failures):
        r = copy.deepcopy(update)
        r.update(eventID=f"derived-update-{i}", errorCode=code, errorMessage=message)
        out.append(r)
    return out


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real files in CloudTrail's layout, plus a file of derived records."""
    root = tmp_path_factory.mktemp("mixed")
    places = {
        "stratus-red-team.json.gz": "AWSLogs/111111111111/CloudTrail/us-east-1/2024/07/30",
        "panther-analysis.json.gz": "AWSLogs/111111111111/CloudTrail/eu-west-1/2024/07/31",
        "otrf-security-datasets.json.gz": "AWSLogs/222222222222/CloudTrail/us-east-1/2024/08/01",
    }
    for name, folder in places.items():
        (root / folder).mkdir(parents=True)
        shutil.copy(REAL / name, root / folder / name)
    folder = root / "AWSLogs/333333333333/CloudTrail/us-east-2/2024/07/31"
    folder.mkdir(parents=True)
    body = json.dumps({"Records": derived_records()}).encode()
    (folder / "derived.json.gz").write_bytes(gzip.compress(body))
    return root


@pytest.fixture(scope="module")
def mixed_records(mixed: Path) -> list[dict[str, Any]]:
    records = load(mixed)
    assert len(records) == sum(CONFORMING.values()) + len(derived_records())
    return records


# ---------------------------------------------------------------------------------------------
# The guide's query and the AWS sample queries, on the embedded engine.


def test_the_guides_query_counts_spinnakers_throttled_calls(
    generated: Path, generated_records: list[dict[str, Any]]
) -> None:
    expected = Counter(
        (r["eventSource"], r["eventName"], r["awsRegion"], r["errorCode"])
        for r in generated_records
        if "Spinnaker" in (get(r, "userIdentity.sessionContext.sessionIssuer.userName") or "")
        and "ThrottlingException" in (r.get("errorCode") or "")
    )
    assert expected, "the generated data has throttled Spinnaker calls"
    result = spintrail.connect(generated).insights(GUIDE)
    assert result.column_names == [
        "eventSource",
        "eventName",
        "awsRegion",
        "errorCode",
        "count(*)",
    ]
    assert {r[:4]: r[4] for r in rows(result)} == expected


def test_sample_counts_by_service_event_and_region(
    mixed: Path, mixed_records: list[dict[str, Any]]
) -> None:
    expected = Counter((r["eventSource"], r["eventName"], r["awsRegion"]) for r in mixed_records)
    result = spintrail.connect(mixed).insights(SAMPLE_COUNTS)
    assert result.column_names == ["eventSource", "eventName", "awsRegion", "count(*)"]
    assert {r[:3]: r[3] for r in rows(result)} == expected


def test_sample_instances_started_or_stopped_in_a_region(
    mixed: Path, mixed_records: list[dict[str, Any]]
) -> None:
    matching = [
        r
        for r in mixed_records
        if r["eventName"] in ("StartInstances", "StopInstances") and r["awsRegion"] == "us-east-2"
    ]
    assert matching
    result = spintrail.connect(mixed).insights(SAMPLE_START_STOP)
    # No fields: @timestamp and the event's fields, the newest first.
    assert result.column_names[:3] == ["@timestamp", "eventVersion", "userIdentity.type"]
    assert "userIdentity.sessionContext.sessionIssuer.userName" in result.column_names
    assert "tlsDetails.tlsVersion" in result.column_names
    assert sorted(result.column("eventID").to_pylist()) == sorted(r["eventID"] for r in matching)
    stamps = result.column("@timestamp").to_pylist()
    assert stamps == sorted(stamps, reverse=True)
    assert stamps[0] == max(instant(r) for r in matching)


def test_sample_new_iam_users(mixed: Path, mixed_records: list[dict[str, Any]]) -> None:
    expected = Counter(
        (
            r["awsRegion"],
            as_text(get(r, "requestParameters.userName")),
            as_text(get(r, "responseElements.user.arn")),
        )
        for r in mixed_records
        if r["eventName"] == "CreateUser"
    )
    assert sum(expected.values()) >= 5
    result = spintrail.connect(mixed).insights(SAMPLE_CREATE_USER)
    assert result.column_names == [
        "awsRegion",
        "requestParameters.userName",
        "responseElements.user.arn",
    ]
    assert Counter(rows(result)) == expected


def test_sample_update_trail_errors(mixed: Path, mixed_records: list[dict[str, Any]]) -> None:
    expected = Counter(
        (r["errorCode"], r.get("errorMessage"))
        for r in mixed_records
        if r["eventName"] == "UpdateTrail" and r.get("errorCode") is not None
    )
    assert expected
    result = spintrail.connect(mixed).insights(SAMPLE_UPDATE_TRAIL)
    assert result.column_names == ["errorCode", "errorMessage", "count(*)"]
    assert {r[:2]: r[2] for r in rows(result)} == expected


def test_sample_outdated_tls_calls(mixed: Path, mixed_records: list[dict[str, Any]]) -> None:
    keys = [
        "userIdentity.accountId",
        "recipientAccountId",
        "eventSource",
        "eventName",
        "awsRegion",
        "tlsDetails.tlsVersion",
        "tlsDetails.cipherSuite",
        "userAgent",
    ]
    expected = Counter(
        tuple(get(r, k) for k in keys)
        for r in mixed_records
        if get(r, "tlsDetails.tlsVersion") in ("TLSv1", "TLSv1.1")
    )
    assert len(expected) > 3
    result = spintrail.connect(mixed).insights(SAMPLE_TLS)
    assert result.column_names == [*keys, "numOutdatedTlsCalls"]
    got = rows(result)
    assert {r[:-1]: r[-1] for r in got} == expected
    order = [(r[2], r[3], r[4], r[5]) for r in got]
    assert order == sorted(order)


def test_sample_outdated_tls_calls_by_service(
    mixed: Path, mixed_records: list[dict[str, Any]]
) -> None:
    expected = Counter(
        r["eventSource"]
        for r in mixed_records
        if get(r, "tlsDetails.tlsVersion") in ("TLSv1", "TLSv1.1")
    )
    result = spintrail.connect(mixed).insights(SAMPLE_TLS_BY_SERVICE)
    assert result.column_names == ["eventSource", "numOutdatedTlsCalls"]
    assert dict(rows(result)) == expected
    counts = result.column("numOutdatedTlsCalls").to_pylist()
    assert counts == sorted(counts, reverse=True)


# ---------------------------------------------------------------------------------------------
# More of the language on the embedded engine.


def test_time_range_bounds_events_and_prunes_days(
    generated: Path, generated_records: list[dict[str, Any]]
) -> None:
    start = datetime(2024, 7, 30, 6, tzinfo=timezone.utc)
    end = "2024-07-30T18:00:00Z"
    high = datetime(2024, 7, 30, 18, tzinfo=timezone.utc)
    expected = sum(1 for r in generated_records if start <= instant(r) <= high)
    session = spintrail.connect(generated)
    result = session.insights("stats count(*) as n", start=start, end=end)
    assert result.to_pylist() == [{"n": expected}]
    stats = session.last_stats
    assert stats is not None and stats.files_pruned > 0, "days out of range are not read"


def test_default_limit_returns_the_newest_events(
    generated: Path, generated_records: list[dict[str, Any]]
) -> None:
    assert len(generated_records) > DEFAULT_LIMIT
    result = spintrail.connect(generated).insights("fields eventID, eventTime")
    assert result.num_rows == DEFAULT_LIMIT
    times = sorted((instant(r) for r in generated_records), reverse=True)
    cutoff = times[DEFAULT_LIMIT - 1]
    returned = set(result.column("eventID").to_pylist())
    assert all(r["eventID"] in returned for r in generated_records if instant(r) > cutoff), (
        "every event newer than the cut-off is in"
    )
    assert min(result.column("eventTime").to_pylist()) == cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_limit_and_sort(mixed: Path, mixed_records: list[dict[str, Any]]) -> None:
    result = spintrail.connect(mixed).insights(
        "fields eventTime, eventName | sort eventTime asc, eventName desc | limit 5"
    )
    by_name = sorted(((r["eventTime"], r["eventName"]) for r in mixed_records), key=lambda t: t[1])
    expected = sorted(reversed(by_name), key=lambda t: t[0])[:5]
    assert rows(result) == expected


def test_bins_of_five_minutes_and_of_an_hour(
    generated: Path, generated_records: list[dict[str, Any]]
) -> None:
    session = spintrail.connect(generated)

    def bucket(r: dict[str, Any], seconds: int) -> datetime:
        epoch = int(instant(r).timestamp())
        return datetime.fromtimestamp(epoch - epoch % seconds, timezone.utc)

    five = session.insights("stats count(*) by bin(5m)")
    assert five.column_names == ["bin(5m)", "count(*)"]
    assert dict(rows(five)) == Counter(bucket(r, 300) for r in generated_records)
    hourly = session.insights(
        "filter errorCode like 'Throttl' | stats count(*) as throttled by bin(1h) as hour "
        "| sort hour"
    )
    expected = Counter(
        bucket(r, 3600) for r in generated_records if "Throttl" in (r.get("errorCode") or "")
    )
    assert rows(hourly) == sorted(expected.items())


def test_filters_on_stats_results_and_on_events(
    mixed: Path, mixed_records: list[dict[str, Any]]
) -> None:
    result = spintrail.connect(mixed).insights(
        "stats count(*) as n, count_distinct(eventName) as names by eventSource "
        "| filter n >= 10 and eventSource != 'iam.amazonaws.com' | sort n desc, eventSource"
    )
    counts = Counter(r["eventSource"] for r in mixed_records)
    names: dict[str, set[str]] = {}
    for r in mixed_records:
        names.setdefault(r["eventSource"], set()).add(r["eventName"])
    expected = sorted(
        ((s, n, len(names[s])) for s, n in counts.items() if n >= 10 and s != "iam.amazonaws.com"),
        key=lambda t: (-t[1], t[0]),
    )
    assert [(r[0], r[1], r[2]) for r in rows(result)] == expected


def test_display_after_stats(mixed: Path, mixed_records: list[dict[str, Any]]) -> None:
    result = spintrail.connect(mixed).insights(
        "stats count(*) as n, count(errorCode) as errors by eventSource "
        "| display eventSource, errors | sort errors desc | limit 3"
    )
    assert result.column_names == ["eventSource", "errors"]
    errors = Counter(r["eventSource"] for r in mixed_records if r.get("errorCode") is not None)
    top = sorted(errors.values(), reverse=True)[:3]
    assert result.column("errors").to_pylist() == top
    assert all(errors[s] == e for s, e in rows(result))


def test_dedup_keeps_the_newest_and_every_missing_value(
    mixed: Path, mixed_records: list[dict[str, Any]]
) -> None:
    session = spintrail.connect(mixed)
    newest = session.insights(
        "fields eventName, eventTime | sort @timestamp desc | dedup eventName"
    )
    latest: dict[str, str] = {}
    for r in mixed_records:
        latest[r["eventName"]] = max(latest.get(r["eventName"], ""), r["eventTime"])
    assert dict(rows(newest)) == latest
    by_code = session.insights("fields errorCode | dedup errorCode")
    codes = [r.get("errorCode") for r in mixed_records]
    assert by_code.num_rows == len({c for c in codes if c is not None}) + codes.count(None)


def test_dedup_of_stats_results(mixed: Path, mixed_records: list[dict[str, Any]]) -> None:
    result = spintrail.connect(mixed).insights(
        "stats count(*) as n by eventSource, eventName | sort n desc | dedup eventSource"
    )
    counts = Counter((r["eventSource"], r["eventName"]) for r in mixed_records)
    top: dict[str, int] = {}
    for (source, _), n in counts.items():
        top[source] = max(top.get(source, 0), n)
    got = rows(result)
    assert {s: n for s, _, n in got} == top
    assert all(counts[(s, e)] == n for s, e, n in got)
    assert [n for _, _, n in got] == sorted(top.values(), reverse=True)


def test_regex_substring_and_lists(
    generated: Path, generated_records: list[dict[str, Any]]
) -> None:
    session = spintrail.connect(generated)

    def count(query: str) -> int:
        return int(session.insights(query + " | stats count(*) as n").column("n")[0].as_py())

    agents = [r.get("userAgent") or "" for r in generated_records]
    assert count("filter userAgent like /(?i)SPINNAKER/") == sum(
        1 for a in agents if re.search("(?i)SPINNAKER", a)
    )
    assert count("filter userAgent =~ /^aws-sdk-java/") == sum(
        1 for a in agents if a.startswith("aws-sdk-java")
    )
    present = [r["userAgent"] for r in generated_records if r.get("userAgent") is not None]
    assert count("filter userAgent not like 'spinnaker'") == sum(
        1 for a in present if "spinnaker" not in a
    )
    assert count("filter userAgent like 'SPINNAKER'") == sum(1 for a in agents if "SPINNAKER" in a)
    regions = Counter(r["awsRegion"] for r in generated_records)
    assert count('filter awsRegion in ["us-east-1", "nowhere"]') == regions["us-east-1"]
    assert count('filter awsRegion not in ["us-east-1"]') == len(agents) - regions["us-east-1"]
    assert count("filter not (awsRegion = 'us-east-1' or isempty(errorCode))") == sum(
        1 for r in generated_records if r["awsRegion"] != "us-east-1" and r.get("errorCode")
    )


def test_json_paths_numbers_and_aggregates(
    mixed: Path, mixed_records: list[dict[str, Any]]
) -> None:
    path = "additionalEventData.bytesTransferredIn"
    values = [float(v) for r in mixed_records if (v := as_text(get(r, path))) is not None]
    assert len(values) > 10
    result = (
        spintrail.connect(mixed)
        .insights(
            f"filter ispresent({path}) and {path} >= 0 "
            f"| stats count({path}) as n, sum({path}) as total, avg({path}) as mean, "
            f"max({path} + 0) as biggest, pct({path}, 50) as median, "
            f"sum({path}) / count(*) as ratio"
        )
        .to_pylist()[0]
    )
    assert result["n"] == len(values)
    assert math.isclose(result["total"], sum(values))
    assert math.isclose(result["mean"], sum(values) / len(values))
    assert math.isclose(result["ratio"], sum(values) / len(values))
    assert result["biggest"] == max(values)
    ranked = sorted(values)
    assert ranked[len(ranked) * 3 // 10] <= result["median"] <= ranked[len(ranked) * 7 // 10]


def test_nested_json_lists_and_resources(mixed: Path, mixed_records: list[dict[str, Any]]) -> None:
    session = spintrail.connect(mixed)
    instance = "requestParameters.instancesSet.items.0.instanceId"
    expected = Counter(v for r in mixed_records if (v := as_text(get(r, instance))) is not None)
    assert expected
    got = session.insights(f"filter ispresent({instance}) | stats count(*) by {instance}")
    assert dict(rows(got)) == expected
    # The table, like Athena's JSON SerDe, matches the record's keys case-insensitively (one
    # real record spells ARN "arn").
    firsts = [
        {k.lower(): v for k, v in r["resources"][0].items()}
        for r in mixed_records
        if r.get("resources")
    ]
    types = Counter(e.get("type") for e in firsts if e.get("arn") is not None)
    assert types
    got = session.insights("filter ispresent(resources.0.ARN) | stats count(*) by resources.0.type")
    assert dict(rows(got)) == types


def test_string_functions_and_times(mixed: Path) -> None:
    result = (
        spintrail.connect(mixed)
        .insights(
            "fields eventName, eventTime, concat(tolower(eventSource), ':', eventName) as api, "
            "substr(eventName, 0, 3) as head, strlen(eventName) as size, "
            "toMillis(@timestamp) as ms, eventSource | limit 50"
        )
        .to_pylist()
    )
    assert len(result) == 50
    for r in result:
        assert r["api"] == f"{r['eventSource'].lower()}:{r['eventName']}"
        assert r["head"] == r["eventName"][:3]
        assert r["size"] == len(r["eventName"])
        stamp = datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00"))
        assert r["ms"] == int(stamp.timestamp() * 1000)


def test_earliest_latest_and_time_comparisons(
    generated: Path, generated_records: list[dict[str, Any]]
) -> None:
    session = spintrail.connect(generated)
    first = min(instant(r) for r in generated_records)
    last = max(instant(r) for r in generated_records)
    got = session.insights(
        "stats earliest(eventName) as first, latest(eventName) as last, min(eventTime) as t0"
    ).to_pylist()[0]
    assert got["first"] in {r["eventName"] for r in generated_records if instant(r) == first}
    assert got["last"] in {r["eventName"] for r in generated_records if instant(r) == last}
    assert got["t0"] == first.strftime("%Y-%m-%dT%H:%M:%SZ")
    noon = datetime(2024, 7, 30, 12, tzinfo=timezone.utc)
    n = session.insights('filter @timestamp >= "2024-07-30T12:00:00Z" | stats count(*) as n')
    assert n.column("n")[0].as_py() == sum(1 for r in generated_records if instant(r) >= noon)


def test_fields_aliases_comments_and_backquotes(
    mixed: Path, mixed_records: list[dict[str, Any]]
) -> None:
    query = """# who uses which role
fields userIdentity.sessionContext.sessionIssuer.userName as role, `eventName`
| filter ispresent(role)   # only roles
| stats count(*) as calls by role
| sort calls desc, role
"""
    expected = Counter(
        v
        for r in mixed_records
        if (v := get(r, "userIdentity.sessionContext.sessionIssuer.userName")) is not None
    )
    got = spintrail.connect(mixed).insights(query)
    assert got.column_names == ["role", "calls"]
    assert rows(got) == sorted(expected.items(), key=lambda t: (-t[1], t[0]))


# ---------------------------------------------------------------------------------------------
# The translation itself.


def test_cloudtrail_names_map_to_the_tables_columns() -> None:
    sql, _ = to_sql(
        "fields userIdentity.sessionContext.sessionIssuer.userName, tlsDetails.tlsVersion, "
        "requestParameters.instanceType, responseElements.credentials.accessKeyId, @timestamp, "
        "USERIDENTITY.ARN, resources.1.ARN"
    )
    assert "useridentity.sessioncontext.sessionissuer.username AS" in sql
    assert "tlsdetails.tlsversion AS" in sql
    assert "json_extract_scalar(requestparameters, '$.instanceType') AS" in sql
    assert "json_extract_scalar(responseelements, '$.credentials.accessKeyId') AS" in sql
    assert "from_iso8601_timestamp(eventtime) AS" in sql
    assert "useridentity.arn AS" in sql
    assert "element_at(resources, 2).arn AS" in sql
    t = translate("fields USERIDENTITY.ARN, `requestParameters.items.0.odd-key`")
    assert t.columns == ("USERIDENTITY.ARN", "requestParameters.items.0.odd-key")
    assert "json_extract_scalar(requestparameters, '$.items[0][\"odd-key\"]')" in t.sql


def test_backquoted_and_odd_json_keys() -> None:
    sql, _ = to_sql("fields `requestParameters.x-amz-acl`, `additionalEventData.a'b`")
    assert """json_extract_scalar(requestparameters, '$["x-amz-acl"]')""" in sql
    assert """json_extract_scalar(additionaleventdata, '$["a''b"]')""" in sql


def test_values_are_bound_never_pasted() -> None:
    sql, params = to_sql(
        "filter eventName = \"O'Brien; DROP\" and userAgent like /x'y/ and awsRegion in ['a', 'b']"
        " and errorCode not like 'Thr' and requestParameters.maxResults > 100"
    )
    for value in ("O'Brien", "x'y", "Thr", "> 100"):
        assert value not in sql
    assert params == ["O'Brien; DROP", "x'y", "a", "b", "Thr", 100]
    assert sql.count("?") == len(params)
    assert "TRY_CAST(json_extract_scalar(requestparameters, '$.maxResults') AS DOUBLE) > ?" in sql


def test_guide_filters_apply_to_the_events() -> None:
    sql, params = to_sql(GUIDE)
    where = sql.split(" WHERE ", 1)[1].split(" GROUP BY ", 1)[0]
    assert "strpos(useridentity.sessioncontext.sessionissuer.username, ?) > 0" in where
    assert "strpos(errorcode, ?) > 0" in where
    assert "HAVING" not in sql
    assert params == ["Spinnaker", "ThrottlingException"]


def test_a_filter_on_a_stats_result_becomes_having() -> None:
    sql, params = to_sql(
        "stats count(*) as n, avg(additionalEventData.bytesTransferredIn) by eventName "
        "| filter n > 5 and eventName like 'Get' and avg(additionalEventData.bytesTransferredIn)"
        " < 10"
    )
    assert " WHERE (strpos(eventname, ?) > 0) GROUP BY 1 HAVING (count(*) > ?) AND" in sql
    assert params == ["Get", 5, 10]


def test_time_range_filters_eventtime_and_the_day_partition() -> None:
    sql, params = to_sql(
        "stats count(*)", start=datetime(2024, 7, 30, 23, 30), end="2024-08-02T00:10:00+02:00"
    )
    assert (
        "WHERE from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp(?) "
        'AND "day" >= ? AND from_iso8601_timestamp(eventtime) <= from_iso8601_timestamp(?) '
        'AND "day" <= ?' in sql
    )
    # Naive is UTC; the end's day partition reaches a day further (late deliveries).
    assert params == ["2024-07-30T23:30:00Z", "2024/07/30", "2024-08-01T22:10:00Z", "2024/08/02"]


def test_limits() -> None:
    assert to_sql("fields eventName")[0].endswith(f" LIMIT {DEFAULT_LIMIT}")
    assert to_sql("fields eventName | limit 25 | limit 7")[0].endswith(" LIMIT 7")
    assert to_sql("fields eventName | limit 50000")[0].endswith(" LIMIT 50000")
    assert "ORDER BY" not in to_sql("fields eventName | limit any 3")[0]
    assert "ORDER BY from_iso8601_timestamp(eventtime) DESC" in to_sql("fields eventName")[0]


def test_result_names_follow_logs_insights() -> None:
    t = translate(
        "stats count(*), count(), avg(additionalEventData.bytesTransferredIn) as mean, "
        "pct(additionalEventData.bytesTransferredIn, 95) by eventSource, bin(1h)"
    )
    assert t.columns == (
        "eventSource",
        "bin(1h)",
        "count(*)",
        "count()",
        "mean",
        "pct(additionalEventData.bytesTransferredIn, 95)",
    )
    # Aliases in the SQL are lower-case and unique (Athena lower-cases names).
    assert '"eventsource"' in t.sql and '"count(*)"' in t.sql and '"count()"' in t.sql
    t = translate("fields eventName, eventname")
    assert t.columns == ("eventName", "eventname")
    assert '"eventname_2"' in t.sql


def test_sort_by_an_aggregate_as_written() -> None:
    sql, _ = to_sql("stats count(*) by eventSource | sort count(*) desc")
    assert sql.endswith(' GROUP BY 1 ORDER BY "count(*)" DESC NULLS LAST LIMIT 10000')


@pytest.mark.parametrize(
    "pattern",
    ["(?i)^create", "(?<verb>Get|List)Bucket", "[(?=]x", "a{2,3}?b", "\\d+\\.\\d+", "(?s:a.b)"],
)
def test_regexes_both_engines_understand_are_accepted(
    pattern: str, mixed: Path, mixed_records: list[dict[str, Any]]
) -> None:
    query = f"filter eventName like /{pattern}/"
    sql, params = to_sql(query)
    assert "regexp_like(eventname, ?)" in sql
    assert params == [pattern]
    found = spintrail.connect(mixed).insights(query + " | stats count(*) as n")
    python = re.compile(pattern.replace("(?<", "(?P<"))
    expected = sum(1 for r in mixed_records if python.search(r["eventName"]))
    assert found.column("n").to_pylist() == [expected]


def test_bin_periods() -> None:
    assert (
        "date_trunc('hour', from_iso8601_timestamp(eventtime))"
        in to_sql("stats count(*) by bin(1h)")[0]
    )
    assert (
        "from_unixtime(floor(to_unixtime(from_iso8601_timestamp(eventtime)) / 300) * 300)"
        in (to_sql("stats count(*) by bin(5m)")[0])
    )
    assert "date_trunc('month'" in to_sql("stats count(*) by bin(1mo)")[0]
    assert "/ 172800) * 172800" in to_sql("stats count(*) by datefloor(@timestamp, 2d)")[0]


# ---------------------------------------------------------------------------------------------
# What is refused, and how.


@pytest.mark.parametrize(
    ("query", "construct"),
    [
        ('parse @message "* [*] *" as a, b, c', "parse"),
        ("fields eventName | pattern @message", "pattern"),
        ("stats count(*) by eventName | diff", "diff"),
        ("fields eventName | anomaly", "anomaly"),
        ("fields eventName | unmask(@message)", "unmask"),
        ("fields eventName | lookup users userName", "lookup"),
        ("fields eventName | join other on eventID", "join"),
        ("fields eventName | unnest resources", "unnest"),
        ("fields eventName | frobnicate", "frobnicate"),
    ],
)
def test_unsupported_commands_are_named(query: str, construct: str) -> None:
    with pytest.raises(spintrail.UnsupportedInsightsError) as err:
        to_sql(query)
    assert err.value.construct == construct
    assert construct in str(err.value)
    assert isinstance(err.value, spintrail.SqlError)


@pytest.mark.parametrize(
    ("query", "construct", "says"),
    [
        ("fields frob(eventName)", "frob", "unknown function frob()"),
        ("filter isValidIp(sourceIPAddress)", "isValidIp", "isValidIp() is not supported"),
        ("fields count(*)", "count", "stats function"),
        ("filter eventName like /(?=Create)/", "(?=", "lookaround"),
        ("filter eventName like /(Get)\\1/", "\\1", "backreference"),
        ("filter eventName =~ /a++/", "++", "possessive"),
        ("filter eventName like /(?U)a+/", "(?U)", "flag"),
        ("filter eventName like /a\\Z/", "\\Z", "escape"),
        ("filter @message like /denied/", "@message", "raw event text"),
        ("fields @logStream", "@logStream", "CloudWatch Logs field"),
        ("filter eventNmae = 'x'", "eventNmae", "did you mean eventName?"),
        (
            "fields userIdentity.sessionContext.sessionIssuer.nope",
            "userIdentity.sessionContext.sessionIssuer.nope",
            "not a field",
        ),
        ("fields userIdentity", "userIdentity", "not a value"),
        ("fields resources", "resources", "resources.0.ARN"),
        ("stats count(*) by bin(2mo)", "bin(2mo)", "one unit"),
        ("stats eventName", "eventName", "aggregate"),
        ("stats count(*) | stats count(*)", "stats", "second stats"),
        ("sort eventName | stats count(*)", "sort", "before stats"),
        ("limit 5 | filter eventName = 'x'", "filter", "after limit"),
        ("fields eventName | dedup eventName | sort eventName", "sort", "only limit"),
        ("stats count(*) as n | sort eventName", "eventName", "after stats"),
        (
            "stats count(*) as n by eventName | filter n > 5 or errorCode = 'x'",
            "errorCode",
            "not available after stats",
        ),
        ("fields trim(eventName, 'x')", "trim(text, characters)", "characters"),
    ],
)
def test_unsupported_constructs_are_named(query: str, construct: str, says: str) -> None:
    with pytest.raises(spintrail.UnsupportedInsightsError) as err:
        to_sql(query)
    assert construct in (err.value.construct, *str(err.value).split())
    assert says in str(err.value)


@pytest.mark.parametrize(
    ("query", "line", "column", "says"),
    [
        ("fields eventName\n| filter eventName = ", 2, 22, "the end of the query"),
        ("filter (eventName = 'x'", 1, 24, "expected ')'"),
        ("fields eventName |", 1, 19, "a command"),
        ("fields eventName\n\n  | filter eventName = 'x", 3, 24, "not closed"),
        ("stats count(*) by", 1, 18, "after by"),
        ("filter eventName = 'x' 'y'", 1, 24, "'|' or the end"),
        ("limit 0", 1, 7, "at least 1"),
        ("fields eventName | limit many", 1, 26, "whole number"),
        ("stats count(*) by bin(5 m)", 1, 25, "expected"),
        ("stats count(*) by bin(5x)", 1, 23, "time period"),
        ("filter eventName <> 'x'", 1, 19, "expected"),
        ("", 1, 1, "empty"),
        ("fields eventName\n| filter eventName like", 2, 24, "like"),
    ],
)
def test_syntax_errors_say_line_and_column(query: str, line: int, column: int, says: str) -> None:
    with pytest.raises(spintrail.InsightsSyntaxError) as err:
        to_sql(query)
    assert (err.value.line, err.value.column) == (line, column), str(err.value)
    assert str(err.value).startswith(f"line {line}, column {column}: ")
    assert says in str(err.value)
    assert isinstance(err.value, spintrail.SqlError)


def test_bad_time_range_is_refused() -> None:
    with pytest.raises(spintrail.InvalidArgumentError, match="ISO-8601"):
        to_sql("fields eventName", start="yesterday")
    with pytest.raises(spintrail.InvalidArgumentError, match="after end"):
        to_sql("fields eventName", start="2024-07-31", end="2024-07-30")


# ---------------------------------------------------------------------------------------------
# The command line.


def run_cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spintrail.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_prints_the_sql() -> None:
    out = run_cli(["insights", "--sql", "--start", "2024-07-30", GUIDE])
    assert out.returncode == 0, out.stderr
    sql, *comments = out.stdout.strip().splitlines()
    assert sql.startswith('SELECT eventsource AS "eventsource"')
    assert 'FROM "default"."cloudtrail_logs" WHERE' in sql
    assert "Spinnaker" not in sql
    assert comments == [
        "-- parameter 1: '2024-07-30T00:00:00Z'",
        "-- parameter 2: '2024/07/30'",
        "-- parameter 3: 'Spinnaker'",
        "-- parameter 4: 'ThrottlingException'",
    ]


def test_cli_runs_a_query_locally(mixed: Path, mixed_records: list[dict[str, Any]]) -> None:
    out = run_cli(
        [
            "insights",
            "--source",
            str(mixed),
            "--format",
            "json",
            SAMPLE_TLS_BY_SERVICE,
        ]
    )
    assert out.returncode == 0, out.stderr
    got = {r["eventSource"]: r["numOutdatedTlsCalls"] for r in json.loads(out.stdout)}
    assert got == Counter(
        r["eventSource"]
        for r in mixed_records
        if get(r, "tlsDetails.tlsVersion") in ("TLSv1", "TLSv1.1")
    )
    bad = run_cli(["insights", "--source", str(mixed), "fields x | parse @message 'a'"])
    assert bad.returncode == 2
    assert "parse" in bad.stderr and "line 1, column 12" in bad.stderr


# ---------------------------------------------------------------------------------------------
# Athena (moto: it accepts the query and returns a canned result).

REGION = "us-east-1"
ACCOUNT = "123456789012"
LAUNCHER = str(Path(__file__).with_name("athena_moto.py"))


@pytest.fixture()
def athena(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[MotoServer]:
    with moto_server(LAUNCHER) as server:
        isolate_aws_env(monkeypatch, tmp_path, REGION)
        server.client("s3", REGION).create_bucket(Bucket="athena-results")
        yield server


def test_athena_session_runs_the_translation(athena: MotoServer) -> None:
    # Athena returns lower-case column names; the session gives back Logs Insights' names.
    info = [
        {"Name": n, "Label": n, "Type": t, "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN"}
        for n, t in [("eventsource", "varchar"), ("numoutdatedtlscalls", "bigint")]
    ]
    data = [["eventsource", "numoutdatedtlscalls"], ["ec2.amazonaws.com", "7"]]
    athena.post_json(
        "/moto-api/static/athena/query-results",
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "results": [
                {
                    "rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in data],
                    "column_info": info,
                }
            ],
        },
    )
    session = spintrail.connect(
        engine="athena",
        endpoint_url=athena.url,
        workgroup="primary",
        output_location="s3://athena-results/insights/",
        max_attempts=2,
    )
    start = datetime(2024, 7, 30, tzinfo=timezone.utc)
    result = session.insights(SAMPLE_TLS_BY_SERVICE, start=start, end=start + timedelta(days=1))
    assert result.to_pylist() == [{"eventSource": "ec2.amazonaws.com", "numOutdatedTlsCalls": 7}]
    client = athena.client("athena", REGION)
    (execution_id,) = client.list_query_executions()["QueryExecutionIds"]
    execution = client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
    expected = translate(
        SAMPLE_TLS_BY_SERVICE,
        table='"default"."cloudtrail_logs"',
        start=start,
        end=start + timedelta(days=1),
    )
    assert execution["Query"] == expected.sql
    assert execution["ExecutionParameters"] == [
        "'2024-07-30T00:00:00Z'",
        "'2024/07/30'",
        "'2024-07-31T00:00:00Z'",
        "'2024/08/01'",
        "'TLSv1'",
        "'TLSv1.1'",
    ]
