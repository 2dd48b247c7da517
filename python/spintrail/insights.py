"""CloudWatch Logs Insights queries over the CloudTrail table, on both engines.

Guides and runbooks (Spinnaker's set-up guide among them) give their CloudTrail questions as
CloudWatch Logs Insights queries, which need a trail that delivers to CloudWatch Logs. This
module translates such a query into the Athena-dialect SQL both engines run, with every value
the query compares against bound to a ``?`` parameter (never pasted into the text)::

    sql, params = spintrail.insights.to_sql(
        "filter eventName = 'CreateUser' | fields awsRegion, requestParameters.userName"
    )
    session.insights("stats count(*) by eventSource | sort count(*) desc")  # -> pyarrow.Table

What is understood (anything else is refused with :class:`UnsupportedInsightsError` naming the
command, function or construct; a malformed query raises :class:`InsightsSyntaxError` with its
line and column):

- commands ``fields`` and ``display`` (with ``as``), ``filter``, ``stats ... by ...``,
  ``sort`` (several keys, ``asc``/``desc``), ``limit`` (and ``limit any``), ``dedup``; ``#``
  comments; backquoted field names.
- conditions ``= != < <= > >=``, ``and or not``, parentheses, ``in [...]``/``not in``,
  ``like "text"`` (case-sensitive substring), ``like /regex/`` and ``=~ /regex/`` (``(?i)`` for
  case-insensitive), ``not like``; arithmetic ``+ - * / % ^``.
- functions ``ispresent isempty isblank coalesce concat tolower toupper strlen strcontains
  substr replace trim ltrim rtrim abs ceil floor greatest least log sqrt bin datefloor toMillis
  fromMillis``; in ``stats``: ``count(*) count(f) count_distinct sum avg min max stddev pct
  earliest latest sortsFirst sortsLast``, ``by`` several fields and ``bin(5m)``-style buckets
  (units ``ms s m h d``; ``w mo q y`` as single units).

How CloudTrail fields map to the table: CloudTrail's names, matched case-insensitively, become
the table's lower-case columns (``userIdentity.sessionContext.sessionIssuer.userName`` is
``useridentity.sessioncontext.sessionissuer.username``); paths into ``requestParameters``,
``responseElements``, ``additionalEventData``, ``serviceEventDetails`` and ``edgeDeviceDetails``
become ``json_extract_scalar(requestparameters, '$.instanceType')`` (case-sensitive, as in the
JSON; a number step is an array index: ``requestParameters.instancesSet.items.0.instanceId``);
``resources.0.ARN`` is the first resource's ARN. ``@timestamp`` is ``eventTime`` as a timestamp.
A field the table does not have is an error that suggests the closest one (Logs Insights would
silently find nothing).

Decisions where Logs Insights and a SQL table differ:

- **Filters after stats.** A ``filter`` on fields of the events applies to the events, wherever
  it is written; so ``stats count(*) by errorCode | filter errorCode like 'Throttling'`` counts
  the throttled events (what such queries mean). A filter on a stats result (an aggregate or its
  alias) becomes a condition on the results (``HAVING``).
- **Limit.** Without ``limit``, a query returns at most :data:`DEFAULT_LIMIT` (10,000) rows, as
  Logs Insights does; ``limit n`` takes any positive ``n`` (Logs Insights caps it).
- **Order.** A query without ``stats`` and without ``sort`` returns the newest events first
  (Logs Insights' default, which also decides which events ``dedup`` keeps). ``sort`` without a
  direction sorts ascending; values sort as the engine orders their type (text by code point,
  not Logs Insights' "natural" order of digit runs); missing values come last.
- **@message.** The table has no raw event text. In ``fields``/``display``, ``@message`` stands
  for every field of the event, flattened as Logs Insights names them (``userIdentity.arn``,
  ...; the same columns a query without ``fields`` returns after ``@timestamp``). Matching text
  anywhere in ``@message`` is refused: filter on the field that holds it.
- **Missing fields.** A condition on a missing field is false, negated or not (SQL's NULL):
  ``errorCode != 'AccessDenied'`` does not return events without an error code; write
  ``not ispresent(errorCode) or errorCode != 'AccessDenied'`` for those.
- **Types.** CloudTrail values are text; compared with a number (``> 100``, ``in [1, 2]``) or
  used in arithmetic and ``sum``/``avg``/``pct``, text is read as a number (not a number: no
  value). ``ispresent``, ``isempty``, ``isblank``, ``strcontains`` give booleans (Logs Insights:
  1/0). ``min``/``max`` of text compare as text (``max(x + 0)`` for numbers kept as JSON
  text). ``count_distinct`` is exact; ``pct`` is the engines' ``approx_percentile``.
- **Regular expressions** run on the engines' regex libraries (Java-style on Athena, Rust's
  ``regex`` on the local engine) rather than Logs Insights' Hyperscan. What they share is
  accepted: classes, quantifiers, anchors, groups (also named), alternation and the flags
  ``i m s x``. Backreferences, lookaround, atomic groups, possessive quantifiers and the like
  are refused, naming the construct.
- **Time range.** ``start``/``end`` (a ``datetime`` or ISO-8601 text; naive means UTC) bound
  ``eventtime``, both inclusive like Logs Insights' StartQuery, and the ``day`` partition, so
  both engines read only the days in range.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Protocol

import pyarrow as pa

from spintrail.errors import InvalidArgumentError, SqlError

#: Rows a query returns when it has no ``limit`` command (Logs Insights' default).
DEFAULT_LIMIT = 10_000

TimeBound = datetime | date | str | None


class InsightsSyntaxError(SqlError):
    """A Logs Insights query that does not parse; ``line`` and ``column`` are 1-based."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column


