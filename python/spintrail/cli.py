"""The ``spintrail`` command: ``generate``, ``query``, ``insights``, ``report``, ``demo``,
``provision``, ``doctor`` and ``verify``."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.compute as pc

from spintrail import insights, queries
from spintrail.athena import AthenaSession
from spintrail.compact import compact
from spintrail.errors import OutputError, SpintrailError
from spintrail.generate import generate
from spintrail.provision import Stack
from spintrail.report import report
from spintrail.session import Session, connect
from spintrail.spinnaker import DEFAULT, Recognition, suggest_service_limits
from spintrail.sync import sync
from spintrail.verify import verify

FORMATS = ("table", "csv", "json", "parquet")
PARTITION_LAYOUTS = ("spintrail", "aws-projection", "aws-manual")
PARTITIONS_HELP = (
    "the table's partition columns: spintrail (default: account, region, day), aws-projection "
    "(timestamp, as in the Athena user guide's partition-projection table) or aws-manual "
    "(region, year, month, day, as in its manually partitioned table)"
)


def _cell(value: Any, width: int = 60) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, datetime):
        text = value.isoformat().replace("+00:00", "Z")
    else:
        text = str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(table: pa.Table, max_rows: int = 50) -> str:
    """A readable fixed-width rendering of a result, like a database shell prints it."""
    names = table.column_names
    shown = table.slice(0, max_rows).to_pylist()
    rows = [[_cell(r[n]) for n in names] for r in shown]
    numeric = [
        pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
        for f in table.schema
    ]
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ]
        return " | ".join(parts).rstrip()

    out = [line(names), "-+-".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    more = table.num_rows - len(rows)
    footer = f"({table.num_rows} row{'s' if table.num_rows != 1 else ''}"
    footer += f", first {len(rows)} shown)" if more > 0 else ")"
    out.append(footer)
    return "\n".join(out)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_result(table: pa.Table, fmt: str, output: str | None, stdout: TextIO) -> None:
    """Writes a result in one of ``FORMATS`` to a file or stdout; a file that cannot be written
    raises :class:`OutputError` (an ``OSError``) naming it."""
    try:
        _write_result(table, fmt, output, stdout)
    except OSError as err:
        if output is None or isinstance(err, OutputError):
            raise
        raise OutputError(
            err.errno or 0, f"cannot write the result: {err.strerror or err}", output
        ) from err


def _write_result(table: pa.Table, fmt: str, output: str | None, stdout: TextIO) -> None:
    if fmt == "parquet":
        if not output:
            raise SpintrailError("--format parquet needs --output FILE")
        import pyarrow.parquet as pq

        pq.write_table(table, output)
        return
    if fmt == "csv":
        import io

        import pyarrow.csv as pacsv

        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer)
        text = buffer.getvalue().decode()
    elif fmt == "json":
        text = json.dumps(table.to_pylist(), default=_json_default, indent=1) + "\n"
    elif table.column_names == ["Query Plan"]:
        # EXPLAIN (either engine): the plan's lines whole, as Athena's console shows them.
        text = "".join(f"{line}\n" for line in table.column("Query Plan").to_pylist())
    else:
        text = format_table(table, max_rows=table.num_rows if output else 50) + "\n"
    if output:
        Path(output).write_text(text)
    else:
        stdout.write(text)


class Progress:
    """Shows scan progress on stderr while a query runs, when stderr is a terminal."""

    def __init__(self, session: Session, enabled: bool) -> None:
        self._session = session
        self._enabled = enabled
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.monotonic()
        self._shown = False

    def __enter__(self) -> Progress:
        if self._enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._enabled:
            self._thread.join()
            if self._shown:
                sys.stderr.write("\r\033[K")
                sys.stderr.flush()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            stats = self._session.last_stats
            if stats is None:
                continue
            total = stats.files_listed - stats.files_pruned
            elapsed = time.monotonic() - self._started
            sys.stderr.write(
                f"\rreading {stats.files_read + stats.files_skipped}/{total} files, "
                f"{stats.bytes_read / 1e6:.0f} MB, {stats.records_read} records, {elapsed:.0f}s"
            )
            sys.stderr.flush()
            self._shown = True


def run_query(
    session: Session, sql: str, progress: bool, params: Sequence[Any] | None = None
) -> pa.Table:
    """Runs a query, with progress on stderr when asked."""
    with Progress(session, progress):
        return session.sql_stream(sql, params).read_all()


def _read_sql(args: argparse.Namespace) -> str:
    if args.file:
        return Path(args.file).read_text()
    if args.sql and args.sql != "-":
        return str(args.sql)
    if args.sql == "-" or not sys.stdin.isatty():
        return sys.stdin.read()
    raise SpintrailError("no SQL given: pass it as an argument, with --file, or on stdin")


class AthenaProgress:
    """Shows an Athena query's state, elapsed time and data scanned on stderr (a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.shown = False

    def __call__(self, progress: dict[str, Any]) -> None:
        if not self.enabled:
            return
        sys.stderr.write(
            f"\r{progress['state'].lower()} {progress['elapsed']:.0f}s, "
            f"scanned {progress['data_scanned_bytes'] / 1e6:.1f} MB ({progress['query_id']})"
        )
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def athena_session(args: argparse.Namespace) -> AthenaSession:
    """The Athena session of a command's "athena engine" options (query, insights, report): the
    one place they become a session. Options a command lacks (``--fetch`` on report) keep the
    engine's defaults."""
    return connect(
        engine="athena",
        database=args.database,
        table=args.table,
        workgroup=args.workgroup,
        region=args.region,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
        output_location=args.output_location,
        fetch=getattr(args, "fetch", "auto"),
        timeout=args.timeout,
        result_reuse_minutes=args.reuse_minutes,
        max_cost=getattr(args, "max_cost", None),
        max_bytes=getattr(args, "max_bytes", None),
    )


