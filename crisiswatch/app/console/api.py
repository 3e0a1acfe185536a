"""The JSON API (``/api/v1``) for integrations, documented at ``/api/openapi.json``.

Callers authenticate with a per-user token (``Authorization: Bearer cw_...``, made by
``crisiswatch users token NAME``) and act with that user's role. Actions go through
``crisiswatch.app.incident_service`` with source ``api``, so they land in the same
timeline and audit log as the console's and the CLI's. Errors are JSON ``{"detail": ...}``:
401 (no, bad or expired token), 403 (role), 404 (no such incident or silence), 409 (the
incident's state refuses the action), 422 (bad input), 429 (the token is over its rate limit;
``Retry-After`` says when to try again).
"""


import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, Field

from alerts.muting import Silence
from crisiswatch.app import incident_service as service
from crisiswatch.app.api_tokens import TokenRefused, Tokens
from crisiswatch.app.users import User, Users
from crisiswatch.core.config import Config, parse_duration
from crisiswatch.core.model import Incident, as_utc, utc_now
from crisiswatch.core.store.base import Store, StoreError

PREFIX = "/api/v1"
STATES = {"active": ["open", "acknowledged"], "open": ["open"], "acknowledged": ["acknowledged"],
          "resolved": ["resolved"], "all": None}
bearer = HTTPBearer(auto_error=False, description="A per-user token from `crisiswatch users token NAME`")


def _clean(text: str) -> str:
    """Text that can be stored and sent: valid Unicode without NUL characters."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode") from None
    if "\x00" in text:
        raise ValueError("text must not contain NUL characters")
    return text


def _nonblank(text: str) -> str:
    if not _clean(text).strip():
        raise ValueError("must not be blank")
    return text.strip()


Text = Annotated[str, Field(max_length=4000), AfterValidator(_clean)]
Name = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_nonblank)]


class AsciiJSON(JSONResponse):
    """JSON with non-ASCII escaped: an error that quotes bad input (a lone surrogate) still renders."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


class Error(BaseModel):
    detail: str


class Me(BaseModel):
    name: str
    role: Literal["viewer", "responder", "admin"]


class IncidentSummary(BaseModel):
    id: str
    rule: str
    """The rule that opened it."""
    rules: list[str]
    """Every rule whose signal joined it, the opening rule first."""
    watchlist: str | None
    title: str
    level: str
    peak_level: str
    state: str
    score: float
    opened_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    assignee: str | None
    resolved_at: datetime | None

    @classmethod
    def of(cls, i: Incident) -> "IncidentSummary":
        return cls(id=i.id, rule=i.rule, rules=i.rules, watchlist=i.watchlist, title=i.title, level=i.level.value,
                   peak_level=i.peak_level.value, state=i.state.value, score=i.score, opened_at=i.opened_at,
                   updated_at=i.updated_at, acknowledged_at=i.acknowledged_at, acknowledged_by=i.acknowledged_by,
                   assignee=i.assignee, resolved_at=i.resolved_at)


class Event(BaseModel):
    at: datetime
    kind: str
    actor: str
    message: str
    source: str | None = None


class IncidentDetail(IncidentSummary):
    evidence: dict[str, Any]
    related: list[str]
    events: list[Event]

    @classmethod
    def of(cls, i: Incident) -> "IncidentDetail":
        return cls(**IncidentSummary.of(i).model_dump(), evidence=i.evidence, related=list(i.related),
                   events=[Event(at=e.at, kind=e.kind, actor=e.actor, message=e.message,
                                 source=e.data.get("source")) for e in i.events])


class IncidentList(BaseModel):
    count: int
    incidents: list[IncidentSummary]


class ActionResult(BaseModel):
    message: str
    """What was done, as the timeline says it."""
    notifications_sent: int
    incident: IncidentDetail


class Assign(BaseModel):
    to: Name


class Note(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(_nonblank)]


class Resolve(BaseModel):
    note: Text = ""


class Rate(BaseModel):
    rating: Literal["useful", "false_alarm", "duplicate", "too_late"]
    note: Text = ""


class Escalate(BaseModel):
    note: Text = ""
    """Why it cannot wait (goes into the timeline)."""


Duration = Annotated[str, Field(pattern=r"^\d{1,4}(\.\d{1,3})?[smhdw]$", examples=["2h", "1d"])]


