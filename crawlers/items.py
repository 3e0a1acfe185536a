"""What spiders yield besides ``crisiswatch.core.model.Post``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CursorUpdate:
    """A target's new position, yielded after every post before it.

    ``after`` is how many posts the spider had yielded when it made this update. Scrapy
    runs item pipelines concurrently, so the update may overtake earlier posts; the store
    pipeline holds it until that many posts have come through, writes them, and only then
    saves the cursor. A crawl killed at any moment restarts from a position whose posts are
    all stored.
    """

    key: str
    value: str
    after: int = 0


@dataclass
class Skipped:
    """A post a pipeline decided not to store (no watchlist, duplicate).

    It still travels to the store pipeline instead of being dropped, so that the store
    pipeline can count every post the spider yielded (see ``CursorUpdate.after``).
    """

    post_id: str
    reason: str
