"""The console's accounts document: users, their API tokens and the audit trail of changes to
either, in one value of the store's key/value state (``console:accounts``).

One document, so that a change and its audit record are one atomic write
(``Store.update_state``: one transaction on SQLite, one compare-and-set on Elasticsearch):
there is no user added without its record, no record of a change that did not happen, and a
token cannot be made for a user another process is removing at that moment (the old layout,
users and tokens under two keys, let such a token outlive its account and come back to life
when the name was added again).

Stores written before this layout keep users under ``console:users`` and one token per user
under ``console:api_tokens``; the first change reads both into the new document (a user's
old token becomes their token named ``default``) and the old keys are then deleted.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from crisiswatch.core.model import utc_now
from crisiswatch.core.store.base import Store

STATE_KEY = "console:accounts"
LEGACY_USERS_KEY = "console:users"
LEGACY_TOKENS_KEY = "console:api_tokens"
AUDIT_KEEP = 2000
"""Audit entries of account changes kept in the document (the oldest go first); accounts change
rarely, so this is years of changes, and the document stays small enough to read per request."""
SOURCES = ("web", "cli", "link", "api")

Change = Callable[[dict[str, Any]], "str | None"]
"""Changes the document in place and returns the audit message (None: nothing changed, no
record). It may run more than once (a compare-and-set retried), so it must not keep state."""


def _legacy(store: Store) -> dict[str, Any]:
    doc: dict[str, Any] = {"users": {}, "tokens": {}, "audit": []}
    raw = store.get_state(LEGACY_USERS_KEY)
    if raw:
        doc["users"] = json.loads(raw)
    raw = store.get_state(LEGACY_TOKENS_KEY)
    for digest, entry in (json.loads(raw) if raw else {}).items():
        doc["tokens"][digest] = {"id": digest[:8], "name": "default", **entry}
    return doc


class Accounts:
    """Reads and changes the accounts document of one store."""

    def __init__(self, store: Store):
        self.store = store
        self._cached: tuple[str | None, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def read(self) -> dict[str, Any]:
        """The document (do not change it: use ``change``). Parsed once per stored version: the
        console reads it on every request to know who is asking."""
        raw = self.store.get_state(STATE_KEY)
        with self._lock:
            cached = self._cached
        if cached is not None and cached[0] == raw and raw is not None:
            return cached[1]
        doc = json.loads(raw) if raw else _legacy(self.store)
        with self._lock:
            self._cached = (raw, doc)
        return doc

    def change(self, change: Change, *, actor: str, source: str, kind: str) -> str | None:
        """Apply ``change`` and append its audit record (``actor`` through ``source``, of ``kind``)
        in the same atomic write; returns the audit message. Exceptions raised by ``change``
        leave the document as it was."""
        if source not in SOURCES:
            raise ValueError(f"unknown source '{source}'")
        migrated: list[bool] = []
        message: list[str | None] = []

        def apply(raw: str | None) -> str:
            doc = json.loads(raw) if raw else _legacy(self.store)
            migrated[:] = [raw is None and bool(doc["users"] or doc["tokens"])]
            said = change(doc)
            message[:] = [said]
            if said is not None:
                doc["audit"] = [*doc.get("audit", []), {"at": utc_now().isoformat(), "actor": actor, "source": source,
                                                        "kind": kind, "message": said}][-AUDIT_KEEP:]
            return json.dumps(doc, ensure_ascii=False)

        self.store.update_state(STATE_KEY, apply)
        if migrated and migrated[0]:
            for key in (LEGACY_USERS_KEY, LEGACY_TOKENS_KEY):  # now read from the new document only
                self.store.set_state(key, None)
        return message[0] if message else None

    def audit(self) -> list[dict[str, str]]:
        """The account changes' audit records, oldest first."""
        return list(self.read().get("audit", []))
