"""Single characters and character pairs of Chinese, Japanese and Korean text, for the SQLite
store's second full-text index (``posts_grams``).

The trigram index cannot answer a term shorter than three characters, and in Chinese the
most searched words are two characters long (召回 recall, 中毒 poisoning, 退款 refund).
Without an index such a term is a substring test over every post the other conditions
leave: at a million posts, most of an explorer query's time. Mature search engines index
CJK text as overlapping bigrams for this reason (Elasticsearch's ``cjk_bigram``, Lucene's
CJKAnalyzer); here each run of CJK characters contributes its characters and its adjacent
pairs as tokens. A term of one or two CJK characters then occurs in a post's text exactly
when its token is in the post's gram list (the term lies inside one run, since all of its
characters are CJK), so the index gives the same answers as the substring test.

The gram lists are stored as space-separated tokens in a contentless FTS5 table with the
``ascii`` tokenizer, which splits on ASCII separators only and keeps every non-ASCII
character as part of a token, so a token is exactly one gram. A contentless table needs
the old values to delete a row; they are recomputed from the post's old title and text,
which is why ``grams`` must never change its output for a given text without a schema
migration that rebuilds the index.
"""

from __future__ import annotations

import re

GRAM_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
"""Hiragana, Katakana, CJK ideographs (with extension A and compatibility ideographs), Hangul
syllables: the scripts written without spaces between words."""

MAX_GRAM = 2
"""Terms of at most this many characters go to the gram index; longer ones to the trigrams."""


def grams(value: str | None) -> str:
    """The distinct CJK characters and adjacent CJK pairs of ``value``, space-separated ('' when none)."""
    if not value:
        return ""
    found: dict[str, None] = {}
    for run in GRAM_RUN.findall(value):
        for i, char in enumerate(run):
            found[char] = None
            if i + 1 < len(run):
                found[run[i:i + 2]] = None
    return " ".join(found)


def is_gram_term(term: str) -> bool:
    """Whether the gram index answers ``term`` exactly: one or two CJK characters."""
    return 1 <= len(term) <= MAX_GRAM and GRAM_RUN.fullmatch(term) is not None


def gram_row(pk: int, title: str | None, text: str | None) -> tuple[int, str, str] | None:
    """The ``posts_grams`` row of a post, or None when it has no CJK text (no row is kept)."""
    title_grams, text_grams = grams(title), grams(text)
    if not title_grams and not text_grams:
        return None
    return pk, title_grams, text_grams
