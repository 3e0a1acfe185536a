"""``crisiswatch serve`` (the web console) and ``crisiswatch users ...`` (its accounts)."""

from __future__ import annotations

import getpass
import os
from typing import Annotated, Optional

import typer

from crisiswatch.app.cli.common import (ActorOption, ConfigOption, actor_or_account, config_or_exit, console,
                                       err_console, fail, store_or_exit)

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
              by: ActorOption = None, config: ConfigOption = None) -> None:
    """Add a user (password from $CRISISWATCH_PASSWORD or asked)."""
    from crisiswatch.app.users import UserError, Users

    cfg = config_or_exit(config)
    actor = actor_or_account(by)  # refuse a bad --by before asking for a password
    with store_or_exit(cfg) as store:
        try:
            user = Users(store).add(name, role, _password(), by=actor)
        except UserError as exc:
            raise fail(str(exc)) from None
    console.print(f"user {user.name} added ({user.role})", highlight=False, markup=False)


@users_app.command("list")
def users_list(config: ConfigOption = None) -> None:
    """Users, their roles and API tokens."""
    from crisiswatch.app.api_tokens import Tokens
    from crisiswatch.app.users import Users

    cfg = config_or_exit(config)
    with store_or_exit(cfg) as store:
        users = Users(store).list()
        tokens = Tokens(store).list()
    if not users:
        console.print("no users (add one: crisiswatch users add NAME --role admin)")
    for user in users:
        console.print(f"{user.name:<24} {user.role:<10} since {user.created_at}", highlight=False, markup=False)
        for token in (t for t in tokens if t.user == user.name):
            console.print(f"    API token {_describe(token)}", highlight=False, markup=False)


def _describe(token) -> str:  # noqa: ANN001 - api_tokens.TokenInfo
    from crisiswatch.core.model import utc_now

    state = "expired" if token.expired(utc_now()) else "expires"
    used = f"last used {token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never used"
    return (f"'{token.name}' (id {token.id}), made {token.created_at:%Y-%m-%d %H:%M}, {state} "
            f"{token.expires_at:%Y-%m-%d %H:%M} UTC, {token.rate_per_minute}/min, {used}")


@users_app.command("remove")
def users_remove(name: str, by: ActorOption = None, config: ConfigOption = None) -> None:
    """Remove a user (their sessions end at their next request, their API tokens at once)."""
    from crisiswatch.app.users import Users

    cfg = config_or_exit(config)
    actor = actor_or_account(by)
    with store_or_exit(cfg) as store:
        if not Users(store).remove(name, by=actor):
            raise fail(f"no user '{name}'")
    console.print(f"user {name} removed", highlight=False, markup=False)


@users_app.command("passwd")
def users_passwd(name: str, by: ActorOption = None, config: ConfigOption = None) -> None:
    """Set a user's password (from $CRISISWATCH_PASSWORD or asked)."""
    from crisiswatch.app.users import UserError, Users

    cfg = config_or_exit(config)
    actor = actor_or_account(by)
    with store_or_exit(cfg) as store:
        try:
            Users(store).set_password(name, _password(), by=actor)
        except UserError as exc:
            raise fail(str(exc)) from None
    console.print(f"password of {name} changed", highlight=False, markup=False)


@users_app.command("token")
def users_token(name: Annotated[Optional[str], typer.Argument(help="The user (omit with --list for every user)")] = None,
                token_name: Annotated[str, typer.Option("--name", help="The token's name, e.g. ci (a new token under "
                                                       "a name the user already has replaces that one)")] = "default",
                expires: Annotated[str, typer.Option("--expires", help="Lifetime: 30d, 12w, 1h ... (at most 730d)")] = "90d",
                rate: Annotated[int, typer.Option("--rate", help="Requests per minute, across all console processes")] = 120,
                revoke: Annotated[Optional[str], typer.Option("--revoke", metavar="NAME|ID|all",
                                                              help="End the user's token of this name or id "
                                                                   "('all': every one of theirs)")] = None,
                list_: Annotated[bool, typer.Option("--list", help="Tokens (the user's, or everyone's): name, id, "
                                                                   "expiry, rate, last use")] = False,
                by: ActorOption = None, config: ConfigOption = None) -> None:
    """Make a named JSON API token for a user (shown once), --revoke one, or --list them."""
    from crisiswatch.app.api_tokens import Tokens
    from crisiswatch.core.schedule import parse_duration

    cfg = config_or_exit(config)
    if list_:
        with store_or_exit(cfg) as store:
            found = Tokens(store).list(name)
        if not found:
            console.print("no API tokens (make one: crisiswatch users token NAME --name ci)")
        for token in found:
            console.print(f"{token.user:<24} {_describe(token)}", highlight=False, markup=False)
        return
    if not name:
        raise fail("give a user name (or --list)")
    actor = actor_or_account(by)
    if revoke is not None:
        with store_or_exit(cfg) as store:
            gone = Tokens(store).revoke(name, None if revoke == "all" else revoke, by=actor)
        if not gone:
            raise fail(f"user '{name}' has no API token " + ("" if revoke == "all" else f"named or with id '{revoke}' ")
                       + f"(see: crisiswatch users token {name} --list)")
        for info in gone:
            console.print(f"API token '{info.name}' ({info.id}) of {name} revoked", highlight=False, markup=False)
        return
    try:
        lifetime = parse_duration(expires)
    except ValueError as exc:
        raise fail(f"--expires: {exc}") from None
    with store_or_exit(cfg) as store:
        tokens = Tokens(store)
        try:
            token = tokens.create(name, lifetime, rate, name=token_name, by=actor)
        except KeyError:
            raise fail(f"no user '{name}'") from None
        except ValueError as exc:
            raise fail(str(exc)) from None
        info = tokens.get(name, token_name)
    err_console.print(f"API token of {name}, {_describe(info)} (shown once; store it as a secret; "
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
