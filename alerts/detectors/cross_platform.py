"""cross_platform: the same crisis keyword or topic spreading over several sources at once."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from crisiswatch.core.extensions import DetectorSpec
from crisiswatch.core.model import Level
from crisiswatch.core.store.base import PostFilter
from crisiswatch.core.text import extract_terms, normalize_width_case

from alerts.detectors.base import (DetectorParams, Duration, Evaluation, RuleContext, collect_evidence,
                                   describe_span, idle, scope_name, topic_keywords)
from alerts.detectors.terms import MAX_TERM_BREAKDOWN, any_of, lexicon, negative_only, term_variants, text_query
from alerts.naming import against_day_earlier
from alerts.severity import rule_level


class CrossPlatformParams(DetectorParams):
    min_sources: int = Field(default=3, ge=2)
    """The same keyword or topic must appear on at least this many sources within the window."""
    min_per_source: int = Field(default=1, ge=1)
    """Posts needed on a source for it to count."""
    terms: list[str] = Field(default_factory=list)
    """Extra keywords to follow, added to the crisis lexicon."""
    topics: bool = True
    """Also follow topic clusters (needs enrichment with topics)."""
    negative_only: bool = True
    min_history: Duration = "0s"


def default_thresholds(params: CrossPlatformParams) -> dict[Level, float]:
    """The score is a number of sources: blue at ``min_sources``, one more source per level."""
    k = params.min_sources
    return {Level.blue: k, Level.yellow: k + 1, Level.orange: k + 2, Level.red: k + 3}


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
    if combined and ctx.store.count_by_field("source", window.narrow(text=text_query(combined, window.text)), limit=1):
        for term, variants in others.items():
            if variants:
                for source, n in _sources_with(ctx, window.narrow(text=text_query(variants, window.text))).items():
                    found[term][source] = found[term].get(source, 0) + n
    return {term: {s: n for s, n in counts.items() if n >= ctx.params.min_per_source}
            for term, counts in found.items()}


def cross_platform(ctx: RuleContext) -> list[Evaluation]:
    """The same crisis keyword or topic on at least ``min_sources`` sources within the window.

    Baseline: how many sources carried that keyword or topic in the same window a day
    earlier; the rule fires only when the spread is wider now (a story spreading, not a
    keyword that is always everywhere).
    """
    end, window_start = ctx.bucket_end, ctx.window_start
    if ctx.data_start is None:
        return [idle(ctx, title="no posts in the store yet", unit="sources")]
    base = negative_only(ctx, ctx.base_filter())
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
        keywords = topic_keywords(ctx, flt.narrow(since=window_start, until=end))
        label = f"topic '{', '.join(keywords[:4])}'" if keywords else label
    evaluation = ctx.evaluation(
        observed=count, baseline=len(before), spread=None, score=count, level=level, unit="sources",
        group_key=key if fires else "", window_start=window_start, filter=flt.narrow(since=window_start, until=end),
        title=(f"{label} spread to {count} sources ({', '.join(sorted(sources))}) on {scope_name(ctx)} in the "
               f"last {describe_span(end - window_start)}, {against_day_earlier(len(before))}"))
    if evaluation.fired:
        evaluation.evidence = collect_evidence(ctx.store, evaluation.filter)
        evaluation.evidence["sources"] = sources
    return [evaluation]


SPEC = DetectorSpec(
    name="cross_platform", run=cross_platform, params=CrossPlatformParams, thresholds=default_thresholds,
    family="spread", story=True,
    description="one crisis keyword or topic on at least min_sources sources, more than a day earlier")
