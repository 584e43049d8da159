"""Every error path of the ``csms`` command line that bad arguments reach ends in one stderr line
that names the problem: a non-zero exit status other than the one for bugs, no traceback, and no
Python ``None``, repr or object address in the message.

The commands are found by walking the typer application, so a new command is covered as soon as
it is registered: each of its parameters must have bad values here (numbers with a range get
theirs from the range) or be listed as taking any value, else the test fails naming it.

Each command starts from its required arguments with good values (``GOOD``); every case then
sets one parameter to one bad value, or leaves out one required parameter. Station ``CP-1``
exists and is not connected, so commands for stations get as far as their station.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import typer

from csms.cli import app
from csms.cli.errors import ExitCode, shown
from csms.store.stations import register_station
from tests.cli.conftest import run_cli, with_db

PASSWORD = "correct-horse-battery"
#: Under a regular file: nothing can be created there, not even by root.
NOWHERE = "{tmp}/not-a-directory"
#: Parameters every command has that are not about the command itself.
COMMON = {"database_url", "data_dir", "help"}
#: Commands that run a server: each case runs in a process of its own, so that a bad value
#: let through fails the test after a while instead of serving for ever, and the logging
#: they set up stays out of this process.
OWN_PROCESS = {"serve", "demo"}


def _leaves(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield " ".join(path), command
        return
    for name, sub in subcommands.items():
        yield from _leaves(sub, (*path, name))


COMMANDS = dict(_leaves(typer.main.get_command(app), ()))


def _key(param: Any) -> str:
    """An option by its first name (``--evse``), an argument by its Python name."""
    return param.opts[0] if param.opts[0].startswith("-") else param.name


# Good values, by parameter and, where a name means different things, by command and parameter.
GOOD: dict[str, str] = {
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
}
GOOD_FOR: dict[tuple[str, str], str] = {
    ("stations add", "station_id"): "CP-NEW",
    ("events create", "--duration"): "1h",
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
}
# Setting the first option removes the second from EXTRA (they exclude each other).
REPLACES = {"--generate-passwords": "--password", "--discharge-kw": "--charge-kw",
            "--target-kw": "--max", "--station": "--token", "--id-format": "--id-prefix"}

TIMES = ["soon", "2026-13-01", ""]
DURATIONS = ["soon", "-5m", ""]
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
    "--tls-key": [f"{NOWHERE}/key.pem"],
    "--tls-client-ca": [f"{NOWHERE}/ca.pem"],
    "--log-level": ["loud"],
    "--log-format": ["xml"],
    "--ocpp": ["3.0", ""],
}
BAD_FOR: dict[tuple[str, str], list[str]] = {
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
}
# Parameters that take any value: no value of theirs is an error.
ANY_VALUE = {
    ("transactions list", "--station"),  # a filter: an unknown station lists nothing
    ("meter-values export", "--station"),  # a filter: an unknown station exports nothing
    ("events create", "--group"),  # a filter: an unknown group has no stations to dispatch
    ("fleet capacity", "--group"),  # a filter: an unknown group has no EVs
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
        options.pop(REPLACES.get(_key(changed), ""), None)
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


def _run(args: list[str], own_process: bool) -> Any:
    """``csms ARGS`` in this process, or in one of its own (``exception`` None there)."""
    if not own_process:
        return run_cli(*args)
    done = subprocess.run([sys.executable, "-m", "csms", *args], capture_output=True,
                          text=True, timeout=60, check=False)
    return SimpleNamespace(exit_code=done.returncode, stdout=done.stdout, stderr=done.stderr,
                           exception=None)


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


@pytest.fixture
def seeded(database_url: str, tmp_path: Path) -> tuple[str, Path]:
    """A database with station CP-1 (never connected) and event 1; files for ``events
    import``."""
    with_db(database_url, lambda db: register_station(db, "CP-1", PASSWORD))
    created = run_cli("events", "create", "--start", "+1d", "--duration", "1h", "--max",
                      "--database-url", database_url)
    assert created.exit_code == 0, created.stderr
    (tmp_path / "dispatch.json").write_text(
        '{"id": "D1", "timeslots": [{"start_time": "2030-01-01T16:00:00Z",'
        ' "end_time": "2030-01-01T17:00:00Z", "energy_kw": 10}]}')
    (tmp_path / "not-json.json").write_text("{")
    (tmp_path / "not-a-directory").write_text("")
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "null-start.json").write_text(
        '{"id": "D2", "timeslots": [{"start_time": null, "end_time": "2030-01-01T17:00:00Z",'
        ' "energy_kw": 10}]}')
    return database_url, tmp_path


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
    database_url, _ = seeded
    for command, cmd in COMMANDS.items():
        params = [p for p in cmd.params if _key(p) == "station_id"]
        if not params or command in ("stations add", "certs station"):
            continue
        args = _arguments(command, cmd, params[0], "CP-NOPE")
        result = run_cli(*args, "--database-url", database_url)
        assert result.exit_code == ExitCode.NOT_FOUND, (command, result.stderr)
        assert "unknown station CP-NOPE" in result.stderr, (command, result.stderr)
