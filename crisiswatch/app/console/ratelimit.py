"""Rate limits that hold across console processes: a counter per key and time window, kept in
the store's key/value state and changed with ``Store.update_state`` (one atomic
read-modify-write), so two ``crisiswatch serve`` processes behind one proxy share one budget
instead of each granting the full one.

A window starts with the first hit after the previous one ended and lasts ``length``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from crisiswatch.core.model import as_utc
from crisiswatch.core.store.base import Store

PREFIX = "ratelimit:"


@dataclass(frozen=True)
class Window:
    count: int
    """Hits in the current window, this one included."""
    start: datetime
    last_at: datetime
    length: timedelta

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the window ends."""
        return max(1, math.ceil((self.start + self.length - now).total_seconds()))


def _window(value: str | None, length: timedelta, now: datetime) -> Window | None:
    """The stored window, or None when there is none or it has ended."""
    if not value:
        return None
    data = json.loads(value)
    start = as_utc(datetime.fromisoformat(data["start"]))
    if not start <= now < start + length:
        return None
    return Window(int(data["count"]), start, as_utc(datetime.fromisoformat(data["last_at"])), length)


def hit(store: Store, key: str, length: timedelta, now: datetime) -> Window:
    """Count one hit on ``key`` and return the window with it."""
    def change(current: str | None) -> str:
        window = _window(current, length, now)
        start, count = (window.start, window.count) if window else (now, 0)
        return json.dumps({"start": start.isoformat(), "count": count + 1, "last_at": now.isoformat()})

    written = _window(store.update_state(PREFIX + key, change), length, now)
    assert written is not None
    return written


def count(store: Store, key: str, length: timedelta, now: datetime) -> int:
    """Hits on ``key`` in its current window (0 when it has ended)."""
    window = _window(store.get_state(PREFIX + key), length, now)
    return window.count if window else 0


def last_hit(store: Store, key: str) -> datetime | None:
    """When ``key`` was last hit, however long ago."""
    value = store.get_state(PREFIX + key)
    return as_utc(datetime.fromisoformat(json.loads(value)["last_at"])) if value else None


def clear(store: Store, key: str) -> None:
    store.set_state(PREFIX + key, None)
