"""The HTML report: Spinnaker's AWS API activity in a time window, as one self-contained file.

``spintrail.report(session, since="24h")`` runs the queries of :mod:`spintrail.spinnaker` on one
session (local or Athena), and writes a page with the headline numbers, the charts of
:mod:`spintrail.plot`, the top tables, the SQL behind every section, the time window and how
fresh the data is. The Vega JavaScript is embedded once and every chart's spec separately, so
the file opens anywhere with no network. On Athena the page also says what the report's queries
scanned and cost.

When the newest event in the data is older than the window's start (logs not delivered, or a
window in the wrong place), the report says so at the top instead of showing empty charts, and
skips the window's queries.
"""

from __future__ import annotations

import html
import os
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from spintrail import plot
from spintrail import spinnaker as pack
from spintrail.errors import InvalidArgumentError, SpintrailError
from spintrail.spinnaker import Query, Recognition

__all__ = ["ReportResult", "parse_time", "report"]

TimeArg = str | datetime | date | timedelta

#: How far before the window's start the freshness check looks for the newest event.
FRESHNESS_LOOKBACK = timedelta(days=31)
#: Rows shown per table (the rest are counted, not shown).
TABLE_ROWS = 20
#: Text longer than this is shown on a line under its row.
LONG_TEXT = 50
#: About how many characters fit across the page in a table row.
ROW_CHARS = 130

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def parse_time(value: TimeArg, now: datetime, *, name: str = "since") -> datetime:
    """A window bound as an aware UTC datetime: a duration before ``now`` (``30m``, ``24h``,
    ``7d``, ``2w`` or a ``timedelta``), a ``datetime`` (naive means UTC), a ``date`` (its
    midnight UTC) or an ISO-8601 string."""
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, timedelta):
        return now - value
    if isinstance(value, str):
        match = _RELATIVE.match(value)
        if match:
            unit = _UNITS[match.group(2).lower()]
            return now - timedelta(**{unit: float(match.group(1))})
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return _utc(datetime.fromisoformat(text))
        except ValueError:
            pass
    raise InvalidArgumentError(
        f"{name}={value!r} is not a time: give a duration before now like 30m, 24h or 7d, "
        "or an ISO-8601 time like 2026-12-01T00:00Z"
    )


def _bucket_for(window: timedelta) -> str:
    """A time-bucket size that gives a readable number of bars (about 100 to 300)."""
    if window <= timedelta(hours=2):
        return "1m"
    if window <= timedelta(hours=12):
        return "5m"
    if window <= timedelta(days=3):
        return "15m"
    if window <= timedelta(days=21):
        return "1h"
    return "1d"


