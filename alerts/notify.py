"""The one notification sender: incidents, briefings and operations alerts, through Apprise.

Every message, whatever it is about, leaves through ``transmit``: secrets resolved only at
that moment and masked in every error, the idempotency key with the message (a header for
JSON webhooks and e-mail, the footer for people), the channel's timeout, and a copy in
``alerting.outbox_dir`` whether or not the channel answered. Two ways in:

- ``deliver_pending`` for incident notifications. Each ``NotificationRecord`` (queued by ``alerts.routing``) is delivered at most once
successfully: a record marked ``sent`` is never sent again, a failed one is retried with
exponential backoff (``alerting.retry_backoff`` doubling per attempt, at most an hour) up
to the channel's ``max_attempts``. The record is saved right after each attempt, so a
restart resumes where delivery stopped; the idempotency key travels with the message (a
header for JSON webhooks, the footer for people) so a receiver can drop the one duplicate
a crash between "sent" and "saved" could cause.
- ``send_message`` for messages that belong to no incident: the daily briefing, a task that
  failed for good, unhealthy sources. They are retried a few times at once (the caller is a
  CLI command or an Airflow task, which Airflow retries in turn), and with a store a key that
  was delivered to a channel is never delivered there again, so a retried or rerun briefing
  reaches each channel once.

Channel URLs keep their secrets as ``${CRISISWATCH_...}`` placeholders until the moment of
sending; errors are stored and logged only after every secret value is masked.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from crisiswatch.core import registry
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
STANDALONE_ATTEMPTS = 3
"""Attempts at once for a message outside an incident (fewer if the channel allows fewer)."""
STANDALONE_BACKOFF_S = 0.5
"""First pause between those attempts; doubles per attempt."""
SENT_STATE_PREFIX = "notify:sent:"
"""Store state ``<prefix><key>:<channel>``: that standalone message reached that channel."""
_HEADER_SCHEMES = re.compile(r"^(json|jsons|xml|xmls|form|forms|mailto|mailtos)://")
"""Apprise services that take extra headers as ``+Header=value`` (webhooks and e-mail)."""
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def mask(text: str, secrets: list[str]) -> str:
    """``text`` with every secret value and any URL password replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return _URL_PASSWORD.sub(r"\1***@", text)


