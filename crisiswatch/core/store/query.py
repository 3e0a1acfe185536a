"""The text query language of ``PostFilter.text``: one grammar, one parser, every backend.

Both stores (SQLite FTS5 and Elasticsearch) compile the syntax tree built here, so a query
means the same thing everywhere and a query that cannot be read fails the same way, with
the position of the problem, instead of silently matching every post. Grammar::

    query    = or_expr
    or_expr  = and_expr { "OR" and_expr }
    and_expr = unary { [ "AND" ] unary }          (terms side by side must all occur)
    unary    = "NOT" unary | "-" primary | primary
    primary  = "(" or_expr ")" | FIELD ":" value | phrase | word
    value    = phrase | word
    phrase   = '"' characters, with \\" and \\\\ as escapes '"'
    word     = characters up to whitespace, '(', ')' or '"'

``AND``/``OR``/``NOT`` are operators only in upper case (``and`` is a word). ``NOT`` binds
tighter than ``AND``, which binds tighter than ``OR``. A word or phrase matches as a
case-insensitive substring of the title or the text (of any length: two-character Chinese
words included), and a Chinese term also matches its other script (Simplified/Traditional).
``-`` negates only at the start of a term (``nothing-like-this`` is one word). A word whose
part before ``:`` is not one of ``FIELDS`` is plain text (``12:30``, ``https://x``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Union

TEXT_FIELDS = ("text", "title")
"""Fields whose value is a substring of that part of the post only."""

LABEL_FIELDS = ("source", "language", "sentiment", "emotion", "category", "watchlist", "topic")
"""Fields whose value must equal the post's label exactly (as ``crisiswatch stats`` shows it)."""

FIELD_ALIASES = {"lang": "language", "topic_id": "topic", "watchlists": "watchlist"}
FIELDS = (*TEXT_FIELDS, *LABEL_FIELDS)
OPERATORS = ("AND", "OR", "NOT")


class QueryError(ValueError):
    """A text query that cannot be parsed; ``position`` is 1-based, in characters."""

    def __init__(self, query: str, position: int, problem: str):
        self.query = query
        self.position = position
        self.problem = problem
        super().__init__(f"cannot read the query at position {position}: {problem}")


@dataclass(frozen=True)
class Term:
    """Occurs as a case-insensitive substring of the title or text (or only ``field``)."""

    text: str
    field: str | None = None


@dataclass(frozen=True)
class Label:
    """The post's label ``field`` (source, sentiment, watchlist, ...) equals ``value``."""

    field: str
    value: str | int


@dataclass(frozen=True)
class And:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    item: "Node"


Node = Union[Term, Label, And, Or, Not]


# ---- tokens --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Token:
    kind: str
    """word, phrase, field, op, (, ), -"""
    text: str
    position: int
    field: str | None = None


_WORD_END = re.compile(r'[\s()"]')


def _phrase(query: str, start: int) -> tuple[str, int]:
    """The phrase opening at ``start`` (a quote) and the index after its closing quote."""
    chars: list[str] = []
    i = start + 1
    while i < len(query):
        c = query[i]
        if c == "\\" and i + 1 < len(query) and query[i + 1] in '"\\':
            chars.append(query[i + 1])
            i += 2
            continue
        if c == '"':
            text = "".join(chars).strip()
            if not text:
                raise QueryError(query, start + 1, "empty phrase: put words between the quotes, or remove them")
            return text, i + 1
        chars.append(c)
        i += 1
    raise QueryError(query, start + 1, 'this quote is never closed: add a closing " (or write \\" for a quote '
                                       "inside a phrase)")


