"""Providers: the sandbox family, a simulated provider that needs no key or network."""
