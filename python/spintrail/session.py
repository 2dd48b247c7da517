"""Sessions: CloudTrail logs as the Athena table ``"default"."cloudtrail_logs"``, queried with
Athena's SQL dialect, results as ``pyarrow.Table`` (zero-copy through the Arrow C stream
interface).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, overload

import pyarrow as pa

from spintrail import _internal
from spintrail.athena import AthenaSession, Fetch, Params, connect_athena, param_list
from spintrail.cloudwatch import CloudWatchSession, connect_cloudwatch
from spintrail.errors import InvalidArgumentError, SourceError, typed_reader
from spintrail.insights import TimeBound, run_insights
from spintrail.verify import VerifyResult, verify

Source = str | os.PathLike[str]
OnError = Literal["raise", "skip"]
#: The table's partition columns: spintrail's (``account``, ``region``, ``day``), the Athena user
#: guide's partition-projection table (``timestamp``) or its manually partitioned table
#: (``region``, ``year``, ``month``, ``day``).
Partitions = Literal["spintrail", "aws-projection", "aws-manual"]


@dataclass(frozen=True)
class Problem:
    """A log file or record left out of a scan (with ``on_error="skip"``)."""

    path: str
    #: Index in the file's ``Records`` array; ``None`` when the whole file was left out.
    record: int | None
    reason: str

    def __str__(self) -> str:
        where = self.path if self.record is None else f"{self.path}: record {self.record}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class ScanStats:
    """What a query read: files, bytes, records, and what it rejected and why."""

    files_listed: int = 0
    files_pruned: int = 0
    files_read: int = 0
    files_skipped: int = 0
    files_excluded: int = 0
    bytes_read: int = 0
    json_bytes: int = 0
    records_read: int = 0
    records_rejected: int = 0
    rows: int = 0
    #: Spill files the query's operators wrote to stay within the session's memory limit.
    spill_files: int = 0
    #: Bytes written to those spill files (0 when everything fit in memory).
    spilled_bytes: int = 0
    #: Times the query started over: a hash join did not fit the memory limit, so the query ran
    #: again with sort-merge joins, which spill (the other figures are the last run's).
    reruns: int = 0
    problems: tuple[Problem, ...] = field(default_factory=tuple)
    #: What Athena would bill for the same scan: ``bytes_read`` (the files' stored, compressed
    #: sizes, which is what Athena counts as data scanned) rounded up to a MB, 10 MB minimum.
    athena_billed_bytes: int = 0
    #: The cost of ``athena_billed_bytes`` at Athena's default $5 per TB.
    athena_cost_usd: float = 0.0

    @classmethod
    def _from_internal(cls, raw: _internal.ScanStats) -> ScanStats:
        return cls(
            files_listed=raw.files_listed,
            files_pruned=raw.files_pruned,
            files_read=raw.files_read,
            files_skipped=raw.files_skipped,
            files_excluded=raw.files_excluded,
            bytes_read=raw.bytes_read,
            json_bytes=raw.json_bytes,
            records_read=raw.records_read,
            records_rejected=raw.records_rejected,
            rows=raw.rows,
            spill_files=raw.spill_files,
            spilled_bytes=raw.spilled_bytes,
            reruns=raw.reruns,
            problems=tuple(Problem(p, r, why) for p, r, why in raw.problems),
            athena_billed_bytes=raw.athena_billed_bytes,
            athena_cost_usd=raw.athena_cost_usd,
        )

    def summary(self) -> str:
        """One line for humans, e.g. for a CLI's stderr."""
        text = (
            f"{self.files_read} files ({self.bytes_read / 1e6:.1f} MB, "
            f"{self.json_bytes / 1e6:.1f} MB JSON), {self.records_read} records"
        )
        if self.files_pruned:
            text += f", {self.files_pruned} files pruned"
        if self.bytes_read:
            text += f"; on Athena ${self.athena_cost_usd:.6f}"
        if self.spilled_bytes:
            text += f", spilled {self.spilled_bytes / 1e6:.1f} MB to disk"
        if self.reruns:
            text += ", ran again with sort-merge joins to fit the memory limit"
        if self.records_rejected or self.files_skipped:
            text += (
                f"; skipped {self.files_skipped} files and "
                f"{self.records_rejected} records (see .problems)"
            )
        return text


