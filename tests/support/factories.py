"""Builders of the core values tests feed in: a tiny taxonomy, signals and link tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from watchfloor.core.alarm_types import (
    LINK_LOST,
    UNCLASSIFIED_SIGNAL,
    UNREGISTERED_TRANSMITTER,
    AlarmType,
    Basis,
    CodeSystem,
    SourceCode,
    Taxonomy,
)
from watchfloor.core.devices import Device, DeviceKind
from watchfloor.core.signals import LinkTest, Signal, SignalSource

T0 = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)


def make_signal(
    code: str = "BA",
    *,
    zone: str | None = "005",
    restore: bool = False,
    system: CodeSystem = CodeSystem.SIA_DCS,
    at: datetime = T0,
    source: SignalSource = SignalSource.DC09,
    device: str = "1234",
) -> Signal:
    return Signal(
        source=source,
        received_at=at,
        device=device,
        code=SourceCode(system=system, code=code),
        zone=zone,
        restore=restore,
        raw="raw",
        account=device,
        seq="0001",
        token="SIA-DCS",
    )


FIRE = 110
BURGLARY = 130
OPENING = 400
LINK_LOST_TYPE = 601

#: How long a fire alarm may wait for acknowledgement before it escalates.
FIRE_ACK_WITHIN = timedelta(minutes=2)


def build_taxonomy() -> Taxonomy:
    types = [
        AlarmType(
            code=FIRE,
            name="Fire",
            category="fire",
            priority=1,
            basis=Basis.FIRE,
            sop=(),
            ack_within=FIRE_ACK_WITHIN,
        ),
        AlarmType(
            code=BURGLARY,
            name="Burglary",
            category="intrusion",
            priority=2,
            basis=Basis.INTRUSION,
            sop=("call the keyholder",),
        ),
        AlarmType(
            code=OPENING,
            name="Opening",
            category="access",
            priority=5,
            basis=Basis.SUPERVISION,
            sop=(),
            raises_alarm=False,
        ),
        AlarmType(
            code=LINK_LOST_TYPE,
            name="Transmitter link lost",
            category="supervision",
            priority=2,
            basis=Basis.SUPERVISION,
            sop=("call the keyholder",),
        ),
        AlarmType(
            code=UNCLASSIFIED_SIGNAL,
            name="Unclassified signal",
            category="technical",
            priority=3,
            basis=Basis.EQUIPMENT_FAULT,
            sop=(),
        ),
        AlarmType(
            code=UNREGISTERED_TRANSMITTER,
            name="Unregistered transmitter",
            category="technical",
            priority=3,
            basis=Basis.SUPERVISION,
            sop=(),
        ),
    ]
    cid, sia = CodeSystem.CONTACT_ID, CodeSystem.SIA_DCS
    mappings = {
        SourceCode(system=cid, code="110"): (FIRE, False),
        SourceCode(system=cid, code="130"): (BURGLARY, False),
        SourceCode(system=cid, code="401"): (OPENING, False),
        SourceCode(system=sia, code="BA"): (BURGLARY, False),
        SourceCode(system=sia, code="BR"): (BURGLARY, True),
        SourceCode(system=CodeSystem.SUPERVISION, code=LINK_LOST): (LINK_LOST_TYPE, False),
    }
    return Taxonomy(
        version="test-1",
        types=MappingProxyType({t.code: t for t in types}),
        mappings=MappingProxyType(mappings),
    )


def dc09_signal(
    *,
    at: datetime,
    account: str = "1234",
    seq: str = "0001",
    code: str = "130",
    zone: str | None = "001",
    restore: bool = False,
) -> Signal:
    qualifier = "3" if restore else "1"
    raw = f'"ADM-CID"{seq}L0#{account}[#{account}|{qualifier}{code} 01 {zone or "000"}]'
    return Signal(
        source=SignalSource.DC09,
        received_at=at,
        device=account,
        code=SourceCode(system=CodeSystem.CONTACT_ID, code=code),
        zone=zone,
        partition="01",
        restore=restore,
        raw=raw,
        peer="127.0.0.1:40000",
        account=account,
        seq=seq,
        token="ADM-CID",
        ext=("Xlon",),
    )


def camera_signal(*, at: datetime, device: str = "cam-1", code: str = "BA") -> Signal:
    return Signal(
        source=SignalSource.HIKVISION,
        received_at=at,
        device=device,
        code=SourceCode(system=CodeSystem.SIA_DCS, code=code),
        zone="1",
        raw="<EventNotificationAlert/>",
    )


def link_test(*, at: datetime, account: str = "1234", skew: float | None = None) -> LinkTest:
    return LinkTest(source=SignalSource.DC09, received_at=at, device=account, skew_seconds=skew)


def panel_device(
    *, device_id: int = 1, account: str = "1234", supervision_interval: timedelta | None = None
) -> Device:
    """A registered DC-09 panel of site HQ, named after its account."""
    return Device(
        id=device_id,
        kind=DeviceKind.DC09,
        name=f"panel {account}",
        site="HQ",
        account=account,
        created_at=T0,
        supervision_interval=supervision_interval,
    )