class UnsupportedInsightsError(SqlError):
    """A Logs Insights command, function or construct that is not translated; ``construct``
    names it, ``line`` and ``column`` (1-based) say where it is."""

    def __init__(self, message: str, construct: str, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.construct = construct
        self.line = line
        self.column = column


# ---------------------------------------------------------------------------------------------
# The CloudTrail record as Logs Insights names its fields, and the table's columns.

TEXT, NUMBER, TIME, BOOL = "text", "number", "timestamp", "boolean"
STRUCT, ARRAY, MAP, JSON = "object", "list", "map", "json"

Spec = str | dict[str, "Spec"]


def _texts(*names: str) -> dict[str, Spec]:
    return dict.fromkeys(names, TEXT)


#: CloudTrail's record fields (as CloudTrail spells them) with their kind in the table: text,
#: JSON text, a struct (a dict of members), the ``resources`` list or a map.
CLOUDTRAIL_FIELDS: dict[str, Spec] = {
    "eventVersion": TEXT,
    "userIdentity": {
        **_texts("type", "principalId", "arn", "accountId", "invokedBy", "accessKeyId"),
        "userName": TEXT,
        "onBehalfOf": _texts("userId", "identityStoreArn"),
        "sessionContext": {
            "attributes": _texts("mfaAuthenticated", "creationDate"),
            "sessionIssuer": _texts("type", "principalId", "arn", "accountId", "userName"),
            "ec2RoleDelivery": TEXT,
            "webIdFederationData": {"federatedProvider": TEXT, "attributes": MAP},
        },
    },
    **_texts(
        "eventTime",
        "eventSource",
        "eventName",
        "awsRegion",
        "sourceIPAddress",
        "userAgent",
        "errorCode",
        "errorMessage",
    ),
    "requestParameters": JSON,
    "responseElements": JSON,
    "additionalEventData": JSON,
    **_texts("requestID", "eventID"),
    "resources": ARRAY,
    **_texts("eventType", "apiVersion", "readOnly", "recipientAccountId"),
    "serviceEventDetails": JSON,
    **_texts("sharedEventID", "vpcEndpointId", "vpcEndpointAccountId", "eventCategory"),
    "addendum": _texts("reason", "updatedFields", "originalRequestID", "originalEventID"),
    "sessionCredentialFromConsole": TEXT,
    "edgeDeviceDetails": JSON,
    "tlsDetails": _texts("tlsVersion", "cipherSuite", "clientProvidedHostHeader"),
}
#: Members of each ``resources`` entry.
RESOURCE_FIELDS: dict[str, Spec] = _texts("ARN", "accountId", "type")


def _leaves(fields: dict[str, Spec], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, spec in fields.items():
        if isinstance(spec, dict):
            out += _leaves(spec, f"{prefix}{name}.")
        elif spec in (TEXT, JSON):
            out.append(prefix + name)
    return out


#: The fields ``@message`` stands for: every text field of the record, flattened with dots
#: (``resources`` and the web-identity attributes map are left out: ask for
#: ``resources.0.ARN`` and the like).
MESSAGE_FIELDS: tuple[str, ...] = tuple(_leaves(CLOUDTRAIL_FIELDS))
_ALL_NAMES: tuple[str, ...] = ("@timestamp", *MESSAGE_FIELDS)

_OTHER_DISCOVERED = {
    "@logstream": "@logStream",
    "@log": "@log",
    "@ingestiontime": "@ingestionTime",
    "@ptr": "@ptr",
    "@entity": "@entity",
}

# ---------------------------------------------------------------------------------------------
# SQL fragments with bound values.


@dataclass(frozen=True)
class Bound:
    """A value bound to a ``?`` placeholder."""

    value: Any


Piece = str | Bound


@dataclass(frozen=True)
class Frag:
    """A piece of SQL text whose values travel separately, in placeholder order."""

    pieces: tuple[Piece, ...] = ()

    def text(self) -> str:
        return "".join(p if isinstance(p, str) else "?" for p in self.pieces)

    def params(self) -> list[Any]:
        return [p.value for p in self.pieces if isinstance(p, Bound)]


def sql(*parts: str | Frag | Bound) -> Frag:
    pieces: list[Piece] = []
    for part in parts:
        if isinstance(part, Frag):
            pieces.extend(part.pieces)
        else:
            pieces.append(part)
    return Frag(tuple(pieces))


def join(separator: str, frags: Iterable[Frag]) -> Frag:
    parts: list[str | Frag] = []
    for i, f in enumerate(frags):
        if i:
            parts.append(separator)
        parts.append(f)
    return sql(*parts)


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# ---------------------------------------------------------------------------------------------
# Lexer.


@dataclass(frozen=True)
class Token:
    #: name, qname (backquoted), string, regex, number, duration, op, pipe, end
    kind: str
    text: str
    value: Any
    start: int
    end: int


_NAME = re.compile(r"[A-Za-z_@$][A-Za-z0-9_@$]*(?:\.[A-Za-z0-9_@$]+)*")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_UNIT_WORD = re.compile(r"[A-Za-z]+")
_OPS = ("=~", "!=", "<=", ">=", "=", "<", ">", "+", "-", "*", "/", "%", "^")
_PUNCT = {"(", ")", "[", "]", ","}
#: Logs Insights' time units in bin() and datefloor(), in seconds (months and longer: calendar).
_UNITS: dict[str, float] = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "mo": 0,
    "q": 0,
    "y": 0,
}
_WORD_OPERATORS = {"and", "or", "not", "like", "in"}


class Source:
    """The query text, with line/column lookup for messages."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]

    def where(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def syntax(self, offset: int, message: str) -> InsightsSyntaxError:
        line, column = self.where(offset)
        return InsightsSyntaxError(message, line, column)

    def unsupported(self, offset: int, construct: str, message: str) -> UnsupportedInsightsError:
        line, column = self.where(offset)
        return UnsupportedInsightsError(message, construct, line, column)


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "the end of the query"
    if token.kind == "pipe":
        return "'|'"
    return repr(token.text)


def tokenize(src: Source) -> list[Token]:
    text = src.text
    tokens: list[Token] = []
    i = 0
    n = len(text)

    def operand_before() -> bool:
        # Whether '/' here divides (after an operand) or opens a regex.
        if not tokens:
            return False
        last = tokens[-1]
        if last.kind in ("qname", "string", "number", "duration", "regex"):
            return True
        if last.kind == "name":
            return last.text.lower() not in _WORD_OPERATORS
        return last.kind == "op" and last.text in (")", "]")

    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        if c == "#":
            while i < n and text[i] not in "\r\n":
                i += 1
            continue
        start = i
        if c == "|":
            tokens.append(Token("pipe", "|", None, i, i + 1))
            i += 1
        elif c in "'\"":
            string, i = _lex_string(src, i)
            tokens.append(Token("string", text[start:i], string, start, i))
        elif c == "`":
            close = text.find("`", i + 1)
            if close < 0:
                raise src.syntax(start, "a backquoted name is not closed with `")
            name = text[i + 1 : close]
            if not name.strip():
                raise src.syntax(start, "an empty backquoted name")
            i = close + 1
            tokens.append(Token("qname", text[start:i], name, start, i))
        elif c == "/" and not operand_before():
            pattern, i = _lex_regex(src, i)
            tokens.append(Token("regex", text[start:i], pattern, start, i))
        elif c.isdigit():
            m = _NUMBER.match(text, i)
            assert m is not None
            i = m.end()
            word = _UNIT_WORD.match(text, i)
            if word:
                unit = word.group()
                if unit not in _UNITS or "." in m.group() or "e" in m.group().lower():
                    raise src.syntax(
                        start,
                        f"{text[start : word.end()]!r} is neither a number nor a time period "
                        "(a whole number and one of ms, s, m, h, d, w, mo, q, y)",
                    )
                i = word.end()
                tokens.append(Token("duration", text[start:i], (int(m.group()), unit), start, i))
            else:
                raw = m.group()
                number: int | float = float(raw) if any(ch in raw for ch in ".eE") else int(raw)
                tokens.append(Token("number", raw, number, start, i))
        elif _NAME.match(text, i):
            m = _NAME.match(text, i)
            assert m is not None
            i = m.end()
            tokens.append(Token("name", m.group(), m.group(), start, i))
        elif c in _PUNCT:
            tokens.append(Token("op", c, c, i, i + 1))
            i += 1
        else:
            for op in _OPS:
                if text.startswith(op, i):
                    tokens.append(Token("op", op, op, i, i + len(op)))
                    i += len(op)
                    break
            else:
                raise src.syntax(start, f"unexpected character {c!r}")
    tokens.append(Token("end", "", None, n, n))
    return tokens


def _lex_string(src: Source, i: int) -> tuple[str, int]:
    text = src.text
    quote = text[i]
    out: list[str] = []
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and j + 1 < len(text):
            nxt = text[j + 1]
            # \' \" \\ are escapes; any other backslash stays (a pattern's \d, a Windows path).
            out.append(nxt if nxt in ("'", '"', "\\") else c + nxt)
            j += 2
            continue
        if c == quote:
            return "".join(out), j + 1
        if c in "\r\n":
            break
        out.append(c)
        j += 1
    raise src.syntax(i, f"a text in {quote} quotes is not closed on its line")


def _lex_regex(src: Source, i: int) -> tuple[str, int]:
    text = src.text
    out: list[str] = []
    j = i + 1
    in_class = False
    while j < len(text):
        c = text[j]
        if c == "\\" and j + 1 < len(text):
            # \/ is a slash of the pattern; every other escape is the pattern's own.
            out.append("/" if text[j + 1] == "/" else c + text[j + 1])
            j += 2
            continue
        if c in "\r\n":
            break
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        elif c == "/" and not in_class:
            if j == i + 1:
                raise src.syntax(i, "an empty regular expression //")
            return "".join(out), j + 1
        out.append(c)
        j += 1
    raise src.syntax(i, "a regular expression /.../ is not closed on its line")


# ---------------------------------------------------------------------------------------------
# Syntax tree.


@dataclass(frozen=True)
class Node:
    start: int
    end: int


@dataclass(frozen=True)
class FieldRef(Node):
    name: str


@dataclass(frozen=True)
class Literal(Node):
    value: str | int | float | bool


@dataclass(frozen=True)
class Regex(Node):
    pattern: str


@dataclass(frozen=True)
class Duration(Node):
    amount: int
    unit: str


@dataclass(frozen=True)
class Star(Node):
    pass


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Match(Node):
    """``x like "text"``, ``x like /re/``, ``x =~ /re/`` (``negated``: ``not like``)."""

    operand: Node
    pattern: Literal | Regex
    negated: bool


@dataclass(frozen=True)
class InList(Node):
    operand: Node
    values: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class Item:
    """An item of ``fields``/``display``/``stats``: an expression and its ``as`` name."""

    expr: Node
    alias: str | None
    text: str


@dataclass(frozen=True)
class SortKey:
    expr: Node
    descending: bool
    text: str


@dataclass(frozen=True)
class Command:
    name: str
    start: int
    items: tuple[Item, ...] = ()
    by: tuple[Item, ...] = ()
    condition: Node | None = None
    keys: tuple[SortKey, ...] = ()
    count: int = 0
    any: bool = False
    names: tuple[FieldRef, ...] = ()


_UNSUPPORTED_COMMANDS = {
    "parse": "parse extracts fields from @message text; CloudTrail's fields are columns already",
    "pattern": "pattern (machine-learning clustering of messages) has no SQL equivalent",
    "diff": "diff compares with the previous time range; run the query for each range",
    "anomaly": "anomaly detection has no SQL equivalent",
    "unmask": "unmask reveals data-protection masked text; the table holds no masked text",
    "lookup": "lookup enriches with a CloudWatch lookup table, which the table does not have",
    "join": "join combines log groups; write the join in SQL with spintrail query",
    "unnest": "unnest is not supported; ask for list items by position (resources.0.ARN)",
    "filterindex": "filterIndex works on CloudWatch field indexes, which the table does not have",
    "source": "SOURCE selects log groups; the table is chosen by the session",
}
_COMMANDS = {"fields", "display", "filter", "stats", "sort", "limit", "dedup"}


class Parser:
    def __init__(self, src: Source) -> None:
        self.src = src
        self.tokens = tokenize(src)
        self.i = 0

    # -- token helpers

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def at_word(self, *words: str) -> bool:
        return self.tok.kind == "name" and self.tok.text.lower() in words

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def expect_op(self, op: str, what: str) -> Token:
        if not self.at_op(op):
            raise self.src.syntax(self.tok.start, f"expected {what}, found {_describe(self.tok)}")
        return self.advance()

    def error(self, what: str) -> InsightsSyntaxError:
        return self.src.syntax(self.tok.start, f"expected {what}, found {_describe(self.tok)}")

    def end_of_command(self) -> bool:
        return self.tok.kind in ("pipe", "end")

    # -- query and commands

    def query(self) -> list[Command]:
        if self.tok.kind == "end":
            raise self.src.syntax(0, "the query is empty")
        commands = [self.command()]
        while self.tok.kind == "pipe":
            self.advance()
            commands.append(self.command())
        if self.tok.kind != "end":
            raise self.error("'|' before the next command")
        return commands

    def command(self) -> Command:
        tok = self.tok
        if tok.kind != "name":
            raise self.error("a command (fields, filter, stats, sort, limit, display, dedup)")
        word = tok.text.lower()
        if word in _UNSUPPORTED_COMMANDS:
            raise self.src.unsupported(tok.start, tok.text, _UNSUPPORTED_COMMANDS[word])
        if word not in _COMMANDS:
            raise self.src.unsupported(
                tok.start,
                tok.text,
                f"unknown command {tok.text!r}: the commands are fields, display, filter, "
                "stats, sort, limit and dedup",
            )
        self.advance()
        if self.end_of_command():
            raise self.error(f"the arguments of {word}")
        if word in ("fields", "display"):
            return Command(word, tok.start, items=self.items())
        if word == "filter":
            condition = self.expression()
            self.command_end(word)
            return Command(word, tok.start, condition=condition)
        if word == "stats":
            items = self.items(stop_at_by=True)
            by: tuple[Item, ...] = ()
            if self.at_word("by"):
                self.advance()
                if self.end_of_command():
                    raise self.error("a field or bin(...) after by")
                by = self.items()
            return Command(word, tok.start, items=items, by=by)
        if word == "sort":
            keys = [self.sort_key()]
            while self.at_op(","):
                self.advance()
                keys.append(self.sort_key())
            self.command_end(word)
            return Command(word, tok.start, keys=tuple(keys))
        if word == "limit":
            any_ = False
            if self.at_word("any"):
                self.advance()
                any_ = True
            if self.tok.kind != "number" or not isinstance(self.tok.value, int):
                raise self.error("a whole number of rows after limit")
            count = self.advance().value
            if count < 1:
                raise self.src.syntax(self.tokens[self.i - 1].start, "limit must be at least 1")
            self.command_end(word)
            return Command(word, tok.start, count=count, any=any_)
        # dedup
        names = [self.field_name("a field name")]
        while self.at_op(","):
            self.advance()
            names.append(self.field_name("a field name"))
        self.command_end(word)
        return Command(word, tok.start, names=tuple(names))

    def command_end(self, word: str) -> None:
        if not self.end_of_command():
            raise self.error(f"'|' or the end of the query after the {word} command")

    def items(self, stop_at_by: bool = False) -> tuple[Item, ...]:
        items = [self.item()]
        while self.at_op(","):
            self.advance()
            items.append(self.item())
        if not self.end_of_command() and not (stop_at_by and self.at_word("by")):
            raise self.error("',' or '|'" + (" or by" if stop_at_by else ""))
        return tuple(items)

    def item(self) -> Item:
        expr = self.expression()
        text = " ".join(self.src.text[expr.start : expr.end].split())
        alias = None
        if self.at_word("as"):
            self.advance()
            alias = self.field_name("a name after as").name
        return Item(expr, alias, text)

    def sort_key(self) -> SortKey:
        expr = self.additive()
        text = " ".join(self.src.text[expr.start : expr.end].split())
        descending = False
        if self.at_word("asc", "desc"):
            descending = self.advance().text.lower() == "desc"
        return SortKey(expr, descending, text)

    def field_name(self, what: str) -> FieldRef:
        t = self.tok
        if t.kind == "name" and t.text.lower() not in _WORD_OPERATORS:
            self.advance()
            return FieldRef(t.start, t.end, t.value)
        if t.kind == "qname":
            self.advance()
            return FieldRef(t.start, t.end, t.value)
        raise self.error(what)

    # -- expressions (loosest first)

    def expression(self) -> Node:
        return self.disjunction()

    def disjunction(self) -> Node:
        left = self.conjunction()
        while self.at_word("or"):
            self.advance()
            right = self.conjunction()
            left = Binary(left.start, right.end, "or", left, right)
        return left

    def conjunction(self) -> Node:
        left = self.negation()
        while self.at_word("and"):
            self.advance()
            right = self.negation()
            left = Binary(left.start, right.end, "and", left, right)
        return left

    def negation(self) -> Node:
        if self.at_word("not"):
            start = self.advance().start
            operand = self.negation()
            return Unary(start, operand.end, "not", operand)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.additive()
        if self.at_op("=", "!=", "<", "<=", ">", ">="):
            op = self.advance().text
            right = self.additive()
            return Binary(left.start, right.end, op, left, right)
        negated = False
        if self.at_word("not") and self.tokens[self.i + 1].text.lower() in ("like", "in"):
            self.advance()
            negated = True
        if self.at_word("like"):
            self.advance()
            t = self.tok
            if t.kind == "string":
                self.advance()
                return Match(left.start, t.end, left, Literal(t.start, t.end, t.value), negated)
            if t.kind == "regex":
                self.advance()
                return Match(left.start, t.end, left, Regex(t.start, t.end, t.value), negated)
            raise self.error('a "text" or a /regular expression/ after like')
        if self.at_op("=~"):
            self.advance()
            t = self.tok
            if t.kind != "regex":
                raise self.error("a /regular expression/ after =~")
            self.advance()
            return Match(left.start, t.end, left, Regex(t.start, t.end, t.value), False)
        if self.at_word("in"):
            self.advance()
            self.expect_op("[", "'[' to open the list after in")
            values = [self.list_value()]
            while self.at_op(","):
                self.advance()
                values.append(self.list_value())
            close = self.expect_op("]", "',' or ']' in the list")
            return InList(left.start, close.end, left, tuple(values), negated)
        if negated:
            raise self.error("like or in after not")
        return left

    def list_value(self) -> Literal:
        t = self.tok
        sign = 1
        if self.at_op("-") and self.tokens[self.i + 1].kind == "number":
            self.advance()
            sign = -1
            t = self.tok
        if t.kind in ("string", "number"):
            self.advance()
            value = t.value if t.kind == "string" else sign * t.value
            return Literal(t.start, t.end, value)
        if self.at_word("true", "false"):
            self.advance()
            return Literal(t.start, t.end, t.text.lower() == "true")
        raise self.error("a text or a number in the list")

    def additive(self) -> Node:
        left = self.multiplicative()
        while self.at_op("+", "-"):
            op = self.advance().text
            right = self.multiplicative()
            left = Binary(left.start, right.end, op, left, right)
        return left

    def multiplicative(self) -> Node:
        left = self.power()
        while self.at_op("*", "/", "%"):
            op = self.advance().text
            right = self.power()
            left = Binary(left.start, right.end, op, left, right)
        return left

    def power(self) -> Node:
        base = self.unary()
        if self.at_op("^"):
            self.advance()
            exponent = self.power()
            return Binary(base.start, exponent.end, "^", base, exponent)
        return base

    def unary(self) -> Node:
        if self.at_op("-"):
            start = self.advance().start
            operand = self.unary()
            return Unary(start, operand.end, "-", operand)
        return self.primary()

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "number":
            self.advance()
            return Literal(t.start, t.end, t.value)
        if t.kind == "string":
            self.advance()
            return Literal(t.start, t.end, t.value)
        if t.kind == "duration":
            self.advance()
            amount, unit = t.value
            return Duration(t.start, t.end, amount, unit)
        if t.kind == "regex":
            raise self.src.syntax(
                t.start, "a /regular expression/ goes after like or =~ (e.g. field like /re/)"
            )
        if t.kind == "qname":
            self.advance()
            return FieldRef(t.start, t.end, t.value)
        if self.at_op("("):
            self.advance()
            inner = self.expression()
            close = self.expect_op(")", "')'")
            return _respan(inner, t.start, close.end)
        if t.kind == "name":
            if t.text.lower() in _WORD_OPERATORS:
                raise self.error("a field, a value or a function")
            self.advance()
            if self.at_op("("):
                return self.call(t)
            if t.text.lower() in ("true", "false"):
                return Literal(t.start, t.end, t.text.lower() == "true")
            return FieldRef(t.start, t.end, t.value)
        raise self.error("a field, a value or a function")

    def call(self, name: Token) -> Node:
        self.advance()  # (
        args: list[Node] = []
        if self.at_op("*") and self.tokens[self.i + 1].text == ")":
            star = self.advance()
            args.append(Star(star.start, star.end))
        elif not self.at_op(")"):
            args.append(self.expression())
            while self.at_op(","):
                self.advance()
                args.append(self.expression())
        close = self.expect_op(")", "',' or ')' in the arguments of " + name.text)
        return Call(name.start, close.end, name.text, tuple(args))


def _respan(node: Node, start: int, end: int) -> Node:
    # Parentheses widen the node's span (its text in messages and default column names).
    fields = {k: getattr(node, k) for k in node.__dataclass_fields__}
    fields.update(start=start, end=end)
    return type(node)(**fields)


def parse(query: str) -> list[Command]:
    """Parses a Logs Insights query into its commands (raises :class:`InsightsSyntaxError`)."""
    return Parser(Source(query)).query()


# ---------------------------------------------------------------------------------------------
# Translation.


@dataclass(frozen=True)
class Value:
    """A translated expression: its SQL, its kind, and for JSON paths the SQL whose NULL-ness
    says whether the field is there (``json_extract`` also finds objects and lists)."""

    frag: Frag
    kind: str
    presence: Frag | None = None
    aggregate: bool = False


@dataclass(frozen=True)
class Translation:
    """A translated query: SQL with ``?`` placeholders, their values in order, and the result
    columns' names as Logs Insights gives them (the SQL's own aliases are lower-case, since
    Athena lower-cases them)."""

    sql: str
    params: tuple[Any, ...]
    columns: tuple[str, ...]


_NO_MESSAGE = (
    "@message is the raw event text, which the table does not keep: filter on the field that "
    "holds the text (e.g. errorMessage like /denied/)"
)


def _lookup(fields: dict[str, Spec], segment: str) -> tuple[str, Spec] | None:
    lower = segment.lower()
    for name, spec in fields.items():
        if name.lower() == lower:
            return name, spec
    return None


def _all_paths(fields: dict[str, Spec], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, spec in fields.items():
        out.append(prefix + name)
        if isinstance(spec, dict):
            out += _all_paths(spec, f"{prefix}{name}.")
    return out


_KNOWN_PATHS = [*_all_paths(CLOUDTRAIL_FIELDS), "@timestamp"]
_JSON_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _json_path(segments: Sequence[str]) -> str:
    path = "$"
    for s in segments:
        if s.isdigit():
            path += f"[{int(s)}]"
        elif _JSON_KEY.fullmatch(s):
            path += "." + s
        else:
            path += '["' + s.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return path


def resolve_cloudtrail(src: Source, ref: FieldRef) -> Value:
    """A CloudTrail field (as Logs Insights names it) as SQL over the table's columns."""
    name = ref.name
    lower = name.lower()
    if lower == "@timestamp":
        return Value(sql("from_iso8601_timestamp(eventtime)"), TIME)
    if lower == "@message":
        raise src.unsupported(ref.start, name, _NO_MESSAGE)
    if lower.startswith("@"):
        known = _OTHER_DISCOVERED.get(lower, name)
        raise src.unsupported(
            ref.start,
            name,
            f"{known} is a CloudWatch Logs field, not part of a CloudTrail event; of the "
            "discovered fields only @timestamp (and @message in fields/display) are understood",
        )
    segments = name.split(".")
    fields: dict[str, Spec] = CLOUDTRAIL_FIELDS
    column: list[str] = []
    i = 0
    while i < len(segments):
        found = _lookup(fields, segments[i])
        if found is None:
            raise _unknown_field(src, ref, ".".join(segments[: i + 1]))
        spelled, spec = found
        column.append(spelled.lower())
        i += 1
        rest = segments[i:]
        path = ".".join(column)
        if isinstance(spec, dict):
            fields = spec
            if not rest:
                return Value(sql(path), STRUCT)
            continue
        if spec == TEXT:
            if rest:
                raise _unknown_field(src, ref, ".".join(segments[: i + 1]))
            return Value(sql(path), TEXT)
        if spec == JSON:
            if not rest:
                return Value(sql(path), TEXT)
            json_path = quote_text(_json_path(rest))
            return Value(
                sql(f"json_extract_scalar({path}, {json_path})"),
                TEXT,
                presence=sql(f"json_extract({path}, {json_path})"),
            )
        if spec == MAP:
            if not rest:
                return Value(sql(path), MAP)
            key = quote_text(".".join(rest))
            return Value(sql(f"element_at({path}, {key})"), TEXT)
        # The resources list: an entry by position (Logs Insights counts from 0), then a member.
        if not rest or not rest[0].isdigit():
            raise src.unsupported(
                ref.start,
                name,
                f"{'.'.join(segments[:i])} is a list: name an entry by its position and a field "
                "of it, e.g. resources.0.ARN",
            )
        entry = f"element_at({path}, {int(rest[0]) + 1})"
        if len(rest) != 2 or _lookup(RESOURCE_FIELDS, rest[1]) is None:
            raise src.unsupported(
                ref.start,
                name,
                f"{name}: an entry of resources has the fields ARN, accountId and type",
            )
        member = _lookup(RESOURCE_FIELDS, rest[1])
        assert member is not None
        return Value(sql(f"{entry}.{member[0].lower()}"), TEXT)
    raise _unknown_field(src, ref, name)


