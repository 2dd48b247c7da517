"""Log file integrity validation end to end: generated logs with digests signed by a test key,
then each kind of tampering, on a local copy and on S3 (a moto server), through the API, the CLI
and ``connect(verified_only=True)``."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pyarrow.compute as pc
import pytest
import spintrail
from moto_server import MotoServer, moto_fixtures
from spintrail.cli import main
from spintrail.generate import generate
from spintrail.verify import verify

DATA = Path(__file__).parent / "data"
KEY = DATA / "digest-test-key.pk8"
PUBLIC = DATA / "digest-test-key.pub.der"
PUBLIC_PEM = DATA / "digest-test-key.pub.pem"
OTHER_PUBLIC = DATA / "digest-other-key.pub.der"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four hours of logs of one account and region, with signed digests (written once)."""
    out = tmp_path_factory.mktemp("trail")
    summary = generate(
        out,
        events=4000,
        days=1,
        end="2024-07-30T04:00:00Z",
        accounts=["111111111111"],
        regions=[REGION],
        events_per_file=500,
        threads=1,
        digests=KEY,
    )
    assert summary.digests >= 24
    return out


@pytest.fixture()
def trail(pristine: Path, tmp_path: Path) -> Path:
    """A copy of the generated trail that a test may tamper with."""
    copy = tmp_path / "copy"
    shutil.copytree(pristine, copy)
    return copy


def logs(root: Path) -> list[Path]:
    return sorted(root.glob("AWSLogs/*/CloudTrail/**/*.json.gz"))


def digests(root: Path) -> list[Path]:
    return sorted(root.glob("AWSLogs/*/CloudTrail-Digest/**/*.json.gz"))


def rows(result: spintrail.verify.VerifyResult, status: str) -> list[dict[str, object]]:
    return result.files.filter(pc.equal(result.files["status"], status)).to_pylist()


def rewrite_gzip(path: Path, old: bytes, new: bytes) -> None:
    text = gzip.decompress(path.read_bytes())
    assert old in text
    path.write_bytes(gzip.compress(text.replace(old, new, 1)))


def test_untouched_logs_are_all_valid(trail: Path) -> None:
    result = verify(trail, public_keys=[PUBLIC])
    assert result.ok, result.failures().to_pylist()
    assert result.counts == {"valid": len(logs(trail)) + len(digests(trail))}
    assert result.files.column_names == [
        "kind",
        "path",
        "account",
        "region",
        "hour",
        "status",
        "detail",
    ]
    assert set(result.hours["status"].to_pylist()) == {"valid"}
    assert sum(result.hours["logs"].to_pylist()) == len(logs(trail))
    # PEM of the SubjectPublicKeyInfo is the same key.
    assert verify(trail, public_keys=[PUBLIC_PEM]).ok


def test_a_changed_byte_in_a_log_is_modified(trail: Path) -> None:
    target = logs(trail)[5]
    rewrite_gzip(target, b'"eventVersion":"1.', b'"eventVersion":"2.')
    result = verify(trail, public_keys=[PUBLIC])
    assert not result.ok
    bad = rows(result, "modified")
    assert [r["path"] for r in bad] == [str(target)]
    assert "SHA-256" in str(bad[0]["detail"])


def test_a_corrupted_gzip_is_modified(trail: Path) -> None:
    target = logs(trail)[1]
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    target.write_bytes(bytes(raw))
    bad = rows(verify(trail, public_keys=[PUBLIC]), "modified")
    assert [r["path"] for r in bad] == [str(target)]


def test_a_removed_log_is_deleted(trail: Path) -> None:
    target = logs(trail)[0]
    target.unlink()
    result = verify(trail, public_keys=[PUBLIC])
    assert [r["path"] for r in rows(result, "deleted")] == [str(target)]
    assert result.counts["deleted"] == 1


def test_a_removed_digest_is_a_missing_digest(trail: Path) -> None:
    target = digests(trail)[10]
    target.unlink()
    result = verify(trail, public_keys=[PUBLIC])
    missing = rows(result, "missing_digest")
    assert [r["path"] for r in missing] == [str(target)]
    assert "previousDigestS3Object" in str(missing[0]["detail"])
    hour = result.hours.filter(pc.equal(result.hours["status"], "missing_digest"))
    assert hour.num_rows == 1


