"""Charts of the Spinnaker query pack's results, with Altair (Vega-Lite).

Each function takes the ``pyarrow.Table`` one query of :mod:`spintrail.spinnaker` returns and
gives an ``altair.Chart`` that renders in Jupyter and saves to a standalone HTML file::

    from spintrail import plot, spinnaker
    table = spinnaker.calls_over_time(bucket="15m", start="2026-12-01").run(session)
    plot.calls_over_time(table, bucket="15m")          # shows in a notebook cell
    plot.save_html([plot.calls_over_time(table)], "calls.html")

The queries aggregate; the charts only draw what they are given (no Vega-Lite transform adds up
raw rows), so a chart of a billion events is as small as the query's result. Times are shown in
UTC, as CloudTrail records them. An empty result gives a chart that says there is no data.

Needs the ``plot`` extra: ``pip install 'spintrail[plot]'`` (Altair and vl-convert-python, which
ships the Vega JavaScript that :func:`save_html` embeds, so the file needs no network). In
Jupyter without network, ``altair.renderers.enable("png")`` draws each chart as an image through
vl-convert (the notebooks do this): Altair's default renderer loads Vega from a CDN, and Altair 6
emits Vega-Lite 6, which JupyterLab's own renderer (up to Vega-Lite 5) does not draw.
"""

from __future__ import annotations

import functools
import html
import itertools
import json
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa

from spintrail.errors import InvalidArgumentError

if TYPE_CHECKING:
    import altair as alt

__all__ = [
    "calls_over_time",
    "hourly_heatmap",
    "html_page",
    "no_data",
    "save_html",
    "spinnaker_share",
    "throttle_rate_over_time",
    "throttled_apis",
]

#: Chart width in pixels (the report's column fits it).
WIDTH = 760
#: 20 categorical colours for services and regions: Tableau's ten, then their light tints (so
#: the first ten categories never share a hue, unlike the paired ``tableau20`` scheme).
PALETTE = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
    "#a0cbe8", "#ffbe7d", "#8cd17d", "#ff9d9a", "#86bcb6",
    "#f1ce63", "#d4a6c8", "#fabfd2", "#d7b5a6", "#79706e",
]  # fmt: skip
SPINNAKER_COLOR = "#4c78a8"
OTHER_COLOR = "#bab0ac"
THROTTLE_COLOR = "#e45756"
#: Tooltip and axis time format (UTC).
TIME_FORMAT = "%Y-%m-%d %H:%M UTC"
#: Axis labels on the 24-hour clock, with the date at midnight.
_TIME_LABEL = (
    "utchours(datum.value) == 0 && utcminutes(datum.value) == 0"
    " ? utcFormat(datum.value, '%b %d') : utcFormat(datum.value, '%H:%M')"
)

BUCKETS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}
_BUCKET_WORDS = {"1m": "minute", "5m": "5 min", "15m": "15 min", "1h": "hour", "1d": "day"}


def _altair() -> Any:
    try:
        import altair
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise InvalidArgumentError(
            "spintrail.plot needs Altair: pip install 'spintrail[plot]' "
            "(altair and vl-convert-python)"
        ) from err
    return altair


def _as_table(data: Any, needed: Sequence[str], query: str) -> pa.Table:
    """The input as an Arrow table that has the columns ``query``'s result has."""
    if isinstance(data, pa.Table):
        table = data
    else:
        try:
            table = pa.table(data)
        except (TypeError, ValueError, pa.ArrowException) as err:
            raise InvalidArgumentError(
                f"expected a pyarrow.Table (the result of spintrail.spinnaker.{query}(...).run), "
                f"not {type(data).__name__}"
            ) from err
    missing = [c for c in needed if c not in table.column_names]
    if missing:
        raise InvalidArgumentError(
            f"the table lacks column(s) {', '.join(missing)}: pass the result of "
            f"spintrail.spinnaker.{query}(...) (it has {', '.join(table.column_names) or 'none'})"
        )
    return table


