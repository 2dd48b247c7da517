"""The HTML report: one self-contained file, checked for content, opened in a real headless
Chromium with every network request blocked, on stale data, from the CLI, and on Athena (moto)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import spintrail
from moto_server import MotoServer, isolate_aws_env, moto_server
from spintrail import spinnaker
from spintrail.cli import main
from spintrail.generate import generate
from spintrail.report import ReportResult, html_table, parse_time

pytest.importorskip("altair")
pytest.importorskip("vl_convert")

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT_COPY = Path("/tmp/charts-report.png")
CHARTS = 5
#: Sections with SQL: the headline numbers, 5 charts, 5 tables, and the freshness check.
SQL_SECTIONS = 12


@dataclass
class Written:
    session: spintrail.Session
    result: ReportResult
    html: str


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two days of Spinnaker activity up to now."""
    folder = tmp_path_factory.mktemp("logs")
    generate(folder, events=30_000, days=2, seed=11)
    return folder


@pytest.fixture(scope="module")
def written(logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Written:
    session = spintrail.connect(logs)
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = spintrail.report(session, since="24h", out=out)
    return Written(session, result, out.read_text(encoding="utf-8"))


def test_report_is_one_file_with_vega_once_and_a_spec_per_chart(written: Written) -> None:
    html = written.html
    assert html.count("window.vegaEmbed=") == 1
    assert html.count('<script type="application/json" data-chart=') == CHARTS
    # Nothing to fetch: no external scripts, styles, images or fonts.
    assert all(" src=" not in tag for tag in re.findall(r"<script[^>]*>", html))
    markup = re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.S)
    assert not re.search(r"<(img|iframe|link|object|embed)\b", markup)
    assert "@import" not in markup and "url(" not in markup
    assert written.result.path.name == "report.html"
    assert not written.result.stale and not written.result.failed
    assert written.result.queries == 2 + CHARTS + 5
    assert written.result.data_scanned_bytes is None and written.result.cost_usd is None


def test_headline_numbers_are_the_querys(written: Written) -> None:
    result = written.result
    row = spinnaker.headline(start=result.start, end=result.end).run(written.session).to_pylist()[0]
    assert row["calls"] > 1000
    cards = dict(
        re.findall(
            r'<div class="label">([^<]+)</div><div class="value">([^<]+)</div>', written.html
        )
    )
    assert cards["Spinnaker&#x27;s calls"] == f"{row['calls']:,}"
    assert cards["Errors"] == f"{row['errors']:,}"
    assert cards["Throttle rate"] == f"{row['throttle_rate']:.2%}"
    assert cards["Read"].endswith(" MB")


def test_window_and_freshness_are_stated(written: Written) -> None:
    result = written.result
    assert result.end - result.start == timedelta(hours=24)
    assert result.latest_event is not None
    assert result.start < result.latest_event <= result.end
    assert f"{result.start:%Y-%m-%d %H:%M:%S} UTC" in written.html
    assert f"Newest event in the data: <b>{result.latest_event:%Y-%m-%d %H:%M:%S} UTC" in (
        written.html
    )
    assert "time buckets of 15 min" in written.html


def test_every_section_shows_its_sql_and_parameters(written: Written) -> None:
    html = written.html
    blocks = re.findall(
        r"<details><summary>SQL.*?</summary><pre><code>(.*?)</code></pre>", html, re.S
    )
    assert len(blocks) == SQL_SECTIONS
    for sql in blocks:
        assert "FROM" in sql
        # Escaped: the SQL's comparisons show as text, never as markup.
        assert "<" not in sql
    assert any("&lt;" in sql for sql in blocks)
    assert html.count("Parameters, in order of the <code>?</code> marks") == SQL_SECTIONS
    query = spinnaker.throttled_apis(start=written.result.start, end=written.result.end)
    assert "<pre><code>" + _escape(query.sql) + "</code></pre>" in html
    assert f'<h2 id="{_anchor(query.title)}">' in html


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def test_tables_are_escaped_and_say_what_is_left_out() -> None:
    table = pa.table(
        {
            "errormessage": ["<img src=x onerror=alert(1)>", None, "ok"],
            "calls": [1234567, 2, 3],
            "throttle_rate": [0.1234, None, 0.0],
        }
    )
    text = html_table(table, max_rows=2)
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert '<td class="num">1,234,567</td>' in text
    assert '<th class="num">throttle rate</th>' in text
    assert "12.3%" in text and ">—<" in text
    assert "1 more rows not shown (3 in all;" in text
    nothing = pa.table({"eventname": ["RunInstances"], "user": pa.array([None], pa.string())})
    text = html_table(nothing)
    assert "<th" in text and ">user<" not in text and "No values in user." in text
    long = pa.table({"eventname": ["RunInstances"], "errormessage": ["You are not <b>" + "x" * 60]})
    text = html_table(long)
    assert ">errormessage<" not in text  # no column: a line under the row
    sub = '<tr class="sub"><td colspan="1"><span class="key">errormessage:</span> You are'
    assert sub + " not &lt;b&gt;" in text
    assert "No rows" in html_table(table.slice(0, 0))


