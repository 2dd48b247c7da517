"""A local query cancelled mid-scan stops and gives its memory back.

Each case runs in a fresh Python process (so the resident set size is that query's alone) over a
few hundred MB of generated CloudTrail logs: a query that buffers what it scans (a sort) is
cancelled once the process has grown by ``GROWTH_MB`` — by Ctrl-C, by cancelling its asyncio
task, or by dropping a ``sql_stream`` reader — and the process's memory must come back to within
``SLACK_MB`` of what it held before the query. Memory is read from ``/proc/self/status``
(``VmRSS`` now, ``VmHWM`` the peak) after ``malloc_trim(0)``, so what is measured is memory
still held, not memory glibc keeps cached for reuse. No timing decides a pass: the process waits
(bounded) for the memory to come back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from spintrail.generate import generate

if not Path("/proc/self/status").exists():  # pragma: no cover - Linux CI
    pytest.skip("reads memory figures from /proc", allow_module_level=True)  # reason: Linux-only

GROWTH_MB = 120
SLACK_MB = 60

SCRIPT = r"""
import asyncio, ctypes, ctypes.util, gc, json, os, signal, sys, threading, time
import spintrail

mode, source, growth_mb, slack_mb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
# This process may have inherited SIGINT as ignored (a background job): install the handler the
# Ctrl-C case relies on.
signal.signal(signal.SIGINT, signal.default_int_handler)
libc = ctypes.CDLL(ctypes.util.find_library("c"))


def mb(field="VmRSS"):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) // 1024
    raise RuntimeError(field)


def settled():
    gc.collect()
    libc.malloc_trim(0)
    return mb()


session = spintrail.connect(source)
HEAVY = (
    "SELECT * FROM (SELECT * FROM cloudtrail_logs UNION ALL SELECT * FROM cloudtrail_logs) "
    "ORDER BY eventid, eventtime"
)
# A full scan first, so the runtime's threads and caches are part of the baseline.
total = session.sql("SELECT count(*) AS n, max(length(eventname)) AS m FROM cloudtrail_logs")
rows = total.column("n")[0].as_py()
baseline = settled()
facts = {"mode": mode, "baseline_mb": baseline, "rows": rows}


def grown():
    return mb() >= baseline + growth_mb


if mode == "ctrl_c":
    def interrupt_when_grown():
        while not grown():
            time.sleep(0.002)
        facts["at_cancel_mb"] = mb()
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_when_grown, daemon=True).start()
    try:
        session.sql(HEAVY)
        facts["outcome"] = "finished"
    except KeyboardInterrupt:
        facts["outcome"] = "interrupted"
elif mode == "task":
    async def main():
        task = asyncio.ensure_future(session.sql_async(HEAVY))
        while not grown() and not task.done():
            await asyncio.sleep(0.002)
        facts["at_cancel_mb"] = mb()
        task.cancel()
        try:
            await task
            facts["outcome"] = "finished"
        except asyncio.CancelledError:
            facts["outcome"] = "cancelled"

    asyncio.run(main())
elif mode == "stream":
    # Sorted, so the reader holds the whole (narrower) result when it hands out its first batch.
    narrow = "SELECT eventid, requestparameters, responseelements, useragent FROM cloudtrail_logs"
    reader = session.sql_stream(f"{narrow} UNION ALL {narrow} ORDER BY eventid")
    first = reader.read_next_batch()
    facts["at_cancel_mb"] = mb()
    facts["outcome"] = "dropped" if first.num_rows < 2 * rows else "finished"
    del first, reader
else:
    raise SystemExit(f"unknown mode {mode}")

facts["peak_mb"] = mb("VmHWM")
# Bounded wait for the query's tasks to wind down and free what they held.
deadline = time.monotonic() + 30
after = settled()
while after > baseline + slack_mb and time.monotonic() < deadline:
    time.sleep(0.1)
    after = settled()
facts["after_mb"] = after
# The session still answers after the cancelled query.
again = session.sql("SELECT count(*) AS n FROM cloudtrail_logs")
facts["rows_after"] = again.column("n")[0].as_py()
print(json.dumps(facts))
"""


@pytest.fixture(scope="module")
def big_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~350 MB of CloudTrail JSON (uncompressed), generated."""
    root = tmp_path_factory.mktemp("big")
    summary = generate(root, events=250_000, days=1, seed=5)
    assert summary.bytes_uncompressed > 300 * 2**20
    return root


@pytest.mark.parametrize("mode", ["ctrl_c", "task", "stream"])
def test_a_cancelled_query_gives_its_memory_back(big_logs: Path, mode: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode, str(big_logs), str(GROWTH_MB), str(SLACK_MB)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    print(f"cancellation figures: {facts}")
    expected = {"ctrl_c": "interrupted", "task": "cancelled", "stream": "dropped"}[mode]
    assert facts["outcome"] == expected, "the query was cancelled before it finished"
    assert facts["at_cancel_mb"] >= facts["baseline_mb"] + GROWTH_MB, "cancelled mid-scan"
    assert facts["after_mb"] <= facts["baseline_mb"] + SLACK_MB, "its memory came back"
    assert facts["rows_after"] == facts["rows"] == 250_000
