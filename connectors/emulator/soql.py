"""A SOQL parser and evaluator for the subset of SOQL that data connectors send.

Supported::

    SELECT field, field, ... | COUNT() | COUNT(field) [alias]
    FROM sObject
    [WHERE condition]            -- AND / OR / NOT, parentheses; =, !=, <>, <, <=, >, >=;
                                 -- IN (...), NOT IN (...), LIKE; = null / != null
    [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...]
    [LIMIT n] [OFFSET n]

Literals: 'strings' (with SOQL escapes ``\\'``, ``\\\\``, ``\\n`` ...), numbers, TRUE / FALSE,
NULL, dates (``2024-01-02``), datetimes (``2024-01-02T03:04:05Z``, ``...05.000+0000``,
``...05+01:00``) and the relative date literals TODAY, YESTERDAY, TOMORROW, LAST_N_DAYS:n,
NEXT_N_DAYS:n and N_DAYS_AGO:n (relative to the org clock).

Like Salesforce: keywords, object and field names are case-insensitive; string comparisons and
ORDER BY on text are case-insensitive; ``!=`` and ``NOT IN`` match null values; nulls sort first
unless ``NULLS LAST``; AND and OR cannot be mixed at one level without parentheses.

:func:`parse` turns text into a :class:`Query` (raising :class:`SoqlError` with
``MALFORMED_QUERY``); :func:`compile_query` resolves it against a :class:`TableDef` (raising
``INVALID_FIELD`` / ``INVALID_TYPE``) into a :class:`CompiledQuery` that filters and sorts
records.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from connectors.emulator.store import FieldDef, TableDef

Record = dict[str, Any]
Predicate = Callable[[Record], bool]


class SoqlError(Exception):
    """A query Salesforce would refuse: ``code`` is the errorCode, ``message`` its text."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ----------------------------------------------------------------------------- tokens

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})(?![\w:])
  | (?P<number>[+-]?\d+(?:\.\d+)?)(?![\w.])
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?::\d+)?)
    """,
    re.VERBOSE,
)

KEYWORDS = frozenset(
    {
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "IN",
        "LIKE",
        "ORDER",
        "BY",
        "ASC",
        "DESC",
        "NULLS",
        "FIRST",
        "LAST",
        "LIMIT",
        "OFFSET",
        "NULL",
        "TRUE",
        "FALSE",
        "GROUP",
        "HAVING",
    }
)

_ESCAPES = {"'": "'", '"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


@dataclass(frozen=True)
class Token:
    """One lexical token and where it starts in the query text."""

    kind: str
    text: str
    pos: int

    @property
    def upper(self) -> str:
        """The token text in upper case (keywords compare this way)."""
        return self.text.upper()


def _position(text: str, pos: int) -> tuple[int, int]:
    row = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return row, column


def located(text: str, pos: int, message: str) -> str:
    """A message in Salesforce's style: the query, a caret, the row and column, the message."""
    row, column = _position(text, pos)
    line = text.splitlines()[row - 1] if text else ""
    caret = " " * (column - 1) + "^"
    return f"\n{line}\n{caret}\nERROR at Row:{row}:Column:{column}\n{message}"


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens (whitespace dropped); MALFORMED_QUERY on anything else."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None or match.lastgroup is None:
            bad = text[pos:].split(None, 1)[0] if text[pos:].strip() else text[pos:]
            if bad.startswith("'"):
                message = f"line 1:{pos}: unterminated string literal"
            else:
                message = f"unexpected token: '{bad}'"
            raise SoqlError("MALFORMED_QUERY", located(text, pos, message))
        if match.lastgroup != "ws":
            tokens.append(Token(match.lastgroup, match.group(), pos))
        pos = match.end()
    return tokens


def unescape(body: str, *, keep_like_escapes: bool = False) -> str:
    """The value of a string literal's body (between the quotes)."""
    out: list[str] = []
    chars = iter(body)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        following = next(chars, "")
        if following in _ESCAPES:
            out.append(_ESCAPES[following])
        elif following in "%_":
            out.append("\\" + following if keep_like_escapes else following)
        else:
            raise ValueError(f"invalid escape sequence \\{following}")
    return "".join(out)


# ----------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class Literal:
    """A literal value: ``kind`` is string, number, boolean, null, date, datetime or relative."""

    kind: str
    value: Any
    text: str
    pos: int


