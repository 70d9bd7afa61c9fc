"""Core layer: the commands: request types, option specs and conversion, and the catalogue."""
