"""A local copy of a trail's S3 logs, kept in step: ``spintrail sync s3://bucket/prefix ./logs``.

Only new or changed objects are copied (by key, size and ETag; the ETags of what was copied are
kept in the state file ``.spintrail-sync.jsonl`` of the destination, since a local file has
none), in parallel. Each object is written to ``<name>.part`` and renamed when complete, so an
interrupted run leaves no partial file under a final name and the next run resumes (removing
the leftover ``.part`` files). Keys are mirrored under the destination relative to the prefix,
so the copy is a valid local source for :func:`spintrail.connect`.

``since`` (``7d``, ``12h``, ``2w`` or a date ``2024-07-30``) lists only the day prefixes from
that day on. Digest (``CloudTrail-Digest/``) and Insights (``CloudTrail-Insight/``) files are
left out unless ``digests`` / ``insights`` ask for them; a digest's ``x-amz-meta-signature``
is written beside it as ``<digest>.json.gz.signature``, which :func:`spintrail.verify.verify`
reads in a local copy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from spintrail import _internal


@dataclass(frozen=True)
class SyncResult:
    """What a sync did."""

    #: Log objects in the (pruned) listing.
    listed: int
    copied: int
    skipped: int
    #: Bytes copied.
    bytes: int
    failed: int
    #: ``(s3:// name, reason)`` of each object that failed.
    failures: list[tuple[str, str]] = field(default_factory=list)
    #: Partial files of an interrupted run that were removed.
    removed_partials: int = 0

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def summary(self) -> str:
        text = (
            f"copied {self.copied} ({self.bytes / 1e6:.1f} MB), skipped {self.skipped} "
            f"unchanged, failed {self.failed} of {self.listed} objects"
        )
        if self.removed_partials:
            text += f"; removed {self.removed_partials} partial files of an interrupted run"
        return text


def sync(
    source: str,
    dest: str | os.PathLike[str],
    *,
    since: str | None = None,
    digests: bool = False,
    insights: bool = False,
    region: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
    max_attempts: int | None = None,
    concurrency: int = 0,
) -> SyncResult:
    """Copies the new and changed log objects under ``source`` (``s3://bucket/prefix``) into
    the folder ``dest``. Credentials come from the standard AWS chain or ``profile``;
    ``endpoint_url`` (or ``AWS_ENDPOINT_URL``) points at an AWS-compatible server.
    ``concurrency=0`` fetches 16 objects at once. Objects that fail are reported in the result
    (``failed``, ``failures``); a listing that fails raises."""
    out = _internal.sync(
        source,
        os.fspath(dest),
        since=since,
        digests=digests,
        insights=insights,
        region=region,
        endpoint_url=endpoint_url,
        profile=profile,
        max_attempts=max_attempts,
        concurrency=concurrency,
    )
    return SyncResult(
        listed=int(out["listed"]),
        copied=int(out["copied"]),
        skipped=int(out["skipped"]),
        bytes=int(out["bytes"]),
        failed=int(out["failed"]),
        failures=[(str(n), str(r)) for n, r in out["failures"]],
        removed_partials=int(out["removed_partials"]),
    )
