"""Test helpers: read a /metrics scrape with prometheus_client's parser, as Prometheus would."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def declared(text: str) -> dict[str, str]:
    """Each metric's name and type as its `# TYPE` line declares them (the parser would strip
    a counter's `_total`)."""
    kinds: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.removeprefix("# TYPE ").split(" ")
            kinds[name] = kind
    return kinds


def sample_names(text: str) -> set[str]:
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the one sample with exactly this name and these labels, or None."""
    found = [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and s.labels == labels
    ]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None
