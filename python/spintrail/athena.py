"""The distributed engine: the same queries on Amazon Athena, with typed ``pyarrow.Table`` results.

Create a session with ``spintrail.connect(engine="athena", ...)``. Results come back typed by
Athena's result metadata; how they travel is the ``fetch`` choice:

``"auto"`` (default)
    ``GetQueryResults`` pages for small results; the CSV result object Athena wrote to S3,
    read with parallel ranged GETs, from ``fast_fetch_bytes`` (1 MiB) up.
``"pages"`` / ``"csv"``
    One of the two, always.
``"unload"``
    ``UNLOAD ... WITH (format = 'PARQUET')``: the typed path, the only one that returns
    ``array``, ``map`` and ``row`` columns (as nested Arrow types). UNLOAD writes files in no
    order, so a query with a top-level ``ORDER BY`` is refused; sort the table afterwards.

Athena's text form of ``array``/``map``/``row`` values carries no element types. With
``fetch="auto"`` a result that has such columns is fetched again through UNLOAD (the query runs a
second time; ``last_query.fetch_note`` says so and what the first run cost). Where UNLOAD cannot
be used (a final ``ORDER BY``, not a SELECT) and with ``fetch="pages"``/``"csv"``, such columns
raise :class:`AthenaResultError` naming the column, rather than return ambiguous text; cast them
with ``CAST(col AS JSON)`` in the query (JSON columns come back as JSON text, Arrow's
``arrow.json`` extension type).

Cost before running: :meth:`AthenaSession.estimate` lists the S3 objects a query's partition
filters select (as Athena's partition projection does) and returns an :class:`Estimate`, without
starting anything. ``connect(engine="athena", max_cost=..., max_bytes=...)`` makes every query
estimated first and refused above the limit with :class:`~spintrail.CostLimitError`;
``sql(..., max_cost=...)`` sets a query's own limit (``None`` lifts it for that query).

Every result carries its own query id, bytes scanned, engine time and cost in the returned
table's schema metadata (``spintrail.*`` keys: ``engine``, ``query_id``, ``data_scanned_bytes``,
``engine_time_ms``, ``cost_usd``, ``fetch``), stamped by the engine from that query's result, so
concurrent queries never mix them up; :attr:`AthenaSession.last_query` shows the most recent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

import pyarrow as pa

from spintrail import _internal
from spintrail.errors import InvalidArgumentError, typed_reader
from spintrail.insights import TimeBound, run_insights

Fetch = Literal["auto", "pages", "csv", "unload"]
Params = Sequence[Any] | None
ProgressCallback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class QueryInfo:
    """What one Athena query did and cost."""

    query_id: str
    state: str
    #: DML, DDL or UTILITY.
    statement_type: str | None
    #: The statement sent to Athena (the UNLOAD wrapper with ``fetch="unload"``).
    sql: str
    workgroup: str | None
    output_location: str | None
    data_scanned_bytes: int
    engine_time_ms: int
    queue_time_ms: int
    total_time_ms: int
    reused_previous_result: bool
    #: Dollars at the session's ``price_per_tb``: bytes rounded up to a MB, 10 MB minimum when
    #: anything was scanned (Athena's billing rule).
    cost_usd: float
    #: How the result was fetched: ``pages``, ``csv`` or ``unload``.
    fetch: str
    #: What to know about the fetch: why ``auto`` paged when it could not read the result
    #: object, that it ran the query again as UNLOAD (with the first run's id and cost), or
    #: that UNLOAD wrote no files.
    fetch_note: str | None
    rows: int

    @classmethod
    def _from_internal(cls, raw: _internal.QueryInfo) -> QueryInfo:
        return cls(
            query_id=raw.query_id,
            state=raw.state,
            statement_type=raw.statement_type,
            sql=raw.sql,
            workgroup=raw.workgroup,
            output_location=raw.output_location,
            data_scanned_bytes=raw.data_scanned_bytes,
            engine_time_ms=raw.engine_time_ms,
            queue_time_ms=raw.queue_time_ms,
            total_time_ms=raw.total_time_ms,
            reused_previous_result=raw.reused_previous_result,
            cost_usd=raw.cost_usd,
            fetch=raw.fetch,
            fetch_note=raw.fetch_note,
            rows=raw.rows,
        )

    def summary(self) -> str:
        """One line for humans, e.g. for a CLI's stderr."""
        reused = ", reused a previous result" if self.reused_previous_result else ""
        text = (
            f"query {self.query_id}: {self.state}, scanned {self.data_scanned_bytes / 1e6:.2f} MB, "
            f"engine {self.engine_time_ms / 1000:.2f} s, cost ${self.cost_usd:.6f}, "
            f"{self.rows} rows by {self.fetch}{reused}"
        )
        if self.fetch_note:
            text += f" ({self.fetch_note})"
        return text

    def metadata(self) -> dict[str, str]:
        """The information as the ``spintrail.*`` schema metadata every result table carries
        (the engine stamps the table itself; this is for tables you build yourself)."""
        return {
            "spintrail.engine": "athena",
            "spintrail.query_id": self.query_id,
            "spintrail.data_scanned_bytes": str(self.data_scanned_bytes),
            "spintrail.engine_time_ms": str(self.engine_time_ms),
            "spintrail.cost_usd": repr(self.cost_usd),
            "spintrail.fetch": self.fetch,
        }


