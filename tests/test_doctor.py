"""`spintrail doctor` against a moto server on 127.0.0.1: a clean `provision apply` (plus a log
file where CloudTrail would put it) passes every check; then each fault is planted on its own
with boto3 (an independent client) and doctor must name it, with its fix; where the fix is
`spintrail provision apply`, applying it makes doctor pass again.

What moto cannot express, and how the tests deal with it:
- CloudTrail never delivers files: the tests upload a real log file under today's folder.
- GetTrailStatus reports the last delivery as "now" while logging, so a stale delivery and a
  LatestDeliveryError cannot be planted; the Rust unit tests cover those states.
- moto evaluates bucket policies on object reads and writes as if every conditional statement
  denied; doctor_moto.py evaluates them as AWS does for the tests' (TLS-standing-in) requests.
- A caller denied read is planted with an IAM user whose policy denies s3:GetObject, with moto's
  IAM enforcement switched on (/moto-api/reset-auth).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from moto_server import MotoServer, moto_fixtures
from spintrail.cli import main
from spintrail.provision import Diagnosis, Stack, doctor

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
BUCKET = "spintrail-doctor-logs"
TRAIL_ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/spintrail"
LOG_FILE = Path(__file__).parent / "data" / "real" / "stratus-red-team.json.gz"
APPLY = "spintrail provision apply"
LAUNCHER = str(Path(__file__).parent / "doctor_moto.py")


server, moto = moto_fixtures(REGION, LAUNCHER)


def client(server: MotoServer, service: str) -> Any:
    return server.client(service, REGION)


def stack(server: MotoServer) -> Stack:
    return Stack(BUCKET, region=REGION, endpoint_url=server.url, max_attempts=1)


def deliver(server: MotoServer, region: str = REGION) -> str:
    """Puts a real CloudTrail log file where the trail would write today's."""
    now = datetime.now(timezone.utc)
    key = (
        f"AWSLogs/{ACCOUNT}/CloudTrail/{region}/{now:%Y/%m/%d}/"
        f"{ACCOUNT}_CloudTrail_{region}_{now:%Y%m%dT%H%MZ}_doctor.json.gz"
    )
    client(server, "s3").put_object(Bucket=BUCKET, Key=key, Body=LOG_FILE.read_bytes())
    return key


@pytest.fixture()
def provisioned(moto: MotoServer) -> MotoServer:
    stack(moto).apply()
    deliver(moto)
    return moto


def severities(diagnosis: Diagnosis) -> dict[str, str]:
    return {f.check: f.severity for f in diagnosis.findings}


CHECKS = [
    "trail",
    "trail.logging",
    "bucket",
    "bucket.policy.write",
    "bucket.policy.scope",
    "bucket.policy.tls",
    "bucket.public_access_block",
    "bucket.encryption",
    "bucket.logs",
    "table",
    "table.format",
    "table.location",
    "table.projection.template",
    "table.projection.range",
    "workgroup",
    "read",
]


def test_clean_setup_passes_every_check(provisioned: MotoServer) -> None:
    diagnosis = stack(provisioned).doctor()
    assert [f.check for f in diagnosis.findings] == CHECKS
    assert severities(diagnosis) == dict.fromkeys(CHECKS, "ok"), str(diagnosis)
    assert diagnosis.ok and not diagnosis.errors and not diagnosis.warnings
    assert diagnosis.account == ACCOUNT and diagnosis.region == REGION
    assert diagnosis.caller.startswith(f"arn:aws:sts::{ACCOUNT}:") or ACCOUNT in diagnosis.caller
    assert all(f.fix is None for f in diagnosis.findings)
    today = datetime.now(timezone.utc).strftime("%Y/%m/%d")
    assert f"newest day {today}" in diagnosis.finding("bucket.logs").message
    assert diagnosis.finding("read").message.startswith("read the newest log file, s3://")
    text = str(diagnosis)
    assert text.count("\n✓ ") == len(CHECKS)
    assert text.endswith(f"0 error(s), 0 warning(s), 0 not checked, {len(CHECKS)} ok")
    # The module-level function takes Stack's keywords.
    again = doctor(BUCKET, region=REGION, endpoint_url=provisioned.url, max_attempts=1)
    assert severities(again) == severities(diagnosis)


@pytest.mark.parametrize("layout", ["aws-projection", "aws-manual"])
def test_the_user_guides_layouts_pass_too(moto: MotoServer, layout: str) -> None:
    options: dict[str, Any] = {"partitions": layout, "multi_region": False}
    Stack(BUCKET, region=REGION, endpoint_url=moto.url, max_attempts=1, **options).apply()
    deliver(moto)
    diagnosis = Stack(
        BUCKET, region=REGION, endpoint_url=moto.url, max_attempts=1, **options
    ).doctor()
    assert severities(diagnosis) == dict.fromkeys(CHECKS, "ok"), str(diagnosis)
    # A file of another region is outside these one-region (or listed-region) projections.
    deliver(moto, "me-central-1")
    diagnosis = Stack(
        BUCKET, region=REGION, endpoint_url=moto.url, max_attempts=1, **options
    ).doctor()
    template = diagnosis.finding("table.projection.template")
    assert template.severity == "error", str(diagnosis)
    assert "me-central-1" in template.message


