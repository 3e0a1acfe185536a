"""Where an Apprise URL carries its secrets, per schema, so a literal one is a config error.

The design keeps secrets out of the config file: they are ``${CRISISWATCH_...}`` placeholders,
filled in only at the moment of sending. An Apprise URL hides its secrets in different places
for each service - a password (``mailtos://user:pass@``), the host (``tgram://<bot token>``,
``wecombot://<key>``), path segments (``slack://T../B../<token>``, ``discord://<id>/<token>``),
query keys (``?token=``, ``?apikey=``) or a header (``json://...?+Authorization=Bearer%20...``) -
so the check knows each place instead of guessing from how a value looks. Apprise's own plugin
metadata marks too few fields private (WeCom's key, DingTalk's and Feishu's tokens are not), so
the table is ours. The error never repeats the secret: it shows the URL to write instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

PLACEHOLDER = re.compile(r"\$\{(CRISISWATCH_[A-Z0-9_]+)\}")

SENSITIVE_QUERY_KEYS = frozenset({
    "pass", "password", "passwd", "pwd", "token", "access_token", "accesstoken", "apikey", "api_key", "key",
    "secret", "client_secret", "auth", "authorization", "bearer", "sig", "signature", "webhook_token",
    "bot_token", "bottoken", "apptoken", "app_token", "usertoken", "user_token", "routing_key", "integration_key",
})
"""Query keys whose value is a credential in the Apprise services we know (``?token=``, ...)."""
SENSITIVE_HEADER = re.compile(r"auth|token|key|secret|passw|cookie|signature|session|credential", re.IGNORECASE)
"""A ``+Header=value`` (json://, form://, xml://, mailto://) whose name says it carries a credential."""
_ALLOWED_REMAINDER = re.compile(r"[\s:._\-/]*(?:(?:bearer|basic|token|bot|apikey|key)[\s:]*)?", re.IGNORECASE)
"""What may stand next to a placeholder in a secret place: ``Bearer ${X}``, ``bot${X}``."""

_SKIP_TARGET = ("#", "@", "+", "%23", "%40")
"""Path segments that name a channel or user (``/#crisis``, ``/@mei``), not a token."""

SCHEMA_SECRETS: dict[str, tuple[str, ...]] = {
    "slack": ("host:TOKEN_A", "path0:TOKEN_B", "path1:TOKEN_C"),
    "tgram": ("host:BOT_TOKEN",),
    "discord": ("path0:WEBHOOK_TOKEN",),
    "msteams": ("user:TOKEN_A", "path*:TOKEN"),
    "workflow": ("path1:SIGNATURE",),
    "workflows": ("path1:SIGNATURE",),
    "dingtalk": ("host:TOKEN", "user:SECRET"),
    "feishu": ("host:TOKEN",),
    "lark": ("host:TOKEN",),
    "wecombot": ("host:KEY",),
    "pbul": ("host:ACCESS_TOKEN",),
    "pover": ("user:USER_KEY", "host:TOKEN"),
    "gotify": ("path-1:TOKEN",),
    "gotifys": ("path-1:TOKEN",),
    "opsgenie": ("host:API_KEY",),
    "pagerduty": ("user:INTEGRATION_KEY", "host:API_KEY"),
}
"""Apprise schema -> the parts of its URL that are tokens: ``host``, ``user``, ``pathN`` (the
N-th segment, ``path-1`` the last, ``path*`` every one), each with the variable-name suffix
suggested for it. A password (``user:password@``) is secret in every schema."""

WEBHOOK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com", "discord.com", "discordapp.com", "api.telegram.org",
                 "webhook.office.com", "outlook.office.com", "open.feishu.cn", "open.larksuite.com",
                 "oapi.dingtalk.com", "qyapi.weixin.qq.com")
"""https:// URLs Apprise maps to a service, whose path is made of tokens."""
_WEBHOOK_WORDS = frozenset({"services", "api", "webhooks", "workflows", "triggers", "open-apis", "bot", "hook",
                            "v2", "webhookb2", "incomingwebhook", "robot", "send", "cgi-bin", "webhook",
                            "sendmessage"})


@dataclass
class LiteralSecret:
    """One literal secret found in a URL: where it sits and the variable that should hold it."""

    where: str
    variable: str


def _is_placeholder_value(value: str) -> bool:
    """Empty, or placeholders with at most a scheme word (``Bearer``) and separators beside them."""
    if not value:
        return True
    if not PLACEHOLDER.search(value):
        return False
    rest = unquote(PLACEHOLDER.sub("", value))
    return _ALLOWED_REMAINDER.fullmatch(rest) is not None


