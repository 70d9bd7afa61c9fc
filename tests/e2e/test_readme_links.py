"""The README names no file the repository lacks and repeats no heading."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_document_the_readme_names_is_in_the_repository() -> None:
    named = set(re.findall(r"`([A-Za-z0-9_./-]+\.md)`", README))
    assert named, "the README names CONTRIBUTING.md at least"
    assert [n for n in sorted(named) if not (ROOT / n).is_file()] == []


def test_no_heading_is_repeated() -> None:
    headings = Counter(line for line in README.splitlines() if line.startswith("#"))
    assert [h for h, n in headings.items() if n > 1] == []
