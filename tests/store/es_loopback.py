"""A loopback HTTP server that answers like Elasticsearch 9, for offline tests only.

It speaks the real wire format (status codes, error bodies, the ``X-Elastic-Product``
header the client insists on, NDJSON bulk with per-item results) and keeps documents by
index and id, so that the real client and the real store code run unchanged against it.
It does not evaluate queries: searches other than ``ids`` lookups return no hits and empty
aggregations. It is NOT a substitute for the live suite (``CRISISWATCH_ELASTICSEARCH_URL``);
it exists to exercise what happens on the wire: bulk item failures and retries, version
mismatch, setup idempotency, and to record every request body for the spec check.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: bytes


@dataclass
class LoopbackState:
    version: str = "9.1.0"
    product_header: bool = True
    policies: dict[str, Any] = field(default_factory=dict)
    templates: dict[str, Any] = field(default_factory=dict)
    indices: dict[str, dict[str, Any]] = field(default_factory=dict)
    """index -> id -> source"""
    aliases: dict[str, str] = field(default_factory=dict)
    """alias -> write index"""
    fail_ids: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    """id -> (status, error type, reason): bulk items that always fail."""
    reject_once: set[str] = field(default_factory=set)
    """ids answered 429 the first time (the client retries them)."""
    requests: list[Recorded] = field(default_factory=list)
    authorization: str | None = None
    """When set, requests without exactly this Authorization header get a 401."""
    seq_nos: dict[tuple[str, str], int] = field(default_factory=dict)
    """(index, id) -> sequence number of its last write (compare-and-set with if_seq_no)."""
    next_seq_no: int = 0


def _error(kind: str, reason: str, status: int) -> tuple[int, dict[str, Any]]:
    cause = {"type": kind, "reason": reason}
    return status, {"error": {"root_cause": [cause], **cause}, "status": status}


class _Handler(BaseHTTPRequestHandler):
    server: "LoopbackElasticsearch"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stalls

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        state = self.server.state
        with self.server.lock:
            state.requests.append(Recorded(self.command, parts.path, parse_qs(parts.query),
                                           self.headers.get("Content-Type", ""), raw))
            if state.authorization and self.headers.get("Authorization") != state.authorization:
                status, body = _error("security_exception", "unable to authenticate with provided credentials "
                                      "and anonymous access is not allowed for this request", 401)
            else:
                status, body = self.server.route(self.command, unquote(parts.path), raw, parse_qs(parts.query))
        payload = b"" if self.command == "HEAD" or body is None else json.dumps(body).encode()
        self.send_response(status)
        if state.product_header:
            self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Type", "application/vnd.elasticsearch+json;compatible-with=9")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


class LoopbackElasticsearch(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: LoopbackState | None = None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state or LoopbackState()
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> "LoopbackElasticsearch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    # ---- routing ---------------------------------------------------------------------
    def _resolve(self, target: str) -> list[str]:
        names = []
        for name in target.split(","):
            if name in self.state.aliases:
                alias_indices = [i for i in self.state.indices if i.startswith(name + "-")]
                names += alias_indices or [self.state.aliases[name]]
            elif name in self.state.indices:
                names.append(name)
        return names

    def route(self, method: str, path: str, raw: bytes, query: dict[str, list[str]] | None = None) -> tuple[int, Any]:
        s = self.state
        query = query or {}
        body = json.loads(raw) if raw and not path.endswith("_bulk") else None
        if path == "/" and method in ("GET", "HEAD"):
            return 200, {"name": "loopback", "cluster_name": "loopback", "cluster_uuid": "x",
                         "version": {"number": s.version, "build_flavor": "default",
                                     "lucene_version": "10.0.0", "minimum_wire_compatibility_version": "8.18.0",
                                     "minimum_index_compatibility_version": "8.0.0"},
                         "tagline": "You Know, for Search"}
        if path == "/_cluster/health":
            return 200, {"cluster_name": "loopback", "status": "green", "number_of_nodes": 1}
        if m := re.fullmatch(r"/_ilm/policy/([^/]+)", path):
            name = m.group(1)
            if method == "PUT":
                previous = s.policies.get(name)
                s.policies[name] = {"version": (previous or {}).get("version", 0) + 1,
                                    "modified_date": "2026-01-01T00:00:00.000Z", "policy": body["policy"]}
                return 200, {"acknowledged": True}
            if name in s.policies:
                return 200, {name: s.policies[name]}
            return _error("resource_not_found_exception", f"Lifecycle policy not found: {name}", 404)
        if m := re.fullmatch(r"/_index_template/([^/]+)", path):
            name = m.group(1)
            if method in ("PUT", "POST"):
                s.templates[name] = body
                return 200, {"acknowledged": True}
            if name in s.templates:
                return 200, {"index_templates": [{"name": name, "index_template": s.templates[name]}]}
            return _error("resource_not_found_exception", f"index template matching [{name}] not found", 404)
        if m := re.fullmatch(r"/_alias/([^/]+)", path):
            found = m.group(1) in s.aliases
            return (200, {}) if found else (404, {"error": f"alias [{m.group(1)}] missing", "status": 404})
        if path.endswith("/_bulk"):
            return self._bulk(raw)
        if m := re.fullmatch(r"/([^/_][^/]*)", path):
            index = m.group(1)
            if method == "HEAD":
                return (200, None) if index in s.indices else (404, None)
            if method == "PUT":
                if index in s.indices:
                    return _error("resource_already_exists_exception", f"index [{index}] already exists", 400)
                s.indices[index] = {}
                for alias in (body or {}).get("aliases", {}):
                    s.aliases[alias] = index
                return 200, {"acknowledged": True, "shards_acknowledged": True, "index": index}
        if m := re.fullmatch(r"/([^/]+)/(_search|_count|_refresh|_mapping|_update_by_query|_delete_by_query)", path):
            targets = self._resolve(m.group(1))
            if not targets:
                return _error("index_not_found_exception", f"no such index [{m.group(1)}]", 404)
            return self._index_api(m.group(2), targets, body)
        if m := re.fullmatch(r"/([^/]+)/_doc(?:/([^/]+))?", path):
            index, doc_id = m.group(1), m.group(2)
            targets = self._resolve(index) or [index]
            if method == "GET":
                for target in targets:
                    if doc_id in s.indices.get(target, {}):
                        return 200, {"_index": target, "_id": doc_id, "_version": 1,
                                     "_seq_no": s.seq_nos.get((target, doc_id), 0), "_primary_term": 1, "found": True,
                                     "_source": s.indices[target][doc_id]}
                return 404, {"_index": targets[0], "_id": doc_id, "found": False}
            target = targets[0] if method == "DELETE" else s.aliases.get(index, index)
            exists = doc_id in s.indices.get(target, {})
            if "if_seq_no" in query and (not exists or int(query["if_seq_no"][0]) != s.seq_nos.get((target, doc_id))):
                return _error("version_conflict_engine_exception",
                              f"[{doc_id}]: version conflict, required seqNo [{query['if_seq_no'][0]}]", 409)
            if query.get("op_type") == ["create"] and exists:
                return _error("version_conflict_engine_exception",
                              f"[{doc_id}]: version conflict, document already exists", 409)
            if method == "DELETE":
                s.indices.get(target, {}).pop(doc_id, None)
                return (200 if exists else 404), self._doc_result(target, doc_id, "deleted" if exists else "not_found")
            doc_id = doc_id or f"auto{sum(len(v) for v in s.indices.values())}"
            created = doc_id not in s.indices.setdefault(target, {})
            s.indices[target][doc_id] = body
            s.next_seq_no += 1
            s.seq_nos[(target, doc_id)] = s.next_seq_no
            result = self._doc_result(target, doc_id, "created" if created else "updated")
            result["_seq_no"] = s.next_seq_no
            return (201 if created else 200), result
        return _error("unsupported_operation", f"loopback server does not implement {method} {path}", 400)

    @staticmethod
    def _doc_result(index: str, doc_id: str, result: str) -> dict[str, Any]:
        return {"_index": index, "_id": doc_id, "_version": 1, "result": result, "_seq_no": 0, "_primary_term": 1,
                "_shards": {"total": 1, "successful": 1, "failed": 0}}

    def _index_api(self, api: str, targets: list[str], body: dict[str, Any] | None) -> tuple[int, Any]:
        s = self.state
        shards = {"total": len(targets), "successful": len(targets), "skipped": 0, "failed": 0}
        if api in ("_refresh", "_mapping"):
            return 200, ({"_shards": shards} if api == "_refresh" else {"acknowledged": True})
        if api == "_count":
            return 200, {"count": 0, "_shards": shards}
        if api in ("_update_by_query", "_delete_by_query"):
            key = "updated" if api == "_update_by_query" else "deleted"
            return 200, {"took": 1, "timed_out": False, "total": 0, key: 0, "batches": 0, "version_conflicts": 0,
                         "noops": 0, "failures": []}
        hits = []
        ids = ((body or {}).get("query") or {}).get("ids", {}).get("values")
        if ids:
            for target in targets:
                for doc_id in ids:
                    if doc_id in s.indices.get(target, {}):
                        hit = {"_index": target, "_id": doc_id, "_score": 1.0}
                        if (body or {}).get("seq_no_primary_term"):
                            hit.update(_seq_no=s.seq_nos.get((target, doc_id), 0), _primary_term=1)
                        if (body or {}).get("_source", True) is not False:
                            hit["_source"] = s.indices[target][doc_id]
                        hits.append(hit)
        response: dict[str, Any] = {"took": 1, "timed_out": False, "_shards": shards,
                                    "hits": {"max_score": None, "hits": hits}}
        if (body or {}).get("track_total_hits") is True:
            response["hits"]["total"] = {"value": len(hits), "relation": "eq"}
        aggs = (body or {}).get("aggs") or {}
        if aggs:
            response["aggregations"] = {
                name: ({"doc_count": 0} if "missing" in agg or "filter" in agg else {"buckets": []})
                for name, agg in aggs.items()}
        return 200, response

    def _bulk(self, raw: bytes) -> tuple[int, Any]:
        s = self.state
        lines = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
        items, errors, i = [], False, 0
        while i < len(lines):
            op, meta = next(iter(lines[i].items()))
            source = lines[i + 1] if op != "delete" else None
            i += 1 if op == "delete" else 2
            doc_id = meta.get("_id")
            index = s.aliases.get(meta.get("_index"), meta.get("_index"))
            result: dict[str, Any] = {"_index": index, "_id": doc_id}
            if doc_id in s.fail_ids:
                status, kind, reason = s.fail_ids[doc_id]
                result.update(status=status, error={"type": kind, "reason": reason, "index": index})
                errors = True
            elif doc_id in s.reject_once:
                s.reject_once.discard(doc_id)
                result.update(status=429, error={"type": "es_rejected_execution_exception",
                                                 "reason": "rejected execution (queue capacity 200)"})
                errors = True
            elif op == "update" and doc_id not in s.indices.get(index, {}):
                result.update(status=404, error={"type": "document_missing_exception",
                                                 "reason": f"[{doc_id}]: document missing", "index": index})
                errors = True
            else:
                docs = s.indices.setdefault(index, {})
                created = doc_id not in docs
                if op == "update":
                    params = (source.get("script") or {}).get("params") or {}
                    docs[doc_id] = {**docs[doc_id], **(params.get("post") or {})}
                    if "enrichment" in params:
                        docs[doc_id]["enrichment"] = params["enrichment"]
                else:
                    docs[doc_id] = source
                result.update(status=201 if created else 200, result="created" if created else "updated",
                              _version=1, _seq_no=0, _primary_term=1,
                              _shards={"total": 1, "successful": 1, "failed": 0})
            items.append({op: result})
        return 200, {"took": 3, "errors": errors, "items": items}
