"""Delivery of queued notifications through Apprise, with retries, backoff and an outbox.

Each ``NotificationRecord`` (queued by ``alerts.routing``) is delivered at most once
successfully: a record marked ``sent`` is never sent again, a failed one is retried with
exponential backoff (``alerting.retry_backoff`` doubling per attempt, at most an hour) up
to the channel's ``max_attempts``. The record is saved right after each attempt, so a
restart resumes where delivery stopped; the idempotency key travels with the message (a
header for JSON webhooks, the footer for people) so a receiver can drop the one duplicate
a crash between "sent" and "saved" could cause.

Channel URLs keep their secrets as ``${CRISISWATCH_...}`` placeholders until the moment of
sending; errors are stored and logged only after every secret value is masked. Every
message is also written to ``alerting.outbox_dir`` whether or not the channel answered.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta
from pathlib import Path

from crisiswatch.core.config import SECRET_PATTERN, ChannelConfig, Config, MissingSecret, parse_duration, resolve_secrets
from crisiswatch.core.model import Incident, NotificationRecord, as_utc, utc_now
from crisiswatch.core.store.base import Store

from alerts.render import Message, render
from alerts.routing import add_event

log = logging.getLogger(__name__)
LOOKBACK = timedelta(days=7)
"""Incidents updated within this period are searched for deliveries still due."""
MAX_BACKOFF = timedelta(hours=1)
IDEMPOTENCY_HEADER = "X-Crisiswatch-Idempotency-Key"
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def mask(text: str, secrets: list[str]) -> str:
    """``text`` with every secret value and any URL password replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return _URL_PASSWORD.sub(r"\1***@", text)


def channel_secrets(channel: ChannelConfig, environ: dict[str, str] | None = None) -> list[str]:
    import os

    env = os.environ if environ is None else environ
    return [env[name] for name in SECRET_PATTERN.findall(channel.url) if name in env]


def _with_idempotency_header(url: str, key: str) -> str:
    """JSON/XML/form webhooks get the key as an HTTP header (Apprise's ``+Header=value``)."""
    if not re.match(r"^(json|jsons|xml|xmls|form|forms)://", url):
        return url
    from urllib.parse import quote

    return url + ("&" if "?" in url else "?") + f"+{IDEMPOTENCY_HEADER}={quote(key, safe='')}"


def _notify_type(incident: Incident, event_kind: str):  # noqa: ANN202
    from apprise import NotifyType

    if event_kind == "resolved":
        return NotifyType.SUCCESS
    if event_kind == "drill":
        return NotifyType.INFO
    return {"blue": NotifyType.INFO, "yellow": NotifyType.WARNING}.get(incident.level.value, NotifyType.FAILURE)


def write_outbox(config: Config, record: NotificationRecord, incident: Incident, message: Message) -> Path:
    """Keep a copy of the message (the local channel): one JSON file per idempotency key."""
    directory = Path(config.alerting.outbox_dir)
    directory.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", record.idempotency_key) + ".json"
    path = directory / name
    payload = {"idempotency_key": record.idempotency_key, "channel": record.channel, "event": record.event_kind,
               "incident": incident.id, "level": incident.level.value, "watchlist": incident.watchlist,
               "title": message.title, "format": message.format, "body": message.body,
               "attachments": message.attachments, "queued_at": record.created_at.isoformat()}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(path)
    return path