def test_before_the_first_delivery_nothing_is_claimed(moto: MotoServer) -> None:
    stack(moto).apply()
    diagnosis = stack(moto).doctor()
    got = severities(diagnosis)
    assert got["bucket.logs"] == "warning"
    assert "no CloudTrail log files" in diagnosis.finding("bucket.logs").message
    # Nothing to compare with: said so, never "ok".
    for check in ("table.location", "table.projection.template", "read"):
        assert got[check] == "unchecked", diagnosis.finding(check)
        assert diagnosis.finding(check).message.startswith("could not check: ")
    assert got["table.projection.range"] == "ok"
    assert diagnosis.ok


@dataclass
class Fault:
    plant: Callable[[MotoServer], None]
    check: str
    severity: str
    #: Words the message must contain.
    says: str
    #: Words the fix must contain.
    fix: str = APPLY
    #: Other checks this fault may also fail or leave unchecked.
    also: dict[str, str] = field(default_factory=dict)
    #: Whether `provision apply` repairs it (moto cannot update a workgroup, and apply never
    #: changes statements or workgroups it did not write).
    apply_repairs: bool = True


def put_policy(server: MotoServer, statements: list[dict[str, Any]]) -> None:
    policy = {"Version": "2012-10-17", "Statement": statements}
    client(server, "s3").put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))


def any_trail_policy(server: MotoServer) -> None:
    put_policy(
        server,
        [
            {
                "Sid": "AWSCloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": f"arn:aws:s3:::{BUCKET}",
            },
            {
                "Sid": "AWSCloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/AWSLogs/*",
            },
        ],
    )


def other_trail_policy(server: MotoServer) -> None:
    other = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/someone-else"
    put_policy(
        server,
        [
            {
                "Sid": "OtherTrail",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": ["s3:GetBucketAcl", "s3:PutObject"],
                "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
                "Condition": {"StringEquals": {"aws:SourceArn": other}},
            }
        ],
    )


def update_table(server: MotoServer, change: Callable[[dict[str, Any]], None]) -> None:
    glue = client(server, "glue")
    table = glue.get_table(DatabaseName="default", Name="cloudtrail_logs")["Table"]
    table_input = {
        k: table[k]
        for k in ("Name", "Description", "TableType", "PartitionKeys", "Parameters")
        if k in table
    }
    table_input["StorageDescriptor"] = table["StorageDescriptor"]
    change(table_input)
    glue.update_table(DatabaseName="default", TableInput=table_input)


def location_elsewhere(server: MotoServer) -> None:
    def change(t: dict[str, Any]) -> None:
        t["StorageDescriptor"]["Location"] = "s3://some-other-bucket/AWSLogs/"

    update_table(server, change)


def range_before_today(server: MotoServer) -> None:
    def change(t: dict[str, Any]) -> None:
        t["Parameters"]["projection.day.range"] = "2024/01/01,2024/06/30"

    update_table(server, change)


def template_elsewhere(server: MotoServer) -> None:
    def change(t: dict[str, Any]) -> None:
        t["Parameters"]["storage.location.template"] = (
            f"s3://{BUCKET}/logs/${{account}}/${{region}}/${{day}}"
        )

    update_table(server, change)


def workgroup_without_results(server: MotoServer) -> None:
    athena = client(server, "athena")
    athena.delete_work_group(WorkGroup="spintrail", RecursiveDeleteOption=True)
    athena.create_work_group(Name="spintrail", Configuration={})


