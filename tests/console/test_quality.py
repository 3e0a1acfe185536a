"""Alert quality per rule and watchlist: the figures on a store with known incidents and
ratings, the same in `crisiswatch alerts quality` and on the console's /quality page."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from crisiswatch.app.console.app import create_app
from crisiswatch.app.quality import alert_quality
from crisiswatch.app.users import Users
from crisiswatch.core.config import load_config
from crisiswatch.core.model import Incident, IncidentEvent, IncidentState, Level, utc_now
from crisiswatch.core.store.sqlite import SqliteStore
from tests.alerts.test_cli import cli, write_config
from tests.console.conftest import PASSWORD

M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


def incident(key: str, rule: str, watchlist: str, opened: datetime, ack: timedelta | None = None,
             resolve: timedelta | None = None, ratings: tuple[tuple[timedelta, str], ...] = ()) -> Incident:
    i = Incident(id=f"{key}0000000", fingerprint=f"{rule}|{watchlist}|{key}", rule=rule, watchlist=watchlist,
                 title=f"alert {key}", level=Level.orange, peak_level=Level.orange, opened_at=opened,
                 updated_at=opened, events=[IncidentEvent(at=opened, kind="fired", message="fired")])
    events = i.events
    if ack is not None:
        i.state, i.acknowledged_at, i.acknowledged_by = IncidentState.acknowledged, opened + ack, "mei"
        events.append(IncidentEvent(at=opened + ack, kind="acknowledged", actor="mei"))
    for after, rating in ratings:
        events.append(IncidentEvent(at=opened + after, kind="rated", actor="mei", data={"rating": rating}))
    if resolve is not None:
        i.state, i.resolved_at = IncidentState.resolved, opened + resolve
        events.append(IncidentEvent(at=opened + resolve, kind="resolved", actor="mei"))
    i.updated_at = max(e.at for e in events)
    return i


def known(now: datetime) -> list[Incident]:
    return [
        # volume/acme: 4 alerts in the last 4 weeks, 3 rated (1 useful: A's newer rating replaces its older)
        incident("a", "volume", "acme", now - 10 * D, ack=10 * M, resolve=2 * H,
                 ratings=((1 * H, "false_alarm"), (3 * H, "useful"))),
        incident("b", "volume", "acme", now - 5 * D, ack=30 * M, resolve=4 * H, ratings=((5 * H, "false_alarm"),)),
        incident("c", "volume", "acme", now - 2 * D, ack=20 * M, ratings=((1 * H, "false_alarm"),)),
        incident("d", "volume", "acme", now - 1 * D),
        # negative/zenith: one useful alert
        incident("e", "negative", "zenith", now - 3 * D, ack=5 * M, resolve=1 * H, ratings=((2 * H, "useful"),)),
        # outside the window, and a drill: neither counts
        incident("f", "volume", "acme", now - 60 * D, ack=1 * M, resolve=1 * M, ratings=((1 * D, "false_alarm"),)),
        incident("g", "drill", "acme", now - 1 * D, resolve=1 * M),
    ]


def test_the_figures_per_rule_and_watchlist():
    now = utc_now()
    rows = {(r.rule, r.watchlist): r for r in alert_quality(known(now), now - 28 * D, now)}
    assert set(rows) == {("volume", "acme"), ("negative", "zenith")}
    volume, negative = rows["volume", "acme"], rows["negative", "zenith"]
    assert (volume.alerts, volume.rated, volume.useful, volume.false_alarms) == (4, 3, 1, 2)
    assert volume.useful_share == pytest.approx(1 / 3)
    assert volume.false_alarms_per_week == 0.5  # 2 false alarms in 4 weeks
    assert volume.median_ack == 20 * M and volume.median_resolve == 3 * H  # median of 10/30/20 min; of 2 h, 4 h
    assert (negative.alerts, negative.useful_share, negative.false_alarms_per_week) == (1, 1.0, 0.0)
    assert negative.median_ack == 5 * M and negative.median_resolve == 1 * H
    nothing_rated = alert_quality(known(now)[3:4], now - 7 * D, now)[0]
    assert nothing_rated.useful_share is None and nothing_rated.median_ack is None


@pytest.fixture
def quality_store(tmp_path):
    store = SqliteStore(tmp_path / "quality.db")
    store.setup()
    for i in known(utc_now()):
        store.save_incident(i)
    Users(store).add("vic", "viewer", PASSWORD)
    yield store
    store.close()


def test_crisiswatch_alerts_quality_prints_the_same_figures(quality_store, tmp_path):
    config = write_config(tmp_path, quality_store.path)
    result = cli("alerts", "quality", "--since", "28d", "--json", "-c", config)
    assert result.exit_code == 0, result.output
    rows = {(r["rule"], r["watchlist"]): r for r in map(json.loads, result.stdout.splitlines())}
    assert rows["volume", "acme"]["alerts"] == 4 and rows["volume", "acme"]["false_alarms_per_week"] == 0.5
    assert rows["volume", "acme"]["median_ack_s"] == 1200 and rows["volume", "acme"]["median_resolve_s"] == 3 * 3600
    table = cli("alerts", "quality", "--since", "28d", "-c", config).stdout
    volume_line = next(line for line in table.splitlines() if line.startswith("volume"))
    assert "acme" in volume_line and "33% /3" in volume_line and "0.5" in volume_line
    assert "20m" in volume_line and "3h 00m" in volume_line
    assert "drill" not in table
    assert "no alerts opened" in cli("alerts", "quality", "--since", "12h", "-c", config).stdout
    bad = cli("alerts", "quality", "--since", "soon", "-c", config)
    assert bad.exit_code == 1 and "neither an ISO time" in bad.output


def test_the_quality_page_shows_them_to_anyone_logged_in(quality_store, tmp_path):
    config = load_config(write_config(tmp_path, quality_store.path))
    with TestClient(create_app(config, quality_store), follow_redirects=False) as client:
        assert client.get("/quality").headers["location"].startswith("/login")
        token = client.get("/login").text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        client.post("/login", data={"username": "vic", "password": PASSWORD, "csrf": token})
        page = client.get("/quality?since=30d")
        assert page.status_code == 200
        rows = page.text.split("<tbody>", 1)[1]
        volume = rows.split("<tr>")[1]
        assert "volume" in volume and "acme" in volume and "33%" in volume and "of 3 rated" in volume
        assert "0.5" in volume and "20m" in volume and "3h 00m" in volume
        assert "zenith" in rows and "drill" not in rows
        week = client.get("/quality?since=7d").text  # alert a (10 days old) drops out
        assert "<td>volume</td><td>acme</td><td>3</td>" in week
        assert client.get("/quality?since=bogus").status_code == 200  # an unknown window falls back to 30 days
