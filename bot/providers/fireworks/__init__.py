"""Providers: the Fireworks AI family (fine-tuning over the fireworks-ai SDK)."""