FAULTS = {
    "trail stopped": Fault(
        lambda s: client(s, "cloudtrail").stop_logging(Name="spintrail"),
        "trail.logging",
        "error",
        "is not logging",
    ),
    "trail deleted": Fault(
        lambda s: client(s, "cloudtrail").delete_trail(Name="spintrail"),
        "trail",
        "error",
        "does not exist",
        also={"trail.logging": "unchecked"},
    ),
    "policy lets any trail write": Fault(
        any_trail_policy,
        "bucket.policy.scope",
        "error",
        "statement AWSCloudTrailWrite lets CloudTrail write into the bucket for any trail of any "
        "account",
        fix="remove those statements",
        also={"bucket.policy.tls": "warning"},
        apply_repairs=False,
    ),
    "policy lacks the trail's permission": Fault(
        other_trail_policy,
        "bucket.policy.write",
        "error",
        f"for {TRAIL_ARN}) do s3:GetBucketAcl",
        also={"bucket.policy.scope": "warning", "bucket.policy.tls": "warning"},
        # apply adds spintrail's statements but keeps the other trail's
        apply_repairs=False,
    ),
    "bucket policy deleted": Fault(
        lambda s: client(s, "s3").delete_bucket_policy(Bucket=BUCKET),
        "bucket.policy.write",
        "error",
        "the bucket has no policy",
        also={"bucket.policy.tls": "warning"},
    ),
    "public access block removed": Fault(
        lambda s: client(s, "s3").delete_public_access_block(Bucket=BUCKET),
        "bucket.public_access_block",
        "warning",
        "no Block Public Access configuration",
    ),
    "table location elsewhere": Fault(
        location_elsewhere,
        "table.location",
        "error",
        "location s3://some-other-bucket/AWSLogs/ does not hold the log files",
    ),
    "projection range ends before today": Fault(
        range_before_today,
        "table.projection.range",
        "error",
        "ends at 2024/06/30, before today",
        # today's file is outside the range too
        also={"table.projection.template": "error"},
    ),
    "location template elsewhere": Fault(
        template_elsewhere,
        "table.projection.template",
        "error",
        "does not match the template",
    ),
    "files of a region the table does not project": Fault(
        lambda s: (deliver(s, "me-central-1"), None)[1],
        "table.projection.template",
        "error",
        "region me-central-1 is not in projection.region.values",
        fix="--projection-region",
        apply_repairs=False,
    ),
    "table missing": Fault(
        lambda s: client(s, "glue").delete_table(DatabaseName="default", Name="cloudtrail_logs"),
        "table",
        "error",
        "does not exist",
        also={
            "table.format": "unchecked",
            "table.location": "unchecked",
            "table.projection.template": "unchecked",
            "table.projection.range": "unchecked",
        },
    ),
    "workgroup without result location": Fault(
        workgroup_without_results,
        "workgroup",
        "error",
        "has no query result location",
        fix="--output-location",
        apply_repairs=False,
    ),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_each_planted_fault_is_found_with_its_fix(provisioned: MotoServer, name: str) -> None:
    fault = FAULTS[name]
    fault.plant(provisioned)
    diagnosis = stack(provisioned).doctor()
    finding = diagnosis.finding(fault.check)
    assert finding.severity == fault.severity, str(diagnosis)
    assert fault.says in finding.message, finding
    assert finding.fix is not None and fault.fix in finding.fix, finding
    # Nothing else is reported wrong (or unchecked) than what this fault explains.
    others = {f.check: f.severity for f in diagnosis.findings if f.severity != "ok"}
    assert others == {fault.check: fault.severity, **fault.also}, str(diagnosis)
    assert diagnosis.ok is (fault.severity != "error" and "error" not in fault.also.values())
    if fault.apply_repairs:
        stack(provisioned).apply()
        repaired = stack(provisioned).doctor()
        assert severities(repaired) == dict.fromkeys(CHECKS, "ok"), str(repaired)


def enforce_iam(server: MotoServer, after_requests: str) -> None:
    """moto checks every request against IAM once `after_requests` more have passed ("inf":
    never)."""
    request = urllib.request.Request(
        server.url + "/moto-api/reset-auth",
        data=after_requests.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def test_caller_denied_read(provisioned: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    iam = client(provisioned, "iam")
    iam.create_user(UserName="auditor")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/AWSLogs/*",
            },
        ],
    }
    iam.put_user_policy(
        UserName="auditor", PolicyName="no-log-reading", PolicyDocument=json.dumps(policy)
    )
    key = iam.create_access_key(UserName="auditor")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    enforce_iam(provisioned, "0")
    try:
        diagnosis = stack(provisioned).doctor()
    finally:
        enforce_iam(provisioned, "inf")
    assert diagnosis.caller == f"arn:aws:iam::{ACCOUNT}:user/auditor"
    read = diagnosis.finding("read")
    assert read.severity == "error", str(diagnosis)
    assert "arn:aws:iam::123456789012:user/auditor cannot read the log file s3://" in read.message
    assert read.fix is not None and "s3:GetObject" in read.fix
    others = {f.check: f.severity for f in diagnosis.findings if f.severity != "ok"}
    assert others == {"read": "error"}, str(diagnosis)
    assert key["SecretAccessKey"] not in str(diagnosis)


def test_cli_lines_json_and_exit_status(
    provisioned: MotoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["doctor", "--bucket", BUCKET, "--region", REGION, "--endpoint-url", provisioned.url]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"doctor: stack spintrail, account {ACCOUNT}, region {REGION}")
    assert [line.split()[:2] for line in out[1:-1]] == [["✓", check] for check in CHECKS]

    client(provisioned, "cloudtrail").stop_logging(Name="spintrail")
    assert main([*args, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    by_check = {f["check"]: f for f in report["findings"]}
    assert list(by_check) == CHECKS
    assert by_check["trail.logging"]["severity"] == "error"
    assert APPLY in by_check["trail.logging"]["fix"]
    assert by_check["trail"]["severity"] == "ok" and by_check["trail"]["fix"] is None
