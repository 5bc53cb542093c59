"""Adapters of core ports: bus, clock, credentials, audit signing, auth events, escalation timer."""
