"""The notebooks in ``notebooks/``: stored without outputs, and each one runs from top to bottom
on a fresh ``python3`` kernel (nbclient) in a temporary folder, with the installed spintrail,
without errors, drawing its charts as images that need no network.

``03-athena.ipynb`` starts the moto launcher of these tests (``athena_moto.py``, named by
``SPINTRAIL_MOTO_LAUNCHER``) itself and must stop it again.
"""

from __future__ import annotations

import base64
import re
import socket
from pathlib import Path
from typing import Any

import pytest
import spintrail
from moto_server import isolate_aws_env

nbformat = pytest.importorskip("nbformat", reason="pip install nbformat nbclient ipykernel")
nbclient = pytest.importorskip("nbclient", reason="pip install nbformat nbclient ipykernel")
pytest.importorskip("ipykernel", reason="pip install ipykernel")
pytest.importorskip("vl_convert", reason="the notebooks draw charts: pip install '.[plot]'")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
EXPECTED = ["01-getting-started.ipynb", "02-spinnaker-throttling.ipynb", "03-athena.ipynb"]
LAUNCHER = Path(__file__).with_name("athena_moto.py")
#: Seconds one cell may take (generous: CI machines are shared).
CELL_TIMEOUT = 300
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read(name: str) -> Any:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def execute(name: str, workdir: Path) -> Any:
    """Runs a notebook on a fresh kernel with ``workdir`` as its working directory; a failing
    cell raises CellExecutionError with the cell's traceback."""
    notebook = read(name)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    return notebook


def code_cells(notebook: Any) -> list[Any]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def text_of(notebook: Any) -> str:
    """Everything the notebook printed or showed as text."""
    parts = []
    for cell in code_cells(notebook):
        for output in cell.outputs:
            if output.output_type == "stream":
                parts.append(output.text)
            elif "data" in output:
                parts.append(str(output.data.get("text/plain", "")))
    return "\n".join(parts)


def is_chart_cell(source: str) -> bool:
    lines = [line for line in source.strip().splitlines() if line and not line.startswith("#")]
    return bool(lines) and (lines[-1].startswith("plot.") or "alt.Chart(" in source)


def check_charts(notebook: Any, expected: int) -> None:
    """Every chart cell shows a PNG drawn in the kernel (no JavaScript, no CDN)."""
    charts = [cell for cell in code_cells(notebook) if is_chart_cell(cell.source)]
    assert len(charts) == expected, [cell.source for cell in charts]
    for cell in charts:
        images = [o.data["image/png"] for o in cell.outputs if "image/png" in o.get("data", {})]
        assert len(images) == 1, f"no chart image from:\n{cell.source}\n{cell.outputs}"
        png = base64.b64decode(images[0])
        assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000, cell.source
    for cell in code_cells(notebook):
        for output in cell.outputs:
            html = str(output.get("data", {}).get("text/html", ""))
            assert "<script" not in html and "cdn." not in html, cell.source
    assert "<VegaLite" not in text_of(notebook), "a chart fell back to text"


@pytest.fixture()
def kernel_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The kernel inherits this environment: no AWS settings of this machine, moto's test
    credentials, and the notebooks' own switches at their defaults."""
    isolate_aws_env(monkeypatch, tmp_path / "aws", "us-east-1")
    for name in (
        "SPINTRAIL_NOTEBOOK_TARGET",
        "SPINTRAIL_NOTEBOOK_ENDPOINT",
        "SPINTRAIL_NOTEBOOK_BUCKET",
        "SPINTRAIL_NOTEBOOK_APPLY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SPINTRAIL_MOTO_LAUNCHER", str(LAUNCHER))
    workdir = tmp_path / "work"
    workdir.mkdir()
    return workdir


def test_the_notebooks_are_there() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_stored_notebooks_have_no_outputs(name: str) -> None:
    notebook = read(name)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    assert notebook.cells[0].cell_type == "markdown", "each notebook opens with what it answers"
    for cell in code_cells(notebook):
        assert cell.outputs == [], f"stored with outputs:\n{cell.source}"
        assert cell.execution_count is None, f"stored with an execution count:\n{cell.source}"
    assert "widgets" not in notebook.metadata


def test_getting_started_runs(kernel_env: Path) -> None:
    notebook = execute("01-getting-started.ipynb", kernel_env)
    check_charts(notebook, expected=2)
    printed = text_of(notebook)
    # The kernel imported the spintrail under test.
    assert f"from {spintrail.__file__}" in printed
    assert "files pruned" in printed
    assert "missing required field eventTime" in printed


def test_spinnaker_throttling_runs(kernel_env: Path) -> None:
    notebook = execute("02-spinnaker-throttling.ipynb", kernel_env)
    check_charts(notebook, expected=6)
    printed = text_of(notebook)
    assert "same answer: True" in printed
    assert "serviceLimits:" in printed and "rateLimit:" in printed
    report = kernel_env / "spintrail-work" / "spinnaker-report.html"
    assert report.exists()
    assert 'data-chart="' in report.read_text(encoding="utf-8")


def test_athena_runs_on_moto_and_stops_it(kernel_env: Path) -> None:
    notebook = execute("03-athena.ipynb", kernel_env)
    check_charts(notebook, expected=3)
    printed = text_of(notebook)
    started = re.search(r"moto at http://127\.0\.0\.1:(\d+)", printed)
    assert started, "the notebook did not start moto"
    assert re.search(r"apply: \d+ resources? changed", printed)
    assert "plan: 0 resources to change" in printed
    assert "same columns: True" in printed and "same rows:   True" in printed
    assert re.search(r"\d+ queries on Athena", printed)
    assert "moto stopped" in printed
    with (
        pytest.raises(OSError),
        socket.create_connection(("127.0.0.1", int(started.group(1))), timeout=2),
    ):
        pass
