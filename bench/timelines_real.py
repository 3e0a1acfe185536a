"""Real timelines for bench/detection_quality.py: airline complaint waves, CrisisLex T26 cold
starts and the project's scenarios. The onset rules are in detection_quality.py's docstring
(written before any detector output was looked at); this module only applies them.

Each timeline is scored for our rules (a backtest, as if live, every 15 minutes) and for the
ElastAlert-style spike rule (last hour over the hour before) in the same run.
"""

from __future__ import annotations

import csv
import json
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from crisiswatch.core.config import Config
from crisiswatch.core.model import Enrichment, Incident, Level, Post
from crisiswatch.core.store.base import PostFilter
from crisiswatch.core.store.sqlite import SqliteStore

from alerts.backtest import Label, run_backtest

DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
AIRLINE_CSV = DATASETS / "twitter_us_airline_sentiment" / "Tweets.csv"
CRISISLEX = DATASETS / "crisislex_t26"
PACIFIC = timezone(timedelta(hours=-8))
BUCKET = timedelta(minutes=15)
AIRLINES = {"US Airways": "usairways", "American": "american", "Southwest": "southwest", "Delta": "delta",
            "Virgin America": "virgin"}


@dataclass
class Row:
    timeline: str
    onset: datetime | None
    first: float | None
    """Minutes from onset to our first alert (None: none in the window)."""
    yellow: float | None
    false_alarms: int
    quiet_days: float
    spike_first: float | None
    spike_false: int
    note: str = ""
    false_at: list[str] | None = None
    """Our false alarms: when and which rules."""


def first_times(incidents: list[Incident], watchlist: str, after: datetime) -> tuple[datetime | None, datetime | None]:
    """First alert, and first time at >= yellow, of ``watchlist`` at or after ``after``."""
    alert, yellow = [], []
    for incident in incidents:
        if incident.watchlist != watchlist:
            continue
        for e in incident.events:
            if e.at < after or e.kind not in ("fired", "level_changed", "reopened"):
                continue
            alert.append(e.at)
            level = e.data.get("level") or e.data.get("new")
            if level and Level(level).rank >= Level.yellow.rank:
                yellow.append(e.at)
    return (min(alert) if alert else None), (min(yellow) if yellow else None)


def standing_at(incidents: list[Incident], watchlist: str, at: datetime) -> str:
    """An alert of ``watchlist`` already open at ``at`` (raised before it, not yet resolved): "level
    since HH:MM UTC", else "". The first-alert figures count only alerts raised at or after the
    onset, so a rise caught before the written onset shows here, not there."""
    for incident in incidents:
        if incident.watchlist != watchlist or incident.opened_at >= at:
            continue
        since, level = None, None
        for e in (e for e in incident.events if e.at < at):
            if e.kind in ("fired", "reopened"):
                since, level = e.at, e.data.get("level")
            elif e.kind == "level_changed" and since:
                level = e.data.get("new")
            elif e.kind == "resolved":
                since = None
        if since and level:
            return f"{level} alert open since {since.astimezone(timezone.utc):%m-%d %H:%M} UTC"
    return ""


def openings(incidents: list[Incident], watchlist: str, since: datetime, until: datetime) -> list[str]:
    """Incidents opened (or reopened) in ``[since, until)``: "time UTC rules" each."""
    out = []
    for incident in incidents:
        if incident.watchlist != watchlist:
            continue
        for t in [incident.opened_at] + [e.at for e in incident.events if e.kind == "reopened"]:
            if since <= t < until:
                rules = ",".join(incident.rules)
                out.append(f"{t.astimezone(timezone.utc):%m-%d %H:%M} {rules}")
    return out


def spike(counts: np.ndarray, height: float, min_cur: int, calm: int = 4) -> tuple[list[int], list[int]]:
    """ElastAlert spike on 15-minute counts, span 1 h: (bucket ends firing, bucket ends opening an alarm)."""
    fires, opened, last = [], [], -10 ** 9
    for end in range(8, len(counts) + 1):
        cur, ref = counts[end - 4:end].sum(), counts[end - 8:end - 4].sum()
        if cur >= min_cur and cur >= height * max(ref, 1):
            fires.append(end)
            if end - last > calm:
                opened.append(end)
            last = end
    return fires, opened


def minutes(a: datetime | None, b: datetime) -> float | None:
    return None if a is None else (a - b) / timedelta(minutes=1)


def score_spike(store: SqliteStore, watchlist: str, first: datetime, end: datetime, onset: datetime | None,
                quiet: tuple[datetime, datetime], window_end: datetime | None,
                setting: tuple[float, int]) -> tuple[float | None, int]:
    counts = np.array([b.count for b in store.count_by_bucket(PostFilter(watchlists=(watchlist,)), first, end, BUCKET)],
                      dtype=float)
    fires, opened = spike(counts, *setting)
    at = [first + e * BUCKET for e in fires]
    delay = None
    if onset is not None:
        hits = [t for t in at if onset <= t <= (window_end or end)]
        delay = minutes(hits[0], onset) if hits else None
    false = sum(quiet[0] <= first + e * BUCKET < quiet[1] for e in opened)
    return delay, false


