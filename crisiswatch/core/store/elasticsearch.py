"""The production store: Elasticsearch 9 through the official client.

Posts live behind a rollover alias (``<prefix>-posts``, ILM-managed indices
``<prefix>-posts-000001`` ...). Because a post may be re-collected after its index rolled
over, every write first looks up which index already holds each id and writes there, so
re-ingesting never duplicates. Incidents, crawl outcomes and small state live in plain
indices. Every request body comes from ``es_query`` / ``es_schema`` so that they can be
checked offline against Elastic's API specification.

Errors never leak as tracebacks: an unreachable cluster, refused credentials or a refused
request become ``StoreError`` naming the URL (without credentials) and the reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from itertools import islice
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import elastic_transport
import elasticsearch
from elasticsearch import ConflictError, Elasticsearch, NotFoundError, helpers

from crisiswatch.core.config import Config, ConfigError, ElasticsearchConfig, resolve_secrets
from crisiswatch.core.model import CrawlHealth, Enrichment, Incident, IncidentState, Post, as_utc
from crisiswatch.core.store import es_query as q
from crisiswatch.core.store.base import (Bucket, FingerprintTaken, IncidentConflict, ItemError, PostFilter, PostOrder,
                                    Share, Store, StoreError, TeamLabel, TermCount, WriteResult, _intersect)
from crisiswatch.core.store.es_admin import (Change, CheckResult, VersionMismatch, apply_schema, check_cluster,
                                        ensure_compatible)
from crisiswatch.core.store.es_schema import IndexNames
from crisiswatch.core.text import extract_terms

log = logging.getLogger(__name__)

LOOKUP_CHUNK = 1000
"""Ids looked up (and posts written) per round trip."""
MAX_BUCKETS = 10_000
"""Histogram buckets per request, well below the cluster's default search.max_buckets (65,536)."""
OPEN_CLAIM_GRACE = timedelta(minutes=2)
"""A fingerprint claim whose incident was never written is taken over only after this long:
its writer may still be on the way (claim first, incident second)."""