class NewSilence(BaseModel):
    watchlist: Annotated[str | None, Field(max_length=200)] = None
    """The watchlist to silence; None = every watchlist (then give a rule)."""
    rule: Annotated[str | None, Field(max_length=200)] = None
    """The rule to silence; None = every rule (then give a watchlist)."""
    duration: Duration
    """How long, from now (or from ``start``): ``90m``, ``2h``, ``1d``, at most 7 days."""
    start: datetime | None = None
    """When the silence begins (ISO time); default now."""
    reason: Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_nonblank)]
    """Why: the team sees it in the audit log (and the incident's timeline)."""
    incident_id: Annotated[str | None, Field(max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")] = None
    """Record the silence on this incident's timeline too."""


class SilenceOut(BaseModel):
    id: str
    watchlist: str | None
    rule: str | None
    start: datetime
    end: datetime
    reason: str
    created_by: str
    created_at: datetime
    active: bool
    """Holding notifications now (False: planned for later)."""


class SilenceList(BaseModel):
    count: int
    silences: list[SilenceOut]


MAX_SILENCE_S = 7 * 24 * 3600
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "No token, or a token that is not (or no longer) valid, or expired"},
    403: {"model": Error, "description": "The token's user has a role that cannot do this"},
    404: {"model": Error, "description": "No such incident"},
    409: {"model": Error, "description": "The incident's state refuses the action"},
    429: {"model": Error, "description": "The token is over its rate limit (requests per minute); see Retry-After"},
}