def send(channel: ChannelConfig, message: Message, key: str, incident: Incident, event_kind: str,
         environ: dict[str, str] | None = None) -> str | None:
    """Send one message through Apprise; None on success, else the (masked) reason."""
    import apprise

    secrets = channel_secrets(channel, environ)
    try:
        url = _with_idempotency_header(resolve_secrets(channel.url, environ), key)
    except MissingSecret as exc:
        return str(exc)
    secrets.append(url)
    client = apprise.Apprise()
    if not client.add(url):
        return f"Apprise cannot use the URL of channel '{channel.name}' (check its scheme and parameters)"
    body_format = {"text": apprise.NotifyFormat.TEXT, "markdown": apprise.NotifyFormat.MARKDOWN,
                   "html": apprise.NotifyFormat.HTML}[message.format]
    attach = [p for p in message.attachments if Path(p).is_file()] or None
    try:
        result = client.notify(body=message.body, title=message.title, body_format=body_format,
                               notify_type=_notify_type(incident, event_kind), attach=attach)
    except Exception as exc:  # noqa: BLE001 - a plugin failure must not stop the other deliveries
        return mask(f"{type(exc).__name__}: {exc}", secrets)
    if result:
        return None
    reasons = []
    for service in result:
        for entry in service.logs():
            if entry.level in ("WARNING", "ERROR", "CRITICAL") or getattr(entry, "levelno", 0) >= logging.WARNING:
                reasons.append(str(entry.message))
    return mask("; ".join(dict.fromkeys(reasons)) or "the channel refused the notification", secrets)


def _due(record: NotificationRecord, channel: ChannelConfig | None, now: datetime) -> bool:
    if record.status == "pending":
        return True
    if record.status != "failed" or channel is None or record.attempts >= channel.max_attempts:
        return False
    return record.next_attempt_at is None or as_utc(record.next_attempt_at) <= now


def _backoff(config: Config, attempts: int) -> timedelta:
    return min(parse_duration(config.alerting.retry_backoff) * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def deliver_pending(store: Store, config: Config, now: datetime | None = None,
                    incident_ids: list[str] | None = None, environ: dict[str, str] | None = None) -> int:
    """Send every queued or failed-and-due notification; returns how many were delivered."""
    now = as_utc(now) if now else utc_now()
    channels = {c.name: c for c in config.channels}
    if incident_ids is not None:
        incidents = [i for i in (store.get_incident(x) for x in incident_ids) if i is not None]
    else:
        incidents = store.list_incidents(since=now - LOOKBACK, limit=100_000)
    delivered = 0
    for snapshot in incidents:
        for key in [r.idempotency_key for r in snapshot.notifications
                    if _due(r, channels.get(r.channel), now)]:
            delivered += _deliver_one(store, config, snapshot.id, key, channels, now, environ)
    return delivered


def _deliver_one(store: Store, config: Config, incident_id: str, key: str,
                 channels: dict[str, ChannelConfig], now: datetime, environ: dict[str, str] | None) -> int:
    # re-read: another process (a person acknowledging, a parallel retry) may have saved since
    incident = store.get_incident(incident_id)
    if incident is None:
        return 0
    record = next((r for r in incident.notifications if r.idempotency_key == key), None)
    channel = channels.get(record.channel) if record else None
    if record is None or not _due(record, channel, now):
        return 0
    if channel is None or not channel.enabled:
        record.status, record.last_error = "failed", f"channel '{record.channel}' is not configured or disabled"
        record.attempts = max(record.attempts, channel.max_attempts if channel else 1)
        store.save_incident(incident)
        return 0
    index = int(key.split(":")[1])
    event = incident.events[index]
    message = render(config, incident, event, channel.format, key)
    write_outbox(config, record, incident, message)
    error = send(channel, message, key, incident, event.kind, environ)
    record.attempts += 1
    if error is None:
        record.status, record.sent_at, record.last_error, record.next_attempt_at = "sent", now, None, None
        add_event(incident, "notified", f"{event.kind} sent to {channel.name}", now, channel=channel.name,
                  key=key, attempt=record.attempts)
        log.info("incident %s: %s sent to %s", incident.id, event.kind, channel.name)
    else:
        record.status, record.last_error = "failed", error
        final = record.attempts >= channel.max_attempts
        record.next_attempt_at = None if final else now + _backoff(config, record.attempts)
        add_event(incident, "notify_failed",
                  f"{event.kind} to {channel.name} failed (attempt {record.attempts} of {channel.max_attempts}"
                  f"{', giving up' if final else ''}): {error}", now, channel=channel.name, key=key,
                  attempt=record.attempts, final=final)
        log.warning("incident %s: delivery to %s failed (attempt %d): %s", incident.id, channel.name,
                    record.attempts, error)
    store.save_incident(incident)
    return 1 if error is None else 0
