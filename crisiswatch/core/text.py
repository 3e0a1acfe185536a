"""Text helpers shared by the store, crawlers, NLP and detectors.

``extract_terms`` is the single definition of a "term": every backend stores the same
terms for a post, so top-terms evidence is identical on SQLite and Elasticsearch.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import unicodedata

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"#[\w{_CJK}]+|[{_CJK}]+|[^\W\d_{_CJK}]{{2,}}(?:['’][a-z]+)?", re.UNICODE)
"""Hashtags, Chinese runs, and words of other scripts (which stop where Chinese starts)."""
_HAN = re.compile(f"[{_CJK}]")
_JIEBA_HAN_RUN = re.compile("[\u4e00-\u9fd5]+")  # what jieba itself treats as one Chinese block
_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@[\w.\-]+")
MAX_TERMS_PER_POST = 48

STOPWORDS = frozenset(
    """a about after again all also am an and any are as at be because been before being but by can
    could did do does doing don for from get got had has have having he her here hers him his how
    i if in into is it its just me more most my no nor not now of off on once only or other our out
    over own same she should so some such than that the their them then there these they this those
    through to too under until up very was we were what when where which while who why will with
    would you your yours im ive dont cant didnt isnt its it's i'm i've don't can't didn't isn't
    again amp rt via http https www com just like one get
    的 了 是 我 你 他 她 它 们 在 有 和 就 不 人 都 一 一个 上 也 很 到 说 要 去 会 着 没有 看 好 自己 这 那
    这个 那个 啊 吧 呢 吗 哦 嗯 么 与 及 等 被 把 让 给 对 而 还 又 但 但是 因为 所以 如果 就是 还是 可以
    没 呀 啦 哈哈 哈哈哈 什么 怎么 真的 已经 现在 今天 我们 你们 他们 这样 一下 一样 还有 这么 那么 之后
    """.split()
)

log = logging.getLogger(__name__)


@functools.cache
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


@functools.cache
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


@functools.cache
def _t2s_trigger_chars() -> frozenset[str] | None:
    """Characters without which t2s leaves a text unchanged, so the slow conversion can be
    skipped: for every dictionary entry that changes its text, one character of its key
    (a character t2s itself changes where the key has one). OpenCC only rewrites dictionary
    matches, so a text holding none of these characters matches no changing entry.
    None when the OpenCC internals are not the ones this was written against."""
    converter = _t2s()
    converter.convert("質量")  # loads the dictionaries
    try:
        mappings = [mapping for group in converter._dict_chain_data for _max, _min, mapping in group]
        changed_chars = {key for mapping in mappings for key, value in mapping.items()
                         if len(key) == 1 and key != value}
        triggers = {next((c for c in key if c in changed_chars), key[0])
                    for mapping in mappings for key, value in mapping.items() if key != value}
    except (AttributeError, TypeError, ValueError):
        return None
    return frozenset(triggers) if triggers else None


def has_han(text: str) -> bool:
    return _HAN.search(text) is not None


def to_simplified(text: str) -> str:
    """Traditional -> Simplified Chinese (OpenCC t2s); text without Han characters is returned as is."""
    if not has_han(text):
        return text
    triggers = _t2s_trigger_chars()
    if triggers is not None and triggers.isdisjoint(text):
        return text
    return _t2s().convert(text)


def _segment(run: str) -> list[str]:
    """jieba's precise cut without HMM (``lcut(run, HMM=False)``) of a run of characters in
    jieba's Chinese block (U+4E00..U+9FD5), computed in one pass: the same dictionary DAG and
    the same best route (ties to the longer word), without jieba's per-call generators."""
    tokenizer = _jieba().dt
    freq = tokenizer.FREQ
    log = math.log
    logtotal = log(tokenizer.total)
    n = len(run)
    score = [0.0] * (n + 1)
    end = [0] * (n + 1)
    for start in range(n - 1, -1, -1):
        best: tuple[float, int] | None = None
        i = start
        frag = run[start]
        while i < n and frag in freq:
            count = freq[frag]
            if count:
                option = (log(count) - logtotal + score[i + 1], i)
                if best is None or option > best:
                    best = option
            i += 1
            frag = run[start:i + 1]
        if best is None:
            best = (log(freq.get(run[start]) or 1) - logtotal + score[start + 1], start)
        score[start], end[start] = best
    words = []
    x = 0
    while x < n:
        y = end[x] + 1
        words.append(run[x:y])
        x = y
    return words


@functools.lru_cache(maxsize=65536)
def _cut_chinese(run: str) -> tuple[str, ...]:
    """Words of a Chinese run, cut in Simplified form (jieba's dictionary is Simplified, and
    質量 and 质量 are one term to an analyst)."""
    simplified = to_simplified(run)
    if _JIEBA_HAN_RUN.fullmatch(simplified):
        words = _segment(simplified)
    else:
        words = _jieba().lcut(simplified, HMM=False)
    return tuple(w for w in words if len(w) >= 2)


def normalize_width_case(text: str) -> str:
    """NFKC (full-width to half-width) and case folding."""
    return unicodedata.normalize("NFKC", text).casefold()


def extract_terms(text: str, title: str | None = None) -> list[str]:
    """Distinct content terms of a post, in order of first appearance.

    Latin-script words (lower-cased, stop words removed), hashtags, and Chinese words cut
    by jieba in Simplified form; URLs and @mentions are left out because they are not what a story is about.
    """
    source = normalize_width_case(f"{title}\n{text}" if title else text)
    if "http" in source or "www." in source:  # the substring tests skip two regex passes
        source = _URL.sub(" ", source)
    if "@" in source:
        source = _MENTION.sub(" ", source)
    terms: dict[str, None] = {}
    for token in _TOKEN.findall(source):
        words = (token,) if token[0] == "#" or not _HAN.match(token) else _cut_chinese(token)
        for word in words:
            if word not in STOPWORDS and word.lstrip("#"):
                terms[word] = None
                if len(terms) >= MAX_TERMS_PER_POST:
                    return list(terms)
    return list(terms)