def _json_value(value: Any) -> Any:
    """A cell as a JSON value Vega reads: times as ISO-8601 UTC strings."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _rows(table: pa.Table, columns: Iterable[str]) -> list[dict[str, Any]]:
    wanted = [c for c in columns if c in table.column_names]
    return [{k: _json_value(v) for k, v in row.items()} for row in table.select(wanted).to_pylist()]


def service_name(eventsource: str | None) -> str:
    """``ec2.amazonaws.com`` → ``ec2`` (the short names people use)."""
    if not eventsource:
        return "(none)"
    return eventsource.removesuffix(".amazonaws.com")


def _api_label(eventsource: str | None, eventname: str | None) -> str:
    return f"{service_name(eventsource)}:{eventname or '(none)'}"


def _order_by_total(keys: Sequence[str], values: Sequence[Any]) -> list[str]:
    """Distinct keys, largest total first (orders legends and bars; the query did the counting
    per group, this only ranks the few groups it returned)."""
    totals: dict[str, float] = {}
    for key, value in zip(keys, values, strict=True):
        totals[key] = totals.get(key, 0.0) + float(value or 0)
    return sorted(totals, key=lambda k: (-totals[k], k))


def _bucket_width(starts: Sequence[datetime], bucket: str | timedelta | None) -> timedelta:
    if isinstance(bucket, timedelta):
        return bucket
    if bucket is not None:
        if bucket not in BUCKETS:
            raise InvalidArgumentError(
                f"bucket {bucket!r} is not one of {', '.join(BUCKETS)} (or a timedelta)"
            )
        return BUCKETS[bucket]
    distinct = sorted(set(starts))
    gaps = [b - a for a, b in itertools.pairwise(distinct) if b > a]
    return min(gaps) if gaps else BUCKETS["5m"]


def _bucket_words(width: timedelta) -> str:
    for name, size in BUCKETS.items():
        if size == width:
            return _BUCKET_WORDS[name]
    minutes = width.total_seconds() / 60
    return f"{minutes:g} min"


def _finish(chart: Any) -> alt.TopLevelMixin:
    """The house style: readable fonts, quiet grid, no frame, left-aligned titles."""
    styled = (
        chart.configure(
            font="system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
            background="white",
            padding=8,
        )
        .configure_title(fontSize=15, fontWeight=600, anchor="start", subtitleColor="#555")
        .configure_axis(
            labelFontSize=11,
            titleFontSize=12,
            titleFontWeight=500,
            titleColor="#333",
            labelColor="#333",
            gridColor="#e6e6e6",
            domainColor="#888",
            tickColor="#888",
        )
        .configure_legend(labelFontSize=11, titleFontSize=12, symbolLimit=0, labelLimit=220)
        .configure_view(stroke=None)
    )
    return cast("alt.TopLevelMixin", styled)


def _title(alt: Any, title: str, subtitle: str = "") -> dict[str, Any]:
    """``properties`` for the chart's title and subtitle; none for an empty title (a page with
    its own headings, like the report)."""
    if not title:
        return {}
    return {"title": alt.TitleParams(title, subtitle=subtitle) if subtitle else title}


def no_data(
    title: str, message: str = "No data in this time window", height: int = 120
) -> alt.TopLevelMixin:
    """A chart that says there is nothing to show (instead of an empty frame or an error)."""
    alt = _altair()
    chart = (
        alt.Chart(alt.Data(values=[{"message": message}]))
        .mark_text(fontSize=14, color="#777", fontStyle="italic")
        .encode(text="message:N")
        .properties(**_title(alt, title), width=WIDTH, height=height)
    )
    return _finish(chart)


def _time_axis(alt: Any, field: str, title: str = "Time (UTC)") -> Any:
    return alt.X(
        f"{field}:T",
        title=title,
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(labelOverlap=True, tickCount=8, labelAngle=0, labelExpr=_TIME_LABEL),
    )


def _count_axis(alt: Any) -> Any:
    """A horizontal count axis: few enough ticks that thousands never run into each other."""
    return alt.Axis(format=",~f", tickCount=5, labelOverlap=True)


def _time_tooltip(alt: Any, field: str, title: str) -> Any:
    return alt.Tooltip(f"{field}:T", title=title, format=TIME_FORMAT, formatType="utc")


def calls_over_time(
    data: Any,
    *,
    bucket: str | timedelta | None = None,
    title: str = "Spinnaker's API calls over time",
    height: int = 300,
) -> alt.TopLevelMixin:
    """Stacked bars of calls per time bucket, one colour per AWS service (largest at the
    bottom). Takes ``spinnaker.calls_over_time(...)``'s result; ``bucket`` is its bucket size
    (inferred from the data when not given)."""
    alt = _altair()
    table = _as_table(data, ["bucket_start", "eventsource", "calls"], "calls_over_time")
    if table.num_rows == 0:
        return no_data(title)
    starts = table.column("bucket_start").to_pylist()
    width = _bucket_width(starts, bucket)
    services = [service_name(s) for s in table.column("eventsource").to_pylist()]
    order = _order_by_total(services, table.column("calls").to_pylist())
    rank = {name: i for i, name in enumerate(order)}
    rows = _rows(table, ["bucket_start", "calls", "errors", "throttled"])
    for row, start, service in zip(rows, starts, services, strict=True):
        row["service"] = service
        row["rank"] = rank[service]
        row["bucket_end"] = _json_value(start + width)
    tooltip = [
        _time_tooltip(alt, "bucket_start", "From"),
        alt.Tooltip("service:N", title="Service"),
        alt.Tooltip("calls:Q", title="Calls", format=",~f"),
    ]
    tooltip += [
        alt.Tooltip(f"{c}:Q", title=c.capitalize(), format=",")
        for c in ("errors", "throttled")
        if c in table.column_names
    ]
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar(orient="vertical", strokeWidth=0)
        .encode(
            x=_time_axis(alt, "bucket_start"),
            x2="bucket_end:T",
            y=alt.Y(
                "calls:Q",
                title=f"API calls per {_bucket_words(width)}",
                stack="zero",
                axis=alt.Axis(format=",~f"),
            ),
            color=alt.Color(
                "service:N",
                title="Service",
                sort=order,
                scale=alt.Scale(range=PALETTE),
                legend=alt.Legend(columns=1 if len(order) <= 16 else 2),
            ),
            order=alt.Order("rank:Q", sort="ascending"),
            tooltip=tooltip,
        )
        .properties(
            **_title(alt, title, subtitle="Calls by Spinnaker per time bucket and service"),
            width=WIDTH,
            height=height,
        )
    )
    return _finish(chart)


def throttle_rate_over_time(
    data: Any,
    *,
    title: str = "Throttle rate over time",
    height: int = 220,
) -> alt.TopLevelMixin:
    """The share of Spinnaker's calls AWS throttled, per time bucket. Takes
    ``spinnaker.throttling_over_time(...)``'s result."""
    alt = _altair()
    table = _as_table(
        data, ["bucket_start", "calls", "throttled", "throttle_rate"], "throttling_over_time"
    )
    if table.num_rows == 0:
        return no_data(title)
    rows = _rows(table, ["bucket_start", "calls", "throttled", "throttle_rate"])
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=_time_axis(alt, "bucket_start"),
        y=alt.Y(
            "throttle_rate:Q",
            title="Throttled calls (% of calls)",
            axis=alt.Axis(format=".1~%"),
            scale=alt.Scale(zero=True, nice=True),
        ),
    )
    area = base.mark_area(
        color=THROTTLE_COLOR, opacity=0.18, interpolate="monotone", line=False
    ).encode(y2=alt.datum(0))
    line = base.mark_line(color=THROTTLE_COLOR, strokeWidth=2, interpolate="monotone")
    # Invisible points carry the tooltips (an area's tooltip shows a single row).
    points = base.mark_point(size=80, opacity=0, filled=True).encode(
        tooltip=[
            _time_tooltip(alt, "bucket_start", "From"),
            alt.Tooltip("calls:Q", title="Calls", format=",~f"),
            alt.Tooltip("throttled:Q", title="Throttled", format=",~f"),
            alt.Tooltip("throttle_rate:Q", title="Throttle rate", format=".2%"),
        ]
    )
    chart = alt.layer(area, line, points).properties(
        **_title(
            alt, title, subtitle="Share of Spinnaker's calls rejected with a throttling error code"
        ),
        width=WIDTH,
        height=height,
    )
    return _finish(chart)


