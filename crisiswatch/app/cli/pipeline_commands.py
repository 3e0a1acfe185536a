"""``crisiswatch demo``, ``crisiswatch run`` and ``crisiswatch report briefing|incident``."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer

from crisiswatch.app.cli.common import ConfigOption, config_or_exit, console, fail, store_or_exit
from crisiswatch.core.config import parse_duration
from crisiswatch.core.model import as_utc

report_app = typer.Typer(help="Write the HTML briefing or an incident report.", no_args_is_help=True)


def _time(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise fail(f"{what}: '{value}' is not an ISO 8601 time such as 2026-10-13T08:00Z") from None


def _duration(value: str, what: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise fail(f"{what}: {exc}") from None


def _signed(delta: timedelta) -> str:
    from crisiswatch.reports.common import format_duration

    return ("+" if delta >= timedelta(0) else "-") + format_duration(abs(delta))


def _first_alert(incident) -> str:
    fired = next((e for e in incident.events if e.kind in ("fired", "reopened")), None)
    return fired.message if fired is not None and fired.message else incident.title


def _evidence_line(incident) -> str:
    """The latest evidence in one line: top terms and the most engaged post."""
    evidence = incident.evidence
    parts = []
    terms = [t[0] for t in evidence.get("top_terms", [])[:6] if isinstance(t, (list, tuple)) and t]
    if terms:
        parts.append("top terms: " + ", ".join(terms))
    top = evidence.get("top_posts") or []
    if top and isinstance(top[0], dict):
        text = " ".join(str(top[0].get("text", "")).split())
        parts.append(f"most engaged: [{top[0].get('source')}] @{top[0].get('author')} "
                     f"({top[0].get('engagement')} interactions): {text[:80]}")
    return "\n    ".join(parts)


def print_demo_summary(result) -> None:
    from rich.markup import escape

    from crisiswatch.app.demo import level_reached_at
    from crisiswatch.core.model import Level

    scenario = result.scenario
    console.rule(f"[bold]{escape(scenario.title)}")
    console.print(f"labelled onset {scenario.onset:%Y-%m-%d %H:%M} UTC; {result.posts} posts stored, "
                  f"{result.enriched} enriched, {len(result.steps)} crawl steps, {result.seconds:.0f} s",
                  highlight=False)
    colours = {"blue": "blue", "yellow": "yellow", "orange": "dark_orange", "red": "red"}
    if not result.incidents:
        console.print("[bold red]No incident was opened.[/]")
    for incident in result.incidents:
        peak = incident.peak_level.value
        console.print(f"\n[bold {colours[peak]}]● {peak.upper()}[/] (now {incident.level.value}, "
                      f"{incident.state.value}) [bold]{escape(incident.watchlist or '-')}[/] · "
                      f"{escape(incident.rule)} · incident {incident.id}",
                      highlight=False)
        console.print(f"  fired {incident.opened_at:%m-%d %H:%M} UTC, {_signed(incident.opened_at - scenario.onset)} "
                      f"from the labelled onset: {escape(_first_alert(incident))}", highlight=False)
        for level in (Level.orange, Level.red):
            reached = level_reached_at(incident, level)
            if reached is not None and reached != incident.opened_at:
                console.print(f"  reached {level.value} at {reached:%H:%M} UTC ({_signed(reached - scenario.onset)})",
                              highlight=False)
        if incident.acknowledged_at is not None:
            console.print(f"  acknowledged by {escape(incident.acknowledged_by or '?')} "
                          f"{_signed(incident.acknowledged_at - incident.opened_at)} after the first alert"
                          + (f"; resolved at {incident.resolved_at:%m-%d %H:%M} UTC" if incident.resolved_at else ""),
                          highlight=False)
        line = _evidence_line(incident)
        if line:
            console.print("    " + escape(line), highlight=False)
    console.print()
    for check in result.checks:
        mark = "[green]✔[/]" if check.met else "[red]✘[/]"
        expected = check.expected
        when = (f"reached at {check.reached_at:%H:%M} UTC ({_signed(check.reached_at - scenario.onset)} after onset)"
                if check.reached_at else "never reached")
        console.print(f"{mark} expected ≥{expected.min_level.value} for {expected.watchlist} by "
                      f"{expected.latest_at:%H:%M} UTC ({_signed(expected.latest_at - scenario.onset)}): {when}",
                      highlight=False)
    if result.reports is not None:
        console.print(f"briefing: {result.reports.briefing}")
        for path in result.reports.incidents:
            console.print(f"incident report: {path}")
    console.print(f"notifications: {result.outbox_messages} in the outbox ({result.config_path.parent / 'outbox'}), "
                  f"{result.inbox_messages} received by the local team webhook ({result.config_path.parent / 'inbox'})"
                  + (f"; briefing sent to {', '.join(k for k, v in result.briefing_sent.items() if v)}"
                     if any(result.briefing_sent.values()) else ""), highlight=False)
    distinct = list(dict.fromkeys(result.errors))
    if distinct:
        console.print(f"[yellow]{len(result.errors)} problem(s) during the run ({len(distinct)} distinct):[/]")
        for error in distinct[:5]:
            console.print(f"  - {error}", highlight=False, markup=False)


def demo(
    scenario: Annotated[str, typer.Option(help="Scenario to replay (see --list).")] = "food_safety_zh",
    seed: Annotated[int, typer.Option(help="Scenario seed: another seed gives other posts of the same story.")] = 0,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its store, config, outbox and reports "
                                           "(replaced on each run).")] = Path("data/demo"),
    step: Annotated[str, typer.Option(help="Scenario time between crawls during the crisis.")] = "30m",
    follow: Annotated[str, typer.Option(help="How long after the onset the replay runs.")] = "30h",
    parallel: Annotated[int, typer.Option(help="Sources crawled at once.")] = 3,
    tiny_models: Annotated[bool, typer.Option("--tiny-models", help="Use tiny random models (a fast plumbing check; "
                                                                    "the predictions mean nothing).")] = False,
    topics: Annotated[bool, typer.Option(help="Fit and assign topic clusters while enriching.")] = True,
    list_scenarios: Annotated[bool, typer.Option("--list", help="List the scenarios and exit.")] = False,
    config: ConfigOption = None,
) -> None:
    """Replay a crisis through the whole pipeline on this machine (what `make run` runs).

    Starts the replay server, crawls it with the real spiders as the scenario clock advances,
    enriches with the offline models, evaluates the alert rules at each step, delivers alerts
    to a local webhook and the outbox, writes the incident reports and the briefing, and
    prints when each incident fired against the labelled onset. Channels and routes of
    --config (if given) receive the alerts too.
    """
    import scenarios

    if list_scenarios:
        for name in scenarios.names():
            console.print(f"{name}: {scenarios.load(name).title}", highlight=False)
        return
    if scenario not in scenarios.names():
        raise fail(f"unknown scenario '{scenario}'; choose one of: {', '.join(scenarios.names())}")
    from crisiswatch.app.demo import DemoOptions, run_demo

    try:
        import scenarios.replay.server  # noqa: F401 - the demo cannot run without the replay server
    except ImportError as exc:
        raise fail(f"the demo needs the crawlers package (replay server and spiders): {exc}") from None

    user_config = config_or_exit(config) if config is not None else None
    options = DemoOptions(scenario=scenario, seed=seed, data_dir=data_dir, step=_duration(step, "--step"),
                          follow=_duration(follow, "--follow"), parallel=parallel, user_config=user_config,
                          topics=topics and not tiny_models)  # random embeddings make no topics worth fitting
    if tiny_models:
        from nlp.tiny import make_tiny_models

        options.models = make_tiny_models(data_dir.parent / f"{data_dir.name}-tiny-models").model_dump(mode="json")

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("replaying", total=None)

        def on_step(number: int, total: int, step_result) -> None:
            progress.update(task, total=total, completed=number,
                            description=f"{step_result.at:%m-%d %H:%M} UTC")
            incidents = step_result.alerts.changes if step_result.alerts is not None else []
            line = f"step {number}/{total} at {step_result.at:%Y-%m-%d %H:%M} UTC: {step_result.summary()}"
            progress.console.print(line, highlight=False, markup=False)
            for change in incidents:
                progress.console.print(f"    incident {change.describe()}", highlight=False, markup=False)

        result = run_demo(options, on_step=on_step, on_phase=lambda m: progress.console.print(m, highlight=False))
    print_demo_summary(result)


def run(
    config: ConfigOption = None,
    every: Annotated[Optional[float], typer.Option(help="Repeat every N minutes (default: once).")] = None,
    parallel: Annotated[int, typer.Option(help="Sources crawled at once.")] = 2,
    briefing: Annotated[bool, typer.Option(help="Also write (and send to airflow.briefing_channels) the last "
                                                "24 hours' briefing after each cycle.")] = False,
    follow: Annotated[bool, typer.Option("--follow", help="Continuous mode: a crawl loop per source, evaluation "
                                                          "as soon as posts arrive, the open bucket nowcast.")] = False,
    crawl_every: Annotated[float, typer.Option(help="With --follow: seconds between crawls of a source.")] = 20.0,
    backfill_every: Annotated[float, typer.Option(help="With --follow: seconds between crawls of a source that "
                                                       "is streamed (mode: stream).")] = 300.0,
    stop_after: Annotated[Optional[float], typer.Option(help="With --follow: stop after this many seconds "
                                                              "(default: run until Ctrl-C).")] = None,
) -> None:
    """Crawl the configured sources, enrich, evaluate alerts and deliver, once or every N minutes.

    The same steps as the Airflow DAGs, without Airflow. Incident reports of incidents that
    changed are written to <data_dir>/reports.
    """
    from crisiswatch.app import steps as pipeline

    config_path = config
    cfg = config_or_exit(config_path)
    if config_path is None:
        default = Path("crisiswatch.yaml")
        if not default.exists():
            raise fail("crisiswatch run needs a config file with sources: pass --config or set CRISISWATCH_CONFIG "
                       "(see crisiswatch.example.yaml); `crisiswatch demo` runs without one")
        config_path = default
    if not [s for s in cfg.sources if s.enabled]:
        raise fail(f"{config_path}: no enabled source to crawl (add some under 'sources:')")
    reports_dir = Path(cfg.data_dir) / "reports"
    if follow:
        from crisiswatch.app.follow import follow_pipeline

        def show(report) -> None:  # noqa: ANN001
            for change in report.changes:
                console.print(f"{report.at:%H:%M:%S} incident {change.incident.id} [{change.incident.level.value}] "
                              f"{change.incident.title}", highlight=False, markup=False)

        with store_or_exit(cfg) as store:
            streamed = [s.name for s in cfg.sources if s.enabled and s.mode == "stream"]
            console.print(f"following {len([s for s in cfg.sources if s.enabled])} sources every {crawl_every:g} s"
                          + (f", streaming {', '.join(streamed)}" if streamed else "") + " (Ctrl-C stops)",
                          highlight=False)
            try:
                stats = follow_pipeline(store, cfg, config_path, crawl_every_s=crawl_every, on_pass=show,
                                        duration_s=stop_after, backfill_every_s=backfill_every)
                console.print(f"stopped: {stats.crawls} crawls, {stats.streamed} posts streamed, {stats.enriched} "
                              f"enriched, {stats.passes} evaluations", highlight=False)
                for error in dict.fromkeys(stats.errors):
                    console.print(f"  [yellow]problem:[/] {error}", highlight=False)
            except KeyboardInterrupt:
                console.print("stopped")
        return
    while True:
        with store_or_exit(cfg) as store:
            result = pipeline.run_cycle(store, cfg, config_path, parallel=parallel)
            console.print(f"{result.at:%Y-%m-%d %H:%M:%S} UTC: {result.summary()}", highlight=False)
            for error in result.errors:
                console.print(f"  [yellow]problem:[/] {error}", highlight=False)
            changed = [c.incident for c in (result.alerts.changes if result.alerts else [])]
            for incident in changed:
                console.print(f"  incident {incident.id} [{incident.level.value}] {incident.title}", highlight=False)
            if changed or briefing:
                start, end = pipeline.reports_period(result.at)
                if briefing:
                    paths = pipeline.write_reports(store, cfg, start, end, reports_dir, changed)
                    sent = pipeline.send_briefing(cfg, paths.briefing, start, end, store=store)
                    console.print(f"  briefing: {paths.briefing}"
                                  + (f" (sent to {', '.join(k for k, v in sent.items() if v)})" if sent else ""))
                else:
                    from crisiswatch.reports.incident import write_incident_report

                    for incident in changed:
                        write_incident_report(store, cfg, incident.id, reports_dir)
        if every is None:
            return
        time.sleep(max(1.0, every * 60 - (datetime.now(result.at.tzinfo) - result.at).total_seconds()))


@report_app.command("briefing")
def report_briefing(
    config: ConfigOption = None,
    start: Annotated[Optional[str], typer.Option("--from", help="Period start (ISO 8601, UTC); "
                                                 "default 24 hours before --to.")] = None,
    end: Annotated[Optional[str], typer.Option("--to", help="Period end (ISO 8601, UTC); default now.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Directory for the HTML file (default <data_dir>/reports).")
                   ] = None,
    send: Annotated[bool, typer.Option(help="Also send it to airflow.briefing_channels.")] = False,
) -> None:
    """Write the situation briefing for a period as one self-contained HTML file."""
    from crisiswatch.app import steps as pipeline

    cfg = config_or_exit(config)
    period_end = _time(end, "--to") or datetime.now().astimezone()
    period_start = _time(start, "--from") or period_end - timedelta(hours=24)
    if period_end <= period_start:
        raise fail("--to must be after --from")
    with store_or_exit(cfg) as store:
        path = pipeline.write_briefing(store, cfg, period_start, period_end, out or Path(cfg.data_dir) / "reports")
        console.print(str(path))
        outcome = pipeline.send_briefing(cfg, path, period_start, period_end, store=store) if send else None
    if send:
        if not outcome:
            raise fail("no channel in airflow.briefing_channels to send the briefing to")
        failed = [name for name, ok in outcome.items() if not ok]
        if failed:
            raise fail(f"briefing not delivered to: {', '.join(failed)}")
        console.print(f"sent to {', '.join(outcome)}")


@report_app.command("incident")
def report_incident(
    incident_id: Annotated[str, typer.Argument(help="Incident id (or a unique prefix).")],
    config: ConfigOption = None,
    out: Annotated[Optional[Path], typer.Option(help="Directory for the HTML file (default <data_dir>/reports).")
                   ] = None,
    response_at: Annotated[Optional[str], typer.Option(help="When the public response went out (ISO 8601); default: "
                                                       "the brand account's first post, else the acknowledgement.")
                                   ] = None,
) -> None:
    """Write the post-incident report (timeline, charts, response KPIs) as one HTML file."""
    from crisiswatch.reports.incident import IncidentNotFound, write_incident_report

    cfg = config_or_exit(config)
    with store_or_exit(cfg) as store:
        try:
            path = write_incident_report(store, cfg, incident_id, out or Path(cfg.data_dir) / "reports",
                                         response_at=_time(response_at, "--response-at"))
        except IncidentNotFound as exc:
            raise fail(str(exc.args[0])) from None
    console.print(str(path))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.command("run")(run)
    app.add_typer(report_app, name="report")
