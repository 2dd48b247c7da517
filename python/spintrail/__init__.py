"""spintrail: AWS API activity as SQL.

CloudTrail logs become the Athena table ``"default"."cloudtrail_logs"``; queries written in
Athena's dialect run on the embedded engine (Apache DataFusion in a Rust core), or on Amazon
Athena with ``engine="athena"``, and return ``pyarrow.Table`` results; where a trail also delivers
to CloudWatch Logs, ``engine="cloudwatch"`` runs Logs Insights queries there::

    import spintrail
    session = spintrail.connect("logs/")
    df = session.sql("SELECT eventname, count(*) AS n FROM cloudtrail_logs GROUP BY 1").to_pandas()
"""

from spintrail import athena, cloudwatch, insights, plot, provision, spinnaker
from spintrail._internal import __version__
from spintrail.athena import AthenaSession, Estimate, QueryInfo
from spintrail.cloudwatch import CloudWatchSession, InsightsInfo
from spintrail.errors import (
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
from spintrail.insights import InsightsSyntaxError, UnsupportedInsightsError
from spintrail.provision import ProvisionResult, Stack
from spintrail.report import report
from spintrail.session import Problem, ScanStats, Session, connect

__all__ = [
    "AthenaError",
    "AthenaQueryError",
    "AthenaResultError",
    "AthenaSession",
    "CloudWatchError",
    "CloudWatchSession",
    "CloudWatchTimeoutError",
    "CostLimitError",
    "EngineError",
    "Estimate",
    "InsightsInfo",
    "InsightsSyntaxError",
    "InvalidArgumentError",
    "LogFileError",
    "MemoryLimitError",
    "OutputError",
    "Problem",
    "ProvisionError",
    "ProvisionResult",
    "QueryCancelledError",
    "QueryInfo",
    "QueryTimeoutError",
    "ScanStats",
    "Session",
    "SourceError",
    "SpintrailError",
    "SqlError",
    "Stack",
    "UnsupportedFunctionError",
    "UnsupportedInsightsError",
    "__version__",
    "athena",
    "cloudwatch",
    "connect",
    "insights",
    "plot",
    "provision",
    "report",
    "spinnaker",
]
