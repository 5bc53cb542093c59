"""Notifications out: adapters that deliver notices by webhook, MQTT and e-mail."""
