"""A moto server (AWS-protocol server) on loopback for the provisioning and Athena tests:
started as a subprocess on a free port, reset between tests, stopped at the end."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class MotoServer:
    def __init__(self, port: int, process: subprocess.Popen[bytes]) -> None:
        self.port = port
        self.process = process
        self.url = f"http://127.0.0.1:{port}"

    def post(self, path: str, body: bytes = b"") -> None:
        request = urllib.request.Request(self.url + path, data=body, method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def client(self, service: str, region: str) -> Any:
        """A boto3 client of this server (an independent client to read back what spintrail
        did)."""
        import boto3

        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def reset(self) -> None:
        self.post("/moto-api/reset")

    def post_json(self, path: str, body: object) -> None:
        import json

        self.post(path, json.dumps(body).encode())

    @contextmanager
    def recording(self) -> Iterator[list[dict[str, Any]]]:
        """The requests the server answers inside the block (moto's recorder: method, URL and
        headers of each), in the list yielded, filled when the block ends."""
        import json

        requests: list[dict[str, Any]] = []
        self.post("/moto-api/recorder/reset-recording")
        self.post("/moto-api/recorder/start-recording")
        try:
            yield requests
        finally:
            self.post("/moto-api/recorder/stop-recording")
            url = self.url + "/moto-api/recorder/download-recording"
            with urllib.request.urlopen(url, timeout=10) as answer:
                lines = answer.read().decode().splitlines()
            requests.extend(json.loads(line) for line in lines if line.strip())


@contextmanager
def moto_server(launcher: str | None = None) -> Iterator[MotoServer]:
    """Starts moto; ``launcher`` is a script that adds behaviours to moto first (it takes the
    port as its argument)."""
    port = free_port()
    # The recorder's file (see `MotoServer.recording`) in a folder of its own, not the cwd.
    recordings = tempfile.mkdtemp(prefix="moto-recording-")
    env = dict(os.environ, MOTO_RECORDER_FILEPATH=os.path.join(recordings, "requests.jsonl"))
    command = (
        [sys.executable, launcher, str(port)]
        if launcher
        else [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    )
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    server = MotoServer(port, process)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto server exited with {process.returncode}")
            try:
                with urllib.request.urlopen(server.url + "/moto-api/", timeout=1) as answer:
                    answer.read()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError("moto server did not answer within 30 s") from None
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(recordings, ignore_errors=True)


def signed_for(request: dict[str, Any]) -> str:
    """The region a recorded request (see `MotoServer.recording`) was signed for: its SigV4
    credential scope's."""
    authorization = str(request["headers"]["Authorization"])
    return authorization.split("Credential=")[1].split(",")[0].split("/")[2]


def is_head_bucket(request: dict[str, Any], bucket: str) -> bool:
    """Whether a recorded request is a HeadBucket of ``bucket`` (path-style addressing)."""
    from urllib.parse import urlparse

    path = urlparse(str(request["url"])).path
    return request["method"] == "HEAD" and path.rstrip("/") == f"/{bucket}"


def isolate_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, region: str) -> None:
    """Only moto's test credentials and the given region: no AWS_* variables, config files or
    instance metadata of this machine leak into a test."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", region)
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


def moto_fixtures(
    region: str,
    launcher: str | None = None,
    setup: Callable[[MotoServer, pytest.MonkeyPatch], None] | None = None,
    teardown: Callable[[MotoServer], None] | None = None,
) -> tuple[Any, Any]:
    """A test module's ``server`` (one moto per module) and ``moto`` (that server, reset, with
    only moto's credentials and ``region`` in the environment) fixtures:
    ``server, moto = moto_fixtures(REGION)``. ``setup`` prepares what the module's tests share
    (buckets, environment variables) after the reset; ``teardown`` undoes server state that a reset
    keeps, after each test, passed or failed."""

    @pytest.fixture(scope="module")
    def server() -> Iterator[MotoServer]:
        with moto_server(launcher) as s:
            yield s

    @pytest.fixture()
    def moto(
        server: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> Iterator[MotoServer]:
        server.reset()
        isolate_aws_env(monkeypatch, tmp_path, region)
        if setup is not None:
            setup(server, monkeypatch)
        yield server
        if teardown is not None:
            teardown(server)

    return server, moto