def install(app: FastAPI, config: Config, store: Store) -> None:
    """Add the API's routes and its OpenAPI document (``/api/openapi.json``) to the console app."""
    users = Users(store)
    tokens = Tokens(store, users)
    router = APIRouter(prefix=PREFIX, tags=["incidents"], responses={k: ERRORS[k] for k in (401, 429)})

    def caller(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> User:
        try:
            return tokens.authenticate(credentials.credentials if credentials else "")
        except TokenRefused as exc:
            headers = ({"Retry-After": str(exc.retry_after)} if exc.status == 429
                       else {"WWW-Authenticate": "Bearer"})
            raise HTTPException(exc.status, exc.detail, headers=headers) from None

    def responder(user: Annotated[User, Depends(caller)]) -> User:
        if not user.can("responder"):
            raise HTTPException(403, f"your role ({user.role}) cannot change anything; a responder or admin can")
        return user

    def find(incident_id: str) -> Incident:
        try:
            incident = store.get_incident(incident_id)
        except StoreError as exc:
            raise HTTPException(404, str(exc)) from None
        if incident is None:
            raise HTTPException(404, f"there is no incident '{incident_id}'")
        return incident

    IncidentId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$",
                                     description="Incident id (or a unique prefix)")]

    @router.get("/me", response_model=Me, summary="Who the token belongs to")
    def me(user: Annotated[User, Depends(caller)]) -> Me:
        return Me(name=user.name, role=user.role)

    @router.get("/incidents", response_model=IncidentList, summary="List incidents, most recently updated first")
    def list_incidents(user: Annotated[User, Depends(caller)],  # noqa: ARG001
                       state: Literal["active", "open", "acknowledged", "resolved", "all"] = "active",
                       level: Literal["blue", "yellow", "orange", "red"] | None = None,
                       watchlist: Annotated[str | None, Query(max_length=200)] = None,
                       rule: Annotated[str | None, Query(max_length=200)] = None,
                       since: Annotated[datetime | None, Query(description="Only incidents updated since (ISO time)")] = None,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> IncidentList:
        try:
            when = as_utc(since) if since is not None else None
        except (ValueError, OverflowError):
            raise HTTPException(422, "since: not a usable time") from None
        # filters applied after reading, so read generously, then cut to the limit
        found = store.list_incidents(states=STATES[state], since=when, limit=max(limit, 1000))
        found = [i for i in found if (level is None or i.level.value == level)
                 and (watchlist is None or i.watchlist == watchlist)
                 and (rule is None or rule in i.rules)][:limit]
        return IncidentList(count=len(found), incidents=[IncidentSummary.of(i) for i in found])

    @router.get("/incidents/{incident_id}", response_model=IncidentDetail, responses={404: ERRORS[404]},
                summary="One incident: evidence and timeline")
    def get_incident(incident_id: IncidentId, user: Annotated[User, Depends(caller)]) -> IncidentDetail:  # noqa: ARG001
        return IncidentDetail.of(find(incident_id))

    def act(incident_id: str, action: str, user: User, **kwargs: str) -> ActionResult:
        incident = find(incident_id)
        try:
            outcome = service.act(store, config, incident.id, action, user.name, "api", **kwargs)
        except service.IncidentError as exc:
            raise HTTPException(409, str(exc)) from None
        return ActionResult(message=outcome.message, notifications_sent=outcome.sent,
                            incident=IncidentDetail.of(outcome.change.incident))

    acting = {"response_model": ActionResult, "responses": {k: ERRORS[k] for k in (403, 404, 409)}}

    @router.post("/incidents/{incident_id}/acknowledge", summary="Acknowledge: someone is on it", **acting)
    def acknowledge(incident_id: IncidentId, user: Annotated[User, Depends(responder)]) -> ActionResult:
        return act(incident_id, "acknowledge", user)

    @router.post("/incidents/{incident_id}/assign", summary="Give the incident an owner", **acting)
    def assign(incident_id: IncidentId, body: Assign, user: Annotated[User, Depends(responder)]) -> ActionResult:
        return act(incident_id, "assign", user, to=body.to)

    @router.post("/incidents/{incident_id}/note", summary="Add a note to the timeline", **acting)
    def note(incident_id: IncidentId, body: Note, user: Annotated[User, Depends(responder)]) -> ActionResult:
        return act(incident_id, "note", user, text=body.text)

    @router.post("/incidents/{incident_id}/rate", summary="Rate the alert (counts in alert quality)", **acting)
    def rate(incident_id: IncidentId, body: Rate, user: Annotated[User, Depends(responder)]) -> ActionResult:
        return act(incident_id, "rate", user, rating=body.rating, note=body.note.strip())

    @router.post("/incidents/{incident_id}/resolve", summary="Close the incident", **acting)
    def resolve(incident_id: IncidentId, body: Resolve, user: Annotated[User, Depends(responder)]) -> ActionResult:
        return act(incident_id, "resolve", user, note=body.note.strip())

    @router.post("/incidents/{incident_id}/escalate", summary="Escalate now: take every route's next "
                 "escalation step at once (409 when none is left)", **acting)
    def escalate(incident_id: IncidentId, body: Escalate, user: Annotated[User, Depends(responder)]) -> ActionResult:
        return act(incident_id, "escalate_now", user, note=body.note.strip())

    def silence_out(item: Silence, now: datetime) -> SilenceOut:
        return SilenceOut(**item.model_dump(), active=item.active(now))

    @router.get("/silences", response_model=SilenceList, tags=["silences"],
                summary="Silences not ended yet (current and planned), soonest ending first")
    def list_silences(user: Annotated[User, Depends(caller)]) -> SilenceList:  # noqa: ARG001
        now = utc_now()
        found = service.silences(store, now)
        return SilenceList(count=len(found), silences=[silence_out(s, now) for s in found])

    @router.post("/silences", response_model=SilenceOut, status_code=201, tags=["silences"],
                 responses={k: ERRORS[k] for k in (403, 404)},
                 summary="Hold notifications for a watchlist and/or rule for a while")
    def create_silence(body: NewSilence, user: Annotated[User, Depends(responder)]) -> SilenceOut:
        if not (body.watchlist or body.rule):
            raise HTTPException(422, "give a watchlist, a rule or both: a silence of everything is not "
                                "made through the API")
        if parse_duration(body.duration).total_seconds() > MAX_SILENCE_S:
            raise HTTPException(422, "a silence lasts at most 7 days (make a new one when it ends)")
        incident = find(body.incident_id) if body.incident_id else None
        try:
            start = as_utc(body.start) if body.start else None
            item = service.silence(store, config, user.name, "api", watchlist=body.watchlist, rule=body.rule,
                                   start=start, duration=body.duration, reason=body.reason,
                                   incident_id=incident.id if incident else None)
        except (ValueError, OverflowError) as exc:
            raise HTTPException(422, str(exc).splitlines()[-1]) from None
        except service.IncidentError as exc:
            raise HTTPException(409, str(exc)) from None
        return silence_out(item, utc_now())

    SilenceId = Annotated[str, Path(min_length=4, max_length=40, pattern=r"^[0-9a-f]+$",
                                    description="Silence id (or a unique prefix of at least 4 characters)")]

    @router.delete("/silences/{silence_id}", response_model=SilenceOut, tags=["silences"],
                   responses={403: ERRORS[403], 404: {"model": Error, "description": "No such silence"}},
                   summary="End a silence now")
    def remove_silence(silence_id: SilenceId, user: Annotated[User, Depends(responder)]) -> SilenceOut:
        try:
            item = service.unsilence(store, user.name, "api", silence_id)
        except KeyError as exc:
            raise HTTPException(404, exc.args[0]) from None
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from None
        return silence_out(item, utc_now())

    app.include_router(router)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:  # noqa: ARG001
        """422 for the API and the console's forms alike, in ASCII JSON: FastAPI's own handler
        echoes the input and answers 500 when it holds a lone surrogate."""
        errors = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in exc.errors()]
        return AsciiJSON({"detail": errors}, status_code=422)
    schema: dict[str, Any] = {}

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi() -> JSONResponse:
        if not schema:
            schema.update(get_openapi(title="crisiswatch API", version="1", routes=router.routes,
                                      description=__doc__.split("\n\n", 1)[1].strip()))
        return JSONResponse(schema)
