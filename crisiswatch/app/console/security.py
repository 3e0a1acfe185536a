"""What keeps the console's doors shut: session keys, CSRF tokens, login rate limits, headers."""

from __future__ import annotations

import hashlib
import ipaddress
import hmac
import secrets
from collections.abc import Mapping
from datetime import timedelta

from crisiswatch.app.console import ratelimit
from crisiswatch.core import signing
from crisiswatch.core.model import utc_now
from crisiswatch.core.store.base import Store

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer",  # an action link's token never leaks to another site
           "X-Frame-Options": "DENY", "Cache-Control": "no-store"}


def keys() -> tuple[bytes, bytes | None]:
    """(session key, action-link key). Both derive from $CRISISWATCH_SECRET_KEY; without it the
    sessions use a random key (they end when the console stops) and links cannot be checked."""
    key = signing.secret_key()
    if key is None:
        return secrets.token_bytes(32), None
    return hmac.new(key, b"crisiswatch-session", hashlib.sha256).digest(), key


def csrf_token(session: dict) -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def csrf_ok(session: dict, sent: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and sent and hmac.compare_digest(str(expected), str(sent)))


class TrustedHeader:
    """Trusted-header sign-in behind an SSO reverse proxy: the user name in ``header``, believed
    only when the request's peer is one of ``proxies`` (addresses or networks). Off when
    ``header`` is None."""

    def __init__(self, header: str | None, proxies: list[str]):
        self.header = header.strip() if header else None
        self.networks = [ipaddress.ip_network(p, strict=False) for p in proxies]

    @property
    def enabled(self) -> bool:
        return bool(self.header and self.networks)

    def trusts(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address(peer or "")
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def user(self, peer: str | None, headers: Mapping[str, str]) -> str | None:
        """The user name the proxy vouches for, or None (header absent, or not from a trusted proxy)."""
        if not self.enabled or not self.trusts(peer):
            return None
        value = (headers.get(self.header) or "").strip()
        return value or None


class LoginLimiter:
    """At most ``per_name`` failed logins per user name and ``per_client`` per client address in
    a ``window`` (counted in the store, so every console process sees the same failures); while
    over, logins are refused without checking the password."""

    def __init__(self, store: Store, per_name: int = 5, per_client: int = 20,
                 window: timedelta = timedelta(minutes=15)):
        self.store, self.per_name, self.per_client, self.window = store, per_name, per_client, window

    @staticmethod
    def _keys(name: str, client: str) -> tuple[str, str]:
        # hashed: a login form's user name is anybody's input, of any length
        return (f"login:name:{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}",
                f"login:client:{client[:64]}")

    def blocked(self, name: str, client: str) -> bool:
        now = utc_now()
        by_name, by_client = self._keys(name, client)
        return (ratelimit.count(self.store, by_name, self.window, now) >= self.per_name
                or ratelimit.count(self.store, by_client, self.window, now) >= self.per_client)

    def failed(self, name: str, client: str) -> None:
        now = utc_now()
        for key in self._keys(name, client):
            ratelimit.hit(self.store, key, self.window, now)

    def succeeded(self, name: str) -> None:
        ratelimit.clear(self.store, self._keys(name, "")[0])
