"""What the API is given by the composition root, and the one way routes reach it.

Routes take ``services: Services`` (or a dependency built on it); helpers that are handed a
request use ``services_of``. Nothing else reads the application's state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from watchfloor.core.handling import AlarmHandling
from watchfloor.core.logins import Logins
from watchfloor.core.ports import AccountStore, AlarmStore, EventSource, StoreHealth
from watchfloor.core.user_admin import UserAdmin
from watchfloor.core.users import UserDirectory

if TYPE_CHECKING:
    # Only for the annotations: these modules' routes depend on ``Services``.
    from watchfloor.api.audit import AuditLog, CheckpointSigner, RefusalLog
    from watchfloor.api.cameras import CameraServices
    from watchfloor.api.hardening import RequestLimits
    from watchfloor.api.health import DiskSpaceSource
    from watchfloor.api.metrics import Collector
    from watchfloor.api.sites import SiteServices
    from watchfloor.api.staff import StaffServices
    from watchfloor.api.transparency import RegisterInfo

__all__ = ["ApiServices", "Services", "services_of"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiServices:
    """What the API needs, injected by the composition root."""

    alarms: AlarmStore
    accounts: AccountStore
    users: UserDirectory
    health: StoreHealth
    handling: AlarmHandling
    events: EventSource
    metrics: Collector
    register: RegisterInfo
    logins: Logins
    user_admin: UserAdmin
    staff: StaffServices
    audit_log: AuditLog
    signer: CheckpointSigner
    #: (public key hex, message, signature hex) -> whether it verifies with a trusted key.
    verify_signature: Callable[[str, bytes, str], bool]
    #: Where refusals are audited, repeats from one source counted (``api.audit.record``).
    refusals: RefusalLog
    request_limits: RequestLimits
    cameras: CameraServices
    sites: SiteServices
    #: How often an open stream checks that its token or session is still good.
    stream_recheck_seconds: float = 30.0
    #: A bearer token for /metrics alone (Prometheus); None: only API tokens that may.
    metrics_token: str | None = None
    #: The data disk's latest measurement, for ``/healthz`` (None: not watched).
    disk_space: DiskSpaceSource = lambda: None


def services_of(connection: HTTPConnection) -> ApiServices:
    """Return the services of the app serving a request or a WebSocket."""
    services: ApiServices = connection.app.state.services
    return services


Services = Annotated[ApiServices, Depends(services_of)]
"""A route's parameter: the API's services."""
