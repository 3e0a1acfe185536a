"""sustained_shift: slow complaint waves, cold starts (a learning baseline), quiet periods."""

from __future__ import annotations

import math
import random
import re
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from crisiswatch.core.config import parse_config
from crisiswatch.core.model import Enrichment, Level, Post
from crisiswatch.core.store.sqlite import SqliteStore

from alerts.cusum import binomial_cusum, poisson_cusum
from alerts.detectors.sustained_shift import deviance_z, familywise, simes_log_tail, z_of_log_tail
from alerts.engine import run_rules
from alerts.learning import DEFAULT_LEARNING, learning_states
from alerts.series import SeriesCache

START = datetime(2026, 3, 2, tzinfo=timezone.utc)  # a Monday


def rate(t: datetime, peak: float) -> float:
    return peak * (0.55 + 0.45 * math.sin((t.hour + t.minute / 60 - 10) / 24 * 2 * math.pi))


def write(store: SqliteStore, start: datetime, end: datetime, peak: float, negative: float = 0.6,
          wave: tuple[datetime, float] | None = None, seed: int = 1, name: str = "air",
          share: tuple[datetime, float] | None = None) -> None:
    """Posts per 15 minutes with a daily cycle; ``wave`` = (onset, factor on negative posts);
    ``share`` = (onset, negative share from then on, the volume unchanged)."""
    rng = random.Random(seed)
    posts, enrichments, t, n = [], [], start, 0
    while t < end:
        lam = rate(t, peak)
        extra = lam * negative * (wave[1] - 1) if wave and t >= wave[0] else 0.0
        p_negative = share[1] if share and t >= share[0] else negative
        for kind, mean in (("calm", lam), ("wave", extra)):
            for _ in range(poisson(rng, mean)):
                n += 1
                created = t + timedelta(seconds=rng.randint(0, 899))
                posts.append(Post(id=f"x:{name}{n}", source="x", text=f"{name} flight", created_at=created,
                                  watchlists=[name]))
                neg = kind == "wave" or rng.random() < p_negative
                enrichments.append(Enrichment(post_id=posts[-1].id, sentiment="negative" if neg else "neutral"))
        t += timedelta(minutes=15)
    store.upsert_posts(posts)
    store.update_enrichments(enrichments)


def poisson(rng: random.Random, lam: float) -> int:
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


def config(tmp_path, watchlists=("air",), params: str = ""):  # noqa: ANN001, ANN201
    names = ", ".join(f"{{name: {w}, terms: [{w}]}}" for w in watchlists)
    return parse_config(f"""
data_dir: {tmp_path}
watchlists: [{names}]
rules:
  - {{name: sustained, detector: sustained_shift, bucket: 15m{', params: ' + params if params else ''}}}
  - {{name: volume, detector: volume_spike, bucket: 15m, min_count: 8}}
alerting: {{outbox_dir: {tmp_path}/outbox}}
""", "test.yaml")


def fired_at(store, cfg, times, rule="sustained"):  # noqa: ANN001, ANN201
    """(time, evaluation) of the first firing of ``rule`` among ``times``, else (None, None)."""
    cache = SeriesCache(store, persist=False, settle_override=timedelta(0))
    rules = [r for r in cfg.rules if r.name == rule]
    for t in times:
        evaluations, errors = run_rules(store, cfg, t, cache, rules)
        assert not errors
        for ev in evaluations:
            if ev.fired:
                return t, ev
    return None, None


def steps(start: datetime, hours: float, every: timedelta = timedelta(minutes=15)) -> list[datetime]:
    return [start + k * every for k in range(1, int(hours * 3600 / every.total_seconds()) + 1)]


@pytest.fixture
def store(tmp_path):  # noqa: ANN001, ANN201
    s = SqliteStore(tmp_path / "s.db")
    s.setup()
    yield s
    s.close()


def test_a_complaint_wave_that_doubles_negative_posts_alerts_and_reaches_yellow_within_three_hours(store, tmp_path):
    """~25 negative posts an hour that double: no single bucket is unusual, the hours are."""
    onset = START + timedelta(days=6, hours=9)
    write(store, START, onset + timedelta(hours=8), peak=20, wave=(onset, 2.0))
    cfg = config(tmp_path)
    t, ev = fired_at(store, cfg, steps(onset, 2.0))
    assert t is not None, "no sustained-shift alert within two hours"
    assert "negative posts" in ev.title
    levels = []
    cache = SeriesCache(store, persist=False, settle_override=timedelta(0))
    for t in steps(onset, 3.0):
        evs, _ = run_rules(store, cfg, t, cache, [cfg.rule("sustained")])
        levels += [e.level for e in evs if e.fired]
    assert any(lv.rank >= Level.yellow.rank for lv in levels), levels
    # the spike rule does not see it in those hours: this is what the new rule is for
    assert fired_at(store, cfg, steps(onset, 2.0), rule="volume")[0] is None


