"""Routes for console sign-in and sessions, one's own password and TOTP, users and API tokens.

The session cookie is HttpOnly (scripts cannot read it), SameSite=Strict (other sites'
requests do not carry it), Secure when the request came over https, and has no expiry of its
own: the server ends sessions (``core.users.SessionPolicy``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from watchfloor.api.auth import (
    SESSION_COOKIE,
    CurrentPrincipal,
    CurrentSession,
    allowed,
    audit_refusal,
    csrf_token,
    same_origin,
    session_of,
)
from watchfloor.api.services import Services
from watchfloor.api.user_schemas import (
    LoginIn,
    MeOut,
    PasswordChangeIn,
    TokenCreatedOut,
    TokenIn,
    TokenList,
    TokenOut,
    TotpIn,
    TotpOut,
    UserChange,
    UserIn,
    UserList,
    UserOut,
)
from watchfloor.core.logins import Logins
from watchfloor.core.principals import Permission, Principal
from watchfloor.core.user_admin import UserAdmin

__all__ = ["sessions_router"]


def _logins(services: Services) -> Logins:
    return services.logins


def _admin(services: Services) -> UserAdmin:
    return services.user_admin


def _peer(request: Request) -> str | None:
    return request.client.host if request.client else None


LoginsDep = Annotated[Logins, Depends(_logins)]
AdminDep = Annotated[UserAdmin, Depends(_admin)]
UserManager = Annotated[Principal, allowed(Permission.MANAGE_USERS)]


def _forget_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


def sessions_router() -> APIRouter:
    """Return the router of ``/api/login``, ``/api/me…``, ``/api/users…`` and ``/api/tokens…``."""
    router = APIRouter(prefix="/api")

    @router.post(
        "/login",
        summary="Sign in to the console: sets the session cookie, returns the CSRF token",
        responses={401: {"description": "wrong credentials"}, 429: {"description": "limited"}},
    )
    async def login(
        body: LoginIn, request: Request, response: Response, logins: LoginsDep
    ) -> MeOut:
        # Another site must not sign a browser in to an account of its choosing.
        if not same_origin(request.headers, request):
            await audit_refusal(request, None, "csrf.refused", reason="cross-site sign-in")
            raise HTTPException(403, "cross-site sign-in refused")
        result = await logins.login(
            name=body.name, password=body.password, code=body.code, peer=_peer(request)
        )
        response.set_cookie(
            SESSION_COOKIE,
            result.token,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return MeOut.of_session(
            result.signed_in, csrf_token=csrf_token(result.token), idle=logins.policy.idle
        )

    @router.post("/logout", status_code=204, summary="End this console session")
    async def logout(
        signed_in: CurrentSession, request: Request, response: Response, logins: LoginsDep
    ) -> None:
        await logins.logout(signed_in, peer=_peer(request))
        _forget_cookie(response)

    @router.post("/sessions/end-all", status_code=204, summary="End every console session of mine")
    async def end_all(
        principal: CurrentPrincipal, request: Request, response: Response, logins: LoginsDep
    ) -> None:
        await logins.end_all(principal.user, peer=_peer(request))
        _forget_cookie(response)

    @router.get(
        "/me",
        summary="Who I am, what I may do, and when my session ends; "
        "also the console's keep-alive (a use of the session)",
    )
    async def me(principal: CurrentPrincipal, request: Request, logins: LoginsDep) -> MeOut:
        signed_in = session_of(request)
        if signed_in is None:
            return MeOut.of(principal)
        return MeOut.of_session(
            signed_in,
            csrf_token=csrf_token(request.cookies[SESSION_COOKIE]),
            idle=logins.policy.idle,
        )

    @router.post("/me/password", status_code=204, summary="Change my password")
    async def change_password(
        body: PasswordChangeIn, signed_in: CurrentSession, request: Request, logins: LoginsDep
    ) -> None:
        await logins.change_password(
            signed_in, current=body.current, new=body.new, peer=_peer(request)
        )

    @router.post(
        "/me/totp",
        summary="Enrol a TOTP second factor: without a code begin (the URI is shown once), "
        "with a code confirm",
    )
    async def enrol_totp(
        body: TotpIn, signed_in: CurrentSession, request: Request, logins: LoginsDep
    ) -> TotpOut:
        user = signed_in.principal.user
        if body.code is None:
            return TotpOut(enrolled=False, otpauth_uri=await logins.begin_totp(user))
        await logins.confirm_totp(user, body.code, peer=_peer(request))
        return TotpOut(enrolled=True)

    @router.get("/users", summary="List the users")
    async def list_users(principal: UserManager, admin: AdminDep) -> UserList:
        return UserList(items=[UserOut.of(user) for user in await admin.list_users()])

    @router.post("/users", status_code=201, summary="Create a user")
    async def add_user(body: UserIn, principal: UserManager, admin: AdminDep) -> UserOut:
        user = await admin.add_user(
            name=body.name, role=body.role, password=body.password, actor=principal.user
        )
        return UserOut.of(user)

    @router.patch(
        "/users/{name}",
        summary="Change a user: role, disable/enable, reset the password or second factor",
    )
    async def update_user(
        name: str, body: UserChange, principal: UserManager, admin: AdminDep
    ) -> UserOut:
        if body.role is not None:  # refused before anything else of the request is done
            await admin.check_grant(name, body.role, actor=principal.user)
        if body.password is not None:
            await admin.set_password(name, body.password, actor=principal.user)
        if body.reset_totp:
            await admin.reset_totp(name, actor=principal.user)
        return UserOut.of(
            await admin.update_user(
                name, role=body.role, disabled=body.disabled, actor=principal.user
            )
        )

    @router.get("/users/{name}/tokens", summary="List a user's API tokens (never their values)")
    async def list_tokens(name: str, principal: UserManager, admin: AdminDep) -> TokenList:
        return TokenList(items=[TokenOut.of(token) for token in await admin.list_tokens(name)])

    @router.post(
        "/users/{name}/tokens",
        status_code=201,
        summary="Create an API token for a user; its value is shown this once",
    )
    async def create_token(
        name: str, body: TokenIn, principal: UserManager, admin: AdminDep
    ) -> TokenCreatedOut:
        created = await admin.create_token(
            user=name, label=body.name, role=body.role, actor=principal.user
        )
        return TokenCreatedOut.of_created(created)

    @router.delete("/tokens/{token_id}", summary="Revoke an API token (idempotent)")
    async def revoke_token(token_id: int, principal: UserManager, admin: AdminDep) -> TokenOut:
        return TokenOut.of(await admin.revoke_token(token_id, actor=principal.user))

    return router
