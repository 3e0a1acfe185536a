"""Delivery benchmark: incident notifications per second through the claim/lease path
(``alerts.notify.deliver``) against a loopback HTTP receiver, versus the path it replaced
(read, send, save: no claim), in the same run.

Run from the repository root with the project venv::

    .venv/bin/python bench/delivery_throughput.py                 # 300 notifications per path, 3 rounds
    .venv/bin/python bench/delivery_throughput.py --notifications 100 --rounds 5

Each round builds a fresh SQLite store with ``--notifications`` queued records (one per
incident, a ``json://`` channel to 127.0.0.1) and delivers them all in one process with each
path, alternating which goes first. The claim path writes the incident twice per message
(the claim, then the outcome, both compare-and-set) where the old path wrote it once; both
send through the same ``transmit`` (Apprise), which dominates. Printed: the CPU (``lscpu``
flags), per-round figures, and the last line::

    claimed_per_s=… unclaimed_per_s=… ratio=…

(``ratio`` = claimed / unclaimed; 1.0 = the claim costs nothing measurable.)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cpu import cpu_description  # noqa: E402
from crisiswatch.core.config import parse_config  # noqa: E402
from crisiswatch.core.model import Incident, Level, NotificationRecord  # noqa: E402
from crisiswatch.core.store.sqlite import SqliteStore  # noqa: E402

from alerts import notify, routing  # noqa: E402
from alerts.render import render  # noqa: E402
from scenarios.webhook import WebhookReceiver  # noqa: E402

NOW = datetime(2026, 3, 9, 10, 30, tzinfo=timezone.utc)


def build(directory: Path, port: int, count: int):  # noqa: ANN201
    config = parse_config(f"""
data_dir: {directory}
channels: [{{name: hook, url: "json://127.0.0.1:{port}/hook", format: text}}]
routes: [{{name: all, channels: [hook]}}]
alerting: {{outbox_dir: {directory}/outbox, charts: false}}
""", "bench.yaml")
    store = SqliteStore(directory / "bench.db")
    store.setup()
    for n in range(count):
        incident = Incident(id=f"bench{n:05d}", fingerprint=f"volume|brand{n}|", rule="volume", watchlist=f"brand{n}",
                            title=f"Volume spike for brand{n}", level=Level.orange, peak_level=Level.orange,
                            opened_at=NOW, updated_at=NOW,
                            evidence={"observed": 120, "baseline": 14.2, "spread": 3.0, "unit": "posts", "score": 7.1,
                                      "top_terms": [["recall", 40], ["召回", 31]], "rule": "volume",
                                      "window": [NOW.isoformat(), NOW.isoformat()]})
        index = routing.add_event(incident, "fired", incident.title, NOW, level="orange")
        incident.notifications.append(NotificationRecord(idempotency_key=f"{incident.id}:{index}:hook", channel="hook",
                                                         event_kind="fired", created_at=NOW))
        store.save_incident(incident)
    return store, config


def unclaimed(store: SqliteStore, config) -> int:  # noqa: ANN001
    """The path before issue 12: read, send, save the whole incident; no claim."""
    channels = {c.name: c for c in config.channels}
    sent = 0
    for snapshot in store.list_incidents(limit=100_000):
        for key in [r.idempotency_key for r in snapshot.notifications if r.status == "pending"]:
            incident = store.get_incident(snapshot.id)
            record = next(r for r in incident.notifications if r.idempotency_key == key)
            channel = channels[record.channel]
            event = incident.events[int(key.split(":")[1])]
            message = render(config, incident, event, channel.format, key)
            notify.write_outbox(config, record, incident, message)
            error = notify.transmit(channel, message, key, "info")
            record.attempts += 1
            if error is None:
                record.status, record.sent_at = "sent", NOW
                routing.add_event(incident, "notified", f"{event.kind} sent to {channel.name}", NOW,
                                  channel=channel.name, key=key, attempt=record.attempts)
                sent += 1
            else:
                record.status, record.last_error = "failed", error
            store.save_incident(incident)
    return sent


def claimed(store: SqliteStore, config) -> int:  # noqa: ANN001
    return notify.deliver(store, config, NOW).delivered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notifications", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(cpu_description(), flush=True)
    receiver = WebhookReceiver()
    port = receiver.port
    paths = {"claimed": claimed, "unclaimed": unclaimed}
    rates: dict[str, list[float]] = {name: [] for name in paths}
    for round_ in range(args.rounds):
        order = list(paths) if round_ % 2 == 0 else list(reversed(paths))
        for name in order:
            with tempfile.TemporaryDirectory() as tmp:
                store, config = build(Path(tmp), port, args.notifications)
                receiver.received.clear()
                receiver.attempts.clear()
                start = time.perf_counter()
                sent = paths[name](store, config)
                elapsed = time.perf_counter() - start
                store.close()
                keys = receiver.keys()
                if sent != args.notifications or len(keys) != sent or len(set(keys)) != sent:
                    print(f"{name}: sent {sent}, receiver got {len(keys)} ({len(set(keys))} keys)")
                    return 1
                rates[name].append(sent / elapsed)
                print(f"round {round_ + 1} {name:<9} {sent} in {elapsed:6.2f} s = {sent / elapsed:7.1f}/s", flush=True)
    receiver.stop()
    claimed_rate, unclaimed_rate = statistics.median(rates["claimed"]), statistics.median(rates["unclaimed"])
    print(f"claimed_per_s={claimed_rate:.1f} unclaimed_per_s={unclaimed_rate:.1f} "
          f"ratio={claimed_rate / unclaimed_rate:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
