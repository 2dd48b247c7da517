"""Log file integrity validation: are these the logs CloudTrail delivered?

What ``aws cloudtrail validate-logs`` does, in the Rust core: CloudTrail's hourly digest files
are checked with CloudTrail's public keys (SHA256withRSA), followed through their chain (each
digest records the hash and signature of the one before), and every log file's SHA-256 (of its
uncompressed contents) is compared with the digest that lists it.

A digest's signature is S3 object metadata (``x-amz-meta-signature``), which an ordinary copy
to disk drops: in a local copy it is read from a sidecar file ``<digest>.json.gz.signature``
(the hex signature); without one, the next digest's ``previousDigestSignature`` stands in for
it, and a digest with neither (the newest of a plain copy) is reported ``unchecked``.

Statuses, per file: ``valid``; failures ``modified``, ``deleted`` (listed in a digest, absent),
``missing_digest`` (a digest the chain names, or an hour with logs, has none),
``not_in_any_digest``, ``unknown_key`` (signed by a key not among the public keys); and
``unchecked`` (could not be checked) and ``pending`` (delivered after the newest digest), which
are not failures.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc

from spintrail import _internal

TimeBound = datetime | date | str | None

#: Statuses that make a validation fail.
FAILURES = (
    "modified",
    "deleted",
    "missing_digest",
    "not_in_any_digest",
    "unknown_key",
)


def _bound(value: TimeBound) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def _table(columns: dict[str, list[object]]) -> pa.Table:
    arrays = {}
    for name, values in columns.items():
        if name == "hour":
            arrays[name] = pa.array(values, pa.int64()).cast(pa.timestamp("s", tz="UTC"))
        elif name in ("logs", "digests", "failures"):
            arrays[name] = pa.array(values, pa.int64())
        else:
            arrays[name] = pa.array(values, pa.string())
    return pa.table(arrays)


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify` found.

    ``files`` has one row per log file and digest (``kind``, ``path``, ``account``,
    ``region``, ``hour``, ``status``, ``detail``); ``hours`` one per account, region and hour
    (its worst ``status`` and its ``logs``, ``digests`` and ``failures`` counts).
    """

    files: pa.Table
    hours: pa.Table
    #: Files per status (logs and digests together).
    counts: dict[str, int] = field(default_factory=dict)
    #: Fingerprints of the public keys that were available.
    public_keys: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not any(self.counts.get(status, 0) for status in FAILURES)

    def failures(self) -> pa.Table:
        """The rows of ``files`` that failed."""
        return self.files.filter(pc.is_in(self.files["status"], pa.array(FAILURES)))

    def valid_logs(self) -> list[str]:
        """Paths of the log files verified valid."""
        mask = pc.and_(pc.equal(self.files["kind"], "log"), pc.equal(self.files["status"], "valid"))
        return [str(p) for p in self.files.filter(mask)["path"].to_pylist()]

    def excluded_logs(self) -> list[str]:
        """Paths of the log files present but not verified valid."""
        mask = pc.and_(
            pc.equal(self.files["kind"], "log"),
            pc.invert(pc.is_in(self.files["status"], pa.array(["valid", "deleted"]))),
        )
        return [str(p) for p in self.files.filter(mask)["path"].to_pylist()]

    def summary(self) -> str:
        """One line for humans."""
        logs = self.files.filter(pc.equal(self.files["kind"], "log"))
        digests = self.files.filter(pc.equal(self.files["kind"], "digest"))

        def counted(table: pa.Table) -> str:
            parts = []
            for row in table.group_by("status").aggregate([("path", "count")]).to_pylist():
                parts.append(f"{row['path_count']} {row['status']}")
            return ", ".join(sorted(parts)) or "none"

        verdict = "OK" if self.ok else "FAILED"
        return (
            f"{verdict}: {logs.num_rows} log files ({counted(logs)}); "
            f"{digests.num_rows} digests ({counted(digests)}); "
            f"{self.hours.num_rows} hours"
        )

    @classmethod
    def _merge(cls, results: Sequence[VerifyResult]) -> VerifyResult:
        counts: dict[str, int] = {}
        for r in results:
            for status, n in r.counts.items():
                counts[status] = counts.get(status, 0) + n
        keys = sorted({k for r in results for k in r.public_keys})
        return cls(
            files=pa.concat_tables([r.files for r in results]),
            hours=pa.concat_tables([r.hours for r in results]),
            counts=counts,
            public_keys=tuple(keys),
        )


def verify(
    source: str | os.PathLike[str],
    *,
    start: TimeBound = None,
    end: TimeBound = None,
    public_keys: Sequence[str | os.PathLike[str]] = (),
    region: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
    max_attempts: int | None = None,
) -> VerifyResult:
    """Validates the logs of ``source``: a folder holding a copy of a trail's bucket (at or above
    ``AWSLogs/``) or ``s3://bucket[/prefix]``, over the hours from ``start`` to ``end``
    (ISO-8601 strings, dates or datetimes; naive ones are UTC; default: everything).

    ``public_keys`` are files of CloudTrail's public keys (DER or PEM, PKCS#1 or
    SubjectPublicKeyInfo); without them the keys are fetched with CloudTrail's
    ``ListPublicKeys`` in each digest's home region (credentials, ``region``, ``profile`` and
    ``endpoint_url`` as for :func:`spintrail.connect` with ``engine="athena"``).
    """
    raw = _internal.verify(
        os.fspath(source),
        start=_bound(start),
        end=_bound(end),
        public_keys=[os.fspath(k) for k in public_keys],
        region=region,
        endpoint_url=endpoint_url,
        profile=profile,
        max_attempts=max_attempts,
    )
    files = _table(raw["files"])
    counts: dict[str, int] = {}
    for status in raw["files"]["status"]:
        counts[status] = counts.get(status, 0) + 1
    return VerifyResult(
        files=files,
        hours=_table(raw["hours"]),
        counts=counts,
        public_keys=tuple(raw["public_keys"]),
    )


def write_digests(
    out_dir: str | os.PathLike[str],
    signing_key: str | os.PathLike[str],
    *,
    bucket: str | None = None,
    trail: str | None = None,
) -> int:
    """Writes hourly, chained digest files for the logs under ``out_dir``, signed with the RSA
    private key ``signing_key`` (PKCS#8, DER or PEM), each with its signature in a sidecar
    ``.signature`` file; returns how many. For tests and demos of :func:`verify`."""
    return _internal.write_digests(
        os.fspath(out_dir), os.fspath(signing_key), bucket=bucket, trail=trail
    )
