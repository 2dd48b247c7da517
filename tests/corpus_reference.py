"""The corpus test's reference answers, computed without spintrail: CloudTrail records are read
with gzip + json and each query's answer is worked out in plain Python over them.

Column paths name the table's columns (`useridentity.sessioncontext.sessionissuer.arn`) and
are looked up in the raw JSON records case-insensitively, the way the table's lower-case names
map onto CloudTrail's camelCase keys. Ordering follows Trino: NULLs last in either direction.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pyarrow as pa

Record = dict[str, Any]
Getter = Callable[[Record], Any]
Spec = str | Getter
Row = tuple[Any, ...]


def load_records(files: Iterable[Path]) -> list[Record]:
    records: list[Record] = []
    for path in sorted(files):
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            records.extend(json.load(stream)["Records"])
    return records


def value(record: Record, path: str) -> Any:
    """The value at a dotted column path; None where a key is missing."""
    current: Any = record
    for part in path.lower().split("."):
        if not isinstance(current, dict):
            return None
        current = next((v for k, v in current.items() if k.lower() == part), None)
    return current


def getter(spec: Spec) -> Getter:
    if isinstance(spec, str):
        return lambda record: value(record, spec)
    return spec


def text(record: Record, path: str) -> str | None:
    """A JSON-text column (`requestparameters`, ...) as the text LIKE sees."""
    found = value(record, path)
    if found is None:
        return None
    return found if isinstance(found, str) else json.dumps(found)


def json_scalar(record: Record, path: str, json_path: str) -> str | None:
    """Trino's json_extract_scalar for a simple `$.a.b` path."""
    current = value(record, path)
    if isinstance(current, str):
        current = json.loads(current)
    for key in json_path.removeprefix("$.").split("."):
        if not isinstance(current, dict) or key not in current:
            return None
        current = current[key]
    if isinstance(current, bool):
        return "true" if current else "false"
    if isinstance(current, (dict, list)) or current is None:
        return None
    return str(current)


def like(found: str | None, pattern: str) -> bool:
    if found is None:
        return False
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, found, re.DOTALL) is not None


def iso(found: str) -> datetime:
    return datetime.strptime(found, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def hour(found: str) -> datetime:
    return iso(found).replace(minute=0, second=0)


def decimal_div(dividend: Decimal, divisor: int, scale: int) -> Decimal:
    """Trino's decimal division: the result keeps the larger scale, rounded half up."""
    if divisor == 0:
        raise ZeroDivisionError
    return (dividend / divisor).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)


# --- aggregates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Agg:
    fold: Callable[[list[Record]], Any]


def count_star() -> Agg:
    return Agg(len)


def count(spec: Spec) -> Agg:
    get = getter(spec)
    return Agg(lambda rs: sum(get(r) is not None for r in rs))


def count_distinct(spec: Spec) -> Agg:
    get = getter(spec)
    return Agg(lambda rs: len({get(r) for r in rs} - {None}))


def min_of(spec: Spec) -> Agg:
    get = getter(spec)
    return Agg(lambda rs: min((v for r in rs if (v := get(r)) is not None), default=None))


def max_of(spec: Spec) -> Agg:
    get = getter(spec)
    return Agg(lambda rs: max((v for r in rs if (v := get(r)) is not None), default=None))


# --- answers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raises:
    """The query fails, as it does on Athena."""

    error: type[Exception]
    match: str | None = None


@dataclass(frozen=True)
class Answer:
    """Rows a query must return. `order` lists (result column, descending) pairs; with `limit`,
    any `limit` rows of the answer that respect the order are right. `columns` restricts the
    comparison to these result columns (for `SELECT *`); `names`, when given, are the result's
    column names."""

    rows: list[Row]
    order: tuple[tuple[int, bool], ...] = ()
    limit: int | None = None
    columns: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    def order_by(self, *keys: tuple[int, bool] | int) -> Answer:
        return replace(self, order=tuple(k if isinstance(k, tuple) else (k, False) for k in keys))

    def top(self, limit: int) -> Answer:
        return replace(self, limit=limit)

    def compare(self, *columns: str) -> Answer:
        return replace(self, columns=columns)

    def named(self, *names: str) -> Answer:
        """The result's column names, as Trino gives them (alias or field name, lower case;
        `_colN` for an unnamed expression)."""
        return replace(self, names=names)

    def having(self, keep: Callable[[Row], bool]) -> Answer:
        return replace(self, rows=[row for row in self.rows if keep(row)])

    def check(self, table: pa.Table) -> None:
        if self.names:
            assert table.column_names == list(self.names)
        if self.columns:
            table = table.select(list(self.columns))
        actual = [tuple(canonical(v) for v in row.values()) for row in table.to_pylist()]
        expected = [tuple(canonical(v) for v in row) for row in self.rows]
        if self.order:
            assert in_order(actual, self.order), f"rows out of order: {actual[:5]}"
        if self.limit is None:
            assert Counter(actual) == Counter(expected), diff(actual, expected)
            return
        assert len(actual) == min(self.limit, len(expected)), (len(actual), len(expected))
        assert not Counter(actual) - Counter(expected), diff(actual, expected)
        if self.order:
            best = sorted(expected, key=lambda row: sort_key(row, self.order))[: self.limit]
            assert sorted(order_values(r, self.order) for r in actual) == sorted(
                order_values(r, self.order) for r in best
            ), "LIMIT kept rows that are not first in the ORDER BY"