def cmd_query_athena(args: argparse.Namespace, sql: str) -> int:
    if args.source:
        raise SpintrailError("--source is for the local engine; Athena reads the Glue table")
    if args.dedup:
        raise SpintrailError(
            "--dedup is for the local engine; on Athena query the view <table>_dedup that "
            "spintrail provision creates"
        )
    if args.partitions:
        raise SpintrailError(
            "--partitions is for the local engine; on Athena the table's own partition columns "
            "apply (spintrail provision --partitions creates a table with them)"
        )
    session = athena_session(args)
    if args.estimate:
        print(session.estimate(sql, args.param))
        return 0
    progress = AthenaProgress(sys.stderr.isatty())
    try:
        table = session.sql(sql, args.param, progress=progress)
    finally:
        progress.clear()
    write_result(table, args.format, args.output, sys.stdout)
    info = session.last_query
    if info is not None:
        print(info.summary(), file=sys.stderr)
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    sql = _read_sql(args)
    if args.engine == "athena":
        return cmd_query_athena(args, sql)
    if args.estimate or args.max_cost is not None or args.max_bytes is not None:
        raise SpintrailError(
            "--estimate, --max-cost and --max-bytes are for --engine athena (the local engine's "
            "--stats line shows what the scan would cost on Athena)"
        )
    if not args.source:
        raise SpintrailError("--source is required with the local engine (or use --engine athena)")
    session = connect(
        args.source,
        database=args.database,
        table=args.table,
        on_error=args.on_error,
        partitions=args.partitions or "spintrail",
        memory_limit=args.memory_limit,
        spill_dir=args.spill_dir,
        region=args.region,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
        dedup=args.dedup,
    )
    table = run_query(session, sql, progress=sys.stderr.isatty(), params=args.param)
    write_result(table, args.format, args.output, sys.stdout)
    stats = session.last_stats
    if stats is not None and (args.stats or stats.records_rejected or stats.files_skipped):
        print(f"scanned {stats.summary()}", file=sys.stderr)
        for problem in stats.problems[:20]:
            print(f"  skipped {problem}", file=sys.stderr)
    return 0


def cmd_insights(args: argparse.Namespace) -> int:
    text = _read_sql(args)
    if args.engine == "cloudwatch":
        return _insights_on_cloudwatch(args, text)
    table = insights.qualified_table(args.database, args.table)
    translation = insights.translate(text, table=table, start=args.start, end=args.end)
    if args.print_sql:
        print(translation.sql)
        for i, value in enumerate(translation.params, 1):
            print(f"-- parameter {i}: {value!r}")
        return 0
    params = list(translation.params)
    if args.engine == "athena":
        if args.source:
            raise SpintrailError("--source is for the local engine; Athena reads the Glue table")
        on_athena = athena_session(args)
        progress = AthenaProgress(sys.stderr.isatty())
        try:
            result = on_athena.sql(translation.sql, params, progress=progress)
        finally:
            progress.clear()
        write_result(insights.with_names(result, translation), args.format, args.output, sys.stdout)
        info = on_athena.last_query
        if info is not None:
            print(info.summary(), file=sys.stderr)
        return 0
    if not args.source:
        raise SpintrailError("--source is required with the local engine (or use --engine athena)")
    session = connect(
        args.source,
        database=args.database,
        table=args.table,
        on_error=args.on_error,
        memory_limit=args.memory_limit,
        spill_dir=args.spill_dir,
    )
    result = run_query(session, translation.sql, progress=sys.stderr.isatty(), params=params)
    write_result(insights.with_names(result, translation), args.format, args.output, sys.stdout)
    stats = session.last_stats
    if stats is not None and (args.stats or stats.records_rejected or stats.files_skipped):
        print(f"scanned {stats.summary()}", file=sys.stderr)
        for problem in stats.problems[:20]:
            print(f"  skipped {problem}", file=sys.stderr)
    return 0


