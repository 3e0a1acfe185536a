"""Kibana links and saved objects.

``discover_url`` builds the "open in Kibana" link of an alert: Discover on the posts data
view, pre-filtered (KQL) on the incident's ``PostFilter`` and time window, so a person
sees the very posts behind the alert in one click. ``import_saved_objects`` loads
``infra/kibana/crisiswatch.ndjson`` (data views, saved searches, visualisations, the
"Crisis overview" dashboard) through Kibana's saved-objects import API.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from crisiswatch.core.store.base import PostFilter
from crisiswatch.core.store.es_query import LABEL_FIELDS
from crisiswatch.core.store.query import And, Label, Node, Not, Term, parse_query, script_variants

POSTS_DATA_VIEW_ID = "crisiswatch-posts"
INCIDENTS_DATA_VIEW_ID = "crisiswatch-incidents"
DEFAULT_PREFIX = "crisiswatch"
SAVED_OBJECTS = Path(__file__).resolve().parents[2] / "infra" / "kibana" / "crisiswatch.ndjson"
DISCOVER_COLUMNS = ["source", "text", "enrichment.sentiment", "enrichment.emotion", "enrichment.category",
                    "author.handle", "reach", "engagement_total"]

_RISON_ID = re.compile(r"[A-Za-z_.][A-Za-z0-9_.\-/~]*")


def rison(value: Any) -> str:
    """Encode a value as Rison, the URL-friendly JSON Kibana keeps its app state in."""
    if value is None:
        return "!n"
    if value is True:
        return "!t"
    if value is False:
        return "!f"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        if _RISON_ID.fullmatch(value):
            return value
        return "'" + value.replace("!", "!!").replace("'", "!'") + "'"
    if isinstance(value, (list, tuple)):
        return "!(" + ",".join(rison(v) for v in value) + ")"
    if isinstance(value, dict):
        return "(" + ",".join(f"{rison(str(k))}:{rison(v)}" for k, v in value.items()) + ")"
    raise TypeError(f"cannot encode {type(value).__name__} as rison")


def _kql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_KQL_SPECIAL = re.compile(r'([\\():<>"*{}\s])')


def _kql_contains(field_name: str, term: str) -> str:
    """``field:*term*`` with KQL's syntax characters (and spaces) in the term escaped."""
    escaped = _KQL_SPECIAL.sub(r"\\\1", term)
    return f"{field_name}:*{escaped}*"


def _kql_any(field_name: str, values: tuple[Any, ...]) -> str:
    if not values:
        return "not id:*"  # an empty list matches nothing, as in the store
    return f"{field_name}:(" + " or ".join(_kql_string(str(v)) for v in values) + ")"


