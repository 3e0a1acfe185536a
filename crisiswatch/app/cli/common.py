"""What every CLI command shares: the --config option, opening the store, clean errors."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from crisiswatch.core.config import Config, ConfigError, load_config
from crisiswatch.core.store import Store, StoreError, open_store

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # FILE:LINE: messages stay one line each (grep, CI logs)

ConfigOption = Annotated[
    Optional[Path],
    typer.Option("--config", "-c", help="Config file (default: $CRISISWATCH_CONFIG or ./crisiswatch.yaml)",
                 envvar="CRISISWATCH_CONFIG"),
]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error without a stack trace; ``raise fail(...)``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(code)


def config_or_exit(path: Path | None) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            err_console.print(problem, highlight=False, markup=False)
        raise typer.Exit(2) from None


@contextlib.contextmanager
def store_or_exit(config: Config, opener: Callable[[Config], Store] = open_store) -> Iterator[Store]:
    """Open the configured store (or ``opener(config)``'s); an unreachable one is one clear line, not a traceback."""
    try:
        store = opener(config)
    except StoreError as exc:
        raise fail(str(exc)) from None
    try:
        yield store
    except StoreError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
