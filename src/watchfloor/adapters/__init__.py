"""Adapters of core ports: the bus, the clock, credentials, audit signing, auth events."""