@dataclass(frozen=True)
class FieldRef:
    """A field named in the query, as written, and where."""

    name: str
    pos: int


@dataclass(frozen=True)
class CountItem:
    """``COUNT()`` (field None) or ``COUNT(field) [alias]``."""

    field: FieldRef | None
    alias: str | None
    pos: int


SelectItem = FieldRef | CountItem


@dataclass(frozen=True)
class Comparison:
    """``field op literal``."""

    field: FieldRef
    op: str
    value: Literal


@dataclass(frozen=True)
class InList:
    """``field [NOT] IN (literal, ...)``."""

    field: FieldRef
    values: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class Like:
    """``field LIKE 'pattern'``."""

    field: FieldRef
    pattern: Literal


@dataclass(frozen=True)
class BoolOp:
    """``AND`` / ``OR`` of two or more conditions."""

    op: str
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    """``NOT condition``."""

    part: Condition


Condition = Comparison | InList | Like | BoolOp | Not


@dataclass(frozen=True)
class OrderItem:
    """One ORDER BY key."""

    field: FieldRef
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Query:
    """A parsed SOQL query."""

    text: str
    select: tuple[SelectItem, ...]
    sobject: str
    sobject_pos: int
    where: Condition | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None

    @property
    def is_count(self) -> bool:
        """True for ``SELECT COUNT() FROM ...``."""
        return len(self.select) == 1 and isinstance(self.select[0], CountItem)


# ----------------------------------------------------------------------------- parser

