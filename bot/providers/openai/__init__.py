"""Providers: the OpenAI family (OpenAI and OpenAI-compatible endpoints; Azure and Nebius reuse
its implementation from their own folders)."""
