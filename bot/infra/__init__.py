"""Infrastructure: scheduler, delivery, housekeeping, web, metrics and other adapters."""
