"""A moto server for the Athena engine tests: moto, plus the Athena behaviours it lacks.

moto accepts query executions and serves canned results seeded through its documented API
(``/moto-api/static/athena/query-results``), but it does not execute SQL. It also lacks some
behaviours of the real service that the engine depends on; this launcher adds them to the
server (the engine under test is not touched, it talks to this server over HTTP):

- ``GetQueryResults`` paging: moto returns every row in one answer and ignores ``MaxResults``
  and ``NextToken``. Here pages hold at most ``MaxResults`` rows (at most 1,000, like Athena).
- A query that FAILS: moto's queries always succeed. A query whose text contains
  ``/* moto:fail <reason> */`` ends FAILED with that reason (and an AthenaError).
- Statistics: moto reports 0 bytes scanned. ``/* moto:scanned <bytes> */`` and
  ``/* moto:engine_ms <ms> */`` in the query text set them.
- Throttling: moto never throttles. ``/* moto:throttle <n> */`` makes the first ``n``
  StartQueryExecution calls with that query text fail with ThrottlingException (HTTP 400), so
  the client's retries can be counted (GetQueryExecution reports the refused calls as
  ``ServicePreProcessingTimeInMillis``, a field moto leaves at 0).
- Result reuse: moto always reports reuse as disabled. The ``ResultReuseConfiguration`` a
  query was started with is echoed back by GetQueryExecution.
- Idempotent starts: moto ignores ``ClientRequestToken`` and starts a new execution on every
  call. Here a retried StartQueryExecution (same token, its first answer lost) gets the execution
  the first call started, as on Athena.
- UNLOAD: moto does not run it. An ``UNLOAD (...) TO 's3://b/p/'`` copies the objects that a test
  put under ``s3://b/moto-unload-seed/`` to ``s3://b/p/``, as if Athena had written them.

Run as ``python athena_moto.py PORT``.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from moto.athena import models, responses
from moto.s3.models import s3_backends

MARKER = re.compile(r"/\*\s*moto:(\w+)\s*(.*?)\s*\*/", re.S)
UNLOAD_TO = re.compile(r"^\s*UNLOAD\s*\(.*\)\s*TO\s*'s3://([^/']+)/([^']*)'", re.S | re.I)


def markers(query: str) -> dict[str, str]:
    return {name: value for name, value in MARKER.findall(query or "")}


original_get_execution = models.AthenaBackend.get_query_execution
original_start = models.AthenaBackend.start_query_execution
original_describe = responses.AthenaResponse.get_query_execution
original_start_response = responses.AthenaResponse.start_query_execution

# Per query text: throttled calls so far; per execution id: the reuse configuration asked for.
THROTTLED: dict[str, int] = {}
REUSE: dict[str, Any] = {}
STARTED: dict[str, str] = {}


def start_response(self: Any) -> Any:
    query = self._get_param("QueryString") or ""
    wanted = int(markers(query).get("throttle", "0"))
    if THROTTLED.get(query, 0) < wanted:
        THROTTLED[query] = THROTTLED.get(query, 0) + 1
        body = {"__type": "ThrottlingException", "Message": "Rate exceeded"}
        return json.dumps(body), {"status": 400}
    token = self._get_param("ClientRequestToken")
    if token and token in STARTED:
        return STARTED[token]
    answer = original_start_response(self)
    if token and isinstance(answer, str):
        STARTED[token] = answer
    reuse = self._get_param("ResultReuseConfiguration")
    if reuse is not None and isinstance(answer, str):
        REUSE[json.loads(answer)["QueryExecutionId"]] = reuse
    return answer


def get_query_execution(self: Any, exec_id: str) -> Any:
    execution = original_get_execution(self, exec_id)
    if "fail" in markers(execution.query) and execution.status == "SUCCEEDED":
        execution.status = "FAILED"
    return execution


def describe(self: Any) -> str:
    answer = json.loads(original_describe(self))
    execution = answer["QueryExecution"]
    found = markers(execution.get("Query", ""))
    status = execution["Status"]
    if status["State"] == "FAILED" and "fail" in found:
        status["StateChangeReason"] = found["fail"]
        status["AthenaError"] = {
            "ErrorCategory": 2,
            "ErrorType": 1006,
            "Retryable": False,
            "ErrorMessage": found["fail"],
        }
    if execution["QueryExecutionId"] in REUSE:
        execution["ResultReuseConfiguration"] = REUSE[execution["QueryExecutionId"]]
    if "throttle" in found:
        # How many calls were refused before this execution was accepted.
        execution["Statistics"]["ServicePreProcessingTimeInMillis"] = THROTTLED.get(
            execution["Query"], 0
        )
    stats = execution["Statistics"]
    if "scanned" in found:
        stats["DataScannedInBytes"] = int(found["scanned"])
    if "engine_ms" in found:
        stats["EngineExecutionTimeInMillis"] = int(found["engine_ms"])
        stats["TotalExecutionTimeInMillis"] = int(found["engine_ms"]) + 100
    return json.dumps(answer)


def get_query_results(self: Any) -> Any:
    exec_id = self._get_param("QueryExecutionId")
    max_results = int(self._get_param("MaxResults") or 1000)
    if not 1 <= max_results <= 1000:
        return self.error("MaxResults must be between 1 and 1000", 400)
    token = self._get_param("NextToken")
    answer = self.athena_backend.get_query_results(exec_id).to_dict()
    rows = answer["ResultSet"]["Rows"]
    start = int(token) if token else 0
    answer["ResultSet"]["Rows"] = rows[start : start + max_results]
    if start + max_results < len(rows):
        answer["NextToken"] = str(start + max_results)
    return json.dumps(answer)


def start_query_execution(self: Any, query: str, *args: Any, **kwargs: Any) -> str:
    exec_id = original_start(self, query, *args, **kwargs)
    target = UNLOAD_TO.match(query or "")
    if target:
        bucket, prefix = target.group(1), target.group(2)
        s3 = s3_backends[self.account_id][self.partition]
        seed = "moto-unload-seed/"
        keys = s3.list_objects(s3.get_bucket(bucket), seed, None, None, 1000)[0]
        for key in keys:
            name = key.name[len(seed) :]
            s3.put_object(bucket, prefix + name, key.value)
    return exec_id


models.AthenaBackend.get_query_execution = get_query_execution  # type: ignore[method-assign]
models.AthenaBackend.start_query_execution = start_query_execution  # type: ignore[method-assign]
responses.AthenaResponse.get_query_execution = describe  # type: ignore[method-assign]
responses.AthenaResponse.start_query_execution = start_response  # type: ignore[method-assign]
responses.AthenaResponse.get_query_results = get_query_results  # type: ignore[method-assign]

if __name__ == "__main__":
    from moto.server import main

    main(["-H", "127.0.0.1", "-p", sys.argv[1]])
