"""Language detection that copes with the short, mixed-script texts of social media.

lingua (a library built for short texts) decides between alphabetic languages. Script
counts decide first where they are unambiguous, because statistical detectors are weakest
exactly where the script already tells: Han-only text is Chinese (lingua sometimes says
Japanese for short Han strings), kana means Japanese, hangul Korean. Mixed Chinese/English
posts go to the script with more content (Han characters vs Latin words). A text without
enough letters, or one lingua cannot separate from its runner-up, is ``und``.
"""

from __future__ import annotations

import functools
import re

from nlp.textprep import strip_links_and_mentions

UNDETERMINED = "und"
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_LATIN_WORD = re.compile(r"[A-Za-zÀ-ɏ]{2,}")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_HASHTAG = re.compile(r"#\w+")
_LINK_PLACEHOLDER = re.compile(r"\bhttp\b")
"""What ``nlp.textprep.model_text`` leaves of a link: not a word of any language."""

# Languages lingua chooses among (more candidates = slower and more confusable on short text).
_LINGUA_LANGUAGES = ("ENGLISH", "FRENCH", "GERMAN", "SPANISH", "PORTUGUESE", "ITALIAN", "DUTCH",
                     "RUSSIAN", "ARABIC", "HINDI", "INDONESIAN", "MALAY", "VIETNAMESE", "THAI",
                     "TURKISH", "JAPANESE", "KOREAN", "CHINESE")


@functools.cache
def _detector():
    from lingua import Language, LanguageDetectorBuilder

    languages = [getattr(Language, name) for name in _LINGUA_LANGUAGES]
    return (LanguageDetectorBuilder.from_languages(*languages)
            .with_minimum_relative_distance(0.1).with_preloaded_language_models().build())


def _by_script(text: str) -> tuple[str | None, str]:
    """(language decided by script, or None; the text lingua should judge otherwise)."""
    body = " ".join(_LINK_PLACEHOLDER.sub(" ", _HASHTAG.sub(" ", strip_links_and_mentions(text or ""))).split())
    if len(_LETTER.findall(body)) < 2:
        return UNDETERMINED, body
    han = len(_HAN.findall(body))
    if _KANA.search(body):
        return "ja", body
    if _HANGUL.search(body) and not han:
        return "ko", body
    latin_words = len(_LATIN_WORD.findall(body))
    if han >= 2 and han >= latin_words:
        return "zh", body
    if han:  # mostly Latin words with a few characters: judge the Latin part
        body = _HAN.sub(" ", body)
    return None, body


def _code(language) -> str:
    return UNDETERMINED if language is None else language.iso_code_639_1.name.lower()


def detect(text: str) -> str:
    """ISO 639-1 code of the main language of ``text``, or ``und``."""
    decided, body = _by_script(text)
    return decided if decided else _code(_detector().detect_language_of(body))


def detect_many(texts: list[str]) -> list[str]:
    """``detect`` for a batch; lingua judges the undecided ones in parallel (its Rust threads).

    lingua's answers are remembered for the last ``_REMEMBERED`` texts it judged: enrichment
    asks for a post's language, and the sentiment head's VADER gate asks again for the same
    words (``nlp.lexicon``), so the second question costs nothing."""
    results: list[str | None] = []
    pending: dict[str, list[int]] = {}
    for index, text in enumerate(texts):
        decided, body = _by_script(text)
        if decided is None:
            decided = _JUDGED.get(body)
            if decided is None:
                pending.setdefault(body, []).append(index)
        results.append(decided)
    if pending:
        found = _detector().detect_languages_in_parallel_of(list(pending))
        if len(_JUDGED) + len(pending) > _REMEMBERED:
            _JUDGED.clear()
        for (body, indexes), language in zip(pending.items(), found):
            _JUDGED[body] = _code(language)
            for index in indexes:
                results[index] = _JUDGED[body]
    return [result or UNDETERMINED for result in results]


_REMEMBERED = 20_000
_JUDGED: dict[str, str] = {}
