"""The Kibana saved objects (infra/kibana/crisiswatch.ndjson), the Discover links of alert
messages, the JSON templates shipped in infra/elasticsearch, and ``crisiswatch kibana
import`` against a loopback HTTP receiver."""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import subprocess
import sys
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest

from crisiswatch.core.config import ElasticsearchConfig
from crisiswatch.core.kibana import (POSTS_DATA_VIEW_ID, discover_url, filter_to_kql, import_saved_objects, rison,
                                saved_objects)
from crisiswatch.core.store.base import PostFilter
from crisiswatch.core.store.es_schema import ilm_policy, index_templates

REPO = Path(__file__).resolve().parents[2]
NDJSON = REPO / "infra" / "kibana" / "crisiswatch.ndjson"
TEMPLATES = index_templates(ElasticsearchConfig())
KQL_FIELD = re.compile(r"(?:^|[\s(])(?:not\s+)?([A-Za-z_][\w.]*)\s*(?::|>=|<=|>|<)")


def _fields(mappings: dict) -> set[str]:
    """Every searchable name of a mapping: properties, multi-fields and runtime fields."""
    names: set[str] = set(mappings.get("runtime", {}))

    def walk(properties: dict, prefix: str) -> None:
        for name, spec in properties.items():
            path = f"{prefix}{name}"
            names.add(path)
            for sub in spec.get("fields", {}):
                names.add(f"{path}.{sub}")
            walk(spec.get("properties", {}), f"{path}.")

    walk(mappings["properties"], "")
    return names


FIELDS = {
    "crisiswatch-posts": _fields(TEMPLATES["crisiswatch-posts"]["template"]["mappings"]),
    "crisiswatch-incidents": _fields(TEMPLATES["crisiswatch-incidents"]["template"]["mappings"]),
}


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return [json.loads(line) for line in NDJSON.read_text(encoding="utf-8").splitlines() if line.strip()]


def _by_key(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(o["type"], o["id"]): o for o in objects}


def _data_view_of(obj: dict) -> str:
    ref = next(r for r in obj["references"] if r["name"] == "kibanaSavedObjectMeta.searchSourceJSON.index")
    return ref["id"]


def test_ndjson_is_what_the_builder_writes():
    sys.path.insert(0, str(REPO / "infra" / "kibana"))
    try:
        import build_saved_objects
    finally:
        sys.path.pop(0)
    assert NDJSON.read_text(encoding="utf-8") == build_saved_objects.render(), \
        "run python infra/kibana/build_saved_objects.py"


def test_every_object_parses_and_every_reference_resolves(objects):
    keys = _by_key(objects)
    assert len(keys) == len(objects), "duplicate type/id"
    for obj in objects:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in keys, f"{obj['id']} refers to missing {ref['type']} {ref['id']}"
        attrs = obj["attributes"]
        for embedded in ("visState", "panelsJSON", "optionsJSON", "uiStateJSON"):
            if embedded in attrs:
                json.loads(attrs[embedded])
        source = attrs.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON")
        if source:
            ref_name = json.loads(source).get("indexRefName")
            if ref_name:
                assert ref_name in {r["name"] for r in obj["references"]}, obj["id"]
    dashboard = keys[("dashboard", "crisiswatch-crisis-overview")]
    panel_refs = {p["panelRefName"] for p in json.loads(dashboard["attributes"]["panelsJSON"])}
    assert panel_refs == {r["name"] for r in dashboard["references"]}
    assert dashboard["attributes"]["title"] == "Crisis overview"


def test_the_issue_s_visualisations_are_on_the_dashboard(objects):
    keys = _by_key(objects)
    titles = {o["attributes"]["title"] for o in objects if o["type"] == "visualization"}
    for wanted in ("Volume over time by sentiment", "Negative share by watchlist", "Top complaint categories",
                   "Emotion mix", "Top authors by reach", "Incidents by level over time",
                   "Platform map: posts per platform over time"):
        assert wanted in titles
    on_dashboard = {r["id"] for r in keys[("dashboard", "crisiswatch-crisis-overview")]["references"]}
    assert {o["id"] for o in objects if o["type"] == "visualization"} <= on_dashboard
    views = {o["attributes"]["title"]: o["attributes"]["timeFieldName"] for o in objects
             if o["type"] == "index-pattern"}
    assert views == {"crisiswatch-posts": "created_at", "crisiswatch-incidents": "opened_at"}
    assert {o["type"] for o in objects} == {"index-pattern", "search", "visualization", "dashboard"}


