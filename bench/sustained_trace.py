"""Why is a complaint wave late, and why does a quiet day alarm? Per-bucket statistics of
``sustained_shift`` on the airline timelines around each written onset (and any time given).

Run from the repository root with the project venv::

    .venv/bin/python bench/sustained_trace.py                       # around each airline onset
    .venv/bin/python bench/sustained_trace.py --at delta@2015-02-19T15:30   # a UTC time, e.g. an alarm

For each evaluated bucket end it prints the rule's score and level and, per test the rule
reports (signal x span, or the CUSUM), the observed count, its expectation, the dispersion
and the z. Reads ``../shared/datasets`` (skips cleanly without it); nothing is written.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from crisiswatch.core.config import parse_config  # noqa: E402

from alerts.engine import run_rules  # noqa: E402
from alerts.series import SeriesCache  # noqa: E402

import timelines_real  # noqa: E402


def trace(store, config, watchlist: str, times: list[datetime]) -> None:  # noqa: ANN001
    cache = SeriesCache(store, persist=False, settle_override=timedelta(0))
    rule = config.rule("sustained")
    for t in times:
        evaluations, errors = run_rules(store, config, t, cache, [rule])
        assert not errors, errors
        for ev in evaluations:
            if ev.watchlist != watchlist:
                continue
            level = ev.level.value if ev.level else "-"
            pacific = t.astimezone(timelines_real.PACIFIC)
            tests = "  ".join(f"{s['signal'][:3]}/{'cusum ' if s.get('test') == 'cusum' else ''}{s['span']}: "
                              f"{s['observed']:g}/{s['expected']:.1f} phi {s.get('phi', float('nan')):.1f} z {s['z']:.1f}"
                              for s in ev.evidence.get("spans", []))
            print(f"{t.astimezone(timezone.utc):%m-%d %H:%M}Z ({pacific:%a %H:%M} PT) score {ev.score:5.2f} {level:<6} {tests}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--at", action="append", default=[], help="WATCHLIST@UTC-TIME to trace around")
    parser.add_argument("--before", type=float, default=4.0, help="hours traced before each time")
    parser.add_argument("--after", type=float, default=4.0, help="hours traced after each time")
    parser.add_argument("--every", type=int, default=30, help="minutes between traced bucket ends")
    args = parser.parse_args()
    if not timelines_real.AIRLINE_CSV.exists():
        print(f"skipped: {timelines_real.AIRLINE_CSV} not found")
        return
    with tempfile.TemporaryDirectory() as tmp:
        store, onsets, _ = timelines_real.airline_store(Path(tmp))
        names = list(timelines_real.AIRLINES.values())
        config = parse_config(f"""
data_dir: {tmp}
watchlists: [{', '.join(f'{{name: {w}, terms: [{w}]}}' for w in names)}]
rules:
  - {{name: sustained, detector: sustained_shift, bucket: 15m, min_count: 10}}
alerting: {{outbox_dir: {tmp}/outbox}}
""", "trace.yaml")
        points = [(name, onset) for name, onset in onsets.items() if onset]
        for item in args.at:
            name, _, when = item.partition("@")
            points.append((name, datetime.fromisoformat(when).replace(tzinfo=timezone.utc)))
        rule = config.rule("sustained")
        print(f"thresholds {dict((k.value, v) for k, v in rule.thresholds.items()) if rule.thresholds else 'default'}")
        for name, at in points:
            print(f"\n== {name} around {at.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC")
            step = timedelta(minutes=args.every)
            first = at - timedelta(hours=args.before)
            times = [first + k * step for k in range(int((args.before + args.after) * 60 / args.every) + 1)]
            trace(store, config, name, times)
        store.close()


if __name__ == "__main__":
    main()