def _human(suffix: str) -> str:
    """``TOKEN_A`` -> ``token A``: how the error names the place."""
    words = suffix.lower().split("_")
    return " ".join(w.upper() if len(w) == 1 else w for w in words)


def _var_name(channel: str, suffix: str) -> str:
    stem = re.sub(r"[^A-Z0-9]+", "_", (channel or "CHANNEL").upper()).strip("_") or "CHANNEL"
    return f"CRISISWATCH_{stem}_{re.sub(r'[^A-Z0-9]+', '_', suffix.upper()).strip('_')}"


def check_channel_url(url: str, channel: str = "") -> tuple[list[LiteralSecret], str]:
    """The literal secrets in ``url`` and the URL to write instead (each replaced by a placeholder).

    Returns ``([], url)`` for a URL that keeps every secret in the environment.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return [], url
    scheme = scheme.lower()
    rest, hash_, fragment = rest.partition("#") if scheme in ("http", "https") else (rest, "", "")
    main, qmark, query = rest.partition("?")
    netloc, slash, path = main.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    port_match = re.search(r":\d{1,5}$", hostport) if scheme != "tgram" else None
    host, port = (hostport[: port_match.start()], port_match.group()) if port_match else (hostport, "")
    segments = path.split("/") if slash else []
    params = [item.partition("=") for item in query.split("&")] if qmark else []

    found: list[LiteralSecret] = []
    used: set[str] = set()

    def flag(where: str, suffix: str, value: str) -> str:
        """Record a literal secret; returns the value to write instead."""
        name = _var_name(channel, suffix)
        if name in used:
            n = 2
            while f"{name}_{n}" in used:
                n += 1
            name = f"{name}_{n}"
        used.add(name)
        found.append(LiteralSecret(where, name))
        prefix = re.match(r"(?i)(?:(?:bearer|basic|token)(?:%20|\+|\s+)|bot(?=\d))", value)
        return (prefix.group(0) if prefix else "") + "${" + name + "}"

    if password and not _is_placeholder_value(password):
        password = flag("password", "PASSWORD", password)

    targets = [i for i, s in enumerate(segments) if s and not s.startswith(_SKIP_TARGET)]
    for part in SCHEMA_SECRETS.get(scheme, ()):
        kind, _, suffix = part.partition(":")
        if kind == "host" and not _is_placeholder_value(host):
            host = flag(_human(suffix), suffix, host)
        elif kind == "user" and not _is_placeholder_value(user):
            user = flag(_human(suffix), suffix, user)
        elif kind.startswith("path"):
            spec = kind[4:]
            if spec == "*":
                chosen = targets
            else:
                index = int(spec)
                chosen = [targets[index]] if -len(targets) <= index < len(targets) else []
            for n, i in enumerate(chosen, start=1):
                if not _is_placeholder_value(segments[i]):
                    name = f"{suffix}_{n}" if spec == "*" else suffix
                    segments[i] = flag(_human(name), name, segments[i])
    if scheme in ("http", "https") and any(host.lower() == h or host.lower().endswith("." + h)
                                           for h in WEBHOOK_HOSTS):
        for i, segment in enumerate(segments):
            if segment and segment.lower() not in _WEBHOOK_WORDS and not segment.isdigit() \
                    and not segment.startswith(_SKIP_TARGET) and not _is_placeholder_value(segment):
                segments[i] = flag(f"path segment {i + 1} (webhook token)", "TOKEN", segment)

    for n, (key, eq, value) in enumerate(params):
        name = key.lstrip("+-:").lower()
        secret_place = SENSITIVE_HEADER.search(name) if key.startswith("+") else name in SENSITIVE_QUERY_KEYS
        if secret_place and eq and not _is_placeholder_value(value):
            where = f"header {key[1:]}" if key.startswith("+") else f"query parameter {key}"
            params[n] = (key, eq, flag(where, name, value))

    if not found:
        return [], url
    netloc = (user + (":" + password if colon else "") + "@" if at else "") + host + port
    suggestion = f"{scheme}://{netloc}" + ("/" + "/".join(segments) if slash else "")
    suggestion += ("?" + "&".join(k + e + v for k, e, v in params) if qmark else "") + (hash_ + fragment)
    return found, suggestion


def literal_secret_problem(url: str, channel: str = "") -> str | None:
    """The config error for a URL with literal secrets (naming the placeholders to use), or None."""
    found, suggestion = check_channel_url(url, channel)
    if not found:
        return None
    places = ", ".join(item.where for item in found)
    names = ", ".join(item.variable for item in found)
    return (f"literal secret in the channel URL ({places}); secrets come only from the environment: "
            f"write {suggestion} and set {names}")
