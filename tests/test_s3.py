"""S3 as a source and `spintrail sync`, against a moto S3 server: the same answers as the same
files on disk, listings pruned to the day prefixes a query can touch, clear errors, and a sync
that copies only what changed, resumes after an interruption and keeps digest signatures."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import spintrail
from fault_proxy import FaultProxy
from moto_server import MotoServer, free_port, is_head_bucket, moto_fixtures, signed_for
from spintrail.cli import main
from spintrail.generate import generate
from spintrail.sync import sync
from spintrail.verify import verify

REGION = "us-east-1"
DATA = Path(__file__).parent / "data"
KEY = DATA / "digest-test-key.pk8"
PUBLIC = DATA / "digest-test-key.pub.der"

server, moto = moto_fixtures(REGION)

QUERIES = [
    "SELECT count(*) AS n FROM cloudtrail_logs",
    "SELECT account, region, day, count(*) AS n FROM cloudtrail_logs "
    "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    "SELECT eventid, eventname, eventsource FROM cloudtrail_logs ORDER BY eventid",
]


def upload(
    moto: MotoServer, root: Path, bucket: str, prefix: str = "", region: str = REGION
) -> list[str]:
    """Every file under ``root`` as an object under ``prefix`` of a new bucket in ``region``; a
    digest's signature sidecar becomes its ``x-amz-meta-signature`` metadata, as CloudTrail
    delivers it."""
    s3 = moto.client("s3", region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    keys = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.endswith(".signature"):
            continue
        key = prefix + path.relative_to(root).as_posix()
        sidecar = Path(str(path) + ".signature")
        metadata = {"signature": sidecar.read_text()} if sidecar.exists() else {}
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), Metadata=metadata)
        keys.append(key)
    return keys


def answers(session: spintrail.Session, queries: list[str]) -> list[list[dict[str, object]]]:
    return [session.sql(q).to_pylist() for q in queries]


@pytest.fixture(scope="module")
def days_trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six days of logs of two accounts (an organization trail) in two regions (a few hundred
    small files: the generator writes a file per account, region and ten minutes)."""
    out = tmp_path_factory.mktemp("days")
    generate(
        out,
        events=300,
        days=6,
        end="2024-07-30T00:00:00Z",
        accounts=["111111111111", "222222222222"],
        regions=["us-east-1", "eu-west-1"],
        org_id="o-abc123",
        events_per_file=100,
        threads=1,
    )
    return out