# ---- airline complaint waves ---------------------------------------------------------------
def airline_onsets(negatives: dict[str, dict[datetime, int]]) -> dict[str, datetime | None]:
    """The written-down onset rule (detection_quality.py docstring, points 1-3)."""
    days = [datetime(2015, 2, d, tzinfo=PACIFIC) for d in range(17, 24)]
    onsets: dict[str, datetime | None] = {}
    for name, hourly in negatives.items():
        def cumulative(day: datetime, hour: int) -> int:
            return sum(hourly.get(day + timedelta(hours=h), 0) for h in range(hour + 1))
        complete = [d for d in days if any(hourly.get(d + timedelta(hours=h), 0) for h in range(24))]
        onsets[name] = None
        for i, day in enumerate(complete):
            earlier = complete[:i]
            if len(earlier) < 2:
                continue
            total = cumulative(day, 23)
            if total < 30 or total < 1.5 * statistics.median(cumulative(d, 23) for d in earlier):
                continue
            for hour in range(24):
                normal = statistics.median(cumulative(d, hour) for d in earlier)
                now = cumulative(day, hour)
                if now >= 1.5 * normal and now - normal >= 10:
                    onsets[name] = day + timedelta(hours=hour)
                    break
            break
    return onsets


def airline_store(tmp: Path) -> tuple[SqliteStore, dict[str, datetime | None], datetime]:
    """The five airlines as watchlists in a new store under ``tmp``: (store, onsets, last post time)."""
    store = SqliteStore(tmp / "airlines.db")
    store.setup()
    posts, enrichments, seen = [], [], set()
    negatives: dict[str, dict[datetime, int]] = {name: {} for name in AIRLINES.values()}
    with AIRLINE_CSV.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = AIRLINES.get(row["airline"])
            if name is None or row["tweet_id"] in seen:
                continue
            seen.add(row["tweet_id"])
            created = datetime.strptime(row["tweet_created"], "%m/%d/%Y %H:%M").replace(tzinfo=PACIFIC)
            posts.append(Post(id=f"twitter:{row['tweet_id']}", source="twitter", text=row["text"],
                              created_at=created, watchlists=[name]))
            enrichments.append(Enrichment(post_id=posts[-1].id, sentiment=row["airline_sentiment"]))
            if row["airline_sentiment"] == "negative":
                hour = created.replace(minute=0)
                negatives[name][hour] = negatives[name].get(hour, 0) + 1
    store.upsert_posts(posts)
    store.update_enrichments(enrichments)
    onsets = airline_onsets(negatives)
    onsets["american"] = None  # rule point 4: no earlier days, no onset can be fixed
    return store, onsets, max(p.created_at for p in posts)


def evaluate_airlines(tmp: Path, make_config: Callable[[str, list[str]], Config],
                      setting: tuple[float, int]) -> list[Row]:
    if not AIRLINE_CSV.exists():
        print(f"airline complaint waves: skipped ({AIRLINE_CSV} not found)")
        return []
    store, onsets, end = airline_store(tmp)
    names = list(AIRLINES.values())
    config = make_config(str(tmp), names)
    start = datetime(2015, 2, 17, tzinfo=PACIFIC)
    first = datetime(2015, 2, 16, tzinfo=PACIFIC)
    labels = [Label(watchlist=n, onset=o, end=o + timedelta(hours=48), name="wave") for n, o in onsets.items() if o]
    report = run_backtest(store, config, start, end, labels=labels, max_delay=timedelta(hours=48))
    rows = []
    for name in names:
        onset = onsets[name]
        quiet = (start, onset - timedelta(hours=1) if onset else end)
        alert, yellow = first_times(report.incidents, name, onset) if onset else (None, None)
        false = openings(report.incidents, name, *quiet)
        s_delay, s_false = score_spike(store, name, first, end, onset, quiet,
                                       onset + timedelta(hours=48) if onset else None, setting)
        note = standing_at(report.incidents, name, onset) if onset else \
            "collected from 22 Feb only: cold start, not scored" if name == "american" else "no wave day by the rule"
        rows.append(Row(f"airline {name}", onset, minutes(alert, onset) if onset else None,
                        minutes(yellow, onset) if onset else None, len(false),
                        (quiet[1] - quiet[0]) / timedelta(days=1), s_delay, s_false, note, false))
    store.close()
    return rows


# ---- CrisisLex T26 cold starts -------------------------------------------------------------
def crisislex_events() -> list[tuple[str, str, list[datetime]]]:
    events = []
    for folder in sorted(p for p in CRISISLEX.iterdir() if p.is_dir()):
        ids = folder / f"{folder.name}-tweetids_entire_period.csv"
        if not ids.exists():
            continue
        description = json.loads((folder / f"{folder.name}-event_description.json").read_text(encoding="utf-8"))
        times = []
        with ids.open(encoding="utf-8") as handle:
            for row in csv.reader(handle):
                try:
                    times.append(datetime.strptime(row[0], "%a %b %d %H:%M:%S %z %Y"))
                except (ValueError, IndexError):
                    continue  # the header
        events.append((folder.name, (description.get("time") or {}).get("development", "?"), sorted(times)))
    return events


