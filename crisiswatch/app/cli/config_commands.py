"""``crisiswatch config check FILE``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crisiswatch.app.cli.common import console, err_console
from crisiswatch.core.config import ConfigError, load_config, missing_secrets

app = typer.Typer(help="Check and inspect the configuration file.", no_args_is_help=True)


@app.command("check")
def check(file: Annotated[Path, typer.Argument(help="The YAML file to validate")]) -> None:
    """Validate FILE; print every problem as FILE:LINE: key.path: reason and exit 2 if any."""
    try:
        config = load_config(file)
        if unset := missing_secrets(file, config):
            raise ConfigError(unset)
    except ConfigError as exc:
        for problem in exc.problems:
            err_console.print(problem, highlight=False, markup=False)
        err_console.print(f"{len(exc.problems)} problem(s) in {file}", style="bold red")
        raise typer.Exit(2) from None
    backend = f"Elasticsearch at {config.elasticsearch_url()}" if config.elasticsearch_url() else \
        f"SQLite at {config.sqlite_path()}"
    console.print(f"{file}: OK — {len(config.watchlists)} watchlists, {len(config.sources)} sources, "
                  f"{len(config.rules)} rules, {len(config.channels)} channels, {len(config.routes)} routes; "
                  f"store: {backend}", highlight=False)
