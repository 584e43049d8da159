"""Whatever arguments an operator types, the CLI answers with success or one error line."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csms.cli.errors import ExitCode
from tests.cli.conftest import run_cli

# (command words, options appended so that no example waits long for anything)
COMMANDS = [
    (["stations", "add"], []),
    (["stations", "list"], []),
    (["stations", "show"], []),
    (["stations", "remove"], []),
    (["stations", "import"], ["--count", "2"]),  # the last --count wins: few hashes
    (["stations", "set-password"], ["--timeout", "0.2"]),
    (["stations", "set-password", "CP-1"], ["--timeout", "0.2"]),
    (["tokens", "add"], []),
    (["tokens", "list"], []),
    (["tokens", "remove"], []),
    (["transactions", "list"], []),
    (["transactions", "show"], []),
    (["meter-values", "export"], []),
    (["data", "retention"], []),
    (["call", "CP-1"], ["--timeout", "0.2"]),
    (["reset", "CP-1"], ["--timeout", "0.2"]),
    (["get-variables", "CP-1"], ["--timeout", "0.2"]),
    (["set-variables", "CP-1"], ["--timeout", "0.2"]),
    (["trigger", "CP-1"], ["--timeout", "0.2"]),
    (["unlock", "CP-1"], ["--timeout", "0.2"]),
    (["change-availability", "CP-1"], ["--timeout", "0.2"]),
    (["start-transaction", "CP-1"], ["--timeout", "0.2"]),
    (["stop-transaction", "CP-1"], ["--timeout", "0.2"]),
    (["transaction-status", "CP-1"], ["--timeout", "0.2"]),
    (["get-base-report", "CP-1"], ["--timeout", "0.2"]),
    (["local-list", "send", "CP-1"], ["--timeout", "0.2"]),
    (["local-list", "version"], ["--timeout", "0.2"]),
    (["local-list", "show"], []),
    (["reservations", "create", "CP-1"], ["--timeout", "0.2"]),
    (["reservations", "cancel"], ["--timeout", "0.2"]),
    (["reservations", "list"], []),
    ([], []),
]
OPTIONS = [
    "--password",
    "--security-profile",
    "--json",
    "--type",
    "--status",
    "--group",
    "--expires",
    "--station",
    "--active",
    "--since",
    "--limit",
    "--from",
    "--until",
    "--payload",
    "--timeout",
    "--queue-for",
    "--evse",
    "--connector",
    "--report",
    "--attribute-type",
    "--token",
    "--token-type",
    "--operative",
    "--inoperative",
    "--offline",
    "--full",
    "--diff",
    "--expires-in",
    "--expires-at",
    "--connector-type",
    "--id-prefix",
    "--count",
    "--first",
    "--help",
    "--bogus",
    "-x",
    "--",
]
WORDS = st.one_of(
    st.sampled_from(OPTIONS),
    st.text(max_size=12),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(
        [
            "now",
            "+2h",
            "-30m",
            "2026-11-05T16:00:00Z",
            "{}",
            '{"type": "Immediate"}',
            "[1]",
            "A.B",
            "A.B=1",
            "Heartbeat",
            "Reset",
            "correct-horse-battery",
            "1e400",
            "nan",
        ]
    ),
)




@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(command=st.sampled_from(COMMANDS), words=st.lists(WORDS, max_size=6))
def test_never_a_traceback(
    with_station: str, command: tuple[list[str], list[str]], words: list[str]
) -> None:
    prefix, suffix = command
    # a queued call exits 10 after --timeout, which the suffix keeps short
    result = run_cli(*prefix, *words, *suffix, "--database-url", with_station)
    assert isinstance(result.exception, SystemExit | None), repr(result.exception)
    assert "Traceback" not in result.stdout + result.stderr
    if result.exit_code != 0:
        # the database is fine, so a DATABASE error would mean a bad argument reached a query
        allowed = set(ExitCode) - {ExitCode.INTERNAL, ExitCode.DATABASE}
        assert result.exit_code in allowed, result.stderr
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith("csms")
