"""Every error path of the ``csms`` command line that bad arguments reach ends in one stderr line
that names the problem: a non-zero exit status other than the one for bugs, no traceback, and no
Python ``None``, repr or object address in the message.

The commands are found by walking the typer application, so a new command is covered as soon as
it is registered: each of its parameters must have bad values here (numbers with a range get
theirs from the range) or be listed as taking any value, else the test fails naming it.

Each command starts from its required arguments with good values (``GOOD``) and the options it
needs (``EXTRA``); every case then sets one parameter to one bad value, or leaves out one
required parameter. Station ``CP-1`` exists and is not connected, so commands for stations get
as far as their station; token ``04A2B3C4`` is authorized, event 1 exists, and ``{tmp}/pki``
holds a development PKI (a CA, and a server certificate and key it signed).

For speed, the seeded database is built once and copied for each command, and the cases run on
the click command built once from the application (in this process, or in a child forked from
it for the commands that run a server).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
import structlog
import typer
from typer.testing import CliRunner

from csms.cli import app
from csms.cli.errors import ExitCode, shown
from csms.security import pki
from csms.store.stations import register_station
from csms.store.tokens import add_token
from tests.cli.conftest import run_cli, with_db
from tests.store.fixtures import migrated_template, with_database

__all__ = ["migrated_template"]

PASSWORD = "correct-horse-battery"
#: Under a regular file: nothing can be created there, not even by root.
NOWHERE = "{tmp}/not-a-directory"
#: Parameters every command has that are not about the command itself.
COMMON = {"database_url", "data_dir", "help"}
#: Commands that run a server: each case runs in a child process forked from this one, so
#: that a bad value let through fails the test after a while instead of serving for ever, and
#: the logging and signal handlers they set up stay out of this process.
OWN_PROCESS = {"serve", "demo", "api"}


def _leaves(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield " ".join(path), command
        return
    for name, sub in subcommands.items():
        yield from _leaves(sub, (*path, name))


ROOT = typer.main.get_command(app)
COMMANDS = dict(_leaves(ROOT, ()))


def _key(param: Any) -> str:
    """An option by its first name (``--evse``), an argument by its Python name."""
    return param.opts[0] if param.opts[0].startswith("-") else param.name


# Good values, by parameter and, where a name means different things, by command and parameter.
GOOD: dict[str, str] = {
    "--scope": "read",
    "key_id": "1",
    "station_id": "CP-1",
    "action": "Reset",
    "variables": "OCPPCommCtrlr.HeartbeatInterval",
    "assignments": "OCPPCommCtrlr.HeartbeatInterval=60",
    "message": "Heartbeat",
    "transaction_id": "TX-1",
    "token": "04A2B3C4",
    "name": "NOPE",
    "event_id": "1",
    "group": "G1",
    "stations": "CP-1",
    "file": "{tmp}/dispatch.json",
    "--operative": "--operative",
    "--token": "04A2B3C4",
    "--evse": "1",
    "--connector": "1",
    "--count": "2",
    "--dir": "{tmp}/pki",
    "--duration": "3600",
    "--start": "+1h",
    "--from": "+1h",
    "--until": "+2h",
    "station_ids": "CP-1",
    "message_id": "1",
    "monitor_ids": "1",
    "severity": "5",
    "monitoring_base": "All",
    "reservation_id": "1",
    "--full": "--full",
    "--message": "Closed for maintenance at 18:00",
    "--location": "https://firmware.example.com/v2.1.bin",
    "--component": "EVSE@1",
    "--variable": "Power",
    "--value": "7000",
    "--severity": "5",
    "--energy-price": "0.30",
    "--currency": "EUR",
}
GOOD_FOR: dict[tuple[str, str], str] = {
    ("stations add", "station_id"): "CP-NEW",
    ("events create", "--duration"): "1h",
    ("certs install", "--type"): "V2GRootCertificate",
    ("certs install", "--file"): "{tmp}/pki/ca.pem",
    ("monitoring set", "--type"): "UpperThreshold",
    ("sites assign", "name"): "S1",
    ("sites set", "name"): "S1",
    ("sites show", "name"): "S1",
    ("sites meter import", "name"): "S1",
    ("sites meter import", "file"): "{tmp}/load.csv",
    ("sites add", "--import-kw"): "100",
    ("fleet forecast", "--date"): "2030-01-07",
    ("fleet forecast", "--from"): "16:00",
    ("fleet forecast", "--until"): "21:00",
    ("programs nominate", "--month"): "2030-07",
    ("programs nominate", "name"): "default",
    ("sites add", "--export-kw"): "0",
    ("sites set", "--import-kw"): "100",
    ("sites set", "--export-kw"): "0",
}
# Options a command needs to get past its first checks, though click does not require them
# (None: a flag).
EXTRA: dict[str, dict[str, str | None]] = {
    "stations add": {"--password": PASSWORD},
    "stations set-password": {"--password": PASSWORD},
    "stations import": {"--id-prefix": "IMP-", "--password": PASSWORD},
    "events create": {"--max": None},
    "profiles set": {"--charge-kw": "5"},
    "drivers set": {"--token": "04A2B3C4"},
    "drivers opt-out": {"--token": "04A2B3C4"},
    "certs ca": {"--cert": "{tmp}/pki/ca.pem", "--key": "{tmp}/pki/ca.key"},
    "certs delete": {"--serial": "0a"},
    "certs revoke": {"--serial": "0a"},
    "customer-info": {"--token": "04A2B3C4"},
    "monitoring report": {"--component": "EVSE@1"},
    "stations set-boot": {"--status": "Accepted"},
    "programs update": {"--no-display-message": None},
}
# Setting the option removes those it maps to from EXTRA (they exclude each other).
REPLACES = {"--generate-passwords": ("--password",), "--discharge-kw": ("--charge-kw",),
            "--target-kw": ("--max",), "--station": ("--token",),
            "--id-format": ("--id-prefix",), "--dir": ("--cert", "--key"),
            "--hash-data": ("--serial",), "--file": ("--serial",),
            "--customer-id": ("--token",), "--certificate-hash": ("--token",),
            "--default": ("--status",), "--display-message": ("--no-display-message",)}

TIMES = ["soon", "2026-13-01", ""]
DURATIONS = ["soon", "-5m", ""]
#: Files that hold no PEM certificate, or nothing to read.
NOT_PEM = ["{tmp}/missing.pem", "{tmp}/not-json.json", "{tmp}", "{tmp}/binary.pem"]
PRICES = ["abc", "-1", "nan", "inf", "1e9", "0.0000001", ""]
URLS = ["not a url", "ftp://example.com/x", "http://", ""]
HASH_DATA = ["{bad", "[1]", "{}", '{"hashAlgorithm": "SHA256"}',
             '{"hashAlgorithm": "MD5", "issuerNameHash": "ab", "issuerKeyHash": "cd",'
             ' "serialNumber": "01"}',
             '{"hashAlgorithm": "SHA256", "issuerNameHash": "zz", "issuerKeyHash": "cd",'
             ' "serialNumber": "01"}',
             '{"hashAlgorithm": "SHA256", "issuerNameHash": 1, "issuerKeyHash": "cd",'
             ' "serialNumber": "01"}', ""]
SERIALS = ["xyz", "", "-1", "1_0", "0x", "f" * 41]
# Bad values, by parameter and by command and parameter; numbers with a range add their own.
BAD: dict[str, list[str]] = {
    "station_id": ["CP-NOPE", "", "CP\x01"],
    "action": ["Heartbeat", "BootNotification", "TransactionEvent", "SignCertificate",
               "Frobnicate", ""],
    "variables": ["novariable", "A.", "A@x.B", ""],
    "assignments": ["A.B", "=1", "novariable=1"],
    "message": ["Bogus", ""],
    "transaction_id": ["X" * 37],
    "token": ["", "X" * 256],
    "name": ["", "X" * 65],
    "event_id": ["999", "abc"],
    "group": ["", "X" * 65],
    "stations": ["CP-NOPE"],
    "file": ["{tmp}/missing.json", "{tmp}/not-json.json", "{tmp}/list.json",
             "{tmp}/null-start.json", "{tmp}"],
    "--payload": ["{bad", "[1]", "null", '{"type": "Sometimes"}', '{"type": "Immediate", "x": 1}',
                  ""],
    "--queue-for": ["0s", *DURATIONS],
    "--timeout": ["nan", "inf"],
    "--attribute-type": ["Bogus", ""],
    "--report": ["Bogus", ""],
    "--token": ["", "X" * 37],
    "--token-type": ["Bogus", ""],
    "--password": ["short", "x" * 41],
    "--id-prefix": ["A:", "A B", "X" * 48],
    "--id-format": ["X-{", "X", "X-{name}", "X-{:s}", "X:{}", "{:060d}", "X-{!s:.0}"],
    "--generate-passwords": [f"{NOWHERE}/passwords.csv", "{tmp}/dispatch.json"],
    "--status": ["Bogus", ""],
    "--expires": TIMES,
    "--since": TIMES,
    "--from": TIMES,
    "--until": [*TIMES, "-1h"],
    "--start": TIMES,
    "--output": [f"{NOWHERE}/values.csv", "{tmp}"],
    "--charge-kw": ["nan"],
    "--discharge-kw": ["nan"],
    "--purpose": ["Bogus", ""],
    "--unit": ["kW", ""],
    "--dir": [f"{NOWHERE}/pki"],
    "--baseline": ["bogus"],
    "--baseline-percent": ["-1", "nan"],
    "--compensation": ["bogus"],
    "--rate-per-kwh": ["-1", "nan"],
    "--driver-share": ["101", "-1", "nan"],
    "--floor": ["101", "-1", "nan"],
    "--departure-soc": ["101"],
    "--control-interval": ["0s", "2h", *DURATIONS],
    "--settle": ["0s", "1h", *DURATIONS],
    "--meter-interval": ["0s", "1h", *DURATIONS],
    "--retry": ["0s", "2d", *DURATIONS],
    "--reserve": ["101"],
    "--allocator": ["bogus", ""],
    "--wear-cost": ["-1", "nan"],
    "--solve-budget": ["0s", "2m", *DURATIONS],
    "--import-kw": ["-1", "nan"],
    "--export-kw": ["-1", "nan"],
    "--meter": ["CP-NOPE", ""],
    "--date": ["tomorrow", "2026-02-30", ""],
    "--month": ["2026-13", "July", ""],
    "--weeks": ["0", "1000"],
    "--window": ["16:00", "25:00-26:00", "21:00-16:00", ""],
    "--timezone": ["Mars/Olympus", "", "../etc"],
    "--max-duration": ["0s", *DURATIONS],
    "--program": ["NOPE"],
    "--target-kw": ["0", "-1", "nan", "1e9"],
    "--interval": ["0s", *DURATIONS],
    "--csv": [f"{NOWHERE}/report.csv"],
    "--png": [f"{NOWHERE}/report.png"],
    "--departure": ["25:99", "soon", ""],
    "--need-soc": ["101"],
    "--need-kwh": ["-1", "nan"],
    "--capacity": ["0", "-1", "nan"],
    "--station": ["CP-NOPE"],
    "--host": ["no-such-host.invalid", "", "a" * 300],
    "--boot-policy": ["bogus"],
    "--tls-cert": [f"{NOWHERE}/cert.pem"],
    "--password-key-file": [f"{NOWHERE}/password-key"],
    "--raw": ["soon", "-3d", "0x"],
    "--compact": ["soon", "-3d"],
    "--rollups": ["soon", "-3d"],
    "--tls-key": [f"{NOWHERE}/key.pem"],
    "--tls-client-ca": [f"{NOWHERE}/ca.pem"],
    "--log-level": ["loud"],
    "--scope": ["bogus", ""],
    "key_id": ["999999", "abc", "-1"],
    "--log-format": ["xml"],
    "--loop": ["trio", ""],
    "--ocpp": ["3.0", ""],
    "station_ids": ["CP-NOPE", "", "CP\x01"],
    "monitoring_base": ["Bogus", ""],
    "reservation_id": ["999"],
    "--message": ["", "X" * 513],
    "--priority": ["Bogus", ""],
    "--state": ["Bogus", ""],
    "--format": ["Bogus", ""],
    "--language": ["", "X" * 9, "en\x01"],
    "--transaction": ["", "X" * 37],
    "--location": ["fw.bin", "X" * 513, "not a url", "http://", "https://x.example/\x01", ""],
    "--retrieve-at": TIMES,
    "--install-at": TIMES,
    "--signature": ["", "X" * 801, "not base64!"],
    "--signing-certificate": NOT_PEM,
    "--criterion": ["Bogus", ""],
    "--component": ["", "A.B", "A@x", "@1", "A@1:x"],
    "--variable": ["", "A.B", "A:"],
    "--value": ["nan", "inf", "abc"],
    "--expires-in": ["0s", "1000000000d", *DURATIONS],
    "--expires-at": [*TIMES, "-1h"],
    "--connector-type": ["", "Bogus"],
    "--customer-id": ["", "X" * 65],
    "--certificate-hash": ["a:b:c", "MD5:aa:bb:01", "SHA256:zz:bb:01", "SHA256:aa:bb:",
                           "SHA256:aa:bb:xyz", ""],
    "--hash-data": HASH_DATA,
    "--serial": SERIALS,
    "--issuer": ["", "no-such-issuer"],
    "--cert": [*NOT_PEM, "{tmp}/pki/ca.key", "{tmp}/pki/server.pem", ""],
    "--key": ["{tmp}/missing.key", "{tmp}/not-json.json", "{tmp}", "{tmp}/pki/ca.pem",
              "{tmp}/pki/server.key", ""],
    "--add": [*NOT_PEM, "{tmp}/pki/server.pem", ""],
    "--contract-url": URLS,
    "--ocsp-responder": URLS,
    "--reason": ["", "X" * 501],
    "--issuer-file": [*NOT_PEM, "{tmp}/pki/server.pem"],
    "--default": ["Bogus", ""],
    "--energy-price": PRICES,
    "--discharge-credit": PRICES,
    "--currency": ["EURO", "", "E1R", "\u20ac\u20ac\u20ac"],
    "--credit-program": ["NOPE", ""],
    "--upload-dir": [f"{NOWHERE}/uploads", "{tmp}/dispatch.json"],
    "--upload-url": URLS,
    "--display-message": ["", "{bogus}", "{", "{earned:>10}", "X" * 513],
}
BAD_FOR: dict[tuple[str, str], list[str]] = {
    ("dashboard-link", "--url"): URLS,
    ("api-keys create", "name"): ["", "X" * 101],
    ("stations add", "station_id"): ["CP:1", "CP 1", "C" * 49, "", "CP\x01"],
    ("certs station", "station_id"): ["CP/1", "", "C" * 49],
    ("reset", "--type"): ["Sometimes", ""],
    ("tokens add", "--type"): ["", "X" * 21],
    ("tokens remove", "token"): ["NOPE"],
    ("transactions show", "transaction_id"): ["TX-NOPE"],
    ("transactions show", "--station"): ["CP-NOPE"],
    ("tokens add", "--group"): ["", "X" * 256],
    ("events create", "--duration"): ["0s", *DURATIONS],
    ("events list", "--status"): ["bogus"],
    ("drivers set", "--token"): [""],
    ("start-transaction", "--token"): ["X" * 37],
    ("drivers opt-out", "--token"): [""],
    ("profiles set", "--discharge-kw"): ["0", "nan"],
    ("meter-values export", "--until"): TIMES,
    ("programs show", "name"): ["NOPE"],
    ("programs update", "name"): ["NOPE", "", "X" * 65],
    ("certs ca", "--dir"): [f"{NOWHERE}/pki", "{tmp}", "{tmp}/dispatch.json", ""],
    ("certs ca", "--type"): ["Bogus", "", "MORootCertificate"],
    ("certs delete", "--type"): ["Bogus", ""],
    ("certs install", "--type"): ["Bogus", "", "V2GCertificateChain"],
    ("certs install", "--file"): [*NOT_PEM, "{tmp}/pki/ca.key", "{tmp}/pki/server.pem", ""],
    ("certs installed", "--type"): ["Bogus", ""],
    ("certs renew", "--type"): ["Bogus", "", "V2GRootCertificate"],
    ("certs revocations", "--remove"): ["999"],
    ("certs revoke", "--file"): [*NOT_PEM, ""],
    ("certs roots", "--type"): ["Bogus", "", "V2GCertificateChain"],
    ("certs roots", "--remove"): ["", "%", "zz", "abcdef"],
    ("firmware update", "--install-at"): [*TIMES, "-1h"],
    ("logs get", "--type"): ["Bogus", ""],
    ("logs get", "--until"): TIMES,
    ("firmware status", "--station"): ["CP-NOPE", ""],
    ("logs list", "--station"): ["CP-NOPE", ""],
    ("monitoring set", "--type"): ["Bogus", ""],
    ("reservations create", "--group"): ["", "X" * 37],
    ("reservations list", "--station"): ["CP-NOPE", ""],
    ("tariffs remove", "--station"): ["CP-NOPE", ""],
    ("programs add", "--priority"): ["5000", "x"],
    ("fleet forecast", "--from"): ["25:00", "soon", ""],
    ("fleet forecast", "--until"): ["25:00", "soon", ""],
    ("tariffs set", "--station"): ["CP-NOPE", ""],
}
# Parameters that take any value: no value of theirs is an error.
ANY_VALUE = {
    ("transactions list", "--station"),  # a filter: an unknown station lists nothing
    ("meter-values export", "--station"),  # a filter: an unknown station exports nothing
    ("events create", "--group"),  # a filter: an unknown group has no stations to dispatch
    ("fleet capacity", "--group"),  # a filter: an unknown group has no EVs
    ("fleet forecast", "--group"),  # a filter: an unknown group has no history
    ("programs nominate", "--group"),  # a filter: an unknown group has no history
    ("tokens remove", "--type"),  # narrows which token is removed
}


def _bad_values(command: str, param: Any) -> list[str] | None:
    """The bad values of ``param`` of ``command``; None when nothing says what they are."""
    key = _key(param)
    if (command, key) in ANY_VALUE:
        return []
    listed = BAD_FOR.get((command, key), BAD.get(key))
    ranged: list[str] = []
    if param.min is not None or param.max is not None:
        ranged.append("abc")
        for bound, step in ((param.min, -1), (param.max, 1)):
            if bound is not None:
                ranged.append(str(bound + step))
    if listed is None and not ranged:
        return None
    return [*(listed or []), *ranged]


def _good(command: str, param: Any) -> str:
    key = _key(param)
    value = GOOD_FOR.get((command, key), GOOD.get(key))
    assert value is not None, f"csms {command}: no good value for {key}; add one to GOOD"
    return value


def _arguments(command: str, cmd: Any, changed: Any = None, value: str | None = None,
               omit: Any = None) -> list[str]:
    """The command line: the required parameters with good values and the command's EXTRA
    options, ``changed`` set to ``value``, ``omit`` left out."""
    positional: list[str] = []
    options = dict(EXTRA.get(command, {}))
    if changed is not None:
        for replaced in REPLACES.get(_key(changed), ()):
            options.pop(replaced, None)
        options.pop(_key(changed), None)
    for param in cmd.params:
        if param.name in COMMON or param is omit:
            continue
        if param is changed:
            text = value
        elif param.required:
            text = _good(command, param)
        else:
            continue
        if not param.opts[0].startswith("-"):
            positional.append(text or "")
        elif getattr(param, "is_flag", False):
            options[_key(param)] = None
        else:
            options[_key(param)] = text
    rendered = [part for option, text in options.items()
                for part in ([option] if text is None else [option, text])]
    return [*command.split(), *positional, *rendered]


REPR = re.compile(r"(?<![\w])'[^'\s][^']*'")


def _main(args: list[str]) -> tuple[int, BaseException | None]:
    """Run ``csms ARGS`` as :func:`csms.cli.main` does, on the command built once (typer
    builds it anew on every call, which costs more than most of these cases): the exit
    status, and the exception that ended the command (None for a success)."""
    try:
        ROOT.main(args=args, prog_name="csms")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
        return code, exc if code else None
    except Exception as exc:
        return 1, exc
    return 0, None


def _in_process(args: list[str]) -> Any:
    """``csms ARGS`` in this process, its output captured as typer's CliRunner does.

    A command that configures logging binds it to the captured stream, closed afterwards: the
    configuration the tests had is put back, so that later tests do not log to a closed file.
    """
    saved_structlog = structlog.get_config()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        with CliRunner().isolation() as (out, err, _):
            code, exception = _main(args)
            sys.stdout.flush()
            sys.stderr.flush()
            stdout, stderr = out.getvalue(), err.getvalue()
    finally:
        structlog.configure(**saved_structlog)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    return SimpleNamespace(exit_code=code, stdout=stdout.decode(errors="replace"),
                           stderr=stderr.decode(errors="replace"), exception=exception)


def _own_process(args: list[str], timeout: float = 60.0) -> Any:
    """``csms ARGS`` in a child forked from this process (which has imported csms already),
    its output in files of its own; ``exception`` None, as for any other process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # the child: never return into pytest
            code = 1
            try:
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                sys.stdout = open(1, "w", closefd=False)
                sys.stderr = open(2, "w", closefd=False)
                code, exception = _main(args)
                if exception is not None and not isinstance(exception, SystemExit):
                    traceback.print_exception(exception)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        deadline = time.monotonic() + timeout
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError(f"csms {shlex.join(args)}: still running after "
                                     f"{timeout:g} s (a bad value was let through)")
            time.sleep(0.01)
        out.seek(0)
        err.seek(0)
        return SimpleNamespace(exit_code=os.waitstatus_to_exitcode(done[1]),
                               stdout=out.read().decode(errors="replace"),
                               stderr=err.read().decode(errors="replace"), exception=None)


