"""The operator console: static files served at /."""
