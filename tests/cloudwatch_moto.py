"""A moto server for the CloudWatch Logs engine tests: moto, plus the Logs Insights behaviours
it lacks.

moto 5 has a small Logs Insights: StartQuery runs the query at once over the log groups and the
time range, understanding ``fields`` (only ``@timestamp``, ``@message``, ``@logStream``,
``@log``), ``sort`` (always by time; only the direction is read) and ``limit``; other commands
(``filter``, ``stats``, ``parse``, ...) are ignored, so their queries return every event in the
range. GetQueryResults then answers Complete with all rows. This launcher adds what the engine
under test depends on (the engine is not touched; it talks to this server over HTTP):

- JSON field discovery: Logs Insights finds the fields of JSON log events (dots for nesting,
  ``.0`` for array items). ``fields eventName, userIdentity.arn`` returns them, each as text
  (numbers in their JSON form), and leaves a field out of a row where the event has no value.
- Rows as Logs Insights returns them: fields in the order the query names them, ``@ptr`` last,
  ``@timestamp`` as ``YYYY-MM-DD HH:MM:SS.mmm`` UTC (moto: milliseconds since the epoch, first).
- Statistics (moto: none): ``recordsScanned``/``bytesScanned`` count the events in the time
  range and their message bytes; ``recordsMatched`` the events the query matched before
  ``limit`` (all of them, as moto applies no filter).
- Status and StopQuery (moto: Complete at once, no StopQuery). Logs Insights ignores lines that
  start with ``#``; such lines at the top of a query steer it here:
  ``# moto:polls N`` — the query is Scheduled, then Running, for its first N GetQueryResults
  calls, and StopQuery cancels it meanwhile; ``# moto:status Failed`` (or ``Timeout``) — it ends
  with that status instead of Complete.
- Paging (moto: every row in one answer): ``# moto:page N`` — at most N rows per answer, with a
  ``nextToken`` for the rest.
- A query moto's parser cannot read (``limit x``) is refused with MalformedQueryException, as
  Logs Insights does (moto: HTTP 500).

Run as ``python cloudwatch_moto.py PORT``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from typing import Any

from moto.logs import logs_query, models, responses
from moto.logs.logs_query import query_parser

MARKER = re.compile(r"^\s*#\s*moto:(\w+)[ \t]*(.*?)\s*$", re.M)

# Per query id: GetQueryResults calls so far, and whether StopQuery stopped it.
CALLS: dict[str, int] = {}
STOPPED: set[str] = set()


def markers(query: str) -> dict[str, str]:
    return {name: value for name, value in MARKER.findall(query or "")}


def flatten(value: Any, prefix: str, out: dict[str, str]) -> None:
    """JSON leaves by dotted path, as Logs Insights discovers them."""
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(item, f"{prefix}.{key}" if prefix else key, out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            flatten(item, f"{prefix}.{index}" if prefix else str(index), out)
    elif value is None:
        return
    elif isinstance(value, str):
        out[prefix] = value
    else:
        out[prefix] = json.dumps(value)


def time_text(millis: int) -> str:
    moment = dt.datetime.fromtimestamp(millis / 1000, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{millis % 1000:03d}"


def create_fields(self: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    discovered: dict[str, str] | None = None
    for name in self.query.fields:
        if name == "@timestamp":
            fields[name] = time_text(self.event.timestamp)
        elif name == "@message":
            fields[name] = self.event.message
        elif name == "@logStream":
            fields[name] = self.log_stream.log_stream_name
        elif name == "@log":
            fields[name] = self.log_group.name
        else:
            if discovered is None:
                discovered = {}
                try:
                    flatten(json.loads(self.event.message), "", discovered)
                except ValueError:
                    pass
            if name in discovered:
                fields[name] = discovered[name]
    fields["@ptr"] = f"ptr-{self.event.event_id}"
    return fields


def in_range(event: Any, start: int, end: int) -> bool:
    # moto's own rule: epoch seconds against event milliseconds, both ends included.
    return not (start and event.timestamp < start * 1000) and not (
        end and event.timestamp > end * 1000
    )


original_init = models.LogQuery.__init__


def init(
    self: Any, query_id: str, start_time: int, end_time: int, query: str, log_groups: list[Any]
) -> None:
    original_init(self, query_id, start_time, end_time, query, log_groups)
    scanned = [
        event
        for group in log_groups
        for stream in group.streams.values()
        for event in stream.events
        if in_range(event, start_time, end_time)
    ]
    self.statistics = {
        "recordsMatched": float(len(scanned)),
        "recordsScanned": float(len(scanned)),
        "bytesScanned": float(sum(len(e.message.encode()) for e in scanned)),
    }


def status_of(query: Any) -> str:
    found = markers(query.query)
    calls = CALLS.get(query.query_id, 0)
    if query.query_id in STOPPED:
        return "Cancelled"
    if calls <= int(found.get("polls", "0")):
        return "Scheduled" if calls <= 1 else "Running"
    return found.get("status", "Complete")


def get_query_results(self: Any) -> str:
    query_id = self._get_param("queryId")
    token = self._get_param("nextToken")
    query = self.logs_backend.get_query_results(query_id)
    if not token:
        CALLS[query_id] = CALLS.get(query_id, 0) + 1
    status = status_of(query)
    answer: dict[str, Any] = {"status": status, "results": []}
    if status in ("Running", "Complete"):
        answer["statistics"] = query.statistics
    if status == "Complete":
        rows = query.to_result_json()["results"]
        page = int(markers(query.query).get("page", "0")) or 10_000
        start = int(token) if token else 0
        answer["results"] = rows[start : start + page]
        if start + page < len(rows):
            answer["nextToken"] = str(start + page)
    return json.dumps(answer)


def stop_query(self: Any) -> Any:
    query_id = self._get_param("queryId")
    if query_id not in self.logs_backend.queries:
        body = {"__type": "ResourceNotFoundException", "message": "The query does not exist."}
        return json.dumps(body), {"status": 400}
    query = self.logs_backend.queries[query_id]
    running = status_of(query) in ("Scheduled", "Running")
    if running:
        STOPPED.add(query_id)
    return json.dumps({"success": running})


original_start_query = responses.LogsResponse.start_query


def start_query(self: Any) -> Any:
    text = self._get_param("queryString") or ""
    try:
        query_parser.parse_query(text)
    except ValueError as err:
        body = {"__type": "MalformedQueryException", "message": f"Query is malformed: {err}"}
        return json.dumps(body), {"status": 400}
    return original_start_query(self)


logs_query.ParsedEvent._create_fields = create_fields  # type: ignore[method-assign]
models.LogQuery.__init__ = init  # type: ignore[method-assign]
responses.LogsResponse.get_query_results = get_query_results  # type: ignore[method-assign]
responses.LogsResponse.start_query = start_query  # type: ignore[method-assign]
responses.LogsResponse.stop_query = stop_query  # type: ignore[attr-defined]

if __name__ == "__main__":
    from moto.server import main

    main(["-H", "127.0.0.1", "-p", sys.argv[1]])