def _run(args: list[str], own_process: bool) -> Any:
    """``csms ARGS`` in this process, or in one of its own."""
    return _own_process(args) if own_process else _in_process(args)


def _names(param: Any, value: str | None) -> list[str]:
    """What a message about ``param`` set to ``value`` may name it by."""
    names = [*param.opts, param.name.upper()]
    if param.metavar:
        names.append(param.metavar.strip("[]."))  # [TX_ID], COMPONENT.VARIABLE...
    if value is not None:
        names.append(shown(value))
    return names


def _missing(cmd: Any, param: Any) -> list[str]:
    """What a message about leaving out ``param`` may name: the parameter, or for an argument
    any argument (the ones after it move up into its place)."""
    if param.opts[0].startswith("-"):
        return _names(param, None)
    return [name for p in cmd.params if not p.opts[0].startswith("-")
            for name in _names(p, None)]


def _problems(result: Any, args: list[str], names: list[str]) -> list[str]:
    """What is wrong with how ``csms ARGS`` failed (nothing when it failed well); the message
    must contain one of ``names``."""
    shown = " ".join(repr(a) for a in args)
    found = []
    if result.exit_code in (ExitCode.OK, ExitCode.INTERNAL):
        found.append(f"exit status {result.exit_code}")
    if not isinstance(result.exception, SystemExit | None):
        found.append(f"escaped {type(result.exception).__name__}")
    lines = result.stderr.splitlines()
    if len(lines) != 1:
        found.append(f"{len(lines)} stderr lines")
    text = result.stderr + result.stdout
    for bad in ("Traceback", "object at 0x"):
        if bad in text:
            found.append(f"{bad!r} in the output")
    line = lines[0] if lines else ""
    if not line.isprintable():
        found.append("a control character in the message")
    if re.search(r"\bNone\b", line):
        found.append("None in the message")
    # usage errors of the argument parser quote names ('--evse'); our own messages never do
    if not line.endswith("--help')") and REPR.search(line):
        found.append("a Python repr in the message")
    if lines and not any(name in line for name in names):
        found.append(f"no mention of {' or '.join(names)}")
    return [f"csms {shown}: {', '.join(found)}: {line!r}"] if found else []


