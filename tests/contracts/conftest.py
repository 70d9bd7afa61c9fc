"""Contract suite wiring: collect `*_contract.py`, and run each test on every provider entry
that has the capabilities the test's `needs` marker names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers.profile import Capability
from tests.contracts.harness import ProviderEntry, ProviderUnderTest
from tests.contracts.providers import PROVIDERS


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "needs(*capabilities): run only on providers that have all of them"
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    # A contract is a definition, not a test of one thing, so its file is named for what it
    # defines; a file named on the command line is collected by pytest itself.
    if file_path.name.endswith("_contract.py") and not parent.session.isinitpath(file_path):
        module: pytest.Module = pytest.Module.from_parent(parent, path=file_path)
        return module
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "put" not in metafunc.fixturenames:
        return
    needed: set[Capability] = set()
    for marker in metafunc.definition.iter_markers("needs"):
        needed.update(Capability(name) for name in marker.args)
    entries = [entry for entry in PROVIDERS if needed <= entry.capabilities]
    metafunc.parametrize("put", entries, ids=[entry.name for entry in entries], indirect=True)


@pytest.fixture
async def put(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ProviderUnderTest]:
    """The provider under test, opened fresh for each test."""
    entry: ProviderEntry = request.param
    async with entry.open(tmp_path) as under_test:
        yield under_test
