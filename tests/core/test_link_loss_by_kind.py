"""A silent device's link loss is classified by the kind of device that went silent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import pytest

from watchfloor.core.alarm_types import CAMERA_LINK_LOST, CodeSystem, SourceCode
from watchfloor.core.correlation import classify_signal
from watchfloor.core.devices import Device, DeviceKind
from watchfloor.core.supervision import SupervisedDevice, link_lost_signal, link_restored_signal
from watchfloor.taxonomy import load_taxonomy

AT = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
SILENT = SupervisedDevice(
    key="gate",
    account=None,
    interval=timedelta(minutes=1),
    grace=timedelta(seconds=30),
    since=AT - timedelta(hours=1),
    last_seen_at=AT - timedelta(minutes=5),
    link_lost_at=None,
)


def _device(kind: DeviceKind) -> Device:
    return Device(id=1, kind=kind, name="gate", site="Yard", created_at=AT)


@pytest.mark.parametrize(
    ("kind", "type_code"),
    [
        (DeviceKind.DC09, 601),
        (DeviceKind.HIKVISION, 620),
        (DeviceKind.ONVIF, 620),
        (DeviceKind.FRIGATE, 620),
    ],
)
def test_link_loss_type_follows_the_device_kind(kind: DeviceKind, type_code: int) -> None:
    taxonomy = load_taxonomy()
    lost = classify_signal(taxonomy, link_lost_signal(SILENT, at=AT), _device(kind))
    back = classify_signal(taxonomy, link_restored_signal(SILENT, at=AT), _device(kind))
    assert (lost.alarm_type.code, lost.restore) == (type_code, False)
    assert (back.alarm_type.code, back.restore) == (type_code, True)


def test_without_a_camera_mapping_a_camera_raises_the_generic_link_loss() -> None:
    shipped = load_taxonomy()
    camera_code = SourceCode(system=CodeSystem.SUPERVISION, code=CAMERA_LINK_LOST)
    taxonomy = replace(
        shipped,
        mappings=MappingProxyType({k: v for k, v in shipped.mappings.items() if k != camera_code}),
    )
    lost = classify_signal(taxonomy, link_lost_signal(SILENT, at=AT), _device(DeviceKind.ONVIF))
    assert lost.alarm_type.code == 601
