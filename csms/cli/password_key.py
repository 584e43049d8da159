"""``csms password-key``: the server secret under which station passwords get a fast verifier
beside their scrypt hash (csms.security.password_key, docs/security.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from csms.cli.base import DatabaseUrlOption, DataDirOption, JsonOption, with_store
from csms.cli.errors import CliError, ExitCode, usage
from csms.cli.output import print_json
from csms.security.password_key import (
    PasswordKeyError,
    PasswordKeys,
    key_id,
    load_keys,
    write_keys,
)

#: The key file's name in the data directory when --password-key-file is not given.
DEFAULT_NAME = "password-key"

PasswordKeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--password-key-file",
        envvar="CSMS_PASSWORD_KEY_FILE",
        help="File of the password key (mode 0600; made by csms serve when missing). Default: "
        f"DATA_DIR/{DEFAULT_NAME}. Every node of one database needs the same file.",
        dir_okay=False, show_default=False,
    ),
]

app = typer.Typer(help="The password key: fast verification of station passwords after a "
                  "restart, worth nothing without this file.", no_args_is_help=True)


def key_file(option: Path | None, data_dir: Path | None) -> Path:
    """The key file: the option (or CSMS_PASSWORD_KEY_FILE), else DATA_DIR/password-key."""
    if option is not None:
        return option
    if os.environ.get("CSMS_PASSWORD_KEY_FILE"):
        return Path(os.environ["CSMS_PASSWORD_KEY_FILE"])
    from csms.store.embedded import default_data_dir

    return Path(data_dir or os.environ.get("CSMS_DATA_DIR") or default_data_dir()) / DEFAULT_NAME


def loaded(path: Path, *, create: bool) -> PasswordKeys:
    """The keys in ``path`` (made if missing and ``create``); a problem is a usage error."""
    if not create and not path.exists():
        raise usage(f"--password-key-file: {path} does not exist (csms serve makes it)")
    try:
        return load_keys(path, create=create)
    except (PasswordKeyError, OSError) as exc:
        raise usage(f"--password-key-file: {exc}") from None


def existing_keys(data_dir: Path | None) -> PasswordKeys | None:
    """The keys of the node's key file (CSMS_PASSWORD_KEY_FILE, else DATA_DIR/password-key)
    when it exists, so that a password set here gets its verifier at once; None without one
    (the station's first login then pays one scrypt and stores it)."""
    path = key_file(None, data_dir)
    return loaded(path, create=False) if path.exists() else None


@app.command("rotate")
def rotate(
    password_key_file: PasswordKeyFileOption = None,
    data_dir: DataDirOption = None,
    keep: Annotated[int, typer.Option(min=0, max=10, help="Retired keys kept in the file "
                                      "(still accepted, their verifiers rewritten under the "
                                      "new key at each station's next login).")] = 1,
) -> None:
    """Make a new current password key; the old one retires (kept while --keep allows).

    Running nodes read the file at start: restart them (all nodes of a database share the
    file). Verifiers under a key no longer in the file are ignored: those stations' next
    login costs one scrypt, then a verifier under the new key is stored.
    """
    path = key_file(password_key_file, data_dir)
    keys = loaded(path, create=False).rotated(keep)
    try:
        write_keys(path, keys)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}", ExitCode.USAGE) from None
    typer.echo(f"{path}: current key {keys.current_id}"
               + (f", retired {', '.join(key_id(k) for k in keys.retired)}" if keys.retired
                  else "")
               + "; restart the csms serve nodes to use it")


@app.command("status")
def status(
    password_key_file: PasswordKeyFileOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """The key file's keys, and how many stations have a verifier under each."""
    from csms.store.stations import password_verifier_keys

    path = key_file(password_key_file, data_dir)
    keys = loaded(path, create=False)
    counts = with_store(database_url, data_dir, password_verifier_keys)
    current, retired = keys.current_id, [key_id(k) for k in keys.retired]
    known = {current, *retired}
    result = {
        "file": str(path), "current_key": current, "retired_keys": retired,
        "stations": {
            "current_key": counts.get(current, 0),
            "retired_keys": sum(counts.get(k, 0) for k in retired),
            "unknown_key": sum(n for k, n in counts.items() if k is not None and k not in known),
            "no_verifier": counts.get(None, 0),
        },
    }
    if as_json:
        print_json(result)
        return
    typer.echo(f"key file       {path}")
    typer.echo(f"current key    {current}")
    typer.echo(f"retired keys   {', '.join(retired) or '-'}")
    for name, n in result["stations"].items():
        typer.echo(f"{name.replace('_', ' '):14} {n} stations")
