"""Storage layer: SQL persistence (SQLite or PostgreSQL) behind the Store and WatchStore ports."""
