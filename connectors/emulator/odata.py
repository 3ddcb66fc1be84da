"""A small OData v4 query-option engine for the Dataverse emulation: ``$filter`` and ``$orderby``.

``parse_filter`` turns the text of a ``$filter`` into an expression tree; ``compile_filter`` turns
the tree into a predicate over records, given a :class:`Schema` that says which properties exist,
what Edm type each has and how to read it from a record.  The subset is what Dataverse clients
send: ``eq ne gt ge lt le``, ``and or not``, parentheses, ``contains`` / ``startswith`` /
``endswith``; literals for strings (``'it''s'``), numbers, ``true`` / ``false`` / ``null``, GUIDs,
dates, date-times and enum members (``Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'``).

Comparisons follow Dataverse, which runs on SQL Server: strings and GUIDs compare without regard
to case; a comparison other than ``eq`` / ``ne`` with a null side is false.  Errors raise
:class:`ODataError` with the message Dataverse gives for the same mistake.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, Literal

ODATA_ERROR_CODE = "0x80060888"

EdmType = str  # "Edm.String", "Edm.Int32", "Edm.Decimal", "Edm.Guid", ...
Predicate = Callable[[Mapping[str, Any]], bool]
LiteralKind = Literal[
    "string", "int", "decimal", "double", "bool", "null", "guid", "date", "datetime"
]

_NUMERIC = frozenset({"Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Decimal", "Edm.Double"})
_LITERAL_EDM: dict[str, EdmType] = {
    "string": "Edm.String",
    "int": "Edm.Int32",
    "decimal": "Edm.Decimal",
    "double": "Edm.Double",
    "bool": "Edm.Boolean",
    "guid": "Edm.Guid",
    "date": "Edm.Date",
    "datetime": "Edm.DateTimeOffset",
}
_OPERATOR_KIND = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
}
_STRING_FUNCTIONS = frozenset({"contains", "startswith", "endswith"})


class ODataError(ValueError):
    """A query option Dataverse would reject (HTTP 400, code ``0x80060888``)."""


# ---------------------------------------------------------------------------- tokens

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<enum>[A-Za-z_][\w.]*'(?:[^']|'')*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<guid>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDfFlL]?)
  | (?P<name>[A-Za-z_$@][\w.]*(?:/[A-Za-z_][\w.]*)*)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    """One lexical token of a query option, with its position (0-based) in the text."""

    kind: str
    text: str
    position: int


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; raises :class:`ODataError` on a character that starts none."""
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if match is None:
            raise ODataError(f"Syntax error at position {position} in '{text}'.")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    return tokens


# ---------------------------------------------------------------------------- tree


@dataclass(frozen=True)
class Property:
    """A property path such as ``name`` or ``_parentaccountid_value``."""

    name: str


@dataclass(frozen=True)
class Value:
    """A literal with its kind and Python value."""

    kind: LiteralKind
    value: Any


@dataclass(frozen=True)
class Compare:
    """``left op right`` for one of eq, ne, gt, ge, lt, le."""

    op: str
    left: Property | Value
    right: Property | Value


@dataclass(frozen=True)
class Call:
    """A string function call such as ``contains(name,'x')``."""

    name: str
    args: tuple[Property | Value, ...]


