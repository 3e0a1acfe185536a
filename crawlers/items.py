"""What spiders yield besides ``crisiswatch.model.Post``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CursorUpdate:
    """A target's new position, yielded after every post before it.

    The store pipeline writes all pending posts first and only then saves the cursor, so
    a crawl killed at any moment restarts from a position whose posts are all stored.
    """

    key: str
    value: str