@pytest.fixture(scope="module")
def signed_trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four hours of logs with signed digest files."""
    out = tmp_path_factory.mktemp("signed")
    generate(
        out,
        events=2000,
        days=1,
        end="2024-07-30T04:00:00Z",
        accounts=["111111111111"],
        regions=[REGION],
        events_per_file=250,
        threads=1,
        digests=KEY,
    )
    return out


def day_files(root: Path, *days: str) -> list[Path]:
    """The event log files of these day folders (of every day when none is named)."""
    return [
        p
        for p in root.rglob("*.json.gz")
        if "/CloudTrail/" in p.as_posix()
        and (not days or any(f"/{d}/" in p.as_posix() for d in days))
    ]


# --- S3 as a source ---------------------------------------------------------------------------


def test_layout_answers_match_the_local_copy(layout: Path, moto: MotoServer) -> None:
    upload(moto, layout, "trail-bucket", "base/")
    remote = spintrail.connect("s3://trail-bucket/base/", endpoint_url=moto.url)
    local = spintrail.connect(layout)
    assert answers(remote, QUERIES) == answers(local, QUERIES)
    stats = remote.last_stats
    assert stats is not None
    assert stats.files_read == 3
    assert stats.bytes_read == sum(
        p.stat().st_size for p in layout.rglob("*.json.gz") if "/CloudTrail/" in p.as_posix()
    )
    assert stats.records_read > 0
    # The organization layout and the single-account one are both read, digests left out.
    accounts = remote.sql("SELECT DISTINCT account FROM cloudtrail_logs ORDER BY 1")
    assert accounts.column("account").to_pylist() == ["111111111111", "222222222222"]


def test_a_flat_prefix_takes_partitions_from_the_records(flat: Path, moto: MotoServer) -> None:
    upload(moto, flat, "flat-bucket", "downloads/")
    remote = spintrail.connect("s3://flat-bucket/downloads", endpoint_url=moto.url)
    assert answers(remote, QUERIES) == answers(spintrail.connect(flat), QUERIES)


def test_generated_days_match_and_filters_prune_the_listing(
    days_trail: Path, moto: MotoServer
) -> None:
    upload(moto, days_trail, "days-bucket")
    source = "s3://days-bucket/"
    remote = spintrail.connect(source, endpoint_url=moto.url, late_delivery_days=0)
    local = spintrail.connect(days_trail, late_delivery_days=0)
    every = len(day_files(days_trail))
    assert answers(remote, QUERIES[:2]) == answers(local, QUERIES[:2])
    assert remote.last_stats is not None and remote.last_stats.files_listed == every

    one_day = (
        "SELECT count(*) AS n FROM cloudtrail_logs "
        "WHERE eventtime >= '2024-07-25T00:00:00Z' AND eventtime < '2024-07-26T00:00:00Z'"
    )
    assert answers(remote, [one_day]) == answers(local, [one_day])
    stats = remote.last_stats
    assert stats is not None
    # Only the day prefixes that can hold such events were listed at all: 2024/07/25, and
    # 2024/07/26 (a text comparison bounds the day only), of each account and region; the
    # local scan lists every file and prunes to the same ones.
    listed = len(day_files(days_trail, "2024/07/25", "2024/07/26"))
    assert 0 < listed < every
    assert stats.files_listed == stats.files_read == listed
    assert local.last_stats is not None
    assert local.last_stats.files_listed - local.last_stats.files_pruned == listed

    by_partition = (
        "SELECT count(*) AS n FROM cloudtrail_logs "
        "WHERE day = '2024/07/27' AND region = 'eu-west-1' AND account = '222222222222'"
    )
    assert answers(remote, [by_partition]) == answers(local, [by_partition])
    stats = remote.last_stats
    assert stats is not None
    expected = [
        p
        for p in day_files(days_trail, "2024/07/27")
        if "/eu-west-1/" in p.as_posix() and "/222222222222/" in p.as_posix()
    ]
    assert stats.files_listed == len(expected) > 0

    # With the default late-delivery margin, the folders of the 30 days after may hold events
    # of that day too: they are listed (those that exist), and no answer changes.
    margin = spintrail.connect(source, endpoint_url=moto.url)
    assert answers(margin, [one_day]) == answers(local, [one_day])
    assert margin.last_stats is not None
    assert margin.last_stats.files_listed == len(day_files(days_trail, *days_from(25, 31)))


def days_from(first: int, last: int) -> list[str]:
    return [f"2024/07/{d:02d}" for d in range(first, last + 1)]


def test_a_corrupt_object_is_named(layout: Path, moto: MotoServer) -> None:
    upload(moto, layout, "corrupt-bucket")
    key = "AWSLogs/111111111111/CloudTrail/us-east-1/2024/07/30/broken.json.gz"
    moto.client("s3", REGION).put_object(Bucket="corrupt-bucket", Key=key, Body=b"not gzip")
    session = spintrail.connect("s3://corrupt-bucket/", endpoint_url=moto.url)
    with pytest.raises(spintrail.LogFileError, match=f"s3://corrupt-bucket/{key}"):
        session.sql("SELECT count(*) FROM cloudtrail_logs")
    skipping = spintrail.connect("s3://corrupt-bucket/", endpoint_url=moto.url, on_error="skip")
    skipping.sql("SELECT count(*) FROM cloudtrail_logs")
    stats = skipping.last_stats
    assert stats is not None and stats.files_skipped == 1
    assert f"s3://corrupt-bucket/{key}" in str(stats.problems[0])


def test_a_missing_bucket_is_named(moto: MotoServer) -> None:
    session = spintrail.connect("s3://no-such-bucket/logs/", endpoint_url=moto.url)
    with pytest.raises(spintrail.SpintrailError, match="NoSuchBucket") as err:
        session.sql("SELECT count(*) FROM cloudtrail_logs")
    assert "s3://no-such-bucket/logs/" in str(err.value)


def test_missing_credentials_are_explained(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    session = spintrail.connect("s3://some-bucket/", endpoint_url=moto.url)
    with pytest.raises(spintrail.SpintrailError, match="no AWS credentials found"):
        session.sql("SELECT count(*) FROM cloudtrail_logs")


def test_an_unreachable_endpoint_is_explained(moto: MotoServer) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    session = spintrail.connect("s3://some-bucket/", endpoint_url=nowhere)
    with pytest.raises(spintrail.SpintrailError, match="cannot reach the AWS endpoint"):
        session.sql("SELECT count(*) FROM cloudtrail_logs")


def test_a_url_naming_one_object_reads_that_object(
    layout: Path, moto: MotoServer, tmp_path: Path
) -> None:
    keys = upload(moto, layout, "one-bucket")
    key = next(k for k in keys if k.endswith("stratus-red-team.json.gz"))
    other = next(k for k in keys if k.endswith("panther-analysis.json.gz"))
    digest = next(k for k in keys if "CloudTrail-Digest" in k)
    # A key that goes on from the named one is another object: not read.
    moto.client("s3", REGION).copy_object(
        Bucket="one-bucket",
        Key=key + "-2.json.gz",
        CopySource={"Bucket": "one-bucket", "Key": other},
    )
    sql = "SELECT account, region, day, count(*) AS n FROM cloudtrail_logs GROUP BY 1, 2, 3"
    one = spintrail.connect(f"s3://one-bucket/{key}", endpoint_url=moto.url)
    assert answers(one, [sql]) == answers(spintrail.connect(layout / key), [sql])
    assert one.last_stats is not None and one.last_stats.files_read == 1
    # Named, so a missing object or a digest is an error, not an empty answer.
    gone = f"s3://one-bucket/{key[: -len('.json.gz')]}-gone.json.gz"
    with pytest.raises(spintrail.SourceError, match="no such object") as err:
        spintrail.connect(gone, endpoint_url=moto.url).sql(sql)
    assert gone in str(err.value)
    with pytest.raises(spintrail.SourceError, match="not a log file"):
        spintrail.connect(f"s3://one-bucket/{digest}", endpoint_url=moto.url).sql(sql)
    # sync copies prefixes: told so, with the folder to write instead.
    folder = f"s3://one-bucket/{key.rsplit('/', 1)[0]}/"
    with pytest.raises(spintrail.SourceError, match="names one object; sync copies a prefix"):
        sync(f"s3://one-bucket/{key}", tmp_path / "copy", endpoint_url=moto.url)
    with pytest.raises(spintrail.SourceError, match=folder):
        sync(f"s3://one-bucket/{key}", tmp_path / "copy", endpoint_url=moto.url)


def test_a_malformed_url_is_refused_at_connect() -> None:
    with pytest.raises(spintrail.SourceError, match="not an S3 bucket name"):
        spintrail.connect("s3://Bad_Bucket/x")


def test_aws_endpoint_url_is_honoured(
    layout: Path, moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload(moto, layout, "env-bucket")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    remote = spintrail.connect("s3://env-bucket/")
    assert answers(remote, QUERIES[:1]) == answers(spintrail.connect(layout), QUERIES[:1])


def test_a_bucket_in_another_region_is_read_in_its_own(
    layout: Path, moto: MotoServer, tmp_path: Path
) -> None:
    # The profile's region is us-east-1; the trail's bucket is in eu-west-1. S3 refuses requests
    # signed for another region than the bucket's; the AWS CLI follows its redirect, and so must
    # a query and a sync: one HeadBucket (signed for the configured region) finds the bucket's.
    upload(moto, layout, "eu-bucket", region="eu-west-1")
    with moto.recording() as requests:
        remote = spintrail.connect("s3://eu-bucket/", endpoint_url=moto.url)
        assert answers(remote, QUERIES[:1]) == answers(spintrail.connect(layout), QUERIES[:1])
        summary = sync("s3://eu-bucket/", tmp_path / "copy", endpoint_url=moto.url)
    assert summary.copied == summary.listed > 0 and summary.failed == 0
    bucket_requests = [r for r in requests if "/eu-bucket" in str(r["url"])]
    heads = [r for r in bucket_requests if is_head_bucket(r, "eu-bucket")]
    # One HeadBucket per client (the query's, the sync's), then everything else in eu-west-1.
    assert [signed_for(r) for r in heads] == ["us-east-1", "us-east-1"]
    others = [r for r in bucket_requests if not is_head_bucket(r, "eu-bucket")]
    assert len(others) > 2
    assert {signed_for(r) for r in others} == {"eu-west-1"}


def test_throttling_and_cut_downloads_are_retried(
    days_trail: Path, moto: MotoServer, fault_proxy: Callable[[str], FaultProxy]
) -> None:
    upload(moto, days_trail, "faulty-bucket")
    proxy = fault_proxy(moto.url)
    proxy.configure(rate=0.3, seed=7, kinds=("throttle", "server_error", "reset"))
    remote = spintrail.connect("s3://faulty-bucket/", endpoint_url=proxy.url)
    local = spintrail.connect(days_trail)
    assert answers(remote, QUERIES[:2]) == answers(local, QUERIES[:2])
    assert proxy.stats.get("faulted", 0) > 0


def test_cli_query_reads_an_s3_source(
    layout: Path, moto: MotoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    upload(moto, layout, "cli-bucket", "ct/")
    code = main(
        [
            "query",
            "--source",
            "s3://cli-bucket/ct/",
            "--endpoint-url",
            moto.url,
            "--region",
            REGION,
            "--format",
            "csv",
            "SELECT count(*) AS n FROM cloudtrail_logs",
        ]
    )
    assert code == 0
    local = spintrail.connect(layout).sql("SELECT count(*) AS n FROM cloudtrail_logs")
    assert capsys.readouterr().out.split() == ['"n"', str(local.column("n")[0].as_py())]


# --- sync -------------------------------------------------------------------------------------


def test_sync_copies_skips_and_copies_what_changed(
    days_trail: Path, moto: MotoServer, tmp_path: Path
) -> None:
    keys = upload(moto, days_trail, "sync-bucket", "trail/")
    dest = tmp_path / "logs"
    first = sync("s3://sync-bucket/trail/", dest, endpoint_url=moto.url)
    assert (first.copied, first.skipped, first.failed) == (len(keys), 0, 0)
    assert first.bytes == sum(p.stat().st_size for p in days_trail.rglob("*.json.gz"))
    for path in days_trail.rglob("*.json.gz"):
        assert (dest / path.relative_to(days_trail)).read_bytes() == path.read_bytes()
    # The copy is a valid local source with the same answers.
    assert answers(spintrail.connect(dest), QUERIES[:2]) == answers(
        spintrail.connect(days_trail), QUERIES[:2]
    )

    again = sync("s3://sync-bucket/trail/", dest, endpoint_url=moto.url)
    assert (again.copied, again.skipped) == (0, len(keys))

    changed = keys[3]
    body = gzip.compress(b'{"Records": []}')
    moto.client("s3", REGION).put_object(Bucket="sync-bucket", Key=changed, Body=body)
    third = sync("s3://sync-bucket/trail/", dest, endpoint_url=moto.url)
    assert (third.copied, third.skipped) == (1, len(keys) - 1)
    assert (dest / changed.removeprefix("trail/")).read_bytes() == body


def test_sync_since_lists_only_recent_days(
    days_trail: Path, moto: MotoServer, tmp_path: Path
) -> None:
    upload(moto, days_trail, "since-bucket")
    result = sync("s3://since-bucket", tmp_path / "logs", since="2024-07-28", endpoint_url=moto.url)
    expected = day_files(days_trail, *days_from(28, 31))
    assert result.listed == result.copied == len(expected) > 0
    copied = sorted(p.relative_to(tmp_path / "logs") for p in (tmp_path / "logs").rglob("*.gz"))
    assert copied == sorted(p.relative_to(days_trail) for p in expected)
    with pytest.raises(spintrail.InvalidArgumentError, match="since"):
        sync("s3://since-bucket", tmp_path / "x", since="last week", endpoint_url=moto.url)


def test_sync_resumes_after_an_outage_and_leaves_no_partial_file(
    days_trail: Path, moto: MotoServer, tmp_path: Path, fault_proxy: Callable[[str], FaultProxy]
) -> None:
    keys = upload(moto, days_trail, "resume-bucket")
    dest = tmp_path / "logs"
    proxy = fault_proxy(moto.url)
    # Every request fails once the listing and a few objects are through: an outage mid-run.
    proxy.configure(rate=0.0, seed=1, fail_after=40, kinds=("server_error", "drop"))
    cut = sync("s3://resume-bucket/", dest, endpoint_url=proxy.url, max_attempts=1, concurrency=4)
    assert cut.failed > 0 and cut.copied + cut.failed == len(keys)
    assert all(n.startswith("s3://resume-bucket/AWSLogs/") for n, _ in cut.failures)
    # A partial file a killed process might leave: never read as a log, removed next time.
    some = next(dest.rglob("*.json.gz"))
    partial = some.with_name(some.name.replace(".json.gz", "-x.json.gz.part"))
    partial.write_bytes(b"\x1f\x8b partial")
    assert spintrail.connect(dest).sql("SELECT count(*) FROM cloudtrail_logs").num_rows == 1

    proxy.configure(rate=0.0, seed=1)
    resumed = sync("s3://resume-bucket/", dest, endpoint_url=proxy.url)
    assert (resumed.copied, resumed.skipped, resumed.failed) == (cut.failed, cut.copied, 0)
    assert resumed.removed_partials == 1
    assert not list(dest.rglob("*.part"))
    for path in days_trail.rglob("*.json.gz"):
        assert (dest / path.relative_to(days_trail)).read_bytes() == path.read_bytes()


def test_a_killed_sync_resumes(days_trail: Path, moto: MotoServer, tmp_path: Path) -> None:
    keys = upload(moto, days_trail, "killed-bucket")
    dest = tmp_path / "logs"
    command = [
        sys.executable,
        "-m",
        "spintrail.cli",
        "sync",
        "s3://killed-bucket/",
        str(dest),
        "--endpoint-url",
        moto.url,
        "--concurrency",
        "2",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = dest / ".spintrail-sync.jsonl"
    try:
        for _ in range(600):
            if (state.exists() and state.stat().st_size > 0) or process.poll() is not None:
                break
            time.sleep(0.05)
        process.kill()
    finally:
        process.wait()
    result = sync("s3://killed-bucket/", dest, endpoint_url=moto.url)
    assert result.failed == 0 and result.copied + result.skipped == len(keys)
    assert not list(dest.rglob("*.part"))
    for path in days_trail.rglob("*.json.gz"):
        assert (dest / path.relative_to(days_trail)).read_bytes() == path.read_bytes()


def test_sync_digests_keep_their_signatures_for_verify(
    signed_trail: Path, moto: MotoServer, tmp_path: Path
) -> None:
    upload(moto, signed_trail, "signed-bucket", "ct/")
    plain = sync("s3://signed-bucket/ct/", tmp_path / "plain", endpoint_url=moto.url)
    assert not list((tmp_path / "plain").rglob("*CloudTrail-Digest*"))
    dest = tmp_path / "logs"
    result = sync("s3://signed-bucket/ct/", dest, digests=True, endpoint_url=moto.url)
    digests = sorted(dest.glob("AWSLogs/*/CloudTrail-Digest/**/*.json.gz"))
    assert len(digests) > 0 and result.copied == plain.copied + len(digests)
    for digest in digests:
        sidecar = Path(str(digest) + ".signature")
        original = signed_trail / digest.relative_to(dest)
        assert sidecar.read_text() == Path(str(original) + ".signature").read_text()
    report = verify(dest, public_keys=[PUBLIC])
    assert report.ok, report.summary()
    assert report.counts.get("unchecked", 0) == 0


def test_cli_sync_prints_a_summary(
    layout: Path, moto: MotoServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upload(moto, layout, "cli-sync")
    args = ["sync", "s3://cli-sync/", str(tmp_path / "logs"), "--endpoint-url", moto.url]
    assert main(args) == 0
    assert "copied 3 " in capsys.readouterr().out
    assert main([*args, "--digests"]) == 0
    assert "copied 1 " in capsys.readouterr().out
    shutil.rmtree(tmp_path / "logs")