def crisislex_onset(times: list[datetime]) -> datetime | None:
    """The written-down onset rule: first 15-minute bin with >= 20 % of the busiest bin and >= 5."""
    first = times[0].replace(minute=0, second=0) - timedelta(hours=1)
    bins: dict[int, int] = {}
    for t in times:
        k = int((t - first) // BUCKET)
        bins[k] = bins.get(k, 0) + 1
    peak = max(bins.values())
    for k in sorted(bins):
        if bins[k] >= max(5, 0.2 * peak):
            return first + k * BUCKET
    return None


def evaluate_crisislex(tmp: Path, make_config: Callable[[str, list[str]], Config],
                       setting: tuple[float, int]) -> list[Row]:
    if not CRISISLEX.exists():
        print(f"CrisisLex cold starts: skipped ({CRISISLEX} not found)")
        return []
    rows = []
    for name, development, times in crisislex_events():
        onset = crisislex_onset(times)
        if onset is None or onset - times[0] >= timedelta(days=1):
            continue  # not a cold start: a day or more of data before the onset
        watchlist = "event"
        store = SqliteStore(tmp / f"{name}.db")
        store.setup()
        store.upsert_posts([Post(id=f"twitter:{name}:{i}", source="twitter", text="tweet", created_at=t,
                                 watchlists=[watchlist]) for i, t in enumerate(times)
                            if t < onset + timedelta(hours=8)])
        config = make_config(str(tmp), [watchlist])
        end = onset + timedelta(hours=6)
        report = run_backtest(store, config, times[0], end)
        alert, yellow = first_times(report.incidents, watchlist, onset)
        quiet = (times[0], onset - BUCKET)
        false = openings(report.incidents, watchlist, *quiet)
        first = times[0].replace(minute=0, second=0, microsecond=0)
        s_delay, s_false = score_spike(store, watchlist, first, end, onset, quiet, end, setting)
        hours = (onset - times[0]) / timedelta(hours=1)
        rows.append(Row(f"cold {name}", onset, minutes(alert, onset), minutes(yellow, onset), len(false),
                        (quiet[1] - quiet[0]) / timedelta(days=1), s_delay, s_false,
                        "; ".join(filter(None, [f"{development.lower()}, {hours:.1f} h of data before onset",
                                                standing_at(report.incidents, watchlist, onset)])), false))
        store.close()
    return rows


# ---- the project's scenarios --------------------------------------------------------------------
def evaluate_scenarios(tmp: Path, extra_rules: list[dict], setting: tuple[float, int]) -> list[Row]:
    import scenarios
    from crisiswatch.core.watchlist import WatchlistMatcher

    rows = []
    for name in scenarios.names():
        scenario = scenarios.load(name)
        data = dict(scenario.config)
        have = {r.get("detector") for r in data.get("rules", [])}
        data["rules"] = list(data.get("rules", [])) + [r for r in extra_rules if r["detector"] not in have]
        config = Config.model_validate({**data, "data_dir": str(tmp)})
        matcher = WatchlistMatcher(config.watchlists)
        posts = [p.model_copy(update={"watchlists": matcher.match(" ".join(filter(None, [p.title, p.text])))})
                 for p in scenario.posts]
        store = SqliteStore(tmp / f"scenario-{name}.db")
        store.setup()
        store.upsert_posts(posts)
        store.update_enrichments([Enrichment(post_id=pid, sentiment=labels.get("sentiment"))
                                  for pid, labels in scenario.post_labels.items() if labels.get("sentiment")])
        watchlist = scenario.expected_alerts[0].watchlist
        start, onset = scenario.onset - timedelta(days=1), scenario.onset
        end = onset + timedelta(hours=6)
        report = run_backtest(store, config, start, end)
        alert, yellow = first_times(report.incidents, watchlist, onset)
        quiet = (start, onset - BUCKET)
        false = openings(report.incidents, watchlist, *quiet)
        s_delay, s_false = score_spike(store, watchlist, scenario.start, end, onset, quiet, end, setting)
        rows.append(Row(f"scenario {name}", onset, minutes(alert, onset), minutes(yellow, onset), len(false),
                        (quiet[1] - quiet[0]) / timedelta(days=1), s_delay, s_false, "", false))
        store.close()
    return rows


def print_table(rows: list[Row]) -> None:
    def m(v: float | None) -> str:
        return "-" if v is None else f"{v:.0f}"
    print(f"{'timeline':<38} {'onset (UTC)':<17} {'first':>6} {'yellow':>7} {'FA':>3} {'quiet d':>7} "
          f"{'spike 1st':>9} {'spike FA':>8}  note")
    for r in rows:
        onset = r.onset.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if r.onset else "-"
        print(f"{r.timeline:<38} {onset:<17} {m(r.first):>6} {m(r.yellow):>7} {r.false_alarms:>3} "
              f"{r.quiet_days:>7.1f} {m(r.spike_first):>9} {r.spike_false:>8}  {r.note}")
    for r in rows:
        if r.false_at:
            print(f"  false alarms {r.timeline}: " + "; ".join(r.false_at))
