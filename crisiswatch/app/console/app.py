"""The console's pages and actions. Every state change goes through
``crisiswatch.app.incident_service.act``, the function the CLI calls, with the logged-in user
(or a message's recipient) as the actor and ``web`` / ``link`` as the source."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from crisiswatch.app import incident_service as service
from crisiswatch.app.console import api, quality_page, security
from crisiswatch.app.console import explorer, overview
from crisiswatch.app.console.evidence import evidence_chart
from crisiswatch.app.users import ROLES, User, Users
from crisiswatch.core import signing
from crisiswatch.core.config import Config
from crisiswatch.core.model import Incident, IncidentState, Level
from crisiswatch.core.store.base import Store, StoreError

HERE = Path(__file__).parent
STATES = {"active": ["open", "acknowledged"], "open": ["open"], "acknowledged": ["acknowledged"],
          "resolved": ["resolved"], "all": None}


class LoginRequired(Exception):
    pass


class Refused(Exception):
    def __init__(self, status: int, title: str, detail: str):
        self.status, self.title, self.detail = status, title, detail


def safe_url(url: Any) -> str | None:
    """A post's link only when it is http(s): a ``javascript:`` URL from a post is never a link."""
    text = str(url or "")
    return text if urlsplit(text).scheme.lower() in ("http", "https") else None


def numbers(incident: Incident) -> list[str]:
    e = incident.evidence
    if e.get("observed") is None:
        return []
    if e.get("unit") == "share":
        normal = f"{e['baseline']:.0%}" if isinstance(e.get("baseline"), (int, float)) else "n/a"
        return [f"{e['observed']:.0%} negative", f"normal {normal}"]
    normal = f"{e['baseline']:.1f}" if isinstance(e.get("baseline"), (int, float)) else "n/a"
    return [f"{e['observed']:g} {e.get('unit', 'posts')}", f"normal {normal}"]