def test_quiet_week_gives_no_sustained_alarm(store, tmp_path):
    write(store, START, START + timedelta(days=8), peak=6, seed=5)
    cfg = config(tmp_path)
    t, ev = fired_at(store, cfg, steps(START + timedelta(days=3), 5 * 24, timedelta(hours=1)))
    assert t is None, f"false alarm at {t}: {ev.title if ev else ''}"


def test_cold_start_first_day_with_its_daily_rise_is_quiet(store, tmp_path):
    """A watchlist created at night: the morning's natural rise is not a crisis."""
    first = START + timedelta(days=2, hours=2)
    write(store, first, first + timedelta(hours=30), peak=8, seed=9)
    cfg = config(tmp_path)
    t, ev = fired_at(store, cfg, steps(first, 30, timedelta(minutes=30)))
    assert t is None, f"warm-up noise at {t}: {ev.title if ev else ''}"


def test_cold_start_burst_alerts_within_30_minutes_with_three_hours_of_data(store, tmp_path):
    """A watchlist created as news breaks: a post an hour, then ~50 per 15 minutes (the CrisisLex
    shape: LA airport 14 -> 92, Spain train crash 4 -> 30, a few hundred times the rate before).
    A rise of ten or thirty times is what a daily cycle does in a first morning (the test above)."""
    first = START + timedelta(days=2, hours=8)
    onset = first + timedelta(hours=3)
    write(store, first, onset + timedelta(hours=2), peak=0.5, negative=0.3, wave=(onset, 400.0), seed=4)
    cfg = config(tmp_path)
    t, ev = fired_at(store, cfg, steps(onset, 0.5))
    assert t is not None, "a burst of a few hundred times on a 3-hour-old watchlist went unnoticed"
    assert "learning" in ev.title
    # volume_spike hears it too, against the watchlist's own last two hours (alerts.growth)
    t, ev = fired_at(store, cfg, steps(onset, 0.5), rule="volume")
    assert t is not None and "learning" in ev.title, "volume_spike was silent on its first day"


def test_learning_state_narrows_as_history_accrues(store, tmp_path):
    write(store, START, START + timedelta(hours=5), peak=4)
    cfg = config(tmp_path)
    early = learning_states(store, cfg, START + timedelta(hours=5))[0]
    late = learning_states(store, cfg, START + DEFAULT_LEARNING + timedelta(hours=1))[0]
    assert early.learning and "learning" in early.describe()
    assert not late.learning


def test_familywise_correction_and_deviance():
    assert familywise(4.5, 8) < 4.5
    assert familywise(4.5, 1) == 4.5
    assert abs(familywise(40.0, 8) - math.sqrt(1600 - 2 * math.log(8))) < 1e-6
    assert deviance_z(20, 10, 1.0) > 0 > deviance_z(5, 10, 1.0)
    assert deviance_z(20, 10, 4.0) == pytest.approx(deviance_z(20, 10, 1.0) / 2)


def test_a_doubling_that_began_at_night_is_flagged_and_the_cusum_is_no_later_than_the_spans(store, tmp_path):
    """Negative posts double from 03:00, a change point no span lines up with for hours: the CUSUM
    tests every change point at once and reports the run since the rise."""
    onset = START + timedelta(days=6, hours=3)
    write(store, START, onset + timedelta(hours=12), peak=6, wave=(onset, 2.0), seed=7)
    times = steps(onset, 12, timedelta(minutes=30))
    with_cusum, ev = fired_at(store, config(tmp_path), times)
    without, _ = fired_at(store, config(tmp_path, params="{cusum_ratio: null}"), times)
    assert with_cusum is not None, "negative posts doubled for 12 hours and nothing was flagged"
    assert without is None or with_cusum <= without, (with_cusum, without)
    cusums = [s for s in ev.evidence["spans"] if s["test"] == "cusum"]
    assert cusums and max(s["observed"] / s["expected"] for s in cusums) > 1.5, cusums


def test_poisson_cusum_finds_the_change_point_and_stays_low_without_one():
    expected = [4.0] * 60
    quiet = [4, 3, 5, 4, 6, 2, 4, 5, 3, 4] * 6
    assert poisson_cusum(quiet, expected, 2.0).statistic < 3
    risen = quiet[:40] + [8, 9, 7, 8, 10, 6, 8, 9, 8, 7, 8, 9, 7, 8, 10, 6, 8, 9, 8, 7]
    run = poisson_cusum(risen, expected, 2.0)
    assert 17 <= run.length <= 23 and run.observed > 1.8 * run.expected
    assert run.statistic > 20
    # over-dispersed counts: the same rise is weaker evidence
    assert poisson_cusum(risen, expected, 2.0, dispersion=3.0).statistic < run.statistic / 2.5
    with pytest.raises(ValueError, match="rise"):
        poisson_cusum(risen, expected, 0.8)