def test_a_changed_digest_breaks_the_chain(trail: Path) -> None:
    target = digests(trail)[3]
    rewrite_gzip(target, b'"awsAccountId":"111111111111"', b'"awsAccountId":"222222222222"')
    bad = rows(verify(trail, public_keys=[PUBLIC]), "modified")
    assert [r["path"] for r in bad] == [str(target)]
    assert "previousDigestHashValue" in str(bad[0]["detail"])


def test_a_wrong_previous_hash_is_caught_by_the_signature(trail: Path) -> None:
    # Changing what a digest records about its predecessor breaks its own signature.
    target = digests(trail)[6]
    text = gzip.decompress(target.read_bytes())
    start = text.index(b'"previousDigestHashValue":"') + len(b'"previousDigestHashValue":"')
    flipped = b"0" if text[start : start + 1] != b"0" else b"1"
    target.write_bytes(gzip.compress(text[:start] + flipped + text[start + 1 :]))
    bad = rows(verify(trail, public_keys=[PUBLIC]), "modified")
    paths = {r["path"] for r in bad}
    assert str(target) in paths
    assert str(digests(trail)[5]) in paths  # its predecessor's hash no longer matches


def test_a_tampered_signature_is_modified(trail: Path) -> None:
    target = digests(trail)[-1]
    sidecar = Path(str(target) + ".signature")
    signature = sidecar.read_text()
    sidecar.write_text(("1" if signature[0] == "0" else "0") + signature[1:])
    bad = rows(verify(trail, public_keys=[PUBLIC]), "modified")
    assert [r["path"] for r in bad] == [str(target)]
    assert "does not verify" in str(bad[0]["detail"])


def test_an_unknown_key_fingerprint_is_reported(trail: Path) -> None:
    result = verify(trail, public_keys=[OTHER_PUBLIC])
    assert result.counts["unknown_key"] == len(digests(trail))
    assert "not among the public keys" in str(rows(result, "unknown_key")[0]["detail"])
    assert not result.ok


def test_a_plain_copy_is_checked_through_the_next_digest(trail: Path) -> None:
    for sidecar in trail.glob("AWSLogs/**/*.signature"):
        sidecar.unlink()
    result = verify(trail, public_keys=[PUBLIC])
    assert result.ok
    unchecked = rows(result, "unchecked")
    assert [r["path"] for r in unchecked if r["kind"] == "digest"] == [str(digests(trail)[-1])]
    # And a change to a digest is still found, through the next digest's records.
    rewrite_gzip(digests(trail)[2], b'"logFiles":[', b'"logFiles":[ ')
    assert [r["path"] for r in rows(verify(trail, public_keys=[PUBLIC]), "modified")] == [
        str(digests(trail)[2])
    ]


def test_a_log_in_no_digest_is_reported(trail: Path) -> None:
    source = logs(trail)[0]
    stray = source.with_name(source.name.rsplit("_", 1)[0] + "_Zz0123456789abcd.json.gz")
    shutil.copy(source, stray)
    result = verify(trail, public_keys=[PUBLIC])
    assert [r["path"] for r in rows(result, "not_in_any_digest")] == [str(stray)]


def test_start_and_end_bound_the_hours(trail: Path) -> None:
    result = verify(
        trail, public_keys=[PUBLIC], start="2024-07-29T12:00:00Z", end="2024-07-29T14:59:00Z"
    )
    hours = {h.strftime("%H") for h in result.hours["hour"].to_pylist()}
    assert hours == {"12", "13", "14"}
    assert result.ok


def test_bad_arguments_are_named(trail: Path, tmp_path: Path) -> None:
    with pytest.raises(spintrail.SourceError, match="not a folder"):
        verify(tmp_path / "nope", public_keys=[PUBLIC])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(spintrail.SourceError, match="EnableLogFileValidation"):
        verify(empty, public_keys=[PUBLIC])
    with pytest.raises(spintrail.InvalidArgumentError, match="start"):
        verify(trail, public_keys=[PUBLIC], start="yesterday")
    with pytest.raises(spintrail.InvalidArgumentError, match=r"digest-test-key\.pk8: not an RSA"):
        verify(trail, public_keys=[KEY])