def _sql(server_url: str, statement: str) -> None:
    """Run one statement on the test server's maintenance database."""
    async def go() -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()
    asyncio.run(go())


@pytest.fixture(scope="module")
def seeded_template(pg_server_url: str, migrated_template: str,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A database to copy for each test, with station CP-1 (never connected), token 04A2B3C4
    and event 1; and
    a development PKI (ca.pem, ca.key, server.pem, server.key) to copy beside each test's
    files.

    Seeding once and copying the database (``CREATE DATABASE ... TEMPLATE``) keeps the
    migrations and the seeding out of every test's setup.
    """
    name = "seeded_" + uuid.uuid4().hex[:12]
    _sql(pg_server_url, f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
    url = with_database(pg_server_url, name)
    with_db(url, lambda db: register_station(db, "CP-1", PASSWORD))
    # a token the CSMS authorizes, so that a reservation for it gets as far as the station
    with_db(url, lambda db: add_token(db, "04A2B3C4", "ISO14443"))
    created = run_cli("events", "create", "--start", "+1d", "--duration", "1h", "--max",
                      "--database-url", url)
    assert created.exit_code == 0, created.stderr
    site = run_cli("sites", "add", "S1", "--import-kw", "100", "--export-kw", "0",
                   "--database-url", url)
    assert site.exit_code == 0, site.stderr
    pki_dir = tmp_path_factory.mktemp("pki")
    pki.init_ca(pki_dir, overwrite=True)
    yield name, pki_dir
    _sql(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def seeded(pg_server_url: str, seeded_template: tuple[str, Path],
           tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A fresh copy of the seeded database; the PKI in ``{tmp}/pki``, and files for ``events
    import`` and the options that read files."""
    template, pki_dir = seeded_template
    name = "t_" + uuid.uuid4().hex[:16]
    _sql(pg_server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    shutil.copytree(pki_dir, tmp_path / "pki")
    (tmp_path / "dispatch.json").write_text(
        '{"id": "D1", "timeslots": [{"start_time": "2030-01-01T16:00:00Z",'
        ' "end_time": "2030-01-01T17:00:00Z", "energy_kw": 10}]}')
    (tmp_path / "not-json.json").write_text("{")
    (tmp_path / "load.csv").write_text("time,building_kw\n2030-01-01T16:00:00Z,12\n")
    (tmp_path / "not-a-directory").write_text("")
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "null-start.json").write_text(
        '{"id": "D2", "timeslots": [{"start_time": null, "end_time": "2030-01-01T17:00:00Z",'
        ' "energy_kw": 10}]}')
    (tmp_path / "binary.pem").write_bytes(b"\xff\xfe-----BEGIN CERTIFICATE-----\x00")
    yield with_database(pg_server_url, name), tmp_path
    _sql(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_error_is_one_plain_line(command: str, seeded: tuple[str, Path]) -> None:
    database_url, tmp = seeded
    cmd = COMMANDS[command]
    params = [p for p in cmd.params if p.name not in COMMON]
    cases: list[tuple[list[str], list[str]]] = []
    for param in params:
        if param.required:
            cases.append((_arguments(command, cmd, omit=param), _missing(cmd, param)))
        if getattr(param, "is_flag", False):
            continue
        values = _bad_values(command, param)
        assert values is not None, (
            f"csms {command}: no bad values known for {_key(param)}; add them to BAD (or the "
            "parameter to ANY_VALUE)")
        cases += [(_arguments(command, cmd, param, v), _names(param, v)) for v in values]
    database = (["--database-url", database_url]
                if any(p.name == "database_url" for p in cmd.params) else [])
    offenders = []
    for args, names in cases:
        args = [a.replace("{tmp}", str(tmp)) for a in args]
        names = [n.replace("{tmp}", str(tmp)) for n in names]
        offenders += _problems(_run([*args, *database], command in OWN_PROCESS), args, names)
    assert not offenders, "\n".join(offenders)


def test_unknown_stations_are_not_found(seeded: tuple[str, Path]) -> None:
    database_url, tmp = seeded
    for command, cmd in COMMANDS.items():
        params = [p for p in cmd.params if _key(p) in ("station_id", "station_ids")]
        if not params or command in ("stations add", "certs station"):
            continue
        args = [a.replace("{tmp}", str(tmp))
                for a in _arguments(command, cmd, params[0], "CP-NOPE")]
        result = _in_process([*args, "--database-url", database_url])
        assert result.exit_code == ExitCode.NOT_FOUND, (command, result.stderr)
        assert "unknown station CP-NOPE" in result.stderr, (command, result.stderr)
