"""Whatever an operator types to the grid commands: success, or one error line and a
documented exit code, never a traceback."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from csms.cli import app
from csms.cli.errors import ExitCode

COMMANDS = [["events", "create"], ["events", "show"], ["events", "cancel"],
            ["events", "report"], ["events", "list"], ["fleet", "capacity"],
            ["drivers", "set"], ["drivers", "opt-out"], ["programs", "add"]]
OPTIONS = ["--start", "--duration", "--target-kw", "--max", "--program", "--group", "--from",
           "--until", "--token", "--station", "--floor", "--departure", "--need-soc",
           "--need-kwh", "--window", "--compensation", "--interval", "--status", "--json"]
VALUES = st.one_of(st.sampled_from(["now", "+1h", "-5m", "2h", "0", "-3", "1e400", "nan",
                                    "16:00-21:00", "25:00", "dsgs", "x", "", "99999999999"]),
                   st.text(max_size=12))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(COMMANDS),
       args=st.lists(st.one_of(st.sampled_from(OPTIONS), VALUES), max_size=6))
def test_random_arguments_never_give_a_traceback(database_url: str, command: list[str],
                                                 args: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, *args, "--database-url", database_url],
                                prog_name="csms")
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exit_code in {int(c) for c in ExitCode} - {int(ExitCode.INTERNAL)}, (
        result.exit_code, result.stderr)
    if result.exit_code != 0:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
