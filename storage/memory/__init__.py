"""Storage layer: the Store and WatchStore ports held in process memory, with the SQL semantics.

No database and no SQLAlchemy (an import-linter contract keeps it so): the core's tests run on
it in milliseconds, and the same contract suites as SQLite and PostgreSQL define it
(tests/storage). Open it with `storage.memory.store.MemoryStore`.
"""
