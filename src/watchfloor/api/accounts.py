"""Routes for registered DC-09 transmitters: list, register, read, change, unregister.

Test periods of an account or a site are ``api.handling``'s (supervisors put them on test).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request

from watchfloor.api.audit import audited_in
from watchfloor.api.auth import allowed
from watchfloor.api.params import AccountPath
from watchfloor.api.schemas import AccountChange, AccountIn, AccountList, AccountOut
from watchfloor.api.services import Services
from watchfloor.codecs.accounts import parse_either_key
from watchfloor.core.devices import AccountUpdate
from watchfloor.core.errors import NotFoundError
from watchfloor.core.principals import Permission, Principal

__all__ = ["accounts_router"]

logger = logging.getLogger(__name__)

EquipmentReader = Annotated[Principal, allowed(Permission.READ_EQUIPMENT)]
EquipmentManager = Annotated[Principal, allowed(Permission.MANAGE_EQUIPMENT)]


def _key_of(hex_text: str | None, ascii_text: str | None) -> bytes | None:
    """Parse a write-only AES key given in either form; 422 naming the field when invalid."""
    try:
        return parse_either_key(hex_text, ascii_text)
    except ValueError as err:
        raise HTTPException(422, str(err)) from err


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def accounts_router() -> APIRouter:
    """Return the routes of the DC-09 transmitter register."""
    router = APIRouter(prefix="/api")

    @router.get("/accounts", summary="List the registered DC-09 transmitters")
    async def list_accounts(
        request: Request, principal: EquipmentReader, services: Services
    ) -> AccountList:
        async with audited_in(services.accounts, request, principal, "account.list") as accounts:
            devices = await accounts.list_accounts()
        return AccountList(items=[AccountOut.of(d) for d in devices])

    @router.post("/accounts", status_code=201, summary="Register a DC-09 transmitter")
    async def add_account(
        body: AccountIn, request: Request, principal: EquipmentManager, services: Services
    ) -> AccountOut:
        key = _key_of(body.key, body.key_ascii)
        target = f"account:{body.account}"
        async with audited_in(
            services.accounts, request, principal, "account.add", target
        ) as accounts:
            device = await accounts.add_account(
                account=body.account, site=body.site, key=key, name=body.name
            )
        logger.info("dc09 account %s registered by %s", device.account, principal.user)
        return AccountOut.of(device)

    @router.get("/accounts/{account}", summary="One registered DC-09 transmitter")
    async def get_account(
        account: AccountPath, request: Request, principal: EquipmentReader, services: Services
    ) -> AccountOut:
        target = f"account:{account.upper()}"
        async with audited_in(
            services.accounts, request, principal, "account.read", target
        ) as accounts:
            device = await accounts.find_account(account.upper())
        if device is None:
            raise NotFoundError(f"account {account.upper()} is not registered")
        return AccountOut.of(device)

    @router.patch(
        "/accounts/{account}",
        summary="Change a transmitter: site, name, enable/disable, rotate or clear its key, "
        "supervision",
    )
    async def update_account(
        account: AccountPath,
        body: AccountChange,
        request: Request,
        principal: EquipmentManager,
        services: Services,
    ) -> AccountOut:
        change = AccountUpdate(
            site=body.site,
            name=body.name,
            enabled=body.enabled,
            key=_key_of(body.key, body.key_ascii),
            clear_key=body.clear_key,
            supervision_interval=_seconds(body.supervision_interval_seconds),
            supervision_grace=_seconds(body.supervision_grace_seconds),
            clear_supervision=body.clear_supervision,
        )
        action = (
            "account.key_change"
            if body.key or body.key_ascii or body.clear_key
            else ("account.change")
        )
        target = f"account:{account.upper()}"
        async with audited_in(services.accounts, request, principal, action, target) as accounts:
            device = await accounts.update_account(account.upper(), change)
        logger.info(
            "dc09 account %s changed by %s (%s)",
            device.account,
            principal.user,
            ", ".join(sorted(body.model_fields_set)),
        )
        return AccountOut.of(device)

    @router.delete(
        "/accounts/{account}",
        status_code=204,
        summary="Unregister a transmitter (its signals and alarms stay)",
    )
    async def delete_account(
        account: AccountPath, request: Request, principal: EquipmentManager, services: Services
    ) -> None:
        target = f"account:{account.upper()}"
        async with audited_in(
            services.accounts, request, principal, "account.delete", target
        ) as accounts:
            await accounts.delete_account(account.upper())
        logger.info("dc09 account %s deleted by %s", account.upper(), principal.user)

    return router
