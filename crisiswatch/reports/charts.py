"""Charts for the reports, drawn with matplotlib's Agg backend and embedded as PNG data URIs.

A report is one HTML file that can be mailed or archived without a folder of images.
matplotlib is imported inside the functions: importing it costs about a second and the
CLI's ``--help`` should not pay that.
"""

from __future__ import annotations

import base64
import io
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

SENTIMENT_COLOURS = {"negative": "#d64541", "neutral": "#9aa5b1", "positive": "#2e9d5b", "not enriched": "#e3e7eb"}
LEVEL_COLOURS = {"blue": "#2f6fde", "yellow": "#e0b000", "orange": "#e8730c", "red": "#c8102e"}
# Tried in order for each glyph (matplotlib >= 3.6 falls back per character), so Chinese
# labels render wherever a CJK font is installed; DejaVu ships with matplotlib.
_FONTS = ["DejaVu Sans", "Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Zen Hei", "Source Han Sans SC",
          "Microsoft YaHei", "PingFang SC"]


@dataclass(frozen=True)
class Marker:
    """A moment drawn as a vertical line: incident opened, acknowledged, brand response ..."""

    at: datetime
    label: str
    colour: str = "#333333"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["font.sans-serif"] = [f for f in _FONTS if f in installed] or ["DejaVu Sans"]
    plt.rcParams["axes.spines.top"] = False
    plt.rcParams["axes.spines.right"] = False
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    return plt


def _data_uri(fig) -> str:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing glyphs when no CJK font is installed
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def stacked_timeline(starts: Sequence[datetime], series: dict[str, Sequence[int]], title: str,
                     markers: Sequence[Marker] = (), width_days: float | None = None) -> str:
    """Posts per bucket stacked by sentiment (or any named series), with event markers."""
    plt = _pyplot()
    import matplotlib.dates as mdates

    fig, ax = plt.subplots(figsize=(9, 3.2))
    if starts:
        width = width_days if width_days is not None else (
            (starts[1] - starts[0]).total_seconds() / 86400 if len(starts) > 1 else 1 / 24)
        bottom = [0] * len(starts)
        for name, values in series.items():
            ax.bar(starts, values, width=width * 0.95, bottom=bottom, align="edge", label=name,
                   color=SENTIMENT_COLOURS.get(name))
            bottom = [b + v for b, v in zip(bottom, values)]
        top = max(bottom) if bottom else 0
        for marker in markers:
            ax.axvline(marker.at, color=marker.colour, linestyle="--", linewidth=1.2)
            ax.annotate(marker.label, (mdates.date2num(marker.at), top * 0.98 or 1), rotation=90, fontsize=8,
                        ha="right", va="top", color=marker.colour)
        locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.set_ylabel("posts")
    ax.set_title(title, fontsize=11, loc="left")
    return _data_uri(fig)


def horizontal_bars(items: Sequence[tuple[str, float]], title: str, colour: str = "#2f6fde",
                    value_format: str = "{:g}") -> str:
    """Ranked values (emotion mix, categories, share of voice), largest on top."""
    plt = _pyplot()
    items = list(items)[:12]
    fig, ax = plt.subplots(figsize=(4.6, 0.35 * max(len(items), 2) + 0.8))
    labels = [label for label, _ in items][::-1]
    values = [value for _, value in items][::-1]
    bars = ax.barh(labels, values, color=colour)
    for bar, value in zip(bars, values):
        ax.annotate(value_format.format(value), (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                    xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_title(title, fontsize=11, loc="left")
    ax.tick_params(axis="y", labelsize=9)
    ax.margins(x=0.15)
    return _data_uri(fig)