def test_report_renders_in_chromium_with_no_network(written: Written, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        # reason: Debian's chromium package is not installed here; CI installs it (.ci/run).
        pytest.skip("no /usr/bin/chromium (apt-get install -y chromium)")  # reason: above
    sync_api = pytest.importorskip("playwright.sync_api")
    attempted: list[str] = []
    errors: list[str] = []
    screenshot = tmp_path / "report.png"

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith("file://"):
            request_route.continue_()
        else:
            attempted.append(url)
            request_route.abort()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: attempted.append(r.url))
            page.goto(written.result.path.as_uri())
            page.wait_for_function(
                "() => { const c = [...document.querySelectorAll('.chart')];"
                " return c.length > 0 && c.every(e => e.dataset.rendered); }",
                timeout=60_000,
            )
            charts = page.eval_on_selector_all(
                ".chart",
                "els => els.map(e => ({id: e.id, rendered: e.dataset.rendered,"
                " svg: e.querySelectorAll('svg').length,"
                " marks: e.querySelectorAll('svg g.role-mark > path, svg g.role-mark > text')"
                ".length}))",
            )
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    shutil.copy(screenshot, SCREENSHOT_COPY)
    assert attempted == []
    assert errors == []
    assert len(charts) == CHARTS
    for chart in charts:
        assert chart["rendered"] == "true", chart
        assert chart["svg"] == 1, chart
        assert chart["marks"] > 0, chart
    assert screenshot.stat().st_size > 50_000


