"""``crisiswatch ingest | search | stats | export``: the store from the command line."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperCommand
from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TaskID, TextColumn,
                           TimeElapsedColumn)
from rich.table import Table

from crisiswatch.app.cli.common import ConfigOption, config_or_exit, console, err_console, fail, store_or_exit
from crisiswatch.core.schedule import parse_moment
from crisiswatch.core.store.base import PostFilter
from crisiswatch.core.store.ingest import MAX_TEXT_CHARS, IngestSummary, LineError
from crisiswatch.core.store.query import QueryError, check_query

STATS_FIELDS = ("source", "language", "sentiment", "watchlist", "emotion", "category")
MAX_ERRORS_SHOWN = 20


def parse_when(value: str, now: datetime | None = None) -> datetime:
    """``24h`` / ``7d`` (that long ago) or an ISO date/time (naive = UTC)."""
    try:
        return parse_moment(value, now or datetime.now(timezone.utc))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


SinceOption = Annotated[Optional[str], typer.Option("--since", help="Only posts created since: 24h, 7d, or an ISO time")]
UntilOption = Annotated[Optional[str], typer.Option("--until", help="Only posts created before: a duration ago or ISO time")]
WatchlistOption = Annotated[Optional[list[str]], typer.Option("--watchlist", "-w", help="Only these watchlists (repeat)")]
SourceOption = Annotated[Optional[list[str]], typer.Option("--source", "-s", help="Only these sources (repeat)")]
SentimentOption = Annotated[Optional[list[str]], typer.Option("--sentiment", help="negative, neutral or positive (repeat)")]


class QueryArgumentsCommand(TyperCommand):
    """``search`` takes its query words as they come: a word starting with '-' that is not
    exactly one of the command's options (``-spam``, ``-"free gift"``) is a query word, so
    ``crisiswatch search acme -spam`` works as a search user expects; ``--`` still ends the
    options. Option values must be separate words (``-n 5``, not ``-n5``)."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        takes_value = {name: not (opt.is_flag or opt.count) for opt in self.get_params(ctx)  # type: ignore[attr-defined]
                       if opt.param_type_name == "option" for name in (*opt.opts, *opt.secondary_opts)}
        options: list[str] = []
        words: list[str] = []
        rest = iter(args)
        for arg in rest:
            if arg == "--":
                words.extend(rest)
                break
            name = arg.split("=", 1)[0] if arg.startswith("--") else arg
            if name in takes_value:
                options.append(arg)
                if takes_value[name] and "=" not in arg and (value := next(rest, None)) is not None:
                    options.append(value)
            else:
                words.append(arg)
        return super().parse_args(ctx, [*options, "--", *words])


def checked_query(text: str | None) -> str | None:
    """The query, or exit 2 showing where it cannot be read."""
    try:
        check_query(text)
    except QueryError as exc:
        err_console.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        err_console.print(f"  {exc.query}\n  {' ' * (exc.position - 1)}^", highlight=False, markup=False)
        err_console.print('  (quote words that contain ( ) " or a leading -, e.g. \'"(and"\'; '
                          "see docs/store.md, Query language)", highlight=False, markup=False)
        raise typer.Exit(2) from None
    return text


def build_filter(text: str | None = None, since: str | None = None, until: str | None = None,
                 watchlists: list[str] | None = None, sources: list[str] | None = None,
                 sentiments: list[str] | None = None) -> PostFilter:
    return PostFilter(text=text or None, since=parse_when(since) if since else None,
                      until=parse_when(until) if until else None,
                      watchlists=tuple(watchlists) if watchlists else None,
                      sources=tuple(sources) if sources else None,
                      sentiments=tuple(sentiments) if sentiments else None)


def _progress(*columns: object) -> Progress:
    """A progress bar refreshed by the work itself, not by a thread: the store forks term
    workers only from a single-threaded process (see SqliteStore)."""
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), *columns,
                    TimeElapsedColumn(), console=err_console, transient=True, auto_refresh=False)


def _reporter(progress: Progress, task: TaskID) -> Callable[[int], None]:
    """Progress callback that redraws at most ten times a second."""
    last = 0.0

    def report(done: int) -> None:
        nonlocal last
        progress.update(task, completed=done)
        now = time.monotonic()
        if now - last >= 0.1:
            last = now
            progress.refresh()

    return report


