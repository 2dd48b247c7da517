"""Logs Insights on CloudWatch Logs itself: where a trail also delivers to a log group
(``spintrail provision --log-group``), run Logs Insights queries there and get typed
``pyarrow.Table`` results.

Create a session with ``spintrail.connect(engine="cloudwatch", log_group="...")``. The query
text goes to CloudWatch Logs as written (StartQuery, GetQueryResults polled with backoff,
StopQuery when the caller gives up: Ctrl-C, a cancelled ``insights_async`` task, ``timeout``).

**Time range.** Logs Insights needs both ends: ``end`` defaults to now and ``start`` to one
hour before ``end``. Either is a ``datetime`` (naive means UTC), a ``date`` (its midnight, UTC)
or ISO-8601 text such as ``2024-07-30T12:00:00Z``. StartQuery takes whole seconds, both ends
included; ``start`` is rounded down and ``end`` up, so the range sent covers the range asked
for (:attr:`InsightsInfo.start_time`/``end_time`` show what was sent).

**Result typing.** Logs Insights returns every value as text, and leaves a field out of a row
where it has no value. The table drops ``@ptr``, keeps the column order of the first row (fields
first seen in later rows follow), and has NULL where a row lacks a field. A column is typed by
its non-null values:

- ``int64`` when every value is an integer that fits in 64 bits, written without ``+`` and
  without leading zeros (account ids like ``012345678901`` stay text);
- ``float64`` when every value is such an integer or a finite decimal number (``2.5``, ``1e3``);
- ``timestamp[ms, tz=UTC]`` when every value has Logs Insights' own time form
  ``YYYY-MM-DD HH:MM:SS.mmm`` (``@timestamp``, ``bin(...)``);
- ``string`` otherwise, and for a column with no non-null value. An empty string is a value.

The types follow the values: on other data the same query can type a column differently, and a
version string such as ``1.10`` reads as the number 1.1 when every value in its column is a
number. An empty result is a table with no columns.

Every result carries its own query id and statistics in its schema metadata (``spintrail.*``
keys: ``engine`` = ``cloudwatch``, ``query_id``, ``bytes_scanned``, ``records_scanned``,
``records_matched``); :attr:`CloudWatchSession.last_query` shows the most recent query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, NoReturn

import pyarrow as pa

from spintrail import _internal
from spintrail.errors import InvalidArgumentError
from spintrail.insights import utc_instant

#: A time bound: a datetime (naive means UTC), a date (midnight UTC), ISO-8601 text, or None.
TimeBound = datetime | date | str | None
ProgressCallback = Callable[[dict[str, Any]], None]


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


@dataclass(frozen=True)
class InsightsInfo:
    """What one Logs Insights query did (GetQueryResults' status and statistics)."""

    query_id: str
    #: Complete for a result; Failed, Cancelled and Timeout end in an error instead.
    status: str
    #: The query text, as sent.
    query: str
    log_groups: tuple[str, ...]
    #: The time range sent to StartQuery (whole seconds, both included), in UTC.
    start_time: datetime
    end_time: datetime
    records_matched: int
    records_scanned: int
    #: Bytes of log events scanned (what Logs Insights bills).
    bytes_scanned: int
    rows: int

    @classmethod
    def _from_internal(cls, raw: _internal.InsightsInfo) -> InsightsInfo:
        return cls(
            query_id=raw.query_id,
            status=raw.status,
            query=raw.query,
            log_groups=tuple(raw.log_groups),
            start_time=_utc(raw.start_time),
            end_time=_utc(raw.end_time),
            records_matched=raw.records_matched,
            records_scanned=raw.records_scanned,
            bytes_scanned=raw.bytes_scanned,
            rows=raw.rows,
        )

    def summary(self) -> str:
        """One line for humans, e.g. for a CLI's stderr."""
        return (
            f"query {self.query_id}: {self.status}, scanned {self.records_scanned} records "
            f"({self.bytes_scanned / 1e6:.2f} MB), {self.records_matched} matched, "
            f"{self.rows} rows"
        )

    def metadata(self) -> dict[str, str]:
        """The information as the ``spintrail.*`` schema metadata every result table carries
        (the engine stamps the table itself; this is for tables you build yourself)."""
        return {
            "spintrail.engine": "cloudwatch",
            "spintrail.query_id": self.query_id,
            "spintrail.bytes_scanned": str(self.bytes_scanned),
            "spintrail.records_scanned": str(self.records_scanned),
            "spintrail.records_matched": str(self.records_matched),
        }


def _seconds(value: TimeBound, what: str) -> float | None:
    """A time bound as seconds since the epoch."""
    return None if value is None else utc_instant(value, what).timestamp()


def _log_groups(log_group: str | Sequence[str] | None) -> list[str]:
    if log_group is None:
        raise InvalidArgumentError(
            "engine='cloudwatch' needs log_group: the CloudWatch Logs log group the trail "
            "delivers to (or a list of up to 50)"
        )
    if isinstance(log_group, str):
        return [log_group]
    groups = list(log_group)
    if not all(isinstance(g, str) for g in groups):
        raise InvalidArgumentError("log_group must be a name, an ARN or a list of them")
    return groups


class CloudWatchSession:
    """Logs Insights queries on CloudWatch Logs log groups (``engine="cloudwatch"``).

    Waiting for CloudWatch Logs releases the GIL; Ctrl-C, cancelling an ``insights_async``
    task or the session's ``timeout`` stops the query (StopQuery).
    """

    engine: str = "cloudwatch"

    def __init__(self, inner: _internal.CloudWatchSession) -> None:
        self._inner = inner

    @property
    def log_groups(self) -> list[str]:
        return self._inner.log_groups

    @property
    def region(self) -> str:
        return self._inner.region

    @property
    def timeout(self) -> float | None:
        return self._inner.timeout

    def insights(
        self,
        query: str,
        start: TimeBound = None,
        end: TimeBound = None,
        *,
        progress: ProgressCallback | None = None,
    ) -> pa.Table:
        """Runs a Logs Insights query over ``start``..``end`` (both included; ``end`` defaults
        to now, ``start`` to an hour before ``end``) and returns its typed result.

        ``progress`` is called on every poll with ``query_id``, ``status`` (Scheduled,
        Running, Complete, ...), ``elapsed`` (seconds), ``records_matched``,
        ``records_scanned`` and ``bytes_scanned``.
        """
        return pa.table(
            self._inner.insights(
                query, _seconds(start, "start"), _seconds(end, "end"), progress=progress
            )
        )

    async def insights_async(
        self,
        query: str,
        start: TimeBound = None,
        end: TimeBound = None,
        *,
        progress: ProgressCallback | None = None,
    ) -> pa.Table:
        """Like :meth:`insights`, awaitable; cancelling the task stops the query. ``progress``
        is called from a worker thread, not the event loop's."""
        return pa.table(
            await self._inner.insights_async(
                query, _seconds(start, "start"), _seconds(end, "end"), progress=progress
            )
        )

    def sql(self, query: str, params: Any = None) -> NoReturn:
        """Not available: CloudWatch Logs runs Logs Insights queries, not SQL."""
        raise InvalidArgumentError(
            "CloudWatch Logs runs Logs Insights queries, not SQL: use "
            "session.insights('fields @timestamp, eventName | limit 20'), or "
            "engine='local'/'athena' for SQL"
        )

    @property
    def last_query(self) -> InsightsInfo | None:
        """Query id, status and statistics of the last query."""
        raw = self._inner.last_query()
        return None if raw is None else InsightsInfo._from_internal(raw)

    def __repr__(self) -> str:
        return f"CloudWatchSession(log_groups={self.log_groups!r}, region={self.region!r})"


def connect_cloudwatch(
    *,
    log_group: str | Sequence[str] | None,
    region: str | None,
    endpoint_url: str | None,
    profile: str | None,
    timeout: float | None,
    max_attempts: int | None,
) -> CloudWatchSession:
    """Opens a CloudWatch Logs session (used by :func:`spintrail.connect`)."""
    inner = _internal.CloudWatchSession(
        _log_groups(log_group),
        region=region,
        endpoint_url=endpoint_url,
        profile=profile,
        timeout=timeout,
        max_attempts=max_attempts,
    )
    return CloudWatchSession(inner)
