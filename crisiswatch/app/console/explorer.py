"""The posts explorer: the query language of ``crisiswatch search`` plus filters, a histogram,
paged results with their enrichment labels, export of the current query (CSV/JSONL, through
``crisiswatch.core.store.export``), and label correction stored as the team's labels
(``Store.save_labels``) that ``crisiswatch nlp train`` learns from."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from crisiswatch.app.console.charts import histogram
from crisiswatch.core.config import Config
from crisiswatch.core.model import utc_now
from crisiswatch.core.schedule import parse_moment
from crisiswatch.core.store.base import PostFilter, QueryError, Store, StoreError, TeamLabel, parse_query
from crisiswatch.core.store.export import CSV_COLUMNS, csv_row, jsonl_line, with_enrichments
from nlp import labels as label_sets

PAGE_SIZE = 50
MAX_PAGE = 100
FILTERS = ("source", "language", "sentiment", "emotion", "category", "watchlist")
TASKS = ("sentiment", "emotion", "category")
BUCKETS = [timedelta(minutes=m) for m in (1, 5, 15, 30, 60, 180, 360, 720, 1440, 10080)]


class BadFilter(ValueError):
    pass


def parse_when(value: str, now: datetime) -> datetime | None:
    """``24h`` / ``7d`` (that long ago) or an ISO date/time (naive = UTC); blank = no bound."""
    if not value.strip():
        return None
    try:
        return parse_moment(value, now)
    except ValueError as exc:
        raise BadFilter(str(exc)) from None


def build_filter(params: dict[str, str], now: datetime,
                 platforms: Mapping[str, Sequence[str]] | None = None) -> PostFilter:
    """The PostFilter of the explorer's form; raises QueryError / BadFilter for what it cannot read.
    ``platforms`` (platform: its configured sources) reads the platform filter as those sources,
    within the source filter when both are given."""
    q = params.get("q", "")
    parse_query(q)  # the error (with its position) before any query runs
    fields: dict[str, Any] = {}
    for name in FILTERS:
        value = params.get(name, "").strip()
        if value:
            fields[name + "s"] = (value,)
    platform = params.get("platform", "").strip()
    if platform:
        sources = tuple((platforms or {}).get(platform, ()))
        fields["sources"] = tuple(s for s in sources if s in fields["sources"]) if "sources" in fields else sources
    since, until = parse_when(params.get("since", ""), now), parse_when(params.get("until", ""), now)
    if since and until and since >= until:
        raise BadFilter("'since' must be before 'until'")
    return PostFilter(text=q.strip() or None, since=since, until=until, **fields)


def bucket_size(span: timedelta) -> timedelta:
    """The smallest round bucket that draws ``span`` in at most 96 bars."""
    return next((b for b in BUCKETS if span / b <= 96), BUCKETS[-1] * max(1, int(span / (BUCKETS[-1] * 96)) + 1))


def histogram_of(store: Store, flt: PostFilter, now: datetime) -> tuple[Any, timedelta, int] | None:
    """(SVG, bar size, number of posts) of the posts ``flt`` matches, None when there are none.
    The bars span every matching post, so their sum is the count: one pass over the matches
    instead of a count and then a histogram."""
    start, end = flt.since, flt.until
    if start is None:
        first = store.first_posts(flt, limit=1)
        if not first:
            return None
        start = first[0].created_at
    if end is None:
        newest = store.search(flt, limit=1)
        end = (newest[0].created_at if newest else now) + timedelta(seconds=1)
    size = bucket_size(max(end - start, timedelta(minutes=1)))
    start = datetime.fromtimestamp(start.timestamp() // size.total_seconds() * size.total_seconds(), timezone.utc)
    buckets = store.count_by_bucket(flt, start, end, size)
    total = sum(b.count for b in buckets)
    return (histogram([(b.start, b.count) for b in buckets], size), size, total) if total else None


def export_lines(store: Store, flt: PostFilter, fmt: str) -> Iterator[str]:
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for post, enrichment in with_enrichments(store, store.iter_posts(flt)):
            writer.writerow(csv_row(post, enrichment))
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()
    else:
        for post, enrichment in with_enrichments(store, store.iter_posts(flt)):
            yield jsonl_line(post, enrichment) + "\n"


def canonical(task: str, label: str, categories: list[str]) -> str | None:
    if task == "sentiment":
        return label_sets.canonical_label(label, label_sets.SENTIMENTS)
    if task == "emotion":
        return label_sets.canonical_label(label, label_sets.EMOTIONS)
    label = label.strip()
    return label if label in categories else None


def register(app: FastAPI, config: Config, store: Store, page: Callable[..., HTMLResponse],
             require: Callable[..., Any], check_csrf: Callable[..., None]) -> None:
    categories = sorted(label_sets.category_descriptions(config.models.categories))
    platforms: dict[str, list[str]] = {}
    for source in config.sources:
        platforms.setdefault(source.platform, []).append(source.name)
    options = {"source": [s.name for s in config.sources], "platform": sorted(platforms),
               "watchlist": [w.name for w in config.watchlists],
               "sentiment": label_sets.SENTIMENTS, "emotion": label_sets.EMOTIONS, "category": categories}

    def form_params(request: Request) -> dict[str, str]:
        return {k: request.query_params.get(k, "") for k in ("q", *FILTERS, "platform", "since", "until")}

    @app.get("/explore", response_class=HTMLResponse)
    def explore(request: Request, page_arg: str = Query("1", alias="page"), done: str = "") -> HTMLResponse:
        user = require(request)
        params = form_params(request)
        page_no = min(max(int(page_arg), 1), MAX_PAGE) if page_arg.isdigit() else 1
        query_string = urlencode({k: v for k, v in params.items() if v})
        context: dict[str, Any] = {"params": params, "options": options, "query_string": query_string,
                                   "tasks": TASKS, "done": done, "page_no": page_no, "can_label": user.can("responder")}
        now = utc_now()
        try:
            flt = build_filter(params, now, platforms)
            chart = histogram_of(store, flt, now)
            total = chart[2] if chart else 0
            found = store.search(flt, limit=page_no * PAGE_SIZE)[(page_no - 1) * PAGE_SIZE:] if total else []
        except QueryError as exc:
            return page(request, "explore.html", 400, error=f"Cannot read the query at position {exc.position}: "
                        f"{exc.problem}", caret=" " * (exc.position - 1) + "^", **context)
        except (BadFilter, ValueError, StoreError) as exc:
            return page(request, "explore.html", 400, error=str(exc), **context)
        enrichments = store.get_enrichments([p.id for p in found])
        team: dict[tuple[str, str], str] = {}
        try:
            shown = {p.id for p in found}
            team = {(lb.post_id, lb.task): lb.label for lb in store.get_labels() if lb.post_id in shown}
        except NotImplementedError:
            pass
        return page(request, "explore.html", total=total, chart=chart[0] if chart else None,
                    bucket=chart[1] if chart else None, posts=found, enrichments=enrichments, team=team,
                    more=total > page_no * PAGE_SIZE and page_no < MAX_PAGE, **context)

    @app.get("/explore/export.{fmt}")
    def export(request: Request, fmt: str) -> Response:
        require(request)
        if fmt not in ("csv", "jsonl"):
            return page(request, "message.html", 404, title="Unknown format", detail="export as csv or jsonl")
        try:
            flt = build_filter(form_params(request), utc_now(), platforms)
        except (QueryError, BadFilter, ValueError) as exc:
            return page(request, "message.html", 400, title="Cannot export", detail=str(exc))
        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson; charset=utf-8"
        name = f"crisiswatch-posts-{utc_now():%Y%m%dT%H%M%S}.{fmt}"
        return StreamingResponse(export_lines(store, flt, fmt), media_type=media,
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.post("/explore/label")
    def correct_label(request: Request, csrf: str = Form(""), post_id: str = Form(""), task: str = Form(""),
                      label: str = Form(""), back: str = Form("")) -> Response:
        check_csrf(request, csrf)
        user = require(request, "responder")
        if task not in TASKS:
            return page(request, "message.html", 400, title="Unknown label", detail=f"'{task}' is not one of {', '.join(TASKS)}")
        allowed = options[task]
        value = canonical(task, label, categories)
        if value is None:
            return page(request, "message.html", 400, title="Unknown label",
                        detail=f"'{label}' is not a {task}: use one of {', '.join(allowed)}")
        if not store.get_posts([post_id]):
            return page(request, "message.html", 404, title="No such post", detail=f"there is no post '{post_id}'")
        try:
            store.save_labels([TeamLabel(post_id, task, value, "console", utc_now())])
        except NotImplementedError as exc:
            return page(request, "message.html", 501, title="Not stored", detail=str(exc))
        target = back if back.startswith("/explore") and not back.startswith("//") else "/explore"
        sep = "&" if "?" in target else "?"
        message = f"{task} of {post_id} set to {value} by {user.name} (a team label for nlp train)"
        return RedirectResponse(f"{target}{sep}{urlencode({'done': message})}", status_code=303)
