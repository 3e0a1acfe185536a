"""Per-user API tokens for the JSON API (``/api/v1``): each console user may hold several,
each with a name (``ci``, ``chatbot``) and a short id, made, listed or revoked one at a time by
``crisiswatch users token``.

Only the token's SHA-256 is stored (in the accounts document, ``crisiswatch.app.accounts``):
a token is 32 random bytes, so a fast hash is enough and a stolen database gives nothing to
replay. A token carries its user's current role; removing the user ends their tokens in the
same write. Every token expires (90 days unless said otherwise) and has a rate limit (requests
per minute) counted in the store, so it holds across console processes; the same counter
records when the token was last used. Each change is written with its audit record.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import TypeVar
from datetime import datetime, timedelta

from crisiswatch.app import accounts as accounts_doc
from crisiswatch.app.console import ratelimit
from crisiswatch.app.users import User, Users
from crisiswatch.core.model import as_utc, utc_now
from crisiswatch.core.store.base import Store

STATE_KEY = accounts_doc.STATE_KEY
PREFIX = "cw_"
DEFAULT_NAME = "default"
TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
TOKEN_ID = re.compile(r"[0-9a-f]{8}")
DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=730)
DEFAULT_RATE = 120
"""Requests per minute per token."""
RATE_WINDOW = timedelta(minutes=1)
K = TypeVar("K")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def chosen(tokens: dict[K, tuple[str, str]], which: str | None) -> list[K]:
    """Keys of ``tokens`` (key: the token's id and name) that ``which`` names: all of them for
    None, else the one whose id it is, else those with that name (a name may look like an id:
    ``3fa9c2d1``; the id wins, so one command never ends two tokens)."""
    if which is None:
        return list(tokens)
    by_id = [k for k, (token_id, _) in tokens.items() if token_id == which]
    return by_id or [k for k, (_, name) in tokens.items() if name == which]


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
    name: str = DEFAULT_NAME
    id: str = ""

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


class Tokens:
    def __init__(self, store: Store, users: Users | None = None):
        self.store = store
        self.users = users or Users(store)
        self.accounts = self.users.accounts

    def create(self, user: str, lifetime: timedelta = DEFAULT_LIFETIME, rate_per_minute: int = DEFAULT_RATE,
               now: datetime | None = None, name: str = DEFAULT_NAME, by: str = "system", source: str = "cli") -> str:
        """A new token for ``user`` named ``name``; the only time it is readable. A token of that
        user with that name is replaced (rotation). KeyError for an unknown user (checked in the
        same write that adds the token), ValueError for a name, lifetime or rate out of bounds."""
        if not TOKEN_NAME.fullmatch(name) or name == "all" or TOKEN_ID.fullmatch(name):
            raise ValueError("a token name is 1-40 letters, digits or . _ - (starting with a letter or digit; "
                             "not 'all', which --revoke reads as every token, nor 8 hex digits, which read as an id)")
        if not timedelta(minutes=1) <= lifetime <= MAX_LIFETIME:
            raise ValueError(f"a token lives between 1 minute and {MAX_LIFETIME.days} days")
        if not 1 <= rate_per_minute <= 100_000:
            raise ValueError("the rate limit is 1 to 100000 requests per minute")
        now = now or utc_now()
        token = PREFIX + secrets.token_urlsafe(32)
        entry = {"id": secrets.token_hex(4), "name": name, "user": user,
                 "created_at": now.isoformat(timespec="seconds"),
                 "expires_at": (now + lifetime).isoformat(timespec="seconds"), "rate_per_minute": rate_per_minute}

        def add(doc: dict) -> str:
            if user not in doc["users"]:
                raise KeyError(f"no user '{user}'")
            replaced = [h for h, t in doc["tokens"].items() if t["user"] == user and t.get("name") == name]
            for h in replaced:
                del doc["tokens"][h]
            doc["tokens"][digest(token)] = entry
            return (f"made API token '{name}' ({entry['id']}) for {user}, expires {entry['expires_at']} UTC, "
                    f"{rate_per_minute}/min" + (" (replacing the previous one of that name)" if replaced else ""))
        self.accounts.change(add, actor=by, source=source, kind="token_created")
        return token

    def revoke(self, user: str, which: str | None = None, by: str = "system", source: str = "cli") -> list[TokenInfo]:
        """End ``user``'s token whose name or id is ``which`` (None: all of theirs); returns those ended."""
        gone: dict[str, TokenInfo] = {}

        def drop(doc: dict) -> str | None:
            gone.clear()
            mine = {h: (t.get("id", ""), t.get("name", DEFAULT_NAME)) for h, t in doc["tokens"].items()
                    if t["user"] == user}
            for h in chosen(mine, which):
                gone[h] = self._info(doc["tokens"].pop(h))
            if not gone:
                return None
            return f"revoked API token{'s' * (len(gone) > 1)} of {user}: " + ", ".join(
                f"'{i.name}' ({i.id})" for i in gone.values())
        self.accounts.change(drop, actor=by, source=source, kind="token_revoked")
        for h in gone:
            ratelimit.clear(self.store, f"api:{h}")
        return list(gone.values())

    @staticmethod
    def _info(entry: dict, last_used_at: datetime | None = None) -> TokenInfo:
        created = as_utc(datetime.fromisoformat(entry["created_at"]))
        expires = entry.get("expires_at")  # tokens made before expiry existed: the default lifetime
        return TokenInfo(entry["user"], created,
                         as_utc(datetime.fromisoformat(expires)) if expires else created + DEFAULT_LIFETIME,
                         int(entry.get("rate_per_minute", DEFAULT_RATE)), last_used_at,
                         entry.get("name", DEFAULT_NAME), entry.get("id", ""))

    def list(self, user: str | None = None) -> list[TokenInfo]:
        """Every token (or ``user``'s), by user and name."""
        return sorted((self._info(t, ratelimit.last_hit(self.store, f"api:{h}"))
                       for h, t in self.accounts.read()["tokens"].items() if user is None or t["user"] == user),
                      key=lambda i: (i.user, i.name))

    def get(self, user: str, name: str | None = None) -> TokenInfo | None:
        """``user``'s token called ``name`` (or id); without a name their newest."""
        mine = self.list(user)
        found = [mine[k] for k in chosen({k: (i.id, i.name) for k, i in enumerate(mine)}, name)]
        return max(found, key=lambda i: i.created_at) if found else None

    def authenticate(self, token: str, now: datetime | None = None) -> User:
        """The user a request's token acts as, counting the request against the token's rate
        limit; TokenRefused otherwise."""
        now = now or utc_now()
        known = token.startswith(PREFIX) and len(token) <= 200
        token_digest = digest(token) if known else ""
        doc = self.accounts.read()
        entry = doc["tokens"].get(token_digest) if known else None
        user = self.users.get(entry["user"]) if entry else None
        if entry is None or user is None:
            raise TokenRefused(401, "a valid API token is required (Authorization: Bearer TOKEN; "
                                    "make one with `crisiswatch users token NAME`)")
        info = self._info(entry)
        if info.expired(now):
            raise TokenRefused(401, f"this API token ('{info.name}') expired at {info.expires_at:%Y-%m-%d %H:%M} "
                                    f"UTC; make a new one with `crisiswatch users token {user.name} --name {info.name}`")
        window = ratelimit.hit(self.store, f"api:{token_digest}", RATE_WINDOW, now)
        if window.count > info.rate_per_minute:
            retry = window.retry_after(now)
            raise TokenRefused(429, f"this token is over its rate limit ({info.rate_per_minute} requests per "
                                    f"minute); retry in {retry} s", retry_after=retry)
        return user
