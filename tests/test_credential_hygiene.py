"""Secret keys and session tokens never appear in anything spintrail prints or raises.

Recognisable fake secrets are set in the environment and in a profile file; every error path the
tests can reach (unreachable endpoint, refused region, denied call, throttled beyond its retries,
a failed query, a cancelled query, a timeout, a missing profile) is driven on the Athena,
CloudWatch and provisioning paths, from Python and from the command line, and everything that
came out — exception text, ``repr``, cause chains, tracebacks, stdout, stderr, log records,
``repr`` of sessions and query facts — is searched for the secrets and for fragments of them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import spintrail
from moto_server import MotoServer, free_port, isolate_aws_env, moto_server
from spintrail.cli import main

REGION = "us-east-1"
RESULTS = "s3://athena-results/spintrail/"
LAUNCHER = str(Path(__file__).with_name("athena_moto.py"))

ENV_KEY_ID = "AKIASPINTRAILENVKEY1"
ENV_SECRET = "EnvSecretSpintrail0123456789abcdefghijKLM"
ENV_TOKEN = "EnvTokenSpintrailFwoGZXIvYXdzEJr" + "x" * 64
PROFILE_KEY_ID = "AKIASPINTRAILPROFILE"
PROFILE_SECRET = "ProfileSecretSpintrail9876543210zyxwvutsRQ"
PROFILE_TOKEN = "ProfileTokenSpintrailIQoJb3JpZ2luX2Vj" + "y" * 64
SECRETS = (ENV_SECRET, ENV_TOKEN, PROFILE_SECRET, PROFILE_TOKEN)


def fragments(secret: str) -> list[str]:
    """The secret and every 12-character piece of it: a truncated or partly masked secret is
    still a leak."""
    return [secret] + [secret[i : i + 12] for i in range(0, len(secret) - 11, 6)]


class Output:
    """Everything a run of error paths produced, searched at the end."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def error(self, where: str, err: BaseException) -> None:
        self.add(where + " str", str(err))
        self.add(where + " repr", repr(err))
        self.add(where + " args", repr(err.args))
        self.add(where + " traceback", "".join(traceback.format_exception(err)))

    def expect_error(self, where: str, action: Callable[[], Any]) -> BaseException:
        try:
            action()
        except (spintrail.SpintrailError, asyncio.TimeoutError, asyncio.CancelledError) as err:
            self.error(where, err)
            return err
        raise AssertionError(f"{where}: expected an error")

    def assert_clean(self) -> None:
        assert self.texts, "nothing was produced"
        for where, text in self.texts:
            for secret in SECRETS:
                for piece in fragments(secret):
                    assert piece not in text, f"{where} shows a secret fragment {piece!r}"


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    with moto_server(LAUNCHER) as s:
        yield s