def test_cli_exit_codes(trail: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(trail), "--public-key", str(PUBLIC)]) == 0
    assert "OK:" in capsys.readouterr().err
    target = logs(trail)[2]
    target.unlink()
    assert main(["verify", str(trail), "--public-key", str(PUBLIC)]) == 1
    captured = capsys.readouterr()
    assert f"deleted\tlog\t{target}" in captured.out
    assert "FAILED:" in captured.err
    assert main(["verify", str(trail / "nope"), "--public-key", str(PUBLIC)]) == 2


def test_verified_only_reads_only_verified_files(trail: Path) -> None:
    everything = spintrail.connect(trail)
    total = everything.sql("SELECT count(*) AS n FROM cloudtrail_logs")["n"][0].as_py()
    target = logs(trail)[4]
    in_target = spintrail.connect(target).sql("SELECT count(*) AS n FROM cloudtrail_logs")
    rewrite_gzip(target, b'"eventVersion":"1.', b'"eventVersion":"2.')
    session = spintrail.connect(trail, verified_only=True, public_keys=[PUBLIC])
    assert session.verification is not None
    assert session.verification.excluded_logs() == [str(target)]
    n = session.sql("SELECT count(*) AS n FROM cloudtrail_logs")["n"][0].as_py()
    assert n == total - in_target["n"][0].as_py()
    assert session.last_stats is not None


def test_session_verify_returns_a_typed_result(trail: Path) -> None:
    session = spintrail.connect(trail)
    result = session.verify(public_keys=[PUBLIC])
    assert isinstance(result, spintrail.verify.VerifyResult)
    assert result.ok
    assert result.files.schema.field("hour").type.tz == "UTC"


server, moto = moto_fixtures(REGION)


def upload(moto: MotoServer, root: Path, bucket: str) -> None:
    """The trail as CloudTrail delivers it: each digest's signature in its object metadata."""
    s3 = moto.client("s3", REGION)
    s3.create_bucket(Bucket=bucket)
    for path in root.rglob("*.json.gz"):
        key = "trail/" + path.relative_to(root).as_posix()
        sidecar = Path(str(path) + ".signature")
        metadata = {"signature": sidecar.read_text()} if sidecar.exists() else {}
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), Metadata=metadata)


def test_s3_source_reads_signatures_from_object_metadata(trail: Path, moto: MotoServer) -> None:
    upload(moto, trail, "spintrail-generated-trail")
    source = "s3://spintrail-generated-trail/trail/"
    result = verify(source, public_keys=[PUBLIC], endpoint_url=moto.url)
    assert result.ok, result.failures().to_pylist()
    assert result.counts["valid"] == len(logs(trail)) + len(digests(trail))
    # The digests say where they were delivered: a copy in another bucket has been moved.
    upload(moto, trail, "elsewhere")
    moved = verify("s3://elsewhere/trail/", public_keys=[PUBLIC], endpoint_url=moto.url)
    assert "moved" in str(rows(moved, "modified")[0]["detail"])

    s3 = moto.client("s3", REGION)
    key = "trail/" + logs(trail)[3].relative_to(trail).as_posix()
    s3.delete_object(Bucket="spintrail-generated-trail", Key=key)
    result = verify(source, public_keys=[PUBLIC], endpoint_url=moto.url)
    assert [r["path"] for r in rows(result, "deleted")] == [f"s3://spintrail-generated-trail/{key}"]


def test_without_key_files_the_keys_come_from_list_public_keys(
    trail: Path, moto: MotoServer
) -> None:
    # moto does not implement CloudTrail's ListPublicKeys: the call is made, and its failure
    # names the call and the offline way.
    with pytest.raises(spintrail.SpintrailError, match="ListPublicKeys") as err:
        verify(trail, endpoint_url=moto.url)
    assert "--public-key" in str(err.value)