@dataclass(frozen=True)
class Estimate:
    """What an Athena query would scan and cost, found before it runs.

    Athena counts the stored (compressed) size of every object it reads and prunes only on
    partition columns (``day``, ``region``, ``account``): a filter on ``eventtime`` alone reads
    every projected day, and ``notes`` says so with the ``day`` filter that would narrow it.
    """

    #: Objects Athena would read.
    objects: int
    #: Their stored (compressed) bytes: Athena's "data scanned".
    bytes: int
    #: What Athena bills for ``bytes``: rounded up to a MB, at least 10 MB (0 for nothing).
    billed_bytes: int
    #: Dollars for ``billed_bytes`` at ``price_per_tb``.
    cost_usd: float
    #: Dollars for ``bytes`` without the rounding and the 10 MB minimum.
    raw_cost_usd: float
    price_per_tb: float
    #: The tables estimated (``database.table``), once per scan.
    tables: tuple[str, ...]
    #: Projected partitions the filters select.
    partitions: int
    #: S3 prefixes listed to find the objects.
    prefixes_listed: int
    #: The S3 prefixes whose objects are counted (the first 1,000).
    prefixes: tuple[str, ...]
    #: False when part of the query could not be estimated (see ``notes``).
    complete: bool
    #: True when a table was counted whole although the query may read less of it.
    upper_bound: bool
    notes: tuple[str, ...]
    _text: str = field(default="", repr=False, compare=False)

    @classmethod
    def _from_internal(cls, raw: _internal.Estimate) -> Estimate:
        return cls(
            objects=raw.objects,
            bytes=raw.bytes,
            billed_bytes=raw.billed_bytes,
            cost_usd=raw.cost_usd,
            raw_cost_usd=raw.raw_cost_usd,
            price_per_tb=raw.price_per_tb,
            tables=tuple(raw.tables),
            partitions=raw.partitions,
            prefixes_listed=raw.prefixes_listed,
            prefixes=tuple(raw.prefixes),
            complete=raw.complete,
            upper_bound=raw.upper_bound,
            notes=tuple(raw.notes),
            _text=str(raw),
        )

    def __str__(self) -> str:
        if self._text:
            return self._text
        return (
            f"Athena would scan {self.objects} objects, {self.bytes} bytes, "
            f"${self.cost_usd:.6f} billed at ${self.price_per_tb:.2f}/TB"
        )


class _SessionLimit(Enum):
    """The default of a query's ``max_cost``/``max_bytes``: the session's limit."""

    SESSION = "session"


SESSION_LIMIT = _SessionLimit.SESSION
Limit = float | int | None | _SessionLimit


def _cost_limit(value: float | int | None) -> float | None:
    if value is None or value == float("inf"):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(f"max_cost must be a number of dollars or None, not {value!r}")
    return float(value)


def _bytes_limit(value: float | int | None) -> int | None:
    if value is None or value == float("inf"):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InvalidArgumentError(
            f"max_bytes must be a number of bytes >= 0 or None, not {value!r}"
        )
    return int(value)


def param_list(params: Params) -> list[Any] | None:
    """Query parameters as the extension takes them (both engines)."""
    return None if params is None else list(params)


