"""Type stubs of the Rust extension module (checked with mypy.stubtest)."""

from collections.abc import Callable
from typing import Any, final

__all__ = [
    "AthenaError",
    "AthenaQueryError",
    "AthenaResultError",
    "AthenaSession",
    "EngineError",
    "InvalidArgumentError",
    "LocalSession",
    "LogFileError",
    "ProvisionError",
    "QueryCancelledError",
    "QueryTimeoutError",
    "SourceError",
    "SpintrailError",
    "SqlError",
    "Stack",
    "UnsupportedFunctionError",
    "__version__",
    "generate",
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
class EngineError(SpintrailError): ...

@final
class LocalSession:
    def __new__(
        cls,
        sources: list[str],
        *,
        database: str = "default",
        table: str = "cloudtrail_logs",
        on_error: str = "raise",
        batch_size: int = 8192,
        threads: int = 0,
    ) -> LocalSession: ...
    def sql(self, query: str, params: list[Any] | None = None) -> Any: ...
    def sql_async(self, query: str, params: list[Any] | None = None) -> Any: ...
    def sql_stream(self, query: str, params: list[Any] | None = None) -> Any: ...
    def explain(self, query: str, params: list[Any] | None = None) -> str: ...
    def last_stats(self) -> dict[str, Any] | None: ...
    @property
    def table(self) -> str: ...
    @property
    def database(self) -> str: ...
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

@final
class Stack:
    def __new__(
        cls,
        options_json: str,
        *,
        config_toml: str | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        max_attempts: int = 3,
        connect_timeout: float = 5.0,
    ) -> Stack: ...
    def config_json(self) -> str: ...
    def plan(self) -> str: ...
    def apply(self) -> str: ...
    def destroy(self, *, delete_bucket: bool = False) -> str: ...
    def ddl(self) -> str: ...

@final
class AthenaSession:
    def __new__(
        cls,
        *,
        database: str = "default",
        table: str = "cloudtrail_logs",
        workgroup: str = "spintrail",
        region: str | None = None,
        output_location: str | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        catalog: str = "AwsDataCatalog",
        timeout: float | None = None,
        result_reuse_minutes: int | None = None,
        fetch: str = "auto",
        fast_fetch_bytes: int = 1048576,
        batch_size: int = 65536,
        price_per_tb: float = 5.0,
        max_poll_interval: float = 2.0,
        max_attempts: int = 8,
    ) -> AthenaSession: ...
    def sql(
        self,
        query: str,
        params: list[Any] | None = None,
        *,
        fetch: str | None = None,
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> Any: ...
    def sql_async(
        self, query: str, params: list[Any] | None = None, *, fetch: str | None = None
    ) -> Any: ...
    def sql_stream(
        self,
        query: str,
        params: list[Any] | None = None,
        *,
        fetch: str | None = None,
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> Any: ...
    def explain(self, query: str, params: list[Any] | None = None) -> str: ...
    def last_query(self) -> dict[str, Any] | None: ...
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
