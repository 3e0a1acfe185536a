"""Extensions found by name: detectors, platforms, message formats.

Each kind is a Python entry-point group. crisiswatch declares its own extensions in its
``pyproject.toml`` exactly as a third-party package would, so adding a detector, a platform or
a message format never edits the core: a package ships a module and one entry-point line, e.g.

    [project.entry-points."crisiswatch.detectors"]
    price_backlash = "acme_rules.price:SPEC"

The core only loads what an entry point names; it imports no component itself (the import
contract in ``tests/test_architecture.py`` holds it to that). ``register`` adds an extension
in-process (tests, notebooks), and wins over an entry point of the same name.
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points
from typing import Any

log = logging.getLogger(__name__)

GROUPS = {
    "detectors": "crisiswatch.detectors",
    "platforms": "crisiswatch.platforms",
    "formats": "crisiswatch.formats",
}
"""Kind -> entry-point group. A detector entry point names a ``DetectorSpec``, a platform one a
``PlatformSpec`` (crawlers), a format one a ``MessageFormat`` (alerts)."""


class ExtensionError(LookupError):
    """An unknown extension name, or an entry point that fails to load."""


_lock = threading.Lock()
_loaded: dict[str, dict[str, Any]] = {}
_scanned: dict[str, list[Any]] = {}
_registered: dict[str, dict[str, Any]] = {kind: {} for kind in GROUPS}


def _group(kind: str) -> str:
    try:
        return GROUPS[kind]
    except KeyError:
        raise ExtensionError(f"unknown kind of extension '{kind}' (one of {', '.join(GROUPS)})") from None


def _kind(kind: str) -> str:
    _group(kind)
    return kind


def _entry_points(kind: str, rescan: bool = False) -> list[Any]:
    """The entry points of ``kind``'s group; scanning installed packages costs tens of ms, so
    the scan is kept until ``forget()`` (or a rescan when a name is not found)."""
    if rescan or kind not in _scanned:
        _scanned[kind] = list(entry_points(group=_group(kind)))
    return _scanned[kind]


def names(kind: str) -> list[str]:
    """Names of every extension of ``kind``, without importing any of them (sorted)."""
    found = {ep.name for ep in _entry_points(_kind(kind))}
    return sorted(found | set(_registered[kind]))


def get(kind: str, name: str) -> Any:
    """The extension ``name`` of ``kind``, loaded on first use."""
    if name in _registered[_kind(kind)]:
        return _registered[kind][name]
    with _lock:
        cache = _loaded.setdefault(kind, {})
        if name in cache:
            return cache[name]
        matches = [ep for ep in _entry_points(kind) if ep.name == name]
        if not matches:  # a package installed since the last scan?
            matches = [ep for ep in _entry_points(kind, rescan=True) if ep.name == name]
        if not matches:
            known = ", ".join(names(kind)) or "none installed"
            raise ExtensionError(f"unknown {kind[:-1]} '{name}' (known: {known})")
        if len(matches) > 1:
            log.warning("%d packages register the %s '%s'; using %s", len(matches), kind[:-1], name, matches[0].value)
        try:
            cache[name] = matches[0].load()
        except Exception as exc:
            raise ExtensionError(f"the {kind[:-1]} '{name}' ({matches[0].value}) failed to load: {exc}") from exc
        return cache[name]


def load_all(kind: str) -> dict[str, Any]:
    """Every extension of ``kind``, loaded, by name."""
    return {name: get(kind, name) for name in names(kind)}


def register(kind: str, name: str, extension: Any) -> None:
    """Add an extension in-process; it wins over an entry point of the same name."""
    _registered[_kind(kind)][name] = extension


def unregister(kind: str, name: str) -> None:
    _registered[_kind(kind)].pop(name, None)


def forget() -> None:
    """Drop loaded and scanned entry points, so that packages installed since are seen (tests)."""
    with _lock:
        _loaded.clear()
        _scanned.clear()
