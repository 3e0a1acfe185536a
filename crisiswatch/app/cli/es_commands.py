"""``crisiswatch es setup|check|templates`` and ``crisiswatch kibana import``."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

from crisiswatch.app.cli.common import ConfigOption, config_or_exit, console, fail, store_or_exit

if TYPE_CHECKING:
    from crisiswatch.core.store.elasticsearch import ElasticsearchStore

es_app = typer.Typer(help="Elasticsearch: apply templates and the ILM policy, check the cluster.",
                     no_args_is_help=True)
kibana_app = typer.Typer(help="Kibana: load the crisiswatch data views, visualisations and dashboard.",
                         no_args_is_help=True)


@contextlib.contextmanager
def _es_store_or_exit(config_path: Path | None) -> Iterator["ElasticsearchStore"]:
    """The configured Elasticsearch store, not set up (these commands do that or check it);
    a missing URL or an unreachable cluster is one clear error line."""
    from crisiswatch.core.store.elasticsearch import ElasticsearchStore

    config = config_or_exit(config_path)
    url = config.elasticsearch_url()
    if not url:
        raise fail("no Elasticsearch URL configured: set CRISISWATCH_ELASTICSEARCH_URL or store.elasticsearch.url")
    with store_or_exit(config, lambda cfg: ElasticsearchStore.from_config(cfg, url)) as store:
        yield store


@es_app.command("setup")
def es_setup(config_path: ConfigOption = None) -> None:
    """Apply the ILM policy, index templates and indices; says what changed (idempotent)."""
    with _es_store_or_exit(config_path) as store:
        changes = store.apply_schema()
    for change in changes:
        style = "dim" if change.action == "unchanged" else ("red" if "NOT" in change.action else "green")
        console.print(f"[{style}]{change}[/]", highlight=False)
    changed = sum(c.action != "unchanged" for c in changes)
    console.print(f"{changed} change(s) applied to {store.url}" if changed else f"{store.url} is up to date")
    if any("NOT" in c.action for c in changes):
        raise typer.Exit(1)


@es_app.command("check")
def es_check(config_path: ConfigOption = None) -> None:
    """Cluster health, client/server version compatibility, templates and policy current."""
    with _es_store_or_exit(config_path) as store:
        results = store.check()
    table = Table(title=f"Elasticsearch {store.url}")
    table.add_column("check")
    table.add_column("ok")
    table.add_column("detail")
    for result in results:
        table.add_row(result.name, "[green]yes[/]" if result.ok else "[red]NO[/]", result.detail)
    console.print(table)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@es_app.command("templates")
def es_templates(directory: Annotated[Path, typer.Argument(help="Where to write the JSON files")]
                 = Path("infra/elasticsearch"), config_path: ConfigOption = None) -> None:
    """Write the index templates and ILM policy this version applies, as JSON files."""
    from crisiswatch.core.store.es_schema import render_infra_files

    config = config_or_exit(config_path)
    for path in render_infra_files(directory, config.store.elasticsearch):
        console.print(f"wrote {path}")


@kibana_app.command("import")
def kibana_import(
    config_path: ConfigOption = None,
    kibana_url: Annotated[Optional[str], typer.Option("--kibana-url", envvar="CRISISWATCH_KIBANA_URL",
                                                      help="Default: kibana_url from the config")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", help="Saved objects NDJSON")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace objects that already exist")] = True,
) -> None:
    """Load data views, saved searches, visualisations and the "Crisis overview" dashboard."""
    from crisiswatch.core.kibana import SAVED_OBJECTS, KibanaError, import_saved_objects, kibana_auth_headers, saved_objects

    config = config_or_exit(config_path)
    url = kibana_url or config.kibana_url
    if not url:
        raise fail("no Kibana URL: pass --kibana-url, set CRISISWATCH_KIBANA_URL or kibana_url in the config")
    path = file or SAVED_OBJECTS
    if not path.exists():
        raise fail(f"saved objects file not found: {path}")
    ndjson = saved_objects(config.store.elasticsearch.index_prefix, path)
    try:
        report = import_saved_objects(url, ndjson, kibana_auth_headers(dict(os.environ)), overwrite=overwrite)
    except KibanaError as exc:
        raise fail(str(exc)) from None
    console.print(f"imported {report.success_count} saved object(s) into {url}")
    for error in report.errors:
        console.print(f"[red]failed:[/] {error}", highlight=False)
    if report.errors:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(es_app, name="es")
    app.add_typer(kibana_app, name="kibana")
