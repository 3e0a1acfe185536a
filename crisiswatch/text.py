"""Text helpers shared by the store, crawlers, NLP and detectors.

``extract_terms`` is the single definition of a "term": every backend stores the same
terms for a post, so top-terms evidence is identical on SQLite and Elasticsearch.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"#[\w{_CJK}]+|[{_CJK}]+|[^\W\d_]{{2,}}(?:['’][a-z]+)?", re.UNICODE)
_HAN = re.compile(f"[{_CJK}]")
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


def has_han(text: str) -> bool:
    return _HAN.search(text) is not None


def to_simplified(text: str) -> str:
    """Traditional -> Simplified Chinese (OpenCC t2s); text without Han characters is returned as is."""
    return _t2s().convert(text) if has_han(text) else text


@functools.lru_cache(maxsize=65536)
def _cut_chinese(run: str) -> tuple[str, ...]:
    """Words of a Chinese run, cut in Simplified form (jieba's dictionary is Simplified, and
    質量 and 质量 are one term to an analyst)."""
    return tuple(w for w in _jieba().lcut(to_simplified(run), HMM=False) if len(w) >= 2)


def normalize_width_case(text: str) -> str:
    """NFKC (full-width to half-width) and case folding."""
    return unicodedata.normalize("NFKC", text).casefold()


def extract_terms(text: str, title: str | None = None) -> list[str]:
    """Distinct content terms of a post, in order of first appearance.

    Latin-script words (lower-cased, stop words removed), hashtags, and Chinese words cut
    by jieba in Simplified form; URLs and @mentions are left out because they are not what a story is about.
    """
    source = f"{title}\n{text}" if title else text
    source = _MENTION.sub(" ", _URL.sub(" ", normalize_width_case(source)))
    terms: dict[str, None] = {}
    for token in _TOKEN.findall(source):
        if token[0] == "#" or not re.match(f"[{_CJK}]", token):
            candidates = [token]
        else:
            candidates = _cut_chinese(token)
        for word in candidates:
            if word not in STOPWORDS and word.lstrip("#"):
                terms[word] = None
                if len(terms) >= MAX_TERMS_PER_POST:
                    return list(terms)
    return list(terms)
