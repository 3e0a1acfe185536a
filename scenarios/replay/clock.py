"""The scenario clock: scenario time that runs at a chosen speed-up and can be set by hand."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from crisiswatch.core.model import as_utc


class ScenarioClock:
    """``now()`` = the scenario time; it advances ``speedup`` scenario seconds per real second.

    ``speedup=0`` freezes it (tests drive it with ``set`` / ``advance``).
    """

    def __init__(self, start: datetime, speedup: float = 1.0):
        if speedup < 0:
            raise ValueError("speedup must be >= 0")
        self._lock = threading.Lock()
        self._anchor = as_utc(start)
        self._anchored_at = time.monotonic()
        self.speedup = speedup

    def now(self) -> datetime:
        with self._lock:
            return self._anchor + timedelta(seconds=(time.monotonic() - self._anchored_at) * self.speedup)

    def set(self, when: datetime) -> None:
        with self._lock:
            self._anchor, self._anchored_at = as_utc(when), time.monotonic()

    def advance(self, delta: timedelta) -> None:
        self.set(self.now() + delta)
