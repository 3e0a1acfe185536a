"""The import contract of the layout (README, "What may import what"), checked on the source.

Every import counts, including the ones inside functions: a lazy import hides an arrow from
a reader, not from the design. The check reads the files with ``ast``, so it needs nothing
installed and names the file and line of each forbidden import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("crisiswatch", "crawlers", "nlp", "alerts", "scenarios", "dags")
CORE = "crisiswatch.core"
APP = "crisiswatch.app"
COMPONENTS = ("crawlers", "nlp", "alerts", "crisiswatch.reports")


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer(module: str) -> str:
    for name in (CORE, APP, *COMPONENTS):
        if _within(module, name):
            return name
    return module.split(".")[0]  # scenarios, dags, or crisiswatch itself


def allowed(importer: str, imported: str) -> bool:
    """May ``importer`` import ``imported``? (both project modules)"""
    source, target = layer(importer), layer(imported)
    if source == target and source != "dags":
        return True
    if target == "dags":
        return False  # nothing imports the DAG files
    if source == CORE:
        return False  # the core imports nothing else of the project
    if source in COMPONENTS or source == "scenarios":
        return target == CORE
    if source == APP:
        return True
    if source == "dags":
        return _within(imported, f"{APP}.airflow_glue")
    return target == CORE  # crisiswatch/__init__ and anything else at the top


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """Project modules imported by one file, with line numbers (``from pkg import mod`` is an
    import of ``pkg.mod`` when that is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in PACKAGES:
                found.append((target, node.lineno))
    return found


def test_no_forbidden_import():
    modules = project_modules()
    problems = []
    for name, path in sorted(modules.items()):
        for target, line in imports_of(name, path, modules):
            if not allowed(name, target):
                problems.append(f"{path.relative_to(ROOT)}:{line}: {layer(name)} may not import {target}")
    assert not problems, "forbidden imports:\n" + "\n".join(problems)


def test_no_import_cycle():
    modules = project_modules()
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for target, _ in imports_of(name, path, modules):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("importer, imported, ok", [
    ("crisiswatch.core.config", "alerts.detectors", False),
    ("crisiswatch.core.store.sqlite", "crisiswatch.core.model", True),
    ("alerts.engine", "crisiswatch.core.store.base", True),
    ("alerts.engine", "nlp.enrich", False),
    ("crawlers.pipelines", "crisiswatch.app.cli.common", False),
    ("crisiswatch.reports.briefing", "alerts.notify", False),
    ("crisiswatch.app.steps", "nlp.enrich", True),
    ("dags.crawl_dag", "crisiswatch.app.airflow_glue", True),
    ("dags.crawl_dag", "crawlers.run", False),
    ("crisiswatch.app.steps", "dags.crawl_dag", False),
    ("dags.maintenance_dag", "crisiswatch.core.store", False),  # through the glue, not around it
    ("dags.enrich_dag", "nlp.enrich", False),  # the enrich step is the app's, not re-made in a DAG
    ("dags.alerts_dag", "crisiswatch.app.steps", False),
    ("crisiswatch.reports.briefing", "crisiswatch.app.steps", False),
    ("crisiswatch.reports.briefing", "crisiswatch.core.store.base", True),
    ("crisiswatch.app.operations", "alerts.notify", True),
    ("crisiswatch.app.airflow_glue", "crisiswatch.app.operations", True),
])
def test_the_contract_itself(importer, imported, ok):
    """The rule the check applies, on arrows a reader can judge (a check that allowed
    everything would pass the two tests above)."""
    assert allowed(importer, imported) is ok


def test_only_the_airflow_glue_and_the_dags_import_airflow():
    """Everything else runs where Airflow is not installed (``crisiswatch run``, the demo)."""
    importers = []
    for name, path in sorted(project_modules().items()):
        if name.startswith("dags.") or name == f"{APP}.airflow_glue":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            if any(n == "airflow" or n.startswith("airflow.") for n in names):
                importers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not importers, "airflow imported outside crisiswatch/app/airflow_glue.py:\n" + "\n".join(importers)
