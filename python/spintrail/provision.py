"""Provision the AWS side: the CloudTrail trail, its S3 log bucket (secure by default), an Athena
workgroup with a bytes-scanned cutoff, and the Glue table with partition projection, as
plan / apply / destroy::

    from spintrail.provision import Stack

    stack = Stack("my-cloudtrail-logs", region="eu-west-1")
    print(stack.plan())          # what would change, changing nothing
    result = stack.apply()       # idempotent; a second apply reports no changes
    stack.destroy()              # removes what spintrail created; keeps the bucket and its logs
    print(stack.doctor())        # checks the live set-up: one line per check, with fixes

Credentials and region come from the standard AWS chain (environment, profile, SSO, instance
role); ``profile`` and ``endpoint_url`` (an AWS-compatible server) are optional. Options may also
come from a TOML file (``config_file``) whose keys are the keyword arguments' names; keyword
arguments override it. Every option is checked by the Rust core, which is their one definition.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from spintrail import _internal

Action = Literal["create", "update", "no_change", "delete", "keep"]

_MARKS = {"create": "+", "update": "~", "delete": "-"}


@dataclass(frozen=True)
class Change:
    """One resource in a plan, or what apply / destroy did to it."""

    #: Resource kind, e.g. ``"s3 bucket"``, ``"cloudtrail trail"``, ``"glue table"``.
    kind: str
    name: str
    action: Action
    #: What differs (updates), or why the resource is kept.
    details: tuple[str, ...] = ()

    @property
    def changes(self) -> bool:
        return self.action not in ("no_change", "keep")

    def __str__(self) -> str:
        mark = _MARKS.get(self.action, " ")
        line = f"{mark} {self.kind:<26} {self.name:<40} {self.action.replace('_', ' ')}"
        return "\n".join([line, *(f"      {d}" for d in self.details)])


@dataclass(frozen=True)
class ProvisionResult:
    """The outcome of :meth:`Stack.plan`, :meth:`Stack.apply` or :meth:`Stack.destroy`."""

    operation: Literal["plan", "apply", "destroy"]
    stack: str
    region: str
    account: str
    changes: tuple[Change, ...]
    #: Names and ARNs: ``bucket``, ``trail``, ``trail_arn``, ``workgroup``, ``workgroup_arn``,
    #: ``database``, ``table``, ``results``, ``location`` (and ``log_group``, ``log_role``...).
    resources: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Whether anything was (for a plan: would be) changed."""
        return any(c.changes for c in self.changes)

    def __str__(self) -> str:
        n = sum(1 for c in self.changes if c.changes)
        verb = "to change" if self.operation == "plan" else "changed"
        lines = [str(c) for c in self.changes]
        lines.append(
            f"{self.operation}: {n} resource{'' if n == 1 else 's'} {verb} "
            f"(stack {self.stack}, account {self.account}, region {self.region})"
        )
        return "\n".join(lines)

    @classmethod
    def _from_json(cls, text: str) -> ProvisionResult:
        raw = json.loads(text)
        return cls(
            operation=raw["operation"],
            stack=raw["stack"],
            region=raw["region"],
            account=raw["account"],
            changes=tuple(
                Change(c["kind"], c["name"], c["action"], tuple(c["details"]))
                for c in raw["changes"]
            ),
            resources=dict(raw["resources"]),
        )


Severity = Literal["ok", "unchecked", "warning", "error"]

_SYMBOLS = {"ok": "✓", "unchecked": "?", "warning": "!", "error": "✗"}


@dataclass(frozen=True)
class Finding:
    """One check of :meth:`Stack.doctor`: how it stands and, when something is wrong, the fix."""

    #: Which check: ``trail``, ``trail.logging``, ``bucket``, ``bucket.policy.write``,
    #: ``bucket.policy.scope``, ``bucket.policy.tls``, ``bucket.public_access_block``,
    #: ``bucket.encryption``, ``bucket.logs``, ``table``, ``table.format``, ``table.location``,
    #: ``table.projection.template``, ``table.projection.range``, ``workgroup`` or ``read``.
    check: str
    #: What was checked (a name, ARN or ``s3://`` location).
    subject: str
    #: ``unchecked`` means the check could not be made (a call was denied or failed, or there
    #: was nothing to compare with yet); it never counts as passing.
    severity: Severity
    message: str
    fix: str | None = None

    def __str__(self) -> str:
        line = f"{_SYMBOLS[self.severity]} {self.check:<27} {self.message}"
        return f"{line}\n      fix: {self.fix}" if self.fix else line


@dataclass(frozen=True)
class Diagnosis:
    """What :meth:`Stack.doctor` found, in the order the checks ran."""

    stack: str
    region: str
    account: str
    #: The identity the checks ran as (an ARN).
    caller: str
    #: When the checks ran (UTC, ISO-8601).
    checked_at: str
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def ok(self) -> bool:
        """No finding is an error (warnings and unchecked findings allowed)."""
        return not self.errors

    def finding(self, check: str) -> Finding:
        """The finding of one check, by its name (``"trail.logging"``)."""
        for f in self.findings:
            if f.check == check:
                return f
        names = ", ".join(f.check for f in self.findings)
        raise KeyError(f"no check named {check!r}; the checks are: {names}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "account": self.account,
            "caller": self.caller,
            "checked_at": self.checked_at,
            "ok": self.ok,
            "findings": [
                {
                    "check": f.check,
                    "subject": f.subject,
                    "severity": f.severity,
                    "message": f.message,
                    "fix": f.fix,
                }
                for f in self.findings
            ],
        }

    def __str__(self) -> str:
        counts = {s: sum(1 for f in self.findings if f.severity == s) for s in _SYMBOLS}
        lines = [
            f"doctor: stack {self.stack}, account {self.account}, region {self.region}, "
            f"as {self.caller}"
        ]
        lines += [str(f) for f in self.findings]
        lines.append(
            f"{counts['error']} error(s), {counts['warning']} warning(s), "
            f"{counts['unchecked']} not checked, {counts['ok']} ok"
        )
        return "\n".join(lines)

    @classmethod
    def _from_json(cls, text: str) -> Diagnosis:
        raw = json.loads(text)
        return cls(
            stack=raw["stack"],
            region=raw["region"],
            account=raw["account"],
            caller=raw["caller"],
            checked_at=raw["checked_at"],
            findings=tuple(
                Finding(f["check"], f["subject"], f["severity"], f["message"], f["fix"])
                for f in raw["findings"]
            ),
        )


