"""The HTTP API, the alarm stream and the console's static files."""

from watchfloor.api.application import ApiServices, create_api

__all__ = ["ApiServices", "create_api"]