def _sources(source: Source | Sequence[Source]) -> list[str]:
    if isinstance(source, str | os.PathLike):
        return [os.fspath(source)]
    items = [os.fspath(s) for s in source]
    if not items:
        raise InvalidArgumentError("no source given: pass a folder, a file or a glob")
    return items


class Session:
    """A connection to CloudTrail logs on one engine.

    Create it with :func:`spintrail.connect`. ``sql`` returns a ``pyarrow.Table``; use
    ``.to_pandas()`` or ``polars.from_arrow`` on it.
    """

    engine: str = "local"

    def __init__(
        self, inner: _internal.LocalSession, verification: VerifyResult | None = None
    ) -> None:
        self._inner = inner
        #: With ``connect(..., verified_only=True)``: the validation that chose the files read
        #: (``verification.excluded_logs()`` lists the log files left out).
        self.verification = verification

    @property
    def table(self) -> str:
        """The table name queries use (in schema :attr:`database`)."""
        return self._inner.table

    @property
    def database(self) -> str:
        return self._inner.database

    @property
    def sources(self) -> list[str]:
        return self._inner.sources

    @property
    def partitions(self) -> str:
        """The table's partition layout (see :func:`spintrail.connect`)."""
        return self._inner.partitions

    @property
    def memory_limit(self) -> int:
        """The memory limit in force, in bytes (see :func:`spintrail.connect`)."""
        return self._inner.memory_limit

    @property
    def spill_dir(self) -> str:
        """The folder spill files go to (inside it, a temporary folder of this session's)."""
        return self._inner.spill_dir

    def verify(
        self,
        start: TimeBound = None,
        end: TimeBound = None,
        public_keys: Sequence[Source] = (),
        region: str | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
    ) -> VerifyResult:
        """Validates the session's source folders against CloudTrail's signed digest files
        (see :func:`spintrail.verify.verify`); one result for all sources."""
        return VerifyResult._merge(
            [
                verify(
                    source,
                    start=start,
                    end=end,
                    public_keys=public_keys,
                    region=region,
                    endpoint_url=endpoint_url,
                    profile=profile,
                )
                for source in self.sources
            ]
        )

    def sql(self, query: str, params: Params = None) -> pa.Table:
        """Runs an Athena-dialect query and returns the whole result.

        ``params`` fill the query's ``?`` placeholders in order, as SQL literals (the same
        values Athena's ExecutionParameters take). The GIL is released while it runs, and
        Ctrl-C interrupts it. The table's schema metadata (``spintrail.*`` keys) holds this
        query's own scan statistics.
        """
        return pa.table(self._inner.sql(query, param_list(params)))

    async def sql_async(self, query: str, params: Params = None) -> pa.Table:
        """Like :meth:`sql`, awaitable; cancelling the task stops the query."""
        return pa.table(await self._inner.sql_async(query, param_list(params)))

    def sql_stream(self, query: str, params: Params = None) -> pa.RecordBatchReader:
        """Runs a query and yields its result batch by batch (for results larger than memory)."""
        return typed_reader(self._inner.sql_stream(query, param_list(params)))

    def explain(self, query: str, params: Params = None) -> str:
        """The physical plan the local engine runs for a query (files, pruning, columns read)."""
        return self._inner.explain(query, param_list(params))

    def register(self, name: str, data: object) -> None:
        """Makes a table of your own queryable by ``name`` beside the CloudTrail table.

        ``data`` is a ``pyarrow.Table`` (or record batch reader), a polars or pandas
        ``DataFrame``, or anything else that exports an Arrow C stream. Use it to join events
        with a lookup table (account names, known roles), or to keep an earlier result and ask
        it further questions without reading the logs again. It is copied into the session's
        memory; registering the same name again replaces it. The CloudTrail table's own name is
        refused.
        """
        if not hasattr(data, "__arrow_c_stream__"):
            to_arrow = getattr(data, "to_arrow", None)
            if callable(to_arrow):  # polars before the C stream protocol
                data = to_arrow()
            elif type(data).__module__.startswith("pandas"):
                data = pa.Table.from_pandas(data, preserve_index=False)
            else:
                raise InvalidArgumentError(
                    f"register({name!r}, ...) needs Arrow data (a pyarrow Table, a polars or "
                    f"pandas DataFrame), not {type(data).__name__}"
                )
        self._inner.register(name, data)

    def unregister(self, name: str) -> bool:
        """Removes a table added with :meth:`register`; False if there was none."""
        return self._inner.unregister(name)

    @property
    def last_stats(self) -> ScanStats | None:
        """Scan statistics of the last query (for a stream: as far as it has been read)."""
        raw = self._inner.last_stats()
        return None if raw is None else ScanStats._from_internal(raw)

    def __repr__(self) -> str:
        return (
            f"Session(engine={self.engine!r}, table='{self.database}.{self.table}', "
            f"sources={self.sources!r})"
        )

    def insights(self, query: str, start: TimeBound = None, end: TimeBound = None) -> pa.Table:
        """Runs a CloudWatch Logs Insights query (``fields``, ``filter``, ``stats``, ``sort``,
        ...) over the table; ``start``/``end`` bound the events' time. See
        :mod:`spintrail.insights` for what is understood."""
        return run_insights(self, query, start=start, end=end)


