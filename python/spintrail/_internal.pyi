"""Type stubs of the Rust extension module (checked with mypy.stubtest)."""

import os
from collections.abc import Callable
from typing import Any, final

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
    "InvalidArgumentError",
    "LocalSession",
    "LogFileError",
    "MemoryLimitError",
    "OutputError",
    "ProvisionError",
    "QueryCancelledError",
    "QueryInfo",
    "QueryResult",
    "QueryTimeoutError",
    "ScanStats",
    "SourceError",
    "SpintrailError",
    "SqlError",
    "Stack",
    "UnsupportedFunctionError",
    "__version__",
    "compact",
    "generate",
    "sync",
    "verify",
    "write_digests",
]

__version__: str

class SpintrailError(Exception): ...
class SourceError(SpintrailError): ...
class LogFileError(SpintrailError): ...
class SqlError(SpintrailError): ...
class UnsupportedFunctionError(SqlError): ...
class InvalidArgumentError(SpintrailError): ...
class QueryCancelledError(SpintrailError): ...
class ProvisionError(SpintrailError): ...

class AthenaError(SpintrailError):
    query_id: str | None

class AthenaQueryError(AthenaError): ...
class QueryTimeoutError(AthenaError): ...
class AthenaResultError(AthenaError): ...
class CostLimitError(SpintrailError): ...

class CloudWatchError(SpintrailError):
    query_id: str | None

class CloudWatchTimeoutError(CloudWatchError): ...
class EngineError(SpintrailError): ...

class MemoryLimitError(SpintrailError):
    memory_limit: int | None

class OutputError(SpintrailError, OSError): ...

@final
class ScanStats:
    @property
    def files_listed(self) -> int: ...
    @property
    def files_pruned(self) -> int: ...
    @property
    def files_read(self) -> int: ...
    @property
    def files_skipped(self) -> int: ...
    @property
    def files_excluded(self) -> int: ...
    @property
    def bytes_read(self) -> int: ...
    @property
    def json_bytes(self) -> int: ...
    @property
    def records_read(self) -> int: ...
    @property
    def records_rejected(self) -> int: ...
    @property
    def rows(self) -> int: ...
    @property
    def spill_files(self) -> int: ...
    @property
    def spilled_bytes(self) -> int: ...
    @property
    def reruns(self) -> int: ...
    @property
    def problems(self) -> list[tuple[str, int | None, str]]: ...
    @property
    def athena_billed_bytes(self) -> int: ...
    @property
    def athena_cost_usd(self) -> float: ...

