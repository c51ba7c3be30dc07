"""/api/auth/*: log in and out, who am I, change password.

Every session comes with a second cookie, the device token (``DEVICE_COOKIE``): it
marks this browser as one that signed in to the account, so its later logins do not
wait behind the account's backoff (services/auth.py). It grants nothing else, and
outlives logout on purpose."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from wgpilot.domain.models import User
from wgpilot.services.auth import Session
from wgpilot.web import wire
from wgpilot.web.api import SESSION_COOKIE, ApiRequest, Op


def user_view(u: User) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "role": u.role, "created_at": u.created_at}


DEVICE_COOKIE = "__Host-wgpilot_device"
DEVICE_TTL = 365 * 86400


def with_cookie(response: Response, session: Session, ttl: int) -> Response:
    response.set_cookie(
        SESSION_COOKIE, session.token, max_age=ttl, path="/", secure=True, httponly=True, samesite="strict"
    )
    response.set_cookie(
        DEVICE_COOKIE,
        session.device,
        max_age=DEVICE_TTL,
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )
    return response


def clear_cookie(response: Response) -> Response:
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


def session_response(req: ApiRequest, session: Session, status: int = 200) -> Response:
    body = JSONResponse({"user": user_view(session.user)}, status_code=status)
    return with_cookie(body, session, req.state.auth.session_ttl)


async def login(req: ApiRequest) -> Response:
    device = req.request.cookies.get(DEVICE_COOKIE)
    session = await req.state.auth.login(req.body["username"], req.body["password"], req.ip, device)
    return session_response(req, session)


async def logout(req: ApiRequest) -> Response:
    if req.user is not None:
        await req.state.auth.logout(req.user, req.ip)
    return clear_cookie(Response(status_code=204))


async def me(req: ApiRequest) -> dict[str, Any]:
    assert req.user is not None, "only sessions have a user"
    return user_view(req.user)


async def change_password(req: ApiRequest) -> Response:
    assert req.user is not None
    session = await req.state.auth.change_password(
        req.user, req.body["current_password"], req.body["new_password"], req.ip
    )
    return with_cookie(Response(status_code=204), session, req.state.auth.session_ttl)


OPS = [
    Op(
        "POST",
        "/api/auth/login",
        login,
        "Log in; sets the session cookie",
        "auth",
        body=wire.LOGIN,
        response=wire.SESSION,
        auth="public",
    ),
    Op(
        "POST",
        "/api/auth/logout",
        logout,
        "Log out everywhere (revokes every session of the user)",
        "auth",
        status=204,
        auth="public",
    ),
    Op("GET", "/api/auth/me", me, "The logged-in user", "auth", response=wire.USER),
    Op(
        "PUT",
        "/api/auth/password",
        change_password,
        "Change password (revokes other sessions)",
        "auth",
        body=wire.PASSWORD_CHANGE,
        status=204,
    ),
]
