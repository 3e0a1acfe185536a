"""Issue 12, item 5: a post cannot ping a channel or hide a link in our messages, and each
service gets the escaping its own markup reads (no stray backslashes in Slack)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from crisiswatch.core.model import Author, Engagement, Enrichment, Incident, IncidentEvent, Level, Post

from alerts.engine import evaluate_cycle
from alerts.render import render
from tests.alerts.helpers import ONSET, WebhookReceiver, world_config

AT = ONSET + timedelta(minutes=30)
HOSTILE = ("@everyone @here @all <!channel> <!here> <@U123ABC> read [the official statement](https://evil.example/x) "
           "or <https://evil.example/y|acme.com>")
LIVE_MENTION = re.compile(r"(?<![\w\u200b])@(everyone|here|all|U123ABC)\b|<!(channel|here)|<@U123ABC")
USER_LINK = re.compile(r"\]\(https://evil|<https://evil[^>]*\|")


def _incident(text: str = HOSTILE, author: str = "@everyone mallory", rule: str = "crisis-terms") -> Incident:
    post = {"id": "weibo:1", "source": "weibo", "url": "https://weibo.example/p/1", "author": author,
            "followers": 10, "engagement": 3, "created_at": ONSET.isoformat(), "title": "[win](https://evil.example/t)",
            "text": text}
    return Incident(id="abc", fingerprint=f"{rule}|acme|", rule=rule, watchlist="acme", title="burst @here",
                    level=Level.red, peak_level=Level.red, opened_at=ONSET, updated_at=ONSET,
                    evidence={"top_posts": [post], "first_posts": [post], "top_terms": [["@channel", 3]],
                              "observed": 10, "baseline": 2.0, "spread": 1.0, "score": 9, "unit": "posts",
                              "detector": "keyword_burst"})


@pytest.mark.parametrize("fmt", ["markdown", "text", "html"])
@pytest.mark.parametrize("target", ["json://127.0.0.1/x", "slack://a/b/c", "tgram://t/1", "discord://1/t", ""])
def test_user_text_cannot_mention_or_hide_a_link(tmp_path, fmt, target):
    config = world_config(str(tmp_path))
    message = render(config, _incident(), IncidentEvent(at=ONSET, kind="fired", message="burst <!channel>"), fmt,
                     "k", target=target)
    for part in (message.title, message.body):
        assert not LIVE_MENTION.search(part), part
        assert not USER_LINK.search(part), part
    body = message.body
    # the reader still sees the words and where the link goes, as text
    assert "the official statement (https://evil.example/x)" in body.replace("\\", "")
    assert "acme.com (https://evil.example/y)" in body.replace("\\", "")
    # our own evidence link stays a link
    if fmt == "markdown":
        assert "[open](https://weibo.example/p/1)" in body
    elif fmt == "html":
        assert '<a href="https://weibo.example/p/1">open</a>' in body
    else:
        assert "<https://weibo.example/p/1>" in body


def test_each_markdown_flavour_escapes_what_its_service_reads(tmp_path):
    config = world_config(str(tmp_path))
    incident = _incident(text="a_b *c* 5 < 6 & [x] | ~y~ #z back\\slash")
    event = IncidentEvent(at=ONSET, kind="fired", message="keyword_burst fired")
    slack = render(config, incident, event, "markdown", "k", target="slack://a/b/c").body
    assert "keyword_burst fired" in slack and "a_b *c*" in slack  # mrkdwn has no backslash escapes
    assert "\\_" not in slack and "\\*" not in slack and "\\\\" not in slack
    assert "5 \\< 6" in slack and "\\[x\\]" in slack  # Apprise turns these into &lt; and plain brackets
    telegram = render(config, incident, event, "markdown", "k", target="tgram://t/1").body
    assert "keyword\\_burst" in telegram and "a\\_b \\*c\\*" in telegram
    assert "\\|" not in telegram and "\\~" not in telegram and "\\#" not in telegram  # v1 would show these
    commonmark = render(config, incident, event, "markdown", "k", target="json://h/x").body
    assert "a\\_b \\*c\\*" in commonmark and "\\~y\\~" in commonmark and "\\|" in commonmark


def _add_hostile_post(world) -> None:  # noqa: ANN001
    post = Post(id="weibo:hostile-1", source="weibo", text="acme recall " + HOSTILE,
                created_at=ONSET + timedelta(minutes=5), collected_at=ONSET + timedelta(minutes=6),
                url="https://weibo.example/p/hostile-1", title="@here [acme refunds](https://evil.example/r)",
                author=Author(handle="@everyone", name="<!channel> mallory", followers=900_000),
                engagement=Engagement(likes=90_000, shares=30_000, replies=8_000), watchlists=["acme"])
    assert not world.upsert_posts([post]).failed
    assert not world.update_enrichments([Enrichment(post_id=post.id, sentiment="negative", topic_id=7,
                                                    topic_keywords=["recall"])]).failed


def test_a_hostile_post_reaches_a_real_receiver_inert_in_markdown_and_text(world, tmp_path, webhook):
    _add_hostile_post(world)
    config = world_config(str(tmp_path), f"""channels:
  - {{name: md, url: "{webhook.url('/md')}", format: markdown}}
  - {{name: txt, url: "{webhook.url('/txt')}", format: text}}""", """routes:
  - {name: all, channels: [md, txt]}""")
    report = evaluate_cycle(world, config, AT)
    assert report.errors == [] and report.delivered >= 2
    bodies = {item.path: item.body for item in webhook.received}
    assert set(bodies) == {"/md", "/txt"}
    for path, body in bodies.items():
        text = body["title"] + "\n" + body["message"]
        assert "refunds" in text or "official statement" in text, f"{path}: the hostile post is not in the message"
        assert not LIVE_MENTION.search(text), f"{path}: {text}"
        assert not USER_LINK.search(text), f"{path}: {text}"
    assert "[open](https://weibo.example/p/hostile-1)" in bodies["/md"]["message"]  # our evidence link stays
    assert "<https://weibo.example/p/hostile-1>" in bodies["/txt"]["message"]


def test_slack_and_telegram_receive_their_own_markup_through_apprise(world, tmp_path, monkeypatch):
    """The real Apprise Slack and Telegram plugins, pointed at a loopback receiver: what the
    service would get has no stray backslash, no live mention and no disguised link."""
    from apprise.plugins.slack import NotifySlack
    from apprise.plugins.telegram import NotifyTelegram

    receiver = WebhookReceiver()
    try:
        monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{receiver.port}/services")
        monkeypatch.setattr(NotifyTelegram, "notify_url", f"http://127.0.0.1:{receiver.port}/bot")
        monkeypatch.setenv("CRISISWATCH_T_SLACK_A", "T0000000")
        monkeypatch.setenv("CRISISWATCH_T_SLACK_B", "B0000000")
        monkeypatch.setenv("CRISISWATCH_T_SLACK_C", "XXXXXXXXXXXXXXXXXXXXXXXX")
        monkeypatch.setenv("CRISISWATCH_T_TG", "123456789:AAEabcdefghijklmnopqrstuvwxyz12345678")
        _add_hostile_post(world)
        config = world_config(str(tmp_path), """channels:
  - {name: slack, url: "slack://${CRISISWATCH_T_SLACK_A}/${CRISISWATCH_T_SLACK_B}/${CRISISWATCH_T_SLACK_C}", format: markdown}
  - {name: tg, url: "tgram://${CRISISWATCH_T_TG}/12345", format: markdown}""", """routes:
  - {name: all, channels: [slack, tg]}""")
        evaluate_cycle(world, config, AT)
        receiver.wait_for(2)
    finally:
        receiver.stop()
    slack = next(r.body for r in receiver.received if r.path.startswith("/services/"))
    slack_text = slack["attachments"][0]["text"]
    telegram = next(r.body["text"] for r in receiver.received if r.path.endswith("/sendMessage"))
    for text in (slack_text, telegram):
        assert "refunds" in text or "official statement" in text
        assert not re.search(r"(?<![\w\u200b])@(everyone|here|all)\b|<!(channel|here)|<@U123ABC", text), text
        assert "](https://evil" not in text and "<https://evil" not in text
    # mrkdwn shows any backslash literally: detector names like negative_share come through bare
    assert "\\" not in slack_text and re.search(r"\(\w+_\w+\)", slack_text), slack_text
    assert "&lt;\u200b!channel&gt;" in slack_text
    assert "<https://weibo.example/p/hostile-1|open>" in slack_text  # our link, in Slack's own syntax
    assert "[open](https://weibo.example/p/hostile-1)" in telegram
