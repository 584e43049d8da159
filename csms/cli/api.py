"""``csms api`` (the HTTP API, a process of its own) and ``csms api-keys`` (its keys)."""

from __future__ import annotations

from typing import Annotated

import asyncpg
import typer

from csms.cli.base import (
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    check_listen_host,
    resolve_url,
    with_store,
)
from csms.cli.errors import not_found, usage
from csms.cli.output import print_json, print_table
from csms.store import api_keys
from csms.store.api_keys import SCOPES

keys_app = typer.Typer(help="Keys of the HTTP API: create (shown once), list, revoke.",
                       no_args_is_help=True)


def api(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: any free one).")]
    = 8080,
    workers: Annotated[int, typer.Option(min=1, max=64, help="API processes sharing the port "
                                         "(their metrics add up).")] = 1,
    webhooks: Annotated[bool, typer.Option(
        "--webhooks/--no-webhooks", help="Deliver webhooks from this process.")] = True,
    webhook_lease: Annotated[float, typer.Option(
        min=1.0, max=3600.0, metavar="SECONDS",
        help="How long a webhook subscription stays with the API process delivering it "
             "without a sign of life; another process takes over a dead one's after that. "
             "A receiver gets half of it (at most 10 s) to answer.")]
    = 30.0,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run the HTTP API (OpenAPI at /openapi.json, docs at /docs, routes under /v1) on the
    CSMS database until SIGTERM; calls reach stations through `csms serve` nodes."""
    from csms.logging import LEVELS, configure_logging

    if log_level not in LEVELS:
        raise usage(f"--log-level: must be one of {', '.join(LEVELS)}")
    check_listen_host(host, port)
    configure_logging(log_level)
    url = resolve_url(database_url, data_dir)
    from csms.api.server import bind, run_api, settings_for

    try:
        sock = bind(host, port)
    except OSError as exc:
        raise usage(f"--port: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    where = sock.getsockname()
    shown = f"[{where[0]}]" if ":" in where[0] else where[0]
    typer.echo(f"csms api: http://{shown}:{where[1]} (OpenAPI /openapi.json, docs /docs)",
               err=True)
    try:
        run_api(settings_for(url, webhooks=webhooks, lease_s=webhook_lease), sock, workers=workers,
                log_level=log_level)
    finally:
        sock.close()


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Who or what the key is for.")],
    scope: Annotated[str, typer.Option(help="read, operate, dispatch or admin.")],
    json_out: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Make a key and print it, this once (only its hash is kept)."""
    if scope not in SCOPES:
        raise usage(f"--scope: must be one of {', '.join(SCOPES)}")
    if not 0 < len(name) <= 100:
        raise usage("NAME: must be 1 to 100 characters")
    from csms.api.auth import hash_key, new_key, shown_prefix

    key = new_key()

    async def go(db: asyncpg.Pool) -> api_keys.ApiKey:
        return await api_keys.add_key(db, name, scope, shown_prefix(key), hash_key(key))

    record = with_store(database_url, data_dir, go)
    if json_out:
        print_json({**vars(record), "key": key})
        return
    typer.echo(key)
    typer.echo(f"API key {record.id} ({name}, scope {scope}): shown once, keep it safe",
               err=True)


@keys_app.command("list")
def list_(json_out: JsonOption = False, database_url: DatabaseUrlOption = None,
          data_dir: DataDirOption = None) -> None:
    """List the keys (never the keys themselves), revoked ones included."""
    found = with_store(database_url, data_dir, api_keys.list_keys)
    if json_out:
        print_json(found)
        return
    print_table([vars(k) for k in found], ["id", "name", "scope", "prefix", "created_at",
                                            "last_used_at", "revoked_at"], empty="no API keys")


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[int, typer.Argument(metavar="ID", min=1, max=2**63 - 1,
                                          help="Key id (csms api-keys list).")],
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a key; API processes refuse it within seconds."""
    record = with_store(database_url, data_dir, lambda db: api_keys.revoke_key(db, key_id))
    if record is None:
        raise not_found(f"no API key {key_id}")
    typer.echo(f"API key {key_id} ({record.name}) revoked")


def dashboard_link(
    minutes: Annotated[int, typer.Option(
        min=1, max=7 * 24 * 60, help="How long the link opens the dashboard (at most a week).")]
    = 60,
    url: Annotated[str, typer.Option(
        envvar="CSMS_API_URL", help="Where browsers reach `csms api` (its base URL).")]
    = "http://127.0.0.1:8080",
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Print a signed link that opens a read-only view of the dashboard for a while.

    Anyone holding the link can look until it expires; it cannot change anything. Sessions
    and links end early only when the dashboard's secret is replaced (docs/dashboard.md).
    """
    from urllib.parse import quote, urlsplit

    from csms.api.dashboard.signing import link_credential
    from csms.store.dashboard_secret import signing_secret

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise usage(f"--url: not an http(s) base URL: {url}")
    secret = with_store(database_url, data_dir, signing_secret)
    credential = link_credential(secret, minutes)
    typer.echo(f"{url.rstrip('/')}/dashboard/link?t={quote(credential, safe='')}")


def register(app: typer.Typer) -> None:
    """Add ``csms api``, ``csms api-keys`` and ``csms dashboard-link`` to the command line."""
    app.command("api", rich_help_panel="Server")(api)
    app.command("dashboard-link", rich_help_panel="Server")(dashboard_link)
    app.add_typer(keys_app, name="api-keys", rich_help_panel="Server")



