"""What an extension of each kind provides: one spec object, named by one entry point.

The specs hold plain values and references, so the core can validate a configuration
(a rule's ``params``, a source's ``targets``) through them without importing a component's
heavy dependencies: a platform names its spider as ``"module:Class"``, loaded only when a
crawl starts. Components build their specs from these classes; see ``registry`` for how
they are found.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Literal

from pydantic import BaseModel

from crisiswatch.core.model import Level

FAMILIES = ("volume", "negative", "reach", "spread", "collection", "drill")
"""Signal families of the composite crisis score (alerts/severity.py says how they combine)."""


def load_reference(reference: str) -> Any:
    """``"package.module:attribute"`` -> the attribute (``"package.module"`` -> the module)."""
    module_name, _, attribute = reference.partition(":")
    module = import_module(module_name)
    return getattr(module, attribute) if attribute else module


@dataclass(frozen=True)
class DetectorSpec:
    """A rule type: ``detector: <name>`` in a rule of the config."""

    name: str
    run: Callable[[Any], list[Any]]
    """``RuleContext -> list[Evaluation]`` (alerts.detectors.base)."""
    params: type[BaseModel]
    """Validates the rule's ``params``; its errors name the rule and the key."""
    thresholds: Mapping[Level, float] | Callable[[Any], Mapping[Level, float]]
    """Default score per level when the rule gives none, or a function of the validated params."""
    family: str
    """One of ``FAMILIES``: how this signal combines with others in the crisis score."""
    scope: Literal["watchlist", "global"] = "watchlist"
    """``watchlist``: evaluated once per watchlist (unless the rule says ``per_watchlist: false``);
    ``global``: once for the whole configuration (a quiet source concerns every watchlist)."""
    story: bool = False
    """Its evidence tells how a crisis started (first posts): preferred for an incident's story."""
    description: str = ""

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"detector '{self.name}': family '{self.family}' is not one of {', '.join(FAMILIES)}")

    def default_thresholds(self, params: BaseModel) -> dict[Level, float]:
        values = self.thresholds(params) if callable(self.thresholds) else self.thresholds
        return dict(values)


@dataclass(frozen=True)
class PlatformSpec:
    """A platform: ``platform: <name>`` in a source of the config."""

    name: str
    spider: str
    """``"module:SpiderClass"`` of its Scrapy spider, imported only when a crawl starts."""
    targets: type[BaseModel]
    """Validates the source's ``targets`` (hashtags, accounts, apps ...); extra keys are errors."""
    replay: str | None = None
    """``"module"`` answering the platform's API paths from a scenario (demo, tests, drills)."""
    description: str = ""
    stream: str | None = None
    """``"module:function"`` following the platform's streaming API (``mode: stream`` sources in
    ``crisiswatch run --follow``); None: the platform is only polled."""

    def spider_class(self) -> type:
        return load_reference(self.spider)

    def stream_function(self) -> Any:
        if self.stream is None:
            raise LookupError(f"platform '{self.name}' has no streaming API client")
        return load_reference(self.stream)

    def replay_module(self) -> Any:
        if self.replay is None:
            raise LookupError(f"platform '{self.name}' has no replay handler")
        return load_reference(self.replay)


BODY_FORMATS = ("text", "markdown", "html")
"""What Apprise can be told a body is."""


@dataclass(frozen=True)
class MessageFormat:
    """How a notification's body is written: ``format: <name>`` of a channel."""

    name: str
    render: Callable[[Any], str]
    """``MessageContent -> body``: given what the message says (``alerts.formats.MessageContent``:
    title, headline, numbers, posts, terms, links, footer with the idempotency reference),
    returns the body, with user text escaped for its own markup."""
    body_format: str = "text"
    """What Apprise is told the body is: ``text``, ``markdown`` or ``html``."""
    options: dict[str, Any] = field(default_factory=dict)
    """Format-specific switches; ``attach_chart: true`` sends the evidence chart along (e-mail)."""

    def __post_init__(self) -> None:
        if self.body_format not in BODY_FORMATS:
            raise ValueError(f"message format '{self.name}': body_format '{self.body_format}' is not one of "
                             f"{', '.join(BODY_FORMATS)}")
