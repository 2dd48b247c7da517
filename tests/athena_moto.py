"""A moto server for the Athena engine tests: moto, plus the Athena behaviours it lacks.

moto accepts query executions and serves canned results seeded through its documented API
(``/moto-api/static/athena/query-results``), but it does not execute SQL. It also differs from
the real service where the engine depends on it; this launcher adds or corrects those behaviours
in the server (the engine under test is not touched, it talks to this server over HTTP):

- Statement types: moto calls a statement DDL when it starts with one of six words and DML
  otherwise. Here, as on Athena, SELECT / WITH / VALUES / INSERT / UNLOAD / CTAS are DML; SHOW,
  DESCRIBE and EXPLAIN are UTILITY; other statements (CREATE, DROP, ALTER, MSCK...) are DDL.
  A seeded result is what GetQueryResults returns, so a test seeds the header row first for DML
  statements only (Athena writes no header row for DDL and UTILITY results).
- Result files: moto writes every result as ``<id>.csv``, quoting values without doubling
  embedded quotes. Here DML results are RFC 4180 CSV (every value quoted, quotes doubled,
  newlines kept inside quotes, NULL an empty unquoted field, header row first) in ``<id>.csv``;
  DDL and UTILITY results are plain text in ``<id>.txt`` (one row per line, values separated by
  tabs, no header), and ``OutputLocation`` names that file.
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
  ``/* moto:faults <rate> [seed=<n>] [ops=<Op>,<Op>] */`` refuses that fraction of the calls
  about the query (StartQueryExecution, GetQueryExecution and GetQueryResults unless ``ops``
  narrows them) with ``TooManyRequestsException`` or ``ThrottlingException`` (HTTP 400, which
  of the two also drawn), from a random sequence seeded by ``seed`` (default 0) per operation,
  so a run is repeatable. Calls from boto3 (the tests' independent reader) are never refused.
  Once the query has SUCCEEDED, its ``Status.StateChangeReason`` counts the refusals:
  ``moto:faults StartQueryExecution=<n> GetQueryExecution=<n> GetQueryResults=<n>``.
- Result reuse: moto always reports reuse as disabled. The ``ResultReuseConfiguration`` a
  query was started with is echoed back by GetQueryExecution.
- Idempotent starts: moto ignores ``ClientRequestToken`` and starts a new execution on every
  call. Here a retried StartQueryExecution (same token, its first answer lost) gets the execution
  the first call started, as on Athena.
- UNLOAD: moto does not run it. An ``UNLOAD (...) TO 's3://b/p/'`` copies the objects that a test
  put under ``s3://b/moto-unload-seed/`` to ``s3://b/p/``, as if Athena had written them
  (several files, or none for an empty result).

Run as ``python athena_moto.py PORT``.
"""

from __future__ import annotations

import json
import random
import re
import sys
from typing import Any

from moto.athena import models, responses
from moto.s3.models import s3_backends

MARKER = re.compile(r"/\*\s*moto:(\w+)\s*(.*?)\s*\*/", re.S)
UNLOAD_TO = re.compile(r"^\s*UNLOAD\s*\(.*\)\s*TO\s*'s3://([^/']+)/([^']*)'", re.S | re.I)
LEADING_NOISE = re.compile(r"^(?:\s+|--[^\n]*\n?|/\*.*?\*/|\()+", re.S)
CTAS = re.compile(r"^CREATE\s+TABLE\b.*?\bAS\s*\(?\s*(SELECT|WITH|VALUES)\b", re.S | re.I)
DML_WORDS = {"SELECT", "WITH", "VALUES", "TABLE", "INSERT", "UNLOAD", "MERGE", "UPDATE", "DELETE"}
UTILITY_WORDS = {"SHOW", "DESCRIBE", "DESC", "EXPLAIN"}
FAULTED_OPS = ("StartQueryExecution", "GetQueryExecution", "GetQueryResults")


def markers(query: str) -> dict[str, str]:
    return {name: value for name, value in MARKER.findall(query or "")}


def statement_type(query: str) -> str:
    """DML, DDL or UTILITY, as Athena's GetQueryExecution reports it."""
    text = LEADING_NOISE.sub("", query or "")
    first = text.split(None, 1)[0].upper() if text.split() else ""
    if first in DML_WORDS or CTAS.match(text):
        return "DML"
    if first in UTILITY_WORDS:
        return "UTILITY"
    return "DDL"


def csv_field(value: str | None) -> str:
    """One RFC 4180 field as Athena writes it: NULL empty and unquoted, anything else quoted."""
    return "" if value is None else '"' + value.replace('"', '""') + '"'


def result_location(execution: Any) -> str | None:
    """The execution's result file: ``<id>.csv`` for DML, ``<id>.txt`` otherwise (fixed in the
    execution's configuration, which moto made ``.csv`` for every statement)."""
    config = execution.config or {}
    location = config.get("OutputLocation")
    if location and statement_type(execution.query) != "DML" and location.endswith(".csv"):
        location = location[: -len(".csv")] + ".txt"
        config["OutputLocation"] = location
    return location  # type: ignore[no-any-return]


