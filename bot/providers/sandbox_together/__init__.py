"""Providers: the Together-shaped sandbox, a sandbox deployment's second family."""
