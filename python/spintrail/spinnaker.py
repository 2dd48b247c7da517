"""The Spinnaker query pack: what a Spinnaker operator asks of CloudTrail, as ready-made queries.

Which AWS APIs does Spinnaker call, where is it throttled, does Spinnaker or someone else use up
the account's API budget (EC2's request budget is shared by every caller in an account and
region), which pipelines cause it, and what rate limits should clouddriver be given? Each
question is a function that returns a :class:`Query`: Athena-dialect SQL plus its bound
parameters, which runs unchanged on the embedded engine and on Amazon Athena::

    from spintrail import spinnaker
    session = spintrail.connect("logs/")
    spinnaker.throttled_apis(start="2026-11-01", end="2026-11-02").run(session)
    print(spinnaker.suggest_service_limits(session, start="2026-11-01"))

Every query function takes the keyword arguments

``start``, ``end``
    The time window: ``datetime`` (naive means UTC), ``date`` (00:00 UTC of that day) or an
    ISO-8601 string; ``None`` leaves that side open. ``start`` is inclusive, ``end`` exclusive,
    so ``start=date(2026, 11, 1), end=date(2026, 11, 2)`` is all of 1 November. The bounds also
    filter the ``day`` partition column so that both engines skip other days' files.
``spinnaker``
    A :class:`Recognition`: how Spinnaker's calls are told apart from everyone else's.
``table``
    The CloudTrail table (default ``cloudtrail_logs``; ``"default"."cloudtrail_logs"`` works too).

Values that come from the caller (patterns, names, times) are bound as ``?`` parameters, never
pasted into the SQL text; Athena receives them as ExecutionParameters.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Protocol

import pyarrow as pa

from spintrail.errors import InvalidArgumentError

__all__ = [
    "ACCESS_DENIED_CODES",
    "BUCKETS",
    "DEFAULT",
    "SDK_CLIENTS",
    "THROTTLING_CODES",
    "Events",
    "Query",
    "Recognition",
    "ServiceLimitSuggestion",
    "SqlSession",
    "access_denied",
    "call_rates",
    "calls_over_time",
    "client_call_rates",
    "compare_windows",
    "failed_mutations",
    "headline",
    "hourly_heatmap",
    "pipeline_attribution",
    "spinnaker_share",
    "suggest_service_limits",
    "throttle_rate_by_api",
    "throttled_apis",
    "throttling_over_time",
    "window_events",
]

#: Error codes AWS services use for throttling, as they appear in CloudTrail's ``errorcode``
#: (EC2 prefixes its codes with ``Client.``; query-protocol services say ``Throttling``,
#: JSON-protocol services ``ThrottlingException`` or ``TooManyRequestsException``).
THROTTLING_CODES: tuple[str, ...] = (
    "Client.RequestLimitExceeded",
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "ThrottledException",
    "SlowDown",
)

#: Error codes of calls refused for lack of permission.
ACCESS_DENIED_CODES: tuple[str, ...] = (
    "AccessDenied",
    "AccessDeniedException",
    "Client.UnauthorizedOperation",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "Client.UnauthorizedAccess",
)

#: Time-bucket widths ``calls_over_time`` and ``throttling_over_time`` accept, in seconds.
BUCKETS: Mapping[str, int] = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400}

#: clouddriver's name for the AWS SDK (v1) client of each service Spinnaker's caching agents
#: poll: the key under ``serviceLimits.implementationLimits`` (clouddriver looks limits up by the
#: client interface's simple name). Classic ELB and ELBv2 are two interfaces with the same
#: simple name, so one key configures both limiters (each enforces the rate on its own).
SDK_CLIENTS: Mapping[str, str] = {
    "ec2.amazonaws.com": "AmazonEC2",
    "autoscaling.amazonaws.com": "AmazonAutoScaling",
    "elasticloadbalancing.amazonaws.com": "AmazonElasticLoadBalancing",
    "monitoring.amazonaws.com": "AmazonCloudWatch",
    "ecs.amazonaws.com": "AmazonECS",
    "application-autoscaling.amazonaws.com": "AWSApplicationAutoScaling",
    "cloudformation.amazonaws.com": "AmazonCloudFormation",
    "iam.amazonaws.com": "AmazonIdentityManagement",
    "secretsmanager.amazonaws.com": "AWSSecretsManager",
    "servicediscovery.amazonaws.com": "AWSServiceDiscovery",
}

#: CloudTrail delivers a file minutes after its events, into the folder of the delivery date,
#: so the ``day`` partitions searched reach this far past ``end`` (events near midnight).
DELIVERY_MARGIN = timedelta(days=1)

_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
_TABLE = re.compile(r'^(?:(?:"\w+"|\w+)\.){0,2}(?:"\w+"|\w+)$')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SqlSession(Protocol):
    """What a query needs of a session: the local :class:`~spintrail.Session` and
    :class:`~spintrail.AthenaSession` both have it."""

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pa.Table: ...


@dataclass(frozen=True)
class Query:
    """One ready-made question: SQL in Athena's dialect and the values of its ``?`` parameters."""

    title: str
    #: The operator's question, one sentence.
    question: str
    sql: str
    params: tuple[Any, ...]

    def run(self, session: SqlSession) -> pa.Table:
        """Runs the query on a local or Athena session and returns the result."""
        return session.sql(self.sql, list(self.params))

    def __str__(self) -> str:
        return self.sql


