"""Provision the AWS side: the CloudTrail trail, its S3 log bucket (secure by default), an Athena
workgroup with a bytes-scanned cutoff, and the Glue table with partition projection, as
plan / apply / destroy::

    from spintrail.provision import Stack

    stack = Stack("my-cloudtrail-logs", region="eu-west-1")
    print(stack.plan())          # what would change, changing nothing
    result = stack.apply()       # idempotent; a second apply reports no changes
    stack.destroy()              # removes what spintrail created; keeps the bucket and its logs

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

    def ddl(self) -> str:
        """The ``CREATE EXTERNAL TABLE`` statement equivalent to the Glue table ``apply``
        creates, for those who prefer to run it in Athena themselves."""
        return self._inner.ddl()


__all__ = ["Action", "Change", "ProvisionResult", "Stack"]
