"""``crisiswatch alerts ...`` and ``crisiswatch backtest``.

Heavy imports (numpy, apprise, matplotlib) stay inside the command functions so that
``crisiswatch --help`` stays fast.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape as esc

from crisiswatch.app.cli.common import (ActorOption, ConfigOption, actor_or_account, actor_or_exit, config_or_exit,
                                        console, fail, store_or_exit)
from crisiswatch.core.config import parse_duration
from crisiswatch.core.schedule import parse_moment
from crisiswatch.core.model import Level, as_utc, utc_now

from alerts.learning import learning_states

app = typer.Typer(help="Crisis alerts: evaluate rules, manage incidents, silences and drills.",
                  no_args_is_help=True)
silence_app = typer.Typer(help="Hold notifications by watchlist, rule and time window.", no_args_is_help=True)
app.add_typer(silence_app, name="silence")

LEVEL_STYLE = {"blue": "bold blue", "yellow": "bold yellow", "orange": "bold dark_orange", "red": "bold red"}


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="alerts")
    root.command("backtest")(backtest)


def parse_time(value: str | None, default: datetime | None = None) -> datetime:
    """An ISO time (naive = UTC) or a duration ago (``2h``, ``7d``)."""
    if value is None:
        if default is None:
            raise fail("a time is required")
        return default
    try:
        return parse_moment(value, utc_now())
    except ValueError as exc:
        raise fail(str(exc)) from None


def _incident_or_exit(store, incident_id: str):  # noqa: ANN001, ANN202
    from crisiswatch.core.store.base import StoreError

    try:
        incident = store.get_incident(incident_id)
    except StoreError as exc:
        raise fail(str(exc)) from None
    if incident is None:
        raise fail(f"no incident '{incident_id}' (see `crisiswatch alerts list`)")
    return incident


def _level(text: str) -> str:
    return f"[{LEVEL_STYLE.get(text, '')}]{text}[/]"


@app.command()
def evaluate(now: Annotated[Optional[str], typer.Option("--now", help="Evaluate as of this time (ISO); default: now")] = None,
             rule: Annotated[Optional[list[str]], typer.Option("--rule", "-r", help="Only these rules (repeat)")] = None,
             no_deliver: Annotated[bool, typer.Option("--no-deliver", help="Queue notifications, do not send")] = False,
             fresh: Annotated[bool, typer.Option("--fresh", help="Forget cached baselines first (after a backfill)")] = False,
             config: ConfigOption = None) -> None:
    """Run one evaluation cycle: detectors, incidents, escalation, notifications."""
    from alerts.engine import evaluate_cycle
    from alerts.series import forget

    cfg = config_or_exit(config)
    at = parse_time(now, utc_now())
    rules = None
    if rule:
        try:
            rules = [cfg.rule(name) for name in rule]
        except KeyError as exc:
            raise fail(exc.args[0]) from None
    with store_or_exit(cfg) as store:
        if fresh:
            console.print(f"{forget(store)} cached series forgotten")
        report = evaluate_cycle(store, cfg, at, deliver=not no_deliver, rules=rules)
    for ev in report.fired:
        console.print(f"{_level(ev.level.value)} {esc(ev.rule)} {esc(ev.watchlist or '')}: {esc(ev.title)}",
                      highlight=False)
    for change in report.changes:
        console.print(f"  incident {change.describe()}", highlight=False, markup=False)
    console.print(f"{at:%Y-%m-%d %H:%M} UTC: {report.summary()}", highlight=False)
    for error in report.errors:
        console.print(f"[red]error:[/] {esc(error)}", highlight=False)
    if report.errors:
        raise typer.Exit(1)


@app.command()
def deliver(now: Annotated[Optional[str], typer.Option("--now", help="Deliver as of this time (ISO); default: now")] = None,
            config: ConfigOption = None) -> None:
    """Send queued notifications and retry failed ones that are due; exits 1 while any is undelivered."""
    from alerts.notify import deliver as deliver_due

    cfg = config_or_exit(config)
    with store_or_exit(cfg) as store:
        report = deliver_due(store, cfg, parse_time(now, utc_now()))
    for line in report.undelivered:
        console.print(f"[yellow]undelivered[/] {esc(line)}", highlight=False)
    console.print(report.summary(), highlight=False)
    if report.undelivered:
        raise typer.Exit(1)


@app.command("list")
def list_incidents(state: Annotated[str, typer.Option("--state", help="active, open, acknowledged, resolved or all")] = "active",
                   limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 50,
                   as_json: Annotated[bool, typer.Option("--json", help="JSON Lines output")] = False,
                   config: ConfigOption = None) -> None:
    """Incidents, most recently updated first."""
    states = {"active": ["open", "acknowledged"], "all": None}.get(state, [state])
    if states is not None and not set(states) <= {"open", "acknowledged", "resolved"}:
        raise fail(f"unknown state '{state}': use active, open, acknowledged, resolved or all")
    cfg = config_or_exit(config)
    with store_or_exit(cfg) as store:
        incidents = store.list_incidents(states=states, limit=limit)
        learning = [s for s in learning_states(store, cfg, utc_now()) if s.learning]
    if as_json:
        for incident in incidents:
            typer.echo(incident.model_dump_json(exclude={"events", "notifications"}))
        return
    if not incidents:
        console.print(f"no {state} incidents")
    for i in incidents:
        who = f" ack {i.acknowledged_by}" if i.acknowledged_by else ""
        owner = f" owner {i.assignee}" if i.assignee else ""
        rules = ", ".join(i.rules)
        console.print(f"{i.id}  {_level(i.level.value):<6} {i.state.value:<12} {i.updated_at:%Y-%m-%d %H:%M}  "
                      f"{esc(i.watchlist or '*')}  [{esc(rules)}]  {esc(i.title)}{esc(who)}{esc(owner)}",
                      highlight=False)
    for item in learning:  # a new watchlist's alerts rest on a baseline still being learned
        console.print(f"watchlist {esc(item.watchlist)}: {esc(item.describe())}", highlight=False)


@app.command()
def show(incident_id: Annotated[str, typer.Argument(help="Incident id (or a unique prefix)")],
         as_json: Annotated[bool, typer.Option("--json", help="The whole incident as JSON")] = False,
         config: ConfigOption = None) -> None:
    """One incident: evidence, timeline and deliveries."""
    cfg = config_or_exit(config)
    with store_or_exit(cfg) as store:
        incident = _incident_or_exit(store, incident_id)
    if as_json:
        typer.echo(incident.model_dump_json(indent=2))
        return
    from alerts.render import posts_link

    e = incident.evidence
    console.print(f"[bold]{incident.id}[/] {_level(incident.level.value)} (peak {incident.peak_level.value}) "
                  f"{incident.state.value}: {esc(incident.title)}", highlight=False)
    console.print(f"rules {esc(', '.join(incident.rules))}, watchlist {esc(incident.watchlist or '*')}, score {incident.score:.0f}/100, "
                  f"opened {incident.opened_at:%Y-%m-%d %H:%M} UTC"
                  + (f", related: {esc(', '.join(incident.related))}" if incident.related else ""), highlight=False)
    if e.get("observed") is not None:
        console.print(f"observed {e.get('observed')} vs normal {e.get('baseline')} (spread {e.get('spread')}), "
                      f"rule score {e.get('score')}", highlight=False, markup=False)
    for post in e.get("top_posts", [])[:3]:
        console.print(f"  post {post.get('id')} by {post.get('author')}: {post.get('text', '')[:140]}",
                      highlight=False, markup=False)
    if e.get("top_terms"):
        console.print("top terms: " + ", ".join(f"{t} ({n})" for t, n in e["top_terms"][:10]), highlight=False,
                      markup=False)
    if e.get("chart"):
        console.print(f"chart: {e['chart']}", highlight=False, markup=False)
    kind, link = posts_link(cfg, incident)
    console.print(f"posts ({kind}): {link}", highlight=False, markup=False)
    console.print("[bold]timeline[/]")
    for event in incident.events:
        console.print(f"  {event.at:%Y-%m-%d %H:%M:%S} {event.kind:<14} {event.actor:<10} {event.message}",
                      highlight=False, markup=False)
    if incident.notifications:
        console.print("[bold]deliveries[/]")
        for n in incident.notifications:
            console.print(f"  {n.idempotency_key:<32} {n.status:<8} attempts {n.attempts}"
                          + (f"  {n.last_error}" if n.last_error else ""), highlight=False, markup=False)


def _act(config: Path | None, incident_id: str, action: str, by: str, **kwargs: str) -> None:
    from crisiswatch.app.incident_service import IncidentError, act

    cfg = config_or_exit(config)
    with store_or_exit(cfg) as store:
        incident = _incident_or_exit(store, incident_id)
        try:  # the same service the web console uses; a compare-and-set, re-applied on a race
            outcome = act(store, cfg, incident.id, action, by, "cli", **kwargs)
        except IncidentError as exc:
            raise fail(str(exc)) from None
    console.print(f"{incident.id}: {outcome.message}" + (f" ({outcome.sent} notifications sent)" if outcome.sent else ""),
                  highlight=False, markup=False)


@app.command()
def ack(incident_id: str, by: ActorOption = None, config: ConfigOption = None) -> None:
    """Acknowledge: someone is on it (stops reminders and escalation)."""
    _act(config, incident_id, "acknowledge", by=actor_or_exit(by))


@app.command()
def assign(incident_id: str, to: Annotated[str, typer.Option("--to", help="Who owns the response")],
           by: ActorOption = None, config: ConfigOption = None) -> None:
    """Give the incident an owner."""
    _act(config, incident_id, "assign", to=to, by=actor_or_exit(by))


@app.command()
def note(incident_id: str, text: Annotated[str, typer.Argument(help="What happened, what was done")],
         by: ActorOption = None, config: ConfigOption = None) -> None:
    """Add a note to the timeline."""
    _act(config, incident_id, "note", text=text, by=actor_or_exit(by))


@app.command()
def resolve(incident_id: str, note: Annotated[str, typer.Option("--note", help="How it ended")] = "",
            by: ActorOption = None, config: ConfigOption = None) -> None:
    """Close the incident."""
    _act(config, incident_id, "resolve", by=actor_or_exit(by), note=note)


@app.command()
def escalate(incident_id: str, note: Annotated[str, typer.Option("--note", help="Why it cannot wait")] = "",
             by: ActorOption = None, config: ConfigOption = None) -> None:
    """Escalate now: take the next escalation step of its routes without waiting."""
    _act(config, incident_id, "escalate_now", by=actor_or_exit(by), note=note)


@app.command()
def rate(incident_id: str,
         rating: Annotated[str, typer.Argument(help="useful, false_alarm, duplicate or too_late")],
         note: Annotated[str, typer.Option("--note", help="Why")] = "",
         by: ActorOption = None, config: ConfigOption = None) -> None:
    """Rate the alert (counts in alert quality per rule)."""
    _act(config, incident_id, "rate", by=actor_or_exit(by), rating=rating, note=note)


@app.command()
def quality(since: Annotated[str, typer.Option("--since", help="Alerts opened since: a duration ago (30d) or ISO time")] = "30d",
            as_json: Annotated[bool, typer.Option("--json", help="JSON Lines output")] = False,
            config: ConfigOption = None) -> None:
    """Alert quality per rule and watchlist: alerts, share rated useful, false alarms a week, times to act."""
    import json

    from crisiswatch.app.quality import duration, quality_from_store, share

    cfg = config_or_exit(config)
    now = utc_now()
    start = parse_time(since)
    if start >= now:
        raise fail(f"--since {since} is not in the past")
    with store_or_exit(cfg) as store:
        rows = quality_from_store(store, start, now)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row.as_json()))
        return
    if not rows:
        console.print(f"no alerts opened since {start:%Y-%m-%d %H:%M} UTC")
        return
    console.print(f"{'rule':<16} {'watchlist':<12} {'alerts':>6} {'useful':>8} {'false/wk':>8} {'to ack':>8} "
                  f"{'to resolve':>10}", highlight=False, markup=False, soft_wrap=True)
    for r in rows:
        useful = share(r.useful_share) + (f" /{r.rated}" if r.rated else "")
        console.print(f"{r.rule:<16} {r.watchlist or '*':<12} {r.alerts:>6} {useful:>8} {r.false_alarms_per_week:>8.1f} "
                      f"{duration(r.median_ack):>8} {duration(r.median_resolve):>10}", highlight=False, markup=False,
                      soft_wrap=True)


@silence_app.command("add")
def silence_add(watchlist: Annotated[Optional[str], typer.Option("--watchlist", "-w")] = None,
                rule: Annotated[Optional[str], typer.Option("--rule", "-r")] = None,
                duration: Annotated[Optional[str], typer.Option("--for", help="How long from start: 2h, 1d")] = None,
                start: Annotated[Optional[str], typer.Option("--start", help="ISO time; default now")] = None,
                until: Annotated[Optional[str], typer.Option("--until", help="ISO end time (instead of --for)")] = None,
                reason: Annotated[str, typer.Option("--reason")] = "",
                by: ActorOption = None, config: ConfigOption = None) -> None:
    """Hold notifications for a watchlist and/or rule during a time window."""
    from crisiswatch.app.incident_service import silence

    by = actor_or_exit(by)

    cfg = config_or_exit(config)
    if (duration is None) == (until is None):
        raise fail("give either --for DURATION or --until TIME")
    with store_or_exit(cfg) as store:
        try:  # the same service the web console's "silence" uses
            item = silence(store, cfg, by, "cli", watchlist=watchlist, rule=rule, duration=duration, reason=reason,
                           start=as_utc(datetime.fromisoformat(start)) if start else None,
                           end=as_utc(datetime.fromisoformat(until)) if until else None)
        except ValueError as exc:
            raise fail(str(exc).splitlines()[-1]) from None
    console.print(f"silence {item.id}: {item.describe()}", highlight=False, markup=False)


@silence_app.command("list")
def silence_list(config: ConfigOption = None) -> None:
    """Silences that are active or planned."""
    from crisiswatch.app.incident_service import silences

    cfg = config_or_exit(config)
    with store_or_exit(cfg) as store:
        items = silences(store)
    if not items:
        console.print("no silences")
    for s in items:
        console.print(f"{s.id}  {s.describe()}  by {s.created_by}" + (f": {s.reason}" if s.reason else ""),
                      highlight=False, markup=False)


@silence_app.command("remove")
def silence_remove(silence_id: str, by: ActorOption = None, config: ConfigOption = None) -> None:
    """End a silence now (recorded in the audit log with --by)."""
    from crisiswatch.app.incident_service import unsilence

    by = actor_or_account(by)
    cfg = config_or_exit(config)
    with store_or_exit(cfg) as store:
        try:  # the same service the JSON API's DELETE /silences/ID uses
            item = unsilence(store, by, "cli", silence_id)
        except KeyError:
            raise fail(f"no silence '{silence_id}'") from None
        except ValueError as exc:
            raise fail(str(exc)) from None
    console.print(f"silence {item.id} removed", highlight=False, markup=False)


@app.command()
def drill(level: Annotated[str, typer.Option("--level", help="Level of the test incident (decides routes)")] = "red",
          watchlist: Annotated[Optional[str], typer.Option("--watchlist", "-w")] = None,
          by: ActorOption = None, config: ConfigOption = None) -> None:
    """Send a clearly marked test incident through the routing to every routed channel."""
    from alerts.engine import run_drill

    by = actor_or_account(by)  # who ran the drill, never an anonymous "drill"
    cfg = config_or_exit(config)
    try:
        chosen = Level(level)
    except ValueError:
        raise fail(f"unknown level '{level}': blue, yellow, orange or red") from None
    if not cfg.channels:
        raise fail("no channels configured: add `channels:` and `routes:` to the config")
    with store_or_exit(cfg) as store:
        incident = run_drill(store, cfg, chosen, watchlist, by=by)
    failed = 0
    for n in incident.notifications:
        ok = n.status == "sent"
        failed += not ok
        console.print(f"{'[green]ok[/]' if ok else '[red]FAILED[/]'}  {n.channel}"
                      + ("" if ok else f": {esc(n.last_error or '')}"), highlight=False)
    console.print(f"drill incident {incident.id}: {len(incident.notifications) - failed} of "
                  f"{len(incident.notifications)} channels reached; outbox: {cfg.alerting.outbox_dir}")
    if failed or not incident.notifications:
        raise typer.Exit(1)


def backtest(start: Annotated[str, typer.Option("--from", help="ISO time or a duration ago (14d)")],
             end: Annotated[Optional[str], typer.Option("--to", help="ISO time; default now")] = None,
             rule: Annotated[Optional[list[str]], typer.Option("--rule", "-r", help="Only these rules (repeat)")] = None,
             labels: Annotated[Optional[Path], typer.Option("--labels", help="YAML/JSON list of {watchlist, onset, end}")] = None,
             max_delay: Annotated[str, typer.Option("--max-delay", help="Latest useful alert after an onset")] = "6h",
             as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
             config: ConfigOption = None) -> None:
    """Replay stored history bucket by bucket as if live; list the incidents that would have fired."""
    from alerts.backtest import format_report, load_labels, report_json, run_backtest

    cfg = config_or_exit(config)
    begin, finish = parse_time(start), parse_time(end, utc_now())
    try:
        rules = [cfg.rule(name) for name in rule] if rule else None
        label_list = load_labels(labels) if labels else None
    except KeyError as exc:
        raise fail(exc.args[0]) from None
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read labels {labels}: {str(exc).splitlines()[0]}") from None
    with store_or_exit(cfg) as store:
        try:
            report = run_backtest(store, cfg, begin, finish, rules, label_list, parse_duration(max_delay))
        except ValueError as exc:
            raise fail(str(exc)) from None
    typer.echo(report_json(report) if as_json else format_report(report))
