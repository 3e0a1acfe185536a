"""Turn a raw post into the text the models see, or say why there is nothing to see.

Posts arrive with anything in them: lone UTF-16 surrogates from broken scrapers, control
characters, 100,000-character pastes, Traditional Chinese. The models get one clean,
bounded, Simplified form; the reason a post cannot be analysed is kept for the enrichment.
"""

from __future__ import annotations

import functools
import re
import unicodedata

MAX_CHARS = 4000
"""Longer texts are cut here before tokenising; the encoder truncates at its own token
limit anyway (512 for e5), and 4,000 characters is well past it in every script."""

_SURROGATES = re.compile("[\ud800-\udfff]")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"@[\w.\-]+")
_SPACES = re.compile(r"\s+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORDLIKE = re.compile(r"[^\W\d_]", re.UNICODE)  # any letter, including CJK ideographs

EMPTY = "empty text"
NO_WORDS = "no words to analyse (only emoji, links, mentions, digits or symbols)"


def _drop_controls(text: str) -> str:
    """Remove control and format characters except line breaks and tabs (become spaces)."""
    return "".join(
        " " if ch in "\n\r\t" else ch
        for ch in text
        if ch in "\n\r\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
        or ch == "\u200d"  # zero-width joiner keeps emoji sequences together
    )


def clean(text: str | None, title: str | None = None) -> str:
    """Title + text, without surrogates or control characters, whitespace collapsed, bounded."""
    joined = f"{title}. {text or ''}" if title else (text or "")
    joined = _SURROGATES.sub("", joined[: MAX_CHARS * 2])
    joined = _drop_controls(joined)
    return _SPACES.sub(" ", joined).strip()[:MAX_CHARS]


@functools.cache
def _opencc():
    from opencc import OpenCC

    return OpenCC("t2s")


def has_han(text: str) -> bool:
    return _HAN.search(text) is not None


def to_simplified(text: str) -> str:
    """Traditional -> Simplified Chinese (OpenCC t2s); other text is returned unchanged."""
    return _opencc().convert(text) if has_han(text) else text


def strip_links_and_mentions(text: str) -> str:
    return _SPACES.sub(" ", _MENTION.sub(" ", _URL.sub(" ", text))).strip()


def skip_reason(cleaned: str) -> str | None:
    """Why a cleaned text cannot be analysed by the models, or None when it can."""
    if not cleaned:
        return EMPTY
    if not _WORDLIKE.search(strip_links_and_mentions(cleaned)):
        return NO_WORDS
    return None


_REPOST = re.compile(r"\s*//\s*@")
_REPLY = re.compile(r"^\s*回复\s*@[^:：\s]+[:：]\s*")


def own_words(text: str) -> str:
    """The author's own words of a repost: Weibo-style reposts read ``comment //@a: quoted //@b: ...``.

    The reposter's stance is in the comment, not in the quoted chain, so the chain is dropped
    when the comment has words of its own (a bare repost keeps the chain).
    """
    text = _REPLY.sub("", text)
    parts = _REPOST.split(text, maxsplit=1)
    if len(parts) == 2 and skip_reason(parts[0].strip()) is None:
        return parts[0]
    return _REPOST.sub(" @", text)


def model_text(cleaned: str) -> str:
    """What the models read: the author's own words, in Simplified Chinese, without @mentions,
    links shortened to a placeholder."""
    text = _MENTION.sub(" ", own_words(cleaned))
    text = _SPACES.sub(" ", _URL.sub("http", text)).strip()
    return to_simplified(text or cleaned)
