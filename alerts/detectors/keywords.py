"""keyword_burst and cross_platform: crisis terms in negative posts, and their spread."""

from __future__ import annotations

import functools
from datetime import timedelta

import numpy as np

from crisiswatch.core.config import parse_duration
from crisiswatch.core.store.base import PostFilter, parse_text_query
from crisiswatch.core.text import extract_terms, normalize_width_case

from alerts.baseline import anscombe, seasonal_deviation
from alerts.detectors import Evaluation, RuleContext, collect_evidence, idle, series_start
from alerts.detectors.volume import describe_span, scope_name
from alerts.severity import rule_level

MAX_TERM_BREAKDOWN = 30


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
    return _query([v for term in terms for v in term_variants(term)], within)


def _negative(ctx: RuleContext, flt: PostFilter) -> PostFilter:
    if ctx.params.negative_only and flt.sentiments is None:
        return flt.narrow(sentiments=("negative",))
    return flt


def keyword_burst(ctx: RuleContext) -> list[Evaluation]:
    """Posts with crisis-lexicon terms (negative ones by default) in the window, against normal."""
    terms = lexicon(ctx)
    if not terms:
        return [idle(ctx, title="no crisis lexicon configured")]
    bucket, end = ctx.bucket, ctx.bucket_end
    span = int(round((end - ctx.window_start) / bucket))
    start = series_start(ctx, end)
    if start is None:
        return [idle(ctx, title="no posts in the store yet")]
    base = _negative(ctx, ctx.base_filter())
    flt = base.narrow(text=any_of(terms, base.text))
    start = min(start, end - span * bucket)
    counts = ctx.cache.counts(flt, start, end, bucket, parse_duration(ctx.params.settle))
    history_len = len(counts) - span
    observed = float(counts[history_len:].sum())
    if history_len * bucket >= max(parse_duration(ctx.params.min_history), bucket):
        deviation = seasonal_deviation(counts[:history_len], start, bucket, counts[history_len:], [span])[0]
        expected, spread, z = deviation.expected, deviation.spread, deviation.z
    else:  # no history yet: crisis terms are normally absent, so compare with zero
        expected, spread = 0.0, float(np.sqrt(0.375))
        z = float(anscombe(observed) - anscombe(0.0))
    fires = observed >= ctx.rule.min_count and observed > expected
    level = rule_level(z, ctx.thresholds) if fires else None
    window = flt.narrow(since=end - span * bucket, until=end)
    evaluation = ctx.evaluation(observed=observed, baseline=expected, spread=spread, score=z, level=level,
                                window_start=end - span * bucket, filter=window,
                                title=(f"{observed:g} {'negative ' if base.sentiments == ('negative',) else ''}"
                                       f"posts on {scope_name(ctx)} use crisis terms in the last "
                                       f"{describe_span(span * bucket)}, against a usual {expected:.1f}"))
    if evaluation.fired:
        evaluation.evidence = collect_evidence(ctx.store, window)
        matched = []
        for term in terms[:MAX_TERM_BREAKDOWN]:
            n = ctx.store.count_posts(base.narrow(since=end - span * bucket, until=end, text=any_of([term], base.text)))
            if n:
                matched.append([term, n])
        matched.sort(key=lambda item: -item[1])
        evaluation.evidence["crisis_terms"] = matched
        if matched:
            evaluation.title += " (" + ", ".join(t for t, _ in matched[:4]) + ")"
        shown = min(len(counts), 192)
        starts = [start + (len(counts) - shown + k) * bucket for k in range(shown)]
        evaluation.series = list(zip(starts, counts[-shown:].tolist()))
    return [evaluation]


def _sources_with(ctx: RuleContext, flt: PostFilter) -> dict[str, int]:
    return {t.term: t.count for t in ctx.store.count_by_field("source", flt, limit=200)
            if t.count >= ctx.params.min_per_source and t.term != "none"}


def _is_token(variant: str) -> bool:
    """True when the store indexes the variant as one term (``extract_terms``), so per-source
    term counts find it; phrases and Traditional forms jieba does not cut need a text query."""
    return extract_terms(variant) == [normalize_width_case(variant)]


