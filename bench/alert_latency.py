"""Post-to-alert latency, end to end: a post is published on the replay server at its real
instant; how long until the alert about it reaches the team's webhook?

Run from the repository root with the project venv::

    .venv/bin/python bench/alert_latency.py                  # both modes, 6 crises each (~10 min)
    .venv/bin/python bench/alert_latency.py --brands 6 --repeats 2
    .venv/bin/python bench/alert_latency.py --modes continuous

What runs (nothing is simulated but the schedule's phase, see below):

* A crisis scenario is written at start-up *in real time*: ``--brands`` fictional drinks
  brands, each with everyday chatter on Mastodon and Bluesky, three hours of history (stored
  before the run, enriched) and, at a random moment of the run, a burst of complaints using
  crisis terms (one every ``--spacing`` seconds). The replay server (``scenarios.replay``)
  publishes every post when the wall clock reaches its ``created_at`` (``speedup=1``), through
  the Mastodon REST timeline and streaming API and the Bluesky AppView and Jetstream.
* The pipeline is the product's: real ``scrapy crawl`` subprocesses or the streaming clients,
  the store (SQLite), the default offline NLP models (int8 encoder + heads; the topic model
  is a maintenance job and is off), the alert engine and the one Apprise sender, delivering
  to a loopback HTTP receiver (one route and channel per brand).
  Rule: ``keyword_burst`` per brand (crisis terms in negative posts, ``min_count: 4``, window
  two buckets).
* Latency of one alert = the receiver's arrival time minus the publication time of the
  *trigger post*: the post after which the rule fires when the bucket holding it is counted
  with only the posts published so far. The trigger is found after the run by replaying the
  same posts, with the enrichments the run gave them, into a scratch store one at a time and
  evaluating the rule after each (an oracle that has no collection or processing delay).
  So the figure is everything a user waits for: collection, enrichment, bucket closing or
  nowcast wait, evaluation and delivery.

Modes:

* ``continuous``: ``crisiswatch run --follow`` in-process (``follow_pipeline``): both sources
  ``mode: stream`` (Mastodon streaming, Jetstream; a polling crawl at start and every 5 min),
  micro-batch enrichment and nowcast evaluation on every stored batch; ``--bucket`` (5m).
* ``polling`` (optional): the continuous mode with polling crawls only (every 20 s), to show
  what the streams save.
* ``scheduled``: ``crisiswatch run`` cycles (crawl -> enrich -> evaluate+deliver) at wall-clock
  multiples of the period, as cron ``*/N`` would start them, polling crawls only. A real run
  with 5-minute schedules needs hours for a handful of alerts, so it is run for real with
  the period and bucket scaled down five times (60 s, rule bucket 1m; stated in the output),
  and the 5-minute figure is computed from that run: the trigger's wait until the next
  bucket end (uniform over a 300 s bucket, a cycle starting at each bucket end) plus the
  measured cycle cost (cycle start to delivery), combined by Monte Carlo over the measured
  costs. The same model is checked against the real 60 s run (``model_error_s``).

The last line holds the figures; the continuous p95 is the goal's (<= 60 s), the scheduled
5-minute p95 the other goal (<= 300 s), and ``speedup_p95`` = scheduled / continuous.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import yaml  # noqa: E402

from cpu import cpu_description  # noqa: E402
from crisiswatch.core.config import Config, load_config, parse_duration  # noqa: E402
from crisiswatch.core.model import Author, Engagement, Post  # noqa: E402
from crisiswatch.core.scenario import Scenario  # noqa: E402
from crisiswatch.core.store import open_store  # noqa: E402
from crisiswatch.core.watchlist import WatchlistMatcher  # noqa: E402
from scenarios.platforms import hook  # noqa: E402
from scenarios.webhook import WebhookReceiver  # noqa: E402

BRANDS = ["Aurora", "Borealis", "Cirrus", "Dunlin", "Ember", "Fjord", "Glacier", "Harbor"]
LEXICON = ["recall", "poisoning", "sick", "leaking", "boycott"]
COMPLAINTS = ["{b} Cola recall?? my can was leaking and tasted like metal",
              "got sick after drinking {b} Cola last night, is this food poisoning?",
              "third leaking can of {b} Cola this week, terrible, recall it now",
              "my kids are sick after {b} Cola, furious, nobody answers the hotline",
              "boycott {b} Cola until they explain the leaking cans and the recall",
              "{b} Cola poisoning rumours and still no statement, awful handling"]
CHATTER = ["having a {b} Cola with lunch, nice and cold", "{b} Cola lime is my new favourite",
           "saw a {b} Cola billboard on the way to work", "is {b} Cola sold in the station shop?",
           "{b} Cola and pizza night with friends"]
PLATFORMS = ["mastodon", "bluesky"]


# ---- the crisis, in real time --------------------------------------------------------------
@dataclass
class Plan:
    scenario: Scenario
    history: list[Post]
    brands: list[str]
    crisis_start: dict[str, datetime]
    end: datetime


def _post(platform: str, counter: int, when: datetime, text: str, author_no: int, rng: random.Random) -> Post:
    did = f"did:plc:latency{author_no:017d}"
    author = Author(id=did if platform == "bluesky" else str(5000 + author_no),
                    handle=f"fan{author_no}.bsky.social" if platform == "bluesky" else f"fan{author_no}",
                    name=f"Fan {author_no}", followers=50 * (author_no + 1))
    draft = Post(id=f"{platform}:draft", source=platform, text=text, language="en", created_at=when, author=author,
                 engagement=Engagement(likes=rng.randint(0, 9), shares=rng.randint(0, 3), replies=rng.randint(0, 4)))
    native = hook(platform, "native_id")(counter, draft, rng)
    return draft.model_copy(update={"id": f"{platform}:{native}"})


def plan_crisis(t0: datetime, brands: int, seed: int, window_s: float, crisis_posts: int, spacing_s: float,
                history_h: float = 3.0) -> Plan:
    """Posts of ``brands`` brands from three hours before ``t0``; each brand's crisis starts at
    a random second of the first ``window_s`` after ``t0`` (seeded), one complaint every
    ``spacing_s`` seconds (jittered), alternating platforms, while chatter goes on."""
    rng = random.Random(seed)
    names = BRANDS[:brands]
    history: list[Post] = []
    posts: list[Post] = []
    counter = 0
    starts = {name: t0 + timedelta(seconds=rng.uniform(5, window_s)) for name in names}
    end = max(starts.values()) + timedelta(seconds=crisis_posts * spacing_s + 30)
    for b, name in enumerate(names):
        when = t0 - timedelta(hours=history_h)
        while when < end:  # chatter: every 4-8 minutes per brand, before and during the run
            counter += 1
            platform = PLATFORMS[counter % 2]
            post = _post(platform, counter, when, rng.choice(CHATTER).format(b=name), rng.randrange(20), rng)
            if when < t0 - timedelta(minutes=10):
                history.append(post.model_copy(update={"id": f"history:{counter}", "source": "history"}))
            else:
                posts.append(post)
            when += timedelta(seconds=rng.uniform(240, 480))
        when = starts[name]
        for i in range(crisis_posts):
            counter += 1
            platform = PLATFORMS[(i + b) % 2]
            posts.append(_post(platform, counter, when, COMPLAINTS[(i + b) % len(COMPLAINTS)].format(b=name)
                               + f" #{name.lower()}cola", rng.randrange(20, 40), rng))
            when += timedelta(seconds=spacing_s * rng.uniform(0.6, 1.4))
    posts.sort(key=lambda p: p.created_at)
    scenario = Scenario(name="latency", title="Real-time crisis for the latency benchmark",
                        start=min(p.created_at for p in posts), onset=min(starts.values()),
                        end=end, posts=posts, config={})
    return Plan(scenario, history, names, starts, end)


def write_config(path: Path, data_dir: Path, plan: Plan, sources: list[dict[str, Any]], receiver: WebhookReceiver,
                 bucket: str) -> Path:
    names = plan.brands
    document = {
        "data_dir": str(data_dir), "store": {"sqlite_path": str(data_dir / "store.db")},
        "watchlists": [{"name": n.lower(), "kind": "brand", "terms": [f"{n} Cola", f"#{n.lower()}cola"]} for n in names],
        "crisis_lexicon": LEXICON,
        "sources": sources,
        "models": {"topics": False},
        "rules": [{"name": "crisis-terms", "detector": "keyword_burst",
                   "filter": {"watchlists": [n.lower() for n in names]}, "bucket": bucket,
                   "window": f"{2 * parse_duration(bucket).total_seconds():.0f}s",  # a crisis may straddle a bucket end
                   "min_count": 4, "params": {"negative_only": True}}],
        "channels": [{"name": f"team-{n.lower()}", "url": receiver.url(f"/{n.lower()}"), "format": "text"}
                     for n in names],
        "routes": [{"name": f"to-{n.lower()}", "watchlists": [n.lower()], "min_level": "blue",
                    "channels": [f"team-{n.lower()}"]} for n in names],
        "alerting": {"outbox_dir": str(data_dir / "outbox")},
    }
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


# ---- the oracle: when could each alert have fired at the earliest? -------------------------
def floor_to(when: datetime, size: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    return epoch + ((when - epoch) // size) * size


def trigger_posts(config: Config, plan: Plan, work: Path) -> dict[str, Post]:
    """Per brand, the first post after which the rule fires, its bucket counted with only the
    posts published so far. Run after the live run, on the live run's own enrichments (the
    int8 encoder's output can differ a little with the company a post is batched with, so
    enriching again could move the trigger); posts the run never enriched are enriched here.
    Called before a run (``bench/airflow_cluster.py``), every post is enriched here and the
    store holds only the history."""
    from alerts.engine import evaluate_cycle
    from crisiswatch.app import steps
    from crisiswatch.core.config import parse_duration

    matcher = WatchlistMatcher(config.watchlists)
    tagged = [p.model_copy(update={"watchlists": matcher.match(p.text, p.title)}) for p in plan.scenario.posts]
    native = lambda post_id: post_id.split(":", 1)[1]  # noqa: E731 - "<source>:<native id>"
    with open_store(config) as live:
        seen = {native(e.post_id): e for e in live.get_enrichments(
            [p.id for p in live.iter_posts() if p.source != "history"]).values()}
    enrichments = {p.id: seen[native(p.id)].model_copy(update={"post_id": p.id})
                   for p in tagged if native(p.id) in seen}
    scratch = config.model_copy(update={"store": config.store.model_copy(update={"sqlite_path": str(work / "e.db")}),
                                        "data_dir": str(work / "oracle")})
    missing = [p for p in tagged if p.id not in enrichments]
    if missing:
        with open_store(scratch) as store:
            store.upsert_posts(missing)
            steps.enrich(store, scratch)
            enrichments.update(store.get_enrichments([p.id for p in missing]))
    oracle = scratch.model_copy(update={"store": config.store.model_copy(update={"sqlite_path": str(work / "o.db")})})
    # the history, already enriched: kept aside before the run (or, called before any run, the store itself)
    history = work / "history.db"
    shutil.copy(history if history.exists() else config.store.sqlite_path, work / "o.db")
    bucket = parse_duration(config.rules[0].bucket)
    found: dict[str, Post] = {}
    with open_store(oracle) as store:
        for post in tagged:
            store.upsert_posts([post])
            store.update_enrichments([enrichments[post.id]])
            if not any(term in post.text.lower() for term in LEXICON) or not post.watchlists:
                continue
            if all(w in found for w in post.watchlists):
                continue
            report = evaluate_cycle(store, oracle, now=floor_to(post.created_at, bucket) + bucket, deliver=False)
            for evaluation in report.fired:
                if evaluation.watchlist in post.watchlists and evaluation.watchlist not in found:
                    found[evaluation.watchlist] = post
    return found


# ---- one measured run ---------------------------------------------------------------------
@dataclass
class RunResult:
    mode: str
    latencies: dict[str, float] = field(default_factory=dict)
    missed: list[str] = field(default_factory=list)
    cycles: list[dict[str, float]] = field(default_factory=list)
    predicted: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def warm_up(data_dir: Path) -> None:
    """Load the models into this process (as a long-running ``run --every``/``--follow`` has them)."""
    from crisiswatch.app import steps
    config = Config.model_validate({"data_dir": str(data_dir / "warm"), "store": {"sqlite_path": str(data_dir / "warm.db")},
                           "models": {"topics": False}})
    with open_store(config) as store:
        store.upsert_posts([Post(id="warm:1", source="warm", text="the cans were leaking, awful", language="en",
                                 created_at=datetime.now(timezone.utc))])
        steps.enrich(store, config)


def prepare_history(config: Config, plan: Plan) -> None:
    from crisiswatch.app import steps

    matcher = WatchlistMatcher(config.watchlists)
    with open_store(config) as store:
        store.upsert_posts([p.model_copy(update={"watchlists": matcher.match(p.text)}) for p in plan.history])
        steps.enrich(store, config)  # also loads the models into this process (the warm-up)


def run_mode(mode: str, args: argparse.Namespace, seed: int, work: Path) -> RunResult:
    from scenarios.replay import ReplayServer
    from scenarios.replay.server import default_sources
    from scenarios.replay.streaming import stream_sources

    result = RunResult(mode)
    data_dir = work / mode
    data_dir.mkdir(parents=True)
    receiver = WebhookReceiver()
    scheduled = mode == "scheduled"
    bucket = f"{args.period}s" if scheduled else args.bucket
    # the scaled-down scheduled run gets a crisis scaled down alike (as many posts per bucket)
    spacing = args.spacing * args.period / 300 if scheduled else args.spacing
    warm_up(data_dir)
    setup_s = 45.0
    t0 = datetime.now(timezone.utc) + timedelta(seconds=setup_s)
    plan = plan_crisis(t0, args.brands, seed, args.window, args.crisis_posts, spacing)
    server = ReplayServer(plan.scenario, speedup=1.0, clock_start=datetime.now(timezone.utc)).start()
    try:
        if mode in ("scheduled", "polling"):
            sources = [{**s, "name": s["name"].replace("replay-", "poll-")}
                       for s in default_sources(server.catalog, server.base_url_for) if s["platform"] in PLATFORMS]
        else:
            sources = stream_sources(server)
        config_path = write_config(data_dir / "crisiswatch.yaml", data_dir, plan, sources, receiver, bucket)
        config = load_config(config_path)
        prepare_history(config, plan)
        shutil.copy(config.store.sqlite_path, data_dir / "history.db")  # for the oracle, after the run
        brands = [name.lower() for name in plan.brands]
        wait = (t0 - datetime.now(timezone.utc)).total_seconds()
        if wait < 0:
            result.notes.append(f"set-up took {setup_s - wait:.0f} s, {-wait:.0f} s into the run")
        deadline = plan.end + timedelta(seconds=args.grace)
        if scheduled:
            run_scheduled(config, config_path, args.period, deadline, result, receiver, brands)
        else:
            run_continuous(config, config_path, deadline, result, receiver, brands)  # streams or 20 s polls
        triggers = trigger_posts(config, plan, data_dir)
        for name in plan.brands:
            if name.lower() not in triggers:
                result.notes.append(f"{name}: the oracle never fires (rule too strict for this crisis)"
                                    + (", yet an alert came" if receiver.first(f"/{name.lower()}") else ""))
        size = load_config(config_path).rules[0].bucket
        for name, post in triggers.items():
            arrived = receiver.first(f"/{name}")
            phase = post.created_at - floor_to(post.created_at, parse_duration(size))
            result.notes.append(f"{name}: trigger published {post.created_at:%H:%M:%S.%f}"[:-3]
                                + f" ({phase.total_seconds():.0f} s into its {size} bucket), alert "
                                + (f"received {datetime.fromtimestamp(arrived, timezone.utc):%H:%M:%S.%f}"[:-3]
                                   if arrived else "never received"))
            if arrived is None:
                result.missed.append(name)
            else:
                result.latencies[name] = arrived - post.created_at.timestamp()
        if scheduled:
            predict_scheduled(result, triggers, args.period)
    finally:
        server.stop()
        receiver.stop()
    return result


def run_continuous(config: Config, config_path: Path, deadline: datetime, result: RunResult,
                   receiver: WebhookReceiver, brands: list[str]) -> None:
    from crisiswatch.app.follow import follow_pipeline

    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set() and datetime.now(timezone.utc) < deadline:
            if all(receiver.first(f"/{name}") for name in brands):
                break
            time.sleep(0.5)
        stop.set()

    threading.Thread(target=watch, daemon=True).start()
    with open_store(config) as store:
        stats = follow_pipeline(store, config, config_path, crawl_every_s=20.0, idle_every_s=30.0, stop=stop,
                                backfill_every_s=300.0)
    result.notes.append(f"continuous: {stats.crawls} crawls, {stats.streamed} posts streamed, {stats.passes} "
                        f"evaluation passes, {stats.enriched} enriched, {len(stats.errors)} errors")
    result.notes += [f"  problem: {e}" for e in list(dict.fromkeys(stats.errors))[:3]]


def run_scheduled(config: Config, config_path: Path, period: int, deadline: datetime, result: RunResult,
                  receiver: WebhookReceiver, brands: list[str]) -> None:
    """``crisiswatch run`` cycles started at wall-clock multiples of ``period`` (cron-like)."""
    from crisiswatch.app import steps

    with open_store(config) as store:
        while datetime.now(timezone.utc) < deadline and not all(receiver.first(f"/{n}") for n in brands):
            now = time.time()
            time.sleep(period - now % period)
            started = time.time()
            health, errors = steps.crawl(config, config_path, parallel=2)
            crawled = time.time()
            steps.enrich(store, config)
            enriched = time.time()
            _, problems = steps.evaluate(store, config)
            evaluated = time.time()
            result.cycles.append({"start": started, "crawl": crawled - started, "enrich": enriched - crawled,
                                  "evaluate": evaluated - enriched, "total": evaluated - started,
                                  "posts": sum(h.items for h in health)})
            for error in errors + problems:
                result.notes.append(f"  problem: {error}")


def predict_scheduled(result: RunResult, triggers: dict[str, Post], period: int) -> None:
    """Per alert of the real run: the first cycle at or after the trigger's bucket end plus the
    median cycle cost; the model the 5-minute figure is computed with."""
    if not result.cycles:
        return
    cost = statistics.median(c["total"] for c in result.cycles)
    starts = sorted(c["start"] for c in result.cycles)
    for name, post in triggers.items():
        bucket_end = (post.created_at.timestamp() // period + 1) * period
        cycle = next((s for s in starts if s >= bucket_end - 0.5), None)
        if cycle is not None:
            result.predicted[name] = cycle + cost - post.created_at.timestamp()


def model_five_minutes(costs: list[float], period: float = 300.0, draws: int = 200_000,
                       seed: int = 1) -> tuple[float, float]:
    """p50 and p95 of U(0, period) + a measured cycle cost (Monte Carlo)."""
    rng = random.Random(seed)
    samples = sorted(rng.uniform(0, period) + rng.choice(costs) for _ in range(draws))
    return samples[len(samples) // 2], samples[int(len(samples) * 0.95)]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: with few alerts, p95 is the worst or near it)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 1)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", nargs="+", default=["continuous", "scheduled"],
                        choices=["continuous", "polling", "scheduled"],
                        help="polling = the continuous mode without streams (crawl loops every 20 s)")
    parser.add_argument("--brands", type=int, default=6, help="crises (one alert each) per run")
    parser.add_argument("--repeats", type=int, default=1, help="runs per mode (new seed each)")
    parser.add_argument("--bucket", default="5m", help="rule bucket in the continuous mode")
    parser.add_argument("--period", type=int, default=60, help="seconds between scheduled cycles (and their bucket)")
    parser.add_argument("--window", type=float, default=150.0, help="crises start within this many seconds")
    parser.add_argument("--crisis-posts", type=int, default=10)
    parser.add_argument("--spacing", type=float, default=8.0, help="seconds between complaints of one crisis")
    parser.add_argument("--grace", type=float, default=150.0, help="seconds to wait for alerts after the last post")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    print(cpu_description(), flush=True)
    work = Path(tempfile.mkdtemp(prefix="alert-latency-"))
    results: dict[str, list[RunResult]] = {m: [] for m in args.modes}
    try:
        for repeat in range(args.repeats):
            for mode in args.modes:
                began = time.time()
                res = run_mode(mode, args, args.seed + repeat, work / f"r{repeat}")
                results[mode].append(res)
                print(f"[{mode} run {repeat + 1}, {time.time() - began:.0f} s] latencies "
                      + ", ".join(f"{k}={v:.1f}s" for k, v in sorted(res.latencies.items()))
                      + (f"; missed {', '.join(res.missed)}" if res.missed else ""), flush=True)
                for name, value in sorted(res.predicted.items()):
                    print(f"    model {name}: predicted {value:.1f}s, measured "
                          f"{res.latencies.get(name, float('nan')):.1f}s")
                for cycle in res.cycles:
                    print(f"    cycle: crawl {cycle['crawl']:.1f}s ({cycle['posts']} posts) enrich "
                          f"{cycle['enrich']:.1f}s evaluate+deliver {cycle['evaluate']:.1f}s total {cycle['total']:.1f}s")
                for note in res.notes:
                    print(f"    {note}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work directory kept: {work}")
    figures = []
    for mode in ("continuous", "polling"):
        if mode in results:
            values = [v for r in results[mode] for v in r.latencies.values()]
            missed = sum(len(r.missed) for r in results[mode])
            if values:
                figures += [f"{mode}_p50_s={percentile(values, .5):.1f}", f"{mode}_p95_s={percentile(values, .95):.1f}"]
            figures.append(f"{mode}_alerts={len(values)}/{len(values) + missed}")
    if "scheduled" in results:
        runs = results["scheduled"]
        values = [v for r in runs for v in r.latencies.values()]
        missed = sum(len(r.missed) for r in runs)
        costs = [c["total"] for r in runs for c in r.cycles]
        errors = [abs(r.latencies[k] - r.predicted[k]) for r in runs for k in r.predicted if k in r.latencies]
        if values:
            figures += [f"scheduled_{args.period}s_p50_s={percentile(values, .5):.1f}",
                        f"scheduled_{args.period}s_p95_s={percentile(values, .95):.1f}"]
        figures.append(f"scheduled_alerts={len(values)}/{len(values) + missed}")
        if costs:
            p50, p95 = model_five_minutes(costs)
            figures += [f"cycle_cost_p50_s={statistics.median(costs):.1f}", f"scheduled_5m_p50_s={p50:.1f}",
                        f"scheduled_5m_p95_s={p95:.1f}"]
            if "continuous" in results and any(r.latencies for r in results["continuous"]):
                cont = [v for r in results["continuous"] for v in r.latencies.values()]
                figures.append(f"speedup_p95={p95 / max(percentile(cont, .95), 1e-9):.1f}")
        if errors:
            figures.append(f"model_error_s={statistics.mean(errors):.1f}")
    print(cpu_description().split("; ")[-1])
    print(" ".join(figures))


if __name__ == "__main__":
    main()
