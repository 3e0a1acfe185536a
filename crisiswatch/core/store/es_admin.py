"""Cluster-level work of the Elasticsearch store: version check, setup, health check.

``apply_schema`` is idempotent: it compares the content hash each managed body carries in
``_meta`` with the one Elasticsearch holds and writes only what differs, so running
``crisiswatch es setup`` twice reports "unchanged" the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import elasticsearch
from elasticsearch import Elasticsearch, NotFoundError

from crisiswatch.core.config import ElasticsearchConfig
from crisiswatch.core.store.es_schema import IndexNames, ilm_policy, index_templates

CLIENT_VERSION = elasticsearch.__versionstr__
CLIENT_MAJOR = int(CLIENT_VERSION.split(".")[0])


class VersionMismatch(Exception):
    """Client and server majors differ: the client's requests may be refused or misread."""


@dataclass(frozen=True)
class Change:
    """One thing ``apply_schema`` looked at and what it did: created, updated or unchanged."""

    kind: str
    name: str
    action: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.action}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def server_info(client: Elasticsearch) -> dict[str, Any]:
    """GET / with a plain JSON Accept header: a server of another major refuses the
    client's versioned media type, and we want its version number, not that refusal."""
    response = client.perform_request("GET", "/", headers={"accept": "application/json"})
    return dict(response.body)


def server_version(client: Elasticsearch) -> str:
    return str(server_info(client).get("version", {}).get("number", "unknown"))


def ensure_compatible(client: Elasticsearch) -> str:
    """The server's version; raises VersionMismatch when its major is not the client's."""
    version = server_version(client)
    major = version.split(".")[0]
    if not major.isdigit() or int(major) != CLIENT_MAJOR:
        raise VersionMismatch(
            f"server is Elasticsearch {version} but the Python client is elasticsearch {CLIENT_VERSION}: "
            f"the majors must be equal (install elasticsearch>={major}.0,<{major}.99 for that server, "
            f"or run an Elasticsearch {CLIENT_MAJOR}.x server)")
    return version


def _hash(meta_holder: dict[str, Any] | None) -> str | None:
    return ((meta_holder or {}).get("_meta") or {}).get("hash")


def _current_policy(client: Elasticsearch, name: str) -> dict[str, Any] | None:
    try:
        return dict(client.ilm.get_lifecycle(name=name).body)[name]["policy"]
    except NotFoundError:
        return None


def _current_template(client: Elasticsearch, name: str) -> dict[str, Any] | None:
    try:
        found = client.indices.get_index_template(name=name).body["index_templates"]
    except NotFoundError:
        return None
    return found[0]["index_template"] if found else None


def apply_schema(client: Elasticsearch, config: ElasticsearchConfig) -> list[Change]:
    """Put the ILM policy and index templates where they differ, create the posts write
    index behind its alias and the small indices when missing, extend existing mappings."""
    names = IndexNames(config.index_prefix)
    changes: list[Change] = []

    policy = ilm_policy(config)
    current = _current_policy(client, names.posts_policy)
    if current is None or _hash(current) != _hash(policy["policy"]):
        client.ilm.put_lifecycle(name=names.posts_policy, body=policy)
        changes.append(Change("ILM policy", names.posts_policy, "created" if current is None else "updated"))
    else:
        changes.append(Change("ILM policy", names.posts_policy, "unchanged"))

    updated_templates: set[str] = set()
    for name, body in index_templates(config).items():
        current = _current_template(client, name)
        if current is None or _hash(current) != _hash(body):
            client.indices.put_index_template(name=name, body=body)
            updated_templates.add(name)
            changes.append(Change("index template", name, "created" if current is None else "updated"))
        else:
            changes.append(Change("index template", name, "unchanged"))

    templates = index_templates(config)
    if not client.indices.exists_alias(name=names.posts).body:
        if client.indices.exists(index=names.posts).body:
            raise RuntimeError(
                f"'{names.posts}' is a plain index, not the rollover alias crisiswatch writes through "
                f"(something wrote before setup); reindex it into '{names.posts_first_index}' and delete it")
        if _create_index(client, names.posts_first_index, {names.posts: {"is_write_index": True}}):
            changes.append(Change("index", names.posts_first_index, "created", f"write index of alias {names.posts}"))
    elif names.template("posts") in updated_templates:
        changes.append(_extend_mapping(client, names.posts, templates[names.template("posts")]))

    for kind, index in names.concrete_indices().items():
        if not client.indices.exists(index=index).body:
            if _create_index(client, index):
                changes.append(Change("index", index, "created"))
        elif names.template(kind) in updated_templates:
            changes.append(_extend_mapping(client, index, templates[names.template(kind)]))
    return changes


def _create_index(client: Elasticsearch, index: str, aliases: dict[str, Any] | None = None) -> bool:
    """Create an index; False when another process (a parallel Airflow task starting up)
    created it a moment earlier, which is just as good."""
    try:
        if aliases:
            client.indices.create(index=index, aliases=aliases)
        else:
            client.indices.create(index=index)
    except elasticsearch.BadRequestError as exc:
        if exc.message == "resource_already_exists_exception":
            return False
        raise
    return True


def _extend_mapping(client: Elasticsearch, index: str, template: dict[str, Any]) -> Change:
    """New fields of an updated template also reach indices that already exist (an
    incompatible change cannot: it is reported and needs a reindex)."""
    try:
        client.indices.put_mapping(index=index, body=mapping_update(template))
    except elasticsearch.BadRequestError as exc:
        return Change("mapping", index, "NOT updated", f"needs a reindex: {exc.message}")
    return Change("mapping", index, "updated")


def mapping_update(template: dict[str, Any]) -> dict[str, Any]:
    """Body of PUT <index>/_mapping carrying a template's fields (new ones get added)."""
    mappings = template["template"]["mappings"]
    return {key: mappings[key] for key in ("properties", "runtime") if key in mappings}


def check_cluster(client: Elasticsearch, config: ElasticsearchConfig) -> list[CheckResult]:
    """Health, client/server compatibility and whether the managed bodies are current."""
    names = IndexNames(config.index_prefix)
    results: list[CheckResult] = []
    try:
        version = ensure_compatible(client)
        results.append(CheckResult("version", True, f"server {version}, client {CLIENT_VERSION}"))
    except VersionMismatch as exc:
        results.append(CheckResult("version", False, str(exc)))
        return results  # further answers from an incompatible server are not trustworthy
    health = dict(client.cluster.health().body)
    status = health.get("status", "unknown")
    results.append(CheckResult("cluster health", status in ("green", "yellow"),
                               f"{health.get('cluster_name')}: {status}, {health.get('number_of_nodes')} node(s)"))
    policy = ilm_policy(config)["policy"]
    current = _current_policy(client, names.posts_policy)
    results.append(CheckResult(f"ILM policy {names.posts_policy}", _hash(current) == _hash(policy),
                               "current" if _hash(current) == _hash(policy)
                               else ("missing" if current is None else "outdated") + ": run `crisiswatch es setup`"))
    for name, body in index_templates(config).items():
        current = _current_template(client, name)
        ok = _hash(current) == _hash(body)
        results.append(CheckResult(f"index template {name}", ok, "current" if ok else
                                   ("missing" if current is None else "outdated") + ": run `crisiswatch es setup`"))
    alias_ok = bool(client.indices.exists_alias(name=names.posts).body)
    results.append(CheckResult(f"write alias {names.posts}", alias_ok,
                               "present" if alias_ok else "missing: run `crisiswatch es setup`"))
    return results
