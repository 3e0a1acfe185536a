"""Each platform's replay module, found through the registry of platforms.

A platform's folder carries everything the replay needs to know about it (how to answer its
API, which source collects a scenario from it, how its ids, engagement and URLs look), so the
server, the generator and the synthetic scenario name no platform: adding one touches only its
folder and its entry point.
"""

from __future__ import annotations

from types import ModuleType

from crisiswatch.core import registry


def replay_module(platform: str) -> ModuleType | None:
    """The platform's replay module; None when it has none (the replay cannot serve it)."""
    spec = registry.get("platforms", platform)
    return None if spec.replay is None else spec.replay_module()


def replayable() -> list[str]:
    """Registered platforms that have a replay module (sorted); ones that fail to load are left out."""
    found = []
    for name in registry.names("platforms"):
        try:
            module = replay_module(name)
        except (registry.ExtensionError, ImportError):
            continue
        if module is not None:
            found.append(name)
    return found


def hook(platform: str, name: str) -> object | None:
    """The attribute ``name`` of the platform's replay module, or None if it (or the module) lacks it."""
    module = replay_module(platform)
    return getattr(module, name, None) if module is not None else None
