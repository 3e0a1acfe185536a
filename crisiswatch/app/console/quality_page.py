"""``/quality``: alert quality per rule and watchlist (``crisiswatch.app.quality``, the function
``crisiswatch alerts quality`` prints), for anyone logged in."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from crisiswatch.app import quality
from crisiswatch.app.console import security
from crisiswatch.app.users import Users
from crisiswatch.core.config import Config, parse_duration
from crisiswatch.core.model import Level, utc_now
from crisiswatch.core.store.base import Store

HERE = Path(__file__).parent
WINDOWS = ("7d", "30d", "90d", "365d")


def install(app: FastAPI, config: Config, store: Store) -> None:  # noqa: ARG001
    users = Users(store)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["duration"] = quality.duration
    templates.env.filters["share"] = quality.share

    @app.get("/quality", response_class=HTMLResponse)
    def quality_page(request: Request, since: str = "30d") -> Response:
        name = request.session.get("user")
        user = users.get(name) if name else None
        if user is None:
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        window = since if since in WINDOWS else "30d"
        now = utc_now()
        start = now - parse_duration(window)
        rows = quality.quality_from_store(store, start, now)
        return templates.TemplateResponse(request, "quality.html", {
            "user": user, "csrf": security.csrf_token(request.session), "levels": [lv.value for lv in Level],
            "rows": rows, "since": window, "windows": WINDOWS, "start": start, "now": now})
