"""The follow loop's evaluator wakes when the open bucket becomes nowcastable, not only on new
posts or the idle timer: a post that came early in a bucket is not left waiting a minute."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from crisiswatch.app.follow import follow
from crisiswatch.core.config import Config


def test_evaluator_wakes_at_the_next_due_instant():
    evaluated: list[datetime] = []
    due = datetime.now(timezone.utc) + timedelta(seconds=1.0)
    stop = threading.Event()
    started = time.monotonic()
    stats = follow(Config(), ["quiet"], lambda name: SimpleNamespace(items=0), enrich=lambda: 0,
                   evaluate=lambda now: evaluated.append(now) or SimpleNamespace(changes=[]),
                   crawl_every_s=60.0, idle_every_s=60.0, stop=stop, duration_s=4.0,
                   next_due=lambda now: due if now < due else None)
    assert time.monotonic() - started < 20, "stop/duration was not honoured"
    assert evaluated, "no evaluation before the idle timer"
    assert due <= evaluated[0] < due + timedelta(seconds=2), (due, evaluated[0])
    assert not stats.errors


def test_setting_stop_ends_follow_without_waiting_for_the_idle_timer():
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    follow(Config(), [], lambda name: None, enrich=lambda: 0, evaluate=lambda now: SimpleNamespace(changes=[]),
           idle_every_s=60.0, stop=stop)
    assert time.monotonic() - started < 5
