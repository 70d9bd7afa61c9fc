"""Application: settings, the platform registry, wiring, start-up and the stop order."""
