"""Near-duplicate groups (copy-paste campaigns, reposts) with datasketch MinHash LSH.

Texts are compared as sets of character 3-grams of a normalised form (Simplified, case-
and width-folded, links and mentions removed, no spaces or punctuation), which works the
same for Chinese and English. A group id is derived from the earliest-seen member, so it
never changes as the group grows; posts without a near-duplicate have no group.

The index is kept on disk between runs (``<data_dir>/nlp/near_duplicates.pkl``) so that a
repost arriving a day later joins the original's group.
"""

from __future__ import annotations

import hashlib
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

from crisiswatch.core.text import normalize_width_case
from nlp.textprep import strip_links_and_mentions, to_simplified

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

        signature = MinHash(num_perm=NUM_PERM, seed=1)
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

    @classmethod
    def load_or_new(cls, path: Path | None, threshold: float) -> "DuplicateIndex":
        if path is not None and path.is_file():
            with open(path, "rb") as handle:
                index = pickle.load(handle)
            if isinstance(index, cls) and abs(index.threshold - threshold) < 1e-9:
                return index
        return cls(threshold=threshold)