def test_every_field_a_visualisation_or_search_uses_exists_in_the_template(objects):
    checked = 0
    for obj in objects:
        if obj["type"] not in ("visualization", "search"):
            continue
        known = FIELDS[_data_view_of(obj)]
        used: set[str] = set()
        attrs = obj["attributes"]
        if obj["type"] == "visualization":
            for agg in json.loads(attrs["visState"])["aggs"]:
                if "field" in agg["params"]:
                    used.add(agg["params"]["field"])
        else:
            used |= set(attrs["columns"]) | {field for field, _ in attrs["sort"]}
        query = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
        used |= set(KQL_FIELD.findall(query))
        missing = used - known
        assert not missing, f"{obj['attributes']['title']} uses fields not in the template: {missing}"
        checked += len(used)
    assert checked > 30


def test_time_fields_of_data_views_are_dates(objects):
    for obj in objects:
        if obj["type"] == "index-pattern":
            template = TEMPLATES[obj["id"]]["template"]["mappings"]["properties"]
            assert template[obj["attributes"]["timeFieldName"]]["type"] in ("date", "date_nanos")


def test_import_file_follows_the_index_prefix():
    lines = [json.loads(x) for x in saved_objects("acme-prod").decode().splitlines()]
    titles = {o["attributes"]["title"] for o in lines if o["type"] == "index-pattern"}
    assert titles == {"acme-prod-posts", "acme-prod-incidents"}
    default = [json.loads(x) for x in saved_objects().decode().splitlines()]
    assert default == [json.loads(x) for x in NDJSON.read_text(encoding="utf-8").splitlines()]


def test_shipped_template_json_is_what_setup_applies():
    directory = REPO / "infra" / "elasticsearch"
    expected = {f"index-template-{name}.json": body for name, body in TEMPLATES.items()}
    expected["ilm-policy-crisiswatch-posts-policy.json"] = ilm_policy(ElasticsearchConfig())
    assert {p.name for p in directory.glob("*.json")} == set(expected)
    for name, body in expected.items():
        assert json.loads((directory / name).read_text(encoding="utf-8")) == body, \
            f"{name} is stale: run `crisiswatch es templates infra/elasticsearch`"


# ---- Discover links -------------------------------------------------------------------
def _rison_decode(text: str):
    """A small Rison reader (the test's own, to check the encoder independently)."""
    pos = 0

    def value():
        nonlocal pos
        ch = text[pos]
        if ch == "(":
            pos += 1
            out = {}
            while text[pos] != ")":
                key = value()
                assert text[pos] == ":"
                pos += 1
                out[key] = value()
                if text[pos] == ",":
                    pos += 1
            pos += 1
            return out
        if text.startswith("!(", pos):
            pos += 2
            items = []
            while text[pos] != ")":
                items.append(value())
                if text[pos] == ",":
                    pos += 1
            pos += 1
            return items
        if ch == "!":
            pos += 2
            return {"t": True, "f": False, "n": None}[text[pos - 1]]
        if ch == "'":
            pos += 1
            out = ""
            while text[pos] != "'":
                if text[pos] == "!":
                    pos += 1
                out += text[pos]
                pos += 1
            pos += 1
            return out
        match = re.compile(r"-?\d+(\.\d+)?|[^,:()'!]+").match(text, pos)
        pos = match.end()
        token = match.group(0)
        return (float(token) if "." in token else int(token)) if re.fullmatch(r"-?\d+(\.\d+)?", token) else token

    result = value()
    assert pos == len(text)
    return result


def test_rison_round_trips():
    value = {"a": [1, "two words", "it's!", True, None, {"x": "y:z", "n": -3}], "b": "plain_id.x"}
    assert _rison_decode(rison(value)) == value


def test_discover_link_opens_the_posts_of_the_incident(objects):
    flt = PostFilter(watchlists=("qinhe",), sentiments=("negative",), text='召回 OR "food poisoning"',
                     min_followers=1000)
    start = datetime(2026, 10, 13, 2, 0, tzinfo=timezone.utc)
    end = datetime(2026, 10, 13, 6, 30, tzinfo=timezone.utc)
    url = discover_url("https://kibana.example.com/", flt, start, end)
    assert url.startswith("https://kibana.example.com/app/discover#/?_g=")
    g_part, a_part = url.split("#/?", 1)[1].split("&_a=")
    g = _rison_decode(unquote(g_part.removeprefix("_g=")))
    a = _rison_decode(unquote(a_part))
    assert g["time"] == {"from": "2026-10-13T02:00:00.000Z", "to": "2026-10-13T06:30:00.000Z"}
    assert a["dataSource"] == {"dataViewId": POSTS_DATA_VIEW_ID, "type": "dataView"}
    assert ("index-pattern", a["dataSource"]["dataViewId"]) in _by_key(objects)
    query = a["query"]["query"]
    assert a["query"]["language"] == "kuery"
    assert 'watchlists:("qinhe")' in query and 'enrichment.sentiment:("negative")' in query
    assert "reach >= 1000" in query
    assert 'text.substring:*召回*' in query and r'text.substring:*food\ poisoning*' in query
    assert set(KQL_FIELD.findall(query)) <= FIELDS["crisiswatch-posts"]
    assert set(a["columns"]) <= FIELDS["crisiswatch-posts"]


