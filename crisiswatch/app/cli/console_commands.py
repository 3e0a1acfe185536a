"""``crisiswatch serve`` (the web console) and ``crisiswatch users ...`` (its accounts)."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer

from crisiswatch.app.cli.common import ConfigOption, config_or_exit, console, err_console, fail, store_or_exit

users_app = typer.Typer(help="Console accounts: viewer, responder (acts on incidents), admin.", no_args_is_help=True)
PASSWORD_ENV = "CRISISWATCH_PASSWORD"


def register(root: typer.Typer) -> None:
    root.add_typer(users_app, name="users")
    root.command("serve")(serve)


def _password(confirm: bool = True) -> str:
    """From $CRISISWATCH_PASSWORD (scripts) or asked twice without echo; never an option (shell history)."""
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    first = getpass.getpass("password: ")
    if confirm and getpass.getpass("again: ") != first:
        raise fail("the two passwords differ")
    return first


@users_app.command("add")
def users_add(name: str, role: Annotated[str, typer.Option("--role", help="viewer, responder or admin")] = "responder",
              config: ConfigOption = None) -> None:
    """Add a user (password from $CRISISWATCH_PASSWORD or asked)."""
    from crisiswatch.app.users import UserError, Users

    cfg = config_or_exit(config)
    with store_or_exit(cfg) as store:
        try:
            user = Users(store).add(name, role, _password())
        except UserError as exc:
            raise fail(str(exc)) from None
    console.print(f"user {user.name} added ({user.role})", highlight=False, markup=False)


@users_app.command("list")
def users_list(config: ConfigOption = None) -> None:
    """Users and their roles."""
    from crisiswatch.app.users import Users

    cfg = config_or_exit(config)
    with store_or_exit(cfg) as store:
        users = Users(store).list()
    if not users:
        console.print("no users (add one: crisiswatch users add NAME --role admin)")
    for user in users:
        console.print(f"{user.name:<24} {user.role:<10} since {user.created_at}", highlight=False, markup=False)


@users_app.command("remove")
def users_remove(name: str, config: ConfigOption = None) -> None:
    """Remove a user (their sessions end at their next request)."""
    from crisiswatch.app.users import Users

    cfg = config_or_exit(config)
    with store_or_exit(cfg) as store:
        if not Users(store).remove(name):
            raise fail(f"no user '{name}'")
    console.print(f"user {name} removed", highlight=False, markup=False)


@users_app.command("passwd")
def users_passwd(name: str, config: ConfigOption = None) -> None:
    """Set a user's password (from $CRISISWATCH_PASSWORD or asked)."""
    from crisiswatch.app.users import UserError, Users

    cfg = config_or_exit(config)
    with store_or_exit(cfg) as store:
        try:
            Users(store).set_password(name, _password())
        except UserError as exc:
            raise fail(str(exc)) from None
    console.print(f"password of {name} changed", highlight=False, markup=False)


@users_app.command("token")
def users_token(name: str, revoke: Annotated[bool, typer.Option("--revoke", help="End the user's token")] = False,
                config: ConfigOption = None) -> None:
    """Make a JSON API token for a user (replacing their old one), or --revoke it. Shown once."""
    from crisiswatch.app.api_tokens import Tokens

    cfg = config_or_exit(config)
    with store_or_exit(cfg) as store:
        tokens = Tokens(store)
        if revoke:
            if not tokens.revoke(name):
                raise fail(f"user '{name}' has no API token")
            console.print(f"API token of {name} revoked", highlight=False, markup=False)
            return
        try:
            token = tokens.create(name)
        except KeyError:
            raise fail(f"no user '{name}'") from None
    err_console.print(f"API token of {name} (shown once; store it as a secret; "
                      "send it as `Authorization: Bearer TOKEN`):", highlight=False, markup=False)
    typer.echo(token)


def serve(host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
          port: Annotated[int, typer.Option("--port")] = 8000,
          config: ConfigOption = None) -> None:
    """The incident console in a browser (phone first): incidents, actions, acknowledge links."""
    try:
        import uvicorn

        from crisiswatch.app.console.app import create_app
    except ImportError as exc:
        raise fail(f"the console needs its extra: pip install 'crisiswatch[console]' ({exc.name} is missing)") from None
    from crisiswatch.core import signing
    from crisiswatch.core.store import open_store

    cfg = config_or_exit(config)
    if signing.secret_key() is None:
        console.print(f"[yellow]warning:[/] {signing.SECRET_ENV} is not set (or shorter than {signing.MIN_KEY_LENGTH} "
                      "characters): sessions end when the console stops and acknowledge links in messages "
                      "cannot be checked")
    with store_or_exit(cfg, open_store) as store:
        app = create_app(cfg, store)
        console.print(f"crisiswatch console on http://{host}:{port}/ (Ctrl-C stops it)", highlight=False)
        # With trusted-header sign-in the proxy's own address must reach the console unaltered
        # (uvicorn would otherwise replace it with X-Forwarded-For's client address).
        uvicorn.run(app, host=host, port=port, log_level="warning",
                    proxy_headers=not cfg.alerting.console_trusted_header)
