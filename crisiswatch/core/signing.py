"""Signed, expiring action tokens (the "Acknowledge" link in a notification).

The alerts package writes the links and the console checks them, and neither may import the
other, so the one helper lives here. The key comes from the environment
(``CRISISWATCH_SECRET_KEY``) and only from there: never from the config file, never logged.
A token says which incident, which action and which recipient it is for, when it expires and
a random nonce; single use is the console's business (it records the nonce in the incident's
timeline in the same compare-and-set write that acts).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass

SECRET_ENV = "CRISISWATCH_SECRET_KEY"
MIN_KEY_LENGTH = 16


class TokenError(ValueError):
    """A token that is forged, damaged or expired; the message says which, for a person."""


@dataclass(frozen=True)
class ActionToken:
    incident_id: str
    action: str
    recipient: str
    expires: int
    nonce: str


def secret_key() -> bytes | None:
    """The signing key from the environment, or None when it is not set (or too short to trust)."""
    value = os.environ.get(SECRET_ENV, "")
    return value.encode() if len(value) >= MIN_KEY_LENGTH else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, b"crisiswatch-action:" + body.encode(), hashlib.sha256).digest())


def sign_action(key: bytes, incident_id: str, action: str, recipient: str, ttl_s: int,
                now: float | None = None) -> str:
    payload = {"i": incident_id, "a": action, "r": recipient, "e": int((now or time.time()) + ttl_s),
               "n": secrets.token_urlsafe(9)}
    body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    return f"{body}.{_mac(key, body)}"


def verify_action(key: bytes, token: str, now: float | None = None) -> ActionToken:
    body, _, mac = (token or "").partition(".")
    if not body or not mac or not hmac.compare_digest(mac, _mac(key, body)):
        raise TokenError("this link is not valid: it was not issued by crisiswatch or it was altered")
    try:
        data = json.loads(_unb64(body))
        parsed = ActionToken(str(data["i"]), str(data["a"]), str(data["r"]), int(data["e"]), str(data["n"]))
    except (ValueError, KeyError, TypeError):
        raise TokenError("this link is damaged") from None
    if parsed.expires < (now or time.time()):
        raise TokenError("this link has expired; open the incident in the console instead")
    return parsed
