"""The HTTP API, the alarm stream and the console's static files."""

from watchfloor.api.factory import create_api
from watchfloor.api.services import ApiServices

__all__ = ["ApiServices", "create_api"]
