"""The exceptions spintrail raises, all subclasses of :class:`SpintrailError`.

They are created by the Rust extension; this module gives them their public home.
"""

from spintrail._internal import (
    AthenaError,
    AthenaQueryError,
    AthenaResultError,
    CloudWatchError,
    CloudWatchTimeoutError,
    EngineError,
    InvalidArgumentError,
    LogFileError,
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
    "EngineError",
    "InvalidArgumentError",
    "LogFileError",
    "OutputError",
    "ProvisionError",
    "QueryCancelledError",
    "QueryTimeoutError",
    "SourceError",
    "SpintrailError",
    "SqlError",
    "UnsupportedFunctionError",
]