@overload
def connect(
    source: Source | Sequence[Source],
    *,
    engine: Literal["local"] = "local",
    database: str = "default",
    table: str = "cloudtrail_logs",
    on_error: OnError = "raise",
    batch_size: int | None = None,
    threads: int = 0,
    late_delivery_days: int | None = None,
    partitions: Partitions = "spintrail",
    memory_limit: int | str | None = None,
    spill_dir: Source | None = None,
    verified_only: bool = False,
    public_keys: Sequence[Source] = (),
    region: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
    max_attempts: int | None = None,
    dedup: bool = False,
) -> Session: ...


@overload
def connect(
    source: None = None,
    *,
    engine: Literal["athena"],
    database: str = "default",
    table: str = "cloudtrail_logs",
    workgroup: str = "spintrail",
    region: str | None = None,
    output_location: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
    fetch: Fetch = "auto",
    timeout: float | None = None,
    result_reuse_minutes: int | None = None,
    fast_fetch_bytes: int | None = None,
    batch_size: int | None = None,
    price_per_tb: float | None = None,
    max_attempts: int | None = None,
    max_cost: float | None = None,
    max_bytes: int | None = None,
) -> AthenaSession: ...


@overload
def connect(
    source: None = None,
    *,
    engine: Literal["cloudwatch"],
    log_group: str | Sequence[str],
    region: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
    timeout: float | None = None,
    max_attempts: int | None = None,
) -> CloudWatchSession: ...


