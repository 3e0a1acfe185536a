"""Charts drawn on the server as inline SVG: the console sends no script, and an SVG made of
numbers only (labels escaped) needs nothing from the Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from markupsafe import Markup, escape

LEVEL_COLOURS = {"blue": "#1f6feb", "yellow": "#b58900", "orange": "#d9480f", "red": "#c1121f"}


def sparkline(counts: Sequence[int], label: str, colour: str = "#49515c", width: int = 144, height: int = 28) -> Markup:
    """A line of ``counts`` (oldest first), scaled to its own maximum, with the last point marked."""
    n = len(counts)
    top = max(counts, default=0) or 1
    step = width / max(n - 1, 1)
    points = [(round(k * step, 1), round(height - 2 - (c / top) * (height - 4), 1)) for k, c in enumerate(counts)]
    path = " ".join(f"{x},{y}" for x, y in points)
    last = (f'<circle cx="{points[-1][0]}" cy="{points[-1][1]}" r="2.5" fill="{colour}"/>' if points else "")
    return Markup(f'<svg class="spark" role="img" aria-label="{escape(label)}" viewBox="0 0 {width} {height}" '
                  f'width="{width}" height="{height}" preserveAspectRatio="none">'
                  f'<title>{escape(label)}</title>'
                  f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.6"/>{last}</svg>')


def histogram(buckets: Sequence[tuple[datetime, int]], size: timedelta, width: int = 600, height: int = 120) -> Markup:
    """Bars per time bucket; each bar's tooltip says its start time and count."""
    n = len(buckets)
    top = max((c for _, c in buckets), default=0) or 1
    bar = width / max(n, 1)
    fmt = "%Y-%m-%d" if size >= timedelta(days=1) else "%Y-%m-%d %H:%M"
    parts = []
    for k, (start, count) in enumerate(buckets):
        h = round(count / top * (height - 14), 1)
        parts.append(f'<rect x="{round(k * bar, 2)}" y="{round(height - 12 - h, 1)}" width="{max(round(bar - 1, 2), 0.5)}" '
                     f'height="{h}" fill="#0b5cad"><title>{start.strftime(fmt)} UTC: {count}</title></rect>')
    first = buckets[0][0].strftime(fmt) if buckets else ""
    last = buckets[-1][0].strftime(fmt) if buckets else ""
    return Markup(f'<svg class="histogram" role="img" aria-label="posts over time, at most {top} per bucket" '
                  f'viewBox="0 0 {width} {height}" preserveAspectRatio="none">'
                  f'<line x1="0" y1="{height - 12}" x2="{width}" y2="{height - 12}" stroke="#8a94a3"/>{"".join(parts)}'
                  f'<text x="0" y="{height}" font-size="10" fill="#49515c">{escape(first)}</text>'
                  f'<text x="{width}" y="{height}" font-size="10" fill="#49515c" text-anchor="end">{escape(last)}</text>'
                  f'<text x="{width}" y="10" font-size="10" fill="#49515c" text-anchor="end">max {top}</text></svg>')
