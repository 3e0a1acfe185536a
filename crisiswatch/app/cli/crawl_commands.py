"""``crisiswatch sources status``, ``crisiswatch crawl SOURCE``, ``crisiswatch replay SCENARIO``."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
import yaml
from rich.table import Table

from crisiswatch.app.cli.common import ConfigOption, config_or_exit, console, err_console, fail, store_or_exit

sources_app = typer.Typer(help="Configured sources and the health of their crawls.", no_args_is_help=True)


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "-"
    seconds = int((now - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


@sources_app.command("status")
def sources_status(config: ConfigOption = None,
                   source: Annotated[Optional[str], typer.Option("--source", "-s", help="History of one source")] = None,
                   limit: Annotated[int, typer.Option(help="Crawls shown with --source")] = 10) -> None:
    """Last crawl of every source: when, outcome, pages, posts, errors, newest post."""
    from crisiswatch.core.model import utc_now

    cfg = config_or_exit(config)
    now = utc_now()
    with store_or_exit(cfg) as store:
        if source:
            rows = [(source, h) for h in store.crawl_history(source, limit=limit)]
            if not rows:
                raise fail(f"no crawl recorded for source '{source}'")
        else:
            names = [s.name for s in cfg.sources]
            recorded = {h.source for h in store.crawl_history(None, limit=500)}
            rows = [(name, (store.crawl_history(name, limit=1) or [None])[0])
                    for name in names + sorted(recorded - set(names))]
    table = Table(title="Crawl health" + (f": {source}" if source else ""))
    for column in ("source", "platform", "last crawl", "status", "pages", "posts", "errors", "newest post",
                   "took", "message"):
        table.add_column(column, overflow="fold", justify="right" if column in ("pages", "posts", "errors") else "left")
    platforms = {s.name: (s.platform if s.enabled else f"{s.platform} (disabled)") for s in cfg.sources}
    colours = {"ok": "green", "partial": "yellow", "failed": "red", "parse_failed": "red"}
    for name, health in rows:
        if health is None:
            table.add_row(name, platforms.get(name, "?"), "never", "-", "-", "-", "-", "-", "-", "")
            continue
        colour = colours.get(health.status, "white")
        table.add_row(name, platforms.get(name, "not configured"), _ago(health.finished_at, now),
                      f"[{colour}]{health.status}[/]", str(health.pages), str(health.items), str(health.errors),
                      _ago(health.newest_post_at, now), f"{health.duration_s:.1f}s", health.message[:200])
    console.print(table)


@sources_app.command("probe")
def sources_probe(source: Annotated[str, typer.Argument(help="Source name")], config: ConfigOption = None,
                  base_url: Annotated[Optional[str], typer.Option("--base-url", help="Fetch from this host instead")] = None,
                  timeout: Annotated[float, typer.Option(help="Give up after this many seconds")] = 120.0,
                  show: Annotated[int, typer.Option(help="Posts shown field by field")] = 3) -> None:
    """Fetch one page per target through the source's spider and show, field by field, what it
    read and what it could not; nothing is stored and no cursor moves."""
    from crawlers.probe import probe_source

    cfg = config_or_exit(config)
    try:
        cfg.source(source)
    except KeyError:
        raise fail(f"no source named '{source}' in the config (known: {', '.join(s.name for s in cfg.sources)})")
    with console.status(f"probing {source} ..."):
        result = probe_source(source, str(config) if config else None, base_url=base_url, timeout_s=timeout)
    console.print(f"{source} ({result.platform}) from {result.base_url or 'its default host'}: {result.pages} pages, "
                  f"{len(result.posts)} posts read, {result.parse_failures} items unreadable, "
                  f"{result.error_count} errors", highlight=False, markup=False)
    coverage = Table(title="Fields read")
    for column in ("field", "posts with it", "example"):
        coverage.add_column(column, overflow="fold")
    for name, count in result.coverage():
        example = next((result.value(p, name) for p in result.posts if result.value(p, name) not in (None, "")), None)
        mark = "[red]none[/]" if result.posts and not count else f"{count}/{len(result.posts)}"
        coverage.add_row(name, mark, str(example)[:80] if example is not None else "-")
    console.print(coverage)
    for post in result.posts[:show]:
        console.print(f"[bold]{post['id']}[/]")
        for name in ("created_at", "url", "title", "text", "language", "author.handle", "author.followers",
                     "engagement.likes", "engagement.replies", "parent_id"):
            value = result.value(post, name)
            console.print(f"  {name:<20} {'(not read)' if value in (None, '') else str(value)[:160]!s}",
                          highlight=False, markup=False)
    for line in result.parse_reports + result.errors:
        err_console.print(f"could not read: {line}", highlight=False, markup=False)
    if not result.finished:
        err_console.print(f"the probe did not finish:\n{result.output_tail}", highlight=False, markup=False)
    if not result.ok:
        raise typer.Exit(1)


def crawl(source: Annotated[Optional[str], typer.Argument(help="Source name (see `crisiswatch sources status`)")] = None,
          config: ConfigOption = None,
          all_sources: Annotated[bool, typer.Option("--all", help="Crawl every enabled source, one after another")] = False,
          timeout: Annotated[Optional[float], typer.Option(help="Stop a crawl after this many seconds")] = None,
          setting: Annotated[Optional[list[str]], typer.Option("--set", "-s", help="Scrapy setting KEY=VALUE")] = None,
          ) -> None:
    """Crawl a source now (a Scrapy subprocess) and print how it went."""
    from crawlers.run import crawl_source

    cfg = config_or_exit(config)
    if all_sources == bool(source):
        raise fail("name one source, or pass --all")
    names = [s.name for s in cfg.sources if s.enabled] if all_sources else [source]
    for name in names:
        try:
            cfg.source(name)
        except KeyError:
            raise fail(f"no source named '{name}' in the config (known: {', '.join(s.name for s in cfg.sources)})")
    settings = {}
    for item in setting or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise fail(f"--set wants KEY=VALUE, got '{item}'")
        settings[key] = value
    config_path = str(config) if config else None
    failed = False
    for name in names:
        with console.status(f"crawling {name} ..."):
            health = crawl_source(name, config_path=config_path, settings=settings, timeout_s=timeout)
        colour = {"ok": "green", "partial": "yellow"}.get(health.status, "red")
        console.print(f"{name}: [{colour}]{health.status}[/] — {health.pages} pages, {health.items} posts stored, "
                      f"{health.errors} errors in {health.duration_s:.1f}s"
                      + (f", newest post {health.newest_post_at:%Y-%m-%d %H:%M} UTC" if health.newest_post_at else ""))
        if health.message:
            console.print(f"  {health.message[:500]}", highlight=False, markup=False)
        failed = failed or health.status in ("failed", "parse_failed")
    if failed:
        raise typer.Exit(1)


def replay(scenario: Annotated[str, typer.Argument(help="Scenario name (food_safety_zh, airline_outage_en, synthetic)")],
           port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 = any free port)")] = 8765,
           speedup: Annotated[float, typer.Option(help="Scenario seconds per real second (0 = frozen)")] = 60.0,
           clock_start: Annotated[Optional[str], typer.Option(help="Scenario time to start at (ISO; default its start)")] = None,
           write_config: Annotated[Optional[Path], typer.Option(help="Write a config file pointing at the server")] = None,
           duration: Annotated[Optional[float], typer.Option(help="Stop after this many seconds (default: Ctrl-C)")] = None,
           ) -> None:
    """Serve a scenario's posts in each platform's format, released on the scenario clock."""
    from scenarios.replay import ReplayServer
    from crisiswatch.core.model import as_utc

    loaded = _load_scenario(scenario)
    start = as_utc(datetime.fromisoformat(clock_start)) if clock_start else None
    try:
        server = ReplayServer(loaded, port=port, speedup=speedup, clock_start=start)
    except OSError as exc:
        raise fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}")
    with server:
        sources = [s.model_dump(exclude_defaults=True) for s in server.source_configs()]
        if write_config:
            document = {**{k: v for k, v in loaded.config.items() if k in ("watchlists", "crisis_lexicon")},
                        "sources": sources}
            write_config.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
            console.print(f"config for these sources written to {write_config}")
        else:
            console.print(yaml.safe_dump({"sources": sources}, allow_unicode=True, sort_keys=False), markup=False,
                          highlight=False)
        console.print(f"replaying [bold]{loaded.name}[/] ({len(loaded.posts)} posts) on {server.base_url} "
                      f"at {speedup:g}x from {server.clock.now():%Y-%m-%d %H:%M} UTC; Ctrl-C stops")
        if any(s["platform"] == "reddit" for s in sources):
            err_console.print("reddit: crawls started from another shell need CRISISWATCH_REPLAY_REDDIT_CLIENT_ID "
                              "and CRISISWATCH_REPLAY_REDDIT_CLIENT_SECRET set (any values)", highlight=False)
        deadline = time.monotonic() + duration if duration else None
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(min(5.0, max(0.05, deadline - time.monotonic())) if deadline else 5.0)
        except KeyboardInterrupt:
            pass
        console.print(f"stopped at scenario time {server.clock.now():%Y-%m-%d %H:%M} UTC after "
                      f"{len(server.requests)} requests")


def _load_scenario(name: str):  # noqa: ANN202
    if name == "synthetic":
        from scenarios.replay.synthetic import synthetic_scenario

        return synthetic_scenario()
    try:
        import scenarios
    except ModuleNotFoundError:
        raise fail("the scenarios package is not installed; only 'synthetic' is available") from None
    if name not in scenarios.names():
        raise fail(f"unknown scenario '{name}' (known: {', '.join(scenarios.names() + ['synthetic'])})")
    return scenarios.load(name)


def register(app: typer.Typer) -> None:
    app.add_typer(sources_app, name="sources")
    app.command("crawl")(crawl)
    app.command("replay")(replay)