def redact_url(url: str) -> str:
    """The URL without user name and password, for messages and logs."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def post_document(post: Post) -> dict[str, Any]:
    """The indexed form of a post: the model plus the fields queries and Kibana use."""
    doc = post.model_dump(mode="json")
    doc["terms"] = extract_terms(post.text, post.title)
    doc["engagement_total"] = post.engagement.total
    doc["reach"] = post.reach
    return doc


def post_from_source(source: dict[str, Any]) -> Post:
    return Post.model_validate({k: v for k, v in source.items() if k in Post.model_fields})


def incident_document(incident: Incident) -> dict[str, Any]:
    doc = incident.model_dump(mode="json")
    doc["level_rank"] = incident.level.rank
    return doc


def incident_from_source(source: dict[str, Any], hit: dict[str, Any] | None = None) -> Incident:
    """The incident of a stored document; with its ``hit`` (get or search answer) it carries the
    ``seq_no:primary_term`` revision its next save compares against."""
    incident = Incident.model_validate({k: v for k, v in source.items() if k in Incident.model_fields
                                        and k != "revision"})
    if hit is not None and hit.get("_seq_no") is not None:
        incident.revision = f"{hit['_seq_no']}:{hit['_primary_term']}"
    return incident


def _cas(revision: str) -> dict[str, int]:
    seq_no, _, term = revision.partition(":")
    return {"if_seq_no": int(seq_no), "if_primary_term": int(term)}


def _item_reason(info: dict[str, Any]) -> tuple[str, str]:
    """(id, "status type: reason") of one failed bulk item."""
    op = next(iter(info.values()))
    error = op.get("error", "unknown error")
    if isinstance(error, dict):
        reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        caused = error.get("caused_by")
        if isinstance(caused, dict) and caused.get("reason"):
            reason += f" ({caused.get('type')}: {caused['reason']})"
    else:
        reason = str(error)
    return str(op.get("_id")), f"{op.get('status', '?')} {reason}".strip()


class ElasticsearchStore(Store):
    """``Store`` on an Elasticsearch 9 cluster (see the module docstring for the layout)."""

    def __init__(self, client: Elasticsearch, url: str, config: ElasticsearchConfig | None = None, *,
                 refresh: bool = True, bulk_chunk_size: int = 500, bulk_max_retries: int = 3,
                 bulk_initial_backoff_s: float = 1.0):
        self.client = client
        self.url = redact_url(url)
        self.config = config or ElasticsearchConfig()
        self.names = IndexNames(self.config.index_prefix)
        self.refresh = refresh
        """Make writes visible to the next read (what detectors evaluating right after ingest expect)."""
        self.bulk_chunk_size = bulk_chunk_size
        self.bulk_max_retries = bulk_max_retries
        self.bulk_initial_backoff_s = bulk_initial_backoff_s
        self.last_setup: list[Change] = []

    # ---- construction ----------------------------------------------------------------
    @classmethod
    def from_config(cls, config: Config, url: str, **options: Any) -> "ElasticsearchStore":
        """A store for ``url`` with credentials from the config placeholders or the environment
        (CRISISWATCH_ELASTICSEARCH_API_KEY, or _USERNAME/_PASSWORD); nothing is contacted yet."""
        es = config.store.elasticsearch
        return cls(connect(url, es), url, es, **options)

    # ---- errors ----------------------------------------------------------------------
    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn client exceptions into one-line StoreErrors naming the cluster."""
        try:
            yield
        except StoreError:
            raise
        except VersionMismatch as exc:
            raise StoreError(f"Elasticsearch at {self.url}: {exc}") from None
        except elasticsearch.UnsupportedProductError as exc:
            raise StoreError(f"{self.url} is not an Elasticsearch server the client supports: {exc.message}") from None
        except elasticsearch.AuthenticationException:
            raise StoreError(f"Elasticsearch at {self.url} refused the credentials while {doing} (HTTP 401): "
                             "check CRISISWATCH_ELASTICSEARCH_API_KEY or _USERNAME/_PASSWORD") from None
        except elasticsearch.AuthorizationException as exc:
            raise StoreError(f"Elasticsearch at {self.url} denied {doing} (HTTP 403): {_api_reason(exc)}") from None
        except elasticsearch.ApiError as exc:
            hint = " (run `crisiswatch es setup`)" if "index_not_found" in _api_reason(exc) else ""
            raise StoreError(f"Elasticsearch at {self.url} refused {doing} (HTTP {exc.meta.status}): "
                             f"{_api_reason(exc)}{hint}") from None
        except elastic_transport.ConnectionTimeout:
            raise StoreError(f"Elasticsearch at {self.url} did not answer in time while {doing} "
                             f"(timeout {self.config.request_timeout_s:g}s)") from None
        except elastic_transport.TlsError as exc:
            raise StoreError(f"TLS to Elasticsearch at {self.url} failed: {_first_line(exc)} "
                             "(set store.elasticsearch.ca_certs or verify_certs)") from None
        except elastic_transport.ConnectionError as exc:
            raise StoreError(f"cannot reach Elasticsearch at {self.url}: {_first_line(exc)}") from None
        except elastic_transport.TransportError as exc:
            raise StoreError(f"Elasticsearch at {self.url} failed while {doing}: {_first_line(exc)}") from None
        except RuntimeError as exc:  # apply_schema's refusals
            raise StoreError(f"Elasticsearch at {self.url}: {exc}") from None

    # ---- lifecycle -------------------------------------------------------------------
    def setup(self) -> None:
        """Check client/server majors, then apply templates and policy where they differ."""
        self.apply_schema()

    def apply_schema(self) -> list[Change]:
        with self._errors("checking the server version"):
            ensure_compatible(self.client)
        with self._errors("applying index templates and the ILM policy"):
            self.last_setup = apply_schema(self.client, self.config)
        for change in self.last_setup:
            if change.action != "unchanged":
                log.info("%s", change)
        return self.last_setup

    def check(self) -> list[CheckResult]:
        with self._errors("checking the cluster"):
            return check_cluster(self.client, self.config)

    def close(self) -> None:
        self.client.close()

    def _refresh(self, index: str) -> None:
        if self.refresh:
            self.client.indices.refresh(index=index)

    def _search(self, index: str, body: dict[str, Any], doing: str) -> dict[str, Any]:
        with self._errors(doing):
            return dict(self.client.search(index=index, body=body).body)

    # ---- bulk ------------------------------------------------------------------------
    def _bulk(self, actions: list[dict[str, Any]], doing: str) -> WriteResult:
        """Send actions in chunks, retrying rejected (429) items with backoff; every failed
        item is reported with its reason and the others are kept."""
        result = WriteResult()
        if not actions:
            return result
        try:
            with self._errors(doing):
                for ok, info in helpers.streaming_bulk(
                        self.client, actions, chunk_size=self.bulk_chunk_size, raise_on_error=False,
                        raise_on_exception=True, max_retries=self.bulk_max_retries,
                        initial_backoff=self.bulk_initial_backoff_s, max_backoff=60):
                    if ok:
                        result.written += 1
                    else:
                        item_id, reason = _item_reason(info)
                        result.failed.append(ItemError(item_id, reason))
        except StoreError as exc:
            # what was written stays written (writes are idempotent: the caller retries the batch)
            raise StoreError(f"{exc} ({result.written} of {len(actions)} items written before the failure)") from None
        return result

    def _locate(self, ids: list[str]) -> dict[str, str]:
        """Post id -> the concrete index holding it, for ids that exist."""
        found: dict[str, str] = {}
        for chunk in _chunks(dict.fromkeys(ids), LOOKUP_CHUNK):
            response = self._search(self.names.posts, q.ids_body(chunk, with_source=False), "looking up posts")
            for hit in response["hits"]["hits"]:
                found[hit["_id"]] = hit["_index"]
        return found

    # ---- posts -----------------------------------------------------------------------
    def upsert_posts(self, posts: Iterable[Post]) -> WriteResult:
        result = WriteResult()
        for chunk in _chunks(posts, LOOKUP_CHUNK):
            where = self._locate([p.id for p in chunk])
            actions = []
            for post in chunk:
                doc = post_document(post)
                if post.id in where:  # replace the content, keep the enrichment, in its own index
                    actions.append({"_op_type": "update", "_index": where[post.id], "_id": post.id,
                                    "script": {"source": q.REPLACE_POST_SCRIPT, "lang": "painless",
                                               "params": {"post": doc}}})
                else:
                    actions.append({"_op_type": "index", "_index": self.names.posts, "_id": post.id,
                                    "_source": doc})
            result += self._bulk(actions, "writing posts")
        if result.written:
            with self._errors("refreshing posts"):
                self._refresh(self.names.posts)
        return result

    def get_posts(self, ids: Iterable[str]) -> list[Post]:
        wanted = list(ids)
        found: dict[str, Post] = {}
        for chunk in _chunks(dict.fromkeys(wanted), LOOKUP_CHUNK):
            response = self._search(self.names.posts, q.ids_body(chunk, with_source=True), "reading posts")
            for hit in response["hits"]["hits"]:
                found[hit["_id"]] = post_from_source(hit["_source"])
        return [found[i] for i in wanted if i in found]

    def update_enrichments(self, enrichments: Iterable[Enrichment]) -> WriteResult:
        result = WriteResult()
        for chunk in _chunks(enrichments, LOOKUP_CHUNK):
            where = self._locate([e.post_id for e in chunk])
            actions = []
            for enrichment in chunk:
                if enrichment.post_id not in where:
                    result.failed.append(ItemError(enrichment.post_id, "no post with this id"))
                    continue
                actions.append({"_op_type": "update", "_index": where[enrichment.post_id], "_id": enrichment.post_id,
                                "script": {"source": q.SET_ENRICHMENT_SCRIPT, "lang": "painless",
                                           "params": {"enrichment": enrichment.model_dump(mode="json")}}})
            result += self._bulk(actions, "writing enrichments")
        if result.written:
            with self._errors("refreshing posts"):
                self._refresh(self.names.posts)
        return result

    def get_enrichments(self, post_ids: Iterable[str]) -> dict[str, Enrichment]:
        found: dict[str, Enrichment] = {}
        for chunk in _chunks(dict.fromkeys(post_ids), LOOKUP_CHUNK):
            body = q.ids_body(chunk, with_source=True)
            body["_source"] = ["enrichment"]
            for hit in self._search(self.names.posts, body, "reading enrichments")["hits"]["hits"]:
                if hit["_source"].get("enrichment"):
                    found[hit["_id"]] = Enrichment.model_validate(hit["_source"]["enrichment"])
        return found

    def _pages(self, filter: PostFilter | None, order: PostOrder, size: int,
               extra: list[dict[str, Any]] | None = None) -> Iterator[list[Post]]:
        """Pages of posts in ``order``, each fetched when the previous one was consumed."""
        after: list[Any] | None = None
        while True:
            body = q.posts_page_body(filter, order, size, after, extra)
            hits = self._search(self.names.posts, body, "reading posts")["hits"]["hits"]
            if not hits:
                return
            yield [post_from_source(hit["_source"]) for hit in hits]
            if len(hits) < size:
                return
            after = hits[-1]["sort"]

    def unenriched_batches(self, batch_size: int = 256, filter: PostFilter | None = None) -> Iterator[list[Post]]:
        yield from self._pages(filter, "created_at", batch_size, [q.UNENRICHED])

    def clear_enrichments(self, filter: PostFilter) -> int:
        with self._errors("clearing enrichments"):
            response = self.client.update_by_query(
                index=self.names.posts, conflicts="proceed", refresh=self.refresh,
                query=q.filter_query(filter, [q.ENRICHED]),
                script={"source": q.CLEAR_ENRICHMENT_SCRIPT, "lang": "painless"})
        return int(response["updated"])

    def count_posts(self, filter: PostFilter | None = None) -> int:
        with self._errors("counting posts"):
            return int(self.client.count(index=self.names.posts, body={"query": q.filter_query(filter)})["count"])

    def count_by_bucket(self, filter: PostFilter, start: datetime, end: datetime, size: timedelta) -> list[Bucket]:
        if size <= timedelta(0):
            raise ValueError("bucket size must be positive")
        start, end = as_utc(start), as_utc(end)
        starts: list[datetime] = []
        cursor = start
        while cursor < end:
            starts.append(cursor)
            cursor += size
        counts = [0] * len(starts)
        size_ms = size.total_seconds() * 1000
        start_ms = start.timestamp() * 1000
        # one request per MAX_BUCKETS buckets: clusters refuse more than search.max_buckets
        for first in range(0, len(starts), MAX_BUCKETS):
            part_end = min(end, start + size * (first + MAX_BUCKETS))
            body = q.histogram_body(filter, starts[first], part_end, size)
            response = self._search(self.names.posts, body, "counting per bucket")
            for bucket in response["aggregations"]["buckets"]["buckets"]:
                index = round((bucket["key"] - start_ms) / size_ms)
                if first <= index < len(counts):
                    counts[index] += bucket["doc_count"]
        return [Bucket(start=s, count=c) for s, c in zip(starts, counts)]

    def share(self, part: PostFilter, whole: PostFilter) -> Share:
        body = q.share_body(_intersect(part, whole), whole)
        response = self._search(self.names.posts, body, "computing a share")
        return Share(part=int(response["aggregations"]["part"]["doc_count"]),
                     whole=int(response["hits"]["total"]["value"]))

    def count_by_field(self, field: str, filter: PostFilter | None = None, limit: int = 50) -> list[TermCount]:
        response = self._search(self.names.posts, q.field_counts_body(field, filter, limit), f"counting by {field}")
        aggs = response["aggregations"]
        counts = [TermCount(str(b.get("key_as_string", b["key"])) if field != "topic_id" else str(b["key"]),
                            b["doc_count"]) for b in aggs["values"]["buckets"]]
        if aggs["none"]["doc_count"]:
            counts.append(TermCount("none", aggs["none"]["doc_count"]))
        counts.sort(key=lambda t: (-t.count, t.term))
        return counts[:limit]

    def top_terms(self, filter: PostFilter, limit: int = 20) -> list[TermCount]:
        response = self._search(self.names.posts, q.top_terms_body(filter, limit), "aggregating top terms")
        return [TermCount(b["key"], b["doc_count"]) for b in response["aggregations"]["terms"]["buckets"]]

    def top_posts(self, filter: PostFilter, order: PostOrder = "engagement", limit: int = 10) -> list[Post]:
        if limit <= 0:
            return []
        return next(self._pages(filter, order, limit), [])

    def iter_posts(self, filter: PostFilter | None = None, batch_size: int = 1000) -> Iterator[Post]:
        for page in self._pages(filter, "created_at", batch_size):
            yield from page

    def delete_posts(self, filter: PostFilter) -> int:
        with self._errors("deleting posts"):
            response = self.client.delete_by_query(index=self.names.posts, conflicts="proceed",
                                                   refresh=self.refresh, query=q.filter_query(filter))
        return int(response["deleted"])

    # ---- crawl state -----------------------------------------------------------------
    def _get_state_doc(self, doc_id: str) -> str | None:
        with self._errors("reading state"):
            try:
                return self.client.get(index=self.names.state, id=doc_id)["_source"].get("value")
            except NotFoundError:
                return None

    def _put_state_doc(self, doc_id: str, kind: str, key: str, value: str | None) -> None:
        with self._errors("saving state"):
            if value is None:
                self._delete_state(doc_id)
                return
            self.client.index(index=self.names.state, id=doc_id, refresh=self.refresh or None,
                              body={"kind": kind, "key": key, "value": value,
                                    "updated_at": q.es_time(datetime.now(timezone.utc))})

    def _delete_state(self, doc_id: str) -> None:
        try:
            self.client.delete(index=self.names.state, id=doc_id, refresh=self.refresh or None)
        except NotFoundError:
            pass

    def get_cursor(self, source: str, key: str = "") -> str | None:
        return self._get_state_doc(f"cursor|{source}|{key}")

    def set_cursor(self, source: str, value: str, key: str = "") -> None:
        self._put_state_doc(f"cursor|{source}|{key}", "cursor", f"{source}|{key}", value)

    def get_state(self, key: str) -> str | None:
        return self._get_state_doc(f"state|{key}")

    def set_state(self, key: str, value: str | None) -> None:
        self._put_state_doc(f"state|{key}", "state", key, value)

    def update_state(self, key: str, change: Callable[[str | None], str | None], attempts: int = 50) -> str | None:
        """Compare-and-set on the state document's ``if_seq_no``/``if_primary_term``
        (``op_type=create`` when there is none yet), retried while another process wins."""
        doc_id = f"state|{key}"
        with self._errors("updating state"):
            for _ in range(attempts):
                try:
                    found = self.client.get(index=self.names.state, id=doc_id)
                    current, cas = found["_source"].get("value"), {"if_seq_no": found["_seq_no"],
                                                                   "if_primary_term": found["_primary_term"]}
                except NotFoundError:
                    current, cas = None, None
                value = change(current)
                try:
                    if value is None:
                        if cas is not None:
                            self.client.delete(index=self.names.state, id=doc_id, refresh=self.refresh or None, **cas)
                        return None
                    self.client.index(index=self.names.state, id=doc_id, refresh=self.refresh or None,
                                      document={"kind": "state", "key": key, "value": value,
                                                "updated_at": q.es_time(datetime.now(timezone.utc))},
                                      **(cas or {"op_type": "create"}))
                    return value
                except (ConflictError, NotFoundError):
                    continue  # written or deleted meanwhile: read again
        raise StoreError(f"state {key!r}: changed by other processes {attempts} times in a row; try again")

    # the team's labels: state documents of kind "team_label", one per post and task
    def save_labels(self, labels: Iterable[TeamLabel]) -> int:
        import json

        count = 0
        now = datetime.now(timezone.utc)
        for label in labels:
            value = json.dumps({"post_id": label.post_id, "task": label.task, "label": label.label,
                                "source": label.source, "labelled_at": (label.labelled_at or now).isoformat()})
            self._put_state_doc(f"label|{label.task}|{label.post_id}", "team_label", f"{label.post_id}|{label.task}",
                                value)
            count += 1
        return count

    def get_labels(self, task: str | None = None) -> list[TeamLabel]:
        import json

        out: list[TeamLabel] = []
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {"size": 1000, "query": {"term": {"kind": "team_label"}},
                                    "sort": [{"key": "asc"}], "_source": ["value"]}
            if after:
                body["search_after"] = after
            hits = self._search(self.names.state, body, "reading team labels")["hits"]["hits"]
            for hit in hits:
                data = json.loads(hit["_source"]["value"])
                if task is None or data["task"] == task:
                    out.append(TeamLabel(data["post_id"], data["task"], data["label"], data.get("source", "import"),
                                         datetime.fromisoformat(data["labelled_at"])))
            if len(hits) < 1000:
                return out
            after = hits[-1]["sort"]

    def record_crawl(self, health: CrawlHealth) -> None:
        with self._errors("recording a crawl"):
            self.client.index(index=self.names.crawls, refresh=self.refresh or None,
                              body=health.model_dump(mode="json"))

    def crawl_history(self, source: str | None = None, limit: int = 20) -> list[CrawlHealth]:
        query: dict[str, Any] = {"term": {"source": source}} if source else {"match_all": {}}
        body = {"size": limit, "query": query,
                "sort": [{"started_at": {"order": "desc"}}, {"finished_at": {"order": "desc"}}]}
        hits = self._search(self.names.crawls, body, "reading crawl history")["hits"]["hits"]
        return [CrawlHealth.model_validate(hit["_source"]) for hit in hits]

    # ---- incidents -------------------------------------------------------------------
    def save_incident(self, incident: Incident) -> None:
        """Compare-and-set on ``if_seq_no``/``if_primary_term`` (``op_type=create`` for a new
        one). An active incident first holds its fingerprint's claim document (see
        ``_claim_fingerprint``); a resolved one lets it go after its write."""
        active = incident.state != IncidentState.resolved
        if active:
            self._claim_fingerprint(incident)
        options: dict[str, Any] = {"op_type": "create"} if incident.revision is None else _cas(incident.revision)
        with self._errors("saving an incident"):
            try:
                response = self.client.index(index=self.names.incidents, id=incident.id, refresh=self.refresh or None,
                                             document=incident_document(incident), **options)
            except ConflictError:
                raise IncidentConflict(incident.id) from None
        incident.revision = f"{response['_seq_no']}:{response['_primary_term']}"
        if not active:
            self._release_fingerprint(incident)

    def _claim_id(self, fingerprint: str) -> str:
        return "open-incident|" + hashlib.sha1(fingerprint.encode()).hexdigest()

    def _claim_fingerprint(self, incident: Incident) -> None:
        """One open incident per fingerprint: a state document with a deterministic id, made
        with ``op_type=create``, names the open incident; whoever cannot create it joins the
        incident it names. A claim left by an incident that was resolved (its release lost in a
        crash) or never written (after ``OPEN_CLAIM_GRACE``) is taken over by compare-and-set."""
        doc_id = self._claim_id(incident.fingerprint)
        body = {"kind": "open_incident", "key": incident.fingerprint, "value": incident.id,
                "updated_at": q.es_time(datetime.now(timezone.utc))}
        with self._errors("claiming an incident fingerprint"):
            for _ in range(5):
                try:
                    self.client.index(index=self.names.state, id=doc_id, op_type="create", document=body,
                                      refresh=self.refresh or None)
                    return
                except ConflictError:
                    pass
                try:
                    claim = self.client.get(index=self.names.state, id=doc_id)
                except NotFoundError:
                    continue  # released meanwhile: try to create it again
                holder = claim["_source"].get("value")
                if holder == incident.id:
                    return
                try:
                    other = self.client.get(index=self.names.incidents, id=holder)["_source"]
                except NotFoundError:
                    other = None
                claimed_at = as_utc(datetime.fromisoformat(claim["_source"]["updated_at"].replace("Z", "+00:00")))
                if other is not None and other.get("state") != IncidentState.resolved.value:
                    raise FingerprintTaken(incident.id, incident.fingerprint, holder)
                if other is None and datetime.now(timezone.utc) - claimed_at < OPEN_CLAIM_GRACE:
                    raise FingerprintTaken(incident.id, incident.fingerprint, holder)
                try:
                    self.client.index(index=self.names.state, id=doc_id, document=body, refresh=self.refresh or None,
                                      if_seq_no=claim["_seq_no"], if_primary_term=claim["_primary_term"])
                    return
                except ConflictError:
                    continue
        raise IncidentConflict(incident.id, f"could not claim fingerprint {incident.fingerprint!r}; try again")

    def _release_fingerprint(self, incident: Incident) -> None:
        doc_id = self._claim_id(incident.fingerprint)
        with self._errors("releasing an incident fingerprint"):
            try:
                claim = self.client.get(index=self.names.state, id=doc_id)
                if claim["_source"].get("value") == incident.id:
                    self.client.delete(index=self.names.state, id=doc_id, refresh=self.refresh or None,
                                       if_seq_no=claim["_seq_no"], if_primary_term=claim["_primary_term"])
            except (NotFoundError, ConflictError):
                pass  # gone, or taken over: either way not ours any more

    def get_incident(self, incident_id: str) -> Incident | None:
        with self._errors("reading an incident"):
            try:
                found = self.client.get(index=self.names.incidents, id=incident_id)
                return incident_from_source(found["_source"], found.body)
            except NotFoundError:
                pass
        body = {"size": 10, "query": {"prefix": {"id": {"value": incident_id}}}, "seq_no_primary_term": True,
                "sort": [{"id": {"order": "asc"}}]}
        hits = self._search(self.names.incidents, body, "reading an incident")["hits"]["hits"]
        if len(hits) > 1:
            matches = ", ".join(hit["_source"]["id"] for hit in hits)
            raise StoreError(f"incident id '{incident_id}' is ambiguous: it starts {matches}")
        return incident_from_source(hits[0]["_source"], hits[0]) if hits else None

    def find_incident(self, fingerprint: str, include_resolved: bool = False) -> Incident | None:
        query: dict[str, Any] = {"bool": {"filter": [{"term": {"fingerprint": fingerprint}}]}}
        if not include_resolved:
            query["bool"]["must_not"] = [{"term": {"state": "resolved"}}]
        body = {"size": 1, "query": query, "seq_no_primary_term": True,
                "sort": [{"opened_at": {"order": "desc"}}, {"id": {"order": "desc"}}]}
        hits = self._search(self.names.incidents, body, "finding an incident")["hits"]["hits"]
        return incident_from_source(hits[0]["_source"], hits[0]) if hits else None

    def list_incidents(self, states: Iterable[str] | None = None, since: datetime | None = None,
                       limit: int = 100) -> list[Incident]:
        clauses: list[dict[str, Any]] = []
        if states is not None:
            clauses.append(q._terms("state", tuple(states)))
        if since is not None:
            clauses.append({"range": {"updated_at": {"gte": q.es_time(since)}}})
        body = {"size": limit, "query": {"bool": {"filter": clauses}}, "seq_no_primary_term": True,
                "sort": [{"updated_at": {"order": "desc"}}, {"id": {"order": "asc"}}]}
        hits = self._search(self.names.incidents, body, "listing incidents")["hits"]["hits"]
        return [incident_from_source(hit["_source"], hit) for hit in hits]


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _api_reason(exc: elasticsearch.ApiError) -> str:
    """``type: reason`` from an error body, falling back to the exception's message."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict):
        cause = (error.get("root_cause") or [error])[0]
        return f"{cause.get('type', exc.message)}: {cause.get('reason', '')}".strip()
    return str(error or exc.message)


def connect(url: str, es: ElasticsearchConfig, environ: dict[str, str] | None = None) -> Elasticsearch:
    """An Elasticsearch client for ``url``; credentials come from the config's
    ``${CRISISWATCH_...}`` placeholders or the environment and are never logged."""
    env = os.environ if environ is None else environ
    options: dict[str, Any] = {
        "request_timeout": es.request_timeout_s,
        "max_retries": 3,  # connection failures and 502/503/504 (not timeouts: a slow query stays slow)
        "verify_certs": es.verify_certs,
    }
    if es.ca_certs:
        options["ca_certs"] = es.ca_certs
    try:
        api_key = resolve_secrets(es.api_key, env) if es.api_key else env.get("CRISISWATCH_ELASTICSEARCH_API_KEY")
        password = (resolve_secrets(es.password, env) if es.password
                    else env.get("CRISISWATCH_ELASTICSEARCH_PASSWORD"))
    except ConfigError as exc:
        raise StoreError(str(exc)) from None
    if api_key:
        options["api_key"] = api_key
    elif password:
        username = es.username or env.get("CRISISWATCH_ELASTICSEARCH_USERNAME") or "elastic"
        options["basic_auth"] = (username, password)
    try:
        return Elasticsearch(url, **options)
    except ValueError as exc:
        raise StoreError(f"invalid Elasticsearch URL {redact_url(url)}: {exc}") from None