def _tokens(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif c in "()":
            tokens.append(_Token(c, c, i + 1))
            i += 1
        elif c == '"':
            text, end = _phrase(query, i)
            tokens.append(_Token("phrase", text, i + 1))
            i = end
        elif c == "-":
            if i + 1 >= n or query[i + 1].isspace() or query[i + 1] == ")":
                raise QueryError(query, i + 1, "'-' must be directly followed by the term to exclude "
                                               '(write "-" to search for a dash)')
            tokens.append(_Token("-", c, i + 1))
            i += 1
        else:
            match = _WORD_END.search(query, i)
            end = match.start() if match else n
            word = query[i:end]
            name, colon, value = word.partition(":")
            field = FIELD_ALIASES.get(name.lower(), name.lower()) if colon else None
            if field in FIELDS:
                if value:
                    tokens.append(_Token("field", value, i + 1, field))
                elif end < n and query[end] == '"':
                    text, end = _phrase(query, end)
                    tokens.append(_Token("field", text, i + 1, field))
                else:
                    raise QueryError(query, i + 1, f"'{name}:' needs a value, e.g. {name}:value or "
                                                   f'{name}:"two words"')
            elif word in OPERATORS:
                tokens.append(_Token("op", word, i + 1))
            else:
                tokens.append(_Token("word", word, i + 1))
            i = end
    return tokens


# ---- parser --------------------------------------------------------------------------------
class _Parser:
    """Recursive descent over the grammar in the module docstring."""

    def __init__(self, query: str):
        self.query = query
        self.tokens = _tokens(query)
        self.at = 0

    def _peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _error(self, token: _Token | None, problem: str) -> QueryError:
        position = token.position if token is not None else len(self.query) + 1
        return QueryError(self.query, position, problem)

    def parse(self) -> Node:
        node = self._or()
        extra = self._peek()
        if extra is not None:  # only a ')' can stop the top level early
            raise self._error(extra, "')' without a matching '(' (write \")\" to search for it)")
        return node

    def _or(self) -> Node:
        items = [self._and()]
        while (token := self._peek()) is not None and token.kind == "op" and token.text == "OR":
            self.at += 1
            items.append(self._and(after=token))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _and(self, after: _Token | None = None) -> Node:
        items = [self._unary(after)]
        while (token := self._peek()) is not None and not (token.kind == ")" or
                                                            (token.kind == "op" and token.text == "OR")):
            if token.kind == "op" and token.text == "AND":
                self.at += 1
                items.append(self._unary(token))
            else:
                items.append(self._unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def _unary(self, after: _Token | None = None) -> Node:
        token = self._peek()
        if token is not None and ((token.kind == "op" and token.text == "NOT") or token.kind == "-"):
            self.at += 1
            return Not(self._unary(token) if token.kind == "op" else self._primary(token))
        return self._primary(after)

    def _primary(self, after: _Token | None = None) -> Node:
        token = self._peek()
        if token is None or token.kind == ")" or token.kind == "op":
            if after is not None:
                raise self._error(after, f"{after.text} needs a term after it")
            if token is not None and token.kind == "op":
                raise self._error(token, f"{token.text} needs a term before it (write \"{token.text}\" to "
                                         "search for the word)")
            if token is not None:
                raise self._error(token, "')' without a matching '(' (write \")\" to search for it)")
            raise self._error(token, "the query ends where a term is expected")
        self.at += 1
        if token.kind == "(":
            if (inner := self._peek()) is not None and inner.kind == ")":
                raise self._error(token, "empty parentheses: put a term inside, or remove them")
            node = self._or()
            closing = self._peek()
            if closing is None or closing.kind != ")":
                raise self._error(token, "this '(' is never closed: add a ')' (or write \"(\" to search for it)")
            self.at += 1
            return node
        if token.kind == "field":
            return self._field(token)
        return Term(token.text)

    def _field(self, token: _Token) -> Node:
        assert token.field is not None
        if token.field in TEXT_FIELDS:
            return Term(token.text, token.field)
        if token.field == "topic":
            try:
                return Label("topic", int(token.text))
            except ValueError:
                raise self._error(token, f"topic takes a topic number, e.g. topic:7, not '{token.text}'") from None
        return Label(token.field, token.text)


def parse_query(query: str | None) -> Node | None:
    """The syntax tree of a text query; None for a blank one (no condition on the text).

    Raises QueryError, naming the position, for what the grammar cannot read: an unclosed
    quote or parenthesis, an empty phrase, an operator without a term on one side."""
    if query is None or not query.strip():
        return None
    return _Parser(query).parse()


def check_query(query: str | None) -> None:
    """Raise QueryError if ``query`` cannot be parsed (for front ends that check early)."""
    parse_query(query)


# ---- Chinese script variants ---------------------------------------------------------------
_CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@functools.cache
def _opencc(config: str):  # noqa: ANN202
    from opencc import OpenCC

    return OpenCC(config)


def script_variants(term: str) -> list[str]:
    """The term as written, in Simplified and in Traditional Chinese (distinct, in that order)."""
    if not _CJK_CHAR.search(term):
        return [term]
    return list(dict.fromkeys([term, _opencc("t2s").convert(term), _opencc("s2t").convert(term)]))
