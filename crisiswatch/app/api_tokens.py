"""Per-user API tokens for the JSON API (``/api/v1``): one token per console user, made or
revoked by ``crisiswatch users token NAME``.

Only the token's SHA-256 is stored (in the store's key/value state, ``console:api_tokens``):
a token is 32 random bytes, so a fast hash is enough and a stolen database gives nothing
to replay. A token carries its user's current role; removing the user ends the token.
"""

from __future__ import annotations

import hashlib
import json
import secrets

from crisiswatch.app.users import User, Users
from crisiswatch.core.model import utc_now
from crisiswatch.core.store.base import Store

STATE_KEY = "console:api_tokens"
PREFIX = "cw_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Tokens:
    def __init__(self, store: Store, users: Users | None = None):
        self.store = store
        self.users = users or Users(store)

    def _load(self) -> dict[str, dict]:
        raw = self.store.get_state(STATE_KEY)
        return json.loads(raw) if raw else {}

    def _save(self, tokens: dict[str, dict]) -> None:
        self.store.set_state(STATE_KEY, json.dumps(tokens))

    def create(self, name: str) -> str:
        """A new token for ``name`` (replacing their old one); the only time it is readable."""
        if self.users.get(name) is None:
            raise KeyError(f"no user '{name}'")
        token = PREFIX + secrets.token_urlsafe(32)
        tokens = {h: t for h, t in self._load().items() if t["user"] != name}
        tokens[digest(token)] = {"user": name, "created_at": utc_now().isoformat(timespec="seconds")}
        self._save(tokens)
        return token

    def revoke(self, name: str) -> bool:
        tokens = self._load()
        kept = {h: t for h, t in tokens.items() if t["user"] != name}
        if len(kept) == len(tokens):
            return False
        self._save(kept)
        return True

    def has(self, name: str) -> str | None:
        """When the user's token was made, or None."""
        return next((t["created_at"] for t in self._load().values() if t["user"] == name), None)

    def user(self, token: str) -> User | None:
        """The (still existing) user a token belongs to, else None."""
        if not token.startswith(PREFIX) or len(token) > 200:
            return None
        entry = self._load().get(digest(token))
        return self.users.get(entry["user"]) if entry else None
