"""Which watchlists a text mentions.

One matcher is shared by the crawler pipeline, JSONL ingest and the demo so that a post
is assigned the same watchlists whichever way it arrived. Text and terms are folded the
same way before comparing: Traditional Chinese to Simplified (OpenCC ``t2s``), full-width
to half-width and case (NFKC + casefold), runs of whitespace to one space. Latin-script
terms match whole words only (``Acme`` does not match ``Acmesoft``); Chinese terms match
anywhere, because Chinese is written without spaces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from crisiswatch.core.config import Watchlist
from crisiswatch.core.text import normalize_width_case, to_simplified

_SPACES = re.compile(r"\s+")
_WORD = r"[^\W_\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
"""A letter or digit of a script written with spaces (not Chinese): where word edges count."""


def fold(text: str) -> str:
    """The form both texts and terms are compared in (see the module docstring)."""
    text = to_simplified(normalize_width_case(text))
    return _SPACES.sub(" ", text).strip()


def _term_pattern(term: str) -> str:
    """A regex for one folded term; word boundaries only where the term has word edges."""
    body = re.escape(term).replace(r"\ ", r"\s+")
    head = f"(?<!{_WORD})" if re.match(_WORD, term[0]) else ""
    tail = f"(?!{_WORD})" if re.match(_WORD, term[-1]) else ""
    return f"{head}{body}{tail}"


def _compile(terms: Iterable[str]) -> re.Pattern[str] | None:
    folded = sorted({fold(t) for t in terms if t and t.strip()}, key=len, reverse=True)
    if not folded:
        return None
    return re.compile("|".join(_term_pattern(t) for t in folded))


class WatchlistMatcher:
    """``WatchlistMatcher(config.watchlists).match(text)`` -> names of the matching watchlists.

    A watchlist matches when the text contains one of its terms and none of its
    exclusions (``exclude: ["apple pie"]`` keeps a recipe out of the Apple watchlist).
    """

    def __init__(self, watchlists: Iterable[Watchlist]):
        self._compiled: list[tuple[str, re.Pattern[str], re.Pattern[str] | None]] = []
        for watchlist in watchlists:
            include = _compile(watchlist.terms)
            if include is not None:
                self._compiled.append((watchlist.name, include, _compile(watchlist.exclude)))

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self._compiled]

    def match(self, text: str, title: str | None = None) -> list[str]:
        """Names of the watchlists the text (and title, if given) mentions, in config order."""
        source = fold(f"{title}\n{text}" if title else text or "")
        if not source:
            return []
        return [name for name, include, exclude in self._compiled
                if include.search(source) and not (exclude is not None and exclude.search(source))]
