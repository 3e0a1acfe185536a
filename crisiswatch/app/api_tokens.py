"""Per-user API tokens for the JSON API (``/api/v1``): one token per console user, made,
listed or revoked by ``crisiswatch users token``.

Only the token's SHA-256 is stored (in the store's key/value state, ``console:api_tokens``):
a token is 32 random bytes, so a fast hash is enough and a stolen database gives nothing
to replay. A token carries its user's current role; removing the user ends the token. Every
token expires (90 days unless said otherwise) and has a rate limit (requests per minute)
counted in the store, so it holds across console processes; the same counter records when
the token was last used. Changes to the token list are atomic (``Store.update_state``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from crisiswatch.app.console import ratelimit
from crisiswatch.app.users import User, Users
from crisiswatch.core.model import as_utc, utc_now
from crisiswatch.core.store.base import Store

STATE_KEY = "console:api_tokens"
PREFIX = "cw_"
DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=730)
DEFAULT_RATE = 120
"""Requests per minute per token."""
RATE_WINDOW = timedelta(minutes=1)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class TokenRefused(Exception):
    """A request whose token cannot be used: ``status`` 401 (unknown, revoked, expired, user
    removed) or 429 (over its rate limit, ``retry_after`` seconds)."""

    def __init__(self, status: int, detail: str, retry_after: int | None = None):
        super().__init__(detail)
        self.status, self.detail, self.retry_after = status, detail, retry_after


@dataclass(frozen=True)
class TokenInfo:
    user: str
    created_at: datetime
    expires_at: datetime
    rate_per_minute: int
    last_used_at: datetime | None

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


class Tokens:
    def __init__(self, store: Store, users: Users | None = None):
        self.store = store
        self.users = users or Users(store)

    def _load(self) -> dict[str, dict]:
        raw = self.store.get_state(STATE_KEY)
        return json.loads(raw) if raw else {}

    def _change(self, change) -> None:  # noqa: ANN001 - (dict) -> None, applied in place
        def apply(raw: str | None) -> str:
            tokens = json.loads(raw) if raw else {}
            change(tokens)
            return json.dumps(tokens)
        self.store.update_state(STATE_KEY, apply)

    def create(self, name: str, lifetime: timedelta = DEFAULT_LIFETIME, rate_per_minute: int = DEFAULT_RATE,
               now: datetime | None = None) -> str:
        """A new token for ``name`` (replacing their old one); the only time it is readable.
        KeyError for an unknown user, ValueError for a lifetime or rate out of bounds."""
        if self.users.get(name) is None:
            raise KeyError(f"no user '{name}'")
        if not timedelta(minutes=1) <= lifetime <= MAX_LIFETIME:
            raise ValueError(f"a token lives between 1 minute and {MAX_LIFETIME.days} days")
        if not 1 <= rate_per_minute <= 100_000:
            raise ValueError("the rate limit is 1 to 100000 requests per minute")
        now = now or utc_now()
        token = PREFIX + secrets.token_urlsafe(32)
        entry = {"user": name, "created_at": now.isoformat(timespec="seconds"),
                 "expires_at": (now + lifetime).isoformat(timespec="seconds"), "rate_per_minute": rate_per_minute}

        def replace(tokens: dict[str, dict]) -> None:
            for old in [h for h, t in tokens.items() if t["user"] == name]:
                del tokens[old]
            tokens[digest(token)] = entry
        self._change(replace)
        return token

    def revoke(self, name: str) -> bool:
        gone: list[str] = []

        def drop(tokens: dict[str, dict]) -> None:
            gone[:] = [h for h, t in tokens.items() if t["user"] == name]
            for h in gone:
                del tokens[h]
        self._change(drop)
        for h in gone:
            ratelimit.clear(self.store, f"api:{h}")
        return bool(gone)

    @staticmethod
    def _info(entry: dict, last_used_at: datetime | None = None) -> TokenInfo:
        created = as_utc(datetime.fromisoformat(entry["created_at"]))
        expires = entry.get("expires_at")  # tokens made before expiry existed: the default lifetime
        return TokenInfo(entry["user"], created,
                         as_utc(datetime.fromisoformat(expires)) if expires else created + DEFAULT_LIFETIME,
                         int(entry.get("rate_per_minute", DEFAULT_RATE)), last_used_at)

    def list(self) -> list[TokenInfo]:
        return sorted((self._info(t, ratelimit.last_hit(self.store, f"api:{h}")) for h, t in self._load().items()),
                      key=lambda i: i.user)

    def get(self, name: str) -> TokenInfo | None:
        return next((i for i in self.list() if i.user == name), None)

    def authenticate(self, token: str, now: datetime | None = None) -> User:
        """The user a request's token acts as, counting the request against the token's rate
        limit; TokenRefused otherwise."""
        now = now or utc_now()
        known = token.startswith(PREFIX) and len(token) <= 200
        token_digest = digest(token) if known else ""
        entry = self._load().get(token_digest) if known else None
        user = self.users.get(entry["user"]) if entry else None
        if entry is None or user is None:
            raise TokenRefused(401, "a valid API token is required (Authorization: Bearer TOKEN; "
                                    "make one with `crisiswatch users token NAME`)")
        info = self._info(entry)
        if info.expired(now):
            raise TokenRefused(401, f"this API token expired at {info.expires_at:%Y-%m-%d %H:%M} UTC; "
                                    f"make a new one with `crisiswatch users token {user.name}`")
        window = ratelimit.hit(self.store, f"api:{token_digest}", RATE_WINDOW, now)
        if window.count > info.rate_per_minute:
            retry = window.retry_after(now)
            raise TokenRefused(429, f"this token is over its rate limit ({info.rate_per_minute} requests per "
                                    f"minute); retry in {retry} s", retry_after=retry)
        return user
