"""Near-duplicate groups (copy-paste campaigns, reposts) with datasketch MinHash LSH.

Texts are compared as sets of character 3-grams of a normalised form (Simplified, case-
and width-folded, links and mentions removed, no spaces or punctuation), which works the
same for Chinese and English. A group id is derived from the earliest-seen member, so it
never changes as the group grows; posts without a near-duplicate have no group.

The index is kept on disk between runs (``<data_dir>/nlp/near_duplicates.pkl``) so that a
repost arriving a day later joins the original's group. The original was stored without a
group when it arrived; ``apply_groups`` is the one step that gives it the group afterwards.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from crisiswatch.core.text import normalize_width_case
from nlp.textprep import strip_links_and_mentions, to_simplified

if TYPE_CHECKING:
    from crisiswatch.core.store.base import Store

NUM_PERM = 64
SHINGLE = 3
MIN_SHINGLES = 3
"""Texts shorter than this many 3-grams (a few characters) are never grouped: too little evidence."""
_NOT_CONTENT = re.compile(r"[\W_]+", re.UNICODE)


def fingerprint_text(text: str) -> str:
    return _NOT_CONTENT.sub("", normalize_width_case(to_simplified(strip_links_and_mentions(text))))


def shingles(text: str) -> set[str]:
    core = fingerprint_text(text)
    return {core[i:i + SHINGLE] for i in range(max(0, len(core) - SHINGLE + 1))}


@functools.cache
def _template():
    """One MinHash whose permutations every signature shares (drawing them per post took
    more time than hashing the post; same seed, so the same signatures as before)."""
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, seed=1)


def group_id_for(post_id: str) -> str:
    return "dup-" + hashlib.sha1(post_id.encode()).hexdigest()[:12]


@dataclass
class DuplicateIndex:
    threshold: float
    lsh: object = None
    groups: dict[str, str | None] = field(default_factory=dict)
    """post id -> its group (None while it has no near-duplicate)."""

    def __post_init__(self):
        if self.lsh is None:
            from datasketch import MinHashLSH

            self.lsh = MinHashLSH(threshold=self.threshold, num_perm=NUM_PERM)

    @staticmethod
    def _minhash(grams: set[str]):
        from datasketch import MinHash

        template = _template()
        signature = MinHash(num_perm=NUM_PERM, seed=1, permutations=template.permutations, scheme=template.scheme)
        signature.update_batch([gram.encode("utf-8") for gram in grams])
        return signature

    def assign(self, items: list[tuple[str, str]]) -> tuple[dict[str, str | None], dict[str, str]]:
        """Group ``(post_id, text)`` items against each other and the index.

        Returns the group of every item, and the earlier posts whose group changed from
        None to a group now that a duplicate arrived (the caller updates their enrichments).
        """
        result: dict[str, str | None] = {}
        changed: dict[str, str] = {}
        for post_id, text in items:
            if post_id in self.groups:  # seen before: idempotent
                result[post_id] = self.groups[post_id]
                continue
            grams = shingles(text)
            if len(grams) < MIN_SHINGLES:
                result[post_id] = None
                continue
            signature = self._minhash(grams)
            neighbours = sorted(self.lsh.query(signature))
            group = None
            if neighbours:
                named = [self.groups[n] for n in neighbours if self.groups.get(n)]
                group = named[0] if named else group_id_for(neighbours[0])
                for neighbour in neighbours:
                    if self.groups.get(neighbour) is None:
                        self.groups[neighbour] = group
                        changed[neighbour] = group
            self.lsh.insert(post_id, signature)
            self.groups[post_id] = group
            result[post_id] = group
        for post_id in list(changed):
            if post_id in result:  # in this same call: reported through result
                result[post_id] = changed.pop(post_id)
        return result, changed

    # -- persistence -------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as handle:
            pickle.dump(self, handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
        _LOADED[str(path)] = (path.stat().st_mtime_ns, self)

    @classmethod
    def load_or_new(cls, path: Path | None, threshold: float) -> "DuplicateIndex":
        """The index saved at ``path``; the copy this process last saved or read is reused
        while the file is unchanged (another worker's save is read again)."""
        if path is not None and path.is_file():
            stamp = path.stat().st_mtime_ns
            cached = _LOADED.get(str(path))
            if cached is not None and cached[0] == stamp:
                index = cached[1]
            else:
                with open(path, "rb") as handle:
                    index = pickle.load(handle)
                _LOADED[str(path)] = (stamp, index)
            if isinstance(index, cls) and abs(index.threshold - threshold) < 1e-9:
                return index
        return cls(threshold=threshold)


_LOADED: dict[str, tuple[int, DuplicateIndex]] = {}


def apply_groups(store: "Store", groups: Mapping[str, str]) -> int:
    """Give earlier posts, already in ``store``, the near-duplicate group a later batch found
    them in; returns how many stored enrichments changed.

    ``DuplicateIndex.assign`` (through ``nlp.enrich.enrich(..., duplicate_updates=...)``)
    reports those earlier posts; their stored enrichment still says "no group" until this
    runs. It is the only implementation of that update: ``nlp.enrich.enrich_batch`` calls it
    for every batch, and so every caller that stores enrichments (``enrich_store``, the CLI,
    ``crisiswatch.app.steps`` and the Airflow enrich DAG) should go through ``enrich_batch``
    or, when it stores enrichments itself, call this with what ``enrich`` reported.

    Idempotent: an enrichment that already has the group is not rewritten, so applying the
    same groups again (a retried Airflow task, a rerun) changes nothing and returns 0. Posts
    with no stored enrichment are left alone: they get their group when they are enriched.
    """
    if not groups:
        return 0
    existing = store.get_enrichments(list(groups))
    changed = [enrichment.model_copy(update={"duplicate_group": groups[post_id]})
               for post_id, enrichment in existing.items() if enrichment.duplicate_group != groups[post_id]]
    return store.update_enrichments(changed).written if changed else 0