@dataclass(frozen=True)
class BoolOp:
    """``and`` / ``or`` of two expressions."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not:
    """``not`` of an expression."""

    operand: Expr


Expr = Compare | Call | BoolOp | Not | Property | Value


def _unquote(text: str) -> str:
    return text[1:-1].replace("''", "'")


def _number(text: str) -> Value:
    body = text.rstrip("mMdDfFlL")
    suffix = text[len(body) :].lower()
    if suffix in ("d", "f") or "e" in body.lower():
        return Value("double", float(body))
    if suffix == "m" or "." in body:
        return Value("decimal", Decimal(body))
    return Value("int", int(body))


def _datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def literal_from_token(token: Token) -> Value | None:
    """The literal a token stands for, or None when it is not a literal."""
    if token.kind == "string":
        return Value("string", _unquote(token.text))
    if token.kind == "enum":
        return Value("string", _unquote(token.text[token.text.index("'") :]))
    if token.kind == "number":
        return _number(token.text)
    if token.kind == "guid":
        return Value("guid", token.text.lower())
    if token.kind == "date":
        return Value("date", date.fromisoformat(token.text))
    if token.kind == "datetime":
        return Value("datetime", _datetime(token.text))
    if token.kind == "name" and token.text in ("true", "false"):
        return Value("bool", token.text == "true")
    if token.kind == "name" and token.text == "null":
        return Value("null", None)
    return None


class _Parser:
    """Recursive descent: or -> and -> not -> primary."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    def error(self, position: int | None = None) -> ODataError:
        where = position if position is not None else self._position()
        return ODataError(f"Syntax error at position {where} in '{self.text}'.")

    def _position(self) -> int:
        if self.index < len(self.tokens):
            return self.tokens[self.index].position
        return len(self.text)

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.error()
        self.index += 1
        return token

    def accept_word(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token.kind == "name" and token.text in words:
            self.index += 1
            return token.text
        return None

    def expect_punct(self, char: str) -> None:
        token = self.take()
        if token.kind != "punct" or token.text != char:
            raise self.error(token.position)

    def parse(self) -> Expr:
        if not self.tokens:
            raise self.error(0)
        expr = self.parse_or()
        if self.peek() is not None:
            raise self.error()
        return expr

    def parse_or(self) -> Expr:
        expr = self.parse_and()
        while self.accept_word("or"):
            expr = BoolOp("or", expr, self.parse_and())
        return expr

    def parse_and(self) -> Expr:
        expr = self.parse_not()
        while self.accept_word("and"):
            expr = BoolOp("and", expr, self.parse_not())
        return expr

    def parse_not(self) -> Expr:
        if self.accept_word("not"):
            return Not(self.parse_not())
        return self.parse_comparison()

    def parse_comparison(self) -> Expr:
        left = self.parse_primary()
        op = self.accept_word(*_OPERATOR_KIND)
        if op is None:
            return left
        right = self.parse_primary()
        if not isinstance(left, Property | Value) or not isinstance(right, Property | Value):
            raise self.error()
        return Compare(op, left, right)

    def parse_primary(self) -> Expr:
        token = self.take()
        if token.kind == "punct" and token.text == "(":
            expr = self.parse_or()
            self.expect_punct(")")
            return expr
        literal = literal_from_token(token)
        if literal is not None:
            return literal
        if token.kind != "name" or token.text in ("and", "or", "not", *_OPERATOR_KIND):
            raise self.error(token.position)
        following = self.peek()
        if following is not None and following.kind == "punct" and following.text == "(":
            return self.parse_call(token)
        return Property(token.text)

    def parse_call(self, name: Token) -> Call:
        self.expect_punct("(")
        args: list[Property | Value] = []
        while True:
            arg = self.parse_primary()
            if not isinstance(arg, Property | Value):
                raise self.error()
            args.append(arg)
            token = self.take()
            if token.kind == "punct" and token.text == ")":
                return Call(name.text, tuple(args))
            if token.kind != "punct" or token.text != ",":
                raise self.error(token.position)


def parse_filter(text: str) -> Expr:
    """Parse the text of a ``$filter`` query option."""
    return _Parser(text).parse()


# ---------------------------------------------------------------------------- compile


@dataclass(frozen=True)
class Column:
    """How to read one filterable property from a record, and its Edm type."""

    key: str
    edm: EdmType


class Schema:
    """The properties a query may use: ``resolve(name)`` or :class:`ODataError`."""

    def __init__(self, type_name: str, columns: Mapping[str, Column]) -> None:
        self.type_name = type_name
        self._columns = {name.lower(): column for name, column in columns.items()}

    def resolve(self, name: str) -> Column:
        """The column called ``name`` (case-insensitive)."""
        column = self._columns.get(name.lower())
        if column is None:
            raise ODataError(
                f"Could not find a property named '{name}' on type '{self.type_name}'."
            )
        return column


def _to_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    if isinstance(value, str):
        return _datetime(value)
    raise TypeError(value)


def _to_date(value: Any) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    raise TypeError(value)


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def normalizer(edm: EdmType) -> Callable[[Any], Any]:
    """A function mapping stored and literal values of ``edm`` to comparable Python values."""
    if edm == "Edm.DateTimeOffset":
        return _to_datetime
    if edm == "Edm.Date":
        return _to_date
    if edm in ("Edm.String", "Edm.Guid"):
        return _fold
    if edm in _NUMERIC:
        return lambda value: None if value is None else Decimal(str(value))
    return lambda value: value


def _compatible(column: EdmType, literal: Value) -> bool:
    if literal.kind == "null":
        return True
    edm = _LITERAL_EDM[literal.kind]
    if column in _NUMERIC:
        return edm in _NUMERIC
    if column in ("Edm.DateTimeOffset", "Edm.Date"):
        return edm in ("Edm.DateTimeOffset", "Edm.Date")
    return edm == column


_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: bool(a == b),
    "ne": lambda a, b: bool(a != b),
    "gt": lambda a, b: bool(a > b),
    "ge": lambda a, b: bool(a >= b),
    "lt": lambda a, b: bool(a < b),
    "le": lambda a, b: bool(a <= b),
}
_MIRRORED = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}


