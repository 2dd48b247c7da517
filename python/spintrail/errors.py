"""The exceptions spintrail raises, all subclasses of :class:`SpintrailError`.

They are created by the Rust extension; this module gives them their public home.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from spintrail._internal import (
    AthenaError,
    AthenaQueryError,
    AthenaResultError,
    CloudWatchError,
    CloudWatchTimeoutError,
    CostLimitError,
    EngineError,
    InvalidArgumentError,
    LogFileError,
    MemoryLimitError,
    OutputError,
    ProvisionError,
    QueryCancelledError,
    QueryTimeoutError,
    SourceError,
    SpintrailError,
    SqlError,
    UnsupportedFunctionError,
)

__all__ = [
    "AthenaError",
    "AthenaQueryError",
    "AthenaResultError",
    "CloudWatchError",
    "CloudWatchTimeoutError",
    "CostLimitError",
    "EngineError",
    "InvalidArgumentError",
    "LogFileError",
    "MemoryLimitError",
    "OutputError",
    "ProvisionError",
    "QueryCancelledError",
    "QueryTimeoutError",
    "SourceError",
    "SpintrailError",
    "SqlError",
    "UnsupportedFunctionError",
]


# A streamed query's error crosses the Arrow C stream interface as text; the engine tags it with
# the class `sql()` would raise, e.g. "[spintrail:LogFileError] logs/x.json.gz: record 3: ...",
# or with KeyboardInterrupt when Ctrl-C stopped it.
_TAG = re.compile(r"\[spintrail:(\w+)\] ")


def _retyped(err: pa.ArrowException) -> BaseException | None:
    match = _TAG.search(str(err))
    if match is None:
        return None
    if match.group(1) == "KeyboardInterrupt":
        # Ctrl-C while the stream waited for a batch: the engine stopped the query.
        return KeyboardInterrupt()
    cls = globals().get(match.group(1))
    if not (isinstance(cls, type) and issubclass(cls, SpintrailError)):
        return None
    message = str(err)[match.end() :]
    if cls is OutputError:
        return OutputError(0, message)
    return cls(message)


def typed_reader(stream: Any) -> pa.RecordBatchReader:
    """A reader over an engine's C stream whose errors are spintrail's own classes again (read
    with ``read_all()``, ``read_next_batch()`` or iteration)."""
    reader = pa.RecordBatchReader.from_stream(stream)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except pa.ArrowException as err:
            retyped = _retyped(err)
            if retyped is None:
                raise
            raise retyped from None

    return pa.RecordBatchReader.from_batches(reader.schema, batches())
