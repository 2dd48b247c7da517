"""The exceptions spintrail raises, all subclasses of :class:`SpintrailError`.

They are created by the Rust extension; this module gives them their public home.
"""

from spintrail._internal import (
    EngineError,
    InvalidArgumentError,
    LogFileError,
    ProvisionError,
    QueryCancelledError,
    SourceError,
    SpintrailError,
    SqlError,
    UnsupportedFunctionError,
)

__all__ = [
    "EngineError",
    "InvalidArgumentError",
    "LogFileError",
    "ProvisionError",
    "QueryCancelledError",
    "SourceError",
    "SpintrailError",
    "SqlError",
    "UnsupportedFunctionError",
]