def throttled_apis(
    data: Any,
    *,
    top: int = 15,
    title: str = "Most throttled APIs",
) -> alt.TopLevelMixin:
    """Horizontal bars of throttled calls per API (``service:EventName``), the most throttled
    first, split by region when the table has ``awsregion``. Takes
    ``spinnaker.throttled_apis(...)``'s result (or ``throttle_rate_by_api(...)``'s)."""
    alt = _altair()
    table = _as_table(data, ["eventsource", "eventname", "throttled"], "throttled_apis")
    if top < 1:
        raise InvalidArgumentError(f"top must be at least 1, not {top!r}")
    rows = _rows(table, ["eventsource", "eventname", "awsregion", "errorcode", "throttled"])
    rows = [r for r in rows if (r.get("throttled") or 0) > 0]
    if not rows:
        return no_data(title, "No throttled calls in this time window")
    for row in rows:
        row["api"] = _api_label(row.pop("eventsource"), row.get("eventname"))
    order = _order_by_total([r["api"] for r in rows], [r["throttled"] for r in rows])[:top]
    shown = set(order)
    rows = [r for r in rows if r["api"] in shown]
    by_region = "awsregion" in table.column_names
    tooltip = [alt.Tooltip("api:N", title="API")]
    if by_region:
        tooltip.append(alt.Tooltip("awsregion:N", title="Region"))
    if "errorcode" in table.column_names:
        tooltip.append(alt.Tooltip("errorcode:N", title="Error code"))
    tooltip.append(alt.Tooltip("throttled:Q", title="Throttled calls", format=","))
    encoding: dict[str, Any] = {
        "y": alt.Y("api:N", title=None, sort=order, axis=alt.Axis(labelLimit=320)),
        "x": alt.X("throttled:Q", title="Throttled calls", axis=_count_axis(alt)),
        "tooltip": tooltip,
    }
    if by_region:
        encoding["color"] = alt.Color("awsregion:N", title="Region", scale=alt.Scale(range=PALETTE))
    else:
        encoding["color"] = alt.value(THROTTLE_COLOR)
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar(height={"band": 0.8})
        .encode(**encoding)
        .properties(
            **_title(
                alt,
                title,
                subtitle=f"Spinnaker's calls rejected by throttling (top {len(order)} APIs)",
            ),
            width=WIDTH - 220,
            height=max(60, 24 * len(order)),
        )
    )
    return _finish(chart)


