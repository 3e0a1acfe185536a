"""The one notification sender: incidents, briefings and operations alerts, through Apprise.

Every message, whatever it is about, leaves through ``transmit``: secrets resolved only at
that moment and masked in every error, the idempotency key with the message (a header for
JSON webhooks and e-mail, the footer for people), the channel's timeout, and a copy in
``alerting.outbox_dir`` whether or not the channel answered. Two ways in:

- ``deliver`` (``deliver_pending`` for the count) for incident notifications. Each
  ``NotificationRecord`` (queued by ``alerts.routing``) is first *claimed*: a lease with an
  expiry, written by compare-and-set into the incident, so of several processes delivering
  at once exactly one sends it; a process that dies leaves a lease that runs out. A record
  marked ``sent`` is never sent again. A failed one is retried with capped exponential
  backoff (``alerting.retry_backoff`` doubling up to ``retry_backoff_max``) until
  ``alerting.delivery_max_age`` after it was queued, so a channel that comes back within a
  day still gets the alert. After the channel's ``max_attempts`` failures the operations
  channels are told that the channel is failing (and again when it works), and a copy goes
  to the route's next ``fallback`` channel. A missing secret is not an attempt: the record
  waits, and ``config check`` names the variable. The outcome is saved by compare-and-set
  too (re-applied to a fresh copy), so a delivery never erases an acknowledgement written
  meanwhile. The idempotency key travels with the message (a header for JSON webhooks, the
  footer for people) so a receiver can drop the one duplicate a crash between "sent" and
  "saved" could cause.
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
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from crisiswatch.core import registry
from crisiswatch.core.config import SECRET_PATTERN, ChannelConfig, Config, MissingSecret, parse_duration, resolve_secrets
from crisiswatch.core.model import Incident, NotificationRecord, as_utc, utc_now
from crisiswatch.core.store.base import Store

from alerts import routing
from alerts.incidents import IncidentBook
from alerts.render import Message, render
from alerts.routing import add_event

log = logging.getLogger(__name__)
LOOKBACK = timedelta(days=7)
"""Incidents updated within this period are searched for deliveries still due."""
DEFAULT_TIMEOUT = timedelta(seconds=30)
"""A channel's timeout when it sets none: long enough for a slow receiver that does get the
message (Apprise's own few seconds made us mark those failed and send them again)."""
LEASE_MARGIN = timedelta(seconds=5)
FAILING_STATE_PREFIX = "notify:failing:"
"""Store state ``<prefix><channel>``: that channel is failing (operations were told)."""
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
    seconds = f"{channel_timeout(channel).total_seconds():g}"
    return _with_query(_with_query(url, f"cto={seconds}"), f"rto={seconds}")


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
@dataclass
class DeliveryReport:
    """What one delivery run did, and what is still undelivered after it."""

    delivered: int = 0
    failed: int = 0
    """Attempts that failed in this run (each will be retried)."""
    undelivered: list[str] = field(default_factory=list)
    """``key: why`` of every notification not delivered yet (waiting for a retry, being sent by
    another process, blocked by a missing secret, given up after ``delivery_max_age``)."""

    def summary(self) -> str:
        return (f"{self.delivered} notifications delivered, {self.failed} attempts failed, "
                f"{len(self.undelivered)} undelivered")


def channel_timeout(channel: ChannelConfig) -> timedelta:
    return parse_duration(channel.timeout) if channel.timeout else DEFAULT_TIMEOUT


def lease_length(channel: ChannelConfig) -> timedelta:
    """How long a claim keeps other processes off a delivery: longer than one send can take
    (connect and answer, each up to the timeout), so a slow send is never sent twice."""
    return 2 * channel_timeout(channel) + LEASE_MARGIN


def _backoff(config: Config, attempts: int) -> timedelta:
    first = parse_duration(config.alerting.retry_backoff)
    return min(first * (2 ** max(attempts - 1, 0)), parse_duration(config.alerting.retry_backoff_max))


def _unusable(channel: ChannelConfig | None, name: str, environ: dict[str, str] | None) -> str | None:
    """Why a channel cannot be tried at all (no attempt is spent on it), or None."""
    if channel is None or not channel.enabled:
        return f"channel '{name}' is not configured or disabled"
    try:
        resolve_secrets(channel.url, environ)
    except MissingSecret as exc:
        return f"{exc} (see `crisiswatch config check`); not counted as an attempt"
    return None


def _record(incident: Incident, key: str) -> NotificationRecord | None:
    return next((r for r in incident.notifications if r.idempotency_key == key), None)


class _Run:
    """One delivery run: its claim token, clocks and report."""

    def __init__(self, store: Store, config: Config, now: datetime, environ: dict[str, str] | None):
        self.store, self.config, self.now, self.environ = store, config, now, environ
        self.book = IncidentBook(store)
        self.channels = {c.name: c for c in config.channels}
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.max_age = parse_duration(config.alerting.delivery_max_age)
        self.report = DeliveryReport()
        self.recovery_checked: set[str] = set()

    # -- one notification: claim, send, record ------------------------------------------
    def deliver(self, incident_id: str, key: str) -> list[str]:
        """Deliver one notification if due; returns the keys of fallback copies it queued."""
        outcome: dict[str, Any] = {}

        def claim(incident: Incident) -> bool | None:
            wall = utc_now()  # leases are about processes, so they run on the wall clock
            record = _record(incident, key)
            outcome.clear()
            if record is None or record.status in ("sent", "cancelled"):
                return None
            if record.status == "expired":
                outcome["undelivered"] = f"given up: {record.last_error}"
                return None
            if record.lease_until and as_utc(record.lease_until) > wall and record.claimed_by != self.token:
                outcome["undelivered"] = f"being sent by {record.claimed_by}"
                return None
            if self.now - as_utc(record.created_at) > self.max_age:
                record.status, record.claimed_by, record.lease_until = "expired", None, None
                add_event(incident, "notify_expired", f"{record.event_kind} to {record.channel} not delivered in "
                          f"{self.config.alerting.delivery_max_age} ({record.attempts} attempts): given up",
                          self.now, channel=record.channel, key=key, attempts=record.attempts)
                outcome.update(undelivered=f"given up after {self.config.alerting.delivery_max_age}", expired=record)
                return True
            problem = _unusable(self.channels.get(record.channel), record.channel, self.environ)
            if problem:
                outcome["undelivered"] = problem
                if record.last_error == problem:
                    return None
                record.last_error = problem
                return True
            if record.status == "failed" and record.next_attempt_at and as_utc(record.next_attempt_at) > self.now:
                outcome["undelivered"] = f"next attempt at {as_utc(record.next_attempt_at):%Y-%m-%d %H:%M:%S}"
                return None
            channel = self.channels[record.channel]
            record.claimed_by, record.lease_until = self.token, wall + lease_length(channel)
            outcome["claimed"] = True
            return True

        incident, _ = self.book.update(incident_id, claim)
        if outcome.get("expired") is not None:
            self._tell_expired(incident, outcome["expired"])
        if not outcome.get("claimed"):
            if "undelivered" in outcome:
                self.report.undelivered.append(f"{key}: {outcome['undelivered']}")
            return []
        record = _record(incident, key)
        channel = self.channels[record.channel]
        event = incident.events[int(key.split(":")[1])]
        message = render(self.config, incident, event, channel.format, key, target=channel.url)
        write_outbox(self.config, record, incident, message)
        error = transmit(channel, message, key, _notify_type(incident, event.kind), self.environ)
        return self._record_outcome(incident_id, key, channel, error)

    def _record_outcome(self, incident_id: str, key: str, channel: ChannelConfig, error: str | None) -> list[str]:
        news: dict[str, Any] = {}

        def finish(incident: Incident) -> bool | None:
            news.clear()
            record = _record(incident, key)
            if record is None or record.status == "sent":
                return None  # our claim ran out and another process sent it (same key: receivers drop one)
            if record.claimed_by == self.token:
                record.claimed_by, record.lease_until = None, None
            record.attempts += 1
            event = incident.events[int(key.split(":")[1])]
            if error is None:
                record.status, record.sent_at, record.last_error, record.next_attempt_at = "sent", self.now, None, None
                add_event(incident, "notified", f"{event.kind} sent to {channel.name}", self.now, channel=channel.name,
                          key=key, attempt=record.attempts)
                return True
            record.status, record.last_error = "failed", error
            record.next_attempt_at = self.now + _backoff(self.config, record.attempts)
            deadline = as_utc(record.created_at) + self.max_age
            add_event(incident, "notify_failed",
                      f"{event.kind} to {channel.name} failed (attempt {record.attempts}; retrying until "
                      f"{deadline:%Y-%m-%d %H:%M} UTC): {error}", self.now, channel=channel.name, key=key,
                      attempt=record.attempts, final=False)
            if record.attempts == channel.max_attempts:  # once: the compare-and-set makes one writer reach it
                news["failing"] = True
                news["fallback"] = self._fail_over(incident, record, event)
            return True

        self.book.update(incident_id, finish)
        if error is None:
            self.report.delivered += 1
            self._maybe_recovered(channel)
            log.info("incident %s: %s sent to %s", incident_id, key, channel.name)
            return []
        self.report.failed += 1
        self.report.undelivered.append(f"{key}: {error}")
        log.warning("incident %s: delivery of %s to %s failed: %s", incident_id, key, channel.name, error)
        if news.get("failing"):
            self._tell_failing(channel, key, error, news.get("fallback"))
        return [news["fallback"]] if news.get("fallback") else []

    def _fail_over(self, incident: Incident, record: NotificationRecord, event: Any) -> str | None:
        """Queue a copy on the next fallback channel of the record's route (if any is left)."""
        index = int(record.idempotency_key.split(":")[1])
        existing = {r.channel for r in incident.notifications if r.idempotency_key.split(":")[1] == str(index)}
        for name in routing.fallbacks_for(self.config, incident, event, record.channel):
            if name in existing:
                continue
            key = f"{incident.id}:{index}:{name}"
            incident.notifications.append(NotificationRecord(idempotency_key=key, channel=name, event_kind=event.kind,
                                                             created_at=self.now, failover_from=record.channel))
            add_event(incident, "failover", f"{event.kind}: {record.channel} failed {record.attempts} times; also sent "
                      f"to fallback channel {name}", self.now, channel=name, failed_channel=record.channel, key=key)
            return key
        return None

    # -- telling the people who keep crisiswatch running -------------------------------
    def _operations(self, failing: str) -> list[str]:
        return [name for name in self.config.airflow.operations_channels if name != failing]

    def _tell_failing(self, channel: ChannelConfig, key: str, error: str, fallback: str | None) -> None:
        """Once per outage of a channel (state ``notify:failing:<channel>``), tell operations."""
        state = FAILING_STATE_PREFIX + channel.name
        if self.store.get_state(state):
            return
        self.store.set_state(state, json.dumps({"since": self.now.isoformat(), "key": key}))
        since = f"{self.now:%Y%m%dT%H%M%S}"
        body = (f"Channel '{channel.name}' failed {channel.max_attempts} attempts in a row for {key}.\n"
                f"Last error: {error}\n"
                + (f"Sent to fallback channel '{fallback.split(':')[-1]}' meanwhile.\n" if fallback else
                   "No fallback channel is configured for its route.\n")
                + f"Deliveries to it are retried until {self.config.alerting.delivery_max_age} after they were "
                  "queued; `crisiswatch alerts deliver` exits non-zero while any is undelivered.")
        self._send_operations(channel.name, f"crisiswatch: alert channel '{channel.name}' is failing", body,
                              f"operations:channel-failing:{channel.name}:{since}", "warning")

    def _maybe_recovered(self, channel: ChannelConfig) -> None:
        if channel.name in self.recovery_checked:
            return
        self.recovery_checked.add(channel.name)
        state = FAILING_STATE_PREFIX + channel.name
        raw = self.store.get_state(state)
        if not raw:
            return
        self.store.set_state(state, None)
        since = datetime.fromisoformat(json.loads(raw)["since"])
        self._send_operations(channel.name, f"crisiswatch: alert channel '{channel.name}' works again",
                              f"Channel '{channel.name}' delivered again at {self.now:%Y-%m-%d %H:%M} UTC "
                              f"(failing since {since:%Y-%m-%d %H:%M} UTC).",
                              f"operations:channel-recovered:{channel.name}:{since:%Y%m%dT%H%M%S}", "success")

    def _tell_expired(self, incident: Incident | None, record: NotificationRecord) -> None:
        what = f"incident {incident.id} ({incident.title})" if incident else record.idempotency_key
        self._send_operations(record.channel, f"crisiswatch: a notification was given up ({record.channel})",
                              f"{record.event_kind} of {what} could not be delivered to '{record.channel}' within "
                              f"{self.config.alerting.delivery_max_age} ({record.attempts} attempts). "
                              f"Last error: {record.last_error}",
                              f"operations:notification-expired:{record.idempotency_key}", "failure")

    def _send_operations(self, failing: str, title: str, body: str, key: str, notify_type: str) -> None:
        names = self._operations(failing)
        if not names:
            log.error("%s (no other airflow.operations_channels to tell)", title)
            return
        send_message(self.config, names, Message(title=title, body=body, format="text"), key, kind="operations",
                     store=self.store, notify_type=notify_type, environ=self.environ)


def deliver(store: Store, config: Config, now: datetime | None = None, incident_ids: list[str] | None = None,
            environ: dict[str, str] | None = None) -> DeliveryReport:
    """Send every queued notification that is due, each claimed first so one process sends it;
    report what was delivered and what is still undelivered."""
    run = _Run(store, config, as_utc(now) if now else utc_now(), environ)
    if incident_ids is not None:
        incidents = [i for i in (store.get_incident(x) for x in incident_ids) if i is not None]
    else:
        lookback = max(LOOKBACK, run.max_age + timedelta(days=1))
        incidents = store.list_incidents(since=run.now - lookback, limit=100_000)
    for snapshot in incidents:
        work = [r.idempotency_key for r in snapshot.notifications if r.status not in ("sent", "cancelled")]
        while work:
            work.extend(run.deliver(snapshot.id, work.pop(0)))
    return run.report


def deliver_pending(store: Store, config: Config, now: datetime | None = None,
                    incident_ids: list[str] | None = None, environ: dict[str, str] | None = None) -> int:
    """``deliver`` for callers that only need the count delivered."""
    return deliver(store, config, now, incident_ids, environ).delivered