_RELATIVE_DAYS = {"TODAY": 0, "YESTERDAY": -1, "TOMORROW": 1}
_RELATIVE_N = ("LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO")
_COMPARISON_OPS = {"=", "!=", "<>", "<", "<=", ">", ">="}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    # -- helpers

    def peek(self, offset: int = 0) -> Token | None:
        position = self.index + offset
        return self.tokens[position] if position < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.error_at_end()
        self.index += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.upper in words

    def expect_keyword(self, word: str) -> Token:
        token = self.next()
        if token.kind != "word" or token.upper != word:
            raise self.unexpected(token)
        return token

    def expect_punct(self, char: str) -> Token:
        token = self.next()
        if token.text != char:
            raise self.unexpected(token)
        return token

    def unexpected(self, token: Token) -> SoqlError:
        return SoqlError(
            "MALFORMED_QUERY", located(self.text, token.pos, f"unexpected token: '{token.text}'")
        )

    def error_at_end(self) -> SoqlError:
        return SoqlError(
            "MALFORMED_QUERY",
            located(self.text, len(self.text.rstrip()), "unexpected token: '<EOF>'"),
        )

    # -- grammar

    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        select = self.select_list()
        self.expect_keyword("FROM")
        sobject = self.identifier()
        where = None
        if self.at_keyword("WHERE"):
            self.next()
            where = self.condition()
        if self.at_keyword("GROUP", "HAVING"):
            raise self.unexpected(self.next())
        order_by = self.order_by() if self.at_keyword("ORDER") else ()
        limit = self.integer_clause("LIMIT")
        offset = self.integer_clause("OFFSET")
        trailing = self.peek()
        if trailing is not None:
            raise self.unexpected(trailing)
        return Query(self.text, select, sobject.text, sobject.pos, where, order_by, limit, offset)

    def identifier(self) -> Token:
        token = self.next()
        if token.kind != "word" or token.upper in KEYWORDS:
            raise self.unexpected(token)
        return token

    def select_list(self) -> tuple[SelectItem, ...]:
        items: list[SelectItem] = [self.select_item()]
        while self.peek() is not None and self.peek_text() == ",":
            self.next()
            items.append(self.select_item())
        return tuple(items)

    def peek_text(self) -> str | None:
        token = self.peek()
        return token.text if token else None

    def select_item(self) -> SelectItem:
        token = self.identifier()
        if token.upper == "COUNT" and self.peek_text() == "(":
            self.next()
            field = None
            if self.peek_text() != ")":
                inner = self.identifier()
                field = FieldRef(inner.text, inner.pos)
            self.expect_punct(")")
            alias = None
            following = self.peek()
            if (
                following is not None
                and following.kind == "word"
                and following.upper not in KEYWORDS
            ):
                alias = self.next().text
            return CountItem(field, alias, token.pos)
        return FieldRef(token.text, token.pos)

    def condition(self) -> Condition:
        first = self.unary()
        op: str | None = None
        parts = [first]
        while self.at_keyword("AND", "OR"):
            token = self.next()
            if op is not None and token.upper != op:
                raise self.unexpected(token)  # SOQL needs parentheses to mix AND and OR
            op = token.upper
            parts.append(self.unary())
        return first if op is None else BoolOp(op, tuple(parts))

    def unary(self) -> Condition:
        if self.at_keyword("NOT"):
            self.next()
            return Not(self.unary())
        if self.peek_text() == "(":
            self.next()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.predicate()

    def predicate(self) -> Condition:
        token = self.identifier()
        field = FieldRef(token.text, token.pos)
        operator = self.next()
        if operator.kind == "op":
            return Comparison(
                field, "!=" if operator.text == "<>" else operator.text, self.literal()
            )
        if operator.kind == "word" and operator.upper == "LIKE":
            pattern = self.literal()
            if pattern.kind != "string":
                raise self.unexpected_literal(pattern)
            return Like(field, pattern)
        if operator.kind == "word" and operator.upper == "NOT" and self.at_keyword("IN"):
            self.next()
            return InList(field, self.literal_list(), negated=True)
        if operator.kind == "word" and operator.upper == "IN":
            return InList(field, self.literal_list(), negated=False)
        raise self.unexpected(operator)

    def unexpected_literal(self, literal: Literal) -> SoqlError:
        return SoqlError(
            "MALFORMED_QUERY",
            located(self.text, literal.pos, f"unexpected token: '{literal.text}'"),
        )

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect_punct("(")
        values = [self.literal()]
        while self.peek_text() == ",":
            self.next()
            values.append(self.literal())
        self.expect_punct(")")
        return tuple(values)

    def literal(self) -> Literal:
        token = self.next()
        kind = token.kind
        if kind == "string":
            try:
                value: Any = unescape(token.text[1:-1], keep_like_escapes=True)
            except ValueError as exc:
                raise SoqlError(
                    "MALFORMED_QUERY", located(self.text, token.pos, str(exc))
                ) from None
            return Literal("string", value, token.text, token.pos)
        if kind == "number":
            number = float(token.text) if "." in token.text else int(token.text)
            return Literal("number", number, token.text, token.pos)
        if kind == "date":
            return Literal("date", self.parse_date(token), token.text, token.pos)
        if kind == "datetime":
            return Literal("datetime", parse_datetime(token.text), token.text, token.pos)
        if kind == "word":
            return self.word_literal(token)
        raise self.unexpected(token)

    def parse_date(self, token: Token) -> date:
        try:
            return date.fromisoformat(token.text)
        except ValueError:
            raise self.unexpected(token) from None

    def word_literal(self, token: Token) -> Literal:
        word = token.upper
        if word == "NULL":
            return Literal("null", None, token.text, token.pos)
        if word in ("TRUE", "FALSE"):
            return Literal("boolean", word == "TRUE", token.text, token.pos)
        if word in _RELATIVE_DAYS:
            offset = _RELATIVE_DAYS[word]
            return Literal("relative", (offset, offset + 1), token.text, token.pos)
        name, _, count = word.partition(":")
        if name in _RELATIVE_N and count.isdigit():
            days = int(count)
            span = {
                "LAST_N_DAYS": (-days, 1),
                "NEXT_N_DAYS": (1, days + 1),
                "N_DAYS_AGO": (-days, -days + 1),
            }[name]
            return Literal("relative", span, token.text, token.pos)
        raise self.unexpected(token)

    def order_by(self) -> tuple[OrderItem, ...]:
        self.expect_keyword("ORDER")
        self.expect_keyword("BY")
        items = [self.order_item()]
        while self.peek_text() == ",":
            self.next()
            items.append(self.order_item())
        return tuple(items)

    def order_item(self) -> OrderItem:
        token = self.identifier()
        descending = False
        if self.at_keyword("ASC", "DESC"):
            descending = self.next().upper == "DESC"
        nulls_last = False
        if self.at_keyword("NULLS"):
            self.next()
            choice = self.next()
            if choice.upper not in ("FIRST", "LAST"):
                raise self.unexpected(choice)
            nulls_last = choice.upper == "LAST"
        return OrderItem(FieldRef(token.text, token.pos), descending, nulls_last)

    def integer_clause(self, keyword: str) -> int | None:
        if not self.at_keyword(keyword):
            return None
        self.next()
        token = self.next()
        if token.kind != "number" or not token.text.isdigit():
            raise self.unexpected(token)
        return int(token.text)