def hourly_heatmap(
    data: Any,
    *,
    value: str = "calls",
    top: int = 25,
    title: str | None = None,
) -> alt.TopLevelMixin:
    """Hour by API heatmap of ``calls`` (or ``throttled``), the busiest APIs on top. Takes
    ``spinnaker.hourly_heatmap(...)``'s result."""
    alt = _altair()
    if value not in ("calls", "throttled"):
        raise InvalidArgumentError(f"value must be 'calls' or 'throttled', not {value!r}")
    if top < 1:
        raise InvalidArgumentError(f"top must be at least 1, not {top!r}")
    table = _as_table(data, ["hour_start", "api", value], "hourly_heatmap")
    if title is None:
        title = "API calls per hour" if value == "calls" else "Throttled calls per hour"
    hours = table.column("hour_start").to_pylist()
    cells = [
        (row, start)
        for row, start in zip(
            _rows(table, ["hour_start", "api", "calls", "throttled"]), hours, strict=True
        )
        if row[value]
    ]
    if not cells:
        return no_data(title)
    order = _order_by_total([r["api"] for r, _ in cells], [r[value] for r, _ in cells])[:top]
    shown = set(order)
    kept = []
    for row, start in cells:
        if row["api"] in shown:
            row["hour_end"] = _json_value(start + timedelta(hours=1))
            kept.append(row)
    tooltip = [
        _time_tooltip(alt, "hour_start", "Hour from"),
        alt.Tooltip("api:N", title="API"),
        alt.Tooltip("calls:Q", title="Calls", format=",~f"),
    ]
    if "throttled" in table.column_names:
        tooltip.append(alt.Tooltip("throttled:Q", title="Throttled", format=","))
    chart = (
        alt.Chart(alt.Data(values=kept))
        # Cell borders only while cells are wide enough to show them (up to two days).
        .mark_rect(
            stroke="white", strokeWidth=0.5 if len({r["hour_start"] for r in kept}) <= 48 else 0
        )
        .encode(
            x=_time_axis(alt, "hour_start"),
            x2="hour_end:T",
            y=alt.Y("api:N", title=None, sort=order, axis=alt.Axis(labelLimit=300)),
            color=alt.Color(
                f"{value}:Q",
                title="Calls" if value == "calls" else "Throttled",
                scale=alt.Scale(
                    type="symlog", scheme="blues" if value == "calls" else "reds", zero=True
                ),
                legend=alt.Legend(format=",~f", gradientLength=160, labelOverlap="greedy"),
            ),
            tooltip=tooltip,
        )
        .properties(
            **_title(
                alt,
                title,
                subtitle=f"Spinnaker's busiest {len(order)} APIs, per hour (blank: none)",
            ),
            width=WIDTH - 240,
            height=max(60, 18 * len(order)),
        )
    )
    return _finish(chart)


