"""Check request bodies against Elastic's own API specification, offline.

The npm package ``@elastic/request-converter`` ships the compiled specification
(``dist/schema.json``, the elasticsearch-specification "metamodel": endpoints, requests and
types). ``make es-spec`` installs it into ``.cache/es-spec``. This module walks a JSON value
against a spec type and lists every mismatch with its JSON path: unknown properties,
missing required ones, wrong scalar kinds, unknown enum values, unknown mapping/query kinds.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SPEC_PATH = Path(os.environ.get(
    "CRISISWATCH_ES_SPEC", REPO / ".cache/es-spec/node_modules/@elastic/request-converter/dist/schema.json"))
ADDITIONAL = {"AdditionalProperties", "AdditionalProperty"}


@functools.cache
def load_spec() -> "Spec":
    return Spec(json.loads(SPEC_PATH.read_text(encoding="utf-8")))


class Spec:
    def __init__(self, model: dict[str, Any]):
        self.types = {(t["name"]["namespace"], t["name"]["name"]): t for t in model["types"]}
        self.endpoints = model["endpoints"]

    # ---- endpoints -------------------------------------------------------------------
    def endpoint_for(self, method: str, path: str) -> dict[str, Any]:
        """The endpoint whose URL template matches best (most literal segments)."""
        best: tuple[int, dict[str, Any]] | None = None
        segments = [s for s in path.split("?")[0].split("/") if s]
        for endpoint in self.endpoints:
            for url in endpoint["urls"]:
                if method not in url["methods"]:
                    continue
                template = [s for s in url["path"].split("/") if s]
                if len(template) != len(segments):
                    continue
                literal = 0
                for t, s in zip(template, segments):
                    if t.startswith("{"):
                        continue
                    if t != s:
                        break
                    literal += 1
                else:
                    if best is None or literal > best[0]:
                        best = (literal, endpoint)
        if best is None:
            raise LookupError(f"no endpoint in the specification for {method} {path}")
        return best[1]

    def request_type(self, endpoint: dict[str, Any]) -> dict[str, Any]:
        name = endpoint["request"]
        return self.types[(name["namespace"], name["name"])]

    def check_request(self, method: str, path: str, body: Any) -> list[str]:
        """Problems of one request body (a parsed JSON value, or a list of NDJSON lines)."""
        endpoint = self.endpoint_for(method, path)
        request = self.request_type(endpoint)
        kind = request["body"]["kind"]
        if endpoint["name"] == "bulk":
            return self._check_bulk(body)
        if kind == "no_body":
            return [] if body in (None, {}, b"", "") else [f"{endpoint['name']}: takes no body"]
        if kind == "properties":
            return self._check_object(body, request["body"]["properties"], set(), "$", container=False)
        return self.check(body, request["body"]["value"], "$")

    def _check_bulk(self, lines: list[Any]) -> list[str]:
        """NDJSON: an action line, then the document (index/create) or UpdateAction (update)."""
        problems: list[str] = []
        operation = {"kind": "instance_of", "type": {"namespace": "_global.bulk", "name": "OperationContainer"}}
        update = {"kind": "instance_of", "type": {"namespace": "_global.bulk", "name": "UpdateAction"}}
        index = 0
        while index < len(lines):
            action = lines[index]
            problems += self.check(action, operation, f"line {index + 1}")
            op = next(iter(action)) if isinstance(action, dict) and action else None
            if op in ("index", "create"):
                index += 1  # a document: any JSON object
                if index >= len(lines) or not isinstance(lines[index], dict):
                    problems.append(f"line {index + 1}: {op} needs a document line")
            elif op == "update":
                index += 1
                problems += self.check(lines[index] if index < len(lines) else None, update, f"line {index + 1}")
            index += 1
        return problems

    # ---- values ----------------------------------------------------------------------
    def check(self, value: Any, spec: dict[str, Any], path: str) -> list[str]:
        kind = spec["kind"]
        if kind == "user_defined_value":
            return []
        if kind == "literal_value":
            return [] if value == spec["value"] else [f"{path}: expected {spec['value']!r}, got {value!r}"]
        if kind == "array_of":
            if not isinstance(value, list):
                return [f"{path}: expected an array, got {type(value).__name__}"]
            return [p for i, item in enumerate(value) for p in self.check(item, spec["value"], f"{path}[{i}]")]
        if kind == "dictionary_of":
            if not isinstance(value, dict):
                return [f"{path}: expected an object, got {type(value).__name__}"]
            if spec.get("singleKey") and len(value) != 1:
                return [f"{path}: expected exactly one key, got {sorted(value)}"]
            return [p for k, v in value.items() for p in self.check(v, spec["value"], f"{path}.{k}")]
        if kind == "union_of":
            return self._check_union(value, spec["items"], path)
        if kind == "instance_of":
            return self._check_named(value, spec["type"], path)
        raise ValueError(f"unknown spec kind {kind}")

    def _check_union(self, value: Any, items: list[dict[str, Any]], path: str) -> list[str]:
        attempts = []
        for item in items:
            problems = self.check(value, item, path)
            if not problems:
                return []
            attempts.append(problems)
        # the closest alternative explains the mismatch best: one of the value's own shape
        shaped = [a for a in attempts if not a[0].startswith(f"{path}: expected")]
        if not shaped:
            return [f"{path}: expected one of a union's kinds, got {type(value).__name__} {value!r:.80}"]
        return min(shaped, key=len)

    def _check_named(self, value: Any, name: dict[str, str], path: str) -> list[str]:
        namespace, type_name = name["namespace"], name["name"]
        if namespace == "_builtins":
            return _check_builtin(value, type_name, path)
        definition = self.types.get((namespace, type_name))
        if definition is None:  # a generic parameter (TDocument ...): any value
            return []
        kind = definition["kind"]
        if kind == "type_alias":
            variants = definition.get("variants")
            if variants and variants["kind"] == "internal_tag" and definition["type"]["kind"] == "union_of":
                return self._check_internal_tag(value, definition, variants, path)
            return self.check(value, definition["type"], path)
        if kind == "enum":
            members = {m["name"] for m in definition["members"]}
            members |= {a for m in definition["members"] for a in m.get("aliases", [])}
            if isinstance(value, bool) and str(value).lower() in members:
                return []
            if isinstance(value, str) and (value in members or definition.get("isOpen")):
                return []
            return [f"{path}: {value!r} is not one of {type_name} {sorted(members)}"]
        if kind == "interface":
            return self._check_interface(value, definition, path)
        return [f"{path}: cannot check a {kind}"]

    def _check_internal_tag(self, value: Any, definition: dict[str, Any], variants: dict[str, Any],
                            path: str) -> list[str]:
        """Mapping properties and similar: the ``type`` key picks the variant."""
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        tag = value.get(variants["tag"], variants.get("defaultTag"))
        for item in definition["type"]["items"]:
            target = self.types.get((item["type"]["namespace"], item["type"]["name"]))
            if target is None:
                continue
            tag_property = next((p for p in self._properties(target) if p["name"] == variants["tag"]), None)
            if tag_property is None:
                continue
            if self._tag_values(tag_property["type"]) & {tag}:
                return self._check_interface(value, target, path)
        return [f"{path}: unknown {variants['tag']} {tag!r} for {definition['name']['name']}"]

    def _tag_values(self, spec: dict[str, Any]) -> set[str]:
        if spec["kind"] == "literal_value":
            return {str(spec["value"])}
        if spec["kind"] == "instance_of":
            definition = self.types.get((spec["type"]["namespace"], spec["type"]["name"]))
            if definition and definition["kind"] == "enum":
                return {m["name"] for m in definition["members"]}
        if spec["kind"] == "union_of":
            return set().union(*(self._tag_values(i) for i in spec["items"]))
        return set()

    def _properties(self, definition: dict[str, Any]) -> list[dict[str, Any]]:
        """Own and inherited properties."""
        properties = list(definition.get("properties", []))
        parent = definition.get("inherits")
        if parent:
            parent_def = self.types.get((parent["type"]["namespace"], parent["type"]["name"]))
            if parent_def:
                properties += self._properties(parent_def)
        return properties

    def _additional(self, definition: dict[str, Any]) -> dict[str, Any] | None:
        """The value type of keys beyond the declared properties (a field name -> options,
        as in ``{"sort": [{"created_at": {...}}]}``), or None when none are allowed."""
        for behavior in definition.get("behaviors", []):
            if behavior["type"]["name"] in ADDITIONAL:
                generics = behavior.get("generics") or []
                return generics[1] if len(generics) > 1 else {"kind": "user_defined_value"}
        if ADDITIONAL & set(definition.get("attachedBehaviors", [])):
            return {"kind": "user_defined_value"}
        parent = definition.get("inherits")
        if parent:
            parent_def = self.types.get((parent["type"]["namespace"], parent["type"]["name"]))
            return self._additional(parent_def) if parent_def else None
        return None

    def _check_interface(self, value: Any, definition: dict[str, Any], path: str) -> list[str]:
        properties = self._properties(definition)
        shortcut = definition.get("shortcutProperty")
        if not isinstance(value, dict):
            if shortcut:
                prop = next(p for p in properties if p["name"] == shortcut)
                return self.check(value, prop["type"], path)
            return [f"{path}: expected an object ({definition['name']['name']}), got {type(value).__name__}"]
        container = (definition.get("variants") or {}).get("kind") == "container"
        return self._check_object(value, properties, set(), path, container=container,
                                  additional=self._additional(definition),
                                  type_name=definition["name"]["name"])

    def _check_object(self, value: Any, properties: list[dict[str, Any]], _seen: set[str], path: str, *,
                      container: bool, additional: dict[str, Any] | None = None, type_name: str = "body"
                      ) -> list[str]:
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        by_name: dict[str, dict[str, Any]] = {}
        for prop in properties:
            by_name.setdefault(prop["name"], prop)
            for alias in prop.get("aliases", []):
                by_name.setdefault(alias, prop)
        problems: list[str] = []
        variants = 0
        for key, item in value.items():
            prop = by_name.get(key)
            if prop is None:
                if additional is None:
                    problems.append(f"{path}: unknown property '{key}' of {type_name}")
                else:
                    variants += 1
                    problems += self.check(item, additional, f"{path}.{key}")
                continue
            if container and not prop.get("containerProperty"):
                variants += 1
            problems += self.check(item, prop["type"], f"{path}.{key}")
        if container and variants != 1:
            problems.append(f"{path}: a {type_name} needs exactly one variant, got {variants}")
        if not container:
            present = {by_name[k]["name"] for k in value if k in by_name}
            for prop in properties:
                if prop.get("required") and prop["name"] not in present:
                    problems.append(f"{path}: missing required property '{prop['name']}' of {type_name}")
        return problems


def _check_builtin(value: Any, name: str, path: str) -> list[str]:
    ok = {
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "null": lambda v: v is None,
        "binary": lambda v: isinstance(v, (str, bytes)),
        "void": lambda v: v is None,
    }.get(name)
    if ok is None:
        return []
    return [] if ok(value) else [f"{path}: expected {name}, got {value!r}"]


def parse_body(raw: bytes, content_type: str) -> Any:
    """A recorded body: JSON, or NDJSON (bulk) as a list of parsed lines."""
    if not raw:
        return None
    text = raw.decode("utf-8")
    if "x-ndjson" in content_type or re.search(r"\n\s*\{", text.strip()):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)
