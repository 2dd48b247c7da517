"""The local session's memory limit: stateful queries spill to disk within a small limit and give
the same answers, a query that cannot fit raises MemoryLimitError, bad limits are refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import spintrail
from spintrail.generate import generate

EVENTS = 100_000

QUERIES = {
    "distinct": "SELECT count(DISTINCT eventid) AS n FROM cloudtrail_logs",
    "window": (
        "SELECT count(*) AS n, sum(CASE WHEN rn % 7 = 0 THEN 1 ELSE 0 END) AS sevenths, "
        "max(rn) AS last FROM (SELECT row_number() OVER (ORDER BY eventtime, eventid) AS rn "
        "FROM cloudtrail_logs)"
    ),
    "order_by": (
        "SELECT eventid, eventtime, eventname, useragent FROM cloudtrail_logs "
        "ORDER BY eventtime DESC, eventid"
    ),
}


# Limits below what each query holds over 100k events on two threads, so each one spills (a
# sort's final merge needs a few batches per partition, hence more for the window and ORDER BY).
LIMITS = {"distinct": 8 << 20, "window": 64 << 20, "order_by": 64 << 20}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("logs")
    generate(out, events=EVENTS, days=1, seed=5, end="2024-07-30T21:00:00Z")
    return out


@pytest.fixture(scope="module")
def expected(logs: Path) -> dict[str, object]:
    free = spintrail.connect(logs)
    return {name: free.sql(sql).to_pylist() for name, sql in QUERIES.items()}


def _files(folder: Path) -> list[str]:
    return [os.path.join(d, f) for d, _, files in os.walk(folder) for f in files]


@pytest.mark.parametrize("name", list(QUERIES))
def test_stateful_queries_spill_within_the_limit_and_agree(
    logs: Path, expected: dict[str, object], tmp_path: Path, name: str
) -> None:
    session = spintrail.connect(logs, memory_limit=LIMITS[name], spill_dir=tmp_path, threads=2)
    assert session.memory_limit == LIMITS[name]
    assert session.spill_dir == str(tmp_path)
    table = session.sql(QUERIES[name])
    assert table.to_pylist() == expected[name]
    stats = session.last_stats
    assert stats is not None
    assert stats.spilled_bytes > 0 and stats.spill_files > 0
    assert int(table.schema.metadata[b"spintrail.spilled_bytes"]) == stats.spilled_bytes
    assert _files(tmp_path) == [], "spill files left behind"


def test_distinct_count_becomes_a_spillable_group_by(logs: Path) -> None:
    plan = spintrail.connect(logs).explain(QUERIES["distinct"])
    # DataFusion's single-distinct rule: group by eventid (spillable), then count the groups.
    assert "gby=[eventid" in plan.replace(" ", "") or "gby=[alias" in plan.replace(" ", ""), plan


def test_streamed_queries_spill_too(logs: Path, expected: dict[str, object]) -> None:
    session = spintrail.connect(logs, memory_limit="64MiB", threads=2)
    table = session.sql_stream(QUERIES["window"]).read_all()
    assert table.to_pylist() == expected["window"]


JOIN = (
    "SELECT count(*) AS n, count(DISTINCT a.useragent) AS agents, max(b.eventtime) AS last "
    "FROM cloudtrail_logs a JOIN cloudtrail_logs b ON a.eventid = b.eventid "
    "AND a.eventname = b.eventname"
)


@pytest.fixture(scope="module")
def join_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Enough events that the join's build side (~70 MB) outgrows the limit below by far.
    out = tmp_path_factory.mktemp("join_logs")
    generate(out, events=3 * EVENTS, days=1, seed=6, end="2024-07-30T21:00:00Z")
    return out


def test_a_hash_join_that_does_not_fit_runs_again_as_a_spilling_sort_merge_join(
    join_logs: Path, tmp_path: Path
) -> None:
    free = spintrail.connect(join_logs)
    expected = free.sql(JOIN).to_pylist()
    assert expected[0]["n"] == 3 * EVENTS
    assert free.last_stats is not None and free.last_stats.reruns == 0
    session = spintrail.connect(join_logs, memory_limit="48MiB", spill_dir=tmp_path, threads=2)
    # Planned as a hash join (faster when the build side fits), ...
    assert "HashJoinExec" in session.explain(JOIN)
    # ... whose build side does not fit 48 MiB: the query runs again with sort-merge joins.
    assert session.sql(JOIN).to_pylist() == expected
    stats = session.last_stats
    assert stats is not None
    assert stats.reruns == 1 and stats.spilled_bytes > 0
    assert "sort-merge joins" in stats.summary()
    assert session.sql_stream(JOIN).read_all().to_pylist() == expected
    assert session.last_stats is not None and session.last_stats.reruns == 1
    assert _files(tmp_path) == [], "spill files left behind"


def test_a_query_that_cannot_fit_raises_memory_limit_error(logs: Path) -> None:
    session = spintrail.connect(logs, memory_limit="64KiB")
    sql = "SELECT count(DISTINCT eventid), count(DISTINCT requestid) FROM cloudtrail_logs"
    with pytest.raises(spintrail.MemoryLimitError) as caught:
        session.sql(sql)
    message = str(caught.value)
    assert "64.0 KiB" in message
    assert "memory_limit" in message and "engine=" in message and "filters" in message
    assert caught.value.memory_limit == 64 << 10
    assert isinstance(caught.value, spintrail.SpintrailError)
    # The same error through a stream (it crosses the Arrow C interface as text).
    with pytest.raises(spintrail.MemoryLimitError, match=r"64\.0 KiB"):
        session.sql_stream(sql).read_all()


@pytest.mark.parametrize("bad", ["lots", "-1GB", "0", "", "12 parsecs", -1, 0, True, 1.5])
def test_bad_limits_are_refused(flat: Path, bad: object) -> None:
    with pytest.raises(spintrail.InvalidArgumentError, match="memory_limit"):
        spintrail.connect(flat, memory_limit=bad)  # type: ignore[arg-type]


def test_sizes_and_default(flat: Path) -> None:
    assert spintrail.connect(flat, memory_limit="2GB").memory_limit == 2_000_000_000
    assert spintrail.connect(flat, memory_limit="512MiB").memory_limit == 512 << 20
    assert spintrail.connect(flat, memory_limit=10_000_000).memory_limit == 10_000_000
    default = spintrail.connect(flat).memory_limit
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < default <= total
    assert spintrail.connect(flat, memory_limit="50%").memory_limit <= total


def test_spill_dir_must_exist(flat: Path, tmp_path: Path) -> None:
    with pytest.raises(spintrail.InvalidArgumentError, match="spill_dir"):
        spintrail.connect(flat, spill_dir=tmp_path / "missing")


def test_memory_options_are_for_the_local_engine() -> None:
    with pytest.raises(spintrail.InvalidArgumentError, match="engine='local'"):
        spintrail.connect(engine="athena", memory_limit="1GB")


def test_cli_takes_a_memory_limit(logs: Path, tmp_path: Path) -> None:
    from spintrail.cli import main

    out = tmp_path / "out.csv"
    code = main(
        [
            "query",
            "--source",
            str(logs),
            "--memory-limit",
            "8MiB",
            "--spill-dir",
            str(tmp_path),
            "--format",
            "csv",
            "--output",
            str(out),
            QUERIES["distinct"],
        ]
    )
    assert code == 0
    assert out.read_text().splitlines()[1] == str(EVENTS)