def channel_secrets(channel: ChannelConfig, environ: dict[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    return [env[name] for name in SECRET_PATTERN.findall(channel.url) if name in env]


def config_secrets(config: Config, environ: dict[str, str] | None = None) -> list[str]:
    """Every secret value the config refers to: masked in the messages this module writes,
    because an operations alert quotes error texts that may carry one."""
    env = os.environ if environ is None else environ
    names = set(SECRET_PATTERN.findall(json.dumps(config.model_dump(mode="json"))))
    return [env[name] for name in sorted(names) if env.get(name)]


def _with_query(url: str, parameter: str) -> str:
    return url + ("&" if "?" in url else "?") + parameter


def channel_url(channel: ChannelConfig, key: str, environ: dict[str, str] | None = None) -> str:
    """The Apprise URL of one delivery: secrets filled in (MissingSecret if one is not set),
    the idempotency key as a header where the service takes headers, the channel's timeout."""
    url = resolve_secrets(channel.url, environ)
    if _HEADER_SCHEMES.match(url):
        url = _with_query(url, f"+{IDEMPOTENCY_HEADER}={quote(key, safe='')}")
    if channel.timeout:
        seconds = f"{parse_duration(channel.timeout).total_seconds():g}"
        url = _with_query(_with_query(url, f"cto={seconds}"), f"rto={seconds}")
    return url


def _notify_type(incident: Incident, event_kind: str):  # noqa: ANN202
    from apprise import NotifyType

    if event_kind == "resolved":
        return NotifyType.SUCCESS
    if event_kind == "drill":
        return NotifyType.INFO
    return {"blue": NotifyType.INFO, "yellow": NotifyType.WARNING}.get(incident.level.value, NotifyType.FAILURE)


def write_outbox(config: Config, record: NotificationRecord, incident: Incident, message: Message) -> Path:
    """Keep a copy of an incident's message (the local channel)."""
    return _outbox_file(config, {
        "idempotency_key": record.idempotency_key, "channel": record.channel, "event": record.event_kind,
        "incident": incident.id, "level": incident.level.value, "watchlist": incident.watchlist,
        "title": message.title, "format": message.format, "body": message.body,
        "attachments": message.attachments, "queued_at": record.created_at.isoformat()})


def _outbox_file(config: Config, payload: dict[str, Any]) -> Path:
    """One JSON file per idempotency key, replaced atomically (a reader never sees half)."""
    directory = Path(config.alerting.outbox_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (re.sub(r"[^A-Za-z0-9_.-]", "_", payload["idempotency_key"]) + ".json")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(path)
    return path


def transmit(channel: ChannelConfig, message: Message, key: str, notify_type: Any = "info",
             environ: dict[str, str] | None = None) -> str | None:
    """The one Apprise call every message goes through; None on success, else the (masked) reason."""
    import apprise

    secrets = channel_secrets(channel, environ)
    try:
        url = channel_url(channel, key, environ)
    except MissingSecret as exc:
        return str(exc)
    secrets.append(url)
    client = apprise.Apprise()
    if not client.add(url):
        return f"Apprise cannot use the URL of channel '{channel.name}' (check its scheme and parameters)"
    try:
        body_format = apprise.NotifyFormat(registry.get("formats", message.format).body_format)
    except registry.ExtensionError as exc:
        return str(exc)
    attach = [p for p in message.attachments if Path(p).is_file()] or None
    try:
        result = client.notify(body=message.body, title=message.title, body_format=body_format,
                               notify_type=notify_type, attach=attach)
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


# ---- messages outside incidents: briefings, operations alerts -----------------------------
def send_message(config: Config, channel_names: Iterable[str], message: Message, key: str, *, kind: str,
                 store: Store | None = None, resend: bool = False, notify_type: str = "info",
                 environ: dict[str, str] | None = None) -> dict[str, bool]:
    """Deliver one message that belongs to no incident to named channels; channel -> delivered.

    ``key`` names the message (``briefing:<period>``, ``operations:...``); the delivery to a
    channel is ``<key>:<channel>``. With a ``store``, a channel that already received that key
    counts as delivered and is not sent it again unless ``resend``. A channel that is missing,
    disabled, lacks its secret or refuses is logged (masked) and reported False; the others
    still receive the message.
    """
    channels = {channel.name: channel for channel in config.channels}
    secrets = config_secrets(config, environ)
    outcome: dict[str, bool] = {}
    for name in dict.fromkeys(channel_names):
        channel = channels.get(name)
        if channel is None or not channel.enabled:
            log.warning("channel %s is not configured or disabled; %s '%s' not sent there", name, kind, key)
            outcome[name] = False
            continue
        delivery_key = f"{key}:{name}"
        if store is not None and not resend and store.get_state(SENT_STATE_PREFIX + delivery_key):
            log.info("%s already delivered to %s; not sent again", delivery_key, name)
            outcome[name] = True
            continue
        prepared = _standalone(message, delivery_key, secrets)
        _outbox_file(config, {"idempotency_key": delivery_key, "channel": name, "event": kind,
                              "title": prepared.title, "format": prepared.format, "body": prepared.body,
                              "attachments": prepared.attachments, "queued_at": utc_now().isoformat()})
        error = _attempts(channel, prepared, delivery_key, notify_type, environ)
        outcome[name] = error is None
        if error is None:
            if store is not None:
                store.set_state(SENT_STATE_PREFIX + delivery_key, utc_now().isoformat())
            log.info("%s sent to %s", kind, name)
        else:
            log.error("channel %s: %s '%s' not delivered: %s", name, kind, delivery_key, error)
    return outcome


def _standalone(message: Message, key: str, secrets: list[str]) -> Message:
    """The message as sent: secrets masked, and for people the reference they can quote."""
    body = mask(message.body, secrets)
    body_format = registry.get("formats", message.format).body_format
    if body_format == "text":
        body += f"\n\nref {key}"
    elif body_format == "markdown":
        body += f"\n\n_ref {key}_"
    return Message(title=mask(message.title, secrets), body=body, format=message.format,
                   attachments=list(message.attachments))


def _attempts(channel: ChannelConfig, message: Message, key: str, notify_type: str,
              environ: dict[str, str] | None) -> str | None:
    error = None
    tries = min(channel.max_attempts, STANDALONE_ATTEMPTS)
    for attempt in range(1, tries + 1):
        error = transmit(channel, message, key, notify_type, environ)
        if error is None:
            return None
        if attempt < tries:
            time.sleep(STANDALONE_BACKOFF_S * 2 ** (attempt - 1))
    return error


# ---- incident notifications --------------------------------------------------------------
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
    message = render(config, incident, event, channel.format, key, target=channel.url)
    write_outbox(config, record, incident, message)
    error = transmit(channel, message, key, _notify_type(incident, event.kind), environ)
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
