"""A moto server (AWS-protocol server) on loopback for the provisioning and Athena tests:
started as a subprocess on a free port, reset between tests, stopped at the end."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
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
def moto_server(launcher: str | None = None) -> Iterator[MotoServer]:
    """Starts moto; ``launcher`` is a script that adds behaviours to moto first (it takes the
    port as its argument)."""
    port = free_port()
    env = dict(os.environ)
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
