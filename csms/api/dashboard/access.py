"""Who may look at the dashboard: a session opened with an API key (any scope: the pages
only read), or a read-only link from ``csms dashboard-link``.

The credential (:mod:`csms.api.dashboard.signing`) travels in one cookie, HttpOnly (no script
reads it), SameSite=Lax (no other site's form or script request carries it), Secure when the
page came over HTTPS, and limited to ``/dashboard``. Logging out deletes it; revoking the
API key a session was opened with ends the session at its next request.
"""

from __future__ import annotations

import time
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from csms.api.context import ApiState
from csms.api.dashboard.rendering import render
from csms.api.dashboard.signing import SESSION_S, Grant, Kind, issue, verify
from csms.store import api_keys
from csms.store.dashboard_secret import signing_secret

COOKIE = "csms_dashboard"
PREFIX = "/dashboard"

router = APIRouter(prefix=PREFIX, include_in_schema=False)


async def secret_of(state: ApiState) -> bytes:
    """The signing secret (read once per process)."""
    secret = state.extras.get("dashboard_secret")
    if secret is None:
        secret = state.extras["dashboard_secret"] = await signing_secret(state.pool)
    return secret


async def viewer(request: Request) -> Grant | None:
    """The request's valid credential, or None (none, forged, expired, key revoked)."""
    credential = request.cookies.get(COOKIE)
    if not credential:
        return None
    state: ApiState = request.app.state.api
    grant = verify(await secret_of(state), credential)
    if grant is None:
        return None
    if grant.kind is Kind.SESSION:
        key = await api_keys.get_key(state.pool, grant.key_id)
        if key is None or key.revoked_at is not None:
            return None
    return grant


def to_login(request: Request) -> RedirectResponse:
    """Send the browser to the login page, coming back here afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PREFIX}/login?next={quote(here, safe='')}", status_code=303)


def _local(next_url: str | None) -> str:
    """``next`` only when it stays on the dashboard (no open redirect)."""
    if next_url and next_url.startswith(PREFIX + "/") and not next_url.startswith("//") \
            and "\\" not in next_url:
        return next_url
    return PREFIX + "/"


def _with_cookie(request: Request, response: Response, credential: str, max_age: int) -> None:
    response.set_cookie(COOKIE, credential, max_age=max_age, path=PREFIX, httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: Annotated[str | None, Query()] = None
                     ) -> Response:
    """The login form."""
    return render(request, "login.html", {"next": _local(next), "error": None})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, key: Annotated[str, Form(max_length=200)] = "",
                next: Annotated[str | None, Form(max_length=2000)] = None) -> Response:
    """Open a session with an API key."""
    state: ApiState = request.app.state.api
    record = await state.keys.lookup(state.pool, key.strip()) if key.strip() else None
    if record is None:
        return render(request, "login.html", {"next": _local(next),
                      "error": "That key is unknown or revoked."}, status_code=401)
    credential = issue(await secret_of(state), Kind.SESSION, record.id, record.scope,
                       int(time.time()) + SESSION_S)
    response = RedirectResponse(_local(next), status_code=303)
    _with_cookie(request, response, credential, SESSION_S)
    return response


@router.get("/link")
async def link(request: Request, t: Annotated[str, Query(max_length=300)] = "") -> Response:
    """Open a read-only view from a signed link (``csms dashboard-link``)."""
    state: ApiState = request.app.state.api
    grant = verify(await secret_of(state), t)
    if grant is None or grant.kind is not Kind.LINK:
        return render(request, "login.html", {
            "next": PREFIX + "/", "error": "That link has expired or is not valid: ask for a "
            "new one (csms dashboard-link), or log in with an API key."}, status_code=401)
    response = RedirectResponse(PREFIX + "/", status_code=303)
    _with_cookie(request, response, t, max(1, grant.expires - int(time.time())))
    return response


@router.post("/logout")
async def logout() -> Response:
    """End the session."""
    response = RedirectResponse(PREFIX + "/login", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="lax")
    return response