def _compile_compare(node: Compare, schema: Schema) -> Predicate:
    op, left, right = node.op, node.left, node.right
    if isinstance(left, Value) and isinstance(right, Property):
        op, left, right = _MIRRORED[op], right, left
    if not isinstance(left, Property) or not isinstance(right, Value):
        raise ODataError(
            f"The {_OPERATOR_KIND[op]} comparison needs a property on one side and a value on "
            "the other."
        )
    column = schema.resolve(left.name)
    if not _compatible(column.edm, right):
        found = _LITERAL_EDM.get(right.kind, right.kind)
        raise ODataError(
            "A binary operator with incompatible types was detected. Found operand types "
            f"'{column.edm}' and '{found}' for operator kind '{_OPERATOR_KIND[op]}'."
        )
    normalize = normalizer(column.edm)
    key, wanted, compare = column.key, normalize(right.value), _COMPARATORS[op]
    if wanted is None:
        if op == "eq":
            return lambda record: record.get(key) is None
        if op == "ne":
            return lambda record: record.get(key) is not None
        return lambda record: False

    def predicate(record: Mapping[str, Any]) -> bool:
        value = normalize(record.get(key))
        if value is None:
            return op == "ne"
        return compare(value, wanted)

    return predicate


def _compile_call(node: Call, schema: Schema) -> Predicate:
    name = node.name.lower()
    if name not in _STRING_FUNCTIONS:
        raise ODataError(f"An unknown function with name '{node.name}' was found.")
    if len(node.args) != 2:
        raise ODataError(f"No function signature for the function with name '{node.name}' matches.")
    target, needle = node.args
    if not isinstance(target, Property) or not isinstance(needle, Value):
        raise ODataError(f"No function signature for the function with name '{node.name}' matches.")
    column = schema.resolve(target.name)
    if column.edm != "Edm.String" or needle.kind != "string":
        raise ODataError(f"No function signature for the function with name '{node.name}' matches.")
    key, text = column.key, str(needle.value).casefold()
    method = {"contains": str.__contains__, "startswith": str.startswith, "endswith": str.endswith}[
        name
    ]

    def predicate(record: Mapping[str, Any]) -> bool:
        value = record.get(key)
        return isinstance(value, str) and bool(method(value.casefold(), text))

    return predicate


def _compile_property(node: Property, schema: Schema) -> Predicate:
    column = schema.resolve(node.name)
    if column.edm != "Edm.Boolean":
        raise ODataError(f"The property '{node.name}' is not a Boolean and cannot be a condition.")
    key = column.key
    return lambda record: record.get(key) is True


def compile_expr(node: Expr, schema: Schema) -> Predicate:
    """A predicate over records for the expression ``node``."""
    if isinstance(node, Compare):
        return _compile_compare(node, schema)
    if isinstance(node, Call):
        return _compile_call(node, schema)
    if isinstance(node, Not):
        inner = compile_expr(node.operand, schema)
        return lambda record: not inner(record)
    if isinstance(node, BoolOp):
        left, right = compile_expr(node.left, schema), compile_expr(node.right, schema)
        if node.op == "and":
            return lambda record: left(record) and right(record)
        return lambda record: left(record) or right(record)
    if isinstance(node, Property):
        return _compile_property(node, schema)
    raise ODataError("A literal value cannot be a condition on its own.")


def compile_filter(text: str, schema: Schema) -> Predicate:
    """Parse and compile a ``$filter``: a predicate over records."""
    return compile_expr(parse_filter(text), schema)


# ---------------------------------------------------------------------------- orderby


@dataclass(frozen=True)
class OrderItem:
    """One ``$orderby`` item."""

    name: str
    descending: bool


def parse_orderby(text: str) -> tuple[OrderItem, ...]:
    """Parse ``name asc, createdon desc``."""
    items: list[OrderItem] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise ODataError(f"Syntax error in '$orderby={text}'.")
        items.append(OrderItem(words[0], len(words) == 2 and words[1] == "desc"))
    return tuple(items)


def parse_select(text: str) -> tuple[str, ...]:
    """Parse a ``$select`` list into property names."""
    names = tuple(part.strip() for part in text.split(","))
    if any(not name for name in names):
        raise ODataError(f"Syntax error in '$select={text}'.")
    return names