class AthenaSession:
    """A connection to the CloudTrail table on Amazon Athena (``engine="athena"``).

    It has the methods of the local :class:`~spintrail.Session`; waiting for Athena releases the
    GIL, and Ctrl-C or cancelling an ``sql_async`` task stops the query on Athena
    (StopQueryExecution). Query parameters (``?``) travel as Athena ExecutionParameters.
    """

    engine: str = "athena"

    def __init__(self, inner: _internal.AthenaSession) -> None:
        self._inner = inner

    @property
    def database(self) -> str:
        return self._inner.database

    @property
    def table(self) -> str:
        return self._inner.table

    @property
    def workgroup(self) -> str:
        return self._inner.workgroup

    @property
    def region(self) -> str:
        return self._inner.region

    def sql(
        self,
        query: str,
        params: Params = None,
        *,
        fetch: Fetch | None = None,
        progress: ProgressCallback | None = None,
        max_cost: Limit = SESSION_LIMIT,
        max_bytes: Limit = SESSION_LIMIT,
    ) -> pa.Table:
        """Runs a query on Athena and returns the whole result.

        ``progress`` is called on every poll with ``query_id``, ``state``, ``elapsed`` (seconds)
        and ``data_scanned_bytes``. ``fetch`` overrides the session's choice for this query.
        ``max_cost`` (dollars) / ``max_bytes`` replace the session's limits for this query
        (``None``: no limit); above them the query is refused before it starts with
        :class:`~spintrail.CostLimitError`.
        """
        limits = self._limits(max_cost, max_bytes)
        return pa.table(
            self._inner.sql(
                query, param_list(params), fetch=fetch, progress=progress, limits=limits
            )
        )

    async def sql_async(
        self,
        query: str,
        params: Params = None,
        *,
        fetch: Fetch | None = None,
        max_cost: Limit = SESSION_LIMIT,
        max_bytes: Limit = SESSION_LIMIT,
    ) -> pa.Table:
        """Like :meth:`sql`, awaitable; cancelling the task stops the query on Athena."""
        limits = self._limits(max_cost, max_bytes)
        return pa.table(
            await self._inner.sql_async(query, param_list(params), fetch=fetch, limits=limits)
        )

    def sql_stream(
        self,
        query: str,
        params: Params = None,
        *,
        fetch: Fetch | None = None,
        progress: ProgressCallback | None = None,
        max_cost: Limit = SESSION_LIMIT,
        max_bytes: Limit = SESSION_LIMIT,
    ) -> pa.RecordBatchReader:
        """Runs a query and yields its result batch by batch (page by page, or as the result
        object's ranges arrive)."""
        limits = self._limits(max_cost, max_bytes)
        return typed_reader(
            self._inner.sql_stream(
                query, param_list(params), fetch=fetch, progress=progress, limits=limits
            )
        )

    def _limits(self, max_cost: Limit, max_bytes: Limit) -> tuple[float | None, int | None] | None:
        """A query's own limits for the extension (each left out takes the session's), or None
        for the session's."""
        if max_cost is SESSION_LIMIT and max_bytes is SESSION_LIMIT:
            return None
        cost = self.max_cost if isinstance(max_cost, _SessionLimit) else _cost_limit(max_cost)
        size = self.max_bytes if isinstance(max_bytes, _SessionLimit) else _bytes_limit(max_bytes)
        return (cost, size)

    def estimate(self, query: str, params: Params = None) -> Estimate:
        """What ``query`` would scan and cost on Athena, found without running it: the table
        from Glue, its projected partitions that the query's partition filters select, and the
        S3 objects under them (listed). ``str()`` of the result is a readable summary."""
        return Estimate._from_internal(self._inner.estimate(query, param_list(params)))

    @property
    def max_cost(self) -> float | None:
        """The session's cost limit per query, in dollars (None: none)."""
        return self._inner.limits[0]

    @property
    def max_bytes(self) -> int | None:
        """The session's limit of bytes scanned per query (None: none)."""
        return self._inner.limits[1]

    @property
    def price_per_tb(self) -> float:
        return self._inner.price_per_tb

    def explain(self, query: str, params: Params = None) -> str:
        """Athena's plan for a query (``EXPLAIN``)."""
        return self._inner.explain(query, param_list(params))

    @property
    def last_query(self) -> QueryInfo | None:
        """Query id, bytes scanned, times, cost and fetch method of the last query (for a
        stream: rows as far as it has been read)."""
        raw = self._inner.last_query()
        return None if raw is None else QueryInfo._from_internal(raw)

    def __repr__(self) -> str:
        return (
            f"AthenaSession(table='{self.database}.{self.table}', workgroup={self.workgroup!r}, "
            f"region={self.region!r})"
        )

    def insights(self, query: str, start: TimeBound = None, end: TimeBound = None) -> pa.Table:
        """Runs a CloudWatch Logs Insights query on Athena (translated to SQL, see
        :mod:`spintrail.insights`); ``start``/``end`` bound the events' time and the ``day``
        partitions read."""
        return run_insights(self, query, start=start, end=end)


def connect_athena(
    *,
    database: str,
    table: str,
    workgroup: str,
    region: str | None,
    output_location: str | None,
    endpoint_url: str | None,
    profile: str | None,
    fetch: Fetch,
    timeout: float | None,
    result_reuse_minutes: int | None,
    fast_fetch_bytes: int | None,
    batch_size: int | None,
    price_per_tb: float | None,
    max_attempts: int | None,
    max_cost: float | None = None,
    max_bytes: int | None = None,
) -> AthenaSession:
    """Opens an Athena session (used by :func:`spintrail.connect`)."""
    inner = _internal.AthenaSession(
        database=database,
        table=table,
        workgroup=workgroup,
        region=region,
        output_location=output_location,
        endpoint_url=endpoint_url,
        profile=profile,
        timeout=timeout,
        result_reuse_minutes=result_reuse_minutes,
        fetch=fetch,
        fast_fetch_bytes=fast_fetch_bytes,
        batch_size=batch_size,
        price_per_tb=price_per_tb,
        max_attempts=max_attempts,
        max_cost=_cost_limit(max_cost),
        max_bytes=_bytes_limit(max_bytes),
    )
    return AthenaSession(inner)
