"""Which field of a platform's items could not be read, on how many items of a page, with a sample.

A platform that changes its format usually breaks one field on every item (a date written a
new way, a key renamed). Counting "skipped a malformed post" is not enough to act on: the
data engineer needs the field, the share of the page it broke, and what the item looked
like. ``PageTally`` collects that while ``CrisisSpider._dispatch`` runs one page's parser;
the sample is truncated and has anything credential-like masked, since it ends up in crawl
health, logs and operations alerts.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import ValidationError

SMALL_SHARE = 0.1
"""A page may lose up to this share of its items quietly (counted, not reported in detail)."""
SAMPLE_CHARS = 300
_SECRET_KEY = re.compile(r"token|secret|password|passwd|cookie|authori[sz]ation|session|api[_-]?key|jwt", re.I)
_SECRET_VALUE = re.compile(r"((?:access_token|token|password|secret|api_key|sessionid|SUB|SUBP)=)[^&\s\"';]+", re.I)
_BEARER = re.compile(r"\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}", re.I)

T = TypeVar("T")


class FieldError(ValueError):
    """A named field of an item that is present but cannot be read (a date in an unknown form)."""

    def __init__(self, name: str, value: Any, reason: str):
        super().__init__(reason if value is None else f"{reason} (value {_short(repr(value), 80)})")
        self.field = name


def read_field(name: str, value: Any, parse: Callable[[Any], T]) -> T:
    """``parse(value)``, with a failure blamed on field ``name`` (for the page's parse report)."""
    try:
        return parse(value)
    except FieldError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
        raise FieldError(name, value, f"{type(exc).__name__}: {exc}") from exc


def broken_field(exc: BaseException) -> tuple[str, str]:
    """(field, detail) of an item's parse error: the missing key, the invalid model field, or '?'."""
    if isinstance(exc, FieldError):
        return exc.field, str(exc)
    if isinstance(exc, KeyError):
        return str(exc.args[0]) if exc.args else "?", "missing"
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        return ".".join(str(part) for part in error["loc"]) or "?", error["msg"]
    return "?", f"{type(exc).__name__}: {exc}"


def masked(value: Any) -> Any:
    """``value`` with credential-like keys and query parameters replaced by ``***``."""
    if isinstance(value, dict):
        return {k: "***" if isinstance(k, str) and _SECRET_KEY.search(k) else masked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked(v) for v in value]
    if isinstance(value, str):
        return _BEARER.sub(r"\1 ***", _SECRET_VALUE.sub(r"\1***", value))
    return value


def sample_of(item: Any) -> str:
    """A short, secret-free text form of a platform item (JSON object, XML element, HTML selector)."""
    if item is None:
        return "-"
    if hasattr(item, "get") and callable(getattr(item, "getall", None)):  # a parsel Selector
        text = item.get()
    elif hasattr(item, "tag") and hasattr(item, "iter"):  # an lxml element
        from lxml import etree

        text = etree.tostring(item, encoding="unicode")
    elif isinstance(item, (dict, list)):
        text = json.dumps(masked(item), ensure_ascii=False, default=str, sort_keys=True)
        return _short(text, SAMPLE_CHARS)
    else:
        text = str(item)
    return _short(masked(re.sub(r"\s+", " ", text)), SAMPLE_CHARS)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class PageTally:
    """Items of one page offered to ``post_or_none`` and those that could not be read."""

    url: str
    items: int = 0
    failed: int = 0
    fields: Counter = field(default_factory=Counter)
    details: dict[str, str] = field(default_factory=dict)
    sample: str | None = None

    def fail(self, field_name: str, detail: str, item: Any) -> None:
        self.failed += 1
        self.fields[field_name] += 1
        self.details.setdefault(field_name, detail)
        if self.sample is None:
            self.sample = sample_of(item)

    @property
    def unreadable(self) -> bool:
        """Every item of a page that had items failed: a parse failure, not "nothing new"."""
        return self.items > 0 and self.failed >= self.items

    def report(self) -> str | None:
        """One line for crawl health, or None when the page lost no more than a small share."""
        if not self.failed or self.failed <= SMALL_SHARE * self.items:
            return None
        broke = ", ".join(f"'{name}' on {count} ({_short(self.details[name], 120)})"
                          for name, count in self.fields.most_common(3))
        head = "parse failure" if self.unreadable else "partly unreadable page"
        return (f"{head}: {self.failed} of {self.items} items of {self.url} could not be read; "
                f"field {broke}; sample: {self.sample}")
