"""Lexicon features that a head may read next to the embedding.

VADER (``vaderSentiment``, MIT licence) is a sentiment lexicon rated by people and tuned for
social media (slang, emoticons, "!!!", capitals, negation). Small sentence encoders are weak
at exactly that register, and the English training data the project may ship is small, so
the built-in sentiment head reads VADER's four scores beside the embedding. Texts without
Latin-script words get zeros: VADER has nothing to say about Chinese.
"""

from __future__ import annotations

import functools
import re

import numpy as np

FEATURES = {"vader": 4}
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


@functools.cache
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader(texts: list[str]) -> np.ndarray:
    out = np.zeros((len(texts), 4), dtype=np.float32)
    for row, text in enumerate(texts):
        if _LATIN_WORD.search(text):
            scores = _vader().polarity_scores(text)
            out[row] = (scores["neg"], scores["neu"], scores["pos"], scores["compound"])
    return out


def features(names: list[str], texts: list[str]) -> np.ndarray:
    """The named feature blocks for ``texts``, side by side (n, sum of widths)."""
    blocks = []
    for name in names:
        if name != "vader":
            raise ValueError(f"unknown lexicon feature '{name}' (known: {', '.join(FEATURES)})")
        blocks.append(vader(texts))
    return np.hstack(blocks) if blocks else np.zeros((len(texts), 0), dtype=np.float32)