def create_app(config: Config, store: Store) -> FastAPI:
    session_key, link_key = security.keys()
    users = Users(store)
    limiter = security.LoginLimiter(store)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["safe_url"] = safe_url
    https = (config.alerting.console_url or "").startswith("https://")

    app = FastAPI(title="crisiswatch console", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SessionMiddleware, secret_key=session_key.hex(), session_cookie="crisiswatch_session",
                       max_age=12 * 3600, same_site="lax", https_only=https)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.state.store, app.state.users, app.state.limiter = store, users, limiter

    @app.middleware("http")
    async def headers(request: Request, call_next):  # noqa: ANN001, ANN202
        response = await call_next(request)
        for name, value in security.HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        user = _user(request)
        return templates.TemplateResponse(request, name, {
            "user": user, "csrf": security.csrf_token(request.session), "levels": [lv.value for lv in Level],
            **context}, status_code=status)

    trusted = security.TrustedHeader(config.alerting.console_trusted_header, config.alerting.console_trusted_proxies)

    def _user(request: Request) -> User | None:
        if trusted.enabled:
            sso_name = trusted.user(request.client.host if request.client else None, request.headers)
            if sso_name is not None:  # the proxy vouches for this person: no password, no session login
                return users.get(sso_name)
        name = request.session.get("user")
        user = users.get(name) if name else None
        if name and user is None:  # removed since they logged in
            request.session.clear()
        return user

    def require(request: Request, role: str = "viewer") -> User:
        user = _user(request)
        if user is None:
            raise LoginRequired()
        if not user.can(role):
            raise Refused(403, "Not allowed", f"your role ({user.role}) cannot do this; a responder or admin can")
        return user

    def check_csrf(request: Request, token: str | None) -> None:
        if not security.csrf_ok(request.session, token):
            raise Refused(403, "Form expired", "this form was not sent by this console page (or it is too old): "
                          "go back, reload the page and try again")

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:  # noqa: ARG001
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return page(request, "message.html", exc.status, title=exc.title, detail=exc.detail)

    # ---- login ----------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/incidents") -> HTMLResponse:  # noqa: A002
        return page(request, "login.html", next=next if next.startswith("/") and not next.startswith("//") else "/")

    @app.post("/login")
    def login(request: Request, username: str = Form(""), password: str = Form(""), csrf: str = Form(""),
              next: str = Form("/incidents")) -> Response:  # noqa: A002
        check_csrf(request, csrf)
        client = request.client.host if request.client else "?"
        name = username.strip().lower()
        if limiter.blocked(name, client):
            return page(request, "login.html", 429, next=next,
                        error="Too many failed logins: wait 15 minutes or ask an admin to check the account.")
        user = users.authenticate(name, password)
        if user is None:
            limiter.failed(name, client)
            return page(request, "login.html", 401, next=next, error="Wrong user name or password.")
        limiter.succeeded(name)
        request.session.clear()  # a fresh session (and CSRF token) for the logged-in user
        request.session["user"] = user.name
        target = next if next.startswith("/") and not next.startswith("//") else "/incidents"
        return RedirectResponse(target, status_code=303)

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # ---- incidents --------------------------------------------------------------------
    overview.register(app, config, store, page, require)  # "/": the overview (crisiswatch/app/console/overview.py)

    @app.get("/incidents", response_class=HTMLResponse)
    def incidents(request: Request, state: str = "active", level: str = "", watchlist: str = "") -> HTMLResponse:
        require(request)
        states = STATES.get(state, STATES["active"])
        found = store.list_incidents(states=states, limit=200)
        if level:
            found = [i for i in found if i.level.value == level]
        if watchlist:
            found = [i for i in found if i.watchlist == watchlist]
        return page(request, "incidents.html", incidents=found, state=state, level=level, watchlist=watchlist,
                    states=list(STATES), watchlists=[w.name for w in config.watchlists])

    def _incident(incident_id: str) -> Incident:
        try:
            incident = store.get_incident(incident_id)
        except StoreError as exc:
            raise Refused(404, "No such incident", str(exc)) from None
        if incident is None:
            raise Refused(404, "No such incident", f"there is no incident '{incident_id}'")
        return incident

    @app.get("/incidents/{incident_id}", response_class=HTMLResponse)
    def incident_page(request: Request, incident_id: str, done: str = "") -> HTMLResponse:
        require(request)
        incident = _incident(incident_id)
        return page(request, "incident.html", i=incident, e=incident.evidence, numbers=numbers(incident),
                    chart=evidence_chart(store, config, incident),
                    ratings=service.RATINGS, done=done, assignees=[u.name for u in users.list()],
                    ratings_given=[ev for ev in incident.events if ev.kind == "rated"])

    @app.post("/incidents/{incident_id}/silence")
    def incident_silence(request: Request, incident_id: str, csrf: str = Form(""), scope: str = Form("watchlist"),
                         duration: str = Form("2h"), reason: str = Form("")) -> Response:
        check_csrf(request, csrf)
        user = require(request, "responder")
        incident = _incident(incident_id)
        if not reason.strip():
            raise Refused(400, "Why silence it?", "give a reason: the team sees it in the timeline and audit log")
        if scope not in ("watchlist", "rule", "both"):
            raise Refused(400, "Silence what?", "choose this watchlist, this rule or both")
        watchlist = incident.watchlist if scope in ("watchlist", "both") else None
        rule = incident.rule if scope in ("rule", "both") else None
        if watchlist is None and rule is None:
            raise Refused(400, "Silence what?", "this incident has no watchlist: silence its rule instead")
        try:
            item = service.silence(store, config, user.name, "web", watchlist=watchlist, rule=rule,
                                   duration=duration.strip(), reason=reason.strip(), incident_id=incident.id)
        except service.IncidentError as exc:
            raise Refused(409, "Not done", str(exc)) from None
        except ValueError as exc:
            raise Refused(400, "Not done", str(exc).splitlines()[-1]) from None
        message = f"silenced {item.describe()}"
        return RedirectResponse(f"/incidents/{incident.id}?done={quote(message[:200])}", status_code=303)

    @app.post("/incidents/{incident_id}/{action}")
    def incident_action(request: Request, incident_id: str, action: str, csrf: str = Form(""),
                        to: str = Form(""), text: str = Form(""), rating: str = Form("")) -> Response:
        check_csrf(request, csrf)
        user = require(request, "responder")
        incident = _incident(incident_id)
        kwargs = {"acknowledge": {}, "assign": {"to": to.strip()}, "note": {"text": text},
                  "resolve": {"note": text.strip()}, "rate": {"rating": rating, "note": text.strip()},
                  "escalate": {"note": text.strip()}}.get(action)
        if kwargs is None:
            raise Refused(404, "Unknown action", f"'{action}' is not something the console does")
        if action == "assign" and not kwargs["to"]:
            raise Refused(400, "Assign to whom?", "choose the person who owns the response")
        try:
            outcome = service.act(store, config, incident.id, "escalate_now" if action == "escalate" else action,
                                  user.name, "web", **kwargs)
        except service.IncidentError as exc:
            raise Refused(409, "Not done", str(exc)) from None
        return RedirectResponse(f"/incidents/{incident.id}?done={quote(outcome.message[:200])}", status_code=303)

    @app.get("/audit", response_class=HTMLResponse)
    def audit(request: Request) -> HTMLResponse:
        require(request, "responder")
        return page(request, "audit.html", entries=service.audit_log(store))

    # ---- acknowledge from a message ---------------------------------------------------------
    def _link(incident_id: str, token: str) -> tuple[signing.ActionToken, Incident]:
        if link_key is None:
            raise Refused(400, "Link not accepted", "this console has no signing key (CRISISWATCH_SECRET_KEY), "
                          "so it cannot check links; open the incident and acknowledge there")
        try:
            parsed = signing.verify_action(link_key, token)
        except signing.TokenError as exc:
            raise Refused(400, "Link not accepted", str(exc)) from None
        if parsed.incident_id != incident_id:
            raise Refused(400, "Link not accepted", "this link was issued for another incident")
        incident = _incident(incident_id)
        if any(ev.data.get("link") == parsed.nonce for ev in incident.events):
            raise Refused(409, "Link already used", "this link was already used; each link acts once")
        return parsed, incident

    @app.get("/a/{incident_id}/{token}", response_class=HTMLResponse)
    def link_confirm(request: Request, incident_id: str, token: str) -> HTMLResponse:
        parsed, incident = _link(incident_id, token)  # a GET never acts: mail scanners open links
        return page(request, "link.html", i=incident, numbers=numbers(incident), recipient=parsed.recipient,
                    token=token)

    @app.post("/a/{incident_id}/{token}")
    def link_act(request: Request, incident_id: str, token: str, csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        parsed, incident = _link(incident_id, token)

        def unused(current: Incident) -> None:  # checked again inside the compare-and-set
            if any(ev.data.get("link") == parsed.nonce for ev in current.events):
                raise service.IncidentError("this link was already used; each link acts once")

        if incident.state != IncidentState.open:
            who = f" by {incident.acknowledged_by}" if incident.acknowledged_by else ""
            raise Refused(409, "Nothing to do", f"incident {incident.id} is already {incident.state.value}{who}")
        try:
            outcome = service.act(store, config, incident.id, "acknowledge", parsed.recipient, "link",
                                  check=unused, mark={"link": parsed.nonce})
        except service.IncidentError as exc:
            raise Refused(409, "Not done", str(exc)) from None
        return page(request, "message.html", title="Acknowledged",
                    detail=f"{outcome.message}. Reminders and escalation for incident {incident.id} stop.",
                    incident_id=incident.id)

    api.install(app, config, store)  # the JSON API, /api/v1 and /api/openapi.json
    quality_page.install(app, config, store)  # /quality: alert quality per rule and watchlist
    explorer.register(app, config, store, page, require, check_csrf)  # /explore: posts, export, label correction
    return app


__all__ = ["create_app", "ROLES"]
