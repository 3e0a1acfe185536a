"""The small evidence chart of an alert: counts per bucket against the expected level.

Drawn with matplotlib's Agg backend into a PNG file that HTML e-mail attaches and the
outbox keeps. matplotlib is imported only here and only when a chart is drawn.
"""

from __future__ import annotations

import logging
import re
import warnings
from datetime import datetime
from pathlib import Path

LEVEL_COLOURS = {"blue": "#2f6fde", "yellow": "#e0b000", "orange": "#e8730c", "red": "#c8102e"}


def chart_path(data_dir: str | Path, incident_id: str, at: datetime) -> Path:
    return Path(data_dir) / "charts" / incident_id / f"{at:%Y%m%dT%H%M%S}.png"


def draw(path: Path, series: list[tuple[datetime, float]], expected: list[float] | None, title: str,
         level: str, window_start: datetime | None = None, unit: str = "posts per bucket") -> Path:
    """Write the chart to ``path``; returns it."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    path.parent.mkdir(parents=True, exist_ok=True)
    times = [t for t, _ in series]
    values = [v for _, v in series]
    colour = LEVEL_COLOURS.get(level, "#333333")
    fig, ax = plt.subplots(figsize=(6.4, 2.6), dpi=100)
    try:
        width = (times[1] - times[0]) if len(times) > 1 else None
        if width is not None:
            ax.bar(times, values, width=width, align="edge", color="#9aa5b1", label="observed")
        else:
            ax.plot(times, values, "o", color="#9aa5b1", label="observed")
        if expected is not None and len(expected) == len(times):
            ax.step(times, expected, where="post", color="#2e9d5b", linewidth=1.4, label="normal")
        if window_start is not None and times:
            ax.axvspan(window_start, times[-1] + (width or (times[-1] - times[0]) * 0), color=colour, alpha=0.18,
                       label="alert window")
        ax.set_title(re.sub(r"\s+", " ", title)[:90], fontsize=9)
        ax.set_ylabel(unit, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
        ax.legend(fontsize=7, loc="upper left", frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # missing CJK glyphs in a title are not an error
            fig.autofmt_xdate()
            fig.tight_layout()
            fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path
