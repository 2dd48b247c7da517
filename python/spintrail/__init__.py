"""spintrail: AWS API activity as SQL.

CloudTrail logs become the Athena table ``"default"."cloudtrail_logs"``; queries written in
Athena's dialect run on the embedded engine (Apache DataFusion in a Rust core) and return
``pyarrow.Table`` results::

    import spintrail
    session = spintrail.connect("logs/")
    df = session.sql("SELECT eventname, count(*) AS n FROM cloudtrail_logs GROUP BY 1").to_pandas()
"""

from spintrail import provision
from spintrail._internal import __version__
from spintrail.errors import (
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
from spintrail.provision import ProvisionResult, Stack
from spintrail.session import Problem, ScanStats, Session, connect

__all__ = [
    "EngineError",
    "InvalidArgumentError",
    "LogFileError",
    "Problem",
    "ProvisionError",
    "ProvisionResult",
    "QueryCancelledError",
    "ScanStats",
    "Session",
    "SourceError",
    "SpintrailError",
    "SqlError",
    "Stack",
    "UnsupportedFunctionError",
    "__version__",
    "connect",
    "provision",
]