def _like_pattern(name: str, value: object) -> None:
    """Checks a LIKE pattern: ``%`` and ``_`` are wildcards, ``\\`` escapes them (the queries
    say ``ESCAPE '\\'``, so both engines read patterns the same way)."""
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(
            f"{name} must be a non-empty SQL LIKE pattern such as '%Spinnaker%', not {value!r}"
        )
    if len(value) > 256 or _CONTROL.search(value):
        raise InvalidArgumentError(
            f"{name}={value!r}: a pattern has at most 256 characters and no control characters"
        )
    escaped = False
    for char in value:
        if escaped:
            if char not in "%_\\":
                raise InvalidArgumentError(
                    f"{name}={value!r}: a backslash escapes only '%', '_' or '\\' "
                    "(write '\\\\' for a literal backslash)"
                )
            escaped = False
        elif char == "\\":
            escaped = True
    if escaped:
        raise InvalidArgumentError(
            f"{name}={value!r} ends with a lone backslash; write '\\\\' for a literal one"
        )


@dataclass(frozen=True)
class Recognition:
    """How Spinnaker's calls are recognised; a call is Spinnaker's when any criterion matches.

    ``role_pattern``
        SQL LIKE pattern (case-sensitive) on the name of the role the caller assumed:
        ``useridentity.sessioncontext.sessionissuer.username``, or the role in an assumed-role
        ARN when the record has no session issuer. The default matches ``SpinnakerManaged``,
        ``SpinnakerManagedRole``, ``DevSpinnakerManagedRole``, ``SpinnakerAuthRole``, ...
    ``session_name``
        Exact role-session name (clouddriver names its sessions ``Spinnaker``); ``None`` skips it.
    ``user_agent_pattern``
        SQL LIKE pattern on ``useragent`` (clouddriver's SDK clients add ``spinnaker``);
        ``None`` skips it.

    In patterns ``%`` matches any text, ``_`` one character and ``\\`` escapes either.
    """

    role_pattern: str = "%Spinnaker%"
    session_name: str | None = "Spinnaker"
    user_agent_pattern: str | None = "%spinnaker%"

    def __post_init__(self) -> None:
        _like_pattern("role_pattern", self.role_pattern)
        if self.session_name is not None and (
            not isinstance(self.session_name, str) or not _SESSION_NAME.match(self.session_name)
        ):
            raise InvalidArgumentError(
                f"session_name={self.session_name!r} is not an IAM role-session name "
                "(2-64 characters of letters, digits and +=,.@_-), or None to skip it"
            )
        if self.user_agent_pattern is not None:
            _like_pattern("user_agent_pattern", self.user_agent_pattern)


DEFAULT = Recognition()

TimeBound = datetime | date | str | None


@dataclass(frozen=True)
class Events:
    """A table holding :func:`window_events`' result, registered in a local session under
    ``name``: pass it as ``table=`` and a question reads those rows (already filtered to the
    window and marked as Spinnaker's or not) instead of the logs. Ask with the ``start``, ``end``
    and ``spinnaker`` the table was made with; other values are refused, not silently ignored.
    """

    name: str
    start: TimeBound = None
    end: TimeBound = None
    spinnaker: Recognition = DEFAULT


TableArg = str | Events


