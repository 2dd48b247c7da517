"""Provisioning against a real AWS-protocol server: moto in server mode on 127.0.0.1, started
by the fixture below. boto3 (an independent client) reads back what spintrail provisioned.

Where moto lacks a behaviour, the test says so:
- CloudTrail never delivers log files, and CreateTrail does not check the bucket policy;
- Athena has no UpdateWorkGroup (drift of a workgroup cannot be corrected there), and it
  does not enforce the bytes-scanned cutoff (the setting itself is read back);
- IAM does not make CloudTrail check the CloudWatch Logs role.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import spintrail
from botocore.exceptions import ClientError
from moto_server import MotoServer, moto_fixtures
from spintrail.cli import main
from spintrail.provision import Stack

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
BUCKET = "spintrail-test-logs"


server, moto = moto_fixtures(REGION)


def client(server: MotoServer, service: str) -> Any:
    return server.client(service, REGION)


def stack(server: MotoServer, **options: Any) -> Stack:
    options.setdefault("bucket", BUCKET)
    options.setdefault("region", REGION)
    return Stack(endpoint_url=server.url, max_attempts=1, **options)


def actions(result: spintrail.ProvisionResult) -> dict[str, str]:
    return {f"{c.kind}:{c.name}": c.action for c in result.changes}


def test_plan_changes_nothing(moto: MotoServer) -> None:
    plan = stack(moto, prefix="ct").plan()
    assert plan.operation == "plan"
    assert plan.account == ACCOUNT and plan.region == REGION
    assert plan.changed
    got = actions(plan)
    assert got[f"s3 bucket:{BUCKET}"] == "create"
    assert got["cloudtrail trail:spintrail"] == "create"
    assert got["athena workgroup:spintrail"] == "create"
    assert got["glue table:default.cloudtrail_logs"] == "create"
    assert "+ s3 bucket" in str(plan)
    assert client(moto, "s3").list_buckets()["Buckets"] == []
    assert client(moto, "cloudtrail").describe_trails()["trailList"] == []


def test_apply_reads_back_with_boto3(moto: MotoServer, real_dir: Path) -> None:
    result = stack(moto, prefix="ct", expire_days=400, tags={"team": "sec"}).apply()
    assert result.changed
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/spintrail"
    assert result.resources["trail_arn"] == trail_arn
    assert result.resources["results"] == f"s3://{BUCKET}/ct/athena-results/"

    s3 = client(moto, "s3")
    location = s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"]
    assert location == REGION
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert tags == {"spintrail:managed": "true", "spintrail:stack": "spintrail", "team": "sec"}
    rules = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert [(r["ID"], r["Expiration"]["Days"]) for r in rules] == [("spintrail-expire-logs", 400)]

    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    acl = by_sid["SpintrailCloudTrailAclCheck"]
    assert acl["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert acl["Action"] == "s3:GetBucketAcl"
    assert acl["Condition"] == {"StringEquals": {"aws:SourceArn": trail_arn}}
    write = by_sid["SpintrailCloudTrailWrite"]
    assert write["Action"] == "s3:PutObject"
    assert write["Resource"] == f"arn:aws:s3:::{BUCKET}/ct/AWSLogs/{ACCOUNT}/*"
    assert write["Condition"] == {
        "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}
    }
    tls = by_sid["SpintrailDenyInsecureTransport"]
    assert tls["Effect"] == "Deny"
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    ct = client(moto, "cloudtrail")
    trail = ct.get_trail(Name="spintrail")["Trail"]
    assert trail["S3BucketName"] == BUCKET
    assert trail["S3KeyPrefix"] == "ct"
    assert trail["IsMultiRegionTrail"] is True
    assert trail["LogFileValidationEnabled"] is True
    assert trail["IsOrganizationTrail"] is False
    assert ct.get_trail_status(Name="spintrail")["IsLogging"] is True
    trail_tags = ct.list_tags(ResourceIdList=[trail_arn])["ResourceTagList"][0]["TagsList"]
    assert {"Key": "spintrail:managed", "Value": "true"} in trail_tags

    athena = client(moto, "athena")
    config = athena.get_work_group(WorkGroup="spintrail")["WorkGroup"]["Configuration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["PublishCloudWatchMetricsEnabled"] is True
    assert config["BytesScannedCutoffPerQuery"] == 10 * 1024**3
    assert config["ResultConfiguration"]["OutputLocation"] == f"s3://{BUCKET}/ct/athena-results/"
    encryption = config["ResultConfiguration"]["EncryptionConfiguration"]
    assert encryption["EncryptionOption"] == "SSE_S3"

    glue = client(moto, "glue")
    assert glue.get_database(Name="default")["Database"]["Parameters"]["spintrail:managed"] == (
        "true"
    )
    table = glue.get_table(DatabaseName="default", Name="cloudtrail_logs")["Table"]
    sd = table["StorageDescriptor"]
    columns = {c["Name"]: c["Type"] for c in sd["Columns"]}
    assert len(columns) == 29
    assert columns["eventtime"] == "string"
    assert columns["readonly"] == "string"
    assert columns["resources"] == "array<struct<arn:string,accountid:string,type:string>>"
    assert columns["useridentity"].startswith("struct<type:string,principalid:string,arn:string")
    assert [(c["Name"], c["Type"]) for c in table["PartitionKeys"]] == [
        ("account", "string"),
        ("region", "string"),
        ("day", "string"),
    ]
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.apache.hive.hcatalog.data.JsonSerDe"
    assert sd["InputFormat"] == "com.amazon.emr.cloudtrail.CloudTrailInputFormat"
    assert sd["Location"] == f"s3://{BUCKET}/ct/AWSLogs/"
    p = table["Parameters"]
    assert p["projection.enabled"] == "true"
    assert p["projection.account.type"] == "enum"
    assert p["projection.account.values"] == ACCOUNT
    assert p["projection.region.type"] == "enum"
    assert REGION in p["projection.region.values"].split(",")
    assert p["projection.day.type"] == "date"
    assert p["projection.day.format"] == "yyyy/MM/dd"
    assert p["projection.day.range"] == "2024/01/01,NOW"
    assert p["storage.location.template"] == (
        f"s3://{BUCKET}/ct/AWSLogs/${{account}}/CloudTrail/${{region}}/${{day}}"
    )

    # The same schema the embedded engine uses.
    session = spintrail.connect(real_dir / "otrf-security-datasets.json.gz")
    local = session.sql("SELECT * FROM cloudtrail_logs LIMIT 0").schema.names
    assert [c["Name"] for c in sd["Columns"]] + ["account", "region", "day"] == local

    again = stack(moto, prefix="ct", expire_days=400, tags={"team": "sec"}).apply()
    assert not again.changed, str(again)
    assert not stack(moto, prefix="ct", expire_days=400, tags={"team": "sec"}).plan().changed


def test_drift_is_planned_and_corrected(moto: MotoServer) -> None:
    stack(moto).apply()
    s3 = client(moto, "s3")
    s3.delete_public_access_block(Bucket=BUCKET)
    client(moto, "cloudtrail").stop_logging(Name="spintrail")
    client(moto, "glue").delete_table(DatabaseName="default", Name="cloudtrail_logs")
    plan = stack(moto).plan()
    got = actions(plan)
    assert got[f"s3 public access block:{BUCKET}"] == "create"
    assert got["cloudtrail logging:spintrail"] == "update"
    assert got["glue table:default.cloudtrail_logs"] == "create"
    assert got["athena workgroup:spintrail"] == "no_change"
    # The trail's settings change through UpdateTrail.
    changed = stack(moto, multi_region=False).apply()
    assert actions(changed)["cloudtrail trail:spintrail"] == "update"
    trail = client(moto, "cloudtrail").get_trail(Name="spintrail")["Trail"]
    assert trail["IsMultiRegionTrail"] is False
    assert client(moto, "cloudtrail").get_trail_status(Name="spintrail")["IsLogging"] is True
    assert not stack(moto, multi_region=False).apply().changed


def test_destroy_keeps_the_bucket_unless_asked(moto: MotoServer) -> None:
    stack(moto).apply()
    s3 = client(moto, "s3")
    key = f"AWSLogs/{ACCOUNT}/CloudTrail/x.json.gz"
    # moto evaluates the policy's deny-without-TLS statement on PutObject (this is plain HTTP).
    with pytest.raises(ClientError, match="Forbidden"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    # Without the policy the write goes through; apply then restores the policy.
    s3.delete_bucket_policy(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    assert actions(stack(moto).plan())[f"s3 bucket policy:{BUCKET}"] == "create"
    assert actions(stack(moto).apply())[f"s3 bucket policy:{BUCKET}"] == "create"
    result = stack(moto).destroy()
    got = actions(result)
    assert got["glue table:default.cloudtrail_logs"] == "delete"
    assert got["glue database:default"] == "delete"
    assert got["athena workgroup:spintrail"] == "delete"
    assert got["cloudtrail trail:spintrail"] == "delete"
    assert got[f"s3 bucket:{BUCKET}"] == "keep"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [BUCKET]
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1
    assert client(moto, "cloudtrail").describe_trails()["trailList"] == []
    assert client(moto, "glue").get_databases()["DatabaseList"] == []
    names = [w["Name"] for w in client(moto, "athena").list_work_groups()["WorkGroups"]]
    assert "spintrail" not in names
    # Destroying again changes nothing; then the bucket only when asked explicitly.
    assert not stack(moto).destroy().changed
    # Over plain HTTP the policy's TLS deny also stops DeleteObjects (AWS itself is HTTPS): the
    # error says so and keeps the bucket; without the policy the deletion goes through.
    with pytest.raises(spintrail.ProvisionError, match="the bucket is kept"):
        stack(moto).destroy(delete_bucket=True)
    s3.delete_bucket_policy(Bucket=BUCKET)
    gone = stack(moto).destroy(delete_bucket=True)
    assert actions(gone)[f"s3 bucket:{BUCKET}"] == "delete"
    assert s3.list_buckets()["Buckets"] == []


def test_never_touches_what_it_did_not_create(moto: MotoServer) -> None:
    s3 = client(moto, "s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    theirs = {
        "Sid": "Theirs",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }
    s3.put_bucket_policy(
        Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [theirs]})
    )
    client(moto, "glue").create_database(DatabaseInput={"Name": "default"})
    result = stack(moto).apply()
    assert actions(result)[f"s3 bucket:{BUCKET}"] == "no_change"
    statements = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]
    assert statements[0] == theirs
    assert len(statements) == 4
    assert not stack(moto).apply().changed
    gone = stack(moto).destroy(delete_bucket=True)
    got = actions(gone)
    assert got[f"s3 bucket:{BUCKET}"] == "keep"
    assert got["glue database:default"] == "keep"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [BUCKET]
    assert client(moto, "glue").get_database(Name="default")["Database"]["Name"] == "default"


def test_foreign_workgroup_is_never_changed(moto: MotoServer) -> None:
    athena = client(moto, "athena")
    athena.create_work_group(
        Name="theirs",
        Configuration={"ResultConfiguration": {"OutputLocation": "s3://elsewhere/"}},
    )
    with pytest.raises(spintrail.ProvisionError) as caught:
        stack(moto, workgroup="theirs").apply()
    message = str(caught.value)
    assert message.startswith("athena workgroup:")
    assert "not created by spintrail" in message
    assert "result location: s3://elsewhere/ ->" in message  # what differs
    assert "--workgroup" in message  # what to do about it
    assert "cloudtrail trail spintrail (create)" in message  # what exists now
    assert "run `spintrail provision apply` again" in message  # how to resume
    gone = stack(moto, workgroup="theirs").destroy()
    kept = next(c for c in gone.changes if c.kind == "athena workgroup")
    assert kept.action == "keep"
    assert kept.details == ("not created by this stack: left untouched",)
    assert actions(gone)["cloudtrail trail:spintrail"] == "delete"
    config = athena.get_work_group(WorkGroup="theirs")["WorkGroup"]["Configuration"]
    assert config["ResultConfiguration"]["OutputLocation"] == "s3://elsewhere/"


def test_expiry_is_added_changed_and_removed_beside_other_rules(moto: MotoServer) -> None:
    stack(moto).apply()
    s3 = client(moto, "s3")
    theirs = {"ID": "theirs", "Status": "Enabled", "Filter": {"Prefix": "other/"}}
    s3.put_bucket_lifecycle_configuration(
        Bucket=BUCKET,
        LifecycleConfiguration={"Rules": [{**theirs, "Expiration": {"Days": 7}}]},
    )

    def expiry(**options: Any) -> tuple[str, tuple[str, ...]]:
        change = next(
            c for c in stack(moto, **options).apply().changes if c.kind == "s3 lifecycle expiry"
        )
        return change.action, change.details

    def rules() -> dict[str, int]:
        found = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
        return {r["ID"]: r["Expiration"]["Days"] for r in found}

    assert expiry() == ("no_change", ("no expiry (logs kept until deleted)",))
    assert expiry(expire_days=30) == ("create", ("expire AWSLogs objects after: never -> 30 days",))
    assert rules() == {"theirs": 7, "spintrail-expire-logs": 30}
    assert expiry(expire_days=60) == ("update", ("expire AWSLogs objects after: 30 -> 60 days",))
    assert rules() == {"theirs": 7, "spintrail-expire-logs": 60}
    assert expiry() == ("delete", ("expire AWSLogs objects after: 60 -> never days",))
    assert rules() == {"theirs": 7}
    assert not stack(moto).apply().changed


def test_trail_with_another_bucket_then_resume(moto: MotoServer) -> None:
    s3 = client(moto, "s3")
    s3.create_bucket(
        Bucket="other-bucket", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    ct = client(moto, "cloudtrail")
    ct.create_trail(Name="spintrail", S3BucketName="other-bucket")
    with pytest.raises(spintrail.ProvisionError) as caught:
        stack(moto).apply()
    message = str(caught.value)
    assert message.startswith("cloudtrail trail:")
    assert "other-bucket" in message
    assert "not created by spintrail" in message
    assert f"s3 bucket {BUCKET} (create)" in message  # what exists now
    assert "run `spintrail provision apply` again" in message  # how to resume
    # The partial apply left the bucket; once the conflict is gone, apply finishes the job.
    ct.delete_trail(Name="spintrail")
    result = stack(moto).apply()
    got = actions(result)
    assert got[f"s3 bucket:{BUCKET}"] == "no_change"
    assert got["cloudtrail trail:spintrail"] == "create"
    assert ct.get_trail(Name="spintrail")["Trail"]["S3BucketName"] == BUCKET


def test_bucket_owned_by_another_account(moto: MotoServer) -> None:
    # moto maps credentials from STS AssumeRole into the role's account.
    creds = client(moto, "sts").assume_role(
        RoleArn="arn:aws:iam::111111111111:role/other", RoleSessionName="other-account"
    )["Credentials"]
    other = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=moto.url,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    other.create_bucket(
        Bucket="taken-bucket", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    try:
        stack(moto, bucket="taken-bucket").apply()
    except spintrail.ProvisionError as err:
        assert str(err).startswith("s3 bucket")
        assert "another account" in str(err)
    else:
        # moto 5 keeps S3 buckets per account, so a second account may create a name the first
        # one owns; against real S3 this apply fails with the error asserted above. The skip
        # records that moto could not exercise the path (it never passes silently).
        pytest.skip("moto let a second account reuse the bucket name")  # reason: above


def test_missing_credentials(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(spintrail.ProvisionError, match=r"^credentials: no AWS credentials found"):
        stack(moto).plan()


def test_unreachable_endpoint_fails_fast(moto: MotoServer) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(spintrail.ProvisionError, match="cannot reach the AWS endpoint"):
        Stack(BUCKET, region=REGION, endpoint_url=f"http://127.0.0.1:{port}").plan()
    assert time.monotonic() - started < 20


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"bucket": "Not_A_Bucket"}, "bucket"),
        ({"trail": "a--b"}, "trail"),
        ({"table": "Cloud-Trail"}, "table"),
        ({"accounts": ["42"]}, "accounts"),
        ({"organization": True}, "org_id"),
        ({"bytes_scanned_cutoff": 1}, "bytes_scanned_cutoff"),
        ({"projection_start": "2024-01-01"}, "projection_start"),
    ],
)
def test_invalid_options(options: dict[str, Any], needle: str) -> None:
    options.setdefault("bucket", BUCKET)
    with pytest.raises(spintrail.InvalidArgumentError, match=needle):
        Stack(**options)


def test_toml_file_and_overrides(moto: MotoServer, tmp_path: Path) -> None:
    config = tmp_path / "stack.toml"
    config.write_text(
        f'bucket = "{BUCKET}"\nregion = "{REGION}"\nmulti_region = false\n'
        'workgroup = "from-file"\nbytes_scanned_cutoff = 100000000\n[tags]\nowner = "me"\n'
    )
    s = Stack(config_file=config, workgroup="override", endpoint_url=moto.url, max_attempts=1)
    assert s.options["workgroup"] == "override"
    assert s.options["multi_region"] is False
    assert s.options["tags"] == {"owner": "me"}
    s.apply()
    wg = client(moto, "athena").get_work_group(WorkGroup="override")["WorkGroup"]
    assert wg["Configuration"]["BytesScannedCutoffPerQuery"] == 100_000_000
    table = client(moto, "glue").get_table(DatabaseName="default", Name="cloudtrail_logs")
    assert table["Table"]["Parameters"]["projection.region.values"] == REGION
    bad = tmp_path / "bad.toml"
    bad.write_text('bucket = "x-logs"\ncolour = "blue"\n')
    with pytest.raises(spintrail.InvalidArgumentError, match="colour"):
        Stack(config_file=bad)


def test_cloudwatch_logs_delivery(moto: MotoServer) -> None:
    result = stack(moto, log_group="cloudtrail/spintrail").apply()
    got = actions(result)
    assert got["cloudwatch log group:cloudtrail/spintrail"] == "create"
    assert got["iam role:spintrail-cloudwatch-logs"] == "create"
    groups = client(moto, "logs").describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["cloudtrail/spintrail"]
    role = client(moto, "iam").get_role(RoleName="spintrail-cloudwatch-logs")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = trust if isinstance(trust, dict) else json.loads(trust)
    assert trust["Statement"][0]["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceArn"].endswith(
        ":trail/spintrail"
    )
    inline = client(moto, "iam").get_role_policy(
        RoleName="spintrail-cloudwatch-logs",
        PolicyName="spintrail-cloudtrail-to-cloudwatch-logs",
    )["PolicyDocument"]
    inline = inline if isinstance(inline, dict) else json.loads(inline)
    assert inline["Statement"][0]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    trail = client(moto, "cloudtrail").get_trail(Name="spintrail")["Trail"]
    assert trail["CloudWatchLogsLogGroupArn"].startswith(
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:cloudtrail/spintrail"
    )
    assert trail["CloudWatchLogsRoleArn"] == role["Arn"]
    assert not stack(moto, log_group="cloudtrail/spintrail").apply().changed
    gone = actions(stack(moto, log_group="cloudtrail/spintrail").destroy())
    assert gone["iam role:spintrail-cloudwatch-logs"] == "delete"
    assert gone["cloudwatch log group:cloudtrail/spintrail"] == "keep"


def test_cli_plan_apply_destroy_and_ddl(
    moto: MotoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--bucket", BUCKET, "--region", REGION, "--endpoint-url", moto.url]
    assert main(["provision", "plan", *common, "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["operation"] == "plan" and plan["changed"] is True
    assert main(["provision", "apply", *common, "--single-region", "--tag", "team=sec"]) == 0
    out = capsys.readouterr().out
    assert "+ cloudtrail trail" in out and "apply:" in out
    assert main(["provision", "apply", *common, "--single-region", "--tag", "team=sec"]) == 0
    assert "apply: 0 resources changed" in capsys.readouterr().out
    assert main(["provision", "destroy", *common]) == 0
    assert "keep" in capsys.readouterr().out
    assert main(["provision", *common, "--account", "111111111111", "--print-ddl"]) == 0
    ddl = capsys.readouterr().out
    assert ddl.startswith("CREATE EXTERNAL TABLE IF NOT EXISTS `default`.`cloudtrail_logs` (")
    assert "'projection.account.values'='111111111111'" in ddl
    assert main(["provision", "apply", "--bucket", "Bad_Name"]) == 2
    assert "bucket" in capsys.readouterr().err