def test_kql_escapes_query_syntax_in_terms():
    kql = filter_to_kql(PostFilter(text='ok* "a (b)" AT&T'))
    assert r"*ok\**" in kql and r"*a\ \(b\)*" in kql
    assert filter_to_kql(PostFilter(sources=())) == "not id:*"  # an empty list matches nothing
    assert filter_to_kql(PostFilter()) == ""


def test_kql_link_keeps_negation_and_fields_of_a_rule_query():
    """An alert whose rule filter says ``recall -sentiment:positive NOT refund`` opens Kibana on
    the same posts, not on every post that mentions recall."""
    kql = filter_to_kql(PostFilter(text="recall -sentiment:positive NOT refund OR source:weibo"))
    assert kql == ('(((text.substring:*recall* or title.substring:*recall*) and not enrichment.sentiment:"positive"'
                   ' and not (text.substring:*refund* or title.substring:*refund*)) or source:"weibo")')
    fields = {match.group(1) for match in KQL_FIELD.finditer(kql)}
    assert fields <= _fields(TEMPLATES["crisiswatch-posts"]["template"]["mappings"])


# ---- kibana import over HTTP ----------------------------------------------------------
class _KibanaReceiver(BaseHTTPRequestHandler):
    received: list[tuple[str, dict, bytes]] = []
    status = 200

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, dict(self.headers), body))
        objects = _multipart_file(self.headers["Content-Type"], body)
        if self.headers.get("kbn-xsrf") is None:
            status, payload = 400, {"statusCode": 400, "error": "Bad Request", "message": "missing kbn-xsrf"}
        elif type(self).status != 200:
            status, payload = type(self).status, {"statusCode": type(self).status, "error": "Unauthorized",
                                                  "message": "[security_exception] unable to authenticate user"}
        else:  # Kibana's answer: one missing reference reported, the rest imported
            errors = [{"id": o["id"], "type": o["type"], "meta": {"title": o["attributes"]["title"]},
                       "error": {"type": "missing_references",
                                 "references": [{"type": "index-pattern", "id": "nope"}]}}
                      for o in objects if o["id"] == "crisiswatch-emotion-mix"]
            status, payload = 200, {"success": not errors, "successCount": len(objects) - len(errors),
                                    "errors": errors}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _multipart_file(content_type: str, body: bytes) -> list[dict]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    part = next(p for p in message.iter_parts() if p.get_filename() == "crisiswatch.ndjson")
    return [json.loads(line) for line in part.get_payload(decode=True).decode().splitlines() if line.strip()]


@pytest.fixture
def kibana():
    _KibanaReceiver.received = []
    _KibanaReceiver.status = 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KibanaReceiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_import_posts_every_object_and_reports_per_object_errors(kibana, objects):
    report = import_saved_objects(kibana, saved_objects(), {"Authorization": "ApiKey abc"})
    path, headers, body = _KibanaReceiver.received[0]
    assert path == "/api/saved_objects/_import?overwrite=true"
    assert headers["Authorization"] == "ApiKey abc"
    sent = _multipart_file(headers["Content-Type"], body)
    assert [o["id"] for o in sent] == [o["id"] for o in objects]
    assert report.success_count == len(objects) - 1
    assert len(report.errors) == 1 and "crisiswatch-emotion-mix" in report.errors[0]
    assert "missing_references" in report.errors[0]


def test_cli_import_exit_codes_and_messages(kibana, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "CRISISWATCH_CONFIG": str(tmp_path / "c.yaml"), "COLUMNS": "200",
           "CRISISWATCH_KIBANA_PASSWORD": "pw-not-shown"}
    (tmp_path / "c.yaml").write_text("{}\n")
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-c", "from crisiswatch.app.cli import main; main()", "kibana", "import", *args],
        capture_output=True, text=True, env=env, timeout=120)
    done = run("--kibana-url", kibana)
    assert done.returncode == 1  # one object failed
    assert "imported 12 saved object(s)" in done.stdout and "crisiswatch-emotion-mix" in done.stdout
    assert _KibanaReceiver.received[-1][1]["Authorization"].startswith("Basic ")
    _KibanaReceiver.status = 401
    done = run("--kibana-url", kibana)
    assert done.returncode == 1 and "refused the import (HTTP 401)" in done.stderr
    assert "pw-not-shown" not in done.stderr + done.stdout
    done = run("--kibana-url", "http://127.0.0.1:9")
    assert done.returncode == 1 and "cannot reach Kibana at http://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr
