"""The ``crisiswatch`` command: every sub-command lives here, in the app layer, one module per
area; heavy imports (scrapy, torch) stay inside the command functions so that ``--help`` stays fast
and a command whose component is not installed fails with a clear message, not at start-up."""

from __future__ import annotations

import typer

from crisiswatch.app.cli import (alerts_commands, config_commands, console_commands, crawl_commands, es_commands,
                                  nlp_commands, pipeline_commands, store_commands)

app = typer.Typer(name="crisiswatch", help="Social-media monitoring and crisis early warning.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(config_commands.app, name="config")
store_commands.register(app)


for _module in (crawl_commands, nlp_commands, alerts_commands, es_commands, pipeline_commands, console_commands):
    _module.register(app)


def main() -> None:
    app()