def _kql_time(value: datetime) -> str:
    return _kql_string(value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"))


def _kql_node(node: Node) -> str:
    """One node of the store's query tree as KQL, with the meaning the stores give it."""
    if isinstance(node, Term):
        fields = (f"{node.field}.substring",) if node.field else ("text.substring", "title.substring")
        matches = [_kql_contains(field_name, variant) for variant in script_variants(node.text) for field_name in fields]
        return "(" + " or ".join(matches) + ")"
    if isinstance(node, Label):
        return f"{LABEL_FIELDS[node.field]}:{_kql_string(str(node.value))}"
    if isinstance(node, Not):
        return f"not {_kql_node(node.item)}"
    joiner = " and " if isinstance(node, And) else " or "
    return "(" + joiner.join(_kql_node(item) for item in node.items) + ")"


def filter_to_kql(filter: PostFilter) -> str:
    """The KQL query selecting the same posts as ``filter`` does in the Elasticsearch store
    (text terms as case-insensitive substrings of ``text`` or ``title``)."""
    parts: list[str] = []
    for values, field_name in ((filter.watchlists, "watchlists"), (filter.sources, "source"),
                               (filter.languages, "effective_language"),
                               (filter.sentiments, "enrichment.sentiment"), (filter.emotions, "enrichment.emotion"),
                               (filter.categories, "enrichment.category"), (filter.topic_ids, "enrichment.topic_id"),
                               (filter.ratings, "rating")):
        if values is not None:
            parts.append(_kql_any(field_name, values))
    node = parse_query(filter.text)
    if node is not None:
        parts.append(_kql_node(node))
    if filter.min_followers is not None:
        parts.append(f"reach >= {filter.min_followers}")
    if filter.since is not None:
        parts.append(f"created_at >= {_kql_time(filter.since)}")
    if filter.until is not None:
        parts.append(f"created_at < {_kql_time(filter.until)}")
    return " and ".join(parts)


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def discover_url(kibana_url: str, filter: PostFilter, start: datetime, end: datetime,
                 data_view_id: str = POSTS_DATA_VIEW_ID) -> str:
    """A Discover link showing the posts of ``filter`` between ``start`` and ``end``."""
    global_state = {"filters": [], "refreshInterval": {"pause": True, "value": 0},
                    "time": {"from": _iso(start), "to": _iso(end)}}
    app_state = {
        "columns": DISCOVER_COLUMNS,
        "dataSource": {"dataViewId": data_view_id, "type": "dataView"},
        "query": {"language": "kuery", "query": filter_to_kql(filter)},
        "sort": [["created_at", "desc"]],
    }
    safe = "!'()*,:~.-_/@$"
    return (f"{kibana_url.rstrip('/')}/app/discover#/?_g={quote(rison(global_state), safe=safe)}"
            f"&_a={quote(rison(app_state), safe=safe)}")


# ---- saved objects -------------------------------------------------------------------
def saved_objects(prefix: str = DEFAULT_PREFIX, path: Path = SAVED_OBJECTS) -> bytes:
    """The shipped NDJSON with the data views pointed at ``<prefix>-posts`` / ``<prefix>-incidents``."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        if obj.get("type") == "index-pattern" and prefix != DEFAULT_PREFIX:
            title = obj["attributes"]["title"]
            obj["attributes"]["title"] = prefix + title.removeprefix(DEFAULT_PREFIX)
        lines.append(json.dumps(obj, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8")


@dataclass
class ImportReport:
    success_count: int = 0
    errors: list[str] = field(default_factory=list)


class KibanaError(RuntimeError):
    """Kibana cannot be reached or refused the import; the message says which and why."""


def kibana_auth_headers(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Credentials from CRISISWATCH_KIBANA_API_KEY or _USERNAME/_PASSWORD, else the
    Elasticsearch ones (the same users log in to both); never from a file."""
    import base64

    env = os.environ if environ is None else environ
    api_key = env.get("CRISISWATCH_KIBANA_API_KEY") or env.get("CRISISWATCH_ELASTICSEARCH_API_KEY")
    if api_key:
        return {"Authorization": f"ApiKey {api_key}"}
    password = env.get("CRISISWATCH_KIBANA_PASSWORD") or env.get("CRISISWATCH_ELASTICSEARCH_PASSWORD")
    if password:
        user = (env.get("CRISISWATCH_KIBANA_USERNAME") or env.get("CRISISWATCH_ELASTICSEARCH_USERNAME")
                or "elastic")
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
    return {}


def import_saved_objects(kibana_url: str, ndjson: bytes, headers: dict[str, str] | None = None,
                         overwrite: bool = True, timeout_s: float = 60.0) -> ImportReport:
    """POST the NDJSON to ``/api/saved_objects/_import``; per-object errors are reported."""
    import urllib3

    fields = {"file": ("crisiswatch.ndjson", ndjson, "application/ndjson")}
    body, content_type = urllib3.encode_multipart_formdata(fields)
    url = f"{kibana_url.rstrip('/')}/api/saved_objects/_import?overwrite={'true' if overwrite else 'false'}"
    request_headers = {"kbn-xsrf": "crisiswatch", "Content-Type": content_type, **(headers or {})}
    try:
        response = urllib3.request("POST", url, body=body, headers=request_headers,
                                   timeout=urllib3.Timeout(total=timeout_s), retries=urllib3.Retry(total=2))
    except urllib3.exceptions.HTTPError as exc:
        reason = getattr(exc, "reason", None) or exc
        raise KibanaError(f"cannot reach Kibana at {kibana_url}: {reason}") from None
    try:
        payload = json.loads(response.data or b"{}")
    except ValueError:
        payload = {}
    if response.status >= 400:
        message = payload.get("message") or response.data[:200].decode("utf-8", "replace")
        raise KibanaError(f"Kibana at {kibana_url} refused the import (HTTP {response.status}): {message}")
    report = ImportReport(success_count=int(payload.get("successCount", 0)))
    for error in payload.get("errors", []):
        detail = error.get("error", {})
        report.errors.append(f"{error.get('type')} {error.get('id')} ({error.get('meta', {}).get('title', '')}): "
                             f"{detail.get('type')}" + (f" {detail.get('references')}" if detail.get("references")
                                                        else ""))
    return report
