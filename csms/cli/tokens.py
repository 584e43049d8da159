"""``csms tokens``: the ID tokens (RFID cards, eMAIDs, ...) the CSMS authorizes."""

from __future__ import annotations

from typing import Annotated

import asyncpg
import typer

from csms.cli.base import DatabaseUrlOption, DataDirOption, JsonOption, with_store
from csms.cli.errors import not_found, shown, usage
from csms.cli.output import print_json, print_table
from csms.cli.times import time_option
from csms.store.tokens import TOKEN_STATUSES, add_token, list_tokens, remove_token

app = typer.Typer(help="Manage the ID tokens the CSMS authorizes.", no_args_is_help=True)

#: IdTokenType.idToken is at most 255 characters in 2.1 (36 in 2.0.1), its type at most 20.
MAX_TOKEN, MAX_TYPE = 255, 20

TokenArgument = Annotated[str, typer.Argument(metavar="TOKEN", help="The ID token value.")]


def check_token(token: str, name: str = "TOKEN") -> str:
    """Refuse a token value no station could send; the error names the argument ``name``."""
    if not token or len(token) > MAX_TOKEN or not token.isprintable():
        raise usage(f"{name}: must be 1 to {MAX_TOKEN} printable characters")
    return token


def check_type(token_type: str, option: str = "--type") -> str:
    """Refuse a token type longer than OCPP allows (2.0.1: an enum; 2.1: up to 20 chars)."""
    if not token_type or len(token_type) > MAX_TYPE or not token_type.isprintable():
        raise usage(f"{option}: must be 1 to {MAX_TYPE} printable characters (e.g. ISO14443)")
    return token_type


@app.command("add")
def add(
    token: TokenArgument,
    token_type: Annotated[
        str,
        typer.Option(
            "--type", help="Token type: ISO14443, ISO15693, eMAID, Central, KeyCode, Local, ..."
        ),
    ] = "ISO14443",
    status: Annotated[
        str,
        typer.Option("--status", help="Authorization status: " + ", ".join(TOKEN_STATUSES) + "."),
    ] = "Accepted",
    group: Annotated[
        str | None, typer.Option("--group", help="Group ID token (shared by a fleet's cards).")
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires",
            metavar="WHEN",
            help="Expiry: ISO 8601 (UTC unless an offset is given) or relative, e.g. +30d.",
        ),
    ] = None,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Add a token, or update the status, group and expiry of an existing one."""
    check_token(token)
    check_type(token_type)
    if status not in TOKEN_STATUSES:
        raise usage(f"--status: {shown(status)} is not one of {', '.join(TOKEN_STATUSES)}")
    if group is not None:
        check_token(group, "--group")
    expires_at = time_option("--expires", expires)

    async def go(db: asyncpg.Pool) -> None:
        await add_token(
            db, token, token_type, status=status, group_id_token=group, expires_at=expires_at
        )

    with_store(database_url, data_dir, go)
    typer.echo(f"token {token} ({token_type}) saved with status {status}")


@app.command("list")
def list_(
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List every token with its status, group and expiry."""
    tokens = with_store(database_url, data_dir, list_tokens)
    if json_out:
        print_json(tokens)
        return
    print_table(
        [vars(t) for t in tokens],
        ["id_token", "token_type", "status", "group_id_token", "expires_at"],
        empty="no tokens",
    )


@app.command("remove")
def remove(
    token: TokenArgument,
    token_type: Annotated[
        str | None,
        typer.Option("--type", help="Remove only the token of this type (default: every type)."),
    ] = None,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Remove a token; stations asking for it afterwards get Unknown."""
    removed = with_store(database_url, data_dir, lambda db: remove_token(db, token, token_type))
    if not removed:
        kind = f" of type {token_type}" if token_type else ""
        raise not_found(f"unknown token {shown(token)}{kind}")
    typer.echo(f"token {token} removed ({removed} entr{'y' if removed == 1 else 'ies'})")
