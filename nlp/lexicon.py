"""Lexicon features that a head may read next to the embedding.

* ``vader``: VADER (``vaderSentiment``, MIT licence), a sentiment lexicon rated by people and
  tuned for social media (slang, emoticons, "!!!", capitals, negation). Small sentence
  encoders are weak at exactly that register, and the English training data the project may
  ship is small, so the built-in sentiment head reads VADER's four scores beside the
  embedding. Gating: VADER only reads the Latin-script words of a post, so its scores are
  scaled by the share of the post those words make up (CJK characters count as words of
  their own language). A Chinese post with a link (the ``http`` placeholder) or one English
  word ("OMG 太差了") therefore gets (almost) nothing, as it did in training, instead of
  proportions computed from that single word; and posts in other Latin-script languages
  (French, Spanish …) get nothing, since VADER would call all their words neutral.
* ``weibo_emoticons``: the Weibo counterpart of VADER. Weibo's bracketed emoticons
  (``[怒]``, ``[泪]``, ``[赞]`` …) are the strongest sentiment signal in those posts; the
  lexicon below (written for this project) gives each a polarity, and the feature is the
  summed positive and negative weight, each squashed to [0, 1).
"""

from __future__ import annotations

import functools
import re

import numpy as np

FEATURES = {"vader": 4, "weibo_emoticons": 2}
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z']+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_PLACEHOLDERS = {"http", "https", "www", "rt", "amp", "via"}
CJK_CHARS_PER_WORD = 1.5
"""A Chinese word is about 1.5 characters: the unit in which CJK text is weighed against Latin words."""
MIN_LATIN_WORDS = 2

# polarity in [-1, 1]; written for crisiswatch from the meaning of Weibo's default emoticon set
WEIBO_EMOTICONS: dict[str, float] = {
    # positive
    "赞": 1.0, "good": 1.0, "哈哈": 0.9, "嘻嘻": 0.8, "偷笑": 0.6, "爱你": 1.0, "心": 0.9, "鼓掌": 0.9,
    "威武": 0.9, "给力": 1.0, "可爱": 0.8, "太开心": 1.0, "开心": 1.0, "笑哈哈": 0.9, "ok": 0.6, "耶": 0.9,
    "酷": 0.7, "花心": 0.8, "亲亲": 0.8, "爱心": 0.9, "礼物": 0.7, "蛋糕": 0.6, "鲜花": 0.7, "握手": 0.6,
    "赞啊": 1.0, "笑cry": 0.5, "馋嘴": 0.6, "好爱哦": 1.0, "羞嗑": 0.6, "害羞": 0.5, "嘿哈": 0.6,
    "挤眼": 0.5, "太阳": 0.5, "兔子": 0.3, "抱抱": 0.6, "加油": 0.8, "作揖": 0.5, "耶耶": 0.8, "围观": 0.1,
    "互粉": 0.4, "奥特曼": 0.3, "doge": 0.2, "喵喵": 0.4, "二哈": 0.2, "污": 0.1, "憧憬": 0.7, "感动": 0.7,
    "好喜欢": 1.0, "色": 0.6, "得意地笑": 0.6, "春暖花开": 0.6,
    # negative
    "怒": -1.0, "怒骂": -1.0, "抓狂": -0.9, "泪": -0.9, "悲伤": -1.0, "伤心": -1.0, "失望": -1.0, "生病": -0.6,
    "衰": -0.8, "委屈": -0.8, "可怜": -0.7, "鄙视": -0.9, "哼": -0.6, "吐": -0.8, "晕": -0.5, "汗": -0.4,
    "困": -0.3, "睡": -0.1, "怒怒": -1.0, "弱": -0.8, "no": -0.6, "不要": -0.6, "蜡烛": -0.7, "心碎": -1.0,
    "伤心欲绝": -1.0, "哭": -0.9, "大哭": -0.9, "泪流满面": -0.8, "崩溃": -0.9, "左哼哼": -0.6,
    "右哼哼": -0.6, "黑线": -0.5, "拜拜": -0.2, "疑问": -0.2, "嘘": -0.2, "打脸": -0.6, "费解": -0.3,
    "白眼": -0.7, "阴险": -0.4, "傻眼": -0.5, "吃惊": -0.2, "挖鼻": -0.2, "思考": 0.0, "允悲": -0.4,
    "并不简单": -0.1, "摊手": -0.3, "裂开": -0.7, "单身狗": -0.1, "骷髅": -0.5, "惊恐": -0.7, "生气": -1.0,
}
_EMOTICON = re.compile(r"\[([^\[\]\s]{1,8})\]")


@functools.cache
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def latin_share(text: str) -> float:
    """Share of the post's words that are Latin-script words VADER can read (placeholders left out)."""
    words = [w for w in _LATIN_WORD.findall(text) if w.lower() not in _PLACEHOLDERS]
    if len(words) < MIN_LATIN_WORDS:
        return 0.0
    cjk_words = len(_CJK.findall(text)) / CJK_CHARS_PER_WORD
    return len(words) / (len(words) + cjk_words)


def vader(texts: list[str]) -> np.ndarray:
    """VADER's (neg, neu, pos, compound) for English posts, scaled by their Latin share; zeros otherwise.

    VADER is an English lexicon: on French or Spanish it finds no rated word and answers
    "all neutral", which made the head call most French posts neutral. The language is
    lingua's (``nlp.language``), the same detector enrichment reports."""
    from nlp.language import detect_many

    out = np.zeros((len(texts), 4), dtype=np.float32)
    shares = [latin_share(text) for text in texts]
    rows = [row for row, share in enumerate(shares) if share > 0]
    languages = detect_many([texts[row] for row in rows]) if rows else []
    for row, language in zip(rows, languages):
        if language in ("en", "und"):
            scores = _vader().polarity_scores(texts[row])
            out[row] = shares[row] * np.array((scores["neg"], scores["neu"], scores["pos"], scores["compound"]))
    return out


def weibo_emoticons(texts: list[str]) -> np.ndarray:
    """(n, 2): squashed positive and negative weight of the known ``[xx]`` emoticons in each text."""
    out = np.zeros((len(texts), 2), dtype=np.float32)
    for row, text in enumerate(texts):
        positive = negative = 0.0
        for name in _EMOTICON.findall(text):
            polarity = WEIBO_EMOTICONS.get(name, WEIBO_EMOTICONS.get(name.lower(), 0.0))
            if polarity > 0:
                positive += polarity
            else:
                negative -= polarity
        out[row] = (np.tanh(positive), np.tanh(negative))
    return out


_BLOCKS = {"vader": vader, "weibo_emoticons": weibo_emoticons}


def features(names: list[str], texts: list[str]) -> np.ndarray:
    """The named feature blocks for ``texts``, side by side (n, sum of widths)."""
    blocks = []
    for name in names:
        if name not in _BLOCKS:
            raise ValueError(f"unknown lexicon feature '{name}' (known: {', '.join(FEATURES)})")
        blocks.append(_BLOCKS[name](texts))
    return np.hstack(blocks) if blocks else np.zeros((len(texts), 0), dtype=np.float32)