def _unknown_field(src: Source, ref: FieldRef, prefix: str) -> UnsupportedInsightsError:
    lowered = {p.lower(): p for p in _KNOWN_PATHS}
    close = difflib.get_close_matches(ref.name.lower(), lowered, n=1, cutoff=0.6)
    hint = f"; did you mean {lowered[close[0]]}?" if close else ""
    return src.unsupported(
        ref.start,
        ref.name,
        f"unknown field {ref.name!r}: {prefix} is not a field of a CloudTrail event{hint}",
    )


# Regular-expression constructs the engines do not share, and the flags they do. The group
# and quantifier rules look at the pattern with escapes and character classes blanked out.
_REGEX_GROUPS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\(\?<?[=!]"), "lookaround ((?=, (?!, (?<=, (?<!)"),
    (re.compile(r"\(\?>"), "an atomic group ((?>...))"),
    (re.compile(r"\(\?P"), "a Python-style group ((?P...)); use (?<name>...)"),
    (re.compile(r"\(\?[|(R&#+\d]"), "this group construct"),
    (re.compile(r"[*+?}]\+"), "a possessive quantifier (*+, ++, ?+)"),
]
_REGEX_ESCAPES = re.compile(r"\\(?:[1-9]|[kg]|[QEKGZCRXhHvVce0])")
_REGEX_FLAGS = re.compile(r"\(\?([a-zA-Z-]*)[:)]")


def check_regex(src: Source, node: Regex) -> None:
    """Refuses regex constructs that one of the engines lacks (see the module docstring)."""
    pattern = node.pattern
    escapes_kept, blanked = _regex_views(pattern)

    def refuse(construct: str, what: str) -> UnsupportedInsightsError:
        return src.unsupported(
            node.start,
            construct,
            f"{what} in /{pattern}/: not supported by both engines' regular expressions",
        )

    for rule, what in _REGEX_GROUPS:
        m = rule.search(blanked)
        if m:
            raise refuse(m.group(), what)
    m = _REGEX_ESCAPES.search(escapes_kept)
    if m:
        what = "a backreference" if m.group()[1] in "123456789kg" else f"the escape {m.group()}"
        raise refuse(m.group(), what)
    for m in _REGEX_FLAGS.finditer(blanked):
        bad = set(m.group(1)) - set("imsx-")
        if bad:
            raise refuse(
                m.group(),
                f"the flag(s) {''.join(sorted(bad))} (both engines understand i, m, s and x)",
            )


def _regex_views(pattern: str) -> tuple[str, str]:
    """The pattern with character classes blanked, once with escapes kept and once blanked too
    (so that ``[(?=]`` or ``\\++`` are not taken for lookaround or a possessive quantifier)."""
    kept: list[str] = []
    blanked: list[str] = []
    i = 0
    in_class = False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            escape = c + pattern[i + 1]
            kept.append("  " if in_class else escape)
            blanked.append("  ")
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            kept.append(" ")
            blanked.append(" ")
        elif c == "[":
            in_class = True
            kept.append(" ")
            blanked.append(" ")
            # A ] right after [ or [^ is a member, not the end.
            for lead in ("^", "]"):
                if pattern[i + 1 : i + 2] == lead:
                    kept.append(" ")
                    blanked.append(" ")
                    i += 1
        else:
            kept.append(c)
            blanked.append(c)
        i += 1
    return "".join(kept), "".join(blanked)


def _lit(value: Any) -> Frag:
    return sql(Bound(value))


_COMPARE = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_FLIP = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_AGGREGATES = {
    "count",
    "count_distinct",
    "sum",
    "avg",
    "min",
    "max",
    "stddev",
    "pct",
    "earliest",
    "latest",
    "sortsfirst",
    "sortslast",
}
_UNSUPPORTED_FUNCTIONS = {
    "dateceil",
    "isvalidip",
    "isvalidipv4",
    "isvalidipv6",
    "isipinsubnet",
    "isipv4insubnet",
    "isipv6insubnet",
    "jsonparse",
    "unnest",
}
_TRUNC_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}
_CALENDAR_UNITS = {"w": "week", "mo": "month", "q": "quarter", "y": "year"}


@dataclass
class Scope:
    """How names and texts resolve where an expression stands.

    ``names`` resolves a field name (or returns None to fall back to ``fallback``);
    ``texts`` maps the whitespace-free text of a call (``count(*)``) to a stats result;
    ``aggregates`` says whether aggregate functions may be used (in ``stats``).
    """

    names: Callable[[FieldRef], Value | None]
    fallback: Callable[[FieldRef], Value] | None
    texts: dict[str, Value] = field(default_factory=dict)
    aggregates: bool = False
    inner: Scope | None = None  # the scope inside an aggregate's arguments
    where: str = "here"


class Translator:
    """Expressions to SQL, with the kind of each value (text, number, time, condition)."""

    def __init__(self, src: Source) -> None:
        self.src = src

    # -- errors

    def unsupported(self, node: Node, construct: str, message: str) -> UnsupportedInsightsError:
        return self.src.unsupported(node.start, construct, message)

    def text_of(self, node: Node) -> str:
        return " ".join(self.src.text[node.start : node.end].split())

    # -- kinds

    def number(self, v: Value, node: Node) -> Frag:
        if v.kind == NUMBER:
            return v.frag
        if v.kind == TEXT:
            return sql("TRY_CAST(", v.frag, " AS DOUBLE)")
        if v.kind == BOOL:
            return sql("CAST(", v.frag, " AS INTEGER)")
        if v.kind == TIME:
            raise self.unsupported(
                node, self.text_of(node), "a time is not a number: use toMillis(...) for one"
            )
        raise self.not_a_value(v, node)

    def text(self, v: Value, node: Node) -> Frag:
        if v.kind == TEXT:
            return v.frag
        if v.kind in (NUMBER, BOOL):
            return sql("CAST(", v.frag, " AS VARCHAR)")
        if v.kind == TIME:
            return sql("to_iso8601(", v.frag, ")")
        raise self.not_a_value(v, node)

    def condition(self, v: Value, node: Node) -> Frag:
        if v.kind != BOOL:
            raise self.unsupported(
                node,
                self.text_of(node),
                f"{self.text_of(node)} is not a condition: compare it (=, like, in, ...) or "
                "test it with ispresent()",
            )
        return v.frag

    def scalar(self, v: Value, node: Node) -> Value:
        if v.kind in (STRUCT, ARRAY, MAP):
            raise self.not_a_value(v, node)
        return v

    def not_a_value(self, v: Value, node: Node) -> UnsupportedInsightsError:
        return self.unsupported(
            node,
            self.text_of(node),
            f"{self.text_of(node)} is {'an' if v.kind == 'object' else 'a'} {v.kind}, not a "
            "value: name one of its fields (e.g. userIdentity.arn), or test it with ispresent()",
        )

    # -- expressions

    def expr(self, node: Node, scope: Scope) -> Value:
        if isinstance(node, Literal):
            kind = BOOL if isinstance(node.value, bool) else TEXT
            if isinstance(node.value, int | float) and not isinstance(node.value, bool):
                kind = NUMBER
            return Value(_lit(node.value), kind)
        if isinstance(node, FieldRef):
            return self.name(node, scope)
        if isinstance(node, Call):
            return self.call(node, scope)
        if isinstance(node, Unary):
            if node.op == "not":
                inner = self.expr(node.operand, scope)
                return Value(
                    sql("(NOT ", self.condition(inner, node.operand), ")"),
                    BOOL,
                    aggregate=inner.aggregate,
                )
            inner = self.expr(node.operand, scope)
            return Value(
                sql("(-", self.number(inner, node.operand), ")"),
                NUMBER,
                aggregate=inner.aggregate,
            )
        if isinstance(node, Binary):
            return self.binary(node, scope)
        if isinstance(node, Match):
            return self.match(node, scope)
        if isinstance(node, InList):
            return self.in_list(node, scope)
        if isinstance(node, Duration):
            raise self.unsupported(
                node,
                self.text_of(node),
                f"a time period ({self.text_of(node)}) goes in bin() or datefloor()",
            )
        if isinstance(node, Star):
            raise self.unsupported(node, "*", "* only goes in count(*)")
        raise self.unsupported(node, self.text_of(node), "this expression is not understood")

    def name(self, node: FieldRef, scope: Scope) -> Value:
        found = scope.names(node)
        if found is not None:
            return found
        if scope.fallback is None:
            raise self.unsupported(
                node,
                node.name,
                f"{node.name!r} is not available {scope.where}",
            )
        return scope.fallback(node)

    def binary(self, node: Binary, scope: Scope) -> Value:
        if node.op in ("and", "or"):
            left = self.expr(node.left, scope)
            right = self.expr(node.right, scope)
            return Value(
                sql(
                    "(",
                    self.condition(left, node.left),
                    f" {node.op.upper()} ",
                    self.condition(right, node.right),
                    ")",
                ),
                BOOL,
                aggregate=left.aggregate or right.aggregate,
            )
        if node.op in _COMPARE:
            return self.compare(node.op, node.left, node.right, scope)
        left = self.expr(node.left, scope)
        right = self.expr(node.right, scope)
        a, b = self.number(left, node.left), self.number(right, node.right)
        if node.op == "/":
            # Logs Insights divides as decimals; SQL would divide integers as integers.
            frag = sql("(CAST(", a, " AS DOUBLE) / ", b, ")")
        elif node.op == "^":
            frag = sql("power(", a, ", ", b, ")")
        else:
            frag = sql("(", a, f" {node.op} ", b, ")")
        return Value(frag, NUMBER, aggregate=left.aggregate or right.aggregate)

    def compare(self, op: str, left: Node, right: Node, scope: Scope) -> Value:
        if isinstance(left, Literal) and not isinstance(right, Literal):
            left, right, op = right, left, _FLIP[op]
        value = self.scalar(self.expr(left, scope), left)
        sql_op = f" {_COMPARE[op]} "
        if isinstance(right, Literal):
            lhs, rhs = self.against_literal(value, left, right)
            return Value(sql("(", lhs, sql_op, rhs, ")"), BOOL, aggregate=value.aggregate)
        other = self.scalar(self.expr(right, scope), right)
        kinds = {value.kind, other.kind}
        if len(kinds) == 1:
            a, b = value.frag, other.frag
        elif kinds <= {TEXT, NUMBER, BOOL}:
            a, b = self.number(value, left), self.number(other, right)
        elif kinds == {TIME, TEXT}:
            a = (
                value.frag
                if value.kind == TIME
                else sql("from_iso8601_timestamp(", value.frag, ")")
            )
            b = (
                other.frag
                if other.kind == TIME
                else sql("from_iso8601_timestamp(", other.frag, ")")
            )
        else:
            raise self.unsupported(
                right,
                self.text_of(right),
                f"cannot compare {self.text_of(left)} ({value.kind}) with "
                f"{self.text_of(right)} ({other.kind})",
            )
        aggregate = value.aggregate or other.aggregate
        return Value(sql("(", a, sql_op, b, ")"), BOOL, aggregate=aggregate)

    def against_literal(self, value: Value, node: Node, literal: Literal) -> tuple[Frag, Frag]:
        """The two sides of ``value <op> literal``, the literal bound in the value's terms."""
        v = literal.value
        if value.kind == TEXT:
            if isinstance(v, bool):
                return value.frag, _lit("true" if v else "false")
            if isinstance(v, int | float):
                # CloudTrail values are text: compared with a number, read them as numbers.
                return sql("TRY_CAST(", value.frag, " AS DOUBLE)"), _lit(v)
            return value.frag, _lit(v)
        if value.kind == NUMBER:
            if isinstance(v, bool):
                return value.frag, _lit(int(v))
            if isinstance(v, str):
                try:
                    number: int | float = int(v) if re.fullmatch(r"-?\d+", v) else float(v)
                except ValueError:
                    raise self.unsupported(
                        literal,
                        literal_text(literal),
                        f"{self.text_of(node)} is a number; {literal_text(literal)} is not",
                    ) from None
                return value.frag, _lit(number)
            return value.frag, _lit(v)
        if value.kind == TIME:
            if isinstance(v, str):
                return value.frag, sql("from_iso8601_timestamp(", Bound(v), ")")
            if isinstance(v, int | float) and not isinstance(v, bool):
                # Logs Insights compares times with epoch milliseconds.
                return sql("(to_unixtime(", value.frag, ") * 1000)"), _lit(v)
        if value.kind == BOOL:
            if isinstance(v, bool):
                return value.frag, _lit(v)
            if v in (0, 1):
                return value.frag, _lit(bool(v))
        raise self.unsupported(
            literal,
            literal_text(literal),
            f"cannot compare {self.text_of(node)} ({value.kind}) with {literal_text(literal)}",
        )

    def match(self, node: Match, scope: Scope) -> Value:
        value = self.scalar(self.expr(node.operand, scope), node.operand)
        text = self.text(value, node.operand)
        if isinstance(node.pattern, Regex):
            check_regex(self.src, node.pattern)
            frag = sql("regexp_like(", text, ", ", Bound(node.pattern.pattern), ")")
        else:
            # like "text": a case-sensitive substring (no wildcards).
            frag = sql("(strpos(", text, ", ", Bound(str(node.pattern.value)), ") > 0)")
        if node.negated:
            frag = sql("(NOT ", frag, ")")
        return Value(frag, BOOL, aggregate=value.aggregate)

    def in_list(self, node: InList, scope: Scope) -> Value:
        value = self.scalar(self.expr(node.operand, scope), node.operand)
        values = [v.value for v in node.values]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if value.kind == NUMBER or (value.kind == TEXT and numeric):
            lhs = self.number(value, node.operand)
            bound = []
            for lit in node.values:
                _, rhs = self.against_literal(Value(lhs, NUMBER), node.operand, lit)
                bound.append(rhs)
        elif value.kind == TEXT:
            # A mixed list compares as text: ["foo", 1] matches "foo" and "1".
            lhs = value.frag
            bound = [_lit(literal_text(lit, quoted=False)) for lit in node.values]
        else:
            lhs = value.frag
            bound = [self.against_literal(value, node.operand, lit)[1] for lit in node.values]
        keyword = " NOT IN (" if node.negated else " IN ("
        return Value(
            sql("(", lhs, keyword, join(", ", bound), "))"), BOOL, aggregate=value.aggregate
        )

    # -- functions

    def call(self, node: Call, scope: Scope) -> Value:
        name = node.name.lower()
        key = re.sub(r"\s+", "", self.text_of(node))
        if key in scope.texts:
            return scope.texts[key]
        if name in _AGGREGATES:
            if not scope.aggregates:
                raise self.unsupported(
                    node,
                    node.name,
                    f"{node.name}() is a stats function: use it in a stats command"
                    + (
                        ", or name a result of the stats command"
                        if scope.where == "after stats"
                        else ""
                    ),
                )
            return self.aggregate(node, name, scope)
        args = node.args

        def arity(*allowed: int) -> None:
            if len(args) not in allowed:
                wanted = " or ".join(str(a) for a in allowed)
                raise self.src.syntax(
                    node.start, f"{node.name}() takes {wanted} argument(s), not {len(args)}"
                )

        def one(i: int = 0) -> Value:
            return self.scalar(self.expr(args[i], scope), args[i])

        def agg(*values: Value) -> bool:
            return any(v.aggregate for v in values)

        if name == "ispresent":
            arity(1)
            v = self.expr(args[0], scope)
            presence = v.presence if v.presence is not None else v.frag
            return Value(sql("(", presence, " IS NOT NULL)"), BOOL, aggregate=v.aggregate)
        if name in ("isempty", "isblank"):
            arity(1)
            v = one()
            t = self.text(v, args[0])
            inner = sql("trim(", t, ")") if name == "isblank" else t
            return Value(sql("(", t, " IS NULL OR ", inner, " = '')"), BOOL, aggregate=agg(v))
        if name == "coalesce":
            if not args:
                arity(1, 2)
            values = [one(i) for i in range(len(args))]
            kinds = {v.kind for v in values}
            if len(kinds) == 1:
                frags, kind = [v.frag for v in values], values[0].kind
            else:
                frags, kind = [self.text(v, a) for v, a in zip(values, args, strict=True)], TEXT
            return Value(sql("coalesce(", join(", ", frags), ")"), kind, aggregate=agg(*values))
        if name == "concat":
            if not args:
                arity(1, 2)
            values = [one(i) for i in range(len(args))]
            texts = [self.text(v, a) for v, a in zip(values, args, strict=True)]
            frag = texts[0] if len(texts) == 1 else sql("concat(", join(", ", texts), ")")
            return Value(frag, TEXT, aggregate=agg(*values))
        if name in ("tolower", "toupper"):
            arity(1)
            v = one()
            fn = "lower" if name == "tolower" else "upper"
            return Value(sql(f"{fn}(", self.text(v, args[0]), ")"), TEXT, aggregate=agg(v))
        if name == "strlen":
            arity(1)
            v = one()
            return Value(sql("length(", self.text(v, args[0]), ")"), NUMBER, aggregate=agg(v))
        if name == "strcontains":
            arity(2)
            a, b = one(0), one(1)
            frag = sql("(strpos(", self.text(a, args[0]), ", ", self.text(b, args[1]), ") > 0)")
            return Value(frag, BOOL, aggregate=agg(a, b))
        if name == "substr":
            arity(2, 3)
            s, begin = one(0), one(1)
            # Logs Insights counts from 0, SQL from 1.
            start_arg = args[1]
            if isinstance(start_arg, Literal) and isinstance(start_arg.value, int):
                first = _lit(start_arg.value + 1)
            else:
                first = sql("(", self.number(begin, start_arg), " + 1)")
            parts = [self.text(s, args[0]), first]
            values = [s, begin]
            if len(args) == 3:
                length = one(2)
                parts.append(self.number(length, args[2]))
                values.append(length)
            return Value(sql("substr(", join(", ", parts), ")"), TEXT, aggregate=agg(*values))
        if name == "replace":
            arity(3)
            values = [one(i) for i in range(3)]
            texts = [self.text(v, a) for v, a in zip(values, args, strict=True)]
            return Value(sql("replace(", join(", ", texts), ")"), TEXT, aggregate=agg(*values))
        if name in ("trim", "ltrim", "rtrim"):
            if len(args) == 2:
                raise self.unsupported(
                    node,
                    f"{node.name}(text, characters)",
                    f"{node.name}() with characters to remove is not supported; "
                    f"{node.name}(text) removes white space",
                )
            arity(1)
            v = one()
            return Value(sql(f"{name}(", self.text(v, args[0]), ")"), TEXT, aggregate=agg(v))
        if name in ("abs", "ceil", "floor", "sqrt", "log"):
            arity(1)
            v = one()
            fn = "ln" if name == "log" else name
            return Value(sql(f"{fn}(", self.number(v, args[0]), ")"), NUMBER, aggregate=agg(v))
        if name in ("greatest", "least"):
            if not args:
                arity(1, 2)
            values = [one(i) for i in range(len(args))]
            nums = [self.number(v, a) for v, a in zip(values, args, strict=True)]
            return Value(sql(f"{name}(", join(", ", nums), ")"), NUMBER, aggregate=agg(*values))
        if name == "bin":
            arity(1)
            period = self.period(args[0])
            stamp = self.name(FieldRef(node.start, node.start, "@timestamp"), scope)
            return Value(self.bucket(stamp.frag, period, node), TIME)
        if name == "datefloor":
            arity(2)
            v = one(0)
            if v.kind != TIME:
                raise self.unsupported(
                    args[0], self.text_of(args[0]), "datefloor() takes a time, e.g. @timestamp"
                )
            return Value(self.bucket(v.frag, self.period(args[1]), node), TIME, aggregate=agg(v))
        if name == "tomillis":
            arity(1)
            v = one()
            if v.kind != TIME:
                raise self.unsupported(
                    args[0], self.text_of(args[0]), "toMillis() takes a time, e.g. @timestamp"
                )
            frag = sql("CAST(to_unixtime(", v.frag, ") * 1000 AS BIGINT)")
            return Value(frag, NUMBER, aggregate=agg(v))
        if name == "frommillis":
            arity(1)
            v = one()
            frag = sql("from_unixtime(CAST(", self.number(v, args[0]), " AS DOUBLE) / 1000)")
            return Value(frag, TIME, aggregate=agg(v))
        if name in _UNSUPPORTED_FUNCTIONS:
            raise self.unsupported(node, node.name, f"the function {node.name}() is not supported")
        raise self.unsupported(
            node, node.name, f"unknown function {node.name}(): it is not a Logs Insights function"
        )

    def period(self, node: Node) -> Duration:
        if not isinstance(node, Duration):
            raise self.unsupported(
                node,
                self.text_of(node),
                f"expected a time period such as 5m or 1h, not {self.text_of(node)}",
            )
        if node.amount < 1:
            raise self.src.syntax(node.start, "a time period must be at least 1")
        return node

    def bucket(self, stamp: Frag, period: Duration, node: Node) -> Frag:
        n, unit = period.amount, period.unit
        if unit in _CALENDAR_UNITS:
            if n != 1:
                raise self.unsupported(
                    node,
                    self.text_of(node),
                    f"{n}{unit}: weeks, months, quarters and years bin by one unit (1{unit})",
                )
            return sql(f"date_trunc('{_CALENDAR_UNITS[unit]}', ", stamp, ")")
        if n == 1 and unit in _TRUNC_UNITS:
            return sql(f"date_trunc('{_TRUNC_UNITS[unit]}', ", stamp, ")")
        if unit == "ms":
            return sql("from_unixtime(floor(to_unixtime(", stamp, f") * 1000 / {n}) * {n} / 1000)")
        seconds = n * int(_UNITS[unit])
        return sql("from_unixtime(floor(to_unixtime(", stamp, f") / {seconds}) * {seconds})")

    def aggregate(self, node: Call, name: str, scope: Scope) -> Value:
        inner = scope.inner
        assert inner is not None
        args = node.args

        def arity(*allowed: int) -> None:
            if len(args) not in allowed:
                wanted = " or ".join(str(a) for a in allowed)
                raise self.src.syntax(
                    node.start, f"{node.name}() takes {wanted} argument(s), not {len(args)}"
                )

        def arg(i: int = 0) -> Value:
            if isinstance(args[i], Star):
                raise self.unsupported(args[i], "*", "* only goes in count(*)")
            v = self.expr(args[i], inner)
            if v.aggregate:
                raise self.unsupported(
                    args[i], self.text_of(args[i]), "an aggregate inside an aggregate"
                )
            return v

        if name == "count":
            arity(0, 1)
            if not args or isinstance(args[0], Star):
                return Value(sql("count(*)"), NUMBER, aggregate=True)
            v = arg()
            counted = v.presence if v.presence is not None else v.frag
            return Value(sql("count(", counted, ")"), NUMBER, aggregate=True)
        if name == "count_distinct":
            arity(1)
            v = self.scalar(arg(), args[0])
            return Value(sql("count(DISTINCT ", v.frag, ")"), NUMBER, aggregate=True)
        if name in ("sum", "avg", "stddev"):
            arity(1)
            v = self.scalar(arg(), args[0])
            return Value(sql(f"{name}(", self.number(v, args[0]), ")"), NUMBER, aggregate=True)
        if name in ("min", "max", "sortsfirst", "sortslast"):
            arity(1)
            v = self.scalar(arg(), args[0])
            fn = "min" if name in ("min", "sortsfirst") else "max"
            return Value(sql(f"{fn}(", v.frag, ")"), v.kind, aggregate=True)
        if name == "pct":
            arity(2)
            v = self.scalar(arg(), args[0])
            p = args[1]
            if (
                not isinstance(p, Literal)
                or isinstance(p.value, bool | str)
                or not 0 <= p.value <= 100
            ):
                raise self.unsupported(
                    p, self.text_of(p), "pct() takes a percentile from 0 to 100, e.g. pct(x, 95)"
                )
            frag = sql(
                "approx_percentile(", self.number(v, args[0]), ", ", Bound(p.value / 100), ")"
            )
            return Value(frag, NUMBER, aggregate=True)
        # earliest / latest: the value from the event with the earliest / latest time.
        arity(1)
        v = self.scalar(arg(), args[0])
        fn = "min_by" if name == "earliest" else "max_by"
        return Value(
            sql(f"{fn}(", v.frag, ", from_iso8601_timestamp(eventtime))"), v.kind, aggregate=True
        )


def literal_text(literal: Literal, quoted: bool = True) -> str:
    v = literal.value
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return repr(v) if quoted else v
    return str(v)


# ---------------------------------------------------------------------------------------------
# Commands to a SELECT statement.


@dataclass
class Output:
    """A column of the result: its Logs Insights name, its SQL alias and expression."""

    name: str
    alias: str
    value: Value
    #: Other texts that name it (``count(*)`` for ``count(*) as n``).
    also: tuple[str, ...] = ()
    #: For a ``by`` field written as a plain field name: that field.
    group_field: str | None = None


class Aliases:
    """Lower-case SQL aliases, unique (Athena lower-cases result names; the Logs Insights
    names are put back on the result)."""

    def __init__(self) -> None:
        self.used: set[str] = {"__row"}

    def make(self, name: str) -> str:
        base = name.lower()
        alias, n = base, 2
        while alias in self.used:
            alias, n = f"{base}_{n}", n + 1
        self.used.add(alias)
        return alias


def _whitespace_free(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _conjuncts(node: Node) -> list[Node]:
    if isinstance(node, Binary) and node.op == "and":
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _walk(node: Node) -> Iterable[Node]:
    yield node
    if isinstance(node, Call):
        for a in node.args:
            yield from _walk(a)
    elif isinstance(node, Unary):
        yield from _walk(node.operand)
    elif isinstance(node, Binary):
        yield from _walk(node.left)
        yield from _walk(node.right)
    elif isinstance(node, Match | InList):
        yield from _walk(node.operand)


class Query:
    """Walks the commands in order and assembles the statement."""

    def __init__(self, src: Source, table: str) -> None:
        self.src = src
        self.tr = Translator(src)
        self.table = table
        self.aliases = Aliases()
        #: Ephemeral fields made by ``fields ... as name``.
        self.env: dict[str, Value] = {}
        #: Event conditions (WHERE), result conditions (HAVING).
        self.where: list[Frag] = []
        self.having: list[Frag] = []
        #: Columns from fields (accumulated) and the last display.
        self.fields: dict[str, Value] = {}
        self.display: list[tuple[str, Value]] | None = None
        #: Columns of fields/display after stats: name, SQL alias, value over the results.
        self.result_columns: list[tuple[str, str, Value]] | None = None
        self.stats: list[Output] | None = None
        self.group_count = 0
        self.sort: list[tuple[Frag, bool]] | None = None
        self.dedup: list[Frag] | None = None
        self.limit: int | None = None
        self.limit_any = False

    # -- scopes

    def event_names(self, ref: FieldRef) -> Value | None:
        return self.env.get(ref.name)

    def resolve_event(self, ref: FieldRef) -> Value:
        return resolve_cloudtrail(self.src, ref)

    def event_scope(self) -> Scope:
        return Scope(self.event_names, self.resolve_event, where="in the events")

    def outputs_by_name(self) -> dict[str, Output]:
        out: dict[str, Output] = {}
        for o in self.stats or []:
            out.setdefault(o.name, o)
        return out

    def result_scope(self, inline: bool, names: dict[str, Value] | None = None) -> Scope:
        """Names of the stats results: their expressions (``inline``, for HAVING) or their
        column names (in a query over the results)."""
        by_name = self.outputs_by_name()
        texts: dict[str, Value] = {}
        for o in self.stats or []:
            v = o.value if inline else Value(sql(quote_identifier(o.alias)), o.value.kind)
            for t in (o.name, *o.also):
                texts.setdefault(_whitespace_free(t), v)

        def lookup(ref: FieldRef) -> Value | None:
            if names and ref.name in names:
                return names[ref.name]
            o = by_name.get(ref.name)
            if o is None:
                return None
            return o.value if inline else Value(sql(quote_identifier(o.alias)), o.value.kind)

        results = ", ".join(o.name for o in self.stats or [])
        return Scope(lookup, None, texts=texts, where=f"after stats (the results are: {results})")

    # -- commands

    def run(self, commands: list[Command]) -> None:
        after_limit = after_dedup = False
        for position, c in enumerate(commands):
            if after_dedup and c.name != "limit":
                raise self.src.unsupported(
                    c.start, c.name, f"{c.name} after dedup: only limit can follow dedup"
                )
            if after_limit and c.name in ("filter", "stats", "sort", "dedup"):
                raise self.src.unsupported(
                    c.start,
                    c.name,
                    f"{c.name} after limit is not supported: put limit last",
                )
            if (
                self.stats is None
                and c.name in ("sort", "limit", "dedup", "display")
                and any(later.name == "stats" for later in commands[position + 1 :])
            ):
                raise self.src.unsupported(
                    c.start,
                    c.name,
                    f"{c.name} before stats is not supported: stats works on all the events "
                    "that pass the filters; put it after stats",
                )
            getattr(self, "cmd_" + c.name)(c)
            after_limit = after_limit or c.name == "limit"
            after_dedup = after_dedup or c.name == "dedup"

    def cmd_fields(self, c: Command) -> None:
        if self.stats is not None:
            self.project_results(c, replace=False)
            return
        for item in c.items:
            for name, value in self.event_items(item):
                self.fields[name] = value

    def cmd_display(self, c: Command) -> None:
        if self.stats is not None:
            self.project_results(c, replace=True)
            return
        columns: list[tuple[str, Value]] = []
        for item in c.items:
            columns += self.event_items(item)
        self.display = columns

    def event_items(self, item: Item) -> list[tuple[str, Value]]:
        if isinstance(item.expr, FieldRef) and item.expr.name.lower() == "@message":
            if item.alias is not None:
                raise self.src.unsupported(
                    item.expr.start, "@message", "@message stands for all fields: no alias"
                )
            return [
                (n, resolve_cloudtrail(self.src, FieldRef(item.expr.start, item.expr.end, n)))
                for n in MESSAGE_FIELDS
            ]
        value = self.tr.scalar(self.tr.expr(item.expr, self.event_scope()), item.expr)
        if value.aggregate:
            raise self.src.unsupported(item.expr.start, item.text, "an aggregate outside stats")
        if item.alias is not None:
            # An ephemeral field: later commands can use it by name.
            self.env[item.alias] = value
        name = item.alias or (item.expr.name if isinstance(item.expr, FieldRef) else item.text)
        return [(name, value)]

    def cmd_filter(self, c: Command) -> None:
        assert c.condition is not None
        if self.stats is None:
            self.where.append(
                self.tr.condition(self.tr.expr(c.condition, self.event_scope()), c.condition)
            )
            return
        # After stats: conditions on the events still filter the events; conditions on the
        # results filter the results.
        outputs = self.outputs_by_name()
        texts = {
            _whitespace_free(t)
            for o in self.stats
            for t in (o.name, *o.also)
            if o.group_field is None
        }
        for part in _conjuncts(c.condition):
            on_results = any(
                (
                    isinstance(n, FieldRef)
                    and n.name in outputs
                    and outputs[n.name].group_field is None
                )
                or (isinstance(n, Call) and _whitespace_free(self.tr.text_of(n)) in texts)
                for n in _walk(part)
            )
            if on_results:
                scope = self.result_scope(inline=True)
                self.having.append(self.tr.condition(self.tr.expr(part, scope), part))
            else:
                self.where.append(self.tr.condition(self.tr.expr(part, self.event_scope()), part))

    def cmd_stats(self, c: Command) -> None:
        if self.stats is not None:
            raise self.src.unsupported(
                c.start,
                "stats",
                "a second stats command (over the first's results) is not supported",
            )
        outputs: list[Output] = []
        for item in c.by:
            value = self.tr.scalar(self.tr.expr(item.expr, self.event_scope()), item.expr)
            if value.aggregate:
                raise self.src.unsupported(item.expr.start, item.text, "an aggregate in by")
            plain = item.expr.name if isinstance(item.expr, FieldRef) else None
            name = item.alias or plain or item.text
            group_field = plain if item.alias is None else None
            outputs.append(Output(name, self.aliases.make(name), value, (item.text,), group_field))
        self.group_count = len(outputs)
        earlier: dict[str, Value] = {}
        inner = self.event_scope()

        def stats_names(ref: FieldRef) -> Value | None:
            return earlier.get(ref.name)

        def bare_field(ref: FieldRef) -> Value:
            raise self.src.unsupported(
                ref.start,
                ref.name,
                f"{ref.name} in stats must be inside an aggregate function (count, sum, avg, "
                "...) or go after by",
            )

        for item in c.items:
            scope = Scope(stats_names, bare_field, aggregates=True, inner=inner, where="in stats")
            value = self.tr.scalar(self.tr.expr(item.expr, scope), item.expr)
            if not value.aggregate:
                raise self.src.unsupported(
                    item.expr.start,
                    item.text,
                    f"{item.text} is not an aggregate: stats computes count, sum, avg, min, max, "
                    "pct, ... (fields to group by go after by)",
                )
            name = item.alias or item.text
            if item.alias is not None:
                earlier[item.alias] = value
            outputs.append(Output(name, self.aliases.make(name), value, (item.text,)))
        self.stats = outputs

    def project_results(self, c: Command, replace: bool) -> None:
        # fields/display after stats: columns over the stats results.
        fresh = replace or self.result_columns is None
        columns: list[tuple[str, str, Value]] = [] if fresh else list(self.result_columns or [])
        scope = self.result_scope(inline=False)
        outputs = self.outputs_by_name()
        for item in c.items:
            value = self.tr.scalar(self.tr.expr(item.expr, scope), item.expr)
            name = item.alias or (item.expr.name if isinstance(item.expr, FieldRef) else item.text)
            same = outputs.get(name)
            if isinstance(item.expr, FieldRef) and same is not None and item.alias is None:
                alias = same.alias  # a result shown as it is keeps its column name
            else:
                alias = self.aliases.make(name)
            columns.append((name, alias, value))
        self.result_columns = columns

    def cmd_sort(self, c: Command) -> None:
        if self.sort is not None:
            raise self.src.unsupported(
                c.start, "sort", "a second sort: give all the keys in one sort command"
            )
        keys: list[tuple[Frag, bool]] = []
        for key in c.keys:
            if not isinstance(key.expr, FieldRef | Call):
                raise self.src.unsupported(
                    key.expr.start, key.text, "sort takes field names (and stats results)"
                )
            if self.stats is None:
                value = self.tr.expr(key.expr, self.event_scope())
            else:
                # Sorting by a column of fields/display sorts by what it shows.
                names = {n: v for n, _, v in self.result_columns or []}
                value = self.tr.expr(key.expr, self.result_scope(inline=False, names=names))
            keys.append((self.tr.scalar(value, key.expr).frag, key.descending))
        self.sort = keys

    def cmd_dedup(self, c: Command) -> None:
        keys: list[Frag] = []
        for ref in c.names:
            if self.stats is None:
                value = self.tr.expr(ref, self.event_scope())
            else:
                value = self.tr.expr(ref, self.result_scope(inline=False))
            keys.append(self.tr.scalar(value, ref).frag)
        self.dedup = keys

    def cmd_limit(self, c: Command) -> None:
        self.limit = c.count if self.limit is None else min(self.limit, c.count)
        self.limit_any = self.limit_any or c.any

    # -- the statement

    def columns(self) -> list[tuple[str, Value]]:
        if self.display is not None:
            return self.display
        if self.fields:
            return list(self.fields.items())
        stamp = resolve_cloudtrail(self.src, FieldRef(0, 0, "@timestamp"))
        return [("@timestamp", stamp)] + [
            (n, resolve_cloudtrail(self.src, FieldRef(0, 0, n))) for n in MESSAGE_FIELDS
        ]

    def statement(self) -> tuple[Frag, tuple[str, ...]]:
        limit = DEFAULT_LIMIT if self.limit is None else self.limit
        where = sql(" WHERE ", join(" AND ", self.where)) if self.where else sql()
        source = sql(f" FROM {self.table}", where)
        if self.stats is None:
            return self.event_statement(source, limit)
        return self.stats_statement(source, limit)

    def order_by(self, keys: Sequence[tuple[Frag, bool]]) -> Frag:
        if not keys:
            return sql()
        parts = [sql(f, " DESC NULLS LAST" if d else " ASC NULLS LAST") for f, d in keys]
        return sql(" ORDER BY ", join(", ", parts))

    def event_statement(self, source: Frag, limit: int) -> tuple[Frag, tuple[str, ...]]:
        columns = self.columns()
        named = [(n, self.aliases.make(n), v) for n, v in columns]
        select = join(", ", [sql(v.frag, " AS ", quote_identifier(a)) for _, a, v in named])
        names = tuple(n for n, _, _ in named)
        keys = self.sort
        if keys is None:
            # Logs Insights' default order: the newest events first (not for "limit any").
            stamp = resolve_cloudtrail(self.src, FieldRef(0, 0, "@timestamp")).frag
            keys = [] if self.limit_any else [(stamp, True)]
        if self.dedup is None:
            statement = sql("SELECT ", select, source, self.order_by(keys), f" LIMIT {limit}")
            return statement, names
        hidden_sort = [(f"__sort{i}", f, d) for i, (f, d) in enumerate(keys)]
        hidden_dedup = [(f"__dedup{i}", f) for i, f in enumerate(self.dedup)]
        inner = sql(
            "SELECT ",
            join(
                ", ",
                [select]
                + [sql(f, " AS ", quote_identifier(a)) for a, f, _ in hidden_sort]
                + [sql(f, " AS ", quote_identifier(a)) for a, f in hidden_dedup],
            ),
            source,
        )
        visible = [a for _, a, _ in named]
        all_columns = visible + [a for a, _, _ in hidden_sort] + [a for a, _ in hidden_dedup]
        sort_refs = [(sql(quote_identifier(a)), d) for a, _, d in hidden_sort]
        dedup_refs = [sql(quote_identifier(a)) for a, _ in hidden_dedup]
        ranked = self.deduplicated(inner, all_columns, dedup_refs, sort_refs)
        statement = sql(
            "SELECT ",
            ", ".join(quote_identifier(a) for a in visible),
            " FROM (",
            ranked,
            ") AS deduplicated",
            self.order_by(sort_refs),
            f" LIMIT {limit}",
        )
        return statement, names

    def deduplicated(
        self,
        inner: Frag,
        columns: Sequence[str],
        keys: Sequence[Frag],
        order: Sequence[tuple[Frag, bool]],
    ) -> Frag:
        """The rows of ``inner`` minus duplicates of ``keys``: the first in ``order`` stays,
        and rows where a key is missing all stay (Logs Insights' dedup)."""
        listed = ", ".join(quote_identifier(c) for c in columns)
        window = sql(
            "row_number() OVER (PARTITION BY ",
            join(", ", keys),
            self.order_by(order),
            ")",
        )
        kept = join(" OR ", [sql('"__row" = 1')] + [sql(k, " IS NULL") for k in keys])
        return sql(
            f"SELECT {listed} FROM (SELECT {listed}, ",
            window,
            ' AS "__row" FROM (',
            inner,
            ") AS candidates) AS ranked WHERE ",
            kept,
        )

    def stats_statement(self, source: Frag, limit: int) -> tuple[Frag, tuple[str, ...]]:
        assert self.stats is not None
        select = join(
            ", ", [sql(o.value.frag, " AS ", quote_identifier(o.alias)) for o in self.stats]
        )
        group = ""
        if self.group_count:
            group = " GROUP BY " + ", ".join(str(i + 1) for i in range(self.group_count))
        having = sql(" HAVING ", join(" AND ", self.having)) if self.having else sql()
        inner = sql("SELECT ", select, source, group, having)
        keys = self.sort or []
        if self.result_columns is None and self.dedup is None:
            names = tuple(o.name for o in self.stats)
            return sql(inner, self.order_by(keys), f" LIMIT {limit}"), names
        relation = inner
        if self.dedup is not None:
            relation = self.deduplicated(inner, [o.alias for o in self.stats], self.dedup, keys)
        if self.result_columns is None:
            columns = [
                (o.name, o.alias, Value(sql(quote_identifier(o.alias)), o.value.kind))
                for o in self.stats
            ]
        else:
            columns = self.result_columns
        select_outer = join(", ", [sql(v.frag, " AS ", quote_identifier(a)) for _, a, v in columns])
        statement = sql(
            "SELECT ",
            select_outer,
            " FROM (",
            relation,
            ") AS results",
            self.order_by(keys),
            f" LIMIT {limit}",
        )
        return statement, tuple(n for n, _, _ in columns)


# ---------------------------------------------------------------------------------------------
# Public functions.


def utc_instant(value: datetime | date | str, what: str) -> datetime:
    """A time bound as an aware UTC datetime (naive values and dates are UTC); ``what`` names
    the argument in the error for anything else."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise InvalidArgumentError(
                f"{what}={value!r} is not an ISO-8601 time: use e.g. 2024-07-30T12:00:00Z or "
                "2024-07-30"
            ) from None
    else:
        raise InvalidArgumentError(
            f"{what} must be a datetime, a date or ISO-8601 text, not {type(value).__name__}"
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _iso(moment: datetime) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def _time_range(start: TimeBound, end: TimeBound) -> list[Frag]:
    conditions: list[Frag] = []
    low = utc_instant(start, "start") if start is not None else None
    high = utc_instant(end, "end") if end is not None else None
    if low is not None and high is not None and low > high:
        raise InvalidArgumentError(f"start ({_iso(low)}) is after end ({_iso(high)})")
    if low is not None:
        conditions.append(
            sql(
                "from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp(",
                Bound(_iso(low)),
                ")",
            )
        )
        conditions.append(sql('"day" >= ', Bound(low.strftime("%Y/%m/%d"))))
    if high is not None:
        conditions.append(
            sql(
                "from_iso8601_timestamp(eventtime) <= from_iso8601_timestamp(",
                Bound(_iso(high)),
                ")",
            )
        )
        # CloudTrail delivers late events of a day into the next day's folder.
        conditions.append(sql('"day" <= ', Bound((high + timedelta(days=1)).strftime("%Y/%m/%d"))))
    return conditions


_TABLE_NAME = re.compile(r'^(?:(?:"[^"]+"|\w+)\.){0,2}(?:"[^"]+"|\w+)$')


def translate(
    query: str,
    *,
    table: str = "cloudtrail_logs",
    start: TimeBound = None,
    end: TimeBound = None,
) -> Translation:
    """Translates a Logs Insights query into SQL over ``table`` (see the module docstring)."""
    if not isinstance(query, str):
        raise InvalidArgumentError(f"the query must be text, not {type(query).__name__}")
    if not _TABLE_NAME.match(table):
        raise InvalidArgumentError(f"{table!r} is not a table name")
    src = Source(query)
    commands = Parser(src).query()
    q = Query(src, table)
    q.where.extend(_time_range(start, end))
    q.run(commands)
    statement, columns = q.statement()
    return Translation(statement.text(), tuple(statement.params()), columns)


def to_sql(
    query: str,
    *,
    table: str = "cloudtrail_logs",
    start: TimeBound = None,
    end: TimeBound = None,
) -> tuple[str, list[Any]]:
    """A Logs Insights query as Athena-dialect SQL and the values of its ``?`` placeholders.

    ``start``/``end`` (a ``datetime`` or ISO-8601 text, inclusive) bound ``eventtime`` and the
    ``day`` partition. The result columns of the SQL are lower-case; :func:`run_insights` (and
    ``Session.insights``) give them Logs Insights' names.
    """
    t = translate(query, table=table, start=start, end=end)
    return t.sql, list(t.params)


def with_names(table: pa.Table, translation: Translation) -> pa.Table:
    """A result with the columns named as Logs Insights names them."""
    if table.num_columns != len(translation.columns):
        return table
    return table.rename_columns(list(translation.columns))


class _Queryable(Protocol):
    @property
    def database(self) -> str: ...

    @property
    def table(self) -> str: ...

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pa.Table: ...


def qualified_table(database: str, table: str) -> str:
    return f"{quote_identifier(database)}.{quote_identifier(table)}"


def run_insights(
    session: _Queryable, query: str, start: TimeBound = None, end: TimeBound = None
) -> pa.Table:
    """Runs a Logs Insights query on a session's table (used by ``Session.insights``)."""
    t = translate(
        query, table=qualified_table(session.database, session.table), start=start, end=end
    )
    return with_names(session.sql(t.sql, list(t.params)), t)