def store_result(self: Any, exec_id: str) -> None:
    execution = self.executions[exec_id]
    location = result_location(execution)
    if not location:
        return
    bucket, _, key = location[len("s3://") :].partition("/")
    result = self.query_results[exec_id]
    rows = [[d.get("VarCharValue") for d in row["Data"]] for row in result.rows]
    if statement_type(execution.query) == "DML":
        text = "".join(",".join(csv_field(v) for v in row) + "\n" for row in rows)
    else:
        text = "".join("\t".join(v or "" for v in row) + "\n" for row in rows)
    s3 = s3_backends[self.account_id][self.partition]
    try:
        s3.put_object(bucket, key, text.encode("utf-8"))
    except Exception:
        pass  # like moto: no result file when the bucket does not exist


original_get_execution = models.AthenaBackend.get_query_execution
original_start = models.AthenaBackend.start_query_execution
original_describe = responses.AthenaResponse.get_query_execution
original_start_response = responses.AthenaResponse.start_query_execution

# Per query text: throttled calls so far; per execution id: the reuse configuration asked for.
THROTTLED: dict[str, int] = {}
REUSE: dict[str, Any] = {}
STARTED: dict[str, str] = {}
# Per (query text, operation): the random sequence of refusals and how many were injected.
FAULT_DRAWS: dict[tuple[str, str], random.Random] = {}
FAULTS: dict[str, dict[str, int]] = {}


def fault(response: Any, query: str, operation: str) -> Any:
    """A refusal of this call, when the query's ``moto:faults`` marker draws one."""
    spec = markers(query).get("faults")
    if spec is None or "botocore" in response.headers.get("User-Agent", "").lower():
        return None
    words = spec.split()
    options = dict(w.split("=", 1) for w in words[1:] if "=" in w)
    ops = options.get("ops", ",".join(FAULTED_OPS)).split(",")
    if operation not in ops:
        return None
    draws = FAULT_DRAWS.setdefault(
        (query, operation), random.Random(f"{options.get('seed', '0')}/{operation}/{query}")
    )
    if draws.random() >= float(words[0]):
        return None
    counts = FAULTS.setdefault(query, dict.fromkeys(FAULTED_OPS, 0))
    counts[operation] += 1
    kind = draws.choice(["TooManyRequestsException", "ThrottlingException"])
    body = {"__type": kind, "Message": "Rate exceeded"}
    return json.dumps(body), {"status": 400}


def query_of(response: Any) -> str:
    exec_id = response._get_param("QueryExecutionId")
    execution = response.athena_backend.executions.get(exec_id)
    return execution.query if execution is not None else ""


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
    refused = fault(self, query, "StartQueryExecution")
    if refused is not None:
        return refused
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


def describe(self: Any) -> Any:
    refused = fault(self, query_of(self), "GetQueryExecution")
    if refused is not None:
        return refused
    answer = json.loads(original_describe(self))
    execution = answer["QueryExecution"]
    query = execution.get("Query", "")
    found = markers(query)
    execution["StatementType"] = statement_type(query)
    status = execution["Status"]
    if status["State"] == "FAILED" and "fail" in found:
        status["StateChangeReason"] = found["fail"]
        status["AthenaError"] = {
            "ErrorCategory": 2,
            "ErrorType": 1006,
            "Retryable": False,
            "ErrorMessage": found["fail"],
        }
    if status["State"] == "SUCCEEDED" and "faults" in found:
        counts = FAULTS.get(query, dict.fromkeys(FAULTED_OPS, 0))
        status["StateChangeReason"] = "moto:faults " + " ".join(
            f"{op}={counts[op]}" for op in FAULTED_OPS
        )
    if execution["QueryExecutionId"] in REUSE:
        execution["ResultReuseConfiguration"] = REUSE[execution["QueryExecutionId"]]
    if "throttle" in found:
        # How many calls were refused before this execution was accepted.
        execution["Statistics"]["ServicePreProcessingTimeInMillis"] = THROTTLED.get(query, 0)
    stats = execution["Statistics"]
    if "scanned" in found:
        stats["DataScannedInBytes"] = int(found["scanned"])
    if "engine_ms" in found:
        stats["EngineExecutionTimeInMillis"] = int(found["engine_ms"])
        stats["TotalExecutionTimeInMillis"] = int(found["engine_ms"]) + 100
    return json.dumps(answer)


def get_query_results(self: Any) -> Any:
    refused = fault(self, query_of(self), "GetQueryResults")
    if refused is not None:
        return refused
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
    result_location(self.executions[exec_id])
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
models.AthenaBackend._store_query_result_in_s3 = store_result  # type: ignore[method-assign]
responses.AthenaResponse.get_query_execution = describe  # type: ignore[method-assign]
responses.AthenaResponse.start_query_execution = start_response  # type: ignore[method-assign]
responses.AthenaResponse.get_query_results = get_query_results  # type: ignore[method-assign]

if __name__ == "__main__":
    from moto.server import main

    main(["-H", "127.0.0.1", "-p", sys.argv[1]])
