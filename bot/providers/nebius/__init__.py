"""Providers: the Nebius Token Factory family (an OpenAI-compatible fine-tuning API)."""
