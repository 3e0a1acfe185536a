"""What an incident is called when several signals joined it.

An incident opened by one rule and joined by others (a volume spike, then crisis terms,
then a sustained rise of negative posts about the same brand) is one story. Filing it under
the opening rule while titling it after whichever signal is strongest this cycle reads as a
contradiction in a list ("volume-spike: 8 posts ... use crisis terms"). So the incident
lists every rule that joined it (opening rule first, then in the order they joined), and
its title is the strongest signal's sentence followed by that list when there is more than
one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def joined_rules(opening: str, pairs: Iterable[Sequence], previous: Sequence[str] = ()) -> list[str]:
    """Rule names of an incident: the opening rule, those already listed, then new ones (sorted)."""
    out: list[str] = []
    for name in [opening, *previous, *sorted({str(p[0]) for p in pairs})]:
        if name not in out:
            out.append(name)
    return out


def incident_title(strongest_title: str, rules: Sequence[str]) -> str:
    """The strongest signal's sentence, and every signal's rule when several joined."""
    if len(rules) <= 1:
        return strongest_title
    return f"{strongest_title} [signals: {', '.join(rules)}]"


def against_usual(expected: float) -> str:
    """The usual level a count is read against: "against a usual 5.2"; when the usual rounds to
    nothing, "where almost none are usual" ("against a usual 0.0" reads as a broken number)."""
    return "where almost none are usual" if expected < 0.05 else f"against a usual {expected:.1f}"


def against_day_earlier(sources: int) -> str:
    """How many sources carried the same story a day earlier, as a reader says it."""
    return "from none a day earlier" if sources == 0 else f"from {sources} a day earlier"