def ingest(file: Annotated[Path, typer.Argument(help="JSON Lines file: one post per line")],
           source: Annotated[Optional[str], typer.Option(
               "--source", help="Source name for records that do not name one")] = None,
           match: Annotated[bool, typer.Option(
               "--match/--no-match", help="Assign configured watchlists to posts that have none")] = True,
           problems: Annotated[Optional[Path], typer.Option(
               "--problems", help="Write every problem (FILE:LINE: reason) to this file")] = None,
           config: ConfigOption = None) -> None:
    """Import posts from FILE (crisiswatch exports or other tools' JSON Lines).

    Bad lines are reported as FILE:LINE: reason (and how to fix it) and skipped; every valid
    line is imported. Warnings (posts kept but changed or suspicious: dated in the future,
    truncated, duplicate ids) are reported the same way. Exits 1 when some lines were skipped.
    """
    from crisiswatch.core.store.ingest import ingest_jsonl

    if not file.is_file():
        raise fail(f"{file}: no such file", code=2)
    cfg = config_or_exit(config)
    with store_or_exit(cfg) as store, _progress(DownloadColumn()) as progress:
        task = progress.add_task(f"Importing {file.name}", total=file.stat().st_size)
        summary = ingest_jsonl(store, file, config=cfg if match else None, default_source=source,
                               progress=_reporter(progress, task))
    for error in summary.errors[:MAX_ERRORS_SHOWN]:
        err_console.print(_problem_line(file, error), highlight=False, markup=False, soft_wrap=True)
    if len(summary.errors) > MAX_ERRORS_SHOWN:
        more = len(summary.errors) - MAX_ERRORS_SHOWN
        err_console.print(f"... and {more} more problems" + (f" (all {len(summary.errors)} in {problems})" if problems
                          else " (--problems FILE writes every one)"), highlight=False, soft_wrap=True)
    if problems is not None:
        try:
            problems.write_text("".join(_problem_line(file, e) + "\n" for e in summary.errors), encoding="utf-8")
        except OSError as exc:
            raise fail(f"{problems}: cannot write: {exc.strerror}", code=2) from None
    console.print(f"{file}: " + ", ".join(_summary_parts(summary)), highlight=False, soft_wrap=True)
    if summary.skipped:
        raise typer.Exit(1)


def _problem_line(file: Path, error: LineError) -> str:
    return f"{file}:{error.line}: {'' if error.skipped else 'warning: '}{error.reason}"


def _summary_parts(s: IngestSummary) -> list[str]:
    parts = [f"{s.lines} lines", f"{s.imported} posts imported", f"{s.skipped} skipped"]
    for count, label in ((s.refused, "refused by the store"), (s.enrichments, "enrichments restored"),
                         (s.matched, "posts matched to watchlists"),
                         (s.duplicates, "duplicate ids (the later line kept)"),
                         (s.future, "dated in the future (stored)"),
                         (s.truncated, f"texts truncated to {MAX_TEXT_CHARS:,} characters"),
                         (s.repaired, "with invalid characters replaced")):
        if count:
            parts.append(f"{count} {label}")
    return parts