def _duration(delta: timedelta) -> str:
    """``timedelta`` in words for people: ``45 s``, ``12 min``, ``3 h 5 min``, ``2 days 4 h``."""
    seconds = int(abs(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def _when(value: datetime) -> str:
    return _utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class ReportResult:
    """What :func:`report` wrote and found."""

    path: Path
    start: datetime
    end: datetime
    #: The newest event in the data before the window's end (any caller), if any.
    latest_event: datetime | None
    #: True when the data has no event in the window (the newest is older than its start).
    stale: bool
    #: Warnings shown at the top of the report (also for a CLI's stderr).
    warnings: tuple[str, ...]
    queries: int
    #: Sections whose query failed, with the error (the rest of the report is still written).
    failed: tuple[str, ...]
    #: On Athena: bytes the report's queries scanned and what they cost; None on the local engine.
    data_scanned_bytes: int | None
    cost_usd: float | None
    #: On the local engine: bytes of log files the report's queries read; None on Athena.
    bytes_read: int | None = None

    def summary(self) -> str:
        """One line for humans, e.g. for a CLI's stderr."""
        text = f"{self.queries} {'query' if self.queries == 1 else 'queries'}"
        if self.data_scanned_bytes is not None:
            text += f" on Athena, scanned {self.data_scanned_bytes / 1e6:,.1f} MB"
            if self.cost_usd is not None:
                text += f", cost ${self.cost_usd:.4f}"
        elif self.bytes_read is not None:
            text += f" on the embedded engine, read {self.bytes_read / 1e6:,.1f} MB"
        return text


@dataclass
class _Ran:
    """One query of the report and its outcome."""

    title: str
    query: Query | None
    sql: str
    params: tuple[Any, ...]
    table: pa.Table | None = None
    error: str | None = None
    seconds: float = 0.0
    #: The query's LIMIT, when it has one.
    capped: int | None = None
    exception: SpintrailError | None = None


class _Runner:
    """Runs the report's queries on one session and adds up what they scanned and cost."""

    def __init__(self, session: Any, progress: Callable[[str], None] | None) -> None:
        self.session = session
        self.progress = progress
        self.ran: list[_Ran] = []
        self.athena = getattr(session, "engine", "local") == "athena"
        self.scanned = 0
        self.cost = 0.0
        self.bytes_read = 0
        self.records_read = 0
        self.counted: set[str] = set()
        #: The name of the in-memory copy of the window's events, and its rows.
        self.copy: str | None = None
        self.copy_rows = 0
        self.events: pack.Events | None = None

    def read_window(
        self, table: str, start: datetime, end: datetime, recognition: Recognition
    ) -> None:
        """On the embedded engine, reads the window's events from the logs once and keeps them
        in the session's memory, so every section asks its question of that copy (the same
        rows, the columns the questions read) instead of reading the logs again. Athena has
        no such copy: each of its queries scans (and bills) on its own."""
        register = getattr(self.session, "register", None)
        if self.athena or not callable(register):
            return
        query = pack.window_events(start=start, end=end, spinnaker=recognition, table=table)
        if self.progress is not None:
            self.progress(query.title)
        # A failure here (no logs, unreadable files) would fail every section the same way:
        # it is the report's error, raised, not a page of copies of it.
        events = self.session.sql(query.sql, list(query.params))
        self._account(events)
        name = f"spintrail_report_{uuid.uuid4().hex[:12]}"
        register(name, events)
        self.copy = name
        self.copy_rows = events.num_rows
        self.events = pack.Events(name, start, end, recognition)

    def release(self) -> None:
        if self.copy is not None:
            self.session.unregister(self.copy)
            self.copy = None

    def table_for(self, table: str) -> pack.TableArg:
        """The table the sections query: the in-memory copy of the window where there is one."""
        return self.events if self.events is not None else table

    def run(self, title: str, query: Query, executed: Query | None = None) -> _Ran:
        """Runs ``executed`` (the same question asked of the in-memory copy) and records it as
        ``query``, the SQL a reader of the report would run on the table itself."""
        run_as = executed if executed is not None else query
        return self.run_sql(
            title, query.sql, query.params, query, run_as=(run_as.sql, run_as.params)
        )

    def run_sql(
        self,
        title: str,
        sql: str,
        params: Sequence[Any],
        query: Query | None = None,
        *,
        run_as: tuple[str, Sequence[Any]] | None = None,
    ) -> _Ran:
        ran = _Ran(title, query, sql, tuple(params))
        if self.progress is not None:
            self.progress(title)
        started = time.monotonic()
        try:
            text, values = run_as if run_as is not None else (sql, params)
            ran.table = self.session.sql(text, list(values))
        except SpintrailError as err:
            ran.error = f"{type(err).__name__}: {err}"
            ran.exception = err
        ran.seconds = time.monotonic() - started
        self._account(ran.table)
        self.ran.append(ran)
        return ran

    def _account(self, table: pa.Table | None) -> None:
        if self.athena:
            info = getattr(self.session, "last_query", None)
            if table is not None and b"spintrail.data_scanned_bytes" in (
                table.schema.metadata or {}
            ):
                metadata = table.schema.metadata
                query_id = metadata.get(b"spintrail.query_id", b"").decode()
                scanned = int(metadata[b"spintrail.data_scanned_bytes"])
                cost = float(metadata.get(b"spintrail.cost_usd", b"0"))
            elif info is not None:
                # A failed query has no result table, but Athena may have scanned (and billed).
                query_id, scanned, cost = info.query_id, info.data_scanned_bytes, info.cost_usd
            else:
                return
            if query_id and query_id in self.counted:
                return
            self.counted.add(query_id)
            self.scanned += scanned
            self.cost += cost
            return
        stats = getattr(self.session, "last_stats", None)
        if table is not None and stats is not None:
            self.bytes_read += stats.bytes_read
            self.records_read += stats.records_read


def _freshness_sql(table: str) -> str:
    return f"""SELECT max(from_iso8601_timestamp(eventtime)) AS latest_event
FROM {table}
WHERE day >= ? AND day <= ?
  AND from_iso8601_timestamp(eventtime) < from_iso8601_timestamp(?)"""


def _freshness_on_copy(name: str) -> str:
    # Same answer as _freshness_sql when the window has events: the newest of them.
    return f"SELECT max(event_ts) AS latest_event FROM {name}"


def _table_name(session: Any) -> str:
    name = str(getattr(session, "table", "cloudtrail_logs"))
    if not re.match(r"^\w+$", name):
        raise InvalidArgumentError(f"{name!r} is not a table name")
    return name


# -- HTML pieces ---------------------------------------------------------------------------------

_STYLE = """
:root { --ink:#1f2328; --muted:#59636e; --line:#d8dee4; --soft:#f6f8fa; --accent:#4e79a7;
  --warn-bg:#fff4e5; --warn:#9a5b00; --bad-bg:#ffebe9; --bad:#a40e26; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 28px 64px; }
header { border-bottom: 1px solid var(--line); padding-bottom: 16px; margin-bottom: 8px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 36px 0 2px; padding-top: 8px; border-top: 1px solid var(--line); }
.meta { color: var(--muted); margin: 2px 0; }
.meta b { color: var(--ink); font-weight: 600; }
.question { color: var(--muted); margin: 0 0 12px; font-style: italic; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 20px 0 8px; }
.card { flex: 1 1 150px; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px;
  background: var(--soft); }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: .04em; }
.card .value { font-size: 26px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .note { color: var(--muted); font-size: 12px; }
.card.alert .value { color: var(--bad); }
.banner { border-radius: 8px; padding: 12px 16px; margin: 16px 0; }
.banner.warn { background: var(--warn-bg); color: var(--warn); border: 1px solid #f0c36d; }
.banner.bad { background: var(--bad-bg); color: var(--bad); border: 1px solid #ffb3b8; }
.banner.info { background: var(--soft); color: var(--muted); border: 1px solid var(--line); }
.banner strong { display: block; margin-bottom: 2px; }
nav ol { margin: 8px 0 0; padding-left: 20px; columns: 2; color: var(--muted); }
nav a { color: var(--accent); text-decoration: none; }
.chart { margin: 8px 0 4px; min-height: 60px; overflow-x: auto; }
details { margin: 6px 0 0; }
summary { cursor: pointer; color: var(--accent); font-size: 13px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
  padding: 10px 12px; overflow-x: auto;
  font: 12px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.params { font-size: 12px; color: var(--muted); }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
th, td { padding: 4px 7px; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; white-space: nowrap; }
tr.sub td { white-space: normal; overflow-wrap: anywhere; color: var(--muted);
  padding-top: 0; font-size: 12px; }
tr.sub .key { font-weight: 600; }
tr.sub .sep { margin: 0 6px; color: var(--line); }
tr:has(+ tr.sub) td { border-bottom: none; }
th { background: var(--soft); font-weight: 600; white-space: normal; vertical-align: bottom; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.null { color: #9aa4ae; }
tr:last-child td { border-bottom: none; }
.more, .empty { color: var(--muted); font-size: 12.5px; margin: 6px 0 0; }
.error { color: var(--bad); }
footer { margin-top: 48px; color: var(--muted); font-size: 12px; }
"""


def _cell(value: Any, column: str) -> tuple[str, str]:
    """A table cell's text and CSS class."""
    if value is None:
        return "—", "null"
    if isinstance(value, bool):
        return str(value).lower(), ""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return f"{value:,}", "num"
    if isinstance(value, float):
        if column.endswith(("_rate", "_share")):
            return f"{value:.1%}", "num"
        return f"{value:,.2f}", "num"
    if isinstance(value, datetime):
        return _utc(value).strftime("%Y-%m-%d %H:%M:%S"), ""
    return str(value), ""


def html_table(table: pa.Table, max_rows: int = TABLE_ROWS, capped: int | None = None) -> str:
    """An escaped HTML table of the first ``max_rows`` rows, numbers right-aligned, long text
    wrapped. Columns with no value in the shown rows are named below the table instead of
    taking room. ``capped``: the query's LIMIT (a result that long may have been cut)."""
    if table.num_rows == 0:
        return '<p class="empty">No rows in this time window.</p>'
    shown = table.slice(0, max_rows).to_pylist()
    present = [n for n in table.column_names if any(row[n] is not None for row in shown)]
    empty = [n for n in table.column_names if n not in present]
    numeric = {
        f.name
        for f in table.schema
        if pa.types.is_integer(f.type)
        or pa.types.is_floating(f.type)
        or pa.types.is_decimal(f.type)
    }
    # Long text (error messages) goes on a line under its row, full width; so do the widest
    # text columns while the row would be wider than the page.
    texts = {n: [_cell(row[n], n)[0] for row in shown] for n in present}
    # Headers wrap at the spaces that stand for underscores: their longest word counts.
    widths = {
        n: max(*(len(w) for w in n.split("_")), *(len(t) for t in texts[n])) + 2 for n in present
    }
    long = [n for n in present if widths[n] > LONG_TEXT]
    names = [n for n in present if n not in long]
    movable = sorted((n for n in names if n not in numeric), key=lambda n: -widths[n])
    while sum(widths[n] for n in names) > ROW_CHARS and len(names) > 3 and movable:
        widest = movable.pop(0)
        names.remove(widest)
        long.append(widest)
    long = [n for n in present if n in long]
    head = "".join(
        f'<th class="{"num" if n in numeric else ""}">{html.escape(n.replace("_", " "))}</th>'
        for n in names
    )
    body = []
    for i, row in enumerate(shown):
        cells = []
        for name in names:
            text, css = _cell(row[name], name)
            cells.append(f'<td class="{css}">{html.escape(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
        extra = [
            f'<span class="key">{html.escape(name)}:</span> {html.escape(texts[name][i])}'
            for name in long
            if row[name] is not None
        ]
        if extra:
            body.append(
                f'<tr class="sub"><td colspan="{len(names)}">'
                + ' <span class="sep">·</span> '.join(extra)
                + "</td></tr>"
            )
    out = (
        '<div class="table-wrap"><table><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "\n".join(body)
        + "</tbody></table></div>"
    )
    notes = []
    if table.num_rows > max_rows:
        total = f"{table.num_rows:,} in all"
        if capped is not None and table.num_rows >= capped:
            total = f"the query stops at {capped:,}"
        notes.append(
            f"{table.num_rows - max_rows:,} more rows not shown ({total}; "
            "run the SQL below for every row)."
        )
    if empty:
        listed = ", ".join(html.escape(n) for n in empty)
        notes.append(f"No values in {listed}.")
    if notes:
        out += '<p class="more">' + " ".join(notes) + "</p>"
    return out


def _param_text(value: Any) -> str:
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    return repr(value)


def _sql_details(ran: _Ran) -> str:
    params = ""
    if ran.params:
        items = ", ".join(
            f"{i}: <code>{html.escape(_param_text(p))}</code>"
            for i, p in enumerate(ran.params, start=1)
        )
        params = f'<p class="params">Parameters, in order of the <code>?</code> marks: {items}</p>'
    took = f" · {ran.seconds:.2f} s" if ran.table is not None else ""
    rows = ""
    if ran.table is not None:
        rows = f" · {ran.table.num_rows:,} row{'' if ran.table.num_rows == 1 else 's'}"
    return (
        f"<details><summary>SQL{rows}{took}</summary>"
        f"<pre><code>{html.escape(ran.sql)}</code></pre>{params}</details>"
    )


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _section_head(ran: _Ran) -> str:
    question = ran.query.question if ran.query is not None else ""
    out = f'<h2 id="{_anchor(ran.title)}">{html.escape(ran.title)}</h2>\n'
    if question:
        out += f'<p class="question">{html.escape(question)}</p>\n'
    if ran.error:
        out += f'<p class="error">This query failed: {html.escape(ran.error)}</p>\n'
    return out


def _card(label: str, value: str, note: str = "", alert: bool = False) -> str:
    css = "card alert" if alert else "card"
    note_html = f'<div class="note">{html.escape(note)}</div>' if note else ""
    return (
        f'<div class="{css}"><div class="label">{html.escape(label)}</div>'
        f'<div class="value">{html.escape(value)}</div>{note_html}</div>'
    )


def _banner(kind: str, heading: str, text: str) -> str:
    return (
        f'<div class="banner {kind}"><strong>{html.escape(heading)}</strong>'
        f"{html.escape(text)}</div>"
    )


def _recognition_text(recognition: Recognition) -> str:
    parts = [f"assumed role's name LIKE {recognition.role_pattern!r}"]
    if recognition.session_name:
        parts.append(f"role session name = {recognition.session_name!r}")
    if recognition.user_agent_pattern:
        parts.append(f"user agent LIKE {recognition.user_agent_pattern!r}")
    return " or ".join(parts)


# -- the report ----------------------------------------------------------------------------------

#: The pack's questions the report draws, in order.
_CHARTS = (
    "calls_over_time",
    "throttling_over_time",
    "throttled_apis",
    "hourly_heatmap",
    "spinnaker_share",
)
#: The pack's questions the report shows as tables, in order.
_TABLES = (
    "throttle_rate_by_api",
    "call_rates",
    "pipeline_attribution",
    "failed_mutations",
    "access_denied",
)
#: Questions with a row per event get a LIMIT (the report shows the newest rows).
_PER_EVENT = ("failed_mutations", "access_denied")
EVENT_ROWS = 1000


def _query(name: str, bucket: str, kwargs: dict[str, Any]) -> Query:
    function = getattr(pack, name)
    if name.endswith("_over_time"):
        return function(bucket, **kwargs)  # type: ignore[no-any-return]
    if name in _PER_EVENT:
        return function(limit=EVENT_ROWS, **kwargs)  # type: ignore[no-any-return]
    return function(**kwargs)  # type: ignore[no-any-return]


def _chart_for(name: str, table: pa.Table, bucket: str) -> Any:
    # No chart titles: the report's headings name each chart.
    if name == "calls_over_time":
        return plot.calls_over_time(table, bucket=bucket, title="")
    if name == "throttling_over_time":
        return plot.throttle_rate_over_time(table, title="")
    if name == "throttled_apis":
        return plot.throttled_apis(table, title="")
    if name == "hourly_heatmap":
        return plot.hourly_heatmap(table, title="")
    return plot.spinnaker_share(table, title="")


def report(
    session: Any,
    since: TimeArg = "24h",
    until: TimeArg | None = None,
    out: str | os.PathLike[str] = "report.html",
    spinnaker: Recognition | None = None,
    *,
    title: str = "Spinnaker's AWS API activity",
    progress: Callable[[str], None] | None = None,
) -> ReportResult:
    """Writes a self-contained HTML report of Spinnaker's API calls in a time window.

    ``session`` is a :class:`~spintrail.Session` or :class:`~spintrail.AthenaSession`; every
    query of the report runs on it. The window runs from ``since`` (``"30m"``, ``"24h"``,
    ``"7d"`` before now, a datetime, or an ISO-8601 string) to ``until`` (default now; same
    forms). ``spinnaker`` says how Spinnaker's calls are recognised (default
    :data:`spintrail.spinnaker.DEFAULT`). ``progress`` is called with each section's title
    before its query runs. Returns where the file went and what the report found. A section
    whose query fails shows its error; when the table cannot be read at all (unreachable
    endpoint, unreadable logs, no access) the error is raised and no file is written.
    """
    recognition = spinnaker if spinnaker is not None else pack.DEFAULT
    now = datetime.now(timezone.utc).replace(microsecond=0)
    end = parse_time(until, now, name="until") if until is not None else now
    start = parse_time(since, end if until is not None else now, name="since")
    if start >= end:
        raise InvalidArgumentError(
            f"the window starts ({_when(start)}) at or after it ends ({_when(end)}): "
            "give an earlier since or a later until"
        )
    table = _table_name(session)
    bucket = _bucket_for(end - start)
    runner = _Runner(session, progress)

    try:
        return _report(
            session, runner, table, start, end, now, until, bucket, recognition, title, out
        )
    finally:
        runner.release()


def _report(
    session: Any,
    runner: _Runner,
    table: str,
    start: datetime,
    end: datetime,
    now: datetime,
    until: TimeArg | None,
    bucket: str,
    recognition: Recognition,
    title: str,
    out: str | os.PathLike[str],
) -> ReportResult:
    warnings: list[str] = []
    runner.read_window(table, start, end, recognition)
    lookback = start - FRESHNESS_LOOKBACK
    # The newest event before the window's end is the copy's newest when the copy has any;
    # only an empty window needs the logs before it.
    fresh = runner.run_sql(
        "Data freshness",
        _freshness_sql(table),
        [lookback.strftime("%Y/%m/%d"), end.strftime("%Y/%m/%d"), end.isoformat()],
        run_as=(_freshness_on_copy(runner.copy), ()) if runner.copy and runner.copy_rows else None,
    )
    if fresh.exception is not None:
        # The first question of the table failed (unreachable endpoint, missing workgroup or
        # table, no access): every section would fail alike, so no page is written.
        raise fresh.exception
    latest: datetime | None = None
    if fresh.table is not None and fresh.table.num_rows:
        value = fresh.table.column(0)[0].as_py()
        latest = _utc(value) if isinstance(value, datetime) else None
    stale = fresh.error is None and (latest is None or latest < start)
    if fresh.error is None and latest is None:
        warnings.append(
            f"The data has no events in the {FRESHNESS_LOOKBACK.days} days before "
            f"{_when(end)}: check the source (or the table) and the time window."
        )
    elif stale and latest is not None:
        warnings.append(
            f"The newest event in the data is at {_when(latest)}, {_duration(now - latest)} "
            f"ago, before this window starts ({_when(start)}): the logs are not up to date "
            "here, or the window is in the wrong place. Choose a window that covers "
            f"{latest:%Y-%m-%d} (for example --since {_since_hint(latest, now)})."
        )

    kwargs: dict[str, Any] = {
        "start": start,
        "end": end,
        "spinnaker": recognition,
        "table": table,
    }
    headline: _Ran | None = None
    charts: list[tuple[_Ran, Any]] = []
    tables: list[_Ran] = []
    asked = {**kwargs, "table": runner.table_for(table)}
    if not stale:
        headline = runner.run("Headline", pack.headline(**kwargs), pack.headline(**asked))
        for name in _CHARTS:
            query = _query(name, bucket, kwargs)
            ran = runner.run(query.title, query, _query(name, bucket, asked))
            chart = None
            if ran.table is not None:
                try:
                    chart = _chart_for(name, ran.table, bucket)
                except InvalidArgumentError as err:
                    ran.error = f"{type(err).__name__}: {err}"
            charts.append((ran, chart))
        for name in _TABLES:
            query = _query(name, bucket, kwargs)
            ran = runner.run(query.title, query, _query(name, bucket, asked))
            ran.capped = EVENT_ROWS if name in _PER_EVENT else None
            tables.append(ran)

    failed = tuple(f"{r.title}: {r.error}" for r in runner.ran if r.error)
    if headline is not None and headline.table is not None and headline.table.num_rows:
        calls = headline.table.column("calls")[0].as_py() or 0
        if calls == 0:
            warnings.append(
                "The data has events in this window, but none recognised as Spinnaker's "
                f"({_recognition_text(recognition)}). If Spinnaker runs under other names, "
                "pass a spintrail.Recognition that matches them."
            )
    if latest is not None and not stale and until is None and now - latest > timedelta(minutes=30):
        warnings.append(
            f"The newest event is {_duration(now - latest)} old: the end of the window has no "
            "data yet (CloudTrail delivers log files every few minutes; a source that is "
            "copied or synced may lag)."
        )

    body = _render(
        title=title,
        session=session,
        table=table,
        start=start,
        end=end,
        now=now,
        bucket=bucket,
        recognition=recognition,
        latest=latest,
        stale=stale,
        warnings=warnings,
        fresh=fresh,
        headline=headline,
        charts=charts,
        tables=tables,
        runner=runner,
    )
    target = Path(out)
    target.write_text(plot.html_page(title, body, style=_STYLE), encoding="utf-8")
    return ReportResult(
        path=target.resolve(),
        start=start,
        end=end,
        latest_event=latest,
        stale=stale,
        warnings=tuple(warnings),
        queries=len(runner.ran),
        failed=failed,
        data_scanned_bytes=runner.scanned if runner.athena else None,
        cost_usd=runner.cost if runner.athena else None,
        bytes_read=None if runner.athena else runner.bytes_read,
    )


def _since_hint(latest: datetime, now: datetime) -> str:
    days = max(1, (now - latest).days + 1)
    return f"{days}d"


def _render(
    *,
    title: str,
    session: Any,
    table: str,
    start: datetime,
    end: datetime,
    now: datetime,
    bucket: str,
    recognition: Recognition,
    latest: datetime | None,
    stale: bool,
    warnings: list[str],
    fresh: _Ran,
    headline: _Ran | None,
    charts: list[tuple[_Ran, Any]],
    tables: list[_Ran],
    runner: _Runner,
) -> str:
    engine = getattr(session, "engine", "local")
    where = (
        f"Athena, workgroup {session.workgroup}, {session.region}"
        if engine == "athena"
        else "embedded engine, " + ", ".join(getattr(session, "sources", []) or [])
    )
    database = getattr(session, "database", "default")
    parts: list[str] = ["<main>", "<header>", f"<h1>{html.escape(title)}</h1>"]
    parts.append(
        f'<p class="meta">Window <b>{html.escape(_when(start))}</b> → '
        f"<b>{html.escape(_when(end))}</b> ({html.escape(_duration(end - start))}) · "
        f"time buckets of {html.escape(plot._BUCKET_WORDS[bucket])}</p>"
    )
    if latest is not None:
        fresh_text = f"{_when(latest)} ({_duration(now - latest)} ago)"
    elif fresh.error:
        fresh_text = "unknown (the freshness query failed)"
    else:
        fresh_text = f"none in the {FRESHNESS_LOOKBACK.days} days before the window's end"
    parts.append(f'<p class="meta">Newest event in the data: <b>{html.escape(fresh_text)}</b></p>')
    parts.append(
        f'<p class="meta">Data: <b>{html.escape(f"{database}.{table}")}</b> on '
        f"{html.escape(where)} · report written {html.escape(_when(now))}</p>"
    )
    parts.append(
        f'<p class="meta">Spinnaker\'s calls: {html.escape(_recognition_text(recognition))}</p>'
    )
    parts.append("</header>")

    if stale:
        heading = "No data in this time window"
        parts.append(_banner("bad", heading, warnings[0] if warnings else ""))
        rest = warnings[1:]
    else:
        rest = warnings
    parts.extend(_banner("warn", "Note", w) for w in rest)
    failed = [r for r in runner.ran if r.error]
    if failed:
        names = ", ".join(r.title for r in failed)
        parts.append(
            _banner("bad", "Some queries failed", f"{names}: see each section for the error.")
        )

    parts.append(_cards(headline, runner))
    if headline is not None:
        if headline.error:
            parts.append(f'<p class="error">This query failed: {html.escape(headline.error)}</p>')
        parts.append(_sql_details(headline))
    if stale:
        parts.append(
            '<p class="empty">The window\'s queries were not run: there is no data in it.</p>'
        )
    else:
        links = [r.title for r, _ in charts] + [r.title for r in tables]
        items = "".join(f'<li><a href="#{_anchor(t)}">{html.escape(t)}</a></li>' for t in links)
        parts.append(f"<nav><ol>{items}</ol></nav>")
    for i, (ran, chart) in enumerate(charts, start=1):
        parts.append(_section_head(ran))
        if chart is not None:
            parts.append(plot.chart_html(chart, f"chart-{i}"))
        parts.append(_sql_details(ran))
    for ran in tables:
        parts.append(_section_head(ran))
        if ran.table is not None:
            parts.append(html_table(ran.table, capped=ran.capped))
        parts.append(_sql_details(ran))
    parts.append('<h2 id="freshness">How fresh the data is</h2>')
    parts.append(
        '<p class="question">The newest event before the window\'s end, any caller '
        f"(looking back {FRESHNESS_LOOKBACK.days} days before the window's start).</p>"
    )
    if fresh.error:
        parts.append(f'<p class="error">This query failed: {html.escape(fresh.error)}</p>')
    parts.append(_sql_details(fresh))
    read_once = (
        " The logs were read once: each section asked its question of the window's events "
        "held in memory (the SQL shown gives the same answer on the table)."
        if runner.copy is not None
        else ""
    )
    parts.append(
        "<footer>Written by spintrail. Times are UTC, as CloudTrail records them. "
        f"Charts draw the queries' results as they are (the engine aggregates).{read_once}"
        "</footer>"
    )
    parts.append("</main>")
    return "\n".join(parts)


def _queries(count: int) -> str:
    return f"{count} {'query' if count == 1 else 'queries'}"


def _number(value: Any) -> str:
    return "—" if value is None else f"{value:,}"


def _cards(headline: _Ran | None, runner: _Runner) -> str:
    cards: list[str] = []
    row: dict[str, Any] = {}
    if headline is not None and headline.table is not None and headline.table.num_rows:
        row = headline.table.slice(0, 1).to_pylist()[0]
    if headline is not None:
        calls = row.get("calls")
        rate = row.get("throttle_rate")
        cards.append(_card("Spinnaker's calls", _number(calls)))
        errors = row.get("errors")
        share = f"{errors / calls:.1%} of calls" if calls and errors is not None else ""
        cards.append(_card("Errors", _number(errors), share, alert=bool(errors)))
        cards.append(
            _card(
                "Throttle rate",
                "—" if rate is None else f"{rate:.2%}",
                f"{_number(row.get('throttled'))} throttled calls",
                alert=bool(rate),
            )
        )
    if runner.athena:
        cards.append(
            _card(
                "Athena scanned",
                f"{runner.scanned / 1e6:,.1f} MB",
                f"by this report's {_queries(len(runner.ran))}",
            )
        )
        cards.append(_card("Athena cost", f"${runner.cost:.4f}", "of this report's queries"))
    else:
        cards.append(
            _card(
                "Read",
                f"{runner.bytes_read / 1e6:,.1f} MB",
                f"{runner.records_read:,} records, {_queries(len(runner.ran))}, local engine",
            )
        )
    return '<div class="cards">' + "".join(cards) + "</div>"
