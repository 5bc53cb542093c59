"""Routes for staff reports from the phone page and for calls entered by call-takers.

A report or call becomes a ``Signal`` (origin ``patrol`` or ``call``) handed to the same
intake as every device's, and the route answers 201 only once it is committed (DESIGN rule
1). Each carries an identifier its sender chose (``report_id``, ``call_id``): a resend from
an offline queue is stored once and answered with the first one's ids.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Annotated, Final
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from watchfloor.api.audit import audit_entry
from watchfloor.api.auth import allowed
from watchfloor.api.params import TypeCode
from watchfloor.api.services import Services
from watchfloor.api.staff import Staff, StaffServices
from watchfloor.core.alarm_types import CodeSystem, SourceCode, Taxonomy
from watchfloor.core.audit import content_digest
from watchfloor.core.principals import Permission, Principal
from watchfloor.core.signals import Signal, SignalRecord, SignalSource, Snapshot

__all__ = ["MAX_PHOTO_BYTES", "REPORT_MAX_BODY", "reports_router"]

#: The largest photo a report may carry, decoded: a phone photo scaled down for the purpose.
MAX_PHOTO_BYTES: Final = 2_000_000
#: The largest report body: room for the photo in base64 (4/3 of its size), so that a photo
#: somewhat too large gets the specific answer ("photo: larger than ...").
REPORT_MAX_BODY: Final = 2 * MAX_PHOTO_BYTES

#: Image signatures accepted for a report's photo, and their media types.
_PHOTO_MAGIC: Final = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))

_Site = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]

#: A phone number as call-takers type it: ``+31 20 555 0199``, ``020-555 01 99``.
_CALLBACK_NUMBER: Final = r"^\+?[0-9][0-9 ()./-]{2,31}$"


def _check_callback_number(value: str) -> str:
    if not re.fullmatch(_CALLBACK_NUMBER, value):
        raise PydanticCustomError(
            "callback_number",
            "not a phone number: use digits, spaces and + ( ) . / - only, 3 to 32 characters, "
            "starting with + or a digit (e.g. +31 20 555 0199)",
        )
    return value


CallbackNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True),
    AfterValidator(_check_callback_number),
    WithJsonSchema({"type": "string", "pattern": _CALLBACK_NUMBER}),
]

Reporter = Annotated[Principal, allowed(Permission.REPORT_FROM_PATROL)]
CallTaker = Annotated[Principal, allowed(Permission.ENTER_CALLS)]


class ReportIn(BaseModel):
    """A guard's report: the type they chose, where (a site or a position), what they saw."""

    model_config = ConfigDict(extra="forbid")

    report_id: UUID = Field(description="chosen by the phone; a resend with it is stored once")
    type_code: TypeCode
    site: _Site | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    text: _Text | None = None
    photo: str | None = Field(
        default=None, description="base64 of a JPEG or PNG image, at most 2 MB decoded"
    )

    @model_validator(mode="after")
    def _needs_a_place(self) -> ReportIn:
        if self.site is None and (self.latitude is None or self.longitude is None):
            raise ValueError("give a site, or both latitude and longitude")
        return self


class CallIn(BaseModel):
    """A call taken: the type chosen, the site, the callback number and what was reported."""

    model_config = ConfigDict(extra="forbid")

    call_id: UUID | None = Field(default=None, description="optional; a resend is stored once")
    type_code: TypeCode
    site: _Site
    callback_number: CallbackNumber
    report: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class IntakeOut(BaseModel):
    """The stored signal of a report or call, and the alarm it raised or joined."""

    signal_id: int
    alarm_id: int | None
    type_code: int
    site: str


def _check_type(taxonomy: Taxonomy, type_code: int) -> None:
    alarm_type = taxonomy.types.get(type_code)
    if alarm_type is None:
        raise HTTPException(422, f"type_code: no alarm type {type_code}")
    if not alarm_type.raises_alarm:
        raise HTTPException(422, f"type_code: {type_code} {alarm_type.name} raises no alarm")


def _photo(text: str) -> Snapshot:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise HTTPException(422, "photo: not valid base64") from err
    if len(data) > MAX_PHOTO_BYTES:
        raise HTTPException(413, f"photo: larger than {MAX_PHOTO_BYTES} bytes")
    media_type = next((kind for magic, kind in _PHOTO_MAGIC if data.startswith(magic)), None)
    if media_type is None:
        raise HTTPException(415, "photo: only JPEG and PNG images are accepted")
    return Snapshot(content_type=media_type, data=data)


async def _submit(
    staff: StaffServices, signal: Signal, request: Request, principal: Principal, action: str
) -> SignalRecord:
    # The submission's audit row commits with the signal. It names the report by the key its
    # sender chose and holds only a digest of what was written.
    entry = audit_entry(
        request,
        principal,
        action,
        f"{signal.source}:{signal.idempotency_key or 'unkeyed'}",
        digest=content_digest(signal.raw),
    )
    (record,) = await staff.sink.submit([signal], audit=entry)
    assert record is not None  # noqa: S101 - only link tests yield None
    return record


def _out(record: SignalRecord, site: str) -> IntakeOut:
    return IntakeOut(
        signal_id=record.id, alarm_id=record.alarm_id, type_code=record.type_code, site=site
    )


def reports_router() -> APIRouter:
    """Return the routes of staff reports and calls."""
    router = APIRouter(prefix="/api")

    @router.post("/reports", status_code=201, summary="A report from staff on duty")
    async def report(
        body: ReportIn,
        principal: Reporter,
        staff: Staff,
        services: Services,
        request: Request,
    ) -> IntakeOut:
        _check_type(services.handling.taxonomy, body.type_code)
        photo = None if body.photo is None else _photo(body.photo)
        site = body.site or f"position {body.latitude:.5f},{body.longitude:.5f}"
        raw = body.model_dump(mode="json", exclude={"photo"}) | {"photo": photo is not None}
        record = await _submit(
            staff,
            Signal(
                source=SignalSource.PATROL,
                received_at=staff.clock.now(),
                device=f"patrol:{principal.user}",
                code=SourceCode(system=CodeSystem.TAXONOMY, code=str(body.type_code)),
                zone=None,
                text=body.text or None,
                raw=json.dumps(raw, sort_keys=True),
                site=site,
                idempotency_key=str(body.report_id),
                snapshots=() if photo is None else (photo,),
            ),
            request,
            principal,
            "report.submit",
        )
        return _out(record, site)

    @router.post("/calls", status_code=201, summary="A call entered by a call-taker")
    async def call(
        body: CallIn,
        principal: CallTaker,
        staff: Staff,
        services: Services,
        request: Request,
    ) -> IntakeOut:
        _check_type(services.handling.taxonomy, body.type_code)
        record = await _submit(
            staff,
            Signal(
                source=SignalSource.CALL,
                received_at=staff.clock.now(),
                device=f"call-taker:{principal.user}",
                code=SourceCode(system=CodeSystem.TAXONOMY, code=str(body.type_code)),
                zone=None,
                text=body.report,
                raw=body.model_dump_json(),
                site=body.site,
                idempotency_key=None if body.call_id is None else str(body.call_id),
            ),
            request,
            principal,
            "call.submit",
        )
        return _out(record, body.site)

    return router
