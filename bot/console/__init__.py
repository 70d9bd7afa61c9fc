"""Bot layer: the terminal adapter and the scripted demo."""
