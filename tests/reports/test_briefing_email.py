"""The briefing goes out by e-mail: a real SMTP server on 127.0.0.1 receives it as HTML with the file attached."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

from report_data import ONSET

from crisiswatch.app import steps as pipeline
from crisiswatch.core.config import Config


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_briefing_is_mailed_as_html_with_the_report_attached(filled, tmp_path):
    import email

    from aiosmtpd.controller import Controller

    store, cfg, _ = filled
    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
            received.append(email.message_from_bytes(envelope.content))
            return "250 OK"

    port = _free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = Config.model_validate({
            **cfg.model_dump(mode="json", exclude_defaults=True),
            "channels": [{"name": "pr-mail", "format": "html",
                          "url": f"mailto://127.0.0.1:{port}?from=cw@example.com&to=pr@example.com&mode=insecure"},
                         {"name": "down", "url": f"mailto://127.0.0.1:{_free_port()}?to=x@example.com&mode=insecure"}],
            "airflow": {"briefing_channels": ["pr-mail", "down"]}})
        start, end = ONSET, ONSET + timedelta(hours=24)
        reports = pipeline.write_reports(store, config, start, end, tmp_path / "reports")
        outcome = pipeline.send_briefing(config, reports.briefing, start, end, store=store)
        deadline = time.time() + 10
        while not received and time.time() < deadline:
            time.sleep(0.05)
    finally:
        controller.stop()
    assert outcome == {"pr-mail": True, "down": False}  # a dead channel does not stop the others
    assert len(received) == 1
    message = received[0]
    assert "crisiswatch briefing 2026-03-03 06:00" in message["Subject"]
    parts = {part.get_content_type(): part for part in message.walk()}
    html = parts["text/html"].get_payload(decode=True).decode("utf-8")
    assert 'id="kpi-posts"' in html and "&lt;script&gt;" in html
    filenames = [part.get_filename() for part in message.walk() if part.get_filename()]
    assert filenames == [reports.briefing.name]
    assert {p.name for p in reports.incidents} == {"incident-inc00001.html", "incident-inc00002.html"}
