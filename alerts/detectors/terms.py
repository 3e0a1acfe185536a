"""Crisis terms as store queries, shared by the detectors that follow words
(keyword_burst, cross_platform): the lexicon of a rule, its Traditional/Simplified Chinese
variants, and ``PostFilter.text`` queries matching any of them."""

from __future__ import annotations

import functools

from crisiswatch.core.store.base import PostFilter

from alerts.detectors.base import RuleContext

MAX_TERM_BREAKDOWN = 30
"""Terms counted one by one for the evidence (the lexicon can be long; each is a query)."""


@functools.cache
def _converters():  # noqa: ANN202
    from opencc import OpenCC

    return OpenCC("s2t"), OpenCC("t2s")


@functools.lru_cache(maxsize=4096)
def term_variants(term: str) -> list[str]:
    """The term as written plus its Traditional and Simplified Chinese forms (起訴 / 起诉)."""
    term = term.replace('"', "").strip()
    if not term:
        return []
    s2t, t2s = _converters()
    return list(dict.fromkeys([term, s2t.convert(term), t2s.convert(term)]))


def lexicon(ctx: RuleContext) -> list[str]:
    """The crisis lexicon for this rule: the config's plus the rule's own terms, deduplicated."""
    return list(dict.fromkeys(t.strip() for t in [*ctx.config.crisis_lexicon, *ctx.params.terms] if t.strip()))


def any_of(terms: list[str], within: str | None = None) -> str:
    """A ``PostFilter.text`` query matching any variant of any term (and, if given, ``within``)."""
    return _any_of(tuple(terms), within)


@functools.lru_cache(maxsize=1024)
def _any_of(terms: tuple[str, ...], within: str | None) -> str:
    return text_query([v for term in terms for v in term_variants(term)], within)


def text_query(variants: list[str], within: str | None) -> str:
    """Any of ``variants`` (each a phrase) among the posts of the query ``within`` (the rule's
    own text filter, in the store's query language: NOT, fields and groups included)."""
    phrases = " OR ".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in variants)
    return f"({within}) AND ({phrases})" if within else phrases


def negative_only(ctx: RuleContext, flt: PostFilter) -> PostFilter:
    """``flt`` narrowed to negative posts when the rule's ``negative_only`` asks for it and its
    filter does not already choose sentiments."""
    if ctx.params.negative_only and flt.sentiments is None:
        return flt.narrow(sentiments=("negative",))
    return flt
