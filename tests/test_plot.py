"""Charts of the query pack's results: valid Vega-Lite that draws the query's rows as they are
(no aggregation in the chart), renders (vl-convert's own Vega runtime draws each to SVG), and
says "no data" for an empty result."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import spintrail
from spintrail import plot, spinnaker
from spintrail.generate import generate

alt = pytest.importorskip("altair")
vl_convert = pytest.importorskip("vl_convert")

END = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
WINDOW = {"start": datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc), "end": END}
EMPTY_WINDOW = {"start": "2001-01-01", "end": "2001-01-02"}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> spintrail.Session:
    logs = tmp_path_factory.mktemp("logs")
    generate(logs, events=20_000, days=1, seed=7, end=END)
    return spintrail.connect(logs)


def vl_version() -> str:
    return ".".join(alt.VEGALITE_VERSION.split(".")[:2])


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a nested spec."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def check_spec(chart: Any) -> dict[str, Any]:
    """The chart as a Vega-Lite spec (Altair validates it against the schema), checked to
    aggregate nothing, and drawn to SVG by vl-convert's Vega runtime."""
    spec: dict[str, Any] = chart.to_dict()
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    for key, value in walk(spec):
        assert key not in ("aggregate", "joinaggregate", "window", "bin", "density"), (key, value)
        if key == "transform":
            pytest.fail(f"the chart transforms its data: {value}")
    svg = vl_convert.vegalite_to_svg(spec, vl_version=vl_version())
    assert svg.startswith("<svg")
    return spec