def test_binomial_cusum_sees_the_share_rise_and_not_the_volume():
    whole = np.array([20.0] * 60)
    share = np.full(60, 0.3)
    as_usual = whole * share
    assert binomial_cusum(as_usual, whole, share, 2.0).statistic == 0.0
    # the same share at twice the volume (everything grows): still nothing, where the count CUSUM fires
    assert binomial_cusum(2 * as_usual, 2 * whole, share, 2.0).statistic == 0.0
    assert poisson_cusum(2 * as_usual, as_usual, 2.0).statistic > 20
    # flat volume, the share goes 0.3 -> 0.6 for the last 20 buckets
    risen = np.concatenate([as_usual[:40], np.full(20, 12.0)])
    run = binomial_cusum(risen, whole, share, 2.0)
    assert 18 <= run.length <= 22 and run.observed == pytest.approx(240) and run.expected == pytest.approx(120)
    assert run.statistic > 20
    assert binomial_cusum(risen, whole, share, 2.0, dispersion=3.0).statistic == pytest.approx(run.statistic / 3)
    # the same rise in shares at twice the volume is twice the evidence, not a different test
    assert binomial_cusum(2 * risen, 2 * whole, share, 2.0).statistic == pytest.approx(2 * run.statistic)
    with pytest.raises(ValueError, match="rise"):
        binomial_cusum(risen, whole, share, 1.0)
    with pytest.raises(ValueError, match="same length"):
        binomial_cusum(risen[:-1], whole, share, 2.0)
    with pytest.raises(ValueError, match="between 0 and the whole"):
        binomial_cusum(whole + 1, whole, share, 2.0)


def test_a_rising_negative_share_at_flat_volume_is_flagged_as_a_share(store, tmp_path):
    """Volume unchanged, negative posts go from 30 % to 60 % of ~80 posts an hour from 09:00: the
    volume rule hears nothing; the share of negative posts among all of them, a test that does not
    move when everything grows, carries the alert once it has lasted and names it."""
    onset = START + timedelta(days=6, hours=9)
    write(store, START, onset + timedelta(hours=4), peak=30, negative=0.3, share=(onset, 0.6), seed=3)
    cfg = config(tmp_path)
    cache = SeriesCache(store, persist=False, settle_override=timedelta(0))
    fired = [(t, ev) for t in steps(onset, 3) for ev in run_rules(store, cfg, t, cache, [cfg.rule("sustained")])[0]
             if ev.fired]
    assert fired and fired[0][0] - onset <= timedelta(hours=2), "a doubled negative share went unnoticed for 2 h"
    t, ev = next(((t, ev) for t, ev in fired if ev.level.rank >= Level.yellow.rank), (None, None))
    assert t is not None, [(t, ev.level, ev.title) for t, ev in fired]
    found = re.fullmatch(r"sustained rise: (\d+)% of posts on 'air' are negative posts in the last [\w ]+ "
                         r"\(\d+ of \d+\), against a usual (\d+)%", ev.title)
    assert found, ev.title
    now, usual = map(int, found.groups())
    assert 50 <= now <= 70 and 25 <= usual <= 36, ev.title
    assert fired_at(store, cfg, steps(onset, 3), rule="volume")[0] is None


def test_simes_is_bonferroni_for_one_test_and_milder_when_many_agree():
    one = [math.log(1e-5)] + [0.0] * 7
    assert simes_log_tail(one, 8) == pytest.approx(math.log(8e-5))
    agree = [math.log(1e-5)] * 8
    assert simes_log_tail(agree, 8) == pytest.approx(math.log(1e-5))
    assert simes_log_tail([], 8) == 0.0
    assert z_of_log_tail(math.log(0.5 * math.erfc(4 / math.sqrt(2)))) == pytest.approx(4.0, abs=1e-6)
    assert z_of_log_tail(-5000.0) == pytest.approx(math.sqrt(2 * 5000 - math.log(2 * math.pi * 2 * 5000)), rel=1e-3)


def test_a_cusum_ratio_that_is_not_a_rise_is_a_config_error_naming_the_rule(tmp_path):
    from crisiswatch.core.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        config(tmp_path, params="{cusum_ratio: 0.8}")
    assert "rule 'sustained' (sustained_shift): params.cusum_ratio: Input should be greater than 1" in str(caught.value)
