"""Four warning levels and the composite crisis score.

Each rule scores in its own unit (robust z-score, multiple of a reach threshold, number of
platforms, ...) and has thresholds per level. To combine rules, every score is first put
on one 0-100 scale anchored at the rule's own thresholds:

    blue threshold -> 25, yellow -> 50, orange -> 75, red -> 100

(linear in between, from 0 at a score of 0; above the highest threshold it keeps the last
slope and stops at 100). Each detector names its signal family in its spec
(``DetectorSpec.family``): **volume** (volume_spike, emerging_topic), **negative** shift
(negative_share, keyword_burst), **reach** (influencer), **spread** across platforms
(cross_platform); source_silence is a **collection** signal and a drill a **drill**.
The composite crisis score of an incident is

    score = min(100, strongest family + 0.25 x sum of the other families)

where each family counts with its strongest rule. The level is the highest one whose anchor
the score reaches (25 blue, 50 yellow, 75 orange, 100 red). A rule alone therefore gives
exactly the level its own thresholds say, and coinciding signals push the level up: an
orange volume spike (75) with an orange negative shift (75) is 93.75, still orange; add a
yellow spread across platforms (50) and it is 100 - red. Scores are recomputed every
cycle from the rules firing now, so levels go down as well as up: up at once, down after
``alerting.deescalate_after`` consecutive buckets below the current level (no flapping).
"""

from __future__ import annotations

from crisiswatch.core.model import Level

ANCHORS = {Level.blue: 25.0, Level.yellow: 50.0, Level.orange: 75.0, Level.red: 100.0}
OTHERS_WEIGHT = 0.25

def rule_level(score: float, thresholds: dict[Level, float]) -> Level | None:
    """Highest level whose threshold the score reaches; None below all of them."""
    reached = [level for level, value in thresholds.items() if score >= value]
    return max(reached, key=lambda lv: lv.rank) if reached else None


def normalized(score: float, thresholds: dict[Level, float]) -> float:
    """The rule's score on the common 0-100 scale (see the module docstring)."""
    points = [(0.0, 0.0)] + sorted((float(value), ANCHORS[level]) for level, value in thresholds.items())
    if score <= 0:
        return 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if score <= x1:
            return y0 + (y1 - y0) * (score - x0) / (x1 - x0) if x1 > x0 else y1
    (x0, y0), (x1, y1) = points[-2], points[-1]
    slope = (y1 - y0) / (x1 - x0) if x1 > x0 else 0.0
    return min(100.0, y1 + slope * (score - x1))


def composite(signals: list[tuple[str, float]]) -> float:
    """Composite crisis score from ``(family, normalized score)`` pairs firing now."""
    best: dict[str, float] = {}
    for family, value in signals:
        best[family] = max(best.get(family, 0.0), value)
    if not best:
        return 0.0
    values = sorted(best.values(), reverse=True)
    return min(100.0, values[0] + OTHERS_WEIGHT * sum(values[1:]))


def level_of(score: float) -> Level | None:
    """Level for a composite score; None below the blue anchor."""
    reached = [level for level, anchor in ANCHORS.items() if score >= anchor - 1e-9]
    return max(reached, key=lambda lv: lv.rank) if reached else None
