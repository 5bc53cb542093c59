"""watchfloor: alarm receiving and incident management for control rooms."""