def spinnaker_share(
    data: Any,
    *,
    top: int = 20,
    title: str = "Spinnaker's share of API calls",
) -> alt.TopLevelMixin:
    """Per API, account and region (the busiest ``top``): Spinnaker's calls beside all other
    callers', with Spinnaker's share at the end of each bar. Takes
    ``spinnaker.spinnaker_share(...)``'s result."""
    alt = _altair()
    needed = ["account", "awsregion", "eventsource", "eventname", "spinnaker_calls"]
    needed += ["other_calls", "total_calls", "spinnaker_share"]
    table = _as_table(data, needed, "spinnaker_share")
    if top < 1:
        raise InvalidArgumentError(f"top must be at least 1, not {top!r}")
    wide = [r for r in _rows(table, needed) if r["total_calls"]]
    if not wide:
        return no_data(title)
    wide.sort(key=lambda r: -r["total_calls"])
    wide = wide[:top]
    long: list[dict[str, Any]] = []
    for row in wide:
        row["label"] = (
            f"{_api_label(row['eventsource'], row['eventname'])} · "
            f"{row['account']} {row['awsregion']}"
        )
        for caller, field in (("Spinnaker", "spinnaker_calls"), ("Other callers", "other_calls")):
            long.append(
                {
                    "label": row["label"],
                    "caller": caller,
                    "calls": row[field] or 0,
                    "rank": 0 if caller == "Spinnaker" else 1,
                    "total_calls": row["total_calls"],
                    "spinnaker_share": row["spinnaker_share"],
                }
            )
    order = [r["label"] for r in wide]
    tooltip = [
        alt.Tooltip("label:N", title="API · account region"),
        alt.Tooltip("caller:N", title="Caller"),
        alt.Tooltip("calls:Q", title="Calls", format=",~f"),
        alt.Tooltip("total_calls:Q", title="All callers", format=",~f"),
        alt.Tooltip("spinnaker_share:Q", title="Spinnaker's share", format=".1%"),
    ]
    y = alt.Y("label:N", title=None, sort=order, axis=alt.Axis(labelLimit=420))
    bars = (
        alt.Chart(alt.Data(values=long))
        .mark_bar(height={"band": 0.8})
        .encode(
            y=y,
            x=alt.X("calls:Q", title="API calls", stack="zero", axis=_count_axis(alt)),
            color=alt.Color(
                "caller:N",
                title="Caller",
                scale=alt.Scale(
                    domain=["Spinnaker", "Other callers"], range=[SPINNAKER_COLOR, OTHER_COLOR]
                ),
                legend=alt.Legend(orient="top", direction="horizontal", title=None),
            ),
            order=alt.Order("rank:Q"),
            tooltip=tooltip,
        )
    )
    labels = (
        alt.Chart(alt.Data(values=wide))
        .mark_text(align="left", dx=4, fontSize=11, color="#333")
        .encode(
            y=y,
            x=alt.X("total_calls:Q"),
            text=alt.Text("spinnaker_share:Q", format=".0%"),
        )
    )
    chart = alt.layer(bars, labels).properties(
        **_title(
            alt,
            title,
            subtitle=f"Spinnaker vs other callers, busiest {len(wide)} API · account · region "
            "(label: Spinnaker's share)",
        ),
        width=WIDTH - 420,
        height=max(60, 24 * len(wide)),
    )
    return _finish(chart)