def _instant(name: str, value: object) -> datetime | None:
    if value is None:
        return None
    moment: datetime
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(), tzinfo=timezone.utc)
    elif isinstance(value, str):
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidArgumentError(
                f"{name}={value!r} is not an ISO-8601 time; give e.g. '2026-11-01', "
                "'2026-11-01T12:00:00Z', a datetime, a date or None"
            ) from None
    else:
        raise InvalidArgumentError(
            f"{name} must be a datetime, a date, an ISO-8601 string or None, "
            f"not {type(value).__name__}"
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _iso(moment: datetime) -> str:
    # Milliseconds at most: Trino's from_iso8601_timestamp keeps no more.
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


@dataclass(frozen=True)
class _Window:
    start: datetime | None
    end: datetime | None

    @staticmethod
    def of(start: object, end: object) -> _Window:
        first, last = _instant("start", start), _instant("end", end)
        if first is not None and last is not None and first > last:
            raise InvalidArgumentError(
                f"start ({_iso(first)}) is after end ({_iso(last)}); start must not be later"
            )
        return _Window(first, last)

    def describe(self) -> str:
        first = _iso(self.start) if self.start else "the first event"
        last = _iso(self.end) if self.end else "the last event"
        return f"{first} to {last}"


class _Binder:
    """Collects parameter values in the order their ``?`` appear in the text."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return "?"


def _table(table: object) -> str:
    if not isinstance(table, str) or not _TABLE.match(table):
        raise InvalidArgumentError(
            f"table={table!r} is not a table name; give e.g. 'cloudtrail_logs' or "
            '\'"default"."cloudtrail_logs"\''
        )
    return table


def _recognition(spinnaker: object) -> Recognition:
    if not isinstance(spinnaker, Recognition):
        raise InvalidArgumentError(
            f"spinnaker must be a spintrail.spinnaker.Recognition, not {type(spinnaker).__name__}"
        )
    return spinnaker


def _codes(codes: Sequence[str]) -> str:
    # Our own constants, not caller input: safe as literals.
    return ", ".join(f"'{code}'" for code in codes)


def _is_spinnaker(spinnaker: Recognition, bind: _Binder) -> str:
    # Every criterion is NOT NULL, so NOT is_spinnaker is exactly "someone else".
    role = (
        "coalesce(coalesce(useridentity.sessioncontext.sessionissuer.username, "
        "CASE WHEN useridentity.type = 'AssumedRole' "
        "THEN split_part(useridentity.arn, '/', 2) END) "
        f"LIKE {bind(spinnaker.role_pattern)} ESCAPE '\\', false)"
    )
    criteria = [role]
    if spinnaker.session_name is not None:
        criteria.append(
            "coalesce(useridentity.type = 'AssumedRole' "
            f"AND split_part(useridentity.arn, '/', 3) = {bind(spinnaker.session_name)}, false)"
        )
    if spinnaker.user_agent_pattern is not None:
        criteria.append(
            f"coalesce(useragent LIKE {bind(spinnaker.user_agent_pattern)} ESCAPE '\\', false)"
        )
    return "(" + "\n             OR ".join(criteria) + ")"


def _window_filter(window: _Window, bind: _Binder) -> str:
    """The WHERE clause selecting a window's events, pruning day folders as it goes."""
    conditions = []
    if window.start is not None:
        conditions.append(f"day >= {bind(window.start.strftime('%Y/%m/%d'))}")
        first = bind(_iso(window.start))
        conditions.append(f"from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp({first})")
    if window.end is not None:
        last_day = window.end - timedelta(microseconds=1) + DELIVERY_MARGIN
        conditions.append(f"day <= {bind(last_day.strftime('%Y/%m/%d'))}")
        after = bind(_iso(window.end))
        conditions.append(f"from_iso8601_timestamp(eventtime) < from_iso8601_timestamp({after})")
    return ("\n    WHERE " + "\n      AND ".join(conditions)) if conditions else ""


def _events_select(table: str, window: _Window, spinnaker: Recognition, bind: _Binder) -> str:
    """The window's events with the columns the questions use, each marked as Spinnaker's or
    not, as an error or not (an empty ``errorcode`` is none) and as throttled or not."""
    # Text is produced in reading order, so the parameters line up with their '?'.
    spin = _is_spinnaker(spinnaker, bind)
    where = _window_filter(window, bind)
    return f"""SELECT from_iso8601_timestamp(eventtime) AS event_ts,
           eventsource, eventname, awsregion, apiversion, errorcode, errormessage, readonly,
           useragent,
           recipientaccountid AS recipient_account,
           {spin} AS is_spinnaker,
           coalesce(errorcode <> '', false) AS is_error,
           coalesce(errorcode IN ({_codes(THROTTLING_CODES)}), false) AS is_throttled
    FROM {table}{where}"""


def _events(table: TableArg, window: _Window, spinnaker: Recognition, bind: _Binder) -> str:
    """The common first step of every question: the ``events`` of the window."""
    if isinstance(table, Events):
        made = (_Window.of(table.start, table.end), _recognition(table.spinnaker))
        if made != (window, spinnaker):
            raise InvalidArgumentError(
                f"table {table.name!r} holds the events of {made[0].describe()} as recognised "
                f"by {made[1]}; ask it with that start, end and spinnaker (or make another "
                "with window_events)"
            )
        return f"WITH events AS (\n    SELECT * FROM {_table(table.name)}\n)"
    return f"WITH events AS (\n    {_events_select(_table(table), window, spinnaker, bind)}\n)"


def window_events(
    *,
    start: TimeBound = None,
    end: TimeBound = None,
    spinnaker: Recognition = DEFAULT,
    table: str = "cloudtrail_logs",
) -> Query:
    """The window's events as every question sees them: the columns they read, each event
    marked as Spinnaker's or not, as an error and as throttled (the first step of each query).

    Read once and registered in a local session, it answers every question of this module
    about the same window without reading the logs again::

        q = window_events(start=..., end=...)
        session.register("recent", session.sql(q.sql, q.params))
        throttled_apis(start=..., end=..., table=Events("recent", start=..., end=...))

    :func:`spintrail.report` works this way on the embedded engine.
    """
    window = _Window.of(start, end)
    bind = _Binder()
    sql = _events_select(_table(table), window, _recognition(spinnaker), bind)
    return Query(
        title="The window's events",
        question="Which calls fall in the window, and which are Spinnaker's?",
        sql=sql,
        params=tuple(bind.values),
    )


def _bucket_seconds(bucket: object) -> int:
    if not isinstance(bucket, str) or bucket not in BUCKETS:
        raise InvalidArgumentError(
            f"bucket={bucket!r} is not a bucket width; use one of {', '.join(BUCKETS)}"
        )
    return BUCKETS[bucket]


def _limit(limit: object) -> str:
    if limit is None:
        return ""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidArgumentError(f"limit must be a positive whole number or None, not {limit!r}")
    return f"\nLIMIT {limit}"


_EXECUTION_ID = (
    "CASE WHEN regexp_like(useragent, 'spinnaker-executionId/') "
    "THEN regexp_extract(useragent, 'spinnaker-executionId/([^ ]+)', 1) END"
)
_USER = (
    "CASE WHEN regexp_like(useragent, 'spinnaker-user/') "
    "THEN regexp_extract(useragent, 'spinnaker-user/([^ ]+)', 1) END"
)


def _prepare(start: object, end: object, spinnaker: object, table: object) -> tuple[_Binder, str]:
    window = _Window.of(start, end)
    bind = _Binder()
    chosen = table if isinstance(table, Events) else _table(table)
    return bind, _events(chosen, window, _recognition(spinnaker), bind)


def calls_over_time(
    bucket: str = "5m",
    *,
    start: TimeBound = None,
    end: TimeBound = None,
    spinnaker: Recognition = DEFAULT,
    table: TableArg = "cloudtrail_logs",
) -> Query:
    """How many calls does Spinnaker make to each AWS service over time, and how many fail or
    are throttled?

    Columns: ``bucket_start`` (timestamp, UTC), ``eventsource``, ``calls``, ``errors``,
    ``throttled``; ``bucket`` is one of ``1m``, ``5m``, ``15m``, ``1h``, ``1d``.
    """
    seconds = _bucket_seconds(bucket)
    bind, events = _prepare(start, end, spinnaker, table)
    sql = f"""{events}
SELECT from_unixtime(floor(to_unixtime(event_ts) / {seconds}) * {seconds}) AS bucket_start,
       eventsource,
       count(*) AS calls,
       count_if(is_error) AS errors,
       count_if(is_throttled) AS throttled
FROM events
WHERE is_spinnaker
GROUP BY 1, 2
ORDER BY 1, 2"""
    return Query(
        title=f"Spinnaker's calls per service ({bucket} buckets)",
        question=(
            "How many calls does Spinnaker make to each AWS service over time, "
            "and how many fail or are throttled?"
        ),
        sql=sql,
        params=tuple(bind.values),
    )


def throttling_over_time(
    bucket: str = "5m",
    *,
    start: TimeBound = None,
    end: TimeBound = None,
    spinnaker: Recognition = DEFAULT,
    table: TableArg = "cloudtrail_logs",
) -> Query:
    """When is Spinnaker throttled, and what share of its calls does AWS refuse?

    Columns: ``bucket_start``, ``calls``, ``throttled``, ``throttle_rate`` (0..1).
    """
    seconds = _bucket_seconds(bucket)
    bind, events = _prepare(start, end, spinnaker, table)
    sql = f"""{events}
SELECT from_unixtime(floor(to_unixtime(event_ts) / {seconds}) * {seconds}) AS bucket_start,
       count(*) AS calls,
       count_if(is_throttled) AS throttled,
       CAST(count_if(is_throttled) AS double) / count(*) AS throttle_rate
FROM events
WHERE is_spinnaker
GROUP BY 1
ORDER BY 1"""
    return Query(
        title=f"Spinnaker's throttling over time ({bucket} buckets)",
        question="When is Spinnaker throttled, and what share of its calls does AWS refuse?",
        sql=sql,
        params=tuple(bind.values),
    )


def throttled_apis(
    *,
    start: TimeBound = None,
    end: TimeBound = None,
    spinnaker: Recognition = DEFAULT,
    table: TableArg = "cloudtrail_logs",
) -> Query:
    """Which APIs, in which regions, throttle Spinnaker most?

    Columns: ``eventsource``, ``eventname``, ``awsregion``, ``errorcode``, ``throttled``; most
    throttled first.
    """
    bind, events = _prepare(start, end, spinnaker, table)
    sql = f"""{events}
SELECT eventsource, eventname, awsregion, errorcode, count(*) AS throttled
FROM events
WHERE is_spinnaker AND is_throttled
GROUP BY 1, 2, 3, 4
ORDER BY 5 DESC, 1, 2, 3, 4"""
    return Query(
        title="APIs that throttle Spinnaker",
        question="Which APIs, in which regions, throttle Spinnaker most?",
        sql=sql,
        params=tuple(bind.values),
    )


def throttle_rate_by_api(
    *,
    start: TimeBound = None,
    end: TimeBound = None,
    spinnaker: Recognition = DEFAULT,
    table: TableArg = "cloudtrail_logs",
) -> Query:
    """For each API Spinnaker calls, what share of the calls is throttled?

    Columns: ``eventsource``, ``eventname``, ``calls``, ``throttled``, ``throttle_rate`` (0..1);
    most throttled first.
    """
    bind, events = _prepare(start, end, spinnaker, table)
    sql = f"""{events}
SELECT eventsource, eventname,
       count(*) AS calls,
       count_if(is_throttled) AS throttled,
       CAST(count_if(is_throttled) AS double) / count(*) AS throttle_rate
FROM events
WHERE is_spinnaker
GROUP BY 1, 2
ORDER BY 4 DESC, 3 DESC, 1, 2"""
    return Query(
        title="Throttle rate per API",
        question="For each API Spinnaker calls, what share of the calls is throttled?",
        sql=sql,
        params=tuple(bind.values),
    )


def spinnaker_share(
    *,
    start: TimeBound = None,
    end: TimeBound = None,
    spinnaker: Recognition = DEFAULT,
    table: TableArg = "cloudtrail_logs",
) -> Query:
    """Does Spinnaker or someone else use up each account's and region's API budget?

    All callers' calls per account (``recipientaccountid``), region and API. Columns:
    ``account``, ``awsregion``, ``eventsource``, ``eventname``, ``spinnaker_calls``,
    ``other_calls``, ``total_calls``, ``spinnaker_share`` (0..1); busiest first.
    """
    bind, events = _prepare(start, end, spinnaker, table)
    sql = f"""{events}
SELECT recipient_account AS account, awsregion, eventsource, eventname,
       count_if(is_spinnaker) AS spinnaker_calls,
       count_if(NOT is_spinnaker) AS other_calls,
       count(*) AS total_calls,
       CAST(count_if(is_spinnaker) AS double) / count(*) AS spinnaker_share
FROM events
GROUP BY 1, 2, 3, 4
ORDER BY 7 DESC, 1, 2, 3, 4"""
    return Query(
        title="Spinnaker's share of the API budget",
        question="Does Spinnaker or someone else use up each account's and region's API budget?",
        sql=sql,
        params=tuple(bind.values),
    )


def hourly_heatmap(
    *,
    start: TimeBound = None,
    end: TimeBound = None,
    spinnaker: Recognition = DEFAULT,
    table: TableArg = "cloudtrail_logs",
) -> Query:
    """At which hours does Spinnaker call which APIs, and where does throttling cluster?

    Columns: ``hour_start`` (timestamp truncated to the hour), ``api``
    (``<service>:<eventname>``, e.g. ``ec2:DescribeInstances``), ``calls``, ``throttled``.
    """
    bind, events = _prepare(start, end, spinnaker, table)
    sql = f"""{events}
SELECT date_trunc('hour', event_ts) AS hour_start,
       concat(split_part(eventsource, '.', 1), ':', eventname) AS api,
       count(*) AS calls,
       count_if(is_throttled) AS throttled
FROM events
WHERE is_spinnaker
GROUP BY 1, 2
ORDER BY 1, 2"""
    return Query(
        title="Spinnaker's calls per hour and API",
        question=(
            "At which hours does Spinnaker call which APIs, and where does throttling cluster?"
        ),
        sql=sql,
        params=tuple(bind.values),
    )


def pipeline_attribution(
    *,
    start: TimeBound = None,
    end: TimeBound = None,
    spinnaker: Recognition = DEFAULT,
    table: TableArg = "cloudtrail_logs",
) -> Query:
    """Which pipeline executions (and which users) cause Spinnaker's calls, and how much is
    background polling?

    The execution and user come from the user agent, which carries them when clouddriver runs
    with ``aws.client.addSpinnakerUserToUserAgent=true``. Columns: ``execution_id`` (NULL for
    calls outside any execution), ``kind`` (``pipeline`` or ``background``), ``user``,
    ``calls``, ``errors``, ``throttled``, ``first_seen``, ``last_seen``; most calls first.
    """
    bind, events = _prepare(start, end, spinnaker, table)
    sql = f"""{events},
attributed AS (
    SELECT {_EXECUTION_ID} AS execution_id,
           {_USER} AS spinnaker_user,
           event_ts, is_error, is_throttled
    FROM events
    WHERE is_spinnaker
)
SELECT execution_id,
       CASE WHEN execution_id IS NULL THEN 'background' ELSE 'pipeline' END AS kind,
       spinnaker_user AS "user",
       count(*) AS calls,
       count_if(is_error) AS errors,
       count_if(is_throttled) AS throttled,
       min(event_ts) AS first_seen,
       max(event_ts) AS last_seen
FROM attributed
GROUP BY execution_id, spinnaker_user
ORDER BY 4 DESC, 7, 1"""
    return Query(
        title="Spinnaker's calls per pipeline execution",
        question=(
            "Which pipeline executions (and which users) cause Spinnaker's calls, "
            "and how much is background polling?"
        ),
        sql=sql,
        params=tuple(bind.values),
    )


def _rates_sql(events: str, keys: Sequence[str], outputs: Sequence[str]) -> str:
    """Per-second call counts per key, then calls, peak and p95 per key: p95 is over the
    seconds with at least one call (a limiter matters only while calls are made)."""
    key_list = ", ".join(keys)
    positions = ", ".join(str(i + 1) for i in range(len(keys) + 1))
    selected = ", ".join(
        f"{key} AS {out}" if key != out else key for key, out in zip(keys, outputs, strict=True)
    )
    groups = ", ".join(str(i + 1) for i in range(len(keys)))
    return f"""{events},
per_second AS (
    SELECT {key_list}, floor(to_unixtime(event_ts)) AS epoch_second,
           count(*) AS n, count_if(is_throttled) AS throttled_n
    FROM events
    WHERE is_spinnaker
    GROUP BY {positions}
)
SELECT {selected},
       sum(n) AS calls,
       max(n) AS peak_per_second,
       approx_percentile(n, 0.95) AS p95_per_second,
       sum(throttled_n) AS throttled
FROM per_second
GROUP BY {groups}"""


def call_rates(
    *,
    start: TimeBound = None,
    end: TimeBound = None,
    spinnaker: Recognition = DEFAULT,
    table: TableArg = "cloudtrail_logs",
) -> Query:
    """How many calls per second does Spinnaker make to each API, at peak and at the 95th
    percentile, per account and region?

    Columns: ``account``, ``awsregion``, ``eventsource``, ``eventname``, ``calls``,
    ``peak_per_second``, ``p95_per_second`` (over the seconds with at least one call to the
    API), ``throttled``; highest peak first.
    """
    bind, events = _prepare(start, end, spinnaker, table)
    body = _rates_sql(
        events,
        ["recipient_account", "awsregion", "eventsource", "eventname"],
        ["account", "awsregion", "eventsource", "eventname"],
    )
    return Query(
        title="Spinnaker's calls per second per API",
        question=(
            "How many calls per second does Spinnaker make to each API, at peak and at the "
            "95th percentile, per account and region?"
        ),
        sql=body + "\nORDER BY 6 DESC, 1, 2, 3, 4",
        params=tuple(bind.values),
    )


def client_call_rates(
    *,
    start: TimeBound = None,
    end: TimeBound = None,
    spinnaker: Recognition = DEFAULT,
    table: TableArg = "cloudtrail_logs",
) -> Query:
    """How many calls per second does Spinnaker make through each AWS SDK client, per account
    and region?

    clouddriver rate-limits each SDK client (one per service and API version) per account and
    region, across all of that client's APIs; this measures the same unit. Columns:
    ``account``, ``awsregion``, ``eventsource``, ``apiversion`` (tells classic ELB from
    ELBv2), ``calls``, ``peak_per_second``, ``p95_per_second``, ``throttled``.
    """
    bind, events = _prepare(start, end, spinnaker, table)
    body = _rates_sql(
        events,
        ["recipient_account", "awsregion", "eventsource", "apiversion"],
        ["account", "awsregion", "eventsource", "apiversion"],
    )
    return Query(
        title="Spinnaker's calls per second per SDK client",
        question=(
            "How many calls per second does Spinnaker make through each AWS SDK client, "
            "per account and region?"
        ),
        sql=body + "\nORDER BY 6 DESC, 1, 2, 3, 4",
        params=tuple(bind.values),
    )


def _event_rows(events: str, condition: str, limit: str) -> str:
    return f"""{events}
SELECT event_ts AS eventtime, recipient_account AS account, awsregion, eventsource, eventname,
       errorcode, errormessage,
       {_EXECUTION_ID} AS execution_id,
       {_USER} AS "user"
FROM events
WHERE is_spinnaker AND {condition}
ORDER BY 1 DESC, 2, 3, 4, 5{limit}"""


def failed_mutations(
    *,
    start: TimeBound = None,
    end: TimeBound = None,
    spinnaker: Recognition = DEFAULT,
    table: TableArg = "cloudtrail_logs",
    limit: int | None = None,
) -> Query:
    """Which of Spinnaker's changes to AWS (calls that are not read-only) failed, and why?

    One row per call, newest first: ``eventtime`` (timestamp), ``account``, ``awsregion``,
    ``eventsource``, ``eventname``, ``errorcode``, ``errormessage``, ``execution_id``,
    ``user`` (NULL where the user agent does not say). ``limit`` caps the rows.
    """
    cap = _limit(limit)
    bind, events = _prepare(start, end, spinnaker, table)
    return Query(
        title="Spinnaker's failed changes",
        question="Which of Spinnaker's changes to AWS failed, and why?",
        sql=_event_rows(events, "readonly = 'false' AND is_error", cap),
        params=tuple(bind.values),
    )


def access_denied(
    *,
    start: TimeBound = None,
    end: TimeBound = None,
    spinnaker: Recognition = DEFAULT,
    table: TableArg = "cloudtrail_logs",
    limit: int | None = None,
) -> Query:
    """Which of Spinnaker's calls were refused for lack of permission (its IAM policy misses
    an action)?

    One row per call, newest first, with the columns of :func:`failed_mutations`; the codes
    are :data:`ACCESS_DENIED_CODES`.
    """
    cap = _limit(limit)
    bind, events = _prepare(start, end, spinnaker, table)
    return Query(
        title="Spinnaker's calls refused for lack of permission",
        question="Which of Spinnaker's calls were refused for lack of permission?",
        sql=_event_rows(events, f"errorcode IN ({_codes(ACCESS_DENIED_CODES)})", cap),
        params=tuple(bind.values),
    )


def headline(
    *,
    start: TimeBound = None,
    end: TimeBound = None,
    spinnaker: Recognition = DEFAULT,
    table: TableArg = "cloudtrail_logs",
) -> Query:
    """How many calls did Spinnaker make in the window, and how many failed or were throttled?

    One row: ``calls``, ``errors``, ``throttled``, ``throttle_rate`` (NULL without calls),
    ``first_event``, ``last_event``.
    """
    bind, events = _prepare(start, end, spinnaker, table)
    sql = f"""{events}
SELECT count(*) AS calls,
       count_if(is_error) AS errors,
       count_if(is_throttled) AS throttled,
       CASE WHEN count(*) = 0 THEN NULL
            ELSE CAST(count_if(is_throttled) AS double) / count(*) END AS throttle_rate,
       min(event_ts) AS first_event,
       max(event_ts) AS last_event
FROM events
WHERE is_spinnaker"""
    return Query(
        title="Spinnaker at a glance",
        question=(
            "How many calls did Spinnaker make in the window, "
            "and how many failed or were throttled?"
        ),
        sql=sql,
        params=tuple(bind.values),
    )


# --- comparing two windows -------------------------------------------------------------------

QueryFunction = Callable[..., Query]

#: The key columns of the questions whose results can be compared between windows.
_COMPARABLE: dict[str, tuple[str, ...]] = {
    "throttled_apis": ("eventsource", "eventname", "awsregion", "errorcode"),
    "throttle_rate_by_api": ("eventsource", "eventname"),
    "spinnaker_share": ("account", "awsregion", "eventsource", "eventname"),
    "pipeline_attribution": ("execution_id", "kind", "user"),
    "call_rates": ("account", "awsregion", "eventsource", "eventname"),
    "client_call_rates": ("account", "awsregion", "eventsource", "apiversion"),
    "headline": (),
}


def _window_arg(name: str, value: object) -> tuple[TimeBound, TimeBound]:
    if not isinstance(value, tuple) or len(value) != 2:
        raise InvalidArgumentError(f"{name} must be a (start, end) pair, not {value!r}")
    return value[0], value[1]


def compare_windows(
    query_fn: QueryFunction,
    session: SqlSession,
    before: tuple[TimeBound, TimeBound],
    after: tuple[TimeBound, TimeBound],
    **kwargs: Any,
) -> pa.Table:
    """Did a change help? The same question over two windows, side by side.

    Runs ``query_fn(start=..., end=..., **kwargs)`` for ``before`` and ``after`` (each a
    ``(start, end)`` pair) and joins the results on the question's key columns. For each
    numeric column ``m`` the table has ``before_m``, ``after_m`` and ``change_m`` (after minus
    before, NULL when either side is NULL); other columns (times) get ``before_``/``after_``
    only. A key found in one window only counts as 0 calls in the other: its whole-number
    columns (counts, calls per second) are 0 there, its ratios NULL. Rows follow the ``after``
    result, then keys seen only before. Counts depend on window length: compare windows of the
    same length, or compare the rates.

    Questions that can be compared: ``throttled_apis``, ``throttle_rate_by_api``,
    ``spinnaker_share``, ``pipeline_attribution``, ``call_rates``, ``client_call_rates``,
    ``headline``.
    """
    name = getattr(query_fn, "__name__", repr(query_fn))
    if _COMPARABLE.get(name) is None or globals().get(name) is not query_fn:
        raise InvalidArgumentError(
            f"compare_windows cannot compare {name}: give one of "
            f"{', '.join(_COMPARABLE)} from spintrail.spinnaker"
        )
    for taken in ("start", "end"):
        if taken in kwargs:
            raise InvalidArgumentError(
                f"compare_windows sets {taken} from before/after; do not pass {taken}="
            )
    keys = _COMPARABLE[name]
    windows = [_window_arg("before", before), _window_arg("after", after)]
    tables = [query_fn(start=s, end=e, **kwargs).run(session) for s, e in windows]
    return _side_by_side(tables[0], tables[1], keys)


def _side_by_side(before: pa.Table, after: pa.Table, keys: Sequence[str]) -> pa.Table:
    schema = after.schema
    measures = [f for f in schema if f.name not in keys]
    rows: dict[tuple[Any, ...], list[dict[str, Any] | None]] = {}
    for side, table in enumerate((after, before)):
        for row in table.to_pylist():
            key = tuple(row[k] for k in keys)
            rows.setdefault(key, [None, None])[side] = row

    def value(row: dict[str, Any] | None, field: pa.Field) -> Any:
        if row is not None:
            return row[field.name]
        # An absent key made no calls: counts are 0, ratios undefined.
        return 0 if pa.types.is_integer(field.type) else None

    columns: dict[str, pa.Array] = {}
    for k in keys:
        columns[k] = pa.array([key[keys.index(k)] for key in rows], schema.field(k).type)
    for field in measures:
        after_values = [value(pair[0], field) for pair in rows.values()]
        before_values = [value(pair[1], field) for pair in rows.values()]
        numeric = pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
        kind = pa.int64() if pa.types.is_integer(field.type) else field.type
        columns[f"before_{field.name}"] = pa.array(before_values, kind)
        columns[f"after_{field.name}"] = pa.array(after_values, kind)
        if numeric:
            columns[f"change_{field.name}"] = pa.array(
                [
                    None if a is None or b is None else a - b
                    for a, b in zip(after_values, before_values, strict=True)
                ],
                kind,
            )
    return pa.table(columns)


# --- suggested clouddriver rate limits ---------------------------------------------------------


@dataclass(frozen=True)
class ServiceLimitSuggestion:
    """Suggested clouddriver ``serviceLimits``.

    ``yaml`` is the block to paste into ``clouddriver-local.yml`` (its comments state the
    rule); ``basis`` the numbers it follows from, one row per account, region and SDK client
    (see :func:`suggest_service_limits`); ``api_rates`` the per-API rates (:func:`call_rates`)
    that show which APIs drive each client; ``notes`` one comment line per client and account
    with the numbers behind its value. ``str()`` gives the notes, then the YAML.
    """

    yaml: str
    basis: pa.Table
    api_rates: pa.Table
    notes: tuple[str, ...]
    headroom: float
    minimum: float
    window: str

    def __str__(self) -> str:
        return "".join(line + "\n" for line in self.notes) + self.yaml


def _rate_limit(p95: float, headroom: float, minimum: float) -> int:
    # The small epsilon keeps 2 x 1.5 at 3 rather than 4 after floating-point error.
    return max(math.ceil(minimum), math.ceil(p95 * headroom - 1e-9))


def _yaml_key(text: str) -> str:
    if re.fullmatch(r"[A-Za-z][\w-]*", text):
        return text
    return "'" + text.replace("'", "''") + "'"


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidArgumentError(f"{name} must be a positive number, not {value!r}")
    return float(value)


def suggest_service_limits(
    session: SqlSession,
    start: TimeBound = None,
    end: TimeBound = None,
    spinnaker: Recognition = DEFAULT,
    headroom: float = 1.5,
    *,
    minimum: float = 1.0,
    account_names: Mapping[str, str] | None = None,
    table: TableArg = "cloudtrail_logs",
) -> ServiceLimitSuggestion:
    """What rate limits should clouddriver use for each AWS client, judging by what Spinnaker
    actually called?

    clouddriver's limiter allows ``rateLimit`` requests per second per SDK client interface
    (``AmazonEC2``, ``AmazonElasticLoadBalancing``, ... see :data:`SDK_CLIENTS`), account and
    region, across all APIs of that client; it is configured per client and account with
    ``serviceLimits.implementationLimits.<client>.defaults.rateLimit`` and
    ``...implementationLimits.<client>.accountOverrides.<account>.rateLimit``. The rule:

    1. :func:`client_call_rates` counts Spinnaker's calls per second through each client
       (service and API version) per account and region, and takes the 95th percentile
       (``p95``) over the seconds in which that client made calls.
    2. Each such row of ``basis`` suggests ``max(ceil(minimum), ceil(p95 * headroom))`` whole
       requests per second (default ``max(1, ceil(p95 * 1.5))``).
    3. An account's limit for a client is the largest suggestion over its regions and API
       versions: one setting serves every region, and both ELB interfaces.
    4. ``defaults`` is the value most accounts need (ties: the larger); accounts that need
       another value get an ``accountOverrides`` entry.

    Services without a known clouddriver client (e.g. STS credential refreshes) stay in the
    basis without a suggestion and are named in a comment. Accounts are keyed by AWS account
    id, which is not what clouddriver calls them: map ids to clouddriver account names with
    ``account_names`` or edit the keys. What avoids throttling is a limit at or below the AWS
    service's own rate for the account and region minus what other callers use there (see
    :func:`spinnaker_share`); the notes say where AWS throttled Spinnaker.
    """
    factor = _positive("headroom", headroom)
    floor_ = _positive("minimum", minimum)
    names = dict(account_names or {})
    for account, name in names.items():
        if not isinstance(name, str) or not name or _CONTROL.search(name):
            raise InvalidArgumentError(
                f"account_names[{account!r}] must be a clouddriver account name, not {name!r}"
            )
    window = _Window.of(start, end)
    common: dict[str, Any] = {"start": start, "end": end, "spinnaker": spinnaker, "table": table}
    rates = client_call_rates(**common).run(session).to_pylist()
    api_rates = call_rates(**common).run(session)

    for row in rates:
        row["client"] = SDK_CLIENTS.get(row["eventsource"])
        row["suggested_rate_limit"] = (
            _rate_limit(float(row["p95_per_second"]), factor, floor_) if row["client"] else None
        )
    types = {
        "account": pa.string(),
        "awsregion": pa.string(),
        "eventsource": pa.string(),
        "apiversion": pa.string(),
        "client": pa.string(),
        "calls": pa.int64(),
        "throttled": pa.int64(),
        "peak_per_second": pa.int64(),
        "p95_per_second": pa.float64(),
        "suggested_rate_limit": pa.int64(),
    }
    basis = pa.table(
        {name: pa.array([r[name] for r in rates], kind) for name, kind in types.items()}
    )
    notes, text = _limits_yaml(basis.to_pylist(), names, factor, floor_, window)
    return ServiceLimitSuggestion(
        yaml=text,
        basis=basis,
        api_rates=api_rates,
        notes=tuple(notes),
        headroom=factor,
        minimum=floor_,
        window=window.describe(),
    )


def _limits_yaml(
    rows: list[dict[str, Any]],
    names: Mapping[str, str],
    headroom: float,
    minimum: float,
    window: _Window,
) -> tuple[list[str], str]:
    """The notes (numbers per client and account) and the YAML block."""
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    unmapped: Counter[str] = Counter()
    for row in rows:
        if row["client"] is None:
            unmapped[row["eventsource"]] += row["calls"]
        else:
            account = row["account"] or "unknown-account"
            groups.setdefault(row["client"], {}).setdefault(account, []).append(row)

    notes = [f"# Basis: Spinnaker's calls in CloudTrail from {window.describe()}."]
    limits: dict[str, dict[str, int]] = {}
    for client in sorted(groups):
        limits[client] = {}
        for account in sorted(groups[client]):
            group = groups[client][account]
            busiest = max(group, key=lambda r: (r["suggested_rate_limit"], r["calls"]))
            limits[client][account] = busiest["suggested_rate_limit"]
            throttled = sum(r["throttled"] for r in group)
            said = f", {throttled} throttled by AWS" if throttled else ""
            notes.append(
                f"# {client} in {account}: p95 {busiest['p95_per_second']:g}/s, peak "
                f"{busiest['peak_per_second']}/s in {busiest['awsregion']}; "
                f"{sum(r['calls'] for r in group)} calls{said} -> rateLimit "
                f"{busiest['suggested_rate_limit']}"
            )
    if unmapped:
        listed = ", ".join(f"{source} ({n} calls)" for source, n in sorted(unmapped.items()))
        notes.append(f"# No clouddriver client known, no suggestion: {listed}")

    lines = [
        "# Suggested clouddriver rate limits (requests per second per AWS SDK client, account",
        "# and region). Rule: rateLimit = max("
        f"{math.ceil(minimum)}, ceil(p95 x {headroom:g})), where p95 is the 95th percentile of",
        "# Spinnaker's calls per second through the client (over seconds with calls) in the",
        "# account's busiest region; defaults = the value most accounts need.",
    ]
    if names:
        lines.append("# Account keys: clouddriver account names mapped from AWS account ids.")
    else:
        lines.append(
            "# Account keys are AWS account ids: replace them with clouddriver account names."
        )
    if not limits:
        lines.append("# No Spinnaker calls through a known client in this window.")
        lines.append("serviceLimits: {}")
        return notes, "\n".join(lines) + "\n"
    lines += ["serviceLimits:", "  implementationLimits:"]
    for client, values in limits.items():
        tally = Counter(values.values())
        default = max(tally, key=lambda v: (tally[v], v))
        lines += [f"    {client}:", "      defaults:", f"        rateLimit: {default}"]
        overrides = sorted(
            (names.get(account, account), value)
            for account, value in values.items()
            if value != default
        )
        if overrides:
            lines.append("      accountOverrides:")
            for name, value in overrides:
                lines += [f"        {_yaml_key(name)}:", f"          rateLimit: {value}"]
    return notes, "\n".join(lines) + "\n"
