"""A moto server for the doctor tests: moto, with bucket policies evaluated as AWS evaluates them
for the tests' callers.

moto serves plain HTTP on loopback where AWS serves HTTPS, and it evaluates a bucket policy on
object reads and writes by treating every statement that has a ``Condition`` as one that
matches and denies: spintrail's policy (CloudTrail may write when ``aws:SourceArn`` is this
trail; requests with ``aws:SecureTransport`` false are denied) would then deny every object
read. This launcher evaluates, for each request, only the statements that apply to it as they
would on AWS over TLS: unconditional statements apply; an ``aws:SecureTransport`` condition is
evaluated for a TLS request; statements with other conditions (``aws:SourceArn`` and
``aws:SourceAccount`` name a service's caller, never the tests') do not apply.

When a test switches moto's IAM enforcement on, moto also recomputes each S3 request's SigV4
signature from its own re-encoding of the query string, which disagrees with the AWS SDK for
Rust's (and AWS's) canonical form for ListObjectsV2 with a ``prefix`` and ``delimiter``:
every listing would fail with SignatureDoesNotMatch. This launcher skips moto's S3 signature
comparison; the caller's identity (from the access key) and its IAM policies still decide.

Run as ``python doctor_moto.py PORT``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult, S3IAMRequest
from moto.s3 import models


def applies_over_tls(statement: dict[str, Any]) -> dict[str, Any] | None:
    """The statement as it applies to a TLS request of the tests' callers, or None."""
    condition = statement.get("Condition")
    if not condition:
        return statement
    blocks = list(condition.items())
    if len(blocks) != 1 or blocks[0][0] != "Bool" or set(blocks[0][1]) != {"aws:SecureTransport"}:
        return None
    wanted = str(blocks[0][1]["aws:SecureTransport"]).lower()
    if wanted != "true":
        return None
    return {k: v for k, v in statement.items() if k != "Condition"}


def get_permission(self: Any, action: str, resource: str) -> Any:
    if self.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(self.policy)
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    kept = [s for s in (applies_over_tls(s) for s in statements) if s is not None]
    if not kept:
        return PermissionResult.NEUTRAL
    document = json.dumps({"Version": "2012-10-17", "Statement": kept})
    return IAMPolicy(document).is_action_permitted(action, resource)


def skip_signature_check(self: Any) -> None:
    """The identity comes from the access key id; the signature is not compared (see above)."""


models.FakeBucket.get_permission = get_permission  # type: ignore[method-assign]
S3IAMRequest.check_signature = skip_signature_check  # type: ignore[method-assign]

if __name__ == "__main__":
    from moto.server import main

    main(["-H", "127.0.0.1", "-p", sys.argv[1]])