def parse(text: str) -> Query:
    """Parse a SOQL query; :class:`SoqlError` (MALFORMED_QUERY) when it is not valid SOQL."""
    if not text or not text.strip():
        raise SoqlError("MALFORMED_QUERY", "A query string is required")
    return _Parser(text).parse()


_DATETIME_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})$"
)


def parse_datetime(text: str) -> datetime:
    """A timezone-aware datetime from Salesforce's datetime forms (``Z``, ``+0000``, ``+00:00``)."""
    match = _DATETIME_RE.match(text)
    if match is None:
        raise ValueError(f"not a datetime: {text!r}")
    day, clock, fraction, zone = match.groups()
    if zone == "Z":
        zone = "+00:00"
    elif ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    fraction = (fraction or "").ljust(7, "0") if fraction else ""
    return datetime.fromisoformat(f"{day}T{clock}{fraction}{zone}").astimezone(UTC)


# ----------------------------------------------------------------------------- compilation

TEXT_TYPES = frozenset(
    {
        "string",
        "picklist",
        "multipicklist",
        "email",
        "textarea",
        "phone",
        "url",
        "combobox",
        "encryptedstring",
    }
)
ID_TYPES = frozenset({"id", "reference"})
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent", "long"})
NOT_FILTERABLE = frozenset({"address", "location"})


def _no_such_column(query: Query, ref: FieldRef, table: TableDef) -> SoqlError:
    message = (
        f"No such column '{ref.name}' on entity '{table.name}'. If you are attempting to use a "
        "custom field, be sure to append the '__c' after the custom field name. Please reference "
        "your WSDL or the describe call for the appropriate names."
    )
    if "." in ref.name:
        relation = ref.name.split(".", 1)[0]
        message = (
            f"Didn't understand relationship '{relation}' in field path. If you are attempting to "
            "use a custom relationship, be sure to append the '__r' after the custom relationship "
            "name. Please reference your WSDL or the describe call for the appropriate names."
        )
    return SoqlError("INVALID_FIELD", located(query.text, ref.pos, message))


@dataclass(frozen=True)
class CompiledQuery:
    """A query resolved against its object: which fields, which records, in which order."""

    query: Query
    table: TableDef
    fields: tuple[FieldDef, ...]
    predicate: Predicate | None
    order: tuple[tuple[FieldDef, bool, bool], ...]
    count_alias: str | None = None

    @property
    def is_count(self) -> bool:
        """``SELECT COUNT() ...``: only totalSize is answered."""
        return self.query.is_count and self.count_alias is None

    @property
    def is_aggregate(self) -> bool:
        """``SELECT COUNT(field) ...``: one AggregateResult record."""
        return self.count_alias is not None

    def run(self, records: Sequence[Record]) -> list[Record]:
        """Filter, sort, then apply OFFSET and LIMIT."""
        predicate = self.predicate
        selected = [r for r in records if predicate(r)] if predicate else list(records)
        for field, descending, nulls_last in reversed(self.order):
            selected = _sorted(selected, field, descending, nulls_last)
        start = self.query.offset or 0
        stop = None if self.query.limit is None else start + self.query.limit
        return selected[start:stop] if (start or stop is not None) else selected


def _sort_value(field: FieldDef) -> Callable[[Any], Any]:
    if field.type in TEXT_TYPES:
        return lambda value: str(value).upper()
    return lambda value: value


def _sorted(
    records: list[Record], field: FieldDef, descending: bool, nulls_last: bool
) -> list[Record]:
    name = field.name
    present = [r for r in records if r.get(name) is not None]
    missing = [r for r in records if r.get(name) is None]
    convert = _sort_value(field)
    present.sort(key=lambda r: convert(r[name]), reverse=descending)
    return present + missing if nulls_last else missing + present


def compile_query(query: Query, table: TableDef, now: datetime) -> CompiledQuery:
    """Resolve ``query`` against ``table``; ``now`` anchors relative date literals."""
    resolver = _Resolver(query, table, now)
    fields, count_alias = resolver.select()
    predicate = resolver.condition(query.where) if query.where is not None else None
    order = tuple(
        (resolver.sortable(item.field), item.descending, item.nulls_last) for item in query.order_by
    )
    return CompiledQuery(query, table, fields, predicate, order, count_alias)


