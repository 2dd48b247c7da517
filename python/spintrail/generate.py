"""Synthetic CloudTrail logs of a Spinnaker installation: seeded, deterministic, in CloudTrail's
S3 layout, for demos, tests and benchmarks."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from spintrail import _internal


@dataclass(frozen=True)
class GenerateSummary:
    """What :func:`generate` wrote."""

    files: int
    events: int
    bytes_uncompressed: int
    bytes_written: int
    spinnaker_events: int
    throttled_events: int
    #: Digest files written (with ``digests=``).
    digests: int = 0


def generate(
    out_dir: str | os.PathLike[str],
    *,
    events: int = 100_000,
    days: int = 1,
    seed: int = 42,
    end: datetime | str | None = None,
    accounts: Sequence[str] = ("123456789012",),
    regions: Sequence[str] = ("us-east-1", "us-west-2"),
    prefix: str | None = None,
    org_id: str | None = None,
    role: str = "SpinnakerManagedCA",
    events_per_file: int = 2000,
    threads: int = 0,
    digests: str | os.PathLike[str] | None = None,
) -> GenerateSummary:
    """Writes ``events`` CloudTrail events spanning ``days`` days up to ``end`` (default: now)
    under ``out_dir/[prefix/]AWSLogs/...``. The same arguments and seed give the same files.

    ``digests`` is an RSA private key file (PKCS#8, DER or PEM): with it, hourly digest files
    signed with that key are written too, as CloudTrail does with log file validation on, for
    :func:`spintrail.verify.verify` (see :func:`spintrail.verify.write_digests`)."""
    if isinstance(end, datetime):
        if end.tzinfo is None:
            end = end.replace(tzinfo=timezone.utc)
        end = end.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    raw = _internal.generate(
        os.fspath(out_dir),
        events=events,
        days=days,
        seed=seed,
        end=end,
        accounts=list(accounts),
        regions=list(regions),
        prefix=prefix,
        org_id=org_id,
        role=role,
        events_per_file=events_per_file,
        threads=threads,
    )
    if digests is not None:
        raw["digests"] = _internal.write_digests(os.fspath(out_dir), os.fspath(digests))
    return GenerateSummary(**raw)