def values(spec: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The inline datasets of a spec (one per layer that has its own)."""
    found = [v["values"] for k, v in walk(spec) if k == "data" and "values" in v]
    datasets = spec.get("datasets", {})
    found += list(datasets.values())
    return found


def marks(spec: dict[str, Any]) -> list[str]:
    return [v if isinstance(v, str) else v["type"] for k, v in walk(spec) if k == "mark"]


def test_calls_over_time_stacks_the_querys_buckets_per_service(
    session: spintrail.Session,
) -> None:
    table = spinnaker.calls_over_time("15m", **WINDOW).run(session)
    assert table.num_rows > 50
    spec = check_spec(plot.calls_over_time(table, bucket="15m"))
    assert marks(spec) == ["bar"]
    [rows] = values(spec)
    # Every row of the result, as it is: no row added up with another.
    assert len(rows) == table.num_rows
    assert sum(r["calls"] for r in rows) == sum(table["calls"].to_pylist())
    first = rows[0]
    assert first["service"] == table["eventsource"][0].as_py().removesuffix(".amazonaws.com")
    # Times travel as UTC instants and the bar spans its bucket.
    start = datetime.fromisoformat(first["bucket_start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(first["bucket_end"].replace("Z", "+00:00"))
    assert start == table["bucket_start"][0].as_py()
    assert (end - start).total_seconds() == 900
    encoding = spec["encoding"]
    assert encoding["y"]["stack"] == "zero"
    assert encoding["y"]["title"] == "API calls per 15 min"
    assert encoding["x"]["scale"]["type"] == "utc"
    assert spec["title"]["text"] == "Spinnaker's API calls over time"
    # The busiest service first in the legend (and at the bottom of each stack).
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["service"]] = totals.get(row["service"], 0) + row["calls"]
    assert encoding["color"]["sort"][0] == max(totals, key=lambda s: totals[s])


def test_bucket_width_is_inferred_when_not_given(session: spintrail.Session) -> None:
    table = spinnaker.calls_over_time("1h", **WINDOW).run(session)
    spec = check_spec(plot.calls_over_time(table))
    assert spec["encoding"]["y"]["title"] == "API calls per hour"
    with pytest.raises(spintrail.InvalidArgumentError, match="bucket '7m'"):
        plot.calls_over_time(table, bucket="7m")


def test_throttle_rate_over_time_draws_the_rate_as_a_percentage(
    session: spintrail.Session,
) -> None:
    table = spinnaker.throttling_over_time("15m", **WINDOW).run(session)
    spec = check_spec(plot.throttle_rate_over_time(table))
    assert sorted(marks(spec)) == ["area", "line", "point"]
    [rows] = values(spec)
    assert [r["throttle_rate"] for r in rows] == table["throttle_rate"].to_pylist()
    formats = {layer["encoding"]["y"]["axis"]["format"] for layer in spec["layer"]}
    assert formats == {".1~%"}


def test_throttled_apis_ranks_apis_by_their_throttled_calls(session: spintrail.Session) -> None:
    table = spinnaker.throttled_apis(**WINDOW).run(session)
    assert table.num_rows > 0
    spec = check_spec(plot.throttled_apis(table, top=5))
    order = spec["encoding"]["y"]["sort"]
    assert len(order) == min(
        5, len({(r["eventsource"], r["eventname"]) for r in table.to_pylist()})
    )
    totals: dict[str, int] = {}
    for row in table.to_pylist():
        api = f"{row['eventsource'].removesuffix('.amazonaws.com')}:{row['eventname']}"
        totals[api] = totals.get(api, 0) + row["throttled"]
    assert order == sorted(totals, key=lambda a: (-totals[a], a))[:5]
    [rows] = values(spec)
    assert {r["api"] for r in rows} == set(order)
    assert spec["encoding"]["color"]["field"] == "awsregion"


def test_throttled_apis_also_takes_the_rate_by_api_table(session: spintrail.Session) -> None:
    table = spinnaker.throttle_rate_by_api(**WINDOW).run(session)
    spec = check_spec(plot.throttled_apis(table))
    assert "field" not in spec["encoding"]["color"]


def test_hourly_heatmap_shows_the_busiest_apis_per_hour(session: spintrail.Session) -> None:
    table = spinnaker.hourly_heatmap(**WINDOW).run(session)
    spec = check_spec(plot.hourly_heatmap(table, top=10))
    assert marks(spec) == ["rect"]
    assert len(spec["encoding"]["y"]["sort"]) == 10
    [rows] = values(spec)
    assert {r["api"] for r in rows} == set(spec["encoding"]["y"]["sort"])
    throttled = check_spec(plot.hourly_heatmap(table, value="throttled"))
    assert throttled["encoding"]["color"]["field"] == "throttled"
    with pytest.raises(spintrail.InvalidArgumentError, match="value must be"):
        plot.hourly_heatmap(table, value="errors")


def test_spinnaker_share_puts_spinnaker_beside_other_callers(session: spintrail.Session) -> None:
    table = spinnaker.spinnaker_share(**WINDOW).run(session)
    spec = check_spec(plot.spinnaker_share(table, top=8))
    assert sorted(marks(spec)) == ["bar", "text"]
    bars, labels = values(spec)
    assert len(labels) == 8
    assert {r["caller"] for r in bars} == {"Spinnaker", "Other callers"}
    busiest = max(table.to_pylist(), key=lambda r: r["total_calls"])
    first = labels[0]
    assert first["total_calls"] == busiest["total_calls"]
    pair = [r for r in bars if r["label"] == first["label"]]
    assert sum(r["calls"] for r in pair) == busiest["total_calls"]


@pytest.mark.parametrize(
    ("name", "function", "query"),
    [
        ("calls_over_time", plot.calls_over_time, spinnaker.calls_over_time),
        ("throttle_rate_over_time", plot.throttle_rate_over_time, spinnaker.throttling_over_time),
        ("throttled_apis", plot.throttled_apis, spinnaker.throttled_apis),
        ("hourly_heatmap", plot.hourly_heatmap, spinnaker.hourly_heatmap),
        ("spinnaker_share", plot.spinnaker_share, spinnaker.spinnaker_share),
    ],
)
def test_an_empty_result_says_there_is_no_data(
    session: spintrail.Session, name: str, function: Any, query: Any
) -> None:
    table = query(**EMPTY_WINDOW).run(session)
    assert table.num_rows == 0
    spec = check_spec(function(table))
    assert marks(spec) == ["text"]
    [rows] = values(spec)
    assert rows[0]["message"].startswith("No ")
    svg = vl_convert.vegalite_to_svg(spec, vl_version=vl_version())
    assert rows[0]["message"] in svg


def test_wrong_table_names_the_missing_columns_and_the_query() -> None:
    table = pa.table({"eventsource": ["ec2.amazonaws.com"], "n": [1]})
    with pytest.raises(spintrail.InvalidArgumentError) as err:
        plot.calls_over_time(table)
    assert "bucket_start" in str(err.value) and "calls_over_time" in str(err.value)
    with pytest.raises(spintrail.InvalidArgumentError, match=r"pyarrow\.Table"):
        plot.spinnaker_share(42)


def test_pandas_frames_are_accepted(session: spintrail.Session) -> None:
    pytest.importorskip("pandas")
    table = spinnaker.throttling_over_time("1h", **WINDOW).run(session)
    check_spec(plot.throttle_rate_over_time(table.to_pandas()))


def test_save_html_embeds_vega_once_and_each_spec(
    session: spintrail.Session, tmp_path: Path
) -> None:
    charts = [
        plot.calls_over_time(spinnaker.calls_over_time("1h", **WINDOW).run(session)),
        plot.throttled_apis(spinnaker.throttled_apis(**WINDOW).run(session)),
    ]
    path = plot.save_html(charts, tmp_path / "charts.html", title="A <test> page")
    text = path.read_text()
    assert text.count("window.vegaEmbed=") == 1
    assert text.count('<script type="application/json" data-chart=') == 2
    assert "<title>A &lt;test&gt; page</title>" in text
    assert "<script src=" not in text and "<link" not in text
    spec_text = text.split('data-chart="chart-1">')[1].split("</script>")[0]
    assert json.loads(spec_text)["encoding"]["x"]["field"] == "bucket_start"


def test_script_json_cannot_end_its_script_element() -> None:
    text = plot.script_json({"label": "</script><script>alert(1)</script> & <!--"})
    assert "</" not in text and "<!--" not in text
    assert json.loads(text) == {"label": "</script><script>alert(1)</script> & <!--"}
