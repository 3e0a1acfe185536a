"""What a baseline learned from few days may claim: slots seen empty are not "exactly zero",
a rise against an unknown daily cycle is weighed as a ratio, and a rise that lasts hours is
a warning (yellow), for the detector and for the incident it opens."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from crisiswatch.core.config import parse_config
from crisiswatch.core.model import Enrichment, Level, Post
from crisiswatch.core.store.sqlite import SqliteStore

from alerts.detectors.sustained_shift import predictive_z
from alerts.engine import run_rules
from alerts.incidents import IncidentBook, Lifecycle
from alerts.learning import diurnal_log_variance, shrink_slots
from alerts.series import SeriesCache

from tests.alerts.test_sustained_shift import START, steps, write

BUCKET = timedelta(minutes=15)


def config(tmp_path, sustained_params: str = ""):  # noqa: ANN001, ANN201
    return parse_config(f"""
data_dir: {tmp_path}
watchlists: [{{name: air, terms: [air]}}]
rules:
  - {{name: sustained, detector: sustained_shift, min_count: 10{sustained_params}}}
  - {{name: volume, detector: volume_spike, min_count: 8}}
alerting: {{outbox_dir: {tmp_path}/outbox}}
""", "test.yaml")


def day_and_night(store: SqliteStore, days: int, per_bucket: int, extra: list[datetime]) -> None:
    """``days`` days with ``per_bucket`` posts every 15 minutes from 06:00 to midnight and none at
    night (one post at the very start, so the empty night is data, not "before the first post"),
    60 % negative; then one negative post at each time of ``extra``."""
    times = [START]
    for day in range(days):
        t = START + timedelta(days=day, hours=6)
        while t < START + timedelta(days=day + 1):
            times += [t + timedelta(seconds=60 * k) for k in range(per_bucket)]
            t += BUCKET
    posts = [Post(id=f"x:{i}", source="x", text="air", created_at=t, watchlists=["air"])
             for i, t in enumerate(times + extra)]
    store.upsert_posts(posts)
    store.update_enrichments([Enrichment(post_id=p.id, sentiment="negative" if i >= len(times) or i % 5 < 3
                                         else "neutral") for i, p in enumerate(posts)])


def evaluate(store: SqliteStore, cfg, rule: str, at: datetime):  # noqa: ANN001, ANN201
    [ev] = run_rules(store, cfg, at, SeriesCache(store, persist=False, settle_override=timedelta(0)),
                     [cfg.rule(rule)])[0]
    return ev


def test_a_night_slot_seen_empty_is_not_zero_for_the_learned_baseline(tmp_path):
    """Five days with empty nights, then twelve negative posts in one night hour: a real anomaly,
    but not an infinite one (it was "10000000x the usual 0.0", red)."""
    store = SqliteStore(tmp_path / "s.db")
    store.setup()
    night = START + timedelta(days=5, hours=3)
    day_and_night(store, 5, 4, [night + timedelta(minutes=5 * k) for k in range(12)])
    ev = evaluate(store, config(tmp_path), "sustained", night + timedelta(hours=1))
    store.close()
    assert ev.fired, ev.title
    assert ev.level.rank < Level.orange.rank, ev.title
    assert 0 < ev.baseline and ev.observed / ev.baseline < 100, ev.title


def test_volume_spike_after_one_day_does_not_take_an_empty_slot_for_zero(tmp_path):
    """One day of history whose night was empty; the next night has nine posts in an hour
    (a fifth of a daytime hour). It fired as "far above the usual 0.0"."""
    store = SqliteStore(tmp_path / "s.db")
    store.setup()
    night = START + timedelta(days=1)
    day_and_night(store, 1, 12, [night + timedelta(minutes=6 * k) for k in range(9)])
    ev = evaluate(store, config(tmp_path), "volume", night + timedelta(hours=1))
    store.close()
    assert not ev.fired, ev.title
    assert ev.baseline > 1


def test_a_ratio_against_an_unknown_daily_cycle_is_weighed_as_a_ratio():
    """The first morning of a new watchlist (33 posts in an hour against 1.2 learned at night) is
    what an unknown daily cycle does; a learned baseline finds the same counts extreme, and a
    burst out of silence (92 against 0.4) stays far above every threshold while learning."""
    unknown = math.log1p(1 / 7.5) + diurnal_log_variance(0.0, timedelta(hours=1))
    learned = math.log1p(1 / 1000)
    assert predictive_z(33, 1.2, 1.0, unknown) < 3.5 < 6 < predictive_z(33, 1.2, 1.0, learned)
    assert predictive_z(92, 0.4, 1.0, unknown) > 4.5  # blue after the correction for 4 tests
    # a whole day's count does not depend on the time of day
    assert diurnal_log_variance(0.0, timedelta(days=1)) < 1e-9 < diurnal_log_variance(0.5, timedelta(hours=1))
    # no expectation is left at zero once a level is known
    assert shrink_slots([0.0, 4.0], level=2.0, days=5)[0] > 0


def test_a_rise_significant_over_hours_is_yellow_for_the_rule_and_its_incident(tmp_path):
    onset = START + timedelta(days=6, hours=9)
    store = SqliteStore(tmp_path / "s.db")
    store.setup()
    write(store, START, onset + timedelta(hours=6), peak=20, wave=(onset, 1.6), seed=3)
    cfg, plain = config(tmp_path), config(tmp_path, ", params: {yellow_after: null}")
    book = IncidentBook(None)
    life = Lifecycle(book, cfg, [], notify=False)
    seen = []
    for t in steps(onset, 6.0):
        ev, without = evaluate(store, cfg, "sustained", t), evaluate(store, plain, "sustained", t)
        for change in life.apply([ev], t):
            book.save(change.incident)
        incident = next(iter(book.active()), None)
        seen.append((ev.level, without.level, incident.level if incident else None))
    store.close()
    raised = [s for s in seen if s[0] == Level.yellow and s[1] == Level.blue]
    assert raised, f"never blue by the thresholds and yellow by lasting hours: {seen}"
    assert all(incident == Level.yellow for _, _, incident in raised[:1]), seen


# ---- volume_spike before a day of history: growth against the watchlist's own last hours ----
def burst(store: SqliteStore, name: str, start: datetime, per_bucket: list[int]) -> None:
    """``per_bucket[k]`` posts of ``name`` spread over the 15 minutes from ``start + k`` buckets."""
    posts = [Post(id=f"b:{name}:{k}:{j}", source="x", text=f"{name} news", watchlists=[name],
                  created_at=start + k * BUCKET + timedelta(seconds=1 + j * 880 // max(n, 1)))
             for k, n in enumerate(per_bucket) for j in range(n)]
    store.upsert_posts(posts)


def test_a_new_watchlist_hears_a_sudden_event_in_its_first_hours(tmp_path):
    """Four hours of a new watchlist at ~3 posts per 15 minutes, then an earthquake: 30 in the
    next 15 minutes. volume_spike used to be silent for the first day ("not enough history");
    it fires at the end of the onset bucket and says the baseline is still learning."""
    store = SqliteStore(tmp_path / "s.db")
    store.setup()
    quiet = [3, 2, 4, 3, 1, 3, 4, 2, 3, 3, 2, 4, 3, 2, 3, 4]
    burst(store, "air", START, quiet + [30, 41])
    onset = START + len(quiet) * BUCKET
    before = evaluate(store, config(tmp_path), "volume", onset)
    ev = evaluate(store, config(tmp_path), "volume", onset + BUCKET)
    store.close()
    assert not before.fired, before.title
    assert ev.fired and ev.observed == 30, ev.title
    assert "learning" in ev.title and ev.baseline < 5, ev.title


def test_the_first_day_of_a_daily_cycle_is_not_a_crisis_for_volume_spike(tmp_path):
    """A watchlist starting at midnight with a day-night cycle (1 to 20 posts per 15 minutes):
    its first morning grows twentyfold, but no faster than a day does; nothing fires all day."""
    store = SqliteStore(tmp_path / "s.db")
    store.setup()
    write(store, START, START + timedelta(days=1), peak=20, seed=5)
    fired = [(t, ev.title) for t in steps(START, 23.75)
             if (ev := evaluate(store, config(tmp_path), "volume", t)).fired]
    store.close()
    assert not fired, fired


def test_a_watchlist_added_to_an_old_store_does_not_read_the_days_before_it_as_silence(tmp_path):
    """A store with five days of another brand; a watchlist added now gets a steady 6-9 posts per
    15 minutes from its first hour. The days before its first post are no data, not zeros: it
    was "far above the usual 0.0" on its first buckets."""
    store = SqliteStore(tmp_path / "s.db")
    store.setup()
    write(store, START, START + timedelta(days=5), peak=10, name="old")
    added = START + timedelta(days=5)
    burst(store, "air", added, [7, 8, 6, 9, 7, 8, 6, 7, 9, 8, 7, 6])
    cfg = config(tmp_path)
    fired = [(t, ev.title) for t in steps(added, 3.0)
             if (ev := evaluate(store, cfg, "volume", t)).fired]
    store.close()
    assert not fired, fired


def test_a_quiet_night_slot_is_judged_by_its_own_poisson_noise(tmp_path):
    """Three weeks of a brand whose nights have ~1 post per 15 minutes; then 9 in one night
    bucket (a Poisson tail of ~1e-7). Its spread is a little over Poisson (1.04 on the Anscombe
    scale): judged by the noise of a large count it scored 3.7 and stayed silent (the noise of a
    count of the slot's own mean was used only at a spread of exactly 1, where it scored 4.6);
    with that noise times the over-dispersion it is an alert, and a blue or yellow one, not orange."""
    store = SqliteStore(tmp_path / "s.db")
    store.setup()
    night = START + timedelta(days=21, hours=4)
    write(store, START, night, peak=8, seed=11)
    burst(store, "air", night, [9])
    ev = evaluate(store, config(tmp_path), "volume", night + BUCKET)
    store.close()
    assert ev.fired and ev.observed == 9 and ev.baseline < 1.5, ev.title
    assert ev.level.rank <= Level.yellow.rank, (ev.score, ev.title)