class Stack:
    """The AWS resources spintrail provisions for one trail, as desired state.

    Everything spintrail creates is tagged ``spintrail:managed=true`` and
    ``spintrail:stack=<name>``; :meth:`destroy` removes only what carries those tags.
    """

    def __init__(
        self,
        bucket: str | None = None,
        *,
        config_file: str | os.PathLike[str] | None = None,
        name: str | None = None,
        region: str | None = None,
        prefix: str | None = None,
        trail: str | None = None,
        multi_region: bool | None = None,
        organization: bool | None = None,
        org_id: str | None = None,
        log_file_validation: bool | None = None,
        database: str | None = None,
        table: str | None = None,
        workgroup: str | None = None,
        results: str | None = None,
        bytes_scanned_cutoff: int | None = None,
        projection_start: str | None = None,
        partitions: str | None = None,
        accounts: Sequence[str] | None = None,
        regions: Sequence[str] | None = None,
        kms_key: str | None = None,
        expire_days: int | None = None,
        log_group: str | None = None,
        log_role: str | None = None,
        tags: Mapping[str, str] | None = None,
        parquet_location: str | None = None,
        parquet_table: str | None = None,
        dedup_view: bool | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        max_attempts: int | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        options: dict[str, Any] = {
            "bucket": bucket,
            "name": name,
            "region": region,
            "prefix": prefix,
            "trail": trail,
            "multi_region": multi_region,
            "organization": organization,
            "org_id": org_id,
            "log_file_validation": log_file_validation,
            "database": database,
            "table": table,
            "workgroup": workgroup,
            "results": results,
            "bytes_scanned_cutoff": bytes_scanned_cutoff,
            "projection_start": projection_start,
            "partitions": partitions,
            "accounts": list(accounts) if accounts is not None else None,
            "regions": list(regions) if regions is not None else None,
            "kms_key": kms_key,
            "expire_days": expire_days,
            "log_group": log_group,
            "log_role": log_role,
            "tags": dict(tags) if tags is not None else None,
            "parquet_location": parquet_location,
            "parquet_table": parquet_table,
            "dedup_view": dedup_view,
        }
        toml_text = Path(config_file).read_text() if config_file is not None else None
        self._inner = _internal.Stack(
            json.dumps({k: v for k, v in options.items() if v is not None}),
            config_toml=toml_text,
            endpoint_url=endpoint_url,
            profile=profile,
            max_attempts=max_attempts,
            connect_timeout=connect_timeout,
        )

    @property
    def options(self) -> dict[str, Any]:
        """The desired state with every default filled in."""
        result: dict[str, Any] = json.loads(self._inner.config_json())
        return result

    def plan(self) -> ProvisionResult:
        """Reads what exists and reports per resource create / update / no change. Changes
        nothing."""
        return ProvisionResult._from_json(self._inner.plan())

    def apply(self) -> ProvisionResult:
        """Creates or updates the resources in a working order and starts logging. Re-running it
        reports no changes; after a partial apply it finishes the job."""
        return ProvisionResult._from_json(self._inner.apply())

    def destroy(self, *, delete_bucket: bool = False) -> ProvisionResult:
        """Removes what this stack created, in reverse order. The log bucket (and the CloudWatch
        log group) and their data are kept unless ``delete_bucket=True``."""
        return ProvisionResult._from_json(self._inner.destroy(delete_bucket=delete_bucket))

    def doctor(self) -> Diagnosis:
        """Checks the live set-up this stack describes, changing nothing: the trail is logging
        and delivering; the bucket policy lets this trail (and only it) write and denies requests
        without TLS; Block Public Access and encryption are on; the Glue table's location, format
        and partition projection match the log files actually in the bucket (today's partition
        included); the workgroup has a result location; the caller can read a log file. Raises
        only when AWS cannot be reached at all; every other problem is a :class:`Finding`."""
        return Diagnosis._from_json(self._inner.doctor())

    def ddl(self) -> str:
        """The ``CREATE EXTERNAL TABLE`` statement equivalent to the Glue table ``apply``
        creates, for those who prefer to run it in Athena themselves."""
        return self._inner.ddl()


def doctor(bucket: str | None = None, **options: Any) -> Diagnosis:
    """``Stack(bucket, **options).doctor()``: checks a live set-up; ``options`` are
    :class:`Stack`'s keyword arguments (``config_file``, ``region``, ``profile``,
    ``endpoint_url``, ``trail``, ``table``, ...)."""
    return Stack(bucket, **options).doctor()


__all__ = [
    "Action",
    "Change",
    "Diagnosis",
    "Finding",
    "ProvisionResult",
    "Severity",
    "Stack",
    "doctor",
]