@pytest.fixture(scope="module")
def old_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Logs whose newest event is ten days old."""
    folder = tmp_path_factory.mktemp("old-logs")
    end = datetime.now(timezone.utc) - timedelta(days=10)
    generate(folder, events=3_000, days=1, seed=3, end=end)
    return folder


def test_stale_data_is_said_clearly_instead_of_empty_charts(old_logs: Path, tmp_path: Path) -> None:
    out = tmp_path / "stale.html"
    result = spintrail.report(spintrail.connect(old_logs), since="24h", out=out)
    assert result.stale
    assert result.latest_event is not None
    assert result.latest_event < result.start
    assert result.queries == 1  # only the freshness check: the window has nothing to query
    assert "before this window starts" in result.warnings[0]
    assert "--since 11d" in result.warnings[0]
    html = out.read_text()
    assert "No data in this time window" in html
    assert 'class="banner bad"' in html
    assert "data-chart=" not in html


def test_cli_warns_about_stale_data_on_stderr(
    old_logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    code = main(["report", "--source", str(old_logs), "--since", "30m", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0
    assert "spintrail: warning: The newest event in the data is at" in captured.err
    assert captured.out.strip() == f"wrote {out.resolve()}"


def test_cli_writes_the_report_for_a_window(
    logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli.html"
    until = datetime.now(timezone.utc).replace(microsecond=0)
    since = (until - timedelta(hours=6)).isoformat().replace("+00:00", "Z")
    code = main(
        [
            "report",
            "-s",
            str(logs),
            "--since",
            since,
            "--until",
            until.isoformat(),
            "-o",
            str(out),
            "--title",
            "Prod <Spinnaker>",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.strip() == f"wrote {out.resolve()}"
    html = out.read_text()
    assert "<h1>Prod &lt;Spinnaker&gt;</h1>" in html
    assert "time buckets of 5 min" in html
    assert "(6 h)" in html


def test_a_recognition_that_matches_nothing_is_pointed_out(logs: Path, tmp_path: Path) -> None:
    nobody = spinnaker.Recognition(
        role_pattern="%NoSuchRole%", session_name=None, user_agent_pattern=None
    )
    result = spintrail.report(
        spintrail.connect(logs), since="6h", out=tmp_path / "r.html", spinnaker=nobody
    )
    assert not result.stale
    assert any("none recognised as Spinnaker's" in w for w in result.warnings)
    html = (tmp_path / "r.html").read_text()
    assert "%NoSuchRole%" in html
    assert html.count("No data in this time window") >= 3


def test_bad_windows_are_refused(logs: Path, tmp_path: Path) -> None:
    session = spintrail.connect(logs)
    with pytest.raises(spintrail.InvalidArgumentError, match="30m, 24h or 7d"):
        spintrail.report(session, since="yesterday", out=tmp_path / "r.html")
    with pytest.raises(spintrail.InvalidArgumentError, match="at or after it ends"):
        spintrail.report(session, since="2026-12-02", until="2026-12-01", out=tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_parse_time_takes_durations_datetimes_and_iso_text() -> None:
    now = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
    assert parse_time("30m", now) == now - timedelta(minutes=30)
    assert parse_time("24h", now) == now - timedelta(hours=24)
    assert parse_time("7d", now) == now - timedelta(days=7)
    assert parse_time(timedelta(hours=2), now) == now - timedelta(hours=2)
    assert parse_time(datetime(2026, 12, 1, 8, 0), now) == datetime(
        2026, 12, 1, 8, 0, tzinfo=timezone.utc
    )
    assert parse_time("2026-12-01T08:00Z", now) == datetime(2026, 12, 1, 8, tzinfo=timezone.utc)
    assert parse_time("2026-12-01T09:00+01:00", now) == datetime(
        2026, 12, 1, 8, tzinfo=timezone.utc
    )
    with pytest.raises(spintrail.InvalidArgumentError, match="until='soon'"):
        parse_time("soon", now, name="until")


# -- Athena (moto) -------------------------------------------------------------------------------

REGION = "us-east-1"
ACCOUNT = "123456789012"
RESULTS = "s3://athena-results/spintrail/"
SCANNED = 250_000_000


class MarkedSession:
    """The real Athena session, with moto's ``scanned`` marker added to each query's text
    (moto reports 0 bytes scanned otherwise; see athena_moto.py)."""

    def __init__(self, inner: spintrail.AthenaSession) -> None:
        self._inner = inner

    def sql(self, query: str, params: Any = None) -> pa.Table:
        return self._inner.sql(f"{query}\n/* moto:scanned {SCANNED} */", params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture()
def moto(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[MotoServer]:
    with moto_server(str(Path(__file__).with_name("athena_moto.py"))) as server:
        isolate_aws_env(monkeypatch, tmp_path, REGION)
        server.client("s3", REGION).create_bucket(Bucket="athena-results")
        yield server


def seed(server: MotoServer, columns: str, rows: list[list[str | None]]) -> None:
    """Queues the result of the next query (moto serves them in order, whatever the SQL);
    ``columns`` is ``"name:type name:type ..."``."""
    pairs = [c.split(":") for c in columns.split()]
    info = [
        {"Name": n, "Label": n, "Type": t, "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN"}
        for n, t in pairs
    ]
    data = [[n for n, _ in pairs], *rows]
    encoded = [{"Data": [{} if v is None else {"VarCharValue": v} for v in r]} for r in data]
    result = {"rows": encoded, "column_info": info}
    server.post_json(
        "/moto-api/static/athena/query-results",
        {"account_id": ACCOUNT, "region": REGION, "results": [result]},
    )


def test_report_on_athena_adds_up_what_its_queries_scanned_and_cost(
    moto: MotoServer, tmp_path: Path
) -> None:
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    hour = (now - timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S.000")
    latest = (now - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S.000")
    ec2, api = "ec2.amazonaws.com", "DescribeInstances"
    place = [ACCOUNT, "us-east-1", ec2, api]
    # In the order the report runs its queries.
    seed(moto, "latest_event:timestamp", [[latest]])
    seed(
        moto,
        "calls:bigint errors:bigint throttled:bigint throttle_rate:double "
        "first_event:timestamp last_event:timestamp",
        [["1200", "30", "12", "0.01", hour, latest]],
    )
    seed(
        moto,
        "bucket_start:timestamp eventsource:varchar calls:bigint errors:bigint throttled:bigint",
        [[hour, ec2, "1000", "20", "10"], [hour, "ecs.amazonaws.com", "200", "10", "2"]],
    )
    seed(
        moto,
        "bucket_start:timestamp calls:bigint throttled:bigint throttle_rate:double",
        [[hour, "1200", "12", "0.01"]],
    )
    seed(
        moto,
        "eventsource:varchar eventname:varchar awsregion:varchar errorcode:varchar "
        "throttled:bigint",
        [[ec2, api, "us-east-1", "Client.RequestLimitExceeded", "10"]],
    )
    seed(
        moto,
        "hour_start:timestamp api:varchar calls:bigint throttled:bigint",
        [[hour, "ec2:DescribeInstances", "1000", "10"]],
    )
    seed(
        moto,
        "account:varchar awsregion:varchar eventsource:varchar eventname:varchar "
        "spinnaker_calls:bigint other_calls:bigint total_calls:bigint spinnaker_share:double",
        [[*place, "1000", "500", "1500", "0.6667"]],
    )
    seed(
        moto,
        "eventsource:varchar eventname:varchar calls:bigint throttled:bigint throttle_rate:double",
        [[ec2, api, "1000", "10", "0.01"]],
    )
    seed(
        moto,
        "account:varchar awsregion:varchar eventsource:varchar eventname:varchar calls:bigint "
        "peak_per_second:bigint p95_per_second:bigint throttled:bigint",
        [[*place, "1000", "9", "4", "10"]],
    )
    seed(
        moto,
        "execution_id:varchar kind:varchar user:varchar calls:bigint errors:bigint "
        "throttled:bigint first_seen:timestamp last_seen:timestamp",
        [[None, "background", None, "1200", "30", "12", hour, latest]],
    )
    events = (
        "eventtime:timestamp account:varchar awsregion:varchar eventsource:varchar "
        "eventname:varchar errorcode:varchar errormessage:varchar execution_id:varchar "
        "user:varchar"
    )
    seed(moto, events, [])
    denied = ["Client.UnauthorizedOperation", "You are not <authorized>", None, None]
    seed(moto, events, [[latest, ACCOUNT, "us-east-1", ec2, "RunInstances", *denied]])

    session = spintrail.connect(
        engine="athena",
        endpoint_url=moto.url,
        workgroup="primary",
        output_location=RESULTS,
        max_attempts=2,
    )
    out = tmp_path / "athena.html"
    result = spintrail.report(MarkedSession(session), since="24h", out=out)

    assert not result.failed and not result.stale
    assert result.queries == 12
    assert result.data_scanned_bytes == 12 * SCANNED
    per_query = session.last_query
    assert per_query is not None and per_query.data_scanned_bytes == SCANNED
    assert result.cost_usd == pytest.approx(12 * per_query.cost_usd)
    html = out.read_text()
    assert f"{12 * SCANNED / 1e6:,.1f} MB" in html
    assert f"${result.cost_usd:.4f}" in html
    assert "Athena, workgroup primary, us-east-1" in html
    assert "You are not &lt;authorized&gt;" in html
    assert html.count('<script type="application/json" data-chart=') == CHARTS


def test_a_table_that_cannot_be_read_fails_the_report_not_each_section(tmp_path: Path) -> None:
    # Every section would fail the same way: the error is raised once, and no page is written.
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "broken.json.gz").write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    out = tmp_path / "report.html"
    session = spintrail.connect(logs)
    with pytest.raises(spintrail.LogFileError, match=r"broken\.json\.gz"):
        spintrail.report(session, since="2026-10-01T00:00:00Z", until="2026-11-01", out=out)
    assert not out.exists()