# -- standalone HTML -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script (from vl-convert-python; ~900 KB), which
    defines ``window.vegaEmbed``. Embedded once per page, it needs no network."""
    try:
        import vl_convert
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise InvalidArgumentError(
            "standalone HTML needs vl-convert-python: pip install 'spintrail[plot]'"
        ) from err
    alt = _altair()
    major_minor = ".".join(str(alt.VEGALITE_VERSION).lstrip("v").split(".")[:2])
    version = major_minor if major_minor in vl_convert.get_vegalite_versions() else None
    # Bundling takes seconds and gives the same text for the same versions: keep it on disk.
    release = getattr(vl_convert, "__version__", "unknown")
    cached = _bundle_cache() / f"vega-bundle-{release}-{version}.js"
    try:
        return cached.read_text(encoding="utf-8")
    except OSError:
        pass
    # The stub wants a snippet; without one the bundle defines window.vegaEmbed (what we use).
    bundle: Callable[..., str] = vl_convert.javascript_bundle
    text = bundle(vl_version=version)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(cached)  # whole or not at all, even with reports written in parallel
    except OSError:
        pass  # a read-only home only costs the next report the same seconds
    return text


def _bundle_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "spintrail"


def script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>`` or ``<!--`` can end it)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def chart_html(chart: Any, chart_id: str) -> str:
    """A chart's container and its Vega-Lite spec as JSON (rendered by :func:`embed_script`)."""
    spec = chart.to_dict()
    return (
        f'<div class="chart" id="{html.escape(chart_id)}"></div>\n'
        f'<script type="application/json" data-chart="{html.escape(chart_id)}">'
        f"{script_json(spec)}</script>\n"
    )


#: Renders every chart spec of the page into its container (SVG, no actions menu: no links out).
EMBED_SCRIPT = """
(function () {
  document.querySelectorAll('script[data-chart]').forEach(function (node) {
    var target = document.getElementById(node.getAttribute('data-chart'));
    var spec = JSON.parse(node.textContent);
    vegaEmbed(target, spec, {renderer: 'svg', actions: false}).then(function () {
      target.setAttribute('data-rendered', 'true');
    }).catch(function (err) {
      target.setAttribute('data-rendered', 'error');
      target.textContent = 'This chart could not be drawn: ' + err;
      console.error(err);
    });
  });
})();
"""


def html_page(title: str, body: str, *, style: str = "") -> str:
    """A complete HTML page: ``body`` (with :func:`chart_html` parts), the Vega bundle once and
    the script that renders the charts. Opens from disk with no network."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{style}</style>\n"
        f"<script>{vega_bundle()}</script>\n</head>\n<body>\n{body}\n"
        f"<script>{EMBED_SCRIPT}</script>\n</body>\n</html>\n"
    )


def save_html(
    charts: Any | Sequence[Any],
    path: str | os.PathLike[str],
    *,
    title: str = "spintrail charts",
) -> Path:
    """Writes one or more charts to a standalone HTML file (Vega embedded once, no network
    needed to view it) and returns its path."""
    items = list(charts) if isinstance(charts, Sequence) else [charts]
    body = f"<h1>{html.escape(title)}</h1>\n" + "".join(
        chart_html(chart, f"chart-{i}") for i, chart in enumerate(items, start=1)
    )
    style = (
        "body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222}"
        ".chart{margin:24px 0}"
    )
    target = Path(path)
    target.write_text(html_page(title, body, style=style), encoding="utf-8")
    return target
