"""Console accounts: a name, a role and an argon2 hash, kept in the store's key/value state so
every process that opens the store (the console, the CLI) sees the same users.

Roles: ``viewer`` reads, ``responder`` also acts on incidents, ``admin`` also manages users.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass

from crisiswatch.core.model import utc_now
from crisiswatch.core.store.base import Store

ROLES = ("viewer", "responder", "admin")
STATE_KEY = "console:users"
MIN_PASSWORD = 10
NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")


class UserError(ValueError):
    """A user that cannot be added or changed; the message says why."""


@dataclass
class User:
    name: str
    role: str
    password_hash: str
    created_at: str

    def can(self, role: str) -> bool:
        """Whether the user has ``role`` or a stronger one."""
        return ROLES.index(self.role) >= ROLES.index(role)


def _hasher():  # noqa: ANN202
    from pwdlib import PasswordHash

    return PasswordHash.recommended()  # argon2id


class Users:
    def __init__(self, store: Store):
        self.store = store
        self._hash = _hasher()
        self._dummy = self._hash.hash("not a password of anyone")

    def _load(self) -> dict[str, User]:
        raw = self.store.get_state(STATE_KEY)
        return {name: User(**data) for name, data in (json.loads(raw) if raw else {}).items()}

    def _change(self, change: Callable[[dict[str, User]], None]) -> None:
        """Apply ``change`` to the users as one atomic read-modify-write (``Store.update_state``):
        two processes adding users at once both keep theirs. ``change`` may run more than once."""
        def apply(raw: str | None) -> str:
            users = {name: User(**data) for name, data in (json.loads(raw) if raw else {}).items()}
            change(users)
            return json.dumps({n: asdict(u) for n, u in users.items()})
        self.store.update_state(STATE_KEY, apply)

    def list(self) -> list[User]:
        return sorted(self._load().values(), key=lambda u: u.name)

    def get(self, name: str) -> User | None:
        return self._load().get(name)

    def _check_password(self, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise UserError(f"a password needs at least {MIN_PASSWORD} characters")

    def add(self, name: str, role: str, password: str) -> User:
        if not NAME.fullmatch(name):
            raise UserError("a user name is 1-64 lower-case letters, digits or . _ @ - (starting with a letter or digit)")
        if role not in ROLES:
            raise UserError(f"unknown role '{role}': {', '.join(ROLES)}")
        self._check_password(password)
        user = User(name, role, self._hash.hash(password), utc_now().isoformat(timespec="seconds"))

        def add(users: dict[str, User]) -> None:
            if name in users:
                raise UserError(f"user '{name}' exists (use `crisiswatch users passwd`)")
            users[name] = user
        self._change(add)
        return user

    def remove(self, name: str) -> bool:
        removed: list[User] = []

        def remove(users: dict[str, User]) -> None:
            removed[:] = [users.pop(name)] if name in users else []
        self._change(remove)
        return bool(removed)

    def set_password(self, name: str, password: str) -> None:
        self._check_password(password)
        password_hash = self._hash.hash(password)

        def change(users: dict[str, User]) -> None:
            if name not in users:
                raise UserError(f"no user '{name}'")
            users[name].password_hash = password_hash
        self._change(change)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password is theirs; as slow for an unknown name as for a wrong password."""
        user = self.get(name)
        ok = self._hash.verify(password, user.password_hash if user else self._dummy)
        return user if user and ok else None
