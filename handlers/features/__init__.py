"""Core layer: the use cases, one module per feature, each declaring the requests it answers."""
