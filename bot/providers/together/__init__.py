"""Providers: the Together AI family (the official `together` SDK's AsyncTogether)."""
