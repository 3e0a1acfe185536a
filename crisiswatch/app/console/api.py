"""The JSON API (``/api/v1``) for integrations, documented at ``/api/openapi.json``.

Callers authenticate with a per-user token (``Authorization: Bearer cw_...``, made by
``crisiswatch users token NAME``) and act with that user's role. Actions go through
``crisiswatch.app.incident_service.act`` with source ``api``, so they land in the same
timeline and audit log as the console's and the CLI's. Errors are JSON ``{"detail": ...}``:
401 (no or bad token), 403 (role), 404 (no such incident), 409 (the incident's state refuses
the action), 422 (bad input).
"""


import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, Field

from crisiswatch.app import incident_service as service
from crisiswatch.app.api_tokens import Tokens
from crisiswatch.app.users import User, Users
from crisiswatch.core.config import Config
from crisiswatch.core.model import Incident, as_utc
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
        return cls(id=i.id, rule=i.rule, watchlist=i.watchlist, title=i.title, level=i.level.value,
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


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "No token, or a token that is not (or no longer) valid"},
    403: {"model": Error, "description": "The token's user has a role that cannot do this"},
    404: {"model": Error, "description": "No such incident"},
    409: {"model": Error, "description": "The incident's state refuses the action"},
}


def install(app: FastAPI, config: Config, store: Store) -> None:
    """Add the API's routes and its OpenAPI document (``/api/openapi.json``) to the console app."""
    users = Users(store)
    tokens = Tokens(store, users)
    router = APIRouter(prefix=PREFIX, tags=["incidents"], responses={401: ERRORS[401]})

    def caller(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> User:
        user = tokens.user(credentials.credentials) if credentials else None
        if user is None:
            raise HTTPException(401, "a valid API token is required (Authorization: Bearer TOKEN; "
                                "make one with `crisiswatch users token NAME`)",
                                headers={"WWW-Authenticate": "Bearer"})
        return user

    def responder(user: Annotated[User, Depends(caller)]) -> User:
        if not user.can("responder"):
            raise HTTPException(403, f"your role ({user.role}) cannot act on incidents; a responder or admin can")
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
                 and (rule is None or i.rule == rule or rule in (i.evidence.get("rule_names") or []))][:limit]
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

    app.include_router(router)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        if not request.url.path.startswith("/api/"):
            return await request_validation_exception_handler(request, exc)
        errors = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in exc.errors()]
        return AsciiJSON({"detail": errors}, status_code=422)
    schema: dict[str, Any] = {}

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi() -> JSONResponse:
        if not schema:
            schema.update(get_openapi(title="crisiswatch API", version="1", routes=router.routes,
                                      description=__doc__.split("\n\n", 1)[1].strip()))
        return JSONResponse(schema)