@dataclass
class Dataset:
    """The records a session reads, and the values its placeholders are filled with."""

    name: str
    source: Path
    records: list[Record]
    values: dict[str, str] = field(default_factory=dict)

    def where(self, keep: Callable[[Record], bool]) -> list[Record]:
        return [r for r in self.records if keep(r)]

    def select(self, specs: Sequence[Spec], where: Callable[[Record], bool]) -> Answer:
        getters = [getter(s) for s in specs]
        return Answer([tuple(g(r) for g in getters) for r in self.where(where)])

    def group(
        self,
        select: Sequence[Spec | Agg],
        where: Callable[[Record], bool],
        by: Sequence[Spec] = (),
    ) -> Answer:
        """GROUP BY the non-aggregate items of `select` (plus `by`)."""
        keys = [getter(s) for s in select if not isinstance(s, Agg)] + [getter(s) for s in by]
        groups: dict[Row, list[Record]] = {}
        for record in self.where(where):
            groups.setdefault(tuple(k(record) for k in keys), []).append(record)
        rows = []
        for members in groups.values():
            first = members[0]
            rows.append(
                tuple(s.fold(members) if isinstance(s, Agg) else getter(s)(first) for s in select)
            )
        return Answer(rows)

    def unnest_resources(self, where: Callable[[Record], bool]) -> list[tuple[Record, Record]]:
        """CROSS JOIN UNNEST(resources): one (record, resource) pair per array element."""
        return [(r, res) for r in self.records for res in (value(r, "resources") or []) if where(r)]


def canonical(found: Any) -> Any:
    """A hashable form in which the engine's values and the JSON's compare equal: JSON text is
    parsed, struct/dict keys lower-cased with NULL fields dropped, timestamps in naive UTC."""
    if isinstance(found, str) and found[:1] in "{[":
        try:
            return canonical(json.loads(found))
        except ValueError:
            return found
    if isinstance(found, dict):
        return tuple(sorted((k.lower(), canonical(v)) for k, v in found.items() if v is not None))
    if isinstance(found, list):
        return tuple(canonical(v) for v in found)
    if isinstance(found, datetime) and found.tzinfo is not None:
        return found.astimezone(timezone.utc).replace(tzinfo=None)
    return found


def order_values(row: Row, order: Sequence[tuple[int, bool]]) -> Row:
    return tuple(row[index] for index, _ in order)


def sort_key(row: Row, order: Sequence[tuple[int, bool]]) -> Row:
    """Sort key for Trino's ORDER BY (NULLS LAST whichever the direction)."""
    key: list[Any] = []
    for index, descending in order:
        found = row[index]
        key.append(found is None)
        key.append(_Desc(found) if descending and found is not None else found)
    return tuple(key)


@dataclass(frozen=True)
class _Desc:
    inner: Any

    def __lt__(self, other: _Desc) -> bool:
        return bool(other.inner < self.inner)


def in_order(rows: list[Row], order: Sequence[tuple[int, bool]]) -> bool:
    keys = [sort_key(row, order) for row in rows]
    return all(not (b < a) for a, b in pairwise(keys))


def diff(actual: list[Row], expected: list[Row]) -> str:
    extra = Counter(actual) - Counter(expected)
    missing = Counter(expected) - Counter(actual)
    return (
        f"{len(actual)} rows vs {len(expected)} expected; "
        f"unexpected {list(extra)[:3]}; missing {list(missing)[:3]}"
    )


def most_common(found: Iterable[Any]) -> Any:
    counted = Counter(v for v in found if v not in (None, ""))
    return counted.most_common(1)[0][0] if counted else "none-in-this-data"