def search(query: Annotated[list[str], typer.Argument(
               help='Query words: terms (all must occur), "phrases", AND/OR/NOT, -term, (groups), field:value',
               show_default=False)],
           since: SinceOption = None, until: UntilOption = None, watchlist: WatchlistOption = None,
           source: SourceOption = None, sentiment: SentimentOption = None,
           limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Posts to show")] = 20,
           as_json: Annotated[bool, typer.Option("--json", help="Print JSON Lines (post + enrichment)")] = False,
           config: ConfigOption = None) -> None:
    """Full-text search, newest first (Chinese works with words of any length).

    Examples: search recall OR 召回 --since 24h; search '(recall OR 召回) -test source:weibo';
    search acme -spam (a leading - excludes a term; also: search -- -spam). The query
    language is in docs/store.md.
    """
    from crisiswatch.core.store.export import jsonl_line, with_enrichments

    text = " ".join(query)
    if not text.strip():
        raise fail("the query is empty: give at least one term (crisiswatch export lists every post)", code=2)
    flt = build_filter(checked_query(text), since, until, watchlist, source, sentiment)
    cfg = config_or_exit(config)
    with store_or_exit(cfg) as store:
        total = store.count_posts(flt)
        rows = list(with_enrichments(store, iter(store.search(flt, limit=limit))))
    if as_json:
        for post, enrichment in rows:
            sys.stdout.write(jsonl_line(post, enrichment) + "\n")
        return
    console.print(f"[bold]{len(rows)} of {total} matching posts[/], newest first", highlight=False)
    for post, enrichment in rows:
        facts = [f"{post.created_at:%Y-%m-%d %H:%M} UTC", post.source, post.id]
        if post.author.handle or post.author.name:
            facts.append(f"@{post.author.handle}" if post.author.handle else str(post.author.name))
        if post.author.followers is not None:
            facts.append(f"{post.author.followers} followers")
        facts.append(f"{post.engagement.total} interactions")
        if enrichment is not None and enrichment.sentiment is not None:
            facts.append(enrichment.sentiment.value)
        text = " ".join(filter(None, [post.title, post.text]))
        console.print("")
        console.print(" · ".join(facts), style="dim", highlight=False, markup=False)
        console.print(text[:400] + ("…" if len(text) > 400 else ""), highlight=False, markup=False)


def stats(since: SinceOption = None, until: UntilOption = None, watchlist: WatchlistOption = None,
          source: SourceOption = None,
          as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON")] = False,
          config: ConfigOption = None) -> None:
    """Post counts by source, language, sentiment, watchlist, emotion and category."""
    flt = build_filter(None, since, until, watchlist, source)
    cfg = config_or_exit(config)
    with store_or_exit(cfg) as store:
        total = store.count_posts(flt)
        counts = {name: store.count_by_field(name, flt) for name in STATS_FIELDS}
        latest = store.crawl_history(limit=1)
    if as_json:
        print(json.dumps({"total": total, **{k: {t.term: t.count for t in v} for k, v in counts.items()}},
                         ensure_ascii=False))
        return
    unenriched = next((t.count for t in counts["sentiment"] if t.term == "none"), 0)
    console.print(f"[bold]{total}[/] posts, {total - unenriched} enriched, {unenriched} waiting for enrichment"
                  + (f"; last crawl: {latest[0].source} at {latest[0].finished_at:%Y-%m-%d %H:%M} UTC ({latest[0].status})"
                     if latest else ""), highlight=False, soft_wrap=True)
    for name, rows in counts.items():
        if not rows:
            continue
        table = Table(title=f"by {name}", title_justify="left")
        table.add_column(name)
        table.add_column("posts", justify="right")
        table.add_column("share", justify="right")
        for row in rows:
            table.add_row(row.term, str(row.count), f"{row.count / total:.1%}" if total else "-")
        console.print(table)


def export(fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl (lossless, re-importable) or csv")] = "jsonl",
           output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write (default: stdout)")] = None,
           query: Annotated[Optional[str], typer.Option("--query", "-q", help="Only posts matching this text query")] = None,
           since: SinceOption = None, until: UntilOption = None, watchlist: WatchlistOption = None,
           source: SourceOption = None, sentiment: SentimentOption = None, config: ConfigOption = None) -> None:
    """Export posts with their enrichments, oldest first."""
    from crisiswatch.core.store.export import export_posts

    if fmt not in ("jsonl", "csv"):
        raise fail(f"unknown format '{fmt}': use jsonl or csv", code=2)
    flt = build_filter(checked_query(query), since, until, watchlist, source, sentiment)
    cfg = config_or_exit(config)
    with store_or_exit(cfg) as store:
        total = store.count_posts(flt)
        if output is None:
            count = export_posts(store, sys.stdout, fmt, flt)  # type: ignore[arg-type]
        else:
            try:
                handle = open(output, "w", encoding="utf-8", newline="")
            except OSError as exc:
                raise fail(f"{output}: cannot write: {exc.strerror}", code=2) from None
            with handle, _progress(MofNCompleteColumn()) as progress:
                task = progress.add_task(f"Exporting to {output.name}", total=total)
                count = export_posts(store, handle, fmt, flt, progress=_reporter(progress, task))
    if output is not None:
        console.print(f"{output}: {count} posts written ({fmt})", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("search", cls=QueryArgumentsCommand)(search)
    app.command("stats")(stats)
    app.command("export")(export)
