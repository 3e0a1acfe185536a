"""Count series per bucket, read through the Store and cached in its key/value state.

A 14-day baseline at 15-minute buckets is 1,344 buckets; reading them all every five
minutes for every rule would cost the store far more than the detection itself. Buckets
older than the rule's ``settle`` period no longer change (late posts and late enrichment
land within it), so they are cached and only the recent part is read again each cycle.
The backtest uses an in-memory cache with no settle period: its history is final.

What changes history older than ``settle`` (a backfill, or posts enriched again after a model
change: their labels are what negative counts are made of) must ``forget`` the cache. Entries
are keyed by a generation that ``forget`` bumps before it deletes them, so a cycle that read
the old history and saves it after the forget writes under the old generation, where no later
cycle looks (and an index entry lost between two writers leaves garbage, never stale counts).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import numpy as np

from crisiswatch.core.model import as_utc
from crisiswatch.core.store.base import PostFilter, Store

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
STATE_PREFIX = "alerts:series:"
INDEX_KEY = "alerts:series-index"
GENERATION_KEY = "alerts:series-generation"


def forget(store: Store) -> int:
    """Drop every cached series (after backfilling history older than the rules' settle
    period, for instance); the next cycle reads the baselines from the posts again."""
    raw = store.get_state(INDEX_KEY)
    keys = json.loads(raw) if raw else []
    store.update_state(GENERATION_KEY, lambda current: str(int(current or 0) + 1))  # first (module docstring)
    for key in keys:
        store.set_state(key, None)
    store.set_state(INDEX_KEY, None)
    return len(keys)


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
        self._cycle: dict[tuple[str, datetime], tuple[datetime, list[int]]] = {}
        self._index: set[str] | None = None
        self._generation: str | None = None
        self.reads = 0

    def _save(self, key: str, value: str) -> None:
        """Persist one cache entry, and its key in the index that ``forget`` uses."""
        if self._index is None:
            raw = self.store.get_state(INDEX_KEY)
            self._index = set(json.loads(raw)) if raw else set()
        if key not in self._index:
            self._index.add(key)
            self.store.set_state(INDEX_KEY, json.dumps(sorted(self._index)))
        self.store.set_state(key, value)

    def _key(self, flt: PostFilter, size: timedelta) -> str:
        if self._generation is None:  # read once: one cycle reads one generation throughout
            self._generation = (self.store.get_state(GENERATION_KEY) if self.persist else None) or "0"
        payload = json.dumps([flt.model_dump(mode="json", exclude={"since", "until"}), size.total_seconds(),
                              self._generation], sort_keys=True, ensure_ascii=False)
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
            entry["counts"] = np.asarray(entry["counts"], dtype=float)
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
            first = int((fetch_from - start) / size)
            fetched = self._recent(key, flt, fetch_from, end, size)
            out[first:] = fetched[: n - first]
        stable_end = floor_time(end - settle, size)
        stable = max(0, min(n, int((stable_end - start) / size)))
        old_stable = 0
        if entry is not None and entry["start"] <= start:
            old_stable = len(entry["counts"]) - int((start - entry["start"]) / size)
        if stable > 0 and stable != old_stable:
            new_entry = {"start": start, "counts": out[:stable].copy()}
            self._memory[key] = new_entry
            if self.persist:
                self._save(key, json.dumps({"start": start.isoformat(),
                                                      "counts": out[:stable].astype(int).tolist()}))
        return out

    def _recent(self, key: str, flt: PostFilter, fetch_from: datetime, end: datetime, size: timedelta) -> list[int]:
        """Counts for ``[fetch_from, end)``, shared by the rules of one cycle that watch the same
        posts (a volume rule and a share rule on negative posts of a brand read them once)."""
        if len(self._cycle) > 10_000:  # a long backtest: keep the memo small
            self._cycle = {k: v for k, v in self._cycle.items() if k[1] == end}
        memo = self._cycle.get((key, end))
        if memo is not None and memo[0] <= fetch_from:
            offset = int((fetch_from - memo[0]) / size)
            return memo[1][offset:]
        self.reads += 1
        counts = [b.count for b in self.store.count_by_bucket(flt, fetch_from, end, size)]
        self._cycle[(key, end)] = (fetch_from, counts)
        return counts

    def field_counts(self, field: str, flt: PostFilter, start: datetime, end: datetime, size: timedelta,
                     settle: timedelta, tag: str = "") -> dict[str, int]:
        """``count_by_field`` over ``[start, end)`` (aligned to ``size``), kept up to date incrementally.

        The cached totals cover a stable range; a new request adds the buckets that became
        stable, subtracts those that left the range, and reads the unstable tail directly.
        """
        settle = self.settle_override if self.settle_override is not None else settle
        key = self._key(flt, size) + ":" + field + (":" + tag if tag else "")
        stable_end = max(start, min(end, floor_time(end - settle, size)))
        entry = self._memory.get(key)
        if entry is None and self.persist:
            raw = self.store.get_state(key)
            if raw:
                try:
                    data = json.loads(raw)
                    entry = {"start": datetime.fromisoformat(data["start"]), "end": datetime.fromisoformat(data["end"]),
                             "counts": {k: int(v) for k, v in data["counts"].items()}}
                except (ValueError, KeyError, TypeError, AttributeError):
                    entry = None
        if entry is not None and entry["start"] <= start <= entry["end"] <= stable_end:
            totals = dict(entry["counts"])
            if entry["start"] < start:
                self._add(totals, field, flt, entry["start"], start, -1)
            if entry["end"] < stable_end:
                self._add(totals, field, flt, entry["end"], stable_end, +1)
        else:
            totals = {}
            self._add(totals, field, flt, start, stable_end, +1)
        totals = {k: v for k, v in totals.items() if v > 0}
        changed = entry is None or (entry["start"], entry["end"]) != (start, stable_end)
        self._memory[key] = {"start": start, "end": stable_end, "counts": totals}
        if changed and self.persist:
            self._save(key, json.dumps({"start": start.isoformat(), "end": stable_end.isoformat(),
                                                  "counts": totals}, ensure_ascii=False))
        result = dict(totals)
        if stable_end < end:
            self._add(result, field, flt, stable_end, end, +1)
        return result

    def _add(self, totals: dict[str, int], field: str, flt: PostFilter, since: datetime, until: datetime,
             sign: int) -> None:
        if until <= since:
            return
        self.reads += 1
        for item in self.store.count_by_field(field, flt.narrow(since=since, until=until), limit=100_000):
            totals[item.term] = totals.get(item.term, 0) + sign * item.count


NOWCAST_AFTER = timedelta(seconds=30)
"""How much of the open bucket must have passed before it is evaluated (nowcast); at most a
fifth of a small bucket. Short, so that a post early in a 15-minute bucket is not held for
minutes: the open bucket's count is a lower bound, so an early nowcast only costs a cycle."""


def nowcast_from(start: datetime, size: timedelta) -> datetime:
    """The instant from which the open bucket starting at ``start`` is nowcast."""
    return start + min(NOWCAST_AFTER, size / 5)


def nowcast_time(now: datetime, config, rules=None) -> datetime:  # noqa: ANN001
    """The time to evaluate at so that the open bucket counts before it closes.

    Detectors read complete buckets only (``floor(now)``), so an alert waits up to one bucket
    for its bucket to close. The continuous mode evaluates at the *end* of the open bucket
    instead, once ``NOWCAST_AFTER`` of it has passed (``nowcast_from``): nothing created after ``now`` exists
    yet, so the open bucket's count is a lower bound of its final count (the expectation is
    the full bucket's), which keeps the nowcast conservative: it can alert early, never on
    posts it has not seen. Rules with different buckets: the smallest one decides.
    """
    from crisiswatch.core.schedule import parse_duration

    buckets = [parse_duration(r.bucket) for r in (rules if rules is not None else config.rules) if r.enabled]
    if not buckets:
        return now
    size = min(buckets)
    start = floor_time(now, size)
    if now < nowcast_from(start, size):
        return now
    return start + size
