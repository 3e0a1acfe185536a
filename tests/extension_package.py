"""A throw-away package that adds extensions through entry points, as a third party would.

``make_package`` writes modules and a ``*.dist-info`` folder (METADATA + entry_points.txt)
into a directory; with that directory on ``sys.path`` (or PYTHONPATH, for a subprocess such
as ``scrapy crawl``) ``importlib.metadata`` finds the entry points exactly as it finds those of
an installed wheel. Nothing is mocked: the registry reads real package metadata.
"""

from __future__ import annotations

import textwrap
from pathlib import Path


def make_package(root: Path, name: str, modules: dict[str, str],
                 entry_points: dict[str, dict[str, str]]) -> Path:
    """Write ``modules`` (dotted name -> source) and the metadata of distribution ``name``
    declaring ``entry_points`` (group -> {entry name: "module:attr"}) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for dotted, source in modules.items():
        path = root.joinpath(*dotted.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.parents:
            if parent == root:
                break
            (parent / "__init__.py").touch()
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / f"{name.replace('-', '_')}-0.0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n", encoding="utf-8")
    lines = []
    for group, entries in entry_points.items():
        lines.append(f"[{group}]")
        lines.extend(f"{entry} = {target}" for entry, target in entries.items())
        lines.append("")
    (info / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    return root