class _Resolver:
    def __init__(self, query: Query, table: TableDef, now: datetime) -> None:
        self.query = query
        self.table = table
        self.now = now
        self.by_name = {f.name.lower(): f for f in table.fields}

    def field(self, ref: FieldRef) -> FieldDef:
        found = self.by_name.get(ref.name.lower())
        if found is None:
            raise _no_such_column(self.query, ref, self.table)
        return found

    def error(self, pos: int, message: str, code: str = "MALFORMED_QUERY") -> SoqlError:
        return SoqlError(code, located(self.query.text, pos, message))

    def select(self) -> tuple[tuple[FieldDef, ...], str | None]:
        counts = [item for item in self.query.select if isinstance(item, CountItem)]
        plain = [item for item in self.query.select if isinstance(item, FieldRef)]
        if counts:
            return self.count_select(counts, plain)
        fields: list[FieldDef] = []
        seen: set[str] = set()
        for ref in plain:
            field = self.field(ref)
            if field.name in seen:
                raise self.error(ref.pos, f"duplicate field selected: {field.name}")
            seen.add(field.name)
            fields.append(field)
        return tuple(fields), None

    def count_select(
        self, counts: list[CountItem], plain: list[FieldRef]
    ) -> tuple[tuple[FieldDef, ...], str | None]:
        first = counts[0]
        if first.field is None:
            if len(self.query.select) > 1:
                raise self.error(first.pos, "COUNT() must be the only element in the SELECT list.")
            if self.query.order_by:
                raise self.error(
                    self.query.order_by[0].field.pos, "ORDER BY not allowed with COUNT()"
                )
            return (), None
        if plain:
            name = plain[0].name
            raise self.error(plain[0].pos, f"Field must be grouped or aggregated: {name}")
        if len(counts) > 1:
            raise self.error(counts[1].pos, "only one aggregate expression is supported here")
        field = self.field(first.field)
        return (field,), first.alias or "expr0"

    def sortable(self, ref: FieldRef) -> FieldDef:
        field = self.field(ref)
        if field.type in NOT_FILTERABLE:
            raise self.error(
                ref.pos, f"field '{field.name}' can not be sorted in a query call", "INVALID_FIELD"
            )
        return field

    # -- conditions

    def condition(self, node: Condition) -> Predicate:
        if isinstance(node, BoolOp):
            parts = [self.condition(part) for part in node.parts]
            if node.op == "AND":
                return lambda r: all(p(r) for p in parts)
            return lambda r: any(p(r) for p in parts)
        if isinstance(node, Not):
            inner = self.condition(node.part)
            return lambda r: not inner(r)
        if isinstance(node, Comparison):
            return self.comparison(node)
        if isinstance(node, InList):
            return self.in_list(node)
        return self.like(node)

    def filterable(self, ref: FieldRef) -> FieldDef:
        field = self.field(ref)
        if field.type in NOT_FILTERABLE:
            raise self.error(
                ref.pos,
                f"field '{field.name}' can not be filtered in a query call",
                "INVALID_FIELD",
            )
        return field

    def comparison(self, node: Comparison) -> Predicate:
        field = self.filterable(node.field)
        name = field.name
        literal = node.value
        if literal.kind == "null":
            if node.op not in ("=", "!="):
                raise self.error(literal.pos, "invalid operator on null value")
            if node.op == "=":
                return lambda r: r.get(name) is None
            return lambda r: r.get(name) is not None
        if literal.kind == "relative":
            return self.relative(field, node.op, literal)
        value = self.coerce(field, literal)
        if node.op in ("<", "<=", ">", ">=") and field.type == "boolean":
            raise self.error(literal.pos, f"invalid operator on boolean field: {field.name}")
        normalise = _normaliser(field)
        target = normalise(value)
        return _compare(name, node.op, target, normalise)

    def relative(self, field: FieldDef, op: str, literal: Literal) -> Predicate:
        if field.type not in ("date", "datetime"):
            raise self.error(
                literal.pos,
                f"value of filter criterion for field '{field.name}' must be of type {field.type}",
            )
        today = self.now.astimezone(UTC).date()
        first, last = literal.value
        low_day, high_day = today + timedelta(days=first), today + timedelta(days=last)
        low: Any = low_day
        high: Any = high_day
        if field.type == "datetime":
            low = datetime.combine(low_day, time(), UTC)
            high = datetime.combine(high_day, time(), UTC)
        return _range_compare(field.name, op, low, high)

    def in_list(self, node: InList) -> Predicate:
        field = self.filterable(node.field)
        name = field.name
        normalise = _normaliser(field)
        values = {normalise(self.coerce(field, lit)) for lit in node.values if lit.kind != "null"}
        with_null = any(lit.kind == "null" for lit in node.values)

        def member(record: Record) -> bool:
            value = record.get(name)
            if value is None:
                return with_null
            return normalise(value) in values

        if node.negated:
            return lambda r: not member(r) if r.get(name) is not None else not with_null
        return member

    def like(self, node: Like) -> Predicate:
        field = self.filterable(node.field)
        if field.type not in TEXT_TYPES and field.type not in ID_TYPES:
            raise self.error(
                node.pattern.pos,
                f"invalid operator on field: {field.name} (LIKE needs a text field)",
            )
        regex = like_regex(node.pattern.value)
        name = field.name
        return lambda r: (v := r.get(name)) is not None and regex.match(str(v)) is not None

    def coerce(self, field: FieldDef, literal: Literal) -> Any:
        expected = literal_kind(field.type)
        if literal.kind == expected:
            return unescape_like(literal.value) if expected == "string" else literal.value
        word = {"string": "string", "number": "double", "datetime": "dateTime"}.get(
            expected, expected
        )
        message = f"value of filter criterion for field '{field.name}' must be of type {word}"
        if literal.kind == "string":
            message += " and should not be enclosed in quotes"
        elif expected == "string":
            message += " and should be enclosed in quotes"
        raise self.error(literal.pos, message)


