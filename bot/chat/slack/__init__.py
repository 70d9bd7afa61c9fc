"""Slack adapter: Bolt wiring, Block Kit rendering, modals, notices and the app manifest."""
