"""The ``crisiswatch`` command. Sub-commands live beside the package they drive and keep
heavy imports (scrapy, torch) inside the command functions so that ``--help`` stays fast."""

from __future__ import annotations

import typer

from crisiswatch.cli import config_commands, store_commands

app = typer.Typer(name="crisiswatch", help="Social-media monitoring and crisis early warning.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(config_commands.app, name="config")
store_commands.register(app)


def _register_components() -> None:
    """Sub-apps of the component packages (crawlers, nlp, alerts, Elasticsearch)."""
    import importlib

    for module_name in ("crawlers.cli", "nlp.cli", "alerts.cli", "crisiswatch.cli.es_commands",
                        "crisiswatch.cli.pipeline_commands"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # component not present in this checkout
            raise
        module.register(app)


_register_components()


def main() -> None:
    app()
