"""Providers: the OpenAI family (OpenAI, Azure OpenAI and OpenAI-compatible endpoints)."""
