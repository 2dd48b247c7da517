"""Shared fixtures: the real CloudTrail records, laid out as CloudTrail delivers them, and two days
of generated logs with their compacted Parquet copy."""

from __future__ import annotations

import json
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import spintrail
from fault_proxy import FaultProxy
from spintrail.compact import compact
from spintrail.generate import generate

REAL = Path(__file__).parent / "data" / "real"
CONFORMING = {
    "stratus-red-team.json.gz": 310,
    "panther-analysis.json.gz": 305,
    "otrf-security-datasets.json.gz": 103,
}
NONCONFORMING = REAL / "panther-analysis.nonconforming.json.gz"


@pytest.fixture(scope="session")
def real_dir() -> Path:
    return REAL


@pytest.fixture()
def layout(tmp_path: Path) -> Path:
    """The three conforming files in an S3-style tree (two accounts, regions and days), plus a
    digest file that is not part of the table."""
    places = {
        "stratus-red-team.json.gz": "AWSLogs/111111111111/CloudTrail/us-east-1/2024/07/30",
        "panther-analysis.json.gz": "AWSLogs/111111111111/CloudTrail/eu-west-1/2024/07/31",
        "otrf-security-datasets.json.gz": (
            "AWSLogs/o-abc/222222222222/CloudTrail/us-east-1/2024/08/01"
        ),
    }
    for name, folder in places.items():
        target = tmp_path / folder
        target.mkdir(parents=True)
        shutil.copy(REAL / name, target / name)
    digest = tmp_path / "AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2024/07/30"
    digest.mkdir(parents=True)
    shutil.copy(REAL / "otrf-security-datasets.json.gz", digest / "digest.json.gz")
    return tmp_path


@pytest.fixture()
def flat(tmp_path: Path) -> Path:
    """The conforming files in one flat folder."""
    for name in CONFORMING:
        shutil.copy(REAL / name, tmp_path / name)
    return tmp_path


@pytest.fixture()
def sigint_raises_keyboard_interrupt() -> Iterator[None]:
    """For a test that sends itself SIGINT: installs Python's handler (which raises
    KeyboardInterrupt) and restores the previous one. A process that inherited SIGINT as ignored
    (a background job of a non-interactive shell) would otherwise drop the signal, and the test
    would wait forever for an interruption that never comes."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        # None means a handler not installed from Python; the default is the closest to it.
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)


@pytest.fixture()
def fault_proxy() -> Iterator[Callable[[str], FaultProxy]]:
    """Starts fault-injecting proxies (tests/fault_proxy.py) in front of a server URL; stops
    them, and every connection they hold, when the test ends."""
    started: list[FaultProxy] = []

    def start(upstream: str) -> FaultProxy:
        proxy = FaultProxy(upstream)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.close()


@pytest.fixture(scope="session")
def two_days(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two days of generated Spinnaker activity in two regions (CloudTrail's layout), ending at
    2026-11-01T00:00:00Z."""
    root = tmp_path_factory.mktemp("logs")
    generate(root, events=20_000, days=2, end="2026-11-01T00:00:00Z", seed=3, events_per_file=700)
    return root


@pytest.fixture(scope="session")
def two_days_parquet(two_days: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``two_days`` compacted into Parquet, row groups of 1000 rows."""
    dest = tmp_path_factory.mktemp("parquet")
    compact(two_days, dest, row_group_rows=1000)
    return dest


def rows(session: spintrail.Session, sql: str) -> list[tuple[Any, ...]]:
    """A query's rows as tuples, in a stable order (to compare answers across engines)."""
    table = session.sql(sql)
    return sorted(
        (tuple(r.values()) for r in table.to_pylist()), key=lambda r: json.dumps(r, default=str)
    )


def day_files(dest: Path) -> list[Path]:
    """The Parquet files of a compacted copy, one per account, region and day."""
    return sorted(dest.glob("account=*/region=*/day=*/*.parquet"))
