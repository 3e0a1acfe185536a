"""influencer: one negative post that can reach many people, or is spreading fast."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from crisiswatch.core.extensions import DetectorSpec
from crisiswatch.core.model import Level

from alerts.detectors.base import (DetectorParams, Duration, Evaluation, RuleContext, collect_evidence, idle,
                                   post_snapshot, scope_name)
from alerts.severity import rule_level

MIN_AGE = timedelta(minutes=15)
"""Engagement velocity is per hour since posting, counted over at least fifteen minutes (a
post collected minutes after publication would otherwise look extremely fast)."""
UNKNOWN_AGE = timedelta(minutes=1)
"""Posts whose collection time is (almost) their creation time - imports, replays of final
counts - say nothing about how fast engagement grew: only their reach counts."""




class InfluencerParams(DetectorParams):
    min_followers: int = Field(default=100_000, ge=1)
    """Reach at which one negative post is worth an alert."""
    velocity_per_hour: float = Field(default=500.0, gt=0)
    """Engagement (likes + shares + replies) per hour since posting that is worth an alert."""
    negative_only: bool = True
    min_history: Duration = "0s"


def influencer(ctx: RuleContext) -> list[Evaluation]:
    """Score = the strongest of reach / min_followers and velocity / velocity_per_hour."""
    params, end, start = ctx.params, ctx.bucket_end, ctx.window_start
    if ctx.data_start is None:
        return [idle(ctx, title="no posts in the store yet", unit="× threshold")]
    base = ctx.base_filter(since=start, until=end)
    if params.negative_only and base.sentiments is None:
        base = base.narrow(sentiments=("negative",))
    candidates = {p.id: p for p in ctx.store.top_posts(base.narrow(min_followers=params.min_followers),
                                                       order="reach", limit=5)}
    for post in ctx.store.top_posts(base, order="engagement", limit=20):
        candidates.setdefault(post.id, post)
    best, best_score, best_reason = None, 0.0, ""
    for post in candidates.values():
        age = post.collected_at - post.created_at
        velocity = post.engagement.total / (max(age, MIN_AGE).total_seconds() / 3600) if age >= UNKNOWN_AGE else 0.0
        reach_score = post.reach / params.min_followers
        velocity_score = velocity / params.velocity_per_hour
        score = max(reach_score, velocity_score)
        if score > best_score:
            best, best_score = post, score
            best_reason = f"{post.reach:,} followers and {velocity:,.0f} interactions per hour"
    if best is None:
        return [idle(ctx, unit="× threshold", title="no negative post in the window")]
    level = rule_level(best_score, ctx.thresholds)
    who = best.author.handle or best.author.name or "an author"
    evaluation = ctx.evaluation(
        observed=round(best_score, 2), baseline=1.0, spread=None, score=best_score, level=level,
        unit="× threshold", window_start=start, filter=base,
        title=f"negative post on {scope_name(ctx)} by {who} on {best.source} with {best_reason}")
    if evaluation.fired:
        evaluation.evidence = collect_evidence(ctx.store, base)
        evaluation.evidence["top_posts"] = [post_snapshot(best)] + [
            p for p in evaluation.evidence["top_posts"] if p["id"] != best.id][:4]
        evaluation.evidence["influencer"] = {"post": best.id, "followers": best.reach,
                                             "engagement": best.engagement.total}
    return [evaluation]


SPEC = DetectorSpec(
    name="influencer", run=influencer, params=InfluencerParams,
    # multiples of the reach / velocity threshold
    thresholds={Level.blue: 1, Level.yellow: 3, Level.orange: 10, Level.red: 30},
    family="reach", description="one negative post with a large reach or fast-growing engagement")
