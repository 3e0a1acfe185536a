"""Count series per bucket, read through the Store and cached in its key/value state.

A 14-day baseline at 15-minute buckets is 1,344 buckets; reading them all every five
minutes for every rule would cost the store far more than the detection itself. Buckets
older than the rule's ``settle`` period no longer change (late posts and late enrichment
land within it), so they are cached and only the recent part is read again each cycle.
The backtest uses an in-memory cache with no settle period: its history is final.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import numpy as np

from crisiswatch.model import as_utc
from crisiswatch.store.base import PostFilter, Store

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
STATE_PREFIX = "alerts:series:"


def floor_time(t: datetime, size: timedelta) -> datetime:
    """Start of the epoch-aligned bucket containing ``t``."""
    t = as_utc(t)
    return EPOCH + ((t - EPOCH) // size) * size


class SeriesCache:
    """Reads ``count_by_bucket`` incrementally; ``persist`` keeps the stable part in the store."""

    def __init__(self, store: Store, persist: bool = True, settle_override: timedelta | None = None):
        self.store = store
        self.persist = persist
        self.settle_override = settle_override
        self._memory: dict[str, dict] = {}
        self.reads = 0

    def _key(self, flt: PostFilter, size: timedelta) -> str:
        payload = json.dumps([flt.model_dump(mode="json", exclude={"since", "until"}), size.total_seconds()],
                             sort_keys=True, ensure_ascii=False)
        return STATE_PREFIX + hashlib.sha1(payload.encode()).hexdigest()[:20]

    def _load(self, key: str) -> dict | None:
        if key in self._memory:
            return self._memory[key]
        if not self.persist:
            return None
        raw = self.store.get_state(key)
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
            entry["start"] = datetime.fromisoformat(entry["start"])
            return entry
        except (ValueError, KeyError, TypeError):
            return None  # unreadable cache: read from the store again

    def counts(self, flt: PostFilter, start: datetime, end: datetime, size: timedelta,
               settle: timedelta) -> np.ndarray:
        """Counts for the buckets ``[start, end)`` (both aligned to ``size``)."""
        settle = self.settle_override if self.settle_override is not None else settle
        n = int((end - start) / size)
        key = self._key(flt, size)
        entry = self._load(key)
        out = np.zeros(n, dtype=float)
        fetch_from = start
        if entry is not None and entry["start"] <= start:
            cached = entry["counts"]
            offset = int((start - entry["start"]) / size)
            usable = max(0, min(len(cached) - offset, n))
            if usable > 0:
                out[:usable] = cached[offset:offset + usable]
                fetch_from = start + usable * size
        if fetch_from < end:
            self.reads += 1
            buckets = self.store.count_by_bucket(flt, fetch_from, end, size)
            first = int((fetch_from - start) / size)
            for k, bucket in enumerate(buckets[: n - first]):
                out[first + k] = bucket.count
        stable_end = floor_time(end - settle, size)
        stable = max(0, min(n, int((stable_end - start) / size)))
        old_stable = 0
        if entry is not None and entry["start"] <= start:
            old_stable = len(entry["counts"]) - int((start - entry["start"]) / size)
        if stable > 0 and stable != old_stable:
            new_entry = {"start": start, "counts": [int(v) for v in out[:stable]]}
            self._memory[key] = new_entry
            if self.persist:
                self.store.set_state(key, json.dumps({"start": start.isoformat(), "counts": new_entry["counts"]}))
        return out
