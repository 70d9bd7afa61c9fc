"""Chat adapters: the protocol every platform meets (base) and one sub-package per platform."""
