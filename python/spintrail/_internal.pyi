"""Type stubs of the Rust extension module (checked with mypy.stubtest)."""

from typing import Any, final

__all__ = [
    "EngineError",
    "InvalidArgumentError",
    "LocalSession",
    "LogFileError",
    "ProvisionError",
    "QueryCancelledError",
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
    def sql(self, query: str) -> Any: ...
    def sql_async(self, query: str) -> Any: ...
    def sql_stream(self, query: str) -> Any: ...
    def explain(self, query: str) -> str: ...
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
