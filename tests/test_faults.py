"""Faults on the AWS side: every AWS path shares one retry policy (crates/spintrail-core/src/aws.rs)
and no error message is empty.

The SDK talks to moto (server mode, 127.0.0.1) through the fault-injecting proxy of
``fault_proxy.py``: throttling as each protocol speaks it, HTTP 500s, dropped connections,
responses reset mid-body (the call happened, its answer is lost) and latency, drawn from a seeded
RNG. boto3 reads the resulting state directly from moto, past the proxy. Each test prints its
figures (requests, faults injected, calls that survived them) and records them as properties.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import spintrail
from botocore.exceptions import ClientError
from fault_proxy import FaultProxy
from moto_server import MotoServer, free_port, isolate_aws_env, moto_fixtures, moto_server
from spintrail.provision import Stack

REGION = "eu-west-1"
BUCKET = "spintrail-fault-logs"
LOG_GROUP = "cloudtrail/spintrail"
ATHENA_REGION = "us-east-1"
ATHENA_ACCOUNT = "123456789012"  # moto's default account
RESULTS = "s3://athena-results/spintrail/"
LAUNCHER = str(Path(__file__).with_name("athena_moto.py"))

StartProxy = Callable[[str], FaultProxy]


def figures(proxy: FaultProxy, label: str, record: Callable[[str, object], None]) -> None:
    stats = proxy.stats
    print(f"\n{label}: {json.dumps(stats, sort_keys=True)}")
    record(label, json.dumps(stats, sort_keys=True))


# ---------------------------------------------------------------- provisioning


server, moto = moto_fixtures(REGION)


def stack(url: str, **connect: Any) -> Stack:
    # With a log group: IAM and CloudWatch Logs are on the path too.
    return Stack(
        bucket=BUCKET, region=REGION, prefix="ct", log_group=LOG_GROUP, endpoint_url=url, **connect
    )


def optional(read: Callable[[], Any]) -> Any:
    """A bucket setting, or None when the bucket has none (yet)."""
    try:
        return read()
    except ClientError:
        return None


def state(server: MotoServer) -> dict[str, Any]:
    """What exists, read with boto3 past the proxy; times and generated ids left out."""
    s3 = server.client("s3", REGION)
    ct = server.client("cloudtrail", REGION)
    glue = server.client("glue", REGION)
    athena = server.client("athena", REGION)
    iam = server.client("iam", REGION)
    logs = server.client("logs", REGION)
    out: dict[str, Any] = {"buckets": sorted(b["Name"] for b in s3.list_buckets()["Buckets"])}
    if BUCKET in out["buckets"]:
        out["bucket_tags"] = optional(
            lambda: sorted(
                (t["Key"], t["Value"]) for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]
            )
        )
        out["policy"] = optional(lambda: json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"]))
        out["encryption"] = optional(
            lambda: s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]
        )
        out["public_access"] = optional(
            lambda: s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
        )
    trails = ct.describe_trails()["trailList"]
    out["trails"] = trails
    out["logging"] = [ct.get_trail_status(Name=t["Name"])["IsLogging"] for t in trails]
    out["trail_tags"] = [
        sorted((t["Key"], t["Value"]) for t in tags.get("TagsList", []))
        for tags in ct.list_tags(ResourceIdList=[t["TrailARN"] for t in trails])["ResourceTagList"]
    ]
    workgroups = [w["Name"] for w in athena.list_work_groups()["WorkGroups"]]
    out["workgroups"] = sorted(workgroups)
    out["workgroup"] = (
        athena.get_work_group(WorkGroup="spintrail")["WorkGroup"]["Configuration"]
        if "spintrail" in workgroups
        else None
    )
    out["databases"] = sorted(
        (d["Name"], json.dumps(d.get("Parameters", {}), sort_keys=True))
        for d in glue.get_databases()["DatabaseList"]
    )
    tables = []
    for name, _ in out["databases"]:
        for table in glue.get_tables(DatabaseName=name)["TableList"]:
            tables.append(
                {
                    k: v
                    for k, v in table.items()
                    if k not in ("CreateTime", "UpdateTime", "VersionId", "CatalogId")
                }
            )
    out["tables"] = tables
    roles = [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("spintrail")]
    out["roles"] = sorted(
        (r["RoleName"], json.dumps(r["AssumeRolePolicyDocument"], sort_keys=True)) for r in roles
    )
    out["role_policies"] = sorted(
        (r["RoleName"], p)
        for r in roles
        for p in iam.list_role_policies(RoleName=r["RoleName"])["PolicyNames"]
    )
    out["log_groups"] = sorted(
        (g["logGroupName"], g.get("retentionInDays"))
        for g in logs.describe_log_groups()["logGroups"]
    )
    return out


def fault_free_state(moto: MotoServer) -> dict[str, Any]:
    stack(moto.url).apply()
    want = state(moto)
    moto.reset()
    return want


@pytest.mark.parametrize(("rate", "seed"), [(0.3, 11), (0.5, 12)])
def test_apply_rides_out_faults_in_one_run(
    moto: MotoServer,
    fault_proxy: StartProxy,
    record_property: Callable[[str, object], None],
    rate: float,
    seed: int,
) -> None:
    want = fault_free_state(moto)
    proxy = fault_proxy(moto.url)
    proxy.configure(rate=rate, seed=seed)
    result = stack(proxy.url).apply()
    assert result.changed
    figures(proxy, f"provision apply at {rate:.0%} faults", record_property)
    assert proxy.stats.get("faulted", 0) > 0, "the proxy injected nothing"
    assert state(moto) == want
    # And a second run (still faulted) finds nothing to change.
    assert not stack(proxy.url).apply().changed
    assert state(moto) == want


def test_an_interrupted_apply_says_what_it_did_and_converges_when_run_again(
    moto: MotoServer, fault_proxy: StartProxy, record_property: Callable[[str, object], None]
) -> None:
    want = fault_free_state(moto)
    proxy = fault_proxy(moto.url)
    # How many requests a fault-free apply makes; the outage starts after k of them.
    proxy.configure(rate=0.0, seed=0)
    stack(proxy.url).apply()
    total = proxy.stats["requests"]
    outages = list(range(0, total, max(1, total // 12)))
    interrupted = untagged = 0
    for k in outages:
        moto.reset()
        proxy.configure(rate=0.0, seed=k, fail_after=k)
        try:
            stack(proxy.url, max_attempts=2).apply()
        except spintrail.SpintrailError as err:
            interrupted += 1
            message = str(err)
            assert message.strip(), f"empty error after {k} requests"
            assert "Nothing was changed" in message or "Done before this step" in message, message
            assert "run `spintrail provision apply` again" in message or k == 0, message
            left = state(moto)
            # Nothing left created and unreported: what exists is named in the message (as a
            # step done before, or as the step that failed).
            if left["buckets"]:
                assert "s3 bucket" in message, message
            if left["trails"]:
                assert "cloudtrail trail" in message, message
            if left["workgroup"] is not None:
                assert "athena workgroup" in message, message
            if left["databases"]:
                assert "glue database" in message, message
            if left["tables"]:
                assert "glue table" in message, message
            if left["roles"]:
                assert "iam role" in message, message
            if left["log_groups"]:
                assert "cloudwatch log group" in message, message
        else:
            assert state(moto) == want, f"an outage after {k} requests went unnoticed"
            continue
        proxy.configure(rate=0.0, seed=k)
        stack(proxy.url, max_attempts=2).apply()
        now = state(moto)
        if message.startswith("s3 bucket") and now["bucket_tags"] is None:
            # S3 cannot create a bucket with its tags: an outage between CreateBucket and
            # PutBucketTagging leaves an untagged bucket, which the next apply cannot tell from
            # a bucket of the user's and reuses untagged - as the error said it would.
            untagged += 1
            assert now["bucket_tags"] is None
            now["bucket_tags"] = want["bucket_tags"]
        assert now == want, f"the run after an outage at request {k} did not converge"
    print(
        f"\napply ({total} requests) interrupted {interrupted} times; each converged "
        f"({untagged} with the bucket left untagged, as reported)"
    )
    record_property("interrupted applies", interrupted)
    assert interrupted == len(outages)


def test_a_bodiless_503_names_its_status_the_operation_and_the_attempts(
    moto: MotoServer, fault_proxy: StartProxy
) -> None:
    proxy = fault_proxy(moto.url)
    # Request 1 is STS GetCallerIdentity; from request 2 on (HeadBucket) everything is
    # throttled, which S3 answers to a HEAD with a bare 503.
    proxy.configure(rate=0.0, seed=1, fail_after=1, kinds=("throttle",))
    with pytest.raises(spintrail.SpintrailError) as caught:
        stack(proxy.url, max_attempts=3).apply()
    message = str(caught.value)
    assert re.search(rf"HeadBucket.*{BUCKET}|{BUCKET}.*HeadBucket", message), message
    assert "HTTP 503 Service Unavailable" in message, message
    assert "no error message" in message and "after 3 attempts" in message, message
    assert "Nothing was changed" in message, message


def test_every_fault_at_100_percent_fails_with_a_message_naming_the_call(
    moto: MotoServer, fault_proxy: StartProxy
) -> None:
    proxy = fault_proxy(moto.url)
    for kind in ("throttle", "server_error", "drop", "reset"):
        proxy.configure(rate=1.0, seed=2, kinds=(kind,))
        with pytest.raises(spintrail.SpintrailError) as caught:
            stack(proxy.url, max_attempts=2).apply()
        message = str(caught.value)
        assert "GetCallerIdentity" in message, (kind, message)
        assert "after 2 attempts" in message, (kind, message)
        assert "Nothing was changed" in message, (kind, message)
        assert proxy.stats["requests"] == 2, (kind, proxy.stats)


def test_a_refused_connection_is_not_retried(moto: MotoServer) -> None:
    # Nothing listens on a fresh free port: the policy fails at once instead of backing off.
    with pytest.raises(spintrail.SpintrailError) as caught:
        stack(f"http://127.0.0.1:{free_port()}").plan()
    message = str(caught.value)
    assert "GetCallerIdentity" in message, message
    assert "refused" in message and "not retried" in message, message
    assert "attempts)" not in message, message


# ---------------------------------------------------------------- Athena


@pytest.fixture(scope="module")
def athena_server() -> Iterator[MotoServer]:
    with moto_server(LAUNCHER) as s:
        yield s


@pytest.fixture()
def athena_moto(
    athena_server: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[MotoServer]:
    athena_server.reset()
    isolate_aws_env(monkeypatch, tmp_path, ATHENA_REGION)
    athena_server.client("s3", ATHENA_REGION).create_bucket(Bucket="athena-results")
    yield athena_server


def seed_result(server: MotoServer, rows: list[list[str]]) -> None:
    """Queues the result of the next query (header row first), as test_athena.py does."""
    columns = [("n", "integer"), ("name", "varchar")]
    info = [
        {
            "Name": name,
            "Label": name,
            "Type": kind,
            "Precision": 0,
            "Scale": 0,
            "Nullable": "UNKNOWN",
            "CaseSensitive": kind == "varchar",
        }
        for name, kind in columns
    ]
    data = [[name for name, _ in columns], *rows]
    server.post_json(
        "/moto-api/static/athena/query-results",
        {
            "account_id": ATHENA_ACCOUNT,
            "region": ATHENA_REGION,
            "results": [
                {
                    "rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in data],
                    "column_info": info,
                }
            ],
        },
    )


# Plain values: quoting in the emulator's CSV result objects is another test's subject.
ROWS = [[str(i), f"name-{i}"] for i in range(2500)]


def athena(url: str, **options: Any) -> spintrail.AthenaSession:
    return spintrail.connect(
        engine="athena",
        endpoint_url=url,
        output_location=RESULTS,
        workgroup="primary",
        **options,
    )


@pytest.mark.parametrize(("rate", "seed"), [(0.3, 21), (0.5, 22)])
def test_athena_queries_and_result_reads_ride_out_faults(
    athena_moto: MotoServer,
    fault_proxy: StartProxy,
    record_property: Callable[[str, object], None],
    rate: float,
    seed: int,
) -> None:
    seed_result(athena_moto, ROWS)
    clean = athena(athena_moto.url).sql("SELECT n, name FROM t", fetch="pages").to_pylist()
    assert len(clean) == len(ROWS)
    proxy = fault_proxy(athena_moto.url)
    proxy.configure(rate=rate, seed=seed)
    # Paging (GetQueryResults) and the result object (S3 HeadObject and ranged GetObjects).
    for fetch in ("pages", "csv") * 5:
        seed_result(athena_moto, ROWS)
        session = athena(proxy.url, fast_fetch_bytes=1)
        table = session.sql("SELECT n, name FROM t", fetch=fetch)
        assert table.to_pylist() == clean, fetch
        info = session.last_query
        assert info is not None and info.fetch == fetch
    figures(proxy, f"athena queries at {rate:.0%} faults", record_property)
    assert proxy.stats.get("faulted", 0) > 0


def test_athena_at_100_percent_faults_names_the_call(
    athena_moto: MotoServer, fault_proxy: StartProxy
) -> None:
    proxy = fault_proxy(athena_moto.url)
    for kind in ("throttle", "server_error", "drop", "reset"):
        proxy.configure(rate=1.0, seed=3, kinds=(kind,))
        seed_result(athena_moto, [["1", "a"]])
        with pytest.raises(spintrail.SpintrailError) as caught:
            athena(proxy.url, max_attempts=2).sql("SELECT n, name FROM t")
        message = str(caught.value)
        assert "StartQueryExecution" in message, (kind, message)
        assert "after 2 attempts" in message, (kind, message)


# ---------------------------------------------------------------- CloudWatch Logs Insights

LOG_REGION = "us-east-1"
TRAIL_GROUP = "aws-cloudtrail-logs-spintrail"
STREAM = "457448411975_CloudTrail_us-east-1"


@pytest.fixture(scope="module")
def logs_server() -> Iterator[MotoServer]:
    with moto_server(str(Path(__file__).with_name("cloudwatch_moto.py"))) as s:
        yield s


def test_logs_insights_queries_ride_out_faults(
    logs_server: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fault_proxy: StartProxy,
    record_property: Callable[[str, object], None],
) -> None:
    logs_server.reset()
    isolate_aws_env(monkeypatch, tmp_path, LOG_REGION)
    with gzip.open(Path(__file__).parent / "data" / "real" / "stratus-red-team.json.gz") as f:
        records = json.load(f)["Records"][:40]
    logs = logs_server.client("logs", LOG_REGION)
    logs.create_log_group(logGroupName=TRAIL_GROUP)
    logs.create_log_stream(logGroupName=TRAIL_GROUP, logStreamName=STREAM)
    first = (int(time.time()) - 600) * 1000
    logs.put_log_events(
        logGroupName=TRAIL_GROUP,
        logStreamName=STREAM,
        logEvents=[
            {"timestamp": first + i * 1000, "message": json.dumps(r)} for i, r in enumerate(records)
        ],
    )
    query = "fields @timestamp, eventName | sort @timestamp asc"

    def run(url: str) -> list[dict[str, Any]]:
        session = spintrail.connect(engine="cloudwatch", log_group=TRAIL_GROUP, endpoint_url=url)
        return session.insights(query).to_pylist()

    clean = run(logs_server.url)
    assert len(clean) == len(records)
    proxy = fault_proxy(logs_server.url)
    proxy.configure(rate=0.5, seed=31)
    for _ in range(5):
        assert run(proxy.url) == clean
    figures(proxy, "logs insights queries at 50% faults", record_property)
    assert proxy.stats.get("faulted", 0) > 0
