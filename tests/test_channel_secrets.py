"""Issue 12, item 6: a literal secret in a channel URL is a config error at its line, naming
the placeholder to write instead and never repeating the secret."""

from __future__ import annotations

import pytest

from crisiswatch.core.config import ConfigError, parse_config

ROUTES = "routes: [{name: r, channels: [ops]}]\n"


def _check(url: str) -> list[str]:
    text = f"channels:\n  - name: ops\n    url: \"{url}\"\n" + ROUTES
    try:
        parse_config(text, "cw.yaml")
    except ConfigError as exc:
        return exc.problems
    return []


@pytest.mark.parametrize(("url", "secret", "placeholder"), [
    ("slack://T0AAAA1/B0BBBB2/Zsecret1234567890/#crisis", "Zsecret1234567890", "CRISISWATCH_OPS_TOKEN_C"),
    ("slack://xoxb-1234-5678-secret/#crisis", "xoxb-1234-5678-secret", "CRISISWATCH_OPS_TOKEN_A"),
    ("https://hooks.slack.com/services/T0AAAA1/B0BBBB2/Zsecret1234567890", "Zsecret1234567890", "CRISISWATCH_OPS_TOKEN"),
    ("tgram://123456789:AAEsecretsecret/12345", "AAEsecretsecret", "CRISISWATCH_OPS_BOT_TOKEN"),
    ("mailtos://alerts:hunter2pw@smtp.example.com?to=pr@example.com", "hunter2pw", "CRISISWATCH_OPS_PASSWORD"),
    ("discord://112233/webhooksecret99", "webhooksecret99", "CRISISWATCH_OPS_WEBHOOK_TOKEN"),
    ("msteams://team/aaaa@bbbb/cccsecret/ddd", "cccsecret", "CRISISWATCH_OPS_TOKEN_2"),
    ("wecombot://wecomkey123", "wecomkey123", "CRISISWATCH_OPS_KEY"),
    ("dingtalk://dingsecret@dingtoken", "dingtoken", "CRISISWATCH_OPS_TOKEN"),
    ("jsons://hooks.example.com/x?+Authorization=Bearer%20tok3n", "tok3n", "CRISISWATCH_OPS_AUTHORIZATION"),
    ("json://hooks.example.com/x?+X-Api-Key=k3y99", "k3y99", "CRISISWATCH_OPS_X_API_KEY"),
    ("form://bot:pa55word@hooks.example.com/x", "pa55word", "CRISISWATCH_OPS_PASSWORD"),
    ("ntfys://ntfy.example/alerts?token=tk_abc123", "tk_abc123", "CRISISWATCH_OPS_TOKEN"),
])
def test_a_literal_secret_is_refused_at_its_line_with_the_placeholder_to_use(url, secret, placeholder):
    problems = _check(url)
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.startswith("cw.yaml:3: channels[0].url: literal secret")
    assert "${" + placeholder + "}" in problem and f"set {placeholder}" in problem.replace(", ", " set ")
    assert secret not in problem  # the error is logged and shown: it must not repeat the secret


@pytest.mark.parametrize("url", [
    "slack://${CRISISWATCH_SLACK_TOKEN_A}/${CRISISWATCH_SLACK_TOKEN_B}/${CRISISWATCH_SLACK_TOKEN_C}/#crisis",
    "tgram://${CRISISWATCH_TELEGRAM_BOT_TOKEN}/12345",
    "mailtos://alerts:${CRISISWATCH_SMTP_PASSWORD}@smtp.example.com?to=pr-team@example.com",
    "discord://112233/${CRISISWATCH_DISCORD_TOKEN}",
    "jsons://hooks.example.com/crisiswatch?+Authorization=Bearer%20${CRISISWATCH_HOOK_TOKEN}",
    "json://127.0.0.1:8080/hook",
    "mailto://127.0.0.1:2525?from=alerts@example.com&to=crisis-team@example.com&mode=insecure",
    "wecombot://${CRISISWATCH_WECOM_KEY}",
    "json://hooks.example.org/${CRISISWATCH_HOOK_TOKEN}",
])
def test_placeholders_and_secret_free_urls_pass(url):
    assert _check(url) == []
