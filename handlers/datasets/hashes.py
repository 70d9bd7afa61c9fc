"""Core layer: example identity: 64-bit line hashes, a compact set of them, a file's hashes."""

from __future__ import annotations

import hashlib
from array import array
from pathlib import Path

from handlers.datasets.reader import read_lines


def line_hash(raw: bytes) -> int:
    """64 bits of BLAKE2b over a line's stripped bytes: stable across processes."""
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")


def example_hashes(path: Path) -> set[int]:
    """The hashes of every non-blank line, to find validation examples copied from training."""
    found: set[int] = set()
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        for _, raw, _ in read_lines(handle, 0, size, None, None):
            if isinstance(raw, bytes):
                raw = raw.removesuffix(b"\r")
                if raw and not raw.isspace():
                    found.add(line_hash(raw))
    return found


class HashSet64:
    """A set of 64-bit hashes in one array('Q') (open addressing): 16 bytes an example at
    most, where a Python set of ints takes about 75 (a million examples: 16 MB, not 75)."""

    def __init__(self, capacity: int = 1 << 16) -> None:
        self._table = array("Q", bytes(8 * capacity))
        self._mask = capacity - 1
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, value: int) -> bool:
        """Insert `value`; False if it was already there."""
        value = value or 1  # 0 marks an empty slot
        table, mask = self._table, self._mask
        slot = value & mask
        while True:
            found = table[slot]
            if found == 0:
                table[slot] = value
                self._size += 1
                if self._size * 2 > mask:
                    self._grow()
                return True
            if found == value:
                return False
            slot = (slot + 1) & mask

    def _grow(self) -> None:
        old = self._table
        self._table = array("Q", bytes(16 * len(old)))
        self._mask = 2 * len(old) - 1
        self._size = 0
        for value in old:
            if value:
                self.add(value)
