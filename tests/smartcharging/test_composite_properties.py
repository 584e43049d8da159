"""Property tests of the composite-schedule arithmetic against a brute-force reference.

Every input is built from the fixed instant T0 (nothing reads the clock), and the examples are
derandomized: a run tests the same examples on every machine and at every time of day, so a
failure reproduces by re-running.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from csms.smartcharging.composite import Electrical, composite_schedule
from csms.smartcharging.installed import InstalledProfile
from csms.smartcharging.model import ChargingProfile
from csms.smartcharging.schedule import CompositeSchedule
from tests.smartcharging.factories import T0, period, profile

TX_START = T0 - timedelta(minutes=20)
PROPERTY = settings(derandomize=True, deadline=None, database=None)
WINDOW = 4 * 3600
DAY = timedelta(days=1)


def ref_period_limit(p: ChargingProfile, t: datetime) -> float | None:
    """The limit ``p`` sets at ``t``, found by walking its occurrences one by one."""
    if p.valid_from is not None and t < p.valid_from:
        return None
    if p.valid_to is not None and t >= p.valid_to:
        return None
    schedule = p.schedule
    if p.kind == "Relative":
        anchor = TX_START
    elif p.kind == "Recurring":
        step = DAY if p.recurrency_kind == "Daily" else 7 * DAY
        anchor = schedule.start_schedule
        while anchor > t:
            anchor -= step
        while anchor + step <= t:
            anchor += step
    else:
        anchor = schedule.start_schedule
    if t < anchor:
        return None
    elapsed = (t - anchor).total_seconds()
    if schedule.duration is not None and elapsed >= schedule.duration:
        return None
    found = [q for q in schedule.periods if q.start_period <= elapsed]
    return found[-1].limit if found else None


def ref_winner(entries: list[InstalledProfile], t: datetime) -> float | None:
    """The limit of the highest-stackLevel entry with a period at ``t``."""
    active = [(e.profile.stack_level, e.evse_id, ref_period_limit(e.profile, t)) for e in entries]
    active = [a for a in active if a[2] is not None]
    return max(active)[2] if active else None


def ref_composite(entries: list[InstalledProfile], t: datetime) -> float | None:
    """Minimum of the station max, the external constraints and the Tx-or-TxDefault limit."""

    def group(purpose: str, evses: tuple[int, ...]) -> list[InstalledProfile]:
        return [e for e in entries if e.profile.purpose == purpose and e.evse_id in evses]

    tx = [e for e in group("TxProfile", (1,)) if e.profile.transaction_id == "tx-1"]
    tx_level = ref_winner(tx, t)
    if tx_level is None:
        tx_level = ref_winner(group("TxDefaultProfile", (0, 1)), t)
    caps = [ref_winner(group("ChargingStationMaxProfile", (0,)), t),
            ref_winner(group("ChargingStationExternalConstraints", (0,)), t),
            ref_winner(group("ChargingStationExternalConstraints", (1,)), t)]
    values = [v for v in [tx_level, *caps] if v is not None]
    return min(values) if values else None


@st.composite
def installed_profiles(draw: st.DrawFn) -> list[InstalledProfile]:
    """A random mix of purposes, kinds, stack levels, EVSEs, validity and periods (in W)."""
    roles = [("ChargingStationMaxProfile", 0), ("ChargingStationExternalConstraints", 0),
             ("ChargingStationExternalConstraints", 1), ("TxDefaultProfile", 0),
             ("TxDefaultProfile", 1), ("TxProfile", 1)]
    entries: list[InstalledProfile] = []
    for number in range(draw(st.integers(1, 8))):
        purpose, evse = draw(st.sampled_from(roles))
        kind = draw(st.sampled_from(["Absolute", "Relative", "Recurring"]))
        if purpose == "ChargingStationMaxProfile" and kind == "Relative":
            kind = "Absolute"
        starts = sorted(draw(st.sets(st.integers(1, 3 * 3600).map(lambda s: s - s % 60),
                                     max_size=3)))
        periods = tuple(period(s, limit=draw(st.integers(-20_000, 22_000)))
                        for s in [0, *starts])
        offset = draw(st.integers(-3 * 3600, 3 * 3600))
        valid = draw(st.sampled_from([None, "from", "to"]))
        entries.append(InstalledProfile(evse, profile(
            number + 1,
            purpose=purpose,
            kind=kind,
            stack_level=draw(st.integers(0, 3)) * 10 + number,  # K01.FR.06: no ties
            periods=periods,
            start=T0 + timedelta(seconds=offset) - (DAY if kind == "Recurring" else timedelta()),
            duration=draw(st.one_of(st.none(), st.integers(600, 4 * 3600))),
            recurrency_kind=draw(st.sampled_from(["Daily", "Weekly"]))
            if kind == "Recurring" else None,
            transaction_id=draw(st.sampled_from(["tx-1", "tx-1", "tx-2"]))
            if purpose == "TxProfile" else None,
            valid_from=T0 + timedelta(minutes=draw(st.integers(0, 180)))
            if valid == "from" else None,
            valid_to=T0 + timedelta(minutes=draw(st.integers(1, 180))) if valid == "to" else None,
        )))
    return entries


def instants(schedule: CompositeSchedule, extra: list[int]) -> list[datetime]:
    """Every period start, the instant before it, and some arbitrary offsets."""
    out = []
    for p in schedule.periods:
        out.append(schedule.schedule_start + timedelta(seconds=p.start_period))
        if p.start_period:
            out.append(schedule.schedule_start + timedelta(seconds=p.start_period - 1))
    out += [schedule.schedule_start + timedelta(seconds=s) for s in extra]
    return out


@settings(PROPERTY, max_examples=200)
@given(entries=installed_profiles(),
       extra=st.lists(st.integers(0, WINDOW - 1), min_size=1, max_size=20))
@example(  # a Daily profile that recurs inside the window, under a TxProfile that ends there
    entries=[
        InstalledProfile(0, profile(1, purpose="TxDefaultProfile", kind="Recurring",
                                    recurrency_kind="Daily", stack_level=0,
                                    start=T0 + timedelta(hours=2) - DAY,
                                    periods=(period(0, limit=6000), period(1800, limit=9000)))),
        InstalledProfile(1, profile(2, purpose="TxProfile", transaction_id="tx-1", stack_level=1,
                                    start=T0 + timedelta(minutes=90), duration=3600,
                                    periods=(period(0, limit=-4000),),
                                    valid_to=T0 + timedelta(minutes=150))),
    ],
    extra=[7199, 7200, 7201, 8999, 9000, 10_799, 10_800],
)
def test_composite_equals_minimum_of_applicable_limits(
    entries: list[InstalledProfile], extra: list[int]
) -> None:
    composite = composite_schedule(entries, 1, T0, WINDOW, "W", tx_start=TX_START,
                                   transaction_id="tx-1")
    for t in instants(composite, extra):
        assert composite.value_at(t).limit == ref_composite(entries, t), t


@settings(PROPERTY, max_examples=150)
@given(entries=installed_profiles(),
       extra=st.lists(st.integers(0, WINDOW - 1), min_size=1, max_size=20))
def test_composite_never_exceeds_an_applicable_limit(
    entries: list[InstalledProfile], extra: list[int]
) -> None:
    composite = composite_schedule(entries, 1, T0, WINDOW, "W", tx_start=TX_START,
                                   transaction_id="tx-1", default_limit=50_000)
    for t in instants(composite, extra):
        value = composite.value_at(t).limit
        for entry in entries:
            if entry.profile.purpose in ("ChargingStationMaxProfile",
                                         "ChargingStationExternalConstraints"):
                same_group = [e for e in entries if e.profile.purpose == entry.profile.purpose
                              and e.evse_id == entry.evse_id]
                winner = ref_winner(same_group, t)
                if winner is not None:
                    assert value <= winner


@settings(PROPERTY, max_examples=150)
@given(levels=st.lists(st.tuples(st.integers(0, 3600), st.integers(300, 3600),
                                 st.integers(0, 22_000)), min_size=1, max_size=6),
       probe=st.integers(0, 2 * 3600 - 1))
def test_stacking_picks_the_highest_stack_level_in_force(
    levels: list[tuple[int, int, int]], probe: int
) -> None:
    entries = [InstalledProfile(1, profile(i + 1, purpose="TxProfile", transaction_id="tx-1",
                                           stack_level=i, start=T0 + timedelta(seconds=start),
                                           duration=duration, periods=(period(0, limit=limit),)))
               for i, (start, duration, limit) in enumerate(levels)]
    t = T0 + timedelta(seconds=probe)
    in_force = [(i, limit) for i, (start, duration, limit) in enumerate(levels)
                if start <= probe < start + duration]
    composite = composite_schedule(entries, 1, T0, 2 * 3600, "W", tx_start=TX_START)
    expected = max(in_force)[1] if in_force else None
    assert composite.value_at(t).limit == expected


@settings(PROPERTY, max_examples=150)
@given(entries=installed_profiles(), split=st.integers(1, WINDOW - 1),
       extra=st.lists(st.integers(0, WINDOW - 1), min_size=1, max_size=20))
def test_time_splits_are_consistent(
    entries: list[InstalledProfile], split: int, extra: list[int]
) -> None:
    whole = composite_schedule(entries, 1, T0, WINDOW, "W", tx_start=TX_START,
                               transaction_id="tx-1")
    first = composite_schedule(entries, 1, T0, split, "W", tx_start=TX_START,
                               transaction_id="tx-1")
    second = composite_schedule(entries, 1, T0 + timedelta(seconds=split), WINDOW - split, "W",
                                tx_start=TX_START, transaction_id="tx-1")
    starts = [p.start_period for p in whole.periods]
    assert starts[0] == 0 and starts == sorted(set(starts)) and starts[-1] < WINDOW
    assert all(not a.same_values(b) for a, b in zip(whole.periods, whole.periods[1:],
                                                     strict=False))
    for t in instants(whole, extra):
        part = first if t < first.end else second
        assert part.value_at(t).same_values(whole.value_at(t)), t


@settings(PROPERTY, max_examples=100)
@given(entries=installed_profiles(), voltage=st.sampled_from([120.0, 230.0, 400.0]),
       phases=st.integers(1, 3))
def test_amperes_and_watts_agree(
    entries: list[InstalledProfile], voltage: float, phases: int
) -> None:
    el = Electrical(voltage=voltage, phases=phases)
    watts = composite_schedule(entries, 1, T0, WINDOW, "W", tx_start=TX_START, electrical=el)
    amps = composite_schedule(entries, 1, T0, WINDOW, "A", tx_start=TX_START, electrical=el)
    assert [p.start_period for p in watts.periods] == [p.start_period for p in amps.periods]
    for w, a in zip(watts.periods, amps.periods, strict=True):
        if w.limit is None:
            assert a.limit is None
        else:
            assert abs(a.limit * voltage * phases - w.limit) < 1e-6