def connect(
    source: Source | Sequence[Source] | None = None,
    *,
    engine: Literal["local", "athena", "cloudwatch"] = "local",
    database: str = "default",
    table: str = "cloudtrail_logs",
    on_error: OnError = "raise",
    batch_size: int | None = None,
    threads: int = 0,
    late_delivery_days: int | None = None,
    partitions: Partitions | None = None,
    memory_limit: int | str | None = None,
    spill_dir: Source | None = None,
    workgroup: str = "spintrail",
    region: str | None = None,
    output_location: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
    fetch: Fetch = "auto",
    timeout: float | None = None,
    result_reuse_minutes: int | None = None,
    fast_fetch_bytes: int | None = None,
    price_per_tb: float | None = None,
    max_attempts: int | None = None,
    max_cost: float | None = None,
    max_bytes: int | None = None,
    log_group: str | Sequence[str] | None = None,
    verified_only: bool = False,
    public_keys: Sequence[Source] = (),
    dedup: bool = False,
) -> Session | AthenaSession | CloudWatchSession:
    """Opens CloudTrail logs for SQL, on the embedded engine (default) or on Amazon Athena, or
    for Logs Insights queries on CloudWatch Logs.

    **engine="local"**: ``source`` is a folder in CloudTrail's S3 layout
    (``AWSLogs/<account>/CloudTrail/...``, also the organization form), a flat folder of
    ``.json.gz``/``.json`` files, a single file, a glob, or a list of these. ``on_error="skip"``
    leaves out invalid files and records and reports them in :attr:`Session.last_stats`; the
    default raises an error that names the file and record. ``threads=0`` reads with one thread
    per core. ``late_delivery_days`` (default 30, the days AWS retries a delivery) is how late
    CloudTrail may deliver an event: ``eventtime`` bounds skip a day folder only when no event
    that late could match, so pruning never changes an answer; a smaller value reads fewer
    folders for queries with an upper time bound, at the risk of missing late events.
    ``partitions`` names the table's partition columns so that queries written for
    another CloudTrail table run unchanged: ``"spintrail"`` (default: ``account``, ``region``,
    ``day`` as ``yyyy/MM/dd``), ``"aws-projection"`` (the Athena user guide's partition
    projection table: ``timestamp`` as ``yyyy/MM/dd``) or ``"aws-manual"`` (its manually
    partitioned table: ``region``, ``year``, ``month``, ``day`` as ``yyyy``, ``MM``, ``dd``).
    Filters on them skip whole files in every layout.
    ``memory_limit`` bounds what the query's operators hold (hash tables of GROUP BY and
    ``count(DISTINCT ...)``, sorts, windows): bytes as an int, or text such as ``"2GB"``,
    ``"512MiB"`` or ``"25%"`` (of the machine's memory); the default is half the machine's
    physical memory (:attr:`Session.memory_limit`). Sorts and aggregations that reach it
    spill to files in ``spill_dir`` (default: the system's temporary folder), deleted when the
    query ends; a query that cannot finish within it raises :class:`MemoryLimitError`.
    ``source`` may also be ``s3://bucket/prefix/`` (in either layout, or flat): the logs are
    read in place, with the standard AWS credential chain or ``profile``, ``region`` and
    ``endpoint_url`` (or the ``AWS_ENDPOINT_URL`` environment variable); partition filters and
    ``eventtime`` bounds decide which day prefixes are listed at all.
    ``verified_only=True`` first validates the source folders against CloudTrail's signed
    digest files (:func:`spintrail.verify.verify`, with ``public_keys`` files or CloudTrail's
    ``ListPublicKeys``) and reads only the log files verified valid; the validation is
    :attr:`Session.verification`, whose ``excluded_logs()`` lists what was left out.
    A folder written by ``spintrail compact`` (:func:`spintrail.compact.compact`) is read as
    Parquet: same table, same SQL, a fraction of the bytes; so is an ``s3://bucket/prefix/``
    it wrote (the prefix holds ``_spintrail_manifest.json``), read in place by ranged GETs.
    ``dedup=True`` shows each ``eventid`` once (CloudTrail delivers at least once), the first
    by ``eventtime``.

    **engine="athena"**: queries run on Athena against ``database.table`` in ``workgroup``
    (defaults: what ``spintrail provision`` creates, workgroup ``spintrail``; any account also
    has ``primary``); results land in ``output_location`` or the workgroup's location.
    Credentials come from the standard AWS chain or ``profile``; ``endpoint_url`` points at an
    AWS-compatible server. ``timeout`` (seconds) stops longer
    queries; ``result_reuse_minutes`` lets Athena reuse a recent identical query's result;
    ``max_attempts`` bounds the SDK's retries (with backoff) of throttled and transient calls.
    ``max_cost`` (dollars, as billed) and ``max_bytes`` (bytes scanned) make every query
    estimated first (:meth:`AthenaSession.estimate`) and refused above them, before it starts,
    with :class:`CostLimitError`; a query's own ``max_cost=``/``max_bytes=`` replace them.
    See :mod:`spintrail.athena` for ``fetch``.

    **engine="cloudwatch"**: Logs Insights queries (:meth:`CloudWatchSession.insights`, not
    SQL) on the CloudWatch Logs ``log_group`` a trail delivers to (a name or ARN, or a list of
    up to 50). ``region``, ``profile``, ``endpoint_url``, ``timeout`` and ``max_attempts`` as
    for Athena. See :mod:`spintrail.cloudwatch` for the time range and how results are typed.

    Options left as ``None`` take the engine's defaults, defined once in the Rust core:
    ``batch_size`` 8192 rows (local) or 65536 (Athena), ``fast_fetch_bytes`` 1 MiB,
    ``price_per_tb`` $5, ``max_attempts`` 14 (the retry policy of every AWS path).
    """
    if engine == "cloudwatch":
        if source is not None:
            raise InvalidArgumentError(
                "engine='cloudwatch' queries a CloudWatch Logs log group, not local files: drop "
                "the source argument and pass log_group"
            )
        return connect_cloudwatch(
            log_group=log_group,
            region=region,
            endpoint_url=endpoint_url,
            profile=profile,
            timeout=timeout,
            max_attempts=max_attempts,
        )
    if partitions is not None and engine != "local":
        raise InvalidArgumentError(
            f"partitions is for engine='local': on engine={engine!r} the table's own partition "
            "columns apply (spintrail provision --partitions creates a table with them)"
        )
    if (memory_limit is not None or spill_dir is not None) and engine != "local":
        raise InvalidArgumentError(
            f"memory_limit and spill_dir are for engine='local' (the embedded engine), not "
            f"engine={engine!r}"
        )
    if dedup and engine != "local":
        raise InvalidArgumentError(
            f"dedup is for engine='local'; on engine={engine!r} query the view "
            "<table>_dedup that spintrail provision creates"
        )
    if verified_only and engine != "local":
        raise InvalidArgumentError(
            f"verified_only is for engine='local' (files checked against their digests), not "
            f"engine={engine!r}"
        )
    if log_group is not None:
        raise InvalidArgumentError(
            f"log_group is for engine='cloudwatch' (Logs Insights on CloudWatch Logs), not "
            f"engine={engine!r}"
        )
    if engine == "athena":
        if source is not None:
            raise InvalidArgumentError(
                "engine='athena' reads the table in the Glue catalog, not local files: drop the "
                "source argument (or use engine='local' for files)"
            )
        return connect_athena(
            database=database,
            table=table,
            workgroup=workgroup,
            region=region,
            output_location=output_location,
            endpoint_url=endpoint_url,
            profile=profile,
            fetch=fetch,
            timeout=timeout,
            result_reuse_minutes=result_reuse_minutes,
            fast_fetch_bytes=fast_fetch_bytes,
            batch_size=batch_size,
            price_per_tb=price_per_tb,
            max_attempts=max_attempts,
            max_cost=max_cost,
            max_bytes=max_bytes,
        )
    if max_cost is not None or max_bytes is not None:
        raise InvalidArgumentError(
            f"max_cost / max_bytes are for engine='athena' (queries refused above an estimated "
            f"cost), not engine={engine!r}"
        )
    if engine != "local":
        raise InvalidArgumentError(
            f"unknown engine {engine!r}: use engine='local' (embedded, local files), "
            "engine='athena' (Amazon Athena) or engine='cloudwatch' (Logs Insights on "
            "CloudWatch Logs)"
        )
    if source is None:
        raise InvalidArgumentError("no source given: pass a folder, a file or a glob")
    sources = _sources(source)
    verification = None
    if verified_only:
        verification = VerifyResult._merge(
            [
                verify(
                    s,
                    public_keys=public_keys,
                    region=region,
                    endpoint_url=endpoint_url,
                    profile=profile,
                )
                for s in sources
            ]
        )
        sources = verification.valid_logs()
        if not sources:
            raise SourceError(
                "verified_only: no log file was verified valid "
                f"({verification.summary()}); see spintrail.verify.verify for the details"
            )
    inner = _internal.LocalSession(
        sources,
        database=database,
        table=table,
        on_error=on_error,
        batch_size=batch_size,
        threads=threads,
        late_delivery_days=late_delivery_days,
        partitions=partitions,
        memory_limit=memory_limit,
        spill_dir=None if spill_dir is None else os.fspath(spill_dir),
        region=region,
        endpoint_url=endpoint_url,
        profile=profile,
        max_attempts=max_attempts,
        dedup=dedup,
    )
    return Session(inner, verification)
