"""The platform-neutral core (use-case layer): domain types, requests, policy and ports.

Note: despite the name, this is not where chat-platform listeners live; those are adapters in
`bot/`. This package imports no SDK, no database driver and reads no clock of its own.
"""
