"""Admission webhooks: configurations followed, matching, calling, and the plugin."""