def literal_kind(field_type: str) -> str:
    """The kind of literal a field of this describe type is compared with."""
    if field_type in TEXT_TYPES or field_type in ID_TYPES:
        return "string"
    if field_type in NUMBER_TYPES:
        return "number"
    return field_type  # boolean, date, datetime: literals of the same name


def unescape_like(value: str) -> str:
    """A string literal's value outside LIKE: ``\\%`` and ``\\_`` stand for ``%`` and ``_``."""
    return value.replace("\\%", "%").replace("\\_", "_")


def like_regex(pattern: str) -> re.Pattern[str]:
    """A case-insensitive regex for a LIKE pattern (``%`` any run, ``_`` one character)."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern) and pattern[index + 1] in "%_":
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("".join(out) + r"\Z", re.IGNORECASE | re.DOTALL)


def _normaliser(field: FieldDef) -> Callable[[Any], Any]:
    if field.type in ID_TYPES:
        return lambda value: str(value)[:15]
    if field.type in TEXT_TYPES:
        return lambda value: str(value).upper()
    if field.type == "datetime":
        return _as_utc
    return lambda value: value


def _as_utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return value


def _compare(name: str, op: str, target: Any, normalise: Callable[[Any], Any]) -> Predicate:
    if op == "=":
        return lambda r: (v := r.get(name)) is not None and normalise(v) == target
    if op == "!=":
        return lambda r: (v := r.get(name)) is None or normalise(v) != target
    if op == "<":
        return lambda r: (v := r.get(name)) is not None and normalise(v) < target
    if op == "<=":
        return lambda r: (v := r.get(name)) is not None and normalise(v) <= target
    if op == ">":
        return lambda r: (v := r.get(name)) is not None and normalise(v) > target
    return lambda r: (v := r.get(name)) is not None and normalise(v) >= target


def _range_compare(name: str, op: str, low: Any, high: Any) -> Predicate:
    """Compare against the half-open range [low, high) a relative date literal stands for."""

    def value(record: Record) -> Any:
        return _as_utc(record.get(name))

    if op == "=":
        return lambda r: (v := value(r)) is not None and low <= v < high
    if op == "!=":
        return lambda r: (v := value(r)) is None or not low <= v < high
    if op == "<":
        return lambda r: (v := value(r)) is not None and v < low
    if op == "<=":
        return lambda r: (v := value(r)) is not None and v < high
    if op == ">":
        return lambda r: (v := value(r)) is not None and v >= high
    return lambda r: (v := value(r)) is not None and v >= low
