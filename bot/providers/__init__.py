"""Adapter layer: fine-tuning providers behind the core's Provider port."""
