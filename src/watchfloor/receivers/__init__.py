"""Receivers: thin asyncio adapters from the wire to the core's intake."""
