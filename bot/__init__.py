"""The composition root and every adapter that touches an SDK (chat platforms, providers, web)."""