@pytest.fixture()
def moto(server: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> MotoServer:
    server.reset()
    isolate_aws_env(monkeypatch, tmp_path, REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ENV_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", ENV_TOKEN)
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[leaky]\n"
        f"aws_access_key_id = {PROFILE_KEY_ID}\n"
        f"aws_secret_access_key = {PROFILE_SECRET}\n"
        f"aws_session_token = {PROFILE_TOKEN}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    server.client("s3", REGION).create_bucket(Bucket="athena-results")
    return server


def athena(server: MotoServer, **options: Any) -> spintrail.AthenaSession:
    options.setdefault("output_location", RESULTS)
    options.setdefault("workgroup", "primary")
    options.setdefault("max_attempts", 2)
    options.setdefault("region", REGION)
    return spintrail.connect(engine="athena", endpoint_url=server.url, **options)


def hold_queries(server: MotoServer) -> None:
    server.post_json(
        "/moto-api/state-manager/set-transition",
        {
            "model_name": "athena::execution",
            "transition": {"progression": "manual", "times": 10**6},
        },
    )


@pytest.mark.parametrize("profile", [None, "leaky"])
def test_athena_error_paths_never_show_a_secret(
    moto: MotoServer, profile: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    out = Output()
    closed = f"http://127.0.0.1:{free_port()}"

    ok = athena(moto, profile=profile)
    table = ok.sql("SELECT 1")
    out.add("session repr", repr(ok))
    out.add("result metadata", repr(table.schema.metadata))
    out.add("last_query", repr(ok.last_query))
    assert ok.last_query is not None
    out.add("last_query summary", ok.last_query.summary())

    unreachable = spintrail.connect(
        engine="athena", endpoint_url=closed, region=REGION, profile=profile, max_attempts=1
    )
    out.expect_error("unreachable", lambda: unreachable.sql("SELECT 1"))
    out.expect_error("bad region", lambda: athena(moto, region="not a region!").sql("SELECT 1"))
    out.expect_error("throttled", lambda: ok.sql("/* moto:throttle 10 */ SELECT 1"))
    out.expect_error("failed query", lambda: ok.sql("/* moto:fail no such table */ SELECT 1"))
    out.expect_error("unknown workgroup", lambda: athena(moto, workgroup="nope").sql("SELECT 1"))
    # Denied: the result bucket refuses every read, so fetching the result fails.
    moto.client("s3", REGION).put_bucket_policy(
        Bucket="athena-results",
        Policy=(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",'
            '"Action":"s3:*","Resource":["arn:aws:s3:::athena-results",'
            '"arn:aws:s3:::athena-results/*"]}]}'
        ),
    )
    try:
        athena(moto, profile=profile, fetch="s3").sql("SELECT 1")
    except spintrail.SpintrailError as err:
        out.error("denied", err)
    moto.client("s3", REGION).delete_bucket_policy(Bucket="athena-results")

    hold_queries(moto)
    try:
        slow = athena(moto, profile=profile, timeout=1)
        out.expect_error("timeout", lambda: slow.sql("SELECT 2"))

        async def cancelled() -> None:
            await asyncio.wait_for(ok.sql_async("SELECT 3"), timeout=0.5)

        out.expect_error("cancelled", lambda: asyncio.run(cancelled()))
    finally:
        moto.post_json(
            "/moto-api/state-manager/unset-transition", {"model_name": "athena::execution"}
        )
    out.add("log records", caplog.text)
    assert len(out.texts) > 30
    out.assert_clean()


def test_profiles_and_the_cli_never_show_a_secret(
    moto: MotoServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    # A profile file that does not parse: the parser's complaint must not quote the line. (No
    # boto3 client of the test's own reads the file after this.)
    credentials = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    with credentials.open("a") as file:
        file.write(f"[broken]\naws_secret_access_key {PROFILE_SECRET}\n")
    out = Output()
    # A profile that is asked for is used, never the environment's keys instead (as in the
    # AWS CLI): a misspelt one is an error naming it.
    missing = out.expect_error("missing profile", lambda: athena(moto, profile="nobody"))
    assert "nobody" in str(missing)
    try:
        athena(moto, profile="broken").sql("SELECT 1")
    except spintrail.SpintrailError as err:
        out.error("broken profile", err)
    closed = f"http://127.0.0.1:{free_port()}"
    commands = [
        ["query", "--engine", "athena", "--endpoint-url", closed, "--region", REGION, "SELECT 1"],
        [
            "query",
            "--engine",
            "athena",
            "--endpoint-url",
            moto.url,
            "--region",
            REGION,
            "--profile",
            "leaky",
            "--workgroup",
            "nope",
            "SELECT 1",
        ],
        [
            "insights",
            "--engine",
            "cloudwatch",
            "--log-group",
            "no-such-group",
            "--endpoint-url",
            moto.url,
            "--region",
            REGION,
            "--profile",
            "leaky",
            "fields eventName",
        ],
        ["provision", "plan", "--endpoint-url", closed, "--region", REGION, "--max-attempts", "1"],
        ["provision", "plan", "--endpoint-url", moto.url, "--region", REGION, "--profile", "leaky"],
        [
            "report",
            "--engine",
            "athena",
            "--endpoint-url",
            moto.url,
            "--region",
            REGION,
            "--workgroup",
            "nope",
            "--out",
            str(tmp_path / "report.html"),
        ],
    ]
    codes = []
    for argv in commands:
        try:
            codes.append(main(argv))
        except SystemExit as exit:
            codes.append(exit.code)
        captured = capsys.readouterr()
        out.add(" ".join(argv[:2]) + " stdout", captured.out)
        out.add(" ".join(argv[:2]) + " stderr", captured.err)
    assert any(code not in (0, None) for code in codes)

    def cloudwatch(profile: str | None) -> None:
        session = spintrail.connect(
            engine="cloudwatch",
            log_group="trail",
            endpoint_url=closed,
            region=REGION,
            profile=profile,
            max_attempts=1,
        )
        out.add("cloudwatch repr", repr(session))
        session.insights("fields eventName")

    out.expect_error("cloudwatch unreachable", lambda: cloudwatch(None))
    out.expect_error("cloudwatch with the unparsable profile file", lambda: cloudwatch("leaky"))
    out.add("log records", caplog.text)
    out.assert_clean()
