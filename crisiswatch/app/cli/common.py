"""What every CLI command shares: the --config option, opening the store, clean errors."""

from __future__ import annotations

import contextlib
import os
import re
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


ACTOR_ENV = "CRISISWATCH_USER"
ActorOption = Annotated[
    Optional[str],
    typer.Option("--by", help=f"Who does this, recorded in the timeline (default: ${ACTOR_ENV})", show_default=False),
]
_ACTOR = re.compile(r"[^\x00-\x1f\x7f]{1,80}")


def actor_or_exit(by: str | None) -> str:
    """The person behind a state change: ``--by`` or $CRISISWATCH_USER, never nobody.

    Until the incident console brings real users, the timeline is the only record of who
    acknowledged, assigned or resolved; a default such as "cli" would make every entry
    anonymous, so a change without a name is refused instead of recorded."""
    actor = (by if by is not None else os.environ.get(ACTOR_ENV, "")).strip()
    if not actor:
        raise fail(f"who is doing this? give --by NAME or set {ACTOR_ENV} (the name goes into the incident "
                   "timeline)")
    if not _ACTOR.fullmatch(actor):
        raise fail("--by must be a name of at most 80 characters on one line")
    return actor


def actor_or_account(by: str | None) -> str:
    """Like ``actor_or_exit``, but for work done on the server itself (user management, drills):
    without --by or $CRISISWATCH_USER the system account running the command is the actor."""
    if by is None and not os.environ.get(ACTOR_ENV, "").strip():
        import getpass

        return f"{getpass.getuser()} (system account)"
    return actor_or_exit(by)


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