def _insights_on_cloudwatch(args: argparse.Namespace, text: str) -> int:
    """The query text as written, run by CloudWatch Logs itself on the trail's log group."""
    if args.source:
        raise SpintrailError("--source is for the local engine; CloudWatch reads --log-group")
    if args.print_sql:
        raise SpintrailError("--sql shows the SQL translation; CloudWatch runs the text as written")
    if not args.log_group:
        raise SpintrailError("--engine cloudwatch needs --log-group (the trail's log group)")
    session = connect(
        engine="cloudwatch",
        log_group=args.log_group,
        region=args.region,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
        timeout=args.timeout,
    )
    result = session.insights(text, args.start, args.end)
    write_result(result, args.format, args.output, sys.stdout)
    info = session.last_query
    if info is not None:
        print(info.summary(), file=sys.stderr)
    return 0


def add_memory_arguments(p: argparse.ArgumentParser) -> None:
    """The local engine's memory options (query, insights)."""
    p.add_argument(
        "--memory-limit",
        help="memory the local engine's sorts, aggregations and joins may hold before they spill "
        "to disk: bytes, or 2GB, 512MiB, 25%% (default: half the machine's memory)",
    )
    p.add_argument(
        "--spill-dir", help="folder for spill files (default: the system's temporary folder)"
    )


def add_insights_parser(sub: Any) -> None:
    p = sub.add_parser(
        "insights",
        help="run a CloudWatch Logs Insights query over CloudTrail logs (local or Athena)",
        description="Translates a CloudWatch Logs Insights query (fields, filter, stats, sort, "
        "limit, display, dedup) into Athena SQL and runs it on the embedded engine over "
        "--source files, or with --engine athena on Amazon Athena. --sql prints the SQL.",
    )
    p.add_argument("sql", nargs="?", metavar="QUERY", help="the query (or - for stdin)")
    p.add_argument("--file", "-f", help="read the query from this file")
    p.add_argument("--sql", dest="print_sql", action="store_true", help="print the SQL, do not run")
    p.add_argument("--start", help="earliest event time, ISO-8601 (e.g. 2024-07-30T12:00:00Z)")
    p.add_argument("--end", help="latest event time, ISO-8601 (inclusive)")
    p.add_argument(
        "--engine",
        choices=("local", "athena", "cloudwatch"),
        default="local",
        help="local: embedded engine over --source; athena: Amazon Athena; cloudwatch: "
        "CloudWatch Logs runs the query itself on --log-group",
    )
    p.add_argument(
        "--source",
        "-s",
        action="append",
        help="folder, file or glob of CloudTrail logs (repeatable; local engine)",
    )
    p.add_argument(
        "--log-group",
        action="append",
        help="CloudWatch Logs group the trail delivers to (repeatable; cloudwatch engine)",
    )
    athena = p.add_argument_group("athena and cloudwatch engines")
    athena.add_argument("--workgroup", default="spintrail", help="Athena workgroup")
    athena.add_argument("--region", help="AWS region (default: the standard chain's)")
    athena.add_argument("--profile", help="named profile of the AWS config files")
    athena.add_argument("--endpoint-url", help="an AWS-compatible endpoint")
    athena.add_argument("--output-location", help="s3:// location for results")
    athena.add_argument("--fetch", choices=("auto", "pages", "csv", "unload"), default="auto")
    athena.add_argument("--timeout", type=float, help="stop the query after this many seconds")
    athena.add_argument("--reuse-minutes", type=int, help="let Athena reuse a recent result")
    p.add_argument("--table", default="cloudtrail_logs", help="table name (default %(default)s)")
    p.add_argument("--database", default="default", help="schema name (default %(default)s)")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--output", "-o", help="write the result to this file")
    p.add_argument("--on-error", choices=("raise", "skip"), default="raise")
    p.add_argument("--stats", action="store_true", help="print scan statistics on stderr")
    add_memory_arguments(p)
    p.set_defaults(run=cmd_insights)


def _recognition_from_args(args: argparse.Namespace) -> Recognition:
    given: dict[str, Any] = {}
    if args.spinnaker_role is not None:
        given["role_pattern"] = args.spinnaker_role
    if args.spinnaker_session is not None:
        given["session_name"] = args.spinnaker_session or None
    if args.spinnaker_user_agent is not None:
        given["user_agent_pattern"] = args.spinnaker_user_agent or None
    return Recognition(**given) if given else DEFAULT


