"""Compaction: CloudTrail logs rewritten as the table contract in Parquet (zstd), partitioned as
``DEST/account=<id>/region=<region>/day=<yyyy-MM-dd>/part-0.parquet`` with rows sorted by
``eventtime``. :func:`spintrail.connect` reads such a folder with the same SQL and answers as
the JSON, and ``spintrail provision --parquet-location`` puts an Athena table over it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from spintrail import _internal


@dataclass(frozen=True)
class CompactSummary:
    """What :func:`compact` did."""

    #: Day partitions (account, region, day) found in the source.
    days: int
    #: Day partitions written by this run (new, or whose source files changed).
    days_written: int
    #: Day partitions already up to date (left as they were).
    days_unchanged: int
    #: Source log files read.
    files_read: int
    #: Files of the source that are not events (digests, Insights), left out.
    files_excluded: int
    rows_written: int
    #: Events left out as duplicates of an ``eventid`` already written (``dedup=True``).
    duplicates_dropped: int
    bytes_written: int


def compact(
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    dedup: bool = False,
    row_group_rows: int | None = None,
    on_error: Literal["raise", "skip"] = "raise",
    threads: int = 0,
    region: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
    max_attempts: int | None = None,
) -> CompactSummary:
    """Compacts the CloudTrail logs of ``source`` (a folder or an ``s3://bucket/prefix/`` in
    CloudTrail's layout) into Parquet under ``dest`` (a folder or ``s3://bucket/prefix``).

    Incremental: ``dest/_spintrail_manifest.json`` records which source files (name, size,
    modification time, or an S3 object's ETag) went into each day partition; a re-run rewrites
    only the days that are new or whose files changed, each file written under a temporary
    name and then renamed (on S3: one PutObject), so no half-written file is ever visible.
    ``dedup=True`` drops events whose ``eventid`` already appeared in the same day partition
    (CloudTrail delivers at least once), keeping the first by ``eventtime``.
    ``row_group_rows`` (default 65536) sets the Parquet row groups, the unit that ``eventtime``
    ranges skip. ``region``, ``endpoint_url``, ``profile`` and ``max_attempts`` reach an
    ``s3://`` source or destination as for the other AWS paths.
    """
    raw = _internal.compact(
        os.fspath(source),
        os.fspath(dest),
        dedup=dedup,
        row_group_rows=row_group_rows,
        on_error=on_error,
        threads=threads,
        region=region,
        endpoint_url=endpoint_url,
        profile=profile,
        max_attempts=max_attempts,
    )
    return CompactSummary(**raw)
