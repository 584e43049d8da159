"""``/v1/programs``: demand-response programs (event windows, baseline, compensation), and
the DSGS monthly nomination a program's fleet can make."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Path, Query, Response

from csms.api import models_grid as g
from csms.api.auth import Scope, needs
from csms.api.context import Ctx
from csms.api.errors import conflict, invalid, not_found, responses
from csms.api.models import Page
from csms.api.pagination import Cursor, Limit, decode, encode
from csms.grid.rates import DSGS_MIN_AGGREGATION_KW, month_rate
from csms.grid.service import suggest_nomination
from csms.store.grid import events as store
from csms.store.grid.records import GridInputError, Program

router = APIRouter(prefix="/v1/programs", tags=["grid"])


def check_timezone(name: str, field: str = "timezone") -> None:
    """A 422 unless ``name`` is an IANA time zone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(f"{field}: unknown time zone {name}") from None


@router.get("", response_model=Page[g.Program], dependencies=[needs(Scope.READ)],
            responses=responses(401, 403, 422))
async def list_programs(ctx: Ctx, limit: Limit = 100, cursor: Cursor = None
                        ) -> Page[g.Program]:
    """The programs, by name."""
    after = decode(cursor, str)[0] if cursor else None
    found = [p for p in await store.list_programs(ctx.pool) if after is None or p.name > after]
    page = found[:limit]
    return Page[g.Program](items=[g.Program.model_validate(p) for p in page],
                           next_cursor=encode(page[-1].name) if len(found) > limit else None)


@router.get("/{name}", response_model=g.Program, dependencies=[needs(Scope.READ)],
            responses=responses(401, 403, 404, 422))
async def get_program(ctx: Ctx, name: Annotated[str, Path(max_length=64)]) -> g.Program:
    """One program."""
    program = await store.get_program(ctx.pool, name)
    if program is None:
        raise not_found(f"no program {name}")
    return g.Program.model_validate(program)


@router.post("", status_code=201, response_model=g.Program, dependencies=[needs(Scope.DISPATCH)],
             responses=responses(401, 403, 409, 422))
async def create_program(
    ctx: Ctx, body: g.Program, response: Response,
    replace: Annotated[bool, Query(description="Replace a program of that name.")] = False,
) -> g.Program:
    """Add a program (409 when the name is taken, unless ``?replace=true``)."""
    check_timezone(body.timezone)
    try:
        program = Program(**body.model_dump())
    except GridInputError as exc:
        raise invalid(str(exc)) from None
    try:
        await store.save_program(ctx.pool, program, replace=replace)
    except store.ProgramExists as exc:
        raise conflict(f"{exc} (give ?replace=true)") from None
    response.headers["Location"] = f"/v1/programs/{quote(program.name, safe='')}"
    return g.Program.model_validate(program)


@router.get("/{name}/nomination", response_model=g.Nomination,
            dependencies=[needs(Scope.READ)], responses=responses(401, 403, 404, 422))
async def nomination(
    ctx: Ctx, name: Annotated[str, Path(max_length=64)],
    month: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description=(
        "The month to nominate for, YYYY-MM."), examples=["2026-07"])],
    group: Annotated[str | None, Query(max_length=64, description="Only this station group.")]
    = None,
    weeks: Annotated[int, Query(ge=1, le=104, description="Weeks of history to learn from.")]
    = 8,
) -> g.Nomination:
    """Suggest a DSGS monthly nomination: the mean, over every candidate event block of the
    month (each day, 2-hour blocks in the program's window), of the kW the fleet holds with
    90 % probability, from the plug-in forecast (as ``csms programs nominate``)."""
    program = await store.get_program(ctx.pool, name)
    if program is None:
        raise not_found(f"no program {name}")
    try:
        found = await suggest_nomination(ctx.pool, program, month, weeks=weeks, group=group)
    except (GridInputError, ValueError) as exc:
        raise invalid(str(exc)) from None
    return g.Nomination(
        program=name, month=month, suggested_kw=found.suggested_kw,
        worst_block_p90_kw=round(found.worst_kw, 3), best_block_p90_kw=round(found.best_kw, 3),
        blocks=len(found.blocks), weeks_of_history=weeks,
        dsgs_rate_per_kw_month=month_rate(month, program.monthly_rates),
        dsgs_minimum_kw=DSGS_MIN_AGGREGATION_KW,
        below_dsgs_minimum=found.suggested_kw < DSGS_MIN_AGGREGATION_KW,
        by_block=[g.NominationBlock(start=b.start, until=b.end,
                                    expected_kw=round(b.expected_kw, 3),
                                    firm_p90_kw=round(b.firm_kw, 3)) for b in found.blocks])