def cmd_report(args: argparse.Namespace) -> int:
    if args.engine == "athena":
        if args.source:
            raise SpintrailError("--source is for the local engine; Athena reads the Glue table")
        session: Any = athena_session(args)
    else:
        if not args.source:
            raise SpintrailError(
                "--source is required with the local engine (or use --engine athena)"
            )
        session = connect(
            args.source, database=args.database, table=args.table, on_error=args.on_error
        )
    tty = sys.stderr.isatty()

    def progress(title: str) -> None:
        if tty:
            sys.stderr.write(f"\r\033[Kquerying: {title}")
            sys.stderr.flush()

    try:
        result = report(
            session,
            since=args.since,
            until=args.until,
            out=args.out,
            spinnaker=_recognition_from_args(args),
            title=args.title,
            progress=progress,
        )
    finally:
        if tty:
            sys.stderr.write("\r\033[K")
    for warning in result.warnings:
        print(f"spintrail: warning: {warning}", file=sys.stderr)
    for failure in result.failed:
        print(f"spintrail: query failed: {failure}", file=sys.stderr)
    print(result.summary(), file=sys.stderr)
    print(f"wrote {result.path}")
    return 1 if result.failed else 0


def cmd_compact(args: argparse.Namespace) -> int:
    started = time.monotonic()
    summary = compact(
        args.source,
        args.dest,
        dedup=args.dedup,
        row_group_rows=args.row_group_rows,
        on_error=args.on_error,
        region=args.region,
        endpoint_url=args.endpoint_url,
        profile=args.profile,
    )
    elapsed = time.monotonic() - started
    print(
        f"{summary.days_written} of {summary.days} day partitions written "
        f"({summary.days_unchanged} up to date) from {summary.files_read} files: "
        f"{summary.rows_written} rows, {summary.bytes_written / 1e6:.1f} MB Parquet"
        + (f", {summary.duplicates_dropped} duplicates dropped" if args.dedup else "")
        + f" in {elapsed:.1f}s"
    )
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    started = time.monotonic()
    summary = generate(
        args.out,
        events=args.events,
        days=args.days,
        seed=args.seed,
        end=args.end,
        accounts=args.account or ["123456789012"],
        regions=args.region or ["us-east-1", "us-west-2"],
        prefix=args.prefix,
        org_id=args.org_id,
        role=args.role,
        digests=args.digests,
    )
    elapsed = time.monotonic() - started
    print(
        f"wrote {summary.events} events in {summary.files} files to {args.out} "
        f"({summary.bytes_written / 1e6:.1f} MB gzip, "
        f"{summary.bytes_uncompressed / 1e6:.1f} MB JSON) in {elapsed:.1f}s; "
        f"{summary.spinnaker_events} by Spinnaker, {summary.throttled_events} throttled"
        + (f"; {summary.digests} signed digests" if args.digests else "")
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    result = verify(
        args.source,
        start=args.start,
        end=args.end,
        public_keys=args.public_key or (),
        region=args.region,
        endpoint_url=args.endpoint_url,
        profile=args.profile,
    )
    shown = result.files if args.all else result.failures()
    for row in shown.to_pylist():
        detail = f": {row['detail']}" if row["detail"] else ""
        print(f"{row['status']}\t{row['kind']}\t{row['path']}{detail}")
    if not args.all:
        for row in result.files.filter(pc.equal(result.files["status"], "unchecked")).to_pylist():
            if row["kind"] == "digest":
                print(f"unchecked\tdigest\t{row['path']}: {row['detail']}", file=sys.stderr)
    print(result.summary(), file=sys.stderr)
    return 0 if result.ok else 1


def cmd_sync(args: argparse.Namespace) -> int:
    result = sync(
        args.source,
        args.dest,
        since=args.since,
        digests=args.digests,
        insights=args.insights,
        region=args.region,
        endpoint_url=args.endpoint_url,
        profile=args.profile,
        concurrency=args.concurrency,
    )
    for name, reason in result.failures:
        print(f"failed\t{name}: {reason}", file=sys.stderr)
    print(result.summary())
    return 0 if result.ok else 1


def cmd_demo(args: argparse.Namespace) -> int:
    out = Path(args.dir)
    print(f"Generating a day of Spinnaker activity ({args.events} events) into {out}/ ...")
    summary = generate(out, events=args.events, days=1, seed=args.seed)
    print(
        f"  {summary.files} files, {summary.bytes_written / 1e6:.1f} MB gzip, "
        f"{summary.spinnaker_events} events by Spinnaker\n"
    )
    session = connect(out)
    questions = [
        (
            "The reference query: the Spinnaker role's API calls and errors in the last hour",
            queries.reference(),
        ),
        ("Spinnaker's busiest APIs, with errors and throttling", queries.calls_by_api(limit=10)),
        ("Spinnaker's calls and throttling per hour", queries.throttling_timeline()),
        ("Spinnaker's share of each account's and region's API calls", queries.spinnaker_share()),
        ("Spinnaker's errors by code", queries.errors()),
        ("Mutating calls per pipeline execution", queries.pipeline_attribution()),
    ]
    for title, sql in questions:
        print(f"== {title}")
        started = time.monotonic()
        table = run_query(session, sql, progress=sys.stderr.isatty())
        elapsed = time.monotonic() - started
        print(format_table(table, max_rows=args.rows))
        stats = session.last_stats
        if stats is not None:
            print(f"   {elapsed:.2f}s, scanned {stats.summary()}")
        print()
    print("== The set-up guide's Logs Insights query, on the same files")
    guide = (
        "stats count(*) by eventSource, eventName, awsRegion, errorCode\n"
        "| filter userIdentity.sessionContext.sessionIssuer.userName like 'Spinnaker'\n"
        "| filter errorCode like 'ThrottlingException'\n"
        "| sort `count(*)` desc | limit 10"
    )
    print(format_table(session.insights(guide), max_rows=args.rows))
    print()
    print("== Suggested clouddriver rate limits (p95 calls per second with headroom)")
    print(suggest_service_limits(session))
    if importlib.util.find_spec("altair") is None:
        print("(No HTML report: charts need Altair; pip install 'spintrail[plot]'.)")
    else:
        written = report(session, since="24h", out=out / "report.html")
        print(f"== An HTML report with charts, for a browser: {written.path}")
    print()
    print(
        "Try your own:  spintrail query --source "
        f'{out} "SELECT eventname, count(*) AS n FROM cloudtrail_logs GROUP BY 1 ORDER BY n DESC"'
    )
    return 0


def _tags(values: Sequence[str] | None) -> dict[str, str] | None:
    if not values:
        return None
    tags: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SpintrailError(f"--tag {item!r}: expected KEY=VALUE")
        tags[key] = value
    return tags


def _list(values: Sequence[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def stack_from_args(args: argparse.Namespace) -> Stack:
    return Stack(
        args.bucket,
        config_file=args.config,
        name=args.stack,
        region=args.region,
        prefix=args.prefix,
        trail=args.trail,
        multi_region=args.multi_region,
        organization=args.organization,
        org_id=args.org_id,
        log_file_validation=args.log_file_validation,
        database=args.database,
        table=args.table,
        workgroup=args.workgroup,
        results=args.results,
        bytes_scanned_cutoff=args.bytes_scanned_cutoff,
        projection_start=args.projection_start,
        partitions=args.partitions,
        accounts=_list(args.account),
        regions=_list(args.projection_region),
        kms_key=args.kms_key,
        expire_days=args.expire_days,
        log_group=args.log_group,
        log_role=args.log_role,
        tags=_tags(args.tag),
        parquet_location=args.parquet_location,
        parquet_table=args.parquet_table,
        dedup_view=args.dedup_view,
        endpoint_url=args.endpoint_url,
        profile=args.profile,
        max_attempts=args.max_attempts,
    )


def cmd_provision(args: argparse.Namespace) -> int:
    stack = stack_from_args(args)
    if args.print_ddl:
        print(stack.ddl(), end="")
        return 0
    if args.action is None:
        raise SpintrailError("provision: say plan, apply or destroy (or --print-ddl)")
    if args.delete_bucket and args.action != "destroy":
        raise SpintrailError("--delete-bucket only goes with destroy")
    if args.action == "plan":
        result = stack.plan()
    elif args.action == "apply":
        result = stack.apply()
    else:
        result = stack.destroy(delete_bucket=args.delete_bucket)
    if args.json:
        out = {
            "operation": result.operation,
            "stack": result.stack,
            "region": result.region,
            "account": result.account,
            "changed": result.changed,
            "changes": [
                {"kind": c.kind, "name": c.name, "action": c.action, "details": list(c.details)}
                for c in result.changes
            ],
            "resources": result.resources,
        }
        print(json.dumps(out, indent=2))
    else:
        print(result)
    return 0


def add_provision_parser(sub: Any) -> None:
    p = sub.add_parser(
        "provision",
        help="create / update / remove the AWS side (trail, bucket, Athena, Glue table)",
        description="Plan, apply or destroy the AWS resources for querying CloudTrail with "
        "Athena. Options not given come from --config (TOML, same names with '_') or defaults.",
    )
    p.add_argument("action", nargs="?", choices=("plan", "apply", "destroy"))
    add_stack_options(p)
    p.add_argument(
        "--delete-bucket",
        action="store_true",
        help="with destroy: also delete the log bucket, its objects and the log group",
    )
    p.add_argument("--print-ddl", action="store_true", help="print CREATE EXTERNAL TABLE and exit")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=cmd_provision)


def add_stack_options(p: Any) -> None:
    """The options of a stack (``provision`` and ``doctor`` share them)."""
    p.add_argument("--config", "-c", help="TOML file with the desired state")
    p.add_argument("--bucket", help="log bucket (created if absent, reused if yours)")
    p.add_argument("--prefix", help="key prefix of the logs in the bucket")
    p.add_argument("--region", help="AWS region (default: the standard chain's)")
    p.add_argument("--stack", help="stack name for the spintrail:stack tag (default spintrail)")
    p.add_argument("--trail", help="trail name (default spintrail)")
    region_mode = p.add_mutually_exclusive_group()
    region_mode.add_argument(
        "--multi-region", dest="multi_region", action="store_true", default=None
    )
    region_mode.add_argument("--single-region", dest="multi_region", action="store_false")
    p.add_argument("--organization", action="store_true", default=None, help="organization trail")
    p.add_argument("--org-id", help="organization id (o-...), needed with --organization")
    p.add_argument(
        "--no-log-file-validation",
        dest="log_file_validation",
        action="store_false",
        default=None,
        help="turn log file validation off (on by default)",
    )
    p.add_argument("--database", help="Glue/Athena database (default default)")
    p.add_argument("--table", help="table name (default cloudtrail_logs)")
    p.add_argument("--workgroup", help="Athena workgroup (default spintrail)")
    p.add_argument("--results", help="query result location s3://... (default under the bucket)")
    p.add_argument(
        "--bytes-scanned-cutoff", type=int, help="per-query scan limit in bytes (default 10 GiB)"
    )
    p.add_argument("--projection-start", help="first day of the day projection, yyyy/MM/dd")
    p.add_argument("--partitions", choices=PARTITION_LAYOUTS, help=PARTITIONS_HELP)
    p.add_argument("--account", action="append", help="account(s) to project (repeatable, a,b)")
    p.add_argument(
        "--projection-region", action="append", help="region(s) to project (repeatable, a,b)"
    )
    p.add_argument("--kms-key", help="SSE-KMS key for the bucket and results (default SSE-S3)")
    p.add_argument("--expire-days", type=int, help="expire log objects after N days")
    p.add_argument("--log-group", help="also deliver to this CloudWatch Logs group")
    p.add_argument("--log-role", help="IAM role for CloudWatch Logs delivery")
    p.add_argument("--tag", action="append", help="KEY=VALUE tag for what is created (repeatable)")
    p.add_argument(
        "--parquet-location",
        help="s3://... where spintrail compact writes: also a Glue table over the Parquet copy",
    )
    p.add_argument("--parquet-table", help="the Parquet table's name (default cloudtrail_parquet)")
    p.add_argument(
        "--dedup-view",
        action="store_true",
        default=None,
        help="also the Athena view <table>_dedup: each eventid once per partition",
    )
    p.add_argument("--endpoint-url", help="AWS-compatible endpoint (e.g. a local moto server)")
    p.add_argument("--profile", help="named AWS profile")
    p.add_argument(
        "--max-attempts",
        type=int,
        help="attempts per AWS request, the first included (default: the retry policy's 14)",
    )


def cmd_doctor(args: argparse.Namespace) -> int:
    diagnosis = stack_from_args(args).doctor()
    if args.json:
        print(json.dumps(diagnosis.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(diagnosis)
    return 0 if diagnosis.ok else 1


def add_doctor_parser(sub: Any) -> None:
    p = sub.add_parser(
        "doctor",
        help="check a live set-up (trail, bucket, table, workgroup, read access) and say how to "
        "fix what is wrong",
        description="Reads (changes nothing) the trail and its delivery status, the log bucket's "
        "policy, public access block and encryption, the log folders in the bucket, the Glue "
        "table's location, format and partition projection, the Athena workgroup, and whether "
        "the caller can read a log file. One line per check: ✓ ok, ! warning, ✗ error, ? could "
        "not check. Exit status 1 when any check is an error. Takes provision's options.",
    )
    add_stack_options(p)
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.set_defaults(run=cmd_doctor)


def add_report_parser(sub: Any) -> None:
    r = sub.add_parser(
        "report",
        help="write an HTML report of Spinnaker's AWS API activity (charts, tables, SQL)",
        description="Runs the Spinnaker queries over a time window on one engine and writes one "
        "self-contained HTML file (no network needed to view it): headline numbers, charts, "
        "top tables, the SQL of each section, and how fresh the data is.",
    )
    r.add_argument(
        "--engine",
        choices=("local", "athena"),
        default="local",
        help="local: embedded engine over --source (default); athena: Amazon Athena",
    )
    r.add_argument(
        "--source",
        "-s",
        action="append",
        help="folder, file or glob of CloudTrail logs (repeatable; local engine)",
    )
    r.add_argument(
        "--since",
        default="24h",
        help="window start: a duration before now (30m, 24h, 7d) or an ISO-8601 time "
        "(default %(default)s)",
    )
    r.add_argument("--until", help="window end (default now): same forms as --since")
    r.add_argument("--out", "-o", default="report.html", help="HTML file (default %(default)s)")
    r.add_argument("--title", default="Spinnaker's AWS API activity", help="report title")
    spin = r.add_argument_group("recognising Spinnaker's calls (any criterion matches)")
    spin.add_argument(
        "--spinnaker-role",
        help="SQL LIKE pattern on the assumed role's name (default %%Spinnaker%%)",
    )
    spin.add_argument(
        "--spinnaker-session", help="role-session name (default Spinnaker; '' to not use it)"
    )
    spin.add_argument(
        "--spinnaker-user-agent",
        help="SQL LIKE pattern on the user agent (default %%spinnaker%%; '' to not use it)",
    )
    athena = r.add_argument_group("athena engine")
    athena.add_argument(
        "--workgroup", default="spintrail", help="Athena workgroup (default %(default)s)"
    )
    athena.add_argument("--region", help="AWS region (default: the standard chain's)")
    athena.add_argument("--profile", help="named profile of the AWS config files")
    athena.add_argument("--endpoint-url", help="an AWS-compatible endpoint")
    athena.add_argument(
        "--output-location", help="s3:// location for results (default: the workgroup's)"
    )
    athena.add_argument("--timeout", type=float, help="stop a query after this many seconds")
    athena.add_argument(
        "--reuse-minutes", type=int, help="let Athena reuse an identical result up to this age"
    )
    r.add_argument("--table", default="cloudtrail_logs", help="table name (default %(default)s)")
    r.add_argument("--database", default="default", help="schema name (default %(default)s)")
    r.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="raise",
        help="invalid files/records: fail (default) or skip them",
    )
    r.set_defaults(run=cmd_report)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spintrail",
        description="AWS API activity (CloudTrail logs) as SQL, in Athena's dialect.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    q = sub.add_parser(
        "query",
        help="run SQL over CloudTrail logs (local files, or Amazon Athena)",
        description="Runs an Athena-dialect query on the embedded engine over --source files, "
        "or with --engine athena on Amazon Athena (cost and query id on stderr).",
    )
    q.add_argument("sql", nargs="?", help="the query (or - for stdin); see also --file")
    q.add_argument("--file", "-f", help="read the query from this file")
    q.add_argument(
        "--engine",
        choices=("local", "athena"),
        default="local",
        help="local: embedded engine over --source (default); athena: Amazon Athena",
    )
    q.add_argument(
        "--source",
        "-s",
        action="append",
        help="folder, file or glob of CloudTrail logs, or s3://bucket/prefix/ (repeatable; "
        "local engine)",
    )
    q.add_argument(
        "--param",
        "-p",
        action="append",
        help="a value for the next ? placeholder (repeatable; text; use CAST in SQL for others)",
    )
    athena = q.add_argument_group(
        "athena engine (--region, --profile, --endpoint-url also for s3:// sources)"
    )
    athena.add_argument(
        "--workgroup",
        default="spintrail",
        help="Athena workgroup (default %(default)s, as provisioned; every account has primary)",
    )
    athena.add_argument("--region", help="AWS region (default: the standard chain's)")
    athena.add_argument("--profile", help="named profile of the AWS config files")
    athena.add_argument("--endpoint-url", help="an AWS-compatible endpoint")
    athena.add_argument(
        "--output-location", help="s3:// location for results (default: the workgroup's)"
    )
    athena.add_argument(
        "--fetch",
        choices=("auto", "pages", "csv", "unload"),
        default="auto",
        help="how results travel (default auto: pages, or the S3 result object when large)",
    )
    athena.add_argument("--timeout", type=float, help="stop the query after this many seconds")
    athena.add_argument(
        "--reuse-minutes", type=int, help="let Athena reuse an identical result up to this age"
    )
    athena.add_argument(
        "--estimate",
        action="store_true",
        help="print what the query would scan and cost (objects, bytes, $) without running it",
    )
    athena.add_argument(
        "--max-cost",
        type=float,
        help="refuse to start the query if its estimated cost is above this many dollars",
    )
    athena.add_argument(
        "--max-bytes",
        type=int,
        help="refuse to start the query if it would scan more than this many bytes",
    )
    q.add_argument("--table", default="cloudtrail_logs", help="table name (default %(default)s)")
    q.add_argument("--database", default="default", help="schema name (default %(default)s)")
    q.add_argument("--partitions", choices=PARTITION_LAYOUTS, help=PARTITIONS_HELP)
    q.add_argument("--format", choices=FORMATS, default="table")
    q.add_argument("--output", "-o", help="write the result to this file")
    q.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="raise",
        help="invalid files/records: fail (default) or skip and report them",
    )
    q.add_argument("--stats", action="store_true", help="print scan statistics on stderr")
    add_memory_arguments(q)
    q.add_argument(
        "--dedup",
        action="store_true",
        help="each eventid once (CloudTrail delivers at least once), the first by eventtime",
    )
    q.set_defaults(run=cmd_query)

    add_report_parser(sub)

    g = sub.add_parser("generate", help="write synthetic Spinnaker CloudTrail logs")
    g.add_argument("--out", "-o", default="spintrail-logs", help="output folder")
    g.add_argument("--events", "-n", type=int, default=100_000)
    g.add_argument("--days", type=int, default=1)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--end", help="end of the time span, ISO-8601 (default: now)")
    g.add_argument("--account", action="append", help="account id (repeatable)")
    g.add_argument("--region", action="append", help="region (repeatable)")
    g.add_argument("--prefix", help="S3 key prefix before AWSLogs/")
    g.add_argument("--org-id", help="organization id: write the organization-trail layout")
    g.add_argument("--role", default=queries.DEFAULT_ROLE, help="Spinnaker's managed role")
    g.add_argument(
        "--digests",
        metavar="KEY",
        help="also write hourly digest files signed with this RSA private key (PKCS#8), as "
        "CloudTrail does with log file validation on",
    )
    g.set_defaults(run=cmd_generate)

    c = sub.add_parser(
        "compact",
        help="rewrite the logs as partitioned Parquet that both engines read",
        description="Writes the table as Parquet (zstd) under "
        "DEST/account=<id>/region=<r>/day=<yyyy-MM-dd>/, rows sorted by eventtime. "
        "Incremental: only days that are new or whose source files changed are rewritten.",
    )
    c.add_argument(
        "source", help="a folder or s3://bucket/prefix/ in CloudTrail's layout (AWSLogs/...)"
    )
    c.add_argument("dest", help="a folder or s3://bucket/prefix")
    c.add_argument(
        "--dedup", action="store_true", help="drop duplicate events by eventid (per day)"
    )
    c.add_argument("--row-group-rows", type=int, help="rows per row group (default 65536)")
    c.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="raise",
        help="invalid files/records: fail (default) or skip them",
    )
    c.add_argument("--region", help="AWS region (s3:// source or destination)")
    c.add_argument("--profile", help="AWS profile")
    c.add_argument("--endpoint-url", help="an AWS-compatible endpoint (e.g. a moto server)")
    c.set_defaults(run=cmd_compact)

    v = sub.add_parser(
        "verify",
        help="check the logs against CloudTrail's signed digest files",
        description="Log file integrity validation (as aws cloudtrail validate-logs): checks "
        "each digest's signature and chain and each log file's SHA-256. Prints the failures "
        "(status, kind, path, why) and a summary on stderr; exits 1 when any file failed.",
    )
    v.add_argument(
        "source", help="a folder with a copy of the trail's bucket, or s3://bucket/prefix"
    )
    v.add_argument("--start", help="first hour to check (ISO-8601 time or date; default: all)")
    v.add_argument("--end", help="last hour to check (ISO-8601 time or date; default: all)")
    v.add_argument(
        "--public-key",
        action="append",
        metavar="FILE",
        help="CloudTrail public key file (DER or PEM; repeatable); default: ListPublicKeys",
    )
    v.add_argument("--region", help="AWS region (for s3:// sources and ListPublicKeys)")
    v.add_argument("--profile", help="AWS profile")
    v.add_argument("--endpoint-url", help="an AWS-compatible endpoint (e.g. a moto server)")
    v.add_argument("--all", action="store_true", help="print every file, not only failures")
    v.set_defaults(run=cmd_verify)

    s = sub.add_parser(
        "sync",
        help="copy a trail's new S3 log objects into a local folder",
        description="Copies the new and changed log objects (by key, size and ETag) under an "
        "s3:// prefix into a folder, in parallel and resumably; the folder mirrors the keys and "
        "is a valid --source. Prints a summary; exits 1 when an object failed.",
    )
    s.add_argument("source", help="s3://bucket/prefix")
    s.add_argument("dest", help="local folder")
    s.add_argument("--since", help="only day folders from then on: 7d, 12h, 2w or 2024-07-30")
    s.add_argument(
        "--digests", action="store_true", help="also copy digest files (with their signatures)"
    )
    s.add_argument("--insights", action="store_true", help="also copy Insights files")
    s.add_argument("--concurrency", type=int, default=0, help="objects at once (default 16)")
    s.add_argument("--region", help="AWS region")
    s.add_argument("--profile", help="AWS profile")
    s.add_argument("--endpoint-url", help="an AWS-compatible endpoint (e.g. a moto server)")
    s.set_defaults(run=cmd_sync)

    d = sub.add_parser("demo", help="generate a day of Spinnaker activity and query it")
    d.add_argument("--dir", default="spintrail-demo", help="folder for the demo logs")
    d.add_argument("--events", type=int, default=200_000)
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--rows", type=int, default=25, help="rows to show per result")
    d.set_defaults(run=cmd_demo)

    add_insights_parser(sub)
    add_provision_parser(sub)
    add_doctor_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except SpintrailError as err:
        print(f"spintrail: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("spintrail: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into head(1) and friends.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
