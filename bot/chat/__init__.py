"""Bot layer: the chat seam: the adapter protocol every platform meets and their registry."""