@final
class Estimate:
    @property
    def objects(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def billed_bytes(self) -> int: ...
    @property
    def cost_usd(self) -> float: ...
    @property
    def raw_cost_usd(self) -> float: ...
    @property
    def price_per_tb(self) -> float: ...
    @property
    def tables(self) -> list[str]: ...
    @property
    def partitions(self) -> int: ...
    @property
    def prefixes_listed(self) -> int: ...
    @property
    def prefixes(self) -> list[str]: ...
    @property
    def complete(self) -> bool: ...
    @property
    def upper_bound(self) -> bool: ...
    @property
    def notes(self) -> list[str]: ...

@final
class QueryInfo:
    @property
    def query_id(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def statement_type(self) -> str | None: ...
    @property
    def sql(self) -> str: ...
    @property
    def workgroup(self) -> str | None: ...
    @property
    def output_location(self) -> str | None: ...
    @property
    def data_scanned_bytes(self) -> int: ...
    @property
    def engine_time_ms(self) -> int: ...
    @property
    def queue_time_ms(self) -> int: ...
    @property
    def total_time_ms(self) -> int: ...
    @property
    def reused_previous_result(self) -> bool: ...
    @property
    def cost_usd(self) -> float: ...
    @property
    def fetch(self) -> str: ...
    @property
    def fetch_note(self) -> str | None: ...
    @property
    def rows(self) -> int: ...

@final
class InsightsInfo:
    @property
    def query_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def query(self) -> str: ...
    @property
    def log_groups(self) -> list[str]: ...
    @property
    def start_time(self) -> int: ...
    @property
    def end_time(self) -> int: ...
    @property
    def records_matched(self) -> int: ...
    @property
    def records_scanned(self) -> int: ...
    @property
    def bytes_scanned(self) -> int: ...
    @property
    def rows(self) -> int: ...

@final
class QueryResult:
    @property
    def engine(self) -> str: ...
    @property
    def num_rows(self) -> int: ...
    @property
    def table(self) -> Any: ...
    @property
    def stats(self) -> ScanStats | None: ...
    @property
    def info(self) -> QueryInfo | None: ...
    @property
    def insights(self) -> InsightsInfo | None: ...
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

@final
class LocalSession:
    def __new__(
        cls,
        sources: list[str],
        *,
        database: str | None = None,
        table: str | None = None,
        on_error: str | None = None,
        batch_size: int | None = None,
        threads: int = 0,
        late_delivery_days: int | None = None,
        partitions: str | None = None,
        memory_limit: int | str | None = None,
        spill_dir: str | os.PathLike[str] | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        max_attempts: int | None = None,
        dedup: bool = False,
    ) -> LocalSession: ...
    def sql(self, query: str, params: list[Any] | None = None) -> QueryResult: ...
    def sql_async(self, query: str, params: list[Any] | None = None) -> Any: ...
    def sql_stream(self, query: str, params: list[Any] | None = None) -> Any: ...
    def explain(self, query: str, params: list[Any] | None = None) -> str: ...
    def register(self, name: str, data: Any) -> None: ...
    def unregister(self, name: str) -> bool: ...
    def last_stats(self) -> ScanStats | None: ...
    @property
    def table(self) -> str: ...
    @property
    def database(self) -> str: ...
    @property
    def partitions(self) -> str: ...
    @property
    def memory_limit(self) -> int: ...
    @property
    def spill_dir(self) -> str: ...
    @property
    def sources(self) -> list[str]: ...

def generate(
    out_dir: str,
    *,
    events: int = 100000,
    days: int = 1,
    seed: int = 42,
    end: str | None = None,
    accounts: list[str] | None = None,
    regions: list[str] | None = None,
    prefix: str | None = None,
    org_id: str | None = None,
    role: str = "SpinnakerManagedCA",
    events_per_file: int = 2000,
    threads: int = 0,
) -> dict[str, int]: ...
def compact(
    source: str,
    dest: str,
    *,
    dedup: bool = False,
    row_group_rows: int | None = None,
    on_error: str | None = None,
    threads: int = 0,
    region: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
    max_attempts: int | None = None,
) -> dict[str, int]: ...

@final
class Stack:
    def __new__(
        cls,
        options_json: str,
        *,
        config_toml: str | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        max_attempts: int | None = None,
        connect_timeout: float = 5.0,
    ) -> Stack: ...
    def config_json(self) -> str: ...
    def plan(self) -> str: ...
    def apply(self) -> str: ...
    def destroy(self, *, delete_bucket: bool = False) -> str: ...
    def doctor(self) -> str: ...
    def ddl(self) -> str: ...

@final
class AthenaSession:
    def __new__(
        cls,
        *,
        database: str | None = None,
        table: str | None = None,
        workgroup: str | None = None,
        region: str | None = None,
        output_location: str | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        catalog: str | None = None,
        timeout: float | None = None,
        result_reuse_minutes: int | None = None,
        fetch: str | None = None,
        fast_fetch_bytes: int | None = None,
        batch_size: int | None = None,
        price_per_tb: float | None = None,
        max_poll_interval: float | None = None,
        max_attempts: int | None = None,
        max_cost: float | None = None,
        max_bytes: int | None = None,
    ) -> AthenaSession: ...
    def sql(
        self,
        query: str,
        params: list[Any] | None = None,
        *,
        fetch: str | None = None,
        progress: Callable[[dict[str, Any]], None] | None = None,
        limits: tuple[float | None, int | None] | None = None,
    ) -> QueryResult: ...
    def sql_async(
        self,
        query: str,
        params: list[Any] | None = None,
        *,
        fetch: str | None = None,
        limits: tuple[float | None, int | None] | None = None,
    ) -> Any: ...
    def sql_stream(
        self,
        query: str,
        params: list[Any] | None = None,
        *,
        fetch: str | None = None,
        progress: Callable[[dict[str, Any]], None] | None = None,
        limits: tuple[float | None, int | None] | None = None,
    ) -> Any: ...
    def estimate(self, query: str, params: list[Any] | None = None) -> Estimate: ...
    @property
    def limits(self) -> tuple[float | None, int | None]: ...
    @property
    def price_per_tb(self) -> float: ...
    def explain(self, query: str, params: list[Any] | None = None) -> str: ...
    def last_query(self) -> QueryInfo | None: ...
    @property
    def database(self) -> str: ...
    @property
    def table(self) -> str: ...
    @property
    def workgroup(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def output_location(self) -> str | None: ...

@final
class CloudWatchSession:
    def __new__(
        cls,
        log_groups: list[str],
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        timeout: float | None = None,
        max_poll_interval: float | None = None,
        max_attempts: int | None = None,
    ) -> CloudWatchSession: ...
    def insights(
        self,
        query: str,
        start: float | None = None,
        end: float | None = None,
        *,
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> QueryResult: ...
    def insights_async(
        self,
        query: str,
        start: float | None = None,
        end: float | None = None,
        *,
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> Any: ...
    def last_query(self) -> InsightsInfo | None: ...
    @property
    def log_groups(self) -> list[str]: ...
    @property
    def region(self) -> str: ...
    @property
    def timeout(self) -> float | None: ...

def verify(
    source: str,
    *,
    start: str | None = None,
    end: str | None = None,
    public_keys: list[str] | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
    max_attempts: int | None = None,
    concurrency: int = 0,
) -> dict[str, Any]: ...
def sync(
    source: str,
    dest: str,
    *,
    since: str | None = None,
    digests: bool = False,
    insights: bool = False,
    region: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
    max_attempts: int | None = None,
    concurrency: int = 0,
) -> dict[str, Any]: ...
def write_digests(
    out_dir: str,
    signing_key: str,
    *,
    bucket: str | None = None,
    trail: str | None = None,
) -> int: ...