def _term_sources(ctx: RuleContext, window: PostFilter, sources: list[str], terms: list[str]) -> dict[str, dict[str, int]]:
    """Sources and post counts per crisis term in the window.

    Single-token variants are counted from each source's top terms (one cheap query per
    source); the other variants through text queries, and only when one combined query
    shows any of them at all.
    """
    found: dict[str, dict[str, int]] = {term: {} for term in terms}
    tokens = {normalize_width_case(v): term for term in terms for v in term_variants(term) if _is_token(v)}
    for source in sources:
        for item in ctx.store.top_terms(window.narrow(sources=(source,)), limit=5000):
            term = tokens.get(item.term)
            if term is not None:
                found[term][source] = found[term].get(source, 0) + item.count
    others = {term: [v for v in term_variants(term) if not _is_token(v)] for term in terms}
    combined = [v for variants in others.values() for v in variants]
    if combined and ctx.store.count_by_field("source", window.narrow(text=_query(combined, window.text)), limit=1):
        for term, variants in others.items():
            if variants:
                for source, n in _sources_with(ctx, window.narrow(text=_query(variants, window.text))).items():
                    found[term][source] = found[term].get(source, 0) + n
    return {term: {s: n for s, n in counts.items() if n >= ctx.params.min_per_source}
            for term, counts in found.items()}


def _query(variants: list[str], within: str | None) -> str:
    base = parse_text_query(within) if within else [[]]
    return " OR ".join(" ".join(f'"{t}"' for t in [*alt, v]) for alt in base for v in variants)


def cross_platform(ctx: RuleContext) -> list[Evaluation]:
    """The same crisis keyword or topic on at least ``min_sources`` sources within the window.

    Baseline: how many sources carried that keyword or topic in the same window a day
    earlier; the rule fires only when the spread is wider now (a story spreading, not a
    keyword that is always everywhere).
    """
    end, window_start = ctx.bucket_end, ctx.window_start
    if ctx.data_start is None:
        return [idle(ctx, title="no posts in the store yet", unit="sources")]
    base = _negative(ctx, ctx.base_filter())
    window = base.narrow(since=window_start, until=end)
    overall = _sources_with(ctx, window)
    if len(overall) < ctx.params.min_sources:
        return [idle(ctx, observed=len(overall), unit="sources", title="too few sources in the window")]
    day = timedelta(days=1)
    # (rank, key, label, posts filter, sources now, sources a day earlier - computed on demand)
    candidates: list[tuple[tuple[int, int], str, str, PostFilter, dict[str, int], object]] = []
    terms = lexicon(ctx)[:MAX_TERM_BREAKDOWN]
    if terms:
        for term, sources in _term_sources(ctx, window, sorted(overall), terms).items():
            if len(sources) >= ctx.params.min_sources:
                flt = base.narrow(text=any_of([term], base.text))
                candidates.append(((len(sources), sum(sources.values())), f"term:{term}", f"'{term}'", flt, sources,
                                   lambda term=term: _term_sources(
                                       ctx, base.narrow(since=window_start - day, until=end - day),
                                       sorted(overall), [term])[term]))
    if ctx.params.topics:
        for topic in ctx.store.count_by_field("topic_id", window, limit=5):
            if topic.term not in ("none", "-1") and topic.count >= ctx.params.min_per_source * ctx.params.min_sources:
                flt = base.narrow(topic_ids=(int(topic.term),))
                sources = _sources_with(ctx, flt.narrow(since=window_start, until=end))
                candidates.append(((len(sources), sum(sources.values())), f"topic:{topic.term}", f"topic {topic.term}",
                                   flt, sources, lambda flt=flt: _sources_with(
                                       ctx, flt.narrow(since=window_start - day, until=end - day))))
    if not candidates:
        return [idle(ctx, unit="sources", title="no crisis keyword or topic on enough sources")]
    (count, total), key, label, flt, sources, earlier = max(candidates, key=lambda c: c[0])
    before = earlier()
    fires = count >= ctx.params.min_sources and count > len(before) and total >= ctx.rule.min_count
    level = rule_level(count, ctx.thresholds) if fires else None
    if key.startswith("topic:") and fires:
        keywords = _topic_keywords(ctx, flt.narrow(since=window_start, until=end))
        label = f"topic '{', '.join(keywords[:4])}'" if keywords else label
    evaluation = ctx.evaluation(
        observed=count, baseline=len(before), spread=None, score=count, level=level, unit="sources",
        group_key=key if fires else "", window_start=window_start, filter=flt.narrow(since=window_start, until=end),
        title=(f"{label} spread to {count} sources ({', '.join(sorted(sources))}) on {scope_name(ctx)} in the "
               f"last {describe_span(end - window_start)}, against {len(before)} a day earlier"))
    if evaluation.fired:
        evaluation.evidence = collect_evidence(ctx.store, evaluation.filter)
        evaluation.evidence["sources"] = sources
    return [evaluation]


def _topic_keywords(ctx: RuleContext, flt: PostFilter) -> list[str]:
    posts = ctx.store.top_posts(flt, order="engagement", limit=1)
    if not posts:
        return []
    enrichment = ctx.store.get_enrichments([posts[0].id]).get(posts[0].id)
    return list(enrichment.topic_keywords) if enrichment else []
